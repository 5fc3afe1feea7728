//! Standard input and output that were closed when the process started (`amqp-get >&-`).
//!
//! Rust's runtime reopens a closed descriptor 0, 1 or 2 as `/dev/null` before `main` runs, so
//! that a later `open` cannot take its number. For these tools that turns a closed standard
//! output into a sink that swallows everything: `amqp-get >&-` would ack a message whose body
//! went nowhere, where the original's write fails with `EBADF` and the message stays on the
//! queue. So the state of the three descriptors is recorded before Rust's runtime starts (an
//! ELF `.init_array` entry runs before `main`, and so before the runtime's reopening), and the
//! tools refuse to start work whose input or output is not there.

use crate::error::Error;
use std::sync::atomic::{AtomicU8, Ordering};

/// Bit `fd` is set when descriptor `fd` (0, 1 or 2) was closed at exec.
static CLOSED_AT_START: AtomicU8 = AtomicU8::new(0);

/// Runs before `main` (and before Rust's runtime reopens closed standard descriptors).
#[used]
#[unsafe(link_section = ".init_array")]
static RECORD_AT_START: extern "C" fn() = record;

extern "C" fn record() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only reads the descriptor's flags; it fails with EBADF when closed.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            CLOSED_AT_START.fetch_or(1 << fd, Ordering::Relaxed);
        }
    }
}

/// Whether descriptor `fd` (0 standard input, 1 standard output, 2 standard error) was closed
/// when the process started.
pub fn closed_at_start(fd: i32) -> bool {
    (0..3).contains(&fd) && CLOSED_AT_START.load(Ordering::Relaxed) & (1 << fd) != 0
}

/// Fails when standard input was closed at start, before anything is read or published.
///
/// Errors: `reading standard input: bad file descriptor (standard input is closed)`.
pub fn require_stdin() -> Result<(), Error> {
    require(0, "reading standard input", "standard input")
}

/// Fails when standard output was closed at start, before any message is taken: what is
/// written there would be lost, and a message is acked only once written.
///
/// Errors: `writing to standard output: bad file descriptor (standard output is closed)`.
pub fn require_stdout() -> Result<(), Error> {
    require(1, "writing to standard output", "standard output")
}

/// Fails with `STEP: bad file descriptor (NAME is closed)` when descriptor `fd` was closed at
/// start.
fn require(fd: i32, step: &str, name: &str) -> Result<(), Error> {
    match closed_at_start(fd) {
        true => Err(Error::step(
            step,
            format!("bad file descriptor ({name} is closed)"),
        )),
        false => Ok(()),
    }
}
