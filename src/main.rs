//! The `nodescope` binary: parse, run, map errors to the exit codes of docs/architecture.md.

use std::process::ExitCode;

/// `kubectl nodescope [GLOBAL OPTIONS] node/NAME ...` (kubectl debug's own form) is
/// `debug node/NAME ...`: the first operand, when it names a node, gets `debug` before it.
fn debug_shorthand(
    cmd: &clap::Command,
    mut argv: Vec<std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    // Global options that take a value in the next word (`--kubeconfig FILE`).
    let valued: Vec<String> = cmd
        .get_arguments()
        .filter(|a| a.get_action().takes_values())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    let mut i = 1;
    while let Some(a) = argv.get(i).and_then(|a| a.to_str()) {
        if a.starts_with("node/") {
            argv.insert(i, "debug".into());
            break;
        }
        if !a.starts_with('-') || a == "--" {
            break;
        }
        i += if valued.iter().any(|v| v == a) { 2 } else { 1 };
    }
    argv
}

fn main() -> ExitCode {
    // Installed as `kubectl-nodescope`, kubectl runs it for `kubectl nodescope ...`: say so in help.
    let mut cmd = nodescope::cli::command();
    let argv0 = std::env::args_os().next().unwrap_or_default();
    if std::path::Path::new(&argv0)
        .file_name()
        .is_some_and(|n| n == "kubectl-nodescope")
    {
        cmd = cmd.bin_name("kubectl nodescope");
    }
    let parsed = cmd
        .clone()
        .try_get_matches_from(debug_shorthand(&cmd, std::env::args_os().collect()))
        .and_then(|m| <nodescope::cli::Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
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
            // Reports go through `cmd::pipe::Quiet`, which ends a closed pipe quietly with the
            // report's own status; a broken pipe that still arrives here came from elsewhere
            // and is no more a failure.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            // Messages quote untrusted input (a corrupt archive's header bytes, a kubeconfig's
            // server URL): secrets redacted, control characters escaped, one line.
            let msg = format!("{e:#}");
            nodescope::cmd::pipe::note(&nodescope::source::redact::message(&msg));
            ExitCode::from(nodescope::cmd::EXIT_CANNOT_RUN)
        }
    }
}
