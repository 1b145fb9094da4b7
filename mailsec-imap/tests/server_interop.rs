//! Real clients against the server machine over loopback: Python's imaplib (plaintext and
//! STARTTLS) and curl (STARTTLS, AUTHENTICATE PLAIN with SASL-IR, UID FETCH). Ignored by
//! default since they need `python3` and `curl`: `cargo test --test server_interop -- --ignored`.
#![allow(missing_docs)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use mailsec_imap::server::{Server, ServerConfig, ServerEvent};
use mailsec_imap::store::MemoryStore;
use mailsec_tls::sasl::CheckAnswer;
use mailsec_tls::{Machine, Output, ServerPolicy};

fn serve(mut sock: std::net::TcpStream, store: MemoryStore) {
    let config = ServerConfig::builder()
        .policy(ServerPolicy::insecure_plaintext())
        .build()
        .unwrap();
    let mut s = Server::new(Arc::new(config), Instant::now());
    let mut buf = vec![0u8; 65536];
    loop {
        while let Some(o) = s.poll_output() {
            match o {
                Output::Transmit(b) => {
                    eprint!("S: {}", String::from_utf8_lossy(&b[..b.len().min(300)]));
                    sock.write_all(&b).unwrap()
                }
                Output::Event(ServerEvent::CheckCredentials { .. }) => {
                    s.answer_credentials(CheckAnswer::Accept).unwrap()
                }
                Output::Event(ServerEvent::OpenStore { .. }) => {
                    s.open_store(Box::new(store.clone())).unwrap()
                }
                Output::Close => return,
                _ => {}
            }
        }
        let n = sock.read(&mut buf).unwrap();
        if n == 0 {
            s.handle_eof(Instant::now());
            continue;
        }
        eprint!("C: {}", String::from_utf8_lossy(&buf[..n]));
        s.handle_input(Instant::now(), &buf[..n]);
    }
}

#[test]
#[ignore = "needs python3"]
fn python_imaplib() {
    let store = MemoryStore::new();
    store.deliver("INBOX", b"From: a@b.c\r\nTo: d@e.f\r\nSubject: Hello\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\nbody text\r\n").unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let st = store.clone();
    let t = std::thread::spawn(move || {
        let (c, _) = l.accept().unwrap();
        serve(c, st)
    });
    let script = format!(
        r#"
import imaplib
M = imaplib.IMAP4('127.0.0.1', {port})
print(M.capabilities)
M.login('alice', 'pw')
print(M.list())
print(M.select('INBOX'))
print(M.search(None, 'ALL'))
print(M.search(None, 'SUBJECT', 'Hello'))
print(M.fetch('1', '(ENVELOPE BODYSTRUCTURE FLAGS INTERNALDATE)'))
print(M.fetch('1', '(RFC822)'))
print(M.store('1', '+FLAGS', '\\Flagged'))
print(M.append('INBOX', '(\\Seen)', None, b'Subject: x\r\n\r\ny\r\n'))
print(M.uid('SEARCH', None, 'ALL'))
print(M.status('INBOX', '(MESSAGES UNSEEN UIDNEXT)'))
print(M.create('Foo/Bar'))
print(M.list('""', '*'))
print(M.copy('1:2', 'Foo/Bar'))
print(M.uid('MOVE', '1', 'Foo'))
print(M.expunge())
print(M.close())
print(M.logout())
"#
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    println!("{}", String::from_utf8_lossy(&out.stderr));
    t.join().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("[COPYUID"), "{stdout}");
    assert!(stdout.contains("body text"), "{stdout}");
}

fn serve_tls(mut sock: std::net::TcpStream, store: MemoryStore, tls: mailsec_tls::ServerTlsConfig) {
    use mailsec_tls::Pipe;
    let config = ServerConfig::builder().build().unwrap();
    let mut s = Server::new(Arc::new(config), Instant::now());
    let mut pipe = Pipe::plaintext();
    let mut buf = vec![0u8; 65536];
    loop {
        while let Some(o) = s.poll_output() {
            match o {
                Output::Transmit(b) => {
                    eprint!("S: {}", String::from_utf8_lossy(&b[..b.len().min(300)]));
                    pipe.send_plaintext(&b).unwrap()
                }
                Output::StartTls => {
                    let w = pipe.take_wire();
                    sock.write_all(&w).unwrap();
                    pipe.start_tls(tls.accept().unwrap()).unwrap();
                    eprintln!("-- TLS --");
                }
                Output::Event(ServerEvent::CheckCredentials { .. }) => {
                    s.answer_credentials(CheckAnswer::Accept).unwrap()
                }
                Output::Event(ServerEvent::OpenStore { .. }) => {
                    s.open_store(Box::new(store.clone())).unwrap()
                }
                Output::Close => {
                    let w = pipe.take_wire();
                    sock.write_all(&w).unwrap();
                    return;
                }
                Output::Error(e) => eprintln!("ERROR {e}"),
                _ => {}
            }
        }
        let w = pipe.take_wire();
        sock.write_all(&w).unwrap();
        if let Some(info) = pipe.take_established() {
            s.handle_tls_established(Instant::now(), &info);
            continue;
        }
        let n = sock.read(&mut buf).unwrap();
        if n == 0 {
            s.handle_eof(Instant::now());
            continue;
        }
        pipe.recv_wire(&buf[..n]).unwrap();
        let p = pipe.take_plaintext();
        if !p.is_empty() {
            eprint!("C: {}", String::from_utf8_lossy(&p));
            s.handle_input(Instant::now(), &p);
        }
    }
}

#[test]
#[ignore = "needs python3"]
fn python_imaplib_starttls() {
    let pki = mailsec_tls::testing::TestPki::new("imap.test");
    let dir = std::env::temp_dir().join(format!("mailsec-imap-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).unwrap();
    let store = MemoryStore::new();
    store
        .deliver("INBOX", b"Subject: Hello\r\n\r\nbody text\r\n")
        .unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let st = store.clone();
    let tls = pki.server_config();
    let t = std::thread::spawn(move || {
        let (c, _) = l.accept().unwrap();
        serve_tls(c, st, tls)
    });
    let script = format!(
        r#"
import imaplib, ssl
M = imaplib.IMAP4('127.0.0.1', {port})
print(M.capabilities)
try:
    M.login('alice', 'pw')
except Exception as e:
    print('login refused in clear:', e)
ctx = ssl.create_default_context(cafile={ca:?})
ctx.check_hostname = False
print(M.starttls(ctx))
print(M.capabilities)
print(M.login('alice', 'pw'))
print(M.select('INBOX'))
print(M.fetch('1', '(BODY.PEEK[])'))
print(M.logout())
"#
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    println!("{}", String::from_utf8_lossy(&out.stderr));
    t.join().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("login refused in clear: b'[PRIVACYREQUIRED]"),
        "{stdout}"
    );
    assert!(stdout.contains("Logged in"), "{stdout}");
    assert!(stdout.contains("body text"), "{stdout}");
}

#[test]
#[ignore = "needs curl"]
fn curl_starttls_fetch() {
    let pki = mailsec_tls::testing::TestPki::new("localhost");
    let dir =
        std::env::temp_dir().join(format!("mailsec-imap-interop-curl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).unwrap();
    let store = MemoryStore::new();
    store
        .deliver("INBOX", b"Subject: Hello\r\n\r\nbody text\r\n")
        .unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let st = store.clone();
    let tls = pki.server_config();
    let t = std::thread::spawn(move || {
        let (c, _) = l.accept().unwrap();
        serve_tls(c, st, tls)
    });
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-v",
            "--ssl-reqd",
            "--cacert",
            ca.to_str().unwrap(),
            "-u",
            "alice:pw",
            &format!("imap://localhost:{port}/INBOX;UID=1"),
        ])
        .output()
        .unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    println!("{}", String::from_utf8_lossy(&out.stderr));
    t.join().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Subject: Hello\r\n\r\nbody text\r\n"
    );
}
