//! Not authenticated state: greeting, capabilities, STARTTLS, LOGIN, AUTHENTICATE, ENABLE.

use std::borrow::Cow;

use bytes::BytesMut;
use mailsec_tls::Output;
use mailsec_tls::sasl::{
    CheckAnswer, CredentialCheck, Identity, InsecureAuth, MAX_IDENTITY_LEN, MAX_PASSWORD_LEN,
    Mechanism, SaslError, SecretString, ServerExchange, ServerStep,
};

use super::{AuthMethod, CredWait, Server, ServerError, ServerEvent, Wait};
use crate::types::{Atom, AuthData, Capability, Code, Data, SimpleCode, StatusKind, Tag};

impl Server {
    pub(super) fn greet(&mut self) {
        let caps = self.capabilities();
        let text = self.config.greeting.clone();
        self.untagged_status(StatusKind::Ok, Some(Code::Capability(caps)), &text);
    }

    /// Whether plaintext-equivalent credentials (LOGIN, PLAIN, tokens) are accepted now.
    pub(super) fn plaintext_allowed(&self) -> bool {
        let policy = self.config.policy;
        policy.plaintext_credentials_allowed(self.secure)
            || (!policy.requires_secure_channel()
                && self.config.insecure_auth == InsecureAuth::AllowPlaintextMechanismsWithoutTls)
    }

    /// Whether any credential is accepted now.
    fn credentials_allowed(&self) -> bool {
        self.secure || !self.config.policy.requires_secure_channel()
    }

    fn mechanism_allowed(&self, m: Mechanism) -> bool {
        self.credentials_allowed() && (!m.is_plaintext_equivalent() || self.plaintext_allowed())
    }

    /// The capabilities in the current state (RFC 9051 §7.2.2). Before TLS on a listener that
    /// requires it: `STARTTLS LOGINDISABLED` and no `AUTH=`; never `STARTTLS` after TLS.
    pub(super) fn capabilities(&self) -> Vec<Capability<'static>> {
        let mut caps = vec![Capability::Imap4rev1, Capability::Imap4rev2];
        let authenticated = self.store.is_some();
        if !authenticated {
            if self.config.policy.offers_starttls(self.secure) {
                caps.push(Capability::StartTls);
            }
            if !(self.config.login && self.plaintext_allowed()) {
                caps.push(Capability::LoginDisabled);
            }
            for m in &self.config.mechanisms {
                if self.mechanism_allowed(*m) {
                    if let Ok(a) = Atom::new(m.as_str()) {
                        caps.push(Capability::Auth(a));
                    }
                }
            }
            caps.push(Capability::SaslIr);
        }
        caps.push(if self.config.literal_plus {
            Capability::LiteralPlus
        } else {
            Capability::LiteralMinus
        });
        caps.extend([
            Capability::Enable,
            Capability::Id,
            Capability::Idle,
            Capability::Namespace,
            Capability::UidPlus,
            Capability::Move,
            Capability::Unselect,
            Capability::SpecialUse,
            Capability::CreateSpecialUse,
            Capability::ListExtended,
            Capability::ListStatus,
            Capability::ESearch,
            Capability::StatusSize,
            Capability::Binary,
            Capability::Utf8Accept,
        ]);
        caps
    }

    pub(super) fn starttls(&mut self, tag: &Tag<'static>) {
        if !self.config.policy.offers_starttls(self.secure) {
            let text = if self.secure {
                "TLS is already active"
            } else {
                "STARTTLS not available"
            };
            self.bad(Some(tag), text);
            return;
        }
        let pending = self.framer.buffered() + self.unpushed;
        if pending > 0 || !self.framer.is_idle() {
            // Nothing after STARTTLS may run, in clear or inside TLS (RFC 9051 §6.2.1).
            self.bye("Pipelined data after STARTTLS");
            self.fail(ServerError::CommandInjection {
                bytes: pending.max(1),
            });
            return;
        }
        self.ok(tag, "Begin TLS negotiation now");
        self.out.push_back(Output::StartTls);
        self.wait = Wait::Upgrade;
    }

    fn privacy_required(&mut self, tag: &Tag<'static>) {
        self.tagged(
            tag,
            StatusKind::No,
            Some(Code::Simple(SimpleCode::PrivacyRequired)),
            "Authentication disallowed on non-secure connections; use STARTTLS",
        );
        self.count_bad();
    }

    /// A synchronizing literal refused before TLS (see `process`).
    pub(super) fn literal_refused_in_clear(&mut self, tag: Option<bytes::Bytes>) {
        let tag = tag
            .and_then(|t| String::from_utf8(t.to_vec()).ok())
            .and_then(|t| Tag::new(t).ok());
        let code = Some(Code::Simple(SimpleCode::PrivacyRequired));
        let text = "No literals before TLS; use STARTTLS";
        match &tag {
            Some(t) => self.tagged(t, StatusKind::No, code, text),
            None => self.untagged_status(StatusKind::No, code, text),
        }
        self.count_bad();
    }

    pub(super) fn login(&mut self, tag: Tag<'static>, user: &[u8], password: &[u8]) {
        if !self.config.login {
            self.no(
                &tag,
                Some(SimpleCode::Cannot),
                "LOGIN is disabled; use AUTHENTICATE",
            );
            return;
        }
        if !self.plaintext_allowed() {
            self.privacy_required(&tag);
            return;
        }
        let user = std::str::from_utf8(user)
            .ok()
            .filter(|u| !u.is_empty() && u.len() <= MAX_IDENTITY_LEN);
        let password = std::str::from_utf8(password)
            .ok()
            .filter(|p| !p.is_empty() && p.len() <= MAX_PASSWORD_LEN);
        let (Some(user), Some(password)) = (user, password) else {
            self.auth_failed(&tag);
            return;
        };
        let check = CredentialCheck::Password {
            authzid: None,
            authcid: user.to_owned(),
            password: SecretString::from(password.to_owned()),
        };
        self.wait = Wait::Credentials {
            tag,
            cred: CredWait::Login {
                user: user.to_owned(),
            },
        };
        self.out
            .push_back(Output::Event(ServerEvent::CheckCredentials {
                check,
                method: AuthMethod::Login,
            }));
    }

    pub(super) fn authenticate(
        &mut self,
        tag: Tag<'static>,
        mechanism: &str,
        initial: Option<AuthData<'_>>,
    ) {
        let Some(m) = Mechanism::from_name(mechanism.as_bytes())
            .filter(|m| self.config.mechanisms.contains(m))
        else {
            self.no(&tag, None, "Unsupported authentication mechanism");
            return;
        };
        if !self.mechanism_allowed(m) {
            self.privacy_required(&tag);
            return;
        }
        let ir: Option<Cow<'_, [u8]>> = match &initial {
            None => None,
            Some(AuthData::Empty) => Some(Cow::Borrowed(&[][..])),
            Some(AuthData::Data(d)) => Some(Cow::Borrowed(&d.expose()[..])),
            Some(_) => {
                self.bad(Some(&tag), "Invalid initial response");
                return;
            }
        };
        let mut exchange = ServerExchange::new(m).final_data_as_challenge();
        let step = exchange.start(ir.as_deref());
        self.sasl_step(tag, exchange, step);
    }

    fn sasl_step(&mut self, tag: Tag<'static>, exchange: ServerExchange, step: ServerStep) {
        match step {
            ServerStep::Challenge(data) => {
                let mut out = BytesMut::with_capacity(data.len() / 3 * 4 + 8);
                out.extend_from_slice(b"+ ");
                out.extend_from_slice(mailsec_tls::sasl::wire::encode(&data).as_bytes());
                out.extend_from_slice(b"\r\n");
                self.transmit(out.freeze());
                self.framer.expect_continuation_line();
                self.wait = Wait::SaslLine { tag, exchange };
            }
            ServerStep::Verify(check) => {
                let method = AuthMethod::Sasl(exchange.mechanism());
                self.wait = Wait::Credentials {
                    tag,
                    cred: CredWait::Sasl(exchange),
                };
                self.out
                    .push_back(Output::Event(ServerEvent::CheckCredentials {
                        check,
                        method,
                    }));
            }
            ServerStep::Success { identity, .. } => self.authenticated(tag, identity),
            ServerStep::Failure(SaslError::Cancelled) => {
                self.wait = Wait::Nothing;
                // RFC 9051 §6.2.2: a cancelled exchange is rejected with BAD.
                self.tagged(&tag, StatusKind::Bad, None, "Authentication cancelled");
            }
            _ => {
                self.wait = Wait::Nothing;
                self.auth_failed(&tag);
            }
        }
    }

    pub(super) fn sasl_line(&mut self, line: &[u8]) {
        let Wait::SaslLine { tag, mut exchange } = std::mem::replace(&mut self.wait, Wait::Nothing)
        else {
            return;
        };
        let step = match crate::parse::authenticate_data(line) {
            Ok((AuthData::Cancel, _)) => exchange.cancel(),
            Ok((AuthData::Data(d), _)) => exchange.respond(d.expose()),
            Ok((_, _)) => exchange.respond(&[]),
            Err(_) => {
                self.bad(Some(&tag), "Invalid base64 in SASL response");
                return;
            }
        };
        self.sasl_step(tag, exchange, step);
    }

    pub(super) fn credentials_answered(
        &mut self,
        tag: Tag<'static>,
        cred: CredWait,
        answer: CheckAnswer,
    ) {
        match cred {
            CredWait::Login { user } => match answer {
                CheckAnswer::Accept => self.authenticated(
                    tag,
                    Identity {
                        authcid: user,
                        authzid: None,
                    },
                ),
                CheckAnswer::AcceptAs(name) => self.authenticated(
                    tag,
                    Identity {
                        authcid: name,
                        authzid: None,
                    },
                ),
                _ => self.auth_failed(&tag),
            },
            CredWait::Sasl(mut exchange) => {
                let step = exchange.answer(answer);
                self.sasl_step(tag, exchange, step);
            }
        }
    }

    fn auth_failed(&mut self, tag: &Tag<'static>) {
        self.identity = None;
        self.tagged(
            tag,
            StatusKind::No,
            Some(Code::Simple(SimpleCode::AuthenticationFailed)),
            "Authentication failed",
        );
        self.count_auth_failure();
    }

    fn authenticated(&mut self, tag: Tag<'static>, identity: Identity) {
        self.identity = Some(identity.clone());
        self.wait = Wait::OpenStore { tag };
        self.out
            .push_back(Output::Event(ServerEvent::OpenStore { identity }));
    }

    /// ENABLE (RFC 5161, RFC 9051 §6.3.1): IMAP4rev2 and UTF8=ACCEPT.
    pub(super) fn enable(&mut self, tag: &Tag<'static>, caps: &[Capability<'_>]) {
        let mut enabled = Vec::new();
        for c in caps {
            match c {
                Capability::Imap4rev2 if !self.rev2 => {
                    self.rev2 = true;
                    enabled.push(Capability::Imap4rev2);
                }
                Capability::Utf8Accept if !self.utf8 => {
                    self.utf8 = true;
                    enabled.push(Capability::Utf8Accept);
                }
                _ => {}
            }
        }
        self.data(Data::Enabled(enabled));
        self.ok(tag, "ENABLE completed");
    }
}
