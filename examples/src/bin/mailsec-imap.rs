//! `mailsec-imap`: list folders and messages, read, flag and move mail on an IMAP server, over
//! implicit TLS (the default, RFC 8314, port 993), STARTTLS (port 143) or — only if asked by
//! name — in clear.
//!
//! ```text
//! MAILSEC_PASSWORD=... mailsec-imap --user alice imap.example.com folders
//! mailsec-imap --user alice --password-file ~/.imap-pass imap.example.com list INBOX
//! mailsec-imap --user alice --password-file ~/.imap-pass imap.example.com read 42 --mark-seen
//! mailsec-imap --tls starttls --user alice imap.example.com:143 move 42 Archive
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use mailsec_examples::imap_mail::{ConnectOptions, Session, Trust, with_default_port};
use mailsec_tls::ClientTls;

/// Read mail on an IMAP server with the mailsec IMAP client.
///
/// The password comes from --password-file or the MAILSEC_PASSWORD environment variable.
/// Credentials are never sent without TLS unless --tls none is combined with
/// --insecure-allow-cleartext-password.
#[derive(Debug, Parser)]
#[command(name = "mailsec-imap", version)]
struct Cli {
    /// How to secure the connection: implicit (TLS from the first byte, port 993),
    /// starttls (STARTTLS required before login, port 143), none (no TLS at all, port 143).
    #[arg(long, value_enum, default_value_t = TlsMode::Implicit)]
    tls: TlsMode,
    /// PEM file of CA certificates to trust [default: the Mozilla root program].
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Name the server certificate must carry [default: the host of HOST[:PORT]].
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
    /// User name [default: $USER].
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Read the password from the first line of this file [default: $MAILSEC_PASSWORD].
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// With --tls none: send the password in clear anyway (closed test networks only).
    #[arg(long)]
    insecure_allow_cleartext_password: bool,
    /// The server, host or host:port ([v6]:port); the port defaults to 993, or 143 with
    /// --tls starttls / none.
    #[arg(value_name = "HOST[:PORT]")]
    server: String,
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TlsMode {
    /// TLS from the first byte (RFC 8314).
    Implicit,
    /// Plaintext greeting, then STARTTLS (RFC 9051 §6.2.1); fails if the server does not
    /// offer it.
    Starttls,
    /// No TLS.
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SeenState {
    /// Set \Seen.
    Seen,
    /// Clear \Seen.
    Unseen,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the folders, with their special use (\Sent, \Trash, …) when the server says.
    Folders,
    /// List the messages of a folder (read-only): UID, flags, size, date, sender, subject.
    List {
        /// The folder.
        #[arg(default_value = "INBOX")]
        folder: String,
    },
    /// Print a message (or write it to --output byte for byte). Reading alone does not mark
    /// it seen.
    Read {
        /// The folder.
        #[arg(long, default_value = "INBOX")]
        folder: String,
        /// The message's UID (see `list`).
        uid: u32,
        /// Set \Seen once the message was written.
        #[arg(long)]
        mark_seen: bool,
        /// Write the message to this file, unchanged, instead of standard output (where
        /// bytes other than printable ASCII, CR, LF and TAB are shown as `?`).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Set or clear the \Seen flag of a message.
    Mark {
        /// The folder.
        #[arg(long, default_value = "INBOX")]
        folder: String,
        /// The message's UID.
        uid: u32,
        /// seen or unseen.
        #[arg(value_enum)]
        state: SeenState,
    },
    /// Move a message to another folder.
    Move {
        /// The folder.
        #[arg(long, default_value = "INBOX")]
        folder: String,
        /// The message's UID.
        uid: u32,
        /// The destination folder.
        dest: String,
    },
}

fn password(cli: &Cli) -> Result<String, String> {
    if let Some(path) = &cli.password_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return Ok(text.lines().next().unwrap_or_default().to_owned());
    }
    std::env::var("MAILSEC_PASSWORD")
        .map_err(|_| "give --password-file FILE or set MAILSEC_PASSWORD".into())
}

/// A writer for a terminal: a message cannot send escape sequences through it.
struct Printable<W>(W);

impl<W: Write> Write for Printable<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let shown: Vec<u8> = buf
            .iter()
            .map(|&b| match b {
                b'\r' | b'\n' | b'\t' | 0x20..=0x7e => b,
                _ => b'?',
            })
            .collect();
        self.0.write_all(&shown)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let password = password(&cli)?;
    let tls = match cli.tls {
        TlsMode::Implicit => ClientTls::Implicit,
        TlsMode::Starttls => ClientTls::StartTlsRequired,
        TlsMode::None => ClientTls::InsecurePlaintext,
    };
    let user = match &cli.user {
        Some(u) => u.clone(),
        None => std::env::var("USER").map_err(|_| "give --user USER")?,
    };
    let mut options = ConnectOptions::new(with_default_port(&cli.server, tls), user, password);
    if let Some(name) = &cli.server_name {
        options.server_name = name.clone();
    }
    options.tls = tls;
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
        options.user,
        login.auth,
        login
            .tls
            .map_or("WITHOUT TLS".to_owned(), |t| format!("over {t}"))
    );
    let result = command(&mut session, cli.command).await;
    for alert in session.take_alerts() {
        eprintln!("server alert: {alert}");
    }
    result?;
    session.logout().await.map_err(|e| e.to_string())
}

async fn command(session: &mut Session, command: Command) -> Result<(), String> {
    match command {
        Command::Folders => {
            for f in session.folders().await.map_err(|e| e.to_string())? {
                let special = f
                    .special_use
                    .map(|u| format!("\\{}", u.name()))
                    .unwrap_or_else(|| "-".to_owned());
                println!("{}\t{special}\t{}", f.name, f.attributes.join(" "));
            }
        }
        Command::List { folder } => {
            let list = session.messages(&folder).await.map_err(|e| e.to_string())?;
            println!("{}: {} messages", list.folder, list.messages.len());
            for m in &list.messages {
                let h = &m.headers;
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    m.uid,
                    if m.flags.is_empty() {
                        "-".to_owned()
                    } else {
                        m.flags.join(" ")
                    },
                    m.size,
                    h.date.as_deref().unwrap_or("-"),
                    h.from.as_deref().unwrap_or("-"),
                    h.subject.as_deref().unwrap_or("-"),
                );
            }
        }
        Command::Read {
            folder,
            uid,
            mark_seen,
            output,
        } => {
            let report = match &output {
                Some(path) => {
                    let mut file = std::fs::File::create(path)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    let report = session
                        .read(&folder, uid, &mut file, mark_seen)
                        .await
                        .map_err(|e| e.to_string())?;
                    file.sync_all()
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    report
                }
                None => {
                    let mut out = Printable(std::io::stdout().lock());
                    session
                        .read(&folder, uid, &mut out, mark_seen)
                        .await
                        .map_err(|e| e.to_string())?
                }
            };
            eprintln!(
                "UID {}: {} octets{}",
                report.uid,
                report.size,
                if report.marked_seen {
                    ", marked seen"
                } else {
                    ""
                }
            );
        }
        Command::Mark { folder, uid, state } => {
            session
                .mark(&folder, uid, state == SeenState::Seen)
                .await
                .map_err(|e| e.to_string())?;
            println!("UID {uid} of {folder} marked {state:?}");
        }
        Command::Move { folder, uid, dest } => {
            let report = session
                .move_to(&folder, uid, &dest)
                .await
                .map_err(|e| e.to_string())?;
            match report.new_uid {
                Some(new) => println!("UID {uid} of {folder} moved to {dest} (UID {new})"),
                None => println!("UID {uid} of {folder} moved to {dest}"),
            }
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mailsec-imap: {err}");
            ExitCode::FAILURE
        }
    }
}
