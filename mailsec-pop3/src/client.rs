//! The Sans-IO POP3 client machine (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH).
//!
//! [`Client`] implements [`mailsec_tls::Machine`]: feed it what the server sent, drain
//! [`Machine::poll_output`] after every call, and call intents ([`Client::retr`],
//! [`Client::uidl`], …) whenever you like: those made before [`ClientEvent::Ready`] wait
//! until the login is done. Intents take `now` because sending one may start the response
//! timeout. The client logs in on its own:
//!
//! ```text
//! greeting (+OK, APOP timestamp kept)       -ERR / garbage → ClientError, whatever the policy
//! CAPA                                      -ERR → no capabilities (old server)
//! STLS (StartTlsRequired / Opportunistic)   not offered, refused, odd → ClientError (Required)
//!   +OK, nothing buffered behind it         anything buffered → ResponseInjection
//!   Output::StartTls … handle_tls_established: forget everything, CAPA again
//! AUTH mech [initial-response] / + challenges (RFC 5034), else APOP, else USER / PASS
//! Ready { capabilities, secure, auth }
//! intents: STAT LIST UIDL TOP RETR DELE RSET NOOP QUIT; pipelined if PIPELINING is listed
//! ```
//!
//! # Security decisions
//!
//! - With [`ClientTls::StartTlsRequired`], STLS is sent only if a successful CAPA listed it
//!   (RFC 2595 §4); a missing STLS, a CAPA `-ERR`, an STLS `-ERR` or anything odd ends the
//!   session before USER, PASS, APOP or AUTH is written (SECURITY.md invariant 4).
//! - With [`ClientTls::Implicit`], input before [`Machine::handle_tls_established`] ends the
//!   session ([`ClientError::PlaintextBeforeTls`]).
//! - After the handshake the client forgets the plaintext CAPA and the greeting's APOP
//!   timestamp and asks for CAPA again; the SASL mechanism is chosen only from that list.
//! - Without TLS no credential of any kind (SASL, even SCRAM; USER/PASS; APOP) is sent unless
//!   [`InsecureAuth::AllowPlaintextMechanismsWithoutTls`] is configured.
//! - Authentication failure ends the session; a `-ERR` to a transaction command is a
//!   [`ClientEvent::Failed`] and the session goes on.
//! - Lines are bounded ([`MAX_RESPONSE_LINE`], [`MAX_SASL_LINE`] during AUTH), as are
//!   listings, CAPA, queued intents and time ([`ClientConfigBuilder::response_timeout`]);
//!   bodies are streamed ([`ClientEvent::MessageData`]), never held whole.
//!
//! # Example
//!
//! ```
//! use std::time::Instant;
//! use mailsec_pop3::client::{Client, ClientConfig, ClientEvent};
//! use mailsec_pop3::MessageNumber;
//! use mailsec_tls::sasl::{Credentials, InsecureAuth};
//! use mailsec_tls::{ClientTls, Machine, Output};
//!
//! let config = ClientConfig::builder(Credentials::password("alice", "s3cret"))
//!     .tls(ClientTls::InsecurePlaintext) // a closed test network
//!     .insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls)
//!     .build();
//! let mut client = Client::new(config);
//! let now = Instant::now();
//! client.start_clock(now);
//! // Intents may be queued before login; they are sent once logged in.
//! let retr = client.retr(now, MessageNumber::new(1).unwrap()).unwrap();
//! client.quit(now).unwrap();
//!
//! let mut wire = Vec::new();
//! let mut events = Vec::new();
//! let mut drain = |client: &mut Client| {
//!     while let Some(output) = client.poll_output() {
//!         match output {
//!             Output::Transmit(bytes) => wire.extend_from_slice(&bytes),
//!             Output::Event(event) => events.push(event),
//!             Output::Error(error) => panic!("{error}"),
//!             _ => {}
//!         }
//!     }
//! };
//! for server in [
//!     &b"+OK POP3 ready\r\n"[..],
//!     b"+OK\r\nUSER\r\n.\r\n",
//!     b"+OK\r\n",
//!     b"+OK logged in\r\n",
//!     b"+OK 12 octets\r\n..hidden\r\n.\r\n",
//!     b"+OK bye\r\n",
//! ] {
//!     client.handle_input(now, server);
//!     drain(&mut client);
//! }
//! assert_eq!(
//!     wire,
//!     b"CAPA\r\nUSER alice\r\nPASS s3cret\r\nRETR 1\r\nQUIT\r\n"
//! );
//! assert!(events.contains(&ClientEvent::MessageData { id: retr, data: ".hidden\r\n".into() }));
//! assert_eq!(events.last(), Some(&ClientEvent::Closed { update_acknowledged: true }));
//! ```

mod config;
mod event;
mod leave;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use mailsec_tls::framer::LineFramer;
use mailsec_tls::sasl::{
    ClientExchange, CredentialKind, ExposeSecret, InsecureAuth, Mechanism, SecretSlice,
    choose_mechanism,
};
use mailsec_tls::{ClientTls, Machine, Output, TlsInfo};
use md5::{Digest, Md5};

pub use config::{
    ClientConfig, ClientConfigBuilder, DEFAULT_MAX_CAPABILITIES, DEFAULT_MAX_LISTING_ENTRIES,
    DEFAULT_MAX_PIPELINE, DEFAULT_MAX_QUEUED, DEFAULT_RESPONSE_TIMEOUT,
};
pub use event::{
    AuthMethod, ClientError, ClientEvent, CommandError, Request, RequestId, UsageError,
};
pub use leave::{LeaveMode, LeaveOnServer};

use crate::multiline::MultilineDecoder;
use crate::parse;
use crate::serialize;
use crate::types::{
    ApopDigest, AuthResponse, Capabilities, Command, MAX_RESPONSE_LINE, MAX_SASL_LINE,
    MechanismName, MessageNumber, Response, ScanListing, SecretBytes, StatusLine, UidlListing,
};

/// Where the session is.
#[derive(Debug)]
enum Phase {
    /// Implicit TLS: waiting for the driver's handshake.
    AwaitTls,
    Greeting,
    Capa,
    /// Reading CAPA lines.
    CapaList,
    Stls,
    /// `Output::StartTls` given; nothing is read or sent until the handshake completes.
    Handshake,
    User,
    Pass,
    Apop,
    Auth(Box<SaslState>),
    Transaction,
    Done,
    /// Placeholder while a response handler owns the phase; every handler sets the next one.
    Taken,
}

#[derive(Debug)]
struct SaslState {
    exchange: ClientExchange,
    /// An initial response too long for the AUTH line, sent after the empty challenge.
    deferred: Option<SecretSlice<u8>>,
}

/// A multi-line response being read for the command at the front of the pipeline.
#[derive(Debug)]
enum Multi {
    List(Vec<ScanListing>),
    Uidl(Vec<UidlListing>),
    Body {
        decoder: MultilineDecoder,
        msg: MessageNumber,
        discarding: bool,
    },
}

#[derive(Debug)]
struct InFlight {
    id: RequestId,
    request: Request,
    multi: Option<Multi>,
}

/// The POP3 client machine. See the [module documentation](self).
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    framer: LineFramer,
    out: VecDeque<Output<ClientEvent, ClientError>>,
    phase: Phase,
    secure: bool,
    capabilities: Capabilities,
    capa_lines: usize,
    apop_timestamp: Option<Vec<u8>>,
    /// The password between USER and its +OK.
    pending_pass: Option<SecretBytes>,
    auth: Option<AuthMethod>,
    queue: VecDeque<(RequestId, Request)>,
    inflight: VecDeque<InFlight>,
    next_id: u64,
    quit_requested: bool,
    deadline: Option<Instant>,
    /// Bytes of the current `handle_input` call not yet given to the framer (for the STLS
    /// injection check).
    unframed: usize,
}

impl Client {
    /// A client that has not connected yet. With [`ClientTls::Implicit`] it waits for
    /// [`Machine::handle_tls_established`]; otherwise for the plaintext greeting.
    pub fn new(config: ClientConfig) -> Self {
        let phase = if config.tls == ClientTls::Implicit {
            Phase::AwaitTls
        } else {
            Phase::Greeting
        };
        Client {
            config,
            framer: LineFramer::new(MAX_RESPONSE_LINE),
            out: VecDeque::new(),
            phase,
            secure: false,
            capabilities: Capabilities::new(),
            capa_lines: 0,
            apop_timestamp: None,
            pending_pass: None,
            auth: None,
            queue: VecDeque::new(),
            inflight: VecDeque::new(),
            next_id: 0,
            quit_requested: false,
            deadline: None,
            unframed: 0,
        }
    }

    /// Starts the response timeout at `now` (call when the connection is made, so that a
    /// server that never greets is noticed). The first input starts it otherwise.
    pub fn start_clock(&mut self, now: Instant) {
        self.rearm(now, true);
    }

    /// The capabilities of the current phase (after TLS: those listed over TLS).
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Whether TLS is up (a handshake completed and the certificate was verified).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Whether the client is logged in and not closed.
    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Transaction)
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// How the client authenticated, once it did.
    pub fn auth_method(&self) -> Option<AuthMethod> {
        self.auth
    }

    /// Intents queued or in flight.
    pub fn pending(&self) -> usize {
        self.queue.len() + self.inflight.len()
    }

    /// Queues an intent; it is sent once logged in (at once when pipelining, else after the
    /// previous answer). Results come as events carrying the returned id, in order.
    pub fn request(&mut self, now: Instant, request: Request) -> Result<RequestId, UsageError> {
        if matches!(self.phase, Phase::Done) {
            return Err(UsageError::Closed);
        }
        if self.quit_requested {
            return Err(UsageError::Quitting);
        }
        if self.queue.len() >= self.config.max_queued {
            return Err(UsageError::QueueFull {
                limit: self.config.max_queued,
            });
        }
        let id = RequestId(self.next_id);
        self.next_id += 1;
        if request == Request::Quit {
            self.quit_requested = true;
        }
        self.queue.push_back((id, request));
        self.pump();
        self.rearm(now, false);
        Ok(id)
    }

    /// `STAT` → [`ClientEvent::Stat`].
    pub fn stat(&mut self, now: Instant) -> Result<RequestId, UsageError> {
        self.request(now, Request::Stat)
    }

    /// `LIST [msg]` → [`ClientEvent::List`].
    pub fn list(
        &mut self,
        now: Instant,
        msg: Option<MessageNumber>,
    ) -> Result<RequestId, UsageError> {
        self.request(now, Request::List(msg))
    }

    /// `UIDL [msg]` → [`ClientEvent::Uidl`].
    pub fn uidl(
        &mut self,
        now: Instant,
        msg: Option<MessageNumber>,
    ) -> Result<RequestId, UsageError> {
        self.request(now, Request::Uidl(msg))
    }

    /// `TOP msg lines` → [`ClientEvent::MessageData`]… [`ClientEvent::MessageEnd`]. With
    /// `lines` 0, only the headers (and the blank line after them).
    pub fn top(
        &mut self,
        now: Instant,
        msg: MessageNumber,
        lines: u32,
    ) -> Result<RequestId, UsageError> {
        self.request(now, Request::Top { msg, lines })
    }

    /// `RETR msg` → [`ClientEvent::MessageData`]… [`ClientEvent::MessageEnd`].
    pub fn retr(&mut self, now: Instant, msg: MessageNumber) -> Result<RequestId, UsageError> {
        self.request(now, Request::Retr(msg))
    }

    /// `DELE msg` → [`ClientEvent::Deleted`].
    pub fn dele(&mut self, now: Instant, msg: MessageNumber) -> Result<RequestId, UsageError> {
        self.request(now, Request::Dele(msg))
    }

    /// `RSET` → [`ClientEvent::Reset`].
    pub fn rset(&mut self, now: Instant) -> Result<RequestId, UsageError> {
        self.request(now, Request::Rset)
    }

    /// `NOOP` → [`ClientEvent::Noop`].
    pub fn noop(&mut self, now: Instant) -> Result<RequestId, UsageError> {
        self.request(now, Request::Noop)
    }

    /// `QUIT` (after every intent queued before it) → [`ClientEvent::Closed`] and
    /// [`Output::Close`]. No intent is accepted afterwards.
    pub fn quit(&mut self, now: Instant) -> Result<RequestId, UsageError> {
        self.request(now, Request::Quit)
    }

    // ----- output helpers -----

    fn event(&mut self, event: ClientEvent) {
        self.out.push_back(Output::Event(event));
    }

    fn send(&mut self, cmd: &Command) -> bool {
        let mut buf = BytesMut::new();
        match serialize::command(cmd, &mut buf) {
            Ok(()) => {
                self.out.push_back(Output::Transmit(buf.freeze()));
                true
            }
            Err(e) => {
                self.fail(e.into());
                false
            }
        }
    }

    fn fail(&mut self, err: ClientError) {
        if matches!(self.phase, Phase::Done) {
            return;
        }
        self.phase = Phase::Done;
        self.out.push_back(Output::Error(err));
        self.out.push_back(Output::Close);
        self.end();
    }

    fn end(&mut self) {
        self.phase = Phase::Done;
        self.queue.clear();
        self.inflight.clear();
        self.framer.clear();
        self.deadline = None;
        self.pending_pass = None;
    }

    fn expecting(&self) -> bool {
        match self.phase {
            Phase::Done => false,
            Phase::Transaction => !self.inflight.is_empty(),
            _ => true,
        }
    }

    /// Sets the response deadline: refreshed on progress, started when a wait begins,
    /// cleared when nothing is expected.
    fn rearm(&mut self, now: Instant, progress: bool) {
        if !self.expecting() {
            self.deadline = None;
        } else if progress || self.deadline.is_none() {
            self.deadline = now.checked_add(self.config.response_timeout);
        }
    }

    // ----- input -----

    fn feed(&mut self, data: &[u8]) {
        let mut rest = data;
        while !rest.is_empty() {
            match self.phase {
                Phase::Done => return,
                Phase::Handshake => {
                    self.fail(ClientError::ResponseInjection(rest.len()));
                    return;
                }
                _ => {}
            }
            if self.in_body() {
                let bytes = Bytes::copy_from_slice(rest);
                let used = self.feed_body(&bytes);
                if used == 0 {
                    // Not reached (a decoder consumes until its terminator); never spin.
                    return self.fail(ClientError::UnexpectedResponse("body decoder stalled"));
                }
                rest = &rest[used.min(rest.len())..];
                continue;
            }
            let room = self.framer.remaining();
            if room == 0 {
                self.fail(ClientError::Framing(
                    mailsec_tls::framer::FrameError::BufferFull {
                        limit: self.framer.max_buffered(),
                    },
                ));
                return;
            }
            let n = room.min(rest.len());
            if let Err(e) = self.framer.push(&rest[..n]) {
                self.fail(e.into());
                return;
            }
            rest = &rest[n..];
            self.unframed = rest.len();
            self.lines();
            self.unframed = 0;
        }
    }

    fn in_body(&self) -> bool {
        matches!(self.phase, Phase::Transaction)
            && matches!(
                self.inflight.front(),
                Some(InFlight {
                    multi: Some(Multi::Body { .. }),
                    ..
                })
            )
    }

    /// Processes framed lines until the framer is empty, the session ends, a body starts
    /// (its bytes are then handed over) or the TLS cut.
    fn lines(&mut self) {
        loop {
            if matches!(self.phase, Phase::Done | Phase::Handshake) {
                return;
            }
            if self.in_body() {
                // The handoff: what the framer holds after the +OK line is body (and maybe
                // pipelined responses after it): decode it, give back what follows the
                // terminator. The framer is empty then, so order is preserved.
                let raw = self.framer.take_raw(usize::MAX);
                let used = self.feed_body(&raw);
                if used < raw.len() && !matches!(self.phase, Phase::Done) {
                    if let Err(e) = self.framer.push(&raw[used..]) {
                        self.fail(e.into());
                        return;
                    }
                    continue;
                }
                return;
            }
            match self.framer.next_line() {
                None => return,
                Some(Err(e)) => {
                    self.fail(e.into());
                    return;
                }
                Some(Ok(line)) => self.line(&line),
            }
        }
    }

    fn line(&mut self, line: &[u8]) {
        match self.phase {
            Phase::CapaList => return self.capa_line(line),
            Phase::Transaction
                if matches!(self.inflight.front(), Some(InFlight { multi: Some(_), .. })) =>
            {
                return self.listing_line(line);
            }
            _ => {}
        }
        let response = match parse::response(line) {
            Ok(r) => r,
            Err(error) => {
                let err = match self.phase {
                    Phase::Greeting => ClientError::InvalidGreeting(error),
                    _ => ClientError::Malformed {
                        what: "response",
                        error,
                    },
                };
                return self.fail(err);
            }
        };
        let status = match response {
            Response::Continuation(challenge) => {
                if matches!(self.phase, Phase::Auth(_)) {
                    return self.sasl_challenge(&challenge);
                }
                return self.fail(ClientError::UnexpectedResponse(
                    "AUTH continuation outside AUTH",
                ));
            }
            Response::Status(s) => s,
        };
        match std::mem::replace(&mut self.phase, Phase::Taken) {
            Phase::Greeting => self.greeting(status),
            Phase::Capa => self.capa_status(status),
            Phase::Stls => self.stls_status(status),
            Phase::User => self.user_status(status),
            Phase::Pass => self.login_status(status, AuthMethod::UserPass),
            Phase::Apop => self.login_status(status, AuthMethod::Apop),
            Phase::Auth(sasl) => self.auth_status(status, *sasl),
            Phase::Transaction => {
                self.phase = Phase::Transaction;
                self.transaction_status(status);
            }
            Phase::AwaitTls | Phase::Handshake | Phase::CapaList | Phase::Done | Phase::Taken => {
                // Not reached: these phases do not read status lines here.
                self.fail(ClientError::UnexpectedResponse("response in this state"));
            }
        }
    }

    // ----- AUTHORIZATION: greeting, CAPA, STLS -----

    fn greeting(&mut self, status: StatusLine) {
        if !status.is_ok() {
            // An error path never skips the TLS policy: the session simply ends
            // (CVE-2020-28896).
            return self.fail(ClientError::GreetingRefused {
                text: status.text_sanitized(),
                code: status.code,
            });
        }
        self.apop_timestamp = status.apop_timestamp().map(<[u8]>::to_vec);
        self.ask_capa();
    }

    fn ask_capa(&mut self) {
        self.capabilities = Capabilities::new();
        self.capa_lines = 0;
        self.phase = Phase::Capa;
        self.send(&Command::Capa);
    }

    fn capa_status(&mut self, status: StatusLine) {
        if status.is_ok() {
            self.phase = Phase::CapaList;
            return;
        }
        // RFC 2449 §5: a server without CAPA answers -ERR; go on with no capabilities,
        // unless TLS is required and not up yet (we cannot know STLS is there).
        if !self.secure && self.config.tls == ClientTls::StartTlsRequired {
            return self.fail(ClientError::CapabilitiesRefused {
                text: status.text_sanitized(),
                code: status.code,
            });
        }
        self.after_capa();
    }

    fn capa_line(&mut self, line: &[u8]) {
        let Some(line) = parse::unstuff(line) else {
            return self.after_capa();
        };
        self.capa_lines += 1;
        if self.capa_lines > self.config.max_capabilities {
            return self.fail(ClientError::TooManyCapabilities {
                limit: self.config.max_capabilities,
            });
        }
        // Tolerant: a capability line that does not follow RFC 2449 is skipped.
        if let Ok(cap) = parse::capability(line) {
            self.capabilities.push(cap);
        }
    }

    fn after_capa(&mut self) {
        if self.secure {
            return self.authenticate();
        }
        match self.config.tls {
            ClientTls::StartTlsRequired if !self.capabilities.has_stls() => {
                self.fail(ClientError::StlsNotOffered)
            }
            ClientTls::StartTlsRequired | ClientTls::StartTlsOpportunistic
                if self.capabilities.has_stls() =>
            {
                self.phase = Phase::Stls;
                self.send(&Command::Stls);
            }
            ClientTls::Implicit => self.fail(ClientError::PlaintextBeforeTls),
            _ => self.authenticate(),
        }
    }

    fn stls_status(&mut self, status: StatusLine) {
        if !status.is_ok() {
            if self.config.tls.requires_tls() {
                return self.fail(ClientError::StlsRefused {
                    text: status.text_sanitized(),
                    code: status.code,
                });
            }
            // Opportunistic: stay in clear (credentials still need InsecureAuth).
            return self.authenticate();
        }
        let pending = self.framer.buffered() + self.unframed;
        if pending > 0 {
            // Anything after the go-ahead was sent before TLS: injected (CVE-2021-38371).
            return self.fail(ClientError::ResponseInjection(pending));
        }
        self.phase = Phase::Handshake;
        self.out.push_back(Output::StartTls);
    }

    // ----- AUTHORIZATION: credentials -----

    fn may_use_credentials(&self) -> bool {
        self.secure || self.config.insecure_auth == InsecureAuth::AllowPlaintextMechanismsWithoutTls
    }

    fn choose_sasl(&self) -> Option<Mechanism> {
        let offered = self.capabilities.supported_mechanisms();
        let kind = self.config.credentials.kind();
        let insecure = self.config.insecure_auth;
        if self.config.mechanisms.is_empty() {
            return choose_mechanism(&offered, self.secure, insecure, kind);
        }
        self.config.mechanisms.iter().copied().find(|m| {
            offered.contains(m) && choose_mechanism(&[*m], self.secure, insecure, kind) == Some(*m)
        })
    }

    fn authenticate(&mut self) {
        if !self.may_use_credentials() {
            return self.fail(ClientError::NoUsableAuth(
                "the connection is not secure and cleartext credentials are refused",
            ));
        }
        if self.config.sasl {
            if let Some(m) = self.choose_sasl() {
                return self.start_sasl(m);
            }
        }
        let password = self.config.credentials.kind() == CredentialKind::Password;
        if self.config.apop && password {
            if let Some(ts) = self.apop_timestamp.take() {
                return self.start_apop(&ts);
            }
        }
        if self.config.user_pass && password {
            let Some(pass) = self.password() else { return };
            let user = self.config.credentials.username().as_bytes().to_vec();
            self.pending_pass = Some(pass);
            self.phase = Phase::User;
            self.send(&Command::User(user));
            return;
        }
        self.fail(ClientError::NoUsableAuth(
            "no offered SASL mechanism fits the credentials and USER/APOP are not usable",
        ));
    }

    /// The password, through the LOGIN exchange (the only public way to read it from
    /// [`mailsec_tls::sasl::Credentials`]).
    fn password(&mut self) -> Option<SecretBytes> {
        let result = (|| {
            let mut ex = ClientExchange::new(Mechanism::Login, self.config.credentials.clone())?;
            ex.step(b"")?;
            let pw = ex.step(b"")?;
            Ok::<_, mailsec_tls::sasl::SaslError>(SecretBytes::new(pw.expose_secret()))
        })();
        match result {
            Ok(p) => Some(p),
            Err(e) => {
                self.fail(e.into());
                None
            }
        }
    }

    fn start_apop(&mut self, timestamp: &[u8]) {
        let Some(pass) = self.password() else { return };
        let mut md5 = Md5::new();
        md5.update(timestamp);
        md5.update(pass.expose());
        let digest = ApopDigest(md5.finalize().into());
        let name = self.config.credentials.username().as_bytes().to_vec();
        self.phase = Phase::Apop;
        self.send(&Command::Apop { name, digest });
    }

    fn user_status(&mut self, status: StatusLine) {
        if !status.is_ok() {
            self.pending_pass = None;
            return self.login_status(status, AuthMethod::UserPass);
        }
        let Some(pass) = self.pending_pass.take() else {
            return self.fail(ClientError::UnexpectedResponse("USER answered twice"));
        };
        self.phase = Phase::Pass;
        self.send(&Command::Pass(pass));
    }

    fn login_status(&mut self, status: StatusLine, method: AuthMethod) {
        if !status.is_ok() {
            return self.fail(ClientError::AuthFailed {
                method,
                text: status.text_sanitized(),
                code: status.code,
            });
        }
        self.logged_in(method);
    }

    fn start_sasl(&mut self, mechanism: Mechanism) {
        let mut exchange = match ClientExchange::new(mechanism, self.config.credentials.clone()) {
            Ok(e) => e,
            Err(e) => return self.fail(e.into()),
        };
        let name = MechanismName::from(mechanism);
        let mut deferred = None;
        let mut cmd_bytes = BytesMut::new();
        if mechanism.client_first() {
            let ir = match exchange.initial_response() {
                Ok(ir) => ir,
                Err(e) => return self.fail(e.into()),
            };
            if let Some(ir) = ir {
                let cmd = Command::Auth {
                    mechanism: name.clone(),
                    initial_response: Some(SecretBytes::new(ir.expose_secret())),
                };
                // RFC 5034 §4: an initial response that does not fit the 255-octet line is
                // sent after the server's empty challenge instead.
                if serialize::command(&cmd, &mut cmd_bytes).is_err() {
                    deferred = Some(ir);
                }
            }
        }
        if cmd_bytes.is_empty() {
            let cmd = Command::Auth {
                mechanism: name,
                initial_response: None,
            };
            if let Err(e) = serialize::command(&cmd, &mut cmd_bytes) {
                return self.fail(e.into());
            }
        }
        self.out.push_back(Output::Transmit(cmd_bytes.freeze()));
        // Continuations carry base64 SASL data, exempt from the 512-octet limit (RFC 5034 §4).
        self.framer.set_max_line(MAX_SASL_LINE);
        self.phase = Phase::Auth(Box::new(SaslState { exchange, deferred }));
    }

    fn sasl_challenge(&mut self, challenge: &[u8]) {
        let Phase::Auth(sasl) = &mut self.phase else {
            return;
        };
        let response = match sasl.deferred.take() {
            Some(ir) if challenge.is_empty() => Ok(ir),
            Some(_) => Err(mailsec_tls::sasl::SaslError::OutOfOrder(
                "challenge before the initial response",
            )),
            None => sasl.exchange.step(challenge),
        };
        let mut buf = BytesMut::new();
        match response {
            Ok(r) => {
                let line = AuthResponse::Data(SecretBytes::new(r.expose_secret()));
                if let Err(e) = serialize::auth_response(&line, &mut buf) {
                    return self.fail(e.into());
                }
                self.out.push_back(Output::Transmit(buf.freeze()));
            }
            Err(e) => {
                // Cancel the exchange (RFC 5034 §4) and end the session.
                let _ = serialize::auth_response(&AuthResponse::Cancel, &mut buf);
                self.out.push_back(Output::Transmit(buf.freeze()));
                self.fail(e.into());
            }
        }
    }

    fn auth_status(&mut self, status: StatusLine, mut sasl: SaslState) {
        self.framer.set_max_line(MAX_RESPONSE_LINE);
        let method = AuthMethod::Sasl(sasl.exchange.mechanism());
        if !status.is_ok() {
            return self.login_status(status, method);
        }
        // POP3 carries no additional data with +OK; SCRAM's proof came as a challenge.
        if let Err(e) = sasl.exchange.finish(None) {
            return self.fail(e.into());
        }
        self.logged_in(method);
    }

    fn logged_in(&mut self, method: AuthMethod) {
        self.auth = Some(method);
        self.phase = Phase::Transaction;
        self.event(ClientEvent::Ready {
            capabilities: self.capabilities.clone(),
            secure: self.secure,
            auth: method,
        });
        self.pump();
    }

    // ----- TRANSACTION -----

    /// Sends queued intents: all at once (bounded) with PIPELINING, else one at a time.
    fn pump(&mut self) {
        if !matches!(self.phase, Phase::Transaction) {
            return;
        }
        let limit = if self.capabilities.has_pipelining() {
            self.config.max_pipeline
        } else {
            1
        };
        let mut buf = BytesMut::new();
        while self.inflight.len() < limit {
            let Some((id, request)) = self.queue.pop_front() else {
                break;
            };
            if let Err(e) = serialize::command(&request.command(), &mut buf) {
                return self.fail(e.into());
            }
            self.inflight.push_back(InFlight {
                id,
                request,
                multi: None,
            });
        }
        if !buf.is_empty() {
            self.out.push_back(Output::Transmit(buf.freeze()));
        }
    }

    fn transaction_status(&mut self, status: StatusLine) {
        let Some(front) = self.inflight.front_mut() else {
            return self.fail(ClientError::UnexpectedResponse(
                "response with no command pending",
            ));
        };
        let (id, request) = (front.id, front.request);
        if !status.is_ok() {
            self.inflight.pop_front();
            if request == Request::Quit {
                return self.closed(false);
            }
            self.event(ClientEvent::Failed {
                id,
                error: CommandError {
                    request,
                    text: status.text_sanitized(),
                    code: status.code,
                },
            });
            return self.pump();
        }
        let malformed = |what, error| ClientError::Malformed { what, error };
        let event = match request {
            Request::Stat => match parse::stat(&status.text) {
                Ok(stat) => ClientEvent::Stat { id, stat },
                Err(e) => return self.fail(malformed("STAT reply", e)),
            },
            Request::List(Some(_)) => match parse::scan_listing(&status.text) {
                Ok(l) => ClientEvent::List {
                    id,
                    listings: vec![l],
                },
                Err(e) => return self.fail(malformed("LIST reply", e)),
            },
            Request::Uidl(Some(_)) => match parse::uidl_listing(&status.text) {
                Ok(l) => ClientEvent::Uidl {
                    id,
                    listings: vec![l],
                },
                Err(e) => return self.fail(malformed("UIDL reply", e)),
            },
            Request::List(None) => {
                front.multi = Some(Multi::List(Vec::new()));
                return;
            }
            Request::Uidl(None) => {
                front.multi = Some(Multi::Uidl(Vec::new()));
                return;
            }
            Request::Retr(msg) | Request::Top { msg, .. } => {
                let decoder =
                    MultilineDecoder::new().with_bare_line_endings(self.config.bare_line_endings);
                front.multi = Some(Multi::Body {
                    decoder,
                    msg,
                    discarding: false,
                });
                return;
            }
            Request::Dele(msg) => ClientEvent::Deleted { id, msg },
            Request::Rset => ClientEvent::Reset { id },
            Request::Noop => ClientEvent::Noop { id },
            Request::Quit => {
                self.inflight.pop_front();
                return self.closed(true);
            }
        };
        self.inflight.pop_front();
        self.event(event);
        self.pump();
    }

    fn closed(&mut self, update_acknowledged: bool) {
        self.event(ClientEvent::Closed {
            update_acknowledged,
        });
        self.out.push_back(Output::Close);
        self.end();
    }

    fn listing_line(&mut self, line: &[u8]) {
        let limit = self.config.max_listing_entries;
        let Some(front) = self.inflight.front_mut() else {
            return;
        };
        let id = front.id;
        let Some(content) = parse::unstuff(line) else {
            let event = match front.multi.take() {
                Some(Multi::List(listings)) => ClientEvent::List { id, listings },
                Some(Multi::Uidl(listings)) => ClientEvent::Uidl { id, listings },
                _ => return,
            };
            self.inflight.pop_front();
            self.event(event);
            return self.pump();
        };
        let result = match &mut front.multi {
            Some(Multi::List(v)) if v.len() >= limit => Err(ClientError::TooManyEntries { limit }),
            Some(Multi::Uidl(v)) if v.len() >= limit => Err(ClientError::TooManyEntries { limit }),
            Some(Multi::List(v)) => {
                parse::scan_listing(content)
                    .map(|l| v.push(l))
                    .map_err(|error| ClientError::Malformed {
                        what: "LIST entry",
                        error,
                    })
            }
            Some(Multi::Uidl(v)) => {
                parse::uidl_listing(content)
                    .map(|l| v.push(l))
                    .map_err(|error| ClientError::Malformed {
                        what: "UIDL entry",
                        error,
                    })
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.fail(e);
        }
    }

    /// Feeds body bytes to the decoder of the front command; returns how many were used (all,
    /// unless the terminator came first).
    fn feed_body(&mut self, input: &Bytes) -> usize {
        let max = self.config.max_message_size;
        let Some(front) = self.inflight.front_mut() else {
            return 0;
        };
        let id = front.id;
        let Some(Multi::Body {
            decoder,
            msg,
            discarding,
        }) = &mut front.multi
        else {
            return 0;
        };
        let msg = *msg;
        let mut events = Vec::new();
        let before = decoder.body_len();
        let mut emitted = before;
        let result = decoder.feed(input, |chunk| {
            if *discarding {
                return;
            }
            let after = emitted + chunk.len() as u64;
            if let Some(limit) = max.filter(|l| after > *l) {
                *discarding = true;
                events.push(ClientEvent::MessageTooLarge { id, msg, limit });
                return;
            }
            emitted = after;
            events.push(ClientEvent::MessageData { id, data: chunk });
        });
        let done = decoder.is_done();
        let size = decoder.body_len();
        let discarded = *discarding;
        for e in events {
            self.event(e);
        }
        let used = match result {
            Ok(used) => used,
            Err(e) => {
                self.fail(e.into());
                return input.len();
            }
        };
        if done {
            self.inflight.pop_front();
            if !discarded {
                self.event(ClientEvent::MessageEnd { id, msg, size });
            }
            self.pump();
        }
        used
    }
}

impl Machine for Client {
    type Event = ClientEvent;
    type Error = ClientError;

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        match self.phase {
            Phase::Done => return,
            Phase::AwaitTls => return self.fail(ClientError::PlaintextBeforeTls),
            _ => {}
        }
        self.feed(data);
        self.rearm(now, true);
    }

    fn handle_eof(&mut self, _now: Instant) {
        if matches!(self.phase, Phase::Done) {
            return;
        }
        let quitting = matches!(self.phase, Phase::Transaction)
            && self.inflight.front().map(|f| f.request) == Some(Request::Quit);
        if quitting {
            self.closed(false);
        } else {
            self.fail(ClientError::ConnectionClosed);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| d <= now) {
            self.fail(ClientError::Timeout);
        }
    }

    fn handle_tls_established(&mut self, now: Instant, _info: &TlsInfo) {
        match self.phase {
            Phase::AwaitTls => {
                self.secure = true;
                self.phase = Phase::Greeting;
                self.event(ClientEvent::Secured);
            }
            Phase::Handshake => {
                // Amnesia (RFC 2595 §4, SECURITY.md invariant 2): nothing from plaintext.
                self.secure = true;
                self.framer.clear();
                self.apop_timestamp = None;
                self.event(ClientEvent::Secured);
                self.ask_capa();
            }
            Phase::Done => return,
            _ => return self.fail(ClientError::UnexpectedTls),
        }
        self.rearm(now, true);
    }

    fn poll_output(&mut self) -> Option<Output<ClientEvent, ClientError>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}
