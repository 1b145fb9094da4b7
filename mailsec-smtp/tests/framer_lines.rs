//! `CommandFramer::lines`: lines lent straight from the caller's input give the same lines
//! and errors as `push` followed by `next_line`, over every chunking, and hold only a partial
//! line between inputs.

use mailsec_smtp::framer::CommandFramer;
use mailsec_tls::framer::FrameError;

type Item = Option<Result<Vec<u8>, FrameError>>;

/// Everything framed from `chunks` with `push` + `next_line`, and the held count and discard
/// state after each chunk.
fn by_push(chunks: &[&[u8]], max_line: usize) -> Vec<(Vec<Item>, usize, bool)> {
    let mut f = CommandFramer::new(max_line).with_max_buffered(usize::MAX);
    chunks
        .iter()
        .map(|chunk| {
            f.push(chunk).unwrap();
            let mut items = Vec::new();
            loop {
                let item = f.next_line().map(|r| r.map(<[u8]>::to_vec));
                let end = item.is_none();
                items.push(item);
                if end {
                    break;
                }
            }
            (items, f.buffered(), f.is_discarding())
        })
        .collect()
}

/// The same with `lines`; checks that the input is used up at `None`.
fn by_lines(chunks: &[&[u8]], max_line: usize) -> Vec<(Vec<Item>, usize, bool)> {
    let mut f = CommandFramer::new(max_line).with_max_buffered(usize::MAX);
    chunks
        .iter()
        .map(|chunk| {
            let mut lines = f.lines(chunk);
            let mut items = Vec::new();
            loop {
                let item = lines.next_line().map(|r| r.map(<[u8]>::to_vec));
                let end = item.is_none();
                items.push(item);
                if end {
                    break;
                }
            }
            assert!(lines.rest().is_empty());
            (items, f.buffered(), f.is_discarding())
        })
        .collect()
}

fn agree(input: &[u8], max_line: usize) {
    for step in 1..=input.len().max(1) {
        let chunks: Vec<&[u8]> = input.chunks(step).collect();
        assert_eq!(
            by_lines(&chunks, max_line),
            by_push(&chunks, max_line),
            "{input:?} step {step} limit {max_line}"
        );
    }
    // Every split in two, the shape of a line across two reads.
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        let chunks = [a, b];
        assert_eq!(
            by_lines(&chunks, max_line),
            by_push(&chunks, max_line),
            "{input:?} split at {at} limit {max_line}"
        );
    }
}

#[test]
fn lends_what_push_and_next_line_give() {
    let inputs: [&[u8]; 10] = [
        b"EHLO a\r\nMAIL FROM:<>\r\nRCPT TO:<b@c>\r\n",
        b"a\nb\r\nc\rd\r\n\r\n\r\r\n",
        b"0123456789abcdef\r\nok\r\n",
        b"0123456789\r\n012345678\r\n01234567\r\nx",
        b"toolongtoolongtoolong and on\r\nafter\r\n",
        b"\r\n\n\r\r\r\n",
        b"",
        b"x\r\ny\r",
        b"toolongtoolongtoolong\rand on\nafter\r\nand\r\r\n\n",
        b"ab\r\n0123456789012\r\n\r\n",
    ];
    for input in inputs {
        for max_line in [2, 3, 5, 10, 11, 12, 512] {
            agree(input, max_line);
        }
    }
}

#[test]
fn a_line_split_across_two_inputs_is_joined() {
    let mut f = CommandFramer::new(512);
    let first = b"NOOP\r\nMAIL FROM:<a@exa";
    let mut lines = f.lines(first);
    let noop = lines.next_line().unwrap().unwrap();
    assert_eq!(noop, b"NOOP");
    // Lent from the input, not copied.
    assert_eq!(noop.as_ptr(), first.as_ptr());
    assert_eq!(lines.next_line(), None);
    assert_eq!(f.buffered(), 16);
    let second = b"mple.org>\r\nRSET\r\n";
    let mut lines = f.lines(second);
    assert_eq!(
        lines.next_line(),
        Some(Ok(&b"MAIL FROM:<a@example.org>"[..]))
    );
    // Only the held line's octets went through the framer.
    assert_eq!(lines.rest(), b"RSET\r\n");
    let rset = lines.next_line().unwrap().unwrap();
    assert_eq!(rset, b"RSET");
    assert_eq!(rset.as_ptr(), second[11..].as_ptr());
    assert_eq!(lines.next_line(), None);
    assert!(f.is_empty());
}

#[test]
fn a_crlf_split_between_cr_and_lf() {
    let mut f = CommandFramer::new(512);
    let mut lines = f.lines(b"QUIT\r");
    assert_eq!(lines.next_line(), None);
    assert_eq!(f.buffered(), 5);
    let mut lines = f.lines(b"\nNOOP\r");
    assert_eq!(lines.next_line(), Some(Ok(&b"QUIT"[..])));
    assert_eq!(lines.next_line(), None);
    let mut lines = f.lines(b"\n");
    assert_eq!(lines.next_line(), Some(Ok(&b"NOOP"[..])));
    assert_eq!(lines.next_line(), None);
    assert!(f.is_empty());
    // A CR that is not followed by LF is a bare CR, across inputs too.
    let mut lines = f.lines(b"AB\r");
    assert_eq!(lines.next_line(), None);
    let mut lines = f.lines(b"C\r\n");
    assert_eq!(lines.next_line(), Some(Err(FrameError::BareCr)));
    assert_eq!(lines.next_line(), None);
    assert!(f.is_empty());
}

#[test]
fn a_line_over_the_limit_is_dropped_through_its_lf() {
    let mut f = CommandFramer::new(10);
    // Within one input.
    let mut lines = f.lines(b"0123456789abc\r\nok\r\n");
    assert_eq!(
        lines.next_line(),
        Some(Err(FrameError::LineTooLong { limit: 10 }))
    );
    assert_eq!(lines.next_line(), Some(Ok(&b"ok"[..])));
    assert_eq!(lines.next_line(), None);
    // Across inputs: the rest is dropped as it arrives.
    let mut lines = f.lines(b"0123456789");
    assert_eq!(
        lines.next_line(),
        Some(Err(FrameError::LineTooLong { limit: 10 }))
    );
    assert_eq!(lines.next_line(), None);
    assert!(f.is_discarding() && f.is_empty());
    let mut lines = f.lines(b"still the long line");
    assert_eq!(lines.next_line(), None);
    assert!(f.is_discarding() && f.is_empty());
    let mut lines = f.lines(b"end\r\nnext\r\n");
    assert_eq!(lines.next_line(), Some(Ok(&b"next"[..])));
    assert_eq!(lines.next_line(), None);
    assert!(!f.is_discarding() && f.is_empty());
    // A held partial line that grows past the limit.
    let mut lines = f.lines(b"01234");
    assert_eq!(lines.next_line(), None);
    let mut lines = f.lines(b"56789xyz\r\nok\r\n");
    assert_eq!(
        lines.next_line(),
        Some(Err(FrameError::LineTooLong { limit: 10 }))
    );
    assert_eq!(lines.next_line(), Some(Ok(&b"ok"[..])));
    assert_eq!(lines.next_line(), None);
    assert!(f.is_empty());
    // Exactly the limit, CRLF included, is a line.
    let mut lines = f.lines(b"01234567\r\n");
    assert_eq!(lines.next_line(), Some(Ok(&b"01234567"[..])));
}

#[test]
fn the_bound_applies_to_what_is_held() {
    // Input longer than max_buffered is framed from the caller's slice: nothing to hold.
    let mut f = CommandFramer::new(512).with_max_buffered(8);
    let input = b"NOOP\r\nRSET\r\nHELP\r\nQUIT\r\n";
    assert!(input.len() > 8);
    let mut lines = f.lines(input);
    let mut got = Vec::new();
    while let Some(line) = lines.next_line() {
        got.push(line.unwrap().to_vec());
    }
    assert_eq!(got, [&b"NOOP"[..], b"RSET", b"HELP", b"QUIT"]);
    // A partial line within the bound is held; one over it is refused, once, and left in
    // `rest` for the caller.
    let mut lines = f.lines(b"NOOP\r\nMAIL FROM:<");
    assert_eq!(lines.next_line(), Some(Ok(&b"NOOP"[..])));
    assert_eq!(
        lines.next_line(),
        Some(Err(FrameError::BufferFull { limit: 8 }))
    );
    assert_eq!(lines.next_line(), None);
    assert_eq!(lines.rest(), b"MAIL FROM:<");
    assert!(f.is_empty());
    let mut lines = f.lines(b"RCPT");
    assert_eq!(lines.next_line(), None);
    assert_eq!(f.buffered(), 4);
    // Completing a held line never holds more than the line needs: a bound below the line
    // limit refuses the octets that would not fit.
    let mut lines = f.lines(b" TO:<a@b>\r\n");
    assert_eq!(
        lines.next_line(),
        Some(Err(FrameError::BufferFull { limit: 8 }))
    );
    assert_eq!(lines.next_line(), None);
    assert_eq!(lines.rest(), b" TO:<a@b>\r\n");
    assert_eq!(f.buffered(), 4);
}

#[test]
fn stopping_early_leaves_the_rest_with_the_caller() {
    let mut f = CommandFramer::new(512);
    let input = b"STARTTLS\r\n\x16\x03\x01 injected";
    let mut lines = f.lines(input);
    assert_eq!(lines.next_line(), Some(Ok(&b"STARTTLS"[..])));
    let rest = lines.rest();
    assert_eq!(rest, b"\x16\x03\x01 injected");
    // Nothing held: the STARTTLS cut sees exactly the octets after the line.
    assert!(f.is_empty());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// Input heavy in CR, LF and line octets, cut at arbitrary points.
    fn input() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
        (
            proptest::collection::vec(
                prop_oneof![
                    4 => Just(b'a'),
                    2 => Just(b'\r'),
                    2 => Just(b'\n'),
                    1 => Just(b' '),
                    1 => any::<u8>(),
                ],
                0..200,
            ),
            proptest::collection::vec(0usize..200, 0..8),
        )
    }

    proptest! {
        /// Any input, any cuts, any line limit: `lines` gives what `push` + `next_line` give,
        /// and holds the same partial line afterwards.
        #[test]
        fn lines_agree_with_push((data, cuts) in input(), max_line in 2usize..40) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([data.len()]) {
                chunks.push(&data[at..c]);
                at = c;
            }
            prop_assert_eq!(by_lines(&chunks, max_line), by_push(&chunks, max_line));
        }
    }
}
