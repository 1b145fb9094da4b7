//! Our POP3 client machine against our POP3 server machine, in memory, with real rustls between
//! them, over every chunking: STLS and implicit TLS, every login method, listings, RETR and TOP
//! byte for byte, deletions applied only in UPDATE, leave-on-server, and the refusals.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use mailsec_pop3::client::{
    AuthMethod, Client, ClientConfig, ClientError, ClientEvent, LeaveMode, LeaveOnServer,
};
use mailsec_pop3::maildrop::MessageInfo;
use mailsec_pop3::server::{MaildropRefusal, Pop3Server, ServerConfig, ServerEvent};
use mailsec_pop3::{MessageNumber, ResponseCode, UidlListing, UniqueId};
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, Credentials, Mechanism, ScramStored};
use mailsec_tls::testing::{Chunking, Pair, TestPki};
use mailsec_tls::{ClientTls, ServerPolicy};
use secrecy::ExposeSecret;

const HOST: &str = "pop.example.test";
const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";

fn chunkings() -> Vec<Chunking> {
    let mut all = Chunking::BASIC.to_vec();
    all.extend([1, 3, 5, 11, 23].map(Chunking::SplitAt));
    all
}

/// The mailbox the server application serves: uid → content (CRLF, as stored).
fn mailbox() -> Vec<(String, Vec<u8>)> {
    let mut big = b"From: bob@example.net\r\nSubject: big\r\n\r\n".to_vec();
    for i in 0..2000 {
        big.extend_from_slice(format!("line {i} of a long message body\r\n").as_bytes());
    }
    vec![
        (
            "uid-1".into(),
            b"From: bob@example.net\r\nSubject: one\r\n\r\nHello\r\n".to_vec(),
        ),
        (
            "uid-2".into(),
            b"Subject: dots\r\n\r\n.\r\n..two\r\n.leading\r\nend\r\n".to_vec(),
        ),
        ("uid-3".into(), big),
    ]
}

/// Answers one ask of the server with the next piece of `rest` (4 KiB), or ends the message.
fn send_next(s: &mut Pop3Server, rest: &mut &[u8]) {
    if rest.is_empty() {
        s.end_message().unwrap();
        return;
    }
    let (piece, tail) = rest.split_at(rest.len().min(4096));
    s.send_message_data(piece).unwrap();
    *rest = tail;
}

/// What the server application does.
#[derive(Clone, Copy, Default)]
struct ServerApp {
    /// Refuse the maildrop as locked by another session.
    in_use: bool,
}

#[derive(Default, Debug)]
struct Outcome {
    ready: Option<(bool, AuthMethod)>,
    uidl: Vec<UidlListing>,
    /// Messages the client received, by message number.
    fetched: HashMap<u32, Vec<u8>>,
    /// Deletions the server application was asked to apply (only in UPDATE).
    update: Option<Vec<String>>,
    committed: Option<bool>,
    closed_ack: Option<bool>,
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

/// What the client application does once logged in.
#[derive(Clone, Copy)]
enum Plan {
    /// UIDL, RETR every message, DELE `dele` of them, QUIT.
    FetchAll { dele: &'static [u32] },
    /// TOP n 0 for every message, QUIT.
    Headers,
    /// UIDL, then fetch what `LeaveOnServer` says, QUIT.
    Leave,
}

fn drive(
    pair: &mut Pair<Client, Pop3Server>,
    app: ServerApp,
    plan: Plan,
    mut leave: Option<&mut LeaveOnServer>,
) -> Outcome {
    let store = mailbox();
    let mut out = Outcome::default();
    let mut bodies: HashMap<u64, (u32, Vec<u8>)> = HashMap::new();
    let mut planned = false;
    // The rest of the message the server application is sending.
    let mut sending: &[u8] = &[];
    let now = pair.now();
    for _ in 0..10_000 {
        pair.run();
        let mut acted = false;
        for event in pair.server.take_events() {
            let s = &mut pair.server.machine;
            match event {
                ServerEvent::CheckCredentials { check, .. } => {
                    s.answer_credentials(answer(&check)).unwrap();
                    acted = true;
                }
                ServerEvent::OpenMaildrop { .. } => {
                    if app.in_use {
                        s.refuse_maildrop(MaildropRefusal::InUse).unwrap();
                    } else {
                        let listing: Vec<MessageInfo> = store
                            .iter()
                            .map(|(uid, body)| {
                                MessageInfo::new(
                                    body.len() as u64,
                                    UniqueId::new(uid.as_bytes()).unwrap(),
                                )
                            })
                            .collect();
                        s.open_maildrop(Box::new(listing)).unwrap();
                    }
                    acted = true;
                }
                ServerEvent::Retrieve { uid, .. } => {
                    let (_, body) = store
                        .iter()
                        .find(|(u, _)| u.as_bytes() == uid.as_bytes())
                        .expect("known uid");
                    // Pulled in pieces, one per ask, as a file would be read.
                    sending = body.as_slice();
                    send_next(s, &mut sending);
                    acted = true;
                }
                ServerEvent::ReadyForMessageData { .. } => {
                    send_next(s, &mut sending);
                    acted = true;
                }
                ServerEvent::Update { deleted } => {
                    out.update = Some(
                        deleted
                            .iter()
                            .map(|(_, uid)| String::from_utf8_lossy(uid.as_bytes()).into_owned())
                            .collect(),
                    );
                    s.update_done(true).unwrap();
                    acted = true;
                }
                ServerEvent::Closed { committed } => out.committed = Some(committed),
                _ => {}
            }
        }
        for event in pair.client.take_events() {
            let c = &mut pair.client.machine;
            match event {
                ClientEvent::Ready { secure, auth, .. } => {
                    out.ready = Some((secure, auth));
                    match plan {
                        Plan::Headers => {
                            for n in 1..=store.len() as u32 {
                                c.top(now, MessageNumber::new(n).unwrap(), 0).unwrap();
                            }
                            c.quit(now).unwrap();
                            planned = true;
                        }
                        Plan::FetchAll { .. } | Plan::Leave => {
                            c.uidl(now, None).unwrap();
                        }
                    }
                    acted = true;
                }
                ClientEvent::Uidl { listings, .. } if !planned => {
                    let numbers: Vec<MessageNumber> = match (&plan, leave.as_deref_mut()) {
                        (Plan::Leave, Some(leave)) => leave.plan(&listings),
                        _ => listings.iter().map(|l| l.msg).collect(),
                    };
                    out.uidl = listings;
                    for msg in numbers {
                        c.retr(now, msg).unwrap();
                    }
                    if let Plan::FetchAll { dele } = plan {
                        for &n in dele {
                            c.dele(now, MessageNumber::new(n).unwrap()).unwrap();
                        }
                    }
                    c.quit(now).unwrap();
                    planned = true;
                    acted = true;
                }
                ClientEvent::MessageData { id, data } => {
                    bodies.entry(id.0).or_default().1.extend_from_slice(&data);
                }
                ClientEvent::MessageEnd { id, msg, .. } => {
                    let (_, body) = bodies.remove(&id.0).unwrap_or_default();
                    if let Some(leave) = leave.as_deref_mut() {
                        leave.fetched(msg);
                    }
                    out.fetched.insert(msg.get(), body);
                }
                ClientEvent::Closed {
                    update_acknowledged,
                } => out.closed_ack = Some(update_acknowledged),
                _ => {}
            }
        }
        if !acted {
            pair.run();
            if pair.client.events.is_empty() && pair.server.events.is_empty() {
                return out;
            }
        }
    }
    panic!("pair did not settle");
}

fn client(tls: ClientTls) -> Client {
    let mut c = Client::new(
        ClientConfig::builder(Credentials::password(USER, PASSWORD))
            .tls(tls)
            .build(),
    );
    c.start_clock(Instant::now());
    c
}

fn server(policy: ServerPolicy) -> Pop3Server {
    let config = ServerConfig::builder()
        .policy(policy)
        .mechanisms([Mechanism::ScramSha256, Mechanism::Plain, Mechanism::Login])
        .build()
        .unwrap();
    Pop3Server::new(Arc::new(config), Instant::now())
}

fn assert_clean(pair: &Pair<Client, Pop3Server>, what: &str) {
    assert!(
        pair.client.errors.is_empty() && pair.server.errors.is_empty(),
        "{what}: client {:?} server {:?} tls {:?} {:?}",
        pair.client.errors,
        pair.server.errors,
        pair.client.tls_errors,
        pair.server.tls_errors
    );
}

#[test]
fn stls_login_fetch_and_delete_over_every_chunking() {
    let pki = TestPki::new(HOST);
    let store = mailbox();
    for chunking in chunkings() {
        let mut pair = Pair::new(
            client(ClientTls::StartTlsRequired),
            server(ServerPolicy::starttls_required()),
            &pki,
        );
        pair.set_chunking(chunking);
        let out = drive(
            &mut pair,
            ServerApp::default(),
            Plan::FetchAll { dele: &[2] },
            None,
        );
        assert_clean(&pair, &format!("{chunking:?}"));
        let (secure, _) = out.ready.expect("logged in");
        assert!(secure, "{chunking:?}");
        for (i, (_, body)) in store.iter().enumerate() {
            assert_eq!(
                out.fetched.get(&(i as u32 + 1)),
                Some(body),
                "{chunking:?}: message {} byte for byte",
                i + 1
            );
        }
        let uids: Vec<&[u8]> = out.uidl.iter().map(|l| l.uid.as_bytes()).collect();
        assert_eq!(uids, [&b"uid-1"[..], b"uid-2", b"uid-3"]);
        assert_eq!(out.update, Some(vec!["uid-2".to_owned()]), "{chunking:?}");
        assert_eq!((out.committed, out.closed_ack), (Some(true), Some(true)));
        // Neither the password nor the user name crossed the wire in clear.
        let clear = String::from_utf8_lossy(&pair.client.wire);
        assert!(
            !clear.contains(USER) && !clear.contains("PASS"),
            "{chunking:?}: {clear}"
        );
    }
}

#[test]
fn every_login_method_works_over_implicit_tls() {
    let pki = TestPki::new(HOST);
    let methods: [(Option<Mechanism>, AuthMethod); 4] = [
        (Some(Mechanism::Plain), AuthMethod::Sasl(Mechanism::Plain)),
        (Some(Mechanism::Login), AuthMethod::Sasl(Mechanism::Login)),
        (
            Some(Mechanism::ScramSha256),
            AuthMethod::Sasl(Mechanism::ScramSha256),
        ),
        (None, AuthMethod::UserPass),
    ];
    for (mechanism, expected) in methods {
        for chunking in [Chunking::Whole, Chunking::ByteByByte] {
            let builder = ClientConfig::builder(Credentials::password(USER, PASSWORD))
                .tls(ClientTls::Implicit);
            let builder = match mechanism {
                Some(m) => builder.mechanisms([m]),
                None => builder.sasl(false),
            };
            let mut c = Client::new(builder.build());
            c.start_clock(Instant::now());
            let mut pair = Pair::implicit_tls(c, server(ServerPolicy::implicit_tls()), &pki);
            pair.set_chunking(chunking);
            let out = drive(
                &mut pair,
                ServerApp::default(),
                Plan::FetchAll { dele: &[] },
                None,
            );
            assert_clean(&pair, &format!("{expected:?} {chunking:?}"));
            assert_eq!(out.ready, Some((true, expected)));
            assert_eq!(out.fetched.len(), 3);
            assert_eq!(out.update, Some(vec![]), "QUIT with nothing deleted");
        }
    }
}

#[test]
fn top_zero_gives_exactly_the_header_block() {
    let pki = TestPki::new(HOST);
    for chunking in chunkings() {
        let mut pair = Pair::new(
            client(ClientTls::StartTlsRequired),
            server(ServerPolicy::starttls_required()),
            &pki,
        );
        pair.set_chunking(chunking);
        let out = drive(&mut pair, ServerApp::default(), Plan::Headers, None);
        assert_clean(&pair, &format!("{chunking:?}"));
        for (i, (_, body)) in mailbox().iter().enumerate() {
            let end = body
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("header end")
                + 4;
            assert_eq!(
                out.fetched.get(&(i as u32 + 1)).map(Vec::as_slice),
                Some(&body[..end]),
                "{chunking:?}: TOP {} 0",
                i + 1
            );
        }
    }
}

#[test]
fn leave_on_server_fetches_each_message_once_per_machine() {
    let pki = TestPki::new(HOST);
    let mut laptop = LeaveOnServer::new([], LeaveMode::Keep);
    let mut phone = LeaveOnServer::new([], LeaveMode::Keep);
    let poll = |leave: &mut LeaveOnServer| {
        let mut pair = Pair::new(
            client(ClientTls::StartTlsRequired),
            server(ServerPolicy::starttls_required()),
            &pki,
        );
        let out = drive(&mut pair, ServerApp::default(), Plan::Leave, Some(leave));
        assert_clean(&pair, "leave");
        assert_eq!(out.update, Some(vec![]), "nothing deleted in Keep mode");
        out.fetched.len()
    };
    assert_eq!(poll(&mut laptop), 3);
    assert_eq!(poll(&mut laptop), 0, "the laptop has seen them all");
    assert_eq!(poll(&mut phone), 3, "the phone has not");
    // What the application persists per machine brings the state back.
    let saved: Vec<UniqueId> = phone.seen().cloned().collect();
    let mut phone_again = LeaveOnServer::new(saved, LeaveMode::Keep);
    assert_eq!(poll(&mut phone_again), 0);
}

#[test]
fn a_client_without_tls_never_sends_credentials_to_a_server_requiring_tls() {
    let pki = TestPki::new(HOST);
    for chunking in [Chunking::Whole, Chunking::ByteByByte] {
        let mut pair = Pair::new(
            client(ClientTls::InsecurePlaintext),
            server(ServerPolicy::starttls_required()),
            &pki,
        );
        pair.set_chunking(chunking);
        let out = drive(
            &mut pair,
            ServerApp::default(),
            Plan::FetchAll { dele: &[] },
            None,
        );
        assert!(out.ready.is_none());
        assert!(
            matches!(pair.client.errors[..], [ClientError::NoUsableAuth(_)]),
            "{:?}",
            pair.client.errors
        );
        let clear = String::from_utf8_lossy(&pair.client.wire);
        assert!(
            !clear.contains("USER") && !clear.contains("PASS") && !clear.contains("AUTH"),
            "{clear}"
        );
        assert_eq!(out.committed, Some(false));
    }
}

#[test]
fn a_wrong_password_and_a_locked_maildrop_end_the_session_with_the_code() {
    let pki = TestPki::new(HOST);
    // Wrong password.
    let mut c = Client::new(
        ClientConfig::builder(Credentials::password(USER, "wrong"))
            .tls(ClientTls::Implicit)
            .build(),
    );
    c.start_clock(Instant::now());
    let mut pair = Pair::implicit_tls(c, server(ServerPolicy::implicit_tls()), &pki);
    let out = drive(
        &mut pair,
        ServerApp::default(),
        Plan::FetchAll { dele: &[] },
        None,
    );
    assert!(out.ready.is_none());
    assert!(
        matches!(
            &pair.client.errors[..],
            [ClientError::AuthFailed {
                code: Some(ResponseCode::Auth),
                ..
            }]
        ),
        "{:?}",
        pair.client.errors
    );
    // The maildrop is locked by another session.
    let mut pair = Pair::implicit_tls(
        client(ClientTls::Implicit),
        server(ServerPolicy::implicit_tls()),
        &pki,
    );
    let out = drive(
        &mut pair,
        ServerApp { in_use: true },
        Plan::FetchAll { dele: &[] },
        None,
    );
    assert!(out.ready.is_none());
    assert!(
        matches!(
            &pair.client.errors[..],
            [ClientError::AuthFailed {
                code: Some(ResponseCode::InUse),
                ..
            }]
        ),
        "{:?}",
        pair.client.errors
    );
    assert_eq!(out.committed, Some(false));
}
