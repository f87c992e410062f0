//! The 3am screen (issue 22): the verdict comes first, one cause on a hundred pods reads as one
//! block, informational findings wait for `--verbose`, and the JSON still carries every finding
//! with its group.
//!
//! The busy node is generated here from `dns-v2-containerd`: its `shop/web` pod (deployed with
//! `dnsPolicy: Default`, see that fixture's FIXTURE.md) cloned 100 times, every file of the
//! pod (cgroup directories, processes, logs, the runtime's config.json) copied with a new pod
//! uid, container ids, pids, name and namespace, so each clone is what the kubelet and
//! containerd would have written for a pod of the same Deployment.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

/// The `shop/web` pod of dns-v2-containerd: uid, container ids, processes, name.
const UID: &str = "e7f8a9b0-c1d2-4e3f-9a4b-5c6d7e8f9a0b";
const CIDS: [&str; 2] = [
    "7a0b3c6d9e2f5a8b1c4d7e0f3a6b9c2d5e8f1a4b7c0d3e6f9a2b5c8d1e4f7a0b",
    "8b1c4d7e0f3a6b9c2d5e8f1a4b7c0d3e6f9a2b5c8d1e4f7a0b3c6d9e2f5a8b1c",
];
const PIDS: [&str; 2] = ["24654", "24671"];
const POD: &str = "web-6d9f8c7b5-h2j4k";

/// Pods the busy node gets besides the fixture's own.
const CLONES: usize = 100;

/// The name and namespace of clone `i`, as in benches/parsers.rs.
fn clone_name(i: usize) -> (String, String) {
    (format!("bench-ns-{}", i % 7), format!("bench-pod-{i}"))
}

/// Every substitution that turns the web pod into clone `i`.
fn substitutions(i: usize) -> Vec<(String, String)> {
    let (ns, name) = clone_name(i);
    let uid = format!("e7f8a9b0-c1d2-4e3f-9a4b-{:012x}", i + 1);
    let mut s = vec![
        (UID.to_string(), uid.clone()),
        (UID.replace('-', "_"), uid.replace('-', "_")),
        (POD.to_string(), name),
        ("shop_".to_string(), format!("{ns}_")),
        ("\"shop\"".to_string(), format!("\"{ns}\"")),
    ];
    for (k, c) in CIDS.iter().enumerate() {
        s.push((c.to_string(), format!("{:064x}", 0xb000 + i * 2 + k)));
    }
    for (k, p) in PIDS.iter().enumerate() {
        s.push((p.to_string(), format!("{}", 400_000 + i * 2 + k)));
    }
    s
}

fn apply(text: &str, subs: &[(String, String)]) -> String {
    subs.iter()
        .fold(text.to_string(), |t, (from, to)| t.replace(from, to))
}

/// Whether a bundle path belongs to the web pod.
fn of_the_pod(rel: &str) -> bool {
    rel.contains(UID)
        || rel.contains(&UID.replace('-', "_"))
        || CIDS.iter().any(|c| rel.contains(c))
        || PIDS.iter().any(|p| rel.starts_with(&format!("proc/{p}/")))
        || rel.starts_with(&format!("var/log/containers/{POD}_"))
}

/// Every file and link under `dir`, relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .to_string();
        if ft.is_dir() {
            walk(root, &e.path(), out);
        } else {
            out.push(rel);
        }
    }
}

/// dns-v2-containerd with [`CLONES`] more pods like shop/web.
fn busy_node() -> Copy {
    let copy = Copy::of("dns-v2-containerd");
    let mut files = Vec::new();
    walk(&copy.root, &copy.root, &mut files);
    let pod_files: Vec<&String> = files.iter().filter(|f| of_the_pod(f)).collect();
    assert!(pod_files.len() > 20, "the web pod's files: {pod_files:?}");
    for i in 0..CLONES {
        let subs = substitutions(i);
        for rel in &pod_files {
            let src = copy.root.join(rel);
            let dst = copy.root.join(apply(rel, &subs));
            fs::create_dir_all(dst.parent().unwrap()).unwrap();
            let meta = fs::symlink_metadata(&src).unwrap();
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&src).unwrap();
                let target = apply(&target.to_string_lossy(), &subs);
                std::os::unix::fs::symlink(target, &dst).unwrap();
            } else {
                match fs::read_to_string(&src) {
                    Ok(text) => fs::write(&dst, apply(&text, &subs)).unwrap(),
                    Err(_) => {
                        fs::copy(&src, &dst).unwrap();
                    }
                }
            }
        }
    }
    copy
}

fn check(root: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["--bundle", root.to_str().unwrap(), "check"];
    args.extend_from_slice(extra);
    let o = run(&args);
    (
        o.status.code(),
        String::from_utf8(o.stdout).unwrap() + &String::from_utf8_lossy(&o.stderr),
    )
}

#[test]
fn a_hundred_pods_with_one_cause_are_one_block_under_forty_lines() {
    let node = busy_node();
    let (code, text) = check(&node.root, &[]);
    assert_eq!(code, Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() <= 40, "{} lines:\n{text}", lines.len());
    // The verdict first: the counts, then the sentence of the worst cause (dns.nameserver-limit
    // sorts before dns.policy-default; both are warnings).
    assert!(
        lines[0].starts_with("103 warnings \u{2014} node node-a: 4 nameservers listed"),
        "{text}"
    );
    // Pod names sort as strings: bench-pod-0, bench-pod-14, bench-pod-21 in bench-ns-0.
    let block: Vec<&&str> = lines
        .iter()
        .skip_while(|l| !l.starts_with("WARNING   dns.policy-default"))
        .take(3)
        .collect();
    assert_eq!(
        block,
        [
            &"WARNING   dns.policy-default           101 pods: bench-ns-0/bench-pod-0, bench-ns-0/bench-pod-14, bench-ns-0/bench-pod-21, \u{2026} (+98)",
            &"          resolves with the node's nameservers (10.0.0.2 10.0.0.3 169.254.169.253) and no svc search domain: service names will not resolve",
            &"          fix: drop dnsPolicy: Default (ClusterFirst is the default); hostNetwork pods: ClusterFirstWithHostNet",
        ],
        "{text}"
    );
    assert_eq!(
        text.matches("dns.policy-default").count(),
        1,
        "one block: {text}"
    );
}

#[test]
fn expand_lists_every_subject_of_the_group() {
    let node = busy_node();
    let (_, text) = check(&node.root, &["--expand"]);
    assert!(
        text.contains("WARNING   dns.policy-default           101 pods\n"),
        "{text}"
    );
    for i in 0..CLONES {
        let (ns, name) = clone_name(i);
        assert!(
            text.contains(&format!("\n          - {ns}/{name}\n")),
            "{ns}/{name}: {text}"
        );
    }
    assert!(
        text.contains("\n          - shop/web-6d9f8c7b5-h2j4k\n"),
        "{text}"
    );
}

#[test]
fn json_keeps_one_finding_per_pod_each_with_its_group() {
    let node = busy_node();
    let (_, v) = check_json(&node.root, &[]);
    let policy: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "dns.policy-default")
        .collect();
    assert_eq!(policy.len(), CLONES + 1);
    let group = policy[0]["group"].as_str().unwrap();
    assert!(group.starts_with("dns.policy-default:"), "{group}");
    assert!(policy.iter().all(|f| f["group"] == group));
    // Another rule, another group; the key does not depend on the node's size.
    let limit = finding(&v, "dns.nameserver-limit")["group"]
        .as_str()
        .unwrap();
    assert_ne!(limit, group);
    let (_, small) = check_json(&fixture("dns-v2-containerd"), &[]);
    assert_eq!(finding(&small, "dns.policy-default")["group"], group);
}

#[test]
fn healthy_fixtures_say_ok_first_and_exit_0() {
    for (name, node) in [(V1, "node-b"), (V2, "node-a")] {
        let (code, text) = check(&fixture(name), &[]);
        assert_eq!(code, Some(0), "{name}: {text}");
        let first = text.lines().next().unwrap();
        let rest = first
            .strip_prefix(&format!("OK \u{2014} no problem found on {node} ("))
            .unwrap_or_else(|| panic!("{name}: {text}"));
        // "(50 checks, 0.04 s)": the number of rules and the time, both real.
        let (checks, secs) = rest
            .trim_end_matches(" s)")
            .split_once(" checks, ")
            .unwrap();
        assert!(checks.parse::<usize>().unwrap() >= 30, "{first}");
        assert!(secs.parse::<f64>().unwrap() < 30.0, "{first}");
        // The informational eviction order waits for --verbose.
        assert!(!text.contains("memory.eviction-order"), "{name}: {text}");
        assert!(text.contains("--verbose shows the info"), "{name}: {text}");
        let (code, verbose) = check(&fixture(name), &["--verbose"]);
        assert_eq!(code, Some(0));
        assert!(
            verbose.contains("INFO      memory.eviction-order"),
            "{name}: {verbose}"
        );
    }
}

#[test]
fn the_verdict_names_the_worst_finding() {
    let (code, text) = check(&fixture("oom-memcg-v2-systemd"), &[]);
    assert_eq!(code, Some(2));
    assert_eq!(
        text.lines().next().unwrap(),
        "1 critical, 1 warning \u{2014} nginx (pid 48213) in shop/web-6d9f8c7b5-h2j4k/nginx killed by its 256Mi limit 5m ago"
    );
}

#[test]
fn a_pending_gpu_pod_is_reported_by_its_candidate_nodes_or_with_cluster() {
    // gpu-pending's cluster (three Pending GPU pods, GPU node node-a) seen from a node without
    // GPUs: the GPU node renamed gpu-a, this node (healthy v2, node-a) no longer in the list.
    let node = Copy::of(V2);
    copy_tree(
        &fixture("gpu-pending").join("cluster"),
        &node.path("cluster"),
    );
    for f in ["nodes.json", "pods.json", "events.json"] {
        let p = format!("cluster/{f}");
        if node.path(&p).exists() {
            let text = node.read(&p).replace("node-a", "gpu-a");
            node.write(&p, &text);
        }
    }
    let (code, v) = check_json(&node.root, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    assert!(!ids(&v).contains(&"gpu.pending-pod".to_string()), "{v:#}");
    let (code, v) = check_json(&node.root, &["--cluster"]);
    assert_eq!(code, Some(1));
    let pending: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "gpu.pending-pod")
        .collect();
    assert_eq!(pending.len(), 3, "{v:#}");
    assert!(
        pending
            .iter()
            .all(|f| f["evidence"]["candidate_nodes"] == serde_json::json!(["gpu-a"]))
    );
    // On the GPU node itself, no flag is needed.
    let (_, v) = check_json(&fixture("gpu-pending"), &[]);
    assert_eq!(
        ids(&v).iter().filter(|i| *i == "gpu.pending-pod").count(),
        3
    );
}

// ---------------------------------------------------------------- command-line conventions

/// Every option of every command, walked from clap's own tree: each has help text, none is
/// global (clap would offer a global option on commands that ignore it), and each command
/// declares exactly the host, cluster and colour options its code reads (src/cmd/mod.rs,
/// `merge_command_options`).
#[test]
fn every_option_has_help_and_each_command_declares_only_what_it_uses() {
    const SOURCES: [&str; 6] = [
        "root",
        "bundle",
        "kubeconfig",
        "no_cluster",
        "cluster_dump",
        "color",
    ];
    let all = SOURCES.to_vec();
    let host_cluster = vec!["root", "bundle", "kubeconfig", "no_cluster", "cluster_dump"];
    let uses: Vec<(&str, Vec<&str>)> = vec![
        ("nodescope", all.clone()),
        ("check", all.clone()),
        ("top", all.clone()),
        ("snapshot", host_cluster.clone()),
        ("gpu", host_cluster.clone()),
        ("serve", host_cluster.clone()),
        ("disk", vec!["root", "bundle"]),
        ("dns", vec!["root", "bundle"]),
        ("probe", vec!["root"]),
        (
            "capture",
            vec!["root", "kubeconfig", "no_cluster", "cluster_dump"],
        ),
        ("rules", vec![]),
        ("explain", vec![]),
        ("completions", vec![]),
        ("fleet", vec!["kubeconfig"]),
        ("debug", vec!["kubeconfig"]),
    ];
    let mut seen = Vec::new();
    let mut stack = vec![nodescope::cli::command()];
    while let Some(cmd) = stack.pop() {
        let name = cmd.get_name().to_string();
        let mut sources = Vec::new();
        for a in cmd.get_arguments() {
            let id = a.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(!help.trim().is_empty(), "{name} {id}: no help text");
            assert!(!a.is_global_set(), "{name} {id}: global");
            if SOURCES.contains(&id) {
                sources.push(id);
            }
        }
        sources.sort();
        let mut want = uses
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("a new command {name}: say which options it uses"))
            .1
            .clone();
        want.sort();
        assert_eq!(sources, want, "{name}");
        seen.push(name);
        stack.extend(
            cmd.get_subcommands()
                .filter(|c| c.get_name() != "help")
                .cloned(),
        );
    }
    assert_eq!(seen.len(), uses.len(), "{seen:?}");
    // Not offered, so not accepted: `explain --bundle` is an error (exit 3).
    let o = run(&["explain", "--bundle", "x", "memory.pressure"]);
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn options_before_and_after_the_command_mean_the_same() {
    let b = fixture("oom-memcg-v2-systemd");
    let b = b.to_str().unwrap();
    let before = run(&["--bundle", b, "--no-cluster", "check", "-o", "json"]);
    let after = run(&["check", "--bundle", b, "--no-cluster", "-o", "json"]);
    assert_eq!(before.status.code(), Some(2));
    assert_eq!(before.stdout, after.stdout);
    assert_eq!(before.status.code(), after.status.code());
}

/// kubectl's `-o json` and the documented `--format json` print the same bytes, on every
/// command that reports.
#[test]
fn dash_o_equals_format_on_every_reporting_command() {
    let b = fixture("gpu-pending");
    let b = b.to_str().unwrap();
    for cmd in [
        vec!["check"],
        vec!["disk"],
        vec!["dns"],
        vec!["gpu"],
        vec!["snapshot"],
        vec!["rules"],
    ] {
        let with = |flag: &[&str]| {
            let mut a: Vec<&str> = if cmd[0] == "rules" {
                vec![]
            } else {
                vec!["--bundle", b]
            };
            a.extend(&cmd);
            a.extend(flag);
            run(&a)
        };
        let short = with(&["-o", "json"]);
        let long = with(&["--output", "json"]);
        let alias = with(&["--format", "json"]);
        let v: Value = serde_json::from_slice(&short.stdout)
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}: {}", String::from_utf8_lossy(&short.stderr)));
        assert!(
            v["schema"].as_str().unwrap().starts_with("nodescope-"),
            "{cmd:?}"
        );
        assert_eq!(short.stdout, alias.stdout, "{cmd:?}");
        assert_eq!(short.stdout, long.stdout, "{cmd:?}");
        assert_eq!(short.status.code(), alias.status.code(), "{cmd:?}");
    }
}

#[test]
fn rules_as_json_list_the_registry() {
    let o = run(&["rules", "-o", "json"]);
    assert!(o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "nodescope-rules/1");
    let rules = v["rules"].as_array().unwrap();
    assert_eq!(rules.len(), nodescope::analyze::rules::RULES.len());
    let r = rules.iter().find(|r| r["id"] == "memory.oom-race").unwrap();
    assert_eq!(r["severity"], "critical");
    assert_eq!(
        r["summary"],
        nodescope::analyze::rule("memory.oom-race")
            .unwrap()
            .summary()
    );
}

#[test]
fn fail_on_never_exits_0_over_a_critical_finding() {
    let b = fixture("oom-memcg-v2-systemd");
    let b = b.to_str().unwrap();
    for fmt in ["text", "json", "npd", "junit", "prometheus"] {
        let o = run(&["--bundle", b, "check", "-o", fmt, "--fail-on", "never"]);
        assert_eq!(o.status.code(), Some(0), "{fmt}");
    }
    let npd = run(&["--bundle", b, "check", "-o", "npd", "--fail-on", "never"]);
    assert_eq!(npd.stdout, b"OK: no finding\n");
    let junit = run(&["--bundle", b, "check", "-o", "junit", "--fail-on", "never"]);
    assert!(!String::from_utf8_lossy(&junit.stdout).contains("<failure"));
    // And the default still fails.
    assert_eq!(run(&["--bundle", b, "check"]).status.code(), Some(2));
    for cmd in ["disk", "dns", "gpu"] {
        let o = run(&["--bundle", b, cmd, "--fail-on", "never"]);
        assert_eq!(o.status.code(), Some(0), "{cmd}");
    }
}

/// no-color.org: "user-level configuration files and per-instance command-line arguments
/// should override NO_COLOR".
#[test]
fn an_explicit_color_always_beats_no_color() {
    let b = fixture("oom-memcg-v2-systemd");
    let b = b.to_str().unwrap();
    for args in [
        vec!["--bundle", b, "--color", "always", "check"],
        vec!["--bundle", b, "check", "--color", "always"],
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_nodescope"))
            .args(&args)
            .env("NO_COLOR", "1")
            .watched_output()
            .unwrap();
        let t = String::from_utf8(o.stdout).unwrap();
        assert!(
            t.starts_with("\x1b[1;31m1 critical\x1b[0m"),
            "{args:?}: {t:?}"
        );
        assert!(
            t.contains("\x1b[1;31mCRITICAL\x1b[0m  memory.kernel-oom-kill"),
            "{t:?}"
        );
    }
    let never = run(&["--bundle", b, "check", "--color", "never"]);
    assert!(!String::from_utf8_lossy(&never.stdout).contains('\x1b'));
}

/// capture's file is `--out`/`-f` (`-o` means a format everywhere else); the old `-o` and
/// `--output` still name the file, so scripts written for them keep working.
#[test]
fn capture_takes_its_file_as_out_f_and_the_old_o() {
    use clap::Parser;
    for flag in ["--out", "-f", "-o", "--output"] {
        let cli = nodescope::cli::Cli::try_parse_from(["nodescope", "capture", flag, "b.tar.gz"])
            .unwrap_or_else(|e| panic!("{flag}: {e}"));
        match cli.command {
            Some(nodescope::cli::Command::Capture(a)) => {
                assert_eq!(a.output.as_deref(), Some(Path::new("b.tar.gz")), "{flag}")
            }
            other => panic!("{flag}: {other:?}"),
        }
    }
    let help = run(&["capture", "--help"]);
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("-f, --out <FILE>"), "{help}");
}

/// The shell completions offer the rule ids after `explain` and `check --rule`.
#[test]
fn completions_offer_rule_ids() {
    for shell in ["bash", "zsh", "fish"] {
        let o = run(&["completions", shell]);
        let t = String::from_utf8(o.stdout).unwrap();
        for r in nodescope::analyze::rules::RULES {
            assert!(t.contains(r.id()), "{shell}: {}", r.id());
        }
    }
}

// ---------------------------------------------------------------- one definition of used %

/// disk-bloat-v2-containerd's /var: 100Gi, 60Gi used, 35Gi available (5Gi reserved for root).
/// The kubelet's figure, 1 - 35/100 = 65 %, everywhere; df's 60/95 = 63.2 %, rounded up to 64 %
/// as df rounds, beside it and labelled; never the 60/100 some outputs used to print.
#[test]
fn one_used_percent_everywhere_with_dfs_beside_it() {
    let b = fixture("disk-bloat-v2-containerd");
    let b = b.to_str().unwrap();
    let check = String::from_utf8(run(&["--bundle", b, "check"]).stdout).unwrap();
    assert!(
        check.contains("/var inodes 100% used (7012 of 6553600 free) while bytes are 65% used"),
        "{check}"
    );
    let disk = String::from_utf8(run(&["--bundle", b, "disk"]).stdout).unwrap();
    let var = disk
        .lines()
        .find(|l| l.starts_with("  /var "))
        .unwrap_or_else(|| panic!("{disk}"));
    assert!(
        var.contains("100Gi    60Gi    35Gi   65%    6.6M   100%  df 64%  nodefs"),
        "{var}"
    );
    assert!(disk.contains("USE% = 1 - AVAIL/SIZE, as the kubelet's thresholds compare"));
    let v: Value =
        serde_json::from_slice(&run(&["--bundle", b, "disk", "-o", "json"]).stdout).unwrap();
    let var = v["filesystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["mount_point"] == "/var")
        .unwrap();
    assert_eq!(var["used_percent"], 65.0);
    assert_eq!(var["df_used_percent"], 64.0);
    // A filesystem without reserved blocks has one figure, and no df note.
    let tmpfs = disk.lines().find(|l| l.starts_with("  /dev/shm ")).unwrap();
    assert!(!tmpfs.contains("df "), "{tmpfs}");
}

/// `top --once`: one frame on standard output without a terminal, the very frame the TUI
/// draws (the committed TestBackend snapshot of the same view, fixture and size).
#[test]
fn top_once_prints_the_tuis_first_frame_without_a_terminal() {
    let b = fixture("oom-memcg-v2-systemd");
    let o = run(&[
        "--bundle",
        b.to_str().unwrap(),
        "top",
        "--once",
        "--size",
        "80x24",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let frame = String::from_utf8(o.stdout).unwrap();
    assert_eq!(frame.lines().count(), 24);
    let snap = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/snapshots/tests__tui__oom-memcg-v2-systemd-overview-80x24.snap"),
    )
    .unwrap();
    let body = snap.splitn(3, "---\n").nth(2).unwrap();
    assert_eq!(frame.trim_end(), body.trim_end());
    assert!(!frame.contains('\x1b'));
    let bad = run(&[
        "--bundle",
        b.to_str().unwrap(),
        "top",
        "--once",
        "--size",
        "5x5",
    ]);
    assert_eq!(bad.status.code(), Some(3));
}

/// The TUI's Findings view on the busy node: one row for the 101 pods' cause, the subjects in
/// the detail pane.
#[test]
fn the_tui_findings_view_shows_one_row_per_cause() {
    use nodescope::tui::{app::App, sampler, views::VIEWS};
    let node = busy_node();
    let host = nodescope::source::bundle::BundleHost::open(&node.root).unwrap();
    let s = sampler::sample(&host);
    let mut app = App::new(std::time::Duration::from_secs(2), false, false);
    app.view = VIEWS.iter().position(|v| v.name() == "Findings").unwrap();
    // Down to the dns.policy-default row: after dns.nameserver-limit and ndots-amplification.
    for _ in 0..2 {
        app.key(
            ratatui::crossterm::event::KeyEvent::from(ratatui::crossterm::event::KeyCode::Down),
            &s,
        );
    }
    let text = crate::tui::drawn(&s, &mut app, 160, 40);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("  dns.policy-default "))
        .collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert!(
        rows[0].starts_with("WARNING  dns.policy-default          101 pods: resolves with"),
        "{text}"
    );
    assert!(text.contains("- bench-ns-0/bench-pod-0"), "{text}");
    assert!(text.contains("dns.policy-default (e: explain"), "{text}");
}

/// `check --watch S` repeats the report: on a pipe, one JSON document per sample; and when the
/// reader goes away (`| head`), it ends with the last report's status instead of sampling on
/// for nobody. The watchdog kills it if it does not.
#[test]
fn check_watch_repeats_the_report_and_ends_when_the_reader_leaves() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let (mut child, _dog) = Command::new(env!("CARGO_BIN_EXE_nodescope"))
        .args(["--bundle"])
        .arg(fixture("oom-memcg-v2-systemd"))
        .args(["check", "--watch", "0.2", "-o", "json"])
        .env_remove("NODESCOPE_ROOT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .watched_spawn(std::time::Duration::from_secs(60))
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let schema = "\"schema\": \"nodescope-check/1\"";
    while String::from_utf8_lossy(&got).matches(schema).count() < 3 {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "the watch ended by itself");
        got.extend_from_slice(&buf[..n]);
    }
    // Each sample is a whole report: the first one parses on its own.
    let text = String::from_utf8_lossy(&got).to_string();
    let second = text[1..].find("{\n  \"schema\"").unwrap() + 1;
    let first: Value = serde_json::from_str(&text[..second]).unwrap();
    assert_eq!(first["summary"]["critical"], 1);
    // The reader leaves: the next write fails, and the watch ends with the report's status.
    drop(stdout);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2), "{status:?}");
}
