//! What `bench` prints: the figures of the mode that ran as a table or one JSON object, or the
//! divergence that stopped it, with the server's last output.

use std::time::Duration;

use super::{BenchArgs, Figures, Mode};
use crate::bench::Latency;
use crate::cli::print_line;
use crate::cli::target::{print_output_tail, ServerUnderTest};
use crate::cli::Failure;
use crate::Divergence;

/// Bump when a field of the JSON output changes meaning or goes away.
const JSON_SCHEMA_VERSION: u32 = 1;

fn mode_name(mode: &Mode) -> &'static str {
    match mode {
        Mode::Rr(_) => "rr",
        Mode::Stream(_) => "stream",
        Mode::Connections(_) => "connections",
    }
}

pub(super) fn report(
    args: &BenchArgs,
    target: &ServerUnderTest,
    figures: &Figures,
) -> Result<(), Failure> {
    if args.json {
        let mut json = serde_json::json!({
            "schema_version": JSON_SCHEMA_VERSION,
            "mode": mode_name(&args.mode),
            "verdict": "passed",
            "target": target.describe(),
            "seed": args.seed,
            "warmup_ms": args.warmup.as_millis() as u64,
        });
        let fields = match figures {
            Figures::Rr(r) => serde_json::json!({
                "connections": r.connections,
                "size": r.size,
                "messages": r.messages,
                "bytes_verified": r.bytes_verified(),
                "elapsed_ms": r.elapsed.as_secs_f64() * 1e3,
                "msg_per_sec": r.messages_per_sec(),
                "mb_per_sec": r.megabytes_per_sec(),
                "latency_us": latency_json(&r.latency),
            }),
            Figures::Stream(s) => serde_json::json!({
                "connections": s.connections,
                "bytes": s.bytes,
                "bytes_verified": s.bytes,
                "elapsed_ms": s.elapsed.as_secs_f64() * 1e3,
                "mb_per_sec": s.megabytes_per_sec(),
            }),
            Figures::Hold(h) => serde_json::json!({
                "requested": h.requested,
                "succeeded": h.succeeded,
                "failed": h.failed,
                "first_failure": h.first_failure,
                "elapsed_ms": h.elapsed.as_secs_f64() * 1e3,
                "rss_kib": h.rss_kib,
            }),
        };
        if let (Some(json), serde_json::Value::Object(fields)) = (json.as_object_mut(), fields) {
            json.extend(fields);
        }
        return print_line(format_args!("{json}"));
    }
    let mut rows: Vec<(&str, String)> = vec![
        ("mode", mode_name(&args.mode).to_string()),
        ("target", target.describe()),
    ];
    if !args.warmup.is_zero() {
        rows.push((
            "warm-up",
            humantime::format_duration(args.warmup).to_string(),
        ));
    }
    match figures {
        Figures::Rr(r) => {
            let l = &r.latency;
            rows.extend([
                ("connections", r.connections.to_string()),
                ("message size", format!("{} B", r.size)),
                ("measured for", format!("{:.2} s", r.elapsed.as_secs_f64())),
                (
                    "messages",
                    format!("{} (every reply byte verified)", r.messages),
                ),
                ("msg/s", format!("{:.0}", r.messages_per_sec())),
                ("MB/s", format!("{:.2}", r.megabytes_per_sec())),
                ("latency p50", micros(l.p50)),
                ("latency p90", micros(l.p90)),
                ("latency p99", micros(l.p99)),
                ("latency p99.9", micros(l.p999)),
                ("latency max", micros(l.max)),
            ]);
        }
        Figures::Stream(s) => rows.extend([
            ("connections", s.connections.to_string()),
            ("bytes", format!("{} (every byte verified)", s.bytes)),
            ("elapsed", format!("{:.3} s", s.elapsed.as_secs_f64())),
            ("MB/s", format!("{:.1}", s.megabytes_per_sec())),
        ]),
        Figures::Hold(h) => {
            rows.extend([
                (
                    "connections",
                    format!("{} of {} held", h.succeeded, h.requested),
                ),
                ("failed", h.failed.to_string()),
                ("elapsed", format!("{:.3} s", h.elapsed.as_secs_f64())),
            ]);
            if let Some(failure) = &h.first_failure {
                rows.push(("first failure", failure.clone()));
            }
            if let Some(kib) = h.rss_kib {
                rows.push(("target RSS", format!("{:.1} MiB", kib as f64 / 1024.0)));
            }
        }
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in rows {
        print_line(format_args!("{key:<width$}  {value}"))?;
    }
    Ok(())
}

fn latency_json(l: &Latency) -> serde_json::Value {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    serde_json::json!({
        "samples": l.samples,
        "mean": us(l.mean),
        "p50": us(l.p50),
        "p90": us(l.p90),
        "p99": us(l.p99),
        "p99_9": us(l.p999),
        "max": us(l.max),
    })
}

fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

pub(super) fn report_divergence(
    args: &BenchArgs,
    target: &ServerUnderTest,
    divergence: &Divergence,
) -> Result<(), Failure> {
    let server_output = target.output_tail();
    if args.json {
        return print_line(format_args!(
            "{}",
            serde_json::json!({
                "schema_version": JSON_SCHEMA_VERSION,
                "mode": mode_name(&args.mode),
                "verdict": "failed",
                "target": target.describe(),
                "seed": args.seed,
                "failure": {
                    "kind": divergence.kind.name(),
                    "connection": divergence.connection,
                    "summary": divergence.summary(),
                    "report": divergence.to_string(),
                },
                "server_output": server_output,
            })
        ));
    }
    print_line(format_args!(
        "FAILED against {} (bench {}, seed {})\n{divergence}",
        target.describe(),
        mode_name(&args.mode),
        args.seed
    ))?;
    print_output_tail(server_output.as_deref())
}
