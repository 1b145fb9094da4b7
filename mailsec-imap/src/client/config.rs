//! The client's configuration and its builder.

use std::time::Duration;

use mailsec_tls::ClientTls;
use mailsec_tls::sasl::{Credentials, InsecureAuth, Mechanism};

/// How long the client waits for the server's next bytes while it expects a response (a
/// tagged completion, a continuation request, the greeting): 2 minutes. A NOOP or a DONE that
/// gets no answer in that time means the link is dead.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long an IDLE runs before the client ends it with DONE and starts a new one: 28
/// minutes, under the 29 minutes RFC 2177 §3 asks for (servers may log out after 30).
pub const DEFAULT_IDLE_REFRESH: Duration = Duration::from_secs(28 * 60);
/// The most intents waiting to be sent.
pub const DEFAULT_MAX_QUEUED: usize = 1024;
/// The most commands in flight at once.
pub const DEFAULT_MAX_PIPELINE: usize = 16;
/// The most results one SEARCH may return (an ESEARCH `ALL 1:4294967295` is refused rather
/// than expanded).
pub const DEFAULT_MAX_SEARCH_RESULTS: usize = 1_000_000;
/// The most untagged responses collected for one request (LIST entries, FETCH responses of
/// one FETCH are not collected but handed out one by one).
pub const DEFAULT_MAX_COLLECTED: usize = 100_000;
/// The largest literal accepted after login (a message fetched with
/// [`Client::fetch_message`](super::Client::fetch_message) is one literal): 64 MiB.
pub const DEFAULT_MAX_LITERAL: u64 = 64 << 20;
/// The largest message [`Client::fetch_message_streamed`](super::Client::fetch_message_streamed)
/// accepts: 4 GiB (RFC 3501's 32-bit numbers). It is never held in memory.
pub const DEFAULT_MAX_STREAMED: u64 = u32::MAX as u64;
/// The largest [`ClientEvent::MessageData`](super::ClientEvent::MessageData) chunk: 64 KiB.
pub const DEFAULT_STREAM_CHUNK: usize = 64 * 1024;

/// Everything a [`Client`](super::Client) needs to know before it connects. Built with
/// [`ClientConfig::builder`].
///
/// ```
/// use std::time::Duration;
/// use mailsec_imap::client::ClientConfig;
/// use mailsec_tls::ClientTls;
/// use mailsec_tls::sasl::Credentials;
///
/// let config = ClientConfig::builder(Credentials::password("alice", "s3cret"))
///     .tls(ClientTls::StartTlsRequired)
///     .response_timeout(Duration::from_secs(30))
///     .build();
/// assert_eq!(config.tls(), ClientTls::StartTlsRequired);
/// ```
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub(crate) tls: ClientTls,
    pub(crate) credentials: Credentials,
    pub(crate) mechanisms: Vec<Mechanism>,
    pub(crate) insecure_auth: InsecureAuth,
    pub(crate) sasl: bool,
    pub(crate) login: bool,
    pub(crate) response_timeout: Duration,
    pub(crate) idle_refresh: Duration,
    pub(crate) max_queued: usize,
    pub(crate) max_pipeline: usize,
    pub(crate) max_search_results: usize,
    pub(crate) max_collected: usize,
    pub(crate) max_literal: u64,
    pub(crate) max_streamed: u64,
    pub(crate) stream_chunk: usize,
    pub(crate) keepalive: Option<Duration>,
}

impl ClientConfig {
    /// A builder with safe defaults: implicit TLS (RFC 8314), SASL then LOGIN, no credential
    /// ever sent without TLS ([`InsecureAuth::Refuse`]).
    pub fn builder(credentials: Credentials) -> ClientConfigBuilder {
        ClientConfigBuilder(ClientConfig {
            tls: ClientTls::default(),
            credentials,
            mechanisms: Vec::new(),
            insecure_auth: InsecureAuth::default(),
            sasl: true,
            login: true,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            idle_refresh: DEFAULT_IDLE_REFRESH,
            max_queued: DEFAULT_MAX_QUEUED,
            max_pipeline: DEFAULT_MAX_PIPELINE,
            max_search_results: DEFAULT_MAX_SEARCH_RESULTS,
            max_collected: DEFAULT_MAX_COLLECTED,
            max_literal: DEFAULT_MAX_LITERAL,
            max_streamed: DEFAULT_MAX_STREAMED,
            stream_chunk: DEFAULT_STREAM_CHUNK,
            keepalive: None,
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

    /// Whether credentials may be used without TLS.
    pub fn insecure_auth(&self) -> InsecureAuth {
        self.insecure_auth
    }

    /// The response timeout.
    pub fn response_timeout(&self) -> Duration {
        self.response_timeout
    }

    /// How long one IDLE command runs before it is renewed.
    pub fn idle_refresh(&self) -> Duration {
        self.idle_refresh
    }

    /// The keepalive interval, if on.
    pub fn keepalive(&self) -> Option<Duration> {
        self.keepalive
    }
}

/// Builds a [`ClientConfig`]; every setter has a safe default.
#[derive(Clone, Debug)]
pub struct ClientConfigBuilder(ClientConfig);

impl ClientConfigBuilder {
    /// How the connection is secured (default [`ClientTls::Implicit`], port 993).
    ///
    /// [`ClientTls::StartTlsRequired`] (port 143) upgrades with STARTTLS and ends the session
    /// before any credential if the upgrade is impossible (missing, refused, PREAUTH in clear);
    /// [`ClientTls::StartTlsOpportunistic`] upgrades when offered;
    /// [`ClientTls::InsecurePlaintext`] never does. Without TLS, no credential is sent unless
    /// [`ClientConfigBuilder::insecure_auth`] allows it.
    #[must_use]
    pub fn tls(mut self, tls: ClientTls) -> Self {
        self.0.tls = tls;
        self
    }

    /// The SASL mechanisms to try, in order of preference. Empty (the default) means the
    /// order of [`mailsec_tls::sasl::choose_mechanism`]. A mechanism is used only if the
    /// server listed it (`AUTH=`) in capabilities received over TLS and the policy permits it.
    #[must_use]
    pub fn mechanisms(mut self, mechanisms: impl IntoIterator<Item = Mechanism>) -> Self {
        self.0.mechanisms = mechanisms.into_iter().collect();
        self
    }

    /// Whether credentials (AUTHENTICATE of any mechanism, LOGIN) may be used on a connection
    /// without TLS (default [`InsecureAuth::Refuse`]: never).
    #[must_use]
    pub fn insecure_auth(mut self, insecure: InsecureAuth) -> Self {
        self.0.insecure_auth = insecure;
        self
    }

    /// Whether AUTHENTICATE (RFC 9051 §6.2.2) may be used (default on).
    #[must_use]
    pub fn sasl(mut self, allowed: bool) -> Self {
        self.0.sasl = allowed;
        self
    }

    /// Whether LOGIN (RFC 9051 §6.2.3) may be used when no SASL mechanism fits and the server
    /// does not announce LOGINDISABLED (default on).
    #[must_use]
    pub fn login(mut self, allowed: bool) -> Self {
        self.0.login = allowed;
        self
    }

    /// How long to wait for the server while a response is expected (default
    /// [`DEFAULT_RESPONSE_TIMEOUT`]); each received byte restarts it. Idle time with nothing
    /// pending (an established IDLE included) is not limited.
    #[must_use]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.0.response_timeout = timeout;
        self
    }

    /// How long one IDLE runs before DONE and a new IDLE (default [`DEFAULT_IDLE_REFRESH`]).
    #[must_use]
    pub fn idle_refresh(mut self, refresh: Duration) -> Self {
        self.0.idle_refresh = refresh;
        self
    }

    /// The most intents waiting to be sent (default [`DEFAULT_MAX_QUEUED`], at least 1).
    #[must_use]
    pub fn max_queued(mut self, max: usize) -> Self {
        self.0.max_queued = max.max(1);
        self
    }

    /// The most commands in flight (default [`DEFAULT_MAX_PIPELINE`]); 1 turns pipelining
    /// off.
    #[must_use]
    pub fn max_pipeline(mut self, max: usize) -> Self {
        self.0.max_pipeline = max.max(1);
        self
    }

    /// The most UIDs one search returns (default [`DEFAULT_MAX_SEARCH_RESULTS`]); more ends
    /// the session.
    #[must_use]
    pub fn max_search_results(mut self, max: usize) -> Self {
        self.0.max_search_results = max;
        self
    }

    /// The most LIST entries one request collects (default [`DEFAULT_MAX_COLLECTED`]); more
    /// ends the session.
    #[must_use]
    pub fn max_collected(mut self, max: usize) -> Self {
        self.0.max_collected = max;
        self
    }

    /// The largest literal accepted once logged in (default [`DEFAULT_MAX_LITERAL`]); a
    /// larger announcement ends the session before any byte of it is kept. Before login the
    /// framer's own limit (64 KiB) holds.
    #[must_use]
    pub fn max_literal(mut self, max: u64) -> Self {
        self.0.max_literal = max;
        self
    }

    /// The largest message [`Client::fetch_message_streamed`](super::Client::fetch_message_streamed)
    /// accepts (default [`DEFAULT_MAX_STREAMED`]); a larger announcement ends the session
    /// before any byte of it is handed out. Streamed octets are never kept, so this is not a
    /// memory bound.
    #[must_use]
    pub fn max_streamed_message(mut self, max: u64) -> Self {
        self.0.max_streamed = max;
        self
    }

    /// The largest [`ClientEvent::MessageData`](super::ClientEvent::MessageData) chunk
    /// (default [`DEFAULT_STREAM_CHUNK`], at least 1). A chunk is also never larger than what
    /// one [`Machine::handle_input`](mailsec_tls::Machine::handle_input) brought.
    #[must_use]
    pub fn stream_chunk(mut self, max: usize) -> Self {
        self.0.stream_chunk = max.max(1);
        self
    }

    /// Keepalive outside IDLE (default off): once logged in, when nothing has been sent or
    /// received for `interval` and no command is in flight or queued, the client sends `NOOP`
    /// on its own (no event; unsolicited updates it brings are reported). A NOOP not answered
    /// within the [response timeout](Self::response_timeout) ends the session with
    /// [`ClientError::Timeout`](super::ClientError::Timeout) (a dead link). The deadline is
    /// in [`Machine::poll_timeout`](mailsec_tls::Machine::poll_timeout). An established IDLE
    /// has its own refresh ([`idle_refresh`](Self::idle_refresh)) and gets no NOOP.
    /// `None` or a zero interval turns it off.
    #[must_use]
    pub fn keepalive(mut self, interval: Option<Duration>) -> Self {
        self.0.keepalive = interval.filter(|d| !d.is_zero());
        self
    }

    /// The configuration.
    pub fn build(self) -> ClientConfig {
        self.0
    }
}
