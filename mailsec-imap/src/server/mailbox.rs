//! Authenticated state: folders (LIST, LSUB, NAMESPACE, STATUS, CREATE, DELETE, RENAME,
//! SUBSCRIBE, SELECT, EXAMINE, APPEND).

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use super::Server;
use super::updates::{Msg, Selected, seq};
use crate::store::{FolderInfo, SpecialUse, StoreError};
use crate::types::{
    Atom, Code, Data, DateTime, Flag, FlagPerm, IString, ListData, ListMailbox, ListReturn,
    ListSelect, Mailbox, MailboxAttribute, NamespaceDesc, SelectParam, SequenceSet, SimpleCode,
    StatusItem, StatusKind, Tag,
};

/// The hierarchy delimiter (RFC 9051 §5.1.1).
pub(super) const DELIMITER: char = '/';

/// The longest folder name accepted from a client, in octets of UTF-8.
const MAX_NAME: usize = 1024;

/// The most patterns of one LIST command.
const MAX_PATTERNS: usize = 16;

/// The longest pattern (reference included), in characters: matching costs pattern × name
/// per folder.
const MAX_PATTERN_LEN: usize = 512;

fn attr(name: &'static str) -> MailboxAttribute<'static> {
    MailboxAttribute(Atom::new(name).unwrap_or_else(|_| Atom::new("Noselect").expect("valid")))
}

/// `*` matches anything, `%` anything but the delimiter (RFC 9051 §6.3.9). Dynamic
/// programming: O(pattern × name), never exponential.
pub(super) fn pattern_matches(pattern: &[char], name: &[char]) -> bool {
    let n = name.len();
    let mut row = vec![false; n + 1];
    row[0] = true;
    for &p in pattern {
        let mut next = vec![false; n + 1];
        match p {
            '*' => {
                let mut any = false;
                for j in 0..=n {
                    any |= row[j];
                    next[j] = any;
                }
            }
            '%' => {
                let mut any = false;
                for j in 0..=n {
                    if j > 0 && name[j - 1] == DELIMITER {
                        any = false;
                    }
                    any |= row[j];
                    next[j] = any;
                }
            }
            c => {
                for j in 1..=n {
                    next[j] = row[j - 1] && name[j - 1] == c;
                }
            }
        }
        row = next;
    }
    row[n]
}

/// The pattern with a leading `INBOX` (any case) written `INBOX`, so that it matches the
/// inbox whatever the case (RFC 9051 §5.1).
fn canonical_pattern(p: &str) -> Vec<char> {
    let chars: Vec<char> = p.chars().collect();
    if chars.len() >= 5 {
        let head: String = chars[..5].iter().collect();
        let boundary = chars.get(5).is_none_or(|c| *c == DELIMITER);
        if head.eq_ignore_ascii_case("INBOX") && boundary {
            let mut out: Vec<char> = "INBOX".chars().collect();
            out.extend_from_slice(&chars[5..]);
            return out;
        }
    }
    chars
}

pub(super) fn store_error_code(e: &StoreError) -> (SimpleCode, String) {
    match e {
        StoreError::NotFound => (SimpleCode::NonExistent, "No such mailbox or message".into()),
        StoreError::AlreadyExists => (SimpleCode::AlreadyExists, "Mailbox already exists".into()),
        StoreError::NoPermission => (SimpleCode::NoPerm, "Permission denied".into()),
        StoreError::InUse => (SimpleCode::InUse, "Mailbox in use, try again later".into()),
        StoreError::OverQuota => (SimpleCode::OverQuota, "Over quota".into()),
        StoreError::Cannot(reason) => {
            let text: String = mailsec_tls::text::sanitize(reason.as_bytes())
                .chars()
                .take(200)
                .collect();
            let text = text.trim_start_matches('[').trim().to_owned();
            (
                SimpleCode::Cannot,
                if text.is_empty() {
                    "Cannot do that".into()
                } else {
                    text
                },
            )
        }
        _ => (
            SimpleCode::Unavailable,
            "Store unavailable, try again later".into(),
        ),
    }
}

impl Server {
    /// A folder name from the wire: `INBOX` in any case, modified UTF-7 or UTF-8.
    pub(super) fn folder_name(&self, m: &Mailbox<'_>) -> Option<String> {
        match m {
            Mailbox::Inbox => Some("INBOX".to_owned()),
            other => other
                .to_utf8()
                .ok()
                .filter(|n| n.len() <= MAX_NAME && !n.chars().any(char::is_control)),
        }
    }

    /// A folder name for the wire.
    pub(super) fn wire_name(&self, name: &str) -> Option<Mailbox<'static>> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Some(Mailbox::Inbox);
        }
        if self.utf8 && !name.is_ascii() && name.len() <= crate::types::MAX_AUTO_QUOTED {
            // RFC 6855 §3: UTF-8 in a quoted string once UTF8=ACCEPT is enabled.
            if let Ok(q) = crate::types::Quoted::new(name.as_bytes().to_vec()) {
                return Some(Mailbox::new(crate::types::AString::String(
                    IString::Quoted(q),
                )));
            }
        }
        Mailbox::from_utf8(name, self.utf8).ok()
    }

    pub(super) fn store_failed(&mut self, tag: &Tag<'_>, e: &StoreError) {
        let (code, text) = store_error_code(e);
        self.no(tag, Some(code), &text);
    }

    fn bad_name(&mut self, tag: &Tag<'_>) {
        self.no(tag, Some(SimpleCode::Cannot), "Invalid mailbox name");
    }

    pub(super) fn namespace(&mut self, tag: &Tag<'_>) {
        let personal = NamespaceDesc {
            prefix: IString::new(&b""[..]).expect("empty string"),
            delimiter: Some(DELIMITER as u8),
            extensions: Vec::new(),
        };
        self.data(Data::Namespace([Some(vec![personal]), None, None]));
        self.ok(tag, "NAMESPACE completed");
    }

    pub(super) fn list(
        &mut self,
        tag: &Tag<'_>,
        selection: Option<&[ListSelect<'_>]>,
        reference: &Mailbox<'_>,
        patterns: &[ListMailbox<'_>],
        return_opts: Option<&[ListReturn<'_>]>,
    ) {
        let sel = selection.unwrap_or(&[]);
        let ret = return_opts.unwrap_or(&[]);
        let only_subscribed = sel.contains(&ListSelect::Subscribed);
        let only_special = sel.contains(&ListSelect::SpecialUse);
        let show_subscribed = only_subscribed || ret.contains(&ListReturn::Subscribed);
        let status_items: Option<Vec<StatusItem>> = ret.iter().find_map(|r| match r {
            ListReturn::Status(items) => Some(items.clone()),
            _ => None,
        });
        if patterns.len() > MAX_PATTERNS {
            self.bad(Some(tag), "Too many patterns");
            return;
        }
        let reference = match reference {
            Mailbox::Inbox => "INBOX".to_owned(),
            m => match m.to_utf8() {
                Ok(r) => r,
                Err(_) => {
                    self.ok(tag, "LIST completed");
                    return;
                }
            },
        };
        // `LIST "" ""`: the delimiter and root (RFC 9051 §6.3.9).
        if patterns.len() == 1 && patterns[0].as_bytes().is_empty() && selection.is_none() {
            self.data(Data::List(ListData {
                lsub: false,
                attributes: vec![attr("Noselect")],
                delimiter: Some(DELIMITER as u8),
                mailbox: Mailbox::Other(crate::types::AString::new(&b""[..]).expect("empty")),
                extended: Vec::new(),
            }));
            self.ok(tag, "LIST completed");
            return;
        }
        let mut full: Vec<Vec<char>> = Vec::new();
        for p in patterns {
            let Ok(p) = crate::types::mailbox::decode_utf7(p.as_bytes())
                .or_else(|_| String::from_utf8(p.as_bytes().to_vec()).map_err(|_| ()))
            else {
                continue;
            };
            let full_pattern = canonical_pattern(&format!("{reference}{p}"));
            if full_pattern.len() > MAX_PATTERN_LEN {
                self.bad(Some(tag), "Pattern too long");
                return;
            }
            full.push(full_pattern);
        }
        let Some(store) = self.store.as_mut() else {
            return;
        };
        let folders = match store.list() {
            Ok(f) => f,
            Err(e) => {
                self.store_failed(tag, &e);
                return;
            }
        };
        let entries = with_parents(folders);
        let names: Vec<String> = entries.keys().cloned().collect();
        let mut statuses = Vec::new();
        for (name, info) in &entries {
            let chars: Vec<char> = name.chars().collect();
            if !full.iter().any(|p| pattern_matches(p, &chars)) {
                continue;
            }
            let existing = info.as_ref();
            if only_subscribed && !existing.is_some_and(|i| i.subscribed) {
                continue;
            }
            if only_special && existing.and_then(|i| i.special_use).is_none() {
                continue;
            }
            let Some(wire) = self.wire_name(name) else {
                continue;
            };
            let mut attributes = Vec::new();
            match existing {
                None => {
                    attributes.push(attr("Noselect"));
                    if sel.iter().any(|s| !matches!(s, ListSelect::Other(_))) {
                        attributes.push(attr("NonExistent"));
                    }
                }
                Some(i) if !i.selectable => attributes.push(attr("Noselect")),
                _ => {}
            }
            let prefix = format!("{name}{DELIMITER}");
            let children = names.iter().any(|n| n.starts_with(&prefix));
            attributes.push(attr(if children {
                "HasChildren"
            } else {
                "HasNoChildren"
            }));
            if let Some(i) = existing {
                if show_subscribed && i.subscribed {
                    attributes.push(attr("Subscribed"));
                }
                if let Some(u) = i.special_use {
                    attributes.push(attr(u.name()));
                }
            }
            self.data(Data::List(ListData {
                lsub: false,
                attributes,
                delimiter: Some(DELIMITER as u8),
                mailbox: wire.clone(),
                extended: Vec::new(),
            }));
            if let (Some(items), Some(i)) = (&status_items, existing) {
                if i.selectable {
                    statuses.push((name.clone(), wire, items.clone()));
                }
            }
            // LIST-STATUS (RFC 5819): the STATUS right after its LIST.
            for (name, wire, items) in statuses.drain(..) {
                if let Some(d) = self.status_data(&name, wire, &items) {
                    self.data(d);
                }
            }
        }
        self.ok(tag, "LIST completed");
    }

    pub(super) fn lsub(
        &mut self,
        tag: &Tag<'_>,
        reference: &Mailbox<'_>,
        pattern: &ListMailbox<'_>,
    ) {
        let reference = reference.to_utf8().unwrap_or_default();
        let Ok(p) = crate::types::mailbox::decode_utf7(pattern.as_bytes()) else {
            self.ok(tag, "LSUB completed");
            return;
        };
        let full = canonical_pattern(&format!("{reference}{p}"));
        if full.len() > MAX_PATTERN_LEN {
            self.bad(Some(tag), "Pattern too long");
            return;
        }
        let Some(store) = self.store.as_mut() else {
            return;
        };
        let folders = match store.list() {
            Ok(f) => f,
            Err(e) => {
                self.store_failed(tag, &e);
                return;
            }
        };
        for f in folders.iter().filter(|f| f.subscribed) {
            let chars: Vec<char> = f.name.chars().collect();
            if !pattern_matches(&full, &chars) {
                continue;
            }
            let Some(wire) = self.wire_name(&f.name) else {
                continue;
            };
            let attributes = if f.selectable {
                Vec::new()
            } else {
                vec![attr("Noselect")]
            };
            self.data(Data::List(ListData {
                lsub: true,
                attributes,
                delimiter: Some(DELIMITER as u8),
                mailbox: wire,
                extended: Vec::new(),
            }));
        }
        self.ok(tag, "LSUB completed");
    }

    fn status_data(
        &mut self,
        name: &str,
        wire: Mailbox<'static>,
        items: &[StatusItem],
    ) -> Option<Data<'static>> {
        let s = self.store.as_mut()?.status(name).ok()?;
        let mut values = Vec::new();
        for item in items {
            let v = match item {
                StatusItem::Messages => u64::from(s.messages),
                StatusItem::Recent => u64::from(s.recent),
                StatusItem::UidNext => u64::from(s.uid_next.max(1)),
                StatusItem::UidValidity => u64::from(s.uid_validity.max(1)),
                StatusItem::Unseen => u64::from(s.unseen),
                StatusItem::Deleted => u64::from(s.deleted),
                StatusItem::Size => s.size,
                _ => continue,
            };
            values.push((*item, v));
        }
        Some(Data::Status {
            mailbox: wire,
            items: values,
        })
    }

    pub(super) fn status(&mut self, tag: &Tag<'_>, mailbox: &Mailbox<'_>, items: &[StatusItem]) {
        let Some(name) = self.folder_name(mailbox) else {
            self.bad_name(tag);
            return;
        };
        if items.contains(&StatusItem::HighestModSeq) {
            self.bad(Some(tag), "CONDSTORE is not supported");
            return;
        }
        let Some(store) = self.store.as_mut() else {
            return;
        };
        if let Err(e) = store.status(&name) {
            self.store_failed(tag, &e);
            return;
        }
        let wire = mailbox.clone().into_owned();
        if let Some(d) = self.status_data(&name, wire, items) {
            self.data(d);
        }
        self.ok(tag, "STATUS completed");
    }

    pub(super) fn create(
        &mut self,
        tag: &Tag<'_>,
        mailbox: &Mailbox<'_>,
        special_use: &[MailboxAttribute<'_>],
    ) {
        let Some(name) = self.folder_name(mailbox) else {
            self.bad_name(tag);
            return;
        };
        let name = name.trim_end_matches(DELIMITER).to_owned();
        if name.is_empty() {
            self.bad_name(tag);
            return;
        }
        if name.eq_ignore_ascii_case("INBOX") {
            self.no(tag, Some(SimpleCode::AlreadyExists), "INBOX always exists");
            return;
        }
        let mut use_ = None;
        for a in special_use {
            let found = SpecialUse::from_name(a.0.as_str());
            match found {
                Some(u) if use_.is_none() => use_ = Some(u),
                _ => {
                    let code = Code::Other {
                        name: Atom::new("USEATTR").expect("valid atom"),
                        text: None,
                    };
                    self.tagged(tag, StatusKind::No, Some(code), "Unsupported special use");
                    return;
                }
            }
        }
        let Some(store) = self.store.as_mut() else {
            return;
        };
        match store.create(&name, use_) {
            Ok(()) => self.ok(tag, "CREATE completed"),
            Err(e) => self.store_failed(tag, &e),
        }
    }

    pub(super) fn delete(&mut self, tag: &Tag<'_>, mailbox: &Mailbox<'_>) {
        let Some(name) = self.folder_name(mailbox) else {
            self.bad_name(tag);
            return;
        };
        if name.eq_ignore_ascii_case("INBOX") {
            self.no(tag, Some(SimpleCode::Cannot), "INBOX cannot be deleted");
            return;
        }
        let Some(store) = self.store.as_mut() else {
            return;
        };
        match store.delete(&name) {
            Ok(()) => self.ok(tag, "DELETE completed"),
            Err(e) => self.store_failed(tag, &e),
        }
    }

    pub(super) fn rename(&mut self, tag: &Tag<'_>, from: &Mailbox<'_>, to: &Mailbox<'_>) {
        let (Some(from), Some(to)) = (self.folder_name(from), self.folder_name(to)) else {
            self.bad_name(tag);
            return;
        };
        let to = to.trim_end_matches(DELIMITER).to_owned();
        if to.is_empty() || to.eq_ignore_ascii_case("INBOX") {
            self.no(
                tag,
                Some(SimpleCode::AlreadyExists),
                "Cannot rename to INBOX",
            );
            return;
        }
        let Some(store) = self.store.as_mut() else {
            return;
        };
        match store.rename(&from, &to) {
            Ok(()) => self.ok(tag, "RENAME completed"),
            Err(e) => self.store_failed(tag, &e),
        }
    }

    pub(super) fn subscribe(&mut self, tag: &Tag<'_>, mailbox: &Mailbox<'_>, on: bool) {
        let Some(name) = self.folder_name(mailbox) else {
            self.bad_name(tag);
            return;
        };
        let Some(store) = self.store.as_mut() else {
            return;
        };
        match store.set_subscribed(&name, on) {
            Ok(()) => self.ok(
                tag,
                if on {
                    "SUBSCRIBE completed"
                } else {
                    "UNSUBSCRIBE completed"
                },
            ),
            Err(e) => self.store_failed(tag, &e),
        }
    }

    /// SELECT / EXAMINE (RFC 9051 §6.3.2, §6.3.3; RFC 3501 §6.3.1 for the IMAP4rev1 form).
    pub(super) fn select(
        &mut self,
        tag: &Tag<'_>,
        mailbox: &Mailbox<'_>,
        params: &[SelectParam],
        examine: bool,
    ) {
        if !params.is_empty() {
            self.bad(Some(tag), "CONDSTORE/QRESYNC are not supported");
            return;
        }
        // Any previous selection ends, even if this one fails.
        if self.selected.take().is_some() {
            self.untagged_status(
                StatusKind::Ok,
                Some(Code::Simple(SimpleCode::Closed)),
                "Previous mailbox closed",
            );
        }
        let Some(name) = self.folder_name(mailbox) else {
            self.bad_name(tag);
            return;
        };
        let Some(store) = self.store.as_mut() else {
            return;
        };
        let stamp = store.stamp(&name);
        let view = match store.view(&name) {
            Ok(v) => v,
            Err(e) => {
                self.store_failed(tag, &e);
                return;
            }
        };
        let recent = store.status(&name).map(|s| s.recent).unwrap_or(0) as usize;
        let read_only = examine || view.read_only;
        let count = view.messages.len();
        let messages: Vec<Msg> = view
            .messages
            .into_iter()
            .enumerate()
            .map(|(i, meta)| Msg {
                meta,
                recent: i + recent >= count,
            })
            .collect();
        // FLAGS: the system flags and every keyword in use.
        let mut flags: Vec<Flag<'static>> = vec![
            Flag::Answered,
            Flag::Flagged,
            Flag::Deleted,
            Flag::Seen,
            Flag::Draft,
        ];
        for m in &messages {
            for f in &m.meta.flags {
                if matches!(f, Flag::Keyword(_)) && !flags.contains(f) && flags.len() < 256 {
                    flags.push(f.clone());
                }
            }
        }
        let mut perm: Vec<FlagPerm<'static>> = Vec::new();
        if !read_only {
            perm = flags.iter().cloned().map(FlagPerm::Flag).collect();
            if view.keywords_allowed {
                perm.push(FlagPerm::Wildcard);
            }
        }
        let first_unseen = messages
            .iter()
            .position(|m| !m.meta.flags.contains(&Flag::Seen));
        let recent_count = messages.iter().filter(|m| m.recent).count();
        self.data(Data::Flags(flags));
        self.untagged_status(
            StatusKind::Ok,
            Some(Code::PermanentFlags(perm)),
            if read_only {
                "No permanent flags permitted"
            } else {
                "Limited"
            },
        );
        self.data(Data::Exists(u32::try_from(count).unwrap_or(u32::MAX)));
        if !self.rev2 {
            self.data(Data::Recent(
                u32::try_from(recent_count).unwrap_or(u32::MAX),
            ));
            if let Some(i) = first_unseen {
                self.untagged_status(
                    StatusKind::Ok,
                    Some(Code::Unseen(seq(i + 1))),
                    "First unseen",
                );
            }
        }
        let validity = NonZeroU32::new(view.uid_validity).unwrap_or(NonZeroU32::MIN);
        let uid_next = NonZeroU32::new(view.uid_next).unwrap_or(NonZeroU32::MIN);
        self.untagged_status(
            StatusKind::Ok,
            Some(Code::UidValidity(validity)),
            "UIDs valid",
        );
        self.untagged_status(
            StatusKind::Ok,
            Some(Code::UidNext(uid_next)),
            "Predicted next UID",
        );
        if self.rev2 {
            if let Some(wire) = self.wire_name(&name) {
                self.data(Data::List(ListData {
                    lsub: false,
                    attributes: Vec::new(),
                    delimiter: Some(DELIMITER as u8),
                    mailbox: wire,
                    extended: Vec::new(),
                }));
            }
        }
        self.selected = Some(Selected {
            name,
            read_only,
            uid_validity: view.uid_validity,
            messages,
            stamp,
        });
        let (code, text) = if read_only {
            (
                SimpleCode::ReadOnly,
                if examine {
                    "EXAMINE completed"
                } else {
                    "SELECT completed"
                },
            )
        } else {
            (SimpleCode::ReadWrite, "SELECT completed")
        };
        self.tagged(tag, StatusKind::Ok, Some(Code::Simple(code)), text);
    }

    /// APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315).
    pub(super) fn append(
        &mut self,
        tag: &Tag<'_>,
        mailbox: &Mailbox<'_>,
        flags: Option<&[Flag<'_>]>,
        date: Option<DateTime>,
        message: &[u8],
        utf8: bool,
    ) {
        if utf8 && !self.utf8 {
            self.bad(Some(tag), "UTF8 APPEND needs ENABLE UTF8=ACCEPT");
            return;
        }
        let Some(name) = self.folder_name(mailbox) else {
            self.bad_name(tag);
            return;
        };
        let flags: Vec<Flag<'static>> = flags
            .unwrap_or(&[])
            .iter()
            .filter(|f| **f != Flag::Recent)
            .map(|f| f.clone().into_owned())
            .collect();
        let Some(store) = self.store.as_mut() else {
            return;
        };
        match store.append(&name, &flags, date, message) {
            Ok(r) => {
                let to_selected = self.selected.as_ref().is_some_and(|s| s.name == name);
                if to_selected {
                    self.refresh(true);
                }
                match (NonZeroU32::new(r.uid_validity), SequenceSet::single(r.uid)) {
                    (Some(validity), Ok(uids)) => self.tagged(
                        tag,
                        StatusKind::Ok,
                        Some(Code::AppendUid { validity, uids }),
                        "APPEND completed",
                    ),
                    _ => self.ok(tag, "APPEND completed"),
                }
            }
            Err(StoreError::NotFound) => {
                self.no(tag, Some(SimpleCode::TryCreate), "No such mailbox")
            }
            Err(e) => self.store_failed(tag, &e),
        }
    }
}

/// Every folder by name, with the parents that only exist as levels of hierarchy (`None`).
fn with_parents(folders: Vec<FolderInfo>) -> BTreeMap<String, Option<FolderInfo>> {
    let mut map: BTreeMap<String, Option<FolderInfo>> = BTreeMap::new();
    for f in folders {
        let mut prefix = String::new();
        let parts: Vec<&str> = f.name.split(DELIMITER).collect();
        for p in &parts[..parts.len().saturating_sub(1)] {
            if !prefix.is_empty() {
                prefix.push(DELIMITER);
            }
            prefix.push_str(p);
            map.entry(prefix.clone()).or_insert(None);
        }
        let name = f.name.clone();
        map.insert(name, Some(f));
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        let p: Vec<char> = canonical_pattern(p);
        let n: Vec<char> = n.chars().collect();
        pattern_matches(&p, &n)
    }

    #[test]
    fn wildcards() {
        assert!(m("*", "a/b/c"));
        assert!(m("%", "abc"));
        assert!(!m("%", "a/b"));
        assert!(m("a/%", "a/b"));
        assert!(!m("a/%", "a/b/c"));
        assert!(m("a/*", "a/b/c"));
        assert!(m("inbox", "INBOX"));
        assert!(m("Inbox/%", "INBOX/x"));
        assert!(!m("inboxes", "INBOX"));
        assert!(m("*b*", "abc"));
        assert!(!m("x", "y"));
        assert!(m("", ""));
        // Never exponential.
        let long = "*".repeat(2000) + "x";
        assert!(!m(&long, &"a".repeat(200)));
    }
}
