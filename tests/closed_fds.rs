//! Standard input or output closed by the caller (`>&-`, `<&-`): Rust's runtime reopens them
//! as /dev/null, which must not turn into acked messages whose bodies went nowhere or an empty
//! message published from nothing (`src/std_fds.rs`).

mod common;

use common::*;

/// Runs `tool args` through `sh -c` with `redirect` (e.g. `>&-`) applied to it.
fn run_redirected(tool: &str, args: &[&str], redirect: &str) -> Output {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "exec '{}' -u '{}' {} {redirect}",
        bin(tool).display(),
        broker_url(),
        quoted.join(" ")
    );
    run_sh(&script, ["sh"])
}

/// Runs `tool args` with standard output closed and asserts that it fails saying so.
#[track_caller]
fn assert_fails_writing_to_closed_stdout(tool: &str, args: &[&str]) {
    run_redirected(tool, args, ">&-").assert_error(
        1,
        "writing to standard output: bad file descriptor (standard output is closed)",
    );
}

#[test]
fn get_with_standard_output_closed_fails_and_keeps_the_messages() {
    let queue = TestQueue::declare("fd-get");
    publish_bodies(queue.name(), &[b"1", b"2", b"3"]);
    for args in [
        vec!["-q", queue.name()],
        vec!["-q", queue.name(), "--count", "2"],
    ] {
        assert_fails_writing_to_closed_stdout("amqp-get", &args);
    }
    assert_eq!(queue_message_count(queue.name()), 3);
}

#[test]
fn consume_json_with_standard_output_closed_fails_and_keeps_the_messages() {
    let queue = TestQueue::declare("fd-consume-json");
    publish_bodies(queue.name(), &[b"1", b"2"]);
    assert_fails_writing_to_closed_stdout(
        "amqp-consume",
        &["-q", queue.name(), "-c", "2", "--json"],
    );
    assert_eq!(queue_message_count(queue.name()), 2);
}

#[test]
fn a_consume_command_gets_the_closed_standard_output_and_its_message_is_kept() {
    let queue = TestQueue::declare("fd-consume-cmd");
    publish_bodies(queue.name(), &[b"1"]);
    // cat cannot write to a closed descriptor: it fails, and the message is not acked.
    let out = run_redirected(
        "amqp-consume",
        &["-q", queue.name(), "-c", "1", "cat"],
        ">&-",
    );
    assert_eq!(out.code, 1, "{out:?}");
    wait_for_message_count(queue.name(), 1);
}

#[test]
fn publish_with_standard_input_closed_fails_and_publishes_nothing() {
    let queue = TestQueue::declare("fd-publish");
    for args in [
        vec!["-r", queue.name()],
        vec!["-r", queue.name(), "-l"],
        vec!["--json", "-r", queue.name()],
    ] {
        let out = run_redirected("amqp-publish", &args, "<&-");
        out.assert_error(
            1,
            "reading standard input: bad file descriptor (standard input is closed)",
        );
    }
    // -b needs no standard input.
    run_redirected("amqp-publish", &["-r", queue.name(), "-b", "x"], "<&-").assert_ok();
    assert_eq!(queue_message_count(queue.name()), 1);
}
