//! The IMAP client machine against the IMAP server machine, in memory with real rustls
//! (`mailsec_tls::testing::Pair`), in the basic chunkings.

use std::sync::Arc;
use std::time::Duration;

use mailsec_imap::client::{AuthMethod, Client, ClientConfig, ClientEvent, Unsolicited};
use mailsec_imap::server::{Server, ServerConfig, ServerEvent};
use mailsec_imap::store::MemoryStore;
use mailsec_imap::types::{Flag, SearchKey, SeqNumber, SeqRange, SequenceSet};
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, Credentials, ExposeSecret};
use mailsec_tls::testing::{Chunking, Pair, TestPki};
use mailsec_tls::{ClientTls, ServerPolicy};

const MSG1: &[u8] = b"From: bob@example.test\r\nSubject: one\r\n\r\nfirst\r\n";
const MSG2: &[u8] = b"From: carol@example.test\r\nSubject: two\r\n\r\nsecond\r\n";

fn all() -> SequenceSet {
    SequenceSet::new(vec![SeqRange::Range(
        SeqNumber::Value(std::num::NonZeroU32::MIN),
        SeqNumber::Largest,
    )])
    .unwrap()
}

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

fn session(pair: &mut Pair<Client, Server>, store: &MemoryStore) {
    let now = pair.now();
    let c = &mut pair.client.machine;
    let list = c.list(now, "", "*").unwrap();
    let select = c.select(now, "INBOX").unwrap();
    let headers = c.fetch_headers(now, all()).unwrap();
    let message = c.fetch_message(now, 2).unwrap();
    let append = c
        .append(
            now,
            "Sent",
            &[Flag::Seen],
            &b"Subject: sent\r\n\r\nhello\r\n"[..],
        )
        .unwrap();
    let search = c.search(now, vec![SearchKey::All]).unwrap();
    let moved = c
        .move_messages(now, SequenceSet::single(1).unwrap(), "Archive")
        .unwrap();
    let logout = c.logout(now).unwrap();
    let _ = logout;
    settle(pair, store);

    assert_eq!(
        (pair.client.tls_established, pair.server.tls_established),
        (1, 1)
    );
    assert!(pair.client.errors.is_empty(), "{:?}", pair.client.errors);
    assert!(pair.server.errors.is_empty(), "{:?}", pair.server.errors);
    let events = pair.client.take_events();
    assert!(
        matches!(
            events
                .iter()
                .find(|e| matches!(e, ClientEvent::Ready { .. })),
            Some(ClientEvent::Ready {
                secure: true,
                auth: AuthMethod::Sasl(_) | AuthMethod::Login,
                ..
            })
        ),
        "{events:?}"
    );
    let listed = events.iter().find_map(|e| match e {
        ClientEvent::Listed { id, folders } if *id == list => Some(folders),
        _ => None,
    });
    let names: Vec<String> = listed
        .unwrap()
        .iter()
        .map(|f| f.mailbox.to_utf8().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n == "INBOX") && names.iter().any(|n| n == "Sent"),
        "{names:?}"
    );
    assert!(events.iter().any(
        |e| matches!(e, ClientEvent::Selected { id, info } if *id == select && info.exists == 2 && info.uid_validity.is_some())
    ));
    let fetched = events
        .iter()
        .filter(|e| matches!(e, ClientEvent::Fetched { id, .. } if *id == headers))
        .count();
    assert_eq!(fetched, 2, "{events:?}");
    assert!(events.iter().any(
        |e| matches!(e, ClientEvent::Message { id, uid: Some(2), data, .. } if *id == message && &data[..] == MSG2)
    ), "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ClientEvent::Appended { id, .. } if *id == append))
    );
    assert!(
        events.iter().any(
            |e| matches!(e, ClientEvent::Searched { id, uids } if *id == search && uids == &[1, 2])
        ),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ClientEvent::Moved { id, .. } if *id == moved)),
        "{events:?}"
    );
    assert_eq!(events.last(), Some(&ClientEvent::Closed));
    // The store saw it all.
    assert_eq!(store.uids("INBOX"), vec![2]);
    assert_eq!(store.uids("Archive").len(), 1);
    assert_eq!(store.uids("Sent").len(), 1);
    // Nothing sensitive crossed in clear.
    let clear = String::from_utf8_lossy(&pair.client.wire);
    assert!(!clear.contains("s3cret") && !clear.contains("AGFsaWNl"));
}

#[test]
fn starttls_session_against_the_server_in_every_chunking() {
    let pki = TestPki::new("imap.example.test");
    for chunking in Chunking::BASIC {
        let store = store();
        let mut pair = new_pair(
            ClientTls::StartTlsRequired,
            ServerPolicy::starttls_required(),
            &pki,
        );
        pair.set_chunking(chunking);
        session(&mut pair, &store);
        assert_eq!(pair.client.tls_established, 1, "{chunking:?}");
    }
}

#[test]
fn implicit_tls_session_against_the_server() {
    let pki = TestPki::new("imap.example.test");
    let store = store();
    let mut pair = new_pair(ClientTls::Implicit, ServerPolicy::implicit_tls(), &pki);
    session(&mut pair, &store);
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
