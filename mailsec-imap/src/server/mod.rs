//! The Sans-IO IMAP server machine (IMAP4rev1 RFC 3501 and IMAP4rev2 RFC 9051).
//!
//! [`Server`] implements [`mailsec_tls::Machine`]: bytes, end of stream, deadlines and "TLS is
//! up" go in; [`Output`]s come out, in order. Authentication goes through events the
//! application answers; the mailboxes are a [`MailStore`] the application hands over after
//! login, which the machine asks directly (synchronous calls).
//!
//! | event | the application answers with |
//! | --- | --- |
//! | [`ServerEvent::CheckCredentials`] (LOGIN, AUTHENTICATE) | [`Server::answer_credentials`] |
//! | [`ServerEvent::OpenStore`] | [`Server::open_store`] or [`Server::refuse_store`] |
//! | [`ServerEvent::Secured`], [`ServerEvent::Closed`] | nothing (information) |
//!
//! [`Server::shutdown`] ends the session whenever the application wants (`* BYE`).
//!
//! # States (RFC 9051 §3)
//!
//! ```text
//!  greeting ─▶ NOT AUTHENTICATED ──LOGIN / AUTHENTICATE ok + store opened──▶ AUTHENTICATED
//!                 │  ▲ STARTTLS: OK, StartTls, amnesia                          │ ▲
//!                 │  └──────────────────────────────┘          SELECT/EXAMINE   ▼ │ CLOSE/UNSELECT
//!                 │                                                          SELECTED
//!                 ▼                                                             │
//!              LOGOUT ◀── LOGOUT / EOF / timeout / error / shutdown() ──────────┘
//! ```
//!
//! Commands are answered in order: while the machine waits for the application (an event),
//! for a TLS handshake, or for the client to read a FETCH response, pipelined commands wait
//! in a bounded buffer ([`ServerConfigBuilder::max_pipelined_input`]).
//!
//! # Security
//!
//! - **STARTTLS clean cut** (RFC 9051 §6.2.1, CVE-2011-0411, CVE-2021-33515): the tagged `OK`
//!   then [`Output::StartTls`] only if no byte follows `STARTTLS\r\n` (buffered, in the same
//!   input call, or arriving before the handshake ends); otherwise nothing after it runs, no
//!   upgrade takes place and the session ends with [`ServerError::CommandInjection`].
//! - **Amnesia**: after the handshake the framer starts afresh; capabilities are sent again
//!   only when asked, never with `STARTTLS` or `LOGINDISABLED`; a second STARTTLS is `BAD`.
//! - **Require secure channel** (the default policy): before TLS the capabilities hold
//!   `LOGINDISABLED` and no `AUTH=`, and LOGIN and AUTHENTICATE are answered
//!   `NO [PRIVACYREQUIRED]` (RFC 9051 §6.2.3, RFC 5530).
//! - **Bounds**: lines, literals (`+` only after the size is accepted; `NO [TOOBIG]`
//!   otherwise, RFC 9051 §4.3, §7.1), pipelined input, bad commands, failed logins, an
//!   autologout timer (shorter before login; at least 30 minutes after, RFC 9051 §5.4).
//!   Error replies never echo the client's bytes.
//! - **Cross-protocol** (ALPACA): an HTTP request line before login closes the session at
//!   once, without a reply ([`ServerError::CrossProtocol`]).
//!
//! # FETCH: message content pulled as output is taken
//!
//! A FETCH becomes a job that [`Machine::poll_output`] advances one step per call: one
//! message's response at a time, and a `BODY[]`, `RFC822` or `BINARY[]` literal read from
//! [`MailStore::open_message`] one chunk ([`ServerConfigBuilder::fetch_chunk`]) per call.
//! A driver that stops draining while its socket is behind (as `mailsec_tls::Driver` does)
//! thus keeps at most a chunk of a message in memory, never the whole message. `BODY[TEXT]` and
//! `RFC822.TEXT` stream the same way from the header's end, and `BODY[]<partial>` and
//! `BINARY[]<partial>` skip to their origin: none of them analyses the message.
//!
//! Each message is read only as far as its items need:
//!
//! - `FLAGS`, `UID`, `INTERNALDATE`, `RFC822.SIZE`, `BINARY.SIZE[]`: nothing (the folder view);
//! - `ENVELOPE`, `RFC822.HEADER`, `BODY[HEADER]`, `BODY[HEADER.FIELDS (...)]`,
//!   `BODY[HEADER.FIELDS.NOT (...)]` (and the header length `BODY[TEXT]` starts after): the
//!   header block only, read up to its empty line in reads that start at 2 KiB and double, so
//!   about the header's size is read however long the body is. A message without an empty line
//!   is all header (RFC 5322 §2.1, RFC 9051 §6.4.5), read up to
//!   [`ServerConfigBuilder::max_parse_size`];
//! - `BODY`, `BODYSTRUCTURE`, `BODY[n...]`, `BINARY[n]`, `BINARY.SIZE[n]`: the whole message,
//!   read into memory up to [`ServerConfigBuilder::max_parse_size`] and analysed.
//!
//! # Mailbox updates
//!
//! The machine keeps its own view of the selected folder (uids, flags) and compares it with
//! [`MailStore::view`] after NOOP, CHECK, commands that change the folder, and every
//! [`ServerConfigBuilder::recheck_interval`] during IDLE, then reports `EXISTS`, `EXPUNGE`,
//! `RECENT` (IMAP4rev1) and `FETCH (FLAGS)`. `EXPUNGE` is never sent while answering FETCH,
//! STORE or SEARCH (RFC 9051 §7.5.1; their UID forms are treated alike), so sequence numbers
//! stay right; unsolicited STATUS or LIST are never sent.
//!
//! # Example: a session over an `insecure_plaintext` listener
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use mailsec_imap::server::{Server, ServerConfig, ServerEvent};
//! use mailsec_imap::store::MemoryStore;
//! use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, ExposeSecret};
//! use mailsec_tls::{Machine, Output, ServerPolicy};
//!
//! let config = ServerConfig::builder().policy(ServerPolicy::insecure_plaintext()).build()?;
//! let mut server = Server::new(Arc::new(config), Instant::now());
//! let store = MemoryStore::new();
//! store.deliver("INBOX", b"Subject: hi\r\n\r\nhello\r\n")?;
//!
//! let mut wire = Vec::new();
//! server.handle_input(
//!     Instant::now(),
//!     b"a1 LOGIN alice secret\r\na2 SELECT INBOX\r\na3 FETCH 1 BODY[]\r\na4 LOGOUT\r\n",
//! );
//! // The drive loop: drain, answer events (answers queue more output), until nothing is left.
//! while let Some(output) = server.poll_output() {
//!     match output {
//!         Output::Transmit(bytes) => wire.extend_from_slice(&bytes),
//!         Output::Event(ServerEvent::CheckCredentials { check, .. }) => {
//!             let ok = matches!(&check, CredentialCheck::Password { authcid, password, .. }
//!                 if authcid == "alice" && password.expose_secret() == "secret");
//!             server.answer_credentials(if ok { CheckAnswer::Accept } else { CheckAnswer::Reject })?;
//!         }
//!         Output::Event(ServerEvent::OpenStore { .. }) => server.open_store(Box::new(store.clone()))?,
//!         Output::Close => break,
//!         _ => {}
//!     }
//! }
//! let wire = String::from_utf8(wire)?;
//! assert!(wire.contains("a2 OK [READ-WRITE] SELECT completed\r\n"));
//! assert!(wire.contains("* 1 FETCH (FLAGS (\\Seen) BODY[] {22}\r\nSubject: hi\r\n\r\nhello\r\n)\r\n"));
//! assert!(wire.ends_with("* BYE Logging out\r\na4 OK LOGOUT completed\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Not implemented
//!
//! CONDSTORE/QRESYNC (SELECT/EXAMINE parameters, `CHANGEDSINCE`, `UNCHANGEDSINCE`, `MODSEQ`
//! are refused with `BAD`), SEARCHRES (`$`), COMPRESS, QUOTA, NOTIFY, METADATA, MULTIAPPEND,
//! a PREAUTH greeting. `CHECK` is answered like `NOOP`; `ID` returns `* ID NIL`.
//!
//! The store is asked synchronously, inside the input and output calls: a SEARCH on message
//! content reads every message of the folder (one at a time: only the header block for header
//! keys, the whole message bounded by [`ServerConfigBuilder::max_parse_size`] for `BODY` and
//! `TEXT`) before it answers, at most [`ServerConfigBuilder::max_search_bytes`] in all per
//! command (`NO [LIMIT]` beyond).

mod auth;
mod config;
mod dispatch;
mod events;
mod fetch;
mod mailbox;
mod selected;
mod updates;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use mailsec_tls::sasl::{Identity, ServerExchange};
use mailsec_tls::{ListenerTls, Machine, Output, TlsInfo};

pub use self::config::{
    ConfigError, MAX_CONFIG_TEXT, MIN_FETCH_CHUNK, MIN_IDLE_TIMEOUT, ServerConfig,
    ServerConfigBuilder,
};
pub use self::events::{
    AuthMethod, ServerError, ServerEvent, SessionState, StoreRefusal, UsageError,
};
use self::fetch::FetchJob;
use self::updates::Selected;
use crate::framing::Framer;
use crate::serialize;
use crate::store::MailStore;
use crate::types::{Code, Data, Response, SimpleCode, StatusKind, Tag};

/// How many received bytes are given to the framer at a time while commands are read, so
/// that input left over when the machine stops reading stays bounded.
const PUSH_STEP: usize = 16 * 1024;

/// Commands are not read while this many outputs wait to be polled: a client that pipelines
/// many commands and does not read the answers fills its input bound, not the server's memory.
const MAX_QUEUED_OUTPUTS: usize = 512;

/// A credential question the application has not answered yet.
enum CredWait {
    Login { user: String },
    Sasl(ServerExchange),
}

/// What the machine waits for before it reads the next command.
enum Wait {
    /// Nothing: commands are read.
    Nothing,
    /// STARTTLS was accepted: the handshake, then [`Machine::handle_tls_established`].
    Upgrade,
    /// The implicit-TLS handshake, before the greeting.
    ImplicitHandshake,
    /// The client's next line of a SASL exchange.
    SaslLine {
        tag: Tag<'static>,
        exchange: ServerExchange,
    },
    /// The application's answer to a credential check.
    Credentials { tag: Tag<'static>, cred: CredWait },
    /// The application's answer to OpenStore.
    OpenStore { tag: Tag<'static> },
    /// IDLE (RFC 2177): `DONE` ends it.
    Idle {
        tag: Tag<'static>,
        next_check: Instant,
        next_keepalive: Instant,
    },
}

impl Wait {
    fn name(&self) -> &'static str {
        match self {
            Wait::Nothing => "a command",
            Wait::Upgrade => "the STARTTLS handshake",
            Wait::ImplicitHandshake => "the TLS handshake",
            Wait::SaslLine { .. } => "a SASL response from the client",
            Wait::Credentials { .. } => "answer_credentials",
            Wait::OpenStore { .. } => "open_store or refuse_store",
            Wait::Idle { .. } => "DONE from the client",
        }
    }

    fn reads_input(&self) -> bool {
        matches!(
            self,
            Wait::Nothing | Wait::SaslLine { .. } | Wait::Idle { .. }
        )
    }

    fn on_application(&self) -> bool {
        matches!(self, Wait::Credentials { .. } | Wait::OpenStore { .. })
    }
}

/// The IMAP server machine. See the [module documentation](self).
pub struct Server {
    config: Arc<ServerConfig>,
    framer: Framer,
    out: VecDeque<Output<ServerEvent, ServerError>>,
    secure: bool,
    wait: Wait,
    done: bool,
    /// Bytes of the current `handle_input` call not yet given to the framer.
    unpushed: usize,
    identity: Option<Identity>,
    auth_failures: u32,
    bad_commands: u32,
    deadline: Option<Instant>,
    /// The latest time the machine was told.
    now: Instant,
    store: Option<Box<dyn MailStore>>,
    selected: Option<Selected>,
    /// IMAP4rev2 enabled (RFC 9051 §6.3.1): no `\Recent`, ESEARCH, LIST in SELECT.
    rev2: bool,
    /// UTF8=ACCEPT enabled (RFC 6855).
    utf8: bool,
    /// The FETCH being answered, advanced by `poll_output`.
    job: Option<FetchJob>,
    /// Output was pulled from the job since the last timeout check.
    progress: bool,
    shutting_down: bool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("state", &self.state())
            .field("secure", &self.secure)
            .field("waiting_for", &self.wait.name())
            .field("identity", &self.identity)
            .field("selected", &self.selected_folder())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A session on a new connection accepted at `now` (the autologout timer starts then). It
    /// greets at once, unless the policy is implicit TLS: then it greets after
    /// [`Machine::handle_tls_established`].
    pub fn new(config: Arc<ServerConfig>, now: Instant) -> Self {
        let implicit = config.policy.tls() == ListenerTls::Implicit;
        let mut server = Server {
            framer: Framer::new(config.framer_config()),
            deadline: Some(now + config.login_timeout),
            config,
            out: VecDeque::new(),
            secure: false,
            wait: if implicit {
                Wait::ImplicitHandshake
            } else {
                Wait::Nothing
            },
            done: false,
            unpushed: 0,
            identity: None,
            auth_failures: 0,
            bad_commands: 0,
            now,
            store: None,
            selected: None,
            rev2: false,
            utf8: false,
            job: None,
            progress: false,
            shutting_down: false,
        };
        if !implicit {
            server.greet();
        }
        server
    }

    /// Where the session is.
    pub fn state(&self) -> SessionState {
        if self.done {
            SessionState::Logout
        } else if matches!(self.wait, Wait::ImplicitHandshake) {
            SessionState::Handshake
        } else if self.selected.is_some() {
            SessionState::Selected
        } else if self.store.is_some() {
            SessionState::Authenticated
        } else {
            SessionState::NotAuthenticated
        }
    }

    /// Whether TLS is up (implicit, or after STARTTLS).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Who logged in, once the store is open.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref().filter(|_| self.store.is_some())
    }

    /// The selected folder's name, if any.
    pub fn selected_folder(&self) -> Option<&str> {
        self.selected.as_ref().map(|s| s.name.as_str())
    }

    /// Whether the client enabled IMAP4rev2 (RFC 9051 §6.3.1).
    pub fn is_rev2(&self) -> bool {
        self.rev2
    }

    /// Takes the store back (after [`ServerEvent::Closed`], to release it).
    pub fn take_store(&mut self) -> Option<Box<dyn MailStore>> {
        self.store.take()
    }

    /// Received bytes held unprocessed: the command being framed and pipelined commands. Zero
    /// whenever [`Output::StartTls`] is emitted.
    pub fn buffered_input(&self) -> usize {
        self.framer.buffered()
    }

    /// Whether a FETCH response is being produced (pulled through [`Machine::poll_output`]).
    pub fn is_streaming(&self) -> bool {
        self.job.is_some()
    }

    // ----- intents -------------------------------------------------------------------------

    /// Answers [`ServerEvent::CheckCredentials`].
    ///
    /// [`CheckAnswer::Accept`](mailsec_tls::sasl::CheckAnswer::Accept) or `AcceptAs` go on to
    /// [`ServerEvent::OpenStore`] (or the next SASL step); `Reject` sends
    /// `NO [AUTHENTICATIONFAILED]` and counts a failure (the session closes after
    /// [`ServerConfigBuilder::max_auth_failures`]).
    pub fn answer_credentials(
        &mut self,
        answer: mailsec_tls::sasl::CheckAnswer,
    ) -> Result<(), UsageError> {
        let wait = self.expect("answer_credentials", |w| {
            matches!(w, Wait::Credentials { .. })
        })?;
        let Wait::Credentials { tag, cred } = wait else {
            return Ok(());
        };
        self.credentials_answered(tag, cred, answer);
        self.resume();
        Ok(())
    }

    /// Answers [`ServerEvent::OpenStore`]: the session is authenticated with this store
    /// (`tag OK [CAPABILITY ...]`).
    pub fn open_store(&mut self, store: Box<dyn MailStore>) -> Result<(), UsageError> {
        let Wait::OpenStore { tag } =
            self.expect("open_store", |w| matches!(w, Wait::OpenStore { .. }))?
        else {
            return Ok(());
        };
        self.store = Some(store);
        self.framer.set_authenticated(true);
        self.deadline = Some(self.now + self.config.idle_timeout);
        let caps = self.capabilities();
        self.tagged(
            &tag,
            StatusKind::Ok,
            Some(Code::Capability(caps)),
            "Logged in",
        );
        self.resume();
        Ok(())
    }

    /// Answers [`ServerEvent::OpenStore`] with a refusal (a tagged `NO` with the code of
    /// [`StoreRefusal`]); the session stays not authenticated.
    pub fn refuse_store(&mut self, why: StoreRefusal) -> Result<(), UsageError> {
        let Wait::OpenStore { tag } =
            self.expect("refuse_store", |w| matches!(w, Wait::OpenStore { .. }))?
        else {
            return Ok(());
        };
        self.identity = None;
        match why {
            StoreRefusal::InUse => self.tagged(
                &tag,
                StatusKind::No,
                Some(Code::Simple(SimpleCode::InUse)),
                "Mailboxes in use, try again later",
            ),
            StoreRefusal::Unavailable => self.tagged(
                &tag,
                StatusKind::No,
                Some(Code::Simple(SimpleCode::Unavailable)),
                "Mailboxes unavailable, try again later",
            ),
            _ => {
                self.tagged(
                    &tag,
                    StatusKind::No,
                    Some(Code::Simple(SimpleCode::AuthorizationFailed)),
                    "Not authorized",
                );
                self.count_auth_failure();
            }
        }
        self.resume();
        Ok(())
    }

    /// The server is stopping: `* BYE Server shutting down`, then [`ServerEvent::Closed`] and
    /// [`Output::Close`]. During a TLS handshake it closes without a word; in the middle of a
    /// FETCH literal the current message is finished first. A later answer to a pending event
    /// returns [`UsageError::Closed`]. Calling it again does nothing.
    pub fn shutdown(&mut self) {
        if self.done || self.shutting_down {
            return;
        }
        if self.job.as_ref().is_some_and(FetchJob::mid_message) {
            self.shutting_down = true;
            return;
        }
        self.job = None;
        match self.wait {
            Wait::Upgrade | Wait::ImplicitHandshake => self.close(false, None),
            _ => {
                self.bye("Server shutting down");
                self.close(false, None);
            }
        }
    }

    // ----- internals -----------------------------------------------------------------------

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
        // The client waited for the application: it gets a full period from the answer.
        let timeout = if self.store.is_some() {
            self.config.idle_timeout
        } else {
            self.config.login_timeout
        };
        let fresh = self.now + timeout;
        self.deadline = Some(self.deadline.map_or(fresh, |d| d.max(fresh)));
        Ok(std::mem::replace(&mut self.wait, Wait::Nothing))
    }

    /// Queues one response.
    fn respond(&mut self, r: &Response<'_>) {
        if self.done {
            // Nothing goes out after Close.
            return;
        }
        let mut out = BytesMut::new();
        serialize::response(r, &mut out);
        self.out.push_back(Output::Transmit(out.freeze()));
    }

    fn transmit(&mut self, bytes: Bytes) {
        if self.done {
            return;
        }
        self.out.push_back(Output::Transmit(bytes));
    }

    fn tagged(&mut self, tag: &Tag<'_>, kind: StatusKind, code: Option<Code<'_>>, text: &str) {
        self.respond(&Response::Status {
            tag: Some(tag.clone()),
            kind,
            code,
            text: text.as_bytes().into(),
        });
    }

    fn ok(&mut self, tag: &Tag<'_>, text: &str) {
        self.tagged(tag, StatusKind::Ok, None, text);
    }

    fn no(&mut self, tag: &Tag<'_>, code: Option<SimpleCode>, text: &str) {
        self.tagged(tag, StatusKind::No, code.map(Code::Simple), text);
    }

    fn untagged_status(&mut self, kind: StatusKind, code: Option<Code<'_>>, text: &str) {
        self.respond(&Response::Status {
            tag: None,
            kind,
            code,
            text: text.as_bytes().into(),
        });
    }

    fn data(&mut self, d: Data<'_>) {
        self.respond(&Response::Data(d));
    }

    fn bye(&mut self, text: &str) {
        self.untagged_status(StatusKind::Bye, None, text);
    }

    /// A `BAD` for a bad command (tagged when the tag is known); closes after too many.
    fn bad(&mut self, tag: Option<&Tag<'_>>, text: &str) {
        match tag {
            Some(t) => self.tagged(t, StatusKind::Bad, None, text),
            None => self.untagged_status(StatusKind::Bad, None, text),
        }
        self.count_bad();
    }

    /// Counts a bad command; closes after too many.
    fn count_bad(&mut self) {
        self.bad_commands = self.bad_commands.saturating_add(1);
        if self.bad_commands >= self.config.max_bad_commands {
            self.bye("Too many bad commands");
            self.fail(ServerError::TooManyBadCommands);
        }
    }

    fn count_auth_failure(&mut self) {
        self.auth_failures = self.auth_failures.saturating_add(1);
        if self.auth_failures >= self.config.max_auth_failures {
            self.bye("Too many failed logins");
            self.fail(ServerError::TooManyAuthFailures);
        }
    }

    /// Ends the session: the Closed event, an error if any, then Close.
    fn close(&mut self, logout: bool, error: Option<ServerError>) {
        if self.done {
            return;
        }
        self.done = true;
        self.wait = Wait::Nothing;
        self.job = None;
        self.selected = None;
        self.framer = Framer::new(self.config.framer_config());
        self.out
            .push_back(Output::Event(ServerEvent::Closed { logout }));
        if let Some(e) = error {
            self.out.push_back(Output::Error(e));
        }
        self.out.push_back(Output::Close);
    }

    fn fail(&mut self, error: ServerError) {
        self.close(false, Some(error));
    }

    /// Whether the machine reads commands now.
    fn reads_input(&self) -> bool {
        !self.done
            && self.job.is_none()
            && self.wait.reads_input()
            && self.out.len() < MAX_QUEUED_OUTPUTS
    }
}

impl Machine for Server {
    type Event = ServerEvent;
    type Error = ServerError;

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.done || data.is_empty() {
            return;
        }
        self.now = now;
        if matches!(self.wait, Wait::Upgrade | Wait::ImplicitHandshake) {
            // Between the cut and the handshake the pipe hands nothing over; bytes here can
            // only be plaintext injected after STARTTLS.
            self.fail(ServerError::CommandInjection { bytes: data.len() });
            return;
        }
        let timeout = if self.store.is_some() {
            self.config.idle_timeout
        } else {
            self.config.login_timeout
        };
        self.deadline = Some(now + timeout);
        let mut rest = data;
        while !rest.is_empty() && !self.done {
            if matches!(self.wait, Wait::Upgrade) {
                self.fail(ServerError::CommandInjection { bytes: rest.len() });
                return;
            }
            let n = if self.reads_input() && !self.framer.is_awaiting_decision() {
                rest.len().min(PUSH_STEP)
            } else {
                // Not reading: everything waits, within the bound.
                let held = self.framer.unexamined();
                if held.saturating_add(rest.len()) > self.config.max_pipelined_input {
                    self.bye("Too much pipelined input");
                    self.fail(ServerError::InputOverflow {
                        limit: self.config.max_pipelined_input,
                    });
                    return;
                }
                rest.len()
            };
            if let Err(e) = self.framer.push(&rest[..n]) {
                self.bye("Too much input");
                self.fail(ServerError::Framing(e));
                return;
            }
            rest = &rest[n..];
            self.unpushed = rest.len();
            self.process();
            if !self.reads_input() && !rest.is_empty() {
                // Stopped reading (event, job, handshake): keep the rest, bounded.
                continue;
            }
        }
        self.unpushed = 0;
    }

    fn handle_eof(&mut self, _now: Instant) {
        if !self.done {
            self.close(false, None);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.done {
            return;
        }
        self.now = now;
        if self.wait_idle_timers(now) {
            return;
        }
        if self.deadline.is_none_or(|d| d > now) {
            return;
        }
        let timeout = if self.store.is_some() {
            self.config.idle_timeout
        } else {
            self.config.login_timeout
        };
        if self.wait.on_application() {
            self.deadline = Some(now + timeout);
            return;
        }
        if self.job.is_some() {
            if std::mem::take(&mut self.progress) {
                // The client is reading the FETCH response.
                self.deadline = Some(now + timeout);
                return;
            }
            if self.job.as_ref().is_some_and(FetchJob::mid_message) {
                // A BYE now would be read as literal content.
                self.fail(ServerError::Timeout);
                return;
            }
            self.job = None;
        }
        if matches!(self.wait, Wait::Upgrade | Wait::ImplicitHandshake) {
            self.fail(ServerError::Timeout);
            return;
        }
        self.bye("Autologout; idle for too long");
        self.fail(ServerError::Timeout);
    }

    fn handle_tls_established(&mut self, now: Instant, _info: &TlsInfo) {
        if self.done {
            return;
        }
        self.now = now;
        // Amnesia (RFC 9051 §6.2.1): nothing from the plaintext phase survives.
        self.secure = true;
        self.framer = Framer::new(self.config.framer_config());
        self.identity = None;
        self.deadline = Some(now + self.config.login_timeout);
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
        loop {
            if let Some(o) = self.out.pop_front() {
                return Some(o);
            }
            if self.done {
                return None;
            }
            if self.job.is_some() {
                self.step_job();
                continue;
            }
            // Commands left waiting while the queue was full.
            if self.framer.buffered() == 0 || !self.reads_input() {
                return None;
            }
            self.process();
            if self.out.is_empty() {
                return None;
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.done {
            return None;
        }
        match (&self.wait, self.deadline) {
            (
                Wait::Idle {
                    next_check,
                    next_keepalive,
                    ..
                },
                d,
            ) => {
                let t = (*next_check).min(*next_keepalive);
                Some(d.map_or(t, |d| d.min(t)))
            }
            (_, d) => d,
        }
    }
}
