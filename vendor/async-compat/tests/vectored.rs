// PATCH(amqp-tools): the test of PATCHES.md 1.
use async_compat::Compat;
use futures::io::AsyncWriteExt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A tokio writer that records the slices each vectored write was given.
#[derive(Default)]
struct Recorder {
    vectored_calls: Vec<usize>,
    written: Vec<u8>,
}

impl tokio::io::AsyncWrite for Recorder {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.vectored_calls.push(bufs.len());
        let mut size = 0;
        for buf in bufs {
            self.written.extend_from_slice(buf);
            size += buf.len();
        }
        Poll::Ready(Ok(size))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn vectored_writes_reach_the_tokio_writer_whole() {
    futures::executor::block_on(async {
        let mut writer = Compat::new(Recorder::default());
        let slices = [IoSlice::new(b"head"), IoSlice::new(b"body"), IoSlice::new(b"end")];
        let written = writer.write_vectored(&slices).await.expect("written");
        assert_eq!(written, 11);
        let recorder = writer.get_ref();
        assert_eq!(recorder.vectored_calls, [3]);
        assert_eq!(recorder.written, b"headbodyend");
    });
}
