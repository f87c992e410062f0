//! Generated documentation: the man page (clap_mangen plus the rule catalog and exit status),
//! the shell completions, the rule reference `docs/rules.md` and the JSON schemas. The rule
//! registry and the CLI definition are the single source; `tests/generated.rs` keeps the
//! committed copies equal to what these functions produce (`UPDATE_GENERATED=1` rewrites them).

use crate::analyze::rules::RULES;
use clap_complete::Shell;

/// `man/nodescope.1`.
pub fn man_page() -> Vec<u8> {
    let cmd = crate::cli::command();
    let man = clap_mangen::Man::new(cmd.clone()).date("2026-11-22");
    let mut out = Vec::new();
    // Render section by section so the RULES and EXIT STATUS sections sit before VERSION.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    let _ = man.render_subcommands_section(&mut out);
    out.extend_from_slice(b".SH \"EXIT STATUS\"\n");
    for (code, text) in [
        (
            "0",
            "No finding at or above \\-\\-fail\\-on (default warning).",
        ),
        (
            "1",
            "The worst finding is a warning (or info, with \\-\\-fail\\-on info).",
        ),
        ("2", "The worst finding is critical."),
        (
            "3",
            "nodescope could not run: bad arguments, or a \\-\\-root or \\-\\-bundle that is not a host.",
        ),
    ] {
        out.extend_from_slice(format!(".TP\n\\fB{code}\\fR\n{text}\n").as_bytes());
    }
    out.extend_from_slice(b".SH RULES\n");
    for r in RULES {
        out.extend_from_slice(
            format!(
                ".TP\n\\fB{}\\fR ({})\n{}\n",
                r.id(),
                r.severity().as_str(),
                r.summary().replace('-', "\\-")
            )
            .as_bytes(),
        );
    }
    let _ = man.render_extra_section(&mut out);
    let _ = man.render_version_section(&mut out);
    out
}

/// One page per subcommand: `man/nodescope-<sub>.1`.
pub fn subcommand_pages() -> Vec<(String, Vec<u8>)> {
    let mut cmd = crate::cli::command();
    cmd.build();
    cmd.get_subcommands()
        .filter(|s| s.get_name() != "help")
        .map(|s| {
            let name = format!("nodescope-{}", s.get_name());
            let page = s
                .clone()
                .name(name.clone())
                .bin_name(format!("nodescope {}", s.get_name()));
            let mut out = Vec::new();
            let _ = clap_mangen::Man::new(page)
                .date("2026-11-22")
                .render(&mut out);
            (format!("man/{name}.1"), out)
        })
        .collect()
}

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut cmd = crate::cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "nodescope", &mut out);
    out
}

/// `docs/rules.md`: every rule of the registry, in its order (sorted by id), with its default
/// severity, its summary and its `nodescope explain` text verbatim.
pub fn rules_markdown() -> Vec<u8> {
    let mut md = String::from(
        "# Rules\n\n\
         <!-- Generated from the rule registry (`RULES` in src/analyze/rules/mod.rs) by \
         src/docs.rs: do not edit. `UPDATE_GENERATED=1 cargo test --test tests generated::` \
         rewrites it; tests/generated.rs fails when it drifts. -->\n\n",
    );
    md.push_str(&format!(
        "nodescope runs {} rules. `nodescope rules` lists them, `nodescope explain <id>` prints \
         the text of one, and `--rule <id>` limits a `check` to some. A rule's severity below is \
         its default: a finding may raise it (the README's rule table says when). How to add a \
         rule: [architecture.md](architecture.md#where-a-change-goes).\n\n",
        RULES.len()
    ));
    md.push_str("| id | severity | summary |\n|---|---|---|\n");
    for r in RULES {
        md.push_str(&format!(
            "| [`{}`](#{}) | {} | {} |\n",
            r.id(),
            anchor(r.id()),
            r.severity().as_str(),
            markdown_cell(r.summary())
        ));
    }
    for r in RULES {
        let fence = if r.explain().contains("```") {
            "~~~~"
        } else {
            "```"
        };
        md.push_str(&format!(
            "\n## {}\n\n{} — {}\n\n{fence}text\n{}\n{fence}\n",
            r.id(),
            r.severity().as_str(),
            markdown_cell(r.summary()),
            r.explain().trim_end()
        ));
    }
    md.into_bytes()
}

/// The anchor GitHub gives a `## <id>` heading: lowercase, dots dropped.
fn anchor(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Plain text made safe in a Markdown table cell or paragraph: no column break, no HTML tag.
fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The committed generated files: (path relative to the repository, content).
pub fn generated_files() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        ("man/nodescope.1".to_string(), man_page()),
        (
            "completions/nodescope.bash".to_string(),
            completions(Shell::Bash),
        ),
        (
            "completions/_nodescope".to_string(),
            completions(Shell::Zsh),
        ),
        (
            "completions/nodescope.fish".to_string(),
            completions(Shell::Fish),
        ),
    ];
    files.extend(subcommand_pages());
    files.push(("docs/rules.md".to_string(), rules_markdown()));
    files.push((
        "docs/schema/nodescope-check.schema.json".into(),
        crate::analyze::report::check::check_schema().into_bytes(),
    ));
    files.push((
        "docs/schema/nodescope-snapshot.schema.json".into(),
        crate::render::json::snapshot_schema().into_bytes(),
    ));
    files.push((
        "docs/schema/nodescope-disk.schema.json".into(),
        crate::analyze::report::disk::disk_schema().into_bytes(),
    ));
    files.push((
        "docs/schema/nodescope-rules.schema.json".into(),
        crate::analyze::report::rules::rules_schema().into_bytes(),
    ));
    files.push((
        "docs/schema/nodescope-fleet.schema.json".into(),
        crate::analyze::report::fleet::fleet_schema().into_bytes(),
    ));
    files.push((
        "docs/schema/nodescope-gpu.schema.json".into(),
        crate::analyze::report::gpu::gpu_schema().into_bytes(),
    ));
    files.push((
        "docs/schema/nodescope-dns.schema.json".into(),
        crate::analyze::report::dns::dns_schema().into_bytes(),
    ));
    files.push((
        "docs/schema/nodescope-dns-probe.schema.json".into(),
        crate::analyze::report::dns::dns_probe_schema().into_bytes(),
    ));
    files
}
