//! Reading a stream of message lines: any whitespace between the JSON values (JSON Lines,
//! CRLF, empty lines, `jq .`'s pretty output, no final newline).

use super::message::Message;
use serde_json::de::IoRead;
use std::fmt;
use std::io::Read;

/// Why a message could not be read: where, and what.
#[derive(Debug)]
pub struct ReadError {
    /// The number of the message being read, from 1.
    pub message: u64,
    /// Line and column (from 1) where the reader stopped; `None` for a read error.
    pub position: Option<(usize, usize)>,
    /// The cause, without the position.
    pub cause: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(
                f,
                "message {}, line {line}, column {column}: {}",
                self.message, self.cause
            ),
            None => write!(f, "message {}: {}", self.message, self.cause),
        }
    }
}

/// The messages of a stream, in order; stops after the first error.
pub struct Messages<R: Read> {
    inner: serde_json::StreamDeserializer<'static, IoRead<R>, Message>,
    number: u64,
    failed: bool,
}

impl<R: Read> fmt::Debug for Messages<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Messages")
            .field("number", &self.number)
            .finish()
    }
}

/// Reads messages from `input` (buffer it: serde_json reads a byte at a time).
pub fn messages<R: Read>(input: R) -> Messages<R> {
    Messages {
        inner: serde_json::Deserializer::from_reader(input).into_iter(),
        number: 0,
        failed: false,
    }
}

impl<R: Read> Iterator for Messages<R> {
    type Item = Result<Message, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.inner.next()?;
        self.number += 1;
        Some(item.map_err(|error| {
            self.failed = true;
            let position =
                (!error.is_io() && error.line() > 0).then(|| (error.line(), error.column()));
            let text = error.to_string();
            let suffix = format!(" at line {} column {}", error.line(), error.column());
            let cause = text.strip_suffix(&suffix).unwrap_or(&text).to_string();
            ReadError {
                message: self.number,
                position,
                cause,
            }
        }))
    }
}

/// Reads messages from standard input on a thread of its own (a blocked read must not stop
/// the runtime: heartbeats and confirms go on), handing them over in order; the channel ends
/// after the last message or the first error. At most 64 messages wait in the channel, so
/// memory stays bounded by the publisher's confirm window.
pub fn spawn_stdin_messages() -> tokio::sync::mpsc::Receiver<Result<Message, ReadError>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    std::thread::spawn(move || {
        let input = std::io::BufReader::with_capacity(64 * 1024, std::io::stdin());
        for message in messages(input) {
            if sender.blocking_send(message).is_err() {
                break;
            }
        }
    });
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Result<Message, String>> {
        messages(text.as_bytes())
            .map(|m| m.map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn any_whitespace_between_values() {
        let text = "{\"routing_key\":\"a\",\"payload\":\"1\"}\r\n\n  {\n  \"payload\": \"2\"\n}{\"payload\":\"\"}";
        let got = read(text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].as_ref().unwrap().body, b"2");
        assert_eq!(got[0].as_ref().unwrap().routing_key.as_deref(), Some("a"));
    }

    #[test]
    fn errors_name_the_message_line_and_column() {
        let text =
            "{\"payload\":\"1\"}\n{\"payload\":\"2\"}\n{\"payload\":\"3\",\"routing-key\":\"x\"}\n";
        let got = read(text);
        assert_eq!(got.len(), 3);
        let error = got[2].as_ref().unwrap_err();
        assert!(
            error.starts_with("message 3, line 3, column ")
                && error.contains("unknown key \"routing-key\""),
            "{error}"
        );
        for bad in [
            "{\"payload\":1}",
            "{\"payload\":\"x\",\"payload_encoding\":\"hex\"}",
            "{\"payload\":\"!\",\"payload_encoding\":\"base64\"}",
            "{\"payload\":\"x\",\"payload\":\"y\"}",
            "{\"payload\":\"x\",\"properties\":{\"priority\":\"x\"}}",
            "{\"payload\":\"x\",\"properties\":{\"colour\":\"x\"}}",
            "{\"payload\":\"x\",\"properties\":{\"headers\":{\"a\":{\"$u9\":1}}}}",
            "{\"routing_key\":\"x\"}",
            "{\"payload\":\"x\"",
            "[1]",
        ] {
            let got = read(bad);
            assert!(got[0].is_err(), "{bad}");
        }
    }
}
