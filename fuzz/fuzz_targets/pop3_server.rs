//! The POP3 server machine fed arbitrary bytes in arbitrary chunks, with every event answered
//! by a simple rule (message content pulled one small chunk per ask): it must never panic,
//! never transmit after Close, never start TLS with bytes pending behind STLS, never take a
//! second chunk for one ask, and end every session with exactly one `Closed` event. Some
//! inputs also shut the session down part way.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailsec_pop3::maildrop::MemoryMaildrop;
use mailsec_pop3::server::{MaildropRefusal, Pop3Server, ServerConfig, ServerEvent, UsageError};
use mailsec_tls::ServerPolicy;
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, ExposeSecret, Mechanism};
use mailsec_tls::testing::fuzz::{ChunkPlan, FuzzHarness, Timeouts, drive};

struct Harness {
    server: Pop3Server,
    closed_events: usize,
    store: MemoryMaildrop,
    control: u8,
    /// The rest of the message being sent, one chunk per ask.
    sending: Vec<u8>,
}

impl Harness {
    /// Answers one ask: the next chunk (a size picked by the control byte), or the end.
    fn send_next(&mut self) -> Result<(), UsageError> {
        if self.sending.is_empty() {
            return self.server.end_message();
        }
        let n = self.sending.len().min(usize::from(self.control % 7) + 1);
        let chunk: Vec<u8> = self.sending.drain(..n).collect();
        let result = self.server.send_message_data(&chunk);
        if result.is_ok() {
            // One answer per ask: pushing ahead is refused.
            assert!(
                self.server.send_message_data(&chunk).is_err(),
                "two chunks for one ask"
            );
        }
        result
    }
}

impl FuzzHarness for Harness {
    type Machine = Pop3Server;

    fn machine(&mut self) -> &mut Pop3Server {
        &mut self.server
    }

    fn on_event(&mut self, event: ServerEvent) {
        // Intents may be refused (usage errors); that must not panic either.
        let _ = match event {
            ServerEvent::Closed { .. } => {
                self.closed_events += 1;
                Ok(())
            }
            ServerEvent::CheckCredentials { check, .. } => {
                let ok = match &check {
                    CredentialCheck::Password { password, .. } => {
                        password.expose_secret().len() % 2 == 0
                    }
                    CredentialCheck::Authorize { .. } => self.control & 1 == 0,
                    _ => false,
                };
                self.server.answer_credentials(if ok {
                    CheckAnswer::Accept
                } else {
                    CheckAnswer::Reject
                })
            }
            ServerEvent::CheckApop { user, .. } => {
                self.server.answer_credentials(if user.len() % 2 == 0 {
                    CheckAnswer::Accept
                } else {
                    CheckAnswer::Reject
                })
            }
            ServerEvent::OpenMaildrop { .. } => {
                if self.control & 2 == 0 {
                    self.server.open_maildrop(Box::new(self.store.clone()))
                } else {
                    self.server.refuse_maildrop(MaildropRefusal::InUse)
                }
            }
            ServerEvent::Retrieve { uid, .. } => {
                let content = self
                    .store
                    .content(uid.as_bytes())
                    .unwrap_or_default()
                    .to_vec();
                if self.control & 4 != 0 {
                    self.server.message_unavailable()
                } else if self.control & 64 == 0 {
                    self.server.serve_message(&content)
                } else {
                    self.sending = content;
                    self.send_next()
                }
            }
            ServerEvent::ReadyForMessageData { .. } => self.send_next(),
            ServerEvent::Update { .. } => self.server.update_done(self.control & 8 == 0),
            _ => Ok(()),
        };
    }

    fn on_start_tls(&mut self) {
        assert!(
            self.server.buffered_input() == 0,
            "StartTls with pending input"
        );
    }

    fn shutdown(&mut self) {
        self.server.shutdown();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control % 23) + 1;
    let policy = match (control >> 4) & 3 {
        0 => ServerPolicy::starttls_required(),
        1 => ServerPolicy::starttls_optional(),
        2 => ServerPolicy::implicit_tls(),
        _ => ServerPolicy::insecure_plaintext(),
    };
    let config = ServerConfig::builder()
        .policy(policy)
        .apop(true)
        .mechanisms([
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::ScramSha256,
            Mechanism::XOAuth2,
            Mechanism::OAuthBearer,
        ])
        .build()
        .expect("valid config");
    let now = Instant::now();
    let server =
        Pop3Server::with_apop_timestamp(Arc::new(config), now, "<1.2@fuzz>").expect("valid");
    let mut store = MemoryMaildrop::new();
    let _ = store.push("u1", &b"Subject: a\r\n\r\nbody\r\n.dot\r\n"[..]);
    let _ = store.push("u2", &b"Subject: b\n\nlf only\n"[..]);
    let mut harness = Harness {
        server,
        closed_events: 0,
        store,
        control,
        sending: Vec::new(),
    };
    let plan = ChunkPlan::new(chunk)
        .implicit_tls((control >> 4) & 3 == 2)
        .timeouts(Timeouts::Fixed {
            every: 7,
            after: Duration::from_secs(3600),
        })
        .shutdown_every((control & 128 != 0).then_some(13))
        .tls_when_closed(true);
    // Every event was answered at once, so end of stream ends the session in every state
    // (`drive` checks the close).
    drive(&mut harness, now, input, &plan);
    assert_eq!(harness.closed_events, 1, "one Closed event per session");
});
