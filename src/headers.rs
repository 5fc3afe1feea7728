//! `-H/--header "key: value"` for `amqp-publish`: message headers with string values.
//!
//! As the original (rabbitmq-c tools/publish.c): the key is everything before the first `:`,
//! the value everything after it with leading spaces skipped; both are sent as AMQP long
//! strings. An entry without `:` is skipped with a warning on stderr and the message is still
//! published (upstream's fix; Debian's 0.11 then fails the publish).

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

/// One parsed header entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header name (text before the first `:`).
    pub key: String,
    /// The header value (text after the first `:`, leading spaces removed).
    pub value: String,
}

/// Parses one `-H` argument. Returns `None` when it has no `:`.
pub fn parse(entry: &str) -> Option<Header> {
    let (key, value) = entry.split_once(':')?;
    Some(Header {
        key: key.to_string(),
        value: value.trim_start_matches(' ').to_string(),
    })
}

/// The warning printed for an entry without `:`.
pub fn missing_colon_warning(entry: &str) -> String {
    format!("Ignored header definition missing ':' delimiter in \"{entry}\"")
}

/// Builds the headers table from all `-H` arguments, calling `warn` with a one-line message
/// for each entry without `:`. A key given twice keeps its last value (an AMQP field table
/// maps each key to one value). Returns `None` when no `-H` was given.
pub fn table(entries: &[String], mut warn: impl FnMut(&str)) -> Option<FieldTable> {
    if entries.is_empty() {
        return None;
    }
    let mut table = FieldTable::default();
    for entry in entries {
        match parse(entry) {
            Some(header) => {
                table.insert(
                    ShortString::from(header.key),
                    AMQPValue::LongString(LongString::from(header.value)),
                );
            }
            None => warn(&missing_colon_warning(entry)),
        }
    }
    Some(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_first_colon() {
        let h = parse("x-trace:  a:b ").unwrap();
        assert_eq!(h.key, "x-trace");
        assert_eq!(h.value, "a:b ");
        assert_eq!(parse("k:").unwrap().value, "");
        assert_eq!(parse("novalue"), None);
    }

    #[test]
    fn warns_and_skips_entries_without_colon() {
        let mut warnings = Vec::new();
        let t = table(&["a: 1".into(), "bad".into()], |w| {
            warnings.push(w.to_string())
        })
        .unwrap();
        assert_eq!(t.inner().len(), 1);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("\"bad\""));
    }
}
