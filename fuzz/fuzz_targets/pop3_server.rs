//! The POP3 server machine fed arbitrary bytes in arbitrary chunks, with every event answered
//! by a simple rule: it must never panic, never transmit after Close, never start TLS with
//! bytes pending behind STLS, and end every session with exactly one `Closed` event.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailsec_pop3::maildrop::MemoryMaildrop;
use mailsec_pop3::server::{MaildropRefusal, Pop3Server, ServerConfig, ServerEvent};
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, ExposeSecret, Mechanism};
use mailsec_tls::{Machine, Output, ServerPolicy, TlsInfo};

struct State {
    closed: bool,
    closed_events: usize,
    start_tls: bool,
    store: MemoryMaildrop,
    control: u8,
}

fn answer(server: &mut Pop3Server, state: &State, event: ServerEvent) {
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
            if state.control & 4 == 0 {
                server.serve_message(&content)
            } else {
                server.message_unavailable()
            }
        }
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
    }
    server.handle_eof(now);
    drain(&mut server, &mut state);
    // Every event was answered at once, so end of stream ends the session in every state.
    assert!(state.closed, "EOF must close");
    assert_eq!(state.closed_events, 1, "one Closed event per session");
});
