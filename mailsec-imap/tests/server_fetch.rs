//! FETCH items that need the message analysed (ENVELOPE, BODYSTRUCTURE, sections, BINARY)
//! and SEARCH on content, against `MemoryStore`.

#[path = "server_support.rs"]
mod support;

use mailsec_imap::server::ServerConfig;
use mailsec_imap::store::MemoryStore;
use mailsec_tls::ServerPolicy;
use support::{CHUNKINGS, H, TestStore};

const MIME: &[u8] = b"From: Alice <alice@example.org>\r\n\
To: bob@example.net\r\n\
Subject: Report\r\n\
Date: Fri, 27 Nov 2026 09:00:00 +0000\r\n\
Message-ID: <r1@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
See the numbers.\r\n\
--b1\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAECAw==\r\n\
--b1--\r\n";

/// A session logged in with a `MemoryStore` holding `MIME` and a plain message.
fn session() -> (H, MemoryStore) {
    let store = MemoryStore::new();
    store.deliver("INBOX", MIME).unwrap();
    store
        .deliver(
            "INBOX",
            b"From: carol@example.com\r\nSubject: lunch\r\n\r\nnoon?\r\n",
        )
        .unwrap();
    let config = ServerConfig::builder()
        .policy(ServerPolicy::insecure_plaintext())
        .build()
        .unwrap();
    let mut h = H::new(config, TestStore::new());
    h.memory = Some(store.clone());
    h.take();
    h.send("l LOGIN alice secret\r\n");
    h.send("s SELECT INBOX\r\n");
    (h, store)
}

#[test]
fn envelope_and_bodystructure() {
    let (mut h, _) = session();
    let w = h.send("a FETCH 1 (ENVELOPE)\r\n");
    assert_eq!(
        w,
        "* 1 FETCH (ENVELOPE (\"Fri, 27 Nov 2026 09:00:00 +0000\" \"Report\" \
((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\")) \
((\"Alice\" NIL \"alice\" \"example.org\")) ((NIL NIL \"bob\" \"example.net\")) NIL NIL NIL \
\"<r1@example.org>\"))\r\na OK FETCH completed\r\n"
    );
    let w = h.send("b FETCH 1 BODY\r\n");
    assert_eq!(
        w,
        "* 1 FETCH (BODY ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 16 1)\
(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 8) \"mixed\"))\r\nb OK FETCH completed\r\n"
    );
    let w = h.send("c FETCH 1 BODYSTRUCTURE\r\n");
    assert!(w.contains("\"mixed\" (\"boundary\" \"b1\")"), "{w}");
}

#[test]
fn sections_and_binary() {
    for chunking in CHUNKINGS {
        let (mut h, _) = session();
        h.feed(
            b"a FETCH 1 (BODY.PEEK[1] BODY.PEEK[HEADER.FIELDS (Subject)] BINARY.PEEK[2] BINARY.SIZE[2])\r\n",
            chunking,
        );
        let w = h.take();
        assert_eq!(
            w.as_bytes(),
            b"* 1 FETCH (BODY[1] {16}\r\nSee the numbers. \
BODY[HEADER.FIELDS (Subject)] {19}\r\nSubject: Report\r\n\r\n \
BINARY[2] ~{4}\r\n\x00\x01\x02\x03 BINARY.SIZE[2] 4)\r\na OK FETCH completed\r\n",
            "{chunking:?}: {w}"
        );
        h.feed(b"b FETCH 2 (RFC822.HEADER RFC822.TEXT)\r\n", chunking);
        let w = h.take();
        assert_eq!(
            w,
            "* 2 FETCH (FLAGS (\\Seen) RFC822.HEADER {43}\r\nFrom: carol@example.com\r\nSubject: lunch\r\n\r\n RFC822.TEXT {7}\r\nnoon?\r\n)\r\nb OK FETCH completed\r\n",
            "{chunking:?}"
        );
    }
}

#[test]
fn search_on_content_and_flags() {
    let (mut h, store) = session();
    let w = h.send("a SEARCH SUBJECT report\r\nb UID SEARCH FROM carol\r\nc SEARCH BODY numbers UNSEEN\r\nd SEARCH NOT SUBJECT lunch\r\ne SEARCH CHARSET KOI8-R ALL\r\n");
    assert_eq!(
        w,
        "* SEARCH 1\r\na OK SEARCH completed\r\n\
* SEARCH 2\r\nb OK SEARCH completed\r\n\
* SEARCH 1\r\nc OK SEARCH completed\r\n\
* SEARCH 1\r\nd OK SEARCH completed\r\n\
e NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n"
    );
    // A message delivered while the folder is selected shows up on NOOP.
    store
        .deliver("INBOX", b"Subject: report two\r\n\r\nx\r\n")
        .unwrap();
    let w = h.send("n NOOP\r\nf SEARCH RETURN (COUNT MAX) SUBJECT report\r\n");
    assert_eq!(
        w,
        "* 3 EXISTS\r\n* 1 RECENT\r\nn OK NOOP completed\r\n\
* ESEARCH (TAG \"f\") MAX 3 COUNT 2\r\nf OK SEARCH completed\r\n"
    );
}
