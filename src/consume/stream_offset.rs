//! `--stream-offset`: where a consumer of a RabbitMQ stream queue starts (the `x-stream-offset`
//! consumer argument of basic.consume).

use lapin::types::{AMQPValue, FieldTable, LongString};

/// Prefetch count used for a stream queue when neither `-c` nor `-p` sets one: RabbitMQ
/// requires a prefetch for stream consumers.
pub const DEFAULT_STREAM_PREFETCH: u16 = 100;

/// Parses an offset: `first`, `last`, `next`; a number (the offset in the stream); a point in
/// time as `@SECONDS` since the epoch or RFC 3339 (`2026-11-29T17:00:00Z`); or an interval back
/// from now as RabbitMQ reads it (`30s`, `10m`, `2h`, `7D`, `1M`, `1Y`).
///
/// Errors: a one-line description of the accepted forms.
pub fn parse(text: &str) -> Result<AMQPValue, String> {
    let word = |w: &str| Ok(AMQPValue::LongString(LongString::from(w.to_string())));
    match text {
        "first" | "last" | "next" => return word(text),
        _ => {}
    }
    if let Ok(offset) = text.parse::<i64>()
        && offset >= 0
    {
        return Ok(AMQPValue::LongLongInt(offset));
    }
    if let Some(seconds) = text.strip_prefix('@')
        && let Ok(seconds) = seconds.parse::<u64>()
    {
        return Ok(AMQPValue::Timestamp(seconds));
    }
    if let Ok(time) = humantime::parse_rfc3339_weak(text)
        && let Ok(since) = time.duration_since(std::time::UNIX_EPOCH)
    {
        return Ok(AMQPValue::Timestamp(since.as_secs()));
    }
    let (digits, unit) = text.split_at(text.len().saturating_sub(1));
    if !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && matches!(unit, "Y" | "M" | "D" | "h" | "m" | "s")
    {
        return word(text);
    }
    Err(format!(
        "'{text}' is not a stream offset (first, last, next, a number, @SECONDS, \
         an RFC 3339 time, or an interval such as 10m)"
    ))
}

/// The basic.consume arguments carrying the offset.
pub fn arguments(offset: Option<&AMQPValue>) -> FieldTable {
    let mut table = FieldTable::default();
    if let Some(offset) = offset {
        table.insert("x-stream-offset".into(), offset.clone());
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_form() {
        assert_eq!(
            parse("first").unwrap(),
            AMQPValue::LongString("first".into())
        );
        assert_eq!(parse("42").unwrap(), AMQPValue::LongLongInt(42));
        assert_eq!(
            parse("@1700000000").unwrap(),
            AMQPValue::Timestamp(1_700_000_000)
        );
        assert_eq!(
            parse("2023-11-14T22:13:20Z").unwrap(),
            AMQPValue::Timestamp(1_700_000_000)
        );
        assert_eq!(parse("10m").unwrap(), AMQPValue::LongString("10m".into()));
        assert!(parse("-1").is_err());
        assert!(parse("soon").is_err());
    }
}
