//! Value parsers for options whose values become AMQP short strings.

use crate::short_string;
use clap::builder::{OsStringValueParser, TypedValueParser};
use lapin::types::ShortString;

/// The parser of an option whose value is sent as an AMQP short string (a queue or exchange
/// name, a routing key, a property): takes the value as bytes and refuses, naming the option,
/// one that is not UTF-8 or is longer than 255 bytes ([`short_string::from_os`]), instead of
/// clap refusing the whole command line or amq-protocol panicking later.
pub fn short_string() -> impl TypedValueParser<Value = String> {
    OsStringValueParser::new().try_map(short_string::from_os)
}

/// The parser of an option whose value is sent as an AMQP short string that RabbitMQ takes as
/// any octets (an exchange name or routing key in basic.publish, a property): takes the value
/// as bytes, as the original does, and refuses, naming the option, one longer than 255 bytes
/// ([`short_string::from_os_bytes`]).
pub fn short_string_bytes() -> impl TypedValueParser<Value = ShortString> {
    OsStringValueParser::new().try_map(short_string::from_os_bytes)
}

/// The parser of an option whose value is cut into AMQP short strings later (amqp-consume's
/// comma-separated binding keys, each checked by [`crate::consume::queue::validate`]): refuses,
/// naming the option, a value that is not UTF-8.
pub fn short_strings() -> impl TypedValueParser<Value = String> {
    OsStringValueParser::new().try_map(|value| {
        value
            .into_string()
            .map_err(|_| short_string::Refused::NotUtf8)
    })
}
