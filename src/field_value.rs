//! Typed AMQP field values on the command line (`--arg`, `--typed-header`) and their text form
//! for the consuming command's environment.
//!
//! `KEY=VALUE` pairs are read with VALUE as JSON when it is valid JSON, else as a string:
//! `x-max-length=10` is a long-long integer, `flag=true` a boolean, `ratio=0.5` a double,
//! `x-queue-type=quorum` (not JSON) and `code="10"` (a JSON string) are strings, `[1,"a"]` is a
//! field array and `{"k":1}` a nested field table; `null` is void (AMQP 0-9-1 §4.2.5.5 field
//! types as RabbitMQ reads them). The other types are written as in the JSON lines format
//! (`{"$u8":250}`, `{"$timestamp":1700000000}`, ...; see [`crate::message_json::value`]).

use crate::message_json::tree::Json;
use crate::message_json::value;
use crate::short_string;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use serde_json::Value;

/// Parses `KEY=VALUE` into a field name and a typed value.
///
/// Errors: `expected KEY=VALUE` when there is no `=` or the key is empty, and a field name (the
/// key, or a key of a JSON object in the value) longer than 255 bytes (a short string, see
/// [`crate::short_string`]).
pub fn parse_pair(text: &str) -> Result<(ShortString, AMQPValue), String> {
    let (key, value) = text
        .split_once('=')
        .filter(|(key, _)| !key.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got '{text}'"))?;
    let name = short_string::new(key).map_err(|e| format!("field name: {e}"))?;
    Ok((name, parse_value_at(value, key)?))
}

/// Reads one value: JSON when it parses as JSON, in the format of the JSON lines
/// ([`crate::message_json::value`]: plain values, and `{"$u8":250}`-style tagged ones for the
/// other types), else the text as a long string.
///
/// Errors: JSON that is not a valid field value (an unknown `$` tag, a value out of its
/// tag's range, a duplicate key), naming the cause.
pub fn parse_value(text: &str) -> Result<AMQPValue, String> {
    parse_value_at(text, "value").map_err(|e| e.replacen("value: ", "", 1))
}

/// As [`parse_value`], errors naming the place in the value from `path` (the field name:
/// `x-t: field name: ...`, `t[0]: ...`).
fn parse_value_at(text: &str, path: &str) -> Result<AMQPValue, String> {
    match serde_json::from_str::<Json>(text) {
        Ok(json) => value::from_json(&json, path),
        // JSON nested deeper than serde_json's limit (128) is JSON all the same: refused,
        // never taken as a string.
        Err(error) if error.is_data() || error.to_string().starts_with("recursion limit") => {
            Err(format!("{path}: {error}"))
        }
        Err(_) => Ok(AMQPValue::LongString(LongString::from(text.to_string()))),
    }
}

/// Builds a field table from `KEY=VALUE` pairs; a later key replaces an earlier one.
///
/// Errors: as [`parse_pair`], naming the pair.
pub fn table(pairs: &[String]) -> Result<FieldTable, String> {
    let mut table = FieldTable::default();
    for pair in pairs {
        let (key, value) = parse_pair(pair)?;
        table.insert(key, value);
    }
    Ok(table)
}

/// As [`table`], for command-line words that may not be UTF-8: a pair whose value is not
/// UTF-8 (so not JSON) gets that value as a long string, byte for byte; the key, a short
/// string, must be UTF-8.
///
/// Errors: as [`parse_pair`]; `field name: not valid UTF-8 ...`.
pub fn table_of_words(words: &[std::ffi::OsString]) -> Result<FieldTable, String> {
    use std::os::unix::ffi::OsStrExt;
    let mut table = FieldTable::default();
    for word in words {
        let (key, value) = match word.to_str() {
            Some(text) => parse_pair(text)?,
            None => {
                let bytes = word.as_bytes();
                let equals = bytes.iter().position(|&b| b == b'=').filter(|&at| at > 0);
                let at = equals.ok_or_else(|| {
                    format!("expected KEY=VALUE, got '{}'", word.to_string_lossy())
                })?;
                let key =
                    short_string::octets(&bytes[..at]).map_err(|e| format!("field name: {e}"))?;
                let value = AMQPValue::LongString(LongString::from(bytes[at + 1..].to_vec()));
                (key, value)
            }
        };
        table.insert(key, value);
    }
    Ok(table)
}

/// The text of a value for an environment variable: strings and byte arrays as their bytes
/// (lossy UTF-8), numbers in decimal, booleans as `true`/`false`, timestamps as seconds since
/// the epoch, void as the empty string, arrays and tables as JSON.
pub fn to_text(value: &AMQPValue) -> String {
    match value {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.to_string(),
        AMQPValue::ByteArray(b) => String::from_utf8_lossy(b.as_slice()).into_owned(),
        AMQPValue::Void => String::new(),
        AMQPValue::FieldArray(_) | AMQPValue::FieldTable(_) => to_json(value).to_string(),
        other => match to_json(other) {
            Value::String(s) => s,
            json => json.to_string(),
        },
    }
}

/// The number a decimal (spec 4.2.5.5: `value` × 10^-`scale`) stands for, the nearest `f64`:
/// read from its decimal text rather than divided by a power of ten, which is itself rounded
/// once `scale` passes 22 (10^23 has no exact `f64`), so the quotient was rounded twice.
fn decimal_to_f64(value: u32, scale: u8) -> f64 {
    format!("{value}e-{scale}").parse().unwrap_or(f64::NAN)
}

/// The JSON form of a value, used for arrays and tables in [`to_text`].
pub fn to_json(value: &AMQPValue) -> Value {
    match value {
        AMQPValue::Boolean(b) => Value::Bool(*b),
        AMQPValue::ShortShortInt(n) => Value::from(*n),
        AMQPValue::ShortShortUInt(n) => Value::from(*n),
        AMQPValue::ShortInt(n) => Value::from(*n),
        AMQPValue::ShortUInt(n) => Value::from(*n),
        AMQPValue::LongInt(n) => Value::from(*n),
        AMQPValue::LongUInt(n) => Value::from(*n),
        AMQPValue::LongLongInt(n) => Value::from(*n),
        AMQPValue::Float(f) => Value::from(f64::from(*f)),
        AMQPValue::Double(f) => Value::from(*f),
        AMQPValue::DecimalValue(d) => Value::from(decimal_to_f64(d.value, d.scale)),
        AMQPValue::ShortString(s) => Value::String(s.to_string()),
        AMQPValue::LongString(s) => {
            Value::String(String::from_utf8_lossy(s.as_bytes()).into_owned())
        }
        AMQPValue::ByteArray(b) => {
            Value::String(String::from_utf8_lossy(b.as_slice()).into_owned())
        }
        AMQPValue::Timestamp(t) => Value::from(*t),
        AMQPValue::FieldArray(items) => {
            Value::Array(items.as_slice().iter().map(to_json).collect())
        }
        AMQPValue::FieldTable(table) => Value::Object(
            table
                .inner()
                .iter()
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect(),
        ),
        AMQPValue::Void => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed_by_json() {
        assert_eq!(parse_value("10").unwrap(), AMQPValue::LongLongInt(10));
        assert_eq!(parse_value("true").unwrap(), AMQPValue::Boolean(true));
        assert_eq!(parse_value("0.5").unwrap(), AMQPValue::Double(0.5));
        assert_eq!(
            parse_value("quorum").unwrap(),
            AMQPValue::LongString("quorum".into())
        );
        assert_eq!(
            parse_value("\"10\"").unwrap(),
            AMQPValue::LongString("10".into())
        );
        assert_eq!(parse_value("null").unwrap(), AMQPValue::Void);
        assert!(matches!(
            parse_value("[1,\"a\"]").unwrap(),
            AMQPValue::FieldArray(_)
        ));
        assert!(matches!(
            parse_value("{\"k\":1}").unwrap(),
            AMQPValue::FieldTable(_)
        ));
    }

    #[test]
    fn decimals_are_the_nearest_double() {
        assert_eq!(decimal_to_f64(12345, 2), 123.45);
        assert_eq!(decimal_to_f64(7, 0), 7.0);
        assert_eq!(decimal_to_f64(1, 30), 1e-30);
        assert_eq!(decimal_to_f64(u32::MAX, 255), 4294967295e-255);
    }

    #[test]
    fn json_nested_too_deep_is_refused_not_taken_as_a_string() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(parse_value(&deep).unwrap_err().contains("recursion limit"));
        let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(matches!(parse_value(&fine), Ok(AMQPValue::FieldArray(_))));
    }

    #[test]
    fn tagged_values_share_the_json_lines_codec() {
        assert_eq!(
            parse_value("{\"$u8\":250}").unwrap(),
            AMQPValue::ShortShortUInt(250)
        );
        assert!(parse_value("{\"$u8\":256}").is_err());
        assert!(parse_value("{\"a\":1,\"a\":2}").is_err());
        assert_eq!(
            parse_value("{not json").unwrap(),
            AMQPValue::LongString("{not json".into())
        );
    }

    #[test]
    fn pairs_need_a_key_and_an_equals_sign() {
        assert!(parse_pair("x-max-length=5").is_ok());
        assert!(parse_pair("novalue").is_err());
        assert!(parse_pair("=5").is_err());
        assert_eq!(
            parse_pair("k=").unwrap().1,
            AMQPValue::LongString("".into())
        );
    }

    #[test]
    fn values_that_are_not_utf8_are_long_strings_of_bytes() {
        use std::os::unix::ffi::OsStringExt;
        let word = std::ffi::OsString::from_vec(b"k=caf\xe9".to_vec());
        let table = table_of_words(&[word]).unwrap();
        assert_eq!(
            table.inner().get("k"),
            Some(&AMQPValue::LongString(b"caf\xe9".to_vec().into()))
        );
        // A name that is not UTF-8 is a short string of those bytes.
        let key = std::ffi::OsString::from_vec(b"caf\xe9=1".to_vec());
        let table = table_of_words(&[key]).unwrap();
        let (name, _) = table.inner().iter().next().unwrap();
        assert_eq!(name.as_bytes(), b"caf\xe9");
        assert!(table_of_words(&["x-max-length=5".into()]).is_ok());
    }

    #[test]
    fn field_names_are_short_strings() {
        assert!(parse_pair(&format!("{}=1", "k".repeat(255))).is_ok());
        assert!(parse_pair(&format!("{}=1", "k".repeat(256))).is_err());
        let nested = format!("k={{\"{}\":1}}", "n".repeat(256));
        assert!(parse_pair(&nested).is_err());
        let in_array = format!("k=[{{\"{}\":1}}]", "n".repeat(256));
        assert!(parse_pair(&in_array).is_err());
    }

    #[test]
    fn text_forms_for_the_environment() {
        assert_eq!(to_text(&AMQPValue::LongString("a b".into())), "a b");
        assert_eq!(to_text(&AMQPValue::LongLongInt(-3)), "-3");
        assert_eq!(to_text(&AMQPValue::Boolean(false)), "false");
        assert_eq!(
            to_text(&parse_value("{\"k\":[1,2]}").unwrap()),
            "{\"k\":[1,2]}"
        );
        assert_eq!(to_text(&AMQPValue::Timestamp(7)), "7");
    }
}
