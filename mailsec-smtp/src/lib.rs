//! ESMTP for mailsec: a strict syntax layer and Sans-IO client and server machines that
//! implement [`mailsec_tls::Machine`] (bytes in → events out; intents in → bytes out), with
//! STARTTLS (RFC 3207), AUTH (RFC 4954), PIPELINING (RFC 2920), CHUNKING/BINARYMIME (RFC 3030),
//! SIZE, 8BITMIME, SMTPUTF8, DSN and REQUIRETLS.
//!
//! - [`server`]: [`server::Server`], in the MX, submission (STARTTLS and AUTH required) or
//!   implicit-TLS submission role; the application decides each sender, recipient, credential
//!   and message through events, and `250` after the data is sent only once it kept the message.
//! - [`client`]: [`client::Client`]: EHLO → STARTTLS by policy → EHLO again → AUTH with the
//!   mechanism chosen over TLS → messages streamed with DATA or BDAT, pipelined when offered.
//!
//! Any runtime drives either machine; `mailsec_tls::Driver` is one over `futures-io`, and
//! `mailsec_tls::testing::Pair` runs a client and a server in memory through real rustls.
//!
//! ```text
//!  bytes ──► framer::CommandFramer ──► parse::parse_command_ref ──► borrowed::CommandRef (server)
//!  bytes ──► LineFramer (mailsec-tls) ──► parse::ReplyParser ──► types::Reply            (client)
//!  Command / Reply ──► serialize (encode into BytesMut, CRLF included) ──► bytes
//!  DATA body ◄──► data::DataDecoder / data::DataEncoder (streamed, dot-stuffing, CRLF.CRLF)
//! ```
//!
//! - [`types`]: commands, paths, parameters, replies, EHLO extensions, validated newtypes, and
//!   the limits of RFC 5321 §4.5.3.1 as constants.
//! - [`borrowed`]: commands parsed without copying ([`borrowed::CommandRef`]), values
//!   borrowed from the line, for dispatch on the hot path.
//! - [`parse`]: commands (bytes, case-insensitive verbs, strict: no NUL/CR/LF in a line) and
//!   replies (incrementally, line by line, bounded).
//! - [`serialize`]: the inverse; `parse(serialize(x)) == x`.
//! - [`data`]: DATA and BDAT, streamed, never the whole message in memory.
//! - [`framer`]: the server's command line framer, lending lines out of its buffer.
//! - [`error`]: typed errors, each with the reply code a server would answer.
//!
//! Security properties held here (see the workspace's SECURITY.md): only CRLF ends a line or a
//! message (SMTP smuggling), every line and reply is bounded before anything is kept, server
//! text handed to callers has its control characters removed, and an AUTH initial response
//! lives in a secret that `Debug` never prints.
//!
//! # Example: a server reading a transaction
//!
//! ```
//! use bytes::Bytes;
//! use mailsec_smtp::data::DataDecoder;
//! use mailsec_smtp::framer::CommandFramer;
//! use mailsec_smtp::parse::{parse_command_ref, ParseOptions};
//! use mailsec_smtp::types::MAX_AUTH_LINE;
//!
//! let mut framer = CommandFramer::new(MAX_AUTH_LINE);
//! framer.push(b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")?;
//! let mut verbs = Vec::new();
//! while let Some(line) = framer.next_line() {
//!     // The command borrows from the line, which the framer lends until the next call.
//!     let cmd = parse_command_ref(line?, ParseOptions::default()).unwrap();
//!     verbs.push(cmd.verb());
//! }
//! assert_eq!(verbs, ["EHLO", "MAIL", "RCPT", "DATA"]);
//!
//! // After `354`, the body goes to a DataDecoder instead of the framer.
//! let input = Bytes::from_static(b"Hi!\r\n..\r\n.\r\nQUIT\r\n");
//! let mut data = DataDecoder::new(1 << 20);
//! let mut body = Vec::new();
//! let fed = data.feed(&input, |chunk| body.extend_from_slice(&chunk));
//! assert!(fed.ended);
//! assert_eq!(body, b"Hi!\r\n.\r\n");
//! assert_eq!(&input[fed.consumed..], b"QUIT\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod borrowed;
pub mod client;
pub mod data;
pub mod error;
pub mod framer;
pub mod parse;
pub mod serialize;
pub mod server;
pub mod types;

pub use error::{CommandError, DataError, EncodeError, ReplyError};
pub use mailsec_tls;
