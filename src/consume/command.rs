//! Running the consuming command for one delivery, the body on its standard input.
//!
//! As the original's `pipeline`/`finish_pipeline`: the command is run directly (no shell),
//! standard output and error are inherited, and only exit status 0 counts as success. Unlike
//! the original, a command that exits without reading its whole input does not kill the
//! consumer with SIGPIPE: it is judged by its exit status alone.

use lapin::message::Delivery;
use std::process::{ExitStatus, Stdio};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin};

/// How a command run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The command ran and exited (or was killed by a signal).
    Exited(ExitStatus),
    /// The command could not be started (not found, not executable): the original's
    /// `posix_spawnp: CMD: REASON` line.
    NotStarted(String),
    /// The delivery failed for another reason, given here (`--reply`: no reply-to address,
    /// or the reply not confirmed; see [`super::reply`]): handled as a failed command.
    Failed(String),
}

impl Outcome {
    /// True when the command exited with status 0.
    pub fn success(&self) -> bool {
        matches!(self, Outcome::Exited(status) if status.success())
    }

    /// True when the command ended because its output pipe was closed: killed by SIGPIPE,
    /// or exited 141 (128 + SIGPIPE), as a shell whose last command was so killed does.
    pub fn broken_pipe(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        matches!(self, Outcome::Exited(status)
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
            Outcome::NotStarted(why) | Outcome::Failed(why) => why.clone(),
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

/// Runs `argv` with the delivery's body on its standard input and its metadata in the
/// environment ([`super::environment`]), and waits for it.
pub async fn run(argv: &[String], delivery: &Delivery, consumer_tag: &str) -> Outcome {
    let mut child = match spawn(argv, delivery, consumer_tag, Stdio::inherit()) {
        Ok(child) => child,
        Err(not_started) => return not_started,
    };
    feed(child.stdin.take(), &delivery.data).await;
    wait(child, argv).await
}

/// Starts `argv` with a pipe on its standard input, `stdout` as its standard output and the
/// delivery's metadata in its environment.
///
/// Errors: [`Outcome::NotStarted`] with the original's `posix_spawnp: CMD: REASON`.
pub fn spawn(
    argv: &[String],
    delivery: &Delivery,
    consumer_tag: &str,
    stdout: Stdio,
) -> Result<Child, Outcome> {
    let Some((program, args)) = argv.split_first() else {
        return Err(Outcome::NotStarted("no command given".to_string()));
    };
    let mut command = tokio::process::Command::new(program);
    command.args(args).stdin(Stdio::piped()).stdout(stdout);
    for (name, _) in std::env::vars_os() {
        if name
            .to_str()
            .is_some_and(super::environment::is_metadata_variable)
        {
            command.env_remove(name);
        }
    }
    command.envs(super::environment::variables(delivery, consumer_tag));
    command.spawn().map_err(|error| {
        Outcome::NotStarted(format!("posix_spawnp: {program}: {}", strerror(&error)))
    })
}

/// Writes `body` to the command's standard input and closes it. A command that stops reading
/// (EPIPE) is judged by its exit status alone.
pub async fn feed(stdin: Option<ChildStdin>, body: &[u8]) {
    if let Some(mut stdin) = stdin {
        let _ = stdin.write_all(body).await;
    }
}

/// Waits for the command started from `argv` to exit.
pub async fn wait(mut child: Child, argv: &[String]) -> Outcome {
    match child.wait().await {
        Ok(status) => Outcome::Exited(status),
        Err(error) => Outcome::NotStarted(format!(
            "waiting for command '{}': {}",
            argv.first().map(String::as_str).unwrap_or_default(),
            crate::error::describe_io(&error)
        )),
    }
}
