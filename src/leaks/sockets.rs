//! Whether the target closed every connection a case closed: each client socket's own
//! four-tuple, asked of the kernel until none is left in FIN_WAIT1/2 or the bound has passed.
//!
//! After the client closes (or half-closes and reads the server's FIN), its socket is in
//! TIME_WAIT or gone once the server has closed too. A client socket still in FIN_WAIT2 is one
//! whose peer acknowledged our FIN and never sent its own: the server's side is in CLOSE_WAIT,
//! a socket it still holds. FIN_WAIT1 says the same, earlier: a server that has nothing to
//! send delays the ACK of our FIN (up to 200 ms), where one that closes sends its FIN with it. (An orphaned FIN_WAIT2 lives `tcp_fin_timeout`, 60 s by default,
//! which the kernel shows as FIN_WAIT2 too: long past any bound.) A socket the server shut
//! down and never closed (a leaked descriptor after a FIN) is gone from TCP's tables: only the
//! descriptor count of a spawned target sees that one.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Once;
use std::time::Duration;

use tokio::time::Instant;

use crate::sock_diag::{SockDiag, TcpState};

/// The first pause between two rounds of queries; it doubles up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_micros(100);
/// The longest pause between two rounds of queries.
const MAX_POLL: Duration = Duration::from_millis(20);

/// A connection its target had not closed after the bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotClosed {
    /// Its index among the connections given.
    pub index: usize,
    /// The client's side, and its state.
    pub client: SocketAddr,
    pub client_state: TcpState,
    /// The server's side, and its state when the kernel still lists it.
    pub server: SocketAddr,
    pub server_state: Option<TcpState>,
}

thread_local! {
    /// One query handle per thread, opened on first use: a play runs on one thread at a time.
    static DIAG: RefCell<Option<SockDiag>> = const { RefCell::new(None) };
}

static OFF: Once = Once::new();

/// Asks about the socket `local` → `remote` with this thread's handle. `None` when the kernel
/// cannot be asked (the checks are then off, said once) or the query failed.
fn query(local: SocketAddr, remote: SocketAddr) -> Option<Option<crate::sock_diag::SocketInfo>> {
    DIAG.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            match SockDiag::open() {
                Ok(diag) => *slot = Some(diag),
                Err(why) => {
                    super::warn_off_once(&OFF, "the leak checks of closed connections", &why);
                    return None;
                }
            }
        }
        let diag = slot.as_mut()?;
        match diag.socket(local, remote) {
            Ok(found) => Some(found),
            Err(error) => {
                tracing::debug!("sock_diag query {local} -> {remote}: {error}");
                None
            }
        }
    })
}

/// Whether a client socket in `state` has closed and still waits for its peer's FIN.
fn waiting_for_fin(state: TcpState) -> bool {
    matches!(state, TcpState::FinWait1 | TcpState::FinWait2)
}

/// Waits up to `bound` until no client socket of `clients` (their local addresses, all
/// connected to `target`) is in FIN_WAIT1 or FIN_WAIT2; the first one that still is after the bound, with
/// the state of the server's side. Polls with growing pauses, so a target that had closed
/// costs one query per connection.
pub(crate) async fn await_closed(
    clients: &[SocketAddr],
    target: SocketAddr,
    bound: Duration,
) -> Option<NotClosed> {
    let started = Instant::now();
    let deadline = started + bound;
    let mut pending: Vec<usize> = (0..clients.len()).collect();
    let mut pause = FIRST_POLL;
    for round in 1.. {
        let mut still = Vec::new();
        for &index in &pending {
            match query(clients[index], target) {
                // The kernel cannot be asked: nothing to judge.
                None => return None,
                Some(Some(info)) if waiting_for_fin(info.state) => still.push((index, info.state)),
                Some(_) => {}
            }
        }
        pending = still.iter().map(|&(index, _)| index).collect();
        let Some(&(index, client_state)) = still.first() else {
            tracing::trace!(
                "{} connections closed by the target, seen in {round} rounds of queries, {:?}",
                clients.len(),
                started.elapsed()
            );
            return None;
        };
        let now = Instant::now();
        if now >= deadline {
            let server_state = query(target, clients[index])
                .flatten()
                .map(|info| info.state);
            return Some(NotClosed {
                index,
                client: clients[index],
                client_state,
                server: target,
                server_state,
            });
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(MAX_POLL);
    }
    unreachable!("the rounds of queries end at the deadline")
}
