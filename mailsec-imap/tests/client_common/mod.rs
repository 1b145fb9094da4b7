//! Shared harness of the client transcript tests: a bare client machine fed scripted server
//! bytes in every chunking.
#![allow(dead_code, unreachable_pub)]

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use mailsec_imap::client::{Client, ClientConfig, ClientError, ClientEvent, UsageError};
use mailsec_imap::types::{SeqNumber, SeqRange, SequenceSet};
use mailsec_tls::sasl::Credentials;
use mailsec_tls::{ClientTls, Machine, Output, TlsInfo};

/// How a burst of server bytes is cut.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cut {
    Whole,
    ByteByByte,
    AtCrlf,
    InsideCrlf,
    Every(usize),
}

pub(crate) const CUTS: [Cut; 5] = [
    Cut::Whole,
    Cut::ByteByByte,
    Cut::AtCrlf,
    Cut::InsideCrlf,
    Cut::Every(7),
];

pub(crate) fn cut(data: &[u8], how: Cut) -> Vec<&[u8]> {
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

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub(crate) fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A client and everything it produced.
pub(crate) struct Run {
    pub(crate) client: Client,
    pub(crate) now: Instant,
    pub(crate) cut: Cut,
    pub(crate) wire: Vec<u8>,
    /// Every byte ever sent.
    pub(crate) log: Vec<u8>,
    /// Bytes of `log` sent before the handshake completed (what an eavesdropper sees).
    pub(crate) clear: Vec<u8>,
    pub(crate) events: Vec<ClientEvent>,
    pub(crate) errors: Vec<ClientError>,
    pub(crate) starttls: usize,
    pub(crate) handshake_pending: bool,
    pub(crate) secure: bool,
    pub(crate) closed: bool,
}

impl Run {
    pub(crate) fn new(config: ClientConfig, cut: Cut) -> Self {
        let now = Instant::now();
        let client = Client::new(config, now);
        let mut run = Run {
            client,
            now,
            cut,
            wire: Vec::new(),
            log: Vec::new(),
            clear: Vec::new(),
            events: Vec::new(),
            errors: Vec::new(),
            starttls: 0,
            handshake_pending: false,
            secure: false,
            closed: false,
        };
        run.drain();
        run
    }

    pub(crate) fn drain(&mut self) {
        while let Some(output) = self.client.poll_output() {
            match output {
                Output::Transmit(b) => {
                    assert!(!self.closed, "transmit after close");
                    assert!(!self.handshake_pending, "transmit between StartTls and TLS");
                    self.wire.extend_from_slice(&b);
                    self.log.extend_from_slice(&b);
                    if !self.secure {
                        self.clear.extend_from_slice(&b);
                    }
                }
                Output::Event(e) => self.events.push(e),
                Output::StartTls => {
                    self.starttls += 1;
                    self.handshake_pending = true;
                }
                Output::Close => self.closed = true,
                Output::Error(e) => self.errors.push(e),
                _ => {}
            }
        }
    }

    /// Makes an intent (which must be accepted) and carries out what it sends now.
    #[track_caller]
    pub(crate) fn send<T>(
        &mut self,
        intent: impl FnOnce(&mut Client, Instant) -> Result<T, UsageError>,
    ) -> T {
        let id = intent(&mut self.client, self.now)
            .unwrap_or_else(|e| panic!("cut {:?}: intent refused: {e}", self.cut));
        self.drain();
        id
    }

    /// The server sends `data`, cut as configured.
    pub(crate) fn server(&mut self, data: &[u8]) {
        for piece in cut(data, self.cut) {
            self.client.handle_input(self.now, piece);
            self.drain();
        }
    }

    /// The driver completes the handshake it was asked for.
    pub(crate) fn tls(&mut self) {
        assert!(self.handshake_pending, "no StartTls was asked for");
        self.handshake_pending = false;
        self.secure = true;
        self.client
            .handle_tls_established(self.now, &TlsInfo::for_testing("imap.example.test"));
        self.drain();
    }

    /// Asserts what the client sent since the last call.
    #[track_caller]
    pub(crate) fn expect(&mut self, wire: &[u8]) {
        assert_eq!(
            show(&self.wire),
            show(wire),
            "cut {:?}; errors {:?}",
            self.cut,
            self.errors
        );
        self.wire.clear();
    }

    pub(crate) fn advance(&mut self, by: Duration) {
        self.now += by;
        if self.client.poll_timeout().is_some_and(|d| d <= self.now) {
            self.client.handle_timeout(self.now);
            self.drain();
        }
    }

    pub(crate) fn take_events(&mut self) -> Vec<ClientEvent> {
        std::mem::take(&mut self.events)
    }

    pub(crate) fn no_errors(&self) {
        assert!(
            self.errors.is_empty(),
            "cut {:?}: {:?}",
            self.cut,
            self.errors
        );
    }
}

pub(crate) fn creds() -> Credentials {
    Credentials::password("alice", "s3cret")
}

pub(crate) fn config(tls: ClientTls) -> ClientConfig {
    ClientConfig::builder(creds()).tls(tls).build()
}

pub(crate) fn uid(n: u32) -> SeqNumber {
    SeqNumber::Value(NonZeroU32::new(n).unwrap())
}

pub(crate) fn uids(a: u32, b: Option<u32>) -> SequenceSet {
    match b {
        None => SequenceSet::single(a).unwrap(),
        Some(b) => SequenceSet::new(vec![SeqRange::Range(uid(a), uid(b))]).unwrap(),
    }
}

pub(crate) fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

/// `AGFsaWNlAHMzY3JldA==` is base64 of `\0alice\0s3cret`.
pub(crate) const PLAIN_IR: &str = "AGFsaWNlAHMzY3JldA==";

/// Greeting, STARTTLS, CAPABILITY over TLS, AUTHENTICATE PLAIN with SASL-IR, to Ready.
pub(crate) fn login_over_starttls(run: &mut Run, after_tls_caps: &str) {
    run.server(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n");
    run.expect(b"A0001 STARTTLS\r\n");
    run.server(b"A0001 OK begin TLS\r\n");
    assert_eq!(run.starttls, 1);
    run.expect(b"");
    run.tls();
    run.expect(b"A0002 CAPABILITY\r\n");
    run.server(format!("* CAPABILITY {after_tls_caps}\r\nA0002 OK done\r\n").as_bytes());
}

/// Asserts that the session ended with exactly one error, matching the pattern, and closed.
#[allow(unused_macros)]
macro_rules! assert_ended {
    ($run:expr, $pattern:pat) => {{
        let run = &$run;
        assert!(
            matches!(&run.errors[..], [$pattern]),
            "cut {:?}: {:?}",
            run.cut,
            run.errors
        );
        assert!(run.closed, "cut {:?}: not closed", run.cut);
    }};
}
#[allow(unused_imports)]
pub(crate) use assert_ended;

/// A logged-in session over STARTTLS (required, default configuration) with the given
/// capabilities after login; the next tag is A0004.
pub(crate) fn logged_in(cut: Cut, caps: &str) -> Run {
    logged_in_with(config(ClientTls::StartTlsRequired), cut, caps)
}

/// A logged-in session over STARTTLS with `config` (StartTlsRequired) and the given
/// capabilities after login; the next tag is A0004.
pub(crate) fn logged_in_with(config: ClientConfig, cut: Cut, caps: &str) -> Run {
    let mut run = Run::new(config, cut);
    login_over_starttls(&mut run, "IMAP4rev1 SASL-IR AUTH=PLAIN");
    run.expect(format!("A0003 AUTHENTICATE PLAIN {PLAIN_IR}\r\n").as_bytes());
    run.server(format!("A0003 OK [CAPABILITY {caps}] hi\r\n").as_bytes());
    assert!(run.client.is_ready(), "{:?}", run.errors);
    run.take_events();
    run
}
