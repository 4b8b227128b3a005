//! Kubernetes resource quantities (`250m`, `1`, `123456789n`, `512Mi`, `1Gi`, `1e3`) as plain
//! numbers in base units (cores, bytes), following apimachinery's `resource.Quantity` grammar.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid quantity {0:?}")]
pub struct QuantityError(pub String);

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
}
