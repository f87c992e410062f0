//! Renderers: pure functions of (snapshot, findings) to a writer. No collection, no judging.

pub mod json;
pub mod text;

/// The `check` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A human report, worst first.
    Text,
    /// One JSON object (schema `nodescope-check/1`).
    Json,
}
