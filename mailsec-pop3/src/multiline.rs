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

use bytes::{Bytes, BytesMut};
use mailsec_tls::dotstuff;

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

fn multiline_error(e: dotstuff::DecodeError) -> MultilineError {
    match e {
        dotstuff::DecodeError::BareLf => MultilineError::BareLf,
        dotstuff::DecodeError::BareCr => MultilineError::BareCr,
        dotstuff::DecodeError::UnstuffedDot => MultilineError::UnstuffedDot,
        dotstuff::DecodeError::LineTooLong { limit } => MultilineError::LineTooLong { limit },
        // No size limit is set; any other rule broken leaves the decoder failed.
        _ => MultilineError::Failed,
    }
}

fn encode_error(e: dotstuff::EncodeError) -> MultilineError {
    match e {
        dotstuff::EncodeError::BareLf => MultilineError::BareLf,
        dotstuff::EncodeError::BareCr => MultilineError::BareCr,
        dotstuff::EncodeError::LineTooLong { limit } => MultilineError::LineTooLong { limit },
        _ => MultilineError::Finished,
    }
}

/// The streaming decoder of a multi-line body. See the [module documentation](self).
///
/// A layer over [`mailsec_tls::dotstuff::Decoder`]: no size limit, the stuffed dot counted
/// in the line, a step ending before a stuffed dot, and strict ([`BareLineEndings::Reject`]:
/// bare endings and unstuffed dots rejected) or tolerant (passed through, kept).
#[derive(Clone, Debug)]
pub struct MultilineDecoder {
    inner: dotstuff::Decoder,
    failed: bool,
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
            inner: dotstuff::Decoder::new()
                .with_max_line(DEFAULT_MAX_BODY_LINE)
                .with_counted_stuffing(true)
                .with_split_before_dot(true),
            failed: false,
            body_len: 0,
        }
        .with_bare_line_endings(BareLineEndings::Reject)
    }

    /// The same decoder with another line limit, counting the CRLF (at least 3).
    #[must_use]
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.inner = self.inner.with_max_line(max_line.max(3));
        self
    }

    /// The same decoder with another policy for bare CR and LF ([`BareLineEndings::ToCrlf`]
    /// acts as [`BareLineEndings::Pass`] here).
    #[must_use]
    pub fn with_bare_line_endings(mut self, bare: BareLineEndings) -> Self {
        self.inner = if bare == BareLineEndings::Reject {
            self.inner
                .with_bare_line_endings(dotstuff::BareLineEndings::Reject)
                .with_unstuffed_dot(dotstuff::UnstuffedDot::Reject)
        } else {
            self.inner
                .with_bare_line_endings(dotstuff::BareLineEndings::Pass)
                .with_unstuffed_dot(dotstuff::UnstuffedDot::Keep)
        };
        self
    }

    /// Whether the terminator has been consumed.
    pub fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    /// Body octets given out so far (after unstuffing).
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// One step: the shared decoder's, or the error that leaves this one failed.
    fn step(&mut self, input: &[u8]) -> Result<dotstuff::Step, MultilineError> {
        if self.failed {
            return Err(MultilineError::Failed);
        }
        let step = self.inner.decode(input);
        if let dotstuff::Status::Error(e) = step.status {
            self.failed = true;
            return Err(multiline_error(e));
        }
        Ok(step)
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
        let step = self.step(input)?;
        let chunk = if !step.literal.is_empty() {
            Some(step.literal)
        } else if !step.body.is_empty() {
            Some(&input[step.body])
        } else {
            None
        };
        self.body_len += chunk.map_or(0, |c| c.len() as u64);
        Ok((step.consumed, chunk))
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
            let step = self.step(&input[at..])?;
            let chunk = if !step.literal.is_empty() {
                Some(Bytes::from_static(step.literal))
            } else if !step.body.is_empty() {
                Some(input.slice(at + step.body.start..at + step.body.end))
            } else {
                None
            };
            at += step.consumed;
            if let Some(c) = chunk {
                self.body_len += c.len() as u64;
                sink(c);
            }
        }
        Ok(at)
    }
}

/// The streaming dot-stuffing encoder. See the [module documentation](self).
///
/// A layer over [`mailsec_tls::dotstuff::Encoder`] without a line limit, keeping partial
/// output on error.
#[derive(Clone, Debug)]
pub struct MultilineEncoder {
    inner: dotstuff::Encoder,
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
            inner: dotstuff::Encoder::new()
                .with_max_line(usize::MAX)
                .with_keep_partial(true),
        }
        .with_bare_line_endings(BareLineEndings::Reject)
    }

    /// The same encoder with another policy for bare CR and LF.
    #[must_use]
    pub fn with_bare_line_endings(mut self, bare: BareLineEndings) -> Self {
        self.inner = self.inner.with_bare_line_endings(match bare {
            BareLineEndings::Reject => dotstuff::BareLineEndings::Reject,
            BareLineEndings::Pass => dotstuff::BareLineEndings::Pass,
            BareLineEndings::ToCrlf => dotstuff::BareLineEndings::ConvertToCrlf,
        });
        self
    }

    /// Encodes the next chunk of body into `out` (which grows by at most twice the chunk).
    ///
    /// In [`BareLineEndings::Reject`] mode an error leaves part of the body written: the
    /// response is broken and the connection must be closed.
    pub fn encode(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), MultilineError> {
        if self.inner.is_finished() {
            return Err(MultilineError::Finished);
        }
        self.inner.encode(chunk, out).map_err(encode_error)
    }

    /// Ends the body: a pending CR is resolved, CRLF is added unless the body is empty or
    /// ended with a line end, and the terminator `.\r\n` is written.
    pub fn finish(&mut self, out: &mut BytesMut) -> Result<(), MultilineError> {
        // In Pass mode a body ending in a bare CR or LF gets a full CRLF too.
        self.inner.finish(out).map_err(encode_error)
    }
}

/// Dot-stuffs a whole body with its terminator in one call (strict: bare CR or LF is an
/// error). See [`MultilineEncoder`] for bodies that do not fit in memory.
pub fn dot_stuff(body: &[u8], out: &mut BytesMut) -> Result<(), MultilineError> {
    let mut enc = MultilineEncoder::new();
    enc.encode(body, out)?;
    enc.finish(out)
}
