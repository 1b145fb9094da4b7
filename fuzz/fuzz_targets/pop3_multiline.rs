//! The streaming multi-line decoder fed arbitrary bytes in arbitrary chunks.
//!
//! Input layout: byte 0 picks strict or tolerant mode and the line limit, byte 1 seeds the
//! chunk sizes; the rest is the stream. Invariants: no panic; chunking never changes the
//! outcome (same body and consumed count, or the same error); nothing after the terminator is
//! consumed; in strict mode the body re-encodes to exactly the bytes consumed, and in both
//! modes encoding a strict body and decoding it again gives it back.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use mailsec_pop3::MultilineError;
use mailsec_pop3::multiline::{BareLineEndings, MultilineDecoder, MultilineEncoder};

fn run(
    mut dec: MultilineDecoder,
    input: &[u8],
    mut seed: u8,
) -> Result<(Vec<u8>, usize, bool), MultilineError> {
    let mut body = Vec::new();
    let mut at = 0;
    while at < input.len() && !dec.is_done() {
        let size = if seed == 0 {
            input.len()
        } else {
            seed ^= seed << 3;
            seed ^= seed >> 5;
            seed ^= seed << 1;
            usize::from(seed % 32) + 1
        };
        let chunk = Bytes::copy_from_slice(&input[at..(at + size).min(input.len())]);
        let used = dec.feed(&chunk, |c| body.extend_from_slice(&c))?;
        assert!(used <= chunk.len());
        if used < chunk.len() {
            assert!(dec.is_done(), "stopped early without the terminator");
        }
        at += used;
    }
    assert_eq!(dec.body_len(), body.len() as u64);
    Ok((body, at, dec.is_done()))
}

fuzz_target!(|data: &[u8]| {
    let [mode, seed, ref input @ ..] = *data else {
        return;
    };
    let tolerant = mode & 1 == 1;
    let max_line = usize::from(mode >> 1) + 3;
    let bare = if tolerant { BareLineEndings::Pass } else { BareLineEndings::Reject };
    let new = || {
        MultilineDecoder::new()
            .with_bare_line_endings(bare)
            .with_max_line(max_line)
    };
    let whole = run(new(), input, 0);
    let chunked = run(new(), input, seed | 1);
    match (&whole, &chunked) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("{whole:?} vs {chunked:?}"),
    }
    let Ok((body, used, true)) = whole else {
        return;
    };
    if tolerant {
        return;
    }
    let mut enc = MultilineEncoder::new();
    let mut wire = BytesMut::new();
    enc.encode(&body, &mut wire).expect("a strict body has only CRLF");
    enc.finish(&mut wire).unwrap();
    assert_eq!(&wire[..], &input[..used], "strict decoding is canonical");
    for mode in [BareLineEndings::Reject, BareLineEndings::Pass] {
        let again = run(MultilineDecoder::new().with_bare_line_endings(mode), &wire, seed);
        assert_eq!(again.unwrap(), (body.clone(), wire.len(), true));
    }
});
