//! The SMTP side of `mailsec-server`: a [`SessionHandler`] that delivers into the maildir, and
//! the [`ServerConfig`] of each SMTP [`ListenerKind`].
//!
//! What [`SmtpHandler`] decides for the [`Server`] machine:
//!
//! - **AUTH** ([`Event::CredentialCheck`]): through the [`Users`] store, whose
//!   [`Authenticator`] checks PLAIN/LOGIN passwords and serves SCRAM-SHA-256 keys, and refuses
//!   acting as another user. SCRAM-SHA-256 is offered only when every user can use it
//!   ([`Users::mechanisms`], [`server_config`]).
//! - **MAIL FROM**: accepted. In the submission roles, with [`SenderCheck::OwnLocalPart`]
//!   (the default), a sender whose local part is not the authenticated user's name is refused
//!   with `553 5.7.1` (RFC 6409 §6.1 lets a submission server check what a user may send as);
//!   the domain is not checked, nor is `<>` allowed. A deliberately simple rule for an example.
//! - **RCPT TO**: accepted only for a mailbox whose (unquoted) local part names an existing
//!   user, whatever the domain: `alice@anything` is user `alice`. `<Postmaster>` goes to user
//!   `postmaster` if there is one. Anything else: `550 5.1.1`. Nothing is ever relayed.
//! - **Message**: streamed into one maildir [`Delivery`] per distinct recipient user (the same
//!   user named twice gets the message once). On [`Event::MessageEnd`] every delivery is
//!   committed (fsync + rename), and only then is the message accepted (`250`). If any commit
//!   fails the ones already made are deleted again and the client gets `451 4.3.0`, so a retry
//!   does not deliver twice; a message the store finds too large gets `552 5.3.4`. An aborted
//!   message ([`Event::MessageAborted`]) or a reset transaction removes the temporary files.
//! - **Trace**: with [`SmtpSettings::received_header`] (on by default) a `Received:` line is
//!   put before the message, as RFC 5321 §4.4 asks of every SMTP server that receives a
//!   message: `Received: from <EHLO name> ([<peer IP>]) by <hostname> with <ESMTP|ESMTPS|
//!   ESMTPA|ESMTPSA> id <listener>.<connection>.<n>; <RFC 5322 date>` on one line (the
//!   protocol names of RFC 3848; no `for` clause, so that Bcc recipients are not disclosed to
//!   each other). The stored file is that line followed by exactly the bytes received.
//! - **Shutdown**: [`SessionHandler::on_shutdown`] calls [`Server::shutdown`] (`421`, and
//!   any message in progress is aborted and discarded).
//!
//! The handler runs inside the session's task and calls the maildir's blocking `std::fs`
//! functions directly (writes and an fsync per message), as the [`listener`](crate::listener)
//! docs allow for short file-system work.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mailsec_smtp::server::{AbortReason, Event, Role, Server, ServerConfig, reply};
use mailsec_smtp::types::{ForwardPath, Host, ReversePath};
use mailsec_tls::sasl::{Authenticator, InsecureAuth};
use time::UtcDateTime;
use tokio_util::sync::CancellationToken;

use crate::listener::{ConnectionInfo, Listener, ServeReport, SessionHandler};
use crate::maildir::{Delivery, Maildir, MaildirError, validate_user};
use crate::server_cli::{ListenerKind, ServerArgs};
use crate::users::Users;

/// Errors of building an SMTP listener's configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpSetupError {
    /// `--hostname` is not a valid domain for an SMTP greeting.
    #[error("host name {0:?} is not a valid domain")]
    InvalidHostname(String),
    /// The listener kind does not speak SMTP.
    #[error("{0} is not an SMTP listener")]
    NotSmtp(&'static str),
}

/// Which senders the submission roles accept from an authenticated user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SenderCheck {
    /// The sender's local part (unquoted) must equal the name the session acts as
    /// ([`Identity::acts_as`](mailsec_tls::sasl::Identity::acts_as)); any domain.
    #[default]
    OwnLocalPart,
    /// Any sender.
    Off,
}

/// What every SMTP session of the server shares.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SmtpSettings {
    /// The server's host name (the `by` of the `Received:` line).
    pub hostname: String,
    /// Whether a `Received:` trace line is put before each stored message (RFC 5321 §4.4).
    pub received_header: bool,
    /// The sender rule of the submission roles (not applied on the MX listener).
    pub sender_check: SenderCheck,
    /// Whether to print a line per delivered or refused message on standard error.
    pub log: bool,
}

impl SmtpSettings {
    /// Defaults for `hostname`: `Received:` lines on, [`SenderCheck::OwnLocalPart`], logging
    /// on.
    pub fn new(hostname: &str) -> SmtpSettings {
        SmtpSettings {
            hostname: hostname.to_owned(),
            received_header: true,
            sender_check: SenderCheck::default(),
            log: true,
        }
    }

    /// Turns the `Received:` line on or off.
    pub fn received_header(mut self, on: bool) -> SmtpSettings {
        self.received_header = on;
        self
    }

    /// Sets the sender rule of the submission roles.
    pub fn sender_check(mut self, check: SenderCheck) -> SmtpSettings {
        self.sender_check = check;
        self
    }

    /// Turns logging on or off.
    pub fn log(mut self, on: bool) -> SmtpSettings {
        self.log = on;
        self
    }
}

/// The SMTP role of a listener kind; `None` for the POP3 and IMAP kinds.
pub fn smtp_role(kind: ListenerKind) -> Option<Role> {
    match kind {
        ListenerKind::SmtpMx => Some(Role::Mx),
        ListenerKind::SmtpSubmission => Some(Role::Submission),
        ListenerKind::Smtps => Some(Role::ImplicitSubmission),
        _ => None,
    }
}

/// The [`ServerConfig`] of an SMTP listener kind under the server's settings: named
/// `--hostname`, offering the SASL mechanisms `users` can serve ([`Users::mechanisms`]:
/// SCRAM-SHA-256 only when every user has SCRAM keys, since the EHLO `AUTH` keyword lists
/// them before the client names a user, RFC 4954 §3; then PLAIN and LOGIN) in the submission
/// roles only (AUTH is never offered on the MX listener). Build it from the same [`Users`]
/// given to [`serve`]. Under `--allow-plaintext-auth` the submission listener runs
/// without TLS (as [`ListenerKind::policy`] says): STARTTLS is not offered and PLAIN/LOGIN
/// are accepted in clear. The MX and implicit-TLS listeners are unchanged by it.
pub fn server_config(
    kind: ListenerKind,
    args: &ServerArgs,
    users: &Users,
) -> Result<ServerConfig, SmtpSetupError> {
    let role = smtp_role(kind).ok_or(SmtpSetupError::NotSmtp(kind.name()))?;
    let hostname = mailsec_smtp::types::Domain::new(args.hostname.as_bytes())
        .map_err(|_| SmtpSetupError::InvalidHostname(args.hostname.clone()))?;
    let mut config = ServerConfig::new(role, hostname).with_mechanisms(users.mechanisms());
    if role == Role::Submission && args.allow_plaintext_auth {
        config = config
            .with_starttls(false)
            .with_insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls);
    }
    Ok(config)
}

/// Serves SMTP on `listener` until `shutdown` fires: each connection gets a fresh [`Server`]
/// built from `config` and an [`SmtpHandler`] over `users` and `maildir`.
pub async fn serve(
    listener: Listener,
    config: ServerConfig,
    users: Arc<Users>,
    maildir: Arc<Maildir>,
    settings: Arc<SmtpSettings>,
    shutdown: CancellationToken,
) -> ServeReport {
    listener
        .serve(
            move |_conn: &ConnectionInfo| {
                let mut server = Server::new(config.clone());
                server.start_clock(Instant::now());
                let handler = SmtpHandler::new(
                    users.clone(),
                    maildir.clone(),
                    settings.clone(),
                    config.role(),
                );
                (server, handler)
            },
            shutdown,
        )
        .await
}

/// The transaction in progress.
#[derive(Default)]
struct Transaction {
    /// Distinct recipient users, in RCPT order.
    users: Vec<String>,
    /// Open deliveries, one per user, once the message began.
    deliveries: Vec<Delivery>,
    /// Whether the deliveries were opened (possibly failing).
    started: bool,
    /// The first store error while receiving; the message is refused at its end.
    failed: Option<MaildirError>,
    /// Whether the sender authenticated (for `Received: ... with ESMTPA`).
    authenticated: bool,
    /// Whether the connection was protected by TLS at MAIL FROM.
    secure: bool,
}

/// The [`SessionHandler`] of one SMTP session (see the [module docs](self)).
pub struct SmtpHandler {
    users: Arc<Users>,
    maildir: Arc<Maildir>,
    settings: Arc<SmtpSettings>,
    role: Role,
    helo: Option<(Host, bool)>,
    transaction: Transaction,
    messages: u64,
}

impl SmtpHandler {
    /// A handler for one session of a server in `role`.
    pub fn new(
        users: Arc<Users>,
        maildir: Arc<Maildir>,
        settings: Arc<SmtpSettings>,
        role: Role,
    ) -> SmtpHandler {
        SmtpHandler {
            users,
            maildir,
            settings,
            role,
            helo: None,
            transaction: Transaction::default(),
            messages: 0,
        }
    }

    fn log(&self, conn: &ConnectionInfo, text: std::fmt::Arguments<'_>) {
        if self.settings.log {
            eprintln!("[{} #{} {}] {text}", conn.listener, conn.id, conn.peer);
        }
    }

    /// The user a recipient names, if it exists.
    fn recipient_user(&self, to: &ForwardPath) -> Option<String> {
        let name = match to {
            ForwardPath::Postmaster => "postmaster".to_owned(),
            ForwardPath::Mailbox(m) => m.local_part().unquoted(),
        };
        (validate_user(&name).is_ok() && self.users.get(&name).is_some()).then_some(name)
    }

    /// Whether `from` may be used by the session's identity.
    fn sender_allowed(
        &self,
        from: &ReversePath,
        identity: Option<&mailsec_tls::sasl::Identity>,
    ) -> bool {
        if self.role == Role::Mx || self.settings.sender_check == SenderCheck::Off {
            return true;
        }
        match (from, identity) {
            (ReversePath::Mailbox(m), Some(id)) => m.local_part().unquoted() == id.acts_as(),
            _ => false,
        }
    }

    /// The `Received:` line of the current message (RFC 5321 §4.4), CRLF included.
    fn received_line(&self, conn: &ConnectionInfo) -> String {
        let (helo, extended) = match &self.helo {
            Some((name, extended)) => (name.to_string(), *extended),
            None => ("unknown".to_owned(), true),
        };
        let protocol = match (
            extended,
            self.transaction.secure,
            self.transaction.authenticated,
        ) {
            (false, _, _) => "SMTP",
            (true, false, false) => "ESMTP",
            (true, true, false) => "ESMTPS",
            (true, false, true) => "ESMTPA",
            (true, true, true) => "ESMTPSA",
        };
        let ip = match conn.peer.ip() {
            std::net::IpAddr::V4(a) => format!("[{a}]"),
            std::net::IpAddr::V6(a) => format!("[IPv6:{a}]"),
        };
        format!(
            "Received: from {helo} ({ip}) by {} with {protocol} id {}.{}.{}; {}\r\n",
            self.settings.hostname,
            conn.listener,
            conn.id,
            self.messages,
            rfc5322_date(SystemTime::now()),
        )
    }

    /// Opens one delivery per recipient user, each starting with the `Received:` line.
    fn start_deliveries(&mut self, conn: &ConnectionInfo) {
        if self.transaction.started {
            return;
        }
        self.transaction.started = true;
        self.messages += 1;
        let received = self
            .settings
            .received_header
            .then(|| self.received_line(conn));
        for user in self.transaction.users.clone() {
            let opened = self.maildir.deliver(&user).and_then(|mut d| {
                if let Some(line) = &received {
                    d.write_chunk(line.as_bytes())?;
                }
                Ok(d)
            });
            match opened {
                Ok(d) => self.transaction.deliveries.push(d),
                Err(e) => {
                    self.transaction.failed = Some(e);
                    self.transaction.deliveries.clear();
                    return;
                }
            }
        }
    }

    fn write(&mut self, chunk: &[u8]) {
        if self.transaction.failed.is_some() {
            return;
        }
        for d in &mut self.transaction.deliveries {
            if let Err(e) = d.write_chunk(chunk) {
                self.transaction.failed = Some(e);
                self.transaction.deliveries.clear();
                return;
            }
        }
    }

    /// Commits every delivery; on a failure removes those already committed.
    fn commit(&mut self) -> Result<usize, MaildirError> {
        let transaction = std::mem::take(&mut self.transaction);
        if let Some(e) = transaction.failed {
            return Err(e);
        }
        let mut done = Vec::new();
        for (delivery, user) in transaction
            .deliveries
            .into_iter()
            .zip(transaction.users.iter())
        {
            match delivery.commit() {
                Ok(info) => done.push((user, info.id)),
                Err(e) => {
                    for (user, id) in done {
                        if let Ok(mailbox) = self.maildir.mailbox(user) {
                            let _ = mailbox.delete(&id);
                        }
                    }
                    return Err(e);
                }
            }
        }
        Ok(done.len())
    }

    fn on_message_end(&mut self, server: &mut Server, size: u64, conn: &ConnectionInfo) {
        self.start_deliveries(conn);
        let users = self.transaction.users.join(", ");
        let answer = match self.commit() {
            Ok(n) => {
                self.log(
                    conn,
                    format_args!("delivered {size} octets to {n} mailbox(es): {users}"),
                );
                server.accept_message()
            }
            Err(e) => {
                self.log(conn, format_args!("message for {users} not stored: {e}"));
                let refusal = match e {
                    MaildirError::TooLarge { .. } => {
                        reply(552, (5, 3, 4), "Message too big for the mailbox")
                    }
                    _ => reply(451, (4, 3, 0), "Message not stored, try again later"),
                };
                match refusal {
                    Ok(r) => server.reject_message(r),
                    Err(_) => server.accept_message(), // unreachable: the replies are valid
                }
            }
        };
        if let Err(e) = answer {
            self.log(conn, format_args!("message decision refused: {e}"));
        }
    }
}

impl SessionHandler<Server> for SmtpHandler {
    fn on_event(&mut self, server: &mut Server, event: Event, conn: &ConnectionInfo) {
        let result = match event {
            Event::Hello { name, extended } => {
                self.transaction = Transaction::default();
                self.helo = Some((name, extended));
                Ok(())
            }
            Event::Secured => {
                self.transaction = Transaction::default();
                self.helo = None;
                Ok(())
            }
            Event::CredentialCheck(check) => {
                let answer = self.users.check(&check);
                server.answer_credentials(answer)
            }
            Event::Authenticated { identity } => {
                self.log(
                    conn,
                    format_args!("authenticated as {:?}", identity.acts_as()),
                );
                Ok(())
            }
            Event::AuthenticationFailed { mechanism, reason } => {
                self.log(
                    conn,
                    format_args!("authentication failed ({mechanism:?}): {reason}"),
                );
                Ok(())
            }
            Event::MailFrom {
                from,
                identity,
                secure,
                ..
            } => {
                self.transaction = Transaction::default();
                if self.sender_allowed(&from, identity.as_ref()) {
                    self.transaction.authenticated = identity.is_some();
                    self.transaction.secure = secure;
                    server.accept_sender()
                } else {
                    self.log(conn, format_args!("sender {from} refused"));
                    match reply(
                        553,
                        (5, 7, 1),
                        "Sender address not owned by the authenticated user",
                    ) {
                        Ok(r) => server.reject_sender(r),
                        Err(_) => server.accept_sender(), // unreachable: the reply is valid
                    }
                }
            }
            Event::Recipient { to, .. } => match self.recipient_user(&to) {
                Some(user) => {
                    if !self.transaction.users.contains(&user) {
                        self.transaction.users.push(user);
                    }
                    server.accept_recipient()
                }
                None => match reply(550, (5, 1, 1), "No such user here") {
                    Ok(r) => server.reject_recipient(r),
                    Err(_) => server.accept_recipient(), // unreachable: the reply is valid
                },
            },
            Event::MessageData(chunk) => {
                self.start_deliveries(conn);
                self.write(&chunk);
                Ok(())
            }
            Event::MessageEnd { size } => {
                self.on_message_end(server, size, conn);
                Ok(())
            }
            Event::MessageAborted { reason } => {
                if reason != AbortReason::Shutdown {
                    self.log(conn, format_args!("message aborted: {reason:?}"));
                }
                self.transaction = Transaction::default();
                Ok(())
            }
            Event::TransactionReset | Event::Closed => {
                self.transaction = Transaction::default();
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.log(conn, format_args!("intent refused: {e}"));
        }
    }

    fn on_shutdown(&mut self, server: &mut Server, _conn: &ConnectionInfo) {
        server.shutdown();
    }
}

/// An RFC 5322 §3.3 date-time in UTC: `Sat, 28 Nov 2026 19:24:09 +0000`. A time before 1970
/// is written as the epoch, one after 9999 as the last second of 9999 (the `time` crate's
/// range).
pub fn rfc5322_date(time: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let max = UtcDateTime::MAX.unix_timestamp();
    let t = UtcDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(max).min(max))
        .unwrap_or(UtcDateTime::UNIX_EPOCH);
    format!(
        "{}, {} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[usize::from(t.weekday().number_days_from_monday())],
        t.day(),
        MONTHS[usize::from(u8::from(t.month()) - 1)],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailsec_tls::{Machine, Output};
    use std::time::Duration;

    /// A server machine and our handler over a temporary maildir, driven in memory.
    struct Session {
        _dir: tempfile::TempDir,
        maildir: Arc<Maildir>,
        server: Server,
        handler: SmtpHandler,
        conn: ConnectionInfo,
        wire: Vec<u8>,
        closed: bool,
    }

    impl Session {
        fn new(tag: &str, config: ServerConfig, max_size: Option<u64>) -> Session {
            let users =
                Users::parse("alice:plain:alice-pw\nbob:plain:bob-pw\npostmaster:plain:pm-pw\n")
                    .unwrap();
            Session::with_users(tag, config, max_size, users)
        }

        fn with_users(
            tag: &str,
            config: ServerConfig,
            max_size: Option<u64>,
            users: Users,
        ) -> Session {
            let dir = crate::test_support::temp_dir(tag);
            let mut maildir = Maildir::open(dir.path().join("maildir"), "localhost").unwrap();
            if let Some(limit) = max_size {
                maildir = maildir.with_max_message_size(limit);
            }
            let maildir = Arc::new(maildir);
            let users = Arc::new(users);
            let settings = Arc::new(SmtpSettings::new("localhost").log(false));
            let role = config.role();
            let mut server = Server::new(config);
            server.start_clock(Instant::now());
            let conn = ConnectionInfo {
                listener: Arc::from("test"),
                id: 7,
                peer: "192.0.2.1:4000".parse().unwrap(),
                local: "127.0.0.1:25".parse().unwrap(),
                secure: false,
                tls: None,
            };
            let handler = SmtpHandler::new(users, maildir.clone(), settings, role);
            let mut s = Session {
                _dir: dir,
                maildir,
                server,
                handler,
                conn,
                wire: Vec::new(),
                closed: false,
            };
            s.drive();
            s
        }

        fn mx(tag: &str) -> Session {
            let config = ServerConfig::new(
                Role::Mx,
                mailsec_smtp::types::Domain::new(b"localhost").unwrap(),
            );
            Session::new(tag, config, None)
        }

        fn drive(&mut self) {
            while let Some(output) = self.server.poll_output() {
                match output {
                    Output::Transmit(bytes) => self.wire.extend_from_slice(&bytes),
                    Output::Event(event) => {
                        self.handler.on_event(&mut self.server, event, &self.conn)
                    }
                    Output::Close => self.closed = true,
                    _ => {}
                }
            }
        }

        /// Sends `input` and returns the server's replies to it.
        fn send(&mut self, input: &[u8]) -> String {
            let start = self.wire.len();
            self.server.handle_input(Instant::now(), input);
            self.drive();
            String::from_utf8_lossy(&self.wire[start..]).into_owned()
        }

        fn stored(&self, user: &str) -> Vec<Vec<u8>> {
            self.maildir
                .mailbox(user)
                .unwrap()
                .list()
                .unwrap()
                .iter()
                .map(|m| std::fs::read(&m.path).unwrap())
                .collect()
        }

        fn tmp_files(&self, user: &str) -> usize {
            std::fs::read_dir(self.maildir.root().join(user).join("tmp"))
                .map(|d| d.count())
                .unwrap_or(0)
        }
    }

    fn after_received(stored: &[u8]) -> &[u8] {
        assert!(stored.starts_with(b"Received: from "));
        let end = stored.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        &stored[end..]
    }

    const BODY: &[u8] = b"Subject: t\r\n\r\nline one\r\n.dotted\r\n";

    #[test]
    fn mx_delivers_once_per_user_and_refuses_unknown_users() {
        let mut s = Session::mx("mx");
        let replies = s.send(
            b"EHLO client.example\r\nMAIL FROM:<x@remote.example>\r\n\
              RCPT TO:<alice@localhost>\r\nRCPT TO:<bob@elsewhere.example>\r\n\
              RCPT TO:<alice@other.example>\r\nRCPT TO:<nobody@localhost>\r\n\
              RCPT TO:<\"../etc\"@localhost>\r\nRCPT TO:<Postmaster>\r\nDATA\r\n",
        );
        assert_eq!(replies.matches("550 5.1.1").count(), 2, "{replies}");
        assert!(replies.contains("354"), "{replies}");
        let replies = s.send(b"Subject: t\r\n\r\nline one\r\n..dotted\r\n.\r\n");
        assert!(replies.starts_with("250 "), "{replies}");
        for user in ["alice", "bob", "postmaster"] {
            let stored = s.stored(user);
            assert_eq!(stored.len(), 1, "{user}");
            assert_eq!(after_received(&stored[0]), BODY);
            let line = String::from_utf8_lossy(&stored[0]);
            assert!(
                line.starts_with(
                    "Received: from client.example ([192.0.2.1]) by localhost with ESMTP id test.7.1; "
                ),
                "{line}"
            );
        }
        assert_eq!(s.tmp_files("alice"), 0);
    }

    #[test]
    fn received_line_can_be_turned_off() {
        let mut s = Session::mx("no-received");
        s.handler.settings = Arc::new(
            SmtpSettings::new("localhost")
                .log(false)
                .received_header(false),
        );
        s.send(b"HELO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<bob@x.example>\r\nDATA\r\n");
        let replies = s.send(b"Subject: t\r\n\r\nline one\r\n..dotted\r\n.\r\n");
        assert!(replies.starts_with("250 "), "{replies}");
        assert_eq!(s.stored("bob"), vec![BODY.to_vec()]);
    }

    #[test]
    fn aborted_message_leaves_no_file() {
        let mut s = Session::mx("abort");
        s.send(
            b"EHLO c.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<alice@x.example>\r\nDATA\r\n",
        );
        // A bare LF in DATA aborts the message (smuggling defence).
        let replies = s.send(b"Subject: t\r\n\r\nbare\nlf\r\n.\r\n");
        assert!(replies.starts_with("550 5.5.2"), "{replies}");
        assert!(s.stored("alice").is_empty());
        assert_eq!(s.tmp_files("alice"), 0);
        // The next transaction works.
        s.send(b"MAIL FROM:<a@x.example>\r\nRCPT TO:<alice@x.example>\r\nDATA\r\n");
        let replies = s.send(b"Subject: t\r\n\r\nline one\r\n..dotted\r\n.\r\n");
        assert!(replies.starts_with("250 "), "{replies}");
        assert_eq!(s.stored("alice").len(), 1);
    }

    #[test]
    fn message_too_large_for_the_store_is_refused_with_552() {
        let config = ServerConfig::new(
            Role::Mx,
            mailsec_smtp::types::Domain::new(b"localhost").unwrap(),
        );
        let mut s = Session::new("too-large", config, Some(150));
        s.send(
            b"EHLO c.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<alice@x.example>\r\nDATA\r\n",
        );
        let replies =
            s.send(b"Subject: t\r\n\r\nthis body is long enough to pass the limit\r\n.\r\n");
        assert!(replies.starts_with("552 5.3.4"), "{replies}");
        assert!(s.stored("alice").is_empty());
        assert_eq!(s.tmp_files("alice"), 0);
    }

    #[test]
    fn submission_checks_credentials_and_sender() {
        let config = ServerConfig::new(
            Role::Submission,
            mailsec_smtp::types::Domain::new(b"localhost").unwrap(),
        )
        .with_starttls(false)
        .with_insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls);
        let mut s = Session::new("submission", config, None);
        // \0alice\0wrong, then \0alice\0alice-pw
        let replies = s.send(b"EHLO c.example\r\nAUTH PLAIN AGFsaWNlAHdyb25n\r\n");
        assert!(replies.contains("535 5.7.8"), "{replies}");
        let replies = s.send(b"AUTH PLAIN AGFsaWNlAGFsaWNlLXB3\r\n");
        assert!(replies.starts_with("235 "), "{replies}");
        let replies = s.send(b"MAIL FROM:<bob@localhost>\r\n");
        assert!(replies.starts_with("553 5.7.1"), "{replies}");
        let replies = s.send(b"MAIL FROM:<>\r\n");
        assert!(replies.starts_with("553 5.7.1"), "{replies}");
        let replies =
            s.send(b"MAIL FROM:<alice@anywhere.example>\r\nRCPT TO:<bob@localhost>\r\nDATA\r\n");
        assert!(replies.starts_with("250 "), "{replies}");
        let replies = s.send(b"Subject: t\r\n\r\nline one\r\n..dotted\r\n.\r\n");
        assert!(replies.starts_with("250 "), "{replies}");
        let stored = s.stored("bob");
        assert_eq!(stored.len(), 1);
        assert!(String::from_utf8_lossy(&stored[0]).contains(" with ESMTPA id "));
        assert_eq!(after_received(&stored[0]), BODY);
    }

    /// The submission configuration of `mailsec-server --allow-plaintext-auth` (AUTH offered
    /// in clear, so that the bare machine shows it) for `users`.
    fn submission_for(users: &Users) -> ServerConfig {
        use clap::Parser;
        let args = crate::server_cli::ServerCli::try_parse_from([
            "mailsec-server",
            "--allow-plaintext-auth",
        ])
        .unwrap()
        .server;
        server_config(ListenerKind::SmtpSubmission, &args, users).unwrap()
    }

    #[test]
    fn auth_lists_scram_only_when_every_user_has_keys() {
        let cheap = argon2::Params::new(8, 1, 1, None).unwrap();
        let line = |user: &str, scheme| {
            crate::users::hash_password_line_with(
                user,
                scheme,
                "alice-pw",
                cheap.clone(),
                mailsec_tls::sasl::MIN_ITERATIONS,
            )
            .unwrap()
        };
        let argon2_only = Users::parse(&line("alice", crate::users::Scheme::Argon2)).unwrap();
        let mut s = Session::with_users("argon2", submission_for(&argon2_only), None, argon2_only);
        let replies = s.send(b"EHLO c.example\r\n");
        assert!(
            replies.contains("\r\n250 AUTH PLAIN LOGIN\r\n"),
            "{replies}"
        );
        assert!(!replies.contains("SCRAM"), "{replies}");
        // Asked for anyway, SCRAM is refused as not offered; PLAIN logs in.
        let replies = s.send(b"AUTH SCRAM-SHA-256\r\n");
        assert!(replies.starts_with("504 "), "{replies}");
        let replies = s.send(b"AUTH PLAIN AGFsaWNlAGFsaWNlLXB3\r\n");
        assert!(replies.starts_with("235 "), "{replies}");

        let scram = Users::parse(&format!(
            "{}\nbob:plain:bob-pw\n",
            line("alice", crate::users::Scheme::ScramSha256)
        ))
        .unwrap();
        let mut s = Session::with_users("scram", submission_for(&scram), None, scram);
        let replies = s.send(b"EHLO c.example\r\n");
        assert!(
            replies.contains("\r\n250 AUTH SCRAM-SHA-256 PLAIN LOGIN\r\n"),
            "{replies}"
        );
        let replies = s.send(b"AUTH PLAIN AGFsaWNlAGFsaWNlLXB3\r\n");
        assert!(replies.starts_with("235 "), "{replies}");
    }

    #[test]
    fn shutdown_mid_message_says_421_and_discards() {
        let mut s = Session::mx("shutdown");
        s.send(
            b"EHLO c.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<alice@x.example>\r\nDATA\r\n",
        );
        s.send(b"Subject: t\r\n\r\npart of a message\r\n");
        assert_eq!(s.tmp_files("alice"), 1);
        let start = s.wire.len();
        s.handler.on_shutdown(&mut s.server, &s.conn.clone());
        s.drive();
        let replies = String::from_utf8_lossy(&s.wire[start..]).into_owned();
        assert!(replies.starts_with("421 "), "{replies}");
        assert!(s.closed);
        assert!(s.stored("alice").is_empty());
        assert_eq!(s.tmp_files("alice"), 0);
    }

    #[test]
    fn dates_are_rfc5322() {
        assert_eq!(rfc5322_date(UNIX_EPOCH), "Thu, 1 Jan 1970 00:00:00 +0000");
        // 2026-11-28 19:24:09 UTC
        let t = UNIX_EPOCH + Duration::from_secs(1_795_893_849);
        assert_eq!(rfc5322_date(t), "Sat, 28 Nov 2026 19:24:09 +0000");
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc5322_date(t), "Tue, 29 Feb 2000 00:00:00 +0000");
        // The last second of a leap day and the day after, in a year divisible by 4 but not
        // by 100 (2024-02-29 23:59:59 UTC).
        let t = UNIX_EPOCH + Duration::from_secs(1_709_251_199);
        assert_eq!(rfc5322_date(t), "Thu, 29 Feb 2024 23:59:59 +0000");
        assert_eq!(
            rfc5322_date(t + Duration::from_secs(1)),
            "Fri, 1 Mar 2024 00:00:00 +0000"
        );
        // Before 1970: the epoch (no clock should say so; the header stays well-formed).
        let t = UNIX_EPOCH - Duration::from_secs(86_400 * 365);
        assert_eq!(rfc5322_date(t), "Thu, 1 Jan 1970 00:00:00 +0000");
        // 9999-12-31 23:59:59 and past it: the last representable second.
        let last = UNIX_EPOCH + Duration::from_secs(253_402_300_799);
        assert_eq!(rfc5322_date(last), "Fri, 31 Dec 9999 23:59:59 +0000");
        let beyond = UNIX_EPOCH + Duration::from_secs(253_402_300_800 + 86_400 * 400);
        assert_eq!(rfc5322_date(beyond), "Fri, 31 Dec 9999 23:59:59 +0000");
    }

    #[test]
    fn roles_of_listener_kinds() {
        assert_eq!(smtp_role(ListenerKind::SmtpMx), Some(Role::Mx));
        assert_eq!(
            smtp_role(ListenerKind::SmtpSubmission),
            Some(Role::Submission)
        );
        assert_eq!(
            smtp_role(ListenerKind::Smtps),
            Some(Role::ImplicitSubmission)
        );
        assert_eq!(smtp_role(ListenerKind::Pop3), None);
    }
}
