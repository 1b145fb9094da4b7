//! The IMAP client machine fed scripted server responses in every chunking (SECURITY.md "How
//! to test a case"): a full session, then the client-side SECURITY.md classes.

use std::time::Duration;

mod client_common;

use client_common::*;
use mailsec_imap::client::{AuthMethod, ClientEvent, CopyUid, Unsolicited};
use mailsec_imap::client::{ClientConfig, ClientError, UsageError};
use mailsec_imap::types::{
    Capability, Code, Flag, FlagPerm, MsgAtt, SearchKey, SeqNumber, SeqRange, SequenceSet,
    SimpleCode, StatusItem, StatusKind,
};
use mailsec_tls::sasl::{InsecureAuth, Mechanism};
use mailsec_tls::{ClientTls, Machine};

// ----- a full session -----

fn full_session(cut: Cut) {
    let mut run = Run::new(config(ClientTls::StartTlsRequired), cut);
    let now = run.now;
    // Intents queued before login are sent once logged in.
    let list = run.client.list(now, "", "*").unwrap();
    let select = run.client.select(now, "INBOX").unwrap();
    let first = run.client.fetch_headers(now, uids(1, None)).unwrap();
    let headers = run
        .client
        .fetch_headers(
            now,
            SequenceSet::new(vec![SeqRange::Range(uid(1), SeqNumber::Largest)]).unwrap(),
        )
        .unwrap();
    let message = run.client.fetch_message(now, 2).unwrap();
    let seen = run.client.mark_seen(now, uids(2, None)).unwrap();
    let moved = run
        .client
        .move_messages(now, uids(2, None), "Archive")
        .unwrap();
    let body = b"Subject: sent\r\n\r\nhello\r\n";
    let append = run
        .client
        .append(now, "Sent", &[Flag::Seen], &body[..])
        .unwrap();
    let search = run.client.search(now, vec![SearchKey::Unseen]).unwrap();
    let status = run
        .client
        .status(now, "Sent", &[StatusItem::Messages, StatusItem::UidNext])
        .unwrap();
    let idle = run.client.idle_start(now).unwrap();
    run.drain();
    run.expect(b"");

    login_over_starttls(
        &mut run,
        "IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=SCRAM-SHA-256-PLUS LITERAL+ IDLE",
    );
    run.expect(format!("A0003 AUTHENTICATE PLAIN {PLAIN_IR}\r\n").as_bytes());
    run.server(
        b"A0003 OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE MOVE UIDPLUS SPECIAL-USE ESEARCH] hi\r\n",
    );
    let events = run.take_events();
    assert_eq!(events[0], ClientEvent::Secured);
    let ClientEvent::Ready {
        capabilities,
        secure: true,
        auth: AuthMethod::Sasl(Mechanism::Plain),
    } = &events[1]
    else {
        panic!("{events:?}")
    };
    assert!(capabilities.contains(&Capability::Move));
    assert!(!capabilities.contains(&Capability::LoginDisabled));

    // LIST with RETURN (SPECIAL-USE); SELECT is sent alone, after it.
    run.expect(b"A0004 LIST \"\" * RETURN (SPECIAL-USE)\r\n");
    run.server(
        b"* LIST (\\HasNoChildren) \"/\" INBOX\r\n* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\nA0004 OK done\r\n",
    );
    let events = run.take_events();
    let [ClientEvent::Listed { id, folders }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(*id, list);
    assert_eq!(folders.len(), 2);
    assert_eq!(folders[1].mailbox.to_utf8().unwrap(), "Sent");

    run.expect(b"A0005 SELECT INBOX\r\n");
    run.server(
        b"* 2 EXISTS\r\n* FLAGS (\\Seen \\Deleted)\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 3] ok\r\n* OK [PERMANENTFLAGS (\\Seen \\*)] ok\r\nA0005 OK [READ-WRITE] selected\r\n",
    );
    let events = run.take_events();
    let [ClientEvent::Selected { id, info }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(*id, select);
    assert_eq!(info.exists, 2);
    assert_eq!(info.uid_validity, Some(nz(42)));
    assert_eq!(info.uid_next, Some(nz(3)));
    assert_eq!(info.flags, vec![Flag::Seen, Flag::Deleted]);
    assert_eq!(
        info.permanent_flags,
        Some(vec![FlagPerm::Flag(Flag::Seen), FlagPerm::Wildcard])
    );
    assert!(!info.read_only);

    // Two FETCHes are never in flight together (one owner per untagged FETCH).
    run.expect(b"A0006 UID FETCH 1 (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])\r\n");
    run.server(b"* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 30 BODY[HEADER] {13}\r\nSubject: hi\r\n)\r\nA0006 OK done\r\n");
    let events = run.take_events();
    assert!(
        matches!(&events[..], [ClientEvent::Fetched { id: a, seq: 1, .. }, ClientEvent::Completed { id: b, .. }] if *a == first && *b == first),
        "{events:?}"
    );
    run.expect(b"A0007 UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])\r\n");
    run.server(
        b"* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 30 BODY[HEADER] {13}\r\nSubject: hi\r\n)\r\n\
          * 2 FETCH (UID 2 FLAGS () RFC822.SIZE 40 BODY[HEADER] {13}\r\nSubject: yo\r\n)\r\n\
          * 1 FETCH (FLAGS (\\Seen \\Flagged))\r\n\
          A0007 OK done\r\n",
    );
    let events = run.take_events();
    assert_eq!(events.len(), 4, "{events:?}");
    let ClientEvent::Fetched {
        id,
        seq: 2,
        attributes,
    } = &events[1]
    else {
        panic!("{events:?}")
    };
    assert_eq!(*id, headers);
    assert!(attributes.contains(&MsgAtt::Uid(nz(2))));
    assert!(attributes.contains(&MsgAtt::Rfc822Size(40)));
    // A FETCH without UID during a UID FETCH is a change notification.
    assert!(matches!(
        &events[2],
        ClientEvent::Unsolicited(Unsolicited::Fetch { seq: 1, .. })
    ));
    assert!(matches!(&events[3], ClientEvent::Completed { id, .. } if *id == headers));

    // The message as one buffer; the silent STORE is pipelined behind it.
    run.expect(b"A0008 UID FETCH 2 (UID FLAGS BODY.PEEK[])\r\nA0009 UID STORE 2 +FLAGS.SILENT (\\Seen)\r\n");
    let msg = b"Subject: yo\r\n\r\nbody {5}\r\n";
    let mut reply = format!("* 2 FETCH (UID 2 FLAGS () BODY[] {{{}}}\r\n", msg.len()).into_bytes();
    reply.extend_from_slice(msg);
    reply.extend_from_slice(b")\r\nA0008 OK done\r\nA0009 OK stored\r\n");
    run.server(&reply);
    let events = run.take_events();
    assert_eq!(
        events[0],
        ClientEvent::Message {
            id: message,
            seq: 2,
            uid: Some(2),
            flags: Some(vec![]),
            data: bytes::Bytes::from_static(msg),
        }
    );
    assert!(matches!(&events[1], ClientEvent::Completed { id, .. } if *id == message));
    assert!(
        matches!(&events[2], ClientEvent::Completed { id, command: "UID STORE", .. } if *id == seen)
    );

    // MOVE (offered) with COPYUID in an untagged OK before the expunge (RFC 6851 §4.3).
    run.expect(b"A0010 UID MOVE 2 Archive\r\n");
    run.server(b"* OK [COPYUID 7 2 10] moved\r\n* 2 EXPUNGE\r\nA0010 OK done\r\n");
    let events = run.take_events();
    assert_eq!(events[0], ClientEvent::Unsolicited(Unsolicited::Expunge(2)));
    assert_eq!(
        events[1],
        ClientEvent::Moved {
            id: moved,
            copy_uid: Some(CopyUid {
                uid_validity: nz(7),
                from: uids(2, None),
                to: uids(10, None)
            })
        }
    );

    // APPEND with LITERAL+ (no wait), SEARCH and STATUS pipelined behind it.
    let mut expected = format!("A0011 APPEND Sent (\\Seen) {{{}+}}\r\n", body.len()).into_bytes();
    expected.extend_from_slice(body);
    expected.extend_from_slice(
        b"\r\nA0012 UID SEARCH UNSEEN\r\nA0013 STATUS Sent (MESSAGES UIDNEXT)\r\n",
    );
    run.expect(&expected);
    run.server(
        b"A0011 OK [APPENDUID 9 5] appended\r\n* ESEARCH (TAG \"A0012\") UID ALL 1,3:4\r\n\
          * STATUS Sent (MESSAGES 5 UIDNEXT 6)\r\nA0012 OK done\r\nA0013 OK done\r\n",
    );
    let events = run.take_events();
    assert_eq!(
        events,
        vec![
            ClientEvent::Appended {
                id: append,
                uid_validity: Some(nz(9)),
                uids: Some(uids(5, None))
            },
            ClientEvent::Searched {
                id: search,
                uids: vec![1, 3, 4]
            },
            ClientEvent::Status {
                id: status,
                mailbox: mailsec_imap::types::Mailbox::from_utf8("Sent", false).unwrap(),
                items: vec![(StatusItem::Messages, 5), (StatusItem::UidNext, 6)]
            },
        ]
    );

    // IDLE: wait for `+`, keepalives ignored, updates unsolicited, renewed before 29 min.
    run.expect(b"A0014 IDLE\r\n");
    run.server(b"+ idling\r\n");
    assert_eq!(
        run.take_events(),
        vec![ClientEvent::IdleStarted { id: idle }]
    );
    run.server(b"* OK still here\r\n* 3 EXISTS\r\n");
    assert_eq!(
        run.take_events(),
        vec![ClientEvent::Unsolicited(Unsolicited::Exists(3))]
    );
    // Nothing is expected while idling: no response deadline, only the refresh.
    let refresh = run.client.poll_timeout().unwrap();
    assert_eq!(
        refresh,
        run.now + mailsec_imap::client::DEFAULT_IDLE_REFRESH
    );
    run.advance(Duration::from_secs(27 * 60));
    run.expect(b"");
    run.advance(Duration::from_secs(60));
    run.expect(b"DONE\r\n");
    run.server(b"A0014 OK idle done\r\n");
    run.expect(b"A0015 IDLE\r\n");
    run.server(b"+ idling\r\n");
    assert!(run.take_events().is_empty(), "the renewal is silent");
    run.client.idle_stop(run.now).unwrap();
    run.drain();
    run.expect(b"DONE\r\n");
    run.server(b"A0015 OK idle done\r\n");
    assert_eq!(run.take_events(), vec![ClientEvent::IdleEnded { id: idle }]);

    run.client.logout(run.now).unwrap();
    run.drain();
    run.expect(b"A0016 LOGOUT\r\n");
    run.server(b"* BYE logging out\r\nA0016 OK done\r\n");
    assert_eq!(run.take_events(), vec![ClientEvent::Closed]);
    assert!(run.closed);
    run.no_errors();
    // Nothing sensitive crossed in clear.
    assert_eq!(show(&run.clear), "A0001 STARTTLS\r\n");
}

#[test]
fn full_session_in_every_chunking() {
    for c in CUTS {
        full_session(c);
    }
}

#[test]
fn append_with_synchronizing_literal_waits_for_continuation() {
    for c in CUTS {
        let mut run = logged_in(c, "IMAP4rev1 UIDPLUS");
        let body = b"Subject: x\r\n\r\nhi\r\n";
        let append = run
            .client
            .append(run.now, "Drafts", &[], &body[..])
            .unwrap();
        let noop = run.client.noop(run.now).unwrap();
        run.drain();
        // The octets wait for `+`, and nothing is sent behind the announcement.
        run.expect(format!("A0004 APPEND Drafts {{{}}}\r\n", body.len()).as_bytes());
        run.server(b"+ Ready for literal data\r\n");
        let mut rest = body.to_vec();
        rest.extend_from_slice(b"\r\nA0005 NOOP\r\n");
        run.expect(&rest);
        run.server(b"A0004 OK [APPENDUID 3 17] done\r\nA0005 OK done\r\n");
        let events = run.take_events();
        assert_eq!(
            events[0],
            ClientEvent::Appended {
                id: append,
                uid_validity: Some(nz(3)),
                uids: Some(uids(17, None))
            }
        );
        assert!(
            matches!(&events[1], ClientEvent::Completed { id, command: "NOOP", .. } if *id == noop)
        );

        // A refusal instead of `+`: the command is over, the octets are never sent.
        let refused = run.client.append(run.now, "Full", &[], &body[..]).unwrap();
        let noop = run.client.noop(run.now).unwrap();
        run.drain();
        run.expect(format!("A0006 APPEND Full {{{}}}\r\n", body.len()).as_bytes());
        run.server(b"A0006 NO [OVERQUOTA] mailbox full\r\n");
        run.expect(b"A0007 NOOP\r\n");
        let events = run.take_events();
        let [ClientEvent::Failed { id, error }] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(*id, refused);
        assert_eq!(error.command, "APPEND");
        assert_eq!(error.status, StatusKind::No);
        assert_eq!(error.code, Some(Code::Simple(SimpleCode::OverQuota)));
        assert_eq!(error.text, "mailbox full");
        run.server(b"A0007 OK done\r\n");
        assert!(
            matches!(&run.take_events()[..], [ClientEvent::Completed { id, .. }] if *id == noop)
        );
        run.no_errors();
    }
}

#[test]
fn literal_minus_used_for_small_literals_only() {
    let mut run = logged_in(Cut::Whole, "IMAP4rev2");
    let small = vec![b'a'; 100];
    run.client
        .append(run.now, "Drafts", &[], small.clone())
        .unwrap();
    run.drain();
    let mut expected = b"A0004 APPEND Drafts {100+}\r\n".to_vec();
    expected.extend_from_slice(&small);
    expected.extend_from_slice(b"\r\n");
    run.expect(&expected);
    run.server(b"A0004 OK done\r\n");
    let big = vec![b'b'; 5000];
    run.client.append(run.now, "Drafts", &[], big).unwrap();
    run.drain();
    run.expect(b"A0005 APPEND Drafts {5000}\r\n");
    run.no_errors();
}

#[test]
fn login_with_literal_password_and_authenticate_without_sasl_ir() {
    for c in CUTS {
        // LOGIN: the password with a space and 8-bit octets goes as a synchronizing literal.
        let config = ClientConfig::builder(mailsec_tls::sasl::Credentials::password(
            "alice",
            "p\u{e4}ss word",
        ))
        .tls(ClientTls::StartTlsRequired)
        .build();
        let mut run = Run::new(config, c);
        login_over_starttls(&mut run, "IMAP4rev1");
        run.expect(b"A0003 LOGIN alice {10}\r\n");
        run.server(b"+ go ahead\r\n");
        run.expect("p\u{e4}ss word\r\n".as_bytes());
        run.server(b"A0003 OK logged in\r\n");
        // No capabilities in the OK: asked again.
        run.expect(b"A0004 CAPABILITY\r\n");
        run.server(b"* CAPABILITY IMAP4rev1 IDLE\r\nA0004 OK done\r\n");
        let events = run.take_events();
        assert!(
            matches!(
                events.last(),
                Some(ClientEvent::Ready { auth: AuthMethod::Login, secure: true, capabilities }) if capabilities == &[Capability::Imap4rev1, Capability::Idle]
            ),
            "{events:?}"
        );

        // AUTHENTICATE without SASL-IR: the empty challenge asks for the response.
        let mut run = Run::new(config_plain(), c);
        login_over_starttls(&mut run, "IMAP4rev1 AUTH=PLAIN");
        run.expect(b"A0003 AUTHENTICATE PLAIN\r\n");
        run.server(b"+ \r\n");
        run.expect(format!("{PLAIN_IR}\r\n").as_bytes());
        run.server(b"A0003 OK [CAPABILITY IMAP4rev1] ok\r\n");
        assert!(run.client.is_ready());
        run.no_errors();
    }
}

fn config_plain() -> ClientConfig {
    config(ClientTls::StartTlsRequired)
}

#[test]
fn authentication_failure_ends_the_session() {
    let mut run = Run::new(config_plain(), Cut::Whole);
    login_over_starttls(&mut run, "IMAP4rev1 SASL-IR AUTH=PLAIN");
    run.wire.clear();
    run.server(b"A0003 NO [AUTHENTICATIONFAILED] bad \x1b[31mpassword\r\n");
    let [
        ClientError::AuthFailed {
            method,
            status,
            code,
            text,
        },
    ] = &run.errors[..]
    else {
        panic!("{:?}", run.errors)
    };
    assert_eq!(*method, AuthMethod::Sasl(Mechanism::Plain));
    assert_eq!(*status, StatusKind::No);
    assert_eq!(*code, Some(Code::Simple(SimpleCode::AuthenticationFailed)));
    // Control characters removed.
    assert_eq!(text, "bad [31mpassword");
    assert!(run.closed);
}

#[test]
fn move_falls_back_to_copy_store_uid_expunge() {
    for c in CUTS {
        let mut run = logged_in(c, "IMAP4rev1 UIDPLUS");
        let moved = run
            .client
            .move_messages(run.now, uids(4, Some(6)), "Trash")
            .unwrap();
        run.drain();
        run.expect(b"A0004 UID COPY 4:6 Trash\r\n");
        run.server(b"A0004 OK [COPYUID 8 4:6 20:22] copied\r\n");
        run.expect(b"A0005 UID STORE 4:6 +FLAGS.SILENT (\\Deleted)\r\n");
        run.server(b"A0005 OK stored\r\n");
        run.expect(b"A0006 UID EXPUNGE 4:6\r\n");
        run.server(b"* 4 EXPUNGE\r\n* 4 EXPUNGE\r\n* 4 EXPUNGE\r\nA0006 OK expunged\r\n");
        let events = run.take_events();
        assert_eq!(events.len(), 4, "{events:?}");
        assert_eq!(
            events[3],
            ClientEvent::Moved {
                id: moved,
                copy_uid: Some(CopyUid {
                    uid_validity: nz(8),
                    from: uids(4, Some(6)),
                    to: uids(20, Some(22)),
                })
            }
        );
        run.no_errors();
    }
    // Neither MOVE nor UIDPLUS: nothing is sent (a plain EXPUNGE would remove other messages).
    let mut run = logged_in(Cut::Whole, "IMAP4rev1");
    let moved = run
        .client
        .move_messages(run.now, uids(4, None), "Trash")
        .unwrap();
    run.drain();
    run.expect(b"");
    assert!(matches!(&run.take_events()[..], [ClientEvent::Failed { id, .. }] if *id == moved));
}

#[test]
fn copy_examine_create_and_store_with_fetch_back() {
    let mut run = logged_in(Cut::Every(3), "IMAP4rev1 UIDPLUS");
    let ex = run.client.examine(run.now, "Entwürfe").unwrap();
    run.drain();
    run.expect(b"A0004 EXAMINE Entw&APw-rfe\r\n");
    run.server(b"* 0 EXISTS\r\nA0004 OK [READ-ONLY] done\r\n");
    let events = run.take_events();
    assert!(
        matches!(&events[..], [ClientEvent::Selected { id, info }] if *id == ex && info.read_only && info.exists == 0)
    );
    let copy = run.client.copy(run.now, uids(1, None), "Archive").unwrap();
    let create = run.client.create(run.now, "New").unwrap();
    let store = run
        .client
        .store(
            run.now,
            SequenceSet::single(1).unwrap(),
            false,
            mailsec_imap::types::StoreAction {
                kind: mailsec_imap::types::StoreKind::Add,
                silent: false,
                flags: vec![Flag::Flagged],
                parenthesized: true,
            },
        )
        .unwrap();
    run.drain();
    run.expect(
        b"A0005 UID COPY 1 Archive\r\nA0006 CREATE New\r\nA0007 STORE 1 +FLAGS (\\Flagged)\r\n",
    );
    run.server(b"A0005 OK [COPYUID 3 1 9] ok\r\nA0006 NO [ALREADYEXISTS] exists\r\n* 1 FETCH (FLAGS (\\Flagged))\r\nA0007 OK ok\r\n");
    let events = run.take_events();
    assert_eq!(
        events[0],
        ClientEvent::Copied {
            id: copy,
            copy_uid: Some(CopyUid {
                uid_validity: nz(3),
                from: uids(1, None),
                to: uids(9, None)
            })
        }
    );
    assert!(
        matches!(&events[1], ClientEvent::Failed { id, error } if *id == create && error.code == Some(Code::Simple(SimpleCode::AlreadyExists)))
    );
    assert_eq!(
        events[2],
        ClientEvent::Fetched {
            id: store,
            seq: 1,
            attributes: vec![MsgAtt::Flags([Flag::Flagged].into())]
        }
    );
    assert!(matches!(&events[3], ClientEvent::Completed { id, .. } if *id == store));
    run.no_errors();
}

#[test]
fn unsolicited_updates_and_alerts() {
    let mut run = logged_in(Cut::ByteByByte, "IMAP4rev1");
    run.server(b"* 5 EXISTS\r\n* 2 EXPUNGE\r\n* 3 FETCH (FLAGS (\\Seen))\r\n* OK [ALERT] maintenance at 5\x07\r\n* NO disk almost full\r\n");
    let events = run.take_events();
    assert_eq!(events[0], ClientEvent::Unsolicited(Unsolicited::Exists(5)));
    assert_eq!(events[1], ClientEvent::Unsolicited(Unsolicited::Expunge(2)));
    assert!(matches!(
        &events[2],
        ClientEvent::Unsolicited(Unsolicited::Fetch { seq: 3, .. })
    ));
    assert_eq!(
        events[3],
        ClientEvent::Unsolicited(Unsolicited::Alert("maintenance at 5".into()))
    );
    assert!(matches!(
        &events[4],
        ClientEvent::Unsolicited(Unsolicited::Status {
            status: StatusKind::No,
            ..
        })
    ));
    // An unexpected BYE ends the session.
    run.server(b"* BYE shutting down\r\n");
    assert!(matches!(&run.errors[..], [ClientError::Bye { text, .. }] if text == "shutting down"));
}

#[test]
fn search_results_from_search_and_bounded_esearch() {
    let mut run = logged_in(Cut::Whole, "IMAP4rev1");
    let s = run.client.search(run.now, vec![SearchKey::Seen]).unwrap();
    run.drain();
    run.expect(b"A0004 UID SEARCH SEEN\r\n");
    run.server(b"* SEARCH 2 7 9\r\nA0004 OK done\r\n");
    assert_eq!(
        run.take_events(),
        vec![ClientEvent::Searched {
            id: s,
            uids: vec![2, 7, 9]
        }]
    );
    // A huge ESEARCH set is refused before it is expanded.
    run.send(|c, now| c.search(now, vec![SearchKey::All]));
    run.server(b"* ESEARCH (TAG \"A0005\") UID ALL 1:4294967295\r\n");
    assert_ended!(
        run,
        ClientError::TooMany {
            what: "search results",
            ..
        }
    );
}

#[test]
fn dead_link_noop_and_done_time_out() {
    let mut run = logged_in(Cut::Whole, "IMAP4rev1 IDLE");
    run.send(|c, now| c.noop(now));
    run.expect(b"A0004 NOOP\r\n");
    run.advance(Duration::from_secs(119));
    assert!(run.errors.is_empty());
    run.advance(Duration::from_secs(2));
    assert_ended!(run, ClientError::Timeout { .. });

    let mut run = logged_in(Cut::Whole, "IMAP4rev1 IDLE");
    run.send(|c, now| c.idle_start(now));
    run.server(b"+ idling\r\n");
    // Idle for an hour with keepalives: no timeout while nothing is expected... but the
    // refresh comes at 28 minutes, and its DONE must be answered.
    run.advance(Duration::from_secs(28 * 60));
    run.expect(b"A0004 IDLE\r\nDONE\r\n");
    run.advance(Duration::from_secs(121));
    assert_ended!(run, ClientError::Timeout { .. });
}

#[test]
fn idle_stop_before_continuation_and_usage_errors() {
    let mut run = logged_in(Cut::Whole, "IMAP4rev1 IDLE");
    assert_eq!(run.client.idle_stop(run.now), Err(UsageError::NotIdling));
    let idle = run.client.idle_start(run.now).unwrap();
    run.drain();
    run.expect(b"A0004 IDLE\r\n");
    run.client.idle_stop(run.now).unwrap();
    run.drain();
    // DONE only after the `+`.
    run.expect(b"");
    run.server(b"+ idling\r\n");
    run.expect(b"DONE\r\n");
    run.server(b"A0004 OK done\r\n");
    assert_eq!(
        run.take_events(),
        vec![
            ClientEvent::IdleStarted { id: idle },
            ClientEvent::IdleEnded { id: idle }
        ]
    );
    run.client.logout(run.now).unwrap();
    assert_eq!(run.client.noop(run.now), Err(UsageError::LoggingOut));
    run.drain();
    run.expect(b"A0005 LOGOUT\r\n");
    // The server closes after BYE without a tagged OK: still an orderly end.
    run.server(b"* BYE\r\n");
    run.client.handle_eof(run.now);
    run.drain();
    assert_eq!(run.take_events(), vec![ClientEvent::Closed]);
    run.no_errors();
    assert_eq!(run.client.noop(run.now), Err(UsageError::Closed));

    let config = ClientConfig::builder(creds()).max_queued(2).build();
    let mut run = Run::new(config, Cut::Whole);
    run.client.noop(run.now).unwrap();
    run.client.noop(run.now).unwrap();
    assert_eq!(
        run.client.noop(run.now),
        Err(UsageError::QueueFull { limit: 2 })
    );
    assert!(matches!(
        run.client.append(run.now, "x", &[], &b"a\0b"[..]),
        Err(UsageError::Invalid(_))
    ));
}

#[test]
fn huge_literal_is_refused_before_it_is_kept() {
    let config = ClientConfig::builder(creds())
        .tls(ClientTls::StartTlsRequired)
        .max_literal(1000)
        .build();
    let mut run = Run::new(config, Cut::Whole);
    login_over_starttls(&mut run, "IMAP4rev1 SASL-IR AUTH=PLAIN");
    run.server(b"A0003 OK [CAPABILITY IMAP4rev1] hi\r\n");
    run.send(|c, now| c.fetch_message(now, 1));
    run.server(b"* 1 FETCH (UID 1 BODY[] {4294967295}\r\nabc");
    assert_ended!(run, ClientError::Framing(_));
}

#[test]
fn tagged_response_for_unknown_tag_is_an_error() {
    let mut run = logged_in(Cut::Whole, "IMAP4rev1");
    run.server(b"A0999 OK what\r\n");
    assert!(matches!(&run.errors[..], [ClientError::Unexpected { .. }]));
}

#[test]
fn opportunistic_and_plaintext_sessions_with_explicit_insecure_auth() {
    // InsecurePlaintext + AllowPlaintextMechanismsWithoutTls: LOGIN in clear, as asked.
    let config = ClientConfig::builder(creds())
        .tls(ClientTls::InsecurePlaintext)
        .insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls)
        .build();
    let mut run = Run::new(config, Cut::Whole);
    run.server(b"* OK [CAPABILITY IMAP4rev1] hi\r\n");
    run.expect(b"A0001 LOGIN alice s3cret\r\n");
    run.server(b"A0001 OK [CAPABILITY IMAP4rev1 IDLE] ok\r\n");
    let events = run.take_events();
    assert!(matches!(
        &events[..],
        [ClientEvent::Ready {
            secure: false,
            auth: AuthMethod::Login,
            ..
        }]
    ));
}
