//! IMAP4rev1/IMAP4rev2 for mailsec: syntax layer and Sans-IO client and server machines.
//!
//! The syntax layer so far: [`framing`] (a byte stream to complete commands or responses, every
//! literal announced with its size before any byte of it is kept), [`types`] (values shared by
//! commands and responses, borrowed or owned), [`parse`] (the strict server-side command
//! parser and the tolerant client-side response parser with named quirks), [`serialize`]
//! (canonical bytes of commands and responses, with the positions of literals), [`error`]
//! (typed errors). The machines come next.
//!
//! ```
//! use mailsec_imap::{parse, serialize};
//! let (cmd, used) = parse::command(b"A1 SELECT INBOX\r\n").unwrap();
//! assert_eq!(used, 17);
//! let mut out = bytes::BytesMut::new();
//! serialize::command(&cmd, &mut out);
//! assert_eq!(&out[..], b"A1 SELECT INBOX\r\n");
//! ```
#![forbid(unsafe_code)]

pub mod client;
pub mod error;
pub mod framing;
pub mod message;
pub mod parse;
pub mod serialize;
pub mod server;
pub mod store;
pub mod types;

pub use mailsec_tls;
