//! The server's configuration: one [`ServerConfig`] per listener, shared by its sessions.

use std::time::Duration;

use mailsec_tls::ServerPolicy;
use mailsec_tls::sasl::{InsecureAuth, Mechanism};

use crate::framing::{FramerConfig, LITERAL_MINUS_MAX, PhaseLimits};

/// RFC 9051 §5.4: an autologout timer after login "MUST be of at least 30 minutes' duration".
/// The builder raises shorter idle timeouts to this.
pub const MIN_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The longest greeting text accepted.
pub const MAX_CONFIG_TEXT: usize = 300;

/// The smallest chunk of message content read from the store per output.
pub const MIN_FETCH_CHUNK: usize = 1024;

/// A configuration value that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A text (greeting) holds a control character, is longer than [`MAX_CONFIG_TEXT`], or
    /// starts with `[` (it would read as a response code).
    #[error("invalid {0} text")]
    InvalidText(&'static str),
    /// A limit of zero.
    #[error("the limit {0} must be at least 1")]
    ZeroLimit(&'static str),
}

/// How an IMAP listener behaves. Build one with [`ServerConfig::builder`]; share it between
/// sessions in an `Arc`.
///
/// The defaults are the safe ones: STARTTLS offered and a secure channel required before any
/// credential ([`ServerPolicy::starttls_required`]: `LOGINDISABLED`, no `AUTH=` before TLS),
/// LOGIN and SASL `PLAIN` after TLS, LITERAL- (RFC 7888), a 2-minute autologout before login
/// and 30 minutes after (RFC 9051 §5.4), 3 failed logins and 20 bad commands per session.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub(crate) policy: ServerPolicy,
    pub(crate) greeting: String,
    pub(crate) login: bool,
    pub(crate) mechanisms: Vec<Mechanism>,
    pub(crate) insecure_auth: InsecureAuth,
    pub(crate) literal_plus: bool,
    pub(crate) before_auth: PhaseLimits,
    pub(crate) after_auth: PhaseLimits,
    pub(crate) login_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) idle_keepalive: Duration,
    pub(crate) recheck_interval: Duration,
    pub(crate) max_auth_failures: u32,
    pub(crate) max_bad_commands: u32,
    pub(crate) max_pipelined_input: usize,
    pub(crate) fetch_chunk: usize,
    pub(crate) max_parse_size: u64,
    pub(crate) max_search_bytes: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let framer = FramerConfig::server();
        ServerConfig {
            policy: ServerPolicy::default(),
            greeting: "IMAP server ready".to_owned(),
            login: true,
            mechanisms: vec![Mechanism::Plain],
            insecure_auth: InsecureAuth::Refuse,
            literal_plus: false,
            before_auth: framer.before_auth,
            after_auth: framer.after_auth,
            login_timeout: Duration::from_secs(120),
            idle_timeout: MIN_IDLE_TIMEOUT,
            idle_keepalive: Duration::from_secs(120),
            recheck_interval: Duration::from_secs(30),
            max_auth_failures: 3,
            max_bad_commands: 20,
            max_pipelined_input: 128 * 1024,
            fetch_chunk: 32 * 1024,
            max_parse_size: 32 << 20,
            max_search_bytes: 256 << 20,
        }
    }
}

impl ServerConfig {
    /// A builder starting from the defaults.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mailsec_imap::server::ServerConfig;
    /// use mailsec_tls::{sasl::Mechanism, ServerPolicy};
    ///
    /// let config = ServerConfig::builder()
    ///     .policy(ServerPolicy::implicit_tls())
    ///     .greeting("imap.example.net ready")
    ///     .mechanisms([Mechanism::ScramSha256, Mechanism::Plain])
    ///     .idle_timeout(Duration::from_secs(60)) // raised to the RFC 9051 minimum
    ///     .build()?;
    /// assert_eq!(config.idle_timeout(), Duration::from_secs(1800));
    /// # Ok::<(), mailsec_imap::server::ConfigError>(())
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

    /// The autologout timeout after login.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// The autologout timeout before login.
    pub fn login_timeout(&self) -> Duration {
        self.login_timeout
    }

    /// The SASL mechanisms enabled (each offered only where the policy allows it).
    pub fn mechanisms(&self) -> &[Mechanism] {
        &self.mechanisms
    }

    /// The framer configuration the sessions use.
    pub fn framer_config(&self) -> FramerConfig {
        let mut c = FramerConfig::server();
        c.before_auth = self.before_auth;
        c.after_auth = self.after_auth;
        c.max_non_sync_literal = Some(if self.literal_plus {
            u64::MAX
        } else {
            LITERAL_MINUS_MAX
        });
        c
    }
}

/// Builds a [`ServerConfig`]; see [`ServerConfig::builder`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ServerConfigBuilder {
    config: ServerConfig,
}

impl ServerConfigBuilder {
    /// The listener's policy: [`ServerPolicy::implicit_tls`] (port 993; greeting after the
    /// handshake), [`ServerPolicy::starttls_required`] (the default: STARTTLS offered,
    /// `LOGINDISABLED` and no credential before TLS), [`ServerPolicy::starttls_optional`]
    /// (STARTTLS offered; non-plaintext mechanisms such as SCRAM accepted in clear) or
    /// [`ServerPolicy::insecure_plaintext`] (no TLS, every credential in clear).
    pub fn policy(mut self, policy: ServerPolicy) -> Self {
        self.config.policy = policy;
        self
    }

    /// The greeting text after `* OK [CAPABILITY ...] ` (default `IMAP server ready`).
    pub fn greeting(mut self, text: impl Into<String>) -> Self {
        self.config.greeting = text.into();
        self
    }

    /// Enables the LOGIN command (on by default; refused and `LOGINDISABLED` wherever
    /// plaintext credentials are not allowed).
    pub fn login(mut self, enabled: bool) -> Self {
        self.config.login = enabled;
        self
    }

    /// The SASL mechanisms enabled for AUTHENTICATE, in the order CAPABILITY lists them.
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

    /// Whether plaintext-equivalent credentials (LOGIN, PLAIN, bearer tokens) are accepted
    /// without TLS on a listener whose policy does not require a secure channel. Never
    /// overrides [`ServerPolicy::requires_secure_channel`]. Default: [`InsecureAuth::Refuse`].
    pub fn insecure_auth(mut self, insecure: InsecureAuth) -> Self {
        self.config.insecure_auth = insecure;
        self
    }

    /// Advertise `LITERAL+` (RFC 7888: non-synchronizing literals of any size within the
    /// literal limits) instead of `LITERAL-` (at most 4096 octets). Default: off.
    pub fn literal_plus(mut self, on: bool) -> Self {
        self.config.literal_plus = on;
        self
    }

    /// Line, literal and command limits before and after login (defaults:
    /// [`FramerConfig::server`]). A lower `max_line` than 2 is raised by the framer.
    pub fn limits(mut self, before_auth: PhaseLimits, after_auth: PhaseLimits) -> Self {
        self.config.before_auth = before_auth;
        self.config.after_auth = after_auth;
        self
    }

    /// The autologout timeout before login (default 2 minutes; RFC 9051 §5.4 allows a
    /// shorter one than after login).
    pub fn login_timeout(mut self, timeout: Duration) -> Self {
        self.config.login_timeout = timeout;
        self
    }

    /// The autologout timeout after login, raised to [`MIN_IDLE_TIMEOUT`] (RFC 9051 §5.4).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout.max(MIN_IDLE_TIMEOUT);
        self
    }

    /// During IDLE, how long without any untagged response before `* OK Still here` is sent
    /// (default 2 minutes), so that NAT boxes keep the connection.
    pub fn idle_keepalive(mut self, interval: Duration) -> Self {
        self.config.idle_keepalive = interval;
        self
    }

    /// During IDLE, how often the selected folder is compared with the store for new,
    /// expunged and changed messages (default 30 seconds).
    pub fn recheck_interval(mut self, interval: Duration) -> Self {
        self.config.recheck_interval = interval;
        self
    }

    /// Failed logins (LOGIN, AUTHENTICATE) after which the session is closed. Default 3.
    pub fn max_auth_failures(mut self, n: u32) -> Self {
        self.config.max_auth_failures = n;
        self
    }

    /// Bad commands (unknown, malformed, too long, invalid in the state) after which the
    /// session is closed. Default 20.
    pub fn max_bad_commands(mut self, n: u32) -> Self {
        self.config.max_bad_commands = n;
        self
    }

    /// The most received bytes held unexamined while the machine waits (for the application,
    /// for the client to read a FETCH response, for a TLS handshake): pipelined commands.
    /// More is [`ServerError::InputOverflow`](super::ServerError). Default 128 KiB.
    pub fn max_pipelined_input(mut self, bytes: usize) -> Self {
        self.config.max_pipelined_input = bytes;
        self
    }

    /// How many octets of a message are read from the store per [`Output::Transmit`] while a
    /// `BODY[]` or `BINARY[]` literal is streamed (default 32 KiB, at least
    /// [`MIN_FETCH_CHUNK`]).
    ///
    /// [`Output::Transmit`]: mailsec_tls::Output::Transmit
    pub fn fetch_chunk(mut self, bytes: usize) -> Self {
        self.config.fetch_chunk = bytes.max(MIN_FETCH_CHUNK);
        self
    }

    /// The most octets of one message read into memory to analyse it (ENVELOPE,
    /// BODYSTRUCTURE, sections, BINARY of a part, SEARCH on content). A longer message is
    /// analysed from its first octets only. Default 32 MiB.
    pub fn max_parse_size(mut self, bytes: u64) -> Self {
        self.config.max_parse_size = bytes;
        self
    }

    /// The most message octets one SEARCH command reads from the store to match header keys
    /// (FROM, SUBJECT, HEADER, SENTON, ...: only each message's header block is read) and body
    /// keys (BODY, TEXT: each message whole, up to [`max_parse_size`](Self::max_parse_size)).
    /// The store is read synchronously inside the input call, so this bounds the time one
    /// command can take. A SEARCH that would read more is answered `NO [LIMIT]` (RFC 5530
    /// §3) without results; searches on flags, dates, sizes and uids read no content and are
    /// never limited. Default 256 MiB.
    pub fn max_search_bytes(mut self, bytes: u64) -> Self {
        self.config.max_search_bytes = bytes;
        self
    }

    /// Checks and returns the configuration.
    pub fn build(self) -> Result<ServerConfig, ConfigError> {
        let c = self.config;
        if c.greeting.len() > MAX_CONFIG_TEXT
            || c.greeting.starts_with('[')
            || c.greeting.chars().any(char::is_control)
        {
            return Err(ConfigError::InvalidText("greeting"));
        }
        if c.max_auth_failures == 0 {
            return Err(ConfigError::ZeroLimit("max_auth_failures"));
        }
        if c.max_bad_commands == 0 {
            return Err(ConfigError::ZeroLimit("max_bad_commands"));
        }
        if c.max_pipelined_input == 0 {
            return Err(ConfigError::ZeroLimit("max_pipelined_input"));
        }
        if c.idle_keepalive.is_zero() || c.recheck_interval.is_zero() {
            return Err(ConfigError::ZeroLimit("idle intervals"));
        }
        Ok(c)
    }
}
