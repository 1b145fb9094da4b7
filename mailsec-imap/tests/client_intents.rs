//! The client machine's streamed message fetch, ENABLE, ID, NAMESPACE, UNSELECT, CLOSE and the
//! NOOP keepalive, fed scripted server responses in every chunking (SECURITY.md "How to test a
//! case").

use std::time::Duration;

mod client_common;

use bytes::Bytes;
use client_common::*;
use mailsec_imap::client::{ClientConfig, ClientError, ClientEvent, RequestId, UsageError};
use mailsec_imap::types::{Capability, Code, Flag, SimpleCode, StatusKind};
use mailsec_tls::{ClientTls, Machine};

fn cfg() -> mailsec_imap::client::ClientConfigBuilder {
    ClientConfig::builder(creds()).tls(ClientTls::StartTlsRequired)
}

/// The octets of a streamed message, checking the events' order and the chunk bound.
fn collect_stream(events: &[ClientEvent], id: RequestId, bound: usize) -> (Vec<u8>, usize) {
    let mut data = Vec::new();
    let mut chunks = 0;
    let mut started = false;
    let mut ended = false;
    for e in events {
        match e {
            ClientEvent::MessageStart { id: i, .. } if *i == id => {
                assert!(!started, "{events:?}");
                started = true;
            }
            ClientEvent::MessageData { id: i, data: d } if *i == id => {
                assert!(started && !ended);
                assert!(!d.is_empty() && d.len() <= bound, "chunk of {}", d.len());
                data.extend_from_slice(d);
                chunks += 1;
            }
            ClientEvent::MessageEnd { id: i, .. } if *i == id => {
                assert!(started && !ended);
                ended = true;
            }
            _ => {}
        }
    }
    assert!(started && ended, "{events:?}");
    (data, chunks)
}

/// The server answers streamed fetch `id` with `wire`, without error: the streamed octets,
/// the number of chunks and every event.
fn answer_stream(
    run: &mut Run,
    id: RequestId,
    wire: &[u8],
    bound: usize,
) -> (Vec<u8>, usize, Vec<ClientEvent>) {
    run.server(wire);
    run.no_errors();
    let events = run.take_events();
    let (data, chunks) = collect_stream(&events, id, bound);
    (data, chunks, events)
}

fn body(len: usize) -> Vec<u8> {
    let mut m = b"Subject: streamed\r\n\r\n".to_vec();
    let mut i = 0u32;
    while m.len() < len {
        m.extend_from_slice(format!("line {i}\r\n").as_bytes());
        i += 1;
    }
    m.truncate(len);
    m
}

#[test]
fn streamed_message_with_flags_after_the_literal() {
    for c in CUTS {
        // max_literal far below the message: a streamed body is never framed whole.
        let config = cfg().max_literal(100).stream_chunk(64).build();
        let mut run = logged_in_with(config, c, "IMAP4rev1");
        let id = run.send(|c, now| c.fetch_message_streamed(now, 5, false));
        run.expect(b"A0004 UID FETCH 5 (UID FLAGS BODY.PEEK[])\r\n");
        let msg = body(5000);
        let mut wire = format!("* 3 FETCH (UID 5 BODY[] {{{}}}\r\n", msg.len()).into_bytes();
        wire.extend_from_slice(&msg);
        wire.extend_from_slice(b" FLAGS (\\Seen $Junk))\r\nA0004 OK done\r\n");
        let (data, chunks, events) = answer_stream(&mut run, id, &wire, 64);
        assert_eq!(data, msg, "cut {c:?}");
        assert!(chunks >= 5000 / 64, "{chunks}");
        assert!(
            matches!(
                &events[0],
                ClientEvent::MessageStart {
                    seq: 3,
                    uid: Some(5),
                    size: 5000,
                    ..
                }
            ),
            "{:?}",
            events[0]
        );
        let n = events.len();
        let ClientEvent::MessageEnd {
            seq: 3,
            uid: Some(5),
            flags: Some(flags),
            size: 5000,
            ..
        } = &events[n - 2]
        else {
            panic!("{:?}", &events[n - 2..])
        };
        assert!(flags.contains(&Flag::Seen), "{flags:?}");
        assert_eq!(flags.len(), 2);
        assert!(
            matches!(&events[n - 1], ClientEvent::Completed { id: i, .. } if *i == id),
            "{:?}",
            events[n - 1]
        );
        // The session goes on: an ordinary FETCH literal is framed whole again (and bounded
        // by max_literal).
        run.send(|c, now| c.fetch_message(now, 6));
        run.expect(b"A0005 UID FETCH 6 (UID FLAGS BODY.PEEK[])\r\n");
        run.server(b"* 4 FETCH (UID 6 BODY[] {5}\r\nhello FLAGS ())\r\nA0005 OK done\r\n");
        run.no_errors();
        let events = run.take_events();
        assert!(
            matches!(&events[0], ClientEvent::Message { uid: Some(6), data, .. } if data == &Bytes::from_static(b"hello")),
            "{events:?}"
        );
        run.send(|c, now| c.fetch_message(now, 7));
        run.server(b"* 5 FETCH (UID 7 BODY[] {500}\r\n");
        assert_ended!(run, ClientError::Framing(_));
    }
}

#[test]
fn streamed_binary_uid_after_body_and_inline_bodies() {
    for c in CUTS {
        let mut run = logged_in_with(cfg().stream_chunk(10).build(), c, "IMAP4rev2 BINARY");
        let id = run.send(|c, now| c.fetch_message_streamed(now, 9, true));
        run.expect(b"A0004 UID FETCH 9 (UID FLAGS BINARY.PEEK[])\r\n");
        // A binary literal with NUL octets; UID and FLAGS after it; a `{` in a quoted string
        // before it announces nothing.
        let wire =
            b"* 1 FETCH (FLAGS (\\Seen) BINARY[] ~{12}\r\nab\0cd\r\n\r\nefg UID 9)\r\nA0004 OK done\r\n";
        let (data, _, events) = answer_stream(&mut run, id, wire, 10);
        assert_eq!(data, b"ab\0cd\r\n\r\nefg");
        assert!(
            matches!(
                &events[0],
                ClientEvent::MessageStart {
                    seq: 1,
                    uid: None,
                    size: 12,
                    ..
                }
            ),
            "{events:?}"
        );
        assert!(
            events.iter().any(|e| matches!(e, ClientEvent::MessageEnd { uid: Some(9), flags: Some(f), .. } if f == &vec![Flag::Seen])),
            "{events:?}"
        );

        // A body sent as a quoted string gives the same events; NIL gives none.
        let id = run.send(|c, now| c.fetch_message_streamed(now, 9, false));
        run.expect(b"A0005 UID FETCH 9 (UID FLAGS BODY.PEEK[])\r\n");
        let wire = b"* 1 FETCH (UID 9 BODY[] \"hi {3}\")\r\nA0005 OK done\r\n";
        let (data, _, _) = answer_stream(&mut run, id, wire, 10);
        assert_eq!(data, b"hi {3}");
        let id = run.send(|c, now| c.fetch_message_streamed(now, 9, false));
        run.server(b"* 1 FETCH (UID 9 BODY[] NIL)\r\nA0006 OK done\r\n");
        run.no_errors();
        let events = run.take_events();
        assert!(
            matches!(&events[..], [ClientEvent::Fetched { id: a, .. }, ClientEvent::Completed { id: b, .. }] if *a == id && *b == id),
            "{events:?}"
        );
        // Header literals of a streamed fetch are not streamed (only BODY[] / BINARY[]).
        let id = run.send(|c, now| c.fetch_message_streamed(now, 9, false));
        let wire =
            b"* 1 FETCH (UID 9 BODY[HEADER] {4}\r\nab\r\n BODY[] {3}\r\nxyz)\r\nA0007 OK done\r\n";
        let (data, _, _) = answer_stream(&mut run, id, wire, 10);
        assert_eq!(data, b"xyz");
    }
}

/// A session with `config` that asks for a streamed message and gets `server` in answer.
fn streamed_fetch_answered(config: ClientConfig, server: &[u8]) -> Run {
    let mut run = logged_in_with(config, Cut::Whole, "IMAP4rev1");
    run.send(|c, now| c.fetch_message_streamed(now, 1, false));
    run.server(server);
    run
}

#[test]
fn streamed_message_limits_and_lies() {
    // Larger than max_streamed_message: the session ends before any octet is handed out.
    let run = streamed_fetch_answered(
        cfg().max_streamed_message(1000).build(),
        b"* 1 FETCH (UID 1 BODY[] {1001}\r\nabc",
    );
    assert_ended!(run, ClientError::Framing(_));
    assert!(
        !run.events
            .iter()
            .any(|e| matches!(e, ClientEvent::MessageData { .. }))
    );

    // The rest of the response must still parse.
    let run = streamed_fetch_answered(
        cfg().build(),
        b"* 1 FETCH (UID 1 BODY[] {3}\r\nabc FLAGS (\\Seen)\r\n",
    );
    assert_ended!(run, ClientError::Malformed { .. });

    // Two bodies in one response: the session ends.
    let run = streamed_fetch_answered(
        cfg().build(),
        b"* 1 FETCH (UID 1 BODY[] {3}\r\nabc BINARY[] ~{3}\r\nxyz)\r\n",
    );
    assert_ended!(run, ClientError::Unexpected { .. });

    // No streaming without a streamed fetch in flight: an unsolicited body is bounded by
    // max_literal.
    let mut run = logged_in_with(cfg().max_literal(10).build(), Cut::Whole, "IMAP4rev1");
    run.server(b"* 1 FETCH (UID 1 BODY[] {11}\r\n");
    assert_ended!(run, ClientError::Framing(_));
}

#[test]
fn enable_utf8_switches_mailbox_names() {
    for c in CUTS {
        let mut run = logged_in(c, "IMAP4rev1 ENABLE UTF8=ACCEPT CONDSTORE");
        // Before ENABLE: modified UTF-7 (RFC 3501 §5.1.3).
        run.send(|c, now| c.create(now, "Entwürfe"));
        run.expect(b"A0004 CREATE Entw&APw-rfe\r\n");
        run.server(b"A0004 OK created\r\n");
        let id = run.send(|c, now| c.enable(now, &[Capability::Utf8Accept, Capability::CondStore]));
        // Queued before ENABLE is answered: written after it, in UTF-8.
        run.send(|c, now| c.create(now, "Entwürfe & Co"));
        // ENABLE is sent alone.
        run.expect(b"A0005 ENABLE UTF8=ACCEPT CONDSTORE\r\n");
        run.server(b"* ENABLED UTF8=ACCEPT\r\nA0005 OK enabled\r\n");
        run.no_errors();
        let events = run.take_events();
        assert!(
            events.iter().any(|e| matches!(e, ClientEvent::Enabled { id: i, capabilities } if *i == id && capabilities == &vec![Capability::Utf8Accept])),
            "{events:?}"
        );
        assert_eq!(run.client.enabled(), &[Capability::Utf8Accept]);
        assert!(run.client.utf8_names());
        // 8-bit: a literal (no LITERAL+ here, so it waits for `+`), the name as UTF-8.
        run.expect(b"A0006 CREATE {14}\r\n");
        run.server(b"+ go\r\n");
        run.expect("Entwürfe & Co\r\n".as_bytes());
        run.server(b"A0006 OK done\r\n* LIST () \"/\" \"Entw\xc3\xbcrfe & Co\"\r\n");
        let events = run.take_events();
        let Some(ClientEvent::Unsolicited(mailsec_imap::client::Unsolicited::Data(
            mailsec_imap::types::Data::List(entry),
        ))) = events.last()
        else {
            panic!("{events:?}")
        };
        assert_eq!(
            run.client.folder_name(&entry.mailbox).unwrap(),
            "Entwürfe & Co"
        );

        // RFC 5161 §3.1: not after SELECT.
        run.client.select(run.now, "INBOX").unwrap();
        assert!(matches!(
            run.client.enable(run.now, &[Capability::Imap4rev2]),
            Err(UsageError::NotAllowed(_))
        ));
    }
}

#[test]
fn enable_without_the_capability_sends_nothing() {
    let mut run = logged_in(Cut::Whole, "IMAP4rev1");
    let id = run.send(|c, now| c.enable(now, &[Capability::Utf8Accept]));
    run.expect(b"");
    let events = run.take_events();
    assert!(
        matches!(&events[..], [ClientEvent::Failed { id: i, error }] if *i == id && error.code == Some(Code::Simple(SimpleCode::Cannot))),
        "{events:?}"
    );
    assert!(!run.client.utf8_names());
    // What was not asked for is not recorded (RFC 5161 §3.2).
    let mut run = logged_in(Cut::Whole, "IMAP4rev1 ENABLE");
    let id = run.send(|c, now| c.enable(now, &[Capability::CondStore]));
    run.expect(b"A0004 ENABLE CONDSTORE\r\n");
    run.server(b"* ENABLED UTF8=ACCEPT CONDSTORE\r\nA0004 OK\r\n");
    assert_eq!(
        run.take_events(),
        vec![ClientEvent::Enabled {
            id,
            capabilities: vec![Capability::CondStore]
        }]
    );
    assert!(!run.client.utf8_names());
    assert_eq!(run.client.enabled(), &[Capability::CondStore]);
    // IMAP4rev2 enabled: UTF-8 names too.
    let mut run = logged_in(Cut::ByteByByte, "IMAP4rev1 IMAP4rev2");
    run.send(|c, now| c.enable(now, &[Capability::Imap4rev2]));
    run.expect(b"A0004 ENABLE IMAP4rev2\r\n");
    run.server(b"* ENABLED IMAP4rev2\r\nA0004 OK\r\n");
    assert!(run.client.utf8_names());
}

#[test]
fn id_exchange_and_rfc2971_limits() {
    for c in CUTS {
        let mut run = logged_in(c, "IMAP4rev1 ID");
        let id = run.send(|c, now| c.id(now, Some(&[("name", Some("mailsec")), ("os", None)])));
        run.expect(b"A0004 ID (\"name\" \"mailsec\" \"os\" NIL)\r\n");
        run.server(
            b"* ID (\"name\" \"Dovecot\x07\" \"support-url\" NIL)\r\nA0004 OK ID completed\r\n",
        );
        run.no_errors();
        let events = run.take_events();
        assert_eq!(
            events,
            vec![ClientEvent::IdInfo {
                id,
                fields: Some(vec![
                    ("name".to_owned(), Some("Dovecot".to_owned())),
                    ("support-url".to_owned(), None),
                ]),
            }]
        );
        let id = run.send(|c, now| c.id(now, None));
        run.expect(b"A0005 ID NIL\r\n");
        run.server(b"* ID NIL\r\nA0005 OK\r\n");
        assert_eq!(
            run.take_events(),
            vec![ClientEvent::IdInfo { id, fields: None }]
        );
    }
    // The client's own arguments.
    let mut run = logged_in(Cut::Whole, "IMAP4rev1 ID");
    let long = "x".repeat(31);
    assert!(matches!(
        run.client.id(run.now, Some(&[(&long, None)])),
        Err(UsageError::Invalid(_))
    ));
    let value = "v".repeat(1025);
    assert!(matches!(
        run.client.id(run.now, Some(&[("name", Some(&value))])),
        Err(UsageError::Invalid(_))
    ));
    let names: Vec<String> = (0..31).map(|i| format!("f{i}")).collect();
    let many: Vec<(&str, Option<&str>)> = names.iter().map(|n| (n.as_str(), None)).collect();
    assert!(matches!(
        run.client.id(run.now, Some(&many)),
        Err(UsageError::Invalid(_))
    ));
    assert!(matches!(
        run.client.id(run.now, Some(&[("a", None), ("A", None)])),
        Err(UsageError::Invalid(_))
    ));
    assert!(run.client.id(run.now, Some(&many[..30])).is_ok());

    // The server's answer.
    let field31 = format!("* ID (\"{long}\" NIL)\r\n");
    let value1025 = format!("* ID (\"name\" \"{value}\")\r\n");
    let mut pairs31 = String::from("* ID (");
    for i in 0..31 {
        pairs31.push_str(&format!("\"f{i}\" NIL "));
    }
    pairs31.push_str(")\r\n");
    let pairs31 = pairs31.replace(" )", ")");
    // The response parser enforces the size limits (a malformed response); the client
    // machine adds the duplicate-name rule.
    for (bad, by_parser) in [
        (field31, true),
        (value1025, true),
        (pairs31, true),
        ("* ID (\"a\" NIL \"A\" NIL)\r\n".to_owned(), false),
    ] {
        let mut run = logged_in(Cut::Whole, "IMAP4rev1 ID");
        run.send(|c, now| c.id(now, None));
        run.server(bad.as_bytes());
        if by_parser {
            assert!(
                matches!(&run.errors[..], [ClientError::Malformed { error, .. }]
                    if error.to_string().contains("RFC 2971")),
                "{bad}: {:?}",
                run.errors
            );
        } else {
            assert!(
                matches!(&run.errors[..], [ClientError::InvalidId(_)]),
                "{bad}: {:?}",
                run.errors
            );
        }
        assert!(run.closed);
    }
}

#[test]
fn namespace_response_is_parsed() {
    for c in CUTS {
        let mut run = logged_in(c, "IMAP4rev1 NAMESPACE");
        let id = run.send(|c, now| c.namespace(now));
        run.expect(b"A0004 NAMESPACE\r\n");
        run.server(
            b"* NAMESPACE ((\"\" \"/\")) NIL ((\"#shared/\" \"/\") (\"#public.\" \".\"))\r\nA0004 OK done\r\n",
        );
        run.no_errors();
        let events = run.take_events();
        let [
            ClientEvent::Namespaces {
                id: i,
                personal: Some(personal),
                other: None,
                shared: Some(shared),
            },
        ] = &events[..]
        else {
            panic!("{events:?}")
        };
        assert_eq!(*i, id);
        assert_eq!(personal.len(), 1);
        assert_eq!(personal[0].prefix.as_bytes(), b"");
        assert_eq!(personal[0].delimiter, Some(b'/'));
        assert_eq!(shared.len(), 2);
        assert_eq!(shared[1].prefix.as_bytes(), b"#public.");
        assert_eq!(shared[1].delimiter, Some(b'.'));
    }
}

#[test]
fn unselect_close_and_the_close_fallback() {
    for c in CUTS {
        let mut run = logged_in(c, "IMAP4rev1 UNSELECT");
        let id = run.client.unselect(run.now, false).unwrap();
        let close = run.send(|c, now| c.close(now));
        // Both are sent alone.
        run.expect(b"A0004 UNSELECT\r\n");
        run.server(b"A0004 OK done\r\n");
        run.expect(b"A0005 CLOSE\r\n");
        run.server(b"A0005 OK closed\r\n");
        let events = run.take_events();
        assert!(
            matches!(&events[..], [
                ClientEvent::Completed { id: a, command: "UNSELECT", .. },
                ClientEvent::Completed { id: b, command: "CLOSE", .. },
            ] if *a == id && *b == close),
            "{events:?}"
        );
    }
    // No UNSELECT: CLOSE only when allowed to expunge.
    let mut run = logged_in(Cut::Whole, "IMAP4rev1");
    let refused = run.client.unselect(run.now, false).unwrap();
    let closed = run.send(|c, now| c.unselect(now, true));
    run.expect(b"A0004 CLOSE\r\n");
    run.server(b"A0004 NO [CLOSED] not selected\r\n");
    let events = run.take_events();
    assert!(
        matches!(&events[..], [
            ClientEvent::Failed { id: a, error: ea },
            ClientEvent::Failed { id: b, error: eb },
        ] if *a == refused && ea.code == Some(Code::Simple(SimpleCode::Cannot))
            && *b == closed && eb.status == StatusKind::No && eb.command == "CLOSE"),
        "{events:?}"
    );
    // IMAP4rev2 includes UNSELECT.
    let mut run = logged_in(Cut::Whole, "IMAP4rev2");
    run.send(|c, now| c.unselect(now, true));
    run.expect(b"A0004 UNSELECT\r\n");
}

#[test]
fn keepalive_noop_when_quiet_and_dead_link() {
    for c in CUTS {
        let config = cfg().keepalive(Some(Duration::from_secs(300))).build();
        let mut run = logged_in_with(config, c, "IMAP4rev1 IDLE");
        let start = run.now;
        assert_eq!(
            run.client.poll_timeout(),
            Some(start + Duration::from_secs(300))
        );
        run.advance(Duration::from_secs(299));
        run.expect(b"");
        run.advance(Duration::from_secs(1));
        run.expect(b"A0004 NOOP\r\n");
        // Unsolicited data it brings is reported; the NOOP itself gives no event.
        run.server(b"* 4 EXISTS\r\nA0004 OK\r\n");
        run.no_errors();
        assert_eq!(
            run.take_events(),
            vec![ClientEvent::Unsolicited(
                mailsec_imap::client::Unsolicited::Exists(4)
            )]
        );
        // Activity restarts the interval: an intent at +200s, answered.
        run.advance(Duration::from_secs(200));
        run.send(|c, now| c.noop(now));
        run.expect(b"A0005 NOOP\r\n");
        run.server(b"A0005 OK\r\n");
        run.take_events();
        run.advance(Duration::from_secs(299));
        run.expect(b"");
        run.advance(Duration::from_secs(1));
        run.expect(b"A0006 NOOP\r\n");
        // An intent made while the keepalive is in flight waits for it; a keepalive never
        // answered ends the session after the response timeout (a dead link).
        run.send(|c, now| c.capability(now));
        run.expect(b"");
        run.advance(Duration::from_secs(119));
        run.no_errors();
        run.advance(Duration::from_secs(1));
        assert_ended!(run, ClientError::Timeout { .. });
        assert!(run.closed);
    }
    // No keepalive during IDLE (it has its own refresh), nor by default.
    let config = cfg().keepalive(Some(Duration::from_secs(60))).build();
    let mut run = logged_in_with(config, Cut::Whole, "IMAP4rev1 IDLE");
    run.send(|c, now| c.idle_start(now));
    run.expect(b"A0004 IDLE\r\n");
    run.server(b"+ idling\r\n");
    for _ in 0..10 {
        run.advance(Duration::from_secs(60));
    }
    run.expect(b"");
    run.no_errors();
    let mut run = logged_in(Cut::Whole, "IMAP4rev1");
    assert_eq!(run.client.poll_timeout(), None);
    run.advance(Duration::from_secs(3600));
    run.expect(b"");
}
