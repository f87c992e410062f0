//! Secrets never leave the node: what nodescope prints and what `capture` writes pass through
//! here. Environments are never read at all (see `live.rs`); this module covers the places
//! where secrets hide in files nodescope does read: command lines (`--token=...`), OCI runtime
//! specs (`process.env`), PEM private keys and kubeconfig credentials.

mod args;
#[cfg(test)]
mod corpus;

pub use args::{Name, classify, cmdline, message};

/// The marker that replaces a secret value.
pub const REDACTED: &str = "<redacted>";

/// Redacts the messages of collection errors in place: they quote what a source said, and a
/// kubeconfig's server URL or a parser's excerpt can carry a password.
pub fn errors(errs: &mut [crate::model::CollectError]) {
    for e in errs {
        if let std::borrow::Cow::Owned(m) = message(&e.message) {
            e.message = m;
        }
        if let Some(p) = &e.path
            && let std::borrow::Cow::Owned(m) = message(p)
        {
            e.path = Some(m);
        }
    }
}

/// Splits a /proc/<pid>/cmdline (NUL-separated, usually NUL-terminated) into arguments.
pub fn split_cmdline(raw: &[u8]) -> Vec<String> {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Whether a host path is an OCI runtime spec of a container (containerd task bundle or CRI-O
/// userdata). These hold `process.env`, so only their identity fields may be kept.
pub fn is_oci_spec(path: &str) -> bool {
    path.ends_with("/config.json")
        && (path.contains("/io.containerd.runtime.v2.task/")
            || path.contains("/io.containerd.runtime.v1.linux/")
            || path.contains("/overlay-containers/"))
}

/// Reduces an OCI runtime spec to what nodescope reads: `ociVersion`, `annotations` and
/// `linux.cgroupsPath`. Anything unparsable becomes `{}` (the collector then records it as
/// invalid rather than nodescope storing unknown bytes).
pub fn oci_spec(raw: &[u8]) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_slice(raw).unwrap_or(serde_json::Value::Null);
    let mut out = serde_json::Map::new();
    for key in ["ociVersion", "annotations"] {
        if let Some(x) = v.get(key) {
            out.insert(key.to_string(), x.clone());
        }
    }
    if let Some(cg) = v.get("linux").and_then(|l| l.get("cgroupsPath")) {
        out.insert("linux".into(), serde_json::json!({ "cgroupsPath": cg }));
    }
    serde_json::to_vec_pretty(&serde_json::Value::Object(out)).unwrap_or_default()
}

/// Removes PEM private-key blocks, the values of secret keys in YAML (`token: x`,
/// `client-key-data: x`) and TOML (`password = "x"`, containerd's registry auth), and URL
/// passwords (`server: https://admin:<redacted>@...`) from a text file. Lines without any stay
/// byte for byte, so what nodescope parses from a captured file is what it parsed live.
pub fn text(raw: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(s.len());
    let mut in_key = false;
    let mut changed = false;
    for line in s.split_inclusive('\n') {
        if line.contains("-----BEGIN") && line.contains("PRIVATE KEY-----") {
            in_key = true;
            changed = true;
            out.push_str(REDACTED);
            out.push('\n');
            continue;
        }
        if in_key {
            if line.contains("-----END") {
                in_key = false;
            }
            continue;
        }
        match text_line(line) {
            Some(l) => {
                changed = true;
                out.push_str(&l);
            }
            None => out.push_str(line),
        }
    }
    if changed {
        out.into_bytes()
    } else {
        raw.to_vec()
    }
}

/// One line of a text file, redacted, or `None` when it holds no secret.
fn text_line(line: &str) -> Option<String> {
    let body = line.trim_end_matches(['\n', '\r']);
    let eol = &line[body.len()..];
    let trimmed = body.trim_start().trim_start_matches("- ");
    let lead = &body[..body.len() - trimmed.len()];
    for (sep, joint, quote) in [(':', ": ", ""), ('=', " = ", "\"")] {
        let Some((k, v)) = trimmed.split_once(sep) else {
            continue;
        };
        let key = k.trim().trim_matches('"');
        // A lone `key` in YAML or JSON is a taint's or a toleration's, a label selector's
        // (`key: nvidia.com/gpu`), not a credential.
        let name = match key {
            "client-key-data" => Name::Secret { keyish: true },
            k if k.eq_ignore_ascii_case("key") => Name::Plain,
            k => classify(k),
        };
        if name != Name::Plain
            && !key.contains(char::is_whitespace)
            && !args::keep_value(v.trim().trim_matches('"'), name)
        {
            return Some(format!(
                "{lead}{}{joint}{quote}{REDACTED}{quote}{eol}",
                k.trim_end()
            ));
        }
    }
    match args::message(body) {
        std::borrow::Cow::Owned(m) => Some(format!("{m}{eol}")),
        std::borrow::Cow::Borrowed(_) => None,
    }
}

/// The annotation `kubectl apply` leaves on objects: a copy of the whole applied manifest, so
/// it repeats every literal env value of the spec.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Scrubs a Pod object, as the API server serves it, before `capture` writes it: literal
/// `env[].value`s of every container kind become [`REDACTED`] (names stay; `valueFrom` only
/// names a Secret or ConfigMap), secret flags in `command` and `args` are redacted as command
/// lines are, and `managedFields` and the last-applied annotation (which repeat the spec) are
/// dropped. nodescope's analysis reads none of these, so the bundle loses nothing it uses.
pub fn pod(v: &mut serde_json::Value) {
    use serde_json::Value;
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove(LAST_APPLIED);
        }
    }
    let Some(spec) = v.get_mut("spec") else {
        return;
    };
    for kind in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(list) = spec.get_mut(kind).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in list {
            if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
                for e in env {
                    if let Some(val) = e.get_mut("value") {
                        *val = Value::String(REDACTED.into());
                    }
                }
            }
            for key in ["command", "args"] {
                if let Some(args) = c.get_mut(key).and_then(Value::as_array_mut) {
                    let strs: Vec<String> = args
                        .iter()
                        .map(|a| a.as_str().unwrap_or_default().to_string())
                        .collect();
                    *args = cmdline(&strs).into_iter().map(Value::String).collect();
                }
            }
        }
    }
}

/// A URL with any userinfo (`https://admin:pw@host`) replaced by [`REDACTED`], so a server
/// address can be shown without the credentials someone put in it. Other text is unchanged.
pub fn url(s: &str) -> String {
    let Some((scheme, rest)) = s.split_once("://") else {
        return s.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{REDACTED}@{}", &rest[at + 1..]),
        None => s.to_string(),
    }
}

/// What `capture` may write for a file read at `path`.
pub fn for_bundle(path: &str, raw: &[u8]) -> Vec<u8> {
    if path.starts_with("/proc/") && path.ends_with("/cmdline") {
        let args = cmdline(&split_cmdline(raw));
        let mut out = Vec::new();
        for a in args {
            out.extend_from_slice(a.as_bytes());
            out.push(0);
        }
        return out;
    }
    if is_oci_spec(path) {
        return oci_spec(raw);
    }
    text(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cmdline_secrets_are_redacted_both_forms() {
        let got = cmdline(&v(&[
            "/usr/bin/app",
            "--token=abc",
            "--db-password",
            "hunter2",
            "--config",
            "/etc/x",
            "--token-auth-file=/etc/tokens.csv",
            "-apikey=k",
        ]));
        assert_eq!(
            got,
            v(&[
                "/usr/bin/app",
                "--token=<redacted>",
                "--db-password",
                "<redacted>",
                "--config",
                "/etc/x",
                "--token-auth-file=/etc/tokens.csv",
                "-apikey=<redacted>"
            ])
        );
        assert_eq!(cmdline(&got), got, "idempotent");
    }

    #[test]
    fn url_userinfo_is_redacted_and_nothing_else() {
        assert_eq!(
            url("https://admin:pw@10.0.0.1:6443/k8s?x=@y"),
            "https://<redacted>@10.0.0.1:6443/k8s?x=@y"
        );
        assert_eq!(url("https://u@h"), "https://<redacted>@h");
        assert_eq!(url("https://10.0.0.1:6443"), "https://10.0.0.1:6443");
        assert_eq!(url("https://h/p@q"), "https://h/p@q");
        assert_eq!(url("not a url"), "not a url");
    }

    #[test]
    fn split_cmdline_handles_trailing_nul_and_empty() {
        assert_eq!(split_cmdline(b"a\0b c\0"), v(&["a", "b c"]));
        assert!(split_cmdline(b"").is_empty());
    }

    #[test]
    fn oci_spec_keeps_identity_and_drops_env() {
        let raw = br#"{"ociVersion":"1.1.0","process":{"env":["AWS_SECRET=x"]},
                      "annotations":{"io.kubernetes.cri.container-name":"app"},
                      "linux":{"cgroupsPath":"a:b:c","namespaces":[]}}"#;
        let out = String::from_utf8(oci_spec(raw)).unwrap();
        assert!(out.contains("container-name") && out.contains("a:b:c"));
        assert!(!out.contains("AWS_SECRET") && !out.contains("namespaces"));
    }

    #[test]
    fn pod_loses_env_values_secret_flags_and_the_applied_copy() {
        let mut p = serde_json::json!({
            "metadata": {"name": "api", "uid": "u1",
                "annotations": {LAST_APPLIED: "{\"env\":\"pw-1\"}", "keep": "me"},
                "managedFields": [{"manager": "kubectl"}]},
            "spec": {
                "containers": [{"name": "app", "image": "app:1",
                    "args": ["--db-password=pw-2", "--port", "80"],
                    "env": [{"name": "DB_URL", "value": "postgres://u:pw-3@db"},
                            {"name": "T", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}],
                "initContainers": [{"name": "init", "command": ["sh", "--token", "pw-4"],
                    "env": [{"name": "X", "value": "pw-5"}]}],
                "nodeName": "node-a"
            }
        });
        pod(&mut p);
        let out = p.to_string();
        for s in ["pw-1", "pw-2", "pw-3", "pw-4", "pw-5", "managedFields"] {
            assert!(!out.contains(s), "{s} survived: {out}");
        }
        for s in [
            "\"keep\":\"me\"",
            "secretKeyRef",
            "\"DB_URL\"",
            "--port",
            "node-a",
            "app:1",
        ] {
            assert!(out.contains(s), "{s} lost: {out}");
        }
        let again = p.clone();
        pod(&mut p);
        assert_eq!(p, again, "idempotent");
    }

    #[test]
    fn text_drops_url_passwords_and_toml_auth_and_keeps_the_rest() {
        let raw = "clusters:\n- cluster:\n    server: https://admin:pw-1@10.0.0.1:6443\n  name: k\n\
                   [plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"gcr.io\".auth]\n\
                   \x20 username = \"_json_key\"\n  password = \"pw-2\"\n  auth = \"pw-3\"\n\
                   taints:\n- key: nvidia.com/gpu\n  effect: NoSchedule\n";
        let out = String::from_utf8(text(raw.as_bytes())).unwrap();
        for s in ["pw-1", "pw-2", "pw-3"] {
            assert!(!out.contains(s), "{s} survived: {out}");
        }
        for s in [
            "server: https://admin:<redacted>@10.0.0.1:6443\n",
            "  password = \"<redacted>\"\n",
            "- key: nvidia.com/gpu\n",
            "username = \"_json_key\"",
        ] {
            assert!(out.contains(s), "{s} lost: {out}");
        }
        assert_eq!(text(out.as_bytes()), out.as_bytes(), "idempotent");
    }

    #[test]
    fn collection_errors_lose_their_secrets() {
        let mut errs = vec![crate::model::CollectError {
            collector: "cluster".into(),
            kind: crate::source::ErrorKind::Io,
            path: None,
            line: None,
            message: "API https://admin:pw-4@10.0.0.1:6443/: no answer to any request".into(),
        }];
        errors(&mut errs);
        assert_eq!(
            errs[0].message,
            "API https://admin:<redacted>@10.0.0.1:6443/: no answer to any request"
        );
    }

    #[test]
    fn text_drops_private_keys_and_kubeconfig_credentials() {
        let raw = "users:\n- name: u\n  user:\n    token: abc.def\n    client-key-data: LS0t\n\
                   -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nkeep: me\n";
        let out = String::from_utf8(text(raw.as_bytes())).unwrap();
        assert!(
            !out.contains("abc.def") && !out.contains("LS0t") && !out.contains("MIIE"),
            "{out}"
        );
        assert!(
            out.contains("keep: me") && out.contains("token: <redacted>"),
            "{out}"
        );
    }
}

#[cfg(test)]
mod fixture_tests {
    /// Every file of every fixture bundle is what a node really holds and none carries a
    /// secret: its redaction must give each back byte for byte (a command line's as a capture
    /// redacts it, argument by argument, [`super::for_bundle`]; every other file's as `text`),
    /// or a capture would analyze differently from the live host.
    #[test]
    fn text_leaves_every_fixture_file_unchanged() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut changed = Vec::new();
        let mut seen = 0;
        for e in ignore::WalkBuilder::new(&root)
            .hidden(false)
            .build()
            .flatten()
        {
            if !e.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let Ok(raw) = std::fs::read(e.path()) else {
                continue;
            };
            seen += 1;
            // The host path: what follows the fixture's own directory.
            let rel = e.path().strip_prefix(&root).unwrap_or(e.path());
            let host_path = format!(
                "/{}",
                rel.components()
                    .skip(1)
                    .collect::<std::path::PathBuf>()
                    .display()
            );
            let kept = if host_path.starts_with("/proc/") && host_path.ends_with("/cmdline") {
                super::for_bundle(&host_path, &raw)
            } else {
                super::text(&raw)
            };
            if kept != raw {
                changed.push(e.path().display().to_string());
            }
        }
        assert!(seen > 100, "{seen} fixture files");
        assert!(changed.is_empty(), "changed: {changed:#?}");
    }
}
