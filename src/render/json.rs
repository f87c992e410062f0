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
///
/// Streamed: the document is escaped as serde_json writes it ([`Escaping`]), never held whole
/// (a 10,000-process report was 3.5 MB, held twice).
pub fn write_pretty<T: Serialize + ?Sized>(w: &mut dyn Write, v: &T) -> std::io::Result<()> {
    let mut esc = Escaping {
        inner: w,
        carry: Vec::new(),
    };
    serde_json::to_writer_pretty(&mut esc, v)?;
    if !esc.carry.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "JSON output ended inside a UTF-8 character",
        ));
    }
    esc.inner.write_all(b"\n")
}

/// Passes serde_json's output on to `inner` with each character [`super::escape::is_unsafe`]
/// written as its `\uXXXX` escape (UTF-16 units, as JSON spells them). Outside strings JSON
/// holds only ASCII punctuation and whitespace, none of which is unsafe but the newline and
/// tab the pretty printer writes, which pass. serde_json writes whole characters; one split
/// across two writes all the same waits in `carry` for its last bytes.
struct Escaping<'w> {
    inner: &'w mut dyn Write,
    carry: Vec<u8>,
}

impl Write for Escaping<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.carry.is_empty() {
            self.escape(buf)?;
        } else {
            let joined = [std::mem::take(&mut self.carry).as_slice(), buf].concat();
            self.escape(&joined)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Escaping<'_> {
    fn escape(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let bad = |e| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            // A character cut at the end: keep its first bytes for the next write.
            Err(e) if e.error_len().is_none() => {
                let (whole, cut) = bytes.split_at(e.valid_up_to());
                self.carry = cut.to_vec();
                std::str::from_utf8(whole).map_err(bad)?
            }
            Err(e) => return Err(bad(e)),
        };
        let mut from = 0;
        for (i, c) in text.char_indices() {
            if super::escape::is_unsafe(c) && c != '\n' && c != '\t' {
                self.inner.write_all(&text.as_bytes()[from..i])?;
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(self.inner, "\\u{u:04x}")?;
                }
                from = i + c.len_utf8();
            }
        }
        self.inner.write_all(&text.as_bytes()[from..])
    }
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

    /// A character split across two writes is escaped (or passed) whole.
    #[test]
    fn a_character_split_across_writes_is_escaped_whole() {
        use std::io::Write;
        let mut out = Vec::new();
        let mut esc = super::Escaping {
            inner: &mut out,
            carry: Vec::new(),
        };
        let text = "x\u{202e}y\u{e9}z".as_bytes();
        for part in [&text[..2], &text[2..3], &text[3..5], &text[5..]] {
            esc.write_all(part).unwrap();
        }
        assert!(esc.carry.is_empty());
        assert_eq!(String::from_utf8(out).unwrap(), "x\\u202ey\u{e9}z");
        let mut sink = Vec::new();
        let mut esc = super::Escaping {
            inner: &mut sink,
            carry: Vec::new(),
        };
        assert!(esc.write_all(b"\xff ").is_err(), "not UTF-8");
    }
}
