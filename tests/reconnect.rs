//! `--reconnect` (issue 14): `amqp-publish`, `amqp-consume` and `amqp-get` survive a lost
//! connection.
//!
//! The node is shared with the tests running in parallel, so no test stops it: each test
//! names its tool's connection (`--connection-name`, unique) and closes only that connection
//! with `rabbitmqctl close_connection` (320 CONNECTION_FORCED, what a node shutting down
//! sends), or puts a relay of its own between the tool and the node and takes it away (the
//! node unreachable). RELIABILITY.md lists the guarantees these tests prove.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

const PUBLISH: &str = "amqp-publish";
const CONSUME: &str = "amqp-consume";

/// The broker's connection processes of connections named `name` (`connection_name`).
fn connections_named(name: &str) -> Vec<String> {
    let needle = format!("{{\"connection_name\",\"{name}\"}}");
    ctl(&["-s", "list_connections", "pid", "client_properties"])
        .lines()
        .filter(|line| line.contains(&needle))
        .filter_map(|line| line.split('\t').next())
        .map(|pid| pid.trim().to_string())
        .collect()
}

/// Closes the connection named `name` from the broker's side (320 CONNECTION_FORCED), once it
/// shows in the broker's list.
#[track_caller]
fn force_close(name: &str) {
    let pids = wait_until(&format!("the connection {name}"), || {
        let pids = connections_named(name);
        (!pids.is_empty()).then_some(pids)
    });
    for pid in pids {
        ctl(&["close_connection", &pid, "reconnect test"]);
    }
}

/// Waits until a connection named `name` shows again (the tool reconnected).
#[track_caller]
fn wait_for_connection(name: &str) {
    wait_until(&format!("the connection {name} back"), || {
        (!connections_named(name).is_empty()).then_some(())
    });
}

/// The number N of every `publishing N unconfirmed message(s) again` warning, summed.
fn announced_resends(stderr: &str) -> usize {
    stderr
        .lines()
        .filter_map(|line| line.split("; publishing ").nth(1))
        .filter_map(|rest| rest.split(' ').next())
        .filter_map(|n| n.parse::<usize>().ok())
        .sum()
}

/// The lines of stderr that are not warnings.
fn failure_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| !line.starts_with("warning: "))
        .collect()
}

/// How many times each body is on `queue` (the queue is drained).
fn bodies_on(queue: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for message in drain_queue(queue) {
        *counts
            .entry(String::from_utf8_lossy(&message.body).into_owned())
            .or_insert(0) += 1;
    }
    counts
}

#[test]
fn line_mode_survives_forced_closes_with_every_line_on_the_queue() {
    let queue = TestQueue::declare("rc-lines");
    let name = unique_name("rc-lines-conn");
    let mut publisher = Fed::start(
        PUBLISH,
        &[
            "--connection-name",
            &name,
            "--reconnect",
            "5",
            "--reconnect-delay",
            "0.2",
            "-r",
            queue.name(),
            "-l",
        ],
    );
    let total = 3000;
    let mut next = 0;
    let mut feed = |publisher: &mut Fed, until: usize| {
        while next < until {
            let chunk: String = (next..until.min(next + 50))
                .map(|i| format!("line {i}\n"))
                .collect();
            next = until.min(next + 50);
            assert!(publisher.write(chunk.as_bytes()), "writing to the tool");
            thread::sleep(Duration::from_millis(5));
        }
    };
    feed(&mut publisher, 1000);
    force_close(&name);
    feed(&mut publisher, 2000);
    wait_for_connection(&name);
    force_close(&name);
    feed(&mut publisher, total);
    let out = publisher.finish();
    out.assert_ok();
    assert!(failure_lines(&out.stderr).is_empty(), "{out:?}");
    let lost_warnings = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: connection to ") && l.contains(" lost ("))
        .count();
    assert!(lost_warnings >= 1, "no reconnect happened: {out:?}");
    let resent = announced_resends(&out.stderr);
    let counts = bodies_on(queue.name());
    let missing: Vec<usize> = (0..total)
        // -l keeps each line's newline in the body, as the original.
        .filter(|i| !counts.contains_key(&format!("line {i}\n")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} lost lines, the first {:?}: {out:?}",
        missing.len(),
        missing.first()
    );
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    assert_eq!(counts.len(), total, "unexpected bodies: {out:?}");
    assert!(
        duplicates <= resent,
        "{duplicates} duplicates, but only {resent} messages were announced as sent again: {out:?}"
    );
    eprintln!(
        "reconnect: {lost_warnings} losses, {resent} messages sent again, {duplicates} duplicates, 0 lost"
    );
}

#[test]
fn a_consumer_with_count_finishes_every_message_across_a_forced_close() {
    let queue = TestQueue::declare("rc-consume");
    let name = unique_name("rc-consume-conn");
    let log = TempFile::new(b"");
    let bodies: Vec<String> = (0..20).map(|i| format!("job {i}")).collect();
    let consumer = reconnecting_consumer(
        &name,
        queue.name(),
        &bodies,
        &["-c", "20"],
        &format!(
            r#"body=$(cat); printf '%s\n' "$body" >> "$1"; sleep 0.3; {}"#,
            wait_after_three(&log)
        ),
        &log,
    );
    // Closed while a command runs: its ack cannot be sent.
    let out = close_while_commands_run(&name, &log, consumer);
    let mut processed = file_lines(log.path_str());
    processed.sort();
    processed.dedup();
    let mut expected = bodies.clone();
    expected.sort();
    assert_eq!(processed, expected, "every message processed: {out:?}");
    assert_eq!(queue_message_count(queue.name()), 0, "{out:?}");
}

#[test]
fn no_ack_with_count_still_removes_exactly_count_across_a_forced_close() {
    let queue = TestQueue::declare("rc-no-ack");
    let name = unique_name("rc-no-ack-conn");
    let log = TempFile::new(b"");
    let bodies: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
    let consumer = reconnecting_consumer(
        &name,
        queue.name(),
        &bodies,
        // Two deliveries at a time (acked on receipt): the forced close comes while most of the
        // ten are still to be received, so the consumer must reconnect for them.
        &["-A", "-c", "10", "--prefetch-count", "2"],
        &format!(
            r#"cat >/dev/null; echo x >> "$1"; sleep 0.6; {}"#,
            wait_after_three(&log)
        ),
        &log,
    );
    let out = close_while_commands_run(&name, &log, consumer);
    assert_eq!(queue_message_count(queue.name()), 20, "{out:?}");
}

/// Publishes `bodies` to `queue`, then starts `amqp-consume --reconnect 5 --reconnect-delay 0.2`
/// on a connection named `name` with `options`, running `sh -c SCRIPT sh LOG` per message.
fn reconnecting_consumer(
    name: &str,
    queue: &str,
    bodies: &[String],
    options: &[&str],
    script: &str,
    log: &TempFile,
) -> Running {
    let refs: Vec<&[u8]> = bodies.iter().map(|b| b.as_bytes()).collect();
    publish_bodies(queue, &refs);
    let mut args = vec![
        "--connection-name",
        name,
        "--reconnect",
        "5",
        "--reconnect-delay",
        "0.2",
        "-q",
        queue,
    ];
    args.extend_from_slice(options);
    args.extend_from_slice(&["--", "sh", "-c", script, "sh", log.path_str()]);
    amqp_spawn(CONSUME, &args)
}

/// The end of a command of [`close_while_commands_run`]'s consumers: once `log` has three
/// lines, wait at its gate, which the test opens once it has closed the connection.
fn wait_after_three(log: &TempFile) -> String {
    wait_at_gate(log, r#"[ "$(wc -l < "$1")" -ge 3 ]"#)
}

/// Once the consumer's command has written three lines to `log`, closes connection `name`
/// (the commands wait for it: [`wait_after_three`]), and checks the consumer reconnected and
/// finished with status 0.
fn close_while_commands_run(name: &str, log: &TempFile, consumer: Running) -> Output {
    wait_until("a few commands to run", || {
        (file_lines(log.path_str()).len() >= 3).then_some(())
    });
    force_close(name);
    let gate = open_gate(log);
    let out = consumer.wait();
    drop(gate);
    out.assert_ok();
    assert!(out.stderr.contains("' again"), "no reconnect: {out:?}");
    out
}

/// A TCP relay of the test's own in front of the node, which the test can take away: every
/// connection through it is cut and its port refuses new ones (the node unreachable).
struct Relay {
    port: u16,
    stop: Arc<AtomicBool>,
    sockets: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start() -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind relay");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let sockets = Arc::new(Mutex::new(Vec::new()));
        let (s, all) = (stop.clone(), sockets.clone());
        let target = broker_port();
        thread::spawn(move || {
            // The listener is dropped (its port refuses connections) when the relay stops.
            while !s.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(10));
                    continue;
                };
                client.set_nonblocking(false).expect("blocking");
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let mut kept = all.lock().unwrap();
                kept.push(client.try_clone().expect("clone"));
                kept.push(server.try_clone().expect("clone"));
                forward(
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                forward(server, client);
            }
        });
        Relay {
            port,
            stop,
            sockets,
        }
    }

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}", self.port)
    }

    /// Cuts every connection and stops listening.
    fn take_away(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for socket in self.sockets.lock().unwrap().drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
        // The listener goes at the accept loop's next turn.
        thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.take_away();
    }
}

fn forward(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let mut buffer = [0u8; 64 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

#[test]
fn a_spent_reconnect_budget_is_one_failure_line() {
    let queue = TestQueue::declare("rc-budget");
    let relay = Relay::start();
    let url = relay.url();
    let mut command = Command::new(bin(PUBLISH));
    command
        .args(["--url", url.as_str(), "--reconnect", "2"])
        .args(["--reconnect-delay", "0.1", "-r", queue.name(), "-l"])
        .env_remove("AMQP_URL");
    let (mut publisher, mut stdin) = spawn_command_fed(command);
    stdin.write_all(b"one\ntwo\n").expect("write");
    wait_for_message_count(queue.name(), 2);
    relay.take_away();
    let _ = stdin.write_all(b"three\n");
    let line = publisher.wait_for_stderr_line("basic.publish: ");
    drop(stdin);
    let out = publisher.wait();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(failure_lines(&out.stderr), [line.as_str()], "{out:?}");
    assert!(
        line.contains("gave up after 2 reconnect attempts, the last: opening socket to 127.0.0.1:"),
        "{out:?}"
    );
    assert!(line.contains("connection refused)"), "{out:?}");
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.starts_with("warning: reconnect attempt 1 of 2 failed"))
            .count(),
        1,
        "{out:?}"
    );
}

#[test]
fn a_consumer_gives_up_after_its_reconnect_budget_with_one_line() {
    let queue = TestQueue::declare("rc-budget-consume");
    let relay = Relay::start();
    let url = relay.url();
    let mut consumer = spawn(
        CONSUME,
        [
            "--url",
            url.as_str(),
            "--reconnect",
            "1",
            "-q",
            queue.name(),
            "cat",
        ],
        None,
        &[],
    );
    wait_for_consumer(queue.name());
    relay.take_away();
    let line = consumer.wait_for_stderr_line("consuming from queue");
    let out = consumer.wait();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(failure_lines(&out.stderr), [line.as_str()], "{out:?}");
    // The relay's port may still take one connection and cut it during the handshake before
    // it refuses: either way the one attempt failed.
    assert!(
        line.contains("(gave up after 1 reconnect attempt, the last: opening socket to 127.0.0.1:")
            || line.contains("(gave up after 1 reconnect attempt, the last: logging in to AMQP"),
        "{out:?}"
    );
}

#[test]
fn a_channel_error_is_not_reconnected() {
    let missing = unique_name("rc-no-such-exchange");
    let with = amqp_stdin(
        PUBLISH,
        &["--reconnect", "5", "-e", &missing, "-r", "k", "-l"],
        b"a\nb\n",
    );
    let without = amqp_stdin(PUBLISH, &["-e", &missing, "-r", "k", "-l"], b"a\nb\n");
    assert_eq!(with.code, 1, "{with:?}");
    assert_eq!(with.stderr, without.stderr, "{with:?}");
    assert!(with.stderr.contains("server channel error 404"), "{with:?}");
}

#[test]
fn a_cancelled_consumer_is_not_reconnected() {
    let queue = TestQueue::declare("rc-cancelled");
    let consumer = amqp_spawn(CONSUME, &["--reconnect", "5", "-q", queue.name(), "cat"]);
    wait_for_consumer(queue.name());
    delete_queue(queue.name());
    let out = consumer.wait();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr,
        format!(
            "consuming from queue '{}': the server cancelled the consumer (was the queue deleted?)\n",
            queue.name()
        )
    );
}

/// Declares `queue` with room for one message and `x-overflow=reject-publish` (a publish to it
/// full is nacked), and fills it with the message `first`.
fn fill_a_queue_that_rejects_publishes(queue: &TestQueue) {
    let options = [
        "--arg",
        "x-max-length=1",
        "--arg",
        "x-overflow=reject-publish",
    ];
    amqp(DECLARE, &[&["-q", queue.name()][..], &options].concat()).assert_ok();
    publish(queue.name(), b"first");
}

#[test]
fn a_nacked_message_is_published_again_until_confirmed() {
    // A full queue that refuses publishes (x-overflow=reject-publish) nacks the message; once
    // the queue has room again, the retry is confirmed.
    let queue = TestQueue::named("rc-nack");
    fill_a_queue_that_rejects_publishes(&queue);
    let mut publisher = amqp_spawn(
        PUBLISH,
        &[
            "--retry-nacked",
            "5",
            "--reconnect-delay",
            "1",
            "-r",
            queue.name(),
            "-b",
            "second",
        ],
    );
    publisher.wait_for_stderr_line("warning: 1 message refused by the server (basic.nack)");
    let first = get_message(queue.name()).expect("the first message");
    assert_eq!(first.body, b"first");
    let out = publisher.wait();
    out.assert_ok();
    let second = get_message(queue.name()).expect("the second message, published again");
    assert_eq!(second.body, b"second");
}

#[test]
fn nacks_beyond_retry_nacked_fail_as_before() {
    let queue = TestQueue::named("rc-nack-spent");
    fill_a_queue_that_rejects_publishes(&queue);
    let out = amqp(
        PUBLISH,
        &[
            "--retry-nacked",
            "2",
            "--reconnect-delay",
            "0.1",
            "-r",
            queue.name(),
            "-b",
            "second",
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        failure_lines(&out.stderr),
        ["basic.nack: the server refused a message (1 of 1 message not confirmed)"],
        "{out:?}"
    );
    let retries = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: 1 message refused by the server (basic.nack)"))
        .count();
    assert_eq!(retries, 2, "{out:?}");
}

#[test]
fn a_node_list_retries_nacked_messages_by_default() {
    // With a node list (here the one node twice), --retry-nacked defaults to 5: the message is
    // published again (a second refusal through a new connection) before the nack fails.
    let queue = TestQueue::named("rc-nack-list");
    fill_a_queue_that_rejects_publishes(&queue);
    let list = format!("{0},{0}", broker_url());
    let args = [
        "--url",
        &list,
        "--reconnect-delay",
        "0.05",
        "-r",
        queue.name(),
        "-b",
        "x",
    ];
    let out = run(PUBLISH, args, b"", &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let last = failure_lines(&out.stderr);
    assert_eq!(last.len(), 1, "{out:?}");
    assert!(
        last[0]
            .starts_with("basic.nack: the server refused a message (1 of 1 message not confirmed"),
        "{out:?}"
    );
    let (retries, reconnects) = (
        warning_count(
            &out.stderr,
            "warning: 1 message refused by the server (basic.nack)",
        ),
        warning_count(&out.stderr, "warning: reconnected to "),
    );
    assert!(retries + reconnects >= 5, "{out:?}");
    // Refused again: the connection is left for a new one, and the line says so.
    let leaving = "warning: leaving 127.0.0.1:";
    let left = out.stderr.lines().find(|l| l.starts_with(leaving));
    assert!(
        left.is_some_and(|l| l.contains(
            " (the server refused a message again (basic.nack)); reconnecting (attempt 1 of 5)"
        )),
        "{out:?}"
    );
    // One node: no retry unless asked, as before.
    let out = amqp(PUBLISH, &["-r", queue.name(), "-b", "y"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(!out.stderr.contains("warning: "), "{out:?}");
}

/// How many lines of `stderr` start with `prefix`.
fn warning_count(stderr: &str, prefix: &str) -> usize {
    stderr.lines().filter(|l| l.starts_with(prefix)).count()
}

/// The lines of the file at `path`.
fn file_lines(path: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The number N of the `reconnected ...; getting from queue 'Q' again (N message(s) written may
/// not have been acked ...)` warnings, summed.
fn announced_rewrites(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|line| line.starts_with("warning: reconnected to "))
        .filter_map(|line| line.split("' again (").nth(1))
        .filter_map(|rest| rest.split(' ').next())
        .filter_map(|n| n.parse::<usize>().ok())
        .sum()
}

/// `amqp-get --url BROKER args...` with its standard output a pipe the test reads itself:
/// slowly up to a number of bytes, then (once told to go on) to the end.
struct SlowlyRead {
    child: std::process::Child,
    paused: mpsc::Receiver<()>,
    go: mpsc::Sender<()>,
    output: thread::JoinHandle<Vec<u8>>,
    errors: thread::JoinHandle<String>,
}

impl SlowlyRead {
    /// Starts the tool; its output is read slowly until `before` bytes came.
    fn start(args: &[&str], before: usize) -> SlowlyRead {
        let mut child = Command::new(bin(GET))
            .arg("--url")
            .arg(broker_url())
            .args(args)
            .env_remove("AMQP_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start amqp-get");
        let mut stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (paused_tx, paused) = mpsc::channel();
        let (go, go_rx) = mpsc::channel::<()>();
        let output = thread::spawn(move || {
            let mut output = Vec::new();
            let mut buffer = [0u8; 4096];
            while output.len() < before {
                match stdout.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => output.extend_from_slice(&buffer[..n]),
                }
                thread::sleep(Duration::from_millis(5));
            }
            let _ = paused_tx.send(());
            let _ = go_rx.recv();
            let _ = stdout.read_to_end(&mut output);
            output
        });
        let errors = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        SlowlyRead {
            child,
            paused,
            go,
            output,
            errors,
        }
    }

    /// Waits until the first bytes were read (the reader stopped reading: the pipe fills up).
    fn wait_paused(&self) {
        self.paused
            .recv_timeout(TIMEOUT)
            .expect("the first bytes of output");
    }

    /// Reads the rest and waits for the tool (at most [`TIMEOUT`]): its exit status, standard
    /// output and standard error.
    fn finish(mut self) -> (i32, Vec<u8>, String) {
        self.go.send(()).expect("the reader");
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("amqp-get did not finish within {TIMEOUT:?}");
            }
            thread::sleep(Duration::from_millis(10));
        };
        let output = self.output.join().expect("the reader");
        let errors = self.errors.join().expect("the stderr reader");
        (exit_code(status), output, errors)
    }
}

#[test]
fn get_drains_a_queue_across_a_forced_close_writing_every_message() {
    let queue = TestQueue::declare("rc-get");
    let name = unique_name("rc-get-conn");
    let total = 400;
    // 4 KiB bodies, each ending in a newline (the output splits into them): the pipe holds
    // only a few, so the tool is still writing when its connection is closed.
    let body = |i: usize| format!("message {i:04} {}\n", "x".repeat(4096));
    let bodies: Vec<String> = (0..total).map(body).collect();
    let refs: Vec<&[u8]> = bodies.iter().map(|b| b.as_bytes()).collect();
    publish_bodies(queue.name(), &refs);
    let args: [&str; 10] = [
        "--count",
        "0",
        "--reconnect",
        "5",
        "--reconnect-delay",
        "0.2",
        "--connection-name",
        &name,
        "-q",
        queue.name(),
    ];
    let tool = SlowlyRead::start(&args, 100 * 1024);
    tool.wait_paused();
    // The tool is blocked writing to the full pipe now.
    force_close(&name);
    let (code, output, stderr) = tool.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(failure_lines(&stderr).is_empty(), "{stderr}");
    let count = |prefix: &str| stderr.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("warning: connection to "), 1, "{stderr}");
    assert_eq!(count("warning: reconnected to "), 1, "{stderr}");
    let announced = announced_rewrites(&stderr);
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    let text = String::from_utf8(output).expect("UTF-8 output");
    for line in text.split_inclusive('\n') {
        let i: usize = line[8..12].parse().expect("a message number");
        assert_eq!(line, body(i), "message {i} whole");
        *seen.entry(i).or_insert(0) += 1;
    }
    let missing: Vec<usize> = (0..total).filter(|i| !seen.contains_key(i)).collect();
    assert!(
        missing.is_empty(),
        "messages not written: {missing:?}; {stderr}"
    );
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= announced,
        "{duplicates} duplicates, {announced} announced: {stderr}"
    );
    assert_eq!(queue_message_count(queue.name()), 0, "{stderr}");
    eprintln!(
        "amqp-get reconnect: {total} messages, {duplicates} duplicates, {announced} announced; {stderr}"
    );
}

#[test]
fn get_from_a_missing_queue_is_not_reconnected() {
    let missing = unique_name("rc-no-such-queue");
    let started = Instant::now();
    let with = amqp(GET, &["--reconnect", "5", "-q", &missing]);
    let took = started.elapsed();
    let without = amqp(GET, &["-q", &missing]);
    assert_eq!(with.code, 1, "{with:?}");
    assert_eq!(with.stderr, without.stderr, "{with:?}");
    assert!(with.stderr.contains("server channel error 404"), "{with:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {with:?}");
}

/// A relay whose first connection passes the tool's bytes to the node only up to an allowance
/// the test raises ([`StallingRelay::allow`]); beyond it, nothing more is read from the tool
/// (its writes block once the socket buffers are full), while the node's replies (basic.ack
/// among them) still come through. [`StallingRelay::cut`] ends that connection. Later
/// connections pass everything both ways.
struct StallingRelay {
    port: u16,
    stalled: Arc<Mutex<Vec<TcpStream>>>,
    allowance: Arc<AtomicUsize>,
    forwarded: Arc<AtomicUsize>,
    cut: Arc<AtomicBool>,
}

impl StallingRelay {
    /// Starts the relay, allowing the first connection's first `allowance` bytes through.
    fn start(allowance: usize) -> StallingRelay {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind relay");
        let port = listener.local_addr().expect("address").port();
        let relay = StallingRelay {
            port,
            stalled: Arc::new(Mutex::new(Vec::new())),
            allowance: Arc::new(AtomicUsize::new(allowance)),
            forwarded: Arc::new(AtomicUsize::new(0)),
            cut: Arc::new(AtomicBool::new(false)),
        };
        let kept = relay.stalled.clone();
        let (allowed, counted, cut) = (
            relay.allowance.clone(),
            relay.forwarded.clone(),
            relay.cut.clone(),
        );
        let target = broker_port();
        thread::spawn(move || {
            for (n, client) in listener.incoming().enumerate() {
                let Ok(client) = client else { break };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let clone = |s: &TcpStream| s.try_clone().expect("clone");
                forward(clone(&server), clone(&client));
                if n > 0 {
                    forward(client, server);
                    continue;
                }
                kept.lock()
                    .unwrap()
                    .extend([clone(&client), clone(&server)]);
                let (allowed, counted, cut) = (allowed.clone(), counted.clone(), cut.clone());
                thread::spawn(move || {
                    let (mut from, mut to) = (client, server);
                    let mut buffer = vec![0u8; 64 * 1024];
                    while !cut.load(Ordering::SeqCst) {
                        let left = allowed.load(Ordering::SeqCst) - counted.load(Ordering::SeqCst);
                        if left == 0 {
                            thread::sleep(Duration::from_millis(10));
                            continue;
                        }
                        match from.read(&mut buffer[..left.min(64 * 1024)]) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if to.write_all(&buffer[..n]).is_err() {
                                    return;
                                }
                                counted.fetch_add(n, Ordering::SeqCst);
                            }
                        }
                    }
                });
            }
        });
        relay
    }

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}", self.port)
    }

    /// Lets `bytes` more of the first connection's through.
    fn allow(&self, bytes: usize) {
        self.allowance.fetch_add(bytes, Ordering::SeqCst);
    }

    /// Whether the first connection has passed all it was allowed.
    fn stalled(&self) -> bool {
        self.forwarded.load(Ordering::SeqCst) == self.allowance.load(Ordering::SeqCst)
    }

    /// Ends the first connection, both ways (the tool's writes fail, the node sees it close).
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for socket in self.stalled.lock().unwrap().drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

#[test]
fn acks_that_came_while_writes_waited_spare_their_messages_a_second_copy() {
    // The relay passes the connection's set-up and stalls: the tool reads its whole input,
    // queues every message and, at the end of its input, waits for a write. Then 2 MB more
    // get through: the node's basic.acks for those messages arrive while the tool still waits
    // for its write. Then the connection is cut and the tool reconnects (through the relay,
    // which now passes everything): the acked messages, whose confirms the failure line's
    // count looks at first, are not published again; only the others are.
    let queue = TestQueue::declare("rc-acked");
    let relay = StallingRelay::start(4096);
    let url = relay.url();
    let mut command = Command::new(bin(PUBLISH));
    command
        .args(["--url", url.as_str(), "--reconnect", "3"])
        .args(["--reconnect-delay", "0.2", "-r", queue.name(), "-l"])
        .env_remove("AMQP_URL");
    let (publisher, mut stdin) = spawn_command_fed(command);
    let total = 300;
    // 100 kB lines: a few dozen fill the socket buffers.
    let body = |i: usize| format!("{i:06} {}\n", "x".repeat(100_000));
    let feeder = thread::spawn(move || {
        for i in 0..total {
            stdin.write_all(body(i).as_bytes()).expect("write");
        }
        // Dropped: the end of the input.
    });
    feeder.join().expect("feeding the tool");
    wait_until("the relay to stall", || relay.stalled().then_some(()));
    // The tool has queued its input by now (it reads it in batches as it comes).
    thread::sleep(Duration::from_millis(500));
    assert_eq!(queue_message_count(queue.name()), 0);
    relay.allow(2 << 20);
    wait_until("2 MB more through the relay", || {
        relay.stalled().then_some(())
    });
    // Until the count stops growing, and the acks have had time to arrive.
    let mut acked = 0;
    loop {
        thread::sleep(Duration::from_millis(500));
        let now = queue_message_count(queue.name());
        if now == acked && now > 0 {
            break;
        }
        acked = now;
    }
    relay.cut();
    let out = publisher.wait();
    out.assert_ok();
    assert!(failure_lines(&out.stderr).is_empty(), "{out:?}");
    let resent = announced_resends(&out.stderr);
    assert_eq!(
        resent,
        total - acked as usize,
        "{acked} messages were on the queue (acked) before the cut: {out:?}"
    );
    let counts = bodies_on(queue.name());
    let wrong: Vec<_> = (0..total)
        .filter(|i| counts.get(&body(*i)) != Some(&1))
        .map(|i| (i, counts.get(&body(i)).copied().unwrap_or(0)))
        .collect();
    assert!(
        wrong.is_empty(),
        "(message, copies) not exactly once, {acked} acked before the cut: {:?}",
        &wrong[..wrong.len().min(10)]
    );
    assert_eq!(counts.len(), total);
}
