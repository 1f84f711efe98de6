//! Criterion benches of verification: `first_mismatch` over an echo as it arrives, and the
//! round-trip engine playing one large generated stream through the built-in server — the
//! figure behind "the harness verifies a single large stream at 1 GB/s or more".

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use echo_harness::case::{Case, Conversation, Payload};
use echo_harness::generator::{generate, GeneratedStream};
use echo_harness::roundtrip::{block_on, play, PlayOptions};
use echo_harness::{EchoServer, ServerConfig};

fn first_mismatch(c: &mut Criterion) {
    let echo = generate(256 * 1024, 3);
    let mut group = c.benchmark_group("first_mismatch");
    group.throughput(Throughput::Bytes(echo.len() as u64));
    group.bench_function("aligned_256KiB", |b| {
        b.iter(|| GeneratedStream::at(3, 0).first_mismatch(black_box(&echo)))
    });
    group.bench_function("unaligned_256KiB", |b| {
        b.iter(|| GeneratedStream::at(3, 1).first_mismatch(black_box(&echo[1..])))
    });
    group.finish();
}

fn play_large_stream(c: &mut Criterion) {
    const LEN: usize = 64 << 20;
    let server = EchoServer::spawn(ServerConfig::ephemeral()).expect("server starts");
    let addr = server.local_addr();
    let case = Case::single(Conversation::Stream {
        payload: Payload::generated(LEN, 11),
    });
    let options = PlayOptions::default();
    let mut group = c.benchmark_group("roundtrip");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Bytes(LEN as u64));
    group.bench_function("play_64MiB_stream", |b| {
        b.iter(|| {
            block_on(|| play(&case, addr, &options))
                .expect("every byte comes back")
                .bytes_verified()
        })
    });
    group.finish();
}

criterion_group!(benches, first_mismatch, play_large_stream);
criterion_main!(benches);
