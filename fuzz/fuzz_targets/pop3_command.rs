//! The POP3 command parser (server side) fed arbitrary lines.
//!
//! Invariants: no panic; a parsed command serializes within the 255-octet limit and parses
//! back to itself (with and without its CRLF); `Debug` of a PASS or AUTH never shows the
//! secret; an AUTH continuation line that parses serializes back to itself.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mailsec_pop3::{AuthResponse, Command, MAX_COMMAND_LINE, parse, serialize};

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = parse::command(data) {
        let bytes = cmd.to_bytes().expect("a parsed command serializes");
        assert!(bytes.len() <= MAX_COMMAND_LINE);
        assert!(bytes.ends_with(b"\r\n"));
        assert_eq!(parse::command(&bytes).as_ref(), Ok(&cmd));
        assert_eq!(parse::command(&bytes[..bytes.len() - 2]).as_ref(), Ok(&cmd));
        if let Command::Pass(_) | Command::Auth { initial_response: Some(_), .. } = &cmd {
            assert!(format!("{cmd:?}").contains("REDACTED"));
        }
    }
    if let Ok(resp) = parse::auth_response(data) {
        let mut buf = BytesMut::new();
        serialize::auth_response(&resp, &mut buf).expect("a parsed AUTH line serializes");
        assert_eq!(parse::auth_response(&buf).as_ref(), Ok(&resp));
        if let AuthResponse::Data(_) = resp {
            assert!(format!("{resp:?}").contains("REDACTED"));
        }
    }
});
