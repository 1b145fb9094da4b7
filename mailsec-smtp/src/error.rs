//! Typed errors of the syntax layer.
//!
//! Peer faults (a malformed command, reply or message body) are kept apart from API misuse
//! (a value that cannot be built). Every enum is `#[non_exhaustive]`; nothing in this crate
//! panics on bad input.

/// A command line (or a value meant for one) that does not follow RFC 5321 and its extensions.
///
/// [`CommandError::reply_code`] gives the reply a server should answer with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The line, counting its CRLF, is longer than the limit (RFC 5321 §4.5.3.1.4, RFC 4954 §4).
    #[error("command line of {len} octets exceeds the limit of {limit}")]
    LineTooLong {
        /// The length seen, counting the CRLF.
        len: usize,
        /// The limit in force, counting the CRLF.
        limit: usize,
    },
    /// A NUL, CR or LF inside the line: only CRLF ends a command and the framer strips it.
    #[error("forbidden octet {byte:#04x} in a command")]
    ForbiddenOctet {
        /// The offending octet.
        byte: u8,
    },
    /// The verb is not one this crate knows.
    #[error("unknown command")]
    UnknownCommand,
    /// The verb is known but its arguments do not follow its grammar.
    #[error("syntax error in {verb} arguments")]
    Syntax {
        /// The command verb, upper case.
        verb: &'static str,
    },
    /// A domain that is not a valid RFC 5321 §4.1.2 `Domain`.
    #[error("invalid domain")]
    InvalidDomain,
    /// An address literal that is not valid (RFC 5321 §4.1.3).
    #[error("invalid address literal")]
    InvalidAddressLiteral,
    /// A local part that is neither a Dot-string nor a Quoted-string (RFC 5321 §4.1.2).
    #[error("invalid local part")]
    InvalidLocalPart,
    /// A reverse or forward path that does not follow RFC 5321 §4.1.2.
    #[error("invalid path")]
    InvalidPath,
    /// Non-ASCII in an address without SMTPUTF8 in force (RFC 6531 §3.2).
    #[error("non-ASCII address without SMTPUTF8")]
    Utf8NotPermitted,
    /// A parameter of a known keyword with a missing, extra or malformed value.
    #[error("invalid value for parameter {keyword}")]
    InvalidParameter {
        /// The parameter keyword, upper case.
        keyword: String,
    },
    /// An ESMTP parameter keyword or value that does not follow RFC 5321 §4.1.2.
    #[error("malformed ESMTP parameter")]
    MalformedParameter,
    /// A known parameter given twice (RFC 3461 §4, RFC 1870 §6, RFC 6152 §3).
    #[error("parameter {keyword} given more than once")]
    DuplicateParameter {
        /// The parameter keyword, upper case.
        keyword: String,
    },
    /// An xtext value that is not valid (RFC 3461 §4).
    #[error("invalid xtext")]
    InvalidXtext,
    /// A SASL mechanism name that is not valid (RFC 4422 §3.1).
    #[error("invalid SASL mechanism name")]
    InvalidMechanism,
    /// An AUTH initial response that is neither `=` nor base64 (RFC 4954 §4).
    #[error("invalid base64 in AUTH initial response")]
    InvalidBase64,
    /// A free-text argument (NOOP, HELP, VRFY, EXPN) with control characters or invalid UTF-8.
    #[error("invalid text argument")]
    InvalidText,
    /// A number that is malformed or too large (BDAT chunk size).
    #[error("invalid number")]
    InvalidNumber,
}

impl CommandError {
    /// The reply code a server answers this error with: `500` for a line it cannot read,
    /// `555` for unrecognized MAIL/RCPT parameters (RFC 5321 §4.1.1.11), `553` for a mailbox
    /// name not allowed (including non-ASCII without SMTPUTF8, RFC 6531 §3.7.4.1), `501` for
    /// other syntax errors in arguments.
    pub fn reply_code(&self) -> u16 {
        match self {
            CommandError::LineTooLong { .. }
            | CommandError::ForbiddenOctet { .. }
            | CommandError::UnknownCommand => 500,
            CommandError::InvalidParameter { .. }
            | CommandError::MalformedParameter
            | CommandError::DuplicateParameter { .. } => 555,
            CommandError::Utf8NotPermitted => 553,
            _ => 501,
        }
    }
}

/// A reply (or a value meant for one) that does not follow RFC 5321 §4.2.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// A reply line, counting its CRLF, longer than the limit (RFC 5321 §4.5.3.1.5).
    #[error("reply line of {len} octets exceeds the limit of {limit}")]
    LineTooLong {
        /// The length seen, counting the CRLF.
        len: usize,
        /// The limit in force, counting the CRLF.
        limit: usize,
    },
    /// A line that does not start with a three-digit code followed by SP, `-` or the end.
    #[error("malformed reply line")]
    Malformed,
    /// A code outside `2xx`–`5xx`.
    #[error("invalid reply code")]
    InvalidCode,
    /// A line of a multi-line reply carries another code than the first (RFC 5321 §4.2.1).
    #[error("multi-line reply mixes codes {first} and {found}")]
    MixedCodes {
        /// The code of the first line.
        first: u16,
        /// The differing code.
        found: u16,
    },
    /// More lines than the limit in one reply.
    #[error("reply has more than {limit} lines")]
    TooManyLines {
        /// The limit in force.
        limit: usize,
    },
    /// More octets than the limit in one reply.
    #[error("reply is longer than {limit} octets")]
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// A CR or LF that is not part of a CRLF line ending.
    #[error("bare CR or LF in a reply")]
    BareLineEnding,
    /// Text given to build a reply holds a control character.
    #[error("control character in reply text")]
    InvalidText,
    /// An enhanced status code that does not follow RFC 3463 §2, or whose class differs from
    /// the reply code's.
    #[error("invalid enhanced status code")]
    InvalidEnhancedCode,
    /// A reply that is not a `250` EHLO reply.
    #[error("not a successful EHLO reply")]
    NotEhlo,
}

/// A DATA body that breaks the rules, found by [`DataDecoder`](crate::data::DataDecoder).
///
/// After reporting one of these the decoder discards input up to the real `CRLF.CRLF`
/// terminator, so a server can answer once the client has finished sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A LF not preceded by CR (SMTP smuggling, CVE-2023-51764).
    #[error("bare LF in message data")]
    BareLf,
    /// A CR not followed by LF (SMTP smuggling, CVE-2023-51764).
    #[error("bare CR in message data")]
    BareCr,
    /// A text line longer than the limit, counting its CRLF (RFC 5321 §4.5.3.1.6).
    #[error("message line longer than {limit} octets")]
    LineTooLong {
        /// The limit in force, counting the CRLF.
        limit: usize,
    },
    /// The message is larger than the limit (answer `552`, RFC 1870 §6.3, RFC 5321 §4.5.3.1.10).
    #[error("message larger than {limit} octets")]
    MessageTooBig {
        /// The limit in force.
        limit: u64,
    },
}

impl DataError {
    /// The reply code a server answers with once the message has ended: `552` for size,
    /// `500` for a line too long (RFC 5321 §4.5.3.1.6), `550` for bare line endings.
    pub fn reply_code(&self) -> u16 {
        match self {
            DataError::MessageTooBig { .. } => 552,
            DataError::LineTooLong { .. } => 500,
            DataError::BareLf | DataError::BareCr => 550,
        }
    }
}

/// A body the [`DataEncoder`](crate::data::DataEncoder) refuses to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A LF not preceded by CR, with [`BareLineEndings::Reject`](crate::data::BareLineEndings).
    #[error("bare LF in message body")]
    BareLf,
    /// A CR not followed by LF, with [`BareLineEndings::Reject`](crate::data::BareLineEndings).
    #[error("bare CR in message body")]
    BareCr,
    /// A line longer than the limit, counting its CRLF (RFC 5321 §4.5.3.1.6).
    #[error("message line longer than {limit} octets")]
    LineTooLong {
        /// The limit in force, counting the CRLF.
        limit: usize,
    },
    /// More input after [`finish`](crate::data::DataEncoder::finish).
    #[error("encoder already finished")]
    Finished,
}
