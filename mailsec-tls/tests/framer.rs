//! The line framer under every chunking: whole, byte by byte, split at every offset (inside
//! CRLF too), and random chunkings checked against a reference model.

use bytes::Bytes;
use mailsec_tls::framer::{FrameError, LineFramer};
use proptest::prelude::*;

/// What a drive loop saw, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Line(Vec<u8>),
    Error(FrameError),
    /// Raw bytes of a literal, joined however many `take_raw` calls they took.
    Raw(Vec<u8>),
}

fn line(s: &str) -> Item {
    Item::Line(s.as_bytes().to_vec())
}

/// The announced literal length at the end of a line (`… {n}`), IMAP style.
fn literal_len(line: &[u8]) -> Option<usize> {
    let open = line.iter().rposition(|&b| b == b'{')?;
    let digits = line.strip_suffix(b"}")?.get(open + 1..)?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Drives a framer the way a protocol machine does: push a chunk, then drain. A line ending in
/// `{n}` is followed by `n` raw bytes when `literals` is set.
fn drive<'a>(
    framer: &mut LineFramer,
    chunks: impl IntoIterator<Item = &'a [u8]>,
    literals: bool,
) -> Vec<Item> {
    let mut items = Vec::new();
    let mut raw_left = 0;
    for chunk in chunks {
        framer.push(chunk).expect("within the buffer limit");
        loop {
            if raw_left > 0 {
                let raw = framer.take_raw(raw_left);
                if raw.is_empty() {
                    break;
                }
                raw_left -= raw.len();
                match items.last_mut() {
                    Some(Item::Raw(bytes)) => bytes.extend_from_slice(&raw),
                    _ => unreachable!("a Raw item is pushed when the literal is announced"),
                }
                continue;
            }
            match framer.next_line() {
                None => break,
                Some(Ok(l)) => {
                    check_line(framer, &l);
                    let announced = if literals { literal_len(&l) } else { None };
                    items.push(Item::Line(l.to_vec()));
                    if let Some(n) = announced.filter(|&n| n > 0) {
                        raw_left = n;
                        items.push(Item::Raw(Vec::new()));
                    }
                }
                Some(Err(e)) => items.push(Item::Error(e)),
            }
            assert!(framer.buffered() <= framer.max_buffered());
        }
    }
    items
}

fn check_line(framer: &LineFramer, l: &Bytes) {
    assert!(!l.contains(&b'\r') && !l.contains(&b'\n'), "{l:?}");
    assert!(
        l.len() + 2 <= framer.max_line(),
        "{} > {}",
        l.len() + 2,
        framer.max_line()
    );
}

/// Every chunking a test input gets: whole, byte by byte, and cut once at every offset.
fn chunkings(input: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut all = vec![vec![input], input.chunks(1).collect()];
    for cut in 1..input.len() {
        let (a, b) = input.split_at(cut);
        all.push(vec![a, b]);
    }
    all
}

/// Runs `input` through a fresh framer under every chunking, asserts that they all agree, and
/// returns what they saw.
fn frame(max_line: usize, input: &[u8], literals: bool) -> Vec<Item> {
    let mut seen: Option<Vec<Item>> = None;
    for chunks in chunkings(input) {
        let cuts: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        let items = drive(&mut LineFramer::new(max_line), chunks, literals);
        match &seen {
            None => seen = Some(items),
            Some(first) => assert_eq!(&items, first, "chunk sizes {cuts:?}"),
        }
    }
    seen.unwrap_or_default()
}

#[test]
fn pipelined_lines() {
    let input = b"EHLO client.example\r\nMAIL FROM:<a@example>\r\nRCPT TO:<b@example>\r\nDATA\r\n";
    assert_eq!(
        frame(512, input, false),
        [
            line("EHLO client.example"),
            line("MAIL FROM:<a@example>"),
            line("RCPT TO:<b@example>"),
            line("DATA"),
        ]
    );
}

#[test]
fn empty_lines() {
    assert_eq!(
        frame(512, b"\r\n\r\nx\r\n\r\n", false),
        [line(""), line(""), line("x"), line("")]
    );
}

#[test]
fn incomplete_line_waits() {
    assert_eq!(frame(512, b"NOOP\r\nQUI", false), [line("NOOP")]);
    let mut framer = LineFramer::new(512);
    framer.push(b"NOOP\r\nQUI").unwrap();
    framer.next_line();
    assert_eq!(framer.next_line(), None);
    assert_eq!(framer.buffered(), 3);
}

#[test]
fn bare_lf_is_an_error_and_framing_goes_on() {
    assert_eq!(
        frame(
            512,
            b"MAIL FROM:<a@example>\nRCPT TO:<b@example>\r\n",
            false
        ),
        [Item::Error(FrameError::BareLf), line("RCPT TO:<b@example>"),]
    );
    assert_eq!(
        frame(512, b"\n\n\r\n", false),
        [
            Item::Error(FrameError::BareLf),
            Item::Error(FrameError::BareLf),
            line(""),
        ]
    );
}

#[test]
fn bare_cr_is_an_error_and_framing_goes_on() {
    assert_eq!(
        frame(512, b"a\rb\r\nc\r\n", false),
        [Item::Error(FrameError::BareCr), line("c")]
    );
    assert_eq!(
        frame(512, b"\rNOOP\r\n", false),
        [Item::Error(FrameError::BareCr)]
    );
}

#[test]
fn cr_cr_lf_is_a_bare_cr() {
    assert_eq!(
        frame(512, b"NOOP\r\r\nQUIT\r\n", false),
        [Item::Error(FrameError::BareCr), line("QUIT"),]
    );
    assert_eq!(
        frame(512, b"\r\r\n", false),
        [Item::Error(FrameError::BareCr)]
    );
}

/// CVE-2023-51764: `\n.\n` and `\r.\r` must never end DATA; they never even make a line.
#[test]
fn smtp_smuggling_sequences_never_make_lines() {
    let input = b"Subject: x\r\n\r\nbody\n.\nMAIL FROM:<evil@example>\r\n.\r\n";
    assert_eq!(
        frame(1000, input, false),
        [
            line("Subject: x"),
            line(""),
            Item::Error(FrameError::BareLf),
            Item::Error(FrameError::BareLf),
            line("MAIL FROM:<evil@example>"),
            line("."),
        ]
    );
    assert_eq!(
        frame(1000, b"body\r.\rMAIL FROM:<evil@example>\r\n.\r\n", false),
        [Item::Error(FrameError::BareCr), line("."),]
    );
    assert_eq!(
        frame(1000, b"body\r\n.\nRCPT\r\n", false),
        [line("body"), Item::Error(FrameError::BareLf), line("RCPT"),]
    );
}

#[test]
fn cr_at_chunk_end_waits_for_more() {
    let mut framer = LineFramer::new(512);
    framer.push(b"NOOP\r").unwrap();
    assert_eq!(framer.next_line(), None);
    framer.push(b"\n").unwrap();
    assert_eq!(framer.next_line(), Some(Ok(Bytes::from_static(b"NOOP"))));

    // …and becomes a bare CR when what follows is not a LF.
    framer.push(b"NOOP\r").unwrap();
    assert_eq!(framer.next_line(), None);
    framer.push(b"X\r\n").unwrap();
    assert_eq!(framer.next_line(), Some(Err(FrameError::BareCr)));
    assert!(framer.is_empty());
}

#[test]
fn line_limit_counts_the_crlf() {
    // 8 octets with CRLF: fits; 9: too long.
    assert_eq!(
        frame(8, b"123456\r\n1234567\r\nok\r\n", false),
        [
            line("123456"),
            Item::Error(FrameError::LineTooLong { limit: 8 }),
            line("ok"),
        ]
    );
    // The LF exactly one past the limit.
    assert_eq!(
        frame(8, b"1234567\r\n", false),
        [Item::Error(FrameError::LineTooLong { limit: 8 })]
    );
}

#[test]
fn long_line_then_good_line_resyncs() {
    let mut input = vec![b'A'; 5000];
    input.extend_from_slice(b"\r\nQUIT\r\n");
    assert_eq!(
        frame(512, &input, false),
        [
            Item::Error(FrameError::LineTooLong { limit: 512 }),
            line("QUIT"),
        ]
    );
    // A too-long line ended by a bare LF is still one error.
    let mut input = vec![b'A'; 600];
    input.extend_from_slice(b"\nQUIT\r\n");
    assert_eq!(
        frame(512, &input, false),
        [
            Item::Error(FrameError::LineTooLong { limit: 512 }),
            line("QUIT"),
        ]
    );
}

#[test]
fn long_line_is_reported_before_its_lf() {
    let mut framer = LineFramer::new(512);
    framer.push(&[b'A'; 511]).unwrap();
    assert_eq!(framer.next_line(), None);
    framer.push(b"A").unwrap();
    assert_eq!(
        framer.next_line(),
        Some(Err(FrameError::LineTooLong { limit: 512 }))
    );
    assert_eq!(framer.next_line(), None);
}

#[test]
fn discarding_crosses_chunks_and_buffers_nothing() {
    let mut framer = LineFramer::new(512).with_max_buffered(1024);
    framer.push(&[b'A'; 600]).unwrap();
    assert_eq!(
        framer.next_line(),
        Some(Err(FrameError::LineTooLong { limit: 512 }))
    );
    assert!(framer.is_discarding());
    let capacity = framer.capacity();
    // 10 MiB more of the same line, in chunks bigger than the buffer limit: all dropped.
    let chunk = vec![b'B'; 4096];
    for _ in 0..2560 {
        framer.push(&chunk).unwrap();
        assert_eq!(framer.buffered(), 0);
        assert_eq!(framer.next_line(), None);
    }
    assert_eq!(framer.capacity(), capacity);
    framer.push(b"BBB\r").unwrap();
    framer.push(b"\nNOOP\r").unwrap();
    assert!(!framer.is_discarding());
    assert_eq!(framer.buffered(), 5);
    framer.push(b"\n").unwrap();
    assert_eq!(framer.next_line(), Some(Ok(Bytes::from_static(b"NOOP"))));
}

#[test]
fn huge_push_is_refused_without_allocating() {
    let mut framer = LineFramer::new(512);
    framer.push(b"EHLO a\r\nMAIL").unwrap();
    let before = framer.capacity();
    let flood = vec![b'x'; 100 << 20];
    assert_eq!(
        framer.push(&flood),
        Err(FrameError::BufferFull { limit: 64 * 1024 })
    );
    assert_eq!(framer.capacity(), before, "nothing reserved");
    assert_eq!(framer.buffered(), 12, "nothing taken");
    // The framer is intact: what was there still frames.
    framer.push(b" FROM:<>\r\n").unwrap();
    assert_eq!(framer.next_line(), Some(Ok(Bytes::from_static(b"EHLO a"))));
    assert_eq!(
        framer.next_line(),
        Some(Ok(Bytes::from_static(b"MAIL FROM:<>")))
    );
}

#[test]
fn buffer_limit_is_exact() {
    let mut framer = LineFramer::new(512).with_max_buffered(10);
    framer.push(b"0123456").unwrap();
    assert_eq!(framer.remaining(), 3);
    assert_eq!(
        framer.push(b"7890"),
        Err(FrameError::BufferFull { limit: 10 })
    );
    framer.push(b"7\r\n").unwrap();
    assert_eq!(framer.buffered(), 10);
    assert_eq!(
        framer.next_line(),
        Some(Ok(Bytes::from_static(b"01234567")))
    );
    assert_eq!(framer.remaining(), 10);
}

#[test]
fn pipelined_input_beyond_the_buffer_limit_is_refused() {
    let mut framer = LineFramer::new(512).with_max_buffered(64 * 1024);
    let pipeline = b"RSET\r\n".repeat(20_000); // 120 000 octets in one read
    assert_eq!(
        framer.push(&pipeline),
        Err(FrameError::BufferFull { limit: 64 * 1024 })
    );
    assert!(framer.is_empty());
}

#[test]
fn take_raw_mixes_with_lines() {
    let input = b"a1 LOGIN {5}\r\nal\r\nc {0}\r\na2 APPEND x {3}\r\n\r\n\na3 NOOP\r\n";
    assert_eq!(
        frame(64, input, true),
        [
            line("a1 LOGIN {5}"),
            Item::Raw(b"al\r\nc".to_vec()),
            line(" {0}"),
            line("a2 APPEND x {3}"),
            Item::Raw(b"\r\n\n".to_vec()),
            line("a3 NOOP"),
        ]
    );
}

#[test]
fn take_raw_takes_what_is_there() {
    let mut framer = LineFramer::new(64);
    assert_eq!(framer.take_raw(10), Bytes::new());
    framer.push(b"abc").unwrap();
    assert_eq!(framer.take_raw(0), Bytes::new());
    assert_eq!(framer.take_raw(2), Bytes::from_static(b"ab"));
    assert_eq!(framer.take_raw(usize::MAX), Bytes::from_static(b"c"));
    assert!(framer.is_empty());
}

#[test]
fn raw_bytes_are_not_line_checked() {
    // A BDAT chunk may hold anything, a bare LF included.
    let mut framer = LineFramer::new(16);
    framer.push(b"BDAT 7 LAST\r\nx\ny\rz\n").unwrap();
    assert_eq!(
        framer.next_line(),
        Some(Ok(Bytes::from_static(b"BDAT 7 LAST")))
    );
    assert_eq!(framer.take_raw(7), Bytes::from_static(b"x\ny\rz\n"));
    assert_eq!(framer.next_line(), None);
}

#[test]
fn starttls_cut_check() {
    let mut framer = LineFramer::new(512);
    framer.push(b"STARTTLS\r\n").unwrap();
    assert_eq!(
        framer.next_line(),
        Some(Ok(Bytes::from_static(b"STARTTLS")))
    );
    assert_eq!(framer.buffered(), 0, "clean cut");

    let mut framer = LineFramer::new(512);
    framer.push(b"STARTTLS\r\nRSET\r\n").unwrap();
    assert_eq!(
        framer.next_line(),
        Some(Ok(Bytes::from_static(b"STARTTLS")))
    );
    assert_ne!(framer.buffered(), 0, "injection detected");

    // Even a partial command or a lone CR counts.
    let mut framer = LineFramer::new(512);
    framer.push(b"STARTTLS\r\n\r").unwrap();
    assert_eq!(
        framer.next_line(),
        Some(Ok(Bytes::from_static(b"STARTTLS")))
    );
    assert_eq!(framer.next_line(), None);
    assert_eq!(framer.buffered(), 1);
}

#[test]
fn limit_raised_after_login() {
    let long = format!("a2 SELECT {}\r\n", "x".repeat(9000));
    let mut framer = LineFramer::new(8192);
    framer.push(long.as_bytes()).unwrap();
    assert_eq!(
        framer.next_line(),
        Some(Err(FrameError::LineTooLong { limit: 8192 }))
    );
    framer.set_max_line(64 * 1024);
    framer.push(long.as_bytes()).unwrap();
    assert_eq!(framer.next_line().unwrap().unwrap().len(), long.len() - 2);
}

#[test]
fn clear_drops_everything() {
    let mut framer = LineFramer::new(8);
    framer.push(b"0123456789").unwrap();
    assert!(framer.next_line().unwrap().is_err());
    framer.clear();
    assert!(framer.is_empty() && !framer.is_discarding());
    framer.push(b"ok\r\n").unwrap();
    assert_eq!(framer.next_line(), Some(Ok(Bytes::from_static(b"ok"))));
}

/// Byte-at-a-time delivery of a long line stays linear: a rescan on every byte would make this
/// 2^37 byte comparisons.
#[test]
fn byte_at_a_time_is_linear() {
    let n = 512 * 1024;
    let mut framer = LineFramer::new(n + 2).with_max_buffered(n + 2);
    let input = vec![b'x'; n];
    for byte in input.chunks(1) {
        framer.push(byte).unwrap();
        assert_eq!(framer.next_line(), None);
    }
    framer.push(b"\r\n").unwrap();
    assert_eq!(framer.next_line().unwrap().unwrap().len(), n);
}

/// Lines are split off the buffer, not copied.
#[test]
fn lines_share_the_buffer() {
    let mut framer = LineFramer::new(64);
    framer.push(b"one\r\ntwo\r\n").unwrap();
    let one = framer.next_line().unwrap().unwrap();
    let two = framer.next_line().unwrap().unwrap();
    assert_eq!(one.as_ptr().wrapping_add(5), two.as_ptr());
}

/// The specification, written as plainly as possible over the whole input.
fn reference(max_line: usize, mut input: &[u8]) -> Vec<Item> {
    let mut items = Vec::new();
    loop {
        match input.iter().position(|&b| b == b'\n') {
            Some(lf) if lf < max_line => {
                let l = &input[..lf];
                items.push(match l.split_last() {
                    Some((b'\r', content)) if !content.contains(&b'\r') => {
                        Item::Line(content.to_vec())
                    }
                    Some((b'\r', _)) => Item::Error(FrameError::BareCr),
                    _ => Item::Error(FrameError::BareLf),
                });
                input = &input[lf + 1..];
            }
            Some(lf) => {
                items.push(Item::Error(FrameError::LineTooLong { limit: max_line }));
                input = &input[lf + 1..];
            }
            None if input.len() >= max_line => {
                items.push(Item::Error(FrameError::LineTooLong { limit: max_line }));
                return items;
            }
            None => return items,
        }
    }
}

fn split_by<'a>(input: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut rest = input;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at(size.clamp(1, rest.len()));
        chunks.push(a);
        rest = b;
    }
    chunks
}

proptest! {
    #[test]
    fn valid_lines_come_back_exactly(
        lines in prop::collection::vec(
            prop::collection::vec(any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'), 0..100),
            0..40,
        ),
        sizes in prop::collection::vec(1usize..64, 1..16),
    ) {
        let mut input = Vec::new();
        for l in &lines {
            input.extend_from_slice(l);
            input.extend_from_slice(b"\r\n");
        }
        let items = drive(&mut LineFramer::new(102), split_by(&input, &sizes), false);
        let expected: Vec<Item> = lines.into_iter().map(Item::Line).collect();
        prop_assert_eq!(items, expected);
    }

    #[test]
    fn any_input_any_chunking_matches_the_reference(
        input in prop::collection::vec(prop::sample::select(&b"ab\r\n"[..]), 0..300),
        max_line in 2usize..24,
        sizes in prop::collection::vec(1usize..32, 1..8),
    ) {
        let mut framer = LineFramer::new(max_line).with_max_buffered(64);
        let items = drive(&mut framer, split_by(&input, &sizes), false);
        prop_assert_eq!(items, reference(max_line, &input));
    }
}
