//! Flat-keyed files: /proc/meminfo, PSI (/proc/pressure/*), `key value` files (memory.stat,
//! memory.events, memory.oom_control), /proc/uptime and /proc/loadavg, and the NVIDIA driver's
//! `Key: value` information files.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::collect::{self, parse_flat_keyed, parse_meminfo, parse_pressure};

fuzz_target!(|data: &[u8]| {
    if let Err((Some(line), _)) = parse_meminfo(data) {
        assert!(line >= 1);
    }
    let text = String::from_utf8_lossy(data);

    // `key value` lines written back read back the same.
    let kv = parse_flat_keyed(&text);
    let back: String = kv.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
    assert_eq!(parse_flat_keyed(&back), kv);

    if let Some(p) = parse_pressure(&text) {
        let mut lines = vec![&p.some];
        lines.extend(p.full.as_ref());
        // The kernel prints percentages with two decimals: such values survive a rewrite.
        if lines.iter().all(|l| {
            [l.avg10, l.avg60, l.avg300]
                .iter()
                .all(|v| (0.0..=100.0).contains(v))
        }) {
            let line = |name: &str, l: &nodescope::model::PsiLine| {
                format!(
                    "{name} avg10={:.2} avg60={:.2} avg300={:.2} total={}\n",
                    l.avg10, l.avg60, l.avg300, l.total_usec
                )
            };
            let mut again = line("some", &p.some);
            if let Some(f) = &p.full {
                again += &line("full", f);
            }
            assert_eq!(parse_pressure(&again).as_ref(), Some(&p), "{again:?}");
        }
    }

    let g = collect::gpu::parse_information(&text);
    if let Some(m) = &g.model {
        assert_eq!(m.trim(), m);
    }

    // Through the node collector and the memory rules: the same bytes as each of the node's
    // flat files (procfs-core reads uptime and loadavg).
    let mut host = nodescope_fuzz::empty_bundle();
    for p in [
        "/proc/meminfo",
        "/proc/uptime",
        "/proc/loadavg",
        "/proc/pressure/memory",
    ] {
        host.insert_file(p, data.to_vec()).unwrap();
    }
    let snap = nodescope_fuzz::collect_and_analyze(&host);
    assert_eq!(snap.memory.is_some(), parse_meminfo(data).is_ok());
});
