//! The dot-stuffing codec shared by SMTP DATA (RFC 5321 §4.5.2) and POP3 multi-line bodies
//! (RFC 1939 §3): one Sans-IO [`Decoder`] and one [`Encoder`], streamed, never holding a
//! whole message. The protocol crates (`mailsec_smtp::data`, `mailsec_pop3::multiline`) are
//! thin layers over these, choosing the options and mapping [`DecodeError`] / [`EncodeError`]
//! to their own error types.
//!
//! The body ends **only** at `CRLF.CRLF`. With [`BareLineEndings::Reject`] a bare CR or LF is
//! an error; with [`BareLineEndings::Pass`] it is a body octet and never ends a line, so
//! `\n.\n`, `\r.\r`, `\r\n.\n` and `\n.\r\n` never end a body (the smuggling defence).
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use mailsec_tls::dotstuff::{Decoder, Encoder};
//!
//! let mut wire = BytesMut::new();
//! let mut enc = Encoder::new();
//! enc.encode(b".hidden\r\nlast", &mut wire)?;
//! enc.finish(&mut wire)?;
//! assert_eq!(&wire[..], b"..hidden\r\nlast\r\n.\r\n");
//!
//! wire.extend_from_slice(b"NEXT");
//! let input = wire.freeze();
//! let mut dec = Decoder::new();
//! let mut body = Vec::new();
//! let fed = dec.feed(&input, |c: Bytes| body.extend_from_slice(&c));
//! assert!(fed.ended && fed.error.is_none());
//! assert_eq!(body, b".hidden\r\nlast\r\n");
//! assert_eq!(&input[fed.consumed..], b"NEXT");
//! # Ok::<(), mailsec_tls::dotstuff::EncodeError>(())
//! ```

use std::ops::Range;
use std::sync::LazyLock;

use bytes::{BufMut, Bytes, BytesMut};

const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// What to do with a CR not followed by LF or a LF not preceded by CR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BareLineEndings {
    /// A typed error (the default).
    #[default]
    Reject,
    /// Decoder: body octets that never end a line. Encoder: sent as they are, a `.` after
    /// one still stuffed.
    Pass,
    /// Encoder: each bare CR and bare LF sent as CRLF. Decoder: as [`Pass`](Self::Pass).
    ConvertToCrlf,
}

/// What the [`Decoder`] does with a line starting with a single `.` that is neither the
/// terminator nor stuffing (`..`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnstuffedDot {
    /// Remove the dot (RFC 5321 §4.5.2; the default).
    #[default]
    Remove,
    /// Report [`DecodeError::UnstuffedDot`].
    Reject,
    /// Keep it as body (handed out as a static [`Step::literal`]).
    Keep,
}

/// Data that breaks the rules, found by the [`Decoder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A LF not preceded by CR.
    #[error("bare LF in dot-stuffed data")]
    BareLf,
    /// A CR not followed by LF.
    #[error("bare CR in dot-stuffed data")]
    BareCr,
    /// A line starting with a single `.` that is not the terminator ([`UnstuffedDot::Reject`]).
    #[error("line starts with an unstuffed '.'")]
    UnstuffedDot,
    /// A line longer than the limit, counting its CRLF.
    #[error("line longer than {limit} octets")]
    LineTooLong {
        /// The limit in force, counting the CRLF.
        limit: usize,
    },
    /// A body larger than the limit.
    #[error("body larger than {limit} octets")]
    MessageTooBig {
        /// The limit in force.
        limit: u64,
    },
}

/// A body the [`Encoder`] refuses to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A LF not preceded by CR, with [`BareLineEndings::Reject`].
    #[error("bare LF in body")]
    BareLf,
    /// A CR not followed by LF, with [`BareLineEndings::Reject`].
    #[error("bare CR in body")]
    BareCr,
    /// A line longer than the limit, counting its CRLF.
    #[error("line longer than {limit} octets")]
    LineTooLong {
        /// The limit in force, counting the CRLF.
        limit: usize,
    },
    /// More input after [`Encoder::finish`].
    #[error("encoder already finished")]
    Finished,
}

/// Octets checked at a time by [`Decoder::clean_blocks`].
const BLOCK: usize = 256;

/// Octets searched at a time for the next dot at a line start by [`Decoder::clean_blocks`]:
/// what one call may search beyond what its blocks then take (when they stop early, as at a
/// long line) is bounded by this.
const DOT_WINDOW: usize = 2048;

/// `CRLF.`: where a line starts with a dot. Searched with memchr's vector code (chosen at run
/// time, AVX2 where the CPU has it), so that the block check is left with the pairing alone.
static DOT_LINE: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"\r\n."));

/// Over the first `n` octets of `block` (which has 1 more, looked at, not taken): whether any
/// breaks the pairing of CR and LF (a CR not followed by LF, or an octet not a CR followed by
/// a LF), and whether any is a CR. Branch-free so that it compiles to vector instructions.
fn check_pairs(block: &[u8], n: usize) -> (bool, bool) {
    let (a, b) = (&block[..n], &block[1..n + 1]);
    let mut bad = 0u8;
    let mut cr = 0u8;
    for (&a, &b) in a.iter().zip(b) {
        let is_cr = u8::from(a == CR);
        bad |= is_cr ^ u8::from(b == LF);
        cr |= is_cr;
    }
    (bad != 0, cr != 0)
}

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

/// What one [`Decoder::decode`] call did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Octets of the input consumed. It may be less than the input even without an end;
    /// call again with the rest. It may be 0 when an error or a literal is reported.
    pub consumed: usize,
    /// Body octets that are not a slice of the input (a kept unstuffed dot, with
    /// [`UnstuffedDot::Keep`]); they come before [`body`](Self::body). Usually empty.
    pub literal: &'static [u8],
    /// The range of the input that is body (possibly empty).
    pub body: Range<usize>,
    /// What happened.
    pub status: Status,
}

/// The outcome of a [`Step`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// More input needed (or call again with the unconsumed rest).
    Continue,
    /// The terminator `CRLF.CRLF` was consumed: the body is complete.
    End,
    /// The data broke a rule. Reported once; the decoder then discards input, hands out no
    /// more body, and reports [`Status::End`] at the real terminator.
    Error(DecodeError),
}

/// What [`Decoder::feed`] did with one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fed {
    /// Octets of the input consumed; the rest (pipelined commands) is the caller's.
    pub consumed: usize,
    /// Whether the terminator was reached.
    pub ended: bool,
    /// The error reported during this call, if any.
    pub error: Option<DecodeError>,
}

/// The streaming dot-unstuffing decoder. See the [module documentation](self).
///
/// Limits are checked octet by octet as input arrives, so the outcome is the same however
/// the input is chunked: a line length (counting CRLF; a stuffed dot counted only with
/// [`with_counted_stuffing`](Self::with_counted_stuffing)) and a body size (after
/// unstuffing, CRLFs counted). Both are unlimited by default.
#[derive(Clone, Debug)]
pub struct Decoder {
    state: State,
    failed: Option<DecodeError>,
    max_content: usize,
    max_size: u64,
    bare: BareLineEndings,
    unstuffed: UnstuffedDot,
    count_stuffing: bool,
    split_before_dot: bool,
    line_len: usize,
    size: u64,
    consumed: u64,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder without limits, rejecting bare line endings and removing unstuffed dots.
    pub fn new() -> Decoder {
        Decoder {
            state: State::LineStart,
            failed: None,
            max_content: usize::MAX,
            max_size: u64::MAX,
            bare: BareLineEndings::Reject,
            unstuffed: UnstuffedDot::Remove,
            count_stuffing: false,
            split_before_dot: false,
            line_len: 0,
            size: 0,
            consumed: 0,
        }
    }

    /// Sets a body size limit (octets after unstuffing, CRLFs counted).
    #[must_use]
    pub fn with_max_size(mut self, max_size: u64) -> Decoder {
        self.max_size = max_size;
        self
    }

    /// Sets a line limit, counting the CRLF (at least 2).
    #[must_use]
    pub fn with_max_line(mut self, max_line: usize) -> Decoder {
        self.max_content = max_line.saturating_sub(2);
        self
    }

    /// Sets the policy for bare CR and LF ([`BareLineEndings::ConvertToCrlf`] acts as
    /// [`BareLineEndings::Pass`]).
    #[must_use]
    pub fn with_bare_line_endings(mut self, bare: BareLineEndings) -> Decoder {
        self.bare = bare;
        self
    }

    /// Sets the policy for a line starting with a single `.`.
    #[must_use]
    pub fn with_unstuffed_dot(mut self, unstuffed: UnstuffedDot) -> Decoder {
        self.unstuffed = unstuffed;
        self
    }

    /// Whether a stuffed dot counts toward the line limit (default: no, as RFC 5321
    /// §4.5.3.1.6 says).
    #[must_use]
    pub fn with_counted_stuffing(mut self, counted: bool) -> Decoder {
        self.count_stuffing = counted;
        self
    }

    /// Whether a step ends *before* a dot at the start of a line when body is pending, leaving
    /// the dot unconsumed (default: no, the dot is consumed with that step).
    #[must_use]
    pub fn with_split_before_dot(mut self, split: bool) -> Decoder {
        self.split_before_dot = split;
        self
    }

    /// Starts over for a new body, keeping the options.
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
    pub fn error(&self) -> Option<DecodeError> {
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
    /// an error, a literal or the terminator.
    pub fn decode(&mut self, input: &[u8]) -> Step {
        let step = if self.state == State::Done {
            Step {
                consumed: 0,
                literal: b"",
                body: 0..0,
                status: Status::End,
            }
        } else if self.failed.is_some() {
            self.discard(input)
        } else {
            self.run(input)
        };
        self.consumed += step.consumed as u64;
        step
    }

    /// Decodes as much of `input` as belongs to the body, handing each body chunk (a slice
    /// of `input`, or a static literal) to `on_body`. Stops after the terminator; goes on
    /// past an error (which is returned) to find it.
    pub fn feed(&mut self, input: &Bytes, mut on_body: impl FnMut(Bytes)) -> Fed {
        let mut pos = 0;
        let mut error = None;
        loop {
            let step = self.decode(&input[pos..]);
            if !step.literal.is_empty() {
                on_body(Bytes::from_static(step.literal));
            }
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

    fn fail(&mut self, start: usize, i: usize, e: DecodeError) -> Step {
        self.failed = Some(e);
        Step {
            consumed: i,
            literal: b"",
            body: start..i,
            status: Status::Error(e),
        }
    }

    fn too_big(&self) -> DecodeError {
        DecodeError::MessageTooBig {
            limit: self.max_size,
        }
    }

    fn too_long(&self) -> DecodeError {
        DecodeError::LineTooLong {
            limit: self.max_content.saturating_add(2),
        }
    }

    /// Adds `n` octets to the current line, or the error if that is over the limit.
    fn grow_line(&mut self, n: usize) -> Result<(), DecodeError> {
        if self.max_content - self.line_len < n {
            return Err(self.too_long());
        }
        self.line_len += n;
        Ok(())
    }

    /// Hands out a literal (the unstuffed dot, kept) at input position `i`, nothing consumed.
    fn literal(&mut self, i: usize, lit: &'static [u8], line: usize) -> Step {
        self.state = State::Mid;
        if let Err(e) = self.grow_line(line) {
            return self.fail(i, i, e);
        }
        if self.max_size - self.size < lit.len() as u64 {
            return self.fail(i, i, self.too_big());
        }
        self.size += lit.len() as u64;
        Step {
            consumed: i,
            literal: lit,
            body: i..i,
            status: Status::Continue,
        }
    }

    /// The faster path of [`run`](Self::run) in [`State::Mid`] with bare line endings
    /// rejected, for long runs of short lines. The next dot at a line start is found first
    /// (memchr's `CRLF.` search, [`DOT_WINDOW`] octets at a time); up to it, [`BLOCK`] octets
    /// at a time are checked by a loop the compiler vectorises (every CR followed by LF, every
    /// LF after a CR), line lengths bounded by blocks; every clean block is taken, and when
    /// the dot is reached, the octets up to it. Returns the new position with the state, line
    /// length and size brought up to it, or `None` if it took nothing.
    fn clean_blocks(&mut self, input: &[u8], i: usize) -> Option<usize> {
        // A line can only be too long in a block after one it started in.
        if self.max_content < 2 * BLOCK || input.get(i) == Some(&LF) {
            return None;
        }
        let budget = self.max_size - self.size;
        let stop = if budget >= (input.len() - i) as u64 {
            input.len()
        } else {
            i + budget as usize
        };
        let mut pos = i;
        // An upper bound on the current line's content octets at `pos`.
        let mut bound = self.line_len;
        // Where the step ends when a dot at a line start stopped it: after that CRLF.
        let mut cut = None;
        'windows: loop {
            let window_end = stop.min(pos + DOT_WINDOW);
            let dot_cr = DOT_LINE.find(&input[pos..window_end]).map(|k| pos + k);
            // The blocks below `end` need no dot check: a dot they could take would follow a
            // CRLF inside the window, and the search found none before `dot_cr`. A block
            // looks at one octet past its lanes, not taken: the dot's CR, or the window's
            // last octet.
            let end = dot_cr.unwrap_or(window_end.saturating_sub(1).max(pos));
            while pos + BLOCK <= end && bound + BLOCK <= self.max_content {
                let (bad, any_cr) = check_pairs(&input[pos..=pos + BLOCK], BLOCK);
                if bad {
                    // A bare CR or LF: the octet-by-octet path finds and reports it.
                    break 'windows;
                }
                pos += BLOCK;
                bound = if any_cr { BLOCK } else { bound + BLOCK };
            }
            if let Some(cr) = dot_cr {
                // Fewer than a block's octets left before the dot's CRLF (unless the line
                // bound stopped the blocks): check them and take them with the CRLF.
                let rest = cr - pos;
                if rest < BLOCK
                    && bound + BLOCK <= self.max_content
                    && !check_pairs(&input[pos..=cr], rest).0
                {
                    cut = Some(cr + 2);
                }
                break;
            }
            if window_end == stop || bound + BLOCK > self.max_content {
                break;
            }
        }
        let end = cut.unwrap_or(pos);
        if end == i {
            return None;
        }
        self.size += (end - i) as u64;
        let taken = &input[i..end];
        if input[end - 1] == LF {
            self.line_len = 0;
            self.state = State::LineStart;
        } else {
            let tail = match memchr::memrchr(LF, taken) {
                Some(lf) => end - (i + lf + 1),
                None => self.line_len + (end - i),
            };
            if input[end - 1] == CR {
                self.line_len = tail - 1;
                self.state = State::Cr;
            } else {
                self.line_len = tail;
                self.state = State::Mid;
            }
        }
        Some(end)
    }

    /// The fast path of [`run`](Self::run) in [`State::Mid`] with bare line endings rejected:
    /// the end of the longest run of whole lines from `i` that the octet-by-octet path would
    /// take without stopping (every LF after a CR, no other CR, no line over the limit, the
    /// size limit not reached, no dot after a line's CRLF except at the run's end), or `i`
    /// when there is none. One LF search over the run and one vectorised CR count instead of
    /// a CR/LF search and three state changes per line.
    fn clean_lines(&self, input: &[u8], i: usize) -> usize {
        let budget = self.max_size - self.size;
        let stop = if budget >= (input.len() - i) as u64 {
            input.len()
        } else {
            i + budget as usize
        };
        let region = &input[i..stop];
        // Content octets of the line so far, before `line_start` within the region.
        let mut carried = self.line_len;
        let mut line_start = 0;
        let mut lines = 0;
        for lf in memchr::memchr_iter(LF, region) {
            if lf == line_start || region[lf - 1] != CR {
                break;
            }
            if lf - 1 - line_start > self.max_content - carried {
                break;
            }
            carried = 0;
            line_start = lf + 1;
            lines += 1;
            if region.get(line_start) == Some(&b'.') {
                break;
            }
        }
        if lines == 0 {
            return i;
        }
        let run = &region[..line_start];
        if memchr::memchr_iter(CR, run).count() == lines {
            return i + line_start;
        }
        // A bare CR: the run ends at the start of its line, where the octet-by-octet path
        // takes over and reports it.
        let bare = memchr::memchr_iter(CR, run)
            .find(|&cr| run[cr + 1] != LF)
            .unwrap_or(0);
        memchr::memrchr(LF, &run[..bare]).map_or(i, |lf| i + lf + 1)
    }

    fn run(&mut self, input: &[u8]) -> Step {
        let len = input.len();
        let mut i = 0;
        let mut start = 0;
        let cont = |start: usize, i: usize| Step {
            consumed: i,
            literal: b"",
            body: start..i,
            status: Status::Continue,
        };
        let reject_bare = self.bare == BareLineEndings::Reject;
        loop {
            match self.state {
                State::Mid => {
                    if reject_bare {
                        if let Some(end) = self.clean_blocks(input, i) {
                            i = end;
                            continue;
                        }
                        let end = self.clean_lines(input, i);
                        if end > i {
                            // Whole lines, checked: body up to a line start.
                            self.size += (end - i) as u64;
                            self.line_len = 0;
                            self.state = State::LineStart;
                            i = end;
                            continue;
                        }
                    }
                    let content_budget = self.max_content - self.line_len;
                    let size_budget = self.max_size - self.size;
                    let w = (content_budget as u64).min(size_budget);
                    let remaining = len - i;
                    let window_end = if w >= remaining as u64 {
                        len
                    } else {
                        i + w as usize + 1
                    };
                    let window = &input[i..window_end];
                    let found = if reject_bare {
                        memchr::memchr2(CR, LF, window)
                    } else {
                        memchr::memchr(CR, window)
                    };
                    match found {
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
                                self.too_long()
                            } else {
                                self.too_big()
                            };
                            return self.fail(start, i + w as usize, e);
                        }
                        Some(off) => {
                            self.line_len += off;
                            self.size += off as u64;
                            i += off;
                            if input[i] == LF {
                                return self.fail(start, i, DecodeError::BareLf);
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
                        if reject_bare {
                            return self.fail(start, i, DecodeError::BareCr);
                        }
                        // A bare CR passed through: one more octet of the line.
                        if let Err(e) = self.grow_line(1) {
                            return self.fail(start, i, e);
                        }
                        continue;
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
                        if self.split_before_dot && i > start {
                            return cont(start, i);
                        }
                        if input.get(i + 1..i + 3) == Some(b"\r\n") {
                            // The terminator: the body so far ends here.
                            self.state = State::Done;
                            return Step {
                                consumed: i + 3,
                                literal: b"",
                                body: start..i,
                                status: Status::End,
                            };
                        }
                        if self.count_stuffing {
                            if let Err(e) = self.grow_line(1) {
                                return self.fail(start, i, e);
                            }
                        }
                        self.state = State::Dot;
                        if i > start {
                            return Step {
                                consumed: i + 1,
                                literal: b"",
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
                    match input[i] {
                        CR => {
                            i += 1;
                            start = i;
                            self.state = State::DotCr;
                        }
                        // Stuffing: the dot after it is body.
                        b'.' => self.state = State::Mid,
                        _ => match self.unstuffed {
                            // RFC 5321 §4.5.2: a leading dot with more on the line is removed.
                            UnstuffedDot::Remove => self.state = State::Mid,
                            UnstuffedDot::Reject => {
                                self.state = State::Mid;
                                return self.fail(start, i, DecodeError::UnstuffedDot);
                            }
                            UnstuffedDot::Keep => {
                                let line = usize::from(!self.count_stuffing);
                                return self.literal(i, b".", line);
                            }
                        },
                    }
                }
                State::DotCr => {
                    if i == len {
                        return cont(start, i);
                    }
                    if input[i] == LF {
                        self.state = State::Done;
                        return Step {
                            consumed: i + 1,
                            literal: b"",
                            body: start..start,
                            status: Status::End,
                        };
                    }
                    self.state = State::Mid;
                    if reject_bare {
                        return self.fail(start, i, DecodeError::BareCr);
                    }
                    // `.` and a bare CR passed through: the dot was not stuffing.
                    match self.unstuffed {
                        UnstuffedDot::Remove => return self.literal(i, b"\r", 1),
                        UnstuffedDot::Reject => {
                            return self.fail(start, i, DecodeError::UnstuffedDot);
                        }
                        UnstuffedDot::Keep => {
                            let line = 1 + usize::from(!self.count_stuffing);
                            return self.literal(i, b".\r", line);
                        }
                    }
                }
                State::Done => {
                    return Step {
                        consumed: i,
                        literal: b"",
                        body: start..i,
                        status: Status::End,
                    };
                }
            }
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
                            literal: b"",
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
            literal: b"",
            body: 0..0,
            status: if self.state == State::Done {
                Status::End
            } else {
                Status::Continue
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EncState {
    LineStart,
    Mid,
    /// A CR has been seen and not yet written.
    Cr,
    Finished,
}

/// The streaming dot-stuffing encoder: stuffs every line starting with `.`, checks line
/// lengths (unlimited by default), and on [`finish`](Self::finish) adds a CRLF if the body
/// lacks one and the terminator `.CRLF`.
///
/// By default an error writes nothing of that call and leaves the encoder unchanged; with
/// [`with_keep_partial`](Self::with_keep_partial) what came before the offending octet stays
/// written and the offending octet is dropped.
#[derive(Clone, Debug)]
pub struct Encoder {
    state: EncState,
    mode: BareLineEndings,
    max_content: usize,
    line_len: usize,
    /// The current line start came from a bare line ending passed through.
    bare_end: bool,
    keep_partial: bool,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    /// An encoder refusing bare line endings, without a line limit.
    pub fn new() -> Encoder {
        Encoder {
            state: EncState::LineStart,
            mode: BareLineEndings::Reject,
            max_content: usize::MAX,
            line_len: 0,
            bare_end: false,
            keep_partial: false,
        }
    }

    /// Sets what to do with bare line endings.
    #[must_use]
    pub fn with_bare_line_endings(mut self, mode: BareLineEndings) -> Encoder {
        self.mode = mode;
        self
    }

    /// Sets a line limit, counting the CRLF and not a stuffed dot; `usize::MAX` disables it.
    #[must_use]
    pub fn with_max_line(mut self, max_line: usize) -> Encoder {
        self.max_content = max_line.saturating_sub(2);
        self
    }

    /// Whether an error keeps what was written before the offending octet (default: no).
    #[must_use]
    pub fn with_keep_partial(mut self, keep: bool) -> Encoder {
        self.keep_partial = keep;
        self
    }

    /// Whether [`finish`](Self::finish) has succeeded.
    pub fn is_finished(&self) -> bool {
        self.state == EncState::Finished
    }

    /// Appends the encoded form of the next piece of the body.
    pub fn encode(&mut self, body: &[u8], out: &mut BytesMut) -> Result<(), EncodeError> {
        if self.keep_partial {
            return self.encode_inner(body, out);
        }
        let saved = (self.state, self.line_len, self.bare_end);
        let mark = out.len();
        let r = self.encode_inner(body, out);
        if r.is_err() {
            (self.state, self.line_len, self.bare_end) = saved;
            out.truncate(mark);
        }
        r
    }

    fn line_end(&mut self, out: &mut BytesMut) {
        out.put_slice(b"\r\n");
        self.line_len = 0;
        self.bare_end = false;
        self.state = EncState::LineStart;
    }

    fn bare_line_end(&mut self, octet: u8, out: &mut BytesMut) {
        out.put_u8(octet);
        self.line_len = 0;
        self.bare_end = true;
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
                        self.line_end(out);
                    } else {
                        match self.mode {
                            BareLineEndings::Reject => {
                                // Dropped if the partial output is kept.
                                self.state = EncState::Mid;
                                return Err(EncodeError::BareCr);
                            }
                            BareLineEndings::Pass => self.bare_line_end(CR, out),
                            BareLineEndings::ConvertToCrlf => self.line_end(out),
                        }
                    }
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
                    if self.line_len.saturating_add(n) > self.max_content {
                        return Err(EncodeError::LineTooLong {
                            limit: self.max_content.saturating_add(2),
                        });
                    }
                    out.put_slice(&rest[..n]);
                    self.line_len += n;
                    i += n;
                    if i < len {
                        if body[i] == LF {
                            match self.mode {
                                BareLineEndings::Reject => return Err(EncodeError::BareLf),
                                BareLineEndings::Pass => self.bare_line_end(LF, out),
                                BareLineEndings::ConvertToCrlf => self.line_end(out),
                            }
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

    /// Ends the body: a CRLF if the last line lacks one (or ended with a bare line ending
    /// passed through), then `.CRLF`.
    pub fn finish(&mut self, out: &mut BytesMut) -> Result<(), EncodeError> {
        match self.state {
            EncState::Finished => return Err(EncodeError::Finished),
            EncState::Cr => match self.mode {
                BareLineEndings::Reject => {
                    if self.keep_partial {
                        // The CR is dropped.
                        self.state = EncState::Mid;
                    }
                    return Err(EncodeError::BareCr);
                }
                BareLineEndings::Pass => out.put_slice(b"\r\r\n"),
                BareLineEndings::ConvertToCrlf => out.put_slice(b"\r\n"),
            },
            EncState::Mid => out.put_slice(b"\r\n"),
            EncState::LineStart if self.bare_end => out.put_slice(b"\r\n"),
            EncState::LineStart => {}
        }
        out.put_slice(b".\r\n");
        self.state = EncState::Finished;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(mut dec: Decoder, input: &[u8]) -> (Vec<u8>, Fed) {
        let input = Bytes::copy_from_slice(input);
        let mut body = Vec::new();
        let fed = dec.feed(&input, |c| body.extend_from_slice(&c));
        (body, fed)
    }

    /// Feeds `input` in chunks of `step` octets; returns the body, the input consumed, the
    /// first error and whether it ended, and the decoder's counters.
    fn decode_chunked(
        mut dec: Decoder,
        input: &[u8],
        step: usize,
    ) -> (Vec<u8>, usize, Option<DecodeError>, bool, u64) {
        let mut body = Vec::new();
        let mut consumed = 0;
        let mut error = None;
        for chunk in input.chunks(step) {
            let chunk = Bytes::copy_from_slice(chunk);
            let fed = dec.feed(&chunk, |c| body.extend_from_slice(&c));
            consumed += fed.consumed;
            error = error.or(fed.error);
            if fed.ended {
                return (body, consumed, error, true, dec.body_size());
            }
        }
        (body, consumed, error, false, dec.body_size())
    }

    /// The block and line fast paths (taken with big chunks) agree with octet-by-octet
    /// decoding (which never takes them) on long inputs of short lines with stuffed dots,
    /// bare CRs and LFs, long lines and size limits placed anywhere.
    #[test]
    fn fast_paths_agree_with_octet_by_octet() {
        let mut seed = 0x2545_f491_u32;
        let mut next = move |n: u32| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 8) % n
        };
        for case in 0..400 {
            let mut input = Vec::new();
            let lines = 20 + next(60);
            for _ in 0..lines {
                match next(40) {
                    0 => input.extend_from_slice(b"..stuffed\r\n"),
                    1 if case % 3 == 0 => input.extend_from_slice(b"bare\rcr\r\n"),
                    2 if case % 3 == 1 => input.extend_from_slice(b"bare\nlf\r\n"),
                    3 => input.extend_from_slice(&[b'x'; 700]),
                    4 => input.extend_from_slice(b"\r\n"),
                    5 => input.extend_from_slice(b".x\r\n"),
                    _ => {
                        let len = next(120) as usize;
                        input.extend((0..len).map(|k| b'a' + (k % 26) as u8));
                        input.extend_from_slice(b"\r\n");
                    }
                }
            }
            input.extend_from_slice(b".\r\nNEXT");
            let size = if case % 5 == 0 {
                u64::from(next(input.len() as u32))
            } else {
                u64::MAX
            };
            let dec = || Decoder::new().with_max_line(1000).with_max_size(size);
            let slow = decode_chunked(dec(), &input, 1);
            for step in [input.len(), 4096, 300, 7] {
                assert_eq!(
                    decode_chunked(dec(), &input, step),
                    slow,
                    "case {case} step {step}"
                );
            }
        }
    }

    /// A dot at a line start, a bare CR or LF, or a line ending placed at every offset around
    /// the edges the block path works in (its blocks, the dot search's windows, where a
    /// `CRLF.` may straddle a window's end), after a run of clean lines long enough for that
    /// path: the outcome is the octet-by-octet one.
    #[test]
    fn block_path_edges_agree_with_octet_by_octet() {
        let filler = |len: usize| {
            let mut v = Vec::with_capacity(len);
            while v.len() < len {
                let line = 40 + v.len() % 37;
                v.extend((0..line).map(|k| b'a' + (k % 26) as u8));
                v.extend_from_slice(b"\r\n");
            }
            v.truncate(len);
            v
        };
        let edges = [
            BLOCK,
            2 * BLOCK,
            DOT_WINDOW,
            DOT_WINDOW + BLOCK,
            2 * DOT_WINDOW,
        ];
        let marks: [&[u8]; 6] = [
            b"\r\n.x",
            b"\r\n..",
            b"\rz",
            b"z\nz",
            b"\r\r\n",
            b"\r\n.\r\n",
        ];
        for edge in edges {
            for offset in edge - 6..edge + 6 {
                for mark in marks {
                    let mut input = filler(offset);
                    input.extend_from_slice(mark);
                    input.extend_from_slice(&filler(3 * BLOCK));
                    input.extend_from_slice(b"\r\n.\r\nNEXT");
                    let dec = || Decoder::new().with_max_line(1000);
                    let slow = decode_chunked(dec(), &input, 1);
                    for step in [input.len(), 1000, 257] {
                        assert_eq!(
                            decode_chunked(dec(), &input, step),
                            slow,
                            "edge {edge} offset {offset} mark {mark:?} step {step}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn strict_rejects_bare_endings_and_resyncs() {
        let (body, fed) = decode_all(Decoder::new(), b"a\n.\nb\r\n.\r\nNEXT");
        assert_eq!(body, b"a");
        assert_eq!(fed.error, Some(DecodeError::BareLf));
        assert!(fed.ended);
        assert_eq!(fed.consumed, 10);
    }

    #[test]
    fn tolerant_passes_bare_endings_and_keeps_unstuffed_dots() {
        let dec = Decoder::new()
            .with_bare_line_endings(BareLineEndings::Pass)
            .with_unstuffed_dot(UnstuffedDot::Keep);
        let (body, fed) = decode_all(dec, b"a\n.\nb\r\n.x\r\n.\rz\r\n..y\r\n.\r\nNEXT");
        assert_eq!(body, b"a\n.\nb\r\n.x\r\n.\rz\r\n.y\r\n");
        assert_eq!((fed.error, fed.ended), (None, true));
    }

    #[test]
    fn unstuffed_dot_policies() {
        let (body, _) = decode_all(Decoder::new(), b".x\r\n.\r\n");
        assert_eq!(body, b"x\r\n");
        let dec = Decoder::new().with_unstuffed_dot(UnstuffedDot::Reject);
        let (_, fed) = decode_all(dec, b".x\r\n.\r\n");
        assert_eq!(fed.error, Some(DecodeError::UnstuffedDot));
    }

    #[test]
    fn split_before_dot_leaves_the_dot() {
        let mut dec = Decoder::new().with_split_before_dot(true);
        let s = dec.decode(b"a\r\n.\r\n");
        assert_eq!((s.consumed, s.body, s.status), (3, 0..3, Status::Continue));
        let s = dec.decode(b".\r\n");
        assert_eq!((s.consumed, s.status), (3, Status::End));
    }

    #[test]
    fn line_limit_with_counted_stuffing() {
        let dec = Decoder::new().with_max_line(5);
        let (_, fed) = decode_all(dec, b"..ab\r\n.\r\n");
        assert_eq!(fed.error, None);
        let dec = Decoder::new().with_max_line(5).with_counted_stuffing(true);
        let (_, fed) = decode_all(dec, b"..ab\r\n.\r\n");
        assert_eq!(fed.error, Some(DecodeError::LineTooLong { limit: 5 }));
    }

    #[test]
    fn encoder_modes() {
        let mut out = BytesMut::new();
        let mut enc = Encoder::new();
        assert_eq!(enc.encode(b"a\nb", &mut out), Err(EncodeError::BareLf));
        assert!(out.is_empty());

        let mut enc = Encoder::new().with_bare_line_endings(BareLineEndings::ConvertToCrlf);
        enc.encode(b"a\n.b\rc", &mut out).unwrap();
        enc.finish(&mut out).unwrap();
        assert_eq!(&out[..], b"a\r\n..b\r\nc\r\n.\r\n");

        out.clear();
        let mut enc = Encoder::new().with_bare_line_endings(BareLineEndings::Pass);
        enc.encode(b"a\n.b\n", &mut out).unwrap();
        enc.finish(&mut out).unwrap();
        assert_eq!(&out[..], b"a\n..b\n\r\n.\r\n");
        assert_eq!(enc.finish(&mut out), Err(EncodeError::Finished));

        out.clear();
        let mut enc = Encoder::new().with_max_line(4);
        assert_eq!(
            enc.encode(b"abc", &mut out),
            Err(EncodeError::LineTooLong { limit: 4 })
        );
        enc.encode(b".a\r\n", &mut out).unwrap();
        assert_eq!(&out[..], b"..a\r\n");
    }
}
