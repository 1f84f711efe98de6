//! The `reset` step: a connection closed with `SO_LINGER` 0 at once, so the server gets an RST
//! while it may still be owed bytes or be writing them; and [`Resets`], the play's record of
//! which connection was reset when, which the player uses to say that a later failure came
//! after a client's reset.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Conn;
use crate::roundtrip::divergence::DivergenceKind;
use crate::roundtrip::player::PlayOptions;

/// One reset of a play: which connection, how many bytes of its echo it had read, and when.
#[derive(Debug, Clone)]
pub(crate) struct ResetAt {
    pub name: String,
    pub received: u64,
    pub when: Instant,
}

/// The resets of a play so far, shared by all of its connections.
#[derive(Clone, Default)]
pub(crate) struct Resets(Arc<Mutex<Vec<ResetAt>>>);

impl Resets {
    /// The first reset of a connection other than `name` that came before `when`, if any.
    pub(crate) fn before(&self, name: &str, when: Instant) -> Option<ResetAt> {
        crate::sync::lock(&self.0)
            .iter()
            .find(|r| r.name != name && r.when <= when)
            .cloned()
    }

    /// The first reset of the play, if any.
    pub(crate) fn first(&self) -> Option<ResetAt> {
        crate::sync::lock(&self.0).first().cloned()
    }
}

impl Conn<'_> {
    /// Resets the connection now: `SO_LINGER` 0 on its socket, then both halves dropped, so the
    /// kernel sends an RST and discards what is unread or unwritten. The writer gives its half
    /// back at once, whatever it was writing. Resetting a closed connection does nothing.
    pub(crate) async fn reset(&mut self, options: &PlayOptions) -> Result<(), DivergenceKind> {
        let Some(reader) = self.reader.take() else {
            return Ok(());
        };
        self.publish();
        // On the socket both halves share: whichever half goes last, its close is an RST.
        socket2::SockRef::from(reader.as_ref())
            .set_linger(Some(Duration::ZERO))
            .map_err(|e| DivergenceKind::from_io(&e, "resetting"))?;
        let mut half = None;
        if let Some(ask) = self.reset_writer.take() {
            let (back, answer) = oneshot::channel();
            // A writer that has ended (its queue closed, or a write failed) dropped its half.
            if ask.send(back).is_ok() {
                half = tokio::time::timeout(options.timeout, answer)
                    .await
                    .ok()
                    .and_then(Result::ok);
            }
        }
        // Recorded before the RST leaves: the close below delivers it over loopback at once, and
        // a server that cuts its other clients for it (faulty_echo's `reset-cuts-all`) could
        // let another connection's lane see the cut before this one said that it reset, and
        // the cut would be called a plain early EOF.
        crate::sync::lock(&self.resets.0).push(ResetAt {
            name: self.name.clone(),
            received: self.received,
            when: Instant::now(),
        });
        // Dropped alone, a write half shuts its side down first: a FIN before the RST, which
        // a server may take for an ordinary end. Put back together, the stream just closes.
        match half {
            Some(writer) => drop(reader.reunite(writer)),
            None => drop(reader),
        }
        self.elapsed = self.started.elapsed();
        Ok(())
    }
}
