//! The client side of every mechanism.

use std::fmt;

use secrecy::{ExposeSecret, SecretSlice};
use zeroize::{Zeroize, Zeroizing};

use super::mechanism::Secret;
use super::scram::{self, Keys};
use super::{Credentials, MAX_MESSAGE_LEN, MAX_ROUNDS, Mechanism, SaslError};

/// The client's half of one SASL exchange, Sans-IO.
///
/// Build it from [`Credentials`], send [`ClientExchange::initial_response`] with the command
/// when the protocol allows (SASL-IR), answer each server challenge with
/// [`ClientExchange::step`], and when the server reports success call
/// [`ClientExchange::finish`] with the success's additional data, if any: for SCRAM that is
/// where the server proves it knows the password, and a success without that proof is an
/// error. Messages are raw bytes; the protocol layer base64s them ([`super::wire`]).
///
/// Responses are [`SecretSlice<u8>`]: they may hold a password or token, so they do not
/// print and are wiped on drop. `Debug` of the exchange never shows a secret either.
pub struct ClientExchange {
    mechanism: Mechanism,
    credentials: Credentials,
    state: State,
    rounds: usize,
    server_error: Option<String>,
}

enum State {
    Start,
    /// PLAIN, XOAUTH2, OAUTHBEARER: the one message has been sent.
    Sent,
    LoginUser,
    LoginPassword,
    /// XOAUTH2, OAUTHBEARER: the error challenge was acknowledged; failure follows.
    TokenErrorAcknowledged,
    ScramFirst {
        nonce: String,
        gs2_header: String,
        bare: String,
    },
    ScramFinal {
        keys: Box<Keys>,
        auth_message: String,
    },
    ScramVerified,
    Done,
    Failed,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Start => "start",
            State::Sent => "response sent",
            State::LoginUser => "user name sent",
            State::LoginPassword => "password sent",
            State::TokenErrorAcknowledged => "token error acknowledged",
            State::ScramFirst { .. } => "client-first sent",
            State::ScramFinal { .. } => "client-final sent",
            State::ScramVerified => "server verified",
            State::Done => "done",
            State::Failed => "failed",
        }
    }
}

impl fmt::Debug for ClientExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientExchange")
            .field("mechanism", &self.mechanism)
            .field("credentials", &self.credentials)
            .field("state", &self.state.name())
            .field("rounds", &self.rounds)
            .finish_non_exhaustive()
    }
}

/// Moves a response into a secret box; the copy has the exact length (so no reallocation
/// leaves a stray copy behind) and the original buffer is wiped.
fn secret(mut bytes: Vec<u8>) -> SecretSlice<u8> {
    let out = SecretSlice::from(bytes.as_slice().to_vec());
    bytes.zeroize();
    out
}

impl ClientExchange {
    /// Starts an exchange with `mechanism`. For SCRAM-SHA-256 the client nonce comes from the
    /// operating system's random generator ([`SaslError::Random`] if it fails).
    ///
    /// Fails with [`SaslError::CredentialsMismatch`] when the credentials do not suit the
    /// mechanism (a token for SCRAM, a password for XOAUTH2). Whether the mechanism may be used
    /// on this connection is decided before, with [`super::choose_mechanism`].
    pub fn new(mechanism: Mechanism, credentials: Credentials) -> Result<Self, SaslError> {
        let nonce = if mechanism == Mechanism::ScramSha256 {
            Some(scram::random_nonce()?)
        } else {
            None
        };
        Self::build(mechanism, credentials, nonce)
    }

    /// A SCRAM-SHA-256 exchange with a caller-given client nonce, for test vectors. Never use
    /// a predictable nonce in production. The nonce must be printable ASCII without a comma.
    pub fn scram_with_nonce(credentials: Credentials, nonce: &str) -> Result<Self, SaslError> {
        if !scram::valid_nonce(nonce) {
            return Err(SaslError::OutOfOrder(
                "a SCRAM nonce must be printable ASCII without ','",
            ));
        }
        Self::build(Mechanism::ScramSha256, credentials, Some(nonce.to_owned()))
    }

    fn build(
        mechanism: Mechanism,
        credentials: Credentials,
        nonce: Option<String>,
    ) -> Result<Self, SaslError> {
        if credentials.kind() != mechanism.credential_kind() {
            return Err(SaslError::CredentialsMismatch(mechanism));
        }
        let mut exchange = ClientExchange {
            mechanism,
            credentials,
            state: State::Start,
            rounds: 0,
            server_error: None,
        };
        if let Some(nonce) = nonce {
            exchange.state = State::ScramFirst {
                nonce,
                gs2_header: String::new(),
                bare: String::new(),
            };
        }
        Ok(exchange)
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// What the server said when it rejected a bearer token (XOAUTH2/OAUTHBEARER error
    /// challenge, control characters removed), once it did.
    pub fn server_error(&self) -> Option<&str> {
        self.server_error.as_deref()
    }

    /// The initial response to send with the command (SASL-IR, RFC 4959; RFC 4954 §4;
    /// RFC 5034 §4), or `None` for LOGIN, which has none. Call it at most once, before any
    /// [`ClientExchange::step`]. An empty response is sent as `=`
    /// ([`super::wire::encode_initial_response`]).
    ///
    /// When the protocol or server does not take an initial response, do not call this: the
    /// server answers the bare command with an empty challenge, and [`ClientExchange::step`]
    /// produces the same message then.
    pub fn initial_response(&mut self) -> Result<Option<SecretSlice<u8>>, SaslError> {
        if !self.mechanism.client_first() {
            return match self.state {
                State::Start => Ok(None),
                _ => Err(SaslError::OutOfOrder(
                    "initial response after the exchange started",
                )),
            };
        }
        let fresh = match &self.state {
            State::Start => true,
            State::ScramFirst { bare, .. } => bare.is_empty(),
            _ => false,
        };
        if !fresh {
            return Err(SaslError::OutOfOrder(
                "initial response after the exchange started",
            ));
        }
        self.first_message().map(Some)
    }

    fn first_message(&mut self) -> Result<SecretSlice<u8>, SaslError> {
        let result = self.build_first_message();
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn build_first_message(&mut self) -> Result<SecretSlice<u8>, SaslError> {
        let c = &self.credentials;
        match (&c.secret, self.mechanism) {
            (Secret::Password(pw), Mechanism::Plain) => {
                let authzid = c.authzid.as_deref().unwrap_or("");
                let pw = pw.expose_secret();
                if [authzid, &c.username, pw].iter().any(|f| f.contains('\0')) {
                    return Err(SaslError::InvalidCredentials("NUL in a PLAIN field"));
                }
                if c.username.is_empty() || pw.is_empty() {
                    return Err(SaslError::InvalidCredentials("empty user name or password"));
                }
                let mut msg = Vec::with_capacity(authzid.len() + c.username.len() + pw.len() + 2);
                msg.extend_from_slice(authzid.as_bytes());
                msg.push(0);
                msg.extend_from_slice(c.username.as_bytes());
                msg.push(0);
                msg.extend_from_slice(pw.as_bytes());
                self.state = State::Sent;
                Ok(secret(msg))
            }
            (Secret::BearerToken(token), Mechanism::XOAuth2) => {
                let token = token.expose_secret();
                check_token(&c.username, token)?;
                let msg = format!("user={}\x01auth=Bearer {}\x01\x01", c.username, token);
                self.state = State::Sent;
                Ok(secret(msg.into_bytes()))
            }
            (Secret::BearerToken(token), Mechanism::OAuthBearer) => {
                let token = token.expose_secret();
                check_token(&c.username, token)?;
                let mut msg = String::from("n,");
                if !c.username.is_empty() {
                    msg.push_str("a=");
                    msg.push_str(&scram::escape_name(&c.username));
                }
                msg.push_str(",\x01");
                if let Some(host) = &c.host {
                    if host.bytes().any(|b| b < 0x20 || b == 0x7f) {
                        return Err(SaslError::InvalidCredentials(
                            "control character in the host name",
                        ));
                    }
                    msg.push_str("host=");
                    msg.push_str(host);
                    msg.push('\x01');
                }
                if let Some(port) = c.port {
                    msg.push_str(&format!("port={port}\x01"));
                }
                msg.push_str("auth=Bearer ");
                msg.push_str(token);
                msg.push_str("\x01\x01");
                self.state = State::Sent;
                Ok(secret(msg.into_bytes()))
            }
            (Secret::Password(_), Mechanism::ScramSha256) => {
                let State::ScramFirst { nonce, .. } = &self.state else {
                    return Err(SaslError::OutOfOrder("SCRAM exchange without a nonce"));
                };
                let username =
                    stringprep::saslprep(&c.username).map_err(|_| SaslError::SaslPrep)?;
                if username.is_empty() {
                    return Err(SaslError::InvalidCredentials("empty user name"));
                }
                let gs2_header = match &c.authzid {
                    Some(a) if !a.is_empty() => format!("n,a={},", scram::escape_name(a)),
                    _ => "n,,".to_owned(),
                };
                let bare = format!("n={},r={}", scram::escape_name(&username), nonce);
                let msg = format!("{gs2_header}{bare}");
                let nonce = nonce.clone();
                self.state = State::ScramFirst {
                    nonce,
                    gs2_header,
                    bare,
                };
                Ok(secret(msg.into_bytes()))
            }
            _ => Err(SaslError::CredentialsMismatch(self.mechanism)),
        }
    }

    /// Answers a server challenge (already base64-decoded) with the next response.
    ///
    /// An error ends the exchange: the protocol layer cancels it (`*`) or closes, and every
    /// later call fails with [`SaslError::OutOfOrder`].
    pub fn step(&mut self, challenge: &[u8]) -> Result<SecretSlice<u8>, SaslError> {
        let result = self.step_inner(challenge);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn step_inner(&mut self, challenge: &[u8]) -> Result<SecretSlice<u8>, SaslError> {
        if matches!(self.state, State::Failed | State::Done) {
            return Err(SaslError::OutOfOrder("step after the exchange ended"));
        }
        self.rounds += 1;
        if self.rounds > MAX_ROUNDS {
            return Err(SaslError::TooManyRounds);
        }
        if challenge.len() > MAX_MESSAGE_LEN {
            return Err(SaslError::TooLong {
                len: challenge.len(),
                limit: MAX_MESSAGE_LEN,
            });
        }
        let m = self.mechanism;
        let unexpected = SaslError::malformed(m, "unexpected challenge");
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Start if m == Mechanism::Login => {
                // The challenge text ("Username:") is informative only; servers vary.
                self.state = State::LoginUser;
                Ok(secret(self.credentials.username.as_bytes().to_vec()))
            }
            State::LoginUser => {
                let Secret::Password(pw) = &self.credentials.secret else {
                    return Err(SaslError::CredentialsMismatch(m));
                };
                self.state = State::LoginPassword;
                Ok(secret(pw.expose_secret().as_bytes().to_vec()))
            }
            State::Start => {
                // No initial response was sent: the server's empty challenge asks for it
                // (RFC 4422 §5).
                if !challenge.is_empty() {
                    return Err(unexpected);
                }
                self.state = State::Start;
                self.first_message()
            }
            State::ScramFirst {
                nonce,
                gs2_header,
                bare,
            } if bare.is_empty() => {
                if !challenge.is_empty() {
                    return Err(unexpected);
                }
                self.state = State::ScramFirst {
                    nonce,
                    gs2_header,
                    bare,
                };
                self.first_message()
            }
            State::Sent if matches!(m, Mechanism::XOAuth2 | Mechanism::OAuthBearer) => {
                // The error challenge (JSON, RFC 7628 §3.2.2); the client answers with an empty
                // response (XOAUTH2) or a single %x01 (OAUTHBEARER), then the server fails.
                self.server_error = Some(super::error::sanitize(challenge, 512));
                self.state = State::TokenErrorAcknowledged;
                Ok(secret(if m == Mechanism::OAuthBearer {
                    vec![1]
                } else {
                    Vec::new()
                }))
            }
            State::ScramFirst {
                nonce,
                gs2_header,
                bare,
            } => {
                let msg = std::str::from_utf8(challenge)
                    .map_err(|_| SaslError::malformed(m, "not UTF-8"))?;
                let server = scram::parse_server_first(msg)?;
                if server.nonce.len() <= nonce.len() || !server.nonce.starts_with(&nonce) {
                    return Err(SaslError::NonceMismatch);
                }
                if server.iterations < scram::MIN_ITERATIONS {
                    return Err(SaslError::IterationCountTooLow {
                        iterations: server.iterations,
                        minimum: scram::MIN_ITERATIONS,
                    });
                }
                if server.iterations > scram::MAX_ITERATIONS {
                    return Err(SaslError::IterationCountTooHigh {
                        iterations: server.iterations,
                        maximum: scram::MAX_ITERATIONS,
                    });
                }
                let Secret::Password(pw) = &self.credentials.secret else {
                    return Err(SaslError::CredentialsMismatch(m));
                };
                let salted =
                    scram::salted_password(pw.expose_secret(), &server.salt, server.iterations)?;
                let keys = Keys::from_salted(&salted);
                let without_proof = format!(
                    "c={},r={}",
                    scram::encode_b64(gs2_header.as_bytes()),
                    server.nonce
                );
                let auth_message = format!("{bare},{msg},{without_proof}");
                let proof = Zeroizing::new(keys.proof(auth_message.as_bytes()));
                let reply = format!("{without_proof},p={}", scram::encode_b64(proof.as_slice()));
                self.state = State::ScramFinal {
                    keys: Box::new(keys),
                    auth_message,
                };
                Ok(secret(reply.into_bytes()))
            }
            State::ScramFinal { keys, auth_message } => {
                // RFC 4954 / RFC 9051: the server may send server-final as a challenge; the
                // client checks it and answers with an empty response.
                verify_server_final(&keys, &auth_message, challenge)?;
                self.state = State::ScramVerified;
                Ok(secret(Vec::new()))
            }
            _ => Err(unexpected),
        }
    }

    /// Called when the server reports success, with the success's additional data if it
    /// carried any (RFC 4422 §5: "additional data with success").
    ///
    /// For SCRAM-SHA-256 this is mutual authentication (RFC 5802 §3): it fails with
    /// [`SaslError::ServerSignatureMissing`] if the server never sent `v=`, and with
    /// [`SaslError::ServerSignatureMismatch`] if its signature does not verify. The session
    /// must then be treated as not authenticated and closed. For other mechanisms it checks
    /// that the client did send its credentials and that no data came with the success.
    pub fn finish(&mut self, additional_data: Option<&[u8]>) -> Result<(), SaslError> {
        let data = additional_data.filter(|d| !d.is_empty());
        let m = self.mechanism;
        let result = match std::mem::replace(&mut self.state, State::Failed) {
            State::ScramFinal { keys, auth_message } => match data {
                Some(d) => verify_server_final(&keys, &auth_message, d),
                None => Err(SaslError::ServerSignatureMissing),
            },
            State::ScramVerified | State::Sent | State::LoginPassword if data.is_none() => Ok(()),
            State::ScramVerified | State::Sent | State::LoginPassword => Err(SaslError::malformed(
                m,
                "unexpected additional data with success",
            )),
            State::Failed | State::Done => {
                Err(SaslError::OutOfOrder("finish after the exchange ended"))
            }
            _ if m == Mechanism::ScramSha256 => Err(SaslError::ServerSignatureMissing),
            _ => Err(SaslError::malformed(
                m,
                "success before the exchange completed",
            )),
        };
        if result.is_ok() {
            self.state = State::Done;
        }
        result
    }

    /// Whether [`ClientExchange::finish`] succeeded.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

fn check_token(user: &str, token: &str) -> Result<(), SaslError> {
    if user.contains('\x01') || token.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(SaslError::InvalidCredentials(
            "control character in the user name or token",
        ));
    }
    if token.is_empty() {
        return Err(SaslError::InvalidCredentials("empty token"));
    }
    Ok(())
}

fn verify_server_final(keys: &Keys, auth_message: &str, msg: &[u8]) -> Result<(), SaslError> {
    let m = Mechanism::ScramSha256;
    let msg = std::str::from_utf8(msg).map_err(|_| SaslError::malformed(m, "not UTF-8"))?;
    let first = msg.split(',').next().unwrap_or("");
    if let Some(e) = scram::attribute(first, b'e') {
        return Err(SaslError::ServerError(super::error::sanitize(
            e.as_bytes(),
            128,
        )));
    }
    let v = scram::attribute(first, b'v').ok_or(SaslError::malformed(m, "no server signature"))?;
    if v.len() > 64 {
        return Err(SaslError::malformed(m, "server signature too long"));
    }
    let signature = scram::decode_b64(v, "bad server signature")?;
    if keys.verify_server(auth_message.as_bytes(), &signature) {
        Ok(())
    } else {
        Err(SaslError::ServerSignatureMismatch)
    }
}
