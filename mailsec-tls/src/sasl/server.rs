//! The server side of every mechanism.

use secrecy::SecretString;

use super::scram::{self, ClientFirst, ScramStored};
use super::{MAX_MESSAGE_LEN, MAX_ROUNDS, Mechanism, SaslError};

/// Longest authorization or authentication identity accepted, in octets.
pub const MAX_IDENTITY_LEN: usize = 255;
/// Longest password accepted, in octets.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Who authenticated, and as whom they act.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The authentication identity: whose credentials were checked.
    pub authcid: String,
    /// The authorization identity asked for, if any and not empty (RFC 4422 §2). When it
    /// differs from `authcid`, the [`Authenticator`] allowed it.
    pub authzid: Option<String>,
}

impl Identity {
    /// The identity the session acts as: the authzid if one was asked for, else the authcid.
    pub fn acts_as(&self) -> &str {
        self.authzid.as_deref().unwrap_or(&self.authcid)
    }
}

/// What the application must check. `Debug` never shows the password or token.
///
/// Authentication and authorization are asked separately (RFC 4422 §2, §3.4.1): `Password`,
/// `Token` and `ScramLookup` are only about credentials; when the client asked to act as an
/// identity other than the one it authenticated as, the exchange then asks
/// [`CredentialCheck::Authorize`], after the credentials were proven. An application that
/// answers `Accept` to every `Authorize` lets any user act as any other; one that answers
/// `Reject` to anything it does not understand is safe by default.
#[derive(Debug)]
#[non_exhaustive]
pub enum CredentialCheck {
    /// PLAIN or LOGIN: is this the user's password?
    Password {
        /// The identity asked for (PLAIN only), `None` when empty. For information: accepting
        /// the password does not authorize it; see [`CredentialCheck::Authorize`].
        authzid: Option<String>,
        /// The user name.
        authcid: String,
        /// The password as sent; compare it after SASLprep (RFC 4013), as RFC 4616 §2 advises.
        password: SecretString,
    },
    /// XOAUTH2 or OAUTHBEARER: does this bearer token belong to `user`?
    Token {
        /// Reserved for mechanisms with a separate authorization identity; `None` for XOAUTH2
        /// and OAUTHBEARER, whose only identity is `user`.
        authzid: Option<String>,
        /// The user named by the client (XOAUTH2 `user=`, OAUTHBEARER `a=`); empty when an
        /// OAUTHBEARER client named none, in which case the application derives the identity
        /// from the token and answers [`CheckAnswer::AcceptAs`].
        user: String,
        /// The bearer token.
        token: SecretString,
    },
    /// SCRAM-SHA-256: what is stored for this user? Answer
    /// [`CheckAnswer::ScramCredentials`]; `None` (unknown user) and [`CheckAnswer::Reject`]
    /// both continue with made-up credentials and fail at the proof, so the client cannot tell
    /// an unknown user from a wrong password (RFC 5802 §5.1).
    ScramLookup {
        /// The identity asked for, `None` when absent. For information: returning credentials
        /// does not authorize it; see [`CredentialCheck::Authorize`].
        authzid: Option<String>,
        /// The user name, unescaped (`=2C`, `=3D`).
        authcid: String,
    },
    /// Asked only after `authcid` proved its credentials, and only when the client asked to act
    /// as a different `authzid`: may it? [`CheckAnswer::Accept`] allows, anything else fails
    /// the exchange with [`SaslError::AuthenticationFailed`].
    Authorize {
        /// Who authenticated.
        authcid: String,
        /// As whom they want to act.
        authzid: String,
    },
}

impl CredentialCheck {
    /// Whether the client asks to act as someone other than the one it authenticates as,
    /// which the application must explicitly allow.
    pub fn requests_other_identity(&self) -> bool {
        match self {
            CredentialCheck::Password {
                authzid, authcid, ..
            }
            | CredentialCheck::ScramLookup { authzid, authcid } => {
                authzid.as_deref().is_some_and(|a| a != authcid)
            }
            CredentialCheck::Token { authzid, user, .. } => {
                authzid.as_deref().is_some_and(|a| a != user)
            }
            CredentialCheck::Authorize { .. } => true,
        }
    }
}

/// The application's answer to a [`CredentialCheck`].
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckAnswer {
    /// The password or token is right; or, to [`CredentialCheck::Authorize`], the authzid is
    /// allowed.
    Accept,
    /// The token is right and belongs to this user (OAUTHBEARER without `a=`; also usable to
    /// canonicalise a user name).
    AcceptAs(String),
    /// Wrong password or token, unknown user, or authzid refused.
    Reject,
    /// The answer to [`CredentialCheck::ScramLookup`]: the stored credentials, or `None` for
    /// an unknown user.
    ScramCredentials(Option<ScramStored>),
}

/// Something that checks credentials, for protocol machines that call the application through
/// a trait object rather than emitting an event and waiting. See [`ServerExchange::resolve`].
pub trait Authenticator {
    /// Checks one set of credentials. Must not block for long: it runs inside the machine.
    fn check(&self, check: &CredentialCheck) -> CheckAnswer;
}

/// What the server does next.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerStep {
    /// Send this challenge (raw bytes; the protocol layer base64s it) and pass the client's
    /// answer to [`ServerExchange::respond`].
    Challenge(Vec<u8>),
    /// Ask the application, then call [`ServerExchange::answer`].
    Verify(CredentialCheck),
    /// Authenticated. `additional_data` (SCRAM's `v=`) goes with the success where the protocol
    /// allows it; see [`ServerExchange::final_data_as_challenge`] for protocols that do not.
    Success {
        /// Who authenticated.
        identity: Identity,
        /// Data to send with the success.
        additional_data: Option<Vec<u8>>,
    },
    /// The exchange failed; the protocol layer sends its failure reply. Peers see only "failed":
    /// the variant is for logs.
    Failure(SaslError),
}

enum Pending {
    Authorize {
        identity: Identity,
        additional_data: Option<Vec<u8>>,
    },
    Password {
        authzid: Option<String>,
        authcid: String,
    },
    Token {
        user: String,
    },
    Scram(ClientFirst),
}

struct ScramFinal {
    first: ClientFirst,
    nonce: String,
    server_first: String,
    stored: ScramStored,
    known: bool,
}

enum State {
    Start,
    AwaitFirst,
    LoginUser,
    LoginPassword { authcid: String },
    AwaitAnswer(Pending),
    TokenErrorSent,
    ScramFinal(Box<ScramFinal>),
    FinalChallengeSent(Identity),
    Done,
    Failed,
}

/// The server's half of one SASL exchange, Sans-IO: it never calls out by itself.
///
/// [`ServerExchange::start`] with the initial response if the command carried one, then
/// [`ServerExchange::respond`] with each decoded client response. When a step is
/// [`ServerStep::Verify`], ask the application and call [`ServerExchange::answer`], or let
/// [`ServerExchange::resolve`] do it through an [`Authenticator`].
pub struct ServerExchange {
    mechanism: Mechanism,
    state: State,
    rounds: usize,
    final_as_challenge: bool,
    scram_nonce: Option<String>,
    fake_secret: Option<([u8; 32], u32)>,
    token_error: Option<Vec<u8>>,
}

impl std::fmt::Debug for ServerExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerExchange")
            .field("mechanism", &self.mechanism)
            .field("rounds", &self.rounds)
            .finish_non_exhaustive()
    }
}

const XOAUTH2_ERROR: &[u8] =
    br#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#;
const OAUTHBEARER_ERROR: &[u8] = br#"{"status":"invalid_token","schemes":"bearer"}"#;

impl ServerExchange {
    /// A new exchange for `mechanism`. Whether the mechanism may be used on this connection is
    /// checked before, with [`super::check_requested`].
    pub fn new(mechanism: Mechanism) -> Self {
        ServerExchange {
            mechanism,
            state: State::Start,
            rounds: 0,
            final_as_challenge: false,
            scram_nonce: None,
            fake_secret: None,
            token_error: None,
        }
    }

    /// A SCRAM-SHA-256 exchange whose server nonce part is `nonce` instead of random, for test
    /// vectors. Never use a predictable nonce in production.
    pub fn scram_with_nonce(nonce: &str) -> Result<Self, SaslError> {
        if !scram::valid_nonce(nonce) {
            return Err(SaslError::OutOfOrder(
                "a SCRAM nonce must be printable ASCII without ','",
            ));
        }
        let mut exchange = ServerExchange::new(Mechanism::ScramSha256);
        exchange.scram_nonce = Some(nonce.to_owned());
        Ok(exchange)
    }

    /// For protocols that cannot carry data with their success reply: SCRAM's server-final
    /// message is then sent as a last [`ServerStep::Challenge`], the client answers with an
    /// empty response, and only then comes [`ServerStep::Success`] (RFC 4422 §5, RFC 9051 §6.2.2).
    pub fn final_data_as_challenge(mut self) -> Self {
        self.final_as_challenge = true;
        self
    }

    /// The server secret from which SCRAM salts of unknown users are derived, and the
    /// iteration count to announce for them (use the one of real users). With a fixed secret
    /// the same unknown user always gets the same salt, as a real user would (RFC 5802 §5.1).
    /// Without it, a fresh random secret per exchange is used.
    pub fn with_fake_scram_secret(mut self, secret: [u8; 32], iterations: u32) -> Self {
        self.fake_secret = Some((secret, iterations.max(scram::MIN_ITERATIONS)));
        self
    }

    /// The JSON error challenge sent when a bearer token is rejected (XOAUTH2, OAUTHBEARER,
    /// RFC 7628 §3.2.2).
    pub fn with_token_error(mut self, json: impl Into<Vec<u8>>) -> Self {
        self.token_error = Some(json.into());
        self
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Starts the exchange, with the initial response if the command carried one (`None`: no
    /// initial response; `Some(b"")`: an empty one, `=` on the wire).
    pub fn start(&mut self, initial_response: Option<&[u8]>) -> ServerStep {
        if !matches!(self.state, State::Start) {
            return self.fail(SaslError::OutOfOrder("start called twice"));
        }
        match (self.mechanism, initial_response) {
            (Mechanism::Login, None) => {
                self.state = State::LoginUser;
                ServerStep::Challenge(b"Username:".to_vec())
            }
            // Some LOGIN clients send the user name as initial response.
            (Mechanism::Login, Some(ir)) => {
                self.state = State::LoginUser;
                self.respond(ir)
            }
            (_, None) => {
                self.state = State::AwaitFirst;
                ServerStep::Challenge(Vec::new())
            }
            (_, Some(ir)) => {
                self.state = State::AwaitFirst;
                self.respond(ir)
            }
        }
    }

    /// Passes the client's next response (base64-decoded).
    pub fn respond(&mut self, response: &[u8]) -> ServerStep {
        self.rounds += 1;
        if self.rounds > MAX_ROUNDS {
            return self.fail(SaslError::TooManyRounds);
        }
        if response.len() > MAX_MESSAGE_LEN {
            return self.fail(SaslError::TooLong {
                len: response.len(),
                limit: MAX_MESSAGE_LEN,
            });
        }
        let m = self.mechanism;
        match std::mem::replace(&mut self.state, State::Failed) {
            State::AwaitFirst => {
                let parsed = match m {
                    Mechanism::Plain => parse_plain(response),
                    Mechanism::XOAuth2 => parse_xoauth2(response),
                    Mechanism::OAuthBearer => parse_oauthbearer(response),
                    Mechanism::ScramSha256 => scram::parse_client_first(response).map(|first| {
                        let check = CredentialCheck::ScramLookup {
                            authzid: first.authzid.clone().filter(|a| !a.is_empty()),
                            authcid: first.username.clone(),
                        };
                        (check, Pending::Scram(first))
                    }),
                    Mechanism::Login => Err(SaslError::OutOfOrder("LOGIN has no first message")),
                };
                match parsed {
                    Ok((check, pending)) => {
                        self.state = State::AwaitAnswer(pending);
                        ServerStep::Verify(check)
                    }
                    Err(e) => self.fail(e),
                }
            }
            State::LoginUser => match login_field(response, MAX_IDENTITY_LEN, "bad user name") {
                Ok(authcid) => {
                    self.state = State::LoginPassword { authcid };
                    ServerStep::Challenge(b"Password:".to_vec())
                }
                Err(e) => self.fail(e),
            },
            State::LoginPassword { authcid } => {
                match login_field(response, MAX_PASSWORD_LEN, "bad password") {
                    Ok(password) => {
                        self.state = State::AwaitAnswer(Pending::Password {
                            authzid: None,
                            authcid: authcid.clone(),
                        });
                        ServerStep::Verify(CredentialCheck::Password {
                            authzid: None,
                            authcid,
                            password: password.into(),
                        })
                    }
                    Err(e) => self.fail(e),
                }
            }
            State::TokenErrorSent => {
                // RFC 7628 §3.2.3: the client acknowledges with %x01 (XOAUTH2: empty); either
                // way the exchange fails.
                self.fail(SaslError::AuthenticationFailed)
            }
            State::ScramFinal(f) => self.scram_final(*f, response),
            State::FinalChallengeSent(identity) => {
                if response.is_empty() {
                    self.state = State::Done;
                    ServerStep::Success {
                        identity,
                        additional_data: None,
                    }
                } else {
                    self.fail(SaslError::malformed(
                        m,
                        "non-empty response to the final challenge",
                    ))
                }
            }
            State::AwaitAnswer(_) => {
                self.fail(SaslError::OutOfOrder("respond while a check is pending"))
            }
            State::Start => self.fail(SaslError::OutOfOrder("respond before start")),
            State::Done | State::Failed => {
                self.fail(SaslError::OutOfOrder("respond after the exchange ended"))
            }
        }
    }

    /// The application's answer to the last [`ServerStep::Verify`].
    pub fn answer(&mut self, answer: CheckAnswer) -> ServerStep {
        let State::AwaitAnswer(pending) = std::mem::replace(&mut self.state, State::Failed) else {
            return self.fail(SaslError::OutOfOrder("answer without a pending check"));
        };
        match (pending, answer) {
            (Pending::Password { authzid, authcid }, CheckAnswer::Accept) => {
                self.succeed(Identity { authcid, authzid }, None)
            }
            (Pending::Password { authzid, .. }, CheckAnswer::AcceptAs(authcid)) => {
                self.succeed(Identity { authcid, authzid }, None)
            }
            (Pending::Token { user }, CheckAnswer::Accept) if !user.is_empty() => self.succeed(
                Identity {
                    authcid: user,
                    authzid: None,
                },
                None,
            ),
            (Pending::Token { .. }, CheckAnswer::AcceptAs(user)) if !user.is_empty() => self
                .succeed(
                    Identity {
                        authcid: user,
                        authzid: None,
                    },
                    None,
                ),
            (Pending::Token { .. }, CheckAnswer::Accept | CheckAnswer::AcceptAs(_)) => self.fail(
                SaslError::OutOfOrder("a token without a user name needs AcceptAs(user)"),
            ),
            (Pending::Password { .. }, CheckAnswer::Reject) => {
                self.fail(SaslError::AuthenticationFailed)
            }
            (Pending::Token { .. }, CheckAnswer::Reject) => {
                // RFC 7628 §3.2.2: an error challenge, then failure after the client's reply.
                self.state = State::TokenErrorSent;
                let default = if self.mechanism == Mechanism::XOAuth2 {
                    XOAUTH2_ERROR
                } else {
                    OAUTHBEARER_ERROR
                };
                ServerStep::Challenge(self.token_error.clone().unwrap_or_else(|| default.to_vec()))
            }
            (Pending::Scram(first), CheckAnswer::ScramCredentials(stored)) => {
                self.scram_first(first, stored)
            }
            (Pending::Scram(first), CheckAnswer::Reject) => self.scram_first(first, None),
            (
                Pending::Authorize {
                    identity,
                    additional_data,
                },
                CheckAnswer::Accept,
            ) => self.finish_success(identity, additional_data),
            (Pending::Authorize { .. }, _) => self.fail(SaslError::AuthenticationFailed),
            (_, _) => self.fail(SaslError::OutOfOrder("the answer does not fit the check")),
        }
    }

    /// The client cancelled (`*`): the exchange fails with [`SaslError::Cancelled`].
    pub fn cancel(&mut self) -> ServerStep {
        self.fail(SaslError::Cancelled)
    }

    /// Answers every [`ServerStep::Verify`] through `authenticator` and returns the next step
    /// that needs the peer (or the end).
    pub fn resolve<A: Authenticator + ?Sized>(
        &mut self,
        mut step: ServerStep,
        authenticator: &A,
    ) -> ServerStep {
        // At most two questions per client message (credentials, then authorization); the
        // bound is a safety net.
        for _ in 0..4 {
            match step {
                ServerStep::Verify(check) => {
                    let answer = authenticator.check(&check);
                    drop(check);
                    step = self.answer(answer);
                }
                other => return other,
            }
        }
        self.fail(SaslError::TooManyRounds)
    }

    /// [`ServerExchange::start`] then [`ServerExchange::resolve`].
    pub fn start_with<A: Authenticator + ?Sized>(
        &mut self,
        initial_response: Option<&[u8]>,
        authenticator: &A,
    ) -> ServerStep {
        let step = self.start(initial_response);
        self.resolve(step, authenticator)
    }

    /// [`ServerExchange::respond`] then [`ServerExchange::resolve`].
    pub fn respond_with<A: Authenticator + ?Sized>(
        &mut self,
        response: &[u8],
        authenticator: &A,
    ) -> ServerStep {
        let step = self.respond(response);
        self.resolve(step, authenticator)
    }

    fn fail(&mut self, error: SaslError) -> ServerStep {
        self.state = State::Failed;
        ServerStep::Failure(error)
    }

    /// Credentials proven: ask for authorization if the client wants to act as someone else
    /// (the default policy allows only an authzid that is empty or equal to the authcid).
    fn succeed(&mut self, identity: Identity, additional_data: Option<Vec<u8>>) -> ServerStep {
        match &identity.authzid {
            Some(authzid) if *authzid != identity.authcid => {
                let check = CredentialCheck::Authorize {
                    authcid: identity.authcid.clone(),
                    authzid: authzid.clone(),
                };
                self.state = State::AwaitAnswer(Pending::Authorize {
                    identity,
                    additional_data,
                });
                ServerStep::Verify(check)
            }
            _ => self.finish_success(identity, additional_data),
        }
    }

    fn finish_success(
        &mut self,
        identity: Identity,
        additional_data: Option<Vec<u8>>,
    ) -> ServerStep {
        match additional_data {
            Some(data) if self.final_as_challenge => {
                self.state = State::FinalChallengeSent(identity);
                ServerStep::Challenge(data)
            }
            additional_data => {
                self.state = State::Done;
                ServerStep::Success {
                    identity,
                    additional_data,
                }
            }
        }
    }

    fn scram_first(&mut self, first: ClientFirst, stored: Option<ScramStored>) -> ServerStep {
        let server_part = match &self.scram_nonce {
            Some(n) => n.clone(),
            None => match scram::random_nonce() {
                Ok(n) => n,
                Err(e) => return self.fail(e),
            },
        };
        let (stored, known) = match stored {
            Some(s) => (s, true),
            None => match self.fake_stored(&first.username) {
                Ok(s) => (s, false),
                Err(e) => return self.fail(e),
            },
        };
        let nonce = format!("{}{}", first.nonce, server_part);
        let server_first = format!(
            "r={},s={},i={}",
            nonce,
            scram::encode_b64(stored.salt()),
            stored.iterations()
        );
        let challenge = server_first.clone().into_bytes();
        self.state = State::ScramFinal(Box::new(ScramFinal {
            first,
            nonce,
            server_first,
            stored,
            known,
        }));
        ServerStep::Challenge(challenge)
    }

    /// Made-up credentials for an unknown user (RFC 5802 §5.1): a salt that is stable for a
    /// given secret and user name, and keys no password matches.
    fn fake_stored(&self, username: &str) -> Result<ScramStored, SaslError> {
        let (secret, iterations) = match self.fake_secret {
            Some(s) => s,
            None => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|_| SaslError::Random)?;
                (key, scram::DEFAULT_ITERATIONS)
            }
        };
        let label = |l: &str| scram::hmac(&secret, format!("{l}\0{username}").as_bytes());
        let salt = label("salt")[..16].to_vec();
        ScramStored::from_parts(salt, iterations, label("stored"), label("server"))
    }

    fn scram_final(&mut self, f: ScramFinal, response: &[u8]) -> ServerStep {
        let client_final = match scram::parse_client_final(response) {
            Ok(c) => c,
            Err(e) => return self.fail(e),
        };
        if client_final.channel_binding != scram::encode_b64(f.first.gs2_header.as_bytes()) {
            return self.fail(SaslError::ChannelBinding);
        }
        if client_final.nonce != f.nonce {
            return self.fail(SaslError::NonceMismatch);
        }
        let auth_message = format!(
            "{},{},{}",
            f.first.bare, f.server_first, client_final.without_proof
        );
        // Verify even for unknown users, so both paths cost the same.
        let proof_ok = f
            .stored
            .verify_proof(auth_message.as_bytes(), &client_final.proof);
        if !(proof_ok && f.known) {
            return self.fail(SaslError::AuthenticationFailed);
        }
        let signature = f.stored.server_signature(auth_message.as_bytes());
        let data = format!("v={}", scram::encode_b64(&signature)).into_bytes();
        let identity = Identity {
            authcid: f.first.username,
            authzid: f.first.authzid.filter(|a| !a.is_empty()),
        };
        self.succeed(identity, Some(data))
    }
}

fn utf8(bytes: &[u8], m: Mechanism, reason: &'static str) -> Result<String, SaslError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| SaslError::malformed(m, reason))
}

/// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`, each UTF-8, authcid and passwd non-empty.
fn parse_plain(msg: &[u8]) -> Result<(CredentialCheck, Pending), SaslError> {
    let m = Mechanism::Plain;
    let mut fields = msg.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(SaslError::malformed(
            m,
            "expected exactly two NUL separators",
        ));
    };
    if authcid.is_empty() || password.is_empty() {
        return Err(SaslError::malformed(m, "empty user name or password"));
    }
    if authzid.len() > MAX_IDENTITY_LEN
        || authcid.len() > MAX_IDENTITY_LEN
        || password.len() > MAX_PASSWORD_LEN
    {
        return Err(SaslError::malformed(m, "field too long"));
    }
    let authzid = utf8(authzid, m, "authzid not UTF-8")?;
    let authzid = (!authzid.is_empty()).then_some(authzid);
    let authcid = utf8(authcid, m, "user name not UTF-8")?;
    let password = SecretString::from(utf8(password, m, "password not UTF-8")?);
    let pending = Pending::Password {
        authzid: authzid.clone(),
        authcid: authcid.clone(),
    };
    Ok((
        CredentialCheck::Password {
            authzid,
            authcid,
            password,
        },
        pending,
    ))
}

fn login_field(bytes: &[u8], max: usize, reason: &'static str) -> Result<String, SaslError> {
    let m = Mechanism::Login;
    if bytes.is_empty() || bytes.len() > max || bytes.contains(&0) {
        return Err(SaslError::malformed(m, reason));
    }
    utf8(bytes, m, reason)
}

/// Splits `key=value ^A key=value ^A ^A` pairs (the body of XOAUTH2 and OAUTHBEARER).
/// One `key=value` pair.
type Pair<'a> = (&'a [u8], &'a [u8]);

fn kv_pairs(body: &[u8], m: Mechanism) -> Result<Vec<Pair<'_>>, SaslError> {
    let Some(inner) = body.strip_suffix(b"\x01\x01") else {
        return Err(SaslError::malformed(m, "missing final ^A^A"));
    };
    let mut pairs = Vec::new();
    if inner.is_empty() {
        return Ok(pairs);
    }
    for pair in inner.split(|&b| b == 1) {
        let eq = pair
            .iter()
            .position(|&b| b == b'=')
            .ok_or(SaslError::malformed(m, "key without value"))?;
        let (key, value) = (&pair[..eq], &pair[eq + 1..]);
        if key.is_empty() || !key.iter().all(u8::is_ascii_alphabetic) {
            return Err(SaslError::malformed(m, "bad key"));
        }
        if pairs.len() >= 16 {
            return Err(SaslError::malformed(m, "too many keys"));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// `auth=Bearer <token>` (scheme case-insensitive, RFC 7628 §3.1 / RFC 6750 §2.1).
fn bearer_token(value: &[u8], m: Mechanism) -> Result<SecretString, SaslError> {
    if value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"Bearer ") {
        return Err(SaslError::malformed(m, "auth is not a Bearer token"));
    }
    let token = &value[7..];
    // RFC 6750 §2.1 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    if token.is_empty() || !token.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(SaslError::malformed(m, "bad token characters"));
    }
    Ok(SecretString::from(utf8(token, m, "token not UTF-8")?))
}

fn find<'a>(pairs: &[Pair<'a>], key: &[u8]) -> Option<&'a [u8]> {
    pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn parse_xoauth2(msg: &[u8]) -> Result<(CredentialCheck, Pending), SaslError> {
    let m = Mechanism::XOAuth2;
    let pairs = kv_pairs(msg, m)?;
    let user = find(&pairs, b"user").ok_or(SaslError::malformed(m, "no user"))?;
    let auth = find(&pairs, b"auth").ok_or(SaslError::malformed(m, "no auth"))?;
    if user.is_empty() || user.len() > MAX_IDENTITY_LEN {
        return Err(SaslError::malformed(m, "bad user"));
    }
    let user = utf8(user, m, "user not UTF-8")?;
    let token = bearer_token(auth, m)?;
    Ok((
        CredentialCheck::Token {
            authzid: None,
            user: user.clone(),
            token,
        },
        Pending::Token { user },
    ))
}

/// RFC 7628 §3.1: `gs2-header %x01 *(kvpair) %x01`, gs2-header `n,a=user,` or `n,,`.
fn parse_oauthbearer(msg: &[u8]) -> Result<(CredentialCheck, Pending), SaslError> {
    let m = Mechanism::OAuthBearer;
    let text_end = msg
        .iter()
        .position(|&b| b == 1)
        .ok_or(SaslError::malformed(m, "no ^A after the GS2 header"))?;
    let header = std::str::from_utf8(&msg[..text_end])
        .map_err(|_| SaslError::malformed(m, "GS2 header not UTF-8"))?;
    let mut parts = header.splitn(3, ',');
    match parts.next() {
        Some("n" | "y") => {}
        Some(f) if f.starts_with("p=") => return Err(SaslError::ChannelBinding),
        _ => return Err(SaslError::malformed(m, "bad channel-binding flag")),
    }
    let authzid = parts
        .next()
        .ok_or(SaslError::malformed(m, "bad GS2 header"))?;
    if parts.next() != Some("") {
        return Err(SaslError::malformed(m, "bad GS2 header"));
    }
    let user = if authzid.is_empty() {
        String::new()
    } else {
        let a = scram::attribute(authzid, b'a').ok_or(SaslError::malformed(m, "bad authzid"))?;
        scram::unescape_name(a).map_err(|_| SaslError::malformed(m, "bad authzid escape"))?
    };
    if user.len() > MAX_IDENTITY_LEN {
        return Err(SaslError::malformed(m, "user too long"));
    }
    let pairs = kv_pairs(&msg[text_end + 1..], m)?;
    let auth = find(&pairs, b"auth").ok_or(SaslError::malformed(m, "no auth"))?;
    let token = bearer_token(auth, m)?;
    Ok((
        CredentialCheck::Token {
            authzid: None,
            user: user.clone(),
            token,
        },
        Pending::Token { user },
    ))
}
