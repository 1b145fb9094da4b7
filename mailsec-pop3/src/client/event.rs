//! What the client tells the application: events, per-command failures, session errors.

use bytes::Bytes;
use mailsec_tls::framer::FrameError;
use mailsec_tls::sasl::{Mechanism, SaslError};

use crate::error::{MultilineError, ParseError, SerializeError};
use crate::types::{
    Capabilities, Command, MessageNumber, ResponseCode, ScanListing, Stat, UidlListing,
};

/// Identifies one intent; every result event of that intent carries it. Increasing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// A transaction-state command the application asked for (RFC 1939 §§5–7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// `STAT`.
    Stat,
    /// `LIST [msg]`.
    List(Option<MessageNumber>),
    /// `UIDL [msg]`.
    Uidl(Option<MessageNumber>),
    /// `TOP msg lines` (0 lines: headers only).
    Top {
        /// The message.
        msg: MessageNumber,
        /// Body lines wanted.
        lines: u32,
    },
    /// `RETR msg`.
    Retr(MessageNumber),
    /// `DELE msg`.
    Dele(MessageNumber),
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT` (enters the UPDATE state, RFC 1939 §6).
    Quit,
}

impl Request {
    /// The command sent on the wire.
    pub fn command(&self) -> Command {
        match *self {
            Request::Stat => Command::Stat,
            Request::List(m) => Command::List(m),
            Request::Uidl(m) => Command::Uidl(m),
            Request::Top { msg, lines } => Command::Top { msg, lines },
            Request::Retr(m) => Command::Retr(m),
            Request::Dele(m) => Command::Dele(m),
            Request::Rset => Command::Rset,
            Request::Noop => Command::Noop,
            Request::Quit => Command::Quit,
        }
    }
}

/// How the client authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `AUTH` with this SASL mechanism (RFC 5034).
    Sasl(Mechanism),
    /// `USER` / `PASS` (RFC 1939 §7).
    UserPass,
    /// `APOP` (RFC 1939 §7).
    Apop,
}

/// A server's `-ERR` to one command: the session goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandError {
    /// The command that failed.
    pub request: Request,
    /// The RFC 2449 §8 response code, if any (`[IN-USE]`, `[SYS/TEMP]`, …).
    pub code: Option<ResponseCode>,
    /// The server's text, control characters removed ([`crate::sanitize_text`]).
    pub text: String,
}

/// What the client tells the application.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// TLS is up (STLS upgrade done, or implicit TLS); everything learned before was
    /// forgotten.
    Secured,
    /// Logged in: the TRANSACTION state (RFC 1939 §5). Intents are sent from now on.
    Ready {
        /// The capabilities listed by the server (over TLS when `secure`); empty if the
        /// server refused CAPA.
        capabilities: Capabilities,
        /// Whether the connection is TLS with a verified certificate.
        secure: bool,
        /// How the client authenticated.
        auth: AuthMethod,
    },
    /// Answer to STAT.
    Stat {
        /// The intent.
        id: RequestId,
        /// The drop listing.
        stat: Stat,
    },
    /// Answer to LIST (one entry for `LIST msg`).
    List {
        /// The intent.
        id: RequestId,
        /// The scan listings, in the server's order.
        listings: Vec<ScanListing>,
    },
    /// Answer to UIDL (one entry for `UIDL msg`).
    Uidl {
        /// The intent.
        id: RequestId,
        /// The unique-id listings, in the server's order.
        listings: Vec<UidlListing>,
    },
    /// A chunk of a RETR or TOP body, dot-unstuffed, CRLF kept. Chunks come in order;
    /// [`ClientEvent::MessageEnd`] follows the last.
    MessageData {
        /// The intent.
        id: RequestId,
        /// The bytes.
        data: Bytes,
    },
    /// The RETR or TOP body is complete.
    MessageEnd {
        /// The intent.
        id: RequestId,
        /// The message.
        msg: MessageNumber,
        /// Body octets handed out (after unstuffing).
        size: u64,
    },
    /// The body grew past the configured maximum: no more data (and no `MessageEnd`) for
    /// this intent; the rest is read and dropped.
    MessageTooLarge {
        /// The intent.
        id: RequestId,
        /// The message.
        msg: MessageNumber,
        /// The limit.
        limit: u64,
    },
    /// DELE acknowledged: the message is marked, removed at QUIT (RFC 1939 §6).
    Deleted {
        /// The intent.
        id: RequestId,
        /// The message.
        msg: MessageNumber,
    },
    /// RSET acknowledged: deletion marks removed.
    Reset {
        /// The intent.
        id: RequestId,
    },
    /// NOOP acknowledged.
    Noop {
        /// The intent.
        id: RequestId,
    },
    /// The server answered `-ERR` to a command; the session goes on.
    Failed {
        /// The intent.
        id: RequestId,
        /// What the server said.
        error: CommandError,
    },
    /// The session ended after QUIT. `update_acknowledged` is `true` only if the server
    /// answered `+OK` (RFC 1939 §6: deleted messages were removed); `false` after `-ERR` or
    /// when the connection closed before the answer.
    Closed {
        /// Whether the UPDATE state succeeded.
        update_acknowledged: bool,
    },
}

/// Why the session ended. A [`mailsec_tls::Output::Close`] follows every error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The greeting was not a `+OK` / `-ERR` line.
    #[error("invalid greeting: {0}")]
    InvalidGreeting(ParseError),
    /// The greeting was `-ERR`.
    #[error("server refused the session: {text}")]
    GreetingRefused {
        /// Response code, if any.
        code: Option<ResponseCode>,
        /// Sanitized text.
        text: String,
    },
    /// TLS is required and the server did not list STLS in CAPA (RFC 2595 §4; SECURITY.md
    /// "STARTTLS stripping").
    #[error("TLS required but the server does not offer STLS")]
    StlsNotOffered,
    /// TLS is required and CAPA failed, so STLS cannot be known to be supported
    /// (SECURITY.md invariant 4: fail closed).
    #[error("TLS required but the server refused CAPA: {text}")]
    CapabilitiesRefused {
        /// Response code, if any.
        code: Option<ResponseCode>,
        /// Sanitized text.
        text: String,
    },
    /// TLS is required and the server answered `-ERR` to STLS.
    #[error("TLS required but the server refused STLS: {text}")]
    StlsRefused {
        /// Response code, if any.
        code: Option<ResponseCode>,
        /// Sanitized text.
        text: String,
    },
    /// Bytes followed the `+OK` to STLS before the handshake (CVE-2021-38371 class).
    #[error("response injection: {0} byte(s) after the STLS go-ahead")]
    ResponseInjection(usize),
    /// Implicit TLS is configured and plaintext arrived before the handshake completed.
    #[error("implicit TLS configured but input arrived before TLS was established")]
    PlaintextBeforeTls,
    /// The driver reported a TLS handshake the client did not ask for.
    #[error("TLS established without being asked for")]
    UnexpectedTls,
    /// No authentication method is both offered and permitted (for example the connection
    /// is not secure and [`mailsec_tls::sasl::InsecureAuth`] refuses cleartext credentials).
    #[error("no usable authentication: {0}")]
    NoUsableAuth(&'static str),
    /// The server rejected the credentials (or the AUTH exchange).
    #[error("authentication with {method:?} failed: {text}")]
    AuthFailed {
        /// The method tried.
        method: AuthMethod,
        /// Response code, if any (`[AUTH]`, `[SYS/TEMP]`, `[IN-USE]`, …).
        code: Option<ResponseCode>,
        /// Sanitized text.
        text: String,
    },
    /// The SASL exchange failed on the client side (bad challenge, SCRAM server signature).
    #[error("SASL: {0}")]
    Sasl(#[from] SaslError),
    /// A response did not parse.
    #[error("malformed {what}: {error}")]
    Malformed {
        /// Which response.
        what: &'static str,
        /// Why.
        error: ParseError,
    },
    /// A response came when none was expected, or of the wrong kind.
    #[error("unexpected response: {0}")]
    UnexpectedResponse(&'static str),
    /// A line broke the framing rules (too long, bare CR/LF).
    #[error("framing: {0}")]
    Framing(#[from] FrameError),
    /// A multi-line body broke the rules.
    #[error("message body: {0}")]
    Body(#[from] MultilineError),
    /// A LIST or UIDL listing had more entries than allowed.
    #[error("listing longer than {limit} entries")]
    TooManyEntries {
        /// The limit.
        limit: usize,
    },
    /// CAPA had more lines than allowed.
    #[error("more than {limit} capabilities")]
    TooManyCapabilities {
        /// The limit.
        limit: usize,
    },
    /// A command could not be written (a user name with SP, a password too long).
    #[error("cannot send command: {0}")]
    Serialize(#[from] SerializeError),
    /// The server sent nothing for the response timeout.
    #[error("timed out waiting for the server")]
    Timeout,
    /// The server closed the connection before the session ended.
    #[error("connection closed by the server")]
    ConnectionClosed,
}

/// Why an intent was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The session has ended.
    #[error("the session has ended")]
    Closed,
    /// QUIT was already requested.
    #[error("QUIT already requested")]
    Quitting,
    /// Too many intents are waiting.
    #[error("more than {limit} intents queued")]
    QueueFull {
        /// The limit.
        limit: usize,
    },
}
