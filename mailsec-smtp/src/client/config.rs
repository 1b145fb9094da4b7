//! How a client session is set up: names, TLS policy, credentials, extensions, limits, timers.

use std::time::Duration;

use mailsec_tls::ClientTls;
use mailsec_tls::sasl::{Credentials, InsecureAuth, Mechanism};

use crate::data::BareLineEndings;
use crate::error::CommandError;
use crate::types::{Host, MAX_REPLY_LINES, MAX_REPLY_OCTETS};

/// How long the client waits for each reply (RFC 5321 §4.5.3.2), and for the application
/// while it streams a message body.
///
/// The defaults are the RFC's minimums. `Timeouts` is `#[non_exhaustive]`: start from
/// `Timeouts::default()` and change fields.
///
/// ```
/// use std::time::Duration;
/// let mut t = mailsec_smtp::client::Timeouts::default();
/// assert_eq!(t.data_end, Duration::from_secs(600));
/// t.greeting = Duration::from_secs(30);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// The `220` greeting, counted from [`super::Client::new`] (so it covers an implicit TLS
    /// handshake): 5 minutes (§4.5.3.2.1).
    pub greeting: Duration,
    /// Replies to MAIL: 5 minutes (§4.5.3.2.2).
    pub mail: Duration,
    /// Replies to RCPT: 5 minutes (§4.5.3.2.3).
    pub rcpt: Duration,
    /// The `354` to DATA: 2 minutes (§4.5.3.2.4).
    pub data_init: Duration,
    /// Each data block: 3 minutes (§4.5.3.2.5). Applied to the reply of a BDAT chunk that is
    /// not the last, and to the application: while the body is being streamed, a pause
    /// longer than this between [`super::Client::send_data`] calls ends the session (the
    /// server would give up too, §4.5.3.2.7).
    pub data_block: Duration,
    /// The final reply after the end-of-data dot or `BDAT … LAST`: 10 minutes (§4.5.3.2.6).
    pub data_end: Duration,
    /// Every other command (EHLO, STARTTLS and its handshake, AUTH, RSET, QUIT): 5 minutes.
    pub command: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            greeting: Duration::from_secs(300),
            mail: Duration::from_secs(300),
            rcpt: Duration::from_secs(300),
            data_init: Duration::from_secs(120),
            data_block: Duration::from_secs(180),
            data_end: Duration::from_secs(600),
            command: Duration::from_secs(300),
        }
    }
}

/// Everything a [`super::Client`] needs to know before it connects. Build it with
/// [`ClientConfig::new`] and the `with_*` methods.
///
/// ```
/// use mailsec_smtp::client::ClientConfig;
/// use mailsec_tls::ClientTls;
/// use mailsec_tls::sasl::Credentials;
///
/// let config = ClientConfig::for_domain("client.example.org")?
///     .with_tls(ClientTls::StartTlsRequired)
///     .with_credentials(Credentials::password("alice", "s3cret"));
/// assert_eq!(config.tls(), ClientTls::StartTlsRequired);
/// assert!(config.pipelining() && config.chunking());
/// # Ok::<(), mailsec_smtp::CommandError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub(crate) ehlo_name: Host,
    pub(crate) tls: ClientTls,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) mechanisms: Vec<Mechanism>,
    pub(crate) insecure_auth: InsecureAuth,
    pub(crate) pipelining: bool,
    pub(crate) chunking: bool,
    pub(crate) max_reply_lines: usize,
    pub(crate) max_reply_octets: usize,
    pub(crate) max_recipients: usize,
    pub(crate) bare_line_endings: BareLineEndings,
    pub(crate) timeouts: Timeouts,
}

/// Default bound on recipients per message.
pub const DEFAULT_MAX_RECIPIENTS: usize = 1000;

impl ClientConfig {
    /// A configuration announcing `ehlo_name` in EHLO/HELO (the client's own domain or
    /// address literal), with the defaults: implicit TLS ([`ClientTls::Implicit`], RFC 8314),
    /// no credentials, plaintext-equivalent mechanisms never used without TLS, PIPELINING
    /// and CHUNKING used when offered, replies of at most 100 lines and 16 KiB, at most
    /// [`DEFAULT_MAX_RECIPIENTS`] recipients per message, bodies with bare CR or LF refused,
    /// and the RFC 5321 timeouts.
    pub fn new(ehlo_name: Host) -> ClientConfig {
        ClientConfig {
            ehlo_name,
            tls: ClientTls::default(),
            credentials: None,
            mechanisms: Vec::new(),
            insecure_auth: InsecureAuth::default(),
            pipelining: true,
            chunking: true,
            max_reply_lines: MAX_REPLY_LINES,
            max_reply_octets: MAX_REPLY_OCTETS,
            max_recipients: DEFAULT_MAX_RECIPIENTS,
            bare_line_endings: BareLineEndings::Reject,
            timeouts: Timeouts::default(),
        }
    }

    /// [`ClientConfig::new`] with an ASCII domain name given as text.
    pub fn for_domain(domain: &str) -> Result<ClientConfig, CommandError> {
        Ok(ClientConfig::new(Host::parse(domain.as_bytes(), false)?))
    }

    /// How the connection is secured (default [`ClientTls::Implicit`]).
    #[must_use]
    pub fn with_tls(mut self, tls: ClientTls) -> Self {
        self.tls = tls;
        self
    }

    /// Authenticate with these credentials (RFC 4954) once the session is secure. Without a
    /// usable mechanism the session fails rather than send mail unauthenticated.
    #[must_use]
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The mechanisms to use, most preferred first; empty (the default) means
    /// [`mailsec_tls::sasl::choose_mechanism`]'s order (SCRAM-SHA-256, PLAIN, LOGIN for a
    /// password; OAUTHBEARER, XOAUTH2 for a token).
    #[must_use]
    pub fn with_mechanisms(mut self, mechanisms: impl IntoIterator<Item = Mechanism>) -> Self {
        self.mechanisms = mechanisms.into_iter().collect();
        self
    }

    /// Whether plaintext-equivalent mechanisms may be used without TLS (default: never).
    #[must_use]
    pub fn with_insecure_auth(mut self, insecure: InsecureAuth) -> Self {
        self.insecure_auth = insecure;
        self
    }

    /// Whether to pipeline (RFC 2920) when the server offers PIPELINING (default true).
    #[must_use]
    pub fn with_pipelining(mut self, on: bool) -> Self {
        self.pipelining = on;
        self
    }

    /// Whether to send bodies with BDAT (RFC 3030) when the server offers CHUNKING (default
    /// true). BINARYMIME bodies always need it.
    #[must_use]
    pub fn with_chunking(mut self, on: bool) -> Self {
        self.chunking = on;
        self
    }

    /// Bounds on one reply: lines and octets (CRLFs included). A longer reply ends the
    /// session.
    #[must_use]
    pub fn with_reply_limits(mut self, max_lines: usize, max_octets: usize) -> Self {
        self.max_reply_lines = max_lines.max(1);
        self.max_reply_octets = max_octets;
        self
    }

    /// Bound on recipients per message (default [`DEFAULT_MAX_RECIPIENTS`]).
    #[must_use]
    pub fn with_max_recipients(mut self, max: usize) -> Self {
        self.max_recipients = max.max(1);
        self
    }

    /// What a DATA body may contain in the way of bare CR and LF (default: refused).
    #[must_use]
    pub fn with_bare_line_endings(mut self, mode: BareLineEndings) -> Self {
        self.bare_line_endings = mode;
        self
    }

    /// The timers.
    #[must_use]
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The name sent with EHLO/HELO.
    pub fn ehlo_name(&self) -> &Host {
        &self.ehlo_name
    }

    /// The TLS policy.
    pub fn tls(&self) -> ClientTls {
        self.tls
    }

    /// The credentials, if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// Whether PIPELINING is used when offered.
    pub fn pipelining(&self) -> bool {
        self.pipelining
    }

    /// Whether CHUNKING is used when offered.
    pub fn chunking(&self) -> bool {
        self.chunking
    }

    /// The timers.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }
}
