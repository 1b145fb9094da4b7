//! The POP3 client machine fed arbitrary server bytes in arbitrary chunks, while it logs in,
//! lists, retrieves and quits.
//!
//! Input layout: byte 0 picks the TLS policy, whether credentials may go in clear, pipelining
//! of intents and APOP; byte 1 seeds the chunk sizes; the rest is what the "server" sends.
//! Invariants: no panic; nothing transmitted after `Close`; after `StartTls` nothing is
//! transmitted until the handshake is reported; in a TLS-required mode no credential
//! (USER, PASS, APOP, AUTH) is transmitted before TLS.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailsec_pop3::MessageNumber;
use mailsec_pop3::client::{Client, ClientConfig, ClientEvent};
use mailsec_tls::sasl::{Credentials, InsecureAuth};
use mailsec_tls::{ClientTls, Machine, Output, TlsInfo};

#[derive(Default)]
struct Seen {
    closed: bool,
    handshake_pending: bool,
    secure: bool,
    ready: bool,
}

fn drain(client: &mut Client, seen: &mut Seen, requires_tls: bool) {
    while let Some(output) = client.poll_output() {
        match output {
            Output::Transmit(bytes) => {
                assert!(!seen.closed, "transmit after close");
                assert!(!seen.handshake_pending, "transmit between StartTls and TLS");
                if requires_tls && !seen.secure {
                    for verb in [&b"USER"[..], b"PASS", b"APOP", b"AUTH"] {
                        assert!(!bytes.starts_with(verb), "credential before TLS");
                    }
                }
            }
            Output::StartTls => seen.handshake_pending = true,
            Output::Close => seen.closed = true,
            Output::Event(ClientEvent::Ready { .. }) => seen.ready = true,
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
        .apop(control & 8 != 0)
        .max_listing_entries(64)
        .max_message_size(if control & 16 != 0 { Some(100) } else { None })
        .build();
    let requires_tls = tls.requires_tls();
    let now = Instant::now();
    let info = TlsInfo::for_testing("fuzz.example.test");
    let mut client = Client::new(config);
    client.start_clock(now);
    let mut seen = Seen::default();
    if tls == ClientTls::Implicit {
        client.handle_tls_established(now, &info);
        seen.secure = true;
    }
    // Intents, queued before login (sent once logged in).
    let one = MessageNumber::new(1).unwrap();
    let _ = client.list(now, None);
    let _ = client.uidl(now, None);
    let _ = client.retr(now, one);
    let _ = client.top(now, MessageNumber::new(2).unwrap(), 0);
    if control & 32 != 0 {
        let _ = client.dele(now, one);
    }
    let _ = client.quit(now);
    drain(&mut client, &mut seen, requires_tls);

    let mut s = *seed;
    let mut at = 0;
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
        client.handle_input(now, piece);
        drain(&mut client, &mut seen, requires_tls);
        if seen.handshake_pending && !seen.closed {
            client.handle_tls_established(now, &info);
            seen.handshake_pending = false;
            seen.secure = true;
            drain(&mut client, &mut seen, requires_tls);
        }
        if s % 7 == 3 {
            let _ = client.noop(now);
            drain(&mut client, &mut seen, requires_tls);
        }
    }
    client.handle_timeout(now + Duration::from_secs(3600));
    drain(&mut client, &mut seen, requires_tls);
    client.handle_eof(now);
    drain(&mut client, &mut seen, requires_tls);
    assert!(client.poll_output().is_none());
    let _ = seen.ready;
});
