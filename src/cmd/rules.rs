//! `rules` and `explain ID`, both from the rule registry; `explain distributions` from the
//! distribution profiles.

use crate::analyze::rules::RULES;
use std::io::Write;
use std::process::ExitCode;

pub(super) fn list(out: &mut dyn Write) -> anyhow::Result<ExitCode> {
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
