//! Rules the test suite keeps about itself, checked on its own source so that a new test cannot
//! quietly break them.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).expect("tests/ is readable").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every process a test starts runs under a watchdog (tests/common/watchdog.rs): a hang
/// fails that test, with the command, instead of stalling CI. `output()` and `status()`
/// have no deadline, so tests call `watched_output()`, `output_within()` and
/// `watched_status()`; a `spawn()` must have its watchdog within the next lines (the helper's
/// `watched_spawn`, or a test's own for a long-lived server or a tmux session).
#[test]
fn every_process_a_test_starts_has_a_watchdog() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    assert!(files.len() > 20, "{files:?}");
    let mut problems = Vec::new();
    for f in &files {
        if f.ends_with("common/watchdog.rs") || f.ends_with("hygiene.rs") {
            continue;
        }
        let text = fs::read_to_string(f).expect("readable");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let at = format!("{}:{}", f.strip_prefix(&root).unwrap_or(f).display(), i + 1);
            if code.contains(".output()") || code.contains(".status()") {
                problems.push(format!("{at}: no deadline: {}", line.trim()));
            }
            if code.contains(".spawn()") {
                let window = lines[i..lines.len().min(i + 15)].join("\n");
                if !window.to_lowercase().contains("watchdog") {
                    problems.push(format!("{at}: a spawn with no watchdog: {}", line.trim()));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} process(es) started without a watchdog:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The integration tests are one binary (`Cargo.toml`: `autotests = false`, one `[[test]]`,
/// tests/tests.rs): a file in tests/ that no `mod` line names would never be compiled, so its
/// tests would silently not run. Every `tests/<name>.rs` must be `mod <name>;` there, and every
/// `mod` line must have its file.
#[test]
fn every_test_file_is_a_module_of_this_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let main = fs::read_to_string(root.join("tests.rs")).expect("tests/tests.rs");
    let declared: std::collections::BTreeSet<String> = main
        .lines()
        .filter_map(|l| l.trim().strip_prefix("mod ")?.strip_suffix(';'))
        .map(str::to_string)
        .collect();
    let mut on_disk = std::collections::BTreeSet::new();
    for e in fs::read_dir(&root).expect("tests/ is readable").flatten() {
        let p = e.path();
        if let Some(stem) = p.file_stem().and_then(|s| s.to_str())
            && p.extension().is_some_and(|x| x == "rs")
            && stem != "tests"
        {
            on_disk.insert(stem.to_string());
        } else if p.join("mod.rs").is_file()
            && let Some(name) = p.file_name().and_then(|s| s.to_str())
        {
            on_disk.insert(name.to_string());
        }
    }
    let missing: Vec<_> = on_disk.difference(&declared).collect();
    let stale: Vec<_> = declared.difference(&on_disk).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "tests/tests.rs must declare exactly the files in tests/: not declared {missing:?} \
         (add `mod <name>;` and replace the file's `mod common;` by `use crate::common;`, \
         docs/testing.md), declared without a file {stale:?}"
    );
}
