//! The lossless JSON lines format: one message per line with its delivery information, all
//! 14 basic properties (present exactly when set) and typed header values, so that a message
//! dumped with `amqp-get --json` and published again with `amqp-publish --json` is the same
//! message (body bytes, properties, header names, types, values and nesting), also after `jq`.
//! The specification for users is the man page amqp-tools-json(7) (`man/amqp-tools-json.7.in`).
//!
//! - [`value`]: field values and tables, plain where the JSON type is natural, else tagged;
//! - [`message`]: a delivery as one line ([`message::line`]) and a line as a message to publish
//!   ([`message::Message`]);
//! - [`stream`]: a stream of JSON values as messages, with errors naming message, line and
//!   column;
//! - [`tree`]: the parsed JSON those readers work on (duplicate keys are errors).

pub mod message;
pub mod stream;
pub mod tree;
pub mod value;

pub use message::{Delivery, Message, line};
pub use stream::{Messages, ReadError, messages};
