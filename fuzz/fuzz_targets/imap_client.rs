//! The IMAP client machine fed arbitrary server bytes in arbitrary chunks, while it logs in,
//! lists, selects, fetches, appends, idles and logs out.
//!
//! Input layout: byte 0 picks the TLS policy, whether credentials may go in clear, the
//! pipeline depth and which intents are queued; byte 1 seeds the chunk sizes; the rest is what
//! the "server" sends. Invariants: no panic; nothing transmitted after `Close`; after
//! `StartTls` nothing is transmitted until the handshake is reported; in a TLS-required mode no
//! credential (LOGIN, AUTHENTICATE, the password) is transmitted before TLS; no event reports
//! untagged data before TLS in a TLS-required mode.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailsec_imap::client::{Client, ClientConfig, ClientEvent};
use mailsec_imap::types::{Flag, SearchKey, SequenceSet};
use mailsec_tls::sasl::{Credentials, InsecureAuth};
use mailsec_tls::{ClientTls, Machine, Output, TlsInfo};

#[derive(Default)]
struct Seen {
    closed: bool,
    handshake_pending: bool,
    secure: bool,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn drain(client: &mut Client, seen: &mut Seen, requires_tls: bool) {
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
            Output::Close => seen.closed = true,
            Output::Event(ClientEvent::Unsolicited(_) | ClientEvent::Ready { .. }) => {
                assert!(!requires_tls || seen.secure, "plaintext data reported");
            }
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [control, seed, input @ ..] = data else {
        return;
    };
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
    let config = ClientConfig::builder(Credentials::password("alice", "s3cret"))
        .tls(tls)
        .insecure_auth(insecure)
        .max_pipeline(if control & 8 != 0 { 1 } else { 8 })
        .max_literal(4096)
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
    // Intents, queued before login (sent once logged in).
    let all = SequenceSet::new(vec![mailsec_imap::types::SeqRange::Range(
        mailsec_imap::types::SeqNumber::Value(std::num::NonZeroU32::MIN),
        mailsec_imap::types::SeqNumber::Largest,
    )])
    .unwrap();
    let _ = client.list(now, "", "*");
    let _ = client.select(now, "INBOX");
    let _ = client.fetch_headers(now, all.clone());
    let _ = client.fetch_message(now, 1);
    if control & 16 != 0 {
        let _ = client.append(now, "Sent", &[Flag::Seen], &b"Subject: x\r\n\r\nhi\r\n"[..]);
        let _ = client.move_messages(now, all.clone(), "Archive");
    }
    let _ = client.search(now, vec![SearchKey::Unseen]);
    if control & 32 != 0 {
        let _ = client.idle_start(now);
    }
    let _ = client.status(now, "Sent", &[mailsec_imap::types::StatusItem::Messages]);
    drain(&mut client, &mut seen, requires_tls);

    let mut s = *seed;
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
        drain(&mut client, &mut seen, requires_tls);
        if seen.handshake_pending && !seen.closed {
            client.handle_tls_established(t, &info);
            seen.handshake_pending = false;
            seen.secure = true;
            drain(&mut client, &mut seen, requires_tls);
        }
        match s % 11 {
            3 => {
                let _ = client.noop(t);
            }
            5 => {
                let _ = client.idle_stop(t);
            }
            7 => {
                t += Duration::from_secs(29 * 60);
                client.handle_timeout(t);
            }
            _ => {}
        }
        drain(&mut client, &mut seen, requires_tls);
    }
    let _ = client.logout(t);
    drain(&mut client, &mut seen, requires_tls);
    client.handle_timeout(t + Duration::from_secs(3600));
    drain(&mut client, &mut seen, requires_tls);
    client.handle_eof(t);
    drain(&mut client, &mut seen, requires_tls);
    assert!(client.poll_output().is_none());
});
