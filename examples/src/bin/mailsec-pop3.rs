//! `mailsec-pop3`: list, fetch or peek at the headers of a POP3 maildrop, over implicit TLS
//! (the default, RFC 8314), STLS, or — only if asked by name — in clear.
//!
//! ```text
//! mailsec-pop3 --server pop.example.com:995 --user alice --password-env POP3_PASSWORD list
//! mailsec-pop3 --server pop.example.com:110 --tls starttls --user alice \
//!     --password-file ~/.pop3-pass fetch --maildir ~/Mail/inbox --keep-state ~/.pop3-seen
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use mailsec_examples::pop3_fetch::{ConnectOptions, Destination, FetchOptions, Session, Trust};
use mailsec_tls::ClientTls;

/// Read mail from a POP3 server with the mailsec POP3 client.
///
/// Credentials are never sent without TLS unless --tls none is combined with
/// --insecure-allow-cleartext-password.
#[derive(Debug, Parser)]
#[command(name = "mailsec-pop3", version)]
#[command(group(clap::ArgGroup::new("password").required(true)))]
struct Cli {
    /// Server address, host:port (995 for implicit TLS, 110 for STLS).
    #[arg(long, value_name = "HOST:PORT")]
    server: String,
    /// Name the server certificate must carry [default: the host part of --server].
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
    /// How to secure the connection: implicit (TLS from the first byte, port 995),
    /// starttls (STLS required before login, port 110), none (no TLS at all).
    #[arg(long, value_enum, default_value_t = TlsMode::Implicit)]
    tls: TlsMode,
    /// PEM file of CA certificates to trust [default: the Mozilla root program].
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// User name.
    #[arg(long, value_name = "USER")]
    user: String,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR", group = "password")]
    password_env: Option<String>,
    /// Read the password from the first line of this file.
    #[arg(long, value_name = "FILE", group = "password")]
    password_file: Option<PathBuf>,
    /// With --tls none: send the password in clear anyway (closed test networks only).
    #[arg(long)]
    insecure_allow_cleartext_password: bool,
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TlsMode {
    /// TLS from the first byte (RFC 8314).
    Implicit,
    /// Plaintext greeting, then STLS (RFC 2595); fails if the server does not offer it.
    Starttls,
    /// No TLS.
    None,
}

#[derive(Debug, clap::Args)]
struct Output {
    /// Store messages in this maildir (tmp/, new/, cur/ created as needed).
    #[arg(long, value_name = "DIR", group = "dest")]
    maildir: Option<PathBuf>,
    /// Append messages to this mbox file (mboxrd quoting, LF line endings).
    #[arg(long, value_name = "FILE", group = "dest")]
    mbox: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the maildrop: STAT, then one line per message (number, size, unique-id).
    List,
    /// Fetch messages into a maildir or an mbox file.
    Fetch {
        #[command(flatten)]
        output: Output,
        /// Leave messages on the server and remember their unique-ids in this file (one per
        /// line): messages already listed there are not fetched again.
        #[arg(long, value_name = "FILE")]
        keep_state: Option<PathBuf>,
        /// Delete each message from the server once stored (takes effect at QUIT).
        #[arg(long)]
        delete: bool,
    },
    /// Fetch only the header block of every message (TOP n 0) into a maildir, an mbox file,
    /// or standard output when neither is given.
    Headers {
        #[command(flatten)]
        output: Output,
    },
}

fn password(cli: &Cli) -> Result<String, String> {
    if let Some(var) = &cli.password_env {
        return std::env::var(var).map_err(|_| format!("environment variable {var} is not set"));
    }
    if let Some(path) = &cli.password_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return Ok(text.lines().next().unwrap_or_default().to_owned());
    }
    Err("give --password-env VAR or --password-file FILE".into())
}

async fn run(cli: Cli) -> Result<(), String> {
    let password = password(&cli)?;
    let mut options = ConnectOptions::new(cli.server.clone(), cli.user.clone(), password);
    if let Some(name) = &cli.server_name {
        options.server_name = name.clone();
    }
    options.tls = match cli.tls {
        TlsMode::Implicit => ClientTls::Implicit,
        TlsMode::Starttls => ClientTls::StartTlsRequired,
        TlsMode::None => ClientTls::InsecurePlaintext,
    };
    if let Some(ca) = &cli.ca {
        options.trust = Trust::CaFile(ca.clone());
    }
    options.allow_cleartext_credentials = cli.insecure_allow_cleartext_password;

    let mut session = Session::connect(&options)
        .await
        .map_err(|e| e.to_string())?;
    let login = session.login().clone();
    eprintln!(
        "logged in as {} ({:?}) {}",
        cli.user,
        login.auth,
        login
            .tls
            .map_or("WITHOUT TLS".to_owned(), |t| format!("over {t}"))
    );
    match cli.command {
        Command::List => {
            let listing = session.list().await.map_err(|e| e.to_string())?;
            println!(
                "{} messages, {} octets",
                listing.stat.count, listing.stat.size
            );
            for m in &listing.messages {
                println!(
                    "{} {} {}",
                    m.msg.get(),
                    m.size,
                    m.uid.as_deref().unwrap_or("-")
                );
            }
        }
        Command::Fetch {
            output,
            keep_state,
            delete,
        } => {
            let mut dest = match (output.maildir, output.mbox) {
                (Some(dir), _) => Destination::Maildir(dir),
                (_, Some(file)) => Destination::Mbox(file),
                _ => return Err("fetch needs --maildir DIR or --mbox FILE".into()),
            };
            let fetch = FetchOptions {
                headers_only: false,
                keep_state,
                delete,
            };
            let report = session
                .fetch(&mut dest, &fetch)
                .await
                .map_err(|e| e.to_string())?;
            let deleted = report.fetched.iter().filter(|m| m.marked_deleted).count();
            let acknowledged = session.quit().await.map_err(|e| e.to_string())?;
            println!(
                "{} messages on the server, {} fetched, {} already seen",
                report.listed,
                report.fetched.len(),
                report.skipped
            );
            if deleted > 0 {
                if acknowledged {
                    println!("{deleted} deleted from the server");
                } else {
                    println!("the server did not confirm QUIT: nothing was deleted");
                }
            }
            return Ok(());
        }
        Command::Headers { output } => {
            let mut stdout = std::io::stdout().lock();
            let mut dest = match (output.maildir, output.mbox) {
                (Some(dir), _) => Destination::Maildir(dir),
                (_, Some(file)) => Destination::Mbox(file),
                _ => Destination::Writer(&mut stdout),
            };
            let fetch = FetchOptions {
                headers_only: true,
                ..FetchOptions::default()
            };
            session
                .fetch(&mut dest, &fetch)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    session.quit().await.map_err(|e| e.to_string())?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mailsec-pop3: {err}");
            ExitCode::FAILURE
        }
    }
}
