//! The typed values of POP3: commands, responses, listings, capabilities, and the validated
//! newtypes and limits they are built from.
//!
//! Values are built by [`crate::parse`] from received lines or by the caller, and written by
//! [`crate::serialize`]. Fields are public where any value is meaningful; where the wire
//! imposes a syntax (message numbers, mechanism names, unique-ids) a newtype checks it once.
//! The serializer refuses (with a typed error) the few values that would not parse back to
//! themselves, so `parse(serialize(v)) == v` holds for every value that serializes.
//!
//! ```
//! use mailsec_pop3::{Capabilities, Capability, Command, MessageNumber};
//!
//! let cmd = Command::Top { msg: MessageNumber::new(1).unwrap(), lines: 10 };
//! assert_eq!(cmd.to_bytes()?, &b"TOP 1 10\r\n"[..]);
//!
//! let caps: Capabilities = [Capability::Stls, Capability::Top].into_iter().collect();
//! assert!(caps.has_stls() && !caps.has_user());
//! # Ok::<(), mailsec_pop3::SerializeError>(())
//! ```

use std::fmt;
use std::num::NonZeroU32;

use mailsec_tls::sasl::{ExposeSecret, Mechanism, SecretSlice};

use crate::error::ParseError;

/// The longest command line, counting its CRLF: 255 octets (RFC 2449 §4).
pub const MAX_COMMAND_LINE: usize = 255;

/// The longest response line (status line or listing line), counting its CRLF: 512 octets
/// (RFC 2449 §4).
pub const MAX_RESPONSE_LINE: usize = 512;

/// RFC 2449 §4 limits each command argument to 40 octets. This crate documents the figure but
/// does **not** enforce it: user names are commonly e-mail addresses longer than 40 octets and
/// deployed servers (Dovecot, Cyrus) accept them. The whole line is bounded by
/// [`MAX_COMMAND_LINE`], which is what bounds memory.
pub const RFC_MAX_ARGUMENT: usize = 40;

/// The longest SASL line (an AUTH continuation `+ base64` from the server, or a client's
/// base64 response), counting `+ ` and CRLF. RFC 5034 §4 exempts SASL data from the line
/// limits of RFC 2449 ("clients and servers MUST be able to handle the maximum encoded size of
/// challenges and responses"), so the bound is the SASL layer's own
/// ([`mailsec_tls::sasl::wire::MAX_BASE64_LEN`]).
pub const MAX_SASL_LINE: usize = mailsec_tls::sasl::wire::MAX_BASE64_LEN + 4;

/// The longest unique-id: 70 octets (RFC 1939 §7, UIDL).
pub const MAX_UNIQUE_ID: usize = 70;

/// The longest SASL mechanism name: 20 characters (RFC 4422 §3.1).
pub const MAX_MECHANISM_NAME: usize = 20;

/// A message number: 1-based (RFC 1939 §3), at most `u32::MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageNumber(NonZeroU32);

impl MessageNumber {
    /// A message number, or `None` for 0.
    pub fn new(n: u32) -> Option<Self> {
        NonZeroU32::new(n).map(MessageNumber)
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for MessageNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Bytes that must never be printed: a PASS argument, an AUTH initial response, a client's
/// SASL response. `Debug` prints `[REDACTED]`; the bytes are wiped on drop
/// ([`mailsec_tls::sasl::SecretSlice`]).
///
/// `==` compares without an early exit on the first differing byte; it exists for
/// round-trip tests, a server should check credentials through
/// [`mailsec_tls::sasl::Authenticator`].
#[derive(Clone)]
pub struct SecretBytes(SecretSlice<u8>);

impl SecretBytes {
    /// Wraps secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        SecretBytes(SecretSlice::from(bytes.into()))
    }

    /// The secret bytes, for the code that must use them.
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.expose(), other.expose());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for SecretBytes {}

impl From<&str> for SecretBytes {
    fn from(s: &str) -> Self {
        SecretBytes::new(s.as_bytes())
    }
}

/// The APOP digest: MD5 of the greeting's timestamp and the shared secret (RFC 1939 §7), sent
/// as 32 lowercase hexadecimal digits. Parsing also accepts upper case.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApopDigest(pub [u8; 16]);

impl ApopDigest {
    /// Parses 32 hexadecimal digits (either case).
    pub fn from_hex(hex: &[u8]) -> Result<Self, ParseError> {
        if hex.len() != 32 {
            return Err(ParseError::InvalidDigest);
        }
        let mut out = [0u8; 16];
        for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            let hi = hex_value(pair[0]).ok_or(ParseError::InvalidDigest)?;
            let lo = hex_value(pair[1]).ok_or(ParseError::InvalidDigest)?;
            *o = hi << 4 | lo;
        }
        Ok(ApopDigest(out))
    }

    /// The 32 lowercase hexadecimal digits sent on the wire.
    pub fn to_hex(&self) -> [u8; 32] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        out
    }
}

impl fmt::Debug for ApopDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A digest is replayable only with the same timestamp; still, keep it out of logs.
        f.write_str("ApopDigest([REDACTED])")
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A SASL mechanism name as sent on the wire: 1–20 of `A-Z 0-9 - _` (RFC 4422 §3.1), parsed
/// case-insensitively and kept in upper case. It may name a mechanism this crate does not
/// implement; [`mechanism`](Self::mechanism) tells.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MechanismName(String);

impl MechanismName {
    /// Validates and upper-cases a mechanism name.
    ///
    /// ```
    /// use mailsec_pop3::MechanismName;
    /// assert_eq!(MechanismName::new(b"scram-sha-256").unwrap().as_str(), "SCRAM-SHA-256");
    /// assert!(MechanismName::new(b"NO SPACES").is_err());
    /// ```
    pub fn new(name: &[u8]) -> Result<Self, ParseError> {
        if name.is_empty()
            || name.len() > MAX_MECHANISM_NAME
            || !name
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            return Err(ParseError::InvalidMechanism);
        }
        let upper = name.to_ascii_uppercase();
        // All ASCII, checked above.
        Ok(MechanismName(String::from_utf8_lossy(&upper).into_owned()))
    }

    /// The name, in upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mechanism, if this crate implements it.
    pub fn mechanism(&self) -> Option<Mechanism> {
        Mechanism::from_name(self.0.as_bytes())
    }
}

impl From<Mechanism> for MechanismName {
    fn from(m: Mechanism) -> Self {
        MechanismName(m.as_str().to_owned())
    }
}

impl fmt::Display for MechanismName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A unique-id (UIDL): 1–70 octets in 0x21–0x7E (RFC 1939 §7). Compared byte for byte
/// (unique-ids are case-sensitive).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UniqueId(Vec<u8>);

impl UniqueId {
    /// Validates a unique-id.
    ///
    /// ```
    /// use mailsec_pop3::UniqueId;
    /// assert!(UniqueId::new(b"QhdPYR:00WBw1Ph7x7").is_ok());
    /// assert!(UniqueId::new(b"has space").is_err());
    /// assert!(UniqueId::new(&[b'x'; 71]).is_err());
    /// ```
    pub fn new(id: &[u8]) -> Result<Self, ParseError> {
        if id.is_empty()
            || id.len() > MAX_UNIQUE_ID
            || !id.iter().all(|b| (0x21..=0x7e).contains(b))
        {
            return Err(ParseError::InvalidUniqueId);
        }
        Ok(UniqueId(id.to_vec()))
    }

    /// The id's octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A client command (RFC 1939 §§4–7, RFC 2449 §5, RFC 2595 §4, RFC 5034 §4, RFC 6856 §2).
///
/// Keywords are parsed case-insensitively (RFC 1939 §3) and serialized in upper case.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `USER name` (RFC 1939 §7). One argument, no SP.
    User(Vec<u8>),
    /// `PASS string` (RFC 1939 §7). The whole rest of the line, SPs included (RFC 1939 §7:
    /// "the server may treat spaces in the argument as part of the password").
    Pass(SecretBytes),
    /// `APOP name digest` (RFC 1939 §7).
    Apop {
        /// The mailbox name.
        name: Vec<u8>,
        /// MD5 of timestamp and secret.
        digest: ApopDigest,
    },
    /// `STAT` (RFC 1939 §5).
    Stat,
    /// `LIST [msg]` (RFC 1939 §5).
    List(Option<MessageNumber>),
    /// `RETR msg` (RFC 1939 §5).
    Retr(MessageNumber),
    /// `DELE msg` (RFC 1939 §5).
    Dele(MessageNumber),
    /// `NOOP` (RFC 1939 §5).
    Noop,
    /// `RSET` (RFC 1939 §5).
    Rset,
    /// `QUIT` (RFC 1939 §§4, 6).
    Quit,
    /// `TOP msg n` (RFC 1939 §7): the headers and the first `lines` lines of the body.
    Top {
        /// The message.
        msg: MessageNumber,
        /// Body lines wanted (0: headers only).
        lines: u32,
    },
    /// `UIDL [msg]` (RFC 1939 §7).
    Uidl(Option<MessageNumber>),
    /// `CAPA` (RFC 2449 §5).
    Capa,
    /// `STLS` (RFC 2595 §4).
    Stls,
    /// `AUTH mechanism [initial-response]` (RFC 5034 §4). The initial response is held
    /// decoded; `=` on the wire is the empty response, absence is `None`.
    Auth {
        /// The mechanism asked for.
        mechanism: MechanismName,
        /// The decoded initial response, if any.
        initial_response: Option<SecretBytes>,
    },
    /// A bare `AUTH`, which some clients send to list mechanisms (RFC 1734 servers answered
    /// with a multi-line list; RFC 5034 clients use CAPA).
    AuthList,
    /// `UTF8` (RFC 6856 §2).
    Utf8,
}

impl Command {
    /// The upper-case keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Top { .. } => "TOP",
            Command::Uidl(_) => "UIDL",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::Auth { .. } | Command::AuthList => "AUTH",
            Command::Utf8 => "UTF8",
        }
    }

    /// Whether the command carries a credential (USER, PASS, APOP, AUTH), which a client in
    /// a TLS-required mode never sends before TLS (SECURITY.md invariant 4).
    pub fn carries_credentials(&self) -> bool {
        matches!(
            self,
            Command::User(_) | Command::Pass(_) | Command::Apop { .. } | Command::Auth { .. }
        )
    }

    /// Whether the server answers with a multi-line response on success: LIST and UIDL
    /// without argument, RETR, TOP, CAPA, bare AUTH (RFC 1939 §3, RFC 2449 §5).
    pub fn expects_multiline(&self) -> bool {
        matches!(
            self,
            Command::List(None)
                | Command::Uidl(None)
                | Command::Retr(_)
                | Command::Top { .. }
                | Command::Capa
                | Command::AuthList
        )
    }

    /// Parses a command line (see [`crate::parse::command`]).
    pub fn parse(line: &[u8]) -> Result<Self, ParseError> {
        crate::parse::command(line)
    }

    /// Serializes the command with its CRLF (see [`crate::serialize::command`]).
    pub fn to_bytes(&self) -> Result<bytes::BytesMut, crate::SerializeError> {
        let mut buf = bytes::BytesMut::new();
        crate::serialize::command(self, &mut buf)?;
        Ok(buf)
    }
}

/// A client line during an AUTH exchange (RFC 5034 §4): `*` cancels, anything else is base64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthResponse {
    /// `*`: the client cancels; the server answers `-ERR`.
    Cancel,
    /// A response, decoded (possibly empty: an empty line).
    Data(SecretBytes),
}

/// The status of a response line (RFC 1939 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// `+OK`.
    Ok,
    /// `-ERR`.
    Err,
}

/// An RFC 2449 §8 response code: `[CODE]` or `[CODE/SUB/…]` after the status.
///
/// Known codes are parsed case-insensitively; others are kept verbatim in
/// [`ResponseCode::Other`], hierarchy included.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseCode {
    /// `IN-USE` (RFC 2449 §8.1.1): the maildrop is locked by another session.
    InUse,
    /// `LOGIN-DELAY` (RFC 2449 §8.1.2): logging in again too soon.
    LoginDelay,
    /// `SYS/TEMP` (RFC 3206 §4): a temporary system problem.
    SysTemp,
    /// `SYS/PERM` (RFC 3206 §4): a permanent system problem.
    SysPerm,
    /// `AUTH` (RFC 3206 §5): the credentials are at fault.
    Auth,
    /// `UTF8` (RFC 6856 §2): UTF-8 is not permitted for this user.
    Utf8,
    /// Any other code, verbatim (its levels are separated by `/`).
    Other(Vec<u8>),
}

impl ResponseCode {
    pub(crate) const KNOWN: [(&'static str, ResponseCode); 6] = [
        ("IN-USE", ResponseCode::InUse),
        ("LOGIN-DELAY", ResponseCode::LoginDelay),
        ("SYS/TEMP", ResponseCode::SysTemp),
        ("SYS/PERM", ResponseCode::SysPerm),
        ("AUTH", ResponseCode::Auth),
        ("UTF8", ResponseCode::Utf8),
    ];

    /// The code as sent (without brackets).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ResponseCode::InUse => b"IN-USE",
            ResponseCode::LoginDelay => b"LOGIN-DELAY",
            ResponseCode::SysTemp => b"SYS/TEMP",
            ResponseCode::SysPerm => b"SYS/PERM",
            ResponseCode::Auth => b"AUTH",
            ResponseCode::Utf8 => b"UTF8",
            ResponseCode::Other(v) => v,
        }
    }

    /// The levels of a hierarchical code (`SYS/TEMP` → `SYS`, `TEMP`).
    pub fn levels(&self) -> impl Iterator<Item = &[u8]> {
        self.as_bytes().split(|b| *b == b'/')
    }

    /// Whether the code is `SYS` or below it (RFC 3206 §4): a problem of the server, not of
    /// the user's credentials.
    pub fn is_sys(&self) -> bool {
        self.levels()
            .next()
            .is_some_and(|l| l.eq_ignore_ascii_case(b"SYS"))
    }
}

/// A status line: `+OK` or `-ERR`, an optional response code, and text (RFC 1939 §3,
/// RFC 2449 §8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusLine {
    /// `+OK` or `-ERR`.
    pub status: Status,
    /// The `[CODE]`, if any.
    pub code: Option<ResponseCode>,
    /// The text after the status (and code), raw; the SP separating it is not included. Use
    /// [`text_sanitized`](Self::text_sanitized) to show it.
    pub text: Vec<u8>,
}

impl StatusLine {
    /// `+OK text`.
    pub fn ok(text: impl Into<Vec<u8>>) -> Self {
        StatusLine {
            status: Status::Ok,
            code: None,
            text: text.into(),
        }
    }

    /// `-ERR text`.
    pub fn err(text: impl Into<Vec<u8>>) -> Self {
        StatusLine {
            status: Status::Err,
            code: None,
            text: text.into(),
        }
    }

    /// The same line with a response code.
    #[must_use]
    pub fn with_code(mut self, code: ResponseCode) -> Self {
        self.code = Some(code);
        self
    }

    /// Whether the status is `+OK`.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// The text with control characters removed, for showing to a user (SECURITY.md
    /// invariant 5); see [`sanitize_text`].
    pub fn text_sanitized(&self) -> String {
        sanitize_text(&self.text)
    }

    /// The APOP timestamp of a greeting (RFC 1939 §7), angle brackets included, as the
    /// digest covers them; see [`crate::parse::apop_timestamp`].
    pub fn apop_timestamp(&self) -> Option<&[u8]> {
        crate::parse::apop_timestamp(&self.text)
    }
}

/// One response line from a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// A `+OK` / `-ERR` status line.
    Status(StatusLine),
    /// An AUTH continuation `+ base64` (RFC 5034 §4), decoded.
    Continuation(Vec<u8>),
}

impl Response {
    /// Parses a response line (see [`crate::parse::response`]).
    pub fn parse(line: &[u8]) -> Result<Self, ParseError> {
        crate::parse::response(line)
    }

    /// Serializes the response with its CRLF (see [`crate::serialize::response`]).
    pub fn to_bytes(&self) -> Result<bytes::BytesMut, crate::SerializeError> {
        let mut buf = bytes::BytesMut::new();
        crate::serialize::response(self, &mut buf)?;
        Ok(buf)
    }
}

/// The STAT reply's drop listing, `+OK count size` (RFC 1939 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Messages in the maildrop (not counting deleted ones).
    pub count: u32,
    /// Their total size in octets.
    pub size: u64,
}

impl Stat {
    /// The `+OK count size` status line.
    pub fn status_line(&self) -> StatusLine {
        StatusLine::ok(format!("{} {}", self.count, self.size))
    }
}

/// A scan listing, `msg size` (RFC 1939 §5, LIST): a line of a multi-line LIST, or the text
/// of a single-message LIST reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanListing {
    /// The message.
    pub msg: MessageNumber,
    /// Its exact size in octets (as sent, with CRLF line endings).
    pub size: u64,
}

impl ScanListing {
    /// The `+OK msg size` status line for `LIST msg`.
    pub fn status_line(&self) -> StatusLine {
        StatusLine::ok(format!("{} {}", self.msg, self.size))
    }
}

/// A unique-id listing, `msg uid` (RFC 1939 §7, UIDL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UidlListing {
    /// The message.
    pub msg: MessageNumber,
    /// Its unique-id.
    pub uid: UniqueId,
}

impl UidlListing {
    /// The `+OK msg uid` status line for `UIDL msg`.
    pub fn status_line(&self) -> StatusLine {
        let mut text = format!("{} ", self.msg).into_bytes();
        text.extend_from_slice(self.uid.as_bytes());
        StatusLine::ok(text)
    }
}

/// The EXPIRE policy (RFC 2449 §6.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Expire {
    /// `NEVER`: the server never deletes messages on its own.
    Never,
    /// Messages may be deleted this many days after retrieval (0: at the end of the session
    /// that retrieved them).
    Days(u32),
}

/// One line of a CAPA listing (RFC 2449 §§5–6, RFC 2595 §4, RFC 3206 §6, RFC 6856 §2).
///
/// Names are matched case-insensitively; unknown capabilities are kept in
/// [`Capability::Other`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Capability {
    /// `TOP` (RFC 2449 §6.1).
    Top,
    /// `USER` (RFC 2449 §6.2): USER/PASS accepted.
    User,
    /// `SASL mech…` (RFC 2449 §6.3).
    Sasl(Vec<MechanismName>),
    /// `RESP-CODES` (RFC 2449 §6.4).
    RespCodes,
    /// `LOGIN-DELAY n [USER]` (RFC 2449 §6.5): seconds between logins.
    LoginDelay {
        /// Minimum seconds between logins.
        seconds: u32,
        /// `USER`: the value may vary per user (announced before login).
        per_user: bool,
    },
    /// `PIPELINING` (RFC 2449 §6.6).
    Pipelining,
    /// `EXPIRE n|NEVER [USER]` (RFC 2449 §6.7).
    Expire {
        /// The policy.
        policy: Expire,
        /// `USER`: the value may vary per user (announced before login).
        per_user: bool,
    },
    /// `UIDL` (RFC 2449 §6.8).
    Uidl,
    /// `IMPLEMENTATION text` (RFC 2449 §6.9): free text, raw; sanitize before showing.
    Implementation(Vec<u8>),
    /// `STLS` (RFC 2595 §4).
    Stls,
    /// `AUTH-RESP-CODE` (RFC 3206 §6): the `[AUTH]` code is used.
    AuthRespCode,
    /// `UTF8 [USER]` (RFC 6856 §2).
    Utf8 {
        /// `USER`: UTF-8 user names and passwords are accepted.
        user: bool,
    },
    /// Any other capability, name verbatim, arguments split at SP.
    Other {
        /// The capability name.
        name: Vec<u8>,
        /// Its arguments.
        args: Vec<Vec<u8>>,
    },
}

impl Capability {
    pub(crate) const NAMES: [&'static str; 12] = [
        "TOP",
        "USER",
        "SASL",
        "RESP-CODES",
        "LOGIN-DELAY",
        "PIPELINING",
        "EXPIRE",
        "UIDL",
        "IMPLEMENTATION",
        "STLS",
        "AUTH-RESP-CODE",
        "UTF8",
    ];

    /// The capability's name as sent (upper case for known ones).
    pub fn name(&self) -> &[u8] {
        match self {
            Capability::Top => b"TOP",
            Capability::User => b"USER",
            Capability::Sasl(_) => b"SASL",
            Capability::RespCodes => b"RESP-CODES",
            Capability::LoginDelay { .. } => b"LOGIN-DELAY",
            Capability::Pipelining => b"PIPELINING",
            Capability::Expire { .. } => b"EXPIRE",
            Capability::Uidl => b"UIDL",
            Capability::Implementation(_) => b"IMPLEMENTATION",
            Capability::Stls => b"STLS",
            Capability::AuthRespCode => b"AUTH-RESP-CODE",
            Capability::Utf8 { .. } => b"UTF8",
            Capability::Other { name, .. } => name,
        }
    }

    /// Parses one CAPA listing line (see [`crate::parse::capability`]).
    pub fn parse(line: &[u8]) -> Result<Self, ParseError> {
        crate::parse::capability(line)
    }
}

/// The capabilities a server listed in its CAPA response, in order.
///
/// Plaintext is untrusted (SECURITY.md invariants 2 and 5): a client drops the set it got
/// before TLS and asks again after the handshake.
///
/// ```
/// use mailsec_pop3::{Capabilities, Capability};
/// use mailsec_tls::sasl::Mechanism;
///
/// let caps: Capabilities = [&b"STLS"[..], b"SASL PLAIN X-UNKNOWN SCRAM-SHA-256", b"user"]
///     .into_iter()
///     .map(Capability::parse)
///     .collect::<Result<_, _>>()?;
/// assert!(caps.has_stls() && caps.has_user() && !caps.has_pipelining());
/// assert_eq!(caps.sasl_mechanisms().count(), 3);
/// assert_eq!(caps.supported_mechanisms(), [Mechanism::Plain, Mechanism::ScramSha256]);
/// # Ok::<(), mailsec_pop3::ParseError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities(Vec<Capability>);

impl Capabilities {
    /// An empty set.
    pub fn new() -> Self {
        Capabilities(Vec::new())
    }

    /// Adds a capability.
    pub fn push(&mut self, capability: Capability) {
        self.0.push(capability);
    }

    /// The capabilities, in the order listed.
    pub fn iter(&self) -> std::slice::Iter<'_, Capability> {
        self.0.iter()
    }

    /// How many lines.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none was listed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn has(&self, f: impl Fn(&Capability) -> bool) -> bool {
        self.0.iter().any(f)
    }

    /// `STLS` listed.
    pub fn has_stls(&self) -> bool {
        self.has(|c| matches!(c, Capability::Stls))
    }

    /// `USER` listed.
    pub fn has_user(&self) -> bool {
        self.has(|c| matches!(c, Capability::User))
    }

    /// `TOP` listed.
    pub fn has_top(&self) -> bool {
        self.has(|c| matches!(c, Capability::Top))
    }

    /// `UIDL` listed.
    pub fn has_uidl(&self) -> bool {
        self.has(|c| matches!(c, Capability::Uidl))
    }

    /// `PIPELINING` listed.
    pub fn has_pipelining(&self) -> bool {
        self.has(|c| matches!(c, Capability::Pipelining))
    }

    /// `RESP-CODES` listed.
    pub fn has_resp_codes(&self) -> bool {
        self.has(|c| matches!(c, Capability::RespCodes))
    }

    /// `UTF8` listed (with or without `USER`).
    pub fn has_utf8(&self) -> bool {
        self.has(|c| matches!(c, Capability::Utf8 { .. }))
    }

    /// Every mechanism name of every `SASL` line, as listed.
    pub fn sasl_mechanisms(&self) -> impl Iterator<Item = &MechanismName> {
        self.0.iter().flat_map(|c| match c {
            Capability::Sasl(m) => m.as_slice(),
            _ => &[],
        })
    }

    /// The listed mechanisms this crate implements, in listed order, without duplicates
    /// (input for [`mailsec_tls::sasl::choose_mechanism`]).
    pub fn supported_mechanisms(&self) -> Vec<Mechanism> {
        let mut out: Vec<Mechanism> = Vec::new();
        for m in self.sasl_mechanisms().filter_map(MechanismName::mechanism) {
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    }

    /// The `LOGIN-DELAY` seconds, if listed.
    pub fn login_delay(&self) -> Option<u32> {
        self.0.iter().find_map(|c| match c {
            Capability::LoginDelay { seconds, .. } => Some(*seconds),
            _ => None,
        })
    }

    /// The `EXPIRE` policy, if listed.
    pub fn expire(&self) -> Option<Expire> {
        self.0.iter().find_map(|c| match c {
            Capability::Expire { policy, .. } => Some(*policy),
            _ => None,
        })
    }

    /// The `IMPLEMENTATION` text, sanitized, if listed.
    pub fn implementation(&self) -> Option<String> {
        self.0.iter().find_map(|c| match c {
            Capability::Implementation(t) => Some(sanitize_text(t)),
            _ => None,
        })
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        Capabilities(iter.into_iter().collect())
    }
}

impl Extend<Capability> for Capabilities {
    fn extend<I: IntoIterator<Item = Capability>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl<'a> IntoIterator for &'a Capabilities {
    type Item = &'a Capability;
    type IntoIter = std::slice::Iter<'a, Capability>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Server text made safe to show or log (SECURITY.md invariant 5): the shared rule of
/// [`mailsec_tls::text::sanitize`].
///
/// ```
/// use mailsec_pop3::sanitize_text;
/// assert_eq!(sanitize_text(b"ready\x1b[2J\x07 \xe2\x80\xaeevil"), "ready[2J evil");
/// ```
pub use mailsec_tls::text::sanitize as sanitize_text;
