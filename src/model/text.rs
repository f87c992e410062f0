//! What a terminal may receive from the node. Process names, deleted files' names, pod
//! directories and resolv.conf entries are chosen by whoever runs on the node, and a name such
//! as `\x1b]0;pwned\x07` or `\x1b[2J` would retitle the window or clear the screen of the SRE
//! reading the report, and one holding a newline forges a line of it ("OK no findings").
//!
//! Every text renderer (and the TUI, and the messages on stderr) shows node strings through
//! [`esc`]: C0 controls become `\e`, `\n`, `\t`, `\r` or `\xNN`, DEL `\x7f`, and C1 controls,
//! bidirectional overrides and other invisible line or format characters `\u{NNNN}`. A
//! backslash stays as it is: systemd writes `\x2d` into unit names, and doubling it would make
//! every cgroup path unreadable; an escape can therefore be imitated by a name, never executed.
//!
//! [`shell_word`] quotes a node string for a command nodescope suggests (`fix: rm -rf ...`), so
//! that pasting the command removes that path and runs nothing else (docs/security.md).
//!
//! It sits in `model/` because both layers above need it: the rules quote paths in their
//! remedies, the renderers escape everything they print (`render::escape` re-exports it).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as it is: C0 and C1 controls, DEL, the bidirectional
/// marks, embeddings, overrides and isolates (Unicode UAX #9: U+061C, U+200E/F, U+202A-E,
/// U+2066-9), zero-width characters and the Unicode line and paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\0'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}'
        | '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// `s` safe to print on a terminal, one line: unchanged (borrowed) when it holds nothing
/// [`is_unsafe`], else with each such character written as `\e`, `\n`, `\t`, `\r`, `\xNN`
/// (other C0 controls and DEL) or `\u{NNNN}` (the rest). Idempotent on its own output.
pub fn esc(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\x1b' => out.push_str("\\e"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\0'..='\x1f' | '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if is_unsafe(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// `s` as one word of a POSIX shell command line that, pasted, means exactly `s`: as it is
/// when it needs no quoting, in single quotes otherwise (`shlex::try_quote`), and, when it
/// holds a character that [`is_unsafe`] (which a terminal would act on and a paste would
/// mangle), in `$'...'` quotes (bash, zsh, ksh, busybox ash and POSIX.1-2024 sh), where each
/// such character is a backslash escape. The result is printable: [`esc`] leaves it unchanged.
pub fn shell_word(s: &str) -> String {
    if !s.chars().any(is_unsafe)
        && let Ok(q) = shlex::try_quote(s)
    {
        return q.into_owned();
    }
    let mut out = String::from("$'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\x1b' => out.push_str("\\E"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0'..='\x1f' | '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The first `n` characters of `s` (all of it when shorter), cut on a character boundary: a
/// node string quoted in an error line stays short whatever it holds.
pub fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes() {
        assert_eq!(
            esc("a\x1b]0;pwned\x07b\x1b[2J\nOK\tc\r\x7f\x00"),
            "a\\e]0;pwned\\x07b\\e[2J\\nOK\\tc\\r\\x7f\\x00"
        );
        assert_eq!(
            esc("\u{202e}gpj.exe\u{9b}31m"),
            "\\u{202e}gpj.exe\\u{9b}31m"
        );
        assert_eq!(
            esc("\u{2028}\u{feff}\u{200b}"),
            "\\u{2028}\\u{feff}\\u{200b}"
        );
    }

    #[test]
    fn printable_text_is_borrowed_unchanged() {
        for s in [
            "/var/log/pods/kube-system_coredns-5d78c9869d-abcde_1234/coredns",
            "system.slice/var-lib-kubelet.mount\\x2d1",
            "ünïcødé ✓ 日本語",
            "",
        ] {
            assert!(matches!(esc(s), Cow::Borrowed(b) if b == s), "{s}");
        }
    }

    #[test]
    fn escaping_is_idempotent_and_leaves_no_unsafe_character() {
        let nasty: String = (0u32..0x300)
            .chain(0x2000..0x2070)
            .chain([0xfeff])
            .filter_map(char::from_u32)
            .collect();
        let once = esc(&nasty).into_owned();
        assert!(!once.chars().any(is_unsafe), "{once:?}");
        assert_eq!(esc(&once), once);
    }

    #[test]
    fn shell_words_quote_only_when_needed() {
        assert_eq!(
            shell_word("/var/log/pods/ns_pod_uid"),
            "/var/log/pods/ns_pod_uid"
        );
        assert_eq!(shell_word("/tmp/a b; rm -rf /"), "'/tmp/a b; rm -rf /'");
        assert_eq!(shell_word("it's $(id)"), "\"it's \"'$(id)'");
        assert_eq!(
            shell_word("/x/\x1b[2J\n'q'\\"),
            "$'/x/\\E[2J\\n\\'q\\'\\\\'"
        );
        assert_eq!(shell_word("a\u{202e}b"), "$'a\\u202eb'");
        for s in ["/x/\x1b[2J\n", "a\u{202e}b", "it's", "plain"] {
            let q = shell_word(s);
            assert_eq!(esc(&q), q, "printable: {q}");
        }
    }

    /// What bash makes of the quoted word is the original string, byte for byte.
    #[test]
    fn bash_reads_shell_words_back_exactly() {
        for s in [
            "/var/log/pods/ns_a b_1",
            "/x/\x1b]0;pwned\x07/\x1b[2J\nrm -rf /",
            "q'uote\\back$(id)`id`",
            "bidi\u{202e}txt.sh",
            "tab\there",
        ] {
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!("printf %s {}", shell_word(s)))
                .output()
                .expect("bash runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), s, "{}", shell_word(s));
        }
    }
}
