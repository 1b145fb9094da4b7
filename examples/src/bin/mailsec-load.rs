//! `mailsec-load`: a bounded pilot load test — what does TLS cost us?
//!
//! ```text
//! mailsec-load smtp 127.0.0.1 --tls all --port 587 --plain-port 25 --implicit-port 465 \
//!     --connections 20 --count 50 --size 20000 --user alice --password-file pw.txt \
//!     --ca ca.pem --server-name mail.example.test --to alice@example.test --chart load.svg
//! mailsec-load imap 127.0.0.1 --tls implicit --user alice --password-file pw.txt --ca ca.pem
//! mailsec-load pop3 10.0.0.5 --tls starttls --count 100 --json > report.json
//! ```
//!
//! Exit status: 0 every operation done, 1 some failed, 64 usage error.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mailsec_examples::load::{self, LoadOptions, Login, Mode, Protocol};
use mailsec_examples::smtp_send::tls_config;

/// Which TLS modes to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TlsArg {
    /// No TLS.
    None,
    /// STARTTLS (STLS for POP3), required.
    Starttls,
    /// TLS from the first byte.
    Implicit,
    /// The three, one after another, reported side by side.
    All,
}

/// Run a bounded pilot load test against one mail server (ours, Postfix, Dovecot, anything on
/// loopback or a test network) and report, per TLS mode side by side: connections and TLS
/// handshakes per second, messages or fetches per second, bytes on the wire per operation
/// each way, latency percentiles (set-up and per operation), CPU time and errors by kind.
///
/// Workloads: `smtp` sends COUNT generated messages per connection (MAIL/RCPT/DATA, AUTH when
/// --user is given); `imap` logs in and fetches COUNT whole messages from INBOX (read-only);
/// `pop3` logs in and RETRs COUNT messages (nothing deleted).
///
/// Only run it against servers you are responsible for: it is a load generator.
#[derive(Debug, Parser)]
#[command(
    name = "mailsec-load",
    version,
    after_help = "Examples:\n  \
      mailsec-load smtp 127.0.0.1 --tls all --plain-port 2525 --port 2587 --implicit-port 2465 \\\n    \
        --user alice --password-file pw --ca ca.pem --server-name localhost --to alice@localhost --chart load.svg\n  \
      mailsec-load smtp 127.0.0.1 --tls none --port 2525 --connections 50 --count 100 --size 50000\n  \
      mailsec-load imap 127.0.0.1 --tls implicit --implicit-port 993 --user alice --password-file pw --ca ca.pem\n  \
      mailsec-load pop3 127.0.0.1 --tls starttls --count 100 --user alice --password-file pw --json"
)]
struct Cli {
    /// The workload.
    #[arg(value_enum)]
    protocol: Protocol,
    /// The server's host name or address.
    host: String,
    /// TLS mode(s).
    #[arg(long, value_enum, default_value = "all")]
    tls: TlsArg,
    /// Port for STARTTLS and, unless --plain-port, for no TLS [default: 587 smtp, 143 imap,
    /// 110 pop3; 25 smtp without TLS].
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
    /// Port for mode none [default: --port, else 25 smtp, 143 imap, 110 pop3].
    #[arg(long, value_name = "PORT")]
    plain_port: Option<u16>,
    /// Port for implicit TLS [default: 465 smtp, 993 imap, 995 pop3].
    #[arg(long, value_name = "PORT")]
    implicit_port: Option<u16>,
    /// Concurrent connections (at most 1000).
    #[arg(long, short = 'c', default_value_t = 10)]
    connections: usize,
    /// Operations per connection: messages sent or fetched (at most 100000).
    #[arg(long, short = 'n', default_value_t = 10)]
    count: usize,
    /// Hard wall-clock cap of each mode, in seconds: connections still running are dropped.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    duration: u64,
    /// Timeout of each operation and of each connection set-up, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// Size of each generated SMTP message in octets, headers included.
    #[arg(long, default_value_t = 10_000)]
    size: usize,
    /// SMTP sender.
    #[arg(long, default_value = "load@example.test")]
    from: String,
    /// SMTP recipient.
    #[arg(long, default_value = "postmaster@example.test")]
    to: String,
    /// User name to log in with (required for imap and pop3; smtp does AUTH when given).
    #[arg(long)]
    user: Option<String>,
    /// File whose first line is the password.
    #[arg(long, value_name = "FILE", conflicts_with = "password")]
    password_file: Option<PathBuf>,
    /// The password on the command line. RISK: other users of this machine can read it in
    /// the process list, and it stays in your shell history; prefer --password-file.
    #[arg(long)]
    password: Option<String>,
    /// In mode none, send credentials in clear (closed test networks only). Without it, smtp
    /// in mode none sends without AUTH (as to an MX) and imap/pop3 refuse mode none.
    #[arg(long)]
    allow_cleartext_credentials: bool,
    /// PEM file of CA certificates to trust (a test CA) [default: the Mozilla root program].
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Name the server certificate must carry [default: HOST].
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
    /// Also report this server process's CPU time (user+system from /proc/PID/stat, Linux;
    /// processes it forks and has not reaped, like Dovecot's login processes, are missed).
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Run through a counting TCP proxy on loopback and report its byte counts beside the
    /// tool's (an independent check of the wire figures; the proxy costs CPU of its own).
    #[arg(long)]
    via_proxy: bool,
    /// Print the report as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Write an SVG bar chart comparing the modes to FILE.
    #[arg(long, value_name = "FILE.svg")]
    chart: Option<PathBuf>,
    /// No progress bar (it is drawn on stderr, and only on a terminal).
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailsec-load: runtime: {e}");
            return ExitCode::from(70);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("mailsec-load: {e}");
            ExitCode::from(64)
        }
    }
}

fn options(cli: &Cli) -> Result<LoadOptions, String> {
    let mut o = LoadOptions::new(cli.protocol, &cli.host);
    o.modes = match cli.tls {
        TlsArg::None => vec![Mode::None],
        TlsArg::Starttls => vec![Mode::Starttls],
        TlsArg::Implicit => vec![Mode::Implicit],
        TlsArg::All => Mode::ALL.to_vec(),
    };
    if let Some(p) = cli.port {
        o = o.with_port(Mode::Starttls, p).with_port(Mode::None, p);
    }
    if let Some(p) = cli.plain_port {
        o = o.with_port(Mode::None, p);
    }
    if let Some(p) = cli.implicit_port {
        o = o.with_port(Mode::Implicit, p);
    }
    if let Some(name) = &cli.server_name {
        o.server_name = name.clone();
    }
    if o.modes.iter().any(|&m| m != Mode::None) {
        o.tls_config = Some(tls_config(cli.ca.as_deref()).map_err(|e| e.to_string())?);
    }
    o.connections = cli.connections;
    o.count = cli.count;
    o.duration = Duration::from_secs(cli.duration);
    o.op_timeout = Duration::from_secs(cli.timeout);
    o.size = cli.size;
    o.from = cli.from.clone();
    o.to = cli.to.clone();
    o.allow_cleartext_credentials = cli.allow_cleartext_credentials;
    o.via_proxy = cli.via_proxy;
    o.server_pid = cli.server_pid;
    if let Some(user) = &cli.user {
        let password = match (&cli.password_file, &cli.password) {
            (Some(path), _) => std::fs::read_to_string(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .lines()
                .next()
                .unwrap_or("")
                .to_owned(),
            (None, Some(p)) => p.clone(),
            (None, None) => return Err("--user needs --password-file or --password".into()),
        };
        o.login = Some(Login {
            user: user.clone(),
            password: password.into(),
        });
    }
    o.validate().map_err(|e| e.to_string())?;
    Ok(o)
}

async fn run(cli: Cli) -> Result<u8, String> {
    let options = options(&cli)?;
    let progress = if cli.quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:>14} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec})",
        ) {
            bar.set_style(style);
        }
        bar
    };
    let report = load::run(&options, &progress)
        .await
        .map_err(|e| e.to_string())?;
    if cli.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if let Some(path) = &cli.chart {
        load::chart::write_chart(&report, path).map_err(|e| e.to_string())?;
        if !cli.json {
            println!("chart: {}", path.display());
        }
    }
    Ok(if report.error_count() == 0 { 0 } else { 1 })
}
