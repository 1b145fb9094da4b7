//! [`MemoryStore`]: a complete `MailStore` in memory, for tests and examples.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{
    AppendResult, CopyResult, FolderInfo, FolderStatus, FolderView, MailStore, MessageMeta,
    MessageReader, SpecialUse, StoreError,
};
use crate::types::{Date, DateTime, Flag};

/// Longest folder name accepted, in octets.
const MAX_NAME: usize = 1024;

/// One message as stored.
#[derive(Clone, Debug)]
struct Stored {
    uid: u32,
    flags: Vec<Flag<'static>>,
    internal_date: DateTime,
    data: Arc<[u8]>,
}

impl Stored {
    fn meta(&self) -> MessageMeta {
        MessageMeta {
            uid: self.uid,
            flags: self.flags.clone(),
            internal_date: self.internal_date,
            size: self.data.len() as u64,
        }
    }
}

#[derive(Clone, Debug)]
struct Folder {
    special_use: Option<SpecialUse>,
    selectable: bool,
    read_only: bool,
    uid_validity: u32,
    uid_next: u32,
    /// Uids from here on arrived since the folder was last looked at (`STATUS RECENT`).
    recent_from: u32,
    /// Ascending by uid (uids are handed out in increasing order and never reused).
    messages: Vec<Stored>,
}

impl Folder {
    /// The message with that uid: a binary search, so a FETCH or STORE over the folder
    /// costs O(n log n), not O(n²).
    fn find(&self, uid: u32) -> Option<&Stored> {
        let i = self.messages.binary_search_by_key(&uid, |m| m.uid).ok()?;
        self.messages.get(i)
    }

    fn find_mut(&mut self, uid: u32) -> Option<&mut Stored> {
        let i = self.messages.binary_search_by_key(&uid, |m| m.uid).ok()?;
        self.messages.get_mut(i)
    }
}

#[derive(Debug)]
struct State {
    folders: BTreeMap<String, Folder>,
    subscriptions: BTreeSet<String>,
    next_validity: u32,
    now: DateTime,
    unavailable: bool,
    /// Counts every change to any folder: the [`MailStore::stamp`] of every folder.
    changes: u64,
}

impl State {
    fn new_folder(&mut self, special_use: Option<SpecialUse>) -> Folder {
        let uid_validity = self.next_validity;
        self.next_validity = self.next_validity.wrapping_add(1).max(1);
        Folder {
            special_use,
            selectable: true,
            read_only: false,
            uid_validity,
            uid_next: 1,
            recent_from: 1,
            messages: Vec::new(),
        }
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.unavailable {
            return Err(StoreError::Unavailable(std::io::Error::other(
                "the memory store is set unavailable",
            )));
        }
        Ok(())
    }

    fn folder(&self, name: &str) -> Result<&Folder, StoreError> {
        self.check()?;
        self.folders
            .get(&canonical(name))
            .ok_or(StoreError::NotFound)
    }

    /// A folder about to change (the change stamp moves).
    fn folder_mut(&mut self, name: &str) -> Result<&mut Folder, StoreError> {
        self.changes = self.changes.wrapping_add(1);
        self.folder_looked_at(name)
    }

    /// A folder whose messages do not change (only its "recent" mark may).
    fn folder_looked_at(&mut self, name: &str) -> Result<&mut Folder, StoreError> {
        self.check()?;
        self.folders
            .get_mut(&canonical(name))
            .ok_or(StoreError::NotFound)
    }

    /// A selectable folder that accepts changes.
    fn writable(&mut self, name: &str) -> Result<&mut Folder, StoreError> {
        let f = self.folder_mut(name)?;
        if !f.selectable {
            return Err(StoreError::Cannot("the folder cannot hold messages".into()));
        }
        if f.read_only {
            return Err(StoreError::NoPermission);
        }
        Ok(f)
    }

    fn create_parents(&mut self, name: &str) {
        let mut end = 0;
        while let Some(i) = name[end..].find('/') {
            let parent = &name[..end + i];
            if !self.folders.contains_key(parent) {
                let f = self.new_folder(None);
                self.folders.insert(parent.to_string(), f);
            }
            end += i + 1;
        }
    }
}

/// `INBOX` in any case is `INBOX` (RFC 9051 §5.1), also as the first level of a longer name.
fn canonical(name: &str) -> String {
    let (first, rest) = match name.find('/') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, ""),
    };
    if first.eq_ignore_ascii_case("INBOX") {
        format!("INBOX{rest}")
    } else {
        name.to_string()
    }
}

fn is_inbox(name: &str) -> bool {
    name.eq_ignore_ascii_case("INBOX")
}

/// A valid folder name: non-empty levels separated by `/`, no control characters, no LIST
/// wildcards.
fn valid_name(name: &str) -> Result<String, StoreError> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(StoreError::Cannot("invalid folder name length".into()));
    }
    if name.split('/').any(str::is_empty) {
        return Err(StoreError::Cannot("empty level in folder name".into()));
    }
    if name.chars().any(|c| c.is_control() || c == '*' || c == '%') {
        return Err(StoreError::Cannot(
            "invalid character in folder name".into(),
        ));
    }
    Ok(canonical(name))
}

fn clean_flags(flags: &[Flag<'static>]) -> Vec<Flag<'static>> {
    let mut out: Vec<Flag<'static>> = Vec::with_capacity(flags.len());
    for f in flags {
        if *f == Flag::Recent {
            continue;
        }
        let dup = out.iter().any(|g| match (f, g) {
            (Flag::Keyword(a), Flag::Keyword(b)) | (Flag::Extension(a), Flag::Extension(b)) => {
                a.as_str().eq_ignore_ascii_case(b.as_str())
            }
            _ => f == g,
        });
        if !dup {
            out.push(f.clone());
        }
    }
    out
}

/// A complete [`MailStore`] in memory, for tests and examples.
///
/// Clones share the same folders (`Arc<Mutex<..>>`), so a test can keep one handle to deliver
/// mail or change flags while a server machine owns another:
///
/// ```
/// use mailsec_imap::store::{MailStore, MemoryStore};
/// let store = MemoryStore::new();
/// let mut session = store.clone();
/// let uid = store.deliver("INBOX", b"Subject: hi\r\n\r\nhello\r\n").unwrap();
/// let view = session.view("inbox").unwrap();
/// assert_eq!(view.messages.len(), 1);
/// assert_eq!(view.messages[0].uid, uid);
/// ```
///
/// Deterministic: uid validities count up from 1 in creation order, and the internal date of a
/// message appended without one is the store's "now" ([`MemoryStore::set_now`], by default
/// 1 January 2026 00:00:00 +0000).
#[derive(Clone, Debug)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store with an empty, subscribed `INBOX` (uid validity 1).
    pub fn new() -> Self {
        let mut state = State {
            folders: BTreeMap::new(),
            subscriptions: BTreeSet::new(),
            next_validity: 1,
            now: default_now(),
            unavailable: false,
            changes: 0,
        };
        let inbox = state.new_folder(None);
        state.folders.insert("INBOX".into(), inbox);
        state.subscriptions.insert("INBOX".into());
        MemoryStore {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// A store with `INBOX` and the usual special-use folders, all subscribed: `Archive`,
    /// `Drafts`, `Junk`, `Sent`, `Trash` (RFC 6154).
    pub fn with_standard_folders() -> Self {
        let store = Self::new();
        {
            let mut s = store.lock();
            for (name, usage) in [
                ("Archive", SpecialUse::Archive),
                ("Drafts", SpecialUse::Drafts),
                ("Junk", SpecialUse::Junk),
                ("Sent", SpecialUse::Sent),
                ("Trash", SpecialUse::Trash),
            ] {
                let f = s.new_folder(Some(usage));
                s.folders.insert(name.into(), f);
                s.subscriptions.insert(name.into());
            }
        }
        store
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the internal date given to messages appended or delivered without one.
    pub fn set_now(&self, now: DateTime) {
        self.lock().now = now;
    }

    /// Delivers a message to a folder as mail delivery would: no flags, internal date "now".
    /// Returns its uid.
    pub fn deliver(&self, folder: &str, message: &[u8]) -> Result<u32, StoreError> {
        let mut me = self.clone();
        me.append(folder, &[], None, message).map(|r| r.uid)
    }

    /// The names of every folder, sorted (`INBOX` included).
    pub fn folder_names(&self) -> Vec<String> {
        self.lock().folders.keys().cloned().collect()
    }

    /// A message's bytes, if it exists.
    pub fn message(&self, folder: &str, uid: u32) -> Option<Vec<u8>> {
        let s = self.lock();
        let f = s.folders.get(&canonical(folder))?;
        f.find(uid).map(|m| m.data.to_vec())
    }

    /// A message's metadata, if it exists.
    pub fn meta(&self, folder: &str, uid: u32) -> Option<MessageMeta> {
        let s = self.lock();
        let f = s.folders.get(&canonical(folder))?;
        f.find(uid).map(Stored::meta)
    }

    /// The uids of a folder's messages, ascending (empty if it does not exist).
    pub fn uids(&self, folder: &str) -> Vec<u32> {
        let s = self.lock();
        s.folders
            .get(&canonical(folder))
            .map(|f| f.messages.iter().map(|m| m.uid).collect())
            .unwrap_or_default()
    }

    /// Whether a folder is subscribed.
    pub fn is_subscribed(&self, folder: &str) -> bool {
        self.lock().subscriptions.contains(&canonical(folder))
    }

    /// Makes a folder refuse changes (its view says `read_only`). Fails if it does not exist.
    pub fn set_read_only(&self, folder: &str, read_only: bool) -> Result<(), StoreError> {
        self.lock().folder_mut(folder)?.read_only = read_only;
        Ok(())
    }

    /// Changes a folder's uid validity (as after a rebuild of the mail store), for testing a
    /// client's resynchronisation. Fails if it does not exist.
    pub fn set_uid_validity(&self, folder: &str, uid_validity: u32) -> Result<(), StoreError> {
        self.lock().folder_mut(folder)?.uid_validity = uid_validity.max(1);
        Ok(())
    }

    /// While `true`, every [`MailStore`] call fails with [`StoreError::Unavailable`] (the
    /// helpers above keep working).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }
}

/// Copies the messages of `uids` that exist, in the order asked, to `to`.
fn copy_locked(
    s: &mut State,
    folder: &str,
    uids: &[u32],
    to: &str,
) -> Result<CopyResult, StoreError> {
    let source: Vec<Stored> = {
        let f = s.folder(folder)?;
        uids.iter().filter_map(|u| f.find(*u).cloned()).collect()
    };
    let dest = s.writable(to)?;
    if u64::from(dest.uid_next) + source.len() as u64 >= u64::from(u32::MAX) {
        return Err(StoreError::Cannot("no uid left in this folder".into()));
    }
    let mut pairs = Vec::with_capacity(source.len());
    for mut m in source {
        let new = dest.uid_next;
        dest.uid_next += 1;
        pairs.push((m.uid, new));
        m.uid = new;
        dest.messages.push(m);
    }
    Ok(CopyResult {
        uid_validity: dest.uid_validity,
        uids: pairs,
    })
}

/// 1 January 2026, 00:00:00 +0000.
fn default_now() -> DateTime {
    // A valid constant date: these constructors cannot fail here.
    let date = Date::new(2026, 1, 1).expect("valid date");
    DateTime::new(date, 0, 0, 0, 0).expect("valid date-time")
}

impl MailStore for MemoryStore {
    fn list(&mut self) -> Result<Vec<FolderInfo>, StoreError> {
        let s = self.lock();
        s.check()?;
        Ok(s.folders
            .iter()
            .map(|(name, f)| FolderInfo {
                name: name.clone(),
                special_use: f.special_use,
                selectable: f.selectable,
                subscribed: s.subscriptions.contains(name),
            })
            .collect())
    }

    fn create(&mut self, name: &str, special_use: Option<SpecialUse>) -> Result<(), StoreError> {
        let name = valid_name(name)?;
        let mut s = self.lock();
        s.changes = s.changes.wrapping_add(1);
        s.check()?;
        if let Some(f) = s.folders.get_mut(&name) {
            if f.selectable {
                return Err(StoreError::AlreadyExists);
            }
            // A name kept only as the parent of others becomes a folder again.
            f.selectable = true;
            f.special_use = special_use;
            return Ok(());
        }
        s.create_parents(&name);
        let f = s.new_folder(special_use);
        s.folders.insert(name, f);
        Ok(())
    }

    fn delete(&mut self, name: &str) -> Result<(), StoreError> {
        if is_inbox(name) {
            return Err(StoreError::NoPermission);
        }
        let name = canonical(name);
        let mut s = self.lock();
        s.changes = s.changes.wrapping_add(1);
        let f = s.folder(&name)?;
        let prefix = format!("{name}/");
        let has_children = s
            .folders
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix));
        if has_children {
            // RFC 9051 §6.3.5: the messages go, the name stays as a \Noselect parent.
            if !f.selectable {
                return Err(StoreError::Cannot("the folder has children".into()));
            }
            if let Some(f) = s.folders.get_mut(&name) {
                f.selectable = false;
                f.messages.clear();
            }
        } else {
            s.folders.remove(&name);
        }
        Ok(())
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        let to = valid_name(to)?;
        let from = canonical(from);
        let mut s = self.lock();
        s.changes = s.changes.wrapping_add(1);
        s.folder(&from)?;
        if s.folders.contains_key(&to) {
            return Err(StoreError::AlreadyExists);
        }
        if from == "INBOX" {
            // RFC 9051 §6.3.6: INBOX's messages move to the new folder, INBOX stays, empty;
            // its children are not renamed.
            s.create_parents(&to);
            let mut fresh = s.new_folder(None);
            if let Some(inbox) = s.folders.get_mut("INBOX") {
                fresh.messages = std::mem::take(&mut inbox.messages);
                fresh.uid_next = inbox.uid_next;
                fresh.recent_from = inbox.recent_from;
            }
            s.folders.insert(to, fresh);
            return Ok(());
        }
        if to.starts_with(&format!("{from}/")) {
            return Err(StoreError::Cannot(
                "cannot move a folder into itself".into(),
            ));
        }
        let prefix = format!("{from}/");
        let moving: Vec<String> = s
            .folders
            .keys()
            .filter(|k| **k == from || k.starts_with(&prefix))
            .cloned()
            .collect();
        s.create_parents(&to);
        for old in moving {
            let new = format!("{to}{}", &old[from.len()..]);
            if let Some(mut f) = s.folders.remove(&old) {
                // A new name gets a new uid validity (RFC 9051 §2.3.1.1).
                f.uid_validity = s.next_validity;
                s.next_validity = s.next_validity.wrapping_add(1).max(1);
                s.folders.insert(new.clone(), f);
            }
            if s.subscriptions.remove(&old) {
                s.subscriptions.insert(new);
            }
        }
        Ok(())
    }

    fn set_subscribed(&mut self, name: &str, subscribed: bool) -> Result<(), StoreError> {
        let name = valid_name(name)?;
        let mut s = self.lock();
        s.check()?;
        if subscribed {
            // RFC 9051 §6.3.7: only existing folders can be subscribed here.
            s.folder(&name)?;
            s.subscriptions.insert(name);
        } else {
            s.subscriptions.remove(&name);
        }
        Ok(())
    }

    fn status(&mut self, name: &str) -> Result<FolderStatus, StoreError> {
        let s = self.lock();
        let f = s.folder(name)?;
        if !f.selectable {
            return Err(StoreError::Cannot("the folder cannot hold messages".into()));
        }
        let count = |p: &dyn Fn(&Stored) -> bool| {
            u32::try_from(f.messages.iter().filter(|m| p(m)).count()).unwrap_or(u32::MAX)
        };
        Ok(FolderStatus {
            messages: u32::try_from(f.messages.len()).unwrap_or(u32::MAX),
            unseen: count(&|m| !m.flags.contains(&Flag::Seen)),
            deleted: count(&|m| m.flags.contains(&Flag::Deleted)),
            recent: count(&|m| m.uid >= f.recent_from),
            uid_next: f.uid_next,
            uid_validity: f.uid_validity,
            size: f.messages.iter().map(|m| m.data.len() as u64).sum(),
        })
    }

    fn stamp(&mut self, _name: &str) -> Option<u64> {
        Some(self.lock().changes)
    }

    fn view(&mut self, name: &str) -> Result<FolderView, StoreError> {
        let mut s = self.lock();
        let f = s.folder_looked_at(name)?;
        if !f.selectable {
            return Err(StoreError::Cannot("the folder cannot hold messages".into()));
        }
        // Looking at the folder ends the "recent" period of what it held (STATUS RECENT).
        f.recent_from = f.uid_next;
        Ok(FolderView {
            uid_validity: f.uid_validity,
            uid_next: f.uid_next,
            messages: f.messages.iter().map(Stored::meta).collect(),
            keywords_allowed: true,
            read_only: f.read_only,
        })
    }

    fn open_message(&mut self, folder: &str, uid: u32) -> Result<MessageReader, StoreError> {
        let s = self.lock();
        let f = s.folder(folder)?;
        let m = f.find(uid).ok_or(StoreError::NotFound)?;
        Ok(Box::new(Cursor::new(Arc::clone(&m.data))))
    }

    fn set_flags(
        &mut self,
        folder: &str,
        uid: u32,
        flags: &[Flag<'static>],
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let f = s.writable(folder)?;
        let m = f.find_mut(uid).ok_or(StoreError::NotFound)?;
        m.flags = clean_flags(flags);
        Ok(())
    }

    fn append(
        &mut self,
        folder: &str,
        flags: &[Flag<'static>],
        internal_date: Option<DateTime>,
        message: &[u8],
    ) -> Result<AppendResult, StoreError> {
        let mut s = self.lock();
        let now = s.now;
        let f = s.writable(folder)?;
        let uid = f.uid_next;
        if uid == u32::MAX {
            return Err(StoreError::Cannot("no uid left in this folder".into()));
        }
        f.uid_next += 1;
        f.messages.push(Stored {
            uid,
            flags: clean_flags(flags),
            internal_date: internal_date.unwrap_or(now),
            data: Arc::from(message),
        });
        Ok(AppendResult {
            uid_validity: f.uid_validity,
            uid,
        })
    }

    fn copy(&mut self, folder: &str, uids: &[u32], to: &str) -> Result<CopyResult, StoreError> {
        copy_locked(&mut self.lock(), folder, uids, to)
    }

    fn move_messages(
        &mut self,
        folder: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopyResult, StoreError> {
        // One lock for both steps: nobody sees the messages in both folders or in neither.
        let mut s = self.lock();
        s.writable(folder)?;
        let result = copy_locked(&mut s, folder, uids, to)?;
        let src = s.folder_mut(folder)?;
        src.messages
            .retain(|m| !result.uids.iter().any(|&(old, _)| old == m.uid));
        Ok(result)
    }

    fn expunge(&mut self, folder: &str, uids: &[u32]) -> Result<(), StoreError> {
        let mut s = self.lock();
        let f = s.writable(folder)?;
        let set: BTreeSet<u32> = uids.iter().copied().collect();
        f.messages.retain(|m| !set.contains(&m.uid));
        Ok(())
    }
}
