//! Mechanism names, credentials, and the rules for choosing and advertising mechanisms.

use std::fmt;
use std::str::FromStr;

use secrecy::SecretString;

use super::SaslError;
use crate::policy::ServerPolicy;

/// A SASL mechanism this crate implements.
///
/// Names are parsed case-insensitively (RFC 4422 §3.1) and printed in upper case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616): authzid, user name and password in one message.
    Plain,
    /// `LOGIN` (draft-murchison-sasl-login): user name and password in two answers.
    Login,
    /// `XOAUTH2`: Google's bearer-token mechanism.
    XOAuth2,
    /// `OAUTHBEARER` (RFC 7628): the standard bearer-token mechanism.
    OAuthBearer,
    /// `SCRAM-SHA-256` (RFC 5802, RFC 7677) without channel binding: the password never
    /// crosses the network and the server proves it knows it too.
    ScramSha256,
}

impl Mechanism {
    /// Every mechanism this crate implements, strongest first.
    pub const ALL: [Mechanism; 5] = [
        Mechanism::ScramSha256,
        Mechanism::OAuthBearer,
        Mechanism::XOAuth2,
        Mechanism::Plain,
        Mechanism::Login,
    ];

    /// The registered name, in upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    /// Parses a mechanism name case-insensitively; `None` for names this crate does not
    /// implement.
    pub fn from_name(name: &[u8]) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.as_str().as_bytes().eq_ignore_ascii_case(name))
    }

    /// Whether an eavesdropper who sees the exchange learns a reusable secret: the password
    /// (PLAIN, LOGIN) or a bearer token (XOAUTH2, OAUTHBEARER; RFC 6750 §5). Such mechanisms
    /// are neither offered nor used without TLS unless [`InsecureAuth`] or
    /// [`ServerPolicy::insecure_plaintext`] says so. `false` for SCRAM, whose messages do not
    /// reveal the password (though they allow an offline dictionary attack).
    pub fn is_plaintext_equivalent(self) -> bool {
        !matches!(self, Mechanism::ScramSha256)
    }

    /// Whether the client speaks first, so that its first message can ride on the command
    /// (SASL-IR, RFC 4959; RFC 4954 §4; RFC 5034 §4). `false` only for LOGIN.
    pub fn client_first(self) -> bool {
        !matches!(self, Mechanism::Login)
    }

    /// The kind of credentials the mechanism needs.
    pub fn credential_kind(self) -> CredentialKind {
        match self {
            Mechanism::Plain | Mechanism::Login | Mechanism::ScramSha256 => {
                CredentialKind::Password
            }
            Mechanism::XOAuth2 | Mechanism::OAuthBearer => CredentialKind::BearerToken,
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mechanism {
    type Err = SaslError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mechanism::from_name(s.as_bytes()).ok_or_else(|| {
            SaslError::UnsupportedMechanism(super::error::sanitize(s.as_bytes(), 64))
        })
    }
}

/// Whether a client may use plaintext-equivalent mechanisms on a connection without TLS.
///
/// The default refuses. The other variant is named so that nobody picks it by accident: with
/// it, a password or token crosses the network readable by anyone on the path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InsecureAuth {
    /// Never send a plaintext-equivalent credential without TLS (RFC 8314 §3, RFC 4954 §4).
    #[default]
    Refuse,
    /// Allow PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER on a connection without TLS. For closed
    /// test networks only.
    AllowPlaintextMechanismsWithoutTls,
}

impl InsecureAuth {
    /// Whether `mechanism` may be used on a connection whose security is `secure`.
    pub fn permits(self, mechanism: Mechanism, secure: bool) -> bool {
        secure
            || !mechanism.is_plaintext_equivalent()
            || self == InsecureAuth::AllowPlaintextMechanismsWithoutTls
    }
}

/// What kind of secret a set of [`Credentials`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialKind {
    /// A password (PLAIN, LOGIN, SCRAM-SHA-256).
    Password,
    /// An OAuth 2.0 bearer token (XOAUTH2, OAUTHBEARER).
    BearerToken,
}

#[derive(Clone)]
pub(crate) enum Secret {
    Password(SecretString),
    BearerToken(SecretString),
}

/// What a client authenticates with. `Debug` never shows the password or token.
///
/// ```
/// use mailsec_tls::sasl::Credentials;
///
/// let creds = Credentials::password("tim", "tanstaaftanstaaf");
/// assert!(!format!("{creds:?}").contains("tanstaaf"));
/// ```
#[derive(Clone)]
pub struct Credentials {
    pub(crate) username: String,
    pub(crate) authzid: Option<String>,
    pub(crate) secret: Secret,
    pub(crate) host: Option<String>,
    pub(crate) port: Option<u16>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("authzid", &self.authzid)
            .field("kind", &self.kind())
            .field("secret", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// A user name and password, for PLAIN, LOGIN and SCRAM-SHA-256.
    pub fn password(username: impl Into<String>, password: impl Into<SecretString>) -> Self {
        Credentials {
            username: username.into(),
            authzid: None,
            secret: Secret::Password(password.into()),
            host: None,
            port: None,
        }
    }

    /// A user name and OAuth 2.0 access token, for XOAUTH2 and OAUTHBEARER.
    pub fn bearer_token(username: impl Into<String>, token: impl Into<SecretString>) -> Self {
        Credentials {
            username: username.into(),
            authzid: None,
            secret: Secret::BearerToken(token.into()),
            host: None,
            port: None,
        }
    }

    /// Asks to act as another identity (the authorization identity of RFC 4422 §2): sent by
    /// PLAIN and SCRAM; ignored by LOGIN, XOAUTH2 and OAUTHBEARER (where the user name is the
    /// only identity).
    pub fn with_authzid(mut self, authzid: impl Into<String>) -> Self {
        self.authzid = Some(authzid.into());
        self
    }

    /// The server's host name and port, sent by OAUTHBEARER (RFC 7628 §3.1, optional).
    pub fn with_host(mut self, host: impl Into<String>, port: u16) -> Self {
        self.host = Some(host.into());
        self.port = Some(port);
        self
    }

    /// The user name (authentication identity).
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The authorization identity, if one was set.
    pub fn authzid(&self) -> Option<&str> {
        self.authzid.as_deref()
    }

    /// Whether these are a password or a bearer token.
    pub fn kind(&self) -> CredentialKind {
        match self.secret {
            Secret::Password(_) => CredentialKind::Password,
            Secret::BearerToken(_) => CredentialKind::BearerToken,
        }
    }
}

/// Chooses the mechanism a client should use among those the server offered.
///
/// Prefers SCRAM-SHA-256 for a password (then PLAIN, then LOGIN) and OAUTHBEARER for a token
/// (then XOAUTH2). A plaintext-equivalent mechanism is never chosen when `secure` is false
/// unless `insecure` is [`InsecureAuth::AllowPlaintextMechanismsWithoutTls`]. `secure` must
/// mean "rustls completed a handshake and verified the certificate", and `offered` must come
/// from capabilities received over that channel (SECURITY.md invariant 5).
///
/// ```
/// use mailsec_tls::sasl::{choose_mechanism, CredentialKind, InsecureAuth, Mechanism};
///
/// let offered = [Mechanism::Plain, Mechanism::ScramSha256];
/// let pw = CredentialKind::Password;
/// assert_eq!(choose_mechanism(&offered, true, InsecureAuth::Refuse, pw), Some(Mechanism::ScramSha256));
/// assert_eq!(choose_mechanism(&[Mechanism::Plain], false, InsecureAuth::Refuse, pw), None);
/// ```
pub fn choose_mechanism(
    offered: &[Mechanism],
    secure: bool,
    insecure: InsecureAuth,
    kind: CredentialKind,
) -> Option<Mechanism> {
    let preference: &[Mechanism] = match kind {
        CredentialKind::Password => &[Mechanism::ScramSha256, Mechanism::Plain, Mechanism::Login],
        CredentialKind::BearerToken => &[Mechanism::OAuthBearer, Mechanism::XOAuth2],
    };
    preference
        .iter()
        .copied()
        .find(|m| offered.contains(m) && insecure.permits(*m, secure))
}

/// Parses a list of mechanism names as offered by a server (EHLO `AUTH`, IMAP `AUTH=`, POP3
/// `SASL`), keeping the ones this crate implements, without duplicates.
pub fn parse_offered<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Vec<Mechanism> {
    let mut out = Vec::new();
    for name in names {
        if let Some(m) = Mechanism::from_name(name) {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}

/// The mechanisms a server advertises on a connection in its current state: those `enabled`,
/// minus the plaintext-equivalent ones when the policy refuses them without TLS
/// ([`ServerPolicy::plaintext_credentials_allowed`]). Order is kept.
///
/// ```
/// use mailsec_tls::ServerPolicy;
/// use mailsec_tls::sasl::{advertised_mechanisms, Mechanism};
///
/// let enabled = [Mechanism::ScramSha256, Mechanism::Plain];
/// assert_eq!(advertised_mechanisms(&enabled, false, ServerPolicy::default()), [Mechanism::ScramSha256]);
/// assert_eq!(advertised_mechanisms(&enabled, true, ServerPolicy::default()), enabled);
/// ```
pub fn advertised_mechanisms(
    enabled: &[Mechanism],
    secure: bool,
    policy: ServerPolicy,
) -> Vec<Mechanism> {
    let mut out: Vec<Mechanism> = Vec::with_capacity(enabled.len());
    for &m in enabled {
        if (!m.is_plaintext_equivalent() || policy.plaintext_credentials_allowed(secure))
            && !out.contains(&m)
        {
            out.push(m);
        }
    }
    out
}

/// Checks a mechanism a client asked a server for (`AUTH PLAIN`, `AUTHENTICATE PLAIN`): it
/// must be enabled and, when plaintext-equivalent, allowed on this connection. A server must
/// check this even for mechanisms it did not advertise: a client may ask anyway.
pub fn check_requested(
    name: &[u8],
    enabled: &[Mechanism],
    secure: bool,
    policy: ServerPolicy,
) -> Result<Mechanism, SaslError> {
    let m = Mechanism::from_name(name)
        .filter(|m| enabled.contains(m))
        .ok_or_else(|| SaslError::UnsupportedMechanism(super::error::sanitize(name, 64)))?;
    if m.is_plaintext_equivalent() && !policy.plaintext_credentials_allowed(secure) {
        return Err(SaslError::NotAllowedWithoutTls(m));
    }
    Ok(m)
}
