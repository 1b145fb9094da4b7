//! Counting the bytes that cross a socket: [`Counted`] wraps any `futures_io` byte stream and
//! adds what is read and written to a shared [`WireCount`].
//!
//! The counts are taken at the socket, below TLS: they are the octets on the wire (TLS record
//! headers, handshakes and alerts included), which is what a network would carry.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

/// Octets read and written, shared between the streams that add to it.
#[derive(Debug, Default)]
pub struct WireCount {
    read: AtomicU64,
    written: AtomicU64,
}

impl WireCount {
    /// A new zeroed count behind an [`Arc`].
    pub fn shared() -> Arc<WireCount> {
        Arc::default()
    }

    /// Octets read from the peer (server to client for a client socket).
    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Octets written to the peer (client to server for a client socket).
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    pub(crate) fn add_read(&self, n: usize) {
        self.read.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_written(&self, n: usize) {
        self.written.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// A stream that counts every octet read and written into a [`WireCount`].
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    count: Arc<WireCount>,
}

impl<S> Counted<S> {
    /// Counts the traffic of `inner` into `count`.
    pub fn new(inner: S, count: Arc<WireCount>) -> Self {
        Counted { inner, count }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            self.count.add_read(n);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            self.count.add_written(n);
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

    use super::*;

    #[tokio::test]
    async fn counts_both_directions() {
        let (a, mut b) = tokio::io::duplex(64);
        let count = WireCount::shared();
        let mut s = Counted::new(a.compat(), count.clone()).compat();
        b.write_all(b"hello world").await.unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(b"abc").await.unwrap();
        s.flush().await.unwrap();
        let mut got = [0u8; 3];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"abc");
        assert_eq!(count.read(), 5);
        assert_eq!(count.written(), 3);
    }
}
