//! The CI scripts cannot pass without doing their job: scripts/fuzz.sh fails when it would fuzz
//! nothing, scripts/build-static.sh fails when its empty-root smoke test cannot run in CI. Each
//! script runs for real, in a scratch copy of the repository's layout, with the tools it calls
//! replaced by small stand-ins on PATH that play the failure (a `cargo fuzz list` that fails, an
//! `id` that is not root), so nothing is built and nothing in the working tree is touched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use common::Watched;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch repository: the script under test, and a `bin/` of stand-ins put first on PATH.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new(script: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("scripts")).unwrap();
        fs::create_dir_all(dir.path().join("bin")).unwrap();
        fs::create_dir_all(dir.path().join("fuzz")).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts")
            .join(script);
        fs::copy(&src, dir.path().join("scripts").join(script)).unwrap();
        Scratch { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A stand-in for `name`: a shell script with `body`.
    fn tool(&self, name: &str, body: &str) -> &Self {
        let p = self.root().join("bin").join(name);
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        self
    }

    fn run(&self, script: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.root().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("bash");
        cmd.arg(self.root().join("scripts").join(script))
            .args(args)
            .env("PATH", path)
            .env_remove("CI")
            .env_remove("NODESCOPE_LIVE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.watched_output().unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// fuzz.sh's toolchain, with `cargo fuzz list` answering `list` (a shell snippet).
fn fuzz_env(list: &str) -> Scratch {
    let s = Scratch::new("fuzz.sh");
    s.tool("cargo-fuzz", "exit 0")
        .tool("rustup", "echo 'nightly-x86_64-unknown-linux-gnu'")
        .tool("rustc", "echo 'host: x86_64-unknown-linux-gnu'")
        .tool(
            "cargo",
            &format!(
                "case \"$*\" in\n  *'fuzz build'*) exit 0 ;;\n  *'fuzz list'*) {list} ;;\n  *) exit 99 ;;\nesac"
            ),
        );
    s
}

#[test]
fn fuzz_fails_when_cargo_fuzz_list_fails() {
    let s = fuzz_env("echo 'error: could not find fuzz/Cargo.toml' >&2; exit 101");
    let o = s.run("fuzz.sh", &["1"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("'cargo fuzz list' failed: no target was fuzzed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fuzz_fails_when_there_is_no_target() {
    let s = fuzz_env("exit 0");
    let o = s.run("fuzz.sh", &["1"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no fuzz target found"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fuzz_fails_when_a_listed_target_was_not_built() {
    let s = fuzz_env("echo kmsg_record");
    let o = s.run("fuzz.sh", &["1"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("kmsg_record was listed but not built"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fuzz_fails_when_a_target_executes_nothing() {
    // A "fuzzer" that exits 0 having run no input (libFuzzer prints its stats on exit).
    let s = fuzz_env("echo idle");
    let bin = s
        .root()
        .join("fuzz/target/x86_64-unknown-linux-gnu/release");
    fs::create_dir_all(&bin).unwrap();
    let idle = bin.join("idle");
    fs::write(
        &idle,
        "#!/bin/sh\necho 'stat::number_of_executed_units: 0'\necho 'stat::average_exec_per_sec: 0'\n",
    )
    .unwrap();
    fs::set_permissions(&idle, fs::Permissions::from_mode(0o755)).unwrap();
    let o = s.run("fuzz.sh", &["1"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("idle executed no input"),
        "{}",
        stderr(&o)
    );
}

/// build-static.sh with `cargo build` replaced by a copy of this test's `nodescope` (so
/// nothing is compiled), `ldd` saying it is static, and `id -u` answering `uid`.
fn static_env(uid: u32) -> Scratch {
    let s = Scratch::new("build-static.sh");
    let dist: PathBuf = s.root().join("target/x86_64-unknown-linux-gnu/dist");
    s.tool(
        "cargo",
        &format!(
            "mkdir -p {d} && cp {bin} {d}/nodescope",
            d = dist.display(),
            bin = env!("CARGO_BIN_EXE_nodescope")
        ),
    )
    .tool("ldd", "echo '        not a dynamic executable'")
    .tool("file", "exit 0")
    .tool("id", &format!("echo {uid}"));
    common::copy_tree(
        &common::fixture(common::V2),
        &s.root().join("fixtures").join(common::V2),
    );
    s
}

#[test]
fn build_static_fails_in_ci_when_the_smoke_test_cannot_run() {
    let s = static_env(1000);
    for env in [[("CI", "true")], [("NODESCOPE_LIVE", "required")]] {
        let o = s.run("build-static.sh", &[], &env);
        assert_eq!(o.status.code(), Some(1), "{env:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("the empty-root smoke test cannot run: not root"),
            "{}",
            stderr(&o)
        );
    }
    // Outside CI the same machine skips it, and says so.
    let o = s.run("build-static.sh", &[], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("skipped the empty-root smoke test: not root (chroot needs root)")
    );
}

#[test]
fn live_build_static_smoke_test_catches_a_binary_that_cannot_run_alone() {
    if !nix::unistd::geteuid().is_root() {
        return common::live::skip_or_fail("chroot needs root");
    }
    // The test binary is dynamically linked; `ldd` is lied to. In the empty root it has no
    // loader and no libc, so the smoke test must fail, and does only if it really ran it.
    let s = static_env(0);
    let o = s.run("build-static.sh", &[], &[("CI", "true")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("build-static: check in an empty root exited"),
        "{}",
        stderr(&o)
    );
}
