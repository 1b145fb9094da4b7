//! Interop of our IMAP client (`mailsec_imap::client` driven by `examples::imap_mail`) with a
//! real Dovecot: STARTTLS (required) and implicit TLS, folders, message listing with decoded
//! headers, byte-exact reading, \Seen on and off, moving into a created folder, logout; STARTTLS
//! stripped by a man in the middle fails closed; no credentials in clear; the client machine's
//! session intents (ID, NAMESPACE, ENABLE UTF8=ACCEPT, a streamed 2 MB fetch, UNSELECT, CLOSE)
//! driven directly by [`mailsec_tls::driver::Driver`]; and the `mailsec-imap` binary end to
//! end. Each test starts its own Dovecot.

#[allow(unreachable_pub)]
mod common;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use common::peers::Dovecot;
use futures_io::{AsyncRead, AsyncWrite};
use mailsec_examples::capture::{Capture, Dir, Tap};
use mailsec_examples::imap_mail::{
    ConnectOptions, ImapError, MessageInfo, MessageList, Session, Trust,
};
use mailsec_imap::client::{AuthMethod, Client, ClientConfig, ClientError, ClientEvent, RequestId};
use mailsec_imap::types::{Capability, Flag, SearchKey, SequenceSet, StoreAction, StoreKind};
use mailsec_tls::driver::{Driver, TokioTimer};
use mailsec_tls::sasl::Credentials;
use mailsec_tls::testing::TestPki;
use mailsec_tls::{ClientTls, TlsSetup};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

const USER: &str = "alice";
const PASSWORD: &str = "imap-secret-4f9a";

/// Three CRLF messages: a small one, one with an RFC 2047 subject and dot lines, and one of a
/// few hundred KB.
fn messages() -> Vec<Vec<u8>> {
    let first = b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: one\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\nFrom the start, hello.\r\n".to_vec();
    let encoded = b"From: =?utf-8?q?Ren=C3=A9?= <rene@example.test>\r\nSubject: =?UTF-8?B?SGVsbG8gV8O2cmxk?=\r\n =?utf-8?q?_again?=\r\n\r\n.\r\n..\r\n.leading dot\r\nend\r\n".to_vec();
    let mut big = b"From: dave@example.test\r\nSubject: big\r\nX-Note: large\r\n\r\n".to_vec();
    for i in 0..6000 {
        big.extend_from_slice(
            format!("{i:06} the quick brown fox jumps over the lazy dog 0123456789\r\n").as_bytes(),
        );
    }
    assert!(big.len() > 300_000);
    vec![first, encoded, big]
}

/// A created folder whose name needs modified UTF-7 (`ü`, `&`) and quoting (space, `"`).
const FOLDER: &str = "Archiv ü & \"x\"";

const SUBJECTS: [&str; 3] = ["one", "Hello Wörld again", "big"];

fn deliver_all(dovecot: &Dovecot, msgs: &[Vec<u8>], tag: &str) {
    for (i, m) in msgs.iter().enumerate() {
        dovecot.deliver(USER, &format!("17000000{i:02}.M1P1Q{tag}.test"), m);
    }
}

fn options(pki: &TestPki, port: u16, tls: ClientTls) -> ConnectOptions {
    let mut o = ConnectOptions::new(format!("127.0.0.1:{port}"), USER, PASSWORD);
    o.server_name = "localhost".into();
    o.tls = tls;
    o.trust = Trust::Config(pki.client_config());
    o
}

fn start() -> Option<(TestPki, Dovecot)> {
    let pki = TestPki::new("localhost");
    let dovecot = Dovecot::start(&pki, USER, PASSWORD)?;
    Some((pki, dovecot))
}

fn by_subject<'a>(list: &'a MessageList, subject: &str) -> &'a MessageInfo {
    list.messages
        .iter()
        .find(|m| m.headers.subject.as_deref() == Some(subject))
        .unwrap_or_else(|| panic!("no message {subject:?} in {list:#?}"))
}

fn seen_of(list: &MessageList) -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = list
        .messages
        .iter()
        .map(|m| (m.headers.subject.clone().unwrap_or_default(), m.seen))
        .collect();
    v.sort();
    v
}

/// Everything a reader does, over `tls`, checked against what was delivered.
async fn full_session(pki: &TestPki, port: u16, tls: ClientTls, name: &str) {
    let msgs = messages();
    let mut session = Session::connect(&options(pki, port, tls))
        .await
        .expect("login");
    let login = session.login().clone();
    assert!(login.secure, "{name}: TLS with a verified certificate");
    assert!(login.tls.is_some());
    assert!(
        matches!(login.auth, AuthMethod::Sasl(_) | AuthMethod::Login),
        "{login:?}"
    );
    assert!(login.capabilities.iter().any(|c| c.starts_with("IMAP4")));

    // Folders: INBOX, then a created one.
    let folders = session.folders().await.expect("folders");
    assert!(
        folders.iter().any(|f| f.name == "INBOX" && f.selectable),
        "{folders:#?}"
    );
    assert!(!folders.iter().any(|f| f.name == FOLDER));
    session.create(FOLDER).await.expect("create");
    let folders = session.folders().await.expect("folders");
    assert!(
        folders.iter().any(|f| f.name == FOLDER),
        "modified UTF-7 and quoting round trip: {folders:#?}"
    );

    // The listing: sizes, decoded headers, nothing seen.
    let list = session.messages("INBOX").await.expect("messages");
    assert_eq!(list.messages.len(), 3, "{list:#?}");
    assert!(list.uid_validity.is_some());
    for (msg, subject) in msgs.iter().zip(SUBJECTS) {
        let m = by_subject(&list, subject);
        assert_eq!(m.size, msg.len() as u64, "{name}: RFC822.SIZE of {subject}");
        assert!(!m.seen);
    }
    let first = by_subject(&list, "one");
    assert_eq!(
        first.headers.from.as_deref(),
        Some("Bob <bob@example.test>")
    );
    assert_eq!(
        first.headers.date.as_deref(),
        Some("Sat, 28 Nov 2026 10:00:00 +0000")
    );
    assert_eq!(
        by_subject(&list, SUBJECTS[1]).headers.from.as_deref(),
        Some("René <rene@example.test>")
    );

    // Reading is byte for byte and leaves \Seen alone.
    for (msg, subject) in msgs.iter().zip(SUBJECTS) {
        let uid = by_subject(&list, subject).uid;
        let mut out = Vec::new();
        let report = session
            .read("INBOX", uid, &mut out, false)
            .await
            .expect("read");
        assert_eq!(report.size, msg.len() as u64);
        assert!(!report.marked_seen);
        assert!(out == *msg, "{name}: {subject} byte for byte");
    }
    let list = session.messages("INBOX").await.expect("messages");
    assert!(list.messages.iter().all(|m| !m.seen), "BODY.PEEK[]");

    // read --mark-seen marks only that message.
    let big = by_subject(&list, "big").uid;
    let mut out = Vec::new();
    let report = session
        .read("INBOX", big, &mut out, true)
        .await
        .expect("read and mark");
    assert!(report.marked_seen);
    assert_eq!(out, msgs[2]);
    let list = session.messages("INBOX").await.expect("messages");
    assert_eq!(
        seen_of(&list),
        vec![
            (SUBJECTS[1].to_owned(), false),
            ("big".to_owned(), true),
            ("one".to_owned(), false),
        ]
    );
    assert!(
        by_subject(&list, "big")
            .flags
            .contains(&"\\Seen".to_owned())
    );

    // mark seen / unseen, each verified by a new listing.
    let one = by_subject(&list, "one").uid;
    session.mark("INBOX", one, true).await.expect("mark seen");
    let list = session.messages("INBOX").await.expect("messages");
    assert!(by_subject(&list, "one").seen);
    session
        .mark("INBOX", big, false)
        .await
        .expect("mark unseen");
    session
        .mark("INBOX", one, false)
        .await
        .expect("mark unseen");
    let list = session.messages("INBOX").await.expect("messages");
    assert!(list.messages.iter().all(|m| !m.seen), "{list:#?}");

    // Missing UIDs are errors, not silent successes.
    let missing = list.messages.iter().map(|m| m.uid).max().unwrap_or(0) + 100;
    let err = session
        .read("INBOX", missing, &mut Vec::new(), false)
        .await
        .expect_err("no such message");
    assert!(
        matches!(err, ImapError::NoSuchMessage { uid, .. } if uid == missing),
        "{err:?}"
    );
    for err in [
        session
            .mark("INBOX", missing, true)
            .await
            .expect_err("mark"),
        session
            .move_to("INBOX", missing, FOLDER)
            .await
            .expect_err("move"),
    ] {
        assert!(matches!(err, ImapError::NoSuchMessage { .. }), "{err:?}");
    }

    // Move into the created folder, verified on both sides and byte for byte.
    let encoded = by_subject(&list, SUBJECTS[1]).uid;
    let moved = session
        .move_to("INBOX", encoded, FOLDER)
        .await
        .expect("move");
    let inbox = session.messages("INBOX").await.expect("messages");
    assert_eq!(inbox.messages.len(), 2);
    assert!(!inbox.messages.iter().any(|m| m.uid == encoded));
    let archive = session.messages(FOLDER).await.expect("archive");
    assert_eq!(archive.messages.len(), 1);
    let there = by_subject(&archive, SUBJECTS[1]);
    // Dovecot has UIDPLUS: MOVE reports [COPYUID] (RFC 6851 §4.3).
    assert_eq!(moved.new_uid, Some(there.uid), "COPYUID names the new UID");
    assert_eq!(moved.uid_validity, archive.uid_validity);
    let mut out = Vec::new();
    session
        .read(FOLDER, there.uid, &mut out, false)
        .await
        .expect("read moved");
    assert_eq!(out, msgs[1]);

    // Server refusals carry the command, status, code and text.
    let err = session
        .move_to("INBOX", one, "Does-Not-Exist")
        .await
        .expect_err("no such folder");
    let command = err.command_error().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(command.command, "UID MOVE", "{command:?}");
    let text = err.to_string();
    assert!(
        text.contains("moving UID") && text.contains("NO") && text.contains("TRYCREATE"),
        "{text}"
    );
    let err = session.messages("Nope").await.expect_err("no such folder");
    assert!(err.to_string().contains("selecting \"Nope\""), "{err}");
    // The session goes on after a refusal.
    assert_eq!(
        session
            .messages("INBOX")
            .await
            .expect("inbox")
            .messages
            .len(),
        2
    );

    session.logout().await.expect("logout");
}

#[tokio::test]
async fn starttls_required_full_session() {
    let Some((pki, dovecot)) = start() else {
        return;
    };
    deliver_all(&dovecot, &messages(), "a");
    full_session(&pki, dovecot.imap, ClientTls::StartTlsRequired, "starttls").await;
}

#[tokio::test]
async fn implicit_tls_full_session() {
    let Some((pki, dovecot)) = start() else {
        return;
    };
    deliver_all(&dovecot, &messages(), "b");
    full_session(&pki, dovecot.imaps, ClientTls::Implicit, "implicit").await;
}

/// A man in the middle that hides STARTTLS from the client (the classic downgrade): it
/// overwrites the word in everything the server sends, keeping the length.
struct StripStartTls<S>(S);

impl<S: AsyncRead + Unpin> AsyncRead for StripStartTls<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.0).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            let data = &mut buf[..n];
            let mut i = 0;
            while i + 8 <= data.len() {
                if data[i..i + 8].eq_ignore_ascii_case(b"STARTTLS") {
                    data[i..i + 8].copy_from_slice(b"XSTRIPPD");
                }
                i += 1;
            }
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StripStartTls<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

fn assert_no_credentials(capture: &Capture) {
    for needle in [
        &b"LOGIN"[..],
        b"AUTHENTICATE",
        PASSWORD.as_bytes(),
        USER.as_bytes(),
    ] {
        let sent = capture
            .segments()
            .iter()
            .filter(|(d, _)| *d == Dir::Out)
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
async fn starttls_required_fails_closed_when_stripped() {
    let Some((pki, dovecot)) = start() else {
        return;
    };
    let capture = Capture::default();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", dovecot.imap))
        .await
        .expect("connect");
    let stream = Tap::new(StripStartTls(tcp.compat()), capture.clone());
    let opts = options(&pki, dovecot.imap, ClientTls::StartTlsRequired);
    let err = Session::over_stream(stream, &opts)
        .await
        .expect_err("must not log in without TLS");
    assert!(
        matches!(err, ImapError::Protocol(ClientError::StartTlsNotOffered)),
        "{err:?}\n{}",
        capture.render("C:", "S:")
    );
    // Dovecot did greet us, with the word removed, and would take a login in clear here.
    assert!(
        capture.contains(b"XSTRIPPD"),
        "{}",
        capture.render("C:", "S:")
    );
    assert!(capture.contains(b"AUTH=PLAIN"));
    assert_no_credentials(&capture);
}

#[tokio::test]
async fn no_credentials_in_clear_without_the_opt_in() {
    let Some((pki, dovecot)) = start() else {
        return;
    };
    let capture = Capture::default();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", dovecot.imap))
        .await
        .expect("connect");
    let stream = Tap::new(tcp.compat(), capture.clone());
    let opts = options(&pki, dovecot.imap, ClientTls::InsecurePlaintext);
    let err = Session::over_stream(stream, &opts)
        .await
        .expect_err("must not log in");
    assert!(
        matches!(err, ImapError::Protocol(ClientError::NoUsableAuth(_))),
        "{err:?}\n{}",
        capture.render("C:", "S:")
    );
    assert!(capture.contains(b"* OK"), "{}", capture.render("C:", "S:"));
    assert_no_credentials(&capture);

    // With the opt-in it does log in in clear (Dovecot counts loopback as secure).
    let mut opts = opts;
    opts.allow_cleartext_credentials = true;
    let mut session = Session::connect(&opts).await.expect("login in clear");
    assert!(!session.login().secure);
    assert_eq!(session.login().tls, None);
    assert!(
        session
            .folders()
            .await
            .expect("folders")
            .iter()
            .any(|f| f.name == "INBOX")
    );
    session.logout().await.expect("logout");
}

#[tokio::test]
async fn binary_end_to_end() {
    let Some((pki, dovecot)) = start() else {
        return;
    };
    let msgs = messages();
    deliver_all(&dovecot, &msgs, "c");
    let dir = std::env::temp_dir().join(format!("mailsec-imap-bin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).expect("ca");
    let pass = dir.join("pass");
    std::fs::write(&pass, format!("{PASSWORD}\nignored\n")).expect("pass");
    let bin = env!("CARGO_BIN_EXE_mailsec-imap");
    let server = format!("127.0.0.1:{}", dovecot.imap);
    let run = |args: &[&str]| {
        let mut c = std::process::Command::new(bin);
        c.env_remove("MAILSEC_PASSWORD").args([
            "--tls",
            "starttls",
            "--ca",
            ca.to_str().expect("utf-8 path"),
            "--server-name",
            "localhost",
            "--user",
            USER,
            "--password-file",
            pass.to_str().expect("utf-8 path"),
            &server,
        ]);
        c.args(args);
        async move {
            let out = tokio::task::spawn_blocking(move || c.output())
                .await
                .expect("join")
                .expect("run");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let (ok, stdout, stderr) = run(&["folders"]).await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.lines().any(|l| l.starts_with("INBOX\t")), "{stdout}");

    let (ok, stdout, stderr) = run(&["list"]).await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.starts_with("INBOX: 3 messages"), "{stdout}");
    let uid_of = |stdout: &str, subject: &str| -> String {
        stdout
            .lines()
            .find(|l| l.ends_with(&format!("\t{subject}")))
            .and_then(|l| l.split('\t').next())
            .unwrap_or_else(|| panic!("{subject} not in {stdout}"))
            .to_owned()
    };
    let big = uid_of(&stdout, "big");
    let one = uid_of(&stdout, "one");

    let file = dir.join("big.eml");
    let (ok, _, stderr) = run(&[
        "read",
        &big,
        "--mark-seen",
        "--output",
        file.to_str().expect("path"),
    ])
    .await;
    assert!(ok, "{stderr}");
    assert!(stderr.contains("marked seen"), "{stderr}");
    assert_eq!(std::fs::read(&file).expect("read file"), msgs[2]);
    let (ok, stdout, _) = run(&["read", &one]).await;
    assert!(ok);
    assert_eq!(stdout.as_bytes(), &msgs[0][..]);

    let (ok, stdout, stderr) = run(&["mark", &one, "seen"]).await;
    assert!(ok, "{stdout}\n{stderr}");
    let (_, stdout, _) = run(&["list", "INBOX"]).await;
    let flags = |stdout: &str, uid: &str| -> String {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{uid}\t")))
            .and_then(|l| l.split('\t').nth(1))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(flags(&stdout, &one).contains("\\Seen"), "{stdout}");
    assert!(flags(&stdout, &big).contains("\\Seen"), "{stdout}");
    let (ok, _, _) = run(&["mark", "--folder", "INBOX", &big, "unseen"]).await;
    assert!(ok);
    let (_, stdout, _) = run(&["list"]).await;
    assert!(!flags(&stdout, &big).contains("\\Seen"), "{stdout}");

    // Moving into a folder that does not exist: the server's refusal is shown.
    let (ok, _, stderr) = run(&["move", &one, "Elsewhere"]).await;
    assert!(!ok);
    assert!(stderr.contains("TRYCREATE"), "{stderr}");

    // A wrong CA: refused before anything else.
    let other = TestPki::new("localhost");
    std::fs::write(&ca, other.ca_pem()).expect("ca");
    let (ok, _, stderr) = run(&["folders"]).await;
    assert!(!ok);
    assert!(stderr.contains("TLS"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn wrong_password_is_a_clear_authentication_error() {
    let Some((pki, dovecot)) = start() else {
        return;
    };
    let mut opts = options(&pki, dovecot.imaps, ClientTls::Implicit);
    opts.password = secrecy::SecretString::from("not-the-password".to_owned());
    let err = Session::connect(&opts).await.expect_err("wrong password");
    assert!(
        matches!(
            &err,
            ImapError::Protocol(ClientError::AuthFailed {
                method: AuthMethod::Sasl(_) | AuthMethod::Login,
                ..
            })
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("authentication") && text.contains("No"),
        "{text}"
    );
}

// ----- the client machine's session intents, driven directly -----

/// The `MessageData` bound configured for the streamed fetch.
const CHUNK: usize = 8 * 1024;

/// About 2 MB of CRLF lines with every octet value but NUL, CR and LF (8-bit included).
fn two_megabytes() -> Vec<u8> {
    let mut m =
        b"From: erin@example.test\r\nTo: alice@example.test\r\nSubject: two megabytes\r\n\r\n"
            .to_vec();
    let mut i = 0u32;
    while m.len() < 2_000_000 {
        m.extend_from_slice(format!("{i:06} ").as_bytes());
        m.extend((1u8..=0xff).filter(|b| !matches!(b, b'\r' | b'\n')));
        m.extend_from_slice(b"\r\n");
        i += 1;
    }
    m
}

/// Our client machine over a socket to Dovecot, driven by [`Driver`] (what
/// `imap_mail::Session` does underneath), for the intents `Session` does not offer.
struct Raw {
    driver: Driver<Client, Compat<tokio::net::TcpStream>, TokioTimer>,
    name: &'static str,
}

impl Raw {
    /// Connects over `tls` and logs in; returns the session and the capabilities of `Ready`.
    async fn login(
        pki: &TestPki,
        port: u16,
        tls: ClientTls,
        name: &'static str,
    ) -> (Raw, Vec<Capability<'static>>) {
        let config = ClientConfig::builder(Credentials::password(USER, PASSWORD))
            .tls(tls)
            .max_literal(256 << 10)
            .stream_chunk(CHUNK)
            .build();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let client = Client::new(config, Instant::now());
        let setup = TlsSetup::Client {
            config: pki.client_config(),
            server_name: "localhost".into(),
        };
        let driver = if tls == ClientTls::Implicit {
            Driver::implicit_tls(client, tcp.compat(), TokioTimer, setup).expect("TLS setup")
        } else {
            Driver::new(client, tcp.compat(), TokioTimer, Some(setup))
        };
        let mut raw = Raw { driver, name };
        loop {
            if let ClientEvent::Ready {
                capabilities,
                secure,
                ..
            } = raw.next().await
            {
                assert!(secure, "{name}: TLS with a verified certificate");
                return (raw, capabilities);
            }
        }
    }

    fn client(&mut self) -> &mut Client {
        self.driver.machine_mut()
    }

    async fn next(&mut self) -> ClientEvent {
        match self.driver.next_event().await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("{}: the session ended", self.name),
            Err(e) => panic!("{}: {e:?}", self.name),
        }
    }

    /// Every event up to and including the one that ends intent `id`.
    async fn answer(&mut self, id: RequestId) -> Vec<ClientEvent> {
        let mut events = Vec::new();
        loop {
            let event = self.next().await;
            let last = match &event {
                ClientEvent::Completed { id: i, .. }
                | ClientEvent::Failed { id: i, .. }
                | ClientEvent::Selected { id: i, .. }
                | ClientEvent::Listed { id: i, .. }
                | ClientEvent::Searched { id: i, .. }
                | ClientEvent::Enabled { id: i, .. }
                | ClientEvent::IdInfo { id: i, .. }
                | ClientEvent::Namespaces { id: i, .. } => *i == id,
                _ => false,
            };
            events.push(event);
            if last {
                return events;
            }
        }
    }

    /// The last event of `id`'s answer, which must not be a failure.
    async fn ok(&mut self, id: RequestId) -> ClientEvent {
        let mut events = self.answer(id).await;
        let last = events.pop().expect("an event");
        assert!(
            !matches!(last, ClientEvent::Failed { .. }),
            "{}: {last:?}",
            self.name
        );
        last
    }

    async fn select(&mut self, folder: &str) -> u32 {
        let id = self
            .client()
            .select(Instant::now(), folder)
            .expect("select");
        match self.ok(id).await {
            ClientEvent::Selected { info, .. } => info.exists,
            other => panic!("{}: {other:?}", self.name),
        }
    }

    async fn search(&mut self, key: SearchKey<'static>) -> Vec<u32> {
        let id = self
            .client()
            .search(Instant::now(), vec![key])
            .expect("search");
        match self.ok(id).await {
            ClientEvent::Searched { mut uids, .. } => {
                uids.sort_unstable();
                uids
            }
            other => panic!("{}: {other:?}", self.name),
        }
    }

    /// A streamed fetch of `uid`, checked event by event (`MessageStart` with the size, then
    /// non-empty chunks of at most [`CHUNK`], then `MessageEnd` with the UID and the size):
    /// the octets, the number of chunks and the flags.
    async fn streamed(&mut self, uid: u32, binary: bool) -> (Vec<u8>, usize, Vec<Flag<'static>>) {
        let name = self.name;
        let fetch = self
            .client()
            .fetch_message_streamed(Instant::now(), uid, binary)
            .expect("fetch");
        let mut data = Vec::new();
        let mut chunks = 0usize;
        let mut start = None;
        let mut end = None;
        for event in self.answer(fetch).await {
            match event {
                ClientEvent::MessageStart { id, uid, size, .. } if id == fetch => {
                    assert!(start.is_none() && data.is_empty(), "{name}");
                    start = Some((uid, size));
                }
                ClientEvent::MessageData { id, data: d } if id == fetch => {
                    assert!(start.is_some() && end.is_none(), "{name}");
                    assert!(
                        !d.is_empty() && d.len() <= CHUNK,
                        "{name}: chunk of {}",
                        d.len()
                    );
                    data.extend_from_slice(&d);
                    chunks += 1;
                }
                ClientEvent::MessageEnd {
                    id,
                    uid,
                    flags,
                    size,
                    ..
                } if id == fetch => end = Some((uid, flags, size)),
                ClientEvent::Completed { id, .. } if id == fetch => {}
                ClientEvent::Message { .. }
                | ClientEvent::Fetched { .. }
                | ClientEvent::Failed { .. } => panic!("{name}: {event:?}"),
                _ => {}
            }
        }
        let (start_uid, announced) = start.expect("MessageStart");
        let (end_uid, flags, size) = end.expect("MessageEnd");
        assert_eq!(end_uid.or(start_uid), Some(uid), "{name}");
        assert_eq!((announced, size), (data.len() as u64, data.len() as u64));
        (data, chunks, flags.unwrap_or_default())
    }

    /// Runs a command without data of its own; returns the name the `Completed` carries.
    async fn completed(&mut self, id: RequestId) -> &'static str {
        match self.ok(id).await {
            ClientEvent::Completed { command, .. } => command,
            other => panic!("{}: {other:?}", self.name),
        }
    }
}

/// Against a Dovecot of its own: ID, NAMESPACE, ENABLE UTF8=ACCEPT with a Unicode folder
/// (checked on disk), a 2 MB message streamed byte for byte in bounded chunks (BODY.PEEK[] and
/// BINARY.PEEK[]), UNSELECT (keeps `\Deleted` messages) and CLOSE (expunges them), LOGOUT.
async fn session_intents(tls: ClientTls, name: &'static str) {
    let Some((pki, dovecot)) = start() else {
        return;
    };
    let big = two_megabytes();
    dovecot.deliver(
        USER,
        &format!("1700000100.M1P1Q{name}.test"),
        b"From: bob@example.test\r\nSubject: small\r\n\r\nsmall\r\n",
    );
    dovecot.deliver(USER, &format!("1700000101.M1P1Q{name}.test"), &big);
    let port = if tls == ClientTls::Implicit {
        dovecot.imaps
    } else {
        dovecot.imap
    };
    let (mut raw, caps) = Raw::login(&pki, port, tls, name).await;
    for cap in [
        Capability::Enable,
        Capability::Unselect,
        Capability::Namespace,
        Capability::Id,
    ] {
        assert!(caps.contains(&cap), "{name}: {cap:?} not in {caps:?}");
    }
    let now = Instant::now();

    // ID: Dovecot answers with its name (its default `imap_id_send = name *`).
    let id = raw
        .client()
        .id(
            now,
            Some(&[("name", Some("mailsec-interop")), ("version", Some("0.1"))]),
        )
        .expect("id");
    let ClientEvent::IdInfo {
        fields: Some(fields),
        ..
    } = raw.ok(id).await
    else {
        panic!("{name}: no ID answer")
    };
    assert!(
        fields
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("name") && v.as_deref() == Some("Dovecot")),
        "{name}: {fields:?}"
    );

    // NAMESPACE: one personal namespace, prefix "", with maildir++'s "." delimiter; no
    // other users' or shared ones.
    let ns = raw.client().namespace(now).expect("namespace");
    let ClientEvent::Namespaces {
        personal: Some(personal),
        other,
        shared,
        ..
    } = raw.ok(ns).await
    else {
        panic!("{name}: no personal namespace")
    };
    assert_eq!(personal.len(), 1, "{name}: {personal:?}");
    assert_eq!(personal[0].prefix.as_bytes(), b"");
    assert_eq!(personal[0].delimiter, Some(b'.'));
    assert_eq!((other, shared), (None, None));

    // ENABLE UTF8=ACCEPT. Only what the server lists in `* ENABLED` is in force (RFC 5161
    // §3.2): a Dovecot that offers UTF8=ACCEPT (2.4 and later) switches mailbox names to
    // UTF-8 (RFC 6855 §3); Dovecot 2.3 does not offer it, ignores the request (its `* ENABLED`
    // lists nothing), and names stay in modified UTF-7 (RFC 3501 §5.1.3).
    let offered = caps.contains(&Capability::Utf8Accept);
    assert!(!raw.client().utf8_names());
    let enable = raw
        .client()
        .enable(now, &[Capability::Utf8Accept])
        .expect("enable");
    let ClientEvent::Enabled { capabilities, .. } = raw.ok(enable).await else {
        panic!("{name}: no ENABLE answer")
    };
    let expected = if offered {
        vec![Capability::Utf8Accept]
    } else {
        Vec::new()
    };
    assert_eq!(capabilities, expected, "{name}");
    assert_eq!(raw.client().enabled(), &expected[..]);
    assert_eq!(raw.client().utf8_names(), offered, "{name}");
    let create = raw.client().create(now, "Entwürfe").expect("create");
    raw.completed(create).await;
    let list = raw.client().list(now, "", "Entw*").expect("list");
    let ClientEvent::Listed { folders, .. } = raw.ok(list).await else {
        panic!("{name}: no LIST answer")
    };
    assert_eq!(folders.len(), 1, "{name}: {folders:?}");
    let sent: &[u8] = if offered {
        "Entwürfe".as_bytes()
    } else {
        b"Entw&APw-rfe"
    };
    assert_eq!(folders[0].mailbox.as_bytes(), sent, "{name}");
    assert_eq!(
        raw.client().folder_name(&folders[0].mailbox).expect("name"),
        "Entwürfe"
    );
    // On disk Dovecot keeps maildir++ folder names in modified UTF-7 (its default,
    // `mailbox_list_utf8 = no`), whichever way the name travelled: the same mailbox.
    let maildir = dovecot.maildir(USER);
    assert!(
        maildir.join(".Entw&APw-rfe").join("cur").is_dir(),
        "{name}: {:?}",
        std::fs::read_dir(&maildir).map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
    assert!(!maildir.join(".Entwürfe").exists());

    // A 2 MB message, streamed: never over CHUNK, byte for byte, \Seen left alone.
    assert_eq!(raw.select("INBOX").await, 2, "{name}");
    let uids = raw.search(SearchKey::Larger(1_000_000)).await;
    let [uid] = uids[..] else {
        panic!("{name}: {uids:?}")
    };
    let (data, chunks, flags) = raw.streamed(uid, false).await;
    assert!(!flags.contains(&Flag::Seen), "BODY.PEEK[]");
    assert_eq!(data.len(), big.len());
    assert!(data == big, "{name}: the streamed message differs");
    assert!(chunks >= big.len() / CHUNK, "{name}: {chunks} chunks");
    // BINARY.PEEK[] (RFC 3516): no Content-Transfer-Encoding to undo, the same octets.
    let (data, _, _) = raw.streamed(uid, true).await;
    assert!(data == big, "{name}: the BINARY[] message differs");

    // UNSELECT leaves a \Deleted message in place; CLOSE expunges it.
    let small = raw.search(SearchKey::Smaller(1_000_000)).await;
    let [small] = small[..] else {
        panic!("{name}: {small:?}")
    };
    let deleted = StoreAction {
        kind: StoreKind::Add,
        silent: true,
        flags: vec![Flag::Deleted],
        parenthesized: true,
    };
    let store = raw
        .client()
        .store(now, SequenceSet::single(small).expect("uid"), true, deleted)
        .expect("store");
    raw.completed(store).await;
    let unselect = raw.client().unselect(now, false).expect("unselect");
    assert_eq!(raw.completed(unselect).await, "UNSELECT");
    assert_eq!(raw.select("INBOX").await, 2, "{name}: UNSELECT expunged");
    assert_eq!(raw.search(SearchKey::Deleted).await, vec![small]);
    let close = raw.client().close(now).expect("close");
    assert_eq!(raw.completed(close).await, "CLOSE");
    assert_eq!(
        raw.select("INBOX").await,
        1,
        "{name}: CLOSE did not expunge"
    );
    assert_eq!(raw.search(SearchKey::All).await, vec![uid]);

    raw.client().logout(now).expect("logout");
    loop {
        match raw.driver.next_event().await {
            Ok(Some(ClientEvent::Closed)) | Ok(None) => break,
            Ok(Some(_)) => {}
            Err(e) => panic!("{name}: {e:?}"),
        }
    }
}

#[tokio::test]
async fn session_intents_over_starttls() {
    session_intents(ClientTls::StartTlsRequired, "starttls").await;
}

#[tokio::test]
async fn session_intents_over_implicit_tls() {
    session_intents(ClientTls::Implicit, "implicit").await;
}
