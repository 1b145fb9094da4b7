//! The IMAP workload over [`imap_mail::Session`](crate::imap_mail::Session): log in (STARTTLS
//! or implicit TLS per mode), list INBOX (`EXAMINE` and a header FETCH: part of the set-up),
//! then [`LoadOptions::count`](super::LoadOptions::count) whole-message fetches
//! (`UID FETCH uid (BODY.PEEK[])`, nothing marked `\Seen`), round robin over the messages in
//! INBOX starting at a different one per connection, and LOGOUT. Read-only: the mailbox is
//! left as it was.

use std::time::Instant;

use crate::imap_mail::{ImapError, Session};
use crate::pop3_fetch::{ConnectOptions, Trust};

use super::stats::{ErrorKind, Failure};
use super::{Ctx, Mode};

/// The mailbox fetched from.
const FOLDER: &str = "INBOX";

/// The connection options of the IMAP and POP3 readers for this mode.
pub(crate) fn connect_options(ctx: &Ctx) -> Result<ConnectOptions, Failure> {
    let login = ctx
        .options
        .login
        .as_ref()
        .ok_or_else(|| Failure::new(ErrorKind::Login, "no credentials"))?;
    let mut o = ConnectOptions::new(ctx.address.clone(), login.user.clone(), "");
    o.password = login.password.clone();
    o.server_name = ctx.options.server_name.clone();
    o.tls = ctx.mode.client_tls();
    if let Some(config) = &ctx.options.tls_config {
        o.trust = Trust::Config(config.clone());
    }
    o.allow_cleartext_credentials =
        ctx.mode == Mode::None && ctx.options.allow_cleartext_credentials;
    Ok(o)
}

fn failure(err: ImapError, setup: bool) -> Failure {
    let kind = match &err {
        ImapError::Connect { .. } => ErrorKind::Connect,
        ImapError::TlsConfig(_) | ImapError::Tls(_) => ErrorKind::Tls,
        ImapError::Io(_) => ErrorKind::Io,
        _ if setup => ErrorKind::Login,
        ImapError::Command { .. } | ImapError::NoSuchMessage { .. } => ErrorKind::Refused,
        _ => ErrorKind::Session,
    };
    Failure::new(kind, err)
}

/// One connection of the IMAP workload; records its successes in the context.
pub(crate) async fn connection(ctx: &Ctx, index: usize) -> Result<(), Failure> {
    let options = connect_options(ctx)?;
    let start = Instant::now();
    let (stream, slot) = ctx.connect().await?;
    let mut session = ctx
        .timed("the login", Session::over_stream(stream, &options))
        .await?
        .map_err(|e| failure(e, true))?;
    let list = ctx
        .timed("listing INBOX", session.messages(FOLDER))
        .await?
        .map_err(|e| failure(e, true))?;
    ctx.stats().connected(
        start.elapsed(),
        session.login().secure && ctx.mode != Mode::None,
    );
    let uids: Vec<u32> = list.messages.iter().map(|m| m.uid).collect();
    if uids.is_empty() {
        return Err(Failure::new(
            ErrorKind::Session,
            "INBOX is empty: nothing to fetch",
        ));
    }
    for i in 0..ctx.options.count {
        let uid = uids[(index + i) % uids.len()];
        let t = Instant::now();
        let report = ctx
            .timed(
                "a fetch",
                session.read(FOLDER, uid, &mut std::io::sink(), false),
            )
            .await?
            .map_err(|e| failure(e, false))?;
        ctx.stats().operation(t.elapsed(), report.size);
        ctx.progress.inc(1);
    }
    let result = ctx
        .timed("LOGOUT", session.logout())
        .await?
        .map_err(|e| failure(e, false));
    if result.is_ok() {
        ctx.drain(slot).await;
    }
    result
}
