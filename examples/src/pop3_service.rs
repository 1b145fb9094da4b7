//! POP3 over the example [`Maildir`]: the [`SessionHandler`] that answers a
//! [`Pop3Server`]'s events, and the configuration of the POP3 listeners.
//!
//! - **Credentials** (USER/PASS, AUTH PLAIN, LOGIN, SCRAM-SHA-256) are checked by the
//!   [`Users`] store through [`Authenticator`]. APOP is not offered. The `SASL` capability
//!   lists [`Users::mechanisms`]: SCRAM-SHA-256 only when every user of the file can use it.
//! - **Maildrop**: after login the handler takes the user's lock ([`Maildir::try_lock`];
//!   held by another session → `-ERR [IN-USE]`, RFC 2449 §8.1.1) and lists
//!   `maildir.mailbox(user).list()` once. Message *n* of the session is the *n*-th file of that
//!   listing; its `UIDL` is the maildir unique id and its size the file size (the store keeps
//!   CRLF line endings, so that is the size as transmitted, RFC 1939 §5).
//! - **RETR/TOP** open the file on [`ServerEvent::Retrieve`] and keep it open; every ask
//!   ([`ServerEvent::Retrieve`], then [`ServerEvent::ReadyForMessageData`]) is answered with
//!   one [`CHUNK_SIZE`] read, or [`Pop3Server::end_message`] at end of file. The machine
//!   dot-stuffs and cuts for TOP. The driver hands over the next ask only once the client has
//!   read what came before it, so a session holds about one chunk of a message in memory
//!   (plus the driver's bounded write buffer), whatever the message's size. The reads are
//!   blocking `std::fs` reads inside the session's task: acceptable for an example on a local
//!   disk, but a production server would read on a blocking thread (`spawn_blocking`).
//! - **DELE** takes effect at QUIT only: the UPDATE state deletes the marked files
//!   ([`Mailbox::delete`](crate::maildir::Mailbox::delete)) and answers `+OK` if all went
//!   (a file already gone counts as deleted). A session that ends any other way (connection
//!   lost, timeout, error) deletes nothing (RFC 1939 §6).
//! - The lock is released when the session reports `Closed`, and in any case when it ends
//!   ([`SessionHandler::on_end`]).
//! - **Shutdown** ([`SessionHandler::on_shutdown`]) calls [`Pop3Server::shutdown`]:
//!   `-ERR [SYS/TEMP] Server shutting down` and the end of the session without UPDATE
//!   (nothing deleted); a message being sent is finished first.
//!
//! Wiring a listener (the `mailsec-server` binary does this for `--pop3` and `--pop3s`):
//!
//! ```no_run
//! # async fn example(args: mailsec_examples::server_cli::ServerArgs) -> Result<(), Box<dyn std::error::Error>> {
//! use mailsec_examples::pop3_service::{Pop3Service, pop3_config};
//! use mailsec_examples::server_cli::ListenerKind;
//! use tokio_util::sync::CancellationToken;
//!
//! let tls = args.tls_material()?;
//! let (maildir, users) = (args.open_maildir()?, args.load_users()?);
//! let shutdown = CancellationToken::new();
//! for (kind, listener) in args.bind_listeners(&tls).await? {
//!     if matches!(kind, ListenerKind::Pop3 | ListenerKind::Pop3s) {
//!         let config = pop3_config(kind, args.allow_plaintext_auth, &args.hostname, &users)?;
//!         let service = Pop3Service::new(config, maildir.clone(), users.clone());
//!         tokio::spawn(service.serve(listener, shutdown.clone()));
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fs::File;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use mailsec_pop3::maildrop::MessageInfo;
use mailsec_pop3::server::{ConfigError, MaildropRefusal, Pop3Server, ServerConfig, ServerEvent};
use mailsec_pop3::types::{MessageNumber, UniqueId};
use mailsec_tls::sasl::{Authenticator, CheckAnswer};
use tokio_util::sync::CancellationToken;

use crate::listener::{ConnectionInfo, Listener, ServeReport, SessionEnd, SessionHandler};
use crate::maildir::{MailboxLock, Maildir, MaildirError};
use crate::server_cli::ListenerKind;
use crate::users::Users;

/// How much of a message file is read and handed to the machine at a time.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// Why a POP3 listener could not be configured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Pop3SetupError {
    /// The listener kind is not a POP3 one.
    #[error("{} is not a POP3 listener", .0.name())]
    NotPop3(ListenerKind),
    /// The machine refused the configuration (e.g. a host name unfit for the greeting).
    #[error("POP3 configuration: {0}")]
    Config(#[from] ConfigError),
}

/// The [`ServerConfig`] of a POP3 listener of the server.
///
/// - [`ListenerKind::Pop3`]: STLS offered and required before any credential (RFC 8314 §3.3,
///   RFC 2595 §2.3: USER, PASS, AUTH answer `-ERR [AUTH]` in clear), or, with
///   `allow_plaintext_auth`, no TLS and credentials in clear (for demonstrations; the listener
///   must then be bound with [`ConnectionTls::None`](crate::listener::ConnectionTls::None), as
///   [`ServerArgs::bind_listeners`](crate::server_cli::ServerArgs::bind_listeners) does).
/// - [`ListenerKind::Pop3s`]: implicit TLS (port 995, RFC 8314 §3.3); greeting after the
///   handshake.
///
/// Greeting `<hostname> POP3 ready`, USER/PASS, no APOP, `IMPLEMENTATION mailsec` (listed
/// after login only), the machine's default limits, and for AUTH the SASL mechanisms `users`
/// can serve ([`Users::mechanisms`], in CAPA order, strongest first: SCRAM-SHA-256 only when
/// every user has SCRAM keys, since `CAPA` lists them before anyone logs in, RFC 5034 §3;
/// PLAIN and LOGIN only once TLS is up, unless `allow_plaintext_auth`). Build the
/// configuration from the same [`Users`] the [`Pop3Service`] checks credentials with.
pub fn pop3_config(
    kind: ListenerKind,
    allow_plaintext_auth: bool,
    hostname: &str,
    users: &Users,
) -> Result<Arc<ServerConfig>, Pop3SetupError> {
    if !matches!(kind, ListenerKind::Pop3 | ListenerKind::Pop3s) {
        return Err(Pop3SetupError::NotPop3(kind));
    }
    let config = ServerConfig::builder()
        .policy(kind.policy(allow_plaintext_auth))
        .greeting(format!("{hostname} POP3 ready"))
        .mechanisms(users.mechanisms())
        .user_pass(true)
        .apop(false)
        .implementation("mailsec")
        .build()?;
    Ok(Arc::new(config))
}

/// Serves POP3 from a [`Maildir`] with credentials from [`Users`]: one per listener, cheap
/// to clone.
#[derive(Clone, Debug)]
pub struct Pop3Service {
    config: Arc<ServerConfig>,
    maildir: Arc<Maildir>,
    users: Arc<Users>,
}

impl Pop3Service {
    /// A service with this machine configuration (from [`pop3_config`]).
    pub fn new(config: Arc<ServerConfig>, maildir: Arc<Maildir>, users: Arc<Users>) -> Self {
        Pop3Service {
            config,
            maildir,
            users,
        }
    }

    /// The machine and handler of a new connection, for [`Listener::serve`].
    pub fn session(&self, _conn: &ConnectionInfo) -> (Pop3Server, Pop3Handler) {
        let machine = Pop3Server::new(self.config.clone(), Instant::now());
        let handler = Pop3Handler {
            maildir: self.maildir.clone(),
            users: self.users.clone(),
            session: None,
            sending: None,
        };
        (machine, handler)
    }

    /// Serves `listener` until `shutdown` fires (see [`Listener::serve`] for the graceful
    /// shutdown). The listener's [`ConnectionTls`](crate::listener::ConnectionTls) must match
    /// the configuration's policy: `StartTls` for STLS, `Implicit` for POP3S, `None` for
    /// plaintext.
    pub async fn serve(self, listener: Listener, shutdown: CancellationToken) -> ServeReport {
        listener
            .serve(move |conn: &ConnectionInfo| self.session(conn), shutdown)
            .await
    }
}

/// The open maildrop of a logged-in session.
#[derive(Debug)]
struct OpenDrop {
    /// Held until the session ends.
    _lock: MailboxLock,
    user: String,
    /// Message number − 1 → maildir unique id, fixed for the session.
    ids: Vec<String>,
}

/// Answers one [`Pop3Server`] session's events from the maildir (see the
/// [module documentation](self)). Made by [`Pop3Service::session`].
#[derive(Debug)]
pub struct Pop3Handler {
    maildir: Arc<Maildir>,
    users: Arc<Users>,
    session: Option<OpenDrop>,
    /// The message file being sent (between `Retrieve` and the end of the message).
    sending: Option<Sending>,
}

/// A message being sent, one chunk per ask.
#[derive(Debug)]
struct Sending {
    msg: MessageNumber,
    file: File,
    buf: Vec<u8>,
}

impl Pop3Handler {
    /// Whose maildrop this session holds (locked), once open.
    pub fn user(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.user.as_str())
    }

    fn open(&mut self, machine: &mut Pop3Server, user: &str, conn: &ConnectionInfo) {
        let refusal = match self.try_open(user) {
            Ok(Some(drop)) => {
                let listing = drop.1;
                self.session = Some(drop.0);
                let _ = machine.open_maildrop(Box::new(listing));
                return;
            }
            Ok(None) => MaildropRefusal::InUse,
            Err(MaildirError::InvalidUser) => MaildropRefusal::SysPerm,
            Err(err) => {
                log(conn, &format!("cannot open the maildrop of {user}: {err}"));
                MaildropRefusal::SysTemp
            }
        };
        let _ = machine.refuse_maildrop(refusal);
    }

    /// Locks and lists `user`'s mailbox; `Ok(None)` when another session holds the lock.
    fn try_open(&self, user: &str) -> Result<Option<(OpenDrop, Vec<MessageInfo>)>, MaildirError> {
        let Some(lock) = self.maildir.try_lock(user)? else {
            return Ok(None);
        };
        let mut ids = Vec::new();
        let mut listing = Vec::new();
        for info in self.maildir.mailbox(user)?.list()? {
            // Maildir ids are printable ASCII of at most 70 octets, valid unique-ids; one that
            // is not would be skipped rather than break the listing.
            let Ok(uid) = UniqueId::new(info.id.as_bytes()) else {
                continue;
            };
            listing.push(MessageInfo::new(info.size, uid));
            ids.push(info.id);
        }
        let drop = OpenDrop {
            _lock: lock,
            user: user.to_owned(),
            ids,
        };
        Ok(Some((drop, listing)))
    }

    /// Opens message `msg` (unique id `uid`) and answers the first ask.
    fn retrieve(
        &mut self,
        machine: &mut Pop3Server,
        msg: MessageNumber,
        uid: &UniqueId,
        conn: &ConnectionInfo,
    ) {
        let file = self.session.as_ref().and_then(|s| {
            let id = s.ids.get(msg.get() as usize - 1)?;
            if id.as_bytes() != uid.as_bytes() {
                return None;
            }
            match self
                .maildir
                .mailbox(&s.user)
                .and_then(|m| m.open_message(id))
            {
                Ok(file) => Some(file),
                Err(err) => {
                    log(conn, &format!("message {id}: {err}"));
                    None
                }
            }
        });
        let Some(file) = file else {
            self.sending = None;
            let _ = machine.message_unavailable();
            return;
        };
        self.sending = Some(Sending {
            msg,
            file,
            buf: vec![0u8; CHUNK_SIZE],
        });
        self.send_next(machine, conn);
    }

    /// Answers one ask for the message being sent: one chunk, or the end at end of file.
    fn send_next(&mut self, machine: &mut Pop3Server, conn: &ConnectionInfo) {
        let Some(sending) = self.sending.as_mut() else {
            // An ask without an open file (cannot happen with a well-behaved machine).
            let _ = machine.message_unavailable();
            return;
        };
        loop {
            match sending.file.read(&mut sending.buf) {
                Ok(0) => {
                    self.sending = None;
                    let _ = machine.end_message();
                    return;
                }
                Ok(n) => {
                    if machine.send_message_data(&sending.buf[..n]).is_err() {
                        // The session ended meanwhile.
                        self.sending = None;
                    }
                    return;
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => {
                    log(conn, &format!("reading message {}: {err}", sending.msg));
                    self.sending = None;
                    // Before any data: -ERR [SYS/TEMP]; after some: the session ends.
                    let _ = machine.message_unavailable();
                    return;
                }
            }
        }
    }

    /// The UPDATE state: deletes the marked messages; true if all are gone.
    fn update(&mut self, deleted: &[(MessageNumber, UniqueId)], conn: &ConnectionInfo) -> bool {
        let Some(session) = &self.session else {
            return deleted.is_empty();
        };
        let mailbox = match self.maildir.mailbox(&session.user) {
            Ok(m) => m,
            Err(err) => {
                log(conn, &format!("update: {err}"));
                return false;
            }
        };
        let mut ok = true;
        for (_, uid) in deleted {
            let Ok(id) = std::str::from_utf8(uid.as_bytes()) else {
                ok = false;
                continue;
            };
            match mailbox.delete(id) {
                Ok(()) | Err(MaildirError::NotFound) => {}
                Err(err) => {
                    log(conn, &format!("deleting {id}: {err}"));
                    ok = false;
                }
            }
        }
        ok
    }
}

impl SessionHandler<Pop3Server> for Pop3Handler {
    fn on_event(&mut self, machine: &mut Pop3Server, event: ServerEvent, conn: &ConnectionInfo) {
        match event {
            ServerEvent::CheckCredentials { check, .. } => {
                let answer = self.users.check(&check);
                let _ = machine.answer_credentials(answer);
            }
            // APOP is not enabled in `pop3_config`; refuse if a configuration enables it.
            ServerEvent::CheckApop { .. } => {
                let _ = machine.answer_credentials(CheckAnswer::Reject);
            }
            ServerEvent::OpenMaildrop { identity } => {
                let user = identity.acts_as().to_owned();
                self.open(machine, &user, conn);
            }
            ServerEvent::Retrieve { msg, uid, .. } => self.retrieve(machine, msg, &uid, conn),
            ServerEvent::ReadyForMessageData { .. } => self.send_next(machine, conn),
            ServerEvent::Update { deleted } => {
                let ok = self.update(&deleted, conn);
                // Release the maildrop before answering (RFC 1939 §6).
                self.session = None;
                let _ = machine.update_done(ok);
            }
            ServerEvent::Closed { .. } => {
                self.sending = None;
                self.session = None;
            }
            _ => {}
        }
    }

    fn on_shutdown(&mut self, machine: &mut Pop3Server, _conn: &ConnectionInfo) {
        // A message being sent is finished first; the session then ends, nothing deleted.
        machine.shutdown();
    }

    fn on_end(
        &mut self,
        end: SessionEnd<mailsec_pop3::server::ServerError>,
        conn: &ConnectionInfo,
    ) {
        self.sending = None;
        self.session = None;
        if let SessionEnd::Failed(err) = end {
            log(conn, &format!("session failed: {err}"));
        }
    }
}

fn log(conn: &ConnectionInfo, what: &str) {
    eprintln!("[{} #{} {}] {what}", conn.listener, conn.id, conn.peer);
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailsec_pop3::client::{AuthMethod, Client, ClientConfig, ClientEvent};
    use mailsec_tls::driver::{Driver, TokioTimer};
    use mailsec_tls::sasl::{Credentials, InsecureAuth, Mechanism};
    use mailsec_tls::testing::TestPki;
    use mailsec_tls::{ClientTls, Machine};
    use tokio_util::compat::TokioAsyncReadCompatExt;

    use crate::listener::ConnectionTls;

    const MESSAGE: &[u8] = b"Subject: t\r\n\r\n.dot line\r\nbody\r\n";

    struct Setup {
        dir: std::path::PathBuf,
        maildir: Arc<Maildir>,
        users: Arc<Users>,
    }

    impl Drop for Setup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn setup(name: &str) -> Setup {
        let dir = std::env::temp_dir().join(format!(
            "mailsec-pop3-service-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let maildir = Arc::new(Maildir::open(dir.join("maildir"), "test").unwrap());
        for _ in 0..2 {
            let mut delivery = maildir.deliver("alice").unwrap();
            delivery.write_chunk(MESSAGE).unwrap();
            delivery.commit().unwrap();
        }
        let users = Arc::new(Users::parse("alice:plain:pw-alice\n").unwrap());
        Setup {
            dir,
            maildir,
            users,
        }
    }

    /// Serves one listener; returns its address and the shutdown token.
    async fn serve(
        s: &Setup,
        kind: ListenerKind,
        plaintext: bool,
        tls: ConnectionTls,
    ) -> (std::net::SocketAddr, CancellationToken) {
        let listener = Listener::bind(
            "127.0.0.1:0".parse().unwrap(),
            tls,
            crate::listener::ListenerOptions::new(kind.name()),
        )
        .await
        .unwrap();
        let addr = listener.local_addr().unwrap();
        let config = pop3_config(kind, plaintext, "pop.test", &s.users).unwrap();
        let service = Pop3Service::new(config, s.maildir.clone(), s.users.clone());
        let shutdown = CancellationToken::new();
        tokio::spawn(service.serve(listener, shutdown.clone()));
        (addr, shutdown)
    }

    /// Logs in, RETR 1, DELE 1, QUIT; returns (auth method, message, update acknowledged).
    async fn session<T>(
        driver: &mut Driver<Client, T, TokioTimer>,
    ) -> (Option<AuthMethod>, Vec<u8>, bool)
    where
        T: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
    {
        let now = Instant::now();
        let one = MessageNumber::new(1).unwrap();
        driver.machine_mut().retr(now, one).unwrap();
        driver.machine_mut().dele(now, one).unwrap();
        driver.machine_mut().quit(now).unwrap();
        let (mut auth, mut body, mut acked) = (None, Vec::new(), false);
        while let Some(event) = driver.next_event().await.unwrap() {
            match event {
                ClientEvent::Ready { auth: a, .. } => auth = Some(a),
                ClientEvent::MessageData { data, .. } => body.extend_from_slice(&data),
                ClientEvent::Closed {
                    update_acknowledged,
                } => acked = update_acknowledged,
                _ => {}
            }
        }
        (auth, body, acked)
    }

    #[tokio::test]
    async fn scram_over_stls_retrieves_and_deletes() {
        let s = setup("scram");
        let pki = TestPki::new("localhost");
        let (addr, shutdown) = serve(
            &s,
            ListenerKind::Pop3,
            false,
            ConnectionTls::StartTls(pki.server_config()),
        )
        .await;
        for expected_left in [1, 0] {
            let config = ClientConfig::builder(Credentials::password("alice", "pw-alice"))
                .tls(ClientTls::StartTlsRequired)
                .mechanisms([Mechanism::ScramSha256])
                .build();
            let mut client = Client::new(config);
            client.start_clock(Instant::now());
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap().compat();
            let mut driver = Driver::new(client, stream, TokioTimer, Some(pki.client_setup()));
            let (auth, body, acked) = session(&mut driver).await;
            assert_eq!(auth, Some(AuthMethod::Sasl(Mechanism::ScramSha256)));
            assert_eq!(body, MESSAGE);
            assert!(acked);
            // The lock was released: the next session (and this check) can take it.
            let list = s.maildir.mailbox("alice").unwrap().list().unwrap();
            assert_eq!(list.len(), expected_left);
        }
        shutdown.cancel();
    }

    #[tokio::test]
    async fn plaintext_listener_under_allow_plaintext_auth() {
        let s = setup("plain");
        let (addr, shutdown) = serve(&s, ListenerKind::Pop3, true, ConnectionTls::None).await;
        let config = ClientConfig::builder(Credentials::password("alice", "pw-alice"))
            .tls(ClientTls::InsecurePlaintext)
            .insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls)
            .sasl(false)
            .build();
        let mut client = Client::new(config);
        client.start_clock(Instant::now());
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap().compat();
        let mut driver = Driver::new(client, stream, TokioTimer, None);
        let (auth, body, acked) = session(&mut driver).await;
        assert_eq!(auth, Some(AuthMethod::UserPass));
        assert_eq!(body, MESSAGE);
        assert!(acked);
        assert_eq!(s.maildir.mailbox("alice").unwrap().list().unwrap().len(), 1);
        shutdown.cancel();
    }

    fn conn() -> ConnectionInfo {
        ConnectionInfo {
            listener: "pop3".into(),
            id: 1,
            peer: "127.0.0.1:1".parse().unwrap(),
            local: "127.0.0.1:110".parse().unwrap(),
            secure: false,
            tls: None,
        }
    }

    /// A plaintext session's machine and handler, with everything it said: outputs are
    /// polled and events answered by the handler, as the listener does.
    struct Bare {
        machine: Pop3Server,
        handler: Pop3Handler,
        conn: ConnectionInfo,
        wire: Vec<u8>,
        /// The largest amount of message output between two asks.
        max_between_asks: usize,
        since_ask: usize,
        asks: usize,
        closed: Option<bool>,
    }

    impl Bare {
        fn new(s: &Setup) -> Bare {
            let config = pop3_config(ListenerKind::Pop3, true, "pop.test", &s.users).unwrap();
            let service = Pop3Service::new(config, s.maildir.clone(), s.users.clone());
            let conn = conn();
            let (machine, handler) = service.session(&conn);
            let mut b = Bare {
                machine,
                handler,
                conn,
                wire: Vec::new(),
                max_between_asks: 0,
                since_ask: 0,
                asks: 0,
                closed: None,
            };
            b.drain();
            b
        }

        fn drain(&mut self) {
            while let Some(output) = self.machine.poll_output() {
                match output {
                    mailsec_tls::Output::Transmit(bytes) => {
                        self.wire.extend_from_slice(&bytes);
                        self.since_ask += bytes.len();
                        self.max_between_asks = self.max_between_asks.max(self.since_ask);
                    }
                    mailsec_tls::Output::Event(event) => {
                        if matches!(event, ServerEvent::ReadyForMessageData { .. }) {
                            self.asks += 1;
                            self.since_ask = 0;
                        }
                        if let ServerEvent::Closed { committed } = event {
                            self.closed = Some(committed);
                        }
                        self.handler.on_event(&mut self.machine, event, &self.conn);
                    }
                    _ => {}
                }
            }
        }

        fn feed(&mut self, input: &[u8]) -> String {
            self.wire.clear();
            self.machine.handle_input(Instant::now(), input);
            self.drain();
            String::from_utf8_lossy(&self.wire).into_owned()
        }
    }

    #[test]
    fn retr_pulls_the_file_one_chunk_per_ask() {
        let s = setup("pull");
        // About 3 MiB: many chunks, with lines to stuff.
        let mut big = b"Subject: big\r\n\r\n".to_vec();
        let mut i = 0;
        while big.len() < 3 * 1024 * 1024 {
            big.extend_from_slice(format!(".line {i} of a big message\r\n").as_bytes());
            i += 1;
        }
        let mut delivery = s.maildir.deliver("alice").unwrap();
        for piece in big.chunks(100_000) {
            delivery.write_chunk(piece).unwrap();
        }
        delivery.commit().unwrap();
        let list = s.maildir.mailbox("alice").unwrap().list().unwrap();
        let n = 1 + list
            .iter()
            .position(|m| m.size == big.len() as u64)
            .unwrap();

        let mut b = Bare::new(&s);
        b.feed(b"USER alice\r\nPASS pw-alice\r\n");
        assert_eq!(b.handler.user(), Some("alice"));
        let wire = b.feed(format!("RETR {n}\r\nNOOP\r\n").as_bytes());
        let (status, rest) = wire.split_once("\r\n").unwrap();
        assert_eq!(status, format!("+OK {} octets", big.len()));
        let body = rest.strip_suffix(".\r\n+OK\r\n").unwrap();
        assert_eq!(body.replace("\r\n..", "\r\n.").as_bytes(), big);
        // One chunk per ask, each at most CHUNK_SIZE plus its stuffing (one dot per line).
        assert_eq!(b.asks, big.len().div_ceil(CHUNK_SIZE));
        assert!(
            b.max_between_asks <= CHUNK_SIZE + CHUNK_SIZE / 20 + 64,
            "{}",
            b.max_between_asks
        );
        assert!(
            b.handler.sending.is_none(),
            "the file was closed at the end"
        );
    }

    #[test]
    fn shutdown_answers_sys_temp_and_deletes_nothing() {
        let s = setup("shutdown");
        let mut b = Bare::new(&s);
        b.feed(b"USER alice\r\nPASS pw-alice\r\nDELE 1\r\n");
        b.wire.clear();
        let conn = b.conn.clone();
        b.handler.on_shutdown(&mut b.machine, &conn);
        b.drain();
        assert_eq!(b.wire, b"-ERR [SYS/TEMP] Server shutting down\r\n");
        assert_eq!(b.closed, Some(false));
        // Nothing deleted, and the lock is free again.
        assert_eq!(s.maildir.mailbox("alice").unwrap().list().unwrap().len(), 2);
        assert!(b.handler.user().is_none());
        assert!(s.maildir.try_lock("alice").unwrap().is_some());
    }

    #[tokio::test]
    async fn a_large_message_over_a_socket() {
        let s = setup("large");
        let mut big = Vec::new();
        let mut i = 0;
        big.extend_from_slice(b"Subject: large\r\n\r\n");
        while big.len() < 4 * 1024 * 1024 {
            big.extend_from_slice(format!("line {i}\r\n.dotted\r\n").as_bytes());
            i += 1;
        }
        // Replace the two small messages: the big one is message 1.
        let mailbox = s.maildir.mailbox("alice").unwrap();
        for m in mailbox.list().unwrap() {
            mailbox.delete(&m.id).unwrap();
        }
        let mut delivery = s.maildir.deliver("alice").unwrap();
        delivery.write_chunk(&big).unwrap();
        delivery.commit().unwrap();
        let (addr, shutdown) = serve(&s, ListenerKind::Pop3, true, ConnectionTls::None).await;
        let config = ClientConfig::builder(Credentials::password("alice", "pw-alice"))
            .tls(ClientTls::InsecurePlaintext)
            .insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls)
            .sasl(false)
            .max_message_size(Some(64 * 1024 * 1024))
            .build();
        let mut client = Client::new(config);
        client.start_clock(Instant::now());
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap().compat();
        let mut driver = Driver::new(client, stream, TokioTimer, None);
        let (_, body, acked) = session(&mut driver).await;
        assert!(
            body == big,
            "{} octets received of {}",
            body.len(),
            big.len()
        );
        assert!(acked);
        assert!(
            s.maildir
                .mailbox("alice")
                .unwrap()
                .list()
                .unwrap()
                .is_empty()
        );
        shutdown.cancel();
    }

    #[test]
    fn config_per_listener_kind() {
        let users = Users::parse("alice:plain:pw\n").unwrap();
        let pop3 = pop3_config(ListenerKind::Pop3, false, "h", &users).unwrap();
        assert!(pop3.policy().requires_secure_channel());
        assert_eq!(pop3.mechanisms(), crate::users::MECHANISMS);
        assert!(!pop3.apop());
        let plain = pop3_config(ListenerKind::Pop3, true, "h", &users).unwrap();
        assert!(!plain.policy().requires_secure_channel());
        let pop3s = pop3_config(ListenerKind::Pop3s, true, "h", &users).unwrap();
        assert!(pop3s.policy().requires_secure_channel());
        assert!(matches!(
            pop3_config(ListenerKind::SmtpMx, false, "h", &users),
            Err(Pop3SetupError::NotPop3(ListenerKind::SmtpMx))
        ));
        assert!(matches!(
            pop3_config(ListenerKind::Pop3, false, "bad\r\nhost", &users),
            Err(Pop3SetupError::Config(_))
        ));
    }

    /// An Argon2-only user: SASL lists PLAIN and LOGIN, no SCRAM-SHA-256 (which would fail
    /// for them), and AUTH PLAIN logs in.
    #[test]
    fn argon2_users_are_not_offered_scram() {
        let mut s = setup("argon2");
        let cheap = argon2::Params::new(8, 1, 1, None).unwrap();
        let line = crate::users::hash_password_line_with(
            "alice",
            crate::users::Scheme::Argon2,
            "pw-alice",
            cheap,
            mailsec_tls::sasl::MIN_ITERATIONS,
        )
        .unwrap();
        s.users = Arc::new(Users::parse(&line).unwrap());
        let config = pop3_config(ListenerKind::Pop3, false, "h", &s.users).unwrap();
        assert_eq!(config.mechanisms(), [Mechanism::Plain, Mechanism::Login]);
        let mut b = Bare::new(&s);
        let capa = b.feed(b"CAPA\r\n");
        assert!(capa.contains("\r\nSASL PLAIN LOGIN\r\n"), "{capa}");
        assert!(!capa.contains("SCRAM"), "{capa}");
        // AUTH PLAIN (in clear: Bare runs under --allow-plaintext-auth), "\0alice\0pw-alice".
        let auth = b.feed(b"AUTH PLAIN AGFsaWNlAHB3LWFsaWNl\r\n");
        assert!(auth.starts_with("+OK"), "{auth}");
        assert_eq!(b.handler.user(), Some("alice"));
        // SCRAM asked for anyway is refused as not offered, before any exchange.
        let mut b = Bare::new(&s);
        let scram = b.feed(b"AUTH SCRAM-SHA-256\r\n");
        assert!(scram.starts_with("-ERR"), "{scram}");
    }
}
