//! Message data, streamed both ways: DATA with dot-stuffing (RFC 5321 §4.5.2) and BDAT with
//! exact byte counts (RFC 3030). Nothing here holds a whole message.
//!
//! - [`DataDecoder`] (server): takes the bytes after `354` in chunks of any size and hands out
//!   the body as ranges of its input (so [`Bytes`] slices, without copying), dot-unstuffed
//!   with CRLFs kept. The message ends **only** at `CRLF.CRLF`; a bare LF or a bare CR anywhere
//!   is reported ([`DataError::BareLf`], [`DataError::BareCr`]) — the SMTP smuggling defence
//!   (CVE-2023-51764): `\n.\n`, `\r.\r`, `\r\n.\n` and `\n.\r\n` never end a message.
//! - [`DataEncoder`] (client): dot-stuffs a body, adds a final CRLF if missing and the
//!   terminator.
//! - [`BdatDecoder`], [`encode_bdat`], [`bdat_chunks`]: BDAT chunking.
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use mailsec_smtp::data::{DataDecoder, DataEncoder};
//!
//! let mut wire = BytesMut::new();
//! let mut enc = DataEncoder::new();
//! enc.encode(b"Subject: hi\r\n\r\n.leading dot\r\nlast line", &mut wire)?;
//! enc.finish(&mut wire)?;
//! assert_eq!(&wire[..], b"Subject: hi\r\n\r\n..leading dot\r\nlast line\r\n.\r\n");
//!
//! // The server side: pipelined bytes after the terminator stay with the caller.
//! wire.extend_from_slice(b"QUIT\r\n");
//! let input = wire.freeze();
//! let mut dec = DataDecoder::new(10 * 1024 * 1024);
//! let mut body = Vec::new();
//! let fed = dec.feed(&input, |chunk: Bytes| body.extend_from_slice(&chunk));
//! assert!(fed.ended && fed.error.is_none());
//! assert_eq!(body, b"Subject: hi\r\n\r\n.leading dot\r\nlast line\r\n");
//! assert_eq!(&input[fed.consumed..], b"QUIT\r\n");
//! # Ok::<(), mailsec_smtp::EncodeError>(())
//! ```

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use mailsec_tls::dotstuff;

use crate::error::{DataError, EncodeError};
use crate::types::{Command, MAX_TEXT_LINE};

fn data_error(e: dotstuff::DecodeError) -> DataError {
    match e {
        dotstuff::DecodeError::BareLf => DataError::BareLf,
        dotstuff::DecodeError::BareCr => DataError::BareCr,
        dotstuff::DecodeError::LineTooLong { limit } => DataError::LineTooLong { limit },
        dotstuff::DecodeError::MessageTooBig { limit } => DataError::MessageTooBig { limit },
        // Not produced with `UnstuffedDot::Remove`; the nearest rule is the bare ending's.
        _ => DataError::BareCr,
    }
}

fn encode_error(e: dotstuff::EncodeError) -> EncodeError {
    match e {
        dotstuff::EncodeError::BareLf => EncodeError::BareLf,
        dotstuff::EncodeError::BareCr => EncodeError::BareCr,
        dotstuff::EncodeError::LineTooLong { limit } => EncodeError::LineTooLong { limit },
        _ => EncodeError::Finished,
    }
}

/// What one [`DataDecoder::decode`] call did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Octets of the input consumed. It may be less than the input even without an end (the
    /// decoder stops at a stuffed dot); call again with the rest. It may be 0 when an error is
    /// reported.
    pub consumed: usize,
    /// The range of the input that is message body (possibly empty).
    pub body: Range<usize>,
    /// What happened.
    pub status: Status,
}

impl Step {
    /// The body as a slice of `input` (the same bytes given to `decode`), without copying.
    pub fn body_bytes(&self, input: &Bytes) -> Bytes {
        input.slice(self.body.clone())
    }
}

/// The outcome of a [`Step`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// More input needed (or call again with the unconsumed rest).
    Continue,
    /// The terminator `CRLF.CRLF` was consumed: the message is complete.
    End,
    /// The data broke a rule. Reported once; the decoder then discards input, hands out no
    /// more body, and reports [`Status::End`] at the real terminator. Reply after that
    /// ([`DataError::reply_code`]), or close the connection.
    Error(DataError),
}

/// What [`DataDecoder::feed`] did with one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fed {
    /// Octets of the input consumed; the rest (pipelined commands) is the caller's.
    pub consumed: usize,
    /// Whether the terminator was reached.
    pub ended: bool,
    /// The error reported during this call, if any.
    pub error: Option<DataError>,
}

/// The server's DATA receiver, Sans-IO. See the [module documentation](self).
///
/// Limits, checked octet by octet as input arrives, so the outcome is the same however the
/// input is chunked: a text line at most [`MAX_TEXT_LINE`] octets counting its CRLF and not
/// counting a stuffed dot (RFC 5321 §4.5.3.1.6), and a body (after unstuffing, CRLFs counted)
/// at most `max_size` octets.
///
/// A layer over [`mailsec_tls::dotstuff::Decoder`] (strict: bare line endings rejected, a
/// leading dot removed).
#[derive(Clone, Debug)]
pub struct DataDecoder {
    inner: dotstuff::Decoder,
}

impl DataDecoder {
    /// A decoder for a message of at most `max_size` body octets (from SIZE, RFC 1870).
    pub fn new(max_size: u64) -> DataDecoder {
        DataDecoder {
            inner: dotstuff::Decoder::new()
                .with_max_size(max_size)
                .with_max_line(MAX_TEXT_LINE)
                .with_bare_line_endings(dotstuff::BareLineEndings::Reject)
                .with_unstuffed_dot(dotstuff::UnstuffedDot::Remove),
        }
    }

    /// Sets another line limit, counting the CRLF (at least 2).
    pub fn with_max_line(mut self, max_line: usize) -> DataDecoder {
        self.inner = self.inner.with_max_line(max_line);
        self
    }

    /// Starts over for a new message.
    pub fn reset(&mut self) {
        self.inner.reset();
    }

    /// Whether the terminator has been consumed.
    pub fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    /// The error reported, if any.
    pub fn error(&self) -> Option<DataError> {
        self.inner.error().map(data_error)
    }

    /// Body octets handed out so far.
    pub fn body_size(&self) -> u64 {
        self.inner.body_size()
    }

    /// Input octets consumed so far.
    pub fn consumed(&self) -> u64 {
        self.inner.consumed()
    }

    /// Decodes from the start of `input` up to the next stuffed dot, the end of the input,
    /// an error or the terminator.
    pub fn decode(&mut self, input: &[u8]) -> Step {
        let step = self.inner.decode(input);
        Step {
            consumed: step.consumed,
            body: step.body,
            status: match step.status {
                dotstuff::Status::Continue => Status::Continue,
                dotstuff::Status::End => Status::End,
                dotstuff::Status::Error(e) => Status::Error(data_error(e)),
            },
        }
    }

    /// Decodes as much of `input` as belongs to the message, handing each body chunk (a slice
    /// of `input`) to `on_body`. Stops after the terminator; goes on past an error (which is
    /// returned) to find it.
    pub fn feed(&mut self, input: &Bytes, on_body: impl FnMut(Bytes)) -> Fed {
        let fed = self.inner.feed(input, on_body);
        Fed {
            consumed: fed.consumed,
            ended: fed.ended,
            error: fed.error.map(data_error),
        }
    }
}

/// What the [`DataEncoder`] does with a bare LF or bare CR in the body it is given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BareLineEndings {
    /// Refuse it with [`EncodeError::BareLf`] / [`EncodeError::BareCr`] (the default): a
    /// strict server would refuse the message anyway, and passing it on is how smuggling
    /// starts.
    #[default]
    Reject,
    /// Turn each bare LF and each bare CR into CRLF, for bodies read from Unix files.
    ConvertToCrlf,
}

/// The client's DATA sender: dot-stuffs the body (RFC 5321 §4.5.2), checks line lengths,
/// adds a final CRLF if the body lacks one, and the terminator `.CRLF`. Stream the body with
/// any chunking through [`encode`](Self::encode), then call [`finish`](Self::finish).
///
/// On error nothing of that call is written and the encoder is unchanged. The message cannot
/// be sent as it is: do not finish (that would deliver a truncated message); close the
/// connection instead.
///
/// A layer over [`mailsec_tls::dotstuff::Encoder`].
#[derive(Clone, Debug)]
pub struct DataEncoder {
    inner: dotstuff::Encoder,
}

impl Default for DataEncoder {
    fn default() -> Self {
        DataEncoder::new()
    }
}

impl DataEncoder {
    /// An encoder refusing bare line endings, with lines limited to [`MAX_TEXT_LINE`].
    pub fn new() -> DataEncoder {
        DataEncoder {
            inner: dotstuff::Encoder::new()
                .with_bare_line_endings(dotstuff::BareLineEndings::Reject)
                .with_max_line(MAX_TEXT_LINE),
        }
    }

    /// Sets what to do with bare line endings.
    pub fn with_bare_line_endings(mut self, mode: BareLineEndings) -> DataEncoder {
        self.inner = self.inner.with_bare_line_endings(match mode {
            BareLineEndings::Reject => dotstuff::BareLineEndings::Reject,
            BareLineEndings::ConvertToCrlf => dotstuff::BareLineEndings::ConvertToCrlf,
        });
        self
    }

    /// Sets another line limit, counting the CRLF; `usize::MAX` disables the check.
    pub fn with_max_line(mut self, max_line: usize) -> DataEncoder {
        self.inner = self.inner.with_max_line(max_line);
        self
    }

    /// Appends the encoded form of the next piece of the body.
    pub fn encode(&mut self, body: &[u8], out: &mut BytesMut) -> Result<(), EncodeError> {
        self.inner.encode(body, out).map_err(encode_error)
    }

    /// Ends the body: a CRLF if the last line lacks one, then `.CRLF`.
    pub fn finish(&mut self, out: &mut BytesMut) -> Result<(), EncodeError> {
        self.inner.finish(out).map_err(encode_error)
    }
}

/// Appends `BDAT n[ LAST]` CRLF and the chunk itself (RFC 3030 §2: exact octet count, no
/// stuffing, any octets).
pub fn encode_bdat(chunk: &[u8], last: bool, out: &mut BytesMut) {
    Command::Bdat {
        size: chunk.len() as u64,
        last,
    }
    .encode(out);
    out.put_slice(chunk);
}

/// Splits a body into BDAT commands and their chunks of at most `chunk_size` octets (at
/// least 1), the last one marked `LAST`. An empty body is one `BDAT 0 LAST`.
///
/// ```
/// use mailsec_smtp::data::bdat_chunks;
/// use mailsec_smtp::types::Command;
///
/// let chunks: Vec<_> = bdat_chunks(b"hello world", 6).collect();
/// assert_eq!(chunks[0], (Command::Bdat { size: 6, last: false }, &b"hello "[..]));
/// assert_eq!(chunks[1], (Command::Bdat { size: 5, last: true }, &b"world"[..]));
/// ```
pub fn bdat_chunks(body: &[u8], chunk_size: usize) -> impl Iterator<Item = (Command, &[u8])> {
    let chunk_size = chunk_size.max(1);
    let count = body.len().div_ceil(chunk_size).max(1);
    (0..count).map(move |k| {
        let start = k * chunk_size;
        let end = (start + chunk_size).min(body.len());
        let chunk = &body[start..end];
        (
            Command::Bdat {
                size: chunk.len() as u64,
                last: k + 1 == count,
            },
            chunk,
        )
    })
}

/// The server's receiver for one BDAT chunk: takes exactly the announced octets from the
/// input, whatever they are, leaving the rest (the next command) to the caller.
///
/// ```
/// use mailsec_smtp::data::BdatDecoder;
///
/// let mut chunk = BdatDecoder::new(5);
/// assert_eq!(chunk.take(b"hel"), 0..3);
/// assert_eq!(chunk.take(b"loQUIT\r\n"), 0..2);
/// assert!(chunk.is_complete());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BdatDecoder {
    remaining: u64,
}

impl BdatDecoder {
    /// A receiver for a chunk of `size` octets.
    pub fn new(size: u64) -> BdatDecoder {
        BdatDecoder { remaining: size }
    }

    /// The range of `input` (from its start) that belongs to the chunk; consume that much.
    pub fn take(&mut self, input: &[u8]) -> Range<usize> {
        let n = (input.len() as u64).min(self.remaining) as usize;
        self.remaining -= n as u64;
        0..n
    }

    /// Octets still expected.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Whether the whole chunk has been taken.
    pub fn is_complete(&self) -> bool {
        self.remaining == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_stop_at_stuffed_dots_and_end_at_once() {
        let mut dec = DataDecoder::new(u64::MAX);
        let input = b"a\r\n.b\r\n.\r\nNEXT";
        let s = dec.decode(input);
        assert_eq!(
            (s.consumed, s.body.clone(), s.status),
            (4, 0..3, Status::Continue)
        );
        let s = dec.decode(&input[4..]);
        assert_eq!(
            (s.consumed, s.body.clone(), s.status),
            (6, 0..3, Status::End)
        );
        assert_eq!(&input[4..][s.body], b"b\r\n");
        assert_eq!(dec.consumed(), 10);
        assert!(dec.is_done());
    }

    #[test]
    fn error_at_first_octet_consumes_nothing_then_discards() {
        let mut dec = DataDecoder::new(u64::MAX);
        let s = dec.decode(b"\nx\r\n.\r\n");
        assert_eq!(
            (s.consumed, s.status),
            (0, Status::Error(DataError::BareLf))
        );
        let s = dec.decode(b"\nx\r\n.\r\n");
        assert_eq!((s.consumed, s.body, s.status), (7, 0..0, Status::End));
        dec.reset();
        assert!(!dec.is_done() && dec.error().is_none());
    }

    #[test]
    fn size_limit_counts_crlf() {
        let mut dec = DataDecoder::new(2);
        let s = dec.decode(b"ab\r\n.\r\n");
        assert_eq!(
            s.status,
            Status::Error(DataError::MessageTooBig { limit: 2 })
        );
        assert_eq!(s.body, 0..2);
    }

    #[test]
    fn bdat_decoder_takes_exact_counts() {
        let mut d = BdatDecoder::new(0);
        assert_eq!(d.take(b"QUIT\r\n"), 0..0);
        assert!(d.is_complete());
        let mut d = BdatDecoder::new(3);
        assert_eq!(d.take(b"\r\n."), 0..3);
        assert_eq!(d.remaining(), 0);
    }
}
