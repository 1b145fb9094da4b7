//! Peer text made safe to show, log or store (SECURITY.md invariant 5), shared by every
//! protocol so the rule is held once.

/// Server (or client) text for callers: decoded as UTF-8, each invalid sequence replaced by `?`,
/// control characters (C0, DEL, C1) and the bidirectional formatting characters (U+200E,
/// U+200F, U+202A–U+202E, U+2066–U+2069) removed, so a peer cannot forge lines, drive a
/// terminal or reorder what a user reads.
///
/// The result is never longer (in bytes) than the input: `?` takes the place of at least one
/// invalid byte, so text checked against a line limit stays within it.
///
/// ```
/// use mailsec_tls::text::sanitize;
/// assert_eq!(sanitize(b"ready\x1b[2J\x07 \xe2\x80\xaeevil"), "ready[2J evil");
/// assert_eq!(sanitize(b"caf\xc3\xa9 \xff!"), "caf\u{e9} ?!");
/// ```
pub fn sanitize(text: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for chunk in text.utf8_chunks() {
        out.extend(chunk.valid().chars().filter(|c| !is_unsafe(*c)));
        if !chunk.invalid().is_empty() {
            out.push('?');
        }
    }
    out
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn removes_controls_and_never_grows() {
        assert_eq!(sanitize(b"a\x00b\x1bc\x7f\xc2\x85d\r\n"), "abcd");
        assert_eq!(sanitize(b"\xe2\x81\xa6x\xe2\x80\x8f"), "x");
        for input in [
            &b"\xff\xfe\xfd"[..],
            b"\xe2\x80",
            b"ok \xc3",
            b"ok \xf0\x9f\x92",
            b"",
        ] {
            assert!(sanitize(input).len() <= input.len(), "{input:?}");
        }
    }
}
