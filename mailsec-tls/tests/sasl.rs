//! SASL exchanges: RFC vectors, client⇄server pairs, malformed input, policy rules.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mailsec_tls::ServerPolicy;
use mailsec_tls::sasl::{
    Authenticator, CheckAnswer, ClientExchange, CredentialCheck, CredentialKind, Credentials,
    ExposeSecret, InsecureAuth, Mechanism, SaslError, ScramStored, ServerExchange, ServerStep,
    advertised_mechanisms, check_requested, choose_mechanism, parse_offered, wire,
};
use proptest::prelude::*;

const FAKE_SECRET: [u8; 32] = [7; 32];

fn stored_pencil() -> ScramStored {
    static S: OnceLock<ScramStored> = OnceLock::new();
    S.get_or_init(|| {
        let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        ScramStored::derive("pencil", &salt, 4096).unwrap()
    })
    .clone()
}

/// Users: tim/tanstaaftanstaaf, Kurt/xipj3plmq (may act as Ursel), user/pencil (also SCRAM),
/// token "ya29.good" for user@example.com.
struct Users;

impl Authenticator for Users {
    fn check(&self, check: &CredentialCheck) -> CheckAnswer {
        match check {
            CredentialCheck::Password {
                authcid, password, ..
            } => {
                let ok = matches!(
                    (authcid.as_str(), password.expose_secret()),
                    ("tim", "tanstaaftanstaaf") | ("Kurt", "xipj3plmq") | ("user", "pencil")
                );
                if ok {
                    CheckAnswer::Accept
                } else {
                    CheckAnswer::Reject
                }
            }
            CredentialCheck::Token { user, token, .. } => {
                if token.expose_secret() != "ya29.good" {
                    CheckAnswer::Reject
                } else if user.is_empty() {
                    CheckAnswer::AcceptAs("user@example.com".into())
                } else if user == "user@example.com" {
                    CheckAnswer::Accept
                } else {
                    CheckAnswer::Reject
                }
            }
            CredentialCheck::ScramLookup { authcid, .. } if authcid == "user" => {
                CheckAnswer::ScramCredentials(Some(stored_pencil()))
            }
            CredentialCheck::ScramLookup { .. } => CheckAnswer::ScramCredentials(None),
            CredentialCheck::Authorize { authcid, authzid } => {
                match (authcid.as_str(), authzid.as_str()) {
                    ("Kurt", "Ursel") | ("user", "admin") => CheckAnswer::Accept,
                    _ => CheckAnswer::Reject,
                }
            }
            _ => CheckAnswer::Reject,
        }
    }
}

/// Runs a whole exchange in memory; returns the server's identity or the first error.
fn run(
    mut client: ClientExchange,
    mut server: ServerExchange,
    use_ir: bool,
) -> Result<mailsec_tls::sasl::Identity, SaslError> {
    let mut step = if use_ir {
        let ir = client.initial_response()?;
        server.start_with(ir.as_ref().map(|r| r.expose_secret()), &Users)
    } else {
        server.start_with(None, &Users)
    };
    for _ in 0..10 {
        match step {
            ServerStep::Challenge(c) => {
                // Through the wire encoding, as the protocols do.
                let c = wire::decode(wire::encode(&c).as_bytes())?;
                let r = client.step(&c)?;
                step = server.respond_with(r.expose_secret(), &Users);
            }
            ServerStep::Success {
                identity,
                additional_data,
            } => {
                client.finish(additional_data.as_deref())?;
                return Ok(identity);
            }
            ServerStep::Failure(e) => return Err(e),
            ServerStep::Verify(_) => unreachable!("resolved by start_with/respond_with"),
            _ => unreachable!(),
        }
    }
    panic!("exchange did not end")
}

fn scram_server() -> ServerExchange {
    ServerExchange::new(Mechanism::ScramSha256).with_fake_scram_secret(FAKE_SECRET, 4096)
}

// ---------------------------------------------------------------- RFC 4616

#[test]
fn rfc4616_plain_client_messages() {
    let mut c = ClientExchange::new(
        Mechanism::Plain,
        Credentials::password("tim", "tanstaaftanstaaf"),
    )
    .unwrap();
    assert_eq!(
        c.initial_response().unwrap().unwrap().expose_secret(),
        b"\0tim\0tanstaaftanstaaf"
    );

    let creds = Credentials::password("Kurt", "xipj3plmq").with_authzid("Ursel");
    let mut c = ClientExchange::new(Mechanism::Plain, creds).unwrap();
    assert_eq!(
        c.initial_response().unwrap().unwrap().expose_secret(),
        b"Ursel\0Kurt\0xipj3plmq"
    );
}

#[test]
fn rfc4616_plain_server_parses_examples() {
    let mut s = ServerExchange::new(Mechanism::Plain);
    match s.start(Some(b"\0tim\0tanstaaftanstaaf")) {
        ServerStep::Verify(CredentialCheck::Password {
            authzid,
            authcid,
            password,
        }) => {
            assert_eq!(authzid, None);
            assert_eq!(authcid, "tim");
            assert_eq!(password.expose_secret(), "tanstaaftanstaaf");
        }
        other => panic!("{other:?}"),
    }
    match s.answer(CheckAnswer::Accept) {
        ServerStep::Success {
            identity,
            additional_data: None,
        } => {
            assert_eq!(identity.authcid, "tim");
            assert_eq!(identity.acts_as(), "tim");
        }
        other => panic!("{other:?}"),
    }

    let mut s = ServerExchange::new(Mechanism::Plain);
    match s.start(Some(b"Ursel\0Kurt\0xipj3plmq")) {
        ServerStep::Verify(check) => {
            assert!(check.requests_other_identity());
            let CredentialCheck::Password {
                authzid, authcid, ..
            } = &check
            else {
                panic!()
            };
            assert_eq!(authzid.as_deref(), Some("Ursel"));
            assert_eq!(authcid, "Kurt");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn plain_authzid_allowed_and_refused() {
    let c = ClientExchange::new(
        Mechanism::Plain,
        Credentials::password("Kurt", "xipj3plmq").with_authzid("Ursel"),
    )
    .unwrap();
    let id = run(c, ServerExchange::new(Mechanism::Plain), true).unwrap();
    assert_eq!(id.authzid.as_deref(), Some("Ursel"));
    assert_eq!(id.acts_as(), "Ursel");

    let c = ClientExchange::new(
        Mechanism::Plain,
        Credentials::password("tim", "tanstaaftanstaaf").with_authzid("root"),
    )
    .unwrap();
    assert_eq!(
        run(c, ServerExchange::new(Mechanism::Plain), true),
        Err(SaslError::AuthenticationFailed)
    );

    // authzid equal to authcid is the default policy's "allowed".
    let c = ClientExchange::new(
        Mechanism::Plain,
        Credentials::password("tim", "tanstaaftanstaaf").with_authzid("tim"),
    )
    .unwrap();
    assert_eq!(
        run(c, ServerExchange::new(Mechanism::Plain), true)
            .unwrap()
            .acts_as(),
        "tim"
    );
}

/// Authorization is asked separately, after the credentials were proven, and only when the
/// authzid differs from the authcid.
#[test]
fn authorization_is_a_separate_question() {
    let mut s = ServerExchange::new(Mechanism::Plain);
    assert!(matches!(
        s.start(Some(b"Ursel\0Kurt\0xipj3plmq")),
        ServerStep::Verify(_)
    ));
    match s.answer(CheckAnswer::Accept) {
        ServerStep::Verify(CredentialCheck::Authorize { authcid, authzid }) => {
            assert_eq!((authcid.as_str(), authzid.as_str()), ("Kurt", "Ursel"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.answer(CheckAnswer::Reject),
        ServerStep::Failure(SaslError::AuthenticationFailed)
    ));

    // A wrong password is never followed by an authorization question.
    let mut s = ServerExchange::new(Mechanism::Plain);
    s.start(Some(b"Ursel\0Kurt\0wrong"));
    assert!(matches!(
        s.answer(CheckAnswer::Reject),
        ServerStep::Failure(SaslError::AuthenticationFailed)
    ));

    // An authenticator that only knows passwords cannot be tricked into authorizing.
    struct PasswordsOnly;
    impl Authenticator for PasswordsOnly {
        fn check(&self, check: &CredentialCheck) -> CheckAnswer {
            match check {
                CredentialCheck::Password { .. } => CheckAnswer::Accept,
                CredentialCheck::ScramLookup { .. } => {
                    CheckAnswer::ScramCredentials(Some(stored_pencil()))
                }
                _ => CheckAnswer::Reject,
            }
        }
    }
    let mut s = ServerExchange::new(Mechanism::Plain);
    assert!(matches!(
        s.start_with(Some(b"root\0tim\0x"), &PasswordsOnly),
        ServerStep::Failure(SaslError::AuthenticationFailed)
    ));
    let mut s = ServerExchange::new(Mechanism::Plain);
    assert!(matches!(
        s.start_with(Some(b"tim\0tim\0x"), &PasswordsOnly),
        ServerStep::Success { .. }
    ));
    let mut c = ClientExchange::new(
        Mechanism::ScramSha256,
        Credentials::password("user", "pencil").with_authzid("root"),
    )
    .unwrap();
    let mut s = scram_server();
    let ir = c.initial_response().unwrap().unwrap();
    let ServerStep::Challenge(first) = s.start_with(Some(ir.expose_secret()), &PasswordsOnly)
    else {
        panic!()
    };
    let fin = c.step(&first).unwrap();
    assert!(matches!(
        s.respond_with(fin.expose_secret(), &PasswordsOnly),
        ServerStep::Failure(SaslError::AuthenticationFailed)
    ));
}

// ---------------------------------------------------------------- RFC 7677 §3

const NONCE_C: &str = "rOprNGfwEbeRWgbNEkqO";
const NONCE_S: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn rfc7677_client() -> ClientExchange {
    ClientExchange::scram_with_nonce(Credentials::password("user", "pencil"), NONCE_C).unwrap()
}

#[test]
fn rfc7677_client_vector() {
    let mut c = rfc7677_client();
    assert_eq!(
        c.initial_response().unwrap().unwrap().expose_secret(),
        CLIENT_FIRST.as_bytes()
    );
    assert_eq!(
        c.step(SERVER_FIRST.as_bytes()).unwrap().expose_secret(),
        CLIENT_FINAL.as_bytes()
    );
    c.finish(Some(SERVER_FINAL.as_bytes())).unwrap();
    assert!(c.is_done());
}

#[test]
fn rfc7677_client_vector_final_as_challenge() {
    let mut c = rfc7677_client();
    c.initial_response().unwrap();
    c.step(SERVER_FIRST.as_bytes()).unwrap();
    assert_eq!(
        c.step(SERVER_FINAL.as_bytes()).unwrap().expose_secret(),
        b""
    );
    c.finish(None).unwrap();
}

#[test]
fn rfc7677_client_without_sasl_ir() {
    let mut c = rfc7677_client();
    assert_eq!(
        c.step(b"").unwrap().expose_secret(),
        CLIENT_FIRST.as_bytes()
    );
    assert_eq!(
        c.step(SERVER_FIRST.as_bytes()).unwrap().expose_secret(),
        CLIENT_FINAL.as_bytes()
    );
    c.finish(Some(SERVER_FINAL.as_bytes())).unwrap();
}

#[test]
fn rfc7677_server_vector() {
    let mut s = ServerExchange::scram_with_nonce(NONCE_S).unwrap();
    match s.start(Some(CLIENT_FIRST.as_bytes())) {
        ServerStep::Verify(CredentialCheck::ScramLookup {
            authzid: None,
            authcid,
        }) => assert_eq!(authcid, "user"),
        other => panic!("{other:?}"),
    }
    match s.answer(CheckAnswer::ScramCredentials(Some(stored_pencil()))) {
        ServerStep::Challenge(c) => assert_eq!(c, SERVER_FIRST.as_bytes()),
        other => panic!("{other:?}"),
    }
    match s.respond(CLIENT_FINAL.as_bytes()) {
        ServerStep::Success {
            identity,
            additional_data,
        } => {
            assert_eq!(identity.authcid, "user");
            assert_eq!(additional_data.unwrap(), SERVER_FINAL.as_bytes());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc7677_server_vector_final_as_challenge() {
    let mut s = ServerExchange::scram_with_nonce(NONCE_S)
        .unwrap()
        .final_data_as_challenge();
    let step = s.start(None);
    assert!(matches!(step, ServerStep::Challenge(ref c) if c.is_empty()));
    let step = s.respond_with(CLIENT_FIRST.as_bytes(), &Users);
    assert!(matches!(step, ServerStep::Challenge(ref c) if c == SERVER_FIRST.as_bytes()));
    let step = s.respond(CLIENT_FINAL.as_bytes());
    assert!(matches!(step, ServerStep::Challenge(ref c) if c == SERVER_FINAL.as_bytes()));
    match s.respond(b"") {
        ServerStep::Success {
            identity,
            additional_data: None,
        } => assert_eq!(identity.authcid, "user"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn scram_stored_from_rfc7677_password() {
    let s = stored_pencil();
    assert_eq!(s.iterations(), 4096);
    let again =
        ScramStored::from_parts(s.salt().to_vec(), 4096, *s.stored_key(), *s.server_key()).unwrap();
    assert_eq!(again, s);
    assert!(matches!(
        ScramStored::derive("pencil", b"salt", 1000),
        Err(SaslError::IterationCountTooLow {
            iterations: 1000,
            minimum: 4096
        })
    ));
}

// ---------------------------------------------------------------- SCRAM client defences

fn client_after_first() -> ClientExchange {
    let mut c = rfc7677_client();
    c.initial_response().unwrap();
    c
}

#[test]
fn scram_client_rejects_forged_server_signature() {
    let mut c = client_after_first();
    c.step(SERVER_FIRST.as_bytes()).unwrap();
    let forged = "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    assert_eq!(
        c.finish(Some(forged.as_bytes())),
        Err(SaslError::ServerSignatureMismatch)
    );
    assert!(!c.is_done());

    let mut c = client_after_first();
    c.step(SERVER_FIRST.as_bytes()).unwrap();
    assert_eq!(
        c.step(forged.as_bytes()).unwrap_err(),
        SaslError::ServerSignatureMismatch
    );
    assert!(matches!(c.finish(None), Err(SaslError::OutOfOrder(_))));
}

#[test]
fn scram_client_rejects_success_without_signature() {
    let mut c = client_after_first();
    c.step(SERVER_FIRST.as_bytes()).unwrap();
    assert_eq!(c.finish(None), Err(SaslError::ServerSignatureMissing));

    let mut c = client_after_first();
    assert_eq!(c.finish(None), Err(SaslError::ServerSignatureMissing));
}

#[test]
fn scram_client_checks_server_first() {
    type Check = fn(&SaslError) -> bool;
    let cases: &[(&str, Check)] = &[
        (
            "r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
            |e| {
                matches!(
                    e,
                    SaslError::IterationCountTooLow {
                        iterations: 4095,
                        ..
                    }
                )
            },
        ),
        (
            "r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4000000000",
            |e| matches!(e, SaslError::IterationCountTooHigh { .. }),
        ),
        ("r=somebodyelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", |e| {
            *e == SaslError::NonceMismatch
        }),
        (
            "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            |e| *e == SaslError::NonceMismatch,
        ),
        (
            "m=ext,r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            |e| matches!(e, SaslError::Malformed { .. }),
        ),
        ("r=rOprNGfwEbeRWgbNEkqO%hv,s=!!!,i=4096", |e| {
            matches!(e, SaslError::Malformed { .. })
        }),
        (
            "r=rOprNGfwEbeRWgbNEkqO%hv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
            |e| matches!(e, SaslError::Malformed { .. }),
        ),
        ("r=rOprNGfwEbeRWgbNEkqO%hv,i=4096", |e| {
            matches!(e, SaslError::Malformed { .. })
        }),
        (
            "e=unknown-user",
            |e| matches!(e, SaslError::ServerError(s) if s == "unknown-user"),
        ),
        ("", |e| matches!(e, SaslError::Malformed { .. })),
    ];
    for (msg, ok) in cases {
        let mut c = client_after_first();
        let e = c.step(msg.as_bytes()).unwrap_err();
        assert!(ok(&e), "{msg}: {e:?}");
        assert!(matches!(c.step(b""), Err(SaslError::OutOfOrder(_))));
    }
}

#[test]
fn scram_client_escapes_user_names() {
    let mut c = ClientExchange::scram_with_nonce(
        Credentials::password("a,b=c", "pw").with_authzid("x=y"),
        "abc",
    )
    .unwrap();
    assert_eq!(
        c.initial_response().unwrap().unwrap().expose_secret(),
        b"n,a=x=3Dy,n=a=2Cb=3Dc,r=abc"
    );
}

#[test]
fn scram_server_unescapes_user_names_and_reports_authzid() {
    let mut s = scram_server();
    match s.start(Some(b"n,a=x=3Dy,n=a=2Cb=3Dc,r=abc")) {
        ServerStep::Verify(CredentialCheck::ScramLookup { authzid, authcid }) => {
            assert_eq!(authzid.as_deref(), Some("x=y"));
            assert_eq!(authcid, "a,b=c");
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- SCRAM server defences

#[test]
fn scram_pair_success_wrong_password_unknown_user_authzid() {
    let ok = ClientExchange::new(
        Mechanism::ScramSha256,
        Credentials::password("user", "pencil"),
    )
    .unwrap();
    assert_eq!(run(ok, scram_server(), true).unwrap().authcid, "user");

    let ok = ClientExchange::new(
        Mechanism::ScramSha256,
        Credentials::password("user", "pencil"),
    )
    .unwrap();
    assert_eq!(run(ok, scram_server(), false).unwrap().authcid, "user");

    let ok = ClientExchange::new(
        Mechanism::ScramSha256,
        Credentials::password("user", "pencil"),
    )
    .unwrap();
    let id = run(ok, scram_server().final_data_as_challenge(), true).unwrap();
    assert_eq!(id.authcid, "user");

    let ok = ClientExchange::new(
        Mechanism::ScramSha256,
        Credentials::password("user", "pencil").with_authzid("admin"),
    )
    .unwrap();
    let id = run(ok, scram_server(), true).unwrap();
    assert_eq!(id.acts_as(), "admin");

    let refused = ClientExchange::new(
        Mechanism::ScramSha256,
        Credentials::password("user", "pencil").with_authzid("root"),
    )
    .unwrap();
    assert_eq!(
        run(refused, scram_server(), true),
        Err(SaslError::AuthenticationFailed)
    );

    let bad =
        ClientExchange::new(Mechanism::ScramSha256, Credentials::password("user", "pen")).unwrap();
    assert_eq!(
        run(bad, scram_server(), true),
        Err(SaslError::AuthenticationFailed)
    );

    let unknown = ClientExchange::new(
        Mechanism::ScramSha256,
        Credentials::password("nobody", "pencil"),
    )
    .unwrap();
    assert_eq!(
        run(unknown, scram_server(), true),
        Err(SaslError::AuthenticationFailed)
    );
}

/// RFC 5802 §5.1: an unknown user gets a server-first of the same shape as a known one, with a
/// salt that is stable across attempts, and fails only at the proof.
#[test]
fn scram_unknown_user_looks_like_known_user() {
    let first = |user: &str| {
        let mut s = scram_server();
        let step = s.start_with(Some(format!("n,,n={user},r=abcdef").as_bytes()), &Users);
        let ServerStep::Challenge(c) = step else {
            panic!("{step:?}")
        };
        String::from_utf8(c).unwrap()
    };
    let known = first("user");
    let unknown = first("nobody");
    let unknown_again = first("nobody");
    let shape = |m: &str| m.split(',').map(|p| p[..2].to_owned()).collect::<Vec<_>>();
    assert_eq!(shape(&known), shape(&unknown));
    assert!(unknown.ends_with(",i=4096"));
    let salt = |m: &str| m.split(',').nth(1).unwrap().to_owned();
    assert_eq!(salt(&unknown), salt(&unknown_again));
    assert_ne!(salt(&unknown), salt(&known));
    assert_eq!(STANDARD.decode(&salt(&unknown)[2..]).unwrap().len(), 16);
}

#[test]
fn scram_server_channel_binding_rules() {
    // p=: the client insists on channel binding, which we do not offer.
    let mut s = scram_server();
    assert!(matches!(
        s.start(Some(b"p=tls-unique,,n=user,r=abc")),
        ServerStep::Failure(SaslError::ChannelBinding)
    ));
    // y: "I support it but think you do not" is acceptable without channel binding (§6).
    let mut s = scram_server();
    assert!(matches!(
        s.start(Some(b"y,,n=user,r=abc")),
        ServerStep::Verify(_)
    ));
    // c= must repeat the gs2 header.
    let mut s = ServerExchange::scram_with_nonce(NONCE_S).unwrap();
    s.start_with(Some(CLIENT_FIRST.as_bytes()), &Users);
    let wrong_cb = CLIENT_FINAL.replace("c=biws", "c=eSws");
    assert!(matches!(
        s.respond(wrong_cb.as_bytes()),
        ServerStep::Failure(SaslError::ChannelBinding)
    ));
    // the nonce must be the combined one.
    let mut s = ServerExchange::scram_with_nonce(NONCE_S).unwrap();
    s.start_with(Some(CLIENT_FIRST.as_bytes()), &Users);
    let wrong_nonce = CLIENT_FINAL.replace("k0,p=", "k1,p=");
    assert!(matches!(
        s.respond(wrong_nonce.as_bytes()),
        ServerStep::Failure(SaslError::NonceMismatch)
    ));
    // a tampered proof fails.
    let mut s = ServerExchange::scram_with_nonce(NONCE_S).unwrap();
    s.start_with(Some(CLIENT_FIRST.as_bytes()), &Users);
    let wrong_proof = CLIENT_FINAL.replace("p=dHzb", "p=dHzc");
    assert!(matches!(
        s.respond(wrong_proof.as_bytes()),
        ServerStep::Failure(SaslError::AuthenticationFailed)
    ));
}

#[test]
fn scram_server_rejects_malformed_client_first() {
    for msg in [
        &b""[..],
        b"n,,",
        b"n,,m=ext,n=user,r=abc",
        b"n,,n=user",
        b"n,,n=,r=abc",
        b"n,,n=us=er,r=abc",
        b"n,,n=user,r=",
        b"n,,r=abc,n=user",
        b"x,,n=user,r=abc",
        b"n,b=x,n=user,r=abc",
        b"n,,n=user,r=a\x7fb",
        b"n,,n=\xff,r=abc",
        b"n,,n=user,r=abc,1",
    ] {
        let mut s = scram_server();
        match s.start(Some(msg)) {
            ServerStep::Failure(SaslError::Malformed {
                mechanism: Mechanism::ScramSha256,
                ..
            }) => {}
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(msg)),
        }
    }
}

// ---------------------------------------------------------------- LOGIN

#[test]
fn login_pair_and_challenges() {
    let c = ClientExchange::new(
        Mechanism::Login,
        Credentials::password("tim", "tanstaaftanstaaf"),
    )
    .unwrap();
    assert_eq!(
        run(c, ServerExchange::new(Mechanism::Login), true)
            .unwrap()
            .authcid,
        "tim"
    );
    let c = ClientExchange::new(Mechanism::Login, Credentials::password("tim", "wrong")).unwrap();
    assert_eq!(
        run(c, ServerExchange::new(Mechanism::Login), false),
        Err(SaslError::AuthenticationFailed)
    );

    let mut c = ClientExchange::new(
        Mechanism::Login,
        Credentials::password("tim", "tanstaaftanstaaf"),
    )
    .unwrap();
    assert!(c.initial_response().unwrap().is_none());
    let mut s = ServerExchange::new(Mechanism::Login);
    assert!(matches!(s.start(None), ServerStep::Challenge(ref c) if c == b"Username:"));
    assert_eq!(c.step(b"Username:").unwrap().expose_secret(), b"tim");
    assert!(matches!(s.respond(b"tim"), ServerStep::Challenge(ref c) if c == b"Password:"));
    assert_eq!(
        c.step(b"Password:").unwrap().expose_secret(),
        b"tanstaaftanstaaf"
    );
    assert!(c.step(b"More:").is_err());
}

#[test]
fn login_server_accepts_user_name_as_initial_response() {
    let mut s = ServerExchange::new(Mechanism::Login);
    assert!(matches!(s.start(Some(b"tim")), ServerStep::Challenge(ref c) if c == b"Password:"));
    assert!(matches!(
        s.respond_with(b"tanstaaftanstaaf", &Users),
        ServerStep::Success { ref identity, .. } if identity.authcid == "tim"
    ));
}

#[test]
fn login_server_rejects_malformed() {
    let long = vec![b'a'; 2000];
    for (user, pass) in [
        (&b""[..], &b"x"[..]),
        (b"a\0b", b"x"),
        (b"\xff", b"x"),
        (b"tim", b""),
        (b"tim", &long[..]),
    ] {
        let mut s = ServerExchange::new(Mechanism::Login);
        s.start(None);
        let step = match s.respond(user) {
            ServerStep::Challenge(_) => s.respond(pass),
            other => other,
        };
        assert!(
            matches!(
                step,
                ServerStep::Failure(SaslError::Malformed {
                    mechanism: Mechanism::Login,
                    ..
                })
            ),
            "{step:?}"
        );
    }
}

// ---------------------------------------------------------------- PLAIN

#[test]
fn plain_pair() {
    let c = ClientExchange::new(
        Mechanism::Plain,
        Credentials::password("tim", "tanstaaftanstaaf"),
    )
    .unwrap();
    assert_eq!(
        run(c, ServerExchange::new(Mechanism::Plain), true)
            .unwrap()
            .authcid,
        "tim"
    );
    let c = ClientExchange::new(
        Mechanism::Plain,
        Credentials::password("tim", "tanstaaftanstaaf"),
    )
    .unwrap();
    assert_eq!(
        run(c, ServerExchange::new(Mechanism::Plain), false)
            .unwrap()
            .authcid,
        "tim"
    );
    let c = ClientExchange::new(Mechanism::Plain, Credentials::password("tim", "wrong")).unwrap();
    assert_eq!(
        run(c, ServerExchange::new(Mechanism::Plain), true),
        Err(SaslError::AuthenticationFailed)
    );
}

#[test]
fn plain_server_rejects_malformed() {
    let long_user = [b"\0".as_slice(), &[b'u'; 256], b"\0pw"].concat();
    let long_pw = [b"\0tim\0".as_slice(), &[b'p'; 1025]].concat();
    for msg in [
        &b""[..],
        b"tim",
        b"\0tim",
        b"\0tim\0",
        b"\0\0pw",
        b"\0tim\0pw\0",
        b"a\0tim\0pw\0x",
        b"\0t\xffm\0pw",
        b"\0tim\0p\xffw",
        &long_user,
        &long_pw,
    ] {
        let mut s = ServerExchange::new(Mechanism::Plain);
        match s.start(Some(msg)) {
            ServerStep::Failure(SaslError::Malformed {
                mechanism: Mechanism::Plain,
                ..
            }) => {}
            other => panic!("{msg:?}: {other:?}"),
        }
    }
}

#[test]
fn plain_client_refuses_nul_in_fields() {
    let mut c = ClientExchange::new(Mechanism::Plain, Credentials::password("t\0m", "pw")).unwrap();
    assert!(matches!(
        c.initial_response(),
        Err(SaslError::InvalidCredentials(_))
    ));
}

#[test]
fn plain_client_rejects_unexpected_challenges() {
    let mut c = ClientExchange::new(Mechanism::Plain, Credentials::password("tim", "x")).unwrap();
    assert!(c.step(b"hello").is_err());
    let mut c = ClientExchange::new(Mechanism::Plain, Credentials::password("tim", "x")).unwrap();
    c.initial_response().unwrap();
    assert!(c.step(b"").is_err());
    // a second initial response is API misuse.
    let mut c = ClientExchange::new(Mechanism::Plain, Credentials::password("tim", "x")).unwrap();
    c.initial_response().unwrap();
    assert!(matches!(
        c.initial_response(),
        Err(SaslError::OutOfOrder(_))
    ));
    // success before the credentials were sent.
    let mut c = ClientExchange::new(Mechanism::Plain, Credentials::password("tim", "x")).unwrap();
    assert!(c.finish(None).is_err());
}

// ---------------------------------------------------------------- XOAUTH2 / OAUTHBEARER

#[test]
fn xoauth2_client_format_and_pair() {
    let mut c = ClientExchange::new(
        Mechanism::XOAuth2,
        Credentials::bearer_token("user@example.com", "ya29.good"),
    )
    .unwrap();
    assert_eq!(
        c.initial_response().unwrap().unwrap().expose_secret(),
        b"user=user@example.com\x01auth=Bearer ya29.good\x01\x01"
    );
    let c = ClientExchange::new(
        Mechanism::XOAuth2,
        Credentials::bearer_token("user@example.com", "ya29.good"),
    )
    .unwrap();
    assert_eq!(
        run(c, ServerExchange::new(Mechanism::XOAuth2), true)
            .unwrap()
            .authcid,
        "user@example.com"
    );
}

#[test]
fn xoauth2_bad_token_error_challenge() {
    let mut c = ClientExchange::new(
        Mechanism::XOAuth2,
        Credentials::bearer_token("user@example.com", "ya29.bad"),
    )
    .unwrap();
    let mut s = ServerExchange::new(Mechanism::XOAuth2);
    let ir = c.initial_response().unwrap().unwrap();
    let ServerStep::Challenge(json) = s.start_with(Some(ir.expose_secret()), &Users) else {
        panic!()
    };
    assert!(json.starts_with(b"{\"status\":\"401\""));
    let ack = c.step(&json).unwrap();
    assert_eq!(ack.expose_secret(), b"");
    assert!(c.server_error().unwrap().contains("401"));
    assert!(matches!(
        s.respond(ack.expose_secret()),
        ServerStep::Failure(SaslError::AuthenticationFailed)
    ));
    assert!(c.finish(None).is_err());

    let c = ClientExchange::new(
        Mechanism::XOAuth2,
        Credentials::bearer_token("user@example.com", "ya29.bad"),
    )
    .unwrap();
    assert_eq!(
        run(c, ServerExchange::new(Mechanism::XOAuth2), true),
        Err(SaslError::AuthenticationFailed)
    );
}

#[test]
fn oauthbearer_client_format() {
    let creds = Credentials::bearer_token("user@example.com", "vF9dft4qmT")
        .with_host("server.example.com", 143);
    let mut c = ClientExchange::new(Mechanism::OAuthBearer, creds).unwrap();
    // RFC 7628 §4.1.
    assert_eq!(
        c.initial_response().unwrap().unwrap().expose_secret(),
        b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmT\x01\x01"
    );
}

#[test]
fn oauthbearer_pair_and_failure() {
    let c = ClientExchange::new(
        Mechanism::OAuthBearer,
        Credentials::bearer_token("user@example.com", "ya29.good"),
    )
    .unwrap();
    assert_eq!(
        run(c, ServerExchange::new(Mechanism::OAuthBearer), true)
            .unwrap()
            .authcid,
        "user@example.com"
    );

    // No a=: the application derives the user from the token.
    let mut s = ServerExchange::new(Mechanism::OAuthBearer);
    match s.start_with(Some(b"n,,\x01auth=Bearer ya29.good\x01\x01"), &Users) {
        ServerStep::Success { identity, .. } => assert_eq!(identity.authcid, "user@example.com"),
        other => panic!("{other:?}"),
    }

    let mut c = ClientExchange::new(
        Mechanism::OAuthBearer,
        Credentials::bearer_token("user@example.com", "ya29.bad"),
    )
    .unwrap();
    let mut s = ServerExchange::new(Mechanism::OAuthBearer);
    let ir = c.initial_response().unwrap().unwrap();
    let ServerStep::Challenge(json) = s.start_with(Some(ir.expose_secret()), &Users) else {
        panic!()
    };
    assert!(json.starts_with(b"{\"status\":\"invalid_token\""));
    let ack = c.step(&json).unwrap();
    assert_eq!(ack.expose_secret(), b"\x01"); // RFC 7628 §3.2.3
    assert!(matches!(
        s.respond(ack.expose_secret()),
        ServerStep::Failure(SaslError::AuthenticationFailed)
    ));
    assert!(c.step(b"{}").is_err());
}

#[test]
fn token_servers_reject_malformed() {
    for msg in [
        &b""[..],
        b"user=u\x01auth=Bearer t\x01",
        b"user=u\x01auth=Basic t\x01\x01",
        b"auth=Bearer t\x01\x01",
        b"user=\x01auth=Bearer t\x01\x01",
        b"user=u\x01auth=Bearer \x01\x01",
        b"user=u\x01auth=Bearer t t\x01\x01",
        b"user=u\x01=x\x01auth=Bearer t\x01\x01",
        b"user=u\x01noequals\x01auth=Bearer t\x01\x01",
        b"user=\xff\x01auth=Bearer t\x01\x01",
    ] {
        let mut s = ServerExchange::new(Mechanism::XOAuth2);
        assert!(
            matches!(
                s.start(Some(msg)),
                ServerStep::Failure(SaslError::Malformed {
                    mechanism: Mechanism::XOAuth2,
                    ..
                })
            ),
            "{msg:?}"
        );
    }
    for msg in [
        &b""[..],
        b"n,,auth=Bearer t\x01\x01",
        b"n,a=u\x01auth=Bearer t\x01\x01",
        b"x,,\x01auth=Bearer t\x01\x01",
        b"n,a=u,\x01auth=Bearer t\x01",
        b"n,a=u,\x01host=h\x01\x01",
        b"n,b=u,\x01auth=Bearer t\x01\x01",
        b"n,a=u=,\x01auth=Bearer t\x01\x01",
        b"n,a=u,x,\x01auth=Bearer t\x01\x01",
    ] {
        let mut s = ServerExchange::new(Mechanism::OAuthBearer);
        assert!(
            matches!(
                s.start(Some(msg)),
                ServerStep::Failure(SaslError::Malformed {
                    mechanism: Mechanism::OAuthBearer,
                    ..
                })
            ),
            "{msg:?}"
        );
    }
    let mut s = ServerExchange::new(Mechanism::OAuthBearer);
    assert!(matches!(
        s.start(Some(b"p=tls-unique,a=u,\x01auth=Bearer t\x01\x01")),
        ServerStep::Failure(SaslError::ChannelBinding)
    ));
}

// ---------------------------------------------------------------- general rules

#[test]
fn credentials_must_fit_the_mechanism() {
    assert_eq!(
        ClientExchange::new(Mechanism::ScramSha256, Credentials::bearer_token("u", "t"))
            .unwrap_err(),
        SaslError::CredentialsMismatch(Mechanism::ScramSha256)
    );
    assert_eq!(
        ClientExchange::new(Mechanism::XOAuth2, Credentials::password("u", "p")).unwrap_err(),
        SaslError::CredentialsMismatch(Mechanism::XOAuth2)
    );
}

#[test]
fn server_bounds_rounds_and_sizes() {
    let mut s = ServerExchange::new(Mechanism::Plain);
    s.start(None);
    let huge = vec![b'a'; mailsec_tls::sasl::MAX_MESSAGE_LEN + 1];
    assert!(matches!(
        s.respond(&huge),
        ServerStep::Failure(SaslError::TooLong { .. })
    ));
    // After the end, every call fails without panicking.
    assert!(matches!(
        s.respond(b"\0tim\0x"),
        ServerStep::Failure(SaslError::OutOfOrder(_))
    ));
    assert!(matches!(
        s.answer(CheckAnswer::Accept),
        ServerStep::Failure(SaslError::OutOfOrder(_))
    ));

    let mut s = ServerExchange::new(Mechanism::Plain);
    assert!(matches!(s.start(Some(b"\0tim\0x")), ServerStep::Verify(_)));
    assert!(matches!(
        s.answer(CheckAnswer::ScramCredentials(None)),
        ServerStep::Failure(SaslError::OutOfOrder(_))
    ));

    let mut s = ServerExchange::new(Mechanism::Plain);
    s.start(None);
    assert!(matches!(
        s.cancel(),
        ServerStep::Failure(SaslError::Cancelled)
    ));
}

#[test]
fn client_bounds_rounds() {
    let mut c = ClientExchange::new(Mechanism::Login, Credentials::password("u", "p")).unwrap();
    let mut errors = 0;
    for _ in 0..20 {
        if c.step(b"x").is_err() {
            errors += 1;
        }
    }
    assert_eq!(errors, 18);
}

#[test]
fn secrets_never_printed() {
    let creds = Credentials::password("tim", "tanstaaftanstaaf");
    assert!(!format!("{creds:?}").contains("tanstaaf"));
    let token = Credentials::bearer_token("tim", "ya29.secret-token");
    assert!(!format!("{token:?}").contains("secret-token"));

    let mut c = ClientExchange::new(Mechanism::Plain, creds.clone()).unwrap();
    assert!(!format!("{c:?}").contains("tanstaaf"));
    let ir = c.initial_response().unwrap().unwrap();
    assert!(!format!("{ir:?}").contains("tanstaaf"));
    assert!(!format!("{c:?}").contains("tanstaaf"));

    let mut s = ServerExchange::new(Mechanism::Plain);
    let step = s.start(Some(ir.expose_secret()));
    assert!(!format!("{step:?}").contains("tanstaaf"));
    assert!(!format!("{s:?}").contains("tanstaaf"));

    let mut s = ServerExchange::new(Mechanism::XOAuth2);
    let step = s.start(Some(b"user=tim\x01auth=Bearer ya29.secret-token\x01\x01"));
    assert!(!format!("{step:?}").contains("secret-token"));

    let mut s = ServerExchange::new(Mechanism::Login);
    s.start(None);
    s.respond(b"tim");
    let step = s.respond(b"tanstaaftanstaaf");
    assert!(!format!("{step:?}").contains("tanstaaf"));

    let stored = stored_pencil();
    let dbg = format!("{stored:?}");
    assert!(!dbg.contains(&format!("{:?}", stored.stored_key())));
    assert!(dbg.contains("REDACTED"));

    let mut c = rfc7677_client();
    c.initial_response().unwrap();
    c.step(SERVER_FIRST.as_bytes()).unwrap();
    assert!(!format!("{c:?}").contains("pencil"));
}

#[test]
fn mechanism_names() {
    for m in Mechanism::ALL {
        assert_eq!(m.as_str().parse::<Mechanism>().unwrap(), m);
        assert_eq!(
            m.as_str()
                .to_ascii_lowercase()
                .parse::<Mechanism>()
                .unwrap(),
            m
        );
        assert_eq!(m.to_string(), m.as_str());
    }
    assert_eq!(
        Mechanism::from_name(b"scram-sha-256"),
        Some(Mechanism::ScramSha256)
    );
    assert_eq!(Mechanism::from_name(b"XoAuTh2"), Some(Mechanism::XOAuth2));
    assert!(
        matches!("CRAM-MD5".parse::<Mechanism>(), Err(SaslError::UnsupportedMechanism(n)) if n == "CRAM-MD5")
    );
    assert!(Mechanism::Plain.is_plaintext_equivalent());
    assert!(Mechanism::Login.is_plaintext_equivalent());
    assert!(Mechanism::XOAuth2.is_plaintext_equivalent());
    assert!(Mechanism::OAuthBearer.is_plaintext_equivalent());
    assert!(!Mechanism::ScramSha256.is_plaintext_equivalent());
    assert!(!Mechanism::Login.client_first());
    assert_eq!(
        parse_offered([&b"plain"[..], b"CRAM-MD5", b"SCRAM-SHA-256", b"PLAIN"]),
        [Mechanism::Plain, Mechanism::ScramSha256]
    );
}

#[test]
fn client_mechanism_choice() {
    let pw = CredentialKind::Password;
    let tok = CredentialKind::BearerToken;
    let all = Mechanism::ALL;
    let refuse = InsecureAuth::default();
    assert_eq!(refuse, InsecureAuth::Refuse);
    let allow = InsecureAuth::AllowPlaintextMechanismsWithoutTls;

    assert_eq!(
        choose_mechanism(&all, true, refuse, pw),
        Some(Mechanism::ScramSha256)
    );
    assert_eq!(
        choose_mechanism(&all, false, refuse, pw),
        Some(Mechanism::ScramSha256)
    );
    assert_eq!(
        choose_mechanism(&[Mechanism::Login, Mechanism::Plain], true, refuse, pw),
        Some(Mechanism::Plain)
    );
    assert_eq!(
        choose_mechanism(&[Mechanism::Login], true, refuse, pw),
        Some(Mechanism::Login)
    );
    assert_eq!(
        choose_mechanism(&[Mechanism::Login, Mechanism::Plain], false, refuse, pw),
        None
    );
    assert_eq!(
        choose_mechanism(&[Mechanism::Login, Mechanism::Plain], false, allow, pw),
        Some(Mechanism::Plain)
    );

    assert_eq!(
        choose_mechanism(&all, true, refuse, tok),
        Some(Mechanism::OAuthBearer)
    );
    assert_eq!(
        choose_mechanism(&[Mechanism::XOAuth2], true, refuse, tok),
        Some(Mechanism::XOAuth2)
    );
    assert_eq!(choose_mechanism(&all, false, refuse, tok), None);
    assert_eq!(
        choose_mechanism(&all, false, allow, tok),
        Some(Mechanism::OAuthBearer)
    );
    assert_eq!(
        choose_mechanism(&[Mechanism::ScramSha256], true, refuse, tok),
        None
    );
    assert_eq!(choose_mechanism(&[], true, allow, pw), None);
}

#[test]
fn server_advertising_and_requests() {
    let enabled = [
        Mechanism::ScramSha256,
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::OAuthBearer,
    ];
    for policy in [
        ServerPolicy::starttls_required(),
        ServerPolicy::starttls_optional(),
        ServerPolicy::implicit_tls(),
    ] {
        assert_eq!(
            advertised_mechanisms(&enabled, false, policy),
            [Mechanism::ScramSha256]
        );
        assert_eq!(advertised_mechanisms(&enabled, true, policy), enabled);
        assert_eq!(
            check_requested(b"plain", &enabled, false, policy),
            Err(SaslError::NotAllowedWithoutTls(Mechanism::Plain))
        );
        assert_eq!(
            check_requested(b"plain", &enabled, true, policy),
            Ok(Mechanism::Plain)
        );
        assert_eq!(
            check_requested(b"SCRAM-SHA-256", &enabled, false, policy),
            Ok(Mechanism::ScramSha256)
        );
    }
    let clear = ServerPolicy::insecure_plaintext();
    assert_eq!(advertised_mechanisms(&enabled, false, clear), enabled);
    assert_eq!(
        check_requested(b"LOGIN", &enabled, false, clear),
        Ok(Mechanism::Login)
    );
    assert!(matches!(
        check_requested(b"XOAUTH2", &enabled, true, clear),
        Err(SaslError::UnsupportedMechanism(_))
    ));
    assert!(matches!(
        check_requested(b"GSSAPI", &enabled, true, clear),
        Err(SaslError::UnsupportedMechanism(_))
    ));
}

#[test]
fn wire_helpers() {
    assert_eq!(
        wire::encode(b"\0tim\0tanstaaftanstaaf"),
        "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
    );
    assert_eq!(
        wire::decode(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm").unwrap(),
        b"\0tim\0tanstaaftanstaaf"
    );
    assert_eq!(wire::encode_initial_response(b""), "=");
    assert_eq!(wire::decode_initial_response(b"=").unwrap(), b"");
    assert_eq!(wire::decode(b"?!"), Err(SaslError::InvalidBase64));
    assert_eq!(wire::decode_client_line(b"*"), Ok(wire::ClientLine::Cancel));
    assert_eq!(
        wire::decode_client_line(b""),
        Ok(wire::ClientLine::Response(Vec::new()))
    );
}

// ---------------------------------------------------------------- never panic

fn drive_server(mechanism: Mechanism, ir: Option<&[u8]>, responses: &[Vec<u8>]) {
    let mut s = ServerExchange::new(mechanism).with_fake_scram_secret(FAKE_SECRET, 4096);
    let mut step = s.start_with(ir, &Users);
    for r in responses {
        if !matches!(step, ServerStep::Challenge(_)) {
            break;
        }
        step = s.respond_with(r, &Users);
    }
    let _ = format!("{step:?}");
    // Calls after the end never panic either.
    let _ = s.respond(b"x");
}

fn arb_mechanism() -> impl Strategy<Value = Mechanism> {
    prop::sample::select(Mechanism::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn server_never_panics(
        m in arb_mechanism(),
        ir in prop::option::of(prop::collection::vec(any::<u8>(), 0..200)),
        responses in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..5),
    ) {
        drive_server(m, ir.as_deref(), &responses);
    }

    #[test]
    fn server_never_panics_on_near_valid_input(
        m in arb_mechanism(),
        prefix in prop::sample::select(vec![
            &b"n,,n=user,r="[..], b"n,a=", b"\0tim\0", b"user=", b"n,a=u,\x01auth=Bearer ", b"y,,n=",
        ]),
        tail in "[ -~\x01\0=,]{0,60}",
    ) {
        let ir = [prefix, tail.as_bytes()].concat();
        drive_server(m, Some(&ir), &[tail.clone().into_bytes(), Vec::new()]);
    }

    #[test]
    fn client_never_panics(
        m in arb_mechanism(),
        use_ir in any::<bool>(),
        challenges in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..5),
    ) {
        let creds = match m.credential_kind() {
            CredentialKind::Password => Credentials::password("user", "pencil"),
            _ => Credentials::bearer_token("user", "ya29.good"),
        };
        let mut c = ClientExchange::new(m, creds).unwrap();
        if use_ir {
            let _ = c.initial_response();
        }
        for ch in &challenges {
            let _ = c.step(ch);
        }
        let _ = c.finish(challenges.last().map(Vec::as_slice));
    }
}
