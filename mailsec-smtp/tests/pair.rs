//! Our SMTP client machine against our SMTP server machine, in memory, with real rustls between
//! them, over every chunking: the roles (MX, submission, implicit-TLS submission), AUTH, DATA and
//! BDAT, pipelining, refusals, and the application's decisions on the server side.

use bytes::BytesMut;
use mailsec_smtp::client::{self, Client, ClientConfig, Envelope};
use mailsec_smtp::server::{self, Role, Server, ServerConfig};
use mailsec_smtp::types::Domain;
use mailsec_tls::ClientTls;
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, Credentials, Mechanism, ScramStored};
use mailsec_tls::testing::{Chunking, Pair, TestPki};
use secrecy::ExposeSecret;

const HOST: &str = "mail.example.test";
const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";

/// Every chunking of the security model: whole, byte by byte, split inside lines and CRLFs.
fn chunkings() -> Vec<Chunking> {
    let mut all = Chunking::BASIC.to_vec();
    all.extend([1, 3, 5, 11, 23].map(Chunking::SplitAt));
    all
}

/// How the test's "application" answers the server's questions.
#[derive(Clone, Default)]
struct Policy {
    /// Recipients (local part) refused with 550.
    refuse_rcpt: &'static [&'static str],
    /// Refuse the message at its end with 554.
    refuse_message: bool,
    /// Leave the client ready instead of quitting when the messages are sent.
    stay: bool,
}

/// What both applications saw.
#[derive(Default, Debug)]
struct Outcome {
    /// Messages the server application kept (accepted), as received.
    kept: Vec<Vec<u8>>,
    /// Recipient results on the client: (address, accepted).
    rcpt: Vec<(String, bool)>,
    accepted: usize,
    rejected: usize,
    ready: Option<client::SessionInfo>,
    server_identity: Option<String>,
    client_closed: bool,
    mail_from_secure: Vec<bool>,
}

fn scram() -> ScramStored {
    ScramStored::derive(PASSWORD, b"fixed salt for tests", 4096).expect("scram")
}

fn answer_check(check: &CredentialCheck) -> CheckAnswer {
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

/// Runs the pair, playing both applications, until nothing more happens. `messages` are sent
/// one after another once the client is ready; then the client quits.
fn drive(
    pair: &mut Pair<Client, Server>,
    policy: &Policy,
    messages: &[(Envelope, Vec<u8>)],
) -> Outcome {
    let mut out = Outcome::default();
    let mut current = BytesMut::new();
    let mut next_message = 0;
    let mut body_sent: Option<usize> = None;
    let now = pair.now();
    for _ in 0..10_000 {
        pair.run();
        let mut acted = false;
        for event in pair.server.take_events() {
            let s = &mut pair.server.machine;
            match event {
                server::Event::CredentialCheck(check) => {
                    s.answer_credentials(answer_check(&check)).unwrap();
                    acted = true;
                }
                server::Event::Authenticated { identity } => {
                    out.server_identity = Some(identity.acts_as().to_owned());
                }
                server::Event::MailFrom { secure, .. } => {
                    out.mail_from_secure.push(secure);
                    s.accept_sender().unwrap();
                    acted = true;
                }
                server::Event::Recipient { to, .. } => {
                    let local = to.to_string();
                    if policy.refuse_rcpt.iter().any(|r| local.contains(r)) {
                        let reply = server::reply(550, (5, 1, 1), "No such user").unwrap();
                        s.reject_recipient(reply).unwrap();
                    } else {
                        s.accept_recipient().unwrap();
                    }
                    acted = true;
                }
                server::Event::MessageData(chunk) => current.extend_from_slice(&chunk),
                server::Event::MessageEnd { size } => {
                    assert_eq!(size as usize, current.len(), "MessageEnd size");
                    if policy.refuse_message {
                        current.clear();
                        let reply = server::reply(554, (5, 7, 1), "Not wanted").unwrap();
                        s.reject_message(reply).unwrap();
                    } else {
                        out.kept.push(current.split().to_vec());
                        s.accept_message().unwrap();
                    }
                    acted = true;
                }
                server::Event::MessageAborted { .. } => current.clear(),
                _ => {}
            }
        }
        for event in pair.client.take_events() {
            let c = &mut pair.client.machine;
            match event {
                client::Event::Ready(info) => out.ready = Some(info),
                client::Event::RecipientResult {
                    recipient, reply, ..
                } => out
                    .rcpt
                    .push((recipient.to_string(), reply.code().is_positive())),
                client::Event::ReadyForData => {
                    let body = &messages[next_message - 1].1;
                    let sent = body_sent.get_or_insert(0);
                    if *sent < body.len() {
                        // Stream in pieces, never the whole body at once.
                        let end = (*sent + 1000).min(body.len());
                        c.send_data(now, &body[*sent..end]).unwrap();
                        *sent = end;
                    } else {
                        c.finish_data(now).unwrap();
                    }
                    acted = true;
                }
                client::Event::MessageAccepted { .. } => {
                    out.accepted += 1;
                    body_sent = None;
                }
                client::Event::MessageRejected { .. } => {
                    out.rejected += 1;
                    body_sent = None;
                }
                client::Event::Closed => out.client_closed = true,
                _ => {}
            }
        }
        let c = &mut pair.client.machine;
        if c.is_ready() && body_sent.is_none() {
            if next_message < messages.len() {
                c.send_message(now, messages[next_message].0.clone())
                    .unwrap();
                next_message += 1;
                acted = true;
            } else if !c.is_closed() && !policy.stay {
                c.quit(now).unwrap();
                acted = true;
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

fn hostname() -> Domain {
    Domain::new(HOST.as_bytes()).expect("domain")
}

fn client_config(tls: ClientTls) -> ClientConfig {
    ClientConfig::for_domain("client.example.org")
        .unwrap()
        .with_tls(tls)
}

fn message(lines: usize) -> Vec<u8> {
    let mut body =
        b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: pair\r\n\r\n".to_vec();
    for i in 0..lines {
        // Lines that start with a dot exercise stuffing both ways; one is only a dot.
        match i % 5 {
            0 => body.extend_from_slice(b".\r\n"),
            1 => body.extend_from_slice(format!("..line {i} with dots\r\n").as_bytes()),
            _ => body.extend_from_slice(format!("line {i} of the body\r\n").as_bytes()),
        }
    }
    body
}

fn envelope(to: &[&str]) -> Envelope {
    Envelope::from_addresses("alice@example.org", to.iter().copied()).unwrap()
}

#[test]
fn submission_starttls_auth_and_a_message_over_every_chunking() {
    let pki = TestPki::new(HOST);
    let body = message(40);
    for chunking in chunkings() {
        let client = Client::new(
            client_config(ClientTls::StartTlsRequired)
                .with_credentials(Credentials::password(USER, PASSWORD)),
            std::time::Instant::now(),
        );
        let server = Server::new(ServerConfig::new(Role::Submission, hostname()));
        let mut pair = Pair::new(client, server, &pki);
        pair.set_chunking(chunking);
        let out = drive(
            &mut pair,
            &Policy::default(),
            &[(envelope(&["bob@example.net"]), body.clone())],
        );
        assert!(
            pair.client.errors.is_empty(),
            "{chunking:?}: {:?}",
            pair.client.errors
        );
        assert!(
            pair.server.errors.is_empty(),
            "{chunking:?}: {:?}",
            pair.server.errors
        );
        assert_eq!(
            out.kept,
            vec![body.clone()],
            "{chunking:?}: message kept byte for byte"
        );
        assert_eq!(out.accepted, 1, "{chunking:?}");
        assert_eq!(out.server_identity.as_deref(), Some(USER));
        assert_eq!(out.mail_from_secure, [true]);
        let ready = out.ready.expect("client ready");
        assert!(ready.is_secure() && ready.authenticated.is_some());
        assert!(out.client_closed && pair.client.closed && pair.server.closed);
        // The capture shows no credential and no envelope: all of that went inside TLS.
        let clear = String::from_utf8_lossy(&pair.client.wire);
        assert!(
            !clear.contains("AUTH") && !clear.contains("MAIL FROM"),
            "{chunking:?}"
        );
    }
}

#[test]
fn every_sasl_mechanism_the_server_offers_works_with_the_client() {
    let pki = TestPki::new(HOST);
    for mechanism in [Mechanism::Plain, Mechanism::Login, Mechanism::ScramSha256] {
        for chunking in [Chunking::Whole, Chunking::ByteByByte] {
            let client = Client::new(
                client_config(ClientTls::Implicit)
                    .with_credentials(Credentials::password(USER, PASSWORD))
                    .with_mechanisms([mechanism]),
                std::time::Instant::now(),
            );
            let server = Server::new(
                ServerConfig::new(Role::ImplicitSubmission, hostname()).with_mechanisms(vec![
                    Mechanism::ScramSha256,
                    Mechanism::Plain,
                    Mechanism::Login,
                ]),
            );
            let mut pair = Pair::implicit_tls(client, server, &pki);
            pair.set_chunking(chunking);
            let out = drive(
                &mut pair,
                &Policy::default(),
                &[(envelope(&["bob@example.net"]), message(3))],
            );
            assert!(
                pair.client.errors.is_empty() && pair.server.errors.is_empty(),
                "{mechanism:?} {chunking:?}: {:?} {:?}",
                pair.client.errors,
                pair.server.errors
            );
            assert_eq!(out.ready.unwrap().authenticated, Some(mechanism));
            assert_eq!(out.accepted, 1);
        }
    }
}

#[test]
fn a_wrong_password_ends_the_client_session_with_the_servers_reply() {
    let pki = TestPki::new(HOST);
    let client = Client::new(
        client_config(ClientTls::Implicit).with_credentials(Credentials::password(USER, "wrong")),
        std::time::Instant::now(),
    );
    let server = Server::new(ServerConfig::new(Role::ImplicitSubmission, hostname()));
    let mut pair = Pair::implicit_tls(client, server, &pki);
    let out = drive(&mut pair, &Policy::default(), &[]);
    assert!(out.ready.is_none());
    let [err] = &pair.client.errors[..] else {
        panic!("one error: {:?}", pair.client.errors)
    };
    let reply = err.reply().expect("the server's reply");
    assert_eq!(reply.code().get(), 535);
    assert_eq!(err.phase(), Some(client::Phase::Auth));
}

#[test]
fn mx_accepts_a_client_that_cannot_do_tls_and_upgrades_one_that_can() {
    let pki = TestPki::new(HOST);
    for (tls, secure) in [
        (ClientTls::InsecurePlaintext, false),
        (ClientTls::StartTlsOpportunistic, true),
        (ClientTls::StartTlsRequired, true),
    ] {
        for chunking in [Chunking::Whole, Chunking::ByteByByte, Chunking::Every(7)] {
            let client = Client::new(client_config(tls), std::time::Instant::now());
            let server = Server::new(ServerConfig::new(Role::Mx, hostname()));
            let mut pair = Pair::new(client, server, &pki);
            pair.set_chunking(chunking);
            let body = message(10);
            let out = drive(
                &mut pair,
                &Policy::default(),
                &[(envelope(&["bob@example.net"]), body.clone())],
            );
            assert!(
                pair.client.errors.is_empty(),
                "{tls:?}: {:?}",
                pair.client.errors
            );
            assert_eq!(out.kept, vec![body], "{tls:?} {chunking:?}");
            assert_eq!(out.mail_from_secure, [secure], "{tls:?}");
            assert_eq!(out.ready.expect("ready").is_secure(), secure, "{tls:?}");
        }
    }
}

#[test]
fn submission_refuses_a_client_without_tls_before_any_mail() {
    let pki = TestPki::new(HOST);
    let client = Client::new(
        client_config(ClientTls::InsecurePlaintext),
        std::time::Instant::now(),
    );
    let server = Server::new(ServerConfig::new(Role::Submission, hostname()));
    let mut pair = Pair::new(client, server, &pki);
    let out = drive(
        &mut pair,
        &Policy::default(),
        &[(envelope(&["bob@example.net"]), message(2))],
    );
    assert!(out.kept.is_empty() && out.mail_from_secure.is_empty());
    assert_eq!(out.accepted, 0);
    // The server said 530 to MAIL: "Must issue a STARTTLS command first".
    let server_said = String::from_utf8_lossy(&pair.server.wire);
    assert!(
        server_said.contains("530 5.7.0 Must issue a STARTTLS command first"),
        "{server_said}"
    );
}

#[test]
fn pipelined_recipients_get_a_result_each_and_only_accepted_ones_receive() {
    let pki = TestPki::new(HOST);
    for chunking in chunkings() {
        let client = Client::new(
            client_config(ClientTls::StartTlsRequired),
            std::time::Instant::now(),
        );
        let server = Server::new(ServerConfig::new(Role::Mx, hostname()));
        let mut pair = Pair::new(client, server, &pki);
        pair.set_chunking(chunking);
        let policy = Policy {
            refuse_rcpt: &["nobody"],
            ..Policy::default()
        };
        let out = drive(
            &mut pair,
            &policy,
            &[(
                envelope(&["bob@example.net", "nobody@example.net", "carol@example.net"]),
                message(5),
            )],
        );
        let results: Vec<bool> = out.rcpt.iter().map(|(_, ok)| *ok).collect();
        assert_eq!(results, [true, false, true], "{chunking:?}");
        assert_eq!(out.accepted, 1);
        // PIPELINING was used: MAIL, the RCPTs and DATA left in one flight (checked on the
        // server's side of TLS, where the client's plaintext is visible).
        assert_eq!(out.kept.len(), 1);
    }
}

#[test]
fn all_recipients_refused_sends_no_body() {
    let pki = TestPki::new(HOST);
    let client = Client::new(
        client_config(ClientTls::StartTlsRequired),
        std::time::Instant::now(),
    );
    let server = Server::new(ServerConfig::new(Role::Mx, hostname()));
    let mut pair = Pair::new(client, server, &pki);
    let policy = Policy {
        refuse_rcpt: &["nobody"],
        ..Policy::default()
    };
    let out = drive(
        &mut pair,
        &policy,
        &[
            (envelope(&["nobody@example.net"]), message(5)),
            (envelope(&["bob@example.net"]), message(2)),
        ],
    );
    assert!(pair.client.errors.is_empty(), "{:?}", pair.client.errors);
    assert_eq!(out.rejected, 1);
    assert_eq!(
        out.accepted, 1,
        "the session goes on after the refused message"
    );
    assert_eq!(out.kept.len(), 1);
}

#[test]
fn bdat_and_data_deliver_the_same_bytes() {
    let pki = TestPki::new(HOST);
    // Bytes that DATA must stuff and that BDAT sends as they are.
    let body = message(300);
    for chunking_on in [true, false] {
        for chunking in [Chunking::Whole, Chunking::ByteByByte, Chunking::Every(13)] {
            let client = Client::new(
                client_config(ClientTls::StartTlsRequired).with_chunking(chunking_on),
                std::time::Instant::now(),
            );
            let server = Server::new(ServerConfig::new(Role::Mx, hostname()));
            let mut pair = Pair::new(client, server, &pki);
            pair.set_chunking(chunking);
            let out = drive(
                &mut pair,
                &Policy::default(),
                &[(envelope(&["bob@example.net"]), body.clone())],
            );
            assert_eq!(
                out.kept,
                vec![body.clone()],
                "BDAT {chunking_on} {chunking:?}"
            );
        }
    }
}

#[test]
fn a_refused_message_is_not_kept_and_the_client_hears_why() {
    let pki = TestPki::new(HOST);
    let client = Client::new(
        client_config(ClientTls::StartTlsRequired),
        std::time::Instant::now(),
    );
    let server = Server::new(ServerConfig::new(Role::Mx, hostname()));
    let mut pair = Pair::new(client, server, &pki);
    let policy = Policy {
        refuse_message: true,
        ..Policy::default()
    };
    let out = drive(
        &mut pair,
        &policy,
        &[(envelope(&["bob@example.net"]), message(4))],
    );
    assert!(out.kept.is_empty());
    assert_eq!((out.accepted, out.rejected), (0, 1));
}

#[test]
fn a_message_over_the_servers_size_is_refused_by_the_client_before_mail() {
    let pki = TestPki::new(HOST);
    let client = Client::new(
        client_config(ClientTls::StartTlsRequired),
        std::time::Instant::now(),
    );
    let server = Server::new(ServerConfig::new(Role::Mx, hostname()).with_max_message_size(1000));
    let mut pair = Pair::new(client, server, &pki);
    let stay = Policy {
        stay: true,
        ..Policy::default()
    };
    let out = drive(&mut pair, &stay, &[]);
    assert!(out.ready.is_some());
    let big = envelope(&["bob@example.net"]).with_size(5000);
    let err = pair
        .client
        .machine
        .send_message(pair.now(), big)
        .expect_err("SIZE checked before MAIL");
    assert!(
        matches!(
            err,
            client::ClientError::MessageTooLarge {
                size: 5000,
                limit: 1000
            }
        ),
        "{err:?}"
    );
}

#[test]
fn an_unannounced_oversized_body_is_refused_by_the_server_while_streaming() {
    let pki = TestPki::new(HOST);
    for chunking_on in [true, false] {
        let client = Client::new(
            client_config(ClientTls::StartTlsRequired).with_chunking(chunking_on),
            std::time::Instant::now(),
        );
        let server =
            Server::new(ServerConfig::new(Role::Mx, hostname()).with_max_message_size(2000));
        let mut pair = Pair::new(client, server, &pki);
        let out = drive(
            &mut pair,
            &Policy::default(),
            &[
                (envelope(&["bob@example.net"]), message(400)),
                (envelope(&["bob@example.net"]), message(2)),
            ],
        );
        assert_eq!(out.rejected, 1, "BDAT {chunking_on}");
        assert_eq!(
            out.accepted, 1,
            "BDAT {chunking_on}: the session stays in sync"
        );
        assert_eq!(out.kept.len(), 1);
    }
}
