//! Reading mail over POP3 with [`mailsec_pop3::client::Client`], driven over tokio by
//! [`mailsec_tls::driver::Driver`]: the library behind the `mailsec-pop3` binary.
//!
//! - [`Session::connect`] (or [`Session::over_stream`] for a stream the caller made, e.g. a
//!   [`Tap`](crate::capture::Tap)) opens the connection, does TLS as [`ConnectOptions::tls`]
//!   says (implicit TLS by default, RFC 8314; STLS per RFC 2595) and logs in. Credentials are
//!   never sent without TLS unless [`ConnectOptions::allow_cleartext_credentials`] is set.
//! - [`Session::list`] sends STAT, LIST and UIDL (pipelined when the server offers it).
//! - [`Session::fetch`] retrieves messages (`RETR`, or `TOP n 0` for headers only) into a
//!   [`Destination`]: a maildir (each message written to `tmp/`, fsynced, renamed into `new/`),
//!   an mbox file (mboxrd: `From_` line, `>From` quoting, LF line endings) or a writer. Message
//!   bodies are streamed chunk by chunk to the destination, never held whole in memory.
//! - "Leave on server" ([`FetchOptions::keep_state`]): the unique-ids already fetched on this
//!   machine live in a state file, one per line; [`LeaveOnServer`] picks the messages not seen
//!   yet, and the file is rewritten (atomically) before QUIT.
//! - [`FetchOptions::delete`]: fetched messages are marked with DELE; the server removes them
//!   only when it acknowledges QUIT (RFC 1939 §6). A connection that ends without QUIT deletes
//!   nothing.
//!
//! Files are written with blocking `std::fs` calls from the async task: fine for a command-line
//! client that runs one session.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures_io::{AsyncRead, AsyncWrite};
use mailsec_pop3::client::{
    AuthMethod, Client, ClientConfig, ClientError, ClientEvent, CommandError, LeaveMode,
    LeaveOnServer, RequestId, UsageError,
};
use mailsec_pop3::{MessageNumber, ScanListing, Stat, UidlListing, UniqueId};
use mailsec_tls::driver::{Driver, DriverError, TokioTimer};
use mailsec_tls::sasl::{Credentials, InsecureAuth};
use mailsec_tls::{ClientTls, ClientTlsConfig, TlsError, TlsSetup};
use time::UtcDateTime;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

/// Where the client's trust in server certificates comes from.
#[derive(Clone, Debug)]
pub enum Trust {
    /// The Mozilla root program (`webpki-roots`), the default.
    WebpkiRoots,
    /// The CA certificates of a PEM file.
    CaFile(PathBuf),
    /// A configuration built by the caller.
    Config(ClientTlsConfig),
}

/// How to reach and log in to the server: used by this POP3 reader and by the IMAP reader
/// ([`crate::imap_mail`]).
#[derive(Clone)]
pub struct ConnectOptions {
    /// `host:port` to connect to.
    pub address: String,
    /// The name the server certificate must carry (RFC 7817: the name the user configured,
    /// never one learned from DNS).
    pub server_name: String,
    /// TLS policy: [`ClientTls::Implicit`] (POP3S port 995, IMAPS 993),
    /// [`ClientTls::StartTlsRequired`] (POP3 STLS on port 110, IMAP STARTTLS on 143), or
    /// [`ClientTls::InsecurePlaintext`].
    pub tls: ClientTls,
    /// Trusted roots.
    pub trust: Trust,
    /// User name.
    pub user: String,
    /// Password.
    pub password: secrecy::SecretString,
    /// Send the password even without TLS (closed test networks only). Off by default: then
    /// with [`ClientTls::InsecurePlaintext`] login fails (the client machines'
    /// `NoUsableAuth`, e.g. [`ClientError::NoUsableAuth`]) before any credential is written.
    pub allow_cleartext_credentials: bool,
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("address", &self.address)
            .field("server_name", &self.server_name)
            .field("tls", &self.tls)
            .field("trust", &self.trust)
            .field("user", &self.user)
            .field(
                "allow_cleartext_credentials",
                &self.allow_cleartext_credentials,
            )
            .finish_non_exhaustive()
    }
}

impl ConnectOptions {
    /// Options with implicit TLS and the webpki roots; `server_name` is the host part of
    /// `address`.
    pub fn new(
        address: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        let address = address.into();
        let server_name = host_of(&address).to_owned();
        ConnectOptions {
            address,
            server_name,
            tls: ClientTls::Implicit,
            trust: Trust::WebpkiRoots,
            user: user.into(),
            password: secrecy::SecretString::from(password.into()),
            allow_cleartext_credentials: false,
        }
    }

    fn client_config(&self) -> ClientConfig {
        use secrecy::ExposeSecret;
        let credentials =
            Credentials::password(self.user.clone(), self.password.expose_secret().to_owned());
        let insecure = if self.allow_cleartext_credentials {
            InsecureAuth::AllowPlaintextMechanismsWithoutTls
        } else {
            InsecureAuth::Refuse
        };
        ClientConfig::builder(credentials)
            .tls(self.tls)
            .insecure_auth(insecure)
            .build()
    }

    /// The TLS set-up these options ask for (`None` for [`ClientTls::InsecurePlaintext`]):
    /// the trust anchors of [`ConnectOptions::trust`] and the name to verify. Shared by the
    /// POP3 and IMAP readers.
    pub fn tls_setup(&self) -> Result<Option<TlsSetup>, TlsError> {
        if self.tls == ClientTls::InsecurePlaintext {
            return Ok(None);
        }
        let provider = Arc::new(mailsec_tls::rustls::crypto::ring::default_provider());
        let config = match &self.trust {
            Trust::Config(config) => config.clone(),
            Trust::WebpkiRoots => ClientTlsConfig::builder()
                .webpki_roots()
                .provider(provider)
                .build()?,
            Trust::CaFile(path) => ClientTlsConfig::builder()
                .add_ca_file(path)?
                .provider(provider)
                .build()?,
        };
        Ok(Some(TlsSetup::Client {
            config,
            server_name: self.server_name.clone(),
        }))
    }
}

/// The host part of `host:port` (`[v6]:port` too).
pub fn host_of(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match address.rsplit_once(':') {
        Some((host, _)) => host,
        None => address,
    }
}

/// Why a POP3 session or a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The TCP connection could not be made.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The TLS configuration could not be built (CA file, server name).
    #[error("TLS configuration: {0}")]
    TlsConfig(#[source] TlsError),
    /// TLS failed on the connection (handshake, certificate, record).
    #[error("TLS: {0}")]
    Tls(#[source] TlsError),
    /// The POP3 session failed: the client machine's typed error (no STLS offered, refusing to
    /// send credentials in clear, authentication failed, …).
    #[error("POP3: {0}")]
    Protocol(#[source] ClientError),
    /// The socket failed.
    #[error("I/O: {0}")]
    Io(#[source] io::Error),
    /// The connection ended before the answer we waited for.
    #[error("the connection closed unexpectedly")]
    Closed,
    /// The server answered `-ERR` to a command we needed.
    #[error("server refused {:?}: {}", .0.request, .0.text)]
    Command(CommandError),
    /// An intent was refused by the client machine.
    #[error("client: {0}")]
    Usage(#[from] UsageError),
    /// A message exceeded the configured size limit.
    #[error("message {msg} larger than {limit} octets")]
    MessageTooLarge {
        /// The message number.
        msg: u32,
        /// The limit.
        limit: u64,
    },
    /// The server does not list unique-ids (UIDL), which leave-on-server needs.
    #[error("the server does not support UIDL; leave-on-server state cannot be kept")]
    NoUidl,
    /// A local file (maildir, mbox, state file) could not be read or written.
    #[error("{}: {source}", path.display())]
    Local {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl From<DriverError<ClientError>> for FetchError {
    fn from(err: DriverError<ClientError>) -> Self {
        match err {
            DriverError::Machine(e) => FetchError::Protocol(e),
            DriverError::Tls(e) => FetchError::Tls(e),
            DriverError::Io(e) => FetchError::Io(e),
            // NoTlsConfig cannot happen: a TLS setup is given whenever the policy uses TLS.
            other => FetchError::Io(io::Error::other(other.to_string())),
        }
    }
}

fn local(path: &Path) -> impl FnOnce(io::Error) -> FetchError + '_ {
    move |source| FetchError::Local {
        path: path.to_owned(),
        source,
    }
}

/// What the login established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginInfo {
    /// TLS with a verified certificate.
    pub secure: bool,
    /// The TLS version and cipher suite, if TLS is up.
    pub tls: Option<String>,
    /// How the client authenticated.
    pub auth: AuthMethod,
}

/// One message of the maildrop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageSummary {
    /// Its number in this session.
    pub msg: MessageNumber,
    /// Its size in octets as the server counts it (CRLF line endings).
    pub size: u64,
    /// Its unique-id, if the server supports UIDL.
    pub uid: Option<String>,
}

/// The answer to STAT, LIST and UIDL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// STAT: count and total size.
    pub stat: Stat,
    /// Every message, in the server's order.
    pub messages: Vec<MessageSummary>,
    /// The raw UIDL listing (`None` if the server refused UIDL).
    pub uidl: Option<Vec<UidlListing>>,
}

/// Where fetched messages go.
pub enum Destination<'a> {
    /// A maildir (`tmp/`, `new/`, `cur/` created if missing).
    Maildir(PathBuf),
    /// An mbox file, appended to (created if missing).
    Mbox(PathBuf),
    /// A writer (e.g. a terminal): bytes other than printable ASCII, CR, LF and TAB are written
    /// as `?`, so a message cannot send escape sequences to the terminal.
    Writer(&'a mut dyn Write),
}

impl fmt::Debug for Destination<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Maildir(p) => f.debug_tuple("Maildir").field(p).finish(),
            Destination::Mbox(p) => f.debug_tuple("Mbox").field(p).finish(),
            Destination::Writer(_) => f.write_str("Writer"),
        }
    }
}

/// What [`Session::fetch`] does.
#[derive(Clone, Debug, Default)]
pub struct FetchOptions {
    /// Only the header block (`TOP n 0`). State and deletion are ignored in this mode.
    pub headers_only: bool,
    /// Leave-on-server state file: unique-ids already fetched, one per line. Only messages
    /// whose unique-id is not in it are fetched, and it is rewritten with the new ones.
    pub keep_state: Option<PathBuf>,
    /// Delete each message after it was fetched and stored (DELE, effective at QUIT).
    pub delete: bool,
}

/// One stored message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedMessage {
    /// Its number in the session.
    pub msg: MessageNumber,
    /// Its unique-id, if known.
    pub uid: Option<String>,
    /// Octets received (after dot-unstuffing, CRLF line endings).
    pub size: u64,
    /// The maildir file it was stored in (`None` for mbox and writers).
    pub path: Option<PathBuf>,
    /// Whether DELE was acknowledged for it.
    pub marked_deleted: bool,
}

/// What [`Session::fetch`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchReport {
    /// Messages in the maildrop.
    pub listed: usize,
    /// Messages skipped because the state file listed them.
    pub skipped: usize,
    /// Messages stored, in order.
    pub fetched: Vec<FetchedMessage>,
}

type Stream = Compat<tokio::net::TcpStream>;

/// A logged-in POP3 session over a stream `S`.
pub struct Session<S = Stream> {
    driver: Driver<Client, S, TokioTimer>,
    login: LoginInfo,
}

impl<S> fmt::Debug for Session<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

impl Session<Stream> {
    /// Connects over TCP to [`ConnectOptions::address`] and logs in.
    pub async fn connect(options: &ConnectOptions) -> Result<Self, FetchError> {
        let tcp = tokio::net::TcpStream::connect(&options.address)
            .await
            .map_err(|source| FetchError::Connect {
                address: options.address.clone(),
                source,
            })?;
        Session::over_stream(tcp.compat(), options).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// Logs in over a stream the caller connected (`options.address` is not used).
    pub async fn over_stream(stream: S, options: &ConnectOptions) -> Result<Self, FetchError> {
        let mut client = Client::new(options.client_config());
        client.start_clock(Instant::now());
        let tls = options.tls_setup().map_err(FetchError::TlsConfig)?;
        let mut driver = match (options.tls, tls) {
            (ClientTls::Implicit, Some(tls)) => {
                Driver::implicit_tls(client, stream, TokioTimer, tls).map_err(FetchError::Tls)?
            }
            (_, tls) => Driver::new(client, stream, TokioTimer, tls),
        };
        loop {
            match driver.next_event().await? {
                None => return Err(FetchError::Closed),
                Some(ClientEvent::Ready { secure, auth, .. }) => {
                    let tls = driver
                        .tls_info()
                        .map(|i| format!("{}, {}", i.version, i.cipher_suite));
                    return Ok(Session {
                        driver,
                        login: LoginInfo { secure, tls, auth },
                    });
                }
                Some(_) => {}
            }
        }
    }

    /// What the login established.
    pub fn login(&self) -> &LoginInfo {
        &self.login
    }

    /// The next event; the end of the session before QUIT is [`FetchError::Closed`].
    async fn event(&mut self) -> Result<ClientEvent, FetchError> {
        self.driver.next_event().await?.ok_or(FetchError::Closed)
    }

    /// STAT, LIST and UIDL. A server that refuses UIDL gives `uid: None` everywhere.
    pub async fn list(&mut self) -> Result<Listing, FetchError> {
        let now = Instant::now();
        let client = self.driver.machine_mut();
        let stat_id = client.stat(now)?;
        let list_id = client.list(now, None)?;
        let uidl_id = client.uidl(now, None)?;
        let mut stat = None;
        let mut scan: Option<Vec<ScanListing>> = None;
        let mut uidl: Option<Option<Vec<UidlListing>>> = None;
        while stat.is_none() || scan.is_none() || uidl.is_none() {
            match self.event().await? {
                ClientEvent::Stat { id, stat: s } if id == stat_id => stat = Some(s),
                ClientEvent::List { id, listings } if id == list_id => scan = Some(listings),
                ClientEvent::Uidl { id, listings } if id == uidl_id => uidl = Some(Some(listings)),
                ClientEvent::Failed { id, .. } if id == uidl_id => uidl = Some(None),
                ClientEvent::Failed { error, .. } => return Err(FetchError::Command(error)),
                _ => {}
            }
        }
        let (Some(stat), Some(scan), Some(uidl)) = (stat, scan, uidl) else {
            return Err(FetchError::Closed);
        };
        let uids: HashMap<MessageNumber, &UniqueId> =
            uidl.iter().flatten().map(|e| (e.msg, &e.uid)).collect();
        let messages = scan
            .iter()
            .map(|l| MessageSummary {
                msg: l.msg,
                size: l.size,
                uid: uids
                    .get(&l.msg)
                    .map(|u| String::from_utf8_lossy(u.as_bytes()).into_owned()),
            })
            .collect();
        Ok(Listing {
            stat,
            messages,
            uidl,
        })
    }

    /// Lists the maildrop and fetches into `dest` what `options` select; see the
    /// [module docs](self). Call [`Session::quit`] afterwards: deletions happen only then.
    pub async fn fetch(
        &mut self,
        dest: &mut Destination<'_>,
        options: &FetchOptions,
    ) -> Result<FetchReport, FetchError> {
        let listing = self.list().await?;
        let mut report = FetchReport {
            listed: listing.messages.len(),
            ..FetchReport::default()
        };
        let keep = if options.headers_only {
            None
        } else {
            options.keep_state.as_deref()
        };
        let delete = options.delete && !options.headers_only;
        let mode = if delete {
            LeaveMode::Delete
        } else {
            LeaveMode::Keep
        };
        let mut state = match keep {
            Some(path) => {
                let uidl = listing.uidl.as_deref().ok_or(FetchError::NoUidl)?;
                let mut state = LeaveOnServer::new(read_state(path)?, mode);
                let plan = state.plan(uidl);
                Some((path, state, plan))
            }
            None => None,
        };
        let plan: Vec<MessageNumber> = match &mut state {
            Some((_, _, plan)) => std::mem::take(plan),
            None => listing.messages.iter().map(|m| m.msg).collect(),
        };
        report.skipped = listing.messages.len() - plan.len();
        let uids: HashMap<MessageNumber, &Option<String>> =
            listing.messages.iter().map(|m| (m.msg, &m.uid)).collect();
        let mut result = Ok(());
        for msg in plan {
            let uid = uids.get(&msg).and_then(|u| (*u).clone());
            let fetched = match self.fetch_one(msg, options.headers_only, dest).await {
                Ok(fetched) => fetched,
                Err(err) => {
                    result = Err(err);
                    break;
                }
            };
            let (size, path) = fetched;
            let dele = match &mut state {
                Some((_, state, _)) => state.fetched(msg),
                None => delete,
            };
            let mut marked_deleted = false;
            if dele {
                match self.dele(msg).await {
                    Ok(()) => marked_deleted = true,
                    Err(err) => {
                        result = Err(err);
                        break;
                    }
                }
            }
            report.fetched.push(FetchedMessage {
                msg,
                uid,
                size,
                path,
                marked_deleted,
            });
        }
        // Persist what was stored even when a later message failed, so it is not fetched twice.
        if let Some((path, mut state, _)) = state {
            if let Some(uidl) = &listing.uidl {
                if result.is_ok() {
                    state.forget_missing(uidl);
                }
            }
            write_state(path, &state)?;
        }
        result.map(|()| report)
    }

    /// Retrieves one message (or its headers) into `dest`; returns its size and maildir path.
    pub async fn fetch_one(
        &mut self,
        msg: MessageNumber,
        headers_only: bool,
        dest: &mut Destination<'_>,
    ) -> Result<(u64, Option<PathBuf>), FetchError> {
        let now = Instant::now();
        let id = if headers_only {
            self.driver.machine_mut().top(now, msg, 0)?
        } else {
            self.driver.machine_mut().retr(now, msg)?
        };
        let mut sink = Sink::open(dest)?;
        let size = self.message(id, msg, |chunk| sink.write(chunk)).await?;
        let path = sink.commit()?;
        Ok((size, path))
    }

    /// Retrieves one message (`RETR`) and drops its bytes; returns its size. For load tests
    /// (`mailsec-load`): unlike [`Session::fetch_one`] the future is `Send`.
    pub async fn retr_discard(&mut self, msg: MessageNumber) -> Result<u64, FetchError> {
        let id = self.driver.machine_mut().retr(Instant::now(), msg)?;
        self.message(id, msg, |_| Ok(())).await
    }

    /// Waits for the end of request `id`, the RETR or TOP of `msg`, handing each chunk of the
    /// message to `on_data` as it arrives; returns the message size.
    async fn message(
        &mut self,
        id: RequestId,
        msg: MessageNumber,
        mut on_data: impl FnMut(&[u8]) -> Result<(), FetchError>,
    ) -> Result<u64, FetchError> {
        loop {
            match self.event().await? {
                ClientEvent::MessageData { id: i, data } if i == id => on_data(&data)?,
                ClientEvent::MessageEnd { id: i, size, .. } if i == id => return Ok(size),
                ClientEvent::MessageTooLarge { id: i, limit, .. } if i == id => {
                    return Err(FetchError::MessageTooLarge {
                        msg: msg.get(),
                        limit,
                    });
                }
                ClientEvent::Failed { id: i, error } if i == id => {
                    return Err(FetchError::Command(error));
                }
                _ => {}
            }
        }
    }

    /// Marks a message deleted (DELE); the server removes it at QUIT.
    pub async fn dele(&mut self, msg: MessageNumber) -> Result<(), FetchError> {
        let id = self.driver.machine_mut().dele(Instant::now(), msg)?;
        self.wait_simple(id).await
    }

    async fn wait_simple(&mut self, id: RequestId) -> Result<(), FetchError> {
        loop {
            match self.event().await? {
                ClientEvent::Deleted { id: i, .. }
                | ClientEvent::Reset { id: i }
                | ClientEvent::Noop { id: i }
                    if i == id =>
                {
                    return Ok(());
                }
                ClientEvent::Failed { id: i, error } if i == id => {
                    return Err(FetchError::Command(error));
                }
                _ => {}
            }
        }
    }

    /// Ends the session with QUIT. Returns whether the server acknowledged the UPDATE state
    /// (RFC 1939 §6): only then were messages marked with DELE removed.
    pub async fn quit(mut self) -> Result<bool, FetchError> {
        self.driver.machine_mut().quit(Instant::now())?;
        let mut acknowledged = false;
        while let Some(event) = self.driver.next_event().await? {
            if let ClientEvent::Closed {
                update_acknowledged,
            } = event
            {
                acknowledged = update_acknowledged;
            }
        }
        Ok(acknowledged)
    }

    /// Drops the connection without QUIT: the server rolls back every DELE (RFC 1939 §6).
    pub fn abandon(self) {
        drop(self.driver.into_parts());
    }
}

/// The open destination of one message.
enum Sink<'d, 'w> {
    Maildir(MaildirWriter),
    Mbox(MboxWriter),
    Writer(&'d mut &'w mut dyn Write),
}

impl<'d, 'w> Sink<'d, 'w> {
    fn open(dest: &'d mut Destination<'w>) -> Result<Self, FetchError> {
        Ok(match dest {
            Destination::Maildir(dir) => Sink::Maildir(MaildirWriter::create(dir)?),
            Destination::Mbox(path) => Sink::Mbox(MboxWriter::open(path)?),
            Destination::Writer(w) => Sink::Writer(w),
        })
    }

    fn write(&mut self, chunk: &[u8]) -> Result<(), FetchError> {
        match self {
            Sink::Maildir(m) => m.write(chunk),
            Sink::Mbox(m) => m.write(chunk),
            Sink::Writer(w) => {
                let shown: Vec<u8> = chunk
                    .iter()
                    .map(|&b| match b {
                        b'\r' | b'\n' | b'\t' | 0x20..=0x7e => b,
                        _ => b'?',
                    })
                    .collect();
                w.write_all(&shown).map_err(FetchError::Io)
            }
        }
    }

    fn commit(self) -> Result<Option<PathBuf>, FetchError> {
        match self {
            Sink::Maildir(m) => m.commit().map(Some),
            Sink::Mbox(m) => m.commit().map(|()| None),
            Sink::Writer(w) => w.flush().map(|()| None).map_err(FetchError::Io),
        }
    }
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// One message being written into a maildir: `tmp/` first, `new/` on commit. Dropped without
/// commit, it removes its `tmp/` file.
#[derive(Debug)]
pub struct MaildirWriter {
    file: Option<File>,
    tmp: PathBuf,
    new: PathBuf,
    root: PathBuf,
}

impl MaildirWriter {
    /// Creates `root/{tmp,new,cur}` if needed and opens a uniquely named file in `tmp/`.
    pub fn create(root: &Path) -> Result<Self, FetchError> {
        for sub in ["tmp", "new", "cur"] {
            let dir = root.join(sub);
            std::fs::create_dir_all(&dir).map_err(local(&dir))?;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let name = format!(
            "{}.M{}P{}Q{}.mailsec-pop3",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            UNIQUE.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = root.join("tmp").join(&name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(local(&tmp))?;
        Ok(MaildirWriter {
            file: Some(file),
            new: root.join("new").join(&name),
            tmp,
            root: root.to_owned(),
        })
    }

    /// Appends a chunk.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), FetchError> {
        match &mut self.file {
            Some(f) => f.write_all(chunk).map_err(local(&self.tmp)),
            None => Ok(()),
        }
    }

    /// Fsyncs the file, renames it into `new/` and fsyncs the directory; returns its path.
    pub fn commit(mut self) -> Result<PathBuf, FetchError> {
        if let Some(file) = self.file.take() {
            file.sync_all().map_err(local(&self.tmp))?;
        }
        std::fs::rename(&self.tmp, &self.new).map_err(local(&self.new))?;
        let new_dir = self.root.join("new");
        if let Ok(dir) = File::open(&new_dir) {
            dir.sync_all().map_err(local(&new_dir))?;
        }
        Ok(self.new.clone())
    }
}

impl Drop for MaildirWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Where the mboxrd quoting of [`MboxQuoter`] stands in the current line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineState {
    /// At the start of a line: `gt` `>` seen, then `matched` bytes of `From `.
    Start { gt: usize, matched: usize },
    /// Past the point where the line could be a `From_` line.
    Middle,
}

/// Streams a message body into mboxrd form (<https://www.loc.gov/preservation/digital/formats/fdd/fdd000385.shtml>,
/// RFC 4155): CRLF becomes LF, and a line matching `^>*From ` gets one more `>`. Works across
/// chunk boundaries with constant state.
#[derive(Debug)]
pub struct MboxQuoter {
    state: LineState,
    pending_cr: bool,
}

impl Default for MboxQuoter {
    fn default() -> Self {
        MboxQuoter {
            state: LineState::Start { gt: 0, matched: 0 },
            pending_cr: false,
        }
    }
}

const FROM: &[u8] = b"From ";

impl MboxQuoter {
    /// Converts one chunk, appending to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        for &b in chunk {
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    self.byte(b'\n', out);
                    continue;
                }
                self.byte(b'\r', out);
            }
            if b == b'\r' {
                self.pending_cr = true;
            } else {
                self.byte(b, out);
            }
        }
    }

    /// Ends the message: flushes what is held back and makes sure it ends with a newline.
    /// Returns whether the last line was complete.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr {
            self.pending_cr = false;
            self.byte(b'\r', out);
        }
        match self.state {
            LineState::Start { gt: 0, matched: 0 } => {}
            LineState::Start { gt, matched } => {
                out.extend(std::iter::repeat_n(b'>', gt));
                out.extend_from_slice(&FROM[..matched]);
                out.push(b'\n');
            }
            LineState::Middle => out.push(b'\n'),
        }
        self.state = LineState::Start { gt: 0, matched: 0 };
    }

    fn byte(&mut self, b: u8, out: &mut Vec<u8>) {
        match self.state {
            LineState::Middle => {
                out.push(b);
                if b == b'\n' {
                    self.state = LineState::Start { gt: 0, matched: 0 };
                }
            }
            LineState::Start { gt, matched } => {
                if matched == 0 && b == b'>' {
                    self.state = LineState::Start {
                        gt: gt + 1,
                        matched,
                    };
                } else if b == FROM[matched] {
                    if matched + 1 == FROM.len() {
                        out.push(b'>');
                        out.extend(std::iter::repeat_n(b'>', gt));
                        out.extend_from_slice(FROM);
                        self.state = LineState::Middle;
                    } else {
                        self.state = LineState::Start {
                            gt,
                            matched: matched + 1,
                        };
                    }
                } else {
                    out.extend(std::iter::repeat_n(b'>', gt));
                    out.extend_from_slice(&FROM[..matched]);
                    out.push(b);
                    self.state = if b == b'\n' {
                        LineState::Start { gt: 0, matched: 0 }
                    } else {
                        LineState::Middle
                    };
                }
            }
        }
    }
}

/// One message being appended to an mbox file (mboxrd).
#[derive(Debug)]
pub struct MboxWriter {
    file: File,
    path: PathBuf,
    quoter: MboxQuoter,
    buf: Vec<u8>,
}

impl MboxWriter {
    /// Opens `path` for appending and writes the `From_` line.
    pub fn open(path: &Path) -> Result<Self, FetchError> {
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(local(path))?;
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        writeln!(file, "From MAILER-DAEMON {}", asctime(secs)).map_err(local(path))?;
        Ok(MboxWriter {
            file,
            path: path.to_owned(),
            quoter: MboxQuoter::default(),
            buf: Vec::new(),
        })
    }

    /// Appends a chunk of the message.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), FetchError> {
        self.buf.clear();
        self.quoter.push(chunk, &mut self.buf);
        self.file.write_all(&self.buf).map_err(local(&self.path))
    }

    /// Ends the message with the blank separator line and fsyncs.
    pub fn commit(mut self) -> Result<(), FetchError> {
        self.buf.clear();
        self.quoter.finish(&mut self.buf);
        self.buf.push(b'\n');
        self.file.write_all(&self.buf).map_err(local(&self.path))?;
        self.file.sync_all().map_err(local(&self.path))
    }
}

/// `Thu Nov 28 19:26:51 2026` (UTC) for a `From_` line; a time after 9999 is written as the
/// last second of 9999 (the `time` crate's range).
fn asctime(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let max = UtcDateTime::MAX.unix_timestamp();
    let t = UtcDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(max).min(max))
        .unwrap_or(UtcDateTime::UNIX_EPOCH);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        DAYS[usize::from(t.weekday().number_days_from_monday())],
        MONTHS[usize::from(u8::from(t.month()) - 1)],
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.year()
    )
}

/// Reads a leave-on-server state file: one unique-id per line; a missing file is an empty
/// state. Lines that are not valid unique-ids (RFC 1939 §7) are ignored.
pub fn read_state(path: &Path) -> Result<Vec<UniqueId>, FetchError> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(local(path)(e)),
    };
    Ok(text
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .filter_map(|l| UniqueId::new(l).ok())
        .collect())
}

/// Rewrites the state file atomically (a temporary file renamed over it), ids sorted.
pub fn write_state(path: &Path, state: &LeaveOnServer) -> Result<(), FetchError> {
    let mut ids: Vec<&[u8]> = state.seen().map(|u| u.as_bytes()).collect();
    ids.sort_unstable();
    let mut text = Vec::new();
    for id in ids {
        text.extend_from_slice(id);
        text.push(b'\n');
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = File::create(&tmp).map_err(local(&tmp))?;
    file.write_all(&text).map_err(local(&tmp))?;
    file.sync_all().map_err(local(&tmp))?;
    std::fs::rename(&tmp, path).map_err(local(path))
}

/// Lists the maildrop and quits.
pub async fn list(options: &ConnectOptions) -> Result<Listing, FetchError> {
    let mut session = Session::connect(options).await?;
    let listing = session.list().await?;
    session.quit().await?;
    Ok(listing)
}

/// Connects, fetches and quits. Returns the report and whether QUIT was acknowledged (only
/// then did deletions happen).
pub async fn fetch(
    options: &ConnectOptions,
    dest: &mut Destination<'_>,
    fetch: &FetchOptions,
) -> Result<(FetchReport, bool), FetchError> {
    let mut session = Session::connect(options).await?;
    let report = session.fetch(dest, fetch).await?;
    let acknowledged = session.quit().await?;
    Ok((report, acknowledged))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote_in_chunks(input: &[u8], size: usize) -> Vec<u8> {
        let mut q = MboxQuoter::default();
        let mut out = Vec::new();
        for chunk in input.chunks(size.max(1)) {
            q.push(chunk, &mut out);
        }
        q.finish(&mut out);
        out
    }

    #[test]
    fn mboxrd_quoting_in_every_chunking() {
        let input = b"From: a\r\n\r\nFrom here\r\n>From there\r\n>>From x\r\nFro\r\n>Fr\r\nnot From \r\n>\r\nFrom ";
        let want =
            b"From: a\n\n>From here\n>>From there\n>>>From x\nFro\n>Fr\nnot From \n>\n>From \n";
        for size in 1..=input.len() {
            assert_eq!(
                quote_in_chunks(input, size),
                want.to_vec(),
                "chunk size {size}"
            );
        }
    }

    #[test]
    fn mbox_keeps_lone_cr_and_terminates_last_line() {
        assert_eq!(quote_in_chunks(b"a\rb\r", 1), b"a\rb\r\n".to_vec());
        assert_eq!(quote_in_chunks(b"", 1), b"".to_vec());
        assert_eq!(quote_in_chunks(b">>", 1), b">>\n".to_vec());
    }

    #[test]
    fn asctime_formats_known_dates() {
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(asctime(951_782_400), "Tue Feb 29 00:00:00 2000");
        assert_eq!(asctime(1_795_894_011), "Sat Nov 28 19:26:51 2026");
        // 2024-02-29 23:59:59 and the second after it.
        assert_eq!(asctime(1_709_251_199), "Thu Feb 29 23:59:59 2024");
        assert_eq!(asctime(1_709_251_200), "Fri Mar  1 00:00:00 2024");
        // Not a leap year (divisible by 100, not by 400): 1 March follows 28 February.
        assert_eq!(asctime(4_107_542_399), "Sun Feb 28 23:59:59 2100");
        assert_eq!(asctime(4_107_542_400), "Mon Mar  1 00:00:00 2100");
        assert_eq!(asctime(253_402_300_799), "Fri Dec 31 23:59:59 9999");
        assert_eq!(asctime(u64::MAX), "Fri Dec 31 23:59:59 9999");
    }

    #[test]
    fn state_file_round_trip() {
        let dir = std::env::temp_dir().join(format!("mailsec-pop3-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state");
        assert!(read_state(&path).unwrap().is_empty());
        std::fs::write(&path, b"bbb\r\n\nhas space\naaa\n").unwrap();
        let ids = read_state(&path).unwrap();
        assert_eq!(ids.len(), 2);
        let state = LeaveOnServer::new(ids, LeaveMode::Keep);
        write_state(&path, &state).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"aaa\nbbb\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn maildir_writer_commits_into_new_and_cleans_up_on_drop() {
        let dir = std::env::temp_dir().join(format!("mailsec-pop3-md-{}", std::process::id()));
        let mut w = MaildirWriter::create(&dir).unwrap();
        w.write(b"Subject: x\r\n").unwrap();
        w.write(b"\r\nbody\r\n").unwrap();
        let path = w.commit().unwrap();
        assert!(path.starts_with(dir.join("new")));
        assert_eq!(std::fs::read(&path).unwrap(), b"Subject: x\r\n\r\nbody\r\n");
        let w = MaildirWriter::create(&dir).unwrap();
        drop(w);
        assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn host_of_addresses() {
        assert_eq!(host_of("mail.example:995"), "mail.example");
        assert_eq!(host_of("[::1]:995"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
    }
}
