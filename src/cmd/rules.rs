//! `rules` and `explain ID`, both from the rule registry; `explain distributions` from the
//! distribution profiles.

use crate::analyze::rules::RULES;
use crate::cli::RulesFormat;
use std::io::Write;
use std::process::ExitCode;

/// `rules`: a table under a header row, or one JSON object listing every rule
/// (analyze/report/rules.rs).
pub(super) fn list(out: &mut dyn Write, format: RulesFormat) -> anyhow::Result<ExitCode> {
    if format == RulesFormat::Json {
        crate::render::json::write_pretty(out, &crate::analyze::report::rules::build())?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{:<30} {:<9} SUMMARY", "ID", "SEVERITY")?;
    for r in RULES {
        writeln!(
            out,
            "{:<30} {:<9} {}",
            r.id(),
            r.severity().as_str(),
            r.summary()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn explain(out: &mut dyn Write, id: &str) -> anyhow::Result<ExitCode> {
    if matches!(
        id.to_ascii_lowercase().as_str(),
        "distributions" | "distros"
    ) {
        crate::collect::distro::describe(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    // Ids are lower case; one typed from a report in capitals is the same rule.
    let Some(r) = crate::analyze::rule(&id.to_ascii_lowercase()) else {
        let close: Vec<&str> = RULES
            .iter()
            .map(|r| r.id())
            .filter(|r| r.contains(id) || id.contains(r.split('.').next().unwrap_or("")))
            .collect();
        let hint = if close.is_empty() {
            String::new()
        } else {
            format!(" (did you mean: {})", close.join(", "))
        };
        anyhow::bail!("no rule {id:?}{hint}; `nodescope rules` lists them all");
    };
    writeln!(
        out,
        "{} ({}): {}\n",
        r.id(),
        r.severity().as_str(),
        r.summary()
    )?;
    writeln!(out, "{}", r.explain())?;
    Ok(ExitCode::SUCCESS)
}
