//! Security policy: how a client insists on TLS, and whether a listener requires a secure channel.

/// How a client secures its connection.
///
/// The default is [`ClientTls::Implicit`]: RFC 8314 §3 recommends implicit TLS (ports 465, 993,
/// 995) over STARTTLS for mail submission and access.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientTls {
    /// TLS from the first byte (ports 465, 993, 995).
    #[default]
    Implicit,
    /// Plaintext greeting, then STARTTLS/STLS; anything that prevents the upgrade (missing
    /// capability, refusal, odd reply, PREAUTH, handshake or certificate error) ends the session
    /// before any credential or mail command is sent.
    StartTlsRequired,
    /// Upgrade when the server offers it, stay in clear when it does not. For server-to-server
    /// SMTP (MX) only: a middlebox can strip the offer unnoticed. Credentials are still never sent
    /// in clear unless [`crate::sasl::InsecureAuth`] says so.
    StartTlsOpportunistic,
    /// No TLS at all. Everything, credentials included, is visible on the network. Named so that
    /// nobody picks it by accident.
    InsecurePlaintext,
}

impl ClientTls {
    /// Whether the session must end rather than continue without TLS.
    pub fn requires_tls(self) -> bool {
        matches!(self, ClientTls::Implicit | ClientTls::StartTlsRequired)
    }

    /// Whether the connection starts with a TLS handshake.
    pub fn is_implicit(self) -> bool {
        self == ClientTls::Implicit
    }

    /// Whether the client issues STARTTLS/STLS on a plaintext connection (when offered, or
    /// always for [`ClientTls::StartTlsRequired`]).
    pub fn wants_starttls(self) -> bool {
        matches!(
            self,
            ClientTls::StartTlsRequired | ClientTls::StartTlsOpportunistic
        )
    }
}

/// How a listener's connections start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListenerTls {
    /// TLS from the first byte (ports 465, 993, 995).
    Implicit,
    /// Plaintext greeting with STARTTLS/STLS offered.
    StartTls,
    /// No TLS configured at all; only sensible for tests and for an MX without a certificate.
    None,
}

/// A server listener's security policy.
///
/// The default is the safe client-facing one: STARTTLS offered and a secure channel required
/// before any credential (RFC 8314 §3.3; RFC 3501/9051 LOGINDISABLED; RFC 2595 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerPolicy {
    tls: ListenerTls,
    require_secure_channel: bool,
}

impl Default for ServerPolicy {
    fn default() -> Self {
        ServerPolicy::starttls_required()
    }
}

impl ServerPolicy {
    /// Implicit TLS listener (every connection is secure before the greeting).
    pub fn implicit_tls() -> Self {
        ServerPolicy {
            tls: ListenerTls::Implicit,
            require_secure_channel: true,
        }
    }

    /// STARTTLS offered; no credential (and, where the protocol says so, no mail command)
    /// accepted before TLS. The default for client-facing listeners.
    pub fn starttls_required() -> Self {
        ServerPolicy {
            tls: ListenerTls::StartTls,
            require_secure_channel: true,
        }
    }

    /// STARTTLS offered but optional: an SMTP MX listener that must keep accepting mail from
    /// servers that cannot do TLS. Credentials are still refused before TLS.
    pub fn starttls_optional() -> Self {
        ServerPolicy {
            tls: ListenerTls::StartTls,
            require_secure_channel: false,
        }
    }

    /// No TLS and credentials accepted in clear. Passwords cross the network readable; for
    /// demonstrations and closed test networks only.
    pub fn insecure_plaintext() -> Self {
        ServerPolicy {
            tls: ListenerTls::None,
            require_secure_channel: false,
        }
    }

    /// How connections start.
    pub fn tls(self) -> ListenerTls {
        self.tls
    }

    /// Whether this listener refuses credentials and protected commands before TLS.
    pub fn requires_secure_channel(self) -> bool {
        self.require_secure_channel
    }

    /// Whether STARTTLS/STLS is offered on a connection in its current state.
    pub fn offers_starttls(self, secure: bool) -> bool {
        !secure && self.tls == ListenerTls::StartTls
    }

    /// Whether a plaintext-equivalent credential (PLAIN, LOGIN, USER/PASS, bearer tokens) may be
    /// accepted on a connection in its current state.
    ///
    /// Only [`ServerPolicy::insecure_plaintext`] accepts them without TLS; an opportunistic MX
    /// listener does not, because a credential sent in clear is lost whatever the server does
    /// next (RFC 4954 §4).
    pub fn plaintext_credentials_allowed(self, secure: bool) -> bool {
        secure || self.tls == ListenerTls::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_default_is_implicit_tls() {
        assert_eq!(ClientTls::default(), ClientTls::Implicit);
        assert!(ClientTls::default().requires_tls());
        assert!(!ClientTls::StartTlsOpportunistic.requires_tls());
        assert!(ClientTls::StartTlsRequired.wants_starttls());
        assert!(!ClientTls::InsecurePlaintext.wants_starttls());
    }

    #[test]
    fn server_policies() {
        let sub = ServerPolicy::default();
        assert!(sub.requires_secure_channel());
        assert!(sub.offers_starttls(false));
        assert!(!sub.offers_starttls(true));
        assert!(!sub.plaintext_credentials_allowed(false));
        assert!(sub.plaintext_credentials_allowed(true));

        let mx = ServerPolicy::starttls_optional();
        assert!(!mx.requires_secure_channel());
        assert!(!mx.plaintext_credentials_allowed(false));

        let clear = ServerPolicy::insecure_plaintext();
        assert!(!clear.offers_starttls(false));
        assert!(clear.plaintext_credentials_allowed(false));

        assert!(!ServerPolicy::implicit_tls().offers_starttls(true));
    }
}
