//! The DATA decoder fed arbitrary bytes in arbitrary chunks, and the encoder→decoder identity.
//!
//! Input layout: byte 0 picks the size limit, byte 1 seeds the chunk sizes; the rest is the
//! stream. Invariants: no panic; the outcome (body, error, octets consumed) is the same for
//! one push and for the chunked run; the body never exceeds the limit and holds no bare CR or
//! LF when no error was reported; the data ends only just after `CRLF.CRLF` (or `.CRLF` at the
//! start). Then the stream, taken as a body with bare line endings converted, goes through the
//! encoder and back to itself.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use mailsec_smtp::data::{BareLineEndings, DataDecoder, DataEncoder};

fn run(wire: &[u8], max: u64, seed: u8) -> (Vec<u8>, Option<mailsec_smtp::DataError>, Option<u64>) {
    let mut dec = DataDecoder::new(max);
    let mut out = Vec::new();
    let mut error = None;
    let mut pos = 0;
    let mut k = u32::from(seed);
    while pos < wire.len() || pos == 0 {
        let size = if seed == 0 {
            wire.len()
        } else {
            k = k.wrapping_mul(1_103_515_245).wrapping_add(12345);
            1 + (k >> 16) as usize % 64
        };
        let end = (pos + size).min(wire.len());
        let chunk = Bytes::copy_from_slice(&wire[pos..end]);
        let fed = dec.feed(&chunk, |b| out.extend_from_slice(&b));
        error = error.or(fed.error);
        if fed.ended {
            return (out, error, Some(dec.consumed()));
        }
        assert_eq!(fed.consumed, chunk.len());
        if end == wire.len() {
            break;
        }
        pos = end;
    }
    (out, error, None)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let max = match data[0] {
        0 => u64::MAX,
        n => u64::from(n) * 8,
    };
    let seed = data[1];
    let wire = &data[2..];
    let whole = run(wire, max, 0);
    assert_eq!(run(wire, max, seed.max(1)), whole);
    let (body, error, end) = &whole;
    assert!(body.len() as u64 <= max);
    if let Some(n) = end {
        let n = *n as usize;
        assert!(&wire[..n] == b".\r\n" || wire[..n].ends_with(b"\r\n.\r\n"));
    }
    if error.is_none() {
        for (i, &b) in body.iter().enumerate() {
            if b == b'\n' {
                assert!(i > 0 && body[i - 1] == b'\r');
            }
            if b == b'\r' && i + 1 < body.len() {
                assert_eq!(body[i + 1], b'\n');
            }
        }
    }

    // Identity: encode the stream as a body (bare line endings converted), decode it back.
    let mut enc = DataEncoder::new()
        .with_bare_line_endings(BareLineEndings::ConvertToCrlf)
        .with_max_line(usize::MAX);
    let mut out = BytesMut::new();
    enc.encode(wire, &mut out).unwrap();
    enc.finish(&mut out).unwrap();
    let (decoded, error, end) = run(&out, u64::MAX, 0);
    assert_eq!(end, Some(out.len() as u64));
    assert!(
        matches!(
            error,
            None | Some(mailsec_smtp::DataError::LineTooLong { .. })
        ),
        "{error:?}"
    );
    if error.is_none() {
        // Re-encoding the decoded body in strict mode gives the same wire.
        let mut enc2 = DataEncoder::new().with_max_line(usize::MAX);
        let mut out2 = BytesMut::new();
        enc2.encode(&decoded, &mut out2).unwrap();
        enc2.finish(&mut out2).unwrap();
        assert_eq!(out2, out);
    }
});
