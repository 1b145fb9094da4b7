//! The POP3 response-side parsers (client side) fed arbitrary lines: status lines and AUTH
//! continuations, CAPA lines, scan and unique-id listings, STAT, the APOP timestamp.
//!
//! Invariants: no panic; whatever parses serializes back to something that parses to the same
//! value (status lines within 512 octets, except a `[CODE]text` line at the limit, which the
//! canonical `[CODE] text` makes one octet too long and the serializer refuses); sanitized text holds no control characters; an
//! APOP timestamp is `<…>` of printable ASCII with an `@`.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mailsec_pop3::{MAX_RESPONSE_LINE, Response, SerializeError, parse, sanitize_text, serialize};

fuzz_target!(|data: &[u8]| {
    if let Ok(resp) = parse::response(data) {
        let bytes = match resp.to_bytes() {
            Ok(bytes) => bytes,
            // "[CODE]text" is written back as "[CODE] text": at the limit, one octet too long.
            Err(SerializeError::LineTooLong { len, .. }) => {
                assert_eq!(len, MAX_RESPONSE_LINE + 1);
                return;
            }
            Err(e) => panic!("a parsed response does not serialize: {e}"),
        };
        if let Response::Status(s) = &resp {
            assert!(bytes.len() <= MAX_RESPONSE_LINE);
            assert!(!s.text_sanitized().chars().any(char::is_control));
            if let Some(ts) = s.apop_timestamp() {
                assert!(ts.len() >= 3 && ts.starts_with(b"<") && ts.ends_with(b">"));
                assert!(ts.contains(&b'@'));
                assert!(ts.iter().all(|b| (0x21..=0x7e).contains(b)));
            }
        }
        assert_eq!(parse::response(&bytes).as_ref(), Ok(&resp));
    }
    if let Ok(cap) = parse::capability(data) {
        let mut buf = BytesMut::new();
        serialize::capability(&cap, &mut buf).expect("a parsed capability serializes");
        assert_eq!(parse::capability(&buf).as_ref(), Ok(&cap));
    }
    if let Ok(l) = parse::scan_listing(data) {
        let mut buf = BytesMut::new();
        serialize::scan_listing(&l, &mut buf).unwrap();
        assert_eq!(parse::scan_listing(&buf), Ok(l));
    }
    if let Ok(l) = parse::uidl_listing(data) {
        let mut buf = BytesMut::new();
        serialize::uidl_listing(&l, &mut buf).unwrap();
        assert_eq!(parse::uidl_listing(&buf).as_ref(), Ok(&l));
    }
    let _ = parse::stat(data);
    let _ = parse::unstuff(data);
    assert!(!sanitize_text(data).chars().any(char::is_control));
});
