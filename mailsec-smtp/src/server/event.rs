//! What the server tells the application, and how a session can fail.

use bytes::Bytes;
use mailsec_tls::sasl::{CredentialCheck, Identity, Mechanism, SaslError};

use crate::error::{DataError, ReplyError};
use crate::types::{
    EnhancedCode, ForwardPath, Host, MailParam, RcptParam, Reply, ReplyCode, ReversePath,
};

/// What the [`Server`](super::Server) tells the application.
///
/// Events marked *decision* pause the machine: it reads no further input (it keeps buffering
/// it, bounded) until the application calls the intent named, then answers the client and goes
/// on. Replies therefore always come in command order (RFC 2920).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The client said EHLO (`extended`) or HELO. Any transaction in progress was dropped.
    Hello {
        /// The name the client gave (unverified).
        name: Host,
        /// EHLO rather than HELO.
        extended: bool,
    },
    /// TLS is up (after STARTTLS, or implicit TLS). Everything learned in clear was forgotten:
    /// the client must say EHLO again, authenticate again, start any transaction again.
    Secured,
    /// *Decision*: check these credentials (AUTH, RFC 4954), then call
    /// [`Server::answer_credentials`](super::Server::answer_credentials). `Debug` hides the
    /// secret.
    CredentialCheck(CredentialCheck),
    /// AUTH succeeded (`235 2.7.0` sent).
    Authenticated {
        /// Who authenticated, and as whom they act.
        identity: Identity,
    },
    /// AUTH failed (`535 5.7.8`, or `501` for a cancelled or malformed exchange). For logs.
    AuthenticationFailed {
        /// The mechanism tried.
        mechanism: Mechanism,
        /// Why, for logs only: the client was told no more than "failed".
        reason: SaslError,
    },
    /// *Decision*: `MAIL FROM`. Call [`Server::accept_sender`](super::Server::accept_sender)
    /// or [`Server::reject_sender`](super::Server::reject_sender). A submission server should
    /// refuse a sender that `identity` may not use.
    MailFrom {
        /// The reverse path (`<>` for bounces).
        from: ReversePath,
        /// The parameters, already checked against the offered extensions (SIZE within the
        /// limit, BODY, SMTPUTF8, DSN's RET/ENVID, REQUIRETLS only over TLS).
        params: Vec<MailParam>,
        /// Who authenticated on this connection, if anyone.
        identity: Option<Identity>,
        /// Whether the connection is protected by TLS.
        secure: bool,
    },
    /// *Decision*: `RCPT TO`. Call
    /// [`Server::accept_recipient`](super::Server::accept_recipient) or
    /// [`Server::reject_recipient`](super::Server::reject_recipient).
    Recipient {
        /// The forward path.
        to: ForwardPath,
        /// The parameters (DSN's NOTIFY and ORCPT).
        params: Vec<RcptParam>,
    },
    /// A piece of the message body, in order: after DATA dot-unstuffed (CRLFs kept, the
    /// terminating `.` line not included), after BDAT as sent. Slices of the received input,
    /// not copies. Keep nothing for good before [`Event::MessageEnd`].
    MessageData(Bytes),
    /// *Decision*: the whole message was received intact. Call
    /// [`Server::accept_message`](super::Server::accept_message) only once it is safely
    /// stored (the client is told `250` then, and not before), or
    /// [`Server::reject_message`](super::Server::reject_message).
    MessageEnd {
        /// Body octets handed out in [`Event::MessageData`].
        size: u64,
    },
    /// The message being received will not be completed: discard what
    /// [`Event::MessageData`] brought. The transaction is over.
    MessageAborted {
        /// Why.
        reason: AbortReason,
    },
    /// A transaction whose sender was accepted ended without a message (RSET, EHLO, HELO,
    /// STARTTLS): forget its envelope.
    TransactionReset,
    /// The session ended in order (QUIT, [`Server::shutdown`](super::Server::shutdown), or the
    /// client closed between transactions). [`Output::Close`](mailsec_tls::Output::Close)
    /// follows.
    Closed,
}

/// Why a message was aborted ([`Event::MessageAborted`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AbortReason {
    /// The DATA body broke a rule: bare CR or LF (SMTP smuggling), a line too long, larger
    /// than the limit. The client was answered after its terminator.
    Data(DataError),
    /// A BDAT chunk would make the message larger than the limit (`552 5.3.4`).
    TooBig {
        /// The limit in force.
        limit: u64,
    },
    /// RSET, QUIT or a new EHLO between BDAT chunks.
    Reset,
    /// The connection ended (or the application gave up on it) mid-message.
    ConnectionLost,
    /// The client was too slow.
    Timeout,
    /// [`Server::shutdown`](super::Server::shutdown).
    Shutdown,
}

/// Why a session failed ([`Output::Error`](mailsec_tls::Output::Error); a
/// [`Output::Close`](mailsec_tls::Output::Close) follows).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Bytes followed `STARTTLS` CRLF in the input (command injection, CVE-2011-0411), or
    /// arrived between the go-ahead and the handshake. No upgrade happened.
    #[error("command injection: {0} byte(s) pipelined after STARTTLS")]
    CommandInjection(usize),
    /// Input arrived on an implicit-TLS listener before TLS was established.
    #[error("input before the TLS handshake on an implicit-TLS listener")]
    InputBeforeTls,
    /// The client sent more than the buffer limit while the application was deciding.
    #[error("more than {limit} bytes of pipelined input")]
    InputOverflow {
        /// The limit in force.
        limit: usize,
    },
    /// The client made too many errors (`421 4.7.0` sent).
    #[error("too many errors ({0})")]
    TooManyErrors(usize),
    /// The client was idle too long (`421 4.4.2` sent).
    #[error("timeout")]
    Timeout,
    /// The client closed the connection in the middle of a message or an AUTH exchange.
    #[error("connection closed by the client mid-transaction")]
    UnexpectedEof,
}

/// An intent called when it does not fit (API misuse, never the peer's fault).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntentError {
    /// The machine is not waiting for this decision.
    #[error("not waiting for a {expected} decision")]
    NotAwaiting {
        /// The decision the intent answers.
        expected: &'static str,
    },
    /// A refusal was given a reply that is not `4xx` or `5xx`.
    #[error("a refusal needs a 4xx or 5xx reply")]
    NotARefusal,
    /// An acceptance was given a reply that is not `2xx`.
    #[error("an acceptance needs a 2xx reply")]
    NotAnAcceptance,
    /// The session has ended.
    #[error("the session has ended")]
    Closed,
}

/// Builds a one-line reply with an enhanced status code, for refusals:
/// `reply(550, (5, 1, 1), "No such user")` is `550 5.1.1 No such user`.
///
/// ```
/// let r = mailsec_smtp::server::reply(550, (5, 1, 1), "No such user")?;
/// assert_eq!(r.to_bytes(), b"550 5.1.1 No such user\r\n");
/// # Ok::<(), mailsec_smtp::ReplyError>(())
/// ```
pub fn reply(code: u16, enhanced: (u8, u16, u16), text: &str) -> Result<Reply, ReplyError> {
    Reply::new(
        ReplyCode::new(code)?,
        Some(EnhancedCode::new(enhanced.0, enhanced.1, enhanced.2)?),
        vec![text.to_owned()],
    )
}
