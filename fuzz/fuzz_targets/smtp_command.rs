//! The SMTP command parser fed arbitrary lines.
//!
//! Input layout: byte 0 bit 0 turns SMTPUTF8 on; the rest is one line (without CRLF).
//! Invariants: no panic; every accepted command serializes to a line that parses back to the
//! same command (when it fits the limit), and that serialization is stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_smtp::parse::{ParseOptions, parse_command};
use mailsec_smtp::types::{MAX_AUTH_LINE, MAX_COMMAND_LINE};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, line)) = data.split_first() else {
        return;
    };
    let opts = ParseOptions::new().smtputf8(flags & 1 == 1);
    let Ok(cmd) = parse_command(line, opts) else {
        return;
    };
    let limit = if cmd.verb() == "AUTH" {
        MAX_AUTH_LINE
    } else {
        MAX_COMMAND_LINE
    };
    let bytes = cmd.to_bytes();
    assert!(bytes.ends_with(b"\r\n"));
    if bytes.len() > limit {
        // A dropped source route only shortens; normalization may lengthen (xtext hex).
        return;
    }
    let again = parse_command(&bytes[..bytes.len() - 2], opts).expect("serialized command parses");
    assert_eq!(again, cmd);
    assert_eq!(again.to_bytes(), bytes);
});
