//! An IMAP [`MailStore`] over the example [`Maildir`]: the same files the SMTP listener
//! delivers into and POP3 reads.
//!
//! Layout (Maildir++, as Courier and Dovecot use it):
//!
//! - `INBOX` is the user's maildir itself, `root/<user>/{tmp,new,cur}`, the one
//!   [`Maildir::deliver`] writes to and POP3 lists.
//! - Other folders are subdirectories `root/<user>/.<Name>` with their own `tmp/new/cur`; the
//!   levels of `Archive/2026` are joined with `.` (`.Archive.2026`). A level's `.`, `%`, control
//!   characters and `/` are written `%XX` so every name maps to exactly one directory.
//! - Flags live in the `:2,` info of names in `cur/` ([`Flags`]): `\Draft` `D`, `\Flagged` `F`,
//!   `\Answered` `R`, `\Seen` `S`, `\Deleted` `T`. Keywords (`$Forwarded`, `Junk`) are the
//!   letters `a`–`z`, named in the folder's `dovecot-keywords` file (`<index> <keyword>` lines,
//!   index 0 for `a`), the format Dovecot uses: at most 26 keywords per folder
//!   (`keywords_allowed` turns false when they are all taken). Other letters are kept as found.
//! - Uids: each folder has a `mailsec-uidlist` file, `V<validity> N<next uid>` then one
//!   `<uid> <unique id>` line per message. Every look at the folder reconciles it with the
//!   files: a new file (SMTP delivery) gets the next uid, a file gone (POP3 `DELE`, another
//!   session's `EXPUNGE`) loses its line. The uid of a message never changes while it stays in
//!   the folder, whatever its flags or subdirectory.
//! - The internal date is the file's modification time (set on `APPEND` with a date).
//! - `STATUS RECENT` counts the files still in `new/`; subscriptions are listed in
//!   `mailsec-subscriptions` (one folder name a line; without the file every folder is
//!   subscribed); a folder's special use is in `mailsec-special-use` or guessed from common
//!   names (`Sent`, `Drafts`, `Trash`, `Junk`, `Archive`).
//!
//! Uid list updates are serialized within the process (one lock for every store); like
//! [`Maildir`], nothing protects against other processes writing the same files.
//!
//! # The listing cache and the change stamp
//!
//! Reading a folder's directories is O(n) in its messages, so a store keeps the last listing of
//! each folder (files, uids, flags) and reads the directories again only when the folder's
//! *key* moved: the modification times of `new/` and `cur/` (a file delivered, renamed for new
//! flags, or removed changes its directory's time) and the modification time and length of the
//! uid list and of `dovecot-keywords` (another session, another process). Its own flag changes
//! are applied to the listing in place; its appends, copies, moves and expunges drop the
//! listing. So `STORE 1:* +FLAGS` or a FETCH of every message costs O(n), not O(n²).
//! [`MailStore::stamp`] is a number drawn afresh from a process-wide counter whenever a folder
//! is listed again or this store changes it.
//!
//! The caveat is the granularity of file times (2 s on FAT, 1 s on ext3 and HFS+, a clock tick
//! elsewhere): a change in the same tick as the listing leaves the key as it was. A listing
//! made while a time of its key is less than [`MTIME_GRANULARITY`] old, or in the future, or
//! after a change by this store, is therefore suspect: it is read again once that time has
//! passed (and at least every [`MTIME_GRANULARITY`] while changes go on), which gives a new
//! stamp even when nothing differs. When unsure, the stamp changes; a change made by another
//! process shows at the latest [`MTIME_GRANULARITY`] after it, and usually at the next look.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mailsec_imap::store::{
    AppendResult, CopyResult, FolderInfo, FolderStatus, FolderView, MailStore, MessageMeta,
    MessageReader, SpecialUse, StoreError,
};
use mailsec_imap::types::{Date, DateTime, Flag};
use time::UtcDateTime;

use crate::maildir::{Flags, Maildir, MaildirError, validate_id};

/// The uid list file of a folder.
const UIDLIST: &str = "mailsec-uidlist";
/// The subscriptions file of the user's maildir.
const SUBSCRIPTIONS: &str = "mailsec-subscriptions";
/// The keyword names of a folder (Dovecot's file and format).
const KEYWORDS: &str = "dovecot-keywords";
/// The special-use file of a folder.
const SPECIAL_USE: &str = "mailsec-special-use";
/// Longest folder name accepted, in octets.
const MAX_NAME: usize = 512;
/// How coarse file modification times may be (FAT: 2 s); a listing whose key holds a time
/// younger than this is read again once it has passed (see the module documentation).
pub const MTIME_GRANULARITY: Duration = Duration::from_secs(2);

/// Serializes uid list reads and writes of every store in the process.
static UIDLIST_LOCK: Mutex<()> = Mutex::new(());
/// The last uid validity handed out, so two folders created in the same second differ.
static LAST_VALIDITY: AtomicU32 = AtomicU32::new(0);
/// Counter for unique names of appended messages.
static COUNTER: AtomicU64 = AtomicU64::new(0);
/// The source of change stamps: every listing and every change of a store draws a new value.
static STAMPS: AtomicU64 = AtomicU64::new(1);

fn next_stamp() -> u64 {
    STAMPS.fetch_add(1, Ordering::Relaxed)
}

/// One user's folders in a [`Maildir`], as an IMAP [`MailStore`].
#[derive(Clone, Debug)]
pub struct MaildirStore {
    root: PathBuf,
    host: String,
    /// The last listing of each folder, by directory.
    cache: HashMap<PathBuf, Listing>,
}

/// What says whether a folder's files may have changed since it was listed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct DirKey {
    new: Option<SystemTime>,
    cur: Option<SystemTime>,
    uidlist: Option<(SystemTime, u64)>,
    keywords: Option<(SystemTime, u64)>,
}

impl DirKey {
    fn of(dir: &Path) -> DirKey {
        let mtime = |p: PathBuf| fs::metadata(p).ok().and_then(|m| m.modified().ok());
        let file = |p: PathBuf| {
            let m = fs::metadata(p).ok()?;
            Some((m.modified().ok()?, m.len()))
        };
        DirKey {
            new: mtime(dir.join("new")),
            cur: mtime(dir.join("cur")),
            uidlist: file(dir.join(UIDLIST)),
            keywords: file(dir.join(KEYWORDS)),
        }
    }

    /// Whether a time of the key is younger than the granularity (or in the future): a change
    /// in the same tick would not move it.
    fn recent(&self, now: SystemTime) -> bool {
        [
            self.new,
            self.cur,
            self.uidlist.map(|u| u.0),
            self.keywords.map(|k| k.0),
        ]
        .into_iter()
        .flatten()
        .any(|t| !now.duration_since(t).is_ok_and(|d| d >= MTIME_GRANULARITY))
    }
}

/// A folder as last listed.
#[derive(Clone, Debug)]
struct Listing {
    key: DirKey,
    /// When set, the folder is listed again at this time even if the key stands still.
    recheck_at: Option<SystemTime>,
    /// The folder's change stamp.
    stamp: u64,
    list: UidList,
    /// (uid, file), ascending by uid.
    messages: Vec<(u32, Entry)>,
}

impl Listing {
    fn entry(&self, uid: u32) -> Result<&Entry, StoreError> {
        self.messages
            .binary_search_by_key(&uid, |(u, _)| *u)
            .map(|i| &self.messages[i].1)
            .map_err(|_| StoreError::NotFound)
    }
}

impl MaildirStore {
    /// The store of `user` (creating the maildir if needed). `hostname` goes, reduced, into
    /// the unique names of appended messages.
    pub fn open(maildir: &Maildir, user: &str, hostname: &str) -> Result<Self, MaildirError> {
        let mailbox = maildir.mailbox(user)?;
        let host: String = hostname
            .split('.')
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(16)
            .collect();
        Ok(MaildirStore {
            cache: HashMap::new(),
            root: mailbox.path().to_path_buf(),
            host: if host.is_empty() {
                "localhost".into()
            } else {
                host
            },
        })
    }

    /// The directory of a folder (it may not exist).
    fn dir(&self, name: &str) -> Result<PathBuf, StoreError> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Ok(self.root.clone());
        }
        let levels = check_name(name)?;
        let mut dir = String::new();
        for level in levels {
            dir.push('.');
            dir.push_str(&encode_level(level));
        }
        Ok(self.root.join(dir))
    }

    /// The directory of an existing folder.
    fn existing(&self, name: &str) -> Result<PathBuf, StoreError> {
        let dir = self.dir(name)?;
        if dir.join("cur").is_dir() {
            Ok(dir)
        } else {
            Err(StoreError::NotFound)
        }
    }

    /// The listing of the folder in `dir`: the cached one while its key stands still and no
    /// recheck is due, else the files read again.
    /// The COPYUID answer for messages just copied or moved into `dest`: each source uid paired
    /// with the uid its unique id was given there (RFC 4315 §3), one lookup per message.
    fn uids_in(
        &mut self,
        dest: &Path,
        placed: Vec<(u32, String)>,
    ) -> Result<CopyResult, StoreError> {
        let Listing { list, messages, .. } = self.listing(dest)?;
        let by_id: HashMap<&str, u32> = messages
            .iter()
            .map(|(uid, e)| (e.id.as_str(), *uid))
            .collect();
        Ok(CopyResult {
            uid_validity: list.validity,
            uids: placed
                .into_iter()
                .filter_map(|(old, id)| by_id.get(id.as_str()).map(|new| (old, *new)))
                .collect(),
        })
    }

    fn listing(&mut self, dir: &Path) -> Result<&mut Listing, StoreError> {
        let now = SystemTime::now();
        let key = DirKey::of(dir);
        let fresh = self
            .cache
            .get(dir)
            .is_some_and(|l| l.key == key && l.recheck_at.is_none_or(|t| now < t));
        if !fresh {
            self.cache.remove(dir);
            let (list, messages) = sync(dir)?;
            // Taken after the sync (which may rewrite the uid list); a change between the
            // scan and this look has a recent time, and a recent time makes the listing suspect.
            let key = DirKey::of(dir);
            let recheck_at = key.recent(now).then(|| now + MTIME_GRANULARITY);
            self.cache.insert(
                dir.to_path_buf(),
                Listing {
                    key,
                    recheck_at,
                    stamp: next_stamp(),
                    list,
                    messages,
                },
            );
        }
        self.cache.get_mut(dir).ok_or(StoreError::NotFound)
    }

    /// After this store changed the folder in `dir` in place: a new stamp, the key as it is
    /// now, and a recheck soon (a change by someone else in the same tick hides behind ours).
    fn touched(&mut self, dir: &Path) {
        if let Some(l) = self.cache.get_mut(dir) {
            let now = SystemTime::now();
            l.key = DirKey::of(dir);
            l.stamp = next_stamp();
            let soon = now + MTIME_GRANULARITY;
            l.recheck_at = Some(l.recheck_at.map_or(soon, |t| t.min(soon)));
        }
    }

    /// Drops the listing of `dir` (files added or removed by this store).
    fn forget(&mut self, dir: &Path) {
        self.cache.remove(dir);
    }

    /// The names of every folder that has a directory, `INBOX` first.
    fn folder_names(&self) -> Result<Vec<String>, StoreError> {
        let mut out = vec!["INBOX".to_string()];
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let Ok(file) = entry.file_name().into_string() else {
                continue;
            };
            let Some(rest) = file.strip_prefix('.') else {
                continue;
            };
            if rest.is_empty() || rest == "." || !entry.path().join("cur").is_dir() {
                continue;
            }
            let levels: Option<Vec<String>> = rest.split('.').map(decode_level).collect();
            if let Some(levels) = levels {
                let name = levels.join("/");
                if check_name(&name).is_ok() && !name.eq_ignore_ascii_case("INBOX") {
                    out.push(name);
                }
            }
        }
        out[1..].sort();
        Ok(out)
    }

    fn subscriptions(&self) -> Option<Vec<String>> {
        let text = fs::read_to_string(self.root.join(SUBSCRIPTIONS)).ok()?;
        Some(
            text.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    fn write_subscriptions(&self, names: &[String]) -> Result<(), StoreError> {
        let mut text = String::new();
        for n in names {
            text.push_str(n);
            text.push('\n');
        }
        write_atomic(&self.root.join(SUBSCRIPTIONS), text.as_bytes())?;
        Ok(())
    }

    fn unique_name(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // `I` keeps these names apart from the ones `Maildir::deliver` makes in this process.
        format!(
            "{}.M{:06}P{}I{}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            n,
            self.host
        )
    }

    /// Writes a message into `dir` (tmp, then `new/` or `cur/` with flags); returns its id.
    fn store_file(
        &self,
        dir: &Path,
        flags: &str,
        mtime: Option<SystemTime>,
        data: &[u8],
    ) -> Result<String, StoreError> {
        for _ in 0..4 {
            let id = self.unique_name();
            let tmp = dir.join("tmp").join(&id);
            let mut file = match OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e.into()),
            };
            let written = file
                .write_all(data)
                .and_then(|()| match mtime {
                    Some(t) => file.set_modified(t),
                    None => Ok(()),
                })
                .and_then(|()| file.sync_all());
            drop(file);
            if let Err(e) = written {
                let _ = fs::remove_file(&tmp);
                return Err(e.into());
            }
            let dest = if flags.is_empty() {
                dir.join("new").join(&id)
            } else {
                dir.join("cur").join(format!("{id}:2,{flags}"))
            };
            if let Err(e) = fs::rename(&tmp, &dest) {
                let _ = fs::remove_file(&tmp);
                return Err(e.into());
            }
            return Ok(id);
        }
        Err(StoreError::Unavailable(io::ErrorKind::AlreadyExists.into()))
    }
}

/// Checks a folder name: levels separated by `/`, none empty, no control characters, no LIST
/// wildcards; returns the levels.
fn check_name(name: &str) -> Result<Vec<&str>, StoreError> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(StoreError::Cannot("invalid folder name length".into()));
    }
    let levels: Vec<&str> = name.split('/').collect();
    if levels.iter().any(|l| l.is_empty()) {
        return Err(StoreError::Cannot("empty level in folder name".into()));
    }
    if name.chars().any(|c| c.is_control() || c == '*' || c == '%') {
        return Err(StoreError::Cannot(
            "invalid character in folder name".into(),
        ));
    }
    Ok(levels)
}

fn encode_level(level: &str) -> String {
    let mut out = String::with_capacity(level.len());
    for c in level.chars() {
        if c == '.' || c == '%' || c == '/' || c == '\\' || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn decode_level(level: &str) -> Option<String> {
    let bytes = level.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let s = String::from_utf8(out).ok()?;
    (!s.is_empty()).then_some(s)
}

fn guess_special_use(name: &str) -> Option<SpecialUse> {
    let n = name.to_ascii_lowercase();
    Some(match n.as_str() {
        "sent" | "sent messages" | "sent items" => SpecialUse::Sent,
        "drafts" => SpecialUse::Drafts,
        "trash" | "deleted messages" | "deleted items" => SpecialUse::Trash,
        "junk" | "spam" => SpecialUse::Junk,
        "archive" | "archives" => SpecialUse::Archive,
        _ => return None,
    })
}

fn special_use_from(text: &str) -> Option<SpecialUse> {
    SpecialUse::from_name(text.trim())
}

fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// One message file of a folder.
#[derive(Clone, Debug)]
struct Entry {
    id: String,
    path: PathBuf,
    in_new: bool,
    /// Letters of the `:2,` info, known and unknown.
    letters: String,
    size: u64,
    mtime: SystemTime,
}

impl Entry {
    fn flags(&self, keywords: &Keywords) -> Vec<Flag<'static>> {
        let f = Flags::parse(&self.letters);
        let mut out = Vec::new();
        for (set, flag) in [
            (f.replied, Flag::Answered),
            (f.flagged, Flag::Flagged),
            (f.trashed, Flag::Deleted),
            (f.seen, Flag::Seen),
            (f.draft, Flag::Draft),
        ] {
            if set {
                out.push(flag);
            }
        }
        for c in self.letters.chars() {
            if let Some(name) = keywords.name(c) {
                if let Ok(flag @ Flag::Keyword(_)) = Flag::new(name) {
                    out.push(flag.into_owned());
                }
            }
        }
        out
    }
}

/// A folder's keyword names by letter index (0 = `a` … 25 = `z`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Keywords(BTreeMap<u8, String>);

impl Keywords {
    fn load(dir: &Path) -> Keywords {
        let mut map = BTreeMap::new();
        if let Ok(text) = fs::read_to_string(dir.join(KEYWORDS)) {
            for line in text.lines() {
                let Some((idx, name)) = line.split_once(' ') else {
                    continue;
                };
                let Ok(idx) = idx.parse::<u8>() else { continue };
                if idx < 26 && matches!(Flag::new(name), Ok(Flag::Keyword(_))) {
                    map.insert(idx, name.to_string());
                }
            }
        }
        Keywords(map)
    }

    fn save(&self, dir: &Path) -> io::Result<()> {
        let mut text = String::new();
        for (idx, name) in &self.0 {
            text.push_str(&format!("{idx} {name}\n"));
        }
        write_atomic(&dir.join(KEYWORDS), text.as_bytes())
    }

    fn name(&self, letter: char) -> Option<&str> {
        let idx = u8::try_from(u32::from(letter).checked_sub(u32::from('a'))?).ok()?;
        self.0.get(&idx).map(String::as_str)
    }

    fn full(&self) -> bool {
        self.0.len() >= 26
    }

    /// The letter of a keyword, assigning a free one if needed (`None` when all 26 are taken).
    fn letter_for(&mut self, name: &str) -> Option<char> {
        let idx = match self.0.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)) {
            Some((idx, _)) => *idx,
            None => {
                let free = (0..26u8).find(|i| !self.0.contains_key(i))?;
                self.0.insert(free, name.to_string());
                free
            }
        };
        Some(char::from(b'a' + idx))
    }
}

/// The `:2,` letters for IMAP flags in a folder with `keywords` (assigning letters to new
/// keywords), keeping the letters of `keep_from` that name no keyword of `old` and no system
/// flag.
fn letters_for(
    flags: &[Flag<'static>],
    keep_from: &str,
    old: &Keywords,
    keywords: &mut Keywords,
) -> String {
    let known = Flags {
        draft: flags.contains(&Flag::Draft),
        flagged: flags.contains(&Flag::Flagged),
        replied: flags.contains(&Flag::Answered),
        seen: flags.contains(&Flag::Seen),
        trashed: flags.contains(&Flag::Deleted),
    };
    let mut letters: Vec<char> = known.letters().chars().collect();
    for f in flags {
        if let Flag::Keyword(k) = f {
            letters.extend(keywords.letter_for(k.as_str()));
        }
    }
    letters.extend(
        keep_from
            .chars()
            .filter(|c| !"DFRST".contains(*c) && c.is_ascii_graphic() && old.name(*c).is_none()),
    );
    letters.sort_unstable();
    letters.dedup();
    letters.into_iter().collect()
}

/// Computes the letters for `flags` in `dir` and saves the folder's keywords if new ones were
/// named.
fn letters_in(
    dir: &Path,
    flags: &[Flag<'static>],
    keep_from: &str,
    old: &Keywords,
) -> Result<String, StoreError> {
    let _guard = UIDLIST_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let mut keywords = Keywords::load(dir);
    let before = keywords.clone();
    let letters = letters_for(flags, keep_from, old, &mut keywords);
    if keywords != before {
        keywords.save(dir)?;
    }
    Ok(letters)
}

fn leading_number(name: &str) -> u64 {
    let digits: String = name
        .chars()
        .take_while(char::is_ascii_digit)
        .take(19)
        .collect();
    digits.parse().unwrap_or(u64::MAX)
}

#[cfg(test)]
thread_local! {
    /// Folder scans made by this thread (tests count them).
    static SCANS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The message files of a folder, in delivery order.
fn scan(dir: &Path) -> io::Result<Vec<Entry>> {
    #[cfg(test)]
    SCANS.with(|c| c.set(c.get() + 1));
    let mut out = Vec::new();
    for (sub, in_new) in [("new", true), ("cur", false)] {
        for entry in fs::read_dir(dir.join(sub))? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let (id, letters) = if in_new {
                (name.as_str(), "")
            } else {
                match name.split_once(":2,") {
                    Some((id, letters)) => (id, letters),
                    None => (name.split_once(':').map_or(name.as_str(), |(id, _)| id), ""),
                }
            };
            if validate_id(id).is_err() {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            out.push(Entry {
                id: id.to_string(),
                path: entry.path(),
                in_new,
                letters: letters.to_string(),
                size: meta.len(),
                mtime: meta.modified().unwrap_or(UNIX_EPOCH),
            });
        }
    }
    out.sort_by(|a, b| (leading_number(&a.id), &a.id).cmp(&(leading_number(&b.id), &b.id)));
    Ok(out)
}

/// A folder's uid list.
#[derive(Clone, Debug, PartialEq, Eq)]
struct UidList {
    validity: u32,
    next: u32,
    /// (uid, id), ascending by uid.
    entries: Vec<(u32, String)>,
}

fn new_validity() -> u32 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    let mut last = LAST_VALIDITY.load(Ordering::Relaxed);
    loop {
        let v = now.max(last.saturating_add(1)).max(1);
        match LAST_VALIDITY.compare_exchange(last, v, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return v,
            Err(seen) => last = seen,
        }
    }
}

impl UidList {
    fn load(dir: &Path) -> Option<UidList> {
        let text = fs::read_to_string(dir.join(UIDLIST)).ok()?;
        let mut lines = text.lines();
        let mut head = lines.next()?.split(' ');
        let validity: u32 = head.next()?.strip_prefix('V')?.parse().ok()?;
        let next: u32 = head.next()?.strip_prefix('N')?.parse().ok()?;
        let mut entries = Vec::new();
        let mut last = 0;
        for line in lines {
            let (uid, id) = line.split_once(' ')?;
            let uid: u32 = uid.parse().ok()?;
            if uid <= last || uid >= next {
                return None;
            }
            last = uid;
            entries.push((uid, id.to_string()));
        }
        (validity != 0).then_some(UidList {
            validity,
            next,
            entries,
        })
    }

    fn save(&self, dir: &Path) -> io::Result<()> {
        let mut text = format!("V{} N{}\n", self.validity, self.next);
        for (uid, id) in &self.entries {
            text.push_str(&format!("{uid} {id}\n"));
        }
        write_atomic(&dir.join(UIDLIST), text.as_bytes())
    }
}

/// Reconciles the uid list with the files: the folder's list and its messages by uid.
fn sync(dir: &Path) -> Result<(UidList, Vec<(u32, Entry)>), StoreError> {
    let _guard = UIDLIST_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let files = scan(dir)?;
    let old = UidList::load(dir);
    let mut list = old.clone().unwrap_or_else(|| UidList {
        validity: new_validity(),
        next: 1,
        entries: Vec::new(),
    });
    let mut by_id: HashMap<&str, &Entry> = files.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut messages = Vec::with_capacity(files.len());
    list.entries
        .retain(|(uid, id)| match by_id.remove(id.as_str()) {
            Some(e) => {
                messages.push((*uid, e.clone()));
                true
            }
            None => false,
        });
    for e in &files {
        if by_id.remove(e.id.as_str()).is_some() {
            if list.next == u32::MAX {
                break;
            }
            let uid = list.next;
            list.next += 1;
            list.entries.push((uid, e.id.clone()));
            messages.push((uid, e.clone()));
        }
    }
    if old.as_ref() != Some(&list) {
        list.save(dir)?;
    }
    Ok((list, messages))
}

// ---- dates: file times <-> IMAP date-times (proleptic Gregorian, UTC) ----

/// A file time as an IMAP date-time in UTC. Years before 0 are written as year 0 and years
/// after 9999 as 9999 (IMAP's four digits, RFC 9051 §9 `date-year`), with the same month,
/// day and time of day, inside the `time` crate's range (±9999); a time beyond it is read as
/// the range's first or last second.
fn to_datetime(t: SystemTime) -> DateTime {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(0),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(0),
    };
    let secs = secs.clamp(
        UtcDateTime::MIN.unix_timestamp(),
        UtcDateTime::MAX.unix_timestamp(),
    );
    let t = UtcDateTime::from_unix_timestamp(secs).unwrap_or(UtcDateTime::UNIX_EPOCH);
    let date = Date::new(
        u16::try_from(t.year().clamp(0, 9999)).unwrap_or(1970),
        u8::from(t.month()),
        t.day(),
    )
    .or_else(|_| Date::new(1970, 1, 1));
    match date.and_then(|date| DateTime::new(date, t.hour(), t.minute(), t.second(), 0)) {
        Ok(dt) => dt,
        Err(_) => epoch(),
    }
}

fn epoch() -> DateTime {
    // 1970-01-01 00:00:00 +0000 is valid.
    DateTime::new(Date::new(1970, 1, 1).expect("valid date"), 0, 0, 0, 0).expect("valid")
}

/// An IMAP date-time as a file time.
fn to_system_time(dt: &DateTime) -> SystemTime {
    let d = dt.date();
    let (h, mi, s) = dt.time();
    // Days since 1970-01-01. An IMAP date (year 0 to 9999, month 1 to 12, a day of that
    // month) is always a calendar date of the `time` crate.
    let days = time::Month::try_from(d.month())
        .and_then(|month| time::Date::from_calendar_date(i32::from(d.year()), month, d.day()))
        .map(|date| {
            i64::from(date.to_julian_day() - UtcDateTime::UNIX_EPOCH.date().to_julian_day())
        })
        .unwrap_or(0);
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)
        - i64::from(dt.zone_minutes()) * 60;
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))
            .unwrap_or(UNIX_EPOCH)
    }
}

fn store_io(e: io::Error) -> StoreError {
    match e.kind() {
        io::ErrorKind::NotFound => StoreError::NotFound,
        _ => StoreError::Unavailable(e),
    }
}

impl MailStore for MaildirStore {
    fn list(&mut self) -> Result<Vec<FolderInfo>, StoreError> {
        let names = self.folder_names()?;
        let subs = self.subscriptions();
        let mut out: BTreeMap<String, FolderInfo> = BTreeMap::new();
        for name in &names {
            let special_use = if name == "INBOX" {
                None
            } else {
                let dir = self.dir(name)?;
                fs::read_to_string(dir.join(SPECIAL_USE))
                    .ok()
                    .and_then(|t| special_use_from(&t))
                    .or_else(|| guess_special_use(name))
            };
            out.insert(
                name.clone(),
                FolderInfo {
                    name: name.clone(),
                    special_use,
                    selectable: true,
                    subscribed: subs.as_ref().is_none_or(|s| s.contains(name)),
                },
            );
            // Parents without a directory of their own are listed as \Noselect.
            let mut end = 0;
            while let Some(i) = name[end..].find('/') {
                let parent = &name[..end + i];
                out.entry(parent.to_string()).or_insert_with(|| FolderInfo {
                    name: parent.to_string(),
                    special_use: None,
                    selectable: false,
                    subscribed: subs.as_ref().is_some_and(|s| s.iter().any(|n| n == parent)),
                });
                end += i + 1;
            }
        }
        let mut list: Vec<FolderInfo> = out.into_values().collect();
        // INBOX first.
        list.sort_by_key(|f| f.name != "INBOX");
        Ok(list)
    }

    fn create(&mut self, name: &str, special_use: Option<SpecialUse>) -> Result<(), StoreError> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Err(StoreError::AlreadyExists);
        }
        let levels = check_name(name)?;
        let dir = self.dir(name)?;
        if dir.join("cur").is_dir() {
            return Err(StoreError::AlreadyExists);
        }
        for n in 1..=levels.len() {
            let level_name = levels[..n].join("/");
            let d = self.dir(&level_name)?;
            for sub in ["tmp", "new", "cur"] {
                fs::create_dir_all(d.join(sub))?;
            }
        }
        if let Some(usage) = special_use {
            fs::write(dir.join(SPECIAL_USE), usage.name())?;
        }
        self.cache.clear();
        Ok(())
    }

    fn delete(&mut self, name: &str) -> Result<(), StoreError> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Err(StoreError::NoPermission);
        }
        let dir = self.existing(name)?;
        self.cache.clear();
        // Children are directories of their own and stay (the name becomes \Noselect).
        fs::remove_dir_all(&dir).map_err(store_io)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        if to.eq_ignore_ascii_case("INBOX") {
            return Err(StoreError::AlreadyExists);
        }
        check_name(to)?;
        let from_dir = self.existing(from)?;
        self.cache.clear();
        if self.dir(to)?.join("cur").is_dir() {
            return Err(StoreError::AlreadyExists);
        }
        if from.eq_ignore_ascii_case("INBOX") {
            // RFC 9051 §6.3.6: INBOX's messages move to the new folder; INBOX stays, empty.
            self.create(to, None)?;
            let to_dir = self.dir(to)?;
            // The letters keep their meaning: the keyword names go along.
            let keywords = Keywords::load(&from_dir);
            if !keywords.0.is_empty() {
                keywords.save(&to_dir)?;
            }
            for e in scan(&from_dir)? {
                let file = e.path.file_name().map(PathBuf::from).unwrap_or_default();
                let sub = if e.in_new { "new" } else { "cur" };
                fs::rename(&e.path, to_dir.join(sub).join(file)).map_err(store_io)?;
            }
            sync(&from_dir)?;
            return Ok(());
        }
        if to.starts_with(&format!("{from}/")) {
            return Err(StoreError::Cannot(
                "cannot move a folder into itself".into(),
            ));
        }
        let prefix = format!("{from}/");
        let moving: Vec<String> = self
            .folder_names()?
            .into_iter()
            .filter(|n| n == from || n.starts_with(&prefix))
            .collect();
        for old in moving {
            let new = format!("{to}{}", &old[from.len()..]);
            fs::rename(self.dir(&old)?, self.dir(&new)?).map_err(store_io)?;
        }
        if let Some(mut subs) = self.subscriptions() {
            for s in subs.iter_mut() {
                if s == from || s.starts_with(&prefix) {
                    *s = format!("{to}{}", &s[from.len()..]);
                }
            }
            self.write_subscriptions(&subs)?;
        }
        Ok(())
    }

    fn set_subscribed(&mut self, name: &str, subscribed: bool) -> Result<(), StoreError> {
        let name = if name.eq_ignore_ascii_case("INBOX") {
            "INBOX".to_string()
        } else {
            check_name(name)?;
            name.to_string()
        };
        if subscribed {
            self.existing(&name)?;
        }
        // Without the file every folder is subscribed: start from that.
        let mut subs = match self.subscriptions() {
            Some(s) => s,
            None => self.folder_names()?,
        };
        subs.retain(|s| *s != name);
        if subscribed {
            subs.push(name);
        }
        subs.sort();
        self.write_subscriptions(&subs)
    }

    fn status(&mut self, name: &str) -> Result<FolderStatus, StoreError> {
        let dir = self.existing(name)?;
        let Listing { list, messages, .. } = self.listing(&dir)?;
        let count = |p: &dyn Fn(&Entry) -> bool| {
            u32::try_from(messages.iter().filter(|(_, e)| p(e)).count()).unwrap_or(u32::MAX)
        };
        Ok(FolderStatus {
            messages: u32::try_from(messages.len()).unwrap_or(u32::MAX),
            unseen: count(&|e| !Flags::parse(&e.letters).seen),
            deleted: count(&|e| Flags::parse(&e.letters).trashed),
            recent: count(&|e| e.in_new),
            uid_next: list.next,
            uid_validity: list.validity,
            size: messages.iter().map(|(_, e)| e.size).sum(),
        })
    }

    fn view(&mut self, name: &str) -> Result<FolderView, StoreError> {
        let dir = self.existing(name)?;
        let keywords = Keywords::load(&dir);
        let Listing { list, messages, .. } = self.listing(&dir)?;
        Ok(FolderView {
            uid_validity: list.validity,
            uid_next: list.next,
            messages: messages
                .iter()
                .map(|(uid, e)| MessageMeta {
                    uid: *uid,
                    flags: e.flags(&keywords),
                    internal_date: to_datetime(e.mtime),
                    size: e.size,
                })
                .collect(),
            keywords_allowed: !keywords.full(),
            read_only: false,
        })
    }

    /// A value drawn afresh whenever the folder is listed again or this store changed it; see
    /// the module documentation for the file-time caveat. `None` when the folder is gone.
    fn stamp(&mut self, name: &str) -> Option<u64> {
        let dir = self.existing(name).ok()?;
        self.listing(&dir).ok().map(|l| l.stamp)
    }

    fn open_message(&mut self, folder: &str, uid: u32) -> Result<MessageReader, StoreError> {
        let dir = self.existing(folder)?;
        let path = self.listing(&dir)?.entry(uid)?.path.clone();
        match File::open(&path) {
            Ok(f) => Ok(Box::new(f)),
            Err(e) => {
                // Renamed or removed behind the listing's back: list again and retry once.
                self.forget(&dir);
                let path = self.listing(&dir)?.entry(uid)?.path.clone();
                File::open(&path)
                    .map_err(|_| store_io(e))
                    .map(|f| Box::new(f) as MessageReader)
            }
        }
    }

    fn set_flags(
        &mut self,
        folder: &str,
        uid: u32,
        flags: &[Flag<'static>],
    ) -> Result<(), StoreError> {
        let dir = self.existing(folder)?;
        let e = self.listing(&dir)?.entry(uid)?.clone();
        let old = Keywords::load(&dir);
        let letters = letters_in(&dir, flags, &e.letters, &old)?;
        let path = dir.join("cur").join(format!("{}:2,{letters}", e.id));
        if path != e.path {
            if let Err(err) = fs::rename(&e.path, &path) {
                self.forget(&dir);
                return Err(store_io(err));
            }
            if let Some(l) = self.cache.get_mut(&dir) {
                if let Ok(i) = l.messages.binary_search_by_key(&uid, |(u, _)| *u) {
                    let entry = &mut l.messages[i].1;
                    entry.path = path;
                    entry.letters = letters;
                    entry.in_new = false;
                }
            }
            self.touched(&dir);
        } else if old != Keywords::load(&dir) {
            self.touched(&dir);
        }
        Ok(())
    }

    fn append(
        &mut self,
        folder: &str,
        flags: &[Flag<'static>],
        internal_date: Option<DateTime>,
        message: &[u8],
    ) -> Result<AppendResult, StoreError> {
        let dir = self.existing(folder)?;
        let letters = letters_in(&dir, flags, "", &Keywords::default())?;
        let id = self.store_file(
            &dir,
            &letters,
            internal_date.as_ref().map(to_system_time),
            message,
        )?;
        self.forget(&dir);
        let Listing { list, messages, .. } = self.listing(&dir)?;
        let uid = messages
            .iter()
            .find(|(_, e)| e.id == id)
            .map(|(u, _)| *u)
            .ok_or(StoreError::NotFound)?;
        Ok(AppendResult {
            uid_validity: list.validity,
            uid,
        })
    }

    fn copy(&mut self, folder: &str, uids: &[u32], to: &str) -> Result<CopyResult, StoreError> {
        let src = self.existing(folder)?;
        let dest = self.existing(to)?;
        let messages = self.listing(&src)?.messages.clone();
        let src_keywords = Keywords::load(&src);
        let mut made = Vec::new();
        self.forget(&dest);
        for uid in uids {
            let Ok(i) = messages.binary_search_by_key(uid, |(u, _)| *u) else {
                continue;
            };
            let e = &messages[i].1;
            let data = fs::read(&e.path).map_err(store_io)?;
            let letters = letters_in(&dest, &e.flags(&src_keywords), &e.letters, &src_keywords)?;
            let id = self.store_file(&dest, &letters, Some(e.mtime), &data)?;
            made.push((*uid, id));
        }
        self.forget(&dest);
        self.uids_in(&dest, made)
    }

    fn move_messages(
        &mut self,
        folder: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopyResult, StoreError> {
        let src = self.existing(folder)?;
        let dest = self.existing(to)?;
        if src == dest {
            return self.copy(folder, uids, to).and_then(|r| {
                self.expunge(folder, uids)?;
                Ok(r)
            });
        }
        let messages = self.listing(&src)?.messages.clone();
        self.forget(&src);
        self.forget(&dest);
        let src_keywords = Keywords::load(&src);
        let mut moved = Vec::new();
        for uid in uids {
            let Ok(i) = messages.binary_search_by_key(uid, |(u, _)| *u) else {
                continue;
            };
            let e = &messages[i].1;
            // A rename keeps the unique id: the file changes folder, atomically. Keyword
            // letters are those of the destination.
            let target = if e.in_new {
                dest.join("new").join(&e.id)
            } else {
                let letters =
                    letters_in(&dest, &e.flags(&src_keywords), &e.letters, &src_keywords)?;
                dest.join("cur").join(format!("{}:2,{letters}", e.id))
            };
            fs::rename(&e.path, target).map_err(store_io)?;
            moved.push((*uid, e.id.clone()));
        }
        self.listing(&src)?;
        self.uids_in(&dest, moved)
    }

    fn expunge(&mut self, folder: &str, uids: &[u32]) -> Result<(), StoreError> {
        let dir = self.existing(folder)?;
        let messages = self.listing(&dir)?.messages.clone();
        self.forget(&dir);
        for (uid, e) in &messages {
            if uids.contains(uid) {
                match fs::remove_file(&e.path) {
                    Ok(()) => {}
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    Err(err) => return Err(err.into()),
                }
            }
        }
        self.listing(&dir)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn setup(tag: &str) -> (tempfile::TempDir, Maildir, MaildirStore) {
        let tmp = crate::test_support::temp_dir(tag);
        let maildir = Maildir::open(tmp.path().join("mail"), "mx.example.test").unwrap();
        let store = MaildirStore::open(&maildir, "alice", "imap.example.test").unwrap();
        (tmp, maildir, store)
    }

    fn smtp_deliver(maildir: &Maildir, body: &[u8]) -> String {
        let mut d = maildir.deliver("alice").unwrap();
        d.write_chunk(body).unwrap();
        d.commit().unwrap().id
    }

    fn read(store: &mut MaildirStore, folder: &str, uid: u32) -> Vec<u8> {
        let mut out = Vec::new();
        store
            .open_message(folder, uid)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn smtp_deliveries_get_stable_uids_and_pop3_deletes_are_seen() {
        let (_tmp, maildir, mut store) = setup("imap-uids");
        let a = smtp_deliver(&maildir, b"Subject: a\r\n\r\none\r\n");
        let v = store.view("INBOX").unwrap();
        assert_eq!(v.messages.len(), 1);
        assert_eq!((v.messages[0].uid, v.uid_next), (1, 2));
        assert_eq!(v.messages[0].size, 19);
        let validity = v.uid_validity;
        smtp_deliver(&maildir, b"two\r\n");
        // Flags move the file to cur/ with a :2, suffix; the uid stays.
        store
            .set_flags("inbox", 1, &[Flag::Seen, Flag::Answered])
            .unwrap();
        let cur: Vec<String> = fs::read_dir(maildir.root().join("alice/cur"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(cur, [format!("{a}:2,RS")]);
        let v = store.view("INBOX").unwrap();
        assert_eq!(v.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(v.messages[0].flags, [Flag::Answered, Flag::Seen]);
        assert_eq!(read(&mut store, "INBOX", 1), b"Subject: a\r\n\r\none\r\n");
        // POP3 deletes the first message: its uid goes, the other keeps its own.
        maildir.mailbox("alice").unwrap().delete(&a).unwrap();
        let v = store.view("INBOX").unwrap();
        assert_eq!(v.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [2]);
        assert_eq!(v.uid_validity, validity);
        // Another store instance (another session) reads the same uid list.
        let mut other = MaildirStore::open(&maildir, "alice", "x").unwrap();
        assert_eq!(other.view("INBOX").unwrap(), v);
        // And POP3 still lists what IMAP flagged.
        assert_eq!(maildir.mailbox("alice").unwrap().list().unwrap().len(), 1);
    }

    #[test]
    fn status_counts_new_as_recent() {
        let (_tmp, maildir, mut store) = setup("imap-status");
        smtp_deliver(&maildir, b"12345");
        store
            .append("INBOX", &[Flag::Seen, Flag::Deleted], None, b"123")
            .unwrap();
        let s = store.status("INBOX").unwrap();
        assert_eq!(
            (
                s.messages, s.unseen, s.deleted, s.recent, s.uid_next, s.size
            ),
            (2, 1, 1, 1, 3, 8)
        );
    }

    #[test]
    fn folders_are_maildir_plus_plus_directories() {
        let (_tmp, maildir, mut store) = setup("imap-folders");
        store.create("Archive/2026", None).unwrap();
        store
            .create("Lists.rust", Some(SpecialUse::Flagged))
            .unwrap();
        store.create("Sent", None).unwrap();
        let root = maildir.root().join("alice");
        assert!(root.join(".Archive/cur").is_dir());
        assert!(root.join(".Archive.2026/new").is_dir());
        assert!(root.join(".Lists%2Erust/tmp").is_dir());
        let list = store.list().unwrap();
        let names: Vec<&str> = list.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["INBOX", "Archive", "Archive/2026", "Lists.rust", "Sent"]
        );
        let su = |n: &str| list.iter().find(|f| f.name == n).unwrap().special_use;
        assert_eq!(su("Sent"), Some(SpecialUse::Sent));
        assert_eq!(su("Archive"), Some(SpecialUse::Archive));
        assert_eq!(su("Lists.rust"), Some(SpecialUse::Flagged));
        assert!(matches!(
            store.create("Sent", None),
            Err(StoreError::AlreadyExists)
        ));
        assert!(matches!(
            store.create("inbox", None),
            Err(StoreError::AlreadyExists)
        ));
        for bad in ["", "a//b", "x*", "y%"] {
            assert!(
                matches!(store.create(bad, None), Err(StoreError::Cannot(_))),
                "{bad:?}"
            );
        }
        // Deleting a parent keeps its child; the parent is then \Noselect.
        store.delete("Archive").unwrap();
        let list = store.list().unwrap();
        let archive = list.iter().find(|f| f.name == "Archive").unwrap();
        assert!(!archive.selectable);
        assert!(matches!(store.view("Archive"), Err(StoreError::NotFound)));
        assert!(matches!(
            store.delete("INBOX"),
            Err(StoreError::NoPermission)
        ));
        assert!(matches!(store.delete("Nope"), Err(StoreError::NotFound)));
    }

    #[test]
    fn rename_moves_children_and_inbox_rename_moves_messages() {
        let (_tmp, maildir, mut store) = setup("imap-rename");
        store.create("Old/Kid", None).unwrap();
        store.append("Old/Kid", &[], None, b"kid").unwrap();
        store.rename("Old", "New").unwrap();
        let names: Vec<String> = store.list().unwrap().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["INBOX", "New", "New/Kid"]);
        assert_eq!(read(&mut store, "New/Kid", 1), b"kid");
        assert!(matches!(
            store.rename("New", "New/Kid/X"),
            Err(StoreError::Cannot(_))
        ));
        assert!(matches!(
            store.rename("Gone", "X"),
            Err(StoreError::NotFound)
        ));
        smtp_deliver(&maildir, b"inbox mail");
        store.view("INBOX").unwrap();
        store.rename("INBOX", "Saved").unwrap();
        assert!(store.view("INBOX").unwrap().messages.is_empty());
        assert_eq!(read(&mut store, "Saved", 1), b"inbox mail");
    }

    #[test]
    fn append_copy_move_expunge() {
        let (_tmp, _maildir, mut store) = setup("imap-copy");
        store.create("Trash", None).unwrap();
        let date = DateTime::new(Date::new(2024, 2, 29).unwrap(), 23, 30, 0, 120).unwrap();
        let a = store
            .append("INBOX", &[Flag::Flagged], Some(date), b"aaa")
            .unwrap();
        let b = store.append("INBOX", &[], None, b"bbbb").unwrap();
        assert_eq!((a.uid, b.uid), (1, 2));
        let v = store.view("INBOX").unwrap();
        // 23:30 +0200 is 21:30 UTC.
        let d = v.messages[0].internal_date;
        assert_eq!(
            (d.date(), d.time(), d.zone_minutes()),
            (date.date(), (21, 30, 0), 0)
        );
        assert_eq!(v.messages[0].flags, [Flag::Flagged]);
        let r = store.copy("INBOX", &[2, 9, 1], "Trash").unwrap();
        assert_eq!(r.uids, [(2, 1), (1, 2)]);
        assert_eq!(read(&mut store, "Trash", 2), b"aaa");
        let t = store.view("Trash").unwrap();
        assert_eq!(t.messages[1].flags, [Flag::Flagged]);
        assert_eq!(
            t.messages[1].internal_date, d,
            "copies keep the internal date"
        );
        let r = store.move_messages("INBOX", &[1], "Trash").unwrap();
        assert_eq!(r.uids, [(1, 3)]);
        assert_eq!(store.view("INBOX").unwrap().messages.len(), 1);
        store.expunge("Trash", &[1, 3]).unwrap();
        let t = store.view("Trash").unwrap();
        assert_eq!(t.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [2]);
        // Uids are not reused.
        assert_eq!(store.append("Trash", &[], None, b"c").unwrap().uid, 4);
        assert!(matches!(
            store.append("Nope", &[], None, b"x"),
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.open_message("Trash", 1),
            Err(StoreError::NotFound)
        ));
    }

    #[test]
    fn keywords_are_letters_named_in_dovecot_keywords() {
        let (_tmp, maildir, mut store) = setup("imap-keywords");
        store.create("Other", None).unwrap();
        let fwd = Flag::new("$Forwarded").unwrap().into_owned();
        let junk = Flag::new("Junk").unwrap().into_owned();
        let uid = store
            .append("INBOX", &[Flag::Seen, junk.clone()], None, b"m")
            .unwrap()
            .uid;
        store
            .set_flags("INBOX", uid, &[fwd.clone(), junk.clone()])
            .unwrap();
        let root = maildir.root().join("alice");
        assert_eq!(
            fs::read_to_string(root.join(KEYWORDS)).unwrap(),
            "0 Junk\n1 $Forwarded\n"
        );
        let name = fs::read_dir(root.join("cur"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .file_name()
            .into_string()
            .unwrap();
        assert!(name.ends_with(":2,ab"), "{name}");
        let v = store.view("INBOX").unwrap();
        assert!(v.keywords_allowed);
        assert_eq!(v.messages[0].flags, [junk.clone(), fwd.clone()]);
        // A letter another tool set and this store cannot name survives a flag change.
        let path = root.join("cur").join(&name);
        let odd = root.join("cur").join(format!("{}z", name));
        fs::rename(&path, &odd).unwrap();
        store.set_flags("INBOX", uid, &[Flag::Seen]).unwrap();
        let name = fs::read_dir(root.join("cur"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .file_name()
            .into_string()
            .unwrap();
        assert!(name.ends_with(":2,Sz"), "{name}");
        // Copies and moves rename the letters for the destination's own list.
        store
            .set_flags("INBOX", uid, std::slice::from_ref(&fwd))
            .unwrap();
        let other = store
            .append("Other", std::slice::from_ref(&junk), None, b"o")
            .unwrap();
        assert_eq!(other.uid, 1);
        store.copy("INBOX", &[uid], "Other").unwrap();
        let o = store.view("Other").unwrap();
        assert_eq!(o.messages[1].flags, std::slice::from_ref(&fwd));
        store.move_messages("INBOX", &[uid], "Other").unwrap();
        let o = store.view("Other").unwrap();
        assert_eq!(o.messages[2].flags, std::slice::from_ref(&fwd));
        assert_eq!(o.messages[0].flags, [junk]);
    }

    #[test]
    fn keywords_run_out_after_26() {
        let (_tmp, _maildir, mut store) = setup("imap-keywords-full");
        let uid = store.append("INBOX", &[], None, b"m").unwrap().uid;
        let many: Vec<Flag<'static>> = (0..30)
            .map(|i| Flag::new(&format!("k{i}")).unwrap().into_owned())
            .collect();
        store.set_flags("INBOX", uid, &many).unwrap();
        let v = store.view("INBOX").unwrap();
        assert!(!v.keywords_allowed);
        assert_eq!(v.messages[0].flags.len(), 26);
    }

    #[test]
    fn subscriptions_file() {
        let (_tmp, _maildir, mut store) = setup("imap-subs");
        store.create("A", None).unwrap();
        assert!(store.list().unwrap().iter().all(|f| f.subscribed));
        store.set_subscribed("A", false).unwrap();
        let list = store.list().unwrap();
        assert!(!list.iter().find(|f| f.name == "A").unwrap().subscribed);
        assert!(list.iter().find(|f| f.name == "INBOX").unwrap().subscribed);
        store.set_subscribed("A", true).unwrap();
        assert!(store.list().unwrap().iter().all(|f| f.subscribed));
        assert!(matches!(
            store.set_subscribed("Missing", true),
            Err(StoreError::NotFound)
        ));
    }

    #[test]
    fn uid_validity_differs_for_recreated_folders() {
        let (_tmp, _maildir, mut store) = setup("imap-validity");
        store.create("F", None).unwrap();
        let v1 = store.status("F").unwrap().uid_validity;
        store.delete("F").unwrap();
        store.create("F", None).unwrap();
        assert_ne!(store.status("F").unwrap().uid_validity, v1);
    }

    fn scans() -> usize {
        SCANS.with(|c| c.get())
    }

    /// Drops `n` messages into `new/` as another process would (no store involved).
    fn drop_files(maildir: &Maildir, n: usize) {
        let new = maildir.root().join("alice/new");
        for i in 0..n {
            fs::write(
                new.join(format!("1700000000.M{i:06}P1Qx.other")),
                format!("Subject: m{i}\r\n\r\nbody {i}\r\n"),
            )
            .unwrap();
        }
    }

    /// A server machine over `store`, logged in, driven to completion after each input.
    struct Session {
        server: mailsec_imap::server::Server,
        store: Option<MaildirStore>,
    }

    impl Session {
        fn new(store: MaildirStore) -> Session {
            use mailsec_imap::server::{Server, ServerConfig};
            let config = ServerConfig::builder()
                .policy(mailsec_tls::ServerPolicy::insecure_plaintext())
                .build()
                .unwrap();
            let mut s = Session {
                server: Server::new(std::sync::Arc::new(config), std::time::Instant::now()),
                store: Some(store),
            };
            s.send("l LOGIN alice secret\r\n");
            s
        }

        fn send(&mut self, input: &str) -> String {
            use mailsec_imap::server::ServerEvent;
            use mailsec_tls::sasl::CheckAnswer;
            use mailsec_tls::{Machine, Output};
            let now = std::time::Instant::now();
            self.server.handle_input(now, input.as_bytes());
            let mut wire = Vec::new();
            while let Some(o) = self.server.poll_output() {
                match o {
                    Output::Transmit(b) => wire.extend_from_slice(&b),
                    Output::Event(ServerEvent::CheckCredentials { .. }) => {
                        self.server.answer_credentials(CheckAnswer::Accept).unwrap()
                    }
                    Output::Event(ServerEvent::OpenStore { .. }) => {
                        let store = self.store.take().unwrap();
                        self.server.open_store(Box::new(store)).unwrap()
                    }
                    _ => {}
                }
            }
            String::from_utf8(wire).unwrap()
        }
    }

    #[test]
    fn store_over_a_big_folder_scans_it_a_bounded_number_of_times() {
        let (_tmp, maildir, store) = setup("imap-scans");
        drop_files(&maildir, 2000);
        let mut s = Session::new(store);
        let before = scans();
        let started = std::time::Instant::now();
        let w = s.send("s SELECT INBOX\r\n");
        assert!(w.contains("* 2000 EXISTS\r\n"), "{w}");
        let w = s.send("a STORE 1:* +FLAGS.SILENT (\\Seen)\r\n");
        assert!(w.ends_with("a OK STORE completed\r\n"), "{w}");
        let w =
            s.send("b FETCH 1:* (FLAGS)\r\nc FETCH 1:* (BODY.PEEK[HEADER.FIELDS (Subject)])\r\n");
        assert_eq!(w.matches("FLAGS (\\Seen").count(), 2000, "{}", &w[..200]);
        assert!(w.contains(
            "* 2000 FETCH (BODY[HEADER.FIELDS (Subject)] {18}\r\nSubject: m1999\r\n\r\n)"
        ));
        let n = scans() - before;
        // Without the listing cache every set_flags and open_message listed the folder:
        // more than 6 000 scans. With it: the first listing, a recheck at most every
        // MTIME_GRANULARITY while our own changes go on (so the bound grows with the time a
        // slow, shared machine takes, never with the folder's size), and one when they stop.
        let rechecks = started.elapsed().as_secs() / MTIME_GRANULARITY.as_secs() + 1;
        eprintln!("{n} scans in {:?}", started.elapsed());
        assert!(n as u64 <= 3 + rechecks, "{n} folder scans");
        let renamed = fs::read_dir(maildir.root().join("alice/cur"))
            .unwrap()
            .count();
        assert_eq!(renamed, 2000);
    }

    #[test]
    fn external_delivery_changes_the_stamp_and_is_listed() {
        let (_tmp, maildir, mut store) = setup("imap-stamp");
        drop_files(&maildir, 3);
        let s0 = store.stamp("INBOX").unwrap();
        assert_eq!(store.view("INBOX").unwrap().messages.len(), 3);
        // Our own change moves the stamp and is seen without a scan.
        let before = scans();
        store.set_flags("INBOX", 2, &[Flag::Flagged]).unwrap();
        let s1 = store.stamp("INBOX").unwrap();
        assert_ne!(s1, s0);
        assert_eq!(
            store.view("INBOX").unwrap().messages[1].flags,
            [Flag::Flagged]
        );
        assert_eq!(scans(), before, "own flag change applied in place");
        // A delivery by another process (a file in new/) and one by another store instance.
        let mut other = MaildirStore::open(&maildir, "alice", "y").unwrap();
        fs::write(
            maildir.root().join("alice/new/1800000000.M1P2Qz.other"),
            b"Subject: late\r\n\r\nx\r\n",
        )
        .unwrap();
        other
            .append("INBOX", &[], None, b"Subject: other\r\n\r\n")
            .unwrap();
        // The stamp changes (the directory's time moved, or the listing is still suspect and
        // read again) and the view lists both, with new uids.
        let s2 = store.stamp("INBOX").unwrap();
        assert_ne!(s2, s1);
        let v = store.view("INBOX").unwrap();
        assert_eq!(
            v.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        let mut text = Vec::new();
        store
            .open_message("INBOX", 4)
            .unwrap()
            .read_to_end(&mut text)
            .unwrap();
        assert!(text == b"Subject: late\r\n\r\nx\r\n" || text == b"Subject: other\r\n\r\n");
        // Nothing changes: once the file times are older than the granularity the listing is
        // read once more (a new stamp, as the store cannot tell), then the stamp stands still.
        let dir = maildir.root().join("alice");
        let old = SystemTime::now() - 3 * MTIME_GRANULARITY;
        for sub in ["new", "cur"] {
            File::open(dir.join(sub))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        OpenOptions::new()
            .write(true)
            .open(dir.join(UIDLIST))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let s3 = store.stamp("INBOX").unwrap();
        assert_ne!(s3, s2, "an unsure listing ends with a new stamp");
        let before = scans();
        assert_eq!(store.stamp("INBOX").unwrap(), s3);
        assert_eq!(store.stamp("INBOX").unwrap(), s3);
        assert_eq!(scans(), before, "a settled folder is not scanned again");
        // An external removal (POP3 DELE) with the old times: its directory time moves.
        let victim = v.messages[0].uid;
        let path = store
            .listing(&dir)
            .unwrap()
            .entry(victim)
            .unwrap()
            .path
            .clone();
        fs::remove_file(path).unwrap();
        assert_ne!(store.stamp("INBOX").unwrap(), s3);
        assert_eq!(store.view("INBOX").unwrap().messages.len(), 4);
        assert!(matches!(
            store.open_message("INBOX", victim),
            Err(StoreError::NotFound)
        ));
    }

    #[test]
    fn dates_round_trip() {
        let secs = |t: SystemTime| match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        };
        // (y, m, d) at midnight UTC and its day number since 1970-01-01.
        for (y, m, d, days) in [
            (1970, 1, 1, 0),
            (2000, 2, 29, 11_016),
            (2026, 12, 31, 20_818),
            (2100, 3, 1, 47_541),
            (1969, 12, 31, -1),
            (1900, 3, 1, -25_508),
            (1600, 2, 29, -135_081),
            (0, 3, 1, -719_468),
        ] {
            let dt = DateTime::new(Date::new(y, m, d).unwrap(), 0, 0, 0, 0).unwrap();
            let t = to_system_time(&dt);
            assert_eq!(secs(t), days * 86_400, "{y}-{m}-{d}");
            assert_eq!(to_datetime(t), dt, "{y}-{m}-{d}");
        }
        let dt = DateTime::new(Date::new(2026, 11, 28).unwrap(), 22, 4, 5, 0).unwrap();
        assert_eq!(to_datetime(to_system_time(&dt)), dt);
        // Before 1970 with a zone: 1969-12-31 23:59:59 UTC is -1, written back in UTC.
        let dt = DateTime::new(Date::new(1970, 1, 1).unwrap(), 1, 59, 59, 120).unwrap();
        let t = to_system_time(&dt);
        assert_eq!(secs(t), -1);
        assert_eq!(
            to_datetime(t),
            DateTime::new(Date::new(1969, 12, 31).unwrap(), 23, 59, 59, 0).unwrap()
        );
        // The last second of a leap day, and 1 March after 28 February in 2100 (no leap day).
        let t = UNIX_EPOCH + Duration::from_secs(1_709_251_199);
        assert_eq!(
            to_datetime(t),
            DateTime::new(Date::new(2024, 2, 29).unwrap(), 23, 59, 59, 0).unwrap()
        );
        let t = UNIX_EPOCH + Duration::from_secs(4_107_542_400);
        assert_eq!(
            to_datetime(t),
            DateTime::new(Date::new(2100, 3, 1).unwrap(), 0, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn level_encoding_is_reversible() {
        for level in ["plain", "a.b", "100%", "tab\there", "ünï"] {
            let enc = encode_level(level);
            assert!(!enc.contains('.') && !enc.contains('/'));
            assert_eq!(decode_level(&enc).as_deref(), Some(level));
        }
        assert_eq!(decode_level("bad%zz"), None);
    }
}
