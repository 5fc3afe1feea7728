//! A tiny synchronous AMQP 0-9-1 client for the differential tests.
//!
//! It exists so that the broker state can be read byte for byte: header tables keep their
//! order, duplicate keys and field types (a client library would turn them into a map), and
//! every basic property is reported, including ones neither tool should set.

use std::fmt;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const FRAME_METHOD: u8 = 1;
const FRAME_HEADER: u8 = 2;
const FRAME_BODY: u8 = 3;
const FRAME_HEARTBEAT: u8 = 8;
const FRAME_END: u8 = 0xCE;
const FRAME_MAX: u32 = 131072;

/// An error the broker (or the socket) reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpError {
    /// The reply code of channel.close / connection.close (0 for socket or protocol errors).
    pub code: u16,
    /// The reply text, or a description of the local failure.
    pub text: String,
}

impl fmt::Display for AmqpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

fn local(text: impl Into<String>) -> AmqpError {
    AmqpError {
        code: 0,
        text: text.into(),
    }
}

pub type Result<T> = std::result::Result<T, AmqpError>;

// ---------------------------------------------------------------------------------------------
// Encoding

#[derive(Default)]
struct W(Vec<u8>);

/// The arguments of method `method` of `class` on a channel, starting with the reserved ticket
/// (a short 0); the method's own arguments follow.
fn ticketed(class: u16, method: u16) -> W {
    W::default().u16(class).u16(method).u16(0)
}

impl W {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn shortstr(mut self, s: &[u8]) -> Self {
        assert!(s.len() < 256, "shortstr too long");
        self.0.push(s.len() as u8);
        self.0.extend_from_slice(s);
        self
    }
    fn longstr(mut self, s: &[u8]) -> Self {
        self.0.extend_from_slice(&(s.len() as u32).to_be_bytes());
        self.0.extend_from_slice(s);
        self
    }
    fn empty_table(self) -> Self {
        self.u32(0)
    }
    fn table(self, entries: &[(Vec<u8>, FieldValue)]) -> Self {
        let mut inner = W::default();
        for (key, value) in entries {
            inner = inner.shortstr(key);
            inner = value.encode(inner);
        }
        self.longstr(&inner.0)
    }
}

struct R<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> R<'a> {
    fn new(b: &'a [u8]) -> Self {
        R { b, i: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.i + n > self.b.len() {
            return Err(local("truncated AMQP data"));
        }
        let s = &self.b[self.i..self.i + n];
        self.i += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn shortstr(&mut self) -> Result<Vec<u8>> {
        let n = self.u8()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn longstr(&mut self) -> Result<Vec<u8>> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn table(&mut self) -> Result<Vec<(Vec<u8>, FieldValue)>> {
        let raw = self.longstr()?;
        let mut r = R::new(&raw);
        let mut entries = Vec::new();
        while r.i < raw.len() {
            let key = r.shortstr()?;
            let value = FieldValue::decode(&mut r)?;
            entries.push((key, value));
        }
        Ok(entries)
    }
}

/// A field-table value, with its wire type kept.
#[derive(Clone, PartialEq)]
pub enum FieldValue {
    Bool(bool),
    I8(i8),
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    F32(u32),
    F64(u64),
    Decimal(u8, u32),
    LongStr(Vec<u8>),
    Array(Vec<FieldValue>),
    Timestamp(u64),
    Table(Vec<(Vec<u8>, FieldValue)>),
    Void,
    Bytes(Vec<u8>),
}

impl FieldValue {
    fn decode(r: &mut R<'_>) -> Result<FieldValue> {
        Ok(match r.u8()? {
            b't' => FieldValue::Bool(r.u8()? != 0),
            b'b' => FieldValue::I8(r.u8()? as i8),
            b'B' => FieldValue::U8(r.u8()?),
            b's' => FieldValue::I16(r.u16()? as i16),
            b'u' => FieldValue::U16(r.u16()?),
            b'I' => FieldValue::I32(r.u32()? as i32),
            b'i' => FieldValue::U32(r.u32()?),
            b'l' | b'L' => FieldValue::I64(r.u64()? as i64),
            b'f' => FieldValue::F32(r.u32()?),
            b'd' => FieldValue::F64(r.u64()?),
            b'D' => FieldValue::Decimal(r.u8()?, r.u32()?),
            b'S' => FieldValue::LongStr(r.longstr()?),
            b'A' => {
                let raw = r.longstr()?;
                let mut inner = R::new(&raw);
                let mut values = Vec::new();
                while inner.i < raw.len() {
                    values.push(FieldValue::decode(&mut inner)?);
                }
                FieldValue::Array(values)
            }
            b'T' => FieldValue::Timestamp(r.u64()?),
            b'F' => FieldValue::Table(r.table()?),
            b'V' => FieldValue::Void,
            b'x' => FieldValue::Bytes(r.longstr()?),
            other => return Err(local(format!("unknown field type {:?}", other as char))),
        })
    }

    fn encode(&self, w: W) -> W {
        match self {
            FieldValue::LongStr(s) => w.u8(b'S').longstr(s),
            FieldValue::Bool(b) => w.u8(b't').u8(*b as u8),
            FieldValue::I32(v) => w.u8(b'I').u32(*v as u32),
            FieldValue::I64(v) => w.u8(b'l').u64(*v as u64),
            other => panic!("encoding {other:?} is not supported by the test client"),
        }
    }
}

/// Bytes shown as a string literal with escapes (`"a\n\x00"`).
pub fn show_bytes(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '\t' => s.push_str("\\t"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    s.push_str(&format!("\\x{:02x}", c as u32))
                }
                c => s.push(c),
            }
        }
        for byte in chunk.invalid() {
            s.push_str(&format!("\\x{byte:02x}"));
        }
    }
    s.push('"');
    s
}

impl fmt::Debug for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Bool(v) => write!(f, "t:{v}"),
            FieldValue::I8(v) => write!(f, "b:{v}"),
            FieldValue::U8(v) => write!(f, "B:{v}"),
            FieldValue::I16(v) => write!(f, "s:{v}"),
            FieldValue::U16(v) => write!(f, "u:{v}"),
            FieldValue::I32(v) => write!(f, "I:{v}"),
            FieldValue::U32(v) => write!(f, "i:{v}"),
            FieldValue::I64(v) => write!(f, "l:{v}"),
            FieldValue::F32(v) => write!(f, "f:{}", f32::from_bits(*v)),
            FieldValue::F64(v) => write!(f, "d:{}", f64::from_bits(*v)),
            FieldValue::Decimal(s, v) => write!(f, "D:{v}e-{s}"),
            FieldValue::LongStr(v) => write!(f, "S:{}", show_bytes(v)),
            FieldValue::Array(v) => write!(f, "A:{v:?}"),
            FieldValue::Timestamp(v) => write!(f, "T:{v}"),
            FieldValue::Table(v) => write!(f, "F:{}", show_table(v)),
            FieldValue::Void => write!(f, "V"),
            FieldValue::Bytes(v) => write!(f, "x:{}", show_bytes(v)),
        }
    }
}

/// A field table in wire order: `{"k1"=S:"v1", "k1"=S:"dup"}`.
pub fn show_table(t: &[(Vec<u8>, FieldValue)]) -> String {
    let items: Vec<String> = t
        .iter()
        .map(|(k, v)| format!("{}={v:?}", show_bytes(k)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// The basic properties of a message, exactly as the broker sent them.
#[derive(Clone, PartialEq, Default)]
pub struct Properties {
    pub content_type: Option<Vec<u8>>,
    pub content_encoding: Option<Vec<u8>>,
    pub headers: Option<Vec<(Vec<u8>, FieldValue)>>,
    pub delivery_mode: Option<u8>,
    pub priority: Option<u8>,
    pub correlation_id: Option<Vec<u8>>,
    pub reply_to: Option<Vec<u8>>,
    pub expiration: Option<Vec<u8>>,
    pub message_id: Option<Vec<u8>>,
    pub timestamp: Option<u64>,
    pub kind: Option<Vec<u8>>,
    pub user_id: Option<Vec<u8>>,
    pub app_id: Option<Vec<u8>>,
    pub cluster_id: Option<Vec<u8>>,
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let mut s = |name: &str, v: &Option<Vec<u8>>| {
            if let Some(v) = v {
                parts.push(format!("{name}={}", show_bytes(v)));
            }
        };
        s("content_type", &self.content_type);
        s("content_encoding", &self.content_encoding);
        s("correlation_id", &self.correlation_id);
        s("reply_to", &self.reply_to);
        s("expiration", &self.expiration);
        s("message_id", &self.message_id);
        s("type", &self.kind);
        s("user_id", &self.user_id);
        s("app_id", &self.app_id);
        s("cluster_id", &self.cluster_id);
        if let Some(h) = &self.headers {
            parts.push(format!("headers={}", show_table(h)));
        }
        if let Some(v) = self.delivery_mode {
            parts.push(format!("delivery_mode={v}"));
        }
        if let Some(v) = self.priority {
            parts.push(format!("priority={v}"));
        }
        if let Some(v) = self.timestamp {
            parts.push(format!("timestamp={v}"));
        }
        write!(f, "{{{}}}", parts.join(", "))
    }
}

impl Properties {
    fn decode(r: &mut R<'_>) -> Result<Properties> {
        let flags = r.u16()?;
        let bit = |n: u16| flags & (1 << n) != 0;
        let mut p = Properties::default();
        if bit(15) {
            p.content_type = Some(r.shortstr()?);
        }
        if bit(14) {
            p.content_encoding = Some(r.shortstr()?);
        }
        if bit(13) {
            p.headers = Some(r.table()?);
        }
        if bit(12) {
            p.delivery_mode = Some(r.u8()?);
        }
        if bit(11) {
            p.priority = Some(r.u8()?);
        }
        if bit(10) {
            p.correlation_id = Some(r.shortstr()?);
        }
        if bit(9) {
            p.reply_to = Some(r.shortstr()?);
        }
        if bit(8) {
            p.expiration = Some(r.shortstr()?);
        }
        if bit(7) {
            p.message_id = Some(r.shortstr()?);
        }
        if bit(6) {
            p.timestamp = Some(r.u64()?);
        }
        if bit(5) {
            p.kind = Some(r.shortstr()?);
        }
        if bit(4) {
            p.user_id = Some(r.shortstr()?);
        }
        if bit(3) {
            p.app_id = Some(r.shortstr()?);
        }
        if bit(2) {
            p.cluster_id = Some(r.shortstr()?);
        }
        Ok(p)
    }

    fn encode(&self) -> Vec<u8> {
        let mut flags = 0u16;
        let mut w = W::default();
        if let Some(v) = &self.content_type {
            flags |= 1 << 15;
            w = w.shortstr(v);
        }
        if let Some(v) = &self.content_encoding {
            flags |= 1 << 14;
            w = w.shortstr(v);
        }
        if let Some(v) = &self.headers {
            flags |= 1 << 13;
            w = w.table(v);
        }
        if let Some(v) = self.delivery_mode {
            flags |= 1 << 12;
            w = w.u8(v);
        }
        if let Some(v) = &self.reply_to {
            flags |= 1 << 9;
            w = w.shortstr(v);
        }
        assert!(
            self.priority.is_none()
                && self.correlation_id.is_none()
                && self.expiration.is_none()
                && self.message_id.is_none()
                && self.timestamp.is_none()
                && self.kind.is_none()
                && self.user_id.is_none()
                && self.app_id.is_none()
                && self.cluster_id.is_none(),
            "the test client only sends content_type, content_encoding, headers, delivery_mode, reply_to"
        );
        let mut out = flags.to_be_bytes().to_vec();
        out.extend_from_slice(&w.0);
        out
    }
}

/// One message taken with basic.get.
#[derive(Clone, PartialEq)]
pub struct Message {
    pub exchange: Vec<u8>,
    pub routing_key: Vec<u8>,
    pub redelivered: bool,
    pub properties: Properties,
    pub body: Vec<u8>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut body = show_bytes(&self.body);
        let tail = format!("...\" ({} bytes)", self.body.len());
        super::super::shorten(&mut body, 300, 200, &tail);
        write!(
            f,
            "exchange={} routing_key={} redelivered={} props={:?} body={body}",
            show_bytes(&self.exchange),
            show_bytes(&self.routing_key),
            self.redelivered,
            self.properties
        )
    }
}

/// Result of a passive queue.declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueInfo {
    pub messages: u32,
    pub consumers: u32,
}

/// Where a published message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routed {
    /// Confirmed by the broker and routed to at least one queue.
    Yes,
    /// Returned by the broker (mandatory and unroutable).
    Returned,
}

// ---------------------------------------------------------------------------------------------
// The connection

/// A connection with one open channel (reopened under a new number after a channel error).
pub struct Client {
    stream: TcpStream,
    channel: u16,
    frame_max: u32,
    confirming: bool,
}

struct Frame {
    kind: u8,
    channel: u16,
    payload: Vec<u8>,
}

impl Client {
    /// Connects as `user`/`password` to `vhost` on 127.0.0.1:`port` and opens a channel.
    pub fn connect(port: u16, user: &str, password: &str, vhost: &str) -> Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| local(format!("connecting to 127.0.0.1:{port}: {e}")))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .map_err(|e| local(e.to_string()))?;
        stream.set_nodelay(true).ok();
        let mut c = Client {
            stream,
            channel: 0,
            frame_max: FRAME_MAX,
            confirming: false,
        };
        c.write_all(b"AMQP\x00\x00\x09\x01")?;
        c.expect_method(0, 10, 10)?; // connection.start
        let mut response = vec![0u8];
        response.extend_from_slice(user.as_bytes());
        response.push(0);
        response.extend_from_slice(password.as_bytes());
        let start_ok = W::default()
            .u16(10)
            .u16(11)
            .table(&[(
                b"product".to_vec(),
                FieldValue::LongStr(b"compat-test-client".to_vec()),
            )])
            .shortstr(b"PLAIN")
            .longstr(&response)
            .shortstr(b"en_US");
        c.send_frame(FRAME_METHOD, 0, &start_ok.0)?;
        let tune = c.expect_method(0, 10, 30)?;
        let mut r = R::new(&tune);
        let channel_max = r.u16()?;
        let frame_max = r.u32()?;
        c.frame_max = if frame_max == 0 {
            FRAME_MAX
        } else {
            frame_max.min(FRAME_MAX)
        };
        let tune_ok = W::default()
            .u16(10)
            .u16(31)
            .u16(channel_max)
            .u32(c.frame_max)
            .u16(0);
        c.send_frame(FRAME_METHOD, 0, &tune_ok.0)?;
        let open = W::default()
            .u16(10)
            .u16(40)
            .shortstr(vhost.as_bytes())
            .shortstr(b"")
            .u8(0);
        c.send_frame(FRAME_METHOD, 0, &open.0)?;
        c.expect_method(0, 10, 41)?;
        c.open_channel()?;
        Ok(c)
    }

    fn write_all(&mut self, b: &[u8]) -> Result<()> {
        self.stream
            .write_all(b)
            .map_err(|e| local(format!("writing to the broker: {e}")))
    }

    fn send_frame(&mut self, kind: u8, channel: u16, payload: &[u8]) -> Result<()> {
        let mut f = Vec::with_capacity(payload.len() + 8);
        f.push(kind);
        f.extend_from_slice(&channel.to_be_bytes());
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f.push(FRAME_END);
        self.write_all(&f)
    }

    fn read_frame(&mut self) -> Result<Frame> {
        let mut head = [0u8; 7];
        self.stream
            .read_exact(&mut head)
            .map_err(|e| local(format!("reading from the broker: {e}")))?;
        let size = u32::from_be_bytes(head[3..7].try_into().unwrap()) as usize;
        let mut payload = vec![0u8; size + 1];
        self.stream
            .read_exact(&mut payload)
            .map_err(|e| local(format!("reading from the broker: {e}")))?;
        if payload.pop() != Some(FRAME_END) {
            return Err(local("bad frame end"));
        }
        Ok(Frame {
            kind: head[0],
            channel: u16::from_be_bytes([head[1], head[2]]),
            payload,
        })
    }

    /// The next method frame for `channel` (or the connection), as (class, method, args).
    /// A channel.close for our channel is answered and turned into an error (the channel is
    /// reopened); a connection.close is an error.
    fn next_method(&mut self) -> Result<(u16, u16, Vec<u8>)> {
        loop {
            let frame = self.read_frame()?;
            if frame.kind == FRAME_HEARTBEAT {
                continue;
            }
            if frame.kind != FRAME_METHOD {
                return Err(local(format!("unexpected frame type {}", frame.kind)));
            }
            let mut r = R::new(&frame.payload);
            let class = r.u16()?;
            let method = r.u16()?;
            let args = frame.payload[4..].to_vec();
            if (class, method) == (10, 50) {
                let mut r = R::new(&args);
                let code = r.u16()?;
                let text = String::from_utf8_lossy(&r.shortstr()?).into_owned();
                let _ = self.send_frame(FRAME_METHOD, 0, &W::default().u16(10).u16(51).0);
                return Err(AmqpError { code, text });
            }
            if (class, method) == (20, 40) && frame.channel == self.channel {
                let mut r = R::new(&args);
                let code = r.u16()?;
                let text = String::from_utf8_lossy(&r.shortstr()?).into_owned();
                self.send_frame(FRAME_METHOD, self.channel, &W::default().u16(20).u16(41).0)?;
                self.open_channel()?;
                return Err(AmqpError { code, text });
            }
            if frame.channel != self.channel && frame.channel != 0 {
                continue;
            }
            return Ok((class, method, args));
        }
    }

    fn expect_method(&mut self, _channel: u16, class: u16, method: u16) -> Result<Vec<u8>> {
        let (c, m, args) = self.next_method()?;
        if (c, m) != (class, method) {
            return Err(local(format!(
                "expected method {class}.{method}, got {c}.{m}"
            )));
        }
        Ok(args)
    }

    fn open_channel(&mut self) -> Result<()> {
        self.channel += 1;
        self.confirming = false;
        let ch = self.channel;
        self.send_frame(
            FRAME_METHOD,
            ch,
            &W::default().u16(20).u16(10).shortstr(b"").0,
        )?;
        self.expect_method(ch, 20, 11)?;
        Ok(())
    }

    fn rpc(&mut self, request: W, reply: (u16, u16)) -> Result<Vec<u8>> {
        let ch = self.channel;
        self.send_frame(FRAME_METHOD, ch, &request.0)?;
        self.expect_method(ch, reply.0, reply.1)
    }

    /// queue.declare; `passive` only checks existence. Returns the counts.
    pub fn declare_queue(
        &mut self,
        name: &str,
        passive: bool,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
    ) -> Result<QueueInfo> {
        let bits = (passive as u8)
            | (durable as u8) << 1
            | (exclusive as u8) << 2
            | (auto_delete as u8) << 3;
        let req = ticketed(50, 10)
            .shortstr(name.as_bytes())
            .u8(bits)
            .empty_table();
        let args = self.rpc(req, (50, 11))?;
        let mut r = R::new(&args);
        let _name = r.shortstr()?;
        Ok(QueueInfo {
            messages: r.u32()?,
            consumers: r.u32()?,
        })
    }

    /// queue.delete (unconditional); missing queues are fine.
    pub fn delete_queue(&mut self, name: &str) -> Result<u32> {
        let req = ticketed(50, 40).shortstr(name.as_bytes()).u8(0);
        let args = self.rpc(req, (50, 41))?;
        R::new(&args).u32()
    }

    /// queue.bind.
    pub fn bind_queue(&mut self, queue: &str, exchange: &str, key: &str) -> Result<()> {
        let req = ticketed(50, 20)
            .shortstr(queue.as_bytes())
            .shortstr(exchange.as_bytes())
            .shortstr(key.as_bytes())
            .u8(0)
            .empty_table();
        self.rpc(req, (50, 21)).map(|_| ())
    }

    /// exchange.declare (non-durable, not auto-delete).
    pub fn declare_exchange(&mut self, name: &str, kind: &str) -> Result<()> {
        let req = ticketed(40, 10)
            .shortstr(name.as_bytes())
            .shortstr(kind.as_bytes())
            .u8(0)
            .empty_table();
        self.rpc(req, (40, 11)).map(|_| ())
    }

    /// exchange.delete.
    pub fn delete_exchange(&mut self, name: &str) -> Result<()> {
        let req = ticketed(40, 20).shortstr(name.as_bytes()).u8(0);
        self.rpc(req, (40, 21)).map(|_| ())
    }

    /// basic.consume with acks (the consumer stays until the connection closes).
    pub fn consume(&mut self, queue: &str) -> Result<()> {
        let req = ticketed(60, 20)
            .shortstr(queue.as_bytes())
            .shortstr(b"")
            .u8(0)
            .empty_table();
        self.rpc(req, (60, 21)).map(|_| ())
    }

    /// basic.publish with `mandatory`, in confirm mode: waits for the broker's ack. `key` is
    /// any bytes (other clients send routing keys that are not UTF-8).
    pub fn publish(
        &mut self,
        exchange: &str,
        key: impl AsRef<[u8]>,
        properties: &Properties,
        body: &[u8],
    ) -> Result<Routed> {
        if !self.confirming {
            self.rpc(W::default().u16(85).u16(10).u8(0), (85, 11))?;
            self.confirming = true;
        }
        let ch = self.channel;
        let method = ticketed(60, 40)
            .shortstr(exchange.as_bytes())
            .shortstr(key.as_ref())
            .u8(1);
        self.send_frame(FRAME_METHOD, ch, &method.0)?;
        let mut header = W::default().u16(60).u16(0).u64(body.len() as u64).0;
        header.extend_from_slice(&properties.encode());
        self.send_frame(FRAME_HEADER, ch, &header)?;
        let chunk = (self.frame_max - 8) as usize;
        for part in body.chunks(chunk) {
            self.send_frame(FRAME_BODY, ch, part)?;
        }
        let mut routed = Routed::Yes;
        loop {
            match self.next_method()? {
                (60, 80, _) => return Ok(routed),
                (60, 120, _) => return Err(local("message nacked by the broker")),
                (60, 50, _) => {
                    routed = Routed::Returned;
                    self.read_content()?;
                }
                (c, m, _) => return Err(local(format!("unexpected method {c}.{m}"))),
            }
        }
    }

    fn read_content(&mut self) -> Result<(Properties, Vec<u8>)> {
        let frame = loop {
            let f = self.read_frame()?;
            if f.kind != FRAME_HEARTBEAT {
                break f;
            }
        };
        if frame.kind != FRAME_HEADER {
            return Err(local(format!(
                "expected a header frame, got {}",
                frame.kind
            )));
        }
        let mut r = R::new(&frame.payload);
        let _class = r.u16()?;
        let _weight = r.u16()?;
        let size = r.u64()? as usize;
        let properties = Properties::decode(&mut r)?;
        let mut body = Vec::with_capacity(size);
        while body.len() < size {
            let f = self.read_frame()?;
            match f.kind {
                FRAME_HEARTBEAT => continue,
                FRAME_BODY => body.extend_from_slice(&f.payload),
                other => return Err(local(format!("expected a body frame, got {other}"))),
            }
        }
        Ok((properties, body))
    }

    /// basic.get with no-ack: the next message, or None when the queue is empty.
    pub fn get(&mut self, queue: &str) -> Result<Option<Message>> {
        let ch = self.channel;
        let req = ticketed(60, 70).shortstr(queue.as_bytes()).u8(1);
        self.send_frame(FRAME_METHOD, ch, &req.0)?;
        match self.next_method()? {
            (60, 72, _) => Ok(None),
            (60, 71, args) => {
                let mut r = R::new(&args);
                let _tag = r.u64()?;
                let redelivered = r.u8()? & 1 != 0;
                let exchange = r.shortstr()?;
                let routing_key = r.shortstr()?;
                let (properties, body) = self.read_content()?;
                Ok(Some(Message {
                    exchange,
                    routing_key,
                    redelivered,
                    properties,
                    body,
                }))
            }
            (c, m, _) => Err(local(format!("unexpected method {c}.{m}"))),
        }
    }

    /// connection.close (best effort).
    pub fn close(mut self) {
        let req = W::default()
            .u16(10)
            .u16(50)
            .u16(200)
            .shortstr(b"OK")
            .u16(0)
            .u16(0);
        if self.send_frame(FRAME_METHOD, 0, &req.0).is_ok() {
            let _ = self.stream.set_read_timeout(Some(Duration::from_secs(2)));
            while let Ok(f) = self.read_frame() {
                if f.kind == FRAME_METHOD && f.payload.get(..4) == Some(&[0, 10, 0, 51]) {
                    break;
                }
            }
        }
    }
}
