//! mailsec-send: sends one message with the mailsec SMTP client, over implicit TLS, STARTTLS
//! or (when asked by name) in clear, and prints what the server said about each recipient.
//!
//! ```text
//! mailsec-send --server mail.example.org:465 --from alice@example.org --to bob@example.net \
//!     --user alice --password-env SMTP_PASSWORD message.eml
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Parser};
use mailsec_examples::capture::Capture;
use mailsec_examples::smtp_send::{
    LineEndings, SendError, SendOptions, SendReport, TlsMode, send, show_reply, tls_config,
};
use mailsec_tls::sasl::Credentials;

/// Send one message over SMTP with mailsec (submission with implicit TLS by default).
///
/// Exit status: 0 when the server accepted the message for every recipient, 2 when it accepted
/// it for some recipients only, 1 when the message was not sent (the error names the SMTP
/// phase, the reply code, the enhanced status code and the server's text).
#[derive(Debug, Parser)]
#[command(name = "mailsec-send", version)]
#[command(group(ArgGroup::new("password").args(["password_env", "password_file"])))]
struct Cli {
    /// The server, as host:port (465 for implicit TLS, 587 for STARTTLS submission, 25 for
    /// relay).
    #[arg(long, value_name = "HOST:PORT")]
    server: String,

    /// The name the server's certificate must match, also sent as SNI (default: the host of
    /// --server). Never take it from DNS MX records (RFC 7817).
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,

    /// How the connection is secured: implicit = TLS from the first byte (RFC 8314);
    /// starttls = STARTTLS required, the session ends if it cannot be done; opportunistic =
    /// STARTTLS when offered (relay only: an attacker can strip the offer); none = no TLS at
    /// all, everything readable on the network.
    #[arg(long, value_enum, default_value_t = TlsMode::Implicit)]
    tls: TlsMode,

    /// A PEM file of CA certificates to trust instead of the Mozilla roots built in
    /// (webpki-roots).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,

    /// Authenticate (AUTH, RFC 4954) as this user, only over TLS. Needs --password-env or
    /// --password-file.
    #[arg(long, value_name = "USER", requires = "password")]
    user: Option<String>,

    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR", requires = "user")]
    password_env: Option<String>,

    /// Read the password from the first line of this file.
    #[arg(long, value_name = "FILE", requires = "user")]
    password_file: Option<PathBuf>,

    /// The name to announce with EHLO.
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    ehlo: String,

    /// The envelope sender (MAIL FROM); an empty string sends the null path <>.
    #[arg(long, value_name = "ADDRESS")]
    from: String,

    /// An envelope recipient (RCPT TO); repeat for more.
    #[arg(long, value_name = "ADDRESS", required = true)]
    to: Vec<String>,

    /// Declare the body 8-bit (BODY=8BITMIME, RFC 6152).
    #[arg(long = "8bitmime")]
    eight_bit: bool,

    /// Send one command at a time even when the server offers PIPELINING.
    #[arg(long)]
    no_pipelining: bool,

    /// Send the body with DATA even when the server offers CHUNKING (BDAT).
    #[arg(long)]
    no_chunking: bool,

    /// Send the message bytes exactly as read; by default bare LF and bare CR become CRLF.
    #[arg(long)]
    raw: bool,

    /// Print what a network capture of the session shows (commands in clear, TLS records as
    /// hex).
    #[arg(long)]
    show_wire: bool,

    /// The message (RFC 5322 headers and body): a file, or - (the default) for standard input.
    /// It is streamed, never held whole in memory.
    #[arg(value_name = "FILE|-", default_value = "-")]
    message: String,
}

/// The host part of `host:port` (`[v6]:port` too).
fn host_of(server: &str) -> String {
    let host = server.rsplit_once(':').map_or(server, |(host, _)| host);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned()
}

fn password(cli: &Cli) -> Result<Option<String>, String> {
    if let Some(var) = &cli.password_env {
        return std::env::var(var)
            .map(Some)
            .map_err(|e| format!("password variable {var}: {e}"));
    }
    if let Some(path) = &cli.password_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("password file {}: {e}", path.display()))?;
        return Ok(Some(text.lines().next().unwrap_or_default().to_owned()));
    }
    Ok(None)
}

fn options(cli: &Cli) -> Result<SendOptions, String> {
    let server_name = cli
        .server_name
        .clone()
        .unwrap_or_else(|| host_of(&cli.server));
    let mut options = SendOptions::new(
        &cli.server,
        &server_name,
        &cli.from,
        cli.to.iter().map(String::as_str),
    );
    options.tls = cli.tls;
    if cli.tls != TlsMode::None {
        options.tls_config = Some(tls_config(cli.ca.as_deref()).map_err(|e| e.to_string())?);
    }
    if let (Some(user), Some(password)) = (&cli.user, password(cli)?) {
        options.credentials = Some(Credentials::password(user.clone(), password));
    }
    options.ehlo_name = cli.ehlo.clone();
    options.eight_bit = cli.eight_bit;
    options.pipelining = !cli.no_pipelining;
    options.chunking = !cli.no_chunking;
    options.line_endings = if cli.raw {
        LineEndings::AsIs
    } else {
        LineEndings::ToCrlf
    };
    Ok(options)
}

fn print_report(report: &SendReport) {
    match &report.tls {
        Some(info) => println!(
            "TLS: {} {}, certificate verified for {}",
            info.version,
            info.cipher_suite,
            info.server_name.as_deref().unwrap_or("?")
        ),
        None => println!("TLS: none — the whole session was readable on the network"),
    }
    if let Some(mechanism) = report.authenticated {
        println!("authenticated with {mechanism}");
    }
    for r in &report.recipients {
        let verdict = if r.accepted() { "accepted" } else { "REFUSED" };
        println!("{}: {verdict}: {}", r.recipient, show_reply(&r.reply));
    }
    println!(
        "message accepted ({} octets): {}",
        report.octets,
        show_reply(&report.reply)
    );
    if let Some(err) = &report.quit_error {
        println!("(the session ended badly after that: {err})");
    }
}

fn print_error(err: &SendError) {
    if let SendError::Rejected { recipients, .. } = err {
        for r in recipients {
            let verdict = if r.accepted() { "accepted" } else { "REFUSED" };
            eprintln!("{}: {verdict}: {}", r.recipient, show_reply(&r.reply));
        }
    }
    eprintln!("mailsec-send: message NOT sent: {err}");
    if let Some(phase) = err.phase() {
        let code = err.code().map_or_else(|| "-".to_owned(), |c| c.to_string());
        let enhanced = err
            .enhanced()
            .map_or_else(|| "-".to_owned(), |e| e.to_string());
        eprintln!("  phase: {phase}, code: {code}, enhanced code: {enhanced}");
    }
}

async fn run(cli: Cli) -> Result<SendReport, String> {
    let mut options = options(&cli)?;
    let capture = cli.show_wire.then(Capture::default);
    options.capture = capture.clone();
    let result = if cli.message == "-" {
        send(&options, tokio::io::stdin()).await
    } else {
        let file = tokio::fs::File::open(&cli.message)
            .await
            .map_err(|e| format!("{}: {e}", cli.message))?;
        send(&options, file).await
    };
    if let Some(capture) = capture {
        println!("what a network capture shows (C = client, S = server):");
        print!("{}", capture.render("C:", "S:"));
    }
    result.map_err(|err| {
        print_error(&err);
        String::new()
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(report) => {
            print_report(&report);
            if report.all_accepted() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(message) => {
            if !message.is_empty() {
                eprintln!("mailsec-send: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn server_name_defaults_to_the_host() {
        assert_eq!(host_of("mail.example.org:465"), "mail.example.org");
        assert_eq!(host_of("[::1]:25"), "::1");
        assert_eq!(host_of("127.0.0.1:587"), "127.0.0.1");
    }

    #[test]
    fn flags_parse_into_options() {
        let cli = Cli::try_parse_from([
            "mailsec-send",
            "--server",
            "mx.example:587",
            "--tls",
            "none",
            "--from",
            "a@example.org",
            "--to",
            "b@example.net",
            "--to",
            "c@example.net",
            "--raw",
            "--no-chunking",
        ])
        .expect("parse");
        assert_eq!(cli.tls, TlsMode::None);
        assert_eq!(cli.message, "-");
        let o = options(&cli).expect("options");
        assert_eq!(o.server_name, "mx.example");
        assert_eq!(o.to, ["b@example.net", "c@example.net"]);
        assert_eq!(o.line_endings, LineEndings::AsIs);
        assert!(!o.chunking && o.pipelining && o.tls_config.is_none());
        // The default is implicit TLS; a password needs a user and the other way round.
        let cli = Cli::try_parse_from([
            "mailsec-send",
            "--server",
            "h:465",
            "--from",
            "",
            "--to",
            "b@x.y",
        ])
        .expect("parse");
        assert_eq!(cli.tls, TlsMode::Implicit);
        assert!(
            Cli::try_parse_from([
                "mailsec-send",
                "--server",
                "h:465",
                "--from",
                "",
                "--to",
                "b@x.y",
                "--user",
                "u",
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from([
                "mailsec-send",
                "--server",
                "h:465",
                "--from",
                "",
                "--to",
                "b@x.y",
                "--password-env",
                "P",
            ])
            .is_err()
        );
    }
}
