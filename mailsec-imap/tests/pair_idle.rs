//! IDLE between the IMAP client machine and the IMAP server machine, in memory with real rustls
//! (`mailsec_tls::testing::Pair`): a delivery to the store reaches the idling client through the
//! server's own re-check timer. (The full session in every chunking is in `pair.rs`.)

use std::sync::Arc;
use std::time::Duration;

use mailsec_imap::client::{Client, ClientConfig, ClientEvent, Unsolicited};
use mailsec_imap::server::{Server, ServerConfig, ServerEvent};
use mailsec_imap::store::MemoryStore;
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, Credentials, ExposeSecret};
use mailsec_tls::testing::{Pair, TestPki};
use mailsec_tls::{ClientTls, ServerPolicy};

const MSG1: &[u8] = b"From: bob@example.test\r\nSubject: one\r\n\r\nfirst\r\n";
const MSG2: &[u8] = b"From: carol@example.test\r\nSubject: two\r\n\r\nsecond\r\n";

/// Runs the pair, answering the server's questions (alice / s3cret, the shared store), until
/// nothing more happens. Returns the server events seen.
fn settle(pair: &mut Pair<Client, Server>, store: &MemoryStore) -> Vec<ServerEvent> {
    let mut seen = Vec::new();
    loop {
        pair.run();
        let events = pair.server.take_events();
        if events.is_empty() {
            return seen;
        }
        for event in events {
            match &event {
                ServerEvent::CheckCredentials { check, .. } => {
                    let ok = matches!(check, CredentialCheck::Password { authcid, password, .. }
                        if authcid == "alice" && password.expose_secret() == "s3cret");
                    let answer = if ok {
                        CheckAnswer::Accept
                    } else {
                        CheckAnswer::Reject
                    };
                    pair.server.machine.answer_credentials(answer).unwrap();
                }
                ServerEvent::OpenStore { .. } => {
                    pair.server
                        .machine
                        .open_store(Box::new(store.clone()))
                        .unwrap();
                }
                _ => {}
            }
            seen.push(event);
        }
    }
}

fn store() -> MemoryStore {
    let store = MemoryStore::with_standard_folders();
    store.deliver("INBOX", MSG1).unwrap();
    store.deliver("INBOX", MSG2).unwrap();
    store
}

fn new_pair(tls: ClientTls, policy: ServerPolicy, pki: &TestPki) -> Pair<Client, Server> {
    let config = Arc::new(ServerConfig::builder().policy(policy).build().unwrap());
    let now = std::time::Instant::now();
    let server = Server::new(config, now);
    let client = Client::new(
        ClientConfig::builder(Credentials::password("alice", "s3cret"))
            .tls(tls)
            .build(),
        now,
    );
    if tls == ClientTls::Implicit {
        Pair::implicit_tls(client, server, pki)
    } else {
        Pair::new(client, server, pki)
    }
}

#[test]
fn idle_sees_a_delivery() {
    let pki = TestPki::new("imap.example.test");
    let store = store();
    let mut pair = new_pair(
        ClientTls::StartTlsRequired,
        ServerPolicy::starttls_required(),
        &pki,
    );
    let now = pair.now();
    pair.client.machine.select(now, "INBOX").unwrap();
    let idle = pair.client.machine.idle_start(now).unwrap();
    settle(&mut pair, &store);
    let events = pair.client.take_events();
    assert!(
        events.contains(&ClientEvent::IdleStarted { id: idle }),
        "{events:?}"
    );
    store
        .deliver("INBOX", b"Subject: new\r\n\r\nnew\r\n")
        .unwrap();
    // The server re-checks the folder on its own timer during IDLE.
    for _ in 0..12 {
        pair.advance(Duration::from_secs(30));
        settle(&mut pair, &store);
    }
    let events = pair.client.take_events();
    assert!(
        events.contains(&ClientEvent::Unsolicited(Unsolicited::Exists(3))),
        "{events:?}"
    );
    pair.client.machine.idle_stop(pair.now()).unwrap();
    settle(&mut pair, &store);
    assert!(
        pair.client
            .take_events()
            .contains(&ClientEvent::IdleEnded { id: idle })
    );
    assert!(pair.client.errors.is_empty() && pair.server.errors.is_empty());
}
