//! `connection.blocked`: RabbitMQ's memory alarm stops the node reading from publishers. The
//! alarm disturbs every client of the node, so this binary holds a single test (cargo runs test
//! binaries one after another) and always clears the alarm, even when the test fails.

mod common;

use common::*;

/// Sets the node's memory alarm; clears it when dropped.
struct MemoryAlarm;

impl MemoryAlarm {
    fn set() -> Self {
        ctl(&[
            "eval",
            "rabbit_alarm:set_alarm({{resource_limit, memory, node()}, []}).",
        ]);
        MemoryAlarm
    }
}

impl Drop for MemoryAlarm {
    fn drop(&mut self) {
        ctl(&[
            "eval",
            "rabbit_alarm:clear_alarm({resource_limit, memory, node()}).",
        ]);
    }
}

#[test]
fn a_blocked_connection_is_reported_and_the_publish_waits_until_unblocked() {
    let queue = TestQueue::declare("blocked");
    let alarm = MemoryAlarm::set();
    let mut publisher = amqp_spawn(PUBLISH, &["-r", queue.name(), "-b", "patient"]);
    let line = publisher.wait_for_stderr_line("warning: connection.blocked: ");
    assert_eq!(
        line,
        "warning: connection.blocked: low on memory (the server stopped reading from this connection; waiting until it unblocks it)"
    );
    assert!(
        publisher.is_running(),
        "a blocked connection is not a failure"
    );
    drop(alarm);
    let out = publisher.wait();
    out.assert_ok();
    assert_eq!(
        out.stderr_lines(),
        vec![
            line.as_str(),
            "warning: connection.unblocked: the server reads from this connection again"
        ]
    );
    assert_eq!(drain_queue(queue.name()).len(), 1, "nothing lost");
}
