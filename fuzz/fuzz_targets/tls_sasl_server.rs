//! Feeds arbitrary client messages through every SASL server exchange.
//!
//! Byte 0 picks the mechanism (low 3 bits) and options (bit 3: initial response, bit 4:
//! final data as challenge); the rest is split at 0xFF into the initial response and the
//! following responses. Checks that nothing panics and that success only ever names an
//! identity whose credentials the fixed authenticator accepts.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mailsec_tls::sasl::{
    Authenticator, CheckAnswer, CredentialCheck, ExposeSecret, Mechanism, ScramStored,
    ServerExchange, ServerStep,
};

struct Fixed;

fn stored() -> ScramStored {
    static S: OnceLock<ScramStored> = OnceLock::new();
    S.get_or_init(|| ScramStored::derive("pencil", b"fuzz-salt", 4096).unwrap())
        .clone()
}

impl Authenticator for Fixed {
    fn check(&self, check: &CredentialCheck) -> CheckAnswer {
        match check {
            CredentialCheck::Password {
                authzid: None,
                authcid,
                password,
            } if authcid == "tim" && password.expose_secret() == "tanstaaf" => CheckAnswer::Accept,
            CredentialCheck::Token { user, token, .. } if token.expose_secret() == "good" => {
                if user.is_empty() {
                    CheckAnswer::AcceptAs("tim".into())
                } else {
                    CheckAnswer::Accept
                }
            }
            CredentialCheck::ScramLookup {
                authzid: None,
                authcid,
            } if authcid == "user" => CheckAnswer::ScramCredentials(Some(stored())),
            CredentialCheck::ScramLookup { .. } => CheckAnswer::ScramCredentials(None),
            _ => CheckAnswer::Reject,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mechanism = Mechanism::ALL[usize::from(selector & 7) % Mechanism::ALL.len()];
    let mut server = ServerExchange::new(mechanism).with_fake_scram_secret([9; 32], 4096);
    if selector & 0x10 != 0 {
        server = server.final_data_as_challenge();
    }
    let mut messages = rest.split(|&b| b == 0xff);
    let ir = if selector & 0x08 != 0 {
        messages.next()
    } else {
        None
    };
    let mut step = server.start_with(ir, &Fixed);
    loop {
        match step {
            ServerStep::Challenge(_) => match messages.next() {
                Some(m) => step = server.respond_with(m, &Fixed),
                None => break,
            },
            ServerStep::Success { identity, .. } => {
                assert!(
                    matches!(mechanism, Mechanism::XOAuth2 | Mechanism::OAuthBearer)
                        || identity.authcid == "tim",
                    "success for {identity:?} with {mechanism}"
                );
                assert_ne!(mechanism, Mechanism::ScramSha256, "SCRAM proof forged");
                break;
            }
            ServerStep::Failure(_) => break,
            other => panic!("unresolved step {other:?}"),
        }
    }
    // Calls after the end must not panic.
    let _ = server.respond(b"");
    let _ = server.answer(CheckAnswer::Accept);
});
