//! The IMAP server machine fed arbitrary bytes in arbitrary chunks, with every event answered
//! by a simple rule and a `MemoryStore` behind it: it must never panic, never transmit after
//! Close, never start TLS with bytes pending behind STARTTLS, never emit a `+` continuation
//! or a credential check before TLS on a listener that requires it, and end every session
//! with exactly one `Closed` event. FETCH output is pulled one output at a time, as a slow
//! socket would; some inputs also time out or shut the session down part way.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/imap_server.rs` and by
//! `tests/server_robustness.rs`, which runs it over fixed and pseudo-random inputs so that
//! `cargo test` checks the same invariants.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailsec_imap::server::{Server, ServerConfig, ServerEvent, StoreRefusal};
use mailsec_imap::store::MemoryStore;
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, ExposeSecret, Mechanism};
use mailsec_tls::{Machine, Output, ServerPolicy, TlsInfo};

struct State {
    closed: bool,
    closed_events: usize,
    start_tls: bool,
    /// The listener refuses credentials in clear and TLS is not up.
    must_not_check: bool,
    store: MemoryStore,
    control: u8,
}

fn answer(server: &mut Server, state: &mut State, event: ServerEvent) {
    let _ = match event {
        ServerEvent::CheckCredentials { check, .. } => {
            assert!(!state.must_not_check, "credential check before TLS");
            let ok = match &check {
                CredentialCheck::Password { password, .. } => {
                    password.expose_secret().len() % 2 == 0
                }
                CredentialCheck::Authorize { .. } => state.control & 1 == 0,
                _ => false,
            };
            server.answer_credentials(if ok {
                CheckAnswer::Accept
            } else {
                CheckAnswer::Reject
            })
        }
        ServerEvent::OpenStore { .. } => {
            if state.control & 2 == 0 {
                server.open_store(Box::new(state.store.clone()))
            } else {
                server.refuse_store(StoreRefusal::InUse)
            }
        }
        _ => Ok(()),
    };
}

fn drain(server: &mut Server, state: &mut State) {
    while let Some(output) = server.poll_output() {
        match output {
            Output::Transmit(bytes) => {
                assert!(!state.closed, "transmit after Close");
                if state.must_not_check {
                    assert!(
                        !bytes.starts_with(b"+ ") || bytes.starts_with(b"+ Ready"),
                        "SASL continuation before TLS"
                    );
                }
            }
            Output::Event(ServerEvent::Closed { .. }) => state.closed_events += 1,
            Output::Event(e) => answer(server, state, e),
            Output::StartTls => {
                assert_eq!(server.buffered_input(), 0, "StartTls with pending input");
                state.start_tls = true;
            }
            Output::Close => state.closed = true,
            _ => {}
        }
    }
}

/// One session driven by `data` (its first byte picks the policy, chunk size and answers).
pub(crate) fn run(data: &[u8]) {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control % 23) + 1;
    let mode = (control >> 4) & 3;
    let policy = match mode {
        0 => ServerPolicy::starttls_required(),
        1 => ServerPolicy::starttls_optional(),
        2 => ServerPolicy::implicit_tls(),
        _ => ServerPolicy::insecure_plaintext(),
    };
    let config = ServerConfig::builder()
        .policy(policy)
        .mechanisms([
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::ScramSha256,
            Mechanism::XOAuth2,
            Mechanism::OAuthBearer,
        ])
        .fetch_chunk(1024)
        .literal_plus(control & 8 != 0)
        .build()
        .expect("valid config");
    let now = Instant::now();
    let info = TlsInfo::for_testing("fuzz.example.test");
    let mut server = Server::new(Arc::new(config), now);
    let store = MemoryStore::new();
    let _ = store.deliver("INBOX", b"Subject: a\r\nFrom: x@y\r\n\r\nbody\r\n");
    let _ = store.deliver(
        "INBOX",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n",
    );
    let mut state = State {
        closed: false,
        closed_events: 0,
        start_tls: false,
        // PLAIN, LOGIN and tokens are plaintext-equivalent; the fuzz input may still pick
        // SCRAM under `starttls_optional`, which is allowed in clear.
        must_not_check: mode == 0,
        store,
        control,
    };
    if mode == 2 {
        server.handle_tls_established(now, &info);
    }
    drain(&mut server, &mut state);
    for (i, piece) in input.chunks(chunk).enumerate() {
        server.handle_input(now, piece);
        drain(&mut server, &mut state);
        if state.start_tls {
            state.start_tls = false;
            server.handle_tls_established(now, &info);
            state.must_not_check = false;
            drain(&mut server, &mut state);
        }
        if i % 7 == 6 {
            server.handle_timeout(now + Duration::from_secs(3 * 3600));
            drain(&mut server, &mut state);
        }
        if control & 128 != 0 && i % 13 == 12 {
            server.shutdown();
            drain(&mut server, &mut state);
        }
    }
    server.handle_eof(now);
    drain(&mut server, &mut state);
    assert!(state.closed, "EOF must close");
    assert_eq!(state.closed_events, 1, "one Closed event per session");
}
