//! Message bodies from standard input: the whole stream as one body, or one body per line.
//!
//! Binary-safe: bodies are bytes, never text. The original reads lines with `fgets` into a
//! 32 KiB buffer and measures them with `strlen`, so it cuts a line at a NUL byte and splits
//! lines longer than the buffer; ours keeps every line whole (see COMPATIBILITY.md).

use crate::error::Error;
use crate::rate::Rate;
use std::io::{self, BufRead, Read};

/// Reads all of `input` as one body cut into pieces of `piece` bytes (the last one shorter, none
/// for an empty input), for [`crate::publish::Publisher::publish_pieces`]: a piece of at most
/// one frame's payload goes out as that frame without being copied, so even a large body is
/// held in memory once, and each piece is freed once written. A piece's unused capacity is
/// never touched, so it costs no memory.
///
/// Errors: the read error, e.g. when standard input is a directory.
pub fn read_pieces(mut input: impl Read, piece: usize) -> io::Result<Vec<Vec<u8>>> {
    let piece = piece.max(1);
    let mut pieces = Vec::new();
    loop {
        let mut buffer = Vec::with_capacity(piece);
        (&mut input).take(piece as u64).read_to_end(&mut buffer)?;
        let full = buffer.len() == piece;
        if !buffer.is_empty() {
            pieces.push(buffer);
        }
        if !full {
            return Ok(pieces);
        }
    }
}

/// Lines of standard input read on a thread of their own and handed over through a bounded
/// channel, so that waiting for input (a quiet pipe, `tail -f | amqp-publish -l`) never blocks
/// the runtime that runs the connection's heartbeats. They come in batches: all the complete
/// lines a read of standard input brought (up to 1024), so that the runtime is woken once per
/// read rather than once per line. The channel ends after the last line, or after a read
/// error, which is its last item.
pub fn spawn_stdin_line_batches() -> LineBatches {
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        let mut lines = Lines::new(io::BufReader::with_capacity(64 * 1024, io::stdin()));
        let mut batch = Vec::new();
        loop {
            let (end, error) = match lines.next_line() {
                Ok(Some(line)) => {
                    batch.push(line);
                    (false, None)
                }
                Ok(None) => (true, None),
                Err(error) => (true, Some(error)),
            };
            if !batch.is_empty()
                && (end || lines.buffered() == 0 || batch.len() >= 1024)
                && sender
                    .blocking_send(Ok(std::mem::take(&mut batch)))
                    .is_err()
            {
                return;
            }
            if let Some(error) = error {
                let _ = sender.blocking_send(Err(error));
            }
            if end {
                return;
            }
        }
    });
    receiver
}

/// [`read_pieces`] of standard input, on a blocking thread, so the runtime keeps serving the
/// connection (heartbeats) while a slow producer writes.
///
/// Errors: the read error.
pub async fn read_stdin_pieces_off_runtime(piece: usize) -> io::Result<Vec<Vec<u8>>> {
    tokio::task::spawn_blocking(move || read_pieces(io::stdin().lock(), piece))
        .await
        .map_err(io::Error::other)?
}

/// Where `amqp-publish`'s message bodies come from.
#[derive(Debug)]
pub enum Bodies {
    /// `-b`: one message with this body (the bytes as given, UTF-8 or not).
    Given(Vec<u8>),
    /// One message whose body is all of standard input.
    Stdin,
    /// `-l`: a message per line of standard input ([`spawn_stdin_line_batches`]), spaced by
    /// `--rate` when given.
    StdinLines(Option<Rate>),
}

/// [`Bodies`] ready to publish: one message's body in pieces, or the lines as they are read.
#[derive(Debug)]
pub enum Opened {
    /// One message, its body the concatenation of the pieces (see [`read_pieces`]).
    Message(Vec<Vec<u8>>),
    /// The batches of lines of [`spawn_stdin_line_batches`], a message each, and the rate.
    Lines(LineBatches, Option<Rate>),
}

/// What [`spawn_stdin_line_batches`] hands over: batches of lines, or the read error.
pub type LineBatches = tokio::sync::mpsc::Receiver<io::Result<Vec<Vec<u8>>>>;

impl Bodies {
    /// Reads the one message's body (all of standard input, off the runtime, in pieces for
    /// frames of at most `frame_payload` bytes: [`piece_size`]), or starts reading lines.
    ///
    /// Errors: `reading standard input: CAUSE`.
    pub async fn open(self, frame_payload: usize) -> Result<Opened, Error> {
        match self {
            Bodies::Given(body) => Ok(Opened::Message(vec![body])),
            Bodies::Stdin => read_stdin_pieces_off_runtime(piece_size(frame_payload))
                .await
                .map(Opened::Message)
                .map_err(|e| Error::step("reading standard input", e)),
            Bodies::StdinLines(rate) => Ok(Opened::Lines(spawn_stdin_line_batches(), rate)),
        }
    }
}

/// The size of the pieces [`read_pieces`] should cut for frames carrying at most
/// `frame_payload` bytes: that, less what makes a piece's allocation end past a page boundary.
/// The C library gives an allocation this large pages of its own, after a 16-byte header; a
/// 131064-byte piece (a 128 KiB frame's payload) would thus spill 8 bytes into a 33rd page,
/// 2 MiB more memory for a 64 MiB body. 131056-byte pieces fill exactly 32 pages.
pub fn piece_size(frame_payload: usize) -> usize {
    const PAGE: usize = 4096;
    const HEADER: usize = 16;
    let fitted = ((frame_payload + HEADER) & !(PAGE - 1)).saturating_sub(HEADER);
    if fitted == 0 {
        frame_payload
    } else {
        fitted.min(frame_payload)
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
    ///
    /// A line found whole in the reader's buffer (the usual case) is copied out in one
    /// allocation of its exact size; a longer one grows as `read_until` grows it.
    pub fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let buffered = loop {
            match self.input.fill_buf() {
                Ok(buffered) => break buffered,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        };
        if let Some(end) = memchr::memchr(b'\n', buffered) {
            let line = buffered[..=end].to_vec();
            self.input.consume(end + 1);
            return Ok(Some(line));
        }
        let mut line = Vec::with_capacity(buffered.len());
        let read = self.input.read_until(b'\n', &mut line)?;
        Ok((read > 0).then_some(line))
    }
}

impl<R: Read> Lines<io::BufReader<R>> {
    /// How many bytes are buffered: 0 when the next line needs a read from the input.
    pub fn buffered(&self) -> usize {
        self.input.buffer().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_end_on_a_page_boundary() {
        assert_eq!(piece_size(131_064), 131_056);
        assert_eq!(piece_size(8_184), 8_176);
        assert_eq!(piece_size(100), 100);
    }

    #[test]
    fn cuts_the_input_into_pieces() {
        let data: Vec<u8> = (0..=255).collect();
        let pieces = read_pieces(&data[..], 100).unwrap();
        assert_eq!(
            pieces.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100, 100, 56]
        );
        assert_eq!(pieces.concat(), data);
        assert_eq!(read_pieces(&data[..], 128).unwrap().len(), 2);
        assert!(read_pieces(&b""[..], 100).unwrap().is_empty());
    }

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
        assert_eq!(read_pieces(&data[..], 7).unwrap().concat(), data);
    }
}
