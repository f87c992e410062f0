//! Kubernetes resource quantities (`100Mi`, `1.5Gi`, `200m`, `1e3`), Go durations (`1m30s`)
//! and eviction thresholds (`10%`, `500Mi`), as the kubelet configuration and API objects hold
//! them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::analyze::eviction_signals::human_bytes;
use nodescope::model::kubelet::ThresholdValue;
use nodescope::model::quantity::{parse_duration, parse_quantity, quantity_value};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();
    if let Some(v) = parse_quantity(s) {
        assert!(!v.is_nan(), "{s:?}");
        assert!(quantity_value(s).is_some());
        // Whitespace around a quantity does not change it.
        assert_eq!(parse_quantity(&format!(" {s}\t")), Some(v));
    }
    if let Some(d) = parse_duration(s) {
        let t = s.trim();
        // A negative duration is the positive one negated (Go's ParseDuration).
        if !t.starts_with(['-', '+']) && t != "0" {
            assert_eq!(parse_duration(&format!("-{t}")), Some(-d), "{s:?}");
        }
    }
    for signal in ["memory.available", "nodefs.inodesFree", "pid.available"] {
        match ThresholdValue::parse(signal, s) {
            Ok(Some(t)) => {
                for cap in [0u64, 1, 1 << 20, 16 << 30, u64::MAX / 2, u64::MAX] {
                    let v = t.resolve(cap);
                    if let ThresholdValue::Percent(_) = t {
                        assert!(v >= 0 && (v as u64) <= cap, "{s:?} of {cap} is {v}");
                    }
                }
                // Shown and read again, a threshold is the same; except that `0.0%` and
                // `100.0%` show as the `0%` and `100%` the kubelet ignores.
                if !matches!(t, ThresholdValue::Percent(p) if p == 0.0 || p == 100.0) {
                    let back = ThresholdValue::parse(signal, &t.to_string())
                        .unwrap()
                        .unwrap();
                    assert_eq!(format!("{back:?}"), format!("{t:?}"));
                }
            }
            Ok(None) => assert!(matches!(s.trim(), "0%" | "100%")),
            Err(e) => assert!(!e.is_empty()),
        }
    }
    if let Some(head) = data.first_chunk::<8>() {
        let b = i64::from_le_bytes(*head);
        let shown = human_bytes(b);
        let back = parse_quantity(&shown).unwrap();
        assert!(
            (back - b as f64).abs() <= 0.05 * (b as f64).abs() + 0.5,
            "{b} shown as {shown}"
        );
    }
});
