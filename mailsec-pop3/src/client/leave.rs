//! "Leave messages on the server": deciding what to fetch from a UIDL listing (RFC 1939 §7).

use std::collections::{HashMap, HashSet};

use crate::types::{MessageNumber, UidlListing, UniqueId};

/// What happens to a message once fetched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LeaveMode {
    /// Leave it on the server; fetch it again never (per set of seen ids).
    #[default]
    Keep,
    /// Delete it (DELE) after it was fetched.
    Delete,
}

/// Which messages to fetch, given a UIDL listing and the unique-ids this machine has already
/// seen. Sans-IO: the application persists [`LeaveOnServer::seen`] per machine (a phone and a
/// laptop each keep their own set) and gives it back next time.
///
/// ```
/// use mailsec_pop3::client::{LeaveMode, LeaveOnServer};
/// use mailsec_pop3::{parse, UniqueId};
///
/// let listing = vec![parse::uidl_listing(b"1 aaa")?, parse::uidl_listing(b"2 bbb")?];
/// let mut state = LeaveOnServer::new([UniqueId::new(b"aaa")?], LeaveMode::Keep);
/// let wanted = state.plan(&listing);
/// assert_eq!(wanted.iter().map(|m| m.get()).collect::<Vec<_>>(), [2]);
/// // After the RETR of message 2 completed:
/// assert!(!state.fetched(wanted[0])); // Keep: no DELE
/// assert!(state.plan(&listing).is_empty());
/// # Ok::<(), mailsec_pop3::ParseError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct LeaveOnServer {
    seen: HashSet<UniqueId>,
    current: HashMap<MessageNumber, UniqueId>,
    mode: LeaveMode,
}

impl LeaveOnServer {
    /// Starts from the unique-ids already seen on this machine.
    pub fn new(seen: impl IntoIterator<Item = UniqueId>, mode: LeaveMode) -> Self {
        LeaveOnServer {
            seen: seen.into_iter().collect(),
            current: HashMap::new(),
            mode,
        }
    }

    /// The mode.
    pub fn mode(&self) -> LeaveMode {
        self.mode
    }

    /// The message numbers to fetch from a full UIDL listing, in listing order: those whose
    /// unique-id was not seen yet (a unique-id listed twice is fetched once). Remembers the
    /// listing for [`LeaveOnServer::fetched`].
    pub fn plan(&mut self, listing: &[UidlListing]) -> Vec<MessageNumber> {
        self.current.clear();
        let mut planned = HashSet::new();
        let mut out = Vec::new();
        for entry in listing {
            if self.seen.contains(&entry.uid) || !planned.insert(entry.uid.clone()) {
                continue;
            }
            self.current.insert(entry.msg, entry.uid.clone());
            out.push(entry.msg);
        }
        out
    }

    /// Records that message `msg` (of the last [`plan`](Self::plan)) was fetched completely;
    /// returns whether to DELE it ([`LeaveMode::Delete`]). Its unique-id is marked seen in both
    /// modes, so a message whose deletion did not happen (QUIT failed) is not fetched twice.
    /// Returns `false` for a number the plan did not include.
    pub fn fetched(&mut self, msg: MessageNumber) -> bool {
        match self.current.remove(&msg) {
            Some(uid) => {
                self.seen.insert(uid);
                self.mode == LeaveMode::Delete
            }
            None => false,
        }
    }

    /// Forgets seen unique-ids that are no longer in `listing` (a full UIDL listing), so the
    /// persisted set does not grow forever.
    pub fn forget_missing(&mut self, listing: &[UidlListing]) {
        let present: HashSet<&UniqueId> = listing.iter().map(|l| &l.uid).collect();
        self.seen.retain(|uid| present.contains(uid));
    }

    /// Whether a unique-id was seen.
    pub fn is_seen(&self, uid: &UniqueId) -> bool {
        self.seen.contains(uid)
    }

    /// The seen unique-ids, to persist (in no particular order).
    pub fn seen(&self) -> impl Iterator<Item = &UniqueId> {
        self.seen.iter()
    }
}
