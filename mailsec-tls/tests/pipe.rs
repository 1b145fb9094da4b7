//! In-memory tests of the `Pipe`: the STARTTLS cut at an exact byte boundary in every chunking,
//! the refusal to upgrade while plaintext is pending, implicit TLS, bounds, garbage input and
//! close_notify. Real rustls on both sides, no sockets.

use mailsec_tls::testing::{TestPki, handshake};
use mailsec_tls::{ClientTlsConfig, Pipe, ServerTlsConfig, TlsError, TlsVersion};
use proptest::prelude::*;

const NAME: &str = "mail.example.test";
const GREETING: &[u8] = b"220 mail.example.test ESMTP ready\r\n";
const EHLO: &[u8] = b"EHLO client.example.test\r\n";
const EHLO_REPLY: &[u8] = b"250-mail.example.test\r\n250 STARTTLS\r\n";
const STARTTLS: &[u8] = b"STARTTLS\r\n";
const GO_AHEAD: &[u8] = b"220 2.0.0 Ready to start TLS\r\n";
const CLIENT_SECRET: &[u8] = b"AUTH PLAIN AGNsaWVudC1zZWNyZXQtcGFzc3dvcmQ=\r\n";
const SERVER_SECRET: &[u8] = b"235 2.7.0 server-secret-authentication-ok\r\n";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// How the bytes of one direction are cut into `recv_wire` calls.
#[derive(Clone, Copy, Debug)]
enum Chunking {
    /// Each transfer in one call.
    Whole,
    /// One byte per call.
    Bytewise,
    /// The whole stream of the direction is cut once, at this absolute offset.
    SplitAt(usize),
}

/// One direction of an in-memory connection: it records every byte that crossed it.
struct Link {
    chunking: Chunking,
    log: Vec<u8>,
}

impl Link {
    fn new(chunking: Chunking) -> Self {
        Link {
            chunking,
            log: Vec::new(),
        }
    }

    /// Moves everything `from` has for the wire into `to` in this link's chunking; after every
    /// chunk the receiver's plaintext is taken and appended to `got`. Returns the bytes moved.
    fn carry(&mut self, from: &mut Pipe, to: &mut Pipe, got: &mut Vec<u8>) -> usize {
        let wire = from.take_wire();
        let start = self.log.len();
        self.log.extend_from_slice(&wire);
        let chunks: Vec<&[u8]> = match self.chunking {
            Chunking::Whole => vec![&wire[..]],
            Chunking::Bytewise => wire.chunks(1).collect(),
            Chunking::SplitAt(k) if start < k && k < start + wire.len() => {
                let (a, b) = wire.split_at(k - start);
                vec![a, b]
            }
            Chunking::SplitAt(_) => vec![&wire[..]],
        };
        for chunk in chunks {
            if let Err(e) = to.recv_wire(chunk) {
                panic!(
                    "{:?}: recv_wire failed at stream offset {start}: {e:?}",
                    self.chunking
                );
            }
            got.extend_from_slice(&to.take_plaintext());
        }
        wire.len()
    }
}

/// Checks that `bytes` is a whole number of well-formed TLS records (nothing in clear) and
/// returns their content types.
fn tls_records(bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        assert!(i + 5 <= bytes.len(), "truncated record header at {i}");
        let (ct, major, minor) = (bytes[i], bytes[i + 1], bytes[i + 2]);
        assert!(
            (0x14..=0x17).contains(&ct),
            "not a TLS content type {ct:#04x} at {i}"
        );
        assert_eq!(major, 0x03, "record version major at {i}");
        assert!(
            minor == 0x01 || minor == 0x03,
            "record version minor {minor:#04x} at {i}"
        );
        let len = usize::from(u16::from_be_bytes([bytes[i + 3], bytes[i + 4]]));
        i += 5 + len;
        types.push(ct);
    }
    assert_eq!(i, bytes.len(), "last record overruns the bytes");
    types
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn implicit_pair(client_tls: &ClientTlsConfig, server_tls: &ServerTlsConfig) -> (Pipe, Pipe) {
    let mut client = Pipe::implicit_tls(client_tls.connect(NAME).expect("connect"));
    let mut server = Pipe::implicit_tls(server_tls.accept().expect("accept"));
    let (c, s) = handshake(&mut client, &mut server);
    c.expect("client handshake");
    s.expect("server handshake");
    assert!(client.is_secure() && server.is_secure());
    (client, server)
}

/// Sends `data` from one pipe to the other in one transfer and returns what arrived.
fn send(from: &mut Pipe, to: &mut Pipe, data: &[u8]) -> Result<Vec<u8>, TlsError> {
    from.send_plaintext(data)?;
    let wire = from.take_wire();
    to.recv_wire(&wire)?;
    Ok(to.take_plaintext().to_vec())
}

// ---------------------------------------------------------------------------------------------
// 1. The exact-byte STARTTLS cut, in every chunking
// ---------------------------------------------------------------------------------------------

/// A whole SMTP-like STARTTLS session in the given chunking; returns the two wire streams
/// (client→server, server→client).
fn starttls_session(pki: &TestPki, chunking: Chunking, app_data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (client_tls, server_tls) = pki.configs();
    let mut client = Pipe::plaintext();
    let mut server = Pipe::plaintext();
    let mut c2s = Link::new(chunking);
    let mut s2c = Link::new(chunking);
    let (mut at_client, mut at_server) = (Vec::new(), Vec::new());

    // Plaintext phase: greeting, EHLO, STARTTLS.
    server.send_plaintext(GREETING).unwrap();
    s2c.carry(&mut server, &mut client, &mut at_client);
    assert_eq!(at_client, GREETING);
    at_client.clear();
    client.send_plaintext(EHLO).unwrap();
    c2s.carry(&mut client, &mut server, &mut at_server);
    assert_eq!(at_server, EHLO);
    at_server.clear();
    server.send_plaintext(EHLO_REPLY).unwrap();
    s2c.carry(&mut server, &mut client, &mut at_client);
    assert_eq!(at_client, EHLO_REPLY);
    at_client.clear();
    client.send_plaintext(STARTTLS).unwrap();
    c2s.carry(&mut client, &mut server, &mut at_server);
    assert_eq!(at_server, STARTTLS);
    at_server.clear();

    // The cut, server side: go-ahead queued in clear, then TLS at once.
    server.send_plaintext(GO_AHEAD).unwrap();
    server.start_tls(server_tls.accept().unwrap()).unwrap();
    assert!(server.is_tls() && server.is_handshaking() && !server.is_secure());
    s2c.carry(&mut server, &mut client, &mut at_client);
    assert_eq!(at_client, GO_AHEAD);
    at_client.clear();
    assert!(!client.has_plaintext());

    // The cut, client side.
    client.start_tls(client_tls.connect(NAME).unwrap()).unwrap();
    assert!(client.has_wire(), "ClientHello queued at once");
    let mut rounds = 0;
    while client.is_handshaking()
        || server.is_handshaking()
        || client.has_wire()
        || server.has_wire()
    {
        let moved = c2s.carry(&mut client, &mut server, &mut at_server)
            + s2c.carry(&mut server, &mut client, &mut at_client);
        assert!(moved > 0, "{chunking:?}: handshake stalled");
        rounds += 1;
        assert!(rounds < 10, "{chunking:?}: handshake does not end");
    }
    assert!(
        at_client.is_empty() && at_server.is_empty(),
        "no plaintext from a handshake"
    );
    let client_info = client.take_established().expect("client established");
    let server_info = server.take_established().expect("server established");
    assert_eq!(client_info.server_name.as_deref(), Some(NAME));
    assert_eq!(server_info.server_name.as_deref(), Some(NAME));

    // Application data both ways, exact.
    client.send_plaintext(CLIENT_SECRET).unwrap();
    client.send_plaintext(app_data).unwrap();
    c2s.carry(&mut client, &mut server, &mut at_server);
    assert_eq!(at_server.len(), CLIENT_SECRET.len() + app_data.len());
    assert_eq!(&at_server[..CLIENT_SECRET.len()], CLIENT_SECRET);
    assert!(
        at_server[CLIENT_SECRET.len()..] == *app_data,
        "{chunking:?}: client data differs"
    );
    server.send_plaintext(SERVER_SECRET).unwrap();
    server.send_plaintext(app_data).unwrap();
    s2c.carry(&mut server, &mut client, &mut at_client);
    assert_eq!(&at_client[..SERVER_SECRET.len()], SERVER_SECRET);
    assert!(
        at_client[SERVER_SECRET.len()..] == *app_data,
        "{chunking:?}: server data differs"
    );
    assert!(!client.has_wire() && !server.has_wire());

    // The wire: plaintext up to the cut, visible and exact; nothing but TLS records after it.
    let clear_c2s = [EHLO, STARTTLS].concat();
    let clear_s2c = [GREETING, EHLO_REPLY, GO_AHEAD].concat();
    let (c2s, s2c) = (c2s.log, s2c.log);
    assert_eq!(&c2s[..clear_c2s.len()], &clear_c2s[..], "{chunking:?}");
    assert_eq!(&s2c[..clear_s2c.len()], &clear_s2c[..], "{chunking:?}");
    assert_eq!(
        &c2s[clear_c2s.len()..clear_c2s.len() + 2],
        &[0x16, 0x03],
        "ClientHello follows"
    );
    assert_eq!(
        &s2c[clear_s2c.len()..clear_s2c.len() + 2],
        &[0x16, 0x03],
        "ServerHello follows"
    );
    let c_types = tls_records(&c2s[clear_c2s.len()..]);
    let s_types = tls_records(&s2c[clear_s2c.len()..]);
    assert_eq!(
        c_types.last(),
        Some(&0x17),
        "client data went as application_data"
    );
    assert_eq!(
        s_types.last(),
        Some(&0x17),
        "server data went as application_data"
    );
    for secret in [CLIENT_SECRET, SERVER_SECRET, b"secret".as_slice()] {
        assert!(
            !contains(&c2s, secret),
            "{chunking:?}: plaintext after the cut on the wire"
        );
        assert!(
            !contains(&s2c, secret),
            "{chunking:?}: plaintext after the cut on the wire"
        );
    }
    (c2s, s2c)
}

#[test]
fn starttls_cut_whole_and_bytewise() {
    let pki = TestPki::new(NAME);
    // A payload larger than one TLS record (16 KiB) in both directions.
    let big: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    starttls_session(&pki, Chunking::Whole, &big);
    starttls_session(&pki, Chunking::Bytewise, &big);
    starttls_session(&pki, Chunking::Whole, b"");
}

#[test]
fn starttls_cut_split_at_every_offset() {
    let pki = TestPki::new(NAME);
    let (c2s, s2c) = starttls_session(&pki, Chunking::Whole, b"NOOP\r\n");
    // Handshake sizes vary by a few bytes (signature encoding): go a little past the end.
    let longest = c2s.len().max(s2c.len()) + 16;
    for k in 0..=longest {
        starttls_session(&pki, Chunking::SplitAt(k), b"NOOP\r\n");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Refusal while plaintext is pending; AlreadyTls; go-ahead first, in clear
// ---------------------------------------------------------------------------------------------

#[test]
fn start_tls_refused_while_injected_plaintext_is_pending() {
    let pki = TestPki::new(NAME);
    let server_tls = pki.server_config();
    let mut server = Pipe::plaintext();
    let injected = b"STARTTLS\r\nINJECTED\r\n";
    server.recv_wire(injected).unwrap();

    let err = server.start_tls(server_tls.accept().unwrap()).unwrap_err();
    assert!(
        matches!(err, TlsError::PlaintextPending { pending: 20 }),
        "{err:?}"
    );
    // Still plaintext, and the pending bytes are untouched.
    assert!(!server.is_tls() && !server.is_handshaking() && !server.is_secure());
    assert!(server.tls_info().is_none());
    server.send_plaintext(b"500 no\r\n").unwrap();
    assert_eq!(
        &server.take_wire()[..],
        b"500 no\r\n",
        "still sends in clear"
    );
    server.recv_wire(b"X").unwrap();
    assert_eq!(&server.take_plaintext()[..], b"STARTTLS\r\nINJECTED\r\nX");

    // Once the machine has taken (and judged) the bytes, the pipe allows the upgrade.
    server.start_tls(server_tls.accept().unwrap()).unwrap();
    assert!(server.is_tls() && server.is_handshaking());
    let err = server.start_tls(server_tls.accept().unwrap()).unwrap_err();
    assert!(matches!(err, TlsError::AlreadyTls), "{err:?}");
}

#[test]
fn client_start_tls_refused_while_injected_response_is_pending() {
    let pki = TestPki::new(NAME);
    let client_tls = pki.client_config();
    let mut client = Pipe::plaintext();
    client.recv_wire(b"220 Go ahead\r\n").unwrap();
    client.recv_wire(b"250 INJECTED\r\n").unwrap();
    let err = client
        .start_tls(client_tls.connect(NAME).unwrap())
        .unwrap_err();
    assert!(
        matches!(err, TlsError::PlaintextPending { pending: 28 }),
        "{err:?}"
    );
    assert!(!client.is_tls());
    assert!(
        !client.has_wire(),
        "no ClientHello leaves after a refused upgrade"
    );
}

#[test]
fn start_tls_refused_once_tls_is_active() {
    let pki = TestPki::new(NAME);
    let (client_tls, server_tls) = pki.configs();
    let (mut client, mut server) = implicit_pair(&client_tls, &server_tls);
    let err = client
        .start_tls(client_tls.connect(NAME).unwrap())
        .unwrap_err();
    assert!(matches!(err, TlsError::AlreadyTls), "{err:?}");
    let err = server.start_tls(server_tls.accept().unwrap()).unwrap_err();
    assert!(matches!(err, TlsError::AlreadyTls), "{err:?}");
    // The established session is unharmed.
    assert_eq!(
        send(&mut client, &mut server, b"NOOP\r\n").unwrap(),
        b"NOOP\r\n"
    );
    assert_eq!(
        send(&mut server, &mut client, b"250 OK\r\n").unwrap(),
        b"250 OK\r\n"
    );
}

#[test]
fn go_ahead_leaves_first_in_clear_then_only_tls_records() {
    let pki = TestPki::new(NAME);
    let (client_tls, server_tls) = pki.configs();
    let mut server = Pipe::plaintext();
    server.recv_wire(STARTTLS).unwrap();
    assert_eq!(&server.take_plaintext()[..], STARTTLS);
    server.send_plaintext(GO_AHEAD).unwrap();
    server.start_tls(server_tls.accept().unwrap()).unwrap();
    // Plaintext sent by the machine after the cut is held by rustls, never sent in clear.
    server.send_plaintext(b"250 too-early\r\n").unwrap();

    // A client that sends its ClientHello without waiting: the server's buffer then holds the
    // go-ahead and the server's first flight together.
    let mut client = Pipe::implicit_tls(client_tls.connect(NAME).unwrap());
    server.recv_wire(&client.take_wire()).unwrap();
    let wire = server.take_wire();
    assert_eq!(&wire[..GO_AHEAD.len()], GO_AHEAD);
    let after = &wire[GO_AHEAD.len()..];
    assert_eq!(
        &after[..2],
        &[0x16, 0x03],
        "a TLS handshake record right after the go-ahead"
    );
    tls_records(after);
    assert!(!contains(after, b"too-early"));
}

#[test]
fn starttls_clear_part_is_exact_on_both_sides() {
    // The go-ahead read by the client is exactly what the server queued, and the client's first
    // byte after the cut is a ClientHello record, with nothing in between.
    let pki = TestPki::new(NAME);
    let (client_tls, server_tls) = pki.configs();
    let mut client = Pipe::plaintext();
    let mut server = Pipe::plaintext();
    server.send_plaintext(GO_AHEAD).unwrap();
    server.start_tls(server_tls.accept().unwrap()).unwrap();
    assert_eq!(
        &server.take_wire()[..],
        GO_AHEAD,
        "the server says nothing more before the hello"
    );
    client.recv_wire(GO_AHEAD).unwrap();
    assert_eq!(&client.take_plaintext()[..], GO_AHEAD);
    client.start_tls(client_tls.connect(NAME).unwrap()).unwrap();
    client.send_plaintext(b"EHLO early\r\n").unwrap();
    let hello = client.take_wire();
    assert_eq!(
        tls_records(&hello),
        vec![0x16],
        "only the ClientHello, the EHLO waits"
    );
    assert!(!contains(&hello, b"EHLO"));
    server.recv_wire(&hello).unwrap();
    let (c, s) = handshake(&mut client, &mut server);
    c.unwrap();
    s.unwrap();
    assert_eq!(&server.take_plaintext()[..], b"EHLO early\r\n");
}

// ---------------------------------------------------------------------------------------------
// 3. Implicit TLS and TlsInfo
// ---------------------------------------------------------------------------------------------

#[test]
fn implicit_tls_handshake_data_and_info() {
    let pki = TestPki::new(NAME);
    let (client_tls, server_tls) = pki.configs();
    let mut client = Pipe::implicit_tls(client_tls.connect(NAME).unwrap());
    let mut server = Pipe::implicit_tls(server_tls.accept().unwrap());
    assert!(client.is_tls() && client.is_handshaking() && !client.is_secure());
    assert!(client.has_wire(), "the client speaks first");
    assert!(!server.has_wire(), "the server waits for the hello");
    assert!(client.take_established().is_none() && server.take_established().is_none());
    assert!(client.tls_info().is_none());

    let (c, s) = handshake(&mut client, &mut server);
    c.unwrap();
    s.unwrap();

    let leaf = mailsec_tls::config::certificates_from_pem(pki.leaf_chain_pem().as_bytes()).unwrap();
    let ci = client.take_established().expect("client info once");
    assert!(client.take_established().is_none(), "client info only once");
    assert_eq!(
        client.tls_info().as_ref(),
        Some(&ci),
        "tls_info stays available"
    );
    assert_eq!(ci.version, TlsVersion::Tls13);
    assert!(ci.cipher_suite.starts_with("TLS13_"), "{}", ci.cipher_suite);
    assert_eq!(ci.server_name.as_deref(), Some(NAME));
    assert_eq!(ci.peer_certificates, leaf, "the server's leaf, DER");
    assert_eq!(ci.alpn, None);

    let si = server.take_established().expect("server info once");
    assert!(server.take_established().is_none(), "server info only once");
    assert_eq!(si.version, TlsVersion::Tls13);
    assert_eq!(si.cipher_suite, ci.cipher_suite);
    assert_eq!(si.server_name.as_deref(), Some(NAME), "the SNI");
    assert!(si.peer_certificates.is_empty(), "no client authentication");
    assert_eq!(si.alpn, None);

    assert_eq!(
        send(&mut client, &mut server, b"a1 CAPABILITY\r\n").unwrap(),
        b"a1 CAPABILITY\r\n"
    );
    assert_eq!(
        send(&mut server, &mut client, b"* OK\r\n").unwrap(),
        b"* OK\r\n"
    );
}

#[test]
fn implicit_tls_alpn_on_both_sides() {
    let pki = TestPki::new(NAME);
    let provider = mailsec_tls::testing::provider();
    let client_tls = ClientTlsConfig::builder()
        .add_ca_pem(pki.ca_pem().as_bytes())
        .unwrap()
        .provider(provider.clone())
        .alpn(["imap"])
        .build()
        .unwrap();
    let server_tls = ServerTlsConfig::builder(TestPki::store_with(pki.leaf()))
        .provider(provider)
        .alpn([b"imap".as_slice()])
        .build()
        .unwrap();
    let (mut client, mut server) = implicit_pair(&client_tls, &server_tls);
    assert_eq!(
        client.take_established().unwrap().alpn.as_deref(),
        Some(&b"imap"[..])
    );
    assert_eq!(
        server.take_established().unwrap().alpn.as_deref(),
        Some(&b"imap"[..])
    );
}

// ---------------------------------------------------------------------------------------------
// 11. Bounds and garbage
// ---------------------------------------------------------------------------------------------

#[test]
fn plaintext_bound_is_checked_before_storing() {
    let mut pipe = Pipe::plaintext();
    pipe.set_max_pending_plaintext(16);
    let err = pipe.recv_wire(&[b'x'; 17]).unwrap_err();
    assert!(matches!(err, TlsError::BufferFull { limit: 16 }), "{err:?}");
    assert!(!pipe.has_plaintext(), "nothing stored");

    pipe.recv_wire(&[b'a'; 10]).unwrap();
    pipe.recv_wire(&[b'b'; 6]).unwrap();
    let err = pipe.recv_wire(b"c").unwrap_err();
    assert!(matches!(err, TlsError::BufferFull { limit: 16 }), "{err:?}");
    assert_eq!(&pipe.take_plaintext()[..], b"aaaaaaaaaabbbbbb");
    // Taking frees the room again.
    pipe.recv_wire(&[b'd'; 16]).unwrap();
    assert_eq!(pipe.take_plaintext().len(), 16);
}

#[test]
fn plaintext_bound_under_tls() {
    let pki = TestPki::new(NAME);
    let (client_tls, server_tls) = pki.configs();
    let (mut client, mut server) = implicit_pair(&client_tls, &server_tls);
    server.set_max_pending_plaintext(16);
    assert_eq!(
        send(&mut client, &mut server, &[b'x'; 16]).unwrap(),
        [b'x'; 16]
    );

    client.send_plaintext(&[b'y'; 17]).unwrap();
    let err = server.recv_wire(&client.take_wire()).unwrap_err();
    assert!(matches!(err, TlsError::BufferFull { limit: 16 }), "{err:?}");
    assert!(!server.has_plaintext());

    // Two records that fit one at a time but not together while nothing is taken.
    client.set_max_pending_plaintext(16);
    server.send_plaintext(&[b'z'; 10]).unwrap();
    let first = server.take_wire();
    server.send_plaintext(&[b'z'; 10]).unwrap();
    let second = server.take_wire();
    client.recv_wire(&first).unwrap();
    let err = client.recv_wire(&second).unwrap_err();
    assert!(matches!(err, TlsError::BufferFull { limit: 16 }), "{err:?}");
    assert_eq!(client.take_plaintext().len(), 10);
}

#[test]
fn http_request_to_implicit_tls_server_is_a_typed_error() {
    let pki = TestPki::new(NAME);
    let mut server = Pipe::implicit_tls(pki.server_config().accept().unwrap());
    let err = server
        .recv_wire(b"GET / HTTP/1.1\r\nHost: mail.example.test\r\n\r\n")
        .unwrap_err();
    assert!(
        matches!(
            err,
            TlsError::Protocol(mailsec_tls::rustls::Error::InvalidMessage(_))
        ),
        "{err:?}"
    );
    assert!(!server.has_plaintext(), "nothing reflected to the machine");
    // Whatever the server answers is a TLS alert, never a reflection of the request.
    let answer = server.take_wire();
    assert!(!contains(&answer, b"GET"));
    if !answer.is_empty() {
        assert!(
            tls_records(&answer).iter().all(|&t| t == 0x15),
            "only alerts"
        );
    }
    // The pipe stays failed.
    assert!(server.recv_wire(b"\x16\x03\x01\x00\x00").is_err());
}

#[test]
fn plaintext_greeting_to_implicit_tls_client_is_a_typed_error() {
    let pki = TestPki::new(NAME);
    let mut client = Pipe::implicit_tls(pki.client_config().connect(NAME).unwrap());
    let _hello = client.take_wire();
    let err = client
        .recv_wire(b"220 mail.example.test ESMTP\r\n")
        .unwrap_err();
    assert!(matches!(err, TlsError::Protocol(_)), "{err:?}");
    assert!(!client.is_secure() && client.take_established().is_none());
    assert!(!client.has_plaintext());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_into_implicit_tls_server_never_panic(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8),
        tls_prefix in any::<bool>(),
    ) {
        let pki = TEST_PKI.with(|p| p.server_config());
        let mut server = Pipe::implicit_tls(pki.accept().unwrap());
        for (i, chunk) in chunks.iter().enumerate() {
            let mut bytes = chunk.clone();
            if tls_prefix && i == 0 {
                // Make the first bytes look like a handshake record to go deeper.
                let len = u16::try_from(bytes.len()).unwrap().to_be_bytes();
                bytes.splice(0..0, [0x16, 0x03, 0x01, len[0], len[1], 0x01]);
            }
            if server.recv_wire(&bytes).is_err() {
                break;
            }
            prop_assert!(!server.has_plaintext(), "no plaintext without a handshake");
        }
        prop_assert!(!server.is_secure());
    }

    #[test]
    fn plaintext_pipe_delivers_every_chunking_exactly(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..16),
    ) {
        let mut a = Pipe::plaintext();
        let mut b = Pipe::plaintext();
        let mut got = Vec::new();
        for chunk in &chunks {
            a.send_plaintext(chunk).unwrap();
            b.recv_wire(&a.take_wire()).unwrap();
            got.extend_from_slice(&b.take_plaintext());
        }
        prop_assert_eq!(got, chunks.concat());
    }
}

thread_local! {
    static TEST_PKI: TestPki = TestPki::new(NAME);
}

// ---------------------------------------------------------------------------------------------
// 12. close
// ---------------------------------------------------------------------------------------------

#[test]
fn close_sends_close_notify_and_peer_sees_it() {
    let pki = TestPki::new(NAME);
    let (client_tls, server_tls) = pki.configs();
    let (mut client, mut server) = implicit_pair(&client_tls, &server_tls);
    assert!(!server.peer_closed() && !client.peer_closed());

    client.send_plaintext(b"QUIT\r\n").unwrap();
    client.close();
    let wire = client.take_wire();
    let types = tls_records(&wire);
    assert_eq!(
        types.last(),
        Some(&0x17),
        "TLS 1.3 hides the alert in application_data"
    );
    assert!(!contains(&wire, b"QUIT"));
    server.recv_wire(&wire).unwrap();
    assert_eq!(
        &server.take_plaintext()[..],
        b"QUIT\r\n",
        "data before the close arrives"
    );
    assert!(server.peer_closed());
    assert!(!client.peer_closed());

    server.send_plaintext(b"221 Bye\r\n").unwrap();
    server.close();
    client.recv_wire(&server.take_wire()).unwrap();
    assert_eq!(&client.take_plaintext()[..], b"221 Bye\r\n");
    assert!(client.peer_closed());
}

#[test]
fn nothing_is_sent_after_close_and_nothing_is_secure_after_a_failure() {
    let pki = TestPki::new(NAME);
    let (client_tls, server_tls) = pki.configs();
    let (mut client, mut server) = implicit_pair(&client_tls, &server_tls);
    assert!(client.is_secure() && server.is_secure());
    client.close();
    assert!(matches!(
        client.send_plaintext(b"late\r\n"),
        Err(TlsError::Closed)
    ));
    assert!(!client.is_secure());
    let _ = client.take_wire();

    // A record the server cannot decrypt is fatal: the connection no longer counts as secure.
    assert!(
        server
            .recv_wire(&[0x17, 0x03, 0x03, 0x00, 0x20, 0xAA, 0xBB])
            .is_ok()
    );
    let bogus = [[0x17u8, 0x03, 0x03, 0x00, 0x20].as_slice(), &[0x55; 0x20]].concat();
    assert!(server.recv_wire(&bogus).is_err());
    assert!(!server.is_secure());
    assert!(matches!(
        server.send_plaintext(b"250 OK\r\n"),
        Err(TlsError::Closed)
    ));
}

#[test]
fn close_in_clear_sends_nothing() {
    let mut pipe = Pipe::plaintext();
    pipe.close();
    assert!(!pipe.has_wire());
    assert!(!pipe.peer_closed());
}

#[test]
fn bytes_after_close_notify_are_ignored() {
    // RFC 8446 §6.1: "Any data received after a closure alert has been received MUST be
    // ignored." Whether they arrive with the alert or in a later read, the pipe must neither
    // deliver them nor fail with an unrelated error.
    let pki = TestPki::new(NAME);
    let (client_tls, server_tls) = pki.configs();
    let (mut client, mut server) = implicit_pair(&client_tls, &server_tls);
    client.close();
    let close = client.take_wire();
    server.recv_wire(&close).unwrap();
    assert!(server.peer_closed());
    // A later read: garbage and a replayed record both go unread.
    server.recv_wire(b"trailing bytes").unwrap();
    server.recv_wire(&close).unwrap();
    assert!(!server.has_plaintext());

    // Same chunk as the alert.
    let (mut client, mut server) = implicit_pair(&client_tls, &server_tls);
    client.close();
    let mut wire = client.take_wire().to_vec();
    wire.extend_from_slice(b"trailing bytes");
    server.recv_wire(&wire).unwrap();
    assert!(server.peer_closed());
    assert!(!server.has_plaintext());
}

#[test]
fn large_messages_go_through_whole() {
    // rustls buffers at most 64 KiB of records: one send larger than that must still arrive
    // whole, in both directions.
    let pki = TestPki::new(NAME);
    let (client_tls, server_tls) = pki.configs();
    let (mut client, mut server) = implicit_pair(&client_tls, &server_tls);
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    assert!(send(&mut client, &mut server, &big).unwrap() == big);
    assert!(send(&mut server, &mut client, &big).unwrap() == big);
}

#[test]
fn plaintext_before_the_handshake_is_bounded() {
    // Before the handshake rustls holds the plaintext; past its 64 KiB the pipe says so, typed.
    let pki = TestPki::new(NAME);
    let mut client = Pipe::implicit_tls(pki.client_config().connect(NAME).unwrap());
    client.send_plaintext(&[b'x'; 1000]).unwrap();
    let err = client.send_plaintext(&vec![b'x'; 100_000]).unwrap_err();
    assert!(
        matches!(err, TlsError::BufferFull { limit: 65_536 }),
        "{err:?}"
    );
    assert_eq!(
        tls_records(&client.take_wire()),
        vec![0x16],
        "only the ClientHello left"
    );
}
