//! Flags (RFC 9051 §2.3.2) and mailbox attributes.

use super::core::Atom;
use crate::error::ValidationError;

/// A message flag: a system flag, a keyword or a `\`-extension.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Flag<'a> {
    /// `\Answered`.
    Answered,
    /// `\Flagged`.
    Flagged,
    /// `\Deleted`.
    Deleted,
    /// `\Seen`.
    Seen,
    /// `\Draft`.
    Draft,
    /// `\Recent` (IMAP4rev1 only; only in responses, a client cannot set it — RFC 3501 §2.3.2).
    Recent,
    /// A keyword (`$Forwarded`, `Junk`, …): an atom without `\`.
    Keyword(Atom<'a>),
    /// `\` + atom other than the system flags (`flag-extension`).
    Extension(Atom<'a>),
}

impl<'a> Flag<'a> {
    /// Parses a flag's text: `\Seen` (any case) gives the system flag, `\X` an extension,
    /// anything else a keyword.
    ///
    /// ```
    /// use mailsec_imap::types::Flag;
    /// assert_eq!(Flag::new("\\SEEN").unwrap(), Flag::Seen);
    /// assert!(matches!(Flag::new("$Junk").unwrap(), Flag::Keyword(_)));
    /// assert!(Flag::new("\\").is_err());
    /// ```
    pub fn new(text: &'a str) -> Result<Self, ValidationError> {
        match text.strip_prefix('\\') {
            Some(name) => Ok(Self::system(Atom::new(name)?)),
            None => Ok(Flag::Keyword(Atom::new(text)?)),
        }
    }

    pub(crate) fn system(name: Atom<'a>) -> Self {
        let s = name.as_str();
        if s.eq_ignore_ascii_case("Answered") {
            Flag::Answered
        } else if s.eq_ignore_ascii_case("Flagged") {
            Flag::Flagged
        } else if s.eq_ignore_ascii_case("Deleted") {
            Flag::Deleted
        } else if s.eq_ignore_ascii_case("Seen") {
            Flag::Seen
        } else if s.eq_ignore_ascii_case("Draft") {
            Flag::Draft
        } else if s.eq_ignore_ascii_case("Recent") {
            Flag::Recent
        } else {
            Flag::Extension(name)
        }
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Flag<'static> {
        match self {
            Flag::Answered => Flag::Answered,
            Flag::Flagged => Flag::Flagged,
            Flag::Deleted => Flag::Deleted,
            Flag::Seen => Flag::Seen,
            Flag::Draft => Flag::Draft,
            Flag::Recent => Flag::Recent,
            Flag::Keyword(a) => Flag::Keyword(a.into_owned()),
            Flag::Extension(a) => Flag::Extension(a.into_owned()),
        }
    }
}

/// An entry of `PERMANENTFLAGS` (RFC 9051 §7.1): a flag or `\*` (new keywords may be created).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FlagPerm<'a> {
    /// A flag.
    Flag(Flag<'a>),
    /// `\*`.
    Wildcard,
}

impl FlagPerm<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> FlagPerm<'static> {
        match self {
            FlagPerm::Flag(f) => FlagPerm::Flag(f.into_owned()),
            FlagPerm::Wildcard => FlagPerm::Wildcard,
        }
    }
}

/// A mailbox attribute or special use, `\` + atom (`\Noselect`, `\Drafts`, RFC 6154 §2), held
/// without the backslash.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MailboxAttribute<'a>(pub Atom<'a>);

impl MailboxAttribute<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> MailboxAttribute<'static> {
        MailboxAttribute(self.0.into_owned())
    }
}
