//! Selected state: STORE, COPY, MOVE, EXPUNGE, SEARCH, CLOSE, UNSELECT, and sequence sets.

use std::io::Read;
use std::num::NonZeroU32;

use super::Server;
use super::fetch::read_header;
use super::mailbox::store_error_code;
use super::updates::{Msg, same_flags, seq};
use crate::message::{
    ParsedMessage, SearchContext, search_matches, search_needs_body, search_needs_content,
};
use crate::store::StoreError;
use crate::types::{
    AString, Code, Data, ESearchItem, Flag, IString, Mailbox, MsgAtt, SearchKey, SearchReturn,
    SeqNumber, SeqRange, SequenceSet, SimpleCode, StatusKind, StoreAction, StoreKind, Tag,
};

/// The most ranges of a sequence set considered (the line limit bounds them anyway).
const MAX_RANGES: usize = 16 * 1024;

/// Why a sequence set cannot be used.
pub(super) enum SetError {
    /// `$` (SEARCHRES is not supported).
    Saved,
    /// A message sequence number beyond the folder (RFC 9051 §9: the client's error).
    OutOfRange,
}

/// Sorted, merged `(low, high)` intervals of a set, with `*` resolved to `largest`.
fn intervals(set: &SequenceSet, largest: u32) -> Result<Vec<(u32, u32)>, SetError> {
    let SequenceSet::Ranges(ranges) = set else {
        return Err(SetError::Saved);
    };
    let v = |s: SeqNumber| match s {
        SeqNumber::Value(v) => v.get(),
        SeqNumber::Largest => largest,
    };
    let mut out: Vec<(u32, u32)> = ranges
        .iter()
        .take(MAX_RANGES)
        .map(|r| match *r {
            SeqRange::Single(s) => (v(s), v(s)),
            SeqRange::Range(a, b) => (v(a).min(v(b)), v(a).max(v(b))),
        })
        .collect();
    out.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(out.len());
    for (lo, hi) in out {
        match merged.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    Ok(merged)
}

/// Compresses ascending or arbitrary numbers into a sequence set, keeping their order
/// (`COPYUID` pairs source and destination sets by position).
pub(super) fn to_sequence_set(nums: &[u32]) -> Option<SequenceSet> {
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < nums.len() {
        let start = nums[i];
        let mut end = start;
        while i + 1 < nums.len() && nums[i + 1] == end.wrapping_add(1) && nums[i + 1] > end {
            i += 1;
            end = nums[i];
        }
        let a = SeqNumber::Value(NonZeroU32::new(start)?);
        ranges.push(if start == end {
            SeqRange::Single(a)
        } else {
            SeqRange::Range(a, SeqNumber::Value(NonZeroU32::new(end)?))
        });
        i += 1;
    }
    SequenceSet::new(ranges).ok()
}

/// Reads at most `limit` octets.
pub(super) fn read_bounded(reader: &mut dyn Read, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    reader.take(limit).read_to_end(&mut buf)?;
    Ok(buf)
}

impl Server {
    /// The indices (ascending) of the selected folder's messages named by a set of sequence
    /// numbers or uids.
    pub(super) fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, SetError> {
        let Some(sel) = &self.selected else {
            return Ok(Vec::new());
        };
        let n = sel.messages.len();
        if uid {
            let iv = intervals(set, sel.max_uid())?;
            let mut out = Vec::new();
            for (lo, hi) in iv {
                let start = sel.messages.partition_point(|m| m.meta.uid < lo);
                for (i, m) in sel.messages.iter().enumerate().skip(start) {
                    if m.meta.uid > hi {
                        break;
                    }
                    out.push(i);
                }
            }
            Ok(out)
        } else {
            let largest = u32::try_from(n).unwrap_or(u32::MAX);
            let iv = intervals(set, largest)?;
            if n == 0 {
                // `1:*` on an empty folder names nothing (clients send it).
                return Ok(Vec::new());
            }
            if iv.iter().any(|&(lo, hi)| lo == 0 || hi > largest) {
                return Err(SetError::OutOfRange);
            }
            Ok(iv
                .into_iter()
                .flat_map(|(lo, hi)| (lo as usize - 1)..(hi as usize))
                .collect())
        }
    }

    /// Resolves a set, answering `BAD` itself when it cannot be used.
    pub(super) fn resolve_or_bad(
        &mut self,
        tag: &Tag<'_>,
        set: &SequenceSet,
        uid: bool,
    ) -> Option<Vec<usize>> {
        match self.resolve(set, uid) {
            Ok(v) => Some(v),
            Err(SetError::Saved) => {
                self.bad(Some(tag), "SEARCHRES ($) is not supported");
                None
            }
            Err(SetError::OutOfRange) => {
                self.bad(Some(tag), "Invalid message sequence number");
                None
            }
        }
    }

    fn read_only(&mut self, tag: &Tag<'_>) -> bool {
        if self.selected.as_ref().is_some_and(|s| s.read_only) {
            self.no(tag, Some(SimpleCode::ReadOnly), "Mailbox is read-only");
            return true;
        }
        false
    }

    /// STORE (RFC 9051 §6.4.6).
    pub(super) fn store_flags(
        &mut self,
        tag: &Tag<'_>,
        uid: bool,
        set: &SequenceSet,
        action: &StoreAction<'_>,
    ) {
        let Some(indices) = self.resolve_or_bad(tag, set, uid) else {
            return;
        };
        if self.read_only(tag) {
            return;
        }
        let given: Vec<Flag<'static>> = action
            .flags
            .iter()
            .filter(|f| **f != Flag::Recent)
            .map(|f| f.clone().into_owned())
            .collect();
        let mut failure: Option<StoreError> = None;
        let mut reports: Vec<(usize, Msg)> = Vec::new();
        {
            let (Some(sel), Some(store)) = (self.selected.as_mut(), self.store.as_mut()) else {
                return;
            };
            for i in indices {
                let Some(m) = sel.messages.get_mut(i) else {
                    continue;
                };
                let mut flags = m.meta.flags.clone();
                match action.kind {
                    StoreKind::Replace => flags = given.clone(),
                    StoreKind::Add => {
                        for f in &given {
                            if !flags.contains(f) {
                                flags.push(f.clone());
                            }
                        }
                    }
                    StoreKind::Remove => flags.retain(|f| !given.contains(f)),
                }
                let mut dedup: Vec<Flag<'static>> = Vec::with_capacity(flags.len());
                for f in flags {
                    if !dedup.contains(&f) {
                        dedup.push(f);
                    }
                }
                if !same_flags(&dedup, &m.meta.flags) {
                    match store.set_flags(&sel.name, m.meta.uid, &dedup) {
                        Ok(()) => m.meta.flags = dedup,
                        Err(StoreError::NotFound) => continue,
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
                if !action.silent {
                    reports.push((i, m.clone()));
                }
            }
        }
        for (i, m) in reports {
            let mut items = vec![MsgAtt::Flags(self.flags_of(&m))];
            if uid {
                items.push(MsgAtt::Uid(
                    NonZeroU32::new(m.meta.uid).unwrap_or(NonZeroU32::MIN),
                ));
            }
            self.data(Data::Fetch {
                seq: seq(i + 1),
                items,
            });
        }
        self.refresh(false);
        match failure {
            Some(e) => self.store_failed(tag, &e),
            None => self.ok(tag, "STORE completed"),
        }
    }

    /// COPY and MOVE (RFC 9051 §6.4.7, §6.4.8; COPYUID of RFC 4315).
    pub(super) fn copy_or_move(
        &mut self,
        tag: &Tag<'_>,
        uid: bool,
        set: &SequenceSet,
        mailbox: &Mailbox<'_>,
        moving: bool,
    ) {
        let Some(indices) = self.resolve_or_bad(tag, set, uid) else {
            return;
        };
        if moving && self.read_only(tag) {
            return;
        }
        let Some(to) = self.folder_name(mailbox) else {
            self.no(tag, Some(SimpleCode::Cannot), "Invalid mailbox name");
            return;
        };
        let name = if moving {
            "MOVE completed"
        } else {
            "COPY completed"
        };
        let (Some(sel), Some(store)) = (self.selected.as_ref(), self.store.as_mut()) else {
            return;
        };
        let uids: Vec<u32> = indices
            .iter()
            .filter_map(|&i| sel.messages.get(i).map(|m| m.meta.uid))
            .collect();
        if uids.is_empty() {
            self.ok(tag, name);
            return;
        }
        let from = sel.name.clone();
        let result = if moving {
            store.move_messages(&from, &uids, &to)
        } else {
            store.copy(&from, &uids, &to)
        };
        let r = match result {
            Ok(r) => r,
            Err(StoreError::NotFound) => {
                // The destination is missing, or the messages were expunged meanwhile.
                let exists = store.status(&to).is_ok();
                if exists {
                    self.no(
                        tag,
                        Some(SimpleCode::ExpungeIssued),
                        "Some messages were expunged",
                    );
                } else {
                    self.no(tag, Some(SimpleCode::TryCreate), "No such mailbox");
                }
                return;
            }
            Err(e) => {
                self.store_failed(tag, &e);
                return;
            }
        };
        let src: Vec<u32> = r.uids.iter().map(|p| p.0).collect();
        let dst: Vec<u32> = r.uids.iter().map(|p| p.1).collect();
        let code = match (
            NonZeroU32::new(r.uid_validity),
            to_sequence_set(&src),
            to_sequence_set(&dst),
        ) {
            (Some(validity), Some(from), Some(to)) => Some(Code::CopyUid { validity, from, to }),
            _ => None,
        };
        if moving {
            // RFC 6851 §4.3: COPYUID in an untagged OK before the EXPUNGEs.
            if let Some(code) = code {
                self.untagged_status(StatusKind::Ok, Some(code), "Moved UIDs");
            }
            self.refresh(true);
            self.ok(tag, name);
        } else {
            self.refresh(true);
            match code {
                Some(code) => self.tagged(tag, StatusKind::Ok, Some(code), name),
                None => self.ok(tag, name),
            }
        }
    }

    /// EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, §6.4.9).
    pub(super) fn expunge(&mut self, tag: &Tag<'_>, set: Option<&SequenceSet>) {
        if self.read_only(tag) {
            return;
        }
        // Other sessions' changes first, so the numbers below are the client's.
        self.refresh(true);
        if self.done {
            return;
        }
        let limit: Option<Vec<usize>> = match set {
            Some(s) => match self.resolve_or_bad(tag, s, true) {
                Some(v) => Some(v),
                None => return,
            },
            None => None,
        };
        let (Some(sel), Some(store)) = (self.selected.as_mut(), self.store.as_mut()) else {
            return;
        };
        let doomed: Vec<usize> = sel
            .messages
            .iter()
            .enumerate()
            .filter(|(i, m)| {
                m.meta.flags.contains(&Flag::Deleted)
                    && limit.as_ref().is_none_or(|l| l.binary_search(i).is_ok())
            })
            .map(|(i, _)| i)
            .collect();
        if doomed.is_empty() {
            self.ok(tag, "EXPUNGE completed");
            return;
        }
        let uids: Vec<u32> = doomed.iter().map(|&i| sel.messages[i].meta.uid).collect();
        if let Err(e) = store.expunge(&sel.name, &uids) {
            let (code, text) = store_error_code(&e);
            self.no(tag, Some(code), &text);
            return;
        }
        for &i in doomed.iter().rev() {
            sel.messages.remove(i);
        }
        for &i in doomed.iter().rev() {
            self.data(Data::Expunge(seq(i + 1)));
        }
        self.ok(tag, "EXPUNGE completed");
    }

    /// CLOSE (expunges silently on a read-write folder) and UNSELECT.
    pub(super) fn close_folder(&mut self, tag: &Tag<'_>, expunge: bool) {
        let Some(sel) = self.selected.take() else {
            return;
        };
        if expunge && !sel.read_only {
            if let Some(store) = self.store.as_mut() {
                if let Ok(view) = store.view(&sel.name) {
                    let uids: Vec<u32> = view
                        .messages
                        .iter()
                        .filter(|m| m.flags.contains(&Flag::Deleted))
                        .map(|m| m.uid)
                        .collect();
                    if !uids.is_empty() {
                        let _ = store.expunge(&sel.name, &uids);
                    }
                }
            }
        }
        self.ok(
            tag,
            if expunge {
                "CLOSE completed"
            } else {
                "UNSELECT completed"
            },
        );
    }

    /// SEARCH and UID SEARCH (RFC 9051 §6.4.4), ESEARCH (RFC 4731) with RETURN (MIN MAX
    /// COUNT ALL), and always for IMAP4rev2.
    pub(super) fn search(
        &mut self,
        tag: &Tag<'_>,
        uid: bool,
        return_opts: Option<&[SearchReturn]>,
        charset: Option<&AString<'_>>,
        criteria: &[SearchKey<'_>],
    ) {
        if let Some(cs) = charset {
            let cs = cs.as_bytes();
            if !cs.eq_ignore_ascii_case(b"UTF-8") && !cs.eq_ignore_ascii_case(b"US-ASCII") {
                let list = vec![
                    AString::new(&b"UTF-8"[..]).expect("valid"),
                    AString::new(&b"US-ASCII"[..]).expect("valid"),
                ];
                self.tagged(
                    tag,
                    StatusKind::No,
                    Some(Code::BadCharset(list)),
                    "Unsupported charset",
                );
                return;
            }
        }
        if return_opts.is_some_and(|r| r.contains(&SearchReturn::Save)) {
            self.bad(Some(tag), "SEARCHRES is not supported");
            return;
        }
        if criteria.iter().any(|k| uses_saved(k)) {
            self.bad(Some(tag), "SEARCHRES ($) is not supported");
            return;
        }
        let needs_content = criteria.iter().any(|k| search_needs_content(k));
        let needs_body = criteria.iter().any(|k| search_needs_body(k));
        let limit = self.config.max_parse_size;
        let budget = self.config.max_search_bytes;
        let (Some(sel), Some(store)) = (self.selected.as_ref(), self.store.as_mut()) else {
            return;
        };
        let max_seq = u32::try_from(sel.messages.len()).unwrap_or(u32::MAX);
        let max_uid = sel.max_uid();
        let mut hits: Vec<u32> = Vec::new();
        // Content read so far by this command, against `max_search_bytes`.
        let mut spent: u64 = 0;
        let mut over_budget = false;
        for (i, m) in sel.messages.iter().enumerate() {
            let bytes = if needs_body {
                // The whole message (bounded), known in advance from its size.
                if spent.saturating_add(m.meta.size.min(limit)) > budget {
                    over_budget = true;
                    break;
                }
                let b = store
                    .open_message(&sel.name, m.meta.uid)
                    .ok()
                    .and_then(|mut r| read_bounded(&mut r, limit).ok());
                spent = spent.saturating_add(b.as_ref().map_or(0, |b| b.len() as u64));
                b
            } else if needs_content {
                // Header keys: the header block only.
                let head = store
                    .open_message(&sel.name, m.meta.uid)
                    .ok()
                    .and_then(|mut r| read_header(&mut r, limit).ok());
                spent = spent.saturating_add(head.as_ref().map_or(0, |h| h.bytes.len() as u64));
                if spent > budget {
                    over_budget = true;
                    break;
                }
                head.map(|h| {
                    let mut bytes = h.bytes;
                    if let Some(end) = h.body {
                        bytes.truncate(end);
                    }
                    bytes
                })
            } else {
                None
            };
            let parsed = bytes.as_deref().map(ParsedMessage::parse);
            if needs_content && parsed.is_none() {
                continue;
            }
            let ctx = SearchContext {
                seq: u32::try_from(i + 1).unwrap_or(u32::MAX),
                max_seq,
                max_uid,
                meta: &m.meta,
                message: parsed.as_ref(),
                recent: m.recent,
            };
            if criteria.iter().all(|k| search_matches(k, &ctx)) {
                hits.push(if uid {
                    m.meta.uid
                } else {
                    u32::try_from(i + 1).unwrap_or(u32::MAX)
                });
            }
        }
        if over_budget {
            self.refresh(false);
            self.no(
                tag,
                Some(SimpleCode::Limit),
                "SEARCH would read too much message content",
            );
            return;
        }
        if return_opts.is_some() || self.rev2 {
            let opts = return_opts.unwrap_or(&[]);
            let all = opts.is_empty() || opts.contains(&SearchReturn::All);
            let mut items = Vec::new();
            let nz = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
            if let (true, Some(&min)) = (opts.contains(&SearchReturn::Min), hits.first()) {
                items.push(ESearchItem::Min(nz(min)));
            }
            if let (true, Some(&max)) = (opts.contains(&SearchReturn::Max), hits.last()) {
                items.push(ESearchItem::Max(nz(max)));
            }
            if all {
                if let Some(set) = to_sequence_set(&hits) {
                    items.push(ESearchItem::All(set));
                }
            }
            if opts.contains(&SearchReturn::Count) {
                items.push(ESearchItem::Count(
                    u32::try_from(hits.len()).unwrap_or(u32::MAX),
                ));
            }
            let tag_string = IString::new(tag.as_str().as_bytes().to_vec()).ok();
            self.data(Data::ESearch {
                tag: tag_string,
                uid,
                items,
            });
        } else {
            let ids = hits.into_iter().filter_map(NonZeroU32::new).collect();
            self.data(Data::Search { ids, modseq: None });
        }
        self.refresh(false);
        self.ok(tag, "SEARCH completed");
    }
}

fn uses_saved(k: &SearchKey<'_>) -> bool {
    match k {
        SearchKey::SequenceSet(SequenceSet::Saved) | SearchKey::Uid(SequenceSet::Saved) => true,
        SearchKey::Not(k) => uses_saved(k),
        SearchKey::Or(a, b) => uses_saved(a) || uses_saved(b),
        SearchKey::And(v) => v.iter().any(uses_saved),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_compress_in_order() {
        let s = to_sequence_set(&[1, 2, 3, 5, 7, 8]).unwrap();
        let mut out = bytes::BytesMut::new();
        crate::serialize::response(
            &crate::types::Response::Data(Data::Search {
                ids: vec![],
                modseq: None,
            }),
            &mut out,
        );
        let SequenceSet::Ranges(r) = s else { panic!() };
        assert_eq!(r.len(), 3);
        assert!(to_sequence_set(&[]).is_none());
        let SequenceSet::Ranges(r) = to_sequence_set(&[5, 4]).unwrap() else {
            panic!()
        };
        assert_eq!(r.len(), 2, "descending numbers are not a range");
    }

    #[test]
    fn intervals_merge() {
        let one = SeqNumber::Value(NonZeroU32::new(1).unwrap());
        let three = SeqNumber::Value(NonZeroU32::new(3).unwrap());
        let set = SequenceSet::new(vec![
            SeqRange::Range(three, one),
            SeqRange::Single(SeqNumber::Largest),
            SeqRange::Single(three),
        ])
        .unwrap();
        assert!(matches!(intervals(&set, 4).ok().as_deref(), Some([(1, 4)])));
        assert!(matches!(
            intervals(&SequenceSet::Saved, 4),
            Err(SetError::Saved)
        ));
    }
}
