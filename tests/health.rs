//! The node-health rules on the real binary: each fires on the smallest edit of the healthy
//! containerd node that reproduces its cause (a kernel record, a runtime answer, a file the
//! kubelet or the runtime reads), with the title an SRE reads, and the healthy node stays
//! silent. The kubelet certificates are real ones, made here with rcgen.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::Value;

/// The healthy node's uptime: 864000.42 s, so a record at this many µs is `ago` seconds old.
fn usec_ago(ago: u64) -> u64 {
    864_000_420_000 - ago * 1_000_000
}

/// Appends kernel records to the copy's `dev/kmsg`.
fn kmsg(c: &Copy, records: &[(u8, u64, &str)]) {
    let mut text = c.read("/dev/kmsg");
    for (i, (prio, ago, msg)) in records.iter().enumerate() {
        text.push_str(&format!("{prio},{},{},-;{msg}\n", 9000 + i, usec_ago(*ago)));
    }
    c.write("/dev/kmsg", &text);
}

/// Edits the copy's `nodescope-bundle.json`.
fn meta(c: &Copy, edit: impl FnOnce(&mut Value)) {
    let mut m: Value = serde_json::from_str(&c.read("/nodescope-bundle.json")).unwrap();
    edit(&mut m);
    c.write(
        "/nodescope-bundle.json",
        &serde_json::to_string_pretty(&m).unwrap(),
    );
}

fn mkdirs(c: &Copy, p: &str) {
    std::fs::create_dir_all(c.path(p)).unwrap();
}

/// The findings of `id`, and the report.
fn findings(c: &Copy, id: &str) -> (Vec<Value>, Value) {
    let (_, r) = check_json(&c.root, &[]);
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .cloned()
        .collect();
    (f, r)
}

fn only(c: &Copy, id: &str) -> Value {
    let (f, r) = findings(c, id);
    assert_eq!(f.len(), 1, "{id}: {:#}", r["findings"]);
    f.into_iter().next().unwrap()
}

#[test]
fn the_healthy_node_has_none_of_them() {
    let (_, r) = check_json(&fixture(V2), &[]);
    let ours = [
        "kernel.",
        "fs.",
        "runtime.",
        "kubelet.",
        "cpu.",
        "net.cni",
        "node.clock",
        "node.swap",
        "node.service",
        "disk.filesystem-full",
    ];
    for id in ids(&r) {
        assert!(
            !ours.iter().any(|p| id.starts_with(p)),
            "{id} on the healthy node"
        );
    }
}

#[test]
fn kernel_records_hung_task_lockup_io_error_and_read_only_remount() {
    let c = Copy::of(V2);
    kmsg(
        &c,
        &[
            (
                3,
                300,
                "INFO: task kubelet:1043 blocked for more than 120 seconds.",
            ),
            (
                0,
                240,
                "watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [runc:[1:CHILD]:4242]",
            ),
            (
                3,
                200,
                "blk_update_request: I/O error, dev vda, sector 2048 op 0x1:(WRITE) flags 0x0 phys_seg 1 prio class 0",
            ),
            (
                3,
                120,
                "EXT4-fs error (device vda1): ext4_journal_check_start:83: comm kubelet: Detected aborted journal",
            ),
            (2, 60, "EXT4-fs (vda1): Remounting filesystem read-only"),
        ],
    );
    let f = only(&c, "kernel.hung-task");
    assert_eq!(
        f["title"],
        "task kubelet (pid 1043) was blocked in the kernel for more than 120 s, 5m ago (1 report(s))"
    );
    assert_eq!(f["subject"]["pid"], 1043);
    let f = only(&c, "kernel.soft-lockup");
    assert_eq!(f["severity"], "critical");
    assert_eq!(
        f["title"],
        "1 soft lockup(s), 0 hard lockup(s) and 0 RCU stall(s) in the last 24 h; the last 4m ago: watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [runc:[1:CHILD]:4242]"
    );
    let (io, _) = findings(&c, "fs.io-error");
    let devices: Vec<&str> = io
        .iter()
        .map(|f| f["subject"]["device"].as_str().unwrap())
        .collect();
    assert_eq!(devices, ["vda", "vda1"]);
    assert_eq!(
        io[1]["title"],
        "1 I/O or filesystem error record(s) for vda1 (mounted at /) in the last 24 h; the last 2m ago: EXT4-fs error (device vda1): ext4_journal_check_start:83: comm kubelet: Detected aborted journal"
    );
    let f = only(&c, "fs.read-only");
    assert_eq!(
        f["title"],
        "the kernel made ext4 on vda1 (mounted at /) read-only after errors, 1m ago: EXT4-fs (vda1): Remounting filesystem read-only"
    );
    // A day later the same records are history.
    meta(&c, |m| m["captured_at"] = "2026-11-23T03:00:01Z".into());
    c.write("/proc/uptime", "950400.42 1700321.87\n");
    let (_, r) = check_json(&c.root, &[]);
    for id in ids(&r) {
        assert!(!id.starts_with("kernel.") && !id.starts_with("fs."), "{id}");
    }
}

#[test]
fn a_read_only_mount_under_the_kubelet_root() {
    let c = Copy::of(V2);
    let mi = c.read("/proc/1/mountinfo")
        + "240 22 7:3 / /var/lib/kubelet ro,relatime shared:301 - ext4 /dev/loop3 ro\n";
    c.write("/proc/1/mountinfo", &mi);
    meta(&c, |m| {
        m["statvfs"]["/var/lib/kubelet"] = serde_json::json!({"bsize": 4096, "frsize": 4096,
            "blocks": 4096, "bfree": 3000, "bavail": 2800, "files": 1024, "ffree": 1000, "favail": 1000});
    });
    let f = only(&c, "fs.read-only");
    assert_eq!(
        f["title"],
        "/var/lib/kubelet (ext4 on /dev/loop3) is mounted read-only: kubelet root (/var/lib/kubelet) cannot be written"
    );
    assert_eq!(f["subject"]["path"], "/var/lib/kubelet");
}

#[test]
fn a_full_run_tmpfs_names_its_largest_file() {
    let c = Copy::of(V2);
    meta(&c, |m| {
        let st = &mut m["statvfs"]["/run"];
        let blocks = st["blocks"].as_u64().unwrap();
        st["bfree"] = 0.into();
        st["bavail"] = 0.into();
        assert!(blocks > 0);
        m["walks"]["/run"] = serde_json::json!({"path": "/run", "bytes": 1, "apparent_bytes": 1,
            "files": 2, "dirs": 1, "complete": true, "unreadable": 0,
            "largest_files": [{"path": "/run/containerd/huge.log", "bytes": 1_600_000_000u64}],
            "densest_dirs": []});
    });
    let f = only(&c, "disk.filesystem-full");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["subject"]["path"], "/run");
    let t = f["title"].as_str().unwrap();
    assert!(
        t.starts_with("/run (tmpfs) is full: 100% of its bytes used (0 of ")
            && t.ends_with("; largest file /run/containerd/huge.log (1.5Gi)"),
        "{t}"
    );
}

#[test]
fn the_runtimes_network_not_ready_and_a_missing_cni_plugin() {
    let c = Copy::of(V2);
    meta(&c, |m| {
        m["cri"] = serde_json::json!({
            "endpoint": "unix:///run/containerd/containerd.sock",
            "status": [
                {"type": "RuntimeReady", "status": true, "reason": "", "message": ""},
                {"type": "NetworkReady", "status": false, "reason": "NetworkPluginNotReady",
                 "message": "Network plugin returns error: cni plugin not initialized"}
            ]
        });
    });
    let f = only(&c, "runtime.not-ready");
    assert_eq!(
        f["title"],
        "the container runtime reports NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"
    );
    // No /etc/cni/net.d at all: the runtime's word makes it a finding.
    let f = only(&c, "net.cni-missing");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .starts_with("/etc/cni/net.d does not exist")
    );

    // Calico's conflist (projectcalico/calico cni-plugin install: 10-calico.conflist) with
    // only portmap installed.
    mkdirs(&c, "/etc/cni/net.d");
    mkdirs(&c, "/opt/cni/bin");
    c.write(
        "/etc/cni/net.d/10-calico.conflist",
        r#"{"name": "k8s-pod-network", "cniVersion": "0.3.1", "plugins": [
  {"type": "calico", "log_level": "info", "datastore_type": "kubernetes", "ipam": {"type": "calico-ipam"},
   "policy": {"type": "k8s"}, "kubernetes": {"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"}},
  {"type": "portmap", "snat": true, "capabilities": {"portMappings": true}},
  {"type": "bandwidth", "capabilities": {"bandwidth": true}}]}
"#,
    );
    c.write("/opt/cni/bin/portmap", "");
    let f = only(&c, "net.cni-missing");
    assert_eq!(
        f["title"],
        "/etc/cni/net.d/10-calico.conflist names CNI plugin(s) calico, bandwidth that are not in /opt/cni/bin"
    );
    c.write("/opt/cni/bin/calico", "");
    c.write("/opt/cni/bin/bandwidth", "");
    assert!(findings(&c, "net.cni-missing").0.is_empty());
}

/// A PEM certificate valid from `from` to `to` (y, m, d), signed by a throwaway CA.
fn cert(cn: &str, from: (i32, u8, u8), to: (i32, u8, u8)) -> String {
    let mut ca = rcgen::CertificateParams::new(vec![]).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "kubernetes");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let mut p = rcgen::CertificateParams::new(vec!["node-a".to_string()]).unwrap();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.distinguished_name
        .push(rcgen::DnType::OrganizationName, "system:nodes");
    p.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    p.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
    let key = rcgen::KeyPair::generate().unwrap();
    let c = p.signed_by(&key, &issuer).unwrap();
    // The kubelet writes its client certificate and key into one file.
    format!("{}{}", c.pem(), key.serialize_pem())
}

#[test]
fn real_expired_and_expiring_kubelet_certificates() {
    let c = Copy::of(V2);
    mkdirs(&c, "/var/lib/kubelet/pki");
    // Captured at 2026-11-22T03:00:00Z: the client certificate ended two days before, the
    // serving one ends in under three days.
    let client = cert("system:node:node-a", (2025, 11, 20), (2026, 11, 20));
    // The first base64 line of the private key block.
    let key_line = client
        .lines()
        .skip_while(|l| !l.contains("BEGIN PRIVATE KEY"))
        .nth(1)
        .unwrap()
        .to_string();
    assert!(key_line.len() > 40, "{key_line}");
    c.write("/var/lib/kubelet/pki/kubelet-client-current.pem", &client);
    c.write(
        "/var/lib/kubelet/pki/kubelet.crt",
        &cert("node-a@1732240000", (2025, 11, 25), (2026, 11, 25)),
    );
    let (f, r) = findings(&c, "kubelet.cert-expiry");
    assert_eq!(f.len(), 2, "{:#}", r["findings"]);
    assert_eq!(f[0]["severity"], "critical");
    assert_eq!(
        f[0]["title"],
        "the kubelet's client certificate /var/lib/kubelet/pki/kubelet-client-current.pem expired 2d3h ago (notAfter 2026-11-20T00:00:00Z)"
    );
    assert_eq!(
        f[0]["evidence"]["subject"],
        "CN=system:node:node-a, O=system:nodes"
    );
    assert_eq!(f[1]["severity"], "warning");
    assert_eq!(
        f[1]["title"],
        "the kubelet's serving certificate /var/lib/kubelet/pki/kubelet.crt expires in 2d21h (notAfter 2026-11-25T00:00:00Z)"
    );
    // The private key in the same file reaches no output.
    let out = run(&["--bundle", c.root.to_str().unwrap(), "snapshot"]);
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), r);
    assert!(!all.contains("PRIVATE KEY") && !all.contains(&key_line));
}

#[test]
fn an_unsynchronised_clock_and_no_time_daemon() {
    let c = Copy::of(V2);
    // adjtimex as a node whose chronyd died 9 hours ago reads it: STA_UNSYNC | STA_PLL.
    meta(&c, |m| {
        m["clock"] = serde_json::json!({"state": 5, "status": 65, "maxerror_usec": 16000000,
                                         "esterror_usec": 16000000});
    });
    let f = only(&c, "node.clock-unsynced");
    assert_eq!(
        f["title"],
        "the kernel clock is unsynchronised (adjtimex STA_UNSYNC); no time daemon runs (chronyd, ntpd, systemd-timesyncd, ptp4l)"
    );
    assert_eq!(f["evidence"]["adjtimex"]["status"], "0x0041");
}

#[test]
fn a_throttled_container_and_cpu_pressure() {
    let c = Copy::of(V2);
    let s = snapshot(&c.root);
    let web = pod(&s, "web-6d9f8c7b5-h2j4k");
    let cg = container(web, "nginx")["cgroup"]["path"]
        .as_str()
        .unwrap()
        .to_string();
    // cgroup v2 cpu.stat and cpu.max of a container limited to 250m (Documentation/admin-guide/
    // cgroup-v2.rst).
    c.write(
        &format!("/sys/fs/cgroup{cg}/cpu.stat"),
        "usage_usec 812345678\nuser_usec 700000000\nsystem_usec 112345678\nnr_periods 48210\nnr_throttled 21377\nthrottled_usec 1934567890\nnr_bursts 0\nburst_usec 0\n",
    );
    c.write(&format!("/sys/fs/cgroup{cg}/cpu.max"), "25000 100000\n");
    let f = only(&c, "cpu.throttling");
    assert_eq!(
        f["title"],
        "shop/web-6d9f8c7b5-h2j4k container nginx was throttled in 44% of its CFS periods (21377 of 48210; limit 0.25 CPU, 812.3 CPU-s used, 1934.6 s throttled)"
    );
    assert_eq!(f["subject"]["container"], "nginx");
    c.write(
        "/proc/pressure/cpu",
        "some avg10=72.15 avg60=64.02 avg300=41.30 total=912345678\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    );
    let f = only(&c, "cpu.pressure");
    assert_eq!(
        f["title"],
        "CPU pressure: tasks waited for a CPU 72% of the last 10 s (PSI some avg10)"
    );
}

#[test]
fn a_kubelet_restarted_by_systemd_and_swap_on() {
    let c = Copy::of(V2);
    // 2026-11-22T03:00:00Z in µs since the epoch, and the journal's entries of systemd about
    // kubelet.service (src/core/service.c `service_enter_restart`).
    let now = 1_795_316_400_000_000u64;
    meta(&c, |m| {
        m["journal"] = serde_json::json!([1500u64, 900, 300].iter().enumerate().map(|(i, ago)| {
            serde_json::json!({"realtime_usec": now - ago * 1_000_000, "unit": "kubelet.service",
                "message": format!("kubelet.service: Scheduled restart job, restart counter is at {}.", i + 4)})
        }).collect::<Vec<_>>());
    });
    let f = only(&c, "node.service-flapping");
    assert_eq!(
        f["title"],
        "systemd restarted kubelet.service 3 times in the last hour (restart counter at 6)"
    );
    assert_eq!(f["subject"]["unit"], "kubelet.service");
    c.write(
        "/proc/swaps",
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swap.img                               file\t\t4194300\t\t0\t\t-2\n",
    );
    let f = only(&c, "node.swap-on");
    assert_eq!(
        f["title"],
        "swap is on (1 area(s), 4095 MiB) and the kubelet's failSwapOn is true: it refuses to start"
    );
}
