//! Message bodies from standard input: the whole stream as one body, or one body per line.
//!
//! Binary-safe: bodies are bytes, never text. The original reads lines with `fgets` into a
//! 32 KiB buffer and measures them with `strlen`, so it cuts a line at a NUL byte and splits
//! lines longer than the buffer; ours keeps every line whole (see COMPATIBILITY.md).

use std::io::{self, BufRead, Read};

/// Reads all of `input` as one body (`amqp-publish` without `-b` or `-l`).
///
/// Errors: the read error, e.g. when standard input is a directory.
pub fn read_all(mut input: impl Read) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    input.read_to_end(&mut body)?;
    Ok(body)
}

/// Reads all of standard input, reserving its size up front when it is a regular file, so a
/// large body is read with one allocation.
///
/// Errors: the read error.
pub fn read_stdin() -> io::Result<Vec<u8>> {
    let stdin = io::stdin();
    let mut lock = stdin.lock();
    let mut body = Vec::with_capacity(stdin_size_hint());
    lock.read_to_end(&mut body)?;
    Ok(body)
}

fn stdin_size_hint() -> usize {
    use std::os::fd::AsRawFd;
    let fd = io::stdin().as_raw_fd();
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a `stat` for a valid descriptor and reports failure otherwise.
    let ok = unsafe { libc::fstat(fd, stat.as_mut_ptr()) } == 0;
    if !ok {
        return 0;
    }
    // SAFETY: fstat succeeded, so the struct is initialised.
    let stat = unsafe { stat.assume_init() };
    if stat.st_mode & libc::S_IFMT == libc::S_IFREG {
        usize::try_from(stat.st_size).unwrap_or(0).saturating_add(1)
    } else {
        0
    }
}

/// Splits `input` into lines for `-l`: each line with its `\n` kept, as the original
/// publishes them; a last line without `\n` is a line too. Lines may hold any bytes,
/// NUL included, and be of any length.
#[derive(Debug)]
pub struct Lines<R> {
    input: R,
}

impl<R: BufRead> Lines<R> {
    /// Wraps a buffered reader.
    pub fn new(input: R) -> Self {
        Lines { input }
    }

    /// The next line, `None` at end of input. Errors: the read error.
    pub fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        let read = self.input.read_until(b'\n', &mut line)?;
        Ok((read > 0).then_some(line))
    }
}

/// Lines of standard input read on a thread of their own and handed over through a bounded
/// channel, so that waiting for input (a quiet pipe, `tail -f | amqp-publish -l`) never blocks
/// the runtime that runs the connection's heartbeats. The channel ends after the last line,
/// or after a read error, which is its last item.
pub fn spawn_stdin_lines() -> tokio::sync::mpsc::Receiver<io::Result<Vec<u8>>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(1024);
    std::thread::spawn(move || {
        let mut lines = Lines::new(io::BufReader::with_capacity(64 * 1024, io::stdin()));
        loop {
            let item = match lines.next_line() {
                Ok(Some(line)) => Ok(line),
                Ok(None) => return,
                Err(error) => Err(error),
            };
            let failed = item.is_err();
            if sender.blocking_send(item).is_err() || failed {
                return;
            }
        }
    });
    receiver
}

/// Reads all of standard input ([`read_stdin`]) on a blocking thread, so the runtime keeps
/// serving the connection (heartbeats) while a slow producer writes.
///
/// Errors: the read error.
pub async fn read_stdin_off_runtime() -> io::Result<Vec<u8>> {
    tokio::task::spawn_blocking(read_stdin)
        .await
        .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<Vec<u8>> {
        let mut reader = Lines::new(input);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            out.push(line);
        }
        out
    }

    #[test]
    fn keeps_newlines_and_last_partial_line() {
        assert_eq!(
            lines(b"a\n\nb"),
            vec![b"a\n".to_vec(), b"\n".to_vec(), b"b".to_vec()]
        );
        assert_eq!(lines(b"x\r\n"), vec![b"x\r\n".to_vec()]);
        assert_eq!(lines(b""), Vec::<Vec<u8>>::new());
        assert_eq!(lines(b"a\0b\n"), vec![b"a\0b\n".to_vec()]);
    }

    #[test]
    fn reads_everything() {
        let data: Vec<u8> = (0..=255).collect();
        assert_eq!(read_all(&data[..]).unwrap(), data);
    }
}
