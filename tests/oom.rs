//! Kernel OOM kills on fixture nodes: kernel-log records in each format appended to a healthy
//! node's `dev/kmsg`, and the cgroup counters that outlive the ring.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::Value;

/// Microseconds since boot for a time `ago` seconds before the fixture's capture (its
/// /proc/uptime is 864000.42 s on node-a and 1728123.91 s on node-b).
fn usec_ago(c: &Copy, ago: f64) -> u64 {
    let up: f64 = c
        .read("/proc/uptime")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    ((up - ago) * 1e6) as u64
}

fn append_kmsg(c: &Copy, lines: &[String]) {
    let mut k = c.read("/dev/kmsg");
    for (seq, l) in (5000..).zip(lines) {
        let (head, msg) = l.split_once(';').unwrap();
        let (prio, usec) = head.split_once(',').unwrap();
        k.push_str(&format!("{prio},{seq},{usec},-;{msg}\n"));
    }
    c.write("/dev/kmsg", &k);
}

fn memcg_kill(path: &str, comm: &str, pid: u32, usec: u64, adj: i64) -> Vec<String> {
    vec![
        format!(
            "4,{usec};{comm} invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj={adj}"
        ),
        format!("6,{usec};memory: usage 262144kB, limit 262144kB, failcnt 311"),
        format!(
            "6,{usec};oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg={path},task_memcg={path},task={comm},pid={pid},uid=101"
        ),
        format!(
            "3,{usec};Memory cgroup out of memory: Killed process {pid} ({comm}) total-vm:1048576kB, anon-rss:258000kB, file-rss:4000kB, shmem-rss:0kB, UID:101 pgtables:700kB oom_score_adj:{adj}"
        ),
    ]
}

fn container_cgroup(s: &Value, pod_name: &str, ctr: &str) -> (String, Value) {
    let p = pod(s, pod_name);
    let c = container(p, ctr);
    (c["cgroup"]["path"].as_str().unwrap().to_string(), c.clone())
}

#[test]
fn a_recent_memcg_kill_on_v2_systemd_is_critical_and_names_the_container() {
    let c = Copy::of(V2);
    let s = snapshot(&c.root);
    let (path, ctr) = container_cgroup(&s, "web-6d9f8c7b5-h2j4k", "nginx");
    append_kmsg(
        &c,
        &memcg_kill(&path, "nginx", 424242, usec_ago(&c, 300.0), 993),
    );
    let (code, r) = check_json(&c.root, &[]);
    let f = finding(&r, "memory.kernel-oom-kill");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["subject"]["namespace"], "shop");
    assert_eq!(f["subject"]["pod"], "web-6d9f8c7b5-h2j4k");
    assert_eq!(f["subject"]["container"], "nginx");
    assert_eq!(f["subject"]["pid"], 424242);
    assert_eq!(f["evidence"]["limit_bytes"], ctr["cgroup"]["limit_bytes"]);
    assert_eq!(f["evidence"]["time"], "2026-11-22T02:55:00Z");
    assert_eq!(f["evidence"]["age_seconds"], 300);
    assert_eq!(f["evidence"]["oom_score_adj"], 993);
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("killed by its 256Mi limit 5m ago"),
        "{}",
        f["title"]
    );
    assert_eq!(code, Some(2));
    // A container kill is the kernel doing its job at the limit: no node-level race, no global OOM.
    assert!(!ids(&r).contains(&"memory.oom-race".to_string()));
    assert!(!ids(&r).contains(&"memory.global-oom".to_string()));
}

#[test]
fn an_old_kill_of_a_restarted_container_is_a_warning_named_by_its_log_link() {
    // The kubelet restarted the container under a new id; the old id has no cgroup but its
    // /var/log/containers link remains (v1, cgroupfs, CRI-O).
    let c = Copy::of(V1);
    let old = "9f".repeat(32);
    let uid = "6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e";
    let target = format!("/var/log/pods/payments_api-7c8d9f6b5-r2t4y_{uid}/api/0.log");
    std::os::unix::fs::symlink(
        &target,
        c.path(&format!(
            "/var/log/containers/api-7c8d9f6b5-r2t4y_payments_api-{old}.log"
        )),
    )
    .unwrap();
    let path = format!("/kubepods/burstable/pod{uid}/crio-{old}");
    append_kmsg(
        &c,
        &memcg_kill(&path, "api-server", 5150, usec_ago(&c, 2.0 * 3600.0), 985),
    );
    let (code, r) = check_json(&c.root, &[]);
    let f = finding(&r, "memory.kernel-oom-kill");
    assert_eq!(f["severity"], "warning", "two hours ago");
    assert_eq!(f["subject"]["pod"], "api-7c8d9f6b5-r2t4y");
    assert_eq!(f["subject"]["container"], "api");
    assert_eq!(f["evidence"]["container_id"], old);
    assert_eq!(code, Some(1));
}

#[test]
fn cgroup_counters_find_kills_the_ring_lost() {
    let c = Copy::of(V1);
    let s = snapshot(&c.root);
    let (path, _) = container_cgroup(&s, "ledger-0", "ledger");
    c.write(
        &format!("/sys/fs/cgroup/memory{path}/memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
    );
    let (_, r) = check_json(&c.root, &[]);
    let f = finding(&r, "memory.kernel-oom-kill");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["subject"]["container"], "ledger");
    assert_eq!(f["evidence"]["cgroup_oom_kills"], 3);
    assert_eq!(f["evidence"]["kernel_log_kills"], 0);
    assert!(f["subject"]["pid"].is_null());

    let c = Copy::of(V2);
    let s = snapshot(&c.root);
    let (path, _) = container_cgroup(&s, "checkout-5f7c9d8b6-m4kq2", "app");
    c.write(
        &format!("/sys/fs/cgroup{path}/memory.events"),
        "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n",
    );
    let (_, r) = check_json(&c.root, &[]);
    assert_eq!(
        finding(&r, "memory.kernel-oom-kill")["evidence"]["cgroup_oom_kills"],
        2
    );
}

#[test]
fn a_global_oom_without_an_eviction_is_a_race() {
    let c = Copy::of(V2);
    let s = snapshot(&c.root);
    let (path, _) = container_cgroup(&s, "web-6d9f8c7b5-h2j4k", "nginx");
    let usec = usec_ago(&c, 120.0);
    append_kmsg(
        &c,
        &[
            format!(
                "4,{usec};nginx invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=993"
            ),
            format!(
                "6,{usec};oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg={path},task=nginx,pid=31337,uid=101"
            ),
            format!(
                "3,{usec};Out of memory: Killed process 31337 (nginx) total-vm:9000000kB, anon-rss:8000000kB, file-rss:0kB, shmem-rss:0kB, UID:101 pgtables:16000kB oom_score_adj:993"
            ),
        ],
    );
    let (code, r) = check_json(&c.root, &[]);
    let g = finding(&r, "memory.global-oom");
    assert_eq!(g["subject"]["pod"], "web-6d9f8c7b5-h2j4k");
    assert_eq!(g["subject"]["pid"], 31337);
    let race = finding(&r, "memory.oom-race");
    assert_eq!(race["severity"], "critical");
    assert_eq!(race["evidence"]["kill_time"], "2026-11-22T02:58:00Z");
    assert_eq!(race["evidence"]["eviction_monitoring_interval_seconds"], 10);
    assert_eq!(race["evidence"]["hard_threshold"], "500Mi");
    assert_eq!(race["evidence"]["evicted_in_window"], false);
    assert!(
        race["evidence"]["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == "kernel")
    );
    assert!(
        !ids(&r).contains(&"memory.kernel-oom-kill".to_string()),
        "a global kill is not a container-limit kill"
    );
    assert_eq!(code, Some(2));

    // The kubelet's journal shows it evicted a pod 20 s before: not a race.
    let meta_path = "/nodescope-bundle.json";
    let mut meta: Value = serde_json::from_str(&c.read(meta_path)).unwrap();
    let t = "2026-11-22T02:57:40Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_microsecond() as u64;
    meta["journal"] = serde_json::json!([
        {"realtime_usec": t - 1_000_000, "unit": "kubelet.service", "message": "I1122 02:57:39.000000    1043 eviction_manager.go:369] \"Eviction manager: attempting to reclaim\" resourceName=\"memory\""},
        {"realtime_usec": t, "unit": "kubelet.service", "message": "I1122 02:57:40.000000    1043 eviction_manager.go:620] \"Eviction manager: pod is evicted successfully\" pod=\"kube-system/kube-proxy-7k2p9\""}
    ]);
    c.write(meta_path, &serde_json::to_string(&meta).unwrap());
    let (_, r) = check_json(&c.root, &[]);
    assert!(
        !ids(&r).contains(&"memory.oom-race".to_string()),
        "{:?}",
        ids(&r)
    );
    assert!(ids(&r).contains(&"memory.global-oom".to_string()));
}

#[test]
fn a_kubepods_limit_kill_is_a_race_when_the_kubelet_logged_nothing() {
    let c = Copy::of(V1);
    let usec = usec_ago(&c, 30.0);
    append_kmsg(
        &c,
        &[
            format!(
                "4,{usec};java invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=-997"
            ),
            format!(
                "6,{usec};oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/kubepods,task_memcg=/kubepods/besteffort/pod4f5a6b7c-8d9e-4f0a-9b1c-2d3e4f5a6b7c/crio-abc,task=java,pid=999,uid=0"
            ),
            format!(
                "3,{usec};Memory cgroup out of memory: Killed process 999 (java) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:1000"
            ),
        ],
    );
    let (_, r) = check_json(&c.root, &[]);
    let race = finding(&r, "memory.oom-race");
    assert_eq!(race["subject"]["pod"], "kube-proxy-q8w7e");
    assert!(
        race["title"].as_str().unwrap().contains("node-allocatable"),
        "{}",
        race["title"]
    );
}

#[test]
fn oom_fixtures_report_exactly_their_story() {
    let (code, r) = check_json(&fixture("oom-memcg-v2-systemd"), &[]);
    assert_eq!(
        ids_but_order(&r),
        ["memory.kernel-oom-kill", "memory.limit-near-peak"]
    );
    let k = finding(&r, "memory.kernel-oom-kill");
    assert_eq!(k["subject"]["container"], "nginx");
    assert_eq!(k["subject"]["pid"], 48213);
    assert_eq!(r["errors"], serde_json::json!([]));
    assert_eq!(code, Some(2));

    let (code, r) = check_json(&fixture("oom-global-v1-cgroupfs"), &[]);
    assert_eq!(ids_but_order(&r), ["memory.global-oom", "memory.oom-race"]);
    let g = finding(&r, "memory.global-oom");
    assert_eq!(g["subject"]["container"], "api");
    let race = finding(&r, "memory.oom-race");
    let tl = race["evidence"]["timeline"].as_array().unwrap();
    assert_eq!(tl[0]["source"], "kernel", "the kill came first: {tl:#?}");
    assert_eq!(
        tl.len(),
        5,
        "the kill and the kubelet's four lines 5 s later"
    );
    assert_eq!(
        race["evidence"]["why"],
        "the kubelet saw pressure but evicted nothing before the kill"
    );
    assert_eq!(code, Some(2));
}

#[test]
fn eviction_order_puts_the_pod_furthest_over_its_request_first_and_the_kernel_by_oom_score() {
    let c = Copy::of(V2);
    let (_, r) = check_json(&c.root, &[]);
    let f = finding(&r, "memory.eviction-order");
    assert_eq!(f["severity"], "info");
    let kubelet = f["evidence"]["kubelet"].as_array().unwrap();
    assert_eq!(kubelet.len(), 4);
    // kube-proxy is BestEffort (exceeds its zero request) but system-node-critical: ranked, never evicted.
    assert_eq!(kubelet[0]["pod"], "kube-proxy-7k2p9");
    assert_eq!(kubelet[0]["critical"], true);
    let kernel = f["evidence"]["kernel"].as_array().unwrap();
    let scores: Vec<i64> = kernel
        .iter()
        .map(|k| k["oom_score"].as_i64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(
        f["evidence"]["approximation"]
            .as_str()
            .unwrap()
            .contains("oom_score_adj")
    );

    // web's working set now far above its 128Mi request: the kubelet's first victim.
    let s = snapshot(&c.root);
    let web = pod(&s, "web-6d9f8c7b5-h2j4k");
    let dir = format!("/sys/fs/cgroup{}", web["cgroup"]["path"].as_str().unwrap());
    c.write(
        &format!("{dir}/memory.current"),
        &format!("{}\n", 900u64 << 20),
    );
    let (_, r) = check_json(&c.root, &[]);
    let f = finding(&r, "memory.eviction-order");
    let first = f["evidence"]["kubelet"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["critical"] == false)
        .unwrap();
    assert_eq!(first["pod"], "web-6d9f8c7b5-h2j4k");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .starts_with("kubelet would evict shop/web-6d9f8c7b5-h2j4k first"),
        "{}",
        f["title"]
    );
}

#[test]
fn a_process_that_lowered_its_own_oom_score_adj_is_named() {
    let c = Copy::of(V2);
    let s = snapshot(&c.root);
    let id = container(pod(&s, "web-6d9f8c7b5-h2j4k"), "nginx")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pr = s["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["container_id"] == id.as_str())
        .unwrap();
    c.write(&format!("/proc/{}/oom_score_adj", pr["pid"]), "-500\n");
    let (_, r) = check_json(&c.root, &[]);
    let m = &finding(&r, "memory.eviction-order")["evidence"]["oom_score_adj_mismatches"];
    assert_eq!(m.as_array().unwrap().len(), 1, "{m:#}");
    assert_eq!(m[0]["container"], "nginx");
    assert_eq!(m[0]["qos"], "Burstable");
    assert_eq!(m[0]["oom_score_adj"], -500);
}
