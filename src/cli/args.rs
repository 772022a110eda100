//! Parsers for the numeric flags. A bad value is clap's usage error (exit
//! 2, naming the flag), never a panic or a number quietly clamped to what
//! the protocol can carry.
use std::time::Duration;

/// Longest duration any flag accepts: about 31 years, far beyond any real
/// timeout or retention, and safe to add to any clock reading.
const MAX_SECONDS: f64 = 1e9;

/// The largest count or number of seconds the protocol carries (`int32`).
pub const MAX_WIRE: u32 = i32::MAX as u32;

// clap prints the value itself; these say what is wrong with it.
fn checked(secs: f64) -> Result<Duration, String> {
    if !secs.is_finite() || secs <= 0.0 {
        return Err("not a positive duration".into());
    }
    if secs > MAX_SECONDS {
        return Err(format!(
            "longer than {MAX_SECONDS:.0} seconds (about 31 years)"
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// A positive number of seconds, fractions allowed: `30`, `0.5`.
pub fn seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| "not a number of seconds".to_string())?;
    checked(secs)
}

/// A positive duration with a unit: `90s`, `15m`, `24h`, `7d`; a bare
/// number is seconds.
pub fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale = match unit {
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return Err(format!("unknown unit {unit:?} (use s, m, h or d)")),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| "not a duration (try 90s, 15m, 24h, 7d)".to_string())?;
    checked(n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_with_units() {
        assert_eq!(duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(duration("24h").unwrap(), Duration::from_secs(86400));
        assert_eq!(duration("1.5d").unwrap(), Duration::from_secs(129600));
        for bad in [
            "",
            "0",
            "-1h",
            "1w",
            "h",
            "NaN",
            "inf",
            "1e300d",
            "99999999999d",
        ] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn seconds_are_positive_and_bounded() {
        assert_eq!(seconds("0.25").unwrap(), Duration::from_millis(250));
        for bad in ["0", "-3", "nan", "inf", "1e10", "99999999999999999999", "x"] {
            assert!(seconds(bad).is_err(), "{bad:?}");
        }
    }
}
