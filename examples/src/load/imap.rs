//! The IMAP workload, driving [`mailsec_imap::client::Client`] over the counted socket: log
//! in (STARTTLS or implicit TLS per mode), list INBOX (`EXAMINE` and `UID SEARCH ALL`: the
//! UIDs only, part of the set-up), then [`LoadOptions::count`](super::LoadOptions::count)
//! whole-message fetches (`UID FETCH uid (UID FLAGS BODY.PEEK[])`, streamed and dropped,
//! nothing marked `\Seen`; the size reported is the literal's), round robin over the UIDs in
//! ascending order starting at a different one per connection, and LOGOUT. Read-only: the
//! mailbox is left as it was.
//!
//! The listing asks for no sizes or headers: over a mailbox of many messages a header FETCH
//! of all of them would cost more octets than the fetches measured. What the listing does
//! cost is reported apart ([`ModeReport::listing_bytes_to_client`](super::ModeReport)).

use std::time::Instant;

use mailsec_imap::client::{Client, ClientEvent, RequestId};
use mailsec_imap::types::SearchKey;
use mailsec_tls::ClientTls;
use mailsec_tls::driver::{Driver, TokioTimer};

use crate::imap_mail::{ImapError, client_config};
use crate::pop3_fetch::ConnectOptions;

use super::fetch::{self, Reader};
use super::stats::{ErrorKind, Failure};
use super::{Ctx, Link, LoadStream};

/// The mailbox fetched from.
const FOLDER: &str = "INBOX";

/// A logged-in IMAP session of the workload.
pub(crate) struct ImapLoad {
    driver: Driver<Client, LoadStream, TokioTimer>,
    secure: bool,
}

impl ImapLoad {
    /// The next event; the end of the session is [`ImapError::Closed`].
    async fn event(&mut self) -> Result<ClientEvent, ImapError> {
        self.driver.next_event().await?.ok_or(ImapError::Closed)
    }

    fn refused(action: &str, error: mailsec_imap::client::CommandError) -> ImapError {
        ImapError::Command {
            action: action.to_owned(),
            error: Box::new(error),
        }
    }

    /// `EXAMINE INBOX`.
    async fn examine(&mut self) -> Result<(), ImapError> {
        let id: RequestId = self.driver.machine_mut().examine(Instant::now(), FOLDER)?;
        loop {
            match self.event().await? {
                ClientEvent::Selected { id: i, .. } if i == id => return Ok(()),
                ClientEvent::Failed { id: i, error } if i == id => {
                    return Err(Self::refused("selecting INBOX", error));
                }
                _ => {}
            }
        }
    }
}

impl Reader for ImapLoad {
    type Error = ImapError;
    type Message = u32;
    const LISTING: &'static str = "listing INBOX";
    const READ: &'static str = "a fetch";
    const CLOSE: &'static str = "LOGOUT";
    const EMPTY: &'static str = "INBOX is empty: nothing to fetch";

    async fn open(stream: LoadStream, options: &ConnectOptions) -> Result<Self, ImapError> {
        let client = Client::new(client_config(options), Instant::now());
        let tls = options.tls_setup().map_err(ImapError::TlsConfig)?;
        let mut driver = match (options.tls, tls) {
            (ClientTls::Implicit, Some(tls)) => {
                Driver::implicit_tls(client, stream, TokioTimer, tls).map_err(ImapError::Tls)?
            }
            (_, tls) => Driver::new(client, stream, TokioTimer, tls),
        };
        loop {
            match driver.next_event().await? {
                None => return Err(ImapError::Closed),
                Some(ClientEvent::Ready { secure, .. }) => {
                    return Ok(ImapLoad { driver, secure });
                }
                Some(_) => {}
            }
        }
    }

    fn secure(&self) -> bool {
        self.secure
    }

    async fn list(&mut self) -> Result<Vec<u32>, ImapError> {
        self.examine().await?;
        let id = self
            .driver
            .machine_mut()
            .search(Instant::now(), vec![SearchKey::All])?;
        loop {
            match self.event().await? {
                ClientEvent::Searched { id: i, mut uids } if i == id => {
                    uids.sort_unstable();
                    uids.dedup();
                    return Ok(uids);
                }
                ClientEvent::Failed { id: i, error } if i == id => {
                    return Err(Self::refused("searching INBOX", error));
                }
                _ => {}
            }
        }
    }

    async fn read(&mut self, uid: u32) -> Result<u64, ImapError> {
        let id = self
            .driver
            .machine_mut()
            .fetch_message_streamed(Instant::now(), uid, false)?;
        let mut size = None;
        let mut started = false;
        loop {
            match self.event().await? {
                ClientEvent::MessageStart {
                    id: i, uid: got, ..
                } if i == id && got.is_none_or(|u| u == uid) && size.is_none() => {
                    started = true;
                }
                ClientEvent::MessageEnd { id: i, size: s, .. } if i == id && started => {
                    started = false;
                    size = Some(s);
                }
                ClientEvent::Completed { id: i, .. } if i == id => break,
                ClientEvent::Failed { id: i, error } if i == id => {
                    return Err(Self::refused(&format!("fetching UID {uid}"), error));
                }
                _ => {}
            }
        }
        size.ok_or_else(|| ImapError::NoSuchMessage {
            folder: FOLDER.to_owned(),
            uid,
        })
    }

    async fn close(mut self) -> Result<(), ImapError> {
        self.driver.machine_mut().logout(Instant::now())?;
        let mut closed = false;
        while let Some(event) = self.driver.next_event().await? {
            if event == ClientEvent::Closed {
                closed = true;
            }
        }
        if closed {
            Ok(())
        } else {
            Err(ImapError::Closed)
        }
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
