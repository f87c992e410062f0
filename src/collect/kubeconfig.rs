//! The node's own kubeconfig (the trusted kubelet's `--kubeconfig`, `/etc/kubernetes/kubelet.conf`,
//! `/var/lib/kubelet/kubeconfig`), read through the host and vetted before the API client may
//! use it: nodescope runs as root, so a kubeconfig someone else wrote could make it run their
//! program (`exec`), send a root-only token to their server (`tokenFile` + `http://`), or read
//! a file of their choosing. The rules (docs/security.md, "Who is trusted"):
//!
//! - the kubeconfig, and every file it names (`certificate-authority`, `client-certificate`,
//!   `client-key`, `tokenFile`), is a regular file that root alone can write, on a path root
//!   alone can write ([`crate::source::vet`]);
//! - the server is `https://` and carries no credentials in its URL;
//! - an `exec` plugin is an absolute path to a root-owned executable no one else can write
//!   (EKS nodes authenticate the kubelet this way: `/usr/bin/aws-iam-authenticator token -i
//!   <cluster>`, awslabs/amazon-eks-ami `templates/al2/runtime/kubelet-kubeconfig`; nodeadm
//!   writes the same to /var/lib/kubelet/kubeconfig, `nodeadm/internal/kubelet/kubeconfig.go`);
//! - `auth-provider` is not used (its plugins run commands and read files of their own choosing).
//!
//! What passes is rewritten in memory so the client never opens a node path itself: the files
//! are read here (under `--root`) and inlined as `token` and `*-data`, the plugin's command
//! becomes the vetted file's path under the root, and only the current context's cluster and
//! user are kept. A kubeconfig the user names (`--kubeconfig`, `KUBECONFIG`) is not vetted:
//! kubectl's semantics, the user's own choice.

use crate::model::CollectError;
use crate::source::vet::{self, Want};
use crate::source::{ErrorKind, Host, redact};
use base64::Engine;
use kube::config::{AuthInfo, Cluster, Kubeconfig, KubeconfigError};
use std::path::Path;

/// Where the node keeps its kubeconfig when the kubelet names none (kubeadm's, then the path
/// EKS, GKE and AKS nodes use).
pub const NODE_KUBECONFIGS: &[&str] = &[
    "/etc/kubernetes/kubelet.conf",
    "/var/lib/kubelet/kubeconfig",
];

/// How long a refusal may quote a value it refused (a server URL, a command).
const QUOTE_MAX: usize = 120;

/// Reads and vets the kubeconfig at `path` (a host path; `label` says whose it is, `the
/// kubelet's kubeconfig`). `Ok(None)` when there is no such file; `Err` is the one line for
/// `errors` that says which rule refused what, never a credential.
pub fn vet(
    host: &dyn Host,
    root: &Path,
    path: &str,
    label: &str,
) -> Result<Option<Kubeconfig>, CollectError> {
    let refuse = |kind: ErrorKind, rule: String| CollectError {
        collector: if kind == ErrorKind::Untrusted {
            "trust"
        } else {
            "cluster"
        }
        .into(),
        kind,
        path: Some(path.to_string()),
        line: None,
        message: format!("{label} {path} not used: {rule}"),
    };
    let real = match vet::vet(host, path, Want::File) {
        Ok(v) => v.path,
        Err(r) if r.kind == ErrorKind::Missing => return Ok(None),
        Err(r) => {
            return Err(refuse(
                r.kind,
                format!("{r}; nodescope uses only a kubeconfig that root alone can write"),
            ));
        }
    };
    let text = host
        .read_string(&real)
        .map_err(|e| refuse(e.kind, e.kind.to_string()))?;
    let kc =
        Kubeconfig::from_yaml(&text).map_err(|e| refuse(ErrorKind::Invalid, parse_error(&e)))?;
    let dir = parent(&real);
    let files = Files { host, dir: &dir };
    rewrite(kc, &files, root)
        .map(Some)
        .map_err(|(kind, rule)| refuse(kind, rule))
}

/// A parse failure without its source excerpt (the YAML parser quotes the lines around the
/// error, and a kubeconfig's lines hold tokens and keys).
fn parse_error(e: &KubeconfigError) -> String {
    match e {
        KubeconfigError::Parse(p) => match p.location() {
            Some(l) => format!("not valid kubeconfig YAML (line {})", l.line()),
            None => "not valid kubeconfig YAML".into(),
        },
        _ => "not a kubeconfig".into(),
    }
}

/// Keeps the current context with its cluster and user, each vetted and made self-contained.
fn rewrite(
    mut kc: Kubeconfig,
    files: &Files<'_>,
    root: &Path,
) -> Result<Kubeconfig, (ErrorKind, String)> {
    let invalid = |s: &str| (ErrorKind::Invalid, s.to_string());
    let current = kc
        .current_context
        .clone()
        .ok_or_else(|| invalid("it names no current-context"))?;
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == current)
        .and_then(|c| c.context.clone())
        .ok_or_else(|| invalid("its current-context is not among its contexts"))?;
    kc.contexts.retain(|c| c.name == current);
    kc.clusters.retain(|c| c.name == ctx.cluster);
    let cluster = kc
        .clusters
        .first_mut()
        .and_then(|c| c.cluster.as_mut())
        .ok_or_else(|| invalid("its context's cluster is not among its clusters"))?;
    vet_cluster(cluster, files)?;
    kc.auth_infos
        .retain(|a| ctx.user.as_deref() == Some(a.name.as_str()));
    if let Some(user) = kc.auth_infos.first_mut().and_then(|a| a.auth_info.as_mut()) {
        vet_user(user, files, root)?;
    }
    Ok(kc)
}

/// The server must be TLS without credentials in its URL; the CA file is inlined.
fn vet_cluster(c: &mut Cluster, files: &Files<'_>) -> Result<(), (ErrorKind, String)> {
    let server = c
        .server
        .as_deref()
        .ok_or((ErrorKind::Invalid, "its cluster has no server".to_string()))?;
    server_rule(server).map_err(|rule| (ErrorKind::Untrusted, rule))?;
    if let Some(p) = c.certificate_authority.take() {
        c.certificate_authority_data = Some(files.inline("certificate-authority", &p)?);
    }
    Ok(())
}

/// Why `server` is refused: not `https://`, or credentials in its URL. The refusal shows the
/// URL with any userinfo replaced ([`redact::url`]).
pub fn server_rule(server: &str) -> Result<(), String> {
    let shown = quote(&redact::url(server));
    if redact::url(server) != server {
        return Err(format!(
            "its server {shown} carries credentials in its URL; nodescope takes credentials only from files root alone can write"
        ));
    }
    let scheme = server
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase());
    if scheme.as_deref() != Some("https") {
        return Err(format!(
            "its server {shown} is not https://; nodescope sends credentials only over TLS"
        ));
    }
    Ok(())
}

/// Inlines the user's files; refuses `auth-provider`, and an `exec` plugin that is not an
/// absolute path to an executable root alone can write.
fn vet_user(u: &mut AuthInfo, files: &Files<'_>, root: &Path) -> Result<(), (ErrorKind, String)> {
    let untrusted = |s: String| (ErrorKind::Untrusted, s);
    if let Some(ap) = &u.auth_provider {
        return Err(untrusted(format!(
            "its user's auth-provider {} is not used (its plugins run commands and read files of their own choosing)",
            quote(&ap.name)
        )));
    }
    if let Some(p) = u.token_file.take() {
        let raw = files.read("tokenFile", &p)?;
        // client-go trims the file's whitespace (transport/token_source.go, cachingTokenSource).
        let token = String::from_utf8_lossy(&raw).trim().to_string();
        u.token = Some(secrecy::SecretString::from(token));
    }
    if let Some(p) = u.client_certificate.take() {
        u.client_certificate_data = Some(files.inline("client-certificate", &p)?);
    }
    if let Some(p) = u.client_key.take() {
        u.client_key_data = Some(secrecy::SecretString::from(files.inline("client-key", &p)?));
    }
    if let Some(exec) = u.exec.as_mut() {
        let cmd = exec.command.clone().ok_or((
            ErrorKind::Invalid,
            "its exec plugin names no command".to_string(),
        ))?;
        if !cmd.starts_with('/') {
            return Err(untrusted(format!(
                "its exec plugin {} is not an absolute path (found through PATH, any directory on it could supply it)",
                quote(&cmd)
            )));
        }
        let v = vet::vet(files.host, &cmd, Want::Executable)
            .map_err(|r| (r.kind, format!("its exec plugin: {r}")))?;
        // Run exactly the file vetted: its link-free path, under the root.
        exec.command = Some(under(root, &v.path));
        // A plugin that waits for a person would hang a run with no one at the keyboard.
        exec.interactive_mode = Some(kube::config::ExecInteractiveMode::Never);
    }
    Ok(())
}

/// Reads the files a kubeconfig names, relative ones from its own directory (as client-go
/// resolves them, tools/clientcmd/loader.go `ResolveLocalPaths`).
struct Files<'a> {
    host: &'a dyn Host,
    dir: &'a str,
}

impl Files<'_> {
    fn read(&self, field: &str, p: &str) -> Result<Vec<u8>, (ErrorKind, String)> {
        let path = if p.starts_with('/') {
            p.to_string()
        } else {
            crate::source::join(self.dir, p)
        };
        let v = vet::vet(self.host, &path, Want::File).map_err(|r| {
            let shown = if r.at == path {
                r.to_string()
            } else {
                format!("{path}: {r}")
            };
            (r.kind, format!("its {field} {shown}"))
        })?;
        self.host
            .read(&v.path)
            .map_err(|e| (e.kind, format!("its {field} {path}: {}", e.kind)))
    }

    /// The file as `*-data` wants it: base64 of its bytes.
    fn inline(&self, field: &str, p: &str) -> Result<String, (ErrorKind, String)> {
        self.read(field, p)
            .map(|raw| base64::engine::general_purpose::STANDARD.encode(raw))
    }
}

/// `path` (a host path) as this process must name it: under `root`.
fn under(root: &Path, path: &str) -> String {
    root.join(path.trim_start_matches('/'))
        .to_string_lossy()
        .into_owned()
}

fn parent(p: &str) -> String {
    match p.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => p[..i].to_string(),
    }
}

/// A value quoted in a refusal, cut short.
fn quote(s: &str) -> String {
    format!("{:?}", super::truncate(s, QUOTE_MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::bundle::BundleHost;
    use secrecy::ExposeSecret;

    const TOKEN: &str = "tok-5e1f9c2a";

    /// A node root as a bundle directory: `files` (path, content) and the recorded metadata of
    /// those that someone other than root owns or may write.
    fn node(files: &[(&str, &str)], meta: serde_json::Value) -> (tempfile::TempDir, BundleHost) {
        let d = tempfile::tempdir().unwrap();
        for (p, content) in files {
            let full = d.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, content).unwrap();
        }
        std::fs::write(
            d.path().join("nodescope-bundle.json"),
            serde_json::json!({"format": "nodescope-bundle/1",
                "captured_at": "2026-11-22T03:00:00Z", "euid": 0, "metadata": meta})
            .to_string(),
        )
        .unwrap();
        let h = BundleHost::open(d.path()).unwrap();
        (d, h)
    }

    fn kubeconfig(server: &str, user: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority: /etc/kubernetes/pki/ca.crt\n\
             - name: other\n  cluster:\n    server: http://elsewhere\n\
             contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n{user}"
        )
    }

    fn owned_by(uid: u32, mode: u32) -> serde_json::Value {
        serde_json::json!({"uid": uid, "gid": uid, "mode": mode, "kind": "file", "size": 1})
    }

    const KC: &str = "/etc/kubernetes/kubelet.conf";

    /// Vets `kc` at [`KC`] beside a CA, a token file, a client pair and an exec plugin.
    fn vetted(kc: &str, meta: serde_json::Value) -> Result<Option<Kubeconfig>, CollectError> {
        let (_d, h) = node(
            &[
                (KC, kc),
                ("/etc/kubernetes/pki/ca.crt", "CA PEM\n"),
                ("/var/lib/kubelet/token", &format!("{TOKEN}\n")),
                ("/var/lib/kubelet/pki/kubelet.crt", "CERT PEM\n"),
                ("/var/lib/kubelet/pki/kubelet.key", "KEY PEM\n"),
                ("/usr/bin/aws-iam-authenticator", "#!/bin/sh\n"),
            ],
            serde_json::json!({"/usr/bin/aws-iam-authenticator": owned_by(0, 0o755)})
                .as_object()
                .unwrap()
                .clone()
                .into_iter()
                .chain(meta.as_object().unwrap().clone())
                .collect::<serde_json::Map<_, _>>()
                .into(),
        );
        vet(&h, Path::new("/host"), KC, "the kubelet's kubeconfig")
    }

    fn refusal(kc: &str, meta: serde_json::Value) -> String {
        let e = vetted(kc, meta).unwrap_err();
        assert_eq!(e.path.as_deref(), Some(KC));
        format!("{}/{}: {}", e.collector, e.kind, e.message)
    }

    const HTTPS: &str = "https://10.0.0.1:6443";

    #[test]
    fn a_root_owned_kubeconfig_is_made_self_contained() {
        let kc = vetted(
            &kubeconfig(
                HTTPS,
                "    tokenFile: /var/lib/kubelet/token\n    client-certificate: pki/../../../var/lib/kubelet/pki/kubelet.crt\n    client-key: /var/lib/kubelet/pki/kubelet.key\n",
            ),
            serde_json::json!({}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(kc.clusters.len(), 1, "only the current context's cluster");
        let c = kc.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(c.certificate_authority, None);
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            c.certificate_authority_data.as_deref(),
            Some(b64("CA PEM\n").as_str())
        );
        let u = kc.auth_infos[0].auth_info.as_ref().unwrap();
        assert_eq!(u.token.as_ref().unwrap().expose_secret(), TOKEN);
        assert_eq!(u.token_file, None);
        assert_eq!(
            u.client_certificate_data.as_deref(),
            Some(b64("CERT PEM\n").as_str())
        );
        assert_eq!(
            u.client_key_data.as_ref().unwrap().expose_secret(),
            b64("KEY PEM\n")
        );
        assert_eq!(
            (u.client_certificate.as_ref(), u.client_key.as_ref()),
            (None, None)
        );
    }

    #[test]
    fn an_eks_exec_plugin_runs_from_its_vetted_path_under_the_root() {
        // awslabs/amazon-eks-ami templates/al2/runtime/kubelet-kubeconfig, filled in.
        let exec = "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: /usr/bin/aws-iam-authenticator\n      args: [token, -i, my-cluster, --region, us-west-2]\n";
        let kc = vetted(&kubeconfig(HTTPS, exec), serde_json::json!({}))
            .unwrap()
            .unwrap();
        let e = kc.auth_infos[0]
            .auth_info
            .as_ref()
            .unwrap()
            .exec
            .as_ref()
            .unwrap();
        assert_eq!(
            e.command.as_deref(),
            Some("/host/usr/bin/aws-iam-authenticator")
        );
        assert_eq!(
            e.interactive_mode,
            Some(kube::config::ExecInteractiveMode::Never)
        );
    }

    #[test]
    fn each_rule_refuses_and_says_which() {
        let user = "    tokenFile: /var/lib/kubelet/token\n";
        // The kubeconfig itself.
        assert_eq!(
            refusal(
                &kubeconfig(HTTPS, user),
                serde_json::json!({KC: owned_by(65534, 0o600)})
            ),
            "trust/not trusted: the kubelet's kubeconfig /etc/kubernetes/kubelet.conf not used: \
             /etc/kubernetes/kubelet.conf is owned by uid 65534, not root; nodescope uses only a kubeconfig that root alone can write"
        );
        // A token file someone else owns.
        assert_eq!(
            refusal(
                &kubeconfig(HTTPS, user),
                serde_json::json!({"/var/lib/kubelet/token": owned_by(1000, 0o600)})
            ),
            "trust/not trusted: the kubelet's kubeconfig /etc/kubernetes/kubelet.conf not used: \
             its tokenFile /var/lib/kubelet/token is owned by uid 1000, not root"
        );
        // A certificate its group may write, and a key in a directory anyone may write.
        assert!(
            refusal(
                &kubeconfig(HTTPS, "    client-certificate: /var/lib/kubelet/pki/kubelet.crt\n    client-key: /var/lib/kubelet/pki/kubelet.key\n"),
                serde_json::json!({"/var/lib/kubelet/pki/kubelet.crt": owned_by(0, 0o664)})
            )
            .ends_with("its client-certificate /var/lib/kubelet/pki/kubelet.crt is writable by its group, gid 0 (mode 0664)")
        );
        assert!(
            refusal(
                &kubeconfig(HTTPS, "    client-certificate: /var/lib/kubelet/pki/kubelet.crt\n    client-key: /var/lib/kubelet/pki/kubelet.key\n"),
                serde_json::json!({"/var/lib/kubelet/pki": {"uid": 0, "gid": 0, "mode": 0o1777, "kind": "dir", "size": 0}})
            )
            .ends_with("its client-certificate /var/lib/kubelet/pki/kubelet.crt: /var/lib/kubelet/pki is writable by others (mode 1777)")
        );
        // The CA too: whoever writes it chooses the server nodescope believes.
        assert!(
            refusal(
                &kubeconfig(HTTPS, user),
                serde_json::json!({"/etc/kubernetes/pki/ca.crt": owned_by(1000, 0o644)})
            )
            .ends_with("its certificate-authority /etc/kubernetes/pki/ca.crt is owned by uid 1000, not root")
        );
        // exec: a relative command, and one others may write.
        let exec = |cmd: &str| {
            format!(
                "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {cmd}\n      args: [eks, get-token]\n"
            )
        };
        assert!(
            refusal(&kubeconfig(HTTPS, &exec("aws")), serde_json::json!({})).ends_with(
                "its exec plugin \"aws\" is not an absolute path (found through PATH, any directory on it could supply it)"
            )
        );
        assert!(
            refusal(
                &kubeconfig(HTTPS, &exec("/usr/bin/aws-iam-authenticator")),
                serde_json::json!({"/usr/bin/aws-iam-authenticator": owned_by(0, 0o757)})
            )
            .ends_with(
                "its exec plugin: /usr/bin/aws-iam-authenticator is writable by others (mode 0757)"
            )
        );
        // auth-provider.
        assert!(
            refusal(
                &kubeconfig(HTTPS, "    auth-provider:\n      name: gcp\n      config:\n        cmd-path: /tmp/x\n"),
                serde_json::json!({})
            )
            .ends_with("its user's auth-provider \"gcp\" is not used (its plugins run commands and read files of their own choosing)")
        );
        // Plain HTTP.
        assert_eq!(
            refusal(
                &kubeconfig("http://127.0.0.1:8080", user),
                serde_json::json!({})
            ),
            "trust/not trusted: the kubelet's kubeconfig /etc/kubernetes/kubelet.conf not used: \
             its server \"http://127.0.0.1:8080\" is not https://; nodescope sends credentials only over TLS"
        );
        // Credentials in the URL, never printed.
        let r = refusal(
            &kubeconfig("https://admin:pw-91c3@10.0.0.1:6443", user),
            serde_json::json!({}),
        );
        assert!(!r.contains("pw-91c3") && !r.contains("admin"), "{r}");
        assert!(
            r.ends_with("its server \"https://<redacted>@10.0.0.1:6443\" carries credentials in its URL; nodescope takes credentials only from files root alone can write"),
            "{r}"
        );
    }

    #[test]
    fn absent_broken_and_contextless_kubeconfigs() {
        let (_d, h) = node(&[("/etc/x", "x")], serde_json::json!({}));
        assert!(vet(&h, Path::new("/"), KC, "k").unwrap().is_none());
        let broken = format!("users:\n- name: u\n  user:\n    token: {TOKEN}\n  [oops\n");
        let r = refusal(&broken, serde_json::json!({}));
        assert!(
            r.starts_with("cluster/invalid: ") && r.contains("not valid kubeconfig YAML"),
            "{r}"
        );
        assert!(!r.contains(TOKEN), "the parser's excerpt is not shown: {r}");
        assert!(
            refusal("apiVersion: v1\nkind: Config\n", serde_json::json!({}))
                .ends_with("it names no current-context")
        );
    }
}
