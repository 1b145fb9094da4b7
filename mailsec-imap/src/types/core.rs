//! Strings of the IMAP grammar: tags, atoms, quoted strings, literals and their unions.

use std::borrow::Cow;
use std::fmt;

use super::chars::{is_astring_char, is_atom_char, is_quotable, is_tag_char};
use crate::error::ValidationError;

/// Longest quoted string [`IString::new`] and [`AString::new`] choose before falling back to a
/// literal.
pub const MAX_AUTO_QUOTED: usize = 1024;

/// Default limit on a tag's length (RFC 9051 sets none; servers need one).
pub const DEFAULT_MAX_TAG: usize = 64;

/// A command tag (RFC 9051 §2.2.1): one or more `ASTRING-CHAR` except `+`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Tag<'a>(Cow<'a, str>);

impl<'a> Tag<'a> {
    /// Validates a tag.
    ///
    /// ```
    /// use mailsec_imap::types::Tag;
    /// assert_eq!(Tag::new("A001").unwrap().as_str(), "A001");
    /// assert!(Tag::new("A+1").is_err());
    /// assert!(Tag::new("").is_err());
    /// ```
    pub fn new(tag: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let tag = tag.into();
        check_chars(tag.as_bytes(), "tag", is_tag_char)?;
        Ok(Tag(tag))
    }
    pub(crate) fn unchecked(tag: &'a str) -> Self {
        Tag(Cow::Borrowed(tag))
    }
    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Tag<'static> {
        Tag(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Debug for Tag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({:?})", self.0)
    }
}

/// An `atom` (RFC 9051 §4.1): one or more `ATOM-CHAR`. Compared as given; command names and
/// keywords are case-insensitive, which [`Atom::eq_ignore_case`] checks.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Atom<'a>(Cow<'a, str>);

impl<'a> Atom<'a> {
    /// Validates an atom.
    ///
    /// ```
    /// use mailsec_imap::types::Atom;
    /// assert!(Atom::new("PLAIN").is_ok());
    /// assert!(Atom::new("a b").is_err());
    /// ```
    pub fn new(atom: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let atom = atom.into();
        check_chars(atom.as_bytes(), "atom", is_atom_char)?;
        Ok(Atom(atom))
    }
    pub(crate) fn unchecked(atom: &'a str) -> Self {
        Atom(Cow::Borrowed(atom))
    }
    /// An atom from text already known to hold only `ATOM-CHAR`s (at least one).
    pub(crate) fn unchecked_cow(atom: Cow<'a, str>) -> Self {
        Atom(atom)
    }
    /// The atom text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub(crate) fn into_cow(self) -> Cow<'a, str> {
        self.0
    }
    /// ASCII case-insensitive comparison.
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Atom<'static> {
        Atom(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Debug for Atom<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Atom({:?})", self.0)
    }
}

/// The content of a `quoted` string (RFC 9051 §4.3), unescaped: no CR, LF or NUL, and valid
/// UTF-8 when it has 8-bit octets (IMAP4rev2 and UTF8=ACCEPT, RFC 6855 §3, allow UTF-8 in
/// quoted strings). The serializer escapes `"` and `\`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Quoted<'a>(Cow<'a, [u8]>);

impl<'a> Quoted<'a> {
    /// Validates quoted-string content.
    ///
    /// ```
    /// use mailsec_imap::types::Quoted;
    /// assert!(Quoted::new(&b"say \"hi\""[..]).is_ok());
    /// assert!(Quoted::new(&b"two\r\nlines"[..]).is_err());
    /// ```
    pub fn new(data: impl Into<Cow<'a, [u8]>>) -> Result<Self, ValidationError> {
        let data = data.into();
        if let Some(&byte) = data.iter().find(|&&b| !is_quotable(b)) {
            return Err(ValidationError::InvalidByte {
                what: "quoted string",
                byte,
            });
        }
        if !data.is_ascii() && std::str::from_utf8(&data).is_err() {
            return Err(ValidationError::Encoding {
                what: "quoted string",
            });
        }
        Ok(Quoted(data))
    }
    pub(crate) fn unchecked(data: Cow<'a, [u8]>) -> Self {
        Quoted(data)
    }
    /// The unescaped content.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Quoted<'static> {
        Quoted(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Debug for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quoted({:?})", String::from_utf8_lossy(&self.0))
    }
}

/// Whether a literal waits for the server's `+` continuation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LiteralMode {
    /// `{n}`: the client waits for `+` before sending the octets (RFC 9051 §4.3).
    Sync,
    /// `{n+}`: sent at once (LITERAL+ / LITERAL-, RFC 7888; LITERAL- in IMAP4rev2 up to 4096).
    NonSync,
}

/// A `literal` (`{n}CRLF` + octets) or a `literal8` (`~{n}CRLF` + octets, RFC 3516 §4.2).
///
/// A plain literal holds any octet but NUL; a binary literal holds any octet. Binary literals
/// are only valid as APPEND message data.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Literal<'a> {
    data: Cow<'a, [u8]>,
    mode: LiteralMode,
    binary: bool,
}

impl<'a> Literal<'a> {
    /// A plain literal: rejects NUL.
    pub fn new(data: impl Into<Cow<'a, [u8]>>, mode: LiteralMode) -> Result<Self, ValidationError> {
        let data = data.into();
        if data.contains(&0) {
            return Err(ValidationError::InvalidByte {
                what: "literal",
                byte: 0,
            });
        }
        Ok(Literal {
            data,
            mode,
            binary: false,
        })
    }
    /// A binary literal (`~{n}`), any octets.
    pub fn binary(data: impl Into<Cow<'a, [u8]>>, mode: LiteralMode) -> Self {
        Literal {
            data: data.into(),
            mode,
            binary: true,
        }
    }
    pub(crate) fn unchecked(data: &'a [u8], mode: LiteralMode, binary: bool) -> Self {
        Literal {
            data: Cow::Borrowed(data),
            mode,
            binary,
        }
    }
    /// The octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }
    /// Synchronizing or not.
    pub fn mode(&self) -> LiteralMode {
        self.mode
    }
    /// The same literal with another mode.
    pub fn with_mode(mut self, mode: LiteralMode) -> Self {
        self.mode = mode;
        self
    }
    /// Whether this is a `literal8`.
    pub fn is_binary(&self) -> bool {
        self.binary
    }
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Literal<'static> {
        Literal {
            data: Cow::Owned(self.data.into_owned()),
            mode: self.mode,
            binary: self.binary,
        }
    }
}

impl fmt::Debug for Literal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Literal")
            .field("len", &self.data.len())
            .field("mode", &self.mode)
            .field("binary", &self.binary)
            .finish()
    }
}

/// A `string` (RFC 9051 §4.3): quoted or literal. The form is part of the value so parse and
/// serialize are exact inverses; [`IString::new`] chooses a form automatically.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IString<'a> {
    /// `"..."`.
    Quoted(Quoted<'a>),
    /// `{n}` / `{n+}` (a binary literal is only valid as APPEND data).
    Literal(Literal<'a>),
}

impl<'a> IString<'a> {
    /// Chooses the form: quoted when the octets are printable 7-bit text of at most
    /// [`MAX_AUTO_QUOTED`] octets, else a synchronizing literal (CR, LF, 8-bit, long).
    /// Fails only on NUL, which no string can carry.
    ///
    /// ```
    /// use mailsec_imap::types::IString;
    /// assert!(matches!(IString::new(&b"hello"[..]).unwrap(), IString::Quoted(_)));
    /// assert!(matches!(IString::new(&b"a\r\nb"[..]).unwrap(), IString::Literal(_)));
    /// assert!(IString::new(&b"a\0b"[..]).is_err());
    /// ```
    pub fn new(data: impl Into<Cow<'a, [u8]>>) -> Result<Self, ValidationError> {
        let data = data.into();
        if data.len() <= MAX_AUTO_QUOTED && data.iter().all(|&b| (0x20..0x7f).contains(&b)) {
            Ok(IString::Quoted(Quoted(data)))
        } else {
            Literal::new(data, LiteralMode::Sync).map(IString::Literal)
        }
    }
    /// The octets, whichever the form.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            IString::Quoted(q) => q.as_bytes(),
            IString::Literal(l) => l.as_bytes(),
        }
    }
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> IString<'static> {
        match self {
            IString::Quoted(q) => IString::Quoted(q.into_owned()),
            IString::Literal(l) => IString::Literal(l.into_owned()),
        }
    }
}

/// An `astring` (RFC 9051 §9): `1*ASTRING-CHAR` or a string.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum AString<'a> {
    /// Bare `1*ASTRING-CHAR` (an atom that may also contain `]`).
    Atom(Cow<'a, str>),
    /// A quoted string or literal.
    String(IString<'a>),
}

impl<'a> AString<'a> {
    /// Chooses the form: bare when every octet is an `ASTRING-CHAR`, otherwise as
    /// [`IString::new`].
    ///
    /// ```
    /// use mailsec_imap::types::AString;
    /// assert!(matches!(AString::new(&b"alice"[..]).unwrap(), AString::Atom(_)));
    /// assert!(matches!(AString::new(&b"two words"[..]).unwrap(), AString::String(_)));
    /// ```
    pub fn new(data: impl Into<Cow<'a, [u8]>>) -> Result<Self, ValidationError> {
        let data = data.into();
        if !data.is_empty() && data.iter().all(|&b| is_astring_char(b)) {
            return Ok(AString::Atom(match data {
                Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).unwrap_or_default()),
                Cow::Owned(v) => Cow::Owned(String::from_utf8(v).unwrap_or_default()),
            }));
        }
        IString::new(data).map(AString::String)
    }
    /// A bare astring; fails unless every octet is an `ASTRING-CHAR`.
    pub fn atom(text: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let text = text.into();
        check_chars(text.as_bytes(), "astring", is_astring_char)?;
        Ok(AString::Atom(text))
    }
    /// The octets, whichever the form.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            AString::Atom(a) => a.as_bytes(),
            AString::String(s) => s.as_bytes(),
        }
    }
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> AString<'static> {
        match self {
            AString::Atom(a) => AString::Atom(Cow::Owned(a.into_owned())),
            AString::String(s) => AString::String(s.into_owned()),
        }
    }
}

impl fmt::Debug for AString<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AString::Atom(a) => write!(f, "AString::Atom({a:?})"),
            AString::String(s) => write!(f, "AString::{s:?}"),
        }
    }
}

/// An `nstring` (RFC 9051 §9): `NIL` or a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NString<'a>(pub Option<IString<'a>>);

impl NString<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> NString<'static> {
        NString(self.0.map(IString::into_owned))
    }
}

/// A value that must not be shown: a LOGIN password, AUTHENTICATE data. `Debug` prints
/// `<redacted>`; [`Secret::expose`] gives access.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }
    /// The wrapped value.
    pub fn expose(&self) -> &T {
        &self.0
    }
    /// Unwraps.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

pub(crate) fn check_chars(
    bytes: &[u8],
    what: &'static str,
    ok: fn(u8) -> bool,
) -> Result<(), ValidationError> {
    if bytes.is_empty() {
        return Err(ValidationError::Empty { what });
    }
    match bytes.iter().find(|&&b| !ok(b)) {
        Some(&byte) => Err(ValidationError::InvalidByte { what, byte }),
        None => Ok(()),
    }
}
