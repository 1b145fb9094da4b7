//! FETCH data items (RFC 9051 §6.4.5, BINARY RFC 3516, CONDSTORE RFC 7162) and STORE actions.

use std::num::{NonZeroU32, NonZeroU64};

use super::core::AString;
use super::flag::Flag;

/// The text part of a section specifier.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SectionText<'a> {
    /// `HEADER`.
    Header,
    /// `HEADER.FIELDS (name ...)`.
    HeaderFields(Vec<AString<'a>>),
    /// `HEADER.FIELDS.NOT (name ...)`.
    HeaderFieldsNot(Vec<AString<'a>>),
    /// `TEXT`.
    Text,
    /// `MIME` (only after a part number).
    Mime,
}

/// A `section` (`[1.2.HEADER]`): part numbers then an optional text specifier. `BODY[]` is an
/// empty part and no text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Section<'a> {
    /// Part numbers (`1.2.3`).
    pub part: Vec<NonZeroU32>,
    /// `HEADER`, `TEXT`, …
    pub text: Option<SectionText<'a>>,
}

/// `<offset.length>` of a partial fetch (`number64 "." nz-number64` in IMAP4rev2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Partial {
    /// First octet.
    pub offset: u64,
    /// Number of octets.
    pub length: NonZeroU64,
}

/// A FETCH data item.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FetchAttribute<'a> {
    /// `ENVELOPE`.
    Envelope,
    /// `FLAGS`.
    Flags,
    /// `INTERNALDATE`.
    InternalDate,
    /// `RFC822` (IMAP4rev1).
    Rfc822,
    /// `RFC822.HEADER` (IMAP4rev1).
    Rfc822Header,
    /// `RFC822.SIZE`.
    Rfc822Size,
    /// `RFC822.TEXT` (IMAP4rev1).
    Rfc822Text,
    /// `BODY` (non-extensible BODYSTRUCTURE).
    Body,
    /// `BODYSTRUCTURE`.
    BodyStructure,
    /// `UID`.
    Uid,
    /// `MODSEQ` (CONDSTORE).
    ModSeq,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`.
    BodySection {
        /// `.PEEK`: do not set `\Seen`.
        peek: bool,
        /// The section.
        section: Section<'a>,
        /// `<offset.length>`.
        partial: Option<Partial>,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK[...]` (RFC 3516).
    Binary {
        /// `.PEEK`.
        peek: bool,
        /// Part numbers (may be empty).
        part: Vec<NonZeroU32>,
        /// `<offset.length>`.
        partial: Option<Partial>,
    },
    /// `BINARY.SIZE[part]`.
    BinarySize {
        /// Part numbers (may be empty).
        part: Vec<NonZeroU32>,
    },
}

impl FetchAttribute<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> FetchAttribute<'static> {
        use FetchAttribute as F;
        match self {
            F::Envelope => F::Envelope,
            F::Flags => F::Flags,
            F::InternalDate => F::InternalDate,
            F::Rfc822 => F::Rfc822,
            F::Rfc822Header => F::Rfc822Header,
            F::Rfc822Size => F::Rfc822Size,
            F::Rfc822Text => F::Rfc822Text,
            F::Body => F::Body,
            F::BodyStructure => F::BodyStructure,
            F::Uid => F::Uid,
            F::ModSeq => F::ModSeq,
            F::BodySection {
                peek,
                section,
                partial,
            } => F::BodySection {
                peek,
                section: section.into_owned(),
                partial,
            },
            F::Binary {
                peek,
                part,
                partial,
            } => F::Binary {
                peek,
                part,
                partial,
            },
            F::BinarySize { part } => F::BinarySize { part },
        }
    }
}

impl Section<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Section<'static> {
        let own = |v: Vec<AString<'_>>| v.into_iter().map(AString::into_owned).collect();
        Section {
            part: self.part,
            text: self.text.map(|t| match t {
                SectionText::Header => SectionText::Header,
                SectionText::HeaderFields(v) => SectionText::HeaderFields(own(v)),
                SectionText::HeaderFieldsNot(v) => SectionText::HeaderFieldsNot(own(v)),
                SectionText::Text => SectionText::Text,
                SectionText::Mime => SectionText::Mime,
            }),
        }
    }
}

/// What to FETCH: a macro, one item, or a parenthesized list (kept apart so the bytes round-trip).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FetchItems<'a> {
    /// `ALL` = `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)`.
    All,
    /// `FAST` = `(FLAGS INTERNALDATE RFC822.SIZE)`.
    Fast,
    /// `FULL` = `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)`.
    Full,
    /// One item without parentheses.
    Single(FetchAttribute<'a>),
    /// `( item *(SP item) )`, non-empty.
    List(Vec<FetchAttribute<'a>>),
}

impl FetchItems<'_> {
    /// The items a macro stands for (RFC 9051 §6.4.5), or the items given.
    pub fn expand(&self) -> Vec<FetchAttribute<'_>> {
        use FetchAttribute as F;
        match self {
            FetchItems::All => vec![F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope],
            FetchItems::Fast => vec![F::Flags, F::InternalDate, F::Rfc822Size],
            FetchItems::Full => vec![
                F::Flags,
                F::InternalDate,
                F::Rfc822Size,
                F::Envelope,
                F::Body,
            ],
            FetchItems::Single(a) => vec![a.clone()],
            FetchItems::List(v) => v.clone(),
        }
    }
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> FetchItems<'static> {
        match self {
            FetchItems::All => FetchItems::All,
            FetchItems::Fast => FetchItems::Fast,
            FetchItems::Full => FetchItems::Full,
            FetchItems::Single(a) => FetchItems::Single(a.into_owned()),
            FetchItems::List(v) => {
                FetchItems::List(v.into_iter().map(FetchAttribute::into_owned).collect())
            }
        }
    }
}

/// A FETCH modifier (RFC 7162 §3.1.4, §3.2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FetchModifier {
    /// `CHANGEDSINCE modseq`.
    ChangedSince(u64),
    /// `VANISHED` (UID FETCH under QRESYNC).
    Vanished,
}

/// How STORE changes the flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// The action of STORE: `[+|-]FLAGS[.SILENT] flags`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoreAction<'a> {
    /// Replace, add or remove.
    pub kind: StoreKind,
    /// `.SILENT`: no untagged FETCH back.
    pub silent: bool,
    /// The flags (may be empty with a list: `FLAGS ()` clears).
    pub flags: Vec<Flag<'a>>,
    /// Whether the flags are written as a parenthesized list (always when empty).
    pub parenthesized: bool,
}

impl StoreAction<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> StoreAction<'static> {
        StoreAction {
            kind: self.kind,
            silent: self.silent,
            flags: self.flags.into_iter().map(Flag::into_owned).collect(),
            parenthesized: self.parenthesized,
        }
    }
}
