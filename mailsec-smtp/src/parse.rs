//! Parsers over bytes: commands (server side) and replies (client side).
//!
//! Input is one line without its CRLF, as the shared
//! [`LineFramer`](mailsec_tls::framer::LineFramer) returns it; the framer has already refused
//! bare CR and bare LF. The parsers still refuse NUL, CR and LF inside a line, and check the
//! line limits of RFC 5321 §4.5.3.1 before looking at the content.
//!
//! The grammar is small and regular, so it is hand-written over `&[u8]` rather than built
//! from parser combinators: one pass, no backtracking, no allocation beyond the values built.
//!
//! ```
//! use mailsec_smtp::parse::{parse_command, ParseOptions, ReplyParser};
//! use mailsec_smtp::types::{Command, MailParam, ReversePath};
//!
//! let cmd = parse_command(b"mail FROM:<> SIZE=1024", ParseOptions::default())?;
//! assert_eq!(
//!     cmd,
//!     Command::Mail { from: ReversePath::Null, params: vec![MailParam::Size(1024)] }
//! );
//!
//! let mut replies = ReplyParser::new();
//! assert_eq!(replies.push_line(b"250-2.1.0 first").unwrap(), None);
//! let reply = replies.push_line(b"250 2.1.0 Sender\x07 OK").unwrap().unwrap();
//! assert_eq!(reply.code().get(), 250);
//! assert_eq!(reply.enhanced().unwrap().to_string(), "2.1.0");
//! assert_eq!(reply.lines(), ["first", "Sender OK"]); // the BEL is removed
//! # Ok::<(), mailsec_smtp::CommandError>(())
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use mailsec_tls::sasl::wire;

use crate::borrowed::{
    Checked, CommandRef, ForwardPathRef, HostRef, MailParamRef, MailParams, MailSummary,
    MailboxRef, RcptParamRef, RcptParams, ReversePathRef,
};
use crate::error::{CommandError, ReplyError};
use crate::types::{
    AddressLiteral, BodyType, Command, EnhancedCode, Extension, InitialResponse, MAX_AUTH_LINE,
    MAX_COMMAND_LINE, MAX_DOMAIN, MAX_LABEL, MAX_REPLY_LINE, MAX_REPLY_LINES, MAX_REPLY_OCTETS,
    Notify, Reply, ReplyCode, Ret, SaslMechanism,
};

/// What the server has in force when it parses a command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseOptions {
    smtputf8: bool,
}

impl ParseOptions {
    /// The defaults: SMTPUTF8 not in force.
    pub const fn new() -> ParseOptions {
        ParseOptions { smtputf8: false }
    }

    /// Whether SMTPUTF8 (RFC 6531) is in force: for EHLO, VRFY, EXPN and MAIL, that the server
    /// offers it; for RCPT, that the transaction's MAIL carried `SMTPUTF8`. Even so, a MAIL
    /// with a non-ASCII reverse path must carry the `SMTPUTF8` parameter itself (RFC 6531
    /// §3.4). Off by default: non-ASCII addresses are refused with
    /// [`CommandError::Utf8NotPermitted`].
    pub const fn smtputf8(mut self, on: bool) -> ParseOptions {
        self.smtputf8 = on;
        self
    }

    /// Whether SMTPUTF8 is in force.
    pub const fn is_smtputf8(&self) -> bool {
        self.smtputf8
    }
}

/// Parses one command line, given without its CRLF, into an owned [`Command`].
///
/// Verbs are case-insensitive. The line, counting the CRLF, may be at most
/// [`MAX_COMMAND_LINE`] octets, or [`MAX_AUTH_LINE`] for AUTH (RFC 4954 §4).
/// `MAIL FROM:` and `RCPT TO:` accept one space before the `<` (many clients send it; RFC 5321
/// has none), and parameters may be separated by more than one space.
///
/// This is [`parse_command_ref`] followed by [`CommandRef::into_owned`]: use
/// [`parse_command_ref`] where the values need not outlive the line.
pub fn parse_command(line: &[u8], opts: ParseOptions) -> Result<Command, CommandError> {
    parse_command_ref(line, opts).map(CommandRef::into_owned)
}

/// Parses one command line, given without its CRLF, into a [`CommandRef`] whose values
/// borrow from `line`: the same rules and errors as [`parse_command`], without allocating
/// (except for AUTH's decoded response and a general address literal).
///
/// ```
/// use mailsec_smtp::borrowed::{CommandRef, ForwardPathRef};
/// use mailsec_smtp::parse::{parse_command_ref, ParseOptions};
///
/// let cmd = parse_command_ref(b"RCPT TO:<bob@example.net> NOTIFY=NEVER", ParseOptions::new())?;
/// let CommandRef::Rcpt { to: ForwardPathRef::Mailbox(m), params } = cmd else { panic!() };
/// assert_eq!(m.to_string(), "bob@example.net");
/// assert_eq!(params.as_str(), "NOTIFY=NEVER");
/// # Ok::<(), mailsec_smtp::CommandError>(())
/// ```
pub fn parse_command_ref(line: &[u8], opts: ParseOptions) -> Result<CommandRef<'_>, CommandError> {
    let verb_end = verb_end(line);
    let verb = &line[..verb_end];
    // The verb as one integer, each letter upper-cased (AND 0xDF gives an upper-case letter
    // only from that letter, in either case): 0 for a length no verb has.
    let word = verb_word(verb);
    let limit = if word == AUTH {
        MAX_AUTH_LINE
    } else {
        MAX_COMMAND_LINE
    };
    if line.len() + 2 > limit {
        return Err(line_too_long(line.len(), limit));
    }
    // One vectorisable pass: NUL, CR and LF are all below 14, and a line without octets over
    // 127 needs no UTF-8 checks later.
    let (low, high) = octet_flags(line);
    if low {
        if let Some(p) = memchr::memchr3(0, b'\r', b'\n', line) {
            return Err(CommandError::ForbiddenOctet { byte: line[p] });
        }
    }
    // In an ASCII line every value is ASCII: the SMTPUTF8 checks below cannot fail.
    let utf8_or_ascii = opts.smtputf8 || !high;
    // `args` is None without arguments, Some(after the single SP) otherwise.
    let args = line.get(verb_end + 1..);
    let utf8 = opts.smtputf8;
    // Each arm's result is the function's: no command is built on the side and moved.
    let syntax = |verb| Err(CommandError::Syntax { verb });
    match word {
        EHLO => host_arg(args, utf8_or_ascii, !high, "EHLO").map(CommandRef::Ehlo),
        HELO => host_arg(args, utf8_or_ascii, !high, "HELO").map(CommandRef::Helo),
        MAIL => match args {
            Some(args) => mail(args, utf8, !high),
            None => syntax("MAIL"),
        },
        RCPT => match args {
            Some(args) => rcpt(args, utf8, utf8_or_ascii, !high),
            None => syntax("RCPT"),
        },
        DATA => no_args(args, CommandRef::Data, "DATA"),
        RSET => no_args(args, CommandRef::Rset, "RSET"),
        QUIT => no_args(args, CommandRef::Quit, "QUIT"),
        STARTTLS => no_args(args, CommandRef::StartTls, "STARTTLS"),
        NOOP => args.map(text_arg).transpose().map(CommandRef::Noop),
        HELP => args.map(text_arg).transpose().map(CommandRef::Help),
        VRFY => match args {
            Some(args) => text_arg(args).map(CommandRef::Vrfy),
            None => syntax("VRFY"),
        },
        EXPN => match args {
            Some(args) => text_arg(args).map(CommandRef::Expn),
            None => syntax("EXPN"),
        },
        BDAT => match args {
            Some(args) => bdat(args),
            None => syntax("BDAT"),
        },
        AUTH => match args {
            Some(args) => auth(args),
            None => syntax("AUTH"),
        },
        _ => Err(CommandError::UnknownCommand),
    }
}

/// The end of the verb: the first space, or the end of the line.
#[inline(always)]
fn verb_end(line: &[u8]) -> usize {
    // The usual case, a four-letter verb then a space or the end, from one load.
    if let Some(w) = line.first_chunk::<4>() {
        let x = u32::from_le_bytes(*w) ^ 0x2020_2020;
        let has_space = x.wrapping_sub(0x0101_0101) & !x & 0x8080_8080 != 0;
        if !has_space && matches!(line.get(4), None | Some(b' ')) {
            return 4;
        }
    }
    // Known verbs have at most 8 octets: only the first 9 can hold the space after one.
    let head = &line[..line.len().min(9)];
    match head.iter().position(|&b| b == b' ') {
        Some(p) => p,
        None if line.len() <= 9 => line.len(),
        None => memchr::memchr(b' ', line).unwrap_or(line.len()),
    }
}

/// A four- or eight-octet verb as one integer, upper-cased; 0 for any other length.
#[inline(always)]
fn verb_word(verb: &[u8]) -> u64 {
    if let Ok(w) = <[u8; 4]>::try_from(verb) {
        u64::from(u32::from_le_bytes(w) & 0xDFDF_DFDF)
    } else if let Ok(w) = <[u8; 8]>::try_from(verb) {
        u64::from_le_bytes(w) & 0xDFDF_DFDF_DFDF_DFDF
    } else {
        0
    }
}

/// [`verb_word`] of an upper-case verb, at compile time.
const fn verb_const(verb: &str) -> u64 {
    let b = verb.as_bytes();
    let mut w = 0u64;
    let mut i = b.len();
    while i > 0 {
        i -= 1;
        w = (w << 8) | b[i] as u64;
    }
    w
}

const EHLO: u64 = verb_const("EHLO");
const HELO: u64 = verb_const("HELO");
const MAIL: u64 = verb_const("MAIL");
const RCPT: u64 = verb_const("RCPT");
const DATA: u64 = verb_const("DATA");
const RSET: u64 = verb_const("RSET");
const QUIT: u64 = verb_const("QUIT");
const STARTTLS: u64 = verb_const("STARTTLS");
const NOOP: u64 = verb_const("NOOP");
const HELP: u64 = verb_const("HELP");
const VRFY: u64 = verb_const("VRFY");
const EXPN: u64 = verb_const("EXPN");
const BDAT: u64 = verb_const("BDAT");
const AUTH: u64 = verb_const("AUTH");

#[cold]
#[inline(never)]
fn line_too_long(len: usize, limit: usize) -> CommandError {
    CommandError::LineTooLong {
        len: len + 2,
        limit,
    }
}

/// Whether `b` may hold an octet below 14 (NUL, CR and LF among them: the caller looks for
/// them when so) and whether it holds one over 127, 16 lanes at a time.
#[inline(always)]
fn octet_flags(b: &[u8]) -> (bool, bool) {
    /// Bit 7: an octet over 127; bit 0: one below 14.
    #[inline(always)]
    fn flags(c: u8) -> u8 {
        (c & 0x80) | u8::from(c < 14)
    }
    /// 16 lanes of a fixed size, which compile to vector compares.
    #[inline(always)]
    fn step(acc: &mut [u8; 16], chunk: &[u8; 16]) {
        for (a, &c) in acc.iter_mut().zip(chunk) {
            *a |= flags(c);
        }
    }
    if b.len() < 16 {
        return short_octet_flags(b);
    }
    let mut acc = [0u8; 16];
    for chunk in b.chunks_exact(16) {
        if let Ok(chunk) = <&[u8; 16]>::try_from(chunk) {
            step(&mut acc, chunk);
        }
    }
    // The last 16 octets again, overlapping: harmless for flags.
    if let Some(last) = b.last_chunk::<16>() {
        step(&mut acc, last);
    }
    let v = u128::from_ne_bytes(acc);
    (
        v & 0x0101_0101_0101_0101_0101_0101_0101_0101 != 0,
        v & 0x8080_8080_8080_8080_8080_8080_8080_8080 != 0,
    )
}

/// [`octet_flags`] of fewer than 16 octets: from 4 on, two overlapping words (the first and
/// the last 4 or 8 octets) tested eight or four lanes at a time.
#[inline(always)]
fn short_octet_flags(b: &[u8]) -> (bool, bool) {
    /// Lanes below 14: `(x - 14) & !x` sets bit 7 of the lowest such lane, and of none when
    /// there is none (no borrow then, and lanes over 127 are masked by `!x`); a lane above a
    /// true one may be set too, which "may hold" allows.
    macro_rules! flags {
        ($t:ty, $a:expr, $b:expr) => {{
            const ONES: $t = <$t>::MAX / 255;
            let below = |x: $t| x.wrapping_sub(ONES * 14) & !x & (ONES * 0x80);
            let (a, b): ($t, $t) = ($a, $b);
            (below(a) | below(b) != 0, (a | b) & (ONES * 0x80) != 0)
        }};
    }
    match (b.first_chunk::<8>(), b.last_chunk::<8>()) {
        (Some(f), Some(l)) => flags!(u64, u64::from_le_bytes(*f), u64::from_le_bytes(*l)),
        _ => match (b.first_chunk::<4>(), b.last_chunk::<4>()) {
            (Some(f), Some(l)) => flags!(u32, u32::from_le_bytes(*f), u32::from_le_bytes(*l)),
            _ => {
                let f = b.iter().fold(0, |f, &c| f | (c & 0x80) | u8::from(c < 14));
                (f & 1 != 0, f & 0x80 != 0)
            }
        },
    }
}

fn no_args<'a>(
    args: Option<&[u8]>,
    cmd: CommandRef<'a>,
    verb: &'static str,
) -> Result<CommandRef<'a>, CommandError> {
    match args {
        None => Ok(cmd),
        Some(_) => Err(CommandError::Syntax { verb }),
    }
}

#[inline(always)]
fn host_arg<'a>(
    args: Option<&'a [u8]>,
    utf8_or_ascii: bool,
    ascii_line: bool,
    verb: &'static str,
) -> Result<HostRef<'a>, CommandError> {
    let Some(args) = args else {
        return Err(CommandError::Syntax { verb });
    };
    // In an ASCII line the UTF-8 scans (and their checks) cannot find anything.
    let (h, n) = host(args, !ascii_line)?;
    if n != args.len() {
        return Err(CommandError::Syntax { verb });
    }
    if !utf8_or_ascii && !h.is_ascii() {
        return Err(CommandError::Utf8NotPermitted);
    }
    Ok(h)
}

fn text_arg(args: &[u8]) -> Result<Checked<'_>, CommandError> {
    if is_text(args) {
        Ok(Checked::new(args))
    } else {
        Err(CommandError::InvalidText)
    }
}

fn bdat(args: &[u8]) -> Result<CommandRef<'static>, CommandError> {
    let (num, last) = match memchr::memchr(b' ', args) {
        Some(p) if args[p + 1..].eq_ignore_ascii_case(b"LAST") => (&args[..p], true),
        Some(_) => return Err(CommandError::Syntax { verb: "BDAT" }),
        None => (args, false),
    };
    let size = number(num).ok_or(CommandError::InvalidNumber)?;
    Ok(CommandRef::Bdat { size, last })
}

/// 1 to 20 digits fitting a u64.
#[inline(always)]
fn number(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut n = 0u64;
    if b.len() <= 19 {
        // 19 digits cannot overflow a u64: no checks per digit.
        for &c in b {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            n = n * 10 + u64::from(d);
        }
        return Some(n);
    }
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

fn auth(args: &[u8]) -> Result<CommandRef<'static>, CommandError> {
    let (mech, ir) = match memchr::memchr(b' ', args) {
        Some(p) => (&args[..p], Some(&args[p + 1..])),
        None => (args, None),
    };
    let mechanism = SaslMechanism::new(mech)?;
    let initial_response = match ir {
        None => None,
        // RFC 4954 §4: an empty response is sent as `=`, never as nothing after the space.
        Some([]) => return Err(CommandError::Syntax { verb: "AUTH" }),
        Some(text) => Some(InitialResponse::new(
            wire::decode_initial_response(text).map_err(|_| CommandError::InvalidBase64)?,
        )),
    };
    Ok(CommandRef::Auth {
        mechanism,
        initial_response,
    })
}

/// Strips `prefix` case-insensitively and one optional space after it.
#[inline(always)]
fn after_prefix<'a>(
    args: &'a [u8],
    prefix: &[u8],
    verb: &'static str,
) -> Result<&'a [u8], CommandError> {
    let Some((head, rest)) = args.split_at_checked(prefix.len()) else {
        return Err(CommandError::Syntax { verb });
    };
    if !fold_eq(head, prefix) {
        return Err(CommandError::Syntax { verb });
    }
    Ok(rest.strip_prefix(b" ").unwrap_or(rest))
}

/// `a.eq_ignore_ascii_case(b)` for octet strings of the same length, compared a word at a time
/// where the lengths allow: OR 0x20 on both sides folds case for letters and leaves `:` and
/// digits as they are, but would also equate `@` with `` ` ``: words are compared folded only
/// where `b` is all letters, octets one by one otherwise.
#[inline(always)]
fn fold_eq(a: &[u8], b: &[u8]) -> bool {
    // Past the folded word: `:` and other non-letters equal only themselves in any case.
    let tail_eq = |x: &[u8], y: &[u8]| {
        if y.iter().any(u8::is_ascii_alphabetic) {
            x.eq_ignore_ascii_case(y)
        } else {
            x == y
        }
    };
    match (a.first_chunk::<4>(), b.first_chunk::<4>()) {
        (Some(x), Some(y)) if y.iter().all(u8::is_ascii_alphabetic) => {
            u32::from_le_bytes(*x) | 0x2020_2020 == u32::from_le_bytes(*y) | 0x2020_2020
                && tail_eq(&a[4..], &b[4..])
        }
        _ => match (a.first_chunk::<2>(), b.first_chunk::<2>()) {
            (Some(x), Some(y)) if y.iter().all(u8::is_ascii_alphabetic) => {
                u16::from_le_bytes(*x) | 0x2020 == u16::from_le_bytes(*y) | 0x2020
                    && tail_eq(&a[2..], &b[2..])
            }
            _ => a.eq_ignore_ascii_case(b),
        },
    }
}

/// Checks that `rest` (after a path) is empty or starts with the space before the parameters.
fn params_start(rest: &[u8]) -> Result<(), CommandError> {
    if !rest.is_empty() && rest[0] != b' ' {
        return Err(CommandError::InvalidPath);
    }
    Ok(())
}

/// One `keyword[=value]` parameter: the keyword, the value if any.
type Param<'a> = (&'a [u8], Option<&'a [u8]>);

/// The next `keyword[=value]` token of `rest` (after the spaces before it), checked as
/// [`split_param`] checks a token, and the octets of `rest` it used; `None` at the end. One
/// pass over the octets: the keyword and value runs end at the space after the token, so the
/// parameters need no separate split into tokens.
#[inline(always)]
fn next_param(rest: &[u8], utf8: bool) -> Result<Option<(Param<'_>, usize)>, CommandError> {
    // Usually one space, often none (the end of the line).
    let start = match rest {
        [] => return Ok(None),
        [b' ', c, ..] if *c != b' ' => 1,
        _ => rest.iter().position(|&c| c != b' ').unwrap_or(rest.len()),
    };
    let token = &rest[start..];
    if token.is_empty() {
        return Ok(None);
    }
    let end = class_run(token, &CLASS, LDH);
    let k = &token[..end];
    if k.is_empty() || CLASS[usize::from(k[0])] & ALNUM == 0 {
        return Err(CommandError::MalformedParameter);
    }
    match token.get(end) {
        None | Some(b' ') => Ok(Some(((k, None), start + end))),
        Some(b'=') => {
            let after = &token[end + 1..];
            let n = class_run(after, &CLASS, VALUE);
            if n > 0 && matches!(after.get(n), None | Some(b' ')) {
                return Ok(Some(((k, Some(&after[..n])), start + end + 1 + n)));
            }
            // Not an ASCII value up to the space: a UTF-8 one where allowed, or malformed.
            let v_len = memchr::memchr(b' ', after).unwrap_or(after.len());
            let v = &after[..v_len];
            if utf8 && is_esmtp_value(v, true) {
                Ok(Some(((k, Some(v)), start + end + 1 + v_len)))
            } else {
                Err(CommandError::MalformedParameter)
            }
        }
        Some(_) => Err(CommandError::MalformedParameter),
    }
}

#[inline(always)]
fn split_param(token: &[u8], utf8: bool) -> Result<Param<'_>, CommandError> {
    // One scan for the keyword (letters, digits, hyphens), one for the value.
    let end = class_run(token, &CLASS, LDH);
    let k = &token[..end];
    if k.is_empty() || CLASS[usize::from(k[0])] & ALNUM == 0 {
        return Err(CommandError::MalformedParameter);
    }
    match token.get(end) {
        None => Ok((k, None)),
        Some(b'=') => {
            let v = &token[end + 1..];
            let ascii_value = !v.is_empty() && class_run(v, &CLASS, VALUE) == v.len();
            if ascii_value || (utf8 && is_esmtp_value(v, true)) {
                Ok((k, Some(v)))
            } else {
                Err(CommandError::MalformedParameter)
            }
        }
        Some(_) => Err(CommandError::MalformedParameter),
    }
}

/// The length of the run of octets at the start of `b` whose `table` entry has `bit`: four
/// octets per loop step, each tested and left on its own, about 4 instructions per octet
/// against 6 one octet per step. (Forms that test several octets at once — eight-octet SWAR,
/// four table entries ANDed — measured slower: most runs here, labels, atoms and keywords, are
/// shorter than eight octets, and the step that finds the end is then paid twice.)
#[inline(always)]
fn class_run(b: &[u8], table: &[u8; 256], bit: u8) -> usize {
    // Four octets per step, each tested on its own (one loop test per four octets).
    let mut quads = b.chunks_exact(4);
    let mut i = 0;
    for quad in &mut quads {
        if let [c0, c1, c2, c3] = *quad {
            if table[usize::from(c0)] & bit == 0 {
                return i;
            }
            if table[usize::from(c1)] & bit == 0 {
                return i + 1;
            }
            if table[usize::from(c2)] & bit == 0 {
                return i + 2;
            }
            if table[usize::from(c3)] & bit == 0 {
                return i + 3;
            }
        }
        i += 4;
    }
    for &c in quads.remainder() {
        if table[usize::from(c)] & bit == 0 {
            return i;
        }
        i += 1;
    }
    i
}

/// A keyword or value of up to 16 octets, each ORed with 0x20, as its length and one integer:
/// compared with [`fold`] of a lower-case name, an ASCII-case-insensitive comparison in one
/// step. (OR 0x20 gives a letter or digit only from that letter, in either case, or that
/// digit.) The integer is built from two overlapping loads (the first and the last 2, 4 or 8
/// octets), which with the length determine the octets; `(len, 0)` when longer than 16.
#[inline(always)]
fn folded(b: &[u8]) -> Folded {
    const M2: u16 = 0x2020;
    const M4: u32 = 0x2020_2020;
    const M8: u64 = 0x2020_2020_2020_2020;
    let n = b.len();
    let w = match n {
        0 => 0,
        1 => u128::from(b[0] | 0x20),
        2..=3 => {
            let (first, last) = (b.first_chunk::<2>(), b.last_chunk::<2>());
            match (first, last) {
                (Some(f), Some(l)) => {
                    u128::from(u16::from_le_bytes(*f) | M2)
                        | u128::from(u16::from_le_bytes(*l) | M2) << 16
                }
                _ => 0,
            }
        }
        4..=8 => match (b.first_chunk::<4>(), b.last_chunk::<4>()) {
            (Some(f), Some(l)) => {
                u128::from(u32::from_le_bytes(*f) | M4)
                    | u128::from(u32::from_le_bytes(*l) | M4) << 32
            }
            _ => 0,
        },
        9..=16 => match (b.first_chunk::<8>(), b.last_chunk::<8>()) {
            (Some(f), Some(l)) => {
                u128::from(u64::from_le_bytes(*f) | M8)
                    | u128::from(u64::from_le_bytes(*l) | M8) << 64
            }
            _ => 0,
        },
        _ => 0,
    };
    (n, w)
}

/// What [`folded`] gives: the length and the folded octets.
type Folded = (usize, u128);

/// `len` octets of `b` from `at`, each ORed with 0x20, little-endian, at compile time.
const fn fold_le(b: &[u8], at: usize, len: usize) -> u128 {
    let mut w = 0u128;
    let mut i = len;
    while i > 0 {
        i -= 1;
        w = (w << 8) | (b[at + i] | 0x20) as u128;
    }
    w
}

/// [`folded`] at compile time, for a lower-case name of 1 to 16 octets.
const fn fold(name: &str) -> Folded {
    let b = name.as_bytes();
    let n = b.len();
    let w = if n == 1 {
        fold_le(b, 0, 1)
    } else if n <= 3 {
        fold_le(b, 0, 2) | fold_le(b, n - 2, 2) << 16
    } else if n <= 8 {
        fold_le(b, 0, 4) | fold_le(b, n - 4, 4) << 32
    } else {
        fold_le(b, 0, 8) | fold_le(b, n - 8, 8) << 64
    };
    (n, w)
}

fn invalid(keyword: &str) -> CommandError {
    CommandError::InvalidParameter {
        keyword: keyword.to_owned(),
    }
}

/// The index of `keyword` in `KNOWN_PARAMETERS` (15 if absent), at compile time.
const fn known_index(keyword: &str) -> u32 {
    let known = crate::types::KNOWN_PARAMETERS;
    let mut i = 0;
    while i < known.len() {
        let (a, b) = (known[i].as_bytes(), keyword.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i as u32;
            }
        }
        i += 1;
    }
    15
}

/// The bit of a known keyword (by its index in `KNOWN_PARAMETERS`), for duplicate checks.
macro_rules! bit {
    ($keyword:literal) => {
        const { 1u16 << known_index($keyword) }
    };
}

/// Records a known keyword's bit, refusing a second occurrence.
fn seen(done: &mut u16, bit: u16) -> Result<(), CommandError> {
    if *done & bit != 0 {
        let known = crate::types::KNOWN_PARAMETERS;
        let keyword = known.get(bit.trailing_zeros() as usize).copied();
        return Err(CommandError::DuplicateParameter {
            keyword: keyword.unwrap_or_default().to_owned(),
        });
    }
    *done |= bit;
    Ok(())
}

/// Whether `wire` is valid xtext (RFC 3461 §4), as [`XText::decode`] accepts it.
fn is_xtext(wire: &[u8]) -> bool {
    let mut i = 0;
    while i < wire.len() {
        match wire[i] {
            b'+' => match wire.get(i + 1..i + 3) {
                Some(h) if h.iter().all(u8::is_ascii_hexdigit) => i += 3,
                _ => return false,
            },
            b'!'..=b'~' if wire[i] != b'=' => i += 1,
            _ => return false,
        }
    }
    true
}

/// One MAIL parameter, checked and typed, with the bit of its keyword when known (0 for
/// others).
#[inline(always)]
fn mail_param_bits<'a>((k, v): Param<'a>) -> Result<(MailParamRef<'a>, u16), CommandError> {
    const SIZE: Folded = fold("size");
    const BODY: Folded = fold("body");
    const SMTPUTF8: Folded = fold("smtputf8");
    const REQUIRETLS: Folded = fold("requiretls");
    const RET: Folded = fold("ret");
    const ENVID: Folded = fold("envid");
    const AUTH: Folded = fold("auth");
    const SEVEN_BIT: Folded = fold("7bit");
    const EIGHT_BIT_MIME: Folded = fold("8bitmime");
    const BINARY_MIME: Folded = fold("binarymime");
    let p = match folded(k) {
        SIZE => {
            let n = v.and_then(number).ok_or_else(|| invalid("SIZE"))?;
            (MailParamRef::Size(n), bit!("SIZE"))
        }
        BODY => {
            let v = v.ok_or_else(|| invalid("BODY"))?;
            let b = match folded(v) {
                SEVEN_BIT => BodyType::SevenBit,
                EIGHT_BIT_MIME => BodyType::EightBitMime,
                BINARY_MIME => BodyType::BinaryMime,
                _ => return Err(invalid("BODY")),
            };
            (MailParamRef::Body(b), bit!("BODY"))
        }
        SMTPUTF8 => {
            if v.is_some() {
                return Err(invalid("SMTPUTF8"));
            }
            (MailParamRef::SmtpUtf8, bit!("SMTPUTF8"))
        }
        REQUIRETLS => {
            if v.is_some() {
                return Err(invalid("REQUIRETLS"));
            }
            (MailParamRef::RequireTls, bit!("REQUIRETLS"))
        }
        RET => {
            let v = v.ok_or_else(|| invalid("RET"))?;
            let r = if v.eq_ignore_ascii_case(b"FULL") {
                Ret::Full
            } else if v.eq_ignore_ascii_case(b"HDRS") {
                Ret::Hdrs
            } else {
                return Err(invalid("RET"));
            };
            (MailParamRef::Ret(r), bit!("RET"))
        }
        ENVID => {
            let v = v.filter(|v| is_xtext(v)).ok_or_else(|| invalid("ENVID"))?;
            (MailParamRef::EnvId(Checked::new(v)), bit!("ENVID"))
        }
        AUTH => {
            let v = v.filter(|v| is_xtext(v)).ok_or_else(|| invalid("AUTH"))?;
            // `<>` has no escapes: it is its own wire form.
            let id = if v == b"<>" {
                None
            } else {
                Some(Checked::new(v))
            };
            (MailParamRef::Auth(id), bit!("AUTH"))
        }
        _ => (
            MailParamRef::Other {
                keyword: Checked::new(k),
                value: v.map(Checked::new),
            },
            0,
        ),
    };
    Ok(p)
}

/// One checked MAIL parameter (for [`MailParams::iter`]).
pub(crate) fn mail_param(token: &[u8], utf8: bool) -> Result<MailParamRef<'_>, CommandError> {
    mail_param_bits(split_param(token, utf8)?).map(|(p, _)| p)
}

/// One RCPT parameter, checked and typed, with the bit of its keyword when known.
#[inline(always)]
fn rcpt_param_bits<'a>((k, v): Param<'a>) -> Result<(RcptParamRef<'a>, u16), CommandError> {
    const NOTIFY: Folded = fold("notify");
    const ORCPT: Folded = fold("orcpt");
    let p = match folded(k) {
        NOTIFY => {
            let n = notify(v.ok_or_else(|| invalid("NOTIFY"))?)?;
            (RcptParamRef::Notify(n), bit!("NOTIFY"))
        }
        ORCPT => {
            let v = v.ok_or_else(|| invalid("ORCPT"))?;
            let semi = memchr::memchr(b';', v).ok_or_else(|| invalid("ORCPT"))?;
            let addr_type = &v[..semi];
            if addr_type.is_empty() || !addr_type.iter().all(|b| is_atext(*b)) {
                return Err(invalid("ORCPT"));
            }
            let address = &v[semi + 1..];
            if !is_xtext(address) {
                return Err(invalid("ORCPT"));
            }
            (
                RcptParamRef::Orcpt {
                    addr_type: Checked::new(addr_type),
                    address: Checked::new(address),
                },
                bit!("ORCPT"),
            )
        }
        _ => (
            RcptParamRef::Other {
                keyword: Checked::new(k),
                value: v.map(Checked::new),
            },
            0,
        ),
    };
    Ok(p)
}

/// One checked RCPT parameter (for [`RcptParams::iter`]).
pub(crate) fn rcpt_param(token: &[u8], utf8: bool) -> Result<RcptParamRef<'_>, CommandError> {
    rcpt_param_bits(split_param(token, utf8)?).map(|(p, _)| p)
}

fn mail<'a>(args: &'a [u8], utf8: bool, ascii_line: bool) -> Result<CommandRef<'a>, CommandError> {
    let rest = after_prefix(args, b"FROM:", "MAIL")?;
    let (path, n) = path(rest, true, !ascii_line)?;
    let from = match path {
        None => ReversePathRef::Null,
        Some(m) => ReversePathRef::Mailbox(m),
    };
    let rest = &rest[n..];
    let mut done = 0u16;
    let mut summary = MailSummary::default();
    params_start(rest)?;
    let mut at = 0;
    while let Some((param, n)) = next_param(&rest[at..], utf8)? {
        at += n;
        let (p, bit) = mail_param_bits(param)?;
        if bit != 0 {
            seen(&mut done, bit)?;
        }
        match p {
            MailParamRef::Size(n) => {
                summary.size = n;
                summary.flags |= MailSummary::HAS_SIZE;
            }
            MailParamRef::Body(b) => summary.body = Some(b),
            MailParamRef::SmtpUtf8 => summary.flags |= MailSummary::SMTPUTF8,
            MailParamRef::RequireTls => summary.flags |= MailSummary::REQUIRETLS,
            _ => {}
        }
    }
    let utf8_allowed = utf8 && summary.flags & MailSummary::SMTPUTF8 != 0;
    if !(ascii_line || utf8_allowed || from.is_ascii()) {
        return Err(CommandError::Utf8NotPermitted);
    }
    Ok(CommandRef::Mail {
        from,
        params: MailParams {
            raw: rest,
            utf8,
            summary,
        },
    })
}

fn rcpt<'a>(
    args: &'a [u8],
    utf8: bool,
    utf8_or_ascii: bool,
    ascii_line: bool,
) -> Result<CommandRef<'a>, CommandError> {
    let rest = after_prefix(args, b"TO:", "RCPT")?;
    // The second octet rules out most paths before the twelve-octet comparison.
    let (to, n) = if rest.len() >= 12
        && rest[1] | 0x20 == b'p'
        && rest[..12].eq_ignore_ascii_case(b"<Postmaster>")
    {
        (ForwardPathRef::Postmaster, 12)
    } else {
        match path(rest, false, !ascii_line)? {
            (Some(m), n) => (ForwardPathRef::Mailbox(m), n),
            (None, _) => return Err(CommandError::InvalidPath),
        }
    };
    if !utf8_or_ascii && !to.is_ascii() {
        return Err(CommandError::Utf8NotPermitted);
    }
    let rest = &rest[n..];
    let mut done = 0u16;
    params_start(rest)?;
    let mut at = 0;
    while let Some((param, n)) = next_param(&rest[at..], utf8)? {
        at += n;
        let (_, bit) = rcpt_param_bits(param)?;
        if bit != 0 {
            seen(&mut done, bit)?;
        }
    }
    Ok(CommandRef::Rcpt {
        to,
        params: RcptParams { raw: rest, utf8 },
    })
}

/// `NEVER` alone, or a comma list of `SUCCESS`, `FAILURE`, `DELAY` (RFC 3461 §4.1).
#[inline(always)]
fn notify(v: &[u8]) -> Result<Notify, CommandError> {
    if v.eq_ignore_ascii_case(b"NEVER") {
        return Ok(Notify::NEVER);
    }
    const SUCCESS: Folded = fold("success");
    const FAILURE: Folded = fold("failure");
    const DELAY: Folded = fold("delay");
    let mut n = Notify::NEVER;
    let mut rest = v;
    // Each item is SUCCESS, FAILURE (7 octets) or DELAY (5) followed by a comma or the end:
    // try those lengths rather than search for each comma. A list this refuses has a bad item
    // however it is split (every error here is the same).
    loop {
        let ends_at = |len: usize| matches!(rest.get(len), None | Some(b','));
        let (flag, len) = match rest {
            [_, _, _, _, _, _, _, ..] if ends_at(7) => match folded(&rest[..7]) {
                SUCCESS => (&mut n.success, 7),
                FAILURE => (&mut n.failure, 7),
                _ => return Err(invalid("NOTIFY")),
            },
            [_, _, _, _, _, ..] if ends_at(5) && folded(&rest[..5]) == DELAY => (&mut n.delay, 5),
            _ => return Err(invalid("NOTIFY")),
        };
        if *flag {
            return Err(invalid("NOTIFY"));
        }
        *flag = true;
        match rest.get(len + 1..) {
            Some(next) => rest = next,
            None => return Ok(n),
        }
    }
}

/// `<…>` path: `Ok((None, n))` for `<>` when `null_ok`. A source route is dropped. UTF-8 is
/// read when `utf8` (whether it is permitted is checked by the caller).
#[inline(always)]
fn path<'a>(
    b: &'a [u8],
    null_ok: bool,
    utf8: bool,
) -> Result<(Option<MailboxRef<'a>>, usize), CommandError> {
    if b.first() != Some(&b'<') {
        return Err(CommandError::InvalidPath);
    }
    let mut i = 1;
    if b.get(i) == Some(&b'>') {
        return if null_ok {
            Ok((None, 2))
        } else {
            Err(CommandError::InvalidPath)
        };
    }
    // A-d-l = At-domain *( "," At-domain ) ":"   (RFC 5321 §4.1.2)
    if b.get(i) == Some(&b'@') {
        loop {
            i += 1; // '@'
            let n = domain(&b[i..], utf8).map_err(|_| CommandError::InvalidPath)?;
            i += n;
            match b.get(i) {
                Some(b',') if b.get(i + 1) == Some(&b'@') => i += 1,
                Some(b':') => {
                    i += 1;
                    break;
                }
                _ => return Err(CommandError::InvalidPath),
            }
        }
    }
    let (m, n) = mailbox(&b[i..], utf8)?;
    i += n;
    if b.get(i) != Some(&b'>') {
        return Err(CommandError::InvalidPath);
    }
    Ok((Some(m), i + 1))
}

/// `local@host` at the start of `b`.
#[inline(always)]
pub(crate) fn mailbox<'a>(
    b: &'a [u8],
    utf8: bool,
) -> Result<(MailboxRef<'a>, usize), CommandError> {
    let n = local_part(b, utf8)?;
    if b.get(n) != Some(&b'@') {
        return Err(CommandError::InvalidPath);
    }
    let (host, m) = host(&b[n + 1..], utf8)?;
    Ok((
        MailboxRef {
            local: Checked::new(&b[..n]),
            host,
        },
        n + 1 + m,
    ))
}

/// RFC 5322 `atext`.
pub(crate) fn is_atext(b: u8) -> bool {
    CLASS[usize::from(b)] & ATEXT != 0
}

/// [`CLASS`] bit: a letter or digit.
const ALNUM: u8 = 1;
/// [`CLASS`] bit: a letter, digit or hyphen (`Let-dig` / `Ldh-str`, RFC 5321 §4.1.2).
const LDH: u8 = 2;
/// [`CLASS`] bit: RFC 5322 `atext`.
const ATEXT: u8 = 4;
/// [`CLASS`] bit: an ASCII `esmtp-value` octet (RFC 5321 §4.1.2: %d33-60 / %d62-126).
const VALUE: u8 = 8;

/// Octet classes, so that the scans test one table entry per octet.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() {
            t[c] |= ALNUM | LDH | ATEXT;
        }
        if matches!(b, 33..=60 | 62..=126) {
            t[c] |= VALUE;
        }
        c += 1;
    }
    t[b'-' as usize] |= LDH;
    let specials = b"!#$%&'*+-/=?^_`{|}~";
    let mut i = 0;
    while i < specials.len() {
        t[specials[i] as usize] |= ATEXT;
        i += 1;
    }
    t
};

/// [`DOT_STRING`] entry: an `atext` octet.
const ATOM: u8 = 1;
/// [`DOT_STRING`] entry: `.`.
const DOT: u8 = 2;

/// Octets of a Dot-string (RFC 5321 §4.1.2): [`ATOM`], [`DOT`], or 0 for an octet that ends it.
const DOT_STRING: [u8; 256] = dot_string_table(false);
/// [`DOT_STRING`] with octets over 127 as [`ATOM`] (RFC 6531 §3.3; UTF-8 checked afterwards).
const DOT_STRING_UTF8: [u8; 256] = dot_string_table(true);

const fn dot_string_table(utf8: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        if CLASS[c] & ATEXT != 0 || (utf8 && c >= 128) {
            t[c] = ATOM;
        }
        c += 1;
    }
    t[b'.' as usize] = DOT;
    t
}

/// The length of the local part at the start of `b` (RFC 5321 §4.1.2 Dot-string or
/// Quoted-string; UTF-8 when `utf8`, RFC 6531 §3.3).
#[inline(always)]
pub(crate) fn local_part(b: &[u8], utf8: bool) -> Result<usize, CommandError> {
    // Built where returned: a value made up front is dropped (a call) on every success.
    const BAD: CommandError = CommandError::InvalidLocalPart;
    let mut high = false;
    let n = if b.first() == Some(&b'"') {
        // Quoted-string = DQUOTE *QcontentSMTP DQUOTE
        let mut i = 1;
        loop {
            match b.get(i) {
                None => return Err(BAD),
                Some(b'"') => break i + 1,
                Some(b'\\') => match b.get(i + 1) {
                    Some(32..=126) => i += 2,
                    _ => return Err(BAD),
                },
                Some(32..=126) => i += 1,
                Some(128..) if utf8 => {
                    high = true;
                    i += 1;
                }
                Some(_) => return Err(BAD),
            }
        }
    } else {
        // Dot-string = Atom *("." Atom): a run of atext (and UTF-8 octets when allowed) per
        // atom, one table entry per octet; an empty atom (a dot first, last or after another
        // dot) is refused.
        let table = if utf8 { &DOT_STRING_UTF8 } else { &DOT_STRING };
        let mut i = 0;
        loop {
            let run = class_run(&b[i..], table, ATOM);
            if run == 0 {
                return Err(BAD);
            }
            i += run;
            if b.get(i) != Some(&b'.') {
                break;
            }
            i += 1;
        }
        high = utf8 && !b[..i].is_ascii();
        i
    };
    if high && std::str::from_utf8(&b[..n]).is_err() {
        return Err(BAD);
    }
    Ok(n)
}

/// A domain or address literal at the start of `b`.
#[inline(always)]
pub(crate) fn host<'a>(b: &'a [u8], utf8: bool) -> Result<(HostRef<'a>, usize), CommandError> {
    if b.first() == Some(&b'[') {
        // Checked here, typed again only when asked for.
        let (_, n) = address_literal(b)?;
        Ok((HostRef::Literal(Checked::new(&b[..n])), n))
    } else {
        let n = domain(b, utf8)?;
        Ok((HostRef::Domain(Checked::new(&b[..n])), n))
    }
}

/// The length of the longest domain at the start of `b` (RFC 5321 §4.1.2; U-labels when
/// `utf8`).
#[inline(always)]
pub(crate) fn domain(b: &[u8], utf8: bool) -> Result<usize, CommandError> {
    // One run of label octets per label, each label checked at its end.
    const BAD: CommandError = CommandError::InvalidDomain;
    let table = if utf8 { &LABEL_UTF8 } else { &LABEL };
    let mut i = 0;
    loop {
        let run = class_run(&b[i..], table, 1);
        let label = &b[i..i + run];
        if run == 0 || run > MAX_LABEL || label[0] == b'-' || label[run - 1] == b'-' {
            return Err(BAD);
        }
        i += run;
        if b.get(i) != Some(&b'.') {
            break;
        }
        i += 1;
    }
    let name = &b[..i];
    if name.len() > MAX_DOMAIN || (utf8 && !name.is_ascii() && std::str::from_utf8(name).is_err()) {
        return Err(BAD);
    }
    Ok(i)
}

/// Octets of a domain label: letters, digits and hyphens (`Ldh-str`, RFC 5321 §4.1.2).
const LABEL: [u8; 256] = label_table(false);
/// [`LABEL`] with octets over 127 (U-labels, RFC 6531 §3.3; UTF-8 checked afterwards).
const LABEL_UTF8: [u8; 256] = label_table(true);

const fn label_table(utf8: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = (CLASS[c] & LDH != 0 || (utf8 && c >= 128)) as u8;
        c += 1;
    }
    t
}

pub(crate) fn address_literal(b: &[u8]) -> Result<(AddressLiteral, usize), CommandError> {
    let bad = CommandError::InvalidAddressLiteral;
    if b.first() != Some(&b'[') {
        return Err(bad);
    }
    let end = memchr::memchr(b']', b).ok_or(bad.clone())?;
    let inner = &b[1..end];
    // dcontent = %d33-90 / %d94-126 (RFC 5321 §4.1.3)
    if inner.is_empty() || !inner.iter().all(|c| matches!(c, 33..=90 | 94..=126)) {
        return Err(bad);
    }
    let text = std::str::from_utf8(inner).map_err(|_| bad.clone())?;
    let lit = if text.len() > 5 && text[..5].eq_ignore_ascii_case("IPv6:") {
        AddressLiteral::Ipv6(text[5..].parse::<Ipv6Addr>().map_err(|_| bad.clone())?)
    } else if let Some((tag, content)) = text.split_once(':') {
        let tag_ok = !tag.is_empty()
            && tag.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
            && !tag.ends_with('-')
            && !tag.eq_ignore_ascii_case("IPv6");
        if !tag_ok || content.is_empty() {
            return Err(bad);
        }
        AddressLiteral::General {
            tag: tag.to_owned(),
            content: content.to_owned(),
        }
    } else {
        AddressLiteral::Ipv4(text.parse::<Ipv4Addr>().map_err(|_| bad.clone())?)
    };
    Ok((lit, end + 1))
}

/// RFC 5321 `esmtp-keyword`.
pub(crate) fn is_keyword(b: &[u8]) -> bool {
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|&c| CLASS[usize::from(c)] & LDH != 0)
}

/// RFC 5321 `esmtp-value` (1*(%d33-60 / %d62-126)), plus UTF-8 when `utf8` (RFC 6531 §3.3).
pub(crate) fn is_esmtp_value(b: &[u8], utf8: bool) -> bool {
    let mut high = false;
    for &c in b {
        if CLASS[usize::from(c)] & VALUE == 0 {
            if utf8 && c >= 128 {
                high = true;
            } else {
                return false;
            }
        }
    }
    !b.is_empty() && (!high || std::str::from_utf8(b).is_ok())
}

/// Free text: non-empty UTF-8 without control characters.
pub(crate) fn is_text(b: &[u8]) -> bool {
    match std::str::from_utf8(b) {
        Ok(s) => !s.is_empty() && !s.chars().any(char::is_control),
        Err(_) => false,
    }
}

/// An enhanced status code at the start of `text`, of the same class as `code`, followed by
/// a space or the end (RFC 3463 §2, RFC 2034 §4).
pub(crate) fn split_enhanced(text: &str, code: ReplyCode) -> Option<(EnhancedCode, &str)> {
    let end = text.find(' ').unwrap_or(text.len());
    let mut parts = text[..end].split('.');
    let class = parts.next()?;
    let subject = parts.next()?;
    let detail = parts.next()?;
    if parts.next().is_some() || class.len() != 1 {
        return None;
    }
    let num = |s: &str| -> Option<u16> {
        if (1..=3).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let class = num(class)? as u8;
    if class != code.class() {
        return None;
    }
    let e = EnhancedCode::new(class, num(subject)?, num(detail)?).ok()?;
    let rest = text.get(end + 1..).unwrap_or("");
    Some((e, rest))
}

/// Parses one EHLO keyword line.
pub(crate) fn extension(line: &str) -> Extension {
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let keyword = words.next().unwrap_or("");
    let params: Vec<&str> = words.collect();
    let other = || Extension::Other {
        keyword: keyword.to_owned(),
        params: params.iter().map(|p| (*p).to_owned()).collect(),
    };
    let upper = keyword.to_ascii_uppercase();
    let flag = |e: Extension| if params.is_empty() { e } else { other() };
    match upper.as_str() {
        "PIPELINING" => flag(Extension::Pipelining),
        "8BITMIME" => flag(Extension::EightBitMime),
        "SMTPUTF8" => flag(Extension::SmtpUtf8),
        "CHUNKING" => flag(Extension::Chunking),
        "BINARYMIME" => flag(Extension::BinaryMime),
        "ENHANCEDSTATUSCODES" => flag(Extension::EnhancedStatusCodes),
        "DSN" => flag(Extension::Dsn),
        "STARTTLS" => flag(Extension::StartTls),
        "REQUIRETLS" => flag(Extension::RequireTls),
        "SIZE" => match params.as_slice() {
            [] => Extension::Size(None),
            [n] => number(n.as_bytes()).map_or_else(other, |n| Extension::Size(Some(n))),
            _ => other(),
        },
        "AUTH" => mechanisms(params.iter().copied()).unwrap_or_else(other),
        _ if upper.starts_with("AUTH=") => {
            // The pre-RFC 4954 form some servers still send: `AUTH=PLAIN LOGIN`.
            mechanisms(std::iter::once(&keyword[5..]).chain(params.iter().copied()))
                .unwrap_or_else(other)
        }
        _ => other(),
    }
}

fn mechanisms<'a>(names: impl Iterator<Item = &'a str>) -> Option<Extension> {
    names
        .filter(|n| !n.is_empty())
        .map(|n| SaslMechanism::new(n.as_bytes()).ok())
        .collect::<Option<Vec<_>>>()
        .map(Extension::Auth)
}

/// Assembles replies from lines, for the client.
///
/// Feed it each line the framer returns (without CRLF); it returns the [`Reply`] when the last
/// line (`ddd SP` or `ddd` alone) arrives. Every line must carry the first line's code
/// (RFC 5321 §4.2.1); each line may be at most [`MAX_REPLY_LINE`] octets with its CRLF; a reply
/// may have at most [`MAX_REPLY_LINES`] lines and [`MAX_REPLY_OCTETS`] octets unless set
/// otherwise. After an error the parser starts afresh with the next line.
#[derive(Clone, Debug)]
pub struct ReplyParser {
    max_line: usize,
    max_lines: usize,
    max_octets: usize,
    code: Option<ReplyCode>,
    enhanced: Option<EnhancedCode>,
    lines: Vec<String>,
    octets: usize,
}

impl Default for ReplyParser {
    fn default() -> Self {
        ReplyParser::new()
    }
}

impl ReplyParser {
    /// A parser with the default limits.
    pub fn new() -> ReplyParser {
        ReplyParser::with_limits(MAX_REPLY_LINES, MAX_REPLY_OCTETS)
    }

    /// A parser with other limits on lines and octets (CRLFs included) per reply.
    pub fn with_limits(max_lines: usize, max_octets: usize) -> ReplyParser {
        ReplyParser {
            max_line: MAX_REPLY_LINE,
            max_lines,
            max_octets,
            code: None,
            enhanced: None,
            lines: Vec::new(),
            octets: 0,
        }
    }

    /// Changes the longest accepted line, counting its CRLF (default [`MAX_REPLY_LINE`]). A
    /// client raises it to [`MAX_AUTH_LINE`] while it expects `334` SASL challenges, which
    /// RFC 4954 §4 lets grow past the RFC 5321 reply line limit.
    pub fn set_max_line(&mut self, max_line: usize) {
        self.max_line = max_line;
    }

    /// The longest accepted line, counting its CRLF.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Whether no reply is in progress.
    pub fn is_idle(&self) -> bool {
        self.code.is_none()
    }

    /// Drops a reply in progress.
    pub fn reset(&mut self) {
        self.code = None;
        self.enhanced = None;
        self.lines = Vec::new();
        self.octets = 0;
    }

    /// Takes one line without its CRLF.
    pub fn push_line(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        let r = self.push_inner(line);
        if r.is_err() {
            self.reset();
        }
        r
    }

    fn push_inner(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        if line.len() + 2 > self.max_line {
            return Err(ReplyError::LineTooLong {
                len: line.len() + 2,
                limit: self.max_line,
            });
        }
        if memchr::memchr2(b'\r', b'\n', line).is_some() {
            return Err(ReplyError::BareLineEnding);
        }
        if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
            return Err(ReplyError::Malformed);
        }
        let n = u16::from(line[0] - b'0') * 100
            + u16::from(line[1] - b'0') * 10
            + u16::from(line[2] - b'0');
        let code = ReplyCode::new(n)?;
        let last = match line.get(3) {
            None | Some(b' ') => true,
            Some(b'-') => false,
            Some(_) => return Err(ReplyError::Malformed),
        };
        match self.code {
            Some(first) if first != code => {
                return Err(ReplyError::MixedCodes {
                    first: first.get(),
                    found: n,
                });
            }
            _ => {}
        }
        if self.lines.len() >= self.max_lines {
            return Err(ReplyError::TooManyLines {
                limit: self.max_lines,
            });
        }
        self.octets += line.len() + 2;
        if self.octets > self.max_octets {
            return Err(ReplyError::TooLarge {
                limit: self.max_octets,
            });
        }
        let text = mailsec_tls::text::sanitize(line.get(4..).unwrap_or(b""));
        let text = if self.code.is_none() {
            self.code = Some(code);
            match split_enhanced(&text, code) {
                Some((e, rest)) => {
                    self.enhanced = Some(e);
                    rest.to_owned()
                }
                None => text,
            }
        } else {
            match (self.enhanced, split_enhanced(&text, code)) {
                (Some(e), Some((f, rest))) if e == f => rest.to_owned(),
                _ => text,
            }
        };
        self.lines.push(text);
        if !last {
            return Ok(None);
        }
        let reply = Reply::from_parts(code, self.enhanced, std::mem::take(&mut self.lines));
        self.reset();
        Ok(Some(reply))
    }
}

/// Parses one complete reply from the start of `input` (CRLF-terminated lines), returning it
/// and the octets it used, or `None` when more input is needed. Convenient for tests and
/// transcripts; a client machine frames lines with the shared framer and uses
/// [`ReplyParser`].
pub fn parse_reply(input: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
    let mut parser = ReplyParser::new();
    let mut pos = 0;
    loop {
        let rest = &input[pos..];
        let Some(lf) = memchr::memchr(b'\n', rest) else {
            if rest.len() > MAX_REPLY_LINE {
                return Err(ReplyError::LineTooLong {
                    len: rest.len(),
                    limit: MAX_REPLY_LINE,
                });
            }
            return Ok(None);
        };
        if lf == 0 || rest[lf - 1] != b'\r' {
            return Err(ReplyError::BareLineEnding);
        }
        pos += lf + 1;
        if let Some(reply) = parser.push_line(&rest[..lf - 1])? {
            return Ok(Some((reply, pos)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Domain, Host};

    /// The NOTIFY list read by item lengths agrees with splitting at commas.
    #[test]
    fn notify_lists_agree_with_split_items() {
        let split = |v: &[u8]| -> Result<Notify, CommandError> {
            if v.eq_ignore_ascii_case(b"NEVER") {
                return Ok(Notify::NEVER);
            }
            let mut n = Notify::NEVER;
            for item in v.split(|b| *b == b',') {
                let flag = match item.to_ascii_uppercase().as_slice() {
                    b"SUCCESS" => &mut n.success,
                    b"FAILURE" => &mut n.failure,
                    b"DELAY" => &mut n.delay,
                    _ => return Err(invalid("NOTIFY")),
                };
                if *flag {
                    return Err(invalid("NOTIFY"));
                }
                *flag = true;
            }
            Ok(n)
        };
        let items: [&[u8]; 10] = [
            b"SUCCESS", b"failure", b"Delay", b"NEVER", b"", b"X", b"DELAYS", b"SUCCES", b"DELA",
            b"D,",
        ];
        let mut checked = 0;
        for a in items {
            for b in items {
                for c in items {
                    for list in [
                        a.to_vec(),
                        [a, b].join(&b","[..]),
                        [a, b, c].join(&b","[..]),
                        [a, b, c].concat(),
                    ] {
                        assert_eq!(notify(&list), split(&list), "{list:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked >= 4000);
    }

    #[test]
    fn numbers_of_every_length() {
        assert_eq!(number(b""), None);
        assert_eq!(number(b"0"), Some(0));
        assert_eq!(
            number(b"1234567890123456789"),
            Some(1_234_567_890_123_456_789)
        );
        assert_eq!(
            number(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(number(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(number(b"18446744073709551616"), None);
        assert_eq!(number(b"99999999999999999999"), None);
        assert_eq!(number(b"000000000000000000001"), None);
        assert_eq!(number(b"12a"), None);
        assert_eq!(number(b"-1"), None);
    }

    #[test]
    fn prefixes_compare_as_eq_ignore_ascii_case() {
        for prefix in [&b"FROM:"[..], b"TO:"] {
            for x in 0..=255u8 {
                for at in 0..prefix.len() {
                    let mut a = prefix.to_vec();
                    a[at] = x;
                    assert_eq!(fold_eq(&a, prefix), a.eq_ignore_ascii_case(prefix), "{a:?}");
                }
            }
        }
    }

    #[test]
    fn class_runs_over_every_length_and_end() {
        for len in 0..20 {
            for end in 0..=len {
                let mut b = vec![b'a'; len];
                if end < len {
                    b[end] = b'.';
                }
                assert_eq!(class_run(&b, &CLASS, LDH), end, "len {len} end {end}");
                assert_eq!(class_run(&b[..end], &CLASS, LDH), end);
            }
        }
    }

    #[test]
    fn octet_flags_over_every_length_and_position() {
        for len in 0..70 {
            assert_eq!(octet_flags(&vec![b'm'; len]), (false, false), "len {len}");
            for at in 0..len {
                let mut b = vec![b'm'; len];
                for (v, want) in [
                    (0, (true, false)),
                    (13, (true, false)),
                    (14, (false, false)),
                    (0x7F, (false, false)),
                    (0x80, (false, true)),
                    (0xF0, (false, true)),
                ] {
                    b[at] = v;
                    assert_eq!(octet_flags(&b), want, "len {len} at {at} {v}");
                }
            }
        }
    }

    #[test]
    fn verbs_and_keywords_fold_as_compared_byte_by_byte() {
        // Every verb in every case, and near misses, against a plain comparison.
        for verb in [
            "EHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "QUIT", "STARTTLS", "NOOP", "HELP",
            "VRFY", "EXPN", "BDAT", "AUTH",
        ] {
            let want = verb_const(verb);
            for mask in 0..256u32 {
                let v: Vec<u8> = verb
                    .bytes()
                    .enumerate()
                    .map(|(i, c)| if mask >> i & 1 == 1 { c | 0x20 } else { c })
                    .collect();
                assert_eq!(verb_word(&v), want, "{v:?}");
                let mut bad = v.clone();
                bad[usize::try_from(mask).unwrap() % v.len()] ^= 0x01;
                assert_ne!(verb_word(&bad), want, "{bad:?}");
            }
        }
        for (line, end) in [
            (&b"MAIL FROM:<>"[..], 4),
            (b"NOOP", 4),
            (b"NO P", 2),
            (b" OOP x", 0),
            (b"STARTTLS", 8),
            (b"STARTTLS x", 8),
            (b"MAILX y", 5),
            (b"ABC", 3),
            (b"", 0),
            (b"VERYLONGVERB x", 12),
        ] {
            assert_eq!(verb_end(line), end, "{line:?}");
        }
        // Keywords of every length up to 17, in both cases, against a plain comparison.
        let words = [
            "a",
            "ab",
            "abc",
            "size",
            "ret",
            "7bit",
            "envid",
            "notify",
            "success",
            "8bitmime",
            "smtputf8",
            "requiretls",
            "binarymime",
            "abcdefghijklmnop",
            "aaaaaaaaa",
            "aaaaaaaaaa",
        ];
        for w in words {
            let f = fold(w);
            assert_eq!(folded(w.as_bytes()), f, "{w}");
            assert_eq!(folded(w.to_ascii_uppercase().as_bytes()), f, "{w}");
            for other in words {
                assert_eq!(folded(other.as_bytes()) == f, other == w, "{w} {other}");
            }
            for at in 0..w.len() {
                let mut b = w.as_bytes().to_vec();
                b[at] = b'-';
                assert_ne!(folded(&b), f, "{b:?}");
            }
        }
        assert_eq!(folded(b"abcdefghijklmnopq").1, 0);
    }

    #[test]
    fn forbidden_octets_and_utf8_anywhere_in_the_line() {
        let opts = ParseOptions::new();
        for at in 0..38 {
            let mut line = b"RCPT TO:<someone.long@example.org> NOTIFY=NEVER".to_vec();
            line.insert(9 + at, b'\r');
            assert_eq!(
                parse_command(&line, opts),
                Err(CommandError::ForbiddenOctet { byte: b'\r' })
            );
        }
        let line = "MAIL FROM:<j\u{f6}rg@example.org> SIZE=10".as_bytes();
        assert_eq!(
            parse_command(line, opts),
            Err(CommandError::Utf8NotPermitted)
        );
        assert_eq!(
            parse_command(line, opts.smtputf8(true)),
            Err(CommandError::Utf8NotPermitted)
        );
        let line = "MAIL FROM:<j\u{f6}rg@example.org> SMTPUTF8".as_bytes();
        assert!(parse_command(line, opts.smtputf8(true)).is_ok());
        let line = "EHLO b\u{fc}cher.example".as_bytes();
        assert_eq!(
            parse_command(line, opts),
            Err(CommandError::Utf8NotPermitted)
        );
        assert!(parse_command(line, opts.smtputf8(true)).is_ok());
        for bad in [
            "EHLO -a.example",
            "EHLO a-.example",
            "EHLO a..example",
            "EHLO a.example.",
        ] {
            assert_eq!(
                parse_command(bad.as_bytes(), opts),
                Err(CommandError::InvalidDomain),
                "{bad}"
            );
        }
        let long_label = format!("EHLO {}.example", "a".repeat(64));
        assert_eq!(
            parse_command(long_label.as_bytes(), opts),
            Err(CommandError::InvalidDomain)
        );
        assert_eq!(
            parse_command(b"ehlo A-1.Example", opts),
            Ok(Command::Ehlo(Host::Domain(
                Domain::new(b"A-1.Example").unwrap()
            )))
        );
    }

    /// The one-pass parameter scan finds the same parameters and the same first error as
    /// splitting at spaces and checking each token, over every string of up to five octets
    /// from an alphabet of separators, keyword and value octets, and UTF-8 and non-UTF-8 octets.
    #[test]
    fn one_pass_parameters_agree_with_split_tokens() {
        const ALPHABET: [u8; 10] = [b' ', b'=', b'a', b'Z', b'1', b'-', b'+', 0xC3, 0xA9, 0xFF];
        type Params = Result<Vec<(Vec<u8>, Option<Vec<u8>>)>, CommandError>;
        let split = |rest: &[u8], utf8: bool| -> Params {
            rest.split(|&b| b == b' ')
                .filter(|t| !t.is_empty())
                .map(|t| split_param(t, utf8).map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec))))
                .collect()
        };
        let one_pass = |rest: &[u8], utf8: bool| -> Params {
            let mut out = Vec::new();
            let mut at = 0;
            while let Some(((k, v), n)) = next_param(&rest[at..], utf8)? {
                assert!(n > 0 && at + n <= rest.len());
                at += n;
                out.push((k.to_vec(), v.map(<[u8]>::to_vec)));
            }
            assert!(rest[at..].iter().all(|&b| b == b' '), "{rest:?}");
            Ok(out)
        };
        let mut checked = 0;
        for len in 0..=5u32 {
            for code in 0..ALPHABET.len().pow(len) {
                let mut c = code;
                let rest: Vec<u8> = (0..len)
                    .map(|_| {
                        let b = ALPHABET[c % ALPHABET.len()];
                        c /= ALPHABET.len();
                        b
                    })
                    .collect();
                for utf8 in [false, true] {
                    assert_eq!(one_pass(&rest, utf8), split(&rest, utf8), "{rest:?} {utf8}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 200_000);
        // Whole commands: several spaces, a value running to the end, UTF-8 where allowed.
        let opts = ParseOptions::new();
        assert_eq!(
            parse_command(b"MAIL FROM:<> SIZE=10   BODY=8bitmime ", opts),
            Ok(Command::Mail {
                from: crate::types::ReversePath::Null,
                params: vec![
                    crate::types::MailParam::Size(10),
                    crate::types::MailParam::Body(BodyType::EightBitMime)
                ],
            })
        );
        assert_eq!(
            parse_command(b"MAIL FROM:<>SIZE=10", opts),
            Err(CommandError::InvalidPath)
        );
        assert_eq!(
            parse_command(b"RCPT TO:<a@b> X=", opts),
            Err(CommandError::MalformedParameter)
        );
        let utf8_value = "RCPT TO:<a@b> X-Y=\u{e9}t\u{e9} NOTIFY=NEVER".as_bytes();
        assert_eq!(
            parse_command(utf8_value, opts),
            Err(CommandError::MalformedParameter)
        );
        assert!(parse_command(utf8_value, opts.smtputf8(true)).is_ok());
    }

    #[test]
    fn dot_string_local_parts() {
        for (wire, utf8, ok_len) in [
            (&b"a.b@x"[..], false, Some(3)),
            (b"a@x", false, Some(1)),
            (b"a!#$%&'*+-/=?^_`{|}~z@x", false, Some(21)),
            (b".a@x", false, None),
            (b"a.@x", false, None),
            (b"a..b@x", false, None),
            (b"a.", false, None),
            (b".", false, None),
            (b"@x", false, None),
            (b"", false, None),
            // Without UTF-8 the name ends before the first octet over 127.
            ("j\u{f6}rg@x".as_bytes(), false, Some(1)),
            ("j\u{f6}rg@x".as_bytes(), true, Some(5)),
            (b"j\xf6rg@x", true, None), // not UTF-8
            (b"a b@x", false, Some(1)),
        ] {
            let got = local_part(wire, utf8)
                .map(|n| (std::str::from_utf8(&wire[..n]).unwrap().to_owned(), n));
            match ok_len {
                Some(n) => {
                    let want = std::str::from_utf8(&wire[..n]).unwrap().to_owned();
                    assert_eq!(got, Ok((want, n)), "{wire:?}");
                }
                None => assert_eq!(got, Err(CommandError::InvalidLocalPart), "{wire:?}"),
            }
        }
    }

    #[test]
    fn enhanced_code_detection() {
        let ok = ReplyCode::OK;
        let (e, rest) = split_enhanced("2.1.5 Recipient OK", ok).unwrap();
        assert_eq!((e.to_string().as_str(), rest), ("2.1.5", "Recipient OK"));
        assert_eq!(split_enhanced("2.1.5", ok).unwrap().1, "");
        assert!(split_enhanced("5.1.5 x", ok).is_none()); // class differs
        assert!(split_enhanced("2.1.5x", ok).is_none());
        assert!(split_enhanced("2.1 x", ok).is_none());
        assert!(split_enhanced("2.1000.1 x", ok).is_none());
        assert!(split_enhanced("22.1.1 x", ok).is_none());
        assert!(split_enhanced("2.1.5.6 x", ok).is_none());
    }

    #[test]
    fn extension_lines() {
        assert_eq!(extension("size"), Extension::Size(None));
        assert_eq!(extension("SIZE 0"), Extension::Size(Some(0)));
        assert!(matches!(
            extension("AUTH PLAIN b@d"),
            Extension::Other { .. }
        ));
        assert!(matches!(extension("AUTH=PLAIN"), Extension::Auth(m) if m.len() == 1));
        assert!(
            matches!(extension("XCLIENT NAME ADDR"), Extension::Other { params, .. } if params.len() == 2)
        );
    }
}
