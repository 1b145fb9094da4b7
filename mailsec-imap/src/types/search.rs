//! SEARCH keys (RFC 9051 §6.4.4, RFC 3501 §6.4.4, CONDSTORE RFC 7162 §3.1.5) and ESEARCH return
//! options (RFC 4731, RFC 5182, PARTIAL RFC 9394).

use std::num::NonZeroU32;

use super::core::{AString, Atom, Quoted};
use super::datetime::Date;
use super::sequence::SequenceSet;

/// Entry type of a `MODSEQ` search key (RFC 7162 §3.1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryType {
    /// `priv`.
    Private,
    /// `shared`.
    Shared,
    /// `all`.
    All,
}

/// The optional `entry-name entry-type` of a `MODSEQ` key; the name is the quoted
/// `/flags/<flag>` (content as sent, unescaped).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModSeqEntry<'a> {
    /// `/flags/\Seen` and the like.
    pub name: Quoted<'a>,
    /// Private, shared or all.
    pub kind: EntryType,
}

/// A search key. `NOT`, `OR` and parenthesized lists nest; the parser bounds their depth.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum SearchKey<'a> {
    /// `ALL`.
    All,
    Answered,
    Bcc(AString<'a>),
    Before(Date),
    Body(AString<'a>),
    Cc(AString<'a>),
    Deleted,
    Draft,
    Flagged,
    From(AString<'a>),
    /// `HEADER field-name value`.
    Header(AString<'a>, AString<'a>),
    Keyword(Atom<'a>),
    /// `LARGER n` (`number64` in IMAP4rev2).
    Larger(u64),
    /// `NEW` (IMAP4rev1).
    New,
    Not(Box<SearchKey<'a>>),
    /// `OLD` (IMAP4rev1).
    Old,
    On(Date),
    Or(Box<SearchKey<'a>>, Box<SearchKey<'a>>),
    /// `RECENT` (IMAP4rev1).
    Recent,
    Seen,
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Since(Date),
    Smaller(u64),
    Subject(AString<'a>),
    Text(AString<'a>),
    To(AString<'a>),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(Atom<'a>),
    Unseen,
    /// A bare sequence set.
    SequenceSet(SequenceSet),
    /// `( key *(SP key) )`: all must match.
    And(Vec<SearchKey<'a>>),
    /// `MODSEQ [entry] modseq` (CONDSTORE).
    ModSeq {
        /// Optional per-flag entry.
        entry: Option<ModSeqEntry<'a>>,
        /// `mod-sequence-valzer`.
        modseq: u64,
    },
}

impl SearchKey<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> SearchKey<'static> {
        use SearchKey as K;
        match self {
            K::All => K::All,
            K::Answered => K::Answered,
            K::Bcc(a) => K::Bcc(a.into_owned()),
            K::Before(d) => K::Before(d),
            K::Body(a) => K::Body(a.into_owned()),
            K::Cc(a) => K::Cc(a.into_owned()),
            K::Deleted => K::Deleted,
            K::Draft => K::Draft,
            K::Flagged => K::Flagged,
            K::From(a) => K::From(a.into_owned()),
            K::Header(a, b) => K::Header(a.into_owned(), b.into_owned()),
            K::Keyword(a) => K::Keyword(a.into_owned()),
            K::Larger(n) => K::Larger(n),
            K::New => K::New,
            K::Not(k) => K::Not(Box::new(k.into_owned())),
            K::Old => K::Old,
            K::On(d) => K::On(d),
            K::Or(a, b) => K::Or(Box::new(a.into_owned()), Box::new(b.into_owned())),
            K::Recent => K::Recent,
            K::Seen => K::Seen,
            K::SentBefore(d) => K::SentBefore(d),
            K::SentOn(d) => K::SentOn(d),
            K::SentSince(d) => K::SentSince(d),
            K::Since(d) => K::Since(d),
            K::Smaller(n) => K::Smaller(n),
            K::Subject(a) => K::Subject(a.into_owned()),
            K::Text(a) => K::Text(a.into_owned()),
            K::To(a) => K::To(a.into_owned()),
            K::Uid(s) => K::Uid(s),
            K::Unanswered => K::Unanswered,
            K::Undeleted => K::Undeleted,
            K::Undraft => K::Undraft,
            K::Unflagged => K::Unflagged,
            K::Unkeyword(a) => K::Unkeyword(a.into_owned()),
            K::Unseen => K::Unseen,
            K::SequenceSet(s) => K::SequenceSet(s),
            K::And(v) => K::And(v.into_iter().map(SearchKey::into_owned).collect()),
            K::ModSeq { entry, modseq } => K::ModSeq {
                entry: entry.map(|e| ModSeqEntry {
                    name: e.name.into_owned(),
                    kind: e.kind,
                }),
                modseq,
            },
        }
    }
}

/// An ESEARCH `RETURN` option (RFC 4731 §3.1, RFC 5182 §2, RFC 9051 §6.4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SearchReturn {
    /// `MIN`.
    Min,
    /// `MAX`.
    Max,
    /// `ALL`.
    All,
    /// `COUNT`.
    Count,
    /// `SAVE` (SEARCHRES).
    Save,
    /// `PARTIAL range` (RFC 9394 §3.1): only the results at these positions.
    Partial(PartialRange),
}

/// A PARTIAL range (RFC 9394 §3.1): result positions counted from the first result
/// (`1:100`) or from the last (`-1:-100`, the last hundred). Either end may be the larger; the
/// range covers both ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartialRange {
    /// `a:b`: positions counted from the first result, 1 being the first.
    First(NonZeroU32, NonZeroU32),
    /// `-a:-b`: positions counted from the last result, 1 (`-1`) being the last.
    Last(NonZeroU32, NonZeroU32),
}

impl PartialRange {
    /// Appends the wire form (`1:100`, `-1:-100`).
    pub fn write_to(self, out: &mut Vec<u8>) {
        let (minus, a, b) = match self {
            PartialRange::First(a, b) => ("", a, b),
            PartialRange::Last(a, b) => ("-", a, b),
        };
        out.extend_from_slice(format!("{minus}{a}:{minus}{b}").as_bytes());
    }
}

impl SearchReturn {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            SearchReturn::Min => "MIN",
            SearchReturn::Max => "MAX",
            SearchReturn::All => "ALL",
            SearchReturn::Count => "COUNT",
            SearchReturn::Save => "SAVE",
            SearchReturn::Partial(_) => "PARTIAL",
        }
    }
}
