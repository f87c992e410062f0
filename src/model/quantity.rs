//! Kubernetes resource quantities (`100Mi`, `1.5Gi`, `500M`, `1e3`, `200m`) and Go durations
//! (`1m30s`), parsed the way apimachinery's `resource.ParseQuantity` and Go's
//! `time.ParseDuration` read them. Pure functions on strings.

/// Parses a quantity into its numeric value (bytes for memory, a count for pids).
/// Suffixes: binary `Ki Mi Gi Ti Pi Ei`, decimal `n u m k M G T P E`, or an exponent `e3`/`E3`
/// (apimachinery `resource/quantity.go`). Returns `None` for anything else.
pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let split = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || ((c == '+' || c == '-') && i == 0)))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() || num == "+" || num == "-" || num.matches('.').count() > 1 {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        e if e.starts_with(['e', 'E']) => {
            let exp: i32 = e[1..].parse().ok()?;
            10f64.powi(exp)
        }
        _ => return None,
    };
    // Zero is zero at any scale: 0 × 10^400 would be 0 × ∞, NaN.
    Some(if n == 0.0 { 0.0 } else { n * mult })
}

/// A quantity as whole bytes (or units), rounded up as `Quantity.Value()` does.
pub fn quantity_value(s: &str) -> Option<i64> {
    parse_quantity(s).map(|v| v.ceil() as i64)
}

/// Parses a Go duration (`300ms`, `1m30s`, `2h45m`, `0`) into seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    if s == "0" {
        return Some(0.0);
    }
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n_end == 0 {
            return None;
        }
        let n: f64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[u_end..];
        total += n * unit;
    }
    Some(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_like_apimachinery() {
        assert_eq!(quantity_value("100Mi"), Some(104_857_600));
        assert_eq!(quantity_value("1Gi"), Some(1_073_741_824));
        assert_eq!(quantity_value("1.5Gi"), Some(1_610_612_736));
        assert_eq!(quantity_value("500M"), Some(500_000_000));
        assert_eq!(quantity_value("1e3"), Some(1000));
        assert_eq!(quantity_value("4096"), Some(4096));
        assert_eq!(quantity_value("200m"), Some(1), "Value() rounds up");
        assert_eq!(parse_quantity("200m"), Some(0.2));
        // Regression (found by the quantity fuzz target): 0 with an exponent past f64's range
        // was NaN, which no comparison orders.
        assert_eq!(parse_quantity("0e8828"), Some(0.0));
        assert_eq!(quantity_value("-0e999"), Some(0));
        assert_eq!(parse_quantity("1e400"), Some(f64::INFINITY));
        for bad in ["", "Mi", "10Xi", "1.2.3", "-", "10 Mi"] {
            assert_eq!(parse_quantity(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_like_go() {
        assert_eq!(parse_duration("1m30s"), Some(90.0));
        assert_eq!(parse_duration("5m"), Some(300.0));
        assert_eq!(parse_duration("1.5h"), Some(5400.0));
        assert_eq!(parse_duration("300ms"), Some(0.3));
        assert_eq!(parse_duration("0"), Some(0.0));
        assert_eq!(
            parse_duration("10"),
            None,
            "a unit is required except for 0"
        );
        assert_eq!(parse_duration("1x"), None);
    }
}
