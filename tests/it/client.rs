//! The library's EchoClient: correct echoes pass, and each way a server can get it wrong is a
//! distinct error.

use std::time::Duration;

use echo_harness::{ClientError, EchoClient, EchoServer, ServerConfig};

use crate::common::{faulty_server, refused_addr, WAIT};

#[test]
fn echoes_small_and_large_messages_against_the_builtin_server() {
    let server = EchoServer::spawn(ServerConfig::ephemeral()).unwrap();
    let mut client = EchoClient::connect(server.local_addr(), WAIT).unwrap();
    client.echo(b"").unwrap();
    client.echo(b"x").unwrap();
    // Larger than the socket buffers: written and read at once.
    let big: Vec<u8> = (0..8 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    client.echo(&big).unwrap();
    client.finish().unwrap();
}

#[test]
fn different_bytes_are_a_mismatch_at_the_first_differing_offset() {
    let addr = faulty_server(|bytes| {
        let mut flipped = bytes.to_vec();
        if flipped.len() > 3 {
            flipped[3] ^= 0x20;
        }
        flipped
    });
    let mut client = EchoClient::connect(addr, WAIT).unwrap();
    match client.echo(b"abcdefg") {
        Err(ClientError::Mismatch {
            offset: 3,
            expected: b'd',
            actual: b'D',
        }) => {}
        other => panic!("expected a mismatch at offset 3, got {other:?}"),
    }
}

#[test]
fn a_server_that_echoes_half_times_out_after_the_half() {
    let addr = faulty_server(|bytes| bytes[..bytes.len() / 2].to_vec());
    let mut client = EchoClient::connect(addr, Duration::from_millis(300)).unwrap();
    match client.echo(b"0123456789").unwrap_err() {
        ClientError::TimedOut {
            received: 5,
            expected: 10,
            ..
        } => {}
        other => panic!("expected a timeout after 5 of 10 bytes, got {other:?}"),
    }
}

#[test]
fn timeout_is_per_wait_and_reports_how_far_it_got() {
    let addr = faulty_server(|_| Vec::new());
    let mut client = EchoClient::connect(addr, Duration::from_millis(200)).unwrap();
    let started = std::time::Instant::now();
    let error = client.echo(b"anyone there?").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        matches!(
            error,
            ClientError::TimedOut {
                received: 0,
                expected: 13,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("timed out after 0 of 13 bytes"),
        "{error}"
    );
}

#[test]
fn peer_closing_mid_echo_is_peer_closed() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buffer = [0u8; 16];
        let n = stream.read(&mut buffer).unwrap();
        stream.write_all(&buffer[..n.min(4)]).unwrap();
        // Then close: the client sees EOF after 4 bytes.
    });
    let mut client = EchoClient::connect(addr, WAIT).unwrap();
    let error = client.echo(b"12345678").unwrap_err();
    server.join().unwrap();
    assert!(
        matches!(
            error,
            ClientError::PeerClosed {
                received: 4,
                expected: 8
            }
        ),
        "{error:?}"
    );
}

#[test]
fn refused_connection_is_a_connect_error() {
    let error = EchoClient::connect(refused_addr(), WAIT).unwrap_err();
    assert!(error.is_connect(), "{error:?}");
    assert!(
        error.to_string().contains("cannot connect to 127.0.0.1:"),
        "{error}"
    );
}
