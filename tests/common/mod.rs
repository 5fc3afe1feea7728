//! Shared helpers for the integration tests: run the real built binaries against the private
//! RabbitMQ node that `scripts/test` starts, and look at the broker's state through lapin and
//! `rabbitmqctl`.
//!
//! The tests need `AMQP_TEST_URL` (and `AMQP_TEST_CTL` for the few that ask rabbitmqctl); they
//! fail, never skip, without them.
//!
//! This is the one support module of every test file (`mod common; use common::*;`). Its
//! submodules serve one subject each:
//!
//! - [`scripts`]: the repeated shapes of the tests as CLI calls (`consume_one(&queue).sh(SCRIPT)
//!   .run()`, `rpc(queue).body(B).run()`, a queue declared with a message in it, an echo
//!   server, ...), so that a test reads as a script of CLI calls;
//! - [`faults`]: the faults the reliability tests inject (a connection closed by the broker,
//!   a frozen network, a slow input pipe, an output pipe closed early);
//! - [`tls`]: the test PKI, a small TLS server and a TLS front for the broker (`tests/tls.rs`);
//! - [`compat`]: the differential suite's machinery, the original C tools beside ours
//!   (`tests/compat.rs`);
//! - [`docs`]: reading the documentation files (`tests/man_pages.rs`, `tests/docs_agree.rs`).
#![allow(dead_code)]

pub mod compat;
pub mod docs;
pub mod faults;
pub mod scripts;
pub mod tls;

#[allow(unused_imports)]
pub use faults::*;
#[allow(unused_imports)]
pub use scripts::*;

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeleteOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long any one run of a tool may take before it is killed and the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait for the broker to show some state (a consumer, a queue) before failing.
pub const SETTLE: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// Environment

/// The five tools, as their binaries are named.
pub const TOOLS: [&str; 5] = [
    "amqp-publish",
    "amqp-consume",
    "amqp-get",
    "amqp-declare-queue",
    "amqp-delete-queue",
];

/// The value of the environment variable `name` that `scripts/test` sets; panics when it is
/// missing or empty (the tests need the private broker and must not pass without it).
pub fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set: run scripts/test, which starts the private broker with a TLS \
             listener (or start one with `scripts/rabbitmq start DIR --tls DIR/tls` and \
             `. DIR/env`)"
        ),
    }
}

/// The private broker's URL (`AMQP_TEST_URL`, e.g. `amqp://guest:guest@127.0.0.1:PORT`).
/// Panics when it is missing: the tests need the broker and must not pass without it.
pub fn broker_url() -> String {
    required_env("AMQP_TEST_URL")
}

/// The private broker's port (`AMQP_TEST_PORT`, else the port of [`broker_url`]).
pub fn broker_port() -> u16 {
    if let Ok(port) = std::env::var("AMQP_TEST_PORT")
        && let Ok(port) = port.parse()
    {
        return port;
    }
    let url = broker_url();
    let authority = url.split("://").nth(1).unwrap_or("").split('/').next();
    authority
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in AMQP_TEST_URL {url}"))
}

/// The broker's host as the tests name it.
pub const HOST: &str = "127.0.0.1";

/// A URL for the private broker with other credentials and vhost (`vhost` percent-encoded
/// by the caller; `None` for the default vhost).
pub fn url_with(user: &str, password: &str, vhost: Option<&str>) -> String {
    let base = format!("amqp://{user}:{password}@{HOST}:{}", broker_port());
    match vhost {
        Some(v) => format!("{base}/{v}"),
        None => base,
    }
}

/// Path of one of our built binaries.
pub fn bin(tool: &str) -> PathBuf {
    let path = match tool {
        "amqp-publish" => env!("CARGO_BIN_EXE_amqp-publish"),
        "amqp-consume" => env!("CARGO_BIN_EXE_amqp-consume"),
        "amqp-get" => env!("CARGO_BIN_EXE_amqp-get"),
        "amqp-declare-queue" => env!("CARGO_BIN_EXE_amqp-declare-queue"),
        "amqp-delete-queue" => env!("CARGO_BIN_EXE_amqp-delete-queue"),
        other => panic!("unknown tool {other}"),
    };
    PathBuf::from(path)
}

// ---------------------------------------------------------------------------------------------
// Running the tools

/// What a finished run of a tool left.
pub struct Output {
    /// Exit code; 128 + N when killed by signal N (as a shell reports it).
    pub code: i32,
    /// Everything written on standard output.
    pub stdout: Vec<u8>,
    /// Everything written on standard error (lossily decoded).
    pub stderr: String,
}

impl Output {
    /// Standard output as text (lossily decoded).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The lines written on standard error.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    /// The first line of standard error ("" when there is none).
    pub fn first_stderr_line(&self) -> &str {
        self.stderr.lines().next().unwrap_or("")
    }

    /// Asserts a successful run: exit 0.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success, got {self:?}");
        self
    }

    /// Asserts a successful run that wrote exactly the bytes `expected` on standard output.
    #[track_caller]
    pub fn assert_printed(&self, expected: impl AsRef<[u8]>) -> &Self {
        self.assert_ok();
        let expected = expected.as_ref();
        assert!(
            self.stdout == expected,
            "expected stdout {:?}, got {self:?}",
            String::from_utf8_lossy(expected)
        );
        self
    }

    /// Asserts a successful run that wrote nothing on standard error.
    #[track_caller]
    pub fn assert_ok_quietly(&self) -> &Self {
        self.assert_ok();
        assert_eq!(self.stderr, "", "{self:?}");
        self
    }

    /// Asserts exit `code` and the exact first line of standard error.
    #[track_caller]
    pub fn assert_error(&self, code: i32, first_line: &str) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code: {self:?}");
        assert_eq!(
            self.first_stderr_line(),
            first_line,
            "unexpected error message: {self:?}"
        );
        self
    }

    /// Asserts exit 1 and exactly two lines on standard error: `warning` about the one delivery,
    /// and the summary that it failed.
    #[track_caller]
    pub fn assert_one_delivery_failed(&self, warning: &str) -> &Self {
        assert_eq!(
            self.stderr_lines(),
            [
                warning,
                "1 of 1 deliveries failed: their commands did not exit 0"
            ],
            "{self:?}"
        );
        assert_eq!(self.code, 1, "{self:?}");
        self
    }

    /// Asserts exit `code`, `line` as the one line of standard error, and nothing on standard
    /// output.
    #[track_caller]
    pub fn assert_only_error(&self, code: i32, line: &str) -> &Self {
        self.assert_error(code, line).assert_no_stdout();
        assert_eq!(self.stderr_lines().len(), 1, "{self:?}");
        self
    }

    /// Asserts exit `code` and a first line of standard error that starts with `prefix`.
    #[track_caller]
    pub fn assert_error_starts(&self, code: i32, prefix: &str) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code: {self:?}");
        assert!(
            self.first_stderr_line().starts_with(prefix),
            "stderr should start with {prefix:?}: {self:?}"
        );
        self
    }

    /// Asserts that nothing was written on standard output.
    #[track_caller]
    pub fn assert_no_stdout(&self) -> &Self {
        assert!(self.stdout.is_empty(), "unexpected stdout: {self:?}");
        self
    }
}

/// Cuts `text` when it is longer than `longer_than` bytes: to at most `keep` bytes (on a
/// character boundary), followed by `tail`.
pub fn shorten(text: &mut String, longer_than: usize, keep: usize, tail: &str) {
    if text.len() > longer_than {
        let mut cut = keep;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(tail);
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = String::from_utf8_lossy(&self.stdout).into_owned();
        let tail = format!("... ({} bytes)", self.stdout.len());
        shorten(&mut shown, 2000, 2000, &tail);
        write!(
            f,
            "exit {}\n--- stdout ---\n{shown}\n--- stderr ---\n{}",
            self.code, self.stderr
        )
    }
}

/// Exit code, or 128 + N when killed by signal N (as a shell reports it).
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        _ => -1,
    }
}

fn command<I, S>(tool: &str, args: I, env: &[(&str, &str)]) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(bin(tool));
    command.args(args);
    // The tools read AMQP_URL when no connection option is given: never let the test
    // environment leak into a run that did not ask for it.
    command.env_remove("AMQP_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// A tool started in the background; killed (and reaped) on drop if still running.
pub struct Running {
    what: String,
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

fn drain(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>, done: mpsc::Sender<()>) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 64 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buffer[..n]),
            }
        }
        let _ = done.send(());
    });
}

/// Starts `tool` with `args` and `env` (AMQP_URL removed unless set there). `stdin`: `None`
/// for /dev/null, else these bytes (then closed).
pub fn spawn<I, S>(tool: &str, args: I, stdin: Option<Vec<u8>>, env: &[(&str, &str)]) -> Running
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    spawn_command(command(tool, args, env), stdin)
}

/// Starts any command with piped stdout and stderr. `stdin`: `None` for /dev/null, else these
/// bytes (then closed).
pub fn spawn_command(command: Command, stdin: Option<Vec<u8>>) -> Running {
    let (running, pipe) = spawn_piped(command, stdin.is_some());
    if let (Some(bytes), Some(mut pipe)) = (stdin, pipe) {
        std::thread::spawn(move || {
            // The tool may exit without reading everything; that is for the test to judge.
            let _ = pipe.write_all(&bytes);
        });
    }
    running
}

/// Starts any command with piped stdout and stderr; its standard input is a pipe returned to
/// the caller to write as it goes (`piped_stdin`) or /dev/null.
pub fn spawn_piped(mut command: Command, piped_stdin: bool) -> (Running, Option<ChildStdin>) {
    let what = format!("{command:?}");
    command
        .stdin(if piped_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let pipe = child.stdin.take();
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done) = mpsc::channel();
    drain(
        child.stdout.take().expect("stdout pipe"),
        stdout.clone(),
        done_tx.clone(),
    );
    drain(
        child.stderr.take().expect("stderr pipe"),
        stderr.clone(),
        done_tx,
    );
    let running = Running {
        what,
        child,
        stdout,
        stderr,
        done,
    };
    (running, pipe)
}

/// Runs `command` to its end and returns its output; fails the test, naming it `what` and
/// showing its standard error, when it cannot be started or exits non-zero.
#[track_caller]
pub fn run_checked(command: &mut Command, what: &str) -> std::process::Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Starts any command with piped stdout and stderr and a pipe on its standard input that the
/// caller writes as it goes (the tool sees the end of its input when the pipe is dropped).
pub fn spawn_command_fed(command: Command) -> (Running, ChildStdin) {
    let (running, pipe) = spawn_piped(command, true);
    (running, pipe.expect("stdin pipe"))
}

/// Runs a `sh -c SCRIPT` with `args` as `$0`, `$1`, ... (AMQP_URL removed), with the
/// [`TIMEOUT`] of every run.
#[track_caller]
pub fn run_sh<I, S>(script: &str, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(script)
        .args(args)
        .env_remove("AMQP_URL");
    spawn_command(command, None).wait()
}

impl Running {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Standard error written so far.
    pub fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Standard output written so far.
    pub fn stdout_so_far(&self) -> Vec<u8> {
        self.stdout.lock().unwrap().clone()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits (up to [`SETTLE`]) for a line of standard error that starts with `prefix` and
    /// returns it. Fails the test if the process exits or the time runs out first.
    #[track_caller]
    pub fn wait_for_stderr_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + SETTLE;
        loop {
            let text = self.stderr_so_far();
            if let Some(line) = text.lines().find(|l| l.starts_with(prefix))
                && (text.contains(&format!("{line}\n")))
            {
                return line.to_string();
            }
            if !self.is_running() || Instant::now() > deadline {
                let what = self.what.clone();
                let output = self.finish();
                panic!("{what}: no stderr line starting with {prefix:?}: {output:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends signal `signal` to the process.
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) with a pid we started and have not reaped yet.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
    }

    /// Waits for the process to exit (at most [`TIMEOUT`]) and returns what it left. On
    /// timeout the process is killed and the test fails.
    #[track_caller]
    pub fn wait(mut self) -> Output {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    let what = self.what.clone();
                    let output = self.finish();
                    panic!("{what} did not finish within {TIMEOUT:?}, killed: {output:?}");
                }
                Err(e) => panic!("waiting for {}: {e}", self.what),
            }
        }
        self.finish()
    }

    /// Reaps the process (killing it if needed) and collects its output; the pipes are read
    /// until EOF or for at most 5 s more (a grandchild may hold them open).
    fn finish(&mut self) -> Output {
        let status = match self.child.try_wait() {
            Ok(Some(status)) => status,
            _ => {
                let _ = self.child.kill();
                self.child.wait().expect("wait")
            }
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.done.recv_timeout(left).is_err() {
                break;
            }
        }
        Output {
            code: exit_code(status),
            stdout: std::mem::take(&mut *self.stdout.lock().unwrap()),
            stderr: String::from_utf8_lossy(&std::mem::take(&mut *self.stderr.lock().unwrap()))
                .into_owned(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `tool` with `args`, `stdin` as its standard input and `env` added to its environment
/// (AMQP_URL removed unless set there); fails the test if it runs longer than [`TIMEOUT`].
#[track_caller]
pub fn run<I, S>(tool: &str, args: I, stdin: &[u8], env: &[(&str, &str)]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    spawn(tool, args, Some(stdin.to_vec()), env).wait()
}

/// Runs `tool` against the private broker: `--url BROKER` followed by `args`, empty stdin.
#[track_caller]
pub fn amqp(tool: &str, args: &[&str]) -> Output {
    amqp_stdin(tool, args, b"")
}

/// Runs `tool` with `args` and asserts that it fails with exit 1 and `first_line` first on
/// standard error, having written nothing on standard output; returns what it printed.
#[track_caller]
pub fn assert_refused(tool: &str, args: &[&str], first_line: &str) -> Output {
    let out = amqp(tool, args);
    out.assert_error(1, first_line).assert_no_stdout();
    out
}

/// As [`amqp`], with `stdin` as standard input.
#[track_caller]
pub fn amqp_stdin(tool: &str, args: &[&str], stdin: &[u8]) -> Output {
    let url = broker_url();
    let mut all = vec!["--url", url.as_str()];
    all.extend_from_slice(args);
    run(tool, all, stdin, &[])
}

/// Starts `tool` against the private broker in the background: `--url BROKER` then `args`.
pub fn amqp_spawn(tool: &str, args: &[&str]) -> Running {
    let url = broker_url();
    let mut all = vec!["--url", url.as_str()];
    all.extend_from_slice(args);
    spawn(tool, all, None, &[])
}

// ---------------------------------------------------------------------------------------------
// Names, files, ports

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test, run or parallel run uses: prefix, pid, counter, time.
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "amqp-tools-test.{prefix}.{}.{n}.{nanos}",
        std::process::id()
    )
}

/// A queue name for a test; the queue (if any) is deleted when the guard drops.
pub struct TestQueue {
    name: String,
}

impl TestQueue {
    /// A fresh name; nothing is declared (the tool under test may create it).
    pub fn named(prefix: &str) -> Self {
        TestQueue {
            name: unique_name(prefix),
        }
    }

    /// A fresh, declared (non-durable, not auto-delete) queue.
    pub fn declare(prefix: &str) -> Self {
        let queue = Self::named(prefix);
        declare_queue(&queue.name);
        queue
    }

    /// A guard for a name chosen elsewhere (e.g. by the server).
    pub fn adopt(name: &str) -> Self {
        TestQueue {
            name: name.to_string(),
        }
    }

    /// The queue name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestQueue {
    fn drop(&mut self) {
        // Best effort; a queue already gone (auto-delete, exclusive) is fine.
        let _ = try_delete(Guarded::Queue, &self.name);
    }
}

/// What a test guard deletes when it drops.
enum Guarded {
    Queue,
    Exchange,
}

/// Deletes the queue or exchange `name` (a guard's, when it drops).
fn try_delete(what: Guarded, name: &str) -> lapin::Result<()> {
    try_with_channel(async |channel: &Channel| match what {
        Guarded::Queue => channel
            .queue_delete(name.into(), QueueDeleteOptions::default())
            .await
            .map(drop),
        Guarded::Exchange => {
            channel
                .exchange_delete(name.into(), ExchangeDeleteOptions::default())
                .await
        }
    })
}

/// A fresh exchange of `kind`, deleted on drop.
pub struct TestExchange {
    name: String,
}

impl TestExchange {
    /// Declares a non-durable exchange of `kind` under a unique name.
    pub fn declare(prefix: &str, kind: ExchangeKind) -> Self {
        let name = unique_name(prefix);
        let declared = name.clone();
        with_channel(async move |channel: &Channel| {
            channel
                .exchange_declare(
                    declared.as_str().into(),
                    kind,
                    Default::default(),
                    FieldTable::default(),
                )
                .await
                .expect("exchange.declare")
        });
        TestExchange { name }
    }

    /// The exchange name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestExchange {
    fn drop(&mut self) {
        let _ = try_delete(Guarded::Exchange, &self.name);
    }
}

/// A file in the temp directory with `contents`, removed on drop.
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// Writes `contents` to a fresh file.
    pub fn new(contents: &[u8]) -> Self {
        let path = std::env::temp_dir().join(unique_name("file"));
        std::fs::write(&path, contents).expect("write temp file");
        TempFile { path }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's path as text.
    pub fn path_str(&self) -> &str {
        self.path.to_str().expect("UTF-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A fresh empty directory in the temp directory, removed with its files on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates the directory, its name starting with `label`.
    pub fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(unique_name(label));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The directory's path as text.
    pub fn path_str(&self) -> &str {
        self.0.to_str().expect("UTF-8 temp path")
    }

    /// How many entries the directory holds.
    pub fn entries(&self) -> usize {
        std::fs::read_dir(&self.0).map(|d| d.count()).unwrap_or(0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A vhost of its own, with guest's permissions; deleted on drop (with its queues).
pub struct TestVhost {
    /// The vhost's name.
    pub name: String,
}

impl TestVhost {
    /// Creates a vhost named `PREFIX.<unique>` and gives guest every permission on it.
    pub fn new(prefix: &str) -> Self {
        let name = unique_name(prefix);
        ctl(&["-q", "add_vhost", &name]);
        let vhost = TestVhost { name };
        vhost.permit("guest");
        vhost
    }

    /// Gives `user` every permission (configure, write, read) on the vhost.
    pub fn permit(&self, user: &str) {
        ctl(&[
            "-q",
            "set_permissions",
            "-p",
            &self.name,
            user,
            ".*",
            ".*",
            ".*",
        ]);
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        let _ = try_ctl(&["-q", "delete_vhost", &self.name]);
    }
}

/// A broker user for one test, with no permissions; deleted on drop.
pub struct TestUser {
    /// The user's name.
    pub name: String,
}

impl TestUser {
    /// Creates a user named `user.<unique>` with `password`.
    pub fn new(password: &str) -> TestUser {
        let name = unique_name("user");
        ctl(&["add_user", &name, password]);
        TestUser { name }
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        if std::env::var_os("AMQP_TEST_CTL").is_some() {
            let _ = try_ctl(&["delete_user", &self.name]);
        }
    }
}

/// A local TCP port with nothing listening on it (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind((HOST, 0)).expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    port
}

/// Polls `probe` every 50 ms until it gives `Some`, for at most [`SETTLE`]; fails the test
/// naming `what` otherwise.
#[track_caller]
pub fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + SETTLE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------------
// The broker through lapin

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// Runs a future on the tests' shared runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

async fn connect() -> lapin::Result<Connection> {
    Connection::connect(
        &broker_url(),
        ConnectionProperties::default().with_connection_name("amqp-tools-tests".into()),
    )
    .await
}

/// Opens a connection and a channel, runs `work` on the channel, closes the connection.
/// Connection failures are returned as errors.
pub fn try_with_channel<T>(
    work: impl AsyncFnOnce(&Channel) -> lapin::Result<T>,
) -> lapin::Result<T> {
    let deadline = TIMEOUT;
    block_on(async move {
        let attempt = async {
            let connection = connect().await?;
            let channel = connection.create_channel().await?;
            let result = work(&channel).await;
            let _ = connection.close(200, "OK".into()).await;
            result
        };
        match tokio::time::timeout(deadline, attempt).await {
            Ok(result) => result,
            Err(_) => panic!("broker operation did not finish within {deadline:?}"),
        }
    })
}

/// As [`try_with_channel`] for work that cannot fail; a connection failure fails the test.
#[track_caller]
pub fn with_channel<T>(work: impl AsyncFnOnce(&Channel) -> T) -> T {
    try_with_channel(async move |channel: &Channel| Ok(work(channel).await))
        .unwrap_or_else(|e| panic!("cannot reach the broker at {}: {e}", broker_url()))
}

/// The AMQP reply code of a failed operation (404, 405, 406, ...), if it was one.
pub fn reply_code(error: &lapin::Error) -> Option<u16> {
    match error.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => Some(amqp.get_id()),
        _ => None,
    }
}

/// Declares a non-durable, non-exclusive, not auto-delete queue.
pub fn declare_queue(name: &str) {
    let name = name.to_string();
    with_channel(async move |channel: &Channel| {
        channel
            .queue_declare(
                name.as_str().into(),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("queue.declare");
    });
}

/// Binds `queue` to `exchange` with the binding key `key`.
pub fn bind_queue(queue: &str, exchange: &str, key: &str) {
    with_channel(async |channel: &Channel| {
        channel
            .queue_bind(
                queue.into(),
                exchange.into(),
                key.into(),
                Default::default(),
                Default::default(),
            )
            .await
            .expect("queue.bind")
    });
}

/// Deletes a queue (no error if it does not exist).
pub fn delete_queue(name: &str) {
    let name = name.to_string();
    with_channel(async move |channel: &Channel| {
        channel
            .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
            .await
            .expect("queue.delete");
    });
}

/// Message and consumer counts of a queue from a passive queue.declare, or the reply code
/// of the refusal (404 missing, 405 exclusive to another connection).
pub fn queue_status(name: &str) -> Result<(u32, u32), u16> {
    let owned = name.to_string();
    let result = try_with_channel(async move |channel: &Channel| {
        channel
            .queue_declare(
                owned.as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
    });
    match result {
        Ok(queue) => Ok((queue.message_count(), queue.consumer_count())),
        Err(error) => Err(reply_code(&error)
            .unwrap_or_else(|| panic!("passive queue.declare of {name:?}: {error}"))),
    }
}

/// True if the queue exists (including an exclusive queue of another connection).
pub fn queue_exists(name: &str) -> bool {
    match queue_status(name) {
        Ok(_) => true,
        Err(405) => true,
        Err(404) => false,
        Err(code) => panic!("passive queue.declare of {name:?}: reply code {code}"),
    }
}

/// Waits until the queue `name` is gone (an auto-delete or exclusive queue once its connection
/// has ended); fails the test naming `what` if it stays past [`SETTLE`].
#[track_caller]
pub fn wait_for_queue_to_go(what: &str, name: &str) {
    wait_until(what, || (!queue_exists(name)).then_some(()));
}

/// The numbers of ready messages and of consumers of a queue; fails the test if the queue does
/// not exist.
#[track_caller]
fn queue_counts(name: &str) -> (u32, u32) {
    match queue_status(name) {
        Ok(counts) => counts,
        Err(code) => panic!("queue {name:?} cannot be inspected: reply code {code}"),
    }
}

/// The number of ready messages in a queue; fails the test if the queue does not exist.
#[track_caller]
pub fn queue_message_count(name: &str) -> u32 {
    queue_counts(name).0
}

/// Waits (up to [`SETTLE`]) until `name` holds exactly `expected` ready messages: messages a
/// closing consumer left unacknowledged return to the queue asynchronously.
#[track_caller]
pub fn wait_for_message_count(name: &str, expected: u32) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let count = queue_message_count(name);
        if count == expected {
            return;
        }
        if Instant::now() > deadline {
            panic!("queue {name:?} holds {count} messages, expected {expected}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The number of consumers of a queue; fails the test if the queue does not exist.
#[track_caller]
pub fn queue_consumer_count(name: &str) -> u32 {
    queue_counts(name).1
}

/// Waits until `name` has at least one consumer.
#[track_caller]
pub fn wait_for_consumer(name: &str) {
    wait_until(&format!("a consumer on {name}"), || {
        matches!(queue_status(name), Ok((_, n)) if n > 0).then_some(())
    });
}

/// Publishes each body to `exchange` with `routing_key` and `properties`, waiting for the
/// broker's confirms (a nack fails the test).
pub fn publish_messages(
    exchange: &str,
    routing_key: &str,
    bodies: &[&[u8]],
    properties: BasicProperties,
) {
    let (exchange, routing_key) = (exchange.to_string(), routing_key.to_string());
    let bodies: Vec<Vec<u8>> = bodies.iter().map(|b| b.to_vec()).collect();
    with_channel(async move |channel: &Channel| {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirm.select");
        let mut confirms = Vec::new();
        for body in &bodies {
            confirms.push(
                channel
                    .basic_publish(
                        exchange.as_str().into(),
                        routing_key.as_str().into(),
                        BasicPublishOptions::default(),
                        body,
                        properties.clone(),
                    )
                    .await
                    .expect("basic.publish"),
            );
        }
        for confirm in confirms {
            assert!(confirm.await.expect("confirm").is_ack(), "publish nacked");
        }
    });
}

/// Publishes `body` to `exchange` with `routing_key`, waiting for the broker's confirm.
pub fn publish_to(exchange: &str, routing_key: &str, body: &[u8]) {
    publish_messages(exchange, routing_key, &[body], BasicProperties::default());
}

/// Publishes each body to `queue` through the default exchange, with confirms.
pub fn publish_bodies(queue: &str, bodies: &[&[u8]]) {
    publish_messages("", queue, bodies, BasicProperties::default());
}

/// Publishes each of the owned `bodies` to `queue`, as [`publish_bodies`].
pub fn publish_all<B: AsRef<[u8]>>(queue: &str, bodies: &[B]) {
    let refs: Vec<&[u8]> = bodies.iter().map(AsRef::as_ref).collect();
    publish_bodies(queue, &refs);
}

/// Publishes one message with `body` to `queue` through the default exchange.
pub fn publish(queue: &str, body: &[u8]) {
    publish_bodies(queue, &[body]);
}

/// A message taken from a queue, with the properties the tools set.
#[derive(Debug, Clone)]
pub struct Message {
    pub body: Vec<u8>,
    pub delivery_mode: Option<u8>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub reply_to: Option<String>,
    pub headers: Option<BTreeMap<String, AMQPValue>>,
    pub redelivered: bool,
}

impl Message {
    /// A header's value as text, for string-valued headers.
    pub fn header(&self, key: &str) -> Option<String> {
        match self.headers.as_ref()?.get(key)? {
            AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
            AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
            other => panic!("header {key} is not a string: {other:?}"),
        }
    }
}

fn to_message(message: lapin::message::BasicGetMessage) -> Message {
    let delivery = message.delivery;
    let p = &delivery.properties;
    Message {
        body: delivery.data.clone(),
        delivery_mode: *p.delivery_mode(),
        content_type: p.content_type().as_ref().map(|s| s.to_string()),
        content_encoding: p.content_encoding().as_ref().map(|s| s.to_string()),
        reply_to: p.reply_to().as_ref().map(|s| s.to_string()),
        headers: p.headers().as_ref().map(|t| {
            t.inner()
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        }),
        redelivered: delivery.redelivered,
    }
}

/// Takes up to `limit` messages from `queue` (basic.get, no-ack) on one connection, in order,
/// stopping early when the queue is empty. Fails the test if the queue does not exist.
#[track_caller]
pub fn get_messages(queue: &str, limit: usize) -> Vec<Message> {
    let queue = queue.to_string();
    with_channel(async move |channel: &Channel| {
        let mut messages = Vec::new();
        while messages.len() < limit {
            let got = channel
                .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap_or_else(|e| panic!("basic.get from {queue:?}: {e}"));
            match got {
                Some(message) => messages.push(to_message(message)),
                None => break,
            }
        }
        messages
    })
}

/// Takes the next message from `queue` (basic.get, no-ack), or `None` if it is empty. Fails
/// the test if the queue does not exist.
#[track_caller]
pub fn get_message(queue: &str) -> Option<Message> {
    get_messages(queue, 1).into_iter().next()
}

/// Takes every message left in `queue`, in order.
#[track_caller]
pub fn drain_queue(queue: &str) -> Vec<Message> {
    get_messages(queue, usize::MAX)
}

/// Takes every message from `queue` and asserts there was exactly one; returns it.
#[track_caller]
pub fn only_message(queue: &TestQueue) -> Message {
    let messages = drain_queue(queue.name());
    assert_eq!(messages.len(), 1, "expected one message: {messages:?}");
    messages.into_iter().next().unwrap()
}

/// All 256 byte values, twice, with runs of NULs: a body no text handling survives.
pub fn binary_body() -> Vec<u8> {
    let mut body: Vec<u8> = (0..=255u8).collect();
    body.extend_from_slice(&[0, 0, 0, b'\n', 0, b'\r', b'\n']);
    body.extend((0..=255u8).rev());
    body
}

// ---------------------------------------------------------------------------------------------
// rabbitmqctl

/// A rabbitmqctl run that exited non-zero: what it printed and how it ended.
#[derive(Debug)]
pub struct CtlFailure {
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// Its exit code (128 + N when killed by signal N).
    pub code: i32,
}

/// Runs the private node's rabbitmqctl (`AMQP_TEST_CTL`) with `args`; fails the test if it
/// cannot be run or takes longer than [`TIMEOUT`]. Returns its standard output when it
/// succeeds, else what it printed.
#[track_caller]
pub fn try_ctl(args: &[&str]) -> Result<String, CtlFailure> {
    let mut command = Command::new(required_env("AMQP_TEST_CTL"));
    command.args(args);
    let out = spawn_command(command, None).wait();
    let stdout = out.stdout_text();
    if out.code == 0 {
        Ok(stdout)
    } else {
        Err(CtlFailure {
            stdout,
            stderr: out.stderr,
            code: out.code,
        })
    }
}

/// Runs the private node's rabbitmqctl (`AMQP_TEST_CTL`) with `args`; fails the test if it
/// fails or takes longer than [`TIMEOUT`]. Returns its standard output.
#[track_caller]
pub fn ctl(args: &[&str]) -> String {
    try_ctl(args).unwrap_or_else(|failed| {
        panic!(
            "rabbitmqctl {args:?} failed (exit {}):\n{}\n{}",
            failed.code, failed.stdout, failed.stderr
        )
    })
}

/// Runs a rabbitmqctl listing command (`list_queues`, `list_bindings`, ...) with JSON output
/// and returns its rows. A listing that fails is tried again (up to 5 times): rabbitmqctl
/// exits 70 with `badrpc` when a queue it is asking goes away meanwhile, which tests running
/// in parallel do all the time.
#[track_caller]
pub fn ctl_rows(args: &[&str]) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let mut all = vec!["-q", "--formatter", "json"];
    all.extend_from_slice(args);
    let mut attempts = 1;
    let out = loop {
        match try_ctl(&all) {
            Ok(out) => break out,
            Err(_) if attempts < 5 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(_) => break ctl(&all),
        }
    };
    let value: serde_json::Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("rabbitmqctl {args:?}: not JSON ({e}): {out}"));
    value
        .as_array()
        .unwrap_or_else(|| panic!("rabbitmqctl {args:?}: not a JSON array: {out}"))
        .iter()
        .map(|row| row.as_object().expect("JSON object row").clone())
        .collect()
}

/// The routing keys of the bindings from `exchange` to `queue`, as rabbitmqctl lists them.
#[track_caller]
pub fn binding_keys(exchange: &str, queue: &str) -> Vec<String> {
    ctl_rows(&[
        "list_bindings",
        "source_name",
        "destination_name",
        "routing_key",
    ])
    .into_iter()
    .filter(|r| r["source_name"] == exchange && r["destination_name"] == queue)
    .map(|r| r["routing_key"].as_str().expect("key").to_string())
    .collect()
}
