//! The SMTP client machine fed arbitrary server bytes in arbitrary chunks while it wants to
//! send one message: it must never panic, never start TLS with bytes pending behind the
//! go-ahead, never send AUTH or MAIL in clear when TLS is required, and stay bounded.
//!
//! Input layout: byte 0 picks the TLS policy, pipelining, chunking and credentials; byte 1
//! the chunk size; the rest is what the server sends. Outputs are drained after every call;
//! each `ReadyForData` is answered with a piece of body, then the end of data; `Ready` with
//! the message, and the second `Ready`-state turn with QUIT.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailsec_smtp::client::{Client, ClientConfig, Envelope, Event};
use mailsec_tls::sasl::{Credentials, InsecureAuth};
use mailsec_tls::{ClientTls, Machine, Output, TlsInfo};

#[derive(Default)]
struct Seen {
    wire: Vec<u8>,
    start_tls: bool,
    ready_for_data: bool,
    ready: bool,
    message_done: bool,
    closed: bool,
}

fn drain(client: &mut Client, seen: &mut Seen) {
    let mut outputs = 0usize;
    while let Some(output) = client.poll_output() {
        outputs += 1;
        assert!(outputs < 100_000, "output queue does not settle");
        match output {
            Output::Transmit(bytes) => {
                assert!(!seen.closed, "bytes after Close");
                assert!(
                    !seen.start_tls || client.is_secure(),
                    "bytes between STARTTLS and TLS"
                );
                seen.wire.extend_from_slice(&bytes);
            }
            Output::StartTls => seen.start_tls = true,
            Output::Event(Event::ReadyForData) => seen.ready_for_data = true,
            Output::Event(Event::Ready(_)) => seen.ready = true,
            Output::Event(Event::MessageAccepted { .. } | Event::MessageRejected { .. }) => {
                seen.message_done = true;
            }
            Output::Close => seen.closed = true,
            _ => {}
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    let [control, size, input @ ..] = data else {
        return;
    };
    let tls = match control & 3 {
        0 => ClientTls::StartTlsRequired,
        1 => ClientTls::StartTlsOpportunistic,
        2 => ClientTls::InsecurePlaintext,
        _ => ClientTls::Implicit,
    };
    let mut config = ClientConfig::for_domain("client.example")
        .unwrap()
        .with_tls(tls)
        .with_pipelining(control & 4 != 0)
        .with_chunking(control & 8 != 0)
        .with_reply_limits(1 + usize::from(control >> 5), 4096);
    if control & 16 != 0 {
        config = config.with_credentials(Credentials::password("alice", "s3cret-pw"));
        if control & 0x80 != 0 {
            config = config.with_insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls);
        }
    }
    let chunk = usize::from(*size % 64) + 1;
    let mut now = Instant::now();
    let info = TlsInfo::for_testing("mx.example");
    let mut client = Client::new(config, now);
    let mut seen = Seen::default();
    if tls == ClientTls::Implicit {
        client.handle_tls_established(now, &info);
    }
    drain(&mut client, &mut seen);
    let mut sent_message = false;
    let mut body_pieces = 0;
    for (i, piece) in input.chunks(chunk).enumerate() {
        client.handle_input(now, piece);
        drain(&mut client, &mut seen);
        if seen.start_tls && !client.is_secure() && !client.is_closed() {
            client.handle_tls_established(now, &info);
            drain(&mut client, &mut seen);
        }
        if seen.ready && !sent_message && client.is_ready() {
            sent_message = true;
            let envelope =
                Envelope::from_addresses("a@example.org", ["b@example.net", "c@example.net"])
                    .unwrap();
            let _ = client.send_message(now, envelope);
        } else if seen.message_done && client.is_ready() {
            let _ = client.quit(now);
        }
        drain(&mut client, &mut seen);
        if seen.ready_for_data {
            seen.ready_for_data = false;
            body_pieces += 1;
            let _ = if body_pieces < 3 {
                client.send_data(now, b"Subject: x\r\n\r\n.line\r\n")
            } else {
                client.finish_data(now)
            };
            drain(&mut client, &mut seen);
        }
        if i % 7 == 6 {
            now += Duration::from_secs(200);
            if client.poll_timeout().is_some_and(|t| t <= now) {
                client.handle_timeout(now);
                drain(&mut client, &mut seen);
            }
        }
    }
    client.handle_eof(now);
    drain(&mut client, &mut seen);
    if tls.requires_tls() && !client.is_secure() {
        assert!(!contains(&seen.wire, b"AUTH"), "AUTH without TLS");
        assert!(!contains(&seen.wire, b"MAIL"), "MAIL without TLS");
    }
    if control & 0x80 == 0 && !client.is_secure() {
        assert!(!contains(&seen.wire, b"AUTH"), "credentials in clear");
    }
});
