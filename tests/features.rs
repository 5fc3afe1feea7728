//! Beyond the originals (issue 8): delivery metadata in the consuming command's environment,
//! every basic property and typed headers on publish, queue arguments and stream offsets,
//! and the `--verbose` protocol trace checked against tshark's AMQP dissector.

mod common;

use common::*;
use lapin::types::AMQPValue;
use std::collections::BTreeMap;

/// The `AMQP_*` variables the command saw, one delivery.
fn consumed_environment(queue: &str) -> BTreeMap<String, String> {
    let out = amqp(
        "amqp-consume",
        &[
            "-q",
            queue,
            "-c",
            "1",
            "--",
            "sh",
            "-c",
            "cat >/dev/null; env",
        ],
    );
    out.assert_ok();
    out.stdout_text()
        .lines()
        .filter(|l| l.starts_with("AMQP_") && !l.starts_with("AMQP_TEST_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn every_property_reaches_the_command_environment() {
    let q = TestQueue::declare("props");
    amqp(
        "amqp-publish",
        &[
            "-r",
            q.name(),
            "-b",
            "x",
            "-p",
            "-C",
            "text/plain",
            "-E",
            "gzip",
            "-t",
            "replies",
            "--message-id",
            "m-1",
            "--correlation-id",
            "c-9",
            "--expiration",
            "60000",
            "--priority",
            "7",
            "--type",
            "order",
            "--app-id",
            "shop",
            "--user-id",
            "guest",
            "--timestamp=1700000000",
            "-H",
            "x-trace-id: abc def",
            "--typed-header",
            "n=42",
            "--typed-header",
            "ok=true",
            "--typed-header",
            "nested={\"a\":[1,\"b\"]}",
        ],
    )
    .assert_ok();
    let env = consumed_environment(q.name());
    let expect = [
        ("AMQP_EXCHANGE", ""),
        ("AMQP_ROUTING_KEY", q.name()),
        ("AMQP_REDELIVERED", "false"),
        ("AMQP_DELIVERY_TAG", "1"),
        ("AMQP_CONTENT_TYPE", "text/plain"),
        ("AMQP_CONTENT_ENCODING", "gzip"),
        ("AMQP_DELIVERY_MODE", "2"),
        ("AMQP_PRIORITY", "7"),
        ("AMQP_CORRELATION_ID", "c-9"),
        ("AMQP_REPLY_TO", "replies"),
        ("AMQP_EXPIRATION", "60000"),
        ("AMQP_MESSAGE_ID", "m-1"),
        ("AMQP_TIMESTAMP", "1700000000"),
        ("AMQP_TYPE", "order"),
        ("AMQP_USER_ID", "guest"),
        ("AMQP_APP_ID", "shop"),
        ("AMQP_HEADER_X_TRACE_ID", "abc def"),
        ("AMQP_HEADER_N", "42"),
        ("AMQP_HEADER_OK", "true"),
        ("AMQP_HEADER_NESTED", "{\"a\":[1,\"b\"]}"),
    ];
    for (name, value) in expect {
        assert_eq!(
            env.get(name).map(String::as_str),
            Some(value),
            "{name} in {env:?}"
        );
    }
    assert!(env["AMQP_CONSUMER_TAG"].starts_with("amq.ctag-"), "{env:?}");
}

#[test]
fn unset_properties_are_not_inherited_from_the_consumer() {
    let q = TestQueue::declare("noprops");
    publish(q.name(), b"plain");
    let url = broker_url();
    let out = run(
        "amqp-consume",
        [
            "--url",
            url.as_str(),
            "-q",
            q.name(),
            "-c",
            "1",
            "--",
            "sh",
            "-c",
            "cat >/dev/null; env",
        ],
        b"",
        &[
            ("AMQP_REPLY_TO", "stale"),
            ("AMQP_HEADER_OLD", "stale"),
            ("AMQP_URL", "kept"),
        ],
    );
    out.assert_ok();
    let text = out.stdout_text();
    assert!(!text.contains("AMQP_REPLY_TO="), "{text}");
    assert!(!text.contains("AMQP_HEADER_OLD="), "{text}");
    assert!(text.contains("AMQP_URL=kept"), "{text}");
}

#[test]
fn typed_headers_keep_their_types_on_the_wire() {
    let q = TestQueue::declare("typed");
    amqp(
        "amqp-publish",
        &[
            "-r",
            q.name(),
            "-b",
            "x",
            "-H",
            "s: 5",
            "--typed-header",
            "i=5",
            "--typed-header",
            "f=0.25",
            "--typed-header",
            "b=false",
            "--typed-header",
            "q=\"5\"",
        ],
    )
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
    amqp(
        "amqp-publish",
        &["-r", q.name(), "-b", "x", "--priority", "300"],
    )
    .assert_error_starts(1, "300: ");
    amqp(
        "amqp-publish",
        &["-r", q.name(), "-b", "x", "--timestamp=soon"],
    )
    .assert_error(
        1,
        "--timestamp: 'soon' is not a number of seconds since the epoch",
    );
    amqp(
        "amqp-publish",
        &["-r", q.name(), "-b", "x", "--typed-header", "novalue"],
    )
    .assert_error_starts(1, "--typed-header: expected KEY=VALUE");
    assert_eq!(queue_message_count(q.name()), 0);
}

#[test]
fn rpc_round_trip_with_reply_to_and_correlation_id() {
    let requests = TestQueue::declare("rpc-req");
    let replies = TestQueue::declare("rpc-rep");
    amqp(
        "amqp-publish",
        &[
            "-r",
            requests.name(),
            "-t",
            replies.name(),
            "--correlation-id",
            "job-17",
            "-b",
            "ping",
        ],
    )
    .assert_ok();
    let url = broker_url();
    let server = format!(
        "body=$(cat); amqp-publish -u '{url}' -r \"$AMQP_REPLY_TO\" \
         --correlation-id \"$AMQP_CORRELATION_ID\" -b \"pong to $body\""
    );
    let bin_dir = bin("amqp-publish").parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    run(
        "amqp-consume",
        [
            "--url",
            url.as_str(),
            "-q",
            requests.name(),
            "-c",
            "1",
            "--",
            "sh",
            "-c",
            server.as_str(),
        ],
        b"",
        &[("PATH", path.as_str())],
    )
    .assert_ok();
    let env = consumed_environment(replies.name());
    assert_eq!(env["AMQP_CORRELATION_ID"], "job-17");
}

#[test]
fn declare_queue_arguments_make_quorum_and_stream_queues() {
    let quorum = TestQueue::named("quorum");
    amqp(
        "amqp-declare-queue",
        &[
            "-q",
            quorum.name(),
            "-d",
            "--arg",
            "x-queue-type=quorum",
            "--arg",
            "x-max-length=2",
            "--arg",
            "x-message-ttl=60000",
            "--arg",
            "x-dead-letter-exchange=dlx",
        ],
    )
    .assert_ok();
    let rows = ctl_rows(&["list_queues", "name", "type", "arguments"]);
    let row = rows
        .iter()
        .find(|r| r["name"] == quorum.name())
        .expect("queue listed");
    assert_eq!(row["type"], "quorum", "{row:?}");
    let args = row["arguments"].to_string();
    for needle in [
        "x-max-length",
        "x-message-ttl",
        "60000",
        "x-dead-letter-exchange",
        "dlx",
    ] {
        assert!(args.contains(needle), "{needle} in {args}");
    }
    // x-max-length=2 is an integer the broker enforces: the third message pushes out the first.
    for body in ["1", "2", "3"] {
        amqp("amqp-publish", &["-r", quorum.name(), "-b", body]).assert_ok();
    }
    assert_eq!(
        amqp("amqp-get", &["-q", quorum.name()]).assert_ok().stdout,
        b"2"
    );

    let stream = TestQueue::named("stream");
    amqp(
        "amqp-declare-queue",
        &["-q", stream.name(), "-d", "--arg", "x-queue-type=stream"],
    )
    .assert_ok();
    for body in ["s0", "s1", "s2", "s3"] {
        amqp("amqp-publish", &["-r", stream.name(), "-b", body]).assert_ok();
    }
    let from = |offset: &str, count: &str| {
        amqp(
            "amqp-consume",
            &[
                "-q",
                stream.name(),
                "-c",
                count,
                "--stream-offset",
                offset,
                "--",
                "sh",
                "-c",
                "cat; echo",
            ],
        )
        .assert_ok()
        .stdout_text()
    };
    assert_eq!(from("first", "4"), "s0\ns1\ns2\ns3\n");
    assert_eq!(from("2", "2"), "s2\ns3\n");
    assert_eq!(from("@0", "1"), "s0\n");
    amqp(
        "amqp-consume",
        &["-q", stream.name(), "--stream-offset", "soon", "cat"],
    )
    .assert_error_starts(1, "soon: 'soon' is not a stream offset");
}

#[test]
fn declare_queue_passive_exclusive_auto_delete() {
    let missing = TestQueue::named("passive");
    amqp("amqp-declare-queue", &["-q", missing.name(), "--passive"])
        .assert_error_starts(1, "queue.declare: server channel error 404");
    assert!(!queue_exists(missing.name()));
    let present = TestQueue::declare("passive-ok");
    amqp("amqp-declare-queue", &["-q", present.name(), "--passive"]).assert_ok();
    // Exclusive: gone with the tool's connection.
    let exclusive = TestQueue::named("excl");
    amqp(
        "amqp-declare-queue",
        &["-q", exclusive.name(), "--exclusive"],
    )
    .assert_ok();
    wait_until("the exclusive queue to go", || {
        (!queue_exists(exclusive.name())).then_some(())
    });
    let auto = TestQueue::named("autodel");
    amqp("amqp-declare-queue", &["-q", auto.name(), "--auto-delete"]).assert_ok();
    let rows = ctl_rows(&["list_queues", "name", "auto_delete"]);
    let row = rows
        .iter()
        .find(|r| r["name"] == auto.name())
        .expect("queue listed");
    assert_eq!(row["auto_delete"], true, "{row:?}");
    amqp(
        "amqp-declare-queue",
        &["-q", auto.name(), "--arg", "broken"],
    )
    .assert_error_starts(1, "--arg: expected KEY=VALUE");
}

/// What `--verbose` printed: (direction, method name) per line.
fn verbose_methods(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|line| {
            let (arrow, rest) = line.split_once(' ')?;
            let method = rest.split(' ').next()?.to_string();
            matches!(arrow, "->" | "<-").then(|| (arrow.to_string(), method))
        })
        .collect()
}

#[test]
fn verbose_shows_the_methods_on_the_wire_as_tshark_decodes_them() {
    assert!(
        std::path::Path::new("/usr/bin/tshark").exists(),
        "tshark is missing: scripts/test installs it"
    );
    let q = TestQueue::declare("verbose");
    let port = broker_port();
    let capture = TempFile::new(b"");
    let mut tshark = std::process::Command::new("tshark")
        .args([
            "-i",
            "lo",
            "-f",
            &format!("tcp port {port}"),
            "-w",
            capture.path_str(),
            "-q",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tshark starts");
    // tshark says "Capturing on 'Loopback: lo'" once it listens.
    let mut stderr = tshark.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("Capturing on") {
        use std::io::Read;
        match stderr.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => panic!("tshark did not start: {}", String::from_utf8_lossy(&seen)),
        }
    }
    // "Capturing on" comes as the capture starts; give it a moment to be live.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let published = amqp_stdin(
        "amqp-publish",
        &["--verbose", "-r", q.name(), "-l", "-C", "text/plain"],
        b"one\ntwo\nthree\n",
    );
    published.assert_ok();
    let got = amqp("amqp-get", &["--verbose", "-q", q.name()]);
    got.assert_ok();
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: kill has no memory effects; SIGINT makes tshark finish the capture file.
    unsafe { libc::kill(tshark.id() as i32, libc::SIGINT) };
    let _ = tshark.wait();

    // Every AMQP method of the capture: stream, source port, class.method, routing key.
    let fields = std::process::Command::new("tshark")
        .args([
            "-r",
            capture.path_str(),
            "-d",
            &format!("tcp.port=={port},amqp"),
            "-Y",
            "amqp",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-E",
            "occurrence=a",
            "-e",
            "tcp.stream",
            "-e",
            "tcp.srcport",
            "-e",
            "amqp.method.class",
            "-e",
            "amqp.method.method",
        ])
        .output()
        .expect("tshark reads the capture");
    let table = String::from_utf8_lossy(&fields.stdout).into_owned();
    let malformed = std::process::Command::new("tshark")
        .args([
            "-r",
            capture.path_str(),
            "-d",
            &format!("tcp.port=={port},amqp"),
            "-Y",
            "_ws.malformed || _ws.expert.severity == error",
        ])
        .output()
        .expect("tshark reads the capture");
    assert!(
        String::from_utf8_lossy(&malformed.stdout).trim().is_empty(),
        "tshark found malformed frames: {}",
        String::from_utf8_lossy(&malformed.stdout)
    );

    for (run, marker) in [(&published, "Publish"), (&got, "Get")] {
        let ours = verbose_methods(&run.stderr);
        assert!(!ours.is_empty(), "no --verbose lines: {run:?}");
        // The capture's stream that carried this run: the one whose methods match ours.
        let mut streams: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for line in table.lines() {
            let fields: Vec<&str> = line.split('|').collect();
            let [stream, src, classes, methods] = fields[..] else {
                continue;
            };
            let arrow = if src == port.to_string() { "<-" } else { "->" };
            // One row per packet; a packet holding several frames lists every method.
            for (class, method) in classes.split(',').zip(methods.split(',')) {
                if class.is_empty() {
                    continue;
                }
                streams
                    .entry(stream.to_string())
                    .or_default()
                    .push((arrow.to_string(), method_name(class, method)));
            }
        }
        // Compared per direction: the relay prints each direction in wire order, while the
        // interleaving of the two directions depends on when each side is read.
        let direction = |methods: &[(String, String)], arrow: &str| -> Vec<String> {
            methods
                .iter()
                .filter(|(a, _)| a == arrow)
                .map(|(_, m)| m.clone())
                .collect()
        };
        let matching = streams.values().find(|methods| {
            direction(methods, "->") == direction(&ours, "->")
                && direction(methods, "<-") == direction(&ours, "<-")
        });
        assert!(
            matching.is_some(),
            "no captured connection carried the {marker} run's methods {ours:?}; captured: {streams:#?}"
        );
    }
}

/// The specification's name of a method from its class and method ids (AMQP 0-9-1 §1), for
/// the methods these tools use; any other is left as `CLASS.METHOD` numbers.
fn method_name(class: &str, method: &str) -> String {
    let name = match (class, method) {
        ("10", "10") => "connection.start",
        ("10", "11") => "connection.start-ok",
        ("10", "30") => "connection.tune",
        ("10", "31") => "connection.tune-ok",
        ("10", "40") => "connection.open",
        ("10", "41") => "connection.open-ok",
        ("10", "50") => "connection.close",
        ("10", "51") => "connection.close-ok",
        ("20", "10") => "channel.open",
        ("20", "11") => "channel.open-ok",
        ("20", "40") => "channel.close",
        ("20", "41") => "channel.close-ok",
        ("50", "10") => "queue.declare",
        ("50", "11") => "queue.declare-ok",
        ("60", "40") => "basic.publish",
        ("60", "70") => "basic.get",
        ("60", "71") => "basic.get-ok",
        ("60", "72") => "basic.get-empty",
        ("60", "80") => "basic.ack",
        ("85", "10") => "confirm.select",
        ("85", "11") => "confirm.select-ok",
        _ => return format!("{class}.{method}"),
    };
    name.to_string()
}
