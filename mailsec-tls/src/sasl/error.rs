//! The one error type of the SASL layer.

use super::Mechanism;

/// Why a SASL exchange failed or could not start.
///
/// Faults of the peer (malformed messages, a bad proof, a forged server signature) are kept
/// apart from misuse of the API ([`SaslError::OutOfOrder`]) and from local policy
/// ([`SaslError::NotAllowedWithoutTls`]). None of the variants carries a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// A message of the peer does not follow the mechanism's grammar.
    #[error("malformed {mechanism} message: {reason}")]
    Malformed {
        /// The mechanism being spoken.
        mechanism: Mechanism,
        /// What was wrong, for logs.
        reason: &'static str,
    },
    /// A message is longer than this layer accepts (checked before anything is copied).
    #[error("SASL message of {len} octets exceeds the limit of {limit}")]
    TooLong {
        /// The length received.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The mechanism name is not one this crate implements.
    #[error("unsupported SASL mechanism {0:?}")]
    UnsupportedMechanism(String),
    /// The credentials given do not suit the mechanism (a password for XOAUTH2, a token for
    /// SCRAM, …).
    #[error("the credentials given cannot be used with {0}")]
    CredentialsMismatch(Mechanism),
    /// The exchange went on for more rounds than the mechanism needs.
    #[error("too many SASL rounds")]
    TooManyRounds,
    /// The credentials were wrong, the user unknown, or the authorization refused. Deliberately
    /// one variant: the peer learns no more than "no" (RFC 4422 §3.7, RFC 5802 §5.1).
    #[error("authentication failed")]
    AuthenticationFailed,
    /// SCRAM: the server's signature (`v=`) does not prove knowledge of the password; the server
    /// is not the one the client has an account with (RFC 5802 §3, mutual authentication).
    #[error("the SCRAM server signature does not verify: the server is not authentic")]
    ServerSignatureMismatch,
    /// SCRAM: the server reported success without ever sending its signature (`v=`), so it did
    /// not prove that it knows the password.
    #[error("the server reported success without a SCRAM server signature")]
    ServerSignatureMissing,
    /// SCRAM: the server asked for fewer PBKDF2 iterations than RFC 7677 §4 allows (4096).
    #[error("SCRAM iteration count {iterations} is below the minimum {minimum}")]
    IterationCountTooLow {
        /// What the server asked for.
        iterations: u32,
        /// The minimum accepted.
        minimum: u32,
    },
    /// SCRAM: the server asked for more PBKDF2 iterations than this client will compute (a
    /// malicious server could otherwise make the client burn CPU).
    #[error("SCRAM iteration count {iterations} is above the maximum {maximum}")]
    IterationCountTooHigh {
        /// What the server asked for.
        iterations: u32,
        /// The maximum accepted.
        maximum: u32,
    },
    /// SCRAM: the peer's nonce does not extend the client's nonce, or does not match the
    /// nonce of the server-first message.
    #[error("SCRAM nonce mismatch")]
    NonceMismatch,
    /// SCRAM: the client asked for channel binding (`p=`), which this implementation does not
    /// offer (RFC 5802 §6), or its `c=` attribute does not repeat its GS2 header.
    #[error("SCRAM channel binding not supported or inconsistent")]
    ChannelBinding,
    /// SCRAM: the server sent `e=`; the value is the server's error, control characters removed.
    #[error("the SCRAM server reported an error: {0}")]
    ServerError(String),
    /// A string cannot be prepared with SASLprep (RFC 4013): prohibited or unassigned
    /// characters, or bidirectional text that breaks its rules.
    #[error("a user name or password is not valid for SASLprep (RFC 4013)")]
    SaslPrep,
    /// Base64 on the wire is not valid (RFC 4648 §4 alphabet with padding, no spaces).
    #[error("invalid base64 in a SASL message")]
    InvalidBase64,
    /// The client cancelled the exchange (`*`, RFC 4954 §4, RFC 9051 §6.2.2, RFC 5034 §4).
    #[error("the client cancelled the SASL exchange")]
    Cancelled,
    /// A plaintext-equivalent mechanism was asked for on a connection without TLS and no
    /// named insecure option allows it (RFC 4954 §4, RFC 8314 §3).
    #[error("{0} is not allowed without TLS")]
    NotAllowedWithoutTls(Mechanism),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// The credentials cannot be encoded for the mechanism (a NUL in a PLAIN field, a `\x01`
    /// in a token, an empty user name, …).
    #[error("the credentials cannot be used: {0}")]
    InvalidCredentials(&'static str),
    /// The API was used out of order (a step after the exchange ended, an answer that does not
    /// fit the question, a second initial response).
    #[error("SASL API misuse: {0}")]
    OutOfOrder(&'static str),
}

impl SaslError {
    pub(crate) fn malformed(mechanism: Mechanism, reason: &'static str) -> Self {
        SaslError::Malformed { mechanism, reason }
    }
}

/// Keeps printable ASCII and spaces of peer text, at most `max` characters (SECURITY.md: server
/// text passed to callers has control characters removed).
pub(crate) fn sanitize(bytes: &[u8], max: usize) -> String {
    crate::text::sanitize(bytes).chars().take(max).collect()
}
