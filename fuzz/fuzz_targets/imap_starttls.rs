//! The STARTTLS boundary on both IMAP machines, with bytes pipelined behind the cut in every
//! chunking the fuzzer finds (SECURITY.md: plaintext injection, CVE-2011-0411 / CVE-2021-33515
//! on servers, the response-injection twin on clients).
//!
//! Server: benign commands, then `S1 STARTTLS\r\n`, then arbitrary bytes, all delivered before
//! the handshake. With nothing behind the cut the server must go to TLS; with anything behind
//! it, it must end the session — whether the extra bytes arrived in the same chunk as STARTTLS
//! or after the go-ahead.
//!
//! Client: the server's greeting and capabilities, then `A0001 OK` for STARTTLS followed by
//! arbitrary bytes. The same rule from the other side: TLS only when the go-ahead is the last
//! byte received, otherwise the session ends before any credential is written.
#![no_main]

use std::sync::Arc;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use mailsec_imap::client::{Client, ClientConfig};
use mailsec_imap::server::{Server, ServerConfig};
use mailsec_tls::sasl::Credentials;
use mailsec_tls::{ClientTls, Machine, Output, ServerPolicy};

/// Commands a client may send before STARTTLS without ending the session.
const BENIGN: [&[u8]; 4] = [
    b"a CAPABILITY\r\n",
    b"b NOOP\r\n",
    b"c ID NIL\r\n",
    b"d LOGIN alice secret\r\n",
];

#[derive(Default)]
struct Seen {
    start_tls: bool,
    closed: bool,
    wire: Vec<u8>,
}

fn drain<M: Machine>(machine: &mut M, seen: &mut Seen) {
    while let Some(output) = machine.poll_output() {
        match output {
            Output::Transmit(bytes) => {
                assert!(!seen.closed, "transmit after Close");
                assert!(!seen.start_tls, "plaintext transmitted after StartTls");
                seen.wire.extend_from_slice(&bytes);
            }
            Output::StartTls => seen.start_tls = true,
            Output::Close => seen.closed = true,
            _ => {}
        }
    }
}

/// Delivers `input` in chunks whose lengths come from `cuts`.
fn feed<M: Machine>(machine: &mut M, seen: &mut Seen, input: &[u8], cuts: &[u8], now: Instant) {
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() && !seen.closed {
        let n = cuts
            .get(i)
            .map_or(rest.len(), |&c| usize::from(c).max(1))
            .min(rest.len());
        machine.handle_input(now, &rest[..n]);
        drain(machine, seen);
        rest = &rest[n..];
        i += 1;
    }
}

fn server_side(prefix: &[u8], suffix: &[u8], cuts: &[u8]) {
    let now = Instant::now();
    let config = Arc::new(
        ServerConfig::builder()
            .policy(ServerPolicy::starttls_required())
            .build()
            .expect("config"),
    );
    let mut server = Server::new(config, now);
    let mut seen = Seen::default();
    drain(&mut server, &mut seen);
    let mut input = Vec::new();
    for &p in prefix.iter().take(4) {
        input.extend_from_slice(BENIGN[usize::from(p) % BENIGN.len()]);
    }
    input.extend_from_slice(b"S1 STARTTLS\r\n");
    input.extend_from_slice(suffix);
    feed(&mut server, &mut seen, &input, cuts, now);
    if suffix.is_empty() {
        assert!(seen.start_tls, "clean STARTTLS refused");
        assert!(!seen.closed, "clean STARTTLS closed the session");
    } else {
        assert!(seen.closed, "bytes behind STARTTLS did not end the session");
    }
    // Nothing pipelined behind the cut was ever answered in clear.
    let after_go_ahead = seen
        .wire
        .windows(5)
        .position(|w| w == b"S1 OK")
        .map(|at| &seen.wire[at..]);
    if let Some(tail) = after_go_ahead {
        let line_end = tail.iter().position(|&b| b == b'\n').map_or(tail.len(), |e| e + 1);
        let later = &tail[line_end..];
        assert!(
            later.is_empty() || later.starts_with(b"* BYE"),
            "answered in clear after the go-ahead"
        );
    }
}

fn client_side(suffix: &[u8], cuts: &[u8]) {
    let now = Instant::now();
    let config = ClientConfig::builder(Credentials::password("alice", "secret"))
        .tls(ClientTls::StartTlsRequired)
        .build();
    let mut client = Client::new(config, now);
    let mut seen = Seen::default();
    let mut input = b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n".to_vec();
    feed(&mut client, &mut seen, &input, &[], now);
    input.clear();
    input.extend_from_slice(b"A0001 OK go ahead\r\n");
    input.extend_from_slice(suffix);
    feed(&mut client, &mut seen, &input, cuts, now);
    assert!(
        !seen.wire.windows(6).any(|w| w == b"secret"),
        "credential written before TLS"
    );
    if suffix.is_empty() {
        assert!(seen.start_tls, "clean go-ahead not followed");
    } else {
        assert!(seen.closed, "bytes behind the go-ahead did not end the session");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let split = usize::from(split).min(rest.len());
    let (head, suffix) = rest.split_at(split);
    let (prefix, cuts) = head.split_at(head.len().min(4));
    server_side(prefix, suffix, cuts);
    client_side(suffix, cuts);
});
