//! The base64 framing of SASL messages shared by SMTP AUTH, IMAP AUTHENTICATE and POP3 AUTH.
//!
//! All three protocols carry SASL messages as one line of base64 (RFC 4648 §4, with padding);
//! a client line of `*` cancels the exchange, and an initial response of `=` means "an empty
//! initial response" (RFC 4954 §4, RFC 9051 §6.2.2, RFC 5034 §4) as opposed to "no initial
//! response at all".
//!
//! ```
//! use mailsec_tls::sasl::wire::{self, ClientLine};
//!
//! assert_eq!(wire::encode(b"\0tim\0tanstaaftanstaaf"), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
//! assert_eq!(wire::encode_initial_response(b""), "=");
//! assert_eq!(wire::decode_initial_response(b"=").unwrap(), b"");
//! assert_eq!(wire::decode_client_line(b"*").unwrap(), ClientLine::Cancel);
//! assert!(wire::decode(b"not base64!").is_err());
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{MAX_MESSAGE_LEN, SaslError};

/// The longest base64 text accepted: enough for [`MAX_MESSAGE_LEN`] octets.
pub const MAX_BASE64_LEN: usize = MAX_MESSAGE_LEN.div_ceil(3) * 4;

/// Encodes a SASL message as base64 (standard alphabet, padded), the form every protocol sends.
pub fn encode(message: &[u8]) -> String {
    STANDARD.encode(message)
}

/// Encodes an initial response: `=` for an empty one (RFC 4954 §4, RFC 9051 §6.2.2,
/// RFC 5034 §4), base64 otherwise.
pub fn encode_initial_response(message: &[u8]) -> String {
    if message.is_empty() {
        "=".to_owned()
    } else {
        encode(message)
    }
}

/// Decodes a base64 SASL message (challenge or response). An empty line is the empty message.
///
/// Rejects anything but the standard padded alphabet with [`SaslError::InvalidBase64`] (no
/// whitespace, no line breaks: the protocol layer has stripped its CRLF), and text longer than
/// [`MAX_BASE64_LEN`] with [`SaslError::TooLong`] before decoding.
pub fn decode(text: &[u8]) -> Result<Vec<u8>, SaslError> {
    if text.len() > MAX_BASE64_LEN {
        return Err(SaslError::TooLong {
            len: text.len(),
            limit: MAX_BASE64_LEN,
        });
    }
    STANDARD.decode(text).map_err(|_| SaslError::InvalidBase64)
}

/// Decodes an initial response sent with the command (SASL-IR): `=` is the empty response;
/// anything else is base64.
pub fn decode_initial_response(text: &[u8]) -> Result<Vec<u8>, SaslError> {
    if text == b"=" {
        Ok(Vec::new())
    } else {
        decode(text)
    }
}

/// A client's line during an exchange, once decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientLine {
    /// `*`: the client cancels the exchange; the server answers with a failure.
    Cancel,
    /// A response, decoded from base64.
    Response(Vec<u8>),
}

/// Decodes a client's continuation line: `*` cancels, anything else must be base64.
pub fn decode_client_line(line: &[u8]) -> Result<ClientLine, SaslError> {
    if line == b"*" {
        Ok(ClientLine::Cancel)
    } else {
        decode(line).map(ClientLine::Response)
    }
}

/// The client's cancellation line, `*`.
pub const CANCEL: &str = "*";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        assert_eq!(
            decode(encode(b"Ursel\0Kurt\0xipj3plmq").as_bytes()).unwrap(),
            b"Ursel\0Kurt\0xipj3plmq"
        );
        assert_eq!(decode(b"").unwrap(), b"");
        assert_eq!(decode(b"AHRpbQ"), Err(SaslError::InvalidBase64));
        assert_eq!(decode(b"AHRp bQ=="), Err(SaslError::InvalidBase64));
        assert_eq!(decode(b"="), Err(SaslError::InvalidBase64));
        assert_eq!(decode_initial_response(b"=").unwrap(), b"");
        let long = vec![b'A'; MAX_BASE64_LEN + 4];
        assert!(matches!(decode(&long), Err(SaslError::TooLong { .. })));
    }
}
