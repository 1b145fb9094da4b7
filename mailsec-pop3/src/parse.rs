//! Parsers over received lines (bytes, never `&str`).
//!
//! Every parser takes one line, with or without its final CRLF (a [`LineFramer`] yields lines
//! without it). The length limit is checked first, counting the CRLF whether present or not,
//! then a CR, LF or NUL anywhere else is an error. Parsers never allocate more than the value
//! they return, and that is bounded by the line.
//!
//! The grammar is a handful of tokens per line, so these are hand-written splitters rather
//! than combinators: the errors are precise and the hot path (a status line, a listing line)
//! is a few comparisons.
//!
//! [`LineFramer`]: mailsec_tls::framer::LineFramer
//!
//! # Leniency (decisions where the RFCs are silent)
//!
//! - Commands (server side) are parsed strictly: exactly one SP between arguments, no
//!   trailing SP (RFC 1939 §3); keywords case-insensitive. `PASS` keeps the whole rest of the
//!   line, SPs included. The 40-octet argument limit of RFC 2449 §4 is not enforced (see
//!   [`RFC_MAX_ARGUMENT`](crate::RFC_MAX_ARGUMENT)).
//! - Responses (client side) are parsed tolerantly: `+ok`/`-err` in any case, `+OK` with no
//!   text, a bare `+` continuation, a `[` that does not open a valid response code is text.
//!   Text may hold any octet but CR, LF and NUL; it is raw, sanitize before showing.
//! - Scan listings and STAT ignore anything after the size (RFC 1939 §5 allows it).
//! - Capability lines: runs of SP are one separator; arguments of argument-less
//!   capabilities are ignored; invalid SASL mechanism names are skipped.
//!
//! ```
//! use mailsec_pop3::{parse, Command, Response, ResponseCode, Status};
//!
//! assert_eq!(parse::command(b"retr 1\r\n")?, Command::Retr(1.try_into().unwrap()));
//! let Response::Status(line) = parse::response(b"-ERR [IN-USE] Do you have another POP session running?")?
//! else { unreachable!() };
//! assert_eq!((line.status, line.code), (Status::Err, Some(ResponseCode::InUse)));
//! assert_eq!(parse::command(b"RETR 0"), Err(mailsec_pop3::ParseError::ZeroMessageNumber));
//! # Ok::<(), mailsec_pop3::ParseError>(())
//! ```

use memchr::{memchr, memchr3};

use crate::error::ParseError;
use crate::types::{
    ApopDigest, AuthResponse, Capability, Command, Expire, MAX_COMMAND_LINE, MAX_RESPONSE_LINE,
    MAX_SASL_LINE, MechanismName, MessageNumber, Response, ResponseCode, ScanListing, SecretBytes,
    Stat, Status, StatusLine, UidlListing, UniqueId,
};

impl TryFrom<u32> for MessageNumber {
    type Error = ParseError;

    fn try_from(n: u32) -> Result<Self, ParseError> {
        MessageNumber::new(n).ok_or(ParseError::ZeroMessageNumber)
    }
}

/// Strips one final CRLF, checks the limit (counting the CRLF) and rejects CR, LF and NUL.
fn content(line: &[u8], limit: usize) -> Result<&[u8], ParseError> {
    let body = line.strip_suffix(b"\r\n").unwrap_or(line);
    if body.len() + 2 > limit {
        return Err(ParseError::LineTooLong { limit });
    }
    check_chars(body)?;
    Ok(body)
}

fn check_chars(body: &[u8]) -> Result<(), ParseError> {
    match memchr3(b'\r', b'\n', 0, body) {
        None => Ok(()),
        Some(i) if body[i] == 0 => Err(ParseError::Nul),
        Some(_) => Err(ParseError::BareLineEnding),
    }
}

/// Splits the arguments after a keyword: exactly one SP between them, none empty. Returns up
/// to `N` arguments and how many there were (more than `N` is an error).
fn args<const N: usize>(rest: Option<&[u8]>) -> Result<([&[u8]; N], usize), ParseError> {
    let mut out: [&[u8]; N] = [&[]; N];
    let Some(rest) = rest else {
        return Ok((out, 0));
    };
    let mut n = 0;
    for arg in rest.split(|b| *b == b' ') {
        if arg.is_empty() {
            return Err(ParseError::BadSeparator);
        }
        if n == N {
            return Err(ParseError::TooManyArguments);
        }
        out[n] = arg;
        n += 1;
    }
    Ok((out, n))
}

/// Parses a decimal number no larger than `max`. Digits only: no sign, no SP.
pub(crate) fn number(digits: &[u8], max: u64) -> Result<u64, ParseError> {
    if digits.is_empty() {
        return Err(ParseError::InvalidNumber);
    }
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(ParseError::InvalidNumber);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .filter(|n| *n <= max)
            .ok_or(ParseError::NumberOutOfRange)?;
    }
    Ok(n)
}

fn number_u32(digits: &[u8]) -> Result<u32, ParseError> {
    number(digits, u64::from(u32::MAX)).map(|n| n as u32)
}

/// Parses a message number: decimal, 1..=`u32::MAX`.
pub fn message_number(digits: &[u8]) -> Result<MessageNumber, ParseError> {
    MessageNumber::new(number_u32(digits)?).ok_or(ParseError::ZeroMessageNumber)
}

fn no_args(rest: Option<&[u8]>, cmd: Command) -> Result<Command, ParseError> {
    match rest {
        None => Ok(cmd),
        Some([]) => Err(ParseError::BadSeparator),
        Some(_) => Err(ParseError::TooManyArguments),
    }
}

fn one_msg(rest: Option<&[u8]>) -> Result<MessageNumber, ParseError> {
    match args::<1>(rest)? {
        (_, 0) => Err(ParseError::MissingArgument),
        (a, _) => message_number(a[0]),
    }
}

fn optional_msg(rest: Option<&[u8]>) -> Result<Option<MessageNumber>, ParseError> {
    match args::<1>(rest)? {
        (_, 0) => Ok(None),
        (a, _) => message_number(a[0]).map(Some),
    }
}

/// Parses a command line (server side), at most [`MAX_COMMAND_LINE`] octets with its CRLF.
///
/// ```
/// use mailsec_pop3::{parse, Command, ParseError};
///
/// assert_eq!(parse::command(b"STAT\r\n")?, Command::Stat);
/// assert_eq!(parse::command(b"list")?, Command::List(None));
/// let Command::Pass(pw) = parse::command(b"PASS secret with spaces")? else { unreachable!() };
/// assert_eq!(pw.expose(), b"secret with spaces");
/// assert_eq!(format!("{pw:?}"), "[REDACTED]");
/// assert_eq!(parse::command(b"DELE 4294967296"), Err(ParseError::NumberOutOfRange));
/// assert_eq!(parse::command(b"STAT extra"), Err(ParseError::TooManyArguments));
/// # Ok::<(), ParseError>(())
/// ```
pub fn command(line: &[u8]) -> Result<Command, ParseError> {
    let line = content(line, MAX_COMMAND_LINE)?;
    if line.is_empty() {
        return Err(ParseError::Empty);
    }
    let (keyword, rest) = match memchr(b' ', line) {
        Some(i) => (&line[..i], Some(&line[i + 1..])),
        None => (line, None),
    };
    if !(3..=4).contains(&keyword.len()) {
        return Err(ParseError::UnknownCommand);
    }
    let mut kw = [0u8; 4];
    kw[..keyword.len()].copy_from_slice(keyword);
    kw.make_ascii_uppercase();
    match &kw {
        b"USER" => match args::<1>(rest)? {
            (_, 0) => Err(ParseError::MissingArgument),
            (a, _) => Ok(Command::User(a[0].to_vec())),
        },
        // RFC 1939 §7: the argument is the rest of the line; SPs belong to it.
        b"PASS" => match rest {
            None => Err(ParseError::MissingArgument),
            Some(pw) => Ok(Command::Pass(SecretBytes::new(pw))),
        },
        b"APOP" => match args::<2>(rest)? {
            (a, 2) => Ok(Command::Apop {
                name: a[0].to_vec(),
                digest: ApopDigest::from_hex(a[1])?,
            }),
            _ => Err(ParseError::MissingArgument),
        },
        b"STAT" => no_args(rest, Command::Stat),
        b"LIST" => optional_msg(rest).map(Command::List),
        b"RETR" => one_msg(rest).map(Command::Retr),
        b"DELE" => one_msg(rest).map(Command::Dele),
        b"NOOP" => no_args(rest, Command::Noop),
        b"RSET" => no_args(rest, Command::Rset),
        b"QUIT" => no_args(rest, Command::Quit),
        b"TOP\0" => match args::<2>(rest)? {
            (a, 2) => Ok(Command::Top {
                msg: message_number(a[0])?,
                lines: number_u32(a[1])?,
            }),
            _ => Err(ParseError::MissingArgument),
        },
        b"UIDL" => optional_msg(rest).map(Command::Uidl),
        b"CAPA" => no_args(rest, Command::Capa),
        b"STLS" => no_args(rest, Command::Stls),
        b"UTF8" => no_args(rest, Command::Utf8),
        b"AUTH" => match args::<2>(rest)? {
            (_, 0) => Ok(Command::AuthList),
            (a, n) => Ok(Command::Auth {
                mechanism: MechanismName::new(a[0])?,
                initial_response: if n == 2 {
                    // RFC 5034 §4: "=" is the empty initial response.
                    let decoded = mailsec_tls::sasl::wire::decode_initial_response(a[1])
                        .map_err(|_| ParseError::InvalidBase64)?;
                    Some(SecretBytes::new(decoded))
                } else {
                    None
                },
            }),
        },
        _ => Err(ParseError::UnknownCommand),
    }
}

/// Parses a client's line during an AUTH exchange (RFC 5034 §4): `*` cancels, anything else
/// is base64 (an empty line is the empty response). At most [`MAX_SASL_LINE`] octets.
///
/// ```
/// use mailsec_pop3::{parse, AuthResponse};
/// assert_eq!(parse::auth_response(b"*\r\n")?, AuthResponse::Cancel);
/// let AuthResponse::Data(d) = parse::auth_response(b"dGVzdA==")? else { unreachable!() };
/// assert_eq!(d.expose(), b"test");
/// # Ok::<(), mailsec_pop3::ParseError>(())
/// ```
pub fn auth_response(line: &[u8]) -> Result<AuthResponse, ParseError> {
    let line = content(line, MAX_SASL_LINE)?;
    if line == b"*" {
        return Ok(AuthResponse::Cancel);
    }
    mailsec_tls::sasl::wire::decode(line)
        .map(|d| AuthResponse::Data(SecretBytes::new(d)))
        .map_err(|_| ParseError::InvalidBase64)
}

/// Parses a response line (client side, tolerant; see the [module docs](self)): a status
/// line of at most [`MAX_RESPONSE_LINE`] octets, or an AUTH continuation of at most
/// [`MAX_SASL_LINE`] octets, CRLF counted.
///
/// ```
/// use mailsec_pop3::{parse, Response, Status};
///
/// let Response::Status(greeting) = parse::response(
///     b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
/// )? else { unreachable!() };
/// assert_eq!(greeting.status, Status::Ok);
/// assert_eq!(greeting.apop_timestamp(), Some(&b"<1896.697170952@dbc.mtview.ca.us>"[..]));
/// assert_eq!(parse::response(b"+ ")?, Response::Continuation(vec![]));
/// # Ok::<(), mailsec_pop3::ParseError>(())
/// ```
pub fn response(line: &[u8]) -> Result<Response, ParseError> {
    let body = line.strip_suffix(b"\r\n").unwrap_or(line);
    let continuation = body.first() == Some(&b'+') && matches!(body.get(1), None | Some(b' '));
    if continuation {
        let body = content(line, MAX_SASL_LINE)?;
        let b64 = body.get(2..).unwrap_or_default();
        return mailsec_tls::sasl::wire::decode(b64)
            .map(Response::Continuation)
            .map_err(|_| ParseError::InvalidBase64);
    }
    status_line(line).map(Response::Status)
}

/// Parses a `+OK`/`-ERR` status line (tolerant; see [`response`]).
pub fn status_line(line: &[u8]) -> Result<StatusLine, ParseError> {
    let body = content(line, MAX_RESPONSE_LINE)?;
    let (status, rest) = if starts_with_ci(body, b"+OK") {
        (Status::Ok, &body[3..])
    } else if starts_with_ci(body, b"-ERR") {
        (Status::Err, &body[4..])
    } else {
        return Err(ParseError::InvalidStatus);
    };
    let text = match rest {
        [] => rest,
        [b' ', text @ ..] => text,
        _ => return Err(ParseError::InvalidStatus),
    };
    let (code, text) = match split_code(text) {
        Some((code, text)) => (Some(code), text),
        None => (None, text),
    };
    Ok(StatusLine {
        status,
        code,
        text: text.to_vec(),
    })
}

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// RFC 2449 §8: `resp-code = "[" resp-level *("/" resp-level) "]"`,
/// `resp-level = 1*rchar`, `rchar = %x21-2E / %x30-5C / %x5E-7F`. Returns the code and the
/// text after it (one SP after `]` removed), or `None` if `text` does not open with a valid
/// code.
pub(crate) fn split_code(text: &[u8]) -> Option<(ResponseCode, &[u8])> {
    let inner_and_rest = text.strip_prefix(b"[")?;
    let close = memchr(b']', inner_and_rest)?;
    let inner = &inner_and_rest[..close];
    if !valid_code(inner) {
        return None;
    }
    let after = &inner_and_rest[close + 1..];
    let after = after.strip_prefix(b" ").unwrap_or(after);
    let code = ResponseCode::KNOWN
        .into_iter()
        .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(inner))
        .map(|(_, c)| c)
        .unwrap_or_else(|| ResponseCode::Other(inner.to_vec()));
    Some((code, after))
}

pub(crate) fn valid_code(inner: &[u8]) -> bool {
    !inner.is_empty()
        && inner.split(|b| *b == b'/').all(|level| {
            !level.is_empty()
                && level
                    .iter()
                    .all(|b| matches!(b, 0x21..=0x2e | 0x30..=0x5c | 0x5e..=0x7f))
        })
}

/// Finds the APOP timestamp in a greeting's text (RFC 1939 §7): the first `<…>` whose inside
/// is 1 or more octets of 0x21–0x7E other than `<` and `>`, with an `@` (a msg-id,
/// RFC 822). Angle brackets are included, as the APOP digest covers them.
///
/// The strict syntax is deliberate: the 2007 APOP attacks (Leurent; Sasaki et al.) need a
/// server to pick timestamps with non-ASCII octets; a client that accepts only msg-id
/// syntax makes them impractical. APOP remains weak (MD5) and is off by default in the
/// client machine.
///
/// ```
/// use mailsec_pop3::parse::apop_timestamp;
/// assert_eq!(apop_timestamp(b"ready <x> <1.2@host>"), Some(&b"<1.2@host>"[..]));
/// assert_eq!(apop_timestamp(b"ready <\xff@host>"), None);
/// ```
pub fn apop_timestamp(text: &[u8]) -> Option<&[u8]> {
    let mut start = None;
    for (i, &b) in text.iter().enumerate() {
        match (start, b) {
            (_, b'<') => start = Some(i),
            (Some(s), b'>') => {
                let inner = &text[s + 1..i];
                if !inner.is_empty() && inner.contains(&b'@') {
                    return Some(&text[s..=i]);
                }
                start = None;
            }
            (Some(_), 0x21..=0x7e) => {}
            (Some(_), _) => start = None,
            (None, _) => {}
        }
    }
    None
}

/// Parses the STAT reply's text, `count size` (RFC 1939 §5), after `+OK `. Whatever follows
/// the size after a SP is ignored.
///
/// ```
/// use mailsec_pop3::{parse, Response, Stat};
/// let Response::Status(line) = parse::response(b"+OK 2 320\r\n")? else { unreachable!() };
/// assert_eq!(parse::stat(&line.text)?, Stat { count: 2, size: 320 });
/// # Ok::<(), mailsec_pop3::ParseError>(())
/// ```
pub fn stat(text: &[u8]) -> Result<Stat, ParseError> {
    let (a, b) = two_numbers(text)?;
    Ok(Stat {
        count: number_u32(a)?,
        size: number(b, u64::MAX)?,
    })
}

fn two_numbers(text: &[u8]) -> Result<(&[u8], &[u8]), ParseError> {
    let text = content(text, MAX_RESPONSE_LINE)?;
    let mut parts = text.splitn(3, |b| *b == b' ');
    match (parts.next(), parts.next()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(ParseError::MissingArgument),
    }
}

/// Parses a scan listing, `msg size` (RFC 1939 §5): a line of a multi-line LIST (after
/// [`unstuff`]) or the text of a `LIST msg` reply. Whatever follows the size after a SP is
/// ignored.
///
/// ```
/// use mailsec_pop3::{parse, MessageNumber, ScanListing};
/// assert_eq!(parse::scan_listing(b"1 120")?, ScanListing { msg: MessageNumber::new(1).unwrap(), size: 120 });
/// # Ok::<(), mailsec_pop3::ParseError>(())
/// ```
pub fn scan_listing(line: &[u8]) -> Result<ScanListing, ParseError> {
    let (a, b) = two_numbers(line)?;
    Ok(ScanListing {
        msg: message_number(a)?,
        size: number(b, u64::MAX)?,
    })
}

/// Parses a unique-id listing, `msg uid` (RFC 1939 §7): a line of a multi-line UIDL or the
/// text of a `UIDL msg` reply.
///
/// ```
/// use mailsec_pop3::parse;
/// let l = parse::uidl_listing(b"2 QhdPYR:00WBw1Ph7x7\r\n")?;
/// assert_eq!((l.msg.get(), l.uid.as_bytes()), (2, &b"QhdPYR:00WBw1Ph7x7"[..]));
/// # Ok::<(), mailsec_pop3::ParseError>(())
/// ```
pub fn uidl_listing(line: &[u8]) -> Result<UidlListing, ParseError> {
    let line = content(line, MAX_RESPONSE_LINE)?;
    let sp = memchr(b' ', line).ok_or(ParseError::MissingArgument)?;
    Ok(UidlListing {
        msg: message_number(&line[..sp])?,
        uid: UniqueId::new(&line[sp + 1..])?,
    })
}

/// Undoes dot-stuffing on one line of a multi-line response framed by a line framer
/// (RFC 1939 §3): `None` for the terminator `.`, the line without its first `.` if it starts
/// with `..`, the line itself otherwise (a line starting with a single `.` is kept as is, the
/// tolerant reading). For message bodies use [`crate::multiline::MultilineDecoder`], which
/// streams.
///
/// ```
/// use mailsec_pop3::parse::unstuff;
/// assert_eq!(unstuff(b"."), None);
/// assert_eq!(unstuff(b"..hidden"), Some(&b".hidden"[..]));
/// assert_eq!(unstuff(b"TOP"), Some(&b"TOP"[..]));
/// ```
pub fn unstuff(line: &[u8]) -> Option<&[u8]> {
    match line {
        b"." => None,
        [b'.', b'.', ..] => Some(&line[1..]),
        _ => Some(line),
    }
}

fn is_user(arg: &[u8]) -> bool {
    arg.eq_ignore_ascii_case(b"USER")
}

/// Parses one CAPA listing line (RFC 2449 §§5–6; tolerant, see the [module docs](self)).
///
/// ```
/// use mailsec_pop3::{parse, Capability, Expire};
/// assert_eq!(parse::capability(b"EXPIRE NEVER")?, Capability::Expire { policy: Expire::Never, per_user: false });
/// assert_eq!(parse::capability(b"login-delay 900 USER")?, Capability::LoginDelay { seconds: 900, per_user: true });
/// assert!(matches!(parse::capability(b"X-FOO bar")?, Capability::Other { .. }));
/// # Ok::<(), mailsec_pop3::ParseError>(())
/// ```
pub fn capability(line: &[u8]) -> Result<Capability, ParseError> {
    let line = content(line, MAX_RESPONSE_LINE)?;
    let (name, rest) = match memchr(b' ', line) {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[][..]),
    };
    // RFC 2449 §5: capa-tag = 1*cchar; cchar = %x21-2D / %x2F-7F.
    if name.is_empty() || !name.iter().all(|b| matches!(b, 0x21..=0x2d | 0x2f..=0x7f)) {
        return Err(ParseError::InvalidCapability);
    }
    let mut args = rest.split(|b| *b == b' ').filter(|a| !a.is_empty());
    let known = Capability::NAMES
        .iter()
        .position(|n| n.as_bytes().eq_ignore_ascii_case(name));
    let cap = match known.map(|i| Capability::NAMES[i]) {
        Some("TOP") => Capability::Top,
        Some("USER") => Capability::User,
        Some("SASL") => Capability::Sasl(args.filter_map(|a| MechanismName::new(a).ok()).collect()),
        Some("RESP-CODES") => Capability::RespCodes,
        Some("LOGIN-DELAY") => {
            let seconds = args
                .next()
                .ok_or(ParseError::InvalidCapability)
                .and_then(number_u32)?;
            Capability::LoginDelay {
                seconds,
                per_user: args.next().is_some_and(is_user),
            }
        }
        Some("PIPELINING") => Capability::Pipelining,
        Some("EXPIRE") => {
            let policy = match args.next() {
                Some(a) if a.eq_ignore_ascii_case(b"NEVER") => Expire::Never,
                Some(a) => Expire::Days(number_u32(a)?),
                None => return Err(ParseError::InvalidCapability),
            };
            Capability::Expire {
                policy,
                per_user: args.next().is_some_and(is_user),
            }
        }
        Some("UIDL") => Capability::Uidl,
        Some("IMPLEMENTATION") => Capability::Implementation(rest.to_vec()),
        Some("STLS") => Capability::Stls,
        Some("AUTH-RESP-CODE") => Capability::AuthRespCode,
        Some("UTF8") => Capability::Utf8 {
            user: args.next().is_some_and(is_user),
        },
        _ => Capability::Other {
            name: name.to_vec(),
            args: args.map(<[u8]>::to_vec).collect(),
        },
    };
    Ok(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number(b"0", 9), Ok(0));
        assert_eq!(number(b"00000000000000000000000000042", 100), Ok(42));
        assert_eq!(number(b"+1", 9), Err(ParseError::InvalidNumber));
        assert_eq!(number(b"", 9), Err(ParseError::InvalidNumber));
        assert_eq!(
            number(b"18446744073709551616", u64::MAX),
            Err(ParseError::NumberOutOfRange)
        );
        assert_eq!(number(b"18446744073709551615", u64::MAX), Ok(u64::MAX));
        assert_eq!(
            message_number(b"4294967295").map(MessageNumber::get),
            Ok(u32::MAX)
        );
        assert_eq!(message_number(b"0"), Err(ParseError::ZeroMessageNumber));
    }

    #[test]
    fn codes() {
        assert_eq!(
            split_code(b"[SYS/TEMP] x"),
            Some((ResponseCode::SysTemp, &b"x"[..]))
        );
        assert_eq!(
            split_code(b"[in-use]"),
            Some((ResponseCode::InUse, &b""[..]))
        );
        assert_eq!(split_code(b"[X/]"), None);
        assert_eq!(split_code(b"[]"), None);
        assert_eq!(split_code(b"[A B]"), None);
        assert_eq!(split_code(b"[open"), None);
        let (c, _) = split_code(b"[X-VENDOR/SUB/LEAF]").unwrap();
        assert_eq!(c.levels().count(), 3);
        assert!(!c.is_sys());
        assert!(ResponseCode::SysPerm.is_sys());
    }

    #[test]
    fn separators() {
        assert_eq!(command(b"LIST  1"), Err(ParseError::BadSeparator));
        assert_eq!(command(b"LIST 1 "), Err(ParseError::BadSeparator));
        assert_eq!(command(b"QUIT "), Err(ParseError::BadSeparator));
        assert_eq!(command(b"TOP 1"), Err(ParseError::MissingArgument));
        assert_eq!(command(b"TOP 1 2 3"), Err(ParseError::TooManyArguments));
        assert_eq!(command(b""), Err(ParseError::Empty));
        assert_eq!(command(b"\r\n"), Err(ParseError::Empty));
        assert_eq!(command(b"XTND XMIT"), Err(ParseError::UnknownCommand));
        assert_eq!(command(b"TO\0 1 2"), Err(ParseError::Nul));
        assert_eq!(command(b"TOP\0 1 2"), Err(ParseError::Nul));
        assert_eq!(command(b"USER a\rb"), Err(ParseError::BareLineEnding));
        assert_eq!(command(b"USER a\n"), Err(ParseError::BareLineEnding));
    }
}
