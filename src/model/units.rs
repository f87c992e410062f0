//! Byte counts for humans, in one place: binary units as the kubelet prints quantities
//! (`9.1Gi`, `512Mi`, `100Ki`). Sizes on disk and in memory are `u64` ([`bytes`]); signals that
//! can go below zero, `memory.available` of a node past its limit, are `i64` ([`signed_bytes`]).

/// `b` bytes as `9.1Gi`, `512Mi`, `100Ki`, `512`: one decimal below 100 of a unit unless it
/// would be `.0`, none from 100 up.
pub fn bytes(b: u64) -> String {
    let mut v = b as f64;
    let mut unit = "";
    for u in ["Ki", "Mi", "Gi", "Ti", "Pi"] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    if unit.is_empty() {
        format!("{v:.0}")
    } else if v >= 100.0 || (v.fract() < 0.05) {
        format!("{v:.0}{unit}")
    } else {
        format!("{v:.1}{unit}")
    }
}

/// [`bytes`] of a count that may be negative: `-2Ki`.
pub fn signed_bytes(b: i64) -> String {
    let s = bytes(b.unsigned_abs());
    if b < 0 { format!("-{s}") } else { s }
}

/// [`bytes`], or `-` when the figure is unknown (a table cell).
pub fn bytes_or_dash(b: Option<u64>) -> String {
    b.map_or_else(|| "-".into(), bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_units_as_the_kubelet_prints_them() {
        assert_eq!(bytes(104_857_600), "100Mi");
        assert_eq!(bytes(9_771_050_598), "9.1Gi");
        assert_eq!(bytes(512), "512");
        assert_eq!(bytes(u64::MAX), "16384Pi");
        assert_eq!(signed_bytes(-2048), "-2Ki");
        assert_eq!(signed_bytes(i64::MIN), "-8192Pi");
        assert_eq!(bytes_or_dash(None), "-");
        assert_eq!(bytes_or_dash(Some(1536)), "1.5Ki");
    }
}
