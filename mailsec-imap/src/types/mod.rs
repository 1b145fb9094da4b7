//! The values of the IMAP grammar, shared by commands and (next) responses.
//!
//! # Borrowed and owned forms
//!
//! Every type that holds text is generic over a lifetime and stores it as
//! `Cow<'a, str>` (7-bit tokens: tags, atoms) or `Cow<'a, [u8]>` (strings, literals). The parser
//! returns values borrowing the input buffer (`T<'buf>`, zero-copy except for quoted strings
//! with escapes); `into_owned(self) -> T<'static>` detaches a value so it can be stored after the
//! buffer is reused, copying only the borrowed text. One type for both forms keeps one set of
//! validators, one serializer and one equality.
//!
//! Constructors validate: a value of these types always serializes to bytes the parser accepts
//! back as the same value.
//!
//! ```
//! use mailsec_imap::types::{AString, Mailbox};
//! let input = b"Sent".to_vec();
//! let owned: Mailbox<'static> = {
//!     let borrowed = Mailbox::new(AString::new(&input[..]).unwrap());
//!     borrowed.into_owned()
//! };
//! drop(input);
//! assert_eq!(owned.as_bytes(), b"Sent");
//! ```

pub(crate) mod chars;

mod capability;
mod command;
mod core;
mod datetime;
mod fetch;
mod flag;
mod lazy;
pub mod list;
pub mod mailbox;
mod response;
mod search;
mod sequence;
mod status;

pub use capability::Capability;
pub use command::{
    AuthData, Command, CommandBody, ListMailbox, ListReturn, ListSelect, NonZeroU64Mod, QuotaLimit,
    SelectParam,
};
pub use core::{
    AString, Atom, DEFAULT_MAX_TAG, IString, Literal, LiteralMode, MAX_AUTO_QUOTED, NString,
    Quoted, Secret, Tag,
};
pub use datetime::{Date, DateTime};
pub use fetch::{
    FetchAttribute, FetchItems, FetchModifier, Partial, Section, SectionText, StoreAction,
    StoreKind,
};
pub use flag::{Flag, FlagPerm, MailboxAttribute};
pub use lazy::{LazyBody, LazyEnvelope};
pub use list::SmallList;
pub use mailbox::Mailbox;
pub use response::{
    Address, BodyParams, BodyStructure, Code, Data, ESearchItem, Envelope, ExtValue, FlagList,
    GmailLabel, Greeting, ListData, MsgAtt, NamespaceDesc, ParamRef, Response, SimpleCode,
    SinglePartKind, StatusKind,
};
pub use search::{EntryType, ModSeqEntry, PartialRange, SearchKey, SearchReturn};
pub use sequence::{SeqNumber, SeqRange, SequenceSet};
pub use status::StatusItem;

pub(crate) fn datetime_months() -> &'static [&'static str; 12] {
    &datetime::MONTHS
}
