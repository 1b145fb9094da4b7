//! IDLE between the IMAP client machine and the IMAP server machine, in memory with real rustls
//! (`mailsec_tls::testing::Pair`): a delivery to the store reaches the idling client through the
//! server's own re-check timer. (The full session in every chunking is in `pair.rs`.)

use std::time::Duration;

mod pair_common;

use mailsec_imap::client::{ClientConfig, ClientEvent, Unsolicited};
use mailsec_imap::store::MemoryStore;
use mailsec_tls::testing::TestPki;
use mailsec_tls::{ClientTls, ServerPolicy};
use pair_common::{credentials, new_pair, settle};

const MSG1: &[u8] = b"From: bob@example.test\r\nSubject: one\r\n\r\nfirst\r\n";
const MSG2: &[u8] = b"From: carol@example.test\r\nSubject: two\r\n\r\nsecond\r\n";

fn store() -> MemoryStore {
    let store = MemoryStore::with_standard_folders();
    store.deliver("INBOX", MSG1).unwrap();
    store.deliver("INBOX", MSG2).unwrap();
    store
}

#[test]
fn idle_sees_a_delivery() {
    let pki = TestPki::new("imap.example.test");
    let store = store();
    let config = ClientConfig::builder(credentials())
        .tls(ClientTls::StartTlsRequired)
        .build();
    let mut pair = new_pair(config, ServerPolicy::starttls_required(), &pki);
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
