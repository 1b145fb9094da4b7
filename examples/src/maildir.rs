//! A maildir store for the example server (<https://cr.yp.to/proto/maildir.html>).
//!
//! Layout: one maildir per user under a root, `root/<user>/{tmp,new,cur}`, created on demand.
//!
//! - **Delivery** is streamed: [`Maildir::deliver`] opens a file in `tmp/`, the caller writes the
//!   message in chunks ([`Delivery::write_chunk`] or `io::Write`), and [`Delivery::commit`]
//!   fsyncs the file, renames it into `new/` and fsyncs the directory. Only then is the message
//!   kept (and only then may SMTP answer `250` to the end of DATA). A [`Delivery`] dropped
//!   without `commit` removes its `tmp/` file.
//! - **Bytes stored**: exactly the bytes received, CRLF line endings included, as an SMTP server
//!   hands them over after removing the dot-stuffing (RFC 5321 §4.5.2). Most maildir tools store
//!   LF; this store does not, so that a POP3 message's size (RFC 1939 `LIST`, `STAT`) is the file
//!   size and `RETR` streams the file with only dot-stuffing added. Files put into the maildir by
//!   other tools with bare LF line endings would be counted short; this example does not convert.
//! - **Unique names**: `<secs>.M<micros>P<pid>Q<counter>.<host>` (the modern form of the spec),
//!   with the host part reduced to at most 16 characters of `[A-Za-z0-9-]`. The unique id of a
//!   message ([`MessageInfo::id`]) is the base name before `:2,`; it stays the same when the
//!   message moves from `new/` to `cur/` or its flags change. Ids made here are at most 70
//!   printable ASCII characters, so they serve as POP3 `UIDL` values (RFC 1939 §7) as they are.
//! - **Flags** live in the `:2,` info of names in `cur/`: `D`raft, `F`lagged, `R`eplied,
//!   `S`een, `T`rashed, kept in ASCII order as the spec requires ([`Flags`]).
//! - **Locking**: [`Maildir::try_lock`] is an in-process registry (one session per user at a
//!   time: POP3's exclusive-access lock, RFC 1939 §8 `[IN-USE]`). It does not protect against
//!   other processes.
//!
//! All calls are blocking `std::fs` calls that take little time; an async server may call them
//! from its tasks directly or through `spawn_blocking`.

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest user name accepted as a maildir name, in octets.
pub const MAX_USER_LEN: usize = 64;
/// Longest unique id accepted (POP3 UIDL allows 70).
pub const MAX_ID_LEN: usize = 70;
/// Longest host part of generated names.
const MAX_HOST_PART: usize = 16;

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaildirError {
    /// The user name cannot name a maildir (empty, too long, `..`, `/`, other characters).
    #[error("invalid mailbox user name")]
    InvalidUser,
    /// The unique id cannot name a message.
    #[error("invalid message id")]
    InvalidId,
    /// No message with that unique id.
    #[error("no such message")]
    NotFound,
    /// The message is larger than the store accepts.
    #[error("message larger than {limit} octets")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The file system failed.
    #[error("maildir I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Checks that `user` can safely name a directory under the root: 1 to [`MAX_USER_LEN`] octets
/// of ASCII letters, digits and `.`, `_`, `-`, `+`, `@`, not starting with `.` and without `..`.
/// Path separators, `..` and anything else that could leave the root are refused.
pub fn validate_user(user: &str) -> Result<(), MaildirError> {
    let ok = !user.is_empty()
        && user.len() <= MAX_USER_LEN
        && !user.starts_with('.')
        && !user.contains("..")
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(MaildirError::InvalidUser)
    }
}

/// Checks a unique id: 1 to [`MAX_ID_LEN`] printable ASCII characters (0x21–0x7E), no `/`, no
/// `:`, not starting with `.`.
pub fn validate_id(id: &str) -> Result<(), MaildirError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'/' && b != b':' && b != b'\\');
    if ok {
        Ok(())
    } else {
        Err(MaildirError::InvalidId)
    }
}

/// Maildir flags, from the `:2,` info of a name in `cur/`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// `D`: draft.
    pub draft: bool,
    /// `F`: flagged.
    pub flagged: bool,
    /// `R`: replied.
    pub replied: bool,
    /// `S`: seen.
    pub seen: bool,
    /// `T`: trashed.
    pub trashed: bool,
}

impl Flags {
    /// Parses the letters after `:2,`; unknown letters are ignored (other tools may use them).
    pub fn parse(letters: &str) -> Flags {
        let mut flags = Flags::default();
        for c in letters.chars() {
            match c {
                'D' => flags.draft = true,
                'F' => flags.flagged = true,
                'R' => flags.replied = true,
                'S' => flags.seen = true,
                'T' => flags.trashed = true,
                _ => {}
            }
        }
        flags
    }

    /// The letters in ASCII order, as the `:2,` info must list them.
    pub fn letters(&self) -> String {
        let mut s = String::new();
        for (set, c) in [
            (self.draft, 'D'),
            (self.flagged, 'F'),
            (self.replied, 'R'),
            (self.seen, 'S'),
            (self.trashed, 'T'),
        ] {
            if set {
                s.push(c);
            }
        }
        s
    }
}

/// Which subdirectory a message is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Location {
    /// `new/`: delivered, not yet seen by any client.
    New,
    /// `cur/`: seen by a client (not necessarily read: see [`Flags::seen`]).
    Cur,
}

/// One message of a mailbox listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    /// The unique id (base name before `:2,`), stable across moves and flag changes.
    pub id: String,
    /// Size of the file in octets: the message as received, CRLF line endings included.
    pub size: u64,
    /// Where the message is.
    pub location: Location,
    /// Its flags (always empty in `new/`).
    pub flags: Flags,
    /// The file's current path.
    pub path: PathBuf,
}

/// The in-process lock registry shared by a [`Maildir`] and its guards.
type LockSet = Arc<Mutex<HashSet<String>>>;

/// The store: a root directory holding one maildir per user. Share it with `Arc<Maildir>`.
pub struct Maildir {
    root: PathBuf,
    host: String,
    counter: AtomicU64,
    max_message_size: Option<u64>,
    locks: LockSet,
}

impl fmt::Debug for Maildir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Maildir")
            .field("root", &self.root)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// Reduces a host name to the part used in unique names (`[A-Za-z0-9-]`, first label, at most
/// 16 characters; `localhost` when nothing is left).
fn host_part(hostname: &str) -> String {
    let first = hostname.split('.').next().unwrap_or_default();
    let part: String = first
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(MAX_HOST_PART)
        .collect();
    if part.is_empty() {
        "localhost".to_owned()
    } else {
        part
    }
}

/// The leading decimal number of a maildir name (its delivery second), for ordering.
fn leading_number(name: &str) -> u64 {
    let digits: String = name
        .chars()
        .take_while(char::is_ascii_digit)
        .take(19)
        .collect();
    digits.parse().unwrap_or(u64::MAX)
}

/// Splits a `cur/` file name into the unique id and the flags of its `:2,` info.
fn split_name(name: &str) -> (&str, Flags) {
    match name.split_once(":2,") {
        Some((base, letters)) => (base, Flags::parse(letters)),
        None => match name.split_once(':') {
            // Experimental info (`:1,`) or something else: keep the base, no flags.
            Some((base, _)) => (base, Flags::default()),
            None => (name, Flags::default()),
        },
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

impl Maildir {
    /// A store under `root` (created if missing). `hostname` goes, reduced, into unique names.
    pub fn open(root: impl Into<PathBuf>, hostname: &str) -> Result<Self, MaildirError> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        Ok(Maildir {
            root,
            host: host_part(hostname),
            counter: AtomicU64::new(0),
            max_message_size: None,
            locks: Arc::default(),
        })
    }

    /// Refuses deliveries larger than `limit` octets (none by default; SMTP's `SIZE` should
    /// stop them earlier).
    pub fn with_max_message_size(mut self, limit: u64) -> Self {
        self.max_message_size = Some(limit);
        self
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The mailbox of `user`, creating `root/<user>/{tmp,new,cur}` if needed.
    pub fn mailbox(&self, user: &str) -> Result<Mailbox, MaildirError> {
        validate_user(user)?;
        let dir = self.root.join(user);
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        Ok(Mailbox {
            user: user.to_owned(),
            dir,
        })
    }

    /// A fresh unique base name.
    fn unique_name(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!(
            "{}.M{:06}P{}Q{}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            n,
            self.host
        )
    }

    /// Starts a delivery to `user`'s maildir: a new file in `tmp/`. The maildir is created for
    /// any valid name, so check the recipient against the users first (SMTP `RCPT TO`).
    pub fn deliver(&self, user: &str) -> Result<Delivery, MaildirError> {
        let mailbox = self.mailbox(user)?;
        // The name is unique within this process; `create_new` still refuses to reuse a file
        // another process left behind, so try a few names.
        let mut last_err = None;
        for _ in 0..4 {
            let id = self.unique_name();
            let tmp_path = mailbox.dir.join("tmp").join(&id);
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp_path)
            {
                Ok(file) => {
                    return Ok(Delivery {
                        file: Some(file),
                        new_path: mailbox.dir.join("new").join(&id),
                        new_dir: mailbox.dir.join("new"),
                        tmp_path,
                        id,
                        written: 0,
                        limit: self.max_message_size,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last_err
            .unwrap_or_else(|| io::ErrorKind::AlreadyExists.into())
            .into())
    }

    /// Takes the exclusive in-process lock on `user`'s mailbox, or `None` when another session
    /// holds it (POP3 answers `-ERR [IN-USE]`, RFC 2449 §8.1.2). Released when the guard drops.
    pub fn try_lock(&self, user: &str) -> Result<Option<MailboxLock>, MaildirError> {
        validate_user(user)?;
        let mut held = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if !held.insert(user.to_owned()) {
            return Ok(None);
        }
        Ok(Some(MailboxLock {
            locks: self.locks.clone(),
            user: user.to_owned(),
        }))
    }
}

/// The exclusive lock on one user's mailbox; released on drop.
#[derive(Debug)]
pub struct MailboxLock {
    locks: LockSet,
    user: String,
}

impl MailboxLock {
    /// Whose mailbox is locked.
    pub fn user(&self) -> &str {
        &self.user
    }
}

impl Drop for MailboxLock {
    fn drop(&mut self) {
        let mut held = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        held.remove(&self.user);
    }
}

/// A message being delivered: a file in `tmp/` until [`Delivery::commit`].
#[derive(Debug)]
pub struct Delivery {
    file: Option<File>,
    tmp_path: PathBuf,
    new_path: PathBuf,
    new_dir: PathBuf,
    id: String,
    written: u64,
    limit: Option<u64>,
}

impl Delivery {
    /// The unique id the message will have.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Octets written so far.
    pub fn len(&self) -> u64 {
        self.written
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// Appends `chunk` to the message. Past the store's size limit the delivery fails with
    /// [`MaildirError::TooLarge`] (drop it to remove the file).
    pub fn write_chunk(&mut self, chunk: &[u8]) -> Result<(), MaildirError> {
        let new_len = self.written.saturating_add(chunk.len() as u64);
        if let Some(limit) = self.limit {
            if new_len > limit {
                return Err(MaildirError::TooLarge { limit });
            }
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("delivery already finished"))?;
        file.write_all(chunk)?;
        self.written = new_len;
        Ok(())
    }

    /// Makes the message permanent: fsync the file, rename it into `new/`, fsync `new/`.
    /// Returns the message as a listing would show it.
    pub fn commit(mut self) -> Result<MessageInfo, MaildirError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("delivery already finished"))?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.tmp_path, &self.new_path)?;
        // From here on the message is kept even if syncing the directory fails.
        let path = std::mem::take(&mut self.new_path);
        self.tmp_path = PathBuf::new();
        sync_dir(&self.new_dir)?;
        Ok(MessageInfo {
            id: std::mem::take(&mut self.id),
            size: self.written,
            location: Location::New,
            flags: Flags::default(),
            path,
        })
    }
}

impl Write for Delivery {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_chunk(buf).map_err(|e| match e {
            MaildirError::Io(e) => e,
            other => io::Error::other(other),
        })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if !self.tmp_path.as_os_str().is_empty() {
            self.file = None;
            let _ = fs::remove_file(&self.tmp_path);
        }
    }
}

/// One user's maildir.
#[derive(Clone, Debug)]
pub struct Mailbox {
    user: String,
    dir: PathBuf,
}

impl Mailbox {
    /// The user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The maildir's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A snapshot of the messages in `new/` and `cur/`, in a stable order: by delivery second
    /// (the leading number of the name), then by unique id. Names that are not valid ids
    /// (dot files, names with control characters or over [`MAX_ID_LEN`]) are skipped.
    pub fn list(&self) -> Result<Vec<MessageInfo>, MaildirError> {
        let mut out = Vec::new();
        for (sub, location) in [("new", Location::New), ("cur", Location::Cur)] {
            for entry in fs::read_dir(self.dir.join(sub))? {
                let entry = entry?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                let (id, flags) = match location {
                    Location::New => (name.as_str(), Flags::default()),
                    Location::Cur => split_name(&name),
                };
                if validate_id(id).is_err() {
                    continue;
                }
                let meta = match entry.metadata() {
                    Ok(m) if m.is_file() => m,
                    // Gone since read_dir (another session deleted it) or not a file.
                    _ => continue,
                };
                out.push(MessageInfo {
                    id: id.to_owned(),
                    size: meta.len(),
                    location,
                    flags,
                    path: entry.path(),
                });
            }
        }
        out.sort_by(|a, b| (leading_number(&a.id), &a.id).cmp(&(leading_number(&b.id), &b.id)));
        Ok(out)
    }

    /// Finds the message with unique id `id` in `new/` or `cur/`.
    pub fn find(&self, id: &str) -> Result<MessageInfo, MaildirError> {
        validate_id(id)?;
        let new = self.dir.join("new").join(id);
        if let Ok(meta) = fs::metadata(&new) {
            if meta.is_file() {
                return Ok(MessageInfo {
                    id: id.to_owned(),
                    size: meta.len(),
                    location: Location::New,
                    flags: Flags::default(),
                    path: new,
                });
            }
        }
        for entry in fs::read_dir(self.dir.join("cur"))? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let (base, flags) = split_name(&name);
            if base == id {
                let meta = entry.metadata()?;
                return Ok(MessageInfo {
                    id: id.to_owned(),
                    size: meta.len(),
                    location: Location::Cur,
                    flags,
                    path: entry.path(),
                });
            }
        }
        Err(MaildirError::NotFound)
    }

    /// Opens the message for reading (stream it; do not load it whole).
    pub fn open_message(&self, id: &str) -> Result<File, MaildirError> {
        let info = self.find(id)?;
        File::open(&info.path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => MaildirError::NotFound,
            _ => e.into(),
        })
    }

    /// Deletes the message (POP3 `DELE` takes effect here, at `QUIT`).
    pub fn delete(&self, id: &str) -> Result<(), MaildirError> {
        let info = self.find(id)?;
        fs::remove_file(&info.path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => MaildirError::NotFound,
            _ => e.into(),
        })
    }

    /// Moves a message from `new/` to `cur/` (no flags), as a client that has seen the listing
    /// does; a message already in `cur/` is left as it is.
    pub fn move_to_cur(&self, id: &str) -> Result<MessageInfo, MaildirError> {
        let info = self.find(id)?;
        match info.location {
            Location::Cur => Ok(info),
            Location::New => self.set_flags(id, Flags::default()),
        }
    }

    /// Sets the message's flags (moving it to `cur/` if it is in `new/`).
    pub fn set_flags(&self, id: &str, flags: Flags) -> Result<MessageInfo, MaildirError> {
        let info = self.find(id)?;
        let path = self
            .dir
            .join("cur")
            .join(format!("{id}:2,{}", flags.letters()));
        if path != info.path {
            fs::rename(&info.path, &path)?;
        }
        Ok(MessageInfo {
            location: Location::Cur,
            flags,
            path,
            ..info
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn store(tmp: &tempfile::TempDir) -> Maildir {
        Maildir::open(tmp.path().join("mail"), "mx1.example.test").unwrap()
    }

    fn deliver(store: &Maildir, user: &str, body: &[u8]) -> MessageInfo {
        let mut d = store.deliver(user).unwrap();
        for chunk in body.chunks(7) {
            d.write_chunk(chunk).unwrap();
        }
        d.commit().unwrap()
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn commit_keeps_the_exact_bytes_in_new() {
        let tmp = crate::test_support::temp_dir("md-commit");
        let store = store(&tmp);
        let body = b"Subject: hi\r\n\r\nline one\r\n.leading dot kept unstuffed\r\n";
        let mut d = store.deliver("alice").unwrap();
        let id = d.id().to_owned();
        let tmp_dir = tmp.path().join("mail/alice/tmp");
        d.write_chunk(&body[..10]).unwrap();
        assert_eq!(files(&tmp_dir), vec![id.clone()], "in tmp/ while writing");
        assert!(files(&tmp.path().join("mail/alice/new")).is_empty());
        d.write_chunk(&body[10..]).unwrap();
        assert_eq!(d.len(), body.len() as u64);
        let info = d.commit().unwrap();
        assert_eq!(info.id, id);
        assert_eq!(info.location, Location::New);
        assert!(files(&tmp_dir).is_empty());
        assert_eq!(files(&tmp.path().join("mail/alice/new")), vec![id.clone()]);
        assert_eq!(fs::read(&info.path).unwrap(), body);
        assert_eq!(info.size, body.len() as u64);
    }

    #[test]
    fn dropping_without_commit_removes_the_tmp_file() {
        let tmp = crate::test_support::temp_dir("md-abort");
        let store = store(&tmp);
        {
            let mut d = store.deliver("alice").unwrap();
            d.write_chunk(b"partial message").unwrap();
        }
        assert!(files(&tmp.path().join("mail/alice/tmp")).is_empty());
        assert!(files(&tmp.path().join("mail/alice/new")).is_empty());
        assert!(store.mailbox("alice").unwrap().list().unwrap().is_empty());
    }

    #[test]
    fn size_limit_refuses_and_drop_cleans_up() {
        let tmp = crate::test_support::temp_dir("md-limit");
        let store = store(&tmp).with_max_message_size(10);
        let mut d = store.deliver("bob").unwrap();
        d.write_chunk(b"0123456789").unwrap();
        assert!(matches!(
            d.write_chunk(b"x"),
            Err(MaildirError::TooLarge { limit: 10 })
        ));
        drop(d);
        assert!(files(&tmp.path().join("mail/bob/tmp")).is_empty());
    }

    #[test]
    fn ids_are_unique_printable_and_short_enough_for_uidl() {
        let tmp = crate::test_support::temp_dir("md-ids");
        let store = Maildir::open(
            tmp.path(),
            "a-very-long-host-name-that-goes-on.and.on.example.test",
        )
        .unwrap();
        let mut ids = HashSet::new();
        for _ in 0..50 {
            let info = deliver(&store, "carol", b"x\r\n");
            validate_id(&info.id).unwrap();
            assert!(info.id.len() <= MAX_ID_LEN);
            assert!(!info.id.contains(':') && !info.id.contains('/'));
            assert!(ids.insert(info.id));
        }
    }

    #[test]
    fn listing_has_sizes_ids_and_a_stable_order() {
        let tmp = crate::test_support::temp_dir("md-list");
        let store = store(&tmp);
        let a = deliver(&store, "alice", b"first\r\n");
        let b = deliver(&store, "alice", b"second message\r\n");
        let c = deliver(&store, "alice", b"3\r\n");
        let mailbox = store.mailbox("alice").unwrap();
        // Move one to cur/ with flags: id and size unchanged, order unchanged.
        let flags = Flags {
            seen: true,
            replied: true,
            ..Flags::default()
        };
        let moved = mailbox.set_flags(&b.id, flags).unwrap();
        assert!(moved.path.to_str().unwrap().ends_with(":2,RS"));
        // Junk that must not show up.
        fs::write(mailbox.path().join("new/.hidden"), b"x").unwrap();
        let list = mailbox.list().unwrap();
        let got: Vec<(&str, u64)> = list.iter().map(|m| (m.id.as_str(), m.size)).collect();
        assert_eq!(
            got,
            [(a.id.as_str(), 7), (b.id.as_str(), 16), (c.id.as_str(), 3)]
        );
        assert_eq!(list[1].location, Location::Cur);
        assert_eq!(list[1].flags, flags);
        assert_eq!(mailbox.list().unwrap(), list, "same snapshot twice");
        // Other users do not see it.
        assert!(store.mailbox("bob").unwrap().list().unwrap().is_empty());
    }

    #[test]
    fn open_move_and_delete_by_id() {
        let tmp = crate::test_support::temp_dir("md-del");
        let store = store(&tmp);
        let a = deliver(&store, "alice", b"keep me\r\n");
        let b = deliver(&store, "alice", b"delete me\r\n");
        let mailbox = store.mailbox("alice").unwrap();
        let mut text = Vec::new();
        mailbox
            .open_message(&a.id)
            .unwrap()
            .read_to_end(&mut text)
            .unwrap();
        assert_eq!(text, b"keep me\r\n");
        let cur = mailbox.move_to_cur(&a.id).unwrap();
        assert_eq!(cur.location, Location::Cur);
        assert_eq!(cur.flags, Flags::default());
        assert_eq!(files(&mailbox.path().join("cur")), [format!("{}:2,", a.id)]);
        // Still readable by the same id after the move.
        assert!(mailbox.open_message(&a.id).is_ok());
        mailbox.delete(&b.id).unwrap();
        assert!(matches!(mailbox.delete(&b.id), Err(MaildirError::NotFound)));
        assert!(matches!(
            mailbox.open_message(&b.id),
            Err(MaildirError::NotFound)
        ));
        mailbox.delete(&a.id).unwrap();
        assert!(mailbox.list().unwrap().is_empty());
    }

    #[test]
    fn flags_round_trip_in_ascii_order() {
        let all = Flags::parse("TSRFDx");
        assert_eq!(all.letters(), "DFRST");
        assert_eq!(Flags::parse(""), Flags::default());
        assert_eq!(Flags::parse("S").letters(), "S");
    }

    #[test]
    fn lock_is_exclusive_per_user_and_released_on_drop() {
        let tmp = crate::test_support::temp_dir("md-lock");
        let store = store(&tmp);
        let first = store.try_lock("alice").unwrap().expect("free");
        assert_eq!(first.user(), "alice");
        assert!(store.try_lock("alice").unwrap().is_none(), "IN-USE");
        let other = store.try_lock("bob").unwrap();
        assert!(other.is_some(), "other users are independent");
        drop(first);
        assert!(store.try_lock("alice").unwrap().is_some());
    }

    #[test]
    fn path_traversal_in_user_names_is_refused() {
        let tmp = crate::test_support::temp_dir("md-trav");
        let store = store(&tmp);
        for bad in [
            "", "..", "../etc", "a/b", "/abs", ".hidden", "a..b", "a\\b", "a\0b", "a b", "ä",
        ] {
            assert!(
                matches!(store.mailbox(bad), Err(MaildirError::InvalidUser)),
                "{bad:?}"
            );
            assert!(matches!(store.deliver(bad), Err(MaildirError::InvalidUser)));
            assert!(matches!(
                store.try_lock(bad),
                Err(MaildirError::InvalidUser)
            ));
        }
        assert!(matches!(
            store.mailbox(&"a".repeat(MAX_USER_LEN + 1)),
            Err(MaildirError::InvalidUser)
        ));
        for good in ["alice", "bob.smith", "carol+tag@example.test", "d_e-f"] {
            store.mailbox(good).unwrap();
        }
        // Nothing was created outside the root.
        assert_eq!(files(tmp.path()), ["mail"]);
    }

    #[test]
    fn ids_that_could_escape_are_refused() {
        let tmp = crate::test_support::temp_dir("md-idtrav");
        let store = store(&tmp);
        let mailbox = store.mailbox("alice").unwrap();
        for bad in ["", "../x", "a/b", ".x", "a:2,S", "a b"] {
            assert!(matches!(mailbox.find(bad), Err(MaildirError::InvalidId)));
            assert!(matches!(mailbox.delete(bad), Err(MaildirError::InvalidId)));
        }
    }
}
