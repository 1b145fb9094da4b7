//! `mailsec-probe`: is this mail server's TLS set up right?
//!
//! ```text
//! mailsec-probe mail.example.com
//! mailsec-probe localhost --server-name mail.example.com --ca ca.pem --port imap:1143 --service imap
//! mailsec-probe mail.example.com --json > report.json
//! mailsec-probe mx.example.com --service smtp --rcpt postmaster@example.com
//! ```
//!
//! Exit status: 0 all good, 1 warnings, 2 failures, 3 nothing reachable, 64 usage error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mailsec_examples::probe::{ProbeOptions, Target, apply_port_override, probe};

/// Check the TLS set-up of a mail server's SMTP, IMAP and POP3 services: certificates,
/// STARTTLS, plaintext authentication before TLS, capabilities before and after TLS,
/// STARTTLS command injection, and whether the MX (and submission) take mail without TLS.
///
/// Sends nothing that delivers mail or changes a mailbox: MAIL FROM:<> and RCPT TO are
/// followed by RSET, never DATA; no LOGIN, USER or AUTH. Services are probed in parallel;
/// progress (one line per finished service) goes to stderr.
#[derive(Debug, Parser)]
#[command(name = "mailsec-probe", version)]
struct Cli {
    /// Host to probe.
    host: String,
    /// Name the certificates must carry [default: HOST].
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
    /// Override a service's port, e.g. imap:1143 (services: smtp, submission, submissions,
    /// imap, imaps, pop3, pop3s). Repeatable.
    #[arg(long = "port", value_name = "SERVICE:PORT")]
    ports: Vec<String>,
    /// Probe only these services (repeatable) [default: all seven].
    #[arg(long = "service", value_name = "SERVICE")]
    services: Vec<String>,
    /// PEM file of CA certificates to trust [default: the Mozilla root program].
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Timeout of each connect, read and write, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    timeout: u64,
    /// Recipient of the mail-without-TLS test on the MX and submission services
    /// (default: postmaster@NAME).
    #[arg(long, value_name = "ADDRESS")]
    rcpt: Option<String>,
    /// Probe one service after the other instead of all at once.
    #[arg(long)]
    sequential: bool,
    /// Print every step of every service on stderr.
    #[arg(long, short, conflicts_with = "quiet")]
    verbose: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("mailsec-probe: {e}");
            ExitCode::from(64)
        }
    }
}

fn run(cli: Cli) -> Result<u8, String> {
    let mut options = ProbeOptions::new(&cli.host);
    options.server_name = cli.server_name;
    options.timeout = Duration::from_secs(cli.timeout.max(1));
    options.progress = !cli.quiet;
    options.verbose = cli.verbose;
    options.parallel = !cli.sequential;
    if let Some(rcpt) = &cli.rcpt {
        options = options.with_rcpt(rcpt)?;
    }
    if !cli.services.is_empty() {
        let mut targets: Vec<Target> = Vec::new();
        for s in &cli.services {
            let target = Target::by_name(s).ok_or_else(|| format!("unknown service {s:?}"))?;
            // One thread per service: a service named twice is probed once.
            if !targets.iter().any(|t| t.name == target.name) {
                targets.push(target);
            }
        }
        options.targets = targets;
    }
    for spec in &cli.ports {
        apply_port_override(&mut options.targets, spec)?;
    }
    if let Some(path) = &cli.ca {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        options = options.with_ca_pem(&pem)?;
    }
    let report = probe(&options);
    if cli.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    Ok(report.exit_code() as u8)
}
