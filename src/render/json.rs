//! The `check --format json` wire format, schema `nodescope-check/1`. Scripts rely on it:
//! fields are only ever added; renaming or removing one bumps the schema name.
//!
//! The report itself is [`crate::analyze::report::check::Report`]; this module writes it, the
//! snapshot, and every other JSON output of nodescope ([`write_pretty`]).

use crate::analyze::Finding;
use crate::analyze::report::check;
use crate::model::Snapshot;
use serde::Serialize;
use std::io::Write;

/// The JSON Schema of `snapshot --format json` (docs/schema/nodescope-snapshot.schema.json).
pub fn snapshot_schema() -> String {
    crate::analyze::report::schema_json::<Snapshot>()
}

/// Writes the check report as one pretty-printed JSON object and a newline.
pub fn write_check(
    w: &mut dyn Write,
    snap: &Snapshot,
    findings: &[Finding],
) -> std::io::Result<()> {
    write_pretty(w, &check::build(snap, findings))
}

/// Writes the whole snapshot (`nodescope snapshot --format json`).
pub fn write_snapshot(w: &mut dyn Write, snap: &Snapshot) -> std::io::Result<()> {
    write_pretty(w, snap)
}

/// Writes `v` as pretty JSON and a newline, the way every JSON output of nodescope is written:
/// serde_json escapes C0 controls in strings; the other characters a terminal acts on (C1
/// controls, bidirectional overrides: [`super::escape::is_unsafe`]) become `\uXXXX` escapes
/// too, so that `cat report.json` is as safe as the text report. The value is the same.
pub fn write_pretty<T: Serialize + ?Sized>(w: &mut dyn Write, v: &T) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(v)?;
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if super::escape::is_unsafe(c) {
            // Outside strings JSON holds only ASCII punctuation and whitespace, none of which
            // is unsafe but the newline and tab serde_json itself writes.
            if c == '\n' || c == '\t' {
                out.push(c);
                continue;
            }
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out.push('\n');
    w.write_all(out.as_bytes())
}

#[cfg(test)]
mod write_tests {
    #[test]
    fn json_escapes_what_a_terminal_acts_on_and_keeps_the_value() {
        let v = serde_json::json!({"name": "a\u{1b}[2J\u{202e}b\u{9b}\nc", "n": 1});
        let mut out = Vec::new();
        super::write_pretty(&mut out, &v).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "{\n  \"n\": 1,\n  \"name\": \"a\\u001b[2J\\u202eb\\u009b\\nc\"\n}\n"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}
