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
    /// `APPENDLIMIT` (RFC 7889 §4): the largest message APPEND accepts into the mailbox. In a
    /// STATUS response its value is a number or `NIL` (no limit), which the parser gives as
    /// [`StatusItem::NO_APPEND_LIMIT`]. Not in [`StatusItem::ALL`], whose length is part of its
    /// type; [`StatusItem::from_name`] knows it.
    AppendLimit,
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
            StatusItem::AppendLimit => "APPENDLIMIT",
        }
    }
    /// The value of `APPENDLIMIT NIL` (no limit) in a STATUS response: no `number64` on the
    /// wire can be this large (RFC 9051 caps them at 2^63-1), and the serializer writes it back
    /// as `NIL`.
    pub const NO_APPEND_LIMIT: u64 = u64::MAX;
    /// Recognizes a name, case-insensitively.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .chain([StatusItem::AppendLimit])
            .find(|i| i.name().as_bytes().eq_ignore_ascii_case(name))
    }
}
