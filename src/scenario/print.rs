//! The scenario printer: [`ScenarioFile`], [`Script`] and [`Case`] to text that
//! [`super::parse`] reads back to the same value.
//!
//! Output is canonical: two-space indents, one directive a line, no trailing spaces. A
//! connection with steps of its own is a block with every setting (so a reader never has to
//! know the defaults) and its steps indented; a connection without is a declaration with only
//! the settings that differ from the default; the shared lane's steps follow at the left
//! margin. The version line is `v1` without top-level steps (so what `check --save` writes for
//! a case without a hold is exactly what it always wrote) and `v2` with them. Literal payloads
//! are written as escaped text when that reads well and round-trips, and as hex otherwise.
//!
//! The text of a [`Case`] (its `Display` and `Debug`) and of a [`Step`] (its `Display`) is
//! written here too, so that the data types know nothing of the language.

use std::fmt::{self, Write as _};
use std::time::Duration;

use super::parse::unescape;
use super::{ScenarioFile, ScriptConnection, VERSION_LINE, VERSION_LINE_V2};
use crate::case::{Case, Payload, ReadPlan, WritePlan};
use crate::escape::escape_bytes;
use crate::script::{Expectation, Step};

/// Bytes per group of a `hex` payload, so long payloads stay readable.
const HEX_GROUP: usize = 16;

/// The scenario text of `case`, without metadata.
pub fn print_case(case: &Case) -> String {
    print(&ScenarioFile::from_case(case))
}

/// The scenario text of `file`: version line, metadata comments, then the script.
///
/// Metadata is one line per item: `# seed: N`, `# target: …`, one `# divergence: …` per line of
/// the divergence and one `# …` per free comment. Line breaks inside an item start a new line of
/// the same kind (a target's become spaces), and trailing spaces are dropped, so the file always
/// parses.
pub fn print(file: &ScenarioFile) -> String {
    let script = &file.script;
    let version = if script.steps.is_empty() {
        VERSION_LINE
    } else {
        VERSION_LINE_V2
    };
    let mut out = format!("{version}\n");
    if let Some(seed) = file.seed {
        let _ = writeln!(out, "# seed: {seed}");
    }
    if let Some(target) = &file.target {
        // A parsed target never holds `\n`; one set in code must not start a new line. A lone
        // `\r` is kept: the parser keeps it too, so the file reads back the same.
        let target = target.replace('\n', " ");
        comment_line(&mut out, &format!("target: {}", target.trim()));
    }
    for line in file.divergence.iter().flat_map(|d| split_lines(d)) {
        comment_line(&mut out, &format!("divergence: {line}"));
    }
    for line in file.comments.iter().flat_map(|c| split_lines(c)) {
        comment_line(&mut out, line);
    }
    if let Some(through) = &file.through {
        let _ = write!(out, "\nthrough {through}\n");
    }
    if file.lockstep {
        out.push_str("\nlockstep\n");
    }
    if script.pause_scale != crate::case::PauseScale::ONE {
        let _ = write!(out, "\npause-scale {}\n", script.pause_scale);
    }
    for conn in &script.connections {
        out.push('\n');
        if conn.steps.is_empty() {
            declaration(&mut out, conn);
        } else {
            block(&mut out, conn);
        }
    }
    if !script.steps.is_empty() {
        out.push('\n');
    }
    for step in &script.steps {
        let _ = writeln!(out, "{step}");
    }
    out
}

fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    // `split` rather than `lines`, so that an empty item still makes a line.
    text.split('\n').map(|l| l.trim_end_matches('\r'))
}

fn comment_line(out: &mut String, text: &str) {
    let text = text.trim_end();
    if text.is_empty() {
        out.push_str("#\n");
    } else {
        let _ = writeln!(out, "# {text}");
    }
}

/// A connection with its own lane: every setting, then its steps.
fn block(out: &mut String, conn: &ScriptConnection) {
    let w = &conn.write;
    let r = &conn.read;
    let buffer = |b: Option<u32>| b.map_or_else(|| "default".to_string(), |n| n.to_string());
    let _ = writeln!(out, "connection {}", conn.name);
    let _ = writeln!(out, "  nodelay {}", if w.nodelay { "on" } else { "off" });
    let _ = writeln!(out, "  send-buffer {}", buffer(w.send_buffer));
    let _ = writeln!(out, "  recv-buffer {}", buffer(w.recv_buffer));
    let _ = writeln!(out, "  write-chunks {}", sizes(&w.chunks));
    let _ = writeln!(out, "  write-pauses {}", pauses(&w.pauses));
    let _ = writeln!(out, "  read-sizes {}", sizes(&r.sizes));
    let _ = writeln!(out, "  read-pauses {}", pauses(&r.pauses));
    for step in &conn.steps {
        let _ = writeln!(out, "  {}", StepText { step, named: false });
    }
}

/// A connection without a lane of its own: its name and the settings that are not the default.
fn declaration(out: &mut String, conn: &ScriptConnection) {
    let (w, r) = (&conn.write, &conn.read);
    let (dw, dr) = (WritePlan::default(), ReadPlan::default());
    let _ = writeln!(out, "connection {}", conn.name);
    if w.nodelay != dw.nodelay {
        let _ = writeln!(out, "  nodelay {}", if w.nodelay { "on" } else { "off" });
    }
    if let Some(n) = w.send_buffer {
        let _ = writeln!(out, "  send-buffer {n}");
    }
    if let Some(n) = w.recv_buffer {
        let _ = writeln!(out, "  recv-buffer {n}");
    }
    if w.chunks != dw.chunks {
        let _ = writeln!(out, "  write-chunks {}", sizes(&w.chunks));
    }
    if w.pauses != dw.pauses {
        let _ = writeln!(out, "  write-pauses {}", pauses(&w.pauses));
    }
    if r.sizes != dr.sizes {
        let _ = writeln!(out, "  read-sizes {}", sizes(&r.sizes));
    }
    if r.pauses != dr.pauses {
        let _ = writeln!(out, "  read-pauses {}", pauses(&r.pauses));
    }
}

/// A step as a line: with its connection's name (top-level) or without (in a block).
struct StepText<'a> {
    step: &'a Step,
    named: bool,
}

impl fmt::Display for StepText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (true, Some(name)) = (self.named, self.step.connection()) {
            write!(f, "{name} ")?;
        }
        match self.step {
            Step::Send {
                payload: p, repeat, ..
            } => {
                write!(f, "send {}", payload(p))?;
                if *repeat != 1 {
                    write!(f, " x {repeat}")?;
                }
                Ok(())
            }
            Step::Expect {
                expectation,
                within,
                ..
            } => {
                f.write_str("expect ")?;
                match expectation {
                    Expectation::Echo => f.write_str("echo")?,
                    Expectation::Last => f.write_str("last")?,
                    Expectation::Bytes(p) => write!(f, "bytes {}", payload(p))?,
                    Expectation::Eof => f.write_str("eof")?,
                }
                if let Some(d) = within {
                    write!(f, " within {}", duration(*d))?;
                }
                Ok(())
            }
            Step::ShutdownWrite { .. } => f.write_str("shutdown write"),
            Step::Close { .. } => f.write_str("close"),
            Step::Reset { .. } => f.write_str("reset"),
            Step::Sleep(d) => write!(f, "sleep {}", duration(*d)),
        }
    }
}

/// The step as a top-level line of scenario text, e.g. `a expect bytes "hi" within 1s`.
impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        StepText {
            step: self,
            named: true,
        }
        .fmt(f)
    }
}

/// A case displays as its scenario text, ready to save as a file.
impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print_case(self))
    }
}

/// The `Debug` of a case is its scenario text too, so that proptest's "minimal failing input"
/// can be pasted into a file under `tests/regressions/` as it is.
impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\n")?;
        f.write_str(&print_case(self))
    }
}

fn sizes(list: &[usize]) -> String {
    let parts: Vec<String> = list.iter().map(usize::to_string).collect();
    parts.join(" ")
}

fn pauses(list: &[Duration]) -> String {
    if list.is_empty() {
        return "none".to_string();
    }
    let parts: Vec<String> = list.iter().map(|&d| duration(d)).collect();
    parts.join(" ")
}

pub(crate) use crate::units::print_duration as duration;

/// The payload syntax: `"text"`, `hex …` or `generated LEN seed SEED`.
pub(crate) fn payload(p: &Payload) -> String {
    match p {
        Payload::Generated { len, seed } => format!("generated {len} seed {seed}"),
        Payload::Literal(bytes) => match as_text(bytes) {
            Some(text) => format!("\"{text}\""),
            None => {
                let groups: Vec<String> = bytes
                    .chunks(HEX_GROUP)
                    .map(|g| g.iter().map(|b| format!("{b:02x}")).collect())
                    .collect();
                format!("hex {}", groups.join(" "))
            }
        },
    }
}

/// The bytes as the inside of a string literal, if that reads at least as well as hex and
/// parses back to the same bytes.
///
/// [`escape_bytes`] shows C1 control characters (U+0080 to U+009F) as `\xNN`, which reads back
/// as one raw byte rather than the character's two, so a payload holding one does not
/// round-trip as text; the check sends it to hex instead.
fn as_text(bytes: &[u8]) -> Option<String> {
    let text = escape_bytes(bytes).replace('"', "\\\"");
    let readable = text.len() <= 2 * bytes.len() || bytes.is_empty();
    (readable && unescape(&text).ok()? == bytes).then_some(text)
}
