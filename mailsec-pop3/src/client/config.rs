//! The client's configuration and its builder.

use std::time::Duration;

use mailsec_tls::ClientTls;
use mailsec_tls::sasl::{Credentials, InsecureAuth, Mechanism};

use crate::multiline::BareLineEndings;

/// How long the client waits for the server's next bytes while it expects a response: 10
/// minutes, the autologout floor of RFC 1939 §3.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(600);
/// The most entries a multi-line LIST or UIDL may hold.
pub const DEFAULT_MAX_LISTING_ENTRIES: usize = 100_000;
/// The most lines a CAPA response may hold.
pub const DEFAULT_MAX_CAPABILITIES: usize = 64;
/// The most intents waiting to be sent.
pub const DEFAULT_MAX_QUEUED: usize = 1024;
/// The most commands in flight at once when the server announces PIPELINING.
pub const DEFAULT_MAX_PIPELINE: usize = 32;

/// Everything a [`Client`](super::Client) needs to know before it connects. Built with
/// [`ClientConfig::builder`].
///
/// ```
/// use std::time::Duration;
/// use mailsec_pop3::client::ClientConfig;
/// use mailsec_tls::ClientTls;
/// use mailsec_tls::sasl::Credentials;
///
/// let config = ClientConfig::builder(Credentials::password("alice", "s3cret"))
///     .tls(ClientTls::StartTlsRequired)
///     .response_timeout(Duration::from_secs(120))
///     .max_message_size(Some(50 << 20))
///     .build();
/// assert_eq!(config.tls(), ClientTls::StartTlsRequired);
/// assert!(!config.apop_allowed());
/// ```
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub(crate) tls: ClientTls,
    pub(crate) credentials: Credentials,
    pub(crate) mechanisms: Vec<Mechanism>,
    pub(crate) insecure_auth: InsecureAuth,
    pub(crate) sasl: bool,
    pub(crate) user_pass: bool,
    pub(crate) apop: bool,
    pub(crate) response_timeout: Duration,
    pub(crate) max_listing_entries: usize,
    pub(crate) max_capabilities: usize,
    pub(crate) max_message_size: Option<u64>,
    pub(crate) max_queued: usize,
    pub(crate) max_pipeline: usize,
    pub(crate) bare_line_endings: BareLineEndings,
}

impl ClientConfig {
    /// A builder with safe defaults: implicit TLS (RFC 8314), SASL then USER/PASS, APOP off,
    /// no credential ever sent without TLS ([`InsecureAuth::Refuse`]).
    pub fn builder(credentials: Credentials) -> ClientConfigBuilder {
        ClientConfigBuilder(ClientConfig {
            tls: ClientTls::default(),
            credentials,
            mechanisms: Vec::new(),
            insecure_auth: InsecureAuth::default(),
            sasl: true,
            user_pass: true,
            apop: false,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            max_listing_entries: DEFAULT_MAX_LISTING_ENTRIES,
            max_capabilities: DEFAULT_MAX_CAPABILITIES,
            max_message_size: None,
            max_queued: DEFAULT_MAX_QUEUED,
            max_pipeline: DEFAULT_MAX_PIPELINE,
            bare_line_endings: BareLineEndings::Pass,
        })
    }

    /// The TLS policy.
    pub fn tls(&self) -> ClientTls {
        self.tls
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The preferred SASL mechanisms, in order (empty: the library's order).
    pub fn mechanisms(&self) -> &[Mechanism] {
        &self.mechanisms
    }

    /// Whether credentials may be used without TLS.
    pub fn insecure_auth(&self) -> InsecureAuth {
        self.insecure_auth
    }

    /// Whether APOP may be used.
    pub fn apop_allowed(&self) -> bool {
        self.apop
    }

    /// The response timeout.
    pub fn response_timeout(&self) -> Duration {
        self.response_timeout
    }

    /// The largest body accepted for RETR/TOP, if bounded.
    pub fn max_message_size(&self) -> Option<u64> {
        self.max_message_size
    }
}

/// Builds a [`ClientConfig`]; every setter has a safe default.
#[derive(Clone, Debug)]
pub struct ClientConfigBuilder(ClientConfig);

impl ClientConfigBuilder {
    /// How the connection is secured (default [`ClientTls::Implicit`], port 995).
    ///
    /// [`ClientTls::StartTlsRequired`] (port 110) upgrades with STLS and ends the session
    /// before any credential if the upgrade is impossible; [`ClientTls::StartTlsOpportunistic`]
    /// upgrades when offered; [`ClientTls::InsecurePlaintext`] never does. Without TLS, no
    /// credential is sent unless [`ClientConfigBuilder::insecure_auth`] allows it.
    #[must_use]
    pub fn tls(mut self, tls: ClientTls) -> Self {
        self.0.tls = tls;
        self
    }

    /// The SASL mechanisms to try, in order of preference. Empty (the default) means the
    /// order of [`mailsec_tls::sasl::choose_mechanism`] (SCRAM-SHA-256, PLAIN, LOGIN for a
    /// password; OAUTHBEARER, XOAUTH2 for a token). A mechanism is used only if the server
    /// listed it in the CAPA received over TLS and the policy permits it.
    #[must_use]
    pub fn mechanisms(mut self, mechanisms: impl IntoIterator<Item = Mechanism>) -> Self {
        self.0.mechanisms = mechanisms.into_iter().collect();
        self
    }

    /// Whether credentials (SASL, USER/PASS, APOP) may be used on a connection without TLS
    /// (default [`InsecureAuth::Refuse`]: never).
    #[must_use]
    pub fn insecure_auth(mut self, insecure: InsecureAuth) -> Self {
        self.0.insecure_auth = insecure;
        self
    }

    /// Whether AUTH (RFC 5034) may be used (default on).
    #[must_use]
    pub fn sasl(mut self, allowed: bool) -> Self {
        self.0.sasl = allowed;
        self
    }

    /// Whether USER/PASS (RFC 1939 §7) may be used when no SASL mechanism fits (default on).
    #[must_use]
    pub fn user_pass(mut self, allowed: bool) -> Self {
        self.0.user_pass = allowed;
        self
    }

    /// Whether APOP (RFC 1939 §7, MD5) may be used when no SASL mechanism fits and the
    /// greeting carried a timestamp (default off). It is tried before USER/PASS. After STLS
    /// it is never used: the greeting's timestamp came in clear (SECURITY.md invariant 2), so
    /// in practice APOP needs implicit TLS.
    #[must_use]
    pub fn apop(mut self, allowed: bool) -> Self {
        self.0.apop = allowed;
        self
    }

    /// How long to wait for the server's next bytes while a response is expected (default
    /// [`DEFAULT_RESPONSE_TIMEOUT`]). Idle time with nothing pending is not limited.
    #[must_use]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.0.response_timeout = timeout;
        self
    }

    /// The most entries a multi-line LIST or UIDL may hold (default
    /// [`DEFAULT_MAX_LISTING_ENTRIES`]); more is a session error.
    #[must_use]
    pub fn max_listing_entries(mut self, max: usize) -> Self {
        self.0.max_listing_entries = max;
        self
    }

    /// The most CAPA lines (default [`DEFAULT_MAX_CAPABILITIES`]); more is a session error.
    #[must_use]
    pub fn max_capabilities(mut self, max: usize) -> Self {
        self.0.max_capabilities = max;
        self
    }

    /// The largest RETR/TOP body handed out (default `None`: unbounded, bodies are streamed
    /// and never held). A larger body ends in
    /// [`ClientEvent::MessageTooLarge`](super::ClientEvent::MessageTooLarge); its rest is read
    /// and dropped, and the session goes on.
    #[must_use]
    pub fn max_message_size(mut self, max: Option<u64>) -> Self {
        self.0.max_message_size = max;
        self
    }

    /// The most intents waiting to be sent (default [`DEFAULT_MAX_QUEUED`]).
    #[must_use]
    pub fn max_queued(mut self, max: usize) -> Self {
        self.0.max_queued = max.max(1);
        self
    }

    /// The most commands in flight when the server announces PIPELINING (default
    /// [`DEFAULT_MAX_PIPELINE`]; at least 1). Without PIPELINING one command is in flight.
    #[must_use]
    pub fn max_pipeline(mut self, max: usize) -> Self {
        self.0.max_pipeline = max.max(1);
        self
    }

    /// What to do with a bare CR or LF inside a RETR/TOP body (default
    /// [`BareLineEndings::Pass`]: kept as body bytes; only CRLF `.` CRLF ever ends a body).
    /// [`BareLineEndings::Reject`] makes them a session error.
    #[must_use]
    pub fn bare_line_endings(mut self, bare: BareLineEndings) -> Self {
        self.0.bare_line_endings = bare;
        self
    }

    /// The configuration.
    pub fn build(self) -> ClientConfig {
        self.0
    }
}
