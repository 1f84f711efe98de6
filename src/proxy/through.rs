//! A proxy with a seed, as data and running: [`Through`] is a toxic chain and the seed of its
//! generators (the text of a scenario's `through` line, what a saved failure replays with);
//! [`ProxyInFront`] is a running proxy and the `Through` the next play restarts it with. The
//! player, `check`, the fuzz harness and `run` all speak of a proxy in front of the target
//! with these two types, and know nothing else of the proxy.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use super::{Proxy, ProxyConfig, ProxyError, ProxyHandle, ToxicChain};

/// A proxy between the client and the target: the toxic chain and the seed of its generators.
/// Its text form is the argument of a scenario's `through` line: `seed N CHAIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Through {
    /// Seeds every connection's and direction's generator (with the accept order).
    pub seed: u64,
    /// The toxics, in order.
    pub chain: ToxicChain,
}

impl Through {
    /// Starts an in-process proxy with this chain in front of `upstream`, ready to play a
    /// scenario through (the play restarts it with this seed).
    pub fn start(&self, upstream: SocketAddr) -> Result<ProxyInFront, ProxyError> {
        let proxy = Proxy::spawn(ProxyConfig {
            chain: self.chain.clone(),
            seed: self.seed,
            ..ProxyConfig::new(upstream)
        })?;
        Ok(ProxyInFront {
            proxy: Arc::new(proxy),
            through: self.clone(),
        })
    }
}

impl fmt::Display for Through {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed {}", self.seed)?;
        if !self.chain.is_empty() {
            write!(f, " {}", self.chain)?;
        }
        Ok(())
    }
}

/// A running proxy in front of the target (see
/// [`PlayOptions::through`](crate::roundtrip::PlayOptions::through)), and the chain and seed
/// the next play restarts it with.
#[derive(Debug, Clone)]
pub struct ProxyInFront {
    /// The running proxy; the play's address is its listening address.
    pub proxy: Arc<ProxyHandle>,
    /// Its chain and the seed of its generators for the script being played.
    pub through: Through,
}

impl ProxyInFront {
    /// The same proxy and chain, with the generators seeded by `seed`.
    pub fn with_seed(&self, seed: u64) -> ProxyInFront {
        ProxyInFront {
            proxy: Arc::clone(&self.proxy),
            through: Through {
                seed,
                chain: self.through.chain.clone(),
            },
        }
    }

    /// Restarts the proxy with this seed (and the accept order from 0), for a play.
    pub(crate) fn restart(&self) {
        self.proxy.restart(self.through.seed);
    }
}
