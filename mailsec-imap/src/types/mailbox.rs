//! Mailbox names (RFC 9051 §5.1): `INBOX` case-insensitive, modified UTF-7 (RFC 3501 §5.1.3)
//! and UTF-8 under UTF8=ACCEPT (RFC 6855 §3).

use super::core::AString;
use crate::error::ValidationError;

/// A `mailbox` (RFC 9051 §9: `"INBOX" / astring`). Any case of `INBOX` is [`Mailbox::Inbox`]
/// (RFC 9051 §5.1), so two spellings of INBOX compare equal and serialize as `INBOX`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Mailbox<'a> {
    /// INBOX, in any case.
    Inbox,
    /// Any other name, as sent (modified UTF-7, or UTF-8 under UTF8=ACCEPT).
    Other(AString<'a>),
}

impl<'a> Mailbox<'a> {
    /// Wraps an astring, recognizing INBOX in any case.
    ///
    /// ```
    /// use mailsec_imap::types::{AString, Mailbox};
    /// assert_eq!(Mailbox::new(AString::new(&b"iNbOx"[..]).unwrap()), Mailbox::Inbox);
    /// ```
    pub fn new(name: AString<'a>) -> Self {
        if name.as_bytes().eq_ignore_ascii_case(b"INBOX") {
            Mailbox::Inbox
        } else {
            Mailbox::Other(name)
        }
    }

    /// Builds the wire name of a Unicode mailbox name: modified UTF-7 unless `utf8` (the
    /// session enabled UTF8=ACCEPT, RFC 6855 §3), in which case the UTF-8 is kept.
    ///
    /// ```
    /// use mailsec_imap::types::Mailbox;
    /// let m = Mailbox::from_utf8("Entwürfe", false).unwrap();
    /// assert_eq!(m.as_bytes(), b"Entw&APw-rfe");
    /// assert_eq!(m.to_utf8().unwrap(), "Entwürfe");
    /// ```
    pub fn from_utf8(name: &str, utf8: bool) -> Result<Mailbox<'static>, ValidationError> {
        let wire = if utf8 {
            name.as_bytes().to_vec()
        } else {
            encode_utf7(name).into_bytes()
        };
        Ok(Mailbox::new(AString::new(wire)?))
    }

    /// The wire octets (`INBOX` for the inbox).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Mailbox::Inbox => b"INBOX",
            Mailbox::Other(a) => a.as_bytes(),
        }
    }

    /// The Unicode name: UTF-8 octets are taken as they are (RFC 6855), 7-bit names are decoded
    /// from modified UTF-7.
    pub fn to_utf8(&self) -> Result<String, ValidationError> {
        let bytes = self.as_bytes();
        if bytes.is_ascii() {
            decode_utf7(bytes)
        } else {
            String::from_utf8(bytes.to_vec()).map_err(|_| ValidationError::Encoding {
                what: "mailbox name",
            })
        }
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Mailbox<'static> {
        match self {
            Mailbox::Inbox => Mailbox::Inbox,
            Mailbox::Other(a) => Mailbox::Other(a.into_owned()),
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn b64_value(b: u8) -> Option<u32> {
    B64.iter().position(|&c| c == b).map(|p| p as u32)
}

/// Encodes a Unicode name in modified UTF-7 (RFC 3501 §5.1.3).
///
/// ```
/// use mailsec_imap::types::mailbox::encode_utf7;
/// assert_eq!(encode_utf7("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
/// assert_eq!(encode_utf7("A&B"), "A&-B");
/// ```
pub fn encode_utf7(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        out.push('&');
        let mut bits: u32 = 0;
        let mut nbits = 0;
        for unit in pending.drain(..) {
            bits = (bits << 16) | u32::from(unit);
            nbits += 16;
            while nbits >= 6 {
                nbits -= 6;
                out.push(B64[((bits >> nbits) & 0x3f) as usize] as char);
            }
        }
        if nbits > 0 {
            out.push(B64[((bits << (6 - nbits)) & 0x3f) as usize] as char);
        }
        out.push('-');
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Decodes a modified UTF-7 name (RFC 3501 §5.1.3), strictly: only printable ASCII outside
/// shifts, modified base64 inside, no padding bits set, no unpaired surrogate, no shift that
/// encodes printable ASCII.
///
/// ```
/// use mailsec_imap::types::mailbox::decode_utf7;
/// assert_eq!(decode_utf7(b"&ZeVnLIqe-").unwrap(), "日本語");
/// assert!(decode_utf7(b"&Jjo!").is_err());
/// ```
pub fn decode_utf7(wire: &[u8]) -> Result<String, ValidationError> {
    let err = || ValidationError::Encoding {
        what: "modified UTF-7 mailbox name",
    };
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    while i < wire.len() {
        let b = wire[i];
        if !(0x20..0x7f).contains(&b) {
            return Err(err());
        }
        if b != b'&' {
            out.push(b as char);
            i += 1;
            continue;
        }
        let start = i + 1;
        let end = start
            + wire[start..]
                .iter()
                .position(|&c| c == b'-')
                .ok_or_else(err)?;
        i = end + 1;
        if end == start {
            out.push('&');
            continue;
        }
        let mut bits: u32 = 0;
        let mut nbits = 0;
        let mut units: Vec<u16> = Vec::new();
        for &c in &wire[start..end] {
            bits = (bits << 6) | b64_value(c).ok_or_else(err)?;
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                units.push((bits >> nbits) as u16);
                bits &= (1 << nbits) - 1;
            }
        }
        if nbits >= 6 || bits != 0 {
            return Err(err());
        }
        let text = String::from_utf16(&units).map_err(|_| err())?;
        if text.chars().any(|c| (' '..='~').contains(&c)) {
            return Err(err());
        }
        out.push_str(&text);
    }
    Ok(out)
}
