//! The scenario printer: [`Case`] (version 1), [`Script`] (version 2) and [`ScenarioFile`] to
//! text that [`super::parse`] reads back to the same value.
//!
//! Output is canonical: two-space indents, one directive a line, no trailing spaces. Version 1
//! writes every setting of every connection (so a reader never has to know the defaults);
//! version 2, written for people to edit, writes only the settings that differ from the
//! default, then the steps at the left margin. Literal payloads are written as escaped text when
//! that reads well and round-trips, and as hex otherwise.

use std::fmt::Write as _;
use std::time::Duration;

use super::parse::unescape;
use super::{ScenarioBody, ScenarioFile, Script, ScriptConnection, VERSION_LINE, VERSION_LINE_V2};
use crate::case::{Case, ConnectionCase, Conversation, Payload, ReadPlan, WritePlan};
use crate::escape::escape_bytes;

/// Bytes per group of a `hex` payload, so long payloads stay readable.
const HEX_GROUP: usize = 16;

/// The scenario text of `case`, without metadata.
pub fn print_case(case: &Case) -> String {
    let mut out = format!("{VERSION_LINE}\n");
    body(&mut out, case);
    out
}

/// The version 2 scenario text of `script`, without metadata.
pub fn print_script(script: &Script) -> String {
    let mut out = format!("{VERSION_LINE_V2}\n");
    script_body(&mut out, script);
    out
}

/// The scenario text of `file`: version line, metadata comments, then the case or script.
///
/// Metadata is one line per item: `# seed: N`, `# target: …`, one `# divergence: …` per line of
/// the divergence and one `# …` per free comment. Line breaks inside an item start a new line of
/// the same kind (a target's become spaces), and trailing spaces are dropped, so the file always
/// parses.
pub fn print(file: &ScenarioFile) -> String {
    let version = match file.body() {
        ScenarioBody::Case(_) => VERSION_LINE,
        ScenarioBody::Script(_) => VERSION_LINE_V2,
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
    match file.body() {
        ScenarioBody::Case(case) => body(&mut out, case),
        ScenarioBody::Script(script) => script_body(&mut out, script),
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

fn body(out: &mut String, case: &Case) {
    if case.pause_scale != crate::case::PauseScale::ONE {
        let _ = write!(out, "\npause-scale {}\n", case.pause_scale);
    }
    for conn in &case.connections {
        out.push('\n');
        connection(out, conn);
    }
}

fn connection(out: &mut String, conn: &ConnectionCase) {
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
    let send = |out: &mut String, p: &Payload| {
        let _ = writeln!(out, "  send {}", payload(p));
    };
    match &conn.conversation {
        Conversation::Stream { payload } => {
            send(out, payload);
            out.push_str("  shutdown write\n  expect echo\n  expect eof\n");
        }
        Conversation::Interactive { messages } => {
            for m in messages {
                send(out, m);
                out.push_str("  expect echo\n");
            }
            out.push_str("  shutdown write\n  expect eof\n");
        }
        Conversation::Close { payload } => {
            send(out, payload);
            out.push_str("  expect echo\n  close\n");
        }
    }
}

fn script_body(out: &mut String, script: &Script) {
    if script.pause_scale != crate::case::PauseScale::ONE {
        let _ = write!(out, "\npause-scale {}\n", script.pause_scale);
    }
    for conn in &script.connections {
        out.push('\n');
        declaration(out, conn);
    }
    if !script.steps.is_empty() {
        out.push('\n');
    }
    for step in &script.steps {
        let _ = writeln!(out, "{step}");
    }
}

/// A version 2 connection: its name and the settings that are not the default.
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

pub(crate) use crate::diagnostic::print_duration as duration;

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
