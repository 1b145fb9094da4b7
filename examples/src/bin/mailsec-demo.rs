//! mailsec demo: a client and a server on loopback, with a freshly generated certificate, in
//! clear, with a STARTTLS upgrade and with implicit TLS, showing what a network capture of each
//! session reveals. Until the SMTP, IMAP and POP3 machines land it speaks the toy line protocol
//! of `mailsec_tls::testing::toy`; each protocol grows the demo with its own sessions.
//!
//! Exit status 0 means every session behaved as the security model says.

use std::process::ExitCode;

use mailsec_examples::capture::{Capture, Tap};
use mailsec_examples::toy_server::{Mode, spawn_one};
use mailsec_tls::ClientTls;
use mailsec_tls::driver::{Driver, TokioTimer};
use mailsec_tls::testing::TestPki;
use mailsec_tls::testing::toy::{ToyClient, ToyEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::compat::TokioAsyncReadCompatExt;

const PASSWORD: &str = "correct-horse-battery-staple";

/// Runs one login session and prints its capture; returns whether it met expectations.
async fn session(title: &str, mode: Mode, pki: &TestPki) -> Result<bool, String> {
    println!("\n== {title} ==");
    let (addr, server) = spawn_one(mode, pki.server_setup()).await?;

    let capture = Capture::default();
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let stream = Tap::new(stream.compat(), capture.clone());
    let client_tls = pki.client_setup();
    let mut driver = match mode {
        Mode::Plaintext => Driver::new(
            ToyClient::new(ClientTls::InsecurePlaintext),
            stream,
            TokioTimer,
            None,
        ),
        Mode::StartTls => Driver::new(
            ToyClient::new(ClientTls::StartTlsRequired),
            stream,
            TokioTimer,
            Some(client_tls),
        ),
        Mode::Implicit => Driver::implicit_tls(
            ToyClient::new(ClientTls::Implicit),
            stream,
            TokioTimer,
            client_tls,
        )
        .map_err(|e| e.to_string())?,
    };
    while let Some(event) = driver.next_event().await.map_err(|e| e.to_string())? {
        match event {
            ToyEvent::Ready => {
                if let Some(info) = driver.tls_info() {
                    println!(
                        "client: TLS up ({}, {}), certificate verified for {:?}",
                        info.version,
                        info.cipher_suite,
                        info.server_name.unwrap_or_default()
                    );
                }
                driver
                    .machine_mut()
                    .send_line(&format!("LOGIN alice {PASSWORD}"));
            }
            ToyEvent::Line(line) if line.starts_with("OK welcome") => {
                driver.machine_mut().send_line("QUIT");
            }
            _ => {}
        }
    }
    let server_events = server.await.map_err(|e| e.to_string())??;
    println!("server events: {}", server_events.join(", "));
    println!("what a network capture shows (C = client, S = server):");
    print!("{}", capture.render("C:", "S:"));

    let visible = capture.contains(PASSWORD.as_bytes());
    let expected_visible = mode == Mode::Plaintext;
    println!(
        "password readable in the capture: {}",
        if visible {
            "YES — anyone on the path has it"
        } else {
            "no — only ciphertext after the cut"
        }
    );
    let logged_in = server_events.iter().any(|e| e.contains("LoggedIn"));
    Ok(visible == expected_visible && logged_in)
}

/// A meddler pipelines a LOGIN behind STARTTLS; the server must refuse and close.
async fn injection(pki: &TestPki) -> Result<bool, String> {
    println!("\n== 4. Command injection at STARTTLS (CVE-2011-0411 style) ==");
    let (addr, server) = spawn_one(Mode::StartTls, pki.server_setup()).await?;
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let mut greeting = [0u8; 64];
    let n = stream
        .read(&mut greeting)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "  S: {}",
        String::from_utf8_lossy(&greeting[..n]).trim_end()
    );
    let attack = b"STARTTLS\r\nLOGIN mallory stolen\r\n";
    stream.write_all(attack).await.map_err(|e| e.to_string())?;
    println!("  C: STARTTLS\\r\\nLOGIN mallory stolen\\r\\n   (one packet)");
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .await
        .map_err(|e| e.to_string())?;
    for line in String::from_utf8_lossy(&reply).lines() {
        println!("  S: {line}");
    }
    let outcome = server.await.map_err(|e| e.to_string())?;
    println!(
        "server: {}",
        outcome
            .as_ref()
            .map_or_else(|e| e.clone(), |ev| ev.join(", "))
    );
    let refused = outcome
        .as_ref()
        .is_err_and(|e| e.contains("command injection"))
        && !String::from_utf8_lossy(&reply).contains("OK begin TLS");
    Ok(refused)
}

async fn run() -> Result<bool, String> {
    let pki = TestPki::new("localhost");
    println!("mailsec demo — generated a test CA and a certificate for \"localhost\"");
    let mut ok = true;
    ok &= session(
        "1. In clear: what every mail protocol started as",
        Mode::Plaintext,
        &pki,
    )
    .await?;
    ok &= session(
        "2. STARTTLS: clear greeting, then an upgrade at an exact byte",
        Mode::StartTls,
        &pki,
    )
    .await?;
    ok &= session(
        "3. Implicit TLS (ports 465/993/995 style)",
        Mode::Implicit,
        &pki,
    )
    .await?;
    ok &= injection(&pki).await?;
    Ok(ok)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => {
            println!("\nall sessions behaved as expected");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!("\na session did not behave as expected");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("demo failed: {err}");
            ExitCode::FAILURE
        }
    }
}
