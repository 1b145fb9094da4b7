//! What the server machine tells the application, and its errors.

use mailsec_tls::sasl::{CredentialCheck, Identity, Mechanism};

use crate::framing::FramingError;

/// How a credential check was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// The LOGIN command (RFC 9051 §6.2.3): the check is a [`CredentialCheck::Password`]
    /// without authzid, like PLAIN's.
    Login,
    /// AUTHENTICATE with this SASL mechanism (RFC 9051 §6.2.2).
    Sasl(Mechanism),
}

/// What the server tells the application. See the [module documentation](super) for which
/// intent answers which event.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerEvent {
    /// TLS is up (implicit or after STARTTLS); everything learned in clear was forgotten.
    Secured,
    /// Check credentials, then call [`Server::answer_credentials`](super::Server::answer_credentials).
    /// `Debug` never shows the password or token. A SASL exchange may ask a second question
    /// for the same command ([`CredentialCheck::Authorize`]).
    CheckCredentials {
        /// What to check.
        check: CredentialCheck,
        /// Which command asked.
        method: AuthMethod,
    },
    /// The client proved who it is: open its mailbox store, then call
    /// [`Server::open_store`](super::Server::open_store) or
    /// [`Server::refuse_store`](super::Server::refuse_store).
    OpenStore {
        /// Who authenticated; the store is [`Identity::acts_as`]'s.
        identity: Identity,
    },
    /// The session is over (always the last event; [`mailsec_tls::Output::Close`] follows).
    /// Take the store back with [`Server::take_store`](super::Server::take_store) if needed.
    Closed {
        /// Whether the client ended the session with LOGOUT.
        logout: bool,
    },
}

/// Why a session ended abnormally (in [`mailsec_tls::Output::Error`], before
/// [`mailsec_tls::Output::Close`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Bytes followed `STARTTLS\r\n` in the plaintext input (or arrived before the
    /// handshake ended): command injection (CVE-2011-0411, CVE-2021-33515). No upgrade.
    #[error("command injection: {bytes} byte(s) pipelined after STARTTLS")]
    CommandInjection {
        /// How many bytes were waiting.
        bytes: usize,
    },
    /// More input arrived than may be held unprocessed.
    #[error("more than {limit} octets of unprocessed input")]
    InputOverflow {
        /// The bound in force.
        limit: usize,
    },
    /// The framer cannot go on (a literal too large to skip, input while a literal decision
    /// was pending beyond the bound).
    #[error("framing failed: {0}")]
    Framing(FramingError),
    /// Before login, the client sent an HTTP request line (`GET / HTTP/1.1`): a browser
    /// talking to the IMAP port, as in cross-protocol attacks (ALPACA). The session is closed
    /// at once rather than answering (and reflecting) line after line.
    #[error("cross-protocol request (HTTP) on the IMAP port")]
    CrossProtocol,
    /// The client was idle longer than the autologout timeout (or stopped reading a
    /// response).
    #[error("autologout timeout")]
    Timeout,
    /// Too many unknown, malformed or misplaced commands.
    #[error("too many bad commands")]
    TooManyBadCommands,
    /// Too many failed logins.
    #[error("too many failed logins")]
    TooManyAuthFailures,
    /// The store gave fewer octets of a message than its size promised, after the literal
    /// was announced: the response cannot be repaired.
    #[error("message {uid} shorter than announced or unreadable in the middle of a literal")]
    MessageTruncated {
        /// The message's uid.
        uid: u32,
    },
}

/// An intent method called when the machine was not waiting for it (a programming error of
/// the application, or a race with the end of the session). Nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The machine is waiting for something else (or for nothing).
    #[error("{intent} called while the server waits for {waiting_for}")]
    Unexpected {
        /// The intent called.
        intent: &'static str,
        /// What the machine waits for.
        waiting_for: &'static str,
    },
    /// The session is over.
    #[error("{0} called after the session ended")]
    Closed(&'static str),
}

/// Why the application will not open a store after a successful authentication; each
/// becomes a tagged `NO` with its RFC 5530 code, and the session stays not authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreRefusal {
    /// The mailboxes are busy (`NO [INUSE]`).
    InUse,
    /// A temporary problem (`NO [UNAVAILABLE]`).
    Unavailable,
    /// The user may not log in here (`NO [AUTHORIZATIONFAILED]`); counted as a failed login.
    NotAuthorized,
}

/// The state of a session (RFC 9051 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// Before the greeting of an implicit-TLS session (the handshake is not done).
    Handshake,
    /// Not authenticated.
    NotAuthenticated,
    /// Authenticated, no folder selected.
    Authenticated,
    /// A folder is selected.
    Selected,
    /// The session is over.
    Logout,
}
