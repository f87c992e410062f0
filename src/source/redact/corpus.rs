//! The redactor against real command lines: `tests/data/redaction-corpus.txt` holds secret-bearing
//! ones (each secret must vanish, the rest of the line stay readable) and ones that must come
//! back byte for byte (kubelet, containerd, etcd, CNI agents, device plugins, servers), each
//! under its public source.

use super::{REDACTED, cmdline, message};

/// One line of the corpus.
pub struct Case {
    pub argv: Vec<String>,
    /// Empty for a line that must stay untouched.
    pub secrets: Vec<String>,
    pub line: usize,
}

/// Parses the corpus (`S <argv> => <secrets>` and `K <argv>`, argv shell-quoted).
pub fn parse(text: &str) -> Vec<Case> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let (kind, rest) = match l.split_once(' ') {
            Some((k @ ("S" | "K"), r)) => (k, r),
            _ => continue,
        };
        let (argv, secrets) = match (kind, rest.rsplit_once(" => ")) {
            ("S", Some((a, s))) => (a, s.split_whitespace().map(String::from).collect()),
            ("S", None) => panic!("corpus line {}: S without => secrets", i + 1),
            _ => (rest, Vec::new()),
        };
        let argv =
            shlex::split(argv).unwrap_or_else(|| panic!("corpus line {}: bad quoting", i + 1));
        out.push(Case {
            argv,
            secrets,
            line: i + 1,
        });
    }
    out
}

const CORPUS: &str = include_str!("../../../tests/data/redaction-corpus.txt");

#[test]
fn the_corpus_is_large_enough() {
    let cases = parse(CORPUS);
    let secret = cases.iter().filter(|c| !c.secrets.is_empty()).count();
    assert!(secret >= 60, "{secret} secret-bearing command lines");
    assert!(
        cases.len() - secret >= 30,
        "{} untouched",
        cases.len() - secret
    );
}

#[test]
fn every_secret_goes_and_flag_names_stay() {
    let mut failures = Vec::new();
    for c in parse(CORPUS).iter().filter(|c| !c.secrets.is_empty()) {
        let got = cmdline(&c.argv);
        let joined = got.join(" ");
        for s in &c.secrets {
            if joined.contains(s.as_str()) {
                failures.push(format!("line {}: {s} survived in {joined}", c.line));
            }
        }
        if !joined.contains(REDACTED) {
            failures.push(format!("line {}: nothing redacted in {joined}", c.line));
        }
        // Flag names stay readable: every `--name` of the input is still there.
        for a in &c.argv {
            if let Some(name) = a.strip_prefix("--").and_then(|n| n.split('=').next())
                && !joined.contains(&format!("--{name}"))
            {
                failures.push(format!("line {}: flag --{name} lost in {joined}", c.line));
            }
        }
        assert_eq!(cmdline(&got), got, "line {}: idempotent", c.line);
        // The same line, as one string (an error message, a setproctitle name), loses them too.
        let text = c.argv.join(" ");
        let m = message(&text);
        for s in &c.secrets {
            if m.contains(s.as_str()) {
                failures.push(format!("line {}: {s} survived as text in {m}", c.line));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn untouched_lines_come_back_byte_for_byte() {
    let mut failures = Vec::new();
    for c in parse(CORPUS).iter().filter(|c| c.secrets.is_empty()) {
        let got = cmdline(&c.argv);
        if got != c.argv {
            failures.push(format!(
                "line {}: {:?}\n   became {:?}",
                c.line, c.argv, got
            ));
        }
        let text = c.argv.join(" ");
        if message(&text) != text {
            failures.push(format!(
                "line {}: as text became {}",
                c.line,
                message(&text)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Command lines assembled from the corpus' own words, dashes, quotes, separators and markers:
/// the redactor is idempotent and grows an argument only by its markers. (The fuzz target
/// checks the same on raw bytes; this runs with every `cargo test`.)
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn words() -> Vec<String> {
        let mut w: Vec<String> = parse(CORPUS).into_iter().flat_map(|c| c.argv).collect();
        w.extend(
            [
                "-",
                "--",
                ";",
                "&&",
                "-p",
                "-a",
                "-u",
                "-H",
                ":",
                "=",
                ",",
                "'",
                "\"",
                "Bearer",
                "Authorization:",
                "token:",
                "key:",
                REDACTED,
                "$X",
                "${Y}",
                "a b",
                "--pass x",
                "-Key:",
                "user:pw",
                "https://u:p@h/x?token=t",
                "k=v,password=p",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        w
    }

    fn arg() -> impl Strategy<Value = String> {
        let w = words();
        prop::collection::vec(
            (
                prop::sample::select(w),
                prop::sample::select(vec!["", " ", "=", ":", "-"]),
            ),
            1..4,
        )
        .prop_map(|parts| parts.into_iter().map(|(a, b)| a + b).collect::<String>())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn idempotent_and_never_longer_than_its_markers(args in prop::collection::vec(arg(), 0..10)) {
            let once = cmdline(&args);
            prop_assert_eq!(once.len(), args.len());
            prop_assert_eq!(&cmdline(&once), &once);
            for (a, b) in args.iter().zip(&once) {
                let markers = b.matches(REDACTED).count() * REDACTED.len();
                prop_assert!(b.len() <= a.len() + markers, "{a:?} grew to {b:?}");
            }
            let text = args.join(" ");
            let m = message(&text);
            prop_assert_eq!(message(&m), m.clone());
        }
    }
}
