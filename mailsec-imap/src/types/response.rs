//! Server responses (RFC 9051 §7, RFC 3501 §7 and the extensions): status responses with
//! their codes, untagged data, FETCH message attributes, ENVELOPE and BODYSTRUCTURE.
//!
//! Like the rest of [`crate::types`], values borrow the input buffer (`'a`).

use std::borrow::Cow;
use std::num::NonZeroU32;

use super::list::SmallList;
use super::mailbox::Mailbox;
use super::{
    AString, Atom, Capability, DateTime, Flag, FlagPerm, IString, LazyBody, LazyEnvelope, Literal,
    MailboxAttribute, NString, PartialRange, Section, SequenceSet, StatusItem, Tag,
};

/// One server response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response<'a> {
    /// `tag OK/NO/BAD` or untagged `* OK/NO/BAD/PREAUTH/BYE` (RFC 9051 §7.1).
    Status {
        /// The tag; `None` for an untagged status.
        tag: Option<Tag<'a>>,
        /// OK, NO, BAD, PREAUTH or BYE.
        kind: StatusKind,
        /// The bracketed response code.
        code: Option<Code<'a>>,
        /// Human-readable text (may be empty with the quirks on).
        text: Cow<'a, [u8]>,
    },
    /// Untagged data (`* ...`).
    Data(Data<'a>),
    /// A continuation request `+ ...` (RFC 9051 §7.5). Its text may be base64 during
    /// AUTHENTICATE: see [`Response::continuation_base64`].
    Continuation {
        /// A response code, when one opens the text.
        code: Option<Code<'a>>,
        /// The text (possibly empty).
        text: Cow<'a, [u8]>,
    },
}

impl Response<'_> {
    /// The base64-decoded text of a continuation request (AUTHENTICATE challenges), or `None`
    /// when this is not a continuation or its text is not base64.
    pub fn continuation_base64(&self) -> Option<Vec<u8>> {
        match self {
            Response::Continuation { code: None, text } => crate::parse::base64_decode(text),
            _ => None,
        }
    }

    /// Whether this is a greeting (untagged OK, PREAUTH or BYE, RFC 9051 §7.1.1).
    pub fn is_greeting(&self) -> bool {
        matches!(
            self,
            Response::Status {
                tag: None,
                kind: StatusKind::Ok | StatusKind::Preauth | StatusKind::Bye,
                ..
            }
        )
    }
}

/// A server greeting (RFC 9051 §7.1): the first response of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Greeting<'a> {
    /// OK, PREAUTH or BYE.
    pub kind: StatusKind,
    /// Usually `[CAPABILITY ...]`.
    pub code: Option<Code<'a>>,
    /// The text.
    pub text: Cow<'a, [u8]>,
}

impl<'a> Greeting<'a> {
    /// Extracts the greeting from a response; `None` if it is not one.
    pub fn from_response(r: Response<'a>) -> Option<Self> {
        match r {
            Response::Status {
                tag: None,
                kind: kind @ (StatusKind::Ok | StatusKind::Preauth | StatusKind::Bye),
                code,
                text,
            } => Some(Greeting { kind, code, text }),
            _ => None,
        }
    }
}

/// The condition of a status response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// `OK`.
    Ok,
    /// `NO`.
    No,
    /// `BAD`.
    Bad,
    /// `PREAUTH` (untagged only).
    Preauth,
    /// `BYE` (untagged only).
    Bye,
}

impl StatusKind {
    /// The keyword.
    pub fn name(self) -> &'static str {
        match self {
            StatusKind::Ok => "OK",
            StatusKind::No => "NO",
            StatusKind::Bad => "BAD",
            StatusKind::Preauth => "PREAUTH",
            StatusKind::Bye => "BYE",
        }
    }
}

macro_rules! simple_codes {
    ($($variant:ident => $text:literal,)*) => {
        /// A response code without arguments (RFC 9051 §7.1, RFC 5530, RFC 7162, RFC 4315).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum SimpleCode {
            $(#[doc = concat!("`", $text, "`.")] $variant,)*
        }
        impl SimpleCode {
            /// The code's name.
            pub fn name(self) -> &'static str {
                match self { $(SimpleCode::$variant => $text,)* }
            }
            /// Looks a name up (case-insensitive).
            pub fn from_name(name: &str) -> Option<Self> {
                $(if name.eq_ignore_ascii_case($text) { return Some(SimpleCode::$variant); })*
                None
            }
        }
    };
}

simple_codes! {
    Alert => "ALERT",
    Parse => "PARSE",
    ReadOnly => "READ-ONLY",
    ReadWrite => "READ-WRITE",
    TryCreate => "TRYCREATE",
    Closed => "CLOSED",
    NoModSeq => "NOMODSEQ",
    UidNotSticky => "UIDNOTSTICKY",
    TooBig => "TOOBIG",
    AuthenticationFailed => "AUTHENTICATIONFAILED",
    AuthorizationFailed => "AUTHORIZATIONFAILED",
    Unavailable => "UNAVAILABLE",
    Expired => "EXPIRED",
    PrivacyRequired => "PRIVACYREQUIRED",
    ContactAdmin => "CONTACTADMIN",
    NoPerm => "NOPERM",
    InUse => "INUSE",
    ExpungeIssued => "EXPUNGEISSUED",
    Corruption => "CORRUPTION",
    ServerBug => "SERVERBUG",
    ClientBug => "CLIENTBUG",
    Cannot => "CANNOT",
    Limit => "LIMIT",
    OverQuota => "OVERQUOTA",
    AlreadyExists => "ALREADYEXISTS",
    NonExistent => "NONEXISTENT",
    HasChildren => "HASCHILDREN",
    NotSaved => "NOTSAVED",
    UnknownCte => "UNKNOWN-CTE",
    CompressionActive => "COMPRESSIONACTIVE",
}

/// A response code (`[...]` at the start of a response's text, RFC 9051 §7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code<'a> {
    /// A code without arguments (ALERT, READ-ONLY, TRYCREATE, …).
    Simple(SimpleCode),
    /// `BADCHARSET [(charset ...)]`.
    BadCharset(Vec<AString<'a>>),
    /// `CAPABILITY cap ...`.
    Capability(Vec<Capability<'a>>),
    /// `PERMANENTFLAGS (flag ... [\*])`.
    PermanentFlags(Vec<FlagPerm<'a>>),
    /// `UIDNEXT n`.
    UidNext(NonZeroU32),
    /// `UIDVALIDITY n`.
    UidValidity(NonZeroU32),
    /// `UNSEEN n` (RFC 3501).
    Unseen(NonZeroU32),
    /// `HIGHESTMODSEQ n` (RFC 7162 §3.1.2.1).
    HighestModSeq(u64),
    /// `MODIFIED set` (RFC 7162 §3.1.3).
    Modified(SequenceSet),
    /// `APPENDUID uidvalidity uid-set` (RFC 4315 §3; a set with MULTIAPPEND).
    AppendUid {
        /// The mailbox's UIDVALIDITY.
        validity: NonZeroU32,
        /// The UIDs assigned.
        uids: SequenceSet,
    },
    /// `COPYUID uidvalidity source-set dest-set` (RFC 4315 §3).
    CopyUid {
        /// The destination's UIDVALIDITY.
        validity: NonZeroU32,
        /// Source UIDs.
        from: SequenceSet,
        /// Destination UIDs, in the same order.
        to: SequenceSet,
    },
    /// Any other code: its name and the text up to `]`, as sent.
    Other {
        /// The code name.
        name: Atom<'a>,
        /// What follows the name and a space, if anything.
        text: Option<Cow<'a, [u8]>>,
    },
}

/// Untagged data.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Data<'a> {
    /// `CAPABILITY ...` (RFC 9051 §7.2.2).
    Capability(Vec<Capability<'a>>),
    /// `ENABLED ...` (RFC 5161 §3.2).
    Enabled(Vec<Capability<'a>>),
    /// `LIST` / `LSUB` (RFC 9051 §7.3.1, RFC 5258, RFC 6154).
    List(ListData<'a>),
    /// `STATUS mailbox (item value ...)` (RFC 9051 §7.3.2, STATUS=SIZE, CONDSTORE).
    Status {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// The items with their values.
        items: Vec<(StatusItem, u64)>,
    },
    /// `SEARCH n ...` [`(MODSEQ n)`] (RFC 3501 §7.2.5, RFC 7162 §3.1.5).
    Search {
        /// Matching numbers.
        ids: Vec<NonZeroU32>,
        /// The highest mod-sequence of the matches.
        modseq: Option<u64>,
    },
    /// `ESEARCH` (RFC 4731, RFC 9051 §7.3.4).
    ESearch {
        /// The search command's tag (`(TAG "A1")`).
        tag: Option<IString<'a>>,
        /// `UID`: numbers are UIDs.
        uid: bool,
        /// The returned data.
        items: Vec<ESearchItem<'a>>,
    },
    /// `FLAGS (...)` (RFC 9051 §7.3.5).
    Flags(Vec<Flag<'a>>),
    /// `n EXISTS`.
    Exists(u32),
    /// `n RECENT` (RFC 3501).
    Recent(u32),
    /// `n EXPUNGE`.
    Expunge(NonZeroU32),
    /// `n FETCH (...)`.
    Fetch {
        /// Message sequence number.
        seq: NonZeroU32,
        /// The attributes.
        items: Vec<MsgAtt<'a>>,
    },
    /// `VANISHED [(EARLIER)] uids` (RFC 7162 §3.2.10).
    Vanished {
        /// `(EARLIER)`.
        earlier: bool,
        /// The expunged UIDs.
        uids: SequenceSet,
    },
    /// `ID (field value ...)` or `ID NIL` (RFC 2971). The response parser holds the server to
    /// RFC 2971 §3.3 as the command parser holds the client: more than 30 pairs, a field name
    /// over 30 octets or a value over 1024 is a
    /// [`ParseErrorKind::Syntax`](crate::error::ParseErrorKind::Syntax) error (not a silent
    /// truncation: a client never acts on part of an answer).
    Id(Option<Vec<(IString<'a>, NString<'a>)>>),
    /// `NAMESPACE personal other shared` (RFC 2342), each `None` for NIL.
    Namespace([Option<Vec<NamespaceDesc<'a>>>; 3]),
    /// `QUOTA root (resource usage limit ...)` (RFC 9208 §5.1).
    Quota {
        /// The quota root.
        root: AString<'a>,
        /// (resource name, usage, limit).
        resources: Vec<(Atom<'a>, u64, u64)>,
    },
    /// `QUOTAROOT mailbox root ...` (RFC 9208 §5.2).
    QuotaRoot {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// Its quota roots.
        roots: Vec<AString<'a>>,
    },
    /// Untagged data this crate does not know: the name and the raw rest of the line.
    Other {
        /// The response name (after an optional number).
        name: Atom<'a>,
        /// The leading number, if any (`* 3 XFOO`).
        number: Option<u32>,
        /// The rest of the line after a space, without CRLF.
        rest: Cow<'a, [u8]>,
    },
}

/// A `LIST` or `LSUB` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListData<'a> {
    /// `LSUB` rather than `LIST`.
    pub lsub: bool,
    /// Attributes and special uses, without the backslash.
    pub attributes: Vec<MailboxAttribute<'a>>,
    /// Hierarchy delimiter; `None` for NIL (flat namespace).
    pub delimiter: Option<u8>,
    /// The mailbox name as sent.
    pub mailbox: Mailbox<'a>,
    /// LIST-EXTENDED items (RFC 5258 §9: `CHILDINFO`, `OLDNAME`, …): label and value.
    pub extended: Vec<(IString<'a>, ExtValue<'a>)>,
}

/// A generic value: `tagged-ext-val` of LIST-EXTENDED and `body-extension` of BODYSTRUCTURE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtValue<'a> {
    /// `NIL`.
    Nil,
    /// A number.
    Number(u64),
    /// An atom (or a sequence set written as one).
    Atom(Atom<'a>),
    /// A quoted string or literal.
    String(IString<'a>),
    /// A parenthesized list.
    List(Vec<ExtValue<'a>>),
}

/// One item of an ESEARCH response (RFC 4731 §3.1, RFC 7162 §3.1.5).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ESearchItem<'a> {
    /// `MIN n`.
    Min(NonZeroU32),
    /// `MAX n`.
    Max(NonZeroU32),
    /// `COUNT n`.
    Count(u32),
    /// `ALL set`.
    All(SequenceSet),
    /// `MODSEQ n`.
    ModSeq(u64),
    /// Anything else: name and value.
    Other(Atom<'a>, ExtValue<'a>),
    /// `PARTIAL (range results)` (RFC 9394 §3.1): the range asked for and the UIDs or message
    /// numbers found at those positions, `None` for `NIL` (none there).
    Partial {
        /// The range, as in the command.
        range: PartialRange,
        /// The results in that range.
        results: Option<SequenceSet>,
    },
}

/// One namespace of a NAMESPACE response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceDesc<'a> {
    /// The prefix.
    pub prefix: IString<'a>,
    /// The delimiter; `None` for NIL.
    pub delimiter: Option<u8>,
    /// Extensions: name and values.
    pub extensions: Vec<(IString<'a>, Vec<IString<'a>>)>,
}

/// The flags of a FETCH `FLAGS` attribute: up to 3 held inline, more on the heap (see
/// [`SmallList`]).
pub type FlagList<'a> = SmallList<Flag<'a>>;

/// A FETCH message attribute (RFC 9051 §7.5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MsgAtt<'a> {
    /// `FLAGS (...)`.
    Flags(FlagList<'a>),
    /// `UID n`.
    Uid(NonZeroU32),
    /// `RFC822.SIZE n`.
    Rfc822Size(u64),
    /// `INTERNALDATE "..."`.
    InternalDate(DateTime),
    /// `ENVELOPE (...)`: as received (validated, parsed on demand) or built; see
    /// [`LazyEnvelope`].
    Envelope(LazyEnvelope<'a>),
    /// `BODY (...)`: the structure without extension data; see [`LazyBody`].
    Body(LazyBody<'a>),
    /// `BODYSTRUCTURE (...)`; see [`LazyBody`].
    BodyStructure(LazyBody<'a>),
    /// `BODY[section]<origin> nstring`.
    BodySection {
        /// The section.
        section: Section<'a>,
        /// The origin octet of a partial fetch.
        origin: Option<u32>,
        /// The content.
        data: NString<'a>,
    },
    /// `BINARY[part]<origin> literal8 / nstring` (RFC 3516 §4.3).
    Binary {
        /// Part numbers.
        part: Vec<NonZeroU32>,
        /// The origin octet of a partial fetch.
        origin: Option<u32>,
        /// The content; `None` for NIL.
        data: Option<Literal<'a>>,
    },
    /// `BINARY.SIZE[part] n`.
    BinarySize {
        /// Part numbers.
        part: Vec<NonZeroU32>,
        /// Decoded size.
        size: u32,
    },
    /// `MODSEQ (n)` (RFC 7162 §3.1.4).
    ModSeq(u64),
    /// `RFC822 nstring`.
    Rfc822(NString<'a>),
    /// `RFC822.HEADER nstring`.
    Rfc822Header(NString<'a>),
    /// `RFC822.TEXT nstring`.
    Rfc822Text(NString<'a>),
    /// Gmail's `X-GM-LABELS (...)` (the X-GM-EXT-1 extension): system labels as backslash
    /// atoms (`\Inbox`), user labels as astrings (`"Work/Project X"`, `Receipts`); Gmail
    /// also quotes system labels (`"\\Important"`), kept as the quoted string they are.
    GmailLabels(Vec<GmailLabel<'a>>),
    /// An attribute this crate does not type (`X-GM-MSGID n`, `PREVIEW "..."`,
    /// `EMAILID (M1)`, …): its name and a generic value.
    Other {
        /// The attribute name as sent.
        name: Atom<'a>,
        /// Its value.
        value: ExtValue<'a>,
    },
}

/// One label of Gmail's `X-GM-LABELS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GmailLabel<'a> {
    /// A system label written as a backslash atom: `\Inbox` holds `Inbox`.
    System(Atom<'a>),
    /// A label written as an astring (atom, quoted string or literal), as sent: Gmail's
    /// quoted `"\\Important"` holds `\Important`.
    Label(AString<'a>),
}

impl GmailLabel<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> GmailLabel<'static> {
        match self {
            GmailLabel::System(a) => GmailLabel::System(a.into_owned()),
            GmailLabel::Label(s) => GmailLabel::Label(s.into_owned()),
        }
    }
}

/// An ENVELOPE (RFC 9051 §7.5.2). Address lists are `None` for NIL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// Date header.
    pub date: NString<'a>,
    /// Subject header.
    pub subject: NString<'a>,
    /// From.
    pub from: Option<Vec<Address<'a>>>,
    /// Sender.
    pub sender: Option<Vec<Address<'a>>>,
    /// Reply-To.
    pub reply_to: Option<Vec<Address<'a>>>,
    /// To.
    pub to: Option<Vec<Address<'a>>>,
    /// Cc.
    pub cc: Option<Vec<Address<'a>>>,
    /// Bcc.
    pub bcc: Option<Vec<Address<'a>>>,
    /// In-Reply-To.
    pub in_reply_to: NString<'a>,
    /// Message-ID.
    pub message_id: NString<'a>,
}

/// An address of an ENVELOPE: `(name adl mailbox host)` (group syntax per RFC 9051 §7.5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address<'a> {
    /// Display name.
    pub name: NString<'a>,
    /// Source route (obsolete).
    pub adl: NString<'a>,
    /// Local part (or group name).
    pub mailbox: NString<'a>,
    /// Domain (NIL for group markers).
    pub host: NString<'a>,
}

/// Parameters of a body part: `(name value ...)` or `None` for NIL. Values are `NString` so
/// the `nil_body_param` quirk can keep a NIL value.
pub type BodyParams<'a> = Option<Vec<(IString<'a>, NString<'a>)>>;

/// A BODYSTRUCTURE (or BODY) value (RFC 9051 §7.5.2 `body`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyStructure<'a> {
    /// A single part.
    Single {
        /// Media type (`TEXT`, `IMAGE`, …).
        media_type: IString<'a>,
        /// Subtype.
        subtype: IString<'a>,
        /// Content-Type parameters.
        params: BodyParams<'a>,
        /// Content-ID.
        id: NString<'a>,
        /// Content-Description.
        description: NString<'a>,
        /// Content-Transfer-Encoding.
        encoding: IString<'a>,
        /// Size in octets.
        octets: u32,
        /// Text or message/rfc822 specific fields.
        specific: SinglePartKind<'a>,
        /// Extension data (md5, disposition, language, location, …), as sent.
        extension: Vec<ExtValue<'a>>,
    },
    /// A multipart.
    Multi {
        /// The parts (at least one).
        parts: Vec<BodyStructure<'a>>,
        /// Subtype (`MIXED`, `ALTERNATIVE`, …).
        subtype: IString<'a>,
        /// Extension data (params, disposition, language, location, …), as sent.
        extension: Vec<ExtValue<'a>>,
    },
}

/// The type-specific fields of a single part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinglePartKind<'a> {
    /// Any type other than TEXT and MESSAGE/RFC822 (or GLOBAL).
    Basic,
    /// `TEXT/*`: line count.
    Text {
        /// Lines.
        lines: u32,
    },
    /// `MESSAGE/RFC822` or `MESSAGE/GLOBAL`: the encapsulated message.
    Message {
        /// Its envelope.
        envelope: Box<Envelope<'a>>,
        /// Its body.
        body: Box<BodyStructure<'a>>,
        /// Lines.
        lines: u32,
    },
}

fn own(c: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
    Cow::Owned(c.into_owned())
}

fn own_vec<T, U>(v: Vec<T>, f: impl FnMut(T) -> U) -> Vec<U> {
    v.into_iter().map(f).collect()
}

impl Response<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Response<'static> {
        match self {
            Response::Status {
                tag,
                kind,
                code,
                text,
            } => Response::Status {
                tag: tag.map(Tag::into_owned),
                kind,
                code: code.map(Code::into_owned),
                text: own(text),
            },
            Response::Data(d) => Response::Data(d.into_owned()),
            Response::Continuation { code, text } => Response::Continuation {
                code: code.map(Code::into_owned),
                text: own(text),
            },
        }
    }
}

impl Greeting<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Greeting<'static> {
        Greeting {
            kind: self.kind,
            code: self.code.map(Code::into_owned),
            text: own(self.text),
        }
    }
}

impl Code<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Code<'static> {
        match self {
            Code::Simple(s) => Code::Simple(s),
            Code::BadCharset(v) => Code::BadCharset(own_vec(v, AString::into_owned)),
            Code::Capability(v) => Code::Capability(own_vec(v, Capability::into_owned)),
            Code::PermanentFlags(v) => Code::PermanentFlags(own_vec(v, FlagPerm::into_owned)),
            Code::UidNext(n) => Code::UidNext(n),
            Code::UidValidity(n) => Code::UidValidity(n),
            Code::Unseen(n) => Code::Unseen(n),
            Code::HighestModSeq(n) => Code::HighestModSeq(n),
            Code::Modified(s) => Code::Modified(s),
            Code::AppendUid { validity, uids } => Code::AppendUid { validity, uids },
            Code::CopyUid { validity, from, to } => Code::CopyUid { validity, from, to },
            Code::Other { name, text } => Code::Other {
                name: name.into_owned(),
                text: text.map(own),
            },
        }
    }
}

impl Data<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Data<'static> {
        match self {
            Data::Capability(v) => Data::Capability(own_vec(v, Capability::into_owned)),
            Data::Enabled(v) => Data::Enabled(own_vec(v, Capability::into_owned)),
            Data::List(l) => Data::List(l.into_owned()),
            Data::Status { mailbox, items } => Data::Status {
                mailbox: mailbox.into_owned(),
                items,
            },
            Data::Search { ids, modseq } => Data::Search { ids, modseq },
            Data::ESearch { tag, uid, items } => Data::ESearch {
                tag: tag.map(IString::into_owned),
                uid,
                items: own_vec(items, ESearchItem::into_owned),
            },
            Data::Flags(v) => Data::Flags(own_vec(v, Flag::into_owned)),
            Data::Exists(n) => Data::Exists(n),
            Data::Recent(n) => Data::Recent(n),
            Data::Expunge(n) => Data::Expunge(n),
            Data::Fetch { seq, items } => Data::Fetch {
                seq,
                items: own_vec(items, MsgAtt::into_owned),
            },
            Data::Vanished { earlier, uids } => Data::Vanished { earlier, uids },
            Data::Id(v) => {
                Data::Id(v.map(|v| own_vec(v, |(k, v)| (k.into_owned(), v.into_owned()))))
            }
            Data::Namespace(ns) => {
                Data::Namespace(ns.map(|n| n.map(|v| own_vec(v, NamespaceDesc::into_owned))))
            }
            Data::Quota { root, resources } => Data::Quota {
                root: root.into_owned(),
                resources: own_vec(resources, |(a, u, l)| (a.into_owned(), u, l)),
            },
            Data::QuotaRoot { mailbox, roots } => Data::QuotaRoot {
                mailbox: mailbox.into_owned(),
                roots: own_vec(roots, AString::into_owned),
            },
            Data::Other { name, number, rest } => Data::Other {
                name: name.into_owned(),
                number,
                rest: own(rest),
            },
        }
    }
}

impl ListData<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> ListData<'static> {
        ListData {
            lsub: self.lsub,
            attributes: own_vec(self.attributes, MailboxAttribute::into_owned),
            delimiter: self.delimiter,
            mailbox: self.mailbox.into_owned(),
            extended: own_vec(self.extended, |(k, v)| (k.into_owned(), v.into_owned())),
        }
    }
}

impl ExtValue<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> ExtValue<'static> {
        match self {
            ExtValue::Nil => ExtValue::Nil,
            ExtValue::Number(n) => ExtValue::Number(n),
            ExtValue::Atom(a) => ExtValue::Atom(a.into_owned()),
            ExtValue::String(s) => ExtValue::String(s.into_owned()),
            ExtValue::List(v) => ExtValue::List(own_vec(v, ExtValue::into_owned)),
        }
    }
}

impl ESearchItem<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> ESearchItem<'static> {
        match self {
            ESearchItem::Min(n) => ESearchItem::Min(n),
            ESearchItem::Max(n) => ESearchItem::Max(n),
            ESearchItem::Count(n) => ESearchItem::Count(n),
            ESearchItem::All(s) => ESearchItem::All(s),
            ESearchItem::ModSeq(n) => ESearchItem::ModSeq(n),
            ESearchItem::Other(a, v) => ESearchItem::Other(a.into_owned(), v.into_owned()),
            ESearchItem::Partial { range, results } => ESearchItem::Partial { range, results },
        }
    }
}

impl NamespaceDesc<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> NamespaceDesc<'static> {
        NamespaceDesc {
            prefix: self.prefix.into_owned(),
            delimiter: self.delimiter,
            extensions: own_vec(self.extensions, |(k, v)| {
                (k.into_owned(), own_vec(v, IString::into_owned))
            }),
        }
    }
}

impl MsgAtt<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> MsgAtt<'static> {
        match self {
            MsgAtt::Flags(v) => MsgAtt::Flags(v.into_iter().map(Flag::into_owned).collect()),
            MsgAtt::Uid(n) => MsgAtt::Uid(n),
            MsgAtt::Rfc822Size(n) => MsgAtt::Rfc822Size(n),
            MsgAtt::InternalDate(d) => MsgAtt::InternalDate(d),
            MsgAtt::Envelope(e) => MsgAtt::Envelope(e.into_owned()),
            MsgAtt::Body(b) => MsgAtt::Body(b.into_owned()),
            MsgAtt::BodyStructure(b) => MsgAtt::BodyStructure(b.into_owned()),
            MsgAtt::BodySection {
                section,
                origin,
                data,
            } => MsgAtt::BodySection {
                section: section.into_owned(),
                origin,
                data: data.into_owned(),
            },
            MsgAtt::Binary { part, origin, data } => MsgAtt::Binary {
                part,
                origin,
                data: data.map(Literal::into_owned),
            },
            MsgAtt::BinarySize { part, size } => MsgAtt::BinarySize { part, size },
            MsgAtt::ModSeq(n) => MsgAtt::ModSeq(n),
            MsgAtt::Rfc822(s) => MsgAtt::Rfc822(s.into_owned()),
            MsgAtt::Rfc822Header(s) => MsgAtt::Rfc822Header(s.into_owned()),
            MsgAtt::Rfc822Text(s) => MsgAtt::Rfc822Text(s.into_owned()),
            MsgAtt::Other { name, value } => MsgAtt::Other {
                name: name.into_owned(),
                value: value.into_owned(),
            },
            MsgAtt::GmailLabels(v) => {
                MsgAtt::GmailLabels(v.into_iter().map(GmailLabel::into_owned).collect())
            }
        }
    }
}

fn own_addrs(v: Option<Vec<Address<'_>>>) -> Option<Vec<Address<'static>>> {
    v.map(|v| own_vec(v, Address::into_owned))
}

impl Envelope<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Envelope<'static> {
        Envelope {
            date: self.date.into_owned(),
            subject: self.subject.into_owned(),
            from: own_addrs(self.from),
            sender: own_addrs(self.sender),
            reply_to: own_addrs(self.reply_to),
            to: own_addrs(self.to),
            cc: own_addrs(self.cc),
            bcc: own_addrs(self.bcc),
            in_reply_to: self.in_reply_to.into_owned(),
            message_id: self.message_id.into_owned(),
        }
    }
}

impl Address<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Address<'static> {
        Address {
            name: self.name.into_owned(),
            adl: self.adl.into_owned(),
            mailbox: self.mailbox.into_owned(),
            host: self.host.into_owned(),
        }
    }
}

impl BodyStructure<'_> {
    /// Detaches from the input buffer. Recursion follows the structure's depth, which the
    /// parser bounds ([`crate::parse::ParseOptions::max_depth`]).
    pub fn into_owned(self) -> BodyStructure<'static> {
        match self {
            BodyStructure::Single {
                media_type,
                subtype,
                params,
                id,
                description,
                encoding,
                octets,
                specific,
                extension,
            } => BodyStructure::Single {
                media_type: media_type.into_owned(),
                subtype: subtype.into_owned(),
                params: params.map(|v| own_vec(v, |(k, v)| (k.into_owned(), v.into_owned()))),
                id: id.into_owned(),
                description: description.into_owned(),
                encoding: encoding.into_owned(),
                octets,
                specific: match specific {
                    SinglePartKind::Basic => SinglePartKind::Basic,
                    SinglePartKind::Text { lines } => SinglePartKind::Text { lines },
                    SinglePartKind::Message {
                        envelope,
                        body,
                        lines,
                    } => SinglePartKind::Message {
                        envelope: Box::new(envelope.into_owned()),
                        body: Box::new(body.into_owned()),
                        lines,
                    },
                },
                extension: own_vec(extension, ExtValue::into_owned),
            },
            BodyStructure::Multi {
                parts,
                subtype,
                extension,
            } => BodyStructure::Multi {
                parts: own_vec(parts, BodyStructure::into_owned),
                subtype: subtype.into_owned(),
                extension: own_vec(extension, ExtValue::into_owned),
            },
        }
    }
}

/// A parameter name and value, borrowed from a body structure.
pub type ParamRef<'b> = (&'b [u8], &'b [u8]);

impl<'a> BodyStructure<'a> {
    /// The extension data (`body-ext-1part` / `body-ext-mpart`), as sent.
    pub fn extension(&self) -> &[ExtValue<'a>] {
        match self {
            BodyStructure::Single { extension, .. } | BodyStructure::Multi { extension, .. } => {
                extension
            }
        }
    }

    /// `Content-Disposition` from the extension data (RFC 9051 §7.5.2 `body-fld-dsp`): the
    /// disposition (`attachment`, `inline`) and its parameters. It follows the MD5 of a single
    /// part and the parameters of a multipart.
    ///
    /// ```
    /// use mailsec_imap::parse;
    /// use mailsec_imap::types::{Data, MsgAtt, Response};
    /// let line = b"* 1 FETCH (BODYSTRUCTURE (\"application\" \"pdf\" NIL NIL NIL \"base64\" 4 NIL (\"attachment\" (\"filename\" \"a.pdf\")) NIL NIL))\r\n";
    /// let (Response::Data(Data::Fetch { items, .. }), _) = parse::response(line).unwrap() else { panic!() };
    /// let MsgAtt::BodyStructure(b) = &items[0] else { panic!() };
    /// let b = b.get().unwrap();
    /// let (kind, params) = b.disposition().unwrap();
    /// assert_eq!(kind, b"attachment");
    /// assert_eq!(params, vec![(&b"filename"[..], &b"a.pdf"[..])]);
    /// ```
    pub fn disposition(&self) -> Option<(&[u8], Vec<ParamRef<'_>>)> {
        let ExtValue::List(d) = self.extension().get(1)? else {
            return None;
        };
        let ExtValue::String(kind) = d.first()? else {
            return None;
        };
        let mut params = Vec::new();
        if let Some(ExtValue::List(p)) = d.get(1) {
            for pair in p.chunks_exact(2) {
                if let [ExtValue::String(k), ExtValue::String(v)] = pair {
                    params.push((k.as_bytes(), v.as_bytes()));
                }
            }
        }
        Some((kind.as_bytes(), params))
    }

    /// The parts of a multipart (empty for a single part).
    pub fn parts(&self) -> &[BodyStructure<'a>] {
        match self {
            BodyStructure::Multi { parts, .. } => parts,
            BodyStructure::Single { .. } => &[],
        }
    }
}
