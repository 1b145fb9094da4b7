//! The POP3 workload over [`pop3_fetch::Session`](crate::pop3_fetch::Session): log in (STLS or
//! implicit TLS per mode), STAT/LIST/UIDL (part of the set-up), then
//! [`LoadOptions::count`](super::LoadOptions::count) RETRs, round robin over the maildrop
//! starting at a different message per connection, and QUIT. Nothing is deleted.
//!
//! POP3 servers lock the maildrop (RFC 1939 §8): a server that allows one session per user at
//! a time refuses the other concurrent connections of the same user (reported as `login`
//! failures); Dovecot allows several.

use mailsec_pop3::MessageNumber;

use crate::pop3_fetch::{ConnectOptions, FetchError, Session};

use super::fetch::{self, Reader};
use super::stats::{ErrorKind, Failure};
use super::{Ctx, Link, LoadStream};

impl Reader for Session<LoadStream> {
    type Error = FetchError;
    type Message = MessageNumber;
    const LISTING: &'static str = "STAT/LIST/UIDL";
    const READ: &'static str = "a RETR";
    const CLOSE: &'static str = "QUIT";
    const EMPTY: &'static str = "the maildrop is empty: nothing to fetch";

    async fn open(stream: LoadStream, options: &ConnectOptions) -> Result<Self, FetchError> {
        Session::over_stream(stream, options).await
    }

    fn secure(&self) -> bool {
        self.login().secure
    }

    async fn list(&mut self) -> Result<Vec<MessageNumber>, FetchError> {
        let listing = Session::list(self).await?;
        Ok(listing.messages.iter().map(|m| m.msg).collect())
    }

    async fn read(&mut self, msg: MessageNumber) -> Result<u64, FetchError> {
        self.retr_discard(msg).await
    }

    async fn close(self) -> Result<(), FetchError> {
        self.quit().await.map(|_| ())
    }

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
}

/// One connection of the POP3 workload; records its successes in the context.
pub(crate) async fn connection(ctx: &Ctx, link: &Link, index: usize) -> Result<(), Failure> {
    fetch::connection::<Session<LoadStream>>(ctx, link, index).await
}
