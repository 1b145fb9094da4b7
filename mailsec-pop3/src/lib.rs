//! POP3 for mailsec: a syntax layer (parse and serialize) and Sans-IO client and server
//! machines that implement [`mailsec_tls::Machine`], with STLS (RFC 2595), CAPA and response
//! codes (RFC 2449), SASL AUTH (RFC 5034) and pipelining.
//!
//! - [`server`]: [`server::Pop3Server`]: AUTHORIZATION → TRANSACTION → UPDATE, "require secure
//!   channel" by default, the maildrop the application's ([`maildrop::Maildrop`]), message
//!   content streamed through events, deletions applied only in UPDATE after QUIT.
//! - [`client`]: [`client::Client`]: greeting → CAPA → STLS by policy → CAPA again → AUTH /
//!   USER-PASS / APOP → queued (pipelined) commands with typed results, RETR streamed, and
//!   [`client::LeaveOnServer`] for "leave messages on the server" keyed on UIDL.
//!
//! ```text
//!  received bytes ─▶ LineFramer (mailsec_tls) ─▶ parse::command / parse::response ─▶ typed values
//!                  └▶ multiline::MultilineDecoder (RETR/TOP bodies, streamed, unstuffed)
//!  typed values ─▶ serialize::* ─▶ bytes to send
//!  message body ─▶ multiline::MultilineEncoder (dot-stuffed, streamed) ─▶ bytes to send
//! ```
//!
//! Covered: RFC 1939 (USER, PASS, APOP, STAT, LIST, RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL),
//! RFC 2449 (CAPA, capabilities, response codes, line limits), RFC 2595 (STLS), RFC 3206
//! (`SYS/TEMP`, `SYS/PERM`, `AUTH`), RFC 5034 (AUTH with initial response, continuations),
//! RFC 6856 (UTF8).
//!
//! - [`types`]: [`Command`], [`Response`] / [`StatusLine`], [`ResponseCode`], [`Capability`] /
//!   [`Capabilities`], listings, validated newtypes, limits, [`sanitize_text`].
//! - [`parse`]: lines to values; strict for commands (server side), tolerant for responses
//!   (client side), as documented there.
//! - [`serialize`]: values to canonical bytes; `parse(serialize(v)) == v`.
//! - [`multiline`]: the streamed body decoder and encoder.
//! - [`error`]: [`ParseError`] (with the text a server replies), [`SerializeError`],
//!   [`MultilineError`].
//!
//! Security-relevant choices: lines are bytes, never `&str`; CR, LF and NUL never pass inside
//! a line; limits are checked before anything is copied; passwords and SASL data are
//! [`SecretBytes`] (redacted `Debug`, wiped on drop); server text is raw until
//! [`sanitize_text`]; only CRLF `.` CRLF ends a body, whatever the leniency.
//!
//! # A server reading commands, a client reading responses
//!
//! ```
//! use bytes::BytesMut;
//! use mailsec_pop3::{
//!     parse, serialize, Capability, Command, MessageNumber, Response, ScanListing, StatusLine,
//!     MAX_COMMAND_LINE,
//! };
//! use mailsec_tls::framer::LineFramer;
//!
//! // Server side: frame, parse, answer.
//! let mut framer = LineFramer::new(MAX_COMMAND_LINE);
//! framer.push(b"CAPA\r\nlist 1\r\nBOGUS\r\n").unwrap();
//! let mut out = BytesMut::new();
//! while let Some(line) = framer.next_line() {
//!     match parse::command(&line.unwrap()) {
//!         Ok(Command::Capa) => {
//!             serialize::status_line(&StatusLine::ok("Capability list follows"), &mut out)?;
//!             for cap in [Capability::Top, Capability::Uidl, Capability::Stls] {
//!                 serialize::capability(&cap, &mut out)?;
//!             }
//!             out.extend_from_slice(serialize::END_OF_MULTILINE);
//!         }
//!         Ok(Command::List(Some(msg))) => {
//!             serialize::status_line(&ScanListing { msg, size: 120 }.status_line(), &mut out)?;
//!         }
//!         Ok(_) => unreachable!(),
//!         Err(e) => serialize::status_line(&StatusLine::err(e.reply_text()), &mut out)?,
//!     }
//! }
//! assert_eq!(
//!     &out[..],
//!     &b"+OK Capability list follows\r\nTOP\r\nUIDL\r\nSTLS\r\n.\r\n+OK 1 120\r\n-ERR Unknown command\r\n"[..]
//! );
//!
//! // Client side: the same bytes, framed (512-octet response lines) and parsed back.
//! let mut framer = LineFramer::new(mailsec_pop3::MAX_RESPONSE_LINE);
//! framer.push(&out).unwrap();
//! let mut next = || framer.next_line().unwrap().unwrap();
//! assert!(matches!(parse::response(&next()).unwrap(), Response::Status(s) if s.is_ok()));
//! let mut caps = mailsec_pop3::Capabilities::new();
//! loop {
//!     let line = next();
//!     let Some(line) = parse::unstuff(&line) else { break };
//!     caps.push(parse::capability(line).unwrap());
//! }
//! assert!(caps.has_stls() && caps.has_uidl() && !caps.has_user());
//! let Response::Status(list) = parse::response(&next()).unwrap() else { panic!() };
//! assert_eq!(parse::scan_listing(&list.text).unwrap().msg, MessageNumber::new(1).unwrap());
//! # Ok::<(), mailsec_pop3::SerializeError>(())
//! ```
#![forbid(unsafe_code)]

pub mod client;
pub mod error;
pub mod maildrop;
pub mod multiline;
pub mod parse;
pub mod serialize;
pub mod server;
pub mod types;

pub use error::{MultilineError, ParseError, SerializeError};
pub use mailsec_tls;
pub use types::{
    ApopDigest, AuthResponse, Capabilities, Capability, Command, Expire, MAX_COMMAND_LINE,
    MAX_MECHANISM_NAME, MAX_RESPONSE_LINE, MAX_SASL_LINE, MAX_UNIQUE_ID, MechanismName,
    MessageNumber, RFC_MAX_ARGUMENT, Response, ResponseCode, ScanListing, SecretBytes, Stat,
    Status, StatusLine, UidlListing, UniqueId, sanitize_text,
};
