//! What the client tells the application: events, per-command failures, session errors.

use std::num::NonZeroU32;

use bytes::Bytes;
use mailsec_tls::sasl::{Mechanism, SaslError};

use crate::error::{ParseError, ValidationError};
use crate::framing::FramingError;
use crate::types::{
    Capability, Code, Data, Flag, FlagPerm, ListData, Mailbox, MsgAtt, NamespaceDesc, SequenceSet,
    StatusItem, StatusKind,
};

/// Identifies one intent; every result event of that intent carries it. Increasing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Where the session was when something happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Waiting for the implicit TLS handshake.
    AwaitTls,
    /// Waiting for the greeting.
    Greeting,
    /// Asking for capabilities before login.
    Capability,
    /// STARTTLS sent, or the handshake after it.
    StartTls,
    /// LOGIN or AUTHENTICATE.
    Authentication,
    /// Logged in.
    Authenticated,
    /// Ended.
    Closed,
}

/// How the client authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `AUTHENTICATE` with this SASL mechanism (RFC 9051 §6.2.2).
    Sasl(Mechanism),
    /// `LOGIN` (RFC 9051 §6.2.3).
    Login,
    /// The server greeted with PREAUTH (RFC 9051 §7.1.4).
    Preauth,
}

/// What SELECT or EXAMINE reported (RFC 9051 §6.3.2).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SelectedInfo {
    /// Messages in the mailbox (`* n EXISTS`).
    pub exists: u32,
    /// `[UIDVALIDITY n]`, if sent.
    pub uid_validity: Option<NonZeroU32>,
    /// `[UIDNEXT n]`, if sent.
    pub uid_next: Option<NonZeroU32>,
    /// `* FLAGS (...)`.
    pub flags: Vec<Flag<'static>>,
    /// `[PERMANENTFLAGS (...)]`; `None` when not sent (every flag in `flags` may then be
    /// changed, RFC 9051 §7.1).
    pub permanent_flags: Option<Vec<FlagPerm<'static>>>,
    /// `[READ-ONLY]` in the tagged OK (always for EXAMINE).
    pub read_only: bool,
    /// `[HIGHESTMODSEQ n]` (CONDSTORE), if sent.
    pub highest_modseq: Option<u64>,
}

/// `[COPYUID validity from to]` (RFC 4315 §3): where copied or moved messages went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyUid {
    /// The destination's UIDVALIDITY.
    pub uid_validity: NonZeroU32,
    /// Source UIDs.
    pub from: SequenceSet,
    /// Destination UIDs, in the same order.
    pub to: SequenceSet,
}

/// A server's `NO` or `BAD` to one command: the session goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandError {
    /// The command name (`UID FETCH`, `SELECT`, …).
    pub command: &'static str,
    /// `NO` or `BAD`.
    pub status: StatusKind,
    /// The response code, if any (`[TRYCREATE]`, `[NONEXISTENT]`, …).
    pub code: Option<Code<'static>>,
    /// The server's text, control characters removed ([`mailsec_tls::text::sanitize`]).
    pub text: String,
}

/// Something the server said that no request asked for (RFC 9051 §7: the server may send
/// untagged data at any time). Only ever reported for data received over TLS, or on a session
/// that the policy keeps in clear.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unsolicited {
    /// `* n EXISTS`: the selected mailbox now holds `n` messages.
    Exists(u32),
    /// `* n RECENT` (IMAP4rev1).
    Recent(u32),
    /// `* n EXPUNGE`: message `n` is gone; later sequence numbers move down by one.
    Expunge(u32),
    /// `* VANISHED` (QRESYNC).
    Vanished {
        /// `(EARLIER)`.
        earlier: bool,
        /// The UIDs.
        uids: SequenceSet,
    },
    /// `* n FETCH (...)` no request asked for (typically a flag change).
    Fetch {
        /// The message sequence number.
        seq: u32,
        /// The attributes.
        attributes: Vec<MsgAtt<'static>>,
    },
    /// `* FLAGS (...)` outside SELECT.
    Flags(Vec<Flag<'static>>),
    /// `[ALERT]` text the user must see (RFC 9051 §7.1), sanitized.
    Alert(String),
    /// Another untagged `OK`/`NO`/`BAD` with a code or text.
    Status {
        /// OK, NO or BAD.
        status: StatusKind,
        /// The code.
        code: Option<Code<'static>>,
        /// The text, sanitized.
        text: String,
    },
    /// `* CAPABILITY` or `[CAPABILITY]` outside a capability request: the new list.
    Capabilities(Vec<Capability<'static>>),
    /// Any other untagged data.
    Data(Data<'static>),
}

/// What the client tells the application.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// TLS is up (STARTTLS upgrade done, or implicit TLS); everything learned before was
    /// forgotten.
    Secured,
    /// Logged in (or PREAUTH). Intents are sent from now on.
    Ready {
        /// The capabilities (over TLS when `secure`).
        capabilities: Vec<Capability<'static>>,
        /// Whether the connection is TLS with a verified certificate.
        secure: bool,
        /// How the client authenticated.
        auth: AuthMethod,
    },
    /// Answer to [`Client::capability`](super::Client::capability).
    Capabilities {
        /// The intent.
        id: RequestId,
        /// The list.
        capabilities: Vec<Capability<'static>>,
    },
    /// Answer to [`Client::list`](super::Client::list).
    Listed {
        /// The intent.
        id: RequestId,
        /// The entries, in the server's order (names as sent: see
        /// [`Mailbox::to_utf8`]).
        folders: Vec<ListData<'static>>,
    },
    /// Answer to [`Client::status`](super::Client::status).
    Status {
        /// The intent.
        id: RequestId,
        /// The mailbox.
        mailbox: Mailbox<'static>,
        /// The items with their values.
        items: Vec<(StatusItem, u64)>,
    },
    /// Answer to [`Client::select`](super::Client::select) /
    /// [`Client::examine`](super::Client::examine).
    Selected {
        /// The intent.
        id: RequestId,
        /// What the server reported.
        info: SelectedInfo,
    },
    /// One `FETCH` response to a fetch (or a non-silent store); [`ClientEvent::Completed`]
    /// follows the last.
    Fetched {
        /// The intent.
        id: RequestId,
        /// The message sequence number.
        seq: u32,
        /// The attributes, owned.
        attributes: Vec<MsgAtt<'static>>,
    },
    /// The whole message of [`Client::fetch_message`](super::Client::fetch_message), as one
    /// buffer (the literal, bounded by [`ClientConfigBuilder::max_literal`](super::ClientConfigBuilder::max_literal);
    /// not streamed: for that, [`Client::fetch_message_streamed`](super::Client::fetch_message_streamed)).
    /// [`ClientEvent::Completed`] follows.
    Message {
        /// The intent.
        id: RequestId,
        /// The message sequence number.
        seq: u32,
        /// The UID, when the server sent it.
        uid: Option<u32>,
        /// The flags, when the server sent them.
        flags: Option<Vec<Flag<'static>>>,
        /// The octets of `BODY[]` (empty for `NIL`).
        data: Bytes,
    },
    /// A streamed message begins ([`Client::fetch_message_streamed`](super::Client::fetch_message_streamed)):
    /// its `size` octets follow as [`ClientEvent::MessageData`], then
    /// [`ClientEvent::MessageEnd`], then [`ClientEvent::Completed`].
    MessageStart {
        /// The intent.
        id: RequestId,
        /// The message sequence number.
        seq: u32,
        /// The UID, when the server sent it before the body (it may come after: see
        /// [`ClientEvent::MessageEnd`]).
        uid: Option<u32>,
        /// The announced size of the body literal, in octets.
        size: u64,
    },
    /// The next octets of a streamed message, in order, each at most
    /// [`ClientConfigBuilder::stream_chunk`](super::ClientConfigBuilder::stream_chunk) long
    /// and never empty.
    MessageData {
        /// The intent.
        id: RequestId,
        /// The octets.
        data: Bytes,
    },
    /// A streamed message is complete, with the attributes sent around it.
    MessageEnd {
        /// The intent.
        id: RequestId,
        /// The message sequence number.
        seq: u32,
        /// The UID, when the server sent it (before or after the body).
        uid: Option<u32>,
        /// The flags, when the server sent them (before or after the body).
        flags: Option<Vec<Flag<'static>>>,
        /// How many octets were handed out (the announced size).
        size: u64,
    },
    /// Answer to [`Client::enable`](super::Client::enable): what the server's `* ENABLED`
    /// listed among those asked for (RFC 5161 §3.2; others are ignored); only these are in
    /// force, see
    /// [`Client::enabled`](super::Client::enabled).
    Enabled {
        /// The intent.
        id: RequestId,
        /// The capabilities enabled by this command.
        capabilities: Vec<Capability<'static>>,
    },
    /// Answer to [`Client::id`](super::Client::id): the server's `* ID` (RFC 2971 §3.2),
    /// checked against the limits of §3.3; `None` for `ID NIL` or no `* ID` at all.
    IdInfo {
        /// The intent.
        id: RequestId,
        /// Field and value pairs (values `None` for NIL), sanitized, in the server's order.
        fields: Option<Vec<(String, Option<String>)>>,
    },
    /// Answer to [`Client::namespace`](super::Client::namespace) (RFC 2342 §5): each class `None` for NIL.
    Namespaces {
        /// The intent.
        id: RequestId,
        /// Personal namespaces.
        personal: Option<Vec<NamespaceDesc<'static>>>,
        /// Other users' namespaces.
        other: Option<Vec<NamespaceDesc<'static>>>,
        /// Shared namespaces.
        shared: Option<Vec<NamespaceDesc<'static>>>,
    },
    /// Answer to [`Client::search`](super::Client::search): matching UIDs.
    Searched {
        /// The intent.
        id: RequestId,
        /// The UIDs, in the server's order.
        uids: Vec<u32>,
    },
    /// Answer to [`Client::append`](super::Client::append).
    Appended {
        /// The intent.
        id: RequestId,
        /// `[APPENDUID validity uid]` (UIDPLUS), if sent.
        uid_validity: Option<NonZeroU32>,
        /// The UID(s) assigned, if sent.
        uids: Option<SequenceSet>,
    },
    /// Answer to [`Client::copy`](super::Client::copy).
    Copied {
        /// The intent.
        id: RequestId,
        /// `[COPYUID]`, if sent.
        copy_uid: Option<CopyUid>,
    },
    /// Answer to [`Client::move_messages`](super::Client::move_messages) (MOVE, or COPY +
    /// STORE `\Deleted` + UID EXPUNGE when MOVE is missing).
    Moved {
        /// The intent.
        id: RequestId,
        /// `[COPYUID]`, if sent.
        copy_uid: Option<CopyUid>,
    },
    /// A command without data of its own completed (NOOP, CREATE, DELETE, RENAME,
    /// SUBSCRIBE, STORE, EXPUNGE, the end of a FETCH), with the tagged OK's code and text.
    Completed {
        /// The intent.
        id: RequestId,
        /// The command name.
        command: &'static str,
        /// The response code.
        code: Option<Code<'static>>,
        /// The text, sanitized.
        text: String,
    },
    /// The server answered `NO` or `BAD`; the session goes on.
    Failed {
        /// The intent.
        id: RequestId,
        /// What the server said.
        error: CommandError,
    },
    /// Untagged data no request asked for.
    Unsolicited(Unsolicited),
    /// The server accepted IDLE (`+`): unsolicited data now comes as it happens.
    IdleStarted {
        /// The intent.
        id: RequestId,
    },
    /// The IDLE ended (after [`Client::idle_stop`](super::Client::idle_stop)).
    IdleEnded {
        /// The intent.
        id: RequestId,
    },
    /// The session ended in order (LOGOUT answered, or the connection closed after it).
    Closed,
}

/// Why the session ended. A [`mailsec_tls::Output::Close`] follows every error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The greeting did not parse (or was not a greeting).
    #[error("invalid greeting: {0}")]
    InvalidGreeting(ParseError),
    /// The greeting was `* BYE`.
    #[error("server refused the session (BYE {code:?}): {text}")]
    GreetingBye {
        /// Response code, if any.
        code: Option<Code<'static>>,
        /// Sanitized text.
        text: String,
    },
    /// TLS is required and the server greeted with PREAUTH on a plaintext connection, which
    /// makes STARTTLS impossible (CVE-2014-2567 class; SECURITY.md invariant 4).
    #[error("TLS required but the server sent PREAUTH on a plaintext connection")]
    PreauthWithoutTls,
    /// Implicit TLS is configured and plaintext arrived before the handshake completed.
    #[error("implicit TLS configured but input arrived before TLS was established")]
    PlaintextBeforeTls,
    /// The driver reported a TLS handshake the client did not ask for.
    #[error("TLS established without being asked for")]
    UnexpectedTls,
    /// TLS is required and the server's capabilities do not list STARTTLS.
    #[error("TLS required but the server does not offer STARTTLS")]
    StartTlsNotOffered,
    /// TLS is required and the server answered STARTTLS with NO or BAD.
    #[error("TLS required but the server refused STARTTLS ({status:?} {code:?}): {text}")]
    StartTlsRefused {
        /// NO or BAD.
        status: StatusKind,
        /// Response code, if any.
        code: Option<Code<'static>>,
        /// Sanitized text.
        text: String,
    },
    /// The CAPABILITY command the client sends on its own failed.
    #[error("CAPABILITY failed in phase {phase:?} ({status:?} {code:?}): {text}")]
    CapabilityFailed {
        /// Where.
        phase: Phase,
        /// NO or BAD.
        status: StatusKind,
        /// Response code, if any.
        code: Option<Code<'static>>,
        /// Sanitized text.
        text: String,
    },
    /// Bytes followed the tagged OK to STARTTLS before the handshake (CVE-2020-14954 class).
    #[error("response injection: {0} byte(s) after the STARTTLS go-ahead")]
    ResponseInjection(usize),
    /// Password authentication is not possible: the server announces LOGINDISABLED
    /// (RFC 9051 §6.2.3) and no SASL mechanism fits.
    #[error("the server announces LOGINDISABLED and no SASL mechanism fits")]
    LoginDisabled,
    /// No authentication method is both offered and permitted.
    #[error("no usable authentication: {0}")]
    NoUsableAuth(&'static str),
    /// The server rejected the credentials (or the AUTHENTICATE exchange).
    #[error("authentication with {method:?} failed ({status:?} {code:?}): {text}")]
    AuthFailed {
        /// The method tried.
        method: AuthMethod,
        /// NO or BAD.
        status: StatusKind,
        /// Response code, if any (`[AUTHENTICATIONFAILED]`, `[UNAVAILABLE]`, …).
        code: Option<Code<'static>>,
        /// Sanitized text.
        text: String,
    },
    /// The SASL exchange failed on the client side (bad challenge, SCRAM server signature).
    #[error("SASL: {0}")]
    Sasl(#[from] SaslError),
    /// A response did not parse.
    #[error("malformed response in phase {phase:?}: {error}")]
    Malformed {
        /// Where.
        phase: Phase,
        /// Why.
        error: ParseError,
    },
    /// The response stream broke the framing rules (too long, bad literal, bare CR).
    #[error("framing: {0}")]
    Framing(#[from] FramingError),
    /// A response came when none was expected, or of the wrong kind.
    #[error("unexpected response in phase {phase:?}: {what}")]
    Unexpected {
        /// Where.
        phase: Phase,
        /// What.
        what: &'static str,
    },
    /// The server sent `* BYE` outside LOGOUT (RFC 9051 §7.1.5).
    #[error("server closed the session (BYE {code:?}): {text}")]
    Bye {
        /// Response code, if any.
        code: Option<Code<'static>>,
        /// Sanitized text.
        text: String,
    },
    /// A response had more entries than the configured limit.
    #[error("more than {limit} {what} in one response")]
    TooMany {
        /// What.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// Nothing arrived for the response timeout while a response was expected (a dead link,
    /// e.g. a NOOP or DONE never answered).
    #[error("timed out waiting for the server in phase {phase:?}")]
    Timeout {
        /// Where.
        phase: Phase,
    },
    /// The server's `* ID` breaks RFC 2971 §3.3 (a field name over 30 octets, a value over
    /// 1024, more than 30 pairs, or a field twice).
    #[error("invalid ID response: {0}")]
    InvalidId(&'static str),
    /// The server closed the connection before the session ended.
    #[error("connection closed by the server in phase {phase:?}")]
    ConnectionClosed {
        /// Where.
        phase: Phase,
    },
}

/// Why an intent was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The session has ended.
    #[error("the session has ended")]
    Closed,
    /// LOGOUT was already requested.
    #[error("LOGOUT already requested")]
    LoggingOut,
    /// Too many intents are waiting.
    #[error("more than {limit} intents queued")]
    QueueFull {
        /// The limit.
        limit: usize,
    },
    /// An argument cannot be sent (a NUL in a message, an empty sequence set, …).
    #[error("invalid argument: {0}")]
    Invalid(#[from] ValidationError),
    /// [`Client::idle_stop`](super::Client::idle_stop) without an IDLE started or queued.
    #[error("no IDLE to stop")]
    NotIdling,
    /// The command may not be sent now (ENABLE after a mailbox was selected, RFC 5161 §3.1).
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
}
