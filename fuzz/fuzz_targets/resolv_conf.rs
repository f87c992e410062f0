//! resolv.conf (the node's, the kubelet's --resolv-conf, each pod sandbox's), with glibc's
//! caps, and the query plan derived from it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::collect::resolv::parse_resolv_conf;
use nodescope::model::resolv::{MAX_ATTEMPTS, MAX_NAMESERVERS, MAX_NDOTS, MAX_TIMEOUT};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let r = parse_resolv_conf(&text);
    assert!(r.nameservers.len() <= MAX_NAMESERVERS);
    assert!(r.nameservers_listed.len() >= r.nameservers.len());
    assert_eq!(
        &r.nameservers[..],
        &r.nameservers_listed[..r.nameservers.len()]
    );
    assert!(r.ndots <= MAX_NDOTS);
    assert!(r.timeout <= MAX_TIMEOUT);
    assert!(r.attempts <= MAX_ATTEMPTS);
    assert!(r.search.iter().all(|d| !d.is_empty() && !d.ends_with('.')));
    for name in ["example.com", "kubernetes.default.svc", "a.b.c.d.e.f.", "x"] {
        let plan = nodescope::analyze::dns::plan(&r, name);
        assert!(!plan.is_empty());
        assert!(plan.len() <= 2 * (r.search.len() + 1));
    }
    let _ = nodescope::analyze::dns::dead_server_seconds(&r);
    // Written back as a resolv.conf, the configuration reads back the same.
    let mut again = String::new();
    for ns in &r.nameservers_listed {
        again += &format!("nameserver {ns}\n");
    }
    if !r.search.is_empty() {
        again += &format!("search {}\n", r.search.join(" "));
    }
    again += &format!(
        "options ndots:{} timeout:{} attempts:{}",
        r.ndots, r.timeout, r.attempts
    );
    for (on, name) in [
        (r.rotate, "rotate"),
        (r.single_request, "single-request"),
        (r.single_request_reopen, "single-request-reopen"),
        (r.use_vc, "use-vc"),
        (r.edns0, "edns0"),
        (r.trust_ad, "trust-ad"),
    ] {
        if on {
            again += &format!(" {name}");
        }
    }
    for o in &r.unknown_options {
        again += &format!(" {o}");
    }
    assert_eq!(parse_resolv_conf(&again), r, "{again:?}");
});
