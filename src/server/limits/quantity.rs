//! Kubernetes-style resource quantities, as the API carries them:
//! memory such as `256Mi`, `1.5Gi`, `500M`, `1e9` or `1073741824`, and CPU
//! such as `2`, `0.5` or `500m`.

/// Bytes in a memory quantity.
pub fn memory_bytes(q: &str) -> Result<u64, String> {
    let q = q.trim();
    let (num, unit) = split_unit(q);
    let factor: f64 = match unit {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "m" => 1e-3,
        _ => return Err(format!("memory {q:?}: unknown unit {unit:?}")),
    };
    let bytes = number(q, num)? * factor;
    if !(1.0..u64::MAX as f64).contains(&bytes) {
        return Err(format!("memory {q:?} is not a positive size"));
    }
    Ok(bytes.ceil() as u64)
}

/// The smallest CPU share enforced: 1 ms in each 100 ms, the kernel's
/// smallest quota.
pub const MIN_CPU_MILLIS: u64 = 10;

/// Thousandths of a CPU in a CPU quantity (at least [`MIN_CPU_MILLIS`]).
pub fn cpu_millis(q: &str) -> Result<u64, String> {
    let q = q.trim();
    let (num, unit) = split_unit(q);
    let factor = match unit {
        "" => 1000.0,
        "m" => 1.0,
        _ => {
            return Err(format!(
                "cpu {q:?}: unknown unit {unit:?} (use cores, or m)"
            ))
        }
    };
    let millis = number(q, num)? * factor;
    if !(1.0..1e12).contains(&millis) {
        return Err(format!("cpu {q:?} is not a positive amount"));
    }
    let millis = millis.ceil() as u64;
    if millis < MIN_CPU_MILLIS {
        return Err(format!(
            "cpu {q:?} is below the smallest share, {MIN_CPU_MILLIS}m"
        ));
    }
    Ok(millis)
}

/// (number, unit suffix). An exponent (`1e9`) belongs to the number.
fn split_unit(q: &str) -> (&str, &str) {
    let end = q
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_digit()
                || c == '.'
                || c == '+'
                || ((c == 'e' || c == 'E') && q[i + 1..].starts_with(|d: char| d.is_ascii_digit())))
        })
        .map_or(q.len(), |(i, _)| i);
    q.split_at(end)
}

fn number(q: &str, num: &str) -> Result<f64, String> {
    num.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| format!("{q:?} is not a quantity"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(memory_bytes("256Mi"), Ok(256 << 20));
        assert_eq!(memory_bytes("1.5Gi"), Ok(3 << 29));
        assert_eq!(memory_bytes("500M"), Ok(500_000_000));
        assert_eq!(memory_bytes("1e9"), Ok(1_000_000_000));
        assert_eq!(memory_bytes("4096"), Ok(4096));
        assert_eq!(memory_bytes(" 1Gi "), Ok(1 << 30));
        assert!(memory_bytes("0").is_err());
        assert!(memory_bytes("-1Gi").is_err());
        assert!(memory_bytes("12 parsecs").is_err());
        assert!(memory_bytes("").is_err());
        assert!(memory_bytes("1e400").is_err());
        assert!(memory_bytes("99999999999999999999Ei").is_err());
    }

    #[test]
    fn cpu_units() {
        assert_eq!(cpu_millis("2"), Ok(2000));
        assert_eq!(cpu_millis("0.5"), Ok(500));
        assert_eq!(cpu_millis("250m"), Ok(250));
        assert!(cpu_millis("0").is_err());
        assert!(cpu_millis("2Gi").is_err());
        assert!(cpu_millis("NaN").is_err());
        assert!(cpu_millis("5m").is_err());
        assert_eq!(cpu_millis("10m"), Ok(10));
    }
}
