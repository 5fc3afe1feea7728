//! AMQP field values (AMQP 0-9-1 §4.2.5.5, with the type letters RabbitMQ uses) as JSON: the
//! codec of header tables in the message lines and of `--arg`/`--typed-header`.
//!
//! A value whose type is the natural one for its JSON form is written plain: a boolean, a
//! UTF-8 long string, an i64 within ±(2^53−1), void as `null`, a field array as an array, a
//! field table as an object. Every other value is an object with exactly one key starting with
//! `$` naming its type: `{"$i8":-5}`, `{"$u8":250}`, `{"$i16":..}`, `{"$u16":..}`,
//! `{"$i32":..}`, `{"$u32":..}`, `{"$i64":"9007199254740993"}`, `{"$f32":1.5}`,
//! `{"$f64":0.1}` (`"NaN"`, `"Infinity"`, `"-Infinity"` and `"-0"` as strings),
//! `{"$decimal":"123.45"}` (the digits after the point are the scale),
//! `{"$timestamp":1700000000}`, `{"$bytes":"AAEC/w=="}` (byte array, base64),
//! `{"$string_base64":"/wAB"}` (a long string that is not UTF-8) and `{"$table":{..}}` (a table
//! whose only key starts with `$`). The tags are there because the lines must survive `jq`,
//! which turns `2.0` into `2`, 2^53+1 into 2^53 and `-0.0` into `-0`.
//!
//! Writer canonical, reader lenient: a plain integer is an i64, a plain fractional number an
//! f64, `{"$i64":n}` and `{"$timestamp":n}` take a number or a decimal string, a timestamp also
//! an RFC 3339 UTC time (`"2023-11-14T22:13:20Z"`), a decimal also `{"scale":2,"value":12345}`.

use super::tree::{Json, quoted};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use lapin::types::{AMQPValue, ByteArray, DecimalValue, FieldArray, FieldTable, LongString};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// The largest integer a JSON reader using doubles (jq, JavaScript) keeps exactly: 2^53 − 1.
pub const SAFE_INTEGER_MAX: u64 = (1 << 53) - 1;

/// A field value to serialize in the canonical form.
#[derive(Debug, Clone, Copy)]
pub struct Encoded<'a>(pub &'a AMQPValue);

/// A field table to serialize as a JSON object (without the `$table` wrapper).
#[derive(Debug, Clone, Copy)]
pub struct EncodedTable<'a>(pub &'a FieldTable);

impl Serialize for Encoded<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            AMQPValue::Boolean(b) => s.serialize_bool(*b),
            AMQPValue::ShortShortInt(n) => tagged(s, "$i8", n),
            AMQPValue::ShortShortUInt(n) => tagged(s, "$u8", n),
            AMQPValue::ShortInt(n) => tagged(s, "$i16", n),
            AMQPValue::ShortUInt(n) => tagged(s, "$u16", n),
            AMQPValue::LongInt(n) => tagged(s, "$i32", n),
            AMQPValue::LongUInt(n) => tagged(s, "$u32", n),
            AMQPValue::LongLongInt(n) => {
                if n.unsigned_abs() <= SAFE_INTEGER_MAX {
                    s.serialize_i64(*n)
                } else {
                    tagged(s, "$i64", &n.to_string())
                }
            }
            AMQPValue::Float(f) => match special(f64::from(*f)) {
                Some(text) => tagged(s, "$f32", text),
                None => tagged(s, "$f32", f),
            },
            AMQPValue::Double(f) => match special(*f) {
                Some(text) => tagged(s, "$f64", text),
                None => tagged(s, "$f64", f),
            },
            AMQPValue::DecimalValue(d) => tagged(s, "$decimal", &decimal_text(*d)),
            AMQPValue::ShortString(text) => s.serialize_str(text.as_str()),
            AMQPValue::LongString(text) => match std::str::from_utf8(text.as_bytes()) {
                Ok(text) => s.serialize_str(text),
                Err(_) => tagged(s, "$string_base64", &BASE64.encode(text.as_bytes())),
            },
            AMQPValue::ByteArray(bytes) => tagged(s, "$bytes", &BASE64.encode(bytes.as_slice())),
            AMQPValue::Timestamp(t) => {
                if *t <= SAFE_INTEGER_MAX {
                    tagged(s, "$timestamp", t)
                } else {
                    tagged(s, "$timestamp", &t.to_string())
                }
            }
            AMQPValue::Void => s.serialize_unit(),
            AMQPValue::FieldArray(items) => {
                let mut seq = s.serialize_seq(Some(items.as_slice().len()))?;
                for item in items.as_slice() {
                    seq.serialize_element(&Encoded(item))?;
                }
                seq.end()
            }
            AMQPValue::FieldTable(table) => {
                let inner = table.inner();
                let single_dollar =
                    inner.len() == 1 && inner.keys().all(|k| k.as_str().starts_with('$'));
                if single_dollar {
                    tagged(s, "$table", &EncodedTable(table))
                } else {
                    EncodedTable(table).serialize(s)
                }
            }
        }
    }
}

impl Serialize for EncodedTable<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.inner().len()))?;
        for (key, value) in self.0.inner() {
            map.serialize_entry(key.as_str(), &Encoded(value))?;
        }
        map.end()
    }
}

fn tagged<S: Serializer, T: Serialize + ?Sized>(
    s: S,
    tag: &str,
    value: &T,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(1))?;
    map.serialize_entry(tag, value)?;
    map.end()
}

/// The string form of a float JSON cannot hold as a number: NaN, the infinities, −0.
fn special(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f == f64::INFINITY {
        Some("Infinity")
    } else if f == f64::NEG_INFINITY {
        Some("-Infinity")
    } else if f == 0.0 && f.is_sign_negative() {
        Some("-0")
    } else {
        None
    }
}

/// A decimal as text: `value` with a point before its last `scale` digits (`{2, 150}` is
/// `"1.50"`, `{3, 5}` is `"0.005"`).
pub fn decimal_text(d: DecimalValue) -> String {
    let digits = d.value.to_string();
    let scale = usize::from(d.scale);
    if scale == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    format!("{whole}.{fraction}")
}

/// Writes a value as one line of canonical JSON (no newline).
pub fn to_string(value: &AMQPValue) -> String {
    serde_json::to_string(&Encoded(value)).unwrap_or_default()
}

/// Reads a field value from its JSON form; `path` names it in errors (e.g. `headers.x-a[2]`).
///
/// Errors: one line naming the path and the cause: an unknown tag, an integer out of the
/// tag's range, invalid base64, a decimal or timestamp that does not parse, a table key
/// longer than 255 bytes.
pub fn from_json(json: &Json, path: &str) -> Result<AMQPValue, String> {
    Ok(match json {
        Json::Null => AMQPValue::Void,
        Json::Bool(b) => AMQPValue::Boolean(*b),
        Json::Int(_) | Json::UInt(_) => AMQPValue::LongLongInt(integer(json, path, "an i64")?),
        Json::Float(f) => AMQPValue::Double(*f),
        Json::String(text) => AMQPValue::LongString(LongString::from(text.clone())),
        Json::Array(items) => {
            let mut array = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                array.push(from_json(item, &format!("{path}[{i}]"))?);
            }
            AMQPValue::FieldArray(FieldArray::from(array))
        }
        Json::Object(entries) => match entries.as_slice() {
            [(tag, value)] if tag.starts_with('$') => tagged_value(tag, value, path)?,
            _ => AMQPValue::FieldTable(table(entries, path)?),
        },
    })
}

/// Reads a field table from the entries of a JSON object.
///
/// Errors: as [`from_json`], and a key longer than 255 bytes.
pub fn table(entries: &[(String, Json)], path: &str) -> Result<FieldTable, String> {
    let mut table = FieldTable::default();
    for (key, value) in entries {
        let name = crate::short_string::new(key).map_err(|e| format!("{path}: field name: {e}"))?;
        let value = from_json(value, &join(path, key))?;
        table.insert(name, value);
    }
    Ok(table)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn tagged_value(tag: &str, value: &Json, path: &str) -> Result<AMQPValue, String> {
    let at = |what: &str| format!("{path}: {}: {what}", quoted(tag));
    let small = |min: i64, max: i64| -> Result<i64, String> {
        let n = integer(value, path, tag)?;
        if n < min || n > max {
            return Err(at(&format!("{n} is out of range ({min} to {max})")));
        }
        Ok(n)
    };
    Ok(match tag {
        "$i8" => AMQPValue::ShortShortInt(small(i8::MIN.into(), i8::MAX.into())? as i8),
        "$u8" => AMQPValue::ShortShortUInt(small(0, u8::MAX.into())? as u8),
        "$i16" => AMQPValue::ShortInt(small(i16::MIN.into(), i16::MAX.into())? as i16),
        "$u16" => AMQPValue::ShortUInt(small(0, u16::MAX.into())? as u16),
        "$i32" => AMQPValue::LongInt(small(i32::MIN.into(), i32::MAX.into())? as i32),
        "$u32" => AMQPValue::LongUInt(small(0, u32::MAX.into())? as u32),
        "$i64" => AMQPValue::LongLongInt(match value {
            Json::String(text) => text
                .parse::<i64>()
                .map_err(|_| at(&format!("{} is not an i64", quoted(text))))?,
            _ => integer(value, path, tag)?,
        }),
        "$f32" => {
            let f = float(value).ok_or_else(|| {
                at("expected a number or \"NaN\", \"Infinity\", \"-Infinity\", \"-0\"")
            })?;
            let narrow = f as f32;
            if f.is_finite() && !narrow.is_finite() {
                return Err(at(&format!("{f} is out of range for a 32-bit float")));
            }
            AMQPValue::Float(narrow)
        }
        "$f64" => AMQPValue::Double(float(value).ok_or_else(|| {
            at("expected a number or \"NaN\", \"Infinity\", \"-Infinity\", \"-0\"")
        })?),
        "$decimal" => AMQPValue::DecimalValue(decimal(value).map_err(|e| at(&e))?),
        "$timestamp" => AMQPValue::Timestamp(timestamp(value).map_err(|e| at(&e))?),
        "$bytes" => AMQPValue::ByteArray(ByteArray::from(base64(value).map_err(|e| at(&e))?)),
        "$string_base64" => {
            AMQPValue::LongString(LongString::from(base64(value).map_err(|e| at(&e))?))
        }
        "$table" => match value {
            Json::Object(entries) => AMQPValue::FieldTable(table(entries, path)?),
            other => return Err(at(&format!("expected an object, got {}", other.kind()))),
        },
        _ => {
            return Err(format!(
                "{path}: unknown tag {} (a table whose only key starts with '$' is written {{\"$table\":{{...}}}})",
                quoted(tag)
            ));
        }
    })
}

/// An integer that fits an i64 (a JSON integer, not a fraction).
fn integer(value: &Json, path: &str, what: &str) -> Result<i64, String> {
    match value {
        Json::Int(n) => Ok(*n),
        Json::UInt(n) => i64::try_from(*n)
            .map_err(|_| format!("{path}: {n} is out of range for {}", display_tag(what))),
        other => Err(format!(
            "{path}: expected an integer for {}, got {}",
            display_tag(what),
            other.kind()
        )),
    }
}

fn display_tag(what: &str) -> String {
    if what.starts_with('$') {
        quoted(what)
    } else {
        what.to_string()
    }
}

fn float(value: &Json) -> Option<f64> {
    match value {
        Json::Int(n) => Some(*n as f64),
        Json::UInt(n) => Some(*n as f64),
        Json::Float(f) => Some(*f),
        Json::String(text) => match text.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            "-0" => Some(-0.0),
            _ => None,
        },
        _ => None,
    }
}

/// `"123.45"` (scale 2, value 12345) or `{"scale":2,"value":12345}`.
fn decimal(value: &Json) -> Result<DecimalValue, String> {
    match value {
        Json::String(text) => {
            let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
            let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
            if whole.is_empty()
                || !digits_only(whole)
                || !digits_only(fraction)
                || (text.contains('.') && fraction.is_empty())
            {
                return Err(format!(
                    "{} is not a decimal: digits, optionally a point and more digits",
                    quoted(text)
                ));
            }
            let scale = u8::try_from(fraction.len())
                .map_err(|_| format!("{}: more than 255 digits after the point", quoted(text)))?;
            let value = format!("{whole}{fraction}")
                .parse::<u32>()
                .map_err(|_| format!("{}: the digits exceed 4294967295", quoted(text)))?;
            Ok(DecimalValue { scale, value })
        }
        Json::Object(entries) => {
            let field = |name: &str| entries.iter().find(|(k, _)| k == name).map(|(_, v)| v);
            if entries.len() != 2 {
                return Err("expected {\"scale\":S,\"value\":V}".into());
            }
            let (Some(Json::UInt(scale)), Some(Json::UInt(value))) =
                (field("scale"), field("value"))
            else {
                return Err("expected {\"scale\":S,\"value\":V} with non-negative integers".into());
            };
            Ok(DecimalValue {
                scale: u8::try_from(*scale).map_err(|_| format!("scale {scale} is above 255"))?,
                value: u32::try_from(*value)
                    .map_err(|_| format!("value {value} is above 4294967295"))?,
            })
        }
        other => Err(format!("expected a string, got {}", other.kind())),
    }
}

/// Seconds since the epoch: a non-negative integer, its decimal string, or an RFC 3339 UTC
/// time in whole seconds (`"2023-11-14T22:13:20Z"`).
///
/// Errors: a negative number, a fraction, a string that is neither.
pub fn timestamp(value: &Json) -> Result<u64, String> {
    match value {
        Json::UInt(n) => Ok(*n),
        Json::String(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text
            .parse::<u64>()
            .map_err(|_| format!("{} is above 18446744073709551615", quoted(text))),
        Json::String(text) => {
            let time = humantime::parse_rfc3339(text).map_err(|e| {
                format!(
                    "{} is neither seconds nor an RFC 3339 UTC time: {e}",
                    quoted(text)
                )
            })?;
            let since = time
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|_| format!("{} is before 1970", quoted(text)))?;
            if since.subsec_nanos() != 0 {
                return Err(format!("{} is not a whole second", quoted(text)));
            }
            Ok(since.as_secs())
        }
        other => Err(format!(
            "expected seconds since the epoch or an RFC 3339 time, got {}",
            other.kind()
        )),
    }
}

fn base64(value: &Json) -> Result<Vec<u8>, String> {
    match value {
        Json::String(text) => BASE64
            .decode(text)
            .map_err(|e| format!("invalid base64: {e}")),
        other => Err(format!("expected a base64 string, got {}", other.kind())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<AMQPValue, String> {
        from_json(&serde_json::from_str::<Json>(text).unwrap(), "v")
    }

    fn round(value: AMQPValue) -> String {
        let text = to_string(&value);
        assert_eq!(read(&text).unwrap(), value, "{text}");
        text
    }

    #[test]
    fn plain_values_where_the_type_is_natural() {
        assert_eq!(round(AMQPValue::Boolean(true)), "true");
        assert_eq!(round(AMQPValue::LongLongInt(-9_000_000_000)), "-9000000000");
        assert_eq!(round(AMQPValue::LongString("héllo".into())), "\"héllo\"");
        assert_eq!(round(AMQPValue::Void), "null");
    }

    #[test]
    fn integers_at_their_limits() {
        assert_eq!(round(AMQPValue::ShortShortInt(-128)), r#"{"$i8":-128}"#);
        assert_eq!(round(AMQPValue::ShortShortUInt(255)), r#"{"$u8":255}"#);
        round(AMQPValue::ShortInt(i16::MIN));
        assert_eq!(round(AMQPValue::ShortUInt(65535)), r#"{"$u16":65535}"#);
        round(AMQPValue::LongInt(i32::MIN));
        assert_eq!(
            round(AMQPValue::LongUInt(u32::MAX)),
            r#"{"$u32":4294967295}"#
        );
        assert_eq!(
            round(AMQPValue::LongLongInt(9_007_199_254_740_993)),
            r#"{"$i64":"9007199254740993"}"#
        );
        round(AMQPValue::LongLongInt(i64::MIN));
        round(AMQPValue::LongLongInt(i64::MAX));
        assert_eq!(
            round(AMQPValue::LongLongInt(9_007_199_254_740_991)),
            "9007199254740991"
        );
        assert!(read(r#"{"$u8":256}"#).unwrap_err().contains("out of range"));
        assert!(read(r#"{"$i8":-129}"#).is_err());
        assert!(read(r#"{"$u32":-1}"#).is_err());
        assert!(read(r#"{"$i32":1.5}"#).is_err());
        assert!(read("9223372036854775808").is_err());
        assert_eq!(read(r#"{"$i64":5}"#).unwrap(), AMQPValue::LongLongInt(5));
    }

    #[test]
    fn floats_and_their_specials() {
        assert_eq!(round(AMQPValue::Double(2.0)), r#"{"$f64":2.0}"#);
        assert_eq!(read(r#"{"$f64":2}"#).unwrap(), AMQPValue::Double(2.0));
        assert_eq!(round(AMQPValue::Double(0.1)), r#"{"$f64":0.1}"#);
        assert_eq!(round(AMQPValue::Float(0.1)), r#"{"$f32":0.1}"#);
        round(AMQPValue::Float(f32::MAX));
        round(AMQPValue::Float(f32::from_bits(1)));
        round(AMQPValue::Double(5e-324));
        round(AMQPValue::Double(f64::MAX));
        assert_eq!(
            round(AMQPValue::Double(f64::INFINITY)),
            r#"{"$f64":"Infinity"}"#
        );
        round(AMQPValue::Double(f64::NEG_INFINITY));
        assert_eq!(round(AMQPValue::Float(-0.0)), r#"{"$f32":"-0"}"#);
        let nan = read(&to_string(&AMQPValue::Double(f64::NAN))).unwrap();
        assert!(matches!(nan, AMQPValue::Double(f) if f.is_nan()));
        assert!(read(r#"{"$f32":1e300}"#).is_err());
        assert_eq!(read("0.5").unwrap(), AMQPValue::Double(0.5));
    }

    #[test]
    fn decimals_keep_their_scale() {
        let d = |scale, value| AMQPValue::DecimalValue(DecimalValue { scale, value });
        assert_eq!(round(d(0, 12345)), r#"{"$decimal":"12345"}"#);
        assert_eq!(round(d(2, 12345)), r#"{"$decimal":"123.45"}"#);
        assert_eq!(round(d(2, 150)), r#"{"$decimal":"1.50"}"#);
        assert_eq!(round(d(2, 0)), r#"{"$decimal":"0.00"}"#);
        assert_eq!(round(d(3, 5)), r#"{"$decimal":"0.005"}"#);
        round(d(0, u32::MAX));
        round(d(255, u32::MAX));
        assert_eq!(
            read(r#"{"$decimal":{"scale":2,"value":7}}"#).unwrap(),
            d(2, 7)
        );
        assert!(read(r#"{"$decimal":"-1.5"}"#).is_err());
        assert!(read(r#"{"$decimal":"4294967296"}"#).is_err());
        assert!(read(r#"{"$decimal":"1."}"#).is_err());
    }

    #[test]
    fn strings_bytes_and_timestamps() {
        assert_eq!(
            round(AMQPValue::LongString(vec![255u8, 0, 1].into())),
            r#"{"$string_base64":"/wAB"}"#
        );
        assert_eq!(
            round(AMQPValue::ByteArray(vec![0u8, 1, 2, 255].into())),
            r#"{"$bytes":"AAEC/w=="}"#
        );
        round(AMQPValue::ByteArray(vec![].into()));
        round(AMQPValue::LongString("".into()));
        assert_eq!(round(AMQPValue::Timestamp(0)), r#"{"$timestamp":0}"#);
        assert_eq!(
            round(AMQPValue::Timestamp(u64::MAX)),
            r#"{"$timestamp":"18446744073709551615"}"#
        );
        assert_eq!(
            read(r#"{"$timestamp":"2023-11-14T22:13:20Z"}"#).unwrap(),
            AMQPValue::Timestamp(1_700_000_000)
        );
        assert!(read(r#"{"$timestamp":"2023-13-14T22:13:20Z"}"#).is_err());
        assert!(read(r#"{"$bytes":"!!"}"#).unwrap_err().contains("base64"));
    }

    #[test]
    fn tables_arrays_and_dollar_keys() {
        let mut inner = FieldTable::default();
        inner.insert("$x".into(), AMQPValue::LongLongInt(1));
        assert_eq!(
            round(AMQPValue::FieldTable(inner.clone())),
            r#"{"$table":{"$x":1}}"#
        );
        let mut two = inner.clone();
        two.insert("b".into(), AMQPValue::Void);
        assert_eq!(round(AMQPValue::FieldTable(two)), r#"{"$x":1,"b":null}"#);
        round(AMQPValue::FieldTable(FieldTable::default()));
        round(AMQPValue::FieldArray(vec![].into()));
        assert!(read(r#"{"$nope":1}"#).unwrap_err().contains("unknown tag"));
        let long = format!("{{\"{}\":1}}", "k".repeat(256));
        assert!(read(&long).unwrap_err().contains("more than the 255"));
    }
}
