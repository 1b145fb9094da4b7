//! Typed errors of the syntax layer.
//!
//! [`ParseError`] is what the parser reports for peer input: a [`ParseErrorKind`], the offset of
//! the offending byte, the command tag when one was read, and a short sanitized preview of the
//! bytes at fault. The preview of a `LOGIN` or `AUTHENTICATE` command (and of an AUTHENTICATE
//! continuation line) is redacted: it never shows a password or SASL data.
//!
//! [`ValidationError`] is what a validated constructor reports for a value that cannot be built
//! (API misuse, not a peer fault).

use std::fmt;

/// How many bytes of input a [`ParseError`] preview shows at most.
pub const PREVIEW_LEN: usize = 32;

/// What went wrong while parsing a command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The input ended before the command did (no final CRLF, or a literal cut short).
    #[error("input ends inside the command")]
    Incomplete,
    /// The tag is missing or contains a byte outside `tag` (RFC 9051 §9: ASTRING-CHAR except `+`).
    #[error("invalid tag")]
    InvalidTag,
    /// The tag is longer than the configured limit.
    #[error("tag longer than {limit} octets")]
    TagTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// The command name is not one this crate knows.
    #[error("unknown command")]
    UnknownCommand,
    /// A command known to this crate but given in a form it does not accept.
    #[error("syntax error: expected {expected}")]
    Syntax {
        /// What the grammar wanted at this point.
        expected: &'static str,
    },
    /// Bytes after the end of the command's grammar and before its CRLF.
    #[error("unexpected bytes before CRLF")]
    Trailing,
    /// A number that does not fit its type (`number` is 32-bit, `number64` 63-bit).
    #[error("number out of range")]
    NumberOverflow,
    /// A zero where RFC 9051 wants `nz-number`.
    #[error("zero where a non-zero number is required")]
    Zero,
    /// A literal announced with more octets than the input holds. The framing step delivers
    /// every literal inline, so this only happens on truncated or forged input; no memory is
    /// reserved for the announced size.
    #[error("literal of {announced} octets but only {available} follow")]
    LiteralTruncated {
        /// The announced size.
        announced: u64,
        /// What the input still holds.
        available: usize,
    },
    /// A NUL octet inside a non-binary literal (RFC 9051 §4.3: `CHAR8` excludes NUL; use `~{n}`).
    #[error("NUL octet in a literal")]
    NulInLiteral,
    /// A binary literal (`~{n}`, RFC 3516) where only a string is allowed.
    #[error("binary literal not allowed here")]
    BinaryLiteralNotAllowed,
    /// A quoted string with CR, LF, NUL, a bad escape or invalid UTF-8.
    #[error("invalid quoted string")]
    InvalidQuoted,
    /// Nesting (parentheses, `NOT`, `OR`) deeper than the configured limit, detected when the
    /// nested element opens.
    #[error("nesting deeper than {limit}")]
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// A date or date-time that does not follow RFC 9051 §9 or names an impossible day.
    #[error("invalid date")]
    InvalidDate,
    /// Base64 that does not follow RFC 4648 §4 (AUTHENTICATE, SASL-IR).
    #[error("invalid base64")]
    InvalidBase64,
    /// An element given more than once where it may appear once.
    #[error("duplicate {what}")]
    Duplicate {
        /// What was repeated.
        what: &'static str,
    },
}

/// A command (or AUTHENTICATE / IDLE continuation line) that does not follow the grammar.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// The tag, when it had been read before the error (so the server can answer `tag BAD`).
    pub tag: Option<String>,
    /// Offset of the offending byte in the input.
    pub offset: usize,
    /// Up to [`PREVIEW_LEN`] bytes from `offset`, sanitized (control characters removed); or
    /// `<redacted>` when the bytes may hold a secret.
    pub preview: String,
}

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind, input: &[u8], offset: usize, redact: bool) -> Self {
        let offset = offset.min(input.len());
        let preview = if redact {
            "<redacted>".to_owned()
        } else {
            let end = input.len().min(offset + PREVIEW_LEN);
            mailsec_tls::text::sanitize(&input[offset..end])
        };
        ParseError {
            kind,
            tag: None,
            offset,
            preview,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.kind, self.offset)?;
        if let Some(tag) = &self.tag {
            write!(f, " (tag {tag})")?;
        }
        write!(f, " near {:?}", self.preview)
    }
}

impl fmt::Debug for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParseError")
            .field("kind", &self.kind)
            .field("tag", &self.tag)
            .field("offset", &self.offset)
            .field("preview", &self.preview)
            .finish()
    }
}

/// A value rejected by a validated constructor.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The value is empty where at least one octet is required.
    #[error("empty {what}")]
    Empty {
        /// What kind of value.
        what: &'static str,
    },
    /// A byte not allowed in this kind of value.
    #[error("byte {byte:#04x} not allowed in {what}")]
    InvalidByte {
        /// What kind of value.
        what: &'static str,
        /// The offending octet.
        byte: u8,
    },
    /// The value is longer than allowed.
    #[error("{what} longer than {limit}")]
    TooLong {
        /// What kind of value.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A value outside its range (a zero `nz-number`, a day 32, …).
    #[error("{what} out of range")]
    OutOfRange {
        /// What kind of value.
        what: &'static str,
    },
    /// Text that is not valid UTF-8 or not valid modified UTF-7 (RFC 3501 §5.1.3).
    #[error("invalid encoding of {what}")]
    Encoding {
        /// What kind of value.
        what: &'static str,
    },
    /// A value that is valid on its own but not in this position (e.g. `\Recent` in STORE).
    #[error("{what} not allowed here")]
    NotAllowed {
        /// What kind of value.
        what: &'static str,
    },
}
