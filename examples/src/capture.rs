//! A tap on a byte stream that records what a network capture would show.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

/// Which way a captured segment went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Written by the tapped side.
    Out,
    /// Read by the tapped side.
    In,
}

/// One stretch of bytes that went one way.
pub type Segment = (Dir, Vec<u8>);

/// Everything that crossed a tapped stream, in order, as segments.
#[derive(Clone, Debug, Default)]
pub struct Capture(Arc<Mutex<Vec<Segment>>>);

impl Capture {
    fn record(&self, dir: Dir, bytes: &[u8]) {
        let mut segments = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match segments.last_mut() {
            Some((last, buf)) if *last == dir => buf.extend_from_slice(bytes),
            _ => segments.push((dir, bytes.to_vec())),
        }
    }

    /// The segments so far.
    pub fn segments(&self) -> Vec<Segment> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether `needle` appears anywhere in the capture, as an eavesdropper would search it.
    pub fn contains(&self, needle: &[u8]) -> bool {
        self.segments()
            .iter()
            .any(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
    }

    /// The capture rendered like a packet viewer's "follow stream": printable lines as text,
    /// binary (TLS records) as a short hex dump.
    pub fn render(&self, out_label: &str, in_label: &str) -> String {
        let mut text = String::new();
        for (dir, bytes) in self.segments() {
            let label = if dir == Dir::Out { out_label } else { in_label };
            if looks_like_text(&bytes) {
                for line in String::from_utf8_lossy(&bytes).split_inclusive("\r\n") {
                    text.push_str(&format!("  {label} {}\n", line.trim_end()));
                }
            } else {
                let hex: Vec<String> = bytes.iter().take(24).map(|b| format!("{b:02x}")).collect();
                let kind = if matches!(bytes.first(), Some(0x14 | 0x16)) {
                    "TLS handshake"
                } else if bytes.first() == Some(&0x17) {
                    "TLS application data"
                } else {
                    "binary"
                };
                text.push_str(&format!(
                    "  {label} [{kind}, {} bytes] {} …\n",
                    bytes.len(),
                    hex.join(" ")
                ));
            }
        }
        text
    }
}

fn looks_like_text(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| matches!(b, b'\r' | b'\n' | b'\t' | 0x20..=0x7e))
}

/// A stream wrapper that records every byte read and written into a [`Capture`].
#[derive(Debug)]
pub struct Tap<S> {
    inner: S,
    capture: Capture,
}

impl<S> Tap<S> {
    /// Taps `inner`, recording into `capture`.
    pub fn new(inner: S, capture: Capture) -> Self {
        Tap { inner, capture }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            self.capture.record(Dir::In, &buf[..n]);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            self.capture.record(Dir::Out, &buf[..n]);
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
