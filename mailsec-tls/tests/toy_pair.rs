//! The machine contract, the test Pair and the STARTTLS rules, exercised with the toy protocol
//! in every chunking.

use std::time::{Duration, Instant};

use bytes::Bytes;
use mailsec_tls::testing::toy::{ToyClient, ToyError, ToyEvent, ToyServer};
use mailsec_tls::testing::{Chunking, Direction, Pair, PemPair, TestPki};
use mailsec_tls::{
    CertificateProblem, ClientTls, Machine, Output, ServerPolicy, TlsError, TlsInfo, TlsSetup,
};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every chunking a test should survive: the basic ones plus a split at every offset of the
/// longest burst a toy session sends (the TLS flights are a few KiB; 64 offsets cover every
/// plaintext line and the record headers).
fn chunkings() -> Vec<Chunking> {
    let mut all = Chunking::BASIC.to_vec();
    all.extend((1..64).map(Chunking::SplitAt));
    all
}

fn login_session<S: Machine>(pair: &mut Pair<ToyClient, S>) {
    pair.run();
    assert!(
        pair.client.take_events().contains(&ToyEvent::Ready),
        "client not ready"
    );
    pair.client.machine.send_line("LOGIN alice s3cret-pw");
    pair.run();
}

#[test]
fn starttls_session_in_every_chunking() {
    let pki = TestPki::new("mail.example.test");
    for chunking in chunkings() {
        let mut pair = Pair::new(
            ToyClient::new(ClientTls::StartTlsRequired),
            ToyServer::new(ServerPolicy::starttls_required()),
            &pki,
        );
        pair.set_chunking(chunking);
        login_session(&mut pair);

        assert!(
            pair.client.is_secure() && pair.server.is_secure(),
            "{chunking:?}"
        );
        assert_eq!(pair.client.tls_established, 1);
        assert_eq!(pair.server.tls_established, 1);
        assert_eq!(
            pair.server.take_events(),
            [
                ToyEvent::Secured,
                ToyEvent::LoggedIn {
                    user: "alice".into()
                }
            ],
            "{chunking:?}"
        );
        // Amnesia: the capabilities are the ones sent over TLS (no STARTTLS any more).
        assert_eq!(pair.client.machine.capabilities(), ["LOGIN"]);
        // The capture: the upgrade is visible, the password is not.
        assert!(contains(&pair.client.wire, b"STARTTLS\r\n"));
        assert!(contains(&pair.server.wire, b"OK begin TLS\r\n"));
        assert!(!contains(&pair.client.wire, b"s3cret-pw"), "{chunking:?}");
        assert!(!contains(&pair.client.wire, b"LOGIN"), "{chunking:?}");
        assert!(pair.client.errors.is_empty() && pair.server.errors.is_empty());

        pair.client.machine.send_line("QUIT");
        pair.run();
        assert!(pair.client.take_events().contains(&ToyEvent::Closed));
        assert!(pair.client.closed && pair.server.closed);
    }
}

#[test]
fn plaintext_session_shows_the_password() {
    let pki = TestPki::new("mail.example.test");
    let mut pair = Pair::new(
        ToyClient::new(ClientTls::InsecurePlaintext),
        ToyServer::new(ServerPolicy::insecure_plaintext()),
        &pki,
    );
    login_session(&mut pair);
    assert!(!pair.client.is_secure());
    assert!(contains(&pair.client.wire, b"LOGIN alice s3cret-pw\r\n"));
    assert!(pair.server.take_events().contains(&ToyEvent::LoggedIn {
        user: "alice".into()
    }));
}

#[test]
fn implicit_tls_session() {
    let pki = TestPki::new("mail.example.test");
    for chunking in Chunking::BASIC {
        let mut pair = Pair::implicit_tls(
            ToyClient::new(ClientTls::Implicit),
            ToyServer::new(ServerPolicy::implicit_tls()),
            &pki,
        );
        pair.set_chunking(chunking);
        login_session(&mut pair);
        // Nothing at all crosses in clear: not even the greeting.
        assert!(!contains(&pair.server.wire, b"toy ready"));
        assert!(!contains(&pair.client.wire, b"CAPA"));
        assert_eq!(
            pair.server.take_events(),
            [
                ToyEvent::Secured,
                ToyEvent::LoggedIn {
                    user: "alice".into()
                }
            ]
        );
    }
}

#[test]
fn server_refuses_commands_pipelined_after_starttls() {
    let pki = TestPki::new("mail.example.test");
    for chunking in chunkings() {
        // A client that stays in clear, so raw bytes can be injected as if it sent them.
        let mut pair = Pair::new(
            ToyClient::new(ClientTls::InsecurePlaintext),
            ToyServer::new(ServerPolicy::starttls_required()),
            &pki,
        );
        pair.set_chunking(chunking);
        pair.run();
        pair.server.take_events();
        pair.inject(
            Direction::ClientToServer,
            b"STARTTLS\r\nLOGIN mallory pw\r\n",
        );

        // Never executed, in clear or inside TLS; the session ends with a typed error.
        let events = pair.server.take_events();
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, ToyEvent::LoggedIn { .. })),
            "{chunking:?}: {events:?}"
        );
        assert!(pair.server.failed(), "{chunking:?}");
        assert!(pair.server.closed, "{chunking:?}");
        if chunking == Chunking::Whole {
            assert_eq!(pair.server.errors, [ToyError::CommandInjection(18)]);
            assert!(!contains(&pair.server.wire, b"OK begin TLS"));
        }
    }
}

/// A server wrapper standing in for a meddler: it appends bytes after the go-ahead, or strips
/// STARTTLS from the capabilities.
struct Meddler {
    inner: ToyServer,
    inject_after_go_ahead: Option<&'static [u8]>,
    strip_starttls: bool,
}

impl Machine for Meddler {
    type Event = ToyEvent;
    type Error = ToyError;
    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.inner.handle_input(now, data);
    }
    fn handle_eof(&mut self, now: Instant) {
        self.inner.handle_eof(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
    }
    fn handle_tls_established(&mut self, now: Instant, info: &TlsInfo) {
        self.inner.handle_tls_established(now, info);
    }
    fn poll_output(&mut self) -> Option<Output<ToyEvent, ToyError>> {
        match self.inner.poll_output()? {
            Output::Transmit(bytes) if &bytes[..] == b"OK begin TLS\r\n" => {
                let mut forged = bytes.to_vec();
                forged.extend_from_slice(self.inject_after_go_ahead.unwrap_or_default());
                Some(Output::Transmit(Bytes::from(forged)))
            }
            Output::Transmit(bytes) if self.strip_starttls && bytes.starts_with(b"CAPA") => {
                let text = String::from_utf8_lossy(&bytes).replace(" STARTTLS", "");
                Some(Output::Transmit(Bytes::from(text)))
            }
            other => Some(other),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }
}

#[test]
fn client_refuses_responses_injected_after_the_go_ahead() {
    let pki = TestPki::new("mail.example.test");
    for chunking in chunkings() {
        let server = Meddler {
            inner: ToyServer::new(ServerPolicy::starttls_required()),
            inject_after_go_ahead: Some(b"CAPA LOGIN\r\n"),
            strip_starttls: false,
        };
        let mut pair = Pair::new(ToyClient::new(ClientTls::StartTlsRequired), server, &pki);
        pair.set_chunking(chunking);
        pair.run();
        let events = pair.client.take_events();
        assert!(
            !events.contains(&ToyEvent::Ready),
            "{chunking:?}: {events:?}"
        );
        assert!(!pair.client.machine.is_secure());
        assert!(pair.client.failed(), "{chunking:?}");
        assert!(
            pair.client
                .machine
                .capabilities()
                .iter()
                .all(|c| c != "LOGIN")
        );
        if chunking == Chunking::Whole {
            assert_eq!(pair.client.errors, [ToyError::ResponseInjection(12)]);
        }
    }
}

#[test]
fn required_tls_survives_stripping_and_refusal() {
    let pki = TestPki::new("mail.example.test");
    // Capability stripped by a middlebox: the client asks anyway and upgrades.
    let server = Meddler {
        inner: ToyServer::new(ServerPolicy::starttls_required()),
        inject_after_go_ahead: None,
        strip_starttls: true,
    };
    let mut pair = Pair::new(ToyClient::new(ClientTls::StartTlsRequired), server, &pki);
    login_session(&mut pair);
    assert!(pair.client.is_secure());
    assert!(!contains(&pair.client.wire, b"s3cret-pw"));

    // STARTTLS refused: the session ends before any credential.
    let mut pair = Pair::new(
        ToyClient::new(ClientTls::StartTlsRequired),
        ToyServer::new(ServerPolicy::insecure_plaintext()),
        &pki,
    );
    pair.run();
    assert_eq!(
        pair.client.errors,
        [ToyError::TlsUnavailable("refused STARTTLS")]
    );
    assert!(!pair.client.take_events().contains(&ToyEvent::Ready));
    pair.client.machine.send_line("LOGIN alice s3cret-pw");
    pair.run();
    assert!(!contains(&pair.client.wire, b"LOGIN"));

    // Opportunistic: refused means clear, but the credential is still withheld.
    let mut pair = Pair::new(
        ToyClient::new(ClientTls::StartTlsOpportunistic),
        ToyServer::new(ServerPolicy::insecure_plaintext()),
        &pki,
    );
    login_session(&mut pair);
    assert!(!contains(&pair.client.wire, b"LOGIN"));
    assert!(matches!(
        pair.client.errors[..],
        [ToyError::TlsUnavailable(_)]
    ));
}

#[test]
fn server_requiring_a_secure_channel_refuses_login_in_clear() {
    let pki = TestPki::new("mail.example.test");
    let mut pair = Pair::new(
        ToyClient::new(ClientTls::InsecurePlaintext),
        ToyServer::new(ServerPolicy::starttls_required()),
        &pki,
    );
    login_session(&mut pair);
    assert!(
        pair.client
            .take_events()
            .contains(&ToyEvent::Line("NO secure channel required".into()))
    );
    assert!(
        pair.server
            .take_events()
            .iter()
            .all(|e| !matches!(e, ToyEvent::LoggedIn { .. }))
    );
}

fn failed_handshake(client_tls: TlsSetup, server_pair: &PemPair) -> Pair<ToyClient, ToyServer> {
    let mut pair = Pair::with_tls(
        ToyClient::new(ClientTls::StartTlsRequired),
        client_tls,
        ToyServer::new(ServerPolicy::starttls_required()),
        TlsSetup::Server(TestPki::server_config_with(server_pair)),
        false,
    );
    pair.run();
    pair
}

#[test]
fn certificate_errors_end_the_session_before_credentials() {
    let pki = TestPki::new("mail.example.test");
    let client_tls = |name: &str| TlsSetup::Client {
        config: pki.client_config(),
        server_name: name.to_owned(),
    };
    let wrong = pki.issue(
        &["other.example.test"],
        mailsec_tls::testing::Validity::Current,
    );
    let pair = failed_handshake(client_tls("mail.example.test"), &wrong);
    assert!(matches!(
        pair.client.tls_errors[..],
        [TlsError::Certificate(
            CertificateProblem::NameMismatch { .. }
        )]
    ));
    assert!(!pair.client.machine.is_secure());
    assert!(!pair.server.is_secure());

    let expired = pki.issue(
        &["mail.example.test"],
        mailsec_tls::testing::Validity::Expired,
    );
    let pair = failed_handshake(client_tls("mail.example.test"), &expired);
    assert!(matches!(
        pair.client.tls_errors[..],
        [TlsError::Certificate(CertificateProblem::Expired)]
    ));

    let pair = failed_handshake(
        client_tls("mail.example.test"),
        &TestPki::self_signed("mail.example.test"),
    );
    assert!(matches!(
        pair.client.tls_errors[..],
        [TlsError::Certificate(CertificateProblem::UnknownIssuer)]
    ));
}

#[test]
fn idle_server_times_out_on_the_virtual_clock() {
    let pki = TestPki::new("mail.example.test");
    let mut pair = Pair::new(
        ToyClient::new(ClientTls::StartTlsRequired),
        ToyServer::new(ServerPolicy::starttls_required())
            .with_idle_timeout(Duration::from_secs(60)),
        &pki,
    );
    pair.run();
    assert!(pair.client.take_events().contains(&ToyEvent::Ready));
    pair.advance(Duration::from_secs(59));
    assert!(!pair.server.closed);
    pair.advance(Duration::from_secs(2));
    assert_eq!(pair.server.errors, [ToyError::Timeout]);
    assert!(pair.server.closed);
    assert!(
        pair.client
            .take_events()
            .contains(&ToyEvent::Line("BYE idle too long".into()))
    );
}
