//! The IMAP command parser (server side) fed arbitrary bytes.
//!
//! Input layout: byte 0 picks the nesting limit (0..=63) so deep and shallow limits are both
//! exercised; the rest is the command (lines with inline literals, as the framing step delivers).
//! Invariants: no panic; `consumed` never exceeds the input; a parsed command serializes to
//! bytes that parse back to the same command, consuming all of them, and serialization is
//! stable; the owned form equals the borrowed one; `Debug` of LOGIN/AUTHENTICATE never shows
//! the password or SASL data; the IDLE terminator and AUTHENTICATE continuation entry points
//! never panic and round-trip.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mailsec_imap::parse::{self, ParseOptions};
use mailsec_imap::serialize;
use mailsec_imap::types::{AuthData, CommandBody};

fuzz_target!(|data: &[u8]| {
    let Some((&depth, input)) = data.split_first() else {
        return;
    };
    let opts = ParseOptions::new().max_depth(usize::from(depth % 64) + 1);
    if let Ok((cmd, used)) = parse::command_with(input, &opts) {
        assert!(used <= input.len());
        let mut out = BytesMut::new();
        let lits = serialize::command(&cmd, &mut out);
        for l in &lits {
            assert!(l.offset + l.len <= out.len());
        }
        let (again, used2) = parse::command_with(&out, &opts).expect("serialized command parses");
        assert_eq!(used2, out.len());
        assert_eq!(again, cmd);
        let mut out2 = BytesMut::new();
        serialize::command(&again, &mut out2);
        assert_eq!(out, out2);
        assert_eq!(cmd.clone().into_owned(), cmd);
        if let CommandBody::Login { password, .. } = &cmd.body {
            let dbg = format!("{:?}", cmd.body);
            assert!(dbg.contains("<redacted>"));
            let _ = password;
        }
        if let CommandBody::Authenticate {
            initial: Some(AuthData::Data(_)),
            ..
        } = &cmd.body
        {
            assert!(format!("{:?}", cmd.body).contains("<redacted>"));
        }
    }
    if let Ok(used) = parse::idle_done(input) {
        assert_eq!(used, 6);
    }
    if let Ok((d, used)) = parse::authenticate_data(input) {
        assert!(used <= input.len());
        let mut out = BytesMut::new();
        serialize::authenticate_data(&d, &mut out);
        assert_eq!(parse::authenticate_data(&out).expect("serialized line parses").0, d);
    }
});
