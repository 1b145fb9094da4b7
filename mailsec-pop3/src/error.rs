//! Errors of the syntax layer: what was wrong with a line, and what a server answers.
//!
//! Every variant stands for a fault of the peer's bytes (or, for [`SerializeError`], of a value
//! the caller built); none carries a secret or more than a few bytes of the input.

/// Why a command, response or listing line could not be parsed.
///
/// [`reply_text`](ParseError::reply_text) gives the text a server puts after `-ERR ` when a
/// client's command fails to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The line, counting its CRLF, is longer than the limit (RFC 2449 §4: 255 octets for
    /// commands, 512 for responses). Checked before anything is copied.
    #[error("line longer than {limit} octets")]
    LineTooLong {
        /// The limit in force, counting the CRLF.
        limit: usize,
    },
    /// A CR or LF inside the line (only a final CRLF may end it).
    #[error("CR or LF inside a line")]
    BareLineEnding,
    /// A NUL octet, which no POP3 line may carry.
    #[error("NUL octet in a line")]
    Nul,
    /// The line is empty.
    #[error("empty line")]
    Empty,
    /// The keyword is not a POP3 command this crate knows.
    #[error("unknown command")]
    UnknownCommand,
    /// A required argument is missing.
    #[error("missing argument")]
    MissingArgument,
    /// More arguments than the command takes.
    #[error("too many arguments")]
    TooManyArguments,
    /// Arguments not separated by exactly one SP, an empty argument, or a trailing SP
    /// (RFC 1939 §3).
    #[error("arguments must be separated by a single space")]
    BadSeparator,
    /// A number is not a plain string of decimal digits.
    #[error("not a decimal number")]
    InvalidNumber,
    /// A number does not fit its type (message numbers: 1..=4294967295; line counts: u32;
    /// sizes: u64).
    #[error("number out of range")]
    NumberOutOfRange,
    /// A message number of 0 (message numbers start at 1, RFC 1939 §3).
    #[error("message numbers start at 1")]
    ZeroMessageNumber,
    /// The APOP digest is not 32 hexadecimal digits (RFC 1939 §7).
    #[error("APOP digest must be 32 hexadecimal digits")]
    InvalidDigest,
    /// A SASL mechanism name outside RFC 4422 §3.1's syntax (1–20 of `A-Z 0-9 - _`).
    #[error("invalid SASL mechanism name")]
    InvalidMechanism,
    /// Base64 in an AUTH initial response or continuation is invalid or too long.
    #[error("invalid base64")]
    InvalidBase64,
    /// A response line starts with neither `+OK`, `-ERR` nor `+`.
    #[error("response does not start with +OK, -ERR or +")]
    InvalidStatus,
    /// A unique-id listing whose id is not 1–70 octets of 0x21–0x7E (RFC 1939 §7).
    #[error("invalid unique-id")]
    InvalidUniqueId,
    /// A capability line that does not follow RFC 2449 §5/§6 (bad name or arguments).
    #[error("invalid capability line")]
    InvalidCapability,
}

impl ParseError {
    /// The text a server sends after `-ERR ` when a command fails with this error. Never echoes
    /// the client's bytes (nothing to reflect in a cross-protocol attack).
    ///
    /// ```
    /// use mailsec_pop3::ParseError;
    /// assert_eq!(ParseError::UnknownCommand.reply_text(), "Unknown command");
    /// ```
    pub fn reply_text(&self) -> &'static str {
        match self {
            ParseError::LineTooLong { .. } => "Line too long",
            ParseError::BareLineEnding | ParseError::Nul => "Invalid characters in line",
            ParseError::Empty | ParseError::UnknownCommand => "Unknown command",
            ParseError::MissingArgument => "Missing argument",
            ParseError::TooManyArguments => "Too many arguments",
            ParseError::BadSeparator => "Invalid argument syntax",
            ParseError::InvalidNumber
            | ParseError::NumberOutOfRange
            | ParseError::ZeroMessageNumber => "Invalid message number",
            ParseError::InvalidDigest => "Invalid APOP digest",
            ParseError::InvalidMechanism => "Invalid SASL mechanism",
            ParseError::InvalidBase64 => "Invalid base64 data",
            ParseError::InvalidStatus
            | ParseError::InvalidUniqueId
            | ParseError::InvalidCapability => "Syntax error",
        }
    }
}

/// Why a value could not be serialized. Nothing was written when this is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SerializeError {
    /// The line would exceed the protocol limit (RFC 2449 §4), counting its CRLF.
    #[error("line of {len} octets exceeds the limit of {limit}")]
    LineTooLong {
        /// The length the line would have, with CRLF.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// An argument or text is empty where a token is required, contains SP where it may not,
    /// or contains CR, LF or NUL.
    #[error("invalid {0}")]
    InvalidToken(&'static str),
    /// A value that would parse back as something else (an `Other` capability or response
    /// code spelling a known name, a code-less text that starts like a response code).
    #[error("{0} would not parse back to the same value")]
    Ambiguous(&'static str),
}

/// Why a multi-line body could not be decoded or encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MultilineError {
    /// A CR not followed by LF (strict decoding; encoding in
    /// [`BareLineEndings::Reject`](crate::multiline::BareLineEndings::Reject)).
    #[error("bare CR in a multi-line body")]
    BareCr,
    /// A LF not preceded by CR (strict decoding; encoding in
    /// [`BareLineEndings::Reject`](crate::multiline::BareLineEndings::Reject)).
    #[error("bare LF in a multi-line body")]
    BareLf,
    /// A line starts with `.` but is neither the terminator `.` nor dot-stuffed (`..`); strict
    /// decoding only (RFC 1939 §3).
    #[error("line starts with an unstuffed '.'")]
    UnstuffedDot,
    /// A body line, counting its CRLF, is longer than the decoder's limit.
    #[error("body line longer than {limit} octets")]
    LineTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// The decoder already failed; it stays failed.
    #[error("the decoder failed earlier")]
    Failed,
    /// Input after the encoder was finished.
    #[error("the encoder is already finished")]
    Finished,
}
