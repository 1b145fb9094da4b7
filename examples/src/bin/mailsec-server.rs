//! `mailsec-server`: the example mail server.
//!
//! Loads the users file, opens the maildir, loads or generates the TLS material, binds the
//! listeners that are on, prints where each listens, and serves until Ctrl-C or `SIGTERM`,
//! then shuts down gracefully (SMTP sessions get `421`). See `mailsec-server --help` and the
//! [`mailsec_examples::server_cli`] module for the options.
//!
//! Protocols: SMTP (MX, submission with STARTTLS, submission over implicit TLS) is served by
//! [`mailsec_examples::smtp_service`]; POP3 (STLS with "require secure channel", and POP3S) by
//! [`mailsec_examples::pop3_service`], from the same maildir; IMAP (STARTTLS with "require secure
//! channel", and IMAPS) by [`mailsec_examples::imap_service`] over that maildir's folders
//! ([`mailsec_examples::imap_store`]). Each protocol is one arm in [`serve_listener`].
//!
//! `mailsec-server hash-password <user> [--scheme …]` reads a password on standard input and
//! prints a users-file line.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mailsec_examples::imap_service;
use mailsec_examples::imap_store::MaildirStore;
use mailsec_examples::listener::{Listener, ServeReport};
use mailsec_examples::maildir::Maildir;
use mailsec_examples::pop3_service;
use mailsec_examples::server_cli::{
    CertSource, ListenerKind, ServerArgs, ServerCli, ServerCommand, cancel_on_signal,
    hash_password_command,
};
use mailsec_examples::smtp_service::{self, SmtpSettings};
use mailsec_examples::users::Users;
use mailsec_imap::server::StoreRefusal;
use mailsec_imap::store::MailStore;
use tokio_util::sync::CancellationToken;

/// What every listener's sessions share. The users file is loaded once: the SASL mechanisms
/// every listener offers are derived from these [`Users`] ([`Users::mechanisms`]).
struct Shared {
    args: ServerArgs,
    users: Arc<Users>,
    maildir: Arc<Maildir>,
    smtp: Arc<SmtpSettings>,
}

/// Serves one bound listener with the machine of its protocol until `shutdown`; `None` for a
/// kind this server does not serve yet (the listener is dropped, closing its socket).
fn serve_listener(
    kind: ListenerKind,
    listener: Listener,
    shared: &Shared,
    shutdown: CancellationToken,
) -> Result<Option<tokio::task::JoinHandle<ServeReport>>, String> {
    match kind {
        ListenerKind::SmtpMx | ListenerKind::SmtpSubmission | ListenerKind::Smtps => {
            let config = smtp_service::server_config(kind, &shared.args, &shared.users)
                .map_err(|e| e.to_string())?;
            Ok(Some(tokio::spawn(smtp_service::serve(
                listener,
                config,
                shared.users.clone(),
                shared.maildir.clone(),
                shared.smtp.clone(),
                shutdown,
            ))))
        }
        ListenerKind::Pop3 | ListenerKind::Pop3s => {
            let config = pop3_service::pop3_config(
                kind,
                shared.args.allow_plaintext_auth,
                &shared.args.hostname,
                &shared.users,
            )
            .map_err(|e| e.to_string())?;
            let service = pop3_service::Pop3Service::new(
                config,
                shared.maildir.clone(),
                shared.users.clone(),
            );
            Ok(Some(tokio::spawn(service.serve(listener, shutdown))))
        }
        ListenerKind::Imap | ListenerKind::Imaps => {
            let config = imap_service::imap_config(
                kind,
                shared.args.allow_plaintext_auth,
                &shared.args.hostname,
                &shared.users,
            )
            .map_err(|e| e.to_string())?;
            let (maildir, hostname) = (shared.maildir.clone(), shared.args.hostname.clone());
            let opener: imap_service::StoreOpener =
                Arc::new(
                    move |user: &str| match MaildirStore::open(&maildir, user, &hostname) {
                        Ok(store) => Ok(Box::new(store) as Box<dyn MailStore>),
                        Err(err) => {
                            eprintln!("imap: cannot open the mailboxes of {user}: {err}");
                            Err(StoreRefusal::Unavailable)
                        }
                    },
                );
            let service = imap_service::ImapService::new(config, shared.users.clone(), opener);
            Ok(Some(tokio::spawn(service.serve(listener, shutdown))))
        }
        _ => Ok(None),
    }
}

async fn run(args: ServerArgs) -> Result<(), String> {
    let users = args.load_users().map_err(|e| e.to_string())?;
    for warning in users.warnings() {
        eprintln!("warning: users file: {warning}");
    }
    if users.is_empty() {
        eprintln!("note: no users (--users): nobody can log in and no mail is accepted");
    } else if !users.all_have_scram() {
        // Mechanisms are announced before the user is known: see `Users::mechanisms`.
        eprintln!(
            "note: SCRAM-SHA-256 not offered: no scram-sha-256 line for {}",
            users.without_scram().join(", ")
        );
    }
    let maildir = args.open_maildir().map_err(|e| e.to_string())?;
    let tls = args.tls_material().map_err(|e| e.to_string())?;
    match &tls.source {
        CertSource::Generated { ca_path } => println!(
            "generated a demo certificate for {} (also valid for localhost and 127.0.0.1); trust its CA: {}",
            args.hostname,
            ca_path.display()
        ),
        CertSource::Files { cert, .. } => println!("certificate: {}", cert.display()),
        _ => {}
    }
    let shutdown = CancellationToken::new();
    let mut reloader = None;
    if let Some(r) = tls.reloader() {
        reloader = Some(r.spawn(args.reload_every(), shutdown.clone(), |outcome| {
            println!("certificate reload: {outcome:?}")
        }));
    }
    let listeners = args.bind_listeners(&tls).await.map_err(|e| e.to_string())?;
    let shared = Shared {
        smtp: Arc::new(SmtpSettings::new(&args.hostname)),
        args,
        users,
        maildir,
    };
    let mut tasks = Vec::new();
    for (kind, listener) in listeners {
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        match serve_listener(kind, listener, &shared, shutdown.clone())? {
            Some(task) => {
                println!("{:<16} listening on {addr}", kind.name());
                tasks.push((kind, task));
            }
            None => println!(
                "{:<16} not served yet ({addr} released; use --{} off)",
                kind.name(),
                kind.name()
            ),
        }
    }
    if tasks.is_empty() {
        return Err("no listener to serve".to_owned());
    }
    println!("serving; Ctrl-C or SIGTERM stops");
    let signals = cancel_on_signal(shutdown.clone());
    shutdown.cancelled().await;
    println!("shutting down");
    for (kind, task) in tasks {
        match task.await {
            Ok(report) => println!(
                "{}: {} connection(s), {} aborted at shutdown",
                kind.name(),
                report.accepted,
                report.aborted
            ),
            Err(e) => eprintln!("{}: {e}", kind.name()),
        }
    }
    signals.abort();
    if let Some(r) = reloader {
        r.abort();
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = ServerCli::parse();
    if let Some(command) = &cli.command {
        return match command {
            ServerCommand::HashPassword(args) => {
                match hash_password_command(args, std::io::stdin().lock()) {
                    Ok(line) => {
                        println!("{line}");
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("mailsec-server: {e}");
                        ExitCode::FAILURE
                    }
                }
            }
            _ => {
                eprintln!("mailsec-server: unknown command");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailsec-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.server)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailsec-server: {e}");
            ExitCode::FAILURE
        }
    }
}
