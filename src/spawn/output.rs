//! The server's output: the reader threads that drain stdout and stderr, the ring that keeps the
//! last [`OUTPUT_TAIL_CAPACITY`] bytes of it, and the shared state through which readers tell a
//! waiter that the readiness line has come or a stream has closed.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::{Condvar, Mutex};

use regex::Regex;

use super::readiness::find_ready_line;
use crate::sync::lock;

/// How much of the server's output (stdout and stderr together) is kept for failure reports.
pub const OUTPUT_TAIL_CAPACITY: usize = 64 * 1024;

/// A line longer than this without a newline is not scanned for readiness; it is still recorded.
const MAX_SCANNED_LINE: usize = 64 * 1024;

/// State shared between the reader threads and the [`SpawnedTarget`](super::SpawnedTarget).
pub(super) struct OutputShared {
    pub(super) state: Mutex<OutputState>,
    /// Notified on every chunk of output and on every end-of-file, so waiting for readiness or
    /// for the readers to finish needs no polling of the pipes.
    pub(super) changed: Condvar,
}

pub(super) struct OutputState {
    pub(super) ring: OutputRing,
    /// Whether the readers still look for the readiness line: only until the first match.
    pub(super) scanning: bool,
    /// The first capture group of the first matching line, until the waiter takes it.
    pub(super) ready_capture: Option<String>,
    /// How many of stdout and stderr have not reached end-of-file yet.
    pub(super) open_streams: usize,
}

impl OutputShared {
    pub(super) fn new(scanning: bool) -> Self {
        OutputShared {
            state: Mutex::new(OutputState {
                ring: OutputRing::new(OUTPUT_TAIL_CAPACITY),
                scanning,
                ready_capture: None,
                open_streams: 2,
            }),
            changed: Condvar::new(),
        }
    }

    pub(super) fn stream_closed(&self) {
        lock(&self.state).open_streams -= 1;
        self.changed.notify_all();
    }
}

/// One reader thread: drains `stream` into the ring until end-of-file, and looks for the
/// readiness line in it while nobody has found it yet.
pub(super) fn read_output(
    mut stream: Box<dyn Read + Send>,
    shared: &OutputShared,
    pattern: Option<&Regex>,
) {
    let mut chunk = vec![0u8; 8 * 1024];
    // This stream's unfinished line, kept per stream so that lines are never spliced together
    // from stdout and stderr.
    let mut line = Vec::new();
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let data = &chunk[..n];
        let scanning = {
            let mut state = lock(&shared.state);
            state.ring.push(data);
            state.scanning
        };
        if let (true, Some(pattern)) = (scanning, pattern) {
            line.extend_from_slice(data);
            if let Some(captured) = find_ready_line(&mut line, pattern) {
                let mut state = lock(&shared.state);
                if state.scanning {
                    state.scanning = false;
                    state.ready_capture = Some(captured);
                }
            }
            if line.len() > MAX_SCANNED_LINE {
                line.clear();
            }
        } else {
            line = Vec::new();
        }
        shared.changed.notify_all();
    }
    shared.stream_closed();
}

/// The last `capacity` bytes written into it.
pub(super) struct OutputRing {
    bytes: VecDeque<u8>,
    capacity: usize,
}

impl OutputRing {
    fn new(capacity: usize) -> Self {
        OutputRing {
            bytes: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    fn push(&mut self, data: &[u8]) {
        let data = &data[data.len().saturating_sub(self.capacity)..];
        let overflow = (self.bytes.len() + data.len()).saturating_sub(self.capacity);
        self.bytes.drain(..overflow);
        self.bytes.extend(data);
    }

    pub(super) fn to_string_lossy(&self) -> String {
        let (front, back) = self.bytes.as_slices();
        let mut all = Vec::with_capacity(front.len() + back.len());
        all.extend_from_slice(front);
        all.extend_from_slice(back);
        String::from_utf8_lossy(&all).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_ring_keeps_only_the_last_capacity_bytes() {
        let mut ring = OutputRing::new(8);
        ring.push(b"abc");
        ring.push(b"defgh");
        assert_eq!(ring.to_string_lossy(), "abcdefgh");
        ring.push(b"ij");
        assert_eq!(ring.to_string_lossy(), "cdefghij");
        ring.push(b"0123456789");
        assert_eq!(ring.to_string_lossy(), "23456789");
    }
}
