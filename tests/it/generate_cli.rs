//! `echo-harness generate`: the man page and completion scripts come from the clap definitions,
//! so they name every command and flag; an unknown kind is a usage error.

use predicates::prelude::*;

use crate::common::bin;

fn generate(kind: &str) -> String {
    let output = bin()
        .args(["generate", kind])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(output).expect("generated text is UTF-8")
}

/// The commands `--help` lists, read from the help text rather than written down here, so a
/// new command is checked without touching this test.
fn commands() -> Vec<String> {
    let output = bin()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8(output).unwrap();
    let listed = help
        .split("Commands:\n")
        .nth(1)
        .expect("--help lists the commands");
    let commands: Vec<String> = listed
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect();
    for expected in ["serve", "check", "replay", "generate"] {
        assert!(commands.iter().any(|c| c == expected), "{help}");
    }
    commands
}

#[test]
fn the_man_page_is_roff_and_has_a_section_per_command() {
    let page = generate("man");
    assert!(page.starts_with(".TH "), "{}", &page[..page.len().min(200)]);
    for command in commands() {
        let heading = format!(".SH \"ECHO-HARNESS {}\"", command.to_uppercase());
        assert!(page.contains(&heading), "{heading} in the man page");
    }
    // Flags are rendered roff-escaped: `\-\-junit`.
    assert!(page.contains("\\-\\-junit"));
}

#[test]
fn completions_name_the_commands_and_their_flags() {
    let bash = generate("complete-bash");
    assert!(bash.contains("check"), "{bash}");
    assert!(bash.contains("--junit"), "{bash}");
    for kind in [
        "complete-zsh",
        "complete-fish",
        "complete-powershell",
        "complete-elvish",
    ] {
        let script = generate(kind);
        assert!(script.contains("junit"), "{kind}: {script}");
    }
}

#[test]
fn an_unknown_kind_is_a_usage_error() {
    bin()
        .args(["generate", "complete-tcsh"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::starts_with("echo-harness: error: "))
        .stderr(predicate::str::contains("complete-bash"));
}
