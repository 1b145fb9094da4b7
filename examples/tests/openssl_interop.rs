//! Interop with a real TLS peer: `openssl s_client` against our driver-based server on
//! loopback. Under `CI=true` a missing `openssl` fails the test; elsewhere it is reported and
//! the test returns early.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use mailsec_examples::toy_server::{Mode, ServerTask, spawn_one};
use mailsec_tls::testing::{TestPki, provider};
use mailsec_tls::{CertStore, ServerTlsConfig, TlsSetup};

fn openssl_available() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "openssl is required under CI (apt-get install openssl)"
        );
        eprintln!("openssl not found: interop test not run");
    }
    found
}

/// Runs `openssl s_client` against `port`, verifying for `name` with `ca_pem`, sending `input`.
/// Returns (success, stdout, stderr).
fn s_client(port: u16, name: &str, ca_pem: &str, input: &str) -> (bool, String, String) {
    let dir = std::env::temp_dir().join(format!("mailsec-openssl-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ca_pem).expect("write CA");
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            name,
        ])
        .args(["-verify_hostname", name, "-verify_return_error", "-CAfile"])
        .arg(&ca)
        .args(["-crlf", "-ign_eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn openssl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("openssl output");
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An implicit-TLS toy server for one connection; returns its port and task.
async fn server(tls: TlsSetup) -> (u16, ServerTask) {
    let (addr, task) = spawn_one(Mode::Implicit, tls).await.expect("server");
    (addr.port(), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_s_client_talks_to_an_implicit_tls_server() {
    if !openssl_available() {
        return;
    }
    let pki = TestPki::new("localhost");
    let (port, server) = server(pki.server_setup()).await;
    let ca = pki.ca_pem().to_owned();
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || {
        s_client(
            port,
            "localhost",
            &ca,
            "CAPA\nLOGIN alice pw\nECHO over openssl\nQUIT\n",
        )
    })
    .await
    .expect("s_client task");
    assert!(ok, "s_client failed: {stderr}\n{stdout}");
    assert!(stdout.contains("Verify return code: 0 (ok)"), "{stdout}");
    assert!(stdout.contains("* OK toy ready"), "{stdout}");
    assert!(stdout.contains("OK welcome alice"), "{stdout}");
    assert!(stdout.contains("ECHO over openssl"), "{stdout}");
    assert!(stdout.contains("BYE"), "{stdout}");
    let events = server.await.expect("server task").expect("server session");
    assert!(events.iter().any(|e| e.contains("LoggedIn")), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_s_client_rejects_a_wrong_name() {
    if !openssl_available() {
        return;
    }
    let pki = TestPki::new("localhost");
    let (port, server) = server(pki.server_setup()).await;
    let ca = pki.ca_pem().to_owned();
    let (ok, stdout, stderr) =
        tokio::task::spawn_blocking(move || s_client(port, "mail.other.test", &ca, "QUIT\n"))
            .await
            .expect("s_client task");
    assert!(
        !ok,
        "s_client accepted a certificate for the wrong name: {stdout}"
    );
    assert!(
        stderr.contains("hostname mismatch") || stdout.contains("hostname mismatch"),
        "{stderr}\n{stdout}"
    );
    assert!(
        server.await.expect("server task").is_err(),
        "the server sees the aborted handshake"
    );
}

/// A renewed certificate is served on the next handshake, with no restart of the listener's
/// configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloaded_certificate_is_served_to_openssl() {
    if !openssl_available() {
        return;
    }
    let pki = TestPki::new("localhost");
    let store = CertStore::new(provider());
    store
        .set_default_pem(
            pki.leaf_chain_pem().as_bytes(),
            pki.leaf_key_pem().as_bytes(),
        )
        .expect("load");
    let config = ServerTlsConfig::builder(Arc::clone(&store))
        .provider(provider())
        .build()
        .expect("config");
    let renewed = pki.issue(&["localhost"], mailsec_tls::testing::Validity::Current);

    let mut served = Vec::new();
    for round in 0..2 {
        if round == 1 {
            store
                .set_default_pem(renewed.chain.as_bytes(), renewed.key.as_bytes())
                .expect("reload");
        }
        let (port, server) = server(TlsSetup::Server(config.clone())).await;
        let ca = pki.ca_pem().to_owned();
        let (ok, stdout, stderr) =
            tokio::task::spawn_blocking(move || s_client(port, "localhost", &ca, "QUIT\n"))
                .await
                .expect("s_client task");
        assert!(ok, "{stderr}");
        let begin = stdout
            .find("-----BEGIN CERTIFICATE-----")
            .expect("certificate in output");
        let end = stdout
            .find("-----END CERTIFICATE-----")
            .expect("certificate end")
            + 25;
        served.push(stdout[begin..end].to_owned());
        server.await.expect("server task").expect("server session");
    }
    assert_eq!(served[0].trim(), pki.leaf_chain_pem().trim());
    assert_eq!(served[1].trim(), renewed.chain.trim());
}
