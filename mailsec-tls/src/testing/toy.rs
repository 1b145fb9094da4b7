//! A toy line protocol with a STARTTLS upgrade, small enough to read in one sitting.
//!
//! It exists to exercise the [`Machine`] contract, the [`Pipe`](crate::Pipe), the
//! [`Driver`](crate::Driver) and the test [`Pair`](super::Pair) before the real protocols, and
//! it holds the same STARTTLS rules they must hold:
//!
//! - the server refuses the upgrade (and closes) when any byte follows `STARTTLS\r\n` in its
//!   buffer (command injection, CVE-2011-0411);
//! - the client fails when any byte follows the go-ahead (response injection, CVE-2021-38371);
//! - both forget what they learned in clear once TLS is up;
//! - the server refuses `LOGIN` before TLS when it requires a secure channel; a client that
//!   requires TLS never sends `LOGIN` in clear.
//!
//! ```text
//! S: * OK toy ready
//! C: CAPA
//! S: CAPA STARTTLS LOGIN
//! C: STARTTLS
//! S: OK begin TLS
//!    <TLS handshake>
//! C: CAPA
//! S: CAPA LOGIN
//! C: LOGIN alice secret
//! S: OK welcome alice
//! C: QUIT
//! S: BYE
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};

use crate::framer::{FrameError, LineFramer};
use crate::{ClientTls, Machine, Output, ServerPolicy, TlsInfo};

/// Longest toy line, CRLF included.
const MAX_LINE: usize = 512;
/// A server closes an idle connection after this long.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Why a toy session ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToyError {
    /// Bytes followed the STARTTLS command in the server's buffer.
    #[error("command injection: {0} byte(s) pipelined after STARTTLS")]
    CommandInjection(usize),
    /// Bytes followed the go-ahead in the client's buffer.
    #[error("response injection: {0} byte(s) after the STARTTLS go-ahead")]
    ResponseInjection(usize),
    /// The client requires TLS and the server cannot or will not upgrade.
    #[error("TLS required but the server {0}")]
    TlsUnavailable(&'static str),
    /// A line broke the framing rules.
    #[error("bad line: {0}")]
    Framing(#[from] FrameError),
    /// The peer was idle too long.
    #[error("idle timeout")]
    Timeout,
    /// The peer went away mid-session.
    #[error("connection closed by peer")]
    Eof,
}

/// What the toy machines tell the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToyEvent {
    /// Server side: a client logged in.
    LoggedIn {
        /// The user name.
        user: String,
    },
    /// Server side: a line the server echoed.
    Echoed(String),
    /// Either side: TLS is up; everything learned before was forgotten.
    Secured,
    /// Client side: the session is ready for commands (after the upgrade when one was wanted).
    Ready,
    /// Client side: a server line, as received (control characters removed).
    Line(String),
    /// The session ended in order.
    Closed,
}

/// The toy server machine.
#[derive(Debug)]
pub struct ToyServer {
    policy: ServerPolicy,
    framer: LineFramer,
    out: VecDeque<Output<ToyEvent, ToyError>>,
    secure: bool,
    /// Learned in the session; forgotten at the STARTTLS cut.
    user: Option<String>,
    /// The upgrade was started: nothing more is read until TLS is up.
    upgrading: bool,
    done: bool,
    idle_timeout: Duration,
    deadline: Option<Instant>,
}

impl ToyServer {
    /// A server with the given listener policy. It greets at once unless the policy is implicit
    /// TLS, in which case it greets when TLS is up.
    pub fn new(policy: ServerPolicy) -> Self {
        let mut server = ToyServer {
            policy,
            framer: LineFramer::new(MAX_LINE),
            out: VecDeque::new(),
            secure: false,
            user: None,
            upgrading: false,
            done: false,
            idle_timeout: IDLE_TIMEOUT,
            deadline: None,
        };
        if policy.tls() != crate::ListenerTls::Implicit {
            server.send("* OK toy ready");
        }
        server
    }

    /// Sets how long the server waits for a command before closing (default [`IDLE_TIMEOUT`]).
    /// The clock starts at the first input or at [`ToyServer::start_clock`].
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Starts the idle clock at `now` (a driver calls this when the connection is accepted).
    pub fn start_clock(&mut self, now: Instant) {
        self.deadline = Some(now + self.idle_timeout);
    }

    /// The logged-in user, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    fn send(&mut self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.out.push_back(Output::Transmit(Bytes::from(bytes)));
    }

    fn fail(&mut self, err: ToyError) {
        self.out.push_back(Output::Error(err));
        self.out.push_back(Output::Close);
        self.done = true;
    }

    fn command(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line).into_owned();
        let mut words = text.splitn(3, ' ');
        let verb = words.next().unwrap_or_default().to_ascii_uppercase();
        match verb.as_str() {
            "CAPA" => {
                let starttls = if self.policy.offers_starttls(self.secure) {
                    " STARTTLS"
                } else {
                    ""
                };
                let login = if self.policy.plaintext_credentials_allowed(self.secure) {
                    " LOGIN"
                } else {
                    ""
                };
                self.send(&format!("CAPA{starttls}{login}"));
            }
            "STARTTLS" if !self.policy.offers_starttls(self.secure) => {
                self.send("BAD STARTTLS not available");
            }
            "STARTTLS" => {
                let pending = self.framer.buffered();
                if pending > 0 {
                    // Nothing after the command may be executed, in clear or inside TLS.
                    self.send("BAD pipelined data after STARTTLS");
                    self.fail(ToyError::CommandInjection(pending));
                    return;
                }
                self.send("OK begin TLS");
                self.out.push_back(Output::StartTls);
                self.upgrading = true;
            }
            "LOGIN" if !self.policy.plaintext_credentials_allowed(self.secure) => {
                self.send("NO secure channel required");
            }
            "LOGIN" => {
                let (Some(user), Some(password)) = (words.next(), words.next()) else {
                    self.send("BAD LOGIN user password");
                    return;
                };
                // A real server checks the password through the SASL layer's Authenticator.
                let password = SecretString::from(password.to_owned());
                if password.expose_secret().is_empty() {
                    self.send("NO empty password");
                    return;
                }
                self.user = Some(user.to_owned());
                self.out.push_back(Output::Event(ToyEvent::LoggedIn {
                    user: user.to_owned(),
                }));
                self.send(&format!("OK welcome {user}"));
            }
            "ECHO" => {
                let rest = text.get(5..).unwrap_or_default().to_owned();
                self.send(&format!("ECHO {rest}"));
                self.out.push_back(Output::Event(ToyEvent::Echoed(rest)));
            }
            "QUIT" => {
                self.send("BYE");
                self.out.push_back(Output::Event(ToyEvent::Closed));
                self.out.push_back(Output::Close);
                self.done = true;
            }
            _ => self.send("BAD unknown command"),
        }
    }
}

impl Machine for ToyServer {
    type Event = ToyEvent;
    type Error = ToyError;

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.done {
            return;
        }
        if self.upgrading {
            // The pipe hands nothing over between the cut and the handshake; if a driver
            // did, these bytes could only be injected plaintext.
            self.fail(ToyError::CommandInjection(data.len()));
            return;
        }
        self.deadline = Some(now + self.idle_timeout);
        if let Err(err) = self.framer.push(data) {
            self.send("BAD input too long");
            self.fail(err.into());
            return;
        }
        while !self.done && !self.upgrading {
            match self.framer.next_line() {
                None => break,
                Some(Ok(line)) => self.command(&line),
                Some(Err(err)) => self.send(&format!("BAD {err}")),
            }
        }
    }

    fn handle_eof(&mut self, _now: Instant) {
        if !self.done {
            self.done = true;
            self.out.push_back(Output::Close);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if !self.done && self.deadline.is_some_and(|d| d <= now) {
            self.send("BYE idle too long");
            self.fail(ToyError::Timeout);
        }
    }

    fn handle_tls_established(&mut self, now: Instant, _info: &TlsInfo) {
        // Amnesia: nothing from the plaintext phase survives the cut.
        self.secure = true;
        self.upgrading = false;
        self.user = None;
        self.framer.clear();
        self.deadline = Some(now + self.idle_timeout);
        self.out.push_back(Output::Event(ToyEvent::Secured));
        if self.policy.tls() == crate::ListenerTls::Implicit {
            self.send("* OK toy ready");
        }
    }

    fn poll_output(&mut self) -> Option<Output<ToyEvent, ToyError>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.done { None } else { self.deadline }
    }
}

/// Where the toy client is in its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    Greeting,
    Capa,
    StartTls,
    Handshake,
    Ready,
    Done,
}

/// The toy client machine: greeting, CAPA, STARTTLS by policy, CAPA again, then commands.
#[derive(Debug)]
pub struct ToyClient {
    policy: ClientTls,
    framer: LineFramer,
    out: VecDeque<Output<ToyEvent, ToyError>>,
    state: ClientState,
    secure: bool,
    /// The server's capabilities; forgotten at the cut.
    capabilities: Vec<String>,
}

impl ToyClient {
    /// A client with the given TLS policy.
    pub fn new(policy: ClientTls) -> Self {
        ToyClient {
            policy,
            framer: LineFramer::new(MAX_LINE),
            out: VecDeque::new(),
            state: ClientState::Greeting,
            secure: false,
            capabilities: Vec::new(),
        }
    }

    /// The capabilities the server announced in the current (TLS or plaintext) phase.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// Whether the client considers the session secure (only ever after a handshake).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Sends a command line (after [`ToyEvent::Ready`]). `LOGIN` is refused locally on a
    /// connection that is not secure unless the policy is [`ClientTls::InsecurePlaintext`].
    pub fn send_line(&mut self, line: &str) {
        if self.state != ClientState::Ready {
            return;
        }
        let is_login = line
            .get(..6)
            .is_some_and(|v| v.eq_ignore_ascii_case("LOGIN "));
        if is_login && !self.secure && self.policy != ClientTls::InsecurePlaintext {
            self.fail(ToyError::TlsUnavailable(
                "connection is not secure; LOGIN withheld",
            ));
            return;
        }
        self.transmit(line);
    }

    fn transmit(&mut self, line: &str) {
        let mut bytes = line.as_bytes().to_vec();
        bytes.retain(|b| *b != b'\r' && *b != b'\n');
        bytes.extend_from_slice(b"\r\n");
        self.out.push_back(Output::Transmit(Bytes::from(bytes)));
    }

    fn fail(&mut self, err: ToyError) {
        self.out.push_back(Output::Error(err));
        self.out.push_back(Output::Close);
        self.state = ClientState::Done;
    }

    fn ready(&mut self) {
        self.state = ClientState::Ready;
        self.out.push_back(Output::Event(ToyEvent::Ready));
    }

    fn line(&mut self, line: &[u8]) {
        let text = crate::text::sanitize(line);
        match self.state {
            ClientState::Greeting => {
                if !text.starts_with("* OK") {
                    // Every error path still honours the policy (CVE-2020-28896).
                    self.fail(ToyError::TlsUnavailable("sent no usable greeting"));
                    return;
                }
                self.state = ClientState::Capa;
                self.transmit("CAPA");
            }
            ClientState::Capa => {
                self.capabilities = text.split(' ').skip(1).map(str::to_owned).collect();
                let offered = self.capabilities.iter().any(|c| c == "STARTTLS");
                if self.secure || !self.policy.wants_starttls() {
                    if !self.secure && self.policy.requires_tls() {
                        self.fail(ToyError::TlsUnavailable("is not using TLS"));
                    } else {
                        self.ready();
                    }
                } else if offered || self.policy == ClientTls::StartTlsRequired {
                    self.state = ClientState::StartTls;
                    self.transmit("STARTTLS");
                } else {
                    // Opportunistic and not offered: go on in clear.
                    self.ready();
                }
            }
            ClientState::StartTls => {
                if !text.starts_with("OK") {
                    if self.policy.requires_tls() {
                        self.fail(ToyError::TlsUnavailable("refused STARTTLS"));
                    } else {
                        self.ready();
                    }
                    return;
                }
                let pending = self.framer.buffered();
                if pending > 0 {
                    self.fail(ToyError::ResponseInjection(pending));
                    return;
                }
                self.state = ClientState::Handshake;
                self.out.push_back(Output::StartTls);
            }
            ClientState::Handshake => {
                // Bytes between the go-ahead and the handshake can only be injected.
                self.fail(ToyError::ResponseInjection(line.len() + 2));
            }
            ClientState::Ready => {
                if text == "BYE" {
                    self.state = ClientState::Done;
                    self.out.push_back(Output::Event(ToyEvent::Closed));
                    self.out.push_back(Output::Close);
                    return;
                }
                self.out.push_back(Output::Event(ToyEvent::Line(text)));
            }
            ClientState::Done => {}
        }
    }
}

impl Machine for ToyClient {
    type Event = ToyEvent;
    type Error = ToyError;

    fn handle_input(&mut self, _now: Instant, data: &[u8]) {
        if self.state == ClientState::Done {
            return;
        }
        if self.state == ClientState::Handshake {
            self.fail(ToyError::ResponseInjection(data.len()));
            return;
        }
        if let Err(err) = self.framer.push(data) {
            self.fail(err.into());
            return;
        }
        while self.state != ClientState::Done && self.state != ClientState::Handshake {
            match self.framer.next_line() {
                None => break,
                Some(Ok(line)) => self.line(&line),
                Some(Err(err)) => self.fail(err.into()),
            }
        }
    }

    fn handle_eof(&mut self, _now: Instant) {
        if self.state != ClientState::Done {
            self.fail(ToyError::Eof);
        }
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn handle_tls_established(&mut self, _now: Instant, _info: &TlsInfo) {
        self.secure = true;
        self.capabilities.clear();
        self.framer.clear();
        self.out.push_back(Output::Event(ToyEvent::Secured));
        if self.state == ClientState::Handshake {
            // Ask again over TLS; nothing learned in clear is trusted.
            self.state = ClientState::Capa;
            self.transmit("CAPA");
        }
        // Implicit TLS: the greeting follows over TLS.
    }

    fn poll_output(&mut self) -> Option<Output<ToyEvent, ToyError>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}
