//! Counting the bytes that cross a socket: [`Counted`] wraps any `futures_io` byte stream and
//! adds what is read and written to a shared [`WireCount`].
//!
//! The counts are taken at the socket, below TLS: they are the octets on the wire (TLS record
//! headers, handshakes and alerts included), which is what a network would carry.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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

/// Where a [`Counted`] stream puts its inner stream back when it is dropped, so that the
/// caller can read what the peer still sends after the protocol session let go of the stream
/// (a TLS `close_notify`, the rest of a final reply, what followed a refused login) and count
/// it, as the load workers do after every session, clean or failed: they read until the server
/// closes, for at most [`DRAIN_LIMIT`](super::DRAIN_LIMIT) and
/// [`DRAIN_MAX_BYTES`](super::DRAIN_MAX_BYTES).
pub type ReturnSlot<S> = Arc<Mutex<Option<S>>>;

/// A stream that counts every octet read and written into a [`WireCount`] (and, optionally,
/// into a second one: [`Counted::also`]).
#[derive(Debug)]
pub struct Counted<S> {
    /// Always `Some` until dropped.
    inner: Option<S>,
    count: Arc<WireCount>,
    also: Option<Arc<WireCount>>,
    slot: Option<ReturnSlot<S>>,
}

impl<S> Counted<S> {
    /// Counts the traffic of `inner` into `count`.
    pub fn new(inner: S, count: Arc<WireCount>) -> Self {
        Counted {
            inner: Some(inner),
            count,
            also: None,
            slot: None,
        }
    }

    /// Like [`Counted::new`], and when dropped puts `inner` into `slot` (a slot the caller
    /// made before connecting, so that it can drain the socket whichever way the session
    /// ended, even if the session was cancelled).
    pub fn returning_to(inner: S, count: Arc<WireCount>, slot: ReturnSlot<S>) -> Self {
        Counted {
            inner: Some(inner),
            count,
            also: None,
            slot: Some(slot),
        }
    }

    /// Also counts every octet into `extra` (a per-connection count beside a shared one).
    pub fn also(mut self, extra: Arc<WireCount>) -> Self {
        self.also = Some(extra);
        self
    }

    /// Like [`Counted::new`], and when dropped puts `inner` into the returned slot.
    pub fn returning(inner: S, count: Arc<WireCount>) -> (Self, ReturnSlot<S>) {
        let slot: ReturnSlot<S> = Arc::default();
        let counted = Counted::returning_to(inner, count, Arc::clone(&slot));
        (counted, slot)
    }

    fn inner(&mut self) -> io::Result<&mut S> {
        self.inner
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl<S> Drop for Counted<S> {
    fn drop(&mut self) {
        if let (Some(slot), Some(inner)) = (self.slot.take(), self.inner.take()) {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(inner);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let inner = match self.inner() {
            Ok(inner) => inner,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let result = Pin::new(inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            self.count.add_read(n);
            if let Some(also) = &self.also {
                also.add_read(n);
            }
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
        let inner = match self.inner() {
            Ok(inner) => inner,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let result = Pin::new(inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            self.count.add_written(n);
            if let Some(also) = &self.also {
                also.add_written(n);
            }
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.inner() {
            Ok(inner) => Pin::new(inner).poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.inner() {
            Ok(inner) => Pin::new(inner).poll_close(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
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

    #[tokio::test]
    async fn a_second_count_sees_the_same_octets() {
        let (a, mut b) = tokio::io::duplex(64);
        let shared = WireCount::shared();
        shared.add_read(100);
        let own = WireCount::shared();
        let mut s = Counted::new(a.compat(), shared.clone())
            .also(own.clone())
            .compat();
        b.write_all(b"1234").await.unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(b"xy").await.unwrap();
        s.flush().await.unwrap();
        assert_eq!((shared.read(), shared.written()), (104, 2));
        assert_eq!((own.read(), own.written()), (4, 2));
    }

    #[tokio::test]
    async fn a_returning_stream_is_handed_back_on_drop() {
        let (a, _b) = tokio::io::duplex(64);
        let (s, slot) = Counted::returning(a.compat(), WireCount::shared());
        assert!(slot.lock().unwrap().is_none());
        drop(s);
        assert!(slot.lock().unwrap().is_some());
    }
}
