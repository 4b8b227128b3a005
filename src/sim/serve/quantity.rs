//! Kubernetes quantities in their canonical string form (what `resource.Quantity.String()`
//! prints), and the parsing the HPA's averageValue targets need.

/// CPU from millicores, canonical decimal form: `250m`, `1`, `1500m`.
pub fn cpu_millis(millis: i64) -> String {
    if millis % 1000 == 0 {
        format!("{}", millis / 1000)
    } else {
        format!("{millis}m")
    }
}

/// CPU from nanocores, as metrics-server reports it: `123456789n`, canonicalized like
/// apimachinery (`250000000n` prints as `250m`).
pub fn cpu_nanos(nanos: i64) -> String {
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
pub fn bytes_binary(bytes: i64) -> String {
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
pub fn bytes_decimal(bytes: i64) -> String {
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
pub fn mib(mib: u32) -> String {
    bytes_binary(i64::from(mib) << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(cpu_millis(250), "250m");
        assert_eq!(cpu_millis(1000), "1");
        assert_eq!(cpu_millis(1500), "1500m");
        assert_eq!(cpu_nanos(123_456_789), "123456789n");
        assert_eq!(cpu_nanos(250_000_000), "250m");
        assert_eq!(cpu_nanos(2_000_000_000), "2");
        assert_eq!(cpu_nanos(1_500), "1500n");
        assert_eq!(cpu_nanos(2_000), "2u");
        assert_eq!(bytes_binary(184_320 * 1024), "180Mi");
        assert_eq!(bytes_binary(184_321 * 1024), "184321Ki");
        assert_eq!(bytes_binary(1000), "1000");
        assert_eq!(mib(4096), "4Gi");
        assert_eq!(bytes_decimal(134_217_728), "134217728");
        assert_eq!(bytes_decimal(120_000_000), "120M");
    }
}
