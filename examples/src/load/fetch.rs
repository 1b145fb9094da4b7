//! The skeleton shared by the mailbox-reading workloads ([`imap`](super::imap) and
//! [`pop3`](super::pop3)): connect, log in (STARTTLS or implicit TLS per mode), list the
//! mailbox (part of the set-up), then [`LoadOptions::count`](super::LoadOptions::count)
//! whole-message reads round robin over the listing, starting at a different message per
//! connection, and close. Each protocol says how to do each step ([`Reader`]).
//!
//! The octets the listing takes on the wire (each way, at the socket) are counted on their
//! own ([`Collector::listed`](super::stats::Collector::listed)): the report keeps them out of
//! the per-operation and wire/payload figures, whose listing cost grows with the mailbox and
//! not with the operations, and shows them apart.

use std::future::Future;
use std::time::Instant;

use crate::pop3_fetch::{ConnectOptions, Trust};

use super::stats::{ErrorKind, Failure};
use super::{Ctx, Link, LoadStream, Mode};

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

/// A logged-in mailbox session of one protocol, as the workload drives it.
pub(crate) trait Reader: Sized + Send {
    /// The session's error.
    type Error;
    /// What names one message to read (an IMAP UID, a POP3 message number).
    type Message: Copy + Send + Sync;
    /// The listing step, as timeouts name it.
    const LISTING: &'static str;
    /// One read, as timeouts name it.
    const READ: &'static str;
    /// The closing command, as timeouts name it.
    const CLOSE: &'static str;
    /// Why a connection with an empty listing fails.
    const EMPTY: &'static str;

    /// Logs in over `stream`.
    fn open(
        stream: LoadStream,
        options: &ConnectOptions,
    ) -> impl Future<Output = Result<Self, Self::Error>> + Send;

    /// Whether the login happened under TLS.
    fn secure(&self) -> bool;

    /// The messages to read, in mailbox order.
    fn list(&mut self) -> impl Future<Output = Result<Vec<Self::Message>, Self::Error>> + Send;

    /// Reads one whole message and drops its bytes; returns its size.
    fn read(
        &mut self,
        message: Self::Message,
    ) -> impl Future<Output = Result<u64, Self::Error>> + Send;

    /// Ends the session (LOGOUT, QUIT).
    fn close(self) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The failure an error is counted as; errors of the `setup` steps (login, listing) that
    /// are not transport errors count as login failures.
    fn failure(err: Self::Error, setup: bool) -> Failure;
}

/// One connection of a mailbox-reading workload; records its successes, and the octets the
/// listing took on this connection, in the context. The worker drains the socket afterwards.
pub(crate) async fn connection<R: Reader>(
    ctx: &Ctx,
    link: &Link,
    index: usize,
) -> Result<(), Failure> {
    let options = connect_options(ctx)?;
    let start = Instant::now();
    let stream = ctx.connect(link).await?;
    let mut session = ctx
        .timed("the login", R::open(stream, &options))
        .await?
        .map_err(|e| R::failure(e, true))?;
    let (written, read) = (link.count.written(), link.count.read());
    let listed = ctx.timed(R::LISTING, session.list()).await;
    ctx.stats()
        .listed(link.count.written() - written, link.count.read() - read);
    let messages = listed?.map_err(|e| R::failure(e, true))?;
    ctx.stats()
        .connected(start.elapsed(), session.secure() && ctx.mode != Mode::None);
    if messages.is_empty() {
        return Err(Failure::new(ErrorKind::Session, R::EMPTY));
    }
    for i in 0..ctx.options.count {
        let message = messages[(index + i) % messages.len()];
        let t = Instant::now();
        let size = ctx
            .timed(R::READ, session.read(message))
            .await?
            .map_err(|e| R::failure(e, false))?;
        ctx.stats().operation(t.elapsed(), size);
        ctx.progress.inc(1);
    }
    ctx.timed(R::CLOSE, session.close())
        .await?
        .map_err(|e| R::failure(e, false))
}
