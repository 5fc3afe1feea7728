//! Number parsing for options, as popt reads them (C `strtoll` with base 0, then an `int`).

/// Parses an integer option value (`-c 10`, `--port=0x1628`) the way the original's popt does:
/// leading blanks and a sign allowed, `0x` for hexadecimal, a leading `0` for octal, the empty
/// string as 0, and the result limited to a C `int`.
///
/// Errors: `invalid numeric value` for anything else, `number too large or too small` outside
/// -2147483648..=2147483647 (popt's wording).
pub fn parse_int(text: &str) -> Result<i64, String> {
    let invalid = || "invalid numeric value".to_string();
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if trimmed.is_empty() {
        return Ok(0);
    }
    let (negative, unsigned) = match trimmed.as_bytes()[0] {
        b'-' => (true, &trimmed[1..]),
        b'+' => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let (radix, digits) = if let Some(hex) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        (16, hex)
    } else if unsigned.len() > 1 && unsigned.starts_with('0') {
        (8, &unsigned[1..])
    } else {
        (10, unsigned)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(invalid());
    }
    let magnitude = i128::from_str_radix(digits, radix)
        .map_err(|_| "number too large or too small".to_string())?;
    let value = if negative { -magnitude } else { magnitude };
    if value < i128::from(i32::MIN) || value > i128::from(i32::MAX) {
        return Err("number too large or too small".to_string());
    }
    Ok(value as i64)
}

/// The largest number of seconds a duration option takes (about 31 years): larger values
/// are surely typos.
pub const MAX_SECONDS: f64 = 1e9;

/// Parses a duration option in seconds (`--idle-timeout 5`, `--retry-delay 0.5`): a decimal
/// number above 0 and at most `MAX_SECONDS` (10^9).
///
/// Errors: `'X' is not a number of seconds above 0`.
pub fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if value > 0.0 && value <= MAX_SECONDS => {
            Ok(std::time::Duration::from_secs_f64(value))
        }
        _ => Err(format!(
            "'{text}' is not a number of seconds above 0 (at most 1000000000)"
        )),
    }
}

/// Parses a count option that must not be negative (`--max-redeliveries 3`), as
/// [`parse_int`] reads numbers.
///
/// Errors: those of [`parse_int`], and `'X' is negative`.
pub fn parse_count(text: &str) -> Result<u64, String> {
    let value = parse_int(text)?;
    u64::try_from(value).map_err(|_| format!("'{text}' is negative"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_as_popt_does() {
        assert_eq!(parse_int("42"), Ok(42));
        assert_eq!(parse_int("-1"), Ok(-1));
        assert_eq!(parse_int(" +7"), Ok(7));
        assert_eq!(parse_int("0x10"), Ok(16));
        assert_eq!(parse_int("010"), Ok(8));
        assert_eq!(parse_int("0"), Ok(0));
        assert_eq!(parse_int(""), Ok(0));
        assert_eq!(parse_int("abc"), Err("invalid numeric value".into()));
        assert_eq!(parse_int("5x"), Err("invalid numeric value".into()));
        assert_eq!(parse_int("-"), Err("invalid numeric value".into()));
        assert_eq!(parse_int("09"), Err("invalid numeric value".into()));
        assert_eq!(
            parse_int("2147483648"),
            Err("number too large or too small".into())
        );
        assert_eq!(parse_int("-2147483648"), Ok(-2147483648));
        assert!(parse_int("99999999999999999999999999").is_err());
    }

    #[test]
    fn reads_seconds_and_counts() {
        use std::time::Duration;
        assert_eq!(parse_seconds("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        for bad in ["0", "-1", "", "x", "nan", "inf", "1e10"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_count("3"), Ok(3));
        assert!(parse_count("-1").is_err());
    }
}
