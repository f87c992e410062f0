//! The `nodescope` binary: parse, run, map errors to the exit codes of DESIGN.md.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match <nodescope::cli::Cli as clap::Parser>::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // --help and --version are not errors; everything else clap rejects is exit 3.
            return if e.use_stderr() {
                ExitCode::from(nodescope::cmd::EXIT_CANNOT_RUN)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match nodescope::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`nodescope check | head`) is not a failure.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("nodescope: {e:#}");
            ExitCode::from(nodescope::cmd::EXIT_CANNOT_RUN)
        }
    }
}
