//! The client-side SECURITY.md classes for IMAP, each fed in every chunking: response
//! injection after the STARTTLS go-ahead, PREAUTH in clear, STARTTLS missing or refused,
//! capabilities from before TLS, LOGINDISABLED, untagged data before TLS, credentials in
//! clear, invalid greetings.

mod client_common;

use client_common::*;
use mailsec_imap::client::{AuthMethod, ClientConfig, ClientError, ClientEvent, Unsolicited};
use mailsec_imap::types::{Capability, StatusKind};
use mailsec_tls::sasl::{InsecureAuth, Mechanism};
use mailsec_tls::{ClientTls, Machine, TlsInfo};

/// No credential ever crossed in clear: no LOGIN, no AUTHENTICATE, no base64 of the secret.
fn no_credentials_in_clear(run: &Run) {
    for needle in [
        &b"LOGIN"[..],
        b"AUTHENTICATE",
        b"s3cret",
        PLAIN_IR.as_bytes(),
    ] {
        assert!(
            !contains(&run.clear, needle),
            "cut {:?}: {} in clear: {}",
            run.cut,
            show(needle),
            show(&run.clear)
        );
    }
}

fn one_error(run: &Run) -> &ClientError {
    assert_eq!(run.errors.len(), 1, "cut {:?}: {:?}", run.cut, run.errors);
    assert!(run.closed, "an error is followed by Close");
    &run.errors[0]
}

#[test]
fn response_injection_after_starttls_ok() {
    for c in CUTS {
        let mut run = Run::new(config(ClientTls::StartTlsRequired), c);
        run.server(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
        run.expect(b"A0001 STARTTLS\r\n");
        // A meddler queues a forged capability list behind the go-ahead (CVE-2020-14954).
        run.server(b"A0001 OK begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n");
        assert!(matches!(one_error(&run), ClientError::ResponseInjection(n) if *n > 0));
        if matches!(c, Cut::Whole) {
            // Same read: no upgrade at all.
            assert_eq!(run.starttls, 0);
        }
        assert!(run.events.is_empty(), "{:?}", run.events);
        no_credentials_in_clear(&run);
        run.expect(b"");
    }
    // Bytes after the cut and before the handshake (a later read) are injection too.
    let mut run = Run::new(config(ClientTls::StartTlsRequired), Cut::Whole);
    run.server(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
    run.expect(b"A0001 STARTTLS\r\n");
    run.server(b"A0001 OK go\r\n");
    assert_eq!(run.starttls, 1);
    run.server(b"A0002 OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] forged\r\n");
    assert!(matches!(one_error(&run), ClientError::ResponseInjection(_)));
    // And the driver's report of a handshake after the failure changes nothing.
    run.client
        .handle_tls_established(run.now, &TlsInfo::for_testing("imap.example.test"));
    run.handshake_pending = false;
    run.drain();
    run.expect(b"");
    no_credentials_in_clear(&run);
}

#[test]
fn preauth_in_clear_with_tls_required_ends_the_session() {
    for c in CUTS {
        let mut run = Run::new(config(ClientTls::StartTlsRequired), c);
        run.server(b"* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] logged in as alice\r\n");
        assert_eq!(one_error(&run), &ClientError::PreauthWithoutTls);
        run.expect(b"");
        assert_eq!(run.starttls, 0);
    }
    // Opportunistic: PREAUTH keeps the session in clear, with no credential sent.
    let mut run = Run::new(config(ClientTls::StartTlsOpportunistic), Cut::Whole);
    run.server(b"* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n");
    let events = run.take_events();
    assert!(matches!(
        &events[..],
        [ClientEvent::Ready {
            secure: false,
            auth: AuthMethod::Preauth,
            ..
        }]
    ));
    no_credentials_in_clear(&run);
    // Over implicit TLS, PREAUTH is fine.
    let mut run = Run::new(config(ClientTls::Implicit), Cut::Whole);
    run.client
        .handle_tls_established(run.now, &TlsInfo::for_testing("imap.example.test"));
    run.secure = true;
    run.drain();
    run.server(b"* PREAUTH hi\r\n");
    run.expect(b"A0001 CAPABILITY\r\n");
    run.server(b"* CAPABILITY IMAP4rev2\r\nA0001 OK done\r\n");
    let events = run.take_events();
    assert!(
        matches!(
            &events[..],
            [
                ClientEvent::Secured,
                ClientEvent::Ready {
                    secure: true,
                    auth: AuthMethod::Preauth,
                    ..
                }
            ]
        ),
        "{events:?}"
    );
}

#[test]
fn starttls_missing_or_refused_with_required_fails_closed() {
    for c in CUTS {
        // Not in the greeting's capabilities.
        let mut run = Run::new(config(ClientTls::StartTlsRequired), c);
        run.server(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
        assert_eq!(one_error(&run), &ClientError::StartTlsNotOffered);
        run.expect(b"");

        // Not in the CAPABILITY response (stripped by a meddler).
        let mut run = Run::new(config(ClientTls::StartTlsRequired), c);
        run.server(b"* OK ready\r\n");
        run.expect(b"A0001 CAPABILITY\r\n");
        run.server(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0001 OK done\r\n");
        assert_eq!(one_error(&run), &ClientError::StartTlsNotOffered);
        run.expect(b"");

        // CAPABILITY refused: STARTTLS cannot be known to exist.
        let mut run = Run::new(config(ClientTls::StartTlsRequired), c);
        run.server(b"* OK ready\r\n");
        run.server(b"A0001 BAD no\r\n");
        assert!(matches!(
            one_error(&run),
            ClientError::CapabilityFailed {
                status: StatusKind::Bad,
                ..
            }
        ));

        // Refused with NO and with BAD.
        for (answer, status) in [
            (&b"A0001 NO [UNAVAILABLE] not now\r\n"[..], StatusKind::No),
            (b"A0001 BAD unknown command\r\n", StatusKind::Bad),
        ] {
            let mut run = Run::new(config(ClientTls::StartTlsRequired), c);
            run.server(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
            run.expect(b"A0001 STARTTLS\r\n");
            run.server(answer);
            let ClientError::StartTlsRefused { status: s, .. } = one_error(&run) else {
                panic!("{:?}", run.errors)
            };
            assert_eq!(*s, status);
            run.expect(b"");
            no_credentials_in_clear(&run);
        }

        // Opportunistic and refused: stays in clear, but sends no credential without the
        // named insecure option.
        let mut run = Run::new(config(ClientTls::StartTlsOpportunistic), c);
        run.server(b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n");
        run.server(b"A0001 NO not today\r\n");
        assert!(matches!(one_error(&run), ClientError::NoUsableAuth(_)));
        no_credentials_in_clear(&run);
    }
}

#[test]
fn capabilities_from_before_tls_are_ignored() {
    for c in CUTS {
        let mut run = Run::new(config(ClientTls::StartTlsRequired), c);
        // In clear: PLAIN with SASL-IR and LITERAL+ (a meddler's list).
        run.server(b"* OK [CAPABILITY IMAP4rev1 STARTTLS SASL-IR AUTH=PLAIN LITERAL+] ready\r\n");
        run.expect(b"A0001 STARTTLS\r\n");
        run.server(b"A0001 OK go\r\n");
        run.tls();
        assert!(run.client.capabilities().is_empty(), "forgotten at the cut");
        run.expect(b"A0002 CAPABILITY\r\n");
        // Over TLS: only LOGIN, no SASL-IR.
        run.server(b"* CAPABILITY IMAP4rev1 AUTH=LOGIN\r\nA0002 OK done\r\n");
        run.expect(b"A0003 AUTHENTICATE LOGIN\r\n");
        run.server(b"+ VXNlcm5hbWU6\r\n");
        run.expect(b"YWxpY2U=\r\n");
        run.server(b"+ UGFzc3dvcmQ6\r\n");
        run.expect(b"czNjcmV0\r\n");
        run.server(b"A0003 OK done\r\n");
        run.expect(b"A0004 CAPABILITY\r\n");
        run.server(b"* CAPABILITY IMAP4rev1 IDLE\r\nA0004 OK done\r\n");
        let events = run.take_events();
        let Some(ClientEvent::Ready {
            capabilities,
            auth,
            secure: true,
        }) = events.last()
        else {
            panic!("{events:?}")
        };
        assert_eq!(*auth, AuthMethod::Sasl(Mechanism::Login));
        assert_eq!(capabilities, &[Capability::Imap4rev1, Capability::Idle]);
        // LITERAL+ from plaintext is not used: an APPEND waits for `+`.
        run.client
            .append(run.now, "Drafts", &[], &b"x"[..])
            .unwrap();
        run.drain();
        run.expect(b"A0005 APPEND Drafts {1}\r\n");
        run.no_errors();
        no_credentials_in_clear(&run);
    }
}

#[test]
fn logindisabled_is_honoured() {
    for c in CUTS {
        let mut run = Run::new(config(ClientTls::StartTlsRequired), c);
        run.server(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
        run.server(b"A0001 OK go\r\n");
        run.tls();
        run.server(b"* CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=GSSAPI\r\nA0002 OK done\r\n");
        assert_eq!(one_error(&run), &ClientError::LoginDisabled);
        assert!(!contains(&run.log, b"LOGIN alice"));
        // Even in a plaintext session where credentials in clear are allowed.
        let plain = ClientConfig::builder(creds())
            .tls(ClientTls::InsecurePlaintext)
            .insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls)
            .build();
        let mut run = Run::new(plain, c);
        run.server(b"* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] ready\r\n");
        assert_eq!(one_error(&run), &ClientError::LoginDisabled);
        assert!(run.log.is_empty());
    }
}

#[test]
fn untagged_data_before_tls_is_never_reported() {
    for c in CUTS {
        let mut run = Run::new(config(ClientTls::StartTlsRequired), c);
        run.server(
            b"* OK ready\r\n* OK [ALERT] your account is locked, visit evil.example\r\n\
              * 3 EXISTS\r\n* 1 FETCH (FLAGS (\\Seen))\r\n* LIST () \"/\" Phish\r\n",
        );
        run.expect(b"A0001 CAPABILITY\r\n");
        run.server(b"* CAPABILITY IMAP4rev1 STARTTLS\r\n* NO [ALERT] forged\r\nA0001 OK done\r\n");
        run.expect(b"A0002 STARTTLS\r\n");
        run.server(b"A0002 OK go\r\n");
        run.tls();
        run.server(b"* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN\r\nA0003 OK done\r\n");
        run.server(b"A0004 OK [CAPABILITY IMAP4rev1] in\r\n");
        let events = run.take_events();
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, ClientEvent::Unsolicited(_))),
            "cut {c:?}: {events:?}"
        );
        assert!(matches!(events.last(), Some(ClientEvent::Ready { .. })));
        // Over TLS the same alert is reported.
        run.server(b"* OK [ALERT] real\r\n");
        assert_eq!(
            run.take_events(),
            vec![ClientEvent::Unsolicited(Unsolicited::Alert("real".into()))]
        );
        run.no_errors();
    }
}

#[test]
fn no_credentials_in_clear_without_the_named_option() {
    for tls in [
        ClientTls::StartTlsOpportunistic,
        ClientTls::InsecurePlaintext,
    ] {
        for c in CUTS {
            let mut run = Run::new(config(tls), c);
            run.server(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=SCRAM-SHA-256] ready\r\n");
            assert!(matches!(one_error(&run), ClientError::NoUsableAuth(_)));
            assert!(run.log.is_empty(), "{}", show(&run.log));
        }
    }
}

#[test]
fn bad_greetings_end_the_session_whatever_the_policy() {
    for tls in [
        ClientTls::StartTlsRequired,
        ClientTls::StartTlsOpportunistic,
        ClientTls::InsecurePlaintext,
    ] {
        for c in CUTS {
            let mut run = Run::new(config(tls), c);
            run.server(b"* BYE [UNAVAILABLE] too busy\r\n");
            assert!(
                matches!(one_error(&run), ClientError::GreetingBye { text, .. } if text == "too busy")
            );
            let mut run = Run::new(config(tls), c);
            run.server(b"HTTP/1.1 400 Bad Request\r\n");
            assert!(matches!(one_error(&run), ClientError::InvalidGreeting(_)));
            let mut run = Run::new(config(tls), c);
            run.server(b"* 3 EXISTS\r\n");
            assert!(matches!(one_error(&run), ClientError::InvalidGreeting(_)));
            assert!(run.log.is_empty());
        }
    }
}

#[test]
fn implicit_tls_refuses_plaintext_and_unexpected_handshakes() {
    let mut run = Run::new(config(ClientTls::Implicit), Cut::Whole);
    run.server(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n");
    assert_eq!(one_error(&run), &ClientError::PlaintextBeforeTls);

    let mut run = Run::new(config(ClientTls::StartTlsRequired), Cut::Whole);
    run.client
        .handle_tls_established(run.now, &TlsInfo::for_testing("imap.example.test"));
    run.drain();
    assert_eq!(one_error(&run), &ClientError::UnexpectedTls);

    // A server that never greets is noticed.
    let mut run = Run::new(config(ClientTls::StartTlsRequired), Cut::Whole);
    run.advance(mailsec_imap::client::DEFAULT_RESPONSE_TIMEOUT);
    assert!(matches!(one_error(&run), ClientError::Timeout { .. }));
    // EOF mid-session is an error.
    let mut run = Run::new(config(ClientTls::StartTlsRequired), Cut::Whole);
    run.client.handle_eof(run.now);
    run.drain();
    assert!(matches!(
        one_error(&run),
        ClientError::ConnectionClosed { .. }
    ));
}

#[test]
fn injection_caught_at_every_split_of_the_burst() {
    let burst = b"A0001 OK begin TLS\r\nA0002 OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] forged\r\n";
    for at in 1..burst.len() {
        let mut run = Run::new(config(ClientTls::StartTlsRequired), Cut::Whole);
        run.server(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
        run.expect(b"A0001 STARTTLS\r\n");
        run.server(&burst[..at]);
        run.server(&burst[at..]);
        assert!(
            matches!(one_error(&run), ClientError::ResponseInjection(_)),
            "split at {at}"
        );
        run.expect(b"");
        assert!(run.events.is_empty());
    }
}

#[test]
fn opportunistic_upgrades_when_offered() {
    for c in CUTS {
        let mut run = Run::new(config(ClientTls::StartTlsOpportunistic), c);
        run.server(b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n");
        run.expect(b"A0001 STARTTLS\r\n");
        run.server(b"A0001 OK go\r\n");
        run.tls();
        run.expect(b"A0002 CAPABILITY\r\n");
        run.server(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0002 OK done\r\n");
        run.expect(b"A0003 AUTHENTICATE PLAIN\r\n");
        run.server(b"+\r\n");
        run.expect(format!("{PLAIN_IR}\r\n").as_bytes());
        run.server(b"A0003 OK [CAPABILITY IMAP4rev1] ok\r\n");
        assert!(matches!(
            run.take_events().last(),
            Some(ClientEvent::Ready { secure: true, .. })
        ));
        no_credentials_in_clear(&run);
    }
}
