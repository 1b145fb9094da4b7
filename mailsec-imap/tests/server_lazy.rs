//! How much of a message the server reads for each FETCH item and SEARCH key, counted on a
//! wrapping store: header items read the header block only, metadata items nothing, TEXT and
//! whole-message literals are streamed without analysing the message, and SEARCH is bounded by
//! `max_search_bytes`.

#[path = "server_support.rs"]
mod support;

use mailsec_imap::server::ServerConfig;
use mailsec_imap::store::MemoryStore;
use mailsec_tls::ServerPolicy;
use support::{CHUNKINGS, CountingStore, H, TestStore};

const HEADER: &[u8] = b"From: Alice <alice@example.org>\r\n\
To: bob@example.net\r\n\
Subject: big one\r\n\
Date: Fri, 27 Nov 2026 09:00:00 +0000\r\n\
Message-ID: <big@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n";

/// 5 MB of body lines.
fn big_body() -> Vec<u8> {
    let line = b"0123456789 the quick brown fox jumps over the lazy dog 0123456789\r\n";
    let mut body = Vec::with_capacity(5_000_000 + line.len());
    while body.len() < 5_000_000 {
        body.extend_from_slice(line);
    }
    body
}

/// A header block of about 10 KB.
fn long_header() -> Vec<u8> {
    let mut h = b"Subject: long header\r\n".to_vec();
    for i in 0..200 {
        h.extend_from_slice(format!("X-Trace-{i:03}: relay{i}.example.net checked\r\n").as_bytes());
    }
    h.extend_from_slice(b"\r\n");
    h
}

struct Fixture {
    h: H,
    counting: CountingStore,
    big: Vec<u8>,
    long: Vec<u8>,
}

/// uid 1: `HEADER` + 5 MB; uid 2: a 10 KB header + 100 KB; uid 3: no empty line; uid 4: an
/// empty header.
fn fixture(config: ServerConfig) -> Fixture {
    let store = MemoryStore::new();
    let mut big = HEADER.to_vec();
    big.extend_from_slice(&big_body());
    store.deliver("INBOX", &big).unwrap();
    let mut long = long_header();
    long.extend(std::iter::repeat_n(b'x', 100_000));
    store.deliver("INBOX", &long).unwrap();
    store
        .deliver("INBOX", b"Subject: headless\r\nFrom: a@example.org\r\n")
        .unwrap();
    store.deliver("INBOX", b"\r\nbody only\r\n").unwrap();
    let counting = CountingStore::new(store);
    let mut h = H::new(config, TestStore::new());
    h.counting = Some(counting.clone());
    h.take();
    assert!(h.send("l LOGIN alice secret\r\n").contains("l OK"));
    assert!(h.send("s SELECT INBOX\r\n").contains("s OK"));
    counting.take();
    Fixture {
        h,
        counting,
        big,
        long,
    }
}

fn plain() -> ServerConfig {
    ServerConfig::builder()
        .policy(ServerPolicy::insecure_plaintext())
        .build()
        .unwrap()
}

/// The first read looking for a header's end (2 KiB): a header shorter than that costs one read.
const FIRST_READ: u64 = 2048;

#[test]
fn header_items_read_only_the_header_block() {
    for chunking in CHUNKINGS {
        let mut f = fixture(plain());
        let header = String::from_utf8(HEADER.to_vec()).unwrap();
        let cases: [(&str, String); 4] = [
            (
                "BODY.PEEK[HEADER]",
                format!("BODY[HEADER] {{{}}}\r\n{header}", HEADER.len()),
            ),
            (
                "BODY.PEEK[HEADER.FIELDS (Subject To)]",
                "BODY[HEADER.FIELDS (Subject To)] {41}\r\nTo: bob@example.net\r\nSubject: big one\r\n\r\n"
                    .to_string(),
            ),
            (
                "RFC822.HEADER",
                format!("RFC822.HEADER {{{}}}\r\n{header}", HEADER.len()),
            ),
            (
                "ENVELOPE",
                "ENVELOPE (\"Fri, 27 Nov 2026 09:00:00 +0000\" \"big one\" \
((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\")) \
((\"Alice\" NIL \"alice\" \"example.org\")) ((NIL NIL \"bob\" \"example.net\")) NIL NIL NIL \
\"<big@example.org>\")"
                    .to_string(),
            ),
        ];
        for (item, answer) in cases {
            f.h.feed(format!("a FETCH 1 ({item})\r\n").as_bytes(), chunking);
            let w = f.h.take();
            assert_eq!(
                w,
                format!("* 1 FETCH ({answer})\r\na OK FETCH completed\r\n"),
                "{chunking:?} {item}"
            );
            let (opened, read) = f.counting.take();
            assert_eq!(opened, 1, "{item}");
            // Not the 5 MB: one read of 2 KiB covers the 250-octet header.
            assert!(
                read >= HEADER.len() as u64 && read <= FIRST_READ,
                "{chunking:?} {item}: {read} octets read"
            );
        }
        // All of them together: still one header read.
        f.h.feed(
            b"b FETCH 1 (ENVELOPE RFC822.HEADER BODY.PEEK[HEADER.FIELDS.NOT (Date)] UID)\r\n",
            chunking,
        );
        assert!(f.h.take().ends_with("b OK FETCH completed\r\n"));
        let (opened, read) = f.counting.take();
        assert_eq!(opened, 1);
        assert!(read <= FIRST_READ, "{read}");
    }
}

#[test]
fn a_long_header_is_read_to_its_end_and_not_much_further() {
    let mut f = fixture(plain());
    let w = f.h.send("a FETCH 2 (BODY.PEEK[HEADER])\r\n");
    let mut want =
        format!("* 2 FETCH (BODY[HEADER] {{{}}}\r\n", f.long.len() - 100_000).into_bytes();
    want.extend_from_slice(&f.long[..f.long.len() - 100_000]);
    want.extend_from_slice(b")\r\na OK FETCH completed\r\n");
    assert_eq!(w.as_bytes(), want);
    let header = (f.long.len() - 100_000) as u64;
    let (_, read) = f.counting.take();
    // Reads of 2, 4, 8 KiB ...: at most about twice the header, never the 100 KB body.
    assert!(
        read >= header && read <= 2 * header + FIRST_READ,
        "{read} for {header}"
    );
}

#[test]
fn metadata_items_read_nothing() {
    let mut f = fixture(plain());
    let w =
        f.h.send("a FETCH 1:4 (FLAGS UID INTERNALDATE RFC822.SIZE BINARY.SIZE[])\r\n");
    assert!(w.contains("* 1 FETCH (FLAGS () UID 1 INTERNALDATE "), "{w}");
    assert!(w.contains(&format!(
        "RFC822.SIZE {} BINARY.SIZE[] {})",
        f.big.len(),
        f.big.len()
    )));
    assert!(w.ends_with("a OK FETCH completed\r\n"));
    assert_eq!(f.counting.take(), (0, 0));
}

#[test]
fn text_is_streamed_from_the_header_end() {
    let mut f = fixture(plain());
    let body = &f.big[HEADER.len()..];
    f.h.max_transmit = 0;
    let w = f.h.send("a FETCH 1 (BODY.PEEK[TEXT])\r\n");
    let mut want = format!("* 1 FETCH (BODY[TEXT] {{{}}}\r\n", body.len()).into_bytes();
    want.extend_from_slice(body);
    want.extend_from_slice(b")\r\na OK FETCH completed\r\n");
    assert!(w.as_bytes() == want, "BODY[TEXT] differs");
    // Streamed a chunk at a time (32 KiB by default), never held whole.
    assert!(f.h.max_transmit <= 33 * 1024, "{}", f.h.max_transmit);
    let (_, read) = f.counting.take();
    assert!(read <= f.big.len() as u64 + FIRST_READ, "{read}");
    // A partial TEXT skips from the header's end.
    let w = f.h.send("b FETCH 1 (BODY.PEEK[TEXT]<10.20>)\r\n");
    assert_eq!(
        w,
        format!(
            "* 1 FETCH (BODY[TEXT]<10> {{20}}\r\n{})\r\nb OK FETCH completed\r\n",
            String::from_utf8_lossy(&body[10..30])
        )
    );
    let (_, read) = f.counting.take();
    assert!(read <= FIRST_READ + HEADER.len() as u64 + 30, "{read}");
    // RFC822.TEXT is the same octets and sets \Seen.
    let w = f.h.send("c FETCH 4 (RFC822.TEXT)\r\n");
    assert_eq!(
        w,
        "* 4 FETCH (FLAGS (\\Seen) RFC822.TEXT {11}\r\nbody only\r\n)\r\nc OK FETCH completed\r\n"
    );
}

#[test]
fn without_an_empty_line_the_message_is_all_header() {
    for chunking in CHUNKINGS {
        let mut f = fixture(plain());
        f.h.feed(
            b"a FETCH 3 (BODY.PEEK[HEADER] BODY.PEEK[TEXT] RFC822.HEADER)\r\nb FETCH 4 (BODY.PEEK[HEADER] BODY.PEEK[TEXT])\r\n",
            chunking,
        );
        assert_eq!(
            f.h.take(),
            "* 3 FETCH (BODY[HEADER] {40}\r\nSubject: headless\r\nFrom: a@example.org\r\n \
BODY[TEXT] {0}\r\n RFC822.HEADER {40}\r\nSubject: headless\r\nFrom: a@example.org\r\n)\r\n\
a OK FETCH completed\r\n\
* 4 FETCH (BODY[HEADER] {2}\r\n\r\n BODY[TEXT] {11}\r\nbody only\r\n)\r\nb OK FETCH completed\r\n",
            "{chunking:?}"
        );
    }
}

#[test]
fn whole_message_literals_are_streamed_without_analysis() {
    let mut f = fixture(plain());
    let w =
        f.h.send("a FETCH 1 (BODY.PEEK[]<5000.100>)\r\nb FETCH 1 (BINARY.PEEK[]<0.10>)\r\n");
    assert_eq!(
        w,
        format!(
            "* 1 FETCH (BODY[]<5000> {{100}}\r\n{})\r\na OK FETCH completed\r\n\
* 1 FETCH (BINARY[]<0> ~{{10}}\r\n{})\r\nb OK FETCH completed\r\n",
            String::from_utf8_lossy(&f.big[5000..5100]),
            String::from_utf8_lossy(&f.big[..10])
        )
    );
    // Exactly the octets up to the window's end: nothing was read to analyse the message.
    assert_eq!(f.counting.take(), (2, 5100 + 10));
    // BODYSTRUCTURE still analyses the whole message.
    let w = f.h.send("c FETCH 1 (BODYSTRUCTURE)\r\n");
    assert!(w.contains("\"text\" \"plain\""), "{w}");
    assert_eq!(f.counting.take(), (1, f.big.len() as u64));
}

#[test]
fn search_reads_headers_for_header_keys_and_is_bounded() {
    let config = ServerConfig::builder()
        .policy(ServerPolicy::insecure_plaintext())
        .max_search_bytes(1 << 20)
        .build()
        .unwrap();
    let mut f = fixture(config);
    let w = f.h.send("a SEARCH SUBJECT headless\r\n");
    assert_eq!(w, "* SEARCH 3\r\na OK SEARCH completed\r\n");
    let (opened, read) = f.counting.take();
    assert_eq!(opened, 4);
    assert!(read < 32 * 1024, "header keys read {read} octets");
    // BODY on the 5 MB message is over the 1 MiB budget: refused before reading it.
    let w = f.h.send("b SEARCH BODY fox\r\n");
    assert_eq!(
        w,
        "b NO [LIMIT] SEARCH would read too much message content\r\n"
    );
    assert_eq!(f.counting.take(), (0, 0));
    // Without content keys nothing is read.
    let w = f.h.send("c SEARCH LARGER 1000 UNSEEN\r\n");
    assert_eq!(w, "* SEARCH 1 2\r\nc OK SEARCH completed\r\n");
    assert_eq!(f.counting.take(), (0, 0));
    // Within the default budget the body search runs.
    let mut f = fixture(plain());
    let w = f.h.send("d SEARCH BODY fox\r\n");
    assert_eq!(w, "* SEARCH 1\r\nd OK SEARCH completed\r\n");
}
