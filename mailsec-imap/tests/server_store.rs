//! The IMAP server machine with a store: folders, updates from other sessions, IDLE, COPY and
//! MOVE, and FETCH streaming with bounded memory.

#[path = "server_support.rs"]
mod support;

use std::time::Duration;

use mailsec_imap::server::{ServerConfig, ServerError};
use mailsec_imap::types::Flag;
use mailsec_tls::{Machine, Output, ServerPolicy};
use support::{CHUNKINGS, H, TestStore, synthetic};

fn sample_store() -> TestStore {
    let store = TestStore::new();
    store.deliver("INBOX", b"Subject: one\r\n\r\nfirst\r\n", &[Flag::Seen]);
    store.deliver("INBOX", b"Subject: two\r\n\r\nsecond\r\n", &[]);
    store.deliver("INBOX", b"Subject: three\r\n\r\nthird\r\n", &[]);
    store
}

// ----- folders --------------------------------------------------------------------------

#[test]
fn list_patterns_and_hierarchy() {
    let store = TestStore::new();
    let mut h = H::logged_in(store);
    let w = h.send(
        "a CREATE Archive/2026/\r\nb CREATE Sent (USE (\\Sent))\r\nc CREATE \"Entwürfe\"\r\nd LIST \"\" \"\"\r\n",
    );
    assert!(
        w.starts_with("a OK CREATE completed\r\nb OK CREATE completed\r\n"),
        "{w}"
    );
    assert!(
        w.contains("* LIST (\\Noselect) \"/\" \"\"\r\nd OK LIST completed\r\n"),
        "{w}"
    );
    let w = h.send("e LIST \"\" %\r\n");
    assert_eq!(
        w,
        "* LIST (\\Noselect \\HasChildren) \"/\" Archive\r\n\
* LIST (\\HasNoChildren) \"/\" Entw&APw-rfe\r\n\
* LIST (\\HasNoChildren) \"/\" INBOX\r\n\
* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n\
e OK LIST completed\r\n"
    );
    let w = h.send("f LIST Archive/ *\r\ng LIST \"\" inbox\r\nh LIST (SPECIAL-USE) \"\" *\r\n");
    assert_eq!(
        w,
        "* LIST (\\HasNoChildren) \"/\" Archive/2026\r\nf OK LIST completed\r\n\
* LIST (\\HasNoChildren) \"/\" INBOX\r\ng OK LIST completed\r\n\
* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\nh OK LIST completed\r\n"
    );
    let w = h.send("i UNSUBSCRIBE Sent\r\nj LSUB \"\" *\r\nk LIST \"\" * RETURN (SUBSCRIBED)\r\n");
    assert!(!w.contains("LSUB () \"/\" Sent"), "{w}");
    assert!(w.contains("* LSUB () \"/\" INBOX\r\n"), "{w}");
    assert!(
        w.contains("* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX\r\n"),
        "{w}"
    );
    assert!(
        w.contains("* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"),
        "{w}"
    );
    let w = h.send("l RENAME Sent Gesendet\r\nm DELETE Gesendet\r\nn DELETE INBOX\r\no CREATE INBOX\r\np DELETE Nope\r\n");
    assert_eq!(
        w,
        "l OK RENAME completed\r\nm OK DELETE completed\r\n\
n NO [CANNOT] INBOX cannot be deleted\r\no NO [ALREADYEXISTS] INBOX always exists\r\n\
p NO [NONEXISTENT] No such mailbox or message\r\n"
    );
}

#[test]
fn status_namespace_and_list_status() {
    let store = sample_store();
    let mut h = H::logged_in(store);
    let w = h.send("a STATUS INBOX (MESSAGES UNSEEN UIDNEXT SIZE)\r\nb NAMESPACE\r\nc LIST \"\" INBOX RETURN (STATUS (MESSAGES))\r\n");
    assert_eq!(
        w,
        "* STATUS INBOX (MESSAGES 3 UNSEEN 2 UIDNEXT 4 SIZE 72)\r\na OK STATUS completed\r\n\
* NAMESPACE ((\"\" \"/\")) NIL NIL\r\nb OK NAMESPACE completed\r\n\
* LIST (\\HasNoChildren) \"/\" INBOX\r\n* STATUS INBOX (MESSAGES 3)\r\nc OK LIST completed\r\n"
    );
}

// ----- updates from another session --------------------------------------------------------

#[test]
fn updates_after_another_session_changes_the_folder() {
    for chunking in CHUNKINGS {
        let store = sample_store();
        let mut a = H::logged_in(store.clone());
        a.feed(b"s SELECT INBOX\r\n", chunking);
        a.take();
        // Another session: flags change, message 2 expunged, a new one arrives.
        let mut b = H::logged_in(store.clone());
        b.send("x SELECT INBOX\r\n");
        b.send("y STORE 1 +FLAGS (\\Flagged)\r\n");
        store.remove("INBOX", 2);
        store.deliver("INBOX", b"Subject: four\r\n\r\n4\r\n", &[]);
        // FETCH may not report the expunge (RFC 9051 §7.5.1), but reports the rest.
        a.feed(b"f FETCH 1:3 (UID)\r\n", chunking);
        let w = a.take();
        assert!(!w.contains("EXPUNGE"), "{w}");
        assert_eq!(
            w,
            "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\n\
* 1 FETCH (FLAGS (\\Seen \\Flagged \\Recent))\r\n* 4 EXISTS\r\n* 4 RECENT\r\nf OK FETCH completed\r\n",
            "{chunking:?}"
        );
        a.feed(b"n NOOP\r\n", chunking);
        assert_eq!(a.take(), "* 2 EXPUNGE\r\nn OK NOOP completed\r\n");
        a.feed(b"g FETCH 3 UID\r\n", chunking);
        assert!(
            a.take().starts_with("* 3 FETCH (UID 4)\r\n"),
            "numbers follow the expunge"
        );
    }
}

#[test]
fn fetch_of_a_message_expunged_elsewhere() {
    let store = sample_store();
    let mut a = H::logged_in(store.clone());
    a.send("s SELECT INBOX\r\n");
    store.remove("INBOX", 2);
    let w = a.send("f FETCH 2 BODY.PEEK[]\r\n");
    assert_eq!(w, "f NO [EXPUNGEISSUED] Some messages were expunged\r\n");
    assert_eq!(
        a.send("n NOOP\r\n"),
        "* 2 EXPUNGE\r\nn OK NOOP completed\r\n"
    );
}

// ----- IDLE -------------------------------------------------------------------------------

#[test]
fn idle_keepalive_updates_and_done() {
    for chunking in CHUNKINGS {
        let config = ServerConfig::builder()
            .policy(ServerPolicy::insecure_plaintext())
            .idle_keepalive(Duration::from_secs(60))
            .recheck_interval(Duration::from_secs(10))
            .build()
            .unwrap();
        let store = sample_store();
        let mut h = H::new(config, store.clone());
        h.feed(
            b"l LOGIN alice secret\r\ns SELECT INBOX\r\na IDLE\r\n",
            chunking,
        );
        assert!(
            h.take()
                .ends_with("s OK [READ-WRITE] SELECT completed\r\n+ idling\r\n")
        );
        let start = h.now;
        assert_eq!(h.s.poll_timeout(), Some(start + Duration::from_secs(10)));
        for _ in 0..5 {
            h.advance(Duration::from_secs(10));
        }
        assert_eq!(h.take(), "", "nothing changed, no keepalive yet");
        h.advance(Duration::from_secs(10));
        assert_eq!(h.take(), "* OK Still here\r\n");
        store.deliver("INBOX", b"Subject: new\r\n\r\nx\r\n", &[]);
        store.remove("INBOX", 1);
        h.advance(Duration::from_secs(10));
        assert_eq!(h.take(), "* 1 EXPUNGE\r\n* 3 EXISTS\r\n* 3 RECENT\r\n");
        h.feed(b"DONE\r\nb NOOP\r\n", chunking);
        assert_eq!(h.take(), "a OK IDLE terminated\r\nb OK NOOP completed\r\n");
        assert!(!h.closed);
    }
}

#[test]
fn idle_needs_a_strict_done() {
    let mut h = H::logged_in(sample_store());
    h.send("s SELECT INBOX\r\na IDLE\r\n");
    let w = h.send("b NOOP\r\n");
    assert_eq!(w, "a BAD Expected DONE\r\n");
    let w = h.send("c IDLE\r\n");
    assert_eq!(w, "+ idling\r\n");
    let w = h.send("d APPEND INBOX {3}\r\n");
    assert_eq!(
        w, "c BAD Expected DONE\r\n",
        "no continuation for a literal during IDLE"
    );
}

// ----- STORE, COPY, MOVE, EXPUNGE -------------------------------------------------------------

#[test]
fn store_copy_move_with_uidplus() {
    let store = sample_store();
    let mut h = H::logged_in(store.clone());
    h.send("c CREATE Archive\r\ns SELECT INBOX\r\n");
    let w =
        h.send("a UID STORE 2:3 FLAGS.SILENT (\\Answered $Work)\r\nb STORE 1 -FLAGS (\\Seen)\r\n");
    assert_eq!(
        w,
        "a OK STORE completed\r\n* 1 FETCH (FLAGS (\\Recent))\r\nb OK STORE completed\r\n"
    );
    assert_eq!(
        store.flags("INBOX", 3),
        [Flag::Answered, Flag::new("$Work").unwrap()]
    );
    let w = h.send(
        "c COPY 1:2 Archive\r\nd UID MOVE 3 Archive\r\ne COPY 1 Nope\r\nf COPY 9 Archive\r\n",
    );
    assert_eq!(
        w,
        "c OK [COPYUID 1002 1:2 1:2] COPY completed\r\n\
* OK [COPYUID 1002 3 3] Moved UIDs\r\n* 3 EXPUNGE\r\nd OK MOVE completed\r\n\
e NO [TRYCREATE] No such mailbox\r\n\
f BAD Invalid message sequence number\r\n"
    );
    assert_eq!(store.uids("Archive"), [1, 2, 3]);
    assert_eq!(store.uids("INBOX"), [1, 2]);
    let w = h.send("g STORE 1:2 +FLAGS (\\Deleted)\r\nh UID EXPUNGE 2\r\ni CLOSE\r\n");
    assert!(
        w.ends_with("* 2 EXPUNGE\r\nh OK EXPUNGE completed\r\ni OK CLOSE completed\r\n"),
        "{w}"
    );
    assert!(store.uids("INBOX").is_empty(), "CLOSE expunged the rest");
    assert_eq!(
        h.send("j FETCH 1 UID\r\n"),
        "j BAD Command not valid in this state\r\n"
    );
}

// ----- FETCH streaming ------------------------------------------------------------------

#[test]
fn fetch_streams_a_large_body_with_bounded_memory() {
    const SIZE: u64 = 6 << 20;
    let config = ServerConfig::builder()
        .policy(ServerPolicy::insecure_plaintext())
        .fetch_chunk(16 * 1024)
        .build()
        .unwrap();
    let store = TestStore::new();
    store.deliver_synthetic("INBOX", SIZE);
    let mut h = H::new(config, store.clone());
    h.send("l LOGIN alice secret\r\ns SELECT INBOX\r\n");
    h.s.handle_input(h.now, b"f FETCH 1 BODY.PEEK[]\r\nn NOOP\r\n");
    // Pull one output at a time, as a driver whose socket is slow would.
    let mut wire = Vec::new();
    let mut pulls = 0;
    while let Some(o) = h.s.poll_output() {
        pulls += 1;
        if let Output::Transmit(b) = o {
            assert!(b.len() <= 16 * 1024 + 64, "output of {} octets", b.len());
            wire.extend_from_slice(&b);
        }
        if pulls == 10 {
            // Partway: the store was read one chunk at a time, the client's next command waits.
            assert!(h.s.is_streaming());
            assert!(store.max_read() <= 16 * 1024);
            assert!(!String::from_utf8_lossy(&wire).contains("n OK"));
        }
    }
    assert!(pulls > (SIZE / (16 * 1024)) as usize);
    let head = b"* 1 FETCH (BODY[] {6291456}\r\n";
    assert!(wire.starts_with(head));
    let body = &wire[head.len()..head.len() + SIZE as usize];
    assert!(body == synthetic(SIZE).as_slice());
    assert_eq!(
        &wire[head.len() + SIZE as usize..],
        b")\r\nf OK FETCH completed\r\nn OK NOOP completed\r\n"
    );
    assert!(store.max_read() <= 16 * 1024);
}

#[test]
fn partial_fetch_and_rfc822() {
    let store = sample_store();
    let mut h = H::logged_in(store.clone());
    h.send("s SELECT INBOX\r\n");
    let w = h.send("a FETCH 2 (BODY.PEEK[]<9.3> BODY.PEEK[]<100.5> RFC822.SIZE)\r\n");
    assert_eq!(
        w,
        "* 2 FETCH (BODY[]<9> {3}\r\ntwo BODY[]<100> {0}\r\n RFC822.SIZE 24)\r\na OK FETCH completed\r\n"
    );
    let w = h.send("b UID FETCH 3 (RFC822 BINARY.SIZE[])\r\n");
    assert_eq!(
        w,
        "* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent) RFC822 {25}\r\nSubject: three\r\n\r\nthird\r\n BINARY.SIZE[] 25)\r\nb OK UID FETCH completed\r\n"
    );
    let w = h.send("c FETCH 1 BINARY.PEEK[]\r\n");
    assert!(
        w.starts_with("* 1 FETCH (BINARY[] ~{23}\r\nSubject: one"),
        "{w}"
    );
}

#[test]
fn a_store_shorter_than_announced_ends_the_session() {
    let store = TestStore::new();
    let uid = store.deliver("INBOX", b"Subject: x\r\n\r\nbody\r\n", &[]);
    let mut h = H::logged_in(store.clone());
    // The metadata promises more than the reader gives.
    {
        let mut inner = store.0.lock().unwrap();
        let m = &mut inner.folders.get_mut("INBOX").unwrap().msgs[0];
        m.meta.size = 100;
    }
    h.send("s SELECT INBOX\r\n");
    h.send(&format!("f UID FETCH {uid} BODY.PEEK[]\r\n"));
    assert!(h.closed);
    assert_eq!(h.errors, [ServerError::MessageTruncated { uid }]);
}

#[test]
fn shutdown_and_timeout_in_the_middle_of_a_literal() {
    let config = ServerConfig::builder()
        .policy(ServerPolicy::insecure_plaintext())
        .fetch_chunk(1024)
        .build()
        .unwrap();
    let store = TestStore::new();
    store.deliver_synthetic("INBOX", 100_000);
    store.deliver_synthetic("INBOX", 100_000);
    // Shutdown: the message being sent is finished, then BYE.
    let mut h = H::new(config.clone(), store.clone());
    h.send("l LOGIN alice secret\r\ns SELECT INBOX\r\n");
    h.s.handle_input(h.now, b"f FETCH 1:2 BODY.PEEK[]\r\n");
    for _ in 0..5 {
        h.s.poll_output();
    }
    h.s.shutdown();
    h.drain();
    let w = h.take();
    assert!(
        w.ends_with(")\r\n* BYE Server shutting down\r\n"),
        "{}",
        &w[w.len() - 60..]
    );
    assert!(
        !w.contains("* 2 FETCH"),
        "the second message is not started"
    );
    assert!(h.closed && h.errors.is_empty());

    // Timeout: a client that reads nothing for a whole period is closed without a BYE.
    let mut h = H::new(config, store);
    h.send("l LOGIN alice secret\r\ns SELECT INBOX\r\n");
    h.s.handle_input(h.now, b"f FETCH 1 BODY.PEEK[]\r\n");
    h.s.poll_output();
    h.s.poll_output();
    h.now += Duration::from_secs(1801);
    h.s.handle_timeout(h.now);
    assert!(h.s.is_streaming(), "the client was reading: re-armed");
    h.s.poll_output();
    h.now += Duration::from_secs(1801);
    h.s.handle_timeout(h.now);
    assert!(
        h.s.is_streaming(),
        "it read one more output: re-armed again"
    );
    // Then nothing for a whole period: closed.
    h.now += Duration::from_secs(1801);
    h.s.handle_timeout(h.now);
    h.drain();
    assert_eq!(h.errors, [ServerError::Timeout]);
    assert!(!h.take().contains("BYE"));
}

#[test]
fn starttls_go_ahead_precedes_the_cut() {
    let mut h = H::new(ServerConfig::builder().build().unwrap(), TestStore::new());
    h.take();
    h.s.handle_input(h.now, b"a STARTTLS\r\n");
    let Some(Output::Transmit(ok)) = h.s.poll_output() else {
        panic!("the go-ahead first")
    };
    assert_eq!(&ok[..], b"a OK Begin TLS negotiation now\r\n");
    assert!(matches!(h.s.poll_output(), Some(Output::StartTls)));
    assert!(h.s.poll_output().is_none());
}

#[test]
fn the_machine_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<mailsec_imap::server::Server>();
}

#[test]
fn empty_folder_utf8_names_and_enable_rules() {
    let store = TestStore::new();
    let mut h = H::logged_in(store);
    let w = h.send(
        "a ENABLE UTF8=ACCEPT\r\nb CREATE \"Entwürfe\"\r\nc LIST \"\" Entw*\r\nd SELECT INBOX\r\n",
    );
    assert!(w.starts_with("* ENABLED UTF8=ACCEPT\r\na OK"), "{w}");
    assert!(
        w.contains("* LIST (\\HasNoChildren) \"/\" \"Entwürfe\"\r\n"),
        "{w}"
    );
    assert!(w.contains("* 0 EXISTS\r\n"), "{w}");
    let w = h.send("e FETCH 1:* FLAGS\r\nf UID SEARCH ALL\r\ng ENABLE IMAP4rev2\r\nh STATUS Nope (MESSAGES)\r\n");
    assert_eq!(
        w,
        "e OK FETCH completed\r\n* SEARCH\r\nf OK SEARCH completed\r\n\
g BAD ENABLE is valid only before SELECT\r\n\
h NO [NONEXISTENT] No such mailbox or message\r\n"
    );
}
