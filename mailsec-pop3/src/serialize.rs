//! Serializers into [`BytesMut`]: canonical bytes, CRLF included.
//!
//! Keywords are upper case, arguments separated by one SP, numbers in plain decimal, the APOP
//! digest in lowercase hex, SASL data in padded base64. Every function validates first and
//! checks the line limit, and on error leaves `buf` as it was. For every value `v` that
//! serializes, parsing the bytes gives `v` back.
//!
//! Multi-line responses: write the status line, then each listing line (none of them can
//! start with `.`), then [`END_OF_MULTILINE`]; stream message bodies through
//! [`MultilineEncoder`](crate::multiline::MultilineEncoder), which dot-stuffs.
//!
//! ```
//! use bytes::BytesMut;
//! use mailsec_pop3::{serialize, parse, Command, MessageNumber, StatusLine, ResponseCode, Response};
//!
//! let mut buf = BytesMut::new();
//! serialize::command(&Command::Dele(MessageNumber::new(7).unwrap()), &mut buf)?;
//! serialize::status_line(&StatusLine::err("mailbox locked").with_code(ResponseCode::InUse), &mut buf)?;
//! assert_eq!(&buf[..], b"DELE 7\r\n-ERR [IN-USE] mailbox locked\r\n");
//! # Ok::<(), mailsec_pop3::SerializeError>(())
//! ```

use bytes::{BufMut, BytesMut};
use zeroize::Zeroize;

use crate::error::SerializeError;
use crate::types::{
    AuthResponse, Capability, Command, Expire, MAX_COMMAND_LINE, MAX_RESPONSE_LINE, MAX_SASL_LINE,
    Response, ResponseCode, ScanListing, Status, StatusLine, UidlListing,
};

/// The terminator of a multi-line response (RFC 1939 §3).
pub const END_OF_MULTILINE: &[u8] = b".\r\n";

fn token(t: &[u8], what: &'static str) -> Result<(), SerializeError> {
    if t.is_empty() || t.iter().any(|b| matches!(b, b' ' | b'\r' | b'\n' | 0)) {
        return Err(SerializeError::InvalidToken(what));
    }
    Ok(())
}

fn text(t: &[u8], what: &'static str) -> Result<(), SerializeError> {
    if t.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(SerializeError::InvalidToken(what));
    }
    Ok(())
}

/// Runs `write` into `buf` and then checks the line's length; on any error `buf` is
/// truncated back to where it was.
fn line(
    buf: &mut BytesMut,
    limit: usize,
    write: impl FnOnce(&mut BytesMut) -> Result<(), SerializeError>,
) -> Result<(), SerializeError> {
    let start = buf.len();
    let result = write(buf).and_then(|()| {
        buf.put_slice(b"\r\n");
        let len = buf.len() - start;
        if len > limit {
            Err(SerializeError::LineTooLong { len, limit })
        } else {
            Ok(())
        }
    });
    if result.is_err() {
        // Wipe what may have been a secret before giving the space back.
        buf[start..].zeroize();
        buf.truncate(start);
    }
    result
}

fn put_num(buf: &mut BytesMut, n: impl std::fmt::Display) {
    use std::fmt::Write as _;
    struct W<'a>(&'a mut BytesMut);
    impl std::fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.put_slice(s.as_bytes());
            Ok(())
        }
    }
    let _ = write!(W(buf), "{n}");
}

/// Writes a command line, at most [`MAX_COMMAND_LINE`] octets with its CRLF.
///
/// Refused: a USER or APOP name that is empty or holds SP, CR, LF or NUL; a PASS argument
/// holding CR, LF or NUL; a line over the limit (an AUTH initial response too long for the
/// line must be sent after the continuation instead, RFC 5034 §4).
pub fn command(cmd: &Command, buf: &mut BytesMut) -> Result<(), SerializeError> {
    line(buf, MAX_COMMAND_LINE, |buf| {
        buf.put_slice(cmd.keyword().as_bytes());
        let msg = |buf: &mut BytesMut, m: &crate::MessageNumber| {
            buf.put_u8(b' ');
            put_num(buf, m);
        };
        match cmd {
            Command::User(name) => {
                token(name, "user name")?;
                buf.put_u8(b' ');
                buf.put_slice(name);
            }
            Command::Pass(pw) => {
                text(pw.expose(), "password")?;
                buf.put_u8(b' ');
                buf.put_slice(pw.expose());
            }
            Command::Apop { name, digest } => {
                token(name, "APOP name")?;
                buf.put_u8(b' ');
                buf.put_slice(name);
                buf.put_u8(b' ');
                buf.put_slice(&digest.to_hex());
            }
            Command::List(m) | Command::Uidl(m) => {
                if let Some(m) = m {
                    msg(buf, m);
                }
            }
            Command::Retr(m) | Command::Dele(m) => msg(buf, m),
            Command::Top { msg: m, lines } => {
                msg(buf, m);
                buf.put_u8(b' ');
                put_num(buf, lines);
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                buf.put_u8(b' ');
                buf.put_slice(mechanism.as_str().as_bytes());
                if let Some(ir) = initial_response {
                    let mut b64 = mailsec_tls::sasl::wire::encode_initial_response(ir.expose());
                    buf.put_u8(b' ');
                    buf.put_slice(b64.as_bytes());
                    b64.zeroize();
                }
            }
            Command::Stat
            | Command::Noop
            | Command::Rset
            | Command::Quit
            | Command::Capa
            | Command::Stls
            | Command::AuthList
            | Command::Utf8 => {}
        }
        Ok(())
    })
}

/// Writes a client's AUTH line (RFC 5034 §4): `*` or base64, at most [`MAX_SASL_LINE`].
pub fn auth_response(resp: &AuthResponse, buf: &mut BytesMut) -> Result<(), SerializeError> {
    line(buf, MAX_SASL_LINE, |buf| {
        match resp {
            AuthResponse::Cancel => buf.put_u8(b'*'),
            AuthResponse::Data(d) => {
                let mut b64 = mailsec_tls::sasl::wire::encode(d.expose());
                buf.put_slice(b64.as_bytes());
                b64.zeroize();
            }
        }
        Ok(())
    })
}

/// Writes a response line: a status line (at most [`MAX_RESPONSE_LINE`]) or an AUTH
/// continuation `+ base64` (at most [`MAX_SASL_LINE`]; `+ ` alone for an empty challenge).
pub fn response(resp: &Response, buf: &mut BytesMut) -> Result<(), SerializeError> {
    match resp {
        Response::Status(s) => status_line(s, buf),
        Response::Continuation(data) => line(buf, MAX_SASL_LINE, |buf| {
            buf.put_slice(b"+ ");
            buf.put_slice(mailsec_tls::sasl::wire::encode(data).as_bytes());
            Ok(())
        }),
    }
}

/// Writes a status line, at most [`MAX_RESPONSE_LINE`] octets with its CRLF: `+OK` or
/// `-ERR`, then ` [CODE]` if any, then ` text` if the text is not empty.
///
/// The canonical form puts one SP between `]` and the text, which the tolerant parser does not
/// require: a received `[CODE]text` line at exactly 512 octets is one octet too long to write
/// back and is refused with [`SerializeError::LineTooLong`].
///
/// Also refused: text with CR, LF or NUL; a code that is not RFC 2449 §8 syntax or an
/// [`ResponseCode::Other`] spelling a known code; text without a code that starts with a
/// valid `[code]` (it would parse back as one).
pub fn status_line(s: &StatusLine, buf: &mut BytesMut) -> Result<(), SerializeError> {
    text(&s.text, "response text")?;
    match &s.code {
        Some(ResponseCode::Other(c)) => {
            if !crate::parse::valid_code(c) {
                return Err(SerializeError::InvalidToken("response code"));
            }
            if ResponseCode::KNOWN
                .iter()
                .any(|(n, _)| n.as_bytes().eq_ignore_ascii_case(c))
            {
                return Err(SerializeError::Ambiguous("response code"));
            }
        }
        Some(_) => {}
        None => {
            if crate::parse::split_code(&s.text).is_some() {
                return Err(SerializeError::Ambiguous("response text"));
            }
        }
    }
    line(buf, MAX_RESPONSE_LINE, |buf| {
        buf.put_slice(match s.status {
            Status::Ok => b"+OK",
            Status::Err => b"-ERR",
        });
        if let Some(code) = &s.code {
            buf.put_slice(b" [");
            buf.put_slice(code.as_bytes());
            buf.put_u8(b']');
        }
        if !s.text.is_empty() {
            buf.put_u8(b' ');
            buf.put_slice(&s.text);
        }
        Ok(())
    })
}

/// Writes a scan listing line `msg size` (RFC 1939 §5).
pub fn scan_listing(l: &ScanListing, buf: &mut BytesMut) -> Result<(), SerializeError> {
    line(buf, MAX_RESPONSE_LINE, |buf| {
        put_num(buf, l.msg);
        buf.put_u8(b' ');
        put_num(buf, l.size);
        Ok(())
    })
}

/// Writes a unique-id listing line `msg uid` (RFC 1939 §7).
pub fn uidl_listing(l: &UidlListing, buf: &mut BytesMut) -> Result<(), SerializeError> {
    line(buf, MAX_RESPONSE_LINE, |buf| {
        put_num(buf, l.msg);
        buf.put_u8(b' ');
        buf.put_slice(l.uid.as_bytes());
        Ok(())
    })
}

/// Writes one CAPA listing line (RFC 2449 §§5–6).
///
/// Refused: an [`Capability::Other`] whose name is not RFC 2449 `capa-tag` syntax or is a
/// known name, or whose arguments are empty or hold SP, CR, LF or NUL; IMPLEMENTATION text
/// with CR, LF or NUL.
///
/// ```
/// use bytes::BytesMut;
/// use mailsec_pop3::{serialize, Capability, Expire, MechanismName};
/// let mut buf = BytesMut::new();
/// for cap in [
///     Capability::Sasl(vec![MechanismName::new(b"PLAIN")?]),
///     Capability::Expire { policy: Expire::Days(60), per_user: true },
/// ] {
///     serialize::capability(&cap, &mut buf).unwrap();
/// }
/// assert_eq!(&buf[..], b"SASL PLAIN\r\nEXPIRE 60 USER\r\n");
/// # Ok::<(), mailsec_pop3::ParseError>(())
/// ```
pub fn capability(cap: &Capability, buf: &mut BytesMut) -> Result<(), SerializeError> {
    if let Capability::Other { name, args } = cap {
        if name.is_empty() || !name.iter().all(|b| matches!(b, 0x21..=0x2d | 0x2f..=0x7f)) {
            return Err(SerializeError::InvalidToken("capability name"));
        }
        if Capability::NAMES
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
        {
            return Err(SerializeError::Ambiguous("capability"));
        }
        for a in args {
            token(a, "capability argument")?;
        }
    }
    if let Capability::Implementation(t) = cap {
        text(t, "implementation text")?;
    }
    line(buf, MAX_RESPONSE_LINE, |buf| {
        buf.put_slice(cap.name());
        let user = |buf: &mut BytesMut, per_user: bool| {
            if per_user {
                buf.put_slice(b" USER");
            }
        };
        match cap {
            Capability::Sasl(mechs) => {
                for m in mechs {
                    buf.put_u8(b' ');
                    buf.put_slice(m.as_str().as_bytes());
                }
            }
            Capability::LoginDelay { seconds, per_user } => {
                buf.put_u8(b' ');
                put_num(buf, seconds);
                user(buf, *per_user);
            }
            Capability::Expire { policy, per_user } => {
                buf.put_u8(b' ');
                match policy {
                    Expire::Never => buf.put_slice(b"NEVER"),
                    Expire::Days(d) => put_num(buf, d),
                }
                user(buf, *per_user);
            }
            Capability::Implementation(t) => {
                if !t.is_empty() {
                    buf.put_u8(b' ');
                    buf.put_slice(t);
                }
            }
            Capability::Utf8 { user: u } => user(buf, *u),
            Capability::Other { args, .. } => {
                for a in args {
                    buf.put_u8(b' ');
                    buf.put_slice(a);
                }
            }
            Capability::Top
            | Capability::User
            | Capability::RespCodes
            | Capability::Pipelining
            | Capability::Uidl
            | Capability::Stls
            | Capability::AuthRespCode => {}
        }
        Ok(())
    })
}
