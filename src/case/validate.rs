//! Checking the hard limits: [`InvalidCase`], [`Case::validate`], [`ConnectionCase::validate`]
//! and the rule for connection names, [`is_valid_name`], which the scenario parser shares.

use std::time::Duration;

use super::{
    Case, ConnectionCase, Conversation, Hold, MAX_CHUNK_LEN, MAX_CONNECTIONS, MAX_CONNECTION_BYTES,
    MAX_NAME_LEN, MAX_PAUSE, MAX_PLAN_ENTRIES, MAX_ROUNDS, MAX_SOCKET_BUFFER, MIN_SOCKET_BUFFER,
};

/// Why a case breaks a hard limit; see [`Case::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidCase {
    /// A case needs at least one connection.
    #[error("a case needs at least one connection")]
    NoConnections,
    /// More than [`MAX_CONNECTIONS`].
    #[error("{count} connections, at most {MAX_CONNECTIONS} allowed")]
    TooManyConnections {
        /// How many the case has.
        count: usize,
    },
    /// A name that is not `[A-Za-z_][A-Za-z0-9_-]*` of at most [`MAX_NAME_LEN`] bytes.
    #[error(
        "invalid connection name {name:?}: use up to {MAX_NAME_LEN} letters, digits, `_`, `-`"
    )]
    InvalidName {
        /// The offending name.
        name: String,
    },
    /// A [`Hold`] whose connections do not exist, are the same, or whose outer connection
    /// sends nothing to be held on.
    #[error("invalid hold of connection {outer} for connection {inner}")]
    InvalidHold {
        /// The outer index.
        outer: usize,
        /// The inner index.
        inner: usize,
    },
    /// Two connections with the same name.
    #[error("two connections are named {name:?}")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// A plan breaks a limit.
    #[error("connection {connection}: {problem}")]
    Plan {
        /// The connection whose plan is wrong.
        connection: String,
        /// What is wrong.
        problem: String,
    },
    /// More than [`MAX_ROUNDS`] interactive rounds.
    #[error("connection {connection}: {rounds} rounds, at most {MAX_ROUNDS} allowed")]
    TooManyRounds {
        /// The connection.
        connection: String,
        /// How many rounds it has.
        rounds: usize,
    },
    /// An abort that resets before any echo came back (`after` 0) or once all of it did
    /// (`after` at least the payload's length): it would not reset mid-stream.
    #[error(
        "connection {connection}: an abort after {after} of {len} echoed bytes; it must reset \
         mid-stream, after 1 to {} bytes",
        len.saturating_sub(1)
    )]
    InvalidAbort {
        /// The connection.
        connection: String,
        /// Bytes of echo read before the reset.
        after: usize,
        /// Bytes of its payload.
        len: usize,
    },
    /// More than [`MAX_CONNECTION_BYTES`] sent on one connection.
    #[error("connection {connection}: sends {len} bytes, at most {MAX_CONNECTION_BYTES} allowed")]
    TooManyBytes {
        /// The connection.
        connection: String,
        /// How many bytes it sends.
        len: u64,
    },
}

impl Case {
    /// Checks the hard limits that every case must meet, however it was made.
    pub fn validate(&self) -> Result<(), InvalidCase> {
        if self.connections.is_empty() {
            return Err(InvalidCase::NoConnections);
        }
        if self.connections.len() > MAX_CONNECTIONS {
            return Err(InvalidCase::TooManyConnections {
                count: self.connections.len(),
            });
        }
        for (i, conn) in self.connections.iter().enumerate() {
            conn.validate()?;
            if self.connections[..i].iter().any(|c| c.name == conn.name) {
                return Err(InvalidCase::DuplicateName {
                    name: conn.name.clone(),
                });
            }
        }
        if let Some(Hold { outer, inner }) = self.hold {
            let sends = |i: usize| {
                self.connections
                    .get(i)
                    .is_some_and(|c| !c.conversation.payloads().is_empty())
            };
            if outer == inner || !sends(outer) || inner >= self.connections.len() {
                return Err(InvalidCase::InvalidHold { outer, inner });
            }
        }
        Ok(())
    }
}

impl ConnectionCase {
    /// Checks this connection's hard limits.
    pub fn validate(&self) -> Result<(), InvalidCase> {
        if !is_valid_name(&self.name) {
            return Err(InvalidCase::InvalidName {
                name: self.name.clone(),
            });
        }
        let plan_error = |problem: String| InvalidCase::Plan {
            connection: self.name.clone(),
            problem,
        };
        check_cycle("write chunk", &self.write.chunks, &self.write.pauses).map_err(plan_error)?;
        check_cycle("read size", &self.read.sizes, &self.read.pauses).map_err(plan_error)?;
        for (which, size) in [
            ("send buffer", self.write.send_buffer),
            ("receive buffer", self.write.recv_buffer),
        ] {
            if let Some(size) = size {
                if !(MIN_SOCKET_BUFFER..=MAX_SOCKET_BUFFER).contains(&size) {
                    return Err(plan_error(format!(
                        "{which} of {size} bytes, must be {MIN_SOCKET_BUFFER} to {MAX_SOCKET_BUFFER}"
                    )));
                }
            }
        }
        let rounds = self.conversation.payloads().len();
        if rounds > MAX_ROUNDS {
            return Err(InvalidCase::TooManyRounds {
                connection: self.name.clone(),
                rounds,
            });
        }
        if let Conversation::Abort { payload, after } = &self.conversation {
            if *after == 0 || *after >= payload.len() {
                return Err(InvalidCase::InvalidAbort {
                    connection: self.name.clone(),
                    after: *after,
                    len: payload.len(),
                });
            }
        }
        let len = self.conversation.total_len();
        if len > MAX_CONNECTION_BYTES {
            return Err(InvalidCase::TooManyBytes {
                connection: self.name.clone(),
                len,
            });
        }
        Ok(())
    }
}

/// Whether `name` may name a connection: `[A-Za-z_][A-Za-z0-9_-]*`, at most [`MAX_NAME_LEN`].
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && name.len() <= MAX_NAME_LEN
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn check_cycle(what: &str, sizes: &[usize], pauses: &[Duration]) -> Result<(), String> {
    if sizes.is_empty() {
        return Err(format!("no {what}s: a plan needs at least one"));
    }
    if sizes.len() > MAX_PLAN_ENTRIES || pauses.len() > MAX_PLAN_ENTRIES {
        return Err(format!(
            "a {what} plan has more than {MAX_PLAN_ENTRIES} entries"
        ));
    }
    if let Some(bad) = sizes.iter().find(|&&s| s == 0 || s > MAX_CHUNK_LEN) {
        return Err(format!(
            "{what} of {bad} bytes, must be 1 to {MAX_CHUNK_LEN}"
        ));
    }
    if let Some(bad) = pauses.iter().find(|&&p| p > MAX_PAUSE) {
        return Err(format!(
            "pause of {bad:?} in a {what} plan, at most {MAX_PAUSE:?} allowed"
        ));
    }
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::super::Payload;
    use super::*;

    #[test]
    fn validate_rejects_each_hard_limit() {
        let ok = Case::single(Conversation::Stream {
            payload: Payload::Literal(b"hi".to_vec()),
        });
        assert_eq!(ok.validate(), Ok(()));

        let mut c = ok.clone();
        c.connections.clear();
        assert_eq!(c.validate(), Err(InvalidCase::NoConnections));

        let mut c = ok.clone();
        c.connections.push(c.connections[0].clone());
        assert!(matches!(
            c.validate(),
            Err(InvalidCase::DuplicateName { .. })
        ));

        for name in ["", "9a", "a b", "é", &"x".repeat(MAX_NAME_LEN + 1)] {
            let mut c = ok.clone();
            c.connections[0].name = name.to_string();
            assert!(
                matches!(c.validate(), Err(InvalidCase::InvalidName { .. })),
                "{name:?}"
            );
        }
        assert!(is_valid_name("_a-1") && is_valid_name(&"x".repeat(MAX_NAME_LEN)));

        let plan_cases: [fn(&mut ConnectionCase); 6] = [
            |c| c.write.chunks.clear(),
            |c| c.read.sizes = vec![0],
            |c| c.write.chunks = vec![MAX_CHUNK_LEN + 1],
            |c| c.read.pauses = vec![MAX_PAUSE + Duration::from_nanos(1)],
            |c| c.write.send_buffer = Some(MIN_SOCKET_BUFFER - 1),
            |c| c.write.pauses = vec![Duration::ZERO; MAX_PLAN_ENTRIES + 1],
        ];
        for break_it in plan_cases {
            let mut c = ok.clone();
            break_it(&mut c.connections[0]);
            assert!(
                matches!(c.validate(), Err(InvalidCase::Plan { .. })),
                "{c:?}"
            );
        }

        let mut c = ok.clone();
        c.connections[0].conversation = Conversation::Close {
            payload: Payload::generated(MAX_CONNECTION_BYTES as usize + 1, 0),
        };
        assert!(matches!(
            c.validate(),
            Err(InvalidCase::TooManyBytes { .. })
        ));

        let mut c = ok;
        c.connections[0].conversation = Conversation::Interactive {
            messages: vec![Payload::Literal(vec![]); MAX_ROUNDS + 1],
        };
        assert!(matches!(
            c.validate(),
            Err(InvalidCase::TooManyRounds { .. })
        ));
    }

    #[test]
    fn an_abort_must_reset_mid_stream() {
        let abort = |after| {
            Case::single(Conversation::Abort {
                payload: Payload::Literal(b"abc".to_vec()),
                after,
            })
        };
        assert_eq!(abort(1).validate(), Ok(()));
        assert_eq!(abort(2).validate(), Ok(()));
        for after in [0, 3, 4] {
            let err = abort(after).validate().unwrap_err();
            assert_eq!(
                err,
                InvalidCase::InvalidAbort {
                    connection: "c0".into(),
                    after,
                    len: 3
                }
            );
            assert!(err.to_string().contains("after 1 to 2 bytes"), "{err}");
        }
    }
}
