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

use crate::error::{DataError, EncodeError};
use crate::types::{Command, MAX_TEXT_LINE};

const CR: u8 = b'\r';
const LF: u8 = b'\n';

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// After CRLF, or at the very start of the data.
    LineStart,
    /// A dot at the start of a line has been consumed.
    Dot,
    /// `.` then CR at the start of a line.
    DotCr,
    /// Inside a line.
    Mid,
    /// After a CR inside a line (the CR already handed out).
    Cr,
    /// The terminator has been consumed.
    Done,
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
#[derive(Clone, Debug)]
pub struct DataDecoder {
    state: State,
    failed: Option<DataError>,
    max_content: usize,
    max_size: u64,
    line_len: usize,
    size: u64,
    consumed: u64,
}

impl DataDecoder {
    /// A decoder for a message of at most `max_size` body octets (from SIZE, RFC 1870).
    pub fn new(max_size: u64) -> DataDecoder {
        DataDecoder {
            state: State::LineStart,
            failed: None,
            max_content: MAX_TEXT_LINE - 2,
            max_size,
            line_len: 0,
            size: 0,
            consumed: 0,
        }
    }

    /// Sets another line limit, counting the CRLF (at least 2).
    pub fn with_max_line(mut self, max_line: usize) -> DataDecoder {
        self.max_content = max_line.saturating_sub(2);
        self
    }

    /// Starts over for a new message.
    pub fn reset(&mut self) {
        self.state = State::LineStart;
        self.failed = None;
        self.line_len = 0;
        self.size = 0;
        self.consumed = 0;
    }

    /// Whether the terminator has been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The error reported, if any.
    pub fn error(&self) -> Option<DataError> {
        self.failed
    }

    /// Body octets handed out so far.
    pub fn body_size(&self) -> u64 {
        self.size
    }

    /// Input octets consumed so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Decodes from the start of `input` up to the next stuffed dot, the end of the input,
    /// an error or the terminator.
    pub fn decode(&mut self, input: &[u8]) -> Step {
        let step = if self.state == State::Done {
            Step {
                consumed: 0,
                body: 0..0,
                status: Status::End,
            }
        } else if self.failed.is_some() {
            self.discard(input)
        } else {
            self.strict(input)
        };
        self.consumed += step.consumed as u64;
        step
    }

    /// Decodes as much of `input` as belongs to the message, handing each body chunk (a slice
    /// of `input`) to `on_body`. Stops after the terminator; goes on past an error (which is
    /// returned) to find it.
    pub fn feed(&mut self, input: &Bytes, mut on_body: impl FnMut(Bytes)) -> Fed {
        let mut pos = 0;
        let mut error = None;
        loop {
            let step = self.decode(&input[pos..]);
            if !step.body.is_empty() {
                on_body(input.slice(pos + step.body.start..pos + step.body.end));
            }
            pos += step.consumed;
            match step.status {
                Status::End => {
                    return Fed {
                        consumed: pos,
                        ended: true,
                        error,
                    };
                }
                Status::Error(e) => error = Some(e),
                Status::Continue if pos == input.len() => {
                    return Fed {
                        consumed: pos,
                        ended: false,
                        error,
                    };
                }
                Status::Continue => {}
            }
        }
    }

    fn fail(&mut self, start: usize, i: usize, e: DataError) -> Step {
        self.failed = Some(e);
        Step {
            consumed: i,
            body: start..i,
            status: Status::Error(e),
        }
    }

    fn strict(&mut self, input: &[u8]) -> Step {
        let len = input.len();
        let mut i = 0;
        let mut start = 0;
        let cont = |start: usize, i: usize| Step {
            consumed: i,
            body: start..i,
            status: Status::Continue,
        };
        loop {
            match self.state {
                State::Mid => {
                    let content_budget = self.max_content - self.line_len;
                    let size_budget = self.max_size - self.size;
                    let w = (content_budget as u64).min(size_budget);
                    let remaining = len - i;
                    let window_end = if w >= remaining as u64 {
                        len
                    } else {
                        i + w as usize + 1
                    };
                    match memchr::memchr2(CR, LF, &input[i..window_end]) {
                        None => {
                            let n = window_end - i;
                            if (n as u64) <= w {
                                self.line_len += n;
                                self.size += n as u64;
                                return cont(start, len);
                            }
                            // The octet at i + w is over a limit.
                            self.line_len += w as usize;
                            self.size += w;
                            let e = if content_budget as u64 <= size_budget {
                                DataError::LineTooLong {
                                    limit: self.max_content + 2,
                                }
                            } else {
                                DataError::MessageTooBig {
                                    limit: self.max_size,
                                }
                            };
                            return self.fail(start, i + w as usize, e);
                        }
                        Some(off) => {
                            self.line_len += off;
                            self.size += off as u64;
                            i += off;
                            if input[i] == LF {
                                return self.fail(start, i, DataError::BareLf);
                            }
                            if self.size >= self.max_size {
                                return self.fail(start, i, self.too_big());
                            }
                            self.size += 1;
                            i += 1;
                            self.state = State::Cr;
                        }
                    }
                }
                State::Cr => {
                    if i == len {
                        return cont(start, i);
                    }
                    if input[i] != LF {
                        self.state = State::Mid;
                        return self.fail(start, i, DataError::BareCr);
                    }
                    if self.size >= self.max_size {
                        return self.fail(start, i, self.too_big());
                    }
                    self.size += 1;
                    i += 1;
                    self.line_len = 0;
                    self.state = State::LineStart;
                }
                State::LineStart => {
                    if i == len {
                        return cont(start, i);
                    }
                    if input[i] == b'.' {
                        if input.get(i + 1..i + 3) == Some(b"\r\n") {
                            // The terminator: the body so far ends here.
                            self.state = State::Done;
                            return Step {
                                consumed: i + 3,
                                body: start..i,
                                status: Status::End,
                            };
                        }
                        self.state = State::Dot;
                        if i > start {
                            return Step {
                                consumed: i + 1,
                                body: start..i,
                                status: Status::Continue,
                            };
                        }
                        i += 1;
                        start = i;
                    } else {
                        self.state = State::Mid;
                    }
                }
                State::Dot => {
                    if i == len {
                        return cont(start, i);
                    }
                    if input[i] == CR {
                        i += 1;
                        start = i;
                        self.state = State::DotCr;
                    } else {
                        // RFC 5321 §4.5.2: a leading dot with more on the line is removed.
                        self.state = State::Mid;
                    }
                }
                State::DotCr => {
                    if i == len {
                        return cont(start, i);
                    }
                    if input[i] != LF {
                        self.state = State::Mid;
                        return self.fail(start, i, DataError::BareCr);
                    }
                    self.state = State::Done;
                    return Step {
                        consumed: i + 1,
                        body: start..start,
                        status: Status::End,
                    };
                }
                State::Done => {
                    return Step {
                        consumed: i,
                        body: start..i,
                        status: Status::End,
                    };
                }
            }
        }
    }

    fn too_big(&self) -> DataError {
        DataError::MessageTooBig {
            limit: self.max_size,
        }
    }

    /// After an error: no body, no limits, only the real `CRLF.CRLF` ends the data.
    fn discard(&mut self, input: &[u8]) -> Step {
        let len = input.len();
        let mut i = 0;
        while i < len {
            match self.state {
                State::Mid => match memchr::memchr(CR, &input[i..]) {
                    None => i = len,
                    Some(off) => {
                        i += off + 1;
                        self.state = State::Cr;
                    }
                },
                State::Cr => {
                    if input[i] == LF {
                        i += 1;
                        self.state = State::LineStart;
                    } else {
                        self.state = State::Mid;
                    }
                }
                State::LineStart => {
                    if input[i] == b'.' {
                        i += 1;
                        self.state = State::Dot;
                    } else {
                        self.state = State::Mid;
                    }
                }
                State::Dot => {
                    if input[i] == CR {
                        i += 1;
                        self.state = State::DotCr;
                    } else {
                        self.state = State::Mid;
                    }
                }
                State::DotCr => {
                    if input[i] == LF {
                        self.state = State::Done;
                        return Step {
                            consumed: i + 1,
                            body: 0..0,
                            status: Status::End,
                        };
                    }
                    self.state = State::Mid;
                }
                State::Done => break,
            }
        }
        Step {
            consumed: i,
            body: 0..0,
            status: if self.state == State::Done {
                Status::End
            } else {
                Status::Continue
            },
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EncState {
    LineStart,
    Mid,
    /// A CR has been seen and not yet written.
    Cr,
    Finished,
}

/// The client's DATA sender: dot-stuffs the body (RFC 5321 §4.5.2), checks line lengths,
/// adds a final CRLF if the body lacks one, and the terminator `.CRLF`. Stream the body with
/// any chunking through [`encode`](Self::encode), then call [`finish`](Self::finish).
///
/// On error nothing of that call is written and the encoder is unchanged. The message cannot
/// be sent as it is: do not finish (that would deliver a truncated message); close the
/// connection instead.
#[derive(Clone, Debug)]
pub struct DataEncoder {
    state: EncState,
    mode: BareLineEndings,
    max_content: usize,
    line_len: usize,
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
            state: EncState::LineStart,
            mode: BareLineEndings::Reject,
            max_content: MAX_TEXT_LINE - 2,
            line_len: 0,
        }
    }

    /// Sets what to do with bare line endings.
    pub fn with_bare_line_endings(mut self, mode: BareLineEndings) -> DataEncoder {
        self.mode = mode;
        self
    }

    /// Sets another line limit, counting the CRLF; `usize::MAX` disables the check.
    pub fn with_max_line(mut self, max_line: usize) -> DataEncoder {
        self.max_content = max_line.saturating_sub(2);
        self
    }

    /// Appends the encoded form of the next piece of the body.
    pub fn encode(&mut self, body: &[u8], out: &mut BytesMut) -> Result<(), EncodeError> {
        let saved = (self.state, self.line_len);
        let mark = out.len();
        let r = self.encode_inner(body, out);
        if r.is_err() {
            (self.state, self.line_len) = saved;
            out.truncate(mark);
        }
        r
    }

    fn line_end(&mut self, out: &mut BytesMut) {
        out.put_slice(b"\r\n");
        self.line_len = 0;
        self.state = EncState::LineStart;
    }

    fn encode_inner(&mut self, body: &[u8], out: &mut BytesMut) -> Result<(), EncodeError> {
        let len = body.len();
        let mut i = 0;
        out.reserve(len + len / 64 + 8);
        while i < len {
            match self.state {
                EncState::Finished => return Err(EncodeError::Finished),
                EncState::Cr => {
                    if body[i] == LF {
                        i += 1;
                    } else if self.mode == BareLineEndings::Reject {
                        return Err(EncodeError::BareCr);
                    }
                    self.line_end(out);
                }
                EncState::LineStart => {
                    if body[i] == b'.' {
                        out.put_u8(b'.');
                    }
                    self.state = EncState::Mid;
                }
                EncState::Mid => {
                    let rest = &body[i..];
                    let n = memchr::memchr2(CR, LF, rest).unwrap_or(rest.len());
                    if self.line_len + n > self.max_content {
                        return Err(EncodeError::LineTooLong {
                            limit: self.max_content.saturating_add(2),
                        });
                    }
                    out.put_slice(&rest[..n]);
                    self.line_len += n;
                    i += n;
                    if i < len {
                        if body[i] == LF {
                            if self.mode == BareLineEndings::Reject {
                                return Err(EncodeError::BareLf);
                            }
                            self.line_end(out);
                        } else {
                            self.state = EncState::Cr;
                        }
                        i += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends the body: a CRLF if the last line lacks one, then `.CRLF`.
    pub fn finish(&mut self, out: &mut BytesMut) -> Result<(), EncodeError> {
        match self.state {
            EncState::Finished => return Err(EncodeError::Finished),
            EncState::Cr if self.mode == BareLineEndings::Reject => {
                return Err(EncodeError::BareCr);
            }
            EncState::Cr | EncState::Mid => out.put_slice(b"\r\n"),
            EncState::LineStart => {}
        }
        out.put_slice(b".\r\n");
        self.state = EncState::Finished;
        Ok(())
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
