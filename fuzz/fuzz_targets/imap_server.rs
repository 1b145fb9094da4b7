//! The IMAP server machine fed arbitrary bytes in arbitrary chunks, with every event answered
//! by a simple rule and a `MemoryStore` behind it: it must never panic, never transmit after
//! Close, never start TLS with bytes pending behind STARTTLS, never emit a `+` continuation
//! or a credential check before TLS on a listener that requires it, and end every session
//! with exactly one `Closed` event. FETCH output is pulled one output at a time, as a slow
//! socket would; some inputs also time out or shut the session down part way.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The harness lives beside the crate's tests, which run it over fixed inputs too.
#[path = "../../mailsec-imap/tests/support/server_fuzz.rs"]
mod server_fuzz;

fuzz_target!(|data: &[u8]| server_fuzz::run(data));
