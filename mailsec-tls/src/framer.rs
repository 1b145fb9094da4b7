//! The bounded CRLF line framer shared by the SMTP, POP3 and IMAP machines.
//!
//! A [`LineFramer`] turns a stream of received bytes, delivered in chunks of any size, into
//! lines. It is strict where mail software has been weak:
//!
//! - **Only CRLF ends a line.** A bare LF (not preceded by CR) is [`FrameError::BareLf`]; a CR
//!   anywhere inside a line that is not the CR of the final CRLF is [`FrameError::BareCr`]. This
//!   is the defence against SMTP smuggling (CVE-2023-51764, CVE-2023-51765, CVE-2023-51766),
//!   where `\n.\n` or `\r.\r` ended DATA in one server but not in the next. A CR that is the last
//!   byte received is not an error yet: it may be the first half of a CRLF split across chunks.
//! - **Every limit is checked before memory is reserved.** A line longer than
//!   [`max_line`](LineFramer::max_line) (counting its CRLF) is [`FrameError::LineTooLong`] as
//!   soon as that many bytes are buffered without a LF; the rest of that line is then discarded
//!   as it arrives, without being buffered. A [`push`](LineFramer::push) that would hold more
//!   than [`max_buffered`](LineFramer::max_buffered) bytes is refused with
//!   [`FrameError::BufferFull`] before anything is copied or allocated.
//! - **Errors are per line.** After a bare LF, a bare CR or a too-long line, the offending line
//!   is dropped and framing goes on with the next one, so a server can answer `500` and carry on.
//!   [`FrameError::BufferFull`] changes nothing and leaves the decision to the caller.
//!
//! Lines come out as [`Bytes`] split off the internal buffer without copying. Raw bytes (IMAP
//! literals, SMTP BDAT chunks) are taken with [`take_raw`](LineFramer::take_raw), which bypasses
//! line framing.
//!
//! Work is linear in the input however it is chunked: the LF search resumes where the last one
//! stopped instead of rescanning, so byte-at-a-time delivery costs the same per byte as one big
//! chunk.
//!
//! ```
//! use mailsec_tls::framer::{FrameError, LineFramer};
//!
//! let mut framer = LineFramer::new(512); // RFC 5321 §4.5.3.1.4: SMTP command lines
//! framer.push(b"EHLO client.example\r\nMAIL FROM:<a@example>\nRCPT")?;
//! assert_eq!(framer.next_line().unwrap()?, &b"EHLO client.example"[..]);
//! assert_eq!(framer.next_line(), Some(Err(FrameError::BareLf)));
//! assert_eq!(framer.next_line(), None); // "RCPT" waits for its CRLF
//! framer.push(b" TO:<b@example>\r")?;
//! assert_eq!(framer.next_line(), None); // the CR may be half of a CRLF
//! framer.push(b"\n")?;
//! assert_eq!(framer.next_line().unwrap()?, &b"RCPT TO:<b@example>"[..]);
//! assert!(framer.is_empty());
//! # Ok::<(), FrameError>(())
//! ```

use bytes::{Buf, Bytes, BytesMut};
use memchr::{memchr, memchr2};

/// Default bound on buffered bytes (pipelined input not yet framed): 64 KiB.
pub const DEFAULT_MAX_BUFFERED: usize = 64 * 1024;

/// The smallest line limit a framer accepts: an empty line, that is its CRLF.
pub const MIN_LINE_LIMIT: usize = 2;

/// What was wrong with the input. Every variant except [`FrameError::BufferFull`] stands for one
/// dropped line; framing continues after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A line, counting its CRLF, was longer than the limit. It has been (or is being) discarded
    /// up to and including its LF.
    #[error("line longer than {limit} octets")]
    LineTooLong {
        /// The line limit in force, counting the CRLF.
        limit: usize,
    },
    /// A LF not preceded by CR. The line up to and including that LF has been dropped.
    #[error("bare LF: line not ended by CRLF")]
    BareLf,
    /// A CR not followed by LF inside a line. The line up to and including its LF has been
    /// dropped.
    #[error("bare CR inside a line")]
    BareCr,
    /// The pushed chunk would make the framer hold more than its buffer limit. Nothing of the
    /// chunk was taken: take lines or raw bytes first, or give up on the peer.
    #[error("more than {limit} octets of input waiting to be framed")]
    BufferFull {
        /// The buffer limit in force.
        limit: usize,
    },
}

/// A bounded, strict CRLF line framer. See the [module documentation](self).
///
/// The drive loop: [`push`](Self::push) what arrived, then call [`next_line`](Self::next_line)
/// until it returns `None`, handling each line or error as it comes.
///
/// ```
/// use mailsec_tls::framer::{FrameError, LineFramer};
///
/// // POP3 commands (RFC 2449: 255 octets with the CRLF), at most 4 KiB pipelined.
/// let mut framer = LineFramer::new(255).with_max_buffered(4096);
/// let mut lines = Vec::new();
/// for chunk in [&b"USER al"[..], b"ice\r\nPA", b"SS x\r", b"\nQUIT\r\n"] {
///     framer.push(chunk)?;
///     while let Some(line) = framer.next_line() {
///         lines.push(line?);
///     }
/// }
/// assert_eq!(lines, ["USER alice", "PASS x", "QUIT"]);
/// # Ok::<(), FrameError>(())
/// ```
pub struct LineFramer {
    /// Received bytes not yet returned (minus any discarded ones).
    buf: BytesMut,
    /// `buf[..scanned]` is known to contain no LF.
    scanned: usize,
    /// After a too-long line whose LF has not arrived: drop input up to and including a LF.
    discarding: bool,
    max_line: usize,
    max_buffered: usize,
}

impl std::fmt::Debug for LineFramer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the contents: they may hold credentials.
        f.debug_struct("LineFramer")
            .field("buffered", &self.buf.len())
            .field("discarding", &self.discarding)
            .field("max_line", &self.max_line)
            .field("max_buffered", &self.max_buffered)
            .finish()
    }
}

impl LineFramer {
    /// A framer for lines of at most `max_line` octets counting the CRLF (512 for SMTP commands,
    /// 1000 for SMTP DATA lines, 255 for POP3 commands…), buffering at most
    /// [`DEFAULT_MAX_BUFFERED`] bytes. A limit below [`MIN_LINE_LIMIT`] is raised to it.
    ///
    /// ```
    /// let framer = mailsec_tls::framer::LineFramer::new(1000);
    /// assert_eq!(framer.max_line(), 1000);
    /// assert_eq!(framer.max_buffered(), mailsec_tls::framer::DEFAULT_MAX_BUFFERED);
    /// ```
    pub fn new(max_line: usize) -> Self {
        LineFramer {
            buf: BytesMut::new(),
            scanned: 0,
            discarding: false,
            max_line: max_line.max(MIN_LINE_LIMIT),
            max_buffered: DEFAULT_MAX_BUFFERED,
        }
    }

    /// The same framer with another buffer limit (see [`set_max_buffered`](Self::set_max_buffered)).
    #[must_use]
    pub fn with_max_buffered(mut self, max_buffered: usize) -> Self {
        self.max_buffered = max_buffered;
        self
    }

    /// The line limit, counting the CRLF.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Changes the line limit, effective from the line being framed now (IMAP raises it after
    /// login). A limit below [`MIN_LINE_LIMIT`] is raised to it.
    ///
    /// ```
    /// use mailsec_tls::framer::{FrameError, LineFramer};
    ///
    /// let mut framer = LineFramer::new(8);
    /// framer.push(b"a LOGIN\r\n")?;
    /// assert_eq!(framer.next_line(), Some(Err(FrameError::LineTooLong { limit: 8 })));
    /// framer.set_max_line(64);
    /// framer.push(b"a LOGIN\r\n")?;
    /// assert_eq!(framer.next_line().unwrap()?, &b"a LOGIN"[..]);
    /// # Ok::<(), FrameError>(())
    /// ```
    pub fn set_max_line(&mut self, max_line: usize) {
        self.max_line = max_line.max(MIN_LINE_LIMIT);
    }

    /// The bound on bytes held by the framer.
    pub fn max_buffered(&self) -> usize {
        self.max_buffered
    }

    /// Changes the bound on bytes held by the framer. Bytes already held are kept even if they
    /// exceed a lowered bound; further pushes are refused until enough has been taken. A bound
    /// below the line limit means [`FrameError::BufferFull`] comes before
    /// [`FrameError::LineTooLong`] for long lines.
    pub fn set_max_buffered(&mut self, max_buffered: usize) {
        self.max_buffered = max_buffered;
    }

    /// How many received bytes are held, not yet returned as a line or raw bytes.
    ///
    /// # The STARTTLS cut
    ///
    /// A protocol machine checks `buffered() == 0` right after framing a STARTTLS / STLS command
    /// (server) or the go-ahead reply (client), before it queues or acts on the upgrade: any byte
    /// held then arrived in plaintext after the command and must never be read as if it came
    /// over TLS (command injection, CVE-2011-0411; response injection, CVE-2021-22947). The
    /// driver must have handed the machine every received byte before that check, which
    /// [`crate::Pipe::start_tls`] enforces on its side.
    ///
    /// ```
    /// use mailsec_tls::framer::LineFramer;
    ///
    /// let mut framer = LineFramer::new(512);
    /// framer.push(b"STARTTLS\r\nMAIL FROM:<attacker@example>\r\n").unwrap();
    /// assert_eq!(framer.next_line().unwrap().unwrap(), &b"STARTTLS"[..]);
    /// let injected = framer.buffered() != 0;
    /// assert!(injected, "refuse the upgrade and close");
    /// ```
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether no received byte is held ([`buffered`](Self::buffered) is 0).
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// How many more bytes a [`push`](Self::push) may bring now without
    /// [`FrameError::BufferFull`] (bytes the framer discards do not count).
    pub fn remaining(&self) -> usize {
        self.max_buffered.saturating_sub(self.buf.len())
    }

    /// The allocated size of the internal buffer, for tests and metrics.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether the framer is dropping the rest of a too-long line until its LF arrives.
    pub fn is_discarding(&self) -> bool {
        self.discarding
    }

    /// Adds received bytes.
    ///
    /// While the rest of a too-long line is being discarded, bytes up to and including the next
    /// LF are dropped here without being buffered. The limit is checked before any memory is
    /// reserved: if the bytes to keep would make the framer hold more than
    /// [`max_buffered`](Self::max_buffered), nothing is taken and the state is unchanged.
    ///
    /// ```
    /// use mailsec_tls::framer::{FrameError, LineFramer};
    ///
    /// let mut framer = LineFramer::new(512).with_max_buffered(1024);
    /// let flood = vec![b'A'; 1 << 20];
    /// assert_eq!(framer.push(&flood), Err(FrameError::BufferFull { limit: 1024 }));
    /// assert_eq!(framer.buffered(), 0);
    /// assert!(framer.capacity() <= 1024);
    /// ```
    pub fn push(&mut self, data: &[u8]) -> Result<(), FrameError> {
        let (keep, ends_discard) = if self.discarding {
            match memchr(b'\n', data) {
                Some(lf) => (&data[lf + 1..], true),
                None => return Ok(()),
            }
        } else {
            (data, false)
        };
        if keep.len() > self.max_buffered.saturating_sub(self.buf.len()) {
            return Err(FrameError::BufferFull {
                limit: self.max_buffered,
            });
        }
        if ends_discard {
            self.discarding = false;
        }
        self.buf.extend_from_slice(keep);
        Ok(())
    }

    /// The next complete line without its CRLF, or the error that dropped it; `None` when no
    /// complete line (and no too-long partial line) is held.
    ///
    /// A line too long is reported as soon as [`max_line`](Self::max_line) bytes are held
    /// without a LF, without waiting for the LF. The length check comes first, then bare LF,
    /// then bare CR.
    ///
    /// ```
    /// use mailsec_tls::framer::{FrameError, LineFramer};
    ///
    /// let mut framer = LineFramer::new(512);
    /// framer.push(b"DATA\r\n\r\n.\r\r\n")?;
    /// assert_eq!(framer.next_line().unwrap()?, &b"DATA"[..]);
    /// assert_eq!(framer.next_line().unwrap()?, &b""[..]);
    /// assert_eq!(framer.next_line(), Some(Err(FrameError::BareCr)));
    /// assert_eq!(framer.next_line(), None);
    /// # Ok::<(), FrameError>(())
    /// ```
    pub fn next_line(&mut self) -> Option<Result<Bytes, FrameError>> {
        let len = self.buf.len();
        if self.scanned == 0 {
            // The common case in one search: the first CR or LF is the CR of a CRLF within the
            // limit, so no bare CR or LF comes before it. Anything else takes the path below.
            let window = len.min(self.max_line);
            if let Some(p) = memchr2(b'\r', b'\n', &self.buf[..window]) {
                if p + 1 < window && self.buf[p] == b'\r' && self.buf[p + 1] == b'\n' {
                    let mut line = self.buf.split_to(p + 2);
                    line.truncate(p);
                    return Some(Ok(line.freeze()));
                }
            }
        }
        // A LF at index `max_line - 1` still makes a line of exactly `max_line` octets.
        let window = len.min(self.max_line);
        let found = if self.scanned < window {
            memchr(b'\n', &self.buf[self.scanned..window]).map(|i| self.scanned + i)
        } else {
            None
        };
        if let Some(lf) = found {
            self.scanned = 0;
            return Some(self.split_line(lf));
        }
        self.scanned = self.scanned.max(window);
        if len < self.max_line {
            return None;
        }
        // `max_line` bytes and no LF among them: too long whatever comes next. Drop through the
        // LF if it is already here, otherwise drop everything and the rest as it arrives.
        let limit = self.max_line;
        match memchr(b'\n', &self.buf[self.scanned..]) {
            Some(i) => self.buf.advance(self.scanned + i + 1),
            None => {
                self.buf.clear();
                self.discarding = true;
            }
        }
        self.scanned = 0;
        Some(Err(FrameError::LineTooLong { limit }))
    }

    /// Splits off the line whose LF is at `lf`, checking its CRs.
    fn split_line(&mut self, lf: usize) -> Result<Bytes, FrameError> {
        if lf == 0 || self.buf[lf - 1] != b'\r' {
            self.buf.advance(lf + 1);
            return Err(FrameError::BareLf);
        }
        let end = lf - 1;
        if memchr(b'\r', &self.buf[..end]).is_some() {
            self.buf.advance(lf + 1);
            return Err(FrameError::BareCr);
        }
        let mut line = self.buf.split_to(lf + 1);
        line.truncate(end);
        Ok(line.freeze())
    }

    /// Takes up to `max` held bytes as they are, bypassing line framing: the bytes of an IMAP
    /// literal `{n}`, an SMTP BDAT chunk, or anything else whose length the protocol announced.
    /// Returns fewer bytes (possibly none) when fewer are held; call again after the next
    /// [`push`](Self::push) for the rest.
    ///
    /// ```
    /// use mailsec_tls::framer::{FrameError, LineFramer};
    ///
    /// let mut framer = LineFramer::new(1024);
    /// framer.push(b"a1 LOGIN {6}\r\nal\r\nc")?;
    /// assert_eq!(framer.next_line().unwrap()?, &b"a1 LOGIN {6}"[..]);
    /// let mut literal = framer.take_raw(6).to_vec(); // only 5 held so far
    /// framer.push(b"e secret\r\n")?;
    /// literal.extend_from_slice(&framer.take_raw(6 - literal.len()));
    /// assert_eq!(literal, b"al\r\nce");
    /// assert_eq!(framer.next_line().unwrap()?, &b" secret"[..]);
    /// # Ok::<(), FrameError>(())
    /// ```
    pub fn take_raw(&mut self, max: usize) -> Bytes {
        let n = max.min(self.buf.len());
        self.scanned = self.scanned.saturating_sub(n);
        self.buf.split_to(n).freeze()
    }

    /// Drops every held byte and forgets any too-long line being discarded; the limits stay.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.scanned = 0;
        self.discarding = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in chunks of `step` bytes, draining after each push.
    fn run(framer: &mut LineFramer, input: &[u8], step: usize) -> Vec<Result<Bytes, FrameError>> {
        let mut out = Vec::new();
        for chunk in input.chunks(step.max(1)) {
            framer.push(chunk).expect("within the buffer limit");
            while let Some(item) = framer.next_line() {
                out.push(item);
            }
        }
        out
    }

    #[test]
    fn scan_offset_is_kept_and_reset() {
        let mut framer = LineFramer::new(100);
        framer.push(b"abc").unwrap();
        assert_eq!(framer.next_line(), None);
        assert_eq!(framer.scanned, 3);
        framer.push(b"de\r").unwrap();
        assert_eq!(framer.next_line(), None);
        assert_eq!(framer.scanned, 6);
        framer.push(b"\nxy").unwrap();
        assert_eq!(framer.next_line().unwrap().unwrap(), &b"abcde"[..]);
        assert_eq!(framer.scanned, 0);
        assert_eq!(framer.next_line(), None);
        assert_eq!(framer.scanned, 2);
        assert_eq!(framer.take_raw(1), &b"x"[..]);
        assert_eq!(framer.scanned, 1);
    }

    #[test]
    fn scan_never_passes_the_line_limit() {
        let mut framer = LineFramer::new(4);
        framer.push(b"ab").unwrap();
        assert_eq!(framer.next_line(), None);
        framer.push(b"c").unwrap();
        assert_eq!(framer.next_line(), None);
        assert_eq!(framer.scanned, 3);
        framer.push(b"\r").unwrap();
        assert_eq!(
            framer.next_line(),
            Some(Err(FrameError::LineTooLong { limit: 4 }))
        );
        assert!(framer.discarding);
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn lowering_the_limit_mid_line_does_not_panic() {
        let mut framer = LineFramer::new(100);
        framer.push(b"0123456789").unwrap();
        assert_eq!(framer.next_line(), None);
        framer.set_max_line(4);
        assert_eq!(
            framer.next_line(),
            Some(Err(FrameError::LineTooLong { limit: 4 }))
        );
        framer.push(b"xx\r\nok\r\n").unwrap();
        assert_eq!(framer.next_line().unwrap().unwrap(), &b"ok"[..]);
    }

    #[test]
    fn tiny_limits_are_raised() {
        let mut framer = LineFramer::new(0);
        assert_eq!(framer.max_line(), MIN_LINE_LIMIT);
        assert_eq!(
            run(&mut framer, b"\r\nx\r\n\r\n", 1),
            [
                Ok(Bytes::new()),
                Err(FrameError::LineTooLong { limit: 2 }),
                Ok(Bytes::new()),
            ]
        );
    }

    #[test]
    fn discard_ends_inside_a_push_and_keeps_the_rest() {
        let mut framer = LineFramer::new(4).with_max_buffered(8);
        framer.push(b"toolong").unwrap();
        assert_eq!(
            framer.next_line(),
            Some(Err(FrameError::LineTooLong { limit: 4 }))
        );
        // 1 MiB of the too-long line costs nothing.
        framer.push(&vec![b'x'; 1 << 20]).unwrap();
        assert_eq!(framer.buffered(), 0);
        assert!(framer.capacity() < 1024, "{}", framer.capacity());
        // The rest after the LF must fit the limit, or nothing changes.
        assert_eq!(
            framer.push(b"end\r\n123456789"),
            Err(FrameError::BufferFull { limit: 8 })
        );
        assert!(framer.is_discarding());
        framer.push(b"end\r\nok\r\n").unwrap();
        assert!(!framer.is_discarding());
        assert_eq!(framer.next_line().unwrap().unwrap(), &b"ok"[..]);
    }

    #[test]
    fn clear_forgets_everything_but_limits() {
        let mut framer = LineFramer::new(4).with_max_buffered(16);
        framer.push(b"abcdef").unwrap();
        assert!(framer.next_line().unwrap().is_err());
        framer.clear();
        assert!(!framer.is_discarding());
        assert_eq!(
            run(&mut framer, b"ok\r\n", 1),
            [Ok(Bytes::from_static(b"ok"))]
        );
        assert_eq!((framer.max_line(), framer.max_buffered()), (4, 16));
    }

    #[test]
    fn debug_hides_contents() {
        let mut framer = LineFramer::new(64);
        framer.push(b"PASS hunter2").unwrap();
        let shown = format!("{framer:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("buffered: 12"), "{shown}");
    }
}
