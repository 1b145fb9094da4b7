//! The SMTP reply parser fed arbitrary bytes in arbitrary lines.
//!
//! Input layout: byte 0 seeds the limits; the rest is split on CRLF into lines fed to a
//! `ReplyParser`. Invariants: no panic; a reply has at most the line limit of lines; its text
//! holds no control characters; it serializes to bytes that parse back to the same reply; an
//! EHLO reply's extensions round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_smtp::parse::{ReplyParser, parse_reply};
use mailsec_smtp::types::{Extensions, ReplyCode};

fuzz_target!(|data: &[u8]| {
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let max_lines = 1 + usize::from(seed & 0x0f);
    let max_octets = 64 + usize::from(seed >> 4) * 256;
    let mut parser = ReplyParser::with_limits(max_lines, max_octets);
    let mut start = 0;
    while start <= rest.len() {
        let end = memchr_crlf(&rest[start..]).map_or(rest.len(), |p| start + p);
        let line = &rest[start..end];
        start = end + 2;
        let Ok(Some(reply)) = parser.push_line(line) else {
            continue;
        };
        assert!(reply.lines().len() <= max_lines);
        assert!(
            reply
                .lines()
                .iter()
                .all(|l| !l.chars().any(char::is_control))
        );
        let bytes = reply.to_bytes();
        let (back, n) = parse_reply(&bytes)
            .expect("serialized reply parses")
            .expect("complete");
        assert_eq!(n, bytes.len());
        assert_eq!(back, reply);
        if reply.code() == ReplyCode::OK {
            let ext = Extensions::from_reply(&reply).unwrap();
            if let Ok(r2) = ext.to_reply() {
                let (r3, _) = parse_reply(&r2.to_bytes()).unwrap().unwrap();
                assert_eq!(Extensions::from_reply(&r3).unwrap(), ext);
            }
        }
    }
});

fn memchr_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}
