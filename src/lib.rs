//! nodescope: node-level Kubernetes diagnostics in one static binary.
//!
//! Data flows one way (docs/architecture.md):
//!
//! - [`source`]: the only door to the outside world ([`source::Host`]: live under a root, a
//!   bundle, or a recording wrapper for `capture`);
//! - [`collect`]: read and parse through a host into a [`model::Snapshot`]; never judge;
//! - [`model`]: plain serde data, the single source of truth;
//! - [`analyze`]: rules, pure functions from a snapshot to findings;
//! - [`render`]: text and JSON writers; no collection, no judging;
//! - [`cli`], [`cmd`]: the command line and one function per subcommand;
//! - [`docs`]: the man page and completions, generated from the CLI and the rules.

pub mod analyze;
pub mod cli;
pub mod cmd;
pub mod collect;
pub mod docs;
pub mod model;
pub mod render;
pub mod source;
pub mod tui;

#[cfg(test)]
mod layers_test;

pub use cmd::run;
