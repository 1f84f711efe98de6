//! The README's promises that code can hold it to: the set-up commands and the exit codes. Its
//! Rust example runs as a doctest of the library (see `ReadmeDoctests` in `src/lib.rs`).

#[test]
fn readme_names_the_two_setup_commands_and_every_exit_code() {
    let readme = include_str!("../../README.md");
    assert!(readme.contains("cargo run --release -- serve"));
    assert!(readme.contains("\ncargo test "));
    for code in echo_harness_exit_codes() {
        assert!(
            readme.contains(&format!("| {code} |")),
            "exit code {code} is documented"
        );
    }
}

fn echo_harness_exit_codes() -> Vec<u8> {
    use echo_harness::ExitCode::*;
    [Success, CheckFailed, Usage, Environment, Interrupted]
        .iter()
        .map(|c| c.code())
        .collect()
}
