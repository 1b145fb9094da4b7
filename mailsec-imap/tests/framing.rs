//! The IMAP framing step: RFC examples with literals under every chunking, limits, refusals and
//! resynchronization, quoting, binary literals, strict and tolerant line ends.

use bytes::Bytes;
use mailsec_imap::framing::{
    Frame, Framer, FramerConfig, FramingError, LITERAL_MINUS_MAX, NoPendingLiteral,
    redacted_preview,
};

type Item = Result<Frame, FramingError>;

/// How the input is cut.
#[derive(Clone, Copy, Debug)]
enum Chunking {
    Whole,
    ByteByByte,
    SplitAt(usize),
    Every(usize),
}

impl Chunking {
    fn cut(self, data: &[u8]) -> Vec<&[u8]> {
        match self {
            Chunking::Whole => vec![data],
            Chunking::ByteByByte => data.chunks(1).collect(),
            Chunking::Every(n) => data.chunks(n.max(1)).collect(),
            Chunking::SplitAt(n) if n > 0 && n < data.len() => vec![&data[..n], &data[n..]],
            Chunking::SplitAt(_) => vec![data],
        }
    }

    /// Whole, byte by byte, pieces of 2 and 7, and a split at every offset.
    fn all(len: usize) -> Vec<Chunking> {
        let mut all = vec![
            Chunking::Whole,
            Chunking::ByteByByte,
            Chunking::Every(2),
            Chunking::Every(7),
        ];
        all.extend((1..len).map(Chunking::SplitAt));
        all
    }
}

/// How chunks are given to the framer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Push {
    /// `push(&[u8])`, draining after every push.
    Copy,
    /// `push_bytes(Bytes)`, draining after every push.
    Shared,
    /// Alternately `push_bytes` and `push`, draining after every push.
    Mixed,
    /// Every chunk with `push_bytes` first, then one drain (chunks queue in the framer).
    Queued,
}

impl Push {
    const ALL: [Push; 4] = [Push::Copy, Push::Shared, Push::Mixed, Push::Queued];
}

/// Feeds `input` to `framer` in `chunking`, draining after every push; synchronizing literals
/// are accepted when `accept(size)`.
fn feed(
    framer: &mut Framer,
    input: &[u8],
    chunking: Chunking,
    accept: &dyn Fn(u64) -> bool,
) -> Vec<Item> {
    feed_with(framer, input, chunking, Push::Copy, accept)
}

fn feed_with(
    framer: &mut Framer,
    input: &[u8],
    chunking: Chunking,
    push: Push,
    accept: &dyn Fn(u64) -> bool,
) -> Vec<Item> {
    let mut out = Vec::new();
    // The chunks as slices of one `Bytes`, as a caller's read buffer would be.
    let all = Bytes::copy_from_slice(input);
    for (i, chunk) in chunking.cut(input).into_iter().enumerate() {
        let start = chunk.as_ptr() as usize - input.as_ptr() as usize;
        let shared = all.slice(start..start + chunk.len());
        match push {
            Push::Copy => framer.push(chunk).expect("push taken"),
            Push::Mixed if i % 2 == 1 => framer.push(chunk).expect("push taken"),
            _ => framer.push_bytes(shared).expect("push taken"),
        }
        if push != Push::Queued {
            drain(framer, &mut out, accept);
        }
    }
    drain(framer, &mut out, accept);
    out
}

fn drain(framer: &mut Framer, out: &mut Vec<Item>, accept: &dyn Fn(u64) -> bool) {
    while let Some(item) = framer.next_frame() {
        if let Ok(Frame::LiteralAnnounced {
            needs_decision: true,
            size,
            ..
        }) = &item
        {
            if accept(*size) {
                framer.accept_literal().unwrap();
            } else {
                framer.reject_literal().unwrap();
            }
        }
        out.push(item);
    }
}

/// Runs `input` under every chunking on fresh framers from `make` and checks all agree with
/// `expected`.
fn every_chunking(
    make: &dyn Fn() -> Framer,
    input: &[u8],
    accept: &dyn Fn(u64) -> bool,
    expected: &[Item],
) {
    for chunking in Chunking::all(input.len()) {
        for push in Push::ALL {
            let mut framer = make();
            let got = feed_with(&mut framer, input, chunking, push, accept);
            assert_eq!(got, expected, "{chunking:?} {push:?}");
            assert!(framer.is_idle(), "{chunking:?} {push:?}: {framer:?}");
        }
    }
}

fn msg(bytes: &'static [u8]) -> Item {
    Ok(Frame::Message(Bytes::from_static(bytes)))
}

fn announced(tag: Option<&'static [u8]>, size: u64, non_sync: bool, binary: bool) -> Item {
    Ok(Frame::LiteralAnnounced {
        tag: tag.map(Bytes::from_static),
        size,
        non_sync,
        binary,
        needs_decision: false,
    })
}

fn sync_announced(tag: &'static [u8], size: u64) -> Item {
    Ok(Frame::LiteralAnnounced {
        tag: Some(Bytes::from_static(tag)),
        size,
        non_sync: false,
        binary: false,
        needs_decision: true,
    })
}

fn tag(t: &'static [u8]) -> Option<Bytes> {
    Some(Bytes::from_static(t))
}

fn yes(_: u64) -> bool {
    true
}

fn authenticated_server() -> Framer {
    let mut framer = Framer::server();
    framer.set_authenticated(true);
    framer
}

// ----- RFC examples -------------------------------------------------------------------------

#[test]
fn rfc3501_7_5_login_with_literals() {
    // RFC 3501 §7.5 / RFC 9051 §7.5: the client waits for "+" before each literal.
    let input = b"A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\nA002 NOOP\r\n";
    every_chunking(
        &Framer::server,
        input,
        &yes,
        &[
            sync_announced(b"A001", 11),
            sync_announced(b"A001", 7),
            msg(b"A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n"),
            msg(b"A002 NOOP\r\n"),
        ],
    );
}

#[test]
fn login_with_non_synchronizing_literals() {
    let input = b"a1 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n";
    every_chunking(
        &Framer::server,
        input,
        &|_| panic!("no decision for non-synchronizing literals"),
        &[
            announced(Some(b"a1"), 5, true, false),
            announced(Some(b"a1"), 6, true, false),
            msg(b"a1 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n"),
        ],
    );
}

const APPEND_MESSAGE: &[u8] = b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\
From: Fred Foobar <foobar@Blurdybloop.COM>\r\n\
Subject: afternoon meeting\r\n\
To: mooch@owatagu.siam.edu\r\n\
Message-Id: <B27397-0100000@Blurdybloop.COM>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\
\r\n\
Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";

#[test]
fn rfc3501_6_3_11_append() {
    assert_eq!(APPEND_MESSAGE.len(), 310);
    let mut input = b"A003 APPEND saved-messages (\\Seen) {310}\r\n".to_vec();
    input.extend_from_slice(APPEND_MESSAGE);
    input.extend_from_slice(b"\r\nA004 NOOP\r\n");
    let mut whole = b"A003 APPEND saved-messages (\\Seen) {310}\r\n".to_vec();
    whole.extend_from_slice(APPEND_MESSAGE);
    whole.extend_from_slice(b"\r\n");
    let whole: &'static [u8] = whole.leak();
    every_chunking(
        &authenticated_server,
        &input,
        &|size| size == 310,
        &[
            sync_announced(b"A003", 310),
            msg(whole),
            msg(b"A004 NOOP\r\n"),
        ],
    );
}

#[test]
fn rfc3501_fetch_response_with_literal() {
    let header: &[u8] = b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\nSubject: IMAP4rev1 WG mtg summary and minutes\r\n\r\n";
    let mut input = b"* 12 FETCH (FLAGS (\\Seen) BODY[HEADER] {".to_vec();
    input.extend_from_slice(header.len().to_string().as_bytes());
    input.extend_from_slice(b"}\r\n");
    input.extend_from_slice(header);
    input.extend_from_slice(b")\r\na004 OK FETCH completed\r\n");
    let first_len = input.len() - b"a004 OK FETCH completed\r\n".len();
    let first: &'static [u8] = input[..first_len].to_vec().leak();
    let mut config = FramerConfig::client();
    config.allow_nul_in_text_literals = false;
    every_chunking(
        &|| Framer::new(config.clone()),
        &input,
        &|_| panic!("clients decide nothing"),
        &[
            announced(None, header.len() as u64, false, false),
            msg(first),
            msg(b"a004 OK FETCH completed\r\n"),
        ],
    );
}

#[test]
fn several_literals_in_one_response() {
    let input = b"* 1 FETCH (BODY[1] {3}\r\nabc BODY[2] {0}\r\n UID 4)\r\n+ go on\r\n";
    every_chunking(
        &Framer::client,
        input,
        &yes,
        &[
            announced(None, 3, false, false),
            announced(None, 0, false, false),
            msg(b"* 1 FETCH (BODY[1] {3}\r\nabc BODY[2] {0}\r\n UID 4)\r\n"),
            msg(b"+ go on\r\n"),
        ],
    );
}

// ----- quoting --------------------------------------------------------------------------------

#[test]
fn quoted_brace_is_not_a_literal() {
    let input = b"A1 LOGIN \"{5}\" x\r\nA2 LOGIN x \"{5}\"\r\nA3 LOGIN x \"{5}\r\n\
A4 SELECT \"a\\\"{5}\"\r\nA5 LOGIN \"a\\\\\" {1}\r\nz\r\nA6 X \"a{\" b}\r\n";
    every_chunking(
        &Framer::server,
        input,
        &yes,
        &[
            msg(b"A1 LOGIN \"{5}\" x\r\n"),
            msg(b"A2 LOGIN x \"{5}\"\r\n"),
            // An unterminated quoted string: the parser rejects it; no literal follows.
            msg(b"A3 LOGIN x \"{5}\r\n"),
            msg(b"A4 SELECT \"a\\\"{5}\"\r\n"),
            sync_announced(b"A5", 1),
            msg(b"A5 LOGIN \"a\\\\\" {1}\r\nz\r\n"),
            msg(b"A6 X \"a{\" b}\r\n"),
        ],
    );
}

#[test]
fn quoting_restarts_after_a_literal() {
    // The quote opened before nothing: a literal's bytes never change the quoting state.
    let input = b"A1 X {3}\r\n\"\"\" \"{4}\r\nA2 NOOP\r\n";
    every_chunking(
        &Framer::server,
        input,
        &yes,
        &[
            sync_announced(b"A1", 3),
            msg(b"A1 X {3}\r\n\"\"\" \"{4}\r\n"),
            msg(b"A2 NOOP\r\n"),
        ],
    );
}

#[test]
fn status_responses_carry_no_literal() {
    // resp-text has no literal: a server echoing "{5}" cannot desynchronize its client.
    let input = b"* OK hello {5}\r\nA1 NO bad {3}\r\n+ {2}\r\n* 1 EXISTS\r\n";
    every_chunking(
        &Framer::client,
        input,
        &yes,
        &[
            msg(b"* OK hello {5}\r\n"),
            msg(b"A1 NO bad {3}\r\n"),
            msg(b"+ {2}\r\n"),
            msg(b"* 1 EXISTS\r\n"),
        ],
    );
}

// ----- malformed announcements and huge sizes ------------------------------------------------

#[test]
fn malformed_announcements_are_syntax_errors() {
    for bad in [&b"{}"[..], b"{-1}", b"{1 2}", b"{x}", b"{+}", b"{5++}"] {
        let mut input = b"A1 LOGIN ".to_vec();
        input.extend_from_slice(bad);
        input.extend_from_slice(b"\r\nA2 NOOP\r\n");
        let mut framer = Framer::server();
        let got = feed(&mut framer, &input, Chunking::ByteByByte, &yes);
        assert!(
            matches!(&got[0], Err(FramingError::LiteralSyntax { tag: Some(t), .. }) if t == "A1"),
            "{bad:?}: {got:?}"
        );
        assert_eq!(got[1..], [msg(b"A2 NOOP\r\n")], "{bad:?}");
    }
}

#[test]
fn huge_synchronizing_literals_cost_nothing() {
    for (size_text, size) in [
        (&b"4294967295"[..], Some(4_294_967_295u64)),
        (b"99999999999999999999", None),
        (b"18446744073709551615", Some(u64::MAX)),
    ] {
        let mut input = b"A1 APPEND INBOX {".to_vec();
        input.extend_from_slice(size_text);
        input.extend_from_slice(b"}\r\nA2 NOOP\r\n");
        for chunking in [Chunking::Whole, Chunking::ByteByByte] {
            let mut framer = authenticated_server();
            let got = feed(&mut framer, &input, chunking, &|_| {
                panic!("refused before any decision")
            });
            assert_eq!(
                got,
                [
                    Err(FramingError::LiteralTooLarge {
                        tag: tag(b"A1"),
                        size,
                        limit: 64 << 20,
                    }),
                    msg(b"A2 NOOP\r\n"),
                ],
                "{chunking:?}"
            );
            assert!(framer.capacity() < 4096, "{}", framer.capacity());
        }
    }
}

#[test]
fn huge_non_synchronizing_literal_is_skipped_without_memory() {
    let mut config = FramerConfig::server();
    config.max_non_sync_literal = Some(u64::MAX); // LITERAL+
    let mut framer = Framer::new(config);
    framer.set_authenticated(true);
    let mut out = Vec::new();
    framer.push(b"A1 APPEND INBOX {4294967295+}\r\n").unwrap();
    drain(&mut framer, &mut out, &yes);
    assert_eq!(
        out,
        [Err(FramingError::LiteralTooLarge {
            tag: tag(b"A1"),
            size: Some(4_294_967_295),
            limit: 64 << 20,
        })]
    );
    let chunk = vec![b'x'; 1 << 16];
    for _ in 0..64 {
        framer.push(&chunk).unwrap();
        drain(&mut framer, &mut out, &yes);
        assert!(framer.is_discarding());
        assert_eq!(framer.buffered(), 0);
    }
    assert!(framer.capacity() <= 2 << 16, "{}", framer.capacity());
    assert_eq!(out.len(), 1);
}

#[test]
fn unskippable_literal_is_fatal() {
    let mut framer = authenticated_server();
    let got = feed(
        &mut framer,
        b"A1 APPEND INBOX {99999999999999999999+}\r\nxyz\r\nA2 NOOP\r\n",
        Chunking::ByteByByte,
        &yes,
    );
    assert_eq!(got, [Err(FramingError::Desynchronized { tag: tag(b"A1") })]);
    assert!(got[0].as_ref().unwrap_err().is_fatal());
    assert!(framer.is_failed());
    assert_eq!(framer.buffered(), 0);

    let mut client = Framer::client();
    let got = feed(
        &mut client,
        b"* 1 FETCH (BODY[] {99999999999999999999}\r\n",
        Chunking::Whole,
        &yes,
    );
    assert_eq!(got, [Err(FramingError::Desynchronized { tag: None })]);
}

// ----- refusals and resynchronization ----------------------------------------------------------

#[test]
fn rejected_synchronizing_literal_ends_the_command() {
    // RFC 9051 §4.3: after NO/BAD instead of "+", the client does not send the literal.
    let input = b"A1 APPEND INBOX {100}\r\nA2 NOOP\r\n";
    every_chunking(
        &authenticated_server,
        input,
        &|_| false,
        &[sync_announced(b"A1", 100), msg(b"A2 NOOP\r\n")],
    );
}

#[test]
fn over_limit_synchronizing_literal_is_refused_by_the_framer() {
    // Before login the literal limit is 4 KiB.
    let input = b"A1 LOGIN {5000}\r\nA2 LOGOUT\r\n";
    every_chunking(
        &Framer::server,
        input,
        &|_| panic!("already refused"),
        &[
            Err(FramingError::LiteralTooLarge {
                tag: tag(b"A1"),
                size: Some(5000),
                limit: 4096,
            }),
            msg(b"A2 LOGOUT\r\n"),
        ],
    );
}

fn refused_non_sync_input(literal: usize, rest: &[u8]) -> Vec<u8> {
    let mut input = format!("A1 APPEND INBOX {{{literal}+}}\r\n").into_bytes();
    // Literal bytes that look like commands and literal announcements must not be framed.
    let filler = b"A9 DELETE INBOX {3+}\r\n";
    input.extend(filler.iter().cycle().take(literal));
    input.extend_from_slice(rest);
    input
}

#[test]
fn refused_non_sync_literal_is_skipped_and_framing_resyncs() {
    // LITERAL-: over 4096 octets a non-synchronizing literal is refused (RFC 7888 §4).
    let input = refused_non_sync_input(5000, b"\r\nA2 NOOP\r\n");
    let expected = [
        Err(FramingError::NonSyncLiteralRefused {
            tag: tag(b"A1"),
            size: 5000,
            limit: Some(LITERAL_MINUS_MAX),
        }),
        msg(b"A2 NOOP\r\n"),
    ];
    for chunking in [
        Chunking::Whole,
        Chunking::ByteByByte,
        Chunking::Every(7),
        Chunking::Every(1000),
    ] {
        let mut framer = authenticated_server();
        assert_eq!(feed(&mut framer, &input, chunking, &yes), expected);
        assert!(framer.capacity() < 16 * 1024);
    }
    // Split at every offset around the literal's end and the next command.
    for at in (input.len() - 40)..input.len() {
        let mut framer = authenticated_server();
        assert_eq!(
            feed(&mut framer, &input, Chunking::SplitAt(at), &yes),
            expected
        );
    }
}

#[test]
fn the_rest_of_a_refused_command_is_discarded_with_its_literals() {
    // MULTIAPPEND-like: after the refused literal, the rest of the command holds another
    // non-synchronizing literal (skipped), then a line that ends the command.
    let input = refused_non_sync_input(5000, b" (\\Seen) {5+}\r\nA3 \r\n A2 NOOP\r\nA4 NOOP\r\n");
    for chunking in [Chunking::Whole, Chunking::ByteByByte, Chunking::Every(13)] {
        let mut framer = authenticated_server();
        let got = feed(&mut framer, &input, chunking, &yes);
        assert!(
            matches!(got[0], Err(FramingError::NonSyncLiteralRefused { .. })),
            "{got:?}"
        );
        assert_eq!(got[1..], [msg(b"A4 NOOP\r\n")], "{chunking:?}");
    }
    // A synchronizing literal in the rest ends the command: the client waits for a "+".
    let input = refused_non_sync_input(5000, b" {5}\r\nA2 NOOP\r\n");
    let mut framer = authenticated_server();
    let got = feed(&mut framer, &input, Chunking::ByteByByte, &yes);
    assert_eq!(got[1..], [msg(b"A2 NOOP\r\n")]);
}

#[test]
fn literal_minus_boundary_and_policies() {
    let at_limit = refused_non_sync_input(4096, b"\r\n");
    let mut framer = authenticated_server();
    let got = feed(&mut framer, &at_limit, Chunking::Every(100), &yes);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], announced(Some(b"A1"), 4096, true, false));
    assert!(matches!(&got[1], Ok(Frame::Message(m)) if m.len() == at_limit.len()));

    let mut config = FramerConfig::server();
    config.max_non_sync_literal = None; // neither LITERAL+ nor LITERAL-
    let mut framer = Framer::new(config);
    let got = feed(
        &mut framer,
        b"A1 LOGIN {1+}\r\na b\r\nA2 NOOP\r\n",
        Chunking::ByteByByte,
        &yes,
    );
    assert_eq!(
        got,
        [
            Err(FramingError::NonSyncLiteralRefused {
                tag: tag(b"A1"),
                size: 1,
                limit: None,
            }),
            msg(b"A2 NOOP\r\n"),
        ]
    );
}

#[test]
fn client_skips_over_limit_literals() {
    let mut config = FramerConfig::client();
    config.after_auth.max_literal = 10;
    let mut framer = Framer::new(config);
    framer.set_authenticated(true);
    // The rest of the response holds another literal: skipped too.
    let input =
        b"* 1 FETCH (BODY[] {20}\r\n* 2 FETCH (BODY[] {3} BODY[1] {3}\r\n)\r\n)\r\n* 3 EXISTS\r\n";
    let got = feed(&mut framer, input, Chunking::ByteByByte, &yes);
    assert_eq!(
        got,
        [
            Err(FramingError::LiteralTooLarge {
                tag: None,
                size: Some(20),
                limit: 10,
            }),
            msg(b"* 3 EXISTS\r\n"),
        ]
    );
}

// ----- limits ---------------------------------------------------------------------------------

#[test]
fn hundred_megabyte_atom_is_line_too_long_with_bounded_memory() {
    let mut framer = Framer::server();
    let mut out = Vec::new();
    framer.push(b"A1 LOGIN alice ").unwrap();
    drain(&mut framer, &mut out, &yes);
    let chunk = vec![b'a'; 64 * 1024];
    let mut max_capacity = 0;
    for _ in 0..1600 {
        framer.push(&chunk).unwrap();
        drain(&mut framer, &mut out, &yes);
        max_capacity = max_capacity.max(framer.capacity());
        assert!(framer.buffered() <= 8 * 1024);
    }
    framer.push(b"\r\nA2 NOOP\r\n").unwrap();
    drain(&mut framer, &mut out, &yes);
    assert!(max_capacity <= 2 * 64 * 1024 + 8 * 1024, "{max_capacity}");
    assert_eq!(out.len(), 2, "{out:?}");
    match &out[0] {
        Err(FramingError::LineTooLong {
            tag: t,
            limit,
            preview,
        }) => {
            assert_eq!((t, *limit), (&tag(b"A1"), 8 * 1024));
            assert_eq!(preview, "A1 LOGIN <redacted>");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(out[1], msg(b"A2 NOOP\r\n"));
}

#[test]
fn too_long_line_ending_with_a_non_sync_literal_keeps_sync() {
    let mut input = b"A1 APPEND INBOX \"".to_vec();
    input.extend(std::iter::repeat_n(b'x', 10_000));
    input.extend_from_slice(b"{3+}\" {4+}\r\n{5}\r\r\nA2 NOOP\r\n");
    let mut framer = Framer::server();
    let got = feed(&mut framer, &input, Chunking::Every(3), &yes);
    assert!(
        matches!(got[0], Err(FramingError::LineTooLong { limit: 8192, .. })),
        "{got:?}"
    );
    assert_eq!(got[1..], [msg(b"A2 NOOP\r\n")]);
}

#[test]
fn line_limit_follows_authentication() {
    let long = format!("A1 SELECT {}\r\n", "x".repeat(10_000));
    let mut framer = Framer::server();
    let got = feed(&mut framer, long.as_bytes(), Chunking::Every(512), &yes);
    assert!(matches!(
        got[..],
        [Err(FramingError::LineTooLong { limit: 8192, .. })]
    ));
    framer.set_authenticated(true);
    assert!(framer.is_authenticated());
    let got = feed(&mut framer, long.as_bytes(), Chunking::Every(512), &yes);
    assert!(matches!(&got[..], [Ok(Frame::Message(m))] if m.len() == long.len()));
}

#[test]
fn line_limit_counts_the_crlf() {
    let mut config = FramerConfig::server();
    config.before_auth.max_line = 10;
    let make = || Framer::new(config.clone());
    every_chunking(&make, b"A1 NOOPX\r\n", &yes, &[msg(b"A1 NOOPX\r\n")]);
    let mut framer = make();
    let got = feed(
        &mut framer,
        b"A1 NOOPXY\r\nA2 NOOP\r\n",
        Chunking::ByteByByte,
        &yes,
    );
    assert!(matches!(
        got[0],
        Err(FramingError::LineTooLong { limit: 10, .. })
    ));
    assert_eq!(got[1..], [msg(b"A2 NOOP\r\n")]);
}

#[test]
fn message_and_literal_count_limits() {
    let mut config = FramerConfig::server();
    config.before_auth.max_literals = 2;
    let mut framer = Framer::new(config);
    let got = feed(
        &mut framer,
        b"A1 X {1+}\r\na {1+}\r\nb {1+}\r\nc\r\nA2 NOOP\r\n",
        Chunking::ByteByByte,
        &yes,
    );
    assert_eq!(
        got[2..],
        [
            Err(FramingError::TooManyLiterals {
                tag: tag(b"A1"),
                limit: 2,
            }),
            msg(b"A2 NOOP\r\n"),
        ]
    );

    let mut config = FramerConfig::server();
    config.before_auth.max_message = 40;
    let mut framer = Framer::new(config);
    let got = feed(
        &mut framer,
        b"A1 X {30}\r\nA2 X {10+}\r\n0123456789 {20+}\r\n01234567890123456789\r\nA3 NOOP\r\n",
        Chunking::ByteByByte,
        &|_| false,
    );
    assert_eq!(
        got,
        [
            Err(FramingError::MessageTooLarge {
                tag: tag(b"A1"),
                limit: 40,
                preview: "A1 X {30}\\r\\n".into(),
            }),
            announced(Some(b"A2"), 10, true, false),
            Err(FramingError::MessageTooLarge {
                tag: tag(b"A2"),
                limit: 40,
                preview: "A2 X {10+}\\r\\n0123456789 {20+}\\r\\n".into(),
            }),
            msg(b"A3 NOOP\r\n"),
        ]
    );
}

#[test]
fn tags_are_checked() {
    let mut framer = Framer::server();
    let long_tag = format!("{} NOOP\r\nA2 NOOP\r\n", "t".repeat(65));
    let got = feed(&mut framer, long_tag.as_bytes(), Chunking::ByteByByte, &yes);
    assert!(matches!(
        got[0],
        Err(FramingError::TagTooLong { limit: 64, .. })
    ));
    assert_eq!(got[1..], [msg(b"A2 NOOP\r\n")]);

    let ok_tag = format!("{} NOOP\r\n", "t".repeat(64));
    let got = feed(&mut framer, ok_tag.as_bytes(), Chunking::ByteByByte, &yes);
    assert!(matches!(got[..], [Ok(Frame::Message(_))]));

    for bad in [
        &b"+1 NOOP\r\n"[..],
        b"* NOOP\r\n",
        b"\r\n",
        b" NOOP\r\n",
        b"a\"b NOOP\r\n",
        b"a{1} NOOP\r\n",
    ] {
        let mut framer = Framer::server();
        let mut input = bad.to_vec();
        input.extend_from_slice(b"A2 NOOP\r\n");
        let got = feed(&mut framer, &input, Chunking::ByteByByte, &yes);
        assert!(
            matches!(got[0], Err(FramingError::InvalidTag { .. })),
            "{bad:?}: {got:?}"
        );
        assert_eq!(got[1..], [msg(b"A2 NOOP\r\n")], "{bad:?}");
    }
    // A one-token line is its own tag (IDLE's DONE).
    every_chunking(&Framer::server, b"DONE\r\n", &yes, &[msg(b"DONE\r\n")]);
    // An invalid tag on a line announcing a non-synchronizing literal: the literal is skipped.
    let mut framer = Framer::server();
    let got = feed(
        &mut framer,
        b"a\\b LOGIN {4+}\r\nA9 X\r\nA2 NOOP\r\n",
        Chunking::Whole,
        &yes,
    );
    assert_eq!(got[1..], [msg(b"A2 NOOP\r\n")]);
}

#[test]
fn buffer_is_bounded_while_a_decision_is_pending() {
    let mut config = FramerConfig::server();
    config.max_buffered = 16;
    let mut framer = Framer::new(config);
    framer.push(b"A1 LOGIN {5}\r\n").unwrap();
    assert_eq!(framer.next_frame(), Some(sync_announced(b"A1", 5)));
    assert!(framer.is_awaiting_decision());
    assert_eq!(framer.next_frame(), None);
    framer.push(b"0123456789").unwrap();
    let held = framer.buffered();
    assert_eq!(
        framer.push(b"0123456789"),
        Err(FramingError::BufferFull { limit: 16 })
    );
    assert_eq!(framer.buffered(), held);
    framer.accept_literal().unwrap();
    assert_eq!(framer.accept_literal(), Err(NoPendingLiteral));
    assert_eq!(framer.reject_literal(), Err(NoPendingLiteral));
}

// ----- binary literals, NUL, CR and LF ----------------------------------------------------------

#[test]
fn nul_bytes_only_in_binary_literals() {
    let input = b"A1 APPEND INBOX ~{4}\r\n\0\r\n\0\r\nA2 APPEND INBOX ~{3+}\r\n\0\0\0\r\n";
    every_chunking(
        &authenticated_server,
        input,
        &yes,
        &[
            Ok(Frame::LiteralAnnounced {
                tag: tag(b"A1"),
                size: 4,
                non_sync: false,
                binary: true,
                needs_decision: true,
            }),
            msg(b"A1 APPEND INBOX ~{4}\r\n\0\r\n\0\r\n"),
            announced(Some(b"A2"), 3, true, true),
            msg(b"A2 APPEND INBOX ~{3+}\r\n\0\0\0\r\n"),
        ],
    );
    // In an ordinary literal (server side) and in a line: errors, and the next command is intact.
    let input = b"A1 APPEND INBOX {5+}\r\na\0b{1}\r\nA2 SELECT a\0b\r\nA3 NOOP\r\n";
    for chunking in Chunking::all(input.len()) {
        let mut framer = authenticated_server();
        let got = feed(&mut framer, input, chunking, &yes);
        assert_eq!(
            got,
            [
                announced(Some(b"A1"), 5, true, false),
                Err(FramingError::NulInLiteral { tag: tag(b"A1") }),
                Err(FramingError::NulInLine {
                    tag: tag(b"A2"),
                    preview: "A2 SELECT a\\x00".into(),
                }),
                msg(b"A3 NOOP\r\n"),
            ],
            "{chunking:?}"
        );
    }
    // Client side: NUL in ordinary literals is accepted by default.
    every_chunking(
        &Framer::client,
        b"* 1 FETCH (BODY[] {1}\r\n\0)\r\n",
        &yes,
        &[
            announced(None, 1, false, false),
            msg(b"* 1 FETCH (BODY[] {1}\r\n\0)\r\n"),
        ],
    );
}

#[test]
fn literals_carry_cr_and_lf() {
    every_chunking(
        &Framer::server,
        b"A1 LOGIN {4+}\r\n\r\r\n\n {1+}\r\n\n\r\n",
        &yes,
        &[
            announced(Some(b"A1"), 4, true, false),
            announced(Some(b"A1"), 1, true, false),
            msg(b"A1 LOGIN {4+}\r\n\r\r\n\n {1+}\r\n\n\r\n"),
        ],
    );
}

#[test]
fn strict_side_resyncs_at_the_next_crlf() {
    // A bare LF never ends a command: "A2 NOOP" is part of the broken line.
    let input = b"A1 NOOP\nA2 NOOP\r\nA3 NOOP\rA4 NOOP\r\nA5 NOOP\r\n";
    for chunking in Chunking::all(input.len()) {
        let mut framer = Framer::server();
        let got = feed(&mut framer, input, chunking, &yes);
        assert_eq!(
            got,
            [
                Err(FramingError::BareLf {
                    tag: tag(b"A1"),
                    preview: "A1 NOOP\\n".into(),
                }),
                Err(FramingError::BareCr {
                    tag: tag(b"A3"),
                    preview: "A3 NOOP\\r".into(),
                }),
                msg(b"A5 NOOP\r\n"),
            ],
            "{chunking:?}"
        );
    }
    // The client side is strict too unless the quirk is on.
    let mut framer = Framer::client();
    let got = feed(&mut framer, b"* OK x\n* OK y\r\n", Chunking::Whole, &yes);
    assert!(matches!(got[..], [Err(FramingError::BareLf { .. })]));
}

#[test]
fn bare_lf_quirk_normalizes_client_messages() {
    let mut config = FramerConfig::client();
    config.bare_lf_line_end = true;
    every_chunking(
        &|| Framer::new(config.clone()),
        b"* OK x\n* 1 FETCH (BODY[] {3}\na\nb)\nA1 OK done\r\n",
        &yes,
        &[
            msg(b"* OK x\r\n"),
            announced(None, 3, false, false),
            msg(b"* 1 FETCH (BODY[] {3}\r\na\nb)\r\n"),
            msg(b"A1 OK done\r\n"),
        ],
    );
    // The quirk is a client option only.
    let mut config = FramerConfig::server();
    config.bare_lf_line_end = true;
    let mut framer = Framer::new(config);
    let got = feed(&mut framer, b"A1 NOOP\n", Chunking::Whole, &yes);
    assert!(matches!(got[..], [Err(FramingError::BareLf { .. })]));
}

// ----- continuation lines, redaction, cost -----------------------------------------------------

#[test]
fn sasl_continuation_lines_are_framed_raw_and_redacted() {
    let mut framer = Framer::server();
    let mut out = Vec::new();
    framer
        .push(b"A1 AUTHENTICATE PLAIN\r\nAGFsaWNlAHMzY3JldA+/{5}\r\nA2 NOOP\r\n")
        .unwrap();
    let first = framer.next_frame();
    assert_eq!(first, Some(msg(b"A1 AUTHENTICATE PLAIN\r\n")));
    framer.expect_continuation_line();
    drain(&mut framer, &mut out, &yes);
    assert_eq!(
        out,
        [msg(b"AGFsaWNlAHMzY3JldA+/{5}\r\n"), msg(b"A2 NOOP\r\n")]
    );
    // And an error on such a line shows nothing of it.
    framer.expect_continuation_line();
    framer.push(b"AGFsaWNl\0AHMzY3JldA==\r\n").unwrap();
    match framer.next_frame() {
        Some(Err(FramingError::NulInLine { tag: None, preview })) => {
            assert!(!preview.contains("AGFs"), "{preview}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn previews_redact_credentials() {
    assert_eq!(
        redacted_preview(b"a LOGIN {5}\r\nalice {6}\r\nsecret\r\n"),
        "a LOGIN <redacted>"
    );
    assert_eq!(
        redacted_preview(b"a authenticate plain\r\n"),
        "a authenticate plain"
    );
    assert_eq!(
        redacted_preview(b"a LOGIN\r\n"),
        "a LOGIN\\r\\n".replace("\\r\\n", "")
    );
    let long = redacted_preview(&[b'x'; 100]);
    assert!(long.ends_with('…') && long.len() < 100);
    let mut framer = Framer::server();
    let got = feed(
        &mut framer,
        b"A1 LOGIN alice hunt\ner2\r\n",
        Chunking::Whole,
        &yes,
    );
    let shown = format!("{got:?}");
    assert!(
        !shown.contains("hunt") && !shown.contains("alice"),
        "{shown}"
    );
    let got = feed(
        &mut framer,
        b"A1 LOGIN {5+}\r\nalice hunter2\r\n",
        Chunking::Whole,
        &yes,
    );
    let shown = format!("{got:?} {framer:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn byte_by_byte_is_linear() {
    // 1 MiB line parts and literal fed one byte at a time: a rescan from the start on every
    // byte would take minutes.
    let mut config = FramerConfig::server();
    config.after_auth.max_line = 2 << 20;
    let mut framer = Framer::new(config);
    framer.set_authenticated(true);
    let mut input = b"A1 APPEND INBOX \"".to_vec();
    input.extend(std::iter::repeat_n(b'q', 1 << 20));
    input.extend_from_slice(b"\" {65536}\r\n");
    input.extend(std::iter::repeat_n(b'\n', 1 << 16));
    input.extend_from_slice(b"\r\n");
    let got = feed(&mut framer, &input, Chunking::ByteByByte, &yes);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(matches!(&got[1], Ok(Frame::Message(m)) if m.len() == input.len()));
}

#[test]
fn is_idle_only_between_messages() {
    let mut framer = Framer::server();
    assert!(framer.is_idle());
    framer.push(b"A1 STARTTLS\r\nA2 NOOP").unwrap();
    assert_eq!(framer.next_frame(), Some(msg(b"A1 STARTTLS\r\n")));
    assert!(!framer.is_idle(), "injected bytes after STARTTLS are held");
}

#[test]
fn debug_never_shows_message_bytes() {
    let mut framer = Framer::server();
    framer.expect_continuation_line();
    framer.push(b"AGFsaWNlAHMzY3JldA==\r\n").unwrap();
    let frame = framer.next_frame();
    let shown = format!("{frame:?} {framer:?}");
    assert!(!shown.contains("AGFs"), "{shown}");
    assert!(shown.contains("len: 22"), "{shown}");
}

#[test]
fn refused_non_sync_literals_resync_under_every_chunking() {
    let mut config = FramerConfig::server();
    config.max_non_sync_literal = Some(4);
    every_chunking(
        &|| Framer::new(config.clone()),
        b"A1 APPEND x {6+}\r\nA9 X\r\n {2+}\r\nzz\r\nA2 NOOP\r\nA3 LOGIN {4+}\r\n{1}\n\r\n",
        &|_| panic!("no synchronizing literal here"),
        &[
            Err(FramingError::NonSyncLiteralRefused {
                tag: tag(b"A1"),
                size: 6,
                limit: Some(4),
            }),
            msg(b"A2 NOOP\r\n"),
            announced(Some(b"A3"), 4, true, false),
            msg(b"A3 LOGIN {4+}\r\n{1}\n\r\n"),
        ],
    );
}

#[test]
fn discarding_byte_by_byte_is_linear() {
    // A 1 MiB too-long line, fed one byte at a time, ending with a non-synchronizing literal
    // that must still be recognized and skipped.
    let mut input = b"A1 APPEND INBOX ".to_vec();
    input.extend(std::iter::repeat_n(b'q', 1 << 20));
    input.extend_from_slice(b" {3+}\r\nA9 \r\nA2 NOOP\r\n");
    let mut framer = Framer::server();
    let got = feed(&mut framer, &input, Chunking::ByteByByte, &yes);
    assert!(matches!(
        got[0],
        Err(FramingError::LineTooLong { limit: 8192, .. })
    ));
    assert_eq!(got[1..], [msg(b"A2 NOOP\r\n")]);
    assert!(framer.capacity() < 64 * 1024, "{}", framer.capacity());
}

#[test]
fn push_bytes_frames_from_the_callers_chunks() {
    // Responses with literals, cut every 100 bytes: messages inside a chunk are slices of it,
    // a message spanning chunks is joined into a buffer holding about that message only.
    let mut input = Vec::new();
    for n in 0..200 {
        input.extend_from_slice(format!("* {n} FETCH (UID {n} FLAGS (\\Seen))\r\n").as_bytes());
        if n % 3 == 0 {
            input.extend_from_slice(b"* 1 FETCH (BODY[] {40}\r\n");
            input.extend_from_slice(&[b'x'; 40]);
            input.extend_from_slice(b" UID 9)\r\n");
        }
    }
    let all = Bytes::from(input.clone());
    let range = all.as_ptr() as usize..all.as_ptr() as usize + all.len();
    let mut framer = Framer::client();
    let (mut messages, mut shared) = (Vec::new(), 0);
    for start in (0..all.len()).step_by(100) {
        framer
            .push_bytes(all.slice(start..(start + 100).min(all.len())))
            .unwrap();
        while let Some(frame) = framer.next_frame() {
            if let Frame::Message(m) = frame.unwrap() {
                if range.contains(&(m.as_ptr() as usize)) {
                    shared += 1;
                }
                messages.push(m);
            }
            assert!(framer.capacity() <= 256, "{}", framer.capacity());
        }
    }
    assert!(framer.is_idle());
    assert_eq!(messages.concat(), input);
    assert!(
        shared > messages.len() / 2,
        "{shared} of {}",
        messages.len()
    );
    // The same framing as `push`.
    let mut copying = Framer::client();
    copying.push(&input).unwrap();
    let copied: Vec<Bytes> = std::iter::from_fn(|| copying.next_frame())
        .filter_map(|f| match f.unwrap() {
            Frame::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(copied, messages);
}

#[test]
fn push_bytes_is_bounded_while_a_decision_is_pending() {
    let mut framer = Framer::server();
    framer
        .push_bytes(Bytes::from_static(b"A1 APPEND INBOX {10}\r\n"))
        .unwrap();
    assert_eq!(framer.next_frame(), Some(sync_announced(b"A1", 10)));
    let max = FramerConfig::server().max_buffered;
    framer.push_bytes(Bytes::from(vec![b'a'; max - 1])).unwrap();
    let err = framer.push_bytes(Bytes::from_static(b"ab")).unwrap_err();
    assert_eq!(err, FramingError::BufferFull { limit: max });
    assert_eq!(framer.unexamined(), max - 1);
    assert!(framer.next_frame().is_none());
}
