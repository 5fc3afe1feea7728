//! AMQP short strings (`shortstr`, AMQP 0-9-1 §4.2.5.3): queue and exchange names, routing
//! keys, most basic properties (content type, message id, ...), the virtual host and the keys
//! of field tables (headers, queue arguments). A length octet and at most 255 bytes.
//!
//! amq-protocol (under lapin) holds a short string as a Rust `String` and panics on a longer
//! one, so every value that becomes a short string is checked here before connecting. The
//! original sends what it is given and fails at the step (`queue.declare: invalid AMQP data`).
//! Being a `String`, a short string is also UTF-8: bytes that are not are refused here too
//! (RabbitMQ itself refuses them in queue names: `501 FRAME_ERROR - Malformed UTF-8 in
//! shortstr`, closing the connection).

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
                "not valid UTF-8 (AMQP names, keys and properties are short strings, sent as UTF-8)",
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

/// Bytes (an option value, a header name) as the text of a short string.
///
/// Errors: [`Refused::NotUtf8`], [`Refused::TooLong`].
pub fn from_bytes(value: &[u8]) -> Result<String, Refused> {
    let text = std::str::from_utf8(value).map_err(|_| Refused::NotUtf8)?;
    check(text)?;
    Ok(text.to_string())
}

/// A command-line value as the text of a short string (see [`from_bytes`]).
///
/// Errors: [`Refused::NotUtf8`], [`Refused::TooLong`].
pub fn from_os(value: OsString) -> Result<String, Refused> {
    let text = value.into_string().map_err(|_| Refused::NotUtf8)?;
    check(&text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_255_bytes() {
        assert!(check(&"a".repeat(255)).is_ok());
        assert_eq!(check(&"a".repeat(256)), Err(Refused::TooLong(256)));
        // Bytes, not characters: 128 two-byte characters are 256 bytes.
        assert_eq!(check(&"é".repeat(128)), Err(Refused::TooLong(256)));
        assert!(new(&"k".repeat(256)).is_err());
    }

    #[test]
    fn utf8_only() {
        assert_eq!(from_bytes(b"caf\xe9"), Err(Refused::NotUtf8));
        assert_eq!(from_bytes("café".as_bytes()).unwrap(), "café");
    }
}
