//! Reading mail over IMAP with [`mailsec_imap::client::Client`], driven over tokio by
//! [`mailsec_tls::driver::Driver`]: the library behind the `mailsec-imap` binary.
//!
//! - [`Session::connect`] (or [`Session::over_stream`] for a stream the caller made, e.g. a
//!   [`Tap`](crate::capture::Tap)) opens the connection, does TLS as [`ConnectOptions::tls`]
//!   says (implicit TLS on port 993 by default, RFC 8314; STARTTLS on port 143 per RFC 9051
//!   §6.2.1, required: a server that does not offer it ends the session before any credential)
//!   and logs in. Credentials are never sent without TLS unless
//!   [`ConnectOptions::allow_cleartext_credentials`] is set. The options, trust and address
//!   helpers are those of [`pop3_fetch`](crate::pop3_fetch), re-exported here.
//! - [`Session::folders`]: `LIST "" *`, with the special-use attributes (RFC 6154) when the
//!   server offers SPECIAL-USE.
//! - [`Session::messages`]: `EXAMINE` (read-only, so nothing changes) and one
//!   `UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])`; Subject, From and Date are
//!   taken from the header bytes ([`parse_headers`], RFC 5322 unfolding, RFC 2047 encoded
//!   words).
//! - [`Session::read`]: `UID FETCH uid (BODY.PEEK[])` into a writer, byte for byte; then, if
//!   asked, `UID STORE +FLAGS.SILENT (\Seen)` — only after the message was written.
//! - [`Session::mark`], [`Session::move_to`], [`Session::create`]: flags, `UID MOVE` (or the
//!   UIDPLUS fallback the client machine does on its own), `CREATE`. A UID that is not in the
//!   folder is [`ImapError::NoSuchMessage`] (checked with `UID SEARCH UID n` first: STORE and
//!   MOVE of a missing UID succeed silently on the wire).
//! - [`Session::logout`].
//!
//! Folder names are UTF-8 here; the client machine sends them in modified UTF-7.
//! Operations select their folder themselves (`SELECT`, or `EXAMINE` when nothing is changed)
//! and keep it selected for the next operation on the same folder.

use std::fmt;
use std::io::{self, Write};
use std::num::NonZeroU32;
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use mailsec_imap::client::{
    AuthMethod, Client, ClientConfig, ClientError, ClientEvent, CommandError, RequestId,
    Unsolicited, UsageError,
};
use mailsec_imap::types::{
    Code, Flag, ListData, MsgAtt, SearchKey, SectionText, SeqNumber, SeqRange, SequenceSet,
    StatusKind,
};
use mailsec_tls::driver::{Driver, DriverError, TokioTimer};
use mailsec_tls::sasl::{Credentials, InsecureAuth};
use mailsec_tls::{ClientTls, TlsError};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

pub use crate::pop3_fetch::{ConnectOptions, Trust, host_of};

/// The IMAP-over-TLS port (RFC 8314 §7.3).
pub const IMAPS_PORT: u16 = 993;
/// The IMAP port, for STARTTLS (RFC 9051 §2.1).
pub const IMAP_PORT: u16 = 143;

/// The usual port for a TLS policy: 993 for implicit TLS, 143 otherwise.
pub fn default_port(tls: ClientTls) -> u16 {
    if tls == ClientTls::Implicit {
        IMAPS_PORT
    } else {
        IMAP_PORT
    }
}

/// `host:port` from `HOST[:PORT]`, adding the default port of `tls` when none is given.
/// IPv6 literals are written `[::1]:993`; a bare `::1` gets brackets.
pub fn with_default_port(address: &str, tls: ClientTls) -> String {
    let port = default_port(tls);
    if let Some(rest) = address.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((_, tail)) if tail.starts_with(':') => address.to_owned(),
            _ => format!("{address}:{port}"),
        };
    }
    match address.matches(':').count() {
        0 => format!("{address}:{port}"),
        1 => address.to_owned(),
        _ => format!("[{address}]:{port}"),
    }
}

/// Why an IMAP session or operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapError {
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
    /// The session failed: the client machine's typed error, with the phase where it
    /// happened (no STARTTLS offered, refusing to send credentials in clear, authentication
    /// failed, BYE, …).
    #[error("IMAP: {0}")]
    Protocol(#[source] ClientError),
    /// The socket failed.
    #[error("I/O: {0}")]
    Io(#[source] io::Error),
    /// The connection ended before the answer we waited for.
    #[error("the connection closed unexpectedly")]
    Closed,
    /// The server answered `NO` or `BAD` to a command we needed.
    #[error("{action}: {}", describe(.error))]
    Command {
        /// What we were doing (`selecting "INBOX"`, …).
        action: String,
        /// The command, status, response code and (sanitized) server text.
        error: Box<CommandError>,
    },
    /// An intent was refused by the client machine (an invalid folder name, …).
    #[error("client: {0}")]
    Usage(#[from] UsageError),
    /// The folder holds no message with this UID.
    #[error("no message with UID {uid} in {folder:?}")]
    NoSuchMessage {
        /// The folder.
        folder: String,
        /// The UID.
        uid: u32,
    },
    /// The writer given to [`Session::read`] failed.
    #[error("writing the message: {0}")]
    Output(#[source] io::Error),
}

/// `server answered NO to UID MOVE [TRYCREATE]: text`.
fn describe(error: &CommandError) -> String {
    let code = error
        .code
        .as_ref()
        .map(|c| format!(" [{}]", code_name(c)))
        .unwrap_or_default();
    format!(
        "server answered {} to {}{code}: {}",
        error.status.name(),
        error.command,
        error.text
    )
}

/// A response code's name (`TRYCREATE`, `NONEXISTENT`, `CAPABILITY`, …).
fn code_name(code: &Code<'_>) -> String {
    match code {
        Code::Simple(s) => s.name().to_owned(),
        Code::BadCharset(_) => "BADCHARSET".into(),
        Code::Capability(_) => "CAPABILITY".into(),
        Code::PermanentFlags(_) => "PERMANENTFLAGS".into(),
        Code::UidNext(_) => "UIDNEXT".into(),
        Code::UidValidity(_) => "UIDVALIDITY".into(),
        Code::Unseen(_) => "UNSEEN".into(),
        Code::HighestModSeq(_) => "HIGHESTMODSEQ".into(),
        Code::Modified(_) => "MODIFIED".into(),
        Code::AppendUid { .. } => "APPENDUID".into(),
        Code::CopyUid { .. } => "COPYUID".into(),
        Code::Other { name, .. } => name.as_str().to_owned(),
        _ => "?".into(),
    }
}

impl From<DriverError<ClientError>> for ImapError {
    fn from(err: DriverError<ClientError>) -> Self {
        match err {
            DriverError::Machine(e) => ImapError::Protocol(e),
            DriverError::Tls(e) => ImapError::Tls(e),
            DriverError::Io(e) => ImapError::Io(e),
            // NoTlsConfig cannot happen: a TLS setup is given whenever the policy uses TLS.
            other => ImapError::Io(io::Error::other(other.to_string())),
        }
    }
}

impl ImapError {
    /// The server's `NO`/`BAD` answer, if that is what this is.
    pub fn command_error(&self) -> Option<&CommandError> {
        match self {
            ImapError::Command { error, .. } => Some(error),
            _ => None,
        }
    }
}

fn client_config(options: &ConnectOptions) -> ClientConfig {
    use secrecy::ExposeSecret;
    let credentials = Credentials::password(
        options.user.clone(),
        options.password.expose_secret().to_owned(),
    );
    let insecure = if options.allow_cleartext_credentials {
        InsecureAuth::AllowPlaintextMechanismsWithoutTls
    } else {
        InsecureAuth::Refuse
    };
    ClientConfig::builder(credentials)
        .tls(options.tls)
        .insecure_auth(insecure)
        .build()
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
    /// The capabilities after login (`IMAP4rev1`, `MOVE`, `SPECIAL-USE`, …).
    pub capabilities: Vec<String>,
}

/// A special use of a folder (RFC 6154 §2): the store's type, recognized in LIST answers with
/// [`SpecialUse::from_name`] (the attribute without its backslash).
pub use mailsec_imap::store::SpecialUse;

/// One folder of a [`Session::folders`] listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folder {
    /// The name in UTF-8 (decoded from modified UTF-7; the wire name, lossily, if it does not
    /// decode).
    pub name: String,
    /// The hierarchy delimiter (`None`: a flat namespace).
    pub delimiter: Option<char>,
    /// The attributes with their backslash (`\HasNoChildren`, `\Sent`, …).
    pub attributes: Vec<String>,
    /// The special use, if the server said (RFC 6154).
    pub special_use: Option<SpecialUse>,
    /// Whether it can be selected (no `\Noselect` / `\NonExistent`).
    pub selectable: bool,
}

impl Folder {
    fn from_list(entry: &ListData<'_>) -> Folder {
        let name = entry
            .mailbox
            .to_utf8()
            .unwrap_or_else(|_| String::from_utf8_lossy(entry.mailbox.as_bytes()).into_owned());
        let names: Vec<&str> = entry.attributes.iter().map(|a| a.0.as_str()).collect();
        let selectable = !names
            .iter()
            .any(|n| n.eq_ignore_ascii_case("Noselect") || n.eq_ignore_ascii_case("NonExistent"));
        Folder {
            name: mailsec_tls::text::sanitize(name.as_bytes()),
            delimiter: entry.delimiter.map(char::from),
            attributes: names.iter().map(|n| format!("\\{n}")).collect(),
            special_use: names.iter().find_map(|n| SpecialUse::from_name(n)),
            selectable,
        }
    }
}

/// Subject, From and Date of a message, decoded for display.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    /// `Subject:`.
    pub subject: Option<String>,
    /// `From:`.
    pub from: Option<String>,
    /// `Date:`.
    pub date: Option<String>,
}

/// One message of a [`Session::messages`] listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    /// Its UID (stable while the folder's UIDVALIDITY is).
    pub uid: u32,
    /// Its sequence number in this session.
    pub seq: u32,
    /// Its flags as written (`\Seen`, `\Answered`, `$Junk`, …).
    pub flags: Vec<String>,
    /// Whether `\Seen` is set.
    pub seen: bool,
    /// `RFC822.SIZE`: octets with CRLF line endings.
    pub size: u64,
    /// The decoded Subject, From and Date.
    pub headers: Headers,
}

/// A folder's messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageList {
    /// The folder.
    pub folder: String,
    /// `[UIDVALIDITY]`: UIDs are meaningful only together with it.
    pub uid_validity: Option<u32>,
    /// The messages, by UID.
    pub messages: Vec<MessageInfo>,
}

/// What [`Session::read`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadReport {
    /// The UID.
    pub uid: u32,
    /// Octets written.
    pub size: u64,
    /// The flags the server sent with the message (before `\Seen` was added).
    pub flags: Vec<String>,
    /// Whether `\Seen` was set afterwards.
    pub marked_seen: bool,
}

/// What [`Session::move_to`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveReport {
    /// The UID in the destination, if the server said (`[COPYUID]`, RFC 4315).
    pub new_uid: Option<u32>,
    /// The destination's UIDVALIDITY, if the server said.
    pub uid_validity: Option<u32>,
}

fn flag_text(flag: &Flag<'_>) -> String {
    match flag {
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Seen => "\\Seen".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::Keyword(a) => a.as_str().to_owned(),
        Flag::Extension(a) => format!("\\{}", a.as_str()),
    }
}

fn single(uid: u32) -> Result<SequenceSet, ImapError> {
    SequenceSet::single(uid).map_err(|e| ImapError::Usage(UsageError::Invalid(e)))
}

fn first_uid(set: &SequenceSet) -> Option<u32> {
    match set {
        SequenceSet::Ranges(r) => match r.first()? {
            SeqRange::Single(SeqNumber::Value(v)) | SeqRange::Range(SeqNumber::Value(v), _) => {
                Some(v.get())
            }
            _ => None,
        },
        SequenceSet::Saved => None,
    }
}

fn same_folder(a: &str, b: &str) -> bool {
    a == b || (a.eq_ignore_ascii_case("INBOX") && b.eq_ignore_ascii_case("INBOX"))
}

/// The folder selected in the session.
#[derive(Clone, Debug)]
struct Selected {
    folder: String,
    read_only: bool,
    exists: u32,
    uid_validity: Option<NonZeroU32>,
}

type Stream = Compat<tokio::net::TcpStream>;

/// A logged-in IMAP session over a stream `S`.
pub struct Session<S = Stream> {
    driver: Driver<Client, S, TokioTimer>,
    login: LoginInfo,
    selected: Option<Selected>,
    alerts: Vec<String>,
}

impl<S> fmt::Debug for Session<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("login", &self.login)
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

impl Session<Stream> {
    /// Connects over TCP to [`ConnectOptions::address`] and logs in.
    pub async fn connect(options: &ConnectOptions) -> Result<Self, ImapError> {
        let tcp = tokio::net::TcpStream::connect(&options.address)
            .await
            .map_err(|source| ImapError::Connect {
                address: options.address.clone(),
                source,
            })?;
        Session::over_stream(tcp.compat(), options).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// Logs in over a stream the caller connected (`options.address` is not used).
    pub async fn over_stream(stream: S, options: &ConnectOptions) -> Result<Self, ImapError> {
        let client = Client::new(client_config(options), Instant::now());
        let tls = options.tls_setup().map_err(ImapError::TlsConfig)?;
        let mut driver = match (options.tls, tls) {
            (ClientTls::Implicit, Some(tls)) => {
                Driver::implicit_tls(client, stream, TokioTimer, tls).map_err(ImapError::Tls)?
            }
            (_, tls) => Driver::new(client, stream, TokioTimer, tls),
        };
        loop {
            match driver.next_event().await? {
                None => return Err(ImapError::Closed),
                Some(ClientEvent::Ready {
                    capabilities,
                    secure,
                    auth,
                }) => {
                    let tls = driver
                        .tls_info()
                        .map(|i| format!("{}, {}", i.version, i.cipher_suite));
                    return Ok(Session {
                        driver,
                        login: LoginInfo {
                            secure,
                            tls,
                            auth,
                            capabilities: capabilities
                                .iter()
                                .map(|c| c.name().to_owned())
                                .collect(),
                        },
                        selected: None,
                        alerts: Vec::new(),
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

    /// `[ALERT]` texts the server sent since the last call (RFC 9051 §7.1: the user must see
    /// them), sanitized.
    pub fn take_alerts(&mut self) -> Vec<String> {
        std::mem::take(&mut self.alerts)
    }

    /// The next event, with the selected folder's bookkeeping done; the end of the session
    /// is [`ImapError::Closed`].
    async fn event(&mut self) -> Result<ClientEvent, ImapError> {
        let event = self.driver.next_event().await?.ok_or(ImapError::Closed)?;
        match &event {
            ClientEvent::Unsolicited(Unsolicited::Exists(n)) => {
                if let Some(s) = &mut self.selected {
                    s.exists = *n;
                }
            }
            ClientEvent::Unsolicited(Unsolicited::Expunge(_)) => {
                if let Some(s) = &mut self.selected {
                    s.exists = s.exists.saturating_sub(1);
                }
            }
            ClientEvent::Unsolicited(Unsolicited::Alert(text)) if self.alerts.len() < 64 => {
                self.alerts.push(text.clone());
            }
            _ => {}
        }
        Ok(event)
    }

    /// Waits for the end of a command without data of its own ([`ClientEvent::Completed`]).
    async fn completed(&mut self, id: RequestId, action: &str) -> Result<(), ImapError> {
        loop {
            match self.event().await? {
                ClientEvent::Completed { id: i, .. } if i == id => return Ok(()),
                ClientEvent::Failed { id: i, error } if i == id => {
                    return Err(ImapError::Command {
                        action: action.to_owned(),
                        error: Box::new(error),
                    });
                }
                _ => {}
            }
        }
    }

    /// Selects `folder` (`EXAMINE` if `read_only`) unless it already is, in a mode that
    /// allows what is asked, and `fresh` (a new look at the folder) is not asked for.
    async fn select(
        &mut self,
        folder: &str,
        read_only: bool,
        fresh: bool,
    ) -> Result<(), ImapError> {
        if let Some(s) = &self.selected {
            if !fresh && same_folder(&s.folder, folder) && (read_only || !s.read_only) {
                return Ok(());
            }
        }
        let now = Instant::now();
        let client = self.driver.machine_mut();
        let id = if read_only {
            client.examine(now, folder)?
        } else {
            client.select(now, folder)?
        };
        // A failed SELECT leaves no folder selected (RFC 9051 §6.3.2).
        self.selected = None;
        loop {
            match self.event().await? {
                ClientEvent::Selected { id: i, info } if i == id => {
                    self.selected = Some(Selected {
                        folder: folder.to_owned(),
                        read_only: info.read_only,
                        exists: info.exists,
                        uid_validity: info.uid_validity,
                    });
                    if !read_only && info.read_only {
                        return Err(ImapError::Command {
                            action: format!("selecting {folder:?}"),
                            error: Box::new(CommandError {
                                command: "SELECT",
                                status: StatusKind::No,
                                code: None,
                                text: "the folder is read-only".into(),
                            }),
                        });
                    }
                    return Ok(());
                }
                ClientEvent::Failed { id: i, error } if i == id => {
                    return Err(ImapError::Command {
                        action: format!("selecting {folder:?}"),
                        error: Box::new(error),
                    });
                }
                _ => {}
            }
        }
    }

    /// Every folder (`LIST "" *`), with special uses when the server offers SPECIAL-USE.
    pub async fn folders(&mut self) -> Result<Vec<Folder>, ImapError> {
        let id = self.driver.machine_mut().list(Instant::now(), "", "*")?;
        loop {
            match self.event().await? {
                ClientEvent::Listed { id: i, folders } if i == id => {
                    return Ok(folders.iter().map(Folder::from_list).collect());
                }
                ClientEvent::Failed { id: i, error } if i == id => {
                    return Err(ImapError::Command {
                        action: "listing folders".into(),
                        error: Box::new(error),
                    });
                }
                _ => {}
            }
        }
    }

    /// Creates a folder (`CREATE`).
    pub async fn create(&mut self, folder: &str) -> Result<(), ImapError> {
        let id = self.driver.machine_mut().create(Instant::now(), folder)?;
        self.completed(id, &format!("creating {folder:?}")).await
    }

    /// The messages of `folder` (opened read-only with EXAMINE): UID, flags, size and the
    /// decoded Subject, From and Date, ordered by UID. No flag changes. The folder is opened
    /// anew each time, so the listing is current even without unsolicited updates.
    pub async fn messages(&mut self, folder: &str) -> Result<MessageList, ImapError> {
        self.select(folder, true, true).await?;
        let (exists, uid_validity) = match &self.selected {
            Some(s) => (s.exists, s.uid_validity.map(NonZeroU32::get)),
            None => (0, None),
        };
        let mut messages = Vec::new();
        if exists > 0 {
            let all = SequenceSet::new(vec![SeqRange::Range(
                SeqNumber::Value(NonZeroU32::MIN),
                SeqNumber::Largest,
            )])
            .map_err(|e| ImapError::Usage(UsageError::Invalid(e)))?;
            let id = self
                .driver
                .machine_mut()
                .fetch_headers(Instant::now(), all)?;
            loop {
                match self.event().await? {
                    ClientEvent::Fetched {
                        id: i,
                        seq,
                        attributes,
                    } if i == id => {
                        if let Some(m) = message_info(seq, &attributes) {
                            messages.push(m);
                        }
                    }
                    ClientEvent::Completed { id: i, .. } if i == id => break,
                    ClientEvent::Failed { id: i, error } if i == id => {
                        return Err(ImapError::Command {
                            action: format!("listing the messages of {folder:?}"),
                            error: Box::new(error),
                        });
                    }
                    _ => {}
                }
            }
        }
        messages.sort_by_key(|m| m.uid);
        messages.dedup_by_key(|m| m.uid);
        Ok(MessageList {
            folder: folder.to_owned(),
            uid_validity,
            messages,
        })
    }

    /// Writes message `uid` of `folder` to `out`, byte for byte as it arrives (`BODY.PEEK[]`
    /// streamed: the message is never held in memory; reading does not set `\Seen`), then, if `mark_seen`, sets `\Seen` — only once the message was
    /// written and flushed.
    pub async fn read<W: Write + ?Sized>(
        &mut self,
        folder: &str,
        uid: u32,
        out: &mut W,
        mark_seen: bool,
    ) -> Result<ReadReport, ImapError> {
        self.select(folder, !mark_seen, false).await?;
        // Streamed: each chunk is written as it arrives, the message is never held whole.
        let id = self
            .driver
            .machine_mut()
            .fetch_message_streamed(Instant::now(), uid, false)?;
        let mut report = None;
        let mut writing = false;
        loop {
            match self.event().await? {
                ClientEvent::MessageStart {
                    id: i, uid: got, ..
                } if i == id && got.is_none_or(|u| u == uid) && report.is_none() => {
                    writing = true;
                }
                ClientEvent::MessageData { id: i, data } if i == id && writing => {
                    out.write_all(&data).map_err(ImapError::Output)?;
                }
                ClientEvent::MessageEnd {
                    id: i, flags, size, ..
                } if i == id && writing => {
                    writing = false;
                    report = Some(ReadReport {
                        uid,
                        size,
                        flags: flags.iter().flatten().map(flag_text).collect(),
                        marked_seen: false,
                    });
                }
                ClientEvent::Completed { id: i, .. } if i == id => break,
                ClientEvent::Failed { id: i, error } if i == id => {
                    return Err(ImapError::Command {
                        action: format!("reading UID {uid} of {folder:?}"),
                        error: Box::new(error),
                    });
                }
                _ => {}
            }
        }
        let Some(mut report) = report else {
            return Err(ImapError::NoSuchMessage {
                folder: folder.to_owned(),
                uid,
            });
        };
        out.flush().map_err(ImapError::Output)?;
        if mark_seen {
            let id = self
                .driver
                .machine_mut()
                .mark_seen(Instant::now(), single(uid)?)?;
            self.completed(id, &format!("marking UID {uid} seen"))
                .await?;
            report.marked_seen = true;
        }
        Ok(report)
    }

    /// The UIDs of `folder`, ascending (`EXAMINE` unless selected, then `UID SEARCH ALL`:
    /// UIDs only, no sizes or headers).
    pub async fn uids(&mut self, folder: &str) -> Result<Vec<u32>, ImapError> {
        self.select(folder, true, false).await?;
        let id = self
            .driver
            .machine_mut()
            .search(Instant::now(), vec![SearchKey::All])?;
        loop {
            match self.event().await? {
                ClientEvent::Searched { id: i, mut uids } if i == id => {
                    uids.sort_unstable();
                    uids.dedup();
                    return Ok(uids);
                }
                ClientEvent::Failed { id: i, error } if i == id => {
                    return Err(ImapError::Command {
                        action: format!("searching {folder:?}"),
                        error: Box::new(error),
                    });
                }
                _ => {}
            }
        }
    }

    /// Fails with [`ImapError::NoSuchMessage`] unless the selected folder holds `uid`
    /// (`UID SEARCH UID uid`).
    async fn ensure_exists(&mut self, folder: &str, uid: u32) -> Result<(), ImapError> {
        let id = self
            .driver
            .machine_mut()
            .search(Instant::now(), vec![SearchKey::Uid(single(uid)?)])?;
        loop {
            match self.event().await? {
                ClientEvent::Searched { id: i, uids } if i == id => {
                    return if uids.contains(&uid) {
                        Ok(())
                    } else {
                        Err(ImapError::NoSuchMessage {
                            folder: folder.to_owned(),
                            uid,
                        })
                    };
                }
                ClientEvent::Failed { id: i, error } if i == id => {
                    return Err(ImapError::Command {
                        action: format!("looking for UID {uid} in {folder:?}"),
                        error: Box::new(error),
                    });
                }
                _ => {}
            }
        }
    }

    /// Sets (`seen`) or clears the `\Seen` flag of message `uid` of `folder`.
    pub async fn mark(&mut self, folder: &str, uid: u32, seen: bool) -> Result<(), ImapError> {
        self.select(folder, false, false).await?;
        self.ensure_exists(folder, uid).await?;
        let now = Instant::now();
        let client = self.driver.machine_mut();
        let id = if seen {
            client.mark_seen(now, single(uid)?)?
        } else {
            client.mark_unseen(now, single(uid)?)?
        };
        let what = if seen { "seen" } else { "unseen" };
        self.completed(id, &format!("marking UID {uid} of {folder:?} {what}"))
            .await
    }

    /// Moves message `uid` of `folder` into `dest` (`UID MOVE`, RFC 6851; or COPY, STORE
    /// `\Deleted` and `UID EXPUNGE` of this message only when the server has UIDPLUS but not
    /// MOVE).
    pub async fn move_to(
        &mut self,
        folder: &str,
        uid: u32,
        dest: &str,
    ) -> Result<MoveReport, ImapError> {
        self.select(folder, false, false).await?;
        self.ensure_exists(folder, uid).await?;
        let id = self
            .driver
            .machine_mut()
            .move_messages(Instant::now(), single(uid)?, dest)?;
        loop {
            match self.event().await? {
                ClientEvent::Moved { id: i, copy_uid } if i == id => {
                    return Ok(MoveReport {
                        new_uid: copy_uid.as_ref().and_then(|c| first_uid(&c.to)),
                        uid_validity: copy_uid.map(|c| c.uid_validity.get()),
                    });
                }
                ClientEvent::Failed { id: i, error } if i == id => {
                    return Err(ImapError::Command {
                        action: format!("moving UID {uid} from {folder:?} to {dest:?}"),
                        error: Box::new(error),
                    });
                }
                _ => {}
            }
        }
    }

    /// Ends the session with LOGOUT and waits for the server to close it.
    pub async fn logout(mut self) -> Result<(), ImapError> {
        self.driver.machine_mut().logout(Instant::now())?;
        let mut closed = false;
        while let Some(event) = self.driver.next_event().await? {
            if event == ClientEvent::Closed {
                closed = true;
            }
        }
        if closed {
            Ok(())
        } else {
            Err(ImapError::Closed)
        }
    }

    /// Drops the connection without LOGOUT.
    pub fn abandon(self) {
        drop(self.driver.into_parts());
    }
}

/// A listing entry from one FETCH response: `None` without a UID.
fn message_info(seq: u32, attributes: &[MsgAtt<'_>]) -> Option<MessageInfo> {
    let mut uid = None;
    let mut flags = Vec::new();
    let mut seen = false;
    let mut size = 0;
    let mut headers = Headers::default();
    for a in attributes {
        match a {
            MsgAtt::Uid(u) => uid = Some(u.get()),
            MsgAtt::Flags(f) => {
                seen = f.contains(&Flag::Seen);
                flags = f.iter().map(flag_text).collect();
            }
            MsgAtt::Rfc822Size(s) => size = *s,
            MsgAtt::BodySection { section, data, .. }
                if section.part.is_empty() && section.text == Some(SectionText::Header) =>
            {
                if let Some(bytes) = &data.0 {
                    headers = parse_headers(bytes.as_bytes());
                }
            }
            MsgAtt::Rfc822Header(data) => {
                if let Some(bytes) = &data.0 {
                    headers = parse_headers(bytes.as_bytes());
                }
            }
            _ => {}
        }
    }
    Some(MessageInfo {
        uid: uid?,
        seq,
        flags,
        seen,
        size,
        headers,
    })
}

/// The longest decoded header value kept, in characters.
pub const MAX_FIELD: usize = 998;

/// Subject, From and Date from a message's header block (or a whole message: parsing stops
/// at the first empty line). Field names match in any case; folded lines are unfolded
/// (RFC 5322 §2.2.3); the first occurrence wins; RFC 2047 encoded words are decoded
/// ([`decode_encoded_words`]); control characters are removed and values are cut at
/// [`MAX_FIELD`] characters.
pub fn parse_headers(block: &[u8]) -> Headers {
    let mut headers = Headers::default();
    let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            if let Some((_, value)) = fields.last_mut() {
                if value.len() < 4 * MAX_FIELD {
                    value.extend_from_slice(line);
                }
            }
            continue;
        }
        match line.iter().position(|&b| b == b':') {
            Some(colon) => fields.push((line[..colon].to_vec(), line[colon + 1..].to_vec())),
            // Not a field (e.g. an mbox `From ` line): ignored, and not continued.
            None => fields.push((Vec::new(), Vec::new())),
        }
    }
    for (name, value) in fields {
        let name = String::from_utf8_lossy(&name);
        let slot = match name.trim_end() {
            n if n.eq_ignore_ascii_case("Subject") => &mut headers.subject,
            n if n.eq_ignore_ascii_case("From") => &mut headers.from,
            n if n.eq_ignore_ascii_case("Date") => &mut headers.date,
            _ => continue,
        };
        if slot.is_none() {
            let text = decode_encoded_words(&String::from_utf8_lossy(&value));
            let clean = mailsec_tls::text::sanitize(text.trim().as_bytes());
            *slot = Some(clean.chars().take(MAX_FIELD).collect());
        }
    }
    headers
}

/// Decodes RFC 2047 encoded words (`=?charset?B|Q?text?=`) in charsets UTF-8, US-ASCII and
/// ISO-8859-1; words in other charsets, or that do not decode, are kept as they are.
/// Whitespace between two adjacent encoded words is dropped (RFC 2047 §6.2).
pub fn decode_encoded_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // Whitespace held back after an encoded word, dropped if another one follows.
    let mut pending_space: Option<&str> = None;
    while !rest.is_empty() {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, tail) = rest.split_at(word_end);
        let space_end = tail
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(tail.len());
        let (space, next) = tail.split_at(space_end);
        match decode_word(word) {
            Some(decoded) => {
                out.push_str(&decoded);
                pending_space = Some(space);
            }
            None => {
                if let Some(s) = pending_space.take() {
                    out.push_str(s);
                }
                out.push_str(word);
                out.push_str(space);
            }
        }
        rest = next;
    }
    if let Some(s) = pending_space {
        out.push_str(s);
    }
    out
}

/// One `=?charset?enc?text?=` word, or `None`.
fn decode_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut parts = inner.splitn(3, '?');
    let charset = parts.next()?;
    let encoding = parts.next()?;
    let text = parts.next()?;
    if text.contains('?') {
        return None;
    }
    // RFC 2231 §5: `charset*language`.
    let charset = charset.split('*').next()?.to_ascii_lowercase();
    let bytes = match encoding {
        "B" | "b" => base64_decode(text.as_bytes())?,
        "Q" | "q" => q_decode(text.as_bytes())?,
        _ => return None,
    };
    match charset.as_str() {
        "utf-8" | "utf8" => String::from_utf8(bytes).ok(),
        "us-ascii" => bytes
            .is_ascii()
            .then(|| String::from_utf8_lossy(&bytes).into_owned()),
        "iso-8859-1" | "latin1" => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        _ => None,
    }
}

fn q_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = text.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let text = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in text {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Connects, lists the folders and logs out.
pub async fn folders(options: &ConnectOptions) -> Result<Vec<Folder>, ImapError> {
    let mut session = Session::connect(options).await?;
    let folders = session.folders().await?;
    session.logout().await?;
    Ok(folders)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_unfolded_case_insensitive_first_wins() {
        let block = b"Received: from x\r\n\tby y\r\nsubject: Hello\r\n  folded world\r\nFROM: Bob <bob@example.test>\r\nDate: Sat, 28 Nov 2026 19:26:51 +0000\r\nSubject: second\r\n\r\nSubject: in the body\r\n";
        let h = parse_headers(block);
        assert_eq!(h.subject.as_deref(), Some("Hello  folded world"));
        assert_eq!(h.from.as_deref(), Some("Bob <bob@example.test>"));
        assert_eq!(h.date.as_deref(), Some("Sat, 28 Nov 2026 19:26:51 +0000"));
    }

    #[test]
    fn headers_missing_fields_lf_only_and_stop_at_body() {
        let h = parse_headers(b"X-A: 1\n\nFrom: body@example.test\n");
        assert_eq!(h, Headers::default());
        let h = parse_headers(b"From: a@b\nSubject:\n");
        assert_eq!(h.from.as_deref(), Some("a@b"));
        assert_eq!(h.subject.as_deref(), Some(""));
    }

    #[test]
    fn headers_strip_control_characters() {
        let h = parse_headers(b"Subject: evil \x1b[31mred\x07\r\n\r\n");
        let s = h.subject.expect("subject");
        assert!(!s.contains('\x1b') && !s.contains('\x07'), "{s:?}");
        assert!(s.contains("red"));
        // An encoded word cannot smuggle them in either.
        let h = parse_headers(b"Subject: =?utf-8?q?a=1Bb?=\r\n");
        assert!(!h.subject.expect("subject").contains('\x1b'));
    }

    #[test]
    fn encoded_words_decode() {
        assert_eq!(
            decode_encoded_words("=?UTF-8?B?SGVsbG8gV8O2cmxk?="),
            "Hello Wörld"
        );
        assert_eq!(
            decode_encoded_words("=?iso-8859-1?q?caf=E9_cr=E8me?= ok"),
            "café crème ok"
        );
        // Space between adjacent encoded words disappears; around plain text it stays.
        assert_eq!(
            decode_encoded_words("a =?utf-8?q?b?= =?utf-8?q?c?= d"),
            "a bc d"
        );
        // Unknown charsets and broken words are kept as sent.
        assert_eq!(
            decode_encoded_words("=?koi8-r?b?8NLJ?= =?utf-8?x?y?= =?utf-8?b?@@?="),
            "=?koi8-r?b?8NLJ?= =?utf-8?x?y?= =?utf-8?b?@@?="
        );
        assert_eq!(decode_encoded_words("plain  text"), "plain  text");
    }

    #[test]
    fn base64_and_q_decoders() {
        assert_eq!(base64_decode(b"").unwrap(), b"");
        assert_eq!(base64_decode(b"YQ==").unwrap(), b"a");
        assert_eq!(base64_decode(b"YWI=").unwrap(), b"ab");
        assert_eq!(base64_decode(b"YWJj").unwrap(), b"abc");
        assert!(base64_decode(b"Y*==").is_none());
        assert_eq!(q_decode(b"a_b=3D").unwrap(), b"a b=");
        assert!(q_decode(b"a=4").is_none());
        assert!(q_decode(b"a=zz").is_none());
    }

    #[test]
    fn message_info_from_fetch_attributes() {
        use mailsec_imap::types::{IString, NString, Section};
        let attrs = vec![
            MsgAtt::Uid(NonZeroU32::new(7).unwrap()),
            MsgAtt::Flags(
                vec![
                    Flag::Seen,
                    Flag::Keyword(mailsec_imap::types::Atom::new("$Junk").unwrap()),
                ]
                .into(),
            ),
            MsgAtt::Rfc822Size(1234),
            MsgAtt::BodySection {
                section: Section {
                    part: Vec::new(),
                    text: Some(SectionText::Header),
                },
                origin: None,
                data: NString(Some(IString::new(&b"Subject: hi\r\n\r\n"[..]).unwrap())),
            },
        ];
        let m = message_info(3, &attrs).expect("info");
        assert_eq!((m.uid, m.seq, m.size, m.seen), (7, 3, 1234, true));
        assert_eq!(m.flags, vec!["\\Seen".to_owned(), "$Junk".to_owned()]);
        assert_eq!(m.headers.subject.as_deref(), Some("hi"));
        assert!(message_info(3, &attrs[1..]).is_none(), "no UID, no entry");
    }

    #[test]
    fn addresses_get_default_ports() {
        assert_eq!(
            with_default_port("mail.example", ClientTls::Implicit),
            "mail.example:993"
        );
        assert_eq!(
            with_default_port("mail.example", ClientTls::StartTlsRequired),
            "mail.example:143"
        );
        assert_eq!(
            with_default_port("mail.example:1993", ClientTls::Implicit),
            "mail.example:1993"
        );
        assert_eq!(
            with_default_port("[::1]:1143", ClientTls::Implicit),
            "[::1]:1143"
        );
        assert_eq!(with_default_port("[::1]", ClientTls::Implicit), "[::1]:993");
        assert_eq!(with_default_port("::1", ClientTls::Implicit), "[::1]:993");
    }

    #[test]
    fn folders_from_list_entries() {
        use mailsec_imap::types::{Atom, Mailbox, MailboxAttribute};
        let attr = |a: &'static str| MailboxAttribute(Atom::new(a).unwrap());
        let entry = ListData {
            lsub: false,
            attributes: vec![attr("HasNoChildren"), attr("Sent")],
            delimiter: Some(b'/'),
            mailbox: Mailbox::from_utf8("Gesendet-ü", false).unwrap(),
            extended: Vec::new(),
        };
        let f = Folder::from_list(&entry);
        assert_eq!(f.name, "Gesendet-ü");
        assert_eq!(f.delimiter, Some('/'));
        assert_eq!(f.special_use, Some(SpecialUse::Sent));
        assert_eq!(f.attributes, vec!["\\HasNoChildren", "\\Sent"]);
        assert!(f.selectable);
        let entry = ListData {
            attributes: vec![attr("NoSelect")],
            delimiter: None,
            mailbox: Mailbox::Inbox,
            ..entry
        };
        let f = Folder::from_list(&entry);
        assert_eq!(
            (f.name.as_str(), f.selectable, f.special_use),
            ("INBOX", false, None)
        );
    }
}
