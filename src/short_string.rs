//! AMQP short strings (`shortstr`, AMQP 0-9-1 §4.2.5.3): queue and exchange names, routing
//! keys, most basic properties (content type, message id, ...), the virtual host and the keys
//! of field tables (headers, queue arguments). A length octet and at most 255 bytes.
//!
//! amq-protocol (under lapin) panics on a longer one, so every value that becomes a short
//! string is checked here before connecting. The original sends what it is given and fails at
//! the step (`queue.declare: invalid AMQP data`). Exchange names and routing keys to publish
//! with, properties and header names are octets, sent as given ([`from_os_bytes`], [`octets`];
//! the vendored amq-protocol keeps such bytes); queue names and the vhost must be UTF-8
//! ([`from_os`]): RabbitMQ refuses other queue names by closing the connection (`501
//! FRAME_ERROR - Malformed UTF-8 in shortstr`).

use lapin::types::ShortString;
use std::ffi::OsString;
use std::fmt;

/// The most bytes an AMQP short string holds.
pub const MAX_BYTES: usize = 255;

/// Why a value cannot be sent as an AMQP short string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Longer than [`MAX_BYTES`]: the value's length in bytes.
    TooLong(usize),
    /// Not valid UTF-8.
    NotUtf8,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::TooLong(bytes) => write!(
                f,
                "{bytes} bytes, more than the {MAX_BYTES} an AMQP short string can hold"
            ),
            Refused::NotUtf8 => f.write_str(
                "not valid UTF-8 (AMQP queue names, binding keys and the vhost are sent as UTF-8)",
            ),
        }
    }
}

impl std::error::Error for Refused {}

/// Checks that `value` fits in a short string. Errors: [`Refused::TooLong`].
pub fn check(value: &str) -> Result<(), Refused> {
    match value.len() {
        len if len > MAX_BYTES => Err(Refused::TooLong(len)),
        _ => Ok(()),
    }
}

/// `value` as a short string. Errors: [`Refused::TooLong`].
pub fn new(value: &str) -> Result<ShortString, Refused> {
    ShortString::try_new(value).map_err(|_| Refused::TooLong(value.len()))
}

/// A command-line value as the text of a short string (a queue name, the vhost: RabbitMQ
/// refuses queue names that are not UTF-8 by closing the connection).
///
/// Errors: [`Refused::NotUtf8`], [`Refused::TooLong`].
pub fn from_os(value: OsString) -> Result<String, Refused> {
    let text = value.into_string().map_err(|_| Refused::NotUtf8)?;
    check(&text)?;
    Ok(text)
}

/// Bytes (a header name) as a short string of those bytes, sent as they are (RabbitMQ takes
/// any octets in field names).
///
/// Errors: [`Refused::TooLong`].
pub fn octets(value: &[u8]) -> Result<ShortString, Refused> {
    ShortString::from_bytes(value).map_err(|_| Refused::TooLong(value.len()))
}

/// A command-line value as a short string of any bytes (as the original sends them; RabbitMQ
/// takes them in exchange names, routing keys and properties).
///
/// Errors: [`Refused::TooLong`].
pub fn from_os_bytes(value: OsString) -> Result<ShortString, Refused> {
    use std::os::unix::ffi::OsStringExt;
    let bytes = value.into_vec();
    let len = bytes.len();
    ShortString::from_bytes(bytes).map_err(|_| Refused::TooLong(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn at_most_255_bytes() {
        assert!(check(&"a".repeat(255)).is_ok());
        assert_eq!(check(&"a".repeat(256)), Err(Refused::TooLong(256)));
        // Bytes, not characters: 128 two-byte characters are 256 bytes.
        assert_eq!(check(&"é".repeat(128)), Err(Refused::TooLong(256)));
        assert!(new(&"k".repeat(256)).is_err());
    }

    #[test]
    fn names_are_utf8_keys_and_properties_any_bytes() {
        assert_eq!(
            from_os(OsString::from_vec(b"caf\xe9".to_vec())),
            Err(Refused::NotUtf8)
        );
        assert_eq!(from_os(OsString::from("café")).unwrap(), "café");
        assert_eq!(octets(b"caf\xe9").unwrap().as_bytes(), b"caf\xe9");
        let raw = from_os_bytes(OsString::from_vec(vec![0xe9; 255])).unwrap();
        assert_eq!(raw.as_bytes(), [0xe9; 255]);
        assert_eq!(
            from_os_bytes(OsString::from_vec(vec![0xe9; 256])),
            Err(Refused::TooLong(256))
        );
    }
}
