//! The SASL mechanisms our listeners advertise follow the users file
//! ([`Users::mechanisms`](mailsec_examples::users::Users::mechanisms)): SCRAM-SHA-256 only when
//! every user has SCRAM keys, PLAIN and LOGIN always. Each test starts SMTP submission, IMAP
//! and POP3 twice over (in clear under `--allow-plaintext-auth`, to read EHLO / CAPABILITY /
//! CAPA with a bare socket; and over implicit TLS) with the [`Services`] fixture, reads the
//! advertisements, then logs in with our own clients (`smtp_send`, `imap_mail`, `pop3_fetch`),
//! which pick the strongest mechanism offered.

#[allow(dead_code, unreachable_pub)]
mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::services::Services;
use mailsec_examples::pop3_fetch::{ConnectOptions, Trust};
use mailsec_examples::server_cli::ListenerKind;
use mailsec_examples::smtp_send::{self, SendOptions};
use mailsec_examples::users::{Scheme, hash_password_line_with};
use mailsec_examples::{imap_mail, pop3_fetch};
use mailsec_tls::ClientTls;
use mailsec_tls::sasl::{Credentials, MIN_ITERATIONS, Mechanism};
use mailsec_tls::testing::TestPki;

const PASSWORD: &str = "alice-Secret-7";

/// Users-file lines for `alice` and `bob` with `scheme` (cheap Argon2 costs, the lowest SCRAM
/// iteration count), alice's password [`PASSWORD`].
fn users(scheme: Scheme) -> String {
    let cheap = argon2::Params::new(8, 1, 1, None).expect("argon2 params");
    let mut text = String::new();
    for (user, pw) in [("alice", PASSWORD), ("bob", "bob-Secret-8")] {
        text.push_str(
            &hash_password_line_with(user, scheme, pw, cheap.clone(), MIN_ITERATIONS)
                .expect("hash"),
        );
        text.push('\n');
    }
    text
}

/// Clear listeners (the STARTTLS kinds under `--allow-plaintext-auth`) and implicit-TLS ones.
fn start(name: &str, pki: &TestPki, users: &str) -> Services {
    Services::builder(pki)
        .name(name)
        .allow_plaintext_auth(true)
        .listen(&[
            ListenerKind::SmtpSubmission,
            ListenerKind::Imap,
            ListenerKind::Pop3,
            ListenerKind::Smtps,
            ListenerKind::Imaps,
            ListenerKind::Pop3s,
        ])
        .users(users)
        .start()
}

/// Connects in clear, reads the greeting, sends `command` and returns the lines of the answer
/// up to the one `last` accepts.
fn ask(port: u16, command: &str, last: impl Fn(&str) -> bool) -> Vec<String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("greeting");
    (&stream)
        .write_all(format!("{command}\r\n").as_bytes())
        .expect("write");
    let mut lines = Vec::new();
    loop {
        line.clear();
        assert!(reader.read_line(&mut line).expect("read") > 0, "{lines:?}");
        let l = line.trim_end().to_owned();
        let done = last(&l);
        lines.push(l);
        if done {
            return lines;
        }
    }
}

/// The mechanisms each protocol advertises in clear: EHLO `AUTH`, CAPABILITY `AUTH=`, CAPA
/// `SASL`, each as space-separated names.
fn advertised(services: &Services) -> [String; 3] {
    let ehlo = ask(
        services.port(ListenerKind::SmtpSubmission),
        "EHLO client.test",
        |l| l.starts_with("250 "),
    );
    let smtp = ehlo
        .iter()
        .find_map(|l| l.get(4..).and_then(|k| k.strip_prefix("AUTH ")))
        .unwrap_or_else(|| panic!("no AUTH: {ehlo:?}"))
        .to_owned();
    let capability = ask(services.port(ListenerKind::Imap), "a CAPABILITY", |l| {
        l.starts_with("a ")
    });
    let caps = capability
        .iter()
        .find(|l| l.starts_with("* CAPABILITY "))
        .unwrap_or_else(|| panic!("no CAPABILITY: {capability:?}"));
    let imap = caps
        .split(' ')
        .filter_map(|c| c.strip_prefix("AUTH="))
        .collect::<Vec<_>>()
        .join(" ");
    let capa = ask(services.port(ListenerKind::Pop3), "CAPA", |l| l == ".");
    let pop3 = capa
        .iter()
        .find_map(|l| l.strip_prefix("SASL "))
        .unwrap_or_else(|| panic!("no SASL: {capa:?}"))
        .to_owned();
    [smtp, imap, pop3]
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Logs in as alice over implicit TLS with our three clients; returns the mechanism each
/// used (SMTP submission, IMAP, POP3), after checking the SMTP client saw `expected` in EHLO.
fn log_in(services: &Services, expected: &str) -> [Mechanism; 3] {
    let ca = services.ca().to_owned();
    block_on(async {
        let address = format!("127.0.0.1:{}", services.port(ListenerKind::Smtps));
        let mut o = SendOptions::new(
            &address,
            "localhost",
            "alice@localhost",
            ["alice@localhost"],
        );
        o.tls_config = Some(smtp_send::tls_config(Some(&ca)).expect("trust"));
        o.credentials = Some(Credentials::password("alice", PASSWORD));
        let report = smtp_send::send(&o, &b"Subject: t\r\n\r\nhello\r\n"[..])
            .await
            .expect("SMTP submission");
        let offered: Vec<String> = report
            .extensions
            .as_ref()
            .expect("EHLO extensions")
            .auth_mechanisms()
            .iter()
            .map(|m| m.as_str().to_owned())
            .collect();
        assert_eq!(offered.join(" "), expected, "over TLS");
        let smtp = report.authenticated.expect("authenticated");

        let options = |kind| {
            let mut o = ConnectOptions::new(
                format!("127.0.0.1:{}", services.port(kind)),
                "alice",
                PASSWORD,
            );
            o.server_name = "localhost".to_owned();
            o.tls = ClientTls::Implicit;
            o.trust = Trust::CaFile(ca.clone());
            o
        };
        let session = imap_mail::Session::connect(&options(ListenerKind::Imaps))
            .await
            .expect("IMAP login");
        let imap = match session.login().auth {
            mailsec_imap::client::AuthMethod::Sasl(m) => m,
            ref other => panic!("IMAP logged in with {other:?}"),
        };
        session.logout().await.expect("logout");
        let session = pop3_fetch::Session::connect(&options(ListenerKind::Pop3s))
            .await
            .expect("POP3 login");
        let pop3 = match session.login().auth {
            mailsec_pop3::client::AuthMethod::Sasl(m) => m,
            ref other => panic!("POP3 logged in with {other:?}"),
        };
        session.quit().await.expect("quit");
        [smtp, imap, pop3]
    })
}

#[test]
fn argon2_only_users_are_not_offered_scram_and_log_in_with_plain() {
    let pki = TestPki::new("localhost");
    let services = start("sasl-argon2", &pki, &users(Scheme::Argon2));
    for list in advertised(&services) {
        assert_eq!(list, "PLAIN LOGIN");
    }
    assert_eq!(log_in(&services, "PLAIN LOGIN"), [Mechanism::Plain; 3]);
    assert_eq!(
        services.stored("alice").len(),
        1,
        "the message was delivered"
    );
}

#[test]
fn scram_users_are_offered_scram_and_use_it() {
    let pki = TestPki::new("localhost");
    let services = start("sasl-scram", &pki, &users(Scheme::ScramSha256));
    for list in advertised(&services) {
        assert_eq!(list, "SCRAM-SHA-256 PLAIN LOGIN");
    }
    assert_eq!(
        log_in(&services, "SCRAM-SHA-256 PLAIN LOGIN"),
        [Mechanism::ScramSha256; 3]
    );
}

/// One user with both lines and one with Argon2 only: SCRAM is left out for both, and the
/// user who has SCRAM keys logs in with PLAIN instead.
#[test]
fn one_argon2_only_user_leaves_scram_out_for_everyone() {
    let pki = TestPki::new("localhost");
    let cheap = argon2::Params::new(8, 1, 1, None).expect("argon2 params");
    let mut text = users(Scheme::Argon2);
    text.push_str(
        &hash_password_line_with(
            "alice",
            Scheme::ScramSha256,
            PASSWORD,
            cheap,
            MIN_ITERATIONS,
        )
        .expect("hash"),
    );
    text.push('\n');
    let services = start("sasl-mixed", &pki, &text);
    for list in advertised(&services) {
        assert_eq!(list, "PLAIN LOGIN");
    }
    assert_eq!(log_in(&services, "PLAIN LOGIN"), [Mechanism::Plain; 3]);
}
