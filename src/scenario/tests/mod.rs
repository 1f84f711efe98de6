//! Tests of scenario text — the one language, whichever version line (`v1` or `v2`) opens a
//! file — by area: the round trip of printer and parser ([`round_trip`]), the header
//! ([`header`]), settings ([`settings`]), steps and lanes ([`steps`]), payloads, sizes and
//! durations ([`values`]), every error with its position and rendering ([`errors`]), the promise
//! never to panic ([`no_panic`]), and scripts played against real servers ([`play`]). This file
//! holds the fixtures they share: a sample case and a sample script, each with its golden text.

use std::time::Duration;

use crate::case::{Case, ConnectionCase, Conversation, PauseScale, Payload, ReadPlan, WritePlan};
use crate::scenario::{Expectation, ScenarioFile, Script, ScriptConnection, Step, VERSION_LINE_V2};

mod errors;
mod header;
mod no_panic;
mod play;
mod round_trip;
mod settings;
mod steps;
mod values;

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn text(s: &str) -> Payload {
    Payload::Literal(s.as_bytes().to_vec())
}

/// `body` under the `v2` version line.
pub(super) fn v2(body: &str) -> String {
    format!("{VERSION_LINE_V2}\n{body}")
}

/// A case with every feature a case has: three conversation kinds, all settings, both literal
/// forms, a generated payload and a pause scale.
pub(super) fn sample_case() -> Case {
    Case {
        connections: vec![
            ConnectionCase {
                name: "big".into(),
                write: WritePlan {
                    chunks: vec![1, 65536],
                    pauses: vec![ms(1), Duration::ZERO],
                    nodelay: true,
                    send_buffer: Some(2048),
                    recv_buffer: None,
                },
                read: ReadPlan {
                    sizes: vec![7],
                    pauses: vec![],
                },
                conversation: Conversation::Stream {
                    payload: Payload::generated(4 << 20, 7),
                },
            },
            ConnectionCase {
                name: "chat".into(),
                write: WritePlan::default(),
                read: ReadPlan {
                    sizes: vec![1, 2],
                    pauses: vec![Duration::from_micros(250), Duration::from_nanos(5)],
                },
                conversation: Conversation::Interactive {
                    messages: vec![
                        text("hello \"you\"\n"),
                        Payload::Literal(vec![0, 0xff, 0x85, 0xc2]),
                    ],
                },
            },
            ConnectionCase::new(
                "quit",
                Conversation::Close {
                    payload: Payload::Literal(Vec::new()),
                },
            ),
        ],
        pause_scale: PauseScale::new(1, 100).unwrap(),
        hold: None,
    }
}

/// The golden text of [`sample_case_file`]: connection blocks only, so its version line is `v1`.
pub(super) const SAMPLE_CASE_TEXT: &str = r#"# echo-harness scenario v1
# seed: 42
# target: 127.0.0.1:7000
# divergence: connection big: first difference at offset 17
# divergence:   expected 41 42
# pins down: a 1-byte chunk after a large one

pause-scale 1/100

connection big
  nodelay on
  send-buffer 2048
  recv-buffer default
  write-chunks 1 65536
  write-pauses 1ms 0ms
  read-sizes 7
  read-pauses none
  send generated 4194304 seed 7
  shutdown write
  expect echo
  expect eof

connection chat
  nodelay off
  send-buffer default
  recv-buffer default
  write-chunks 65536
  write-pauses none
  read-sizes 1 2
  read-pauses 250us 5ns
  send "hello \"you\"\n"
  expect echo
  send hex 00ff85c2
  expect echo
  shutdown write
  expect eof

connection quit
  nodelay off
  send-buffer default
  recv-buffer default
  write-chunks 65536
  write-pauses none
  read-sizes 65536
  read-pauses none
  send ""
  expect echo
  close
"#;

pub(super) fn sample_case_file() -> ScenarioFile {
    ScenarioFile::from_case(&sample_case())
        .with_seed(42)
        .with_target("127.0.0.1:7000")
        .with_divergence("connection big: first difference at offset 17\n  expected 41 42\n")
        .with_comment("pins down: a 1-byte chunk after a large one")
}

/// The golden text of [`sample_script_file`]: top-level steps, so its version line is `v2`.
pub(super) const SAMPLE_SCRIPT_TEXT: &str = r#"# echo-harness scenario v2
# seed: 9
# pins down: two connections interleaved

pause-scale 1/10

connection a
  nodelay on
  write-chunks 1 7
  read-pauses 1ms

connection sleep
  recv-buffer 4096

a send "hi\n" x 3
sleep send hex 00ff
a expect last within 1s
sleep 20ms
sleep expect bytes hex 00
sleep expect echo
a send generated 100 seed 5
a shutdown write
a expect echo
a expect eof within 500ms
sleep close
"#;

/// A script of two connections whose steps are all top-level, one connection named `sleep`.
pub(super) fn sample_script() -> Script {
    let on = |c: &str| c.to_string();
    Script {
        connections: vec![
            ScriptConnection {
                name: "a".into(),
                write: WritePlan {
                    chunks: vec![1, 7],
                    nodelay: true,
                    ..WritePlan::default()
                },
                read: ReadPlan {
                    pauses: vec![ms(1)],
                    ..ReadPlan::default()
                },
                steps: Vec::new(),
            },
            ScriptConnection {
                name: "sleep".into(),
                write: WritePlan {
                    recv_buffer: Some(4096),
                    ..WritePlan::default()
                },
                read: ReadPlan::default(),
                steps: Vec::new(),
            },
        ],
        steps: vec![
            Step::Send {
                connection: on("a"),
                payload: text("hi\n"),
                repeat: 3,
            },
            Step::Send {
                connection: on("sleep"),
                payload: Payload::Literal(vec![0, 0xff]),
                repeat: 1,
            },
            Step::Expect {
                connection: on("a"),
                expectation: Expectation::Last,
                within: Some(ms(1000)),
            },
            Step::Sleep(ms(20)),
            Step::Expect {
                connection: on("sleep"),
                expectation: Expectation::Bytes(Payload::Literal(vec![0])),
                within: None,
            },
            Step::Expect {
                connection: on("sleep"),
                expectation: Expectation::Echo,
                within: None,
            },
            Step::Send {
                connection: on("a"),
                payload: Payload::generated(100, 5),
                repeat: 1,
            },
            Step::ShutdownWrite {
                connection: on("a"),
            },
            Step::Expect {
                connection: on("a"),
                expectation: Expectation::Echo,
                within: None,
            },
            Step::Expect {
                connection: on("a"),
                expectation: Expectation::Eof,
                within: Some(ms(500)),
            },
            Step::Close {
                connection: on("sleep"),
            },
        ],
        pause_scale: PauseScale::new(1, 10).unwrap(),
    }
}

pub(super) fn sample_script_file() -> ScenarioFile {
    ScenarioFile::new(sample_script())
        .with_seed(9)
        .with_comment("pins down: two connections interleaved")
}
