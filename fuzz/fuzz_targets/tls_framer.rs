//! The line framer fed arbitrary bytes in arbitrary chunks.
//!
//! Input layout: byte 0 picks the line limit, bytes 1–2 the buffer limit, byte 3 seeds the chunk
//! sizes and the `take_raw` calls; the rest is the stream. Invariants: no panic; the framer never
//! holds more than its buffer limit; memory stays bounded; returned lines hold no CR or LF and fit
//! the limit with their CRLF; a refused push changes nothing; and when no raw bytes were taken and
//! no push was refused, the chunked run gives exactly what one push of the whole stream gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_tls::framer::{FrameError, LineFramer};

fn drain(framer: &mut LineFramer, out: &mut Vec<Result<Vec<u8>, FrameError>>) {
    while let Some(item) = framer.next_line() {
        if let Ok(line) = &item {
            assert!(
                !line.contains(&b'\r') && !line.contains(&b'\n'),
                "CR or LF in {line:?}"
            );
            assert!(
                line.len() + 2 <= framer.max_line(),
                "line of {} octets",
                line.len() + 2
            );
        }
        assert!(
            !matches!(item, Err(FrameError::BufferFull { .. })),
            "BufferFull from next_line"
        );
        out.push(item.map(|l| l.to_vec()));
    }
}

fuzz_target!(|data: &[u8]| {
    let [line_seed, buf_lo, buf_hi, mut seed, ref input @ ..] = *data else {
        return;
    };
    let max_line = usize::from(line_seed) + 2;
    let max_buffered = usize::from(u16::from_le_bytes([buf_lo, buf_hi]) % 2048);
    let memory_bound = 4 * max_buffered + (256 << 10);

    let mut framer = LineFramer::new(max_line).with_max_buffered(max_buffered);
    let mut items = Vec::new();
    let mut comparable = true;
    let mut rest = input;
    while !rest.is_empty() {
        // xorshift: chunk sizes 1..=64, and now and then a raw take.
        seed ^= seed << 3;
        seed ^= seed >> 5;
        seed ^= seed << 1;
        let size = usize::from(seed % 64) + 1;
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;

        let before = framer.buffered();
        match framer.push(chunk) {
            Ok(()) => {}
            Err(FrameError::BufferFull { limit }) => {
                assert_eq!(limit, max_buffered);
                assert_eq!(framer.buffered(), before, "a refused push took bytes");
                comparable = false;
            }
            Err(other) => panic!("push returned {other:?}"),
        }
        assert!(framer.buffered() <= max_buffered);
        assert!(
            framer.capacity() <= memory_bound,
            "capacity {}",
            framer.capacity()
        );
        drain(&mut framer, &mut items);
        if seed & 0xe0 == 0xe0 {
            let want = usize::from(seed & 0x1f);
            let held = framer.buffered();
            let raw = framer.take_raw(want);
            assert_eq!(raw.len(), want.min(held));
            assert_eq!(framer.buffered(), held - raw.len());
            comparable = false;
            drain(&mut framer, &mut items);
        }
        assert!(framer.buffered() <= max_buffered);
    }

    if comparable {
        let mut whole = LineFramer::new(max_line).with_max_buffered(input.len());
        let mut expected = Vec::new();
        whole
            .push(input)
            .expect("the whole stream fits its own limit");
        drain(&mut whole, &mut expected);
        assert_eq!(items, expected);
        assert_eq!(framer.buffered(), whole.buffered());
        assert_eq!(framer.is_discarding(), whole.is_discarding());
    }
});
