//! The Sans-IO ESMTP client machine: greeting, EHLO, STARTTLS by policy, AUTH, then messages
//! sent with pipelining and BDAT when the server offers them, the body streamed.
//!
//! [`Client`] implements [`mailsec_tls::Machine`]: feed it what the server sent
//! ([`Machine::handle_input`]), end of stream, expired deadlines and the news that TLS is up;
//! drain [`Machine::poll_output`] after every call. Intents ([`Client::send_message`],
//! [`Client::send_data`], [`Client::finish_data`], [`Client::quit`]) take `now` too.
//!
//! ```text
//! S: 220 greeting            (implicit TLS: only after handle_tls_established)
//! C: EHLO client.example
//! S: 250-… STARTTLS
//! C: STARTTLS                (StartTlsRequired / StartTlsOpportunistic)
//! S: 220 go ahead            (any byte after its CRLF: ResponseInjection)
//!    Output::StartTls … handle_tls_established   (nothing is sent in between)
//! C: EHLO client.example     (everything learned in clear is forgotten)
//! S: 250-… AUTH PLAIN
//! C: AUTH PLAIN <ir>         (only over TLS unless InsecureAuth allows)
//! S: 235                     → Event::Ready
//!    send_message(envelope)  → MAIL, RCPT…, DATA (in one go with PIPELINING)
//!                            → Event::RecipientResult per recipient
//!                            → Event::ReadyForData → send_data / finish_data (pull)
//!                            → Event::MessageAccepted / MessageRejected
//!    quit()                  → QUIT, 221 → Event::Closed, Output::Close
//! ```
//!
//! # Security rules held here (SECURITY.md)
//!
//! - With [`ClientTls::StartTlsRequired`] a missing STARTTLS, a refusal, an odd reply or any
//!   failure before TLS ends the session with a typed error before any AUTH or MAIL; there is
//!   no HELO fallback. With [`ClientTls::Implicit`], input before
//!   [`Machine::handle_tls_established`] ends the session.
//! - After the `220` go-ahead to STARTTLS, any byte already received (or arriving before the
//!   handshake) is response injection: [`ClientError::ResponseInjection`].
//! - After the handshake the EHLO capabilities learned in clear are forgotten and EHLO is sent
//!   again; the AUTH mechanism is chosen from the reply received over TLS.
//! - Plaintext-equivalent credentials are never sent without TLS unless
//!   [`InsecureAuth::AllowPlaintextMechanismsWithoutTls`](mailsec_tls::sasl::InsecureAuth)
//!   says so. "Secure" means the driver called `handle_tls_established`, nothing else.
//! - Replies are bounded (line, lines, octets); server text is sanitized.
//!
//! # Example: a pipelined message over STARTTLS, the server side scripted
//!
//! ```
//! use std::time::Instant;
//! use mailsec_smtp::client::{Client, ClientConfig, Envelope, Event};
//! use mailsec_tls::{ClientTls, Machine, Output, TlsInfo};
//!
//! let now = Instant::now();
//! let config = ClientConfig::for_domain("client.example")?.with_tls(ClientTls::StartTlsRequired);
//! let mut client = Client::new(config, now);
//!
//! // Drains the outputs: returns what the client sent, its events, and whether it asked for TLS.
//! fn drain(c: &mut Client) -> (String, Vec<Event>, bool) {
//!     let (mut sent, mut events, mut tls) = (String::new(), Vec::new(), false);
//!     while let Some(out) = c.poll_output() {
//!         match out {
//!             Output::Transmit(b) => sent.push_str(&String::from_utf8_lossy(&b)),
//!             Output::Event(e) => events.push(e),
//!             Output::StartTls => tls = true,
//!             Output::Error(e) => panic!("{e}"),
//!             _ => {}
//!         }
//!     }
//!     (sent, events, tls)
//! }
//!
//! client.handle_input(now, b"220 mx.example ESMTP\r\n");
//! assert_eq!(drain(&mut client).0, "EHLO client.example\r\n");
//! client.handle_input(now, b"250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
//! assert_eq!(drain(&mut client).0, "STARTTLS\r\n");
//! client.handle_input(now, b"220 go ahead\r\n");
//! assert!(drain(&mut client).2, "the driver starts TLS now");
//! client.handle_tls_established(now, &TlsInfo::for_testing("mx.example"));
//! assert_eq!(drain(&mut client).0, "EHLO client.example\r\n");
//! client.handle_input(now, b"250-mx.example\r\n250 PIPELINING\r\n");
//! assert!(matches!(&drain(&mut client).1[..], [Event::Ready(info)] if info.is_secure()));
//!
//! let envelope = Envelope::from_addresses("alice@example.org", ["bob@example.net"])?;
//! client.send_message(now, envelope)?;
//! assert_eq!(
//!     drain(&mut client).0,
//!     "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n"
//! );
//! client.handle_input(now, b"250 OK\r\n250 OK\r\n354 go\r\n");
//! assert!(matches!(drain(&mut client).1.last(), Some(Event::ReadyForData)));
//! client.send_data(now, b"Subject: hi\r\n\r\n.hello\r\n")?;
//! drain(&mut client);
//! client.finish_data(now)?;
//! assert_eq!(drain(&mut client).0, ".\r\n");
//! client.handle_input(now, b"250 2.0.0 queued\r\n");
//! assert!(matches!(&drain(&mut client).1[..], [Event::MessageAccepted { .. }]));
//!
//! client.quit(now)?;
//! assert_eq!(drain(&mut client).0, "QUIT\r\n");
//! client.handle_input(now, b"221 bye\r\n");
//! assert!(matches!(&drain(&mut client).1[..], [Event::Closed]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`ClientTls::StartTlsRequired`]: mailsec_tls::ClientTls::StartTlsRequired
//! [`ClientTls::Implicit`]: mailsec_tls::ClientTls::Implicit

mod config;
mod envelope;
mod error;
mod transaction;

use transaction::Transaction;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mailsec_tls::framer::LineFramer;
use mailsec_tls::sasl::{self, ClientExchange, ExposeSecret, Mechanism, SecretSlice};
use mailsec_tls::{ClientTls, Machine, Output, TlsInfo};

pub use config::{ClientConfig, DEFAULT_MAX_RECIPIENTS, Timeouts};
pub use envelope::{Envelope, Recipient};
pub use error::{ClientError, Phase};

use crate::parse::ReplyParser;
use crate::types::{
    Command, Extensions, ForwardPath, MAX_AUTH_LINE, MAX_REPLY_LINE, Reply, ReplyCode,
};

/// Most BDAT chunks in flight (sent, reply pending) with PIPELINING before the client waits.
pub const MAX_BDAT_IN_FLIGHT: usize = 8;

/// What the session is, once it is ready for mail.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The EHLO (or HELO) reply in force: over TLS, the one received over TLS.
    pub extensions: Extensions,
    /// The TLS session, when the connection is secure (the driver completed a handshake and
    /// verified the certificate).
    pub tls: Option<TlsInfo>,
    /// The mechanism the client authenticated with, if it did.
    pub authenticated: Option<Mechanism>,
}

impl SessionInfo {
    /// Whether the connection is secure.
    pub fn is_secure(&self) -> bool {
        self.tls.is_some()
    }
}

/// What the client tells the application.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The session is set up (greeting, EHLO, STARTTLS and AUTH as configured):
    /// [`Client::send_message`] and [`Client::quit`] may be called.
    Ready(SessionInfo),
    /// The server's answer to one RCPT; `index` is the recipient's place in
    /// [`Envelope::recipients`]. Accepted when `reply.code().is_positive()`.
    RecipientResult {
        /// Index in the envelope.
        index: usize,
        /// The recipient.
        recipient: ForwardPath,
        /// The server's reply.
        reply: Reply,
    },
    /// The client takes the next piece of the body: call [`Client::send_data`] once, or
    /// [`Client::finish_data`]. Emitted after `354` (DATA) or once recipients are accepted
    /// (BDAT), and again after each piece the client can take.
    ReadyForData,
    /// The server took responsibility for the message (the final `250`). Recipients refused
    /// earlier were reported with [`Event::RecipientResult`].
    MessageAccepted {
        /// The final reply.
        reply: Reply,
    },
    /// The message was not accepted: MAIL refused, every recipient refused, DATA or BDAT
    /// refused, or the final reply a failure. The session goes on (the client sent RSET where
    /// needed); another message or QUIT may follow.
    MessageRejected {
        /// Where it failed.
        phase: Phase,
        /// The reply that decided it.
        reply: Reply,
    },
    /// The session ended in order (QUIT answered or the server closed after QUIT).
    Closed,
}

/// A reply the client waits for, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Auth,
    Mail,
    Rcpt(usize),
    Data,
    /// The end-of-data dot; `dummy` when sent only to end a DATA that had no recipient.
    DataEnd {
        dummy: bool,
    },
    Bdat {
        last: bool,
    },
    Rset,
    Quit,
}

impl Pending {
    fn phase(self) -> Phase {
        match self {
            Pending::Greeting => Phase::Greeting,
            Pending::Ehlo => Phase::Ehlo,
            Pending::Helo => Phase::Helo,
            Pending::StartTls => Phase::StartTls,
            Pending::Auth => Phase::Auth,
            Pending::Mail => Phase::Mail,
            Pending::Rcpt(_) => Phase::Rcpt,
            Pending::Data => Phase::Data,
            Pending::DataEnd { .. } | Pending::Bdat { last: true } => Phase::Message,
            Pending::Bdat { last: false } => Phase::Bdat,
            Pending::Rset => Phase::Rset,
            Pending::Quit => Phase::Quit,
        }
    }

    fn timeout(self, t: &Timeouts) -> Duration {
        match self {
            Pending::Greeting => t.greeting,
            Pending::Mail => t.mail,
            Pending::Rcpt(_) => t.rcpt,
            Pending::Data => t.data_init,
            Pending::Bdat { last: false } => t.data_block,
            Pending::DataEnd { .. } | Pending::Bdat { last: true } => t.data_end,
            _ => t.command,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Implicit TLS: nothing is read before the handshake.
    AwaitTls,
    /// Greeting, EHLO/HELO, STARTTLS, AUTH: replies drive the session.
    Setup,
    /// `Output::StartTls` given: nothing is read or sent until TLS is up.
    Handshake,
    /// Idle, ready for intents.
    Ready,
    /// A message in progress.
    Transaction,
    /// QUIT sent.
    Quitting,
    Done,
}

/// The AUTH exchange in progress.
struct Auth {
    exchange: ClientExchange,
    /// An initial response too long for the AUTH line, sent after the empty `334`.
    held: Option<SecretSlice<u8>>,
}

/// The ESMTP client machine. See the [module documentation](self).
pub struct Client {
    config: ClientConfig,
    framer: LineFramer,
    replies: ReplyParser,
    out: VecDeque<Output<Event, ClientError>>,
    state: State,
    pending: VecDeque<Pending>,
    deadline: Option<Instant>,
    /// Bytes of the current input not yet pushed into the framer (for the STARTTLS cut).
    unfed: usize,
    tls: Option<TlsInfo>,
    /// The EHLO/HELO reply in force; forgotten at the STARTTLS cut.
    extensions: Option<Extensions>,
    /// Opportunistic: STARTTLS was refused; go on in clear.
    starttls_refused: bool,
    auth: Option<Auth>,
    authenticated: Option<Mechanism>,
    txn: Option<Transaction>,
    /// The message ended while the application held an unanswered `ReadyForData`.
    stale_ready: bool,
    /// The RCPT commands of a message sent one command at a time.
    rcpt_commands: Vec<Command>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state)
            .field("pending", &self.pending)
            .field("secure", &self.tls.is_some())
            .field("authenticated", &self.authenticated)
            .finish_non_exhaustive()
    }
}

/// Largest input buffered while looking for the end of a reply line.
const MAX_BUFFERED: usize = 64 * 1024;

impl Client {
    /// A client for a connection opened at `now`. With [`ClientTls::Implicit`] it waits for
    /// [`Machine::handle_tls_established`] before reading the greeting; otherwise it waits for
    /// the greeting in clear. The greeting timeout runs from `now`.
    pub fn new(config: ClientConfig, now: Instant) -> Client {
        let mut replies = ReplyParser::with_limits(config.max_reply_lines, config.max_reply_octets);
        replies.set_max_line(MAX_REPLY_LINE);
        let implicit = config.tls.is_implicit();
        let mut client = Client {
            framer: LineFramer::new(MAX_REPLY_LINE).with_max_buffered(MAX_BUFFERED),
            replies,
            out: VecDeque::new(),
            state: if implicit {
                State::AwaitTls
            } else {
                State::Setup
            },
            pending: VecDeque::new(),
            deadline: Some(now + config.timeouts.greeting),
            unfed: 0,
            tls: None,
            extensions: None,
            starttls_refused: false,
            auth: None,
            authenticated: None,
            txn: None,
            stale_ready: false,
            rcpt_commands: Vec::new(),
            config,
        };
        if !implicit {
            client.pending.push_back(Pending::Greeting);
        }
        client
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Whether the connection is secure (only ever after [`Machine::handle_tls_established`]).
    pub fn is_secure(&self) -> bool {
        self.tls.is_some()
    }

    /// The TLS session, when secure.
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// The EHLO capabilities in force (after TLS: only those received over TLS).
    pub fn extensions(&self) -> Option<&Extensions> {
        self.extensions.as_ref()
    }

    /// The mechanism the session authenticated with.
    pub fn authenticated(&self) -> Option<Mechanism> {
        self.authenticated
    }

    /// Whether [`Client::send_message`] and [`Client::quit`] may be called now.
    pub fn is_ready(&self) -> bool {
        self.state == State::Ready
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.state == State::Done
    }

    // ----- plumbing ------------------------------------------------------------------------

    fn transmit(&mut self, bytes: Vec<u8>) {
        self.out.push_back(Output::Transmit(Bytes::from(bytes)));
    }

    /// Records a reply to wait for; arms the timer if it is the first.
    fn expect(&mut self, now: Instant, pending: Pending) {
        if self.pending.is_empty() {
            self.deadline = Some(now + pending.timeout(&self.config.timeouts));
        }
        self.pending.push_back(pending);
    }

    fn send(&mut self, now: Instant, cmd: &Command, pending: Pending) {
        self.transmit(cmd.to_bytes());
        self.expect(now, pending);
    }

    fn fail(&mut self, err: ClientError) {
        if self.state == State::Done {
            return;
        }
        self.out.push_back(Output::Error(err));
        self.out.push_back(Output::Close);
        self.state = State::Done;
        self.deadline = None;
        self.pending.clear();
        self.auth = None;
        self.txn = None;
    }

    /// The phase to name in an error now.
    fn phase(&self) -> Phase {
        if let Some(p) = self.pending.front() {
            return p.phase();
        }
        match self.state {
            State::AwaitTls | State::Handshake => Phase::TlsHandshake,
            State::Transaction => Phase::Body,
            State::Quitting => Phase::Quit,
            _ => Phase::Idle,
        }
    }

    fn ehlo(&mut self, now: Instant) {
        let cmd = Command::Ehlo(self.config.ehlo_name.clone());
        self.send(now, &cmd, Pending::Ehlo);
    }

    /// HELO is allowed only when the policy lets the session stay in clear (RFC 3207 §4 and
    /// SECURITY.md invariant 4: never with a TLS requirement).
    fn helo_allowed(&self) -> bool {
        matches!(
            self.config.tls,
            ClientTls::InsecurePlaintext | ClientTls::StartTlsOpportunistic
        ) && self.config.credentials.is_none()
    }

    fn lines(&mut self, now: Instant) {
        while !matches!(self.state, State::Done | State::Handshake) {
            match self.framer.next_line() {
                None => break,
                Some(Err(e)) => self.fail(ClientError::Framing(e)),
                Some(Ok(line)) => match self.replies.push_line(&line) {
                    Err(e) => self.fail(ClientError::Reply(e)),
                    Ok(None) => {}
                    Ok(Some(reply)) => self.on_reply(now, reply),
                },
            }
        }
    }

    fn on_reply(&mut self, now: Instant, reply: Reply) {
        let Some(pending) = self.pending.pop_front() else {
            let phase = self.phase();
            if reply.code() == ReplyCode::UNAVAILABLE {
                self.fail(ClientError::ServiceClosing { phase, reply });
            } else {
                self.fail(ClientError::UnexpectedReply { phase, reply });
            }
            return;
        };
        // The timer now runs for the next reply, if any.
        self.deadline = self
            .pending
            .front()
            .map(|p| now + p.timeout(&self.config.timeouts));
        if pending == Pending::Quit {
            self.closed();
            return;
        }
        if reply.code() == ReplyCode::UNAVAILABLE {
            self.fail(ClientError::ServiceClosing {
                phase: pending.phase(),
                reply,
            });
            return;
        }
        match pending {
            Pending::Greeting => {
                if reply.code() == ReplyCode::READY {
                    self.ehlo(now);
                } else {
                    // Every way out of here ends the session: an odd greeting never skips the
                    // TLS policy (CVE-2020-28896).
                    self.fail(ClientError::Rejected {
                        phase: Phase::Greeting,
                        reply,
                    });
                }
            }
            Pending::Ehlo => self.on_ehlo(now, reply),
            Pending::Helo => {
                if reply.code() == ReplyCode::OK {
                    // HELO announces nothing: only the first line (the server's name) counts.
                    let first = Reply::new(ReplyCode::OK, None, vec![reply.lines()[0].clone()])
                        .or_else(|_| Reply::single(250, ""));
                    match first.and_then(|r| Extensions::from_reply(&r)) {
                        Ok(ext) => {
                            self.extensions = Some(ext);
                            self.after_capabilities(now);
                        }
                        Err(e) => self.fail(ClientError::Reply(e)),
                    }
                } else {
                    self.fail(ClientError::Rejected {
                        phase: Phase::Helo,
                        reply,
                    });
                }
            }
            Pending::StartTls => self.on_starttls(now, reply),
            Pending::Auth => self.on_auth(now, reply),
            Pending::Mail
            | Pending::Rcpt(_)
            | Pending::Data
            | Pending::DataEnd { .. }
            | Pending::Bdat { .. }
            | Pending::Rset => self.on_transaction_reply(now, pending, reply),
            Pending::Quit => {}
        }
    }

    fn closed(&mut self) {
        self.state = State::Done;
        self.deadline = None;
        self.pending.clear();
        self.out.push_back(Output::Event(Event::Closed));
        self.out.push_back(Output::Close);
    }

    fn on_ehlo(&mut self, now: Instant, reply: Reply) {
        let code = reply.code().get();
        if code == 250 {
            match Extensions::from_reply(&reply) {
                Ok(ext) => {
                    self.extensions = Some(ext);
                    self.after_capabilities(now);
                }
                Err(e) => self.fail(ClientError::Reply(e)),
            }
        } else if (code == 500 || code == 502) && self.helo_allowed() && !self.is_secure() {
            let cmd = Command::Helo(self.config.ehlo_name.clone());
            self.send(now, &cmd, Pending::Helo);
        } else {
            self.fail(ClientError::Rejected {
                phase: Phase::Ehlo,
                reply,
            });
        }
    }

    /// After EHLO/HELO: STARTTLS by policy, then AUTH, then Ready.
    fn after_capabilities(&mut self, now: Instant) {
        let offered = self.extensions.as_ref().is_some_and(Extensions::starttls);
        if !self.is_secure() {
            match self.config.tls {
                ClientTls::StartTlsRequired if !offered => {
                    self.fail(ClientError::StartTlsNotOffered);
                    return;
                }
                ClientTls::StartTlsRequired => {
                    self.starttls(now);
                    return;
                }
                ClientTls::StartTlsOpportunistic if offered && !self.starttls_refused => {
                    self.starttls(now);
                    return;
                }
                ClientTls::StartTlsOpportunistic | ClientTls::InsecurePlaintext => {}
                // Implicit TLS (or a policy added later): never go on in clear.
                _ => {
                    self.fail(ClientError::NotSecure);
                    return;
                }
            }
        }
        if self.config.credentials.is_some() {
            self.start_auth(now);
        } else {
            self.ready();
        }
    }

    fn starttls(&mut self, now: Instant) {
        // Replies already waiting before STARTTLS was even sent were not sent by the server in
        // answer to it: a meddler queued them (they would be read as the go-ahead).
        let early = self.framer.buffered() + self.unfed;
        if early > 0 {
            self.fail(ClientError::ResponseInjection(early));
            return;
        }
        self.send(now, &Command::StartTls, Pending::StartTls);
    }

    fn on_starttls(&mut self, now: Instant, reply: Reply) {
        if reply.code() == ReplyCode::READY {
            // The clean cut (SECURITY.md invariant 1).
            let pending = self.framer.buffered() + self.unfed;
            if pending > 0 || !self.replies.is_idle() {
                self.fail(ClientError::ResponseInjection(pending.max(1)));
                return;
            }
            self.state = State::Handshake;
            self.deadline = Some(now + self.config.timeouts.command);
            self.out.push_back(Output::StartTls);
            return;
        }
        let refusal = reply.code().is_transient() || reply.code().is_permanent();
        if self.config.tls == ClientTls::StartTlsOpportunistic && refusal {
            // Opportunistic: stay in clear with what the server announced.
            self.starttls_refused = true;
            self.after_capabilities(now);
        } else {
            self.fail(ClientError::StartTlsRefused { reply });
        }
    }

    fn start_auth(&mut self, now: Instant) {
        let Some(creds) = self.config.credentials.clone() else {
            self.ready();
            return;
        };
        let secure = self.is_secure();
        let Some(ext) = self.extensions.as_ref() else {
            return;
        };
        let offered = ext.known_mechanisms();
        let insecure = self.config.insecure_auth;
        let kind = creds.kind();
        let chosen = if self.config.mechanisms.is_empty() {
            sasl::choose_mechanism(&offered, secure, insecure, kind)
        } else {
            self.config.mechanisms.iter().copied().find(|m| {
                offered.contains(m) && m.credential_kind() == kind && insecure.permits(*m, secure)
            })
        };
        let Some(mechanism) = chosen else {
            let offered = ext
                .auth_mechanisms()
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect();
            self.fail(ClientError::AuthUnavailable { offered, secure });
            return;
        };
        let mut exchange = match ClientExchange::new(mechanism, creds) {
            Ok(x) => x,
            Err(e) => return self.fail(ClientError::Sasl(e)),
        };
        let mut line = format!("AUTH {mechanism}").into_bytes();
        let mut held = None;
        if mechanism.client_first() {
            match exchange.initial_response() {
                Ok(Some(ir)) => {
                    let b64 = sasl::wire::encode_initial_response(ir.expose_secret());
                    // RFC 4954 §4: the initial response only when the line fits.
                    if line.len() + 1 + b64.len() + 2 <= MAX_AUTH_LINE {
                        line.push(b' ');
                        line.extend_from_slice(b64.as_bytes());
                    } else {
                        held = Some(ir);
                    }
                }
                Ok(None) => {}
                Err(e) => return self.fail(ClientError::Sasl(e)),
            }
        }
        line.extend_from_slice(b"\r\n");
        self.transmit(line);
        self.expect(now, Pending::Auth);
        self.auth = Some(Auth { exchange, held });
        // RFC 4954 §4: challenges may be longer than an RFC 5321 reply line.
        self.framer.set_max_line(MAX_AUTH_LINE);
        self.replies.set_max_line(MAX_AUTH_LINE);
    }

    fn on_auth(&mut self, now: Instant, reply: Reply) {
        let Some(auth) = self.auth.as_mut() else {
            return self.fail(ClientError::UnexpectedReply {
                phase: Phase::Auth,
                reply,
            });
        };
        match reply.code().get() {
            334 => {
                if reply.is_multiline() {
                    return self.fail(ClientError::UnexpectedReply {
                        phase: Phase::Auth,
                        reply,
                    });
                }
                let text = reply.lines()[0].trim_end_matches(' ');
                let response = match auth.held.take() {
                    Some(ir) if text.is_empty() => ir,
                    _ => {
                        let challenge = match sasl::wire::decode(text.as_bytes()) {
                            Ok(c) => c,
                            Err(e) => return self.fail(ClientError::Sasl(e)),
                        };
                        match auth.exchange.step(&challenge) {
                            Ok(r) => r,
                            Err(e) => return self.fail(ClientError::Sasl(e)),
                        }
                    }
                };
                let mut line = sasl::wire::encode(response.expose_secret()).into_bytes();
                line.extend_from_slice(b"\r\n");
                self.transmit(line);
                self.expect(now, Pending::Auth);
            }
            235 => {
                if let Err(e) = auth.exchange.finish(None) {
                    return self.fail(ClientError::Sasl(e));
                }
                self.authenticated = Some(auth.exchange.mechanism());
                self.auth = None;
                self.framer.set_max_line(MAX_REPLY_LINE);
                self.replies.set_max_line(MAX_REPLY_LINE);
                self.ready();
            }
            _ => self.fail(ClientError::Rejected {
                phase: Phase::Auth,
                reply,
            }),
        }
    }

    fn ready(&mut self) {
        if !self.is_secure() && self.config.tls.requires_tls() {
            // Unreachable by the flow above; held here once more (fail closed).
            self.fail(ClientError::NotSecure);
            return;
        }
        let Some(extensions) = self.extensions.clone() else {
            return self.fail(ClientError::NotSecure);
        };
        self.state = State::Ready;
        self.deadline = None;
        self.out.push_back(Output::Event(Event::Ready(SessionInfo {
            extensions,
            tls: self.tls.clone(),
            authenticated: self.authenticated,
        })));
    }
}

impl Machine for Client {
    type Event = Event;
    type Error = ClientError;

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        match self.state {
            State::Done => return,
            State::AwaitTls => return self.fail(ClientError::NotSecure),
            State::Handshake => return self.fail(ClientError::ResponseInjection(data.len())),
            _ => {}
        }
        let mut rest = data;
        while !rest.is_empty() && !matches!(self.state, State::Done | State::Handshake) {
            let room = self.framer.remaining().max(1);
            let (piece, tail) = rest.split_at(rest.len().min(room));
            rest = tail;
            self.unfed = rest.len();
            if let Err(e) = self.framer.push(piece) {
                self.fail(ClientError::Framing(e));
                break;
            }
            self.lines(now);
        }
        if self.state == State::Handshake && !rest.is_empty() {
            self.fail(ClientError::ResponseInjection(rest.len()));
        }
        self.unfed = 0;
    }

    fn handle_eof(&mut self, _now: Instant) {
        match self.state {
            State::Done => {}
            State::Quitting => self.closed(),
            _ => {
                let phase = self.phase();
                self.fail(ClientError::ConnectionClosed { phase });
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.state != State::Done && self.deadline.is_some_and(|d| d <= now) {
            let phase = self.phase();
            self.fail(ClientError::Timeout { phase });
        }
    }

    fn handle_tls_established(&mut self, now: Instant, info: &TlsInfo) {
        match self.state {
            State::AwaitTls => {
                self.tls = Some(info.clone());
                self.state = State::Setup;
                // The greeting timer keeps running from `new`.
                self.pending.push_back(Pending::Greeting);
            }
            State::Handshake => {
                // Amnesia (RFC 3207 §4.2, SECURITY.md invariant 2): nothing learned in clear
                // is kept; ask again over TLS.
                self.tls = Some(info.clone());
                self.state = State::Setup;
                self.extensions = None;
                self.framer.clear();
                self.replies.reset();
                self.pending.clear();
                self.deadline = None;
                self.ehlo(now);
            }
            // TLS nobody asked for: the driver and the machine disagree on the connection.
            _ => self.fail(ClientError::NotSecure),
        }
    }

    fn poll_output(&mut self) -> Option<Output<Event, ClientError>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Done {
            None
        } else {
            self.deadline
        }
    }
}
