//! `fleet`: ask the API server for every node and its agent's findings, build the report,
//! print it; the exit status follows the worst finding on any node.

use crate::analyze::report::fleet;
use crate::cli::{FleetArgs, FleetFormat};
use crate::source::fleet::{Query, credentials, fetch};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Each agent's `/findings` must answer within this.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

pub(super) fn run(
    out: &mut dyn Write,
    kubeconfig: Option<&Path>,
    args: &FleetArgs,
) -> anyhow::Result<ExitCode> {
    let Some(creds) = credentials(kubeconfig) else {
        anyhow::bail!(
            "fleet needs the API server: no --kubeconfig, KUBECONFIG, in-cluster service account or ~/.kube/config"
        );
    };
    let q = Query {
        selector: args.selector.clone(),
        namespace: args.namespace.clone(),
        concurrency: usize::from(args.concurrency),
        request_deadline: REQUEST_DEADLINE,
        total_deadline: Duration::from_secs(args.timeout.max(1)),
    };
    let nodes = fetch(&creds, &q)?;
    let report = fleet::build(&nodes, jiff::Timestamp::now());
    match args.format {
        FleetFormat::Text => crate::render::fleet::write(out, &report)?,
        FleetFormat::Json => crate::render::json::write_pretty(out, &report)?,
    }
    Ok(ExitCode::from(super::check::exit_for(
        fleet::worst(&report),
        args.fail_on.threshold(),
    )))
}
