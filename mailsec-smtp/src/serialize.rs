//! Serializing commands and replies into [`BytesMut`], CRLF included.
//!
//! Values are validated when built, so serializing cannot fail. Verbs and known keywords are
//! written in upper case; [`parse_command`](crate::parse::parse_command) of the output gives
//! back an equal value (as long as the line fits the limit).
//!
//! ```
//! use mailsec_smtp::types::{Command, Reply, ReplyCode, EnhancedCode};
//!
//! assert_eq!(Command::Quit.to_bytes(), b"QUIT\r\n");
//! let reply = Reply::new(
//!     ReplyCode::OK,
//!     Some(EnhancedCode::new(2, 1, 5)?),
//!     vec!["Recipient".into(), "OK".into()],
//! )?;
//! assert_eq!(reply.to_bytes(), b"250-2.1.5 Recipient\r\n250 2.1.5 OK\r\n");
//! # Ok::<(), mailsec_smtp::ReplyError>(())
//! ```

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use mailsec_tls::sasl::wire;

use crate::types::{Command, Extension, MailParam, Notify, RcptParam, Reply, ReplyCode, Ret};

/// Appends the xtext form of `bytes` (RFC 3461 §4).
pub(crate) fn write_xtext(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            let _ = write!(out, "+{b:02X}");
        }
    }
}

fn put_xtext(bytes: &[u8], out: &mut BytesMut) {
    let mut s = String::with_capacity(bytes.len());
    write_xtext(bytes, &mut s);
    out.put_slice(s.as_bytes());
}

fn put_notify(n: Notify, out: &mut BytesMut) {
    if n.is_never() {
        out.put_slice(b"NEVER");
        return;
    }
    let mut first = true;
    for (on, name) in [
        (n.success, "SUCCESS"),
        (n.failure, "FAILURE"),
        (n.delay, "DELAY"),
    ] {
        if on {
            if !first {
                out.put_u8(b',');
            }
            out.put_slice(name.as_bytes());
            first = false;
        }
    }
}

impl Command {
    /// Appends the command and its CRLF.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_slice(self.verb().as_bytes());
        match self {
            Command::Ehlo(h) | Command::Helo(h) => {
                let _ = write!(out, " {h}");
            }
            Command::Mail { from, params } => {
                let _ = write!(out, " FROM:{from}");
                for p in params {
                    out.put_u8(b' ');
                    match p {
                        MailParam::Size(n) => {
                            let _ = write!(out, "SIZE={n}");
                        }
                        MailParam::Body(b) => {
                            let _ = write!(out, "BODY={}", b.as_str());
                        }
                        MailParam::SmtpUtf8 => out.put_slice(b"SMTPUTF8"),
                        MailParam::RequireTls => out.put_slice(b"REQUIRETLS"),
                        MailParam::Ret(r) => out.put_slice(match r {
                            Ret::Full => b"RET=FULL",
                            Ret::Hdrs => b"RET=HDRS",
                        }),
                        MailParam::EnvId(x) => {
                            out.put_slice(b"ENVID=");
                            put_xtext(x.as_bytes(), out);
                        }
                        MailParam::Auth(None) => out.put_slice(b"AUTH=<>"),
                        MailParam::Auth(Some(x)) => {
                            out.put_slice(b"AUTH=");
                            put_xtext(x.as_bytes(), out);
                        }
                        MailParam::Other(p) => put_other(p, out),
                    }
                }
            }
            Command::Rcpt { to, params } => {
                let _ = write!(out, " TO:{to}");
                for p in params {
                    out.put_u8(b' ');
                    match p {
                        RcptParam::Notify(n) => {
                            out.put_slice(b"NOTIFY=");
                            put_notify(*n, out);
                        }
                        RcptParam::Orcpt(o) => {
                            let _ = write!(out, "ORCPT={};", o.addr_type());
                            put_xtext(o.address().as_bytes(), out);
                        }
                        RcptParam::Other(p) => put_other(p, out),
                    }
                }
            }
            Command::Bdat { size, last } => {
                let _ = write!(out, " {size}");
                if *last {
                    out.put_slice(b" LAST");
                }
            }
            Command::Noop(t) | Command::Help(t) => {
                if let Some(t) = t {
                    let _ = write!(out, " {}", t.as_str());
                }
            }
            Command::Vrfy(t) | Command::Expn(t) => {
                let _ = write!(out, " {}", t.as_str());
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                let _ = write!(out, " {}", mechanism.as_str());
                if let Some(ir) = initial_response {
                    out.put_u8(b' ');
                    out.put_slice(wire::encode_initial_response(ir.expose()).as_bytes());
                }
            }
            Command::Data | Command::Rset | Command::Quit | Command::StartTls => {}
        }
        out.put_slice(b"\r\n");
    }

    /// The command and its CRLF as a vector. For AUTH the vector holds the credential: wipe
    /// it or prefer [`Command::encode`] into a buffer you control.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = BytesMut::with_capacity(64);
        self.encode(&mut out);
        out.to_vec()
    }
}

fn put_other(p: &crate::types::EsmtpParam, out: &mut BytesMut) {
    out.put_slice(p.keyword().as_str().as_bytes());
    if let Some(v) = p.value() {
        out.put_u8(b'=');
        out.put_slice(v.as_bytes());
    }
}

impl Reply {
    /// Appends every line of the reply with CRLFs.
    pub fn encode(&self, out: &mut BytesMut) {
        let enhanced = self.enhanced().map(|e| e.to_string());
        let n = self.lines().len();
        for (i, line) in self.lines().iter().enumerate() {
            let last = i + 1 == n;
            let _ = write!(out, "{}", self.code());
            match (&enhanced, line.is_empty()) {
                (Some(e), true) => {
                    out.put_u8(if last { b' ' } else { b'-' });
                    out.put_slice(e.as_bytes());
                }
                (Some(e), false) => {
                    out.put_u8(if last { b' ' } else { b'-' });
                    let _ = write!(out, "{e} {line}");
                }
                (None, true) => {
                    // RFC 4954 §4: a challenge is `334 SP base64`, even when empty.
                    if !last {
                        out.put_u8(b'-');
                    } else if self.code() == ReplyCode::AUTH_CHALLENGE {
                        out.put_u8(b' ');
                    }
                }
                (None, false) => {
                    out.put_u8(if last { b' ' } else { b'-' });
                    out.put_slice(line.as_bytes());
                }
            }
            out.put_slice(b"\r\n");
        }
    }

    /// The reply as a vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = BytesMut::with_capacity(64);
        self.encode(&mut out);
        out.to_vec()
    }
}

/// The keyword of an extension, as written.
pub(crate) fn extension_keyword(e: &Extension) -> &str {
    match e {
        Extension::Pipelining => "PIPELINING",
        Extension::Size(_) => "SIZE",
        Extension::EightBitMime => "8BITMIME",
        Extension::SmtpUtf8 => "SMTPUTF8",
        Extension::Chunking => "CHUNKING",
        Extension::BinaryMime => "BINARYMIME",
        Extension::EnhancedStatusCodes => "ENHANCEDSTATUSCODES",
        Extension::Dsn => "DSN",
        Extension::StartTls => "STARTTLS",
        Extension::Auth(_) => "AUTH",
        Extension::RequireTls => "REQUIRETLS",
        Extension::Other { keyword, .. } => keyword,
    }
}

/// One EHLO keyword line.
pub(crate) fn extension_line(e: &Extension) -> String {
    let mut s = extension_keyword(e).to_owned();
    match e {
        Extension::Size(Some(n)) => {
            let _ = write!(s, " {n}");
        }
        Extension::Auth(ms) => {
            for m in ms {
                s.push(' ');
                s.push_str(m.as_str());
            }
        }
        Extension::Other { params, .. } => {
            for p in params {
                s.push(' ');
                s.push_str(p);
            }
        }
        _ => {}
    }
    s
}
