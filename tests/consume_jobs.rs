//! `amqp-consume` for real jobs, against the real broker: draining a queue and
//! stopping (`--idle-timeout`), time-boxed commands (`--command-timeout`), exit-code driven
//! acknowledgement (`--on-exit`), poison messages (`--max-redeliveries`, `--retry-delay`,
//! requeue by basic.reject). Times are only bounded generously, or taken as lower bounds from
//! timestamps the commands record.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// A durable queue with `extra` arguments whose dead letters go to a second queue, which is returned
/// too (both deleted on drop).
fn queue_with_dead_letters(prefix: &str, extra: &[&str]) -> (TestQueue, TestQueue) {
    let mut options = vec!["-d"];
    for arg in extra {
        options.extend(["--arg", arg]);
    }
    declare_with_dead_letters(prefix, &options)
}

/// The lines a command appended to `log`.
fn log_lines(log: &TempFile) -> Vec<String> {
    std::fs::read_to_string(log.path())
        .expect("read the command's log")
        .lines()
        .map(str::to_string)
        .collect()
}

/// The seconds-since-the-epoch timestamps (`date +%s.%N`) ending each line of `log`.
fn log_times(log: &TempFile) -> Vec<f64> {
    log_lines(log)
        .iter()
        .map(|line| {
            line.rsplit(' ')
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("no timestamp in {line:?}"))
        })
        .collect()
}

#[test]
fn idle_timeout_drains_the_queue_then_exits_0() {
    let queue = TestQueue::declare("jobs-idle");
    publish_bodies(queue.name(), &[b"1", b"2", b"3"]);
    let started = Instant::now();
    let out = amqp(CONSUME, &["-q", queue.name(), "--idle-timeout", "1", "cat"]);
    out.assert_printed("123");
    assert_eq!(out.stderr, "");
    assert!(started.elapsed() < Duration::from_secs(20), "{out:?}");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn idle_timeout_before_the_count_exits_1_saying_how_many_were_done() {
    let queue = TestQueue::declare("jobs-idle-count");
    publish_bodies(queue.name(), &[b"a", b"b"]);
    let out = consume(queue.name())
        .count(5)
        .args(["--idle-timeout", "0.5", "cat"])
        .run();
    out.assert_error(
        1,
        "stopped by --idle-timeout after 2 of 5 deliveries (0 failed)",
    );
    assert_eq!(out.stdout_text(), "ab");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn idle_timeout_after_failures_exits_1_counting_them() {
    let queue = queue_with("jobs-idle-fail", b"x");
    let out = consume(queue.name())
        .args(["--idle-timeout", "0.5", "--on-failure", "reject", "false"])
        .run();
    out.assert_one_delivery_failed("warning: delivery 1: command exited with status 1; rejected");
}

#[test]
fn timeout_stops_taking_deliveries_and_lets_the_running_command_finish() {
    let queue = TestQueue::declare("jobs-timeout");
    publish_bodies(queue.name(), &[b"first", b"second", b"third"]);
    let log = TempFile::new(b"");
    // The first command outlives the deadline: it must be let finish and acked; the other
    // two messages are never taken.
    let out = consume(queue.name())
        .args(["--prefetch-count", "1", "--timeout", "1"])
        .log_bodies_to(&log, "; sleep 2")
        .run();
    out.assert_error(1, "--timeout: the run did not finish within 1 s");
    assert_eq!(out.stderr_lines().len(), 1, "{out:?}");
    assert_eq!(log_lines(&log), ["first"], "{out:?}");
    assert_eq!(queue_message_count(queue.name()), 2, "{out:?}");
}

#[test]
fn timeout_with_command_timeout_kills_the_running_command_then_ends() {
    let (queue, dlq) = queue_with_dead_letters("jobs-timeout-kill", &[]);
    publish(queue.name(), b"hang");
    let started = Instant::now();
    let out = consume(queue.name())
        .args([
            "--timeout",
            "1",
            "--command-timeout",
            "2",
            "--on-failure",
            "reject",
        ])
        .sh("sleep 300")
        .run();
    assert!(started.elapsed() < Duration::from_secs(20), "{out:?}");
    assert_eq!(
        out.stderr_lines(),
        [
            "warning: delivery 1: command timed out after 2 s; rejected",
            "--timeout: the run did not finish within 1 s"
        ],
        "{out:?}"
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(queue_message_count(queue.name()), 0);
    assert_eq!(queue_message_count(dlq.name()), 1);
}

#[test]
fn command_timeout_kills_the_commands_process_group_and_applies_the_policy() {
    let (queue, dlq) = queue_with_dead_letters("jobs-cmd-timeout", &[]);
    publish(queue.name(), b"hang");
    let pid_file = TempFile::new(b"");
    // The shell starts a grandchild that would outlive a kill of the shell alone.
    let script = format!("sleep 300 & echo $! > {}; wait", pid_file.path_str());
    let started = Instant::now();
    let out = consume_one(&queue)
        .args(["--command-timeout", "1", "--on-failure", "reject"])
        .sh(&script)
        .run();
    assert!(started.elapsed() < Duration::from_secs(20), "{out:?}");
    out.assert_one_delivery_failed("warning: delivery 1: command timed out after 1 s; rejected");
    let grandchild = std::fs::read_to_string(pid_file.path()).expect("pid file");
    let proc_dir = format!("/proc/{}", grandchild.trim());
    wait_until("the command's grandchild to be killed", || {
        let state = std::fs::read_to_string(format!("{proc_dir}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for init to reap it.
        (state.is_empty() || state.contains(") Z ")).then_some(())
    });
    wait_for_message_count(dlq.name(), 1);
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn a_command_within_its_timeout_is_acked() {
    let queue = queue_with("jobs-cmd-in-time", b"quick");
    let out = consume_one(&queue)
        .args(["--command-timeout", "20", "cat"])
        .run();
    out.assert_printed("quick");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn on_exit_picks_the_action_by_exit_status() {
    let (queue, dlq) = queue_with_dead_letters("jobs-on-exit", &[]);
    publish_bodies(queue.name(), &[b"0", b"3", b"4", b"9"]);
    // The body is the exit status; 4 is acked although it failed, 9 falls to '*'.
    let out = consume(queue.name())
        .count(4)
        .args([
            "--on-exit",
            "3=reject",
            "--on-exit",
            "4=ack",
            "--on-exit",
            "*=keep",
        ])
        .sh("exit $(cat)")
        .run();
    assert_eq!(out.code, 1, "{out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert_eq!(
        lines[0],
        "warning: delivery 2: command exited with status 3; rejected"
    );
    assert!(
        lines[1].starts_with("warning: delivery 4: command exited with status 9; not acknowledged"),
        "{out:?}"
    );
    assert_eq!(
        lines[2],
        "2 of 4 deliveries failed: their commands did not exit 0"
    );
    assert_eq!(only_message(&dlq).body, b"3");
    // Only the kept one returned when the consumer closed.
    wait_for_message_count(queue.name(), 1);
    assert_eq!(get_message(queue.name()).expect("kept message").body, b"9");
}

#[test]
fn the_rabbitmq_cli_consumer_preset_stops_on_an_unlisted_status() {
    let (queue, dlq) = queue_with_dead_letters("jobs-preset", &[]);
    publish_bodies(queue.name(), &[b"0", b"3", b"5", b"7", b"0"]);
    let out = consume(queue.name())
        .args(["--on-exit", "rabbitmq-cli-consumer"])
        .sh("exit $(cat)")
        .run();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr_lines(),
        [
            "warning: delivery 2: command exited with status 3; rejected",
            "warning: delivery 3: command exited with status 5; rejected",
            "stopping: delivery 4: command exited with status 7 (--on-exit *=stop)",
        ]
    );
    assert_eq!(drain_queue(dlq.name()).len(), 2);
    // The stopping delivery and the one after it are back on the queue.
    wait_for_message_count(queue.name(), 2);
}

#[test]
fn a_command_that_cannot_be_run_stops_instead_of_requeueing_forever() {
    let queue = queue_with("jobs-127", b"job");
    let runs = TempFile::new(b"");
    let script = format!(
        "echo run >> {}; exec amqp-tools-no-such-command",
        runs.path_str()
    );
    let out = consume(queue.name())
        .args(["--on-failure", "requeue"])
        .sh(&script)
        .run();
    assert_eq!(out.code, 1, "{out:?}");
    let last = out.stderr_lines().last().copied().unwrap_or("");
    assert_eq!(
        last,
        "stopping: delivery 1: command exited with status 127 \
         (the command cannot be run; --on-exit 126=ACTION or 127=ACTION to change)"
    );
    assert_eq!(log_lines(&runs).len(), 1);
    wait_for_message_count(queue.name(), 1);
}

#[test]
fn max_redeliveries_dead_letters_a_poison_message_after_the_cap() {
    let (queue, dlq) = queue_with_dead_letters("jobs-poison", &["x-queue-type=quorum"]);
    publish(queue.name(), b"poison");
    let log = TempFile::new(b"");
    let script = format!(
        "cat >/dev/null; echo \"$AMQP_REDELIVERED ${{AMQP_HEADER_X_DELIVERY_COUNT:-none}}\" >> {}; exit 1",
        log.path_str()
    );
    let out = consume(queue.name())
        .args([
            "--on-failure",
            "requeue",
            "--max-redeliveries",
            "2",
            "--idle-timeout",
            "2",
        ])
        .sh(&script)
        .run();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(log_lines(&log), ["false none", "true 1", "true 2"]);
    assert_eq!(
        out.stderr_lines(),
        [
            "warning: delivery 1: command exited with status 1; requeued",
            "warning: delivery 2: command exited with status 1; requeued",
            "warning: delivery 3: command exited with status 1; rejected after 3 deliveries (--max-redeliveries 2)",
            "3 of 3 deliveries failed: their commands did not exit 0",
        ]
    );
    let dead = drain_queue(dlq.name());
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].body, b"poison");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn max_redeliveries_warns_once_where_the_queue_gives_no_count() {
    let queue = queue_with("jobs-no-count", b"x");
    let out = consume(queue.name())
        .count(3)
        .args(["--on-failure", "requeue", "--max-redeliveries", "1"])
        .sh("cat >/dev/null; exit 1")
        .run();
    assert_eq!(out.code, 1, "{out:?}");
    let warnings = out
        .stderr_lines()
        .into_iter()
        .filter(|l| l.starts_with("warning: --max-redeliveries: the queue gives no delivery count"))
        .count();
    assert_eq!(warnings, 1, "{out:?}");
    wait_for_message_count(queue.name(), 1);
}

#[test]
fn a_replayed_message_with_a_stale_count_is_not_rejected_on_first_delivery() {
    let (queue, dlq) = queue_with_dead_letters("jobs-stale-count", &[]);
    // A message moved back from a dead-letter queue can carry the count of its old life.
    publish_cli(queue.name())
        .args(["--typed-header", "x-delivery-count=9"])
        .body("replayed")
        .run()
        .assert_ok();
    let out = consume_one(&queue)
        .args([
            "--on-failure",
            "requeue",
            "--max-redeliveries",
            "2",
            "false",
        ])
        .run();
    out.assert_error_starts(
        1,
        "warning: delivery 1: command exited with status 1; requeued",
    );
    assert_eq!(queue_message_count(dlq.name()), 0);
    wait_for_message_count(queue.name(), 1);
}

#[test]
fn retry_delay_holds_a_failed_message_while_others_are_consumed() {
    let queue = TestQueue::declare("jobs-retry-delay");
    publish_bodies(queue.name(), &[b"fail", b"ok"]);
    let log = TempFile::new(b"");
    let script = format!(
        "b=$(cat); echo \"$b $(date +%s.%N)\" >> {}; test \"$b\" = ok",
        log.path_str()
    );
    let out = consume(queue.name())
        .count(3)
        .args(["--on-failure", "requeue", "--retry-delay", "3"])
        .sh(&script)
        .run();
    assert_eq!(out.code, 1, "{out:?}");
    let lines = log_lines(&log);
    let bodies: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(bodies, ["fail", "ok", "fail"], "{out:?}");
    let times = log_times(&log);
    // The failed message came back no sooner than the delay; the other one was not held up
    // by it (taken before the delay was over).
    assert!(times[2] - times[0] >= 3.0, "{times:?}");
    assert!(times[1] - times[0] < 3.0, "{times:?}");
    assert_eq!(
        out.first_stderr_line(),
        "warning: delivery 1: command exited with status 1; requeued in 3 s"
    );
    // The last failure was held, then requeued before the consumer ended.
    wait_for_message_count(queue.name(), 1);
}

#[test]
fn a_signal_requeues_held_deliveries_at_once_instead_of_waiting_out_the_delay() {
    let queue = queue_with("jobs-retry-signal", b"fail");
    let mut consumer = consume(queue.name())
        .args([
            "--on-failure",
            "requeue",
            "--retry-delay",
            "3600",
            "--",
            "false",
        ])
        .spawn();
    consumer.wait_for_stderr_line("warning: delivery 1:");
    let started = Instant::now();
    consumer.signal(libc::SIGTERM);
    let out = consumer.wait();
    assert_eq!(out.code, 128 + libc::SIGTERM, "{out:?}");
    assert!(
        out.stderr_lines().contains(
            &"warning: requeueing 1 held deliveries before their --retry-delay ended (stopped by a signal)"
        ),
        "{out:?}"
    );
    // Well within the hour of the delay (a bound, not a timing).
    assert!(started.elapsed() < Duration::from_secs(60), "{out:?}");
    wait_for_message_count(queue.name(), 1);
}

#[test]
fn retry_delay_without_a_requeue_is_a_usage_error() {
    let out = amqp(CONSUME, &["-q", "q", "--retry-delay", "1", "cat"]);
    out.assert_error(
        1,
        "--retry-delay: no failure is requeued (add --on-failure requeue or --on-exit CODE=requeue)",
    );
}

#[test]
fn a_single_delivery_is_requeued_with_basic_reject_not_basic_nack() {
    let queue = queue_with("jobs-reject", b"x");
    let out = call(CONSUME)
        .args(["--verbose", "-q"])
        .arg(queue.name())
        .count(2)
        .args(["--on-failure", "requeue"])
        .sh(r#"cat >/dev/null; test "$AMQP_REDELIVERED" = true"#)
        .run();
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("-> basic.reject channel=1 delivery-tag=1 requeue=true"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("basic.nack"), "{out:?}");
    // The redelivery's ack is sent, and the channel closed cleanly after it, although the run
    // ends with exit 1 (one command failed): otherwise the ack could be lost at exit and the
    // message, done, delivered again.
    assert!(
        out.stderr
            .contains("-> basic.ack channel=1 delivery-tag=2 multiple=false"),
        "{out:?}"
    );
    assert!(out.stderr.contains("-> channel.close "), "{out:?}");
    assert_eq!(queue_message_count(queue.name()), 0);
}

/// A command that marks its message as started in `dir`, then waits (at most 20 s) until
/// `n` commands have started: it exits 0 only when `n` commands ran at the same time. Then
/// it writes two lines of its own on stdout.
fn barrier_command(dir: &TempDir, n: usize) -> String {
    format!(
        "b=$(cat); touch {dir}/$b; i=0; \
         while [ $(ls {dir} | wc -l) -lt {n} ]; do \
           i=$((i+1)); [ $i -lt 200 ] || exit 1; sleep 0.1; \
         done; \
         printf 'first %s\\n' $b; sleep 0.1; printf 'second %s\\n' $b",
        dir = dir.path_str()
    )
}

#[test]
fn concurrency_runs_commands_at_once_and_keeps_each_output_whole() {
    let queue = TestQueue::declare("jobs-concurrency");
    publish_bodies(
        queue.name(),
        &[b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8"],
    );
    let dir = TempDir::new("dir");
    // -p 1 is raised to 4: otherwise the broker would send one message at a time.
    let out = consume(queue.name())
        .count(8)
        .args(["-p", "1", "--concurrency", "4"])
        .sh(&barrier_command(&dir, 4))
        .run();
    out.assert_ok();
    assert_eq!(out.stderr, "");
    let text = out.stdout_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 16, "{text}");
    // Each command's two lines are together, never split by another command's.
    for pair in lines.chunks(2) {
        let first = pair[0].strip_prefix("first ").expect("a first line");
        assert_eq!(pair[1], format!("second {first}"), "{text}");
    }
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn sigterm_waits_for_every_running_command() {
    let queue = TestQueue::declare("jobs-concurrency-term");
    publish_bodies(queue.name(), &[b"1", b"2", b"3"]);
    let started = TempDir::new("dir");
    let done = TempFile::new(b"");
    let script = format!(
        "b=$(cat); touch {}/$b; sleep 2; echo $b >> {}",
        started.path_str(),
        done.path_str()
    );
    let consumer = consume(queue.name())
        .args(["--concurrency", "3"])
        .sh(&script)
        .spawn();
    wait_until("three commands running", || {
        (started.entries() == 3).then_some(())
    });
    consumer.signal(libc::SIGTERM);
    let out = consumer.wait();
    assert_eq!(out.code, 143, "{out:?}");
    assert_eq!(log_lines(&done).len(), 3, "{out:?}");
    // Every command finished and was acked.
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn idle_timeout_waits_for_the_running_commands() {
    let queue = queue_with("jobs-concurrency-idle", b"slow");
    let out = consume(queue.name())
        .args(["--concurrency", "2", "--idle-timeout", "0.5"])
        .sh("sleep 2; cat")
        .run();
    out.assert_printed("slow");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn concurrency_counts_completions_and_stops_at_count() {
    let queue = TestQueue::declare("jobs-concurrency-count");
    publish_bodies(queue.name(), &[b"1", b"2", b"3", b"4", b"5"]);
    let out = consume(queue.name())
        .count(3)
        .args(["--concurrency", "2", "cat"])
        .run();
    out.assert_ok();
    assert_eq!(out.stdout_text().len(), 3, "{out:?}");
    wait_for_message_count(queue.name(), 2);
}
