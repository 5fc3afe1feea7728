//! amqp-get against the private broker: body on stdout, empty queue, missing queue, a closed
//! output pipe (RELIABILITY.md 12).

mod common;

use common::*;

#[test]
fn writes_the_body_exactly_and_removes_the_message() {
    let queue = TestQueue::declare("get-binary");
    let body = binary_body();
    publish(queue.name(), &body);
    let out = amqp(GET, &["-q", queue.name()]);
    out.assert_ok();
    assert_eq!(out.stdout, body, "no byte may change, no newline added");
    assert_eq!(out.stderr, "", "{out:?}");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn text_body_gets_no_newline_added() {
    let queue = queue_with("get-text", b"hello");
    let out = amqp(GET, &["--queue", queue.name()]);
    out.assert_printed(b"hello");
}

#[test]
fn takes_one_message_at_a_time_in_order() {
    let queue = TestQueue::declare("get-order");
    publish_bodies(queue.name(), &[b"one", b"two", b"three"]);
    let queue_option = format!("--queue={}", queue.name());
    for (expected, left) in [(&b"one"[..], 2), (b"two", 1), (b"three", 0)] {
        let out = amqp(GET, &[&queue_option]);
        out.assert_printed(expected);
        assert_eq!(queue_message_count(queue.name()), left);
    }
}

#[test]
fn empty_message_gives_empty_output_and_exit_0() {
    let queue = queue_with("get-emptybody", b"");
    let out = amqp(GET, &["-q", queue.name()]);
    out.assert_ok().assert_no_stdout();
    assert_eq!(out.stderr, "", "{out:?}");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn empty_queue_exits_2_silently() {
    let queue = TestQueue::declare("get-empty");
    let out = amqp(GET, &["-q", queue.name()]);
    assert_eq!(out.code, 2, "{out:?}");
    out.assert_no_stdout();
    assert_eq!(out.stderr, "", "{out:?}");
}

#[test]
fn missing_queue_is_the_servers_404() {
    let queue = unique_name("get-missing");
    let out = amqp(GET, &["-q", &queue]);
    out.assert_only_error(
        1,
        &format!(
            "basic.get: server channel error 404, message: NOT_FOUND - no queue '{queue}' in vhost '/'"
        ),
    );
}

#[test]
fn missing_queue_option_is_an_error() {
    assert_refused(GET, &[], "queue not specified");
}

#[test]
fn reconnect_with_ack_mode_requeue_is_refused() {
    // A lost connection returns every message a peek holds: they would be written twice.
    let out = amqp(
        GET,
        &["--reconnect", "3", "--ack-mode", "requeue", "-q", "q"],
    );
    out.assert_only_error(
        1,
        "--reconnect cannot be used with --ack-mode requeue (a lost connection returns every message held, and they would be written twice)",
    );
}

#[test]
fn large_body_is_written_whole() {
    let queue = TestQueue::declare("get-large");
    let body: Vec<u8> = (0..3 * 1024 * 1024 + 7).map(|i| (i % 251) as u8).collect();
    publish(queue.name(), &body);
    let out = amqp(GET, &["-q", queue.name()]);
    out.assert_ok();
    assert_eq!(out.stdout.len(), body.len());
    assert!(out.stdout == body, "large body differs");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn closed_stdout_leaves_the_message_on_the_queue() {
    // The message is acked only after it was written: with stdout a pipe nobody reads, the
    // write fails (EPIPE or SIGPIPE), the tool fails, and the message goes back to the queue.
    let queue = TestQueue::declare("get-epipe");
    let body = vec![b'x'; 1024 * 1024];
    publish(queue.name(), &body);
    let script = r#"{ "$0" --url "$1" -q "$2"; echo "status $?" >&2; } | true"#;
    let get = bin(GET);
    let url = broker_url();
    let out = run_sh(
        script,
        [get.as_os_str(), url.as_ref(), queue.name().as_ref()],
    );
    let status = out
        .stderr_lines()
        .iter()
        .find_map(|l| l.strip_prefix("status "))
        .map(|s| s.to_string())
        .unwrap_or_else(|| panic!("no status from sh: {out:?}"));
    assert_ne!(
        status, "0",
        "amqp-get must fail on a closed stdout: {out:?}"
    );
    wait_until("the unacked message to return", || {
        (queue_message_count(queue.name()) == 1).then_some(())
    });
    let message = get_message(queue.name()).expect("message back on the queue");
    assert_eq!(message.body, body);
    assert!(message.redelivered);
}

// ---------------------------------------------------------------------------------------------
// Closed pipes (RELIABILITY.md, 12)

#[test]
fn get_into_a_closed_pipe_ends_quietly_and_keeps_the_message() {
    let queue = TestQueue::declare("rel-get-pipe");
    let big = vec![b'y'; 2 * 1024 * 1024];
    publish(queue.name(), &big);
    let (status, stderr) = into_head(GET, &["-q", queue.name()]);
    assert_eq!(status, "141", "stderr: {stderr}");
    assert_eq!(stderr, "");
    wait_for_message_count(queue.name(), 1);
    let message = get_message(queue.name()).expect("message kept");
    assert_eq!(message.body, big);
}
