//! Reliability guarantees that need the whole broker: a restart (`stop_app`/`start_app`) and a
//! changed broker setting (`consumer_timeout`). They disturb every client of the node, so they
//! live in this separate test binary with a single test: cargo runs test binaries one after
//! another, so nothing else runs against the node meanwhile. The parts run in order; a failing
//! part does not keep the others from running, and the broker is always restarted and its
//! settings restored, even when a part fails.
//!
//! RELIABILITY.md lists the guarantees and names these parts.

mod common;

use common::*;
use futures_lite::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Messages in the soak, and lines per `amqp-publish -l` run.
const SOAK_MESSAGES: usize = 100_000;

const SOAK_BATCH: usize = 10_000;

#[test]
fn broker_restarts_and_broker_settings() {
    let parts: [(&str, fn()); 5] = [
        (
            "consumer_ack_timeout_during_a_command_is_a_one_line_406",
            consumer_ack_timeout_during_a_command_is_a_one_line_406,
        ),
        (
            "consumer_ack_timeout_with_count_1_is_a_one_line_406",
            consumer_ack_timeout_with_count_1_is_a_one_line_406,
        ),
        (
            "command_timeout_below_the_consumer_timeout_keeps_the_channel",
            command_timeout_below_the_consumer_timeout_keeps_the_channel,
        ),
        (
            "unacked_messages_survive_a_broker_restart",
            unacked_messages_survive_a_broker_restart,
        ),
        (
            "soak_100000_confirmed_messages_across_a_broker_restart",
            soak_100000_confirmed_messages_across_a_broker_restart,
        ),
    ];
    // AMQP_TEST_RESTART_PART=WORD runs only the parts whose name contains WORD.
    let only = std::env::var("AMQP_TEST_RESTART_PART").unwrap_or_default();
    let mut failed = Vec::new();
    for (name, part) in parts {
        if !name.contains(&only) {
            continue;
        }
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(part));
        let status = if outcome.is_ok() { "ok" } else { "FAILED" };
        eprintln!(
            "restart.rs part {name}: {status} in {:.1?}",
            started.elapsed()
        );
        if outcome.is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "failed parts: {failed:?}");
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Runs rabbitmqctl without failing the test (for clean-up in `Drop`).
fn ctl_quietly(args: &[&str]) {
    if let Ok(ctl) = std::env::var("AMQP_TEST_CTL") {
        let _ = Command::new(ctl)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Starts the broker application again when dropped (a no-op when it is running), so a
/// failing part never leaves the node stopped.
struct RestartOnDrop;

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        ctl_quietly(&["start_app"]);
    }
}

/// A `rabbit` application setting changed for the node; the previous value is restored on
/// drop (new channels read these settings).
struct BrokerSetting {
    key: &'static str,
    previous: Option<String>,
}

impl BrokerSetting {
    fn set(key: &'static str, value: &str) -> BrokerSetting {
        let current = ctl(&["eval", &format!("application:get_env(rabbit, {key}).")]);
        let previous = current
            .trim()
            .strip_prefix("{ok,")
            .and_then(|v| v.strip_suffix('}'))
            .map(str::to_string);
        ctl(&[
            "eval",
            &format!("application:set_env(rabbit, {key}, {value})."),
        ]);
        BrokerSetting { key, previous }
    }
}

impl Drop for BrokerSetting {
    fn drop(&mut self) {
        let key = self.key;
        let restore = match &self.previous {
            Some(value) => format!("application:set_env(rabbit, {key}, {value})."),
            None => format!("application:unset_env(rabbit, {key})."),
        };
        ctl_quietly(&["eval", &restore]);
    }
}

/// Waits (up to 60 s) until the broker accepts connections again.
fn wait_for_broker() {
    let deadline = Instant::now() + Duration::from_secs(60);
    while try_with_channel(async |_: &lapin::Channel| Ok(())).is_err() {
        assert!(Instant::now() < deadline, "the broker did not come back");
        thread::sleep(Duration::from_millis(200));
    }
}

/// Declares a durable queue with `amqp-declare-queue -d`; deleted when the guard drops.
fn durable_queue(prefix: &str) -> TestQueue {
    let queue = TestQueue::named(prefix);
    amqp(DECLARE, &["-d", "-q", queue.name()]).assert_ok();
    queue
}

// ---------------------------------------------------------------------------------------------
// Parts

/// A 2 s `consumer_timeout`, checked every second, until dropped. RabbitMQ 3.10 checks the
/// timeout on the channel's tick (`channel_tick_interval`, 60 s by default), so both are set.
fn short_consumer_timeout() -> (BrokerSetting, BrokerSetting) {
    (
        BrokerSetting::set("consumer_timeout", "2000"),
        BrokerSetting::set("channel_tick_interval", "1000"),
    )
}

/// A consumer whose command runs longer than the broker's `consumer_timeout` has its channel
/// closed with 406 PRECONDITION_FAILED; the tool says so on one line, exits 1, starts no
/// command for deliveries of the closed channel, and the messages stay on the queue.
fn consumer_ack_timeout_during_a_command_is_a_one_line_406() {
    let _settings = short_consumer_timeout();
    let queue = TestQueue::declare("restart-406");
    publish_bodies(queue.name(), &[b"a", b"b"]);
    let log = TempFile::new(b"");
    let started = Instant::now();
    let out = consume(queue.name()).log_bodies_to(&log, "; sleep 5").run();
    let took = started.elapsed();
    let line = assert_one_line_failure(&out);
    assert!(
        line.contains("406") && line.contains("PRECONDITION_FAILED"),
        "the line must name the 406: {out:?}"
    );
    wait_for_message_count(queue.name(), 2);
    assert_eq!(
        file_lines(log.path_str()),
        ["a"],
        "no command may run for a delivery of the closed channel (took {took:?})"
    );
}

/// The same with `-c 1`: the 406 is the error reported, not a confusing one from closing the
/// dead channel afterwards.
fn consumer_ack_timeout_with_count_1_is_a_one_line_406() {
    let _settings = short_consumer_timeout();
    let queue = queue_with("restart-406-count", b"slow");
    let out = consume_one(&queue).sh("cat >/dev/null; sleep 5").run();
    let line = assert_one_line_failure(&out);
    assert!(
        line.contains("406") && line.contains("PRECONDITION_FAILED"),
        "the line must name the 406: {out:?}"
    );
    wait_for_message_count(queue.name(), 1);
}

/// `--command-timeout` below the broker's `consumer_timeout`: the hung command is killed and
/// its message requeued before the broker would close the channel (as in the 406 parts above),
/// so the consumer goes on and handles the message's redelivery.
fn command_timeout_below_the_consumer_timeout_keeps_the_channel() {
    let _settings = (
        BrokerSetting::set("consumer_timeout", "4000"),
        BrokerSetting::set("channel_tick_interval", "1000"),
    );
    let queue = queue_with("restart-command-timeout", b"job");
    let out = consume(queue.name())
        .count(2)
        .args(["--command-timeout", "1", "--on-failure", "requeue"])
        .sh(r#"cat >/dev/null; [ "$AMQP_REDELIVERED" = true ] || sleep 100"#)
        .run();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr_lines(),
        [
            "warning: delivery 1: command timed out after 1 s; requeued",
            "1 of 2 deliveries failed: their commands did not exit 0"
        ]
    );
    assert_eq!(queue_message_count(queue.name()), 0);
}

/// A consumer's connection dies with the broker while its command runs: after the restart the
/// durable queue still holds every persistent message, the unacknowledged one included; the
/// consumer exits 1 with one line and starts no command for deliveries of the dead connection.
fn unacked_messages_survive_a_broker_restart() {
    let queue = durable_queue("restart-unacked");
    amqp_stdin(PUBLISH, &["-p", "-r", queue.name(), "-l"], b"1\n2\n3\n").assert_ok();
    let log = TempFile::new(b"");
    let consumer = consume(queue.name())
        .log_bodies_to(&log, "; sleep 3")
        .spawn();
    wait_until("the first command to run", || {
        (!file_lines(log.path_str()).is_empty()).then_some(())
    });
    let restart = RestartOnDrop;
    ctl(&["stop_app"]);
    let out = consumer.wait();
    ctl(&["start_app"]);
    drop(restart);
    wait_for_broker();
    assert_one_line_failure(&out);
    wait_for_message_count(queue.name(), 3);
    let mut bodies: Vec<Vec<u8>> = drain_queue(queue.name())
        .into_iter()
        .map(|m| {
            assert_eq!(m.delivery_mode, Some(2), "persistent");
            m.body
        })
        .collect();
    bodies.sort();
    assert_eq!(bodies, [b"1\n".to_vec(), b"2\n".to_vec(), b"3\n".to_vec()]);
    assert_eq!(
        file_lines(log.path_str()),
        ["1"],
        "no command may run for a delivery of the dead connection: {out:?}"
    );
}

/// 100000 persistent messages published with confirms (`amqp-publish -l -p`, batches of
/// 10000 unique ids) to a durable queue while the broker restarts once; a batch whose publisher
/// exits 1 is published again (at-least-once). Afterwards every id is on the queue.
fn soak_100000_confirmed_messages_across_a_broker_restart() {
    let queue = durable_queue("restart-soak");
    let batches: Vec<Vec<u8>> = (0..SOAK_MESSAGES / SOAK_BATCH)
        .map(|b| {
            (b * SOAK_BATCH..(b + 1) * SOAK_BATCH)
                .map(|i| format!("id-{i:06}\n"))
                .collect::<String>()
                .into_bytes()
        })
        .collect();

    // The restart: the fourth batch is fed slowly (over about 5 s: the broker takes a second or
    // two to close its connections after `stop_app` is issued); once its first thousand
    // messages are on the queue, stop the broker application, then start it again.
    let (go, started) = mpsc::channel::<()>();
    let watched = queue.name().to_string();
    let restarter = thread::spawn(move || {
        let _restart = RestartOnDrop;
        if started.recv().is_err() {
            return;
        }
        let threshold = (3 * SOAK_BATCH + SOAK_BATCH / 10) as u32;
        wait_until("the fourth batch under way", || {
            (queue_message_count(&watched) >= threshold).then_some(())
        });
        ctl(&["stop_app"]);
        thread::sleep(Duration::from_secs(1));
        ctl(&["start_app"]);
    });

    let mut failures: Vec<(usize, String)> = Vec::new();
    let publishing = Instant::now();
    for (number, batch) in batches.iter().enumerate() {
        if number == 3 {
            go.send(()).expect("restart thread");
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            let args = ["-p", "-r", queue.name(), "-l"];
            let out = if number == 3 && attempts == 1 {
                publish_slowly(&args, batch)
            } else {
                amqp_stdin(PUBLISH, &args, batch)
            };
            if out.code == 0 {
                break;
            }
            let line = assert_one_line_failure(&out);
            failures.push((number, line));
            assert!(
                attempts < 100,
                "batch {number} never got through: {failures:?}"
            );
            thread::sleep(Duration::from_millis(500));
        }
    }
    let published_in = publishing.elapsed();
    drop(go);
    restarter.join().expect("the restart thread failed");
    wait_for_broker();
    eprintln!("soak: published in {published_in:.1?}; failed runs, retried: {failures:?}");
    // The restart interrupted a publisher in the middle of its batch: it said how many of its
    // messages were not confirmed.
    assert!(
        failures
            .iter()
            .any(|(_, line)| line.starts_with("basic.publish: ")
                && line.ends_with(" not confirmed)")),
        "the restart did not interrupt a publisher mid-batch: {failures:?}"
    );

    // Every id is on the queue (some twice: the retried batches were partly confirmed).
    let on_queue = queue_message_count(queue.name()) as usize;
    assert!(
        on_queue >= SOAK_MESSAGES,
        "only {on_queue} messages on the queue"
    );
    let seen = consume_all(queue.name(), on_queue);
    let missing: Vec<usize> = (0..SOAK_MESSAGES)
        .filter(|i| !seen.contains_key(&format!("id-{i:06}")))
        .collect();
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "soak: {on_queue} messages on the queue, {} distinct ids, {duplicates} duplicates",
        seen.len()
    );
    assert!(
        missing.is_empty(),
        "{} ids lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert_eq!(seen.len(), SOAK_MESSAGES, "unexpected bodies on the queue");
    assert_eq!(queue_message_count(queue.name()), 0);
    // A failed run never claims more confirmed messages than it left on the queue: what it
    // counted as confirmed (M - N of its "N of M messages not confirmed") is at most the
    // duplicates, since every retried batch was then published whole.
    let claimed: u64 = failures
        .iter()
        .filter_map(|(_, line)| unconfirmed_counts(line))
        .map(|(unconfirmed, total)| total - unconfirmed)
        .sum();
    assert!(
        claimed <= duplicates as u64,
        "failed runs claimed {claimed} confirmed messages, only {duplicates} are on the queue"
    );
}

/// Runs `amqp-publish --url BROKER ARGS` with `input` written to its standard input in 20
/// slices a quarter of a second apart (a slow producer).
fn publish_slowly(args: &[&str], input: &[u8]) -> Output {
    let mut publisher = Fed::start(PUBLISH, args);
    let lines: Vec<&[u8]> = input.split_inclusive(|b| *b == b'\n').collect();
    for slice in lines.chunks(lines.len().div_ceil(20)) {
        if !publisher.write(&slice.concat()) {
            break;
        }
        thread::sleep(Duration::from_millis(250));
    }
    publisher.finish()
}

/// Consumes `expected` messages from `queue` with acks (lapin, basic.consume) and counts each
/// body (newline removed).
fn consume_all(queue: &str, expected: usize) -> HashMap<String, usize> {
    let queue = queue.to_string();
    block_on(async move {
        let work = async {
            let connection = Connection::connect(
                &broker_url(),
                ConnectionProperties::default().with_connection_name("restart-soak".into()),
            )
            .await
            .expect("connect");
            let channel = connection.create_channel().await.expect("channel");
            channel
                .basic_qos(2000, BasicQosOptions::default())
                .await
                .expect("basic.qos");
            let mut consumer = channel
                .basic_consume(
                    queue.as_str().into(),
                    "soak".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .expect("basic.consume");
            let mut seen: HashMap<String, usize> = HashMap::new();
            let mut received = 0;
            while received < expected {
                let delivery = consumer
                    .next()
                    .await
                    .expect("consumer ended")
                    .expect("delivery");
                received += 1;
                let body = String::from_utf8_lossy(&delivery.data);
                *seen.entry(body.trim_end().to_string()).or_default() += 1;
                if received % 500 == 0 || received == expected {
                    delivery
                        .acker
                        .ack(BasicAckOptions { multiple: true })
                        .await
                        .expect("basic.ack");
                }
            }
            let _ = connection.close(200, "OK".into()).await;
            seen
        };
        tokio::time::timeout(Duration::from_secs(120), work)
            .await
            .expect("consuming the soak's messages took over 120 s")
    })
}
