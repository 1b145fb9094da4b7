//! [`CommandFramer`]: the server's command line framer, handing out lines as slices of its
//! buffer.
//!
//! It frames exactly as the shared [`mailsec_tls::framer::LineFramer`] does — the same
//! strictness (only CRLF ends a line; bare CR and bare LF are errors: the SMTP smuggling
//! defence), the same limits checked before memory is reserved, the same per-line errors and
//! [`FrameError`] values, linear work however the input is chunked — but
//! [`next_line`](CommandFramer::next_line) returns a `&[u8]` borrowed from the buffer instead
//! of splitting a [`Bytes`] off it. A line is parsed
//! ([`parse_command_ref`](crate::parse::parse_command_ref)) and dropped before the next one is
//! asked for, so nothing needs to own it: no reference count, no split per line. The octets
//! handed out are dropped from the buffer at the next [`push`](CommandFramer::push) or
//! [`take_raw`](CommandFramer::take_raw).
//!
//! [`lines`](CommandFramer::lines) frames straight from the caller's input instead: the lines
//! are slices of the input, and only a line split between two inputs goes through the buffer
//! (no copy of each read into the framer). Same lines, same errors; see [`Lines`].
//!
//! ```
//! use mailsec_smtp::framer::CommandFramer;
//! use mailsec_smtp::parse::{parse_command_ref, ParseOptions};
//! use mailsec_smtp::types::MAX_AUTH_LINE;
//! use mailsec_tls::framer::FrameError;
//!
//! let mut framer = CommandFramer::new(MAX_AUTH_LINE);
//! framer.push(b"EHLO client.example\r\nMAIL FROM:<a@example.org>\nRCPT TO:<b@exa")?;
//! assert_eq!(framer.next_line(), Some(Ok(&b"EHLO client.example"[..])));
//! assert_eq!(framer.next_line(), Some(Err(FrameError::BareLf)));
//! assert_eq!(framer.next_line(), None); // the RCPT line waits for its CRLF
//! framer.push(b"mple.net>\r\n")?;
//! let line = framer.next_line().unwrap()?;
//! assert_eq!(parse_command_ref(line, ParseOptions::new()).unwrap().verb(), "RCPT");
//! assert!(framer.is_empty());
//! # Ok::<(), FrameError>(())
//! ```

use bytes::{Buf, Bytes, BytesMut};
use mailsec_tls::framer::{DEFAULT_MAX_BUFFERED, FrameError, MIN_LINE_LIMIT};
use memchr::{memchr, memchr2};

/// A bounded, strict CRLF line framer lending its lines. See the [module documentation](self).
pub struct CommandFramer {
    /// Received bytes; `buf[..start]` were handed out (or discarded) and are dropped lazily.
    buf: BytesMut,
    start: usize,
    /// `buf[start..start + scanned]` is known to contain no LF.
    scanned: usize,
    /// After a too-long line whose LF has not arrived: drop input up to and including a LF.
    discarding: bool,
    max_line: usize,
    max_buffered: usize,
}

impl std::fmt::Debug for CommandFramer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the contents: they may hold credentials.
        f.debug_struct("CommandFramer")
            .field("buffered", &self.buffered())
            .field("discarding", &self.discarding)
            .field("max_line", &self.max_line)
            .field("max_buffered", &self.max_buffered)
            .finish()
    }
}

impl CommandFramer {
    /// A framer for lines of at most `max_line` octets counting the CRLF, buffering at most
    /// [`DEFAULT_MAX_BUFFERED`] bytes. A limit below [`MIN_LINE_LIMIT`] is raised to it.
    pub fn new(max_line: usize) -> CommandFramer {
        CommandFramer {
            buf: BytesMut::new(),
            start: 0,
            scanned: 0,
            discarding: false,
            max_line: max_line.max(MIN_LINE_LIMIT),
            max_buffered: DEFAULT_MAX_BUFFERED,
        }
    }

    /// The same framer with another bound on buffered bytes.
    #[must_use]
    pub fn with_max_buffered(mut self, max_buffered: usize) -> CommandFramer {
        self.max_buffered = max_buffered;
        self
    }

    /// The line limit, counting the CRLF.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// The bound on bytes held.
    pub fn max_buffered(&self) -> usize {
        self.max_buffered
    }

    /// How many received bytes are held, not yet returned as a line or raw bytes. A server
    /// checks it is 0 right after `STARTTLS` (the STARTTLS cut, CVE-2011-0411; see
    /// [`LineFramer::buffered`](mailsec_tls::framer::LineFramer::buffered)).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether no received byte is held.
    pub fn is_empty(&self) -> bool {
        self.buffered() == 0
    }

    /// How many more bytes a [`push`](Self::push) may bring now without
    /// [`FrameError::BufferFull`].
    pub fn remaining(&self) -> usize {
        self.max_buffered.saturating_sub(self.buffered())
    }

    /// Whether the framer is dropping the rest of a too-long line until its LF arrives.
    pub fn is_discarding(&self) -> bool {
        self.discarding
    }

    /// Drops the octets already handed out.
    fn compact(&mut self) {
        if self.start == self.buf.len() {
            self.buf.clear();
        } else {
            self.buf.advance(self.start);
        }
        self.start = 0;
    }

    /// Adds received bytes; as [`LineFramer::push`](mailsec_tls::framer::LineFramer::push):
    /// the rest of a too-long line is dropped here, and a push that would hold more than
    /// [`max_buffered`](Self::max_buffered) takes nothing and changes nothing.
    pub fn push(&mut self, data: &[u8]) -> Result<(), FrameError> {
        let (keep, ends_discard) = if self.discarding {
            match memchr(b'\n', data) {
                Some(lf) => (&data[lf + 1..], true),
                None => return Ok(()),
            }
        } else {
            (data, false)
        };
        if keep.len() > self.remaining() {
            return Err(FrameError::BufferFull {
                limit: self.max_buffered,
            });
        }
        if ends_discard {
            self.discarding = false;
        }
        self.compact();
        self.buf.extend_from_slice(keep);
        Ok(())
    }

    /// The next complete line without its CRLF, borrowed from the buffer, or the error that
    /// dropped it; `None` when no complete line (and no too-long partial line) is held. The
    /// same order of checks as
    /// [`LineFramer::next_line`](mailsec_tls::framer::LineFramer::next_line): length, then
    /// bare LF, then bare CR.
    pub fn next_line(&mut self) -> Option<Result<&[u8], FrameError>> {
        let s = self.start;
        let len = self.buf.len() - s;
        let window = len.min(self.max_line);
        if self.scanned == 0 {
            // The common case in one search: the first CR or LF is the CR of a CRLF within the
            // limit, so no bare CR or LF comes before it.
            let held = &self.buf[s..s + window];
            if let Some(p) = find_cr_or_lf(held) {
                if held.get(p..p + 2) == Some(&b"\r\n"[..]) {
                    self.start = s + p + 2;
                    return Some(Ok(&self.buf[s..s + p]));
                }
            }
        }
        // A LF at index `max_line - 1` still makes a line of exactly `max_line` octets.
        let found = if self.scanned < window {
            memchr(b'\n', &self.buf[s + self.scanned..s + window]).map(|i| self.scanned + i)
        } else {
            None
        };
        if let Some(lf) = found {
            self.scanned = 0;
            self.start = s + lf + 1;
            if lf == 0 || self.buf[s + lf - 1] != b'\r' {
                return Some(Err(FrameError::BareLf));
            }
            let line = &self.buf[s..s + lf - 1];
            if memchr(b'\r', line).is_some() {
                return Some(Err(FrameError::BareCr));
            }
            return Some(Ok(line));
        }
        self.scanned = self.scanned.max(window);
        if len < self.max_line {
            return None;
        }
        // `max_line` bytes and no LF among them: too long whatever comes next. Drop through the
        // LF if it is already here, otherwise drop everything and the rest as it arrives.
        let limit = self.max_line;
        match memchr(b'\n', &self.buf[s + self.scanned..]) {
            Some(i) => self.start = s + self.scanned + i + 1,
            None => {
                self.buf.clear();
                self.start = 0;
                self.discarding = true;
            }
        }
        self.scanned = 0;
        Some(Err(FrameError::LineTooLong { limit }))
    }

    /// Takes up to `max` held bytes as they are, bypassing line framing (a DATA body, a BDAT
    /// chunk), without copying. Returns fewer bytes (possibly none) when fewer are held.
    pub fn take_raw(&mut self, max: usize) -> Bytes {
        self.compact();
        let n = max.min(self.buf.len());
        self.scanned = self.scanned.saturating_sub(n);
        self.buf.split_to(n).freeze()
    }

    /// Drops every held byte and forgets any too-long line being discarded; the limits stay.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
        self.scanned = 0;
        self.discarding = false;
    }

    /// Frames the lines of `input` straight from it, without copying it into the framer: the
    /// lines [`Lines::next_line`] returns are slices of `input`, except a line begun in
    /// earlier input (held by the framer), which is completed from `input` (only its own
    /// octets are copied). When [`Lines::next_line`] returns `None`, `input` is used up and
    /// the partial line at its end is held for the next input, as after [`push`](Self::push).
    ///
    /// The lines and errors are those of `push(input)` followed by
    /// [`next_line`](Self::next_line) until `None`, whatever the chunking, with one
    /// difference: the bound on buffered bytes ([`max_buffered`](Self::max_buffered)) applies
    /// to the octets the framer holds (a partial line), not to `input`, which stays with the
    /// caller. [`FrameError::BufferFull`] is returned (once; `None` follows) only when the
    /// octets of a partial line do not fit (a bound below the line limit); they then stay in
    /// [`Lines::rest`].
    ///
    /// A caller that stops before `None` (a command that changes how the following octets
    /// are read: `STARTTLS`, `DATA`, `BDAT`, a decision pending) finds the octets not framed
    /// yet in [`Lines::rest`]: they are not held by the framer unless pushed.
    ///
    /// ```
    /// use mailsec_smtp::framer::CommandFramer;
    ///
    /// let mut framer = CommandFramer::new(512);
    /// let chunk = b"NOOP\r\nRSET\r\nQU";
    /// let mut lines = framer.lines(chunk);
    /// let line = lines.next_line().unwrap()?;
    /// assert_eq!(line, b"NOOP");
    /// assert_eq!(line.as_ptr(), chunk.as_ptr()); // lent from the input, not copied
    /// assert_eq!(lines.next_line(), Some(Ok(&b"RSET"[..])));
    /// assert_eq!(lines.next_line(), None);
    /// assert_eq!(framer.buffered(), 2); // "QU" waits for the rest of its line
    /// let mut lines = framer.lines(b"IT\r\n");
    /// assert_eq!(lines.next_line(), Some(Ok(&b"QUIT"[..])));
    /// assert_eq!(lines.next_line(), None);
    /// assert!(framer.is_empty());
    /// # Ok::<(), mailsec_tls::framer::FrameError>(())
    /// ```
    pub fn lines<'f, 'i>(&'f mut self, input: &'i [u8]) -> Lines<'f, 'i> {
        Lines {
            framer: self,
            rest: input,
            lending: false,
            full: false,
        }
    }

    /// Whether a line begun earlier is held, or the rest of a too-long line is being dropped:
    /// then the next octets go through the buffer.
    fn busy(&self) -> bool {
        self.start != self.buf.len() || self.discarding
    }
}

/// The lines of one input, lent from it: see [`CommandFramer::lines`].
#[derive(Debug)]
pub struct Lines<'f, 'i> {
    framer: &'f mut CommandFramer,
    /// Input not framed yet and not held by the framer.
    rest: &'i [u8],
    /// The framer holds nothing: lines come straight from `rest`. It stays so until `rest`
    /// is used up (a partial last line is held only with the last of `rest`) or `full`.
    lending: bool,
    /// [`FrameError::BufferFull`] was returned: nothing more is framed from this input.
    full: bool,
}

impl<'i> Lines<'_, 'i> {
    /// The next complete line without its CRLF, or the error that dropped it, as
    /// [`CommandFramer::next_line`] gives them; `None` once the input is used up (its partial
    /// last line is then held by the framer).
    #[inline]
    pub fn next_line(&mut self) -> Option<Result<&[u8], FrameError>> {
        if !self.lending {
            if self.full {
                return None;
            }
            if self.framer.busy() {
                if let Err(e) = self.feed() {
                    self.full = true;
                    return Some(Err(e));
                }
                if self.framer.busy() {
                    return self.framer.next_line();
                }
            }
            self.lending = true;
        }
        self.lend()
    }

    /// The input not framed yet (and not held by the framer).
    pub fn rest(&self) -> &'i [u8] {
        self.rest
    }

    /// Moves into the framer the octets that complete its held line (through the first LF),
    /// or, while it drops a too-long line, the octets it drops: never more than the line
    /// limit allows, so that a held line stays within one line's worth (the error only when
    /// [`max_buffered`](CommandFramer::max_buffered) is below the line limit).
    #[inline(never)]
    fn feed(&mut self) -> Result<(), FrameError> {
        let f = &mut *self.framer;
        let held = f.buffered();
        let through_lf = memchr(b'\n', self.rest).map_or(self.rest.len(), |p| p + 1);
        let n = if f.discarding {
            through_lf
        } else if held >= f.max_line {
            // Enough to decide the line (too long) without more input.
            0
        } else {
            through_lf.min(f.max_line - held)
        };
        if n > 0 {
            f.push(&self.rest[..n])?;
            self.rest = &self.rest[n..];
        }
        Ok(())
    }

    /// The next line straight from `rest` (the framer holds nothing): the checks and errors
    /// of [`CommandFramer::next_line`], in the same order.
    #[inline]
    fn lend(&mut self) -> Option<Result<&'i [u8], FrameError>> {
        let rest = self.rest;
        if rest.is_empty() {
            return None;
        }
        let max_line = self.framer.max_line;
        let window = rest.len().min(max_line);
        let held = &rest[..window];
        // The common case in one search, as in `CommandFramer::next_line`.
        if let Some(p) = find_cr_or_lf(held) {
            if held.get(p..p + 2) == Some(&b"\r\n"[..]) {
                self.rest = &rest[p + 2..];
                return Some(Ok(&rest[..p]));
            }
        }
        if let Some(lf) = memchr(b'\n', held) {
            self.rest = &rest[lf + 1..];
            if lf == 0 || rest[lf - 1] != b'\r' {
                return Some(Err(FrameError::BareLf));
            }
            let line = &rest[..lf - 1];
            if memchr(b'\r', line).is_some() {
                return Some(Err(FrameError::BareCr));
            }
            return Some(Ok(line));
        }
        if rest.len() < max_line {
            // A partial line: held for the next input.
            return match self.framer.push(rest) {
                Ok(()) => {
                    self.rest = &[];
                    None
                }
                Err(e) => {
                    self.full = true;
                    self.lending = false;
                    Some(Err(e))
                }
            };
        }
        // `max_line` octets and no LF: too long. Drop through its LF, or all and the rest of
        // the line as it arrives.
        match memchr(b'\n', &rest[window..]) {
            Some(i) => self.rest = &rest[window + i + 1..],
            None => {
                self.rest = &[];
                self.framer.discarding = true;
            }
        }
        Some(Err(FrameError::LineTooLong { limit: max_line }))
    }
}

/// The index of the first CR or LF in `b`. On x86-64 the SSE2 search is called directly: a
/// command line is found in its first few 16-octet steps, and the run-time dispatch of
/// [`memchr2`] (to its AVX2 form, through two more calls) cost about as much again.
#[inline(always)]
fn find_cr_or_lf(b: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(two) = memchr::arch::x86_64::sse2::memchr::Two::new(b'\r', b'\n') {
        return two.find(b);
    }
    memchr2(b'\r', b'\n', b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailsec_tls::framer::LineFramer;

    /// Both framers over the same input in chunks of `step`, with a raw take of `raw` octets
    /// after the first line: the same lines, errors and held counts.
    fn same(input: &[u8], step: usize, max_line: usize, raw: usize) {
        let mut ours = CommandFramer::new(max_line).with_max_buffered(64);
        let mut theirs = LineFramer::new(max_line).with_max_buffered(64);
        let mut took = false;
        for chunk in input.chunks(step.max(1)) {
            assert_eq!(ours.push(chunk), theirs.push(chunk), "{input:?} {step}");
            loop {
                let a = ours.next_line().map(|r| r.map(<[u8]>::to_vec));
                let b = theirs.next_line().map(|r| r.map(|b| b.to_vec()));
                assert_eq!(a, b, "{input:?} step {step} limit {max_line}");
                assert_eq!(ours.buffered(), theirs.buffered());
                assert_eq!(ours.is_discarding(), theirs.is_discarding());
                if a.is_none() {
                    break;
                }
                if !took {
                    took = true;
                    assert_eq!(ours.take_raw(raw), theirs.take_raw(raw));
                }
            }
        }
    }

    #[test]
    fn frames_as_the_shared_framer_does() {
        let inputs: [&[u8]; 8] = [
            b"EHLO a\r\nMAIL FROM:<>\r\nRCPT TO:<b@c>\r\n",
            b"a\nb\r\nc\rd\r\n\r\n\r\r\n",
            b"0123456789abcdef\r\nok\r\n",
            b"0123456789\r\n012345678\r\n01234567\r\nx",
            b"toolongtoolongtoolong and on\r\nafter\r\n",
            b"\r\n\n\r\r\r\n",
            b"",
            b"x\r\ny\r",
        ];
        for input in inputs {
            for step in 1..=input.len().max(1) {
                for max_line in [2, 5, 10, 11, 12, 512] {
                    for raw in [0, 1, 3, 100] {
                        same(input, step, max_line, raw);
                    }
                }
            }
        }
    }

    #[test]
    fn finds_the_first_cr_or_lf_anywhere() {
        for len in 0..100 {
            assert_eq!(find_cr_or_lf(&vec![b'a'; len]), None, "len {len}");
            for at in 0..len {
                for c in [b'\r', b'\n'] {
                    let mut b = vec![b'a'; len];
                    b[at] = c;
                    b[len - 1] = if at + 1 < len { b'\n' } else { c };
                    assert_eq!(find_cr_or_lf(&b), Some(at), "len {len} at {at}");
                }
            }
        }
    }

    #[test]
    fn refuses_a_push_over_the_bound_and_keeps_lines() {
        let mut f = CommandFramer::new(512).with_max_buffered(8);
        f.push(b"NOOP\r\n").unwrap();
        assert_eq!(f.push(b"QUIT"), Err(FrameError::BufferFull { limit: 8 }));
        assert_eq!(f.next_line(), Some(Ok(&b"NOOP"[..])));
        // The line handed out no longer counts.
        assert_eq!(f.remaining(), 8);
        f.push(b"QUIT\r\n").unwrap();
        assert_eq!(f.next_line(), Some(Ok(&b"QUIT"[..])));
        assert!(f.is_empty());
        f.push(b"abc").unwrap();
        f.clear();
        assert!(f.is_empty() && f.next_line().is_none());
    }

    #[test]
    fn debug_hides_contents() {
        let mut f = CommandFramer::new(64);
        f.push(b"AUTH PLAIN c2VjcmV0\r\n").unwrap();
        let shown = format!("{f:?}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
    }
}
