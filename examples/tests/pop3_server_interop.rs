//! Interop of the example POP3 service ([`mailsec_examples::pop3_service`]) with real POP3
//! clients: Python's `poplib`, `curl` and `fetchmail`, over STLS and implicit TLS (POP3S),
//! certificates verified against the test CA.
//!
//! Each test starts the service in-process on loopback (its own runtime, ports, temporary
//! maildir and users file) and runs one client program with a timeout. Under `CI=true` a
//! missing client fails the test ([`common::peers::available`]); elsewhere it is skipped.

#[allow(dead_code, unreachable_pub)]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::peers::available;
use common::process::{self, Run, field};
use common::services::Services;
use mailsec_examples::server_cli::ListenerKind;
use mailsec_tls::testing::TestPki;

const USER: &str = "alice";
const PASSWORD: &str = "correct-horse-42";
/// How long one client program may run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// A small message.
fn message_plain() -> Vec<u8> {
    b"From: bob@example.test\r\nTo: alice@example.test\r\nSubject: hello\r\n\r\nHello Alice.\r\nSecond line.\r\n"
        .to_vec()
}

/// Lines starting with '.', a line that is only '.', and '..' (dot-stuffing on the wire).
fn message_dots() -> Vec<u8> {
    b"From: bob@example.test\r\nSubject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n. dot space\r\nlast\r\n"
        .to_vec()
}

/// A few hundred KB (several 64 KiB chunks), lines short enough for every client.
fn message_big() -> Vec<u8> {
    let mut m = b"From: bob@example.test\r\nSubject: big\r\n\r\n".to_vec();
    for i in 0..4000 {
        let line = format!(
            "{i:05} {}\r\n",
            "abcdefghijklmnopqrstuvwxyz0123456789".repeat(2)
        );
        if i % 97 == 0 {
            m.push(b'.');
        }
        m.extend_from_slice(line.as_bytes());
    }
    m
}

/// The service on two loopback listeners (STLS and POP3S) over a temporary maildir.
struct Fixture {
    services: Services,
    /// (unique id, content) in listing order.
    messages: Vec<(String, Vec<u8>)>,
    stls_port: u16,
    pop3s_port: u16,
}

impl Fixture {
    fn start(name: &str) -> Fixture {
        let pki = TestPki::new("localhost");
        // The `plain` scheme keeps the test fast (no Argon2); it also serves SCRAM.
        let services = Services::builder(&pki)
            .name(&format!("pop3-interop-{name}"))
            .listen(&[ListenerKind::Pop3, ListenerKind::Pop3s])
            .users(&format!("{USER}:plain:{PASSWORD}\n"))
            .start();
        // Distinct delivery seconds are not needed: the listing orders by (second, id) and
        // ids grow with a counter, but keep the order explicit below.
        let mut messages: Vec<(String, Vec<u8>)> = [message_plain(), message_dots(), message_big()]
            .into_iter()
            .map(|content| (services.deliver(USER, &content), content))
            .collect();
        let listed = services.stored(USER);
        messages.sort_by_key(|(id, _)| listed.iter().position(|l| l == id).unwrap());
        Fixture {
            stls_port: services.port(ListenerKind::Pop3),
            pop3s_port: services.port(ListenerKind::Pop3s),
            services,
            messages,
        }
    }

    fn ca(&self) -> &Path {
        self.services.ca()
    }

    /// Messages now in the maildir (files in new/ and cur/).
    fn stored(&self) -> Vec<String> {
        self.services.stored(USER)
    }

    /// Waits until no session holds alice's lock (the session ended).
    fn wait_unlocked(&self) {
        let start = Instant::now();
        while self.services.maildir().try_lock(USER).unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "session never ended"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn write_script(&self, name: &str, text: &str) -> PathBuf {
        self.services.write(name, text)
    }
}

/// Runs a client program to its end, or fails the test after [`CLIENT_TIMEOUT`].
fn run(cmd: &mut Command) -> Run {
    process::run(cmd, CLIENT_TIMEOUT)
}

/// The poplib client: `script MODE PORT CA OUTDIR MAILDIR_NEW MAILDIR_CUR`. It writes every
/// retrieved message to OUTDIR/<n> (lines rejoined with CRLF), TOP 2 0 to OUTDIR/top2, and
/// prints `key value` lines.
const POPLIB_SESSION: &str = r#"
import os, poplib, ssl, sys
mode, port, ca, out, new, cur = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
ctx = ssl.create_default_context(cafile=ca)
def count():
    return len([f for d in (new, cur) for f in os.listdir(d) if not f.startswith('.')])
if mode == 'stls':
    p = poplib.POP3('localhost', port, timeout=30)
    print('capa_clear', ' '.join(sorted(p.capa().keys())))
    print('stls', p.stls(context=ctx).decode())
else:
    p = poplib.POP3_SSL('localhost', port, context=ctx, timeout=30)
caps = p.capa()
print('capa', ' '.join(sorted(caps.keys())))
print('sasl', ' '.join(caps.get('SASL', [])))
print('greeting', p.getwelcome().decode())
print('user', p.user('alice').decode())
print('pass', p.pass_('correct-horse-42').decode())
n, size = p.stat()
print('stat', n, size)
resp, listing, _ = p.list()
print('list', ','.join(l.decode() for l in listing))
resp, uidl, _ = p.uidl()
print('uidl', ','.join(l.decode() for l in uidl))
for i in range(1, n + 1):
    resp, lines, octets = p.retr(i)
    with open(os.path.join(out, str(i)), 'wb') as f:
        f.write(b'\r\n'.join(lines) + b'\r\n')
resp, lines, _ = p.top(2, 0)
with open(os.path.join(out, 'top2'), 'wb') as f:
    f.write(b'\r\n'.join(lines) + b'\r\n')
resp, lines, _ = p.top(3, 2)
with open(os.path.join(out, 'top3'), 'wb') as f:
    f.write(b'\r\n'.join(lines) + b'\r\n')
print('dele', p.dele(1).decode())
print('files_after_dele', count())
if len(sys.argv) > 7 and sys.argv[7] == 'drop':
    p.sock.close()
    print('dropped')
    sys.exit(0)
print('quit', p.quit().decode())
print('files_after_quit', count())
"#;

fn poplib_session(fx: &Fixture, mode: &str, port: u16, extra: &[&str]) -> (String, PathBuf) {
    let script = fx.write_script("session.py", POPLIB_SESSION);
    let out = fx.services.path(&format!("out-{mode}"));
    std::fs::create_dir_all(&out).unwrap();
    let mailbox = fx.services.maildir().root().join(USER);
    let run = run(Command::new("python3")
        .arg(&script)
        .arg(mode)
        .arg(port.to_string())
        .arg(fx.ca())
        .arg(&out)
        .arg(mailbox.join("new"))
        .arg(mailbox.join("cur"))
        .args(extra));
    assert!(run.ok, "poplib failed:\n{}\n{}", run.text(), run.stderr);
    (run.text(), out)
}

/// Checks the poplib session's listing and retrieved messages against the delivery.
fn check_session(fx: &Fixture, text: &str, out: &Path) {
    assert!(field(text, "user").starts_with("+OK"), "{text}");
    assert!(field(text, "pass").starts_with("+OK"), "{text}");
    let caps = field(text, "capa");
    for cap in ["SASL", "TOP", "UIDL", "USER", "PIPELINING", "RESP-CODES"] {
        assert!(caps.split(' ').any(|c| c == cap), "{cap} missing: {caps}");
    }
    assert_eq!(field(text, "sasl"), "SCRAM-SHA-256 PLAIN LOGIN");
    assert_eq!(field(text, "greeting"), "+OK localhost POP3 ready");
    let total: usize = fx.messages.iter().map(|(_, m)| m.len()).sum();
    assert_eq!(
        field(text, "stat"),
        format!("{} {total}", fx.messages.len())
    );
    let listing: Vec<String> = fx
        .messages
        .iter()
        .enumerate()
        .map(|(i, (_, m))| format!("{} {}", i + 1, m.len()))
        .collect();
    assert_eq!(field(text, "list"), listing.join(","));
    let uidl: Vec<String> = fx
        .messages
        .iter()
        .enumerate()
        .map(|(i, (id, _))| format!("{} {id}", i + 1))
        .collect();
    assert_eq!(field(text, "uidl"), uidl.join(","));
    for (i, (_, content)) in fx.messages.iter().enumerate() {
        let got = std::fs::read(out.join((i + 1).to_string())).unwrap();
        assert!(got == *content, "message {} differs", i + 1);
    }
    // TOP 2 0: the header and the empty line (poplib drops the dot-stuffing).
    let dots = &fx.messages[1].1;
    let header_end = dots.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(
        String::from_utf8_lossy(&std::fs::read(out.join("top2")).unwrap()),
        String::from_utf8_lossy(&dots[..header_end])
    );
    // TOP 3 2 of the big message: the header and two body lines.
    let big = &fx.messages[2].1;
    let header_end = big.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let two_lines: usize = big[header_end..]
        .split_inclusive(|b| *b == b'\n')
        .take(2)
        .map(<[u8]>::len)
        .sum();
    assert_eq!(
        String::from_utf8_lossy(&std::fs::read(out.join("top3")).unwrap()),
        String::from_utf8_lossy(&big[..header_end + two_lines])
    );
    assert!(field(text, "dele").starts_with("+OK"), "{text}");
    // DELE only marks: the file stays until QUIT.
    assert_eq!(field(text, "files_after_dele"), "3");
}

#[test]
fn poplib_stls_session() {
    if !available("python3", &["--version"]) {
        return;
    }
    let fx = Fixture::start("poplib-stls");
    let (text, out) = poplib_session(&fx, "stls", fx.stls_port, &[]);
    // Before TLS: STLS offered, no credential method (RFC 2595 §2.3 / RFC 8314).
    let clear = field(&text, "capa_clear");
    assert!(clear.split(' ').any(|c| c == "STLS"), "{clear}");
    assert!(
        !clear.split(' ').any(|c| c == "USER" || c == "SASL"),
        "{clear}"
    );
    assert!(field(&text, "stls").starts_with("+OK"), "{text}");
    check_session(&fx, &text, &out);
    assert!(field(&text, "quit").starts_with("+OK"), "{text}");
    assert_eq!(field(&text, "files_after_quit"), "2");
    let left = fx.stored();
    assert_eq!(
        left,
        [fx.messages[1].0.clone(), fx.messages[2].0.clone()],
        "message 1 deleted at QUIT"
    );
    fx.wait_unlocked();
}

#[test]
fn poplib_pop3s_session() {
    if !available("python3", &["--version"]) {
        return;
    }
    let fx = Fixture::start("poplib-pop3s");
    let (text, out) = poplib_session(&fx, "ssl", fx.pop3s_port, &[]);
    assert!(!text.contains("capa_clear"));
    check_session(&fx, &text, &out);
    assert_eq!(field(&text, "files_after_quit"), "2");
    assert!(!fx.stored().contains(&fx.messages[0].0));
}

#[test]
fn dropped_connection_after_dele_deletes_nothing() {
    if !available("python3", &["--version"]) {
        return;
    }
    let fx = Fixture::start("poplib-drop");
    let (text, out) = poplib_session(&fx, "ssl", fx.pop3s_port, &["drop"]);
    check_session(&fx, &text, &out);
    assert!(text.contains("dropped"));
    // Once the session is over (lock released), every message is still there.
    fx.wait_unlocked();
    let all: Vec<String> = fx.messages.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(fx.stored(), all);
}

const POPLIB_REFUSED: &str = r#"
import poplib, ssl, sys
mode, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
if mode == 'clear':
    p = poplib.POP3('localhost', port, timeout=30)
    try:
        print('user', p.user('alice').decode())
    except poplib.error_proto as e:
        print('user', e.args[0].decode())
    try:
        print('pass', p.pass_('correct-horse-42').decode())
    except poplib.error_proto as e:
        print('pass', e.args[0].decode())
else:
    p = poplib.POP3_SSL('localhost', port, context=ctx, timeout=30)
    print('user', p.user('alice').decode())
    try:
        print('pass', p.pass_(sys.argv[4]).decode())
    except poplib.error_proto as e:
        print('pass', e.args[0].decode())
print('quit', p.quit().decode())
"#;

fn poplib_refused(fx: &Fixture, args: &[&str]) -> String {
    let script = fx.write_script("refused.py", POPLIB_REFUSED);
    let run = run(Command::new("python3").arg(&script).args(args));
    assert!(run.ok, "poplib failed:\n{}\n{}", run.text(), run.stderr);
    run.text()
}

#[test]
fn user_in_clear_on_the_stls_port_is_refused() {
    if !available("python3", &["--version"]) {
        return;
    }
    let fx = Fixture::start("poplib-clear");
    let ca = fx.ca().to_string_lossy().into_owned();
    let text = poplib_refused(&fx, &["clear", &fx.stls_port.to_string(), &ca]);
    assert!(
        field(&text, "user").starts_with("-ERR [AUTH] "),
        "USER in clear: {text}"
    );
    assert!(field(&text, "pass").starts_with("-ERR"), "{text}");
    assert!(field(&text, "quit").starts_with("+OK"), "{text}");
}

#[test]
fn wrong_password_and_maildrop_in_use() {
    if !available("python3", &["--version"]) {
        return;
    }
    let fx = Fixture::start("poplib-inuse");
    let ca = fx.ca().to_string_lossy().into_owned();
    let port = fx.pop3s_port.to_string();
    let text = poplib_refused(&fx, &["ssl", &port, &ca, "wrong-password"]);
    assert!(field(&text, "pass").starts_with("-ERR [AUTH]"), "{text}");
    // Another session holds the mailbox: [IN-USE] (RFC 2449 §8.1.1).
    let lock = fx.services.maildir().try_lock(USER).unwrap().expect("free");
    let text = poplib_refused(&fx, &["ssl", &port, &ca, PASSWORD]);
    assert!(field(&text, "pass").starts_with("-ERR [IN-USE]"), "{text}");
    drop(lock);
    let text = poplib_refused(&fx, &["ssl", &port, &ca, PASSWORD]);
    assert!(field(&text, "pass").starts_with("+OK"), "{text}");
    assert_eq!(fx.stored().len(), 3);
}

fn curl(fx: &Fixture, url: &str, port: u16, extra: &[&str]) -> Run {
    run(Command::new("curl")
        .args(["-sS", "--max-time", "30", "--cacert"])
        .arg(fx.ca())
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .args(["--user", &format!("{USER}:{PASSWORD}")])
        .args(extra)
        .arg(url))
}

#[test]
fn curl_stls_and_pop3s() {
    if !available("curl", &["--version"]) {
        return;
    }
    let fx = Fixture::start("curl");
    for (scheme, port, extra) in [
        ("pop3", fx.stls_port, &["--ssl-reqd"][..]),
        ("pop3s", fx.pop3s_port, &[][..]),
    ] {
        for (i, (_, content)) in fx.messages.iter().enumerate() {
            let url = format!("{scheme}://localhost:{port}/{}", i + 1);
            let got = curl(&fx, &url, port, extra);
            assert!(got.ok, "{url}: {}", got.stderr);
            assert!(got.stdout == *content, "{url}: message {} differs", i + 1);
        }
        // The listing (LIST without argument).
        let url = format!("{scheme}://localhost:{port}/");
        let got = curl(&fx, &url, port, extra);
        assert!(got.ok, "{url}: {}", got.stderr);
        let listing: String = fx
            .messages
            .iter()
            .enumerate()
            .map(|(i, (_, m))| format!("{} {}\r\n", i + 1, m.len()))
            .collect();
        assert_eq!(got.text(), listing);
        // AUTH with each mechanism curl implements itself.
        for mech in ["PLAIN", "LOGIN"] {
            let got = curl(
                &fx,
                &url,
                port,
                &[extra, &["--login-options", &format!("AUTH={mech}")]].concat(),
            );
            assert!(got.ok, "{url} AUTH={mech}: {}", got.stderr);
            assert_eq!(got.text(), listing);
        }
        // A wrong password fails.
        let bad = run(Command::new("curl")
            .args(["-sS", "--max-time", "30", "--cacert"])
            .arg(fx.ca())
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
            .args(["--user", "alice:nope"])
            .args(extra)
            .arg(&url));
        assert!(!bad.ok, "wrong password accepted");
    }
    // Without --ssl-reqd, curl against the STLS port still cannot log in in clear: the
    // server lists no USER/SASL before TLS and refuses credentials.
    let url = format!("pop3://localhost:{}/", fx.stls_port);
    let clear = curl(&fx, &url, fx.stls_port, &["--login-options", "AUTH=PLAIN"]);
    assert!(!clear.ok, "logged in without TLS: {}", clear.text());
    // Nothing was deleted by any of this.
    assert_eq!(fx.stored().len(), 3);
}

/// fetchmail hands messages to the MDA with LF line endings and a `Received:` header of its
/// own on top; everything else must arrive as delivered.
fn normalize_fetchmail(got: &[u8]) -> Vec<u8> {
    let text = got.to_vec();
    let mut lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
    if lines.first().is_some_and(|l| l.starts_with(b"Received:")) {
        lines.remove(0);
        while lines
            .first()
            .is_some_and(|l| l.starts_with(b" ") || l.starts_with(b"\t"))
        {
            lines.remove(0);
        }
    }
    lines.concat()
}

fn crlf_to_lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn fetchmail(fx: &Fixture, name: &str, port: u16, ssl: &str) -> (Run, Vec<Vec<u8>>) {
    let home = fx.services.path(&format!("home-{name}"));
    let out = home.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mda = home.join("mda.sh");
    std::fs::write(
        &mda,
        format!(
            "#!/bin/sh\ncat > \"$(mktemp {}/m.XXXXXX)\"\n",
            out.display()
        ),
    )
    .unwrap();
    let rc = home.join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "set no bouncemail\n\
             poll localhost port {port} protocol POP3 uidl\n\
             \tuser \"{USER}\" there with password \"{PASSWORD}\" is \"{USER}\" here\n\
             \tkeep fetchall {ssl} sslcertck sslcertfile \"{ca}\"\n\
             \tmda \"{mda}\"\n",
            ca = fx.ca().display(),
            mda = mda.display(),
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&mda, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run = run(Command::new("fetchmail")
        .env("HOME", &home)
        .env("FETCHMAILHOME", &home)
        .args(["--nosyslog", "--nodetach", "-v", "-f"])
        .arg(&rc)
        .args(["--pidfile"])
        .arg(home.join("fetchmail.pid")));
    let mut got: Vec<Vec<u8>> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    got.sort();
    (run, got)
}

fn check_fetchmail(fx: &Fixture, name: &str, port: u16, ssl: &str) -> String {
    let (run, got) = fetchmail(fx, name, port, ssl);
    assert!(run.ok, "fetchmail failed:\n{}\n{}", run.text(), run.stderr);
    let log = format!("{}{}", run.text(), run.stderr);
    assert!(log.contains("3 messages"), "{log}");
    let mut want: Vec<Vec<u8>> = fx.messages.iter().map(|(_, m)| crlf_to_lf(m)).collect();
    want.sort();
    let mut normalized: Vec<Vec<u8>> = got.iter().map(|m| normalize_fetchmail(m)).collect();
    normalized.sort();
    assert_eq!(normalized.len(), 3, "{log}");
    for (g, w) in normalized.iter().zip(&want) {
        assert!(
            g == w,
            "fetchmail delivered\n{}\nwanted\n{}",
            String::from_utf8_lossy(&g[..g.len().min(400)]),
            String::from_utf8_lossy(&w[..w.len().min(400)])
        );
    }
    // `keep`: nothing deleted.
    assert_eq!(fx.stored().len(), 3);
    log
}

#[test]
fn fetchmail_stls() {
    if !available("fetchmail", &["--version"]) {
        return;
    }
    let fx = Fixture::start("fetchmail-stls");
    // No `ssl`: sslproto makes fetchmail require STLS on the plain port.
    let log = check_fetchmail(&fx, "stls", fx.stls_port, "sslproto \"tls1.2+\"");
    assert!(log.contains("POP3> STLS"), "{log}");
}

#[test]
fn fetchmail_pop3s() {
    if !available("fetchmail", &["--version"]) {
        return;
    }
    let fx = Fixture::start("fetchmail-pop3s");
    let log = check_fetchmail(&fx, "pop3s", fx.pop3s_port, "ssl");
    assert!(!log.contains("POP3> STLS"), "{log}");
}
