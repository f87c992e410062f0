//! Renderers: pure functions of (snapshot, findings) to a writer. No collection, no judging.

pub mod disk;
pub mod dns;
pub mod fleet;
pub mod gpu;
/// Terminal-safe text and shell quoting, shared with the rules' remedies ([`crate::model::text`]).
pub use crate::model::text as escape;
pub mod json;
pub mod junit;
pub mod npd;
pub mod prometheus;
pub mod text;

/// The `check` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A human report, worst first.
    Text,
    /// One JSON object (schema `nodescope-check/1`).
    Json,
    /// node_exporter textfile-collector format.
    Prometheus,
    /// node-problem-detector custom plugin: one line, exit 0 OK / 1 problem.
    Npd,
    /// JUnit XML, one test case per rule.
    Junit,
}
