//! Sends one message over a real socket with the SMTP client machine
//! ([`mailsec_smtp::client::Client`]) driven by [`mailsec_tls::driver::Driver`] (tokio).
//!
//! The message is streamed from any [`tokio::io::AsyncRead`] in chunks of
//! [`SendOptions::chunk_size`] octets: it is never held whole in memory, and the driver stops
//! taking data while the socket is behind ([`Driver::set_max_pending_wire`]).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use mailsec_examples::smtp_send::{SendOptions, TlsMode, send, tls_config};
//!
//! let mut options = SendOptions::new(
//!     "mail.example.org:465",
//!     "mail.example.org",
//!     "alice@example.org",
//!     ["bob@example.net"],
//! );
//! options.tls = TlsMode::Implicit; // the default (RFC 8314)
//! options.tls_config = Some(tls_config(None)?); // the webpki roots
//! let message = tokio::fs::File::open("message.eml").await?;
//! let report = send(&options, message).await?;
//! for r in &report.recipients {
//!     println!("{}: {} {}", r.recipient, r.reply.code(), r.reply.text());
//! }
//! # Ok(()) }
//! ```
//!
//! Which errors can happen where: connecting ([`SendError::Connect`]), TLS set-up or handshake
//! ([`SendError::Tls`]), the session itself ([`SendError::Session`]: greeting, EHLO, STARTTLS,
//! AUTH… with the server's reply when there is one), the message refused
//! ([`SendError::Rejected`]: MAIL, every RCPT, DATA or the final reply), reading the message
//! ([`SendError::Message`]). [`SendError::phase`], [`SendError::reply`] give the details.

use std::io;
use std::path::Path;
use std::time::Instant;

use futures_io::{AsyncRead as FuturesRead, AsyncWrite as FuturesWrite};
use mailsec_smtp::CommandError;
use mailsec_smtp::client::{
    Client, ClientConfig, ClientError, Envelope, Event, Phase, SessionInfo,
};
use mailsec_smtp::types::{BodyType, EnhancedCode, Extensions, ForwardPath, Reply};
use mailsec_tls::driver::{Driver, DriverError, TokioTimer};
use mailsec_tls::sasl::{Credentials, InsecureAuth, Mechanism};
use mailsec_tls::{ClientTls, ClientTlsConfig, TlsError, TlsInfo, TlsSetup};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::capture::{Capture, Tap};

/// Default size of the pieces the message is read and sent in.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

/// How the connection is secured; the command-line spelling of [`ClientTls`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsMode {
    /// TLS from the first byte (submissions port 465; RFC 8314 §3.3 recommends it).
    #[default]
    Implicit,
    /// Plaintext greeting, then STARTTLS, required: anything that prevents the upgrade ends the
    /// session before any credential or mail command is sent (RFC 3207).
    Starttls,
    /// STARTTLS when the server offers it, clear otherwise (server-to-server relay only: a
    /// meddler can strip the offer unnoticed).
    Opportunistic,
    /// No TLS at all: everything is visible on the network. Credentials are refused.
    None,
}

impl TlsMode {
    /// The client policy of this mode.
    pub fn client_tls(self) -> ClientTls {
        match self {
            TlsMode::Implicit => ClientTls::Implicit,
            TlsMode::Starttls => ClientTls::StartTlsRequired,
            TlsMode::Opportunistic => ClientTls::StartTlsOpportunistic,
            TlsMode::None => ClientTls::InsecurePlaintext,
        }
    }
}

/// What to do with the line endings of the message read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineEndings {
    /// Turn each bare LF and each bare CR into CRLF (files written on Unix use LF). CRLF is
    /// kept as it is.
    #[default]
    ToCrlf,
    /// Send the bytes as they are. With DATA a bare CR or LF ends the session
    /// ([`ClientError::Body`]): passing one on is how SMTP smuggling starts.
    AsIs,
}

/// Everything [`send`] needs besides the message. Build it with [`SendOptions::new`] and set
/// the public fields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SendOptions {
    /// The server to connect to, `host:port`.
    pub server: String,
    /// The name the server's certificate must match (RFC 7817: the name the user configured,
    /// never one learned from DNS MX records or the greeting); also sent as SNI.
    pub server_name: String,
    /// How the connection is secured (default [`TlsMode::Implicit`]).
    pub tls: TlsMode,
    /// Whom to trust; required unless `tls` is [`TlsMode::None`]. See [`tls_config`].
    pub tls_config: Option<ClientTlsConfig>,
    /// Credentials for AUTH (RFC 4954), used only over TLS unless
    /// [`SendOptions::allow_cleartext_credentials`].
    pub credentials: Option<Credentials>,
    /// Send the credentials even without TLS (closed test networks and demonstrations only;
    /// default false: without TLS the session ends before any credential is written).
    pub allow_cleartext_credentials: bool,
    /// The name announced with EHLO (default `localhost`).
    pub ehlo_name: String,
    /// The reverse path (empty for the null path `<>`).
    pub from: String,
    /// The recipients, in order (at least one).
    pub to: Vec<String>,
    /// Declare the body 8-bit (`BODY=8BITMIME`, RFC 6152; the server must offer it).
    pub eight_bit: bool,
    /// Pipeline commands when the server offers PIPELINING (RFC 2920; default true).
    pub pipelining: bool,
    /// Use BDAT when the server offers CHUNKING (RFC 3030; default true). Off: DATA with
    /// dot-stuffing.
    pub chunking: bool,
    /// Line endings of the message read (default [`LineEndings::ToCrlf`]).
    pub line_endings: LineEndings,
    /// Size of the pieces read from the message (default [`DEFAULT_CHUNK_SIZE`]).
    pub chunk_size: usize,
    /// Record every byte on the socket into this capture (what a network capture would show).
    pub capture: Option<Capture>,
}

impl SendOptions {
    /// Options for one message from `from` to `to` through `server` (`host:port`), verified
    /// for `server_name`, over implicit TLS; [`SendOptions::tls_config`] still has to be set.
    pub fn new<'a>(
        server: &str,
        server_name: &str,
        from: &str,
        to: impl IntoIterator<Item = &'a str>,
    ) -> SendOptions {
        SendOptions {
            server: server.to_owned(),
            server_name: server_name.to_owned(),
            tls: TlsMode::default(),
            tls_config: None,
            credentials: None,
            allow_cleartext_credentials: false,
            ehlo_name: "localhost".to_owned(),
            from: from.to_owned(),
            to: to.into_iter().map(str::to_owned).collect(),
            eight_bit: false,
            pipelining: true,
            chunking: true,
            line_endings: LineEndings::default(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            capture: None,
        }
    }
}

/// A client TLS configuration trusting the CA certificates of a PEM file, or the Mozilla root
/// program's CAs (webpki-roots) without one; ring is the crypto provider.
pub fn tls_config(ca_file: Option<&Path>) -> Result<ClientTlsConfig, SendError> {
    let builder = ClientTlsConfig::builder().provider(mailsec_tls::testing::provider());
    let builder = match ca_file {
        Some(path) => builder.add_ca_file(path).map_err(SendError::Tls)?,
        None => builder.webpki_roots(),
    };
    builder.build().map_err(SendError::Tls)
}

/// The server's answer to one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientOutcome {
    /// The recipient.
    pub recipient: ForwardPath,
    /// The server's reply to its RCPT.
    pub reply: Reply,
}

impl RecipientOutcome {
    /// Whether the server accepted the recipient.
    pub fn accepted(&self) -> bool {
        self.reply.code().is_positive()
    }
}

/// What happened to a message the server accepted.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SendReport {
    /// One outcome per recipient, in envelope order. The message went to the accepted ones;
    /// the others were refused (see their replies).
    pub recipients: Vec<RecipientOutcome>,
    /// The final reply (the server took responsibility for the message).
    pub reply: Reply,
    /// The TLS session, when the connection was secure.
    pub tls: Option<TlsInfo>,
    /// The SASL mechanism the client authenticated with, if it did.
    pub authenticated: Option<Mechanism>,
    /// The server's EHLO capabilities the message was sent under (over TLS: those received
    /// over TLS). With [`SendOptions::chunking`], BDAT was used if they include CHUNKING.
    pub extensions: Option<Extensions>,
    /// Octets of the message as sent (after line-ending conversion, before dot-stuffing).
    pub octets: u64,
    /// The session failed after the message was accepted (QUIT unanswered, say): the message
    /// is delivered all the same.
    pub quit_error: Option<String>,
}

impl SendReport {
    /// Whether every recipient was accepted.
    pub fn all_accepted(&self) -> bool {
        self.recipients.iter().all(RecipientOutcome::accepted)
    }
}

/// Formats a reply as `550 5.1.1 text` (code, enhanced code, sanitized text).
pub fn show_reply(reply: &Reply) -> String {
    reply.summary().to_string()
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The options do not make a message (an address that does not parse…).
    #[error("invalid envelope: {0}")]
    Envelope(#[source] CommandError),
    /// TLS is asked for but [`SendOptions::tls_config`] is not set.
    #[error("TLS mode {0:?} needs a TLS configuration")]
    NoTlsConfig(TlsMode),
    /// Could not connect.
    #[error("cannot connect to {server}: {source}")]
    Connect {
        /// The server.
        server: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// TLS failed: configuration, handshake or certificate (the name, the issuer, the dates).
    #[error("TLS: {0}")]
    Tls(#[source] TlsError),
    /// The session failed before the message was decided: a refusal of something the session
    /// needs (greeting, EHLO, STARTTLS, AUTH), a timeout, a broken reply, the server gone.
    #[error("SMTP session: {0}")]
    Session(#[source] ClientError),
    /// The socket failed.
    #[error("I/O: {0}")]
    Io(#[source] io::Error),
    /// The server refused the message: at MAIL, at RCPT (every recipient refused), at DATA or
    /// BDAT, or with the final reply.
    #[error("{phase}: {}", reply.summary())]
    Rejected {
        /// Where.
        phase: Phase,
        /// The reply that decided it.
        reply: Reply,
        /// The recipient outcomes received before that.
        recipients: Vec<RecipientOutcome>,
    },
    /// Reading the message failed; the message was not finished (the connection is dropped so
    /// that nothing truncated is delivered).
    #[error("reading the message: {0}")]
    Message(#[source] io::Error),
    /// The driver failed in a way none of the above describes.
    #[error("driver: {0}")]
    Driver(String),
    /// The connection ended before the message was decided, without an error from the client.
    #[error("the connection ended before the message was accepted or refused")]
    Incomplete,
}

impl SendError {
    /// The SMTP phase the failure belongs to, if any.
    pub fn phase(&self) -> Option<Phase> {
        match self {
            SendError::Rejected { phase, .. } => Some(*phase),
            SendError::Session(e) => e.phase(),
            _ => None,
        }
    }

    /// The server's reply behind the failure, if any.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            SendError::Rejected { reply, .. } => Some(reply),
            SendError::Session(e) => e.reply(),
            _ => None,
        }
    }

    /// The reply code behind the failure, if any.
    pub fn code(&self) -> Option<u16> {
        self.reply().map(|r| r.code().get())
    }

    /// The enhanced status code (RFC 3463) behind the failure, if any.
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.reply().and_then(Reply::enhanced)
    }
}

impl From<DriverError<ClientError>> for SendError {
    fn from(err: DriverError<ClientError>) -> Self {
        match err {
            DriverError::Machine(e) => SendError::Session(e),
            DriverError::Tls(e) => SendError::Tls(e),
            DriverError::Io(e) => SendError::Io(e),
            // Only when the machine asks for STARTTLS without a configuration, which `send`
            // refuses before connecting; or a driver failure added later.
            other => SendError::Driver(other.to_string()),
        }
    }
}

/// Turns bare LF and bare CR into CRLF across chunk boundaries.
#[derive(Clone, Debug, Default)]
pub struct CrlfConverter {
    after_cr: bool,
}

impl CrlfConverter {
    /// Appends `input` to `out` with its line endings made CRLF.
    pub fn convert(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 32);
        for &b in input {
            match b {
                b'\n' => {
                    if !self.after_cr {
                        out.push(b'\r');
                    }
                    out.push(b'\n');
                    self.after_cr = false;
                }
                _ => {
                    if self.after_cr {
                        out.push(b'\n');
                    }
                    out.push(b);
                    self.after_cr = b == b'\r';
                }
            }
        }
    }

    /// Ends the input: a final bare CR gets its LF.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.after_cr) {
            out.push(b'\n');
        }
    }
}

/// Connects to [`SendOptions::server`] and sends one message read from `message`.
pub async fn send<R: AsyncRead + Unpin>(
    options: &SendOptions,
    message: R,
) -> Result<SendReport, SendError> {
    // Refuse what cannot work before touching the network.
    let envelope = envelope(options)?;
    let setup = tls_setup(options)?;
    let stream = TcpStream::connect(&options.server)
        .await
        .map_err(|source| SendError::Connect {
            server: options.server.clone(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    let stream = stream.compat();
    match &options.capture {
        Some(capture) => {
            let tapped = Tap::new(stream, capture.clone());
            run(options, envelope, setup, tapped, message).await
        }
        None => run(options, envelope, setup, stream, message).await,
    }
}

/// [`send`] over a stream the caller connected (any `futures_io` byte stream: a tokio stream
/// through `compat()`, a test pipe…).
pub async fn send_on<S, R>(
    options: &SendOptions,
    stream: S,
    message: R,
) -> Result<SendReport, SendError>
where
    S: FuturesRead + FuturesWrite + Unpin,
    R: AsyncRead + Unpin,
{
    let envelope = envelope(options)?;
    let setup = tls_setup(options)?;
    run(options, envelope, setup, stream, message).await
}

fn envelope(options: &SendOptions) -> Result<Envelope, SendError> {
    let envelope = Envelope::from_addresses(&options.from, options.to.iter().map(String::as_str))
        .map_err(SendError::Envelope)?;
    Ok(if options.eight_bit {
        envelope.with_body_type(BodyType::EightBitMime)
    } else {
        envelope
    })
}

fn tls_setup(options: &SendOptions) -> Result<Option<TlsSetup>, SendError> {
    if options.tls == TlsMode::None {
        return Ok(None);
    }
    let config = options
        .tls_config
        .clone()
        .ok_or(SendError::NoTlsConfig(options.tls))?;
    Ok(Some(TlsSetup::Client {
        config,
        server_name: options.server_name.clone(),
    }))
}

/// Where the body stands.
enum Body {
    Reading,
    /// The last bytes were handed over; the next `ReadyForData` finishes.
    Done,
}

async fn run<S, R>(
    options: &SendOptions,
    envelope: Envelope,
    setup: Option<TlsSetup>,
    stream: S,
    mut message: R,
) -> Result<SendReport, SendError>
where
    S: FuturesRead + FuturesWrite + Unpin,
    R: AsyncRead + Unpin,
{
    let mut config = ClientConfig::for_domain(&options.ehlo_name)
        .map_err(SendError::Envelope)?
        .with_tls(options.tls.client_tls())
        .with_pipelining(options.pipelining)
        .with_chunking(options.chunking);
    if let Some(credentials) = &options.credentials {
        config = config.with_credentials(credentials.clone());
    }
    if options.allow_cleartext_credentials {
        config = config.with_insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls);
    }
    let client = Client::new(config, Instant::now());
    let mut driver = match (options.tls, setup) {
        (TlsMode::Implicit, Some(setup)) => {
            Driver::implicit_tls(client, stream, TokioTimer, setup).map_err(SendError::Tls)?
        }
        (_, setup) => Driver::new(client, stream, TokioTimer, setup),
    };

    let mut envelope = Some(envelope);
    let mut recipients = Vec::new();
    let mut session: Option<SessionInfo> = None;
    let mut outcome: Option<Result<Reply, SendError>> = None;
    let mut body = Body::Reading;
    let mut converter = CrlfConverter::default();
    let mut buf = vec![0u8; options.chunk_size.max(1)];
    let mut piece = Vec::with_capacity(options.chunk_size.max(1) + 64);
    let mut octets = 0u64;

    loop {
        let event = match driver.next_event().await {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(err) => {
                return match outcome {
                    // The message was decided; a failing QUIT changes nothing about it.
                    Some(Ok(reply)) => Ok(SendReport {
                        recipients,
                        reply,
                        tls: session.as_ref().and_then(|s| s.tls.clone()),
                        extensions: session.map(|s| s.extensions),
                        authenticated: driver.machine().authenticated(),
                        octets,
                        quit_error: Some(err.to_string()),
                    }),
                    Some(Err(rejected)) => Err(rejected),
                    None => Err(err.into()),
                };
            }
        };
        let now = Instant::now();
        match event {
            Event::Ready(info) => {
                session = Some(info);
                if let Some(env) = envelope.take() {
                    driver
                        .machine_mut()
                        .send_message(now, env)
                        .map_err(SendError::Session)?;
                }
            }
            Event::RecipientResult {
                recipient, reply, ..
            } => recipients.push(RecipientOutcome { recipient, reply }),
            Event::ReadyForData => match body {
                Body::Done => driver
                    .machine_mut()
                    .finish_data(now)
                    .map_err(SendError::Session)?,
                Body::Reading => {
                    piece.clear();
                    // Read until there is something to send or the message ends.
                    while piece.is_empty() {
                        let n = message.read(&mut buf).await.map_err(SendError::Message)?;
                        if n == 0 {
                            converter.finish(&mut piece);
                            body = Body::Done;
                            break;
                        }
                        match options.line_endings {
                            LineEndings::ToCrlf => converter.convert(&buf[..n], &mut piece),
                            LineEndings::AsIs => piece.extend_from_slice(&buf[..n]),
                        }
                    }
                    let now = Instant::now();
                    if piece.is_empty() {
                        driver
                            .machine_mut()
                            .finish_data(now)
                            .map_err(SendError::Session)?;
                    } else {
                        octets += piece.len() as u64;
                        driver
                            .machine_mut()
                            .send_data(now, &piece)
                            .map_err(SendError::Session)?;
                    }
                }
            },
            Event::MessageAccepted { reply } => {
                outcome = Some(Ok(reply));
                driver.machine_mut().quit(now).map_err(SendError::Session)?;
            }
            Event::MessageRejected { phase, reply } => {
                outcome = Some(Err(SendError::Rejected {
                    phase,
                    reply,
                    recipients: recipients.clone(),
                }));
                driver.machine_mut().quit(now).map_err(SendError::Session)?;
            }
            Event::Closed => {}
            // Events added later carry nothing this example needs.
            _ => {}
        }
    }
    match outcome {
        Some(Ok(reply)) => Ok(SendReport {
            recipients,
            reply,
            tls: session.as_ref().and_then(|s| s.tls.clone()),
            extensions: session.map(|s| s.extensions),
            authenticated: driver.machine().authenticated(),
            octets,
            quit_error: None,
        }),
        Some(Err(rejected)) => Err(rejected),
        None => Err(SendError::Incomplete),
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use mailsec_smtp::server::{self, Role, Server, ServerConfig};
    use mailsec_smtp::types::Domain;
    use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, ExposeSecret};
    use mailsec_tls::testing::TestPki;
    use tokio::io::ReadBuf;
    use tokio::net::TcpListener;

    use super::*;

    /// The four chunkings of SECURITY.md over the converter.
    fn convert_chunked(input: &[u8]) -> Vec<Vec<u8>> {
        let mut results = Vec::new();
        let mut splits: Vec<Vec<&[u8]>> = vec![vec![input], input.chunks(1).collect()];
        for at in 0..=input.len() {
            splits.push(vec![&input[..at], &input[at..]]);
        }
        splits.push(input.chunks(3).collect());
        for pieces in splits {
            let mut c = CrlfConverter::default();
            let mut out = Vec::new();
            for p in pieces {
                c.convert(p, &mut out);
            }
            c.finish(&mut out);
            results.push(out);
        }
        results
    }

    #[test]
    fn converter_makes_every_line_ending_crlf_in_any_chunking() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"a\nb\n", b"a\r\nb\r\n"),
            (b"a\r\nb\r\n", b"a\r\nb\r\n"),
            (b"a\rb\r", b"a\r\nb\r\n"),
            (b"a\r\r\nb", b"a\r\n\r\nb"),
            (b"\n\n.\n", b"\r\n\r\n.\r\n"),
            (b"", b""),
        ];
        for (input, expected) in cases {
            for out in convert_chunked(input) {
                assert_eq!(out, expected, "{:?}", String::from_utf8_lossy(input));
            }
        }
    }

    #[test]
    fn tls_modes_map_to_client_policies() {
        assert_eq!(TlsMode::default(), TlsMode::Implicit);
        assert_eq!(TlsMode::Implicit.client_tls(), ClientTls::Implicit);
        assert_eq!(TlsMode::Starttls.client_tls(), ClientTls::StartTlsRequired);
        assert_eq!(
            TlsMode::Opportunistic.client_tls(),
            ClientTls::StartTlsOpportunistic
        );
        assert_eq!(TlsMode::None.client_tls(), ClientTls::InsecurePlaintext);
    }

    /// What the test server saw.
    #[derive(Debug, Default)]
    struct Received {
        body: Vec<u8>,
        recipients: Vec<String>,
        accepted: bool,
        aborted: bool,
        secure_mail: bool,
        identity: Option<String>,
    }

    /// Serves one connection with our SMTP server machine: user alice/s3cret, recipients with
    /// "nobody" refused with 550 5.1.1.
    async fn serve_one(
        listener: TcpListener,
        role: Role,
        setup: TlsSetup,
    ) -> Result<Received, String> {
        let (sock, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let config =
            ServerConfig::new(role, Domain::new(b"mx.example").map_err(|e| e.to_string())?)
                .with_mechanisms(vec![Mechanism::Plain, Mechanism::Login]);
        let mut machine = Server::new(config);
        machine.start_clock(Instant::now());
        let mut driver = if role == Role::ImplicitSubmission {
            Driver::implicit_tls(machine, sock.compat(), TokioTimer, setup)
                .map_err(|e| e.to_string())?
        } else {
            Driver::new(machine, sock.compat(), TokioTimer, Some(setup))
        };
        let mut got = Received::default();
        loop {
            let event = match driver.next_event().await {
                Ok(Some(event)) => event,
                Ok(None) => break,
                // The client dropped the connection mid-message: what was received stands.
                Err(_) => break,
            };
            let m = driver.machine_mut();
            let r = match event {
                server::Event::CredentialCheck(check) => {
                    let ok = matches!(&check, CredentialCheck::Password { authcid, password, .. }
                        if authcid == "alice" && password.expose_secret() == "s3cret");
                    m.answer_credentials(if ok {
                        CheckAnswer::Accept
                    } else {
                        CheckAnswer::Reject
                    })
                }
                server::Event::Authenticated { identity } => {
                    got.identity = Some(identity.authcid.clone());
                    Ok(())
                }
                server::Event::MailFrom { secure, .. } => {
                    got.secure_mail = secure;
                    m.accept_sender()
                }
                server::Event::Recipient { to, .. } => {
                    let to = to.to_string();
                    got.recipients.push(to.clone());
                    if to.contains("nobody") {
                        let reply = server::reply(550, (5, 1, 1), "No such user")
                            .map_err(|e| e.to_string())?;
                        m.reject_recipient(reply)
                    } else {
                        m.accept_recipient()
                    }
                }
                server::Event::MessageData(bytes) => {
                    got.body.extend_from_slice(&bytes);
                    Ok(())
                }
                server::Event::MessageEnd { .. } => {
                    got.accepted = true;
                    m.accept_message()
                }
                server::Event::MessageAborted { .. } => {
                    got.aborted = true;
                    Ok(())
                }
                _ => Ok(()),
            };
            r.map_err(|e| e.to_string())?;
        }
        Ok(got)
    }

    /// Starts the test server on loopback; returns its address and its outcome.
    async fn spawn_server(
        role: Role,
        pki: &TestPki,
    ) -> (String, tokio::task::JoinHandle<Result<Received, String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let setup = pki.server_setup();
        let task = tokio::spawn(async move { serve_one(listener, role, setup).await });
        (addr, task)
    }

    fn options_for(addr: &str, pki: &TestPki, tls: TlsMode) -> SendOptions {
        let mut o = SendOptions::new(addr, "localhost", "alice@example.org", ["bob@example.net"]);
        o.tls = tls;
        o.tls_config = Some(pki.client_config());
        o.credentials = Some(Credentials::password("alice", "s3cret"));
        o
    }

    /// A body of `lines` lines, some starting with dots, LF line endings.
    fn body(lines: usize) -> Vec<u8> {
        let mut b = b"Subject: test\n\n.leading dot\n..two\n.\n".to_vec();
        for i in 0..lines {
            b.extend_from_slice(format!("line {i} of the test message body\n").as_bytes());
        }
        b
    }

    fn crlf(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut c = CrlfConverter::default();
        c.convert(input, &mut out);
        c.finish(&mut out);
        out
    }

    /// An AsyncRead that serves `data` and records the largest read it was asked for.
    struct Recording {
        data: Vec<u8>,
        pos: usize,
        max_ask: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        fail_at: Option<usize>,
    }

    impl AsyncRead for Recording {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.max_ask
                .fetch_max(buf.remaining(), std::sync::atomic::Ordering::Relaxed);
            if self.fail_at.is_some_and(|at| self.pos >= at) {
                return Poll::Ready(Err(io::Error::other("disk on fire")));
            }
            let n = buf.remaining().min(self.data.len() - self.pos).min(1500);
            let pos = self.pos;
            buf.put_slice(&self.data[pos..pos + n]);
            self.pos += n;
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn starttls_submission_with_auth_delivers_the_body_byte_for_byte() {
        let pki = TestPki::new("localhost");
        for chunking in [true, false] {
            let (addr, server) = spawn_server(Role::Submission, &pki).await;
            let mut o = options_for(&addr, &pki, TlsMode::Starttls);
            o.to.push("nobody@example.net".to_owned());
            o.chunking = chunking;
            o.chunk_size = 777;
            let capture = Capture::default();
            o.capture = Some(capture.clone());
            let message = body(5000);
            let max_ask = std::sync::Arc::default();
            let reader = Recording {
                data: message.clone(),
                pos: 0,
                max_ask: std::sync::Arc::clone(&max_ask),
                fail_at: None,
            };
            let report = send(&o, reader).await.expect("send");
            let got = server.await.expect("join").expect("server");
            assert_eq!(got.body, crlf(&message), "chunking {chunking}");
            assert!(got.accepted && got.secure_mail);
            assert_eq!(got.identity.as_deref(), Some("alice"));
            assert_eq!(
                got.recipients,
                ["<bob@example.net>", "<nobody@example.net>"]
            );
            assert_eq!(report.recipients.len(), 2);
            assert!(report.recipients[0].accepted());
            assert_eq!(report.recipients[1].reply.code().get(), 550);
            assert!(!report.all_accepted());
            assert_eq!(report.reply.code().get(), 250);
            assert_eq!(report.authenticated, Some(Mechanism::Plain));
            assert_eq!(
                report.tls.as_ref().and_then(|t| t.server_name.as_deref()),
                Some("localhost")
            );
            assert_eq!(report.octets, crlf(&message).len() as u64);
            assert!(report.quit_error.is_none());
            // Read in pieces of the chunk size, never the whole message at once.
            assert_eq!(max_ask.load(std::sync::atomic::Ordering::Relaxed), 777);
            // Nothing of the session after STARTTLS is readable on the wire.
            assert!(capture.contains(b"STARTTLS"));
            assert!(!capture.contains(b"AUTH"));
            assert!(!capture.contains(b"leading dot"));
        }
    }

    #[tokio::test]
    async fn implicit_tls_submission() {
        let pki = TestPki::new("localhost");
        let (addr, server) = spawn_server(Role::ImplicitSubmission, &pki).await;
        let o = options_for(&addr, &pki, TlsMode::Implicit);
        let message = b"Subject: hi\r\n\r\nhello\r\n".to_vec();
        let report = send(&o, &message[..]).await.expect("send");
        let got = server.await.expect("join").expect("server");
        assert_eq!(got.body, message);
        assert!(report.all_accepted() && report.tls.is_some());
    }

    #[tokio::test]
    async fn wrong_password_is_a_session_error_in_the_auth_phase() {
        let pki = TestPki::new("localhost");
        let (addr, server) = spawn_server(Role::Submission, &pki).await;
        let mut o = options_for(&addr, &pki, TlsMode::Starttls);
        o.credentials = Some(Credentials::password("alice", "wrong"));
        let err = send(&o, &b"x\r\n"[..]).await.expect_err("bad password");
        assert!(matches!(err, SendError::Session(_)), "{err:?}");
        assert_eq!(err.phase(), Some(Phase::Auth));
        assert_eq!(err.code(), Some(535));
        assert_eq!(
            err.enhanced().map(|e| e.to_string()).as_deref(),
            Some("5.7.8")
        );
        let got = server.await.expect("join").expect("server");
        assert!(!got.accepted && got.recipients.is_empty());
    }

    #[tokio::test]
    async fn credentials_are_never_sent_in_clear() {
        let pki = TestPki::new("localhost");
        let (addr, server) = spawn_server(Role::Mx, &pki).await;
        let mut o = options_for(&addr, &pki, TlsMode::None);
        let capture = Capture::default();
        o.capture = Some(capture.clone());
        let err = send(&o, &b"x\r\n"[..]).await.expect_err("no AUTH in clear");
        assert!(
            matches!(
                err,
                SendError::Session(ClientError::AuthUnavailable { secure: false, .. })
            ),
            "{err:?}"
        );
        assert!(!capture.contains(b"s3cret"));
        assert!(!capture.contains(b"AUTH"));
        let got = server.await.expect("join").expect("server");
        assert!(got.recipients.is_empty());
    }

    #[tokio::test]
    async fn a_failing_message_source_delivers_nothing() {
        let pki = TestPki::new("localhost");
        let (addr, server) = spawn_server(Role::Submission, &pki).await;
        let mut o = options_for(&addr, &pki, TlsMode::Starttls);
        o.chunking = false;
        let reader = Recording {
            data: body(2000),
            pos: 0,
            max_ask: std::sync::Arc::default(),
            fail_at: Some(10_000),
        };
        let err = send(&o, reader).await.expect_err("read error");
        assert!(matches!(err, SendError::Message(_)), "{err:?}");
        let got = server.await.expect("join").expect("server");
        assert!(!got.accepted, "a truncated message was accepted");
        // The message was under way when the source failed, and the server dropped it.
        assert_eq!(got.recipients, ["<bob@example.net>"]);
        assert!(got.aborted, "{got:?}");
    }

    #[tokio::test]
    async fn refused_before_connecting() {
        let mut o = SendOptions::new("127.0.0.1:1", "localhost", "alice@example.org", ["bob"]);
        assert!(matches!(
            send(&o, &b""[..]).await,
            Err(SendError::Envelope(_))
        ));
        o.to = vec!["bob@example.net".to_owned()];
        assert!(matches!(
            send(&o, &b""[..]).await,
            Err(SendError::NoTlsConfig(TlsMode::Implicit))
        ));
    }
}
