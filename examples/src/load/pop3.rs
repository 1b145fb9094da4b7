//! The POP3 workload over [`pop3_fetch::Session`](crate::pop3_fetch::Session): log in (STLS or
//! implicit TLS per mode), STAT/LIST/UIDL (part of the set-up), then
//! [`LoadOptions::count`](super::LoadOptions::count) RETRs, round robin over the maildrop
//! starting at a different message per connection, and QUIT. Nothing is deleted.
//!
//! POP3 servers lock the maildrop (RFC 1939 §8): a server that allows one session per user at
//! a time refuses the other concurrent connections of the same user (reported as `login`
//! failures); Dovecot allows several.

use std::time::Instant;

use crate::pop3_fetch::{FetchError, Session};

use super::imap::connect_options;
use super::stats::{ErrorKind, Failure};
use super::{Ctx, Mode};

fn failure(err: FetchError, setup: bool) -> Failure {
    let kind = match &err {
        FetchError::Connect { .. } => ErrorKind::Connect,
        FetchError::TlsConfig(_) | FetchError::Tls(_) => ErrorKind::Tls,
        FetchError::Io(_) => ErrorKind::Io,
        _ if setup => ErrorKind::Login,
        FetchError::Command(_) | FetchError::MessageTooLarge { .. } => ErrorKind::Refused,
        _ => ErrorKind::Session,
    };
    Failure::new(kind, err)
}

/// One connection of the POP3 workload; records its successes in the context.
pub(crate) async fn connection(ctx: &Ctx, index: usize) -> Result<(), Failure> {
    let options = connect_options(ctx)?;
    let start = Instant::now();
    let (stream, slot) = ctx.connect().await?;
    let mut session = ctx
        .timed("the login", Session::over_stream(stream, &options))
        .await?
        .map_err(|e| failure(e, true))?;
    let listing = ctx
        .timed("STAT/LIST/UIDL", session.list())
        .await?
        .map_err(|e| failure(e, true))?;
    ctx.stats().connected(
        start.elapsed(),
        session.login().secure && ctx.mode != Mode::None,
    );
    let messages: Vec<_> = listing.messages.iter().map(|m| m.msg).collect();
    if messages.is_empty() {
        return Err(Failure::new(
            ErrorKind::Session,
            "the maildrop is empty: nothing to fetch",
        ));
    }
    for i in 0..ctx.options.count {
        let msg = messages[(index + i) % messages.len()];
        let t = Instant::now();
        let size = ctx
            .timed("a RETR", session.retr_discard(msg))
            .await?
            .map_err(|e| failure(e, false))?;
        ctx.stats().operation(t.elapsed(), size);
        ctx.progress.inc(1);
    }
    let result = ctx
        .timed("QUIT", session.quit())
        .await?
        .map(|_| ())
        .map_err(|e| failure(e, false));
    if result.is_ok() {
        ctx.drain(slot).await;
    }
    result
}
