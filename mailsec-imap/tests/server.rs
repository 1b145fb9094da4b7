//! The IMAP server machine fed transcripts directly (no sockets), in the four chunkings of
//! SECURITY.md: STARTTLS cut and amnesia, LOGINDISABLED / PRIVACYREQUIRED, literals, an
//! RFC 3501 §8-style session, limits and timers.

#[path = "server_support.rs"]
mod support;

use std::time::Duration;

use mailsec_imap::server::{ServerConfig, ServerError, SessionState, StoreRefusal, UsageError};
use mailsec_imap::types::Flag;
use mailsec_tls::sasl::{CheckAnswer, Mechanism};
use mailsec_tls::{Machine, ServerPolicy};
use support::{CHUNKINGS, Chunking, H, TestStore};

fn required() -> ServerConfig {
    ServerConfig::builder().build().unwrap()
}

// ----- greeting, capabilities, require-secure-channel -----------------------------------

#[test]
fn greeting_before_tls_has_logindisabled_and_no_auth() {
    let mut h = H::new(required(), TestStore::new());
    let g = h.take();
    assert!(
        g.starts_with("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED SASL-IR "),
        "{g}"
    );
    assert!(!g.contains("AUTH="), "{g}");
    assert!(g.ends_with("] IMAP server ready\r\n"), "{g}");
    assert_eq!(h.s.state(), SessionState::NotAuthenticated);
}

#[test]
fn login_and_authenticate_refused_before_tls() {
    for chunking in CHUNKINGS {
        let mut h = H::new(required(), TestStore::new());
        h.take();
        h.feed(
            b"a LOGIN alice secret\r\nb AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\nc AUTHENTICATE PLAIN\r\nd CAPABILITY\r\n",
            chunking,
        );
        let w = h.take();
        assert!(w.contains("a NO [PRIVACYREQUIRED]"), "{chunking:?} {w}");
        assert!(w.contains("b NO [PRIVACYREQUIRED]"), "{chunking:?} {w}");
        assert!(w.contains("c NO [PRIVACYREQUIRED]"), "{chunking:?} {w}");
        assert!(!w.contains("+ "), "no SASL continuation in clear: {w}");
        assert!(w.contains("* CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED"));
        assert!(h.events.is_empty(), "no credential reached the application");
        assert!(!h.closed);
    }
}

#[test]
fn no_literal_invited_before_tls() {
    for chunking in CHUNKINGS {
        let mut h = H::new(required(), TestStore::new());
        h.take();
        h.feed(b"a LOGIN {5}\r\nb NOOP\r\n", chunking);
        assert_eq!(
            h.take(),
            "a NO [PRIVACYREQUIRED] No literals before TLS; use STARTTLS\r\nb OK NOOP completed\r\n",
            "{chunking:?}"
        );
    }
}

#[test]
fn starttls_then_amnesia() {
    for chunking in CHUNKINGS {
        let mut h = H::new(required(), TestStore::new());
        h.take();
        h.feed(b"a STARTTLS\r\n", chunking);
        assert_eq!(h.take(), "a OK Begin TLS negotiation now\r\n");
        assert_eq!(h.start_tls, 1);
        h.tls();
        assert_eq!(
            h.take(),
            "",
            "no greeting or capability sent unasked after STARTTLS"
        );
        assert!(h.s.is_secure());
        h.feed(
            b"b CAPABILITY\r\nc STARTTLS\r\nd LOGIN alice secret\r\n",
            chunking,
        );
        let w = h.take();
        let caps = w.lines().next().unwrap();
        assert!(
            caps.starts_with("* CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN SASL-IR"),
            "{caps}"
        );
        assert!(
            !caps.contains("STARTTLS") && !caps.contains("LOGINDISABLED"),
            "{caps}"
        );
        assert!(w.contains("c BAD TLS is already active"), "{w}");
        assert!(
            w.contains("d OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL- "),
            "{w}"
        );
        assert_eq!(h.events, ["secured", "check Login true", "open alice"]);
        assert_eq!(h.start_tls, 1);
    }
}

#[test]
fn starttls_command_injection_is_refused() {
    for chunking in CHUNKINGS {
        let mut h = H::new(required(), TestStore::new());
        h.take();
        h.feed(b"a STARTTLS\r\nb LOGIN alice secret\r\n", chunking);
        let w = h.take();
        assert!(
            !w.contains("b "),
            "{chunking:?}: injected command answered: {w}"
        );
        assert!(
            h.events.iter().all(|e| !e.starts_with("check")),
            "{:?}",
            h.events
        );
        assert!(
            matches!(h.errors.as_slice(), [ServerError::CommandInjection { .. }]),
            "{chunking:?} {:?}",
            h.errors
        );
        assert!(h.closed);
        match chunking {
            // The injection is seen in the same input: no go-ahead, no upgrade.
            Chunking::Whole | Chunking::AfterCrlf => {}
            _ => {}
        }
        if matches!(chunking, Chunking::Whole) {
            assert_eq!(h.start_tls, 0);
            assert!(!w.contains("a OK"), "{w}");
        }
        // Whatever the chunking, TLS never comes up with those bytes behind it.
        assert!(!h.events.contains(&"secured".to_owned()));
    }
}

#[test]
fn bytes_during_the_handshake_are_injection() {
    let mut h = H::new(required(), TestStore::new());
    h.take();
    h.feed(b"a STARTTLS\r\n", Chunking::Whole);
    assert_eq!(h.start_tls, 1);
    h.feed(b"b NOOP\r\n", Chunking::Whole);
    assert!(matches!(
        h.errors[..],
        [ServerError::CommandInjection { bytes: 8 }]
    ));
    assert!(h.closed);
    h.tls();
    assert!(!h.events.contains(&"secured".to_owned()));
}

#[test]
fn implicit_tls_greets_after_the_handshake() {
    let config = ServerConfig::builder()
        .policy(ServerPolicy::implicit_tls())
        .build()
        .unwrap();
    let mut h = H::new(config, TestStore::new());
    assert_eq!(h.take(), "");
    assert_eq!(h.s.state(), SessionState::Handshake);
    h.tls();
    let g = h.take();
    assert!(
        g.starts_with("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN SASL-IR"),
        "{g}"
    );
    assert!(!g.contains("STARTTLS"));
}

// ----- authentication -------------------------------------------------------------------

#[test]
fn authenticate_plain_with_and_without_initial_response() {
    for chunking in CHUNKINGS {
        let mut h = H::plain(TestStore::new());
        h.take();
        h.feed(b"a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n", chunking);
        assert!(h.take().starts_with("a OK [CAPABILITY"));
        let mut h = H::plain(TestStore::new());
        h.take();
        h.feed(
            b"a AUTHENTICATE PLAIN\r\nAGFsaWNlAHdyb25n\r\nb AUTHENTICATE PLAIN\r\n*\r\nc NOOP\r\n",
            chunking,
        );
        let w = h.take();
        assert_eq!(
            w,
            "+ \r\na NO [AUTHENTICATIONFAILED] Authentication failed\r\n+ \r\nb BAD Authentication cancelled\r\nc OK NOOP completed\r\n",
            "{chunking:?}"
        );
    }
}

#[test]
fn too_many_auth_failures_close() {
    let mut h = H::plain(TestStore::new());
    h.take();
    let w = h.send("a LOGIN alice x\r\nb LOGIN alice y\r\nc LOGIN alice z\r\nd NOOP\r\n");
    assert!(w.contains("c NO [AUTHENTICATIONFAILED]"), "{w}");
    assert!(w.ends_with("* BYE Too many failed logins\r\n"), "{w}");
    assert_eq!(h.errors, [ServerError::TooManyAuthFailures]);
    assert!(h.closed);
}

#[test]
fn store_refusal_keeps_the_session_unauthenticated() {
    let mut h = H::plain(TestStore::new());
    h.take();
    h.refuse = Some(StoreRefusal::InUse);
    let w = h.send("a LOGIN alice secret\r\nb SELECT INBOX\r\n");
    assert_eq!(
        w,
        "a NO [INUSE] Mailboxes in use, try again later\r\nb BAD Command not valid in this state\r\n"
    );
    assert_eq!(h.s.state(), SessionState::NotAuthenticated);
}

#[test]
fn commands_wait_while_the_application_decides() {
    let mut h = H::plain(TestStore::new());
    h.take();
    h.hold = true;
    h.feed(b"a LOGIN alice secret\r\nb NOOP\r\n", Chunking::Whole);
    assert_eq!(h.take(), "", "nothing answered before the check");
    assert_eq!(h.held.len(), 1);
    assert!(matches!(
        h.s.open_store(Box::new(TestStore::new())),
        Err(UsageError::Unexpected { .. })
    ));
    h.held.clear();
    h.s.answer_credentials(CheckAnswer::Accept).unwrap();
    h.drain();
    assert_eq!(h.held.len(), 1, "OpenStore asked");
    h.s.open_store(Box::new(h.store.clone())).unwrap();
    h.drain();
    let w = h.take();
    assert!(
        w.starts_with("a OK [CAPABILITY") && w.ends_with("b OK NOOP completed\r\n"),
        "{w}"
    );
}

// ----- literals -------------------------------------------------------------------------

#[test]
fn literal_continuation_only_after_acceptance() {
    for chunking in CHUNKINGS {
        let mut h = H::plain(TestStore::new());
        h.take();
        h.feed(b"a LOGIN {5}\r\n", chunking);
        assert_eq!(h.take(), "+ Ready for literal data\r\n");
        h.feed(b"alice {6}\r\n", chunking);
        assert_eq!(h.take(), "+ Ready for literal data\r\n");
        h.feed(b"secret\r\n", chunking);
        assert!(h.take().starts_with("a OK [CAPABILITY"), "{chunking:?}");
    }
}

#[test]
fn too_large_literal_is_refused_without_continuation() {
    for chunking in CHUNKINGS {
        let mut h = H::plain(TestStore::new());
        h.take();
        h.feed(b"a LOGIN {5000}\r\nb NOOP\r\n", chunking);
        assert_eq!(
            h.take(),
            "a NO [TOOBIG] Literal or command too large\r\nb OK NOOP completed\r\n",
            "{chunking:?}"
        );
        // An announced huge literal allocates nothing.
        h.feed(b"c LOGIN {18446744073709551615}\r\n", chunking);
        assert!(h.take().starts_with("c NO [TOOBIG]"));
        assert!(h.s.buffered_input() < 64);
    }
}

#[test]
fn literal_minus_non_sync_literals() {
    let mut h = H::plain(TestStore::new());
    h.take();
    let w = h.send("a LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n");
    assert!(w.starts_with("a OK [CAPABILITY"), "{w}");
    assert!(!w.contains("+ Ready"));
    // Over 4096 octets a non-synchronizing literal is refused and skipped (RFC 7888 §4).
    let mut body = b"b APPEND INBOX {5000+}\r\n".to_vec();
    body.extend(std::iter::repeat_n(b'x', 5000));
    body.extend_from_slice(b"\r\nc NOOP\r\n");
    h.feed(&body, Chunking::Whole);
    let w = h.take();
    assert_eq!(
        w,
        "b BAD [TOOBIG] Non-synchronizing literal too large\r\nc OK NOOP completed\r\n"
    );
}

#[test]
fn append_with_literal_and_appenduid() {
    for chunking in CHUNKINGS {
        let store = TestStore::new();
        let mut h = H::logged_in(store.clone());
        h.feed(b"a APPEND INBOX (\\Seen) {22}\r\n", chunking);
        assert_eq!(h.take(), "+ Ready for literal data\r\n");
        h.feed(b"Subject: hi\r\n\r\nhello\r\n\r\n", chunking);
        let w = h.take();
        assert_eq!(
            w, "a OK [APPENDUID 1001 1] APPEND completed\r\n",
            "{chunking:?}"
        );
        assert_eq!(store.uids("INBOX"), [1]);
        assert_eq!(store.flags("INBOX", 1), [Flag::Seen]);
        let w = h.send("b APPEND Nope {1+}\r\nx\r\n");
        assert_eq!(w, "b NO [TRYCREATE] No such mailbox\r\n");
    }
}

// ----- an RFC 3501 §8-style session ------------------------------------------------------

fn sample_store() -> TestStore {
    let store = TestStore::new();
    store.deliver("INBOX", b"Subject: one\r\n\r\nfirst\r\n", &[Flag::Seen]);
    store.deliver("INBOX", b"Subject: two\r\n\r\nsecond\r\n", &[]);
    store
}

#[test]
fn rfc3501_style_session_in_every_chunking() {
    let script = b"a001 login alice secret\r\n\
a002 select inbox\r\n\
a003 fetch 1:2 (flags uid rfc822.size)\r\n\
a004 fetch 2 body[]\r\n\
a005 store 1 +flags (\\Deleted)\r\n\
a006 expunge\r\n\
a007 logout\r\n";
    let mut transcripts = Vec::new();
    for chunking in CHUNKINGS {
        let store = sample_store();
        let mut h = H::plain(store.clone());
        h.take();
        h.feed(script, chunking);
        let w = h.take();
        assert!(
            h.closed && h.errors.is_empty(),
            "{chunking:?} {:?}",
            h.errors
        );
        assert_eq!(store.uids("INBOX"), [2]);
        assert_eq!(store.flags("INBOX", 2), [Flag::Seen], "BODY[] sets \\Seen");
        transcripts.push(w);
    }
    let w = &transcripts[0];
    let expected = "\
* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Limited\r\n\
* 2 EXISTS\r\n\
* 2 RECENT\r\n\
* OK [UNSEEN 2] First unseen\r\n\
* OK [UIDVALIDITY 1001] UIDs valid\r\n\
* OK [UIDNEXT 3] Predicted next UID\r\n\
a002 OK [READ-WRITE] SELECT completed\r\n\
* 1 FETCH (FLAGS (\\Seen \\Recent) UID 1 RFC822.SIZE 23)\r\n\
* 2 FETCH (FLAGS (\\Recent) UID 2 RFC822.SIZE 24)\r\n\
a003 OK FETCH completed\r\n\
* 2 FETCH (FLAGS (\\Seen \\Recent) BODY[] {24}\r\nSubject: two\r\n\r\nsecond\r\n)\r\n\
a004 OK FETCH completed\r\n\
* 1 FETCH (FLAGS (\\Seen \\Deleted \\Recent))\r\n\
a005 OK STORE completed\r\n\
* 1 EXPUNGE\r\n\
a006 OK EXPUNGE completed\r\n\
* BYE Logging out\r\n\
a007 OK LOGOUT completed\r\n";
    assert!(w.ends_with(expected), "{w}");
    for t in &transcripts[1..] {
        assert_eq!(t, w, "every chunking gives the same transcript");
    }
}

#[test]
fn examine_is_read_only() {
    let store = sample_store();
    let mut h = H::logged_in(store.clone());
    let w = h.send(
        "a EXAMINE INBOX\r\nb FETCH 2 BODY[]\r\nc STORE 1 +FLAGS (\\Flagged)\r\nd EXPUNGE\r\n",
    );
    assert!(
        w.contains("* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n"),
        "{w}"
    );
    assert!(w.contains("a OK [READ-ONLY] EXAMINE completed\r\n"), "{w}");
    assert!(
        w.contains("* 2 FETCH (BODY[] {24}\r\n"),
        "no \\Seen on EXAMINE: {w}"
    );
    assert!(w.contains("c NO [READ-ONLY]"), "{w}");
    assert!(w.contains("d NO [READ-ONLY]"), "{w}");
    assert_eq!(store.flags("INBOX", 2), []);
}

#[test]
fn rev2_select_and_esearch() {
    let store = sample_store();
    let mut h = H::logged_in(store);
    let w = h.send("a ENABLE IMAP4rev2\r\nb SELECT INBOX\r\nc SEARCH ALL\r\nd UID SEARCH RETURN (MIN MAX COUNT) ALL\r\n");
    assert!(
        w.starts_with("* ENABLED IMAP4rev2\r\na OK ENABLE completed\r\n"),
        "{w}"
    );
    assert!(!w.contains("RECENT"), "{w}");
    assert!(
        w.contains("* LIST () \"/\" INBOX\r\nb OK [READ-WRITE]"),
        "{w}"
    );
    assert!(w.contains("* ESEARCH (TAG \"c\") ALL 1:2\r\nc OK"), "{w}");
    assert!(
        w.contains("* ESEARCH (TAG \"d\") UID MIN 1 MAX 2 COUNT 2\r\nd OK"),
        "{w}"
    );
}

// ----- limits and timers ----------------------------------------------------------------

#[test]
fn bad_commands_are_counted() {
    let config = ServerConfig::builder()
        .policy(ServerPolicy::insecure_plaintext())
        .max_bad_commands(3)
        .build()
        .unwrap();
    let mut h = H::new(config, TestStore::new());
    h.take();
    let w = h.send("a FOO\r\nb SELECT INBOX\r\n* x\r\nd NOOP\r\n");
    assert_eq!(
        w,
        "a BAD Unknown command\r\nb BAD Command not valid in this state\r\n* BAD Invalid command line\r\n* BYE Too many bad commands\r\n"
    );
    assert_eq!(h.errors, [ServerError::TooManyBadCommands]);
}

#[test]
fn long_lines_are_refused() {
    let mut h = H::plain(TestStore::new());
    h.take();
    let mut line = b"a NOOP ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 10_000));
    line.extend_from_slice(b"\r\nb NOOP\r\n");
    h.feed(&line, Chunking::Whole);
    assert_eq!(h.take(), "a BAD Line too long\r\nb OK NOOP completed\r\n");
}

#[test]
fn autologout_before_and_after_login() {
    let mut h = H::plain(TestStore::new());
    h.take();
    assert_eq!(h.s.poll_timeout(), Some(h.now + Duration::from_secs(120)));
    h.advance(Duration::from_secs(119));
    assert!(!h.closed);
    h.advance(Duration::from_secs(2));
    assert_eq!(h.take(), "* BYE Autologout; idle for too long\r\n");
    assert_eq!(h.errors, [ServerError::Timeout]);

    let mut h = H::logged_in(TestStore::new());
    assert_eq!(h.s.poll_timeout(), Some(h.now + Duration::from_secs(1800)));
    h.advance(Duration::from_secs(1799));
    assert!(!h.closed);
    h.advance(Duration::from_secs(2));
    assert!(h.closed);
}

#[test]
fn shutdown_says_bye() {
    let mut h = H::logged_in(TestStore::new());
    h.s.shutdown();
    h.drain();
    assert_eq!(h.take(), "* BYE Server shutting down\r\n");
    assert!(h.closed && h.errors.is_empty());
    assert_eq!(h.events.last().unwrap(), "closed false");
    assert!(matches!(
        h.s.answer_credentials(CheckAnswer::Accept),
        Err(UsageError::Closed(_))
    ));
}

#[test]
fn pipelined_input_is_bounded_while_waiting() {
    let config = ServerConfig::builder()
        .policy(ServerPolicy::insecure_plaintext())
        .max_pipelined_input(1024)
        .build()
        .unwrap();
    let mut h = H::new(config, TestStore::new());
    h.take();
    h.hold = true;
    h.feed(b"a LOGIN alice secret\r\n", Chunking::Whole);
    let noops = "b NOOP\r\n".repeat(200);
    h.feed(noops.as_bytes(), Chunking::Whole);
    assert_eq!(h.errors, [ServerError::InputOverflow { limit: 1024 }]);
}

#[test]
fn scram_is_offered_in_clear_when_the_policy_allows() {
    let config = ServerConfig::builder()
        .policy(ServerPolicy::starttls_optional())
        .mechanisms([Mechanism::ScramSha256, Mechanism::Plain])
        .build()
        .unwrap();
    let mut h = H::new(config, TestStore::new());
    let g = h.take();
    assert!(
        g.contains("LOGINDISABLED AUTH=SCRAM-SHA-256 SASL-IR"),
        "{g}"
    );
    assert!(!g.contains("AUTH=PLAIN"));
    let w = h.send("a AUTHENTICATE PLAIN\r\n");
    assert!(w.starts_with("a NO [PRIVACYREQUIRED]"), "{w}");
}

#[test]
fn output_queue_is_bounded_when_the_client_does_not_read() {
    let mut h = H::plain(TestStore::new());
    h.take();
    let noops = "n NOOP\r\n".repeat(2000);
    // No draining: the machine stops reading once enough answers wait.
    h.s.handle_input(h.now, noops.as_bytes());
    assert!(h.s.buffered_input() > 0, "commands wait unread");
    h.drain();
    assert_eq!(h.take().matches("n OK NOOP completed\r\n").count(), 2000);
    // A client that keeps sending without reading hits the input bound.
    let many = "n NOOP\r\n".repeat(40_000);
    h.s.handle_input(h.now, many.as_bytes());
    h.drain();
    assert!(
        matches!(h.errors[..], [ServerError::InputOverflow { .. }]),
        "{:?}",
        h.errors
    );
}

#[test]
fn authenticate_scram_with_a_real_client_exchange() {
    use mailsec_imap::server::ServerEvent;
    use mailsec_tls::sasl::{
        ClientExchange, CredentialCheck, Credentials, ExposeSecret, ScramStored, wire,
    };
    for chunking in CHUNKINGS {
        let config = ServerConfig::builder()
            .policy(ServerPolicy::starttls_optional())
            .mechanisms([Mechanism::ScramSha256])
            .build()
            .unwrap();
        let mut h = H::new(config, TestStore::new());
        h.take();
        h.hold = true;
        let stored = ScramStored::derive("secret", b"salt-salt-salt", 4096).unwrap();
        let mut client = ClientExchange::new(
            Mechanism::ScramSha256,
            Credentials::password("alice", "secret"),
        )
        .unwrap();
        let first = client.initial_response().unwrap().unwrap();
        let line = format!(
            "a AUTHENTICATE SCRAM-SHA-256 {}\r\n",
            wire::encode(first.expose_secret())
        );
        h.feed(line.as_bytes(), chunking);
        let Some(ServerEvent::CheckCredentials {
            check: CredentialCheck::ScramLookup { authcid, .. },
            ..
        }) = h.held.pop()
        else {
            panic!("a SCRAM lookup")
        };
        assert_eq!(authcid, "alice");
        h.s.answer_credentials(CheckAnswer::ScramCredentials(Some(stored)))
            .unwrap();
        h.drain();
        let w = h.take();
        let challenge = w.strip_prefix("+ ").unwrap().trim_end();
        let server_first = wire::decode(challenge.as_bytes()).unwrap();
        let client_final = client.step(&server_first).unwrap();
        h.feed(
            format!("{}\r\n", wire::encode(client_final.expose_secret())).as_bytes(),
            chunking,
        );
        // The server's proof comes as a last challenge (RFC 9051 §6.2.2), answered empty.
        let w = h.take();
        let v = wire::decode(w.strip_prefix("+ ").unwrap().trim_end().as_bytes()).unwrap();
        client.finish(Some(&v)).unwrap();
        h.feed(b"\r\n", chunking);
        assert!(matches!(h.held.pop(), Some(ServerEvent::OpenStore { .. })));
        h.s.open_store(Box::new(h.store.clone())).unwrap();
        h.drain();
        assert!(h.take().starts_with("a OK [CAPABILITY"), "{chunking:?}");
        assert!(
            !h.s.is_secure(),
            "SCRAM is allowed in clear on this listener"
        );
    }
}

#[test]
fn authenticate_login_mechanism_in_steps() {
    let config = ServerConfig::builder()
        .policy(ServerPolicy::insecure_plaintext())
        .mechanisms([Mechanism::Login])
        .build()
        .unwrap();
    for chunking in CHUNKINGS {
        let mut h = H::new(config.clone(), TestStore::new());
        h.take();
        h.feed(
            b"a AUTHENTICATE LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n",
            chunking,
        );
        let w = h.take();
        assert!(
            w.starts_with("+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\na OK [CAPABILITY"),
            "{chunking:?} {w}"
        );
        assert_eq!(h.events, ["check Sasl(Login) true", "open alice"]);
    }
}

#[test]
fn http_request_closes_without_an_answer() {
    for chunking in CHUNKINGS {
        let mut h = H::new(required(), TestStore::new());
        h.take();
        h.feed(
            b"GET / HTTP/1.1\r\nHost: imap.example.test\r\n\r\n",
            chunking,
        );
        assert_eq!(h.take(), "", "{chunking:?}: nothing reflected");
        assert_eq!(h.errors, [ServerError::CrossProtocol]);
        assert!(h.closed);
    }
}

#[test]
fn shutdown_during_the_handshake_says_nothing() {
    let mut h = H::new(required(), TestStore::new());
    h.take();
    h.feed(b"a STARTTLS\r\n", Chunking::Whole);
    h.take();
    h.s.shutdown();
    h.drain();
    assert_eq!(h.take(), "", "no plaintext after the cut");
    assert!(h.closed && h.errors.is_empty());
    assert_eq!(h.events, ["closed false"]);
}

#[test]
fn end_of_stream_and_logout_close_once() {
    let mut h = H::logged_in(TestStore::new());
    h.s.handle_eof(h.now);
    h.drain();
    h.s.handle_eof(h.now);
    h.drain();
    assert_eq!(
        h.events.iter().filter(|e| e.starts_with("closed")).count(),
        1
    );
    assert_eq!(h.events.last().unwrap(), "closed false");
    let mut h = H::logged_in(TestStore::new());
    h.send("z LOGOUT\r\n");
    assert_eq!(h.events.last().unwrap(), "closed true");
    assert!(h.s.take_store().is_some(), "the store is handed back");
}
