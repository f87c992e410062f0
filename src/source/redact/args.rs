//! Secrets in command lines and in free text (error messages). A command line is read as the
//! program reads it: a sequence of words in which a flag can say what the next word is. The
//! knowledge is in tables, so a new shape is a new row:
//!
//! - [`SECRET_WORDS`], [`SECRET_SUFFIXES`], [`QUALIFIERS`], [`FILE_SUFFIXES`], [`KEEP_NAMES`]
//!   decide whether a *name* (a flag, an environment variable, a header, a key) holds a secret:
//!   `--db-pass`, `-Djavax.net.ssl.keyStorePassword`, `PGPASSWORD`, `X-Api-Key` do;
//!   `--authorization-mode`, `--authentication-token-webhook`, `--key-usage`,
//!   `--tls-private-key-file`, `--max-num-batched-tokens` do not.
//! - [`CLIENTS`]: programs whose short flags carry passwords (`mysql -pSECRET`,
//!   `redis-cli -a SECRET`, `curl -u user:SECRET`, `docker login -p SECRET`, ...).
//! - Shapes that need no table: URL userinfo (`postgres://user:SECRET@db`, kept as
//!   `postgres://user:<redacted>@db`) and secret query parameters, `Name: value` headers
//!   (`Authorization: Bearer <redacted>`), `NAME=value` assignments, a word after `Bearer`.
//!
//! A value that cannot be a secret stays: `true`/`false`, a `$VARIABLE` reference, and a path
//! given to a key or certificate flag (`--key=/etc/ssl/private/node.key`). A word holding
//! spaces (the script of `sh -c "..."`, a header) is read word by word as well. Redacting is
//! idempotent, and text without a secret comes back byte for byte.

use super::REDACTED;
use std::borrow::Cow;

/// A name holds a secret when one of its words is one of these ...
pub const SECRET_WORDS: &[&str] = &[
    "pass",
    "passwd",
    "password",
    "passphrase",
    "pwd",
    "pw",
    "secret",
    "token",
    "key",
    "auth",
    "apikey",
    "credential",
    "credentials",
    "creds",
    "cookie",
    "bearer",
    "privkey",
];

/// ... or ends with one of these (`storepass`, `dbpassword`, `clientsecret`, `authtoken`,
/// `accesskey`), unless it is one of [`NOT_SECRET_WORDS`].
pub const SECRET_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "pass",
    "pwd",
    "key",
    "credentials",
    "cookie",
];

/// Words that end like a secret and are none.
const NOT_SECRET_WORDS: &[&str] = &[
    "bypass",
    "compass",
    "overpass",
    "askpass",
    "monkey",
    "hotkey",
    "turkey",
    "donkey",
    "whiskey",
    "hockey",
    "jockey",
    "pubkey",
    "publickey",
];

/// A name whose last word ends with one of these names a file or a place, whose value is a
/// path (`--token-auth-file`, `--keyfile`, `--password-dir`, `tlsPrivateKeyFile`).
pub const FILE_SUFFIXES: &[&str] = &[
    "file",
    "files",
    "path",
    "paths",
    "dir",
    "dirs",
    "directory",
    "location",
];

/// A name whose last word is one of these is *about* a secret, not the secret itself:
/// `--authorization-mode`, `--authentication-token-webhook`, `--token-ttl`, `--key-usage`,
/// `--secret-name`, `--password-stdin`, `AWS_ACCESS_KEY_ID`, `password_encryption`,
/// `--cookie-domain`, `--auth-provider`.
pub const QUALIFIERS: &[&str] = &[
    "mode",
    "modes",
    "webhook",
    "ttl",
    "usage",
    "usages",
    "type",
    "types",
    "length",
    "len",
    "size",
    "algorithm",
    "algorithms",
    "algo",
    "alg",
    "method",
    "methods",
    "encryption",
    "policy",
    "id",
    "ids",
    "name",
    "names",
    "header",
    "prefix",
    "suffix",
    "enabled",
    "enable",
    "disabled",
    "disable",
    "required",
    "cache",
    "timeout",
    "period",
    "interval",
    "rotation",
    "expiration",
    "expiry",
    "expire",
    "expires",
    "lifetime",
    "duration",
    "version",
    "format",
    "provider",
    "providers",
    "plugin",
    "plugins",
    "endpoint",
    "endpoints",
    "url",
    "uri",
    "server",
    "servers",
    "host",
    "hosts",
    "port",
    "issuer",
    "issuers",
    "audience",
    "audiences",
    "scope",
    "scopes",
    "stdin",
    "env",
    "command",
    "cmd",
    "count",
    "max",
    "min",
    "limit",
    "retries",
    "level",
    "domain",
    "domains",
    "refresh",
    "samesite",
    "secure",
    "httponly",
    "user",
    "username",
    "users",
    "group",
    "groups",
    "realm",
    "field",
    "fields",
    "strategy",
];

/// Names (words joined by `-`) that hold no secret although a word says otherwise: etcd's
/// `--initial-cluster-token` is the cluster's bootstrap identifier, kubeadm's
/// `--discovery-token-ca-cert-hash` the public CA's hash, the kubelet's
/// `--image-credential-provider-config` the path of the credential providers' configuration
/// (every EKS node passes it: awslabs/amazon-eks-ami kubelet.service and nodeadm).
pub const KEEP_NAMES: &[&str] = &[
    "initial-cluster-token",
    "discovery-token-ca-cert-hash",
    "public-key",
    "image-credential-provider-config",
];

/// Words of a key or certificate name, whose value may be the path of the key file.
const KEYISH: &[&str] = &[
    "key",
    "cert",
    "certificate",
    "keystore",
    "truststore",
    "privkey",
    "privatekey",
    "tls",
    "ssl",
];

/// Headers whose value is a credential (besides names that [`classify`] finds secret, such as
/// `X-Api-Key`, `PRIVATE-TOKEN`, `X-Vault-Token`).
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Authorization schemes (RFC 9110 §11): the scheme stays, the credentials go.
const SCHEMES: &[&str] = &[
    "bearer",
    "basic",
    "token",
    "digest",
    "negotiate",
    "ntlm",
    "aws4-hmac-sha256",
    "oauth",
    "apikey",
    "sso-key",
];

/// How a client's flag carries its secret.
#[derive(Clone, Copy)]
enum Carry {
    /// The value is the secret, glued to a short flag (`-pSECRET`) or, when `next`, also the
    /// next word (`-p SECRET`).
    Value { next: bool, glued: bool },
    /// The value is `user<sep>password` (`curl -u user:pass`, `smbclient -U user%pass`),
    /// glued or the next word.
    UserPass(char),
    /// openssl's pass phrase argument: `pass:SECRET` goes, `file:`, `env:`, `fd:` and
    /// `stdin` sources stay.
    Source,
}

/// A program whose flags carry secrets in shapes the generic name rules cannot see.
struct Client {
    /// Basenames of the program.
    programs: &'static [&'static str],
    /// The subcommand that must come first (`docker login`), if any.
    sub: Option<&'static str>,
    flags: &'static [(&'static str, Carry)],
    /// The first positional word after `sub` is the secret (`vault login TOKEN`).
    positional: bool,
    /// When a short-flag cluster holds `b`, the last positional word is the password
    /// (`htpasswd -b file user PASSWORD`).
    batch_last: bool,
}

const fn client(
    programs: &'static [&'static str],
    flags: &'static [(&'static str, Carry)],
) -> Client {
    Client {
        programs,
        sub: None,
        flags,
        positional: false,
        batch_last: false,
    }
}

const GLUED: Carry = Carry::Value {
    next: false,
    glued: true,
};
const NEXT: Carry = Carry::Value {
    next: true,
    glued: false,
};
const BOTH: Carry = Carry::Value {
    next: true,
    glued: true,
};

/// Clients and their password flags, from each program's manual: mysql(1) `-p[password]`
/// (glued only: a bare `-p` prompts and the next word is the database), redis-cli(1) `-a`,
/// sshpass(1) `-p`, curl(1) `-u`/`-U`/`--user`/`--proxy-user`, smbclient(1) `-U user%pass`,
/// lftp(1) `-u user,pass`, mongosh `-p`, openssl-passphrase-options(1), ldapsearch(1) `-w`,
/// sqlcmd `-P`, zip(1)/unzip(1) `-P`, 7z `-p`, ipmitool(1) `-P`, mosquitto_pub(1) `-P`,
/// rabbitmqadmin `-p`, cqlsh `-p`, snmpcmd(1) `-c`/`-A`/`-X`, sqlplus `user/pass@db`,
/// `docker login -p` and its kin, `vault login TOKEN`, htpasswd(1) `-b`.
const CLIENTS: &[Client] = &[
    client(
        &[
            "mysql",
            "mysqladmin",
            "mysqldump",
            "mysqlimport",
            "mysqlcheck",
            "mysqlshow",
            "mysqlpump",
            "mysqlslap",
            "mysqlbinlog",
            "mysqlsh",
            "mariadb",
            "mariadb-dump",
            "mariadb-admin",
            "mariadb-import",
            "mariadb-check",
            "mariadb-show",
        ],
        &[("-p", GLUED)],
    ),
    client(&["redis-cli", "valkey-cli", "keydb-cli"], &[("-a", NEXT)]),
    client(&["sshpass"], &[("-p", BOTH)]),
    client(
        &["curl"],
        &[
            ("-u", Carry::UserPass(':')),
            ("--user", Carry::UserPass(':')),
            ("-U", Carry::UserPass(':')),
            ("--proxy-user", Carry::UserPass(':')),
        ],
    ),
    client(
        &["smbclient", "rpcclient", "smbcacls", "smbget", "net"],
        &[
            ("-U", Carry::UserPass('%')),
            ("--user", Carry::UserPass('%')),
        ],
    ),
    client(&["lftp"], &[("-u", Carry::UserPass(','))]),
    client(
        &[
            "mongo",
            "mongosh",
            "mongodump",
            "mongorestore",
            "mongoexport",
            "mongoimport",
            "mongostat",
            "mongotop",
            "mongofiles",
        ],
        &[("-p", NEXT)],
    ),
    client(
        &["openssl"],
        &[
            ("-passin", Carry::Source),
            ("-passout", Carry::Source),
            ("-pass", Carry::Source),
            ("-k", NEXT),
        ],
    ),
    client(
        &[
            "ldapsearch",
            "ldapadd",
            "ldapmodify",
            "ldapdelete",
            "ldapwhoami",
            "ldappasswd",
            "ldapcompare",
            "ldapmodrdn",
            "ldapexop",
        ],
        &[("-w", BOTH)],
    ),
    client(&["sqlcmd", "bcp", "isql", "osql"], &[("-P", BOTH)]),
    client(&["zip", "unzip", "zipcloak"], &[("-P", NEXT)]),
    client(&["7z", "7za", "7zr"], &[("-p", GLUED)]),
    client(&["ipmitool"], &[("-P", NEXT)]),
    client(
        &["mosquitto_pub", "mosquitto_sub", "mosquitto_rr"],
        &[("-P", NEXT)],
    ),
    client(&["rabbitmqadmin", "cqlsh"], &[("-p", NEXT)]),
    client(
        &[
            "snmpwalk",
            "snmpget",
            "snmpset",
            "snmpbulkwalk",
            "snmpgetnext",
            "snmptrap",
            "snmptable",
        ],
        &[("-c", NEXT), ("-A", NEXT), ("-X", NEXT)],
    ),
    Client {
        programs: &[
            "docker", "podman", "nerdctl", "buildah", "skopeo", "helm", "oras", "crane", "az",
            "cf", "regctl", "finch",
        ],
        sub: Some("login"),
        flags: &[("-p", BOTH)],
        positional: false,
        batch_last: false,
    },
    Client {
        programs: &["vault", "bao"],
        sub: Some("login"),
        flags: &[],
        positional: true,
        batch_last: false,
    },
    Client {
        programs: &["htpasswd"],
        sub: None,
        flags: &[],
        positional: false,
        batch_last: true,
    },
];

/// sqlplus takes `user/password@connect` as its first positional word.
const SQLPLUS: &[&str] = &["sqlplus", "sqlldr", "expdp", "impdp", "rman"];

// ---- names ----

/// A name's words, lowercase, with trailing digits dropped: split at `-`, `_`, `.`, `:`, `/`,
/// spaces and camelCase humps (`keyStorePassword` → key, store, password).
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            push_word(&mut out, &mut cur);
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            push_word(&mut out, &mut cur);
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    push_word(&mut out, &mut cur);
    out
}

fn push_word(out: &mut Vec<String>, cur: &mut String) {
    let w = cur.trim_end_matches(|c: char| c.is_ascii_digit());
    if !w.is_empty() {
        out.push(w.to_string());
    }
    cur.clear();
}

fn is_secret_word(w: &str) -> bool {
    SECRET_WORDS.contains(&w)
        || (SECRET_SUFFIXES.iter().any(|s| w.ends_with(s)) && !NOT_SECRET_WORDS.contains(&w))
}

/// What a name says of its value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Name {
    /// Not a secret.
    Plain,
    /// A secret; `keyish` when it names a key or certificate, whose value may be a path.
    Secret { keyish: bool },
}

/// Whether the value of a flag, variable, header or key called `name` is a secret.
pub fn classify(name: &str) -> Name {
    let ws = words(name);
    let Some(last) = ws.last() else {
        return Name::Plain;
    };
    if FILE_SUFFIXES.iter().any(|s| last.ends_with(s))
        || QUALIFIERS.contains(&last.as_str())
        || KEEP_NAMES.contains(&ws.join("-").as_str())
        || !ws.iter().any(|w| is_secret_word(w))
    {
        return Name::Plain;
    }
    Name::Secret {
        keyish: ws
            .iter()
            .any(|w| KEYISH.contains(&w.as_str()) || w.ends_with("key")),
    }
}

// ---- values ----

fn unquote(v: &str) -> &str {
    v.trim_matches(|c| c == '"' || c == '\'')
}

/// A shell variable reference (`$DB_PASSWORD`, `${DB_PASSWORD}`, `$(cat /run/secrets/pw)`),
/// unexpanded in a script: it names the secret, it is not one.
fn is_var_ref(v: &str) -> bool {
    let v = unquote(v);
    if let Some(name) = v.strip_prefix("${") {
        return name.ends_with('}');
    }
    v.starts_with("$(")
        || v.strip_prefix('$').is_some_and(|n| {
            !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

fn is_path(v: &str) -> bool {
    ["/", "./", "../", "~/", "file:"]
        .iter()
        .any(|p| v.starts_with(p))
}

/// Whether a value given to a secret name stays as it is.
pub(super) fn keep_value(v: &str, name: Name) -> bool {
    let core = unquote(v);
    core.is_empty()
        || core == REDACTED
        || ["true", "false", "yes", "no"]
            .iter()
            .any(|b| core.eq_ignore_ascii_case(b))
        || is_var_ref(core)
        || (matches!(name, Name::Secret { keyish: true }) && is_path(core))
}

/// `v` redacted as the value of a secret name: [`REDACTED`], or `v` when it stays.
fn secret_value(v: &str, name: Name) -> String {
    if keep_value(v, name) {
        v.to_string()
    } else {
        REDACTED.to_string()
    }
}

/// `user<sep>password` with the password redacted (`sqlplus`' `user/pass@db` keeps `@db`).
fn user_pass(v: &str, sep: char, stop_at: Option<char>) -> Option<String> {
    let (user, rest) = v.split_once(sep)?;
    if user.is_empty() && sep == '/' {
        return None; // sqlplus `/ as sysdba`, `/nolog`: no password given
    }
    let (pass, tail) = match stop_at.and_then(|c| rest.rfind(c)) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if pass.is_empty() || pass == REDACTED || is_var_ref(pass) {
        return None;
    }
    Some(format!("{user}{sep}{REDACTED}{tail}"))
}

/// A userinfo without a password that is a token itself (`https://ghp_...@github.com`).
fn looks_like_token(u: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "github_pat_",
        "glpat-",
        "xox",
    ];
    PREFIXES.iter().any(|p| u.starts_with(p))
        || (u.len() >= 20
            && u.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && u.chars().any(|c| c.is_ascii_digit())
            && u.chars().any(|c| c.is_ascii_alphabetic()))
}

/// Redacts URL userinfo passwords (`scheme://user:<redacted>@host`) and secret query
/// parameters (`?token=<redacted>`) everywhere in `s`.
fn urls(s: &str) -> Cow<'_, str> {
    if !s.contains("://") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || "\"'`".contains(c))
            .unwrap_or(tail.len());
        let (url, after) = tail.split_at(end);
        out.push_str(&redact_url(url));
        rest = after;
    }
    out.push_str(rest);
    if out == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(out)
    }
}

/// One URL after its `://`, up to the next space or quote.
fn redact_url(url: &str) -> String {
    let auth_end = url.find(['/', '?', '#']).unwrap_or(url.len());
    let (authority, path) = url.split_at(auth_end);
    let mut out = String::with_capacity(url.len());
    match authority.rfind('@') {
        Some(at) => {
            let (info, host) = authority.split_at(at);
            // `user:password@`, and `TOKEN@` or `TOKEN:x-oauth-basic@` (GitHub's token-as-user).
            let (user, pw) = match info.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (info, None),
            };
            out.push_str(if looks_like_token(user) {
                REDACTED
            } else {
                user
            });
            if let Some(pw) = pw {
                out.push(':');
                out.push_str(if pw.is_empty() { pw } else { REDACTED });
            }
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    match path.split_once('?') {
        Some((p, query)) => {
            out.push_str(p);
            out.push('?');
            let (q, frag) = query.split_at(query.find('#').unwrap_or(query.len()));
            let params: Vec<String> = q
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) if classify(k) != Name::Plain => {
                        format!("{k}={}", secret_value(v, classify(k)))
                    }
                    _ => kv.to_string(),
                })
                .collect();
            out.push_str(&params.join("&"));
            out.push_str(frag);
        }
        None => out.push_str(path),
    }
    out
}

fn is_identifier(n: &str) -> bool {
    n.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// `NAME=value` (and lists of them, separated by `,`, `:` or `;`: mount's
/// `-o user=u,password=p`, helm's `--set a=b,db.password=p`, asadmin's
/// `--property user=u:password=p`) with the values of secret names redacted. A segment without
/// a `=` after a secret one is part of that secret (a password may hold those separators).
fn assignments(s: &str) -> Cow<'_, str> {
    if !s.contains('=') || s.starts_with('-') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut in_secret = false;
    let mut changed = false;
    let mut rest = s;
    while !rest.is_empty() {
        let end = rest.find([',', ':', ';']).map_or(rest.len(), |i| i + 1);
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        let (seg, sep) = match piece.char_indices().last() {
            Some((i, c)) if ",:;".contains(c) => piece.split_at(i),
            _ => (piece, ""),
        };
        match seg.split_once('=').filter(|(n, _)| is_identifier(n)) {
            Some((n, v)) => {
                let name = if n == "PWD" || n == "OLDPWD" {
                    Name::Plain
                } else {
                    classify(n)
                };
                in_secret = name != Name::Plain && !keep_value(v, name);
                if in_secret {
                    out.push_str(n);
                    out.push('=');
                    out.push_str(REDACTED);
                    changed = true;
                } else {
                    out.push_str(seg);
                }
                out.push_str(sep);
            }
            None if in_secret => {
                changed = true;
                // The separator before this piece belongs to the secret, too.
                if out.ends_with([',', ':', ';']) {
                    out.pop();
                }
                out.push_str(sep);
            }
            None => {
                out.push_str(seg);
                out.push_str(sep);
            }
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(s)
    }
}

fn is_header_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Whether `Name:` introduces a secret. A lone `key:` is YAML's (a taint's, a selector's).
fn is_secret_header(n: &str) -> bool {
    let lower = n.to_ascii_lowercase();
    SECRET_HEADERS.contains(&lower.as_str()) || (lower != "key" && classify(n) != Name::Plain)
}

/// `Name: value` as one word (curl's `-H 'Authorization: Bearer x'` is one argument): the
/// value of a secret header redacted, its authorization scheme kept.
fn header(s: &str) -> Option<String> {
    let (name, value) = s.split_once(':')?;
    // `scheme://...` is a URL, not a header.
    if !is_header_name(name) || !is_secret_header(name) || value.starts_with("//") {
        return None;
    }
    let v = value.trim_start();
    // Nothing to redact: no value, only markers (this redactor's own output), a bare scheme,
    // a variable reference.
    let done = |x: &str| x.split_whitespace().all(|w| w == REDACTED || is_var_ref(w));
    if done(v) {
        return None;
    }
    let lead = &value[..value.len() - v.len()];
    let kept = match v.split_once(char::is_whitespace) {
        Some((scheme, cred)) if SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) => {
            if done(cred) {
                return None;
            }
            format!("{scheme} {REDACTED}")
        }
        None if SCHEMES.contains(&v.to_ascii_lowercase().as_str()) => return None,
        _ => REDACTED.to_string(),
    };
    Some(format!("{name}:{lead}{kept}"))
}

/// The rules that need no neighbour: URLs, headers (`Authorization: Bearer x`, `X-Api-Key:x`)
/// and, for a word without spaces, assignments.
fn element(w: &str) -> Cow<'_, str> {
    let u = urls(w);
    let has_space = u.chars().any(char::is_whitespace);
    if let Some(h) = header(&u) {
        return Cow::Owned(h);
    }
    if has_space {
        return u;
    }
    match assignments(&u) {
        Cow::Borrowed(_) => u,
        Cow::Owned(a) => Cow::Owned(a),
    }
}

// ---- sequences ----

/// What the previous word says of this one.
#[derive(Clone, Copy)]
enum Pending {
    None,
    /// The value of a secret flag (`--password SECRET`).
    Value(Name),
    /// `user<sep>password`.
    UserPass(char),
    /// openssl's pass phrase source.
    Source,
    /// After `Authorization:` or `token:`: a scheme, or the secret itself.
    Colon,
    /// After `Bearer`: the secret.
    Scheme,
}

fn basename(w: &str) -> &str {
    w.rsplit('/').next().unwrap_or(w)
}

fn is_separator(w: &str) -> bool {
    matches!(w, ";" | "&&" | "||" | "|" | "&" | "--")
}

fn openssl_source(v: &str) -> String {
    if let Some(p) = v.strip_prefix("pass:") {
        return if p == REDACTED || p.is_empty() {
            v.to_string()
        } else {
            format!("pass:{REDACTED}")
        };
    }
    if ["file:", "env:", "fd:", "stdin"]
        .iter()
        .any(|p| v.starts_with(p))
    {
        return v.to_string();
    }
    secret_value(v, Name::Secret { keyish: false })
}

/// The state of one pass over a sequence of words.
struct Seq {
    pending: Pending,
    client: Option<&'static Client>,
    sub_seen: bool,
    positional_done: bool,
    batch: bool,
    last_positional: Option<usize>,
    sqlplus: bool,
}

impl Seq {
    fn new() -> Self {
        Seq {
            pending: Pending::None,
            client: None,
            sub_seen: false,
            positional_done: false,
            batch: false,
            last_positional: None,
            sqlplus: false,
        }
    }

    /// Ends one command of a script (`;`, `&&`, `|`): htpasswd's batch password is its last
    /// positional word.
    fn end_command(&mut self, out: &mut [Option<String>]) {
        if self.batch
            && let Some(i) = self.last_positional
        {
            out[i] = Some(REDACTED.to_string());
        }
        *self = Seq::new();
    }

    /// The redacted form of word `w` (quotes already stripped), or `None` to keep it.
    fn word(&mut self, w: &str, i: usize) -> Option<String> {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::None => {}
            Pending::Value(name) if !w.starts_with('-') => return Some(secret_value(w, name)),
            Pending::UserPass(sep) if !w.starts_with('-') => return user_pass(w, sep, None),
            Pending::Source if !w.starts_with('-') => return Some(openssl_source(w)),
            Pending::Colon if SCHEMES.contains(&w.to_ascii_lowercase().as_str()) => {
                self.pending = Pending::Scheme;
                return None;
            }
            Pending::Colon | Pending::Scheme => {
                return Some(secret_value(w, Name::Secret { keyish: false }));
            }
            Pending::Value(_) | Pending::UserPass(_) | Pending::Source => {}
        }
        let base = basename(w);
        if let Some(c) = CLIENTS.iter().find(|c| c.programs.contains(&base)) {
            *self = Seq::new();
            self.client = Some(c);
            self.sub_seen = c.sub.is_none();
            return None;
        }
        if SQLPLUS.contains(&base) {
            *self = Seq::new();
            self.sqlplus = true;
            return None;
        }
        if let Some(c) = self.client {
            if !self.sub_seen {
                self.sub_seen = c.sub == Some(w);
                if self.sub_seen {
                    return None;
                }
            } else if let Some(r) = self.client_flag(c, w) {
                return r;
            }
        }
        if w.eq_ignore_ascii_case("bearer") {
            self.pending = Pending::Scheme;
            return None;
        }
        if let Some(n) = w.strip_suffix(':')
            && is_header_name(n)
            && is_secret_header(n)
        {
            self.pending = Pending::Colon;
            return None;
        }
        if w.len() > 1 && w.starts_with('-') && !w.starts_with("---") {
            return self.flag(w);
        }
        if self.sqlplus && !self.positional_done {
            self.positional_done = true;
            return user_pass(w, '/', Some('@'));
        }
        self.last_positional = Some(i);
        let e = element(w);
        matches!(e, Cow::Owned(_)).then(|| e.into_owned())
    }

    /// A client's own flag, or `None` when `w` is not one.
    fn client_flag(&mut self, c: &Client, w: &str) -> Option<Option<String>> {
        for &(flag, carry) in c.flags {
            if let Some(value) = w
                .strip_prefix(flag)
                .and_then(|r| r.strip_prefix('='))
                .filter(|_| flag.starts_with("--"))
            {
                let v = match carry {
                    Carry::UserPass(sep) => user_pass(value, sep, None),
                    Carry::Source => Some(openssl_source(value)),
                    Carry::Value { .. } => {
                        Some(secret_value(value, Name::Secret { keyish: false }))
                    }
                };
                return Some(v.filter(|v| v != value).map(|v| format!("{flag}={v}")));
            }
            if w == flag {
                self.pending = match carry {
                    Carry::Value { next: true, .. } => {
                        Pending::Value(Name::Secret { keyish: false })
                    }
                    Carry::Value { next: false, .. } => return None,
                    Carry::UserPass(sep) => Pending::UserPass(sep),
                    Carry::Source => Pending::Source,
                };
                return Some(None);
            }
            let glued = w
                .strip_prefix(flag)
                .filter(|r| !r.is_empty() && flag.len() == 2);
            if let Some(rest) = glued {
                match carry {
                    Carry::Value { glued: true, .. } => {
                        let v = secret_value(rest, Name::Secret { keyish: false });
                        return Some((v != rest).then(|| format!("{flag}{v}")));
                    }
                    Carry::UserPass(sep) => {
                        return Some(user_pass(rest, sep, None).map(|v| format!("{flag}{v}")));
                    }
                    _ => {}
                }
            }
        }
        if c.batch_last
            && w.len() > 1
            && w.starts_with('-')
            && !w.starts_with("--")
            && w[1..].chars().all(|ch| ch.is_ascii_alphabetic())
            && w.contains('b')
        {
            self.batch = true;
            return Some(None);
        }
        if c.positional && !self.positional_done && !w.starts_with('-') && !w.contains('=') {
            self.positional_done = true;
            return Some(Some(secret_value(w, Name::Secret { keyish: false })));
        }
        None
    }

    /// A flag: `--name=value`, `-name=value`, or `--name` whose value is the next word.
    fn flag(&mut self, w: &str) -> Option<String> {
        let body = w.trim_start_matches('-');
        let dashes = &w[..w.len() - body.len()];
        let name_end = body.find('=').unwrap_or(body.len());
        let name = &body[..name_end];
        if name.contains(char::is_whitespace) || name.contains(REDACTED) {
            // No flag name holds a space: this is text (a script, a message) that starts with
            // a dash, read word by word by the caller. Nor does one hold the marker: that is
            // this redactor's own output, which a second pass must leave as it is.
            return None;
        }
        match body.split_once('=') {
            Some((name, value)) => {
                let class = classify(name);
                let v = if class == Name::Plain {
                    element(value)
                } else {
                    Cow::Owned(secret_value(value, class))
                };
                (v != value).then(|| format!("{dashes}{name}={v}"))
            }
            None => {
                let class = classify(body);
                if class != Name::Plain {
                    self.pending = Pending::Value(class);
                }
                None
            }
        }
    }
}

/// One word of a text with what surrounds it: leading and trailing quotes and punctuation,
/// kept around the redacted core.
struct Span {
    end: usize,
    core_start: usize,
    core_end: usize,
    ends_command: bool,
}

fn spans(s: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut start = None;
    let mut push = |a: usize, b: usize| {
        let w = &s[a..b];
        let lead = w.len() - w.trim_start_matches(['"', '\'', '(', '`']).len();
        let core = &w[lead..];
        let trail_trimmed = core.trim_end_matches(['"', '\'', ')', '`', ';', ',']);
        let trail = core.len() - trail_trimmed.len();
        out.push(Span {
            end: b,
            core_start: a + lead,
            core_end: b - trail,
            ends_command: core[trail_trimmed.len()..].contains(';'),
        });
    };
    for (i, c) in s.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(a)) => {
                push(a, i);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(a) = start {
        push(a, s.len());
    }
    out
}

/// Redacts a text read as whitespace-separated words (a shell script, an error message).
pub fn words_in(s: &str) -> Cow<'_, str> {
    let spans = spans(s);
    let mut out: Vec<Option<String>> = vec![None; spans.len()];
    let mut seq = Seq::new();
    for (i, sp) in spans.iter().enumerate() {
        let core = &s[sp.core_start..sp.core_end];
        if is_separator(core) {
            seq.end_command(&mut out);
            continue;
        }
        if let Some(r) = seq.word(core, i) {
            out[i] = Some(r);
        }
        if sp.ends_command {
            seq.end_command(&mut out);
        }
    }
    seq.end_command(&mut out);
    if out.iter().all(Option::is_none) {
        return Cow::Borrowed(s);
    }
    let mut text = String::with_capacity(s.len());
    let mut at = 0;
    for (sp, new) in spans.iter().zip(&out) {
        if let Some(new) = new {
            text.push_str(&s[at..sp.core_start]);
            text.push_str(new);
            text.push_str(&s[sp.core_end..sp.end]);
            at = sp.end;
        }
    }
    text.push_str(&s[at..]);
    Cow::Owned(text)
}

/// Redacts secrets in an argument vector (as `/proc/<pid>/cmdline` holds it): secret flag
/// values in both forms (`--token=x`, `--token x`), client password flags, URL userinfo,
/// `NAME=value` assignments and headers; an argument with spaces is also read word by word.
/// The flag names stay, so `--db-pass=<redacted>` still says what was given. Idempotent.
pub fn cmdline(args: &[String]) -> Vec<String> {
    let mut out: Vec<Option<String>> = vec![None; args.len()];
    let mut seq = Seq::new();
    for (i, a) in args.iter().enumerate() {
        if is_separator(a) {
            seq.end_command(&mut out);
            continue;
        }
        if let Some(r) = seq.word(a, i) {
            out[i] = Some(r);
        }
    }
    seq.end_command(&mut out);
    args.iter()
        .zip(out)
        .map(|(a, r)| {
            let w = r.unwrap_or_else(|| a.clone());
            if w.chars().any(char::is_whitespace) {
                let h = element(&w).into_owned();
                words_in(&h).into_owned()
            } else {
                w
            }
        })
        .collect()
}

/// Redacts a free text: an error message that quotes a URL with a password (a kubeconfig's
/// `server: https://admin:pw@...`), a header, a `token: ...` or a command line.
pub fn message(s: &str) -> Cow<'_, str> {
    match words_in(s) {
        Cow::Borrowed(_) => urls(s),
        Cow::Owned(t) => Cow::Owned(urls(&t).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified_by_their_words() {
        for n in [
            "password",
            "db-pass",
            "pwd",
            "auth",
            "key",
            "api_key",
            "X-Api-Key",
            "keyStorePassword",
            "PGPASSWORD",
            "AWS_SECRET_ACCESS_KEY",
            "client_secret",
            "storepass",
            "oauth2-bearer",
            "creds",
            "token2",
            "MYSQL_ROOT_PASSWORD",
        ] {
            assert_ne!(classify(n), Name::Plain, "{n}");
        }
        for n in [
            "authorization-mode",
            "authentication-token-webhook",
            "feature-gates",
            "kubeconfig",
            "keep-terminated-pod-volumes",
            "key-usage",
            "token-auth-file",
            "tls-private-key-file",
            "service-account-key-file",
            "image-credential-provider-config",
            "image-credential-provider-bin-dir",
            "AWS_ACCESS_KEY_ID",
            "max-num-batched-tokens",
            "tokenizer",
            "bypass-cache",
            "initial-cluster-token",
            "password_encryption",
            "secret-name",
            "password-stdin",
            "public-key",
            "keyfile",
            "cookie-domain",
            "auth-provider",
            "monkey",
        ] {
            assert_eq!(classify(n), Name::Plain, "{n}");
        }
    }

    #[test]
    fn key_paths_and_variables_stay() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let args = v(&[
            "app",
            "--key=/etc/ssl/private/node.key",
            "--password=$DB_PASSWORD",
            "--token",
            "${TOKEN}",
            "--anonymous-auth=false",
            "--password=/not-a-key-so-redacted",
        ]);
        let got = cmdline(&args);
        assert_eq!(got[1..6], args[1..6]);
        assert_eq!(got[6], "--password=<redacted>");
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use super::*;

    /// fuzz/corpus/redact: an argument that starts like a flag but holds a space named a
    /// secret flag on the second pass only (`--pass*ors <redacted>`), and took the next
    /// argument with it.
    #[test]
    fn a_dashed_argument_with_spaces_is_text_not_a_flag() {
        let args: Vec<String> = ["./etcd", "--pass*ors /usr/sbin -dir", "/data/etcd"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let once = cmdline(&args);
        assert_eq!(once[1], "--pass*ors <redacted> -dir");
        assert_eq!(once[2], "/data/etcd");
        assert_eq!(cmdline(&once), once);
    }

    /// fuzz/corpus/redact: `-Key:-c Key: x` was redacted as a header to `-Key:<redacted>`,
    /// which a second pass read as a secret flag taking the next argument.
    #[test]
    fn redacted_output_read_again_takes_nothing_more() {
        let args: Vec<String> = ["curl", "-H", "-Key:-c Key: x", "next", "X-Api-Key: k"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let once = cmdline(&args);
        assert_eq!(once[3], "next");
        assert_eq!(once[4], "X-Api-Key: <redacted>");
        assert_eq!(cmdline(&once), once);
    }
}
