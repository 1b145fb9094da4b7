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
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, ExposeSecret, Mechanism};
use mailsec_tls::{Machine, Output, ServerPolicy, TlsInfo};

struct State {
    closed: bool,
    closed_events: usize,
    start_tls: bool,
    store: MemoryMaildrop,
    control: u8,
    /// The rest of the message being sent, one chunk per ask.
    sending: Vec<u8>,
}

/// Answers one ask: the next chunk (a size picked by the control byte), or the end.
fn send_next(server: &mut Pop3Server, state: &mut State) -> Result<(), UsageError> {
    if state.sending.is_empty() {
        return server.end_message();
    }
    let n = state.sending.len().min(usize::from(state.control % 7) + 1);
    let chunk: Vec<u8> = state.sending.drain(..n).collect();
    let result = server.send_message_data(&chunk);
    if result.is_ok() {
        // One answer per ask: pushing ahead is refused.
        assert!(
            server.send_message_data(&chunk).is_err(),
            "two chunks for one ask"
        );
    }
    result
}

fn answer(server: &mut Pop3Server, state: &mut State, event: ServerEvent) {
    // Intents may be refused (usage errors); that must not panic either.
    let _ = match event {
        ServerEvent::CheckCredentials { check, .. } => {
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
        ServerEvent::CheckApop { user, .. } => server.answer_credentials(if user.len() % 2 == 0 {
            CheckAnswer::Accept
        } else {
            CheckAnswer::Reject
        }),
        ServerEvent::OpenMaildrop { .. } => {
            if state.control & 2 == 0 {
                server.open_maildrop(Box::new(state.store.clone()))
            } else {
                server.refuse_maildrop(MaildropRefusal::InUse)
            }
        }
        ServerEvent::Retrieve { uid, .. } => {
            let content = state
                .store
                .content(uid.as_bytes())
                .unwrap_or_default()
                .to_vec();
            if state.control & 4 != 0 {
                server.message_unavailable()
            } else if state.control & 64 == 0 {
                server.serve_message(&content)
            } else {
                state.sending = content;
                send_next(server, state)
            }
        }
        ServerEvent::ReadyForMessageData { .. } => send_next(server, state),
        ServerEvent::Update { .. } => server.update_done(state.control & 8 == 0),
        _ => Ok(()),
    };
}

fn drain(server: &mut Pop3Server, state: &mut State) {
    // Answers can queue more output (and more events); the loop is bounded by the input.
    while let Some(output) = server.poll_output() {
        match output {
            Output::Transmit(_) => assert!(!state.closed, "transmit after Close"),
            Output::Event(ServerEvent::Closed { .. }) => state.closed_events += 1,
            Output::Event(e) => answer(server, state, e),
            Output::StartTls => {
                assert!(server.buffered_input() == 0, "StartTls with pending input");
                state.start_tls = true;
            }
            Output::Close => state.closed = true,
            _ => {}
        }
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
    let info = TlsInfo::for_testing("fuzz.example.test");
    let mut server =
        Pop3Server::with_apop_timestamp(Arc::new(config), now, "<1.2@fuzz>").expect("valid");
    let mut store = MemoryMaildrop::new();
    let _ = store.push("u1", &b"Subject: a\r\n\r\nbody\r\n.dot\r\n"[..]);
    let _ = store.push("u2", &b"Subject: b\n\nlf only\n"[..]);
    let mut state = State {
        closed: false,
        closed_events: 0,
        start_tls: false,
        store,
        control,
        sending: Vec::new(),
    };
    if (control >> 4) & 3 == 2 {
        server.handle_tls_established(now, &info);
    }
    drain(&mut server, &mut state);
    for (i, piece) in input.chunks(chunk).enumerate() {
        server.handle_input(now, piece);
        drain(&mut server, &mut state);
        if state.start_tls {
            state.start_tls = false;
            server.handle_tls_established(now, &info);
            drain(&mut server, &mut state);
        }
        if i % 7 == 6 {
            server.handle_timeout(now + Duration::from_secs(3600));
            drain(&mut server, &mut state);
        }
        if control & 128 != 0 && i % 13 == 12 {
            server.shutdown();
            drain(&mut server, &mut state);
        }
    }
    server.handle_eof(now);
    drain(&mut server, &mut state);
    // Every event was answered at once, so end of stream ends the session in every state.
    assert!(state.closed, "EOF must close");
    assert_eq!(state.closed_events, 1, "one Closed event per session");
});
