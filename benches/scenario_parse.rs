//! Criterion bench of scenario parsing: every file of the regression corpus, parsed, as
//! `run` and `replay` do before anything plays.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use echo_harness::ScenarioFile;

fn parse_corpus(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/regressions");
    let mut sources: Vec<String> = std::fs::read_dir(dir)
        .expect("the regression corpus")
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            entry
                .path()
                .extension()
                .is_some_and(|ext| ext == "scenario")
        })
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .collect();
    sources.sort();
    let bytes: usize = sources.iter().map(String::len).sum();
    let mut group = c.benchmark_group("scenario");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("parse_regression_corpus", |b| {
        b.iter(|| {
            for source in &sources {
                black_box(source.parse::<ScenarioFile>().expect("corpus files parse"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse_corpus);
criterion_main!(benches);
