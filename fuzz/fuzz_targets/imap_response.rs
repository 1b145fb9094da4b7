//! The IMAP response parser (client side) fed arbitrary bytes.
//!
//! Input layout: byte 0 picks the nesting limit (1..=64) and, with its top bit, strict parsing
//! (no quirks); the rest is one response (lines with inline literals, as the framing step
//! delivers). Invariants: no panic; `consumed` never exceeds the input; a parsed response
//! serializes to bytes that parse back (with the default quirks) to the same response,
//! consuming all of them, and serialization is stable.
//!
//! Not yet registered in fuzz/Cargo.toml: add
//! `[[bin]] name = "imap_response" path = "fuzz_targets/imap_response.rs" test = false doc = false bench = false`.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mailsec_imap::parse::{self, ParseOptions, ResponseOptions};
use mailsec_imap::serialize;

fuzz_target!(|data: &[u8]| {
    let Some((&b0, input)) = data.split_first() else {
        return;
    };
    let limits = ParseOptions::new().max_depth(usize::from(b0 % 64) + 1);
    let opts = if b0 & 0x80 != 0 {
        ResponseOptions::strict().limits(limits.clone())
    } else {
        ResponseOptions::new().limits(limits.clone())
    };
    if let Ok((r, used)) = parse::response_with(input, &opts) {
        assert!(used <= input.len());
        let mut out = BytesMut::new();
        serialize::response(&r, &mut out);
        let lenient = ResponseOptions::new().limits(limits);
        let (again, used2) =
            parse::response_with(&out, &lenient).expect("serialized response parses");
        assert_eq!(used2, out.len());
        assert_eq!(again, r);
        let mut out2 = BytesMut::new();
        serialize::response(&again, &mut out2);
        assert_eq!(out, out2);
    }
});
