//! What `nodescope fleet` learned from the API server: each node's conditions and what its
//! agent pod's `/findings` answered. Plain data; `analyze::report::fleet` judges it.

use serde::{Deserialize, Serialize};

/// One node as the API server and its agent described it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetNode {
    pub name: String,
    /// `status.conditions` as (type, status), e.g. (`Ready`, `True`).
    pub conditions: Vec<(String, String)>,
    /// The agent pod on the node, `namespace/name`, when there is one.
    pub agent: Option<String>,
    pub answer: AgentAnswer,
}

/// What the agent's `/findings`, through the API server's pod proxy, answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AgentAnswer {
    /// No pod labelled `app.kubernetes.io/name=nodescope` runs on the node.
    NoAgent,
    /// No answer within the per-request deadline (or before the whole run's deadline).
    Timeout,
    /// The API server answered 403: the user may not use the pods/proxy subresource.
    Forbidden,
    /// Any other failure, as one line.
    Error(String),
    /// A `nodescope-check/1` report.
    Sample(Sample),
}

/// The parts of a `nodescope-check/1` report the fleet view reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The report's `taken_at`, else the response's Last-Modified.
    pub taken_at: Option<jiff::Timestamp>,
    /// Each finding's rule id and severity (`info`, `warning`, `critical`).
    pub findings: Vec<(String, String)>,
}
