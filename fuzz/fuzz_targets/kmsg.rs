//! /dev/kmsg records (`prio,seq,usec,flags;message`), the NVIDIA Xid and OOM-killer messages
//! in them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::collect::{self, parse_kmsg_record};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut records = Vec::new();
    for line in text.lines() {
        let Some(r) = parse_kmsg_record(line) else {
            continue;
        };
        assert!(r.level <= 7);
        // Written back in /dev/kmsg's own form, a record reads back the same.
        let prio = (u32::from(r.facility) << 3) | u32::from(r.level);
        let again = format!("{prio},{},{},-;{}", r.seq, r.usec, r.message);
        assert_eq!(parse_kmsg_record(&again).as_ref(), Some(&r), "{again:?}");
        if let Some(x) = collect::gpu::parse_xid(&r) {
            assert!(r.message.contains(&x.device));
        }
        records.push(r);
    }
    let kills = collect::oom::parse_oom_kills(&records);
    assert!(kills.len() <= records.len());
});
