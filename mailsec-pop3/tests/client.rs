//! The POP3 client machine fed scripted server responses (RFC examples and SECURITY.md attack
//! transcripts) in every chunking, plus one session through real rustls with a tiny scripted
//! server.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mailsec_pop3::client::{
    AuthMethod, Client, ClientConfig, ClientError, ClientEvent, LeaveMode, LeaveOnServer, Request,
    UsageError,
};
use mailsec_pop3::{Capability, MessageNumber, ResponseCode, Stat, UniqueId, parse};
use mailsec_tls::sasl::{Credentials, InsecureAuth, Mechanism};
use mailsec_tls::testing::{Pair, TestPki};
use mailsec_tls::{ClientTls, Machine, Output, TlsInfo};

// ----- harness -----

/// How a burst of server bytes is cut (SECURITY.md "How to test a case").
#[derive(Clone, Copy, Debug)]
enum Cut {
    Whole,
    ByteByByte,
    AtCrlf,
    InsideCrlf,
    Every(usize),
}

const CUTS: [Cut; 5] = [
    Cut::Whole,
    Cut::ByteByByte,
    Cut::AtCrlf,
    Cut::InsideCrlf,
    Cut::Every(7),
];

fn cut(data: &[u8], how: Cut) -> Vec<&[u8]> {
    match how {
        Cut::Whole => vec![data],
        Cut::ByteByByte => data.chunks(1).collect(),
        Cut::Every(n) => data.chunks(n).collect(),
        Cut::AtCrlf | Cut::InsideCrlf => {
            let off = usize::from(matches!(how, Cut::InsideCrlf));
            let mut out = Vec::new();
            let mut start = 0;
            for i in 0..data.len().saturating_sub(1) {
                if &data[i..i + 2] == b"\r\n" {
                    let at = i + 1 + off;
                    if at > start && at < data.len() {
                        out.push(&data[start..at]);
                        start = at;
                    }
                }
            }
            out.push(&data[start..]);
            out
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn msg(n: u32) -> MessageNumber {
    MessageNumber::new(n).unwrap()
}

/// A client and everything it produced.
struct Run {
    client: Client,
    now: Instant,
    wire: Vec<u8>,
    /// Every byte ever sent.
    log: Vec<u8>,
    /// Bytes of `log` sent before the first `StartTls` (what an eavesdropper sees in clear).
    clear: Option<usize>,
    events: Vec<ClientEvent>,
    errors: Vec<ClientError>,
    starttls: usize,
    closed: bool,
}

impl Run {
    fn new(config: ClientConfig) -> Self {
        let now = Instant::now();
        let mut client = Client::new(config);
        client.start_clock(now);
        Run {
            client,
            now,
            wire: Vec::new(),
            log: Vec::new(),
            clear: None,
            events: Vec::new(),
            errors: Vec::new(),
            starttls: 0,
            closed: false,
        }
    }

    fn drain(&mut self) {
        while let Some(output) = self.client.poll_output() {
            match output {
                Output::Transmit(b) => {
                    assert!(!self.closed, "transmit after close");
                    self.wire.extend_from_slice(&b);
                    self.log.extend_from_slice(&b);
                }
                Output::Event(e) => self.events.push(e),
                Output::StartTls => {
                    self.starttls += 1;
                    self.clear.get_or_insert(self.log.len());
                }
                Output::Close => self.closed = true,
                Output::Error(e) => self.errors.push(e),
                _ => {}
            }
        }
    }

    fn feed(&mut self, data: &[u8], how: Cut) {
        for piece in cut(data, how) {
            self.client.handle_input(self.now, piece);
            self.drain();
        }
    }

    fn tls(&mut self) {
        self.client
            .handle_tls_established(self.now, &TlsInfo::for_testing("pop.example.test"));
        self.drain();
    }

    /// Wire bytes sent in clear (all of them if TLS never started).
    fn clear_wire(&self) -> &[u8] {
        &self.log[..self.clear.unwrap_or(self.log.len())]
    }

    fn take_wire(&mut self) -> Vec<u8> {
        self.drain();
        std::mem::take(&mut self.wire)
    }

    fn body(&self, id: mailsec_pop3::client::RequestId) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.events {
            if let ClientEvent::MessageData { id: i, data } = e {
                if *i == id {
                    out.extend_from_slice(data);
                }
            }
        }
        out
    }
}

/// Runs a conversation: each step feeds the server's bytes (`"<TLS>"` completes the
/// handshake instead), then checks what the client sent in answer.
fn converse(run: &mut Run, steps: &[(&str, &str)], how: Cut) {
    for (i, (server, client)) in steps.iter().enumerate() {
        if *server == "<TLS>" {
            run.tls();
        } else {
            run.feed(server.as_bytes(), how);
        }
        let sent = run.take_wire();
        assert_eq!(
            String::from_utf8_lossy(&sent),
            *client,
            "step {i} ({how:?}); errors {:?}",
            run.errors
        );
    }
}

fn plaintext_config(creds: Credentials) -> ClientConfig {
    ClientConfig::builder(creds)
        .tls(ClientTls::InsecurePlaintext)
        .insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls)
        .build()
}

fn alice() -> Credentials {
    Credentials::password("alice", "s3cret-pw")
}

fn no_credentials_on_wire(wire: &[u8]) {
    for bad in [
        &b"USER"[..],
        b"PASS",
        b"APOP",
        b"AUTH",
        b"s3cret-pw",
        b"alice",
    ] {
        assert!(
            !contains(wire, bad),
            "{} on the wire: {:?}",
            String::from_utf8_lossy(bad),
            String::from_utf8_lossy(wire)
        );
    }
}

// ----- RFC examples -----

const MSG1: &str = "Subject: one\r\n\r\nfirst message\r\n";
const MSG2: &str = "Subject: two\r\n\r\n.starts with a dot\r\n..two dots\r\n.\r\nlast\r\n";

fn stuffed(body: &str) -> String {
    let mut out = String::new();
    for line in body.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    out + ".\r\n"
}

/// RFC 1939 §10, with APOP (its digest for "tanstaaf" is the RFC's) over implicit TLS, and a
/// server that predates CAPA.
#[test]
fn rfc1939_example_session() {
    for how in CUTS {
        let config = ClientConfig::builder(Credentials::password("mrose", "tanstaaf"))
            .apop(true)
            .build();
        let mut run = Run::new(config);
        run.tls();
        let now = run.now;
        let c = &mut run.client;
        let stat = c.stat(now).unwrap();
        let list = c.list(now, None).unwrap();
        let r1 = c.retr(now, msg(1)).unwrap();
        c.dele(now, msg(1)).unwrap();
        let r2 = c.retr(now, msg(2)).unwrap();
        c.dele(now, msg(2)).unwrap();
        c.quit(now).unwrap();
        let retr1 = format!("+OK 120 octets\r\n{}", stuffed(MSG1));
        let retr2 = format!("+OK 200 octets\r\n{}", stuffed(MSG2));
        converse(
            &mut run,
            &[
                (
                    "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
                    "CAPA\r\n",
                ),
                (
                    "-ERR unknown command\r\n",
                    "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
                ),
                (
                    "+OK mrose's maildrop has 2 messages (320 octets)\r\n",
                    "STAT\r\n",
                ),
                ("+OK 2 320\r\n", "LIST\r\n"),
                (
                    "+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n",
                    "RETR 1\r\n",
                ),
                (&retr1, "DELE 1\r\n"),
                ("+OK message 1 deleted\r\n", "RETR 2\r\n"),
                (&retr2, "DELE 2\r\n"),
                ("+OK message 2 deleted\r\n", "QUIT\r\n"),
                ("+OK dewey POP3 server signing off (maildrop empty)\r\n", ""),
            ],
            how,
        );
        assert!(run.errors.is_empty(), "{how:?} {:?}", run.errors);
        assert!(run.closed);
        assert_eq!(run.body(r1), MSG1.as_bytes(), "{how:?}");
        assert_eq!(run.body(r2), MSG2.as_bytes(), "{how:?}");
        assert!(run.events.contains(&ClientEvent::Stat {
            id: stat,
            stat: Stat {
                count: 2,
                size: 320
            }
        }));
        let lists: Vec<_> = run
            .events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::List { id, listings } if *id == list => Some(listings.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(lists.len(), 1);
        assert_eq!(
            lists[0]
                .iter()
                .map(|l| (l.msg.get(), l.size))
                .collect::<Vec<_>>(),
            [(1, 120), (2, 200)]
        );
        assert!(matches!(
            run.events[1],
            ClientEvent::Ready {
                auth: AuthMethod::Apop,
                secure: true,
                ..
            }
        ));
        assert_eq!(
            run.events.last(),
            Some(&ClientEvent::Closed {
                update_acknowledged: true
            })
        );
    }
}

const RFC2449_CAPA: &str = "+OK Capability list follows\r\nTOP\r\nUSER\r\nSASL CRAM-MD5 KERBEROS_V4\r\nRESP-CODES\r\nLOGIN-DELAY 900\r\nPIPELINING\r\nEXPIRE 60\r\nUIDL\r\nIMPLEMENTATION Shlemazle-Plotz-v302\r\n.\r\n";

/// RFC 2449 §5's CAPA example; no mechanism we implement, so USER/PASS; PIPELINING used.
#[test]
fn rfc2449_capa_then_pipelined_transaction() {
    for how in CUTS {
        let mut run = Run::new(
            ClientConfig::builder(alice())
                .tls(ClientTls::StartTlsOpportunistic)
                .build(),
        );
        // Pretend this connection was upgraded already: feed greeting in clear, STLS offered.
        converse(
            &mut run,
            &[
                ("+OK ready\r\n", "CAPA\r\n"),
                ("+OK\r\nSTLS\r\n.\r\n", "STLS\r\n"),
                ("+OK Begin TLS negotiation\r\n", ""),
                ("<TLS>", "CAPA\r\n"),
                (RFC2449_CAPA, "USER alice\r\n"),
                ("+OK\r\n", "PASS s3cret-pw\r\n"),
            ],
            how,
        );
        let now = run.now;
        let stat = run.client.stat(now).unwrap();
        let uidl = run.client.uidl(now, None).unwrap();
        let top = run.client.top(now, msg(1), 0).unwrap();
        let noop = run.client.noop(now).unwrap();
        // Not yet logged in: nothing sent.
        assert!(run.take_wire().is_empty());
        converse(
            &mut run,
            &[
                (
                    "+OK maildrop locked\r\n",
                    "STAT\r\nUIDL\r\nTOP 1 0\r\nNOOP\r\n",
                ),
                (
                    "+OK 1 42\r\n+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n.\r\n+OK\r\nSubject: x\r\n\r\n.\r\n+OK\r\n",
                    "",
                ),
            ],
            how,
        );
        assert!(run.errors.is_empty(), "{how:?} {:?}", run.errors);
        let Some(ClientEvent::Ready {
            capabilities,
            secure,
            auth,
        }) = run
            .events
            .iter()
            .find(|e| matches!(e, ClientEvent::Ready { .. }))
        else {
            panic!("not ready: {:?}", run.events)
        };
        assert!(*secure);
        assert_eq!(*auth, AuthMethod::UserPass);
        assert!(
            capabilities.has_pipelining() && capabilities.has_uidl() && !capabilities.has_stls()
        );
        assert_eq!(capabilities.login_delay(), Some(900));
        assert_eq!(
            capabilities.implementation().as_deref(),
            Some("Shlemazle-Plotz-v302")
        );
        // Results in order.
        let after: Vec<_> = run
            .events
            .iter()
            .skip_while(|e| !matches!(e, ClientEvent::Ready { .. }))
            .skip(1)
            .collect();
        assert!(matches!(after[0], ClientEvent::Stat { id, .. } if *id == stat));
        assert!(
            matches!(after[1], ClientEvent::Uidl { id, listings } if *id == uidl && listings[0].uid.as_bytes() == b"whqtswO00WBw418f9t5JxYwZ")
        );
        assert_eq!(run.body(top), b"Subject: x\r\n\r\n");
        assert!(matches!(after.last(), Some(ClientEvent::Noop { id }) if *id == noop));
    }
}

/// RFC 2595 §4's STLS example with StartTlsRequired; amnesia: the CAPA over TLS is asked
/// for again and used.
#[test]
fn rfc2595_stls_required() {
    for how in CUTS {
        let mut run = Run::new(
            ClientConfig::builder(alice())
                .tls(ClientTls::StartTlsRequired)
                .build(),
        );
        converse(
            &mut run,
            &[
                ("+OK POP3 server ready\r\n", "CAPA\r\n"),
                (
                    "+OK\r\nUSER\r\nSTLS\r\nSASL PLAIN\r\nPIPELINING\r\n.\r\n",
                    "STLS\r\n",
                ),
                ("+OK Begin TLS negotiation\r\n", ""),
                ("<TLS>", "CAPA\r\n"),
                // Over TLS the server lists no SASL and no PIPELINING.
                ("+OK\r\nUSER\r\n.\r\n", "USER alice\r\n"),
                ("+OK\r\n", "PASS s3cret-pw\r\n"),
                ("+OK\r\n", ""),
            ],
            how,
        );
        assert!(run.errors.is_empty(), "{:?}", run.errors);
        assert_eq!(run.starttls, 1);
        assert!(run.client.is_secure());
        assert_eq!(run.events[0], ClientEvent::Secured);
        let Some(ClientEvent::Ready { capabilities, .. }) = run.events.get(1) else {
            panic!("{:?}", run.events)
        };
        // Capabilities from before TLS are gone (no PIPELINING, no SASL PLAIN).
        assert_eq!(capabilities.iter().collect::<Vec<_>>(), [&Capability::User]);
        let now = run.now;
        run.client.stat(now).unwrap();
        run.client.noop(now).unwrap();
        // No PIPELINING over TLS: one command at a time.
        assert_eq!(run.take_wire(), b"STAT\r\n");
        run.feed(b"+OK 0 0\r\n", how);
        assert_eq!(run.take_wire(), b"NOOP\r\n");
    }
}

/// RFC 5034 §6: AUTH PLAIN with the initial response, over implicit TLS.
#[test]
fn rfc5034_auth_plain_initial_response() {
    for how in CUTS {
        let creds = Credentials::password("test", "test").with_authzid("test");
        let mut run = Run::new(ClientConfig::builder(creds).build());
        run.tls();
        converse(
            &mut run,
            &[
                ("+OK POP3 server ready\r\n", "CAPA\r\n"),
                (
                    "+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n",
                    "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n",
                ),
                ("+OK Maildrop locked and ready\r\n", ""),
            ],
            how,
        );
        assert!(run.errors.is_empty(), "{:?}", run.errors);
        assert_eq!(
            run.client.auth_method(),
            Some(AuthMethod::Sasl(Mechanism::Plain))
        );
    }
}

/// RFC 5034 §4: LOGIN answers `+ ` challenges; an initial response too long for the 255-octet
/// line waits for the empty challenge.
#[test]
fn rfc5034_continuations() {
    for how in CUTS {
        let mut run = Run::new(
            ClientConfig::builder(alice())
                .mechanisms([Mechanism::Login])
                .build(),
        );
        run.tls();
        converse(
            &mut run,
            &[
                ("+OK ready\r\n", "CAPA\r\n"),
                ("+OK\r\nSASL PLAIN LOGIN\r\n.\r\n", "AUTH LOGIN\r\n"),
                ("+ VXNlcm5hbWU6\r\n", "YWxpY2U=\r\n"),
                ("+ UGFzc3dvcmQ6\r\n", "czNjcmV0LXB3\r\n"),
                ("+OK\r\n", ""),
            ],
            how,
        );
        assert!(run.errors.is_empty(), "{:?}", run.errors);

        let token = "t".repeat(300);
        let creds = Credentials::bearer_token("bob", token.as_str());
        let mut run = Run::new(ClientConfig::builder(creds).build());
        run.tls();
        let ir = mailsec_tls::sasl::wire::encode(
            format!("user=bob\x01auth=Bearer {token}\x01\x01").as_bytes(),
        );
        converse(
            &mut run,
            &[
                ("+OK ready\r\n", "CAPA\r\n"),
                ("+OK\r\nSASL XOAUTH2\r\n.\r\n", "AUTH XOAUTH2\r\n"),
                ("+ \r\n", &format!("{ir}\r\n")),
                ("+OK\r\n", ""),
            ],
            how,
        );
        assert!(run.errors.is_empty(), "{:?}", run.errors);
        assert_eq!(
            run.client.auth_method(),
            Some(AuthMethod::Sasl(Mechanism::XOAuth2))
        );
    }
}

#[test]
fn preferred_mechanism_order_and_policy() {
    // The configured order wins among offered, permitted mechanisms.
    let mut run = Run::new(
        ClientConfig::builder(alice())
            .mechanisms([Mechanism::Login, Mechanism::Plain])
            .build(),
    );
    run.tls();
    run.feed(
        b"+OK\r\n+OK\r\nSASL SCRAM-SHA-256 PLAIN\r\n.\r\n",
        Cut::Whole,
    );
    let wire = String::from_utf8(run.take_wire()).unwrap();
    assert!(
        wire.ends_with("AUTH PLAIN AGFsaWNlAHMzY3JldC1wdw==\r\n"),
        "{wire:?} {:?}",
        run.errors
    );
    // Preferences naming nothing offered fall back to USER/PASS, or fail when it is off.
    let mut run = Run::new(
        ClientConfig::builder(alice())
            .mechanisms([Mechanism::Login])
            .user_pass(false)
            .build(),
    );
    run.tls();
    run.feed(b"+OK\r\n+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n", Cut::Whole);
    assert!(matches!(run.errors[..], [ClientError::NoUsableAuth(_)]));
    assert_eq!(run.take_wire(), b"CAPA\r\n");
}

/// The line after the `AUTH ... ` prefix or a continuation answer, decoded.
fn sent_b64(line: &[u8], prefix: &str) -> Vec<u8> {
    let text = std::str::from_utf8(line).unwrap();
    let text = text
        .strip_prefix(prefix)
        .unwrap()
        .strip_suffix("\r\n")
        .unwrap();
    mailsec_tls::sasl::wire::decode(text.as_bytes()).unwrap()
}

/// SCRAM-SHA-256 through AUTH continuations (RFC 5034 §4, RFC 7677), against the shared
/// SASL server; the client checks the server's signature and refuses a wrong one.
#[test]
fn scram_sha_256_with_server_signature() {
    use mailsec_tls::sasl::{CheckAnswer, ScramStored, ServerExchange, ServerStep};
    let stored = ScramStored::derive_with_random_salt("s3cret-pw", 4096).unwrap();
    for tamper in [false, true] {
        for how in CUTS {
            let mut run = Run::new(ClientConfig::builder(alice()).build());
            run.tls();
            run.feed(b"+OK\r\n", how);
            assert_eq!(run.take_wire(), b"CAPA\r\n");
            run.feed(b"+OK\r\nSASL PLAIN SCRAM-SHA-256\r\nUSER\r\n.\r\n", how);
            let first = sent_b64(&run.take_wire(), "AUTH SCRAM-SHA-256 ");
            let mut server = ServerExchange::new(Mechanism::ScramSha256);
            let ServerStep::Verify(_) = server.start(Some(&first)) else {
                panic!()
            };
            let ServerStep::Challenge(server_first) =
                server.answer(CheckAnswer::ScramCredentials(Some(stored.clone())))
            else {
                panic!()
            };
            let challenge = format!("+ {}\r\n", mailsec_tls::sasl::wire::encode(&server_first));
            run.feed(challenge.as_bytes(), how);
            let wire = run.take_wire();
            let client_final = sent_b64(&wire, "");
            let ServerStep::Success {
                additional_data: Some(mut v),
                ..
            } = server.respond(&client_final)
            else {
                panic!()
            };
            if tamper {
                let last = v.len() - 2;
                v[last] ^= 1;
            }
            let challenge = format!("+ {}\r\n", mailsec_tls::sasl::wire::encode(&v));
            run.feed(challenge.as_bytes(), how);
            if tamper {
                assert_eq!(run.take_wire(), b"*\r\n");
                assert!(
                    matches!(run.errors[..], [ClientError::Sasl(_)]),
                    "{:?}",
                    run.errors
                );
                assert!(run.closed);
                continue;
            }
            assert_eq!(run.take_wire(), b"\r\n");
            run.feed(b"+OK\r\n", how);
            assert!(run.errors.is_empty(), "{:?}", run.errors);
            assert_eq!(
                run.client.auth_method(),
                Some(AuthMethod::Sasl(Mechanism::ScramSha256))
            );
            assert!(!contains(&run.log, b"s3cret-pw"));
        }
    }
}

#[test]
fn auth_failure_ends_the_session_with_the_code() {
    for how in CUTS {
        let mut run = Run::new(plaintext_config(alice()));
        converse(
            &mut run,
            &[
                ("+OK\r\n", "CAPA\r\n"),
                ("+OK\r\nUSER\r\nAUTH-RESP-CODE\r\n.\r\n", "USER alice\r\n"),
                ("+OK\r\n", "PASS s3cret-pw\r\n"),
                ("-ERR [AUTH] invalid\x1b[2J password\r\n", ""),
            ],
            how,
        );
        assert_eq!(
            run.errors,
            [ClientError::AuthFailed {
                method: AuthMethod::UserPass,
                code: Some(ResponseCode::Auth),
                text: "invalid[2J password".into()
            }]
        );
        assert!(run.closed);
        assert_eq!(run.client.stat(run.now), Err(UsageError::Closed));
    }
}

// ----- SECURITY.md client classes -----

fn required() -> ClientConfig {
    ClientConfig::builder(alice())
        .tls(ClientTls::StartTlsRequired)
        .build()
}

#[test]
fn response_injection_after_stls_go_ahead() {
    for how in CUTS {
        let mut run = Run::new(required());
        run.feed(b"+OK ready\r\n", how);
        run.feed(b"+OK\r\nSTLS\r\nUSER\r\n.\r\n", how);
        run.feed(b"+OK Begin TLS\r\n+OK\r\nUSER\r\n.\r\n", how);
        assert_eq!(run.errors.len(), 1, "{how:?}");
        assert!(
            matches!(run.errors[0], ClientError::ResponseInjection(n) if n > 0),
            "{:?}",
            run.errors
        );
        assert!(run.closed);
        // Whole: the upgrade never starts; otherwise the bytes came during the handshake.
        if matches!(how, Cut::Whole) {
            assert_eq!(run.starttls, 0);
        }
        assert_eq!(run.wire, b"CAPA\r\nSTLS\r\n");
        // Nothing more happens, even if the driver completes the handshake.
        run.tls();
        run.feed(b"+OK\r\n", how);
        assert_eq!(run.wire, b"CAPA\r\nSTLS\r\n");
        assert!(
            !run.events
                .iter()
                .any(|e| matches!(e, ClientEvent::Ready { .. }))
        );
    }
}

#[test]
fn stls_stripping_fails_closed() {
    type Check = fn(&ClientError) -> bool;
    let cases: [(&str, &str, Check); 6] = [
        ("+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n", "", |e| {
            matches!(e, ClientError::StlsNotOffered)
        }),
        ("-ERR no CAPA\r\n", "", |e| {
            matches!(e, ClientError::CapabilitiesRefused { .. })
        }),
        (
            "+OK\r\nSTLS\r\n.\r\n",
            "-ERR [SYS/TEMP] TLS broken\r\n",
            |e| {
                matches!(
                    e,
                    ClientError::StlsRefused {
                        code: Some(ResponseCode::SysTemp),
                        ..
                    }
                )
            },
        ),
        ("+OK\r\nSTLS\r\n.\r\n", "* OK go ahead\r\n", |e| {
            matches!(e, ClientError::Malformed { .. })
        }),
        ("+OK\r\nSTLS\r\n.\r\n", "+ \r\n", |e| {
            matches!(e, ClientError::UnexpectedResponse(_))
        }),
        ("+OK\r\nSTLS\r\n.\r\n", "", |e| {
            matches!(e, ClientError::ConnectionClosed)
        }),
    ];
    for how in CUTS {
        for (capa, stls, check) in cases {
            let mut run = Run::new(required());
            run.feed(b"+OK ready <1.2@host>\r\n", how);
            run.feed(capa.as_bytes(), how);
            run.feed(stls.as_bytes(), how);
            run.client.handle_eof(run.now);
            run.drain();
            assert_eq!(run.errors.len(), 1, "{capa:?} {stls:?}: {:?}", run.errors);
            assert!(check(&run.errors[0]), "{capa:?} {stls:?}: {:?}", run.errors);
            assert_eq!(run.starttls, 0);
            no_credentials_on_wire(&run.wire);
        }
    }
}

#[test]
fn invalid_greeting_does_not_skip_the_policy() {
    for config in [required(), plaintext_config(alice())] {
        for greeting in [
            "-ERR [SYS/TEMP] busy\r\n",
            "HTTP/1.1 200 OK\r\n",
            "+OKAY\r\n",
        ] {
            for how in CUTS {
                let mut run = Run::new(config.clone());
                run.feed(greeting.as_bytes(), how);
                run.feed(b"+OK\r\nUSER\r\n.\r\n+OK\r\n+OK\r\n", how);
                assert_eq!(run.errors.len(), 1);
                assert!(matches!(
                    run.errors[0],
                    ClientError::GreetingRefused { .. } | ClientError::InvalidGreeting(_)
                ));
                assert!(run.wire.is_empty(), "{greeting:?}");
            }
        }
    }
}

#[test]
fn cleartext_credentials_never_sent() {
    // Opportunistic without STLS offered, opportunistic with STLS refused, plaintext mode:
    // InsecureAuth::Refuse (the default) sends no credential of any kind, SCRAM included.
    let configs = [
        (
            ClientTls::StartTlsOpportunistic,
            "+OK\r\nUSER\r\nSASL SCRAM-SHA-256 PLAIN\r\n.\r\n",
            "",
        ),
        (
            ClientTls::StartTlsOpportunistic,
            "+OK\r\nSTLS\r\nUSER\r\n.\r\n",
            "-ERR not now\r\n",
        ),
        (
            ClientTls::InsecurePlaintext,
            "+OK\r\nUSER\r\nSTLS\r\nSASL PLAIN\r\n.\r\n",
            "",
        ),
        (ClientTls::InsecurePlaintext, "-ERR\r\n", ""),
    ];
    for how in CUTS {
        for (tls, capa, stls) in configs {
            let mut run = Run::new(ClientConfig::builder(alice()).tls(tls).apop(true).build());
            run.feed(b"+OK ready <1.2@host>\r\n", how);
            run.feed(capa.as_bytes(), how);
            run.feed(stls.as_bytes(), how);
            assert!(
                matches!(run.errors[..], [ClientError::NoUsableAuth(_)]),
                "{tls:?} {capa:?}: {:?}",
                run.errors
            );
            no_credentials_on_wire(&run.wire);
        }
    }
}

#[test]
fn plaintext_capabilities_do_not_pick_the_mechanism() {
    // Before TLS the server (or a meddler) offers only PLAIN; over TLS only SCRAM-SHA-256 and
    // USER. The client must not use PLAIN.
    for how in CUTS {
        let mut run = Run::new(
            ClientConfig::builder(alice())
                .tls(ClientTls::StartTlsRequired)
                .sasl(false)
                .build(),
        );
        converse(
            &mut run,
            &[
                ("+OK\r\n", "CAPA\r\n"),
                ("+OK\r\nSTLS\r\nSASL PLAIN\r\n.\r\n", "STLS\r\n"),
                ("+OK\r\n", ""),
                ("<TLS>", "CAPA\r\n"),
                ("+OK\r\nUSER\r\n.\r\n", "USER alice\r\n"),
            ],
            how,
        );
        let mut run = Run::new(required());
        converse(
            &mut run,
            &[
                ("+OK\r\n", "CAPA\r\n"),
                ("+OK\r\nSTLS\r\nSASL PLAIN\r\n.\r\n", "STLS\r\n"),
                ("+OK\r\n", ""),
                ("<TLS>", "CAPA\r\n"),
                ("+OK\r\nSASL X-UNKNOWN\r\n.\r\n", "USER alice\r\n"),
            ],
            how,
        );
        assert_eq!(run.clear_wire(), b"CAPA\r\nSTLS\r\n");
        assert!(run.errors.is_empty());
    }
}

#[test]
fn apop_timestamp_from_plaintext_is_forgotten() {
    let mut run = Run::new(
        ClientConfig::builder(alice())
            .tls(ClientTls::StartTlsRequired)
            .apop(true)
            .user_pass(false)
            .build(),
    );
    converse(
        &mut run,
        &[
            ("+OK <1.2@host>\r\n", "CAPA\r\n"),
            ("+OK\r\nSTLS\r\n.\r\n", "STLS\r\n"),
            ("+OK\r\n", ""),
            ("<TLS>", "CAPA\r\n"),
            ("+OK\r\n.\r\n", ""),
        ],
        Cut::Whole,
    );
    assert!(matches!(run.errors[..], [ClientError::NoUsableAuth(_)]));
}

#[test]
fn implicit_tls_refuses_plaintext() {
    let mut run = Run::new(ClientConfig::builder(alice()).build());
    run.feed(b"+OK ready\r\n", Cut::Whole);
    assert_eq!(run.errors, [ClientError::PlaintextBeforeTls]);
    assert!(run.wire.is_empty());
}

fn logged_in(config: ClientConfig, capa: &str) -> Run {
    let mut run = Run::new(config);
    run.tls();
    run.feed(b"+OK\r\n", Cut::Whole);
    run.feed(capa.as_bytes(), Cut::Whole);
    run.feed(b"+OK\r\n", Cut::Whole);
    run.feed(b"+OK\r\n", Cut::Whole);
    assert!(run.client.is_ready(), "{:?}", run.errors);
    run.take_wire();
    run
}

#[test]
fn unbounded_responses_are_bounded() {
    for how in CUTS {
        // A status line without end.
        let mut run = logged_in(
            ClientConfig::builder(alice()).build(),
            "+OK\r\nUSER\r\n.\r\n",
        );
        run.client.stat(run.now).unwrap();
        run.feed(&vec![b'+'; 100_000], how);
        assert!(
            matches!(run.errors[..], [ClientError::Framing(_)]),
            "{how:?} {:?}",
            run.errors
        );

        // Too many listing entries.
        let config = ClientConfig::builder(alice())
            .max_listing_entries(3)
            .build();
        let mut run = logged_in(config, "+OK\r\nUSER\r\n.\r\n");
        run.client.list(run.now, None).unwrap();
        run.feed(b"+OK\r\n1 1\r\n2 2\r\n3 3\r\n4 4\r\n.\r\n", how);
        assert_eq!(run.errors, [ClientError::TooManyEntries { limit: 3 }]);

        // Too many capabilities.
        let mut run = Run::new(ClientConfig::builder(alice()).max_capabilities(4).build());
        run.tls();
        run.feed(b"+OK\r\n", how);
        run.feed(b"+OK\r\nA\r\nB\r\nC\r\nD\r\nE\r\n.\r\n", how);
        assert_eq!(run.errors, [ClientError::TooManyCapabilities { limit: 4 }]);
        no_credentials_on_wire(&run.wire);

        // A body over the limit: dropped, the session goes on.
        let config = ClientConfig::builder(alice())
            .max_message_size(Some(10))
            .build();
        let mut run = logged_in(config, "+OK\r\nUSER\r\nPIPELINING\r\n.\r\n");
        let big = run.client.retr(run.now, msg(1)).unwrap();
        let small = run.client.retr(run.now, msg(2)).unwrap();
        run.feed(
            b"+OK\r\n0123456789abcdef\r\nmore\r\n.\r\n+OK\r\nsmall\r\n.\r\n",
            how,
        );
        assert!(run.errors.is_empty(), "{:?}", run.errors);
        assert!(run.body(big).len() <= 10);
        assert!(run.events.contains(&ClientEvent::MessageTooLarge {
            id: big,
            msg: msg(1),
            limit: 10
        }));
        assert_eq!(run.body(small), b"small\r\n");
        assert!(run.events.contains(&ClientEvent::MessageEnd {
            id: small,
            msg: msg(2),
            size: 7
        }));
    }
}

#[test]
fn timeouts() {
    let timeout = Duration::from_secs(30);
    let config = ClientConfig::builder(alice())
        .response_timeout(timeout)
        .build();
    // A server that never greets.
    let mut run = Run::new(config.clone());
    let t0 = run.now;
    assert_eq!(run.client.poll_timeout(), Some(t0 + timeout));
    run.client
        .handle_timeout(t0 + timeout - Duration::from_secs(1));
    run.drain();
    assert!(run.errors.is_empty());
    run.client.handle_timeout(t0 + timeout);
    run.drain();
    assert_eq!(run.errors, [ClientError::Timeout]);
    assert!(run.closed);

    // Idle after login: no deadline; a command arms it; progress pushes it on.
    let mut run = logged_in(config, "+OK\r\nUSER\r\n.\r\n");
    assert_eq!(run.client.poll_timeout(), None);
    let later = run.now + Duration::from_secs(3600);
    run.client.retr(later, msg(1)).unwrap();
    assert_eq!(run.client.poll_timeout(), Some(later + timeout));
    run.now = later + Duration::from_secs(20);
    run.feed(b"+OK\r\npart", Cut::Whole);
    assert_eq!(run.client.poll_timeout(), Some(run.now + timeout));
    run.feed(b"ial\r\n.\r\n", Cut::Whole);
    assert_eq!(run.client.poll_timeout(), None);
    assert!(run.errors.is_empty());
}

#[test]
fn retr_streamed_and_unstuffed_in_every_chunking() {
    let body = "From: a\r\n\r\n.\r\n..\r\n...x\r\n\r\n.\r\nend\r\n";
    let stuffed = stuffed(body);
    for how in CUTS {
        let mut run = logged_in(
            ClientConfig::builder(alice()).build(),
            "+OK\r\nUSER\r\n.\r\n",
        );
        let id = run.client.retr(run.now, msg(3)).unwrap();
        let noop = run.client.noop(run.now).unwrap();
        assert_eq!(run.take_wire(), b"RETR 3\r\n");
        // The NOOP answer would only be read if the body ended early.
        let input = format!("+OK\r\n{stuffed}");
        run.feed(input.as_bytes(), how);
        assert_eq!(run.body(id), body.as_bytes(), "{how:?}");
        assert_eq!(
            run.events.last(),
            Some(&ClientEvent::MessageEnd {
                id,
                msg: msg(3),
                size: body.len() as u64
            })
        );
        assert_eq!(run.take_wire(), b"NOOP\r\n");
        run.feed(b"+OK\r\n", how);
        assert_eq!(run.events.last(), Some(&ClientEvent::Noop { id: noop }));
        assert!(run.errors.is_empty());
        // Every chunk came as its own event with no copying into one buffer.
        if matches!(how, Cut::ByteByByte) {
            assert!(run.events.len() > 10);
        }
    }
}

#[test]
fn pipelining_keeps_order() {
    for how in CUTS {
        let mut run = logged_in(
            ClientConfig::builder(alice()).build(),
            "+OK\r\nUSER\r\nPIPELINING\r\n.\r\n",
        );
        let now = run.now;
        let ids = [
            run.client.stat(now).unwrap(),
            run.client.list(now, Some(msg(1))).unwrap(),
            run.client.retr(now, msg(1)).unwrap(),
            run.client.dele(now, msg(9)).unwrap(),
            run.client.uidl(now, Some(msg(1))).unwrap(),
            run.client.rset(now).unwrap(),
            run.client.quit(now).unwrap(),
        ];
        assert_eq!(run.client.noop(now), Err(UsageError::Quitting));
        assert_eq!(
            String::from_utf8(run.take_wire()).unwrap(),
            "STAT\r\nLIST 1\r\nRETR 1\r\nDELE 9\r\nUIDL 1\r\nRSET\r\nQUIT\r\n"
        );
        run.feed(
            b"+OK 1 5\r\n+OK 1 5\r\n+OK\r\nabc\r\n.\r\n-ERR [SYS/PERM] no such message\r\n+OK 1 uid-1\r\n+OK\r\n-ERR [IN-USE] some deleted messages not removed\r\n",
            how,
        );
        assert!(run.errors.is_empty(), "{:?}", run.errors);
        assert_eq!(run.body(ids[2]), b"abc\r\n");
        let ev: Vec<&ClientEvent> = run
            .events
            .iter()
            .filter(|e| !matches!(e, ClientEvent::MessageData { .. }))
            .collect();
        let n = ev.len();
        assert!(matches!(ev[n - 7], ClientEvent::Stat { id, .. } if *id == ids[0]));
        assert!(
            matches!(ev[n - 6], ClientEvent::List { id, listings } if *id == ids[1] && listings[0].size == 5)
        );
        assert!(matches!(ev[n - 5], ClientEvent::MessageEnd { id, .. } if *id == ids[2]));
        let ClientEvent::Failed { id, error } = ev[n - 4] else {
            panic!("{:?}", ev[n - 4])
        };
        assert_eq!(*id, ids[3]);
        assert_eq!(error.request, Request::Dele(msg(9)));
        assert_eq!(error.code, Some(ResponseCode::SysPerm));
        assert_eq!(error.text, "no such message");
        assert!(matches!(ev[n - 3], ClientEvent::Uidl { id, .. } if *id == ids[4]));
        assert!(matches!(ev[n - 2], ClientEvent::Reset { id } if *id == ids[5]));
        assert_eq!(
            *ev[n - 1],
            ClientEvent::Closed {
                update_acknowledged: false
            }
        );
        assert!(run.closed);
    }
}

#[test]
fn unsolicited_and_eof() {
    let mut run = logged_in(
        ClientConfig::builder(alice()).build(),
        "+OK\r\nUSER\r\n.\r\n",
    );
    run.feed(b"+OK surprise\r\n", Cut::Whole);
    assert!(matches!(
        run.errors[..],
        [ClientError::UnexpectedResponse(_)]
    ));

    let mut run = logged_in(
        ClientConfig::builder(alice()).build(),
        "+OK\r\nUSER\r\n.\r\n",
    );
    run.client.quit(run.now).unwrap();
    run.client.handle_eof(run.now);
    run.drain();
    assert!(run.errors.is_empty());
    assert_eq!(
        run.events.last(),
        Some(&ClientEvent::Closed {
            update_acknowledged: false
        })
    );

    let mut run = logged_in(
        ClientConfig::builder(alice()).build(),
        "+OK\r\nUSER\r\n.\r\n",
    );
    run.client.handle_eof(run.now);
    run.drain();
    assert_eq!(run.errors, [ClientError::ConnectionClosed]);
}

// ----- leave on server -----

/// A maildrop polled by a scripted exchange: UIDL, then RETR (and DELE) what the helper says.
fn poll(maildrop: &mut Vec<(String, String)>, state: &mut LeaveOnServer) -> Vec<String> {
    let mut run = logged_in(
        ClientConfig::builder(alice()).build(),
        "+OK\r\nUSER\r\nUIDL\r\n.\r\n",
    );
    let uidl = run.client.uidl(run.now, None).unwrap();
    let mut listing = String::from("+OK\r\n");
    for (i, (uid, _)) in maildrop.iter().enumerate() {
        listing.push_str(&format!("{} {uid}\r\n", i + 1));
    }
    listing.push_str(".\r\n");
    run.feed(listing.as_bytes(), Cut::ByteByByte);
    let listings = run
        .events
        .iter()
        .find_map(|e| match e {
            ClientEvent::Uidl { id, listings } if *id == uidl => Some(listings.clone()),
            _ => None,
        })
        .expect("UIDL answered");
    let mut got = Vec::new();
    let mut delete = Vec::new();
    for n in state.plan(&listings) {
        let id = run.client.retr(run.now, n).unwrap();
        let body = &maildrop[n.get() as usize - 1].1;
        run.feed(
            format!("+OK\r\n{}", stuffed(body)).as_bytes(),
            Cut::Every(3),
        );
        assert!(
            run.events
                .iter()
                .any(|e| matches!(e, ClientEvent::MessageEnd { id: i, .. } if *i == id))
        );
        got.push(String::from_utf8(run.body(id)).unwrap());
        if state.fetched(n) {
            run.client.dele(run.now, n).unwrap();
            run.feed(b"+OK\r\n", Cut::Whole);
            delete.push(n.get() as usize - 1);
        }
    }
    run.client.quit(run.now).unwrap();
    run.feed(b"+OK\r\n", Cut::Whole);
    assert!(run.errors.is_empty());
    for i in delete.into_iter().rev() {
        maildrop.remove(i);
    }
    got
}

#[test]
fn leave_on_server_two_machines_see_each_message_once() {
    let mut maildrop = vec![
        ("uid-a".to_owned(), "A\r\n".to_owned()),
        ("uid-b".to_owned(), "B\r\n".to_owned()),
    ];
    let mut laptop = LeaveOnServer::new([], LeaveMode::Keep);
    let mut phone = LeaveOnServer::new([], LeaveMode::Keep);
    assert_eq!(poll(&mut maildrop, &mut laptop), ["A\r\n", "B\r\n"]);
    assert!(poll(&mut maildrop, &mut laptop).is_empty());
    maildrop.push(("uid-c".to_owned(), "C\r\n".to_owned()));
    assert_eq!(poll(&mut maildrop, &mut phone), ["A\r\n", "B\r\n", "C\r\n"]);
    assert_eq!(poll(&mut maildrop, &mut laptop), ["C\r\n"]);
    assert!(poll(&mut maildrop, &mut phone).is_empty());
    assert_eq!(maildrop.len(), 3);

    // The persisted set restores the state.
    let saved: Vec<UniqueId> = laptop.seen().cloned().collect();
    let mut restored = LeaveOnServer::new(saved, LeaveMode::Keep);
    assert!(poll(&mut maildrop, &mut restored).is_empty());

    // Delete mode: fetched messages are DELEted, and marked seen anyway.
    let mut desktop = LeaveOnServer::new([], LeaveMode::Delete);
    assert_eq!(poll(&mut maildrop, &mut desktop).len(), 3);
    assert!(maildrop.is_empty());
    // Pruning forgets what the server no longer has.
    laptop.forget_missing(&[]);
    assert_eq!(laptop.seen().count(), 0);
}

#[test]
fn leave_on_server_duplicate_and_unknown() {
    let listing = vec![
        parse::uidl_listing(b"1 x").unwrap(),
        parse::uidl_listing(b"2 x").unwrap(),
        parse::uidl_listing(b"3 y").unwrap(),
    ];
    let mut state = LeaveOnServer::new([UniqueId::new(b"y").unwrap()], LeaveMode::Delete);
    assert_eq!(state.plan(&listing), [msg(1)]);
    assert!(!state.fetched(msg(3)));
    assert!(state.fetched(msg(1)));
    assert!(state.is_seen(&UniqueId::new(b"x").unwrap()));
}

// ----- through real rustls -----

/// A tiny scripted POP3 server: STLS, then CAPA/USER/PASS/STAT/RETR/QUIT from a fixed script.
struct MiniServer {
    out: VecDeque<Output<String, std::io::Error>>,
    buf: Vec<u8>,
    secure: bool,
    upgrading: bool,
    implicit: bool,
}

impl MiniServer {
    fn new() -> Self {
        let mut s = MiniServer::implicit();
        s.implicit = false;
        s.send("+OK mini ready <9.9@mini>\r\n");
        s
    }

    /// Greets once TLS is up (port 995).
    fn implicit() -> Self {
        MiniServer {
            out: VecDeque::new(),
            buf: Vec::new(),
            secure: false,
            upgrading: false,
            implicit: true,
        }
    }

    fn send(&mut self, text: &str) {
        self.out
            .push_back(Output::Transmit(Bytes::copy_from_slice(text.as_bytes())));
    }

    fn command(&mut self, line: &str) {
        self.out.push_back(Output::Event(line.to_owned()));
        let reply = match line {
            "CAPA" if self.secure => "+OK\r\nUSER\r\nPIPELINING\r\nUIDL\r\n.\r\n",
            "CAPA" => "+OK\r\nSTLS\r\n.\r\n",
            "STLS" => {
                self.send("+OK begin TLS\r\n");
                self.out.push_back(Output::StartTls);
                self.upgrading = true;
                return;
            }
            "USER alice" | "PASS s3cret-pw" if self.secure => "+OK\r\n",
            "STAT" => "+OK 1 12\r\n",
            "RETR 1" => "+OK\r\n..dot\r\nbody\r\n.\r\n",
            "QUIT" => {
                self.send("+OK bye\r\n");
                self.out.push_back(Output::Close);
                return;
            }
            _ => "-ERR no\r\n",
        };
        self.send(reply);
    }
}

impl Machine for MiniServer {
    type Event = String;
    type Error = std::io::Error;

    fn handle_input(&mut self, _now: Instant, data: &[u8]) {
        self.buf.extend_from_slice(data);
        while let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.buf.drain(..i + 2).collect();
            let line = String::from_utf8_lossy(&line[..i]).into_owned();
            if self.upgrading {
                return;
            }
            self.command(&line);
        }
    }
    fn handle_eof(&mut self, _now: Instant) {
        self.out.push_back(Output::Close);
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn handle_tls_established(&mut self, _now: Instant, _info: &TlsInfo) {
        self.secure = true;
        self.upgrading = false;
        self.buf.clear();
        if self.implicit {
            self.send("+OK mini ready over TLS <7.7@mini>\r\n");
        }
    }
    fn poll_output(&mut self) -> Option<Output<String, std::io::Error>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

#[test]
fn stls_session_through_rustls() {
    let pki = TestPki::new("pop.example.test");
    for chunking in mailsec_tls::testing::Chunking::BASIC {
        let mut pair = Pair::new(Client::new(required()), MiniServer::new(), &pki);
        pair.set_chunking(chunking);
        let now = pair.now();
        let stat = pair.client.machine.stat(now).unwrap();
        let retr = pair.client.machine.retr(now, msg(1)).unwrap();
        pair.client.machine.quit(now).unwrap();
        pair.run();
        assert!(pair.client.errors.is_empty(), "{:?}", pair.client.errors);
        assert!(
            pair.client.tls_errors.is_empty(),
            "{:?}",
            pair.client.tls_errors
        );
        assert!(
            pair.server.tls_errors.is_empty(),
            "{:?}",
            pair.server.tls_errors
        );
        assert_eq!(
            (pair.client.tls_established, pair.server.tls_established),
            (1, 1)
        );
        let events = pair.client.take_events();
        assert_eq!(events[0], ClientEvent::Secured);
        assert!(
            matches!(&events[1], ClientEvent::Ready { secure: true, capabilities, .. } if capabilities.has_pipelining())
        );
        assert!(events.contains(&ClientEvent::Stat {
            id: stat,
            stat: Stat { count: 1, size: 12 }
        }));
        let body: Vec<u8> = events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::MessageData { id, data } if *id == retr => Some(data.to_vec()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(body, b".dot\r\nbody\r\n");
        assert_eq!(
            events.last(),
            Some(&ClientEvent::Closed {
                update_acknowledged: true
            })
        );
        // The capture: STLS in clear, the password not.
        assert!(contains(&pair.client.wire, b"STLS\r\n"));
        assert!(!contains(&pair.client.wire, b"s3cret-pw"));
        assert!(!contains(&pair.client.wire, b"USER"));
        // The server saw the pipelined commands after login, in order.
        let seen = pair.server.take_events();
        assert_eq!(
            seen,
            [
                "CAPA",
                "STLS",
                "CAPA",
                "USER alice",
                "PASS s3cret-pw",
                "STAT",
                "RETR 1",
                "QUIT"
            ]
        );
        assert!(pair.client.closed);
    }
}

#[test]
fn implicit_tls_session_through_rustls_with_apop() {
    let pki = TestPki::new("pop.example.test");
    for chunking in mailsec_tls::testing::Chunking::BASIC {
        // The mini server knows no APOP: the client tries it (allowed, timestamp over TLS),
        // and the -ERR ends the session as an authentication failure.
        let config = ClientConfig::builder(alice()).apop(true).build();
        let mut pair = Pair::implicit_tls(Client::new(config), MiniServer::implicit(), &pki);
        pair.set_chunking(chunking);
        pair.run();
        assert!(matches!(
            pair.client.errors[..],
            [ClientError::AuthFailed {
                method: AuthMethod::Apop,
                ..
            }]
        ));
        assert_eq!(pair.client.tls_established, 1);

        let mut pair = Pair::implicit_tls(
            Client::new(ClientConfig::builder(alice()).build()),
            MiniServer::implicit(),
            &pki,
        );
        pair.set_chunking(chunking);
        let now = pair.now();
        pair.client.machine.stat(now).unwrap();
        pair.client.machine.quit(now).unwrap();
        pair.run();
        assert!(pair.client.errors.is_empty(), "{:?}", pair.client.errors);
        let events = pair.client.take_events();
        assert_eq!(events[0], ClientEvent::Secured);
        assert!(matches!(
            &events[1],
            ClientEvent::Ready { secure: true, .. }
        ));
        assert_eq!(
            pair.server.take_events(),
            ["CAPA", "USER alice", "PASS s3cret-pw", "STAT", "QUIT"]
        );
    }
}
