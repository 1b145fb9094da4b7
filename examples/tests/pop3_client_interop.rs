//! Interop of our POP3 client (`mailsec_pop3::client` driven by `examples::pop3_fetch`) with a
//! real Dovecot: STLS and implicit TLS, byte-exact retrieval, TOP 0, leave-on-server state,
//! deletion only at QUIT, no credentials in clear, and the `mailsec-pop3` binary end to end.
//! Each test starts its own Dovecot (POP3 sessions of one user would otherwise meet).

#[allow(unreachable_pub)]
mod common;

use std::path::{Path, PathBuf};

use common::peers::Dovecot;
use mailsec_examples::capture::{Capture, Tap};
use mailsec_examples::pop3_fetch::{
    ConnectOptions, Destination, FetchError, FetchOptions, Session, Trust,
};
use mailsec_pop3::client::{AuthMethod, ClientError};
use mailsec_tls::ClientTls;
use mailsec_tls::testing::TestPki;
use tokio_util::compat::TokioAsyncReadCompatExt;

const USER: &str = "alice";
const PASSWORD: &str = "pop-secret-7c1e";

/// Three CRLF messages: a small one with a `From ` line, one with lines starting with dots,
/// and one of a few hundred KB.
fn messages() -> Vec<Vec<u8>> {
    let first = b"From: bob@example.test\r\nTo: alice@example.test\r\nSubject: one\r\n\r\nFrom the start, hello.\r\n".to_vec();
    let dots = b"From: carol@example.test\r\nSubject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\n...three\r\nend\r\n".to_vec();
    let mut big = b"From: dave@example.test\r\nSubject: big\r\nX-Note: large\r\n\r\n".to_vec();
    for i in 0..6000 {
        big.extend_from_slice(
            format!("{i:06} the quick brown fox jumps over the lazy dog 0123456789\r\n").as_bytes(),
        );
        if i % 500 == 0 {
            big.extend_from_slice(b".a dot line inside the big one\r\n");
        }
    }
    assert!(big.len() > 300_000);
    vec![first, dots, big]
}

fn deliver_all(dovecot: &Dovecot, msgs: &[Vec<u8>], tag: &str) {
    for (i, m) in msgs.iter().enumerate() {
        dovecot.deliver(USER, &format!("17000000{i:02}.M1P1Q{tag}.test"), m);
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mailsec-pop3-interop-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn options(pki: &TestPki, port: u16, tls: ClientTls) -> ConnectOptions {
    let mut o = ConnectOptions::new(format!("127.0.0.1:{port}"), USER, PASSWORD);
    o.server_name = "localhost".into();
    o.tls = tls;
    o.trust = Trust::Config(pki.client_config());
    o
}

/// The files of a maildir's `new/`, contents sorted.
fn maildir_contents(dir: &Path) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir.join("new"))
        .map(|d| {
            d.map(|e| std::fs::read(e.expect("entry").path()).expect("read"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Messages still in the server's maildir (`new/` + `cur/`).
fn server_count(dovecot: &Dovecot) -> usize {
    let md = dovecot.maildir(USER);
    ["new", "cur"]
        .iter()
        .map(|s| std::fs::read_dir(md.join(s)).map_or(0, |d| d.count()))
        .sum()
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

fn start() -> Option<(TestPki, Dovecot)> {
    let pki = TestPki::new("localhost");
    let dovecot = Dovecot::start(&pki, USER, PASSWORD)?;
    Some((pki, dovecot))
}

/// List + fetch everything over `tls` and check it byte for byte.
async fn list_and_fetch(pki: &TestPki, port: u16, tls: ClientTls, name: &str) {
    let msgs = messages();
    let mut session = Session::connect(&options(pki, port, tls))
        .await
        .expect("login");
    assert!(
        session.login().secure,
        "{name}: TLS with a verified certificate"
    );
    assert!(session.login().tls.is_some());
    assert!(matches!(
        session.login().auth,
        AuthMethod::Sasl(_) | AuthMethod::UserPass
    ));
    let listing = session.list().await.expect("list");
    assert_eq!(listing.stat.count, 3);
    assert_eq!(
        listing.stat.size,
        msgs.iter().map(|m| m.len() as u64).sum::<u64>()
    );
    let mut sizes: Vec<u64> = listing.messages.iter().map(|m| m.size).collect();
    sizes.sort_unstable();
    let mut want_sizes: Vec<u64> = msgs.iter().map(|m| m.len() as u64).collect();
    want_sizes.sort_unstable();
    assert_eq!(sizes, want_sizes, "{name}: LIST sizes are the CRLF sizes");
    assert!(listing.messages.iter().all(|m| m.uid.is_some()));

    let dir = temp_dir(name);
    let report = session
        .fetch(
            &mut Destination::Maildir(dir.clone()),
            &FetchOptions::default(),
        )
        .await
        .expect("fetch");
    assert_eq!(report.fetched.len(), 3);
    assert!(session.quit().await.expect("quit"));
    assert_eq!(
        maildir_contents(&dir),
        sorted(msgs),
        "{name}: byte for byte"
    );
    assert_eq!(std::fs::read_dir(dir.join("tmp")).expect("tmp").count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn starttls_list_and_fetch_byte_exact() {
    let Some((pki, dovecot)) = start() else {
        return;
    };
    deliver_all(&dovecot, &messages(), "a");
    list_and_fetch(&pki, dovecot.pop3, ClientTls::StartTlsRequired, "stls").await;
    assert_eq!(
        server_count(&dovecot),
        3,
        "nothing deleted without --delete"
    );
}

#[tokio::test]
async fn implicit_tls_fetch_top0_and_mbox() {
    let Some((pki, dovecot)) = start() else {
        return;
    };
    let msgs = messages();
    deliver_all(&dovecot, &msgs, "b");
    list_and_fetch(&pki, dovecot.pop3s, ClientTls::Implicit, "implicit").await;

    // Headers only: TOP n 0 gives the header block and the blank line after it.
    let dir = temp_dir("top0");
    let mut session = Session::connect(&options(&pki, dovecot.pop3s, ClientTls::Implicit))
        .await
        .expect("login");
    let report = session
        .fetch(
            &mut Destination::Maildir(dir.clone()),
            &FetchOptions {
                headers_only: true,
                ..FetchOptions::default()
            },
        )
        .await
        .expect("headers");
    assert_eq!(report.fetched.len(), 3);
    let headers: Vec<Vec<u8>> = msgs
        .iter()
        .map(|m| {
            let end = m.windows(4).position(|w| w == b"\r\n\r\n").expect("blank") + 4;
            m[..end].to_vec()
        })
        .collect();
    assert_eq!(maildir_contents(&dir), sorted(headers));

    // The same session into an mbox: From_ separators and >From quoting.
    let mbox = dir.join("mbox");
    session
        .fetch(
            &mut Destination::Mbox(mbox.clone()),
            &FetchOptions::default(),
        )
        .await
        .expect("mbox");
    assert!(session.quit().await.expect("quit"));
    let text = std::fs::read(&mbox).expect("mbox file");
    let separators = text
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"From MAILER-DAEMON "))
        .count();
    assert_eq!(separators, 3);
    assert!(text.windows(24).any(|w| w == b"\n>From the start, hello."));
    assert!(!text.contains(&b'\r'), "mbox uses LF line endings");
    assert!(text.windows(14).any(|w| w == b"\n.leading dot\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn leave_on_server_fetches_each_message_once_per_state_file() {
    let Some((pki, dovecot)) = start() else {
        return;
    };
    let msgs = messages();
    deliver_all(&dovecot, &msgs[..2], "c");
    let dir = temp_dir("keep");
    let laptop = dir.join("laptop.state");
    let phone = dir.join("phone.state");
    let opts = options(&pki, dovecot.pop3s, ClientTls::Implicit);
    let run = |state: PathBuf, out: PathBuf| {
        let opts = opts.clone();
        async move {
            let (report, ack) = mailsec_examples::pop3_fetch::fetch(
                &opts,
                &mut Destination::Maildir(out),
                &FetchOptions {
                    keep_state: Some(state),
                    ..FetchOptions::default()
                },
            )
            .await
            .expect("fetch");
            assert!(ack);
            report
        }
    };
    let first = run(laptop.clone(), dir.join("laptop")).await;
    assert_eq!((first.fetched.len(), first.skipped), (2, 0));
    let state = std::fs::read_to_string(&laptop).expect("state");
    assert_eq!(state.lines().count(), 2);
    let second = run(laptop.clone(), dir.join("laptop")).await;
    assert_eq!((second.fetched.len(), second.skipped), (0, 2));

    // A new message arrives: only it is fetched.
    dovecot.deliver(USER, "1700000099.M2P2Q9.test", &msgs[2]);
    let third = run(laptop.clone(), dir.join("laptop")).await;
    assert_eq!((third.fetched.len(), third.skipped), (1, 2));
    assert_eq!(maildir_contents(&dir.join("laptop")), sorted(msgs.clone()));
    assert_eq!(
        std::fs::read_to_string(&laptop)
            .expect("state")
            .lines()
            .count(),
        3
    );

    // Another machine with its own state fetches everything.
    let other = run(phone, dir.join("phone")).await;
    assert_eq!((other.fetched.len(), other.skipped), (3, 0));
    assert_eq!(maildir_contents(&dir.join("phone")), sorted(msgs));
    assert_eq!(server_count(&dovecot), 3, "Keep mode deletes nothing");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn delete_happens_at_quit_only() {
    let Some((pki, dovecot)) = start() else {
        return;
    };
    let msgs = messages();
    let opts = options(&pki, dovecot.pop3, ClientTls::StartTlsRequired);
    let dir = temp_dir("delete");
    let delete = FetchOptions {
        delete: true,
        ..FetchOptions::default()
    };

    // Dropped without QUIT: the DELEs are rolled back (RFC 1939 §6).
    deliver_all(&dovecot, &msgs, "d");
    let mut session = Session::connect(&opts).await.expect("login");
    let report = session
        .fetch(&mut Destination::Maildir(dir.join("dropped")), &delete)
        .await
        .expect("fetch");
    assert_eq!(report.fetched.len(), 3);
    assert!(report.fetched.iter().all(|m| m.marked_deleted));
    session.abandon();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(server_count(&dovecot), 3, "no QUIT, nothing deleted");
    let listing = mailsec_examples::pop3_fetch::list(&opts)
        .await
        .expect("list");
    assert_eq!(listing.stat.count, 3);

    // Fetch + QUIT: the maildir is empty afterwards.
    let (report, ack) = mailsec_examples::pop3_fetch::fetch(
        &opts,
        &mut Destination::Maildir(dir.join("kept")),
        &delete,
    )
    .await
    .expect("fetch");
    assert!(ack, "QUIT acknowledged");
    assert_eq!(report.fetched.len(), 3);
    assert_eq!(maildir_contents(&dir.join("kept")), sorted(msgs));
    assert_eq!(server_count(&dovecot), 0, "deleted at QUIT");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn no_credentials_in_clear_on_the_stls_port() {
    let Some((pki, dovecot)) = start() else {
        return;
    };
    deliver_all(&dovecot, &messages(), "e");
    let capture = Capture::default();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", dovecot.pop3))
        .await
        .expect("connect");
    let stream = Tap::new(tcp.compat(), capture.clone());
    let opts = options(&pki, dovecot.pop3, ClientTls::InsecurePlaintext);
    let err = Session::over_stream(stream, &opts)
        .await
        .expect_err("must not log in");
    assert!(
        matches!(err, FetchError::Protocol(ClientError::NoUsableAuth(_))),
        "{err:?}"
    );
    // We did talk to Dovecot in clear (it greeted and answered CAPA) ...
    assert!(capture.contains(b"+OK"), "{}", capture.render("C:", "S:"));
    assert!(capture.contains(b"CAPA\r\n"));
    // Dovecot offers USER and SASL PLAIN before TLS (and, on loopback, which it counts as
    // secure, would even accept them: see the next test) ...
    let offered = capture
        .segments()
        .iter()
        .filter(|(d, _)| *d == mailsec_examples::capture::Dir::In)
        .any(|(_, b)| {
            b.windows(10).any(|w| w == b"SASL PLAIN") && b.windows(6).any(|w| w == b"USER\r\n")
        });
    assert!(offered, "{}", capture.render("C:", "S:"));
    // ... and never sent a credential.
    for needle in [
        &b"USER"[..],
        b"PASS",
        b"AUTH",
        b"APOP",
        PASSWORD.as_bytes(),
        USER.as_bytes(),
    ] {
        let sent = capture
            .segments()
            .iter()
            .filter(|(d, _)| *d == mailsec_examples::capture::Dir::Out)
            .any(|(_, b)| b.windows(needle.len()).any(|w| w == needle));
        assert!(
            !sent,
            "{} went on the wire:\n{}",
            String::from_utf8_lossy(needle),
            capture.render("C:", "S:")
        );
    }
}

#[tokio::test]
async fn binary_end_to_end() {
    let Some((pki, dovecot)) = start() else {
        return;
    };
    let msgs = messages();
    deliver_all(&dovecot, &msgs, "f");
    let dir = temp_dir("bin");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).expect("ca");
    let bin = env!("CARGO_BIN_EXE_mailsec-pop3");
    let common = |cmd: &str| {
        let mut c = std::process::Command::new(bin);
        c.env("POP3_TEST_PASSWORD", PASSWORD).args([
            "--server",
            &format!("127.0.0.1:{}", dovecot.pop3),
            "--server-name",
            "localhost",
            "--tls",
            "starttls",
            "--ca",
            ca.to_str().expect("utf-8 path"),
            "--user",
            USER,
            "--password-env",
            "POP3_TEST_PASSWORD",
            cmd,
        ]);
        c
    };
    let out = tokio::task::spawn_blocking({
        let mut c = common("list");
        move || c.output()
    })
    .await
    .expect("join")
    .expect("run list");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("3 messages,"), "{stdout}");
    assert_eq!(stdout.lines().count(), 4);

    let maildir = dir.join("inbox");
    let state = dir.join("state");
    let fetch = |m: &Path, s: &Path| {
        let mut c = common("fetch");
        c.args([
            "--maildir",
            m.to_str().expect("path"),
            "--keep-state",
            s.to_str().expect("path"),
        ]);
        c
    };
    let mut c = fetch(&maildir, &state);
    let out = tokio::task::spawn_blocking(move || c.output())
        .await
        .expect("join")
        .expect("run fetch");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 fetched"), "{stdout}");
    assert_eq!(maildir_contents(&maildir), sorted(msgs));
    let mut c = fetch(&maildir, &state);
    let out = tokio::task::spawn_blocking(move || c.output())
        .await
        .expect("join")
        .expect("run fetch again");
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 fetched, 3 already seen"));

    // Headers only, to standard output.
    let mut c = common("headers");
    let out = tokio::task::spawn_blocking(move || c.output())
        .await
        .expect("join")
        .expect("run headers");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}");
    assert_eq!(stdout.matches("Subject: ").count(), 3, "{stdout}");
    assert!(stdout.contains("X-Note: large\r\n\r\n"), "{stdout}");
    assert!(!stdout.contains("quick brown fox"), "no body lines");

    // A wrong CA: the certificate is refused, nothing is fetched.
    let other = TestPki::new("localhost");
    std::fs::write(&ca, other.ca_pem()).expect("ca");
    let mut c = common("list");
    let out = tokio::task::spawn_blocking(move || c.output())
        .await
        .expect("join")
        .expect("run list");
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The opt-in is wired: with `allow_cleartext_credentials` the client does log in in clear.
/// Dovecot treats loopback connections as secure, so despite `disable_plaintext_auth` it accepts
/// them here — which is exactly why the refusal above has to come from our client.
#[tokio::test]
async fn cleartext_credentials_only_when_asked() {
    let Some((pki, dovecot)) = start() else {
        return;
    };
    deliver_all(&dovecot, &messages(), "g");
    let capture = Capture::default();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", dovecot.pop3))
        .await
        .expect("connect");
    let mut opts = options(&pki, dovecot.pop3, ClientTls::InsecurePlaintext);
    opts.allow_cleartext_credentials = true;
    let mut session = Session::over_stream(Tap::new(tcp.compat(), capture.clone()), &opts)
        .await
        .expect("login in clear (loopback)");
    assert!(!session.login().secure);
    assert_eq!(session.login().tls, None);
    assert_eq!(session.list().await.expect("list").stat.count, 3);
    assert!(session.quit().await.expect("quit"));
    assert!(
        capture.contains(b"AUTH PLAIN") || capture.contains(b"USER alice"),
        "{}",
        capture.render("C:", "S:")
    );
}
