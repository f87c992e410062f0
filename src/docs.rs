//! Generated documentation: the man page (clap_mangen plus the rule catalog and exit status)
//! and the shell completions. `tests/generated.rs` keeps the committed copies in man/ and
//! completions/ equal to what these functions produce.

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
