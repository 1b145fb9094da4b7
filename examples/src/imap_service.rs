//! IMAP for the example server: the [`SessionHandler`] that answers an IMAP [`Server`]'s
//! events, and the configuration of the IMAP listeners.
//!
//! - **Credentials** (LOGIN, AUTHENTICATE PLAIN, LOGIN, SCRAM-SHA-256) are checked by the
//!   [`Users`] store through [`Authenticator`]. The `AUTH=` capabilities are
//!   [`Users::mechanisms`]: SCRAM-SHA-256 only when every user of the file can use it.
//! - **Mailboxes**: after login the handler asks its [`StoreOpener`] for the user's
//!   [`MailStore`] (the `mailsec-server` binary opens the maildir the SMTP listeners deliver
//!   into and POP3 reads; tests may hand out an in-memory store) and gives it to the machine,
//!   which asks it directly from then on. Unlike POP3, IMAP sessions of one user may run side by
//!   side (RFC 9051 §5.2): the machine re-reads the folder and reports what others changed.
//! - **Shutdown** ([`SessionHandler::on_shutdown`]) calls [`Server::shutdown`]: `* BYE` and the
//!   end of the session.
//!
//! Wiring a listener (the `mailsec-server` binary does this for `--imap` and `--imaps`):
//!
//! ```no_run
//! # async fn example(args: mailsec_examples::server_cli::ServerArgs,
//! #     opener: mailsec_examples::imap_service::StoreOpener) -> Result<(), Box<dyn std::error::Error>> {
//! use mailsec_examples::imap_service::{ImapService, imap_config};
//! use mailsec_examples::server_cli::ListenerKind;
//! use tokio_util::sync::CancellationToken;
//!
//! let tls = args.tls_material()?;
//! let users = args.load_users()?;
//! let shutdown = CancellationToken::new();
//! for (kind, listener) in args.bind_listeners(&tls).await? {
//!     if matches!(kind, ListenerKind::Imap | ListenerKind::Imaps) {
//!         let config = imap_config(kind, args.allow_plaintext_auth, &args.hostname, &users)?;
//!         let service = ImapService::new(config, users.clone(), opener.clone());
//!         tokio::spawn(service.serve(listener, shutdown.clone()));
//!     }
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Instant;

use mailsec_imap::server::{ConfigError, Server, ServerConfig, ServerEvent, StoreRefusal};
use mailsec_imap::store::MailStore;
use mailsec_tls::sasl::Authenticator;
use tokio_util::sync::CancellationToken;

use crate::listener::{ConnectionInfo, Listener, ServeReport, SessionEnd, SessionHandler};
use crate::server_cli::ListenerKind;
use crate::users::Users;

/// Opens a user's mailboxes after login (the user name is [`Identity::acts_as`]); shared by
/// every session of a listener.
///
/// [`Identity::acts_as`]: mailsec_tls::sasl::Identity::acts_as
pub type StoreOpener =
    Arc<dyn Fn(&str) -> Result<Box<dyn MailStore>, StoreRefusal> + Send + Sync + 'static>;

/// Why an IMAP listener could not be configured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapSetupError {
    /// The listener kind is not an IMAP one.
    #[error("{} is not an IMAP listener", .0.name())]
    NotImap(ListenerKind),
    /// The machine refused the configuration (e.g. a host name unfit for the greeting).
    #[error("IMAP configuration: {0}")]
    Config(#[from] ConfigError),
}

/// The [`ServerConfig`] of an IMAP listener of the server.
///
/// - [`ListenerKind::Imap`]: STARTTLS offered and required before any credential ("require
///   secure channel": `LOGINDISABLED`, LOGIN and AUTHENTICATE answered
///   `NO [PRIVACYREQUIRED]` in clear, RFC 9051 §6.2.3, RFC 8314 §3.3), or, with
///   `allow_plaintext_auth`, no TLS and credentials in clear (for demonstrations; the listener
///   must then be bound with [`ConnectionTls::None`](crate::listener::ConnectionTls::None), as
///   [`ServerArgs::bind_listeners`](crate::server_cli::ServerArgs::bind_listeners) does).
/// - [`ListenerKind::Imaps`]: implicit TLS (port 993, RFC 8314 §3.3); greeting after the
///   handshake.
///
/// Greeting `<hostname> IMAP ready`, the machine's default limits, and the SASL mechanisms
/// `users` can serve ([`Users::mechanisms`], strongest first: SCRAM-SHA-256 only when every
/// user has SCRAM keys, since `CAPABILITY` lists them before anyone logs in, RFC 9051 §6.1.1;
/// PLAIN and LOGIN only once TLS is up, unless `allow_plaintext_auth`). Build the
/// configuration from the same [`Users`] the [`ImapService`] checks credentials with.
pub fn imap_config(
    kind: ListenerKind,
    allow_plaintext_auth: bool,
    hostname: &str,
    users: &Users,
) -> Result<Arc<ServerConfig>, ImapSetupError> {
    if !matches!(kind, ListenerKind::Imap | ListenerKind::Imaps) {
        return Err(ImapSetupError::NotImap(kind));
    }
    let config = ServerConfig::builder()
        .policy(kind.policy(allow_plaintext_auth))
        .greeting(format!("{hostname} IMAP ready"))
        .mechanisms(users.mechanisms())
        .build()?;
    Ok(Arc::new(config))
}

/// Serves IMAP with credentials from [`Users`] and mailboxes from a [`StoreOpener`]: one per
/// listener, cheap to clone.
#[derive(Clone)]
pub struct ImapService {
    config: Arc<ServerConfig>,
    users: Arc<Users>,
    opener: StoreOpener,
}

impl std::fmt::Debug for ImapService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ImapService {
    /// A service with this machine configuration (from [`imap_config`]).
    pub fn new(config: Arc<ServerConfig>, users: Arc<Users>, opener: StoreOpener) -> Self {
        ImapService {
            config,
            users,
            opener,
        }
    }

    /// The machine and handler of a new connection, for [`Listener::serve`].
    pub fn session(&self, _conn: &ConnectionInfo) -> (Server, ImapHandler) {
        let machine = Server::new(self.config.clone(), Instant::now());
        let handler = ImapHandler {
            users: self.users.clone(),
            opener: self.opener.clone(),
            user: None,
        };
        (machine, handler)
    }

    /// Serves `listener` until `shutdown` fires (see [`Listener::serve`] for the graceful
    /// shutdown). The listener's [`ConnectionTls`](crate::listener::ConnectionTls) must match
    /// the configuration's policy: `StartTls` for STARTTLS, `Implicit` for IMAPS, `None` for
    /// plaintext.
    pub async fn serve(self, listener: Listener, shutdown: CancellationToken) -> ServeReport {
        listener
            .serve(move |conn: &ConnectionInfo| self.session(conn), shutdown)
            .await
    }
}

/// Answers one IMAP [`Server`] session's events (see the [module documentation](self)).
/// Made by [`ImapService::session`].
pub struct ImapHandler {
    users: Arc<Users>,
    opener: StoreOpener,
    user: Option<String>,
}

impl std::fmt::Debug for ImapHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapHandler")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl ImapHandler {
    /// Whose mailboxes this session has open, once logged in.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
}

impl SessionHandler<Server> for ImapHandler {
    fn on_event(&mut self, machine: &mut Server, event: ServerEvent, conn: &ConnectionInfo) {
        match event {
            ServerEvent::CheckCredentials { check, .. } => {
                let answer = self.users.check(&check);
                let _ = machine.answer_credentials(answer);
            }
            ServerEvent::OpenStore { identity } => {
                let user = identity.acts_as().to_owned();
                match (self.opener)(&user) {
                    Ok(store) => {
                        self.user = Some(user);
                        let _ = machine.open_store(store);
                    }
                    Err(refusal) => {
                        log(conn, &format!("cannot open the mailboxes of {user}"));
                        let _ = machine.refuse_store(refusal);
                    }
                }
            }
            ServerEvent::Closed { .. } => self.user = None,
            _ => {}
        }
    }

    fn on_shutdown(&mut self, machine: &mut Server, _conn: &ConnectionInfo) {
        machine.shutdown();
    }

    fn on_end(
        &mut self,
        end: SessionEnd<mailsec_imap::server::ServerError>,
        conn: &ConnectionInfo,
    ) {
        self.user = None;
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
    use crate::users::{MECHANISMS, Scheme, hash_password_line_with};
    use mailsec_tls::sasl::Mechanism;
    use mailsec_tls::{Machine, Output};

    /// What a plaintext IMAP session (`--allow-plaintext-auth`) answers to `input`, after the
    /// greeting.
    fn answer(config: Arc<ServerConfig>, input: &[u8]) -> String {
        let mut machine = Server::new(config, Instant::now());
        let mut wire = Vec::new();
        machine.handle_input(Instant::now(), input);
        while let Some(output) = machine.poll_output() {
            if let Output::Transmit(bytes) = output {
                wire.extend_from_slice(&bytes);
            }
        }
        String::from_utf8_lossy(&wire).into_owned()
    }

    #[test]
    fn capability_lists_scram_only_when_every_user_has_keys() {
        let cheap = argon2::Params::new(8, 1, 1, None).unwrap();
        let argon2_only = Users::parse(
            &hash_password_line_with(
                "alice",
                Scheme::Argon2,
                "pw",
                cheap,
                mailsec_tls::sasl::MIN_ITERATIONS,
            )
            .unwrap(),
        )
        .unwrap();
        let config = imap_config(ListenerKind::Imap, true, "h", &argon2_only).unwrap();
        assert_eq!(config.mechanisms(), [Mechanism::Plain, Mechanism::Login]);
        let text = answer(config, b"a CAPABILITY\r\n");
        let caps = text
            .lines()
            .find(|l| l.starts_with("* CAPABILITY "))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(caps.contains(" AUTH=PLAIN AUTH=LOGIN"), "{caps}");
        assert!(!caps.contains("SCRAM"), "{caps}");

        let plain = Users::parse("alice:plain:pw\n").unwrap();
        let config = imap_config(ListenerKind::Imaps, false, "h", &plain).unwrap();
        assert_eq!(config.mechanisms(), MECHANISMS);
        let config = imap_config(ListenerKind::Imap, true, "h", &plain).unwrap();
        let text = answer(config, b"a CAPABILITY\r\n");
        assert!(
            text.contains(" AUTH=SCRAM-SHA-256 AUTH=PLAIN AUTH=LOGIN"),
            "{text}"
        );
        assert!(matches!(
            imap_config(ListenerKind::Pop3, false, "h", &plain),
            Err(ImapSetupError::NotImap(ListenerKind::Pop3))
        ));
    }
}
