//! man/, completions/, docs/rules.md and docs/schema/ are generated (src/docs.rs) from the clap
//! definition, the rule registry and the report types, and committed. This test fails when they
//! drift; `UPDATE_GENERATED=1 cargo test --test tests generated::` rewrites them (never in CI,
//! where a stale copy must fail). The README's rule table is prose written by hand; it is
//! checked against the registry here, id for id.

use std::path::Path;

#[test]
fn man_page_and_completions_match_the_cli() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var_os("UPDATE_GENERATED").is_some() && std::env::var_os("CI").is_none();
    let mut stale = Vec::new();
    for (rel, want) in nodescope::docs::generated_files() {
        let path = root.join(&rel);
        let have = std::fs::read(&path).unwrap_or_default();
        if have != want {
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &want).unwrap();
            }
            stale.push(rel);
        }
    }
    assert!(
        stale.is_empty() || update,
        "generated files are stale: {stale:?}; run `UPDATE_GENERATED=1 cargo test --test tests generated::` and commit them"
    );
}

#[test]
fn man_page_lists_every_rule_and_exit_status() {
    let man = String::from_utf8(nodescope::docs::man_page()).unwrap();
    assert!(man.contains(".SH \"EXIT STATUS\""));
    for r in nodescope::analyze::rules::RULES {
        assert!(
            man.contains(&format!("\\fB{}\\fR", r.id())),
            "{} missing from the man page",
            r.id()
        );
    }
}

/// The ids in the first column of the README's rule table (`| id | default | fires when |`):
/// every backquoted `area.name` there, a row may hold two (`a` / `b`).
fn readme_rule_ids(readme: &str) -> Vec<String> {
    let mut rows = readme
        .lines()
        .skip_while(|l| !l.starts_with("| id | default | fires when |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'));
    let mut ids = Vec::new();
    for row in rows.by_ref() {
        let first = row.split('|').nth(1).unwrap_or("");
        ids.extend(first.split('`').skip(1).step_by(2).map(str::to_string));
    }
    ids
}

#[test]
fn readme_rule_table_lists_exactly_the_registry() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let table = readme_rule_ids(&readme);
    assert!(
        !table.is_empty(),
        "no `| id | default | fires when |` table in README.md"
    );
    let registry: Vec<&str> = nodescope::analyze::rules::RULES
        .iter()
        .map(|r| r.id())
        .collect();
    let missing: Vec<&&str> = registry
        .iter()
        .filter(|id| !table.iter().any(|t| t == **id))
        .collect();
    let extra: Vec<&String> = table
        .iter()
        .filter(|t| !registry.contains(&t.as_str()))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let twice: Vec<&String> = table.iter().filter(|t| !seen.insert(*t)).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && twice.is_empty(),
        "README.md's rule table and the registry (src/analyze/rules/mod.rs) differ: \
         missing from the README {missing:?}, not rules {extra:?}, listed twice {twice:?}"
    );
}

#[test]
fn readme_rule_table_check_catches_a_missing_and_an_extra_id() {
    let readme = "intro\n\n| id | default | fires when |\n|---|---|---|\n\
                  | `a.one` / `a.two` | warning | x |\n| `b.three` | info | `not.an-id` |\n\nafter\n| `c.four` |\n";
    assert_eq!(readme_rule_ids(readme), ["a.one", "a.two", "b.three"]);
}

#[test]
fn rules_doc_has_every_rule_with_its_explain_text() {
    let md = String::from_utf8(nodescope::docs::rules_markdown()).unwrap();
    for r in nodescope::analyze::rules::RULES {
        assert!(
            md.contains(&format!("\n## {}\n", r.id())),
            "{} has no section",
            r.id()
        );
        assert!(
            md.contains(r.explain().trim_end()),
            "{}'s explain text",
            r.id()
        );
        assert!(
            md.contains(&format!("| [`{}`](#", r.id())),
            "{} not in the table",
            r.id()
        );
    }
}
