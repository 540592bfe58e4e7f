//! `ticketd completions bash|zsh|fish`: tab completion generated from the
//! same clap definitions that parse the arguments, so it cannot fall behind a
//! new subcommand or option. The Debian package installs all three.

use clap::{CommandFactory, ValueEnum};

use super::{Cli, CmdResult, Exit, Failure};

/// The shells the package ships completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    fn generator(self) -> clap_complete::Shell {
        match self {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
        }
    }
}

/// The completion script for `shell`, as the shell reads it.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    // Into a buffer: clap_complete panics when its writer fails, and stdout
    // may be a closed pipe.
    clap_complete::generate(shell.generator(), &mut cmd, "ticketd", &mut out);
    out
}

/// Prints the completion script for `shell` on stdout.
pub fn print(shell: Shell) -> CmdResult {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(&script(shell))
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        // `ticketd completions bash | head`: the reader had enough.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::new(
            Exit::TempFail,
            format!("cannot write the completion script to stdout: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each script names the binary and the subcommands a person types most,
    /// in the syntax of its own shell.
    #[test]
    fn every_shell_gets_a_script_that_knows_the_subcommands() {
        for (shell, marker, config) in [
            (Shell::Bash, "complete -F _ticketd", "--config"),
            (Shell::Zsh, "#compdef ticketd", "--config"),
            (Shell::Fish, "complete -c ticketd", "-l config"),
        ] {
            let text = String::from_utf8(script(shell)).expect("completion scripts are UTF-8");
            assert!(text.contains(marker), "{shell:?}: no {marker:?} in\n{text}");
            for sub in ["check-config", "tickets", "quarantine", "completions"] {
                assert!(text.contains(sub), "{shell:?}: subcommand {sub} missing");
            }
            assert!(text.contains(config), "{shell:?}: --config missing");
            assert!(
                !text.contains("ticketd-man"),
                "{shell:?}: hidden `man` listed"
            );
        }
    }
}
