//! `mailsec-load` ([`mailsec_examples::load`]) against our example SMTP server (in-process, as
//! `mailsec-server` runs it: MX without TLS, submission with STARTTLS, submissions with
//! implicit TLS, a users file, a maildir), Postfix's `smtp-sink`, and Dovecot (IMAP and POP3
//! over STARTTLS and implicit TLS), and our IMAP and POP3 services over the same maildir. Each
//! run goes through the counting proxy: the tool's byte counts must equal the proxy's, and its
//! message counts what the server stored or saw.

#[allow(dead_code, unreachable_pub)]
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::peers::{Dovecot, free_port, wait_for_port};
use common::process::run;
use common::services::Services;
use mailsec_examples::load::{self, LoadOptions, LoadReport, Login, Mode, ModeReport, Protocol};
use mailsec_examples::server_cli::ListenerKind;
use mailsec_tls::testing::TestPki;

const USER: &str = "alice";
const PASSWORD: &str = "secret-42";

/// A fresh temporary directory, removed on drop.
fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("mailsec-load-{tag}-"))
        .tempdir()
        .unwrap()
}

/// The SMTP listener of each mode, in the order of [`Mode::ALL`] (none, starttls, implicit).
const SMTP_KINDS: [ListenerKind; 3] = [
    ListenerKind::SmtpMx,
    ListenerKind::SmtpSubmission,
    ListenerKind::Smtps,
];

/// Our SMTP listeners on loopback, in their own runtime: MX (no TLS), submission (STARTTLS
/// required, AUTH required), submissions (implicit TLS, AUTH required).
fn smtp_server(pki: &TestPki) -> Services {
    Services::builder(pki)
        .name("load-smtp")
        .listen_in_clear(ListenerKind::SmtpMx)
        .listen(&SMTP_KINDS[1..])
        .users(&format!("{USER}:plain:{PASSWORD}\n"))
        .start()
}

/// The messages stored for [`USER`].
fn stored(server: &Services) -> usize {
    server.stored(USER).len()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn run_load(options: &LoadOptions) -> LoadReport {
    let report = block_on(load::run(options, &indicatif::ProgressBar::hidden())).expect("run");
    println!("{}", report.to_text());
    report
}

fn login() -> Option<Login> {
    Some(Login {
        user: USER.to_owned(),
        password: PASSWORD.to_owned().into(),
    })
}

/// The tool's wire counts equal the counting proxy's, every connection was forwarded.
fn assert_proxy_agrees(m: &ModeReport, connections: u64) {
    let p = m.proxy.expect("run through the proxy");
    assert!(p.idle, "{}: proxy still forwarding", m.mode);
    assert_eq!(p.connections, connections, "{}", m.mode);
    assert_eq!(
        p.to_server, m.bytes_to_server,
        "{}: bytes to server",
        m.mode
    );
    assert_eq!(
        p.to_client, m.bytes_to_client,
        "{}: bytes to client",
        m.mode
    );
}

#[test]
fn our_smtp_server_in_each_mode_stores_every_message_and_the_proxy_agrees() {
    let pki = TestPki::new("localhost");
    let server = smtp_server(&pki);
    let (n, m) = (3usize, 4usize);
    let mut wire_per_op = Vec::new();
    for (i, mode) in Mode::ALL.into_iter().enumerate() {
        let before = stored(&server);
        let port = server.port(SMTP_KINDS[i]);
        let mut o = LoadOptions::new(Protocol::Smtp, "127.0.0.1").with_port(mode, port);
        o.modes = vec![mode];
        o.tls_config = Some(pki.client_config());
        o.server_name = "localhost".into();
        o.connections = n;
        o.count = m;
        o.size = 3000;
        o.login = login(); // not used in mode none: the MX takes mail without AUTH
        o.from = format!("{USER}@localhost");
        o.to = format!("{USER}@localhost");
        o.via_proxy = true;
        o.duration = Duration::from_secs(60);
        let report = run_load(&o);
        let r = &report.modes[0];
        assert_eq!(r.mode, mode);
        assert!(r.errors.is_empty(), "{mode}: {:?}", r.first_errors);
        assert_eq!(r.operations as usize, n * m, "{mode}");
        assert_eq!(r.connections as usize, n, "{mode}");
        let tls = mode != Mode::None;
        assert_eq!(r.handshakes as usize, if tls { n } else { 0 }, "{mode}");
        assert_eq!(r.payload_bytes as usize, n * m * 3000, "{mode}");
        assert_eq!(r.setup_latency.count as usize, n);
        assert_eq!(r.operation_latency.count as usize, n * m);
        // The independent counts: the maildir and the proxy.
        assert_eq!(
            stored(&server) - before,
            n * m,
            "{mode}: messages in the maildir"
        );
        assert_proxy_agrees(r, n as u64);
        // Every message crossed the wire at least once.
        assert!(r.bytes_to_server_per_op > 3000.0, "{mode}");
        wire_per_op.push(r.bytes_to_server_per_op + r.bytes_to_client_per_op);
    }
    // TLS costs bytes: handshakes and record overhead.
    assert!(wire_per_op[1] > wire_per_op[0], "{wire_per_op:?}");
    assert!(wire_per_op[2] > wire_per_op[0], "{wire_per_op:?}");
}

/// Postfix's smtp-sink on loopback, dumping each transaction to a file of `dir`.
struct SmtpSink {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

impl SmtpSink {
    fn start() -> Option<SmtpSink> {
        if !Path::new(SMTP_SINK).exists() {
            assert!(
                std::env::var("CI").is_err(),
                "smtp-sink (postfix) is required under CI"
            );
            eprintln!("smtp-sink not found: test not run");
            return None;
        }
        let dir = temp_dir("sink");
        let dump = dir.path().join("dump");
        std::fs::create_dir_all(&dump).unwrap();
        let port = free_port();
        let mut cmd = Command::new(SMTP_SINK);
        // As root smtp-sink must drop privileges; the dump directory must be writable then.
        if is_root() {
            use std::os::unix::fs::PermissionsExt;
            for d in [dir.path(), &dump] {
                std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
            }
            cmd.args(["-u", "nobody"]);
        }
        let template = format!("{}/%H%M%S.", dump.display());
        let log = dir.path().join("sink.log");
        let child = cmd
            .args(["-d", &template])
            .arg(format!("127.0.0.1:{port}"))
            .arg("64")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn smtp-sink");
        wait_for_port(port, "smtp-sink", &log);
        Some(SmtpSink { child, dir, port })
    }

    fn dumped(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("dump"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    let probe = temp_dir("whoami");
    std::fs::metadata(probe.path())
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn smtp_sink_sees_every_message_sent() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let (n, m) = (4usize, 5usize);
    let mut o = LoadOptions::new(Protocol::Smtp, "127.0.0.1").with_port(Mode::None, sink.port);
    o.modes = vec![Mode::None];
    o.connections = n;
    o.count = m;
    o.size = 2000;
    o.via_proxy = true;
    let report = run_load(&o);
    let r = &report.modes[0];
    assert!(r.errors.is_empty(), "{:?}", r.first_errors);
    assert_eq!(r.operations as usize, n * m);
    assert_proxy_agrees(r, n as u64);
    // smtp-sink writes each dump file before its reply to the final dot; allow for slow disks.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.dumped() < n * m && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sink.dumped(), n * m, "transactions dumped by smtp-sink");
}

/// `count` messages of different sizes, CRLF line endings.
fn mailbox_messages(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let mut m = format!(
                "From: bob@example.test\r\nTo: {USER}@example.test\r\nSubject: message {i}\r\n\r\n"
            )
            .into_bytes();
            for line in 0..(20 + 40 * i) {
                m.extend_from_slice(format!("line {line} of message {i}\r\n").as_bytes());
            }
            m
        })
        .collect()
}

#[test]
fn dovecot_imap_and_pop3_fetches_over_starttls_and_implicit_tls() {
    let pki = TestPki::new("localhost");
    let Some(dovecot) = Dovecot::start(&pki, USER, PASSWORD) else {
        return;
    };
    let messages = mailbox_messages(5);
    for (i, m) in messages.iter().enumerate() {
        dovecot.deliver(USER, &format!("17000000{i:02}.M1P1.load"), m);
    }
    let (n, m) = (3usize, 4usize);
    // Connection c fetches messages c, c+1, … round robin (in mailbox order, which is the
    // order of delivery here).
    let expected_payload: usize = (0..n)
        .flat_map(|c| (0..m).map(move |k| (c + k) % 5))
        .map(|i| messages[i].len())
        .sum();
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        for mode in [Mode::Starttls, Mode::Implicit] {
            let port = match (protocol, mode) {
                (Protocol::Imap, Mode::Starttls) => dovecot.imap,
                (Protocol::Imap, _) => dovecot.imaps,
                (_, Mode::Starttls) => dovecot.pop3,
                _ => dovecot.pop3s,
            };
            let mut o = LoadOptions::new(protocol, "127.0.0.1").with_port(mode, port);
            o.modes = vec![mode];
            o.tls_config = Some(pki.client_config());
            o.server_name = "localhost".into();
            o.connections = n;
            o.count = m;
            o.login = login();
            o.via_proxy = true;
            let report = run_load(&o);
            let r = &report.modes[0];
            let what = format!("{} {mode}", protocol.name());
            assert!(r.errors.is_empty(), "{what}: {:?}", r.first_errors);
            assert_eq!(r.operations as usize, n * m, "{what}");
            assert_eq!(r.handshakes as usize, n, "{what}");
            assert_eq!(
                r.payload_bytes as usize, expected_payload,
                "{what}: octets fetched"
            );
            assert_proxy_agrees(r, n as u64);
            // Every fetched message crossed the wire, encrypted.
            assert!(r.bytes_to_client > r.payload_bytes, "{what}");
        }
    }
}

/// Our IMAP and POP3 services (STARTTLS and implicit TLS each, as `mailsec-server` runs them)
/// over one maildir holding `messages`, in their own runtime.
fn mailbox_server(pki: &TestPki, messages: &[Vec<u8>]) -> Services {
    let server = Services::builder(pki)
        .name("load-mailbox")
        .listen(&[
            ListenerKind::Imap,
            ListenerKind::Imaps,
            ListenerKind::Pop3,
            ListenerKind::Pop3s,
        ])
        .users(&format!("{USER}:plain:{PASSWORD}\n"))
        .start();
    for content in messages {
        server.deliver(USER, content);
    }
    server
}

#[test]
fn our_imap_and_pop3_services_fetch_every_octet_and_the_proxy_agrees() {
    let pki = TestPki::new("localhost");
    let messages = mailbox_messages(5);
    let server = mailbox_server(&pki, &messages);
    let total: usize = messages.iter().map(Vec::len).sum();
    for protocol in [Protocol::Imap, Protocol::Pop3] {
        // Each connection fetches every message once (round robin over five), so the octets
        // fetched do not depend on the mailbox order. Our POP3 server locks the maildrop for
        // a session (RFC 1939 §8), so POP3 runs one connection at a time.
        let n = if protocol == Protocol::Imap { 3 } else { 1 };
        for mode in [Mode::Starttls, Mode::Implicit] {
            let port = server.port(match (protocol, mode) {
                (Protocol::Imap, Mode::Starttls) => ListenerKind::Imap,
                (Protocol::Imap, _) => ListenerKind::Imaps,
                (_, Mode::Starttls) => ListenerKind::Pop3,
                _ => ListenerKind::Pop3s,
            });
            let mut o = LoadOptions::new(protocol, "127.0.0.1").with_port(mode, port);
            o.modes = vec![mode];
            o.tls_config = Some(pki.client_config());
            o.server_name = "localhost".into();
            o.connections = n;
            o.count = 5;
            o.login = login();
            o.via_proxy = true;
            let report = run_load(&o);
            let r = &report.modes[0];
            let what = format!("{} {mode}", protocol.name());
            assert!(r.errors.is_empty(), "{what}: {:?}", r.first_errors);
            assert_eq!(r.operations as usize, n * 5, "{what}");
            assert_eq!(r.handshakes as usize, n, "{what}");
            assert_eq!(
                r.payload_bytes as usize,
                n * total,
                "{what}: octets fetched"
            );
            assert_proxy_agrees(r, n as u64);
            assert!(r.bytes_to_client > r.payload_bytes, "{what}");
        }
    }
}

/// A login refused (wrong password) ends each session early; the tool still reads what the
/// server sent after the refusal (it shuts its sending side and drains until the server
/// closes), so its byte counts equal the proxy's.
#[test]
fn a_refused_login_is_drained_and_the_proxy_agrees() {
    let pki = TestPki::new("localhost");
    let mailbox = mailbox_server(&pki, &mailbox_messages(2));
    let smtp = smtp_server(&pki);
    let n = 2usize;
    let cases = [
        (
            Protocol::Imap,
            Mode::Starttls,
            mailbox.port(ListenerKind::Imap),
        ),
        (
            Protocol::Imap,
            Mode::Implicit,
            mailbox.port(ListenerKind::Imaps),
        ),
        (
            Protocol::Pop3,
            Mode::Starttls,
            mailbox.port(ListenerKind::Pop3),
        ),
        (
            Protocol::Pop3,
            Mode::Implicit,
            mailbox.port(ListenerKind::Pop3s),
        ),
        (Protocol::Smtp, Mode::Starttls, smtp.port(SMTP_KINDS[1])),
        (Protocol::Smtp, Mode::Implicit, smtp.port(SMTP_KINDS[2])),
    ];
    for (protocol, mode, port) in cases {
        let mut o = LoadOptions::new(protocol, "127.0.0.1").with_port(mode, port);
        o.modes = vec![mode];
        o.tls_config = Some(pki.client_config());
        o.server_name = "localhost".into();
        o.connections = n;
        o.count = 2;
        o.login = Some(Login {
            user: USER.to_owned(),
            password: "not-the-password".to_owned().into(),
        });
        o.from = format!("{USER}@localhost");
        o.to = format!("{USER}@localhost");
        o.via_proxy = true;
        let report = run_load(&o);
        let r = &report.modes[0];
        let what = format!("{} {mode}", protocol.name());
        assert_eq!(
            r.errors.get("login"),
            Some(&(n as u64)),
            "{what}: {:?}",
            r.first_errors
        );
        assert_eq!(r.error_count(), n as u64, "{what}: {:?}", r.first_errors);
        assert_eq!((r.connections, r.operations), (0, 0), "{what}");
        assert!(r.bytes_to_client > 0, "{what}");
        assert_proxy_agrees(r, n as u64);
    }
}

/// Over a mailbox of many messages the IMAP listing (EXAMINE, UID SEARCH ALL) stays small —
/// a header FETCH of every message would cost more than all the fetches measured — and it is
/// reported apart from the per-operation figures, which add up with it to the totals.
#[test]
fn the_imap_listing_is_small_and_kept_out_of_the_per_operation_bytes() {
    let pki = TestPki::new("localhost");
    let count = 300;
    let messages: Vec<Vec<u8>> = (0..count)
        .map(|i| {
            format!(
                "From: bob@example.test\r\nTo: {USER}@example.test\r\n\
                 Subject: a message among many, number {i}\r\n\r\nbody {i}\r\n"
            )
            .into_bytes()
        })
        .collect();
    let server = mailbox_server(&pki, &messages);
    let headers: usize = messages.iter().map(|m| m.len() - b"body 0\r\n".len()).sum();
    for (mode, kind) in [
        (Mode::Starttls, ListenerKind::Imap),
        (Mode::Implicit, ListenerKind::Imaps),
    ] {
        let n = 2u64;
        let mut o =
            LoadOptions::new(Protocol::Imap, "127.0.0.1").with_port(mode, server.port(kind));
        o.modes = vec![mode];
        o.tls_config = Some(pki.client_config());
        o.server_name = "localhost".into();
        o.connections = n as usize;
        o.count = 3;
        o.login = login();
        o.via_proxy = true;
        let report = run_load(&o);
        let r = &report.modes[0];
        assert!(r.errors.is_empty(), "{mode}: {:?}", r.first_errors);
        assert_eq!(r.operations, n * 3, "{mode}");
        assert_proxy_agrees(r, n);
        // The listing was measured on each connection, and is far below the headers.
        let per_connection = r.listing_bytes_to_client / n;
        assert!(per_connection > 0, "{mode}");
        assert!(
            per_connection * 4 < headers as u64,
            "{mode}: listing {per_connection} octets per connection, headers {headers}"
        );
        assert!(r.listing_bytes_to_server > 0, "{mode}");
        // Per-operation figures × operations + listing = the totals the proxy saw.
        let ops = r.operations as f64;
        let client = r.bytes_to_client_per_op * ops + r.listing_bytes_to_client as f64;
        let server_side = r.bytes_to_server_per_op * ops + r.listing_bytes_to_server as f64;
        assert!((client - r.bytes_to_client as f64).abs() < 0.5, "{mode}");
        assert!(
            (server_side - r.bytes_to_server as f64).abs() < 0.5,
            "{mode}"
        );
    }
}

#[test]
fn cli_json_and_chart() {
    let pki = TestPki::new("localhost");
    let server = smtp_server(&pki);
    let password = server.write("password", format!("{PASSWORD}\n"));
    let chart = server.path("chart.svg");
    let before = stored(&server);
    let out = run(
        Command::new(env!("CARGO_BIN_EXE_mailsec-load"))
            .args(["smtp", "127.0.0.1", "--tls", "all"])
            .args(["--plain-port", &server.port(SMTP_KINDS[0]).to_string()])
            .args(["--port", &server.port(SMTP_KINDS[1]).to_string()])
            .args(["--implicit-port", &server.port(SMTP_KINDS[2]).to_string()])
            .args(["--connections", "2", "--count", "3", "--size", "1500"])
            .args(["--user", USER, "--password-file"])
            .arg(&password)
            .arg("--ca")
            .arg(server.ca())
            .args(["--server-name", "localhost"])
            .args(["--from", "alice@localhost", "--to", "alice@localhost"])
            .args(["--server-pid", &std::process::id().to_string()])
            .args(["--json", "--quiet", "--chart"])
            .arg(&chart),
        Duration::from_secs(120),
    );
    assert!(out.ok, "{}\n{}", out.text(), out.stderr);
    assert_eq!(stored(&server) - before, 3 * 2 * 3);
    let v: serde_json::Value = serde_json::from_str(&out.text()).expect("JSON report");
    assert_eq!(v["protocol"], "smtp");
    assert_eq!(v["size"], 1500);
    let modes = v["modes"].as_array().unwrap();
    let names: Vec<&str> = modes.iter().map(|m| m["mode"].as_str().unwrap()).collect();
    assert_eq!(names, ["none", "starttls", "implicit"]);
    for m in modes {
        assert_eq!(m["operations"], 6);
        assert_eq!(m["connections"], 2);
        for field in [
            "operations_per_s",
            "connections_per_s",
            "handshakes_per_s",
            "bytes_to_server_per_op",
            "bytes_to_client_per_op",
            "cpu_s",
            "wall_s",
        ] {
            assert!(m[field].is_number(), "{field}: {m}");
        }
        for lat in ["setup_latency", "operation_latency"] {
            for p in ["p50_ms", "p90_ms", "p99_ms", "max_ms"] {
                assert!(m[lat][p].as_f64().unwrap() > 0.0, "{lat}.{p}");
            }
        }
        assert!(m["server_cpu_s"].is_number(), "{m}");
        assert_eq!(m["errors"], serde_json::json!({}));
    }
    assert_eq!(modes[0]["handshakes"], 0);
    assert_eq!(modes[2]["handshakes"], 2);
    let svg = std::fs::read_to_string(&chart).expect("chart written");
    assert!(svg.contains("<svg"));
    for name in names {
        assert!(svg.contains(name), "chart lacks {name}");
    }

    // The table, and the bounds.
    let table = run(
        Command::new(env!("CARGO_BIN_EXE_mailsec-load"))
            .args(["smtp", "127.0.0.1", "--tls", "none", "--quiet"])
            .args(["--port", &server.port(ListenerKind::SmtpMx).to_string()])
            .args(["-c", "1", "-n", "1", "--to", "alice@localhost"]),
        Duration::from_secs(60),
    );
    assert!(table.ok, "{}", table.stderr);
    assert!(table.text().contains("messages/s"), "{}", table.text());
    let refused = run(
        Command::new(env!("CARGO_BIN_EXE_mailsec-load")).args([
            "smtp",
            "127.0.0.1",
            "--connections",
            "1001",
        ]),
        Duration::from_secs(30),
    );
    assert!(!refused.ok);
    assert!(refused.stderr.contains("connections"), "{}", refused.stderr);
}
