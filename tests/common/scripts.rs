//! The shapes the tests repeat, named once, so that a test reads as a script of CLI calls:
//! `consume(queue).count(1).sh("exit 3").run()` for `amqp-consume --url BROKER -q QUEUE -c 1
//! -- sh -c 'exit 3'`, `rpc(queue).body("x").run()` for an `amqp-publish --rpc` request, and
//! the checks of what such a call printed.

use std::collections::BTreeMap;

use super::{Output, Running, TestQueue, broker_url, spawn, wait_for_consumer};

/// `amqp-consume`.
pub const CONSUME: &str = "amqp-consume";
/// `amqp-publish`.
pub const PUBLISH: &str = "amqp-publish";
/// `amqp-get`.
pub const GET: &str = "amqp-get";
/// `amqp-declare-queue`.
pub const DECLARE: &str = "amqp-declare-queue";
/// `amqp-delete-queue`.
pub const DELETE: &str = "amqp-delete-queue";

/// One invocation of a tool against the private broker (`--url BROKER` first), built argument
/// by argument, then run to its end ([`Call::run`]) or started ([`Call::spawn`]).
#[must_use]
pub struct Call {
    tool: &'static str,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    url: Option<String>,
    env: Vec<(String, String)>,
}

/// A call of `tool` with no arguments yet.
pub fn call(tool: &'static str) -> Call {
    Call {
        tool,
        args: Vec::new(),
        stdin: None,
        url: None,
        env: Vec::new(),
    }
}

/// `amqp-consume -q QUEUE`.
pub fn consume(queue: &str) -> Call {
    call(CONSUME).args(["-q", queue])
}

/// `amqp-consume -q QUEUE -c 1`: consume one delivery (the command, `-- sh -c SCRIPT` or
/// other options, follow).
pub fn consume_one(queue: &TestQueue) -> Call {
    consume(queue.name()).count(1)
}

/// `amqp-publish -r QUEUE` (to the default exchange, so to the queue of that name).
pub fn publish_cli(queue: &str) -> Call {
    call(PUBLISH).args(["-r", queue])
}

/// `amqp-publish -r QUEUE --rpc`: a request to the server consuming from `queue`.
pub fn rpc(queue: &str) -> Call {
    publish_cli(queue).arg("--rpc")
}

/// `amqp-declare-queue -q QUEUE`.
pub fn declare_cli(queue: &str) -> Call {
    call(DECLARE).args(["-q", queue])
}

/// A queue declared by `amqp-declare-queue` to hold at most `max_length` messages and to refuse
/// (nack) any publish beyond them.
pub fn declare_reject_publish(prefix: &str, max_length: u32) -> TestQueue {
    let queue = TestQueue::named(prefix);
    declare_cli(queue.name())
        .args(["--arg", &format!("x-max-length={max_length}")])
        .args(["--arg", "x-overflow=reject-publish"])
        .run()
        .assert_ok();
    queue
}

/// A queue declared by `amqp-declare-queue` with the further `options`, whose dead letters go
/// (through the default exchange) to a fresh declared queue: `(queue, dead-letter queue)`.
pub fn declare_with_dead_letters(prefix: &str, options: &[&str]) -> (TestQueue, TestQueue) {
    let dlq = TestQueue::declare(&format!("{prefix}-dlq"));
    let queue = TestQueue::named(prefix);
    declare_cli(queue.name())
        .args(["--arg", "x-dead-letter-exchange=", "--arg"])
        .arg(format!("x-dead-letter-routing-key={}", dlq.name()))
        .args(options.iter().copied())
        .run()
        .assert_ok();
    (queue, dlq)
}

/// `amqp-get -q QUEUE`.
pub fn get_cli(queue: &str) -> Call {
    call(GET).args(["-q", queue])
}

impl Call {
    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// An option and its value, as two arguments: `-e EXCHANGE`.
    pub fn opt(self, option: &str, value: impl Into<String>) -> Self {
        self.arg(option).arg(value)
    }

    /// `-c N`: consume (or get) `n` messages.
    pub fn count(self, n: u32) -> Self {
        self.args(["-c".to_string(), n.to_string()])
    }

    /// `-b BODY`: the body of the message to publish.
    pub fn body(self, body: &str) -> Self {
        self.args(["-b", body])
    }

    /// `--typed-header KEY=VALUE` for each of `headers`.
    pub fn typed_headers(mut self, headers: &[&str]) -> Self {
        for header in headers {
            self = self.opt("--typed-header", *header);
        }
        self
    }

    /// `--reply-timeout SECONDS`.
    pub fn reply_timeout(self, seconds: u32) -> Self {
        self.args(["--reply-timeout".to_string(), seconds.to_string()])
    }

    /// `-- sh -c SCRIPT`: the consuming command is a shell script.
    pub fn sh(self, script: &str) -> Self {
        self.args(["--", "sh", "-c", script])
    }

    /// `-- sh -c SCRIPT sh ARGS...`: a shell script with positional parameters `$1`, ...
    pub fn sh_with<I, S>(self, script: &str, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.sh(script).arg("sh").args(args)
    }

    /// The consuming command appends each body as a line to `log`, then runs `then` (shell
    /// text such as `"; sleep 3"`, or `""`): `-- sh -c 'body=$(cat); printf '%s\n' "$body"
    /// >> "$1"THEN' sh LOG`.
    pub fn log_bodies_to(self, log: &super::TempFile, then: &str) -> Self {
        let script = format!(r#"body=$(cat); printf '%s\n' "$body" >> "$1"{then}"#);
        self.sh_with(&script, [log.path_str()])
    }

    /// The bytes written on the tool's standard input (then closed). Without it, [`Call::run`]
    /// gives an empty input and [`Call::spawn`] /dev/null.
    pub fn stdin(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.stdin = Some(bytes.as_ref().to_vec());
        self
    }

    /// Connects to `url` instead of the private broker's URL.
    pub fn url(mut self, url: &str) -> Self {
        self.url = Some(url.to_string());
        self
    }

    /// Sets `name` to `value` in the tool's environment.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Starts the tool: `--url URL` then the arguments, `stdin` as in [`super::spawn`].
    fn start(&self, stdin: Option<Vec<u8>>) -> Running {
        let url = self.url.clone().unwrap_or_else(broker_url);
        let mut all = vec!["--url", url.as_str()];
        all.extend(self.args.iter().map(String::as_str));
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        spawn(self.tool, all, stdin, &env)
    }

    /// Runs the call to its end (bounded by [`super::TIMEOUT`]).
    #[track_caller]
    pub fn run(self) -> Output {
        self.start(Some(self.stdin.clone().unwrap_or_default()))
            .wait()
    }

    /// Starts the call in the background.
    pub fn spawn(self) -> Running {
        self.start(self.stdin.clone())
    }

    /// Starts a consumer and returns once the broker shows it consuming from `queue`.
    pub fn spawn_consuming(self, queue: &str) -> Running {
        let running = self.spawn();
        wait_for_consumer(queue);
        running
    }
}

/// An `amqp-consume --reply` server on `queue` with the options `extra`, replying with what
/// `command` writes, started and consuming.
pub fn reply_server(queue: &str, extra: &[&str], command: &[&str]) -> Running {
    consume(queue)
        .arg("--reply")
        .args(extra.iter().copied())
        .arg("--")
        .args(command.iter().copied())
        .spawn_consuming(queue)
}

/// An `amqp-consume --reply` server on `queue` with the options `extra` and the command `cat`
/// (an echo server), started and consuming.
pub fn echo_server(queue: &str, extra: &[&str]) -> Running {
    reply_server(queue, extra, &["cat"])
}

/// Waits for a consumer to end and asserts that it succeeded having written exactly
/// `expected` on standard output; returns what it printed.
#[track_caller]
pub fn assert_consumed(consumer: Running, expected: &[u8]) -> Output {
    let out = consumer.wait();
    out.assert_printed(expected);
    out
}

/// Stops a server with SIGTERM and checks it ended as a stopped consumer does (exit 143) with
/// nothing on stderr.
#[track_caller]
pub fn stop(server: Running) {
    server.signal(libc::SIGTERM);
    let out = server.wait();
    assert_eq!(out.code, 143, "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
}

/// Asserts exit 1 and exactly one line on stderr, returning that line.
#[track_caller]
pub fn assert_one_line_failure(out: &Output) -> String {
    assert_eq!(out.code, 1, "expected exit 1: {out:?}");
    assert_eq!(
        out.stderr_lines().len(),
        1,
        "expected exactly one line on stderr: {out:?}"
    );
    out.first_stderr_line().to_string()
}

/// Lines of a text file (none when it does not exist).
pub fn file_lines(path: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Parses `... (N of M message(s) not confirmed)` at the end of a line.
pub fn unconfirmed_counts(line: &str) -> Option<(u64, u64)> {
    let inner = line.strip_suffix(" not confirmed)")?;
    let inner = inner
        .strip_suffix(" messages")
        .or_else(|| inner.strip_suffix(" message"))?;
    let (_, counts) = inner.rsplit_once(" (")?;
    let (n, m) = counts.split_once(" of ")?;
    Some((n.parse().ok()?, m.parse().ok()?))
}

/// Declares a queue, publishes `body` to it and returns the queue (deleted on drop).
pub fn queue_with(prefix: &str, body: &[u8]) -> TestQueue {
    let queue = TestQueue::declare(prefix);
    super::publish(queue.name(), body);
    queue
}

/// The `AMQP_*` variables the command saw, one delivery.
pub fn consumed_environment(queue: &str) -> BTreeMap<String, String> {
    let out = consume(queue).count(1).sh("cat >/dev/null; env").run();
    out.assert_ok();
    out.stdout_text()
        .lines()
        .filter(|l| l.starts_with("AMQP_") && !l.starts_with("AMQP_TEST_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The gate file of a consumer's commands that log to `log`: `LOG.go`.
fn gate_path(log: &super::TempFile) -> String {
    format!("{}.go", log.path_str())
}

/// A shell command that waits (20 s at most) while `condition` holds and the gate of `log` is
/// not open ([`open_gate`]): a consumer's command stays running until the test has done what
/// it must do meanwhile (close the connection), however slow `rabbitmqctl` is on a busy
/// machine, rather than racing it with a `sleep`.
pub fn wait_at_gate(log: &super::TempFile, condition: &str) -> String {
    let gate = gate_path(log);
    format!(
        r#"i=0; while {condition} && [ ! -e '{gate}' ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done"#
    )
}

/// Opens the gate of `log` ([`wait_at_gate`]); it is removed when the result is dropped.
pub fn open_gate(log: &super::TempFile) -> OpenGate {
    let path = gate_path(log);
    std::fs::write(&path, b"").expect("the gate file");
    OpenGate(path)
}

/// An open gate ([`open_gate`]), removed on drop.
pub struct OpenGate(String);

impl Drop for OpenGate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
