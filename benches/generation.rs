//! Criterion benches of case generation: what `check` pays before a single byte moves — a
//! case drawn from the proptest strategy, and a write plan cut over a 4 MiB payload — plus the
//! payload generator's fill rate, which bounds how fast the load generator can write.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use echo_harness::case::CaseBounds;
use echo_harness::generator::GeneratedStream;
use echo_harness::strategy::case_strategy;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

fn draw_cases(c: &mut Criterion) {
    let strategy = case_strategy(&CaseBounds::default());
    let mut runner = TestRunner::deterministic();
    c.bench_function("case_strategy/draw", |b| {
        b.iter(|| black_box(strategy.new_tree(&mut runner).expect("a case").current()))
    });
}

fn cut_plans(c: &mut Criterion) {
    let strategy = case_strategy(&CaseBounds::default());
    let mut runner = TestRunner::deterministic();
    let case = strategy.new_tree(&mut runner).expect("a case").current();
    let conn = &case.connections[0];
    c.bench_function("write_plan/cuts_4MiB", |b| {
        b.iter(|| black_box(conn.write.cuts(4 << 20).count()))
    });
}

fn fill(c: &mut Criterion) {
    let mut buffer = vec![0u8; 256 * 1024];
    let mut group = c.benchmark_group("generator");
    group.throughput(Throughput::Bytes(buffer.len() as u64));
    group.bench_function("fill_256KiB", |b| {
        let mut stream = GeneratedStream::new(7);
        b.iter(|| stream.fill(black_box(&mut buffer)))
    });
    group.finish();
}

criterion_group!(benches, draw_cases, cut_plans, fill);
criterion_main!(benches);
