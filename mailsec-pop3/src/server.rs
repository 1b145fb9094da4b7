//! The Sans-IO POP3 server machine (RFC 1939, RFC 2449, RFC 2595, RFC 3206, RFC 5034).
//!
//! [`Pop3Server`] implements [`mailsec_tls::Machine`]: bytes, end of stream, deadlines and
//! "TLS is up" go in; [`Output`]s come out, in order. Everything the machine cannot decide by
//! itself is an [`Output::Event`] ([`ServerEvent`]) that the application answers with an
//! intent method; until then the machine reads no further command (pipelined ones wait in a
//! bounded buffer) and answers nothing, so replies always come in command order
//! (RFC 2449 §6.6, PIPELINING).
//!
//! | event | the application answers with |
//! | --- | --- |
//! | [`ServerEvent::CheckCredentials`] (USER/PASS, AUTH) | [`Pop3Server::answer_credentials`] |
//! | [`ServerEvent::CheckApop`] | [`Pop3Server::answer_credentials`] (it computes the MD5) |
//! | [`ServerEvent::OpenMaildrop`] | [`Pop3Server::open_maildrop`] or [`Pop3Server::refuse_maildrop`] |
//! | [`ServerEvent::Retrieve`] (RETR, TOP) | one of [`Pop3Server::send_message_data`], [`Pop3Server::end_message`], [`Pop3Server::serve_message`], [`Pop3Server::message_unavailable`] |
//! | [`ServerEvent::ReadyForMessageData`] | one of [`Pop3Server::send_message_data`], [`Pop3Server::end_message`], [`Pop3Server::message_unavailable`] |
//! | [`ServerEvent::Update`] (QUIT in TRANSACTION) | [`Pop3Server::update_done`] |
//! | [`ServerEvent::Secured`], [`ServerEvent::Closed`] | nothing (information) |
//!
//! [`Pop3Server::shutdown`] ends the session at any time the application wants (the server is
//! stopping).
//!
//! # States (RFC 1939 §3)
//!
//! ```text
//!  greeting ─▶ AUTHORIZATION ──USER/PASS, APOP, AUTH ok + maildrop opened──▶ TRANSACTION
//!                 │  ▲  STLS (plaintext only): +OK, StartTls, then amnesia        │
//!                 │  └──────────────────────────────────────────┘                 │ QUIT
//!                 │ QUIT: +OK, Closed{committed: false}                           ▼
//!                 ▼                                        UPDATE: Event::Update{deleted}
//!               Close  ◀── EOF / timeout / error / shutdown(): Closed{committed: false}, nothing deleted
//! ```
//!
//! Every session ends with exactly one [`ServerEvent::Closed`], then (for an abnormal end:
//! injection, flood, timeout, too many failures, broken message data) one [`Output::Error`],
//! then [`Output::Close`]; nothing is transmitted after `Close`. `committed` is true only when
//! the client sent QUIT in TRANSACTION and the application reported the deletions done.
//! Marked messages (DELE) are deleted by the application in UPDATE only; a connection lost in
//! any other way (end of stream, timeout, error, [`Pop3Server::shutdown`]) deletes nothing
//! (RFC 1939 §6). End of stream after QUIT does not cancel a pending UPDATE. An intent called
//! after the session ended returns [`UsageError::Closed`] and changes nothing; an ask for
//! message data not yet polled when the session ends is withdrawn from the output queue.
//!
//! The idle timer ([`Machine::poll_timeout`]) runs from the last input; a deadline that passes
//! while the machine waits for the application (an event it has polled and not answered), or
//! before the client had a full period since the application's last answer, is re-armed
//! instead of fired. While a message is being sent and the next
//! [`ServerEvent::ReadyForMessageData`] has not been polled, the machine waits for the client
//! to read: a client that takes nothing for a whole period is timed out (after part of a
//! message, without an `-ERR`, which would corrupt the response).
//!
//! # Security
//!
//! - **STLS clean cut** (RFC 2595 §4, CVE-2011-0411): `+OK Begin TLS negotiation` then
//!   [`Output::StartTls`] only if no byte follows `STLS\r\n`; otherwise nothing after it is
//!   executed and the session ends with [`ServerError::CommandInjection`].
//! - **Amnesia**: after the handshake a USER given in clear is forgotten and the session starts
//!   over in AUTHORIZATION; STLS is refused on a secure connection.
//! - **Require secure channel** (the default policy): before TLS, CAPA lists neither `USER` nor
//!   any `SASL` mechanism, and USER, PASS, APOP and AUTH are answered
//!   `-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.`
//! - **Bounds**: command lines of [`MAX_COMMAND_LINE`] octets, SASL lines of
//!   [`MAX_SASL_LINE`], buffered input, failed logins and bad commands
//!   (then close), an idle timer of at least 10 minutes (RFC 1939 §3). Error replies never
//!   echo the client's bytes.
//!
//! # Message content: pulled, one chunk per ask
//!
//! RETR and TOP raise [`ServerEvent::Retrieve`]; the application sends the message as it is
//! stored, **one chunk per ask** (pull, like the SMTP client's `ReadyForData`):
//!
//! 1. [`ServerEvent::Retrieve`] is the first ask. The application answers it with exactly one
//!    of: [`Pop3Server::send_message_data`] (the first chunk, of any size),
//!    [`Pop3Server::end_message`] (an empty message), [`Pop3Server::serve_message`] (a whole
//!    small message from memory) or [`Pop3Server::message_unavailable`].
//! 2. After each `send_message_data` the machine queues the encoded chunk
//!    ([`Output::Transmit`]) and then the next ask, [`ServerEvent::ReadyForMessageData`].
//!    The application answers it with exactly one `send_message_data` (the next chunk),
//!    `end_message` (the message is complete) or `message_unavailable` (reading failed).
//! 3. An ask is taken when the application **polls** it ([`Machine::poll_output`]). Calling
//!    one of those intents while no ask is held — e.g. `send_message_data` twice in a row —
//!    returns [`UsageError::Unexpected`] and changes nothing: the session goes on, and the
//!    call can be repeated once the next ask has been polled.
//!
//! Because the ask comes out of the same ordered queue right after the chunk it follows, a
//! driver that stops draining outputs while too much waits for the socket (as
//! `mailsec_tls::driver::Driver` does) hands the application the next ask only once the
//! client has read enough: memory per RETR is one chunk plus its dot-stuffing overhead, never
//! the whole message.
//!
//! The machine writes the `+OK` line, dot-stuffs, converts bare line endings as configured, adds
//! the terminator and, **for TOP, cuts the message itself** after the header and the
//! requested number of body lines (lines end at LF): the application may send the whole
//! message, or end early once it has sent at least that much. Bytes after the cut are
//! dropped.
//!
//! # Example: the RFC 1939 §10 session over an `insecure_plaintext` listener
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use mailsec_pop3::maildrop::MemoryMaildrop;
//! use mailsec_pop3::server::{Pop3Server, ServerConfig, ServerEvent, UsageError};
//! use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, ExposeSecret};
//! use mailsec_tls::{Machine, Output, ServerPolicy};
//!
//! let config = ServerConfig::builder().policy(ServerPolicy::insecure_plaintext()).build()?;
//! let mut server = Pop3Server::new(Arc::new(config), Instant::now());
//! let mut store = MemoryMaildrop::new();
//! store.push("uid-1", &b"Subject: hi\r\n\r\n.hidden\r\n"[..])?;
//!
//! // One answer per ask: the next chunk, or the end of the message.
//! fn send_next(server: &mut Pop3Server, rest: &mut Vec<u8>) -> Result<(), UsageError> {
//!     if rest.is_empty() {
//!         return server.end_message();
//!     }
//!     let chunk: Vec<u8> = rest.drain(..rest.len().min(8)).collect();
//!     server.send_message_data(&chunk)
//! }
//!
//! let mut wire = Vec::new();
//! let mut closed = false;
//! let mut sending = Vec::new();
//! let input = b"USER mrose\r\nPASS tanstaaf\r\nSTAT\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n";
//! server.handle_input(Instant::now(), input);
//! // The drive loop: drain, answer events, repeat until nothing is left.
//! loop {
//!     let Some(output) = server.poll_output() else { break };
//!     match output {
//!         Output::Transmit(bytes) => wire.extend_from_slice(&bytes),
//!         Output::Event(ServerEvent::CheckCredentials { check, .. }) => {
//!             let ok = matches!(&check, CredentialCheck::Password { authcid, password, .. }
//!                 if authcid == "mrose" && password.expose_secret() == "tanstaaf");
//!             server.answer_credentials(if ok { CheckAnswer::Accept } else { CheckAnswer::Reject })?;
//!         }
//!         Output::Event(ServerEvent::OpenMaildrop { .. }) => {
//!             server.open_maildrop(Box::new(store.clone()))?;
//!         }
//!         // Pulled one chunk per ask (here 8 octets; a file would be read 64 KiB at a time).
//!         Output::Event(ServerEvent::Retrieve { uid, .. }) => {
//!             sending = store.content(uid.as_bytes()).unwrap_or_default().to_vec();
//!             send_next(&mut server, &mut sending)?;
//!         }
//!         Output::Event(ServerEvent::ReadyForMessageData { .. }) => {
//!             send_next(&mut server, &mut sending)?;
//!         }
//!         Output::Event(ServerEvent::Update { deleted }) => {
//!             store.remove(deleted.iter().map(|(_, uid)| uid));
//!             server.update_done(true)?;
//!         }
//!         Output::Event(ServerEvent::Closed { committed }) => closed = committed,
//!         Output::Close => break,
//!         _ => {}
//!     }
//! }
//! let wire = String::from_utf8(wire).unwrap();
//! assert!(wire.starts_with("+OK POP3 server ready\r\n+OK Send your password\r\n+OK Maildrop ready"), "{wire}");
//! assert!(wire.contains("+OK 1 24\r\n+OK 24 octets\r\nSubject: hi\r\n\r\n..hidden\r\n.\r\n"), "{wire}");
//! assert!(wire.ends_with("+OK Message 1 deleted\r\n+OK POP3 server signing off\r\n"));
//! assert!(closed && store.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use mailsec_tls::framer::{FrameError, LineFramer};
use mailsec_tls::sasl::{
    CheckAnswer, CredentialCheck, Identity, InsecureAuth, MAX_IDENTITY_LEN, MAX_PASSWORD_LEN,
    Mechanism, SaslError, SecretString, ServerExchange, ServerStep,
};
use mailsec_tls::{ListenerTls, Machine, Output, TlsInfo};

pub use self::config::{
    ConfigError, MAX_APOP_TIMESTAMP, MAX_CONFIG_TEXT, MIN_IDLE_TIMEOUT, ServerConfig,
    ServerConfigBuilder,
};
use crate::error::{MultilineError, ParseError};
use crate::maildrop::{Maildrop, MessageInfo};
use crate::multiline::MultilineEncoder;
use crate::serialize;
use crate::types::{
    ApopDigest, AuthResponse, Capability, Command, MAX_COMMAND_LINE, MAX_SASL_LINE, MechanismName,
    MessageNumber, ResponseCode, ScanListing, StatusLine, UidlListing, UniqueId,
};

/// The text of the reply to a credential command (USER, PASS, APOP, AUTH) refused because the
/// connection is not secure, sent as `-ERR [AUTH] ` + this (RFC 2595 §2.3, RFC 3206 §5). Each
/// refusal counts as a bad command.
pub const PLAINTEXT_DISALLOWED: &str =
    "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";

/// How a credential check was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// USER then PASS (RFC 1939 §7): the check is a [`CredentialCheck::Password`] without
    /// authzid, like PLAIN's.
    UserPass,
    /// AUTH with this SASL mechanism (RFC 5034).
    Sasl(Mechanism),
}

/// What the server tells the application. See the [module documentation](self) for which
/// intent answers which event.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerEvent {
    /// TLS is up (implicit or after STLS); everything learned in clear was forgotten.
    Secured,
    /// Check credentials, then call [`Pop3Server::answer_credentials`]. `Debug` never shows
    /// the password or token.
    ///
    /// For a SASL exchange there may be a second check for the same command
    /// ([`CredentialCheck::Authorize`], when the client asks to act as someone else).
    CheckCredentials {
        /// What to check.
        check: CredentialCheck,
        /// Which command asked.
        method: AuthMethod,
    },
    /// APOP (RFC 1939 §7): accept if `digest` is MD5(`timestamp` + the user's secret), then
    /// call [`Pop3Server::answer_credentials`] with [`CheckAnswer::Accept`] (or
    /// [`CheckAnswer::AcceptAs`] a canonical name) or [`CheckAnswer::Reject`].
    CheckApop {
        /// The mailbox name, as sent.
        user: String,
        /// The 16-octet digest the client sent.
        digest: ApopDigest,
        /// The timestamp of this session's greeting, angle brackets included, exactly as the
        /// digest covers it.
        timestamp: String,
    },
    /// The client proved who it is: open and lock its maildrop, then call
    /// [`Pop3Server::open_maildrop`] or [`Pop3Server::refuse_maildrop`].
    OpenMaildrop {
        /// Who authenticated; the maildrop is [`Identity::acts_as`].
        identity: Identity,
    },
    /// RETR (`top_lines: None`) or TOP (`Some(n)`), and the first ask for the message: answer
    /// with exactly one of [`Pop3Server::send_message_data`] (the first chunk; more are asked
    /// for with [`ServerEvent::ReadyForMessageData`]), [`Pop3Server::end_message`],
    /// [`Pop3Server::serve_message`] (the whole message, from memory) or
    /// [`Pop3Server::message_unavailable`]. See [Message content](self#message-content-pulled-one-chunk-per-ask).
    Retrieve {
        /// The message number.
        msg: MessageNumber,
        /// Its unique-id, as listed by the [`Maildrop`].
        uid: UniqueId,
        /// For TOP, the body lines wanted; the machine does the cut.
        top_lines: Option<u32>,
    },
    /// The previous chunk of message `msg` was queued for the client: send the next one.
    /// Answer with exactly one of [`Pop3Server::send_message_data`] (the next chunk),
    /// [`Pop3Server::end_message`] (the message is complete) or
    /// [`Pop3Server::message_unavailable`] (it cannot be read; the session ends, since part of
    /// the response is out). It comes right after that chunk in the output queue, so a driver
    /// that bounds its pending output delivers it only once the client has read enough.
    ReadyForMessageData {
        /// The message being sent (as in the [`ServerEvent::Retrieve`] that started it).
        msg: MessageNumber,
    },
    /// QUIT in TRANSACTION: the UPDATE state (RFC 1939 §6). Delete these messages (those
    /// marked with DELE and not unmarked by RSET; possibly none), release the maildrop,
    /// then call [`Pop3Server::update_done`].
    Update {
        /// Message numbers and unique-ids of the messages to delete, in ascending order.
        deleted: Vec<(MessageNumber, UniqueId)>,
    },
    /// The session is over (always the last event; [`Output::Close`] follows). Release the
    /// maildrop lock if one was taken.
    Closed {
        /// Whether the session ended through UPDATE with the application's success: only then
        /// were deletions requested and done. `false` for QUIT in AUTHORIZATION, end of
        /// stream, timeout, errors and [`Pop3Server::shutdown`]: nothing was to be deleted.
        committed: bool,
    },
}

/// Why a session ended abnormally (in [`Output::Error`], before [`Output::Close`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Bytes followed `STLS\r\n` in the plaintext input (or arrived before the handshake):
    /// command injection (CVE-2011-0411 and kin). No upgrade took place.
    #[error("command injection: {bytes} byte(s) pipelined after STLS")]
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
    /// The client was idle longer than the idle timeout.
    #[error("idle timeout")]
    Timeout,
    /// Too many unknown, malformed or misplaced commands.
    #[error("too many bad commands")]
    TooManyBadCommands,
    /// Too many failed logins.
    #[error("too many failed logins")]
    TooManyAuthFailures,
    /// The message content the application sent could not be encoded (a bare CR or LF with
    /// [`BareLineEndings::Reject`](crate::multiline::BareLineEndings::Reject)); the response
    /// was cut short.
    #[error("message content could not be sent: {0}")]
    MessageData(MultilineError),
    /// [`Pop3Server::message_unavailable`] after part of the message was sent.
    #[error("message aborted after part of it was sent")]
    MessageAborted,
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

/// Why the application will not open a maildrop; each becomes a `-ERR` with its RFC 2449 /
/// RFC 3206 response code, and the session stays in AUTHORIZATION.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MaildropRefusal {
    /// Locked by another session: `-ERR [IN-USE]` (RFC 2449 §8.1.1).
    InUse,
    /// Logged in too recently: `-ERR [LOGIN-DELAY]` (RFC 2449 §8.1.2).
    LoginDelay,
    /// A temporary problem: `-ERR [SYS/TEMP]` (RFC 3206 §4).
    SysTemp,
    /// A permanent problem: `-ERR [SYS/PERM]` (RFC 3206 §4).
    SysPerm,
}

/// The state of a session (RFC 1939 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// Before the greeting of an implicit-TLS session (the handshake is not done).
    Handshake,
    /// AUTHORIZATION: the client must identify itself.
    Authorization,
    /// TRANSACTION: the maildrop is open.
    Transaction,
    /// UPDATE: QUIT was received in TRANSACTION; the application is deleting.
    Update,
    /// The session is over.
    Closed,
}

/// The TOP cut: the header, its blank line, then `n` body lines (RFC 1939 §7). Lines end at LF.
#[derive(Debug)]
struct TopCut {
    in_header: bool,
    lines_left: u32,
    line_len: usize,
    last_cr: bool,
    done: bool,
}

impl TopCut {
    fn new(lines: u32) -> Self {
        TopCut {
            in_header: true,
            lines_left: lines,
            line_len: 0,
            last_cr: false,
            done: false,
        }
    }

    /// How many octets of `data` belong to the cut.
    fn take(&mut self, data: &[u8]) -> usize {
        if self.done {
            return 0;
        }
        for (i, &b) in data.iter().enumerate() {
            if b == b'\n' {
                let empty = self.line_len == 0 || (self.line_len == 1 && self.last_cr);
                let cut = if self.in_header {
                    if empty {
                        self.in_header = false;
                    }
                    !self.in_header && self.lines_left == 0
                } else {
                    self.lines_left = self.lines_left.saturating_sub(1);
                    self.lines_left == 0
                };
                self.line_len = 0;
                self.last_cr = false;
                if cut {
                    self.done = true;
                    return i + 1;
                }
            } else {
                self.line_len = self.line_len.saturating_add(1);
                self.last_cr = b == b'\r';
            }
        }
        data.len()
    }
}

/// Where the ask for the next chunk of a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ask {
    /// Queued ([`ServerEvent::Retrieve`] or [`ServerEvent::ReadyForMessageData`]), not yet
    /// polled: the machine waits for the client to take the output before it.
    Queued,
    /// Polled by the application, which owes exactly one answer.
    Held,
}

#[derive(Debug)]
struct Retrieval {
    msg: MessageNumber,
    size: u64,
    top: Option<TopCut>,
    encoder: MultilineEncoder,
    started: bool,
    ask: Ask,
}

/// A credential question the application has not answered yet.
enum CredWait {
    UserPass { user: String },
    Apop { user: String },
    Sasl(ServerExchange),
}

/// What the machine waits for before it reads the next command.
enum Wait {
    /// Nothing: commands are read.
    Nothing,
    /// STLS was accepted: the handshake, then [`Machine::handle_tls_established`].
    Upgrade,
    /// The implicit-TLS handshake, before the greeting.
    ImplicitHandshake,
    /// The client's next line of a SASL exchange.
    SaslLine(ServerExchange),
    /// The application's answer to a credential check.
    Credentials(CredWait),
    /// The application's answer to OpenMaildrop.
    OpenMaildrop,
    /// The application's message content.
    Retrieve(Box<Retrieval>),
    /// The application's update result.
    Update,
}

impl Wait {
    fn name(&self) -> &'static str {
        match self {
            Wait::Nothing => "a command",
            Wait::Upgrade => "the STLS handshake",
            Wait::ImplicitHandshake => "the TLS handshake",
            Wait::SaslLine(_) => "a SASL response from the client",
            Wait::Credentials(_) => "answer_credentials",
            Wait::OpenMaildrop => "open_maildrop or refuse_maildrop",
            Wait::Retrieve(r) if r.ask == Ask::Held => {
                "send_message_data, end_message or message_unavailable"
            }
            Wait::Retrieve(_) => "the next ReadyForMessageData to be polled",
            Wait::Update => "update_done",
        }
    }

    fn reads_input(&self) -> bool {
        matches!(self, Wait::Nothing | Wait::SaslLine(_))
    }

    fn on_application(&self) -> bool {
        match self {
            Wait::Credentials(_) | Wait::OpenMaildrop | Wait::Update => true,
            // A queued ask waits for the client to read what is before it.
            Wait::Retrieve(r) => r.ask == Ask::Held,
            _ => false,
        }
    }
}

#[derive(Debug)]
struct Entry {
    info: MessageInfo,
    deleted: bool,
}

/// The POP3 server machine. See the [module documentation](self).
pub struct Pop3Server {
    config: Arc<ServerConfig>,
    framer: LineFramer,
    out: VecDeque<Output<ServerEvent, ServerError>>,
    secure: bool,
    wait: Wait,
    transaction: bool,
    done: bool,
    /// Bytes of the current `handle_input` call not yet given to the framer.
    unpushed: usize,
    /// The name from USER, forgotten at the STLS cut and after PASS.
    user: Option<String>,
    identity: Option<Identity>,
    apop_timestamp: Option<String>,
    auth_failures: u32,
    bad_commands: u32,
    deadline: Option<Instant>,
    /// The application answered since the deadline was set: give the client a fresh period.
    rearm: bool,
    messages: Vec<Entry>,
    maildrop: Option<Box<dyn Maildrop>>,
    /// [`Pop3Server::shutdown`] was called while a message or UPDATE was under way: end the
    /// session when it is done.
    shutting_down: bool,
}

impl std::fmt::Debug for Pop3Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3Server")
            .field("state", &self.state())
            .field("secure", &self.secure)
            .field("waiting_for", &self.wait.name())
            .field("identity", &self.identity)
            .field("messages", &self.messages.len())
            .finish_non_exhaustive()
    }
}

impl Pop3Server {
    /// A session on a new connection accepted at `now` (the idle timer starts then). It greets
    /// at once, unless the policy is implicit TLS: then it greets after
    /// [`Machine::handle_tls_established`]. APOP is not offered (see
    /// [`Pop3Server::with_apop_timestamp`]).
    pub fn new(config: Arc<ServerConfig>, now: Instant) -> Self {
        let mut framer = LineFramer::new(MAX_COMMAND_LINE);
        framer.set_max_buffered(config.max_buffered_input);
        let implicit = config.policy.tls() == ListenerTls::Implicit;
        let mut server = Pop3Server {
            deadline: Some(now + config.idle_timeout),
            config,
            framer,
            out: VecDeque::new(),
            secure: false,
            wait: if implicit {
                Wait::ImplicitHandshake
            } else {
                Wait::Nothing
            },
            transaction: false,
            done: false,
            unpushed: 0,
            user: None,
            identity: None,
            apop_timestamp: None,
            auth_failures: 0,
            bad_commands: 0,
            rearm: false,
            messages: Vec::new(),
            maildrop: None,
            shutting_down: false,
        };
        if !implicit {
            server.greet();
        }
        server
    }

    /// A session that offers APOP (when [`ServerConfigBuilder::apop`] enabled it) with this
    /// greeting timestamp: a msg-id such as `<1896.697170952@dbc.mtview.ca.us>`, unique for
    /// every greeting (RFC 1939 §7: process id, clock and host name, or random octets). The
    /// machine has neither clock nor randomness, so the caller makes it.
    pub fn with_apop_timestamp(
        config: Arc<ServerConfig>,
        now: Instant,
        timestamp: &str,
    ) -> Result<Self, ConfigError> {
        config::check_apop_timestamp(timestamp)?;
        let apop = config.apop;
        let implicit = config.policy.tls() == ListenerTls::Implicit;
        let mut server = Pop3Server::new(config, now);
        if apop {
            server.apop_timestamp = Some(timestamp.to_owned());
            if !implicit {
                // Replace the greeting queued by `new`.
                server.out.clear();
                server.greet();
            }
        }
        Ok(server)
    }

    /// Where the session is.
    pub fn state(&self) -> SessionState {
        if self.done {
            SessionState::Closed
        } else if matches!(self.wait, Wait::ImplicitHandshake) {
            SessionState::Handshake
        } else if matches!(self.wait, Wait::Update) {
            SessionState::Update
        } else if self.transaction {
            SessionState::Transaction
        } else {
            SessionState::Authorization
        }
    }

    /// Whether TLS is up (implicit, or after STLS).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Who logged in, once the maildrop is open.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref().filter(|_| self.transaction)
    }

    /// The open maildrop, if any.
    pub fn maildrop(&self) -> Option<&dyn Maildrop> {
        self.maildrop.as_deref()
    }

    /// Takes the maildrop back (after [`ServerEvent::Closed`], to release it).
    pub fn take_maildrop(&mut self) -> Option<Box<dyn Maildrop>> {
        self.maildrop.take()
    }

    /// Received bytes held unprocessed: pipelined commands waiting while the machine waits
    /// for the application (bounded by [`ServerConfigBuilder::max_buffered_input`]). Zero
    /// whenever [`Output::StartTls`] is emitted.
    pub fn buffered_input(&self) -> usize {
        self.framer.buffered()
    }

    /// The messages currently marked for deletion.
    pub fn marked_for_deletion(&self) -> Vec<(MessageNumber, UniqueId)> {
        self.entries()
            .filter(|(_, e)| e.deleted)
            .map(|(n, e)| (n, e.info.uid.clone()))
            .collect()
    }

    // ----- intents -------------------------------------------------------------------------

    /// Answers [`ServerEvent::CheckCredentials`] or [`ServerEvent::CheckApop`].
    ///
    /// [`CheckAnswer::Accept`] or [`CheckAnswer::AcceptAs`] go on to
    /// [`ServerEvent::OpenMaildrop`] (or the next SASL step); [`CheckAnswer::Reject`] sends
    /// `-ERR [AUTH] Authentication failed` and counts a failure (the session closes after
    /// [`ServerConfigBuilder::max_auth_failures`]). The machine has no clock: an application
    /// that wants to slow down password guessing delays its answer.
    pub fn answer_credentials(&mut self, answer: CheckAnswer) -> Result<(), UsageError> {
        let wait = self.expect("answer_credentials", |w| matches!(w, Wait::Credentials(_)))?;
        let Wait::Credentials(cred) = wait else {
            return Ok(());
        };
        match cred {
            CredWait::UserPass { user } => match answer {
                CheckAnswer::Accept => self.authenticated(Identity {
                    authcid: user,
                    authzid: None,
                }),
                CheckAnswer::AcceptAs(name) => self.authenticated(Identity {
                    authcid: name,
                    authzid: None,
                }),
                _ => self.auth_failed(),
            },
            CredWait::Apop { user } => match answer {
                CheckAnswer::Accept => self.authenticated(Identity {
                    authcid: user,
                    authzid: None,
                }),
                CheckAnswer::AcceptAs(name) => self.authenticated(Identity {
                    authcid: name,
                    authzid: None,
                }),
                _ => self.auth_failed(),
            },
            CredWait::Sasl(mut exchange) => {
                let mechanism = exchange.mechanism();
                let step = exchange.answer(answer);
                self.sasl_step(exchange, mechanism, step);
            }
        }
        self.resume();
        Ok(())
    }

    /// Answers [`ServerEvent::OpenMaildrop`]: the session enters TRANSACTION with the
    /// maildrop's [`messages`](Maildrop::messages) as its fixed listing.
    pub fn open_maildrop(&mut self, maildrop: Box<dyn Maildrop>) -> Result<(), UsageError> {
        self.expect("open_maildrop", |w| matches!(w, Wait::OpenMaildrop))?;
        self.messages = maildrop
            .messages()
            .into_iter()
            .take(u32::MAX as usize)
            .map(|info| Entry {
                info,
                deleted: false,
            })
            .collect();
        self.maildrop = Some(maildrop);
        self.transaction = true;
        self.user = None;
        let (count, size) = self.totals();
        self.send(StatusLine::ok(format!(
            "Maildrop ready, {count} messages ({size} octets)"
        )));
        self.resume();
        Ok(())
    }

    /// Answers [`ServerEvent::OpenMaildrop`] with a refusal: `-ERR [IN-USE] …` and the like;
    /// the session stays in AUTHORIZATION (the client may try again or QUIT). Not counted as
    /// a failed login.
    pub fn refuse_maildrop(&mut self, why: MaildropRefusal) -> Result<(), UsageError> {
        self.expect("refuse_maildrop", |w| matches!(w, Wait::OpenMaildrop))?;
        self.identity = None;
        let line = match why {
            MaildropRefusal::InUse => StatusLine::err("Maildrop already locked by another session")
                .with_code(ResponseCode::InUse),
            MaildropRefusal::LoginDelay => {
                StatusLine::err("Logged in too recently").with_code(ResponseCode::LoginDelay)
            }
            MaildropRefusal::SysTemp => {
                StatusLine::err("Maildrop temporarily unavailable").with_code(ResponseCode::SysTemp)
            }
            MaildropRefusal::SysPerm => {
                StatusLine::err("Maildrop unavailable").with_code(ResponseCode::SysPerm)
            }
        };
        self.send(line);
        self.resume();
        Ok(())
    }

    /// Answers an ask ([`ServerEvent::Retrieve`] or [`ServerEvent::ReadyForMessageData`]) with
    /// the next chunk of the message, as stored (any size; the machine dot-stuffs, converts
    /// bare line endings as configured, and cuts for TOP). The first chunk is preceded by the
    /// `+OK` line. The machine queues the encoded chunk, then the next ask,
    /// [`ServerEvent::ReadyForMessageData`].
    ///
    /// Exactly one answer per ask: without an ask polled and not yet answered (a second call
    /// in a row, say) this returns [`UsageError::Unexpected`] and changes nothing. Content that
    /// cannot be encoded (a bare CR or LF with
    /// [`BareLineEndings::Reject`](crate::multiline::BareLineEndings::Reject)) ends the
    /// session with [`ServerError::MessageData`].
    pub fn send_message_data(&mut self, data: &[u8]) -> Result<(), UsageError> {
        self.answer_ask("send_message_data")?;
        if self.encode_chunk(data) {
            if let Wait::Retrieve(r) = &mut self.wait {
                r.ask = Ask::Queued;
                let msg = r.msg;
                self.out
                    .push_back(Output::Event(ServerEvent::ReadyForMessageData { msg }));
            }
        }
        Ok(())
    }

    /// Answers an ask: the message is complete. The machine adds CRLF if the content did not
    /// end with one, then the `.` terminator (after the `+OK` line if no chunk was sent), and
    /// goes on with the next command. Same one-answer-per-ask rule as
    /// [`Pop3Server::send_message_data`].
    pub fn end_message(&mut self) -> Result<(), UsageError> {
        self.answer_ask("end_message")?;
        if self.encode_chunk(&[]) {
            self.finish_message();
        }
        Ok(())
    }

    /// Answers [`ServerEvent::Retrieve`] with a whole message held in memory:
    /// [`Pop3Server::send_message_data`] and [`Pop3Server::end_message`] in one answer, for
    /// small messages. A message read from storage is better sent chunk by chunk, so that
    /// it never sits whole in memory.
    pub fn serve_message(&mut self, content: &[u8]) -> Result<(), UsageError> {
        self.answer_ask("serve_message")?;
        if self.encode_chunk(content) {
            self.finish_message();
        }
        Ok(())
    }

    /// Answers an ask: the message cannot be read. `-ERR [SYS/TEMP] Message unavailable` if
    /// nothing was sent yet (the session goes on); after part of the message the response
    /// cannot be repaired and the session ends with [`ServerError::MessageAborted`].
    pub fn message_unavailable(&mut self) -> Result<(), UsageError> {
        self.answer_ask("message_unavailable")?;
        let Wait::Retrieve(r) = std::mem::replace(&mut self.wait, Wait::Nothing) else {
            return Ok(());
        };
        if r.started {
            self.fail(ServerError::MessageAborted);
            return Ok(());
        }
        self.send(StatusLine::err("Message unavailable").with_code(ResponseCode::SysTemp));
        self.resume();
        Ok(())
    }

    /// Answers [`ServerEvent::Update`]: `true` sends `+OK POP3 server signing off`, `false`
    /// `-ERR [SYS/TEMP] Some deleted messages not removed` (RFC 1939 §6); then the session
    /// closes.
    pub fn update_done(&mut self, success: bool) -> Result<(), UsageError> {
        self.expect("update_done", |w| matches!(w, Wait::Update))?;
        if success {
            self.send(StatusLine::ok("POP3 server signing off"));
        } else {
            self.send(
                StatusLine::err("Some deleted messages not removed")
                    .with_code(ResponseCode::SysTemp),
            );
        }
        self.close(success, None);
        Ok(())
    }

    /// The server is stopping: ends the session without UPDATE, so nothing is deleted
    /// (RFC 1939 has no unsolicited reply like SMTP's 421; a `-ERR` with the RFC 3206
    /// `SYS/TEMP` code tells the client to come back later). By state:
    ///
    /// - reading commands, in a SASL exchange, or waiting for the application's answer to a
    ///   credential check, `OpenMaildrop` or a message not started yet: `-ERR [SYS/TEMP] Server
    ///   shutting down`, then [`ServerEvent::Closed`] `{ committed: false }` and
    ///   [`Output::Close`]; a later answer to the pending event returns [`UsageError::Closed`];
    /// - during a TLS handshake: closes without a word (no plaintext may go out then);
    /// - in the middle of a message: the message is finished first (the asks go on), then the
    ///   `-ERR` and the close; no further command is read. If the application cannot finish,
    ///   [`Pop3Server::message_unavailable`] ends the session at once;
    /// - in UPDATE (the client sent QUIT and the application is deleting): nothing changes;
    ///   [`Pop3Server::update_done`] ends the session as usual.
    ///
    /// Calling it again, or after the session ended, does nothing.
    pub fn shutdown(&mut self) {
        if self.done || self.shutting_down {
            return;
        }
        match &self.wait {
            Wait::Update => self.shutting_down = true,
            Wait::Retrieve(r) if r.started => self.shutting_down = true,
            Wait::Upgrade | Wait::ImplicitHandshake => self.close(false, None),
            _ => self.shut_down_now(),
        }
    }

    /// Whether [`Pop3Server::shutdown`] was called and the session is finishing a message or
    /// UPDATE before it closes.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down && !self.done
    }

    // ----- internals -----------------------------------------------------------------------

    /// Takes the ask the application holds for the current message, for `intent`.
    fn answer_ask(&mut self, intent: &'static str) -> Result<(), UsageError> {
        if self.done {
            return Err(UsageError::Closed(intent));
        }
        match &mut self.wait {
            Wait::Retrieve(r) if r.ask == Ask::Held => {
                // Answered: until the next ask is polled, nothing else may be sent.
                r.ask = Ask::Queued;
                self.rearm = true;
                Ok(())
            }
            w => Err(UsageError::Unexpected {
                intent,
                waiting_for: w.name(),
            }),
        }
    }

    /// Queues one chunk of the current message (the `+OK` line first); false if the session
    /// ended because the chunk could not be encoded.
    fn encode_chunk(&mut self, data: &[u8]) -> bool {
        let Wait::Retrieve(r) = &mut self.wait else {
            return false;
        };
        let mut out = BytesMut::new();
        if !r.started {
            r.started = true;
            let text = if r.top.is_some() {
                "Top of message follows".to_owned()
            } else {
                format!("{} octets", r.size)
            };
            let _ = serialize::status_line(&StatusLine::ok(text), &mut out);
        }
        let take = match &mut r.top {
            Some(cut) => cut.take(data),
            None => data.len(),
        };
        let result = r.encoder.encode(&data[..take], &mut out);
        if !out.is_empty() {
            self.out.push_back(Output::Transmit(out.freeze()));
        }
        match result {
            Ok(()) => true,
            Err(e) => {
                self.fail(ServerError::MessageData(e));
                false
            }
        }
    }

    /// Ends the current message (after its `+OK` line) and goes on.
    fn finish_message(&mut self) {
        let Wait::Retrieve(mut r) = std::mem::replace(&mut self.wait, Wait::Nothing) else {
            return;
        };
        let mut out = BytesMut::new();
        let result = r.encoder.finish(&mut out);
        if !out.is_empty() {
            self.out.push_back(Output::Transmit(out.freeze()));
        }
        if let Err(e) = result {
            self.fail(ServerError::MessageData(e));
            return;
        }
        if self.shutting_down {
            self.shut_down_now();
            return;
        }
        self.resume();
    }

    /// `-ERR [SYS/TEMP] Server shutting down`, then the end of the session, nothing deleted.
    fn shut_down_now(&mut self) {
        self.send(StatusLine::err("Server shutting down").with_code(ResponseCode::SysTemp));
        self.close(false, None);
    }

    /// Takes the wait state if `ok` accepts it; otherwise a [`UsageError`].
    fn expect(
        &mut self,
        intent: &'static str,
        ok: impl Fn(&Wait) -> bool,
    ) -> Result<Wait, UsageError> {
        if self.done {
            return Err(UsageError::Closed(intent));
        }
        if !ok(&self.wait) {
            return Err(UsageError::Unexpected {
                intent,
                waiting_for: self.wait.name(),
            });
        }
        self.rearm = true;
        Ok(std::mem::replace(&mut self.wait, Wait::Nothing))
    }

    fn greet(&mut self) {
        let mut text = self.config.greeting.clone();
        if let Some(ts) = &self.apop_timestamp {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(ts);
        }
        self.send(StatusLine::ok(text));
    }

    fn send(&mut self, line: StatusLine) {
        let mut out = BytesMut::new();
        if serialize::status_line(&line, &mut out).is_err() {
            // Only configuration text could fail, and it is checked; stay safe anyway.
            out.clear();
            out.extend_from_slice(if line.is_ok() {
                b"+OK\r\n"
            } else {
                b"-ERR\r\n"
            });
        }
        self.out.push_back(Output::Transmit(out.freeze()));
    }

    fn err(&mut self, text: &'static str) {
        self.send(StatusLine::err(text));
    }

    /// Ends the session: the Closed event, an error if any, then Close.
    fn close(&mut self, committed: bool, error: Option<ServerError>) {
        if self.done {
            return;
        }
        self.done = true;
        self.wait = Wait::Nothing;
        self.framer.clear();
        self.user = None;
        // An ask not yet polled is void: nothing more of the message will be sent.
        self.out.retain(|o| {
            !matches!(
                o,
                Output::Event(
                    ServerEvent::Retrieve { .. } | ServerEvent::ReadyForMessageData { .. }
                )
            )
        });
        self.out
            .push_back(Output::Event(ServerEvent::Closed { committed }));
        if let Some(e) = error {
            self.out.push_back(Output::Error(e));
        }
        self.out.push_back(Output::Close);
    }

    fn fail(&mut self, error: ServerError) {
        self.close(false, Some(error));
    }

    fn entries(&self) -> impl Iterator<Item = (MessageNumber, &Entry)> {
        self.messages
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((MessageNumber::new(u32::try_from(i + 1).ok()?)?, e)))
    }

    fn live(&self) -> impl Iterator<Item = (MessageNumber, &Entry)> {
        self.entries().filter(|(_, e)| !e.deleted)
    }

    fn totals(&self) -> (u32, u64) {
        self.live().fold((0u32, 0u64), |(c, s), (_, e)| {
            (c.saturating_add(1), s.saturating_add(e.info.size))
        })
    }

    /// The entry of a message that exists and is not deleted.
    fn message(&self, msg: MessageNumber) -> Option<&Entry> {
        self.messages
            .get(msg.get() as usize - 1)
            .filter(|e| !e.deleted)
    }

    /// Whether plaintext-equivalent credentials (USER/PASS, PLAIN, LOGIN, tokens) are
    /// accepted on the connection now.
    fn plaintext_allowed(&self) -> bool {
        let policy = self.config.policy;
        policy.plaintext_credentials_allowed(self.secure)
            || (!policy.requires_secure_channel()
                && self.config.insecure_auth == InsecureAuth::AllowPlaintextMechanismsWithoutTls)
    }

    /// Whether any credential is accepted on the connection now.
    fn credentials_allowed(&self) -> bool {
        self.secure || !self.config.policy.requires_secure_channel()
    }

    fn mechanism_allowed(&self, m: Mechanism) -> bool {
        self.credentials_allowed() && (!m.is_plaintext_equivalent() || self.plaintext_allowed())
    }

    fn offered_mechanisms(&self) -> Vec<Mechanism> {
        self.config
            .mechanisms
            .iter()
            .copied()
            .filter(|m| self.mechanism_allowed(*m))
            .collect()
    }

    fn capabilities(&self) -> Vec<Capability> {
        let mut caps = vec![Capability::Top, Capability::Uidl];
        if !self.transaction {
            if self.config.user_pass && self.plaintext_allowed() {
                caps.push(Capability::User);
            }
            let mechs = self.offered_mechanisms();
            if !mechs.is_empty() {
                caps.push(Capability::Sasl(
                    mechs.into_iter().map(MechanismName::from).collect(),
                ));
            }
            if self.config.policy.offers_starttls(self.secure) {
                caps.push(Capability::Stls);
            }
        }
        caps.extend([
            Capability::RespCodes,
            Capability::AuthRespCode,
            Capability::Pipelining,
        ]);
        // RFC 2449 §6.5, §6.7: before login the value may vary per user ("USER").
        if let Some(seconds) = self.config.login_delay {
            caps.push(Capability::LoginDelay {
                seconds,
                per_user: false,
            });
        }
        if let Some(policy) = self.config.expire {
            caps.push(Capability::Expire {
                policy,
                per_user: false,
            });
        }
        if self.transaction {
            if let Some(text) = &self.config.implementation {
                caps.push(Capability::Implementation(text.clone().into_bytes()));
            }
        }
        caps
    }

    fn send_capa(&mut self) {
        let mut out = BytesMut::new();
        let _ = serialize::status_line(&StatusLine::ok("Capability list follows"), &mut out);
        for cap in self.capabilities() {
            let _ = serialize::capability(&cap, &mut out);
        }
        out.extend_from_slice(serialize::END_OF_MULTILINE);
        self.out.push_back(Output::Transmit(out.freeze()));
    }

    /// Counts a bad command and sends its `-ERR`; closes after too many.
    fn bad(&mut self, text: &'static str) {
        self.err(text);
        self.bad_commands = self.bad_commands.saturating_add(1);
        if self.bad_commands >= self.config.max_bad_commands {
            self.fail(ServerError::TooManyBadCommands);
        }
    }

    fn auth_failed(&mut self) {
        self.identity = None;
        self.send(StatusLine::err("Authentication failed").with_code(ResponseCode::Auth));
        self.auth_failures = self.auth_failures.saturating_add(1);
        if self.auth_failures >= self.config.max_auth_failures {
            self.fail(ServerError::TooManyAuthFailures);
        }
    }

    fn authenticated(&mut self, identity: Identity) {
        self.identity = Some(identity.clone());
        self.wait = Wait::OpenMaildrop;
        self.out
            .push_back(Output::Event(ServerEvent::OpenMaildrop { identity }));
    }

    /// Processes every buffered line the machine may read now.
    fn process(&mut self) {
        while !self.done && self.wait.reads_input() {
            let Some(item) = self.framer.next_line() else {
                break;
            };
            let sasl = matches!(self.wait, Wait::SaslLine(_));
            match item {
                Ok(line) if sasl => self.sasl_line(&line),
                Ok(line) => self.command_line(&line),
                Err(e) if sasl => {
                    // A broken SASL line ends the exchange.
                    self.wait = Wait::Nothing;
                    self.framer.set_max_line(MAX_COMMAND_LINE);
                    self.bad(frame_error_text(e));
                }
                Err(e) => self.bad(frame_error_text(e)),
            }
        }
    }

    /// Goes on with buffered commands after the application answered.
    fn resume(&mut self) {
        if !self.done {
            self.process();
        }
    }

    fn command_line(&mut self, line: &[u8]) {
        match crate::parse::command(line) {
            Ok(cmd) => self.command(cmd),
            Err(e) => self.bad(parse_error_text(e)),
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Capa => self.send_capa(),
            Command::Quit if !self.transaction => {
                self.send(StatusLine::ok("POP3 server signing off"));
                self.close(false, None);
            }
            Command::Quit => {
                let deleted = self.marked_for_deletion();
                self.wait = Wait::Update;
                self.out
                    .push_back(Output::Event(ServerEvent::Update { deleted }));
            }
            _ if self.transaction => self.transaction_command(cmd),
            _ => self.authorization_command(cmd),
        }
    }

    fn authorization_command(&mut self, cmd: Command) {
        match cmd {
            Command::Stls => self.stls(),
            Command::User(_) | Command::Pass(_) | Command::Apop { .. } | Command::Auth { .. }
                if !self.credentials_allowed() =>
            {
                self.user = None;
                self.auth_failed_refused();
            }
            Command::User(name) => {
                if !self.config.user_pass {
                    self.user = None;
                    self.bad("USER/PASS not supported; use AUTH");
                } else if !self.plaintext_allowed() {
                    self.user = None;
                    self.auth_failed_refused();
                } else {
                    match String::from_utf8(name) {
                        Ok(name) if name.len() <= MAX_IDENTITY_LEN => {
                            self.user = Some(name);
                            self.send(StatusLine::ok("Send your password"));
                        }
                        _ => {
                            self.user = None;
                            self.err("Invalid user name");
                        }
                    }
                }
            }
            Command::Pass(password) => {
                let Some(user) = self.user.take() else {
                    self.bad("No user name given; send USER first");
                    return;
                };
                if !self.plaintext_allowed() {
                    self.auth_failed_refused();
                    return;
                }
                let pw = password.expose();
                let Some(password) = std::str::from_utf8(pw)
                    .ok()
                    .filter(|p| !p.is_empty() && p.len() <= MAX_PASSWORD_LEN)
                else {
                    self.auth_failed();
                    return;
                };
                let check = CredentialCheck::Password {
                    authzid: None,
                    authcid: user.clone(),
                    password: SecretString::from(password.to_owned()),
                };
                self.wait = Wait::Credentials(CredWait::UserPass { user });
                self.out
                    .push_back(Output::Event(ServerEvent::CheckCredentials {
                        check,
                        method: AuthMethod::UserPass,
                    }));
            }
            Command::Apop { name, digest } => {
                self.user = None;
                let timestamp = match (&self.apop_timestamp, self.config.apop) {
                    (Some(ts), true) => ts.clone(),
                    _ => {
                        self.bad("APOP not supported");
                        return;
                    }
                };
                let Some(user) = String::from_utf8(name)
                    .ok()
                    .filter(|n| n.len() <= MAX_IDENTITY_LEN)
                else {
                    self.auth_failed();
                    return;
                };
                self.wait = Wait::Credentials(CredWait::Apop { user: user.clone() });
                self.out.push_back(Output::Event(ServerEvent::CheckApop {
                    user,
                    digest,
                    timestamp,
                }));
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                self.user = None;
                let Some(m) = mechanism
                    .mechanism()
                    .filter(|m| self.config.mechanisms.contains(m))
                else {
                    self.err("Unsupported authentication mechanism");
                    return;
                };
                if !self.mechanism_allowed(m) {
                    self.auth_failed_refused();
                    return;
                }
                let mut exchange = ServerExchange::new(m).final_data_as_challenge();
                let step = exchange.start(initial_response.as_ref().map(|r| r.expose()));
                self.sasl_step(exchange, m, step);
            }
            Command::AuthList => {
                // RFC 1734 clients (Outlook) send a bare AUTH to list mechanisms.
                let mut out = BytesMut::new();
                let _ = serialize::status_line(&StatusLine::ok("Methods supported"), &mut out);
                for m in self.offered_mechanisms() {
                    out.extend_from_slice(m.as_str().as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(serialize::END_OF_MULTILINE);
                self.out.push_back(Output::Transmit(out.freeze()));
            }
            Command::Utf8 => self.err("UTF8 not supported"),
            _ => self.bad("Command not valid in AUTHORIZATION state"),
        }
    }

    /// A credential command refused because the connection is not secure. Counted as a bad
    /// command (no credential was checked): a client that keeps trying in clear is closed.
    fn auth_failed_refused(&mut self) {
        self.identity = None;
        self.send(StatusLine::err(PLAINTEXT_DISALLOWED).with_code(ResponseCode::Auth));
        self.bad_commands = self.bad_commands.saturating_add(1);
        if self.bad_commands >= self.config.max_bad_commands {
            self.fail(ServerError::TooManyBadCommands);
        }
    }

    fn stls(&mut self) {
        if !self.config.policy.offers_starttls(self.secure) {
            let text = if self.secure {
                "Already using TLS"
            } else {
                "STLS not available"
            };
            self.err(text);
            return;
        }
        let pending = self.framer.buffered() + self.unpushed;
        if pending > 0 {
            // Nothing after STLS may run, in clear or inside TLS (RFC 2595 §4).
            self.err("Pipelined data after STLS");
            self.fail(ServerError::CommandInjection { bytes: pending });
            return;
        }
        self.send(StatusLine::ok("Begin TLS negotiation"));
        self.out.push_back(Output::StartTls);
        self.wait = Wait::Upgrade;
    }

    fn sasl_step(&mut self, exchange: ServerExchange, m: Mechanism, step: ServerStep) {
        match step {
            ServerStep::Challenge(data) => {
                let mut out = BytesMut::with_capacity(data.len() / 3 * 4 + 8);
                out.extend_from_slice(b"+ ");
                out.extend_from_slice(mailsec_tls::sasl::wire::encode(&data).as_bytes());
                out.extend_from_slice(b"\r\n");
                self.out.push_back(Output::Transmit(out.freeze()));
                self.framer.set_max_line(MAX_SASL_LINE);
                self.wait = Wait::SaslLine(exchange);
            }
            ServerStep::Verify(check) => {
                self.framer.set_max_line(MAX_COMMAND_LINE);
                self.wait = Wait::Credentials(CredWait::Sasl(exchange));
                self.out
                    .push_back(Output::Event(ServerEvent::CheckCredentials {
                        check,
                        method: AuthMethod::Sasl(m),
                    }));
            }
            ServerStep::Success { identity, .. } => {
                // Additional data was sent as a final challenge (final_data_as_challenge).
                self.framer.set_max_line(MAX_COMMAND_LINE);
                self.authenticated(identity);
            }
            ServerStep::Failure(e) => {
                self.framer.set_max_line(MAX_COMMAND_LINE);
                self.wait = Wait::Nothing;
                match e {
                    SaslError::Cancelled => self.err("Authentication cancelled"),
                    _ => self.auth_failed(),
                }
            }
            _ => {
                self.framer.set_max_line(MAX_COMMAND_LINE);
                self.wait = Wait::Nothing;
                self.auth_failed();
            }
        }
    }

    fn sasl_line(&mut self, line: &[u8]) {
        let Wait::SaslLine(mut exchange) = std::mem::replace(&mut self.wait, Wait::Nothing) else {
            return;
        };
        let m = exchange.mechanism();
        let step = match crate::parse::auth_response(line) {
            Ok(AuthResponse::Cancel) => exchange.cancel(),
            Ok(AuthResponse::Data(data)) => exchange.respond(data.expose()),
            Err(_) => ServerStep::Failure(SaslError::InvalidBase64),
        };
        self.sasl_step(exchange, m, step);
    }

    fn transaction_command(&mut self, cmd: Command) {
        match cmd {
            Command::Stat => {
                let (count, size) = self.totals();
                self.send(StatusLine::ok(format!("{count} {size}")));
            }
            Command::List(None) => {
                let mut out = BytesMut::new();
                let (count, size) = self.totals();
                let _ = serialize::status_line(
                    &StatusLine::ok(format!("{count} messages ({size} octets)")),
                    &mut out,
                );
                for (msg, e) in self.live() {
                    let _ = serialize::scan_listing(
                        &ScanListing {
                            msg,
                            size: e.info.size,
                        },
                        &mut out,
                    );
                }
                out.extend_from_slice(serialize::END_OF_MULTILINE);
                self.out.push_back(Output::Transmit(out.freeze()));
            }
            Command::List(Some(msg)) => match self.message(msg) {
                Some(e) => {
                    let line = ScanListing {
                        msg,
                        size: e.info.size,
                    }
                    .status_line();
                    self.send(line);
                }
                None => self.err("No such message"),
            },
            Command::Uidl(None) => {
                let mut out = BytesMut::new();
                let _ =
                    serialize::status_line(&StatusLine::ok("Unique-ID listing follows"), &mut out);
                for (msg, e) in self.live() {
                    let _ = serialize::uidl_listing(
                        &UidlListing {
                            msg,
                            uid: e.info.uid.clone(),
                        },
                        &mut out,
                    );
                }
                out.extend_from_slice(serialize::END_OF_MULTILINE);
                self.out.push_back(Output::Transmit(out.freeze()));
            }
            Command::Uidl(Some(msg)) => match self.message(msg) {
                Some(e) => {
                    let line = UidlListing {
                        msg,
                        uid: e.info.uid.clone(),
                    }
                    .status_line();
                    self.send(line);
                }
                None => self.err("No such message"),
            },
            Command::Retr(msg) => self.retrieve(msg, None),
            Command::Top { msg, lines } => self.retrieve(msg, Some(lines)),
            Command::Dele(msg) => match self.messages.get_mut(msg.get() as usize - 1) {
                Some(e) if !e.deleted => {
                    e.deleted = true;
                    self.send(StatusLine::ok(format!("Message {msg} deleted")));
                }
                Some(_) => self.err("Message already deleted"),
                None => self.err("No such message"),
            },
            Command::Noop => self.send(StatusLine::ok("")),
            Command::Rset => {
                for e in &mut self.messages {
                    e.deleted = false;
                }
                let (count, size) = self.totals();
                self.send(StatusLine::ok(format!(
                    "Maildrop has {count} messages ({size} octets)"
                )));
            }
            Command::Stls => self.err("STLS only in AUTHORIZATION state"),
            Command::Utf8 => self.err("UTF8 not supported"),
            _ => self.bad("Command not valid in TRANSACTION state"),
        }
    }

    fn retrieve(&mut self, msg: MessageNumber, top_lines: Option<u32>) {
        let Some(e) = self.message(msg) else {
            self.err("No such message");
            return;
        };
        let uid = e.info.uid.clone();
        let size = e.info.size;
        self.wait = Wait::Retrieve(Box::new(Retrieval {
            msg,
            size,
            top: top_lines.map(TopCut::new),
            encoder: MultilineEncoder::new().with_bare_line_endings(self.config.line_endings),
            started: false,
            ask: Ask::Queued,
        }));
        self.out.push_back(Output::Event(ServerEvent::Retrieve {
            msg,
            uid,
            top_lines,
        }));
    }
}

fn frame_error_text(e: FrameError) -> &'static str {
    match e {
        FrameError::LineTooLong { .. } => "Line too long",
        _ => "Invalid line ending",
    }
}

fn parse_error_text(e: ParseError) -> &'static str {
    e.reply_text()
}

impl Machine for Pop3Server {
    type Event = ServerEvent;
    type Error = ServerError;

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.done || data.is_empty() {
            return;
        }
        if matches!(self.wait, Wait::Upgrade | Wait::ImplicitHandshake) {
            // Between the cut and the handshake the pipe hands nothing over; bytes here can
            // only be plaintext injected after STLS.
            self.fail(ServerError::CommandInjection { bytes: data.len() });
            return;
        }
        self.deadline = Some(now + self.config.idle_timeout);
        let mut rest = data;
        while !rest.is_empty() && !self.done {
            if matches!(self.wait, Wait::Upgrade) {
                self.fail(ServerError::CommandInjection { bytes: rest.len() });
                return;
            }
            let room = self.framer.remaining();
            if room == 0 {
                self.err("Too much pipelined input");
                self.fail(ServerError::InputOverflow {
                    limit: self.config.max_buffered_input,
                });
                return;
            }
            let n = room.min(rest.len());
            if self.framer.push(&rest[..n]).is_err() {
                self.fail(ServerError::InputOverflow {
                    limit: self.config.max_buffered_input,
                });
                return;
            }
            rest = &rest[n..];
            self.unpushed = rest.len();
            self.process();
        }
        self.unpushed = 0;
    }

    fn handle_eof(&mut self, _now: Instant) {
        if self.done {
            return;
        }
        if matches!(self.wait, Wait::Update) {
            // QUIT was received: the UPDATE state goes on (RFC 1939 §6); update_done closes.
            return;
        }
        self.close(false, None);
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.done || self.deadline.is_none_or(|d| d > now) {
            return;
        }
        if self.wait.on_application() || self.rearm {
            // The client is not the one being waited for: give it a full period again.
            self.rearm = false;
            self.deadline = Some(now + self.config.idle_timeout);
            return;
        }
        if matches!(&self.wait, Wait::Retrieve(r) if r.started) {
            // The client stopped reading in the middle of a message: an -ERR now would be
            // taken for message content.
            self.fail(ServerError::Timeout);
            return;
        }
        self.err("Autologout; idle for too long");
        self.fail(ServerError::Timeout);
    }

    fn handle_tls_established(&mut self, now: Instant, _info: &TlsInfo) {
        if self.done {
            return;
        }
        // Amnesia (RFC 2595 §4): nothing from the plaintext phase survives.
        self.secure = true;
        self.user = None;
        self.framer.clear();
        self.framer.set_max_line(MAX_COMMAND_LINE);
        self.deadline = Some(now + self.config.idle_timeout);
        let implicit = matches!(self.wait, Wait::ImplicitHandshake);
        if matches!(self.wait, Wait::Upgrade | Wait::ImplicitHandshake) {
            self.wait = Wait::Nothing;
        }
        self.out.push_back(Output::Event(ServerEvent::Secured));
        if implicit {
            self.greet();
        }
    }

    fn poll_output(&mut self) -> Option<Output<ServerEvent, ServerError>> {
        let output = self.out.pop_front()?;
        if let Output::Event(
            ServerEvent::Retrieve { .. } | ServerEvent::ReadyForMessageData { .. },
        ) = &output
        {
            // The application now holds the ask (only the current message's is ever queued).
            if let Wait::Retrieve(r) = &mut self.wait {
                r.ask = Ask::Held;
            }
        }
        Some(output)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.done { None } else { self.deadline }
    }
}

#[cfg(test)]
mod tests {
    use super::TopCut;

    fn cut(msg: &[u8], n: u32, step: usize) -> Vec<u8> {
        let mut c = TopCut::new(n);
        let mut out = Vec::new();
        for chunk in msg.chunks(step) {
            let t = c.take(chunk);
            out.extend_from_slice(&chunk[..t]);
        }
        out
    }

    #[test]
    fn top_cut_counts_header_and_body_lines() {
        let msg = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n";
        for step in [1, 2, 3, 100] {
            assert_eq!(cut(msg, 0, step), b"A: 1\r\nB: 2\r\n\r\n");
            assert_eq!(cut(msg, 1, step), b"A: 1\r\nB: 2\r\n\r\nl1\r\n");
            assert_eq!(cut(msg, 2, step), b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n");
            assert_eq!(cut(msg, 9, step), msg);
            // LF-only storage.
            assert_eq!(cut(b"A: 1\n\nx\ny\n", 1, step), b"A: 1\n\nx\n");
            // No body at all.
            assert_eq!(cut(b"A: 1\r\n", 0, step), b"A: 1\r\n");
            // An empty line first: no header.
            assert_eq!(cut(b"\r\nbody\r\nmore\r\n", 1, step), b"\r\nbody\r\n");
        }
    }
}
