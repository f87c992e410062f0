//! Criterion benchmarks of the hot parsers and of a whole snapshot + analysis on a large
//! bundle (100 pods, 200 containers, 1000 processes, built from a fixture at start-up).
//! Run with `cargo bench --bench parsers`; whole-process comparisons are in bench/compare.sh.

use criterion::{Criterion, criterion_group, criterion_main};
use nodescope::collect;
use nodescope::source::bundle::BundleHost;
use procfs_core::FromRead;
use std::hint::black_box;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn kmsg_text() -> String {
    let mut s =
        std::fs::read_to_string(fixture("oom-memcg-v2-systemd/dev/kmsg")).unwrap_or_default();
    // A full ring: ~4000 records of ordinary kernel chatter around the OOM event.
    let base = s.clone();
    for i in 0..200 {
        for l in base.lines() {
            if let Some((_, msg)) = l.split_once(';') {
                s.push_str(&format!("6,{},{},-;{msg}\n", 10_000 + i, 1_000_000 + i));
            }
        }
    }
    s
}

fn parsers(c: &mut Criterion) {
    let kmsg = kmsg_text();
    c.bench_function("kmsg: parse records + assemble OOM kills", |b| {
        b.iter(|| {
            let recs: Vec<_> = kmsg
                .lines()
                .filter_map(collect::parse_kmsg_record)
                .collect();
            black_box(collect::oom::parse_oom_kills(&recs))
        })
    });
    let stat = std::fs::read_to_string(fixture(
        "healthy-v2-systemd-containerd/sys/fs/cgroup/memory.stat",
    ))
    .unwrap_or_default();
    c.bench_function("cgroup v2 memory.stat (flat-keyed)", |b| {
        b.iter(|| black_box(collect::parse_flat_keyed(black_box(&stat)).len()))
    });
    let pid_stat =
        std::fs::read(fixture("healthy-v2-systemd-containerd/proc/1043/stat")).unwrap_or_default();
    c.bench_function("/proc/<pid>/stat", |b| {
        b.iter(|| black_box(procfs_core::process::Stat::from_read(black_box(&pid_stat[..])).ok()))
    });
    let mi =
        std::fs::read(fixture("healthy-v1-cgroupfs-crio/proc/1/mountinfo")).unwrap_or_default();
    c.bench_function("mountinfo", |b| {
        b.iter(|| black_box(procfs_core::process::MountInfos::from_read(black_box(&mi[..])).ok()))
    });
    let now: jiff::Timestamp = "2026-11-22T03:00:00Z"
        .parse()
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let line = r#"Nov 22 02:58:05 node-b kubelet[988]: I1122 02:58:05.184530     988 eviction_manager.go:398] "Eviction manager: pods ranked for eviction" pods=["payments/api-7c8d9f6b5-r2t4y","kube-system/kube-proxy-q8w7e"]"#;
    let resolv = "search shop.svc.cluster.local svc.cluster.local cluster.local ec2.internal\nnameserver 10.96.0.10\noptions ndots:5 timeout:2 attempts:3 single-request-reopen\n";
    c.bench_function("pod resolv.conf", |b| {
        b.iter(|| black_box(collect::resolv::parse_resolv_conf(black_box(resolv))))
    });
    c.bench_function("kubelet eviction log line", |b| {
        b.iter(|| {
            black_box(collect::parse_kubelet_log_line(
                black_box(line),
                None,
                "x",
                now,
            ))
        })
    });
}

/// Writes a large bundle: the v1 fixture plus `pods` Burstable pods of 2 containers × 5 processes.
fn large_bundle(pods: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("large");
    copy_tree(&fixture("healthy-v1-cgroupfs-crio"), &root);
    let w = |p: &str, s: &str| {
        let p = root.join(p);
        let _ = std::fs::create_dir_all(p.parent().unwrap_or(&root));
        let _ = std::fs::write(p, s);
    };
    let mut pid = 100_000;
    for i in 0..pods {
        let uid = format!("{i:08x}-0000-4000-8000-{i:012x}");
        let (ns, name) = (format!("bench-ns-{}", i % 7), format!("bench-pod-{i}"));
        for c in 0..2 {
            let id = format!("{:064x}", i * 2 + c + 1);
            let rel = format!("kubepods/burstable/pod{uid}/crio-{id}");
            for (f, v) in [
                ("memory.usage_in_bytes", "52428800"),
                ("memory.limit_in_bytes", "134217728"),
                ("memory.max_usage_in_bytes", "67108864"),
                ("memory.failcnt", "0"),
            ] {
                w(
                    &format!("sys/fs/cgroup/memory/{rel}/{f}"),
                    &format!("{v}\n"),
                );
            }
            w(
                &format!("sys/fs/cgroup/memory/{rel}/memory.oom_control"),
                "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
            );
            w(
                &format!("sys/fs/cgroup/memory/{rel}/memory.stat"),
                "cache 4096\nrss 52424704\ntotal_inactive_file 4096\n",
            );
            w(&format!("sys/fs/cgroup/pids/{rel}/pids.current"), "5\n");
            w(&format!("sys/fs/cgroup/pids/{rel}/pids.max"), "max\n");
            let log = format!("/var/log/pods/{ns}_{name}_{uid}/app-{c}/0.log");
            w(
                &log[1..],
                "2026-11-22T03:00:00.000000000Z stdout F started\n",
            );
            let link = root.join(format!("var/log/containers/{name}_{ns}_app-{c}-{id}.log"));
            let _ = std::os::unix::fs::symlink(&log, link);
            for _ in 0..5 {
                w(
                    &format!("proc/{pid}/stat"),
                    &format!(
                        "{pid} (sleep) S 1 {pid} {pid} 0 -1 4194560 90 0 0 0 0 0 0 0 20 0 1 0 5000 2199552 132 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
                    ),
                );
                w(&format!("proc/{pid}/cmdline"), "sleep\086400\0");
                w(
                    &format!("proc/{pid}/cgroup"),
                    &format!("4:memory:/{rel}\n12:pids:/{rel}\n0::/\n"),
                );
                w(&format!("proc/{pid}/oom_score"), "980\n");
                w(&format!("proc/{pid}/oom_score_adj"), "969\n");
                pid += 1;
            }
        }
    }
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    let _ = std::fs::create_dir_all(to);
    for e in std::fs::read_dir(from).into_iter().flatten().flatten() {
        let dst = to.join(e.file_name());
        match e.file_type() {
            Ok(t) if t.is_symlink() => {
                if let Ok(t) = std::fs::read_link(e.path()) {
                    let _ = std::os::unix::fs::symlink(t, &dst);
                }
            }
            Ok(t) if t.is_dir() => copy_tree(&e.path(), &dst),
            _ => {
                let _ = std::fs::copy(e.path(), &dst);
            }
        }
    }
}

fn whole(c: &mut Criterion) {
    let dir = large_bundle(100);
    let host = BundleHost::open(&dir.path().join("large")).expect("large bundle");
    let snap = collect::snapshot(&host);
    assert_eq!(
        snap.processes
            .iter()
            .filter(|p| p.container_id.is_some())
            .count(),
        1000 + 8
    );
    c.bench_function(
        "snapshot + analyze, 100 pods / 1000 processes (bundle in memory)",
        |b| {
            b.iter(|| {
                let s = collect::snapshot(&host);
                black_box(nodescope::analyze::analyze(&s).len())
            })
        },
    );
    c.bench_function("analyze only, 100 pods", |b| {
        b.iter(|| black_box(nodescope::analyze::analyze(&snap).len()))
    });
}

criterion_group!(benches, parsers, whole);
criterion_main!(benches);
