//! The IMAP workload over [`imap_mail::Session`](crate::imap_mail::Session): log in (STARTTLS
//! or implicit TLS per mode), list INBOX (`EXAMINE` and a header FETCH: part of the set-up),
//! then [`LoadOptions::count`](super::LoadOptions::count) whole-message fetches
//! (`UID FETCH uid (BODY.PEEK[])`, nothing marked `\Seen`), round robin over the messages in
//! INBOX starting at a different one per connection, and LOGOUT. Read-only: the mailbox is
//! left as it was.

use crate::imap_mail::{ImapError, Session};
use crate::pop3_fetch::ConnectOptions;

use super::fetch::{self, Reader};
use super::stats::{ErrorKind, Failure};
use super::{Ctx, LoadStream};

/// The mailbox fetched from.
const FOLDER: &str = "INBOX";

impl Reader for Session<LoadStream> {
    type Error = ImapError;
    type Message = u32;
    const LISTING: &'static str = "listing INBOX";
    const READ: &'static str = "a fetch";
    const CLOSE: &'static str = "LOGOUT";
    const EMPTY: &'static str = "INBOX is empty: nothing to fetch";

    async fn open(stream: LoadStream, options: &ConnectOptions) -> Result<Self, ImapError> {
        Session::over_stream(stream, options).await
    }

    fn secure(&self) -> bool {
        self.login().secure
    }

    async fn list(&mut self) -> Result<Vec<u32>, ImapError> {
        let list = self.messages(FOLDER).await?;
        Ok(list.messages.iter().map(|m| m.uid).collect())
    }

    async fn read(&mut self, uid: u32) -> Result<u64, ImapError> {
        let report = Session::read(self, FOLDER, uid, &mut std::io::sink(), false).await?;
        Ok(report.size)
    }

    async fn close(self) -> Result<(), ImapError> {
        self.logout().await
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
}

/// One connection of the IMAP workload; records its successes in the context.
pub(crate) async fn connection(ctx: &Ctx, index: usize) -> Result<(), Failure> {
    fetch::connection::<Session<LoadStream>>(ctx, index).await
}
