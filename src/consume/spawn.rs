//! Starting the consuming command with posix_spawn(3) and waiting for it on the runtime.
//!
//! std's `Command` (and tokio's, which wraps it) copies the whole environment into a sorted
//! map and builds a new `envp` for each spawn whose environment was changed, as each
//! delivery's is (its metadata variables): `vars_os`, a `BTreeMap` insert per variable,
//! `strlen` and `memcmp` over every entry, for every delivery. Here the caller passes the
//! finished `envp` ([`super::environment::inherited`] is read once per run), and the child is
//! waited for through a pidfd registered with the runtime, where tokio's process driver adds
//! an orphan queue and a reaper of its own.
//!
//! The child starts as std's would start it: its signal mask empty, SIGPIPE back to its
//! default action (Rust's runtime ignores it in the consumer), every other disposition as the
//! consumer has it (handlers are reset by execve(2)); only file descriptors 0, 1 and 2 are
//! passed on (all of ours are close-on-exec).

use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawnp};
use nix::sys::signal::{SigSet, Signal};
use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// What one of the command's standard streams (0, 1 or 2) is.
#[derive(Debug, Clone, Copy)]
pub enum Stdio<'a> {
    /// The consumer's own, inherited.
    Inherit,
    /// This file descriptor (a pipe's end), duplicated onto the stream.
    Fd(BorrowedFd<'a>),
    /// Closed in the command.
    Closed,
}

/// A command started by [`spawn`], until it is waited for.
///
/// Dropped before [`Child::wait`] gave its status, a command that has already ended is reaped
/// then; one still running is left to end on its own (it stays a zombie until the consumer
/// exits, as with std's `Child`).
#[derive(Debug)]
pub struct Child {
    pid: libc::pid_t,
    status: Option<ExitStatus>,
}

/// Starts `program` (a path, or a name looked up in `PATH` as execvp(3) does) with the
/// argument vector `argv` (`argv[0]` included, as given), the environment `envp` (each entry
/// `NAME=value`), the standard streams `stdio` (0, 1, 2), and with `group` in a process group
/// of its own (its pid as the group id).
///
/// Errors: the error posix_spawnp(3) gives: the program not found, not executable (`ENOENT`,
/// `EACCES`, ...), or no resources to start it (`EAGAIN`, `ENOMEM`); an argument with a NUL
/// byte (`InvalidInput`).
pub fn spawn(
    program: &OsStr,
    argv: &[OsString],
    envp: &[&CStr],
    stdio: [Stdio<'_>; 3],
    group: bool,
) -> io::Result<Child> {
    let program = c_string(program)?;
    let argv = argv
        .iter()
        .map(|arg| c_string(arg))
        .collect::<io::Result<Vec<_>>>()?;
    let mut actions = PosixSpawnFileActions::init()?;
    for (target, stream) in (0..).zip(stdio) {
        match stream {
            Stdio::Inherit => {}
            Stdio::Fd(fd) => actions.add_dup2(fd.as_raw_fd(), target)?,
            Stdio::Closed => actions.add_close(target)?,
        }
    }
    let mut attributes = PosixSpawnAttr::init()?;
    let mut flags =
        PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF;
    if group {
        flags |= PosixSpawnFlags::POSIX_SPAWN_SETPGROUP;
        attributes.set_pgroup(nix::unistd::Pid::from_raw(0))?;
    }
    attributes.set_flags(flags)?;
    attributes.set_sigmask(&SigSet::empty())?;
    let mut default_actions = SigSet::empty();
    default_actions.add(Signal::SIGPIPE);
    attributes.set_sigdefault(&default_actions)?;
    let pid = posix_spawnp(&program, &actions, &attributes, &argv, envp)?;
    Ok(Child {
        pid: pid.as_raw(),
        status: None,
    })
}

/// `text` as a C string. Errors: `InvalidInput` for a NUL byte.
fn c_string(text: &OsStr) -> io::Result<CString> {
    CString::new(text.as_bytes())
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))
}

impl Child {
    /// The command's process id, until it was reaped (then `None`: the id may be another
    /// process's by now).
    pub fn id(&self) -> Option<libc::pid_t> {
        self.status.is_none().then_some(self.pid)
    }

    /// Waits for the command to end and reaps it; gives its exit status (the same status again
    /// once reaped). Cancel-safe: dropped before the end, the command is still there to wait
    /// for.
    ///
    /// The wait is on a pidfd (pidfd_open(2), Linux 5.3) registered with the runtime; where the
    /// kernel or a seccomp filter refuses pidfd_open, on SIGCHLD instead.
    ///
    /// Errors: waitpid(2)'s or the registration's (should not happen for a child of ours).
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let exit = Exit::watch(self.pid)?;
        self.wait_with(exit).await
    }

    /// [`Child::wait`], noticing the end through `exit`.
    async fn wait_with(&mut self, mut exit: Exit) -> io::Result<ExitStatus> {
        loop {
            exit.next().await?;
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
        }
    }

    /// The exit status when the command has ended (reaping it), `None` while it runs.
    fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let mut raw = 0;
        loop {
            // SAFETY: waitpid(2) on our own child, writing only to `raw`.
            let reaped = unsafe { libc::waitpid(self.pid, &mut raw, libc::WNOHANG) };
            match reaped {
                0 => return Ok(None),
                -1 => match io::Error::last_os_error() {
                    error if error.kind() == io::ErrorKind::Interrupted => continue,
                    error => return Err(error),
                },
                _ => {
                    let status = ExitStatus::from_raw(raw);
                    self.status = Some(status);
                    return Ok(Some(status));
                }
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.try_wait();
    }
}

/// How the end of a child is noticed.
enum Exit {
    /// Its pidfd, readable once it has ended.
    PidFd(AsyncFd<OwnedFd>),
    /// SIGCHLD, for any child: the caller checks its own. `looked` is false until the first
    /// check (a child that ended before the registration sent its signal already).
    Signal {
        signal: tokio::signal::unix::Signal,
        looked: bool,
    },
}

impl Exit {
    /// Watches the end of the child `pid`. Errors: the runtime's registration.
    fn watch(pid: libc::pid_t) -> io::Result<Exit> {
        // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor (close-on-exec)
        // or -1; it touches no memory of ours.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            // ENOSYS before Linux 5.3, EPERM under some seccomp profiles.
            return Exit::sigchld();
        }
        let fd = libc::c_int::try_from(fd).map_err(io::Error::other)?;
        // SAFETY: `fd` was just returned by pidfd_open and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: the OwnedFd keeps the descriptor open, the same one, for as long as the
        // AsyncFd that owns it.
        let registered = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) };
        Ok(Exit::PidFd(registered?))
    }

    /// Watches SIGCHLD. Errors: the runtime's registration.
    fn sigchld() -> io::Result<Exit> {
        let signal = tokio::signal::unix::SignalKind::child();
        Ok(Exit::Signal {
            signal: tokio::signal::unix::signal(signal)?,
            looked: false,
        })
    }

    /// Waits until the child may have ended: its pidfd readable (whenever it ended, so the
    /// first wait needs no look before it), or a SIGCHLD since the last look (the first call
    /// returns at once). Errors: the runtime's.
    async fn next(&mut self) -> io::Result<()> {
        match self {
            Exit::PidFd(fd) => fd.readable().await?.clear_ready(),
            Exit::Signal { looked, .. } if !*looked => *looked = true,
            Exit::Signal { signal, .. } => {
                signal.recv().await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(script: &str) -> Child {
        let argv = ["sh", "-c", script].map(OsString::from);
        let envp = [c"PATH=/usr/bin:/bin"];
        let stdio = [Stdio::Inherit, Stdio::Inherit, Stdio::Inherit];
        spawn(OsStr::new("sh"), &argv, &envp, stdio, false).expect("sh starts")
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    }

    #[test]
    fn a_child_is_waited_for_on_its_pidfd() {
        runtime().block_on(async {
            let mut child = start("sleep 0.05; exit 3");
            let status = child.wait().await.expect("waited");
            assert_eq!(status.code(), Some(3));
            assert_eq!(child.id(), None);
            assert_eq!(child.wait().await.expect("again").code(), Some(3));
        });
    }

    /// The SIGCHLD path, taken where pidfd_open(2) is refused: a child that ended before the
    /// watch began is seen too.
    #[test]
    fn a_child_is_waited_for_on_sigchld() {
        runtime().block_on(async {
            let mut quick = start("exit 4");
            std::thread::sleep(std::time::Duration::from_millis(50));
            let exit = Exit::sigchld().expect("SIGCHLD");
            assert_eq!(quick.wait_with(exit).await.expect("waited").code(), Some(4));
            let mut slow = start("sleep 0.05; kill -TERM $$");
            let exit = Exit::sigchld().expect("SIGCHLD");
            let status = slow.wait_with(exit).await.expect("waited");
            assert_eq!(status.signal(), Some(libc::SIGTERM));
        });
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let argv = [OsString::from("no-such-program-here")];
        let stdio = [Stdio::Inherit, Stdio::Inherit, Stdio::Inherit];
        let error =
            spawn(&argv[0], &argv, &[c"PATH=/nonexistent"], stdio, false).expect_err("not found");
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }
}
