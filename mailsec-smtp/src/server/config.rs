//! The server's configuration: its role, its name, the extensions it offers and its limits.

use std::time::Duration;

use mailsec_tls::ServerPolicy;
use mailsec_tls::framer::DEFAULT_MAX_BUFFERED;
use mailsec_tls::sasl::{InsecureAuth, Mechanism};

use crate::types::{Domain, MAX_AUTH_LINE, MAX_TEXT_LINE, MIN_RECIPIENTS, Reply};

/// What a listener is for; each role maps onto a [`ServerPolicy`] ([`ServerConfig::policy`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// Server-to-server relay on port 25 (RFC 5321): STARTTLS offered but optional (RFC 3207
    /// §4: a publicly-referenced server must not require it), no AUTH offered or accepted,
    /// no authentication needed to send mail.
    Mx,
    /// Message submission on port 587 (RFC 6409) with STARTTLS required: before TLS every
    /// command but EHLO, HELO, NOOP, RSET, STARTTLS and QUIT gets `530 5.7.0 Must issue a
    /// STARTTLS command first`; AUTH is offered only over TLS and required before MAIL.
    Submission,
    /// Message submission over implicit TLS on port 465 (RFC 8314 §3.3): the greeting comes
    /// only after [`handle_tls_established`](mailsec_tls::Machine::handle_tls_established),
    /// STARTTLS is never offered, AUTH is required before MAIL.
    ImplicitSubmission,
}

/// The ESMTP extensions a server may offer. All on by default; `STARTTLS` and `AUTH` are
/// governed by the [`Role`] and [`ServerConfig`] instead.
///
/// ```
/// let mut features = mailsec_smtp::server::Features::default();
/// features.dsn = false;
/// assert!(features.chunking && !features.dsn);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Features {
    /// `PIPELINING` (RFC 2920). Commands are always answered in order; this only advertises it.
    pub pipelining: bool,
    /// `8BITMIME` (RFC 6152): `BODY=8BITMIME` accepted.
    pub eight_bit_mime: bool,
    /// `SMTPUTF8` (RFC 6531): UTF-8 addresses accepted with the `SMTPUTF8` parameter.
    pub smtputf8: bool,
    /// `CHUNKING` (RFC 3030): `BDAT` accepted.
    pub chunking: bool,
    /// `BINARYMIME` (RFC 3030): `BODY=BINARYMIME` accepted (only with `chunking`).
    pub binary_mime: bool,
    /// `ENHANCEDSTATUSCODES` (RFC 2034): the server's own replies carry enhanced codes.
    pub enhanced_status_codes: bool,
    /// `DSN` (RFC 3461): `RET`, `ENVID`, `NOTIFY`, `ORCPT` accepted.
    pub dsn: bool,
    /// `REQUIRETLS` (RFC 8689), advertised and accepted only over TLS.
    pub require_tls: bool,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            pipelining: true,
            eight_bit_mime: true,
            smtputf8: true,
            chunking: true,
            binary_mime: true,
            enhanced_status_codes: true,
            dsn: true,
            require_tls: true,
        }
    }
}

/// Default largest message accepted, in octets (advertised with `SIZE`): 32 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 32 * 1024 * 1024;
/// Default most recipients per message (RFC 5321 §4.5.3.1.8 asks for at least 100).
pub const DEFAULT_MAX_RECIPIENTS: usize = MIN_RECIPIENTS;
/// Default number of client errors after which the server answers `421 4.7.0` and closes.
pub const DEFAULT_MAX_ERRORS: usize = 10;
/// Default wait for a command (RFC 5321 §4.5.3.2.7: 5 minutes).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Default wait for each block of message data (RFC 5321 §4.5.3.2.6 gives the client 3
/// minutes per block; the server waits as long).
pub const DEFAULT_DATA_TIMEOUT: Duration = Duration::from_secs(3 * 60);

/// How a [`Server`](super::Server) behaves: built with [`ServerConfig::new`] and `with_*`
/// methods.
///
/// ```
/// use mailsec_smtp::server::{Role, ServerConfig};
/// use mailsec_smtp::types::Domain;
///
/// let config = ServerConfig::new(Role::Submission, Domain::new(b"smtp.example.org")?)
///     .with_max_message_size(10 << 20)
///     .with_max_recipients(50);
/// assert!(config.policy().requires_secure_channel());
/// # Ok::<(), mailsec_smtp::CommandError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub(crate) role: Role,
    pub(crate) hostname: Domain,
    pub(crate) greeting: String,
    pub(crate) features: Features,
    pub(crate) starttls: bool,
    pub(crate) mechanisms: Vec<Mechanism>,
    pub(crate) insecure_auth: InsecureAuth,
    pub(crate) auth_required: bool,
    pub(crate) max_message_size: u64,
    pub(crate) max_recipients: usize,
    pub(crate) max_errors: usize,
    pub(crate) max_buffered: usize,
    pub(crate) max_data_line: usize,
    pub(crate) command_timeout: Duration,
    pub(crate) data_timeout: Duration,
    pub(crate) vrfy: Option<Reply>,
    pub(crate) expn: Option<Reply>,
}

impl ServerConfig {
    /// A configuration for `role`, naming the server `hostname` in its greeting and EHLO
    /// reply. Defaults: every [`Features`] on, STARTTLS offered (not for
    /// [`Role::ImplicitSubmission`]), mechanisms PLAIN and LOGIN (submission roles only, and
    /// only over TLS), authentication required in the submission roles,
    /// [`DEFAULT_MAX_MESSAGE_SIZE`], [`DEFAULT_MAX_RECIPIENTS`], [`DEFAULT_MAX_ERRORS`],
    /// [`DEFAULT_COMMAND_TIMEOUT`], [`DEFAULT_DATA_TIMEOUT`], 64 KiB of pipelined input,
    /// DATA lines of [`MAX_TEXT_LINE`] octets, `252` to VRFY and `502` to EXPN.
    pub fn new(role: Role, hostname: Domain) -> ServerConfig {
        ServerConfig {
            role,
            hostname,
            greeting: "ESMTP ready".to_owned(),
            features: Features::default(),
            starttls: role != Role::ImplicitSubmission,
            mechanisms: vec![Mechanism::Plain, Mechanism::Login],
            insecure_auth: InsecureAuth::Refuse,
            auth_required: role != Role::Mx,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_recipients: DEFAULT_MAX_RECIPIENTS,
            max_errors: DEFAULT_MAX_ERRORS,
            max_buffered: DEFAULT_MAX_BUFFERED,
            max_data_line: MAX_TEXT_LINE,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            data_timeout: DEFAULT_DATA_TIMEOUT,
            vrfy: None,
            expn: None,
        }
    }

    /// The text after the host name in the `220` greeting (default `ESMTP ready`). Control
    /// characters are removed.
    pub fn with_greeting(mut self, text: &str) -> ServerConfig {
        self.greeting = text.chars().filter(|c| !c.is_control()).take(200).collect();
        self
    }

    /// The extensions offered.
    pub fn with_features(mut self, features: Features) -> ServerConfig {
        self.features = features;
        self
    }

    /// Whether STARTTLS is offered (default: yes, except for
    /// [`Role::ImplicitSubmission`], which never offers it). Turn it off for an MX without a
    /// certificate; a [`Role::Submission`] server without STARTTLS accepts no mail.
    pub fn with_starttls(mut self, offered: bool) -> ServerConfig {
        self.starttls = offered && self.role != Role::ImplicitSubmission;
        self
    }

    /// The SASL mechanisms enabled, in the order advertised (default PLAIN, LOGIN). Never
    /// offered in [`Role::Mx`]. An empty list turns AUTH off.
    pub fn with_mechanisms(mut self, mechanisms: impl Into<Vec<Mechanism>>) -> ServerConfig {
        self.mechanisms = mechanisms.into();
        self
    }

    /// Whether plaintext-equivalent mechanisms (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER) may be
    /// used without TLS. With [`InsecureAuth::AllowPlaintextMechanismsWithoutTls`], a
    /// [`Role::Submission`] server also stops requiring STARTTLS before commands. Passwords
    /// then cross the network readable: for closed test networks only.
    pub fn with_insecure_auth(mut self, insecure: InsecureAuth) -> ServerConfig {
        self.insecure_auth = insecure;
        self
    }

    /// Whether MAIL needs a successful AUTH first (`530 5.7.0 Authentication required`;
    /// default: yes in the submission roles). Ignored in [`Role::Mx`], which has no AUTH.
    pub fn with_auth_required(mut self, required: bool) -> ServerConfig {
        self.auth_required = required;
        self
    }

    /// The largest message accepted, in octets, advertised with `SIZE` (RFC 1870).
    pub fn with_max_message_size(mut self, octets: u64) -> ServerConfig {
        self.max_message_size = octets;
        self
    }

    /// The most recipients per message; more get `452 4.5.3 Too many recipients`.
    pub fn with_max_recipients(mut self, max: usize) -> ServerConfig {
        self.max_recipients = max;
        self
    }

    /// How many client errors (bad commands, bad sequence, failed AUTH) the server answers
    /// before it says `421 4.7.0 Too many errors` and closes. At least 1.
    pub fn with_max_errors(mut self, max: usize) -> ServerConfig {
        self.max_errors = max.max(1);
        self
    }

    /// The most input bytes held while the application decides (pipelined commands, a message
    /// chunk). At least [`MAX_AUTH_LINE`]; more input than that while the machine waits ends
    /// the session with [`ServerError::InputOverflow`](super::ServerError::InputOverflow).
    pub fn with_max_buffered(mut self, max: usize) -> ServerConfig {
        self.max_buffered = max.max(MAX_AUTH_LINE);
        self
    }

    /// The longest DATA text line, counting its CRLF (default [`MAX_TEXT_LINE`], RFC 5321
    /// §4.5.3.1.6). At least 2.
    pub fn with_max_data_line(mut self, max: usize) -> ServerConfig {
        self.max_data_line = max.max(2);
        self
    }

    /// How long the server waits for a command, or a SASL response, before `421 4.4.2`.
    pub fn with_command_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.command_timeout = timeout;
        self
    }

    /// How long the server waits for each block of message data (DATA or BDAT) before
    /// `421 4.4.2`.
    pub fn with_data_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.data_timeout = timeout;
        self
    }

    /// The reply to every VRFY (default `252 2.5.0 Cannot VRFY user, but will accept message
    /// and attempt delivery`, RFC 5321 §3.5.3).
    pub fn with_vrfy_reply(mut self, reply: Reply) -> ServerConfig {
        self.vrfy = Some(reply);
        self
    }

    /// The reply to every EXPN (default `502 5.5.1 EXPN not available`).
    pub fn with_expn_reply(mut self, reply: Reply) -> ServerConfig {
        self.expn = Some(reply);
        self
    }

    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The host name the server announces.
    pub fn hostname(&self) -> &Domain {
        &self.hostname
    }

    /// The listener policy this configuration stands for: [`ServerPolicy::starttls_optional`]
    /// for an MX ([`ServerPolicy::insecure_plaintext`] when STARTTLS is off: an MX has no
    /// credentials to protect), [`ServerPolicy::starttls_required`] for submission,
    /// [`ServerPolicy::implicit_tls`] for implicit submission.
    pub fn policy(&self) -> ServerPolicy {
        match self.role {
            Role::Mx if self.starttls => ServerPolicy::starttls_optional(),
            Role::Mx => ServerPolicy::insecure_plaintext(),
            Role::Submission => ServerPolicy::starttls_required(),
            Role::ImplicitSubmission => ServerPolicy::implicit_tls(),
        }
    }

    /// The policy used to offer and check SASL mechanisms: plaintext-equivalent ones only over
    /// TLS unless [`ServerConfig::with_insecure_auth`] allows them.
    pub(crate) fn auth_policy(&self) -> ServerPolicy {
        match self.insecure_auth {
            InsecureAuth::AllowPlaintextMechanismsWithoutTls => ServerPolicy::insecure_plaintext(),
            _ => ServerPolicy::starttls_required(),
        }
    }
}
