//! The redactor (nodescope::source::redact) on arbitrary command lines and messages: it never
//! panics, is idempotent, grows a text only by the `<redacted>` markers it puts in, leaves a
//! text without a secret byte for byte as it was, and a secret in a known shape is gone
//! whatever precedes it.
//!
//! Input: a /proc/<pid>/cmdline (NUL-separated arguments), then SEP, then one byte choosing a
//! shape and the bytes of the secret.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::source::redact::{REDACTED, cmdline, message, split_cmdline};

/// Secret-bearing shapes from tests/data/redaction-corpus.txt; `@@` is the secret.
const SHAPES: &[&[&str]] = &[
    &["--password=@@"],
    &["--db-pass", "@@"],
    &["mysql", "-uroot", "-p@@", "app"],
    &["redis-cli", "-a", "@@", "ping"],
    &["env", "PGPASSWORD=@@", "psql"],
    &["curl", "-u", "user:@@", "http://127.0.0.1/"],
    &["curl", "-H", "Authorization: Bearer @@", "http://127.0.0.1/"],
    &["psql", "postgres://user:@@@db:5432/app"],
    &["sshpass", "-p@@", "ssh", "host"],
    &["AWS_SECRET_ACCESS_KEY=@@"],
    &["--token", "@@"],
    &["-Djavax.net.ssl.keyStorePassword=@@"],
    &["helm", "install", "--set", "db.user=u,db.password=@@", "chart"],
    &["docker", "login", "-u", "ci", "-p", "@@", "registry"],
];

/// `out` is `input` with some spans replaced by REDACTED: not longer but for the markers.
fn not_longer(input: &str, out: &str) {
    let markers = out.matches(REDACTED).count() * REDACTED.len();
    assert!(
        out.len() <= input.len() + markers,
        "{input:?} grew to {out:?}"
    );
    if !out.contains(REDACTED) {
        assert_eq!(out, input, "changed without redacting");
    }
}

fuzz_target!(|data: &[u8]| {
    let parts = nodescope_fuzz::split(data, 2);
    let args = split_cmdline(parts[0]);

    let once = cmdline(&args);
    assert_eq!(once.len(), args.len());
    assert_eq!(cmdline(&once), once, "idempotent: {args:?}");
    for (a, b) in args.iter().zip(&once) {
        let markers = b.matches(REDACTED).count() * REDACTED.len();
        assert!(b.len() <= a.len() + markers, "{a:?} grew to {b:?}");
    }
    let text = args.join(" ");
    let m = message(&text);
    assert_eq!(message(&m), m, "idempotent: {text:?}");
    not_longer(&text, &m);

    // A secret in a known shape, after whatever the input holds and an end of options.
    let (Some(&pick), Some(raw)) = (parts[1].first(), parts[1].get(1..)) else {
        return;
    };
    let secret: String = "Zq9"
        .chars()
        .chain(
            raw.iter()
                .map(|b| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[usize::from(*b) % 62])),
        )
        .take(40)
        .collect();
    if secret.len() < 8 || text.contains(&secret) {
        return;
    }
    let shape = SHAPES[usize::from(pick) % SHAPES.len()];
    let mut argv = args.clone();
    argv.push("--".into());
    argv.extend(shape.iter().map(|w| w.replacen("@@", &secret, 1)));
    let red = cmdline(&argv);
    assert!(
        !red.iter().any(|a| a.contains(&secret)),
        "{secret} survived in {red:?}"
    );
    let line = argv.join(" ");
    let red = message(&line);
    assert!(!red.contains(&secret), "{secret} survived in {red:?}");
});
