//! `-H/--header "key: value"` for `amqp-publish`: message headers with string values.
//!
//! As the original (rabbitmq-c tools/publish.c): the key is everything before the first `:`,
//! the value everything after it with leading spaces skipped; the value is sent as an AMQP long
//! string, byte for byte (any bytes: a long string is not text). An entry without `:` is
//! skipped with a warning on stderr and the message is still published (upstream's fix;
//! Debian's 0.11 then fails the publish). The key is a field-table key, an AMQP short string:
//! one that is longer than 255 bytes or not UTF-8 is refused before connecting (see
//! [`crate::short_string`]; the original fails the publish with `invalid AMQP data`).

use crate::error::Error;
use crate::short_string;
use lapin::types::{AMQPValue, FieldTable, LongString};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// One parsed header entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header name (the bytes before the first `:`).
    pub key: Vec<u8>,
    /// The header value (the bytes after the first `:`, leading spaces removed).
    pub value: Vec<u8>,
}

/// Parses one `-H` argument. Returns `None` when it has no `:`.
pub fn parse(entry: impl AsRef<[u8]>) -> Option<Header> {
    let entry = entry.as_ref();
    let colon = entry.iter().position(|&b| b == b':')?;
    let value = &entry[colon + 1..];
    let spaces = value.iter().take_while(|&&b| b == b' ').count();
    Some(Header {
        key: entry[..colon].to_vec(),
        value: value[spaces..].to_vec(),
    })
}

/// The warning printed for an entry without `:`.
pub fn missing_colon_warning(entry: &str) -> String {
    format!("Ignored header definition missing ':' delimiter in \"{entry}\"")
}

/// Builds the headers table from all `-H` arguments, calling `warn` with a one-line message
/// for each entry without `:`. A key given twice keeps its last value (an AMQP field table
/// maps each key to one value). Returns `None` when no `-H` was given.
///
/// Names and values are sent as the bytes given, as the original does.
///
/// Errors ([`Error::Message`]): `--header: header name: CAUSE` for a name longer than 255
/// bytes.
pub fn table(
    entries: &[OsString],
    mut warn: impl FnMut(&str),
) -> Result<Option<FieldTable>, Error> {
    if entries.is_empty() {
        return Ok(None);
    }
    let mut table = FieldTable::default();
    for entry in entries {
        match parse(entry.as_bytes()) {
            Some(header) => {
                let key = short_string::octets(&header.key)
                    .map_err(|e| Error::Message(format!("--header: header name: {e}")))?;
                table.insert(key, AMQPValue::LongString(LongString::from(header.value)));
            }
            None => warn(&missing_colon_warning(&entry.to_string_lossy())),
        }
    }
    Ok(Some(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_first_colon() {
        let h = parse("x-trace:  a:b ").unwrap();
        assert_eq!(h.key, b"x-trace");
        assert_eq!(h.value, b"a:b ");
        assert_eq!(parse("k:").unwrap().value, b"");
        assert_eq!(parse(b"k: caf\xe9").unwrap().value, b"caf\xe9");
        assert_eq!(parse("novalue"), None);
    }

    #[test]
    fn warns_and_skips_entries_without_colon() {
        let mut warnings = Vec::new();
        let t = table(&["a: 1".into(), "bad".into()], |w| {
            warnings.push(w.to_string())
        })
        .unwrap()
        .unwrap();
        assert_eq!(t.inner().len(), 1);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("\"bad\""));
    }

    #[test]
    fn refuses_names_that_cannot_be_short_strings() {
        let long = OsString::from(format!("{}: v", "k".repeat(256)));
        assert!(table(&[long], |_| {}).is_err());
        let ok = OsString::from(format!("{}: v", "k".repeat(255)));
        assert!(table(&[ok], |_| {}).is_ok());
    }
}
