//! Temporary framer stub (replaced by the real framer).
#![allow(missing_docs)]
use bytes::{Bytes, BytesMut};
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    #[error("line too long")]
    LineTooLong { limit: usize },
    #[error("bare LF")]
    BareLf,
    #[error("bare CR")]
    BareCr,
    #[error("buffer full")]
    BufferFull { limit: usize },
}
#[derive(Debug)]
pub struct LineFramer {
    buf: BytesMut,
    max: usize,
}
impl LineFramer {
    pub fn new(max: usize) -> Self {
        LineFramer {
            buf: BytesMut::new(),
            max,
        }
    }
    pub fn push(&mut self, d: &[u8]) -> Result<(), FrameError> {
        if self.buf.len() + d.len() > 65536 {
            return Err(FrameError::BufferFull { limit: 65536 });
        }
        self.buf.extend_from_slice(d);
        Ok(())
    }
    pub fn next_line(&mut self) -> Option<Result<Bytes, FrameError>> {
        let p = memchr::memchr(b'\n', &self.buf)?;
        let mut l = self.buf.split_to(p + 1);
        l.truncate(p);
        if l.last() != Some(&b'\r') {
            return Some(Err(FrameError::BareLf));
        }
        l.truncate(p - 1);
        let _ = self.max;
        Some(Ok(l.freeze()))
    }
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
    pub fn clear(&mut self) {
        self.buf.clear()
    }
}
