//! The Sans-IO ESMTP server machine (RFC 5321 with STARTTLS, AUTH, PIPELINING, SIZE, 8BITMIME,
//! SMTPUTF8, CHUNKING, BINARYMIME, DSN, ENHANCEDSTATUSCODES and REQUIRETLS).
//!
//! [`Server`] implements [`Machine`]: feed it what the client sent, drain
//! [`Machine::poll_output`] after every call, and answer its *decision* events with its intent
//! methods. The application decides everything that matters — senders, recipients,
//! credentials, and whether a message was kept — and the machine pauses (buffering further
//! input, bounded) until it has. Nothing is acknowledged that the application did not accept:
//! the `250` after a message is sent only by [`Server::accept_message`].
//!
//! ```text
//!  client bytes ──► handle_input ──► framer ──► command ──► Event::MailFrom ─┐
//!                                                                          accept_sender()
//!  Output::Transmit(250 2.1.0) ◄───────────────────────────────────────────────┘
//!  DATA body ──► DataDecoder (strict CRLF.CRLF, unstuffed) ──► Event::MessageData(Bytes)…
//!            ──► Event::MessageEnd ──► accept_message() ──► Output::Transmit(250 2.0.0)
//! ```
//!
//! # Roles
//!
//! - [`Role::Mx`] (port 25): STARTTLS offered, never required; no AUTH.
//! - [`Role::Submission`] (port 587): STARTTLS required before anything but EHLO, HELO, NOOP,
//!   RSET, STARTTLS and QUIT (`530 5.7.0 Must issue a STARTTLS command first`); AUTH offered
//!   over TLS only and required before MAIL (`530 5.7.0 Authentication required`).
//! - [`Role::ImplicitSubmission`] (port 465): greets once TLS is up; AUTH required.
//!
//! # Security properties
//!
//! - **Clean cut** (RFC 3207, CVE-2011-0411): the go-ahead `220 2.0.0 Ready to start TLS` is
//!   followed by [`Output::StartTls`] only when no byte is buffered after `STARTTLS` CRLF;
//!   otherwise the server answers `421`, reports [`ServerError::CommandInjection`] and closes.
//! - **Amnesia**: after TLS the EHLO name, the transaction and any authentication are
//!   forgotten; MAIL before a new EHLO is `503`.
//! - **No cleartext credentials**: PLAIN/LOGIN/XOAUTH2/OAUTHBEARER are neither advertised nor
//!   accepted without TLS unless [`ServerConfig::with_insecure_auth`] says so (`538 5.7.11`).
//! - **No smuggling** (CVE-2023-51764): a message ends only at CRLF `.` CRLF; a bare CR or LF
//!   in DATA aborts the message (`550 5.5.2` after the real terminator); a bare CR or LF in a
//!   command line is `500`.
//! - **Bounded**: command lines (512, AUTH 12 288), DATA lines (1000), message size (`552
//!   5.3.4`, reading on to the end of the data so the session stays in step), recipients
//!   (`452 4.5.3`), errors (`421 4.7.0 Too many errors`), pipelined input while the
//!   application decides, and time (`421 4.4.2` after the command or data timeout).
//!
//! # Example: one transaction, driven by hand
//!
//! ```
//! use std::time::Instant;
//! use mailsec_smtp::server::{Event, Role, Server, ServerConfig};
//! use mailsec_smtp::types::Domain;
//! use mailsec_tls::{Machine, Output};
//!
//! let config = ServerConfig::new(Role::Mx, Domain::new(b"mx.example.org")?);
//! let mut server = Server::new(config);
//! let now = Instant::now();
//! let mut wire = Vec::new();
//! let mut body = Vec::new();
//!
//! // Drains the outputs and answers every decision: accept everything.
//! let mut drive = |server: &mut Server, wire: &mut Vec<u8>, body: &mut Vec<u8>| loop {
//!     let mut decided = false;
//!     while let Some(output) = server.poll_output() {
//!         match output {
//!             Output::Transmit(bytes) => wire.extend_from_slice(&bytes),
//!             Output::Event(Event::MailFrom { .. }) => { server.accept_sender().unwrap(); decided = true; }
//!             Output::Event(Event::Recipient { .. }) => { server.accept_recipient().unwrap(); decided = true; }
//!             Output::Event(Event::MessageData(chunk)) => body.extend_from_slice(&chunk),
//!             Output::Event(Event::MessageEnd { .. }) => { server.accept_message().unwrap(); decided = true; }
//!             _ => {}
//!         }
//!     }
//!     if !decided { break; }
//! };
//!
//! drive(&mut server, &mut wire, &mut body);
//! server.handle_input(now, b"EHLO client.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
//! drive(&mut server, &mut wire, &mut body);
//! server.handle_input(now, b"Hello\r\n..dot\r\n.\r\nQUIT\r\n");
//! drive(&mut server, &mut wire, &mut body);
//!
//! let text = String::from_utf8(wire).unwrap();
//! assert!(text.starts_with("220 mx.example.org ESMTP ready\r\n250-mx.example.org"));
//! assert!(text.ends_with("354 Start mail input; end with <CRLF>.<CRLF>\r\n\
//!                         250 2.0.0 Message accepted\r\n221 2.0.0 mx.example.org closing connection\r\n"));
//! assert_eq!(body, b"Hello\r\n.dot\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod commands;
mod config;
mod event;
mod message;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use mailsec_tls::framer::FrameError;
use mailsec_tls::sasl::{
    CheckAnswer, Identity, SaslError, ServerExchange, ServerStep, advertised_mechanisms,
};
use mailsec_tls::{Machine, Output, TlsInfo};

pub use config::{
    DEFAULT_COMMAND_TIMEOUT, DEFAULT_DATA_TIMEOUT, DEFAULT_MAX_ERRORS, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_MAX_RECIPIENTS, Features, Role, ServerConfig,
};
pub use event::{AbortReason, Event, IntentError, ServerError, reply};

use crate::data::{BdatDecoder, DataDecoder};
use crate::error::CommandError;
use crate::framer::CommandFramer;
use crate::types::{Host, MAX_AUTH_LINE, Reply, SaslMechanism};

/// Where the machine is in reading its input.
#[derive(Debug)]
enum Phase {
    /// Implicit TLS: nothing may arrive before the handshake.
    WaitTls,
    /// Reading command lines.
    Command,
    /// Reading SASL response lines.
    Auth,
    /// Reading a DATA body.
    Data(DataDecoder),
    /// Reading a BDAT chunk.
    Bdat(BdatChunk),
    /// The go-ahead was sent; waiting for the handshake.
    Upgrading,
}

#[derive(Debug)]
struct BdatChunk {
    decoder: BdatDecoder,
    size: u64,
    last: bool,
    refusal: Option<BdatRefusal>,
}

#[derive(Debug)]
enum BdatRefusal {
    /// Answer this line once the chunk is swallowed; `counted` adds a client error.
    Reply { line: String, counted: bool },
    /// The chunk would exceed the size limit: abort the message.
    TooBig,
}

/// The decision the machine is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Awaiting {
    Sender,
    Recipient,
    Credentials,
    Message,
}

impl Awaiting {
    fn name(self) -> &'static str {
        match self {
            Awaiting::Sender => "sender",
            Awaiting::Recipient => "recipient",
            Awaiting::Credentials => "credentials",
            Awaiting::Message => "message",
        }
    }
}

/// What the server knows of the current transaction.
#[derive(Debug, Default)]
struct Envelope {
    smtputf8: bool,
    binary: bool,
    recipients: usize,
    bdat_size: u64,
    bdat: bool,
}

/// The ESMTP server machine. See the [module documentation](self).
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    framer: CommandFramer,
    /// The command or SASL line being handled, copied out of the input or the framer (which
    /// lend it); reused from line to line, wiped after a SASL line.
    line: Vec<u8>,
    out: VecDeque<Output<Event, ServerError>>,
    phase: Phase,
    awaiting: Option<Awaiting>,
    secure: bool,
    /// The EHLO/HELO name; forgotten at the TLS cut.
    helo: Option<Host>,
    /// Who authenticated; forgotten at the TLS cut.
    identity: Option<Identity>,
    auth: Option<ServerExchange>,
    /// The transaction; forgotten at the TLS cut.
    envelope: Option<Envelope>,
    /// The MAIL being decided.
    pending_mail: Option<Envelope>,
    /// Message data has started (DATA accepted, or a BDAT chunk) and not yet been decided.
    in_message: bool,
    errors: usize,
    /// Bytes of the current input not yet handed to the framer nor framed from the input
    /// (they count at the STARTTLS cut).
    unpushed: usize,
    deadline: Option<Instant>,
    last_now: Option<Instant>,
    /// An intent resumed the machine: the clock restarts at the next call that brings `now`.
    rearm: bool,
    done: bool,
}

impl Server {
    /// A server for `config`. It queues its `220` greeting at once, except in
    /// [`Role::ImplicitSubmission`], where it greets once TLS is established.
    pub fn new(config: ServerConfig) -> Server {
        let implicit = config.role == Role::ImplicitSubmission;
        let framer = CommandFramer::new(MAX_AUTH_LINE).with_max_buffered(config.max_buffered);
        let mut server = Server {
            config,
            framer,
            line: Vec::new(),
            out: VecDeque::new(),
            phase: if implicit {
                Phase::WaitTls
            } else {
                Phase::Command
            },
            awaiting: None,
            secure: false,
            helo: None,
            identity: None,
            auth: None,
            envelope: None,
            pending_mail: None,
            in_message: false,
            errors: 0,
            unpushed: 0,
            deadline: None,
            last_now: None,
            rearm: false,
            done: false,
        };
        if !implicit {
            server.greet();
        }
        server
    }

    /// Starts the command timeout at `now` (a driver calls this when it accepts the
    /// connection; otherwise the clock starts with the first input).
    pub fn start_clock(&mut self, now: Instant) {
        self.last_now = Some(now);
        self.arm(now);
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Whether TLS is up on this connection.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Who authenticated, if anyone (since the last TLS cut).
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// The name the client gave in EHLO/HELO (since the last TLS cut).
    pub fn client_name(&self) -> Option<&Host> {
        self.helo.as_ref()
    }

    /// Whether the machine waits for an intent (it reads no input until then).
    pub fn is_waiting(&self) -> bool {
        self.awaiting.is_some()
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.done
    }

    // ----- intents -----

    /// Accepts the sender of [`Event::MailFrom`]: `250 2.1.0 Sender OK`.
    pub fn accept_sender(&mut self) -> Result<(), IntentError> {
        self.decide(Awaiting::Sender)?;
        self.envelope = Some(self.pending_mail.take().unwrap_or_default());
        self.say(250, "2.1.0", "Sender OK");
        self.resume();
        Ok(())
    }

    /// Refuses the sender of [`Event::MailFrom`] with `reply` (4xx or 5xx, e.g.
    /// `550 5.7.1 Sender not allowed`); no transaction starts.
    pub fn reject_sender(&mut self, reply: Reply) -> Result<(), IntentError> {
        Self::check_refusal(&reply)?;
        self.decide(Awaiting::Sender)?;
        self.pending_mail = None;
        self.send_reply(&reply);
        self.resume();
        Ok(())
    }

    /// Accepts the recipient of [`Event::Recipient`]: `250 2.1.5 Recipient OK`.
    pub fn accept_recipient(&mut self) -> Result<(), IntentError> {
        self.decide(Awaiting::Recipient)?;
        if let Some(env) = self.envelope.as_mut() {
            env.recipients += 1;
        }
        self.say(250, "2.1.5", "Recipient OK");
        self.resume();
        Ok(())
    }

    /// Refuses the recipient of [`Event::Recipient`] with `reply` (4xx or 5xx, e.g.
    /// `550 5.1.1 No such user`); the transaction goes on.
    pub fn reject_recipient(&mut self, reply: Reply) -> Result<(), IntentError> {
        Self::check_refusal(&reply)?;
        self.decide(Awaiting::Recipient)?;
        self.send_reply(&reply);
        self.resume();
        Ok(())
    }

    /// Answers [`Event::CredentialCheck`]. The exchange goes on: another challenge, another
    /// check (authorization), `235 2.7.0` with [`Event::Authenticated`], or `535 5.7.8`.
    pub fn answer_credentials(&mut self, answer: CheckAnswer) -> Result<(), IntentError> {
        self.decide(Awaiting::Credentials)?;
        let step = match self.auth.as_mut() {
            Some(exchange) => exchange.answer(answer),
            None => ServerStep::Failure(SaslError::OutOfOrder("no exchange")),
        };
        self.auth_step(step);
        self.resume();
        Ok(())
    }

    /// Accepts the message of [`Event::MessageEnd`]: `250 2.0.0 Message accepted`. Call it
    /// only once the message is safely kept.
    pub fn accept_message(&mut self) -> Result<(), IntentError> {
        self.decide(Awaiting::Message)?;
        self.end_transaction();
        self.say(250, "2.0.0", "Message accepted");
        self.resume();
        Ok(())
    }

    /// Accepts the message of [`Event::MessageEnd`] with the application's own `2xx` reply
    /// (to name a queue id, say).
    pub fn accept_message_with(&mut self, reply: Reply) -> Result<(), IntentError> {
        if !reply.code().is_positive() {
            return Err(IntentError::NotAnAcceptance);
        }
        self.decide(Awaiting::Message)?;
        self.end_transaction();
        self.send_reply(&reply);
        self.resume();
        Ok(())
    }

    /// Refuses the message of [`Event::MessageEnd`] with `reply` (4xx or 5xx, e.g.
    /// `554 5.7.1 Message refused`). The transaction is over.
    pub fn reject_message(&mut self, reply: Reply) -> Result<(), IntentError> {
        Self::check_refusal(&reply)?;
        self.decide(Awaiting::Message)?;
        self.end_transaction();
        self.send_reply(&reply);
        self.resume();
        Ok(())
    }

    /// Ends the session: `421 4.3.2 Service shutting down`, [`Event::MessageAborted`] if a
    /// message was in progress, [`Event::Closed`], then [`Output::Close`].
    pub fn shutdown(&mut self) {
        if self.done {
            return;
        }
        self.drop_transaction(AbortReason::Shutdown);
        if !matches!(self.phase, Phase::Upgrading | Phase::WaitTls) {
            let host = self.config.hostname.to_string();
            self.say(421, "4.3.2", &format!("{host} Service shutting down"));
        }
        self.close();
    }

    fn check_refusal(reply: &Reply) -> Result<(), IntentError> {
        let class = reply.code().class();
        if class == 4 || class == 5 {
            Ok(())
        } else {
            Err(IntentError::NotARefusal)
        }
    }

    fn decide(&mut self, expected: Awaiting) -> Result<(), IntentError> {
        if self.done {
            return Err(IntentError::Closed);
        }
        if self.awaiting != Some(expected) {
            return Err(IntentError::NotAwaiting {
                expected: expected.name(),
            });
        }
        self.awaiting = None;
        self.rearm = true;
        Ok(())
    }

    fn resume(&mut self) {
        self.process();
    }

    // ----- output helpers -----

    fn transmit(&mut self, text: String) {
        self.out.push_back(Output::Transmit(Bytes::from(text)));
    }

    /// One reply line, with its enhanced code when ENHANCEDSTATUSCODES is on.
    fn say(&mut self, code: u16, enhanced: &str, text: &str) {
        let line = if self.config.features.enhanced_status_codes && !enhanced.is_empty() {
            format!("{code} {enhanced} {text}\r\n")
        } else {
            format!("{code} {text}\r\n")
        };
        self.transmit(line);
    }

    fn send_reply(&mut self, reply: &Reply) {
        self.out
            .push_back(Output::Transmit(Bytes::from(reply.to_bytes())));
    }

    fn event(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    fn greet(&mut self) {
        let line = format!("220 {} {}\r\n", self.config.hostname, self.config.greeting);
        self.transmit(line);
    }

    fn fail(&mut self, error: ServerError) {
        self.out.push_back(Output::Error(error));
        self.out.push_back(Output::Close);
        self.finish();
    }

    fn close(&mut self) {
        self.event(Event::Closed);
        self.out.push_back(Output::Close);
        self.finish();
    }

    fn finish(&mut self) {
        self.done = true;
        self.awaiting = None;
        self.auth = None;
        self.framer.clear();
    }

    /// A client error: the reply, then `421` and close once there were too many.
    fn client_error(&mut self, code: u16, enhanced: &str, text: &str) {
        self.say(code, enhanced, text);
        self.count_error();
    }

    fn count_error(&mut self) {
        self.errors += 1;
        if self.errors >= self.config.max_errors && !self.done {
            self.drop_transaction(AbortReason::ConnectionLost);
            let host = self.config.hostname.to_string();
            self.say(421, "4.7.0", &format!("{host} Too many errors, closing"));
            self.fail(ServerError::TooManyErrors(self.errors));
        }
    }

    fn command_error(&mut self, e: &CommandError) {
        let (code, enhanced, text) = match e {
            CommandError::LineTooLong { .. } => (500, "5.5.2", "Line too long"),
            CommandError::ForbiddenOctet { .. } => (500, "5.5.2", "Forbidden character"),
            CommandError::UnknownCommand => (500, "5.5.2", "Command unrecognized"),
            CommandError::Utf8NotPermitted => (553, "5.6.7", "Non-ASCII address needs SMTPUTF8"),
            CommandError::InvalidParameter { .. }
            | CommandError::MalformedParameter
            | CommandError::DuplicateParameter { .. } => (555, "5.5.4", "Invalid parameter"),
            CommandError::InvalidDomain | CommandError::InvalidAddressLiteral => {
                (501, "5.5.4", "Invalid domain name")
            }
            CommandError::InvalidLocalPart | CommandError::InvalidPath => {
                (501, "5.1.3", "Invalid address")
            }
            _ => (501, "5.5.4", "Syntax error in arguments"),
        };
        self.client_error(code, enhanced, text);
    }

    /// Drops the transaction: [`Event::MessageAborted`] if message data had started,
    /// [`Event::TransactionReset`] if only an envelope existed.
    fn drop_transaction(&mut self, reason: AbortReason) {
        if self.in_message {
            self.event(Event::MessageAborted { reason });
        } else if self.envelope.is_some() {
            self.event(Event::TransactionReset);
        }
        self.end_transaction();
    }

    fn end_transaction(&mut self) {
        self.envelope = None;
        self.in_message = false;
    }

    // ----- time -----

    fn arm(&mut self, now: Instant) {
        let timeout = match self.phase {
            Phase::Data(_) | Phase::Bdat(_) => self.config.data_timeout,
            _ => self.config.command_timeout,
        };
        self.deadline = now.checked_add(timeout);
    }

    // ----- input -----

    fn process(&mut self) {
        while !self.done && self.awaiting.is_none() {
            match &mut self.phase {
                Phase::Command | Phase::Auth => {
                    let mut line = std::mem::take(&mut self.line);
                    line.clear();
                    let item = match self.framer.next_line() {
                        None => {
                            self.line = line;
                            break;
                        }
                        Some(Ok(l)) => {
                            line.extend_from_slice(l);
                            Ok(())
                        }
                        Some(Err(e)) => Err(e),
                    };
                    self.handle_line(&mut line, item);
                    self.line = line;
                }
                Phase::Data(decoder) => {
                    let chunk = self.framer.take_raw(usize::MAX);
                    if chunk.is_empty() {
                        break;
                    }
                    let out = &mut self.out;
                    let fed = decoder.feed(&chunk, |body| {
                        if !body.is_empty() {
                            out.push_back(Output::Event(Event::MessageData(body)));
                        }
                    });
                    let error = decoder.error();
                    let size = decoder.body_size();
                    if fed.consumed < chunk.len() {
                        // The framer is empty after take_raw: pushing back keeps the order.
                        let rest = chunk.slice(fed.consumed..);
                        let _ = self.framer.push(&rest);
                    }
                    if fed.ended {
                        self.end_data(error, size);
                    } else if fed.consumed < chunk.len() {
                        // Cannot happen (the decoder reads to the end of its input unless it
                        // ended); stop rather than spin.
                        break;
                    }
                }
                Phase::Bdat(chunk) => {
                    if chunk.decoder.is_complete() {
                        self.end_bdat();
                        continue;
                    }
                    let want = usize::try_from(chunk.decoder.remaining()).unwrap_or(usize::MAX);
                    let bytes = self.framer.take_raw(want);
                    if bytes.is_empty() {
                        break;
                    }
                    let range = chunk.decoder.take(&bytes);
                    if chunk.refusal.is_none() && !range.is_empty() {
                        self.out
                            .push_back(Output::Event(Event::MessageData(bytes.slice(range))));
                    }
                }
                Phase::WaitTls | Phase::Upgrading => break,
            }
        }
    }

    /// Handles command (and SASL) lines straight from `data` while the framer holds nothing,
    /// as [`process`](Self::process) does from the framer: each line is copied into
    /// `self.line` (wiped after a SASL line), not into the framer. Stops at the first line
    /// that changes how input is read (DATA, BDAT, STARTTLS, a pending decision, the end) and
    /// returns the input not handled, for the framer; a partial last line is held by the
    /// framer already. While a line is handled, the input after it counts as `unpushed` (the
    /// STARTTLS cut sees it).
    fn lend_lines<'d>(&mut self, data: &'d [u8]) -> &'d [u8] {
        let mut rest = data;
        while !rest.is_empty()
            && !self.done
            && self.awaiting.is_none()
            && matches!(self.phase, Phase::Command | Phase::Auth)
            && self.framer.is_empty()
            && !self.framer.is_discarding()
        {
            let mut line = std::mem::take(&mut self.line);
            line.clear();
            let mut lines = self.framer.lines(rest);
            let item = match lines.next_line() {
                None => None,
                Some(Ok(l)) => {
                    line.extend_from_slice(l);
                    Some(Ok(()))
                }
                Some(Err(e)) => Some(Err(e)),
            };
            let left = lines.rest();
            let item = match item {
                // A partial line: held by the framer now, `left` is empty.
                None => {
                    self.line = line;
                    rest = left;
                    break;
                }
                // The partial line did not fit (cannot happen: the framer is empty and holds
                // at least a line); leave the input to the bounded path.
                Some(Err(FrameError::BufferFull { .. })) => {
                    self.line = line;
                    break;
                }
                Some(item) => item,
            };
            rest = left;
            self.unpushed = rest.len();
            self.handle_line(&mut line, item);
            self.line = line;
        }
        self.unpushed = 0;
        rest
    }

    /// Handles one framed line (copied into `line`) or framing error: a SASL response in the
    /// AUTH phase, a command otherwise.
    fn handle_line(&mut self, line: &mut [u8], item: Result<(), FrameError>) {
        match item {
            Ok(()) if matches!(self.phase, Phase::Auth) => {
                self.auth_line(line);
                // A SASL response holds credentials: leave none behind.
                line.fill(0);
            }
            Ok(()) => self.command(line),
            Err(e) => self.frame_error(e),
        }
    }

    fn frame_error(&mut self, e: FrameError) {
        if matches!(self.phase, Phase::Auth) {
            let reason = match e {
                FrameError::LineTooLong { limit } => SaslError::TooLong { len: limit, limit },
                _ => SaslError::InvalidBase64,
            };
            return self.auth_failed(reason);
        }
        match e {
            FrameError::LineTooLong { .. } => self.client_error(500, "5.5.2", "Line too long"),
            FrameError::BareLf | FrameError::BareCr => {
                self.client_error(500, "5.5.2", "Bare CR or LF not allowed in commands")
            }
            _ => self.client_error(500, "5.5.2", "Bad input"),
        }
    }

    /// Whether this Submission connection still needs STARTTLS before most commands.
    fn tls_required_now(&self) -> bool {
        !self.secure
            && self.config.role == Role::Submission
            && self.config.insecure_auth == mailsec_tls::sasl::InsecureAuth::Refuse
    }

    fn offers_starttls(&self) -> bool {
        self.config.starttls && self.config.policy().offers_starttls(self.secure)
    }

    fn auth_enabled(&self) -> bool {
        self.config.role != Role::Mx && !self.config.mechanisms.is_empty()
    }

    fn advertised_auth(&self) -> Vec<SaslMechanism> {
        if !self.auth_enabled() || self.tls_required_now() {
            return Vec::new();
        }
        advertised_mechanisms(
            &self.config.mechanisms,
            self.secure,
            self.config.auth_policy(),
        )
        .into_iter()
        .map(SaslMechanism::from)
        .collect()
    }

    fn auth_required(&self) -> bool {
        self.config.role != Role::Mx && self.config.auth_required
    }
}

impl Machine for Server {
    type Event = Event;
    type Error = ServerError;

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.done || data.is_empty() {
            return;
        }
        self.last_now = Some(now);
        match self.phase {
            Phase::Upgrading => {
                // The pipe hands nothing over between the cut and the handshake; if a driver
                // did, these bytes could only be injected plaintext.
                return self.fail(ServerError::CommandInjection(data.len()));
            }
            Phase::WaitTls => return self.fail(ServerError::InputBeforeTls),
            _ => {}
        }
        // Command lines straight from the input first; the rest (message data, input after a
        // line that awaits a decision, a partial line) goes through the framer as before,
        // and is processed even when empty: the phase the last line began may end at once
        // (`BDAT 0 LAST`).
        let mut rest = self.lend_lines(data);
        while !self.done {
            let n = rest.len().min(self.framer.remaining());
            let (now_part, later) = rest.split_at(n);
            rest = later;
            self.unpushed = rest.len();
            if self.framer.push(now_part).is_err() {
                // Cannot happen: `n` fits what remains.
                self.unpushed = 0;
                return self.fail(ServerError::InputOverflow {
                    limit: self.framer.max_buffered(),
                });
            }
            self.process();
            if self.done || rest.is_empty() || matches!(self.phase, Phase::Upgrading) {
                break;
            }
            if self.framer.remaining() == 0 {
                self.drop_transaction(AbortReason::ConnectionLost);
                let host = self.config.hostname.to_string();
                self.say(
                    421,
                    "4.7.0",
                    &format!("{host} Too much pipelined input, closing"),
                );
                self.unpushed = 0;
                return self.fail(ServerError::InputOverflow {
                    limit: self.framer.max_buffered(),
                });
            }
        }
        self.unpushed = 0;
        if self.awaiting.is_none() {
            self.rearm = false;
            self.arm(now);
        }
    }

    fn handle_eof(&mut self, _now: Instant) {
        if self.done {
            return;
        }
        let mid = self.in_message || self.auth.is_some();
        self.drop_transaction(AbortReason::ConnectionLost);
        if mid {
            self.fail(ServerError::UnexpectedEof);
        } else {
            self.close();
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.done || self.awaiting.is_some() {
            return;
        }
        self.last_now = Some(now);
        if matches!(self.phase, Phase::Upgrading | Phase::WaitTls) {
            return;
        }
        if self.rearm {
            self.rearm = false;
            self.arm(now);
            return;
        }
        if self.deadline.is_some_and(|d| d <= now) {
            self.drop_transaction(AbortReason::Timeout);
            let host = self.config.hostname.to_string();
            self.say(421, "4.4.2", &format!("{host} Error: timeout exceeded"));
            self.fail(ServerError::Timeout);
        }
    }

    fn handle_tls_established(&mut self, now: Instant, _info: &TlsInfo) {
        if self.done {
            return;
        }
        let implicit = matches!(self.phase, Phase::WaitTls);
        // Amnesia (RFC 3207 §4.2): nothing from the plaintext phase survives the cut.
        self.secure = true;
        self.phase = Phase::Command;
        self.helo = None;
        self.identity = None;
        self.auth = None;
        self.pending_mail = None;
        self.end_transaction();
        self.framer.clear();
        self.last_now = Some(now);
        self.rearm = false;
        self.arm(now);
        self.event(Event::Secured);
        if implicit {
            self.greet();
        }
    }

    fn poll_output(&mut self) -> Option<Output<Event, ServerError>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.done
            || self.awaiting.is_some()
            || matches!(self.phase, Phase::Upgrading | Phase::WaitTls)
        {
            return None;
        }
        if self.rearm {
            // An intent resumed the machine without a clock: ask to be called at once so the
            // timeout restarts from the real time.
            return self.last_now.or(self.deadline);
        }
        self.deadline
    }
}
