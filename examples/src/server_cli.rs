//! The command line of `mailsec-server`, its TLS material and certificate reload.
//!
//! ```text
//! mailsec-server [--hostname mail.example.test] [--maildir ./maildir] [--users users.txt]
//!                [--cert chain.pem --key key.pem | --ca-out ca.pem]
//!                [--smtp-mx 127.0.0.1:2525] [--smtp-submission 127.0.0.1:2587]
//!                [--smtps 127.0.0.1:2465] [--pop3 127.0.0.1:2110] [--pop3s 127.0.0.1:2995]
//!                [--imap 127.0.0.1:2143] [--imaps 127.0.0.1:2993] [--reload-interval 60] [--max-connections 100]
//!                [--allow-plaintext-auth]
//! mailsec-server hash-password <user> [--scheme argon2|scram-sha-256|plain]   (password on stdin)
//! ```
//!
//! Every listener address takes `off` to disable it. Without `--cert`/`--key` the server makes
//! a demo CA and a certificate for `--hostname`, `localhost` and `127.0.0.1`, and writes the CA
//! certificate where clients can trust it with `--ca` ([`ServerArgs::generated_ca_path`]).
//! With `--cert`/`--key`, [`CertReloader`] rereads both files every `--reload-interval`
//! seconds and on `SIGHUP` (Unix), and serves a changed pair from the next handshake on.
//! [`cancel_on_signal`] turns Ctrl-C or `SIGTERM` into a graceful shutdown of the listeners.

use std::fmt;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mailsec_tls::rustls::crypto::CryptoProvider;
use mailsec_tls::testing::{TestPki, Validity};
use mailsec_tls::{CertStore, ServerPolicy, ServerTlsConfig, TlsError};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::listener::{ConnectionTls, Listener, ListenerOptions};
use crate::maildir::{Maildir, MaildirError};
use crate::users::{Scheme, Users, UsersError, hash_password_line};

/// A listener address, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// The listener is disabled.
    Off,
    /// Listen here.
    At(SocketAddr),
}

impl Endpoint {
    /// The address, if the listener is on.
    pub fn addr(self) -> Option<SocketAddr> {
        match self {
            Endpoint::Off => None,
            Endpoint::At(addr) => Some(addr),
        }
    }
}

impl std::str::FromStr for Endpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "off" | "none" | "no" => Ok(Endpoint::Off),
            _ => s
                .parse()
                .map(Endpoint::At)
                .map_err(|_| format!("{s:?} is neither an address like 127.0.0.1:2525 nor `off`")),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Off => f.write_str("off"),
            Endpoint::At(addr) => addr.fmt(f),
        }
    }
}

/// `mailsec-server`: the example mail server.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "mailsec-server",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct ServerCli {
    /// A helper command instead of running the server.
    #[command(subcommand)]
    pub command: Option<ServerCommand>,
    /// The server's settings.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Helper commands.
#[derive(Clone, Debug, Subcommand)]
#[non_exhaustive]
pub enum ServerCommand {
    /// Print a users-file line for a password read from the first line of standard input.
    HashPassword(HashPasswordArgs),
}

/// Arguments of `hash-password`.
#[derive(Clone, Debug, Args)]
pub struct HashPasswordArgs {
    /// The user name (also the maildir name).
    pub user: String,
    /// `argon2` (PLAIN/LOGIN), `scram-sha-256` (SCRAM and PLAIN/LOGIN) or `plain` (demos).
    #[arg(long, default_value = "argon2")]
    pub scheme: Scheme,
}

/// The settings of a server run.
#[derive(Clone, Debug, Args)]
pub struct ServerArgs {
    /// The server's host name: greetings, certificate name, unique maildir names.
    #[arg(long, default_value = "localhost")]
    pub hostname: String,
    /// The root of the per-user maildirs (`<dir>/<user>/{tmp,new,cur}`).
    #[arg(long, default_value = "./maildir")]
    pub maildir: PathBuf,
    /// The users file (`name:scheme:secret` lines; see `hash-password`). Without it nobody can
    /// log in and mail is accepted for no one. SCRAM-SHA-256 is offered only when every user
    /// has a `scram-sha-256` (or `plain`) line; PLAIN and LOGIN always.
    #[arg(long)]
    pub users: Option<PathBuf>,
    /// The certificate chain, PEM (end-entity first). Needs `--key`.
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key, PEM. Needs `--cert`.
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Without `--cert`: where to write the generated demo CA certificate (default
    /// `<maildir>/.mailsec-demo-ca.pem`).
    #[arg(long, conflicts_with = "cert")]
    pub ca_out: Option<PathBuf>,
    /// SMTP for other servers (MX): STARTTLS offered, not required; no AUTH.
    #[arg(long, default_value = "127.0.0.1:2525")]
    pub smtp_mx: Endpoint,
    /// SMTP submission (port 587 style): STARTTLS required before AUTH and mail.
    #[arg(long, default_value = "127.0.0.1:2587")]
    pub smtp_submission: Endpoint,
    /// SMTP submission over implicit TLS (port 465 style, RFC 8314).
    #[arg(long, default_value = "127.0.0.1:2465")]
    pub smtps: Endpoint,
    /// POP3 (port 110 style): STLS required before login.
    #[arg(long, default_value = "127.0.0.1:2110")]
    pub pop3: Endpoint,
    /// POP3 over implicit TLS (port 995 style).
    #[arg(long, default_value = "127.0.0.1:2995")]
    pub pop3s: Endpoint,
    /// IMAP (port 143 style): STARTTLS required before login (LOGINDISABLED until TLS).
    #[arg(long, default_value = "127.0.0.1:2143")]
    pub imap: Endpoint,
    /// IMAP over implicit TLS (port 993 style).
    #[arg(long, default_value = "127.0.0.1:2993")]
    pub imaps: Endpoint,
    /// DANGEROUS, for demonstrations only: the STARTTLS listeners (submission, POP3, IMAP) run
    /// without TLS and accept passwords in clear. Implicit-TLS listeners are unchanged.
    #[arg(long)]
    pub allow_plaintext_auth: bool,
    /// With `--cert`/`--key`: seconds between checks of the files for a renewed certificate
    /// (0: only on SIGHUP).
    #[arg(long, default_value_t = 60)]
    pub reload_interval: u64,
    /// Sessions per listener at once.
    #[arg(long, default_value_t = 100)]
    pub max_connections: usize,
}

/// The kinds of listener the server has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListenerKind {
    /// SMTP from other servers.
    SmtpMx,
    /// SMTP submission with STARTTLS.
    SmtpSubmission,
    /// SMTP submission over implicit TLS.
    Smtps,
    /// POP3 with STLS.
    Pop3,
    /// POP3 over implicit TLS.
    Pop3s,
    /// IMAP with STARTTLS.
    Imap,
    /// IMAP over implicit TLS.
    Imaps,
}

impl ListenerKind {
    /// Every kind, in the order listeners are started.
    pub const ALL: [ListenerKind; 7] = [
        ListenerKind::SmtpMx,
        ListenerKind::SmtpSubmission,
        ListenerKind::Smtps,
        ListenerKind::Pop3,
        ListenerKind::Pop3s,
        ListenerKind::Imap,
        ListenerKind::Imaps,
    ];

    /// The name used in logs (the option name).
    pub fn name(self) -> &'static str {
        match self {
            ListenerKind::SmtpMx => "smtp-mx",
            ListenerKind::SmtpSubmission => "smtp-submission",
            ListenerKind::Smtps => "smtps",
            ListenerKind::Pop3 => "pop3",
            ListenerKind::Pop3s => "pop3s",
            ListenerKind::Imap => "imap",
            ListenerKind::Imaps => "imaps",
        }
    }

    /// The ALPN protocol id of the listener (RFC 7301 registry; refuses ALPACA cross-protocol
    /// clients that offer only other protocols).
    pub fn alpn(self) -> &'static [u8] {
        match self {
            ListenerKind::SmtpMx | ListenerKind::SmtpSubmission | ListenerKind::Smtps => b"smtp",
            ListenerKind::Pop3 | ListenerKind::Pop3s => b"pop3",
            ListenerKind::Imap | ListenerKind::Imaps => b"imap",
        }
    }

    /// Whether TLS starts with the first byte.
    pub fn is_implicit(self) -> bool {
        matches!(
            self,
            ListenerKind::Smtps | ListenerKind::Pop3s | ListenerKind::Imaps
        )
    }

    /// The security policy to give this listener's machines.
    ///
    /// MX: STARTTLS offered but optional (other servers without TLS must still deliver),
    /// credentials never accepted in clear. Submission, POP3, IMAP: STARTTLS required
    /// (RFC 8314 §3.3), or no TLS with credentials in clear under `--allow-plaintext-auth`.
    /// Implicit TLS: always secure.
    pub fn policy(self, allow_plaintext_auth: bool) -> ServerPolicy {
        match self {
            ListenerKind::SmtpMx => ServerPolicy::starttls_optional(),
            k if k.is_implicit() => ServerPolicy::implicit_tls(),
            _ if allow_plaintext_auth => ServerPolicy::insecure_plaintext(),
            _ => ServerPolicy::starttls_required(),
        }
    }
}

/// Errors of setting the server up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// TLS configuration (certificate files, PEM, provider).
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The users file.
    #[error("users file: {0}")]
    Users(#[from] UsersError),
    /// The maildir root.
    #[error("maildir: {0}")]
    Maildir(#[from] MaildirError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A listener could not bind its address.
    #[error("{}: cannot listen on {addr}: {source}", kind.name())]
    Bind {
        /// Which listener.
        kind: ListenerKind,
        /// The address.
        addr: SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The command line does not make sense.
    #[error("{0}")]
    Usage(String),
}

/// Where the server's certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertSource {
    /// `--cert`/`--key` files (reloadable).
    Files {
        /// The chain.
        cert: PathBuf,
        /// The key.
        key: PathBuf,
    },
    /// A demo CA generated at start; its certificate was written to `ca_path`.
    Generated {
        /// Where the CA certificate (PEM) is, for clients' `--ca`.
        ca_path: PathBuf,
    },
}

/// The server's certificates and the provider to serve them with.
#[derive(Clone, Debug)]
pub struct TlsMaterial {
    /// The reloadable certificate store shared by every listener.
    pub store: Arc<CertStore>,
    /// The crypto provider (ring).
    pub provider: Arc<CryptoProvider>,
    /// Where the certificate came from.
    pub source: CertSource,
}

impl TlsMaterial {
    /// A server configuration over the shared store offering `alpn` (one per listener kind:
    /// [`ListenerKind::alpn`]).
    pub fn server_config(&self, alpn: &[u8]) -> Result<ServerTlsConfig, TlsError> {
        ServerTlsConfig::builder(self.store.clone())
            .provider(self.provider.clone())
            .alpn([alpn])
            .build()
    }

    /// How connections of a listener kind start, under the server's settings.
    pub fn connection_tls(
        &self,
        kind: ListenerKind,
        allow_plaintext_auth: bool,
    ) -> Result<ConnectionTls, TlsError> {
        let policy = kind.policy(allow_plaintext_auth);
        Ok(match policy.tls() {
            mailsec_tls::ListenerTls::Implicit => {
                ConnectionTls::Implicit(self.server_config(kind.alpn())?)
            }
            mailsec_tls::ListenerTls::StartTls => {
                ConnectionTls::StartTls(self.server_config(kind.alpn())?)
            }
            _ => ConnectionTls::None,
        })
    }

    /// A [`CertReloader`] for `--cert`/`--key` material; `None` for a generated certificate.
    pub fn reloader(&self) -> Option<CertReloader> {
        match &self.source {
            CertSource::Files { cert, key } => Some(CertReloader::new(
                self.store.clone(),
                cert.clone(),
                key.clone(),
            )),
            CertSource::Generated { .. } => None,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        path: path.to_owned(),
        source,
    }
}

impl ServerArgs {
    /// The listeners that are on, with their addresses, in [`ListenerKind::ALL`] order.
    pub fn listeners(&self) -> Vec<(ListenerKind, SocketAddr)> {
        ListenerKind::ALL
            .into_iter()
            .filter_map(|kind| self.endpoint(kind).addr().map(|addr| (kind, addr)))
            .collect()
    }

    /// The configured endpoint of a listener kind.
    pub fn endpoint(&self, kind: ListenerKind) -> Endpoint {
        match kind {
            ListenerKind::SmtpMx => self.smtp_mx,
            ListenerKind::SmtpSubmission => self.smtp_submission,
            ListenerKind::Smtps => self.smtps,
            ListenerKind::Pop3 => self.pop3,
            ListenerKind::Pop3s => self.pop3s,
            ListenerKind::Imap => self.imap,
            ListenerKind::Imaps => self.imaps,
        }
    }

    /// Where a generated demo CA certificate is written.
    pub fn generated_ca_path(&self) -> PathBuf {
        self.ca_out
            .clone()
            .unwrap_or_else(|| self.maildir.join(".mailsec-demo-ca.pem"))
    }

    /// The reload interval, if reloading is on.
    pub fn reload_every(&self) -> Option<Duration> {
        (self.reload_interval > 0).then(|| Duration::from_secs(self.reload_interval))
    }

    /// Loads `--cert`/`--key`, or generates a demo CA and a certificate for `--hostname`,
    /// `localhost` and `127.0.0.1` and writes the CA certificate to
    /// [`ServerArgs::generated_ca_path`] (the directory is created if needed).
    pub fn tls_material(&self) -> Result<TlsMaterial, CliError> {
        let provider = mailsec_tls::testing::provider();
        let store = CertStore::new(provider.clone());
        let source = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                store.set_default_files(cert, key)?;
                CertSource::Files {
                    cert: cert.clone(),
                    key: key.clone(),
                }
            }
            (None, None) => {
                let pki = TestPki::new(&self.hostname);
                let mut names = vec![self.hostname.as_str()];
                for extra in ["localhost", "127.0.0.1"] {
                    if !names.contains(&extra) {
                        names.push(extra);
                    }
                }
                let leaf = pki.issue(&names, Validity::Current);
                store.set_default_pem(leaf.chain.as_bytes(), leaf.key.as_bytes())?;
                let ca_path = self.generated_ca_path();
                if let Some(dir) = ca_path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
                }
                std::fs::write(&ca_path, pki.ca_pem()).map_err(io_err(&ca_path))?;
                CertSource::Generated { ca_path }
            }
            _ => {
                return Err(CliError::Usage("--cert and --key go together".to_owned()));
            }
        };
        Ok(TlsMaterial {
            store,
            provider,
            source,
        })
    }

    /// Binds every listener that is on, each with its [`ConnectionTls`] (from
    /// [`TlsMaterial::connection_tls`]) and [`ListenerOptions`] named after its kind with
    /// `--max-connections`. The caller serves each with the machine of its kind.
    pub async fn bind_listeners(
        &self,
        tls: &TlsMaterial,
    ) -> Result<Vec<(ListenerKind, Listener)>, CliError> {
        let mut out = Vec::new();
        for (kind, addr) in self.listeners() {
            let connection_tls = tls.connection_tls(kind, self.allow_plaintext_auth)?;
            let options = ListenerOptions::new(kind.name()).max_connections(self.max_connections);
            let listener = Listener::bind(addr, connection_tls, options)
                .await
                .map_err(|source| CliError::Bind { kind, addr, source })?;
            out.push((kind, listener));
        }
        Ok(out)
    }

    /// Opens the maildir root (created if missing).
    pub fn open_maildir(&self) -> Result<Arc<Maildir>, CliError> {
        Ok(Arc::new(Maildir::open(&self.maildir, &self.hostname)?))
    }

    /// Loads the users file; no file gives no users. Print [`Users::warnings`] to the operator.
    ///
    /// The file is read once, at start: build every listener's configuration from the
    /// [`Users`] returned (the SASL mechanisms offered are [`Users::mechanisms`]: SCRAM-SHA-256
    /// only when every user has SCRAM keys). A reload would have to rebuild those
    /// configurations too, so that what is advertised follows the file.
    pub fn load_users(&self) -> Result<Arc<Users>, CliError> {
        match &self.users {
            Some(path) => Ok(Arc::new(Users::load(path)?)),
            None => Ok(Arc::new(Users::default())),
        }
    }
}

/// Runs `hash-password`: reads the password from the first line of `input` (without its line
/// ending) and returns the users-file line to print.
pub fn hash_password_command(
    args: &HashPasswordArgs,
    mut input: impl BufRead,
) -> Result<String, CliError> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(io_err(Path::new("<stdin>")))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(CliError::Usage(
            "give the password on standard input".to_owned(),
        ));
    }
    Ok(hash_password_line(&args.user, args.scheme, password)?)
}

/// What one [`CertReloader::check`] did.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReloadOutcome {
    /// The files did not change.
    Unchanged,
    /// The files changed and the new pair is served from the next handshake on.
    Reloaded,
    /// The files changed but do not load (a renewal half-written, a key that does not match):
    /// the old certificate is still served; the next check tries again.
    Failed(TlsError),
}

/// Watches `--cert`/`--key` and loads a changed pair into the [`CertStore`].
///
/// It compares SHA-256 digests of the files' contents, which catches a renewal however the
/// files were replaced (rename, rewrite, same mtime).
#[derive(Debug)]
pub struct CertReloader {
    store: Arc<CertStore>,
    cert: PathBuf,
    key: PathBuf,
    loaded: Option<[u8; 32]>,
}

impl CertReloader {
    /// A reloader for the pair already loaded into `store` from these files.
    pub fn new(store: Arc<CertStore>, cert: PathBuf, key: PathBuf) -> Self {
        let mut reloader = CertReloader {
            store,
            cert,
            key,
            loaded: None,
        };
        reloader.loaded = reloader.digest();
        reloader
    }

    /// Digest of both files, or `None` when one cannot be read.
    fn digest(&self) -> Option<[u8; 32]> {
        let cert = std::fs::read(&self.cert).ok()?;
        let key = std::fs::read(&self.key).ok()?;
        let mut h = Sha256::new();
        h.update((cert.len() as u64).to_be_bytes());
        h.update(&cert);
        h.update(&key);
        Some(h.finalize().into())
    }

    /// Checks the files once.
    pub fn check(&mut self) -> ReloadOutcome {
        let now = self.digest();
        if now.is_some() && now == self.loaded {
            return ReloadOutcome::Unchanged;
        }
        match self.store.set_default_files(&self.cert, &self.key) {
            Ok(()) => {
                self.loaded = now;
                ReloadOutcome::Reloaded
            }
            Err(err) => ReloadOutcome::Failed(err),
        }
    }

    /// Checks the files in a tokio task every `interval` (if given) and, on Unix, whenever the
    /// process receives `SIGHUP`, until `shutdown` fires. `report` hears every outcome other
    /// than [`ReloadOutcome::Unchanged`].
    pub fn spawn(
        mut self,
        interval: Option<Duration>,
        shutdown: CancellationToken,
        mut report: impl FnMut(ReloadOutcome) + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = interval.map(|every| {
                let mut ticks =
                    tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks
            });
            let mut hangups = Hangups::new();
            loop {
                let tick = async {
                    match ticks.as_mut() {
                        Some(ticks) => {
                            ticks.tick().await;
                        }
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick => {}
                    _ = hangups.recv() => {}
                }
                match self.check() {
                    ReloadOutcome::Unchanged => {}
                    other => report(other),
                }
            }
        })
    }
}

/// `SIGHUP` deliveries on Unix; never on other platforms or when the handler cannot be set.
struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    fn new() -> Self {
        Hangups {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok(),
        }
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = self.signal.as_mut() {
            if signal.recv().await.is_some() {
                return;
            }
        }
        std::future::pending::<()>().await
    }
}

/// Cancels `shutdown` on Ctrl-C (and `SIGTERM` on Unix), for a graceful stop of every listener
/// sharing the token.
pub fn cancel_on_signal(shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        #[cfg(unix)]
        let terminated = async {
            match term.as_mut() {
                Some(term) => {
                    term.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let terminated = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminated => {}
            _ = shutdown.cancelled() => return,
        }
        shutdown.cancel();
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailsec_tls::ClientTlsConfig;
    use mailsec_tls::pki_types::CertificateDer;
    use mailsec_tls::testing::handshake;

    fn parse(args: &[&str]) -> Result<ServerCli, clap::Error> {
        ServerCli::try_parse_from(std::iter::once("mailsec-server").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_listen_on_loopback_high_ports() {
        let cli = parse(&[]).unwrap();
        assert!(cli.command.is_none());
        let got: Vec<(&str, String)> = cli
            .server
            .listeners()
            .into_iter()
            .map(|(k, a)| (k.name(), a.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                ("smtp-mx", "127.0.0.1:2525".to_owned()),
                ("smtp-submission", "127.0.0.1:2587".to_owned()),
                ("smtps", "127.0.0.1:2465".to_owned()),
                ("pop3", "127.0.0.1:2110".to_owned()),
                ("pop3s", "127.0.0.1:2995".to_owned()),
                ("imap", "127.0.0.1:2143".to_owned()),
                ("imaps", "127.0.0.1:2993".to_owned()),
            ]
        );
        assert!(!cli.server.allow_plaintext_auth);
        assert_eq!(cli.server.reload_every(), Some(Duration::from_secs(60)));
        assert_eq!(cli.server.hostname, "localhost");
    }

    #[test]
    fn listeners_can_be_moved_and_turned_off() {
        let cli = parse(&[
            "--pop3",
            "off",
            "--smtp-mx",
            "[::1]:25",
            "--imaps",
            "127.0.0.1:3993",
            "--reload-interval",
            "0",
        ])
        .unwrap();
        let kinds: Vec<_> = cli.server.listeners().into_iter().map(|(k, _)| k).collect();
        assert!(!kinds.contains(&ListenerKind::Pop3));
        assert!(kinds.contains(&ListenerKind::Imaps));
        assert_eq!(
            cli.server.endpoint(ListenerKind::Imaps),
            Endpoint::At("127.0.0.1:3993".parse().unwrap())
        );
        assert_eq!(
            cli.server.endpoint(ListenerKind::SmtpMx),
            Endpoint::At("[::1]:25".parse().unwrap())
        );
        assert_eq!(cli.server.reload_every(), None);
        assert!(parse(&["--pop3", "nowhere"]).is_err());
    }

    #[test]
    fn cert_and_key_go_together() {
        assert!(parse(&["--cert", "c.pem"]).is_err());
        assert!(parse(&["--key", "k.pem"]).is_err());
        assert!(parse(&["--cert", "c.pem", "--key", "k.pem"]).is_ok());
        assert!(parse(&["--cert", "c.pem", "--key", "k.pem", "--ca-out", "x"]).is_err());
    }

    #[test]
    fn policies_per_listener() {
        use ListenerKind::*;
        assert!(!SmtpMx.policy(false).requires_secure_channel());
        assert!(!SmtpMx.policy(true).plaintext_credentials_allowed(false));
        for k in [SmtpSubmission, Pop3, Imap] {
            assert!(k.policy(false).requires_secure_channel());
            assert!(k.policy(false).offers_starttls(false));
            assert!(!k.policy(false).plaintext_credentials_allowed(false));
            assert!(k.policy(true).plaintext_credentials_allowed(false));
        }
        for k in [Smtps, Pop3s, Imaps] {
            assert_eq!(k.policy(true), ServerPolicy::implicit_tls());
        }
        assert_eq!(Smtps.alpn(), b"smtp");
        assert_eq!(Pop3.alpn(), b"pop3");
    }

    #[test]
    fn hash_password_subcommand() {
        let cli = parse(&["hash-password", "alice", "--scheme", "scram-sha-256"]).unwrap();
        let Some(ServerCommand::HashPassword(args)) = cli.command else {
            panic!("subcommand expected");
        };
        let line = hash_password_command(&args, &b"pencil\r\nignored\n"[..]).unwrap();
        assert!(line.starts_with("alice:scram-sha-256:SCRAM-SHA-256$"));
        let users = Users::parse(&line).unwrap();
        assert!(users.verify_password("alice", "pencil"));
        assert!(matches!(
            hash_password_command(&args, &b"\n"[..]),
            Err(CliError::Usage(_))
        ));
        assert!(parse(&["hash-password", "alice", "--scheme", "md5"]).is_err());
    }

    fn leaf_of(store: &CertStore) -> CertificateDer<'static> {
        store.end_entity_for(None).expect("a default certificate")
    }

    #[test]
    fn generated_certificate_is_trusted_through_the_written_ca() {
        let dir = crate::test_support::temp_dir("gen");
        let maildir = dir.path().join("mail");
        let cli = parse(&[
            "--hostname",
            "mail.example.test",
            "--maildir",
            maildir.to_str().unwrap(),
        ])
        .unwrap();
        let tls = cli.server.tls_material().unwrap();
        let CertSource::Generated { ca_path } = &tls.source else {
            panic!("generated expected");
        };
        assert_eq!(*ca_path, maildir.join(".mailsec-demo-ca.pem"));
        assert!(tls.reloader().is_none());
        let client = ClientTlsConfig::builder()
            .add_ca_file(ca_path)
            .unwrap()
            .provider(tls.provider.clone())
            .alpn([b"pop3"])
            .build()
            .unwrap();
        for name in ["mail.example.test", "localhost", "127.0.0.1"] {
            let mut c = mailsec_tls::Pipe::implicit_tls(client.connect(name).unwrap());
            let server = tls.server_config(ListenerKind::Pop3s.alpn()).unwrap();
            let mut s = mailsec_tls::Pipe::implicit_tls(server.accept().unwrap());
            let (cr, sr) = handshake(&mut c, &mut s);
            cr.unwrap();
            sr.unwrap();
            assert!(c.is_secure(), "{name}");
            assert_eq!(c.tls_info().unwrap().alpn.as_deref(), Some(&b"pop3"[..]));
        }
        // ALPACA: a client offering only another protocol is refused.
        let https = ClientTlsConfig::builder()
            .add_ca_file(ca_path)
            .unwrap()
            .provider(tls.provider.clone())
            .alpn([b"http/1.1"])
            .build()
            .unwrap();
        let mut c = mailsec_tls::Pipe::implicit_tls(https.connect("localhost").unwrap());
        let server = tls.server_config(ListenerKind::Smtps.alpn()).unwrap();
        let mut s = mailsec_tls::Pipe::implicit_tls(server.accept().unwrap());
        let (_, sr) = handshake(&mut c, &mut s);
        assert!(sr.is_err());
        // The kinds' connection modes.
        assert!(matches!(
            tls.connection_tls(ListenerKind::Pop3, false).unwrap(),
            ConnectionTls::StartTls(_)
        ));
        assert!(matches!(
            tls.connection_tls(ListenerKind::Pop3, true).unwrap(),
            ConnectionTls::None
        ));
        assert!(matches!(
            tls.connection_tls(ListenerKind::SmtpMx, true).unwrap(),
            ConnectionTls::StartTls(_)
        ));
        assert!(matches!(
            tls.connection_tls(ListenerKind::Smtps, true).unwrap(),
            ConnectionTls::Implicit(_)
        ));
    }

    #[test]
    fn files_are_loaded_and_reloaded_when_they_change() {
        let dir = crate::test_support::temp_dir("reload");
        let cert = dir.path().join("chain.pem");
        let key = dir.path().join("key.pem");
        let pki = TestPki::new("mail.example.test");
        std::fs::write(&cert, pki.leaf_chain_pem()).unwrap();
        std::fs::write(&key, pki.leaf_key_pem()).unwrap();
        let cli = parse(&[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ])
        .unwrap();
        let tls = cli.server.tls_material().unwrap();
        let first = leaf_of(&tls.store);
        let mut reloader = tls.reloader().expect("files are reloadable");
        assert!(matches!(reloader.check(), ReloadOutcome::Unchanged));

        // A renewal written in two steps: after the chain only, the pair does not match.
        let renewed = pki.issue(&["mail.example.test"], Validity::Current);
        std::fs::write(&cert, &renewed.chain).unwrap();
        assert!(matches!(reloader.check(), ReloadOutcome::Failed(_)));
        assert_eq!(leaf_of(&tls.store), first, "old certificate still served");
        std::fs::write(&key, &renewed.key).unwrap();
        assert!(matches!(reloader.check(), ReloadOutcome::Reloaded));
        let second = leaf_of(&tls.store);
        assert_ne!(second, first);
        assert!(matches!(reloader.check(), ReloadOutcome::Unchanged));

        // A file that disappears is a failure, not a reload; the certificate stays.
        std::fs::remove_file(&key).unwrap();
        assert!(matches!(reloader.check(), ReloadOutcome::Failed(_)));
        assert_eq!(leaf_of(&tls.store), second);
    }

    #[tokio::test]
    async fn binds_the_listeners_that_are_on() {
        let dir = crate::test_support::temp_dir("bind");
        let ca = dir.path().join("ca.pem");
        let any = "127.0.0.1:0";
        let cli = parse(&[
            "--ca-out",
            ca.to_str().unwrap(),
            "--smtp-mx",
            any,
            "--smtp-submission",
            "off",
            "--smtps",
            any,
            "--pop3",
            any,
            "--pop3s",
            "off",
            "--imap",
            "off",
            "--imaps",
            "off",
            "--max-connections",
            "7",
        ])
        .unwrap();
        let tls = cli.server.tls_material().unwrap();
        let bound = cli.server.bind_listeners(&tls).await.unwrap();
        let kinds: Vec<_> = bound.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [
                ListenerKind::SmtpMx,
                ListenerKind::Smtps,
                ListenerKind::Pop3
            ]
        );
        for (kind, listener) in &bound {
            assert_eq!(&*listener.options().name, kind.name());
            assert_eq!(listener.options().max_connections, 7);
            assert_ne!(listener.local_addr().unwrap().port(), 0);
        }
        // A taken address is reported with its listener.
        let taken = bound[0].1.local_addr().unwrap().to_string();
        let clash = parse(&["--ca-out", ca.to_str().unwrap(), "--smtp-mx", &taken]).unwrap();
        let mut only_mx = clash.server.clone();
        only_mx.smtp_submission = Endpoint::Off;
        only_mx.smtps = Endpoint::Off;
        only_mx.pop3 = Endpoint::Off;
        only_mx.pop3s = Endpoint::Off;
        assert!(matches!(
            only_mx.bind_listeners(&tls).await,
            Err(CliError::Bind {
                kind: ListenerKind::SmtpMx,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn signal_tasks_end_with_the_token() {
        let shutdown = CancellationToken::new();
        let watcher = cancel_on_signal(shutdown.clone());
        let pki = TestPki::new("mail.example.test");
        let store = TestPki::store_with(pki.leaf());
        let reloader = CertReloader::new(store, "/nonexistent/c".into(), "/nonexistent/k".into());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        // No interval: only SIGHUP would trigger a check, so nothing is reported.
        let task = reloader.spawn(None, shutdown.clone(), move |_| {
            let _ = tx.send(());
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!watcher.is_finished(), "waits for a signal");
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), watcher)
            .await
            .unwrap()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        assert!(
            rx.recv().await.is_none(),
            "no check ran without a tick or signal"
        );
    }

    #[tokio::test]
    async fn reloader_task_reports_and_stops() {
        let dir = crate::test_support::temp_dir("reload-task");
        let cert = dir.path().join("chain.pem");
        let key = dir.path().join("key.pem");
        let pki = TestPki::new("mail.example.test");
        std::fs::write(&cert, pki.leaf_chain_pem()).unwrap();
        std::fs::write(&key, pki.leaf_key_pem()).unwrap();
        let store = TestPki::store_with(pki.leaf());
        let reloader = CertReloader::new(store.clone(), cert.clone(), key.clone());
        let shutdown = CancellationToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = reloader.spawn(
            Some(Duration::from_millis(20)),
            shutdown.clone(),
            move |o| {
                let _ = tx.send(matches!(o, ReloadOutcome::Reloaded));
            },
        );
        let renewed = pki.issue(&["mail.example.test"], Validity::Current);
        // Write both files into place at once (as a renewal tool renaming them would).
        std::fs::write(dir.path().join("k.tmp"), &renewed.key).unwrap();
        std::fs::write(dir.path().join("c.tmp"), &renewed.chain).unwrap();
        std::fs::rename(dir.path().join("k.tmp"), &key).unwrap();
        std::fs::rename(dir.path().join("c.tmp"), &cert).unwrap();
        let mut reloaded = false;
        while let Ok(Some(ok)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            if ok {
                reloaded = true;
                break;
            }
        }
        assert!(reloaded);
        let served = store.end_entity_for(None).unwrap();
        let expected = mailsec_tls::config::certificates_from_pem(renewed.chain.as_bytes())
            .unwrap()
            .remove(0);
        assert_eq!(served, expected);
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("stops on shutdown")
            .unwrap();
    }
}
