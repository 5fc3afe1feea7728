//! "Nothing lost, nothing hung": the reliability guarantees of the tools, each proved against
//! the private broker. RELIABILITY.md lists every guarantee with the test that proves it.
//!
//! The broker's view of one tool's connection is found through the tool's own socket (its
//! local port, from /proc, is the broker's `peer_port`), so tests that close connections or
//! read a connection's heartbeat touch only their own tool, never a parallel test's.

mod common;

use common::*;
use std::collections::{BTreeSet, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const TOOLS: [&str; 5] = [PUBLISH, CONSUME, GET, DECLARE, DELETE];

// ---------------------------------------------------------------------------------------------
// Helpers

/// Local ports of the TCP sockets process `pid` has open to `remote_port` (from /proc).
fn local_ports_to(pid: u32, remote_port: u16) -> Vec<u16> {
    let mut inodes = HashSet::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for entry in dir.flatten() {
            if let Ok(target) = std::fs::read_link(entry.path()) {
                let target = target.to_string_lossy().into_owned();
                if let Some(inode) = target
                    .strip_prefix("socket:[")
                    .and_then(|r| r.strip_suffix(']'))
                {
                    inodes.insert(inode.to_string());
                }
            }
        }
    }
    let port_of = |address: &str| {
        address
            .rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok())
    };
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9
                && inodes.contains(fields[9])
                && port_of(fields[2]) == Some(remote_port)
                && let Some(port) = port_of(fields[1])
            {
                ports.push(port);
            }
        }
    }
    ports
}

/// One row of `rabbitmqctl list_connections` for a tool's connection.
#[derive(Debug, Clone)]
struct BrokerConnection {
    /// The connection process, as `close_connection` takes it.
    pid: String,
    /// The negotiated heartbeat in seconds (0: none).
    timeout: String,
}

/// The broker's row for the connection of process `pid` (waits until it shows).
#[track_caller]
fn broker_connection_of(pid: u32) -> BrokerConnection {
    wait_until(&format!("the connection of process {pid}"), || {
        let ports = local_ports_to(pid, broker_port());
        if ports.is_empty() {
            return None;
        }
        let listing = ctl(&["-s", "list_connections", "pid", "peer_port", "timeout"]);
        listing.lines().find_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let port: u16 = fields.get(1)?.trim().parse().ok()?;
            ports.contains(&port).then(|| BrokerConnection {
                pid: fields[0].trim().to_string(),
                timeout: fields.get(2).unwrap_or(&"").trim().to_string(),
            })
        })
    })
}

/// Closes the connection of process `pid` from the broker's side (`close_connection`).
#[track_caller]
fn close_connection_of(pid: u32, reason: &str) {
    let connection = broker_connection_of(pid);
    ctl(&["close_connection", &connection.pid, reason]);
}

/// A tool whose standard input the test writes as it goes (a slow pipe).
struct Fed {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl Fed {
    /// Starts `tool --url BROKER args...` with a pipe on its standard input.
    fn start(tool: &str, args: &[&str]) -> Fed {
        let mut child = Command::new(bin(tool))
            .arg("--url")
            .arg(broker_url())
            .args(args)
            .env_remove("AMQP_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {tool}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().expect("stdout"), stdout.clone()),
            collect(child.stderr.take().expect("stderr"), stderr.clone()),
        ];
        Fed {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            readers,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes `bytes` to the tool's standard input (ignoring a tool that stopped reading).
    fn write(&mut self, bytes: &[u8]) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin.write_all(bytes);
            let _ = stdin.flush();
        }
    }

    /// Closes the standard input, waits (at most [`TIMEOUT`]) and returns what the tool left.
    #[track_caller]
    fn finish(mut self) -> Output {
        self.stdin.take();
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the tool did not finish within {TIMEOUT:?}");
            }
            thread::sleep(Duration::from_millis(10));
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        use std::os::unix::process::ExitStatusExt;
        Output {
            code: status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
            stdout: std::mem::take(&mut *self.stdout.lock().unwrap()),
            stderr: String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned(),
        }
    }
}

impl Drop for Fed {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn collect(
    mut from: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buffer) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buffer[..n]);
        }
    })
}

/// A TCP relay between a tool and the broker that the test can freeze: frozen, it neither
/// reads nor forwards anything in either direction, but keeps both sockets open (a network
/// that silently drops everything).
struct Relay {
    port: u16,
    frozen: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    fn start(target_port: u16) -> Relay {
        let listener = TcpListener::bind((HOST, 0)).expect("bind relay");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("relay address").port();
        let frozen = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s) = (frozen.clone(), stop.clone());
        thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).expect("blocking");
                        let Ok(server) = TcpStream::connect((HOST, target_port)) else {
                            continue;
                        };
                        let (c2, s2) = (
                            client.try_clone().expect("clone"),
                            server.try_clone().expect("clone"),
                        );
                        pump(client, server, f.clone(), s.clone());
                        pump(s2, c2, f.clone(), s.clone());
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Relay { port, frozen, stop }
    }

    /// A URL for the private broker through this relay.
    fn url(&self) -> String {
        format!("amqp://guest:guest@{HOST}:{}", self.port)
    }

    fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, frozen: Arc<AtomicBool>, stop: Arc<AtomicBool>) {
    thread::spawn(move || {
        let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
        let mut buffer = [0u8; 64 * 1024];
        let held = |frozen: &AtomicBool, stop: &AtomicBool| {
            while frozen.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
        };
        while !stop.load(Ordering::SeqCst) {
            held(&frozen, &stop);
            match from.read(&mut buffer) {
                Ok(0) => {
                    let _ = to.shutdown(std::net::Shutdown::Write);
                    break;
                }
                Ok(n) => {
                    held(&frozen, &stop);
                    if stop.load(Ordering::SeqCst) || to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => {
                    let _ = to.shutdown(std::net::Shutdown::Both);
                    break;
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 1. Publisher confirms

#[test]
fn publish_exits_0_once_every_message_is_confirmed() {
    let queue = TestQueue::declare("rel-confirmed");
    amqp(PUBLISH, &["-r", queue.name(), "-b", "by -b"]).assert_ok();
    amqp_stdin(PUBLISH, &["-r", queue.name()], b"by stdin").assert_ok();
    let lines: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    amqp_stdin(PUBLISH, &["-r", queue.name(), "-l"], lines.as_bytes()).assert_ok();
    // Exit 0 came after the confirms: everything is on the queue already.
    assert_eq!(queue_message_count(queue.name()), 2002);
}

#[test]
fn a_nack_fails_the_publish_for_body_and_stdin() {
    // A full queue with reject-publish nacks every further message.
    let queue = TestQueue::named("rel-nack");
    amqp(
        DECLARE,
        &[
            "-q",
            queue.name(),
            "--arg",
            "x-max-length=1",
            "--arg",
            "x-overflow=reject-publish",
        ],
    )
    .assert_ok();
    publish(queue.name(), b"fills the queue");
    let expected = "basic.nack: the server refused a message (1 of 1 message not confirmed)";
    let out = amqp(PUBLISH, &["-r", queue.name(), "-b", "refused"]);
    assert_eq!(assert_one_line_failure(&out), expected, "{out:?}");
    let out = amqp_stdin(PUBLISH, &["-r", queue.name()], b"refused too");
    assert_eq!(assert_one_line_failure(&out), expected, "{out:?}");
    // --no-confirm is fire-and-forget: exit 0, and the broker dropped the message.
    amqp(PUBLISH, &["--no-confirm", "-r", queue.name(), "-b", "lost"]).assert_ok();
    let messages = drain_queue(queue.name());
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, b"fills the queue");
}

#[test]
fn a_nack_in_line_mode_counts_the_unconfirmed_messages() {
    let queue = TestQueue::named("rel-nack-lines");
    amqp(
        DECLARE,
        &[
            "-q",
            queue.name(),
            "--arg",
            "x-max-length=3",
            "--arg",
            "x-overflow=reject-publish",
        ],
    )
    .assert_ok();
    let out = amqp_stdin(PUBLISH, &["-r", queue.name(), "-l"], b"1\n2\n3\n4\n5\n");
    assert_eq!(
        assert_one_line_failure(&out),
        "basic.nack: the server refused a message (2 of 5 messages not confirmed)"
    );
    let bodies: Vec<Vec<u8>> = drain_queue(queue.name())
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, [b"1\n".to_vec(), b"2\n".to_vec(), b"3\n".to_vec()]);
}

#[test]
fn line_mode_keeps_many_publishes_in_flight() {
    // The protocol trace shows the publisher does not wait for each confirm: at some point
    // more than one message was published and not yet confirmed.
    let queue = TestQueue::declare("rel-pipelined");
    let lines: String = (0..2000).map(|i| format!("{i}\n")).collect();
    let out = amqp_stdin(
        PUBLISH,
        &["--verbose", "-r", queue.name(), "-l"],
        lines.as_bytes(),
    );
    out.assert_ok();
    let (mut published, mut confirmed, mut most_in_flight) = (0u64, 0u64, 0u64);
    for line in out.stderr_lines() {
        if line.starts_with("-> basic.publish") {
            published += 1;
        } else if line.starts_with("<- basic.ack") {
            let tag = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("delivery-tag="))
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("no delivery tag in {line:?}"));
            confirmed = confirmed.max(tag);
        }
        most_in_flight = most_in_flight.max(published.saturating_sub(confirmed));
    }
    assert_eq!(published, 2000, "{out:?}");
    assert_eq!(confirmed, 2000, "every message confirmed: {out:?}");
    assert!(
        most_in_flight > 1,
        "at most {most_in_flight} message in flight: the publisher waits for each confirm"
    );
    assert_eq!(queue_message_count(queue.name()), 2000);
}

#[test]
fn connection_lost_in_line_mode_counts_only_unconfirmed_messages() {
    let queue = TestQueue::declare("rel-lost-lines");
    let mut publisher = Fed::start(PUBLISH, &["-r", queue.name(), "-l"]);
    publisher.write(b"1\n2\n3\n4\n5\n");
    wait_for_message_count(queue.name(), 5);
    // The five confirms reach the tool well before the connection goes.
    thread::sleep(Duration::from_millis(300));
    close_connection_of(publisher.pid(), "reliability test");
    // Lines keep coming: at the latest, publishing one of them finds the connection gone.
    for line in [b"6\n", b"7\n", b"8\n", b"9\n"] {
        thread::sleep(Duration::from_millis(250));
        publisher.write(line);
    }
    let out = publisher.finish();
    let line = assert_one_line_failure(&out);
    assert!(
        line.starts_with(
            "basic.publish: server connection error 320, message: CONNECTION_FORCED - reliability test ("
        ),
        "{out:?}"
    );
    let (unconfirmed, total) =
        unconfirmed_counts(&line).unwrap_or_else(|| panic!("no (N of M) count: {out:?}"));
    let delivered = u64::from(queue_message_count(queue.name()));
    assert_eq!(delivered, 5);
    assert!(total >= 5, "{out:?}");
    assert_eq!(
        total - unconfirmed,
        delivered,
        "the line must count as unconfirmed exactly the messages that were not confirmed \
         (5 of them were, and are on the queue): {line}"
    );
}

#[test]
fn connection_lost_before_a_stdin_body_is_published_fails() {
    let queue = TestQueue::declare("rel-lost-stdin");
    let mut publisher = Fed::start(PUBLISH, &["-r", queue.name()]);
    // Connected and waiting for the body on stdin when the broker closes the connection.
    close_connection_of(publisher.pid(), "reliability test");
    thread::sleep(Duration::from_millis(300));
    publisher.write(b"the body");
    let out = publisher.finish();
    let line = assert_one_line_failure(&out);
    assert_eq!(
        line,
        "basic.publish: server connection error 320, message: CONNECTION_FORCED - reliability test \
         (1 of 1 message not confirmed)"
    );
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn line_mode_from_a_quiet_pipe_keeps_its_connection() {
    // `tail -f log | amqp-publish -l`: the pipe may stay quiet for longer than the heartbeat
    // interval; the connection must stay up (heartbeats sent while waiting for input).
    let queue = TestQueue::declare("rel-quiet-pipe");
    let mut publisher = Fed::start(PUBLISH, &["--heartbeat", "1", "-r", queue.name(), "-l"]);
    publisher.write(b"before\n");
    wait_for_message_count(queue.name(), 1);
    thread::sleep(Duration::from_secs(5));
    publisher.write(b"after\n");
    let out = publisher.finish();
    out.assert_ok();
    assert_eq!(out.stderr, "", "{out:?}");
    assert_eq!(queue_message_count(queue.name()), 2);
}

// ---------------------------------------------------------------------------------------------
// 2. --mandatory

#[test]
fn mandatory_unroutable_message_fails_with_no_route() {
    let key = unique_name("nowhere");
    let out = amqp(PUBLISH, &["--mandatory", "-r", &key, "-b", "x"]);
    let line = assert_one_line_failure(&out);
    assert!(line.starts_with("basic.return: 312 NO_ROUTE"), "{out:?}");
    // In line mode too, even when the unroutable line is one of many.
    let queue = TestQueue::declare("rel-mandatory");
    amqp_stdin(
        PUBLISH,
        &["--mandatory", "-r", queue.name(), "-l"],
        b"a\nb\n",
    )
    .assert_ok();
    let exchange = TestExchange::declare("rel-mandatory", lapin::ExchangeKind::Direct);
    let out = amqp_stdin(
        PUBLISH,
        &["--mandatory", "-e", exchange.name(), "-r", "unbound", "-l"],
        b"a\nb\n",
    );
    let line = assert_one_line_failure(&out);
    assert!(line.starts_with("basic.return: 312 NO_ROUTE"), "{out:?}");
    // Without --mandatory the broker drops it silently, as in the original.
    amqp(PUBLISH, &["-r", &key, "-b", "x"]).assert_ok();
}

// ---------------------------------------------------------------------------------------------
// 3. -A -c N

#[test]
fn no_ack_with_count_removes_exactly_count_messages() {
    let queue = TestQueue::declare("rel-no-ack-count");
    let bodies: Vec<Vec<u8>> = (0..2000).map(|i| format!("{i}").into_bytes()).collect();
    let refs: Vec<&[u8]> = bodies.iter().map(|b| b.as_slice()).collect();
    publish_bodies(queue.name(), &refs);
    let out = amqp(CONSUME, &["-A", "-c", "200", "-q", queue.name(), "true"]);
    out.assert_ok();
    wait_for_message_count(queue.name(), 1800);
    thread::sleep(Duration::from_secs(1));
    assert_eq!(queue_message_count(queue.name()), 1800, "a moment later");
}

// ---------------------------------------------------------------------------------------------
// 4. Failed commands

#[test]
fn a_failed_command_warns_and_keeps_the_delivery() {
    let queue = TestQueue::declare("rel-fail-keep");
    publish(queue.name(), b"job");
    let out = amqp(
        CONSUME,
        &["-q", queue.name(), "-c", "1", "--", "sh", "-c", "exit 3"],
    );
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
    let queue = TestQueue::declare("rel-fail-requeue");
    publish(queue.name(), b"retry me");
    // Fails the first time, succeeds on the redelivery: the consumer gets it back while it
    // is still running.
    let out = amqp(
        CONSUME,
        &[
            "-q",
            queue.name(),
            "-c",
            "2",
            "--on-failure",
            "requeue",
            "--",
            "sh",
            "-c",
            r#"cat >/dev/null; test "$AMQP_REDELIVERED" = true"#,
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.first_stderr_line()
            .starts_with("warning: delivery 1: command exited with status 1; requeued"),
        "{out:?}"
    );
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn on_failure_reject_dead_letters_the_message() {
    let dlq = TestQueue::declare("rel-dlq");
    let queue = TestQueue::named("rel-fail-reject");
    let dlx_key = format!("x-dead-letter-routing-key={}", dlq.name());
    amqp(
        DECLARE,
        &[
            "-q",
            queue.name(),
            "--arg",
            "x-dead-letter-exchange=",
            "--arg",
            &dlx_key,
        ],
    )
    .assert_ok();
    publish(queue.name(), b"poison");
    let out = amqp(
        CONSUME,
        &[
            "-q",
            queue.name(),
            "-c",
            "1",
            "--on-failure",
            "reject",
            "false",
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.first_stderr_line()
            .starts_with("warning: delivery 1: command exited with status 1; rejected"),
        "{out:?}"
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
    let queue = TestQueue::declare("rel-fail-killed");
    publish(queue.name(), b"job");
    let out = amqp(
        CONSUME,
        &[
            "-q",
            queue.name(),
            "-c",
            "1",
            "--",
            "sh",
            "-c",
            "kill -9 $$",
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.first_stderr_line()
            .starts_with("warning: delivery 1: command killed by signal 9"),
        "{out:?}"
    );
    wait_for_message_count(queue.name(), 1);
}

// ---------------------------------------------------------------------------------------------
// 5. SIGINT / SIGTERM

/// Consumes 40 messages with a command that appends each body to a file, stops the consumer
/// with `signal` mid-stream (to the tool alone, or to its whole process group as a terminal's
/// Ctrl-C does), and checks that every message is either in the file or on the queue, once.
fn signal_stops_the_consumer_cleanly(signal: i32, whole_group: bool) {
    let queue = TestQueue::declare("rel-signal");
    let total = 40;
    let bodies: Vec<String> = (0..total).map(|i| format!("m{i:03}")).collect();
    let refs: Vec<&[u8]> = bodies.iter().map(|b| b.as_bytes()).collect();
    publish_bodies(queue.name(), &refs);
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

// ---------------------------------------------------------------------------------------------
// 6. Connection lost while consuming

#[test]
fn broker_closing_the_connection_ends_the_consumer_at_once() {
    let queue = TestQueue::declare("rel-closed");
    let consumer = amqp_spawn(CONSUME, &["-q", queue.name(), "cat"]);
    wait_for_consumer(queue.name());
    close_connection_of(consumer.pid(), "closed by the reliability test");
    let closed = Instant::now();
    let out = consumer.wait();
    assert!(closed.elapsed() < Duration::from_secs(3), "{out:?}");
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
    let consumer = amqp_spawn(
        CONSUME,
        &[
            "-q",
            queue.name(),
            "--",
            "sh",
            "-c",
            r#"body=$(cat); printf '%s\n' "$body" >> "$1"; sleep 3"#,
            "sh",
            log.path_str(),
        ],
    );
    let connection = broker_connection_of(consumer.pid());
    // Both messages reach the consumer (no prefetch limit); the first command runs.
    publish_bodies(queue.name(), &[b"first", b"second"]);
    wait_until("the first command to run", || {
        (!file_lines(log.path_str()).is_empty()).then_some(())
    });
    ctl(&["close_connection", &connection.pid, "closed mid-command"]);
    let out = consumer.wait();
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
    let queue = TestQueue::declare("rel-deleted");
    let consumer = amqp_spawn(CONSUME, &["-q", queue.name(), "cat"]);
    wait_for_consumer(queue.name());
    delete_queue(queue.name());
    let deleted = Instant::now();
    let out = consumer.wait();
    assert!(deleted.elapsed() < Duration::from_secs(3), "{out:?}");
    let line = assert_one_line_failure(&out);
    assert_eq!(
        line,
        format!(
            "consuming from queue '{}': the server cancelled the consumer (was the queue deleted?)",
            queue.name()
        )
    );
}

#[test]
fn missed_heartbeats_end_the_consumer_within_two_intervals() {
    let queue = TestQueue::declare("rel-heartbeat-lost");
    publish(queue.name(), b"before");
    let relay = Relay::start(broker_port());
    let log = TempFile::new(b"");
    let relay_url = relay.url();
    let consumer = spawn(
        CONSUME,
        [
            "--url",
            relay_url.as_str(),
            "--heartbeat",
            "2",
            "-q",
            queue.name(),
            "--",
            "sh",
            "-c",
            r#"body=$(cat); printf '%s\n' "$body" >> "$1""#,
            "sh",
            log.path_str(),
        ],
        None,
        &[],
    );
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
    let left = drain_queue(queue.name());
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].body, b"during");
}

// ---------------------------------------------------------------------------------------------
// 7. Heartbeats

#[test]
fn heartbeats_keep_the_connection_alive_during_a_long_command() {
    let queue = TestQueue::declare("rel-heartbeat-long");
    publish(queue.name(), b"slow job");
    let consumer = amqp_spawn(
        CONSUME,
        &[
            "--heartbeat",
            "2",
            "-q",
            queue.name(),
            "-c",
            "1",
            "sleep",
            "10",
        ],
    );
    assert_eq!(broker_connection_of(consumer.pid()).timeout, "2");
    let out = consumer.wait();
    out.assert_ok();
    assert_eq!(out.stderr, "", "{out:?}");
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn heartbeat_defaults_to_the_brokers_proposal() {
    let queue = TestQueue::declare("rel-heartbeat-default");
    let consumer = amqp_spawn(CONSUME, &["-q", queue.name(), "cat"]);
    assert_eq!(broker_connection_of(consumer.pid()).timeout, "60");
}

#[test]
fn heartbeat_0_disables_heartbeats() {
    let queue = TestQueue::declare("rel-heartbeat-off");
    let consumer = amqp_spawn(CONSUME, &["--heartbeat", "0", "-q", queue.name(), "cat"]);
    assert_eq!(broker_connection_of(consumer.pid()).timeout, "0");
}

// ---------------------------------------------------------------------------------------------
// 8. Refusals

/// Each tool's arguments besides the connection options, for runs that fail at login.
fn tool_args(tool: &str) -> &'static [&'static str] {
    match tool {
        PUBLISH => &["-r", "x", "-b", "x"],
        CONSUME => &["-q", "x", "cat"],
        _ => &["-q", "x"],
    }
}

#[track_caller]
fn assert_refused(tool: &str, url: &str, extra: &[&str], expected_start: &str) {
    let mut args = vec!["--url", url];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let out = run(tool, &args, b"", &[]);
    assert!(started.elapsed() < Duration::from_secs(10), "{out:?}");
    let line = assert_one_line_failure(&out);
    assert!(
        line.starts_with(expected_start),
        "{tool}: expected {expected_start:?}: {out:?}"
    );
    out.assert_no_stdout();
}

#[test]
fn wrong_password_is_refused_with_403() {
    let url = url_with("guest", "not-the-password", None);
    for tool in TOOLS {
        assert_refused(
            tool,
            &url,
            tool_args(tool),
            "logging in to AMQP server: server connection error 403, message: ACCESS_REFUSED",
        );
    }
}

#[test]
fn missing_vhost_is_refused_with_530() {
    let vhost = unique_name("no-vhost");
    let url = url_with("guest", "guest", Some(&vhost));
    for tool in TOOLS {
        assert_refused(
            tool,
            &url,
            tool_args(tool),
            "logging in to AMQP server: server connection error 530, message: NOT_ALLOWED",
        );
    }
}

#[test]
fn missing_permissions_are_refused() {
    let user = TestUser::new("pw");
    // No permissions at all on the vhost: refused at login.
    let url = url_with(&user.name, "pw", Some("%2f"));
    assert_refused(
        GET,
        &url,
        &["-q", "x"],
        "logging in to AMQP server: server connection error 530, message: NOT_ALLOWED",
    );
    // Permissions that match nothing: each operation refused with 403.
    ctl(&["set_permissions", "-p", "/", &user.name, "^$", "^$", "^$"]);
    let queue = TestQueue::declare("rel-no-permission");
    publish(queue.name(), b"untouchable");
    let q = queue.name();
    let denied = "server channel error 403, message: ACCESS_REFUSED";
    let cases: [(&str, Vec<&str>, String); 5] = [
        (
            PUBLISH,
            vec!["-r", q, "-b", "x"],
            format!("basic.publish: {denied}"),
        ),
        (GET, vec!["-q", q], format!("basic.get: {denied}")),
        (
            CONSUME,
            vec!["-q", q, "cat"],
            format!("basic.consume: {denied}"),
        ),
        (DECLARE, vec!["-q", q], format!("queue.declare: {denied}")),
        (DELETE, vec!["-q", q], format!("queue.delete: {denied}")),
    ];
    for (tool, args, expected) in cases {
        assert_refused(tool, &url, &args, &expected);
    }
    assert_eq!(queue_message_count(queue.name()), 1);
}

#[test]
fn exclusive_queue_of_another_connection_is_refused_with_405() {
    let queue = TestQueue::named("rel-exclusive");
    let holder = amqp_spawn(CONSUME, &["-x", "-q", queue.name(), "cat"]);
    wait_until("the exclusive queue to be declared", || {
        (queue_status(queue.name()) == Err(405)).then_some(())
    });
    let url = broker_url();
    let q = queue.name();
    let locked = "server channel error 405, message: RESOURCE_LOCKED";
    let cases: [(&str, Vec<&str>, String); 4] = [
        (GET, vec!["-q", q], format!("basic.get: {locked}")),
        (
            CONSUME,
            vec!["-q", q, "cat"],
            format!("basic.consume: {locked}"),
        ),
        (DECLARE, vec!["-q", q], format!("queue.declare: {locked}")),
        (DELETE, vec!["-q", q], format!("queue.delete: {locked}")),
    ];
    for (tool, args, expected) in cases {
        assert_refused(tool, &url, &args, &expected);
    }
    drop(holder);
}

// ---------------------------------------------------------------------------------------------
// 9. Connect timeouts

/// A listener on 127.0.0.1 whose accept queue is full: further SYNs are dropped, so a
/// connect neither succeeds nor is refused.
struct BlackHole {
    fd: i32,
    port: u16,
    _held: Vec<TcpStream>,
}

impl BlackHole {
    fn new() -> BlackHole {
        // SAFETY: plain socket calls on a descriptor we own; the address is a local struct.
        let (fd, port) = unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0, "socket");
            let mut address: libc::sockaddr_in = std::mem::zeroed();
            address.sin_family = libc::AF_INET as libc::sa_family_t;
            address.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            address.sin_port = 0;
            let size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let bound = libc::bind(fd, &address as *const _ as *const libc::sockaddr, size);
            assert_eq!(bound, 0, "bind");
            assert_eq!(libc::listen(fd, 1), 0, "listen");
            let mut length = size;
            libc::getsockname(
                fd,
                &mut address as *mut _ as *mut libc::sockaddr,
                &mut length,
            );
            (fd, u16::from_be(address.sin_port))
        };
        let mut held = Vec::new();
        for _ in 0..8 {
            let target = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            match TcpStream::connect_timeout(&target, Duration::from_millis(300)) {
                Ok(stream) => held.push(stream),
                Err(_) => break,
            }
        }
        assert!(held.len() < 8, "the listener's queue never filled");
        BlackHole {
            fd,
            port,
            _held: held,
        }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        // SAFETY: closing the descriptor we opened.
        unsafe { libc::close(self.fd) };
    }
}

#[test]
fn connect_timeout_bounds_a_connect_nobody_answers() {
    let hole = BlackHole::new();
    let port = hole.port.to_string();
    let expected = format!("opening socket to 127.0.0.1:{port}: connection timed out after 2 s");
    let started = Instant::now();
    let out = run(
        GET,
        [
            "-s",
            "127.0.0.1",
            "--port",
            &port,
            "--connect-timeout",
            "2",
            "-q",
            "x",
        ],
        b"",
        &[],
    );
    let took = started.elapsed();
    assert_eq!(assert_one_line_failure(&out), expected);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // The same from the URL's connection_timeout (milliseconds).
    let url = format!("amqp://guest:guest@127.0.0.1:{port}?connection_timeout=2000");
    let started = Instant::now();
    let out = run(PUBLISH, ["--url", &url, "-r", "x", "-b", "x"], b"", &[]);
    let took = started.elapsed();
    assert_eq!(assert_one_line_failure(&out), expected);
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn a_server_that_never_speaks_amqp_is_given_up() {
    let listener = TcpListener::bind((HOST, 0)).expect("bind");
    let port = listener.local_addr().expect("address").port();
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = stop.clone();
    listener.set_nonblocking(true).expect("nonblocking");
    let acceptor = thread::spawn(move || {
        let mut held = Vec::new();
        while !stopper.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    let port_text = port.to_string();
    for tool in [GET, CONSUME] {
        let mut args = vec![
            "-s",
            "127.0.0.1",
            "--port",
            &port_text,
            "--connect-timeout",
            "2",
        ];
        args.extend_from_slice(tool_args(tool));
        let started = Instant::now();
        let out = run(tool, &args, b"", &[]);
        let took = started.elapsed();
        let line = assert_one_line_failure(&out);
        assert!(
            line.starts_with("logging in to AMQP server: no answer from the server within "),
            "{out:?}"
        );
        assert!(took < Duration::from_secs(6), "{tool} took {took:?}");
    }
    stop.store(true, Ordering::SeqCst);
    acceptor.join().expect("acceptor");
}

#[test]
fn a_host_name_that_does_not_resolve_is_named() {
    // `bad..host` is refused by the resolver itself: no DNS query leaves the machine.
    for tool in TOOLS {
        let mut args = vec!["-s", "bad..host"];
        args.extend_from_slice(tool_args(tool));
        let started = Instant::now();
        let out = run(tool, &args, b"", &[]);
        assert!(started.elapsed() < Duration::from_secs(5), "{out:?}");
        let line = assert_one_line_failure(&out);
        assert!(
            line.starts_with("opening socket to bad..host:5672: hostname lookup failed: "),
            "{out:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 10. Bad input

#[test]
fn bad_invocations_fail_with_one_line_never_a_panic_or_a_hang() {
    let url = format!("amqp://guest:guest@127.0.0.1:{}", closed_port());
    let missing = std::env::temp_dir().join(unique_name("no-authfile"));
    let missing = missing.to_str().expect("path").to_string();
    let directory = std::env::temp_dir().to_str().expect("path").to_string();
    let empty = TempFile::new(b"");
    let user_only = TempFile::new(b"username:guest\n");
    let password_only = TempFile::new(b"password:guest\n");
    let trailing = TempFile::new(b"username:guest\npassword:guest\nmore\n");
    let not_utf8 = TempFile::new(b"username:\xff\xfe\npassword:guest\n");
    let good = TempFile::new(b"username:guest\npassword:guest\n");
    let u = url.as_str();
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        // Unknown options, missing values, stray operands.
        (PUBLISH, vec!["--bogus", "-r", "q", "-b", "x"], "--bogus: unknown option"),
        (PUBLISH, vec!["-Z", "-r", "q"], "-Z: unknown option"),
        (PUBLISH, vec!["-r"], "-r: missing argument"),
        (PUBLISH, vec!["-b", "x", "--routing-key"], "--routing-key: missing argument"),
        (PUBLISH, vec!["-r", "q", "-b", "x", "extra"], "unexpected operand: extra"),
        (PUBLISH, vec!["-b", "x"], "neither exchange nor routing key specified"),
        (PUBLISH, vec!["-r", "q", "-H"], "-H: missing argument"),
        (PUBLISH, vec!["-r", "q", "--no-confirm=yes"], "--no-confirm"),
        (CONSUME, vec!["--bogus=1", "-q", "q", "cat"], "--bogus"),
        (CONSUME, vec!["-q", "q"], "consuming command not specified"),
        (CONSUME, vec!["-q"], "-q: missing argument"),
        (CONSUME, vec!["-r", "key", "-q", "q", "cat"], "--routing-key option requires an exchange"),
        (GET, vec![], "queue not specified"),
        (GET, vec!["-q", "q", "extra"], "unexpected operand: extra"),
        (GET, vec!["-q", "q", "-z"], "-z: unknown option"),
        (DECLARE, vec![], "queue name not specified"),
        (DECLARE, vec!["-q", "q", "stray"], "unexpected operand: stray"),
        (DECLARE, vec!["-q", "q", "--durable=1"], "--durable"),
        (DELETE, vec![], "queue name not specified"),
        (DELETE, vec!["-q", "q", "--if-empty=x"], "--if-empty"),
        (DELETE, vec!["-q", "q", "-z"], "-z: unknown option"),
        // Bad numbers.
        (PUBLISH, vec!["--port", "70000", "-r", "q", "-b", "x"], "--port: 70000 is not a valid port number"),
        (PUBLISH, vec!["--port", "0", "-r", "q", "-b", "x"], "--port: 0 is not a valid port number"),
        (GET, vec!["--port", "-5", "-q", "q"], "--port: -5 is not a valid port number"),
        (GET, vec!["--port", "abc", "-q", "q"], "abc: invalid numeric value"),
        (GET, vec!["--port", "99999999999", "-q", "q"], "99999999999: number too large or too small"),
        (GET, vec!["--heartbeat", "-1", "-q", "q"], "--heartbeat must be a positive value"),
        (GET, vec!["--heartbeat", "70000", "-q", "q"], "--heartbeat: 70000 is too large"),
        (GET, vec!["--heartbeat", "abc", "-q", "q"], "abc: invalid numeric value"),
        (GET, vec!["--connect-timeout", "0", "-q", "q"], "--connect-timeout: 0 is not a positive number"),
        (GET, vec!["--connect-timeout", "-3", "-q", "q"], "--connect-timeout"),
        (GET, vec!["--connect-timeout", "soon", "-q", "q"], "soon: invalid numeric value"),
        (CONSUME, vec!["-c", "abc", "-q", "q", "cat"], "abc: invalid numeric value"),
        (CONSUME, vec!["-c", "1e3", "-q", "q", "cat"], "1e3: invalid numeric value"),
        (CONSUME, vec!["-p", "99999999999", "-q", "q", "cat"], "99999999999: number too large or too small"),
        (CONSUME, vec!["-p", "0x", "-q", "q", "cat"], "0x: invalid numeric value"),
        (PUBLISH, vec!["-r", "q", "--priority", "256", "-b", "x"], "256"),
        (PUBLISH, vec!["-r", "q", "--priority", "-1", "-b", "x"], "-1"),
        (PUBLISH, vec!["-r", "q", "--priority", "high", "-b", "x"], "high"),
        (PUBLISH, vec!["-r", "q", "--expiration", "soon", "-b", "x"], "soon"),
        (PUBLISH, vec!["-r", "q", "--expiration", "-1", "-b", "x"], "-1"),
        (PUBLISH, vec!["-r", "q", "--timestamp", "yesterday", "-b", "x"], "--timestamp: 'yesterday' is not a number of seconds"),
        (PUBLISH, vec!["-r", "q", "--timestamp=-5", "-b", "x"], "--timestamp"),
        // Bad values of the extensions.
        (PUBLISH, vec!["-r", "q", "--typed-header", "novalue", "-b", "x"], "--typed-header: "),
        (PUBLISH, vec!["-r", "q", "--typed-header", "=1", "-b", "x"], "--typed-header: "),
        (DECLARE, vec!["-q", "q", "--arg", "novalue"], "--arg"),
        (DECLARE, vec!["-q", "q", "--arg", "=5"], "--arg"),
        (CONSUME, vec!["--on-failure", "maybe", "-q", "q", "cat"], "maybe"),
        (CONSUME, vec!["--stream-offset", "yesterday", "-q", "q", "cat"], "'yesterday' is not a stream offset"),
        (CONSUME, vec!["--stream-offset", "-5", "-q", "q", "cat"], "'-5' is not a stream offset"),
        // An empty value is named by its own option, never by a neighbouring one.
        (CONSUME, vec!["--stream-offset", "", "-q", "q", "cat"], "^--stream-offset"),
        (PUBLISH, vec!["-r", "q", "--priority", "", "-b", "x"], "^--priority"),
        (PUBLISH, vec!["--expiration", "", "-b", "x", "-r", "q"], "^--expiration"),
        (CONSUME, vec!["--on-failure", "", "-q", "q", "cat"], "^--on-failure"),
        (CONSUME, vec!["--stream-offset", "10x", "-q", "q", "cat"], "'10x' is not a stream offset"),
        // Bad URLs and conflicts.
        (GET, vec!["--url", "http://u:p@h/", "-q", "q"], "Parsing URL 'http://u:****@h/': could not parse AMQP URL"),
        (GET, vec!["--url", "amqp://h/a/b", "-q", "q"], "Parsing URL 'amqp://h/a/b'"),
        (GET, vec!["--url", "amqp://h:", "-q", "q"], "Parsing URL 'amqp://h:'"),
        (GET, vec!["--url", "amqp://gu%zzest@h", "-q", "q"], "Parsing URL"),
        (GET, vec!["--url", "amqp://h:99999", "-q", "q"], "Parsing URL"),
        (GET, vec!["--url", "", "-q", "q"], "Parsing URL '': could not parse AMQP URL"),
        (PUBLISH, vec!["--url", u, "-s", "h", "-r", "q"], "--server and --url options cannot be used at the same time"),
        (CONSUME, vec!["--url", u, "--vhost", "v", "-q", "q", "cat"], "--vhost and --url options cannot be used at the same time"),
        (GET, vec!["--url", u, "--password", "p", "-q", "q"], "--password and --url options cannot be used at the same time"),
        (DECLARE, vec!["--url", u, "--username", "u", "-q", "q"], "--username and --url options cannot be used at the same time"),
        (DELETE, vec!["--url", u, "--port", "1", "-q", "q"], "--port and --url options cannot be used at the same time"),
        (GET, vec!["--ssl", "--url", u, "-q", "q"], "the --ssl option specifies an SSL connection but the --url option does not"),
        // Bad authfiles.
        (GET, vec!["--authfile", &missing, "-q", "q"], "Could not read auth data file"),
        (GET, vec!["--authfile", &directory, "-q", "q"], "Could not read auth data file"),
        (GET, vec!["--authfile", empty.path_str(), "-q", "q"], "Malformed auth file (missing username)"),
        (GET, vec!["--authfile", user_only.path_str(), "-q", "q"], "Malformed auth file (missing password)"),
        (GET, vec!["--authfile", password_only.path_str(), "-q", "q"], "Malformed auth file (missing username)"),
        (GET, vec!["--authfile", trailing.path_str(), "-q", "q"], "Malformed auth file (trailing data)"),
        (GET, vec!["--authfile", not_utf8.path_str(), "-q", "q"], "Malformed auth file (not UTF-8)"),
        (GET, vec!["--authfile", good.path_str(), "--username", "u", "-q", "q"], "--username and --authfile options cannot be used at the same time"),
        (GET, vec!["--authfile", good.path_str(), "--url", u, "-q", "q"], "--authfile and --url options cannot be used at the same time"),
        (GET, vec!["--authfile"], "--authfile: missing argument"),
    ];
    assert!(cases.len() >= 50);
    let mut problems = Vec::new();
    for (tool, args, expected) in &cases {
        let started = Instant::now();
        let out = run(tool, args, b"", &[]);
        let took = started.elapsed();
        let before_usage: Vec<&str> = out
            .stderr_lines()
            .into_iter()
            .take_while(|l| !l.starts_with("Usage:"))
            .collect();
        let fine = out.code == 1
            && before_usage.len() == 1
            && match expected.strip_prefix('^') {
                Some(prefix) => before_usage[0].starts_with(prefix),
                None => before_usage[0].contains(expected),
            }
            && !out.stderr.contains("panicked")
            && !out.stderr.contains("RUST_BACKTRACE")
            && took < Duration::from_secs(5);
        if !fine {
            problems.push(format!("{tool} {args:?} (took {took:?}): {out:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} bad invocations misbehaved:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------------
// 11. Passwords

#[test]
fn passwords_never_appear_in_any_output() {
    const SECRET: &str = "Sekr1t-Pa55word-xyzzy";
    let port = broker_port();
    let closed = closed_port();
    let authfile = TempFile::new(format!("username:guest\npassword:{SECRET}\n").as_bytes());
    let wrong = format!("amqp://guest:{SECRET}@127.0.0.1:{port}");
    let refused = format!("amqp://guest:{SECRET}@127.0.0.1:{closed}");
    let bad_host = format!("amqp://guest:{SECRET}@bad..host:{port}");
    let vhost = format!("amqp://guest:{SECRET}@127.0.0.1:{port}/nowhere");
    let unparsable = format!("amqp://guest:{SECRET}@127.0.0.1:{port}/a/b");
    let bad_escape = format!("amqp://guest:{SECRET}%zz@127.0.0.1:{port}");
    let port_text = port.to_string();
    let closed_text = closed.to_string();
    let mut cases: Vec<Vec<&str>> = Vec::new();
    for url in [
        &wrong,
        &refused,
        &bad_host,
        &vhost,
        &unparsable,
        &bad_escape,
    ] {
        cases.push(vec!["--url", url]);
        cases.push(vec!["--url", url, "--server", "h"]);
    }
    for port in [&port_text, &closed_text] {
        cases.push(vec![
            "-s",
            "127.0.0.1",
            "--port",
            port,
            "--password",
            SECRET,
        ]);
        cases.push(vec![
            "-s",
            "127.0.0.1",
            "--port",
            port,
            "--authfile",
            authfile.path_str(),
        ]);
        cases.push(vec![
            "-s",
            "127.0.0.1",
            "--port",
            port,
            "--password",
            SECRET,
            "--authfile",
            authfile.path_str(),
        ]);
    }
    cases.push(vec!["-s", "bad..host", "--password", SECRET]);
    let mut runs = 0;
    for case in &cases {
        for tool in TOOLS {
            for verbose in [false, true] {
                let mut args = case.clone();
                if verbose {
                    args.push("--verbose");
                }
                args.extend_from_slice(tool_args(tool));
                let out = run(tool, &args, b"", &[]);
                runs += 1;
                assert_ne!(out.code, 0, "{tool} {args:?} should fail: {out:?}");
                assert!(
                    !out.stderr.contains(SECRET) && !out.stdout_text().contains(SECRET),
                    "{tool} {args:?} printed the password: {out:?}"
                );
            }
        }
    }
    assert!(runs >= 100);
    // The environment's AMQP_URL too.
    for tool in TOOLS {
        let out = run(tool, tool_args(tool), b"", &[("AMQP_URL", wrong.as_str())]);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(!out.stderr.contains(SECRET), "{tool}: {out:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 12. Closed pipes

#[test]
fn a_command_that_ignores_a_large_body_is_judged_by_its_exit_status() {
    let queue = TestQueue::declare("rel-ignored-body");
    let big = vec![b'x'; 1024 * 1024];
    publish_bodies(queue.name(), &[&big, &big]);
    let out = amqp(CONSUME, &["-q", queue.name(), "-c", "1", "true"]);
    out.assert_ok();
    assert_eq!(out.stderr, "", "{out:?}");
    let out = amqp(CONSUME, &["-q", queue.name(), "-c", "1", "false"]);
    assert_eq!(out.code, 1, "{out:?}");
    wait_for_message_count(queue.name(), 1);
}

/// Runs `TOOL --url URL ARGS... | head -c1` and returns the tool's exit status and its stderr
/// (the tool's stderr goes to a file, read afterwards).
fn into_head(tool: &str, args: &[&str]) -> (String, String) {
    let errors = TempFile::new(b"");
    let script = r#"tool=$1; errors=$2; shift 2
{ "$tool" "$@" 2>"$errors"; echo "status $?" >&2; } | head -c1 >/dev/null"#;
    let tool_path = bin(tool);
    let url = broker_url();
    let mut all: Vec<&std::ffi::OsStr> = vec![
        "sh".as_ref(),
        tool_path.as_os_str(),
        errors.path().as_os_str(),
        "--url".as_ref(),
        url.as_ref(),
    ];
    all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    let out = run_sh(script, all);
    let status = out
        .stderr_lines()
        .iter()
        .find_map(|l| l.strip_prefix("status "))
        .unwrap_or_else(|| panic!("no status: {out:?}"))
        .to_string();
    let stderr = std::fs::read_to_string(errors.path()).unwrap_or_default();
    (status, stderr)
}

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

#[test]
fn consume_into_a_closed_pipe_ends_quietly_and_keeps_the_message() {
    let queue = TestQueue::declare("rel-consume-pipe");
    publish(queue.name(), b"keep me");
    let (status, stderr) = into_head(CONSUME, &["-q", queue.name(), "--", "sh", "-c", "yes"]);
    assert_eq!(status, "141", "stderr: {stderr}");
    assert_eq!(stderr, "");
    wait_for_message_count(queue.name(), 1);
    let message = get_message(queue.name()).expect("message kept");
    assert_eq!(message.body, b"keep me");
}
