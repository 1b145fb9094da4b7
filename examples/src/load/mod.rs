//! A bounded pilot load test of a mail server: the library behind `mailsec-load`.
//!
//! "What does TLS cost us?" [`run`] opens [`LoadOptions::connections`] concurrent
//! connections (tokio tasks) to one server, each doing [`LoadOptions::count`] operations, in
//! each [`Mode`] asked for (no TLS, STARTTLS, implicit TLS) one after another, and reports the
//! modes side by side ([`LoadReport`]):
//!
//! - [`Protocol::Smtp`] ([`smtp`]): EHLO, STARTTLS or implicit TLS, AUTH when credentials are
//!   given, then `count` × (MAIL, RCPT, DATA or BDAT) of a generated message of
//!   [`LoadOptions::size`] octets, QUIT. An operation is one message accepted.
//! - [`Protocol::Imap`] ([`imap`]): log in, list INBOX (`UID SEARCH ALL`), `count`
//!   whole-message FETCHes (round robin over the messages there), LOGOUT. An operation is one
//!   message fetched.
//! - [`Protocol::Pop3`] ([`pop3`]): log in, STAT/LIST/UIDL, `count` RETRs (round robin),
//!   QUIT (nothing deleted).
//!
//! Measured per mode ([`stats`]): connection set-up time (TCP connect to ready: greeting,
//! TLS handshake, login) and operation time percentiles (HdrHistogram), connections and TLS
//! handshakes per second of wall time, operations per second, octets on the wire per
//! operation each way (counted at the socket below TLS by [`wire::Counted`]: handshakes,
//! commands and replies included; the IMAP and POP3 mailbox listing is counted apart and left
//! out), this process's CPU time and, optionally, a server
//! process's, and failures by kind. [`report`] renders the text table and the JSON,
//! [`chart`] the SVG bar chart, and [`proxy::CountingProxy`] gives an independent byte count
//! ([`LoadOptions::via_proxy`]).
//!
//! Everything is bounded: at most [`MAX_CONNECTIONS`] connections and [`MAX_COUNT`]
//! operations per connection, a per-operation timeout ([`LoadOptions::op_timeout`], which
//! also bounds the set-up), and a hard wall-clock cap per mode ([`LoadOptions::duration`]):
//! connections still running then are dropped and counted as [`stats::ErrorKind::Deadline`].
//! After every other session, clean or failed, the worker reads what the server still sends
//! until it closes (at most [`DRAIN_LIMIT`] and [`DRAIN_MAX_BYTES`]; after a failure it shuts
//! its sending side first), so the byte counts include the tail a session left unread.

pub mod chart;
mod fetch;
pub mod imap;
pub mod pop3;
pub mod proxy;
pub mod report;
pub mod smtp;
pub mod stats;
pub mod wire;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use mailsec_tls::{ClientTls, ClientTlsConfig, TlsSetup};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

pub use report::{LoadReport, ModeReport, ProxyCount};
use stats::{Collector, ErrorKind, Failure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wire::{Counted, ReturnSlot, WireCount};

/// The most concurrent connections a run may open.
pub const MAX_CONNECTIONS: usize = 1000;
/// The most operations per connection.
pub const MAX_COUNT: usize = 100_000;
/// The largest generated SMTP message.
pub const MAX_SIZE: usize = 64 * 1024 * 1024;
/// How long a connection whose session ended (cleanly or not) waits for the server to close
/// it.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(2);
/// The most octets read from a connection after its session ended.
pub const DRAIN_MAX_BYTES: u64 = 1024 * 1024;
/// The longest wall-clock cap of one mode.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Which protocol the workload speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Send messages (SMTP submission or MX).
    Smtp,
    /// Fetch messages over IMAP.
    Imap,
    /// Retrieve messages over POP3.
    Pop3,
}

impl Protocol {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "smtp",
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
        }
    }

    /// What one operation is, for reports ("messages", "fetches").
    pub fn operation(self) -> &'static str {
        match self {
            Protocol::Smtp => "messages",
            Protocol::Imap | Protocol::Pop3 => "fetches",
        }
    }

    /// The usual port of `mode`: SMTP 25 (plain), 587 (STARTTLS), 465; IMAP 143, 143, 993;
    /// POP3 110, 110, 995 (RFC 8314 §7.3).
    pub fn default_port(self, mode: Mode) -> u16 {
        match (self, mode) {
            (Protocol::Smtp, Mode::None) => 25,
            (Protocol::Smtp, Mode::Starttls) => 587,
            (Protocol::Smtp, Mode::Implicit) => 465,
            (Protocol::Imap, Mode::Implicit) => 993,
            (Protocol::Imap, _) => 143,
            (Protocol::Pop3, Mode::Implicit) => 995,
            (Protocol::Pop3, _) => 110,
        }
    }
}

/// How a connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// No TLS at all.
    None,
    /// Plaintext greeting, then STARTTLS (STLS for POP3), required.
    Starttls,
    /// TLS from the first byte.
    Implicit,
}

impl Mode {
    /// The three modes, in report order.
    pub const ALL: [Mode; 3] = [Mode::None, Mode::Starttls, Mode::Implicit];

    /// The name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Starttls => "starttls",
            Mode::Implicit => "implicit",
        }
    }

    /// The client TLS policy of this mode.
    pub fn client_tls(self) -> ClientTls {
        match self {
            Mode::None => ClientTls::InsecurePlaintext,
            Mode::Starttls => ClientTls::StartTlsRequired,
            Mode::Implicit => ClientTls::Implicit,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Credentials for logging in.
#[derive(Clone)]
pub struct Login {
    /// User name.
    pub user: String,
    /// Password.
    pub password: secrecy::SecretString,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Everything a run needs. Build with [`LoadOptions::new`] and set the public fields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LoadOptions {
    /// The workload.
    pub protocol: Protocol,
    /// The server's host (name or address).
    pub host: String,
    /// The port of each mode; `None` is [`Protocol::default_port`].
    pub ports: [Option<u16>; 3],
    /// The modes to run, one after another, in this order.
    pub modes: Vec<Mode>,
    /// The name the server certificate must carry (also sent as SNI).
    pub server_name: String,
    /// Whom to trust; required for the TLS modes.
    pub tls_config: Option<ClientTlsConfig>,
    /// Concurrent connections (1..=[`MAX_CONNECTIONS`]).
    pub connections: usize,
    /// Operations per connection (1..=[`MAX_COUNT`]).
    pub count: usize,
    /// Hard wall-clock cap of each mode.
    pub duration: Duration,
    /// Timeout of each operation and of the connection set-up.
    pub op_timeout: Duration,
    /// Size of the generated SMTP message in octets (headers included).
    pub size: usize,
    /// Credentials (required for IMAP and POP3; with SMTP, AUTH is done when given).
    pub login: Option<Login>,
    /// Send credentials without TLS in [`Mode::None`] (closed test networks only). Without
    /// it, SMTP in mode none sends without AUTH (as to an MX) and IMAP/POP3 refuse mode none.
    pub allow_cleartext_credentials: bool,
    /// SMTP reverse path.
    pub from: String,
    /// SMTP recipient.
    pub to: String,
    /// Run each mode through a [`proxy::CountingProxy`] and report its counts too.
    pub via_proxy: bool,
    /// Also report the CPU time of this server process (`/proc/<pid>/stat`).
    pub server_pid: Option<u32>,
}

impl LoadOptions {
    /// 10 connections × 10 operations of `protocol` against `host` in every mode, messages
    /// of 10 000 octets, 60 s cap, 30 s per operation, no credentials, no TLS configuration.
    pub fn new(protocol: Protocol, host: &str) -> LoadOptions {
        LoadOptions {
            protocol,
            host: host.to_owned(),
            ports: [None; 3],
            modes: Mode::ALL.to_vec(),
            server_name: crate::pop3_fetch::host_of(host).to_owned(),
            tls_config: None,
            connections: 10,
            count: 10,
            duration: Duration::from_secs(60),
            op_timeout: Duration::from_secs(30),
            size: 10_000,
            login: None,
            allow_cleartext_credentials: false,
            from: "load@example.test".to_owned(),
            to: "postmaster@example.test".to_owned(),
            via_proxy: false,
            server_pid: None,
        }
    }

    /// Sets the port of `mode`.
    pub fn with_port(mut self, mode: Mode, port: u16) -> LoadOptions {
        self.ports[mode as usize] = Some(port);
        self
    }

    /// The port of `mode`.
    pub fn port(&self, mode: Mode) -> u16 {
        self.ports[mode as usize].unwrap_or_else(|| self.protocol.default_port(mode))
    }

    /// `host:port` of `mode` (IPv6 literals bracketed).
    pub fn address(&self, mode: Mode) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port(mode))
        } else {
            format!("{}:{}", self.host, self.port(mode))
        }
    }

    /// Checks the bounds and that each mode can run.
    pub fn validate(&self) -> Result<(), LoadError> {
        let bad = |what: String| Err(LoadError::Invalid(what));
        if self.connections == 0 || self.connections > MAX_CONNECTIONS {
            return bad(format!("connections must be 1..={MAX_CONNECTIONS}"));
        }
        if self.count == 0 || self.count > MAX_COUNT {
            return bad(format!("count must be 1..={MAX_COUNT}"));
        }
        if self.size > MAX_SIZE {
            return bad(format!("size must be at most {MAX_SIZE}"));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return bad("duration must be between 1 s and 24 h".to_owned());
        }
        if self.op_timeout.is_zero() {
            return bad("the operation timeout must not be zero".to_owned());
        }
        if self.modes.is_empty() {
            return bad("no mode to run".to_owned());
        }
        for &mode in &self.modes {
            if mode != Mode::None && self.tls_config.is_none() {
                return Err(LoadError::NoTlsConfig(mode));
            }
        }
        if self.protocol != Protocol::Smtp {
            if self.login.is_none() {
                return bad(format!("{} needs --user", self.protocol.name()));
            }
            if self.modes.contains(&Mode::None) && !self.allow_cleartext_credentials {
                return bad(format!(
                    "{} in mode none sends the password in clear: add \
                     --allow-cleartext-credentials (test networks only)",
                    self.protocol.name()
                ));
            }
        }
        Ok(())
    }

    fn tls_setup(&self, mode: Mode) -> Option<TlsSetup> {
        if mode == Mode::None {
            return None;
        }
        self.tls_config.clone().map(|config| TlsSetup::Client {
            config,
            server_name: self.server_name.clone(),
        })
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// An option is out of bounds or the options do not fit together.
    #[error("invalid options: {0}")]
    Invalid(String),
    /// A TLS mode was asked for without a TLS configuration.
    #[error("mode {0} needs a TLS configuration")]
    NoTlsConfig(Mode),
    /// The counting proxy could not be started.
    #[error("counting proxy: {0}")]
    Proxy(#[source] std::io::Error),
}

/// The stream the workloads run over: a TCP socket, counted.
pub type LoadStream = Counted<Compat<TcpStream>>;

/// What the workers of one mode share.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) options: LoadOptions,
    pub(crate) mode: Mode,
    pub(crate) address: String,
    pub(crate) tls: Option<TlsSetup>,
    pub(crate) wire: Arc<WireCount>,
    pub(crate) stats: Mutex<Collector>,
    pub(crate) progress: ProgressBar,
    pub(crate) message: Arc<Vec<u8>>,
}

/// One connection's socket as the worker keeps hold of it: where the session hands the socket
/// back when it drops the stream ([`Ctx::drain`]), and the connection's own byte count (beside
/// the mode's shared one).
#[derive(Debug, Default)]
pub(crate) struct Link {
    slot: ReturnSlot<Compat<TcpStream>>,
    pub(crate) count: Arc<WireCount>,
}

impl Ctx {
    /// Connects (within the operation timeout), counted into the mode's count and the
    /// link's; the link gets the socket back when the session drops the stream.
    pub(crate) async fn connect(&self, link: &Link) -> Result<LoadStream, Failure> {
        let tcp = tokio::time::timeout(self.options.op_timeout, TcpStream::connect(&self.address))
            .await
            .map_err(|_| Failure::new(ErrorKind::Timeout, "connect timed out"))?
            .map_err(|e| Failure::new(ErrorKind::Connect, format!("{}: {e}", self.address)))?;
        let _ = tcp.set_nodelay(true);
        Ok(
            Counted::returning_to(tcp.compat(), Arc::clone(&self.wire), Arc::clone(&link.slot))
                .also(Arc::clone(&link.count)),
        )
    }

    /// After a session ended, cleanly or not: reads (and counts) what the server still sends
    /// until it closes the connection, for at most [`DRAIN_LIMIT`] (or the operation timeout
    /// if shorter) and [`DRAIN_MAX_BYTES`]. A session may let go of the socket before the
    /// server's last octets arrive — a TLS `close_notify` after the final reply, or whatever
    /// followed a refused login or a failed command that the session never read — and those
    /// crossed the wire too: the tool's count then equals what a proxy in between forwarded.
    ///
    /// After a `failed` session our sending side is shut down first: a server that waits for
    /// the next command (after a refused login, say) sees the end of the stream and closes,
    /// instead of holding the drain until its time limit.
    pub(crate) async fn drain(&self, link: &Link, failed: bool) {
        let stream = link.slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(stream) = stream else { return };
        let mut tcp = stream.into_inner();
        let limit = DRAIN_LIMIT.min(self.options.op_timeout);
        let mut buf = [0u8; 4096];
        let _ = tokio::time::timeout(limit, async {
            if failed {
                let _ = tcp.shutdown().await;
            }
            let mut left = DRAIN_MAX_BYTES;
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                match tcp.read(&mut buf[..want]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        self.wire.add_read(n);
                        left -= n as u64;
                    }
                }
            }
        })
        .await;
    }

    pub(crate) fn stats(&self) -> std::sync::MutexGuard<'_, Collector> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Awaits `f` within the operation timeout.
    pub(crate) async fn timed<T, E>(
        &self,
        what: &str,
        f: impl Future<Output = Result<T, E>>,
    ) -> Result<Result<T, E>, Failure> {
        tokio::time::timeout(self.options.op_timeout, f)
            .await
            .map_err(|_| Failure::new(ErrorKind::Timeout, format!("{what} timed out")))
    }
}

/// Runs every mode of `options` in turn and reports them. `progress` is advanced by one per
/// operation (pass [`ProgressBar::hidden`] for none).
pub async fn run(options: &LoadOptions, progress: &ProgressBar) -> Result<LoadReport, LoadError> {
    options.validate()?;
    let message = Arc::new(smtp::generate_message(
        options.size,
        &options.from,
        &options.to,
    ));
    let mut modes = Vec::new();
    for &mode in &options.modes {
        modes.push(run_mode(options, mode, progress, Arc::clone(&message)).await?);
    }
    progress.finish_and_clear();
    Ok(LoadReport {
        protocol: options.protocol,
        host: options.host.clone(),
        connections: options.connections,
        count: options.count,
        size: (options.protocol == Protocol::Smtp).then_some(message.len()),
        modes,
    })
}

async fn run_mode(
    options: &LoadOptions,
    mode: Mode,
    progress: &ProgressBar,
    message: Arc<Vec<u8>>,
) -> Result<ModeReport, LoadError> {
    let target = options.address(mode);
    let proxy = if options.via_proxy {
        Some(
            proxy::CountingProxy::start(&target)
                .await
                .map_err(LoadError::Proxy)?,
        )
    } else {
        None
    };
    let address = match &proxy {
        Some(p) => p.local_addr().to_string(),
        None => target.clone(),
    };
    let planned = options.connections * options.count;
    progress.set_length(planned as u64);
    progress.set_position(0);
    progress.set_message(format!("{} {}", options.protocol.name(), mode.name()));
    let ctx = Arc::new(Ctx {
        options: options.clone(),
        mode,
        address,
        tls: options.tls_setup(mode),
        wire: WireCount::shared(),
        stats: Mutex::new(Collector::new()),
        progress: progress.clone(),
        message,
    });
    let server_cpu_before = options.server_pid.and_then(stats::process_cpu);
    let cpu_before = stats::own_cpu();
    let start = Instant::now();
    let deadline = tokio::time::Instant::from_std(start + options.duration);
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..options.connections {
        let ctx = Arc::clone(&ctx);
        tasks.spawn(async move {
            let link = Link::default();
            let work = async {
                match ctx.options.protocol {
                    Protocol::Smtp => smtp::connection(&ctx, &link).await,
                    Protocol::Imap => imap::connection(&ctx, &link, index).await,
                    Protocol::Pop3 => pop3::connection(&ctx, &link, index).await,
                }
            };
            let failed = match tokio::time::timeout_at(deadline, work).await {
                Ok(Ok(())) => false,
                Ok(Err(failure)) => {
                    ctx.stats().failed(failure);
                    true
                }
                Err(_) => {
                    // The hard cap: no drain past it.
                    ctx.stats().failed(Failure::new(
                        ErrorKind::Deadline,
                        "the --duration cap ended the connection",
                    ));
                    return;
                }
            };
            // Within the cap too; a drain cut short by it is not a failure of its own.
            let _ = tokio::time::timeout_at(deadline, ctx.drain(&link, failed)).await;
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            ctx.stats()
                .failed(Failure::new(ErrorKind::Session, format!("worker: {e}")));
        }
    }
    let wall = start.elapsed();
    let cpu = stats::own_cpu().saturating_sub(cpu_before);
    let server_cpu = match (
        server_cpu_before,
        options.server_pid.and_then(stats::process_cpu),
    ) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    let proxy_count = match proxy {
        Some(p) => {
            let idle = p.wait_idle(Duration::from_secs(5)).await;
            Some(ProxyCount {
                to_server: p.to_server(),
                to_client: p.to_client(),
                connections: p.connections(),
                idle,
            })
        }
        None => None,
    };
    let collector = ctx.stats();
    Ok(ModeReport::new(
        mode,
        &target,
        options,
        &collector,
        &ctx.wire,
        wall,
        cpu,
        server_cpu,
        proxy_count,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that accepts connections and never says anything.
    async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        (port, task)
    }

    fn options(port: u16) -> LoadOptions {
        let mut o = LoadOptions::new(Protocol::Smtp, "127.0.0.1").with_port(Mode::None, port);
        o.modes = vec![Mode::None];
        o.connections = 3;
        o.count = 2;
        o
    }

    #[tokio::test]
    async fn the_operation_timeout_ends_a_silent_connection() {
        let (port, server) = silent_server().await;
        let mut o = options(port);
        o.op_timeout = Duration::from_millis(300);
        let start = Instant::now();
        let report = run(&o, &ProgressBar::hidden()).await.unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
        let m = &report.modes[0];
        assert_eq!(m.errors.get("timeout"), Some(&3), "{:?}", m.errors);
        assert_eq!((m.connections, m.operations), (0, 0));
        server.abort();
    }

    #[tokio::test]
    async fn the_duration_caps_the_run() {
        let (port, server) = silent_server().await;
        let mut o = options(port);
        o.duration = Duration::from_millis(400);
        let start = Instant::now();
        let report = run(&o, &ProgressBar::hidden()).await.unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(report.modes[0].errors.get("deadline"), Some(&3));
        server.abort();
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        let free = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let report = run(&options(port), &ProgressBar::hidden()).await.unwrap();
        assert_eq!(report.modes[0].errors.get("connect"), Some(&3));
        assert_eq!(report.error_count(), 3);
    }

    /// A server that refuses service in its greeting (RFC 5321 §3.1), reads until the
    /// client's end of stream, then sends `tail` and closes; reports the octets it read.
    async fn refusing_server(tail: &'static [u8]) -> (u16, tokio::task::JoinHandle<usize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"554 go away\r\n").await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            let _ = s.write_all(tail).await;
            got.len()
        });
        (port, task)
    }

    #[tokio::test]
    async fn a_failed_session_is_drained_to_the_end() {
        const TAIL: &[u8] = b"421 and this after your end of stream\r\n";
        let (port, server) = refusing_server(TAIL).await;
        let mut o = options(port);
        o.connections = 1;
        let start = Instant::now();
        let report = run(&o, &ProgressBar::hidden()).await.unwrap();
        let m = &report.modes[0];
        assert_eq!(m.error_count(), 1, "{:?}", m.errors);
        // Our end of stream let the server finish at once, not at the drain's time limit.
        assert!(start.elapsed() < DRAIN_LIMIT, "{:?}", start.elapsed());
        // Every octet the server sent was read and counted, the tail too.
        assert_eq!(
            m.bytes_to_client,
            (b"554 go away\r\n".len() + TAIL.len()) as u64
        );
        assert_eq!(m.bytes_to_server, server.await.unwrap() as u64);
    }

    #[tokio::test]
    async fn the_drain_of_a_failed_session_is_bounded_in_octets() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        const FLOOD: usize = 4 * 1024 * 1024;
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let _ = s.write_all(b"554 go away\r\n").await;
            let junk = vec![b'x'; 64 * 1024];
            let mut sent = 0;
            while sent < FLOOD && s.write_all(&junk).await.is_ok() {
                sent += junk.len();
            }
        });
        let mut o = options(port);
        o.connections = 1;
        let report = run(&o, &ProgressBar::hidden()).await.unwrap();
        let m = &report.modes[0];
        assert_eq!(m.error_count(), 1, "{:?}", m.errors);
        // The drain read its cap (the server had more), on top of what the session read
        // before it failed (a bounded line buffer's worth).
        assert!(
            m.bytes_to_client >= DRAIN_MAX_BYTES,
            "{}",
            m.bytes_to_client
        );
        assert!(
            m.bytes_to_client <= DRAIN_MAX_BYTES + 256 * 1024,
            "{}",
            m.bytes_to_client
        );
        server.abort();
    }

    #[test]
    fn bounds_and_combinations_are_checked() {
        let ok = LoadOptions::new(Protocol::Smtp, "127.0.0.1");
        let mut o = ok.clone();
        o.modes = vec![Mode::None];
        assert!(o.validate().is_ok());
        for (connections, count) in [(0, 1), (MAX_CONNECTIONS + 1, 1), (1, 0), (1, MAX_COUNT + 1)] {
            let mut bad = o.clone();
            bad.connections = connections;
            bad.count = count;
            assert!(matches!(bad.validate(), Err(LoadError::Invalid(_))));
        }
        // TLS modes need a TLS configuration.
        assert!(matches!(
            ok.validate(),
            Err(LoadError::NoTlsConfig(Mode::Starttls))
        ));
        // IMAP needs credentials, and in mode none the explicit cleartext opt-in.
        let mut imap = LoadOptions::new(Protocol::Imap, "127.0.0.1");
        imap.modes = vec![Mode::None];
        assert!(imap.validate().is_err());
        imap.login = Some(Login {
            user: "u".into(),
            password: "p".to_owned().into(),
        });
        assert!(imap.validate().is_err());
        imap.allow_cleartext_credentials = true;
        assert!(imap.validate().is_ok());
        // Ports: defaults per protocol and mode, overrides, IPv6 literals.
        assert_eq!(ok.address(Mode::Implicit), "127.0.0.1:465");
        assert_eq!(imap.address(Mode::Starttls), "127.0.0.1:143");
        let v6 = LoadOptions::new(Protocol::Pop3, "::1").with_port(Mode::Implicit, 1995);
        assert_eq!(v6.address(Mode::Implicit), "[::1]:1995");
        assert_eq!(v6.address(Mode::None), "[::1]:110");
    }
}
