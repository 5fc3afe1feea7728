//! Leaf helpers for what a tool says on stderr and how it dies: one line per message (failures
//! and warnings alike, as the original's `fprintf(stderr, ...)`), and death by SIGPIPE.
//!
//! No `crate::` imports: every layer may use this module.

use std::io::Write;

/// Writes one line on stderr, ignoring a closed stderr.
pub fn report(line: &str) {
    let line = line.replace('\n', " ");
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Ends the process the way a Unix filter ends when its output pipe is closed: killed by
/// SIGPIPE (shell status 141), with no message. Used after a write to a closed stdout, once
/// the AMQP work is safely undone (nothing acked that was not written).
pub fn exit_by_sigpipe() -> ! {
    // SAFETY: restoring the default disposition and raising a signal have no memory effects.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(128 + libc::SIGPIPE)
}
