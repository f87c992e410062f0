//! `debug NODE`: run `check` on a node through a short-lived pod and relay its report; the
//! exit status is the report's, 130 when interrupted.

use crate::cli::DebugArgs;
use crate::source::debug_pod::{self, Outcome, Plan};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// The exit status after SIGINT, as a shell reports a process it interrupted (128 + 2).
pub const EXIT_INTERRUPTED: u8 = 130;

pub(super) fn run(
    out: &mut dyn Write,
    kubeconfig: Option<&Path>,
    args: &DebugArgs,
) -> anyhow::Result<ExitCode> {
    let node = args.node.strip_prefix("node/").unwrap_or(&args.node);
    if node.is_empty() || node.contains('/') {
        anyhow::bail!(
            "debug takes a node name, NODE or node/NODE, not {:?}",
            args.node
        );
    }
    let Some(creds) = crate::source::fleet::credentials(kubeconfig) else {
        anyhow::bail!(
            "debug needs the API server: no --kubeconfig, KUBECONFIG, in-cluster service account or ~/.kube/config"
        );
    };
    let plan = Plan {
        node: node.to_string(),
        namespace: args.namespace.clone(),
        image: args.image.clone(),
        args: args.args.clone(),
        start_deadline: Duration::from_secs(args.start_timeout.max(1)),
        pod_name: debug_pod::pod_name(node, random()),
    };
    let mut failed: Option<std::io::Error> = None;
    let outcome = debug_pod::run(&creds, &plan, &mut |n| super::pipe::note(n), &mut |l| {
        // The node's output is the node's: escaped before it reaches a terminal.
        if failed.is_none()
            && let Err(e) = writeln!(out, "{}", crate::render::escape::esc(l))
        {
            failed = Some(e);
        }
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    Ok(match outcome {
        Outcome::Exited(code) => {
            ExitCode::from(u8::try_from(code).unwrap_or(super::EXIT_CANNOT_RUN))
        }
        Outcome::Interrupted => ExitCode::from(EXIT_INTERRUPTED),
    })
}

/// A draw for the pod's name: std's per-process random hash keys over the pid and the time.
fn random() -> u64 {
    use std::hash::BuildHasher;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::collections::hash_map::RandomState::new().hash_one((std::process::id(), nanos))
}
