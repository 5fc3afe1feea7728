//! Each delivery's metadata as environment variables for the consuming command.
//!
//! Names: `AMQP_EXCHANGE`, `AMQP_ROUTING_KEY`, `AMQP_REDELIVERED` (`true`/`false`),
//! `AMQP_DELIVERY_TAG`, `AMQP_CONSUMER_TAG`; each basic property that is set
//! (`AMQP_CONTENT_TYPE`, `AMQP_CONTENT_ENCODING`, `AMQP_DELIVERY_MODE`, `AMQP_PRIORITY`,
//! `AMQP_CORRELATION_ID`, `AMQP_REPLY_TO`, `AMQP_EXPIRATION`, `AMQP_MESSAGE_ID`,
//! `AMQP_TIMESTAMP` (seconds since the epoch), `AMQP_TYPE`, `AMQP_USER_ID`, `AMQP_APP_ID`,
//! `AMQP_CLUSTER_ID`); and
//! each header as `AMQP_HEADER_<NAME>`, NAME upper-cased with every character but an ASCII
//! letter or digit turned into `_` (`x-trace-id` -> `AMQP_HEADER_X_TRACE_ID`; when two headers
//! sanitise to one name, the later in the table's order wins). Values are written as
//! [`crate::field_value::to_text`] does (numbers in decimal, booleans `true`/`false`, arrays and
//! tables as JSON); strings (names, keys, properties, string headers) are their bytes as
//! received, UTF-8 or not; NUL bytes, which an environment cannot hold, are dropped. Variables of these
//! names inherited from the consumer's own environment are removed, so an unset property is
//! never mistaken for a set one; everything else (`AMQP_URL` included) is passed on.

use crate::field_value::to_text;
use lapin::message::Delivery;
use lapin::types::{AMQPValue, ShortString};
use std::ffi::{CString, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Names of the basic properties' variables, in the order of the content header.
pub const PROPERTY_VARIABLES: [&str; 13] = [
    "AMQP_CONTENT_TYPE",
    "AMQP_CONTENT_ENCODING",
    "AMQP_DELIVERY_MODE",
    "AMQP_PRIORITY",
    "AMQP_CORRELATION_ID",
    "AMQP_REPLY_TO",
    "AMQP_EXPIRATION",
    "AMQP_MESSAGE_ID",
    "AMQP_TIMESTAMP",
    "AMQP_TYPE",
    "AMQP_USER_ID",
    "AMQP_APP_ID",
    "AMQP_CLUSTER_ID",
];

/// Prefix of header variables.
pub const HEADER_PREFIX: &str = "AMQP_HEADER_";

/// The variables to set for `delivery`, received by the consumer `consumer_tag`: each name
/// with its value's bytes.
pub fn variables(delivery: &Delivery, consumer_tag: &str) -> Vec<(String, OsString)> {
    let p = &delivery.properties;
    let octets = |s: &ShortString| s.as_bytes().to_vec();
    let number = |n: &dyn ToString| n.to_string().into_bytes();
    let mut vars = vec![
        ("AMQP_EXCHANGE".to_string(), octets(&delivery.exchange)),
        (
            "AMQP_ROUTING_KEY".to_string(),
            octets(&delivery.routing_key),
        ),
        (
            "AMQP_REDELIVERED".to_string(),
            number(&delivery.redelivered),
        ),
        (
            "AMQP_DELIVERY_TAG".to_string(),
            number(&delivery.delivery_tag),
        ),
        (
            "AMQP_CONSUMER_TAG".to_string(),
            consumer_tag.as_bytes().to_vec(),
        ),
    ];
    let properties: [Option<Vec<u8>>; 13] = [
        p.content_type().as_ref().map(octets),
        p.content_encoding().as_ref().map(octets),
        p.delivery_mode().map(|v| number(&v)),
        p.priority().map(|v| number(&v)),
        p.correlation_id().as_ref().map(octets),
        p.reply_to().as_ref().map(octets),
        p.expiration().as_ref().map(octets),
        p.message_id().as_ref().map(octets),
        p.timestamp().map(|v| number(&v)),
        p.kind().as_ref().map(octets),
        p.user_id().as_ref().map(octets),
        p.app_id().as_ref().map(octets),
        p.cluster_id().as_ref().map(octets),
    ];
    for (name, value) in PROPERTY_VARIABLES.iter().zip(properties) {
        if let Some(value) = value {
            vars.push((name.to_string(), value));
        }
    }
    if let Some(headers) = p.headers() {
        for (key, value) in headers.inner() {
            vars.push((header_variable(key.as_str()), header_value(value)));
        }
    }
    vars.into_iter()
        .map(|(name, mut value)| {
            value.retain(|&b| b != 0);
            (name, OsString::from_vec(value))
        })
        .collect()
}

/// A header's value for its variable: the bytes of a string or byte array as received, any
/// other value as [`to_text`] writes it.
fn header_value(value: &AMQPValue) -> Vec<u8> {
    match value {
        AMQPValue::LongString(s) => s.as_bytes().to_vec(),
        AMQPValue::ShortString(s) => s.as_bytes().to_vec(),
        AMQPValue::ByteArray(b) => b.as_slice().to_vec(),
        other => to_text(other).into_bytes(),
    }
}

/// `AMQP_HEADER_` + the header name, upper-cased, non-alphanumerics as `_`.
pub fn header_variable(name: &str) -> String {
    let mut out = String::from(HEADER_PREFIX);
    out.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    out
}

/// The consumer's own environment without the variables this module sets (inherited ones,
/// usually none, are left out so that an unset property is never mistaken for a set one), as
/// `NAME=value` entries: read from the process's environment once, on the first call, rather
/// than for every delivery.
pub fn inherited() -> &'static [CString] {
    static ENTRIES: std::sync::OnceLock<Vec<CString>> = std::sync::OnceLock::new();
    ENTRIES.get_or_init(|| {
        std::env::vars_os()
            .filter(|(name, _)| !name.to_str().is_some_and(is_metadata_variable))
            .filter_map(|(name, value)| entry(name.as_bytes(), value.as_bytes()))
            .collect()
    })
}

/// The `NAME=value` entries of [`variables`] for an environment (`envp`): each name once,
/// the last value given for it (two headers that sanitise to one name: the later wins).
pub fn entries(delivery: &Delivery, consumer_tag: &str) -> Vec<CString> {
    let mut variables = variables(delivery, consumer_tag);
    let mut seen: Vec<String> = Vec::with_capacity(variables.len());
    let mut entries = Vec::with_capacity(variables.len());
    while let Some((name, value)) = variables.pop() {
        if seen.contains(&name) {
            continue;
        }
        entries.extend(entry(name.as_bytes(), value.as_bytes()));
        seen.push(name);
    }
    entries.reverse();
    entries
}

/// `name=value` as a C string; `None` when either holds a NUL byte (an environment cannot).
fn entry(name: &[u8], value: &[u8]) -> Option<CString> {
    let mut text = Vec::with_capacity(name.len() + 1 + value.len() + 1);
    text.extend_from_slice(name);
    text.push(b'=');
    text.extend_from_slice(value);
    CString::new(text).ok()
}

/// True for a variable name this module sets, which is removed when inherited.
pub fn is_metadata_variable(name: &str) -> bool {
    name.starts_with(HEADER_PREFIX)
        || PROPERTY_VARIABLES.contains(&name)
        || matches!(
            name,
            "AMQP_EXCHANGE"
                | "AMQP_ROUTING_KEY"
                | "AMQP_REDELIVERED"
                | "AMQP_DELIVERY_TAG"
                | "AMQP_CONSUMER_TAG"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_sanitised() {
        assert_eq!(header_variable("x-trace-id"), "AMQP_HEADER_X_TRACE_ID");
        assert_eq!(header_variable("ünï code"), "AMQP_HEADER__N__CODE");
        assert!(is_metadata_variable("AMQP_HEADER_X"));
        assert!(is_metadata_variable("AMQP_REPLY_TO"));
        assert!(!is_metadata_variable("AMQP_URL"));
    }
}
