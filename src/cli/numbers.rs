//! Number parsing for options, with popt's error wording.

/// Parses a decimal integer option value (`-c 10`, `--port=5672`), accepting a leading `-` as
/// popt does. Errors: `invalid numeric value` for anything else, `number too large or too small`
/// past the range of `i64`.
pub fn parse_int(text: &str) -> Result<i64, String> {
    let trimmed = text.trim_start();
    if trimmed.is_empty()
        || !trimmed
            .trim_start_matches(['-', '+'])
            .chars()
            .all(|c| c.is_ascii_digit())
        || trimmed.trim_start_matches(['-', '+']).is_empty()
    {
        return Err("invalid numeric value".to_string());
    }
    trimmed
        .parse::<i64>()
        .map_err(|_| "number too large or too small".to_string())
}

/// Parses a non-negative integer option value (`--heartbeat 30`). Errors as [`parse_int`], and
/// `must not be negative` for a value below 0.
pub fn parse_non_negative(text: &str) -> Result<u64, String> {
    let value = parse_int(text)?;
    u64::try_from(value).map_err(|_| "must not be negative".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_signed_decimals() {
        assert_eq!(parse_int("42"), Ok(42));
        assert_eq!(parse_int("-1"), Ok(-1));
        assert!(parse_int("abc").is_err());
        assert!(parse_int("").is_err());
        assert!(parse_int("-").is_err());
        assert!(parse_int("99999999999999999999").is_err());
        assert!(parse_non_negative("-3").is_err());
    }
}
