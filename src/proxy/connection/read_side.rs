//! The reader of one direction: reads from the source socket while the byte budget has room,
//! queues what it read for the writer, and applies the stream toxics (`limit`, `blackhole`,
//! `reset=N`): the first of them to fire (the [`Cut`] `pump` picked) decides what happens after
//! its bytes.

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::pump::{error_end, Budget, Cut, Event};
use super::{GraceCut, MAX_READ};
use crate::proxy::stats::ProxyEnd;

pub(super) async fn read_side<R: AsyncRead + Unpin>(
    mut src: R,
    tx: mpsc::UnboundedSender<Event>,
    cut: Option<(u64, Cut)>,
    budget: &Budget<'_>,
    read_end: ProxyEnd,
    stop: &GraceCut,
) -> Result<(), ProxyEnd> {
    let mut scratch = vec![0u8; budget.cap.min(MAX_READ as u64) as usize];
    let mut passed = 0u64;
    let mut fired = None;
    // A cut at 0 bytes fires before the first byte.
    let fire = |what: Cut, tx: &mpsc::UnboundedSender<Event>| match what {
        Cut::Limit => {
            let _ = tx.send(Event::Eof);
        }
        Cut::Reset => {
            let _ = tx.send(Event::Reset);
        }
        Cut::Blackhole => {}
    };
    if let Some((0, what)) = cut {
        fire(what, &tx);
        fired = Some(what);
    }
    loop {
        if fired == Some(Cut::Reset) {
            // The writer resets the connection once the bytes before the cut are out.
            return std::future::pending().await;
        }
        // At the cut, read no more from the client: what was read is queued; the FIN goes after it.
        let n = if stop.stops_reader() {
            None
        } else {
            let read = async {
                let room = budget.room().await.min(scratch.len());
                src.read(&mut scratch[..room]).await
            };
            tokio::select! {
                read = read => Some(read.map_err(|e| error_end(&e, read_end.clone()))?),
                () = stop.stopping_reader() => None,
            }
        };
        let Some(n) = n else {
            stop.hit();
            if fired.is_none() {
                let _ = tx.send(Event::Eof);
            }
            return Ok(());
        };
        if n == 0 {
            return match fired {
                // The FIN was passed on when the limit was reached.
                Some(_) if fired == Some(Cut::Limit) => Ok(()),
                // A black hole swallows the FIN too and keeps the connection open.
                Some(_) => std::future::pending().await,
                None => {
                    let _ = tx.send(Event::Eof);
                    Ok(())
                }
            };
        }
        budget.take(n);
        let keep = match (fired, cut) {
            (Some(_), _) => 0,
            (None, Some((limit, _))) => {
                usize::try_from(limit - passed).map_or(n, |left| left.min(n))
            }
            (None, None) => n,
        };
        if keep < n {
            budget.give(n - keep, false);
        }
        if keep > 0 {
            passed += keep as u64;
            let _ = tx.send(Event::Data(scratch[..keep].to_vec(), Instant::now()));
        }
        if let (None, Some((limit, what))) = (fired, cut) {
            if passed == limit {
                fire(what, &tx);
                fired = Some(what);
            }
        }
    }
}
