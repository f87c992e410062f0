//! The DNS rules and `nodescope dns` on fixture bundles: what each pod's resolver does, which
//! rule fires for whom, and what stays silent.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use serde_json::Value;

const V2DNS: &str = "dns-v2-containerd";
const V1DNS: &str = "dns-conntrack-v1-crio";

fn dns_ids(r: &Value) -> Vec<String> {
    let mut v: Vec<String> = ids(r)
        .into_iter()
        .filter(|i| i.starts_with("dns.") || i.starts_with("net."))
        .collect();
    v.sort();
    v
}

fn findings<'a>(r: &'a Value, id: &str) -> Vec<&'a Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

#[test]
fn healthy_fixtures_have_no_dns_findings() {
    for f in [V1, V2] {
        let (_, r) = check_json(&fixture(f), &[]);
        assert_eq!(dns_ids(&r), Vec::<String>::new(), "{f}");
    }
}

#[test]
fn containerd_node_ndots_policy_default_and_nameserver_limit() {
    let (code, r) = check_json(&fixture(V2DNS), &[]);
    assert_eq!(code, Some(1), "warnings only");
    assert_eq!(r["errors"], serde_json::json!([]));
    assert_eq!(
        dns_ids(&r),
        [
            "dns.nameserver-limit",
            "dns.ndots-amplification",
            "dns.policy-default"
        ]
    );
    // Only checkout is ClusterFirst: 5 search domains (3 cluster + 2 from the node) + the name.
    let nd = findings(&r, "dns.ndots-amplification");
    assert_eq!(nd.len(), 1);
    assert_eq!(nd[0]["subject"]["pod"], "checkout-5f7c9d8b6-m4kq2");
    assert_eq!(
        nd[0]["severity"], "warning",
        "6 per family, past the default 4"
    );
    assert_eq!(nd[0]["evidence"]["queries_per_family"], 6);
    assert_eq!(
        nd[0]["evidence"]["queries"][0]["name"],
        "api.example.com.shop.svc.cluster.local."
    );
    assert_eq!(nd[0]["evidence"]["queries"][11]["name"], "api.example.com.");
    // web uses the node's servers by mistake; coredns by design, kube-proxy is hostNetwork.
    let pd = findings(&r, "dns.policy-default");
    assert_eq!(pd.len(), 1);
    assert_eq!(pd[0]["subject"]["pod"], "web-6d9f8c7b5-h2j4k");
    // The node's 4 servers: one finding for the node, naming the 3 pods that copy its list.
    let nl = findings(&r, "dns.nameserver-limit");
    assert_eq!(nl.len(), 1);
    assert_eq!(nl[0]["subject"]["node"], "node-a");
    assert_eq!(nl[0]["evidence"]["ignored"], serde_json::json!(["1.1.1.1"]));
    assert_eq!(
        nl[0]["evidence"]["pods_using_it"].as_array().unwrap().len(),
        3
    );
}

#[test]
fn crio_node_conntrack_race_table_full_and_search_limit_from_sandbox_copies() {
    let (code, r) = check_json(&fixture(V1DNS), &[]);
    assert_eq!(code, Some(2));
    assert_eq!(
        dns_ids(&r),
        [
            "dns.conntrack-race",
            "dns.ndots-amplification",
            "dns.ndots-amplification",
            "dns.search-limit",
            "dns.search-limit",
            "net.conntrack-table-full",
        ]
    );
    let race = finding(&r, "dns.conntrack-race");
    // Sums over the 4 CPU rows of the hex columns.
    assert_eq!(race["evidence"]["insert_failed"], 131 + 97 + 144 + 88);
    assert_eq!(race["evidence"]["drop"], 12 + 9 + 15 + 7);
    let full = finding(&r, "net.conntrack-table-full");
    assert_eq!(full["severity"], "critical", "packets were dropped");
    assert_eq!(full["evidence"]["table_full_messages"], 2);
    let sl = findings(&r, "dns.search-limit");
    assert!(sl.iter().all(|f| f["evidence"]["domains"] == 8));
    assert!(
        sl[0]["evidence"]["path"]
            .as_str()
            .unwrap()
            .starts_with("/run/containers/storage/overlay-containers/"),
        "read from CRI-O's sandbox copy"
    );
    // flannel and kube-proxy share the node's network namespace: never amplification.
    for f in findings(&r, "dns.ndots-amplification") {
        assert!(f["subject"]["namespace"] == "payments", "{f}");
        assert_eq!(f["evidence"]["queries_per_family"], 9);
    }
}

/// The kubelet's search limits (v1.28+): 32 domains and 2048 characters are fine, one more
/// domain or character is not (pkg/kubelet/network/dns/dns_test.go).
#[test]
fn search_limit_boundaries() {
    let with_search = |search: &str| {
        let c = Copy::of(V2DNS);
        c.write(
            "/proc/24608/root/etc/resolv.conf",
            &format!("search {search}\nnameserver 10.96.0.10\noptions ndots:5\n"),
        );
        let (_, r) = check_json(&c.root, &[]);
        findings(&r, "dns.search-limit")
            .iter()
            .map(|f| f["evidence"]["limit"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let n = |k: usize| {
        (1..=k)
            .map(|i| format!("d{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(with_search(&n(6)), Vec::<String>::new());
    assert_eq!(with_search(&n(7)), ["6 domains / 256 characters (legacy)"]);
    assert_eq!(with_search(&n(33)), ["32 domains / 2048 characters"]);
    // 2048 = 128 + 15 x 127 + 15 spaces, as the kubelet's own test builds it.
    let mut long = vec!["A".repeat(128)];
    long.extend((0..15).map(|_| "A".repeat(127)));
    assert_eq!(long.join(" ").len(), 2048);
    assert_eq!(
        with_search(&long.join(" ")),
        ["6 domains / 256 characters (legacy)"]
    );
    long.push("B".into());
    assert_eq!(
        with_search(&long.join(" ")),
        ["32 domains / 2048 characters"]
    );
}

#[test]
fn dns_command_table_and_json() {
    let o = run(&["--bundle", fixture(V2DNS).to_str().unwrap(), "dns"]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    for want in [
        "NAMESPACE",
        "checkout-5f7c9d8b6-m4kq2",
        "ClusterFirst",
        "hostNetwork",
        "Default",
        "api.example.com",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    let o = run(&[
        "--bundle",
        fixture(V2DNS).to_str().unwrap(),
        "dns",
        "--format",
        "json",
        "--name",
        "db.internal.example",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "nodescope-dns/1");
    let checkout = v["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pod"] == "checkout-5f7c9d8b6-m4kq2")
        .unwrap();
    assert_eq!(
        checkout["queries"], 12,
        "3 dots < ndots 5: 5 expansions + the name, x2"
    );
    assert_eq!(checkout["policy_guess"], "ClusterFirst");
    let web = v["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pod"] == "web-6d9f8c7b5-h2j4k")
        .unwrap();
    assert_eq!(web["policy_guess"], "Default");
}

#[test]
fn dns_probe_refuses_a_bundle() {
    let o = run(&[
        "--bundle",
        fixture(V2DNS).to_str().unwrap(),
        "dns",
        "probe",
        "api.example.com",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("live"));
}

/// A bundle made by another tool keeps the conntrack statistics at /proc/net/stat (no
/// /proc/1): they are read from there, and the race is found the same.
#[test]
fn conntrack_statistics_are_read_from_proc_net_when_proc_1_has_none() {
    let fx = "dns-conntrack-v1-crio";
    let (_, before) = check_json(&fixture(fx), &[]);
    let c = Copy::of(fx);
    let stat = c.read("/proc/1/net/stat/nf_conntrack");
    std::fs::remove_file(c.path("/proc/1/net/stat/nf_conntrack")).unwrap();
    std::fs::create_dir_all(c.path("/proc/net/stat")).unwrap();
    c.write("/proc/net/stat/nf_conntrack", &stat);
    let (_, after) = check_json(&c.root, &[]);
    let race = |r: &Value| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == "dns.conntrack-race")
            .map(|f| f["evidence"].clone())
    };
    assert!(race(&before).is_some());
    assert_eq!(race(&after), race(&before));
}

/// The file containerd writes for a `dnsPolicy: None` pod: the kubelet passes spec.dnsConfig
/// through as is (pkg/kubelet/network/dns/dns.go `GetPodDNS`, case `podDNSNone`) and the
/// runtime writes `search`, `nameserver`, `options` (containerd `parseDNSOptions`).
fn none_policy(c: &Copy, text: &str) {
    c.write("/proc/24671/root/etc/resolv.conf", text);
}

/// shop/web redeployed with `dnsPolicy: None` and a dnsConfig that copied the company's
/// resolvers and search domain but not the cluster's: dns.no-cluster-dns names it, with the
/// clusterDNS and search domains to add; dns.policy-default does not (these are not the node's
/// servers).
#[test]
fn a_dns_policy_none_pod_without_the_cluster_dns_is_found() {
    let c = Copy::of(V2DNS);
    none_policy(
        &c,
        "search corp.example\nnameserver 10.0.0.2\nnameserver 1.1.1.1\noptions ndots:2\n",
    );
    let (_, r) = check_json(&c.root, &[]);
    let nc = findings(&r, "dns.no-cluster-dns");
    assert_eq!(nc.len(), 1, "{:#}", r["findings"]);
    let f = nc[0];
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["subject"]["namespace"], "shop");
    assert_eq!(f["subject"]["pod"], "web-6d9f8c7b5-h2j4k");
    assert_eq!(
        f["title"],
        "shop/web-6d9f8c7b5-h2j4k: nameservers 10.0.0.2 1.1.1.1 include no cluster DNS (10.96.0.10) and no svc search domain: service names will not resolve"
    );
    assert_eq!(
        f["remedy"],
        "use dnsPolicy: ClusterFirst with only the extras in dnsConfig, or add 10.96.0.10 first to dnsConfig.nameservers and shop.svc.cluster.local svc.cluster.local cluster.local to dnsConfig.searches"
    );
    assert_eq!(f["evidence"]["search"], serde_json::json!(["corp.example"]));
    assert!(findings(&r, "dns.policy-default").is_empty());
}

/// A `dnsPolicy: None` pod that lists the cluster DNS (its own search list, the cluster's
/// server first) resolves services: nothing to report.
#[test]
fn a_dns_policy_none_pod_listing_the_cluster_dns_is_silent() {
    let c = Copy::of(V2DNS);
    none_policy(
        &c,
        "search shop.svc.cluster.local corp.example\nnameserver 10.96.0.10\nnameserver 10.0.0.2\noptions ndots:2\n",
    );
    let (_, r) = check_json(&c.root, &[]);
    assert!(findings(&r, "dns.no-cluster-dns").is_empty());
    assert!(findings(&r, "dns.policy-default").is_empty());
    // The unmodified fixture's Default pod stays dns.policy-default's alone.
    let (_, r) = check_json(&fixture(V2DNS), &[]);
    assert!(findings(&r, "dns.no-cluster-dns").is_empty());
}
