//! The mailbox store behind the IMAP server machine: the application's folders and messages.
//!
//! The server machine stays Sans-IO about the network, but it asks the store directly
//! (synchronous calls) for folder listings, message metadata and message bytes, because an IMAP
//! server's commands are mostly questions about the store. A store backed by a local maildir
//! answers quickly; a store backed by something slow should keep a cache.
//!
//! The machine never holds a whole mailbox: it keeps one [`FolderView`] of the selected folder
//! (uids, flags, sizes) and reads message bytes through [`MailStore::open_message`], a chunk at a
//! time, only when the network has room (the driver's pending-output bound gives backpressure).
//!
//! Folder names here are UTF-8 with `/` as the hierarchy delimiter; `INBOX` is matched without
//! regard to case (RFC 9051 §5.1). The machine converts to and from modified UTF-7 on the wire.
//!
//! Messages are identified by their uid in a folder; uids ascend in arrival order and are never
//! reused while the folder's uid validity stays the same (RFC 9051 §2.3.1.1).

use std::io::Read;

mod memory;

pub use memory::MemoryStore;

use crate::types::{DateTime, Flag};

/// A folder as listed (`LIST`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderInfo {
    /// Full name, UTF-8, `/` between levels (`"Archive/2026"`).
    pub name: String,
    /// The folder's special use, if any (RFC 6154).
    pub special_use: Option<SpecialUse>,
    /// Whether it can be selected (`\Noselect` otherwise).
    pub selectable: bool,
    /// Whether the user subscribed to it (`LSUB`, `LIST (SUBSCRIBED)`).
    pub subscribed: bool,
}

impl FolderInfo {
    /// A selectable, subscribed folder without a special use.
    pub fn new(name: impl Into<String>) -> Self {
        FolderInfo {
            name: name.into(),
            special_use: None,
            selectable: true,
            subscribed: true,
        }
    }
}

/// Special-use attributes of RFC 6154 §2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpecialUse {
    /// `\All`.
    All,
    /// `\Archive`.
    Archive,
    /// `\Drafts`.
    Drafts,
    /// `\Flagged`.
    Flagged,
    /// `\Junk`.
    Junk,
    /// `\Sent`.
    Sent,
    /// `\Trash`.
    Trash,
}

impl SpecialUse {
    /// Every special use of RFC 6154 §2.
    pub const ALL: [SpecialUse; 7] = [
        SpecialUse::All,
        SpecialUse::Archive,
        SpecialUse::Drafts,
        SpecialUse::Flagged,
        SpecialUse::Junk,
        SpecialUse::Sent,
        SpecialUse::Trash,
    ];

    /// Recognizes an attribute name without the backslash, in any case (attribute names are
    /// case-insensitive, RFC 9051 §9 `mbx-list-flags`).
    ///
    /// ```
    /// use mailsec_imap::store::SpecialUse;
    /// assert_eq!(SpecialUse::from_name("sent"), Some(SpecialUse::Sent));
    /// assert_eq!(SpecialUse::from_name("Noselect"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<SpecialUse> {
        Self::ALL
            .into_iter()
            .find(|u| u.name().eq_ignore_ascii_case(name))
    }

    /// The attribute's name without the backslash (`"Sent"`).
    pub fn name(self) -> &'static str {
        match self {
            SpecialUse::All => "All",
            SpecialUse::Archive => "Archive",
            SpecialUse::Drafts => "Drafts",
            SpecialUse::Flagged => "Flagged",
            SpecialUse::Junk => "Junk",
            SpecialUse::Sent => "Sent",
            SpecialUse::Trash => "Trash",
        }
    }
}

/// What `STATUS` reports of a folder (RFC 9051 §6.3.11).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FolderStatus {
    /// Number of messages.
    pub messages: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// Messages with `\Deleted`.
    pub deleted: u32,
    /// Messages that arrived since the folder was last selected (IMAP4rev1 `\Recent`).
    pub recent: u32,
    /// The uid the next message will get.
    pub uid_next: u32,
    /// The folder's uid validity.
    pub uid_validity: u32,
    /// Total size of the messages in octets (`STATUS=SIZE`, RFC 8438).
    pub size: u64,
}

/// One message's metadata in a folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageMeta {
    /// Its uid (never 0).
    pub uid: u32,
    /// Its flags (`\Recent` is the machine's business and never stored).
    pub flags: Vec<Flag<'static>>,
    /// When the store received it (`INTERNALDATE`).
    pub internal_date: DateTime,
    /// Its size in octets as the client will see it (`RFC822.SIZE`), CRLF line endings.
    pub size: u64,
}

/// A snapshot of a folder: what `SELECT`/`EXAMINE` opens and what the machine compares
/// against on `NOOP`, `IDLE` and between commands to report `EXISTS`, `EXPUNGE` and `FETCH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderView {
    /// The folder's uid validity.
    pub uid_validity: u32,
    /// The uid the next message will get.
    pub uid_next: u32,
    /// The messages, ascending by uid.
    pub messages: Vec<MessageMeta>,
    /// Whether clients may create keywords (`\*` in `PERMANENTFLAGS`).
    pub keywords_allowed: bool,
    /// Whether the store refuses changes to this folder (the machine then answers
    /// `[READ-ONLY]` even to `SELECT`).
    pub read_only: bool,
}

/// The uids of a copy or move (`COPYUID`, RFC 4315 §3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyResult {
    /// The destination's uid validity.
    pub uid_validity: u32,
    /// (source uid, destination uid) for each message copied, in the order asked.
    pub uids: Vec<(u32, u32)>,
}

/// Where an appended message landed (`APPENDUID`, RFC 4315 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendResult {
    /// The destination's uid validity.
    pub uid_validity: u32,
    /// The new message's uid.
    pub uid: u32,
}

/// Why the store refused; the machine turns each into a tagged `NO` with the response code
/// of RFC 5530 named here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The folder or message does not exist (`[NONEXISTENT]`).
    #[error("no such folder or message")]
    NotFound,
    /// A folder of that name exists (`[ALREADYEXISTS]`).
    #[error("the folder already exists")]
    AlreadyExists,
    /// The user may not do that (`[NOPERM]`).
    #[error("not permitted")]
    NoPermission,
    /// The folder is busy, try again later (`[INUSE]`).
    #[error("in use, try again later")]
    InUse,
    /// Over quota (`[OVERQUOTA]`).
    #[error("over quota")]
    OverQuota,
    /// A name or value the store cannot take (`[CANNOT]`), with a reason safe to show the client.
    #[error("cannot: {0}")]
    Cannot(String),
    /// The store failed (`[UNAVAILABLE]`); the detail is logged, never sent to the client.
    #[error("store unavailable: {0}")]
    Unavailable(#[from] std::io::Error),
}

/// A message's bytes, read a chunk at a time.
pub type MessageReader = Box<dyn Read + Send>;

/// The folders and messages of one user, opened by the application after authentication
/// and handed to the server machine.
///
/// Every method may be called at any point of a session; the store must stay consistent when
/// other sessions (or mail delivery) change the same folders in between.
pub trait MailStore: Send {
    /// Every folder of the user, `INBOX` included.
    fn list(&mut self) -> Result<Vec<FolderInfo>, StoreError>;

    /// Creates a folder (and its missing parents).
    fn create(&mut self, name: &str, special_use: Option<SpecialUse>) -> Result<(), StoreError>;

    /// Deletes a folder and its messages. Deleting `INBOX` is refused by the machine before
    /// the store is asked.
    fn delete(&mut self, name: &str) -> Result<(), StoreError>;

    /// Renames a folder and its children. Renaming `INBOX` moves its messages to the new folder
    /// and leaves `INBOX` empty (RFC 9051 §6.3.6).
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StoreError>;

    /// Subscribes to or unsubscribes from a folder. The default keeps every folder subscribed.
    fn set_subscribed(&mut self, name: &str, subscribed: bool) -> Result<(), StoreError> {
        let _ = (name, subscribed);
        Ok(())
    }

    /// The folder's counters for `STATUS`.
    fn status(&mut self, name: &str) -> Result<FolderStatus, StoreError>;

    /// A snapshot of the folder's messages. Called on `SELECT`/`EXAMINE` and again whenever
    /// the machine looks for changes.
    fn view(&mut self, name: &str) -> Result<FolderView, StoreError>;

    /// A value that changes whenever what [`MailStore::view`] reports for the folder changes
    /// (a message added or removed, flags changed), or `None` when the store cannot tell
    /// cheaply (the default).
    ///
    /// The machine looks for changes after every command in the selected state; with a stamp
    /// that did not move it skips taking and comparing a whole view, which otherwise costs time
    /// in proportion to the folder's size on every command.
    fn stamp(&mut self, name: &str) -> Option<u64> {
        let _ = name;
        None
    }

    /// The message's bytes from its first octet (CRLF line endings, `size` octets long).
    fn open_message(&mut self, folder: &str, uid: u32) -> Result<MessageReader, StoreError>;

    /// Replaces the message's flags (the machine works out `+FLAGS`/`-FLAGS` itself).
    fn set_flags(
        &mut self,
        folder: &str,
        uid: u32,
        flags: &[Flag<'static>],
    ) -> Result<(), StoreError>;

    /// Adds a message (CRLF line endings) with its flags and internal date (now when `None`).
    fn append(
        &mut self,
        folder: &str,
        flags: &[Flag<'static>],
        internal_date: Option<DateTime>,
        message: &[u8],
    ) -> Result<AppendResult, StoreError>;

    /// Copies messages to another folder with their flags.
    fn copy(&mut self, folder: &str, uids: &[u32], to: &str) -> Result<CopyResult, StoreError>;

    /// Moves messages to another folder (RFC 6851). The default copies then expunges; a store
    /// that can move atomically should.
    fn move_messages(
        &mut self,
        folder: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopyResult, StoreError> {
        let copied = self.copy(folder, uids, to)?;
        self.expunge(folder, uids)?;
        Ok(copied)
    }

    /// Removes messages for good.
    fn expunge(&mut self, folder: &str, uids: &[u32]) -> Result<(), StoreError>;
}
