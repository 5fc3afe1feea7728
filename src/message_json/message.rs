//! One message as one JSON line: the delivery information, the 14 basic properties (present
//! exactly when set) and the body, in the vocabulary of the RabbitMQ HTTP API
//! (`GET /api/queues/VHOST/NAME/get`), with typed header values ([`super::value`]).

use super::tree::{Json, quoted};
use super::value::{self, EncodedTable, SAFE_INTEGER_MAX};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use lapin::BasicProperties;
use lapin::types::ShortString;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::time::SystemTime;

/// A message as a tool received it, to be written as one line.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The exchange it was published to (`""` for the default exchange).
    pub exchange: &'a str,
    /// The routing key it was published with.
    pub routing_key: &'a str,
    /// basic.deliver / basic.get-ok `redelivered`.
    pub redelivered: bool,
    /// The delivery tag on the channel that received it.
    pub delivery_tag: u64,
    /// The consumer tag (basic.deliver only).
    pub consumer_tag: Option<&'a str>,
    /// Messages left in the queue after this one (basic.get-ok only).
    pub message_count: Option<u32>,
    /// The queue it was read from.
    pub queue: &'a str,
    /// When the tool received it (written as RFC 3339 UTC with milliseconds).
    pub received_at: SystemTime,
    /// The content header properties.
    pub properties: &'a BasicProperties,
    /// The body.
    pub body: &'a [u8],
}

/// The line for `delivery`: one JSON object and a `\n`. JSON escapes every control
/// character, so the line holds no other newline.
pub fn line(delivery: &Delivery) -> Vec<u8> {
    let mut out = Vec::with_capacity(delivery.body.len() * 4 / 3 + 512);
    // Serializing to a Vec cannot fail: every map key is a string.
    let _ = serde_json::to_writer(&mut out, delivery);
    out.push(b'\n');
    out
}

impl Serialize for Delivery<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("exchange", self.exchange)?;
        map.serialize_entry("routing_key", self.routing_key)?;
        map.serialize_entry("redelivered", &self.redelivered)?;
        map.serialize_entry("delivery_tag", &self.delivery_tag)?;
        if let Some(tag) = self.consumer_tag {
            map.serialize_entry("consumer_tag", tag)?;
        }
        if let Some(count) = self.message_count {
            map.serialize_entry("message_count", &count)?;
        }
        map.serialize_entry("queue", self.queue)?;
        let received = humantime::format_rfc3339_millis(self.received_at).to_string();
        map.serialize_entry("received_at", &received)?;
        map.serialize_entry("properties", &EncodedProperties(self.properties))?;
        match std::str::from_utf8(self.body) {
            Ok(text) => {
                map.serialize_entry("payload", text)?;
                map.serialize_entry("payload_encoding", "string")?;
            }
            Err(_) => {
                map.serialize_entry("payload", &BASE64.encode(self.body))?;
                map.serialize_entry("payload_encoding", "base64")?;
            }
        }
        map.serialize_entry("payload_bytes", &self.body.len())?;
        map.end()
    }
}

/// The properties object: each property that is set, in the order of the AMQP 0-9-1 basic
/// class (§1.8), under the RabbitMQ HTTP API's names.
struct EncodedProperties<'a>(&'a BasicProperties);

impl Serialize for EncodedProperties<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut map = s.serialize_map(None)?;
        let text = |map: &mut S::SerializeMap, key: &str, v: &Option<ShortString>| match v {
            Some(v) => map.serialize_entry(key, v.as_str()),
            None => Ok(()),
        };
        text(&mut map, "content_type", p.content_type())?;
        text(&mut map, "content_encoding", p.content_encoding())?;
        if let Some(headers) = p.headers() {
            map.serialize_entry("headers", &EncodedTable(headers))?;
        }
        if let Some(v) = p.delivery_mode() {
            map.serialize_entry("delivery_mode", v)?;
        }
        if let Some(v) = p.priority() {
            map.serialize_entry("priority", v)?;
        }
        text(&mut map, "correlation_id", p.correlation_id())?;
        text(&mut map, "reply_to", p.reply_to())?;
        text(&mut map, "expiration", p.expiration())?;
        text(&mut map, "message_id", p.message_id())?;
        match p.timestamp() {
            Some(t) if *t <= SAFE_INTEGER_MAX => map.serialize_entry("timestamp", t)?,
            Some(t) => map.serialize_entry("timestamp", &t.to_string())?,
            None => {}
        }
        text(&mut map, "type", p.kind())?;
        text(&mut map, "user_id", p.user_id())?;
        text(&mut map, "app_id", p.app_id())?;
        text(&mut map, "cluster_id", p.cluster_id())?;
        map.end()
    }
}

/// A message read from a line, to publish.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Message {
    /// `exchange`, when the line has it.
    pub exchange: Option<String>,
    /// `routing_key`, when the line has it.
    pub routing_key: Option<String>,
    /// The properties the line sets (none when it has no `properties`).
    pub properties: BasicProperties,
    /// The body, decoded from `payload` as `payload_encoding` says.
    pub body: Vec<u8>,
}

/// The top-level keys that carry delivery information: accepted and ignored on input.
const DELIVERY_KEYS: &[&str] = &[
    "redelivered",
    "delivery_tag",
    "consumer_tag",
    "message_count",
    "queue",
    "received_at",
    "payload_bytes",
];

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MessageVisitor)
    }
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Message;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a message object")
    }

    // Each key's value is checked as soon as it is read, so serde_json places the error right
    // after the faulty value.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Message, A::Error> {
        let mut message = Message::default();
        let mut seen = std::collections::HashSet::new();
        let mut payload = None;
        let mut encoding = None;
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key {}",
                    quoted(&key)
                )));
            }
            let value: Json = map.next_value()?;
            let fail = de::Error::custom;
            match key.as_str() {
                "exchange" => message.exchange = Some(short_text(&value, &key).map_err(fail)?),
                "routing_key" => {
                    message.routing_key = Some(short_text(&value, &key).map_err(fail)?)
                }
                "properties" => message.properties = properties(&value).map_err(fail)?,
                "payload" => match value {
                    Json::String(text) => payload = Some(text),
                    other => return Err(fail(wrong_type("payload", "a string", &other))),
                },
                "payload_encoding" => match value {
                    Json::String(text) if text == "string" || text == "base64" => {
                        encoding = Some(text)
                    }
                    other => {
                        return Err(fail(format!(
                            "payload_encoding: expected \"string\" or \"base64\", got {}",
                            shown(&other)
                        )));
                    }
                },
                known if DELIVERY_KEYS.contains(&known) => {}
                unknown => {
                    return Err(fail(format!("unknown key {}", quoted(unknown))));
                }
            }
        }
        let Some(payload) = payload else {
            return Err(de::Error::custom("missing key \"payload\""));
        };
        message.body = match encoding.as_deref() {
            Some("base64") => BASE64
                .decode(&payload)
                .map_err(|e| de::Error::custom(format_args!("payload: invalid base64: {e}")))?,
            _ => payload.into_bytes(),
        };
        Ok(message)
    }
}

fn wrong_type(key: &str, expected: &str, got: &Json) -> String {
    format!("{key}: expected {expected}, got {}", got.kind())
}

fn shown(value: &Json) -> String {
    match value {
        Json::String(text) => quoted(text),
        other => other.kind().to_string(),
    }
}

/// A string of at most 255 bytes (an AMQP short string).
fn short_text(value: &Json, key: &str) -> Result<String, String> {
    match value {
        Json::String(text) if text.len() <= 255 => Ok(text.clone()),
        Json::String(_) => Err(format!("{key}: longer than 255 bytes")),
        other => Err(wrong_type(key, "a string", other)),
    }
}

fn short(value: &Json, key: &str) -> Result<ShortString, String> {
    short_text(value, key).map(ShortString::from)
}

fn octet(value: &Json, key: &str) -> Result<u8, String> {
    match value {
        Json::UInt(n) => u8::try_from(*n).map_err(|_| format!("{key}: {n} is above 255")),
        other => Err(wrong_type(key, "an integer from 0 to 255", other)),
    }
}

/// Reads the `properties` object.
///
/// Errors: an unknown property, a wrong type, a string longer than 255 bytes, a header
/// value as [`value::from_json`].
pub fn properties(value: &Json) -> Result<BasicProperties, String> {
    let Json::Object(entries) = value else {
        return Err(wrong_type("properties", "an object", value));
    };
    let mut p = BasicProperties::default();
    for (key, v) in entries {
        let name = format!("properties.{key}");
        let k = name.as_str();
        p = match key.as_str() {
            "content_type" => p.with_content_type(short(v, k)?),
            "content_encoding" => p.with_content_encoding(short(v, k)?),
            "headers" => match v {
                Json::Object(entries) => p.with_headers(value::table(entries, k)?),
                other => return Err(wrong_type(k, "an object", other)),
            },
            "delivery_mode" => p.with_delivery_mode(octet(v, k)?),
            "priority" => p.with_priority(octet(v, k)?),
            "correlation_id" => p.with_correlation_id(short(v, k)?),
            "reply_to" => p.with_reply_to(short(v, k)?),
            "expiration" => p.with_expiration(short(v, k)?),
            "message_id" => p.with_message_id(short(v, k)?),
            "timestamp" => p.with_timestamp(value::timestamp(v).map_err(|e| format!("{k}: {e}"))?),
            "type" => p.with_type(short(v, k)?),
            "user_id" => p.with_user_id(short(v, k)?),
            "app_id" => p.with_app_id(short(v, k)?),
            "cluster_id" => p.with_cluster_id(short(v, k)?),
            _ => return Err(format!("unknown property {}", quoted(key))),
        };
    }
    Ok(p)
}
