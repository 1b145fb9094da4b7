//! Before login: greeting, capabilities, STARTTLS by policy, LOGIN or AUTHENTICATE.

use std::borrow::Cow;

use bytes::BytesMut;
use mailsec_tls::ClientTls;
use mailsec_tls::sasl::{
    ClientExchange, CredentialKind, ExposeSecret, InsecureAuth, Mechanism, choose_mechanism,
    parse_offered,
};
use mailsec_tls::text::sanitize;

use super::event::{AuthMethod, ClientError, ClientEvent, Phase};
use super::request::{Internal, Owner};
use super::{Client, Stage};
use crate::serialize;
use crate::types::{AString, Atom, AuthData, Capability, Code, CommandBody, Secret, StatusKind};

impl Client {
    pub(super) fn greeting(&mut self, frame: &[u8]) {
        let greeting = match crate::parse::greeting(frame) {
            Ok((g, _)) => g,
            // Every error path still ends the session, whatever the policy (CVE-2020-28896).
            Err(e) => return self.fail(ClientError::InvalidGreeting(e)),
        };
        let text = sanitize(&greeting.text);
        match greeting.kind {
            StatusKind::Ok => {}
            StatusKind::Preauth => {
                if !self.secure {
                    if self.config.tls.requires_tls() {
                        // RFC 9051 §7.1.4 / CVE-2014-2567: PREAUTH makes STARTTLS impossible.
                        return self.fail(ClientError::PreauthWithoutTls);
                    }
                    // Opportunistic or plaintext policy: the session stays in clear.
                    self.clear_ok = true;
                }
                self.auth = Some(AuthMethod::Preauth);
            }
            StatusKind::Bye => {
                return self.fail(ClientError::GreetingBye {
                    code: greeting.code.map(Code::into_owned),
                    text,
                });
            }
            // Not reached: `parse::greeting` accepts only OK, PREAUTH and BYE.
            _ => {
                return self.fail(ClientError::Unexpected {
                    phase: Phase::Greeting,
                    what: "greeting status",
                });
            }
        }
        if let Some(Code::Capability(caps)) = greeting.code {
            self.capabilities = caps.into_iter().map(Capability::into_owned).collect();
            self.caps_known = true;
        }
        self.stage = Stage::Setup;
        self.next_step();
    }

    /// Decides the next setup command from what is known: the TLS decision first, then
    /// capabilities, then credentials, then ready.
    pub(super) fn next_step(&mut self) {
        if self.stage != Stage::Setup {
            return;
        }
        if !self.secure && !self.clear_ok {
            if !self.caps_known {
                return self.send_internal(CommandBody::Capability, Internal::Capability);
            }
            if self.capabilities.contains(&Capability::StartTls) {
                return self.send_internal(CommandBody::StartTls, Internal::StartTls);
            }
            match self.config.tls {
                ClientTls::StartTlsOpportunistic => self.clear_ok = true,
                // Required (Implicit never gets here: it waits for TLS before the greeting).
                _ => return self.fail(ClientError::StartTlsNotOffered),
            }
        }
        if !self.caps_known {
            return self.send_internal(CommandBody::Capability, Internal::Capability);
        }
        match self.auth {
            None => self.authenticate(),
            Some(auth) => self.ready(auth),
        }
    }

    fn send_internal(&mut self, body: CommandBody<'_>, internal: Internal) {
        self.send_command(body, Owner::Internal(internal));
    }

    fn ready(&mut self, auth: AuthMethod) {
        self.stage = Stage::Ready;
        self.framer.set_authenticated(true);
        self.event(ClientEvent::Ready {
            capabilities: self.capabilities.clone(),
            secure: self.secure,
            auth,
        });
        self.pump();
    }

    /// A tagged response to a setup command.
    pub(super) fn setup_status(
        &mut self,
        internal: Internal,
        kind: StatusKind,
        code: Option<Code<'static>>,
        text: String,
        acc: Vec<Capability<'static>>,
    ) {
        match internal {
            Internal::Capability => {
                if kind != StatusKind::Ok {
                    if !self.secure && !self.clear_ok {
                        if self.config.tls == ClientTls::StartTlsRequired {
                            return self.fail(ClientError::CapabilityFailed {
                                phase: Phase::Capability,
                                status: kind,
                                code,
                                text,
                            });
                        }
                        self.clear_ok = true;
                    }
                    self.capabilities.clear();
                } else if let Some(Code::Capability(caps)) = code {
                    self.capabilities = caps;
                } else {
                    self.capabilities = acc;
                }
                self.caps_known = true;
                self.next_step();
            }
            Internal::StartTls => {
                if kind != StatusKind::Ok {
                    if self.config.tls.requires_tls() {
                        return self.fail(ClientError::StartTlsRefused {
                            status: kind,
                            code,
                            text,
                        });
                    }
                    // Opportunistic: stay in clear (credentials still need InsecureAuth).
                    self.clear_ok = true;
                    return self.next_step();
                }
                let pending = self.framer.buffered();
                if pending > 0 {
                    // Anything after the go-ahead was sent before TLS: injected
                    // (CVE-2020-14954, CVE-2021-38371).
                    return self.fail(ClientError::ResponseInjection(pending));
                }
                self.stage = Stage::Handshake;
                self.out.push_back(mailsec_tls::Output::StartTls);
            }
            // The keepalive NOOP: its answer (even a NO) shows the link is alive.
            Internal::Keepalive => {}
            Internal::Login => self.auth_status(AuthMethod::Login, kind, code, text),
            Internal::Authenticate(mut exchange) => {
                let method = AuthMethod::Sasl(exchange.mechanism());
                if kind == StatusKind::Ok {
                    // IMAP carries no additional data with OK; SCRAM's proof came as a
                    // challenge and was checked then.
                    if let Err(e) = exchange.finish(None) {
                        return self.fail(e.into());
                    }
                }
                self.auth_status(method, kind, code, text);
            }
        }
    }

    fn auth_status(
        &mut self,
        method: AuthMethod,
        kind: StatusKind,
        code: Option<Code<'static>>,
        text: String,
    ) {
        if kind != StatusKind::Ok {
            return self.fail(ClientError::AuthFailed {
                method,
                status: kind,
                code,
                text,
            });
        }
        self.auth = Some(method);
        // RFC 9051 §6.2.2/§6.2.3: capabilities may change at login; take the list from the
        // tagged OK, or ask again.
        if let Some(Code::Capability(caps)) = code {
            self.capabilities = caps;
            self.caps_known = true;
        } else {
            self.caps_known = false;
            self.capabilities.clear();
        }
        self.next_step();
    }

    fn may_use_credentials(&self) -> bool {
        self.secure || self.config.insecure_auth == InsecureAuth::AllowPlaintextMechanismsWithoutTls
    }

    fn choose_sasl(&self) -> Option<Mechanism> {
        let offered = parse_offered(self.capabilities.iter().filter_map(|c| match c {
            Capability::Auth(a) => Some(a.as_str().as_bytes()),
            _ => None,
        }));
        let kind = self.config.credentials.kind();
        let insecure = self.config.insecure_auth;
        if self.config.mechanisms.is_empty() {
            return choose_mechanism(&offered, self.secure, insecure, kind);
        }
        self.config.mechanisms.iter().copied().find(|m| {
            offered.contains(m) && choose_mechanism(&[*m], self.secure, insecure, kind) == Some(*m)
        })
    }

    fn authenticate(&mut self) {
        if !self.may_use_credentials() {
            return self.fail(ClientError::NoUsableAuth(
                "the connection is not secure and cleartext credentials are refused",
            ));
        }
        if self.config.sasl {
            if let Some(m) = self.choose_sasl() {
                return self.start_sasl(m);
            }
        }
        if self.config.login && self.config.credentials.kind() == CredentialKind::Password {
            if self.capabilities.contains(&Capability::LoginDisabled) {
                return self.fail(ClientError::LoginDisabled);
            }
            return self.start_login();
        }
        self.fail(ClientError::NoUsableAuth(
            "no offered SASL mechanism fits the credentials and LOGIN is not usable",
        ))
    }

    fn start_login(&mut self) {
        // The password, through the LOGIN exchange (the only public way to read it from
        // `Credentials`).
        let password = (|| {
            let mut ex = ClientExchange::new(Mechanism::Login, self.config.credentials.clone())?;
            ex.step(b"")?;
            ex.step(b"")
        })();
        let password = match password {
            Ok(p) => p,
            Err(e) => return self.fail(e.into()),
        };
        let user = self.config.credentials.username().as_bytes().to_vec();
        let (Ok(username), Ok(password)) = (
            AString::new(user),
            AString::new(password.expose_secret().to_vec()),
        ) else {
            return self.fail(ClientError::NoUsableAuth(
                "user name or password holds a NUL octet",
            ));
        };
        self.send_internal(
            CommandBody::Login {
                username,
                password: Secret::new(password),
            },
            Internal::Login,
        );
    }

    fn start_sasl(&mut self, mechanism: Mechanism) {
        let mut exchange = match ClientExchange::new(mechanism, self.config.credentials.clone()) {
            Ok(e) => e,
            Err(e) => return self.fail(e.into()),
        };
        let Ok(name) = Atom::new(mechanism.as_str()) else {
            return self.fail(ClientError::NoUsableAuth("mechanism name"));
        };
        let mut initial = None;
        // RFC 4959: the initial response goes with the command when SASL-IR is offered;
        // otherwise the server's empty challenge asks for it.
        if mechanism.client_first() && self.capabilities.contains(&Capability::SaslIr) {
            match exchange.initial_response() {
                Ok(Some(ir)) if ir.expose_secret().is_empty() => initial = Some(AuthData::Empty),
                Ok(Some(ir)) => {
                    initial = Some(AuthData::Data(Secret::new(Cow::Owned(
                        ir.expose_secret().to_vec(),
                    ))));
                }
                Ok(None) => {}
                Err(e) => return self.fail(e.into()),
            }
        }
        self.send_internal(
            CommandBody::Authenticate {
                mechanism: name,
                initial,
            },
            Internal::Authenticate(Box::new(exchange)),
        );
    }

    /// A `+` challenge during AUTHENTICATE (RFC 9051 §6.2.2): base64, answered with base64,
    /// or `*` and the end of the session when the exchange fails.
    pub(super) fn sasl_challenge(&mut self, index: usize, text: &[u8]) {
        let Some(Owner::Internal(Internal::Authenticate(exchange))) =
            self.inflight.get_mut(index).map(|f| &mut f.owner)
        else {
            return;
        };
        let result = match mailsec_tls::sasl::wire::decode(text) {
            Ok(challenge) => exchange.step(&challenge),
            Err(e) => Err(e),
        };
        let mut buf = BytesMut::new();
        match result {
            Ok(response) => {
                serialize::authenticate_data(
                    &AuthData::Data(Secret::new(Cow::Borrowed(response.expose_secret()))),
                    &mut buf,
                );
                self.transmit(buf.freeze());
            }
            Err(e) => {
                serialize::authenticate_data(&AuthData::Cancel, &mut buf);
                self.transmit(buf.freeze());
                self.fail(e.into());
            }
        }
    }
}
