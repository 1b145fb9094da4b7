//! The POP3 server machine fed transcripts directly (no sockets), in the four chunkings of
//! SECURITY.md: whole, byte by byte, split after each CRLF, split inside each CRLF.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailsec_pop3::maildrop::MemoryMaildrop;
use mailsec_pop3::server::{
    AuthMethod, MaildropRefusal, PLAINTEXT_DISALLOWED, Pop3Server, ServerConfig, ServerError,
    ServerEvent, SessionState, UsageError,
};
use mailsec_pop3::{Capabilities, Expire, parse};
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, ExposeSecret, InsecureAuth, Mechanism};
use mailsec_tls::{Machine, Output, ServerPolicy, TlsInfo};

// ----- harness ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Chunking {
    Whole,
    ByteByByte,
    AfterCrlf,
    InsideCrlf,
}

const CHUNKINGS: [Chunking; 4] = [
    Chunking::Whole,
    Chunking::ByteByByte,
    Chunking::AfterCrlf,
    Chunking::InsideCrlf,
];

fn cut(input: &[u8], chunking: Chunking) -> Vec<&[u8]> {
    match chunking {
        Chunking::Whole => vec![input],
        Chunking::ByteByByte => input.chunks(1).collect(),
        Chunking::AfterCrlf | Chunking::InsideCrlf => {
            let mut out = Vec::new();
            let mut start = 0;
            for (i, &b) in input.iter().enumerate() {
                let at = match chunking {
                    Chunking::AfterCrlf if b == b'\n' => Some(i + 1),
                    Chunking::InsideCrlf if b == b'\r' => Some(i + 1),
                    _ => None,
                };
                if let Some(at) = at {
                    out.push(&input[start..at]);
                    start = at;
                }
            }
            if start < input.len() {
                out.push(&input[start..]);
            }
            out
        }
    }
}

/// What the application saw, simplified for comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Secured,
    Check(AuthMethod, String),
    Authorize(String, String),
    Apop(String),
    Open(String),
    Retrieve(u32, Option<u32>),
    Update(Vec<u32>),
    Closed(bool),
}

/// The application: answers every event by a simple rule unless `hold` is set.
struct App {
    users: Vec<(&'static str, &'static str)>,
    /// (user, timestamp, digest hex) triples the app accepts for APOP.
    apop: Vec<(&'static str, &'static str, &'static str)>,
    store: MemoryMaildrop,
    refuse: Option<MaildropRefusal>,
    update_ok: bool,
    hold: bool,
}

impl Default for App {
    fn default() -> Self {
        App {
            users: vec![("alice", "s3cret"), ("test", "test")],
            apop: Vec::new(),
            store: store(),
            refuse: None,
            update_ok: true,
            hold: false,
        }
    }
}

struct H {
    s: Pop3Server,
    app: App,
    now: Instant,
    wire: Vec<u8>,
    events: Vec<Ev>,
    held: Vec<ServerEvent>,
    errors: Vec<ServerError>,
    start_tls: usize,
    closed: bool,
    /// The rest of the message being pulled (answers to `ReadyForMessageData`).
    sending: Vec<u8>,
    /// `ReadyForMessageData` events seen.
    asks: usize,
}

/// The chunk size the harness application answers asks with.
const PIECE: usize = 17;

impl H {
    fn new(config: ServerConfig, app: App) -> H {
        let now = Instant::now();
        let s = Pop3Server::new(Arc::new(config), now);
        H::with_server(s, app, now)
    }

    fn with_server(s: Pop3Server, app: App, now: Instant) -> H {
        let mut h = H {
            s,
            app,
            now,
            wire: Vec::new(),
            events: Vec::new(),
            held: Vec::new(),
            errors: Vec::new(),
            start_tls: 0,
            closed: false,
            sending: Vec::new(),
            asks: 0,
        };
        h.drain();
        h
    }

    fn plaintext(app: App) -> H {
        let config = ServerConfig::builder()
            .policy(ServerPolicy::insecure_plaintext())
            .mechanisms([Mechanism::Plain, Mechanism::Login])
            .build()
            .unwrap();
        H::new(config, app)
    }

    fn drain(&mut self) {
        while let Some(output) = self.s.poll_output() {
            match output {
                Output::Transmit(bytes) => {
                    assert!(!self.closed, "transmit after Close");
                    self.wire.extend_from_slice(&bytes);
                }
                Output::Event(e) => self.event(e),
                Output::StartTls => self.start_tls += 1,
                Output::Close => {
                    assert!(!self.closed, "second Close");
                    self.closed = true;
                }
                Output::Error(e) => self.errors.push(e),
                _ => {}
            }
        }
    }

    fn record(&mut self, e: &ServerEvent) {
        let ev = match e {
            ServerEvent::Secured => Ev::Secured,
            ServerEvent::CheckCredentials { check, method } => match check {
                CredentialCheck::Password { authcid, .. } => Ev::Check(*method, authcid.clone()),
                CredentialCheck::Authorize { authcid, authzid } => {
                    Ev::Authorize(authcid.clone(), authzid.clone())
                }
                other => Ev::Check(*method, format!("{other:?}")),
            },
            ServerEvent::CheckApop { user, .. } => Ev::Apop(user.clone()),
            ServerEvent::OpenMaildrop { identity } => Ev::Open(identity.acts_as().to_owned()),
            ServerEvent::Retrieve { msg, top_lines, .. } => Ev::Retrieve(msg.get(), *top_lines),
            ServerEvent::Update { deleted } => {
                Ev::Update(deleted.iter().map(|(n, _)| n.get()).collect())
            }
            ServerEvent::Closed { committed } => Ev::Closed(*committed),
            ServerEvent::ReadyForMessageData { .. } => {
                // Not recorded among the events: one per chunk.
                self.asks += 1;
                return;
            }
            other => panic!("unknown event {other:?}"),
        };
        self.events.push(ev);
    }

    fn event(&mut self, e: ServerEvent) {
        self.record(&e);
        if matches!(e, ServerEvent::Secured | ServerEvent::Closed { .. }) {
            return;
        }
        if self.app.hold {
            self.held.push(e);
            return;
        }
        self.answer(e);
    }

    fn answer(&mut self, e: ServerEvent) {
        let r = match e {
            ServerEvent::CheckCredentials { check, .. } => {
                let ok = match &check {
                    CredentialCheck::Password {
                        authcid, password, ..
                    } => self
                        .app
                        .users
                        .iter()
                        .any(|(u, p)| u == authcid && *p == password.expose_secret()),
                    _ => false,
                };
                self.s.answer_credentials(if ok {
                    CheckAnswer::Accept
                } else {
                    CheckAnswer::Reject
                })
            }
            ServerEvent::CheckApop {
                user,
                digest,
                timestamp,
            } => {
                let hex = digest.to_hex();
                let ok = self
                    .app
                    .apop
                    .iter()
                    .any(|(u, t, d)| *u == user && *t == timestamp && d.as_bytes() == hex);
                self.s.answer_credentials(if ok {
                    CheckAnswer::Accept
                } else {
                    CheckAnswer::Reject
                })
            }
            ServerEvent::OpenMaildrop { .. } => match self.app.refuse {
                Some(why) => self.s.refuse_maildrop(why),
                None => self.s.open_maildrop(Box::new(self.app.store.clone())),
            },
            ServerEvent::Retrieve { uid, .. } => {
                self.sending = self.app.store.content(uid.as_bytes()).unwrap().to_vec();
                self.send_next()
            }
            // Pulled in small pieces, one per ask, as a file reader would.
            ServerEvent::ReadyForMessageData { .. } => self.send_next(),
            ServerEvent::Update { deleted } => {
                if self.app.update_ok {
                    self.app.store.remove(deleted.iter().map(|(_, u)| u));
                }
                self.s.update_done(self.app.update_ok)
            }
            other => panic!("unexpected {other:?}"),
        };
        r.expect("intent accepted");
    }

    /// Answers an ask with the next piece of `sending`, or ends the message.
    fn send_next(&mut self) -> Result<(), UsageError> {
        if self.sending.is_empty() {
            return self.s.end_message();
        }
        let piece: Vec<u8> = self
            .sending
            .drain(..PIECE.min(self.sending.len()))
            .collect();
        self.s.send_message_data(&piece)
    }

    /// Answers the held events now (in order).
    fn release(&mut self) {
        self.app.hold = false;
        for e in std::mem::take(&mut self.held) {
            self.answer(e);
            self.drain();
        }
    }

    fn feed(&mut self, data: &[u8]) {
        self.s.handle_input(self.now, data);
        self.drain();
    }

    fn run(&mut self, input: &[u8], chunking: Chunking) {
        for piece in cut(input, chunking) {
            self.feed(piece);
        }
    }

    fn tls_up(&mut self) {
        self.s
            .handle_tls_established(self.now, &TlsInfo::for_testing("pop.example.test"));
        self.drain();
    }

    fn eof(&mut self) {
        self.s.handle_eof(self.now);
        self.drain();
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.wire).into_owned()
    }

    fn take_text(&mut self) -> String {
        let t = self.text();
        self.wire.clear();
        t
    }
}

/// A message of exactly `size` octets, CRLF line endings, optionally with a line starting
/// with `.` (which must be dot-stuffed on the wire).
fn message(size: usize, dot: bool) -> Vec<u8> {
    let mut m = b"From: a@example\r\nSubject: x\r\n\r\n".to_vec();
    if dot {
        m.extend_from_slice(b".dot\r\n");
    }
    m.extend_from_slice(b"line 1\r\nline 2\r\n");
    let fill = size - m.len() - 2;
    m.extend(std::iter::repeat_n(b'a', fill));
    m.extend_from_slice(b"\r\n");
    assert_eq!(m.len(), size);
    m
}

fn store() -> MemoryMaildrop {
    let mut s = MemoryMaildrop::new();
    s.push("uid-one", message(120, false)).unwrap();
    s.push("uid-two", message(200, true)).unwrap();
    s
}

fn stuffed(m: &[u8]) -> String {
    let mut out = bytes::BytesMut::new();
    mailsec_pop3::multiline::dot_stuff(m, &mut out).unwrap();
    String::from_utf8(out.to_vec()).unwrap()
}

fn capa(text: &str) -> Capabilities {
    let mut caps = Capabilities::new();
    let mut lines = text.split("\r\n");
    for line in lines.by_ref() {
        if line.starts_with("+OK Capability") {
            break;
        }
    }
    for line in lines {
        if line == "." {
            return caps;
        }
        caps.push(parse::capability(line.as_bytes()).unwrap());
    }
    panic!("no CAPA listing in {text:?}");
}

const REFUSED: &str =
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n";

fn default_config() -> ServerConfig {
    ServerConfig::builder().build().unwrap()
}

// ----- RFC examples --------------------------------------------------------------------------

/// RFC 1939 §10, the example session, with APOP (the RFC's timestamp and digest).
#[test]
fn rfc1939_example_session() {
    const TS: &str = "<1896.697170952@dbc.mtview.ca.us>";
    for chunking in CHUNKINGS {
        let config = ServerConfig::builder()
            .policy(ServerPolicy::insecure_plaintext())
            .apop(true)
            .build()
            .unwrap();
        let app = App {
            apop: vec![("mrose", TS, "c4c9334bac560ecc979e58001b3e22fb")],
            ..App::default()
        };
        let now = Instant::now();
        let s = Pop3Server::with_apop_timestamp(Arc::new(config), now, TS).unwrap();
        let mut h = H::with_server(s, app, now);
        h.run(
            b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\nSTAT\r\nLIST\r\nRETR 1\r\n\
              DELE 1\r\nRETR 2\r\nDELE 2\r\nQUIT\r\n",
            chunking,
        );
        let expected = format!(
            "+OK POP3 server ready {TS}\r\n\
             +OK Maildrop ready, 2 messages (320 octets)\r\n\
             +OK 2 320\r\n\
             +OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n\
             +OK 120 octets\r\n{}\
             +OK Message 1 deleted\r\n\
             +OK 200 octets\r\n{}\
             +OK Message 2 deleted\r\n\
             +OK POP3 server signing off\r\n",
            stuffed(&message(120, false)),
            stuffed(&message(200, true)),
        );
        assert_eq!(h.text(), expected, "{chunking:?}");
        assert!(h.text().contains("\r\n..dot\r\n"));
        assert_eq!(
            h.events,
            [
                Ev::Apop("mrose".into()),
                Ev::Open("mrose".into()),
                Ev::Retrieve(1, None),
                Ev::Retrieve(2, None),
                Ev::Update(vec![1, 2]),
                Ev::Closed(true),
            ],
            "{chunking:?}"
        );
        assert!(h.closed && h.errors.is_empty());
        assert!(h.app.store.is_empty(), "the app deleted in UPDATE");
        assert_eq!(h.s.state(), SessionState::Closed);
    }
}

#[test]
fn apop_wrong_digest_and_apop_not_offered() {
    const TS: &str = "<1.2@host>";
    let config = ServerConfig::builder()
        .policy(ServerPolicy::insecure_plaintext())
        .apop(true)
        .build()
        .unwrap();
    let app = App {
        apop: vec![("mrose", TS, "c4c9334bac560ecc979e58001b3e22fb")],
        ..App::default()
    };
    let now = Instant::now();
    let s = Pop3Server::with_apop_timestamp(Arc::new(config.clone()), now, TS).unwrap();
    let mut h = H::with_server(s, app, now);
    h.feed(b"APOP mrose 00000000000000000000000000000000\r\n");
    assert!(h.text().ends_with("-ERR [AUTH] Authentication failed\r\n"));
    // Without a timestamp the greeting has none and APOP is refused without an event.
    let mut h = H::new(config, App::default());
    assert_eq!(h.take_text(), "+OK POP3 server ready\r\n");
    h.feed(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
    assert_eq!(h.text(), "-ERR APOP not supported\r\n");
    assert!(h.events.is_empty());
    // Bad timestamps are refused.
    let c = Arc::new(ServerConfig::default());
    for bad in ["", "<>", "no-brackets", "<with space>", "<a\r\n>"] {
        assert!(
            Pop3Server::with_apop_timestamp(c.clone(), now, bad).is_err(),
            "{bad:?}"
        );
    }
}

/// RFC 2449 §5: CAPA in every state, and what it lists by policy.
#[test]
fn rfc2449_capa_by_state_and_policy() {
    for chunking in CHUNKINGS {
        let config = ServerConfig::builder()
            .mechanisms([Mechanism::ScramSha256, Mechanism::Plain])
            .implementation("mailsec test")
            .login_delay(900)
            .expire(Expire::Never)
            .build()
            .unwrap();
        let mut h = H::new(config, App::default());
        h.take_text();
        // Require secure channel, before TLS: no USER, no plaintext SASL, and (since no
        // credential at all is accepted in clear) no SASL line.
        h.run(b"CAPA\r\n", chunking);
        let text = h.take_text();
        let caps = capa(&text);
        assert!(
            caps.has_stls() && caps.has_top() && caps.has_uidl(),
            "{text}"
        );
        assert!(caps.has_pipelining() && caps.has_resp_codes());
        assert!(!caps.has_user(), "{text}");
        assert_eq!(caps.sasl_mechanisms().count(), 0, "{text}");
        assert_eq!(caps.login_delay(), Some(900));
        assert_eq!(caps.expire(), Some(Expire::Never));
        assert_eq!(
            caps.implementation(),
            None,
            "IMPLEMENTATION only after login"
        );

        h.run(b"STLS\r\n", chunking);
        assert_eq!(h.take_text(), "+OK Begin TLS negotiation\r\n");
        assert_eq!(h.start_tls, 1);
        h.tls_up();
        h.run(b"CAPA\r\n", chunking);
        let caps = capa(&h.take_text());
        assert!(!caps.has_stls() && caps.has_user());
        assert_eq!(
            caps.supported_mechanisms(),
            [Mechanism::ScramSha256, Mechanism::Plain]
        );

        h.run(b"USER alice\r\nPASS s3cret\r\nCAPA\r\n", chunking);
        let text = h.take_text();
        let caps = capa(&text);
        assert_eq!(caps.implementation().as_deref(), Some("mailsec test"));
        assert!(!caps.has_user() && !caps.has_stls() && caps.has_top());
        h.run(b"QUIT\r\n", chunking);
        assert!(h.closed);
    }
}

#[test]
fn starttls_optional_offers_only_non_plaintext_mechanisms_in_clear() {
    let config = ServerConfig::builder()
        .policy(ServerPolicy::starttls_optional())
        .mechanisms([Mechanism::Plain, Mechanism::ScramSha256])
        .build()
        .unwrap();
    let mut h = H::new(config, App::default());
    h.take_text();
    h.feed(b"CAPA\r\n");
    let caps = capa(&h.take_text());
    assert!(!caps.has_user() && caps.has_stls());
    assert_eq!(caps.supported_mechanisms(), [Mechanism::ScramSha256]);
    h.feed(b"AUTH PLAIN AHRlc3QAdGVzdA==\r\nUSER test\r\n");
    assert_eq!(h.take_text(), format!("{REFUSED}{REFUSED}"));
    assert!(h.events.is_empty());

    // The named insecure option allows them on this (non-requiring) listener...
    let config = ServerConfig::builder()
        .policy(ServerPolicy::starttls_optional())
        .insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls)
        .build()
        .unwrap();
    let mut h = H::new(config, App::default());
    h.feed(b"CAPA\r\n");
    assert!(capa(&h.take_text()).has_user());
    // ...but never on one that requires a secure channel.
    let config = ServerConfig::builder()
        .insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls)
        .build()
        .unwrap();
    let mut h = H::new(config, App::default());
    h.feed(b"CAPA\r\nUSER test\r\n");
    let text = h.take_text();
    assert!(!capa(&text).has_user());
    assert!(text.ends_with(REFUSED));
}

/// RFC 2595 §4: STLS, then CAPA again over TLS.
#[test]
fn rfc2595_stls() {
    for chunking in CHUNKINGS {
        let mut h = H::new(default_config(), App::default());
        assert_eq!(h.take_text(), "+OK POP3 server ready\r\n");
        h.run(b"STLS\r\n", chunking);
        assert_eq!(h.take_text(), "+OK Begin TLS negotiation\r\n");
        assert_eq!(h.start_tls, 1);
        h.tls_up();
        assert_eq!(h.events, [Ev::Secured]);
        assert!(h.s.is_secure());
        assert_eq!(h.take_text(), "", "no second greeting after STLS");
        h.run(
            b"STLS\r\nUSER alice\r\nPASS s3cret\r\nSTLS\r\nQUIT\r\n",
            chunking,
        );
        assert_eq!(
            h.take_text(),
            "-ERR Already using TLS\r\n+OK Send your password\r\n\
             +OK Maildrop ready, 2 messages (320 octets)\r\n\
             -ERR STLS only in AUTHORIZATION state\r\n+OK POP3 server signing off\r\n",
            "{chunking:?}"
        );
        assert_eq!(h.start_tls, 1);
    }
}

#[test]
fn implicit_tls_greets_after_the_handshake() {
    let config = ServerConfig::builder()
        .policy(ServerPolicy::implicit_tls())
        .build()
        .unwrap();
    let mut h = H::new(config, App::default());
    assert_eq!(h.text(), "");
    assert_eq!(h.s.state(), SessionState::Handshake);
    h.tls_up();
    assert_eq!(h.take_text(), "+OK POP3 server ready\r\n");
    h.feed(b"CAPA\r\n");
    let caps = capa(&h.take_text());
    assert!(caps.has_user() && !caps.has_stls());
    h.feed(b"STLS\r\n");
    assert_eq!(h.take_text(), "-ERR Already using TLS\r\n");
}

/// RFC 5034 §4 examples: AUTH PLAIN with and without an initial response, and `*`.
#[test]
fn rfc5034_auth() {
    for chunking in CHUNKINGS {
        // Initial response: authzid "test", authcid "test", password "test".
        let mut h = H::plaintext(App::default());
        h.take_text();
        h.run(b"AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\nSTAT\r\n", chunking);
        assert_eq!(
            h.take_text(),
            "+OK Maildrop ready, 2 messages (320 octets)\r\n+OK 2 320\r\n"
        );
        assert_eq!(
            h.events,
            [
                Ev::Check(AuthMethod::Sasl(Mechanism::Plain), "test".into()),
                Ev::Open("test".into())
            ]
        );

        // Continuation, then the response.
        let mut h = H::plaintext(App::default());
        h.take_text();
        h.run(b"AUTH PLAIN\r\n", chunking);
        assert_eq!(h.take_text(), "+ \r\n");
        h.run(b"dGVzdAB0ZXN0AHRlc3Q=\r\n", chunking);
        assert!(h.take_text().starts_with("+OK Maildrop ready"));

        // LOGIN: two continuations.
        let mut h = H::plaintext(App::default());
        h.take_text();
        h.run(b"AUTH LOGIN\r\nYWxpY2U=\r\nczNjcmV0\r\n", chunking);
        let text = h.take_text();
        assert!(
            text.starts_with("+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n+OK Maildrop"),
            "{text}"
        );

        // Cancel.
        let mut h = H::plaintext(App::default());
        h.take_text();
        h.run(b"AUTH PLAIN\r\n*\r\nNOOP\r\n", chunking);
        assert_eq!(
            h.take_text(),
            "+ \r\n-ERR Authentication cancelled\r\n\
             -ERR Command not valid in AUTHORIZATION state\r\n"
        );

        // Wrong password, bad base64, unknown mechanism.
        let mut h = H::plaintext(App::default());
        h.take_text();
        h.run(
            b"AUTH PLAIN AHRlc3QAd3Jvbmc=\r\nAUTH PLAIN\r\n!!!\r\nAUTH X-UNKNOWN\r\n",
            chunking,
        );
        assert_eq!(
            h.take_text(),
            "-ERR [AUTH] Authentication failed\r\n+ \r\n-ERR [AUTH] Authentication failed\r\n\
             -ERR Unsupported authentication mechanism\r\n"
        );
    }
}

#[test]
fn sasl_authorize_other_identity_is_asked() {
    let mut h = H::plaintext(App::default());
    h.take_text();
    // authzid "bob", authcid "alice": the app is asked, and this app rejects Authorize.
    h.feed(b"AUTH PLAIN Ym9iAGFsaWNlAHMzY3JldA==\r\n");
    assert_eq!(
        h.events,
        [
            Ev::Check(AuthMethod::Sasl(Mechanism::Plain), "alice".into()),
            Ev::Authorize("alice".into(), "bob".into())
        ]
    );
    assert_eq!(h.take_text(), "-ERR [AUTH] Authentication failed\r\n");
}

#[test]
fn scram_over_tls_with_final_challenge() {
    use mailsec_tls::sasl::{ClientExchange, Credentials, ScramStored, wire};
    let config = ServerConfig::builder()
        .policy(ServerPolicy::implicit_tls())
        .mechanisms([Mechanism::ScramSha256])
        .build()
        .unwrap();
    let now = Instant::now();
    let mut s = Pop3Server::new(Arc::new(config), now);
    s.handle_tls_established(now, &TlsInfo::for_testing("x"));
    let mut wire_out = Vec::new();
    let drain = |s: &mut Pop3Server, wire_out: &mut Vec<u8>| {
        let mut events = Vec::new();
        while let Some(o) = s.poll_output() {
            match o {
                Output::Transmit(b) => wire_out.extend_from_slice(&b),
                Output::Event(e) => events.push(e),
                _ => {}
            }
        }
        events
    };
    drain(&mut s, &mut wire_out);
    wire_out.clear();
    let mut client = ClientExchange::new(
        Mechanism::ScramSha256,
        Credentials::password("user", "pencil"),
    )
    .unwrap();
    let first = client.initial_response().unwrap().unwrap();
    let line = format!(
        "AUTH SCRAM-SHA-256 {}\r\n",
        wire::encode(first.expose_secret())
    );
    s.handle_input(now, line.as_bytes());
    let events = drain(&mut s, &mut wire_out);
    assert!(matches!(
        &events[..],
        [ServerEvent::CheckCredentials {
            check: CredentialCheck::ScramLookup { .. },
            ..
        }]
    ));
    let stored = ScramStored::derive_with_random_salt("pencil", 4096).unwrap();
    s.answer_credentials(CheckAnswer::ScramCredentials(Some(stored)))
        .unwrap();
    drain(&mut s, &mut wire_out);
    let text = String::from_utf8(std::mem::take(&mut wire_out)).unwrap();
    let challenge = wire::decode(text.strip_prefix("+ ").unwrap().trim_end().as_bytes()).unwrap();
    let fin = client.step(&challenge).unwrap();
    s.handle_input(
        now,
        format!("{}\r\n", wire::encode(fin.expose_secret())).as_bytes(),
    );
    drain(&mut s, &mut wire_out);
    // The server signature comes as a final challenge; the client answers with an empty line.
    let text = String::from_utf8(std::mem::take(&mut wire_out)).unwrap();
    let v = wire::decode(text.strip_prefix("+ ").unwrap().trim_end().as_bytes()).unwrap();
    client.finish(Some(&v)).unwrap();
    s.handle_input(now, b"\r\n");
    let events = drain(&mut s, &mut wire_out);
    assert!(
        matches!(&events[..], [ServerEvent::OpenMaildrop { identity }] if identity.authcid == "user")
    );
}

// ----- SECURITY.md server classes ----------------------------------------------------------

/// Command injection at STLS (CVE-2011-0411 and kin): whatever the chunking, nothing after
/// `STLS\r\n` runs, and the session ends with a typed error.
#[test]
fn command_injection_after_stls() {
    for chunking in CHUNKINGS {
        let mut h = H::new(default_config(), App::default());
        h.take_text();
        h.run(b"STLS\r\nUSER alice\r\nPASS s3cret\r\n", chunking);
        let text = h.take_text();
        assert!(!text.contains("password"), "{chunking:?}: {text}");
        assert!(
            h.events.iter().all(|e| *e == Ev::Closed(false)),
            "{:?}",
            h.events
        );
        assert!(
            matches!(h.errors[..], [ServerError::CommandInjection { .. }]),
            "{chunking:?} {:?}",
            h.errors
        );
        assert!(h.closed);
        match chunking {
            // The injected bytes were there when STLS was read: no upgrade at all.
            Chunking::Whole | Chunking::InsideCrlf => {
                assert_eq!(h.start_tls, 0, "{chunking:?}");
                assert_eq!(text, "-ERR Pipelined data after STLS\r\n");
            }
            // They came after the go-ahead: in a real driver they would have gone to rustls;
            // handed to the machine as plaintext they can only be injected.
            Chunking::ByteByByte | Chunking::AfterCrlf => {
                assert_eq!(text, "+OK Begin TLS negotiation\r\n");
            }
        }
        // Nothing more happens, even if TLS is reported up afterwards.
        h.tls_up();
        h.feed(b"USER alice\r\n");
        assert_eq!(h.take_text(), "");
    }
}

/// Commands pipelined *before* STLS are fine; the go-ahead is the last transmit before
/// `StartTls`, and nothing is queued after it.
#[test]
fn stls_go_ahead_is_last_before_start_tls() {
    for chunking in CHUNKINGS {
        let now = Instant::now();
        let mut s = Pop3Server::new(Arc::new(default_config()), now);
        let mut outputs = Vec::new();
        for piece in cut(b"CAPA\r\nNOOP\r\nSTLS\r\n", chunking) {
            s.handle_input(now, piece);
            while let Some(o) = s.poll_output() {
                outputs.push(o);
            }
        }
        let n = outputs.len();
        assert!(n >= 3, "{chunking:?}");
        assert!(
            matches!(&outputs[n - 2], Output::Transmit(b) if &b[..] == b"+OK Begin TLS negotiation\r\n")
        );
        assert!(matches!(outputs[n - 1], Output::StartTls));
        assert_eq!(s.buffered_input(), 0);
    }
}

/// A USER given in clear is forgotten at the cut (RFC 2595 §4; SECURITY.md invariant 2).
#[test]
fn user_is_forgotten_across_tls() {
    for chunking in CHUNKINGS {
        let config = ServerConfig::builder()
            .policy(ServerPolicy::starttls_optional())
            .insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls)
            .build()
            .unwrap();
        let mut h = H::new(config, App::default());
        h.take_text();
        h.run(b"USER alice\r\n", chunking);
        assert_eq!(h.take_text(), "+OK Send your password\r\n");
        h.run(b"STLS\r\n", chunking);
        h.tls_up();
        h.take_text();
        h.run(b"PASS s3cret\r\n", chunking);
        assert_eq!(
            h.take_text(),
            "-ERR No user name given; send USER first\r\n"
        );
        assert_eq!(h.events, [Ev::Secured], "no credential check");
    }
}

/// Cleartext credentials refused when a secure channel is required: CAPA content and the
/// `-ERR [AUTH]` of every credential command; no check ever reaches the application.
#[test]
fn cleartext_credentials_refused() {
    for chunking in CHUNKINGS {
        let config = ServerConfig::builder()
            .apop(true)
            .mechanisms([Mechanism::Plain, Mechanism::Login, Mechanism::ScramSha256])
            .build()
            .unwrap();
        let now = Instant::now();
        let s = Pop3Server::with_apop_timestamp(Arc::new(config), now, "<1@x>").unwrap();
        let mut h = H::with_server(s, App::default(), now);
        h.take_text();
        h.run(
            b"CAPA\r\nUSER alice\r\nPASS s3cret\r\nAPOP alice c4c9334bac560ecc979e58001b3e22fb\r\n\
              AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\nAUTH SCRAM-SHA-256\r\nAUTH LOGIN\r\n",
            chunking,
        );
        let text = h.take_text();
        let caps = capa(&text);
        assert!(
            !caps.has_user() && caps.sasl_mechanisms().count() == 0,
            "{text}"
        );
        let refusals = text.matches(REFUSED).count();
        assert_eq!(refusals, 6, "{chunking:?}: {text}");
        assert_eq!(
            format!("-ERR [AUTH] {PLAINTEXT_DISALLOWED}\r\n"),
            REFUSED,
            "the constant is the wire text"
        );
        assert!(h.events.is_empty(), "{:?}", h.events);
        assert!(!h.closed);
    }
}

/// Unbounded input: a huge line, a pipeline flood while waiting for the application, a SASL
/// line over its limit.
#[test]
fn unbounded_input_is_bounded() {
    for chunking in CHUNKINGS {
        // A 100 KiB line without LF costs nothing and gets one error.
        let mut h = H::plaintext(App::default());
        h.take_text();
        let mut flood = vec![b'A'; 100 * 1024];
        flood.extend_from_slice(b"\r\nNOOP\r\n");
        if matches!(chunking, Chunking::ByteByByte) {
            for b in flood.chunks(1) {
                h.feed(b);
                assert!(h.s.buffered_input() <= 255);
            }
        } else {
            h.run(&flood, chunking);
        }
        assert_eq!(
            h.take_text(),
            "-ERR Line too long\r\n-ERR Command not valid in AUTHORIZATION state\r\n"
        );
        assert!(!h.closed);
    }

    // Pipelined commands while the application holds an answer: bounded, then closed.
    let config = ServerConfig::builder()
        .policy(ServerPolicy::insecure_plaintext())
        .max_buffered_input(1) // raised to MAX_SASL_LINE
        .build()
        .unwrap();
    let mut h = H::new(
        config,
        App {
            hold: true,
            ..App::default()
        },
    );
    h.take_text();
    h.feed(b"USER alice\r\nPASS s3cret\r\n");
    assert_eq!(h.held.len(), 1);
    let noops = b"NOOP\r\n".repeat(10_000);
    h.feed(&noops);
    assert!(matches!(h.errors[..], [ServerError::InputOverflow { .. }]));
    assert!(h.closed);
    assert_eq!(h.events.last(), Some(&Ev::Closed(false)));
    assert!(h.s.buffered_input() == 0);
    // The answer comes too late: refused as usage, nothing sent.
    assert!(matches!(
        h.s.answer_credentials(CheckAnswer::Accept),
        Err(UsageError::Closed(_))
    ));

    // A SASL line over MAX_SASL_LINE.
    let mut h = H::plaintext(App::default());
    h.take_text();
    h.feed(b"AUTH PLAIN\r\n");
    let long = vec![b'A'; mailsec_pop3::MAX_SASL_LINE + 10];
    h.feed(&long);
    h.feed(b"\r\nNOOP\r\n");
    assert_eq!(
        h.take_text(),
        "+ \r\n-ERR Line too long\r\n-ERR Command not valid in AUTHORIZATION state\r\n"
    );
}

#[test]
fn too_many_bad_commands_close() {
    let mut h = H::plaintext(App::default());
    h.take_text();
    h.feed(&b"BOGUS\r\n".repeat(20));
    assert_eq!(h.take_text(), "-ERR Unknown command\r\n".repeat(10));
    assert!(matches!(h.errors[..], [ServerError::TooManyBadCommands]));
    assert_eq!(h.events, [Ev::Closed(false)]);
    assert!(h.closed);
}

#[test]
fn too_many_auth_failures_close() {
    for chunking in CHUNKINGS {
        let mut h = H::plaintext(App::default());
        h.take_text();
        h.run(&b"USER alice\r\nPASS wrong\r\n".repeat(4), chunking);
        assert_eq!(
            h.take_text(),
            "+OK Send your password\r\n-ERR [AUTH] Authentication failed\r\n".repeat(3)
        );
        assert!(matches!(h.errors[..], [ServerError::TooManyAuthFailures]));
        assert!(h.closed);
    }
}

/// A dropped connection (EOF, timeout, error) deletes nothing: no Update event.
#[test]
fn dropped_connection_deletes_nothing() {
    for chunking in CHUNKINGS {
        let mut h = H::plaintext(App::default());
        h.run(
            b"USER alice\r\nPASS s3cret\r\nDELE 1\r\nDELE 2\r\n",
            chunking,
        );
        assert_eq!(h.s.marked_for_deletion().len(), 2);
        h.eof();
        assert_eq!(h.events.last(), Some(&Ev::Closed(false)));
        assert!(!h.events.iter().any(|e| matches!(e, Ev::Update(_))));
        assert_eq!(h.app.store.len(), 2);
        assert!(h.closed && h.errors.is_empty());

        // The same after a timeout.
        let mut h = H::plaintext(App::default());
        h.run(b"USER alice\r\nPASS s3cret\r\nDELE 1\r\n", chunking);
        // The application answered after the last input, so the first deadline re-arms.
        for _ in 0..2 {
            let deadline = h.s.poll_timeout().unwrap();
            h.s.handle_timeout(deadline);
            h.drain();
        }
        assert_eq!(h.events.last(), Some(&Ev::Closed(false)));
        assert!(!h.events.iter().any(|e| matches!(e, Ev::Update(_))));
        assert!(matches!(h.errors[..], [ServerError::Timeout]));
    }
}

/// DELE marks; only UPDATE (QUIT in TRANSACTION) hands deletions to the application.
#[test]
fn dele_applied_only_in_update() {
    for chunking in CHUNKINGS {
        let mut h = H::plaintext(App::default());
        h.run(b"USER alice\r\nPASS s3cret\r\n", chunking);
        h.take_text();
        h.run(
            b"DELE 1\r\nSTAT\r\nLIST\r\nUIDL\r\nLIST 1\r\nUIDL 1\r\nRETR 1\r\nTOP 1 0\r\nDELE 1\r\n\
              RSET\r\nSTAT\r\nDELE 2\r\nUIDL\r\n",
            chunking,
        );
        assert_eq!(
            h.take_text(),
            "+OK Message 1 deleted\r\n+OK 1 200\r\n+OK 1 messages (200 octets)\r\n2 200\r\n.\r\n\
             +OK Unique-ID listing follows\r\n2 uid-two\r\n.\r\n\
             -ERR No such message\r\n-ERR No such message\r\n-ERR No such message\r\n\
             -ERR No such message\r\n-ERR Message already deleted\r\n\
             +OK Maildrop has 2 messages (320 octets)\r\n+OK 2 320\r\n+OK Message 2 deleted\r\n\
             +OK Unique-ID listing follows\r\n1 uid-one\r\n.\r\n",
            "{chunking:?}"
        );
        assert_eq!(h.app.store.len(), 2, "nothing deleted before UPDATE");
        h.run(b"QUIT\r\n", chunking);
        assert_eq!(
            h.events[h.events.len() - 2..],
            [Ev::Update(vec![2]), Ev::Closed(true)]
        );
        assert_eq!(h.app.store.len(), 1);
        assert_eq!(h.app.store.content(b"uid-one").map(<[u8]>::len), Some(120));
    }
}

#[test]
fn update_failure_and_quit_in_authorization() {
    let mut h = H::plaintext(App {
        update_ok: false,
        ..App::default()
    });
    h.take_text();
    h.feed(b"USER alice\r\nPASS s3cret\r\nDELE 1\r\nQUIT\r\n");
    assert!(
        h.text()
            .ends_with("-ERR [SYS/TEMP] Some deleted messages not removed\r\n")
    );
    assert_eq!(h.events.last(), Some(&Ev::Closed(false)));

    let mut h = H::plaintext(App::default());
    h.take_text();
    h.feed(b"QUIT\r\nNOOP\r\n");
    assert_eq!(h.take_text(), "+OK POP3 server signing off\r\n");
    assert_eq!(h.events, [Ev::Closed(false)]);
    assert!(h.closed);
}

/// EOF after QUIT does not cancel UPDATE (RFC 1939 §6).
#[test]
fn eof_during_update_still_commits() {
    let mut h = H::plaintext(App {
        hold: true,
        ..App::default()
    });
    h.feed(b"USER alice\r\nPASS s3cret\r\n");
    h.release();
    h.app.hold = true;
    h.feed(b"DELE 1\r\nQUIT\r\n");
    assert_eq!(h.s.state(), SessionState::Update);
    h.eof();
    assert!(!h.closed);
    h.release();
    assert_eq!(h.events.last(), Some(&Ev::Closed(true)));
    assert_eq!(h.app.store.len(), 1);
}

#[test]
fn maildrop_in_use_and_other_refusals() {
    for (why, line) in [
        (
            MaildropRefusal::InUse,
            "-ERR [IN-USE] Maildrop already locked by another session\r\n",
        ),
        (
            MaildropRefusal::LoginDelay,
            "-ERR [LOGIN-DELAY] Logged in too recently\r\n",
        ),
        (
            MaildropRefusal::SysTemp,
            "-ERR [SYS/TEMP] Maildrop temporarily unavailable\r\n",
        ),
        (
            MaildropRefusal::SysPerm,
            "-ERR [SYS/PERM] Maildrop unavailable\r\n",
        ),
    ] {
        let mut h = H::plaintext(App {
            refuse: Some(why),
            ..App::default()
        });
        h.take_text();
        h.feed(b"USER alice\r\nPASS s3cret\r\nSTAT\r\n");
        assert_eq!(
            h.take_text(),
            format!(
                "+OK Send your password\r\n{line}-ERR Command not valid in AUTHORIZATION state\r\n"
            )
        );
        assert_eq!(h.s.state(), SessionState::Authorization);
        assert!(h.s.identity().is_none());
    }
}

/// RFC 1939 §3: the idle timer (at least 10 minutes) closes without UPDATE; time spent
/// waiting for the application does not count against the client.
#[test]
fn idle_timeout() {
    let mut h = H::plaintext(App::default());
    let start = h.now;
    assert_eq!(h.s.poll_timeout(), Some(start + Duration::from_secs(600)));
    h.s.handle_timeout(start + Duration::from_secs(599));
    h.drain();
    assert!(!h.closed);
    h.now = start + Duration::from_secs(300);
    h.feed(b"NOOP\r\n");
    assert_eq!(h.s.poll_timeout(), Some(h.now + Duration::from_secs(600)));
    h.s.handle_timeout(start + Duration::from_secs(601));
    h.drain();
    assert!(!h.closed, "input re-armed the timer");

    // Waiting for the application: the deadline is re-armed, not fired.
    h.app.hold = true;
    h.feed(b"USER alice\r\nPASS s3cret\r\n");
    let d = h.s.poll_timeout().unwrap();
    h.s.handle_timeout(d);
    h.drain();
    assert!(!h.closed);
    assert!(h.s.poll_timeout().unwrap() > d);
    h.release();
    // After the answer, the client gets a full period again.
    let d = h.s.poll_timeout().unwrap();
    h.s.handle_timeout(d);
    h.drain();
    assert!(!h.closed);
    let d2 = h.s.poll_timeout().unwrap();
    assert_eq!(d2, d + Duration::from_secs(600));
    h.take_text();
    h.s.handle_timeout(d2);
    h.drain();
    assert_eq!(h.take_text(), "-ERR Autologout; idle for too long\r\n");
    assert!(matches!(h.errors[..], [ServerError::Timeout]));
    assert_eq!(h.events.last(), Some(&Ev::Closed(false)));
    assert!(h.closed);
    assert_eq!(h.s.poll_timeout(), None);

    // The builder raises a short timeout to the RFC minimum.
    let c = ServerConfig::builder()
        .idle_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    assert_eq!(c.idle_timeout(), Duration::from_secs(600));
}

/// RFC 2449 §6.6: pipelined commands are answered in order, even when one waits for the
/// application.
#[test]
fn pipelining_answers_in_order() {
    for chunking in CHUNKINGS {
        let mut h = H::plaintext(App::default());
        h.run(b"USER alice\r\nPASS s3cret\r\n", chunking);
        h.take_text();
        h.app.hold = true;
        h.run(b"STAT\r\nRETR 1\r\nLIST 2\r\nNOOP\r\n", chunking);
        assert_eq!(h.take_text(), "+OK 2 320\r\n");
        assert_eq!(h.held.len(), 1);
        h.release();
        assert_eq!(
            h.take_text(),
            format!(
                "+OK 120 octets\r\n{}+OK 2 200\r\n+OK\r\n",
                stuffed(&message(120, false))
            ),
            "{chunking:?}"
        );
    }
}

#[test]
fn top_is_cut_by_the_machine() {
    let mut h = H::plaintext(App::default());
    h.feed(b"USER alice\r\nPASS s3cret\r\n");
    h.take_text();
    h.feed(b"TOP 2 0\r\nTOP 2 2\r\nTOP 1 100\r\n");
    assert_eq!(
        h.take_text(),
        "+OK Top of message follows\r\nFrom: a@example\r\nSubject: x\r\n\r\n.\r\n\
         +OK Top of message follows\r\nFrom: a@example\r\nSubject: x\r\n\r\n..dot\r\nline 1\r\n.\r\n"
            .to_owned()
            + "+OK Top of message follows\r\n"
            + &stuffed(&message(120, false))
    );
    assert_eq!(
        h.events[2..],
        [
            Ev::Retrieve(2, Some(0)),
            Ev::Retrieve(2, Some(2)),
            Ev::Retrieve(1, Some(100))
        ]
    );
}

#[test]
fn message_streaming_edge_cases() {
    let mut h = H::plaintext(App {
        hold: true,
        ..App::default()
    });
    h.feed(b"USER alice\r\nPASS s3cret\r\n");
    h.release();
    h.take_text();
    h.app.hold = true;
    // Unavailable before any data: -ERR [SYS/TEMP], the session goes on.
    h.feed(b"RETR 1\r\nNOOP\r\n");
    assert_eq!(h.held.len(), 1);
    h.held.clear();
    h.s.message_unavailable().unwrap();
    h.drain();
    assert_eq!(
        h.take_text(),
        "-ERR [SYS/TEMP] Message unavailable\r\n+OK\r\n"
    );
    // Intents out of turn are refused.
    assert!(matches!(
        h.s.end_message(),
        Err(UsageError::Unexpected { .. })
    ));
    assert!(h.s.update_done(true).is_err());
    // LF-only storage is sent with CRLF (the default).
    h.feed(b"RETR 2\r\n");
    h.held.clear();
    h.s.send_message_data(b"Subject: x\n\n.a\nb").unwrap();
    // Not before the next ask was polled.
    assert!(matches!(
        h.s.end_message(),
        Err(UsageError::Unexpected { .. })
    ));
    h.drain();
    assert!(matches!(
        h.held[..],
        [ServerEvent::ReadyForMessageData { msg }] if msg.get() == 2
    ));
    h.held.clear();
    h.s.end_message().unwrap();
    h.drain();
    assert_eq!(
        h.take_text(),
        "+OK 200 octets\r\nSubject: x\r\n\r\n..a\r\nb\r\n.\r\n"
    );
    // Unavailable after partial data: the response cannot be repaired.
    h.feed(b"RETR 1\r\n");
    h.held.clear();
    h.s.send_message_data(b"Subject: x\r\n").unwrap();
    h.drain();
    assert_eq!(h.held.len(), 1);
    h.held.clear();
    h.s.message_unavailable().unwrap();
    h.drain();
    assert!(matches!(h.errors[..], [ServerError::MessageAborted]));
    assert!(h.closed);
    assert_eq!(h.events.last(), Some(&Ev::Closed(false)));
}

/// Logs in on a plaintext session and returns the machine alone, all output drained.
fn logged_in(store: MemoryMaildrop) -> Pop3Server {
    let config = ServerConfig::builder()
        .policy(ServerPolicy::insecure_plaintext())
        .build()
        .unwrap();
    let now = Instant::now();
    let mut s = Pop3Server::new(Arc::new(config), now);
    s.handle_input(now, b"USER alice\r\nPASS s3cret\r\n");
    let mut store = Some(store);
    while let Some(o) = s.poll_output() {
        match o {
            Output::Event(ServerEvent::CheckCredentials { .. }) => {
                s.answer_credentials(CheckAnswer::Accept).unwrap();
            }
            Output::Event(ServerEvent::OpenMaildrop { .. }) => {
                s.open_maildrop(Box::new(store.take().unwrap())).unwrap();
            }
            Output::Transmit(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(s.state(), SessionState::Transaction);
    s
}

/// Polls everything queued: (transmitted bytes, events).
fn poll_all(s: &mut Pop3Server) -> (Vec<u8>, Vec<ServerEvent>) {
    let (mut wire, mut events) = (Vec::new(), Vec::new());
    while let Some(o) = s.poll_output() {
        match o {
            Output::Transmit(b) => wire.extend_from_slice(&b),
            Output::Event(e) => events.push(e),
            Output::Close => events.push(ServerEvent::Closed { committed: false }),
            _ => {}
        }
    }
    (wire, events)
}

/// The project rule "never a whole message in memory": a message of several MiB pulled chunk
/// by chunk never has more than one chunk (plus the `+OK` line and dot-stuffing) of output
/// waiting in the machine, and the ask for the next chunk comes only after that output.
#[test]
fn a_large_message_is_pulled_one_chunk_at_a_time() {
    const CHUNK: usize = 64 * 1024;
    // 6 MiB of short lines, every one starting with a dot: the worst case for stuffing
    // that CRLF storage allows (one extra octet per 5-octet line).
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    while big.len() < 6 * 1024 * 1024 {
        big.extend_from_slice(b".ab\r\n");
    }
    let mut store = MemoryMaildrop::new();
    store.push("big", big.clone()).unwrap();
    let mut s = logged_in(store);
    s.handle_input(Instant::now(), b"RETR 1\r\nNOOP\r\n");
    let (wire, events) = poll_all(&mut s);
    assert!(wire.is_empty());
    assert!(matches!(events[..], [ServerEvent::Retrieve { .. }]));

    let mut received = Vec::new();
    let mut max_unpolled = 0;
    let mut asks = 0;
    for chunk in big.chunks(CHUNK) {
        s.send_message_data(chunk).unwrap();
        // Pushing ahead without the next ask is refused, and harmless.
        assert!(matches!(
            s.send_message_data(chunk),
            Err(UsageError::Unexpected {
                intent: "send_message_data",
                ..
            })
        ));
        assert!(matches!(
            s.end_message(),
            Err(UsageError::Unexpected { .. })
        ));
        // Exactly: the encoded chunk, then the ask.
        let first = s.poll_output();
        let Some(Output::Transmit(bytes)) = first else {
            panic!("{first:?}");
        };
        max_unpolled = max_unpolled.max(bytes.len());
        received.extend_from_slice(&bytes);
        let ask = s.poll_output();
        assert!(
            matches!(ask, Some(Output::Event(ServerEvent::ReadyForMessageData { msg })) if msg.get() == 1),
            "{ask:?}"
        );
        assert!(s.poll_output().is_none());
        asks += 1;
    }
    s.end_message().unwrap();
    let (wire, events) = poll_all(&mut s);
    assert!(events.is_empty());
    received.extend_from_slice(&wire);
    assert_eq!(asks, big.len().div_ceil(CHUNK));
    assert!(
        max_unpolled <= CHUNK + CHUNK / 5 + 64,
        "{max_unpolled} octets un-polled"
    );
    let expected = format!("+OK {} octets\r\n{}+OK\r\n", big.len(), stuffed(&big));
    assert!(
        received == expected.as_bytes(),
        "the message arrived intact"
    );
}

#[test]
fn every_answer_needs_a_polled_ask() {
    let mut s = logged_in(store());
    // Before any RETR.
    for r in [
        s.send_message_data(b"x"),
        s.end_message(),
        s.serve_message(b"x"),
        s.message_unavailable(),
    ] {
        assert!(
            matches!(
                r,
                Err(UsageError::Unexpected {
                    waiting_for: "a command",
                    ..
                })
            ),
            "{r:?}"
        );
    }
    // RETR queued its Retrieve, not yet polled: no answer yet.
    s.handle_input(Instant::now(), b"RETR 1\r\n");
    assert!(matches!(
        s.serve_message(b"x"),
        Err(UsageError::Unexpected {
            waiting_for: "the next ReadyForMessageData to be polled",
            ..
        })
    ));
    let (_, events) = poll_all(&mut s);
    assert!(matches!(events[..], [ServerEvent::Retrieve { .. }]));
    // serve_message answers the first ask only if nothing was sent: here it is the answer.
    s.serve_message(b"A: 1\r\n\r\nb\r\n").unwrap();
    let (wire, events) = poll_all(&mut s);
    assert!(
        events.is_empty(),
        "no ask after a whole message: {events:?}"
    );
    assert_eq!(wire, b"+OK 120 octets\r\nA: 1\r\n\r\nb\r\n.\r\n");
    // After a chunk, serve_message is another answer to the next ask (it ends the message).
    s.handle_input(Instant::now(), b"RETR 2\r\n");
    poll_all(&mut s);
    s.send_message_data(b"A: 2\r\n").unwrap();
    let (mut wire, events) = poll_all(&mut s);
    assert!(matches!(
        events[..],
        [ServerEvent::ReadyForMessageData { .. }]
    ));
    s.serve_message(b"\r\nrest").unwrap();
    wire.extend(poll_all(&mut s).0);
    assert_eq!(wire, b"+OK 200 octets\r\nA: 2\r\n\r\nrest\r\n.\r\n");
    assert_eq!(s.state(), SessionState::Transaction);
}

#[test]
fn end_of_stream_voids_an_unpolled_ask() {
    let mut s = logged_in(store());
    s.handle_input(Instant::now(), b"RETR 1\r\n");
    poll_all(&mut s);
    s.send_message_data(b"A: 1\r\n").unwrap();
    s.handle_eof(Instant::now());
    let mut events = Vec::new();
    while let Some(o) = s.poll_output() {
        if let Output::Event(e) = o {
            events.push(e);
        }
    }
    // The chunk's ask was dropped: Closed is the only event left.
    assert!(
        matches!(events[..], [ServerEvent::Closed { committed: false }]),
        "{events:?}"
    );
    assert!(matches!(
        s.send_message_data(b"x"),
        Err(UsageError::Closed("send_message_data"))
    ));
}

/// The idle timer during a message: re-armed while the application holds the ask, fired
/// (without an -ERR in the middle of the message) when the client stops reading.
#[test]
fn timeout_while_a_message_is_sent() {
    let mut s = logged_in(store());
    let t0 = Instant::now();
    s.handle_input(t0, b"RETR 2\r\n");
    poll_all(&mut s);
    // The application holds the Retrieve: the client is not the one being waited for.
    let late = t0 + Duration::from_secs(3600);
    s.handle_timeout(late);
    assert_eq!(s.state(), SessionState::Transaction);
    let next = s.poll_timeout().unwrap();
    assert!(next > late);
    s.send_message_data(b"Subject: x\r\n").unwrap();
    // The chunk and its ask wait for the client (the driver would not hand over the ask):
    // one more full period is granted since the application's answer, then it fires.
    s.handle_timeout(next);
    assert_eq!(s.state(), SessionState::Transaction);
    let last = s.poll_timeout().unwrap();
    s.handle_timeout(last);
    assert_eq!(s.state(), SessionState::Closed);
    let mut wire = Vec::new();
    let mut outputs = Vec::new();
    while let Some(o) = s.poll_output() {
        match o {
            Output::Transmit(b) => wire.extend_from_slice(&b),
            other => outputs.push(format!("{other:?}")),
        }
    }
    assert_eq!(wire, b"+OK 200 octets\r\nSubject: x\r\n");
    assert_eq!(
        outputs,
        [
            "Event(Closed { committed: false })",
            "Error(Timeout)",
            "Close"
        ]
    );
}

// ----- shutdown ----------------------------------------------------------------------------

#[test]
fn shutdown_when_idle_says_sys_temp_and_deletes_nothing() {
    for authorized in [false, true] {
        let mut h = H::plaintext(App::default());
        h.take_text();
        if authorized {
            h.feed(b"USER alice\r\nPASS s3cret\r\nDELE 1\r\n");
            h.take_text();
        }
        h.s.shutdown();
        assert!(!h.s.is_shutting_down());
        h.drain();
        assert_eq!(h.take_text(), "-ERR [SYS/TEMP] Server shutting down\r\n");
        assert!(h.closed && h.errors.is_empty());
        assert_eq!(h.events.last(), Some(&Ev::Closed(false)));
        // No UPDATE: the marked message stays.
        assert!(!h.events.iter().any(|e| matches!(e, Ev::Update(_))));
        assert_eq!(h.app.store.len(), 2);
        assert_eq!(h.s.state(), SessionState::Closed);
        // Idempotent; nothing after Close.
        h.s.shutdown();
        h.feed(b"NOOP\r\n");
        assert_eq!(h.take_text(), "");
    }
}

#[test]
fn shutdown_while_the_application_decides() {
    let mut h = H::plaintext(App {
        hold: true,
        ..App::default()
    });
    h.take_text();
    h.feed(b"USER alice\r\nPASS s3cret\r\n");
    assert_eq!(h.held.len(), 1);
    h.take_text();
    h.s.shutdown();
    h.drain();
    assert_eq!(h.take_text(), "-ERR [SYS/TEMP] Server shutting down\r\n");
    assert!(h.closed);
    assert!(matches!(
        h.s.answer_credentials(CheckAnswer::Accept),
        Err(UsageError::Closed(_))
    ));
    // A Retrieve not answered yet: the -ERR answers the RETR.
    let mut h = H::plaintext(App::default());
    h.feed(b"USER alice\r\nPASS s3cret\r\n");
    h.take_text();
    h.app.hold = true;
    h.feed(b"RETR 1\r\n");
    assert_eq!(h.held.len(), 1);
    h.s.shutdown();
    h.drain();
    assert_eq!(h.take_text(), "-ERR [SYS/TEMP] Server shutting down\r\n");
    assert!(h.closed);
}

#[test]
fn shutdown_mid_message_finishes_it_first() {
    for chunking in CHUNKINGS {
        let mut h = H::plaintext(App {
            hold: true,
            ..App::default()
        });
        h.feed(b"USER alice\r\nPASS s3cret\r\n");
        h.release();
        h.take_text();
        h.app.hold = true;
        h.run(b"RETR 2\r\nDELE 1\r\nQUIT\r\n", chunking);
        let Some(ServerEvent::Retrieve { .. }) = h.held.pop() else {
            panic!("{:?}", h.held);
        };
        h.sending = h.app.store.content(b"uid-two").unwrap().to_vec();
        h.send_next().unwrap();
        h.s.shutdown();
        assert!(h.s.is_shutting_down());
        // The rest of the message is still pulled, then the session ends.
        h.app.hold = false;
        h.drain();
        assert_eq!(
            h.take_text(),
            format!(
                "+OK 200 octets\r\n{}-ERR [SYS/TEMP] Server shutting down\r\n",
                stuffed(&message(200, true))
            ),
            "{chunking:?}"
        );
        assert!(h.closed && h.errors.is_empty());
        // The pipelined DELE and QUIT were not executed: nothing deleted, no UPDATE.
        assert_eq!(h.events.last(), Some(&Ev::Closed(false)));
        assert!(!h.events.iter().any(|e| matches!(e, Ev::Update(_))));
        assert!(!h.s.is_shutting_down());
    }
}

#[test]
fn shutdown_in_update_lets_update_finish() {
    let mut h = H::plaintext(App::default());
    h.feed(b"USER alice\r\nPASS s3cret\r\nDELE 1\r\n");
    h.take_text();
    h.app.hold = true;
    h.feed(b"QUIT\r\n");
    assert_eq!(h.s.state(), SessionState::Update);
    h.s.shutdown();
    h.drain();
    assert!(!h.closed);
    h.release();
    assert_eq!(h.take_text(), "+OK POP3 server signing off\r\n");
    assert_eq!(h.events.last(), Some(&Ev::Closed(true)));
    assert_eq!(h.app.store.len(), 1);
}

#[test]
fn shutdown_during_a_handshake_is_silent() {
    let mut h = H::new(default_config(), App::default());
    h.take_text();
    h.feed(b"STLS\r\n");
    assert_eq!(h.take_text(), "+OK Begin TLS negotiation\r\n");
    h.s.shutdown();
    h.drain();
    assert_eq!(h.take_text(), "");
    assert!(h.closed);
    assert_eq!(h.events.last(), Some(&Ev::Closed(false)));
}

#[test]
fn strict_line_endings_end_the_session_on_bad_content() {
    let config = ServerConfig::builder()
        .policy(ServerPolicy::insecure_plaintext())
        .message_line_endings(mailsec_pop3::multiline::BareLineEndings::Reject)
        .build()
        .unwrap();
    let mut h = H::new(
        config,
        App {
            hold: true,
            ..App::default()
        },
    );
    h.feed(b"USER alice\r\nPASS s3cret\r\n");
    h.release();
    h.app.hold = true;
    h.feed(b"RETR 1\r\n");
    h.held.clear();
    h.s.send_message_data(b"bare\nLF").unwrap();
    h.drain();
    assert!(matches!(h.errors[..], [ServerError::MessageData(_)]));
    assert!(h.closed);
}

#[test]
fn errors_never_echo_client_bytes() {
    let mut h = H::plaintext(App::default());
    h.take_text();
    h.feed(b"GET /<script>alert(1)</script> HTTP/1.1\r\nHost: evil\r\n\r\n");
    let text = h.take_text();
    assert!(!text.contains("script") && !text.contains("evil"), "{text}");
    assert_eq!(text.matches("-ERR").count(), 3);
}

/// LIST sizes match what RETR transmits, for CRLF and LF-only storage.
#[test]
fn list_size_matches_transmitted_octets() {
    let mut drop = MemoryMaildrop::new();
    drop.push("crlf", &b"A: 1\r\n\r\n.x\r\ny\r\n"[..]).unwrap();
    drop.push("lf", &b"A: 1\n\n.x\ny\rz"[..]).unwrap();
    let mut h = H::plaintext(App {
        store: drop,
        ..App::default()
    });
    h.feed(b"USER alice\r\nPASS s3cret\r\n");
    h.take_text();
    for n in 1..=2 {
        h.feed(format!("LIST {n}\r\n").as_bytes());
        let list = h.take_text();
        let size: usize = list.trim_end().rsplit(' ').next().unwrap().parse().unwrap();
        h.feed(format!("RETR {n}\r\n").as_bytes());
        let retr = h.take_text();
        let body = retr.split_once("\r\n").unwrap().1;
        let body = body.strip_suffix(".\r\n").unwrap();
        // Unstuff the one stuffed line; the CRLF the server adds after "z" is not counted.
        let unstuffed = body.replace("\r\n..", "\r\n.");
        let expected = unstuffed.len() - usize::from(n == 2) * 2;
        assert_eq!(size, expected, "message {n}: {retr:?}");
    }
}

#[test]
fn machine_is_send() {
    fn send<T: Send>() {}
    send::<Pop3Server>();
    send::<ServerEvent>();
    send::<MemoryMaildrop>();
}

#[test]
fn config_validation() {
    assert!(
        ServerConfig::builder()
            .greeting("bad\r\nline")
            .build()
            .is_err()
    );
    assert!(
        ServerConfig::builder()
            .greeting("[IN-USE] x")
            .build()
            .is_err()
    );
    assert!(
        ServerConfig::builder()
            .implementation("a\u{7}")
            .build()
            .is_err()
    );
    assert!(
        ServerConfig::builder()
            .max_auth_failures(0)
            .build()
            .is_err()
    );
    assert!(ServerConfig::builder().max_bad_commands(0).build().is_err());
    let c = ServerConfig::builder()
        .greeting("pop.example.net ready")
        .build()
        .unwrap();
    let mut h = H::new(c, App::default());
    assert_eq!(h.take_text(), "+OK pop.example.net ready\r\n");
}

// ----- a real STARTTLS handshake through mailsec_tls::testing::Pair -----------------------

mod pair {
    use std::collections::VecDeque;
    use std::time::Instant;

    use bytes::Bytes;
    use mailsec_pop3::MAX_RESPONSE_LINE;
    use mailsec_tls::framer::LineFramer;
    use mailsec_tls::testing::{Chunking, Pair, TestPki};
    use mailsec_tls::{Machine, Output, TlsInfo};

    use super::*;

    /// A tiny scripted POP3 client: waits for the greeting, then sends one command per
    /// response; STLS's `+OK` starts TLS (refusing leftover bytes), and each complete
    /// response becomes an event.
    pub(super) struct Script {
        steps: VecDeque<(&'static str, bool)>,
        current: Option<(&'static str, bool)>,
        framer: LineFramer,
        out: VecDeque<Output<String, std::io::Error>>,
        response: String,
        in_body: bool,
        upgrading: bool,
        done: bool,
    }

    impl Script {
        pub(super) fn new(steps: &[(&'static str, bool)]) -> Self {
            Script {
                steps: steps.iter().copied().collect(),
                current: None,
                framer: LineFramer::new(64 * 1024),
                out: VecDeque::new(),
                response: String::new(),
                in_body: false,
                upgrading: false,
                done: false,
            }
        }

        fn next(&mut self) {
            self.current = self.steps.pop_front();
            if let Some((cmd, _)) = self.current {
                self.out
                    .push_back(Output::Transmit(Bytes::from(format!("{cmd}\r\n"))));
            }
        }

        fn line(&mut self, line: &[u8]) {
            let text = String::from_utf8_lossy(line).into_owned();
            self.response.push_str(&text);
            self.response.push('\n');
            let multiline = self.current.is_some_and(|(_, m)| m);
            if self.in_body {
                if text != "." {
                    return;
                }
                self.in_body = false;
            } else if multiline && text.starts_with("+OK") {
                self.in_body = true;
                return;
            }
            let response = std::mem::take(&mut self.response);
            self.out.push_back(Output::Event(response.clone()));
            match self.current {
                Some(("STLS", _)) if response.starts_with("+OK") => {
                    assert_eq!(self.framer.buffered(), 0, "response injection");
                    self.upgrading = true;
                    self.out.push_back(Output::StartTls);
                }
                Some(("QUIT", _)) => {
                    self.done = true;
                    self.out.push_back(Output::Close);
                }
                _ => self.next(),
            }
        }
    }

    impl Machine for Script {
        type Event = String;
        type Error = std::io::Error;

        fn handle_input(&mut self, _now: Instant, data: &[u8]) {
            assert!(
                !self.upgrading,
                "bytes between the go-ahead and the handshake"
            );
            self.framer.push(data).unwrap();
            while !self.done && !self.upgrading {
                let Some(line) = self.framer.next_line() else {
                    break;
                };
                let line = line.unwrap();
                assert!(line.len() < MAX_RESPONSE_LINE || self.in_body);
                self.line(&line);
            }
        }
        fn handle_eof(&mut self, _now: Instant) {
            if !self.done {
                self.done = true;
                self.out.push_back(Output::Close);
            }
        }
        fn handle_timeout(&mut self, _now: Instant) {}
        fn handle_tls_established(&mut self, _now: Instant, _info: &TlsInfo) {
            self.upgrading = false;
            self.framer.clear();
            self.next();
        }
        fn poll_output(&mut self) -> Option<Output<String, std::io::Error>> {
            self.out.pop_front()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }

    /// Runs the pair, answering the server's events like the transcript tests' App.
    fn pump(pair: &mut Pair<Script, Pop3Server>, store: &mut MemoryMaildrop) -> Vec<Ev> {
        let mut seen = Vec::new();
        loop {
            pair.run();
            let events = pair.server.take_events();
            if events.is_empty() {
                return seen;
            }
            for e in events {
                let s = &mut pair.server.machine;
                let r = match e {
                    ServerEvent::Secured => {
                        seen.push(Ev::Secured);
                        Ok(())
                    }
                    ServerEvent::CheckCredentials { check, .. } => {
                        let ok = matches!(&check, CredentialCheck::Password { authcid, password, .. }
                            if authcid == "alice" && password.expose_secret() == "s3cret");
                        seen.push(Ev::Check(AuthMethod::UserPass, "alice".into()));
                        s.answer_credentials(if ok {
                            CheckAnswer::Accept
                        } else {
                            CheckAnswer::Reject
                        })
                    }
                    ServerEvent::OpenMaildrop { identity } => {
                        seen.push(Ev::Open(identity.authcid));
                        s.open_maildrop(Box::new(store.clone()))
                    }
                    ServerEvent::Retrieve {
                        msg,
                        uid,
                        top_lines,
                    } => {
                        seen.push(Ev::Retrieve(msg.get(), top_lines));
                        let c = store.content(uid.as_bytes()).unwrap().to_vec();
                        s.serve_message(&c)
                    }
                    ServerEvent::Update { deleted } => {
                        seen.push(Ev::Update(deleted.iter().map(|(n, _)| n.get()).collect()));
                        store.remove(deleted.iter().map(|(_, u)| u));
                        s.update_done(true)
                    }
                    ServerEvent::Closed { committed } => {
                        seen.push(Ev::Closed(committed));
                        Ok(())
                    }
                    other => panic!("{other:?}"),
                };
                r.unwrap();
            }
        }
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn stls_session_with_real_tls_in_every_chunking() {
        let pki = TestPki::new("pop.example.test");
        let mut chunkings = Chunking::BASIC.to_vec();
        chunkings.extend((1..40).map(Chunking::SplitAt));
        for chunking in chunkings {
            let now = Instant::now();
            let server = Pop3Server::new(Arc::new(default_config()), now);
            let client = Script::new(&[
                ("CAPA", true),
                ("STLS", false),
                ("CAPA", true),
                ("USER alice", false),
                ("PASS s3cret", false),
                ("STAT", false),
                ("RETR 2", true),
                ("DELE 1", false),
                ("QUIT", false),
            ]);
            let mut pair = Pair::new(client, server, &pki);
            pair.set_chunking(chunking);
            let mut store = store();
            let events = pump(&mut pair, &mut store);
            assert_eq!(
                events,
                [
                    Ev::Secured,
                    Ev::Check(AuthMethod::UserPass, "alice".into()),
                    Ev::Open("alice".into()),
                    Ev::Retrieve(2, None),
                    Ev::Update(vec![1]),
                    Ev::Closed(true),
                ],
                "{chunking:?}"
            );
            let responses = pair.client.take_events();
            assert_eq!(responses.len(), 10, "{chunking:?}: {responses:?}");
            assert!(responses[0].starts_with("+OK POP3 server ready"));
            assert!(responses[1].contains("\nSTLS\n") && !responses[1].contains("\nUSER\n"));
            assert_eq!(responses[2], "+OK Begin TLS negotiation\n");
            assert!(!responses[3].contains("\nSTLS\n") && responses[3].contains("\nUSER\n"));
            assert_eq!(responses[6], "+OK 2 320\n");
            assert!(responses[7].contains("\n..dot\n"));
            // (The pipes report insecure once closed; count the handshakes instead.)
            assert_eq!(
                (pair.client.tls_established, pair.server.tls_established),
                (1, 1)
            );
            assert!(pair.server.machine.is_secure());
            // The capture: the upgrade is visible, the credentials and the mail are not.
            assert!(contains(&pair.client.wire, b"STLS\r\n"));
            assert!(!contains(&pair.client.wire, b"s3cret"));
            assert!(!contains(&pair.client.wire, b"USER"));
            assert!(!contains(&pair.server.wire, b"line 1"));
            assert!(pair.server.errors.is_empty() && pair.server.tls_errors.is_empty());
            assert!(pair.client.closed && pair.server.closed);
            assert_eq!(store.len(), 1);
        }
    }

    #[test]
    fn implicit_tls_session() {
        let pki = TestPki::new("pop.example.test");
        let config = ServerConfig::builder()
            .policy(ServerPolicy::implicit_tls())
            .build()
            .unwrap();
        let server = Pop3Server::new(Arc::new(config), Instant::now());
        let client = Script::new(&[
            ("USER alice", false),
            ("PASS s3cret", false),
            ("QUIT", false),
        ]);
        let mut pair = Pair::implicit_tls(client, server, &pki);
        let mut store = store();
        let events = pump(&mut pair, &mut store);
        assert_eq!(events.first(), Some(&Ev::Secured));
        assert_eq!(events.last(), Some(&Ev::Closed(true)));
        assert!(!contains(&pair.client.wire, b"alice"));
    }
}
