//! amqp-consume against the private broker: the command per delivery, acks, counts, prefetch,
//! queue declaration and binding, argument order, the delivery's metadata in the command's
//! environment, and the reliability guarantees of consuming (RELIABILITY.md 3 to 6 and 12):
//! failed commands, SIGINT/SIGTERM, the connection lost while consuming, closed pipes.

mod common;

use common::*;
use lapin::ExchangeKind;
use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn runs_the_command_per_message_with_the_body_on_stdin() {
    let queue = TestQueue::declare("con-cat");
    publish_bodies(queue.name(), &[b"a", b"b", b"c"]);
    let out = amqp(CONSUME, &["-q", queue.name(), "-c", "3", "cat"]);
    out.assert_printed(b"abc");
    assert_eq!(out.stderr, "", "{out:?}");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn each_message_gets_its_own_process() {
    let queue = TestQueue::declare("con-each");
    publish_bodies(queue.name(), &[b"one", b"two", b"three"]);
    let out = call(CONSUME)
        .opt("--queue", queue.name())
        .arg("--count=3")
        .sh(r#"printf '[%s]\n' "$(cat)""#)
        .run();
    out.assert_printed("[one]\n[two]\n[three]\n");
}

#[test]
fn binary_and_large_bodies_reach_the_command_intact() {
    let queue = TestQueue::declare("con-binary");
    let large: Vec<u8> = (0..2 * 1024 * 1024 + 3).map(|i| (i % 253) as u8).collect();
    let binary = binary_body();
    publish_bodies(queue.name(), &[&binary, &large]);
    let out = amqp(CONSUME, &["-q", queue.name(), "-c", "2", "cat"]);
    out.assert_ok();
    let mut expected = binary.clone();
    expected.extend_from_slice(&large);
    assert_eq!(out.stdout.len(), expected.len());
    assert!(out.stdout == expected, "bodies differ");
}

#[test]
fn count_stops_after_n_messages_and_leaves_the_rest() {
    let queue = TestQueue::declare("con-count");
    publish_bodies(queue.name(), &[b"1", b"2", b"3", b"4", b"5"]);
    let out = amqp(CONSUME, &["-q", queue.name(), "-c", "2", "cat"]);
    out.assert_printed(b"12");
    wait_for_message_count(queue.name(), 3);
    let rest: Vec<Vec<u8>> = drain_queue(queue.name())
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(rest, vec![b"3".to_vec(), b"4".to_vec(), b"5".to_vec()]);
}

#[test]
fn a_failing_command_leaves_its_message_on_the_queue() {
    let queue = TestQueue::declare("con-fail");
    publish_bodies(queue.name(), &[b"bad", b"good"]);
    let out = consume(queue.name())
        .count(2)
        .sh(r#"test "$(cat)" = good"#)
        .run();
    // Exit 1: not every delivery was handled.
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr_lines(),
        vec![
            "warning: delivery 1: command exited with status 1; not acknowledged (redelivered after the consumer closes)",
            "1 of 2 deliveries failed: their commands did not exit 0",
        ],
        "{out:?}"
    );
    wait_for_message_count(queue.name(), 1);
    let left = drain_queue(queue.name());
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].body, b"bad");
    assert!(left[0].redelivered);
}

#[test]
fn a_failing_command_with_count_1_ends_and_keeps_the_message() {
    let queue = queue_with("con-fail1", b"x");
    let out = amqp(CONSUME, &["-q", queue.name(), "-c", "1", "false"]);
    out.assert_error(
        1,
        "warning: delivery 1: command exited with status 1; not acknowledged (redelivered after the consumer closes)",
    );
    wait_for_message_count(queue.name(), 1);
}

#[test]
fn a_command_that_does_not_exist_stops_and_keeps_the_message() {
    let queue = queue_with("con-nocmd", b"x");
    let missing = unique_name("no-such-command");
    let out = amqp(CONSUME, &["-q", queue.name(), "-c", "1", &missing]);
    // As the original: the consumer stops at once; the delivery is not acked.
    out.assert_error(
        1,
        &format!("posix_spawnp: {missing}: No such file or directory"),
    );
    wait_for_message_count(queue.name(), 1);
}

#[test]
fn a_command_that_ignores_its_input_still_succeeds() {
    let queue = TestQueue::declare("con-noread");
    publish(queue.name(), &vec![b'z'; 1024 * 1024]);
    let out = amqp(CONSUME, &["-q", queue.name(), "-c", "1", "true"]);
    out.assert_ok();
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn on_failure_requeue_puts_the_message_back_at_once() {
    let queue = queue_with("con-requeue", b"again");
    let out = consume_one(&queue)
        .args(["--on-failure", "requeue", "false"])
        .run();
    out.assert_one_delivery_failed("warning: delivery 1: command exited with status 1; requeued");
    wait_for_message_count(queue.name(), 1);
}

#[test]
fn on_failure_reject_drops_the_message() {
    let queue = queue_with("con-reject", b"dropped");
    let out = consume_one(&queue)
        .args(["--on-failure=reject", "false"])
        .run();
    out.assert_one_delivery_failed("warning: delivery 1: command exited with status 1; rejected");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn no_ack_with_count_removes_exactly_count_messages() {
    let queue = TestQueue::declare("con-noack");
    let bodies: Vec<Vec<u8>> = (0..50).map(|i| format!("m{i:02} ").into_bytes()).collect();
    publish_all(queue.name(), &bodies);
    let out = amqp(CONSUME, &["-q", queue.name(), "-A", "-c", "5", "cat"]);
    out.assert_printed("m00 m01 m02 m03 m04 ");
    wait_for_message_count(queue.name(), 45);
    // Still 45 a moment later: nothing more was in flight.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(queue_message_count(queue.name()), 45);
    let next = get_message(queue.name()).expect("a message");
    assert_eq!(next.body, b"m05 ");
}

#[test]
fn no_ack_failure_is_not_redelivered() {
    let queue = queue_with("con-noack-fail", b"gone");
    let out = consume_one(&queue).args(["--no-ack", "false"]).run();
    out.assert_ok();
    assert_eq!(
        out.first_stderr_line(),
        "warning: delivery 1: command exited with status 1 (no-ack mode: the message is not redelivered)"
    );
    assert_eq!(queue_message_count(queue.name()), 0);
}

/// One rabbitmqctl call for several consumers: -c and -p give basic.qos prefetch counts the
/// broker records; -A alone is a no-ack consumer. SIGTERM/SIGINT end them with 128 + signal.
#[test]
fn count_and_prefetch_set_the_brokers_prefetch() {
    let cases: Vec<(&[&str], u64, bool)> = vec![
        (&["-c", "7", "-p", "3"], 3, true),
        (&["-c", "3", "-p", "7"], 3, true),
        (&["--prefetch-count", "4"], 4, true),
        (&["--count=6"], 6, true),
        (&["-c", "70000"], 0, true),
        (&["-A"], 0, false),
    ];
    let mut running = Vec::new();
    for (options, prefetch, ack) in &cases {
        let queue = TestQueue::declare("con-qos");
        let mut args = vec!["-q", queue.name()];
        args.extend_from_slice(options);
        args.push("cat");
        let consumer = amqp_spawn(CONSUME, &args);
        running.push((queue, consumer, *options, *prefetch, *ack));
    }
    for (queue, ..) in &running {
        wait_for_consumer(queue.name());
    }
    let rows = ctl_rows(&[
        "list_consumers",
        "queue_name",
        "prefetch_count",
        "ack_required",
    ]);
    for (queue, _, options, prefetch, ack) in &running {
        let row = rows
            .iter()
            .find(|r| r["queue_name"] == queue.name())
            .unwrap_or_else(|| panic!("no consumer for {options:?}: {rows:?}"));
        assert_eq!(row["prefetch_count"], *prefetch, "{options:?}: {row:?}");
        assert_eq!(row["ack_required"], *ack, "{options:?}: {row:?}");
    }
    for (i, (queue, consumer, options, ..)) in running.into_iter().enumerate() {
        let (signal, code) = if i % 2 == 0 {
            (libc::SIGTERM, 143)
        } else {
            (libc::SIGINT, 130)
        };
        consumer.signal(signal);
        let out = consumer.wait();
        assert_eq!(out.code, code, "{options:?}: {out:?}");
        out.assert_no_stdout();
        drop(queue);
    }
}

#[test]
fn exchange_with_routing_keys_binds_once_per_key() {
    let exchange = TestExchange::declare("con-direct", ExchangeKind::Direct);
    let queue = TestQueue::named("con-bind");
    let consumer = consume(queue.name())
        .opt("-e", exchange.name())
        .args(["-r", "key.a,key.b"])
        .count(2)
        .arg("cat")
        .spawn_consuming(queue.name());
    let keys: BTreeSet<String> = binding_keys(exchange.name(), queue.name())
        .into_iter()
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["key.a".to_string(), "key.b".to_string()])
    );
    publish_to(exchange.name(), "key.c", b"unbound ");
    publish_to(exchange.name(), "key.a", b"A");
    publish_to(exchange.name(), "key.b", b"B");
    assert_consumed(consumer, b"AB");
    // Declared auto-delete: gone once its consumer is.
    wait_for_queue_to_go("the auto-delete queue to go", queue.name());
}

#[test]
fn exchange_without_routing_key_binds_with_the_empty_key() {
    let exchange = TestExchange::declare("con-direct-empty", ExchangeKind::Direct);
    let queue = TestQueue::named("con-bind-empty");
    let consumer = call(CONSUME)
        .opt("--queue", queue.name())
        .opt("--exchange", exchange.name())
        .args(["--count", "1", "cat"])
        .spawn_consuming(queue.name());
    let keys = binding_keys(exchange.name(), queue.name());
    assert_eq!(keys, vec![String::new()]);
    publish_to(exchange.name(), "", b"empty key");
    assert_consumed(consumer, b"empty key");
}

#[test]
fn routing_key_without_exchange_is_an_error() {
    let out = amqp(CONSUME, &["-q", "x", "-r", "k", "cat"]);
    out.assert_error(
        1,
        "--routing-key option requires an exchange name to be provided with --exchange",
    )
    .assert_no_stdout();
}

#[test]
fn without_queue_a_server_named_queue_is_announced() {
    let mut consumer = amqp_spawn(CONSUME, &["-c", "1", "cat"]);
    let line = consumer.wait_for_stderr_line("Server provided queue name: ");
    let name = line
        .strip_prefix("Server provided queue name: ")
        .unwrap()
        .to_string();
    let _guard = TestQueue::adopt(&name);
    assert!(name.starts_with("amq.gen-"), "{line}");
    wait_for_consumer(&name);
    publish(&name, b"to the server-named queue");
    let out = assert_consumed(consumer, b"to the server-named queue");
    assert_eq!(out.stderr_lines(), vec![line.as_str()], "{out:?}");
    wait_for_queue_to_go("the auto-delete queue to go", &name);
}

#[test]
fn server_named_queue_can_be_bound_to_an_exchange() {
    let exchange = TestExchange::declare("con-fanout", ExchangeKind::Fanout);
    let mut consumer = amqp_spawn(CONSUME, &["-e", exchange.name(), "-c", "1", "cat"]);
    let line = consumer.wait_for_stderr_line("Server provided queue name: ");
    let name = line["Server provided queue name: ".len()..].to_string();
    let _guard = TestQueue::adopt(&name);
    wait_for_consumer(&name);
    publish_to(exchange.name(), "any", b"fanned out");
    assert_consumed(consumer, b"fanned out");
}

#[test]
fn exclusive_declares_an_exclusive_queue() {
    let queue = TestQueue::named("con-excl");
    let consumer = amqp_spawn(CONSUME, &["-q", queue.name(), "-x", "-c", "1", "cat"]);
    // Another connection cannot even look at an exclusive queue: 405 RESOURCE_LOCKED.
    wait_until("the exclusive queue", || {
        (queue_status(queue.name()) == Err(405)).then_some(())
    });
    publish(queue.name(), b"exclusive");
    assert_consumed(consumer, b"exclusive");
    wait_for_queue_to_go("the exclusive queue to go", queue.name());
}

#[test]
fn exclusive_long_option() {
    let queue = TestQueue::named("con-excl-long");
    let consumer = call(CONSUME)
        .opt("--queue", queue.name())
        .arg("--exclusive")
        .count(1)
        .arg("cat")
        .spawn();
    wait_until("the exclusive queue", || {
        (queue_status(queue.name()) == Err(405)).then_some(())
    });
    publish(queue.name(), b"x");
    consumer.wait().assert_ok();
}

#[test]
fn declare_flag_declares_an_auto_delete_queue() {
    let queue = TestQueue::named("con-declare");
    let consumer = amqp_spawn(CONSUME, &["-q", queue.name(), "-d", "-c", "1", "cat"]);
    wait_for_consumer(queue.name());
    // Not exclusive: another connection may inspect it.
    assert_eq!(queue_status(queue.name()), Ok((0, 1)));
    publish(queue.name(), b"declared");
    assert_consumed(consumer, b"declared");
    wait_for_queue_to_go("the auto-delete queue to go", queue.name());
}

#[test]
fn missing_queue_without_declare_is_the_servers_404() {
    let queue = unique_name("con-missing");
    let out = amqp(CONSUME, &["-q", &queue, "-c", "1", "cat"]);
    out.assert_error(
        1,
        &format!(
            "basic.consume: server channel error 404, message: NOT_FOUND - no queue '{queue}' in vhost '/'"
        ),
    )
    .assert_no_stdout();
    assert!(!queue_exists(&queue));
}

#[test]
fn options_may_follow_the_command() {
    let queue = queue_with("con-after", b"after");
    let out = amqp(CONSUME, &["cat", "-q", queue.name(), "-c", "1"]);
    out.assert_printed(b"after");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn double_dash_passes_options_to_the_command() {
    let queue = queue_with("con-dashdash", b"through sh");
    let out = consume_one(&queue)
        .args([
            "--",
            "sh",
            "-c",
            "cat; echo; echo \"$0 $1\"; exit 0",
            "-x",
            "--queue",
        ])
        .run();
    out.assert_printed("through sh\n-x --queue\n");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn no_command_is_an_error_with_usage() {
    let out = assert_refused(
        CONSUME,
        &["-q", "whatever"],
        "consuming command not specified",
    );
    let lines = out.stderr_lines();
    assert!(
        lines.len() >= 2 && lines[1].starts_with("Usage: amqp-consume"),
        "{out:?}"
    );
}

#[test]
fn sigterm_lets_the_running_command_finish_and_acks_it() {
    let queue = queue_with("con-sigterm", b"in flight");
    let consumer = consume(queue.name()).sh("cat; sleep 1").spawn();
    // The command has the body (and is sleeping) once its output shows.
    wait_until("the command to start", || {
        (consumer.stdout_so_far() == b"in flight").then_some(())
    });
    consumer.signal(libc::SIGTERM);
    let out = consumer.wait();
    assert_eq!(out.code, 143, "{out:?}");
    assert_eq!(out.stdout, b"in flight");
    // Acked: it does not come back.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn an_explicit_empty_routing_key_binds_with_the_empty_key() {
    // `-r ""` and `-r ","` hold no key: the original binds nothing and waits forever.
    for routing_key in ["", ","] {
        let exchange = TestExchange::declare("con-direct-explicit-empty", ExchangeKind::Direct);
        let queue = TestQueue::named("con-bind-explicit-empty");
        let consumer = consume(queue.name())
            .opt("-e", exchange.name())
            .opt("-r", routing_key)
            .count(1)
            .arg("cat")
            .spawn_consuming(queue.name());
        publish_to(exchange.name(), "", b"empty key");
        let out = consumer.wait();
        out.assert_ok();
        assert_eq!(out.stdout, b"empty key", "-r {routing_key:?}");
    }
}

#[test]
fn a_failed_bind_deletes_the_queue_this_run_declared() {
    let missing = unique_name("con-no-such-exchange");
    let queue = TestQueue::named("con-bind-fails");
    let out = consume(queue.name())
        .opt("-e", &missing)
        .args(["-r", "k", "cat"])
        .run();
    out.assert_error(
        1,
        &format!(
            "queue.bind: server channel error 404, message: NOT_FOUND - no exchange '{missing}' in vhost '/'"
        ),
    );
    assert!(
        !queue_exists(queue.name()),
        "the declared queue was left behind"
    );

    let out = amqp(CONSUME, &["-e", &missing, "cat"]);
    assert_eq!(out.code, 1, "{out:?}");
    let announced = out
        .first_stderr_line()
        .strip_prefix("Server provided queue name: ");
    let name = announced.unwrap_or_else(|| panic!("no queue name announced: {out:?}"));
    let _guard = TestQueue::adopt(name);
    assert!(
        out.stderr_lines()[1].starts_with("queue.bind: server channel error 404"),
        "{out:?}"
    );
    assert!(
        !queue_exists(name),
        "the server-named queue was left behind"
    );
}

#[test]
fn a_failed_bind_keeps_a_queue_that_existed_before() {
    let missing = unique_name("con-no-such-exchange");
    let queue = TestQueue::named("con-bind-fails-kept");
    let name = queue.name().to_string();
    // The queue amqp-consume declares: non-durable, auto-delete; it already exists.
    with_channel(async move |channel: &lapin::Channel| {
        let options = lapin::options::QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        };
        channel
            .queue_declare(name.as_str().into(), options, Default::default())
            .await
            .expect("queue.declare")
    });
    publish(queue.name(), b"kept");
    let out = amqp(CONSUME, &["-q", queue.name(), "-e", &missing, "cat"]);
    out.assert_error_starts(1, "queue.bind: server channel error 404");
    assert_eq!(
        queue_message_count(queue.name()),
        1,
        "the existing queue was deleted"
    );
}

// ---------------------------------------------------------------------------------------------
// -A -c N, failed commands (RELIABILITY.md, 3 and 4)

#[test]
fn no_ack_with_count_200_of_2000_removes_exactly_200() {
    let queue = TestQueue::declare("rel-no-ack-count");
    let bodies: Vec<Vec<u8>> = (0..2000).map(|i| format!("{i}").into_bytes()).collect();
    publish_all(queue.name(), &bodies);
    let out = amqp(CONSUME, &["-A", "-c", "200", "-q", queue.name(), "true"]);
    out.assert_ok();
    wait_for_message_count(queue.name(), 1800);
    thread::sleep(Duration::from_secs(1));
    assert_eq!(queue_message_count(queue.name()), 1800, "a moment later");
}

#[test]
fn a_failed_command_warns_and_keeps_the_delivery() {
    let queue = queue_with("rel-fail-keep", b"job");
    let out = consume_one(&queue).sh("exit 3").run();
    assert_eq!(out.code, 1, "{out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(
        lines[0].starts_with("warning: delivery 1: command exited with status 3"),
        "{out:?}"
    );
    assert_eq!(
        lines[1],
        "1 of 1 deliveries failed: their commands did not exit 0"
    );
    wait_for_message_count(queue.name(), 1);
}

#[test]
fn failures_filling_the_prefetch_window_stop_the_consumer() {
    let queue = TestQueue::declare("rel-fail-window");
    publish_bodies(queue.name(), &[b"1", b"2", b"3", b"4", b"5"]);
    let started = Instant::now();
    let out = amqp(CONSUME, &["-q", queue.name(), "-p", "2", "false"]);
    assert!(started.elapsed() < Duration::from_secs(10), "{out:?}");
    assert_eq!(out.code, 1, "{out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert!(lines[0].starts_with("warning: delivery 1: command exited with status 1"));
    assert!(lines[1].starts_with("warning: delivery 2: command exited with status 1"));
    assert_eq!(
        lines[2],
        "stopping: 2 failed deliveries are unacknowledged and fill the prefetch window of 2"
    );
    wait_for_message_count(queue.name(), 5);
}

#[test]
fn on_failure_requeue_returns_the_message_at_once() {
    let queue = queue_with("rel-fail-requeue", b"retry me");
    // Fails the first time, succeeds on the redelivery: the consumer gets it back while it
    // is still running.
    let out = consume(queue.name())
        .count(2)
        .args(["--on-failure", "requeue"])
        .sh(r#"cat >/dev/null; test "$AMQP_REDELIVERED" = true"#)
        .run();
    out.assert_error_starts(
        1,
        "warning: delivery 1: command exited with status 1; requeued",
    );
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn on_failure_reject_dead_letters_the_message() {
    let (queue, dlq) = declare_with_dead_letters("rel-fail-reject", &[]);
    publish(queue.name(), b"poison");
    let out = consume_one(&queue)
        .args(["--on-failure", "reject", "false"])
        .run();
    out.assert_error_starts(
        1,
        "warning: delivery 1: command exited with status 1; rejected",
    );
    wait_for_message_count(dlq.name(), 1);
    let dead = get_message(dlq.name()).expect("dead-lettered message");
    assert_eq!(dead.body, b"poison");
    assert!(
        dead.headers
            .as_ref()
            .is_some_and(|h| h.contains_key("x-death")),
        "{dead:?}"
    );
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn a_command_killed_by_a_signal_counts_as_failed() {
    let queue = queue_with("rel-fail-killed", b"job");
    let out = consume_one(&queue).sh("kill -9 $$").run();
    out.assert_error_starts(1, "warning: delivery 1: command killed by signal 9");
    wait_for_message_count(queue.name(), 1);
}

// ---------------------------------------------------------------------------------------------
// SIGINT and SIGTERM, the connection lost while consuming (RELIABILITY.md, 5 and 6)

/// Consumes 40 messages with a command that appends each body to a file, stops the consumer
/// with `signal` mid-stream (to the tool alone, or to its whole process group as a terminal's
/// Ctrl-C does), and checks that every message is either in the file or on the queue, once.
fn signal_stops_the_consumer_cleanly(signal: i32, whole_group: bool) {
    let queue = TestQueue::declare("rel-signal");
    let total = 40;
    let bodies: Vec<String> = (0..total).map(|i| format!("m{i:03}")).collect();
    publish_all(queue.name(), &bodies);
    let log = TempFile::new(b"");
    let url = broker_url();
    let mut command = Command::new(bin(CONSUME));
    command
        .args(["--url", &url, "-q", queue.name(), "--", "sh", "-c"])
        .arg(r#"sleep 0.1; body=$(cat); printf '%s\n' "$body" >> "$1""#)
        .args(["sh", log.path_str()])
        .env_remove("AMQP_URL");
    if whole_group {
        command.process_group(0);
    }
    let consumer = spawn_command(command, None);
    wait_until("five messages processed", || {
        (file_lines(log.path_str()).len() >= 5).then_some(())
    });
    let started = Instant::now();
    if whole_group {
        let group = i32::try_from(consumer.pid()).expect("pid");
        // SAFETY: kill(2) on the process group we created for the consumer.
        assert_eq!(unsafe { libc::kill(-group, signal) }, 0);
    } else {
        consumer.signal(signal);
    }
    let out = consumer.wait();
    assert!(started.elapsed() < Duration::from_secs(5), "{out:?}");
    assert_eq!(out.code, 128 + signal, "{out:?}");
    for line in out.stderr_lines() {
        assert!(line.starts_with("warning: delivery "), "{out:?}");
    }
    let processed = file_lines(log.path_str());
    let unique: BTreeSet<&String> = processed.iter().collect();
    assert_eq!(
        unique.len(),
        processed.len(),
        "processed twice: {processed:?}"
    );
    let left = total - processed.len();
    wait_for_message_count(queue.name(), left as u32);
    let mut all: Vec<String> = drain_queue(queue.name())
        .into_iter()
        .map(|m| String::from_utf8(m.body).expect("text"))
        .collect();
    all.extend(processed.iter().cloned());
    all.sort();
    assert_eq!(all, bodies, "lost or duplicated (file + queue)");
}

#[test]
fn sigint_stops_the_consumer_without_loss_or_duplicates() {
    signal_stops_the_consumer_cleanly(libc::SIGINT, false);
}

#[test]
fn sigterm_stops_the_consumer_without_loss_or_duplicates() {
    signal_stops_the_consumer_cleanly(libc::SIGTERM, false);
}

#[test]
fn ctrl_c_to_the_process_group_loses_nothing() {
    signal_stops_the_consumer_cleanly(libc::SIGINT, true);
}

/// Starts `amqp-consume -q QUEUE cat` on a fresh queue, does `end` (to the queue or the
/// consumer) once it consumes, and asserts that the consumer ended within 3 s; returns the
/// queue and what the consumer printed.
fn consumer_ended_by(prefix: &str, end: impl FnOnce(&TestQueue, &Running)) -> (TestQueue, Output) {
    let queue = TestQueue::declare(prefix);
    let consumer = amqp_spawn(CONSUME, &["-q", queue.name(), "cat"]);
    wait_for_consumer(queue.name());
    end(&queue, &consumer);
    let ended = Instant::now();
    let out = consumer.wait();
    assert!(ended.elapsed() < Duration::from_secs(3), "{out:?}");
    (queue, out)
}

#[test]
fn broker_closing_the_connection_ends_the_consumer_at_once() {
    let (queue, out) = consumer_ended_by("rel-closed", |_, consumer| {
        close_connection_of(consumer.pid(), "closed by the reliability test")
    });
    let line = assert_one_line_failure(&out);
    assert_eq!(
        line,
        format!(
            "consuming from queue '{}': server connection error 320, message: \
             CONNECTION_FORCED - closed by the reliability test",
            queue.name()
        )
    );
}

#[test]
fn connection_closed_during_a_command_acks_nothing() {
    let queue = TestQueue::declare("rel-closed-busy");
    let log = TempFile::new(b"");
    // The command waits until the test has closed the connection.
    let wait = format!("; {}", wait_at_gate(&log, "true"));
    let consumer = consume(queue.name()).log_bodies_to(&log, &wait).spawn();
    let connection = broker_connection_of(consumer.pid());
    // Both messages reach the consumer (no prefetch limit); the first command runs.
    publish_bodies(queue.name(), &[b"first", b"second"]);
    wait_until("the first command to run", || {
        (!file_lines(log.path_str()).is_empty()).then_some(())
    });
    ctl(&["close_connection", &connection.pid, "closed mid-command"]);
    let gate = open_gate(&log);
    let out = consumer.wait();
    drop(gate);
    let line = assert_one_line_failure(&out);
    assert!(
        line.contains("CONNECTION_FORCED - closed mid-command"),
        "{out:?}"
    );
    // Both messages are back: the first command's ack had no channel left to go on.
    wait_for_message_count(queue.name(), 2);
    // No command runs for a delivery of the dead connection: it would be done twice.
    assert_eq!(file_lines(log.path_str()), ["first"], "{out:?}");
}

#[test]
fn deleting_the_queue_ends_the_consumer_with_exit_1() {
    let (queue, out) = consumer_ended_by("rel-deleted", |queue, _| delete_queue(queue.name()));
    let line = assert_one_line_failure(&out);
    assert_eq!(
        line,
        format!(
            "consuming from queue '{}': the server cancelled the consumer (was the queue deleted?)",
            queue.name()
        )
    );
    out.assert_no_stdout();
}

#[test]
fn missed_heartbeats_end_the_consumer_within_two_intervals() {
    let queue = queue_with("rel-heartbeat-lost", b"before");
    let relay = Relay::start(broker_port());
    let log = TempFile::new(b"");
    let consumer = call(CONSUME)
        .url(&relay.url())
        .args(["--heartbeat", "2", "-q", queue.name()])
        .log_bodies_to(&log, "")
        .spawn();
    wait_until("the first message to be processed", || {
        (file_lines(log.path_str()) == ["before"]).then_some(())
    });
    // Let its ack through, then the network goes silent.
    thread::sleep(Duration::from_millis(500));
    relay.freeze();
    let frozen = Instant::now();
    publish(queue.name(), b"during");
    let out = consumer.wait();
    let waited = frozen.elapsed();
    let line = assert_one_line_failure(&out);
    assert!(
        line.starts_with(&format!("consuming from queue '{}': ", queue.name()))
            && line.contains("heartbeat"),
        "{out:?}"
    );
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(7),
        "exited {waited:?} after the network froze: {out:?}"
    );
    // "during" reached the frozen relay, never the command: the broker gets it back once it
    // drops the connection too; "before" was acked and stays consumed.
    wait_for_message_count(queue.name(), 1);
    assert_eq!(file_lines(log.path_str()), ["before"]);
    assert_eq!(only_message(&queue).body, b"during");
}

// ---------------------------------------------------------------------------------------------
// Closed pipes (RELIABILITY.md, 12)

#[test]
fn a_command_that_ignores_a_large_body_is_judged_by_its_exit_status() {
    let queue = TestQueue::declare("rel-ignored-body");
    let big = vec![b'x'; 1024 * 1024];
    publish_bodies(queue.name(), &[&big, &big]);
    let out = amqp(CONSUME, &["-q", queue.name(), "-c", "1", "true"]);
    out.assert_ok_quietly();
    let out = amqp(CONSUME, &["-q", queue.name(), "-c", "1", "false"]);
    assert_eq!(out.code, 1, "{out:?}");
    wait_for_message_count(queue.name(), 1);
}

#[test]
fn consume_into_a_closed_pipe_ends_quietly_and_keeps_the_message() {
    let queue = queue_with("rel-consume-pipe", b"keep me");
    let (status, stderr) = into_head(CONSUME, &["-q", queue.name(), "--", "sh", "-c", "yes"]);
    assert_eq!(status, "141", "stderr: {stderr}");
    assert_eq!(stderr, "");
    wait_for_message_count(queue.name(), 1);
    let message = get_message(queue.name()).expect("message kept");
    assert_eq!(message.body, b"keep me");
}

// ---------------------------------------------------------------------------------------------
// Delivery metadata in the command's environment

#[test]
fn every_property_reaches_the_command_environment() {
    let q = TestQueue::declare("props");
    publish_cli(q.name())
        .body("x")
        .args([
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
        ])
        .typed_headers(&["n=42", "ok=true", "nested={\"a\":[1,\"b\"]}"])
        .run()
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

/// Two headers that sanitise to one variable name give it once, with the later header's
/// value (the command's environment holds no duplicate name, which getenv(3) would read the
/// first of).
#[test]
fn headers_that_sanitise_to_one_name_give_one_variable() {
    let q = TestQueue::declare("collide");
    publish_cli(q.name())
        .body("x")
        .args(["-H", "x-a: first", "-H", "x_a: second"])
        .run()
        .assert_ok();
    let out = consume_one(&q).sh("cat >/dev/null; env").run();
    out.assert_ok();
    let text = out.stdout_text();
    let values: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("AMQP_HEADER_X_A="))
        .collect();
    assert_eq!(values, ["second"], "{text}");
}

/// The command starts with an empty signal mask and SIGPIPE at its default action, as a
/// command started by a shell (Rust's runtime ignores SIGPIPE in the consumer itself; a
/// filter such as `yes | head` relies on being killed by it).
#[test]
fn the_command_starts_with_default_sigpipe_and_no_blocked_signals() {
    let q = queue_with("signals", b"x");
    let out = consume_one(&q)
        .sh("cat >/dev/null; grep -E '^Sig(Ign|Blk):' /proc/self/status")
        .run();
    out.assert_ok();
    let text = out.stdout_text();
    let mask = |name: &str| {
        let line = text.lines().find_map(|l| l.strip_prefix(name)).expect(name);
        u64::from_str_radix(line.trim(), 16).expect("a hexadecimal mask")
    };
    let sigpipe = 1u64 << (libc::SIGPIPE - 1);
    assert_eq!(mask("SigIgn:") & sigpipe, 0, "SIGPIPE ignored: {text}");
    assert_eq!(mask("SigBlk:"), 0, "signals blocked: {text}");
}

#[test]
fn unset_properties_are_not_inherited_from_the_consumer() {
    let q = queue_with("noprops", b"plain");
    let out = consume_one(&q)
        .sh("cat >/dev/null; env")
        .env("AMQP_REPLY_TO", "stale")
        .env("AMQP_HEADER_OLD", "stale")
        .env("AMQP_URL", "kept")
        .run();
    out.assert_ok();
    let text = out.stdout_text();
    assert!(!text.contains("AMQP_REPLY_TO="), "{text}");
    assert!(!text.contains("AMQP_HEADER_OLD="), "{text}");
    assert!(text.contains("AMQP_URL=kept"), "{text}");
}

/// The command is looked up in `PATH` once per run (issue 13: one execve per delivery instead
/// of one per `PATH` directory before it), and still gets its name as given as argv[0]: `sh`,
/// not `/usr/bin/sh` (a multi-call program such as busybox dispatches on it).
#[test]
fn the_command_keeps_its_name_as_argv0() {
    let queue = TestQueue::declare("argv0");
    publish_all(queue.name(), &["a", "b"]);
    let script = r#"cat >/dev/null; tr '\0' ' ' </proc/$$/cmdline; echo"#;
    let out = amqp(
        "amqp-consume",
        &[
            "-q",
            queue.name(),
            "-c",
            "2",
            "--",
            "sh",
            "-c",
            script,
            "name",
        ],
    );
    out.assert_printed(format!("sh -c {script} name \nsh -c {script} name \n"));
}
