//! MemoryStore: the MailStore contract the server machine relies on.

use std::io::Read;

use mailsec_imap::store::{FolderInfo, MailStore, MemoryStore, SpecialUse, StoreError};
use mailsec_imap::types::{Date, DateTime, Flag};

fn date(y: u16, m: u8, d: u8) -> DateTime {
    DateTime::new(Date::new(y, m, d).unwrap(), 10, 20, 30, 120).unwrap()
}

fn names(s: &mut MemoryStore) -> Vec<(String, bool)> {
    s.list()
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.selectable))
        .collect()
}

fn read(s: &mut MemoryStore, folder: &str, uid: u32) -> Vec<u8> {
    let mut out = Vec::new();
    s.open_message(folder, uid)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn new_store_has_a_subscribed_inbox() {
    let mut s = MemoryStore::new();
    assert_eq!(
        s.list().unwrap(),
        vec![FolderInfo {
            name: "INBOX".into(),
            special_use: None,
            selectable: true,
            subscribed: true,
        }]
    );
    let v = s.view("INBOX").unwrap();
    assert_eq!((v.uid_validity, v.uid_next, v.messages.len()), (1, 1, 0));
    assert!(v.keywords_allowed && !v.read_only);
}

#[test]
fn inbox_is_case_insensitive() {
    let mut s = MemoryStore::new();
    let uid = s.deliver("iNbOx", b"a\r\n").unwrap();
    assert_eq!(s.view("inbox").unwrap().messages[0].uid, uid);
    assert!(matches!(
        s.create("Inbox", None),
        Err(StoreError::AlreadyExists)
    ));
    s.create("inbox/Sub", None).unwrap();
    assert!(s.folder_names().contains(&"INBOX/Sub".to_string()));
    // Other names are case-sensitive.
    s.create("Work", None).unwrap();
    s.create("work", None).unwrap();
    assert!(matches!(s.status("WORK"), Err(StoreError::NotFound)));
}

#[test]
fn append_assigns_ascending_uids_dates_and_flags() {
    let mut s = MemoryStore::new();
    s.set_now(date(2025, 6, 1));
    let a = s
        .append(
            "INBOX",
            &[Flag::Seen, Flag::Recent, Flag::Seen],
            None,
            b"one\r\n",
        )
        .unwrap();
    let b = s
        .append("INBOX", &[], Some(date(2020, 2, 29)), b"two two\r\n")
        .unwrap();
    assert_eq!((a.uid_validity, a.uid, b.uid), (1, 1, 2));
    let v = s.view("INBOX").unwrap();
    assert_eq!(v.uid_next, 3);
    assert_eq!(
        v.messages[0].flags,
        vec![Flag::Seen],
        "\\Recent dropped, no duplicates"
    );
    assert_eq!(v.messages[0].internal_date, date(2025, 6, 1));
    assert_eq!(v.messages[1].internal_date, date(2020, 2, 29));
    assert_eq!(v.messages[1].size, 9);
    assert_eq!(read(&mut s, "INBOX", 2), b"two two\r\n");
    assert!(matches!(
        s.open_message("INBOX", 9),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.append("Nowhere", &[], None, b"x"),
        Err(StoreError::NotFound)
    ));
}

#[test]
fn default_now_is_fixed() {
    let mut s = MemoryStore::new();
    s.deliver("INBOX", b"x").unwrap();
    let d = s.view("INBOX").unwrap().messages[0].internal_date;
    assert_eq!(d.date(), Date::new(2026, 1, 1).unwrap());
    assert_eq!((d.time(), d.zone_minutes()), ((0, 0, 0), 0));
}

#[test]
fn status_counts() {
    let mut s = MemoryStore::new();
    s.append("INBOX", &[Flag::Seen], None, b"12345").unwrap();
    s.append("INBOX", &[Flag::Deleted], None, b"123").unwrap();
    let st = s.status("INBOX").unwrap();
    assert_eq!(
        (
            st.messages,
            st.unseen,
            st.deleted,
            st.recent,
            st.uid_next,
            st.uid_validity,
            st.size
        ),
        (2, 1, 1, 2, 3, 1, 8)
    );
    // Looking at the folder ends "recent"; new mail is recent again.
    s.view("INBOX").unwrap();
    assert_eq!(s.status("INBOX").unwrap().recent, 0);
    s.deliver("INBOX", b"x").unwrap();
    assert_eq!(s.status("INBOX").unwrap().recent, 1);
    assert!(matches!(s.status("nope"), Err(StoreError::NotFound)));
}

#[test]
fn set_flags_replaces() {
    let mut s = MemoryStore::new();
    let uid = s.deliver("INBOX", b"x").unwrap();
    let kw = Flag::new("$Work").unwrap().into_owned();
    s.set_flags("INBOX", uid, &[Flag::Flagged, kw.clone()])
        .unwrap();
    assert_eq!(s.meta("INBOX", uid).unwrap().flags, vec![Flag::Flagged, kw]);
    s.set_flags("INBOX", uid, &[]).unwrap();
    assert!(s.meta("INBOX", uid).unwrap().flags.is_empty());
    assert!(matches!(
        s.set_flags("INBOX", 99, &[]),
        Err(StoreError::NotFound)
    ));
}

#[test]
fn create_makes_parents_and_special_use() {
    let mut s = MemoryStore::new();
    s.create("Archive/2026/Q1", Some(SpecialUse::Archive))
        .unwrap();
    assert_eq!(
        names(&mut s),
        vec![
            ("Archive".into(), true),
            ("Archive/2026".into(), true),
            ("Archive/2026/Q1".into(), true),
            ("INBOX".into(), true),
        ]
    );
    let q1 = s
        .list()
        .unwrap()
        .into_iter()
        .find(|f| f.name == "Archive/2026/Q1")
        .unwrap();
    assert_eq!(q1.special_use, Some(SpecialUse::Archive));
    assert!(!q1.subscribed);
    assert!(matches!(
        s.create("Archive", None),
        Err(StoreError::AlreadyExists)
    ));
    for bad in ["", "a//b", "/a", "a/", "a*", "b%", "c\u{7}"] {
        assert!(
            matches!(s.create(bad, None), Err(StoreError::Cannot(_))),
            "{bad:?}"
        );
    }
    // Uid validities differ between folders.
    let v1 = s.status("Archive").unwrap().uid_validity;
    let v2 = s.status("Archive/2026").unwrap().uid_validity;
    assert_ne!(v1, v2);
}

#[test]
fn delete_leaves_noselect_parent_and_refuses_inbox() {
    let mut s = MemoryStore::new();
    s.create("A/B", None).unwrap();
    s.deliver("A", b"x").unwrap();
    s.delete("A").unwrap();
    assert_eq!(names(&mut s)[0], ("A".into(), false));
    assert!(s.uids("A").is_empty());
    assert!(matches!(s.view("A"), Err(StoreError::Cannot(_))));
    assert!(matches!(s.delete("A"), Err(StoreError::Cannot(_))));
    assert!(matches!(
        s.append("A", &[], None, b"x"),
        Err(StoreError::Cannot(_))
    ));
    s.delete("A/B").unwrap();
    s.delete("A").unwrap();
    assert_eq!(names(&mut s), vec![("INBOX".into(), true)]);
    assert!(matches!(s.delete("inbox"), Err(StoreError::NoPermission)));
    assert!(matches!(s.delete("gone"), Err(StoreError::NotFound)));
    // Recreating a deleted name gives a new uid validity.
    s.create("A", None).unwrap();
    let v = s.status("A").unwrap().uid_validity;
    s.delete("A").unwrap();
    s.create("A", None).unwrap();
    assert_ne!(s.status("A").unwrap().uid_validity, v);
    // A \Noselect parent becomes a folder again on CREATE.
    s.create("P/C", None).unwrap();
    s.delete("P").unwrap();
    s.create("P", None).unwrap();
    assert!(s.view("P").is_ok());
}

#[test]
fn rename_moves_children_and_subscriptions() {
    let mut s = MemoryStore::new();
    s.create("Old/Kid", None).unwrap();
    s.set_subscribed("Old/Kid", true).unwrap();
    let uid = s.deliver("Old/Kid", b"kid").unwrap();
    let before = s.status("Old/Kid").unwrap().uid_validity;
    s.rename("Old", "New/Name").unwrap();
    assert_eq!(
        names(&mut s),
        vec![
            ("INBOX".into(), true),
            ("New".into(), true),
            ("New/Name".into(), true),
            ("New/Name/Kid".into(), true),
        ]
    );
    assert!(s.is_subscribed("New/Name/Kid"));
    assert!(!s.is_subscribed("Old/Kid"));
    assert_eq!(s.message("New/Name/Kid", uid).unwrap(), b"kid");
    assert_ne!(s.status("New/Name/Kid").unwrap().uid_validity, before);
    assert!(matches!(
        s.rename("Missing", "X"),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.rename("New", "INBOX"),
        Err(StoreError::AlreadyExists)
    ));
    assert!(matches!(
        s.rename("New", "New/Name/Deeper"),
        Err(StoreError::AlreadyExists | StoreError::Cannot(_))
    ));
    assert!(matches!(
        s.rename("New", "New/Inside"),
        Err(StoreError::Cannot(_))
    ));
}

#[test]
fn rename_inbox_moves_messages_and_keeps_inbox() {
    let mut s = MemoryStore::new();
    s.create("INBOX/Child", None).unwrap();
    let uid = s.deliver("INBOX", b"m").unwrap();
    s.rename("inbox", "Saved").unwrap();
    assert!(s.uids("INBOX").is_empty());
    assert_eq!(s.uids("Saved"), vec![uid]);
    assert!(s.folder_names().contains(&"INBOX/Child".to_string()));
    // INBOX keeps counting uids.
    assert_eq!(s.deliver("INBOX", b"n").unwrap(), uid + 1);
}

#[test]
fn subscriptions() {
    let mut s = MemoryStore::new();
    s.create("F", None).unwrap();
    assert!(!s.is_subscribed("F"));
    s.set_subscribed("F", true).unwrap();
    assert!(
        s.list()
            .unwrap()
            .iter()
            .any(|f| f.name == "F" && f.subscribed)
    );
    s.set_subscribed("F", false).unwrap();
    assert!(!s.is_subscribed("F"));
    assert!(matches!(
        s.set_subscribed("None", true),
        Err(StoreError::NotFound)
    ));
    s.set_subscribed("None", false).unwrap();
    s.set_subscribed("inbox", false).unwrap();
    assert!(!s.is_subscribed("INBOX"));
}

#[test]
fn copy_move_expunge() {
    let mut s = MemoryStore::with_standard_folders();
    let a = s.deliver("INBOX", b"a").unwrap();
    let b = s.deliver("INBOX", b"b").unwrap();
    let c = s.deliver("INBOX", b"c").unwrap();
    s.set_flags("INBOX", b, &[Flag::Seen]).unwrap();
    let trash_validity = s.status("Trash").unwrap().uid_validity;
    // Order as asked; missing uids skipped.
    let r = s.copy("INBOX", &[c, 99, b], "Trash").unwrap();
    assert_eq!(r.uid_validity, trash_validity);
    assert_eq!(r.uids, vec![(c, 1), (b, 2)]);
    assert_eq!(s.message("Trash", 1).unwrap(), b"c");
    assert_eq!(s.meta("Trash", 2).unwrap().flags, vec![Flag::Seen]);
    assert_eq!(s.uids("INBOX"), vec![a, b, c]);
    let r = s.move_messages("INBOX", &[a], "Archive").unwrap();
    assert_eq!(r.uids, vec![(a, 1)]);
    assert_eq!(s.uids("INBOX"), vec![b, c]);
    s.expunge("INBOX", &[c, 1234]).unwrap();
    assert_eq!(s.uids("INBOX"), vec![b]);
    assert!(matches!(
        s.copy("INBOX", &[b], "Nope"),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.move_messages("Nope", &[b], "Trash"),
        Err(StoreError::NotFound)
    ));
    // Uids are never reused.
    assert_eq!(s.deliver("INBOX", b"d").unwrap(), c + 1);
}

#[test]
fn standard_folders_have_special_uses() {
    let mut s = MemoryStore::with_standard_folders();
    let list = s.list().unwrap();
    let sent = list.iter().find(|f| f.name == "Sent").unwrap();
    assert_eq!(sent.special_use, Some(SpecialUse::Sent));
    assert!(sent.subscribed);
    assert_eq!(list.len(), 6);
}

#[test]
fn read_only_and_unavailable() {
    let mut s = MemoryStore::new();
    let uid = s.deliver("INBOX", b"x").unwrap();
    s.set_read_only("INBOX", true).unwrap();
    assert!(s.view("INBOX").unwrap().read_only);
    assert!(matches!(
        s.set_flags("INBOX", uid, &[Flag::Seen]),
        Err(StoreError::NoPermission)
    ));
    assert!(matches!(
        s.append("INBOX", &[], None, b"y"),
        Err(StoreError::NoPermission)
    ));
    assert!(matches!(
        s.expunge("INBOX", &[uid]),
        Err(StoreError::NoPermission)
    ));
    assert!(matches!(
        s.move_messages("INBOX", &[uid], "INBOX"),
        Err(StoreError::NoPermission)
    ));
    s.set_read_only("INBOX", false).unwrap();
    s.set_unavailable(true);
    assert!(matches!(s.list(), Err(StoreError::Unavailable(_))));
    assert!(matches!(s.view("INBOX"), Err(StoreError::Unavailable(_))));
    assert!(matches!(
        s.append("INBOX", &[], None, b"y"),
        Err(StoreError::Unavailable(_))
    ));
    s.set_unavailable(false);
    assert!(s.list().is_ok());
}

#[test]
fn clones_share_state_and_uid_validity_can_change() {
    let store = MemoryStore::new();
    let mut session = store.clone();
    let before = session.view("INBOX").unwrap();
    store.deliver("INBOX", b"new mail").unwrap();
    let after = session.view("INBOX").unwrap();
    assert_eq!(after.messages.len(), before.messages.len() + 1);
    store.set_uid_validity("INBOX", 77).unwrap();
    assert_eq!(session.view("INBOX").unwrap().uid_validity, 77);
    // The store moves between threads (MailStore: Send).
    let handle = std::thread::spawn(move || session.status("INBOX").unwrap().messages);
    assert_eq!(handle.join().unwrap(), 1);
}

mod invariants {
    use std::collections::{BTreeMap, BTreeSet};

    use mailsec_imap::store::{MailStore, MemoryStore};
    use mailsec_imap::types::Flag;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Deliver(usize),
        Copy(usize, u32, usize),
        Move(usize, u32, usize),
        Expunge(usize, u32),
        Seen(usize, u32),
        Rename,
    }

    const FOLDERS: [&str; 3] = ["INBOX", "A", "B/C"];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..3usize).prop_map(Op::Deliver),
            (0..3usize, 1..8u32, 0..3usize).prop_map(|(a, u, b)| Op::Copy(a, u, b)),
            (0..3usize, 1..8u32, 0..3usize).prop_map(|(a, u, b)| Op::Move(a, u, b)),
            (0..3usize, 1..8u32).prop_map(|(a, u)| Op::Expunge(a, u)),
            (0..3usize, 1..8u32).prop_map(|(a, u)| Op::Seen(a, u)),
            Just(Op::Rename),
        ]
    }

    /// The change stamp moves with every change another session could see, and only then: a
    /// server may skip comparing views while it stands still.
    #[test]
    fn change_stamp_moves_with_changes_only() {
        let mut s = MemoryStore::with_standard_folders();
        let other = s.clone();
        let at = |s: &mut MemoryStore| s.stamp("INBOX").expect("the memory store has stamps");
        let start = at(&mut s);
        s.view("INBOX").unwrap();
        s.status("INBOX").unwrap();
        s.list().unwrap();
        assert_eq!(at(&mut s), start, "looking changes nothing");
        let uid = other.deliver("INBOX", b"Subject: x\r\n\r\nx\r\n").unwrap();
        let delivered = at(&mut s);
        assert_ne!(delivered, start, "a delivery by another handle");
        s.set_flags("INBOX", uid, &[Flag::Seen]).unwrap();
        let flagged = at(&mut s);
        assert_ne!(flagged, delivered, "a flag change");
        s.move_messages("INBOX", &[uid], "Archive").unwrap();
        let moved = at(&mut s);
        assert_ne!(moved, flagged, "a move");
        s.create("Projects", None).unwrap();
        assert_ne!(at(&mut s), moved, "a new folder");
    }

    proptest! {
        /// Uids ascend, stay below uid_next, are never reused while the validity holds, and
        /// STATUS agrees with the view.
        #[test]
        fn uids_are_never_reused(ops in proptest::collection::vec(op(), 0..60)) {
            let mut s = MemoryStore::new();
            s.create("A", None).unwrap();
            s.create("B/C", None).unwrap();
            let mut names: Vec<String> = FOLDERS.iter().map(|n| n.to_string()).collect();
            // (folder, validity) -> uids ever seen, uids gone, the last uid_next seen.
            #[allow(clippy::type_complexity)]
            let mut seen: BTreeMap<(String, u32), (BTreeSet<u32>, BTreeSet<u32>, u32)> =
                BTreeMap::new();
            for op in ops {
                let _ = match op {
                    Op::Deliver(f) => s.deliver(&names[f], b"m\r\n").map(|_| ()),
                    Op::Copy(a, u, b) => s.copy(&names[a], &[u], &names[b]).map(|_| ()),
                    Op::Move(a, u, b) => s.move_messages(&names[a], &[u], &names[b]).map(|_| ()),
                    Op::Expunge(a, u) => s.expunge(&names[a], &[u]),
                    Op::Seen(a, u) => s.set_flags(&names[a], u, &[Flag::Seen]),
                    Op::Rename => {
                        let to = format!("{}x", names[1]);
                        let r = s.rename(&names[1], &to);
                        if r.is_ok() {
                            names[1] = to;
                        }
                        r
                    }
                };
                for name in &names {
                    let st = s.status(name).unwrap();
                    let v = s.view(name).unwrap();
                    prop_assert_eq!(st.messages as usize, v.messages.len());
                    prop_assert_eq!(st.uid_next, v.uid_next);
                    let uids: Vec<u32> = v.messages.iter().map(|m| m.uid).collect();
                    prop_assert!(uids.windows(2).all(|w| w[0] < w[1]));
                    prop_assert!(uids.iter().all(|&u| u >= 1 && u < v.uid_next));
                    let (ever, gone, last_next) = seen
                        .entry((name.clone(), v.uid_validity))
                        .or_insert_with(|| (BTreeSet::new(), BTreeSet::new(), 0));
                    prop_assert!(v.uid_next >= *last_next);
                    *last_next = v.uid_next;
                    // A uid that went away never comes back.
                    prop_assert!(uids.iter().all(|u| !gone.contains(u)), "reused uid");
                    let now: BTreeSet<u32> = uids.iter().copied().collect();
                    gone.extend(ever.difference(&now).copied());
                    ever.extend(now);
                }
            }
        }
    }
}

/// Messages are found by uid (a binary search) after expunges, copies and an INBOX rename.
#[test]
fn uids_found_after_expunges_copies_and_renames() {
    let mut s = MemoryStore::new();
    s.create("Other", None).unwrap();
    let uids: Vec<u32> = (0..200)
        .map(|i| s.deliver("INBOX", format!("m{i}").as_bytes()).unwrap())
        .collect();
    let odd: Vec<u32> = uids.iter().copied().filter(|u| u % 2 == 1).collect();
    s.expunge("INBOX", &odd).unwrap();
    s.copy("INBOX", &[uids[9], uids[3]], "Other").unwrap();
    for (i, &u) in uids.iter().enumerate() {
        if u % 2 == 1 {
            assert!(matches!(
                s.open_message("INBOX", u),
                Err(StoreError::NotFound)
            ));
            assert!(s.set_flags("INBOX", u, &[Flag::Seen]).is_err());
        } else {
            assert_eq!(read(&mut s, "INBOX", u), format!("m{i}").as_bytes());
            s.set_flags("INBOX", u, &[Flag::Seen]).unwrap();
            assert_eq!(s.meta("INBOX", u).unwrap().flags, [Flag::Seen]);
        }
    }
    // COPY takes the order asked: the destination's uids 1 and 2 are m9 and m3.
    assert_eq!(read(&mut s, "Other", 1), b"m9");
    assert_eq!(read(&mut s, "Other", 2), b"m3");
    s.rename("INBOX", "Saved").unwrap();
    assert_eq!(read(&mut s, "Saved", uids[197]), b"m197");
}
