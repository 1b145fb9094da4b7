//! Tolerant client-side parser of complete responses (RFC 9051 §7, RFC 3501 §7 and the
//! extensions), with named [`Quirks`] for what real servers send.

use std::borrow::Cow;
use std::num::NonZeroU32;

use super::atom_char as is_atom_char;
use super::{P, ParseOptions, R, command};
use crate::error::{ParseError, ParseErrorKind as K};
use crate::types::*;

/// Deviations from RFC 9051 that real servers make and the client parser accepts. All are on
/// by default ([`Quirks::default`]); [`Quirks::none`] is the strict grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Quirks {
    /// A response code followed directly by CRLF, without `SP text` (Gmail's
    /// `* OK [HIGHESTMODSEQ 123]`).
    pub code_without_text: bool,
    /// Empty `text` (`* OK \r\n`, `A1 OK [READ-WRITE] \r\n`, `* OK\r\n`); RFC 9051 wants
    /// `1*TEXT-CHAR`.
    pub empty_text: bool,
    /// Spaces before the CRLF of a data response (`* SEARCH 1 2 \r\n`).
    pub trailing_spaces: bool,
    /// Quoted strings with octets that are not UTF-8 (Latin-1 names and subjects).
    pub eight_bit_quoted: bool,
    /// A NIL value or an empty list in a `body-fld-param` (`("BOUNDARY" NIL)`, `()`).
    pub nil_body_param: bool,
    /// `[COPYUID]` / `[APPENDUID]` outside a tagged OK (RFC 4315 §3 puts them in the tagged
    /// OK only; some servers send them in an untagged OK, e.g. during UID MOVE).
    pub copyuid_anywhere: bool,
    /// NIL where a body structure wants a string: the media type or subtype, or the
    /// `body-fld-enc` of a part (Exchange's `message/delivery-status` parts). Read as the empty
    /// string.
    pub nil_body_fields: bool,
    /// More than one space between the items of a parenthesized list, or a space before its
    /// `)` (`(UID 5  FLAGS (\Seen) )`).
    pub extra_spaces: bool,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            code_without_text: true,
            empty_text: true,
            trailing_spaces: true,
            eight_bit_quoted: true,
            nil_body_param: true,
            copyuid_anywhere: true,
            nil_body_fields: true,
            extra_spaces: true,
        }
    }
}

impl Quirks {
    /// No quirk: the strict RFC 9051 grammar.
    pub fn none() -> Self {
        Quirks {
            code_without_text: false,
            empty_text: false,
            trailing_spaces: false,
            eight_bit_quoted: false,
            nil_body_param: false,
            copyuid_anywhere: false,
            nil_body_fields: false,
            extra_spaces: false,
        }
    }
}

/// Options of the response parser.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseOptions {
    /// Limits (nesting of body structures and lists, tag length).
    pub limits: ParseOptions,
    /// Accepted deviations.
    pub quirks: Quirks,
    /// Build every ENVELOPE, BODY and BODYSTRUCTURE tree while parsing (held built in
    /// [`LazyEnvelope`] / [`LazyBody`]) instead of keeping the validated bytes and building on
    /// demand. Off by default: a client that reads most trees saves the second pass with it on.
    pub eager_trees: bool,
}

impl ResponseOptions {
    /// The defaults (every quirk on).
    pub fn new() -> Self {
        Self::default()
    }
    /// Strict: no quirk.
    pub fn strict() -> Self {
        ResponseOptions {
            limits: ParseOptions::default(),
            quirks: Quirks::none(),
            eager_trees: false,
        }
    }
    /// Sets the quirks.
    pub fn quirks(mut self, q: Quirks) -> Self {
        self.quirks = q;
        self
    }
    /// Sets [`Self::eager_trees`].
    pub fn eager_trees(mut self, on: bool) -> Self {
        self.eager_trees = on;
        self
    }
    /// Sets the limits.
    pub fn limits(mut self, l: ParseOptions) -> Self {
        self.limits = l;
        self
    }
}

/// Parses one complete response (lines with literals inline, as the framing step delivers
/// them) with every quirk on; returns it and the octets consumed (through the final CRLF).
///
/// ```
/// use mailsec_imap::parse;
/// use mailsec_imap::types::{Data, Response};
/// let (r, used) = parse::response(b"* 23 EXISTS\r\n").unwrap();
/// assert_eq!(used, 13);
/// assert_eq!(r, Response::Data(Data::Exists(23)));
/// ```
pub fn response(input: &[u8]) -> Result<(Response<'_>, usize), ParseError> {
    response_with(input, &ResponseOptions::default())
}

/// Parses one complete response with the given options.
pub fn response_with<'a>(
    input: &'a [u8],
    opts: &ResponseOptions,
) -> Result<(Response<'a>, usize), ParseError> {
    let mut p = P::new(input, &opts.limits);
    let mut c = C {
        p: &mut p,
        q: opts.quirks,
        eager: opts.eager_trees,
    };
    match c.response() {
        Ok(r) => Ok((r, p.pos)),
        Err((kind, at)) => {
            let mut e = ParseError::new(kind, input, at, false);
            e.tag = p.tag.map(str::to_owned);
            Err(e)
        }
    }
}

/// Parses the server greeting (RFC 9051 §7.1: untagged OK, PREAUTH or BYE); anything else is
/// a [`ParseErrorKind::Syntax`](crate::error::ParseErrorKind::Syntax) error.
///
/// ```
/// use mailsec_imap::parse;
/// use mailsec_imap::types::{Code, StatusKind};
/// let (g, _) = parse::greeting(b"* OK [CAPABILITY IMAP4rev2 IDLE] ready\r\n").unwrap();
/// assert_eq!(g.kind, StatusKind::Ok);
/// assert!(matches!(g.code, Some(Code::Capability(_))));
/// assert!(parse::greeting(b"* 3 EXISTS\r\n").is_err());
/// ```
pub fn greeting(input: &[u8]) -> Result<(Greeting<'_>, usize), ParseError> {
    let (r, used) = response(input)?;
    match Greeting::from_response(r) {
        Some(g) => Ok((g, used)),
        None => Err(ParseError::new(
            K::Syntax {
                expected: "greeting (* OK, * PREAUTH or * BYE)",
            },
            input,
            0,
            false,
        )),
    }
}

/// Builds an ENVELOPE from bytes the parser validated (see [`LazyEnvelope`]).
pub(crate) fn lazy_envelope(
    input: &[u8],
    quirks: Quirks,
    max_depth: usize,
) -> Result<Envelope<'_>, ParseError> {
    lazy_item(input, quirks, max_depth, |c| c.envelope())
}

/// Builds a BODY (`ext` false) or BODYSTRUCTURE from bytes the parser validated (see
/// [`LazyBody`]).
pub(crate) fn lazy_body(
    input: &[u8],
    quirks: Quirks,
    max_depth: usize,
    ext: bool,
) -> Result<BodyStructure<'_>, ParseError> {
    lazy_item(input, quirks, max_depth, |c| c.body(ext))
}

fn lazy_item<'a, T>(
    input: &'a [u8],
    quirks: Quirks,
    max_depth: usize,
    f: impl FnOnce(&mut C<'_, 'a, '_>) -> R<T>,
) -> Result<T, ParseError> {
    let limits = ParseOptions::default().max_depth(max_depth);
    let mut p = P::new(input, &limits);
    let mut c = C {
        p: &mut p,
        q: quirks,
        eager: true,
    };
    let r = f(&mut c).and_then(|t| {
        if c.p.pos == input.len() {
            Ok(t)
        } else {
            Err((K::Trailing, c.p.pos))
        }
    });
    r.map_err(|(kind, at)| ParseError::new(kind, input, at, false))
}

struct C<'p, 'a, 'o> {
    p: &'p mut P<'a, 'o>,
    q: Quirks,
    /// [`ResponseOptions::eager_trees`].
    eager: bool,
}

fn syntax(expected: &'static str, at: usize) -> (K, usize) {
    (K::Syntax { expected }, at)
}

impl<'a> C<'_, 'a, '_> {
    fn response(&mut self) -> R<Response<'a>> {
        match self.p.peek() {
            Some(b'+') => {
                self.p.pos += 1;
                if self.p.peek() == Some(b' ') {
                    self.p.pos += 1;
                }
                let (code, text) = self.resp_text(true, true)?;
                self.p.crlf()?;
                Ok(Response::Continuation { code, text })
            }
            Some(b'*') => {
                self.p.pos += 1;
                self.p.sp()?;
                if let Some(kind) = self.status_kind(true) {
                    return self.status_rest(None, kind);
                }
                let d = self.data()?;
                self.end()?;
                Ok(Response::Data(d))
            }
            None => Err((K::Incomplete, self.p.pos)),
            _ => {
                let tag = self.p.tag()?;
                self.p.sp()?;
                let Some(kind) = self.status_kind(false) else {
                    return self.p.fail("OK, NO or BAD");
                };
                self.status_rest(Some(tag), kind)
            }
        }
    }

    fn status_kind(&mut self, untagged: bool) -> Option<StatusKind> {
        let all = [
            StatusKind::Ok,
            StatusKind::No,
            StatusKind::Bad,
            StatusKind::Preauth,
            StatusKind::Bye,
        ];
        let n = if untagged { 5 } else { 3 };
        all[..n].iter().copied().find(|k| self.p.keyword(k.name()))
    }

    fn status_rest(&mut self, tag: Option<Tag<'a>>, kind: StatusKind) -> R<Response<'a>> {
        let (code, text) = match self.p.peek() {
            Some(b' ') => {
                self.p.pos += 1;
                self.resp_text(self.q.empty_text, true)?
            }
            Some(b'\r') if self.q.empty_text => (None, Cow::Borrowed(&b""[..])),
            _ => return self.p.fail("SP"),
        };
        if !self.q.copyuid_anywhere
            && matches!(code, Some(Code::CopyUid { .. } | Code::AppendUid { .. }))
            && !(tag.is_some() && kind == StatusKind::Ok)
        {
            return Err(syntax("COPYUID/APPENDUID only in a tagged OK", self.p.pos));
        }
        self.p.crlf()?;
        Ok(Response::Status {
            tag,
            kind,
            code,
            text,
        })
    }

    /// `["[" resp-text-code "]" SP] text`, up to (not including) CRLF.
    fn resp_text(
        &mut self,
        empty_ok: bool,
        allow_code: bool,
    ) -> R<(Option<Code<'a>>, Cow<'a, [u8]>)> {
        let mut code = None;
        if allow_code && self.p.peek() == Some(b'[') {
            self.p.pos += 1;
            code = Some(self.code()?);
            self.p.byte(b']', "]")?;
            match self.p.peek() {
                Some(b' ') => self.p.pos += 1,
                Some(b'\r') if self.q.code_without_text => {
                    return Ok((code, Cow::Borrowed(&b""[..])));
                }
                _ => return self.p.fail("SP"),
            }
        }
        let start = self.p.pos;
        let t = self.p.take_while(|b| b != b'\r' && b != b'\n' && b != 0);
        if t.is_empty() && !(empty_ok || self.q.empty_text) {
            return self.p.fail("text");
        }
        if self.p.peek() != Some(b'\r') {
            return Err((
                if self.p.peek().is_none() {
                    K::Incomplete
                } else {
                    K::Trailing
                },
                self.p.pos.max(start),
            ));
        }
        Ok((code, Cow::Borrowed(t)))
    }

    /// Whether another space-separated element follows (not only trailing spaces).
    fn more(&self) -> bool {
        let rest = self.p.input.get(self.p.pos..).unwrap_or_default();
        rest.first() == Some(&b' ')
            && rest
                .iter()
                .find(|&&b| b != b' ')
                .is_some_and(|&b| b != b'\r')
    }

    fn nz(&mut self) -> R<NonZeroU32> {
        self.p.nz_number()
    }

    fn code(&mut self) -> R<Code<'a>> {
        let start = self.p.pos;
        let name = self.p.atom()?;
        let n = name.as_str();
        let sp = |c: &mut Self| c.p.sp();
        let eq = |s: &str| n.eq_ignore_ascii_case(s);
        Ok(if eq("BADCHARSET") {
            let mut v = Vec::new();
            if self.p.peek() == Some(b' ') {
                self.p.pos += 1;
                v = self.p.paren_list(false, |p| p.astring())?;
            }
            Code::BadCharset(v)
        } else if eq("CAPABILITY") {
            let mut v = Vec::new();
            while self.p.peek() == Some(b' ') {
                self.p.pos += 1;
                v.push(Capability::from_atom(self.p.atom()?));
            }
            if v.is_empty() {
                return self.p.fail("capability");
            }
            Code::Capability(v)
        } else if eq("PERMANENTFLAGS") {
            sp(self)?;
            Code::PermanentFlags(self.p.paren_list(true, |p| {
                if p.peek() == Some(b'\\') && p.peek_at(1) == Some(b'*') {
                    p.pos += 2;
                    return Ok(FlagPerm::Wildcard);
                }
                flag(p).map(FlagPerm::Flag)
            })?)
        } else if eq("UIDNEXT") {
            sp(self)?;
            Code::UidNext(self.nz()?)
        } else if eq("UIDVALIDITY") {
            sp(self)?;
            Code::UidValidity(self.nz()?)
        } else if eq("UNSEEN") {
            sp(self)?;
            Code::Unseen(self.nz()?)
        } else if eq("HIGHESTMODSEQ") {
            sp(self)?;
            Code::HighestModSeq(self.p.number64()?)
        } else if eq("MODIFIED") {
            sp(self)?;
            Code::Modified(self.p.sequence_set()?)
        } else if eq("APPENDUID") {
            sp(self)?;
            let validity = self.nz()?;
            sp(self)?;
            Code::AppendUid {
                validity,
                uids: self.p.sequence_set()?,
            }
        } else if eq("COPYUID") {
            sp(self)?;
            let validity = self.nz()?;
            sp(self)?;
            let from = self.p.sequence_set()?;
            sp(self)?;
            Code::CopyUid {
                validity,
                from,
                to: self.p.sequence_set()?,
            }
        } else if let Some(s) = SimpleCode::from_name(n).filter(|_| self.p.peek() != Some(b' ')) {
            Code::Simple(s)
        } else {
            let _ = start;
            let mut text = None;
            if self.p.peek() == Some(b' ') {
                self.p.pos += 1;
                let t = self
                    .p
                    .take_while(|b| b != b']' && b != b'\r' && b != b'\n' && b != 0);
                text = Some(Cow::Borrowed(t));
            }
            Code::Other { name, text }
        })
    }

    fn end(&mut self) -> R<()> {
        if self.q.trailing_spaces {
            self.p.take_while(|b| b == b' ');
        }
        self.p.crlf()
    }

    fn data(&mut self) -> R<Data<'a>> {
        if self.p.peek().is_some_and(|b| b.is_ascii_digit()) {
            let start = self.p.pos;
            let n = self.p.number()?;
            self.p.sp()?;
            let nz = || NonZeroU32::new(n).ok_or((K::Zero, start));
            return Ok(if self.p.keyword("EXISTS") {
                Data::Exists(n)
            } else if self.p.keyword("RECENT") {
                Data::Recent(n)
            } else if self.p.keyword("EXPUNGE") {
                Data::Expunge(nz()?)
            } else if self.p.keyword("FETCH") {
                let seq = nz()?;
                self.p.sp()?;
                Data::Fetch {
                    seq,
                    items: self.msg_atts()?,
                }
            } else {
                let name = self.p.atom()?;
                Data::Other {
                    name,
                    number: Some(n),
                    rest: self.rest(),
                }
            });
        }
        let p = &mut *self.p;
        Ok(if p.keyword("CAPABILITY") {
            Data::Capability(self.caps()?)
        } else if p.keyword("ENABLED") {
            Data::Enabled(self.caps()?)
        } else if p.keyword("FLAGS") {
            p.sp()?;
            Data::Flags(p.paren_list(true, flag)?)
        } else if p.keyword("LIST") {
            Data::List(self.list(false)?)
        } else if p.keyword("LSUB") {
            Data::List(self.list(true)?)
        } else if p.keyword("STATUS") {
            p.sp()?;
            let mailbox = self.mailbox()?;
            self.p.sp()?;
            let items = self.p.paren_list(true, |p| {
                let start = p.pos;
                let name = p.atom()?;
                let item = StatusItem::from_name(name.as_str().as_bytes())
                    .ok_or_else(|| syntax("status item", start))?;
                p.sp()?;
                // RFC 7889 §4: `APPENDLIMIT NIL` is "no limit".
                if item == StatusItem::AppendLimit && p.keyword("NIL") {
                    return Ok((item, StatusItem::NO_APPEND_LIMIT));
                }
                Ok((item, p.number64()?))
            })?;
            Data::Status { mailbox, items }
        } else if p.keyword("SEARCH") {
            let mut ids = Vec::new();
            let mut modseq = None;
            while self.more() {
                self.p.pos += 1;
                if self.p.peek() == Some(b'(') {
                    self.p.pos += 1;
                    if !self.p.keyword("MODSEQ") {
                        return self.p.fail("MODSEQ");
                    }
                    self.p.sp()?;
                    modseq = Some(self.p.number64()?);
                    self.p.byte(b')', ")")?;
                    break;
                }
                ids.push(self.nz()?);
            }
            Data::Search { ids, modseq }
        } else if p.keyword("ESEARCH") {
            self.esearch()?
        } else if p.keyword("VANISHED") {
            p.sp()?;
            let mut earlier = false;
            if p.peek() == Some(b'(') {
                p.pos += 1;
                if !p.keyword("EARLIER") {
                    return p.fail("EARLIER");
                }
                p.byte(b')', ")")?;
                p.sp()?;
                earlier = true;
            }
            Data::Vanished {
                earlier,
                uids: p.sequence_set()?,
            }
        } else if p.keyword("ID") {
            p.sp()?;
            if p.keyword("NIL") {
                Data::Id(None)
            } else {
                // The limits of RFC 2971 §3.3, as on the server side: a typed error rather
                // than a silent truncation, so a client never acts on half an answer.
                let mut pairs = 0;
                Data::Id(Some(self.paren(true, |c| {
                    pairs += 1;
                    if pairs > command::ID_MAX_PAIRS {
                        return Err(command::id_too_many_pairs(c.p.pos));
                    }
                    let at = c.p.pos;
                    let k = c.string()?;
                    command::id_check_field(&k, at)?;
                    c.p.sp()?;
                    let at = c.p.pos;
                    let v = c.nstring()?;
                    command::id_check_value(&v, at)?;
                    Ok((k, v))
                })?))
            }
        } else if p.keyword("NAMESPACE") {
            let mut ns: [Option<Vec<NamespaceDesc<'a>>>; 3] = [None, None, None];
            for slot in &mut ns {
                self.p.sp()?;
                if !self.p.keyword("NIL") {
                    *slot = Some(self.paren(false, |c| c.namespace_desc())?);
                }
            }
            Data::Namespace(ns)
        } else if p.keyword("QUOTAROOT") {
            p.sp()?;
            let mailbox = self.mailbox()?;
            let mut roots = Vec::new();
            while self.more() {
                self.p.pos += 1;
                roots.push(self.p.astring()?);
            }
            Data::QuotaRoot { mailbox, roots }
        } else if p.keyword("QUOTA") {
            p.sp()?;
            let root = p.astring()?;
            p.sp()?;
            let resources = p.paren_list(true, |p| {
                let a = p.atom()?;
                p.sp()?;
                let u = p.number64()?;
                p.sp()?;
                Ok((a, u, p.number64()?))
            })?;
            Data::Quota { root, resources }
        } else {
            let name = p.atom()?;
            Data::Other {
                name,
                number: None,
                rest: self.rest(),
            }
        })
    }

    /// Raw rest of the line (after one SP) for unknown data.
    fn rest(&mut self) -> Cow<'a, [u8]> {
        if self.p.peek() == Some(b' ') {
            self.p.pos += 1;
        }
        Cow::Borrowed(self.p.take_while(|b| b != b'\r' && b != b'\n'))
    }

    fn caps(&mut self) -> R<Vec<Capability<'a>>> {
        let mut v = Vec::new();
        while self.more() {
            self.p.pos += 1;
            v.push(Capability::from_atom(self.p.atom()?));
        }
        Ok(v)
    }

    fn paren<T>(&mut self, empty_ok: bool, f: impl FnMut(&mut Self) -> R<T>) -> R<Vec<T>> {
        self.paren_cap(empty_ok, 0, f)
    }

    /// [`Self::paren`] with room for `cap` items reserved once the list is known non-empty
    /// (a fixed number, never one the peer sent).
    fn paren_cap<T>(
        &mut self,
        empty_ok: bool,
        cap: usize,
        mut f: impl FnMut(&mut Self) -> R<T>,
    ) -> R<Vec<T>> {
        let mut v = Vec::new();
        self.paren_each(empty_ok, |c| {
            if v.capacity() == 0 {
                v.reserve_exact(cap);
            }
            v.push(f(c)?);
            Ok(())
        })?;
        Ok(v)
    }

    /// `"(" item *(SP item) ")"` calling `f` for each item (nothing kept here).
    fn paren_each(&mut self, empty_ok: bool, mut f: impl FnMut(&mut Self) -> R<()>) -> R<()> {
        self.p.byte(b'(', "(")?;
        self.p.enter()?;
        if !(empty_ok && self.p.peek() == Some(b')')) {
            loop {
                f(self)?;
                if self.p.peek() != Some(b' ') {
                    break;
                }
                self.p.pos += 1;
                if self.q.extra_spaces && matches!(self.p.peek(), Some(b' ' | b')')) {
                    self.p.take_while(|b| b == b' ');
                    if self.p.peek() == Some(b')') {
                        break;
                    }
                }
            }
        }
        self.p.byte(b')', ")")?;
        self.p.leave();
        Ok(())
    }

    /// A quoted string (8-bit tolerated with the quirk) or a literal.
    #[inline]
    fn string(&mut self) -> R<IString<'a>> {
        if self.p.peek() == Some(b'"') {
            return self.quoted().map(IString::Quoted);
        }
        self.p.string()
    }

    #[inline]
    fn quoted(&mut self) -> R<Quoted<'a>> {
        if !self.q.eight_bit_quoted {
            return self.p.quoted();
        }
        self.p.quoted_raw().map(Quoted::unchecked)
    }

    #[inline]
    fn nstring(&mut self) -> R<NString<'a>> {
        if self.p.peek() == Some(b'"') {
            return self.quoted().map(|q| NString(Some(IString::Quoted(q))));
        }
        if self.p.keyword("NIL") {
            return Ok(NString(None));
        }
        self.string().map(|s| NString(Some(s)))
    }

    fn astring(&mut self) -> R<AString<'a>> {
        if self.p.peek() == Some(b'"') {
            return self.quoted().map(|q| AString::String(IString::Quoted(q)));
        }
        self.p.astring()
    }

    fn mailbox(&mut self) -> R<Mailbox<'a>> {
        self.astring().map(Mailbox::new)
    }

    /// `DQUOTE QUOTED-CHAR DQUOTE / nil`.
    fn delimiter(&mut self) -> R<Option<u8>> {
        if self.p.keyword("NIL") {
            return Ok(None);
        }
        let start = self.p.pos;
        let q = self.p.quoted()?;
        match q.as_bytes() {
            [c] if c.is_ascii() => Ok(Some(*c)),
            _ => Err(syntax("one-character delimiter", start)),
        }
    }

    fn list(&mut self, lsub: bool) -> R<ListData<'a>> {
        self.p.sp()?;
        let attributes = self.p.paren_list(true, |p| {
            p.byte(b'\\', "\\attribute")?;
            Ok(MailboxAttribute(p.atom()?))
        })?;
        self.p.sp()?;
        let delimiter = self.delimiter()?;
        self.p.sp()?;
        let mailbox = self.mailbox()?;
        let mut extended = Vec::new();
        if self.p.peek() == Some(b' ') && self.p.peek_at(1) == Some(b'(') {
            self.p.pos += 1;
            extended = self.paren(true, |c| {
                let label = c.string()?;
                c.p.sp()?;
                Ok((label, c.ext_value()?))
            })?;
        }
        Ok(ListData {
            lsub,
            attributes,
            delimiter,
            mailbox,
            extended,
        })
    }

    fn ext_value(&mut self) -> R<ExtValue<'a>> {
        Ok(self.ext_value_g::<true>()?.unwrap_or(ExtValue::Nil))
    }

    /// `ext_value`: built when `B`, only checked (nothing kept, nothing allocated) otherwise.
    fn ext_value_g<const B: bool>(&mut self) -> R<Option<ExtValue<'a>>> {
        match self.p.peek() {
            Some(b'(') => {
                let mut v = Vec::new();
                self.paren_each(true, |c| {
                    let x = c.ext_value_g::<B>()?;
                    if B {
                        v.extend(x);
                    }
                    Ok(())
                })?;
                Ok(B.then_some(ExtValue::List(v)))
            }
            Some(b'"' | b'{' | b'~') => {
                let s = self.string()?;
                Ok(B.then_some(ExtValue::String(s)))
            }
            Some(b) if b.is_ascii_digit() => {
                let start = self.p.pos;
                let t = self.p.take_while(is_atom_char);
                if t.iter().all(u8::is_ascii_digit) {
                    self.p.pos = start;
                    let n = self.p.number64()?;
                    Ok(B.then_some(ExtValue::Number(n)))
                } else {
                    self.p.pos = start;
                    let a = self.p.atom()?;
                    Ok(B.then_some(ExtValue::Atom(a)))
                }
            }
            _ => {
                if self.p.keyword("NIL") {
                    Ok(B.then_some(ExtValue::Nil))
                } else {
                    let a = self.p.atom()?;
                    Ok(B.then_some(ExtValue::Atom(a)))
                }
            }
        }
    }

    fn namespace_desc(&mut self) -> R<NamespaceDesc<'a>> {
        self.p.byte(b'(', "(")?;
        self.p.enter()?;
        let prefix = self.string()?;
        self.p.sp()?;
        let delimiter = self.delimiter()?;
        let mut extensions = Vec::new();
        while self.p.peek() == Some(b' ') {
            self.p.pos += 1;
            let name = self.string()?;
            self.p.sp()?;
            extensions.push((name, self.paren(false, |c| c.string())?));
        }
        self.p.byte(b')', ")")?;
        self.p.leave();
        Ok(NamespaceDesc {
            prefix,
            delimiter,
            extensions,
        })
    }

    fn esearch(&mut self) -> R<Data<'a>> {
        let mut tag = None;
        let mut uid = false;
        if self.p.peek() == Some(b' ') && self.p.peek_at(1) == Some(b'(') {
            self.p.pos += 2;
            if !self.p.keyword("TAG") {
                return self.p.fail("TAG");
            }
            self.p.sp()?;
            tag = Some(self.string()?);
            self.p.byte(b')', ")")?;
        }
        if self.p.peek() == Some(b' ') {
            let save = self.p.pos;
            self.p.pos += 1;
            if self.p.keyword("UID") {
                uid = true;
            } else {
                self.p.pos = save;
            }
        }
        let mut items = Vec::new();
        while self.more() {
            self.p.pos += 1;
            let name = self.p.atom()?;
            self.p.sp()?;
            let n = name.as_str();
            items.push(if n.eq_ignore_ascii_case("MIN") {
                ESearchItem::Min(self.nz()?)
            } else if n.eq_ignore_ascii_case("MAX") {
                ESearchItem::Max(self.nz()?)
            } else if n.eq_ignore_ascii_case("COUNT") {
                ESearchItem::Count(self.p.number()?)
            } else if n.eq_ignore_ascii_case("ALL") {
                ESearchItem::All(self.p.sequence_set()?)
            } else if n.eq_ignore_ascii_case("MODSEQ") {
                ESearchItem::ModSeq(self.p.number64()?)
            } else if n.eq_ignore_ascii_case("PARTIAL") {
                self.p.byte(b'(', "(")?;
                let range = super::command::partial_range(self.p)?;
                self.p.sp()?;
                let results = if self.p.keyword("NIL") {
                    None
                } else {
                    Some(self.p.sequence_set()?)
                };
                self.p.byte(b')', ")")?;
                ESearchItem::Partial { range, results }
            } else {
                ESearchItem::Other(name, self.ext_value()?)
            });
        }
        Ok(Data::ESearch { tag, uid, items })
    }

    fn msg_atts(&mut self) -> R<Vec<MsgAtt<'a>>> {
        // A client's FETCH usually asks for up to 8 items: one allocation, no regrowth.
        self.paren_cap(false, 8, |c| c.msg_att())
    }

    fn origin(&mut self) -> R<Option<u32>> {
        if self.p.peek() != Some(b'<') {
            return Ok(None);
        }
        self.p.pos += 1;
        let n = self.p.number()?;
        self.p.byte(b'>', ">")?;
        Ok(Some(n))
    }

    fn msg_att(&mut self) -> R<MsgAtt<'a>> {
        let start = self.p.pos;
        let raw = self.p.take_while(|b| super::class(b, super::ATT_NAME));
        let (up, len) = super::command::upper::<16>(raw).unwrap_or_default();
        let name = &up[..len];
        let p = &mut *self.p;
        match name {
            b"BODY" | b"BINARY" if p.peek() == Some(b'[') => {
                if name == b"BODY" {
                    let section = super::command::section(p)?;
                    let origin = self.origin()?;
                    self.p.sp()?;
                    return Ok(MsgAtt::BodySection {
                        section,
                        origin,
                        data: self.nstring()?,
                    });
                }
                p.pos += 1;
                let part = super::command::part(p)?;
                p.byte(b']', "]")?;
                let origin = self.origin()?;
                self.p.sp()?;
                let data = if self.p.keyword("NIL") {
                    None
                } else if self.p.peek() == Some(b'"') {
                    let q = self.quoted()?;
                    let bytes = q.as_bytes().to_vec();
                    Some(Literal::binary(bytes, LiteralMode::Sync))
                } else {
                    Some(self.p.literal(true)?)
                };
                return Ok(MsgAtt::Binary { part, origin, data });
            }
            b"BINARY.SIZE" => {
                p.byte(b'[', "[")?;
                let part = super::command::part(p)?;
                p.byte(b']', "]")?;
                p.sp()?;
                let size = p.number()?;
                return Ok(MsgAtt::BinarySize { part, size });
            }
            _ => {}
        }
        p.sp()?;
        Ok(match name {
            b"FLAGS" => {
                let mut v = FlagList::new();
                self.paren_each(true, |c| {
                    v.push(flag(c.p)?);
                    Ok(())
                })?;
                MsgAtt::Flags(v)
            }
            b"UID" => MsgAtt::Uid(p.nz_number()?),
            b"RFC822.SIZE" => MsgAtt::Rfc822Size(p.number64()?),
            b"INTERNALDATE" => MsgAtt::InternalDate(p.date_time()?),
            b"MODSEQ" => {
                p.byte(b'(', "(")?;
                let n = p.number64()?;
                p.byte(b')', ")")?;
                MsgAtt::ModSeq(n)
            }
            // Checked, not built: the tree is made on demand from the bytes (see `Lazy*`).
            b"ENVELOPE" if self.eager => MsgAtt::Envelope(self.envelope()?.into()),
            b"BODY" if self.eager => MsgAtt::Body(LazyBody::eager(self.body(false)?, false)),
            b"BODYSTRUCTURE" if self.eager => {
                MsgAtt::BodyStructure(LazyBody::eager(self.body(true)?, true))
            }
            b"ENVELOPE" => {
                let at = self.p.pos;
                self.envelope_g::<false>()?;
                MsgAtt::Envelope(LazyEnvelope::validated(
                    &self.p.input[at..self.p.pos],
                    self.q,
                    self.p.opts.max_depth,
                ))
            }
            b"BODY" | b"BODYSTRUCTURE" => {
                let ext = name == b"BODYSTRUCTURE";
                let at = self.p.pos;
                self.body_g::<false>(ext)?;
                let b = LazyBody::validated(
                    &self.p.input[at..self.p.pos],
                    self.q,
                    self.p.opts.max_depth,
                    ext,
                );
                if ext {
                    MsgAtt::BodyStructure(b)
                } else {
                    MsgAtt::Body(b)
                }
            }
            b"RFC822" => MsgAtt::Rfc822(self.nstring()?),
            b"RFC822.HEADER" => MsgAtt::Rfc822Header(self.nstring()?),
            b"RFC822.TEXT" => MsgAtt::Rfc822Text(self.nstring()?),
            b"X-GM-LABELS" => MsgAtt::GmailLabels(self.paren(true, |c| {
                if c.p.peek() == Some(b'\\') {
                    c.p.pos += 1;
                    return Ok(GmailLabel::System(c.p.atom()?));
                }
                c.astring().map(GmailLabel::Label)
            })?),
            _ if !raw.is_empty() => {
                // Extensions (X-GM-MSGID, PREVIEW, SAVEDATE, EMAILID, …): kept generically.
                let name =
                    std::str::from_utf8(raw).map_err(|_| syntax("message attribute", start))?;
                MsgAtt::Other {
                    name: Atom::unchecked(name),
                    value: self.ext_value()?,
                }
            }
            _ => return Err(syntax("message attribute", start)),
        })
    }

    /// `envelope`, built when `B`, only checked otherwise (see [`LazyEnvelope`]).
    fn envelope_g<const B: bool>(&mut self) -> R<Option<Envelope<'a>>> {
        self.p.byte(b'(', "(")?;
        self.p.enter()?;
        let date = self.nstring()?;
        self.p.sp()?;
        let subject = self.nstring()?;
        let mut lists: [Option<Vec<Address<'a>>>; 6] = Default::default();
        for l in &mut lists {
            self.p.sp()?;
            *l = if self.p.keyword("NIL") {
                None
            } else {
                Some(self.address_list::<B>()?)
            };
        }
        self.p.sp()?;
        let in_reply_to = self.nstring()?;
        self.p.sp()?;
        let message_id = self.nstring()?;
        self.p.byte(b')', ")")?;
        self.p.leave();
        if !B {
            return Ok(None);
        }
        let [from, sender, reply_to, to, cc, bcc] = lists;
        Ok(Some(Envelope {
            date,
            subject,
            from,
            sender,
            reply_to,
            to,
            cc,
            bcc,
            in_reply_to,
            message_id,
        }))
    }

    fn envelope(&mut self) -> R<Envelope<'a>> {
        self.envelope_g::<true>()?
            .ok_or_else(|| syntax("envelope", self.p.pos))
    }

    /// `"(" 1*address ")"`: addresses follow each other without a space (RFC 9051 §9). Empty
    /// (nothing allocated) unless `B`.
    fn address_list<const B: bool>(&mut self) -> R<Vec<Address<'a>>> {
        self.p.byte(b'(', "(")?;
        self.p.enter()?;
        let mut v = Vec::new();
        loop {
            if B {
                v.push(self.address()?);
            } else {
                self.address_check()?;
            }
            if self.p.peek() != Some(b'(') {
                break;
            }
        }
        self.p.byte(b')', ")")?;
        self.p.leave();
        Ok(v)
    }

    /// [`Self::address`], checked only: no `Address` is made (its drop is not free).
    fn address_check(&mut self) -> R<()> {
        self.p.byte(b'(', "(")?;
        for field in 0..4 {
            if field > 0 {
                self.p.sp()?;
            }
            self.nstring()?;
        }
        self.p.byte(b')', ")")
    }

    fn address(&mut self) -> R<Address<'a>> {
        self.p.byte(b'(', "(")?;
        let name = self.nstring()?;
        self.p.sp()?;
        let adl = self.nstring()?;
        self.p.sp()?;
        let mailbox = self.nstring()?;
        self.p.sp()?;
        let host = self.nstring()?;
        self.p.byte(b')', ")")?;
        Ok(Address {
            name,
            adl,
            mailbox,
            host,
        })
    }

    /// `body-fld-param`; `Some(empty)` when not `B` (nothing allocated).
    fn params<const B: bool>(&mut self) -> R<BodyParams<'a>> {
        if self.p.keyword("NIL") {
            return Ok(None);
        }
        let nil_ok = self.q.nil_body_param;
        let mut v = Vec::new();
        self.paren_each(nil_ok, |c| {
            let k = c.string()?;
            c.p.sp()?;
            let val = if nil_ok {
                c.nstring()?
            } else {
                NString(Some(c.string()?))
            };
            if B {
                v.push((k, val));
            }
            Ok(())
        })?;
        Ok(Some(v))
    }

    /// A string of a body structure; NIL read as the empty string with
    /// [`Quirks::nil_body_fields`].
    fn body_string(&mut self) -> R<IString<'a>> {
        if self.q.nil_body_fields && self.p.keyword("NIL") {
            return Ok(IString::Quoted(Quoted::unchecked(Cow::Borrowed(&b""[..]))));
        }
        self.string()
    }

    fn number_u32(&mut self) -> R<u32> {
        self.p.number()
    }

    fn body(&mut self, ext: bool) -> R<BodyStructure<'a>> {
        self.body_g::<true>(ext)?
            .ok_or_else(|| syntax("body", self.p.pos))
    }

    /// `body`, built when `B`, only checked otherwise (see [`LazyBody`]): depth counted at each
    /// `(` so 100 000 nested parentheses stop at the limit.
    fn body_g<const B: bool>(&mut self, ext: bool) -> R<Option<BodyStructure<'a>>> {
        self.p.byte(b'(', "(")?;
        self.p.enter()?;
        let b = if self.p.peek() == Some(b'(') {
            let mut parts = Vec::new();
            while self.p.peek() == Some(b'(') {
                let part = self.body_g::<B>(ext)?;
                if B {
                    parts.extend(part);
                }
            }
            self.p.sp()?;
            let subtype = self.body_string()?;
            let extension = self.extensions::<B>(ext)?;
            BodyStructure::Multi {
                parts,
                subtype,
                extension,
            }
        } else {
            let media_type = self.body_string()?;
            self.p.sp()?;
            let subtype = self.body_string()?;
            self.p.sp()?;
            let params = self.params::<B>()?;
            self.p.sp()?;
            let id = self.nstring()?;
            self.p.sp()?;
            let description = self.nstring()?;
            self.p.sp()?;
            let encoding = self.body_string()?;
            self.p.sp()?;
            let octets = self.number_u32()?;
            let mt = media_type.as_bytes();
            let st = subtype.as_bytes();
            let specific = if mt.eq_ignore_ascii_case(b"MESSAGE")
                && (st.eq_ignore_ascii_case(b"RFC822") || st.eq_ignore_ascii_case(b"GLOBAL"))
                && self.p.peek() == Some(b' ')
            {
                self.p.sp()?;
                let envelope = self.envelope_g::<B>()?;
                self.p.sp()?;
                let body = self.body_g::<B>(ext)?;
                self.p.sp()?;
                let lines = self.number_u32()?;
                match (envelope, body) {
                    (Some(envelope), Some(body)) => SinglePartKind::Message {
                        envelope: Box::new(envelope),
                        body: Box::new(body),
                        lines,
                    },
                    _ => SinglePartKind::Basic,
                }
            } else if mt.eq_ignore_ascii_case(b"TEXT") {
                self.p.sp()?;
                SinglePartKind::Text {
                    lines: self.number_u32()?,
                }
            } else {
                SinglePartKind::Basic
            };
            let extension = self.extensions::<B>(ext)?;
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
            }
        };
        self.p.byte(b')', ")")?;
        self.p.leave();
        Ok(B.then_some(b))
    }

    /// Extension data; none in `BODY` (`ext` false), the non-extensible form. Empty unless `B`.
    fn extensions<const B: bool>(&mut self, ext: bool) -> R<Vec<ExtValue<'a>>> {
        let mut v = Vec::new();
        if !ext {
            return Ok(v);
        }
        while self.p.peek() == Some(b' ') {
            self.p.pos += 1;
            let x = self.ext_value_g::<B>()?;
            if B {
                v.extend(x);
            }
        }
        Ok(v)
    }
}

/// A flag in a response (`flag-fetch` allows `\Recent`).
fn flag<'a>(p: &mut P<'a, '_>) -> R<Flag<'a>> {
    if p.peek() == Some(b'\\') {
        p.pos += 1;
        // The system flags by their bytes: no `&str` made for the usual `\Seen`.
        let start = p.pos;
        let name = p.take_while(|b| b.is_ascii() && is_atom_char(b));
        if let Some(flag) = system_flag(name) {
            return Ok(flag);
        }
        p.pos = start;
        return Ok(Flag::system(p.atom()?));
    }
    p.atom().map(Flag::Keyword)
}

/// The system flag named `name` (after the `\`, any case; RFC 9051 §2.3.2), if it is one.
fn system_flag(name: &[u8]) -> Option<Flag<'static>> {
    let is = |word: &[u8]| name.eq_ignore_ascii_case(word);
    Some(match name.len() {
        4 if is(b"Seen") => Flag::Seen,
        5 if is(b"Draft") => Flag::Draft,
        6 if is(b"Recent") => Flag::Recent,
        7 if is(b"Flagged") => Flag::Flagged,
        7 if is(b"Deleted") => Flag::Deleted,
        8 if is(b"Answered") => Flag::Answered,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::{Quirks, lazy_body, response};
    use crate::error::ParseErrorKind as K;
    use crate::types::{Data, Response};

    #[test]
    fn system_flags_by_bytes_any_case_others_as_atoms() {
        use crate::types::{Atom, Flag, MsgAtt};
        let line = b"* 1 FETCH (FLAGS (\\SEEN \\seen \\Answered \\Draftx $Junk \\Recent \\Deleted \\fLaGgEd \\draft))\r\n";
        let (Response::Data(Data::Fetch { items, .. }), _) = response(line).unwrap() else {
            panic!()
        };
        let [MsgAtt::Flags(flags)] = &items[..] else {
            panic!("{items:?}")
        };
        assert!(!flags.is_inline());
        assert_eq!(
            flags[..],
            [
                Flag::Seen,
                Flag::Seen,
                Flag::Answered,
                Flag::Extension(Atom::new("Draftx").unwrap()),
                Flag::Keyword(Atom::new("$Junk").unwrap()),
                Flag::Recent,
                Flag::Deleted,
                Flag::Flagged,
                Flag::Draft,
            ]
        );
        let (Response::Data(Data::Fetch { items, .. }), _) =
            response(b"* 1 FETCH (FLAGS (\\Seen))\r\n").unwrap()
        else {
            panic!()
        };
        let [MsgAtt::Flags(flags)] = &items[..] else {
            panic!("{items:?}")
        };
        assert!(flags.is_inline());
        assert_eq!(*flags, [Flag::Seen]);
        // `\` alone is no flag.
        assert!(response(b"* 1 FETCH (FLAGS (\\))\r\n").is_err());
    }

    fn id_line(pairs: usize, field: usize, value: usize) -> Vec<u8> {
        let mut s = b"* ID (".to_vec();
        for i in 0..pairs {
            if i > 0 {
                s.push(b' ');
            }
            let mut f = format!("f{i}");
            while f.len() < field {
                f.push('x');
            }
            s.extend_from_slice(format!("\"{f}\" \"{}\"", "v".repeat(value)).as_bytes());
        }
        s.extend_from_slice(b")\r\n");
        s
    }

    fn fetch_items(input: &[u8]) -> Vec<crate::types::MsgAtt<'_>> {
        let (r, used) = response(input).unwrap();
        assert_eq!(used, input.len());
        let Response::Data(Data::Fetch { items, .. }) = r else {
            panic!("{r:?}")
        };
        items
    }

    const ENV: &[u8] = b"(\"Wed, 17 Jul 1996\" \"Hi \\\"there\\\"\" ((\"A\" NIL \"a\" \"x.org\")) NIL NIL ((NIL NIL \"b\" \"y.org\")(NIL NIL \"c\" \"y.org\")) NIL NIL NIL \"<1@x>\")";
    const BS: &[u8] = b"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") NIL NIL \"7BIT\" 12 1 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 300 (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 1) 9) \"MIXED\" (\"BOUNDARY\" \"x\") NIL NIL NIL)";

    /// ENVELOPE and BODYSTRUCTURE are kept as their wire bytes and built on demand into the
    /// same tree the eager grammar builds; equal to a built value; detach by copying bytes.
    #[test]
    fn lazy_items_keep_bytes_and_build_the_same_tree() {
        use crate::types::{LazyBody, LazyEnvelope, MsgAtt};
        let mut line = b"* 1 FETCH (ENVELOPE ".to_vec();
        line.extend_from_slice(ENV);
        line.extend_from_slice(b" BODYSTRUCTURE ");
        line.extend_from_slice(BS);
        line.extend_from_slice(b" BODY ");
        let body_only = b"(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 1)";
        line.extend_from_slice(body_only);
        line.extend_from_slice(b")\r\n");
        let items = fetch_items(&line);
        let [
            MsgAtt::Envelope(e),
            MsgAtt::BodyStructure(b),
            MsgAtt::Body(b2),
        ] = &items[..]
        else {
            panic!("{items:?}")
        };
        assert_eq!(e.raw(), Some(ENV));
        assert_eq!(b.raw(), Some(BS));
        assert_eq!(b2.raw(), Some(&body_only[..]));
        assert!(e.built().is_none());
        let env = e.get().unwrap();
        assert_eq!(env.subject.0.as_ref().unwrap().as_bytes(), b"Hi \"there\"");
        assert_eq!(env.to.as_ref().unwrap().len(), 2);
        assert_eq!(env.cc, None);
        let tree = b.get().unwrap();
        assert_eq!(tree.parts().len(), 2);
        // The eager grammar gives the same tree.
        let eager = lazy_body(BS, Quirks::default(), 64, true).unwrap();
        assert_eq!(*tree, eager);
        // Raw and built compare by tree.
        assert_eq!(*e, LazyEnvelope::from(env.clone().into_owned()));
        assert_eq!(*b, LazyBody::from(eager.clone()));
        assert_ne!(MsgAtt::Envelope(e.clone()), MsgAtt::Body(b2.clone()));
        // With `eager_trees` the same trees come built.
        let opts = super::ResponseOptions::new().eager_trees(true);
        let (r, _) = super::response_with(&line, &opts).unwrap();
        let Response::Data(Data::Fetch {
            items: eager_items, ..
        }) = &r
        else {
            panic!()
        };
        let [
            MsgAtt::Envelope(ee),
            MsgAtt::BodyStructure(eb),
            MsgAtt::Body(eb2),
        ] = &eager_items[..]
        else {
            panic!("{eager_items:?}")
        };
        assert!(ee.raw().is_none() && eb.raw().is_none() && eb2.raw().is_none());
        assert_eq!(ee.built(), Some(&*env));
        assert_eq!(eb.built(), Some(&*tree));
        assert_eq!(eager_items, &items);
        // Detached: the bytes are copied once and outlive the input.
        let owned: Vec<MsgAtt<'static>> = items.into_iter().map(MsgAtt::into_owned).collect();
        drop(line);
        let MsgAtt::BodyStructure(b) = &owned[1] else {
            panic!()
        };
        assert_eq!(b.raw(), Some(BS));
        assert_eq!(b.clone().into_tree().unwrap(), eager.into_owned());
    }

    /// The grammar is checked while skipping: a malformed ENVELOPE or BODYSTRUCTURE is an
    /// error of `parse::response`, never later; nesting is counted at the same limit.
    #[test]
    fn lazy_items_are_validated_when_parsed() {
        for bad in [
            &b"* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"[..],
            b"* 1 FETCH (ENVELOPE (NIL NIL (\"a\" NIL) NIL NIL NIL NIL NIL NIL NIL))\r\n",
            b"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" x 1))\r\n",
            b"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5))\r\n",
            b"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"A\") NIL NIL \"7BIT\" 5 1))\r\n",
            b"* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 1 NIL))\r\n",
            b"* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 1) \"MIXED\" (\"A\" \"b\")\r\n",
        ] {
            assert!(response(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        // Strict quirks are kept with the bytes: NIL media type refused, then and later.
        let nil_type = b"* 1 FETCH (BODYSTRUCTURE (NIL \"PLAIN\" NIL NIL NIL \"7BIT\" 5))\r\n";
        assert!(super::response_with(nil_type, &super::ResponseOptions::strict()).is_err());
        let items = fetch_items(nil_type);
        let crate::types::MsgAtt::BodyStructure(b) = &items[0] else {
            panic!()
        };
        assert!(b.get().is_ok());
        // Depth: 70 nested multiparts stop at the default limit (64) inside parse::response.
        let mut deep = b"* 1 FETCH (BODYSTRUCTURE ".to_vec();
        deep.extend(std::iter::repeat_n(b'(', 70));
        deep.extend_from_slice(b"\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 1)");
        for _ in 0..69 {
            deep.extend_from_slice(b" \"MIXED\")");
        }
        deep.extend_from_slice(b")\r\n");
        let e = response(&deep).unwrap_err();
        assert!(matches!(e.kind, K::TooDeep { limit: 64 }), "{e:?}");
    }

    /// RFC 2971 §3.3 on the client side: 30 pairs, 30-octet names and 1024-octet values pass;
    /// one more of any is a typed error at the offending element.
    #[test]
    fn id_limits_enforced() {
        let ok = id_line(30, 30, 1024);
        let (r, used) = response(&ok).unwrap();
        assert_eq!(used, ok.len());
        let Response::Data(Data::Id(Some(pairs))) = r else {
            panic!("{r:?}")
        };
        assert_eq!(pairs.len(), 30);

        for (line, what) in [
            (id_line(31, 3, 1), "pairs"),
            (id_line(2, 31, 1), "field"),
            (id_line(2, 3, 1025), "value"),
        ] {
            let e = response(&line).unwrap_err();
            let K::Syntax { expected } = e.kind else {
                panic!("{what}: {e:?}")
            };
            assert!(expected.contains("RFC 2971"), "{what}: {expected}");
            assert!(expected.contains(match what {
                "pairs" => "pairs",
                "field" => "field",
                _ => "value",
            }));
        }
        // The 31st pair is refused where it starts, before it is read.
        let line = id_line(31, 3, 1);
        let e = response(&line).unwrap_err();
        let thirty_first = line.windows(5).position(|w| w == b"\"f30\"").unwrap();
        assert_eq!(e.offset, thirty_first);
        // NIL and an empty list stay fine.
        assert_eq!(
            response(b"* ID NIL\r\n").unwrap().0,
            Response::Data(Data::Id(None))
        );
        assert_eq!(
            response(b"* ID ()\r\n").unwrap().0,
            Response::Data(Data::Id(Some(Vec::new())))
        );
    }
}
