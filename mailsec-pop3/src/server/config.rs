//! The server's configuration: one [`ServerConfig`] per listener, shared by its sessions.

use std::time::Duration;

use mailsec_tls::ServerPolicy;
use mailsec_tls::framer::DEFAULT_MAX_BUFFERED;
use mailsec_tls::sasl::{InsecureAuth, Mechanism};

use crate::multiline::BareLineEndings;
use crate::types::{Expire, MAX_COMMAND_LINE, MAX_SASL_LINE};

/// RFC 1939 §3: an autologout timer "MUST be of at least 10 minutes' duration". The builder
/// raises shorter idle timeouts to this.
pub const MIN_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// The longest greeting or IMPLEMENTATION text accepted, so that every line fits the 512-octet
/// response limit (RFC 2449 §4) with its status, timestamp and CRLF.
pub const MAX_CONFIG_TEXT: usize = 300;

/// The longest APOP timestamp accepted (`<` … `>` included).
pub const MAX_APOP_TIMESTAMP: usize = 128;

/// A configuration value that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A text (greeting, IMPLEMENTATION) holds CR, LF, NUL or another control character, is
    /// longer than [`MAX_CONFIG_TEXT`], or starts with `[` (it would read as a response code).
    #[error("invalid {0} text")]
    InvalidText(&'static str),
    /// An APOP timestamp that is not `<` printable ASCII without SP `>` (RFC 1939 §7, the
    /// syntax of a msg-id) of at most [`MAX_APOP_TIMESTAMP`] octets.
    #[error("invalid APOP timestamp")]
    InvalidApopTimestamp,
    /// A limit of zero.
    #[error("the limit {0} must be at least 1")]
    ZeroLimit(&'static str),
}

/// How a POP3 listener behaves. Build one with [`ServerConfig::builder`]; share it between
/// sessions in an `Arc`.
///
/// The defaults are the safe ones: STLS offered and a secure channel required before any
/// credential ([`ServerPolicy::starttls_required`]), USER/PASS and SASL `PLAIN` (after TLS
/// only), APOP off, a 10-minute idle timer, 3 failed logins and 10 bad commands per session.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub(crate) policy: ServerPolicy,
    pub(crate) greeting: String,
    pub(crate) apop: bool,
    pub(crate) user_pass: bool,
    pub(crate) mechanisms: Vec<Mechanism>,
    pub(crate) insecure_auth: InsecureAuth,
    pub(crate) implementation: Option<String>,
    pub(crate) login_delay: Option<u32>,
    pub(crate) expire: Option<Expire>,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_auth_failures: u32,
    pub(crate) max_bad_commands: u32,
    pub(crate) max_buffered_input: usize,
    pub(crate) line_endings: BareLineEndings,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            policy: ServerPolicy::default(),
            greeting: "POP3 server ready".to_owned(),
            apop: false,
            user_pass: true,
            mechanisms: vec![Mechanism::Plain],
            insecure_auth: InsecureAuth::Refuse,
            implementation: None,
            login_delay: None,
            expire: None,
            idle_timeout: MIN_IDLE_TIMEOUT,
            max_auth_failures: 3,
            max_bad_commands: 10,
            max_buffered_input: DEFAULT_MAX_BUFFERED,
            line_endings: BareLineEndings::ToCrlf,
        }
    }
}

impl ServerConfig {
    /// A builder starting from the defaults.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mailsec_pop3::server::ServerConfig;
    /// use mailsec_tls::{sasl::Mechanism, ServerPolicy};
    ///
    /// let config = ServerConfig::builder()
    ///     .policy(ServerPolicy::implicit_tls())
    ///     .greeting("pop.example.net ready")
    ///     .mechanisms([Mechanism::ScramSha256, Mechanism::Plain])
    ///     .implementation("mailsec")
    ///     .idle_timeout(Duration::from_secs(60)) // raised to the RFC 1939 minimum
    ///     .build()?;
    /// assert_eq!(config.idle_timeout(), Duration::from_secs(600));
    /// # Ok::<(), mailsec_pop3::server::ConfigError>(())
    /// ```
    pub fn builder() -> ServerConfigBuilder {
        ServerConfigBuilder {
            config: ServerConfig::default(),
        }
    }

    /// The listener's TLS policy.
    pub fn policy(&self) -> ServerPolicy {
        self.policy
    }

    /// The idle (autologout) timeout.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// The SASL mechanisms enabled (each offered only where the policy allows it).
    pub fn mechanisms(&self) -> &[Mechanism] {
        &self.mechanisms
    }

    /// Whether APOP is enabled.
    pub fn apop(&self) -> bool {
        self.apop
    }
}

/// Builds a [`ServerConfig`]; see [`ServerConfig::builder`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ServerConfigBuilder {
    config: ServerConfig,
}

impl ServerConfigBuilder {
    /// The listener's policy: [`ServerPolicy::implicit_tls`] (port 995; greeting after the
    /// handshake), [`ServerPolicy::starttls_required`] (the default: STLS offered, no
    /// credential before TLS), [`ServerPolicy::starttls_optional`] (STLS offered; non-plaintext
    /// credentials — SCRAM, APOP — accepted in clear) or [`ServerPolicy::insecure_plaintext`]
    /// (no TLS, every credential in clear).
    pub fn policy(mut self, policy: ServerPolicy) -> Self {
        self.config.policy = policy;
        self
    }

    /// The greeting text after `+OK ` (default `POP3 server ready`). It must not name the
    /// software version (RFC 2449 §6.9 has IMPLEMENTATION for that, after login).
    pub fn greeting(mut self, text: impl Into<String>) -> Self {
        self.config.greeting = text.into();
        self
    }

    /// Enables APOP (RFC 1939 §7; off by default). A session offers it only when created with
    /// [`Pop3Server::with_apop_timestamp`](super::Pop3Server::with_apop_timestamp), since the
    /// machine has neither clock nor randomness to make the timestamp itself.
    pub fn apop(mut self, enabled: bool) -> Self {
        self.config.apop = enabled;
        self
    }

    /// Enables USER/PASS (RFC 1939 §7; on by default, offered only where plaintext
    /// credentials are allowed).
    pub fn user_pass(mut self, enabled: bool) -> Self {
        self.config.user_pass = enabled;
        self
    }

    /// The SASL mechanisms enabled for AUTH (RFC 5034), in the order CAPA lists them.
    /// Default: `PLAIN`.
    pub fn mechanisms(mut self, mechanisms: impl IntoIterator<Item = Mechanism>) -> Self {
        let mut list: Vec<Mechanism> = Vec::new();
        for m in mechanisms {
            if !list.contains(&m) {
                list.push(m);
            }
        }
        self.config.mechanisms = list;
        self
    }

    /// Whether plaintext-equivalent credentials (USER/PASS, PLAIN, LOGIN, bearer tokens) are
    /// accepted without TLS on a listener whose policy does not require a secure channel
    /// ([`ServerPolicy::starttls_optional`]). Never overrides
    /// [`ServerPolicy::requires_secure_channel`]. Default: [`InsecureAuth::Refuse`].
    pub fn insecure_auth(mut self, insecure: InsecureAuth) -> Self {
        self.config.insecure_auth = insecure;
        self
    }

    /// The `IMPLEMENTATION` capability text (RFC 2449 §6.9), listed only after login.
    pub fn implementation(mut self, text: impl Into<String>) -> Self {
        self.config.implementation = Some(text.into());
        self
    }

    /// The `LOGIN-DELAY` capability in seconds (RFC 2449 §6.5). The machine only announces
    /// it; the application enforces it by refusing with
    /// [`MaildropRefusal::LoginDelay`](super::MaildropRefusal::LoginDelay).
    pub fn login_delay(mut self, seconds: u32) -> Self {
        self.config.login_delay = Some(seconds);
        self
    }

    /// The `EXPIRE` capability (RFC 2449 §6.7), announced only.
    pub fn expire(mut self, policy: Expire) -> Self {
        self.config.expire = Some(policy);
        self
    }

    /// The idle (autologout) timeout, raised to [`MIN_IDLE_TIMEOUT`] (RFC 1939 §3).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout.max(MIN_IDLE_TIMEOUT);
        self
    }

    /// Failed logins (USER/PASS, APOP, AUTH) after which the session is closed. Default 3.
    pub fn max_auth_failures(mut self, n: u32) -> Self {
        self.config.max_auth_failures = n;
        self
    }

    /// Bad commands (unknown, malformed, too long, invalid in the state) after which the
    /// session is closed. Default 10.
    pub fn max_bad_commands(mut self, n: u32) -> Self {
        self.config.max_bad_commands = n;
        self
    }

    /// The most received bytes held unprocessed (pipelined commands while the machine waits
    /// for the application). More is [`ServerError::InputOverflow`](super::ServerError).
    /// Raised to at least [`MAX_SASL_LINE`] so one SASL line always fits. Default 64 KiB.
    pub fn max_buffered_input(mut self, bytes: usize) -> Self {
        self.config.max_buffered_input = bytes.max(MAX_SASL_LINE).max(MAX_COMMAND_LINE);
        self
    }

    /// What to do with bare CR or LF in message content the application streams: convert them
    /// to CRLF ([`BareLineEndings::ToCrlf`], the default, right for a maildir stored with LF
    /// endings), send them as they are ([`BareLineEndings::Pass`]), or end the session
    /// ([`BareLineEndings::Reject`]). Message sizes announced by the [`Maildrop`] must count
    /// what is transmitted.
    ///
    /// [`Maildrop`]: crate::maildrop::Maildrop
    pub fn message_line_endings(mut self, bare: BareLineEndings) -> Self {
        self.config.line_endings = bare;
        self
    }

    /// Checks and returns the configuration.
    pub fn build(self) -> Result<ServerConfig, ConfigError> {
        let c = self.config;
        check_text(&c.greeting, "greeting")?;
        if let Some(t) = &c.implementation {
            check_text(t, "implementation")?;
        }
        if c.max_auth_failures == 0 {
            return Err(ConfigError::ZeroLimit("max_auth_failures"));
        }
        if c.max_bad_commands == 0 {
            return Err(ConfigError::ZeroLimit("max_bad_commands"));
        }
        Ok(c)
    }
}

fn check_text(text: &str, what: &'static str) -> Result<(), ConfigError> {
    if text.len() > MAX_CONFIG_TEXT || text.starts_with('[') || text.chars().any(char::is_control) {
        return Err(ConfigError::InvalidText(what));
    }
    Ok(())
}

/// Checks an APOP timestamp: `<`, printable ASCII without SP, `>`.
pub(crate) fn check_apop_timestamp(ts: &str) -> Result<(), ConfigError> {
    let b = ts.as_bytes();
    let ok = b.len() >= 3
        && b.len() <= MAX_APOP_TIMESTAMP
        && b[0] == b'<'
        && b[b.len() - 1] == b'>'
        && b[1..b.len() - 1]
            .iter()
            .all(|c| c.is_ascii_graphic() && *c != b'<' && *c != b'>');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::InvalidApopTimestamp)
    }
}
