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
use mailsec_tls::ServerPolicy;
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, ExposeSecret, Mechanism};
use mailsec_tls::testing::fuzz::{ChunkPlan, FuzzHarness, Timeouts, drive};

struct Harness {
    server: Server,
    closed_events: usize,
    /// The listener refuses credentials in clear and TLS is not up.
    must_not_check: bool,
    store: MemoryStore,
    control: u8,
}

impl FuzzHarness for Harness {
    type Machine = Server;

    fn machine(&mut self) -> &mut Server {
        &mut self.server
    }

    fn on_event(&mut self, event: ServerEvent) {
        let server = &mut self.server;
        let _ = match event {
            ServerEvent::Closed { .. } => {
                self.closed_events += 1;
                Ok(())
            }
            ServerEvent::CheckCredentials { check, .. } => {
                assert!(!self.must_not_check, "credential check before TLS");
                let ok = match &check {
                    CredentialCheck::Password { password, .. } => {
                        password.expose_secret().len() % 2 == 0
                    }
                    CredentialCheck::Authorize { .. } => self.control & 1 == 0,
                    _ => false,
                };
                server.answer_credentials(if ok {
                    CheckAnswer::Accept
                } else {
                    CheckAnswer::Reject
                })
            }
            ServerEvent::OpenStore { .. } => {
                if self.control & 2 == 0 {
                    server.open_store(Box::new(self.store.clone()))
                } else {
                    server.refuse_store(StoreRefusal::InUse)
                }
            }
            _ => Ok(()),
        };
    }

    fn on_transmit(&mut self, bytes: &[u8]) {
        if self.must_not_check {
            assert!(
                !bytes.starts_with(b"+ ") || bytes.starts_with(b"+ Ready"),
                "SASL continuation before TLS"
            );
        }
    }

    fn on_start_tls(&mut self) {
        assert_eq!(
            self.server.buffered_input(),
            0,
            "StartTls with pending input"
        );
    }

    fn on_tls_established(&mut self) {
        self.must_not_check = false;
    }

    fn shutdown(&mut self) {
        self.server.shutdown();
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
    let store = MemoryStore::new();
    let _ = store.deliver("INBOX", b"Subject: a\r\nFrom: x@y\r\n\r\nbody\r\n");
    let _ = store.deliver(
        "INBOX",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n",
    );
    let mut harness = Harness {
        server: Server::new(Arc::new(config), now),
        closed_events: 0,
        // PLAIN, LOGIN and tokens are plaintext-equivalent; the fuzz input may still pick
        // SCRAM under `starttls_optional`, which is allowed in clear.
        must_not_check: mode == 0,
        store,
        control,
    };
    let plan = ChunkPlan::new(chunk)
        .implicit_tls(mode == 2)
        .timeouts(Timeouts::Fixed {
            every: 7,
            after: Duration::from_secs(3 * 3600),
        })
        .shutdown_every((control & 128 != 0).then_some(13))
        .tls_when_closed(true);
    // Ends with end of stream, which must close (checked by `drive`).
    drive(&mut harness, now, input, &plan);
    assert_eq!(harness.closed_events, 1, "one Closed event per session");
}
