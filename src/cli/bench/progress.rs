//! The progress bar of `bench` on a terminal: a bar or a spinner, fed by a thread of its own
//! from the counter the load generator bumps.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{BenchArgs, Mode};

/// A bar (or a spinner, for a timed run) fed from `progress` by a thread of its own, on a
/// terminal only.
pub(super) fn progress_bar(
    args: &BenchArgs,
    progress: Arc<AtomicU64>,
) -> Option<indicatif::ProgressBar> {
    if args.json || !std::io::stdout().is_terminal() {
        return None;
    }
    let (bar, unit) = match &args.mode {
        Mode::Rr(_) => (indicatif::ProgressBar::new_spinner(), "messages"),
        Mode::Stream(s) => (indicatif::ProgressBar::new(s.bytes as u64), "bytes"),
        Mode::Connections(c) => (indicatif::ProgressBar::new(c.count as u64), "connections"),
    };
    let template = if unit == "messages" {
        "{spinner} {pos} messages verified [{elapsed}]".to_string()
    } else {
        format!("{{spinner}} {{pos}}/{{len}} {unit} [{{elapsed}}]")
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    let feeder = bar.clone();
    std::thread::spawn(move || {
        while !feeder.is_finished() {
            feeder.set_position(progress.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    Some(bar)
}
