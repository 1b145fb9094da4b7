//! Interop: the SMTP listeners of `mailsec-server` (the same setup code: `ServerArgs`,
//! `bind_listeners`, `smtp_service`), started in-process on loopback with a temporary maildir,
//! a generated certificate for `localhost`, and a users file, driven by real clients: swaks,
//! curl and Python's smtplib. Each delivered file is compared byte for byte with what was sent,
//! after the `Received:` line the server puts first.
//!
//! Every client runs under `timeout 30` so a hang fails the test instead of stalling CI. Under
//! `CI=true` a missing client fails the test; elsewhere the test reports it and returns.

#[allow(unreachable_pub)] // the shared helpers are `pub` for every test binary
mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use common::peers::{available, free_port};
use mailsec_examples::maildir::Maildir;
use mailsec_examples::server_cli::{ListenerKind, ServerCli};
use mailsec_examples::smtp_service::{self, SmtpSettings};
use mailsec_examples::users::{Scheme, hash_password_line_with};
use mailsec_tls::sasl::MIN_ITERATIONS;
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "alice-Secret-7";
const BOB_PASSWORD: &str = "bob-Secret-8";

/// The message every client sends: CRLF line endings, lines starting with dots (the clients
/// dot-stuff them, the server removes the stuffing), ending with CRLF.
const MESSAGE: &[u8] = b"From: Alice <alice@localhost>\r\n\
To: Alice <alice@localhost>\r\n\
Subject: mailsec interop\r\n\
Message-ID: <interop-1@localhost>\r\n\
\r\n\
Hello from a real client.\r\n\
.A line starting with a dot\r\n\
..and one with two\r\n\
.\tand a dot then a tab\r\n\
\r\n\
Last line.\r\n";

/// A fresh temporary directory, removed on drop.
fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("mailsec-smtp-interop-{tag}-"))
        .tempdir()
        .expect("temp dir")
}

/// A users file with alice (cheap Argon2 + SCRAM) and bob (cheap Argon2).
fn users_file(dir: &Path) -> PathBuf {
    let cheap = argon2::Params::new(8, 1, 1, None).expect("argon2 params");
    let mut text = String::new();
    for (user, scheme, pw) in [
        ("alice", Scheme::Argon2, PASSWORD),
        ("alice", Scheme::ScramSha256, PASSWORD),
        ("bob", Scheme::Argon2, BOB_PASSWORD),
    ] {
        text.push_str(
            &hash_password_line_with(user, scheme, pw, cheap.clone(), MIN_ITERATIONS)
                .expect("hash"),
        );
        text.push('\n');
    }
    let path = dir.join("users.txt");
    std::fs::write(&path, text).expect("users file");
    path
}

/// The message file for swaks: swaks removes a final `.` line from its data and then always
/// ends the data with CRLF `.` CRLF, so the file carries that line and swaks sends exactly
/// [`MESSAGE`] (with a file ending in CRLF alone it would add an empty line).
fn swaks_message_file(dir: &Path) -> PathBuf {
    let path = dir.join("message-swaks.eml");
    let mut data = MESSAGE.to_vec();
    data.extend_from_slice(b".\r\n");
    std::fs::write(&path, data).expect("swaks message file");
    path
}

/// Our server, in-process on a runtime of its own thread; stopped on drop.
struct TestServer {
    dir: tempfile::TempDir,
    ports: HashMap<ListenerKind, u16>,
    ca: PathBuf,
    message: PathBuf,
    swaks_message: PathBuf,
    maildir: Maildir,
    shutdown: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    fn start(tag: &str) -> TestServer {
        TestServer::start_with(tag, &[])
    }

    /// [`TestServer::start`] with more `mailsec-server` options.
    fn start_with(tag: &str, extra: &[&str]) -> TestServer {
        let dir = temp_dir(tag);
        let users = users_file(dir.path());
        let ca = dir.path().join("ca.pem");
        let message = dir.path().join("message.eml");
        std::fs::write(&message, MESSAGE).expect("message file");
        let swaks_message = swaks_message_file(dir.path());
        let root = dir.path().join("maildir");
        let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
        let mut argv = vec![
            "mailsec-server".to_owned(),
            "--hostname".to_owned(),
            "localhost".to_owned(),
            "--maildir".to_owned(),
            path(&root),
            "--users".to_owned(),
            path(&users),
            "--ca-out".to_owned(),
            path(&ca),
            "--smtp-mx".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--smtp-submission".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--smtps".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--pop3".to_owned(),
            "off".to_owned(),
            "--pop3s".to_owned(),
            "off".to_owned(),
            "--imap".to_owned(),
            "off".to_owned(),
            "--imaps".to_owned(),
            "off".to_owned(),
        ];
        argv.extend(extra.iter().map(|a| (*a).to_owned()));
        let cli = ServerCli::try_parse_from(argv).expect("arguments");
        let args = cli.server;
        let shutdown = CancellationToken::new();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stop = shutdown.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let users = args.load_users().expect("users");
                let maildir = args.open_maildir().expect("maildir");
                let tls = args.tls_material().expect("TLS material");
                let settings = Arc::new(SmtpSettings::new(&args.hostname));
                let mut ports = HashMap::new();
                let mut tasks = Vec::new();
                for (kind, listener) in args.bind_listeners(&tls).await.expect("bind") {
                    ports.insert(kind, listener.local_addr().expect("addr").port());
                    let config = smtp_service::server_config(kind, &args, &users).expect("config");
                    tasks.push(tokio::spawn(smtp_service::serve(
                        listener,
                        config,
                        users.clone(),
                        maildir.clone(),
                        settings.clone(),
                        stop.clone(),
                    )));
                }
                ready_tx.send(ports).expect("ready");
                for task in tasks {
                    task.await.expect("listener task");
                }
            });
        });
        let ports = ready_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server started");
        TestServer {
            maildir: Maildir::open(&root, "localhost").expect("maildir"),
            dir,
            ports,
            ca,
            message,
            swaks_message,
            shutdown,
            thread: Some(thread),
        }
    }

    fn port(&self, kind: ListenerKind) -> String {
        self.ports[&kind].to_string()
    }

    /// Every stored message of `user`.
    fn stored(&self, user: &str) -> Vec<Vec<u8>> {
        let mut list = self
            .maildir
            .mailbox(user)
            .expect("mailbox")
            .list()
            .expect("list");
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list.iter()
            .map(|m| std::fs::read(&m.path).expect("read message"))
            .collect()
    }

    /// The only message of `user`, split into its `Received:` line and the rest.
    fn only_message(&self, user: &str) -> (String, Vec<u8>) {
        let stored = self.stored(user);
        assert_eq!(stored.len(), 1, "{user} should have exactly one message");
        split_received(&stored[0])
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = &self.dir;
    }
}

/// Splits a stored message into its first line (which must be our `Received:` line) and the
/// bytes after it.
fn split_received(stored: &[u8]) -> (String, Vec<u8>) {
    assert!(
        stored.starts_with(b"Received: from "),
        "no Received line first: {:?}",
        String::from_utf8_lossy(stored)
    );
    let end = stored
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("CRLF after Received")
        + 2;
    (
        String::from_utf8_lossy(&stored[..end]).into_owned(),
        stored[end..].to_vec(),
    )
}

/// Runs `program` under `timeout 30`, with `stdin` if given.
fn run(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new("timeout")
        .arg("30")
        .arg(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    assert_ne!(out.status.code(), Some(124), "{program} timed out");
    out
}

fn transcript(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_success(out: &Output) {
    assert!(out.status.success(), "client failed:\n{}", transcript(out));
}

fn assert_delivered_as_sent(server: &TestServer, user: &str, protocol: &str, helo: &str) {
    let (received, body) = server.only_message(user);
    assert_eq!(
        body,
        MESSAGE,
        "stored body differs: {:?}",
        String::from_utf8_lossy(&body)
    );
    assert!(
        received.starts_with(&format!(
            "Received: from {helo} ([127.0.0.1]) by localhost with {protocol} id "
        )),
        "unexpected trace line {received:?}"
    );
    assert!(received.ends_with(" +0000\r\n"), "{received:?}");
}

fn swaks_available() -> bool {
    available("swaks", &["--version"])
}

/// swaks with the common options: server, port, EHLO name, sender, recipients, message file.
fn swaks(server: &TestServer, kind: ListenerKind, from: &str, to: &str, extra: &[&str]) -> Output {
    let port = server.port(kind);
    let data = format!("@{}", server.swaks_message.display());
    let mut args = vec![
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--ehlo",
        "client.test",
        "--from",
        from,
        "--to",
        to,
        "--data",
        &data,
        "--timeout",
        "20",
    ];
    args.extend_from_slice(extra);
    run("swaks", &args, None)
}

/// The swaks options for TLS (`tls`: `--tls` for STARTTLS, `--tlsc` for implicit TLS) with
/// the server verified against the test CA, and for AUTH `mechanism` as alice with `password`
/// when `auth` is given.
fn swaks_tls(server: &TestServer, tls: &str, auth: Option<(&str, &str)>) -> Vec<String> {
    let mut args = vec![tls.to_owned()];
    if let Some((mechanism, password)) = auth {
        let user = [
            "--auth",
            mechanism,
            "--auth-user",
            "alice",
            "--auth-password",
            password,
        ];
        args.extend(user.map(str::to_owned));
    }
    let ca = server.ca.display().to_string();
    let verify = [
        "--tls-verify",
        "--tls-ca-path",
        &ca,
        "--tls-sni",
        "localhost",
    ];
    args.extend(verify.map(str::to_owned));
    args
}

#[test]
fn swaks_starttls_submission_with_auth_plain() {
    if !swaks_available() {
        return;
    }
    let server = TestServer::start("swaks-starttls");
    let extra = swaks_tls(&server, "--tls", Some(("PLAIN", PASSWORD)));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let out = swaks(
        &server,
        ListenerKind::SmtpSubmission,
        "alice@localhost",
        "alice@localhost",
        &extra,
    );
    assert_success(&out);
    let text = transcript(&out);
    assert!(text.contains("220 2.0.0"), "no STARTTLS go-ahead:\n{text}");
    assert!(text.contains("235 2.7.0"), "no AUTH success:\n{text}");
    assert_delivered_as_sent(&server, "alice", "ESMTPSA", "client.test");
}

#[test]
fn swaks_implicit_tls_smtps_with_auth_login() {
    if !swaks_available() {
        return;
    }
    let server = TestServer::start("swaks-tlsc");
    let extra = swaks_tls(&server, "--tlsc", Some(("LOGIN", PASSWORD)));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let out = swaks(
        &server,
        ListenerKind::Smtps,
        "alice@example.test",
        "alice@localhost",
        &extra,
    );
    assert_success(&out);
    assert_delivered_as_sent(&server, "alice", "ESMTPSA", "client.test");
}

#[test]
fn swaks_pipelining_on_mx_in_plaintext_delivers_to_each_user_once() {
    if !swaks_available() {
        return;
    }
    let server = TestServer::start("swaks-mx");
    let out = swaks(
        &server,
        ListenerKind::SmtpMx,
        "someone@remote.example",
        "alice@localhost,bob@mail.example.org,alice@other.example",
        &["--pipeline"],
    );
    assert_success(&out);
    let text = transcript(&out);
    assert!(
        text.contains("PIPELINING"),
        "PIPELINING not offered:\n{text}"
    );
    assert!(!text.contains("AUTH"), "AUTH offered on the MX:\n{text}");
    // alice named twice: one copy.
    assert_delivered_as_sent(&server, "alice", "ESMTP", "client.test");
    assert_delivered_as_sent(&server, "bob", "ESMTP", "client.test");
}

#[test]
fn swaks_plaintext_client_on_mx_delivers() {
    if !swaks_available() {
        return;
    }
    let server = TestServer::start("swaks-mx-plain");
    let out = swaks(&server, ListenerKind::SmtpMx, "<>", "bob@localhost", &[]);
    assert_success(&out);
    assert_delivered_as_sent(&server, "bob", "ESMTP", "client.test");
}

#[test]
fn swaks_opportunistic_starttls_on_mx() {
    if !swaks_available() {
        return;
    }
    let server = TestServer::start("swaks-mx-tls");
    let extra = swaks_tls(&server, "--tls", None);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let out = swaks(
        &server,
        ListenerKind::SmtpMx,
        "someone@remote.example",
        "alice@localhost",
        &extra,
    );
    assert_success(&out);
    assert_delivered_as_sent(&server, "alice", "ESMTPS", "client.test");
}

#[test]
fn swaks_auth_in_clear_on_submission_is_refused() {
    if !swaks_available() {
        return;
    }
    let server = TestServer::start("swaks-clear");
    // AUTH is not even offered before TLS, so swaks gives up before sending the password.
    let out = swaks(
        &server,
        ListenerKind::SmtpSubmission,
        "alice@localhost",
        "alice@localhost",
        &[
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice",
            "--auth-password",
            PASSWORD,
        ],
    );
    let text = transcript(&out);
    assert!(!out.status.success(), "clear AUTH succeeded:\n{text}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("AUTH"),
        "AUTH offered or sent in clear:\n{text}"
    );
    assert!(
        text.contains("250 STARTTLS"),
        "STARTTLS not offered:\n{text}"
    );
    assert!(
        text.contains("did not advertise authentication"),
        "unexpected swaks failure:\n{text}"
    );
    // Without AUTH, MAIL in clear gets 530.
    let out = swaks(
        &server,
        ListenerKind::SmtpSubmission,
        "alice@localhost",
        "alice@localhost",
        &[],
    );
    let text = transcript(&out);
    assert!(!out.status.success(), "clear MAIL succeeded:\n{text}");
    assert!(
        text.contains("530 5.7.0 Must issue a STARTTLS command first"),
        "no 530:\n{text}"
    );
    // And an AUTH command typed in clear gets 530 too (smtplib sends it regardless of EHLO).
    if available("python3", &["--version"]) {
        let port = server.port(ListenerKind::SmtpSubmission);
        let script = "import smtplib,sys\n\
s=smtplib.SMTP('127.0.0.1',int(sys.argv[1]),timeout=20)\n\
s.ehlo('client.test')\n\
code,_=s.docmd('AUTH','PLAIN AGFsaWNlAGFsaWNlLVNlY3JldC03')\n\
print(code)\n\
s.quit()\n";
        let out = run("python3", &["-c", script, &port], None);
        assert_success(&out);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "530");
    }
    assert!(server.stored("alice").is_empty());
}

#[test]
fn swaks_refusals_unknown_user_foreign_sender_wrong_password() {
    if !swaks_available() {
        return;
    }
    let server = TestServer::start("swaks-refusals");
    let out = swaks(
        &server,
        ListenerKind::SmtpMx,
        "someone@remote.example",
        "nobody@localhost",
        &[],
    );
    let text = transcript(&out);
    assert!(!out.status.success());
    assert!(text.contains("550 5.1.1"), "no 550 5.1.1:\n{text}");

    let extra = swaks_tls(&server, "--tls", Some(("PLAIN", PASSWORD)));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let out = swaks(
        &server,
        ListenerKind::SmtpSubmission,
        "bob@localhost",
        "alice@localhost",
        &extra,
    );
    let text = transcript(&out);
    assert!(!out.status.success());
    assert!(text.contains("553 5.7.1"), "no 553 5.7.1:\n{text}");

    let extra = swaks_tls(&server, "--tls", Some(("PLAIN", "wrong-password")));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let out = swaks(
        &server,
        ListenerKind::SmtpSubmission,
        "alice@localhost",
        "alice@localhost",
        &extra,
    );
    let text = transcript(&out);
    assert!(!out.status.success());
    assert!(text.contains("535 5.7.8"), "no 535 5.7.8:\n{text}");
    assert!(server.stored("alice").is_empty());
}

fn curl(server: &TestServer, url_scheme: &str, kind: ListenerKind, extra: &[&str]) -> Output {
    let port = server.port(kind);
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = format!("{url_scheme}://localhost:{port}/client.test");
    let ca = server.ca.display().to_string();
    let file = server.message.display().to_string();
    let user = format!("alice:{PASSWORD}");
    let mut args = vec![
        "--silent",
        "--show-error",
        "--max-time",
        "20",
        "--resolve",
        &resolve,
        "--cacert",
        &ca,
        "--user",
        &user,
        "--mail-from",
        "alice@localhost",
        "--mail-rcpt",
        "alice@localhost",
        "--upload-file",
        &file,
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    run("curl", &args, None)
}

#[test]
fn curl_starttls_submission() {
    if !available("curl", &["--version"]) {
        return;
    }
    let server = TestServer::start("curl-starttls");
    // A CA that did not issue the server's certificate: curl must refuse the server.
    let other_ca = server.dir.path().join("other-ca.pem");
    std::fs::write(
        &other_ca,
        mailsec_tls::testing::TestPki::new("localhost").ca_pem(),
    )
    .expect("other CA");
    let other = other_ca.display().to_string();
    let out = curl(
        &server,
        "smtp",
        ListenerKind::SmtpSubmission,
        &["--ssl-reqd", "--cacert", &other],
    );
    assert!(
        !out.status.success(),
        "curl trusted a foreign CA:\n{}",
        transcript(&out)
    );
    assert!(server.stored("alice").is_empty());
    let out = curl(
        &server,
        "smtp",
        ListenerKind::SmtpSubmission,
        &["--ssl-reqd"],
    );
    assert_success(&out);
    assert_delivered_as_sent(&server, "alice", "ESMTPSA", "client.test");
}

#[test]
fn curl_implicit_tls_smtps() {
    if !available("curl", &["--version"]) {
        return;
    }
    let server = TestServer::start("curl-smtps");
    let out = curl(&server, "smtps", ListenerKind::Smtps, &[]);
    assert_success(&out);
    assert_delivered_as_sent(&server, "alice", "ESMTPSA", "client.test");
}

const SMTPLIB_SCRIPT: &str = r#"
import smtplib, ssl, sys
mode, port, ca, path, pw = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
if mode == 'starttls':
    s = smtplib.SMTP('localhost', int(port), local_hostname='client.test', timeout=20)
    s.starttls(context=ctx)
else:
    s = smtplib.SMTP_SSL('localhost', int(port), local_hostname='client.test', context=ctx, timeout=20)
s.login('alice', pw)
refused = s.sendmail('alice@localhost', ['alice@localhost'], open(path, 'rb').read())
assert not refused, refused
s.quit()
print('sent')
"#;

fn smtplib(server: &TestServer, mode: &str, kind: ListenerKind) -> Output {
    let port = server.port(kind);
    let ca = server.ca.display().to_string();
    let file = server.message.display().to_string();
    run(
        "python3",
        &["-c", SMTPLIB_SCRIPT, mode, &port, &ca, &file, PASSWORD],
        None,
    )
}

#[test]
fn python_smtplib_starttls_submission() {
    if !available("python3", &["--version"]) {
        return;
    }
    let server = TestServer::start("smtplib-starttls");
    let out = smtplib(&server, "starttls", ListenerKind::SmtpSubmission);
    assert_success(&out);
    assert_delivered_as_sent(&server, "alice", "ESMTPSA", "client.test");
}

#[test]
fn python_smtplib_smtp_ssl() {
    if !available("python3", &["--version"]) {
        return;
    }
    let server = TestServer::start("smtplib-ssl");
    let out = smtplib(&server, "ssl", ListenerKind::Smtps);
    assert_success(&out);
    assert_delivered_as_sent(&server, "alice", "ESMTPSA", "client.test");
}

/// The `mailsec-server` binary itself: starts, prints its listeners, delivers, and exits 0 on
/// SIGTERM; `hash-password` prints a users-file line.
#[test]
fn mailsec_server_binary_serves_and_stops_on_sigterm() {
    if !swaks_available() || !available("kill", &["-l"]) {
        return;
    }
    let exe = env!("CARGO_BIN_EXE_mailsec-server");
    let out = run(
        exe,
        &["hash-password", "alice", "--scheme", "scram-sha-256"],
        Some(format!("{PASSWORD}\n").as_bytes()),
    );
    assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("alice:scram-sha-256:SCRAM-SHA-256$"));

    let dir = temp_dir("binary");
    let users = users_file(dir.path());
    let root = dir.path().join("maildir");
    let message = swaks_message_file(dir.path());
    let mx = free_port();
    let mut child = Command::new(exe)
        .arg("--maildir")
        .arg(&root)
        .arg("--users")
        .arg(&users)
        .args(["--smtp-mx", &format!("127.0.0.1:{mx}")])
        .args(["--smtp-submission", "127.0.0.1:0", "--smtps", "127.0.0.1:0"])
        .args([
            "--pop3", "off", "--pop3s", "off", "--imap", "off", "--imaps", "off",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mailsec-server");
    let pid = child.id().to_string();
    let kill = |signal: &str| {
        let _ = Command::new("kill").args([signal, &pid]).status();
    };
    // Read stdout on a thread so a silent server cannot hang the test.
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lines.iter().any(|l: &String| l.starts_with("serving")) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => lines.push(line),
            Err(_) => {
                kill("-KILL");
                panic!("server did not start; stdout so far: {lines:?}");
            }
        }
    }
    let text = lines.join("\n");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("smtp-mx ")
                && l.ends_with(&format!(" listening on 127.0.0.1:{mx}"))),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("smtp-submission ") && l.contains(" listening on 127.0.0.1:")),
        "{text}"
    );
    assert!(text.contains("trust its CA:"), "{text}");

    let port = mx.to_string();
    let data = format!("@{}", message.display());
    let out = run(
        "swaks",
        &[
            "--server",
            "127.0.0.1",
            "--port",
            &port,
            "--ehlo",
            "client.test",
            "--from",
            "a@remote.example",
            "--to",
            "alice@localhost",
            "--data",
            &data,
        ],
        None,
    );
    assert_success(&out);
    let maildir = Maildir::open(&root, "localhost").expect("maildir");
    let list = maildir
        .mailbox("alice")
        .expect("mailbox")
        .list()
        .expect("list");
    assert_eq!(list.len(), 1);
    let (_, body) = split_received(&std::fs::read(&list[0].path).expect("read"));
    assert_eq!(body, MESSAGE);

    kill("-TERM");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            kill("-KILL");
            panic!("server did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    let rest: Vec<String> = rx.iter().collect();
    assert!(rest.iter().any(|l| l == "shutting down"), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.starts_with("smtp-mx: 1 connection(s)")),
        "{rest:?}"
    );
}

#[test]
fn swaks_auth_in_clear_on_submission_under_allow_plaintext_auth() {
    if !swaks_available() {
        return;
    }
    let server = TestServer::start_with("swaks-plain-auth", &["--allow-plaintext-auth"]);
    let out = swaks(
        &server,
        ListenerKind::SmtpSubmission,
        "alice@localhost",
        "alice@localhost",
        &[
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice",
            "--auth-password",
            PASSWORD,
        ],
    );
    assert_success(&out);
    let text = transcript(&out);
    assert!(
        !text.contains("STARTTLS"),
        "STARTTLS offered without TLS:\n{text}"
    );
    assert_delivered_as_sent(&server, "alice", "ESMTPA", "client.test");
}
