//! Shared harness of the IMAP server tests (included by `server*.rs` with `#[path]`): a
//! small in-memory store, the four chunkings, and a driver that answers events.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::new_without_default)]

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailsec_imap::server::{Server, ServerConfig, ServerError, ServerEvent, StoreRefusal};
use mailsec_imap::store::{
    AppendResult, CopyResult, FolderInfo, FolderStatus, FolderView, MailStore, MessageMeta,
    MessageReader, SpecialUse, StoreError,
};
use mailsec_imap::types::{Date, DateTime, Flag};
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, ExposeSecret};
use mailsec_tls::{Machine, Output, TlsInfo};

// ----- the store ------------------------------------------------------------------------

#[derive(Clone)]
pub enum Content {
    Bytes(Arc<Vec<u8>>),
    /// `size` octets made up as they are read: never held in memory.
    Synthetic(u64),
}

#[derive(Clone)]
pub struct Stored {
    pub meta: MessageMeta,
    pub content: Content,
}

pub struct Folder {
    pub uid_validity: u32,
    pub uid_next: u32,
    pub msgs: Vec<Stored>,
    pub subscribed: bool,
    pub special_use: Option<SpecialUse>,
    /// Messages not yet seen by a SELECT (for `\Recent`).
    pub recent: u32,
}

impl Folder {
    fn new(validity: u32, special_use: Option<SpecialUse>) -> Folder {
        Folder {
            uid_validity: validity,
            uid_next: 1,
            msgs: Vec::new(),
            subscribed: true,
            special_use,
            recent: 0,
        }
    }
}

#[derive(Default)]
pub struct Inner {
    pub folders: BTreeMap<String, Folder>,
    pub next_validity: u32,
    /// Largest chunk a synthetic reader was asked for at once.
    pub max_read: usize,
}

/// A store shared between sessions (clones share state).
#[derive(Clone)]
pub struct TestStore(pub Arc<Mutex<Inner>>);

pub fn date() -> DateTime {
    DateTime::new(Date::new(2026, 11, 28).unwrap(), 10, 0, 0, 60).unwrap()
}

impl TestStore {
    pub fn new() -> TestStore {
        let s = TestStore(Arc::new(Mutex::new(Inner {
            next_validity: 1000,
            ..Inner::default()
        })));
        s.create("INBOX", None).unwrap();
        s
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap()
    }

    /// Delivers a message (as another session or the MTA would).
    pub fn deliver(&self, folder: &str, content: &[u8], flags: &[Flag<'static>]) -> u32 {
        self.put(
            folder,
            Content::Bytes(Arc::new(content.to_vec())),
            content.len() as u64,
            flags,
        )
    }

    pub fn deliver_synthetic(&self, folder: &str, size: u64) -> u32 {
        self.put(folder, Content::Synthetic(size), size, &[])
    }

    fn put(&self, folder: &str, content: Content, size: u64, flags: &[Flag<'static>]) -> u32 {
        let mut inner = self.inner();
        let f = inner.folders.get_mut(folder).expect("folder exists");
        let uid = f.uid_next;
        f.uid_next += 1;
        f.recent += 1;
        f.msgs.push(Stored {
            meta: MessageMeta {
                uid,
                flags: flags.to_vec(),
                internal_date: date(),
                size,
            },
            content,
        });
        uid
    }

    pub fn set_flags_of(&self, folder: &str, uid: u32, flags: &[Flag<'static>]) {
        let mut inner = self.inner();
        let f = inner.folders.get_mut(folder).unwrap();
        let m = f.msgs.iter_mut().find(|m| m.meta.uid == uid).unwrap();
        m.meta.flags = flags.to_vec();
    }

    pub fn remove(&self, folder: &str, uid: u32) {
        let mut inner = self.inner();
        inner
            .folders
            .get_mut(folder)
            .unwrap()
            .msgs
            .retain(|m| m.meta.uid != uid);
    }

    pub fn uids(&self, folder: &str) -> Vec<u32> {
        self.inner().folders[folder]
            .msgs
            .iter()
            .map(|m| m.meta.uid)
            .collect()
    }

    pub fn flags(&self, folder: &str, uid: u32) -> Vec<Flag<'static>> {
        self.inner().folders[folder]
            .msgs
            .iter()
            .find(|m| m.meta.uid == uid)
            .unwrap()
            .meta
            .flags
            .clone()
    }

    pub fn max_read(&self) -> usize {
        self.inner().max_read
    }

    pub fn has(&self, folder: &str) -> bool {
        self.inner().folders.contains_key(folder)
    }

    fn create(&self, name: &str, special_use: Option<SpecialUse>) -> Result<(), StoreError> {
        let mut inner = self.inner();
        if inner.folders.contains_key(name) {
            return Err(StoreError::AlreadyExists);
        }
        inner.next_validity += 1;
        let v = inner.next_validity;
        inner
            .folders
            .insert(name.to_owned(), Folder::new(v, special_use));
        Ok(())
    }
}

struct Synth {
    pos: u64,
    size: u64,
    store: TestStore,
}

impl Read for Synth {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.size - self.pos) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            let p = self.pos + i as u64;
            *b = match p % 80 {
                78 => b'\r',
                79 => b'\n',
                x => b'a' + (x % 26) as u8,
            };
        }
        self.pos += n as u64;
        let mut inner = self.store.0.lock().unwrap();
        inner.max_read = inner.max_read.max(n);
        Ok(n)
    }
}

/// The synthetic content, whole (for comparisons in tests).
pub fn synthetic(size: u64) -> Vec<u8> {
    let mut r = Synth {
        pos: 0,
        size,
        store: TestStore::new(),
    };
    let mut v = Vec::new();
    r.read_to_end(&mut v).unwrap();
    v
}

impl MailStore for TestStore {
    fn list(&mut self) -> Result<Vec<FolderInfo>, StoreError> {
        Ok(self
            .inner()
            .folders
            .iter()
            .map(|(n, f)| FolderInfo {
                name: n.clone(),
                special_use: f.special_use,
                selectable: true,
                subscribed: f.subscribed,
            })
            .collect())
    }

    fn create(&mut self, name: &str, special_use: Option<SpecialUse>) -> Result<(), StoreError> {
        TestStore::create(self, name, special_use)
    }

    fn delete(&mut self, name: &str) -> Result<(), StoreError> {
        self.inner()
            .folders
            .remove(name)
            .map(|_| ())
            .ok_or(StoreError::NotFound)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        let mut inner = self.inner();
        if inner.folders.contains_key(to) {
            return Err(StoreError::AlreadyExists);
        }
        let f = inner.folders.remove(from).ok_or(StoreError::NotFound)?;
        inner.folders.insert(to.to_owned(), f);
        Ok(())
    }

    fn set_subscribed(&mut self, name: &str, subscribed: bool) -> Result<(), StoreError> {
        let mut inner = self.inner();
        let f = inner.folders.get_mut(name).ok_or(StoreError::NotFound)?;
        f.subscribed = subscribed;
        Ok(())
    }

    fn status(&mut self, name: &str) -> Result<FolderStatus, StoreError> {
        let inner = self.inner();
        let f = inner.folders.get(name).ok_or(StoreError::NotFound)?;
        Ok(FolderStatus {
            messages: f.msgs.len() as u32,
            unseen: f
                .msgs
                .iter()
                .filter(|m| !m.meta.flags.contains(&Flag::Seen))
                .count() as u32,
            deleted: f
                .msgs
                .iter()
                .filter(|m| m.meta.flags.contains(&Flag::Deleted))
                .count() as u32,
            recent: f.recent,
            uid_next: f.uid_next,
            uid_validity: f.uid_validity,
            size: f.msgs.iter().map(|m| m.meta.size).sum(),
        })
    }

    fn view(&mut self, name: &str) -> Result<FolderView, StoreError> {
        let inner = self.inner();
        let f = inner.folders.get(name).ok_or(StoreError::NotFound)?;
        Ok(FolderView {
            uid_validity: f.uid_validity,
            uid_next: f.uid_next,
            messages: f.msgs.iter().map(|m| m.meta.clone()).collect(),
            keywords_allowed: true,
            read_only: false,
        })
    }

    fn open_message(&mut self, folder: &str, uid: u32) -> Result<MessageReader, StoreError> {
        let inner = self.inner();
        let f = inner.folders.get(folder).ok_or(StoreError::NotFound)?;
        let m = f
            .msgs
            .iter()
            .find(|m| m.meta.uid == uid)
            .ok_or(StoreError::NotFound)?;
        Ok(match &m.content {
            Content::Bytes(b) => Box::new(Cursor::new(b.as_ref().clone())),
            Content::Synthetic(size) => Box::new(Synth {
                pos: 0,
                size: *size,
                store: self.clone(),
            }),
        })
    }

    fn set_flags(
        &mut self,
        folder: &str,
        uid: u32,
        flags: &[Flag<'static>],
    ) -> Result<(), StoreError> {
        let mut inner = self.inner();
        let f = inner.folders.get_mut(folder).ok_or(StoreError::NotFound)?;
        let m = f
            .msgs
            .iter_mut()
            .find(|m| m.meta.uid == uid)
            .ok_or(StoreError::NotFound)?;
        m.meta.flags = flags.to_vec();
        Ok(())
    }

    fn append(
        &mut self,
        folder: &str,
        flags: &[Flag<'static>],
        internal_date: Option<DateTime>,
        message: &[u8],
    ) -> Result<AppendResult, StoreError> {
        if !self.has(folder) {
            return Err(StoreError::NotFound);
        }
        let uid = self.deliver(folder, message, flags);
        let mut inner = self.inner();
        let f = inner.folders.get_mut(folder).unwrap();
        if let Some(d) = internal_date {
            f.msgs.last_mut().unwrap().meta.internal_date = d;
        }
        Ok(AppendResult {
            uid_validity: f.uid_validity,
            uid,
        })
    }

    fn copy(&mut self, folder: &str, uids: &[u32], to: &str) -> Result<CopyResult, StoreError> {
        let mut inner = self.inner();
        let src: Vec<Stored> = {
            let f = inner.folders.get(folder).ok_or(StoreError::NotFound)?;
            uids.iter()
                .filter_map(|u| f.msgs.iter().find(|m| m.meta.uid == *u).cloned())
                .collect()
        };
        let dst = inner.folders.get_mut(to).ok_or(StoreError::NotFound)?;
        let mut pairs = Vec::new();
        for mut m in src {
            let old = m.meta.uid;
            m.meta.uid = dst.uid_next;
            dst.uid_next += 1;
            pairs.push((old, m.meta.uid));
            dst.msgs.push(m);
        }
        Ok(CopyResult {
            uid_validity: dst.uid_validity,
            uids: pairs,
        })
    }

    fn expunge(&mut self, folder: &str, uids: &[u32]) -> Result<(), StoreError> {
        let mut inner = self.inner();
        let f = inner.folders.get_mut(folder).ok_or(StoreError::NotFound)?;
        f.msgs.retain(|m| !uids.contains(&m.meta.uid));
        Ok(())
    }
}

// ----- a counting wrapper ----------------------------------------------------------------

/// A `MemoryStore` that counts the messages opened and the octets read from them.
#[derive(Clone)]
pub struct CountingStore {
    pub inner: mailsec_imap::store::MemoryStore,
    pub opened: Arc<AtomicU64>,
    pub read: Arc<AtomicU64>,
}

impl CountingStore {
    pub fn new(inner: mailsec_imap::store::MemoryStore) -> CountingStore {
        CountingStore {
            inner,
            opened: Arc::default(),
            read: Arc::default(),
        }
    }

    /// (messages opened, octets read) since the last call.
    pub fn take(&self) -> (u64, u64) {
        (
            self.opened.swap(0, Ordering::SeqCst),
            self.read.swap(0, Ordering::SeqCst),
        )
    }
}

struct CountingReader {
    inner: MessageReader,
    read: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }
}

impl MailStore for CountingStore {
    fn list(&mut self) -> Result<Vec<FolderInfo>, StoreError> {
        self.inner.list()
    }
    fn create(&mut self, name: &str, special_use: Option<SpecialUse>) -> Result<(), StoreError> {
        self.inner.create(name, special_use)
    }
    fn delete(&mut self, name: &str) -> Result<(), StoreError> {
        self.inner.delete(name)
    }
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        self.inner.rename(from, to)
    }
    fn status(&mut self, name: &str) -> Result<FolderStatus, StoreError> {
        self.inner.status(name)
    }
    fn view(&mut self, name: &str) -> Result<FolderView, StoreError> {
        self.inner.view(name)
    }
    fn stamp(&mut self, name: &str) -> Option<u64> {
        self.inner.stamp(name)
    }
    fn open_message(&mut self, folder: &str, uid: u32) -> Result<MessageReader, StoreError> {
        let inner = self.inner.open_message(folder, uid)?;
        self.opened.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(CountingReader {
            inner,
            read: Arc::clone(&self.read),
        }))
    }
    fn set_flags(
        &mut self,
        folder: &str,
        uid: u32,
        flags: &[Flag<'static>],
    ) -> Result<(), StoreError> {
        self.inner.set_flags(folder, uid, flags)
    }
    fn append(
        &mut self,
        folder: &str,
        flags: &[Flag<'static>],
        internal_date: Option<DateTime>,
        message: &[u8],
    ) -> Result<AppendResult, StoreError> {
        self.inner.append(folder, flags, internal_date, message)
    }
    fn copy(&mut self, folder: &str, uids: &[u32], to: &str) -> Result<CopyResult, StoreError> {
        self.inner.copy(folder, uids, to)
    }
    fn expunge(&mut self, folder: &str, uids: &[u32]) -> Result<(), StoreError> {
        self.inner.expunge(folder, uids)
    }
}

// ----- chunkings ------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
pub enum Chunking {
    Whole,
    ByteByByte,
    AfterCrlf,
    InsideCrlf,
}

pub const CHUNKINGS: [Chunking; 4] = [
    Chunking::Whole,
    Chunking::ByteByByte,
    Chunking::AfterCrlf,
    Chunking::InsideCrlf,
];

pub fn cut(input: &[u8], chunking: Chunking) -> Vec<&[u8]> {
    match chunking {
        Chunking::Whole => vec![input],
        Chunking::ByteByByte => input.chunks(1).collect(),
        Chunking::AfterCrlf | Chunking::InsideCrlf => {
            let mut out = Vec::new();
            let mut start = 0;
            for (i, &b) in input.iter().enumerate() {
                let at = match chunking {
                    Chunking::AfterCrlf if b == b'\n' => Some(i + 1),
                    Chunking::InsideCrlf if b == b'\r' => Some(i + 1),
                    _ => None,
                };
                if let Some(at) = at {
                    out.push(&input[start..at]);
                    start = at;
                }
            }
            if start < input.len() {
                out.push(&input[start..]);
            }
            out
        }
    }
}

// ----- the driver -----------------------------------------------------------------------

/// A session and the application around it: events are answered at once (alice/secret is
/// the only user) unless `hold` is set.
pub struct H {
    pub s: Server,
    pub store: TestStore,
    pub now: Instant,
    pub wire: Vec<u8>,
    pub events: Vec<String>,
    pub held: Vec<ServerEvent>,
    pub errors: Vec<ServerError>,
    pub start_tls: usize,
    pub closed: bool,
    pub hold: bool,
    pub refuse: Option<StoreRefusal>,
    /// Largest single Transmit seen.
    pub max_transmit: usize,
    /// Opened instead of `store` when set.
    pub memory: Option<mailsec_imap::store::MemoryStore>,
    /// Opened instead of `store` and `memory` when set.
    pub counting: Option<CountingStore>,
}

impl H {
    pub fn new(config: ServerConfig, store: TestStore) -> H {
        let now = Instant::now();
        let s = Server::new(Arc::new(config), now);
        let mut h = H {
            s,
            store,
            now,
            wire: Vec::new(),
            events: Vec::new(),
            held: Vec::new(),
            errors: Vec::new(),
            start_tls: 0,
            closed: false,
            hold: false,
            refuse: None,
            max_transmit: 0,
            memory: None,
            counting: None,
        };
        h.drain();
        h
    }

    /// A plaintext listener (tests of the commands, not of TLS).
    pub fn plain(store: TestStore) -> H {
        let config = ServerConfig::builder()
            .policy(mailsec_tls::ServerPolicy::insecure_plaintext())
            .build()
            .unwrap();
        H::new(config, store)
    }

    /// Logged in as alice on a plaintext listener, wire cleared.
    pub fn logged_in(store: TestStore) -> H {
        let mut h = H::plain(store);
        h.feed(b"L1 LOGIN alice secret\r\n", Chunking::Whole);
        assert!(h.take().contains("L1 OK"));
        h
    }

    pub fn feed(&mut self, input: &[u8], chunking: Chunking) {
        for piece in cut(input, chunking) {
            self.s.handle_input(self.now, piece);
            self.drain();
        }
    }

    pub fn send(&mut self, input: &str) -> String {
        self.feed(input.as_bytes(), Chunking::Whole);
        self.take()
    }

    pub fn tls(&mut self) {
        self.s
            .handle_tls_established(self.now, &TlsInfo::for_testing("imap.example.test"));
        self.drain();
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.s.handle_timeout(self.now);
        self.drain();
    }

    pub fn take(&mut self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut self.wire)).into_owned()
    }

    pub fn drain(&mut self) {
        while let Some(o) = self.s.poll_output() {
            match o {
                Output::Transmit(b) => {
                    assert!(!self.closed, "transmit after Close");
                    self.max_transmit = self.max_transmit.max(b.len());
                    self.wire.extend_from_slice(&b);
                }
                Output::Event(e) => self.event(e),
                Output::StartTls => {
                    assert_eq!(self.s.buffered_input(), 0, "StartTls with pending input");
                    self.start_tls += 1;
                }
                Output::Close => self.closed = true,
                Output::Error(e) => self.errors.push(e),
                _ => {}
            }
        }
    }

    fn event(&mut self, e: ServerEvent) {
        if self.hold {
            self.held.push(e);
            return;
        }
        self.answer(e);
    }

    pub fn answer(&mut self, e: ServerEvent) {
        match e {
            ServerEvent::CheckCredentials { check, method } => {
                let ok = match &check {
                    CredentialCheck::Password {
                        authcid, password, ..
                    } => authcid == "alice" && password.expose_secret() == "secret",
                    _ => false,
                };
                self.events.push(format!("check {method:?} {ok}"));
                self.s
                    .answer_credentials(if ok {
                        CheckAnswer::Accept
                    } else {
                        CheckAnswer::Reject
                    })
                    .unwrap();
            }
            ServerEvent::OpenStore { identity } => {
                self.events.push(format!("open {}", identity.acts_as()));
                match self.refuse {
                    Some(r) => self.s.refuse_store(r).unwrap(),
                    None => match (&self.counting, &self.memory) {
                        (Some(c), _) => self.s.open_store(Box::new(c.clone())).unwrap(),
                        (None, Some(m)) => self.s.open_store(Box::new(m.clone())).unwrap(),
                        (None, None) => self.s.open_store(Box::new(self.store.clone())).unwrap(),
                    },
                }
            }
            ServerEvent::Secured => self.events.push("secured".into()),
            ServerEvent::Closed { logout } => self.events.push(format!("closed {logout}")),
            _ => {}
        }
    }
}
