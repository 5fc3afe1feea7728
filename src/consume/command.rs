//! Running the consuming command for one delivery, the body on its standard input.
//!
//! As the original's `pipeline`/`finish_pipeline`: the command is run directly (no shell),
//! standard output and error are inherited, and only exit status 0 counts as success. Unlike
//! the original, a command that exits without reading its whole input does not kill the
//! consumer with SIGPIPE: it is judged by its exit status alone.

use super::spawn::{Child, Stdio};
use lapin::message::Delivery;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;

/// How long a command that timed out is given to end after SIGTERM before SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// How a command run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The command ran and exited (or was killed by a signal).
    Exited(ExitStatus),
    /// The command could not be started (not found, not executable): the original's
    /// `posix_spawnp: CMD: REASON` line.
    NotStarted(String),
    /// The command ran longer than `--command-timeout` (this long) and was killed.
    TimedOut(Duration),
    /// The command's output, captured, could not be written: the consumer's standard output is
    /// a closed pipe.
    OutputClosed,
    /// The delivery failed for another reason, given here (`--reply`: no reply-to address,
    /// the output unreadable, or the reply not confirmed; see [`super::reply`]): handled as a
    /// failed command.
    Failed(String),
    /// `--json` without a command: the delivery's line was written to standard output and
    /// flushed ([`super::json_output`]); counts as success.
    Written,
    /// `--json` without a command: the line could not be written (`writing to standard
    /// output: CAUSE`, a closed pipe is [`Outcome::OutputClosed`]); stops the consumer, the
    /// delivery unacknowledged.
    WriteFailed(String),
}

/// Where a command's standard output and error go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Inherited from the consumer, as the original (one command at a time).
    Inherit,
    /// Captured, and written whole to the consumer's standard output and error when the
    /// command ends, so that the output of commands run at once never interleaves
    /// (`--concurrency`). Held in memory meanwhile.
    Whole,
    /// `--reply`: standard output captured in pieces of `piece` bytes and given back (not
    /// written) by [`run`]; standard error inherited, or with `whole_stderr` captured
    /// and written whole when the command ends, as with [`Output::Whole`].
    Reply {
        /// The size of the pieces the output is held in (a body frame's payload).
        piece: usize,
        /// Capture standard error and write it whole at the end (`--concurrency` above 1).
        whole_stderr: bool,
    },
}

/// The size of the pieces a command's output is held in with [`Output::Whole`].
const CAPTURE_PIECE: usize = 64 * 1024;

impl Outcome {
    /// True when the command exited with status 0.
    pub fn success(&self) -> bool {
        matches!(self, Outcome::Written)
            || matches!(self, Outcome::Exited(status) if status.success())
    }

    /// True when the command ended because its output pipe was closed: killed by SIGPIPE,
    /// or exited 141 (128 + SIGPIPE), as a shell whose last command was so killed does.
    pub fn broken_pipe(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        matches!(self, Outcome::OutputClosed)
            || matches!(self, Outcome::Exited(status)
            if status.signal() == Some(libc::SIGPIPE)
                || status.code() == Some(128 + libc::SIGPIPE))
    }

    /// A short description for warnings: `command exited with status 3`,
    /// `command killed by signal 9`, `cannot run command 'x': no such file or directory`.
    pub fn describe(&self) -> String {
        use std::os::unix::process::ExitStatusExt;
        match self {
            Outcome::Exited(status) => match (status.code(), status.signal()) {
                (Some(code), _) => format!("command exited with status {code}"),
                (None, Some(signal)) => format!("command killed by signal {signal}"),
                _ => "command ended abnormally".to_string(),
            },
            Outcome::NotStarted(why) => why.clone(),
            Outcome::TimedOut(limit) => {
                format!("command timed out after {}", super::policy::seconds(*limit))
            }
            Outcome::OutputClosed => "the output pipe is closed".to_string(),
            Outcome::Failed(why) | Outcome::WriteFailed(why) => why.clone(),
            Outcome::Written => "written to standard output".to_string(),
        }
    }
}

/// The C library's wording of an I/O error (`No such file or directory`).
fn strerror(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Runs `argv` with `input` (the delivery's body) on its standard input and the delivery's
/// metadata in the environment ([`super::environment`]), and waits for it.
///
/// With a `timeout` (`--command-timeout`) the command runs in a process group of its own; once
/// the time is up (feeding its input included) the group gets SIGTERM, then SIGKILL after
/// [`KILL_GRACE`], and the outcome is [`Outcome::TimedOut`]. With [`Output::Whole`] what the
/// command wrote (until it ended or was killed) is written out when it ends.
///
/// Gives the outcome and, with [`Output::Reply`], the command's standard output (nothing
/// otherwise): only what the command wrote before it ended or was killed. With
/// [`Output::Reply`], a command that exited 0 but whose output could not be read is
/// [`Outcome::Failed`] (`reading the command's output: CAUSE`).
pub async fn run(
    argv: &[OsString],
    input: &[u8],
    delivery: &Delivery,
    consumer_tag: &str,
    timeout: Option<Duration>,
    output: Output,
) -> (Outcome, Vec<Vec<u8>>) {
    let spawned = spawn(
        argv,
        input,
        delivery,
        consumer_tag,
        timeout.is_some(),
        output,
    );
    let Started {
        mut child,
        stdin,
        stdout,
        stderr,
    } = match spawned {
        Ok(started) => started,
        Err(not_started) => return (not_started, Vec::new()),
    };
    let piece = match output {
        Output::Reply { piece, .. } => piece,
        _ => CAPTURE_PIECE,
    };
    let (mut out, mut err, mut read) = (Vec::new(), Vec::new(), Ok(()));
    let work = async {
        let read_err = async {
            if let Some(mut pipe) = stderr {
                let _ = pipe.read_to_end(&mut err).await;
            }
        };
        // All at once: a command may write more than a pipe holds before it reads its input.
        let ((), out_read, ()) = tokio::join!(
            feed(stdin, input),
            read_pieces(stdout, piece, &mut out),
            read_err
        );
        read = out_read;
        child.wait().await
    };
    let waited = match timeout {
        None => Some(work.await),
        Some(limit) => tokio::time::timeout(limit, work).await.ok(),
    };
    let program = argv
        .first()
        .map(|p| p.to_string_lossy())
        .unwrap_or_default();
    let outcome = match waited {
        Some(Ok(status)) => Outcome::Exited(status),
        Some(Err(error)) => Outcome::NotStarted(format!(
            "waiting for command '{program}': {}",
            crate::error::describe_io(&error)
        )),
        None => {
            kill_group(&mut child, KILL_GRACE).await;
            Outcome::TimedOut(timeout.unwrap_or_default())
        }
    };
    let captured = Captured { out, err, read };
    captured.hand_over(output, outcome)
}

/// What a command wrote while [`run`] read its output: standard output in pieces, standard
/// error whole, and how reading standard output ended.
struct Captured {
    out: Vec<Vec<u8>>,
    err: Vec<u8>,
    read: std::io::Result<()>,
}

impl Captured {
    /// Writes out or gives back what the command wrote, as `output` says, with the outcome of
    /// the run ([`run`]'s result).
    fn hand_over(self, output: Output, outcome: Outcome) -> (Outcome, Vec<Vec<u8>>) {
        let Captured { out, err, read } = self;
        match output {
            Output::Inherit => (outcome, Vec::new()),
            Output::Whole if !write_whole(&out, &err) => (Outcome::OutputClosed, Vec::new()),
            Output::Whole => (outcome, Vec::new()),
            Output::Reply { .. } => {
                write_whole(&[], &err);
                match read {
                    Err(error) if outcome.success() => (
                        Outcome::Failed(format!(
                            "reading the command's output: {}",
                            crate::error::describe_io(&error)
                        )),
                        Vec::new(),
                    ),
                    _ => (outcome, out),
                }
            }
        }
    }
}

/// The largest input written to a command's standard input at once, before it runs: a write of
/// at most `PIPE_BUF` bytes to a new, empty pipe completes without blocking (a pipe holds at
/// least one page, 4096 bytes, even for a user over the kernel's pipe limits).
const INPUT_AT_ONCE: usize = libc::PIPE_BUF;

/// The file to start for the program `name`: where `PATH` has it, looked up once per run (the
/// first executable file of that name, as execvp(3) takes it, with the `which` crate), so that
/// each delivery's spawn is one execve rather than one per `PATH` directory before it (a
/// failed execve each: 6 for `cat` on a PATH of 7 directories). `name` itself when it holds a
/// `/` or is not found: the spawn then searches or fails as before. The command still gets
/// `name` as its argv[0].
fn resolved(name: &OsStr) -> OsString {
    static FOUND: std::sync::OnceLock<(OsString, Option<PathBuf>)> = std::sync::OnceLock::new();
    let (looked_up, found) = FOUND.get_or_init(|| {
        let has_slash = name.as_encoded_bytes().contains(&b'/');
        let found = (!has_slash).then(|| which::which(name).ok()).flatten();
        (name.to_owned(), found)
    });
    match found {
        Some(path) if looked_up == name => path.clone().into_os_string(),
        _ => name.to_owned(),
    }
}

/// A started command and our ends of its pipes.
struct Started {
    child: Child,
    /// Its standard input, for an input larger than [`INPUT_AT_ONCE`].
    stdin: Option<pipe::Sender>,
    /// Its standard output, when captured.
    stdout: Option<pipe::Receiver>,
    /// Its standard error, when captured.
    stderr: Option<pipe::Receiver>,
}

/// Starts `argv` with a pipe on its standard input, its output as `output` says, the
/// delivery's metadata in its environment, and (`group`, for `--command-timeout`) in a
/// process group of its own ([`super::spawn`]).
///
/// An `input` of at most [`INPUT_AT_ONCE`] bytes (most message bodies) is written into the pipe
/// here, and the pipe closed, so the child's `stdin` is `None`: no registration of the pipe
/// with the runtime's reactor, no wait for it to be writable (four system calls and a turn of
/// the runtime per delivery). A larger input is left to the caller ([`feed`]).
///
/// Errors: [`Outcome::NotStarted`] with the original's `posix_spawnp: CMD: REASON`.
fn spawn(
    argv: &[OsString],
    input: &[u8],
    delivery: &Delivery,
    consumer_tag: &str,
    group: bool,
    output: Output,
) -> Result<Started, Outcome> {
    let Some(program) = argv.first() else {
        return Err(Outcome::NotStarted("no command given".to_string()));
    };
    let not_started = |error: std::io::Error| {
        Outcome::NotStarted(format!(
            "posix_spawnp: {}: {}",
            program.to_string_lossy(),
            strerror(&error)
        ))
    };
    let (stdin_reader, stdin_writer) = std::io::pipe().map_err(not_started)?;
    let capture = |wanted: bool| wanted.then(std::io::pipe).transpose();
    let (capture_out, capture_err) = match output {
        Output::Inherit => (false, false),
        Output::Whole => (true, true),
        Output::Reply { whole_stderr, .. } => (true, whole_stderr),
    };
    let out_pipe = capture(capture_out).map_err(not_started)?;
    let err_pipe = capture(capture_err).map_err(not_started)?;
    let stdout = match &out_pipe {
        Some((_, writer)) => Stdio::Fd(writer.as_fd()),
        // The command gets the closed standard output this process was given, as with the
        // original, not the /dev/null Rust's runtime put in its place (output written there
        // would be lost and the delivery acked all the same).
        None if crate::std_fds::closed_at_start(1) => Stdio::Closed,
        None => Stdio::Inherit,
    };
    let stderr = match &err_pipe {
        Some((_, writer)) => Stdio::Fd(writer.as_fd()),
        None => Stdio::Inherit,
    };
    let inherited = super::environment::inherited();
    let variables = super::environment::entries(delivery, consumer_tag);
    let envp: Vec<&CStr> = inherited
        .iter()
        .chain(&variables)
        .map(CString::as_c_str)
        .collect();
    let stdio = [Stdio::Fd(stdin_reader.as_fd()), stdout, stderr];
    let child =
        super::spawn::spawn(&resolved(program), argv, &envp, stdio, group).map_err(not_started)?;
    // Our copies of the command's ends go first: a command that exits without reading gives
    // EPIPE on the write below (ignored, as in feed), and its output pipes end when it does.
    drop(stdin_reader);
    let receiver = |pipe: Option<(std::io::PipeReader, std::io::PipeWriter)>| {
        pipe.map(|(reader, _)| pipe::Receiver::from_owned_fd(reader.into()))
            .transpose()
    };
    let stdout = receiver(out_pipe).map_err(not_started)?;
    let stderr = receiver(err_pipe).map_err(not_started)?;
    let stdin = match input.len() <= INPUT_AT_ONCE {
        true => {
            use std::io::Write;
            let _ = (&stdin_writer).write_all(input);
            None
        }
        false => Some(pipe::Sender::from_owned_fd(stdin_writer.into()).map_err(not_started)?),
    };
    Ok(Started {
        child,
        stdin,
        stdout,
        stderr,
    })
}

/// Writes `input` to the command's standard input and closes it. A command that stops
/// reading (EPIPE) is judged by its exit status alone.
async fn feed(stdin: Option<pipe::Sender>, input: &[u8]) {
    if let Some(mut stdin) = stdin {
        let _ = stdin.write_all(input).await;
    }
}

/// Reads all of `output` into `pieces` of `piece` bytes (the last one shorter, none for an
/// empty output), as [`crate::body::read_pieces`] does for standard input. What was read
/// before a failure or before the future is dropped stays in `pieces`.
async fn read_pieces(
    output: Option<impl AsyncRead + Unpin>,
    piece: usize,
    pieces: &mut Vec<Vec<u8>>,
) -> std::io::Result<()> {
    let Some(mut output) = output else {
        return Ok(());
    };
    let piece = piece.max(1);
    loop {
        let mut buffer = Vec::with_capacity(piece);
        let read = (&mut output)
            .take(piece as u64)
            .read_to_end(&mut buffer)
            .await;
        let full = buffer.len() == piece;
        if !buffer.is_empty() {
            pieces.push(buffer);
        }
        read?;
        if !full {
            return Ok(());
        }
    }
}

/// Writes a command's captured output whole, each stream with one locked write (nothing else
/// runs on the consumer's thread meanwhile, so two commands' output never interleaves).
/// `false` when standard output is a closed pipe.
fn write_whole(out: &[Vec<u8>], err: &[u8]) -> bool {
    use std::io::Write;
    if !err.is_empty() {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(err).and_then(|()| stderr.flush());
    }
    if out.is_empty() {
        return true;
    }
    let mut stdout = std::io::stdout().lock();
    let written = out
        .iter()
        .try_for_each(|piece| stdout.write_all(piece))
        .and_then(|()| stdout.flush());
    !matches!(written, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// SIGTERM to the process group led by `child`, SIGKILL after `grace` if the command has not
/// ended by then; reaps it.
async fn kill_group(child: &mut Child, grace: Duration) {
    let Some(pid) = child.id() else {
        return;
    };
    // SAFETY: kill(2) with a negative pid signals the group the child leads (it was spawned
    // with POSIX_SPAWN_SETPGROUP and group 0, so its group id is its pid); no memory is touched.
    unsafe { libc::kill(-pid, libc::SIGTERM) };
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        // SAFETY: as above.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = child.wait().await;
    }
}
