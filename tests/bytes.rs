//! Arguments are bytes: option values, the consume command and file paths that are
//! not UTF-8 (Latin-1 from a script under `LANG=C`) are taken as given. Bodies, header values,
//! commands and paths are sent or used byte for byte; a value AMQP needs as a short string (a
//! name, a key, a property) cannot be sent (amq-protocol holds those as Rust strings) and is
//! refused with one line naming the option, before connecting. clap used to refuse the whole
//! command line (`invalid UTF-8 was detected in one or more arguments`).

mod common;

use common::*;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// A command-line word of raw bytes.
fn word(bytes: &[u8]) -> OsString {
    OsString::from_vec(bytes.to_vec())
}

/// Runs `tool` against the private broker with `args` (any bytes), under `LANG=C`.
fn run_bytes(tool: &str, args: &[OsString]) -> Output {
    let mut all = vec![OsString::from("--url"), OsString::from(broker_url())];
    all.extend_from_slice(args);
    run(tool, all, b"", &[("LANG", "C"), ("LC_ALL", "C")])
}

fn os(text: &str) -> OsString {
    OsString::from(text)
}

#[test]
fn latin1_bodies_and_header_values_are_published_byte_for_byte() {
    let queue = TestQueue::declare("bytes-body");
    let out = run_bytes(
        PUBLISH,
        &[
            os("-r"),
            os(queue.name()),
            os("-H"),
            word(b"k: caf\xe9"),
            os("-b"),
            word(b"caf\xe9"),
        ],
    );
    out.assert_ok();
    let message = get_message(queue.name()).expect("a message");
    assert_eq!(message.body, b"caf\xe9");
    match message.headers.expect("headers").get("k") {
        Some(lapin::types::AMQPValue::LongString(value)) => {
            assert_eq!(value.as_bytes(), b"caf\xe9")
        }
        other => panic!("header k: {other:?}"),
    }
}

#[test]
fn the_consume_command_and_its_arguments_are_run_as_given() {
    let queue = queue_with("bytes-command", b"m");
    let out = run_bytes(
        CONSUME,
        &[
            os("-q"),
            os(queue.name()),
            os("-c"),
            os("1"),
            os("--"),
            os("sh"),
            os("-c"),
            os("cat; printf ' %s' \"$1\""),
            os("x"),
            word(b"\xe9t\xe9"),
        ],
    );
    out.assert_ok();
    assert_eq!(out.stdout, b"m \xe9t\xe9");
}

#[test]
fn a_file_path_that_is_not_utf8_is_opened() {
    let dir = std::env::temp_dir().join(unique_name("bytes-dir"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join(word(b"auth-caf\xe9"));
    std::fs::write(&path, b"username:guest\npassword:guest\n").expect("authfile");
    let queue = queue_with("bytes-authfile", b"via authfile");
    let out = run(
        GET,
        [
            os("-s"),
            os(HOST),
            os("--port"),
            os(&broker_port().to_string()),
            os("--authfile"),
            path.clone().into_os_string(),
            os("-q"),
            os(queue.name()),
        ],
        b"",
        &[("LANG", "C")],
    );
    let _ = std::fs::remove_dir_all(&dir);
    out.assert_ok();
    assert_eq!(out.stdout, b"via authfile");
}

#[test]
fn short_string_values_that_are_not_utf8_are_refused_naming_the_option() {
    let not_utf8 =
        "not valid UTF-8 (AMQP queue names, binding keys and the vhost are sent as UTF-8)";
    let queue = TestQueue::named("bytes-refused");
    let latin1 = word(b"caf\xe9");
    let cases: Vec<(&str, Vec<OsString>, String)> = vec![
        (
            DECLARE,
            vec![os("-q"), latin1.clone()],
            format!("-q: {not_utf8}"),
        ),
        (
            GET,
            vec![os("--queue"), latin1.clone()],
            format!("--queue: {not_utf8}"),
        ),
        (
            CONSUME,
            vec![
                os("-q"),
                os(queue.name()),
                os("-e"),
                os("amq.direct"),
                os("-r"),
                latin1.clone(),
                os("cat"),
            ],
            format!("-r: {not_utf8}"),
        ),
        (
            GET,
            vec![os("--password"), latin1.clone(), os("-q"), os("x")],
            "--password: not valid UTF-8".to_string(),
        ),
    ];
    for (tool, args, line) in cases {
        let out = if args[0] == "--password" {
            let mut all = vec![
                os("-s"),
                os(HOST),
                os("--port"),
                os(&broker_port().to_string()),
            ];
            all.extend(args);
            run(tool, all, b"", &[("LANG", "C")])
        } else {
            run_bytes(tool, &args)
        };
        out.assert_error(1, &line).assert_no_stdout();
        assert_eq!(out.stderr_lines().len(), 1, "{out:?}");
    }
    assert!(!queue_exists(queue.name()), "nothing declared");
}

/// The exchange, routing key, properties and header names of `amqp-publish` are sent as the
/// bytes given, as the C tool sends them (RabbitMQ takes them): the message each tool
/// publishes is the same, byte for byte.
#[test]
fn publish_sends_names_keys_and_properties_as_the_bytes_given() {
    common::compat::require_c_tools();
    let (queue, exchange, mut client) = fanout_to_a_queue("bytes-keys", "caf\u{e9}");
    let latin1 = word(b"caf\xe9");
    let args = |body: &str| {
        vec![
            os("-e"),
            os(&exchange),
            os("-r"),
            latin1.clone(),
            os("-C"),
            word(b"text/caf\xe9"),
            os("-E"),
            latin1.clone(),
            os("-t"),
            word(b"re-\xe9"),
            os("-H"),
            word(b"k\xe9: v\xe9"),
            os("-b"),
            os(body),
        ]
    };
    run_bytes(PUBLISH, &args("ours")).assert_ok();
    let mut all = vec![os("--url"), os(&broker_url())];
    all.extend(args("theirs"));
    let theirs = std::process::Command::new("/usr/bin/amqp-publish")
        .args(&all)
        .env("LANG", "C")
        .output()
        .expect("running the C amqp-publish");
    assert!(theirs.status.success(), "{theirs:?}");
    let ours = client
        .get(queue.name())
        .expect("basic.get")
        .expect("our message");
    let c = client
        .get(queue.name())
        .expect("basic.get")
        .expect("the C tool's message");
    let _ = client.delete_exchange(&exchange);
    client.close();
    assert_eq!(ours.routing_key, b"caf\xe9", "{ours:?}");
    assert_eq!(
        ours.properties.content_type.as_deref(),
        Some(&b"text/caf\xe9"[..])
    );
    assert_eq!(ours.properties.reply_to.as_deref(), Some(&b"re-\xe9"[..]));
    assert_eq!(
        (
            &ours.exchange,
            &ours.routing_key,
            &ours.properties,
            &ours.body[..]
        ),
        (&c.exchange, &c.routing_key, &c.properties, &b"ours"[..]),
        "{ours:?} / {c:?}"
    );
    assert_eq!(c.body, b"theirs");
}

#[test]
fn typed_header_and_argument_values_that_are_not_utf8_are_sent_as_bytes() {
    let queue = TestQueue::declare("bytes-typed");
    let out = run_bytes(
        PUBLISH,
        &[
            os("-r"),
            os(queue.name()),
            os("--typed-header"),
            word(b"t=caf\xe9"),
            os("-b"),
            os("x"),
        ],
    );
    out.assert_ok();
    let message = get_message(queue.name()).expect("a message");
    match message.headers.expect("headers").get("t") {
        Some(lapin::types::AMQPValue::LongString(value)) => {
            assert_eq!(value.as_bytes(), b"caf\xe9")
        }
        other => panic!("header t: {other:?}"),
    }
    // A field name is sent as the bytes given too (RabbitMQ takes it).
    let other = TestQueue::named("bytes-arg");
    let out = run_bytes(
        DECLARE,
        &[
            os("-q"),
            os(other.name()),
            os("--arg"),
            word(b"x-caf\xe9=1"),
        ],
    );
    out.assert_ok();
    assert!(queue_exists(other.name()));
}

/// A delivery whose routing key, properties and header name are Latin-1 (as the C tools send
/// them from a script under `LANG=C`) is taken: the body whole, the fields' bytes as received
/// in the command's environment. It used to end the connection (`invalid AMQP data`) and, the
/// message going back to the queue, every consumer after it.
#[test]
fn a_delivery_whose_short_strings_are_not_utf8_is_taken() {
    use common::compat::amqp::{FieldValue, Properties};
    let (queue, exchange, mut client) = fanout_to_a_queue("bytes-recv", "x");
    let properties = Properties {
        content_type: Some(b"text/caf\xe9".to_vec()),
        reply_to: Some(b"re-\xe9".to_vec()),
        headers: Some(vec![(
            b"k\xe9".to_vec(),
            FieldValue::LongStr(b"v\xe9".to_vec()),
        )]),
        ..Properties::default()
    };
    for body in [&b"first"[..], b"second"] {
        client
            .publish(&exchange, b"caf\xe9", &properties, body)
            .expect("basic.publish");
    }
    let _ = client.delete_exchange(&exchange);
    client.close();

    let script = r#"cat; echo; echo "$AMQP_ROUTING_KEY|$AMQP_CONTENT_TYPE|$AMQP_REPLY_TO""#;
    let out = amqp(
        "amqp-consume",
        &["-q", queue.name(), "-c", "1", "--", "sh", "-c", script],
    );
    out.assert_ok();
    assert_eq!(
        out.stdout, b"first\ncaf\xe9|text/caf\xe9|re-\xe9\n",
        "{out:?}"
    );
    let out = amqp("amqp-get", &["-q", queue.name()]);
    out.assert_ok();
    assert_eq!(out.stdout, b"second", "{out:?}");
}

/// A queue named after `prefix`, a fanout exchange (the queue's name, `-`, `suffix`) bound to
/// it, and the raw test client that made them (its caller deletes the exchange).
fn fanout_to_a_queue(
    prefix: &str,
    suffix: &str,
) -> (TestQueue, String, common::compat::amqp::Client) {
    let queue = TestQueue::declare(prefix);
    let exchange = format!("{}-{suffix}", queue.name());
    let mut client = common::compat::broker();
    client
        .declare_exchange(&exchange, "fanout")
        .expect("exchange.declare");
    client
        .bind_queue(queue.name(), &exchange, "")
        .expect("queue.bind");
    (queue, exchange, client)
}
