//! A tokio accept loop that runs one server [`Machine`] per connection.
//!
//! [`Listener::serve`] accepts connections, builds a machine and a [`SessionHandler`] for each
//! with a closure, and drives the machine with [`mailsec_tls::Driver`] in its own task:
//!
//! - [`ConnectionTls`] says how connections start: in clear with no TLS at all, in clear with
//!   STARTTLS available (the driver upgrades when the machine emits `Output::StartTls`), or
//!   with TLS from the first byte (implicit TLS, ports 465/993/995; RFC 8314).
//! - Every event of the machine goes to [`SessionHandler::on_event`] together with
//!   `&mut M`, so the handler answers through the machine's intent methods (accept a
//!   recipient, a message, an AUTH…); the driver carries the answers out.
//! - At most [`ListenerOptions::max_connections`] sessions run at once; further connections
//!   wait in the kernel's accept backlog until a session ends.
//! - Shutdown is graceful: when the [`CancellationToken`] fires the listener stops accepting,
//!   every session's handler gets [`SessionHandler::on_shutdown`] (to say goodbye through the
//!   machine, e.g. SMTP `421`), and sessions still running after
//!   [`ListenerOptions::shutdown_grace`] are dropped. `serve` returns when all are gone.
//!
//! Plugging in a machine (here the toy one; SMTP and POP3 machines plug in the same way):
//!
//! ```no_run
//! # async fn example(tls: mailsec_tls::ServerTlsConfig) -> std::io::Result<()> {
//! use std::time::Instant;
//! use mailsec_examples::listener::{ConnectionInfo, ConnectionTls, Listener, ListenerOptions};
//! use mailsec_tls::ServerPolicy;
//! use mailsec_tls::testing::toy::{ToyEvent, ToyServer};
//! use tokio_util::sync::CancellationToken;
//!
//! let listener = Listener::bind(
//!     "127.0.0.1:2143".parse().unwrap(),
//!     ConnectionTls::StartTls(tls),
//!     ListenerOptions::new("toy"),
//! )
//! .await?;
//! let shutdown = CancellationToken::new();
//! let report = listener
//!     .serve(
//!         |conn: &ConnectionInfo| {
//!             let mut machine = ToyServer::new(ServerPolicy::starttls_required());
//!             machine.start_clock(Instant::now());
//!             // The handler: a closure over (machine, event, connection), or any
//!             // type implementing SessionHandler.
//!             let handler = |_m: &mut ToyServer, event: ToyEvent, conn: &ConnectionInfo| {
//!                 eprintln!("[{} #{}] {event:?}", conn.listener, conn.id);
//!             };
//!             (machine, handler)
//!         },
//!         shutdown.clone(),
//!     )
//!     .await;
//! eprintln!("served {} connections", report.accepted);
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mailsec_tls::driver::{Driver, DriverError, TokioTimer};
use mailsec_tls::{Machine, ServerTlsConfig, TlsError, TlsInfo, TlsSetup};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::compat::TokioAsyncReadCompatExt;
use tokio_util::sync::CancellationToken;

/// How a listener's connections start.
#[derive(Clone, Debug)]
pub enum ConnectionTls {
    /// No TLS at all (a machine asking for STARTTLS fails with
    /// [`DriverError::NoTlsConfig`]). Only for tests and demonstrations.
    None,
    /// In clear; STARTTLS/STLS upgrades with this configuration when the machine asks.
    StartTls(ServerTlsConfig),
    /// TLS from the first byte with this configuration; the machine learns of it through
    /// `handle_tls_established` and greets then.
    Implicit(ServerTlsConfig),
}

/// Settings of one listener.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ListenerOptions {
    /// A name for logs (`smtp-mx`, `pop3s`, …), passed to handlers in [`ConnectionInfo`].
    pub name: Arc<str>,
    /// Sessions running at once (default 100).
    pub max_connections: usize,
    /// How long sessions may take to finish after shutdown began (default 10 s).
    pub shutdown_grace: Duration,
    /// The driver's bound on bytes waiting for a slow peer (default
    /// [`mailsec_tls::driver::DEFAULT_MAX_PENDING_WIRE`]).
    pub max_pending_wire: usize,
    /// How long a closing session may spend flushing its last bytes (default 10 s).
    pub close_timeout: Duration,
    /// Implicit TLS: how long the handshake may take before the connection is dropped
    /// (default 30 s), so that a client that connects and sends nothing does not hold a slot
    /// until the machine's own idle timer (if it started one) fires.
    pub tls_handshake_timeout: Duration,
}

impl ListenerOptions {
    /// Defaults, with a name.
    pub fn new(name: &str) -> Self {
        ListenerOptions {
            name: name.into(),
            max_connections: 100,
            shutdown_grace: Duration::from_secs(10),
            max_pending_wire: mailsec_tls::driver::DEFAULT_MAX_PENDING_WIRE,
            close_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(30),
        }
    }

    /// Sets [`ListenerOptions::max_connections`] (at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets [`ListenerOptions::tls_handshake_timeout`].
    pub fn tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.tls_handshake_timeout = timeout;
        self
    }

    /// Sets [`ListenerOptions::shutdown_grace`].
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }
}

/// What a handler knows about its connection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The listener's name ([`ListenerOptions::name`]).
    pub listener: Arc<str>,
    /// A number for this connection, unique within the listener, from 1.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// The address the client connected to.
    pub local: SocketAddr,
    /// Whether TLS was established (handshake done, certificate served). Up to date at every
    /// event; stays `true` once set, also in [`SessionHandler::on_end`].
    pub secure: bool,
    /// The TLS session, once established.
    pub tls: Option<TlsInfo>,
}

/// How a session ended, for [`SessionHandler::on_end`].
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionEnd<E: std::error::Error + 'static> {
    /// In order: the machine closed, or the peer left and the machine had nothing to add.
    Closed,
    /// The machine, TLS or the socket failed.
    Failed(DriverError<E>),
    /// TLS could not be set up for an implicit-TLS connection.
    TlsSetup(TlsError),
    /// Still running when the shutdown grace period ended; the connection was dropped.
    Aborted,
    /// Implicit TLS: the handshake did not complete within
    /// [`ListenerOptions::tls_handshake_timeout`]; the connection was dropped.
    HandshakeTimeout,
}

/// The application side of one session: answers the machine's events.
///
/// Any `FnMut(&mut M, M::Event, &ConnectionInfo) + Send + 'static` closure is a handler that
/// ignores shutdown and the end of the session.
///
/// Handlers run inside the session's task: keep them short (a maildir write is fine; use
/// `tokio::task::block_in_place` or a channel for anything that may block for long).
pub trait SessionHandler<M: Machine>: Send + 'static {
    /// An event of the machine. Answer it through `machine`'s intent methods; the driver sends
    /// whatever they queue before it reads further.
    fn on_event(&mut self, machine: &mut M, event: M::Event, conn: &ConnectionInfo);

    /// Shutdown began: the session has [`ListenerOptions::shutdown_grace`] to end. Use it to
    /// have the machine say goodbye and close (SMTP `421`, IMAP `BYE`). Default: nothing, so
    /// the session runs until it ends or the grace period is over.
    fn on_shutdown(&mut self, machine: &mut M, conn: &ConnectionInfo) {
        let _ = (machine, conn);
    }

    /// The session ended (called exactly once, also after `on_shutdown`). Default: nothing.
    fn on_end(&mut self, end: SessionEnd<M::Error>, conn: &ConnectionInfo) {
        let _ = (end, conn);
    }
}

impl<M, F> SessionHandler<M> for F
where
    M: Machine,
    F: FnMut(&mut M, M::Event, &ConnectionInfo) + Send + 'static,
{
    fn on_event(&mut self, machine: &mut M, event: M::Event, conn: &ConnectionInfo) {
        self(machine, event, conn)
    }
}

/// What [`Listener::serve`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeReport {
    /// Connections accepted.
    pub accepted: u64,
    /// Sessions dropped at the end of the shutdown grace period.
    pub aborted: u64,
    /// Session tasks that panicked.
    pub panicked: u64,
}

/// A bound listening socket and how its connections start.
#[derive(Debug)]
pub struct Listener {
    tcp: TcpListener,
    tls: ConnectionTls,
    options: ListenerOptions,
}

impl Listener {
    /// Binds `addr`.
    pub async fn bind(
        addr: SocketAddr,
        tls: ConnectionTls,
        options: ListenerOptions,
    ) -> io::Result<Listener> {
        let tcp = TcpListener::bind(addr).await?;
        Ok(Listener::from_tcp(tcp, tls, options))
    }

    /// Wraps a socket the caller bound.
    pub fn from_tcp(tcp: TcpListener, tls: ConnectionTls, options: ListenerOptions) -> Listener {
        Listener { tcp, tls, options }
    }

    /// The bound address (to learn the port after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// The options.
    pub fn options(&self) -> &ListenerOptions {
        &self.options
    }

    /// Accepts connections until `shutdown` fires, then lets the running sessions end (see the
    /// [module docs](self)) and returns. `make_session` builds the machine and handler of each
    /// connection; it runs in the accept loop, so it must be quick.
    pub async fn serve<M, H, F>(
        self,
        mut make_session: F,
        shutdown: CancellationToken,
    ) -> ServeReport
    where
        M: Machine + Send + 'static,
        M::Event: Send,
        H: SessionHandler<M>,
        F: FnMut(&ConnectionInfo) -> (M, H),
    {
        let Listener { tcp, tls, options } = self;
        let options = Arc::new(options);
        let slots = Arc::new(Semaphore::new(options.max_connections));
        let mut tasks: JoinSet<bool> = JoinSet::new();
        let mut report = ServeReport::default();
        let mut next_id = 0u64;
        loop {
            let permit = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            let accepted = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                accepted = tcp.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(_) => {
                    // Out of file descriptors, a connection reset before accept, …: pause
                    // briefly instead of spinning, then go on.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            while let Some(done) = tasks.try_join_next() {
                tally(&mut report, done);
            }
            next_id += 1;
            report.accepted += 1;
            let local = stream.local_addr().unwrap_or(peer);
            let info = ConnectionInfo {
                listener: options.name.clone(),
                id: next_id,
                peer,
                local,
                secure: false,
                tls: None,
            };
            let (machine, handler) = make_session(&info);
            let session = run_session(
                stream,
                tls.clone(),
                info,
                machine,
                handler,
                shutdown.clone(),
                options.clone(),
            );
            tasks.spawn(async move {
                let _permit = permit;
                session.await
            });
        }
        // Stop listening before waiting for the sessions.
        drop(tcp);
        while let Some(done) = tasks.join_next().await {
            tally(&mut report, done);
        }
        report
    }
}

fn tally(report: &mut ServeReport, done: Result<bool, tokio::task::JoinError>) {
    match done {
        Ok(true) => report.aborted += 1,
        Ok(false) => {}
        Err(_) => report.panicked += 1,
    }
}

/// Why a session's task woke up.
enum Wake<E: std::error::Error + 'static, Ev> {
    HandshakeDeadline,
    Shutdown,
    Step(Result<Option<Ev>, DriverError<E>>),
}

/// Drives one session to its end; returns whether it was aborted at the end of the grace.
async fn run_session<M, H>(
    stream: TcpStream,
    tls: ConnectionTls,
    mut info: ConnectionInfo,
    machine: M,
    mut handler: H,
    shutdown: CancellationToken,
    options: Arc<ListenerOptions>,
) -> bool
where
    M: Machine + Send + 'static,
    M::Event: Send,
    H: SessionHandler<M>,
{
    let _ = stream.set_nodelay(true);
    let stream = stream.compat();
    let implicit = matches!(tls, ConnectionTls::Implicit(_));
    let mut driver = match tls {
        ConnectionTls::None => Driver::new(machine, stream, TokioTimer, None),
        ConnectionTls::StartTls(config) => {
            Driver::new(machine, stream, TokioTimer, Some(TlsSetup::Server(config)))
        }
        ConnectionTls::Implicit(config) => {
            match Driver::implicit_tls(machine, stream, TokioTimer, TlsSetup::Server(config)) {
                Ok(driver) => driver,
                Err(err) => {
                    handler.on_end(SessionEnd::TlsSetup(err), &info);
                    return false;
                }
            }
        }
    };
    driver.set_max_pending_wire(options.max_pending_wire);
    driver.set_close_timeout(options.close_timeout);
    let mut grace_deadline: Option<Instant> = None;
    let mut handshake_deadline = implicit.then(|| Instant::now() + options.tls_handshake_timeout);
    let end = loop {
        let sleep = |deadline: Option<Instant>| async move {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        let wake = tokio::select! {
            biased;
            _ = sleep(grace_deadline) => break SessionEnd::Aborted,
            _ = sleep(handshake_deadline) => Wake::HandshakeDeadline,
            _ = shutdown.cancelled(), if grace_deadline.is_none() => Wake::Shutdown,
            step = driver.next_event() => Wake::Step(step),
        };
        match wake {
            Wake::HandshakeDeadline if driver.is_secure() => handshake_deadline = None,
            Wake::HandshakeDeadline => break SessionEnd::HandshakeTimeout,
            Wake::Shutdown => {
                grace_deadline = Some(Instant::now() + options.shutdown_grace);
                refresh(&mut info, &driver);
                handler.on_shutdown(driver.machine_mut(), &info);
            }
            Wake::Step(Ok(Some(event))) => {
                refresh(&mut info, &driver);
                if info.secure {
                    handshake_deadline = None;
                }
                handler.on_event(driver.machine_mut(), event, &info);
            }
            Wake::Step(Ok(None)) => break SessionEnd::Closed,
            Wake::Step(Err(err)) => break SessionEnd::Failed(err),
        }
    };
    refresh(&mut info, &driver);
    let aborted = matches!(end, SessionEnd::Aborted);
    handler.on_end(end, &info);
    aborted
}

fn refresh<M, S, T>(info: &mut ConnectionInfo, driver: &Driver<M, S, T>)
where
    M: Machine,
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
    T: mailsec_tls::driver::Timer,
{
    // Once established, TLS stays the session's record, also after the close.
    info.secure |= driver.is_secure();
    if info.secure && info.tls.is_none() {
        info.tls = driver.tls_info();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Instant;

    use mailsec_tls::testing::TestPki;
    use mailsec_tls::testing::toy::{ToyClient, ToyEvent, ToyServer};
    use mailsec_tls::{ClientTls, ServerPolicy};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// What the server side's handlers saw: (connection id, event, secure at that event).
    type Seen = Arc<Mutex<Vec<(u64, String, bool)>>>;

    struct Recorder {
        seen: Seen,
    }

    impl SessionHandler<ToyServer> for Recorder {
        fn on_event(&mut self, _m: &mut ToyServer, event: ToyEvent, conn: &ConnectionInfo) {
            self.seen
                .lock()
                .unwrap()
                .push((conn.id, format!("{event:?}"), conn.secure));
        }
        fn on_shutdown(&mut self, _m: &mut ToyServer, conn: &ConnectionInfo) {
            self.seen
                .lock()
                .unwrap()
                .push((conn.id, "shutdown".into(), conn.secure));
        }
        fn on_end(
            &mut self,
            end: SessionEnd<mailsec_tls::testing::toy::ToyError>,
            conn: &ConnectionInfo,
        ) {
            let what = match end {
                SessionEnd::Closed => "end:closed".to_owned(),
                SessionEnd::Aborted => "end:aborted".to_owned(),
                SessionEnd::HandshakeTimeout => "end:handshake-timeout".to_owned(),
                SessionEnd::Failed(e) => format!("end:failed:{e}"),
                SessionEnd::TlsSetup(e) => format!("end:tls:{e}"),
            };
            self.seen.lock().unwrap().push((conn.id, what, conn.secure));
        }
    }

    struct Server {
        addr: SocketAddr,
        seen: Seen,
        shutdown: CancellationToken,
        task: tokio::task::JoinHandle<ServeReport>,
    }

    async fn start(tls: ConnectionTls, policy: ServerPolicy, options: ListenerOptions) -> Server {
        let listener = Listener::bind("127.0.0.1:0".parse().unwrap(), tls, options)
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Seen::default();
        let shutdown = CancellationToken::new();
        let recorder_seen = seen.clone();
        let task = tokio::spawn(listener.serve(
            move |_conn: &ConnectionInfo| {
                let mut machine = ToyServer::new(policy);
                machine.start_clock(Instant::now());
                (
                    machine,
                    Recorder {
                        seen: recorder_seen.clone(),
                    },
                )
            },
            shutdown.clone(),
        ));
        Server {
            addr,
            seen,
            shutdown,
            task,
        }
    }

    /// A toy client session: log in, quit; returns the client's events.
    async fn client(addr: SocketAddr, policy: ClientTls, pki: &TestPki) -> Vec<ToyEvent> {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap().compat();
        let machine = ToyClient::new(policy);
        let mut driver = if policy == ClientTls::Implicit {
            Driver::implicit_tls(machine, stream, TokioTimer, pki.client_setup()).unwrap()
        } else {
            Driver::new(machine, stream, TokioTimer, Some(pki.client_setup()))
        };
        let mut events = Vec::new();
        while let Some(event) = driver.next_event().await.unwrap() {
            match &event {
                ToyEvent::Ready => driver.machine_mut().send_line("LOGIN alice secret"),
                ToyEvent::Line(l) if l.starts_with("OK welcome") => {
                    driver.machine_mut().send_line("QUIT");
                }
                _ => {}
            }
            events.push(event);
        }
        events
    }

    fn events_of(seen: &Seen) -> Vec<(u64, String, bool)> {
        seen.lock().unwrap().clone()
    }

    async fn stop(server: Server) -> ServeReport {
        server.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), server.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
    }

    fn logged_in() -> String {
        format!(
            "{:?}",
            ToyEvent::LoggedIn {
                user: "alice".into()
            }
        )
    }

    #[tokio::test]
    async fn plaintext_sessions() {
        let pki = TestPki::new("mail.example.test");
        let server = start(
            ConnectionTls::None,
            ServerPolicy::insecure_plaintext(),
            ListenerOptions::new("plain"),
        )
        .await;
        for _ in 0..2 {
            let events = client(server.addr, ClientTls::InsecurePlaintext, &pki).await;
            assert!(events.contains(&ToyEvent::Closed), "{events:?}");
            assert!(!events.contains(&ToyEvent::Secured));
        }
        let seen = server.seen.clone();
        let report = stop(server).await;
        assert_eq!(report.accepted, 2);
        assert_eq!(report.aborted, 0);
        let seen = events_of(&seen);
        for id in [1, 2] {
            let mine: Vec<_> = seen
                .iter()
                .filter(|(i, ..)| *i == id)
                .map(|(_, e, s)| (e.clone(), *s))
                .collect();
            assert_eq!(
                mine,
                [
                    (logged_in(), false),
                    ("Closed".to_owned(), false),
                    ("end:closed".to_owned(), false)
                ]
            );
        }
    }

    #[tokio::test]
    async fn starttls_sessions() {
        let pki = TestPki::new("mail.example.test");
        let server = start(
            ConnectionTls::StartTls(pki.server_config()),
            ServerPolicy::starttls_required(),
            ListenerOptions::new("starttls"),
        )
        .await;
        let events = client(server.addr, ClientTls::StartTlsRequired, &pki).await;
        assert_eq!(events.first(), Some(&ToyEvent::Secured));
        assert!(events.contains(&ToyEvent::Closed));
        let seen = server.seen.clone();
        stop(server).await;
        let got: Vec<_> = events_of(&seen)
            .into_iter()
            .map(|(_, e, s)| (e, s))
            .collect();
        assert_eq!(
            got,
            [
                ("Secured".to_owned(), true),
                (logged_in(), true),
                ("Closed".to_owned(), true),
                ("end:closed".to_owned(), true)
            ]
        );
    }

    #[tokio::test]
    async fn implicit_tls_sessions() {
        let pki = TestPki::new("mail.example.test");
        let server = start(
            ConnectionTls::Implicit(pki.server_config()),
            ServerPolicy::implicit_tls(),
            ListenerOptions::new("implicit"),
        )
        .await;
        let events = client(server.addr, ClientTls::Implicit, &pki).await;
        assert_eq!(events.first(), Some(&ToyEvent::Secured));
        assert!(events.contains(&ToyEvent::Closed));
        // A client that speaks plaintext to the implicit port gets nothing it can use.
        let mut raw = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        raw.write_all(b"CAPA\r\n").await.unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut buf)).await;
        assert!(
            !buf.windows(4).any(|w| w == b"* OK"),
            "no greeting in clear"
        );
        let seen = server.seen.clone();
        stop(server).await;
        let seen = events_of(&seen);
        let first: Vec<_> = seen
            .iter()
            .filter(|(i, ..)| *i == 1)
            .map(|(_, e, s)| (e.clone(), *s))
            .collect();
        assert_eq!(first[0], ("Secured".to_owned(), true));
        assert_eq!(first[1], (logged_in(), true));
        assert!(
            seen.iter()
                .any(|(i, e, _)| *i == 2 && e.starts_with("end:failed:TLS")),
            "{seen:?}"
        );
    }

    /// Reads until `needle` shows up or `wait` passes.
    async fn read_until(stream: &mut tokio::net::TcpStream, needle: &[u8], wait: Duration) -> bool {
        let mut buf = Vec::new();
        let found = tokio::time::timeout(wait, async {
            let mut chunk = [0u8; 256];
            loop {
                let n = stream.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    return false;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.windows(needle.len()).any(|w| w == needle) {
                    return true;
                }
            }
        })
        .await;
        found.unwrap_or(false)
    }

    #[tokio::test]
    async fn connection_limit_holds_extra_connections_back() {
        let server = start(
            ConnectionTls::None,
            ServerPolicy::insecure_plaintext(),
            ListenerOptions::new("limited").max_connections(1),
        )
        .await;
        let mut first = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        assert!(read_until(&mut first, b"* OK toy ready", Duration::from_secs(5)).await);
        let mut second = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        assert!(
            !read_until(&mut second, b"* OK", Duration::from_millis(300)).await,
            "the second session must wait for a free slot"
        );
        first.write_all(b"QUIT\r\n").await.unwrap();
        assert!(read_until(&mut first, b"BYE", Duration::from_secs(5)).await);
        assert!(
            read_until(&mut second, b"* OK toy ready", Duration::from_secs(5)).await,
            "greeted once the first session ended"
        );
        second.write_all(b"QUIT\r\n").await.unwrap();
        assert!(read_until(&mut second, b"BYE", Duration::from_secs(5)).await);
        assert_eq!(stop(server).await.accepted, 2);
    }

    #[tokio::test]
    async fn shutdown_stops_accepting_and_drops_sessions_after_the_grace() {
        let server = start(
            ConnectionTls::None,
            ServerPolicy::insecure_plaintext(),
            ListenerOptions::new("shutdown").shutdown_grace(Duration::from_millis(200)),
        )
        .await;
        let addr = server.addr;
        let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(read_until(&mut idle, b"* OK toy ready", Duration::from_secs(5)).await);
        let seen = server.seen.clone();
        let started = Instant::now();
        let report = stop(server).await;
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(report.accepted, 1);
        assert_eq!(report.aborted, 1);
        let got: Vec<_> = events_of(&seen).into_iter().map(|(_, e, _)| e).collect();
        assert_eq!(got, ["shutdown", "end:aborted"]);
        // The idle client sees the connection end, and nobody listens any more.
        let mut rest = Vec::new();
        // EOF or a reset, but within the time: the session is gone.
        let _ = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut rest))
            .await
            .expect("connection dropped");
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn implicit_tls_handshake_must_finish_in_time() {
        let pki = TestPki::new("mail.example.test");
        let server = start(
            ConnectionTls::Implicit(pki.server_config()),
            ServerPolicy::implicit_tls(),
            ListenerOptions::new("slow")
                .tls_handshake_timeout(Duration::from_millis(300))
                .max_connections(1),
        )
        .await;
        // Connects and never says anything: dropped at the deadline, slot freed.
        let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut rest))
            .await
            .expect("dropped after the handshake timeout")
            .unwrap();
        assert!(rest.is_empty());
        // A real client still gets through afterwards, and its session outlives the deadline.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let stream = tokio::net::TcpStream::connect(server.addr)
            .await
            .unwrap()
            .compat();
        let mut driver = Driver::implicit_tls(
            ToyClient::new(ClientTls::Implicit),
            stream,
            TokioTimer,
            pki.client_setup(),
        )
        .unwrap();
        while let Some(event) = driver.next_event().await.unwrap() {
            if event == ToyEvent::Ready {
                tokio::time::sleep(Duration::from_millis(500)).await;
                driver.machine_mut().send_line("QUIT");
            }
        }
        let seen = server.seen.clone();
        stop(server).await;
        let got: Vec<_> = events_of(&seen)
            .into_iter()
            .map(|(i, e, _)| (i, e))
            .collect();
        assert_eq!(got[0], (1, "end:handshake-timeout".to_owned()));
        assert!(got.contains(&(2, "end:closed".to_owned())), "{got:?}");
    }

    #[tokio::test]
    async fn shutdown_with_no_sessions_is_immediate() {
        let server = start(
            ConnectionTls::None,
            ServerPolicy::insecure_plaintext(),
            ListenerOptions::new("idle"),
        )
        .await;
        let started = Instant::now();
        let report = stop(server).await;
        assert_eq!(report, ServeReport::default());
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_session_that_finishes_within_the_grace_ends_in_order() {
        let server = start(
            ConnectionTls::None,
            ServerPolicy::insecure_plaintext(),
            ListenerOptions::new("grace").shutdown_grace(Duration::from_secs(5)),
        )
        .await;
        let mut conn = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        assert!(read_until(&mut conn, b"* OK", Duration::from_secs(5)).await);
        let seen = server.seen.clone();
        server.shutdown.cancel();
        // The session is still served during the grace period.
        tokio::time::sleep(Duration::from_millis(100)).await;
        conn.write_all(b"ECHO still here\r\nQUIT\r\n")
            .await
            .unwrap();
        assert!(read_until(&mut conn, b"BYE", Duration::from_secs(5)).await);
        let report = tokio::time::timeout(Duration::from_secs(5), server.task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(report.aborted, 0);
        let got: Vec<_> = events_of(&seen).into_iter().map(|(_, e, _)| e).collect();
        assert_eq!(
            got,
            [
                "shutdown".to_owned(),
                format!("{:?}", ToyEvent::Echoed("still here".into())),
                "Closed".to_owned(),
                "end:closed".to_owned()
            ]
        );
    }

    #[tokio::test]
    async fn closures_are_handlers() {
        let listener = Listener::bind(
            "127.0.0.1:0".parse().unwrap(),
            ConnectionTls::None,
            ListenerOptions::new("closure"),
        )
        .await
        .unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let shutdown = CancellationToken::new();
        let c = count.clone();
        let task = tokio::spawn(listener.serve(
            move |_: &ConnectionInfo| {
                let c = c.clone();
                (
                    ToyServer::new(ServerPolicy::insecure_plaintext()),
                    move |_: &mut ToyServer, _: ToyEvent, _: &ConnectionInfo| {
                        c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    },
                )
            },
            shutdown.clone(),
        ));
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"ECHO a\r\nECHO b\r\nQUIT\r\n")
            .await
            .unwrap();
        assert!(read_until(&mut conn, b"BYE", Duration::from_secs(5)).await);
        drop(conn);
        shutdown.cancel();
        task.await.unwrap();
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
