//! Our own services (SMTP MX/submission/submissions, IMAP/IMAPS, POP3/POP3S) started in-process
//! on loopback listeners, as `mailsec-server` runs them, for the interop and tool tests.
//!
//! ```ignore
//! let pki = TestPki::new("localhost");
//! let services = Services::builder(&pki)
//!     .name("imaplib")
//!     .listen(&[ListenerKind::Imap, ListenerKind::Imaps])
//!     .users("alice:plain:secret\n")
//!     .start();
//! services.deliver("alice", b"Subject: hi\r\n\r\nhello\r\n");
//! let port = services.port(ListenerKind::Imaps);
//! ```
//!
//! Every listener serves one maildir (`<dir>/maildir`) and one users file (`<dir>/users.txt`)
//! of a fresh temporary directory, which also holds the CA certificate (`<dir>/ca.pem`). The
//! services run on a runtime of their own (one worker thread); dropping [`Services`] cancels
//! them, shuts the runtime down, and removes the directory (kept, and named on stderr, when the
//! test is panicking, to look at after a failure).

#![allow(dead_code)] // each test binary uses a part of this module

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use mailsec_examples::imap_service::{ImapService, StoreOpener, imap_config};
use mailsec_examples::imap_store::MaildirStore;
use mailsec_examples::listener::{ConnectionTls, Listener, ListenerOptions};
use mailsec_examples::maildir::Maildir;
use mailsec_examples::pop3_service::{Pop3Service, pop3_config};
use mailsec_examples::server_cli::{ListenerKind, ServerCli};
use mailsec_examples::smtp_service::{self, SmtpSettings};
use mailsec_examples::users::Users;
use mailsec_imap::server::StoreRefusal;
use mailsec_imap::store::MailStore;
use mailsec_tls::testing::{PemPair, TestPki};
use tokio_util::sync::CancellationToken;

/// The hostname the services give themselves (and the name their certificate must carry).
pub const HOSTNAME: &str = "localhost";

/// How long the runtime may take to stop its tasks on drop.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Maildir deliveries are written in chunks of this size, as the SMTP listener streams them.
const DELIVERY_CHUNK: usize = 10_000;

/// What to start: see [`Services::builder`].
pub struct Builder {
    name: String,
    ca_pem: String,
    leaf: PemPair,
    listeners: Vec<(ListenerKind, bool)>,
    users: String,
    allow_plaintext_auth: bool,
}

impl Builder {
    /// Names the temporary directory (`mailsec-<name>-…`), to tell runs apart.
    pub fn name(mut self, name: &str) -> Builder {
        self.name = name.to_owned();
        self
    }

    /// Adds a listener per kind, with the TLS of `mailsec-server`: implicit TLS for SMTPS,
    /// IMAPS and POP3S; STARTTLS for the others, except that under
    /// [`Builder::allow_plaintext_auth`] submission, IMAP and POP3 run without TLS (the MX keeps
    /// STARTTLS).
    pub fn listen(mut self, kinds: &[ListenerKind]) -> Builder {
        self.listeners.extend(kinds.iter().map(|&k| (k, false)));
        self
    }

    /// Adds a listener of `kind` without TLS at all (STARTTLS not offered); its protocol
    /// configuration is the usual one for the kind.
    pub fn listen_in_clear(mut self, kind: ListenerKind) -> Builder {
        self.listeners.push((kind, true));
        self
    }

    /// The users file, one `user:scheme:secret` line each (see [`Users::parse`]). Every
    /// listener offers the SASL mechanisms it can serve ([`Users::mechanisms`]).
    pub fn users(mut self, text: &str) -> Builder {
        self.users = text.to_owned();
        self
    }

    /// `mailsec-server --allow-plaintext-auth`: the insecure policies of
    /// [`ListenerKind::policy`].
    pub fn allow_plaintext_auth(mut self, allow: bool) -> Builder {
        self.allow_plaintext_auth = allow;
        self
    }

    /// Creates the directory, the users file and the maildir, binds every listener on
    /// `127.0.0.1:0` and spawns its service. Panics on any failure (a broken fixture).
    pub fn start(self) -> Services {
        assert!(!self.listeners.is_empty(), "no listener asked for");
        let dir = tempfile::Builder::new()
            .prefix(&format!("mailsec-{}-", self.name))
            .tempdir()
            .expect("temporary directory");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, &self.ca_pem).expect("ca.pem");
        let users_file = dir.path().join("users.txt");
        std::fs::write(&users_file, &self.users).expect("users file");
        let users = Arc::new(Users::load(&users_file).expect("users"));
        let maildir =
            Arc::new(Maildir::open(dir.path().join("maildir"), HOSTNAME).expect("maildir"));
        let mut argv = vec!["mailsec-server", "--hostname", HOSTNAME];
        if self.allow_plaintext_auth {
            argv.push("--allow-plaintext-auth");
        }
        let args = ServerCli::try_parse_from(argv).expect("arguments").server;
        let settings = Arc::new(SmtpSettings::new(HOSTNAME));
        let opener: StoreOpener = {
            let maildir = maildir.clone();
            Arc::new(move |user: &str| {
                MaildirStore::open(&maildir, user, HOSTNAME)
                    .map(|s| Box::new(s) as Box<dyn MailStore>)
                    .map_err(|_| StoreRefusal::Unavailable)
            })
        };
        let server_tls = TestPki::server_config_with(&self.leaf);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let shutdown = CancellationToken::new();
        let allow = self.allow_plaintext_auth;
        let ports = runtime.block_on(async {
            let mut ports = Vec::new();
            for (kind, in_clear) in self.listeners {
                let tls = if kind.is_implicit() {
                    ConnectionTls::Implicit(server_tls.clone())
                } else if in_clear || (allow && kind != ListenerKind::SmtpMx) {
                    ConnectionTls::None
                } else {
                    ConnectionTls::StartTls(server_tls.clone())
                };
                let listener = Listener::bind(
                    "127.0.0.1:0".parse().expect("address"),
                    tls,
                    ListenerOptions::new(kind.name()),
                )
                .await
                .expect("bind");
                ports.push((kind, listener.local_addr().expect("address").port()));
                match kind {
                    ListenerKind::SmtpMx | ListenerKind::SmtpSubmission | ListenerKind::Smtps => {
                        let config =
                            smtp_service::server_config(kind, &args, &users).expect("config");
                        tokio::spawn(smtp_service::serve(
                            listener,
                            config,
                            users.clone(),
                            maildir.clone(),
                            settings.clone(),
                            shutdown.clone(),
                        ));
                    }
                    ListenerKind::Imap | ListenerKind::Imaps => {
                        let config = imap_config(kind, allow, HOSTNAME, &users).expect("config");
                        let service = ImapService::new(config, users.clone(), opener.clone());
                        tokio::spawn(service.serve(listener, shutdown.clone()));
                    }
                    ListenerKind::Pop3 | ListenerKind::Pop3s => {
                        let config = pop3_config(kind, allow, HOSTNAME, &users).expect("config");
                        let service = Pop3Service::new(config, maildir.clone(), users.clone());
                        tokio::spawn(service.serve(listener, shutdown.clone()));
                    }
                    _ => panic!("no service for the {} listener", kind.name()),
                }
            }
            ports
        });
        Services {
            dir: Some(dir),
            ca,
            ca_pem: self.ca_pem,
            maildir,
            ports,
            shutdown,
            runtime: Some(runtime),
        }
    }
}

/// Our services, running; stopped and cleaned up on drop.
pub struct Services {
    dir: Option<tempfile::TempDir>,
    ca: PathBuf,
    ca_pem: String,
    maildir: Arc<Maildir>,
    ports: Vec<(ListenerKind, u16)>,
    shutdown: CancellationToken,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Services {
    /// Services serving the PKI's `localhost` leaf, clients trusting its CA. No listener, no
    /// user until asked for.
    pub fn builder(pki: &TestPki) -> Builder {
        Services::builder_with(pki.ca_pem(), pki.leaf())
    }

    /// Services serving `leaf`, the CA certificate given as PEM (for certificates made
    /// elsewhere: expiring, untrusted, …).
    pub fn builder_with(ca_pem: &str, leaf: &PemPair) -> Builder {
        Builder {
            name: "services".to_owned(),
            ca_pem: ca_pem.to_owned(),
            leaf: leaf.clone(),
            listeners: Vec::new(),
            users: String::new(),
            allow_plaintext_auth: false,
        }
    }

    /// The port of the listener of `kind`; panics when none was started.
    pub fn port(&self, kind: ListenerKind) -> u16 {
        self.ports
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, p)| *p)
            .unwrap_or_else(|| panic!("no {} listener started", kind.name()))
    }

    /// The listeners, in the order they were asked for.
    pub fn listeners(&self) -> &[(ListenerKind, u16)] {
        &self.ports
    }

    /// The maildir every service reads and writes.
    pub fn maildir(&self) -> &Arc<Maildir> {
        &self.maildir
    }

    /// The CA certificate file (PEM) clients should trust.
    pub fn ca(&self) -> &Path {
        &self.ca
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The temporary directory (removed on drop): a place for the test's own files too.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("directory until drop").path()
    }

    /// `name` in the temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    /// Writes `content` to `name` in the temporary directory; returns its path.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).expect("write test file");
        path
    }

    /// Delivers `message` into `user`'s INBOX as the SMTP listener does (in chunks); returns
    /// its maildir id.
    pub fn deliver(&self, user: &str, message: &[u8]) -> String {
        let mut delivery = self.maildir.deliver(user).expect("delivery");
        for chunk in message.chunks(DELIVERY_CHUNK) {
            delivery.write_chunk(chunk).expect("write delivery");
        }
        delivery.commit().expect("commit delivery").id
    }

    /// The ids of `user`'s messages in INBOX, in listing order (as POP3 numbers them).
    pub fn stored(&self, user: &str) -> Vec<String> {
        self.maildir
            .mailbox(user)
            .expect("mailbox")
            .list()
            .expect("list")
            .into_iter()
            .map(|m| m.id)
            .collect()
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
        }
        if let Some(dir) = self.dir.take()
            && std::thread::panicking()
        {
            eprintln!("test files kept in {}", dir.keep().display());
        }
    }
}
