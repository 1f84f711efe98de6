//! Polling a rarely ready future only when it has asked to be polled: what the fast path's wait
//! for data does with the idle deadline and the cut, so that a connection woken for its socket
//! (every message) does not poll them too.
//!
//! Polling them is not free: the cut is a `watch` channel shared by every connection, and a
//! registered waiter takes the channel's lock on every poll, so 50 connections on two cores
//! contend on it once per message. A [`Gate`] polls its future with a waker of its own, which
//! records that the future woke before waking the task; until it does, the gate answers
//! `Pending` without touching the future. Nothing is missed: a wake that comes after the gate's
//! last poll sets the flag and wakes the task, and the next poll goes through.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// Lets polls through to one future only after it woke (and always the first time).
#[derive(Debug, Default)]
pub(crate) struct Gate {
    /// The waker the future was last polled with, and the task it wakes. `None` until the
    /// first poll.
    flag: Option<Arc<Flag>>,
}

#[derive(Debug)]
struct Flag {
    woken: AtomicBool,
    task: Waker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake_by_ref();
    }
}

impl Gate {
    /// Lets the next poll through, for a future that changed without waking (a `Sleep` that
    /// was reset to a later deadline must be polled to watch it).
    pub(crate) fn open(&mut self) {
        if let Some(flag) = &self.flag {
            flag.woken.store(true, Ordering::Relaxed);
        }
    }

    /// Polls `future` if it woke since the last poll (or was never polled, or the task's waker
    /// changed); else `Pending` at once, the task being woken when the future wakes.
    pub(crate) fn poll<F: Future + ?Sized>(
        &mut self,
        future: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<F::Output> {
        let flag = match &self.flag {
            Some(flag) if flag.task.will_wake(cx.waker()) => {
                if !flag.woken.swap(false, Ordering::AcqRel) {
                    return Poll::Pending;
                }
                Arc::clone(flag)
            }
            // First poll, or another task's waker: register a flag that wakes this one.
            _ => {
                let flag = Arc::new(Flag {
                    woken: AtomicBool::new(false),
                    task: cx.waker().clone(),
                });
                self.flag = Some(Arc::clone(&flag));
                flag
            }
        };
        let waker = Waker::from(flag);
        future.poll(&mut Context::from_waker(&waker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A task waker that counts its wakes.
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn polls_only_after_a_wake_and_passes_the_wake_on() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let task = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&task);
        let (tx, rx) = tokio::sync::oneshot::channel::<u8>();
        let mut rx = std::pin::pin!(rx);
        let mut gate = Gate::default();
        assert!(
            gate.poll(rx.as_mut(), &mut cx).is_pending(),
            "first poll registers"
        );
        tx.send(7).unwrap();
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "the wake reached the task"
        );
        assert_eq!(gate.poll(rx.as_mut(), &mut cx), Poll::Ready(Ok(7)));
    }

    #[test]
    fn a_future_that_did_not_wake_is_not_polled() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let task = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&task);
        let polls = AtomicUsize::new(0);
        let mut pending = std::pin::pin!(std::future::poll_fn(|_| {
            polls.fetch_add(1, Ordering::SeqCst);
            Poll::<()>::Pending
        }));
        let mut gate = Gate::default();
        for _ in 0..3 {
            assert!(gate.poll(pending.as_mut(), &mut cx).is_pending());
        }
        assert_eq!(polls.load(Ordering::SeqCst), 1);
        gate.open();
        assert!(gate.poll(pending.as_mut(), &mut cx).is_pending());
        assert_eq!(
            polls.load(Ordering::SeqCst),
            2,
            "an opened gate polls once more"
        );
    }
}
