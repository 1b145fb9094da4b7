//! IMAP framing: a byte stream in, complete messages out, literals inline.
//!
//! An IMAP command (received by a server) or response (received by a client) is one line, or
//! several lines joined by literals: `A1 LOGIN {5}\r\nalice {6}\r\nsecret\r\n` is one command of
//! three line parts and two literals (RFC 3501 §4.3 and §7.5, RFC 9051 §4.3). The [`Framer`] cuts
//! the stream into such messages — each a single [`Bytes`] holding its lines and literals exactly
//! as received, ending with CRLF — so the parser can parse one complete `&[u8]` without copying.
//!
//! # Literals
//!
//! A line part ends with a literal announcement when its last bytes before the CRLF are `{n}`
//! (synchronizing), `{n+}` (non-synchronizing, RFC 7888 LITERAL+ / LITERAL-), `~{n}` or `~{n+}`
//! (binary literal8, RFC 3516 §4.3, RFC 9051 §4.3) and that `{` is not inside a quoted string: the
//! framer works out the quoting of such a line part (with `\"` and `\\` escapes), so `A1 LOGIN "{5}" x` and
//! `A1 LOGIN x "{5}` announce nothing. The size is parsed with overflow checks (`{}`, `{-1}`,
//! `{1 2}` are [`FramingError::LiteralSyntax`]; a size above `u64::MAX` is
//! [`FramingError::LiteralTooLarge`] with `size: None`).
//!
//! Every accepted announcement is reported as [`Frame::LiteralAnnounced`] **before any byte of
//! the literal is examined or kept**, after every limit was checked against the announced size
//! (nothing is reserved up front: the literal's bytes are kept as they arrive).
//!
//! - **Server side, synchronizing `{n}`**: the client waits for a continuation request. The
//!   framer stops until the application calls [`Framer::accept_literal`] (then it sends
//!   `+ Ready`) or [`Framer::reject_literal`] (then it sends a tagged `NO [TOOBIG]` or `BAD`).
//!   After a rejection the client does not send the literal and the command is over (RFC 9051
//!   §4.3, §7.5): the next bytes are a new command. (A broken client that sends the literal
//!   anyway has its bytes read as commands, as in every server: the rule is the client's.)
//! - **Server side, non-synchronizing `{n+}`**: the client sends the bytes without waiting, so
//!   the framer decides alone. Within the limits the announcement is informational and framing
//!   goes on. Over [`FramerConfig::max_non_sync_literal`] (4096 for LITERAL-, RFC 7888 §4) or
//!   over a limit, it reports an error and then **skips** exactly `n` bytes by counting (never
//!   keeping them) and the rest of the command (see below), so the stream never loses sync.
//! - **Client side** (responses): server literals never wait (`{n}` in a response is just data,
//!   RFC 9051 §7.5); the announcement is informational, so a client can close on a huge `FETCH`
//!   literal before it is kept. A `+` continuation request and the status responses `OK`, `NO`,
//!   `BAD`, `BYE`, `PREAUTH` (tagged or untagged) carry `resp-text`, which has no literal in the
//!   grammar: a `{5}` at their end is text, never an announcement, so a server echoing client
//!   text cannot desynchronize its client.
//!
//! # Streaming a message body (client side)
//!
//! A client fetching a whole message would otherwise hold it as one literal. With
//! [`Framer::set_literal_streaming`] on, the literal that is the value of `BODY[]`,
//! `BODY[]<origin>`, `BINARY[]` or `BINARY[]<origin>` in an untagged `* n FETCH` response is
//! handed out as it arrives instead of being kept: [`Frame::StreamStart`] (with the response so
//! far), [`Frame::StreamData`] chunks of bounded size, then the rest of the response as one
//! [`Frame::Message`] with `""` in place of the literal, so attributes after the body (`FLAGS`,
//! `UID`) still parse:
//!
//! ```text
//! * 1 FETCH (UID 5 BODY[] {n}\r\n<n octets> FLAGS (\Seen))\r\n
//! → StreamStart { head: "* 1 FETCH (UID 5 BODY[] ", size: n }, StreamData..,
//!   Message("* 1 FETCH (UID 5 BODY[] \"\" FLAGS (\Seen))\r\n")
//! ```
//!
//! The streamed literal is bounded by its own limit, not by [`PhaseLimits::max_literal`] nor
//! [`PhaseLimits::max_message`]; the line parts around it are bounded as always.
//!
//! # After an error: the rest of the message is discarded
//!
//! Every error but [`FramingError::BufferFull`] and [`FramingError::Desynchronized`] drops the
//! message being framed and discards the rest of it as it arrives, without keeping it. For a
//! refused non-synchronizing literal RFC 7888 §4 leaves a server two ways out: read and discard
//! the literal, or close the connection; the framer does the first (closing stays the
//! application's choice) and, as Dovecot does, throws away the rest of the command with it.
//! Even with [`FramerConfig::max_non_sync_literal`] `None` the announced bytes are skipped, never
//! read as commands: a server that answered `BAD` and then parsed the literal as the next
//! command would let a client smuggle commands in. Precisely, discarding goes on to the end of the current line (a CRLF on the server side; CRLF
//! or a bare LF on the client side when [`FramerConfig::bare_lf_line_end`] is on), and then:
//!
//! - if that line announces a literal the peer sends without waiting — a non-synchronizing one
//!   on the server side, any literal on the client side — exactly that many bytes are skipped
//!   and discarding goes on with the next line (a command may hold several literals);
//! - otherwise the message is over, including when the line announces a synchronizing literal on
//!   the server side: the client waits for a `+` that never comes, sees the tagged error the
//!   application sends for the tag carried by the error, and the next bytes are a new command.
//!
//! An error detected at the end of a line (an invalid tag, a refused literal, …) applies the same
//! rule to that line. A literal that the peer sends without waiting and whose size does not fit
//! in 64 bits cannot be skipped: that is [`FramingError::Desynchronized`], fatal.
//!
//! # Strictness
//!
//! The server side is strict (RFC 9051 §2.2: lines end with CRLF): a bare LF, a CR not followed
//! by LF, or a NUL inside a line is an error, and the framer resynchronizes at the next CRLF — a
//! bare LF never ends a command, so no command boundary can be smuggled in. Literals may hold any
//! byte, CR and LF included; NUL only in binary literals `~{n}` (RFC 3516) unless
//! [`FramerConfig::allow_nul_in_text_literals`] is set (it is on the client side, where stored
//! messages with NUL bytes are served as they are). The client side can accept a bare LF as a
//! line end with the named quirk [`FramerConfig::bare_lf_line_end`]; the message handed out is
//! then normalized to CRLF line ends (the literals are left untouched).
//!
//! # Limits
//!
//! Every limit is checked before memory is reserved, and each error carries the command's tag
//! when it is known. Defaults ([`FramerConfig::server`] / [`FramerConfig::client`]):
//!
//! | limit | server, before / after login | client, before / after login |
//! | --- | --- | --- |
//! | line part, counting its CRLF ([`PhaseLimits::max_line`]) | 8 KiB / 64 KiB | 64 KiB / 1 MiB |
//! | one literal ([`PhaseLimits::max_literal`]) | 4 KiB / 64 MiB | 64 KiB / 64 MiB |
//! | whole message ([`PhaseLimits::max_message`]) | 32 KiB / 65 MiB | 1 MiB / 129 MiB |
//! | literals per message ([`PhaseLimits::max_literals`]) | 8 / 256 | 16 / 1024 |
//! | tag ([`FramerConfig::max_tag`]) | 64 | 64 |
//! | non-synchronizing literal ([`FramerConfig::max_non_sync_literal`]) | 4096 (LITERAL-) | — |
//! | input held while a literal decision is pending ([`FramerConfig::max_buffered`]) | 64 KiB | 64 KiB |
//!
//! [`Framer::set_authenticated`] switches between the two columns. The tag is checked as it
//! arrives: `tag = 1*<any ASTRING-CHAR except "+">` (RFC 9051 §9), at most `max_tag` octets; on
//! the client side `*` (untagged) and `+` (continuation request) are accepted in its place.
//!
//! Errors show the offending bytes through [`redacted_preview`]: escaped, cut short, and never
//! the arguments of `LOGIN` or `AUTHENTICATE` nor a SASL continuation line.
//!
//! # Cost
//!
//! Work is linear in the input however it is chunked: the scan for the line end resumes where
//! it stopped (with `memchr`) and the tag state is kept between calls. Quoting is worked out
//! only for a line part whose last byte before the line end is `}` (no other can announce a
//! literal), once, when that line part is complete: each byte is looked at at most twice.
//!
//! [`Framer::push`] copies each chunk into the framer's buffer. [`Framer::push_bytes`] takes the
//! caller's [`Bytes`] as they are and hands out messages as slices of them; only a message that
//! spans two chunks is copied, and only its own bytes (up to its next line end or the rest of
//! its literal at a time), when it is framed.
//!
//! # A server loop
//!
//! Push what arrived, then call [`Framer::next_frame`] until it returns `None`, after every push.
//!
//! ```
//! use bytes::Bytes;
//! use mailsec_imap::framing::{Frame, Framer, FramingError};
//!
//! let mut framer = Framer::server();
//! let mut sent: Vec<&[u8]> = Vec::new(); // what the server machine would transmit
//! let mut commands = Vec::new();
//! let input: [&[u8]; 3] = [b"A1 LOGIN {5}\r\n", b"alice {6+}\r\nsecret\r\n", b"A2 NOOP\r\n"];
//! for chunk in input {
//!     framer.push(chunk)?;
//!     while let Some(frame) = framer.next_frame() {
//!         match frame {
//!             Ok(Frame::LiteralAnnounced { needs_decision: true, size, .. }) => {
//!                 if size <= 1024 {
//!                     framer.accept_literal().expect("a decision is pending");
//!                     sent.push(b"+ Ready\r\n");
//!                 } else {
//!                     framer.reject_literal().expect("a decision is pending");
//!                     sent.push(b"A1 NO [TOOBIG] literal too large\r\n");
//!                 }
//!             }
//!             Ok(Frame::LiteralAnnounced { .. }) => {} // non-synchronizing: informational
//!             Ok(Frame::Message(command)) => commands.push(command), // parse it here
//!             Ok(_) => {}
//!             Err(error) => {
//!                 // Answer `<tag> BAD` (or `* BAD` without a tag); close if fatal.
//!                 assert!(!error.is_fatal());
//!             }
//!         }
//!     }
//! }
//! assert_eq!(sent, [&b"+ Ready\r\n"[..]]);
//! assert_eq!(commands, [
//!     Bytes::from_static(b"A1 LOGIN {5}\r\nalice {6+}\r\nsecret\r\n"),
//!     Bytes::from_static(b"A2 NOOP\r\n"),
//! ]);
//! # Ok::<(), FramingError>(())
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::ops::Deref;

use bytes::{Buf, Bytes, BytesMut};
use memchr::{memchr, memchr2, memchr3, memrchr};

/// The largest non-synchronizing literal a LITERAL- server accepts (RFC 7888 §4); IMAP4rev2
/// (RFC 9051) includes LITERAL-.
pub const LITERAL_MINUS_MAX: u64 = 4096;

/// Default bound on a tag, in octets.
pub const DEFAULT_MAX_TAG: usize = 64;

/// Default bound on input held, not yet framed, while a literal decision is pending: 64 KiB.
pub const DEFAULT_MAX_BUFFERED: usize = 64 * 1024;

/// How many bytes of a message an error preview shows at most.
pub const PREVIEW_LEN: usize = 64;

/// Which side's input is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Side {
    /// A server framing the commands it receives: strict CRLF, synchronizing literals wait for
    /// the application's decision.
    Server,
    /// A client framing the responses it receives: literals never wait.
    Client,
}

/// The limits in force before or after authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseLimits {
    /// The longest line part (from the start of the message or the end of a literal to its
    /// CRLF), counting the CRLF. Raised to 2 if lower.
    pub max_line: usize,
    /// The largest literal, in octets.
    pub max_literal: u64,
    /// The largest message: every line part and literal with their CRLFs.
    pub max_message: u64,
    /// The most literals in one message.
    pub max_literals: usize,
}

/// What a [`Framer`] accepts. Start from [`FramerConfig::server`] or [`FramerConfig::client`]
/// and change fields.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FramerConfig {
    /// Whose input is framed.
    pub side: Side,
    /// Limits until [`Framer::set_authenticated`]`(true)`.
    pub before_auth: PhaseLimits,
    /// Limits after [`Framer::set_authenticated`]`(true)`.
    pub after_auth: PhaseLimits,
    /// The longest tag, in octets.
    pub max_tag: usize,
    /// Server side: the largest non-synchronizing literal accepted. `Some(4096)` for LITERAL-
    /// (the default, [`LITERAL_MINUS_MAX`]), `Some(u64::MAX)` for LITERAL+ (the literal limits
    /// still apply), `None` when the server advertises neither. Ignored on the client side.
    pub max_non_sync_literal: Option<u64>,
    /// Bound on input held, not yet framed, while a synchronizing literal waits for the
    /// application's decision: [`Framer::push`] refuses more with [`FramingError::BufferFull`].
    pub max_buffered: usize,
    /// Quirk (client side only): accept a bare LF as a line end, as some servers send. The
    /// message handed out is normalized to CRLF. Ignored on the server side.
    pub bare_lf_line_end: bool,
    /// Accept NUL bytes in ordinary literals `{n}` (they are always accepted in binary literals
    /// `~{n}`, never in lines). Off on the server side (RFC 3501 §4.3: CHAR8 excludes NUL), on
    /// on the client side.
    pub allow_nul_in_text_literals: bool,
}

impl FramerConfig {
    /// Defaults for a server framing commands (see the [module documentation](self)).
    pub fn server() -> Self {
        FramerConfig {
            side: Side::Server,
            before_auth: PhaseLimits {
                max_line: 8 * 1024,
                max_literal: 4 * 1024,
                max_message: 32 * 1024,
                max_literals: 8,
            },
            after_auth: PhaseLimits {
                max_line: 64 * 1024,
                max_literal: 64 << 20,
                max_message: 65 << 20,
                max_literals: 256,
            },
            max_tag: DEFAULT_MAX_TAG,
            max_non_sync_literal: Some(LITERAL_MINUS_MAX),
            max_buffered: DEFAULT_MAX_BUFFERED,
            bare_lf_line_end: false,
            allow_nul_in_text_literals: false,
        }
    }

    /// Defaults for a client framing responses (see the [module documentation](self)).
    pub fn client() -> Self {
        FramerConfig {
            side: Side::Client,
            before_auth: PhaseLimits {
                max_line: 64 * 1024,
                max_literal: 64 * 1024,
                max_message: 1 << 20,
                max_literals: 16,
            },
            after_auth: PhaseLimits {
                max_line: 1 << 20,
                max_literal: 64 << 20,
                max_message: 129 << 20,
                max_literals: 1024,
            },
            max_tag: DEFAULT_MAX_TAG,
            max_non_sync_literal: None,
            max_buffered: DEFAULT_MAX_BUFFERED,
            bare_lf_line_end: false,
            allow_nul_in_text_literals: true,
        }
    }
}

/// What [`Framer::next_frame`] hands out. Its `Debug` never shows a message's bytes.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// A literal was announced and passed every limit; none of its bytes has been kept yet.
    LiteralAnnounced {
        /// The message's tag, when it has one (`None` for `*` and `+` responses).
        tag: Option<Bytes>,
        /// The announced size in octets.
        size: u64,
        /// `{n+}`: the peer sends the bytes without waiting.
        non_sync: bool,
        /// `~{n}`: a binary literal (RFC 3516), NUL bytes allowed.
        binary: bool,
        /// The application must call [`Framer::accept_literal`] or [`Framer::reject_literal`]
        /// before anything more is framed: true exactly for synchronizing literals on the server
        /// side.
        needs_decision: bool,
    },
    /// A complete message: its line parts and literals as received, ending with CRLF. After a
    /// [`Frame::StreamStart`], the message with the streamed literal replaced by `""` (an empty
    /// quoted string) so that the rest of it parses as usual.
    Message(Bytes),
    /// Client side, literal streaming on ([`Framer::set_literal_streaming`]): the body section
    /// literal of a FETCH response (`BODY[]`, `BODY[]<n>`, `BINARY[]`, `BINARY[]<n>`) was
    /// announced and passed the streaming limit; its bytes follow as [`Frame::StreamData`], and
    /// the message goes on after it (RFC 9051 §7.5.2: more attributes may follow).
    StreamStart {
        /// The message up to the literal announcement, excluded (`* 3 FETCH (UID 7 BODY[] `).
        head: Bytes,
        /// The announced size in octets.
        size: u64,
        /// `~{n}`: a binary literal (RFC 3516).
        binary: bool,
    },
    /// Client side: the next bytes of a streamed literal, at most the chunk bound given to
    /// [`Framer::set_literal_streaming`], never empty. When the last has been handed out, the
    /// framer goes on with the rest of the message.
    StreamData(Bytes),
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frame::LiteralAnnounced {
                tag,
                size,
                non_sync,
                binary,
                needs_decision,
            } => f
                .debug_struct("LiteralAnnounced")
                .field("tag", tag)
                .field("size", size)
                .field("non_sync", non_sync)
                .field("binary", binary)
                .field("needs_decision", needs_decision)
                .finish(),
            // Never the bytes: a LOGIN or a SASL continuation line carries a credential, and
            // only the application knows which line is a continuation line.
            Frame::Message(bytes) => f
                .debug_struct("Message")
                .field("len", &bytes.len())
                .finish_non_exhaustive(),
            Frame::StreamStart { head, size, binary } => f
                .debug_struct("StreamStart")
                .field("head_len", &head.len())
                .field("size", size)
                .field("binary", binary)
                .finish(),
            Frame::StreamData(bytes) => f
                .debug_struct("StreamData")
                .field("len", &bytes.len())
                .finish_non_exhaustive(),
        }
    }
}

/// What was wrong with the input. Unless said otherwise the message is dropped and the rest of
/// it discarded as described in the [module documentation](self#after-an-error-the-rest-of-the-message-is-discarded);
/// framing then goes on. `tag` is the message's tag when it was known.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// A line part, counting its CRLF, is longer than the limit. Reported as soon as that many
    /// bytes arrived without a line end.
    #[error("line longer than {limit} octets: {preview}")]
    LineTooLong {
        /// The message's tag, if known.
        tag: Option<Bytes>,
        /// The line limit in force.
        limit: usize,
        /// The start of the message, redacted.
        preview: String,
    },
    /// The message (line parts and literals) would be larger than the limit: reported when a
    /// line or an announced literal would pass it, before its bytes are kept.
    #[error("message larger than {limit} octets: {preview}")]
    MessageTooLarge {
        /// The message's tag, if known.
        tag: Option<Bytes>,
        /// The message limit in force.
        limit: u64,
        /// The start of the message, redacted.
        preview: String,
    },
    /// An announced literal is larger than the literal limit (answer `NO [TOOBIG]`, RFC 9051
    /// §7.1). A synchronizing literal on the server side is thereby rejected: do not call
    /// [`Framer::reject_literal`]; the client will not send it.
    #[error("literal of {} octets, limit {limit}", display_size(*size))]
    LiteralTooLarge {
        /// The message's tag, if known.
        tag: Option<Bytes>,
        /// The announced size; `None` when it does not fit in 64 bits.
        size: Option<u64>,
        /// The literal limit in force.
        limit: u64,
    },
    /// A non-synchronizing literal larger than [`FramerConfig::max_non_sync_literal`], or any
    /// when that is `None` (RFC 7888 §4: reject the command with a tagged `BAD`, e.g. with
    /// `[TOOBIG]`). Its bytes are skipped.
    #[error("non-synchronizing literal of {size} octets refused")]
    NonSyncLiteralRefused {
        /// The message's tag, if known.
        tag: Option<Bytes>,
        /// The announced size.
        size: u64,
        /// The non-synchronizing literal limit, `None` when none is accepted.
        limit: Option<u64>,
    },
    /// More literals in the message than the limit.
    #[error("more than {limit} literals in one message")]
    TooManyLiterals {
        /// The message's tag, if known.
        tag: Option<Bytes>,
        /// The limit in force.
        limit: usize,
    },
    /// A line ends with something like a literal announcement that is not one: `{}`, `{-1}`,
    /// `{1 2}`, `{x}`. The framer assumes no literal follows.
    #[error("malformed literal announcement: {preview}")]
    LiteralSyntax {
        /// The message's tag, if known.
        tag: Option<Bytes>,
        /// The start of the message, redacted.
        preview: String,
    },
    /// The first token is longer than [`FramerConfig::max_tag`].
    #[error("tag longer than {limit} octets: {preview}")]
    TagTooLong {
        /// The tag limit.
        limit: usize,
        /// The start of the message, redacted.
        preview: String,
    },
    /// The first token is not a tag: empty, or holding a byte outside ASTRING-CHAR, or `+`
    /// (RFC 9051 §9).
    #[error("invalid tag: {preview}")]
    InvalidTag {
        /// The start of the message, redacted.
        preview: String,
    },
    /// A LF not preceded by CR (strict side). Discarding goes on to the next CRLF.
    #[error("bare LF in a line: {preview}")]
    BareLf {
        /// The message's tag, if known.
        tag: Option<Bytes>,
        /// The start of the message, redacted.
        preview: String,
    },
    /// A CR not followed by LF in a line. Discarding goes on to the next line end.
    #[error("bare CR in a line: {preview}")]
    BareCr {
        /// The message's tag, if known.
        tag: Option<Bytes>,
        /// The start of the message, redacted.
        preview: String,
    },
    /// A NUL byte in a line (NUL is allowed in binary literals only).
    #[error("NUL byte in a line: {preview}")]
    NulInLine {
        /// The message's tag, if known.
        tag: Option<Bytes>,
        /// The start of the message, redacted.
        preview: String,
    },
    /// A NUL byte in an ordinary literal while
    /// [`FramerConfig::allow_nul_in_text_literals`] is off. The rest of the literal is skipped.
    #[error("NUL byte in a non-binary literal")]
    NulInLiteral {
        /// The message's tag, if known.
        tag: Option<Bytes>,
    },
    /// A literal the peer sends without waiting announced more than `u64::MAX` octets: it
    /// cannot be skipped, framing has stopped. Fatal: close the connection.
    #[error("unskippable literal announced: stream lost")]
    Desynchronized {
        /// The message's tag, if known.
        tag: Option<Bytes>,
    },
    /// Returned by [`Framer::push`] only: more input arrived while a literal decision is
    /// pending than [`FramerConfig::max_buffered`] allows. Nothing of the chunk was taken; the
    /// peer did not wait for the continuation request — close the connection.
    #[error("more than {limit} octets received while a literal decision is pending")]
    BufferFull {
        /// The limit in force.
        limit: usize,
    },
}

fn display_size(size: Option<u64>) -> String {
    match size {
        Some(size) => size.to_string(),
        None => "more than 2^64-1".to_owned(),
    }
}

impl FramingError {
    /// The tag of the message the error is about, when it is known.
    pub fn tag(&self) -> Option<&Bytes> {
        match self {
            FramingError::LineTooLong { tag, .. }
            | FramingError::MessageTooLarge { tag, .. }
            | FramingError::LiteralTooLarge { tag, .. }
            | FramingError::NonSyncLiteralRefused { tag, .. }
            | FramingError::TooManyLiterals { tag, .. }
            | FramingError::LiteralSyntax { tag, .. }
            | FramingError::BareLf { tag, .. }
            | FramingError::BareCr { tag, .. }
            | FramingError::NulInLine { tag, .. }
            | FramingError::NulInLiteral { tag }
            | FramingError::Desynchronized { tag } => tag.as_ref(),
            FramingError::TagTooLong { .. }
            | FramingError::InvalidTag { .. }
            | FramingError::BufferFull { .. } => None,
        }
    }

    /// Whether framing cannot go on: the connection must be closed.
    /// ([`FramingError::BufferFull`] is not fatal for the framer, but means the peer ignores
    /// the protocol.)
    pub fn is_fatal(&self) -> bool {
        matches!(self, FramingError::Desynchronized { .. })
    }
}

/// Returned by [`Framer::accept_literal`] and [`Framer::reject_literal`] when no synchronizing
/// literal waits for a decision (an API misuse, not a peer fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no literal is waiting for a decision")]
pub struct NoPendingLiteral;

/// A printable, shortened view of a message for logs and error texts, with secrets removed:
/// the arguments of `LOGIN` and those after the mechanism of `AUTHENTICATE` (SASL-IR) become
/// `<redacted>`. Other bytes are shown up to [`PREVIEW_LEN`] octets, with CR, LF, `\` and
/// non-printable bytes escaped.
///
/// ```
/// use mailsec_imap::framing::redacted_preview;
///
/// assert_eq!(redacted_preview(b"a1 login alice hunter2\r\n"), "a1 login <redacted>");
/// assert_eq!(
///     redacted_preview(b"a2 AUTHENTICATE PLAIN AGFsaWNlAGh1bnRlcjI=\r\n"),
///     "a2 AUTHENTICATE PLAIN <redacted>"
/// );
/// assert_eq!(redacted_preview(b"a3 SELECT \"Inbox\x01\"\r\n"), r#"a3 SELECT "Inbox\x01"\r\n"#);
/// ```
pub fn redacted_preview(message: &[u8]) -> String {
    let token_end = |from: usize| {
        message[from..]
            .iter()
            .position(|&b| matches!(b, b' ' | b'\r' | b'\n' | b'{' | b'('))
            .map_or(message.len(), |i| from + i)
    };
    let tag_end = token_end(0);
    if message.get(tag_end) == Some(&b' ') {
        let cmd_start = tag_end + 1;
        let cmd_end = token_end(cmd_start);
        let cmd = &message[cmd_start..cmd_end];
        let keep = if cmd.eq_ignore_ascii_case(b"LOGIN") {
            Some(cmd_end)
        } else if cmd.eq_ignore_ascii_case(b"AUTHENTICATE") {
            if message.get(cmd_end) == Some(&b' ') {
                Some(token_end(cmd_end + 1))
            } else {
                Some(cmd_end)
            }
        } else {
            None
        };
        if let Some(keep) = keep {
            let mut out = escape(&message[..keep.min(PREVIEW_LEN)]);
            let rest = &message[keep..];
            if rest.iter().any(|&b| !matches!(b, b'\r' | b'\n')) {
                out.push_str(" <redacted>");
            }
            return out;
        }
    }
    let mut out = escape(&message[..message.len().min(PREVIEW_LEN)]);
    if message.len() > PREVIEW_LEN {
        out.push('…');
    }
    out
}

fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// Quoting state of the line part being scanned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Quote {
    quoted: bool,
    escaped: bool,
}

impl Quote {
    fn track(&mut self, mut s: &[u8]) {
        loop {
            if self.escaped {
                let Some((_, rest)) = s.split_first() else {
                    return;
                };
                self.escaped = false;
                s = rest;
            } else if self.quoted {
                let Some(k) = memchr2(b'"', b'\\', s) else {
                    return;
                };
                if s[k] == b'"' {
                    self.quoted = false;
                } else {
                    self.escaped = true;
                }
                s = &s[k + 1..];
            } else {
                let Some(k) = memchr(b'"', s) else {
                    return;
                };
                self.quoted = true;
                s = &s[k + 1..];
            }
        }
    }
}

/// What is known of the message's first token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TagState {
    /// Not complete yet; `buf[..scanned]` holds no SP.
    Pending { scanned: usize },
    /// A valid tag `buf[..len]`.
    Tagged { len: usize },
    /// `*` (client side).
    Untagged,
    /// `+` (client side) or a continuation line expected by the server: no literals.
    Continuation,
}

/// A parsed announcement at the end of a line part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Announcement {
    /// `None`: more than `u64::MAX`.
    size: Option<u64>,
    non_sync: bool,
    binary: bool,
}

/// `Some(Ok)` for an announcement, `Some(Err)` for a malformed one, `None` for none. `line` is
/// the line part (or its last bytes) without its line end; the caller checked it ends unquoted.
fn parse_announcement(line: &[u8]) -> Option<Result<Announcement, ()>> {
    let (&b'}', body) = line.split_last()? else {
        return None;
    };
    let open = memrchr(b'{', body)?;
    let inner = &body[open + 1..];
    if memchr(b'"', inner).is_some() {
        // That `{` was inside a quoted string closed before the end.
        return None;
    }
    let (digits, non_sync) = match inner.split_last() {
        Some((&b'+', digits)) => (digits, true),
        _ => (inner, false),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Some(Err(()));
    }
    let size = digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    let binary = open > 0 && body[open - 1] == b'~';
    Some(Ok(Announcement {
        size,
        non_sync,
        binary,
    }))
}

/// `tag = 1*<any ASTRING-CHAR except "+">` (RFC 9051 §9).
fn is_tag_char(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
}

/// The last bytes of a line part being discarded, enough to recognize its announcement.
#[derive(Clone)]
struct Tail {
    bytes: [u8; Tail::LEN],
    len: usize,
}

impl Tail {
    const LEN: usize = 64;

    fn new() -> Self {
        Tail {
            bytes: [0; Tail::LEN],
            len: 0,
        }
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    fn push(&mut self, s: &[u8]) {
        if s.len() >= Tail::LEN {
            self.bytes.copy_from_slice(&s[s.len() - Tail::LEN..]);
            self.len = Tail::LEN;
            return;
        }
        let excess = (self.len + s.len()).saturating_sub(Tail::LEN);
        if excess > 0 {
            self.bytes.copy_within(excess..self.len, 0);
            self.len -= excess;
        }
        self.bytes[self.len..self.len + s.len()].copy_from_slice(s);
        self.len += s.len();
    }

    fn last(&self) -> Option<u8> {
        self.len.checked_sub(1).map(|i| self.bytes[i])
    }

    fn get(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The framer's working buffer: bytes it copied in ([`Framer::push`], or a message joined
/// across two chunks), or a chunk given with [`Framer::push_bytes`], held as it is.
enum Held {
    Owned(BytesMut),
    Shared(Bytes),
}

impl Deref for Held {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Held::Owned(b) => b,
            Held::Shared(b) => b,
        }
    }
}

impl Default for Held {
    fn default() -> Self {
        Held::Owned(BytesMut::new())
    }
}

impl Held {
    fn advance(&mut self, n: usize) {
        match self {
            Held::Owned(b) => b.advance(n),
            Held::Shared(b) => b.advance(n),
        }
    }

    fn split_to(&mut self, n: usize) -> Bytes {
        match self {
            Held::Owned(b) => b.split_to(n).freeze(),
            Held::Shared(b) => b.split_to(n),
        }
    }

    fn clear(&mut self) {
        match self {
            Held::Owned(b) => b.clear(),
            Held::Shared(b) => b.clear(),
        }
    }

    fn capacity(&self) -> usize {
        match self {
            Held::Owned(b) => b.capacity(),
            Held::Shared(_) => 0,
        }
    }

    /// Appends, joining a shared chunk's bytes into an owned buffer first (a copy of the
    /// bytes held, which are the current message's and at most one chunk's).
    fn extend_from_slice(&mut self, data: &[u8]) {
        match self {
            Held::Owned(b) => b.extend_from_slice(data),
            Held::Shared(b) => {
                let mut joined = BytesMut::with_capacity(b.len() + data.len());
                joined.extend_from_slice(b);
                joined.extend_from_slice(data);
                *self = Held::Owned(joined);
            }
        }
    }

    /// Everything held, as [`Bytes`] (without copying).
    fn take_all(&mut self) -> Bytes {
        match std::mem::take(self) {
            Held::Owned(b) => b.freeze(),
            Held::Shared(b) => b,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Keeping: scanning the current line part of the message.
    Line,
    /// Server side: a synchronizing literal awaits accept/reject.
    Decision { size: u64, binary: bool },
    /// Keeping the bytes of an accepted literal.
    Literal { remaining: u64, binary: bool },
    /// Dropping the rest of a line of a refused message.
    Discard,
    /// Dropping the bytes of a refused literal, then `Discard`.
    Skip { remaining: u64 },
    /// After [`FramingError::Desynchronized`].
    Failed,
    /// Client side: handing out a streamed literal; `buf` holds only input not examined yet,
    /// the message's kept bytes wait in `stream_head`.
    Stream { remaining: u64, binary: bool },
}

/// Client-side literal streaming (see [`Framer::set_literal_streaming`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Streaming {
    max_size: u64,
    chunk: usize,
}

/// The result of examining the line part being kept.
enum LineEnd {
    /// Need more input.
    More,
    /// The line part ends with its LF at this index; content ends at the second index.
    At { lf: usize, content_end: usize },
}

/// The IMAP framer. See the [module documentation](self).
pub struct Framer {
    config: FramerConfig,
    authenticated: bool,
    /// The current message's kept bytes `buf[..pos]`, then input not examined yet.
    buf: Held,
    /// Chunks given to [`Framer::push_bytes`] (or pushed behind them), not looked at yet:
    /// they come after `buf`. Never holds an empty chunk.
    pending: VecDeque<Bytes>,
    /// The total length of `pending`.
    pending_len: usize,
    pos: usize,
    /// Where the current line part starts.
    seg_start: usize,
    quote: Quote,
    tag: TagState,
    literals: usize,
    /// Indices of bare LFs accepted as line ends (client quirk), to normalize.
    bare_lfs: Vec<usize>,
    /// The next message is a continuation line (server: SASL response).
    expect_continuation: bool,
    /// The current message is a continuation line (no literals, no tag, fully redacted).
    continuation: bool,
    tail: Tail,
    /// The tag of the message being discarded (for a late [`FramingError::Desynchronized`]).
    discard_tag: Option<Bytes>,
    /// The message being discarded is a continuation line.
    discard_continuation: bool,
    state: State,
    /// Client-side literal streaming, when on.
    streaming: Option<Streaming>,
    /// The kept bytes of the message whose literal is being streamed.
    stream_head: BytesMut,
}

impl fmt::Debug for Framer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the contents: they may hold credentials.
        f.debug_struct("Framer")
            .field("side", &self.config.side)
            .field("authenticated", &self.authenticated)
            .field("buffered", &self.buffered())
            .field("state", &self.state)
            .finish()
    }
}

impl Framer {
    /// A framer with this configuration.
    pub fn new(config: FramerConfig) -> Self {
        Framer {
            config,
            authenticated: false,
            buf: Held::default(),
            pending: VecDeque::new(),
            pending_len: 0,
            pos: 0,
            seg_start: 0,
            quote: Quote::default(),
            tag: TagState::Pending { scanned: 0 },
            literals: 0,
            bare_lfs: Vec::new(),
            expect_continuation: false,
            continuation: false,
            tail: Tail::new(),
            discard_tag: None,
            discard_continuation: false,
            state: State::Line,
            streaming: None,
            stream_head: BytesMut::new(),
        }
    }

    /// A server-side framer with [`FramerConfig::server`].
    pub fn server() -> Self {
        Framer::new(FramerConfig::server())
    }

    /// A client-side framer with [`FramerConfig::client`].
    pub fn client() -> Self {
        Framer::new(FramerConfig::client())
    }

    /// The configuration.
    pub fn config(&self) -> &FramerConfig {
        &self.config
    }

    /// Switches between the limits before and after authentication, effective from the next
    /// check (a line part being scanned is checked against the new limit).
    pub fn set_authenticated(&mut self, authenticated: bool) {
        self.authenticated = authenticated;
    }

    /// Whether the after-authentication limits are in force.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// Client side: stream the body section literal of FETCH responses instead of keeping it
    /// (`Some((max_size, chunk))`), or keep every literal (`None`, the default). Takes effect
    /// at the next literal announcement.
    ///
    /// While on, a literal announced right after `BODY[]`, `BODY[]<origin>`, `BINARY[]` or
    /// `BINARY[]<origin>` in an untagged `* n FETCH` response is reported as
    /// [`Frame::StreamStart`] (checked against `max_size` instead of
    /// [`PhaseLimits::max_literal`], and not counted in [`PhaseLimits::max_message`]), its
    /// bytes as [`Frame::StreamData`] of at most `chunk` octets (at least 1) handed out as they
    /// arrive and never kept, then the rest of the message as one [`Frame::Message`] in which
    /// the literal is replaced by `""`. The line parts are bounded as always. Ignored on the
    /// server side.
    pub fn set_literal_streaming(&mut self, streaming: Option<(u64, usize)>) {
        self.streaming = streaming.map(|(max_size, chunk)| Streaming {
            max_size,
            chunk: chunk.max(1),
        });
    }

    /// Whether a streamed literal is being handed out.
    pub fn is_streaming(&self) -> bool {
        matches!(self.state, State::Stream { .. })
    }

    /// The limits in force.
    pub fn limits(&self) -> PhaseLimits {
        if self.authenticated {
            self.config.after_auth
        } else {
            self.config.before_auth
        }
    }

    /// Server side: the next message is a continuation line — the client's answer to a `+`
    /// continuation request during `AUTHENTICATE` (RFC 9051 §6.2.2). It is framed as one line
    /// with no tag check and no literal, and never shown in previews. Call it when handling the
    /// message that started the exchange, before the next [`next`](Self::next_frame).
    pub fn expect_continuation_line(&mut self) {
        self.expect_continuation = true;
    }

    /// Adds received bytes. Call [`next`](Self::next_frame) until it returns `None` after every push.
    ///
    /// While a synchronizing literal waits for a decision, the input held may not grow past
    /// [`FramerConfig::max_buffered`]: a push that would is refused with
    /// [`FramingError::BufferFull`] and nothing of it is taken. Otherwise every chunk is taken
    /// (the framer examines it lazily, so a drained framer holds the current message's kept
    /// bytes and at most one unexamined CR). After a fatal error input is dropped.
    pub fn push(&mut self, data: &[u8]) -> Result<(), FramingError> {
        if !self.may_take(data.len())? || data.is_empty() {
            return Ok(());
        }
        if !self.pending.is_empty() {
            // Behind chunks not looked at yet: keep the order.
            self.pending_len += data.len();
            self.pending.push_back(Bytes::copy_from_slice(data));
            return Ok(());
        }
        match &mut self.buf {
            Held::Owned(b) => b.extend_from_slice(data),
            // A shared chunk still held: copy this one alone, join only what a message needs.
            Held::Shared(b) if !b.is_empty() => {
                self.pending_len += data.len();
                self.pending.push_back(Bytes::copy_from_slice(data));
            }
            Held::Shared(_) => self.buf = Held::Owned(BytesMut::from(data)),
        }
        Ok(())
    }

    /// Adds received bytes without copying them: the messages and stream chunks handed out are
    /// slices of `data` (so a message kept by the application keeps `data`'s allocation alive).
    /// Only a message that spans two chunks is copied, when it is framed, into a buffer of the
    /// framer's (its own bytes, not the rest of the chunks). Otherwise exactly like
    /// [`push`](Self::push), which may be mixed with it: the same framing rules and limits, the
    /// same [`FramingError::BufferFull`] while a decision is pending, and
    /// [`next`](Self::next_frame) is to be called until it returns `None` after every push.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use mailsec_imap::framing::{Frame, Framer};
    ///
    /// let mut framer = Framer::client();
    /// let chunk = Bytes::from_static(b"* 1 EXISTS\r\n* 2 EXP");
    /// framer.push_bytes(chunk.clone())?;
    /// let Some(Ok(Frame::Message(m))) = framer.next_frame() else { panic!() };
    /// assert_eq!(m, &b"* 1 EXISTS\r\n"[..]);
    /// assert_eq!(m.as_ptr(), chunk.as_ptr()); // not copied
    /// assert!(framer.next_frame().is_none());
    /// framer.push_bytes(Bytes::from_static(b"UNGE\r\n"))?;
    /// let Some(Ok(Frame::Message(m))) = framer.next_frame() else { panic!() };
    /// assert_eq!(m, &b"* 2 EXPUNGE\r\n"[..]); // joined
    /// # Ok::<(), mailsec_imap::framing::FramingError>(())
    /// ```
    pub fn push_bytes(&mut self, data: Bytes) -> Result<(), FramingError> {
        if !self.may_take(data.len())? || data.is_empty() {
            return Ok(());
        }
        if self.pending.is_empty() && self.buf.is_empty() {
            self.buf = Held::Shared(data);
        } else {
            self.pending_len += data.len();
            self.pending.push_back(data);
        }
        Ok(())
    }

    /// Whether input of `len` octets may be taken now: `Ok(false)` after a fatal error (input
    /// is dropped), [`FramingError::BufferFull`] over the bound while a decision is pending.
    fn may_take(&self, len: usize) -> Result<bool, FramingError> {
        match self.state {
            State::Failed => Ok(false),
            State::Decision { .. } => {
                if len > self.config.max_buffered.saturating_sub(self.unexamined()) {
                    return Err(FramingError::BufferFull {
                        limit: self.config.max_buffered,
                    });
                }
                Ok(true)
            }
            _ => Ok(true),
        }
    }

    /// Moves input from `pending` into `buf` when a step needs more: a whole chunk, without
    /// copying, when `buf` is empty; otherwise (a message spanning chunks) copies of the bytes
    /// the message needs next — up to the next LF, or the rest of a literal. Returns whether
    /// anything was moved.
    fn fill(&mut self) -> bool {
        let Some(front) = self.pending.front_mut() else {
            return false;
        };
        let n = if self.buf.is_empty() {
            front.len()
        } else {
            match self.state {
                State::Literal { remaining, .. } => usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(front.len()),
                _ => memchr(b'\n', front).map_or(front.len(), |k| k + 1),
            }
        };
        self.pending_len -= n;
        if n == front.len() {
            let chunk = self.pending.pop_front().unwrap_or_default();
            if self.buf.is_empty() {
                self.buf = Held::Shared(chunk);
            } else {
                self.buf.extend_from_slice(&chunk);
            }
        } else {
            let piece = front.split_to(n);
            self.buf.extend_from_slice(&piece);
        }
        true
    }

    /// Bytes held: the current message's kept bytes and input not examined yet.
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.stream_head.len() + self.pending_len
    }

    /// Input held but not examined yet (after draining: at most one CR, except while a decision
    /// is pending).
    pub fn unexamined(&self) -> usize {
        self.buf.len() - self.pos + self.pending_len
    }

    /// The allocated size of the framer's own buffer, for tests and metrics (chunks given to
    /// [`push_bytes`](Self::push_bytes) and held as they are do not count).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether a synchronizing literal waits for [`accept_literal`](Self::accept_literal) or
    /// [`reject_literal`](Self::reject_literal).
    pub fn is_awaiting_decision(&self) -> bool {
        matches!(self.state, State::Decision { .. })
    }

    /// Whether the rest of a dropped message is being discarded or skipped.
    pub fn is_discarding(&self) -> bool {
        matches!(self.state, State::Discard | State::Skip { .. })
    }

    /// Whether framing stopped after [`FramingError::Desynchronized`].
    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Whether nothing is held and no message is in progress: the point where a STARTTLS
    /// command or go-ahead may be acted upon (any held byte would be injection).
    pub fn is_idle(&self) -> bool {
        self.buf.is_empty() && self.pending.is_empty() && self.state == State::Line
    }

    /// Server side: accept the synchronizing literal just announced. Send the continuation
    /// request (`+ Ready`) now; the literal's bytes are framed as they arrive.
    pub fn accept_literal(&mut self) -> Result<(), NoPendingLiteral> {
        let State::Decision { size, binary } = self.state else {
            return Err(NoPendingLiteral);
        };
        self.literals += 1;
        self.state = State::Literal {
            remaining: size,
            binary,
        };
        Ok(())
    }

    /// Server side: reject the synchronizing literal just announced. Send a tagged `NO` (e.g.
    /// `[TOOBIG]`) or `BAD` now: the client will not send the literal, and the message is
    /// dropped; the next bytes are a new command (RFC 9051 §4.3).
    pub fn reject_literal(&mut self) -> Result<(), NoPendingLiteral> {
        let State::Decision { .. } = self.state else {
            return Err(NoPendingLiteral);
        };
        self.buf.advance(self.pos);
        self.new_message();
        self.state = State::Line;
        Ok(())
    }

    /// The next complete message, literal announcement or error; `None` when more input is
    /// needed or a decision is pending.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FramingError>> {
        loop {
            let step = match self.state {
                State::Failed | State::Decision { .. } => return None,
                State::Line => self.step_line(),
                State::Literal { remaining, binary } => self.step_literal(remaining, binary),
                State::Skip { remaining } => self.step_skip(remaining),
                State::Discard => self.step_discard(),
                State::Stream { remaining, binary } => self.step_stream(remaining, binary),
            };
            match step {
                Some(Some(out)) => return Some(out),
                Some(None) => {}
                // More input is needed: take it from the chunks not looked at yet, if any.
                None => {
                    if !self.fill() {
                        return None;
                    }
                }
            }
        }
    }

    /// After [`FramingError::Desynchronized`]: drops every byte held, stops framing.
    fn fail(&mut self) {
        self.buf.clear();
        self.pending.clear();
        self.pending_len = 0;
        self.state = State::Failed;
    }

    fn step_skip(&mut self, remaining: u64) -> Option<Option<Result<Frame, FramingError>>> {
        let n = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(self.buf.len());
        self.buf.advance(n);
        let remaining = remaining - n as u64;
        if remaining > 0 {
            self.state = State::Skip { remaining };
            return None;
        }
        self.quote = Quote::default();
        self.tail.clear();
        self.state = State::Discard;
        Some(None)
    }

    // ----- keeping ---------------------------------------------------------------------------

    fn new_message(&mut self) {
        self.pos = 0;
        self.seg_start = 0;
        self.quote = Quote::default();
        self.tag = TagState::Pending { scanned: 0 };
        self.literals = 0;
        self.bare_lfs.clear();
        self.continuation = false;
    }

    fn current_tag(&self) -> Option<Bytes> {
        match self.tag {
            TagState::Tagged { len } => Some(Bytes::copy_from_slice(&self.buf[..len])),
            _ => None,
        }
    }

    fn preview(&self, end: usize) -> String {
        if self.continuation {
            "<continuation line redacted>".to_owned()
        } else {
            redacted_preview(&self.buf[..end.min(self.buf.len())])
        }
    }

    fn is_server(&self) -> bool {
        self.config.side == Side::Server
    }

    fn tolerant_lf(&self) -> bool {
        self.config.side == Side::Client && self.config.bare_lf_line_end
    }

    /// Validates the first token `buf[..len]` (the message's first line part).
    fn resolve_tag(&mut self, len: usize) -> Result<(), FramingError> {
        let token = &self.buf[..len];
        if self.config.side == Side::Client && token == b"*" {
            self.tag = TagState::Untagged;
            return Ok(());
        }
        if self.config.side == Side::Client && token == b"+" {
            self.tag = TagState::Continuation;
            return Ok(());
        }
        if len > self.config.max_tag {
            return Err(FramingError::TagTooLong {
                limit: self.config.max_tag,
                preview: self.preview(len),
            });
        }
        if token.is_empty() || !token.iter().all(|&b| is_tag_char(b)) {
            return Err(FramingError::InvalidTag {
                preview: self.preview(len + 1),
            });
        }
        self.tag = TagState::Tagged { len };
        Ok(())
    }

    /// Tag tracking up to `buf[..to]` of the line part being kept. Quoting is not tracked
    /// here: only a line part ending in `}` can announce a literal, so its quoting is worked
    /// out once that line part is complete (see [`Self::announcement`]), and the quotes of
    /// every other line (ENVELOPE and BODYSTRUCTURE lines are full of them) are never looked at.
    fn track(&mut self, to: usize) -> Result<(), FramingError> {
        if let TagState::Pending { scanned } = self.tag {
            // The tag is the first token of the first line part.
            let stop = to.min(self.config.max_tag.saturating_add(1));
            if scanned < stop {
                // At most `max_tag` + 1 octets and usually 1 (`*`): a plain loop beats the
                // set-up of a vectorized search.
                if let Some(k) = self.buf[scanned..stop].iter().position(|&b| b == b' ') {
                    return self.resolve_tag(scanned + k);
                }
            }
            if to > self.config.max_tag {
                return Err(FramingError::TagTooLong {
                    limit: self.config.max_tag,
                    preview: self.preview(self.config.max_tag.saturating_add(1)),
                });
            }
            self.tag = TagState::Pending {
                scanned: scanned.max(to),
            };
        }
        Ok(())
    }

    /// Finds the end of the line part being kept, checking limits, CR, LF and NUL.
    fn find_line_end(&mut self) -> Result<LineEnd, FramingError> {
        let limits = self.limits();
        let max_line = limits.max_line.max(2);
        let line_cap = self.seg_start.saturating_add(max_line);
        let msg_cap = usize::try_from(limits.max_message).unwrap_or(usize::MAX);
        let cap = line_cap.min(msg_cap);
        let avail = self.buf.len();
        let end = avail.min(cap);
        let from = self.pos.min(end);
        let Some(k) = memchr3(b'\n', b'\r', 0, &self.buf[from..end]) else {
            // Position first: an error from `track` leaves the scan state consistent.
            self.pos = self.pos.max(end);
            self.track(end)?;
            if avail >= cap {
                return Err(self.limit_error(line_cap <= msg_cap, max_line, limits));
            }
            return Ok(LineEnd::More);
        };
        let i = from + k;
        self.pos = i;
        self.track(i)?;
        match self.buf[i] {
            b'\r' if i + 1 >= avail => Ok(LineEnd::More),
            b'\r' if self.buf[i + 1] != b'\n' => {
                self.pos = i + 1;
                Err(FramingError::BareCr {
                    tag: self.current_tag(),
                    preview: self.preview(i + 1),
                })
            }
            b'\r' if i + 1 >= cap => Err(self.limit_error(line_cap <= msg_cap, max_line, limits)),
            b'\r' => Ok(LineEnd::At {
                lf: i + 1,
                content_end: i,
            }),
            b'\n' if self.tolerant_lf() => Ok(LineEnd::At {
                lf: i,
                content_end: i,
            }),
            b'\n' => {
                self.pos = i + 1;
                Err(FramingError::BareLf {
                    tag: self.current_tag(),
                    preview: self.preview(i + 1),
                })
            }
            _ => {
                self.pos = i + 1;
                Err(FramingError::NulInLine {
                    tag: self.current_tag(),
                    preview: self.preview(i + 1),
                })
            }
        }
    }

    fn limit_error(&self, line: bool, max_line: usize, limits: PhaseLimits) -> FramingError {
        if line {
            FramingError::LineTooLong {
                tag: self.current_tag(),
                limit: max_line,
                preview: self.preview(self.pos),
            }
        } else {
            FramingError::MessageTooLarge {
                tag: self.current_tag(),
                limit: limits.max_message,
                preview: self.preview(self.pos),
            }
        }
    }

    /// One step on the line part being kept: `Some(Some(frame or error))` to hand out,
    /// `Some(None)` to go on with the new state, `None` when more input is needed.
    fn step_line(&mut self) -> Option<Option<Result<Frame, FramingError>>> {
        if self.pos == 0 && self.seg_start == 0 && self.literals == 0 && self.expect_continuation {
            self.expect_continuation = false;
            self.continuation = true;
            self.tag = TagState::Continuation;
        }
        let (lf, content_end) = match self.find_line_end() {
            Ok(LineEnd::More) => return None,
            Ok(LineEnd::At { lf, content_end }) => (lf, content_end),
            Err(error) => {
                // Mid-line: discard the rest of this line part, then follow the rules.
                self.discard_from_pos();
                return Some(Some(Err(error)));
            }
        };
        if lf == content_end {
            self.bare_lfs.push(lf);
        }
        self.pos = lf + 1;
        // The tag of a one-token first line (`DONE`, `A1`, `+`).
        let tag_result = match self.tag {
            TagState::Pending { .. } => self.resolve_tag(content_end),
            _ => Ok(()),
        };
        let announcement = self.announcement(content_end);
        if let Err(error) = tag_result {
            return Some(Some(Err(self.refuse_at_line_end(announcement, error))));
        }
        let Some(announcement) = announcement else {
            return Some(Some(Ok(self.emit())));
        };
        let Ok(ann) = announcement else {
            let error = FramingError::LiteralSyntax {
                tag: self.current_tag(),
                preview: self.preview(content_end),
            };
            return Some(Some(Err(self.refuse_at_line_end(None, error))));
        };
        if let Some(streaming) = self.streamable(content_end) {
            if let Err(error) = self.check_streamed(ann, streaming) {
                return Some(Some(Err(self.refuse_at_line_end(Some(Ok(ann)), error))));
            }
            return Some(Some(Ok(self.start_stream(ann, content_end))));
        }
        if let Err(error) = self.check_announcement(ann) {
            return Some(Some(Err(self.refuse_at_line_end(Some(Ok(ann)), error))));
        }
        let tag = self.current_tag();
        let size = ann.size.unwrap_or(u64::MAX);
        let needs_decision = self.is_server() && !ann.non_sync;
        if needs_decision {
            self.state = State::Decision {
                size,
                binary: ann.binary,
            };
        } else {
            self.literals += 1;
            self.state = State::Literal {
                remaining: size,
                binary: ann.binary,
            };
        }
        Some(Some(Ok(Frame::LiteralAnnounced {
            tag,
            size,
            non_sync: ann.non_sync,
            binary: ann.binary,
            needs_decision,
        })))
    }

    /// The announcement ending the line part `buf[seg_start..content_end]`, if any.
    fn announcement(&self, content_end: usize) -> Option<Result<Announcement, ()>> {
        // Scan back from the end first: no `}` before the line end, no announcement.
        if self.continuation || content_end <= self.seg_start || self.buf[content_end - 1] != b'}' {
            return None;
        }
        match self.tag {
            TagState::Continuation => return None,
            TagState::Untagged | TagState::Tagged { .. }
                if self.config.side == Side::Client && self.is_status_response() =>
            {
                return None;
            }
            _ => {}
        }
        // Quoting of the whole line part, once: a `}` inside an open quoted string announces
        // nothing (`A1 LOGIN x "{5}`).
        let line = &self.buf[self.seg_start..content_end];
        let mut quote = Quote::default();
        quote.track(line);
        if quote.quoted {
            return None;
        }
        parse_announcement(line)
    }

    /// Client side: whether the message is a status response (`resp-text` has no literal).
    fn is_status_response(&self) -> bool {
        let first = match self.tag {
            TagState::Untagged => 1,
            TagState::Tagged { len } => len,
            _ => return false,
        };
        let rest = &self.buf[first..self.pos];
        let Some(rest) = rest.strip_prefix(b" ") else {
            return false;
        };
        let end = rest
            .iter()
            .position(|&b| matches!(b, b' ' | b'\r' | b'\n'))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        [&b"OK"[..], b"NO", b"BAD", b"BYE", b"PREAUTH"]
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w))
    }

    /// Checks an announcement against every limit, in order.
    fn check_announcement(&self, ann: Announcement) -> Result<(), FramingError> {
        let limits = self.limits();
        let tag = self.current_tag();
        let Some(size) = ann.size else {
            return Err(FramingError::LiteralTooLarge {
                tag,
                size: None,
                limit: limits.max_literal,
            });
        };
        if self.is_server() && ann.non_sync {
            match self.config.max_non_sync_literal {
                Some(max) if size <= max => {}
                limit => {
                    return Err(FramingError::NonSyncLiteralRefused { tag, size, limit });
                }
            }
        }
        if size > limits.max_literal {
            return Err(FramingError::LiteralTooLarge {
                tag,
                size: Some(size),
                limit: limits.max_literal,
            });
        }
        if self.literals >= limits.max_literals {
            return Err(FramingError::TooManyLiterals {
                tag,
                limit: limits.max_literals,
            });
        }
        // The message so far, the literal, and at least a CRLF after it.
        let total = (self.pos as u64).saturating_add(size).saturating_add(2);
        if total > limits.max_message {
            return Err(FramingError::MessageTooLarge {
                tag,
                limit: limits.max_message,
                preview: self.preview(self.pos),
            });
        }
        Ok(())
    }

    /// Drops the message whose line part ended at `pos` (already past the LF) and sets up what
    /// follows: a skip when the peer sends the announced literal anyway. Returns the error, or
    /// [`FramingError::Desynchronized`] when the literal cannot be skipped.
    fn refuse_at_line_end(
        &mut self,
        announcement: Option<Result<Announcement, ()>>,
        error: FramingError,
    ) -> FramingError {
        let tag = error.tag().cloned().or_else(|| self.current_tag());
        let continuation = self.continuation;
        self.buf.advance(self.pos);
        self.new_message();
        self.state = State::Line;
        if let Some(Ok(ann)) = announcement {
            if self.config.side == Side::Client || ann.non_sync {
                match ann.size {
                    Some(remaining) => {
                        self.discard_tag = tag;
                        self.discard_continuation = continuation;
                        self.state = State::Skip { remaining };
                    }
                    None => {
                        self.fail();
                        return FramingError::Desynchronized { tag };
                    }
                }
            }
        }
        error
    }

    /// After an error in the middle of a line part: drop the message, keep the scan state of
    /// that line part, and discard the rest of it.
    fn discard_from_pos(&mut self) {
        self.discard_tag = self.current_tag();
        self.discard_continuation = self.continuation;
        self.tail.clear();
        let start = self.seg_start.min(self.pos);
        self.tail.push(&self.buf[start..self.pos]);
        // The quoting of the line part so far (not tracked while keeping, see `track`).
        let mut quote = Quote::default();
        quote.track(&self.buf[start..self.pos]);
        self.buf.advance(self.pos);
        self.new_message();
        self.quote = quote;
        self.state = State::Discard;
    }

    /// Hands out the message `buf[..pos]`.
    fn emit(&mut self) -> Frame {
        let raw = self.buf.split_to(self.pos);
        let message = if self.bare_lfs.is_empty() {
            raw
        } else {
            // Client quirk: insert the missing CRs before the LFs that ended line parts.
            let mut out = BytesMut::with_capacity(raw.len() + self.bare_lfs.len());
            let mut from = 0;
            for &lf in &self.bare_lfs {
                out.extend_from_slice(&raw[from..lf]);
                out.extend_from_slice(b"\r");
                from = lf;
            }
            out.extend_from_slice(&raw[from..]);
            out.freeze()
        };
        self.new_message();
        Frame::Message(message)
    }

    fn step_literal(
        &mut self,
        remaining: u64,
        binary: bool,
    ) -> Option<Option<Result<Frame, FramingError>>> {
        let avail = self.buf.len() - self.pos;
        let n = usize::try_from(remaining).unwrap_or(usize::MAX).min(avail);
        let chunk = &self.buf[self.pos..self.pos + n];
        if !binary && !self.config.allow_nul_in_text_literals && memchr(0, chunk).is_some() {
            let tag = self.current_tag();
            let continuation = self.continuation;
            self.buf.advance(self.pos);
            self.new_message();
            self.discard_tag = tag.clone();
            self.discard_continuation = continuation;
            self.state = State::Skip { remaining };
            return Some(Some(Err(FramingError::NulInLiteral { tag })));
        }
        self.pos += n;
        let remaining = remaining - n as u64;
        if remaining > 0 {
            self.state = State::Literal { remaining, binary };
            return None;
        }
        self.seg_start = self.pos;
        self.quote = Quote::default();
        self.state = State::Line;
        Some(None)
    }

    // ----- streaming (client side) ------------------------------------------------------------

    /// Whether the literal announced at the end of `buf[seg_start..content_end]` is the body
    /// section value of an untagged FETCH response and streaming is on.
    fn streamable(&self, content_end: usize) -> Option<Streaming> {
        let streaming = self.streaming?;
        if self.config.side != Side::Client || self.tag != TagState::Untagged {
            return None;
        }
        // `* <number> FETCH (`
        let first = self.buf.get(2..)?;
        let digits = first.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || !self.buf.starts_with(b"* ") {
            return None;
        }
        let after = first.get(digits..)?;
        if after.len() < 8 || !after[..8].eq_ignore_ascii_case(b" FETCH (") {
            return None;
        }
        // The attribute name right before the announcement.
        let line = &self.buf[self.seg_start..content_end];
        let open = memrchr(b'{', line)?;
        let mut before = &line[..open];
        if let Some(rest) = before.strip_suffix(b"~") {
            before = rest;
        }
        let mut before = before.strip_suffix(b" ")?;
        if let Some(rest) = before.strip_suffix(b">") {
            let digits = rest.iter().rev().take_while(|b| b.is_ascii_digit()).count();
            before = rest[..rest.len() - digits].strip_suffix(b"<")?;
            if digits == 0 {
                return None;
            }
        }
        let name_ok = |name: &[u8]| {
            before.len() > name.len()
                && before[before.len() - name.len()..].eq_ignore_ascii_case(name)
                && matches!(before[before.len() - name.len() - 1], b' ' | b'(')
        };
        (name_ok(b"BODY[]") || name_ok(b"BINARY[]")).then_some(streaming)
    }

    fn check_streamed(&self, ann: Announcement, streaming: Streaming) -> Result<(), FramingError> {
        let limits = self.limits();
        let tag = self.current_tag();
        match ann.size {
            Some(size) if size <= streaming.max_size => {}
            size => {
                return Err(FramingError::LiteralTooLarge {
                    tag,
                    size,
                    limit: streaming.max_size,
                });
            }
        }
        if self.literals >= limits.max_literals {
            return Err(FramingError::TooManyLiterals {
                tag,
                limit: limits.max_literals,
            });
        }
        Ok(())
    }

    /// Moves the kept bytes before the announcement aside (with `""` in place of the literal)
    /// and starts handing out the literal.
    fn start_stream(&mut self, ann: Announcement, content_end: usize) -> Frame {
        let line = &self.buf[self.seg_start..content_end];
        let mut cut = self.seg_start + memrchr(b'{', line).unwrap_or(line.len());
        if ann.binary && cut > 0 && self.buf[cut - 1] == b'~' {
            cut -= 1;
        }
        let frame_head = self.buf.split_to(cut);
        let mut head = BytesMut::with_capacity(cut + 2);
        head.extend_from_slice(&frame_head);
        head.extend_from_slice(b"\"\"");
        self.buf.advance(self.pos - cut);
        self.pos = 0;
        self.stream_head = head;
        self.literals += 1;
        let size = ann.size.unwrap_or(0);
        self.state = State::Stream {
            remaining: size,
            binary: ann.binary,
        };
        Frame::StreamStart {
            head: frame_head,
            size,
            binary: ann.binary,
        }
    }

    fn step_stream(
        &mut self,
        remaining: u64,
        binary: bool,
    ) -> Option<Option<Result<Frame, FramingError>>> {
        if remaining == 0 {
            // The literal is over: the kept head, then the input after the literal.
            // The input after the literal goes back in front of the chunks not looked at yet:
            // only what the rest of the message needs is joined to the head (see `fill`).
            let rest = self.buf.take_all();
            if !rest.is_empty() {
                self.pending_len += rest.len();
                self.pending.push_front(rest);
            }
            self.buf = Held::Owned(std::mem::take(&mut self.stream_head));
            self.pos = self.buf.len();
            self.seg_start = self.pos;
            self.quote = Quote::default();
            self.state = State::Line;
            return Some(None);
        }
        let chunk = self.streaming.map_or(DEFAULT_MAX_BUFFERED, |s| s.chunk);
        let n = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(self.buf.len())
            .min(chunk);
        if n == 0 {
            return None;
        }
        if !binary && !self.config.allow_nul_in_text_literals && memchr(0, &self.buf[..n]).is_some()
        {
            let tag = None;
            self.stream_head.clear();
            self.new_message();
            self.discard_tag = None;
            self.discard_continuation = false;
            self.state = State::Skip { remaining };
            return Some(Some(Err(FramingError::NulInLiteral { tag })));
        }
        let data = self.buf.split_to(n);
        self.state = State::Stream {
            remaining: remaining - n as u64,
            binary,
        };
        Some(Some(Ok(Frame::StreamData(data))))
    }

    // ----- discarding ------------------------------------------------------------------------

    fn step_discard(&mut self) -> Option<Option<Result<Frame, FramingError>>> {
        let tolerant = self.tolerant_lf();
        let mut from = 0;
        loop {
            let Some(k) = memchr(b'\n', &self.buf[from..]) else {
                let all = self.buf.len();
                self.quote.track(&self.buf[..all]);
                self.tail.push(&self.buf[..all]);
                self.buf.clear();
                return None;
            };
            let i = from + k;
            let after_cr = if i > 0 {
                self.buf[i - 1] == b'\r'
            } else {
                self.tail.last() == Some(b'\r')
            };
            if !after_cr && !tolerant {
                // A bare LF ends nothing on the strict side.
                from = i + 1;
                continue;
            }
            self.quote.track(&self.buf[..i]);
            self.tail.push(&self.buf[..i]);
            self.buf.advance(i + 1);
            let content = match self.tail.get().split_last() {
                Some((&b'\r', content)) if after_cr => content,
                _ => self.tail.get(),
            };
            let announcement = if self.quote.quoted || self.discard_continuation {
                None
            } else {
                parse_announcement(content)
            };
            self.quote = Quote::default();
            self.tail.clear();
            match announcement {
                Some(Ok(ann)) if self.config.side == Side::Client || ann.non_sync => {
                    if let Some(remaining) = ann.size {
                        self.state = State::Skip { remaining };
                        return Some(None);
                    }
                    self.fail();
                    return Some(Some(Err(FramingError::Desynchronized {
                        tag: self.discard_tag.take(),
                    })));
                }
                _ => {
                    self.discard_tag = None;
                    self.discard_continuation = false;
                    self.new_message();
                    self.state = State::Line;
                    return Some(None);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quoting is worked out only at the end of a line part, yet an error in the middle of a
    /// line still discards the rest with the quoting seen so far: a `{3}` inside a quoted
    /// string opened before the error announces nothing (client side, where an announced
    /// literal would be skipped), while the same `{3}` outside quotes is skipped.
    #[test]
    fn discard_after_mid_line_error_keeps_the_quoting() {
        fn frames(input: &[u8], split: usize) -> Vec<Result<Frame, FramingError>> {
            let mut f = Framer::client();
            let mut out = Vec::new();
            for part in [&input[..split], &input[split..]] {
                f.push(part).unwrap();
                while let Some(fr) = f.next_frame() {
                    out.push(fr);
                }
            }
            out
        }
        let quoted = b"* 1 X \"a\0b {3}\r\nabc\r\n* 2 EXISTS\r\n";
        let bare = b"* 1 X a\0b {3}\r\nabc\r\n* 2 EXISTS\r\n";
        for split in 0..quoted.len() {
            let q = frames(quoted, split);
            assert!(matches!(q[0], Err(FramingError::NulInLine { .. })), "{q:?}");
            let msgs: Vec<&[u8]> = q
                .iter()
                .filter_map(|f| match f {
                    Ok(Frame::Message(m)) => Some(&m[..]),
                    _ => None,
                })
                .collect();
            assert_eq!(msgs, [&b"abc\r\n"[..], b"* 2 EXISTS\r\n"], "split {split}");
        }
        for split in 0..bare.len() {
            let b = frames(bare, split);
            assert!(matches!(b[0], Err(FramingError::NulInLine { .. })), "{b:?}");
            let msgs: Vec<&[u8]> = b
                .iter()
                .filter_map(|f| match f {
                    Ok(Frame::Message(m)) => Some(&m[..]),
                    _ => None,
                })
                .collect();
            assert_eq!(msgs, [&b"* 2 EXISTS\r\n"[..]], "split {split}");
        }
    }

    #[test]
    fn announcements_parse() {
        let ok = |size, non_sync, binary| {
            Some(Ok(Announcement {
                size: Some(size),
                non_sync,
                binary,
            }))
        };
        assert_eq!(parse_announcement(b"A1 LOGIN {5}"), ok(5, false, false));
        assert_eq!(parse_announcement(b"{0005+}"), ok(5, true, false));
        assert_eq!(parse_announcement(b"x ~{7}"), ok(7, false, true));
        assert_eq!(parse_announcement(b"x ~{7+}"), ok(7, true, true));
        assert_eq!(parse_announcement(b"x {}"), Some(Err(())));
        assert_eq!(parse_announcement(b"x {+}"), Some(Err(())));
        assert_eq!(parse_announcement(b"x {-1}"), Some(Err(())));
        assert_eq!(parse_announcement(b"x {1 2}"), Some(Err(())));
        assert_eq!(parse_announcement(b"x a}"), None);
        assert_eq!(parse_announcement(b"x \"{5\" a}"), None);
        assert_eq!(parse_announcement(b"x {5} y"), None);
        assert_eq!(
            parse_announcement(b"{18446744073709551615}"),
            ok(u64::MAX, false, false)
        );
        assert_eq!(
            parse_announcement(b"{18446744073709551616}"),
            Some(Ok(Announcement {
                size: None,
                non_sync: false,
                binary: false
            }))
        );
    }

    #[test]
    fn quote_tracking_handles_escapes() {
        let mut q = Quote::default();
        q.track(br#"A1 LOGIN "a\"b"#);
        assert!(q.quoted);
        q.track(br#"\\" {5}"#);
        assert!(!q.quoted);
        let mut q = Quote::default();
        q.track(br#""\"#);
        assert!(q.quoted && q.escaped);
        q.track(br#"""#);
        assert!(q.quoted && !q.escaped);
    }

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut t = Tail::new();
        t.push(b"abc");
        t.push(&[b'x'; 70]);
        assert_eq!(t.get(), &[b'x'; 64][..]);
        t.push(b"{5}");
        assert_eq!(&t.get()[61..], b"{5}");
        assert_eq!(t.get().len(), 64);
        t.clear();
        t.push(b"ab");
        assert_eq!(t.get(), b"ab");
        assert_eq!(t.last(), Some(b'b'));
    }

    /// Feeds `input` cut every `n` bytes with streaming on; returns the frames with the
    /// stream data joined, checking chunk sizes and that the framer never holds the literal.
    /// The same with [`Framer::push`] and with [`Framer::push_bytes`], which must agree.
    fn stream_frames(input: &[u8], n: usize, chunk: usize) -> Vec<Frame> {
        let copied = stream_frames_with(input, n, chunk, false);
        assert_eq!(copied, stream_frames_with(input, n, chunk, true));
        copied
    }

    fn stream_frames_with(input: &[u8], n: usize, chunk: usize, shared: bool) -> Vec<Frame> {
        let mut framer = Framer::client();
        framer.set_authenticated(true);
        framer.set_literal_streaming(Some((1 << 30, chunk)));
        let mut out: Vec<Frame> = Vec::new();
        for piece in input.chunks(n.max(1)) {
            if shared {
                framer.push_bytes(Bytes::copy_from_slice(piece)).unwrap();
            } else {
                framer.push(piece).unwrap();
            }
            while let Some(frame) = framer.next_frame() {
                let frame = frame.unwrap();
                if let Frame::StreamData(d) = &frame {
                    assert!(!d.is_empty() && d.len() <= chunk);
                    if let Some(Frame::StreamData(prev)) = out.last_mut() {
                        let mut joined = prev.to_vec();
                        joined.extend_from_slice(d);
                        *prev = Bytes::from(joined);
                        continue;
                    }
                }
                out.push(frame);
            }
            // Held: at most the line parts and one piece of input.
            assert!(framer.buffered() <= 64 + n, "{}", framer.buffered());
        }
        out
    }

    #[test]
    fn streamed_body_literals() {
        let body = vec![b'x'; 300];
        let mut input = b"* 3 FETCH (UID 7 BODY[] {300}\r\n".to_vec();
        input.extend_from_slice(&body);
        input.extend_from_slice(b" FLAGS (\\Seen))\r\n* 4 FETCH (BODY[HEADER] {2}\r\nab BINARY[]<5> ~{3}\r\na\0b)\r\n* 5 FETCH (BODY[] {0}\r\n)\r\nA1 OK \"BODY[] {5}\"\r\n");
        for n in [1, 2, 7, 64, input.len()] {
            let frames = stream_frames(&input, n, 16);
            assert_eq!(
                frames,
                vec![
                    Frame::StreamStart {
                        head: Bytes::from_static(b"* 3 FETCH (UID 7 BODY[] "),
                        size: 300,
                        binary: false
                    },
                    Frame::StreamData(Bytes::from(body.clone())),
                    Frame::Message(Bytes::from_static(
                        b"* 3 FETCH (UID 7 BODY[] \"\" FLAGS (\\Seen))\r\n"
                    )),
                    // BODY[HEADER] is kept as usual; BINARY[]<5> is streamed.
                    Frame::LiteralAnnounced {
                        tag: None,
                        size: 2,
                        non_sync: false,
                        binary: false,
                        needs_decision: false
                    },
                    Frame::StreamStart {
                        head: Bytes::from_static(b"* 4 FETCH (BODY[HEADER] {2}\r\nab BINARY[]<5> "),
                        size: 3,
                        binary: true
                    },
                    Frame::StreamData(Bytes::from_static(b"a\0b")),
                    Frame::Message(Bytes::from_static(
                        b"* 4 FETCH (BODY[HEADER] {2}\r\nab BINARY[]<5> \"\")\r\n"
                    )),
                    Frame::StreamStart {
                        head: Bytes::from_static(b"* 5 FETCH (BODY[] "),
                        size: 0,
                        binary: false
                    },
                    Frame::Message(Bytes::from_static(b"* 5 FETCH (BODY[] \"\")\r\n")),
                    Frame::Message(Bytes::from_static(b"A1 OK \"BODY[] {5}\"\r\n")),
                ],
                "every {n}"
            );
        }
    }

    #[test]
    fn streaming_is_client_fetch_only_and_bounded() {
        // Not a FETCH, or not untagged: kept (and bounded by max_literal) as usual.
        for input in [
            &b"* 3 XFETCH (BODY[] {3}\r\nabc)\r\n"[..],
            b"* LIST () \"/\" {3}\r\nabc\r\n",
        ] {
            let frames = stream_frames(input, input.len(), 16);
            assert!(
                matches!(frames[0], Frame::LiteralAnnounced { .. }),
                "{frames:?}"
            );
        }
        // Over the streaming limit: refused before any octet, and skipped.
        let mut framer = Framer::client();
        framer.set_literal_streaming(Some((10, 4)));
        framer
            .push(b"* 1 FETCH (BODY[] {11}\r\n01234567890)\r\n* 2 EXISTS\r\n")
            .unwrap();
        assert!(matches!(
            framer.next_frame(),
            Some(Err(FramingError::LiteralTooLarge {
                size: Some(11),
                limit: 10,
                ..
            }))
        ));
        assert_eq!(
            framer.next_frame(),
            Some(Ok(Frame::Message(Bytes::from_static(b"* 2 EXISTS\r\n"))))
        );
        // Off again: kept whole.
        framer.set_literal_streaming(None);
        framer.push(b"* 1 FETCH (BODY[] {3}\r\nabc)\r\n").unwrap();
        assert!(matches!(
            framer.next_frame(),
            Some(Ok(Frame::LiteralAnnounced { .. }))
        ));
        // The server side never streams.
        let mut framer = Framer::server();
        framer.set_literal_streaming(Some((10, 4)));
        framer.push(b"* 1 FETCH (BODY[] {3+}\r\nabc)\r\n").unwrap();
        assert!(!matches!(
            framer.next_frame(),
            Some(Ok(Frame::StreamStart { .. }))
        ));
    }

    #[test]
    fn tag_chars() {
        for b in b"A1.-_]!#$&',/:;<=>?@[^`|}~09az" {
            assert!(is_tag_char(*b), "{}", char::from(*b));
        }
        for b in b"(){%*\"\\+ \x00\x7f\x80" {
            assert!(!is_tag_char(*b), "{b:#x}");
        }
    }
}
