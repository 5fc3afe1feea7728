//! The machinery of the differential suite (tests/compat.rs): run one invocation with the
//! original C tool (/usr/bin/amqp-X) and with ours, each from the same freshly prepared broker
//! state, and compare exit code, stdout, stderr and the broker state left behind.
//!
//! A case names its broker objects with placeholders that expand to names unique to the case
//! (and to this test process), the same for both sides:
//!
//! | placeholder | expands to |
//! |---|---|
//! | `{ID}` | `cmp.<case>.<pid>` |
//! | `{Q}`, `{Q2}` | `{ID}.q`, `{ID}.q2` (queues) |
//! | `{X}` | `{ID}.x` (an exchange) |
//! | `{K}` | `{ID}.k` (a routing key) |
//! | `{PORT}` | the private broker's AMQP port |
//! | `{URL}` | `amqp://guest:guest@127.0.0.1:{PORT}` |
//! | `{DIR}` | a scratch directory of the case (authfiles, marker files) |
//!
//! Sides run one after the other: setup, C tool, snapshot, reset (delete everything the case
//! touches, set up again), our tool, snapshot, cleanup.

#![allow(dead_code)]

pub mod amqp;

use super::{TOOLS, bin, broker_port, exit_code, try_ctl};

use amqp::{Client, FieldValue, Message, Properties, Routed, show_bytes};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one run of a tool may take before it is killed and the case fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(25);
/// How many times an empty rabbitmqctl listing of a live observation is asked for.
const EMPTY_LISTING_ATTEMPTS: u32 = 8;

/// How long to wait for a live condition (a marker file, a routed message).
const LIVE_TIMEOUT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// Environment

/// Checks once that the original tools are installed; panics (the suite must fail, never
/// skip) when one is missing. The broker comes from [`super::broker_port`], which panics when
/// `AMQP_TEST_URL` is not set.
pub fn require_c_tools() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        for tool in TOOLS {
            let path = c_tool(tool);
            assert!(
                path.exists(),
                "{} is missing: the differential suite compares against the original \
                 amqp-tools (apt-get install amqp-tools)",
                path.display()
            );
        }
    });
}

fn c_tool(tool: &str) -> PathBuf {
    PathBuf::from(format!("/usr/bin/{tool}"))
}

/// A connection to the private broker as guest on vhost `/`.
pub fn broker() -> Client {
    let port = broker_port();
    Client::connect(port, "guest", "guest", "/")
        .unwrap_or_else(|e| panic!("cannot connect to the private broker on port {port}: {e}"))
}

/// Runs the broker's rabbitmqctl wrapper and returns its stdout, whether it succeeded or not
/// (a listing names what it found; `add_user` of an existing user changes nothing).
fn ctl(args: &[&str]) -> String {
    try_ctl(args).unwrap_or_else(|failed| failed.stdout)
}

/// The user `compat us er` with password `p@ss:w/rd%` (created once per test process), for
/// percent-encoding cases.
pub const SPECIAL_USER: &str = "compat us er";
pub const SPECIAL_PASSWORD: &str = "p@ss:w/rd%";

pub fn ensure_special_user() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        ctl(&["add_user", SPECIAL_USER, SPECIAL_PASSWORD]);
        ctl(&["set_permissions", "-p", "/", SPECIAL_USER, ".*", ".*", ".*"]);
    });
}

// ---------------------------------------------------------------------------------------------
// Cases

/// Which side of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    C,
    Ours,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::C => "C (/usr/bin)",
            Side::Ours => "ours",
        }
    }
}

/// How standard output is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutMode {
    /// Byte for byte (after normalising server-generated names).
    Exact,
    /// A help/usage text: only which stream carries output (stdout non-empty, stderr empty
    /// on both sides) and the exit code.
    Help,
}

/// How standard error is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrMode {
    /// Whole stderr equal; but when the C tool follows its first line with its popt usage
    /// text, only the first lines are compared, and ours must print a `Usage:` line too.
    Auto,
    /// Whole stderr byte for byte.
    Exact,
    /// The first lines equal.
    FirstLine,
    /// The first `n` characters of the first lines equal.
    Prefix(usize),
    /// The leading context of the C tool's first line (before `, message: `, else before the
    /// first `: `, else all of it) starts our first line.
    FirstLineContext,
}

/// What a case compares when it is marked [`Case::differs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aspect {
    Exit,
    Stdout,
    Stderr,
    State,
    Live,
}

type Check = Box<dyn Fn(&SideResult) -> Result<(), String>>;

/// Broker objects prepared (again) before each side runs.
#[derive(Debug, Clone)]
enum Setup {
    Queue {
        name: String,
        durable: bool,
        auto_delete: bool,
    },
    Exchange(String),
    Bind {
        queue: String,
        exchange: String,
        key: String,
    },
    Publish {
        exchange: String,
        key: String,
        properties: Box<Properties>,
        body: Vec<u8>,
    },
    Consumer(String),
}

/// Something done while the tool runs (consume cases), in this order: publish the messages
/// (mandatory, retried until routed), wait for `{DIR}/started` (or the tool's exit), take the
/// rabbitmqctl observations, send `kill` (if any), create `{DIR}/go`.
#[derive(Debug, Clone, Default)]
pub struct Live {
    publish: Vec<(String, String, Vec<u8>)>,
    wait_started: bool,
    observe: Vec<Observe>,
    kill: Option<i32>,
}

/// A rabbitmqctl listing taken while the tool runs, filtered to the lines naming the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observe {
    /// `list_consumers queue_name ack_required prefetch_count`
    Consumers,
    /// `list_bindings source_name destination_name routing_key`
    Bindings,
    /// `list_queues name durable auto_delete exclusive`
    Queues,
    /// The heartbeat (`timeout`) of the connection consuming from the case's queues, found
    /// through list_consumers → list_channels → list_connections.
    Heartbeat,
}

impl Live {
    pub fn new() -> Live {
        Live::default()
    }
    /// Publishes `body` to `exchange` with `key` once the tool runs (retried until routed).
    pub fn publish(mut self, exchange: &str, key: &str, body: &[u8]) -> Live {
        self.publish
            .push((exchange.to_string(), key.to_string(), body.to_vec()));
        self
    }
    /// Waits until the consumer's command created `{DIR}/started` (see [`block_cmd`]).
    pub fn wait_started(mut self) -> Live {
        self.wait_started = true;
        self
    }
    pub fn observe(mut self, what: Observe) -> Live {
        self.observe.push(what);
        self
    }
    /// Sends `signal` to the tool after the observations (before releasing the command).
    pub fn kill(mut self, signal: i32) -> Live {
        self.kill = Some(signal);
        self
    }
}

/// A consumer command that copies the body to stdout, creates `{DIR}/started` and blocks
/// until `{DIR}/go` exists (the harness creates it after its observations).
pub fn block_cmd() -> Vec<&'static str> {
    vec![
        "--",
        "sh",
        "-c",
        "cat; : > \"$0/started\"; while [ ! -e \"$0/go\" ]; do sleep 0.02; done",
        "{DIR}",
    ]
}

/// One differential case.
pub struct Case {
    name: String,
    tool: String,
    args: Vec<String>,
    stdin: Vec<u8>,
    env: Vec<(String, String)>,
    files: Vec<(String, Vec<u8>)>,
    setup: Vec<Setup>,
    inspect: Vec<String>,
    inspect_printed: bool,
    stdout_closed: bool,
    out_mode: OutMode,
    err_mode: ErrMode,
    live: Option<Live>,
    differs: Option<(String, Check, Check, Vec<Aspect>)>,
}

/// Builds a case named after the calling test (`case!(...)` is shorter).
pub fn case(name: &str, tool: &str) -> Case {
    Case {
        name: name.to_string(),
        tool: tool.to_string(),
        args: Vec::new(),
        stdin: Vec::new(),
        env: Vec::new(),
        files: Vec::new(),
        setup: Vec::new(),
        inspect: Vec::new(),
        inspect_printed: false,
        stdout_closed: false,
        out_mode: OutMode::Exact,
        err_mode: ErrMode::Auto,
        live: None,
        differs: None,
    }
}

impl Case {
    /// Appends arguments (placeholders allowed).
    pub fn args<I, S>(mut self, args: I) -> Case
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }
    /// Appends `--server 127.0.0.1 --port {PORT}`.
    pub fn conn(self) -> Case {
        self.args(["--server", "127.0.0.1", "--port", "{PORT}"])
    }
    /// Appends `-u {URL}`.
    pub fn url(self) -> Case {
        self.args(["-u", "{URL}"])
    }
    pub fn stdin(mut self, bytes: impl AsRef<[u8]>) -> Case {
        self.stdin = bytes.as_ref().to_vec();
        self
    }
    pub fn env(mut self, key: &str, value: &str) -> Case {
        self.env.push((key.to_string(), value.to_string()));
        self
    }
    /// A file `{DIR}/name` created before each side runs.
    pub fn file(mut self, name: &str, bytes: impl AsRef<[u8]>) -> Case {
        self.files.push((name.to_string(), bytes.as_ref().to_vec()));
        self
    }
    /// A non-durable queue, declared before each side and inspected after it.
    pub fn queue(self, name: &str) -> Case {
        self.queue_with(name, false, false)
    }
    pub fn queue_with(mut self, name: &str, durable: bool, auto_delete: bool) -> Case {
        self.setup.push(Setup::Queue {
            name: name.to_string(),
            durable,
            auto_delete,
        });
        self.inspect(name)
    }
    /// A direct exchange declared before each side (deleted afterwards).
    pub fn exchange(mut self, name: &str) -> Case {
        self.setup.push(Setup::Exchange(name.to_string()));
        self
    }
    pub fn bind(mut self, queue: &str, exchange: &str, key: &str) -> Case {
        self.setup.push(Setup::Bind {
            queue: queue.to_string(),
            exchange: exchange.to_string(),
            key: key.to_string(),
        });
        self
    }
    /// A message with only a body, put on `queue` (default exchange) before each side.
    pub fn msg(self, queue: &str, body: impl AsRef<[u8]>) -> Case {
        self.msg_with(queue, Properties::default(), body)
    }
    pub fn msg_with(mut self, queue: &str, properties: Properties, body: impl AsRef<[u8]>) -> Case {
        self.setup.push(Setup::Publish {
            exchange: String::new(),
            key: queue.to_string(),
            properties: Box::new(properties),
            body: body.as_ref().to_vec(),
        });
        self
    }
    /// A consumer on `queue` held by the harness while the tool runs.
    pub fn consumer(mut self, queue: &str) -> Case {
        self.setup.push(Setup::Consumer(queue.to_string()));
        self
    }
    /// Inspects `queue` afterwards (existence, flags, every message) without declaring it.
    pub fn inspect(mut self, queue: &str) -> Case {
        if !self.inspect.iter().any(|q| q == queue) {
            self.inspect.push(queue.to_string());
        }
        self
    }
    /// Inspects (and finally deletes) the queue whose name the tool printed on stdout.
    pub fn inspect_printed(mut self) -> Case {
        self.inspect_printed = true;
        self
    }
    /// Runs the tool with its stdout a pipe whose reading end is already closed.
    pub fn stdout_closed(mut self) -> Case {
        self.stdout_closed = true;
        self
    }
    /// A help/usage case: compare the exit code and the stream only.
    pub fn help(mut self) -> Case {
        self.out_mode = OutMode::Help;
        self
    }
    pub fn stderr(mut self, mode: ErrMode) -> Case {
        self.err_mode = mode;
        self
    }
    pub fn live(mut self, live: Live) -> Case {
        self.live = Some(live);
        self
    }
    /// A deliberate difference: the C side must pass `c` (so the record stays honest), ours
    /// must pass `ours`; the aspects in `same` are still compared between the sides. `why` is
    /// `CASE | detail`, CASE the case cell of COMPATIBILITY.md's row (checked by
    /// `tests/docs_agree.rs`).
    pub fn differs(
        mut self,
        why: &str,
        same: &[Aspect],
        c: impl Fn(&SideResult) -> Result<(), String> + 'static,
        ours: impl Fn(&SideResult) -> Result<(), String> + 'static,
    ) -> Case {
        self.differs = Some((why.to_string(), Box::new(c), Box::new(ours), same.to_vec()));
        self
    }

    /// Runs both sides and compares; panics with both results side by side on a mismatch.
    pub fn run(self) {
        require_c_tools();
        let port = broker_port();
        let id = format!("cmp.{}.{}", self.name, std::process::id());
        let dir =
            std::env::temp_dir().join(format!("amqp-compat-{}-{}", self.name, std::process::id()));
        let vars = vec![
            ("{Q2}".to_string(), format!("{id}.q2")),
            ("{Q}".to_string(), format!("{id}.q")),
            ("{X}".to_string(), format!("{id}.x")),
            ("{K}".to_string(), format!("{id}.k")),
            ("{ID}".to_string(), id.clone()),
            (
                "{URL}".to_string(),
                format!("amqp://guest:guest@127.0.0.1:{}", port),
            ),
            ("{PORT}".to_string(), port.to_string()),
            ("{DIR}".to_string(), dir.display().to_string()),
        ];
        let x = Expander { vars };
        let started = Instant::now();
        let sides = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let c = self.run_side(Side::C, &x, &dir);
            let ours = self.run_side(Side::Ours, &x, &dir);
            (c, ours)
        }));
        let (c, ours) = match sides {
            Ok(sides) => sides,
            Err(panic) => {
                // Best effort: leave nothing behind, then fail with the original panic.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.reset(&x)));
                let _ = std::fs::remove_dir_all(&dir);
                std::panic::resume_unwind(panic);
            }
        };
        self.cleanup(&x, &[&c, &ours]);
        let _ = std::fs::remove_dir_all(&dir);
        if std::env::var_os("COMPAT_TIMING").is_some() {
            eprintln!("compat timing: {} {:?}", self.name, started.elapsed());
        }
        let problems = self.compare(&c, &ours);
        if !problems.is_empty() {
            panic!("{}", self.report(&x, &c, &ours, &problems));
        }
        if std::env::var_os("COMPAT_SHOW").is_some() {
            eprintln!("{}", self.report(&x, &c, &ours, &["(passed)".to_string()]));
        }
    }

    fn run_side(&self, side: Side, x: &Expander, dir: &Path) -> SideResult {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).expect("creating the case directory");
        for (name, bytes) in &self.files {
            std::fs::write(dir.join(name), bytes).expect("writing a case file");
        }
        self.reset(x);
        let mut holders = Vec::new();
        self.prepare(x, &mut holders);
        let argv: Vec<String> = self.args.iter().map(|a| x.expand(a)).collect();
        let program = match side {
            Side::C => c_tool(&self.tool),
            Side::Ours => bin(&self.tool),
        };
        let (status, stdout, stderr, live) = self.execute(&program, &argv, x, dir);
        for holder in holders {
            holder.close();
        }
        let mut inspect: Vec<String> = self.inspect.iter().map(|q| x.expand(q)).collect();
        let mut printed = None;
        if self.inspect_printed {
            let name = String::from_utf8_lossy(&stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            if !name.is_empty() && name.len() < 256 {
                printed = Some(name.clone());
                inspect.push(name);
            }
        }
        let state = inspect_queues(&inspect, &x.vars);
        SideResult {
            side,
            program,
            argv,
            code: status,
            stdout,
            stderr,
            state,
            live,
            printed_queue: printed,
            vars: x.vars.clone(),
        }
    }

    /// Deletes every queue and exchange the case names (missing ones are fine).
    fn reset(&self, x: &Expander) {
        let mut b = broker();
        for q in self.queue_names(x) {
            b.delete_queue(&q)
                .unwrap_or_else(|e| panic!("resetting: deleting queue {q}: {e}"));
        }
        for s in &self.setup {
            if let Setup::Exchange(name) = s {
                let name = x.expand(name);
                b.delete_exchange(&name)
                    .unwrap_or_else(|e| panic!("resetting: deleting exchange {name}: {e}"));
            }
        }
        b.close();
    }

    fn queue_names(&self, x: &Expander) -> Vec<String> {
        let mut names: Vec<String> = self.inspect.iter().map(|q| x.expand(q)).collect();
        for s in &self.setup {
            if let Setup::Queue { name, .. } = s {
                let name = x.expand(name);
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }

    fn prepare(&self, x: &Expander, holders: &mut Vec<Client>) {
        let mut b = broker();
        for s in &self.setup {
            let result = match s {
                Setup::Queue {
                    name,
                    durable,
                    auto_delete,
                } => b
                    .declare_queue(&x.expand(name), false, *durable, false, *auto_delete)
                    .map(|_| ()),
                Setup::Exchange(name) => b.declare_exchange(&x.expand(name), "direct"),
                Setup::Bind {
                    queue,
                    exchange,
                    key,
                } => b.bind_queue(&x.expand(queue), &x.expand(exchange), &x.expand(key)),
                Setup::Publish {
                    exchange,
                    key,
                    properties,
                    body,
                } => match b.publish(&x.expand(exchange), x.expand(key), properties, body) {
                    Ok(Routed::Yes) => Ok(()),
                    Ok(Routed::Returned) => panic!("setup: message to {key} was not routed"),
                    Err(e) => Err(e),
                },
                Setup::Consumer(queue) => {
                    let mut holder = broker();
                    holder
                        .consume(&x.expand(queue))
                        .unwrap_or_else(|e| panic!("setup: consuming from {queue}: {e}"));
                    holders.push(holder);
                    Ok(())
                }
            };
            if let Err(e) = result {
                panic!("setup of case {}: {s:?}: {e}", self.name);
            }
        }
        b.close();
    }

    fn cleanup(&self, x: &Expander, results: &[&SideResult]) {
        self.reset(x);
        let mut b = broker();
        for r in results {
            if let Some(q) = &r.printed_queue {
                let _ = b.delete_queue(q);
            }
        }
        b.close();
    }

    fn execute(
        &self,
        program: &Path,
        argv: &[String],
        x: &Expander,
        dir: &Path,
    ) -> (i32, Vec<u8>, Vec<u8>, Vec<String>) {
        let mut command = Command::new(program);
        command
            .args(argv.iter().map(|a| raw_arg(a)))
            .env_remove("AMQP_URL")
            .env_remove("POSIXLY_CORRECT")
            .env_remove("POSIX_ME_HARDER")
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        for (k, v) in &self.env {
            command.env(k, x.expand(v));
        }
        let started = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", program.display()));
        let stdin = child.stdin.take().unwrap();
        let input = self.stdin.clone();
        let writer = std::thread::spawn(move || {
            let mut stdin = stdin;
            let _ = stdin.write_all(&input);
        });
        let stdout_pipe = child.stdout.take().unwrap();
        let out_reader = if self.stdout_closed {
            // The reader is gone before the tool writes: writes fail with EPIPE / SIGPIPE.
            drop(stdout_pipe);
            std::thread::spawn(Vec::new)
        } else {
            reader(stdout_pipe)
        };
        let err_reader = reader(child.stderr.take().unwrap());
        let mut live_lines = Vec::new();
        let mut status = None;
        if let Some(live) = &self.live {
            status = self.drive(live, &mut child, x, dir, &mut live_lines);
        }
        let status = match status {
            Some(s) => s,
            None => wait_timeout(&mut child, started),
        };
        let _ = writer.join();
        let stdout = out_reader.join().unwrap();
        let stderr = err_reader.join().unwrap();
        (exit_code(status), stdout, stderr, live_lines)
    }

    /// Does the live steps; returns the exit status if the tool ended meanwhile.
    fn drive(
        &self,
        live: &Live,
        child: &mut Child,
        x: &Expander,
        dir: &Path,
        lines: &mut Vec<String>,
    ) -> Option<ExitStatus> {
        let deadline = Instant::now() + LIVE_TIMEOUT;
        let mut exited = None;
        if !live.publish.is_empty() {
            let mut b = broker();
            for (exchange, key, body) in &live.publish {
                let (exchange, key) = (x.expand(exchange), x.expand(key));
                loop {
                    match b.publish(&exchange, &key, &Properties::default(), body) {
                        Ok(Routed::Yes) => break,
                        Ok(Routed::Returned) => {}
                        Err(e) => panic!("live publish to {exchange:?}/{key:?}: {e}"),
                    }
                    if let Ok(Some(s)) = child.try_wait() {
                        exited = Some(s);
                        lines.push(format!("(tool exited before {key:?} was routable)"));
                        break;
                    }
                    if Instant::now() > deadline {
                        lines.push(format!("(message to {exchange:?}/{key:?} never routable)"));
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
                if exited.is_some() {
                    break;
                }
            }
            b.close();
        }
        if live.wait_started && exited.is_none() {
            let marker = dir.join("started");
            loop {
                if marker.exists() {
                    break;
                }
                if let Ok(Some(s)) = child.try_wait() {
                    exited = Some(s);
                    lines.push("(tool exited before the command started)".into());
                    break;
                }
                if Instant::now() > deadline {
                    lines.push("(the command never started)".into());
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if exited.is_none() {
            let id = x.expand("{ID}");
            for what in &live.observe {
                if *what == Observe::Heartbeat {
                    lines.extend(observe_heartbeat(&x.vars, &id));
                    continue;
                }
                let (label, args): (&str, &[&str]) = match what {
                    Observe::Heartbeat => unreachable!(),
                    Observe::Consumers => (
                        "consumers",
                        &[
                            "-q",
                            "list_consumers",
                            "--no-table-headers",
                            "queue_name",
                            "ack_required",
                            "prefetch_count",
                        ],
                    ),
                    Observe::Bindings => (
                        "bindings",
                        &[
                            "-q",
                            "list_bindings",
                            "--no-table-headers",
                            "source_name",
                            "destination_name",
                            "routing_key",
                        ],
                    ),
                    Observe::Queues => ("queues", &QUEUE_FLAGS),
                };
                // rabbitmqctl lists what the queue processes answer in time: under load a busy
                // queue can be left out of one listing, so an empty answer is asked again a few
                // times (for both tools alike) before it counts as "(none)".
                let mut found: Vec<String> = Vec::new();
                for attempt in 0..EMPTY_LISTING_ATTEMPTS {
                    if attempt > 0 {
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    found = ctl(args)
                        .lines()
                        .filter(|l| l.contains(&id))
                        .map(|l| format!("{label}: {}", unexpand(&x.vars, l)))
                        .collect();
                    if !found.is_empty() {
                        break;
                    }
                }
                found.sort();
                if found.is_empty() {
                    found.push(format!("{label}: (none)"));
                }
                lines.extend(found);
            }
        }
        if let Some(signal) = live.kill
            && exited.is_none()
        {
            unsafe {
                libc::kill(child.id() as i32, signal);
            }
        }
        std::fs::write(dir.join("go"), b"").expect("creating the go marker");
        exited
    }

    fn compare(&self, c: &SideResult, ours: &SideResult) -> Vec<String> {
        let mut problems = Vec::new();
        let aspects: Vec<Aspect> = match &self.differs {
            Some((_, c_check, ours_check, same)) => {
                if let Err(e) = c_check(c) {
                    problems.push(format!(
                        "the C tool no longer behaves as recorded for this deliberate difference: {e}"
                    ));
                }
                if let Err(e) = ours_check(ours) {
                    problems.push(format!("ours does not behave as intended: {e}"));
                }
                same.clone()
            }
            None => vec![
                Aspect::Exit,
                Aspect::Stdout,
                Aspect::Stderr,
                Aspect::State,
                Aspect::Live,
            ],
        };
        for aspect in aspects {
            match aspect {
                Aspect::Exit => {
                    if c.code != ours.code {
                        problems.push(format!("exit code: C {} vs ours {}", c.code, ours.code));
                    }
                }
                Aspect::Stdout => match self.out_mode {
                    OutMode::Exact => {
                        if c.norm_stdout() != ours.norm_stdout() {
                            problems.push("stdout differs".into());
                        }
                    }
                    OutMode::Help => {
                        for r in [c, ours] {
                            if r.stdout.is_empty() || !r.stderr.is_empty() {
                                problems.push(format!(
                                    "{}: help/usage text should be on stdout only (stdout {} bytes, stderr {} bytes)",
                                    r.side.label(),
                                    r.stdout.len(),
                                    r.stderr.len()
                                ));
                            }
                        }
                    }
                },
                Aspect::Stderr => {
                    if self.out_mode == OutMode::Help {
                        continue;
                    }
                    if let Some(p) = compare_stderr(self.err_mode, c, ours) {
                        problems.push(p);
                    }
                }
                Aspect::State => {
                    if c.state != ours.state {
                        problems.push("broker state afterwards differs".into());
                    }
                }
                Aspect::Live => {
                    if c.live != ours.live {
                        problems.push("broker state observed while running differs".into());
                    }
                }
            }
        }
        problems
    }

    fn report(
        &self,
        x: &Expander,
        c: &SideResult,
        ours: &SideResult,
        problems: &[String],
    ) -> String {
        let mut s = String::new();
        let verdict = if problems.len() == 1 && problems[0] == "(passed)" {
            "passed"
        } else {
            "FAILED"
        };
        let _ = writeln!(s, "\n==== compat case `{}` {verdict} ====", self.name);
        if let Some((why, ..)) = &self.differs {
            let _ = writeln!(s, "(deliberate difference: {why})");
        }
        for p in problems {
            let _ = writeln!(s, "  * {p}");
        }
        let _ = writeln!(
            s,
            "invocation: {}",
            invocation(&self.tool, &c.argv, &self.env, x)
        );
        if !self.stdin.is_empty() {
            let _ = writeln!(s, "stdin: {}", short(&self.stdin));
        }
        for (name, bytes) in &self.files {
            let _ = writeln!(s, "file {{DIR}}/{name}: {}", show_bytes(bytes));
        }
        for r in [c, ours] {
            let _ = writeln!(s, "---- {} ({})", r.side.label(), r.program.display());
            let _ = writeln!(s, "exit:   {}", r.code);
            let _ = writeln!(s, "stdout: {}", short(&r.stdout));
            let _ = writeln!(s, "stderr: {}", short(&r.stderr));
            for q in &r.state {
                let _ = writeln!(s, "state:  {q:?}");
            }
            for l in &r.live {
                let _ = writeln!(s, "live:   {l}");
            }
        }
        s
    }
}

/// `heartbeat: QUEUE TIMEOUT` for each consumer on a queue naming the case.
fn observe_heartbeat(vars: &[(String, String)], id: &str) -> Vec<String> {
    let consumers = ctl(&[
        "-q",
        "list_consumers",
        "--no-table-headers",
        "queue_name",
        "channel_pid",
    ]);
    let channels = ctl(&[
        "-q",
        "list_channels",
        "--no-table-headers",
        "pid",
        "connection",
    ]);
    let connections = ctl(&[
        "-q",
        "list_connections",
        "--no-table-headers",
        "pid",
        "timeout",
    ]);
    let pairs = |text: &str| -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let (channels, connections) = (pairs(&channels), pairs(&connections));
    let mut out = Vec::new();
    for (queue, channel) in pairs(&consumers) {
        if !queue.contains(id) {
            continue;
        }
        let connection = channels
            .iter()
            .find(|(p, _)| *p == channel)
            .map(|(_, c)| c.clone());
        let timeout = connection
            .and_then(|c| {
                connections
                    .iter()
                    .find(|(p, _)| *p == c)
                    .map(|(_, t)| t.clone())
            })
            .unwrap_or_else(|| "?".into());
        out.push(format!("heartbeat: {} {timeout}", unexpand(vars, &queue)));
    }
    if out.is_empty() {
        out.push("heartbeat: (no consumer)".into());
    }
    out
}

fn invocation(tool: &str, argv: &[String], env: &[(String, String)], x: &Expander) -> String {
    let mut parts: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("{k}={}", shell_quote(&x.expand(v))))
        .collect();
    parts.push(tool.to_string());
    parts.extend(argv.iter().map(|a| shell_quote(a)));
    parts.join(" ")
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,%+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn short(b: &[u8]) -> String {
    let s = show_bytes(b);
    if s.len() > 1500 {
        let mut cut = 1400;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...\" ({} bytes)", &s[..cut], b.len())
    } else {
        s
    }
}

fn first_line(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    s.split('\n').next().unwrap_or("").to_string()
}

/// The leading context of an error line: before `, message: `, else before the first `: `.
pub fn context_of(line: &str) -> &str {
    if let Some(i) = line.find(", message: ") {
        return &line[..i];
    }
    if let Some(i) = line.find(": ") {
        return &line[..i];
    }
    line
}

fn compare_stderr(mode: ErrMode, c: &SideResult, ours: &SideResult) -> Option<String> {
    let (cs, os) = (c.norm_stderr(), ours.norm_stderr());
    let (c1, o1) = (first_line(&cs), first_line(&os));
    match mode {
        ErrMode::Auto => {
            let c_text = String::from_utf8_lossy(&cs);
            let c_usage = c_text
                .split('\n')
                .nth(1)
                .is_some_and(|l| l.starts_with("Usage: "));
            if c_usage {
                if c1 != o1 {
                    return Some(format!("stderr first line: C {c1:?} vs ours {o1:?}"));
                }
                let o_text = String::from_utf8_lossy(&os);
                if !o_text
                    .split('\n')
                    .nth(1)
                    .is_some_and(|l| l.starts_with("Usage: "))
                {
                    return Some(
                        "stderr: C prints its usage after the error, ours does not".into(),
                    );
                }
                None
            } else if cs != os {
                Some("stderr differs".into())
            } else {
                None
            }
        }
        ErrMode::Exact => (cs != os).then(|| "stderr differs".into()),
        ErrMode::FirstLine => {
            (c1 != o1).then(|| format!("stderr first line: C {c1:?} vs ours {o1:?}"))
        }
        ErrMode::Prefix(n) => {
            let cp: String = c1.chars().take(n).collect();
            let op: String = o1.chars().take(n).collect();
            (cp != op).then(|| format!("stderr first {n} chars: C {cp:?} vs ours {op:?}"))
        }
        ErrMode::FirstLineContext => {
            let ctx = context_of(&c1);
            (!o1.starts_with(ctx))
                .then(|| format!("stderr: ours {o1:?} does not start with the C context {ctx:?}"))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running

fn reader<R: Read + Send + 'static>(mut r: R) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

fn wait_timeout(child: &mut Child, started: Instant) -> ExitStatus {
    loop {
        if let Some(s) = child.try_wait().expect("waiting for the tool") {
            return s;
        }
        if started.elapsed() > RUN_TIMEOUT {
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGKILL);
            }
            let _ = child.wait();
            panic!(
                "the tool ran longer than {RUN_TIMEOUT:?} and was killed (pid {})",
                child.id()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

struct Expander {
    vars: Vec<(String, String)>,
}

impl Expander {
    fn expand(&self, s: &str) -> String {
        expand(&self.vars, s)
    }
}

/// An argument with each `{xHH}` replaced by the byte 0xHH, so that a case can pass bytes
/// that are not UTF-8 (`-b "caf{xe9}"`: Latin-1).
fn raw_arg(arg: &str) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    let bytes = arg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes
            .get(i..i + 5)
            .filter(|e| e.starts_with(b"{x") && e[4] == b'}');
        match escape.and_then(|e| u8::from_str_radix(std::str::from_utf8(&e[2..4]).ok()?, 16).ok())
        {
            Some(byte) => {
                out.push(byte);
                i += 5;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    std::ffi::OsString::from_vec(out)
}

fn expand(vars: &[(String, String)], s: &str) -> String {
    let mut out = s.to_string();
    for (k, v) in vars {
        out = out.replace(k, v);
    }
    out
}

/// Replaces server-generated names (`amq.gen-…`, `amq.ctag-…`) by a fixed token.
pub fn normalise(s: &str) -> String {
    String::from_utf8(normalise_bytes(s.as_bytes())).unwrap()
}

fn normalise_bytes(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        let prefix = [&b"amq.gen-"[..], b"amq.ctag-"]
            .into_iter()
            .find(|p| rest.starts_with(p));
        if let Some(p) = prefix {
            out.extend_from_slice(p);
            out.extend_from_slice(b"<generated>");
            i += p.len();
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
                i += 1;
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Broker state

/// What a queue looked like after a side ran.
#[derive(Clone, PartialEq)]
pub struct QueueState {
    /// The queue's name, normalised (placeholders where the case used them).
    pub name: String,
    pub exists: bool,
    /// `durable=… auto_delete=…`, `exclusive (locked)`, or `?`.
    pub flags: String,
    pub consumers: u32,
    pub messages: Vec<Message>,
}

impl std::fmt::Debug for QueueState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.exists {
            return write!(f, "queue {} does not exist", self.name);
        }
        write!(
            f,
            "queue {} [{}] consumers={} messages={}",
            self.name,
            self.flags,
            self.consumers,
            self.messages.len()
        )?;
        for (i, m) in self.messages.iter().enumerate() {
            write!(f, "\n          #{i}: {m:?}")?;
        }
        Ok(())
    }
}

fn unexpand(vars: &[(String, String)], s: &str) -> String {
    // Longest values first so that {Q2} wins over {Q}, and {ID} comes last.
    let mut pairs: Vec<&(String, String)> = vars
        .iter()
        .filter(|(k, _)| ["{Q}", "{Q2}", "{X}", "{K}", "{ID}"].contains(&k.as_str()))
        .collect();
    pairs.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    let mut out = s.to_string();
    for (k, v) in pairs {
        out = out.replace(v.as_str(), k);
    }
    normalise(&out)
}

/// Reads the state of `names`: existence, flags, consumers, and every message (drained with
/// basic.get no-ack). Waits briefly for queues still held by the tool's closing connection.
fn inspect_queues(names: &[String], vars: &[(String, String)]) -> Vec<QueueState> {
    let mut b = broker();
    let mut states = Vec::new();
    for name in names {
        let shown = unexpand(vars, name);
        let deadline = Instant::now() + Duration::from_secs(5);
        let state = loop {
            let info = match b.declare_queue(name, true, false, false, false) {
                Ok(info) => info,
                Err(e) if e.code == 404 => {
                    break QueueState {
                        name: shown.clone(),
                        exists: false,
                        flags: String::new(),
                        consumers: 0,
                        messages: Vec::new(),
                    };
                }
                Err(e) if e.code == 405 => {
                    if Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    break QueueState {
                        name: shown.clone(),
                        exists: true,
                        flags: "exclusive (locked)".into(),
                        consumers: 0,
                        messages: Vec::new(),
                    };
                }
                Err(e) => panic!("inspecting queue {name}: {e}"),
            };
            if info.consumers > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let flags = probe_flags(&mut b, name);
            let mut messages = Vec::new();
            if !flags.contains("locked") {
                while let Some(m) = b
                    .get(name)
                    .unwrap_or_else(|e| panic!("draining queue {name}: {e}"))
                {
                    messages.push(m);
                }
            }
            for m in &mut messages {
                m.routing_key =
                    unexpand(vars, &String::from_utf8_lossy(&m.routing_key)).into_bytes();
                m.exchange = unexpand(vars, &String::from_utf8_lossy(&m.exchange)).into_bytes();
            }
            break QueueState {
                name: shown.clone(),
                exists: true,
                flags,
                consumers: info.consumers,
                messages,
            };
        };
        states.push(state);
    }
    b.close();
    states
}

/// Finds the durable/auto-delete flags of an existing queue by re-declaring it with each
/// combination (an inequivalent declaration is refused with 406 and changes nothing).
fn probe_flags(b: &mut Client, name: &str) -> String {
    for (durable, auto_delete) in [(false, false), (true, false), (false, true), (true, true)] {
        match b.declare_queue(name, false, durable, false, auto_delete) {
            Ok(_) => return format!("durable={durable} auto_delete={auto_delete}"),
            Err(e) if e.code == 406 => continue,
            Err(e) if e.code == 405 => return "exclusive (locked)".into(),
            Err(e) if e.code == 404 => return "vanished".into(),
            // amq.* names cannot be re-declared: ask rabbitmqctl.
            Err(e) if e.code == 403 => return ctl_flags(name),
            Err(e) => panic!("probing queue {name}: {e}"),
        }
    }
    "?".into()
}

/// The rabbitmqctl listing of every queue's name and flags, tab-separated.
const QUEUE_FLAGS: [&str; 7] = [
    "-q",
    "list_queues",
    "--no-table-headers",
    "name",
    "durable",
    "auto_delete",
    "exclusive",
];

fn ctl_flags(name: &str) -> String {
    let out = ctl(&QUEUE_FLAGS);
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() == 4 && f[0] == name {
            return if f[3] == "true" {
                "exclusive (locked)".into()
            } else {
                format!("durable={} auto_delete={}", f[1], f[2])
            };
        }
    }
    "vanished".into()
}

// ---------------------------------------------------------------------------------------------
// Results and checks for deliberate differences

/// What one side did.
pub struct SideResult {
    pub side: Side,
    pub program: PathBuf,
    pub argv: Vec<String>,
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub state: Vec<QueueState>,
    pub live: Vec<String>,
    printed_queue: Option<String>,
    vars: Vec<(String, String)>,
}

type Check2 = Result<(), String>;

/// The verdict of an exact-output check: `matches`, or a failure showing the `stream`'s `raw`
/// bytes and the `expected` text.
fn exact(stream: &str, matches: bool, raw: &[u8], expected: &str) -> Check2 {
    if matches {
        Ok(())
    } else {
        Err(format!(
            "{stream} {} (expected {})",
            short(raw),
            show_bytes(expected.as_bytes())
        ))
    }
}

impl SideResult {
    fn norm_stdout(&self) -> Vec<u8> {
        normalise_bytes(&self.stdout)
    }
    fn norm_stderr(&self) -> Vec<u8> {
        normalise_bytes(&self.stderr)
    }
    fn x(&self, s: &str) -> String {
        expand(&self.vars, s)
    }
    /// The normalised stderr as text.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.norm_stderr()).into_owned()
    }
    pub fn code(&self, n: i32) -> Check2 {
        if self.code == n {
            Ok(())
        } else {
            Err(format!("exit code {} (expected {n})", self.code))
        }
    }
    /// Exact stdout (placeholders expanded).
    pub fn stdout_is(&self, expected: impl AsRef<[u8]>) -> Check2 {
        let e = self.x(&String::from_utf8_lossy(expected.as_ref()));
        exact(
            "stdout",
            self.norm_stdout() == e.as_bytes(),
            &self.stdout,
            &e,
        )
    }
    /// Exact stderr (placeholders expanded).
    pub fn stderr_is(&self, expected: &str) -> Check2 {
        let e = self.x(expected);
        exact("stderr", self.stderr_text() == e, &self.stderr, &e)
    }
    /// Line `n` (0-based) of stderr is exactly `expected`.
    pub fn stderr_line(&self, n: usize, expected: &str) -> Check2 {
        let e = self.x(expected);
        let text = self.stderr_text();
        let line = text.split('\n').nth(n).unwrap_or("");
        if line == e {
            Ok(())
        } else {
            Err(format!(
                "stderr line {n} is {line:?} (expected {e:?}); stderr {}",
                short(&self.stderr)
            ))
        }
    }
    /// Line `n` of stderr starts with `prefix`.
    pub fn stderr_line_starts(&self, n: usize, prefix: &str) -> Check2 {
        let e = self.x(prefix);
        let text = self.stderr_text();
        let line = text.split('\n').nth(n).unwrap_or("");
        if line.starts_with(&e) {
            Ok(())
        } else {
            Err(format!(
                "stderr line {n} is {line:?} (expected it to start with {e:?})"
            ))
        }
    }
    pub fn stderr_has(&self, needle: &str) -> Check2 {
        let e = self.x(needle);
        if self.stderr_text().contains(&e) {
            Ok(())
        } else {
            Err(format!("stderr {} lacks {e:?}", short(&self.stderr)))
        }
    }
    pub fn stderr_lacks(&self, needle: &str) -> Check2 {
        let e = self.x(needle);
        if self.stderr_text().contains(&e) {
            Err(format!("stderr {} contains {e:?}", short(&self.stderr)))
        } else {
            Ok(())
        }
    }
    fn queue_state(&self, q: &str) -> Result<&QueueState, String> {
        let q = unexpand(&self.vars, &self.x(q));
        self.state
            .iter()
            .find(|s| s.name == q)
            .ok_or_else(|| format!("queue {q} was not inspected"))
    }
    /// The queue exists and holds exactly these bodies, in order.
    pub fn bodies(&self, q: &str, expected: &[&[u8]]) -> Check2 {
        let s = self.queue_state(q)?;
        let got: Vec<&[u8]> = s.messages.iter().map(|m| m.body.as_slice()).collect();
        if s.exists && got == expected {
            Ok(())
        } else {
            Err(format!(
                "{s:?} (expected bodies {:?})",
                expected.iter().map(|b| short(b)).collect::<Vec<_>>()
            ))
        }
    }
    /// The queue exists with `n` messages.
    pub fn count(&self, q: &str, n: usize) -> Check2 {
        let s = self.queue_state(q)?;
        if s.exists && s.messages.len() == n {
            Ok(())
        } else {
            Err(format!("{s:?} (expected {n} messages)"))
        }
    }
    pub fn missing(&self, q: &str) -> Check2 {
        let s = self.queue_state(q)?;
        if s.exists {
            Err(format!("{s:?} (expected no such queue)"))
        } else {
            Ok(())
        }
    }
    /// The headers of message `i` of `q`, as shown by [`amqp::show_table`].
    pub fn headers(&self, q: &str, i: usize, expected: &str) -> Check2 {
        let s = self.queue_state(q)?;
        let m = s
            .messages
            .get(i)
            .ok_or_else(|| format!("{s:?} has no message #{i}"))?;
        let got = m
            .properties
            .headers
            .as_ref()
            .map(|h| amqp::show_table(h))
            .unwrap_or_else(|| "(none)".into());
        if got == expected {
            Ok(())
        } else {
            Err(format!("headers {got} (expected {expected})"))
        }
    }
    /// One of the live observations is exactly `line` (placeholders allowed).
    pub fn live_line(&self, line: &str) -> Check2 {
        let e = unexpand(&self.vars, &self.x(line));
        if self.live.contains(&e) {
            Ok(())
        } else {
            Err(format!(
                "live observations {:?} lack the line {e:?}",
                self.live
            ))
        }
    }
    pub fn live_has(&self, needle: &str) -> Check2 {
        let e = unexpand(&self.vars, &self.x(needle));
        if self.live.iter().any(|l| l.contains(&e)) {
            Ok(())
        } else {
            Err(format!("live observations {:?} lack {e:?}", self.live))
        }
    }
}

/// A header table value for [`Properties`] (a long string).
pub fn longstr(s: &str) -> FieldValue {
    FieldValue::LongStr(s.as_bytes().to_vec())
}
