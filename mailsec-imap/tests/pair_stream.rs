//! Our IMAP client machine against our IMAP server machine, in memory with real rustls
//! (`mailsec_tls::testing::Pair`): a 20 MB message streamed to the client in bounded chunks
//! although the client's literal limit is 1 MiB, and the intents ENABLE, ID, NAMESPACE,
//! UNSELECT and CLOSE against a real server.

use std::time::Duration;

mod pair_common;

use mailsec_imap::client::{ClientConfig, ClientEvent, RequestId};
use mailsec_imap::store::MemoryStore;
use mailsec_imap::types::{Capability, Flag};
use mailsec_tls::testing::{Chunking, TestPki};
use mailsec_tls::{ClientTls, Machine, ServerPolicy};
use pair_common::{credentials, new_pair, policy_for, settle};

const HOST: &str = "imap.example.test";
const CHUNK: usize = 16 * 1024;

fn client_config(tls: ClientTls) -> ClientConfig {
    ClientConfig::builder(credentials())
        .tls(tls)
        .max_literal(1 << 20)
        .stream_chunk(CHUNK)
        .build()
}

/// About 20 MB, with every octet value but NUL and bare CR/LF.
fn huge() -> Vec<u8> {
    let mut m = b"From: carol@example.net\r\nSubject: huge\r\n\r\n".to_vec();
    let mut i = 0u32;
    while m.len() < 20_000_000 {
        m.extend_from_slice(format!("{i:08} ").as_bytes());
        m.extend(0x20u8..0x7f);
        m.extend(0x80u8..=0xff);
        m.extend_from_slice(b"\r\n");
        i += 1;
    }
    m
}

/// Folds a stream's events: the octets (checked chunk by chunk) and the end.
struct Stream {
    data: Vec<u8>,
    largest: usize,
    started: Option<(u32, Option<u32>, u64)>,
    ended: Option<(Option<u32>, Option<Vec<Flag<'static>>>)>,
    completed: bool,
}

impl Stream {
    fn new() -> Self {
        Stream {
            data: Vec::new(),
            largest: 0,
            started: None,
            ended: None,
            completed: false,
        }
    }

    fn take(&mut self, id: RequestId, events: Vec<ClientEvent>) {
        for event in events {
            match event {
                ClientEvent::MessageStart {
                    id: i,
                    seq,
                    uid,
                    size,
                } if i == id => {
                    assert!(self.started.is_none());
                    self.started = Some((seq, uid, size));
                }
                ClientEvent::MessageData { id: i, data } if i == id => {
                    assert!(self.started.is_some() && self.ended.is_none());
                    assert!(!data.is_empty() && data.len() <= CHUNK, "{}", data.len());
                    self.largest = self.largest.max(data.len());
                    self.data.extend_from_slice(&data);
                }
                ClientEvent::MessageEnd {
                    id: i,
                    uid,
                    flags,
                    size,
                    ..
                } if i == id => {
                    assert_eq!(size, self.data.len() as u64);
                    self.ended = Some((uid, flags));
                }
                ClientEvent::Completed { id: i, .. } if i == id => {
                    assert!(self.ended.is_some());
                    self.completed = true;
                }
                ClientEvent::Message { .. } | ClientEvent::Fetched { .. } => {
                    panic!("not streamed: {event:?}")
                }
                _ => {}
            }
        }
    }
}

fn stream_huge(tls: ClientTls, chunking: Chunking) {
    let pki = TestPki::new(HOST);
    let store = MemoryStore::with_standard_folders();
    store
        .deliver("INBOX", b"Subject: small\r\n\r\nhi\r\n")
        .unwrap();
    let message = huge();
    store.deliver("INBOX", &message).unwrap();
    let mut pair = new_pair(client_config(tls), policy_for(tls), &pki);
    pair.set_chunking(chunking);
    let now = pair.now();
    pair.client.machine.examine(now, "INBOX").unwrap();
    let id = pair
        .client
        .machine
        .fetch_message_streamed(now, 2, false)
        .unwrap();
    let mut stream = Stream::new();
    // Events are taken after every round of the driver, as an application would write them
    // out: the client never holds the message.
    for _ in 0..100_000 {
        settle(&mut pair, &store);
        let events = pair.client.take_events();
        if events.is_empty() {
            break;
        }
        stream.take(id, events);
    }
    assert!(
        !(pair.client.failed() || pair.server.failed()),
        "{chunking:?}: {:?} {:?} {:?} {:?}",
        pair.client.errors,
        pair.server.errors,
        pair.client.tls_errors,
        pair.server.tls_errors,
    );
    assert!(stream.completed, "{chunking:?}");
    assert_eq!(stream.started, Some((2, Some(2), message.len() as u64)));
    assert_eq!(stream.data.len(), message.len());
    assert!(stream.data == message, "{chunking:?}: content differs");
    assert!(stream.largest <= CHUNK);
    let (uid, flags) = stream.ended.unwrap();
    assert_eq!(uid, Some(2));
    assert!(!flags.unwrap().contains(&Flag::Seen));

    // The same message through `fetch_message` exceeds max_literal (1 MiB): refused.
    let now = pair.now();
    pair.client.machine.fetch_message(now, 2).unwrap();
    settle(&mut pair, &store);
    assert!(
        matches!(
            &pair.client.errors[..],
            [mailsec_imap::client::ClientError::Framing(_)]
        ),
        "{:?}",
        pair.client.errors
    );
}

// Not `Whole` nor `SplitAt`: those deliver the 20 MB of TLS records in one piece, which the
// harness's pipe refuses (it bounds decrypted plaintext per delivery at 1 MiB, as a driver
// reading a socket in bounded reads does). Odd sizes cut records and lines anywhere.
#[test]
fn twenty_megabytes_streamed_over_starttls() {
    for chunking in [
        Chunking::Every(1 << 18),
        Chunking::Every(16_411),
        Chunking::Every(4093),
    ] {
        stream_huge(ClientTls::StartTlsRequired, chunking);
    }
}

#[test]
fn twenty_megabytes_streamed_over_implicit_tls() {
    stream_huge(ClientTls::Implicit, Chunking::Every(65_521));
}

#[test]
fn enable_id_namespace_unselect_close_against_our_server() {
    let pki = TestPki::new(HOST);
    for chunking in Chunking::BASIC {
        let store = MemoryStore::with_standard_folders();
        store.deliver("INBOX", b"Subject: x\r\n\r\nx\r\n").unwrap();
        let config = ClientConfig::builder(credentials())
            .tls(ClientTls::StartTlsRequired)
            .keepalive(Some(Duration::from_secs(600)))
            .build();
        let mut pair = new_pair(config, ServerPolicy::starttls_required(), &pki);
        pair.set_chunking(chunking);
        let now = pair.now();
        let c = &mut pair.client.machine;
        let enable = c.enable(now, &[Capability::Utf8Accept]).unwrap();
        let id = c.id(now, Some(&[("name", Some("mailsec"))])).unwrap();
        let ns = c.namespace(now).unwrap();
        let create = c.create(now, "Entwürfe").unwrap();
        let list = c.list(now, "", "Entw*").unwrap();
        c.select(now, "INBOX").unwrap();
        let unselect = c.unselect(now, false).unwrap();
        c.select(now, "INBOX").unwrap();
        let close = c.close(now).unwrap();
        settle(&mut pair, &store);
        let events = pair.client.take_events();
        assert!(
            !(pair.client.failed() || pair.server.failed()),
            "{chunking:?}: {:?}",
            pair.client.errors
        );
        let find = |id: RequestId| {
            events
                .iter()
                .find(|e| match e {
                    ClientEvent::Enabled { id: i, .. }
                    | ClientEvent::IdInfo { id: i, .. }
                    | ClientEvent::Namespaces { id: i, .. }
                    | ClientEvent::Listed { id: i, .. }
                    | ClientEvent::Completed { id: i, .. }
                    | ClientEvent::Failed { id: i, .. } => *i == id,
                    _ => false,
                })
                .unwrap_or_else(|| panic!("{chunking:?}: {id:?} in {events:?}"))
        };
        assert!(
            matches!(find(enable), ClientEvent::Enabled { capabilities, .. } if capabilities == &vec![Capability::Utf8Accept])
        );
        assert!(pair.client.machine.utf8_names());
        assert!(
            matches!(find(id), ClientEvent::IdInfo { .. }),
            "{:?}",
            find(id)
        );
        assert!(
            matches!(find(ns), ClientEvent::Namespaces { personal: Some(p), .. } if !p.is_empty()),
            "{:?}",
            find(ns)
        );
        assert!(
            matches!(find(create), ClientEvent::Completed { .. }),
            "{:?}",
            find(create)
        );
        // The folder exists under its Unicode name, sent as UTF-8.
        assert!(
            store.folder_names().iter().any(|f| f == "Entwürfe"),
            "{:?}",
            store.folder_names()
        );
        let ClientEvent::Listed { folders, .. } = find(list) else {
            panic!("{:?}", find(list))
        };
        assert_eq!(folders.len(), 1, "{folders:?}");
        assert_eq!(
            pair.client
                .machine
                .folder_name(&folders[0].mailbox)
                .unwrap(),
            "Entwürfe"
        );
        assert!(
            matches!(
                find(unselect),
                ClientEvent::Completed {
                    command: "UNSELECT",
                    ..
                }
            ),
            "{:?}",
            find(unselect)
        );
        assert!(
            matches!(
                find(close),
                ClientEvent::Completed {
                    command: "CLOSE",
                    ..
                }
            ),
            "{:?}",
            find(close)
        );
        // Keepalive against the real server: a NOOP after 10 quiet minutes, answered.
        pair.advance(Duration::from_secs(600));
        settle(&mut pair, &store);
        assert!(
            !(pair.client.failed() || pair.server.failed()),
            "{:?}",
            pair.client.errors
        );
        assert!(pair.client.machine.is_ready());
        assert_eq!(
            pair.client.machine.poll_timeout(),
            Some(pair.now() + Duration::from_secs(600))
        );
    }
}
