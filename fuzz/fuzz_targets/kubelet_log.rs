//! Kubelet log lines (klog headers, structured and old-style eviction-manager messages), read
//! at any capture time jiff can represent: klog carries no year.
//!
//! Input: 8 bytes of capture time (seconds, little-endian, folded into jiff's range), then
//! the log text.
#![no_main]
use jiff::{SignedDuration, Timestamp};
use libfuzzer_sys::fuzz_target;
use nodescope::collect::parse_kubelet_log_line;

fuzz_target!(|data: &[u8]| {
    let (now, text) = match data.split_first_chunk::<8>() {
        Some((head, rest)) => {
            let s = i64::from_le_bytes(*head);
            let (min, max) = (Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
            let folded = min + s.rem_euclid(max - min + 1);
            (Timestamp::from_second(folded).unwrap(), rest)
        }
        None => (nodescope_fuzz::CAPTURED_AT.parse().unwrap(), data),
    };
    let text = String::from_utf8_lossy(text);
    let horizon = now.checked_add(SignedDuration::from_hours(24)).ok();
    for line in text.lines() {
        let Some(e) = parse_kubelet_log_line(line, None, "/var/log/kubelet.log", now) else {
            continue;
        };
        // A klog time is read in the capture's year, or the one before when that would put it
        // more than a day after the capture.
        if let (Some(t), Some(h)) = (e.time, horizon) {
            assert!(t <= h, "{t} after {h}");
        }
        assert!(e.message.len() <= 512 + 4, "{}", e.message.len());
        // A time given by the journal wins over the klog header.
        let j = parse_kubelet_log_line(line, Some(now), "journal", now).unwrap();
        assert_eq!(j.time, Some(now));
        assert_eq!(
            (j.step, &j.pods, &j.resource),
            (e.step, &e.pods, &e.resource)
        );
    }
});
