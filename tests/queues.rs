//! amqp-declare-queue and amqp-delete-queue against the private broker, with queue arguments
//! (quorum and stream queues) and flags.

mod common;

use common::*;

// ---------------------------------------------------------------------------------------------
// amqp-declare-queue

#[test]
fn declare_prints_the_name_and_creates_the_queue() {
    let queue = TestQueue::named("decl");
    let out = amqp(DECLARE, &["-q", queue.name()]);
    out.assert_printed(format!("{}\n", queue.name()));
    assert_eq!(out.stderr, "", "{out:?}");
    assert_eq!(queue_status(queue.name()), Ok((0, 0)));
}

#[test]
fn declare_is_idempotent_and_keeps_messages() {
    let queue = queue_with("decl-again", b"kept");
    let option = format!("--queue={}", queue.name());
    let out = amqp(DECLARE, &[&option]);
    out.assert_printed(format!("{}\n", queue.name()));
    assert_eq!(queue_message_count(queue.name()), 1);
}

#[test]
fn durable_flag_declares_a_durable_queue() {
    let durable = TestQueue::named("decl-durable");
    let durable_long = TestQueue::named("decl-durable-long");
    let transient = TestQueue::named("decl-transient");
    amqp(DECLARE, &["-d", "-q", durable.name()]).assert_ok();
    amqp(DECLARE, &["--durable", "--queue", durable_long.name()]).assert_ok();
    amqp(DECLARE, &["-q", transient.name()]).assert_ok();
    let rows = ctl_rows(&["list_queues", "name", "durable", "auto_delete", "exclusive"]);
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {rows:?}"))
            .clone()
    };
    for (name, durable) in [
        (durable.name(), true),
        (durable_long.name(), true),
        (transient.name(), false),
    ] {
        let row = row(name);
        assert_eq!(row["durable"], durable, "{row:?}");
        assert_eq!(row["auto_delete"], false, "{row:?}");
        assert_eq!(row["exclusive"], false, "{row:?}");
    }
}

#[test]
fn redeclaring_with_other_durability_is_the_servers_406() {
    let queue = TestQueue::named("decl-406");
    amqp(DECLARE, &["-d", "-q", queue.name()]).assert_ok();
    let out = amqp(DECLARE, &["-q", queue.name()]);
    out.assert_error_starts(
        1,
        "queue.declare: server channel error 406, message: PRECONDITION_FAILED - inequivalent arg 'durable'",
    )
    .assert_no_stdout();
}

#[test]
fn empty_name_gives_a_server_named_queue() {
    let out = amqp(DECLARE, &["-q", ""]);
    out.assert_ok();
    let text = out.stdout_text();
    let name = text.strip_suffix('\n').expect("name and newline");
    let _guard = TestQueue::adopt(name);
    assert!(name.starts_with("amq.gen-"), "{out:?}");
    assert!(!name.contains('\n'), "{out:?}");
    assert!(queue_exists(name), "{name} should exist");
}

#[test]
fn declare_without_queue_is_an_error() {
    assert_refused(DECLARE, &[], "queue name not specified");
}

#[test]
fn declare_reserved_name_is_the_servers_403() {
    let name = format!("amq.{}", unique_name("reserved"));
    let out = amqp(DECLARE, &["-q", &name]);
    out.assert_error_starts(
        1,
        "queue.declare: server channel error 403, message: ACCESS_REFUSED",
    )
    .assert_no_stdout();
}

// ---------------------------------------------------------------------------------------------
// amqp-delete-queue

#[test]
fn delete_prints_the_message_count_and_deletes() {
    let queue = TestQueue::declare("del-count");
    publish_bodies(queue.name(), &[b"1", b"2", b"3"]);
    let out = amqp(DELETE, &["-q", queue.name()]);
    out.assert_printed("3\n");
    assert_eq!(out.stderr, "", "{out:?}");
    assert!(!queue_exists(queue.name()));
}

#[test]
fn delete_empty_queue_prints_zero() {
    let queue = TestQueue::declare("del-zero");
    let option = format!("--queue={}", queue.name());
    let out = amqp(DELETE, &[&option]);
    out.assert_printed("0\n");
    assert!(!queue_exists(queue.name()));
}

#[test]
fn if_empty_refuses_a_queue_with_messages() {
    let queue = TestQueue::declare("del-ifempty");
    publish_bodies(queue.name(), &[b"a", b"b"]);
    for flag in ["-e", "--if-empty"] {
        let out = amqp(DELETE, &[flag, "-q", queue.name()]);
        out.assert_error_starts(1, "queue.delete: server channel error 406")
            .assert_no_stdout();
        assert_eq!(out.stderr_lines().len(), 1, "{out:?}");
    }
    assert_eq!(queue_message_count(queue.name()), 2);
}

#[test]
fn if_empty_deletes_an_empty_queue() {
    let queue = TestQueue::declare("del-ifempty-ok");
    let out = amqp(DELETE, &["--if-empty", "-q", queue.name()]);
    out.assert_printed("0\n");
    assert!(!queue_exists(queue.name()));
}

#[test]
fn if_unused_refuses_a_queue_with_a_consumer() {
    let queue = TestQueue::declare("del-ifunused");
    let consumer = amqp_spawn(CONSUME, &["-q", queue.name(), "-c", "1", "cat"]);
    wait_for_consumer(queue.name());
    let out = amqp(DELETE, &["--if-unused", "-q", queue.name()]);
    out.assert_error_starts(1, "queue.delete: server channel error 406")
        .assert_no_stdout();
    assert!(queue_exists(queue.name()));
    // End the consumer with its one message.
    publish(queue.name(), b"bye");
    assert_consumed(consumer, b"bye");
    let out = amqp(DELETE, &["--if-unused", "-q", queue.name()]);
    out.assert_printed("0\n");
    assert!(!queue_exists(queue.name()));
}

#[test]
fn delete_without_queue_is_an_error() {
    assert_refused(DELETE, &[], "queue name not specified");
    assert_refused(DELETE, &["-q", ""], "queue name not specified");
}

#[test]
fn declare_then_delete_round_trip() {
    let queue = TestQueue::named("roundtrip");
    amqp(DECLARE, &["-q", queue.name()]).assert_ok();
    amqp_stdin(PUBLISH, &["-r", queue.name(), "-l"], b"1\n2\n").assert_ok();
    let out = amqp(DELETE, &["-q", queue.name()]);
    out.assert_printed("2\n");
}

// ---------------------------------------------------------------------------------------------
// Queue arguments and flags

#[test]
fn declare_queue_arguments_make_quorum_and_stream_queues() {
    let quorum = TestQueue::named("quorum");
    declare_cli(quorum.name())
        .args([
            "-d",
            "--arg",
            "x-queue-type=quorum",
            "--arg",
            "x-max-length=2",
            "--arg",
            "x-message-ttl=60000",
            "--arg",
            "x-dead-letter-exchange=dlx",
        ])
        .run()
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
        amqp(PUBLISH, &["-r", quorum.name(), "-b", body]).assert_ok();
    }
    assert_eq!(amqp(GET, &["-q", quorum.name()]).assert_ok().stdout, b"2");

    let stream = TestQueue::named("stream");
    declare_cli(stream.name())
        .args(["-d", "--arg", "x-queue-type=stream"])
        .run()
        .assert_ok();
    for body in ["s0", "s1", "s2", "s3"] {
        amqp(PUBLISH, &["-r", stream.name(), "-b", body]).assert_ok();
    }
    let from = |offset: &str, count: &str| {
        consume(stream.name())
            .arg("-c")
            .arg(count)
            .arg("--stream-offset")
            .arg(offset)
            .sh("cat; echo")
            .run()
            .assert_ok()
            .stdout_text()
    };
    assert_eq!(from("first", "4"), "s0\ns1\ns2\ns3\n");
    assert_eq!(from("2", "2"), "s2\ns3\n");
    assert_eq!(from("@0", "1"), "s0\n");
    consume(stream.name())
        .args(["--stream-offset", "soon", "cat"])
        .run()
        .assert_error_starts(1, "soon: 'soon' is not a stream offset");
}

#[test]
fn declare_queue_passive_exclusive_auto_delete() {
    let missing = TestQueue::named("passive");
    amqp(DECLARE, &["-q", missing.name(), "--passive"])
        .assert_error_starts(1, "queue.declare: server channel error 404");
    assert!(!queue_exists(missing.name()));
    let present = TestQueue::declare("passive-ok");
    amqp(DECLARE, &["-q", present.name(), "--passive"]).assert_ok();
    // Exclusive: gone with the tool's connection.
    let exclusive = TestQueue::named("excl");
    declare_cli(exclusive.name())
        .arg("--exclusive")
        .run()
        .assert_ok();
    wait_for_queue_to_go("the exclusive queue to go", exclusive.name());
    let auto = TestQueue::named("autodel");
    amqp(DECLARE, &["-q", auto.name(), "--auto-delete"]).assert_ok();
    let rows = ctl_rows(&["list_queues", "name", "auto_delete"]);
    let row = rows
        .iter()
        .find(|r| r["name"] == auto.name())
        .expect("queue listed");
    assert_eq!(row["auto_delete"], true, "{row:?}");
    declare_cli(auto.name())
        .args(["--arg", "broken"])
        .run()
        .assert_error_starts(1, "--arg: expected KEY=VALUE");
}
