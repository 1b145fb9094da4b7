//! Our IMAP client machine against our IMAP server machine, in memory, with real rustls between
//! them, over every chunking: STARTTLS ("require secure channel") and implicit TLS, SCRAM and
//! PLAIN, then a mail client's day — list, select, headers, a large message byte for byte, mark
//! read, search, append, move, expunge by MOVE — checked against the store afterwards.

use std::num::NonZeroU32;
use std::sync::Arc;

use mailsec_imap::client::{AuthMethod, Client, ClientConfig, ClientEvent, RequestId};
use mailsec_imap::server::{Server, ServerConfig, ServerEvent};
use mailsec_imap::store::MemoryStore;
use mailsec_imap::types::{Flag, MsgAtt, SearchKey, SeqNumber, SeqRange, SequenceSet};
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, Credentials, Mechanism, ScramStored};
use mailsec_tls::testing::{Chunking, Pair, TestPki};
use mailsec_tls::{ClientTls, ServerPolicy};
use secrecy::ExposeSecret;

const HOST: &str = "imap.example.test";
const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";

fn chunkings() -> Vec<Chunking> {
    let mut all = Chunking::BASIC.to_vec();
    all.extend([1, 3, 7, 19, 41].map(Chunking::SplitAt));
    all
}

fn small(subject: &str) -> Vec<u8> {
    format!(
        "From: bob@example.net\r\nTo: alice@example.test\r\nSubject: {subject}\r\n\r\nHello\r\n"
    )
    .into_bytes()
}

/// About 120 KB: several FETCH chunks and TLS records.
fn big() -> Vec<u8> {
    let mut m = b"From: carol@example.net\r\nSubject: big\r\n\r\n".to_vec();
    for i in 0..3000 {
        m.extend_from_slice(format!("line {i} of a long message body\r\n").as_bytes());
    }
    m
}

fn store() -> MemoryStore {
    let store = MemoryStore::with_standard_folders();
    store.deliver("INBOX", &small("one")).unwrap();
    store.deliver("INBOX", &small("two")).unwrap();
    store.deliver("INBOX", &big()).unwrap();
    store
}

fn scram() -> ScramStored {
    ScramStored::derive(PASSWORD, b"fixed salt for tests", 4096).expect("scram")
}

fn answer(check: &CredentialCheck) -> CheckAnswer {
    match check {
        CredentialCheck::Password {
            authcid, password, ..
        } if authcid == USER && password.expose_secret() == PASSWORD => CheckAnswer::Accept,
        CredentialCheck::ScramLookup { authcid, .. } if authcid == USER => {
            CheckAnswer::ScramCredentials(Some(scram()))
        }
        _ => CheckAnswer::Reject,
    }
}

fn uids(list: &[u32]) -> SequenceSet {
    SequenceSet::new(
        list.iter()
            .map(|&n| SeqRange::Single(SeqNumber::Value(NonZeroU32::new(n).unwrap())))
            .collect(),
    )
    .unwrap()
}

fn all() -> SequenceSet {
    SequenceSet::new(vec![SeqRange::Range(
        SeqNumber::Value(NonZeroU32::MIN),
        SeqNumber::Largest,
    )])
    .unwrap()
}

/// The ids of the client's day, in the order queued.
struct Day {
    list: RequestId,
    select: RequestId,
    headers: RequestId,
    message: RequestId,
    seen: RequestId,
    unseen: RequestId,
    append: RequestId,
    moved: RequestId,
}

/// Queues the whole day before the session even starts: the machine holds intents until it is
/// logged in.
fn queue_day(client: &mut Client, now: std::time::Instant) -> Day {
    Day {
        list: client.list(now, "", "*").unwrap(),
        select: client.select(now, "INBOX").unwrap(),
        headers: client.fetch_headers(now, all()).unwrap(),
        message: client.fetch_message(now, 3).unwrap(),
        seen: client.mark_seen(now, uids(&[1])).unwrap(),
        unseen: client.search(now, vec![SearchKey::Unseen]).unwrap(),
        append: client
            .append(now, "Drafts", &[Flag::Draft], small("draft"))
            .unwrap(),
        moved: client.move_messages(now, uids(&[2]), "Archive").unwrap(),
    }
}

/// Runs the pair until the client reports `Closed`, answering the server's events.
fn drive(pair: &mut Pair<Client, Server>, store: &MemoryStore) -> Vec<ClientEvent> {
    let mut events = Vec::new();
    for _ in 0..1000 {
        pair.run();
        let mut answered = false;
        for event in pair.server.take_events() {
            match event {
                ServerEvent::CheckCredentials { check, .. } => {
                    pair.server
                        .machine
                        .answer_credentials(answer(&check))
                        .unwrap();
                    answered = true;
                }
                ServerEvent::OpenStore { identity } => {
                    assert_eq!(identity.acts_as(), USER);
                    pair.server
                        .machine
                        .open_store(Box::new(store.clone()))
                        .unwrap();
                    answered = true;
                }
                _ => {}
            }
        }
        let new = pair.client.take_events();
        let closed = new.iter().any(|e| matches!(e, ClientEvent::Closed));
        events.extend(new);
        if closed {
            return events;
        }
        if !answered && pair.client.failed() {
            break;
        }
    }
    panic!(
        "the session did not end: client errors {:?}, server errors {:?}, events {events:?}",
        pair.client.errors, pair.server.errors
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Everything a day must have produced, on both sides.
fn check_day(day: &Day, events: &[ClientEvent], store: &MemoryStore, what: &str) {
    let ready = events.iter().find_map(|e| match e {
        ClientEvent::Ready { secure, auth, .. } => Some((*secure, *auth)),
        _ => None,
    });
    assert_eq!(
        ready,
        Some((true, AuthMethod::Sasl(Mechanism::ScramSha256))),
        "{what}"
    );
    let listed = events.iter().find_map(|e| match e {
        ClientEvent::Listed { id, folders } if *id == day.list => Some(folders.len()),
        _ => None,
    });
    assert_eq!(
        listed,
        Some(6),
        "{what}: INBOX and the five standard folders"
    );
    let exists = events.iter().find_map(|e| match e {
        ClientEvent::Selected { id, info } if *id == day.select => Some(info.exists),
        _ => None,
    });
    assert_eq!(exists, Some(3), "{what}");
    let headers = events
        .iter()
        .filter(|e| matches!(e, ClientEvent::Fetched { id, .. } if *id == day.headers))
        .count();
    assert_eq!(headers, 3, "{what}: one FETCH per message");
    // The header fetch carries the header block of message 1.
    let first_header = events.iter().find_map(|e| match e {
        ClientEvent::Fetched {
            id,
            seq: 1,
            attributes,
        } if *id == day.headers => attributes.iter().find_map(|a| match a {
            MsgAtt::BodySection { data, .. } => data.0.as_ref().map(|d| d.as_bytes().to_vec()),
            _ => None,
        }),
        _ => None,
    });
    assert_eq!(
        first_header.as_deref(),
        Some(&small("one")[..small("one").len() - "Hello\r\n".len()]),
        "{what}"
    );
    let body: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Message { id, data, .. } if *id == day.message => Some(&data[..]),
            _ => None,
        })
        .flatten()
        .copied()
        .collect();
    assert!(body == big(), "{what}: the large message differs");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ClientEvent::Completed { id, .. } if *id == day.seen)),
        "{what}: the STORE did not complete"
    );
    let unseen = events.iter().find_map(|e| match e {
        ClientEvent::Searched { id, uids } if *id == day.unseen => Some(uids.clone()),
        _ => None,
    });
    assert_eq!(unseen, Some(vec![2, 3]), "{what}: uid 1 was marked read");
    assert!(
        events.iter().any(
            |e| matches!(e, ClientEvent::Appended { id, uids: Some(_), .. } if *id == day.append)
        ),
        "{what}: APPENDUID"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ClientEvent::Moved { id, copy_uid: Some(_) } if *id == day.moved)),
        "{what}: COPYUID on MOVE"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ClientEvent::Failed { .. })),
        "{what}: {events:?}"
    );
    // The store agrees.
    assert_eq!(store.uids("INBOX"), [1, 3], "{what}");
    assert_eq!(store.uids("Archive").len(), 1, "{what}");
    let archived = store.uids("Archive")[0];
    assert_eq!(store.message("Archive", archived), Some(small("two")));
    let drafts = store.uids("Drafts");
    assert_eq!(drafts.len(), 1);
    assert_eq!(store.message("Drafts", drafts[0]), Some(small("draft")));
    assert!(
        store
            .meta("Drafts", drafts[0])
            .unwrap()
            .flags
            .contains(&Flag::Draft)
    );
    assert!(store.meta("INBOX", 1).unwrap().flags.contains(&Flag::Seen));
    // BODY.PEEK: reading message 3 did not mark it.
    assert!(!store.meta("INBOX", 3).unwrap().flags.contains(&Flag::Seen));
}

fn client(tls: ClientTls) -> Client {
    let config = ClientConfig::builder(Credentials::password(USER, PASSWORD))
        .tls(tls)
        .build();
    Client::new(config, std::time::Instant::now())
}

fn server(policy: ServerPolicy) -> Server {
    let config = ServerConfig::builder()
        .policy(policy)
        .greeting(format!("{HOST} IMAP ready"))
        .mechanisms([Mechanism::ScramSha256, Mechanism::Plain])
        .build()
        .unwrap();
    Server::new(Arc::new(config), std::time::Instant::now())
}

/// A whole day in every chunking, over STARTTLS or over implicit TLS, checked on both sides.
fn day_in_every_chunking(implicit: bool) {
    let pki = TestPki::new(HOST);
    for chunking in chunkings() {
        let store = store();
        let now = std::time::Instant::now();
        let mut c = client(if implicit {
            ClientTls::Implicit
        } else {
            ClientTls::StartTlsRequired
        });
        let day = queue_day(&mut c, now);
        c.logout(now).unwrap();
        let mut pair = if implicit {
            Pair::implicit_tls(c, server(ServerPolicy::implicit_tls()), &pki)
        } else {
            Pair::new(c, server(ServerPolicy::starttls_required()), &pki)
        };
        pair.set_chunking(chunking);
        let events = drive(&mut pair, &store);
        let what = format!("implicit {implicit}, {chunking:?}");
        check_day(&day, &events, &store, &what);
        // The capture: never a credential; in clear, the upgrade and nothing of the login.
        assert!(!contains(&pair.client.wire, PASSWORD.as_bytes()), "{what}");
        assert!(!contains(&pair.client.wire, b"AUTHENTICATE"), "{what}");
        assert_eq!(
            contains(&pair.client.wire, b"STARTTLS\r\n"),
            !implicit,
            "{what}"
        );
        assert!(
            pair.client.errors.is_empty() && pair.server.errors.is_empty(),
            "{what}: {:?} {:?}",
            pair.client.errors,
            pair.server.errors
        );
        assert!(pair.client.closed && pair.server.closed, "{what}");
    }
}

#[test]
fn starttls_day_in_every_chunking() {
    day_in_every_chunking(false);
}

#[test]
fn implicit_tls_day_in_every_chunking() {
    day_in_every_chunking(true);
}

#[test]
fn wrong_password_never_opens_the_store() {
    let pki = TestPki::new(HOST);
    let _ = store();
    let config = ClientConfig::builder(Credentials::password(USER, "not the password"))
        .tls(ClientTls::StartTlsRequired)
        .build();
    let mut c = Client::new(config, std::time::Instant::now());
    c.select(std::time::Instant::now(), "INBOX").unwrap();
    let mut pair = Pair::new(c, server(ServerPolicy::starttls_required()), &pki);
    let mut opened = false;
    for _ in 0..100 {
        pair.run();
        let mut answered = false;
        for event in pair.server.take_events() {
            match event {
                ServerEvent::CheckCredentials { check, .. } => {
                    pair.server
                        .machine
                        .answer_credentials(answer(&check))
                        .unwrap();
                    answered = true;
                }
                ServerEvent::OpenStore { .. } => opened = true,
                _ => {}
            }
        }
        if !answered {
            break;
        }
    }
    assert!(!opened, "the store was opened for a wrong password");
    assert!(pair.client.failed(), "the client must fail the login");
    assert!(
        !pair
            .client
            .take_events()
            .iter()
            .any(|e| matches!(e, ClientEvent::Ready { .. } | ClientEvent::Selected { .. })),
    );
}
