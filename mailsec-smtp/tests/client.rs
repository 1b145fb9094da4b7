//! The ESMTP client machine fed scripted server replies, in the four chunkings of SECURITY.md
//! ("How to test a case"): whole, byte by byte, split after each CRLF, split inside each CRLF.
//! At the end, a real STARTTLS and an implicit TLS session through `mailsec_tls::testing::Pair`
//! against a tiny scripted server.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mailsec_smtp::client::{
    Client, ClientConfig, ClientError, Envelope, Event, Phase, Recipient, Timeouts,
};
use mailsec_smtp::types::{BodyType, Notify};
use mailsec_smtp::{EncodeError, ReplyError};
use mailsec_tls::framer::{FrameError, LineFramer};
use mailsec_tls::sasl::{Credentials, InsecureAuth, Mechanism};
use mailsec_tls::testing::{Pair, TestPki};
use mailsec_tls::{ClientTls, Machine, Output, TlsInfo};

// ----- harness ---------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    Whole,
    ByteByByte,
    AfterCrlf,
    InsideCrlf,
}

const CUTS: [Cut; 4] = [Cut::Whole, Cut::ByteByByte, Cut::AfterCrlf, Cut::InsideCrlf];

fn cut(data: &[u8], how: Cut) -> Vec<&[u8]> {
    match how {
        Cut::Whole => vec![data],
        Cut::ByteByByte => data.chunks(1).collect(),
        Cut::AfterCrlf | Cut::InsideCrlf => {
            let mut out = Vec::new();
            let mut start = 0;
            for i in 0..data.len() {
                let at = match how {
                    Cut::AfterCrlf if data[i] == b'\n' => Some(i + 1),
                    Cut::InsideCrlf if data[i] == b'\r' => Some(i + 1),
                    _ => None,
                };
                if let Some(at) = at {
                    out.push(&data[start..at]);
                    start = at;
                }
            }
            if start < data.len() {
                out.push(&data[start..]);
            }
            out
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The bare machine, its capture and everything it said.
struct Run {
    client: Client,
    how: Cut,
    now: Instant,
    /// Every byte the client sent.
    wire: Vec<u8>,
    /// Bytes sent since the last `C:` check.
    recent: Vec<u8>,
    events: Vec<Event>,
    errors: Vec<ClientError>,
    starttls: usize,
    closed: bool,
}

impl Run {
    fn new(config: ClientConfig, how: Cut) -> Run {
        let now = Instant::now();
        let mut run = Run {
            client: Client::new(config, now),
            how,
            now,
            wire: Vec::new(),
            recent: Vec::new(),
            events: Vec::new(),
            errors: Vec::new(),
            starttls: 0,
            closed: false,
        };
        run.drain();
        run
    }

    fn drain(&mut self) {
        while let Some(out) = self.client.poll_output() {
            match out {
                Output::Transmit(b) => {
                    assert!(!self.closed, "bytes after Close");
                    self.wire.extend_from_slice(&b);
                    self.recent.extend_from_slice(&b);
                }
                Output::Event(e) => self.events.push(e),
                Output::StartTls => self.starttls += 1,
                Output::Close => self.closed = true,
                Output::Error(e) => self.errors.push(e),
                _ => {}
            }
        }
    }

    /// `S:` — the server's bytes, cut as the run says.
    fn s(&mut self, text: &str) {
        for piece in cut(text.as_bytes(), self.how) {
            self.client.handle_input(self.now, piece);
            self.drain();
        }
    }

    /// `C:` — what the client sent since the last check.
    fn c(&mut self, text: &str) {
        let sent = String::from_utf8_lossy(&std::mem::take(&mut self.recent)).into_owned();
        assert_eq!(sent, text, "{:?}", self.how);
    }

    /// The driver finished the handshake the client asked for.
    fn tls(&mut self) {
        assert_eq!(self.starttls, 1, "{:?}: StartTls expected", self.how);
        self.client
            .handle_tls_established(self.now, &TlsInfo::for_testing("mx.example"));
        self.drain();
    }

    fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    fn ok(&self) {
        assert!(self.errors.is_empty(), "{:?}: {:?}", self.how, self.errors);
    }

    fn failed_with(&self, check: impl Fn(&ClientError) -> bool) {
        assert_eq!(self.errors.len(), 1, "{:?}: {:?}", self.how, self.errors);
        assert!(
            check(&self.errors[0]),
            "{:?}: {:?}",
            self.how,
            self.errors[0]
        );
        assert!(self.closed, "{:?}: not closed", self.how);
        assert!(self.client.is_closed());
    }

    fn ready(&mut self) -> mailsec_smtp::client::SessionInfo {
        match self.take_events().as_slice() {
            [Event::Ready(info)] => info.clone(),
            other => panic!("{:?}: expected Ready, got {other:?}", self.how),
        }
    }
}

fn plain_config() -> ClientConfig {
    ClientConfig::for_domain("bar.com")
        .unwrap()
        .with_tls(ClientTls::InsecurePlaintext)
}

fn required_config() -> ClientConfig {
    ClientConfig::for_domain("client.example")
        .unwrap()
        .with_tls(ClientTls::StartTlsRequired)
}

fn env(from: &str, to: &[&str]) -> Envelope {
    Envelope::from_addresses(from, to.iter().copied()).unwrap()
}

fn codes(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Event::Ready(_) => "ready".to_owned(),
            Event::RecipientResult { index, reply, .. } => format!("rcpt{index}:{}", reply.code()),
            Event::ReadyForData => "data".to_owned(),
            Event::MessageAccepted { reply } => format!("accepted:{}", reply.code()),
            Event::MessageRejected { phase, reply } => {
                format!("rejected:{phase}:{}", reply.code())
            }
            Event::Closed => "closed".to_owned(),
            other => format!("{other:?}"),
        })
        .collect()
}

// ----- RFC transcripts -------------------------------------------------------------------------

/// RFC 5321 Appendix D.1, one command at a time (no PIPELINING offered), with a refused
/// recipient and a body that needs dot-stuffing.
#[test]
fn rfc5321_d1_happy_path() {
    for how in CUTS {
        let mut r = Run::new(plain_config(), how);
        assert_eq!(
            r.client.poll_timeout(),
            Some(r.now + Duration::from_secs(300))
        );
        r.s("220 foo.com Simple Mail Transfer Service Ready\r\n");
        r.c("EHLO bar.com\r\n");
        r.s("250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n");
        let info = r.ready();
        assert!(!info.is_secure() && info.authenticated.is_none());
        assert!(info.extensions.eight_bit_mime() && info.extensions.dsn());
        assert_eq!(r.client.poll_timeout(), None, "idle: no timer");

        r.client
            .send_message(
                r.now,
                env(
                    "Smith@bar.com",
                    &["Jones@foo.com", "Green@foo.com", "Brown@foo.com"],
                ),
            )
            .unwrap();
        r.drain();
        r.c("MAIL FROM:<Smith@bar.com>\r\n");
        r.s("250 OK\r\n");
        r.c("RCPT TO:<Jones@foo.com>\r\n");
        r.s("250 OK\r\n");
        r.c("RCPT TO:<Green@foo.com>\r\n");
        r.s("550 No such user here\r\n");
        r.c("RCPT TO:<Brown@foo.com>\r\n");
        r.s("250 OK\r\n");
        r.c("DATA\r\n");
        r.s("354 Start mail input; end with <CRLF>.<CRLF>\r\n");
        assert_eq!(
            codes(&r.take_events()),
            ["rcpt0:250", "rcpt1:550", "rcpt2:250", "data"]
        );
        r.client
            .send_data(r.now, b"Blah blah blah...\r\n...etc. etc. etc.")
            .unwrap();
        r.drain();
        assert_eq!(codes(&r.take_events()), ["data"]);
        r.client.finish_data(r.now).unwrap();
        r.drain();
        r.c("Blah blah blah...\r\n....etc. etc. etc.\r\n.\r\n");
        assert_eq!(
            r.client.poll_timeout(),
            Some(r.now + Duration::from_secs(600)),
            "final dot: 10 minutes"
        );
        r.s("250 OK\r\n");
        assert_eq!(codes(&r.take_events()), ["accepted:250"]);
        r.client.quit(r.now).unwrap();
        r.drain();
        r.c("QUIT\r\n");
        r.s("221 foo.com Service closing transmission channel\r\n");
        assert_eq!(codes(&r.take_events()), ["closed"]);
        assert!(r.closed);
        r.ok();
    }
}

/// RFC 3207: STARTTLS, EHLO again over TLS, and only the capabilities received over TLS are
/// used: AUTH PLAIN and PIPELINING offered in clear only are not used.
#[test]
fn rfc3207_starttls_forgets_plaintext_capabilities() {
    for how in CUTS {
        let config = required_config().with_credentials(Credentials::password("alice", "pw1"));
        let mut r = Run::new(config, how);
        r.s("220 mx.example ESMTP\r\n");
        r.c("EHLO client.example\r\n");
        r.s("250-mx.example\r\n250-PIPELINING\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n");
        r.c("STARTTLS\r\n");
        r.s("220 2.0.0 Ready to start TLS\r\n");
        r.c("");
        assert_eq!(r.starttls, 1);
        assert!(!r.client.is_secure());
        r.tls();
        assert!(r.client.is_secure());
        assert!(r.client.extensions().is_none(), "amnesia");
        r.c("EHLO client.example\r\n");
        r.s("250-mx.example\r\n250 AUTH LOGIN\r\n");
        r.c("AUTH LOGIN\r\n");
        r.s("334 VXNlcm5hbWU6\r\n");
        r.c("YWxpY2U=\r\n");
        r.s("334 UGFzc3dvcmQ6\r\n");
        r.c("cHcx\r\n");
        r.s("235 2.7.0 Authentication successful\r\n");
        let info = r.ready();
        assert!(info.is_secure());
        assert_eq!(info.authenticated, Some(Mechanism::Login));
        assert!(!info.extensions.pipelining());

        // No PIPELINING over TLS: one command at a time.
        r.client
            .send_message(r.now, env("alice@example.org", &["bob@example.net"]))
            .unwrap();
        r.drain();
        r.c("MAIL FROM:<alice@example.org>\r\n");
        r.ok();
    }
}

/// RFC 4954 §4 example: AUTH PLAIN with an initial response, over implicit TLS.
#[test]
fn rfc4954_auth_plain_initial_response() {
    for how in CUTS {
        let config = ClientConfig::for_domain("client.example")
            .unwrap()
            .with_credentials(Credentials::password("test", "1234").with_authzid("test"));
        let mut r = Run::new(config, how);
        r.client
            .handle_tls_established(r.now, &TlsInfo::for_testing("mx.example"));
        r.drain();
        r.c("");
        r.s("220 smtp.example.com ESMTP server ready\r\n");
        r.c("EHLO client.example\r\n");
        r.s("250-smtp.example.com\r\n250-AUTH GSSAPI DIGEST-MD5 PLAIN\r\n250 ENHANCEDSTATUSCODES\r\n");
        r.c("AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\r\n");
        r.s("235 2.7.0 Authentication successful\r\n");
        let info = r.ready();
        assert_eq!(info.authenticated, Some(Mechanism::Plain));
        assert!(info.is_secure());
        r.ok();
    }
}

#[test]
fn auth_failure_is_a_typed_error_and_no_mail_follows() {
    for how in CUTS {
        let config = ClientConfig::for_domain("client.example")
            .unwrap()
            .with_credentials(Credentials::password("test", "wrong"));
        let mut r = Run::new(config, how);
        r.client
            .handle_tls_established(r.now, &TlsInfo::for_testing("mx.example"));
        r.s("220 mx ESMTP\r\n250-mx\r\n");
        r.s("250 AUTH PLAIN\r\n");
        r.s("535 5.7.8 Authentication credentials invalid\r\n");
        r.failed_with(|e| {
            matches!(e, ClientError::Rejected { phase: Phase::Auth, reply }
                if reply.code().get() == 535 && reply.enhanced().unwrap().to_string() == "5.7.8"
                    && reply.text() == "Authentication credentials invalid")
        });
        assert_eq!(r.errors[0].phase(), Some(Phase::Auth));
        assert!(!contains(&r.wire, b"MAIL"));
        assert!(
            r.client
                .send_message(r.now, env("a@b.c", &["d@e.f"]))
                .is_err()
        );
    }
}

/// RFC 2920 §3.2 example shape: MAIL, RCPTs and DATA in one group; one recipient refused.
#[test]
fn rfc2920_pipelining_with_one_recipient_refused() {
    for how in CUTS {
        let mut r = Run::new(plain_config(), how);
        r.s("220 innosoft.com SMTP service ready\r\n");
        r.c("EHLO bar.com\r\n");
        r.s("250-innosoft.com\r\n250 PIPELINING\r\n");
        r.ready();
        r.client
            .send_message(
                r.now,
                env(
                    "mrose@dbc.mtview.ca.us",
                    &["ned@innosoft.com", "dan@innosoft.com", "kvc@innosoft.com"],
                ),
            )
            .unwrap();
        r.drain();
        r.c("MAIL FROM:<mrose@dbc.mtview.ca.us>\r\nRCPT TO:<ned@innosoft.com>\r\nRCPT TO:<dan@innosoft.com>\r\nRCPT TO:<kvc@innosoft.com>\r\nDATA\r\n");
        r.s("250 sender <mrose@dbc.mtview.ca.us> OK\r\n250 recipient <ned@innosoft.com> OK\r\n550 recipient <dan@innosoft.com> unknown\r\n250 recipient <kvc@innosoft.com> OK\r\n354 enter mail, end with line containing only \".\"\r\n");
        let events = r.take_events();
        assert_eq!(
            codes(&events),
            ["rcpt0:250", "rcpt1:550", "rcpt2:250", "data"]
        );
        assert!(
            matches!(&events[1], Event::RecipientResult { index: 1, recipient, .. }
            if recipient.to_string() == "<dan@innosoft.com>")
        );
        r.client.finish_data(r.now).unwrap();
        r.drain();
        r.c(".\r\n");
        r.s("250 message sent\r\n");
        assert_eq!(codes(&r.take_events()), ["accepted:250"]);
        r.ok();
    }
}

/// RFC 2920 §3.1: every recipient refused and DATA still answered `354`: the client ends the
/// empty message with a dot, then resets, and never sends the body.
#[test]
fn pipelined_data_accepted_without_recipients_sends_only_a_dot() {
    for how in CUTS {
        let mut r = Run::new(plain_config(), how);
        r.s("220 mx\r\n250-mx\r\n250 PIPELINING\r\n");
        r.c("EHLO bar.com\r\n");
        r.ready();
        r.client
            .send_message(r.now, env("a@b.example", &["x@mx.example"]))
            .unwrap();
        r.drain();
        r.c("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@mx.example>\r\nDATA\r\n");
        r.s("250 ok\r\n550 5.1.1 no such user\r\n354 go ahead anyway\r\n");
        r.c(".\r\n");
        assert!(r.client.send_data(r.now, b"secret body").is_err());
        r.s("554 no valid recipients\r\n");
        r.c("RSET\r\n");
        r.s("250 reset\r\n");
        assert_eq!(codes(&r.take_events()), ["rcpt0:550", "rejected:RCPT:550"]);
        assert!(r.client.is_ready());
        r.ok();
    }
}

#[test]
fn pipelined_data_refused_after_all_recipients_refused_resets() {
    for how in CUTS {
        let mut r = Run::new(plain_config(), how);
        r.s("220 mx\r\n250-mx\r\n250 PIPELINING\r\n");
        r.ready();
        r.client
            .send_message(r.now, env("a@b.example", &["x@mx.example", "y@mx.example"]))
            .unwrap();
        r.drain();
        r.s("250 ok\r\n550 no\r\n450 later\r\n554 5.5.1 no valid recipients\r\n");
        r.c("EHLO bar.com\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@mx.example>\r\nRCPT TO:<y@mx.example>\r\nDATA\r\nRSET\r\n");
        r.s("250 ok\r\n");
        let events = r.take_events();
        assert_eq!(
            codes(&events),
            ["rcpt0:550", "rcpt1:450", "rejected:RCPT:450"]
        );
        // The session goes on: another message.
        r.client
            .send_message(r.now, env("a@b.example", &["z@mx.example"]))
            .unwrap();
        r.drain();
        r.c("MAIL FROM:<a@b.example>\r\nRCPT TO:<z@mx.example>\r\nDATA\r\n");
        r.ok();
    }
}

#[test]
fn mail_refused_without_pipelining_needs_no_reset() {
    for how in CUTS {
        let mut r = Run::new(plain_config(), how);
        r.s("220 mx\r\n250 mx\r\n");
        r.ready();
        r.client
            .send_message(r.now, env("a@b.example", &["x@mx.example"]))
            .unwrap();
        r.drain();
        r.s("553 5.1.8 sender refused\r\n");
        r.c("EHLO bar.com\r\nMAIL FROM:<a@b.example>\r\n");
        assert_eq!(codes(&r.take_events()), ["rejected:MAIL:553"]);
        assert!(r.client.is_ready());
        r.ok();
    }
}

/// RFC 3030 §4.2 shape: BDAT chunks pipelined, the last one marked LAST.
#[test]
fn rfc3030_bdat_pipelined() {
    for how in CUTS {
        let mut r = Run::new(plain_config(), how);
        r.s("220 mx\r\n250-mx\r\n250-PIPELINING\r\n250-BINARYMIME\r\n250 CHUNKING\r\n");
        r.c("EHLO bar.com\r\n");
        r.ready();
        let envelope =
            env("Sam@Random.com", &["Susan@Random.com"]).with_body_type(BodyType::BinaryMime);
        r.client.send_message(r.now, envelope).unwrap();
        r.drain();
        r.c("MAIL FROM:<Sam@Random.com> BODY=BINARYMIME\r\nRCPT TO:<Susan@Random.com>\r\n");
        r.s("250 <Sam@Random.com>... Sender ok\r\n250 <Susan@Random.com>... Recipient ok\r\n");
        assert_eq!(codes(&r.take_events()), ["rcpt0:250", "data"]);
        r.client.send_data(r.now, b"bare\nLF\r.\r\n").unwrap();
        r.drain();
        assert_eq!(
            codes(&r.take_events()),
            ["data"],
            "pipelined: ready at once"
        );
        r.client.send_data(r.now, b"\x00\xff").unwrap();
        r.drain();
        r.client.finish_data(r.now).unwrap();
        r.drain();
        r.c("BDAT 11\r\nbare\nLF\r.\r\nBDAT 2\r\n\x00\u{fffd}BDAT 0 LAST\r\n");
        r.s("250 2.0.0 11 octets received\r\n250 2.0.0 2 octets received\r\n250 2.0.0 Message OK\r\n");
        assert_eq!(codes(&r.take_events()), ["data", "accepted:250"]);
        r.ok();
    }
}

#[test]
fn bdat_without_pipelining_waits_for_each_chunk() {
    for how in CUTS {
        let mut r = Run::new(plain_config(), how);
        r.s("220 mx\r\n250-mx\r\n250 CHUNKING\r\n");
        r.ready();
        r.client
            .send_message(r.now, env("a@b.example", &["x@mx.example"]))
            .unwrap();
        r.drain();
        r.s("250 ok\r\n");
        r.c("EHLO bar.com\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@mx.example>\r\n");
        r.s("250 ok\r\n");
        assert_eq!(codes(&r.take_events()), ["rcpt0:250", "data"]);
        r.client.send_data(r.now, b"hello").unwrap();
        r.drain();
        r.c("BDAT 5\r\nhello");
        assert!(r.take_events().is_empty(), "waits for the chunk's reply");
        assert!(matches!(
            r.client.send_data(r.now, b"more"),
            Err(ClientError::Misuse(_))
        ));
        assert_eq!(
            r.client.poll_timeout(),
            Some(r.now + Duration::from_secs(180))
        );
        r.s("250 5 octets\r\n");
        assert_eq!(codes(&r.take_events()), ["data"]);
        r.client.finish_data(r.now).unwrap();
        r.drain();
        r.c("BDAT 0 LAST\r\n");
        r.s("552 5.3.4 too big\r\n");
        assert_eq!(codes(&r.take_events()), ["rejected:end of message:552"]);
        r.ok();
    }
}

#[test]
fn bdat_chunk_refused_stops_and_resets() {
    for how in CUTS {
        let mut r = Run::new(plain_config(), how);
        r.s("220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
        r.ready();
        r.client
            .send_message(r.now, env("a@b.example", &["x@mx.example"]))
            .unwrap();
        r.drain();
        r.s("250 ok\r\n250 ok\r\n");
        r.take_events();
        r.client.send_data(r.now, b"one").unwrap();
        r.drain();
        r.client.send_data(r.now, b"two").unwrap();
        r.drain();
        r.take_events();
        r.s("452 4.3.1 disk full\r\n");
        // The application still held a ReadyForData when the refusal came: its answer is
        // taken and dropped (the wire check below shows no third chunk), a second one is misuse.
        r.client.send_data(r.now, b"three").unwrap();
        assert!(
            r.client.send_data(r.now, b"four").is_err(),
            "no more chunks"
        );
        r.s("503 5.5.1 out of sequence\r\n");
        r.c("EHLO bar.com\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@mx.example>\r\nBDAT 3\r\noneBDAT 3\r\ntwoRSET\r\n");
        r.s("250 ok\r\n");
        assert_eq!(codes(&r.take_events()), ["rejected:BDAT:452"]);
        r.ok();
    }
}

// ----- SECURITY.md client classes --------------------------------------------------------------

/// CVE-2021-38371 class: replies queued after the `220` go-ahead are never read as if they
/// came over TLS; nothing is sent after STARTTLS.
#[test]
fn response_injection_after_starttls_go_ahead() {
    for how in CUTS {
        let config = required_config().with_credentials(Credentials::password("alice", "pw1"));
        let mut r = Run::new(config, how);
        r.s("220 mx\r\n250-mx\r\n250 STARTTLS\r\n");
        r.c("EHLO client.example\r\nSTARTTLS\r\n");
        r.s("220 go ahead\r\n250-mx\r\n250 AUTH PLAIN\r\n");
        r.failed_with(|e| matches!(e, ClientError::ResponseInjection(n) if *n > 0));
        r.c("");
        assert_eq!(r.client.poll_timeout(), None);
        // Whatever happens next, nothing goes out and nothing is secure.
        r.client
            .handle_tls_established(r.now, &TlsInfo::for_testing("mx.example"));
        r.drain();
        assert!(r.recent.is_empty() && !contains(&r.wire, b"AUTH"));
    }
}

/// Replies that were already waiting before STARTTLS was sent cannot be its answer.
#[test]
fn early_go_ahead_before_starttls_is_injection() {
    let mut r = Run::new(required_config(), Cut::Whole);
    r.s("220 mx\r\n");
    r.s("250-mx\r\n250 STARTTLS\r\n220 fake go ahead\r\n");
    r.failed_with(|e| matches!(e, ClientError::ResponseInjection(_)));
    assert_eq!(r.starttls, 0);
    assert!(!contains(&r.wire, b"STARTTLS"));
}

fn stripped(how: Cut, ehlo: &str, starttls_reply: Option<&str>) -> Run {
    let config = required_config().with_credentials(Credentials::password("alice", "pw1"));
    let mut r = Run::new(config, how);
    r.s("220 mx\r\n");
    r.s(ehlo);
    if let Some(reply) = starttls_reply {
        r.s(reply);
    }
    assert!(
        r.client
            .send_message(r.now, env("a@b.example", &["x@y.example"]))
            .is_err()
    );
    r.drain();
    assert!(!contains(&r.wire, b"AUTH"), "{how:?}");
    assert!(!contains(&r.wire, b"MAIL"), "{how:?}");
    assert!(!contains(&r.wire, b"HELO"), "{how:?}");
    assert_eq!(r.starttls, 0);
    assert!(!r.events.iter().any(|e| matches!(e, Event::Ready(_))));
    r
}

#[test]
fn starttls_stripping_fails_closed_in_required_mode() {
    for how in CUTS {
        let r = stripped(how, "250-mx\r\n250 AUTH PLAIN LOGIN\r\n", None);
        r.failed_with(|e| matches!(e, ClientError::StartTlsNotOffered));

        let r = stripped(
            how,
            "250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
            Some("454 4.7.0 TLS not available due to temporary reason\r\n"),
        );
        r.failed_with(
            |e| matches!(e, ClientError::StartTlsRefused { reply } if reply.code().get() == 454),
        );

        let r = stripped(
            how,
            "250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
            Some("250 sure, go on\r\n"),
        );
        r.failed_with(|e| matches!(e, ClientError::StartTlsRefused { .. }));
    }
}

#[test]
fn opportunistic_stays_in_clear_without_credentials_leaking() {
    for how in CUTS {
        // Refused: go on in clear, but never with credentials.
        let config = ClientConfig::for_domain("client.example")
            .unwrap()
            .with_tls(ClientTls::StartTlsOpportunistic)
            .with_credentials(Credentials::password("alice", "pw1"));
        let mut r = Run::new(config, how);
        r.s("220 mx\r\n250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n");
        r.s("454 4.7.0 no TLS today\r\n");
        r.failed_with(|e| matches!(e, ClientError::AuthUnavailable { secure: false, .. }));
        assert!(!contains(&r.wire, b"AUTH"));

        // Without credentials, an MX goes on in clear.
        let config = ClientConfig::for_domain("client.example")
            .unwrap()
            .with_tls(ClientTls::StartTlsOpportunistic);
        let mut r = Run::new(config, how);
        r.s("220 mx\r\n250-mx\r\n250 8BITMIME\r\n");
        r.c("EHLO client.example\r\n");
        assert!(!r.ready().is_secure());
        r.ok();
    }
}

#[test]
fn no_helo_fallback_when_tls_is_required() {
    for how in CUTS {
        let mut r = Run::new(required_config(), how);
        r.s("220 mx\r\n502 5.5.1 EHLO not implemented\r\n");
        r.failed_with(
            |e| matches!(e, ClientError::Rejected { phase: Phase::Ehlo, reply } if reply.code().get() == 502),
        );
        assert!(!contains(&r.wire, b"HELO"));

        // Clear text allowed: HELO, and no extensions.
        let mut r = Run::new(plain_config(), how);
        r.s("220 mx\r\n500 what?\r\n");
        r.c("EHLO bar.com\r\nHELO bar.com\r\n");
        r.s("250-mx.example hello\r\n250 STARTTLS\r\n");
        let info = r.ready();
        assert_eq!(info.extensions.domain(), "mx.example");
        assert!(!info.extensions.starttls());
        r.ok();
    }
}

#[test]
fn cleartext_credentials_need_the_named_insecure_option() {
    for how in CUTS {
        let config = plain_config().with_credentials(Credentials::password("alice", "pw1"));
        let mut r = Run::new(config, how);
        r.s("220 mx\r\n250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
        r.failed_with(|e| matches!(e, ClientError::AuthUnavailable { .. }));
        assert!(!contains(&r.wire, b"AUTH") && !contains(&r.wire, b"cHcx"));

        let config = plain_config()
            .with_credentials(Credentials::password("alice", "pw1"))
            .with_insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls);
        let mut r = Run::new(config, how);
        r.s("220 mx\r\n250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
        r.c("EHLO bar.com\r\nAUTH PLAIN AGFsaWNlAHB3MQ==\r\n");
        r.s("235 ok\r\n");
        assert!(!r.ready().is_secure());
        r.ok();
    }
}

#[test]
fn preferred_mechanisms_are_honoured() {
    let config = ClientConfig::for_domain("c.example")
        .unwrap()
        .with_credentials(Credentials::password("alice", "pw1"))
        .with_mechanisms([Mechanism::Login]);
    let mut r = Run::new(config, Cut::Whole);
    r.client
        .handle_tls_established(r.now, &TlsInfo::for_testing("mx"));
    r.s("220 mx\r\n250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
    r.c("EHLO c.example\r\nAUTH LOGIN\r\n");
}

#[test]
fn invalid_greeting_does_not_skip_the_policy() {
    for how in CUTS {
        for greeting in [
            "554 5.3.2 no service\r\n",
            "250 hello\r\n",
            "hello there\r\n",
            "220-multi\r\n221 mixed\r\n",
        ] {
            let mut r = Run::new(required_config(), how);
            r.s(greeting);
            assert_eq!(r.errors.len(), 1, "{how:?} {greeting:?}");
            assert!(r.closed);
            r.s("250-mx\r\n250 AUTH PLAIN\r\n");
            assert!(r.wire.is_empty(), "{how:?} {greeting:?}: nothing sent");
        }
    }
    let mut r = Run::new(required_config(), Cut::Whole);
    r.s("554 5.3.2 go away\r\n");
    r.failed_with(|e| {
        matches!(e, ClientError::Rejected { phase: Phase::Greeting, reply } if reply.code().get() == 554)
    });
}

#[test]
fn implicit_tls_reads_nothing_before_the_handshake() {
    for how in CUTS {
        let config = ClientConfig::for_domain("c.example").unwrap();
        let mut r = Run::new(config, how);
        r.s("220 mx ESMTP\r\n");
        r.failed_with(|e| matches!(e, ClientError::NotSecure));
        assert!(r.wire.is_empty());
    }
}

#[test]
fn tls_nobody_asked_for_ends_the_session() {
    let mut r = Run::new(plain_config(), Cut::Whole);
    r.s("220 mx\r\n");
    r.client
        .handle_tls_established(r.now, &TlsInfo::for_testing("mx"));
    r.drain();
    r.failed_with(|e| matches!(e, ClientError::NotSecure));
}

#[test]
fn unbounded_replies_end_the_session() {
    for how in CUTS {
        // Too many lines.
        let mut r = Run::new(plain_config(), how);
        r.s("220 mx\r\n");
        let mut huge = String::new();
        for i in 0..150 {
            huge.push_str(&format!("250-EXT{i}\r\n"));
        }
        r.s(&huge);
        r.failed_with(|e| {
            matches!(
                e,
                ClientError::Reply(ReplyError::TooManyLines { limit: 100 })
            )
        });

        // A configured octet limit.
        let mut r = Run::new(plain_config().with_reply_limits(1000, 200), how);
        r.s("220 mx\r\n");
        r.s(&"250-0123456789012345678901234567890123456789\r\n".repeat(10));
        r.failed_with(|e| matches!(e, ClientError::Reply(ReplyError::TooLarge { limit: 200 })));

        // One line too long.
        let mut r = Run::new(plain_config(), how);
        r.s(&format!("220 {}\r\n", "x".repeat(600)));
        r.failed_with(|e| matches!(e, ClientError::Framing(FrameError::LineTooLong { .. })));
    }
    // A flood without any line end: bounded, one error.
    let mut r = Run::new(plain_config(), Cut::Whole);
    r.client.handle_input(r.now, &vec![b'2'; 1 << 20]);
    r.drain();
    assert_eq!(r.errors.len(), 1);
    // Bare LF.
    let mut r = Run::new(plain_config(), Cut::Whole);
    r.s("220 mx\n");
    r.failed_with(|e| matches!(e, ClientError::Framing(FrameError::BareLf)));
}

#[test]
fn timeouts_follow_rfc5321() {
    let mut r = Run::new(plain_config(), Cut::Whole);
    let t0 = r.now;
    r.client.handle_timeout(t0 + Duration::from_secs(299));
    r.drain();
    r.ok();
    r.client.handle_timeout(t0 + Duration::from_secs(300));
    r.drain();
    r.failed_with(|e| {
        matches!(
            e,
            ClientError::Timeout {
                phase: Phase::Greeting
            }
        )
    });
    assert_eq!(r.client.poll_timeout(), None);

    // DATA: 2 minutes for the 354.
    let mut r = Run::new(plain_config(), Cut::Whole);
    r.s("220 mx\r\n250-mx\r\n250 PIPELINING\r\n");
    r.ready();
    r.client
        .send_message(r.now, env("a@b.example", &["x@y.example"]))
        .unwrap();
    r.drain();
    assert_eq!(
        r.client.poll_timeout(),
        Some(r.now + Duration::from_secs(300)),
        "MAIL: 5 min"
    );
    r.now += Duration::from_secs(10);
    r.s("250 ok\r\n250 ok\r\n");
    assert_eq!(
        r.client.poll_timeout(),
        Some(r.now + Duration::from_secs(120)),
        "DATA: 2 min"
    );
    r.s("354 go\r\n");
    assert_eq!(
        r.client.poll_timeout(),
        Some(r.now + Duration::from_secs(180)),
        "body: 3 min per block"
    );
    let deadline = r.client.poll_timeout().unwrap();
    r.client.handle_timeout(deadline);
    r.drain();
    r.failed_with(|e| matches!(e, ClientError::Timeout { phase: Phase::Body }));

    // Configurable.
    let mut t = Timeouts::default();
    t.greeting = Duration::from_secs(5);
    let r = Run::new(plain_config().with_timeouts(t), Cut::Whole);
    assert_eq!(
        r.client.poll_timeout(),
        Some(r.now + Duration::from_secs(5))
    );
}

fn ready_with(ehlo: &str) -> Run {
    let mut r = Run::new(plain_config(), Cut::Whole);
    r.s("220 mx\r\n");
    r.s(ehlo);
    r.ready();
    r.recent.clear();
    r
}

#[test]
fn missing_extensions_are_clear_errors_before_mail() {
    let mut r = ready_with("250-mx\r\n250 SIZE 1000\r\n");
    let utf8 = env("alice@example.org", &["用户@例子.广告"]);
    assert_eq!(
        r.client.send_message(r.now, utf8),
        Err(ClientError::MissingExtension("SMTPUTF8"))
    );
    let eight = env("a@b.example", &["c@d.example"]).with_body_type(BodyType::EightBitMime);
    assert_eq!(
        r.client.send_message(r.now, eight),
        Err(ClientError::MissingExtension("8BITMIME"))
    );
    let binary = env("a@b.example", &["c@d.example"]).with_body_type(BodyType::BinaryMime);
    assert_eq!(
        r.client.send_message(r.now, binary),
        Err(ClientError::MissingExtension("BINARYMIME"))
    );
    let big = env("a@b.example", &["c@d.example"]).with_size(1001);
    assert_eq!(
        r.client.send_message(r.now, big),
        Err(ClientError::MessageTooLarge {
            size: 1001,
            limit: 1000
        })
    );
    let dsn = Envelope::new(mailsec_smtp::types::ReversePath::Null).to_recipient(
        Recipient::new(
            env("a@b.example", &["c@d.example"]).recipients()[0]
                .path()
                .clone(),
        )
        .with_notify(Notify::NEVER),
    );
    assert_eq!(
        r.client.send_message(r.now, dsn),
        Err(ClientError::MissingExtension("DSN"))
    );
    let tls = env("a@b.example", &["c@d.example"]).with_require_tls(true);
    assert_eq!(
        r.client.send_message(r.now, tls),
        Err(ClientError::RequireTlsWithoutTls)
    );
    r.drain();
    assert!(r.recent.is_empty(), "nothing sent");
    assert!(r.client.is_ready());

    // With the extensions: the parameters go out.
    let mut r = ready_with("250-mx\r\n250-SIZE 1000\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n");
    let e = env("alice@example.org", &["用户@例子.广告"])
        .with_size(999)
        .with_body_type(BodyType::EightBitMime);
    r.client.send_message(r.now, e).unwrap();
    r.drain();
    r.c("MAIL FROM:<alice@example.org> SIZE=999 BODY=8BITMIME SMTPUTF8\r\n");
    r.ok();
}

#[test]
fn requiretls_over_tls_when_offered() {
    let config = ClientConfig::for_domain("c.example").unwrap();
    let mut r = Run::new(config, Cut::Whole);
    r.client
        .handle_tls_established(r.now, &TlsInfo::for_testing("mx"));
    r.s("220 mx\r\n250-mx\r\n250 8BITMIME\r\n");
    r.ready();
    let e = env("a@b.example", &["c@d.example"]).with_require_tls(true);
    assert_eq!(
        r.client.send_message(r.now, e.clone()),
        Err(ClientError::MissingExtension("REQUIRETLS"))
    );

    let mut r = Run::new(ClientConfig::for_domain("c.example").unwrap(), Cut::Whole);
    r.client
        .handle_tls_established(r.now, &TlsInfo::for_testing("mx"));
    r.s("220 mx\r\n250-mx\r\n250 REQUIRETLS\r\n");
    r.ready();
    r.recent.clear();
    r.client.send_message(r.now, e).unwrap();
    r.drain();
    r.c("MAIL FROM:<a@b.example> REQUIRETLS\r\n");
}

#[test]
fn service_closing_at_any_point_is_a_typed_error() {
    for how in CUTS {
        let mut r = Run::new(plain_config(), how);
        r.s("220 mx\r\n250-mx\r\n250 PIPELINING\r\n");
        r.ready();
        r.client
            .send_message(r.now, env("a@b.example", &["x@y.example", "z@y.example"]))
            .unwrap();
        r.drain();
        r.s("250 ok\r\n421 4.3.2 shutting down\r\n");
        r.failed_with(|e| {
            matches!(e, ClientError::ServiceClosing { phase: Phase::Rcpt, reply }
                if reply.text() == "shutting down")
        });

        // Unsolicited, while idle.
        let mut r = Run::new(plain_config(), how);
        r.s("220 mx\r\n250 mx\r\n");
        r.ready();
        r.s("421 idle too long\r\n");
        r.failed_with(|e| {
            matches!(
                e,
                ClientError::ServiceClosing {
                    phase: Phase::Idle,
                    ..
                }
            )
        });
    }
}

#[test]
fn server_text_is_sanitized_in_errors() {
    let mut r = Run::new(plain_config(), Cut::Whole);
    r.s("554 5.7.1 \x1b[31mno\x07 \u{202e}way\r\n");
    let msg = r.errors[0].to_string();
    assert!(!msg.chars().any(char::is_control), "{msg:?}");
    assert!(msg.contains("554 5.7.1 [31mno way"), "{msg:?}");
}

#[test]
fn bad_body_ends_the_session_rather_than_truncate() {
    let mut r = ready_with("250 mx\r\n");
    r.client
        .send_message(r.now, env("a@b.example", &["x@y.example"]))
        .unwrap();
    r.drain();
    r.s("250 ok\r\n250 ok\r\n354 go\r\n");
    r.client.send_data(r.now, b"bare\nLF").unwrap();
    r.drain();
    r.failed_with(|e| matches!(e, ClientError::Body(EncodeError::BareLf)));
    assert!(!contains(&r.wire, b"bare"));
}

#[test]
fn misuse_is_refused_without_changing_the_session() {
    let mut r = Run::new(plain_config(), Cut::Whole);
    assert!(matches!(
        r.client
            .send_message(r.now, env("a@b.example", &["x@y.example"])),
        Err(ClientError::Misuse(_))
    ));
    assert!(r.client.quit(r.now).is_err());
    assert!(r.client.finish_data(r.now).is_err());
    r.s("220 mx\r\n250 mx\r\n");
    r.ready();
    let empty = Envelope::new(mailsec_smtp::types::ReversePath::Null);
    assert!(r.client.send_message(r.now, empty).is_err());
    let many = plain_config().with_max_recipients(2);
    let mut r = Run::new(many, Cut::Whole);
    r.s("220 mx\r\n250 mx\r\n");
    r.ready();
    assert_eq!(
        r.client.send_message(
            r.now,
            env(
                "a@b.example",
                &["a@x.example", "b@x.example", "c@x.example"]
            )
        ),
        Err(ClientError::TooManyRecipients { count: 3, limit: 2 })
    );
    r.ok();
}

#[test]
fn eof_mid_session_and_after_quit() {
    let mut r = Run::new(plain_config(), Cut::Whole);
    r.s("220 mx\r\n");
    r.client.handle_eof(r.now);
    r.drain();
    r.failed_with(|e| matches!(e, ClientError::ConnectionClosed { phase: Phase::Ehlo }));

    let mut r = ready_with("250 mx\r\n");
    r.client.quit(r.now).unwrap();
    r.drain();
    r.client.handle_eof(r.now);
    r.drain();
    assert_eq!(codes(&r.take_events()), ["closed"]);
    r.ok();
}

#[test]
fn long_initial_response_waits_for_the_empty_challenge() {
    // A bearer token too long for the AUTH line (RFC 4954 §4: 12 288 octets).
    let token = "t".repeat(10_000);
    let config = ClientConfig::for_domain("c.example")
        .unwrap()
        .with_credentials(Credentials::bearer_token(
            "alice@example.org",
            token.clone(),
        ));
    let mut r = Run::new(config, Cut::Whole);
    r.client
        .handle_tls_established(r.now, &TlsInfo::for_testing("mx"));
    r.s("220 mx\r\n250-mx\r\n250 AUTH XOAUTH2\r\n");
    r.c("EHLO c.example\r\nAUTH XOAUTH2\r\n");
    r.s("334 \r\n");
    let line = String::from_utf8(std::mem::take(&mut r.recent)).unwrap();
    assert!(line.len() > 12_288 && line.ends_with("\r\n"));
    let decoded = mailsec_tls::sasl::wire::decode(line.trim_end().as_bytes()).unwrap();
    assert!(contains(&decoded, token.as_bytes()));
    r.s("235 ok\r\n");
    assert_eq!(r.ready().authenticated, Some(Mechanism::XOAuth2));
}

// ----- real TLS through the test Pair ----------------------------------------------------------

/// A tiny scripted SMTP server machine: enough to run the client against real rustls.
struct MiniServer {
    implicit: bool,
    secure: bool,
    framer: LineFramer,
    out: VecDeque<Output<String, std::io::Error>>,
    in_data: bool,
    body: Vec<u8>,
    upgrading: bool,
}

impl MiniServer {
    fn new(implicit: bool) -> Self {
        let mut s = MiniServer {
            implicit,
            secure: false,
            framer: LineFramer::new(1000),
            out: VecDeque::new(),
            in_data: false,
            body: Vec::new(),
            upgrading: false,
        };
        if !implicit {
            s.send("220 mini.example ESMTP");
        }
        s
    }

    fn send(&mut self, text: &str) {
        let mut b = text.replace('\n', "\r\n").into_bytes();
        b.extend_from_slice(b"\r\n");
        self.out.push_back(Output::Transmit(Bytes::from(b)));
    }

    fn line(&mut self, line: &[u8]) {
        if self.in_data {
            if line == b"." {
                self.in_data = false;
                let body = String::from_utf8_lossy(&self.body).into_owned();
                self.out.push_back(Output::Event(format!("message:{body}")));
                self.send("250 2.0.0 queued");
            } else {
                self.body.extend_from_slice(line);
                self.body.extend_from_slice(b"\r\n");
            }
            return;
        }
        let text = String::from_utf8_lossy(line).into_owned();
        let verb = text.split(' ').next().unwrap_or("").to_ascii_uppercase();
        self.out.push_back(Output::Event(format!("cmd:{verb}")));
        match verb.as_str() {
            "EHLO" if self.secure => self.send("250-mini.example\n250-PIPELINING\n250 AUTH PLAIN"),
            "EHLO" => self.send("250-mini.example\n250-AUTH PLAIN\n250 STARTTLS"),
            "STARTTLS" => {
                self.send("220 go ahead");
                self.out.push_back(Output::StartTls);
                self.upgrading = true;
            }
            "AUTH" if self.secure && text == "AUTH PLAIN AGFsaWNlAHMzY3JldC1wdw==" => {
                self.out.push_back(Output::Event("auth:alice".into()));
                self.send("235 2.7.0 ok");
            }
            "AUTH" => self.send("535 5.7.8 no"),
            "MAIL" | "RCPT" => self.send("250 ok"),
            "DATA" => {
                self.in_data = true;
                self.send("354 go");
            }
            "QUIT" => {
                self.send("221 bye");
                self.out.push_back(Output::Close);
            }
            _ => self.send("502 unknown"),
        }
    }
}

impl Machine for MiniServer {
    type Event = String;
    type Error = std::io::Error;

    fn handle_input(&mut self, _now: Instant, data: &[u8]) {
        if self.upgrading {
            return;
        }
        self.framer.push(data).unwrap();
        while !self.upgrading {
            match self.framer.next_line() {
                Some(Ok(l)) => self.line(&l),
                Some(Err(e)) => panic!("{e}"),
                None => break,
            }
        }
    }
    fn handle_eof(&mut self, _now: Instant) {
        self.out.push_back(Output::Close);
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn handle_tls_established(&mut self, _now: Instant, _info: &TlsInfo) {
        self.secure = true;
        self.upgrading = false;
        self.framer.clear();
        if self.implicit {
            self.send("220 mini.example ESMTP");
        }
    }
    fn poll_output(&mut self) -> Option<Output<String, std::io::Error>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

fn session_over_pair(
    mut pair: Pair<Client, MiniServer>,
) -> (Pair<Client, MiniServer>, Vec<String>) {
    pair.run();
    let events = pair.client.take_events();
    assert!(
        matches!(&events[..], [Event::Ready(info)] if info.is_secure() && info.authenticated == Some(Mechanism::Plain)),
        "{events:?} {:?}",
        pair.client.errors
    );
    let now = pair.now();
    pair.client
        .machine
        .send_message(now, env("alice@example.org", &["bob@example.net"]))
        .unwrap();
    pair.run();
    loop {
        let events = pair.client.take_events();
        if events.contains(&Event::ReadyForData) {
            break;
        }
        assert!(pair.client.errors.is_empty(), "{:?}", pair.client.errors);
        assert!(!events.is_empty(), "stuck");
    }
    pair.client
        .machine
        .send_data(now, b"Subject: test\r\n\r\n.dotted line\r\n")
        .unwrap();
    pair.run();
    pair.client.take_events();
    pair.client.machine.finish_data(now).unwrap();
    pair.run();
    assert!(matches!(
        &pair.client.take_events()[..],
        [Event::MessageAccepted { .. }]
    ));
    pair.client.machine.quit(now).unwrap();
    pair.run();
    assert_eq!(pair.client.take_events(), [Event::Closed]);
    assert!(pair.client.closed);
    assert!(pair.client.errors.is_empty() && pair.client.tls_errors.is_empty());
    let server_events = pair.server.take_events();
    assert!(server_events.contains(&"auth:alice".to_owned()));
    assert!(server_events.contains(&"message:Subject: test\r\n\r\n..dotted line\r\n".to_owned()));
    // Encrypted on the wire: neither the password nor the message shows.
    assert!(!contains(&pair.client.wire, b"AGFsaWNlAHMzY3JldC1wdw=="));
    assert!(!contains(&pair.client.wire, b"Subject"));
    (pair, server_events)
}

fn pair_config(tls: ClientTls) -> ClientConfig {
    ClientConfig::for_domain("client.example")
        .unwrap()
        .with_tls(tls)
        .with_credentials(Credentials::password("alice", "s3cret-pw"))
}

#[test]
fn starttls_session_over_real_tls() {
    let pki = TestPki::new("mx.example.test");
    for chunking in mailsec_tls::testing::Chunking::BASIC {
        let mut pair = Pair::new(
            Client::new(pair_config(ClientTls::StartTlsRequired), Instant::now()),
            MiniServer::new(false),
            &pki,
        );
        pair.set_chunking(chunking);
        let (pair, server_events) = session_over_pair(pair);
        assert_eq!(pair.client.tls_established, 1);
        // The upgrade is visible in the capture, nothing after it is.
        assert!(contains(
            &pair.client.wire,
            b"EHLO client.example\r\nSTARTTLS\r\n"
        ));
        assert!(!contains(&pair.client.wire, b"AUTH"));
        let server_cmds: Vec<_> = server_events
            .iter()
            .filter(|e| e.starts_with("cmd:"))
            .cloned()
            .collect();
        assert_eq!(
            server_cmds,
            [
                "cmd:EHLO",
                "cmd:STARTTLS",
                "cmd:EHLO",
                "cmd:AUTH",
                "cmd:MAIL",
                "cmd:RCPT",
                "cmd:DATA",
                "cmd:QUIT"
            ]
        );
    }
}

#[test]
fn implicit_tls_session_over_real_tls() {
    let pki = TestPki::new("mx.example.test");
    for chunking in mailsec_tls::testing::Chunking::BASIC {
        let mut pair = Pair::implicit_tls(
            Client::new(pair_config(ClientTls::Implicit), Instant::now()),
            MiniServer::new(true),
            &pki,
        );
        pair.set_chunking(chunking);
        let (pair, _) = session_over_pair(pair);
        assert!(
            !contains(&pair.server.wire, b"mini.example"),
            "greeting encrypted"
        );
    }
}

/// SCRAM-SHA-256 over AUTH: the server-final message comes as a `334` challenge (RFC 4954 §4
/// has no additional data with `235`), the client checks the server's signature.
#[test]
fn scram_sha256_checks_the_server_signature() {
    use mailsec_tls::sasl::{CheckAnswer, ScramStored, ServerExchange, ServerStep, wire};

    for forge in [false, true] {
        let stored = ScramStored::derive_with_random_salt("pencil", 4096).unwrap();
        let config = ClientConfig::for_domain("c.example")
            .unwrap()
            .with_credentials(Credentials::password("user", "pencil"));
        let mut r = Run::new(config, Cut::Whole);
        r.client
            .handle_tls_established(r.now, &TlsInfo::for_testing("mx"));
        r.s("220 mx\r\n250-mx\r\n250 AUTH PLAIN SCRAM-SHA-256\r\n");
        let sent = String::from_utf8(std::mem::take(&mut r.recent)).unwrap();
        let ir = sent
            .strip_prefix("EHLO c.example\r\nAUTH SCRAM-SHA-256 ")
            .and_then(|s| s.strip_suffix("\r\n"))
            .expect("SCRAM preferred, with an initial response");
        let mut server = ServerExchange::new(Mechanism::ScramSha256);
        assert!(matches!(
            server.start(Some(&wire::decode(ir.as_bytes()).unwrap())),
            ServerStep::Verify(_)
        ));
        let ServerStep::Challenge(first) =
            server.answer(CheckAnswer::ScramCredentials(Some(stored)))
        else {
            panic!("no server-first")
        };
        r.s(&format!("334 {}\r\n", wire::encode(&first)));
        let final_line = String::from_utf8(std::mem::take(&mut r.recent)).unwrap();
        let ServerStep::Success {
            additional_data: Some(v),
            ..
        } = server.respond(&wire::decode(final_line.trim_end().as_bytes()).unwrap())
        else {
            panic!("server did not accept the proof")
        };
        let v = if forge {
            b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_vec()
        } else {
            v
        };
        r.s(&format!("334 {}\r\n", wire::encode(&v)));
        if forge {
            r.failed_with(|e| {
                matches!(
                    e,
                    ClientError::Sasl(mailsec_tls::sasl::SaslError::ServerSignatureMismatch)
                )
            });
            continue;
        }
        r.c("\r\n");
        r.s("235 2.7.0 ok\r\n");
        assert_eq!(r.ready().authenticated, Some(Mechanism::ScramSha256));
        r.ok();
    }
}

#[test]
fn two_messages_in_one_session() {
    for how in CUTS {
        let mut r = ready_with("250-mx\r\n250 PIPELINING\r\n");
        r.how = how;
        for n in 0..2 {
            r.client
                .send_message(r.now, env("a@b.example", &["x@y.example"]))
                .unwrap();
            r.drain();
            r.c("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\n");
            r.s("250 ok\r\n250 ok\r\n354 go\r\n");
            r.client
                .send_data(r.now, format!("message {n}").as_bytes())
                .unwrap();
            r.drain();
            r.client.finish_data(r.now).unwrap();
            r.drain();
            r.c(&format!("message {n}\r\n.\r\n"));
            r.s("250 queued\r\n");
            assert_eq!(
                codes(&r.take_events()),
                ["rcpt0:250", "data", "data", "accepted:250"]
            );
        }
        r.client.quit(r.now).unwrap();
        r.drain();
        r.c("QUIT\r\n");
        r.s("221 bye\r\n");
        assert_eq!(codes(&r.take_events()), ["closed"]);
        r.ok();
    }
}

/// RFC 4954 §4: a challenge may be longer than an RFC 5321 reply line (here an OAuth error
/// challenge of 900 octets); the client answers it and reports the refusal.
#[test]
fn long_sasl_challenge_is_read() {
    for how in CUTS {
        let config = ClientConfig::for_domain("c.example")
            .unwrap()
            .with_credentials(Credentials::bearer_token("alice", "tok"));
        let mut r = Run::new(config, how);
        r.client
            .handle_tls_established(r.now, &TlsInfo::for_testing("mx"));
        r.s("220 mx\r\n250-mx\r\n250 AUTH OAUTHBEARER\r\n");
        r.recent.clear();
        let error = format!(
            "{{\"status\":\"invalid_token\",\"pad\":\"{}\"}}",
            "x".repeat(600)
        );
        let challenge = mailsec_tls::sasl::wire::encode(error.as_bytes());
        assert!(challenge.len() > 512);
        r.s(&format!("334 {challenge}\r\n"));
        r.c("AQ==\r\n");
        r.s("535 5.7.8 invalid token\r\n");
        r.failed_with(|e| {
            matches!(
                e,
                ClientError::Rejected {
                    phase: Phase::Auth,
                    ..
                }
            )
        });
    }
}
