// PATCH(amqp-tools): the bytes waiting to be written to the socket. Frames are serialised into
// the send buffer, except the payloads of large body frames: those are written from their own
// memory (one writev with the buffered bytes around them) instead of being copied into the
// buffer first. See PATCHES.md 9.
use crate::buffer::{Buffer, Checkpoint};
use amq_protocol::{frame::GenError, protocol::constants, types::ChannelId};
use futures_io::AsyncWrite;
use std::{
    collections::VecDeque,
    io::{self, IoSlice},
    pin::Pin,
    task::{Context, Poll},
};

/// Body payloads of at least this many bytes are written from their own memory; smaller ones
/// are cheaper to copy than to give an I/O vector of their own.
pub(crate) const OWN_MEMORY_PAYLOAD: usize = 16 * 1024;

/// At most this many I/O vectors go to one write (Linux's `IOV_MAX` is 1024).
const MAX_IO_VECTORS: usize = 64;

/// At most this many payloads wait to be written; serialising stops meanwhile.
const MAX_PAYLOADS: usize = 32;

pub(crate) struct Outgoing {
    buffer: Buffer,
    /// The bytes to write, in order: runs of the buffer's data and payloads.
    segments: VecDeque<Segment>,
}

enum Segment {
    /// This many bytes of the buffer's data.
    Buffered(usize),
    /// A body frame's payload, of which `written` bytes are written.
    Payload { data: Vec<u8>, written: usize },
}

impl Outgoing {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            buffer: Buffer::with_capacity(capacity),
            segments: VecDeque::new(),
        }
    }

    pub(crate) fn reset(&mut self) {
        self.buffer.reset();
        self.segments.clear();
    }

    pub(crate) fn grow(&mut self, new_size: usize) -> bool {
        self.buffer.grow(new_size)
    }

    /// Bytes waiting to be written.
    pub(crate) fn available_data(&self) -> usize {
        let payloads: usize = self
            .segments
            .iter()
            .map(|segment| match segment {
                Segment::Buffered(_) => 0,
                Segment::Payload { data, written } => data.len() - written,
            })
            .sum();
        self.buffer.available_data() + payloads
    }

    /// False while as many payloads as the outgoing bytes may hold wait to be written.
    pub(crate) fn has_room(&self) -> bool {
        self.payloads() < MAX_PAYLOADS
    }

    fn payloads(&self) -> usize {
        self.segments
            .iter()
            .filter(|segment| matches!(segment, Segment::Payload { .. }))
            .count()
    }

    /// Serialises a frame into the buffer with `generate` (amq-protocol's generator); gives
    /// the number of bytes it took. The buffer is left as it was when `generate` fails.
    pub(crate) fn serialize<F>(&mut self, generate: F) -> Result<usize, GenError>
    where
        F: FnOnce(&mut Buffer) -> Result<usize, GenError>,
    {
        let checkpoint: Checkpoint = self.buffer.checkpoint();
        match generate(&mut self.buffer) {
            Ok(size) => {
                self.buffered(size);
                Ok(size)
            }
            Err(error) => {
                self.buffer.rollback(checkpoint);
                Err(error)
            }
        }
    }

    /// Queues a body frame (AMQP 0-9-1 section 4.2.3: type, channel, size, payload, frame
    /// end) whose payload is written from `payload` itself. Gives the frame's size, or the
    /// payload back when the buffer has no room for the frame's 8 other bytes.
    pub(crate) fn push_body(
        &mut self,
        channel_id: ChannelId,
        payload: Vec<u8>,
    ) -> Result<usize, Vec<u8>> {
        let Ok(size) = u32::try_from(payload.len()) else {
            return Err(payload);
        };
        if self.buffer.available_space() < 8 {
            return Err(payload);
        }
        let mut header = [0; 7];
        header[0] = constants::FRAME_BODY;
        header[1..3].copy_from_slice(&channel_id.to_be_bytes());
        header[3..7].copy_from_slice(&size.to_be_bytes());
        let frame_size = header.len() + payload.len() + 1;
        self.put(&header);
        self.segments.push_back(Segment::Payload {
            data: payload,
            written: 0,
        });
        self.put(&[constants::FRAME_END]);
        Ok(frame_size)
    }

    fn put(&mut self, bytes: &[u8]) {
        let written = io::Write::write(&mut &mut self.buffer, bytes).unwrap_or_default();
        debug_assert_eq!(written, bytes.len(), "room was checked");
        self.buffered(written);
    }

    fn buffered(&mut self, size: usize) {
        if size == 0 {
            return;
        }
        match self.segments.back_mut() {
            Some(Segment::Buffered(run)) => *run += size,
            _ => self.segments.push_back(Segment::Buffered(size)),
        }
    }

    /// Writes what it can of the outgoing bytes, in order, in one call.
    pub(crate) fn poll_write_to<T: AsyncWrite + ?Sized>(
        &self,
        cx: &mut Context<'_>,
        writer: Pin<&mut T>,
    ) -> Poll<io::Result<usize>> {
        if !self
            .segments
            .iter()
            .any(|segment| matches!(segment, Segment::Payload { .. }))
        {
            return self.buffer.poll_write_to(cx, writer);
        }
        let mut vectors = Vec::with_capacity(MAX_IO_VECTORS);
        let mut skip = 0;
        for segment in &self.segments {
            if vectors.len() + 2 > MAX_IO_VECTORS {
                break;
            }
            match segment {
                Segment::Buffered(run) => {
                    let (first, second) = self.buffer.data(skip, *run);
                    vectors.extend(
                        [first, second]
                            .into_iter()
                            .filter(|part| !part.is_empty())
                            .map(IoSlice::new),
                    );
                    skip += run;
                }
                Segment::Payload { data, written } => vectors.push(IoSlice::new(&data[*written..])),
            }
        }
        writer.poll_write_vectored(cx, &vectors)
    }

    /// Marks `count` bytes as written, from the front.
    pub(crate) fn consume(&mut self, mut count: usize) {
        while count > 0 {
            let Some(segment) = self.segments.front_mut() else {
                break;
            };
            let done = match segment {
                Segment::Buffered(run) => {
                    let taken = count.min(*run);
                    self.buffer.consume(taken);
                    *run -= taken;
                    count -= taken;
                    *run == 0
                }
                Segment::Payload { data, written } => {
                    let taken = count.min(data.len() - *written);
                    *written += taken;
                    count -= taken;
                    *written == data.len()
                }
            };
            if done {
                self.segments.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A writer taking at most `limit` bytes per call, as a socket with a full buffer does.
    struct Socket {
        written: Vec<u8>,
        limit: usize,
    }

    impl AsyncWrite for Socket {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let size = buf.len().min(self.limit);
            self.written.extend_from_slice(&buf[..size]);
            Poll::Ready(Ok(size))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut size = 0;
            for buf in bufs {
                let take = buf.len().min(self.limit - size);
                self.written.extend_from_slice(&buf[..take]);
                size += take;
            }
            Poll::Ready(Ok(size))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn drain(outgoing: &mut Outgoing, limit: usize) -> Vec<u8> {
        let mut socket = Socket {
            written: Vec::new(),
            limit,
        };
        let mut cx = Context::from_waker(std::task::Waker::noop());
        while outgoing.available_data() > 0 {
            let Poll::Ready(Ok(size)) = outgoing.poll_write_to(&mut cx, Pin::new(&mut socket))
            else {
                panic!("the socket takes every write");
            };
            outgoing.consume(size);
        }
        socket.written
    }

    /// Buffered bytes and payloads come out in the order they were queued, whatever the size
    /// of each write, and the buffer wraps around meanwhile.
    #[test]
    fn bytes_are_written_in_order_across_partial_writes() {
        for limit in [1, 7, 1000, usize::MAX] {
            let mut outgoing = Outgoing::with_capacity(64);
            let mut expected = Vec::new();
            for round in 0..5u8 {
                let method = [round; 20];
                outgoing
                    .serialize(|buffer| {
                        let mut buffer = buffer;
                        buffer.write_all(&method).map_err(GenError::from)?;
                        Ok(method.len())
                    })
                    .expect("room for the method");
                expected.extend_from_slice(&method);
                let payload = vec![round + 100; 30_000];
                let size = outgoing.push_body(7, payload.clone()).expect("room");
                assert_eq!(size, 30_008);
                expected.extend_from_slice(&[3, 0, 7, 0, 0, 0x75, 0x30]);
                expected.extend_from_slice(&payload);
                expected.push(0xCE);
                let written = drain(&mut outgoing, limit);
                assert_eq!(written.len(), 20 + 30_008, "limit {limit}");
                assert_eq!(&written[..], &expected[..], "limit {limit}");
                expected.clear();
            }
        }
    }

    #[test]
    fn a_body_waits_when_the_buffer_has_no_room_for_its_framing() {
        let mut outgoing = Outgoing::with_capacity(16);
        outgoing
            .serialize(|buffer| {
                let mut buffer = buffer;
                buffer.write_all(&[1; 10]).map_err(GenError::from)?;
                Ok(10)
            })
            .expect("room");
        let payload = outgoing.push_body(1, vec![0; 20_000]).expect_err("no room");
        assert_eq!(payload.len(), 20_000);
        assert_eq!(outgoing.available_data(), 10);
    }
}
