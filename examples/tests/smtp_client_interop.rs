//! Our SMTP client (through `mailsec_examples::smtp_send` and the `mailsec-send` binary)
//! delivering to a real Postfix that requires STARTTLS (`smtpd_tls_security_level = encrypt`).
//!
//! Postfix runs from one fixed directory, so every Postfix case lives in the one test below.

#[allow(unreachable_pub)] // shared by several test binaries
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::peers::{POSTFIX_DIR, Postfix};
use mailsec_examples::capture::Capture;
use mailsec_examples::smtp_send::{SendError, SendOptions, TlsMode, send};
use mailsec_smtp::client::Phase;
use mailsec_tls::testing::TestPki;

/// A message with the headers Postfix would otherwise add (so it adds none inside it), lines
/// that start with dots, and `body_lines` lines of filler.
fn message(subject: &str, body_lines: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Alice <alice@example.test>\r\n\
         To: Bob <bob@example.test>\r\n\
         Subject: {subject}\r\n\
         Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n\
         Message-ID: <{subject}@example.test>\r\n\
         \r\n\
         Hello Bob,\r\n\
         .\r\n\
         ..two dots\r\n\
         .one dot\r\n\
         \r\n\
         .\r\n"
    )
    .into_bytes();
    for i in 0..body_lines {
        m.extend_from_slice(
            format!("{i:06} the quick brown fox jumps over the lazy dog, again and again\r\n")
                .as_bytes(),
        );
        if i % 1000 == 0 {
            m.extend_from_slice(b".\r\n..\r\n");
        }
    }
    m.extend_from_slice(b"-- \r\nAlice\r\n.");
    m.extend_from_slice(b"\r\n");
    m
}

/// The message as Postfix stores it: LF line endings.
fn as_stored(message: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(message.to_vec()).expect("ascii message");
    text.replace("\r\n", "\n").into_bytes()
}

/// Checks that `delivered` is the trace headers Postfix adds, then exactly `sent` (LF).
fn assert_delivered(delivered: &[u8], sent: &[u8]) {
    let expected = as_stored(sent);
    assert!(
        delivered.ends_with(&expected),
        "the delivered message does not end with what was sent:\n{}",
        String::from_utf8_lossy(&delivered[..delivered.len().min(2000)])
    );
    let prefix = String::from_utf8_lossy(&delivered[..delivered.len() - expected.len()]);
    let mut names = Vec::new();
    for line in prefix.lines() {
        if line.starts_with([' ', '\t']) {
            assert!(!names.is_empty(), "a continuation line first: {line:?}");
            continue;
        }
        let (name, _) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("not a header line before the message: {line:?}"));
        names.push(name.to_owned());
    }
    for name in &names {
        assert!(
            ["Return-Path", "X-Original-To", "Delivered-To", "Received"].contains(&name.as_str()),
            "Postfix added a header other than trace headers: {name} (all: {names:?})"
        );
    }
    assert!(
        names.iter().any(|n| n == "Received"),
        "no Received header: {names:?}"
    );
    // RFC 3848: "ESMTPS" records that Postfix received the message over TLS.
    assert!(
        prefix.contains("with ESMTPS"),
        "not received over TLS:\n{prefix}"
    );
    assert!(
        prefix.contains("Return-Path: <alice@example.test>"),
        "envelope sender not recorded:\n{prefix}"
    );
}

/// Bob's `new/` directory.
fn bob_new() -> PathBuf {
    Path::new(POSTFIX_DIR).join("mail/bob/new")
}

/// Waits for the next delivery, then removes it so the next wait sees only the next message.
fn take_delivery(postfix: &Postfix) -> Vec<u8> {
    let bytes = postfix.wait_for_delivery();
    // Postfix renames into new/ atomically; remove whatever is there (one message).
    for entry in std::fs::read_dir(bob_new()).expect("new/") {
        std::fs::remove_file(entry.expect("entry").path()).expect("remove delivered");
    }
    bytes
}

/// Asserts that nothing (more) is delivered within a short while.
fn assert_no_delivery() {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let count = std::fs::read_dir(bob_new()).map_or(0, |d| d.count());
        assert_eq!(
            count, 0,
            "a message was delivered that should not have been"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn options(postfix: &Postfix, pki: &TestPki, tls: TlsMode) -> SendOptions {
    let server = format!("127.0.0.1:{}", postfix.port);
    let mut o = SendOptions::new(
        &server,
        "localhost",
        "alice@example.test",
        ["bob@example.test"],
    );
    o.tls = tls;
    o.tls_config = Some(pki.client_config());
    o.ehlo_name = "client.example.test".to_owned();
    o
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn postfix_with_starttls_required() {
    let pki = TestPki::new("localhost");
    let Some(postfix) = Postfix::start(&pki) else {
        return;
    };
    let rt = runtime();

    // 1. STARTTLS, BDAT (Postfix offers CHUNKING), a body of a few hundred KB streamed in
    //    small chunks, a recipient refused next to one accepted.
    let sent = message("bdat", 6000);
    assert!(sent.len() > 300_000, "{}", sent.len());
    let mut o = options(&postfix, &pki, TlsMode::Starttls);
    o.to.push("nobody@example.test".to_owned());
    o.chunk_size = 4096;
    let capture = Capture::default();
    o.capture = Some(capture.clone());
    let report = rt
        .block_on(send(&o, &sent[..]))
        .unwrap_or_else(|e| panic!("send over STARTTLS failed: {e}"));
    let tls = report.tls.as_ref().expect("the session was secure");
    assert_eq!(tls.server_name.as_deref(), Some("localhost"));
    assert_eq!(report.recipients.len(), 2);
    assert!(
        report.recipients[0].accepted(),
        "{:?}",
        report.recipients[0]
    );
    assert_eq!(
        report.recipients[0].recipient.to_string(),
        "<bob@example.test>"
    );
    // A user the virtual mailbox table does not know: 550 5.1.1 User unknown.
    let refused = &report.recipients[1];
    assert!(!refused.accepted());
    assert_eq!(refused.reply.code().get(), 550, "{:?}", refused.reply);
    assert_eq!(
        refused.reply.enhanced().map(|e| e.to_string()).as_deref(),
        Some("5.1.1")
    );
    assert!(!report.all_accepted());
    assert_eq!(report.reply.code().get(), 250);
    assert_eq!(report.octets, sent.len() as u64);
    assert!(report.authenticated.is_none());
    let ext = report.extensions.as_ref().expect("EHLO reply");
    assert!(
        ext.chunking(),
        "Postfix offers CHUNKING: the body went with BDAT"
    );
    assert!(ext.pipelining());
    assert!(report.quit_error.is_none(), "{:?}", report.quit_error);
    // The capture: STARTTLS in clear, then nothing of the message readable.
    assert!(capture.contains(b"STARTTLS\r\n"));
    assert!(!capture.contains(b"bob@example.test"));
    assert!(!capture.contains(b"quick brown fox"));
    assert_delivered(&take_delivery(&postfix), &sent);

    // 2. STARTTLS and DATA: the lines starting with dots are stuffed on the wire and unstuffed
    //    by Postfix; a message with LF line endings is converted to CRLF on the way.
    let sent = message("data", 3000);
    let mut o = options(&postfix, &pki, TlsMode::Starttls);
    o.chunking = false;
    o.chunk_size = 1000; // pieces that split lines (and "\r\n.") at odd places
    let lf_version = as_stored(&sent);
    let report = rt
        .block_on(send(&o, &lf_version[..]))
        .unwrap_or_else(|e| panic!("send with DATA failed: {e}"));
    assert!(report.all_accepted());
    assert_eq!(report.octets, sent.len() as u64, "LF became CRLF");
    assert_delivered(&take_delivery(&postfix), &sent);

    // 3. In clear, one command at a time: Postfix (encrypt level) refuses MAIL; the error
    //    says where and why, and no RSET is needed (no transaction was opened).
    let mut o = options(&postfix, &pki, TlsMode::None);
    o.pipelining = false;
    let err = rt
        .block_on(send(&o, &message("clear", 1)[..]))
        .expect_err("Postfix must refuse mail without TLS");
    match &err {
        SendError::Rejected {
            phase,
            reply,
            recipients,
        } => {
            assert_eq!(*phase, Phase::Mail);
            assert_eq!(reply.code().get(), 530);
            assert_eq!(
                reply.enhanced().map(|e| e.to_string()).as_deref(),
                Some("5.7.0")
            );
            assert!(recipients.is_empty(), "RCPT sent after a refused MAIL");
        }
        other => panic!("expected a MAIL rejection, got {other:?}"),
    }
    assert_eq!(err.phase(), Some(Phase::Mail));
    assert_eq!(err.code(), Some(530));
    assert_eq!(
        err.enhanced().map(|e| e.to_string()).as_deref(),
        Some("5.7.0")
    );
    let shown = err.to_string();
    assert!(
        shown.starts_with("MAIL: 530 5.7.0 Must issue a STARTTLS command first"),
        "{shown}"
    );
    assert_no_delivery();

    // 3b. In clear, pipelined: MAIL, RCPT and DATA all get 530, and so does the RSET that
    //     ends the failed transaction (Postfix allows only EHLO, HELO, STARTTLS, NOOP and
    //     QUIT before TLS). The client machine then ends the session, reporting what failed
    //     the message: MAIL, 530 5.7.0.
    let o = options(&postfix, &pki, TlsMode::None);
    let err = rt
        .block_on(send(&o, &message("clear-pipelined", 1)[..]))
        .expect_err("Postfix must refuse mail without TLS");
    assert!(matches!(err.phase(), Some(Phase::Mail)), "{err:?}");
    assert_eq!(err.code(), Some(530), "{err:?}");
    assert_eq!(
        err.enhanced().map(|e| e.to_string()).as_deref(),
        Some("5.7.0")
    );
    assert_no_delivery();

    // 4. Implicit TLS against a STARTTLS port: the handshake fails, nothing is sent.
    let o = options(&postfix, &pki, TlsMode::Implicit);
    let err = rt
        .block_on(send(&o, &message("implicit", 1)[..]))
        .expect_err("implicit TLS cannot work on a STARTTLS port");
    assert!(
        matches!(
            err,
            SendError::Tls(_) | SendError::Io(_) | SendError::Session(_)
        ),
        "{err:?}"
    );

    // 5. A wrong server name: the certificate is for localhost, the session must end at the
    //    handshake, before MAIL.
    let mut o = options(&postfix, &pki, TlsMode::Starttls);
    o.server_name = "mx.example.test".to_owned();
    let err = rt
        .block_on(send(&o, &message("wrong-name", 1)[..]))
        .expect_err("a certificate for another name must be refused");
    assert!(matches!(err, SendError::Tls(_)), "{err:?}");
    assert_no_delivery();

    // 6. The mailsec-send binary, end to end, with the message from a file with LF endings.
    let dir = std::env::temp_dir().join(format!("mailsec-send-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).expect("ca");
    let sent = message("binary", 200);
    let file = dir.join("message.eml");
    std::fs::write(&file, as_stored(&sent)).expect("message file");
    let output = Command::new(env!("CARGO_BIN_EXE_mailsec-send"))
        .args(["--server", &format!("127.0.0.1:{}", postfix.port)])
        .args(["--server-name", "localhost", "--tls", "starttls"])
        .arg("--ca")
        .arg(&ca)
        .args(["--from", "alice@example.test", "--to", "bob@example.test"])
        .arg(&file)
        .output()
        .expect("run mailsec-send");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("<bob@example.test>: accepted: 250"),
        "{stdout}"
    );
    assert!(stdout.contains("message accepted"), "{stdout}");
    assert!(
        stdout.contains("certificate verified for localhost"),
        "{stdout}"
    );
    assert_delivered(&take_delivery(&postfix), &sent);

    // 7. The binary in clear: exit status 1 and the phase, code and enhanced code on stderr.
    let output = Command::new(env!("CARGO_BIN_EXE_mailsec-send"))
        .args(["--server", &format!("127.0.0.1:{}", postfix.port)])
        .args([
            "--tls",
            "none",
            "--show-wire",
            "--from",
            "alice@example.test",
        ])
        .args(["--to", "bob@example.test"])
        .arg(&file)
        .output()
        .expect("run mailsec-send");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    // The capture shows the whole session in clear.
    assert!(
        stdout.contains("C: MAIL FROM:<alice@example.test>"),
        "{stdout}"
    );
    assert!(stdout.contains("S: 530 5.7.0"), "{stdout}");
    assert!(
        stderr.contains("code: 530, enhanced code: 5.7.0"),
        "{stderr}"
    );
    assert_no_delivery();
    let _ = std::fs::remove_dir_all(&dir);
}
