//! Typed SMTP values: commands and their arguments, replies, EHLO extensions, and the limits.
//!
//! Every newtype is validated when built, so a value that exists can be serialized without
//! further checks. Parsing goes through [`crate::parse`], serializing through
//! [`crate::serialize`].
//!
//! ```
//! use mailsec_smtp::types::{Domain, Host, Mailbox, ReversePath};
//!
//! let mailbox = Mailbox::parse(b"Smith@bar.com", false)?;
//! assert_eq!(mailbox.local_part().as_str(), "Smith");
//! assert_eq!(mailbox.host(), &Host::Domain(Domain::new(b"bar.com")?));
//! assert_eq!(ReversePath::Mailbox(mailbox).to_string(), "<Smith@bar.com>");
//! assert!(Domain::new(b"-bad.example").is_err());
//! # Ok::<(), mailsec_smtp::CommandError>(())
//! ```

use std::fmt;

use compact_str::CompactString;
use std::net::{Ipv4Addr, Ipv6Addr};

use mailsec_tls::sasl::{ExposeSecret, Mechanism, SecretSlice};

use crate::error::{CommandError, ReplyError};
use crate::parse;

/// Longest command line, counting the CRLF (RFC 5321 §4.5.3.1.4).
pub const MAX_COMMAND_LINE: usize = 512;
/// Longest AUTH command line or SASL response line, counting the CRLF (RFC 4954 §4).
pub const MAX_AUTH_LINE: usize = 12_288;
/// Longest reply line, counting the CRLF (RFC 5321 §4.5.3.1.5).
pub const MAX_REPLY_LINE: usize = 512;
/// Longest DATA text line, counting the CRLF and not the stuffed dot (RFC 5321 §4.5.3.1.6).
pub const MAX_TEXT_LINE: usize = 1000;
/// Longest domain name in octets (RFC 5321 §4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;
/// Longest domain label in octets (RFC 1035 §2.3.4).
pub const MAX_LABEL: usize = 63;
/// Most lines a reply parser accepts in one reply (this crate's bound; RFC 5321 sets none).
pub const MAX_REPLY_LINES: usize = 100;
/// Most octets a reply parser accepts in one reply, CRLFs included (this crate's bound).
pub const MAX_REPLY_OCTETS: usize = 16 * 1024;
/// Fewest recipients a server must accept per message (RFC 5321 §4.5.3.1.8).
pub const MIN_RECIPIENTS: usize = 100;

fn bytes_to_string(b: &[u8]) -> String {
    // Callers have validated the bytes as UTF-8 already.
    std::str::from_utf8(b).unwrap_or_default().to_owned()
}

/// Validated bytes as an inline small string: no heap allocation up to 24 octets, which
/// covers most domains, local parts and parameter values.
fn bytes_to_compact(b: &[u8]) -> CompactString {
    // Callers have validated the bytes as UTF-8 already.
    CompactString::new(std::str::from_utf8(b).unwrap_or_default())
}

/// A domain name (RFC 5321 §4.1.2 `Domain`), with U-labels allowed only when built with
/// [`Domain::new_utf8`] (RFC 6531 §3.3). Labels are 1–63 octets of letters, digits and
/// hyphens, neither starting nor ending with a hyphen; at most [`MAX_DOMAIN`] octets in all.
///
/// Comparison with `==` is exact; use [`Domain::eq_ignore_case`] for DNS semantics.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Domain(CompactString);

impl Domain {
    /// Validates an ASCII domain.
    pub fn new(name: &[u8]) -> Result<Domain, CommandError> {
        Self::parse_full(name, false)
    }

    /// Validates a domain whose labels may be UTF-8 U-labels (RFC 6531 §3.3).
    pub fn new_utf8(name: &[u8]) -> Result<Domain, CommandError> {
        Self::parse_full(name, true)
    }

    fn parse_full(name: &[u8], utf8: bool) -> Result<Domain, CommandError> {
        match parse::domain(name, utf8) {
            Ok(n) if n == name.len() => Ok(Domain::from_validated(name)),
            _ => Err(CommandError::InvalidDomain),
        }
    }

    pub(crate) fn from_validated(b: &[u8]) -> Domain {
        Domain(bytes_to_compact(b))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name is all ASCII.
    pub fn is_ascii(&self) -> bool {
        self.0.is_ascii()
    }

    /// ASCII-case-insensitive comparison.
    pub fn eq_ignore_case(&self, other: &Domain) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An address literal (RFC 5321 §4.1.3): `[192.0.2.1]`, `[IPv6:2001:db8::1]` or a
/// general `[tag:content]` form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AddressLiteral {
    /// `[a.b.c.d]`.
    Ipv4(Ipv4Addr),
    /// `[IPv6:…]`.
    Ipv6(Ipv6Addr),
    /// `[tag:content]` (`General-address-literal`).
    General {
        /// The standardized tag (an `Ldh-str`), not `IPv6`.
        tag: String,
        /// The content: printable ASCII without `[`, `\` and `]`.
        content: String,
    },
}

impl AddressLiteral {
    /// Parses a literal with its brackets, e.g. `[192.0.2.1]`.
    pub fn parse(literal: &[u8]) -> Result<AddressLiteral, CommandError> {
        match parse::address_literal(literal) {
            Ok((a, n)) if n == literal.len() => Ok(a),
            _ => Err(CommandError::InvalidAddressLiteral),
        }
    }

    /// Builds a general address literal, validating tag and content.
    pub fn general(tag: &str, content: &str) -> Result<AddressLiteral, CommandError> {
        let text = format!("[{tag}:{content}]");
        match Self::parse(text.as_bytes())? {
            lit @ AddressLiteral::General { .. } => Ok(lit),
            _ => Err(CommandError::InvalidAddressLiteral),
        }
    }
}

impl fmt::Display for AddressLiteral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressLiteral::Ipv4(a) => write!(f, "[{a}]"),
            AddressLiteral::Ipv6(a) => write!(f, "[IPv6:{a}]"),
            AddressLiteral::General { tag, content } => write!(f, "[{tag}:{content}]"),
        }
    }
}

/// What follows EHLO/HELO or the `@` of a mailbox: a domain or an address literal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name.
    Domain(Domain),
    /// An address literal.
    Literal(AddressLiteral),
}

impl Host {
    /// Parses a domain or address literal; U-labels only when `utf8`.
    pub fn parse(text: &[u8], utf8: bool) -> Result<Host, CommandError> {
        match parse::host(text, utf8) {
            Ok((h, n)) if n == text.len() => Ok(h.into_owned()),
            Err(e) => Err(e),
            Ok(_) => Err(CommandError::InvalidDomain),
        }
    }

    /// Whether the host is all ASCII.
    pub fn is_ascii(&self) -> bool {
        match self {
            Host::Domain(d) => d.is_ascii(),
            Host::Literal(_) => true,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => d.fmt(f),
            Host::Literal(l) => l.fmt(f),
        }
    }
}

/// The local part of a mailbox, in its wire form: a Dot-string (`john.smith`) or a
/// Quoted-string (`"john smith"`) (RFC 5321 §4.1.2), with UTF-8 only when built with
/// `utf8` (RFC 6531 §3.3).
///
/// No length limit beyond the command line is enforced: RFC 5321 §4.5.3.1.1 allows 64
/// octets, but SRS and VERP addresses routinely exceed that and §4.5.3.1 asks for no limits
/// where possible.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LocalPart(CompactString);

impl LocalPart {
    /// Validates a local part in wire form.
    pub fn new(wire: &[u8], utf8: bool) -> Result<LocalPart, CommandError> {
        match parse::local_part(wire, utf8) {
            Ok(n) if n == wire.len() => Ok(LocalPart::from_validated(wire)),
            _ => Err(CommandError::InvalidLocalPart),
        }
    }

    pub(crate) fn from_validated(b: &[u8]) -> LocalPart {
        LocalPart(bytes_to_compact(b))
    }

    /// The wire form, quotes and backslashes included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a Quoted-string.
    pub fn is_quoted(&self) -> bool {
        self.0.starts_with('"')
    }

    /// The value with quotes and quoted-pair backslashes removed.
    pub fn unquoted(&self) -> String {
        if !self.is_quoted() {
            return self.0.to_string();
        }
        let inner = &self.0[1..self.0.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut escaped = false;
        for c in inner.chars() {
            if !escaped && c == '\\' {
                escaped = true;
            } else {
                out.push(c);
                escaped = false;
            }
        }
        out
    }
}

/// A mailbox `local-part@host` (RFC 5321 §4.1.2 `Mailbox`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mailbox {
    local: LocalPart,
    host: Host,
}

impl Mailbox {
    /// Joins a local part and a host.
    pub fn new(local: LocalPart, host: Host) -> Mailbox {
        Mailbox { local, host }
    }

    /// Parses `local@host`; UTF-8 only when `utf8` (RFC 6531).
    pub fn parse(text: &[u8], utf8: bool) -> Result<Mailbox, CommandError> {
        let (m, n) = parse::mailbox(text, utf8)?;
        if n == text.len() {
            Ok(m.into_owned())
        } else {
            Err(CommandError::InvalidPath)
        }
    }

    /// The local part.
    pub fn local_part(&self) -> &LocalPart {
        &self.local
    }

    /// The domain or address literal.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Whether the mailbox is all ASCII (needs no SMTPUTF8).
    pub fn is_ascii(&self) -> bool {
        self.local.0.is_ascii() && self.host.is_ascii()
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local.0, self.host)
    }
}

/// The argument of `MAIL FROM:` (RFC 5321 §4.1.2 `Reverse-path`).
///
/// A source route (`<@a,@b:user@c>`) is accepted and dropped, as RFC 5321 §4.1.2 requires
/// ("MUST BE accepted, SHOULD NOT be generated, and SHOULD be ignored").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`: bounces and other notifications (RFC 5321 §4.5.5).
    Null,
    /// `<mailbox>`.
    Mailbox(Mailbox),
}

impl ReversePath {
    /// Whether the path is all ASCII.
    pub fn is_ascii(&self) -> bool {
        match self {
            ReversePath::Null => true,
            ReversePath::Mailbox(m) => m.is_ascii(),
        }
    }
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

/// The argument of `RCPT TO:` (RFC 5321 §4.1.1.3 `Forward-path`). A source route is
/// accepted and dropped (RFC 5321 §4.1.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<Postmaster>` without a domain (case-insensitive), which every server accepts.
    Postmaster,
    /// `<mailbox>`.
    Mailbox(Mailbox),
}

impl ForwardPath {
    /// Whether the path is all ASCII.
    pub fn is_ascii(&self) -> bool {
        match self {
            ForwardPath::Postmaster => true,
            ForwardPath::Mailbox(m) => m.is_ascii(),
        }
    }
}

impl fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("<Postmaster>"),
            ForwardPath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

/// A value carried as xtext (RFC 3461 §4): held decoded, encoded on the wire as printable
/// ASCII with `+XX` hex escapes for `+`, `=`, and anything outside `!`…`~`.
///
/// ```
/// use mailsec_smtp::types::XText;
///
/// let x = XText::decode(b"a+2Bb+3Dc")?;
/// assert_eq!(x.as_bytes(), b"a+b=c");
/// assert_eq!(x.encode(), "a+2Bb+3Dc");
/// # Ok::<(), mailsec_smtp::CommandError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct XText(Vec<u8>);

impl XText {
    /// Wraps decoded bytes.
    pub fn new(decoded: impl Into<Vec<u8>>) -> XText {
        XText(decoded.into())
    }

    /// Decodes the wire form. `+` must be followed by two hex digits (upper case per RFC 3461;
    /// lower case is accepted too); bytes outside `!`…`~` and a bare `=` are refused.
    pub fn decode(wire: &[u8]) -> Result<XText, CommandError> {
        let mut out = Vec::with_capacity(wire.len());
        let mut i = 0;
        while i < wire.len() {
            let b = wire[i];
            match b {
                b'+' => {
                    let hex = wire.get(i + 1..i + 3).ok_or(CommandError::InvalidXtext)?;
                    let hi = hex_val(hex[0]).ok_or(CommandError::InvalidXtext)?;
                    let lo = hex_val(hex[1]).ok_or(CommandError::InvalidXtext)?;
                    out.push(hi << 4 | lo);
                    i += 3;
                }
                b'!'..=b'~' if b != b'=' => {
                    out.push(b);
                    i += 1;
                }
                _ => return Err(CommandError::InvalidXtext),
            }
        }
        Ok(XText(out))
    }

    /// The decoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The wire form.
    pub fn encode(&self) -> String {
        let mut s = String::with_capacity(self.0.len());
        crate::serialize::write_xtext(&self.0, &mut s);
        s
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

impl fmt::Debug for XText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "XText({:?})", String::from_utf8_lossy(&self.0))
    }
}

/// An ESMTP keyword (RFC 5321 §4.1.2 `esmtp-keyword`): a letter or digit, then letters,
/// digits and hyphens. Compared case-insensitively by [`EsmtpKeyword::is`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EsmtpKeyword(CompactString);

impl EsmtpKeyword {
    /// Validates a keyword.
    pub fn new(keyword: &str) -> Result<EsmtpKeyword, CommandError> {
        if parse::is_keyword(keyword.as_bytes()) {
            Ok(EsmtpKeyword(CompactString::new(keyword)))
        } else {
            Err(CommandError::MalformedParameter)
        }
    }

    /// The keyword as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Case-insensitive comparison with a name.
    pub fn is(&self, name: &str) -> bool {
        self.0.eq_ignore_ascii_case(name)
    }
}

/// The keywords this crate types as [`MailParam`] or [`RcptParam`] variants.
pub const KNOWN_PARAMETERS: [&str; 9] = [
    "SIZE",
    "BODY",
    "SMTPUTF8",
    "RET",
    "ENVID",
    "AUTH",
    "REQUIRETLS",
    "NOTIFY",
    "ORCPT",
];

/// A MAIL or RCPT parameter this crate does not type: `keyword[=value]`, kept as received.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EsmtpParam {
    keyword: EsmtpKeyword,
    value: Option<CompactString>,
}

impl EsmtpParam {
    /// Builds an unknown parameter. The keyword must not be one of [`KNOWN_PARAMETERS`];
    /// the value must be an `esmtp-value` (printable, no `=` or space; RFC 6531 §3.3 adds
    /// UTF-8).
    pub fn new(keyword: &str, value: Option<&str>) -> Result<EsmtpParam, CommandError> {
        let keyword = EsmtpKeyword::new(keyword)?;
        if KNOWN_PARAMETERS.iter().any(|k| keyword.is(k)) {
            return Err(CommandError::MalformedParameter);
        }
        if let Some(v) = value {
            if !parse::is_esmtp_value(v.as_bytes(), true) {
                return Err(CommandError::MalformedParameter);
            }
        }
        Ok(EsmtpParam {
            keyword,
            value: value.map(CompactString::new),
        })
    }

    pub(crate) fn from_validated(keyword: &[u8], value: Option<&[u8]>) -> EsmtpParam {
        EsmtpParam {
            keyword: EsmtpKeyword(bytes_to_compact(keyword)),
            value: value.map(bytes_to_compact),
        }
    }

    /// The keyword.
    pub fn keyword(&self) -> &EsmtpKeyword {
        &self.keyword
    }

    /// The value, if any.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

/// `BODY=` values (RFC 6152 §2, RFC 3030 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyType {
    /// `7BIT`.
    SevenBit,
    /// `8BITMIME` (RFC 6152).
    EightBitMime,
    /// `BINARYMIME` (RFC 3030; requires BDAT).
    BinaryMime,
}

impl BodyType {
    /// The wire keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyType::SevenBit => "7BIT",
            BodyType::EightBitMime => "8BITMIME",
            BodyType::BinaryMime => "BINARYMIME",
        }
    }
}

/// `RET=` values (RFC 3461 §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `FULL`: return the whole message in a DSN.
    Full,
    /// `HDRS`: return the headers only.
    Hdrs,
}

/// `NOTIFY=` (RFC 3461 §4.1): all three false means `NEVER`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Notify {
    /// `SUCCESS`.
    pub success: bool,
    /// `FAILURE`.
    pub failure: bool,
    /// `DELAY`.
    pub delay: bool,
}

impl Notify {
    /// `NOTIFY=NEVER`.
    pub const NEVER: Notify = Notify {
        success: false,
        failure: false,
        delay: false,
    };

    /// Whether this is `NEVER`.
    pub fn is_never(&self) -> bool {
        *self == Notify::NEVER
    }
}

/// `ORCPT=addr-type;xtext` (RFC 3461 §4.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Orcpt {
    addr_type: String,
    address: XText,
}

impl Orcpt {
    /// Builds an ORCPT value; `addr_type` is an atom such as `rfc822` or `utf-8`.
    pub fn new(addr_type: &str, address: XText) -> Result<Orcpt, CommandError> {
        if !addr_type.is_empty() && addr_type.bytes().all(parse::is_atext) {
            Ok(Orcpt {
                addr_type: addr_type.to_owned(),
                address,
            })
        } else {
            Err(CommandError::InvalidParameter {
                keyword: "ORCPT".into(),
            })
        }
    }

    /// The address type, e.g. `rfc822`.
    pub fn addr_type(&self) -> &str {
        &self.addr_type
    }

    /// The original recipient, decoded from xtext.
    pub fn address(&self) -> &XText {
        &self.address
    }
}

/// A `MAIL FROM` parameter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MailParam {
    /// `SIZE=n` (RFC 1870 §6).
    Size(u64),
    /// `BODY=` (RFC 6152, RFC 3030).
    Body(BodyType),
    /// `SMTPUTF8` (RFC 6531 §3.4).
    SmtpUtf8,
    /// `RET=` (RFC 3461 §4.3).
    Ret(Ret),
    /// `ENVID=xtext` (RFC 3461 §4.4).
    EnvId(XText),
    /// `AUTH=` (RFC 4954 §5): `None` is `AUTH=<>`, the identity unknown.
    Auth(Option<XText>),
    /// `REQUIRETLS` (RFC 8689 §4.1).
    RequireTls,
    /// Any other parameter, kept as received.
    Other(EsmtpParam),
}

/// A `RCPT TO` parameter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RcptParam {
    /// `NOTIFY=` (RFC 3461 §4.1).
    Notify(Notify),
    /// `ORCPT=` (RFC 3461 §4.2).
    Orcpt(Orcpt),
    /// Any other parameter, kept as received.
    Other(EsmtpParam),
}

/// A free-text command argument (NOOP, HELP, VRFY, EXPN): non-empty UTF-8 without control
/// characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Text(CompactString);

impl Text {
    /// Validates text.
    pub fn new(text: &str) -> Result<Text, CommandError> {
        if parse::is_text(text.as_bytes()) {
            Ok(Text(CompactString::new(text)))
        } else {
            Err(CommandError::InvalidText)
        }
    }

    pub(crate) fn from_validated(b: &[u8]) -> Text {
        Text(bytes_to_compact(b))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A SASL mechanism name (RFC 4422 §3.1): 1–20 of `A-Z 0-9 - _`, parsed case-insensitively
/// and held in upper case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SaslMechanism(String);

impl SaslMechanism {
    /// Validates a mechanism name.
    pub fn new(name: &[u8]) -> Result<SaslMechanism, CommandError> {
        if (1..=20).contains(&name.len())
            && name
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            Ok(SaslMechanism(bytes_to_string(name).to_ascii_uppercase()))
        } else {
            Err(CommandError::InvalidMechanism)
        }
    }

    /// The name, upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mechanism, if `mailsec_tls::sasl` implements it.
    pub fn known(&self) -> Option<Mechanism> {
        Mechanism::from_name(self.0.as_bytes())
    }
}

impl From<Mechanism> for SaslMechanism {
    fn from(m: Mechanism) -> SaslMechanism {
        SaslMechanism(m.as_str().to_owned())
    }
}

/// An AUTH initial response (RFC 4954 §4), decoded from base64, kept in a secret that is
/// wiped on drop and never printed by `Debug`. An empty response is sent as `=`.
#[derive(Clone)]
pub struct InitialResponse(SecretSlice<u8>);

impl InitialResponse {
    /// Wraps a decoded response.
    pub fn new(decoded: Vec<u8>) -> InitialResponse {
        InitialResponse(SecretSlice::from(decoded))
    }

    /// The decoded bytes.
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// The secret itself, for [`mailsec_tls::sasl::ServerExchange::start`].
    pub fn secret(&self) -> &SecretSlice<u8> {
        &self.0
    }
}

impl fmt::Debug for InitialResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InitialResponse([REDACTED])")
    }
}

/// Compares the secrets (not in constant time: for tests and round trips, not for checking
/// credentials).
impl PartialEq for InitialResponse {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for InitialResponse {}

/// An SMTP command (RFC 5321 §4.1.1 and extensions).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `EHLO host` (RFC 5321 §4.1.1.1).
    Ehlo(Host),
    /// `HELO host` (RFC 5321 §4.1.1.1; an address literal is accepted as many clients send
    /// one).
    Helo(Host),
    /// `MAIL FROM:<path> [params]` (RFC 5321 §4.1.1.2).
    Mail {
        /// The reverse path.
        from: ReversePath,
        /// Parameters in the order given.
        params: Vec<MailParam>,
    },
    /// `RCPT TO:<path> [params]` (RFC 5321 §4.1.1.3).
    Rcpt {
        /// The forward path.
        to: ForwardPath,
        /// Parameters in the order given.
        params: Vec<RcptParam>,
    },
    /// `DATA` (RFC 5321 §4.1.1.4).
    Data,
    /// `BDAT size [LAST]` (RFC 3030 §2).
    Bdat {
        /// Exact octet count of the chunk that follows the CRLF.
        size: u64,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// `RSET` (RFC 5321 §4.1.1.5).
    Rset,
    /// `NOOP [text]` (RFC 5321 §4.1.1.9).
    Noop(Option<Text>),
    /// `QUIT` (RFC 5321 §4.1.1.10).
    Quit,
    /// `VRFY text` (RFC 5321 §4.1.1.6).
    Vrfy(Text),
    /// `EXPN text` (RFC 5321 §4.1.1.7).
    Expn(Text),
    /// `HELP [text]` (RFC 5321 §4.1.1.8).
    Help(Option<Text>),
    /// `STARTTLS` (RFC 3207 §4).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4).
    Auth {
        /// The mechanism name.
        mechanism: SaslMechanism,
        /// The initial response, decoded (`=` is the empty response).
        initial_response: Option<InitialResponse>,
    },
}

impl Command {
    /// The verb, upper case.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::Helo(_) => "HELO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Noop(_) => "NOOP",
            Command::Quit => "QUIT",
            Command::Vrfy(_) => "VRFY",
            Command::Expn(_) => "EXPN",
            Command::Help(_) => "HELP",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
        }
    }
}

/// A reply code (RFC 5321 §4.2): three digits, the first `2`–`5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// `220` service ready.
    pub const READY: ReplyCode = ReplyCode(220);
    /// `221` closing.
    pub const CLOSING: ReplyCode = ReplyCode(221);
    /// `235` authentication succeeded (RFC 4954 §6).
    pub const AUTH_OK: ReplyCode = ReplyCode(235);
    /// `250` requested action completed.
    pub const OK: ReplyCode = ReplyCode(250);
    /// `334` SASL challenge (RFC 4954 §4).
    pub const AUTH_CHALLENGE: ReplyCode = ReplyCode(334);
    /// `354` start mail input.
    pub const START_DATA: ReplyCode = ReplyCode(354);
    /// `421` service not available, closing.
    pub const UNAVAILABLE: ReplyCode = ReplyCode(421);
    /// `500` syntax error, command unrecognized.
    pub const SYNTAX_ERROR: ReplyCode = ReplyCode(500);
    /// `501` syntax error in parameters.
    pub const PARAM_SYNTAX_ERROR: ReplyCode = ReplyCode(501);
    /// `503` bad sequence of commands.
    pub const BAD_SEQUENCE: ReplyCode = ReplyCode(503);
    /// `552` exceeded storage allocation.
    pub const TOO_BIG: ReplyCode = ReplyCode(552);

    /// Validates a code: `200`–`599`.
    pub fn new(code: u16) -> Result<ReplyCode, ReplyError> {
        if (200..600).contains(&code) {
            Ok(ReplyCode(code))
        } else {
            Err(ReplyError::InvalidCode)
        }
    }

    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }

    /// The first digit: 2, 3, 4 or 5.
    pub fn class(self) -> u8 {
        (self.0 / 100) as u8
    }

    /// `2xx`: positive completion.
    pub fn is_positive(self) -> bool {
        self.class() == 2
    }

    /// `3xx`: positive intermediate.
    pub fn is_intermediate(self) -> bool {
        self.class() == 3
    }

    /// `4xx`: transient failure.
    pub fn is_transient(self) -> bool {
        self.class() == 4
    }

    /// `5xx`: permanent failure.
    pub fn is_permanent(self) -> bool {
        self.class() == 5
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An enhanced status code `class.subject.detail` (RFC 3463 §2, RFC 2034).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    class: u8,
    subject: u16,
    detail: u16,
}

impl EnhancedCode {
    /// Validates: class 2, 4 or 5; subject and detail 0–999.
    pub fn new(class: u8, subject: u16, detail: u16) -> Result<EnhancedCode, ReplyError> {
        if matches!(class, 2 | 4 | 5) && subject <= 999 && detail <= 999 {
            Ok(EnhancedCode {
                class,
                subject,
                detail,
            })
        } else {
            Err(ReplyError::InvalidEnhancedCode)
        }
    }

    /// The class: 2 success, 4 persistent transient failure, 5 permanent failure.
    pub fn class(self) -> u8 {
        self.class
    }

    /// The subject.
    pub fn subject(self) -> u16 {
        self.subject
    }

    /// The detail.
    pub fn detail(self) -> u16 {
        self.detail
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// A complete reply: one code, an optional enhanced status code, one or more text lines.
///
/// Parsed text has control characters removed (SECURITY.md invariant 5) and each invalid
/// UTF-8 sequence replaced by `?`. When an enhanced code is present, it is the first line's, and it is stripped
/// from every line that carries the same one; serializing writes it on every line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    code: ReplyCode,
    enhanced: Option<EnhancedCode>,
    lines: Vec<String>,
}

/// A reply on one line for messages and logs: `550 5.1.1 text` (see [`Reply::summary`]).
#[derive(Clone, Copy, Debug)]
pub struct ReplySummary<'a>(&'a Reply);

impl fmt::Display for ReplySummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.code())?;
        if let Some(e) = self.0.enhanced() {
            write!(f, " {e}")?;
        }
        let text = self.0.text();
        if !text.is_empty() {
            write!(f, " {text}")?;
        }
        Ok(())
    }
}

impl Reply {
    /// The reply on one line, `550 5.1.1 text`, for error messages and logs (the text of a
    /// parsed reply was sanitized by the parser).
    pub fn summary(&self) -> ReplySummary<'_> {
        ReplySummary(self)
    }

    /// Builds a reply. Each line of text must be free of control characters and fit
    /// [`MAX_REPLY_LINE`] with the code and the enhanced code; an empty `lines` is one empty
    /// line. The enhanced code's class must equal the reply code's class.
    pub fn new(
        code: ReplyCode,
        enhanced: Option<EnhancedCode>,
        lines: Vec<String>,
    ) -> Result<Reply, ReplyError> {
        let lines = if lines.is_empty() {
            vec![String::new()]
        } else {
            lines
        };
        if lines.len() > MAX_REPLY_LINES {
            return Err(ReplyError::TooManyLines {
                limit: MAX_REPLY_LINES,
            });
        }
        if let Some(e) = enhanced {
            if e.class != code.class() {
                return Err(ReplyError::InvalidEnhancedCode);
            }
        }
        let prefix = 4 + enhanced.map_or(0, |e| e.to_string().len() + 1);
        for line in &lines {
            if line.chars().any(char::is_control) {
                return Err(ReplyError::InvalidText);
            }
            let len = prefix + line.len() + 2;
            if len > MAX_REPLY_LINE {
                return Err(ReplyError::LineTooLong {
                    len,
                    limit: MAX_REPLY_LINE,
                });
            }
        }
        // A first line that itself looks like an enhanced code would be read back as one.
        if enhanced.is_none() && parse::split_enhanced(&lines[0], code).is_some() {
            return Err(ReplyError::InvalidText);
        }
        Ok(Reply {
            code,
            enhanced,
            lines,
        })
    }

    /// A one-line reply.
    pub fn single(code: u16, text: &str) -> Result<Reply, ReplyError> {
        Reply::new(ReplyCode::new(code)?, None, vec![text.to_owned()])
    }

    pub(crate) fn from_parts(
        code: ReplyCode,
        enhanced: Option<EnhancedCode>,
        lines: Vec<String>,
    ) -> Reply {
        Reply {
            code,
            enhanced,
            lines,
        }
    }

    /// The code.
    pub fn code(&self) -> ReplyCode {
        self.code
    }

    /// The enhanced status code, if the first line carried one.
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// The text lines, without codes; never empty.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// All lines joined with a space, for messages and logs.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// Whether this is a multi-line reply.
    pub fn is_multiline(&self) -> bool {
        self.lines.len() > 1
    }
}

/// One EHLO keyword line (RFC 5321 §4.1.1.1 `ehlo-line`), typed where this crate knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Extension {
    /// `PIPELINING` (RFC 2920).
    Pipelining,
    /// `SIZE [n]` (RFC 1870): `Some(0)` and `None` both mean no fixed limit.
    Size(Option<u64>),
    /// `8BITMIME` (RFC 6152).
    EightBitMime,
    /// `SMTPUTF8` (RFC 6531).
    SmtpUtf8,
    /// `CHUNKING` (RFC 3030).
    Chunking,
    /// `BINARYMIME` (RFC 3030).
    BinaryMime,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    EnhancedStatusCodes,
    /// `DSN` (RFC 3461).
    Dsn,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mech…` (RFC 4954); the old `AUTH=mech…` form parses to this too.
    Auth(Vec<SaslMechanism>),
    /// `REQUIRETLS` (RFC 8689).
    RequireTls,
    /// Any other keyword, or a known one with parameters this crate cannot read, kept with
    /// its parameters.
    Other {
        /// The keyword.
        keyword: String,
        /// The parameters, split on spaces.
        params: Vec<String>,
    },
}

/// The parsed EHLO reply: the server's name, its greeting text and its extensions.
///
/// ```
/// use mailsec_smtp::parse::parse_reply;
/// use mailsec_smtp::types::Extensions;
///
/// let (reply, _) = parse_reply(
///     b"250-mx.example Hello\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n",
/// )?.unwrap();
/// let ext = Extensions::from_reply(&reply)?;
/// assert_eq!(ext.domain(), "mx.example");
/// assert!(ext.pipelining() && ext.starttls());
/// assert_eq!(ext.max_size(), Some(1_000_000));
/// assert_eq!(ext.auth_mechanisms().len(), 2);
/// # Ok::<(), mailsec_smtp::ReplyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extensions {
    domain: String,
    greeting: String,
    list: Vec<Extension>,
}

impl Extensions {
    /// An empty set for the server named `domain`.
    pub fn new(domain: &Domain) -> Extensions {
        Extensions {
            domain: domain.as_str().to_owned(),
            greeting: String::new(),
            list: Vec::new(),
        }
    }

    /// Sets the greeting text after the domain on the first line.
    pub fn with_greeting(mut self, greeting: &str) -> Result<Extensions, ReplyError> {
        if greeting.chars().any(char::is_control) {
            return Err(ReplyError::InvalidText);
        }
        self.greeting = greeting.to_owned();
        Ok(self)
    }

    /// Adds an extension.
    pub fn with(mut self, ext: Extension) -> Extensions {
        self.list.push(ext);
        self
    }

    /// Reads a `250` EHLO reply. Keywords are case-insensitive; unreadable parameters of a
    /// known keyword keep the line as [`Extension::Other`].
    pub fn from_reply(reply: &Reply) -> Result<Extensions, ReplyError> {
        if reply.code != ReplyCode::OK {
            return Err(ReplyError::NotEhlo);
        }
        let first = &reply.lines[0];
        let (domain, greeting) = match first.split_once(' ') {
            Some((d, g)) => (d, g),
            None => (first.as_str(), ""),
        };
        let list = reply.lines[1..]
            .iter()
            // A line of nothing but spaces names no extension (and would not survive a round
            // trip as one).
            .filter(|l| !l.trim_matches(' ').is_empty())
            .map(|l| parse::extension(l))
            .collect();
        Ok(Extensions {
            domain: domain.to_owned(),
            greeting: greeting.to_owned(),
            list,
        })
    }

    /// The `250` reply announcing these extensions.
    pub fn to_reply(&self) -> Result<Reply, ReplyError> {
        let mut lines = Vec::with_capacity(self.list.len() + 1);
        lines.push(if self.greeting.is_empty() {
            self.domain.clone()
        } else {
            format!("{} {}", self.domain, self.greeting)
        });
        for e in &self.list {
            lines.push(crate::serialize::extension_line(e));
        }
        Reply::new(ReplyCode::OK, None, lines)
    }

    /// The server's name from the first line (sanitized text, not validated).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The rest of the first line.
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    /// All extensions, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Extension> {
        self.list.iter()
    }

    fn has(&self, f: impl Fn(&Extension) -> bool) -> bool {
        self.list.iter().any(f)
    }

    /// Whether an extension with this keyword was announced (case-insensitive), typed or not.
    pub fn contains(&self, keyword: &str) -> bool {
        self.list
            .iter()
            .any(|e| crate::serialize::extension_keyword(e).eq_ignore_ascii_case(keyword))
    }

    /// `PIPELINING`.
    pub fn pipelining(&self) -> bool {
        self.has(|e| matches!(e, Extension::Pipelining))
    }

    /// Whether `SIZE` was announced.
    pub fn size(&self) -> bool {
        self.has(|e| matches!(e, Extension::Size(_)))
    }

    /// The announced fixed size limit: `None` without `SIZE` or when it is absent or 0.
    pub fn max_size(&self) -> Option<u64> {
        self.list.iter().find_map(|e| match e {
            Extension::Size(Some(n)) if *n > 0 => Some(*n),
            _ => None,
        })
    }

    /// `8BITMIME`.
    pub fn eight_bit_mime(&self) -> bool {
        self.has(|e| matches!(e, Extension::EightBitMime))
    }

    /// `SMTPUTF8`.
    pub fn smtputf8(&self) -> bool {
        self.has(|e| matches!(e, Extension::SmtpUtf8))
    }

    /// `CHUNKING`.
    pub fn chunking(&self) -> bool {
        self.has(|e| matches!(e, Extension::Chunking))
    }

    /// `BINARYMIME`.
    pub fn binary_mime(&self) -> bool {
        self.has(|e| matches!(e, Extension::BinaryMime))
    }

    /// `ENHANCEDSTATUSCODES`.
    pub fn enhanced_status_codes(&self) -> bool {
        self.has(|e| matches!(e, Extension::EnhancedStatusCodes))
    }

    /// `DSN`.
    pub fn dsn(&self) -> bool {
        self.has(|e| matches!(e, Extension::Dsn))
    }

    /// `STARTTLS`.
    pub fn starttls(&self) -> bool {
        self.has(|e| matches!(e, Extension::StartTls))
    }

    /// `REQUIRETLS`.
    pub fn requiretls(&self) -> bool {
        self.has(|e| matches!(e, Extension::RequireTls))
    }

    /// Every announced SASL mechanism, from all AUTH lines, without duplicates.
    pub fn auth_mechanisms(&self) -> Vec<SaslMechanism> {
        let mut out: Vec<SaslMechanism> = Vec::new();
        for e in &self.list {
            if let Extension::Auth(ms) = e {
                for m in ms {
                    if !out.contains(m) {
                        out.push(m.clone());
                    }
                }
            }
        }
        out
    }

    /// The announced mechanisms `mailsec_tls::sasl` implements, for
    /// [`mailsec_tls::sasl::choose_mechanism`]. Only trust this from a reply received over
    /// TLS (SECURITY.md invariant 5).
    pub fn known_mechanisms(&self) -> Vec<Mechanism> {
        self.auth_mechanisms()
            .iter()
            .filter_map(SaslMechanism::known)
            .collect()
    }
}
