//! `echo-harness generate`: the man page and the shell completion scripts, rendered from the same
//! clap definitions the parser uses (as ripgrep's `rg --generate` and fd do), so that packagers
//! can ship them and they never disagree with the flags.

use clap::CommandFactory as _;
use clap_complete::Shell;
use clap_mangen::Man;

use super::{write_stdout, Cli, Failure};
use crate::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct GenerateArgs {
    /// What to write to stdout.
    #[arg(value_enum, value_name = "KIND")]
    kind: Kind,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Kind {
    /// The man page, as roff: `echo-harness generate man > echo-harness.1`.
    Man,
    /// Bash completions (source them, or put them in bash-completion's folder).
    CompleteBash,
    /// Zsh completions (a `_echo-harness` file in a folder of `$fpath`).
    CompleteZsh,
    /// Fish completions (`~/.config/fish/completions/echo-harness.fish`).
    CompleteFish,
    /// PowerShell completions (dot-source them from your profile).
    CompletePowershell,
    /// Elvish completions.
    CompleteElvish,
}

pub(crate) fn generate(args: GenerateArgs) -> Result<ExitCode, Failure> {
    let mut command = Cli::command();
    let shell = match args.kind {
        Kind::Man => {
            let page = man_page(command).map_err(Failure::environment)?;
            return write_stdout(page.as_bytes()).map(|()| ExitCode::Success);
        }
        Kind::CompleteBash => Shell::Bash,
        Kind::CompleteZsh => Shell::Zsh,
        Kind::CompleteFish => Shell::Fish,
        Kind::CompletePowershell => Shell::PowerShell,
        Kind::CompleteElvish => Shell::Elvish,
    };
    let name = command.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut out);
    write_stdout(&out).map(|()| ExitCode::Success)
}

/// The lines with which roff output from clap_mangen starts each rendered part: they define the
/// `Aq` string (an apostrophe) that its text uses. The page needs them once.
const PREAMBLE: [&str; 2] = [".ie \\n(.g .ds Aq \\(aq", ".el .ds Aq '"];

/// A part of a page, as clap_mangen renders it.
type Part = fn(&Man, &mut dyn std::io::Write) -> std::io::Result<()>;

/// One page for the whole tool, as ripgrep ships it: the top-level sections, then a section per
/// command (`ECHO-HARNESS CHECK`) whose synopsis, description and options are subsections.
/// clap_mangen renders a page per command; this puts the commands' pages in as sections instead,
/// so that `man echo-harness` has every flag, and the page starts with its `.TH` title.
fn man_page(command: clap::Command) -> std::io::Result<String> {
    let mut command = command.disable_help_subcommand(true);
    command.build();
    let top = Man::new(command.clone());
    let mut page = parts(&top, &[Man::render_title], false)?;
    for line in PREAMBLE {
        page.push_str(line);
        page.push('\n');
    }
    page.push_str(&parts(
        &top,
        &[
            Man::render_name_section,
            Man::render_synopsis_section,
            Man::render_description_section,
            Man::render_options_section,
        ],
        false,
    )?);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_bin_name().unwrap_or_else(|| sub.get_name());
        page.push_str(&format!(".SH \"{}\"\n", name.to_uppercase()));
        page.push_str(&parts(
            &Man::new(sub.clone()),
            &[
                Man::render_synopsis_section,
                Man::render_description_section,
                Man::render_options_section,
            ],
            true,
        )?);
    }
    page.push_str(&parts(&top, &[Man::render_version_section], false)?);
    Ok(page)
}

/// Renders `parts` of `man` without the preamble; `nested` turns their sections (`.SH`) into
/// subsections (`.SS`).
fn parts(man: &Man, parts: &[Part], nested: bool) -> std::io::Result<String> {
    let mut roff = Vec::new();
    for part in parts {
        part(man, &mut roff)?;
    }
    let mut text = String::new();
    for line in String::from_utf8_lossy(&roff).lines() {
        if PREAMBLE.contains(&line) {
            continue;
        }
        match line.strip_prefix(".SH ").filter(|_| nested) {
            Some(heading) => text.push_str(&format!(".SS {heading}")),
            None => text.push_str(line),
        }
        text.push('\n');
    }
    Ok(text)
}
