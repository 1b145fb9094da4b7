//! The IMAP workload, an [`imap_mail::Session`](crate::imap_mail::Session) (the
//! `mailsec-imap` tool's client session) over the counted socket: log in (STARTTLS or implicit TLS per mode), list INBOX (`EXAMINE` and `UID SEARCH ALL`: the
//! UIDs only, part of the set-up), then [`LoadOptions::count`](super::LoadOptions::count)
//! whole-message fetches (`UID FETCH uid (UID FLAGS BODY.PEEK[])`, streamed and dropped,
//! nothing marked `\Seen`; the size reported is the literal's), round robin over the UIDs in
//! ascending order starting at a different one per connection, and LOGOUT. Read-only: the
//! mailbox is left as it was.
//!
//! The listing asks for no sizes or headers: over a mailbox of many messages a header FETCH
//! of all of them would cost more octets than the fetches measured. What the listing does
//! cost is reported apart ([`ModeReport::listing_bytes_to_client`](super::ModeReport)).

use crate::imap_mail::{ImapError, Session};
use crate::pop3_fetch::ConnectOptions;

use super::fetch::{self, Reader};
use super::stats::{ErrorKind, Failure};
use super::{Ctx, Link, LoadStream};

/// The folder the workload reads.
const FOLDER: &str = "INBOX";

/// A logged-in IMAP session of the workload: [`imap_mail`](crate::imap_mail)'s session over
/// the counted socket.
pub(crate) struct ImapLoad {
    session: Session<LoadStream>,
}

impl Reader for ImapLoad {
    type Error = ImapError;
    type Message = u32;
    const LISTING: &'static str = "listing INBOX";
    const READ: &'static str = "a fetch";
    const CLOSE: &'static str = "LOGOUT";
    const EMPTY: &'static str = "INBOX is empty: nothing to fetch";

    async fn open(stream: LoadStream, options: &ConnectOptions) -> Result<Self, ImapError> {
        let session = Session::over_stream(stream, options).await?;
        Ok(ImapLoad { session })
    }

    fn secure(&self) -> bool {
        self.session.login().secure
    }

    async fn list(&mut self) -> Result<Vec<u32>, ImapError> {
        self.session.uids(FOLDER).await
    }

    async fn read(&mut self, uid: u32) -> Result<u64, ImapError> {
        // Streamed and dropped; read-only (nothing marked \Seen).
        let report = self
            .session
            .read(FOLDER, uid, &mut std::io::sink(), false)
            .await?;
        Ok(report.size)
    }

    async fn close(self) -> Result<(), ImapError> {
        self.session.logout().await
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
pub(crate) async fn connection(ctx: &Ctx, link: &Link, index: usize) -> Result<(), Failure> {
    fetch::connection::<ImapLoad>(ctx, link, index).await
}
