//! The machine's view of the selected folder, mailbox updates and IDLE.

use std::num::NonZeroU32;
use std::time::Instant;

use bytes::Bytes;

use super::{Server, Wait};
use crate::store::MessageMeta;
use crate::types::{Data, Flag, FlagList, MsgAtt, StatusKind, Tag};

/// One message of the selected folder as the client knows it.
#[derive(Clone, Debug)]
pub(super) struct Msg {
    pub(super) meta: MessageMeta,
    /// `\Recent` (IMAP4rev1): arrived since the previous session selected the folder.
    pub(super) recent: bool,
}

/// The selected folder as the client knows it: sequence number `n` is `messages[n - 1]`.
#[derive(Debug)]
pub(super) struct Selected {
    pub(super) name: String,
    pub(super) read_only: bool,
    pub(super) uid_validity: u32,
    pub(super) messages: Vec<Msg>,
    /// The store's [`stamp`](crate::store::MailStore::stamp) when `messages` last matched the
    /// store in full (`None`: unknown, compare the next view).
    pub(super) stamp: Option<u64>,
}

impl Selected {
    /// The index of the message with this uid.
    pub(super) fn index_of(&self, uid: u32) -> Option<usize> {
        self.messages
            .binary_search_by_key(&uid, |m| m.meta.uid)
            .ok()
    }

    pub(super) fn max_uid(&self) -> u32 {
        self.messages.last().map_or(0, |m| m.meta.uid)
    }
}

pub(super) fn same_flags(a: &[Flag<'_>], b: &[Flag<'_>]) -> bool {
    a.len() == b.len() && a.iter().all(|f| b.contains(f))
}

pub(super) fn seq(n: usize) -> NonZeroU32 {
    NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX).max(1)).unwrap_or(NonZeroU32::MIN)
}

impl Server {
    /// The flags a FETCH reports for a message: its stored flags, plus `\Recent` for an
    /// IMAP4rev1 session.
    pub(super) fn flags_of(&self, m: &Msg) -> FlagList<'static> {
        let mut f: FlagList<'static> = m
            .meta
            .flags
            .iter()
            .filter(|f| **f != Flag::Recent)
            .cloned()
            .collect();
        if m.recent && !self.rev2 {
            f.push(Flag::Recent);
        }
        f
    }

    /// Compares the store's view of the selected folder with the client's and reports the
    /// differences: `EXPUNGE` (only when `allow_expunge`; RFC 9051 §7.5.1 forbids it during
    /// FETCH, STORE and SEARCH), `FETCH (FLAGS ...)`, `EXISTS` and (IMAP4rev1) `RECENT`.
    /// Returns whether anything was sent.
    pub(super) fn refresh(&mut self, allow_expunge: bool) -> bool {
        let (Some(sel), Some(store)) = (self.selected.as_mut(), self.store.as_mut()) else {
            return false;
        };
        // Taken before the view: a change while the view is read moves the stamp again.
        let stamp = store.stamp(&sel.name);
        if stamp.is_some() && stamp == sel.stamp {
            return false;
        }
        let Ok(view) = store.view(&sel.name) else {
            return false;
        };
        if view.uid_validity != sel.uid_validity {
            // The folder was recreated: the client's uids mean nothing any more.
            self.bye("Folder was recreated; select it again");
            self.close(false, None);
            return true;
        }
        let mut sent = false;
        // Merge-walk both lists, ascending by uid.
        let mut gone: Vec<usize> = Vec::new();
        let mut changed: Vec<usize> = Vec::new();
        let mut j = 0;
        for (i, m) in sel.messages.iter_mut().enumerate() {
            while j < view.messages.len() && view.messages[j].uid < m.meta.uid {
                j += 1;
            }
            match view.messages.get(j) {
                Some(v) if v.uid == m.meta.uid => {
                    if !same_flags(&v.flags, &m.meta.flags) {
                        m.meta.flags = v.flags.clone();
                        changed.push(i);
                    }
                    j += 1;
                }
                _ => gone.push(i),
            }
        }
        let max_uid = sel.max_uid();
        let new: Vec<MessageMeta> = view
            .messages
            .into_iter()
            .filter(|v| v.uid > max_uid)
            .collect();
        let mut expunges = Vec::new();
        if allow_expunge {
            for &i in gone.iter().rev() {
                sel.messages.remove(i);
                expunges.push(seq(i + 1));
            }
            // Indices of changed messages shift down past removed ones.
            for c in &mut changed {
                let before = gone.iter().filter(|&&g| g < *c).count();
                *c -= before;
            }
        }
        // Expunges held back leave the client's view behind the store's.
        sel.stamp = if allow_expunge || gone.is_empty() {
            stamp
        } else {
            None
        };
        let had_new = !new.is_empty();
        for meta in new {
            sel.messages.push(Msg { meta, recent: true });
        }
        let exists = sel.messages.len();
        let recent = sel.messages.iter().filter(|m| m.recent).count();
        let fetches: Vec<(usize, Msg)> = changed
            .iter()
            .filter_map(|&i| sel.messages.get(i).map(|m| (i, m.clone())))
            .collect();
        for n in expunges {
            self.data(Data::Expunge(n));
            sent = true;
        }
        for (i, m) in fetches {
            let flags = self.flags_of(&m);
            self.data(Data::Fetch {
                seq: seq(i + 1),
                items: vec![MsgAtt::Flags(flags)],
            });
            sent = true;
        }
        if had_new {
            self.data(Data::Exists(u32::try_from(exists).unwrap_or(u32::MAX)));
            if !self.rev2 {
                self.data(Data::Recent(u32::try_from(recent).unwrap_or(u32::MAX)));
            }
            sent = true;
        }
        sent
    }

    /// IDLE (RFC 2177, RFC 9051 §6.3.13): `+ idling`, then updates as they come.
    pub(super) fn idle_start(&mut self, tag: Tag<'static>) {
        self.refresh(true);
        self.transmit(Bytes::from_static(b"+ idling\r\n"));
        let now = self.now;
        self.wait = Wait::Idle {
            tag,
            next_check: now + self.config.recheck_interval,
            next_keepalive: now + self.config.idle_keepalive,
        };
    }

    /// A line during IDLE: `DONE` ends it; anything else is a client error.
    pub(super) fn idle_line(&mut self, line: &[u8]) {
        if crate::parse::idle_done(line).is_ok_and(|n| n == line.len()) {
            if let Wait::Idle { tag, .. } = std::mem::replace(&mut self.wait, Wait::Nothing) {
                self.ok(&tag, "IDLE terminated");
            }
        } else {
            self.idle_broken();
        }
    }

    /// IDLE ended by something other than `DONE`.
    pub(super) fn idle_broken(&mut self) {
        if let Wait::Idle { tag, .. } = std::mem::replace(&mut self.wait, Wait::Nothing) {
            self.bad(Some(&tag), "Expected DONE");
        }
    }

    /// The IDLE timers: re-check the folder, keep the connection alive. Returns whether the
    /// call was only for them (the autologout deadline has not passed).
    pub(super) fn wait_idle_timers(&mut self, now: Instant) -> bool {
        let Wait::Idle {
            next_check,
            next_keepalive,
            ..
        } = self.wait
        else {
            return false;
        };
        let mut sent = false;
        if next_check <= now {
            sent = self.refresh(true);
            if self.done {
                return true;
            }
        }
        let keepalive_due = next_keepalive <= now && !sent;
        if keepalive_due {
            self.untagged_status(StatusKind::Ok, None, "Still here");
            sent = true;
        }
        if let Wait::Idle {
            next_check,
            next_keepalive,
            ..
        } = &mut self.wait
        {
            if *next_check <= now {
                *next_check = now + self.config.recheck_interval;
            }
            if sent {
                *next_keepalive = now + self.config.idle_keepalive;
            }
        }
        self.deadline.is_none_or(|d| d > now)
    }
}
