//! Canonical bytes of commands, with the positions of their literals.
//!
//! Each value is written in the form it holds (atom, quoted or literal; sync or non-sync), so
//! `parse(serialize(v)) == v`. Choosing a form is the constructors' job ([`IString::new`],
//! [`AString::new`]: a literal when the text has CR, LF, 8-bit octets or is long). Keywords are
//! written upper case, INBOX as `INBOX`, dates without a leading zero (`date`) or with two
//! digits (`date-time`); bytes already in that canonical form come back unchanged.
//!
//! A client cannot send a synchronizing literal's octets before the server's `+`: the
//! returned [`LiteralAt`] list says where each literal's octets begin, so the client machine
//! sends `out[..offset]`, waits for `+` when `sync`, and goes on. [`SerializeOptions`] says what
//! the server allows: without LITERAL+ (or LITERAL- and at most 4096 octets, RFC 7888 §5) a
//! non-synchronizing literal is written as a synchronizing one.
//!
//! ```
//! use mailsec_imap::serialize::{self, SerializeOptions};
//! use mailsec_imap::types::*;
//! let cmd = Command {
//!     tag: Tag::new("A1").unwrap(),
//!     body: CommandBody::Login {
//!         username: AString::new(&b"alice"[..]).unwrap(),
//!         password: Secret::new(AString::new(&b"p\xc3\xa4ss"[..]).unwrap()),
//!     },
//! };
//! let mut out = bytes::BytesMut::new();
//! let lits = serialize::command_with(&cmd, &SerializeOptions::default(), &mut out);
//! assert_eq!(&out[..], b"A1 LOGIN alice {5}\r\np\xc3\xa4ss\r\n");
//! assert_eq!(lits.len(), 1);
//! assert_eq!((lits[0].offset, lits[0].len, lits[0].sync), (20, 5, true));
//! ```
//!
//! [`IString::new`]: crate::types::IString::new
//! [`AString::new`]: crate::types::AString::new

mod response;

pub use response::{msg_att, response};

use bytes::{BufMut, BytesMut};

use crate::types::*;

/// What the server accepts, for literals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SerializeOptions {
    /// LITERAL+ advertised: non-synchronizing literals of any size.
    pub literal_plus: bool,
    /// LITERAL- advertised (or IMAP4rev2): non-synchronizing literals up to 4096 octets.
    pub literal_minus: bool,
    /// Write every literal non-synchronizing when the server allows it, whatever its mode.
    pub prefer_non_sync: bool,
}

impl SerializeOptions {
    /// Writes each literal in the mode it holds (the form [`command`] uses).
    pub fn exact() -> Self {
        SerializeOptions {
            literal_plus: true,
            literal_minus: false,
            prefer_non_sync: false,
        }
    }
    /// Sets LITERAL+.
    pub fn literal_plus(mut self, on: bool) -> Self {
        self.literal_plus = on;
        self
    }
    /// Sets LITERAL-.
    pub fn literal_minus(mut self, on: bool) -> Self {
        self.literal_minus = on;
        self
    }
    /// Sets the preference for non-synchronizing literals.
    pub fn prefer_non_sync(mut self, on: bool) -> Self {
        self.prefer_non_sync = on;
        self
    }
}

/// Where a literal's octets begin in the bytes written by one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiteralAt {
    /// Offset (from the start of what the call appended) of the literal's first octet, just
    /// after `{n}\r\n`.
    pub offset: usize,
    /// Number of octets.
    pub len: usize,
    /// Whether the client must wait for `+` before sending `offset..`.
    pub sync: bool,
}

/// Writes a command with each literal in the mode it holds; see [`command_with`].
pub fn command(cmd: &Command<'_>, out: &mut BytesMut) -> Vec<LiteralAt> {
    command_with(cmd, &SerializeOptions::exact(), out)
}

/// Writes a command and its CRLF; returns where its literals are.
pub fn command_with(
    cmd: &Command<'_>,
    opts: &SerializeOptions,
    out: &mut BytesMut,
) -> Vec<LiteralAt> {
    let mut w = W {
        base: out.len(),
        out,
        opts: *opts,
        lits: Vec::new(),
    };
    w.raw(cmd.tag.as_str().as_bytes());
    w.sp();
    body(&mut w, &cmd.body);
    w.raw(b"\r\n");
    w.lits
}

/// Writes an AUTHENTICATE continuation line: base64 (`Empty` as an empty line) or `*`.
pub fn authenticate_data(data: &AuthData<'_>, out: &mut BytesMut) {
    let mut v = Vec::new();
    match data {
        AuthData::Empty => {}
        AuthData::Cancel => v.push(b'*'),
        AuthData::Data(d) => crate::parse::base64_encode(d.expose(), &mut v),
    }
    out.put_slice(&v);
    out.put_slice(b"\r\n");
}

/// Writes `DONE\r\n`, the end of IDLE.
pub fn idle_done(out: &mut BytesMut) {
    out.put_slice(b"DONE\r\n");
}

struct W<'o> {
    out: &'o mut BytesMut,
    base: usize,
    opts: SerializeOptions,
    lits: Vec<LiteralAt>,
}

impl W<'_> {
    fn raw(&mut self, b: &[u8]) {
        self.out.put_slice(b);
    }
    fn sp(&mut self) {
        self.out.put_u8(b' ');
    }
    fn num(&mut self, n: u64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let mut n = n;
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.out.put_slice(&buf[i..]);
    }
    fn quoted(&mut self, q: &Quoted<'_>) {
        self.out.put_u8(b'"');
        let mut rest = q.as_bytes();
        while let Some(i) = memchr::memchr2(b'"', b'\\', rest) {
            self.out.put_slice(&rest[..i]);
            self.out.put_u8(b'\\');
            self.out.put_u8(rest[i]);
            rest = &rest[i + 1..];
        }
        self.out.put_slice(rest);
        self.out.put_u8(b'"');
    }
    fn literal(&mut self, l: &Literal<'_>) {
        let data = l.as_bytes();
        let allowed = self.opts.literal_plus || (self.opts.literal_minus && data.len() <= 4096);
        let want = l.mode() == LiteralMode::NonSync || self.opts.prefer_non_sync;
        let non_sync = want && allowed;
        if l.is_binary() {
            self.out.put_u8(b'~');
        }
        self.out.put_u8(b'{');
        self.num(data.len() as u64);
        if non_sync {
            self.out.put_u8(b'+');
        }
        self.raw(b"}\r\n");
        self.lits.push(LiteralAt {
            offset: self.out.len() - self.base,
            len: data.len(),
            sync: !non_sync,
        });
        self.out.put_slice(data);
    }
    fn string(&mut self, s: &IString<'_>) {
        match s {
            IString::Quoted(q) => self.quoted(q),
            IString::Literal(l) => self.literal(l),
        }
    }
    fn astring(&mut self, s: &AString<'_>) {
        match s {
            AString::Atom(a) => self.raw(a.as_bytes()),
            AString::String(s) => self.string(s),
        }
    }
    fn mailbox(&mut self, m: &Mailbox<'_>) {
        match m {
            Mailbox::Inbox => self.raw(b"INBOX"),
            Mailbox::Other(a) => self.astring(a),
        }
    }
    fn list_mailbox(&mut self, m: &ListMailbox<'_>) {
        match m {
            ListMailbox::Token(t) => self.raw(t.as_bytes()),
            ListMailbox::String(s) => self.string(s),
        }
    }
    fn list<T>(&mut self, items: &[T], mut f: impl FnMut(&mut Self, &T)) {
        self.out.put_u8(b'(');
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            f(self, it);
        }
        self.out.put_u8(b')');
    }
    fn partial_range(&mut self, r: PartialRange) {
        let mut v = Vec::new();
        r.write_to(&mut v);
        self.raw(&v);
    }
    fn seq_number(&mut self, n: SeqNumber) {
        match n {
            SeqNumber::Value(v) => self.num(u64::from(v.get())),
            SeqNumber::Largest => self.raw(b"*"),
        }
    }
    fn sequence_set(&mut self, s: &SequenceSet) {
        match s {
            SequenceSet::Saved => self.raw(b"$"),
            SequenceSet::Ranges(r) => {
                for (i, r) in r.iter().enumerate() {
                    if i > 0 {
                        self.raw(b",");
                    }
                    match *r {
                        SeqRange::Single(a) => self.seq_number(a),
                        SeqRange::Range(a, b) => {
                            self.seq_number(a);
                            self.raw(b":");
                            self.seq_number(b);
                        }
                    }
                }
            }
        }
    }
    fn flag(&mut self, f: &Flag<'_>) {
        match f {
            Flag::Answered => self.raw(b"\\Answered"),
            Flag::Flagged => self.raw(b"\\Flagged"),
            Flag::Deleted => self.raw(b"\\Deleted"),
            Flag::Seen => self.raw(b"\\Seen"),
            Flag::Draft => self.raw(b"\\Draft"),
            Flag::Recent => self.raw(b"\\Recent"),
            Flag::Keyword(a) => self.raw(a.as_str().as_bytes()),
            Flag::Extension(a) => {
                self.raw(b"\\");
                self.raw(a.as_str().as_bytes());
            }
        }
    }
    fn date(&mut self, d: Date) {
        self.num(u64::from(d.day()));
        self.raw(b"-");
        self.raw(datetime_months()[usize::from(d.month() - 1)].as_bytes());
        self.raw(b"-");
        self.pad(u64::from(d.year()), 4);
    }
    fn pad(&mut self, n: u64, width: u32) {
        let mut div = 10u64.pow(width - 1);
        while div > 0 {
            self.out.put_u8(b'0' + ((n / div) % 10) as u8);
            div /= 10;
        }
    }
    fn date_time(&mut self, dt: DateTime) {
        let d = dt.date();
        self.raw(b"\"");
        self.pad(u64::from(d.day()), 2);
        self.raw(b"-");
        self.raw(datetime_months()[usize::from(d.month() - 1)].as_bytes());
        self.raw(b"-");
        self.pad(u64::from(d.year()), 4);
        let (h, m, s) = dt.time();
        self.sp();
        self.pad(u64::from(h), 2);
        self.raw(b":");
        self.pad(u64::from(m), 2);
        self.raw(b":");
        self.pad(u64::from(s), 2);
        self.sp();
        let z = dt.zone_minutes();
        self.raw(if z < 0 { b"-" } else { b"+" });
        let z = u64::from(z.unsigned_abs());
        self.pad(z / 60, 2);
        self.pad(z % 60, 2);
        self.raw(b"\"");
    }
    fn status_items(&mut self, items: &[StatusItem]) {
        self.list(items, |w, i| w.raw(i.name().as_bytes()));
    }
}

fn body(w: &mut W<'_>, b: &CommandBody<'_>) {
    use CommandBody as C;
    match b {
        C::Capability
        | C::Noop
        | C::Logout
        | C::StartTls
        | C::Namespace
        | C::Idle
        | C::Check
        | C::Close
        | C::Unselect
        | C::Expunge => w.raw(b.name().as_bytes()),
        C::Id(params) => {
            w.raw(b"ID ");
            match params {
                None => w.raw(b"NIL"),
                Some(v) => w.list(v, |w, (k, v)| {
                    w.string(k);
                    w.sp();
                    match &v.0 {
                        None => w.raw(b"NIL"),
                        Some(s) => w.string(s),
                    }
                }),
            }
        }
        C::Enable(caps) => {
            w.raw(b"ENABLE");
            for c in caps {
                w.sp();
                let mut v = Vec::new();
                c.write_to(&mut v);
                w.raw(&v);
            }
        }
        C::Compress(a) => {
            w.raw(b"COMPRESS ");
            w.raw(a.as_str().as_bytes());
        }
        C::Authenticate { mechanism, initial } => {
            w.raw(b"AUTHENTICATE ");
            w.raw(mechanism.as_str().as_bytes());
            if let Some(i) = initial {
                w.sp();
                match i {
                    AuthData::Empty => w.raw(b"="),
                    AuthData::Cancel => w.raw(b"*"),
                    AuthData::Data(d) if d.expose().is_empty() => w.raw(b"="),
                    AuthData::Data(d) => {
                        let mut v = Vec::new();
                        crate::parse::base64_encode(d.expose(), &mut v);
                        w.raw(&v);
                    }
                }
            }
        }
        C::Login { username, password } => {
            w.raw(b"LOGIN ");
            w.astring(username);
            w.sp();
            w.astring(password.expose());
        }
        C::Select { mailbox, params } | C::Examine { mailbox, params } => {
            w.raw(b.name().as_bytes());
            w.sp();
            w.mailbox(mailbox);
            if !params.is_empty() {
                w.sp();
                w.list(params, |w, p| match p {
                    SelectParam::CondStore => w.raw(b"CONDSTORE"),
                    SelectParam::QResync {
                        uid_validity,
                        modseq,
                        known_uids,
                        seq_match,
                    } => {
                        w.raw(b"QRESYNC (");
                        w.num(u64::from(uid_validity.get()));
                        w.sp();
                        w.num(modseq.get());
                        if let Some(k) = known_uids {
                            w.sp();
                            w.sequence_set(k);
                        }
                        if let Some((a, b)) = seq_match {
                            w.raw(b" (");
                            w.sequence_set(a);
                            w.sp();
                            w.sequence_set(b);
                            w.raw(b")");
                        }
                        w.raw(b")");
                    }
                });
            }
        }
        C::Create {
            mailbox,
            special_use,
        } => {
            w.raw(b"CREATE ");
            w.mailbox(mailbox);
            if !special_use.is_empty() {
                w.raw(b" (USE ");
                w.list(special_use, |w, a| {
                    w.raw(b"\\");
                    w.raw(a.0.as_str().as_bytes());
                });
                w.raw(b")");
            }
        }
        C::Delete(m) | C::Subscribe(m) | C::Unsubscribe(m) | C::GetQuotaRoot(m) => {
            w.raw(b.name().as_bytes());
            w.sp();
            w.mailbox(m);
        }
        C::GetQuota(r) => {
            w.raw(b"GETQUOTA ");
            w.astring(r);
        }
        C::SetQuota { root, limits } => {
            w.raw(b"SETQUOTA ");
            w.astring(root);
            w.sp();
            w.list(limits, |w, l| {
                w.raw(l.resource.as_str().as_bytes());
                w.sp();
                w.num(l.limit);
            });
        }
        C::Rename { from, to } => {
            w.raw(b"RENAME ");
            w.mailbox(from);
            w.sp();
            w.mailbox(to);
        }
        C::List {
            selection,
            reference,
            patterns,
            patterns_list,
            return_opts,
        } => {
            w.raw(b"LIST ");
            if let Some(sel) = selection {
                w.list(sel, |w, s| match s {
                    ListSelect::Subscribed => w.raw(b"SUBSCRIBED"),
                    ListSelect::Remote => w.raw(b"REMOTE"),
                    ListSelect::RecursiveMatch => w.raw(b"RECURSIVEMATCH"),
                    ListSelect::SpecialUse => w.raw(b"SPECIAL-USE"),
                    ListSelect::Other(a) => w.raw(a.as_str().as_bytes()),
                });
                w.sp();
            }
            w.mailbox(reference);
            w.sp();
            if *patterns_list || patterns.len() != 1 {
                w.list(patterns, |w, p| w.list_mailbox(p));
            } else {
                w.list_mailbox(&patterns[0]);
            }
            if let Some(r) = return_opts {
                w.raw(b" RETURN ");
                w.list(r, |w, o| match o {
                    ListReturn::Subscribed => w.raw(b"SUBSCRIBED"),
                    ListReturn::Children => w.raw(b"CHILDREN"),
                    ListReturn::SpecialUse => w.raw(b"SPECIAL-USE"),
                    ListReturn::Status(items) => {
                        w.raw(b"STATUS ");
                        w.status_items(items);
                    }
                    ListReturn::Other(a) => w.raw(a.as_str().as_bytes()),
                });
            }
        }
        C::Lsub { reference, pattern } => {
            w.raw(b"LSUB ");
            w.mailbox(reference);
            w.sp();
            w.list_mailbox(pattern);
        }
        C::Status { mailbox, items } => {
            w.raw(b"STATUS ");
            w.mailbox(mailbox);
            w.sp();
            w.status_items(items);
        }
        C::Append {
            mailbox,
            flags,
            date,
            message,
            utf8,
        } => {
            w.raw(b"APPEND ");
            w.mailbox(mailbox);
            w.sp();
            if let Some(f) = flags {
                w.list(f, |w, f| w.flag(f));
                w.sp();
            }
            if let Some(d) = date {
                w.date_time(*d);
                w.sp();
            }
            if *utf8 {
                w.raw(b"UTF8 (");
                w.literal(message);
                w.raw(b")");
            } else {
                w.literal(message);
            }
        }
        C::UidExpunge(s) => {
            w.raw(b"UID EXPUNGE ");
            w.sequence_set(s);
        }
        C::Search {
            return_opts,
            charset,
            criteria,
            ..
        } => {
            w.raw(b.name().as_bytes());
            if let Some(r) = return_opts {
                w.raw(b" RETURN ");
                w.list(r, |w, o| {
                    w.raw(o.name().as_bytes());
                    if let SearchReturn::Partial(range) = o {
                        w.sp();
                        w.partial_range(*range);
                    }
                });
            }
            if let Some(c) = charset {
                w.raw(b" CHARSET ");
                w.astring(c);
            }
            for k in criteria {
                w.sp();
                search_key(w, k);
            }
        }
        C::Fetch {
            set,
            items,
            modifiers,
            ..
        } => {
            w.raw(b.name().as_bytes());
            w.sp();
            w.sequence_set(set);
            w.sp();
            match items {
                FetchItems::All => w.raw(b"ALL"),
                FetchItems::Fast => w.raw(b"FAST"),
                FetchItems::Full => w.raw(b"FULL"),
                FetchItems::Single(a) => fetch_att(w, a),
                FetchItems::List(v) => w.list(v, fetch_att),
            }
            if !modifiers.is_empty() {
                w.sp();
                w.list(modifiers, |w, m| match m {
                    FetchModifier::ChangedSince(n) => {
                        w.raw(b"CHANGEDSINCE ");
                        w.num(*n);
                    }
                    FetchModifier::Vanished => w.raw(b"VANISHED"),
                });
            }
        }
        C::Store {
            set,
            unchanged_since,
            action,
            ..
        } => {
            w.raw(b.name().as_bytes());
            w.sp();
            w.sequence_set(set);
            w.sp();
            if let Some(n) = unchanged_since {
                w.raw(b"(UNCHANGEDSINCE ");
                w.num(*n);
                w.raw(b") ");
            }
            w.raw(match action.kind {
                StoreKind::Replace => b"",
                StoreKind::Add => b"+",
                StoreKind::Remove => b"-",
            });
            w.raw(if action.silent {
                b"FLAGS.SILENT "
            } else {
                b"FLAGS "
            });
            if action.parenthesized || action.flags.is_empty() {
                w.list(&action.flags, |w, f| w.flag(f));
            } else {
                for (i, f) in action.flags.iter().enumerate() {
                    if i > 0 {
                        w.sp();
                    }
                    w.flag(f);
                }
            }
        }
        C::Copy { set, mailbox, .. } | C::Move { set, mailbox, .. } => {
            w.raw(b.name().as_bytes());
            w.sp();
            w.sequence_set(set);
            w.sp();
            w.mailbox(mailbox);
        }
    }
}

fn search_key(w: &mut W<'_>, k: &SearchKey<'_>) {
    use SearchKey as S;
    let kw_arg = |w: &mut W<'_>, name: &[u8], a: &AString<'_>| {
        w.raw(name);
        w.sp();
        w.astring(a);
    };
    match k {
        S::All => w.raw(b"ALL"),
        S::Answered => w.raw(b"ANSWERED"),
        S::Bcc(a) => kw_arg(w, b"BCC", a),
        S::Before(d) => {
            w.raw(b"BEFORE ");
            w.date(*d);
        }
        S::Body(a) => kw_arg(w, b"BODY", a),
        S::Cc(a) => kw_arg(w, b"CC", a),
        S::Deleted => w.raw(b"DELETED"),
        S::Draft => w.raw(b"DRAFT"),
        S::Flagged => w.raw(b"FLAGGED"),
        S::From(a) => kw_arg(w, b"FROM", a),
        S::Header(f, v) => {
            kw_arg(w, b"HEADER", f);
            w.sp();
            w.astring(v);
        }
        S::Keyword(a) => {
            w.raw(b"KEYWORD ");
            w.raw(a.as_str().as_bytes());
        }
        S::Larger(n) => {
            w.raw(b"LARGER ");
            w.num(*n);
        }
        S::New => w.raw(b"NEW"),
        S::Not(k) => {
            w.raw(b"NOT ");
            search_key(w, k);
        }
        S::Old => w.raw(b"OLD"),
        S::On(d) => {
            w.raw(b"ON ");
            w.date(*d);
        }
        S::Or(a, b) => {
            w.raw(b"OR ");
            search_key(w, a);
            w.sp();
            search_key(w, b);
        }
        S::Recent => w.raw(b"RECENT"),
        S::Seen => w.raw(b"SEEN"),
        S::SentBefore(d) => {
            w.raw(b"SENTBEFORE ");
            w.date(*d);
        }
        S::SentOn(d) => {
            w.raw(b"SENTON ");
            w.date(*d);
        }
        S::SentSince(d) => {
            w.raw(b"SENTSINCE ");
            w.date(*d);
        }
        S::Since(d) => {
            w.raw(b"SINCE ");
            w.date(*d);
        }
        S::Smaller(n) => {
            w.raw(b"SMALLER ");
            w.num(*n);
        }
        S::Subject(a) => kw_arg(w, b"SUBJECT", a),
        S::Text(a) => kw_arg(w, b"TEXT", a),
        S::To(a) => kw_arg(w, b"TO", a),
        S::Uid(s) => {
            w.raw(b"UID ");
            w.sequence_set(s);
        }
        S::Unanswered => w.raw(b"UNANSWERED"),
        S::Undeleted => w.raw(b"UNDELETED"),
        S::Undraft => w.raw(b"UNDRAFT"),
        S::Unflagged => w.raw(b"UNFLAGGED"),
        S::Unkeyword(a) => {
            w.raw(b"UNKEYWORD ");
            w.raw(a.as_str().as_bytes());
        }
        S::Unseen => w.raw(b"UNSEEN"),
        S::SequenceSet(s) => w.sequence_set(s),
        S::And(v) => w.list(v, |w, k| search_key(w, k)),
        S::ModSeq { entry, modseq } => {
            w.raw(b"MODSEQ ");
            if let Some(e) = entry {
                w.quoted(&e.name);
                w.raw(match e.kind {
                    EntryType::Private => b" priv ",
                    EntryType::Shared => b" shared ",
                    EntryType::All => b" all ",
                });
            }
            w.num(*modseq);
        }
    }
}

fn part(w: &mut W<'_>, part: &[std::num::NonZeroU32]) {
    for (i, n) in part.iter().enumerate() {
        if i > 0 {
            w.raw(b".");
        }
        w.num(u64::from(n.get()));
    }
}

fn partial(w: &mut W<'_>, p: &Option<Partial>) {
    if let Some(p) = p {
        w.raw(b"<");
        w.num(p.offset);
        w.raw(b".");
        w.num(p.length.get());
        w.raw(b">");
    }
}

fn fetch_att(w: &mut W<'_>, a: &FetchAttribute<'_>) {
    use FetchAttribute as F;
    match a {
        F::Envelope => w.raw(b"ENVELOPE"),
        F::Flags => w.raw(b"FLAGS"),
        F::InternalDate => w.raw(b"INTERNALDATE"),
        F::Rfc822 => w.raw(b"RFC822"),
        F::Rfc822Header => w.raw(b"RFC822.HEADER"),
        F::Rfc822Size => w.raw(b"RFC822.SIZE"),
        F::Rfc822Text => w.raw(b"RFC822.TEXT"),
        F::Body => w.raw(b"BODY"),
        F::BodyStructure => w.raw(b"BODYSTRUCTURE"),
        F::Uid => w.raw(b"UID"),
        F::ModSeq => w.raw(b"MODSEQ"),
        F::BodySection {
            peek,
            section,
            partial: p,
        } => {
            w.raw(if *peek { b"BODY.PEEK" } else { b"BODY" });
            section_spec(w, section);
            partial(w, p);
        }
        F::Binary {
            peek,
            part: pt,
            partial: p,
        } => {
            w.raw(if *peek { b"BINARY.PEEK[" } else { b"BINARY[" });
            part(w, pt);
            w.raw(b"]");
            partial(w, p);
        }
        F::BinarySize { part: pt } => {
            w.raw(b"BINARY.SIZE[");
            part(w, pt);
            w.raw(b"]");
        }
    }
}

/// `[section]` of a FETCH attribute (command) or item (response), RFC 9051 §9 `section`.
fn section_spec(w: &mut W<'_>, s: &Section<'_>) {
    w.raw(b"[");
    part(w, &s.part);
    if let Some(t) = &s.text {
        if !s.part.is_empty() {
            w.raw(b".");
        }
        let fields = |w: &mut W<'_>, name: &[u8], v: &[AString<'_>]| {
            w.raw(name);
            w.sp();
            w.list(v, |w, a| w.astring(a));
        };
        match t {
            SectionText::Header => w.raw(b"HEADER"),
            SectionText::HeaderFields(v) => fields(w, b"HEADER.FIELDS", v),
            SectionText::HeaderFieldsNot(v) => fields(w, b"HEADER.FIELDS.NOT", v),
            SectionText::Text => w.raw(b"TEXT"),
            SectionText::Mime => w.raw(b"MIME"),
        }
    }
    w.raw(b"]");
}
