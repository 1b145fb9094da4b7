//! Commands (RFC 3501 §6, RFC 9051 §6 and the extensions).

use std::borrow::Cow;
use std::num::NonZeroU32;

use super::capability::Capability;
use super::core::{AString, Atom, IString, Literal, NString, Secret, Tag};
use super::datetime::DateTime;
use super::fetch::{FetchItems, FetchModifier, StoreAction};
use super::flag::{Flag, MailboxAttribute};
use super::mailbox::Mailbox;
use super::search::{SearchKey, SearchReturn};
use super::sequence::SequenceSet;
use super::status::StatusItem;

/// A tagged command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command<'a> {
    /// The tag.
    pub tag: Tag<'a>,
    /// What the command asks.
    pub body: CommandBody<'a>,
}

impl Command<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Command<'static> {
        Command {
            tag: self.tag.into_owned(),
            body: self.body.into_owned(),
        }
    }
}

/// A SELECT / EXAMINE parameter (RFC 7162 §3.1.8, §3.2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectParam {
    /// `CONDSTORE`.
    CondStore,
    /// `QRESYNC (uidvalidity modseq [known-uids [(seq-match-data)]])`.
    QResync {
        /// Last known UIDVALIDITY.
        uid_validity: NonZeroU32,
        /// Last known HIGHESTMODSEQ.
        modseq: NonZeroU64Mod,
        /// Known UIDs.
        known_uids: Option<SequenceSet>,
        /// `(known-sequence-set known-uid-set)`.
        seq_match: Option<(SequenceSet, SequenceSet)>,
    },
}

/// A `mod-sequence-value` (RFC 7162 §7: 1..2^63-1).
pub type NonZeroU64Mod = std::num::NonZeroU64;

/// A LIST selection option (RFC 5258 §3.1, RFC 6154 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListSelect<'a> {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `REMOTE`.
    Remote,
    /// `RECURSIVEMATCH`.
    RecursiveMatch,
    /// `SPECIAL-USE`.
    SpecialUse,
    /// Another option name.
    Other(Atom<'a>),
}

/// A LIST return option (RFC 5258 §3.2, RFC 5819, RFC 6154 §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListReturn<'a> {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `CHILDREN`.
    Children,
    /// `SPECIAL-USE`.
    SpecialUse,
    /// `STATUS (items)` (LIST-STATUS).
    Status(Vec<StatusItem>),
    /// Another option name.
    Other(Atom<'a>),
}

/// A `list-mailbox`: `1*list-char` (may contain `%` and `*`) or a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListMailbox<'a> {
    /// Bare token of `list-char`.
    Token(Cow<'a, str>),
    /// Quoted or literal.
    String(IString<'a>),
}

impl ListMailbox<'_> {
    /// The pattern's octets.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ListMailbox::Token(t) => t.as_bytes(),
            ListMailbox::String(s) => s.as_bytes(),
        }
    }
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> ListMailbox<'static> {
        match self {
            ListMailbox::Token(t) => ListMailbox::Token(Cow::Owned(t.into_owned())),
            ListMailbox::String(s) => ListMailbox::String(s.into_owned()),
        }
    }
}

/// An AUTHENTICATE initial response (SASL-IR, RFC 4959) or continuation line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthData<'a> {
    /// `=`: an empty response (initial response only).
    Empty,
    /// Decoded base64 data (redacted in `Debug`).
    Data(Secret<Cow<'a, [u8]>>),
    /// `*`: the client cancels (continuation line only).
    Cancel,
}

impl AuthData<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> AuthData<'static> {
        match self {
            AuthData::Empty => AuthData::Empty,
            AuthData::Cancel => AuthData::Cancel,
            AuthData::Data(d) => {
                AuthData::Data(Secret::new(Cow::Owned(d.into_inner().into_owned())))
            }
        }
    }
}

/// A quota resource limit of SETQUOTA (RFC 9208 §4.1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaLimit<'a> {
    /// `STORAGE`, `MESSAGE`, …
    pub resource: Atom<'a>,
    /// The limit (`number64`).
    pub limit: u64,
}

/// The body of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandBody<'a> {
    // Any state.
    /// `CAPABILITY`.
    Capability,
    /// `NOOP`.
    Noop,
    /// `LOGOUT`.
    Logout,
    /// `ID NIL` / `ID (field value ...)` (RFC 2971).
    Id(Option<Vec<(IString<'a>, NString<'a>)>>),
    /// `ENABLE cap ...` (RFC 5161).
    Enable(Vec<Capability<'a>>),
    /// `COMPRESS algorithm` (RFC 4978).
    Compress(Atom<'a>),

    // Not authenticated.
    /// `STARTTLS`.
    StartTls,
    /// `AUTHENTICATE mechanism [initial-response]`.
    Authenticate {
        /// SASL mechanism.
        mechanism: Atom<'a>,
        /// SASL-IR initial response.
        initial: Option<AuthData<'a>>,
    },
    /// `LOGIN user password`.
    Login {
        /// User name.
        username: AString<'a>,
        /// Password (redacted in `Debug`).
        password: Secret<AString<'a>>,
    },

    // Authenticated.
    /// `SELECT mailbox [(params)]`.
    Select {
        /// Mailbox.
        mailbox: Mailbox<'a>,
        /// CONDSTORE / QRESYNC parameters (empty: none written).
        params: Vec<SelectParam>,
    },
    /// `EXAMINE mailbox [(params)]`.
    Examine {
        /// Mailbox.
        mailbox: Mailbox<'a>,
        /// CONDSTORE / QRESYNC parameters.
        params: Vec<SelectParam>,
    },
    /// `CREATE mailbox [(USE (attrs))]` (RFC 6154 §3 for USE).
    Create {
        /// Mailbox.
        mailbox: Mailbox<'a>,
        /// Special uses asked for (empty: no USE).
        special_use: Vec<MailboxAttribute<'a>>,
    },
    /// `DELETE mailbox`.
    Delete(Mailbox<'a>),
    /// `RENAME from to`.
    Rename {
        /// Existing name.
        from: Mailbox<'a>,
        /// New name.
        to: Mailbox<'a>,
    },
    /// `SUBSCRIBE mailbox`.
    Subscribe(Mailbox<'a>),
    /// `UNSUBSCRIBE mailbox`.
    Unsubscribe(Mailbox<'a>),
    /// `LIST [(select)] reference pattern(s) [RETURN (opts)]` (RFC 9051 §6.3.9, RFC 5258).
    List {
        /// Selection options (`None`: absent; `Some(vec![])`: `()`).
        selection: Option<Vec<ListSelect<'a>>>,
        /// Reference name.
        reference: Mailbox<'a>,
        /// One pattern, or a parenthesized list when `patterns_list`.
        patterns: Vec<ListMailbox<'a>>,
        /// Whether the patterns were parenthesized.
        patterns_list: bool,
        /// Return options (`None`: absent).
        return_opts: Option<Vec<ListReturn<'a>>>,
    },
    /// `LSUB reference pattern` (IMAP4rev1).
    Lsub {
        /// Reference name.
        reference: Mailbox<'a>,
        /// Pattern.
        pattern: ListMailbox<'a>,
    },
    /// `NAMESPACE` (RFC 2342).
    Namespace,
    /// `STATUS mailbox (items)`.
    Status {
        /// Mailbox.
        mailbox: Mailbox<'a>,
        /// Items (non-empty).
        items: Vec<StatusItem>,
    },
    /// `APPEND mailbox [(flags)] [date-time] literal` (`literal8` with BINARY).
    Append {
        /// Target mailbox.
        mailbox: Mailbox<'a>,
        /// Flags (`None`: no list written; `Some(vec![])`: `()`).
        flags: Option<Vec<Flag<'a>>>,
        /// Internal date.
        date: Option<DateTime>,
        /// The message.
        message: Literal<'a>,
        /// `UTF8 (~{n}...)`: the message is in the UTF-8 form of RFC 6855 §4 (the literal must
        /// then be binary).
        utf8: bool,
    },
    /// `IDLE` (RFC 2177); ended by `DONE`, see [`crate::parse::idle_done`].
    Idle,
    /// `GETQUOTA root` (RFC 9208).
    GetQuota(AString<'a>),
    /// `GETQUOTAROOT mailbox`.
    GetQuotaRoot(Mailbox<'a>),
    /// `SETQUOTA root (resource limit ...)`.
    SetQuota {
        /// Quota root.
        root: AString<'a>,
        /// Limits (may be empty).
        limits: Vec<QuotaLimit<'a>>,
    },

    // Selected.
    /// `CHECK` (IMAP4rev1).
    Check,
    /// `CLOSE`.
    Close,
    /// `UNSELECT` (RFC 3691).
    Unselect,
    /// `EXPUNGE`.
    Expunge,
    /// `UID EXPUNGE set` (UIDPLUS).
    UidExpunge(SequenceSet),
    /// `[UID] SEARCH [RETURN (opts)] [CHARSET cs] keys`.
    Search {
        /// `UID SEARCH`.
        uid: bool,
        /// ESEARCH return options (`None`: absent; `Some(vec![])`: `RETURN ()`).
        return_opts: Option<Vec<SearchReturn>>,
        /// Charset.
        charset: Option<AString<'a>>,
        /// Criteria, all must match (non-empty).
        criteria: Vec<SearchKey<'a>>,
    },
    /// `[UID] FETCH set items [(modifiers)]`.
    Fetch {
        /// `UID FETCH`.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Items.
        items: FetchItems<'a>,
        /// CONDSTORE / QRESYNC modifiers.
        modifiers: Vec<FetchModifier>,
    },
    /// `[UID] STORE set [(UNCHANGEDSINCE n)] action`.
    Store {
        /// `UID STORE`.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// `UNCHANGEDSINCE` (CONDSTORE).
        unchanged_since: Option<u64>,
        /// What to do.
        action: StoreAction<'a>,
    },
    /// `[UID] COPY set mailbox`.
    Copy {
        /// `UID COPY`.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Target.
        mailbox: Mailbox<'a>,
    },
    /// `[UID] MOVE set mailbox` (RFC 6851).
    Move {
        /// `UID MOVE`.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Target.
        mailbox: Mailbox<'a>,
    },
}

impl CommandBody<'_> {
    /// The command name as written on the wire (`UID FETCH`, `SELECT`, …).
    pub fn name(&self) -> &'static str {
        use CommandBody as C;
        match self {
            C::Capability => "CAPABILITY",
            C::Noop => "NOOP",
            C::Logout => "LOGOUT",
            C::Id(_) => "ID",
            C::Enable(_) => "ENABLE",
            C::Compress(_) => "COMPRESS",
            C::StartTls => "STARTTLS",
            C::Authenticate { .. } => "AUTHENTICATE",
            C::Login { .. } => "LOGIN",
            C::Select { .. } => "SELECT",
            C::Examine { .. } => "EXAMINE",
            C::Create { .. } => "CREATE",
            C::Delete(_) => "DELETE",
            C::Rename { .. } => "RENAME",
            C::Subscribe(_) => "SUBSCRIBE",
            C::Unsubscribe(_) => "UNSUBSCRIBE",
            C::List { .. } => "LIST",
            C::Lsub { .. } => "LSUB",
            C::Namespace => "NAMESPACE",
            C::Status { .. } => "STATUS",
            C::Append { .. } => "APPEND",
            C::Idle => "IDLE",
            C::GetQuota(_) => "GETQUOTA",
            C::GetQuotaRoot(_) => "GETQUOTAROOT",
            C::SetQuota { .. } => "SETQUOTA",
            C::Check => "CHECK",
            C::Close => "CLOSE",
            C::Unselect => "UNSELECT",
            C::Expunge => "EXPUNGE",
            C::UidExpunge(_) => "UID EXPUNGE",
            C::Search { uid: true, .. } => "UID SEARCH",
            C::Search { .. } => "SEARCH",
            C::Fetch { uid: true, .. } => "UID FETCH",
            C::Fetch { .. } => "FETCH",
            C::Store { uid: true, .. } => "UID STORE",
            C::Store { .. } => "STORE",
            C::Copy { uid: true, .. } => "UID COPY",
            C::Copy { .. } => "COPY",
            C::Move { uid: true, .. } => "UID MOVE",
            C::Move { .. } => "MOVE",
        }
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> CommandBody<'static> {
        use CommandBody as C;
        fn mb(m: Mailbox<'_>) -> Mailbox<'static> {
            m.into_owned()
        }
        match self {
            C::Capability => C::Capability,
            C::Noop => C::Noop,
            C::Logout => C::Logout,
            C::Id(v) => C::Id(v.map(|v| {
                v.into_iter()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })),
            C::Enable(v) => C::Enable(v.into_iter().map(Capability::into_owned).collect()),
            C::Compress(a) => C::Compress(a.into_owned()),
            C::StartTls => C::StartTls,
            C::Authenticate { mechanism, initial } => C::Authenticate {
                mechanism: mechanism.into_owned(),
                initial: initial.map(AuthData::into_owned),
            },
            C::Login { username, password } => C::Login {
                username: username.into_owned(),
                password: Secret::new(password.into_inner().into_owned()),
            },
            C::Select { mailbox, params } => C::Select {
                mailbox: mb(mailbox),
                params,
            },
            C::Examine { mailbox, params } => C::Examine {
                mailbox: mb(mailbox),
                params,
            },
            C::Create {
                mailbox,
                special_use,
            } => C::Create {
                mailbox: mb(mailbox),
                special_use: special_use
                    .into_iter()
                    .map(MailboxAttribute::into_owned)
                    .collect(),
            },
            C::Delete(m) => C::Delete(mb(m)),
            C::Rename { from, to } => C::Rename {
                from: mb(from),
                to: mb(to),
            },
            C::Subscribe(m) => C::Subscribe(mb(m)),
            C::Unsubscribe(m) => C::Unsubscribe(mb(m)),
            C::List {
                selection,
                reference,
                patterns,
                patterns_list,
                return_opts,
            } => C::List {
                selection: selection.map(|v| {
                    v.into_iter()
                        .map(|s| match s {
                            ListSelect::Subscribed => ListSelect::Subscribed,
                            ListSelect::Remote => ListSelect::Remote,
                            ListSelect::RecursiveMatch => ListSelect::RecursiveMatch,
                            ListSelect::SpecialUse => ListSelect::SpecialUse,
                            ListSelect::Other(a) => ListSelect::Other(a.into_owned()),
                        })
                        .collect()
                }),
                reference: mb(reference),
                patterns: patterns.into_iter().map(ListMailbox::into_owned).collect(),
                patterns_list,
                return_opts: return_opts.map(|v| {
                    v.into_iter()
                        .map(|r| match r {
                            ListReturn::Subscribed => ListReturn::Subscribed,
                            ListReturn::Children => ListReturn::Children,
                            ListReturn::SpecialUse => ListReturn::SpecialUse,
                            ListReturn::Status(s) => ListReturn::Status(s),
                            ListReturn::Other(a) => ListReturn::Other(a.into_owned()),
                        })
                        .collect()
                }),
            },
            C::Lsub { reference, pattern } => C::Lsub {
                reference: mb(reference),
                pattern: pattern.into_owned(),
            },
            C::Namespace => C::Namespace,
            C::Status { mailbox, items } => C::Status {
                mailbox: mb(mailbox),
                items,
            },
            C::Append {
                mailbox,
                flags,
                date,
                message,
                utf8,
            } => C::Append {
                utf8,
                mailbox: mb(mailbox),
                flags: flags.map(|f| f.into_iter().map(Flag::into_owned).collect()),
                date,
                message: message.into_owned(),
            },
            C::Idle => C::Idle,
            C::GetQuota(r) => C::GetQuota(r.into_owned()),
            C::GetQuotaRoot(m) => C::GetQuotaRoot(mb(m)),
            C::SetQuota { root, limits } => C::SetQuota {
                root: root.into_owned(),
                limits: limits
                    .into_iter()
                    .map(|l| QuotaLimit {
                        resource: l.resource.into_owned(),
                        limit: l.limit,
                    })
                    .collect(),
            },
            C::Check => C::Check,
            C::Close => C::Close,
            C::Unselect => C::Unselect,
            C::Expunge => C::Expunge,
            C::UidExpunge(s) => C::UidExpunge(s),
            C::Search {
                uid,
                return_opts,
                charset,
                criteria,
            } => C::Search {
                uid,
                return_opts,
                charset: charset.map(AString::into_owned),
                criteria: criteria.into_iter().map(SearchKey::into_owned).collect(),
            },
            C::Fetch {
                uid,
                set,
                items,
                modifiers,
            } => C::Fetch {
                uid,
                set,
                items: items.into_owned(),
                modifiers,
            },
            C::Store {
                uid,
                set,
                unchanged_since,
                action,
            } => C::Store {
                uid,
                set,
                unchanged_since,
                action: action.into_owned(),
            },
            C::Copy { uid, set, mailbox } => C::Copy {
                uid,
                set,
                mailbox: mb(mailbox),
            },
            C::Move { uid, set, mailbox } => C::Move {
                uid,
                set,
                mailbox: mb(mailbox),
            },
        }
    }
}
