//! mailsec demo: the example mail server's SMTP, POP3 and IMAP services and mailsec's own clients
//! on loopback, with a freshly generated certificate, each session in clear, with a STARTTLS/STLS
//! upgrade and with implicit TLS, printing what a network capture of the session reveals; then a
//! command pipelined behind STARTTLS (the injection the server must refuse), and the messages
//! submitted over SMTP read back over POP3 and IMAP.
//!
//! Exit status 0 means every session behaved as the security model says.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use mailsec_examples::capture::{Capture, Tap};
use mailsec_examples::imap_mail;
use mailsec_examples::imap_service::{self, ImapService, StoreOpener};
use mailsec_examples::imap_store::MaildirStore;
use mailsec_examples::listener::{ConnectionTls, Listener, ListenerOptions};
use mailsec_examples::maildir::Maildir;
use mailsec_examples::pop3_fetch::{self, ConnectOptions, Destination, FetchOptions, Trust};
use mailsec_examples::pop3_service::{self, Pop3Service};
use mailsec_examples::server_cli::ListenerKind;
use mailsec_examples::smtp_send::{self, SendOptions, TlsMode};
use mailsec_examples::smtp_service::{self, SmtpSettings};
use mailsec_examples::users::{Scheme, Users, hash_password_line_with};
use mailsec_imap::server::{ServerConfig as ImapConfig, StoreRefusal};
use mailsec_imap::store::MailStore;
use mailsec_pop3::server::ServerConfig as Pop3Config;
use mailsec_smtp::server::{Role, ServerConfig as SmtpConfig};
use mailsec_smtp::types::Domain;
use mailsec_tls::sasl::{InsecureAuth, Mechanism};
use mailsec_tls::testing::TestPki;
use mailsec_tls::{ClientTls, ServerPolicy, ServerTlsConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};
use tokio_util::sync::CancellationToken;

const HOST: &str = "localhost";
const USER: &str = "alice";
const PASSWORD: &str = "correct-horse-battery-staple";

/// The listeners of the demo server, each on its own loopback port.
struct Servers {
    smtp_clear: SocketAddr,
    smtp_starttls: SocketAddr,
    smtps: SocketAddr,
    pop3_clear: SocketAddr,
    pop3_stls: SocketAddr,
    pop3s: SocketAddr,
    imap_clear: SocketAddr,
    imap_starttls: SocketAddr,
    imaps: SocketAddr,
    shutdown: CancellationToken,
}

async fn listener(tls: ConnectionTls, name: &str) -> Result<Listener, String> {
    Listener::bind(
        "127.0.0.1:0".parse().expect("address"),
        tls,
        ListenerOptions::new(name),
    )
    .await
    .map_err(|e| format!("bind {name}: {e}"))
}

async fn start_servers(pki: &TestPki, root: &std::path::Path) -> Result<Servers, String> {
    let line = hash_password_line_with(
        USER,
        Scheme::ScramSha256,
        PASSWORD,
        argon2::Params::default(),
        4096,
    )
    .map_err(|e| e.to_string())?;
    let users = Arc::new(Users::parse(&line).map_err(|e| e.to_string())?);
    let maildir = Arc::new(Maildir::open(root, HOST).map_err(|e| e.to_string())?);
    let settings = Arc::new(SmtpSettings::new(HOST).log(false));
    let tls: ServerTlsConfig = pki.server_config();
    let host = Domain::new(HOST.as_bytes()).map_err(|e| e.to_string())?;
    let shutdown = CancellationToken::new();

    // SMTP: submission in clear (the classic capture), submission with STARTTLS, and implicit
    // TLS submission. The clear one offers only PLAIN and LOGIN, as the servers of old did.
    let clear = SmtpConfig::new(Role::Submission, host.clone())
        .with_starttls(false)
        .with_insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls)
        .with_mechanisms(vec![Mechanism::Plain, Mechanism::Login]);
    let starttls = SmtpConfig::new(Role::Submission, host.clone())
        .with_mechanisms(vec![Mechanism::ScramSha256, Mechanism::Plain]);
    let implicit = SmtpConfig::new(Role::ImplicitSubmission, host)
        .with_mechanisms(vec![Mechanism::ScramSha256, Mechanism::Plain]);
    let mut addrs = Vec::new();
    for (config, conn_tls, name) in [
        (clear, ConnectionTls::None, "smtp-clear"),
        (starttls, ConnectionTls::StartTls(tls.clone()), "submission"),
        (implicit, ConnectionTls::Implicit(tls.clone()), "smtps"),
    ] {
        let l = listener(conn_tls, name).await?;
        addrs.push(l.local_addr().map_err(|e| e.to_string())?);
        tokio::spawn(smtp_service::serve(
            l,
            config,
            users.clone(),
            maildir.clone(),
            settings.clone(),
            shutdown.clone(),
        ));
    }

    // POP3: in clear with USER/PASS only (no SASL), with STLS ("require secure channel"), and
    // over implicit TLS.
    let clear = Arc::new(
        Pop3Config::builder()
            .policy(ServerPolicy::insecure_plaintext())
            .greeting(format!("{HOST} POP3 ready"))
            .mechanisms([])
            .build()
            .map_err(|e| e.to_string())?,
    );
    let stls = pop3_service::pop3_config(ListenerKind::Pop3, false, HOST, &users)
        .map_err(|e| e.to_string())?;
    let implicit = pop3_service::pop3_config(ListenerKind::Pop3s, false, HOST, &users)
        .map_err(|e| e.to_string())?;
    for (config, conn_tls, name) in [
        (clear, ConnectionTls::None, "pop3-clear"),
        (stls, ConnectionTls::StartTls(tls.clone()), "pop3"),
        (implicit, ConnectionTls::Implicit(tls.clone()), "pop3s"),
    ] {
        let l = listener(conn_tls, name).await?;
        addrs.push(l.local_addr().map_err(|e| e.to_string())?);
        let service = Pop3Service::new(config, maildir.clone(), users.clone());
        tokio::spawn(service.serve(l, shutdown.clone()));
    }

    // IMAP over the same maildir: in clear with LOGIN only (the classic capture), with
    // STARTTLS ("require secure channel": LOGINDISABLED until TLS), and over implicit TLS.
    let clear = Arc::new(
        ImapConfig::builder()
            .policy(ServerPolicy::insecure_plaintext())
            .greeting(format!("{HOST} IMAP ready"))
            .mechanisms([])
            .build()
            .map_err(|e| e.to_string())?,
    );
    let starttls = imap_service::imap_config(ListenerKind::Imap, false, HOST, &users)
        .map_err(|e| e.to_string())?;
    let implicit = imap_service::imap_config(ListenerKind::Imaps, false, HOST, &users)
        .map_err(|e| e.to_string())?;
    let opener: StoreOpener = {
        let maildir = maildir.clone();
        Arc::new(move |user: &str| {
            MaildirStore::open(&maildir, user, HOST)
                .map(|store| Box::new(store) as Box<dyn MailStore>)
                .map_err(|_| StoreRefusal::Unavailable)
        })
    };
    for (config, conn_tls, name) in [
        (clear, ConnectionTls::None, "imap-clear"),
        (starttls, ConnectionTls::StartTls(tls.clone()), "imap"),
        (implicit, ConnectionTls::Implicit(tls.clone()), "imaps"),
    ] {
        let l = listener(conn_tls, name).await?;
        addrs.push(l.local_addr().map_err(|e| e.to_string())?);
        let service = ImapService::new(config, users.clone(), opener.clone());
        tokio::spawn(service.serve(l, shutdown.clone()));
    }
    Ok(Servers {
        smtp_clear: addrs[0],
        smtp_starttls: addrs[1],
        smtps: addrs[2],
        pop3_clear: addrs[3],
        pop3_stls: addrs[4],
        pop3s: addrs[5],
        imap_clear: addrs[6],
        imap_starttls: addrs[7],
        imaps: addrs[8],
        shutdown,
    })
}

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: {USER}@{HOST}\r\nTo: {USER}@{HOST}\r\nSubject: {subject}\r\n\r\nHello from the mailsec demo.\r\n.A line that starts with a dot.\r\n"
    )
    .into_bytes()
}

fn verdict(visible: bool) -> &'static str {
    if visible {
        "YES — anyone on the path has it"
    } else {
        "no — only ciphertext after the cut"
    }
}

/// Submits one message as alice; prints the capture; returns whether the password could be
/// read from it and whether the message was accepted.
async fn smtp_session(
    title: &str,
    addr: SocketAddr,
    tls: TlsMode,
    pki: &TestPki,
) -> Result<(bool, bool), String> {
    println!("\n== {title} ==");
    let capture = Capture::default();
    let mut options = SendOptions::new(
        &addr.to_string(),
        HOST,
        &format!("{USER}@{HOST}"),
        [format!("{USER}@{HOST}").as_str()],
    );
    options.tls = tls;
    options.tls_config = Some(pki.client_config());
    options.credentials = Some(mailsec_tls::sasl::Credentials::password(USER, PASSWORD));
    options.allow_cleartext_credentials = tls == TlsMode::None;
    options.capture = Some(capture.clone());
    let body = message(title);
    let report = smtp_send::send(&options, &body[..]).await;
    println!("what a network capture shows (C = client, S = server):");
    print!("{}", capture.render("C:", "S:"));
    let report = report.map_err(|e| e.to_string())?;
    match &report.tls {
        Some(info) => println!(
            "client: TLS {} {}, certificate verified for {:?}; AUTH {:?}",
            info.version,
            info.cipher_suite,
            info.server_name.clone().unwrap_or_default(),
            report.authenticated
        ),
        None => println!("client: no TLS; AUTH {:?}", report.authenticated),
    }
    // AUTH PLAIN carries "\0user\0password" in base64: no secret at all on the wire.
    let plain = mailsec_tls::sasl::wire::encode(format!("\0{USER}\0{PASSWORD}").as_bytes());
    let visible = capture.contains(plain.as_bytes()) || capture.contains(PASSWORD.as_bytes());
    if visible {
        println!("the AUTH PLAIN line decodes to \"\\0{USER}\\0{PASSWORD}\"");
    }
    println!("password readable in the capture: {}", verdict(visible));
    println!("server: {}", smtp_send::show_reply(&report.reply));
    Ok((visible, report.all_accepted()))
}

/// What the POP3 and IMAP readers of the demo share: alice's options for `addr` with the demo
/// CA, and a connection whose bytes both ways go into a fresh capture.
async fn tapped_reader(
    addr: SocketAddr,
    tls: ClientTls,
    pki: &TestPki,
) -> Result<(ConnectOptions, Capture, Tap<Compat<TcpStream>>), String> {
    let mut options = ConnectOptions::new(addr.to_string(), USER, PASSWORD);
    options.server_name = HOST.to_owned();
    options.tls = tls;
    options.trust = Trust::Config(pki.client_config());
    options.allow_cleartext_credentials = tls == ClientTls::InsecurePlaintext;
    let capture = Capture::default();
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    Ok((options, capture.clone(), Tap::new(stream.compat(), capture)))
}

/// Lists alice's maildrop over POP3 and fetches every message; prints the capture; returns
/// whether the password could be read from it and the messages fetched.
async fn pop3_session(
    title: &str,
    addr: SocketAddr,
    tls: ClientTls,
    pki: &TestPki,
) -> Result<(bool, Vec<u8>), String> {
    println!("\n== {title} ==");
    let (options, capture, stream) = tapped_reader(addr, tls, pki).await?;
    let mut fetched = Vec::new();
    let outcome = async {
        let mut session = pop3_fetch::Session::over_stream(stream, &options).await?;
        let login = session.login().clone();
        let mut dest = Destination::Writer(&mut fetched);
        let report = session.fetch(&mut dest, &FetchOptions::default()).await?;
        session.quit().await?;
        Ok::<_, pop3_fetch::FetchError>((login, report))
    }
    .await;
    println!("what a network capture shows (C = client, S = server):");
    print!("{}", capture.render("C:", "S:"));
    let (login, report) = outcome.map_err(|e| e.to_string())?;
    println!(
        "client: {}; logged in with {:?}; {} message(s) fetched",
        login.tls.as_deref().unwrap_or("no TLS"),
        login.auth,
        report.fetched.len()
    );
    let visible = capture.contains(PASSWORD.as_bytes());
    println!("password readable in the capture: {}", verdict(visible));
    Ok((visible, fetched))
}

/// Lists alice's folders and INBOX over IMAP and reads the newest message; prints the capture;
/// returns whether the password could be read from it and the message read.
async fn imap_session(
    title: &str,
    addr: SocketAddr,
    tls: ClientTls,
    pki: &TestPki,
) -> Result<(bool, Vec<u8>), String> {
    println!("\n== {title} ==");
    let (options, capture, stream) = tapped_reader(addr, tls, pki).await?;
    let mut read = Vec::new();
    let outcome = async {
        let mut session = imap_mail::Session::over_stream(stream, &options).await?;
        let login = session.login().clone();
        let folders = session.folders().await?;
        let list = session.messages("INBOX").await?;
        if let Some(newest) = list.messages.last() {
            session.read("INBOX", newest.uid, &mut read, false).await?;
        }
        session.logout().await?;
        Ok::<_, imap_mail::ImapError>((login, folders, list))
    }
    .await;
    println!("what a network capture shows (C = client, S = server):");
    print!("{}", capture.render("C:", "S:"));
    let (login, folders, list) = outcome.map_err(|e| e.to_string())?;
    println!(
        "client: {}; logged in with {:?}; {} folder(s), {} message(s) in INBOX",
        login.tls.as_deref().unwrap_or("no TLS"),
        login.auth,
        folders.len(),
        list.messages.len()
    );
    let visible = capture.contains(PASSWORD.as_bytes());
    println!("password readable in the capture: {}", verdict(visible));
    Ok((visible, read))
}

/// A meddler pipelines an AUTH behind STARTTLS; the server must refuse to upgrade and close.
async fn injection(addr: SocketAddr) -> Result<bool, String> {
    println!("\n== Command injection at STARTTLS (CVE-2011-0411 style) ==");
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
    println!("  S: {}", String::from_utf8_lossy(&buf[..n]).trim_end());
    stream
        .write_all(b"EHLO mallory.example\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
    for line in String::from_utf8_lossy(&buf[..n]).lines() {
        println!("  S: {line}");
    }
    let attack = b"STARTTLS\r\nMAIL FROM:<mallory@example.net>\r\n";
    stream.write_all(attack).await.map_err(|e| e.to_string())?;
    println!("  C: STARTTLS\\r\\nMAIL FROM:<mallory@example.net>\\r\\n   (one packet)");
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .await
        .map_err(|e| e.to_string())?;
    let reply = String::from_utf8_lossy(&reply);
    for line in reply.lines() {
        println!("  S: {line}");
    }
    let refused = reply.starts_with("421") && !reply.contains("Ready to start TLS");
    println!(
        "server: {}",
        if refused {
            "no upgrade, nothing executed, connection closed"
        } else {
            "UPGRADED OR EXECUTED — vulnerable"
        }
    );
    Ok(refused)
}

async fn run() -> Result<bool, String> {
    let pki = TestPki::new(HOST);
    let root = std::env::temp_dir().join(format!("mailsec-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    println!("mailsec demo — generated a test CA and a certificate for {HOST:?}");
    println!(
        "server: SMTP submission, POP3 and IMAP over one maildir in {}",
        root.display()
    );
    let servers = start_servers(&pki, &root).await?;
    let mut ok = true;

    let (visible, accepted) = smtp_session(
        "1. SMTP submission in clear: what mail started as",
        servers.smtp_clear,
        TlsMode::None,
        &pki,
    )
    .await?;
    ok &= visible && accepted;
    let (visible, accepted) = smtp_session(
        "2. SMTP submission with STARTTLS: EHLO in clear, then an upgrade at an exact byte",
        servers.smtp_starttls,
        TlsMode::Starttls,
        &pki,
    )
    .await?;
    ok &= !visible && accepted;
    let (visible, accepted) = smtp_session(
        "3. SMTP submission over implicit TLS (port 465 style)",
        servers.smtps,
        TlsMode::Implicit,
        &pki,
    )
    .await?;
    ok &= !visible && accepted;
    ok &= injection(servers.smtp_starttls).await?;

    let (visible, _) = pop3_session(
        "4. POP3 in clear: USER, PASS and the mail itself, for anyone to read",
        servers.pop3_clear,
        ClientTls::InsecurePlaintext,
        &pki,
    )
    .await?;
    ok &= visible;
    let (visible, _) = pop3_session(
        "5. POP3 with STLS: CAPA in clear, then TLS",
        servers.pop3_stls,
        ClientTls::StartTlsRequired,
        &pki,
    )
    .await?;
    ok &= !visible;
    let (visible, fetched) = pop3_session(
        "6. POP3 over implicit TLS (port 995 style)",
        servers.pop3s,
        ClientTls::Implicit,
        &pki,
    )
    .await?;
    ok &= !visible;
    // Everything submitted over SMTP arrived, byte for byte after the Received line.
    let fetched = String::from_utf8_lossy(&fetched);
    let delivered = ["1. SMTP", "2. SMTP", "3. SMTP"]
        .iter()
        .all(|subject| fetched.contains(&format!("Subject: {subject}")));
    let exact = fetched.contains(&*String::from_utf8_lossy(&message(
        "3. SMTP submission over implicit TLS (port 465 style)",
    )));
    println!(
        "\nthe three messages submitted over SMTP were read back over POP3: {}",
        if delivered && exact {
            "yes, byte for byte"
        } else {
            "NO"
        }
    );
    ok &= delivered && exact;

    let (visible, _) = imap_session(
        "7. IMAP in clear: LOGIN with the password, as in the classic Network Monitor screenshot",
        servers.imap_clear,
        ClientTls::InsecurePlaintext,
        &pki,
    )
    .await?;
    ok &= visible;
    let (visible, _) = imap_session(
        "8. IMAP with STARTTLS: LOGINDISABLED in clear, then TLS",
        servers.imap_starttls,
        ClientTls::StartTlsRequired,
        &pki,
    )
    .await?;
    ok &= !visible;
    let (visible, read) = imap_session(
        "9. IMAP over implicit TLS (port 993 style)",
        servers.imaps,
        ClientTls::Implicit,
        &pki,
    )
    .await?;
    ok &= !visible;
    // The newest message in INBOX is the one submitted over implicit TLS, byte for byte after
    // the Received line the SMTP service put on top.
    let exact = read.ends_with(&message(
        "3. SMTP submission over implicit TLS (port 465 style)",
    ));
    println!(
        "\nthe message submitted over SMTP was read back over IMAP: {}",
        if exact { "yes, byte for byte" } else { "NO" }
    );
    ok &= exact;
    servers.shutdown.cancel();
    let _ = std::fs::remove_dir_all(&root);
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
