//! Why a client session (or one intent) failed, and in which phase.

use std::fmt;

use mailsec_tls::framer::FrameError;
use mailsec_tls::sasl::SaslError;

use crate::error::{EncodeError, ReplyError};
use crate::types::Reply;

/// Where in the session something happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Waiting for TLS (implicit TLS, before the greeting) or for the STARTTLS handshake.
    TlsHandshake,
    /// The `220` greeting (RFC 5321 §4.3.1).
    Greeting,
    /// EHLO (RFC 5321 §4.1.1.1).
    Ehlo,
    /// The HELO fallback.
    Helo,
    /// STARTTLS (RFC 3207).
    StartTls,
    /// AUTH (RFC 4954).
    Auth,
    /// Between transactions: nothing was asked.
    Idle,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA, up to its `354`.
    Data,
    /// Streaming the message body.
    Body,
    /// A BDAT chunk that is not the last (RFC 3030).
    Bdat,
    /// The final reply: after the end-of-data dot or `BDAT … LAST`.
    Message,
    /// RSET.
    Rset,
    /// QUIT.
    Quit,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::TlsHandshake => "TLS handshake",
            Phase::Greeting => "greeting",
            Phase::Ehlo => "EHLO",
            Phase::Helo => "HELO",
            Phase::StartTls => "STARTTLS",
            Phase::Auth => "AUTH",
            Phase::Idle => "idle",
            Phase::Mail => "MAIL",
            Phase::Rcpt => "RCPT",
            Phase::Data => "DATA",
            Phase::Body => "message body",
            Phase::Bdat => "BDAT",
            Phase::Message => "end of message",
            Phase::Rset => "RSET",
            Phase::Quit => "QUIT",
        })
    }
}

/// Why a client session ended, or why an intent was refused.
///
/// Errors delivered as [`mailsec_tls::Output::Error`] end the session (an
/// [`mailsec_tls::Output::Close`] follows). Errors returned by intent methods
/// ([`super::Client::send_message`], …) leave the session as it was: [`ClientError::Misuse`],
/// [`ClientError::MissingExtension`], [`ClientError::MessageTooLarge`],
/// [`ClientError::RequireTlsWithoutTls`], [`ClientError::TooManyRecipients`].
///
/// Server text inside a [`Reply`] has had its control characters removed
/// ([`mailsec_tls::text::sanitize`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server refused something the session needs (a non-`220` greeting, EHLO and HELO
    /// refused, AUTH refused with `535`…).
    #[error("{phase}: the server replied {}", reply.summary())]
    Rejected {
        /// Where.
        phase: Phase,
        /// The server's reply.
        reply: Reply,
    },
    /// The server said `421`: it is closing the connection (RFC 5321 §3.8).
    #[error("{phase}: the server is closing the connection: {}", reply.summary())]
    ServiceClosing {
        /// Where.
        phase: Phase,
        /// The `421` reply.
        reply: Reply,
    },
    /// A reply that makes no sense where it came (a reply nobody asked for, a `334` outside
    /// AUTH, a multi-line SASL challenge…).
    #[error("{phase}: unexpected reply {}", reply.summary())]
    UnexpectedReply {
        /// Where.
        phase: Phase,
        /// The reply.
        reply: Reply,
    },
    /// The policy requires TLS and the server's EHLO reply does not offer STARTTLS (RFC 3207
    /// §6: a stripped offer is an attack as far as this client is concerned).
    #[error("TLS required but the server does not offer STARTTLS")]
    StartTlsNotOffered,
    /// The policy requires TLS and the server did not answer STARTTLS with `220`.
    #[error(
        "TLS required but the server answered STARTTLS with {}",
        reply.summary()
    )]
    StartTlsRefused {
        /// The server's reply.
        reply: Reply,
    },
    /// Bytes followed the `220` go-ahead to STARTTLS, or arrived before the handshake: a
    /// meddler's replies that would otherwise be read as if they came over TLS
    /// (CVE-2021-38371, CVE-2021-22947, CVE-2020-14954).
    #[error("response injection: {0} byte(s) after the STARTTLS go-ahead")]
    ResponseInjection(usize),
    /// The policy requires TLS and the connection is not secure: input arrived before the
    /// implicit TLS handshake completed, or the driver reported TLS nobody asked for.
    #[error("TLS required but the connection is not secure")]
    NotSecure,
    /// Credentials are configured but no mechanism can be used: none offered that this client
    /// implements and is allowed to use, or only plaintext-equivalent ones on a connection
    /// without TLS (RFC 4954 §4). Nothing was sent.
    #[error("no usable AUTH mechanism (offered: {offered:?}, secure: {secure})")]
    AuthUnavailable {
        /// The mechanism names the server offered.
        offered: Vec<String>,
        /// Whether the connection was secure.
        secure: bool,
    },
    /// The SASL exchange failed on this side (a malformed challenge, a SCRAM server signature
    /// that does not verify…).
    #[error("SASL: {0}")]
    Sasl(#[from] SaslError),
    /// A reply broke the rules (mixed codes, too many lines, too large…).
    #[error("malformed reply: {0}")]
    Reply(#[from] ReplyError),
    /// A reply line was too long or not ended by CRLF.
    #[error("bad reply line: {0}")]
    Framing(#[from] FrameError),
    /// The server did not answer in time (RFC 5321 §4.5.3.2), or the application stalled
    /// the message body for longer than the data block timeout.
    #[error("{phase}: timed out")]
    Timeout {
        /// Where.
        phase: Phase,
    },
    /// The server closed the connection.
    #[error("{phase}: connection closed by the server")]
    ConnectionClosed {
        /// Where.
        phase: Phase,
    },
    /// The message needs an extension the server did not announce (`SMTPUTF8`, `8BITMIME`,
    /// `BINARYMIME`, `CHUNKING`, `DSN`, `REQUIRETLS`). Nothing was sent.
    #[error("the server does not support {0}, which the message needs")]
    MissingExtension(&'static str),
    /// The declared message size exceeds the server's `SIZE` (RFC 1870 §4). Nothing was sent.
    #[error("message of {size} octets exceeds the server's limit of {limit}")]
    MessageTooLarge {
        /// The size declared in the envelope.
        size: u64,
        /// The server's announced limit.
        limit: u64,
    },
    /// REQUIRETLS (RFC 8689) asked on a connection without TLS. Nothing was sent.
    #[error("REQUIRETLS needs a TLS connection")]
    RequireTlsWithoutTls,
    /// More recipients than the configured limit. Nothing was sent.
    #[error("{count} recipients exceed the limit of {limit}")]
    TooManyRecipients {
        /// Recipients in the envelope.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The message body cannot be sent as given (bare CR or LF, a line too long); DATA cannot
    /// be aborted, so the session ends rather than deliver a truncated message.
    #[error("the message body cannot be sent: {0}")]
    Body(#[from] EncodeError),
    /// An intent called when the session cannot take it (a message before `Ready`, data
    /// before `ReadyForData`…). The session is unchanged.
    #[error("API misuse: {0}")]
    Misuse(&'static str),
}

impl ClientError {
    /// The phase the error names, if any.
    pub fn phase(&self) -> Option<Phase> {
        match self {
            ClientError::Rejected { phase, .. }
            | ClientError::ServiceClosing { phase, .. }
            | ClientError::UnexpectedReply { phase, .. }
            | ClientError::Timeout { phase }
            | ClientError::ConnectionClosed { phase } => Some(*phase),
            ClientError::StartTlsNotOffered
            | ClientError::StartTlsRefused { .. }
            | ClientError::ResponseInjection(_) => Some(Phase::StartTls),
            ClientError::AuthUnavailable { .. } | ClientError::Sasl(_) => Some(Phase::Auth),
            _ => None,
        }
    }

    /// The server's reply behind the error, if one is (code, enhanced code and sanitized text).
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            ClientError::Rejected { reply, .. }
            | ClientError::ServiceClosing { reply, .. }
            | ClientError::UnexpectedReply { reply, .. }
            | ClientError::StartTlsRefused { reply } => Some(reply),
            _ => None,
        }
    }
}
