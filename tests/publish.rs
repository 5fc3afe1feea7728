//! amqp-publish against the private broker: targets, properties, typed headers, bodies, line
//! mode, and the reliability guarantees of publishing (RELIABILITY.md 1 and 2): publisher
//! confirms, nacks, a connection lost mid-stream, `--mandatory`.

mod common;

use common::*;
use lapin::ExchangeKind;
use lapin::types::AMQPValue;
use std::thread;
use std::time::Duration;

#[test]
fn neither_exchange_nor_routing_key_is_an_error() {
    assert_refused(
        PUBLISH,
        &["-b", "x"],
        "neither exchange nor routing key specified",
    );
}

#[test]
fn routing_key_publishes_through_the_default_exchange() {
    let queue = TestQueue::declare("pub-rk");
    let out = amqp(PUBLISH, &["-r", queue.name(), "-b", "hello"]);
    out.assert_ok().assert_no_stdout();
    assert_eq!(out.stderr, "", "{out:?}");
    let message = only_message(&queue);
    assert_eq!(message.body, b"hello");
    // Without -p the original sets delivery mode 1 (non-persistent); no other properties.
    assert_eq!(message.delivery_mode, Some(1));
    assert_eq!(message.content_type, None);
    assert_eq!(message.content_encoding, None);
    assert_eq!(message.reply_to, None);
    assert_eq!(message.headers, None);
}

#[test]
fn exchange_and_routing_key_route_through_the_exchange() {
    let exchange = TestExchange::declare("pub-direct", ExchangeKind::Direct);
    let queue = TestQueue::declare("pub-ex");
    bind_queue(queue.name(), exchange.name(), "key-a");
    call(PUBLISH)
        .opt("-e", exchange.name())
        .args(["-r", "key-a"])
        .body("routed")
        .run()
        .assert_ok();
    // A key with no binding is dropped by the broker; the publish still succeeds.
    call(PUBLISH)
        .opt("--exchange", exchange.name())
        .args(["--routing-key", "other", "--body", "lost"])
        .run()
        .assert_ok();
    assert_eq!(only_message(&queue).body, b"routed");
}

#[test]
fn exchange_alone_publishes_with_an_empty_routing_key() {
    let exchange = TestExchange::declare("pub-fanout", ExchangeKind::Fanout);
    let queue = TestQueue::declare("pub-fan");
    bind_queue(queue.name(), exchange.name(), "");
    amqp(PUBLISH, &["-e", exchange.name(), "-b", "fanned"]).assert_ok();
    assert_eq!(only_message(&queue).body, b"fanned");
}

#[test]
fn missing_exchange_fails_with_the_servers_404() {
    let exchange = unique_name("no-such-exchange");
    let out = amqp(PUBLISH, &["-e", &exchange, "-r", "k", "-b", "x"]);
    out.assert_error_starts(
        1,
        &format!(
            "basic.publish: server channel error 404, message: NOT_FOUND - no exchange '{exchange}'"
        ),
    );
    assert_eq!(out.stderr_lines().len(), 1, "{out:?}");
}

#[test]
fn persistent_sets_delivery_mode_2() {
    let queue = TestQueue::declare("pub-persist");
    amqp(PUBLISH, &["-r", queue.name(), "-p", "-b", "short"]).assert_ok();
    amqp(PUBLISH, &["-r", queue.name(), "--persistent", "-b", "long"]).assert_ok();
    amqp(PUBLISH, &["-r", queue.name(), "-b", "transient"]).assert_ok();
    let modes: Vec<(Vec<u8>, Option<u8>)> = drain_queue(queue.name())
        .into_iter()
        .map(|m| (m.body, m.delivery_mode))
        .collect();
    assert_eq!(
        modes,
        vec![
            (b"short".to_vec(), Some(2)),
            (b"long".to_vec(), Some(2)),
            (b"transient".to_vec(), Some(1)),
        ]
    );
}

/// Takes the one message on `queue` and asserts its body, content type, content encoding and
/// reply-to.
#[track_caller]
fn assert_only_message(
    queue: &TestQueue,
    body: &[u8],
    content_type: &str,
    content_encoding: &str,
    reply_to: &str,
) -> Message {
    let message = only_message(queue);
    assert_eq!(message.body, body);
    assert_eq!(message.content_type.as_deref(), Some(content_type));
    assert_eq!(message.content_encoding.as_deref(), Some(content_encoding));
    assert_eq!(message.reply_to.as_deref(), Some(reply_to));
    message
}

#[test]
fn short_options_set_content_type_encoding_and_reply_to() {
    let queue = TestQueue::declare("pub-props-short");
    publish_cli(queue.name())
        .args(["-C", "application/json", "-E", "gzip", "-t", "reply.queue"])
        .body("{}")
        .run()
        .assert_ok();
    let message = assert_only_message(&queue, b"{}", "application/json", "gzip", "reply.queue");
    assert_eq!(message.delivery_mode, Some(1));
}

#[test]
fn long_options_with_equals_set_every_property() {
    let queue = TestQueue::declare("pub-props-long");
    let routing = format!("--routing-key={}", queue.name());
    call(PUBLISH)
        .opt("--exchange=", &routing)
        .args([
            "--persistent",
            "--content-type=text/plain",
            "--content-encoding=utf-8",
            "--reply-to=replies.here",
            "--header=x-one: 1",
            "--body=long form",
        ])
        .run()
        .assert_ok();
    let message = assert_only_message(&queue, b"long form", "text/plain", "utf-8", "replies.here");
    assert_eq!(message.delivery_mode, Some(2));
    assert_eq!(message.header("x-one").as_deref(), Some("1"));
}

#[test]
fn long_options_with_separate_values() {
    let queue = TestQueue::declare("pub-props-sep");
    call(PUBLISH)
        .opt("--routing-key", queue.name())
        .args([
            "--content-type",
            "text/csv",
            "--content-encoding",
            "identity",
            "--reply-to",
            "rq",
            "--header",
            "k: v",
            "--body",
            "a,b",
        ])
        .run()
        .assert_ok();
    let message = assert_only_message(&queue, b"a,b", "text/csv", "identity", "rq");
    assert_eq!(message.header("k").as_deref(), Some("v"));
}

#[test]
fn bundled_short_flags_take_the_value_of_the_last() {
    let queue = TestQueue::declare("pub-bundle");
    publish_cli(queue.name())
        .args(["-pC", "text/plain"])
        .body("bundled")
        .run()
        .assert_ok();
    let message = only_message(&queue);
    assert_eq!(message.body, b"bundled");
    assert_eq!(message.delivery_mode, Some(2));
    assert_eq!(message.content_type.as_deref(), Some("text/plain"));
}

#[test]
fn short_options_with_attached_values() {
    let queue = TestQueue::declare("pub-attached");
    let routing = format!("-r{}", queue.name());
    amqp(PUBLISH, &[&routing, "-Ctext/x", "-bglued"]).assert_ok();
    let message = only_message(&queue);
    assert_eq!(message.body, b"glued");
    assert_eq!(message.content_type.as_deref(), Some("text/x"));
}

#[test]
fn headers_are_repeatable_string_values() {
    let queue = TestQueue::declare("pub-headers");
    let out = publish_cli(queue.name())
        .args([
            "-H",
            "x-first: one",
            "-H",
            "x-second:two",
            "-H",
            "x-url:   http://a:b/c",
            "-H",
            "x-empty:",
        ])
        .body("with headers")
        .run();
    out.assert_ok_quietly();
    let message = only_message(&queue);
    let headers = message.headers.clone().expect("headers");
    assert_eq!(headers.len(), 4, "{headers:?}");
    assert_eq!(message.header("x-first").as_deref(), Some("one"));
    assert_eq!(message.header("x-second").as_deref(), Some("two"));
    // Split at the first ':'; leading spaces of the value skipped.
    assert_eq!(message.header("x-url").as_deref(), Some("http://a:b/c"));
    assert_eq!(message.header("x-empty").as_deref(), Some(""));
}

#[test]
fn header_without_colon_warns_and_still_publishes() {
    let queue = TestQueue::declare("pub-badheader");
    let out = publish_cli(queue.name())
        .args(["-H", "nocolon", "-H", "x-good: yes"])
        .body("published anyway")
        .run();
    out.assert_ok().assert_no_stdout();
    assert_eq!(
        out.stderr_lines(),
        vec!["Ignored header definition missing ':' delimiter in \"nocolon\""],
        "{out:?}"
    );
    let message = only_message(&queue);
    assert_eq!(message.body, b"published anyway");
    let headers = message.headers.clone().expect("headers");
    assert_eq!(headers.len(), 1, "{headers:?}");
    assert_eq!(message.header("x-good").as_deref(), Some("yes"));
}

#[test]
fn stdin_body_keeps_every_byte() {
    let queue = TestQueue::declare("pub-binary");
    let body = binary_body();
    amqp_stdin(PUBLISH, &["-r", queue.name()], &body).assert_ok();
    let message = only_message(&queue);
    assert_eq!(message.body, body);
}

#[test]
fn body_option_keeps_utf8_and_spaces() {
    let queue = TestQueue::declare("pub-utf8");
    let body = "  héllo wörld ✓ \t\n";
    amqp(PUBLISH, &["-r", queue.name(), "-b", body]).assert_ok();
    assert_eq!(only_message(&queue).body, body.as_bytes());
}

#[test]
fn empty_stdin_publishes_one_empty_message() {
    let queue = TestQueue::declare("pub-empty");
    amqp_stdin(PUBLISH, &["-r", queue.name()], b"").assert_ok();
    let message = only_message(&queue);
    assert!(message.body.is_empty(), "{message:?}");
}

#[test]
fn empty_body_option_publishes_one_empty_message() {
    let queue = TestQueue::declare("pub-empty-b");
    amqp(PUBLISH, &["-r", queue.name(), "-b", ""]).assert_ok();
    let message = only_message(&queue);
    assert!(message.body.is_empty(), "{message:?}");
}

#[test]
fn sixteen_mebibyte_body_arrives_intact() {
    let queue = TestQueue::declare("pub-16m");
    // Deterministic, non-repeating-looking bytes (xorshift), NULs included.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let body: Vec<u8> = (0..16 * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    amqp_stdin(PUBLISH, &["-r", queue.name()], &body).assert_ok();
    let message = only_message(&queue);
    assert_eq!(message.body.len(), body.len());
    assert!(message.body == body, "16 MiB body differs");
}

#[test]
fn line_mode_publishes_each_line_with_its_newline() {
    let queue = TestQueue::declare("pub-lines");
    let input = b"first\n\nthird has \0 a NUL\r\n\nlast without newline";
    let out = amqp_stdin(PUBLISH, &["-r", queue.name(), "-l"], input);
    out.assert_ok().assert_no_stdout();
    let bodies: Vec<Vec<u8>> = drain_queue(queue.name())
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(
        bodies,
        vec![
            b"first\n".to_vec(),
            b"\n".to_vec(),
            b"third has \0 a NUL\r\n".to_vec(),
            b"\n".to_vec(),
            b"last without newline".to_vec(),
        ]
    );
}

#[test]
fn line_mode_long_option_and_properties_on_every_line() {
    let queue = TestQueue::declare("pub-lines-long");
    call(PUBLISH)
        .opt("--routing-key", queue.name())
        .args(["--line-buffered", "-p", "-C", "text/plain"])
        .stdin(b"a\nb\n")
        .run()
        .assert_ok();
    let messages = drain_queue(queue.name());
    assert_eq!(messages.len(), 2, "{messages:?}");
    for (message, body) in messages.iter().zip([b"a\n", b"b\n"]) {
        assert_eq!(message.body, body);
        assert_eq!(message.delivery_mode, Some(2));
        assert_eq!(message.content_type.as_deref(), Some("text/plain"));
    }
}

#[test]
fn line_mode_many_lines_keep_their_order() {
    let queue = TestQueue::declare("pub-lines-many");
    let input: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    amqp_stdin(PUBLISH, &["-r", queue.name(), "-l"], input.as_bytes()).assert_ok();
    assert_eq!(queue_message_count(queue.name()), 2000);
    let bodies: Vec<Vec<u8>> = drain_queue(queue.name())
        .into_iter()
        .map(|m| m.body)
        .collect();
    let expected: Vec<Vec<u8>> = (0..2000)
        .map(|i| format!("line {i}\n").into_bytes())
        .collect();
    assert!(bodies == expected, "lines out of order or lost");
}

#[test]
fn line_mode_with_empty_stdin_publishes_nothing() {
    let queue = TestQueue::declare("pub-lines-empty");
    amqp_stdin(PUBLISH, &["-r", queue.name(), "-l"], b"").assert_ok();
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn body_option_ignores_stdin() {
    let queue = TestQueue::declare("pub-b-stdin");
    publish_cli(queue.name())
        .body("from -b")
        .stdin(b"from stdin")
        .run()
        .assert_ok();
    assert_eq!(only_message(&queue).body, b"from -b");
}

#[test]
fn mandatory_unroutable_message_is_an_error() {
    let key = unique_name("nowhere");
    let out = amqp(PUBLISH, &["--mandatory", "-r", &key, "-b", "x"]);
    out.assert_error_starts(1, "basic.return: 312 NO_ROUTE");
}

#[test]
fn no_confirm_still_publishes() {
    let queue = TestQueue::declare("pub-noconfirm");
    amqp(PUBLISH, &["--no-confirm", "-r", queue.name(), "-b", "fire"]).assert_ok();
    assert_eq!(only_message(&queue).body, b"fire");
}

/// Publishes `count` messages from `input` with `mode` (`-l` or `--json`) at `--rate 10` and
/// checks they took at least the (count - 1) intervals of 0.1 s (a lower bound only) and all
/// reached the queue.
fn assert_rate_spaces(prefix: &str, mode: &str, input: String, count: u32) {
    let queue = TestQueue::declare(prefix);
    let started = std::time::Instant::now();
    let out = publish_cli(queue.name())
        .args([mode, "--rate", "10"])
        .stdin(input.as_bytes())
        .run();
    out.assert_ok();
    let intervals = std::time::Duration::from_millis(100 * u64::from(count - 1));
    assert!(started.elapsed() >= intervals, "{out:?}");
    wait_for_message_count(queue.name(), count);
}

#[test]
fn rate_spaces_line_mode_messages() {
    let lines: String = (1..=21).map(|n| format!("{n}\n")).collect();
    assert_rate_spaces("pub-rate", "-l", lines, 21);
}

#[test]
fn rate_spaces_json_messages() {
    let lines: String = (1..=11)
        .map(|n| format!("{{\"payload\":\"{n}\"}}\n"))
        .collect();
    assert_rate_spaces("pub-rate-json", "--json", lines, 11);
}

#[test]
fn rate_without_line_mode_is_a_usage_error() {
    let out = amqp(PUBLISH, &["-r", "q", "--rate", "1", "-b", "x"]);
    out.assert_error(
        1,
        "--rate: only with -l (a message per line) or --json (a message per JSON value)",
    );
    let out = amqp(PUBLISH, &["-r", "q", "-l", "--rate", "0"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.first_stderr_line().contains("is not a rate above 0"),
        "{out:?}"
    );
}

#[test]
fn line_mode_with_a_body_is_a_usage_error_and_publishes_nothing() {
    // The original publishes nothing and exits 0.
    let queue = TestQueue::declare("pub-l-and-b");
    let out = call(PUBLISH)
        .arg("-l")
        .body("body")
        .opt("-r", queue.name())
        .stdin(b"line\n")
        .run();
    out.assert_only_error(
        1,
        "--line-buffered and --body cannot be used together (-l publishes each line of standard input, -b one given body)",
    );
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn line_mode_stops_at_a_channel_error_while_stdin_is_silent() {
    // A slow producer: one line, then nothing for a long time. The broker closes the channel
    // at that line (missing exchange); the tool must not wait for the next line to say so.
    let missing = unique_name("pub-slow-missing");
    let url = broker_url();
    for confirm in [true, false] {
        let mut args = vec![
            "--url",
            url.as_str(),
            "-l",
            "-e",
            missing.as_str(),
            "-r",
            "k",
        ];
        if !confirm {
            args.push("--no-confirm");
        }
        let mut child = std::process::Command::new(bin(PUBLISH))
            .args(&args)
            .env_remove("AMQP_URL")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("amqp-publish");
        let mut stdin = child.stdin.take().expect("stdin");
        std::io::Write::write_all(&mut stdin, b"first\n").expect("write");
        // stdin stays open (and silent) until the tool has exited or TIMEOUT has passed.
        let deadline = std::time::Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "amqp-publish -l (confirms: {confirm}) waited for stdin after the channel error"
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        drop(stdin);
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(1), "{stderr}");
        let reason = format!(
            "basic.publish: server channel error 404, message: NOT_FOUND - no exchange '{missing}' in vhost '/'"
        );
        let expected = match confirm {
            true => format!("{reason} (1 of 1 message not confirmed)\n"),
            false => format!("{reason}\n"),
        };
        assert_eq!(stderr, expected);
    }
}

#[test]
fn line_mode_counts_lines_read_but_not_sent_as_not_confirmed() {
    let missing = unique_name("pub-many-missing");
    let lines: Vec<u8> = (0..5000)
        .flat_map(|n| format!("{n}\n").into_bytes())
        .collect();
    let out = amqp_stdin(PUBLISH, &["-l", "-e", &missing, "-r", "k"], &lines);
    assert_eq!(out.code, 1, "{out:?}");
    // Nothing was confirmed: N of M with N = M, M the lines read (all of them or fewer).
    let counts = out
        .first_stderr_line()
        .rsplit_once(" (")
        .and_then(|(_, tail)| tail.strip_suffix(" messages not confirmed)"))
        .and_then(|tail| tail.split_once(" of "))
        .unwrap_or_else(|| panic!("no count: {out:?}"));
    assert_eq!(counts.0, counts.1, "{out:?}");
}

#[test]
fn no_confirm_to_a_missing_exchange_always_reports_the_servers_reason() {
    // The server's channel.close and the tool's crossed now and then: `invalid channel: 1`,
    // `the channel is not open (state: Closing)`. Many runs to catch the race.
    let missing = unique_name("pub-noconfirm-missing");
    let expected = format!(
        "closing channel: server channel error 404, message: NOT_FOUND - no exchange '{missing}' in vhost '/'"
    );
    for run in 0..30 {
        let out = call(PUBLISH)
            .args(["--no-confirm", "-e"])
            .arg(&missing)
            .args(["-r", "k"])
            .body("x")
            .run();
        assert_eq!(out.code, 1, "run {run}: {out:?}");
        assert_eq!(out.stderr, format!("{expected}\n"), "run {run}");
        let out = call(PUBLISH)
            .args(["--no-confirm", "-l", "-e"])
            .arg(&missing)
            .args(["-r", "k"])
            .stdin(b"1\n2\n3\n")
            .run();
        assert_eq!(out.code, 1, "run {run}: {out:?}");
        // Found at the end (the original's step), or while reading input.
        let reason = expected.strip_prefix("closing channel: ").unwrap();
        assert!(
            out.stderr == format!("{expected}\n")
                || out.stderr == format!("basic.publish: {reason}\n"),
            "run {run}: {out:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Publisher confirms and --mandatory (RELIABILITY.md, 1 and 2)

#[test]
fn publish_exits_0_once_every_message_is_confirmed() {
    let queue = TestQueue::declare("rel-confirmed");
    amqp(PUBLISH, &["-r", queue.name(), "-b", "by -b"]).assert_ok();
    amqp_stdin(PUBLISH, &["-r", queue.name()], b"by stdin").assert_ok();
    let lines: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    amqp_stdin(PUBLISH, &["-r", queue.name(), "-l"], lines.as_bytes()).assert_ok();
    // Exit 0 came after the confirms: everything is on the queue already.
    assert_eq!(queue_message_count(queue.name()), 2002);
}

#[test]
fn a_nack_fails_the_publish_for_body_and_stdin() {
    // A full queue with reject-publish nacks every further message.
    let queue = declare_reject_publish("rel-nack", 1);
    publish(queue.name(), b"fills the queue");
    let expected = "basic.nack: the server refused a message (1 of 1 message not confirmed)";
    let out = amqp(PUBLISH, &["-r", queue.name(), "-b", "refused"]);
    assert_eq!(assert_one_line_failure(&out), expected, "{out:?}");
    let out = amqp_stdin(PUBLISH, &["-r", queue.name()], b"refused too");
    assert_eq!(assert_one_line_failure(&out), expected, "{out:?}");
    // --no-confirm is fire-and-forget: exit 0, and the broker dropped the message.
    amqp(PUBLISH, &["--no-confirm", "-r", queue.name(), "-b", "lost"]).assert_ok();
    assert_eq!(only_message(&queue).body, b"fills the queue");
}

#[test]
fn a_nack_in_line_mode_counts_the_unconfirmed_messages() {
    let queue = declare_reject_publish("rel-nack-lines", 3);
    let out = amqp_stdin(PUBLISH, &["-r", queue.name(), "-l"], b"1\n2\n3\n4\n5\n");
    assert_eq!(
        assert_one_line_failure(&out),
        "basic.nack: the server refused a message (2 of 5 messages not confirmed)"
    );
    let bodies: Vec<Vec<u8>> = drain_queue(queue.name())
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, [b"1\n".to_vec(), b"2\n".to_vec(), b"3\n".to_vec()]);
}

#[test]
fn line_mode_keeps_many_publishes_in_flight() {
    // The protocol trace shows the publisher does not wait for each confirm: at some point
    // more than one message was published and not yet confirmed.
    let queue = TestQueue::declare("rel-pipelined");
    let lines: String = (0..2000).map(|i| format!("{i}\n")).collect();
    let out = call(PUBLISH)
        .args(["--verbose", "-r"])
        .arg(queue.name())
        .arg("-l")
        .stdin(lines.as_bytes())
        .run();
    out.assert_ok();
    let (mut published, mut confirmed, mut most_in_flight) = (0u64, 0u64, 0u64);
    for line in out.stderr_lines() {
        if line.starts_with("-> basic.publish") {
            published += 1;
        } else if line.starts_with("<- basic.ack") {
            let tag = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("delivery-tag="))
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("no delivery tag in {line:?}"));
            confirmed = confirmed.max(tag);
        }
        most_in_flight = most_in_flight.max(published.saturating_sub(confirmed));
    }
    assert_eq!(published, 2000, "{out:?}");
    assert_eq!(confirmed, 2000, "every message confirmed: {out:?}");
    assert!(
        most_in_flight > 1,
        "at most {most_in_flight} message in flight: the publisher waits for each confirm"
    );
    assert_eq!(queue_message_count(queue.name()), 2000);
}

#[test]
fn connection_lost_in_line_mode_counts_only_unconfirmed_messages() {
    let queue = TestQueue::declare("rel-lost-lines");
    let mut publisher = Fed::start(PUBLISH, &["-r", queue.name(), "-l"]);
    publisher.write(b"1\n2\n3\n4\n5\n");
    wait_for_message_count(queue.name(), 5);
    // The five confirms reach the tool well before the connection goes.
    thread::sleep(Duration::from_millis(300));
    close_connection_of(publisher.pid(), "reliability test");
    // Lines keep coming: at the latest, publishing one of them finds the connection gone.
    for line in [b"6\n", b"7\n", b"8\n", b"9\n"] {
        thread::sleep(Duration::from_millis(250));
        publisher.write(line);
    }
    let out = publisher.finish();
    let line = assert_one_line_failure(&out);
    assert!(
        line.starts_with(
            "basic.publish: server connection error 320, message: CONNECTION_FORCED - reliability test ("
        ),
        "{out:?}"
    );
    let (unconfirmed, total) =
        unconfirmed_counts(&line).unwrap_or_else(|| panic!("no (N of M) count: {out:?}"));
    let delivered = u64::from(queue_message_count(queue.name()));
    assert_eq!(delivered, 5);
    assert!(total >= 5, "{out:?}");
    assert_eq!(
        total - unconfirmed,
        delivered,
        "the line must count as unconfirmed exactly the messages that were not confirmed \
         (5 of them were, and are on the queue): {line}"
    );
}

#[test]
fn connection_lost_before_a_stdin_body_is_published_fails() {
    let queue = TestQueue::declare("rel-lost-stdin");
    let mut publisher = Fed::start(PUBLISH, &["-r", queue.name()]);
    // Connected and waiting for the body on stdin when the broker closes the connection.
    close_connection_of(publisher.pid(), "reliability test");
    thread::sleep(Duration::from_millis(300));
    publisher.write(b"the body");
    let out = publisher.finish();
    let line = assert_one_line_failure(&out);
    assert_eq!(
        line,
        "basic.publish: server connection error 320, message: CONNECTION_FORCED - reliability test \
         (1 of 1 message not confirmed)"
    );
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn line_mode_from_a_quiet_pipe_keeps_its_connection() {
    // `tail -f log | amqp-publish -l`: the pipe may stay quiet for longer than the heartbeat
    // interval; the connection must stay up (heartbeats sent while waiting for input).
    let queue = TestQueue::declare("rel-quiet-pipe");
    let mut publisher = Fed::start(PUBLISH, &["--heartbeat", "1", "-r", queue.name(), "-l"]);
    publisher.write(b"before\n");
    wait_for_message_count(queue.name(), 1);
    thread::sleep(Duration::from_secs(5));
    publisher.write(b"after\n");
    let out = publisher.finish();
    out.assert_ok_quietly();
    assert_eq!(queue_message_count(queue.name()), 2);
}

#[test]
fn mandatory_unroutable_message_fails_with_no_route() {
    let key = unique_name("nowhere");
    let out = amqp(PUBLISH, &["--mandatory", "-r", &key, "-b", "x"]);
    let line = assert_one_line_failure(&out);
    assert!(line.starts_with("basic.return: 312 NO_ROUTE"), "{out:?}");
    // In line mode too, even when the unroutable line is one of many.
    let queue = TestQueue::declare("rel-mandatory");
    call(PUBLISH)
        .args(["--mandatory", "-r"])
        .arg(queue.name())
        .arg("-l")
        .stdin(b"a\nb\n")
        .run()
        .assert_ok();
    let exchange = TestExchange::declare("rel-mandatory", lapin::ExchangeKind::Direct);
    let out = call(PUBLISH)
        .args(["--mandatory", "-e"])
        .arg(exchange.name())
        .args(["-r", "unbound", "-l"])
        .stdin(b"a\nb\n")
        .run();
    let line = assert_one_line_failure(&out);
    assert!(line.starts_with("basic.return: 312 NO_ROUTE"), "{out:?}");
    // Without --mandatory the broker drops it silently, as in the original.
    amqp(PUBLISH, &["-r", &key, "-b", "x"]).assert_ok();
}

// ---------------------------------------------------------------------------------------------
// Typed headers and property values

#[test]
fn typed_headers_keep_their_types_on_the_wire() {
    let q = TestQueue::declare("typed");
    publish_cli(q.name())
        .body("x")
        .args(["-H", "s: 5"])
        .typed_headers(&["i=5", "f=0.25", "b=false", "q=\"5\""])
        .run()
        .assert_ok();
    let message = get_message(q.name()).expect("one message");
    let headers = message.headers.expect("headers");
    assert!(
        matches!(headers["s"], AMQPValue::LongString(_)),
        "{headers:?}"
    );
    assert_eq!(headers["i"], AMQPValue::LongLongInt(5));
    assert_eq!(headers["f"], AMQPValue::Double(0.25));
    assert_eq!(headers["b"], AMQPValue::Boolean(false));
    assert!(
        matches!(headers["q"], AMQPValue::LongString(_)),
        "{headers:?}"
    );
}

#[test]
fn bad_property_values_are_usage_errors() {
    let q = TestQueue::declare("badprops");
    let publish_with = |options: &[&str]| {
        publish_cli(q.name())
            .body("x")
            .args(options.iter().copied())
            .run()
    };
    publish_with(&["--priority", "300"]).assert_error_starts(1, "300: ");
    publish_with(&["--timestamp=soon"]).assert_error(
        1,
        "--timestamp: 'soon' is not a number of seconds since the epoch",
    );
    publish_with(&["--typed-header", "novalue"])
        .assert_error_starts(1, "--typed-header: expected KEY=VALUE");
    assert_eq!(queue_message_count(q.name()), 0);
}
