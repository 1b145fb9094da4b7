//! Errors of the TLS layer: configuration mistakes apart from what a peer did.

/// Why a peer's certificate was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// The certificate's validity period has ended.
    #[error("the certificate has expired")]
    Expired,
    /// The certificate's validity period has not begun.
    #[error("the certificate is not valid yet")]
    NotYetValid,
    /// The chain does not lead to a trusted root (this includes self-signed certificates).
    #[error("the certificate is not issued by a trusted authority (self-signed or unknown CA)")]
    UnknownIssuer,
    /// The certificate does not name the host that was asked for (RFC 7817, RFC 6125).
    #[error("the certificate is not valid for the name {expected:?}")]
    NameMismatch {
        /// The name the client asked for.
        expected: String,
    },
    /// The certificate was revoked.
    #[error("the certificate was revoked")]
    Revoked,
    /// A signature in the chain is invalid.
    #[error("a signature in the certificate chain is invalid")]
    BadSignature,
    /// The peer sent no certificate where one was required.
    #[error("the peer sent no certificate")]
    Missing,
    /// Any other reason the certificate is unacceptable.
    #[error("the certificate is unacceptable: {0}")]
    Other(String),
}

/// Errors of TLS configuration and of the [`crate::Pipe`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// No rustls crypto provider was given and none is installed for the process. Enable the
    /// `ring` or `aws-lc-rs` feature and pass the provider, or call
    /// `CryptoProvider::install_default` once at start-up.
    #[error(
        "no TLS crypto provider: pass one or install a process default (features `ring` or `aws-lc-rs`)"
    )]
    NoCryptoProvider,
    /// A PEM file or buffer could not be read or holds no usable item.
    #[error("cannot read {what}: {reason}")]
    Pem {
        /// What was being read (`"certificate chain /etc/ssl/mail.pem"`, …).
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// The private key does not fit the certificate, or rustls refused the configuration.
    #[error("invalid TLS configuration: {0}")]
    Config(#[source] rustls::Error),
    /// The name to verify is not a valid DNS name or IP address.
    #[error("invalid server name {0:?}")]
    InvalidServerName(String),
    /// The peer's certificate was rejected during the handshake.
    #[error("certificate rejected: {0}")]
    Certificate(#[source] CertificateProblem),
    /// The peer rejected the handshake (it sent a fatal alert, such as `unknown_ca`).
    #[error("the peer aborted the TLS handshake: {0}")]
    PeerAlert(String),
    /// The client offered only ALPN protocols this server does not speak (the ALPACA defence).
    #[error("no common application protocol (ALPN)")]
    NoApplicationProtocol,
    /// Any other TLS protocol failure (bad record, decrypt error, unexpected message…).
    #[error("TLS protocol error: {0}")]
    Protocol(#[source] rustls::Error),
    /// STARTTLS was asked for while received plaintext was still pending: those bytes arrived
    /// before the handshake and must not be read as if they came over TLS (injection).
    #[error("refusing to start TLS: {pending} byte(s) of plaintext received before the handshake")]
    PlaintextPending {
        /// How many bytes were pending.
        pending: usize,
    },
    /// TLS was started twice on one connection.
    #[error("TLS is already active on this connection")]
    AlreadyTls,
    /// Plaintext was sent after the connection was closed or failed.
    #[error("the connection is closed")]
    Closed,
    /// More data arrived or was queued than the configured bound allows.
    #[error("buffer limit of {limit} bytes exceeded")]
    BufferFull {
        /// The limit that was hit.
        limit: usize,
    },
}

impl TlsError {
    /// Maps a rustls error seen during a handshake or record processing to a typed error.
    pub(crate) fn from_rustls(err: rustls::Error, expected_name: Option<&str>) -> Self {
        use rustls::{AlertDescription, CertificateError, Error};
        match err {
            Error::InvalidCertificate(cert) => TlsError::Certificate(match cert {
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    CertificateProblem::Expired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    CertificateProblem::NotYetValid
                }
                CertificateError::UnknownIssuer => CertificateProblem::UnknownIssuer,
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    CertificateProblem::NameMismatch {
                        expected: expected_name.unwrap_or_default().to_owned(),
                    }
                }
                CertificateError::Revoked => CertificateProblem::Revoked,
                CertificateError::BadSignature => CertificateProblem::BadSignature,
                other => CertificateProblem::Other(format!("{other:?}")),
            }),
            Error::NoCertificatesPresented => TlsError::Certificate(CertificateProblem::Missing),
            Error::NoApplicationProtocol => TlsError::NoApplicationProtocol,
            Error::AlertReceived(AlertDescription::NoApplicationProtocol) => {
                TlsError::NoApplicationProtocol
            }
            Error::AlertReceived(alert) => TlsError::PeerAlert(format!("{alert:?}")),
            other => TlsError::Protocol(other),
        }
    }
}
