//! Properties over generated input: the parsers of untrusted text never panic, and the
//! invariants the analysis relies on hold for every input, not only for the fixtures (resolver
//! caps, quantities that read back, rankings that only reorder, working set within usage).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code panics by design

use crate::common;
use common::*;
use nodescope::analyze::eviction_ranking::{
    self, DiskResource, FsStatsType, FsUsage, PodStats, RankedPod,
};
use nodescope::analyze::eviction_signals;
use nodescope::collect::{self, parse_flat_keyed, parse_kmsg_record, parse_kubelet_log_line};
use nodescope::model::cgroup_name::{parse_container_leaf, parse_pod_dir};
use nodescope::model::quantity::{parse_duration, parse_quantity, quantity_value};
use nodescope::model::resolv::{MAX_ATTEMPTS, MAX_NAMESERVERS, MAX_NDOTS, MAX_TIMEOUT};
use nodescope::model::{CgroupStats, KmsgRecord, RootMemory, ThresholdValue};
use nodescope::source::bundle::BundleHost;
use proptest::prelude::*;

/// Text that looks like the files parsed: mostly printable, with the separators they use.
fn texty() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~\t\n]{0,300}",
        "([a-z_:]{1,12}[ \t]+[0-9]{0,22}( kB)?\n){0,12}",
    ]
}

fn kmsg_line() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        (
            "[0-9]{1,4}",
            "[0-9]{1,20}",
            "[0-9]{1,21}",
            "[-c]",
            "[ -~]{0,120}"
        )
            .prop_map(|(p, s, u, f, m)| format!("{p},{s},{u},{f};{m}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn text_parsers_never_panic(text in texty()) {
        let _ = parse_flat_keyed(&text);
        let _ = collect::resolv::parse_resolv_conf(&text);
        let _ = collect::dns::parse_conntrack_stat(&text);
        let _ = parse_quantity(&text);
        let _ = quantity_value(&text);
        let _ = parse_duration(&text);
        let _ = parse_pod_dir(&text);
        let _ = parse_container_leaf(&text);
        let _ = ThresholdValue::parse("memory.available", &text);
        let now: jiff::Timestamp = "2026-11-22T03:00:00Z".parse().unwrap();
        for line in text.lines() {
            let _ = parse_kubelet_log_line(line, None, "kubelet.log", now);
        }
    }

    #[test]
    fn kmsg_and_oom_parsers_never_panic(lines in prop::collection::vec(kmsg_line(), 0..40)) {
        let records: Vec<KmsgRecord> = lines.iter().filter_map(|l| parse_kmsg_record(l)).collect();
        for r in &records {
            prop_assert!(r.level <= 7);
            let _ = collect::gpu::parse_xid(r);
        }
        let _ = collect::oom::parse_oom_kills(&records);
        // The OOM assembler also sees messages no record parser vetted.
        let raw: Vec<KmsgRecord> = lines
            .iter()
            .enumerate()
            .map(|(i, m)| KmsgRecord { level: 3, facility: 0, seq: i as u64, usec: i as u64, message: m.clone() })
            .collect();
        let _ = collect::oom::parse_oom_kills(&raw);
    }

    #[test]
    fn oom_lines_in_any_order_never_panic(picks in prop::collection::vec((0usize..8, "[0-9]{1,12}", "[a-z/._-]{0,24}"), 0..30)) {
        let records: Vec<KmsgRecord> = picks
            .iter()
            .enumerate()
            .map(|(i, (k, n, w))| {
                let message = match k {
                    0 => format!("{w} invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order={n}, oom_score_adj={n}"),
                    1 => format!("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset={w},mems_allowed=0,oom_memcg={w},task_memcg={w},task={w},pid={n},uid={n}"),
                    2 => format!("Memory cgroup out of memory: Killed process {n} ({w}) total-vm:{n}kB, anon-rss:{n}kB, file-rss:{n}kB, shmem-rss:{n}kB, UID:{n} pgtables:{n}kB oom_score_adj:{n}"),
                    3 => format!("Task in {w} killed as a result of limit of {w}"),
                    4 => format!("Memory cgroup out of memory: Kill process {n} ({w}) score {n} or sacrifice child"),
                    5 => format!("Killed process {n} ({w}) total-vm:{n}kB, anon-rss:{n}kB"),
                    6 => format!("Tasks in {w} are going to be killed due to memory.oom.group set"),
                    _ => format!("Out of memory: Killed process {n} ({w})"),
                };
                KmsgRecord { level: 3, facility: 0, seq: i as u64, usec: i as u64, message }
            })
            .collect();
        let kills = collect::oom::parse_oom_kills(&records);
        prop_assert!(kills.len() <= records.len());
    }

    #[test]
    fn resolv_conf_keeps_glibc_caps(
        lines in prop::collection::vec(
            prop_oneof![
                "nameserver [0-9.:a-f]{1,20}",
                "(search|domain)( [a-z.]{0,12}){0,8}",
                "options( (ndots|timeout|attempts):-?[0-9]{0,12}| rotate| edns0| [a-z-]{1,12}){0,6}",
                "[ -~]{0,40}",
            ],
            0..20,
        )
    ) {
        let text = lines.join("\n");
        let r = collect::resolv::parse_resolv_conf(&text);
        prop_assert!(r.nameservers.len() <= MAX_NAMESERVERS);
        prop_assert!(r.nameservers_listed.len() >= r.nameservers.len());
        prop_assert_eq!(&r.nameservers[..], &r.nameservers_listed[..r.nameservers.len()]);
        prop_assert!(r.ndots <= MAX_NDOTS);
        prop_assert!(r.timeout <= MAX_TIMEOUT);
        prop_assert!(r.attempts <= MAX_ATTEMPTS);
        prop_assert!(r.search.iter().all(|d| !d.is_empty() && !d.ends_with('.')));
        // A name costs at most one query pair per search domain plus the name itself.
        let plan = nodescope::analyze::dns::plan(&r, "example.com");
        prop_assert!(plan.len() <= 2 * (r.search.len() + 1));
        prop_assert!(!plan.is_empty());
        let _ = nodescope::analyze::dns::dead_server_seconds(&r);
    }

    #[test]
    fn binary_quantities_read_back_exactly(n in 0u64..(1 << 31), s in 0usize..5) {
        let (suffix, mult) = [("", 1u64), ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40)][s];
        let Some(want) = n.checked_mul(mult).filter(|&v| v <= i64::MAX as u64) else {
            return Ok(());
        };
        prop_assert_eq!(quantity_value(&format!("{n}{suffix}")), Some(want as i64));
        prop_assert_eq!(parse_quantity(&format!("{n}{suffix}")), Some(want as f64));
    }

    #[test]
    fn decimal_quantities_read_back_exactly(n in 0u64..1_000_000, s in 0usize..6) {
        let (suffix, mult) = [("", 1u64), ("k", 1_000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000), ("e3", 1_000)][s];
        prop_assert_eq!(quantity_value(&format!("{n}{suffix}")), Some((n * mult) as i64));
    }

    #[test]
    fn milli_quantities_round_up_to_whole_units(n in 0u64..10_000_000) {
        // `Quantity.Value()` rounds up: 1500m is 2, 3000m is 3.
        prop_assert_eq!(quantity_value(&format!("{n}m")), Some(n.div_ceil(1000) as i64));
    }

    #[test]
    fn human_bytes_reads_back_within_five_percent(b in any::<i64>()) {
        let shown = eviction_signals::human_bytes(b);
        let back = parse_quantity(&shown).unwrap();
        let err = (back - b as f64).abs();
        prop_assert!(err <= 0.05 * (b as f64).abs() + 0.5, "{b} shown as {shown} reads {back}");
    }

    #[test]
    fn go_durations_read_back(h in 0u32..1000, m in 0u32..60, s in 0u32..60, ms in 0u32..1000) {
        let text = format!("{h}h{m}m{s}s{ms}ms");
        let want = f64::from(h) * 3600.0 + f64::from(m) * 60.0 + f64::from(s) + f64::from(ms) / 1000.0;
        let got = parse_duration(&text).unwrap();
        prop_assert!((got - want).abs() < 1e-6, "{text}: {got} != {want}");
        prop_assert_eq!(parse_duration(&format!("-{text}")).map(|v| -v), Some(got));
    }

    #[test]
    fn percent_thresholds_resolve_within_capacity(p in 0.0f64..=100.0, capacity in 0u64..(1 << 50)) {
        let raw = format!("{p}%");
        match ThresholdValue::parse("memory.available", &raw).unwrap() {
            Some(t) => {
                let v = t.resolve(capacity);
                prop_assert!(v >= 0 && v as u64 <= capacity, "{raw} of {capacity} is {v}");
            }
            None => prop_assert!(raw == "0%" || raw == "100%"),
        }
    }

    #[test]
    fn working_set_never_exceeds_usage(usage in any::<u64>(), inactive in any::<Option<u64>>()) {
        let cg = CgroupStats { usage_bytes: Some(usage), inactive_file_bytes: inactive, ..Default::default() };
        prop_assert!(cg.working_set_bytes().unwrap() <= usage);
        let root = RootMemory { usage_bytes: usage, inactive_file_bytes: inactive.unwrap_or(0) };
        prop_assert!(root.working_set_bytes() <= usage);
    }
}

fn pod() -> impl Strategy<Value = RankedPod> {
    let usage = (0u64..1 << 40, 0u64..1 << 32);
    let stats = (
        prop::option::of(prop_oneof![0u64..1 << 40, any::<u64>()]),
        prop::option::of(prop_oneof![0u64..100_000, any::<u64>()]),
        usage.clone(),
        usage.clone(),
        usage,
    )
        .prop_map(|(ws, pc, r, l, v)| PodStats {
            working_set_bytes: ws,
            process_count: pc,
            rootfs: FsUsage {
                used_bytes: r.0,
                inodes_used: r.1,
            },
            logs: FsUsage {
                used_bytes: l.0,
                inodes_used: l.1,
            },
            local_volumes: FsUsage {
                used_bytes: v.0,
                inodes_used: v.1,
            },
        });
    (
        prop::option::of(any::<i32>()),
        prop::option::of(any::<i64>()),
        prop::option::of(any::<i64>()),
        prop::option::of(stats),
        any::<bool>(),
    )
        .prop_map(|(priority, mem, eph, stats, critical)| RankedPod {
            priority,
            memory_request_bytes: mem,
            ephemeral_storage_request_bytes: eph,
            stats,
            critical,
            ..Default::default()
        })
}

fn pods() -> impl Strategy<Value = Vec<RankedPod>> {
    prop::collection::vec(pod(), 0..40).prop_map(|mut v| {
        for (i, p) in v.iter_mut().enumerate() {
            p.uid = format!("uid-{i}");
        }
        v
    })
}

fn uids(pods: &[RankedPod]) -> Vec<String> {
    let mut u: Vec<String> = pods.iter().map(|p| p.uid.clone()).collect();
    u.sort();
    u
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn rankings_are_permutations(input in pods(), signal in 0usize..6, dedicated in any::<bool>(), split in any::<bool>()) {
        let mut m = input.clone();
        eviction_ranking::rank_memory_pressure(&mut m);
        prop_assert_eq!(uids(&m), uids(&input));
        // Pods without stats come first, as the kubelet's exceedMemoryRequests puts them.
        let first_with = m.iter().position(|p| p.stats.is_some()).unwrap_or(m.len());
        prop_assert!(m[first_with..].iter().all(|p| p.stats.is_some()));

        let mut p = input.clone();
        eviction_ranking::rank_pid_pressure(&mut p);
        prop_assert_eq!(uids(&p), uids(&input));
        // Ascending priority decides first.
        prop_assert!(p.windows(2).all(|w| w[0].priority.unwrap_or(0) <= w[1].priority.unwrap_or(0)));

        let sig = [
            eviction_ranking::DiskSignal::NodeFsAvailable,
            eviction_ranking::DiskSignal::NodeFsInodesFree,
            eviction_ranking::DiskSignal::ImageFsAvailable,
            eviction_ranking::DiskSignal::ImageFsInodesFree,
            eviction_ranking::DiskSignal::ContainerFsAvailable,
            eviction_ranking::DiskSignal::ContainerFsInodesFree,
        ][signal];
        let (fs, resource) = eviction_ranking::disk_rank_inputs(sig, dedicated, split);
        let mut d = input.clone();
        eviction_ranking::rank_disk_pressure(&mut d, fs, resource);
        prop_assert_eq!(uids(&d), uids(&input));
        let mut d = input.clone();
        eviction_ranking::rank_disk_pressure(&mut d, &[FsStatsType::Root, FsStatsType::Logs], DiskResource::Inodes);
        prop_assert_eq!(uids(&d), uids(&input));

        let candidates: Vec<&RankedPod> = eviction_ranking::eviction_candidates(&m).collect();
        prop_assert!(candidates.iter().all(|p| !p.critical));
        prop_assert_eq!(candidates.len(), m.iter().filter(|p| !p.critical).count());
    }

    #[test]
    fn ranking_is_idempotent(input in pods()) {
        let mut a = input.clone();
        eviction_ranking::rank_memory_pressure(&mut a);
        let mut b = a.clone();
        eviction_ranking::rank_memory_pressure(&mut b);
        prop_assert_eq!(
            a.iter().map(|p| &p.uid).collect::<Vec<_>>(),
            b.iter().map(|p| &p.uid).collect::<Vec<_>>()
        );
    }

    /// The order the pods were found in decides nothing but ties: ranking any shuffle of the
    /// input puts, at every position, a pod the comparators cannot tell from the one the
    /// unshuffled input put there.
    #[test]
    fn ranking_does_not_depend_on_the_input_order(
        (input, shuffled) in pods().prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
        which in 0usize..3,
    ) {
        let rank: fn(&mut [RankedPod]) = match which {
            0 => eviction_ranking::rank_memory_pressure,
            1 => eviction_ranking::rank_pid_pressure,
            _ => |p| eviction_ranking::rank_disk_pressure(p, &[FsStatsType::Root, FsStatsType::Logs], DiskResource::Inodes),
        };
        let mut a = input;
        rank(&mut a);
        let mut b = shuffled;
        rank(&mut b);
        for (x, y) in a.iter().zip(&b) {
            prop_assert!(ties(x, y, rank), "{} and {} differ but swapped places", x.uid, y.uid);
        }
    }
}

/// Whether the comparators find `a` and `b` equal: the sort is stable, so only equal pods keep
/// their input order both ways round.
fn ties(a: &RankedPod, b: &RankedPod, rank: fn(&mut [RankedPod])) -> bool {
    if a.uid == b.uid {
        return true;
    }
    let mut ab = vec![a.clone(), b.clone()];
    rank(&mut ab);
    let mut ba = vec![b.clone(), a.clone()];
    rank(&mut ba);
    ab[0].uid == a.uid && ba[0].uid == b.uid
}

proptest! {
    // Each case runs the whole collector over a fixture: fewer, bigger cases.
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The kubepods cgroup and the node root with any usage and inactive_file: the working set
    /// the analysis uses stays within usage, and `memory.available` never claims more than
    /// MemTotal minus what is used.
    #[test]
    fn working_set_within_usage_through_the_collector(
        usage in prop_oneof![0u64..1 << 40, any::<u64>()],
        inactive in prop_oneof![0u64..1 << 40, any::<u64>()],
        anon in 0u64..1 << 40,
        file in 0u64..1 << 40,
        root_inactive in prop_oneof![0u64..1 << 41, any::<u64>()],
    ) {
        let mut host = BundleHost::open(&fixture(V2)).unwrap();
        let kp = "/sys/fs/cgroup/kubepods.slice";
        host.insert_file(&format!("{kp}/memory.current"), format!("{usage}\n").into_bytes()).unwrap();
        let stat = String::from_utf8(host_read(&host, &format!("{kp}/memory.stat"))).unwrap();
        host.insert_file(&format!("{kp}/memory.stat"), set_key(&stat, "inactive_file", inactive).into_bytes()).unwrap();
        let root_stat = String::from_utf8(host_read(&host, "/sys/fs/cgroup/memory.stat")).unwrap();
        let root_stat = set_key(&set_key(&set_key(&root_stat, "anon", anon), "file", file), "inactive_file", root_inactive);
        host.insert_file("/sys/fs/cgroup/memory.stat", root_stat.into_bytes()).unwrap();

        let snap = collect::snapshot(&host);
        let kubepods = snap.kubepods.as_ref().unwrap();
        prop_assert_eq!(kubepods.usage_bytes, Some(usage));
        prop_assert!(kubepods.working_set_bytes().unwrap() <= usage);
        let root = snap.root_memory.unwrap();
        prop_assert_eq!(root.usage_bytes, anon + file);
        prop_assert!(root.working_set_bytes() <= root.usage_bytes);
        if let Some(o) = eviction_signals::memory_available(&snap) {
            prop_assert!(o.available <= o.capacity);
            prop_assert!(i128::from(o.available) >= i128::from(o.capacity) - i128::from(root.usage_bytes));
        }
        for p in &snap.pods {
            if let Some(cg) = &p.cgroup
                && let (Some(u), Some(ws)) = (cg.usage_bytes, cg.working_set_bytes())
            {
                prop_assert!(ws <= u);
            }
        }
        // And the rules run on it.
        let _ = nodescope::analyze::analyze(&snap);
    }
}

fn host_read(host: &BundleHost, path: &str) -> Vec<u8> {
    use nodescope::source::Host;
    host.read(path).unwrap()
}

/// `text` with the value of `key` (a flat-keyed `key value` line) set to `v`.
fn set_key(text: &str, key: &str, v: u64) -> String {
    let mut found = false;
    let mut out: Vec<String> = text
        .lines()
        .map(|l| match l.split_once(' ') {
            Some((k, _)) if k == key => {
                found = true;
                format!("{k} {v}")
            }
            _ => l.to_string(),
        })
        .collect();
    if !found {
        out.push(format!("{key} {v}"));
    }
    out.join("\n") + "\n"
}
