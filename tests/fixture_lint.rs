//! Every bundle under fixtures/ must be something a real node could have written. A fixture
//! that no kernel, kubelet or runtime would produce tests nodescope against a world that does
//! not exist, so this linter holds each one (including bundles added later) to the rules of
//! the programs that write the files:
//!
//! - cgroup counters are hierarchical: a parent's `memory.peak` (v1 `max_usage_in_bytes`) is at
//!   least each child's, its `memory.current` (v1 `usage_in_bytes`) at least the sum of its
//!   children's, and every `memory.events` counter (v1 `memory.oom_control` `oom_kill`) at least
//!   each child's (mm/page_counter.c charges every ancestor; mm/memcontrol.c
//!   `memcg_memory_event` counts up to the root; Documentation/admin-guide/cgroup-v2.rst);
//! - `dev/kmsg` records carry sequence numbers and times that rise together, none after the
//!   capture's uptime, with non-printable bytes escaped `\xNN` (Documentation/ABI/testing/dev-kmsg);
//!   a cgroup v2 OOM's memory.stat is one record with escaped newlines before 6.4
//!   (`pr_info("%s", buf)` in mm/memcontrol.c `mem_cgroup_print_oom_meminfo`) and one record
//!   per line from 6.4 (`seq_buf_do_printk`);
//! - `/proc/net/stat/nf_conntrack` has the header its kernel prints
//!   (net/netfilter/nf_conntrack_standalone.c `ct_cpu_seq_show`);
//! - a pod's resolv.conf written by the runtime from the kubelet's CRI `DNSConfig` has `search`,
//!   then at most three `nameserver` lines, then `options` (CRI-O `ParseDNSOptions`, containerd
//!   `parseDNSOptions`; the kubelet cuts the servers to 3 in `formDNSConfigFitsLimits`). The
//!   runtimes copy the node's /etc/resolv.conf only for an empty `DNSConfig`, which the kubelet
//!   never sends (Default and hostNetwork pods get the node's servers through the CRI too), so a
//!   pod file in the node file's order is not one a runtime wrote;
//! - the kubelet's device-plugin checkpoint carries the checksum the kubelet computes
//!   (nodescope's port, `collect::checkpoint_checksum`, checked against real kubelets' files)
//!   and is compact `json.Marshal` output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Every bundle under fixtures/ (a directory with a nodescope-bundle.json).
fn bundles() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("nodescope-bundle.json").is_file())
        .collect();
    out.sort();
    assert!(out.len() >= 13, "fixtures/ lost its bundles: {out:?}");
    out
}

/// Runs `check` on every bundle and fails with every violation found, one line each.
fn lint(name: &str, check: fn(&Path, &mut Vec<String>)) {
    let mut problems = Vec::new();
    for b in bundles() {
        let mut p = Vec::new();
        check(&b, &mut p);
        let fixture = b.file_name().unwrap().to_string_lossy().to_string();
        problems.extend(p.into_iter().map(|x| format!("{fixture}: {x}")));
    }
    assert!(
        problems.is_empty(),
        "{name}: {} problem(s)\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn read(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok()
}

fn number(p: &Path) -> Option<u64> {
    read(p)?.trim().parse().ok()
}

/// `key value` lines (memory.events, memory.oom_control, memory.stat).
fn flat_keyed(p: &Path) -> Option<BTreeMap<String, u64>> {
    let text = read(p)?;
    Some(
        text.lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(' ')?;
                Some((k.to_string(), v.trim().parse().ok()?))
            })
            .collect(),
    )
}

/// The kernel release as (major, minor), from proc/sys/kernel/osrelease.
fn kernel(b: &Path) -> Option<(u32, u32)> {
    let r = read(&b.join("proc/sys/kernel/osrelease"))?;
    let mut it = r.trim().split(['.', '-']);
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// The file names that carry the hierarchical counters, for v2 (unified) and v1 (memory).
struct Layout {
    root: PathBuf,
    usage: &'static str,
    peak: &'static str,
    events: &'static str,
}

fn layout(b: &Path) -> Option<Layout> {
    let cg = b.join("sys/fs/cgroup");
    if cg.join("cgroup.controllers").is_file() {
        return Some(Layout {
            root: cg,
            usage: "memory.current",
            peak: "memory.peak",
            events: "memory.events",
        });
    }
    cg.join("memory").is_dir().then(|| Layout {
        root: cg.join("memory"),
        usage: "memory.usage_in_bytes",
        peak: "memory.max_usage_in_bytes",
        events: "memory.oom_control",
    })
}

fn subdirs(d: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(d)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Checks one cgroup against its children, then recurses. The root cgroup (v2 has no
/// memory.current there; v1's root counts are the whole machine) is compared only where it has
/// the file.
fn cgroup_tree(l: &Layout, dir: &Path, p: &mut Vec<String>) {
    let kids = subdirs(dir);
    let rel = |d: &Path| d.strip_prefix(&l.root).unwrap().display().to_string();
    let usage = number(&dir.join(l.usage));
    let peak = number(&dir.join(l.peak));
    if let (Some(u), Some(pk)) = (usage, peak)
        && pk < u
    {
        p.push(format!("/{}: {} {pk} < {} {u}", rel(dir), l.peak, l.usage));
    }
    let events = flat_keyed(&dir.join(l.events));
    let mut child_sum = 0u64;
    let mut counted = false;
    for k in &kids {
        if let Some(cu) = number(&k.join(l.usage)) {
            child_sum += cu;
            counted = true;
        }
        if let (Some(pk), Some(ck)) = (peak, number(&k.join(l.peak)))
            && ck > pk
        {
            p.push(format!(
                "/{}: {} {ck} above its parent's {pk}",
                rel(k),
                l.peak
            ));
        }
        if let (Some(pe), Some(ce)) = (&events, flat_keyed(&k.join(l.events))) {
            for (key, cv) in &ce {
                // oom_kill_disable and under_oom (v1) are states, not counters.
                if key == "oom_kill_disable" || key == "under_oom" {
                    continue;
                }
                if let Some(pv) = pe.get(key)
                    && cv > pv
                {
                    p.push(format!(
                        "/{}: {} {key} {cv} above its parent's {pv} (the counters are hierarchical)",
                        rel(k),
                        l.events
                    ));
                }
            }
        }
    }
    if let (Some(u), true) = (usage, counted)
        && child_sum > u
    {
        p.push(format!(
            "/{}: {} {u} below its children's sum {child_sum}",
            rel(dir),
            l.usage
        ));
    }
    for k in &kids {
        cgroup_tree(l, k, p);
    }
}

fn check_cgroups(b: &Path, p: &mut Vec<String>) {
    if let Some(l) = layout(b) {
        cgroup_tree(&l, &l.root.clone(), p);
    }
}

#[test]
fn cgroup_counters_are_hierarchical() {
    lint("cgroup counters", check_cgroups);
}

/// A /dev/kmsg record: `prio,seq,usec,flags[,...];message`.
struct Record {
    seq: u64,
    usec: u64,
    message: String,
}

fn records(b: &Path, p: &mut Vec<String>) -> Vec<Record> {
    let Some(text) = read(&b.join("dev/kmsg")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(r) = nodescope::collect::parse_kmsg_record(line) else {
            p.push(format!("dev/kmsg line {}: not a record: {line:?}", i + 1));
            continue;
        };
        out.push(Record {
            seq: r.seq,
            usec: r.usec,
            message: r.message,
        });
    }
    out
}

fn check_kmsg_order(b: &Path, p: &mut Vec<String>) {
    {
        let recs = records(b, p);
        for w in recs.windows(2) {
            if w[1].seq <= w[0].seq {
                p.push(format!("dev/kmsg: seq {} after seq {}", w[1].seq, w[0].seq));
            }
            if w[1].usec < w[0].usec {
                p.push(format!(
                    "dev/kmsg: seq {} at {} us is earlier than seq {} at {} us",
                    w[1].seq, w[1].usec, w[0].seq, w[0].usec
                ));
            }
        }
        let uptime = read(&b.join("proc/uptime"))
            .and_then(|u| u.split_whitespace().next()?.parse::<f64>().ok());
        if let (Some(up), Some(last)) = (uptime, recs.last())
            && last.usec as f64 > up * 1e6
        {
            p.push(format!(
                "dev/kmsg: seq {} at {} us is after the capture (uptime {up} s)",
                last.seq, last.usec
            ));
        }
    }
}

#[test]
fn kmsg_sequence_numbers_and_times_rise_together() {
    lint("kmsg order", check_kmsg_order);
}

fn check_kmsg_escapes(b: &Path, p: &mut Vec<String>) {
    {
        for r in records(b, p) {
            let m = r.message.as_bytes();
            for (i, &c) in m.iter().enumerate() {
                // msg_add_ext_text: bytes < ' ', >= 127 and '\' itself become \xNN.
                if !(b' '..127).contains(&c) {
                    p.push(format!("dev/kmsg seq {}: raw byte {c:#04x}", r.seq));
                }
                if c == b'\\'
                    && !(m.len() > i + 3
                        && m[i + 1] == b'x'
                        && m[i + 2].is_ascii_hexdigit()
                        && m[i + 3].is_ascii_hexdigit())
                {
                    p.push(format!("dev/kmsg seq {}: a '\\' that is not \\xNN", r.seq));
                }
            }
        }
    }
}

#[test]
fn kmsg_escapes_as_dev_kmsg_does() {
    lint("kmsg escaping", check_kmsg_escapes);
}

fn check_memcg_stats(b: &Path, p: &mut Vec<String>) {
    {
        let Some(k) = kernel(b) else { return };
        let recs = records(b, p);
        for (i, r) in recs.iter().enumerate() {
            // v2: "Memory cgroup stats for <path>:" and the stat after it; v1 prints its
            // numbers on the same record (" cache:...KB rss:...KB").
            if !(r.message.starts_with("Memory cgroup stats for ") && r.message.ends_with(':')) {
                continue;
            }
            let Some(next) = recs.get(i + 1) else {
                p.push(format!("dev/kmsg seq {}: no memory.stat after it", r.seq));
                continue;
            };
            let one_record = next.message.contains("\\x0a");
            if k < (6, 4) && !one_record {
                p.push(format!(
                    "dev/kmsg seq {}: kernel {}.{} prints memory.stat as one record with \\x0a, not {:?}",
                    next.seq, k.0, k.1, next.message
                ));
            }
            if k >= (6, 4) && one_record {
                p.push(format!(
                    "dev/kmsg seq {}: kernel {}.{} prints memory.stat one line per record",
                    next.seq, k.0, k.1
                ));
            }
            if one_record && !next.message.starts_with("anon ") {
                p.push(format!(
                    "dev/kmsg seq {}: memory.stat starts with anon",
                    next.seq
                ));
            }
        }
    }
}

#[test]
fn cgroup_v2_oom_memory_stat_is_printed_as_the_kernel_version_prints_it() {
    lint("memcg OOM stats", check_memcg_stats);
}

/// The header `ct_cpu_seq_show` prints on a kernel, where the source was read: v5.4
/// (`searched`, `delete_list`), v5.10 (`clashres` for `searched`), v5.15 and later
/// (`chainlength` for `delete_list`). Kernels between 5.5 and 5.9 may print either of the
/// first two.
fn conntrack_headers(k: (u32, u32)) -> Vec<&'static str> {
    const V5_4: &str = "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart";
    const V5_10: &str = "entries  clashres found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart";
    const V5_15: &str = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart";
    match k {
        k if k <= (5, 4) => vec![V5_4],
        k if k < (5, 10) => vec![V5_4, V5_10],
        k if k < (5, 15) => vec![V5_10],
        _ => vec![V5_15],
    }
}

fn check_conntrack(b: &Path, p: &mut Vec<String>) {
    {
        let Some(k) = kernel(b) else { return };
        for path in ["proc/net/stat/nf_conntrack", "proc/1/net/stat/nf_conntrack"] {
            let Some(text) = read(&b.join(path)) else {
                continue;
            };
            let header = text.lines().next().unwrap_or("");
            if !conntrack_headers(k).contains(&header) {
                p.push(format!(
                    "{path}: kernel {}.{} does not print the header {header:?}",
                    k.0, k.1
                ));
            }
            for row in text.lines().skip(1) {
                let cols: Vec<&str> = row.split_whitespace().collect();
                if cols.len() != 17 || cols.iter().any(|c| c.len() != 8) {
                    p.push(format!("{path}: row {row:?} is not 17 %08x columns"));
                }
                // `searched` has printed 0 since the counter was removed (4.x).
                if header.contains("searched") && cols.get(1) != Some(&"00000000") {
                    p.push(format!("{path}: `searched` is always 0 on this kernel"));
                }
            }
        }
    }
}

#[test]
fn conntrack_statistics_have_their_kernels_header() {
    lint("nf_conntrack header", check_conntrack);
}

/// Files a container runtime wrote from the kubelet's DNS configuration.
fn runtime_resolv_files(b: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let crio = b.join("run/containers/storage/overlay-containers");
    for d in subdirs(&crio) {
        out.push(d.join("userdata/resolv.conf"));
    }
    let containerd = b.join("var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes");
    for d in subdirs(&containerd) {
        out.push(d.join("resolv.conf"));
    }
    // What a container's resolver reads: the runtime's file, bind-mounted.
    for d in subdirs(&b.join("proc")) {
        let in_pod = read(&d.join("cgroup")).is_some_and(|c| c.contains("kubepods"));
        if in_pod {
            out.push(d.join("root/etc/resolv.conf"));
        }
    }
    out.retain(|p| p.is_file());
    out
}

fn check_resolv(b: &Path, p: &mut Vec<String>) {
    {
        for f in runtime_resolv_files(b) {
            let text = read(&f).unwrap_or_default();
            let rel = f.strip_prefix(b).unwrap().display().to_string();
            let order = |l: &str| match l.split_whitespace().next() {
                Some("search") => Some(0),
                Some("nameserver") => Some(1),
                Some("options") => Some(2),
                _ => None,
            };
            let mut last = 0;
            let (mut servers, mut searches, mut options) = (0, 0, 0);
            for line in text.lines() {
                let Some(o) = order(line) else {
                    p.push(format!("{rel}: a runtime writes no line like {line:?}"));
                    continue;
                };
                if o < last {
                    p.push(format!("{rel}: {line:?} after a later kind of line"));
                }
                last = o;
                match o {
                    0 => searches += 1,
                    1 => servers += 1,
                    _ => options += 1,
                }
            }
            if servers > 3 {
                p.push(format!(
                    "{rel}: {servers} nameservers; the kubelet passes at most 3"
                ));
            }
            if searches > 1 || options > 1 {
                p.push(format!("{rel}: one search and one options line at most"));
            }
        }
    }
}

#[test]
fn runtime_written_resolv_conf_has_the_runtimes_line_order() {
    lint("pod resolv.conf", check_resolv);
}

fn check_checkpoint(b: &Path, p: &mut Vec<String>) {
    {
        let path = b.join("var/lib/kubelet/device-plugins/kubelet_internal_checkpoint");
        let Ok(raw) = fs::read(&path) else { return };
        if let Some(why) = nodescope::collect::checkpoint_checksum::device_checkpoint_mismatch(&raw)
        {
            p.push(format!("kubelet_internal_checkpoint: {why}"));
        }
        // json.Marshal: no whitespace between tokens, no trailing newline.
        let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        let compact = serde_json::to_string(&v).unwrap();
        if compact.len() != raw.len() {
            p.push("kubelet_internal_checkpoint: not compact json.Marshal output".into());
        }
    }
}

#[test]
fn device_plugin_checkpoints_carry_the_kubelets_checksum() {
    lint("device-plugin checkpoint", check_checkpoint);
}

/// The linter itself must catch what it is for: each check, run on a copy broken the way the
/// old fixtures were, names the problem.
mod the_linter_fails_on {
    use super::*;
    use common::Copy;

    const OOM: &str = "oom-memcg-v2-systemd";
    const POD: &str = "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pode7f8a9b0_c1d2_4e3f_9a4b_5c6d7e8f9a0b.slice";
    const NGINX: &str =
        "cri-containerd-8b1c4d7e0f3a6b9c2d5e8f1a4b7c0d3e6f9a2b5c8d1e4f7a0b3c6d9e2f5a8b1c.scope";

    fn problems(c: &Copy, check: fn(&Path, &mut Vec<String>)) -> Vec<String> {
        let mut p = Vec::new();
        check(&c.root, &mut p);
        p
    }

    fn has(p: &[String], needle: &str) -> bool {
        p.iter().any(|x| x.contains(needle))
    }

    #[test]
    fn a_child_peak_above_its_parent_and_a_count_only_the_child_has() {
        let c = Copy::of(OOM);
        c.write(&format!("{POD}/memory.peak"), "1000\n");
        c.write(
            &format!("{POD}/memory.events"),
            "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
        );
        let p = problems(&c, check_cgroups);
        assert!(
            has(
                &p,
                &format!("{NGINX}: memory.peak 267821056 above its parent's 1000")
            ),
            "{p:?}"
        );
        assert!(
            has(&p, "memory.events oom_kill 1 above its parent's 0"),
            "{p:?}"
        );
    }

    #[test]
    fn children_using_more_than_their_parent() {
        let c = Copy::of("healthy-v1-cgroupfs-crio");
        c.write(
            "/sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes",
            "4096\n",
        );
        let p = problems(&c, check_cgroups);
        assert!(
            has(
                &p,
                "/kubepods: memory.usage_in_bytes 4096 below its children's sum"
            ),
            "{p:?}"
        );
    }

    #[test]
    fn time_going_backwards_and_a_record_after_the_capture() {
        let c = Copy::of(OOM);
        let kmsg = c.read("/dev/kmsg");
        c.write(
            "/dev/kmsg",
            &kmsg
                .replace("6,1624,863990112345", "6,1624,863000000000")
                .replace("6,1628,863990113700", "6,1628,999999999999"),
        );
        let p = problems(&c, check_kmsg_order);
        assert!(
            has(&p, "seq 1624 at 863000000000 us is earlier than seq 1623"),
            "{p:?}"
        );
        assert!(
            has(&p, "seq 1628 at 999999999999 us is after the capture"),
            "{p:?}"
        );
        c.write("/dev/kmsg", &kmsg.replace("6,1624,", "6,1620,"));
        assert!(has(
            &problems(&c, check_kmsg_order),
            "seq 1620 after seq 1623"
        ));
    }

    #[test]
    fn raw_control_bytes_and_bare_backslashes() {
        let c = Copy::of(OOM);
        let kmsg = c.read("/dev/kmsg");
        c.write(
            "/dev/kmsg",
            &kmsg.replace("Tasks state", "Tasks\tstate \\ "),
        );
        let p = problems(&c, check_kmsg_escapes);
        assert!(has(&p, "seq 1616: raw byte 0x09"), "{p:?}");
        assert!(has(&p, "seq 1616: a '\\' that is not \\xNN"), "{p:?}");
    }

    #[test]
    fn memcg_stats_split_into_records_on_6_1_and_joined_on_6_4() {
        let c = Copy::of(OOM);
        let kmsg = c.read("/dev/kmsg");
        c.write(
            "/dev/kmsg",
            &kmsg.replace("\\x0afile ", "\n6,1615,863700420141,-;file "),
        );
        let p = problems(&c, check_memcg_stats);
        assert!(
            has(&p, "kernel 6.1 prints memory.stat as one record"),
            "{p:?}"
        );
        c.write("/dev/kmsg", &kmsg);
        c.write("/proc/sys/kernel/osrelease", "6.6.63-1-amd64\n");
        assert!(has(
            &problems(&c, check_memcg_stats),
            "kernel 6.6 prints memory.stat one line per record"
        ));
    }

    #[test]
    fn a_5_4_kernel_with_a_later_conntrack_header() {
        let c = Copy::of("dns-conntrack-v1-crio");
        let f = "/proc/1/net/stat/nf_conntrack";
        let text = c.read(f);
        c.write(
            f,
            &text
                .replacen("searched", "clashres", 1)
                .replacen("delete_list", "chainlength", 1),
        );
        let p = problems(&c, check_conntrack);
        assert!(has(&p, "kernel 5.4 does not print the header"), "{p:?}");
        c.write(f, &text);
        c.write("/proc/sys/kernel/osrelease", "5.10.0-33-amd64\n");
        assert!(has(
            &problems(&c, check_conntrack),
            "kernel 5.10 does not print the header"
        ));
    }

    #[test]
    fn nameserver_before_search_in_a_runtime_file() {
        let c = Copy::of("dns-conntrack-v1-crio");
        let f = "/run/containers/storage/overlay-containers/a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90/userdata/resolv.conf";
        c.write(f, "nameserver 10.20.0.2\nsearch corp.example\n");
        let p = problems(&c, check_resolv);
        assert!(
            has(&p, "\"search corp.example\" after a later kind of line"),
            "{p:?}"
        );
        c.write(f, "search a\nnameserver 1.1.1.1\nnameserver 1.0.0.1\nnameserver 8.8.8.8\nnameserver 9.9.9.9\n");
        assert!(has(
            &problems(&c, check_resolv),
            "4 nameservers; the kubelet passes at most 3"
        ));
        c.write(
            f,
            "search corp.example\nnameserver 10.20.0.2\noptions ndots:2 edns0\n",
        );
        assert_eq!(problems(&c, check_resolv), Vec::<String>::new());
    }

    #[test]
    fn a_constant_checksum_and_pretty_json() {
        let c = Copy::of("gpu-pending");
        let f = "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint";
        let text = c.read(f);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let good = v["Checksum"].as_u64().unwrap();
        c.write(f, &text.replace(&good.to_string(), "2870915712"));
        let p = problems(&c, check_checkpoint);
        assert!(
            has(&p, &format!("checksum 2870915712 does not match {good}")),
            "{p:?}"
        );
        c.write(f, &serde_json::to_string_pretty(&v).unwrap());
        assert!(has(&problems(&c, check_checkpoint), "not compact"));
    }
}
