//! The crate's layers, checked. Data flows one way (docs/architecture.md): the host is read
//! through `source/`, parsed by `collect/` into `model/`, judged by `analyze/`, shown by
//! `render/` and `tui/`, and `cmd/` glues a subcommand together. A module may import only the
//! layers listed below it in [`LAYERS`]; anything else is an import upward (or sideways), which
//! is how circles start and how "rules never do I/O" quietly stops being true.
//!
//! The test reads the crate's own source files (the repository, never the host) and looks at
//! every `crate::<module>` path outside `#[cfg(test)]` code: tests may cross layers to build
//! their inputs (a rule's test collects a fixture bundle), the product may not.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each top-level module of the crate and the modules it may import. Order is bottom-up.
const LAYERS: &[(&str, &[&str])] = &[
    // Plain data and its vocabulary (units, escaping): imports nothing of the crate.
    ("model", &[]),
    // The only door to the host: produces model facts.
    ("source", &["model"]),
    // Reads through a host and parses into the model; never judges.
    ("collect", &["model", "source"]),
    // Pure rules and typed reports over a snapshot: no I/O, so neither source nor collect.
    ("analyze", &["model"]),
    // Text, JSON, Prometheus, NPD, JUnit writers of findings and reports.
    ("render", &["model", "analyze"]),
    // The terminal UI: its sampler thread collects; its views only show.
    ("tui", &["model", "source", "collect", "analyze", "render"]),
    // The command line definition (its value enums come from the layers it configures).
    ("cli", &["model", "analyze", "render"]),
    // Man page and completions, generated from the CLI and the rule registry.
    ("docs", &["model", "analyze", "render", "cli"]),
    // One function per subcommand: glue over everything.
    (
        "cmd",
        &[
            "model", "source", "collect", "analyze", "render", "tui", "cli", "docs",
        ],
    ),
];

/// Files that are test code as a whole (declared under `#[cfg(test)]` by their parent).
const TEST_ONLY_FILES: &[&str] = &["analyze/testkit.rs", "layers_test.rs"];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src/")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `src` with comments, string and char literals blanked (so their braces and `crate::` words
/// do not count), keeping byte offsets.
fn blank_literals(src: &str) -> Vec<u8> {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let end = find(b, i + 2, b"*/").map_or(b.len(), |n| n + 2);
            blank(&mut out, i, end);
            i = end;
        } else if (rest.starts_with(b"r#") || rest.starts_with(b"r\""))
            && (i == 0 || !is_ident(b[i - 1]))
        {
            let hashes = rest[1..].iter().take_while(|&&c| c == b'#').count();
            if rest.get(1 + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let end = find(b, i + 2 + hashes, &close).map_or(b.len(), |n| n + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, (j + 1).min(b.len()));
            i = j + 1;
        } else if b[i] == b'\'' {
            // A char literal ('x', '\n', '\u{1b}'), not a lifetime ('a).
            let end = if rest.get(1) == Some(&b'\\') {
                rest.iter()
                    .skip(2)
                    .position(|&c| c == b'\'')
                    .map(|n| i + n + 3)
            } else {
                let ch = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + ch) == Some(&b'\'')).then_some(i + 2 + ch)
            };
            match end {
                Some(end) => {
                    blank(&mut out, i, end);
                    i = end;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    out
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|n| from + n)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// `code` without the items under `#[cfg(test)]` (a `mod tests { ... }`, a test helper fn).
fn strip_test_items(code: &[u8]) -> Vec<u8> {
    let mut out = code.to_vec();
    let mut from = 0;
    while let Some(at) = find(code, from, b"#[cfg(test)]") {
        let open = code[at..].iter().position(|&c| c == b'{' || c == b';');
        let Some(open) = open.map(|n| at + n) else {
            break;
        };
        let mut end = open + 1;
        if code[open] == b'{' {
            let mut depth = 0usize;
            for (k, &c) in code.iter().enumerate().skip(open) {
                match c {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = k + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
        for c in &mut out[at..end] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
        from = end;
    }
    out
}

/// The top-level crate modules `code` names through `crate::` (including each head of a
/// `crate::{a::X, b}` group), with the line of each.
fn crate_imports(code: &[u8]) -> Vec<(String, usize)> {
    let text = String::from_utf8_lossy(code);
    let head = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("crate::").map(|n| from + n) {
        from = at + "crate::".len();
        if text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue; // `nodescope_crate::`, not ours
        }
        let line = text[..at].matches('\n').count() + 1;
        let after = &text[from..];
        match after.strip_prefix('{') {
            Some(group) => {
                found.extend(
                    top_level_items(group)
                        .map(head)
                        .filter(|h| !h.is_empty())
                        .map(|h| (h, line)),
                );
            }
            None => found.push((head(after), line)),
        }
    }
    found
}

/// The comma-separated items of a `{...}` group (its text after the `{`), nested groups kept
/// inside their item.
fn top_level_items(group: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0usize;
    let mut start = 0;
    let mut items = Vec::new();
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.into_iter()
}

/// Every import of the crate's product code that [`LAYERS`] does not allow, as
/// `file:line: from -> to`.
fn violations() -> Vec<String> {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    let mut bad = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .expect("under src/")
            .to_string_lossy()
            .into_owned();
        if TEST_ONLY_FILES.contains(&rel.as_str()) {
            continue;
        }
        let top = rel
            .split('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".rs");
        let Some((_, allowed)) = LAYERS.iter().find(|(m, _)| *m == top) else {
            continue; // lib.rs, main.rs: the crate root wires everything.
        };
        let text = std::fs::read_to_string(&file).expect("read a source file");
        let code = strip_test_items(&blank_literals(&text));
        for (to, line) in crate_imports(&code) {
            if to != top && modules.contains(to.as_str()) && !allowed.contains(&to.as_str()) {
                bad.push(format!("src/{rel}:{line}: {top} -> {to}"));
            }
        }
    }
    bad
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let bad = violations();
    assert!(
        bad.is_empty(),
        "imports against the layers (src/layers_test.rs LAYERS):\n{}",
        bad.join("\n")
    );
}

#[test]
fn every_top_level_module_has_a_layer() {
    let lib = std::fs::read_to_string(src_dir().join("lib.rs")).expect("read src/lib.rs");
    let declared: BTreeSet<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';'))
        .collect();
    let layered: BTreeSet<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    assert_eq!(declared, layered, "src/lib.rs modules vs LAYERS");
}

#[test]
fn the_scanner_sees_an_upward_import_and_ignores_tests_and_literals() {
    let src = r#"
use crate::model::Snapshot;
use crate::{source::{Host, HostResult}, model::fs};
// crate::cmd in a comment
const S: &str = "crate::tui in a string { unbalanced";
const C: char = '{';
fn f<'a>(x: &'a str) -> &'a str { crate::render::escape::esc(x); x }
#[cfg(test)]
mod tests {
    use crate::collect::snapshot;
}
"#;
    let code = strip_test_items(&blank_literals(src));
    let mut got: Vec<String> = crate_imports(&code).into_iter().map(|(m, _)| m).collect();
    got.sort();
    assert_eq!(got, ["model", "model", "render", "source"]);
}
