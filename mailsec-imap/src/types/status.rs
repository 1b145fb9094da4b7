//! STATUS data items (RFC 9051 §6.3.11, RFC 8438, RFC 7162).

/// A STATUS data item name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusItem {
    /// `MESSAGES`.
    Messages,
    /// `RECENT` (IMAP4rev1 only).
    Recent,
    /// `UIDNEXT`.
    UidNext,
    /// `UIDVALIDITY`.
    UidValidity,
    /// `UNSEEN`.
    Unseen,
    /// `DELETED` (IMAP4rev2).
    Deleted,
    /// `SIZE` (IMAP4rev2, STATUS=SIZE RFC 8438).
    Size,
    /// `HIGHESTMODSEQ` (CONDSTORE, RFC 7162 §3.1.6).
    HighestModSeq,
}

impl StatusItem {
    /// Every item, in a fixed order.
    pub const ALL: [StatusItem; 8] = [
        StatusItem::Messages,
        StatusItem::Recent,
        StatusItem::UidNext,
        StatusItem::UidValidity,
        StatusItem::Unseen,
        StatusItem::Deleted,
        StatusItem::Size,
        StatusItem::HighestModSeq,
    ];
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::Recent => "RECENT",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
            StatusItem::Deleted => "DELETED",
            StatusItem::Size => "SIZE",
            StatusItem::HighestModSeq => "HIGHESTMODSEQ",
        }
    }
    /// Recognizes a name, case-insensitively.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|i| i.name().as_bytes().eq_ignore_ascii_case(name))
    }
}
