//! The IMAP client machine fed arbitrary server bytes in arbitrary chunks, while the input
//! also chooses which intents the application makes between the chunks: login, LIST, SELECT,
//! the fetches (whole and streamed, `BODY[]` and `BINARY[]`), APPEND, MOVE, IDLE, ENABLE
//! (UTF8=ACCEPT, IMAP4rev2), ID, NAMESPACE, UNSELECT, CLOSE, the NOOP keepalive, LOGOUT.
//!
//! Input layout: byte 0 picks the TLS policy, whether credentials may go in clear, the
//! pipeline depth and which intents are queued before login; byte 1 seeds the chunk sizes;
//! byte 2 picks the stream chunk bound and whether the keepalive is on; byte 3 is the length
//! `n` of the intent script that follows (one script byte is played after each chunk, see
//! [`play`]); the rest is what the "server" sends.
//!
//! Invariants: no panic; nothing transmitted after `Close`; after `StartTls` nothing is
//! transmitted until the handshake is reported; in a TLS-required mode no credential (LOGIN,
//! AUTHENTICATE, the password) is transmitted before TLS; no event reports untagged data
//! before TLS in a TLS-required mode; a streamed message is `MessageStart`, non-empty
//! `MessageData` chunks of at most the configured bound, `MessageEnd` with as many octets as
//! announced, in that order and for one intent at a time.
#![no_main]

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailsec_imap::client::{Client, ClientConfig, ClientEvent, RequestId};
use mailsec_imap::types::{
    Capability, Flag, SearchKey, SeqNumber, SeqRange, SequenceSet, StatusItem, StoreAction,
    StoreKind,
};
use mailsec_tls::sasl::{Credentials, InsecureAuth};
use mailsec_tls::{ClientTls, Machine, Output, TlsInfo};

/// What the outputs so far allow.
#[derive(Default)]
struct Seen {
    closed: bool,
    handshake_pending: bool,
    secure: bool,
    /// The streamed message being received: intent, announced size, octets so far.
    stream: Option<(RequestId, u64, u64)>,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn drain(client: &mut Client, seen: &mut Seen, requires_tls: bool, chunk: usize) {
    while let Some(output) = client.poll_output() {
        match output {
            Output::Transmit(bytes) => {
                assert!(!seen.closed, "transmit after close");
                assert!(!seen.handshake_pending, "transmit between StartTls and TLS");
                if requires_tls && !seen.secure {
                    for needle in [&b"LOGIN"[..], b"AUTHENTICATE", b"s3cret"] {
                        assert!(!contains(&bytes, needle), "credential before TLS");
                    }
                }
            }
            Output::StartTls => seen.handshake_pending = true,
            Output::Close => {
                seen.closed = true;
                seen.stream = None;
            }
            Output::Event(ClientEvent::Unsolicited(_) | ClientEvent::Ready { .. }) => {
                assert!(!requires_tls || seen.secure, "plaintext data reported");
            }
            Output::Event(ClientEvent::MessageStart { id, size, .. }) => {
                assert!(seen.stream.is_none(), "MessageStart inside a stream");
                seen.stream = Some((id, size, 0));
            }
            Output::Event(ClientEvent::MessageData { id, data }) => {
                let Some((sid, size, got)) = &mut seen.stream else {
                    panic!("MessageData outside a stream");
                };
                assert_eq!(*sid, id, "MessageData for another intent");
                assert!(
                    !data.is_empty() && data.len() <= chunk,
                    "chunk of {}",
                    data.len()
                );
                *got += data.len() as u64;
                assert!(*got <= *size, "more octets than announced");
            }
            Output::Event(ClientEvent::MessageEnd { id, size, .. }) => {
                let Some((sid, announced, got)) = seen.stream.take() else {
                    panic!("MessageEnd outside a stream");
                };
                assert_eq!(sid, id, "MessageEnd for another intent");
                assert_eq!((size, got), (announced, announced), "octets handed out");
            }
            Output::Event(ClientEvent::Completed { id, .. } | ClientEvent::Failed { id, .. }) => {
                assert!(
                    seen.stream.is_none_or(|(sid, ..)| sid != id),
                    "intent completed inside its stream"
                );
            }
            _ => {}
        }
    }
}

fn all() -> SequenceSet {
    SequenceSet::new(vec![SeqRange::Range(
        SeqNumber::Value(NonZeroU32::MIN),
        SeqNumber::Largest,
    )])
    .unwrap()
}

/// One application step chosen by a script byte. Errors (usage errors: closed, queue full,
/// ENABLE after SELECT, …) are part of what is exercised, so they are ignored.
fn play(client: &mut Client, op: u8, t: &mut Instant) {
    let now = *t;
    match op % 32 {
        0 => drop(client.noop(now)),
        1 => drop(client.idle_stop(now)),
        2 => {
            *t += Duration::from_secs(29 * 60);
            client.handle_timeout(*t);
        }
        3 => drop(client.list(now, "", "*")),
        4 => drop(client.select(now, "INBOX")),
        5 => drop(client.examine(now, "Entwürfe")),
        6 => drop(client.fetch_headers(now, all())),
        7 => drop(client.fetch_message(now, 1)),
        8 => drop(client.fetch_message_streamed(now, 1, false)),
        9 => drop(client.fetch_message_streamed(now, 2, true)),
        10 => drop(client.enable(now, &[Capability::Utf8Accept])),
        11 => drop(client.enable(now, &[Capability::Imap4rev2, Capability::CondStore])),
        12 => drop(client.id(now, Some(&[("name", Some("mailsec")), ("os", None)]))),
        13 => drop(client.id(now, None)),
        14 => drop(client.namespace(now)),
        15 => drop(client.unselect(now, false)),
        16 => drop(client.unselect(now, true)),
        17 => drop(client.close(now)),
        18 => drop(client.create(now, "Entwürfe & Co")),
        19 => drop(client.status(now, "Entwürfe", &[StatusItem::Messages])),
        20 => drop(client.search(now, vec![SearchKey::Unseen])),
        21 => drop(client.append(now, "Sent", &[Flag::Seen], &b"Subject: x\r\n\r\nhi\r\n"[..])),
        22 => drop(client.move_messages(now, all(), "Archive")),
        23 => drop(client.idle_start(now)),
        24 => drop(client.capability(now)),
        25 => drop(client.store(
            now,
            all(),
            op & 0x80 != 0,
            StoreAction {
                kind: StoreKind::Add,
                silent: op & 0x40 != 0,
                flags: vec![Flag::Flagged],
                parenthesized: true,
            },
        )),
        26 => drop(client.expunge(now)),
        27 => {
            // Past the keepalive interval (and, twice, past the response timeout).
            *t += Duration::from_secs(61);
            client.handle_timeout(*t);
        }
        28 => drop(client.mark_seen(now, all())),
        29 => drop(client.copy(now, all(), "Entwürfe")),
        30 => drop(client.logout(now)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let [control, seed, shape, n, rest @ ..] = data else {
        return;
    };
    let (script, input) = rest.split_at(usize::from(*n).min(rest.len()));
    let tls = match control & 3 {
        0 => ClientTls::Implicit,
        1 => ClientTls::StartTlsRequired,
        2 => ClientTls::StartTlsOpportunistic,
        _ => ClientTls::InsecurePlaintext,
    };
    let insecure = if control & 4 != 0 {
        InsecureAuth::AllowPlaintextMechanismsWithoutTls
    } else {
        InsecureAuth::Refuse
    };
    let chunk = usize::from(shape & 0x3f) + 1;
    let keepalive = (shape & 0x40 != 0).then(|| Duration::from_secs(60));
    let config = ClientConfig::builder(Credentials::password("alice", "s3cret"))
        .tls(tls)
        .insecure_auth(insecure)
        .max_pipeline(if control & 8 != 0 { 1 } else { 8 })
        .max_literal(4096)
        .max_streamed_message(1 << 20)
        .stream_chunk(chunk)
        .keepalive(keepalive)
        .response_timeout(Duration::from_secs(100))
        .max_queued(64)
        .max_collected(64)
        .max_search_results(256)
        .build();
    let requires_tls = tls.requires_tls();
    let now = Instant::now();
    let info = TlsInfo::for_testing("fuzz.example.test");
    let mut client = Client::new(config, now);
    let mut seen = Seen::default();
    if tls == ClientTls::Implicit {
        client.handle_tls_established(now, &info);
        seen.secure = true;
    }
    // Intents queued before login (sent once logged in).
    if control & 64 != 0 {
        let _ = client.enable(now, &[Capability::Utf8Accept]);
        let _ = client.id(now, None);
        let _ = client.namespace(now);
    }
    let _ = client.list(now, "", "*");
    let _ = client.select(now, "INBOX");
    let _ = client.fetch_headers(now, all());
    if control & 128 != 0 {
        let _ = client.fetch_message_streamed(now, 1, false);
    } else {
        let _ = client.fetch_message(now, 1);
    }
    if control & 16 != 0 {
        let _ = client.append(now, "Sent", &[Flag::Seen], &b"Subject: x\r\n\r\nhi\r\n"[..]);
        let _ = client.move_messages(now, all(), "Archive");
    }
    let _ = client.search(now, vec![SearchKey::Unseen]);
    if control & 32 != 0 {
        let _ = client.idle_start(now);
    }
    let _ = client.status(now, "Sent", &[StatusItem::Messages]);
    drain(&mut client, &mut seen, requires_tls, chunk);

    let mut s = *seed;
    let mut ops = script.iter();
    let mut at = 0;
    let mut t = now;
    while at < input.len() {
        let size = if s == 0 {
            input.len()
        } else {
            s ^= s << 3;
            s ^= s >> 5;
            s ^= s << 1;
            usize::from(s % 64) + 1
        };
        let piece = &input[at..(at + size).min(input.len())];
        at += piece.len();
        client.handle_input(t, piece);
        drain(&mut client, &mut seen, requires_tls, chunk);
        if seen.handshake_pending && !seen.closed {
            client.handle_tls_established(t, &info);
            seen.handshake_pending = false;
            seen.secure = true;
            drain(&mut client, &mut seen, requires_tls, chunk);
        }
        if let Some(&op) = ops.next() {
            play(&mut client, op, &mut t);
        }
        drain(&mut client, &mut seen, requires_tls, chunk);
    }
    // Script bytes left over are played with no more input.
    for &op in ops {
        play(&mut client, op, &mut t);
        drain(&mut client, &mut seen, requires_tls, chunk);
    }
    let _ = client.logout(t);
    drain(&mut client, &mut seen, requires_tls, chunk);
    client.handle_timeout(t + Duration::from_secs(3600));
    drain(&mut client, &mut seen, requires_tls, chunk);
    client.handle_eof(t);
    drain(&mut client, &mut seen, requires_tls, chunk);
    assert!(client.poll_output().is_none());
});
