//! Strict server-side parser of complete commands (RFC 3501, RFC 9051 and the extensions).
//!
//! The input is one complete command as the framing step delivers it: the line(s) with every
//! literal inline (`A1 LOGIN {5}\r\nalice {6}\r\nsecret\r\n`), ending with CRLF. The parser
//! borrows from the input (see [`crate::types`] for the owned form) and never reserves memory
//! from a number the peer sent: a literal's announced size is only compared with what the input
//! holds. Nesting (parenthesized search keys, `NOT`, `OR`) is counted when each level opens and
//! refused past [`ParseOptions::max_depth`], so recursion stays bounded.
//!
//! ```
//! use mailsec_imap::parse;
//! use mailsec_imap::types::CommandBody;
//! let input = b"A1 LOGIN {5}\r\nalice {6}\r\nsecret\r\n";
//! let (cmd, used) = parse::command(input).unwrap();
//! assert_eq!(used, input.len());
//! assert_eq!(cmd.tag.as_str(), "A1");
//! let CommandBody::Login { username, password } = &cmd.body else { panic!() };
//! assert_eq!(username.as_bytes(), b"alice");
//! assert_eq!(password.expose().as_bytes(), b"secret");
//! assert_eq!(format!("{password:?}"), "<redacted>");
//!
//! let err = parse::command(b"A2 LOGIN alice \"bad\npassword\"\r\n").unwrap_err();
//! assert_eq!(err.tag.as_deref(), Some("A2"));
//! assert_eq!(err.preview, "<redacted>");
//! ```

mod base64;
mod command;
mod response;

pub use response::{Quirks, ResponseOptions, greeting, response, response_with};
pub(crate) use response::{lazy_body, lazy_envelope};

use std::borrow::Cow;
use std::num::{NonZeroU32, NonZeroU64};

use crate::error::{ParseError, ParseErrorKind as K};
use crate::types::chars::{is_astring_char, is_atom_char, is_list_char, is_quotable, is_tag_char};

/// Octet classes of the grammar as bits of [`CLASS`]: one table load per octet instead of a
/// chain of comparisons in the scanning loops.
const ATOM: u8 = 1;
const ASTRING: u8 = 2;
const TAG: u8 = 4;
const LIST: u8 = 8;
/// Ends a run of plain quoted-string content: `"`, `\`, or an octet no quoted string holds.
const QSTOP: u8 = 16;
/// An octet of a FETCH attribute name as the response parser reads it: letters, digits, `.`,
/// `-`, `_` (`RFC822.SIZE`, `X-GM-MSGID`, `BODY` before `[`).
pub(crate) const ATT_NAME: u8 = 32;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = 0;
        if is_atom_char(b) {
            c |= ATOM;
        }
        if is_astring_char(b) {
            c |= ASTRING;
        }
        if is_tag_char(b) {
            c |= TAG;
        }
        if is_list_char(b) {
            c |= LIST;
        }
        if !is_quotable(b) || b == b'"' || b == b'\\' {
            c |= QSTOP;
        }
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_' {
            c |= ATT_NAME;
        }
        t[i] = c;
        i += 1;
    }
    t
};

#[inline(always)]
pub(crate) fn class(b: u8, c: u8) -> bool {
    CLASS[b as usize] & c != 0
}

/// The first octet of `s` that ends plain quoted content ([`QSTOP`]), eight octets at a time:
/// SWAR tests flag `"`, `\\` and every octet below 0x0E (NUL, LF and CR among them; the
/// lowest flagged byte of a word is always a true match of its test), and a flagged control
/// that may stand in a quoted string is stepped over. The tail goes one octet at a time.
#[inline]
fn find_qstop(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(c) = s.get(i..i + 8) {
        let w = u64::from_le_bytes(<[u8; 8]>::try_from(c).unwrap_or_default());
        let q = w ^ (LO * u64::from(b'"'));
        let b = w ^ (LO * u64::from(b'\\'));
        // "Has a byte below n" (n <= 0x80): (w - n*LO) & !w & HI.
        let m = (q.wrapping_sub(LO) & !q)
            | (b.wrapping_sub(LO) & !b)
            | (w.wrapping_sub(LO * 0x0E) & !w);
        let m = m & HI;
        if m == 0 {
            i += 8;
            continue;
        }
        let k = i + (m.trailing_zeros() / 8) as usize;
        if class(s[k], QSTOP) {
            return Some(k);
        }
        // A control octet a quoted string may hold: go on after it.
        i = k + 1;
    }
    s[i..].iter().position(|&b| class(b, QSTOP)).map(|j| i + j)
}

/// `ATOM-CHAR` by table.
#[inline(always)]
pub(crate) fn atom_char(b: u8) -> bool {
    class(b, ATOM)
}
use crate::types::{
    AString, Atom, AuthData, Command, Date, DateTime, Flag, IString, ListMailbox, Literal,
    LiteralMode, Mailbox, NString, Quoted, SeqNumber, SeqRange, SequenceSet, Tag,
};

/// Default nesting limit ([`ParseOptions::max_depth`]).
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// Limits of the parser.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Longest tag accepted (default [`crate::types::DEFAULT_MAX_TAG`]).
    pub max_tag_len: usize,
    /// Deepest nesting of lists, `NOT` and `OR` (default [`DEFAULT_MAX_DEPTH`]).
    pub max_depth: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_tag_len: crate::types::DEFAULT_MAX_TAG,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl ParseOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the tag length limit.
    pub fn max_tag_len(mut self, n: usize) -> Self {
        self.max_tag_len = n;
        self
    }
    /// Sets the nesting limit.
    pub fn max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }
}

/// Parses one complete command with the default limits; returns it and the number of octets
/// consumed (through the final CRLF).
pub fn command(input: &[u8]) -> Result<(Command<'_>, usize), ParseError> {
    command_with(input, &ParseOptions::default())
}

/// Parses one complete command with the given limits.
pub fn command_with<'a>(
    input: &'a [u8],
    opts: &ParseOptions,
) -> Result<(Command<'a>, usize), ParseError> {
    let mut p = P::new(input, opts);
    let res = command::command(&mut p);
    match res {
        Ok(c) => Ok((c, p.pos)),
        Err((kind, at)) => {
            let mut e = ParseError::new(kind, input, at, p.redact);
            e.tag = p.tag.map(str::to_owned);
            Err(e)
        }
    }
}

/// Parses the line that ends IDLE (`DONE` CRLF, case-insensitive, RFC 2177 §3); returns the
/// octets consumed.
///
/// ```
/// assert_eq!(mailsec_imap::parse::idle_done(b"done\r\n").unwrap(), 6);
/// assert!(mailsec_imap::parse::idle_done(b"A1 NOOP\r\n").is_err());
/// ```
pub fn idle_done(input: &[u8]) -> Result<usize, ParseError> {
    let opts = ParseOptions::default();
    let mut p = P::new(input, &opts);
    let r = (|| {
        let word = p.take_while(|b| b.is_ascii_alphabetic());
        if !word.eq_ignore_ascii_case(b"DONE") {
            return Err((K::Syntax { expected: "DONE" }, 0));
        }
        p.crlf()
    })();
    r.map(|()| p.pos)
        .map_err(|(k, at)| ParseError::new(k, input, at, false))
}

/// Parses an AUTHENTICATE continuation line (RFC 9051 §6.2.2): base64 (possibly empty) or `*`
/// to cancel, then CRLF. Errors never show the line.
///
/// ```
/// use mailsec_imap::parse::authenticate_data;
/// use mailsec_imap::types::AuthData;
/// let (d, _) = authenticate_data(b"AGFsaWNlAHNlY3JldA==\r\n").unwrap();
/// let AuthData::Data(d) = d else { panic!() };
/// assert_eq!(&d.expose()[..], b"\0alice\0secret");
/// assert_eq!(authenticate_data(b"*\r\n").unwrap().0, AuthData::Cancel);
/// ```
pub fn authenticate_data(input: &[u8]) -> Result<(AuthData<'_>, usize), ParseError> {
    let opts = ParseOptions::default();
    let mut p = P::new(input, &opts);
    let r = (|| {
        if p.peek() == Some(b'*') {
            p.pos += 1;
            p.crlf()?;
            return Ok(AuthData::Cancel);
        }
        let start = p.pos;
        let text = p.take_while(base64::is_char);
        let data = base64::decode(text).ok_or((K::InvalidBase64, start))?;
        p.crlf()?;
        Ok(AuthData::Data(crate::types::Secret::new(Cow::Owned(data))))
    })();
    r.map(|d| (d, p.pos))
        .map_err(|(k, at)| ParseError::new(k, input, at, true))
}

pub(crate) fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    base64::decode(text)
}

pub(crate) fn base64_encode(data: &[u8], out: &mut Vec<u8>) {
    base64::encode(data, out);
}

pub(crate) type R<T> = Result<T, (K, usize)>;

/// The cursor.
pub(crate) struct P<'a, 'o> {
    pub(crate) input: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) opts: &'o ParseOptions,
    pub(crate) depth: usize,
    pub(crate) redact: bool,
    pub(crate) tag: Option<&'a str>,
}

impl<'a, 'o> P<'a, 'o> {
    fn new(input: &'a [u8], opts: &'o ParseOptions) -> Self {
        P {
            input,
            pos: 0,
            opts,
            depth: 0,
            redact: false,
            tag: None,
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Whether a string (quoted, literal or a misplaced literal8) starts here.
    fn at_string(&self) -> bool {
        match self.peek() {
            Some(b'"' | b'{') => true,
            Some(b'~') => self.peek_at(1) == Some(b'{'),
            _ => false,
        }
    }

    pub(crate) fn peek_at(&self, n: usize) -> Option<u8> {
        self.input.get(self.pos + n).copied()
    }

    pub(crate) fn fail<T>(&self, expected: &'static str) -> R<T> {
        Err((self.syntax_kind(expected), self.pos))
    }

    fn syntax_kind(&self, expected: &'static str) -> K {
        if self.pos >= self.input.len() {
            K::Incomplete
        } else {
            K::Syntax { expected }
        }
    }

    pub(crate) fn byte(&mut self, b: u8, expected: &'static str) -> R<()> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(expected)
        }
    }

    pub(crate) fn sp(&mut self) -> R<()> {
        self.byte(b' ', "SP")
    }

    pub(crate) fn crlf(&mut self) -> R<()> {
        match (self.peek(), self.peek_at(1)) {
            (Some(b'\r'), Some(b'\n')) => {
                self.pos += 2;
                Ok(())
            }
            (Some(b'\r'), None) | (None, _) => Err((K::Incomplete, self.pos)),
            _ => Err((K::Trailing, self.pos)),
        }
    }

    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        let rest = &self.input[start.min(self.input.len())..];
        let n = rest.iter().position(|&b| !f(b)).unwrap_or(rest.len());
        self.pos = start + n;
        &rest[..n]
    }

    /// A 1+ token of bytes satisfying `f`, as `&str` (callers only pass ASCII predicates).
    pub(crate) fn token(&mut self, f: impl Fn(u8) -> bool, expected: &'static str) -> R<&'a str> {
        let start = self.pos;
        let t = self.take_while(|b| b.is_ascii() && f(b));
        if t.is_empty() {
            return self.fail(expected);
        }
        std::str::from_utf8(t).map_err(|_| (K::Syntax { expected }, start))
    }

    /// Whether the next bytes are `word` (case-insensitive) followed by a non-atom byte;
    /// consumes it if so.
    #[inline]
    pub(crate) fn keyword(&mut self, word: &str) -> bool {
        let w = word.as_bytes();
        // Most tries fail on the first octet: decide those without slicing.
        match (self.peek(), w.first()) {
            (Some(b), Some(&c)) if b.eq_ignore_ascii_case(&c) => {}
            _ => return false,
        }
        let end = self.pos + w.len();
        match self.input.get(self.pos..end) {
            Some(s) if s.eq_ignore_ascii_case(w) => {
                if self.input.get(end).is_some_and(|&b| atom_char(b)) {
                    return false;
                }
                self.pos = end;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn enter(&mut self) -> R<()> {
        if self.depth >= self.opts.max_depth {
            return Err((
                K::TooDeep {
                    limit: self.opts.max_depth,
                },
                self.pos,
            ));
        }
        self.depth += 1;
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    pub(crate) fn tag(&mut self) -> R<Tag<'a>> {
        let start = self.pos;
        let t = self.take_while(|b| class(b, TAG));
        if t.is_empty() || self.peek() == Some(b'+') {
            return Err((K::InvalidTag, start));
        }
        if t.len() > self.opts.max_tag_len {
            return Err((
                K::TagTooLong {
                    limit: self.opts.max_tag_len,
                },
                start,
            ));
        }
        let s = std::str::from_utf8(t).map_err(|_| (K::InvalidTag, start))?;
        self.tag = Some(s);
        Ok(Tag::unchecked(s))
    }

    pub(crate) fn atom(&mut self) -> R<Atom<'a>> {
        self.token(atom_char, "atom").map(Atom::unchecked)
    }

    /// `number` (32-bit).
    pub(crate) fn number(&mut self) -> R<u32> {
        let start = self.pos;
        let n = self.number64()?;
        u32::try_from(n).map_err(|_| (K::NumberOverflow, start))
    }

    /// `number64`: up to 2^63-1.
    pub(crate) fn number64(&mut self) -> R<u64> {
        let start = self.pos;
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            self.pos = start;
            return self.fail("number");
        }
        if digits.len() <= 18 {
            // Below 10^18 < 2^63: no overflow possible, no check per digit.
            return Ok(digits
                .iter()
                .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')));
        }
        let mut n: u64 = 0;
        for &d in digits {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .filter(|&n| n <= i64::MAX as u64)
                .ok_or((K::NumberOverflow, start))?;
        }
        Ok(n)
    }

    pub(crate) fn nz_number(&mut self) -> R<NonZeroU32> {
        let start = self.pos;
        NonZeroU32::new(self.number()?).ok_or((K::Zero, start))
    }

    pub(crate) fn nz_number64(&mut self) -> R<NonZeroU64> {
        let start = self.pos;
        NonZeroU64::new(self.number64()?).ok_or((K::Zero, start))
    }

    /// A quoted string's unescaped content, not checked for UTF-8.
    pub(crate) fn quoted_raw(&mut self) -> R<Cow<'a, [u8]>> {
        self.byte(b'"', "quoted string")?;
        let body_start = self.pos;
        // Fast path: no escape before the closing quote.
        let rest = self.input.get(body_start..).unwrap_or_default();
        if let Some(i) = find_qstop(rest) {
            if rest[i] == b'"' {
                self.pos = body_start + i + 1;
                return Ok(Cow::Borrowed(&rest[..i]));
            }
        }
        let mut owned: Option<Vec<u8>> = None;
        let mut seg = body_start;
        loop {
            let rest = self.input.get(self.pos..).unwrap_or_default();
            let Some(i) = find_qstop(rest) else {
                self.pos = self.input.len();
                return Err((K::Incomplete, self.pos));
            };
            self.pos += i;
            match rest[i] {
                b'"' => break,
                b'\\' => {
                    let esc = self.peek_at(1);
                    if !matches!(esc, Some(b'"' | b'\\')) {
                        return Err((K::InvalidQuoted, self.pos));
                    }
                    let v = owned.get_or_insert_with(Vec::new);
                    v.extend_from_slice(&self.input[seg..self.pos]);
                    self.pos += 1;
                    seg = self.pos;
                    self.pos += 1;
                }
                _ => return Err((K::InvalidQuoted, self.pos)),
            }
        }
        let data: Cow<'a, [u8]> = match owned {
            None => Cow::Borrowed(&self.input[body_start..self.pos]),
            Some(mut v) => {
                v.extend_from_slice(&self.input[seg..self.pos]);
                Cow::Owned(v)
            }
        };
        self.pos += 1;
        Ok(data)
    }

    pub(crate) fn quoted(&mut self) -> R<Quoted<'a>> {
        let start = self.pos;
        let data = self.quoted_raw()?;
        if !data.is_ascii() && std::str::from_utf8(&data).is_err() {
            return Err((K::InvalidQuoted, start));
        }
        Ok(Quoted::unchecked(data))
    }

    /// A literal; `~{n}` only when `binary_ok`.
    pub(crate) fn literal(&mut self, binary_ok: bool) -> R<Literal<'a>> {
        let start = self.pos;
        let binary = self.peek() == Some(b'~');
        if binary {
            if !binary_ok {
                return Err((K::BinaryLiteralNotAllowed, start));
            }
            self.pos += 1;
        }
        self.byte(b'{', "literal")?;
        let n = self.number64()?;
        let mode = if self.peek() == Some(b'+') {
            self.pos += 1;
            LiteralMode::NonSync
        } else {
            LiteralMode::Sync
        };
        self.byte(b'}', "}")?;
        self.crlf()?;
        let available = self.input.len() - self.pos;
        if n > available as u64 {
            return Err((
                K::LiteralTruncated {
                    announced: n,
                    available,
                },
                start,
            ));
        }
        let data = &self.input[self.pos..self.pos + n as usize];
        if !binary {
            if let Some(i) = memchr::memchr(0, data) {
                return Err((K::NulInLiteral, self.pos + i));
            }
        }
        self.pos += n as usize;
        Ok(Literal::unchecked(data, mode, binary))
    }

    pub(crate) fn string(&mut self) -> R<IString<'a>> {
        match self.peek() {
            Some(b'"') => self.quoted().map(IString::Quoted),
            Some(b'{') => self.literal(false).map(IString::Literal),
            Some(b'~') if self.peek_at(1) == Some(b'{') => {
                self.literal(false).map(IString::Literal)
            }
            _ => self.fail("string"),
        }
    }

    pub(crate) fn astring(&mut self) -> R<AString<'a>> {
        if self.at_string() {
            return self.string().map(AString::String);
        }
        self.token(|b| class(b, ASTRING), "astring")
            .map(|s| AString::Atom(Cow::Borrowed(s)))
    }

    pub(crate) fn nstring(&mut self) -> R<NString<'a>> {
        if self.keyword("NIL") {
            return Ok(NString(None));
        }
        self.string().map(|s| NString(Some(s)))
    }

    pub(crate) fn mailbox(&mut self) -> R<Mailbox<'a>> {
        self.astring().map(Mailbox::new)
    }

    pub(crate) fn list_mailbox(&mut self) -> R<ListMailbox<'a>> {
        if self.at_string() {
            return self.string().map(ListMailbox::String);
        }
        self.token(|b| class(b, LIST), "list-mailbox")
            .map(|s| ListMailbox::Token(Cow::Borrowed(s)))
    }

    fn seq_number(&mut self) -> R<SeqNumber> {
        if self.peek() == Some(b'*') {
            self.pos += 1;
            return Ok(SeqNumber::Largest);
        }
        self.nz_number().map(SeqNumber::Value)
    }

    pub(crate) fn sequence_set(&mut self) -> R<SequenceSet> {
        if self.peek() == Some(b'$') {
            self.pos += 1;
            return Ok(SequenceSet::Saved);
        }
        let mut ranges = Vec::new();
        loop {
            let a = self.seq_number()?;
            if self.peek() == Some(b':') {
                self.pos += 1;
                let b = self.seq_number()?;
                ranges.push(SeqRange::Range(a, b));
            } else {
                ranges.push(SeqRange::Single(a));
            }
            if self.peek() != Some(b',') {
                break;
            }
            self.pos += 1;
        }
        Ok(SequenceSet::Ranges(ranges))
    }

    fn month(&mut self) -> R<u8> {
        let start = self.pos;
        let m = self
            .input
            .get(self.pos..self.pos + 3)
            .and_then(|m| {
                crate::types::datetime_months()
                    .iter()
                    .position(|name| name.as_bytes().eq_ignore_ascii_case(m))
            })
            .ok_or((K::InvalidDate, start))?;
        self.pos += 3;
        Ok(m as u8 + 1)
    }

    fn digits(&mut self, n: usize) -> R<u16> {
        let start = self.pos;
        let d = self
            .input
            .get(self.pos..self.pos + n)
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .ok_or((K::InvalidDate, start))?;
        self.pos += n;
        Ok(d.iter().fold(0, |a, &b| a * 10 + u16::from(b - b'0')))
    }

    fn date_text(&mut self) -> R<Date> {
        let start = self.pos;
        let day = self.take_while(|b| b.is_ascii_digit());
        if day.is_empty() || day.len() > 2 {
            return Err((K::InvalidDate, start));
        }
        let day = day.iter().fold(0u8, |a, &b| a * 10 + (b - b'0'));
        self.byte(b'-', "-")?;
        let month = self.month()?;
        self.byte(b'-', "-")?;
        let year = self.digits(4)?;
        Date::new(year, month, day).map_err(|_| (K::InvalidDate, start))
    }

    /// `date`: `date-text` or a quoted `date-text`.
    pub(crate) fn date(&mut self) -> R<Date> {
        if self.peek() == Some(b'"') {
            self.pos += 1;
            let d = self.date_text()?;
            self.byte(b'"', "\"")?;
            return Ok(d);
        }
        self.date_text()
    }

    /// `date-time`: `"dd-Mon-yyyy hh:mm:ss +zzzz"` (day may be SP + digit).
    pub(crate) fn date_time(&mut self) -> R<DateTime> {
        let start = self.pos;
        self.byte(b'"', "date-time")?;
        let day = if self.peek() == Some(b' ') {
            self.pos += 1;
            self.digits(1)?
        } else {
            self.digits(2)?
        };
        self.byte(b'-', "-")?;
        let month = self.month()?;
        self.byte(b'-', "-")?;
        let year = self.digits(4)?;
        self.sp()?;
        let h = self.digits(2)?;
        self.byte(b':', ":")?;
        let m = self.digits(2)?;
        self.byte(b':', ":")?;
        let s = self.digits(2)?;
        self.sp()?;
        let sign: i16 = match self.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err((K::InvalidDate, self.pos)),
        };
        self.pos += 1;
        let zh = self.digits(2)? as i16;
        let zm = self.digits(2)? as i16;
        self.byte(b'"', "\"")?;
        if zm > 59 {
            return Err((K::InvalidDate, start));
        }
        let date = Date::new(year, month, day as u8).map_err(|_| (K::InvalidDate, start))?;
        DateTime::new(date, h as u8, m as u8, s as u8, sign * (zh * 60 + zm))
            .map_err(|_| (K::InvalidDate, start))
    }

    /// A flag a client may send (STORE, APPEND): `\Recent` and `\*` refused.
    pub(crate) fn flag(&mut self) -> R<Flag<'a>> {
        if self.peek() == Some(b'\\') {
            let start = self.pos;
            self.pos += 1;
            let f = Flag::system(self.atom()?);
            if f == Flag::Recent {
                return Err((
                    K::Syntax {
                        expected: "flag other than \\Recent",
                    },
                    start,
                ));
            }
            return Ok(f);
        }
        self.atom().map(Flag::Keyword)
    }

    /// `"(" [flag *(SP flag)] ")"`.
    pub(crate) fn flag_list(&mut self) -> R<Vec<Flag<'a>>> {
        self.byte(b'(', "(")?;
        let mut v = Vec::new();
        if self.peek() != Some(b')') {
            loop {
                v.push(self.flag()?);
                if self.peek() != Some(b' ') {
                    break;
                }
                self.pos += 1;
            }
        }
        self.byte(b')', ")")?;
        Ok(v)
    }

    /// `"(" item *(SP item) ")"` (non-empty unless `empty_ok`).
    pub(crate) fn paren_list<T>(
        &mut self,
        empty_ok: bool,
        mut item: impl FnMut(&mut Self) -> R<T>,
    ) -> R<Vec<T>> {
        self.byte(b'(', "(")?;
        let mut v = Vec::new();
        if !(empty_ok && self.peek() == Some(b')')) {
            loop {
                v.push(item(self)?);
                if self.peek() != Some(b' ') {
                    break;
                }
                self.pos += 1;
            }
        }
        self.byte(b')', ")")?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::{QSTOP, class, find_qstop};

    /// The word-at-a-time scan finds the same octet as a plain scan, for every stop octet at
    /// every offset and length (including stop octets after the first, which the zero-byte
    /// test may flag falsely above the first match).
    #[test]
    fn find_qstop_matches_plain_scan() {
        let naive = |s: &[u8]| s.iter().position(|&b| class(b, QSTOP));
        for len in 0..40 {
            for at in 0..=len {
                for (stop, next) in [
                    b'"', b'\\', b'\r', b'\n', 0, b'a', 0x80, 0xff, 0x01, 0x05, 0x0c, 0x0e, 0x7f,
                ]
                .into_iter()
                .flat_map(|a| [(a, b'"'), (a, 0x05), (a, b'A')])
                {
                    let mut s: Vec<u8> = (0..len).map(|i| b'A' + (i % 26) as u8).collect();
                    if at < len {
                        s[at] = stop;
                        if at + 1 < len {
                            s[at + 1] = next;
                        }
                        if at + 2 < len {
                            s[at + 2] = b'\\';
                        }
                    }
                    assert_eq!(find_qstop(&s), naive(&s), "{s:?}");
                }
            }
        }
    }
}
