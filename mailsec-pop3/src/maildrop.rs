//! The application's maildrop, as the [server machine](crate::server) sees it.
//!
//! The machine never reads or deletes messages itself (it does no I/O): after a successful
//! login it asks the application to open the maildrop
//! ([`ServerEvent::OpenMaildrop`](crate::server::ServerEvent::OpenMaildrop)), takes a
//! [`Maildrop`] and reads its [`messages`](Maildrop::messages) snapshot **once**: message
//! numbers, sizes and unique-ids are fixed for the session (RFC 1939 §5: "message numbers …
//! do not change during the session"). Message content is asked for with an event
//! ([`ServerEvent::Retrieve`](crate::server::ServerEvent::Retrieve)) and streamed by the
//! application; deletions are handed over at the end, in the UPDATE state
//! ([`ServerEvent::Update`](crate::server::ServerEvent::Update)).
//!
//! [`MemoryMaildrop`] keeps messages in memory, for tests and small tools.
//!
//! ```
//! use mailsec_pop3::maildrop::{Maildrop, MemoryMaildrop};
//!
//! let mut drop = MemoryMaildrop::new();
//! drop.push("uid-1", &b"Subject: one\r\n\r\nHello\r\n"[..])?;
//! drop.push("uid-2", &b"Subject: two\r\n\r\n.dot\r\n"[..])?;
//! let listing = drop.messages();
//! assert_eq!(listing.len(), 2);
//! assert_eq!(listing[0].size, 23);
//! assert_eq!(listing[1].uid.as_bytes(), b"uid-2");
//! assert_eq!(drop.content(listing[1].uid.as_bytes()), Some(&b"Subject: two\r\n\r\n.dot\r\n"[..]));
//! # Ok::<(), mailsec_pop3::ParseError>(())
//! ```

use std::sync::Arc;

use crate::error::ParseError;
use crate::types::UniqueId;

/// One message of a maildrop listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    /// The exact size in octets **as transmitted**: with CRLF line endings, before
    /// dot-stuffing (RFC 1939 §5, LIST). A maildir stored with LF endings must count one more
    /// octet per line.
    pub size: u64,
    /// The unique-id (RFC 1939 §7, UIDL): stable across sessions, never reused.
    pub uid: UniqueId,
}

impl MessageInfo {
    /// A listing entry.
    pub fn new(size: u64, uid: UniqueId) -> Self {
        MessageInfo { size, uid }
    }
}

/// A maildrop opened (and locked) by the application for one session.
///
/// The machine calls [`messages`](Maildrop::messages) once, right after
/// [`Pop3Server::open_maildrop`](crate::server::Pop3Server::open_maildrop); the order of the
/// listing gives the message numbers (the first entry is message 1). The lock is the
/// application's: it releases it when the session reports
/// [`ServerEvent::Closed`](crate::server::ServerEvent::Closed), whatever the reason.
pub trait Maildrop: Send {
    /// The messages of the maildrop at the time it was opened, in message-number order.
    fn messages(&self) -> Vec<MessageInfo>;
}

impl Maildrop for Vec<MessageInfo> {
    fn messages(&self) -> Vec<MessageInfo> {
        self.clone()
    }
}

/// A maildrop held in memory: unique-ids and contents. Sizes are
/// [`transmitted_size`]s, right for the server's default line-ending conversion. Cloning is cheap
/// (the contents are shared), so a test can hand one clone to the machine and serve
/// [`ServerEvent::Retrieve`](crate::server::ServerEvent::Retrieve) from another with
/// [`Pop3Server::serve_message`](crate::server::Pop3Server::serve_message).
#[derive(Clone, Debug, Default)]
pub struct MemoryMaildrop {
    messages: Vec<(UniqueId, Arc<[u8]>)>,
}

impl MemoryMaildrop {
    /// An empty maildrop.
    pub fn new() -> Self {
        MemoryMaildrop::default()
    }

    /// Adds a message. Fails if `uid` is not a valid unique-id (1–70 octets of 0x21–0x7E).
    pub fn push(&mut self, uid: &str, content: impl Into<Vec<u8>>) -> Result<(), ParseError> {
        let uid = UniqueId::new(uid.as_bytes())?;
        self.messages.push((uid, Arc::from(content.into())));
        Ok(())
    }

    /// The content of the message with this unique-id.
    pub fn content(&self, uid: &[u8]) -> Option<&[u8]> {
        self.messages
            .iter()
            .find(|(u, _)| u.as_bytes() == uid)
            .map(|(_, c)| &c[..])
    }

    /// Removes the messages with these unique-ids (what an application does in UPDATE);
    /// returns how many were removed.
    pub fn remove<'a>(&mut self, uids: impl IntoIterator<Item = &'a UniqueId>) -> usize {
        let before = self.messages.len();
        let uids: Vec<&UniqueId> = uids.into_iter().collect();
        self.messages.retain(|(u, _)| !uids.contains(&u));
        before - self.messages.len()
    }

    /// How many messages.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether the maildrop is empty.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

impl Maildrop for MemoryMaildrop {
    fn messages(&self) -> Vec<MessageInfo> {
        self.messages
            .iter()
            .map(|(uid, content)| MessageInfo::new(transmitted_size(content), uid.clone()))
            .collect()
    }
}

/// The size a message stored as `content` has on the wire (RFC 1939 §5, LIST) when the
/// server converts bare line endings to CRLF
/// ([`BareLineEndings::ToCrlf`](crate::multiline::BareLineEndings::ToCrlf), its default):
/// one more octet for each LF not preceded by CR and each CR not followed by LF. For a
/// message stored with CRLF endings, its length. Dot-stuffing and the terminator are not
/// counted; neither is the CRLF the server adds when the content does not end with a line end.
///
/// ```
/// use mailsec_pop3::maildrop::transmitted_size;
/// assert_eq!(transmitted_size(b"Subject: x\r\n\r\nbody\r\n"), 20);
/// assert_eq!(transmitted_size(b"Subject: x\n\nbody\n"), 20);
/// ```
pub fn transmitted_size(content: &[u8]) -> u64 {
    let mut size = content.len() as u64;
    for (i, &b) in content.iter().enumerate() {
        let bare = match b {
            b'\n' => i == 0 || content[i - 1] != b'\r',
            b'\r' => content.get(i + 1) != Some(&b'\n'),
            _ => false,
        };
        if bare {
            size += 1;
        }
    }
    size
}
