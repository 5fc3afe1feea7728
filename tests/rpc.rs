//! Request/reply against the private broker: `amqp-consume --reply` as the server,
//! `amqp-publish --rpc` as the client (RabbitMQ direct reply-to), and the two together as an
//! echo server.

mod common;

use common::*;
use lapin::Channel;
use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, types::ShortString};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Sends the request `x` to `queue` and asserts that the client gave up after `seconds` with
/// no reply: exit 1, the one request unanswered, nothing on standard output.
#[track_caller]
fn assert_no_reply(queue: &TestQueue, seconds: u32) {
    rpc(queue.name())
        .body("x")
        .reply_timeout(seconds)
        .run()
        .assert_error(
            1,
            &format!(
                "waiting for the reply: no reply within {seconds} s (0 of 1 request answered)"
            ),
        )
        .assert_no_stdout();
}

#[test]
fn echo_returns_all_256_byte_values() {
    let queue = TestQueue::declare("rpc-bytes");
    let server = echo_server(queue.name(), &[]);
    let body = binary_body();
    let out = amqp_stdin(PUBLISH, &["-r", queue.name(), "--rpc"], &body);
    out.assert_ok_quietly();
    assert!(
        out.stdout == body,
        "reply differs from the request: {out:?}"
    );
    stop(server);
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn echo_returns_a_1_mib_body() {
    let queue = TestQueue::declare("rpc-large");
    let server = echo_server(queue.name(), &[]);
    let body: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let out = amqp_stdin(PUBLISH, &["-r", queue.name(), "--rpc"], &body);
    out.assert_ok();
    assert_eq!(out.stdout.len(), body.len());
    assert!(out.stdout == body, "reply differs from the request");
    stop(server);
}

#[test]
fn body_option_request_gets_its_reply_on_stdout() {
    let queue = TestQueue::declare("rpc-body");
    let server = reply_server(queue.name(), &[], &["tr", "a-z", "A-Z"]);
    let out = amqp(PUBLISH, &["-r", queue.name(), "--rpc", "-b", "hello"]);
    out.assert_printed(b"HELLO");
    stop(server);
}

#[test]
fn line_mode_writes_replies_in_request_order() {
    // Two servers taking one request at a time; one of them sleeps on "slow" requests, so
    // replies arrive out of order.
    let queue = TestQueue::declare("rpc-order");
    let script = r#"body=$(cat); case $body in slow*) sleep 1;; esac; printf '%s\n' "$body""#;
    let servers: Vec<Running> = (0..2)
        .map(|_| {
            consume(queue.name())
                .args(["-p", "1", "--reply"])
                .sh(script)
                .spawn()
        })
        .collect();
    wait_until("two consumers", || {
        (queue_consumer_count(queue.name()) == 2).then_some(())
    });
    let input = "slow 1\n2\n3\nslow 4\n5\n6\n7\nslow 8\n9\n10\n";
    let out = rpc(queue.name()).arg("-l").stdin(input.as_bytes()).run();
    out.assert_printed(input);
    assert_eq!(out.stderr, "", "{out:?}");
    for server in servers {
        stop(server);
    }
}

#[test]
fn line_mode_ends_each_reply_with_one_newline() {
    let queue = TestQueue::declare("rpc-lines");
    // The server strips the newline: the client writes one line per reply all the same.
    let server = reply_server(queue.name(), &[], &["tr", "-d", "\\n"]);
    let out = rpc(queue.name()).arg("-l").stdin(b"one\ntwo\nthree").run();
    out.assert_printed("one\ntwo\nthree\n");
    stop(server);
}

/// On a fresh queue, a `--reply` server for one delivery with the options `extra` running the
/// shell `script`; asserts that a request to it got no reply within `seconds`, and returns the
/// queue and what the server printed.
#[track_caller]
fn unanswered_request(
    prefix: &str,
    extra: &[&str],
    script: &str,
    seconds: u32,
) -> (TestQueue, Output) {
    let queue = TestQueue::declare(prefix);
    let server = consume_one(&queue)
        .arg("--reply")
        .args(extra.iter().copied())
        .sh(script)
        .spawn_consuming(queue.name());
    assert_no_reply(&queue, seconds);
    (queue, server.wait())
}

#[test]
fn a_failing_server_sends_no_reply_and_keeps_the_request() {
    let (queue, out) =
        unanswered_request("rpc-fail", &[], "cat >/dev/null; echo partial; exit 3", 2);
    out.assert_one_delivery_failed("warning: delivery 1: command exited with status 3; not acknowledged (redelivered after the consumer closes)");
    assert!(out.stdout.is_empty(), "the output went elsewhere: {out:?}");
    wait_for_message_count(queue.name(), 1);
}

#[test]
fn a_failing_server_with_on_failure_reject_drops_the_request() {
    let queue = TestQueue::declare("rpc-reject");
    let server = consume_one(&queue)
        .args(["--on-failure", "reject", "--reply", "false"])
        .spawn_consuming(queue.name());
    let client = rpc(queue.name()).body("x").reply_timeout(1).run();
    client.assert_error_starts(1, "waiting for the reply: no reply within 1 s");
    let out = server.wait();
    out.assert_error_starts(
        1,
        "warning: delivery 1: command exited with status 1; rejected",
    );
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn no_server_and_no_queue_fails_at_once_with_no_route() {
    let queue = TestQueue::named("rpc-nobody");
    // The reply timeout is far longer than a test run may take: the failure must come from the
    // return of the mandatory request.
    let out = rpc(queue.name()).body("x").reply_timeout(600).run();
    out.assert_only_error(
        1,
        &format!(
            "basic.return: 312 NO_ROUTE: message to exchange '' with routing key '{}' was returned (1 of 1 message not confirmed)",
            queue.name()
        ),
    );
}

#[test]
fn a_queue_without_consumer_fails_after_the_reply_timeout() {
    let queue = TestQueue::declare("rpc-noconsumer");
    assert_no_reply(&queue, 1);
    let request = get_message(queue.name()).expect("the request is on the queue");
    assert_eq!(request.body, b"x");
    // The broker rewrites the pseudo-queue's name into this channel's reply address.
    let reply_to = request.reply_to.unwrap_or_default();
    assert!(
        reply_to.starts_with("amq.rabbitmq.reply-to."),
        "reply-to {reply_to:?}"
    );
}

/// `amqp-rpc -l` with a reply timeout of 2 s, writing `stdin`, to a server on a fresh queue that
/// replies with `sh -c SCRIPT` and rejects the requests it fails: the rpc fails with `error`
/// after writing `stdout`; the server stops on SIGTERM (status 143).
fn assert_line_mode_timeout(prefix: &str, script: &str, stdin: &[u8], error: &str, stdout: &[u8]) {
    let queue = TestQueue::declare(prefix);
    let queue = queue.name();
    let server = consume(queue)
        .args(["--on-failure", "reject", "--reply"])
        .sh(script)
        .spawn_consuming(queue);
    let out = rpc(queue).arg("-l").reply_timeout(2).stdin(stdin).run();
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait().code, 143);
    out.assert_error(1, error);
    assert_eq!(out.stdout, stdout);
}

#[test]
fn line_mode_timeout_says_how_many_requests_were_answered() {
    // A server that answers the first request and fails the others.
    // The command writes nothing: the one reply is an empty line.
    assert_line_mode_timeout(
        "rpc-partial",
        r#"test "$(cat)" = first"#,
        b"first\nsecond\nthird\n",
        "waiting for the reply: no reply within 2 s (1 of 3 requests answered)",
        b"\n",
    );
}

#[test]
fn line_mode_timeout_writes_the_replies_that_came_and_names_the_missing_request() {
    // A server that fails only "bad": the replies to the later requests came and must not be
    // lost behind the unanswered one.
    assert_line_mode_timeout(
        "rpc-gap",
        r#"x=$(cat); test "$x" != bad && echo "r$x""#,
        b"a\nbad\nb\nc\n",
        "waiting for the reply: no reply within 2 s (3 of 4 requests answered; none to request 2, left out of the output)",
        b"ra\nrb\nrc\n",
    );
}

#[test]
fn two_servers_on_one_queue_answer_each_request_once() {
    let queue = TestQueue::declare("rpc-two");
    let tallies = [TempFile::new(b""), TempFile::new(b"")];
    let servers: Vec<Running> = tallies
        .iter()
        .map(|tally| {
            let script = format!("cat; echo >> '{}'", tally.path_str());
            consume(queue.name())
                .args(["-p", "1", "--reply"])
                .sh(&script)
                .spawn()
        })
        .collect();
    wait_until("two consumers", || {
        (queue_consumer_count(queue.name()) == 2).then_some(())
    });
    let input: String = (1..=40).map(|i| format!("request {i}\n")).collect();
    let out = rpc(queue.name()).arg("-l").stdin(input.as_bytes()).run();
    out.assert_printed(input);
    assert_eq!(out.stderr, "", "a reply came twice: {out:?}");
    for server in servers {
        stop(server);
    }
    let handled: usize = tallies
        .iter()
        .map(|t| std::fs::read(t.path()).unwrap().len())
        .sum();
    assert_eq!(handled, 40, "each request is handled exactly once");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn sigterm_lets_the_running_request_finish_and_answers_it() {
    let queue = TestQueue::declare("rpc-term");
    let mut server = consume(queue.name())
        .arg("--reply")
        .sh("echo started >&2; sleep 1; cat")
        .spawn_consuming(queue.name());
    let client = amqp_spawn(PUBLISH, &["-r", queue.name(), "--rpc", "-b", "answer me"]);
    server.wait_for_stderr_line("started");
    server.signal(libc::SIGTERM);
    assert_consumed(client, b"answer me");
    let served = server.wait();
    assert_eq!(served.code, 143, "{served:?}");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn sigterm_killing_the_request_delivers_it_again_to_the_next_server() {
    let queue = TestQueue::declare("rpc-again");
    // The first server and its command in a process group of their own, which gets SIGTERM
    // (as from a terminal or a service manager): the command dies mid-request.
    let url = broker_url();
    let mut command = Command::new(bin(CONSUME));
    command
        .args([
            "--url",
            &url,
            "-q",
            queue.name(),
            "--reply",
            "--",
            "sh",
            "-c",
        ])
        .arg("echo started >&2; sleep 60; cat")
        .env_remove("AMQP_URL")
        .process_group(0);
    let mut first = spawn_command(command, None);
    wait_for_consumer(queue.name());
    let client = rpc(queue.name()).body("do it").reply_timeout(25).spawn();
    first.wait_for_stderr_line("started");
    let group = i32::try_from(first.pid()).expect("pid");
    // SAFETY: kill(2) on the process group of a child we started and have not reaped.
    assert_eq!(unsafe { libc::kill(-group, libc::SIGTERM) }, 0);
    let stopped = first.wait();
    assert_eq!(stopped.code, 143, "{stopped:?}");
    assert!(
        stopped
            .stderr
            .contains("killed by signal 15; not acknowledged"),
        "{stopped:?}"
    );
    let second = echo_server(queue.name(), &[]);
    assert_consumed(client, b"do it");
    stop(second);
}

#[test]
fn a_request_without_reply_to_is_a_failed_delivery() {
    let queue = queue_with("rpc-noreplyto", b"fire and forget");
    let out = consume_one(&queue).arg("--reply").sh("echo ran").run();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.first_stderr_line(),
        "warning: delivery 1: no reply-to property, so nowhere to send a reply; the command was not run; not acknowledged (redelivered after the consumer closes)"
    );
    out.assert_no_stdout();
    wait_for_message_count(queue.name(), 1);
}

#[test]
fn reply_to_a_named_queue_carries_the_correlation_id() {
    let requests = TestQueue::declare("rpc-requests");
    let replies = TestQueue::declare("rpc-replies");
    let out = publish_cli(requests.name())
        .opt("--reply-to", replies.name())
        .args(["--correlation-id", "req-42", "-C", "text/plain"])
        .body("ping")
        .run();
    out.assert_ok();
    let out = consume_one(&requests)
        .args(["--reply", "--", "sed", "s/i/o/"])
        .run();
    out.assert_ok().assert_no_stdout();
    assert_eq!(queue_message_count(requests.name()), 0);
    let name = replies.name().to_string();
    let (body, correlation_id, content_type) = with_channel(async move |channel: &Channel| {
        let message = channel
            .basic_get(name.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
            .expect("a reply");
        let p = &message.delivery.properties;
        (
            message.delivery.data.clone(),
            p.correlation_id().as_ref().map(|s| s.to_string()),
            p.content_type().as_ref().map(|s| s.to_string()),
        )
    });
    assert_eq!(body, b"pong");
    assert_eq!(correlation_id.as_deref(), Some("req-42"));
    assert_eq!(content_type, None);
}

#[test]
fn a_reply_to_a_deleted_queue_is_a_warning_and_the_request_is_acked() {
    let requests = TestQueue::declare("rpc-gone");
    let gone = unique_name("rpc-gone-replies");
    publish_messages(
        "",
        requests.name(),
        &[b"late"],
        BasicProperties::default().with_reply_to(ShortString::from(gone.clone())),
    );
    let out = consume_one(&requests).args(["--reply", "cat"]).run();
    out.assert_ok();
    assert_eq!(
        out.first_stderr_line(),
        format!(
            "warning: delivery 1: the reply to '{gone}' was returned (312 NO_ROUTE): nobody awaits it; the request is acknowledged"
        )
    );
    assert_eq!(queue_message_count(requests.name()), 0);
}

#[test]
fn rpc_options_conflict_with_a_reply_address_of_ones_own() {
    let out = rpc("q").args(["--reply-to", "mine"]).body("x").run();
    out.assert_error_starts(1, "the argument '--rpc' cannot be used with");
    let out = amqp(PUBLISH, &["-r", "q", "--reply-timeout", "3", "-b", "x"]);
    out.assert_error(1, "--reply-timeout: only with --rpc");
    let out = rpc("q").reply_timeout(0).body("x").run();
    out.assert_error(1, "0: not a positive number of seconds");
}

#[test]
fn a_second_reply_to_one_request_is_ignored_with_a_warning() {
    // The test is the server: it answers the first request twice (as a server killed between
    // its reply and its ack would, once the request is delivered again), then the second.
    let queue = TestQueue::declare("rpc-twice");
    let client = rpc(queue.name())
        .arg("-l")
        .stdin(b"first\nsecond\n")
        .spawn();
    wait_for_message_count(queue.name(), 2);
    let name = queue.name().to_string();
    let duplicate_id = with_channel(async move |channel: &Channel| {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirm.select");
        let mut requests = Vec::new();
        for _ in 0..2 {
            let message = channel
                .basic_get(name.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .expect("basic.get")
                .expect("a request");
            requests.push(message.delivery);
        }
        let answers = [&requests[0], &requests[0], &requests[1]];
        for request in answers {
            let p = &request.properties;
            let reply_to = p.reply_to().clone().expect("reply-to");
            let correlation_id = p.correlation_id().clone().expect("correlation id");
            let confirm = channel
                .basic_publish(
                    "".into(),
                    reply_to,
                    BasicPublishOptions::default(),
                    &request.data,
                    BasicProperties::default().with_correlation_id(correlation_id),
                )
                .await
                .expect("basic.publish");
            confirm.await.expect("confirm");
        }
        requests[0]
            .properties
            .correlation_id()
            .as_ref()
            .map(|id| id.to_string())
            .unwrap_or_default()
    });
    let out = client.wait();
    out.assert_printed("first\nsecond\n");
    assert_eq!(
        out.stderr_lines(),
        [format!(
            "warning: ignored a reply with correlation id '{duplicate_id}' that answers no request awaiting one"
        )],
        "{out:?}"
    );
}

#[test]
fn line_mode_writes_each_reply_while_standard_input_is_idle() {
    use std::io::{Read, Write};
    let queue = TestQueue::declare("rpc-idle");
    let server = echo_server(queue.name(), &[]);
    let url = broker_url();
    let mut client = Command::new(bin(PUBLISH))
        .args(["--url", &url, "-r", queue.name(), "--rpc", "-l"])
        .env_remove("AMQP_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starting amqp-publish");
    let mut stdin = client.stdin.take().expect("stdin");
    let mut stdout = client.stdout.take().expect("stdout");
    let (sender, replies) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 256];
        while let Ok(n @ 1..) = stdout.read(&mut buffer) {
            if sender.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    stdin.write_all(b"first\n").expect("writing a request");
    // Standard input stays open: the reply must come all the same.
    let reply = replies.recv_timeout(SETTLE);
    if reply.is_err() {
        let _ = client.kill();
    }
    assert_eq!(reply.expect("a reply while stdin is idle"), b"first\n");
    stdin.write_all(b"second\n").expect("writing a request");
    drop(stdin);
    let status = wait_until("amqp-publish to exit", || {
        client.try_wait().expect("try_wait")
    });
    assert!(status.success(), "{status:?}");
    let rest: Vec<u8> = replies.iter().flatten().collect();
    assert_eq!(rest, b"second\n");
    stop(server);
}

#[test]
fn a_refused_request_fails_at_once() {
    // A full queue with reject-publish nacks the request; the reply timeout is far longer than
    // a test run may take.
    let queue = declare_reject_publish("rpc-refused", 1);
    publish(queue.name(), b"fills the queue");
    let out = rpc(queue.name()).body("x").reply_timeout(600).run();
    out.assert_only_error(
        1,
        "basic.nack: the server refused a message (1 of 1 message not confirmed)",
    );
}

#[test]
fn reply_with_concurrency_answers_every_request() {
    // The first two commands wait (at most 20 s) until both run: they answer only when run at
    // the same time. Each writes a line on stderr, written whole when it ends.
    let queue = TestQueue::declare("rpc-concurrency");
    let dir = TempDir::new("rpc-dir");
    let script = format!(
        "b=$(cat); touch {dir}/$b; i=0; \
         while [ $(ls {dir} | wc -l) -lt 2 ]; do \
           i=$((i+1)); [ $i -lt 200 ] || exit 1; sleep 0.1; \
         done; \
         echo \"note $b\" >&2; printf 'reply %s' \"$b\"",
        dir = dir.path_str()
    );
    let server = consume(queue.name())
        .count(4)
        .args(["--reply", "--concurrency", "2"])
        .sh(&script)
        .spawn_consuming(queue.name());
    let out = rpc(queue.name()).arg("-l").stdin(b"1\n2\n3\n4\n").run();
    out.assert_printed("reply 1\nreply 2\nreply 3\nreply 4\n");
    let server = server.wait();
    server.assert_ok();
    assert!(server.stdout.is_empty(), "{server:?}");
    let mut notes = server.stderr_lines();
    notes.sort();
    assert_eq!(
        notes,
        ["note 1", "note 2", "note 3", "note 4"],
        "{server:?}"
    );
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn reply_with_command_timeout_sends_no_reply_for_a_killed_command() {
    let (queue, out) = unanswered_request(
        "rpc-cmd-timeout",
        &["--command-timeout", "1", "--on-failure", "reject"],
        "cat; sleep 60",
        3,
    );
    out.assert_one_delivery_failed("warning: delivery 1: command timed out after 1 s; rejected");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn reply_with_retry_delay_answers_from_the_retry() {
    // The first attempt fails (and removes the marker file); the retry answers.
    let marker = TempFile::new(b"");
    let script = format!(
        "if [ -e {m} ]; then rm {m}; exit 1; fi; cat",
        m = marker.path_str()
    );
    let queue = TestQueue::declare("rpc-retry");
    let server = consume(queue.name())
        .count(2)
        .args(["--reply", "--on-failure", "requeue", "--retry-delay", "0.5"])
        .sh(&script)
        .spawn_consuming(queue.name());
    let client = amqp(PUBLISH, &["-r", queue.name(), "--rpc", "-b", "hello"]);
    client.assert_printed(b"hello");
    let out = server.wait();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr_lines(),
        [
            "warning: delivery 1: command exited with status 1; requeued in 0.5 s",
            "1 of 2 deliveries failed: their commands did not exit 0",
        ],
        "{out:?}"
    );
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn reply_with_on_exit_ack_acks_a_failed_command_without_a_reply() {
    let (queue, out) = unanswered_request("rpc-on-exit", &["--on-exit", "3=ack"], "cat; exit 3", 2);
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(queue_message_count(queue.name()), 0, "{out:?}");
}

#[test]
fn a_request_without_reply_to_follows_the_on_exit_wildcard() {
    let queue = queue_with("rpc-noreplyto-reject", b"fire and forget");
    let out = consume_one(&queue)
        .args(["--reply", "--on-exit", "*=reject"])
        .sh("echo ran")
        .run();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.first_stderr_line(),
        "warning: delivery 1: no reply-to property, so nowhere to send a reply; the command was not run; rejected"
    );
    out.assert_no_stdout();
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn line_mode_rate_spaces_requests_and_answers_each() {
    let queue = TestQueue::declare("rpc-rate");
    let server = echo_server(queue.name(), &[]);
    let out = rpc(queue.name())
        .args(["-l", "--rate", "20"])
        .stdin(b"a\nb\nc\nd\n")
        .run();
    out.assert_printed("a\nb\nc\nd\n");
    assert_eq!(out.stderr, "", "{out:?}");
    stop(server);
}

// ---------------------------------------------------------------------------------------------
// Request and reply by hand: --reply-to and --correlation-id

#[test]
fn rpc_round_trip_with_reply_to_and_correlation_id() {
    let requests = TestQueue::declare("rpc-req");
    let replies = TestQueue::declare("rpc-rep");
    publish_cli(requests.name())
        .arg("-t")
        .arg(replies.name())
        .args(["--correlation-id", "job-17"])
        .body("ping")
        .run()
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
