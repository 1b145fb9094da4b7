//! What a finished TLS handshake established, for machines and callers.

use rustls_pki_types::CertificateDer;

/// The TLS protocol version of an established connection. mailsec speaks TLS 1.2 and 1.3 only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246).
    Tls12,
    /// TLS 1.3 (RFC 8446).
    Tls13,
}

impl std::fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        })
    }
}

/// Facts about an established TLS session.
///
/// A `TlsInfo` exists only after rustls completed a handshake and, on the client side, verified
/// the server's certificate for the configured name (RFC 7817): it is the only meaning of
/// "secure" in mailsec, never a server's `OK`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// Negotiated protocol version.
    pub version: TlsVersion,
    /// Negotiated cipher suite, as IANA names it (e.g. `TLS13_AES_256_GCM_SHA384`).
    pub cipher_suite: String,
    /// The peer's certificate chain, end-entity first (empty for a server without client auth).
    pub peer_certificates: Vec<CertificateDer<'static>>,
    /// Client side: the name the certificate was verified for. Server side: the SNI the client
    /// sent, if any.
    pub server_name: Option<String>,
    /// The ALPN protocol both sides agreed on, if any.
    pub alpn: Option<Vec<u8>>,
}

impl TlsInfo {
    /// A `TlsInfo` for unit tests of machines that need one without a handshake.
    #[cfg(feature = "testing")]
    pub fn for_testing(server_name: &str) -> Self {
        TlsInfo {
            version: TlsVersion::Tls13,
            cipher_suite: "TLS13_AES_128_GCM_SHA256".to_owned(),
            peer_certificates: Vec::new(),
            server_name: Some(server_name.to_owned()),
            alpn: None,
        }
    }
}
