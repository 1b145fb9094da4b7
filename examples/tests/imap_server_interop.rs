//! Interop of the example IMAP service ([`mailsec_examples::imap_service`] over the maildir
//! store [`mailsec_examples::imap_store`]) with real IMAP clients: Python's `imaplib`, `curl`
//! and `mbsync` (isync), over STARTTLS and implicit TLS (IMAPS), certificates verified against
//! the test CA.
//!
//! Each test starts the service in-process on loopback (its own runtime, ports, temporary
//! maildir and users file), delivers messages into the maildir as the SMTP listener does, and
//! runs one client program with a timeout. Under `CI=true` a missing client fails the test
//! ([`common::peers::available`]); elsewhere it is skipped.

#[allow(dead_code, unreachable_pub)]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::peers::available;
use common::process::{Run, field, run};
use common::services::Services;
use mailsec_examples::imap_store::MaildirStore;
use mailsec_examples::server_cli::ListenerKind;
use mailsec_imap::store::MailStore;
use mailsec_tls::testing::TestPki;

const USER: &str = "alice";
const PASSWORD: &str = "correct-horse-42";
/// How long one client program may run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);

/// A small message.
fn message_plain() -> Vec<u8> {
    b"From: bob@example.test\r\nTo: alice@example.test\r\nSubject: hello\r\nMessage-ID: <1@example.test>\r\n\r\nHello Alice.\r\nSecond line.\r\n"
        .to_vec()
}

/// A few hundred KB, so FETCH streams it over several chunks.
fn message_big() -> Vec<u8> {
    let mut m = b"From: carol@example.test\r\nTo: alice@example.test\r\nSubject: big\r\nMessage-ID: <2@example.test>\r\n\r\n".to_vec();
    for i in 0..6000 {
        m.extend_from_slice(
            format!(
                "{i:05} {}\r\n",
                "abcdefghijklmnopqrstuvwxyz0123456789".repeat(2)
            )
            .as_bytes(),
        );
    }
    m
}

/// The message imaplib appends.
fn message_appended() -> Vec<u8> {
    b"From: alice@example.test\r\nTo: dave@example.test\r\nSubject: appended\r\nMessage-ID: <3@example.test>\r\n\r\nA draft.\r\n"
        .to_vec()
}

/// The service on two loopback listeners (STARTTLS and IMAPS) over a temporary maildir.
struct Fixture {
    services: Services,
    /// The delivered messages, in delivery order (uids 1, 2, …).
    messages: Vec<Vec<u8>>,
    starttls_port: u16,
    imaps_port: u16,
}

impl Fixture {
    fn start(name: &str) -> Fixture {
        let pki = TestPki::new("localhost");
        // The `plain` scheme keeps the test fast (no Argon2); it also serves SCRAM.
        let services = Services::builder(&pki)
            .name(&format!("imap-interop-{name}"))
            .listen(&[ListenerKind::Imap, ListenerKind::Imaps])
            .users(&format!("{USER}:plain:{PASSWORD}\n"))
            .start();
        let messages = vec![message_plain(), message_big()];
        for content in &messages {
            services.deliver(USER, content);
            // Distinct seconds keep the delivery order unambiguous for the uid list.
            std::thread::sleep(Duration::from_millis(1100));
        }
        Fixture {
            starttls_port: services.port(ListenerKind::Imap),
            imaps_port: services.port(ListenerKind::Imaps),
            services,
            messages,
        }
    }

    fn ca(&self) -> &Path {
        self.services.ca()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.services.path(name)
    }

    fn write(&self, name: &str, content: &[u8]) -> PathBuf {
        self.services.write(name, content)
    }

    /// The files of a folder of alice's maildir (`""` for INBOX), contents sorted.
    fn folder_contents(&self, folder: &str) -> Vec<Vec<u8>> {
        let root = self.services.maildir().root().join(USER);
        let base = if folder.is_empty() {
            root
        } else {
            root.join(format!(".{folder}"))
        };
        let mut contents = files_in(&base);
        contents.sort();
        contents
    }
}

/// The contents of the message files in `dir/new` and `dir/cur`.
fn files_in(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_file() {
                out.push(std::fs::read(path).unwrap());
            }
        }
    }
    out
}

/// The imaplib client: `script MODE PORT CA MESSAGE_FILE OUT_FILE`; prints `key: value` lines.
const IMAPLIB_SESSION: &str = r#"
import imaplib, ssl, sys
mode, port, ca, message_file, out_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)
def out(key, value):
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    print(f'{key}: {value}', flush=True)
if mode == 'starttls':
    imap = imaplib.IMAP4('localhost', port, timeout=30)
    out('caps_clear', ' '.join(imap.capabilities))
    out('starttls', imap.starttls(ssl_context=ctx)[0])
else:
    imap = imaplib.IMAP4_SSL('localhost', port, ssl_context=ctx, timeout=30)
out('caps', ' '.join(imap.capabilities))
out('login', imap.login('alice', 'correct-horse-42')[0])
out('create', imap.create('Archive')[0])
typ, data = imap.list()
out('list', typ)
out('folders', ' | '.join(d.decode() for d in data))
message = open(message_file, 'rb').read()
typ, data = imap.append('INBOX', '(\\Flagged)', imaplib.Time2Internaldate(1700000000), message)
out('append', typ)
out('append_code', data[0])
typ, data = imap.select('INBOX')
out('select', typ)
out('exists', data[0])
typ, data = imap.search(None, 'ALL')
out('search_all', data[0])
typ, data = imap.fetch('1:*', '(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])')
out('fetch_headers', typ)
headers = [part for part in data if isinstance(part, tuple)]
out('header_count', len(headers))
out('header_subjects', ','.join(
    next((l.split(b': ', 1)[1].decode() for l in h[1].split(b'\r\n') if l.startswith(b'Subject: ')), '?')
    for h in headers))
typ, data = imap.fetch('2', '(BODY[])')
out('fetch_body', typ)
with open(out_file, 'wb') as f:
    f.write(data[0][1])
typ, data = imap.fetch('2', '(FLAGS)')
out('flags_after_read', data[0])
typ, data = imap.search(None, 'UNSEEN')
out('search_unseen', data[0])
out('store_unseen', imap.store('2', '-FLAGS', '\\Seen')[0])
typ, data = imap.search(None, 'UNSEEN')
out('search_unseen_after', data[0])
typ, data = imap.search(None, 'SUBJECT', 'hello')
out('search_subject', data[0])
typ, data = imap.copy('1', 'Archive')
out('copy', typ)
typ, data = imap.uid('MOVE', '3', 'Archive')
out('move', typ)
typ, data = imap.select('Archive')
out('archive_exists', data[0])
out('store_deleted', imap.store('1', '+FLAGS', '\\Deleted')[0])
typ, data = imap.expunge()
out('expunge', typ)
out('expunged', b' '.join(d for d in data if d))
out('close', imap.close()[0])
out('logout', imap.logout()[0])
"#;

/// Runs the imaplib session against `port`; returns its report.
fn imaplib_session(fx: &Fixture, mode: &str, port: u16) -> String {
    let script = fx.write("imaplib_session.py", IMAPLIB_SESSION.as_bytes());
    let message = fx.write("appended.eml", &message_appended());
    let out = fx.path("fetched.eml");
    let run: Run = run(
        Command::new("python3")
            .arg(&script)
            .arg(mode)
            .arg(port.to_string())
            .arg(fx.ca())
            .arg(&message)
            .arg(&out),
        CLIENT_TIMEOUT,
    );
    assert!(run.ok, "imaplib failed:\n{}\n{}", run.text(), run.stderr);
    let text = run.text();
    // The big message, read with BODY[], byte for byte.
    assert_eq!(
        std::fs::read(&out).unwrap(),
        fx.messages[1],
        "BODY[] differs"
    );
    text
}

/// What every imaplib session must have seen, and left in the maildir.
fn check_imaplib(fx: &Fixture, text: &str) {
    let caps = field(text, "caps");
    for cap in ["IMAP4REV1", "IDLE", "MOVE", "UIDPLUS", "AUTH=PLAIN"] {
        assert!(caps.split(' ').any(|c| c == cap), "{cap} missing: {caps}");
    }
    assert!(
        !caps.contains("STARTTLS") && !caps.contains("LOGINDISABLED"),
        "{caps}"
    );
    for key in [
        "login",
        "create",
        "list",
        "append",
        "select",
        "fetch_headers",
        "fetch_body",
        "store_unseen",
        "copy",
        "move",
        "store_deleted",
        "expunge",
        "close",
    ] {
        assert_eq!(field(text, key), "OK", "{key}:\n{text}");
    }
    assert_eq!(field(text, "logout"), "BYE", "{text}");
    assert!(field(text, "folders").contains("INBOX"), "{text}");
    assert!(field(text, "folders").contains("Archive"), "{text}");
    assert!(field(text, "append_code").contains("APPENDUID"), "{text}");
    assert_eq!(field(text, "exists"), "3");
    assert_eq!(field(text, "search_all"), "1 2 3");
    assert_eq!(field(text, "header_count"), "3");
    assert_eq!(field(text, "header_subjects"), "hello,big,appended");
    assert!(field(text, "flags_after_read").contains("\\Seen"), "{text}");
    assert_eq!(field(text, "search_unseen"), "1 3");
    assert_eq!(field(text, "search_unseen_after"), "1 2 3");
    assert_eq!(field(text, "search_subject"), "1");
    // Archive got message 1 (copy) and the appended one (move); then message 1 was expunged.
    assert_eq!(field(text, "archive_exists"), "2");
    assert_eq!(field(text, "expunged"), "1");
    // The maildir agrees: INBOX keeps the two delivered messages, Archive the appended one.
    let mut inbox = fx.messages.clone();
    inbox.sort();
    assert_eq!(fx.folder_contents(""), inbox);
    assert_eq!(fx.folder_contents("Archive"), vec![message_appended()]);
}

#[test]
fn imaplib_starttls_session() {
    if !available("python3", &["--version"]) {
        return;
    }
    let fx = Fixture::start("imaplib-starttls");
    let text = imaplib_session(&fx, "starttls", fx.starttls_port);
    // Before TLS: STARTTLS offered and LOGINDISABLED ("require secure channel", RFC 9051
    // §6.2.3, RFC 8314).
    let clear = field(&text, "caps_clear");
    assert!(clear.split(' ').any(|c| c == "STARTTLS"), "{clear}");
    assert!(clear.split(' ').any(|c| c == "LOGINDISABLED"), "{clear}");
    assert!(!clear.contains("AUTH="), "{clear}");
    assert_eq!(field(&text, "starttls"), "OK");
    check_imaplib(&fx, &text);
}

#[test]
fn imaplib_imaps_session() {
    if !available("python3", &["--version"]) {
        return;
    }
    let fx = Fixture::start("imaplib-imaps");
    let text = imaplib_session(&fx, "ssl", fx.imaps_port);
    check_imaplib(&fx, &text);
}

/// `curl imap[s]://…/INBOX;UID=n`: the message body, byte for byte.
fn curl_fetch(fx: &Fixture, url: &str, extra: &[&str]) -> Run {
    run(
        Command::new("curl")
            .args(["-sS", "--max-time", "60", "--cacert"])
            .arg(fx.ca())
            .args(["-u", &format!("{USER}:{PASSWORD}")])
            .args(extra)
            .arg(url),
        CLIENT_TIMEOUT,
    )
}

#[test]
fn curl_starttls_and_imaps() {
    if !available("curl", &["--version"]) {
        return;
    }
    let fx = Fixture::start("curl");
    for (scheme, port, extra) in [
        ("imap", fx.starttls_port, &["--ssl-reqd"][..]),
        ("imaps", fx.imaps_port, &[][..]),
    ] {
        for (uid, expected) in [(1, &fx.messages[0]), (2, &fx.messages[1])] {
            let url = format!("{scheme}://localhost:{port}/INBOX;UID={uid}");
            let got = curl_fetch(&fx, &url, extra);
            assert!(got.ok, "curl {url}: {}", got.stderr);
            assert_eq!(&got.stdout, expected, "curl {url}: body differs");
        }
        // The folder listing (LIST "" *).
        let url = format!("{scheme}://localhost:{port}/");
        let got = curl_fetch(&fx, &url, extra);
        assert!(got.ok, "curl {url}: {}", got.stderr);
        assert!(got.text().contains("INBOX"), "{}", got.text());
    }
    // Without TLS and --ssl-reqd, curl must not get in: LOGINDISABLED before STARTTLS.
    let url = format!("imap://localhost:{}/INBOX;UID=1", fx.starttls_port);
    let got = curl_fetch(&fx, &url, &["--login-options", "AUTH=PLAIN"]);
    assert!(
        !got.ok || got.stdout.is_empty(),
        "curl read mail without TLS: {}",
        got.text()
    );
}

/// mbsync pulls the folders to a local maildir; every message arrives byte for byte.
fn mbsync(fx: &Fixture, tls: &str, port: u16) {
    let local = fx.path(&format!("local-{tls}"));
    std::fs::create_dir_all(&local).unwrap();
    let config = format!(
        "IMAPAccount test\nHost localhost\nPort {port}\nUser {USER}\nPass {PASSWORD}\n\
         SSLType {tls}\nCertificateFile {ca}\nAuthMechs PLAIN\n\n\
         IMAPStore remote\nAccount test\n\n\
         MaildirStore local\nPath {local}/\nInbox {local}/INBOX\nSubFolders Verbatim\n\n\
         Channel sync\nFar :remote:\nNear :local:\nPatterns *\nCreate Near\nSync Pull\nSyncState *\n",
        ca = fx.ca().display(),
        local = local.display(),
    );
    let rc = fx.write(&format!("mbsyncrc-{tls}"), config.as_bytes());
    let got = run(
        Command::new("mbsync").arg("-c").arg(&rc).arg("-a"),
        CLIENT_TIMEOUT,
    );
    assert!(
        got.ok,
        "mbsync ({tls}) failed:\n{}\n{}",
        got.text(),
        got.stderr
    );
    // mbsync stores messages with the local line ending (LF) and adds its own `X-TUID`
    // header to the header block; everything else must be the bytes the server sent.
    let mut synced: Vec<Vec<u8>> = files_in(&local.join("INBOX"))
        .into_iter()
        .map(|m| without_tuid(&m))
        .collect();
    synced.sort();
    let mut expected: Vec<Vec<u8>> = fx.messages.iter().map(|m| crlf_to_lf(m)).collect();
    expected.sort();
    assert_eq!(
        synced.len(),
        expected.len(),
        "mbsync ({tls}): message count"
    );
    for (got, want) in synced.iter().zip(&expected) {
        assert!(
            got == want,
            "mbsync ({tls}): a message differs ({} vs {} octets)",
            got.len(),
            want.len()
        );
    }
    // The folder created on the server side exists locally too.
    assert!(local.join("Archive").is_dir(), "Archive not synced");
}

/// `text` with CRLF line ends turned into LF.
fn crlf_to_lf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for (i, &b) in text.iter().enumerate() {
        if !(b == b'\r' && text.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

/// A message stored by mbsync without the `X-TUID:` line it adds to the header.
fn without_tuid(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    let mut in_header = true;
    for line in message.split_inclusive(|&b| b == b'\n') {
        if in_header && line.starts_with(b"X-TUID: ") {
            continue;
        }
        if line == b"\n" {
            in_header = false;
        }
        out.extend_from_slice(line);
    }
    out
}

#[test]
fn mbsync_starttls_and_imaps() {
    if !available("mbsync", &["--version"]) {
        return;
    }
    let fx = Fixture::start("mbsync");
    // A second folder, created through the store, must be synced too.
    MaildirStore::open(fx.services.maildir(), USER, "localhost")
        .unwrap()
        .create("Archive", None)
        .unwrap();
    mbsync(&fx, "STARTTLS", fx.starttls_port);
    mbsync(&fx, "IMAPS", fx.imaps_port);
}
