//! IMAP4rev1/IMAP4rev2 for mailsec: syntax layer and Sans-IO client and server machines.
//!
//! The syntax layer: [`types`] (values shared by commands and responses, borrowed or owned),
//! [`parse`] (strict server-side command parser), [`serialize`] (canonical bytes, with the
//! positions of literals), [`error`] (typed errors).
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

pub mod error;
pub mod parse;
pub mod serialize;
pub mod types;

pub use mailsec_tls;
