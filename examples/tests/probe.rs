//! `mailsec-probe` ([`mailsec_examples::probe`]) against our own example services started
//! in-process on loopback (SMTP MX and submission, IMAP, POP3, with STARTTLS and implicit
//! TLS), with good, wrong-name, expired, not-yet-valid, soon-expiring and untrusted
//! certificates, with plaintext authentication allowed; against toy SMTP servers written here
//! (vulnerable to STARTTLS command injection, ignoring the pipelined command, refusing
//! STARTTLS, requiring TLS before MAIL, answering EHLO over TLS from a cached list, holding
//! connections until several are open to show the probe is parallel); and against the real
//! Dovecot and Postfix.

#[allow(dead_code, unreachable_pub)]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::services::Services;
use mailsec_examples::probe::{
    Injection, PlaintextMail, ProbeOptions, Protocol, ServiceReport, Severity, Target, TlsMode,
    Trust, Verdict, probe,
};
use mailsec_examples::server_cli::ListenerKind;
use mailsec_tls::rustls;
use mailsec_tls::testing::{PemPair, TestPki, Validity};

/// The probe's targets, in probe order: (listener, target name, protocol, TLS mode).
const TARGETS: [(ListenerKind, &str, Protocol, TlsMode); 7] = [
    (
        ListenerKind::SmtpMx,
        "smtp",
        Protocol::Smtp,
        TlsMode::StartTls,
    ),
    (
        ListenerKind::SmtpSubmission,
        "submission",
        Protocol::Smtp,
        TlsMode::StartTls,
    ),
    (
        ListenerKind::Smtps,
        "submissions",
        Protocol::Smtp,
        TlsMode::Implicit,
    ),
    (
        ListenerKind::Imap,
        "imap",
        Protocol::Imap,
        TlsMode::StartTls,
    ),
    (
        ListenerKind::Imaps,
        "imaps",
        Protocol::Imap,
        TlsMode::Implicit,
    ),
    (
        ListenerKind::Pop3,
        "pop3",
        Protocol::Pop3,
        TlsMode::StartTls,
    ),
    (
        ListenerKind::Pop3s,
        "pop3s",
        Protocol::Pop3,
        TlsMode::Implicit,
    ),
];

/// Our services on loopback, one runtime, and the probe's targets for them.
struct Probed {
    running: Services,
    /// (target, port) of each listener.
    targets: Vec<Target>,
}

impl Probed {
    /// SMTP MX (25 style, target `smtp`), SMTP submission (587 style), IMAP, POP3 with
    /// STARTTLS and IMAPS, POP3S, SMTPS, all serving `leaf` (issued by `pki`). With
    /// `allow_plaintext_auth` the submission, IMAP and POP3 STARTTLS listeners run without
    /// TLS and accept passwords in clear (the insecure policies); the MX is unchanged.
    fn start(pki: &TestPki, leaf: &PemPair, allow_plaintext_auth: bool) -> Probed {
        Probed::start_with_ca(pki.ca_pem(), leaf, allow_plaintext_auth)
    }

    /// [`Probed::start`] with the CA given as PEM.
    fn start_with_ca(ca_pem: &str, leaf: &PemPair, allow_plaintext_auth: bool) -> Probed {
        let kinds = TARGETS.map(|(kind, ..)| kind);
        let running = Services::builder_with(ca_pem, leaf)
            .name("probe")
            .listen(&kinds)
            .users("alice:plain:secret-42\n")
            .allow_plaintext_auth(allow_plaintext_auth)
            .start();
        let targets = TARGETS
            .iter()
            .map(|&(kind, name, protocol, mode)| {
                Target::new(name, protocol, mode, running.port(kind))
            })
            .collect();
        Probed { running, targets }
    }

    fn options(&self) -> ProbeOptions {
        let mut options = ProbeOptions::new("127.0.0.1")
            .with_ca_pem(self.running.ca_pem().as_bytes())
            .unwrap();
        options.server_name = Some("localhost".into());
        options.targets = self.targets.clone();
        options.injection_wait = Duration::from_millis(800);
        options.progress = true;
        options
    }
}

fn service<'a>(services: &'a [ServiceReport], name: &str) -> &'a ServiceReport {
    services
        .iter()
        .find(|s| s.target.name == name)
        .unwrap_or_else(|| panic!("no report for {name}"))
}

#[test]
fn secure_services_are_good() {
    let pki = TestPki::new("localhost");
    let services = Probed::start(&pki, pki.leaf(), false);
    let report = probe(&services.options());
    println!("{}", report.to_text());
    for s in &report.services {
        assert_eq!(
            s.verdict,
            Verdict::Good,
            "{}: {:?}",
            s.target.name,
            s.findings
        );
        let tls = s.tls.as_ref().expect("TLS");
        assert_eq!(tls.trust, Trust::Trusted);
        assert!(!tls.chain.is_empty());
        assert!(tls.chain[0].days_left > 1000);
        assert!(tls.chain[0].dns_names.contains(&"localhost".to_owned()));
        assert!(
            !s.capabilities_after_tls.is_empty(),
            "{}: no capabilities after TLS",
            s.target.name
        );
        if s.target.mode == TlsMode::StartTls {
            assert_eq!(s.starttls_advertised, Some(true));
            assert!(
                s.plaintext_auth.is_empty(),
                "{}: {:?}",
                s.target.name,
                s.plaintext_auth
            );
            assert!(
                matches!(s.injection, Injection::Safe(_)),
                "{}: {:?}",
                s.target.name,
                s.injection
            );
        }
    }
    // Plaintext capabilities differ from those after TLS: STARTTLS only before, AUTH after.
    let smtp = service(&report.services, "submission");
    assert!(smtp.capabilities_before_tls.iter().any(|c| c == "STARTTLS"));
    assert!(
        smtp.capabilities_after_tls
            .iter()
            .any(|c| c.starts_with("AUTH"))
    );
    // The diff across TLS: STARTTLS goes, authentication comes (LOGINDISABLED goes in IMAP).
    for s in report
        .services
        .iter()
        .filter(|s| s.target.mode == TlsMode::StartTls)
    {
        let diff = s.capability_diff.as_ref().expect("capability diff");
        let starttls = if s.target.protocol == Protocol::Pop3 {
            "STLS"
        } else {
            "STARTTLS"
        };
        assert!(
            diff.disappeared.iter().any(|c| c == starttls),
            "{}: {diff:?}",
            s.target.name
        );
        assert!(!s.has("starttls-after-tls"), "{}", s.target.name);
        if s.target.name != "smtp" {
            assert!(s.has("auth-after-tls"), "{}: {diff:?}", s.target.name);
        }
    }
    let sub = service(&report.services, "submission")
        .capability_diff
        .as_ref()
        .unwrap();
    assert!(
        sub.appeared.iter().any(|c| c.starts_with("AUTH ")),
        "{sub:?}"
    );
    let imap = service(&report.services, "imap")
        .capability_diff
        .as_ref()
        .unwrap();
    assert!(
        imap.disappeared.iter().any(|c| c == "LOGINDISABLED"),
        "{imap:?}"
    );
    assert!(
        imap.appeared.iter().any(|c| c.starts_with("AUTH=")),
        "{imap:?}"
    );
    // The MX takes mail in clear (the test recipient postmaster@localhost is unknown here);
    // submission refuses it.
    let mx = service(&report.services, "smtp");
    assert!(
        matches!(mx.plaintext_mail, PlaintextMail::AcceptsSenderOnly(_)),
        "{:?}",
        mx.plaintext_mail
    );
    assert!(mx.has("mx-accepts-plaintext"));
    let sub = service(&report.services, "submission");
    assert!(
        matches!(sub.plaintext_mail, PlaintextMail::Refuses(_)),
        "{:?}",
        sub.plaintext_mail
    );
    assert!(sub.has("submission-refuses-plaintext"));
    for name in ["submissions", "imap", "imaps", "pop3", "pop3s"] {
        assert_eq!(
            service(&report.services, name).plaintext_mail,
            PlaintextMail::NotTested
        );
    }
    // The report keeps the order of the targets (services are probed in parallel).
    let order: Vec<&str> = report
        .services
        .iter()
        .map(|s| s.target.name.as_str())
        .collect();
    let wanted: Vec<&str> = services.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(order, wanted);
    assert_eq!(report.exit_code(), 0);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["services"][0]["verdict"], "good");
    assert_eq!(json["services"][0]["tls"]["trust"]["status"], "trusted");
    assert_eq!(
        json["services"][0]["plaintext_mail"]["result"],
        "accepts-sender-only"
    );
    assert_eq!(
        json["services"][1]["capability_diff"]["disappeared"][0],
        "STARTTLS"
    );
}

/// The MX accepts `MAIL FROM:<>` and `RCPT TO` for a real mailbox in clear, and nothing is
/// delivered (RSET, never DATA).
#[test]
fn mx_accepts_mail_without_tls_and_nothing_is_delivered() {
    let pki = TestPki::new("localhost");
    let services = Probed::start(&pki, pki.leaf(), false);
    let mut options = services.options().with_rcpt("alice@localhost").unwrap();
    options.targets.retain(|t| t.name == "smtp");
    let report = probe(&options);
    println!("{}", report.to_text());
    let mx = &report.services[0];
    assert!(
        matches!(&mx.plaintext_mail, PlaintextMail::Accepts(d) if d.contains("RCPT <alice@localhost> 250")),
        "{:?}",
        mx.plaintext_mail
    );
    assert!(mx.has("mx-accepts-plaintext"));
    assert_eq!(mx.verdict, Verdict::Good, "{:?}", mx.findings);
    let new = services.running.maildir().root().join("alice").join("new");
    let delivered = std::fs::read_dir(&new).map(|d| d.count()).unwrap_or(0);
    assert_eq!(delivered, 0, "the probe delivered mail");
    assert!(ProbeOptions::new("x").with_rcpt("a@b>\r\nDATA").is_err());
}

/// A certificate expiring within the warning window (issued here with rcgen by a test CA).
#[test]
fn certificate_expiring_soon_is_a_warning() {
    let (ca_pem, leaf) = expiring_leaf(5);
    let services = Probed::start_with_ca(&ca_pem, &leaf, false);
    let mut options = services.options();
    options
        .targets
        .retain(|t| t.name == "imaps" || t.name == "submission");
    let report = probe(&options);
    println!("{}", report.to_text());
    for s in &report.services {
        let tls = s.tls.as_ref().expect("TLS");
        assert_eq!(tls.trust, Trust::Trusted, "{}", s.target.name);
        let days = tls.chain[0].days_left;
        assert!(
            (4..=6).contains(&days),
            "{}: {days} days left",
            s.target.name
        );
        assert!(s.has("expires-soon"), "{}: {:?}", s.target.name, s.findings);
        assert_eq!(
            s.verdict,
            Verdict::Warning,
            "{}: {:?}",
            s.target.name,
            s.findings
        );
    }
    assert_eq!(report.exit_code(), 1);
    // Outside the window: no warning.
    let (ca_pem, leaf) = expiring_leaf(30);
    let services = Probed::start_with_ca(&ca_pem, &leaf, false);
    let mut options = services.options();
    options.targets.retain(|t| t.name == "imaps");
    let report = probe(&options);
    assert!(!report.services[0].has("expires-soon"));
    assert_eq!(report.services[0].verdict, Verdict::Good);
}

/// A test CA (PEM) and a leaf for `localhost` it issued that expires `days` days from today
/// (at midnight UTC, one day later: the leaf is valid for `days` more whole days).
fn expiring_leaf(days: i64) -> (String, PemPair) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        date_time_ymd,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "mailsec probe expiry test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 86_400;
    leaf.not_before = date_time_ymd(2020, 1, 1);
    leaf.not_after = midnight_utc(today + days + 1);
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (
        ca_pem,
        PemPair {
            chain: cert.pem(),
            key: key.serialize_pem(),
        },
    )
}

/// Midnight UTC at the start of a day number since 1970-01-01 (what `date_time_ymd` of that
/// day's date gives).
fn midnight_utc(days: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(days * 86_400).expect("a date within ±9999 years")
}

#[test]
fn civil_dates() {
    use rcgen::date_time_ymd;
    assert_eq!(midnight_utc(0), date_time_ymd(1970, 1, 1));
    assert_eq!(midnight_utc(11_016), date_time_ymd(2000, 2, 29));
    assert_eq!(midnight_utc(11_017), date_time_ymd(2000, 3, 1));
    assert_eq!(midnight_utc(20_454), date_time_ymd(2026, 1, 1));
    assert_eq!(midnight_utc(-1), date_time_ymd(1969, 12, 31));
    assert_eq!(midnight_utc(-25_508), date_time_ymd(1900, 3, 1));
}

#[test]
fn plaintext_auth_is_reported() {
    let pki = TestPki::new("localhost");
    let services = Probed::start(&pki, pki.leaf(), true);
    let report = probe(&services.options());
    println!("{}", report.to_text());
    for name in ["submission", "imap", "pop3"] {
        let s = service(&report.services, name);
        assert!(s.has("plaintext-auth"), "{name}: {:?}", s.findings);
        assert!(!s.plaintext_auth.is_empty(), "{name}");
        assert_eq!(s.starttls_advertised, Some(false), "{name}");
        assert!(s.has("no-starttls"), "{name}");
        assert_eq!(s.verdict, Verdict::Failure, "{name}");
    }
    let pop3 = service(&report.services, "pop3");
    assert!(pop3.plaintext_auth.contains(&"USER".to_owned()));
    // Without TLS the submission service still wants authentication before MAIL.
    let sub = service(&report.services, "submission");
    assert_eq!(
        sub.plaintext_mail,
        PlaintextMail::Refuses("MAIL 530 5.7.0 Authentication required".into())
    );
    assert!(sub.has("submission-refuses-plaintext"));
    assert!(sub.capability_diff.is_none(), "no TLS, no diff");
    // Implicit TLS is unchanged by the insecure policies.
    assert_eq!(service(&report.services, "imaps").verdict, Verdict::Good);
    assert_eq!(report.exit_code(), 2);
}

#[test]
fn wrong_name_is_a_name_mismatch() {
    let pki = TestPki::new("other.example");
    let services = Probed::start(&pki, pki.leaf(), false);
    let report = probe(&services.options());
    println!("{}", report.to_text());
    for s in &report.services {
        let tls = s.tls.as_ref().expect("TLS");
        assert!(
            matches!(tls.trust, Trust::NameMismatch(_)),
            "{}: {:?}",
            s.target.name,
            tls.trust
        );
        assert!(s.has("name-mismatch"));
        assert_eq!(s.verdict, Verdict::Failure);
    }
    assert_eq!(report.exit_code(), 2);
}

#[test]
fn expired_certificate_is_reported() {
    let pki = TestPki::new("localhost");
    let leaf = pki.issue(&["localhost"], Validity::Expired);
    let services = Probed::start(&pki, &leaf, false);
    let mut options = services.options();
    options
        .targets
        .retain(|t| t.name == "imaps" || t.name == "pop3");
    let report = probe(&options);
    println!("{}", report.to_text());
    for s in &report.services {
        let tls = s.tls.as_ref().expect("TLS");
        assert!(matches!(tls.trust, Trust::Expired(_)), "{:?}", tls.trust);
        assert!(tls.chain[0].days_left < -9000);
        assert!(s.has("expired"));
        assert_eq!(s.verdict, Verdict::Failure);
    }
}

#[test]
fn not_yet_valid_certificate_is_reported() {
    let pki = TestPki::new("localhost");
    let leaf = pki.issue(&["localhost"], Validity::NotYetValid);
    let services = Probed::start(&pki, &leaf, false);
    let mut options = services.options();
    options.targets.retain(|t| t.name == "submission");
    let report = probe(&options);
    let s = &report.services[0];
    let tls = s.tls.as_ref().expect("TLS");
    assert!(
        matches!(tls.trust, Trust::NotYetValid(_)),
        "{:?}",
        tls.trust
    );
    assert!(s.has("not-yet-valid"));
    assert_eq!(s.verdict, Verdict::Failure);
}

/// The command line: --service, --port, --ca, --server-name, --json and the exit status.
#[test]
fn command_line_json_and_exit_status() {
    let pki = TestPki::new("localhost");
    let services = Probed::start(&pki, pki.leaf(), true);
    let ca = services.running.ca().to_path_buf();
    let port = |name: &str| {
        services
            .targets
            .iter()
            .find(|t| t.name == name)
            .unwrap()
            .port
    };
    let run = |services: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mailsec-probe"));
        cmd.args([
            "127.0.0.1",
            "--server-name",
            "localhost",
            "--json",
            "--quiet",
        ])
        .arg("--ca")
        .arg(&ca);
        for s in services {
            cmd.args(["--service", s, "--port", &format!("{s}:{}", port(s))]);
        }
        let out = cmd.output().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), json)
    };
    let (code, json) = run(&["imaps", "pop3s", "imaps"]);
    assert_eq!(code, Some(0), "{json}");
    // A service named twice is probed once.
    assert_eq!(json["services"].as_array().unwrap().len(), 2);
    assert_eq!(json["services"][1]["target"]["name"], "pop3s");
    assert_eq!(
        json["services"][1]["tls"]["chain"][0]["dns_names"][0],
        "localhost"
    );
    // The plaintext IMAP listener: no STARTTLS (failure) and LOGIN in clear (warning).
    let (code, json) = run(&["imap"]);
    assert_eq!(code, Some(2), "{json}");
    assert_eq!(json["services"][0]["verdict"], "failure");
    assert_eq!(json["services"][0]["plaintext_auth"][0], "LOGIN");
    // Progress: a first line, then one line per finished service on stderr; the report on
    // stdout in the order asked; --rcpt is checked.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailsec-probe"))
        .args([
            "127.0.0.1",
            "--server-name",
            "localhost",
            "--rcpt",
            "alice@localhost",
        ])
        .arg("--ca")
        .arg(&ca)
        .args([
            "--service",
            "smtp",
            "--port",
            &format!("smtp:{}", port("smtp")),
        ])
        .args([
            "--service",
            "pop3s",
            "--port",
            &format!("pop3s:{}", port("pop3s")),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert_eq!(lines[0], "probing 2 services of 127.0.0.1 in parallel");
    assert!(
        lines[1..].iter().any(|l| l.contains("] smtp port ")),
        "{stderr}"
    );
    assert!(
        lines[1..].iter().any(|l| l.contains("] pop3s port ")),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("[1/2] ") && lines[2].starts_with("[2/2] "),
        "{stderr}"
    );
    assert!(
        stdout.find("== smtp").unwrap() < stdout.find("== pop3s").unwrap(),
        "{stdout}"
    );
    assert!(stdout.contains("mail without TLS: accepted"), "{stdout}");
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_mailsec-probe"))
        .args(["127.0.0.1", "--rcpt", "no-at-sign"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(64));
}

#[test]
fn untrusted_certificate_is_reported() {
    let pki = TestPki::new("localhost");
    let services = Probed::start(&pki, pki.leaf(), false);
    let mut options = services.options();
    options = options
        .with_ca_pem(TestPki::new("localhost").ca_pem().as_bytes())
        .unwrap();
    options.targets.retain(|t| t.name == "submissions");
    let report = probe(&options);
    let s = &report.services[0];
    assert!(
        matches!(s.tls.as_ref().unwrap().trust, Trust::Untrusted(_)),
        "{:?}",
        s.tls
    );
    assert!(s.has("untrusted"));
}

#[test]
fn nothing_reachable_exits_3() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut options = ProbeOptions::new("127.0.0.1");
    options.targets = vec![Target::new("imap", Protocol::Imap, TlsMode::StartTls, port)];
    let report = probe(&options);
    assert_eq!(report.services[0].verdict, Verdict::Unreachable);
    assert_eq!(report.exit_code(), 3);
}

/// How the toy SMTP server treats STARTTLS.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Toy {
    /// The CVE-2011-0411 bug: input is read through one buffer and what followed STARTTLS is
    /// kept and answered inside TLS.
    Vulnerable,
    /// Same, but the buffer is emptied at STARTTLS (the pipelined command is ignored).
    Discards,
    /// Advertises STARTTLS and refuses it with 454.
    Refuses,
    /// Like `Discards`, and answers `530 5.7.0 Must issue a STARTTLS command first` to MAIL
    /// before TLS (an MX that requires TLS).
    RequiresTls,
    /// Like `Discards`, but answers EHLO over TLS with the plaintext list, STARTTLS included
    /// (a cached capability list).
    Caches,
}

/// Lets the first connection of each of `needed` listeners through only once all of them
/// are open (or after 5 s): `all_met` tells whether they were open at the same time,
/// `timed_out` whether one of them gave up waiting.
struct Gate {
    arrived: Mutex<usize>,
    cv: Condvar,
    needed: usize,
    all_met: AtomicBool,
    timed_out: AtomicBool,
}

impl Gate {
    fn new(needed: usize) -> Arc<Gate> {
        Arc::new(Gate {
            arrived: Mutex::new(0),
            cv: Condvar::new(),
            needed,
            all_met: AtomicBool::new(false),
            timed_out: AtomicBool::new(false),
        })
    }

    fn arrive(&self) {
        let mut n = self.arrived.lock().unwrap();
        *n += 1;
        self.cv.notify_all();
        let (n, _) = self
            .cv
            .wait_timeout_while(n, Duration::from_secs(5), |n| *n < self.needed)
            .unwrap();
        if *n >= self.needed {
            self.all_met.store(true, Ordering::SeqCst);
        } else {
            self.timed_out.store(true, Ordering::SeqCst);
        }
    }
}

/// A toy SMTP server (blocking, one thread per connection) behaving as `toy` says.
fn toy_smtp(pki: &TestPki, toy: Toy) -> u16 {
    toy_smtp_gated(pki, toy, None)
}

/// [`toy_smtp`] whose first connection waits at `gate` before the greeting.
fn toy_smtp_gated(pki: &TestPki, toy: Toy, gate: Option<Arc<Gate>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = {
        use rustls::pki_types::pem::PemObject;
        let chain: Vec<_> =
            rustls::pki_types::CertificateDer::pem_slice_iter(pki.leaf_chain_pem().as_bytes())
                .map(Result::unwrap)
                .collect();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(pki.leaf_key_pem().as_bytes())
            .unwrap();
        Arc::new(
            rustls::ServerConfig::builder_with_provider(mailsec_tls::testing::provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap(),
        )
    };
    std::thread::spawn(move || {
        let mut gate = gate;
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            let config = config.clone();
            let gate = gate.take();
            std::thread::spawn(move || {
                if let Some(gate) = gate {
                    gate.arrive();
                }
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                let mut reader = BufReader::new(tcp.try_clone().unwrap());
                let mut tcp = tcp;
                let _ = tcp.write_all(b"220 toy ESMTP\r\n");
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let verb = line.trim_end().to_ascii_uppercase();
                    if verb.starts_with("EHLO") {
                        let _ = tcp.write_all(b"250-toy\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n");
                    } else if verb == "STARTTLS" && toy == Toy::Refuses {
                        let _ = tcp.write_all(b"454 4.7.0 TLS not available\r\n");
                    } else if verb.starts_with("MAIL") && toy == Toy::RequiresTls {
                        let _ = tcp.write_all(b"530 5.7.0 Must issue a STARTTLS command first\r\n");
                    } else if verb == "STARTTLS" {
                        let _ = tcp.write_all(b"220 go ahead\r\n");
                        break;
                    } else if verb == "QUIT" {
                        let _ = tcp.write_all(b"221 bye\r\n");
                        return;
                    } else {
                        let _ = tcp.write_all(b"250 ok\r\n");
                    }
                }
                // The bug: the bytes buffered after STARTTLS stay and are executed in TLS.
                let leftover = match toy {
                    Toy::Vulnerable => reader.buffer().to_vec(),
                    _ => Vec::new(),
                };
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut pending = leftover;
                loop {
                    while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                        let cmd: Vec<u8> = pending.drain(..=pos).collect();
                        let cmd = String::from_utf8_lossy(&cmd)
                            .trim_end()
                            .to_ascii_uppercase();
                        let answer: &[u8] = if cmd.starts_with("EHLO") && toy == Toy::Caches {
                            b"250-toy\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n"
                        } else if cmd.starts_with("EHLO") {
                            b"250-toy\r\n250 AUTH PLAIN\r\n"
                        } else if cmd == "QUIT" {
                            let _ = tls.write_all(b"221 bye\r\n");
                            return;
                        } else {
                            b"250 ok\r\n"
                        };
                        if tls.write_all(answer).is_err() {
                            return;
                        }
                    }
                    let mut buf = [0u8; 1024];
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                    }
                }
            });
        }
    });
    port
}

fn toy_options(pki: &TestPki, port: u16) -> ProbeOptions {
    let mut options = ProbeOptions::new("127.0.0.1")
        .with_ca_pem(pki.ca_pem().as_bytes())
        .unwrap();
    options.server_name = Some("localhost".into());
    options.targets = vec![Target::new("smtp", Protocol::Smtp, TlsMode::StartTls, port)];
    options.progress = true;
    options.injection_wait = Duration::from_millis(800);
    options
}

#[test]
fn injection_vulnerable_server_is_caught() {
    let pki = TestPki::new("localhost");
    let port = toy_smtp(&pki, Toy::Vulnerable);
    let report = probe(&toy_options(&pki, port));
    println!("{}", report.to_text());
    let s = &report.services[0];
    assert!(
        matches!(s.injection, Injection::Vulnerable(_)),
        "{:?}",
        s.injection
    );
    assert!(s.has("injection"));
    assert!(s.has("plaintext-auth"));
    assert_eq!(s.tls.as_ref().unwrap().trust, Trust::Trusted);
    assert_eq!(s.verdict, Verdict::Failure);
    assert_eq!(report.exit_code(), 2);
}

#[test]
fn ignored_pipelined_command_is_safe() {
    let pki = TestPki::new("localhost");
    let port = toy_smtp(&pki, Toy::Discards);
    let report = probe(&toy_options(&pki, port));
    println!("{}", report.to_text());
    let s = &report.services[0];
    assert_eq!(
        s.injection,
        Injection::Safe("the pipelined command was ignored".into())
    );
    assert!(!s.has("injection"));
    // Only the plaintext AUTH PLAIN of the toy is left: a warning.
    assert_eq!(s.verdict, Verdict::Warning, "{:?}", s.findings);
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn refused_starttls_is_reported() {
    let pki = TestPki::new("localhost");
    let port = toy_smtp(&pki, Toy::Refuses);
    let report = probe(&toy_options(&pki, port));
    println!("{}", report.to_text());
    let s = &report.services[0];
    assert_eq!(s.starttls_advertised, Some(true));
    assert!(s.has("starttls-refused"), "{:?}", s.findings);
    assert!(s.tls.is_none());
    assert_eq!(s.injection, Injection::NotTested);
    assert_eq!(s.verdict, Verdict::Failure);
}

/// The capability diff of the toys: STARTTLS disappears, AUTH PLAIN is on both sides (no
/// "auth after TLS"); a toy that answers EHLO over TLS from its plaintext list shows an
/// unchanged diff and still advertises STARTTLS (a warning).
#[test]
fn toy_capability_diffs() {
    let pki = TestPki::new("localhost");
    let port = toy_smtp(&pki, Toy::Discards);
    let report = probe(&toy_options(&pki, port));
    let s = &report.services[0];
    let diff = s.capability_diff.as_ref().expect("diff");
    assert_eq!(diff.disappeared, vec!["STARTTLS".to_owned()]);
    assert!(
        diff.appeared.is_empty() && diff.changed.is_empty(),
        "{diff:?}"
    );
    assert!(!s.has("auth-after-tls") && !s.has("starttls-after-tls"));

    let port = toy_smtp(&pki, Toy::Caches);
    let report = probe(&toy_options(&pki, port));
    println!("{}", report.to_text());
    let s = &report.services[0];
    let diff = s.capability_diff.as_ref().expect("diff");
    assert!(diff.is_unchanged(), "{diff:?}");
    assert_eq!(diff.summary(), "unchanged");
    assert!(s.has("starttls-after-tls"), "{:?}", s.findings);
    assert!(
        report
            .to_text()
            .contains("TLS changed the capabilities: unchanged")
    );
    assert_eq!(s.verdict, Verdict::Warning);
}

/// An MX that answers 530 to MAIL before STARTTLS loses mail from servers that cannot do
/// TLS: a warning. The same answer on submission is right; a submission service that takes
/// MAIL and RCPT in clear without authentication is a failure.
#[test]
fn toy_mail_without_tls_verdicts() {
    let pki = TestPki::new("localhost");
    let requires = toy_smtp(&pki, Toy::RequiresTls);
    let open = toy_smtp(&pki, Toy::Discards);
    let mut options = toy_options(&pki, requires);
    options.targets = vec![
        Target::new("smtp", Protocol::Smtp, TlsMode::StartTls, requires),
        Target::new("submission", Protocol::Smtp, TlsMode::StartTls, requires),
        Target::new("smtp", Protocol::Smtp, TlsMode::StartTls, open),
        Target::new("submission", Protocol::Smtp, TlsMode::StartTls, open),
    ];
    let report = probe(&options);
    println!("{}", report.to_text());
    let [mx_tls, sub_tls, mx_open, sub_open] = &report.services[..] else {
        panic!("four reports")
    };
    assert_eq!(
        mx_tls.plaintext_mail,
        PlaintextMail::Refuses("MAIL 530 5.7.0 Must issue a STARTTLS command first".into())
    );
    assert!(mx_tls.has("mx-requires-tls"));
    assert!(
        mx_tls
            .findings
            .iter()
            .any(|f| f.key == "mx-requires-tls" && f.severity == Severity::Warning)
    );
    assert!(matches!(sub_tls.plaintext_mail, PlaintextMail::Refuses(_)));
    assert!(sub_tls.has("submission-refuses-plaintext"));
    assert!(!sub_tls.has("mx-requires-tls"));
    assert!(
        matches!(mx_open.plaintext_mail, PlaintextMail::Accepts(_)),
        "{:?}",
        mx_open.plaintext_mail
    );
    assert!(mx_open.has("mx-accepts-plaintext"));
    assert!(matches!(sub_open.plaintext_mail, PlaintextMail::Accepts(_)));
    assert!(sub_open.has("submission-accepts-plaintext"));
    assert_eq!(sub_open.verdict, Verdict::Failure);
    // Only the toy's plaintext AUTH PLAIN and the MX refusal: warnings.
    assert_eq!(mx_tls.verdict, Verdict::Warning, "{:?}", mx_tls.findings);
    assert_eq!(mx_open.verdict, Verdict::Warning, "{:?}", mx_open.findings);
}

/// The services of a host are probed at the same time: four toy listeners hold their first
/// connection until all four are open (a one-after-the-other probe would never get there),
/// and the report keeps the order of the targets.
#[test]
fn services_are_probed_in_parallel_in_stable_order() {
    let pki = TestPki::new("localhost");
    let gate = Gate::new(4);
    let ports: Vec<u16> = (0..4)
        .map(|_| toy_smtp_gated(&pki, Toy::Discards, Some(gate.clone())))
        .collect();
    let mut options = toy_options(&pki, 0);
    options.targets = ports
        .iter()
        .enumerate()
        .map(|(i, &port)| Target::new(&format!("toy{i}"), Protocol::Smtp, TlsMode::StartTls, port))
        .collect();
    let report = probe(&options);
    assert!(
        gate.all_met.load(Ordering::SeqCst) && !gate.timed_out.load(Ordering::SeqCst),
        "the four services were not probed concurrently"
    );
    let names: Vec<&str> = report
        .services
        .iter()
        .map(|s| s.target.name.as_str())
        .collect();
    assert_eq!(names, ["toy0", "toy1", "toy2", "toy3"]);
    let got: Vec<u16> = report.services.iter().map(|s| s.target.port).collect();
    assert_eq!(got, ports);
    for s in &report.services {
        assert!(s.tls.is_some(), "{}: {:?}", s.target.name, s.findings);
    }
}

/// Asserts what a real, patched server must show: TLS with a trusted certificate over
/// STARTTLS and implicit TLS, capabilities both sides, no command injection.
fn assert_real_server(report: &mailsec_examples::probe::ProbeReport) {
    for s in &report.services {
        let tls = s
            .tls
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no TLS", s.target.name));
        assert_eq!(tls.trust, Trust::Trusted, "{}", s.target.name);
        assert!(!s.capabilities_after_tls.is_empty(), "{}", s.target.name);
        if s.target.mode == TlsMode::StartTls {
            assert_eq!(s.starttls_advertised, Some(true), "{}", s.target.name);
            assert!(
                matches!(s.injection, Injection::Safe(_)),
                "{}: {:?}",
                s.target.name,
                s.injection
            );
        }
        assert_ne!(
            s.verdict,
            Verdict::Failure,
            "{}: {:?}",
            s.target.name,
            s.findings
        );
    }
}

#[test]
fn real_dovecot() {
    let pki = TestPki::new("localhost");
    let Some(dovecot) = common::peers::Dovecot::start(&pki, "alice", "secret-42") else {
        eprintln!("dovecot not installed: skipped");
        return;
    };
    let mut options = toy_options(&pki, 0);
    options.targets = vec![
        Target::new("imap", Protocol::Imap, TlsMode::StartTls, dovecot.imap),
        Target::new("imaps", Protocol::Imap, TlsMode::Implicit, dovecot.imaps),
        Target::new("pop3", Protocol::Pop3, TlsMode::StartTls, dovecot.pop3),
        Target::new("pop3s", Protocol::Pop3, TlsMode::Implicit, dovecot.pop3s),
    ];
    let report = probe(&options);
    println!("{}", report.to_text());
    assert_real_server(&report);
    // Dovecot counts loopback connections as secure (see `Dovecot`), so it offers plaintext
    // logins before TLS here: the probe must say so. Over TLS only STARTTLS / STLS goes.
    for (name, starttls) in [("imap", "STARTTLS"), ("pop3", "STLS")] {
        let s = service(&report.services, name);
        let diff = s.capability_diff.as_ref().expect("diff");
        assert_eq!(
            diff.disappeared,
            vec![starttls.to_owned()],
            "{name}: {diff:?}"
        );
        assert!(diff.appeared.is_empty(), "{name}: {diff:?}");
        assert!(!s.has("auth-after-tls"), "{name}");
        assert!(s.has("plaintext-auth"), "{name}: {:?}", s.findings);
        assert_eq!(s.verdict, Verdict::Warning);
    }
}

#[test]
fn real_postfix() {
    let pki = TestPki::new("localhost");
    let Some(postfix) = common::peers::Postfix::start(&pki) else {
        eprintln!("postfix not installed: skipped");
        return;
    };
    let mut options = toy_options(&pki, 0);
    options.targets = vec![Target::new(
        "smtp",
        Protocol::Smtp,
        TlsMode::StartTls,
        postfix.port,
    )];
    let report = probe(&options);
    println!("{}", report.to_text());
    assert_real_server(&report);
    // This Postfix requires STARTTLS (`smtpd_tls_security_level = encrypt`): as an MX it
    // loses mail from servers that cannot do TLS.
    let s = &report.services[0];
    assert!(
        matches!(s.plaintext_mail, PlaintextMail::Refuses(_)),
        "{:?}",
        s.plaintext_mail
    );
    assert!(s.has("mx-requires-tls"), "{:?}", s.findings);
    let diff = s.capability_diff.as_ref().expect("diff");
    // No SASL is configured in it: only STARTTLS goes.
    assert_eq!(diff.disappeared, vec!["STARTTLS".to_owned()], "{diff:?}");
    assert!(
        diff.appeared.is_empty() && diff.changed.is_empty(),
        "{diff:?}"
    );
    assert!(!s.has("starttls-after-tls"));
}
