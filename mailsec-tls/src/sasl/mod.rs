//! SASL (RFC 4422) for SMTP AUTH (RFC 4954), IMAP AUTHENTICATE (RFC 9051, SASL-IR RFC 4959) and
//! POP3 AUTH (RFC 5034), client and server side, as small Sans-IO exchanges: no I/O, no clock,
//! no threads.
//!
//! Mechanisms: PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login), XOAUTH2 (Google),
//! OAUTHBEARER (RFC 7628) and SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding.
//!
//! - [`Mechanism`]: names, and which mechanisms reveal a reusable secret on the wire
//!   ([`Mechanism::is_plaintext_equivalent`]).
//! - [`choose_mechanism`] (client) and [`advertised_mechanisms`] / [`check_requested`]
//!   (server): plaintext-equivalent mechanisms are never used or offered without TLS unless
//!   [`InsecureAuth::AllowPlaintextMechanismsWithoutTls`] or
//!   [`ServerPolicy::insecure_plaintext`](crate::ServerPolicy::insecure_plaintext) says so.
//! - [`ClientExchange`]: from [`Credentials`] to responses; verifies SCRAM's server signature.
//! - [`ServerExchange`]: from responses to [`ServerStep`]s; asks the application to check
//!   credentials with [`ServerStep::Verify`], or through an [`Authenticator`]. Authorization
//!   to act as another identity is a separate question ([`CredentialCheck::Authorize`]),
//!   asked only after the credentials were proven; by default only an authzid that is empty
//!   or equal to the user name passes without asking.
//! - [`ScramStored`]: what a user database keeps for SCRAM.
//! - [`wire`]: the base64 framing, `=` and `*` shared by the three protocols.
//!
//! Messages are raw bytes: the protocol layer does its own framing. Secrets travel in
//! [`secrecy`] types, whose `Debug` prints `[REDACTED]` and which are wiped on drop.
//!
//! # Example: PLAIN
//!
//! ```
//! use mailsec_tls::sasl::{
//!     Authenticator, CheckAnswer, ClientExchange, CredentialCheck, Credentials, ExposeSecret,
//!     Mechanism, ServerExchange, ServerStep,
//! };
//!
//! struct Users;
//! impl Authenticator for Users {
//!     fn check(&self, check: &CredentialCheck) -> CheckAnswer {
//!         match check {
//!             CredentialCheck::Password { authzid: None, authcid, password }
//!                 if authcid == "tim" && password.expose_secret() == "tanstaaftanstaaf" =>
//!             {
//!                 CheckAnswer::Accept
//!             }
//!             _ => CheckAnswer::Reject,
//!         }
//!     }
//! }
//!
//! let creds = Credentials::password("tim", "tanstaaftanstaaf");
//! let mut client = ClientExchange::new(Mechanism::Plain, creds)?;
//! let mut server = ServerExchange::new(Mechanism::Plain);
//!
//! let ir = client.initial_response()?.expect("PLAIN has an initial response");
//! assert_eq!(ir.expose_secret(), b"\0tim\0tanstaaftanstaaf");
//! match server.start_with(Some(ir.expose_secret()), &Users) {
//!     ServerStep::Success { identity, additional_data } => {
//!         assert_eq!(identity.authcid, "tim");
//!         client.finish(additional_data.as_deref())?;
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), mailsec_tls::sasl::SaslError>(())
//! ```
//!
//! # Example: SCRAM-SHA-256, driven step by step
//!
//! ```
//! use mailsec_tls::sasl::{
//!     CheckAnswer, ClientExchange, CredentialCheck, Credentials, ExposeSecret, Mechanism,
//!     ScramStored, ServerExchange, ServerStep,
//! };
//!
//! // The server's user database keeps only derived keys, never the password.
//! let stored = ScramStored::derive_with_random_salt("pencil", 4096)?;
//!
//! let mut client = ClientExchange::new(Mechanism::ScramSha256, Credentials::password("user", "pencil"))?;
//! let mut server = ServerExchange::new(Mechanism::ScramSha256);
//!
//! let client_first = client.initial_response()?.unwrap();
//! let step = server.start(Some(client_first.expose_secret()));
//! let ServerStep::Verify(CredentialCheck::ScramLookup { authcid, .. }) = step else { panic!() };
//! assert_eq!(authcid, "user");
//! let ServerStep::Challenge(server_first) = server.answer(CheckAnswer::ScramCredentials(Some(stored)))
//! else { panic!() };
//!
//! let client_final = client.step(&server_first)?;
//! let ServerStep::Success { identity, additional_data } = server.respond(client_final.expose_secret())
//! else { panic!() };
//! assert_eq!(identity.authcid, "user");
//!
//! // Mutual authentication: the client checks the server's signature (v=).
//! client.finish(additional_data.as_deref())?;
//! assert!(client.is_done());
//! # Ok::<(), mailsec_tls::sasl::SaslError>(())
//! ```

mod client;
mod error;
mod mechanism;
mod scram;
mod server;
pub mod wire;

pub use client::ClientExchange;
pub use error::SaslError;
pub use mechanism::{
    CredentialKind, Credentials, InsecureAuth, Mechanism, advertised_mechanisms, check_requested,
    choose_mechanism, parse_offered,
};
pub use scram::{DEFAULT_ITERATIONS, MAX_ITERATIONS, MIN_ITERATIONS, ScramStored};
pub use secrecy::{ExposeSecret, SecretSlice, SecretString};
pub use server::{
    Authenticator, CheckAnswer, CredentialCheck, Identity, MAX_IDENTITY_LEN, MAX_PASSWORD_LEN,
    ServerExchange, ServerStep,
};

/// Prepares a user name or password with SASLprep (RFC 4013), as a server should before
/// comparing a PLAIN or LOGIN password with a stored one (RFC 4616 §2), and as SCRAM does
/// internally (RFC 5802 §2.2).
///
/// The `stringprep` crate applies the "stored strings" rules: unassigned code points are
/// refused ([`SaslError::SaslPrep`]) rather than let through as RFC 5802 allows for queries.
///
/// ```
/// assert_eq!(mailsec_tls::sasl::saslprep("I\u{00AD}X").unwrap(), "IX");
/// ```
pub fn saslprep(s: &str) -> Result<std::borrow::Cow<'_, str>, SaslError> {
    stringprep::saslprep(s).map_err(|_| SaslError::SaslPrep)
}

/// The longest SASL message (challenge or response, decoded) either side accepts, in octets.
/// Large enough for OAuth access tokens; checked before anything is copied.
pub const MAX_MESSAGE_LEN: usize = 16 * 1024;

/// The most responses one exchange takes from the peer; every mechanism here needs at most 3.
pub const MAX_ROUNDS: usize = 6;
