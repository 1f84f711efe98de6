//! The fallback where netlink is refused: /proc/net/tcp and /proc/net/tcp6, read whole and
//! searched line by line, so a query costs time in proportion to the sockets on the machine.
//!
//! A line reads `sl local_address rem_address st tx_queue:rx_queue ...`, all numbers in hex.
//! An address is printed as 32-bit words (one for IPv4, four for IPv6), each the word as it
//! sits in memory read in host byte order; ports are plain numbers. The parser, [`find`], is a
//! pure function over the text so it is tested on fixed lines.

use std::fs::File;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{same_endpoint, SocketInfo, TcpState};

const TCP: &str = "/proc/net/tcp";
const TCP6: &str = "/proc/net/tcp6";

/// Reads the tables per query; holds only the buffer they are read into.
pub(super) struct ProcNet {
    /// One table's text, reused so a query does not allocate.
    text: String,
}

impl ProcNet {
    /// A handle, once /proc/net/tcp is found readable.
    pub(super) fn open() -> io::Result<ProcNet> {
        let mut proc = ProcNet {
            text: String::new(),
        };
        proc.read(TCP)?;
        Ok(proc)
    }

    /// The socket `local` with peer `remote` (same family), from the tables.
    pub(super) fn query(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> io::Result<Option<SocketInfo>> {
        // An IPv4 connection may be a dual-stack IPv6 socket's, listed in tcp6 under mapped
        // addresses (netlink finds those too); a non-mapped IPv6 one is only in tcp6.
        let tables: &[&str] = match local.ip().to_canonical() {
            IpAddr::V4(_) => &[TCP, TCP6],
            IpAddr::V6(_) => &[TCP6],
        };
        for &table in tables {
            match self.read(table) {
                Ok(()) => {}
                // A kernel without IPv6 has no tcp6, and no IPv6 sockets.
                Err(error) if table == TCP6 && error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error),
            }
            let found = find(&self.text, local, remote)
                .map_err(|error| io::Error::new(error.kind(), format!("{table}: {error}")))?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Reads `table` into the buffer; an error names the file.
    fn read(&mut self, table: &str) -> io::Result<()> {
        self.text.clear();
        File::open(table)
            .and_then(|mut file| file.read_to_string(&mut self.text))
            .map(drop)
            .map_err(|error| io::Error::new(error.kind(), format!("cannot read {table}: {error}")))
    }
}

/// The socket `local` with peer `remote` in one table's text (its first line is the header).
pub(super) fn find(
    table: &str,
    local: SocketAddr,
    remote: SocketAddr,
) -> io::Result<Option<SocketInfo>> {
    for (index, line) in table.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let (found_local, found_remote, info) = parse_line(line).map_err(|why| {
            let line_number = index + 1;
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line {line_number}: {why}: {line:?}"),
            )
        })?;
        if same_endpoint(found_local, local) && same_endpoint(found_remote, remote) {
            return Ok(Some(info));
        }
    }
    Ok(None)
}

/// One socket's line: its address, its peer's, and what is known of it.
fn parse_line(line: &str) -> Result<(SocketAddr, SocketAddr, SocketInfo), String> {
    let mut fields = line.split_whitespace();
    let mut next = |name: &str| fields.next().ok_or_else(|| format!("no {name} field"));
    let slot = next("sl")?;
    if !slot.ends_with(':') {
        return Err(format!("slot {slot:?} does not end in ':'"));
    }
    let local = endpoint(next("local_address")?)?;
    let remote = endpoint(next("rem_address")?)?;
    let state = next("st")?;
    let state = u8::from_str_radix(hex(state)?, 16).map_err(|_| format!("state {state:?}"))?;
    let queues = next("tx_queue:rx_queue")?;
    let (send, receive) = queues
        .split_once(':')
        .ok_or_else(|| format!("queues {queues:?} have no ':'"))?;
    let queue = |text| u32::from_str_radix(hex(text)?, 16).map_err(|_| format!("queue {text:?}"));
    let info = SocketInfo {
        state: TcpState::from_kernel(state),
        receive_queue: queue(receive)?,
        send_queue: queue(send)?,
    };
    Ok((local, remote, info))
}

/// `ADDRESS:PORT`: an address of one or four words (see [`word`]) and a hex port.
fn endpoint(text: &str) -> Result<SocketAddr, String> {
    let (address, port) = text
        .split_once(':')
        .ok_or_else(|| format!("address {text:?}"))?;
    let port = u16::from_str_radix(hex(port)?, 16).map_err(|_| format!("port in {text:?}"))?;
    let address = hex(address)?;
    let ip = match address.len() {
        8 => IpAddr::from(Ipv4Addr::from(word(address)?)),
        32 => {
            let mut octets = [0; 16];
            // ASCII (checked by `hex`), so every eight digits are a str of their own.
            for (index, chunk) in octets.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&word(&address[index * 8..index * 8 + 8])?);
            }
            IpAddr::from(Ipv6Addr::from(octets))
        }
        _ => {
            return Err(format!(
                "address {address:?} is neither 8 nor 32 hex digits"
            ))
        }
    };
    Ok(SocketAddr::new(ip, port))
}

/// Four bytes of an address from eight hex digits: the kernel prints the 32-bit word as it sits
/// in memory (network order) read as a host-order number, so the host's order gives them back.
fn word(digits: &str) -> Result<[u8; 4], String> {
    u32::from_str_radix(digits, 16)
        .map(u32::to_ne_bytes)
        .map_err(|_| format!("address word {digits:?}"))
}

/// `text` when it is non-empty and all hex digits (`from_str_radix` would also take a sign).
fn hex(text: &str) -> Result<&str, String> {
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        Ok(text)
    } else {
        Err(format!("{text:?} is not hex"))
    }
}

// The fixtures are lines of this machine's tables (x86_64, little-endian), taken while a script
// held: listener 127.0.0.1:42883 with an accepted connection from 41902 holding 1000 unread
// bytes, and one from 41914 that shut down its write side; listener [::1]:37963 with a connection
// from 46200 whose client had 300 unread bytes; and a dual-stack listener [::]:35009 accepting
// 127.0.0.1:34010. The addresses read in the other byte order on a big-endian host.
#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    const TCP_FIXTURE: &str = "\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   1: 0100007F:A783 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 26327 1 0000000093185d8e 100 0 0 10 0
   2: 0100007F:A6F7 0100007F:E428 06 00000000:00000000 03:00001074 00000000     0        0 0 3 0000000047803224
   3: 0100007F:A783 0100007F:A3BA 08 00000000:00000001 00:00000000 00000000     0        0 26331 1 00000000849be04b 20 4 0 10 -1
   4: 0100007F:A783 0100007F:A3AE 01 00000000:000003E8 00:00000000 00000000     0        0 26329 1 00000000eb00bf40 20 4 32 10 -1
   6: 0100007F:A3AE 0100007F:A783 01 00000000:00000000 00:00000000 00000000     0        0 26328 1 00000000cc98880a 20 0 0 11 -1
   7: 0100007F:A3BA 0100007F:A783 05 00000000:00000000 00:00000000 00000000     0        0 26330 1 000000009244d3ae 20 0 0 11 -1
";

    const TCP6_FIXTURE: &str = "\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   1: 00000000000000000000000001000000:944B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 26332 1 00000000d0ada08c 100 0 0 10 0
   2: 00000000000000000000000001000000:944B 00000000000000000000000001000000:B478 01 00000000:00000000 00:00000000 00000000     0        0 26334 1 00000000615bc811 20 0 0 11 -1
   3: 00000000000000000000000001000000:B478 00000000000000000000000001000000:944B 01 00000000:0000012C 00:00000000 00000000     0        0 26333 2 0000000090251616 20 4 30 10 -1
   4: 0000000000000000FFFF00000100007F:88C1 0000000000000000FFFF00000100007F:84DA 01 00000000:00000000 00:00000000 00000000     0        0 26337 1 00000000ff108e70 20 0 0 10 -1
";

    fn at(text: &str) -> SocketAddr {
        text.parse().expect("a socket address")
    }

    fn info(state: TcpState, receive_queue: u32) -> Option<SocketInfo> {
        Some(SocketInfo {
            state,
            receive_queue,
            send_queue: 0,
        })
    }

    fn find_ok(table: &str, local: &str, remote: &str) -> Option<SocketInfo> {
        find(table, at(local), at(remote)).expect("the fixture parses")
    }

    #[test]
    fn ipv4_lines_read_by_hand() {
        // 0100007F is the word 7F 00 00 01 read little-endian: 127.0.0.1. A783 = 42883,
        // A3AE = 41902, 3E8 = 1000, state 01 = ESTABLISHED.
        let server = find_ok(TCP_FIXTURE, "127.0.0.1:42883", "127.0.0.1:41902");
        assert_eq!(server, info(TcpState::Established, 1000));
        // A3BA = 41914, state 05 = FIN_WAIT2; its server is 08 = CLOSE_WAIT with the FIN unread.
        let half_closed = find_ok(TCP_FIXTURE, "127.0.0.1:41914", "127.0.0.1:42883");
        assert_eq!(half_closed, info(TcpState::FinWait2, 0));
        let close_wait = find_ok(TCP_FIXTURE, "127.0.0.1:42883", "127.0.0.1:41914");
        assert_eq!(close_wait, info(TcpState::CloseWait, 1));
        // A6F7 = 42743 and E428 = 58408, state 06 = TIME_WAIT.
        let time_wait = find_ok(TCP_FIXTURE, "127.0.0.1:42743", "127.0.0.1:58408");
        assert_eq!(time_wait, info(TcpState::TimeWait, 0));
        // The listener's line has peer 0.0.0.0:0, so it is not a match for a connection.
        assert_eq!(find_ok(TCP_FIXTURE, "127.0.0.1:42883", "127.0.0.1:1"), None);
        assert_eq!(
            find_ok(TCP_FIXTURE, "127.0.0.1:42883", "0.0.0.0:0"),
            info(TcpState::Listen, 0)
        );
    }

    #[test]
    fn ipv6_lines_read_by_hand() {
        // Four words; the last, 01000000, is 00 00 00 01 in memory: ::1. 944B = 37963,
        // B478 = 46200, 12C = 300.
        let client = find_ok(TCP6_FIXTURE, "[::1]:46200", "[::1]:37963");
        assert_eq!(client, info(TcpState::Established, 300));
        let server = find_ok(TCP6_FIXTURE, "[::1]:37963", "[::1]:46200");
        assert_eq!(server, info(TcpState::Established, 0));
        // Words 3 and 4 are FFFF0000 -> 00 00 FF FF and 0100007F -> 7F 00 00 01:
        // ::ffff:127.0.0.1, found by either form. 88C1 = 35009, 84DA = 34010.
        let mapped = find_ok(
            TCP6_FIXTURE,
            "[::ffff:127.0.0.1]:35009",
            "[::ffff:127.0.0.1]:34010",
        );
        assert_eq!(mapped, info(TcpState::Established, 0));
        assert_eq!(
            find_ok(TCP6_FIXTURE, "127.0.0.1:35009", "127.0.0.1:34010"),
            mapped
        );
        assert_eq!(find_ok(TCP6_FIXTURE, "[::1]:46200", "[::1]:37964"), None);
    }

    #[test]
    fn odd_lines_are_errors_naming_the_line() {
        let header = TCP_FIXTURE.lines().next().unwrap_or_default();
        for bad in [
            "   0: 0100007F:A783",
            "   0 0100007F:A783 0100007F:A3AE 01 00000000:00000000",
            "   0: 0100007F:A783 0100007F:A3AE 01 00000000",
            "   0: 0100007F:A783 0100007F:A3AE 1G 00000000:00000000",
            "   0: 00007F:A783 0100007F:A3AE 01 00000000:00000000",
            "   0: 0100007F:+783 0100007F:A3AE 01 00000000:00000000",
            "   0: 0100007F:A783 0100007F:A3AE 01 00000000:1000000000",
            "   0: 000000000000000000000000010000é:A783 0100007F:A3AE 01 00000000:00000000",
        ] {
            let table = format!("{header}\n{bad}\n");
            let error = find(&table, at("127.0.0.1:1"), at("127.0.0.1:2")).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{bad}: {error}");
            assert!(error.to_string().starts_with("line 2: "), "{bad}: {error}");
        }
    }
}
