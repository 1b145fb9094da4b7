//! Multi-line bodies (RFC 1939 §3), streamed both ways: a Sans-IO decoder that turns received
//! bytes into unstuffed body chunks, and an encoder that dot-stuffs a body as it is sent.
//! Neither ever holds a whole message.
//!
//! # Decoding
//!
//! A [`MultilineDecoder`] is fed the bytes that follow a `+OK` status line of RETR, TOP (or
//! any multi-line response). Each call returns how many input bytes it consumed and at most one
//! chunk of body: the body as the server meant it, with the stuffed `.` of lines starting with
//! `..` removed and the CRLF between lines kept. After the terminating `.\r\n` the decoder is
//! [`done`](MultilineDecoder::is_done) and consumes nothing more: pipelined responses after the
//! terminator stay with the caller.
//!
//! Chunks borrow the input ([`decode`](MultilineDecoder::decode)) or are zero-copy
//! [`Bytes`] slices of it ([`feed`](MultilineDecoder::feed)); only a `.` whose meaning depended
//! on bytes that came later (tolerant mode) is given as a static slice. The decoder keeps
//! four words of state; it buffers nothing, so how the input is chunked changes the chunk
//! boundaries, never the concatenated body.
//!
//! Line endings:
//! - [`BareLineEndings::Reject`] (strict): a bare CR, a bare LF, or a line starting with a
//!   single `.` that is not the terminator is a typed error.
//! - [`BareLineEndings::Pass`] (tolerant, for clients of sloppy servers): bare CR and bare LF
//!   are body bytes and **never** end a line; a line starting with a single `.` keeps it.
//!   Only `CRLF.CRLF` ends the body, so a message holding `\n.\n` cannot end the response early
//!   and have its remainder read as server responses (the POP3 form of SMTP smuggling).
//!
//! RFC 2449 does not bound body lines (RFC 5322 §2.1.1 says 998, real mail exceeds it). The
//! decoder never buffers a line, so its limit ([`DEFAULT_MAX_BODY_LINE`], 64 KiB counting
//! CRLF, configurable) only stops a peer that never ends a line; the total size is the caller's
//! to bound (it knows it from LIST).
//!
//! ```
//! use mailsec_pop3::multiline::MultilineDecoder;
//!
//! let mut dec = MultilineDecoder::new();
//! let input = b"Subject: hi\r\n\r\n..dot\r\n.\r\n+OK next response\r\n";
//! let mut body = Vec::new();
//! let mut at = 0;
//! while !dec.is_done() {
//!     let (used, chunk) = dec.decode(&input[at..])?;
//!     at += used;
//!     body.extend_from_slice(chunk.unwrap_or_default());
//!     if used == 0 && chunk.is_none() { break; } // needs more input
//! }
//! assert_eq!(body, b"Subject: hi\r\n\r\n.dot\r\n");
//! assert_eq!(&input[at..], b"+OK next response\r\n");
//! # Ok::<(), mailsec_pop3::MultilineError>(())
//! ```
//!
//! # Encoding
//!
//! A [`MultilineEncoder`] takes a body in chunks of any size, writes it with every line that
//! starts with `.` stuffed, and on [`finish`](MultilineEncoder::finish) adds CRLF if the body
//! did not end with one, then the terminator. Bare LF is converted to CRLF only if asked
//! ([`BareLineEndings::ToCrlf`], e.g. for a maildir stored with Unix line endings); by default
//! ([`BareLineEndings::Reject`]) a bare CR or LF in the body is a typed error, because a
//! receiver that treats it as a line end would see lines the sender never stuffed.
//! [`BareLineEndings::Pass`] sends them as they are, still stuffing a `.` after each of them
//! so no receiver, strict or lax, ends the body early.
//!
//! ```
//! use bytes::BytesMut;
//! use mailsec_pop3::multiline::{dot_stuff, BareLineEndings, MultilineEncoder};
//!
//! let mut out = BytesMut::new();
//! dot_stuff(b".hidden\r\nlast line", &mut out)?;
//! assert_eq!(&out[..], b"..hidden\r\nlast line\r\n.\r\n");
//!
//! let mut enc = MultilineEncoder::new().with_bare_line_endings(BareLineEndings::ToCrlf);
//! let mut out = BytesMut::new();
//! enc.encode(b"unix\n.line\n", &mut out)?;
//! enc.finish(&mut out)?;
//! assert_eq!(&out[..], b"unix\r\n..line\r\n.\r\n");
//! # Ok::<(), mailsec_pop3::MultilineError>(())
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use memchr::{memchr, memchr2};

use crate::error::MultilineError;

/// The default bound on one body line in the decoder, counting its CRLF: 64 KiB.
pub const DEFAULT_MAX_BODY_LINE: usize = 64 * 1024;

/// What to do with a CR not followed by LF or a LF not preceded by CR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BareLineEndings {
    /// A typed error ([`MultilineError::BareCr`], [`MultilineError::BareLf`]). The default
    /// of both decoder and encoder.
    #[default]
    Reject,
    /// Decoder: keep them as body bytes (they never end a line). Encoder: send them as they
    /// are, stuffing a `.` that follows one.
    Pass,
    /// Encoder only: send a bare LF or bare CR as CRLF. (The decoder treats it as `Pass`.)
    ToCrlf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DecState {
    /// At the start of a line.
    LineStart,
    /// Consumed a `.` at the start of a line.
    Dot,
    /// Consumed `.` and CR at the start of a line.
    DotCr,
    /// Inside a line.
    Mid,
    /// Inside a line, the last byte consumed (and given out) was CR.
    Cr,
    /// Consumed the terminator.
    Done,
    /// Returned an error.
    Failed,
}

/// What one step of the decoder gives out.
enum Emit {
    None,
    Range(usize, usize),
    Static(&'static [u8]),
}

/// The streaming decoder of a multi-line body. See the [module documentation](self).
#[derive(Clone, Debug)]
pub struct MultilineDecoder {
    state: DecState,
    /// Octets of the current line consumed so far (stuffing included, CRLF not).
    line_len: usize,
    max_line: usize,
    bare: BareLineEndings,
    body_len: u64,
}

impl Default for MultilineDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl MultilineDecoder {
    /// A strict decoder with the default line limit, at the start of a body.
    pub fn new() -> Self {
        MultilineDecoder {
            state: DecState::LineStart,
            line_len: 0,
            max_line: DEFAULT_MAX_BODY_LINE,
            bare: BareLineEndings::Reject,
            body_len: 0,
        }
    }

    /// The same decoder with another line limit, counting the CRLF (at least 3).
    #[must_use]
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line.max(3);
        self
    }

    /// The same decoder with another policy for bare CR and LF ([`BareLineEndings::ToCrlf`]
    /// acts as [`BareLineEndings::Pass`] here).
    #[must_use]
    pub fn with_bare_line_endings(mut self, bare: BareLineEndings) -> Self {
        self.bare = bare;
        self
    }

    /// Whether the terminator has been consumed.
    pub fn is_done(&self) -> bool {
        self.state == DecState::Done
    }

    /// Body octets given out so far (after unstuffing).
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    fn strict(&self) -> bool {
        self.bare == BareLineEndings::Reject
    }

    fn fail(&mut self, e: MultilineError) -> Result<(usize, Emit), MultilineError> {
        self.state = DecState::Failed;
        Err(e)
    }

    fn grow_line(&mut self, n: usize) -> Result<(), MultilineError> {
        self.line_len += n;
        if self.line_len + 2 > self.max_line {
            self.state = DecState::Failed;
            return Err(MultilineError::LineTooLong {
                limit: self.max_line,
            });
        }
        Ok(())
    }

    /// One step: consumed count and what to give out.
    fn step(&mut self, input: &[u8]) -> Result<(usize, Emit), MultilineError> {
        let mut i = 0;
        let mut run: Option<usize> = None;
        let emit_run = |run: Option<usize>, end: usize| match run {
            Some(s) if s < end => Emit::Range(s, end),
            _ => Emit::None,
        };
        loop {
            match self.state {
                DecState::Done => return Ok((i, emit_run(run, i))),
                DecState::Failed => return Err(MultilineError::Failed),
                _ if i == input.len() => return Ok((i, emit_run(run, i))),
                DecState::LineStart => {
                    if input[i] == b'.' {
                        if run.is_some() {
                            return Ok((i, emit_run(run, i)));
                        }
                        self.grow_line(1)?;
                        self.state = DecState::Dot;
                        i += 1;
                    } else {
                        run.get_or_insert(i);
                        self.state = DecState::Mid;
                    }
                }
                DecState::Dot => match input[i] {
                    b'.' => {
                        // The stuffed dot is dropped; this one is body.
                        run = Some(i);
                        self.state = DecState::Mid;
                    }
                    b'\r' => {
                        self.state = DecState::DotCr;
                        i += 1;
                    }
                    _ if self.strict() => return self.fail(MultilineError::UnstuffedDot),
                    _ => {
                        self.state = DecState::Mid;
                        return Ok((i, Emit::Static(b".")));
                    }
                },
                DecState::DotCr => match input[i] {
                    b'\n' => {
                        self.state = DecState::Done;
                        return Ok((i + 1, Emit::None));
                    }
                    _ if self.strict() => return self.fail(MultilineError::BareCr),
                    _ => {
                        self.state = DecState::Mid;
                        self.grow_line(1)?;
                        return Ok((i, Emit::Static(b".\r")));
                    }
                },
                DecState::Cr => {
                    run.get_or_insert(i);
                    if input[i] == b'\n' {
                        self.state = DecState::LineStart;
                        self.line_len = 0;
                        i += 1;
                    } else if self.strict() {
                        return self.fail(MultilineError::BareCr);
                    } else {
                        self.grow_line(1)?;
                        self.state = DecState::Mid;
                    }
                }
                DecState::Mid => {
                    run.get_or_insert(i);
                    let rest = &input[i..];
                    let found = if self.strict() {
                        memchr2(b'\r', b'\n', rest)
                    } else {
                        memchr(b'\r', rest)
                    };
                    let Some(j) = found else {
                        self.grow_line(rest.len())?;
                        i = input.len();
                        continue;
                    };
                    self.grow_line(j)?;
                    let at = i + j;
                    if input[at] == b'\n' {
                        return self.fail(MultilineError::BareLf);
                    }
                    match input.get(at + 1) {
                        None => {
                            self.state = DecState::Cr;
                            i = at + 1;
                        }
                        Some(b'\n') => {
                            self.state = DecState::LineStart;
                            self.line_len = 0;
                            i = at + 2;
                        }
                        Some(_) if self.strict() => return self.fail(MultilineError::BareCr),
                        Some(_) => {
                            self.grow_line(1)?;
                            i = at + 1;
                        }
                    }
                }
            }
        }
    }

    /// Decodes from `input`: returns how many bytes were consumed and at most one body chunk.
    ///
    /// Call again with the unconsumed rest until the decoder [is done](Self::is_done) or a call
    /// consumes everything it was given; then wait for more input. Once done, nothing more is
    /// consumed. After an error the decoder stays failed ([`MultilineError::Failed`]).
    pub fn decode<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<&'a [u8]>), MultilineError> {
        let (used, emit) = self.step(input)?;
        let chunk = match emit {
            Emit::None => None,
            Emit::Range(a, b) => Some(&input[a..b]),
            Emit::Static(s) => Some(s),
        };
        self.body_len += chunk.map_or(0, |c| c.len() as u64);
        Ok((used, chunk))
    }

    /// Decodes as much of `input` as possible, handing each body chunk to `sink` as a
    /// zero-copy slice of `input`. Returns how many bytes were consumed: all of them unless
    /// the terminator came first, in which case the rest (pipelined responses) is the caller's.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use mailsec_pop3::multiline::MultilineDecoder;
    ///
    /// let mut dec = MultilineDecoder::new();
    /// let mut body = Vec::new();
    /// let used = dec.feed(&Bytes::from_static(b"a\r\n..b\r"), |c| body.extend_from_slice(&c))?;
    /// assert_eq!(used, 7);
    /// let input = Bytes::from_static(b"\n.\r\n+OK");
    /// let used = dec.feed(&input, |c| body.extend_from_slice(&c))?;
    /// assert!(dec.is_done());
    /// assert_eq!((&body[..], &input[used..]), (&b"a\r\n.b\r\n"[..], &b"+OK"[..]));
    /// # Ok::<(), mailsec_pop3::MultilineError>(())
    /// ```
    pub fn feed(
        &mut self,
        input: &Bytes,
        mut sink: impl FnMut(Bytes),
    ) -> Result<usize, MultilineError> {
        let mut at = 0;
        while at < input.len() && !self.is_done() {
            let (used, emit) = self.step(&input[at..])?;
            let chunk = match emit {
                Emit::None => None,
                Emit::Range(a, b) => Some(input.slice(at + a..at + b)),
                Emit::Static(s) => Some(Bytes::from_static(s)),
            };
            at += used;
            if let Some(c) = chunk {
                self.body_len += c.len() as u64;
                sink(c);
            }
        }
        Ok(at)
    }
}

/// The streaming dot-stuffing encoder. See the [module documentation](self).
#[derive(Clone, Debug)]
pub struct MultilineEncoder {
    bare: BareLineEndings,
    /// The next byte starts a line.
    line_start: bool,
    /// The last body byte was a CR whose LF (or not) has not been seen.
    pending_cr: bool,
    /// Nothing has been written yet.
    empty: bool,
    /// The last thing written was CRLF.
    at_crlf: bool,
    finished: bool,
}

impl Default for MultilineEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl MultilineEncoder {
    /// An encoder that rejects bare CR and LF.
    pub fn new() -> Self {
        MultilineEncoder {
            bare: BareLineEndings::Reject,
            line_start: true,
            pending_cr: false,
            empty: true,
            at_crlf: false,
            finished: false,
        }
    }

    /// The same encoder with another policy for bare CR and LF.
    #[must_use]
    pub fn with_bare_line_endings(mut self, bare: BareLineEndings) -> Self {
        self.bare = bare;
        self
    }

    /// Handles the byte after a pending CR (`next`: `None` at the end of the body). Returns
    /// whether `next` (a LF) was consumed.
    fn resolve_cr(&mut self, next: Option<u8>, out: &mut BytesMut) -> Result<bool, MultilineError> {
        self.pending_cr = false;
        let crlf = next == Some(b'\n');
        match self.bare {
            _ if crlf => out.put_slice(b"\r\n"),
            BareLineEndings::Reject => return Err(MultilineError::BareCr),
            BareLineEndings::Pass => out.put_u8(b'\r'),
            BareLineEndings::ToCrlf => out.put_slice(b"\r\n"),
        }
        self.at_crlf = crlf || self.bare == BareLineEndings::ToCrlf;
        self.line_start = true;
        Ok(crlf)
    }

    /// Encodes the next chunk of body into `out` (which grows by at most twice the chunk).
    ///
    /// In [`BareLineEndings::Reject`] mode an error leaves part of the body written: the
    /// response is broken and the connection must be closed.
    pub fn encode(&mut self, mut chunk: &[u8], out: &mut BytesMut) -> Result<(), MultilineError> {
        if self.finished {
            return Err(MultilineError::Finished);
        }
        out.reserve(chunk.len() + chunk.len() / 8 + 4);
        if !chunk.is_empty() {
            self.empty = false;
        }
        while !chunk.is_empty() {
            if self.pending_cr {
                let took_lf = self.resolve_cr(chunk.first().copied(), out)?;
                if took_lf {
                    chunk = &chunk[1..];
                }
                continue;
            }
            if self.line_start {
                if chunk[0] == b'.' {
                    out.put_u8(b'.');
                }
                self.line_start = false;
            }
            let Some(j) = memchr2(b'\r', b'\n', chunk) else {
                out.put_slice(chunk);
                self.at_crlf = false;
                return Ok(());
            };
            out.put_slice(&chunk[..j]);
            self.at_crlf = false;
            if chunk[j] == b'\r' {
                self.pending_cr = true;
            } else {
                // A LF not preceded by CR (a preceding CR would be pending).
                match self.bare {
                    BareLineEndings::Reject => return Err(MultilineError::BareLf),
                    BareLineEndings::Pass => out.put_u8(b'\n'),
                    BareLineEndings::ToCrlf => {
                        out.put_slice(b"\r\n");
                        self.at_crlf = true;
                    }
                }
                self.line_start = true;
            }
            chunk = &chunk[j + 1..];
        }
        Ok(())
    }

    /// Ends the body: a pending CR is resolved, CRLF is added unless the body is empty or
    /// ended with a line end, and the terminator `.\r\n` is written.
    pub fn finish(&mut self, out: &mut BytesMut) -> Result<(), MultilineError> {
        if self.finished {
            return Err(MultilineError::Finished);
        }
        if self.pending_cr {
            self.resolve_cr(None, out)?;
        }
        // In Pass mode a body ending in a bare CR or LF gets a full CRLF too.
        if !self.empty && !self.at_crlf {
            out.put_slice(b"\r\n");
        }
        out.put_slice(b".\r\n");
        self.finished = true;
        Ok(())
    }
}

/// Dot-stuffs a whole body with its terminator in one call (strict: bare CR or LF is an
/// error). See [`MultilineEncoder`] for bodies that do not fit in memory.
pub fn dot_stuff(body: &[u8], out: &mut BytesMut) -> Result<(), MultilineError> {
    let mut enc = MultilineEncoder::new();
    enc.encode(body, out)?;
    enc.finish(out)
}
