//! Which connections of a play the client holds open ([`HeldOpen`]), shared by all of them: a
//! step that fails on time names the others held open meanwhile, since a server that cannot
//! serve two connections at once is stuck on one of these.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::Conn;

/// Whether each connection of the play is held open ([`Conn::held_open`]), by index, shared by
/// all of them.
#[derive(Clone)]
pub(crate) struct HeldOpen(Arc<[AtomicBool]>);

impl HeldOpen {
    /// The flags of a play of `connections` connections, none held open yet.
    pub(crate) fn new(connections: usize) -> HeldOpen {
        HeldOpen((0..connections).map(|_| AtomicBool::new(false)).collect())
    }
}

impl Conn<'_> {
    /// Held open by the client: not closed, and either not half-closed (a server that serves
    /// it waits for more) or with bytes sent whose echo is not yet read.
    fn held_open(&self) -> bool {
        self.reader.is_some() && (!self.shut || self.sent.total() > self.received)
    }

    /// Tells the other connections whether this one is held open now.
    pub(super) fn publish(&self) {
        if let Some(flag) = self.held.0.get(self.index) {
            flag.store(self.held_open(), Ordering::Relaxed);
        }
    }

    /// The other connections held open now.
    pub(super) fn others_held_open(&self) -> Vec<usize> {
        let held = &self.held.0;
        (0..held.len())
            .filter(|&k| k != self.index && held[k].load(Ordering::Relaxed))
            .collect()
    }
}
