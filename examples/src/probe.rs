//! `mailsec-probe`: "is this mail server's TLS set up right?"
//!
//! [`probe`] connects to each mail service of a host (SMTP 25/587 STARTTLS and 465 implicit
//! TLS, IMAP 143 STARTTLS and 993 implicit, POP3 110 STLS and 995 implicit) and reports per
//! service ([`ServiceReport`]):
//!
//! - whether TLS is offered, the TLS version and cipher suite, the certificate chain (subject,
//!   issuer, not-after, DNS names), expiry, and whether the chain is trusted for the name asked
//!   for (RFC 6125 / RFC 7817, checked by rustls's `WebPkiServerVerifier` against the webpki
//!   roots or the CA file given): "untrusted", "name mismatch", "expired" are told apart;
//! - the capabilities before and after TLS, and whether plaintext authentication is offered
//!   before TLS (RFC 4954 §4, RFC 3501/9051 §6.2 `LOGINDISABLED`, RFC 2595 §3.2);
//! - the STARTTLS command-injection test (CVE-2011-0411 class, see `SECURITY.md`): the
//!   STARTTLS command and a harmless one are sent in one write; a server that answers the
//!   second one inside TLS is vulnerable;
//! - whether STARTTLS is advertised but refused;
//! - how the capabilities changed across TLS ([`CapabilityDiff`]: STARTTLS still advertised
//!   over TLS is a warning, authentication appearing only after TLS is good);
//! - for the SMTP MX (`smtp`) and submission services, whether mail is taken from a client
//!   that cannot do TLS ([`PlaintextMail`]): good for an MX, bad for submission.
//!
//! Nothing is sent that would deliver mail or change a mailbox: the probe says EHLO /
//! CAPABILITY / CAPA, STARTTLS / STLS, NOOP (CAPA for POP3), `MAIL FROM:<>` and `RCPT TO`
//! followed by RSET (never DATA), and QUIT / LOGOUT; never LOGIN, USER or AUTH.
//!
//! The services of a host are probed concurrently, one thread per service
//! (`std::thread::scope`); the report keeps the order of [`ProbeOptions::targets`], and with
//! [`ProbeOptions::progress`] one line per finished service goes to stderr.
//!
//! The probe is a diagnostic client that needs byte-level control of the plaintext phase, so
//! it uses blocking `std::net` sockets with read and write timeouts and a `rustls`
//! `ClientConnection` directly (no Sans-IO machine: those refuse, by design, to do what a
//! probe must do, such as pipelining after STARTTLS). From async code call it through
//! `tokio::task::spawn_blocking`.

use std::fmt;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mailsec_tls::pki_types::{CertificateDer, ServerName};
use mailsec_tls::rustls;
use rustls::{ClientConnection, StreamOwned};
use serde::Serialize;

mod caps;
mod certs;
mod conn;
mod plain_mail;

pub use caps::{CapabilityDiff, ChangedCapability};
use certs::{Recorder, provider, roots};
pub use certs::{cert_info, verify_chain};
use conn::{Conn, Stream, bad, clean, is_timeout};
pub use plain_mail::{PlaintextMail, SmtpRole};

/// Longest line accepted from a server (bounded input).
const MAX_LINE: usize = 8192;
/// Most lines in one multi-line answer (EHLO, CAPABILITY, CAPA).
const MAX_LINES: usize = 256;
/// A certificate expiring in fewer days than this is a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// A mail protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// SMTP (RFC 5321), STARTTLS per RFC 3207.
    Smtp,
    /// IMAP (RFC 9051), STARTTLS per §6.2.1.
    Imap,
    /// POP3 (RFC 1939), STLS per RFC 2595 §4.
    Pop3,
}

/// How TLS starts on a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plaintext first, then STARTTLS / STLS.
    StartTls,
    /// TLS from the first byte (RFC 8314).
    Implicit,
}

/// One service to probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Target {
    /// Its name: `smtp`, `submission`, `submissions`, `imap`, `imaps`, `pop3`, `pop3s`.
    pub name: String,
    /// The protocol.
    pub protocol: Protocol,
    /// How TLS starts.
    pub mode: TlsMode,
    /// The TCP port.
    pub port: u16,
}

impl Target {
    /// A target.
    pub fn new(name: &str, protocol: Protocol, mode: TlsMode, port: u16) -> Target {
        Target {
            name: name.to_owned(),
            protocol,
            mode,
            port,
        }
    }

    /// The well-known services of a mail host, in probe order.
    pub fn defaults() -> Vec<Target> {
        use Protocol::*;
        use TlsMode::*;
        vec![
            Target::new("smtp", Smtp, StartTls, 25),
            Target::new("submission", Smtp, StartTls, 587),
            Target::new("submissions", Smtp, Implicit, 465),
            Target::new("imap", Imap, StartTls, 143),
            Target::new("imaps", Imap, Implicit, 993),
            Target::new("pop3", Pop3, StartTls, 110),
            Target::new("pop3s", Pop3, Implicit, 995),
        ]
    }

    /// The default target called `name` (also accepts `smtps` for `submissions`).
    pub fn by_name(name: &str) -> Option<Target> {
        let name = match name.to_ascii_lowercase().as_str() {
            "smtps" => "submissions".to_owned(),
            other => other.to_owned(),
        };
        Target::defaults().into_iter().find(|t| t.name == name)
    }
}

/// Applies a `--port name:port` override to `targets` (e.g. `imap:1143`).
pub fn apply_port_override(targets: &mut [Target], spec: &str) -> Result<(), String> {
    let (name, port) = spec
        .split_once(':')
        .ok_or_else(|| format!("{spec:?}: expected name:port, e.g. imap:1143"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{spec:?}: bad port number"))?;
    let wanted =
        Target::by_name(name).ok_or_else(|| format!("{spec:?}: unknown service {name:?}"))?;
    let target = targets
        .iter_mut()
        .find(|t| t.name == wanted.name)
        .ok_or_else(|| format!("{spec:?}: service {name:?} is not being probed"))?;
    target.port = port;
    Ok(())
}

/// What to probe and how.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// The host to connect to (name or address).
    pub host: String,
    /// The name the certificate must match; the host when `None`.
    pub server_name: Option<String>,
    /// The services.
    pub targets: Vec<Target>,
    /// Trust these CA certificates instead of the webpki roots.
    pub ca: Option<Vec<CertificateDer<'static>>>,
    /// Timeout of the connect and of every read and write.
    pub timeout: Duration,
    /// How long to wait, after the handshake of the injection test, for an answer to the
    /// injected command.
    pub injection_wait: Duration,
    /// Print one progress line per finished service on stderr.
    pub progress: bool,
    /// Also print every step of every service on stderr (prefixed `[service:port]`).
    pub verbose: bool,
    /// Probe the services concurrently, one thread per service (the default).
    pub parallel: bool,
    /// The recipient of the plaintext-mail test; `postmaster@` the certificate name when
    /// `None`. Set it with [`ProbeOptions::with_rcpt`].
    pub rcpt: Option<String>,
}

impl ProbeOptions {
    /// All default services of `host`, webpki roots, 10 s timeouts.
    pub fn new(host: &str) -> ProbeOptions {
        ProbeOptions {
            host: host.to_owned(),
            server_name: None,
            targets: Target::defaults(),
            ca: None,
            timeout: Duration::from_secs(10),
            injection_wait: Duration::from_secs(2),
            progress: false,
            verbose: false,
            parallel: true,
            rcpt: None,
        }
    }

    /// Sets the recipient of the plaintext-mail test (`local@domain`, no spaces, control
    /// characters or angle brackets).
    pub fn with_rcpt(mut self, addr: &str) -> Result<ProbeOptions, String> {
        if !plain_mail::valid_rcpt(addr) {
            return Err(format!(
                "{addr:?}: expected a mailbox such as postmaster@example.com"
            ));
        }
        self.rcpt = Some(addr.to_owned());
        Ok(self)
    }

    /// Reads PEM CA certificates from `pem` to trust instead of the webpki roots.
    pub fn with_ca_pem(mut self, pem: &[u8]) -> Result<ProbeOptions, String> {
        use rustls::pki_types::pem::PemObject;
        let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
        let certs = certs.map_err(|e| format!("CA file: {e}"))?;
        if certs.is_empty() {
            return Err("CA file: no certificate found".into());
        }
        self.ca = Some(certs);
        Ok(self)
    }

    fn name(&self) -> &str {
        self.server_name.as_deref().unwrap_or(&self.host)
    }
}

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// Informational.
    Info,
    /// Should be fixed.
    Warning,
    /// Broken or insecure.
    Failure,
}

/// One observation about a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// A short stable key (`plaintext-auth`, `injection`, `name-mismatch`, ...).
    pub key: &'static str,
    /// Plain words.
    pub message: String,
}

/// A certificate of the chain the server sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// DNS names of the subjectAltName extension.
    pub dns_names: Vec<String>,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: i64,
    /// notAfter, RFC 2822-ish text as the parser prints it.
    pub not_after_text: String,
    /// Whole days until notAfter (negative: expired).
    pub days_left: i64,
}

/// The verdict of the certificate verifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Trust {
    /// Chains to a trusted root and is valid for the name.
    Trusted,
    /// Does not chain to a trusted root (unknown issuer, self-signed, bad signature, ...).
    Untrusted(String),
    /// Trusted, but not valid for the name asked for.
    NameMismatch(String),
    /// Expired.
    Expired(String),
    /// Not yet valid.
    NotYetValid(String),
    /// Another verification error.
    Other(String),
}

/// What TLS gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TlsReport {
    /// `TLSv1_3`, `TLSv1_2`.
    pub version: String,
    /// The negotiated cipher suite.
    pub cipher_suite: String,
    /// The chain, end entity first.
    pub chain: Vec<CertInfo>,
    /// The verifier's verdict for the name asked for.
    pub trust: Trust,
}

/// The outcome of the STARTTLS command-injection test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "detail", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Injection {
    /// Not run (implicit TLS, or STARTTLS missing or refused).
    NotTested,
    /// The injected command was not answered inside TLS (how: closed, ignored, ...).
    Safe(String),
    /// The injected command was answered inside TLS.
    Vulnerable(String),
    /// The server answered the injected command in plaintext after its go-ahead.
    AnsweredInPlaintext(String),
    /// The test could not conclude.
    Inconclusive(String),
}

/// The overall verdict of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Verdict {
    /// Nothing wrong found.
    Good,
    /// Warnings only.
    Warning,
    /// At least one failure.
    Failure,
    /// Could not connect.
    Unreachable,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Good => "good",
            Verdict::Warning => "warning",
            Verdict::Failure => "FAILURE",
            Verdict::Unreachable => "unreachable",
        })
    }
}

/// Everything learned about one service.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceReport {
    /// The service probed.
    pub target: Target,
    /// The verdict.
    pub verdict: Verdict,
    /// The first line of the greeting (control characters removed).
    pub greeting: Option<String>,
    /// Capabilities before TLS (EHLO keywords, IMAP CAPABILITY atoms, POP3 CAPA lines).
    pub capabilities_before_tls: Vec<String>,
    /// Capabilities after TLS.
    pub capabilities_after_tls: Vec<String>,
    /// How TLS changed the capabilities (STARTTLS services that got both lists).
    pub capability_diff: Option<CapabilityDiff>,
    /// Whether STARTTLS / STLS was advertised (STARTTLS services only).
    pub starttls_advertised: Option<bool>,
    /// Plaintext authentication offered before TLS (mechanisms, `USER`, `LOGIN`).
    pub plaintext_auth: Vec<String>,
    /// TLS details, when a handshake completed.
    pub tls: Option<TlsReport>,
    /// The command-injection test.
    pub injection: Injection,
    /// Whether mail is taken without TLS (SMTP MX and submission services).
    pub plaintext_mail: PlaintextMail,
    /// All findings, in order.
    pub findings: Vec<Finding>,
}

impl ServiceReport {
    fn new(target: Target) -> ServiceReport {
        ServiceReport {
            target,
            verdict: Verdict::Good,
            greeting: None,
            capabilities_before_tls: Vec::new(),
            capabilities_after_tls: Vec::new(),
            capability_diff: None,
            starttls_advertised: None,
            plaintext_auth: Vec::new(),
            tls: None,
            injection: Injection::NotTested,
            plaintext_mail: PlaintextMail::NotTested,
            findings: Vec::new(),
        }
    }

    fn add(&mut self, severity: Severity, key: &'static str, message: impl Into<String>) {
        self.findings.push(Finding {
            severity,
            key,
            message: message.into(),
        });
    }

    /// One line for the progress display: service, port, verdict and what decided it.
    pub fn progress_line(&self) -> String {
        let t = &self.target;
        let head = format!("{} port {}: {}", t.name, t.port, self.verdict);
        if self.verdict == Verdict::Unreachable {
            let why = self
                .findings
                .first()
                .map(|f| f.message.as_str())
                .unwrap_or("");
            return format!("{head} ({why})");
        }
        let mut parts = Vec::new();
        match &self.tls {
            Some(tls) => parts.push(format!(
                "{}, certificate {}",
                tls.version,
                trust_short(&tls.trust)
            )),
            None => parts.push("no TLS".to_owned()),
        }
        let worst: Vec<&str> = self
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| f.key)
            .collect();
        if !worst.is_empty() {
            parts.push(worst.join(", "));
        }
        format!("{head} ({})", parts.join("; "))
    }

    /// Whether a finding with `key` was recorded.
    pub fn has(&self, key: &str) -> bool {
        self.findings.iter().any(|f| f.key == key)
    }

    fn conclude(&mut self) {
        if self.verdict == Verdict::Unreachable {
            return;
        }
        self.verdict = match self.findings.iter().map(|f| f.severity).max() {
            Some(Severity::Failure) => Verdict::Failure,
            Some(Severity::Warning) => Verdict::Warning,
            _ => Verdict::Good,
        };
    }
}

/// The report of a whole probe.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeReport {
    /// The host probed.
    pub host: String,
    /// The name certificates were checked against.
    pub server_name: String,
    /// One report per target, in order.
    pub services: Vec<ServiceReport>,
}

impl ProbeReport {
    /// 0 all good, 1 warnings, 2 failures, 3 nothing reachable.
    pub fn exit_code(&self) -> i32 {
        if self
            .services
            .iter()
            .all(|s| s.verdict == Verdict::Unreachable)
        {
            return 3;
        }
        if self.services.iter().any(|s| s.verdict == Verdict::Failure) {
            2
        } else if self.services.iter().any(|s| s.verdict == Verdict::Warning) {
            1
        } else {
            0
        }
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The human report: per service details and verdict, then a summary table.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Probe of {} (certificate name {})",
            self.host, self.server_name
        );
        for s in &self.services {
            let t = &s.target;
            let _ = writeln!(
                out,
                "\n== {} ({:?}, port {}, {:?})",
                t.name, t.protocol, t.port, t.mode
            );
            if s.verdict == Verdict::Unreachable {
                for f in &s.findings {
                    let _ = writeln!(out, "  {}", f.message);
                }
                continue;
            }
            if let Some(g) = &s.greeting {
                let _ = writeln!(out, "  greeting: {g}");
            }
            if !s.capabilities_before_tls.is_empty() {
                let _ = writeln!(
                    out,
                    "  before TLS: {}",
                    s.capabilities_before_tls.join(", ")
                );
            }
            if let Some(tls) = &s.tls {
                let _ = writeln!(out, "  TLS: {} {}", tls.version, tls.cipher_suite);
                for (i, c) in tls.chain.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "  cert[{i}]: subject {} / issuer {} / not after {} ({} days left){}",
                        c.subject,
                        c.issuer,
                        c.not_after_text,
                        c.days_left,
                        if c.dns_names.is_empty() {
                            String::new()
                        } else {
                            format!(" / names {}", c.dns_names.join(" "))
                        }
                    );
                }
                let _ = writeln!(out, "  certificate: {}", trust_words(&tls.trust));
            }
            if !s.capabilities_after_tls.is_empty() {
                let _ = writeln!(out, "  after TLS: {}", s.capabilities_after_tls.join(", "));
            }
            if let Some(diff) = &s.capability_diff {
                let _ = writeln!(out, "  TLS changed the capabilities: {}", diff.summary());
            }
            if s.target.mode == TlsMode::StartTls {
                let _ = writeln!(out, "  injection test: {}", injection_words(&s.injection));
            }
            if s.plaintext_mail != PlaintextMail::NotTested {
                let _ = writeln!(out, "  mail without TLS: {}", s.plaintext_mail.words());
            }
            for f in &s.findings {
                let tag = match f.severity {
                    Severity::Info => "note",
                    Severity::Warning => "WARN",
                    Severity::Failure => "FAIL",
                };
                let _ = writeln!(out, "  [{tag}] {}", f.message);
            }
            let _ = writeln!(out, "  verdict: {}", s.verdict);
        }
        let _ = writeln!(
            out,
            "\n{:<12} {:>5}  {:<8} {:<8} {:<14} {:<9} {:<12} verdict",
            "service", "port", "TLS", "version", "certificate", "injection", "no-TLS mail"
        );
        for s in &self.services {
            let (tls, version, cert) = match &s.tls {
                Some(t) => ("yes", t.version.as_str(), trust_short(&t.trust)),
                None if s.verdict == Verdict::Unreachable => ("-", "-", "-"),
                None => ("no", "-", "-"),
            };
            let injection = match &s.injection {
                Injection::NotTested => "-",
                Injection::Safe(_) => "safe",
                Injection::Vulnerable(_) => "VULNERABLE",
                Injection::AnsweredInPlaintext(_) => "plaintext",
                Injection::Inconclusive(_) => "?",
            };
            let _ = writeln!(
                out,
                "{:<12} {:>5}  {:<8} {:<8} {:<14} {:<9} {:<12} {}",
                s.target.name,
                s.target.port,
                tls,
                version,
                cert,
                injection,
                s.plaintext_mail.short(),
                s.verdict
            );
        }
        out
    }
}

fn trust_short(trust: &Trust) -> &'static str {
    match trust {
        Trust::Trusted => "trusted",
        Trust::Untrusted(_) => "untrusted",
        Trust::NameMismatch(_) => "name mismatch",
        Trust::Expired(_) => "expired",
        Trust::NotYetValid(_) => "not yet valid",
        Trust::Other(_) => "error",
    }
}

fn trust_words(trust: &Trust) -> String {
    match trust {
        Trust::Trusted => "trusted, valid for the name".into(),
        Trust::Untrusted(d) => format!("UNTRUSTED ({d})"),
        Trust::NameMismatch(d) => format!("NAME MISMATCH ({d})"),
        Trust::Expired(d) => format!("EXPIRED ({d})"),
        Trust::NotYetValid(d) => format!("NOT YET VALID ({d})"),
        Trust::Other(d) => format!("verification error ({d})"),
    }
}

fn injection_words(injection: &Injection) -> String {
    match injection {
        Injection::NotTested => "not tested".into(),
        Injection::Safe(d) => format!("safe ({d})"),
        Injection::Vulnerable(d) => format!("VULNERABLE ({d})"),
        Injection::AnsweredInPlaintext(d) => format!("answered in plaintext ({d})"),
        Injection::Inconclusive(d) => format!("inconclusive ({d})"),
    }
}

/// Probes every target of `options`: concurrently, one thread per target, when
/// [`ProbeOptions::parallel`] (a target whose thread cannot be started is probed on the
/// calling thread), else one after the other. The services of the report are in the order of
/// the targets either way. With [`ProbeOptions::progress`], one line per finished service
/// goes to stderr (`[2/7] imap port 143: good (TLSv1_3, certificate trusted)`).
pub fn probe(options: &ProbeOptions) -> ProbeReport {
    let total = options.targets.len();
    let finished = AtomicUsize::new(0);
    let run = |target: &Target| {
        let report = probe_service(options, target);
        if options.progress {
            let k = finished.fetch_add(1, Ordering::Relaxed) + 1;
            eprintln!("[{k}/{total}] {}", report.progress_line());
        }
        report
    };
    if options.progress {
        eprintln!(
            "probing {total} service{} of {}{}",
            if total == 1 { "" } else { "s" },
            options.host,
            if options.parallel && total > 1 {
                " in parallel"
            } else {
                ""
            }
        );
    }
    let services = if options.parallel && total > 1 {
        std::thread::scope(|scope| {
            let handles: Vec<_> = options
                .targets
                .iter()
                .map(|target| {
                    let run = &run;
                    std::thread::Builder::new()
                        .name(format!("probe-{}", target.name))
                        .spawn_scoped(scope, move || run(target))
                        .map_err(|_| target)
                })
                .collect();
            handles
                .into_iter()
                .zip(&options.targets)
                .map(|(handle, target)| match handle {
                    Ok(h) => h.join().unwrap_or_else(|_| {
                        let mut report = ServiceReport::new(target.clone());
                        report.add(Severity::Failure, "internal", "the probe thread failed");
                        report.conclude();
                        report
                    }),
                    Err(target) => run(target),
                })
                .collect()
        })
    } else {
        options.targets.iter().map(run).collect()
    };
    ProbeReport {
        host: options.host.clone(),
        server_name: options.name().to_owned(),
        services,
    }
}

/// Probes one service.
pub fn probe_service(options: &ProbeOptions, target: &Target) -> ServiceReport {
    let mut report = ServiceReport::new(target.clone());
    let p = Prober { options, target };
    p.progress(format_args!(
        "connecting to {}:{}",
        options.host, target.port
    ));
    let conn = match p.connect() {
        Ok(c) => c,
        Err(e) => {
            report.verdict = Verdict::Unreachable;
            report.add(
                Severity::Info,
                "unreachable",
                format!("cannot connect: {e}"),
            );
            p.progress(format_args!("unreachable: {e}"));
            return report;
        }
    };
    match target.mode {
        TlsMode::Implicit => p.implicit(conn, &mut report),
        TlsMode::StartTls => {
            p.starttls(conn, &mut report);
            caps::record(&mut report);
            if report.starttls_advertised == Some(true) && report.tls.is_some() {
                p.progress(format_args!("injection test"));
                report.injection = match p.connect() {
                    Ok(c) => p.injection(c),
                    Err(e) => Injection::Inconclusive(format!("cannot reconnect: {e}")),
                };
                match &report.injection {
                    Injection::Vulnerable(d) => report.add(
                        Severity::Failure,
                        "injection",
                        format!("STARTTLS command injection: a command sent with STARTTLS in one write was answered inside TLS ({d})"),
                    ),
                    Injection::AnsweredInPlaintext(d) => report.add(
                        Severity::Warning,
                        "injection-plaintext",
                        format!("the command pipelined after STARTTLS was answered in plaintext after the go-ahead ({d})"),
                    ),
                    Injection::Inconclusive(d) => report.add(
                        Severity::Info,
                        "injection-inconclusive",
                        format!("command-injection test inconclusive: {d}"),
                    ),
                    _ => {}
                }
            }
            if let Some(role) = target.smtp_role() {
                p.progress(format_args!("mail without TLS ({role:?})"));
                let outcome = match p.connect() {
                    Ok(c) => p.plaintext_mail(c, role),
                    Err(e) => PlaintextMail::Inconclusive(format!("cannot reconnect: {e}")),
                };
                plain_mail::record(&mut report, role, outcome);
            }
        }
    }
    report.conclude();
    p.progress(format_args!("verdict {}", report.verdict));
    report
}

// ---------------------------------------------------------------------------------------------
// The probe of one service

struct Prober<'a> {
    options: &'a ProbeOptions,
    target: &'a Target,
}

impl Prober<'_> {
    fn progress(&self, args: fmt::Arguments<'_>) {
        if self.options.verbose {
            eprintln!("[{}:{}] {args}", self.target.name, self.target.port);
        }
    }

    fn connect(&self) -> io::Result<Conn> {
        let addrs: Vec<SocketAddr> = (self.options.host.as_str(), self.target.port)
            .to_socket_addrs()?
            .collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.options.timeout) {
                Ok(s) => {
                    s.set_read_timeout(Some(self.options.timeout))?;
                    s.set_write_timeout(Some(self.options.timeout))?;
                    let _ = s.set_nodelay(true);
                    return Ok(Conn {
                        stream: Stream::Plain(s),
                        buf: Vec::new(),
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Handshakes over the plaintext `conn` (whose buffer must be empty), recording the chain.
    fn handshake(&self, conn: Conn) -> Result<(Conn, TlsReport), String> {
        let Stream::Plain(tcp) = conn.stream else {
            return Err("already TLS".into());
        };
        let recorder = Arc::new(Recorder {
            provider: provider(),
            chain: Mutex::new(Vec::new()),
        });
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_no_client_auth();
        let name = ServerName::try_from(self.options.name().to_owned())
            .map_err(|e| format!("bad server name: {e}"))?;
        let client = ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
        let mut tls = StreamOwned::new(client, tcp);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| format!("TLS handshake failed: {e}"))?;
        }
        let now = SystemTime::now();
        let chain = recorder.chain.lock().map(|c| c.clone()).unwrap_or_default();
        let report = TlsReport {
            version: tls
                .conn
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
            cipher_suite: tls
                .conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default(),
            chain: chain.iter().filter_map(|c| cert_info(c, now)).collect(),
            trust: verify_chain(roots(self.options), &chain, self.options.name(), now),
        };
        Ok((
            Conn {
                stream: Stream::Tls(Box::new(tls)),
                buf: Vec::new(),
            },
            report,
        ))
    }

    fn record_tls(&self, tls: TlsReport, report: &mut ServiceReport) {
        self.progress(format_args!(
            "{} {}: certificate {}",
            tls.version,
            tls.cipher_suite,
            trust_words(&tls.trust)
        ));
        match &tls.trust {
            Trust::Trusted => {}
            Trust::Untrusted(d) => report.add(
                Severity::Failure,
                "untrusted",
                format!("the certificate is untrusted: {d}"),
            ),
            Trust::NameMismatch(d) => report.add(
                Severity::Failure,
                "name-mismatch",
                format!(
                    "the certificate is not valid for {}: {d}",
                    self.options.name()
                ),
            ),
            Trust::Expired(d) => report.add(
                Severity::Failure,
                "expired",
                format!("the certificate has expired: {d}"),
            ),
            Trust::NotYetValid(d) => report.add(
                Severity::Failure,
                "not-yet-valid",
                format!("the certificate is not valid yet: {d}"),
            ),
            Trust::Other(d) => report.add(
                Severity::Failure,
                "certificate",
                format!("the certificate could not be verified: {d}"),
            ),
        }
        if let Some(leaf) = tls.chain.first() {
            if leaf.days_left >= 0 && leaf.days_left < EXPIRY_WARNING_DAYS {
                report.add(
                    Severity::Warning,
                    "expires-soon",
                    format!("the certificate expires in {} days", leaf.days_left),
                );
            } else if leaf.days_left < 0 && !matches!(tls.trust, Trust::Expired(_)) {
                report.add(
                    Severity::Failure,
                    "expired",
                    format!("the certificate expired {} days ago", -leaf.days_left),
                );
            }
        }
        if tls.version == "TLSv1_2" {
            report.add(
                Severity::Info,
                "tls12",
                "TLS 1.2 negotiated (TLS 1.3 preferred)",
            );
        }
        report.tls = Some(tls);
    }

    fn implicit(&self, conn: Conn, report: &mut ServiceReport) {
        self.progress(format_args!("TLS handshake"));
        let mut conn = match self.handshake(conn) {
            Ok((c, tls)) => {
                self.record_tls(tls, report);
                c
            }
            Err(e) => {
                report.add(
                    Severity::Failure,
                    "no-tls",
                    format!("no TLS on an implicit-TLS port: {e}"),
                );
                return;
            }
        };
        match self.greet_and_caps(&mut conn, report, true) {
            Ok(caps) => report.capabilities_after_tls = caps,
            Err(e) => report.add(
                Severity::Warning,
                "session",
                format!("session over TLS failed: {e}"),
            ),
        }
        self.quit(&mut conn);
    }

    fn starttls(&self, mut conn: Conn, report: &mut ServiceReport) {
        let caps = match self.greet_and_caps(&mut conn, report, false) {
            Ok(c) => c,
            Err(e) => {
                report.add(
                    Severity::Failure,
                    "session",
                    format!("plaintext session failed: {e}"),
                );
                return;
            }
        };
        self.progress(format_args!("before TLS: {}", caps.join(", ")));
        report.capabilities_before_tls = caps;
        let advertised = report.capabilities_before_tls.iter().any(|c| {
            let c = c.to_ascii_uppercase();
            c == "STARTTLS" || c == "STLS"
        });
        report.starttls_advertised = Some(advertised);
        self.plaintext_auth(report);
        if !advertised {
            report.add(
                Severity::Failure,
                "no-starttls",
                "STARTTLS is not offered: mail to and from this service travels in clear",
            );
            self.quit(&mut conn);
            return;
        }
        let (command, tag) = match self.target.protocol {
            Protocol::Smtp => ("STARTTLS\r\n", ""),
            Protocol::Imap => ("p2 STARTTLS\r\n", "p2"),
            Protocol::Pop3 => ("STLS\r\n", ""),
        };
        let go = conn
            .send(command.as_bytes())
            .and_then(|_| self.go_ahead(&mut conn, tag));
        match go {
            Ok(Ok(())) => {}
            Ok(Err(refusal)) => {
                report.add(
                    Severity::Failure,
                    "starttls-refused",
                    format!("STARTTLS is advertised but refused: {refusal}"),
                );
                self.quit(&mut conn);
                return;
            }
            Err(e) => {
                report.add(
                    Severity::Failure,
                    "starttls-failed",
                    format!("STARTTLS failed: {e}"),
                );
                return;
            }
        }
        if !conn.buf.is_empty() {
            report.add(
                Severity::Failure,
                "starttls-extra",
                "the server sent data after its STARTTLS go-ahead",
            );
            return;
        }
        self.progress(format_args!("TLS handshake"));
        let mut conn = match self.handshake(conn) {
            Ok((c, tls)) => {
                self.record_tls(tls, report);
                c
            }
            Err(e) => {
                report.add(Severity::Failure, "handshake", e);
                return;
            }
        };
        match self.caps(&mut conn, "p3") {
            Ok(caps) => {
                self.progress(format_args!("after TLS: {}", caps.join(", ")));
                report.capabilities_after_tls = caps;
            }
            Err(e) => report.add(
                Severity::Warning,
                "session",
                format!("capabilities after TLS failed: {e}"),
            ),
        }
        self.quit(&mut conn);
    }

    /// Reads the greeting and asks for capabilities.
    fn greet_and_caps(
        &self,
        conn: &mut Conn,
        report: &mut ServiceReport,
        secure: bool,
    ) -> io::Result<Vec<String>> {
        match self.target.protocol {
            Protocol::Smtp => {
                let (code, lines) = conn.smtp_reply()?;
                report.greeting = Some(format!(
                    "{code} {}",
                    lines.first().map(String::as_str).unwrap_or("")
                ));
                if code != 220 {
                    return Err(bad(format!("greeting {code}")));
                }
            }
            Protocol::Imap => {
                let line = conn.line()?;
                report.greeting = Some(line.clone());
                if line.starts_with("* PREAUTH") && !secure {
                    report.add(
                        Severity::Failure,
                        "preauth",
                        "PREAUTH greeting on a plaintext connection makes STARTTLS impossible",
                    );
                } else if !line.starts_with("* OK") && !line.starts_with("* PREAUTH") {
                    return Err(bad(format!("greeting {line:?}")));
                }
            }
            Protocol::Pop3 => {
                let line = conn.line()?;
                report.greeting = Some(line.clone());
                if !line.starts_with("+OK") {
                    return Err(bad(format!("greeting {line:?}")));
                }
            }
        }
        self.caps(conn, "p1")
    }

    fn caps(&self, conn: &mut Conn, tag: &str) -> io::Result<Vec<String>> {
        match self.target.protocol {
            Protocol::Smtp => {
                conn.send(b"EHLO mailsec-probe.invalid\r\n")?;
                let (code, lines) = conn.smtp_reply()?;
                if code != 250 {
                    return Err(bad(format!("EHLO answered {code}")));
                }
                Ok(lines.into_iter().skip(1).collect())
            }
            Protocol::Imap => {
                conn.send(format!("{tag} CAPABILITY\r\n").as_bytes())?;
                let (untagged, status) = conn.imap_tagged(tag)?;
                if !status.starts_with("OK") {
                    return Err(bad(format!("CAPABILITY answered {status:?}")));
                }
                Ok(untagged
                    .iter()
                    .filter_map(|l| l.strip_prefix("* CAPABILITY "))
                    .flat_map(|l| l.split_whitespace().map(str::to_owned))
                    .collect())
            }
            Protocol::Pop3 => {
                conn.send(b"CAPA\r\n")?;
                let (ok, status, lines) = conn.pop3(true)?;
                if !ok {
                    return Err(bad(format!("CAPA answered {status:?}")));
                }
                Ok(lines)
            }
        }
    }

    /// Reads the answer to STARTTLS: Ok(Ok) go ahead, Ok(Err(text)) refused.
    fn go_ahead(&self, conn: &mut Conn, tag: &str) -> io::Result<Result<(), String>> {
        Ok(match self.target.protocol {
            Protocol::Smtp => {
                let (code, lines) = conn.smtp_reply()?;
                if code == 220 {
                    Ok(())
                } else {
                    Err(format!("{code} {}", lines.join(" ")))
                }
            }
            Protocol::Imap => {
                let (_, status) = conn.imap_tagged(tag)?;
                if status.starts_with("OK") {
                    Ok(())
                } else {
                    Err(status)
                }
            }
            Protocol::Pop3 => {
                let (ok, status, _) = conn.pop3(false)?;
                if ok { Ok(()) } else { Err(status) }
            }
        })
    }

    /// Records what is offered for authentication in clear.
    fn plaintext_auth(&self, report: &mut ServiceReport) {
        let caps: Vec<String> = report
            .capabilities_before_tls
            .iter()
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let mut offered = Vec::new();
        match self.target.protocol {
            Protocol::Smtp => {
                for c in &caps {
                    let mechs = c.strip_prefix("AUTH ").or_else(|| c.strip_prefix("AUTH="));
                    for m in mechs.into_iter().flat_map(str::split_whitespace) {
                        if (m == "PLAIN" || m == "LOGIN") && !offered.iter().any(|o| o == m) {
                            offered.push(m.to_owned());
                        }
                    }
                }
            }
            Protocol::Imap => {
                if !caps.iter().any(|c| c == "LOGINDISABLED") {
                    offered.push("LOGIN".to_owned());
                }
                for m in ["AUTH=PLAIN", "AUTH=LOGIN"] {
                    if caps.iter().any(|c| c == m) {
                        offered.push(m.to_owned());
                    }
                }
            }
            Protocol::Pop3 => {
                if caps.iter().any(|c| c == "USER") {
                    offered.push("USER".to_owned());
                }
                for c in &caps {
                    if let Some(mechs) = c.strip_prefix("SASL ") {
                        for m in mechs.split_whitespace() {
                            if m == "PLAIN" || m == "LOGIN" {
                                offered.push(format!("SASL {m}"));
                            }
                        }
                    }
                }
            }
        }
        if !offered.is_empty() {
            report.add(
                Severity::Warning,
                "plaintext-auth",
                format!(
                    "password authentication is offered before TLS ({}): the server does not require a secure channel",
                    offered.join(", ")
                ),
            );
        }
        report.plaintext_auth = offered;
    }

    /// The command-injection test on a fresh connection.
    fn injection(&self, mut conn: Conn) -> Injection {
        let mut scratch = ServiceReport::new(self.target.clone());
        if let Err(e) = self.greet_and_caps(&mut conn, &mut scratch, false) {
            return Injection::Inconclusive(format!("plaintext session failed: {e}"));
        }
        let (payload, tag): (&[u8], &str) = match self.target.protocol {
            Protocol::Smtp => (b"STARTTLS\r\nNOOP\r\n", ""),
            Protocol::Imap => (b"i1 STARTTLS\r\ni2 NOOP\r\n", "i1"),
            Protocol::Pop3 => (b"STLS\r\nCAPA\r\n", ""),
        };
        if let Err(e) = conn.send(payload) {
            return Injection::Inconclusive(format!("write failed: {e}"));
        }
        match self.go_ahead(&mut conn, tag) {
            Ok(Ok(())) => {}
            Ok(Err(refusal)) => {
                return Injection::Safe(format!(
                    "STARTTLS with a pipelined command refused: {refusal}"
                ));
            }
            Err(e) => return Injection::Safe(format!("connection ended: {e}")),
        }
        if !conn.buf.is_empty() {
            return Injection::AnsweredInPlaintext(clean(&conn.buf));
        }
        // Anything already waiting in clear after the go-ahead is an answer in plaintext.
        let _ = conn
            .stream
            .tcp()
            .set_read_timeout(Some(Duration::from_millis(200)));
        let mut peek = [0u8; 64];
        if let Ok(n) = conn.stream.tcp().peek(&mut peek) {
            if n > 0 {
                return Injection::AnsweredInPlaintext(clean(&peek[..n]));
            }
        }
        let _ = conn
            .stream
            .tcp()
            .set_read_timeout(Some(self.options.timeout));
        let mut conn = match self.handshake(conn) {
            Ok((c, _)) => c,
            Err(e) => {
                return Injection::Safe(format!("no handshake after the pipelined command: {e}"));
            }
        };
        let _ = conn
            .stream
            .tcp()
            .set_read_timeout(Some(self.options.injection_wait));
        let outcome = match conn.line() {
            Ok(line) => Injection::Vulnerable(format!("answered inside TLS: {line:?}")),
            Err(e) if is_timeout(&e) => Injection::Safe("the pipelined command was ignored".into()),
            Err(e) => Injection::Safe(format!("connection ended: {e}")),
        };
        let _ = conn
            .stream
            .tcp()
            .set_read_timeout(Some(self.options.timeout));
        self.quit(&mut conn);
        outcome
    }

    /// Says goodbye, ignoring errors.
    fn quit(&self, conn: &mut Conn) {
        let bye: &[u8] = match self.target.protocol {
            Protocol::Smtp | Protocol::Pop3 => b"QUIT\r\n",
            Protocol::Imap => b"p9 LOGOUT\r\n",
        };
        let _ = conn
            .stream
            .tcp()
            .set_read_timeout(Some(Duration::from_millis(500)));
        if conn.send(bye).is_ok() {
            let _ = conn.line();
        }
        if let Stream::Tls(tls) = &mut conn.stream {
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    }
}
