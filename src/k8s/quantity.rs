//! Kubernetes resource quantities (`250m`, `1`, `123456789n`, `512Mi`, `1Gi`, `1e3`): parsed
//! into plain numbers in base units (cores, bytes) following apimachinery's `resource.Quantity`
//! grammar (what the kube client reads), and printed in the canonical string form
//! `resource.Quantity.String()` gives (what the simulator's API front writes).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError(pub String);

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid quantity {:?}", self.0)
    }
}

impl std::error::Error for QuantityError {}

/// The value of a quantity in base units: `250m` → 0.25, `1Ki` → 1024, `1e3` → 1000.
pub fn parse(s: &str) -> Result<f64, QuantityError> {
    let err = || QuantityError(s.to_string());
    let t = s.trim();
    // Split the signed decimal number from its suffix.
    let digits_end = t
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || ((c == '+' || c == '-') && i == 0)))
        .map_or(t.len(), |(i, _)| i);
    let (number, suffix) = t.split_at(digits_end);
    let unsigned = number.trim_start_matches(['+', '-']);
    if unsigned.is_empty()
        || unsigned == "."
        || unsigned.matches('.').count() > 1
        || number.len() - unsigned.len() > 1
    {
        return Err(err());
    }
    let value: f64 = number.parse().map_err(|_| err())?;
    let multiplier = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        // A decimal exponent: `e3`, `E-2`, `e+6` (a bare `E` is exa, handled above).
        s if s.starts_with(['e', 'E']) => {
            let exp = &s[1..];
            let digits = exp.trim_start_matches(['+', '-']);
            if digits.is_empty()
                || !digits.bytes().all(|b| b.is_ascii_digit())
                || exp.len() - digits.len() > 1
            {
                return Err(err());
            }
            let e: i32 = exp.parse().map_err(|_| err())?;
            10f64.powi(e)
        }
        _ => return Err(err()),
    };
    let v = value * multiplier;
    if v.is_finite() { Ok(v) } else { Err(err()) }
}

/// CPU in millicores.
pub fn cpu_millis(s: &str) -> Result<f64, QuantityError> {
    parse(s).map(|cores| cores * 1000.0)
}

/// Memory in bytes.
pub fn bytes(s: &str) -> Result<f64, QuantityError> {
    parse(s)
}

/// CPU from millicores, canonical decimal form: `250m`, `1`, `1500m`.
pub fn format_cpu_millis(millis: i64) -> String {
    if millis % 1000 == 0 {
        format!("{}", millis / 1000)
    } else {
        format!("{millis}m")
    }
}

/// CPU from nanocores, as metrics-server reports it: `123456789n`, canonicalized like
/// apimachinery (`250000000n` prints as `250m`).
pub fn format_cpu_nanos(nanos: i64) -> String {
    const STEPS: [(i64, &str); 4] = [
        (1_000_000_000, ""),
        (1_000_000, "m"),
        (1_000, "u"),
        (1, "n"),
    ];
    if nanos == 0 {
        return "0".into();
    }
    for (unit, suffix) in STEPS {
        if nanos % unit == 0 {
            return format!("{}{suffix}", nanos / unit);
        }
    }
    format!("{nanos}n")
}

/// Bytes in canonical binary-SI form: `256Mi`, `184324Ki`, `1000` (not a multiple of 1024).
pub fn format_bytes_binary(bytes: i64) -> String {
    const STEPS: [(i64, &str); 5] = [
        (1 << 40, "Ti"),
        (1 << 30, "Gi"),
        (1 << 20, "Mi"),
        (1 << 10, "Ki"),
        (1, ""),
    ];
    if bytes == 0 {
        return "0".into();
    }
    for (unit, suffix) in STEPS {
        if bytes % unit == 0 {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

/// Bytes in canonical decimal-SI form (the HPA's memory averageValue): `134217728`, `120M`.
pub fn format_bytes_decimal(bytes: i64) -> String {
    const STEPS: [(i64, &str); 4] = [
        (1_000_000_000_000, "T"),
        (1_000_000_000, "G"),
        (1_000_000, "M"),
        (1_000, "k"),
    ];
    if bytes == 0 {
        return "0".into();
    }
    for (unit, suffix) in STEPS {
        if bytes % unit == 0 {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

/// MiB as a request or limit is usually written: `256Mi`.
pub fn format_mib(mib: u32) -> String {
    format_bytes_binary(i64::from(mib) << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn quantities_parse_in_base_units() {
        let cases = [
            ("250m", 0.25),
            ("1", 1.0),
            ("0", 0.0),
            ("123456789n", 0.123456789),
            ("1500u", 0.0015),
            ("512Mi", 512.0 * 1048576.0),
            ("1Gi", 1073741824.0),
            ("1Ki", 1024.0),
            ("2Ti", 2.0 * 1024f64.powi(4)),
            ("1e3", 1000.0),
            ("1E3", 1000.0),
            ("1e-3", 0.001),
            ("1e+3", 1000.0),
            ("1.5", 1.5),
            (".5", 0.5),
            ("1.", 1.0),
            ("+2", 2.0),
            ("-2", -2.0),
            ("1k", 1000.0),
            ("1M", 1e6),
            ("1G", 1e9),
            ("2E", 2e18),
            ("1.5Gi", 1.5 * 1073741824.0),
            (" 100m ", 0.1),
        ];
        for (s, want) in cases {
            let got = parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(close(got, want), "{s}: got {got}, want {want}");
        }
        assert!(close(cpu_millis("250m").unwrap_or(f64::NAN), 250.0));
        assert!(close(cpu_millis("2").unwrap_or(f64::NAN), 2000.0));
        assert!(close(
            cpu_millis("123456789n").unwrap_or(f64::NAN),
            123.456789
        ));
        assert!(close(bytes("64Mi").unwrap_or(f64::NAN), 67108864.0));
    }

    #[test]
    fn malformed_quantities_are_errors() {
        for s in [
            "", "m", "Mi", "1.2.3", "1mi", "1Kb", "1e", "1e1.5", "1ee3", "abc", "--1", "1 m", ".",
            "1Mi3", "1e+",
        ] {
            assert!(parse(s).is_err(), "{s:?} should not parse");
        }
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(format_cpu_millis(250), "250m");
        assert_eq!(format_cpu_millis(1000), "1");
        assert_eq!(format_cpu_millis(1500), "1500m");
        assert_eq!(format_cpu_nanos(123_456_789), "123456789n");
        assert_eq!(format_cpu_nanos(250_000_000), "250m");
        assert_eq!(format_cpu_nanos(2_000_000_000), "2");
        assert_eq!(format_cpu_nanos(1_500), "1500n");
        assert_eq!(format_cpu_nanos(2_000), "2u");
        assert_eq!(format_bytes_binary(184_320 * 1024), "180Mi");
        assert_eq!(format_bytes_binary(184_321 * 1024), "184321Ki");
        assert_eq!(format_bytes_binary(1000), "1000");
        assert_eq!(format_mib(4096), "4Gi");
        assert_eq!(format_bytes_decimal(134_217_728), "134217728");
        assert_eq!(format_bytes_decimal(120_000_000), "120M");
    }
}
