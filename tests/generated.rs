//! man/ and completions/ are generated from the clap definition and the rule registry, and
//! committed. This test fails when they drift; `UPDATE_GENERATED=1 cargo test --test generated`
//! rewrites them (never in CI, where a stale copy must fail).

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
        "generated files are stale: {stale:?}; run `UPDATE_GENERATED=1 cargo test --test generated` and commit them"
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
