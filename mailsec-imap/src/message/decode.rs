//! Content-Transfer-Encoding decoders for `BINARY` (RFC 3516, RFC 2045 §6): lenient, as mail
//! in the wild needs — characters outside the alphabet are skipped, a bad `=XX` is kept as is.

/// Decodes base64, skipping line breaks and anything outside the alphabet; stops at padding.
pub(crate) fn base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes quoted-printable (RFC 2045 §6.7): `=XX` octets, soft line breaks, trailing white
/// space of a line removed.
pub(crate) fn quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        if c == b'=' {
            // Soft line break: '=' then optional white space then CRLF or LF.
            let mut j = i + 1;
            while j < input.len() && matches!(input[j], b' ' | b'\t') {
                j += 1;
            }
            if j < input.len() && input[j] == b'\n' {
                i = j + 1;
                continue;
            }
            if j + 1 < input.len() && input[j] == b'\r' && input[j + 1] == b'\n' {
                i = j + 2;
                continue;
            }
            if j >= input.len() {
                break;
            }
            if let (Some(h), Some(l)) = (
                input.get(i + 1).copied().and_then(hex),
                input.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            out.push(b'=');
            i += 1;
        } else if c == b' ' || c == b'\t' {
            // Trailing white space before a line end is dropped (RFC 2045 §6.7 rule 3).
            let mut j = i;
            while j < input.len() && matches!(input[j], b' ' | b'\t') {
                j += 1;
            }
            if j >= input.len() || input[j] == b'\r' || input[j] == b'\n' {
                i = j;
            } else {
                out.extend_from_slice(&input[i..j]);
                i = j;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_with_breaks() {
        assert_eq!(base64(b"aGVs\r\nbG8=\r\n"), b"hello");
        assert_eq!(base64(b"aGVsbG8gd29ybGQ="), b"hello world");
    }

    #[test]
    fn qp_soft_breaks_and_hex() {
        assert_eq!(
            quoted_printable(b"caf=C3=A9 =\r\nau lait  \r\nx"),
            "café au lait\r\nx".as_bytes()
        );
        assert_eq!(quoted_printable(b"a=zz"), b"a=zz");
    }
}
