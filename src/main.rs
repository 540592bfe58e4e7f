//! The `ticketd` binary: everything lives in the library; see `cli`.

fn main() -> std::process::ExitCode {
    ticketd::cli::main()
}
