//! Values sent as AMQP short strings (names, keys, properties: at most 255 bytes) against the
//! private broker: 255 bytes go through, 256 are refused before connecting, with one line
//! naming the option and the limit, exit 1, nothing sent (amq-protocol panicked).

mod common;

use common::*;
use lapin::options::BasicGetOptions;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, ExchangeKind};

/// `prefix` padded with `x` to exactly `len` bytes.
fn sized(prefix: &str, len: usize) -> String {
    assert!(prefix.len() < len);
    format!("{prefix}.{}", "x".repeat(len - prefix.len() - 1))
}

/// Why a 256-byte value is refused.
const TOO_LONG: &str = "256 bytes, more than the 255 an AMQP short string can hold";

/// The one line a refused value gets.
fn refused(option: &str) -> String {
    format!("{option}: {TOO_LONG}")
}

#[track_caller]
fn assert_refused(out: &Output, option: &str) {
    out.assert_error(1, &refused(option)).assert_no_stdout();
    assert_eq!(out.stderr_lines().len(), 1, "one line only: {out:?}");
}

/// The properties and headers of the one message on `queue`.
fn only_properties(queue: &str) -> BasicProperties {
    let queue = queue.to_string();
    with_channel(async move |channel: &Channel| {
        let got = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
            .expect("a message");
        got.delivery.properties.clone()
    })
}

#[test]
fn queue_names_of_255_bytes_work_and_256_are_refused_by_every_tool() {
    let queue = TestQueue::named("ss-q");
    let name = sized(queue.name(), 255);
    let _guard = TestQueue::adopt(&name);
    let out = amqp(DECLARE, &["-q", &name]);
    out.assert_printed(format!("{name}\n"));
    publish(&name, b"m");
    let got = amqp(GET, &["-q", &name]);
    got.assert_printed(b"m");
    publish(&name, b"c");
    let consumed = amqp(CONSUME, &["-q", &name, "-c", "1", "cat"]);
    consumed.assert_printed(b"c");
    let deleted = amqp(DELETE, &["-q", &name]);
    deleted.assert_printed("0\n");

    let long = sized(queue.name(), 256);
    assert_refused(&amqp(DECLARE, &["-q", &long]), "-q");
    assert_refused(&amqp(DECLARE, &[&format!("--queue={long}")]), "--queue");
    assert_refused(&amqp(GET, &["-q", &long]), "-q");
    assert_refused(&amqp(DELETE, &["--queue", &long]), "--queue");
    assert_refused(&amqp(CONSUME, &["-q", &long, "-c", "1", "cat"]), "-q");
    assert!(!queue_exists(&long[..255]), "nothing declared");
}

#[test]
fn consume_takes_255_byte_exchange_names_and_binding_keys_and_refuses_256() {
    let queue = TestQueue::named("ss-cq");
    let exchange = sized(&unique_name("ss-cx"), 255);
    let declared = exchange.clone();
    with_channel(async move |channel: &Channel| {
        channel
            .exchange_declare(
                declared.as_str().into(),
                ExchangeKind::Direct,
                Default::default(),
                FieldTable::default(),
            )
            .await
            .expect("exchange.declare")
    });
    let key = sized("k", 255);
    let consumer = consume(queue.name())
        .opt("-e", &exchange)
        .opt("-r", format!("a,{key}"))
        .count(1)
        .arg("cat")
        .spawn_consuming(queue.name());
    publish_to(&exchange, &key, b"bound");
    assert_consumed(consumer, b"bound");

    let long_key = sized("k", 256);
    let out = consume(queue.name())
        .opt("-e", &exchange)
        .opt("-r", format!("a,{long_key}"))
        .arg("cat")
        .run();
    assert_refused(&out, "--routing-key");
    let long_exchange = sized("x", 256);
    assert_refused(
        &amqp(CONSUME, &["-q", queue.name(), "-e", &long_exchange, "cat"]),
        "-e",
    );
    assert!(!queue_exists(queue.name()), "nothing declared");
    let name = exchange.clone();
    with_channel(async move |channel: &Channel| {
        let _ = channel
            .exchange_delete(name.as_str().into(), Default::default())
            .await;
    });
}

#[test]
fn publish_takes_255_byte_exchange_and_routing_key_and_refuses_256() {
    let queue = TestQueue::named("ss-pq");
    let name = sized(queue.name(), 255);
    let _guard = TestQueue::adopt(&name);
    declare_queue(&name);
    amqp(PUBLISH, &["-r", &name, "-b", "by key"]).assert_ok();
    amqp(PUBLISH, &["-e", "", "-r", &name, "-b", "by key"]).assert_ok();
    assert_eq!(queue_message_count(&name), 2);
    // A 255-byte exchange name reaches the broker (which has no such exchange).
    let missing = sized("missing", 255);
    let out = amqp(PUBLISH, &["-e", &missing, "-r", "k", "-b", "x"]);
    out.assert_error_starts(1, "basic.publish: server channel error 404");

    let long = sized(queue.name(), 256);
    assert_refused(&amqp(PUBLISH, &["-r", &long, "-b", "x"]), "-r");
    assert_refused(&amqp(PUBLISH, &["-e", &long, "-r", "k", "-b", "x"]), "-e");
    assert_refused(
        &amqp(PUBLISH, &["--routing-key", &long, "-b", "x"]),
        "--routing-key",
    );
    assert_eq!(queue_message_count(&name), 2, "nothing more published");
}

#[test]
fn publish_takes_255_byte_properties_and_refuses_256() {
    let queue = TestQueue::declare("ss-props");
    // (option, the property as the broker delivers it)
    type Getter = fn(&BasicProperties) -> Option<String>;
    let cases: [(&str, Getter); 8] = [
        ("-C", |p| p.content_type().as_ref().map(|s| s.to_string())),
        ("-E", |p| {
            p.content_encoding().as_ref().map(|s| s.to_string())
        }),
        ("-t", |p| p.reply_to().as_ref().map(|s| s.to_string())),
        ("--message-id", |p| {
            p.message_id().as_ref().map(|s| s.to_string())
        }),
        ("--correlation-id", |p| {
            p.correlation_id().as_ref().map(|s| s.to_string())
        }),
        ("--type", |p| p.kind().as_ref().map(|s| s.to_string())),
        ("--app-id", |p| p.app_id().as_ref().map(|s| s.to_string())),
        ("--content-type", |p| {
            p.content_type().as_ref().map(|s| s.to_string())
        }),
    ];
    for (option, get) in cases {
        let value = sized("v", 255);
        amqp(PUBLISH, &["-r", queue.name(), option, &value, "-b", "p"]).assert_ok();
        assert_eq!(get(&only_properties(queue.name())), Some(value), "{option}");
        let long = sized("v", 256);
        assert_refused(
            &amqp(PUBLISH, &["-r", queue.name(), option, &long, "-b", "p"]),
            option,
        );
    }
    // user-id must be the connection's user: a 255-byte one reaches the broker, which refuses it.
    let out = publish_cli(queue.name())
        .opt("--user-id", sized("u", 255))
        .body("p")
        .run();
    out.assert_error_starts(1, "basic.publish: server channel error 406");
    let out = publish_cli(queue.name())
        .opt("--user-id", sized("u", 256))
        .body("p")
        .run();
    assert_refused(&out, "--user-id");
    assert_nothing_more_published(&queue);
}

#[test]
fn header_names_of_255_bytes_are_sent_and_256_refused() {
    let queue = TestQueue::declare("ss-headers");
    let key = sized("h", 255);
    let nested = sized("n", 255);
    let typed = format!("t={{\"{nested}\":1}}");
    let header = format!("{key}: v");
    let out = publish_cli(queue.name())
        .opt("-H", &header)
        .opt("--typed-header", &typed)
        .body("h")
        .run();
    out.assert_ok();
    let properties = only_properties(queue.name());
    let headers = properties.headers().clone().expect("headers");
    assert_eq!(
        headers.inner().get(key.as_str()),
        Some(&AMQPValue::LongString("v".into()))
    );
    let mut inner = FieldTable::default();
    inner.insert(ShortString::from(nested.clone()), AMQPValue::LongLongInt(1));
    assert_eq!(
        headers.inner().get("t"),
        Some(&AMQPValue::FieldTable(inner))
    );

    let long = sized("h", 256);
    let header = format!("{long}: v");
    let out = amqp(PUBLISH, &["-r", queue.name(), "-H", &header, "-b", "h"]);
    out.assert_error(1, &format!("--header: header name: {}", TOO_LONG));
    let out = publish_cli(queue.name())
        .opt("--typed-header", format!("{long}=1"))
        .body("h")
        .run();
    out.assert_error(1, &format!("--typed-header: field name: {}", TOO_LONG));
    let out = publish_cli(queue.name())
        .opt("--typed-header", format!("t=[{{\"{long}\":1}}]"))
        .body("h")
        .run();
    out.assert_error(
        1,
        &format!("--typed-header: t[0]: field name: {}", TOO_LONG),
    );
    assert_nothing_more_published(&queue);
}

#[test]
fn queue_argument_names_of_255_bytes_are_sent_and_256_refused() {
    let queue = TestQueue::named("ss-args");
    let key = sized("x-k", 255);
    amqp(DECLARE, &["-q", queue.name(), "--arg", &format!("{key}=1")]).assert_ok();
    let long = sized("x-k", 256);
    let other = TestQueue::named("ss-args2");
    let out = declare_cli(other.name())
        .opt("--arg", format!("{long}=1"))
        .run();
    out.assert_error(1, &format!("--arg: field name: {}", TOO_LONG));
    let out = declare_cli(other.name())
        .opt("--arg", format!("x-t={{\"{long}\":1}}"))
        .run();
    out.assert_error(1, &format!("--arg: x-t: field name: {}", TOO_LONG));
    assert!(!queue_exists(other.name()));
}

/// `amqp-get -s HOST --port PORT --vhost VHOST -q x`.
fn get_on_vhost(vhost: &str) -> Output {
    let port = broker_port().to_string();
    let args = ["-s", HOST, "--port", &port, "--vhost", vhost, "-q", "x"];
    run(GET, args, b"", &[])
}

#[test]
fn virtual_hosts_of_255_bytes_reach_the_broker_and_256_are_refused() {
    let vhost = sized("v", 255);
    let url = format!("amqp://guest:guest@{HOST}:{}", broker_port());
    // No such vhost: the broker refuses the login, which shows the name was sent.
    let out = get_on_vhost(&vhost);
    out.assert_error_starts(1, "logging in to AMQP server: server connection error 530");
    let out = run(GET, ["-u", &format!("{url}/{vhost}"), "-q", "x"], b"", &[]);
    out.assert_error_starts(1, "logging in to AMQP server: server connection error 530");

    let long = sized("v", 256);
    let out = get_on_vhost(&long);
    assert_refused(&out, "--vhost");
    let out = run(GET, ["-u", &format!("{url}/{long}"), "-q", "x"], b"", &[]);
    assert_refused(&out, "virtual host");
}

/// Asserts that `queue` is empty: the refused runs published nothing.
#[track_caller]
fn assert_nothing_more_published(queue: &TestQueue) {
    assert_eq!(
        queue_message_count(queue.name()),
        0,
        "nothing more published"
    );
}
