//! The echo client: send a message, read back exactly as many bytes, and say precisely what went
//! wrong when they differ.
//!
//! It fixes the tutorial client's two bugs. It does not assume one `recv` returns the whole
//! echo: it reads until every byte came back. And it does not ignore how much `send` wrote: it
//! writes until every byte is out. Writing and reading overlap for large messages, so a message
//! bigger than the socket buffers cannot deadlock against a server that echoes as it reads.
//!
//! The client is blocking (std sockets) on purpose: tests, scripts and the interactive `client`
//! command want a plain call, not a runtime.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Messages up to this size are written whole before reading: they fit in the socket buffers
/// on every platform, so no writer thread is needed. Larger ones are written by a second thread
/// while this one reads.
const WRITE_THEN_READ_LIMIT: usize = 32 * 1024;

/// What went wrong talking to an echo server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The address did not resolve to anything.
    #[error("cannot resolve {addr}: {source}")]
    Resolve {
        /// The address as given.
        addr: String,
        /// Why it did not resolve.
        source: io::Error,
    },
    /// Every address was tried and none accepted the connection.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// What the operating system said (refused, timed out, unreachable...).
        source: io::Error,
    },
    /// The peer closed its side before the whole echo came back.
    #[error("peer closed the connection after echoing {received} of {expected} bytes")]
    PeerClosed {
        /// Bytes of this message that came back.
        received: usize,
        /// Bytes sent.
        expected: usize,
    },
    /// Different bytes came back.
    #[error(
        "different bytes came back at offset {offset}: expected {expected:#04x}, got {actual:#04x}"
    )]
    Mismatch {
        /// Offset of the first differing byte in the message.
        offset: usize,
        /// The byte that was sent there.
        expected: u8,
        /// The byte that came back.
        actual: u8,
    },
    /// No byte arrived for the timeout.
    #[error("timed out after {received} of {expected} bytes (nothing arrived for {timeout:?})")]
    TimedOut {
        /// Bytes that came back before the wait ran out.
        received: usize,
        /// Bytes expected in all.
        expected: usize,
        /// How long nothing arrived.
        timeout: Duration,
    },
    /// The connection was reset.
    #[error("connection reset after {received} of {expected} bytes came back")]
    Reset {
        /// Bytes that came back before the reset.
        received: usize,
        /// Bytes expected in all.
        expected: usize,
    },
    /// After the half-close the server sent more bytes instead of EOF.
    #[error("expected end of stream after the last echo, got {extra} more bytes")]
    ExtraBytes {
        /// How many unexpected bytes arrived (at least).
        extra: usize,
    },
    /// Any other I/O error.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

impl ClientError {
    /// True when the failure happened while connecting, before any byte was exchanged.
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            ClientError::Resolve { .. } | ClientError::Connect { .. }
        )
    }
}

/// A blocking connection to an echo server.
#[derive(Debug)]
pub struct EchoClient {
    stream: TcpStream,
    timeout: Duration,
}

impl EchoClient {
    /// Connects to the first address of `addr` that accepts, waiting at most `timeout` per
    /// address. `timeout` is then also how long a read or write may make no progress.
    pub fn connect(
        addr: impl ToSocketAddrs + ToString,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|source| ClientError::Resolve {
                addr: addr.to_string(),
                source,
            })?
            .collect();
        let mut last = None;
        for candidate in addrs {
            match TcpStream::connect_timeout(&candidate, timeout) {
                Ok(stream) => return Self::from_stream(stream, timeout),
                Err(source) => last = Some((candidate, source)),
            }
        }
        Err(match last {
            Some((addr, source)) => ClientError::Connect { addr, source },
            None => ClientError::Resolve {
                addr: addr.to_string(),
                source: io::Error::new(io::ErrorKind::NotFound, "no address"),
            },
        })
    }

    /// Wraps a connected stream.
    pub fn from_stream(stream: TcpStream, timeout: Duration) -> Result<Self, ClientError> {
        // A zero timeout means "block forever" to std; treat it as the smallest wait instead.
        let timeout = timeout.max(Duration::from_millis(1));
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(EchoClient { stream, timeout })
    }

    /// This side's address: the key under which the built-in server records the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// The server's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// Sends every byte of `message` and reads until exactly as many bytes came back, checking
    /// each one.
    pub fn echo(&mut self, message: &[u8]) -> Result<(), ClientError> {
        if message.len() <= WRITE_THEN_READ_LIMIT {
            self.write_all(message, message.len())?;
            return self.read_echo(message);
        }
        let mut writer = self.stream.try_clone()?;
        let timeout = self.timeout;
        thread_scope_echo(&mut writer, message, timeout, |m| self.read_echo(m))
    }

    /// Half-closes (shuts down the write side) and expects the server to close too: EOF with no
    /// further byte.
    pub fn finish(self) -> Result<(), ClientError> {
        self.stream.shutdown(Shutdown::Write)?;
        let mut stream = &self.stream;
        let mut probe = [0u8; 256];
        match stream.read(&mut probe) {
            Ok(0) => Ok(()),
            Ok(n) => Err(ClientError::ExtraBytes { extra: n }),
            Err(e) => Err(classify(e, 0, 0, self.timeout)),
        }
    }

    fn write_all(&self, message: &[u8], expected: usize) -> Result<(), ClientError> {
        write_all(&self.stream, message, expected, self.timeout)
    }

    fn read_echo(&self, message: &[u8]) -> Result<(), ClientError> {
        let mut stream = &self.stream;
        let mut buffer = vec![0u8; message.len().clamp(1, 64 * 1024)];
        let mut received = 0;
        while received < message.len() {
            let want = (message.len() - received).min(buffer.len());
            let n = match stream.read(&mut buffer[..want]) {
                Ok(0) => {
                    return Err(ClientError::PeerClosed {
                        received,
                        expected: message.len(),
                    })
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify(e, received, message.len(), self.timeout)),
            };
            let sent = &message[received..received + n];
            if let Some(i) = sent.iter().zip(&buffer[..n]).position(|(a, b)| a != b) {
                return Err(ClientError::Mismatch {
                    offset: received + i,
                    expected: sent[i],
                    actual: buffer[i],
                });
            }
            received += n;
        }
        Ok(())
    }
}

/// Writes `message` from a scoped thread while `read` runs on this one.
fn thread_scope_echo(
    writer: &mut TcpStream,
    message: &[u8],
    timeout: Duration,
    read: impl FnOnce(&[u8]) -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    std::thread::scope(|scope| {
        let writing = scope.spawn(|| write_all(writer, message, message.len(), timeout));
        let read_result = read(message);
        if read_result.is_err() {
            // Unblock the writer: it may be stuck on a full socket that nobody drains now.
            let _ = writer.shutdown(Shutdown::Both);
        }
        let write_result = writing
            .join()
            .unwrap_or_else(|_| Err(ClientError::Io(io::Error::other("writer thread panicked"))));
        // The reader's account is the more precise one (what came back, and where it differed).
        read_result.and(write_result)
    })
}

fn write_all(
    mut stream: &TcpStream,
    mut bytes: &[u8],
    expected: usize,
    timeout: Duration,
) -> Result<(), ClientError> {
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(ClientError::Io(io::ErrorKind::WriteZero.into())),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(classify(e, 0, expected, timeout)),
        }
    }
    Ok(())
}

fn classify(e: io::Error, received: usize, expected: usize, timeout: Duration) -> ClientError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::TimedOut {
            received,
            expected,
            timeout,
        },
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => ClientError::Reset { received, expected },
        _ => ClientError::Io(e),
    }
}
