//! `--verbose`: one line on stderr per AMQP method sent (`->`) and received (`<-`).
//!
//! The tool's connection runs through a small relay on 127.0.0.1 that forwards every byte
//! unchanged and decodes the frames as they pass, with amq-protocol's frame parser (AMQP 0-9-1
//! §4.2.3 framing: type, channel, size, payload, frame-end). Content header and body frames
//! and heartbeats are not methods and are not printed. Over TLS the relay would only see
//! ciphertext, so the tool connects to the broker directly and prints a note instead.

use amq_protocol::frame::{AMQPFrame, parse_frame};
use amq_protocol::protocol::{AMQPClass, basic, channel, confirm, connection, exchange, queue};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::Duration;

/// Which way a frame travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server, printed `->`.
    Sent,
    /// Server to client, printed `<-`.
    Received,
}

impl Direction {
    fn arrow(self) -> &'static str {
        match self {
            Direction::Sent => "->",
            Direction::Received => "<-",
        }
    }
}

/// Connects to the broker at `host:port` (within `timeout`), then starts a relay for one
/// connection and returns the local port to connect to instead. Two threads forward the bytes
/// both ways and print each method frame on stderr.
///
/// Errors: resolving or connecting to the broker (so they read as the direct connection's),
/// binding the local listener.
pub fn start_relay(host: &str, port: u16, timeout: Option<Duration>) -> io::Result<u16> {
    let upstream = connect(host, port, timeout)?;
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let local_port = listener.local_addr()?.port();
    thread::spawn(move || {
        let Ok((client, _)) = listener.accept() else {
            return;
        };
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let (Ok(client_w), Ok(upstream_w)) = (client.try_clone(), upstream.try_clone()) else {
            return;
        };
        let sender = thread::spawn(move || pump(client, upstream_w, Direction::Sent));
        pump(upstream, client_w, Direction::Received);
        let _ = sender.join();
    });
    Ok(local_port)
}

fn connect(host: &str, port: u16, timeout: Option<Duration>) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address for the host");
    for address in (host, port).to_socket_addrs()? {
        let attempt = match timeout {
            Some(limit) => TcpStream::connect_timeout(&address, limit),
            None => TcpStream::connect(address),
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(error) => last = error,
        }
    }
    Err(last)
}

/// Forwards `from` to `to` until either side closes, printing each method frame.
fn pump(mut from: TcpStream, mut to: TcpStream, direction: Direction) {
    let mut decoder = Decoder::default();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for line in decoder.feed(&buffer[..read]) {
            crate::report::report(&format!("{} {line}", direction.arrow()));
        }
        if to.write_all(&buffer[..read]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// Splits a byte stream into frames and describes the method frames.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Vec<u8>,
    broken: bool,
}

impl Decoder {
    /// Adds bytes; returns one description per complete method frame, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        if self.broken {
            return lines;
        }
        self.pending.extend_from_slice(bytes);
        while let Some(length) = frame_length(&self.pending) {
            let frame: Vec<u8> = self.pending.drain(..length).collect();
            match parse_frame(frame.as_slice()) {
                Ok((_, AMQPFrame::Method(channel, class))) => {
                    lines.push(describe(&class, channel));
                }
                Ok(_) => {}
                Err(_) => {
                    lines.push("(a frame that could not be decoded; tracing stops)".to_string());
                    self.broken = true;
                    break;
                }
            }
        }
        lines
    }
}

/// Length of the first complete frame in `bytes`, if it is all there: 8 bytes for the
/// protocol header, else 7 (type, channel, size) + size + 1 (frame-end).
fn frame_length(bytes: &[u8]) -> Option<usize> {
    if bytes.first() == Some(&b'A') {
        return (bytes.len() >= 8).then_some(8);
    }
    if bytes.len() < 7 {
        return None;
    }
    let size = u32::from_be_bytes([bytes[3], bytes[4], bytes[5], bytes[6]]) as usize;
    let total = 7 + size + 1;
    (bytes.len() >= total).then_some(total)
}

/// `class.method` as the specification names it, with the arguments a reader needs.
pub fn describe(class: &AMQPClass, channel: u16) -> String {
    let name = method_name(class);
    let args = arguments(class);
    let on = if channel == 0 {
        String::new()
    } else {
        format!(" channel={channel}")
    };
    if args.is_empty() {
        format!("{name}{on}")
    } else {
        format!("{name}{on} {args}")
    }
}

/// The method's name, `basic.publish`, `queue.declare-ok`, from the class and method.
pub fn method_name(class: &AMQPClass) -> String {
    // Debug renders `Basic(Publish(Publish { .. }))` or `Basic(GetEmpty(GetEmpty { .. }))`.
    let debug = format!("{class:?}");
    let mut parts = debug.splitn(3, '(');
    let class_name = parts.next().unwrap_or("").to_lowercase();
    let method = parts.next().unwrap_or("");
    let mut kebab = String::new();
    for (i, c) in method.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                kebab.push('-');
            }
            kebab.push(c.to_ascii_lowercase());
        } else {
            kebab.push(c);
        }
    }
    format!("{class_name}.{kebab}")
}

/// The method's arguments worth reading, `name=value` separated by spaces (strings quoted);
/// empty for the methods not listed.
fn arguments(class: &AMQPClass) -> String {
    match class {
        AMQPClass::Connection(m) => connection_arguments(m),
        AMQPClass::Channel(channel::AMQPMethod::Close(c)) => {
            close_arguments(c.reply_code, &c.reply_text)
        }
        AMQPClass::Queue(m) => queue_arguments(m),
        AMQPClass::Exchange(exchange::AMQPMethod::Declare(d)) => {
            format!("exchange={} type={}", q(&d.exchange), q(&d.kind))
        }
        AMQPClass::Basic(m) => basic_arguments(m),
        AMQPClass::Confirm(confirm::AMQPMethod::Select(s)) => format!("nowait={}", s.nowait),
        _ => String::new(),
    }
}

/// `"text"`: a string argument, quoted.
fn q(text: &dyn std::fmt::Display) -> String {
    format!("\"{text}\"")
}

/// connection.close and channel.close: the reply code and text.
fn close_arguments(code: u16, text: &dyn std::fmt::Display) -> String {
    format!("reply-code={code} reply-text={}", q(text))
}

/// connection.tune and tune-ok: the limits proposed or agreed.
fn tune_arguments(channel_max: u16, frame_max: u32, heartbeat: u16) -> String {
    format!("channel-max={channel_max} frame-max={frame_max} heartbeat={heartbeat}")
}

fn connection_arguments(method: &connection::AMQPMethod) -> String {
    match method {
        connection::AMQPMethod::Tune(t) => tune_arguments(t.channel_max, t.frame_max, t.heartbeat),
        connection::AMQPMethod::TuneOk(t) => {
            tune_arguments(t.channel_max, t.frame_max, t.heartbeat)
        }
        connection::AMQPMethod::Open(o) => format!("vhost={}", q(&o.virtual_host)),
        connection::AMQPMethod::StartOk(s) => format!("mechanism={}", s.mechanism),
        connection::AMQPMethod::Close(c) => close_arguments(c.reply_code, &c.reply_text),
        _ => String::new(),
    }
}

fn queue_arguments(method: &queue::AMQPMethod) -> String {
    match method {
        queue::AMQPMethod::Declare(d) => format!(
            "queue={} durable={} exclusive={} auto-delete={} passive={}",
            q(&d.queue),
            d.durable,
            d.exclusive,
            d.auto_delete,
            d.passive
        ),
        queue::AMQPMethod::DeclareOk(d) => format!(
            "queue={} message-count={} consumer-count={}",
            q(&d.queue),
            d.message_count,
            d.consumer_count
        ),
        queue::AMQPMethod::Bind(b) => format!(
            "queue={} exchange={} routing-key={}",
            q(&b.queue),
            q(&b.exchange),
            q(&b.routing_key)
        ),
        queue::AMQPMethod::Delete(d) => format!(
            "queue={} if-unused={} if-empty={}",
            q(&d.queue),
            d.if_unused,
            d.if_empty
        ),
        queue::AMQPMethod::DeleteOk(d) => format!("message-count={}", d.message_count),
        _ => String::new(),
    }
}

fn basic_arguments(method: &basic::AMQPMethod) -> String {
    use basic::AMQPMethod as B;
    match method {
        B::Qos(o) => format!("prefetch-count={} global={}", o.prefetch_count, o.global),
        B::Consume(c) => format!(
            "queue={} no-ack={} exclusive={}",
            q(&c.queue),
            c.no_ack,
            c.exclusive
        ),
        B::ConsumeOk(c) => format!("consumer-tag={}", q(&c.consumer_tag)),
        B::Cancel(c) => format!("consumer-tag={}", q(&c.consumer_tag)),
        B::CancelOk(c) => format!("consumer-tag={}", q(&c.consumer_tag)),
        B::Get(g) => format!("queue={} no-ack={}", q(&g.queue), g.no_ack),
        B::Ack(a) => format!("delivery-tag={} multiple={}", a.delivery_tag, a.multiple),
        B::Nack(n) => format!(
            "delivery-tag={} multiple={} requeue={}",
            n.delivery_tag, n.multiple, n.requeue
        ),
        B::Reject(r) => format!("delivery-tag={} requeue={}", r.delivery_tag, r.requeue),
        _ => basic_message_arguments(method),
    }
}

/// The basic methods that carry a message: where it goes or came from.
fn basic_message_arguments(method: &basic::AMQPMethod) -> String {
    use basic::AMQPMethod as B;
    match method {
        B::Publish(p) => format!(
            "exchange={} routing-key={} mandatory={}",
            q(&p.exchange),
            q(&p.routing_key),
            p.mandatory
        ),
        B::Return(r) => format!(
            "reply-code={} reply-text={} exchange={} routing-key={}",
            r.reply_code,
            q(&r.reply_text),
            q(&r.exchange),
            q(&r.routing_key)
        ),
        B::Deliver(d) => format!(
            "consumer-tag={} delivery-tag={} redelivered={} exchange={} routing-key={}",
            q(&d.consumer_tag),
            d.delivery_tag,
            d.redelivered,
            q(&d.exchange),
            q(&d.routing_key)
        ),
        B::GetOk(g) => format!(
            "delivery-tag={} redelivered={} exchange={} routing-key={} message-count={}",
            g.delivery_tag,
            g.redelivered,
            q(&g.exchange),
            q(&g.routing_key),
            g.message_count
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amq_protocol::frame::gen_frame;

    fn encode(frame: &AMQPFrame) -> Vec<u8> {
        let (buffer, _) =
            cookie_factory::r#gen(gen_frame(frame), Vec::new()).expect("frame encodes");
        buffer
    }

    #[test]
    fn names_follow_the_specification() {
        let publish = AMQPClass::Basic(basic::AMQPMethod::Publish(basic::Publish {
            exchange: "".into(),
            routing_key: "jobs".into(),
            mandatory: false,
            immediate: false,
        }));
        assert_eq!(
            describe(&publish, 1),
            "basic.publish channel=1 exchange=\"\" routing-key=\"jobs\" mandatory=false"
        );
        let empty = AMQPClass::Basic(basic::AMQPMethod::GetEmpty(basic::GetEmpty {}));
        assert_eq!(method_name(&empty), "basic.get-empty");
    }

    #[test]
    fn decodes_frames_split_anywhere() {
        let ack = AMQPFrame::Method(
            1,
            AMQPClass::Basic(basic::AMQPMethod::Ack(basic::Ack {
                delivery_tag: 7,
                multiple: false,
            })),
        );
        let mut bytes = b"AMQP\x00\x00\x09\x01".to_vec();
        bytes.extend(encode(&ack));
        bytes.extend(encode(&AMQPFrame::Heartbeat));
        bytes.extend(encode(&ack));
        let mut decoder = Decoder::default();
        let mut lines = Vec::new();
        for chunk in bytes.chunks(3) {
            lines.extend(decoder.feed(chunk));
        }
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "basic.ack channel=1 delivery-tag=7 multiple=false"
        );
    }
}
