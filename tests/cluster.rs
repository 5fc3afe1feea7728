//! Node lists and connect-time failover against a real private cluster of three RabbitMQ nodes
//! (`scripts/rabbitmq-cluster`, started by `scripts/test`, which exports
//! `AMQP_TEST_CLUSTER_URLS` and `AMQP_TEST_CLUSTER_DIR`).
//!
//! The tests kill and restart nodes, so they run one at a time (a lock held for each test),
//! and each leaves every node running, as it found the cluster.

mod common;

use common::{Output, closed_port, run, unique_name};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

/// One test at a time touches the cluster.
static CLUSTER: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    CLUSTER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn required(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the cluster tests through scripts/test"))
}

/// The cluster's three URLs (`amqp://guest:guest@127.0.0.1:PORT`), node 1 first.
fn urls() -> Vec<String> {
    required("AMQP_TEST_CLUSTER_URLS")
        .split(',')
        .map(str::to_string)
        .collect()
}

/// The port of node `n` (1..3).
fn port(n: usize) -> String {
    urls()[n - 1].rsplit(':').next().unwrap().to_string()
}

/// `host:port` of node `n`, as the tools name it.
fn host_port(n: usize) -> String {
    format!("127.0.0.1:{}", port(n))
}

/// Runs `scripts/rabbitmq-cluster COMMAND DIR ARGS...`; fails the test if it fails.
#[track_caller]
fn script(command: &str, args: &[&str]) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/rabbitmq-cluster");
    let output = Command::new(path)
        .arg(command)
        .arg(required("AMQP_TEST_CLUSTER_DIR"))
        .args(args)
        .output()
        .expect("running scripts/rabbitmq-cluster");
    assert!(
        output.status.success(),
        "rabbitmq-cluster {command} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Node `n` killed (`kill -9`) for as long as this lives; restarted (and back in service)
/// when it drops, even when the test fails.
struct Down(usize);

impl Down {
    fn kill(n: usize) -> Self {
        script("kill", &[&n.to_string()]);
        Down(n)
    }

    /// A clean stop (`rabbitmqctl stop`): its clients get 320 CONNECTION_FORCED.
    fn shut_down(n: usize) -> Self {
        script("shutdown", &[&n.to_string()]);
        Down(n)
    }
}

impl Drop for Down {
    fn drop(&mut self) {
        script("restart", &[&self.0.to_string()]);
    }
}

/// Runs `tool` with `args`, no `AMQP_URL`.
#[track_caller]
fn tool(tool: &str, args: &[&str]) -> Output {
    run(tool, args, b"", &[])
}

/// amqp-declare-queue's arguments for a durable quorum queue (members on all three nodes).
const QUORUM: &[&str] = &["-d", "--arg", "x-queue-type=quorum"];

/// The cluster's URLs as one node list: node `first` first, then the nodes after it (wrapping).
fn list_from(first: usize) -> String {
    let all = urls();
    (0..all.len())
        .map(|i| all[(first - 1 + i) % all.len()].as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The node (1..3) that leads quorum queue `queue` now (`rabbitmqctl list_queues name leader`
/// on node 1; node names end in `-nN@localhost`).
fn leader(queue: &str) -> usize {
    let listing = script("ctl", &["1", "-q", "list_queues", "name", "leader"]);
    listing
        .lines()
        .find_map(|line| {
            let (name, node) = line.split_once('\t')?;
            if name != queue {
                return None;
            }
            node.trim()
                .rsplit_once('@')?
                .0
                .rsplit("-n")
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no leader for {queue} in: {listing}"))
}

/// A queue declared through node `on` (a quorum queue's first leader is that node), with
/// `args` added to amqp-declare-queue; deleted again at the end of the test.
struct Queue(String);

impl Queue {
    fn declare(on: usize, prefix: &str, args: &[&str]) -> Self {
        let name = unique_name(prefix);
        let list = urls()[on - 1].clone();
        let mut all = vec!["--url", &list, "-q", &name];
        all.extend_from_slice(args);
        tool("amqp-declare-queue", &all).assert_ok();
        Queue(name)
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let list = urls().join(",");
        let _ = tool("amqp-delete-queue", &["--url", &list, "-q", &self.0]);
    }
}

#[test]
fn cluster_first_node_down_moves_to_the_next_node() {
    let _cluster = lock();
    // Its leader on node 2: losing node 1 costs no leader election (a publish during one is
    // refused with basic.nack for a moment).
    let queue = Queue::declare(2, "cluster-first-down", QUORUM);
    let list = urls().join(",");
    let down = Down::kill(1);
    let published = tool(
        "amqp-publish",
        &["--url", &list, "-r", &queue.0, "-b", "survived"],
    );
    published.assert_ok();
    assert_eq!(
        published.stderr_lines(),
        [format!(
            "warning: opening socket to {}: connection refused (trying the next node, {})",
            host_port(1),
            host_port(2)
        )],
        "{published:?}"
    );
    // Every tool fails over the same way; --server lists share --port and the credentials.
    let got = tool(
        "amqp-get",
        &[
            "--server",
            &format!("127.0.0.1:{},127.0.0.1:{}", port(1), port(3)),
            "-q",
            &queue.0,
        ],
    );
    got.assert_ok();
    assert_eq!(got.stdout_text(), "survived");
    assert_eq!(got.stderr_lines().len(), 2, "{got:?}"); // deprecation + one warning
    drop(down);
}

#[test]
fn cluster_all_nodes_down_is_one_line_naming_each_node() {
    let _cluster = lock();
    let (a, b, c) = (closed_port(), closed_port(), closed_port());
    let list = format!(
        "amqp://guest:secret,pw@127.0.0.1:{a},amqps://guest:secret,pw@127.0.0.1:{b},amqp://127.0.0.1:{c}"
    );
    let out = tool("amqp-declare-queue", &["--url", &list, "-q", "never"]);
    assert_eq!(out.code, 1, "{out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert!(
        lines[..2].iter().all(|l| l.starts_with("warning: ")),
        "{out:?}"
    );
    let last = lines[2];
    assert!(
        last.starts_with("connecting to any of 3 nodes: ")
            && [a, b, c]
                .iter()
                .all(|p| last.contains(&format!("127.0.0.1:{p}: connection refused"))),
        "{out:?}"
    );
    assert!(!out.stderr.contains("secret"), "{out:?}");
}

#[test]
fn cluster_refused_login_does_not_move_to_the_next_node() {
    let _cluster = lock();
    let list = urls()
        .iter()
        .map(|u| u.replace("guest:guest@", "guest:wrong,pw@"))
        .collect::<Vec<_>>()
        .join(",");
    let out = tool("amqp-declare-queue", &["--url", &list, "-q", "never"]);
    out.assert_error_starts(
        1,
        "logging in to AMQP server: server connection error 403, message: ACCESS_REFUSED",
    );
    assert_eq!(out.stderr_lines().len(), 1, "no other node tried: {out:?}");
    assert!(!out.stderr.contains("wrong,pw"), "{out:?}");
}

#[test]
fn cluster_password_with_a_comma_in_a_url_list() {
    let _cluster = lock();
    let user = unique_name("c14user");
    script("ctl", &["1", "-q", "add_user", &user, "pa,ss:w@rd"]);
    script(
        "ctl",
        &["1", "-q", "set_permissions", &user, ".*", ".*", ".*"],
    );
    let encoded = "pa,ss%3Aw%40rd";
    let list = format!(
        "amqp://{user}:{encoded}@127.0.0.1:{},amqp://{user}:{encoded}@127.0.0.1:{}",
        closed_port(),
        port(2)
    );
    let queue = unique_name("cluster-comma");
    let out = tool(
        "amqp-declare-queue",
        &["--url", &list, "-q", &queue, "--auto-delete"],
    );
    script("ctl", &["1", "-q", "delete_user", &user]);
    out.assert_ok();
    assert_eq!(out.stdout_text(), format!("{queue}\n"));
    assert!(!out.stderr.contains("pa,ss"), "{out:?}");
}

#[test]
fn cluster_timeout_ends_a_run_without_quorum() {
    let _cluster = lock();
    let queue = Queue::declare(1, "cluster-no-quorum", QUORUM);
    let down = (Down::kill(2), Down::kill(3));
    let survivor = &urls()[0];
    // Without --timeout both would wait forever for the quorum (and so does the original).
    let published = tool(
        "amqp-publish",
        &[
            "--url",
            survivor,
            "-r",
            &queue.0,
            "-b",
            "m",
            "--timeout",
            "3",
        ],
    );
    published.assert_error(1, "--timeout: the run did not finish within 3 s");
    let got = tool(
        "amqp-get",
        &["--url", survivor, "-q", &queue.0, "--timeout", "2.5"],
    );
    got.assert_error(1, "--timeout: the run did not finish within 2.5 s");
    got.assert_no_stdout();
    drop(down);
}

#[test]
fn cluster_classic_queue_on_a_dead_node_is_refused_not_lost() {
    let _cluster = lock();
    // A durable classic queue lives on node 1 only.
    let queue = Queue::declare(1, "cluster-classic", &["-d"]);
    let down = Down::kill(1);
    let list = urls().join(",");
    // With a node list, a publish to the default exchange is mandatory: RabbitMQ would confirm
    // and drop it (its queue's node is down); it comes back unroutable instead.
    let refused = tool(
        "amqp-publish",
        &["--url", &list, "-r", &queue.0, "-b", "kept?"],
    );
    assert_eq!(refused.code, 1, "{refused:?}");
    let last = refused.stderr_lines().last().copied().unwrap_or("");
    assert!(
        last.starts_with("basic.return: 312 NO_ROUTE")
            && last.ends_with("(1 of 1 message not confirmed)"),
        "{refused:?}"
    );
    // --no-mandatory is the original's behaviour: confirmed, exit 0, and the message lost.
    tool(
        "amqp-publish",
        &[
            "--url",
            &list,
            "-r",
            &queue.0,
            "-b",
            "lost",
            "--no-mandatory",
        ],
    )
    .assert_ok();
    drop(down);
    let got = tool("amqp-get", &["--url", &list, "-q", &queue.0]);
    assert_eq!(got.code, 2, "the queue is empty: {got:?}");
}

/// Every body on `queue` (through the whole node list), the queue drained: consumed as JSON
/// lines until none came for 2 s (amqp-get, one round trip each, is too slow for 20000).
fn drain(queue: &str) -> Vec<String> {
    let list = urls().join(",");
    let got = tool(
        "amqp-consume",
        &["--url", &list, "-q", queue, "--idle-timeout", "2", "--json"],
    );
    got.assert_ok();
    payloads(&got)
}

/// The bodies of `amqp-consume --json`'s lines on standard output.
fn payloads(consumed: &Output) -> Vec<String> {
    consumed
        .stdout_text()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            v["payload"].as_str().expect("a text payload").to_string()
        })
        .collect()
}

/// What a run's bodies add up to: how many, the distinct ones, the duplicates.
struct Tally {
    bodies: usize,
    distinct: std::collections::BTreeSet<String>,
}

impl Tally {
    fn of(bodies: impl IntoIterator<Item = String>) -> Self {
        let mut tally = Tally {
            bodies: 0,
            distinct: Default::default(),
        };
        for body in bodies {
            tally.bodies += 1;
            tally.distinct.insert(body);
        }
        tally
    }

    fn duplicates(&self) -> usize {
        self.bodies - self.distinct.len()
    }

    /// Fails the test when a body of `expected` is not among these (lost), saying how many
    /// and showing `run`.
    #[track_caller]
    fn assert_none_lost(
        &self,
        expected: impl IntoIterator<Item = String>,
        run: &dyn std::fmt::Debug,
    ) {
        let lost: Vec<String> = expected
            .into_iter()
            .filter(|body| !self.distinct.contains(body))
            .collect();
        assert!(
            lost.is_empty(),
            "{} lost (the first: {:?}): {run:?}",
            lost.len(),
            lost.first()
        );
    }
}

/// The bodies `lines(range)` publishes (`-l` keeps each line's newline).
fn bodies(range: std::ops::Range<usize>) -> impl Iterator<Item = String> {
    range.map(|i| format!("line-{i:05}\n"))
}

/// How many messages the publisher's `warning: reconnected to ...` lines say it sent again.
fn resent(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.starts_with("warning: reconnected to "))
        .map(|l| {
            if l.contains("every message published so far was confirmed") {
                0
            } else if l.contains("publishing 1 unconfirmed message again") {
                1
            } else {
                let n = l.split("publishing ").nth(1).unwrap_or("");
                n.split(' ')
                    .next()
                    .unwrap()
                    .parse::<usize>()
                    .unwrap_or_else(|_| panic!("{l}"))
            }
        })
        .sum()
}

/// `amqp-publish --url LIST ARGS...` with a pipe on its standard input.
fn fed_publisher(args: &[&str]) -> (common::Running, std::process::ChildStdin) {
    let mut command = Command::new(common::bin("amqp-publish"));
    command.args(args).env_remove("AMQP_URL");
    let (running, stdin) = common::spawn_piped(command, true);
    (running, stdin.expect("a stdin pipe"))
}

fn lines(range: std::ops::Range<usize>) -> Vec<u8> {
    bodies(range).collect::<String>().into_bytes()
}

#[test]
fn cluster_line_publisher_survives_its_node_killed() {
    use std::io::Write;
    let _cluster = lock();
    const TOTAL: usize = 20_000;
    // The leader on node 2: killing node 1 (the publisher's) costs no election.
    let queue = Queue::declare(2, "cluster-l-kill", QUORUM);
    let list = urls().join(",");
    let (running, mut stdin) = fed_publisher(&["--url", &list, "-r", &queue.0, "-l"]);
    stdin.write_all(&lines(0..TOTAL / 2)).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let down = Down::kill(1);
    stdin.write_all(&lines(TOTAL / 2..TOTAL)).unwrap();
    drop(stdin);
    let published = running.wait();
    published.assert_ok();
    let resent = resent(&published.stderr);
    assert!(
        published
            .stderr
            .contains(&format!("warning: reconnected to {}", host_port(2))),
        "{published:?}"
    );
    let tally = Tally::of(drain(&queue.0));
    let duplicates = tally.duplicates();
    eprintln!(
        "published {TOTAL} lines, {} on the queue, {} distinct, {duplicates} duplicates, {resent} re-sent",
        tally.bodies,
        tally.distinct.len()
    );
    tally.assert_none_lost(bodies(0..TOTAL), &published);
    assert!(
        duplicates <= resent,
        "{duplicates} duplicates > {resent} re-sent"
    );
    drop(down);
}

#[test]
fn cluster_spent_reconnect_budget_is_one_line() {
    use std::io::Write;
    let _cluster = lock();
    let queue = Queue::declare(2, "cluster-budget", QUORUM);
    // Node 1, then a port nobody listens on: once node 1 is gone no node is left.
    let list = format!(
        "{},amqp://guest:guest@127.0.0.1:{}",
        urls()[0],
        closed_port()
    );
    let (running, mut stdin) = fed_publisher(&[
        "--url",
        &list,
        "-r",
        &queue.0,
        "-l",
        "--reconnect",
        "1",
        "--reconnect-delay",
        "0.2",
    ]);
    stdin.write_all(&lines(0..100)).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let down = Down::kill(1);
    let _ = stdin.write_all(&lines(100..200));
    drop(stdin);
    let out = running.wait();
    assert_eq!(out.code, 1, "{out:?}");
    let lines = out.stderr_lines();
    let failures: Vec<&&str> = lines
        .iter()
        .filter(|l| !l.starts_with("warning: "))
        .collect();
    assert_eq!(failures.len(), 1, "{out:?}");
    assert!(
        failures[0].contains("gave up after 1 reconnect attempt"),
        "{out:?}"
    );
    drop(down);
}

/// `amqp-publish --url LIST -r QUEUE -l` of `lines(range)`; fails the test unless it exits 0.
fn publish_lines(list: &str, queue: &str, range: std::ops::Range<usize>) {
    run(
        "amqp-publish",
        ["--url", list, "-r", queue, "-l"],
        &lines(range),
        &[],
    )
    .assert_ok();
}

/// How many `warning:` lines of `run` hold `text`.
fn warnings(run: &Output, text: &str) -> usize {
    run.stderr_lines()
        .iter()
        .filter(|l| l.starts_with("warning: ") && l.contains(text))
        .count()
}

/// The queue holds nothing more (`amqp-get` through the whole list exits 2).
#[track_caller]
fn assert_empty(queue: &str) {
    let got = tool("amqp-get", &["--url", &urls().join(","), "-q", queue]);
    assert_eq!(got.code, 2, "the queue should be empty: {got:?}");
}

#[test]
fn cluster_consumer_survives_its_node_killed() {
    let _cluster = lock();
    const TOTAL: usize = 300;
    const KILL_AT: usize = 50;
    let queue = Queue::declare(2, "cluster-c-kill", QUORUM);
    publish_lines(&urls().join(","), &queue.0, 0..TOTAL);
    // The consumer's node is not the queue's leader: the kill costs no election.
    let home = leader(&queue.0) % 3 + 1;
    let dir = common::TempDir::new("cluster-c-kill");
    let (log, go) = (dir.path().join("log"), dir.path().join("go"));
    // Each command appends its body (a line); the one that writes line KILL_AT waits until
    // the node is killed, so that the kill lands mid-command, every earlier ack long sent.
    let command = format!(
        r#"cat >>"$0"; [ "$(wc -l <"$0")" -ne {KILL_AT} ] || while [ ! -e "$1" ]; do sleep 0.05; done"#
    );
    let (list, count) = (list_from(home), TOTAL.to_string());
    let paths = [&log, &go].map(|p| p.to_str().expect("a UTF-8 temp path"));
    let args: [&str; 12] = [
        "--url", &list, "-q", &queue.0, "-c", &count, "--", "sh", "-c", &command, paths[0],
        paths[1],
    ];
    let consumer = common::spawn("amqp-consume", args, None, &[]);
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    common::wait_until("the consumer's lines", || {
        (logged().lines().count() >= KILL_AT).then_some(())
    });
    let down = Down::kill(home);
    std::fs::write(&go, b"").expect("the go file");
    let consumed = consumer.wait();
    let tally = Tally::of(logged().split_inclusive('\n').map(str::to_string));
    let again = warnings(&consumed, "the message will be delivered again");
    eprintln!(
        "consumer: {TOTAL} messages, {} processed, {} distinct, {} duplicates, {again} announced",
        tally.bodies,
        tally.distinct.len(),
        tally.duplicates()
    );
    consumed.assert_ok();
    assert_eq!(warnings(&consumed, "reconnected to "), 1, "{consumed:?}");
    tally.assert_none_lost(bodies(0..TOTAL), &consumed);
    // The one command running when the node died could not be acked, and says so; every
    // earlier ack had reached the node.
    assert_eq!((tally.duplicates(), again), (1, 1), "{consumed:?}");
    assert_empty(&queue.0);
    drop(down);
}

#[test]
fn cluster_quorum_leader_killed_one_process_per_message() {
    let _cluster = lock();
    const TOTAL: usize = 200;
    const KILL_AT: usize = 40;
    let queue = Queue::declare(3, "cluster-leader-kill", QUORUM);
    let leader = leader(&queue.0);
    // The leader last: each process connects to a healthy node, whose queue member the
    // leader's death leaves without a leader until the other two elect one.
    let list = list_from(leader % 3 + 1);
    let mut killing = None;
    let (mut confirmed, mut failed, mut retried) = (Vec::new(), Vec::new(), 0);
    for (i, body) in bodies(0..TOTAL).enumerate() {
        if i == KILL_AT {
            killing = Some(std::thread::spawn(move || Down::kill(leader)));
        }
        // A publish refused while the leader is elected (basic.nack) is published again after
        // a delay; refused again, on a new connection (RabbitMQ 3.10 can keep refusing on the
        // first one for over 30 s, while new connections are accepted at once). Without
        // --retry-nacked, up to 20 processes of 200 failed in 9 runs.
        let args = [
            "--url",
            &list,
            "-r",
            &queue.0,
            "-b",
            &body,
            "--retry-nacked",
            "5",
        ];
        match tool("amqp-publish", &args) {
            out if out.code == 0 => {
                retried += usize::from(!out.stderr.is_empty());
                confirmed.push(body);
            }
            out => failed.push(out),
        }
    }
    let down = killing.map(|k| k.join().expect("the kill"));
    let tally = Tally::of(drain(&queue.0));
    let causes: std::collections::BTreeSet<&str> = failed
        .iter()
        .filter_map(|out| out.stderr_lines().last().copied())
        .collect();
    eprintln!(
        "{TOTAL} processes, {} exited 0 ({retried} after warnings), {} failed ({causes:?}), {} on the queue, {} duplicates",
        confirmed.len(),
        failed.len(),
        tally.bodies,
        tally.duplicates()
    );
    for out in &failed {
        // A failure says why, in one line that is not a warning.
        assert_eq!(out.code, 1, "{out:?}");
        let last = out.stderr_lines().last().copied().unwrap_or("");
        assert!(
            !last.is_empty() && !last.starts_with("warning: "),
            "{out:?}"
        );
    }
    tally.assert_none_lost(confirmed, &failed);
    // Every refusal of the election was cured by publishing again (on a new connection after
    // a second refusal): no process failed.
    assert!(failed.is_empty(), "{failed:?}");
    drop(down);
}

/// All three nodes stopped cleanly and started again, one after the other, under an `-l`
/// publisher and a `-c N` consumer, both given the node list and no other option: both exit 0,
/// every line is consumed or left on the queue.
#[test]
fn cluster_rolling_restart_loses_nothing() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let _cluster = lock();
    const TOTAL: usize = 10_000;
    let queue = Queue::declare(1, "cluster-rolling", QUORUM);
    let count = TOTAL.to_string();
    let consumer = common::spawn(
        "amqp-consume",
        [
            "--url",
            &list_from(1),
            "-q",
            &queue.0,
            "-c",
            &count,
            "--json",
            // Ends a consumer short of -c (a message lost) instead of hanging.
            "--idle-timeout",
            "10",
        ],
        None,
        &[],
    );
    // A leader moving away from a node shutting down refuses publishes for a moment: with a
    // node list, --retry-nacked defaults to 5 (with 0, 1 run in 10 exited 1 with `basic.nack:
    // ... (40 of 3040 messages not confirmed)`, nothing lost).
    let (publisher, mut stdin) = fed_publisher(&["--url", &list_from(2), "-r", &queue.0, "-l"]);
    // 20 lines every 100 ms while the nodes restart, then the rest at once.
    let restarting = std::sync::Arc::new(AtomicBool::new(true));
    let feeding = restarting.clone();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let mut next = 0;
        // A publisher that stopped reading has exited; its status tells why.
        let mut feed = |range| stdin.write_all(&lines(range)).and_then(|()| stdin.flush());
        while feeding.load(Ordering::Relaxed) && next < TOTAL && feed(next..next + 20).is_ok() {
            next += 20;
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = feed(next..TOTAL);
        next
    });
    let started = std::time::Instant::now();
    for n in 1..=3 {
        drop(Down::shut_down(n));
    }
    let took = started.elapsed();
    restarting.store(false, Ordering::Relaxed);
    let fed_slowly = feeder.join().expect("the feeder");
    let (published, consumed) = (publisher.wait(), consumer.wait());
    // The consumer's -c counts deliveries, duplicates too: the drain takes what it left.
    let (taken, left) = (payloads(&consumed), drain(&queue.0));
    eprintln!(
        "rolling restart in {took:?}: {fed_slowly} lines fed during it, {TOTAL} in all; \
         consumer took {}, {} left on the queue; {} re-sent; {} and {} reconnects",
        taken.len(),
        left.len(),
        resent(&published.stderr),
        warnings(&published, "reconnected to "),
        warnings(&consumed, "reconnected to "),
    );
    let tally = Tally::of(taken.into_iter().chain(left));
    eprintln!(
        "{} distinct, {} duplicates",
        tally.distinct.len(),
        tally.duplicates()
    );
    published.assert_ok();
    consumed.assert_ok();
    tally.assert_none_lost(bodies(0..TOTAL), &(&published, &consumed));
}
