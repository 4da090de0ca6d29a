//! The `rex` command-line tool: find rooms, describe them, follow their
//! logs and send them messages, for any REx app. `rex --help` lists the
//! commands; the logic lives in [`rex::cli`].

fn main() -> std::process::ExitCode {
    rex::cli::main()
}
