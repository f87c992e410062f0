//! `rules --output json` (`nodescope-rules/1`): the rule registry as scripts read it, one entry
//! per rule with its id, default severity and summary. Published as
//! docs/schema/nodescope-rules.schema.json; fields are only ever added.

use crate::analyze::Severity;
use crate::analyze::rules::RULES;
use serde::Serialize;

/// The schema name of `rules --output json`.
pub const RULES_SCHEMA: &str = "nodescope-rules/1";

/// The whole document.
#[derive(Serialize, schemars::JsonSchema)]
pub struct RulesReport {
    /// Always `nodescope-rules/1`.
    pub schema: &'static str,
    /// Every rule, sorted by id.
    pub rules: Vec<RuleRow>,
}

/// One rule.
#[derive(Serialize, schemars::JsonSchema)]
pub struct RuleRow {
    /// The rule id (contract: `nodescope explain ID`, `check --rule ID`).
    pub id: &'static str,
    /// Its default severity (a finding may raise it).
    pub severity: Severity,
    /// One line: when it fires.
    pub summary: &'static str,
}

/// The registry as `rules --output json` prints it.
pub fn build() -> RulesReport {
    RulesReport {
        schema: RULES_SCHEMA,
        rules: RULES
            .iter()
            .map(|r| RuleRow {
                id: r.id(),
                severity: r.severity(),
                summary: r.summary(),
            })
            .collect(),
    }
}

/// The JSON Schema of [`RulesReport`] (docs/schema/nodescope-rules.schema.json).
pub fn rules_schema() -> String {
    super::schema_json::<RulesReport>()
}
