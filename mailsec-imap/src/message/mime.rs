//! The MIME structure of a message as byte ranges of the original bytes (RFC 2045, RFC 2046),
//! which `BODY[section]` needs exactly (RFC 9051 §6.4.5): every part's header block and body,
//! the CRLF before a boundary belonging to the boundary (RFC 2046 §5.1.1).
//!
//! Bounded: at most [`MAX_DEPTH`] levels of nesting and [`MAX_PARTS`] parts; beyond that a part
//! is kept as a single opaque part. Linear in the message size per level.

use std::ops::Range;

/// Deepest nesting of multiparts and encapsulated messages analysed.
pub(crate) const MAX_DEPTH: usize = 24;
/// Most parts analysed in one message.
pub(crate) const MAX_PARTS: usize = 5000;

/// One entity: a message or a body part.
#[derive(Clone, Debug)]
pub(crate) struct Part {
    /// The header block, blank line included (empty when the entity has no header).
    pub(crate) header: Range<usize>,
    /// The body.
    pub(crate) body: Range<usize>,
    /// Its Content-Type (defaults applied).
    pub(crate) ctype: ContentType,
    /// Multipart children, encapsulated message or neither.
    pub(crate) kind: Kind,
}

/// What a part contains.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// A leaf.
    Single,
    /// A multipart's parts (at least one).
    Multi(Vec<Part>),
    /// `message/rfc822` (or `message/global`): the encapsulated message.
    Message(Box<Part>),
}

/// Parameters: (name, value) as sent, values unquoted.
pub(crate) type Params = Vec<(Vec<u8>, Vec<u8>)>;

/// A parsed `Content-Type` (RFC 2045 §5.1): type and subtype as given, parameters with their
/// values unquoted (RFC 2231 continuations are left as separate parameters, as sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ContentType {
    pub(crate) mtype: Vec<u8>,
    pub(crate) subtype: Vec<u8>,
    pub(crate) params: Params,
}

impl ContentType {
    fn default_text() -> Self {
        ContentType {
            mtype: b"TEXT".to_vec(),
            subtype: b"PLAIN".to_vec(),
            params: vec![(b"CHARSET".to_vec(), b"US-ASCII".to_vec())],
        }
    }
    fn default_message() -> Self {
        ContentType {
            mtype: b"MESSAGE".to_vec(),
            subtype: b"RFC822".to_vec(),
            params: Vec::new(),
        }
    }
    pub(crate) fn is(&self, mtype: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype.as_bytes())
    }
    pub(crate) fn is_sub(&self, subtype: &str) -> bool {
        self.subtype.eq_ignore_ascii_case(subtype.as_bytes())
    }
    pub(crate) fn param(&self, name: &str) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }
}

/// Offset of the body: just after the first empty line, or the end when there is none (the
/// whole entity is then header). Bare LF line ends are tolerated.
pub(crate) fn split_header(raw: &[u8], range: Range<usize>) -> usize {
    let bytes = &raw[range.clone()];
    let mut pos = 0;
    while pos < bytes.len() {
        let line_end = match memchr::memchr(b'\n', &bytes[pos..]) {
            Some(i) => pos + i + 1,
            None => return range.end,
        };
        let line = &bytes[pos..line_end];
        if line == b"\r\n" || line == b"\n" {
            return range.start + line_end;
        }
        pos = line_end;
    }
    range.end
}

/// Scans `bytes` for the empty line ending a header block, line by line from `*line_start`
/// (the start of a line not yet examined): `Some(offset just after the empty line)`, or `None`
/// with `*line_start` moved to the first incomplete line, so that a caller reading the message
/// a piece at a time resumes where it stopped. Same rule as [`split_header`]: the first line
/// that is exactly CRLF or a bare LF.
pub(crate) fn scan_header_end(bytes: &[u8], line_start: &mut usize) -> Option<usize> {
    while *line_start < bytes.len() {
        let pos = *line_start;
        let end = pos + memchr::memchr(b'\n', &bytes[pos..])? + 1;
        let line = &bytes[pos..end];
        if line == b"\r\n" || line == b"\n" {
            return Some(end);
        }
        *line_start = end;
    }
    None
}

/// The fields of a header block: (name, whole raw field including continuation lines and the
/// line end, value after the colon). A line without a colon is skipped.
pub(crate) fn fields(header: &[u8]) -> impl Iterator<Item = Field<'_>> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        loop {
            if pos >= header.len() {
                return None;
            }
            let start = pos;
            // One field: the first line and every following line starting with SP or HT.
            let mut end = line_end(header, pos);
            while end < header.len() && matches!(header[end], b' ' | b'\t') {
                end = line_end(header, end);
            }
            pos = end;
            let raw = &header[start..end];
            if raw == b"\r\n" || raw == b"\n" {
                return None;
            }
            let Some(colon) = memchr::memchr(b':', raw) else {
                continue;
            };
            let name = trim(&raw[..colon]);
            if name.is_empty() || name.contains(&b'\n') {
                continue;
            }
            return Some(Field {
                name,
                raw,
                value: &raw[colon + 1..],
            });
        }
    })
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    match memchr::memchr(b'\n', &bytes[from..]) {
        Some(i) => from + i + 1,
        None => bytes.len(),
    }
}

/// One header field.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field<'h> {
    /// The field name (trimmed).
    pub(crate) name: &'h [u8],
    /// The whole field as in the message, line end included.
    pub(crate) raw: &'h [u8],
    /// The value after the colon, folding and line end included.
    pub(crate) value: &'h [u8],
}

/// The first field of that name (case-insensitive).
pub(crate) fn field<'h>(header: &'h [u8], name: &str) -> Option<&'h [u8]> {
    fields(header)
        .find(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
        .map(|f| f.value)
}

/// A value unfolded (CR and LF removed) and trimmed of surrounding white space.
pub(crate) fn unfold(value: &[u8]) -> Vec<u8> {
    let v: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    trim(&v).to_vec()
}

/// Trims ASCII white space at both ends.
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Skips white space and (nested) comments from `pos`.
pub(crate) fn skip_cfws(s: &[u8], mut pos: usize) -> usize {
    while pos < s.len() {
        match s[pos] {
            b' ' | b'\t' | b'\r' | b'\n' => pos += 1,
            b'(' => pos = comment_end(s, pos),
            _ => break,
        }
    }
    pos
}

/// The position after the comment opening at `pos` (bounded nesting, quoted pairs).
pub(crate) fn comment_end(s: &[u8], mut pos: usize) -> usize {
    let mut depth = 0usize;
    while pos < s.len() {
        match s[pos] {
            b'\\' => pos += 1,
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return pos + 1;
                }
            }
            _ => {}
        }
        pos += 1;
    }
    s.len()
}

/// Reads a quoted string opening at `pos`: (unescaped content, position after it).
pub(crate) fn quoted(s: &[u8], mut pos: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    pos += 1;
    while pos < s.len() {
        match s[pos] {
            b'\\' if pos + 1 < s.len() => {
                out.push(s[pos + 1]);
                pos += 2;
            }
            b'"' => return (out, pos + 1),
            b'\r' | b'\n' => pos += 1,
            b => {
                out.push(b);
                pos += 1;
            }
        }
    }
    (out, pos)
}

fn is_tspecial(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')'
            | b'<'
            | b'>'
            | b'@'
            | b','
            | b';'
            | b':'
            | b'\\'
            | b'"'
            | b'/'
            | b'['
            | b']'
            | b'?'
            | b'='
    ) || b <= b' '
        || b == 0x7f
}

fn token(s: &[u8], pos: usize) -> (&[u8], usize) {
    let mut end = pos;
    while end < s.len() && !is_tspecial(s[end]) {
        end += 1;
    }
    (&s[pos..end], end)
}

/// Parses `type/subtype *(; name=value)` leniently; `None` when the type is unusable.
pub(crate) fn parse_content_type(value: &[u8]) -> Option<ContentType> {
    let mut pos = skip_cfws(value, 0);
    let (mtype, p) = token(value, pos);
    pos = skip_cfws(value, p);
    if mtype.is_empty() || value.get(pos) != Some(&b'/') {
        return None;
    }
    pos = skip_cfws(value, pos + 1);
    let (subtype, p) = token(value, pos);
    if subtype.is_empty() {
        return None;
    }
    let params = parse_params(value, p);
    Some(ContentType {
        mtype: mtype.to_vec(),
        subtype: subtype.to_vec(),
        params,
    })
}

/// Parses `value *(; name=value)` (Content-Disposition, RFC 2183): the value and parameters.
pub(crate) fn parse_disposition(value: &[u8]) -> Option<(Vec<u8>, Params)> {
    let pos = skip_cfws(value, 0);
    let (kind, p) = token(value, pos);
    if kind.is_empty() {
        return None;
    }
    Some((kind.to_vec(), parse_params(value, p)))
}

/// The `; name=value` parameters from `pos` (bounded by the value's length).
fn parse_params(s: &[u8], mut pos: usize) -> Params {
    let mut out = Vec::new();
    while pos < s.len() {
        pos = skip_cfws(s, pos);
        if s.get(pos) != Some(&b';') {
            // Junk: skip to the next semicolon.
            match memchr::memchr(b';', &s[pos.min(s.len())..]) {
                Some(i) => pos += i,
                None => break,
            }
        }
        pos = skip_cfws(s, pos + 1);
        let (name, p) = token(s, pos);
        pos = skip_cfws(s, p);
        if name.is_empty() || s.get(pos) != Some(&b'=') {
            continue;
        }
        pos = skip_cfws(s, pos + 1);
        let value = if s.get(pos) == Some(&b'"') {
            let (v, p) = quoted(s, pos);
            pos = p;
            v
        } else {
            let (v, p) = token(s, pos);
            pos = p;
            v.to_vec()
        };
        out.push((name.to_vec(), value));
    }
    out
}

/// Analyses the entity at `range` (header then body).
pub(crate) fn parse_entity(
    raw: &[u8],
    range: Range<usize>,
    default: &ContentType,
    depth: usize,
    count: &mut usize,
) -> Part {
    *count += 1;
    let body_start = split_header(raw, range.clone());
    let header = range.start..body_start;
    let body = body_start..range.end;
    let hdr = &raw[header.clone()];
    let mut ctype = field(hdr, "Content-Type")
        .and_then(parse_content_type)
        .unwrap_or_else(|| default.clone());
    if ctype.is("text") && ctype.param("charset").is_none() {
        // RFC 2045 §5.2: text without a charset is US-ASCII (Dovecot shows it too).
        ctype
            .params
            .push((b"CHARSET".to_vec(), b"US-ASCII".to_vec()));
    }
    let encoded = field(hdr, "Content-Transfer-Encoding").is_some_and(|v| {
        let v = unfold(v);
        !(v.eq_ignore_ascii_case(b"7bit")
            || v.eq_ignore_ascii_case(b"8bit")
            || v.eq_ignore_ascii_case(b"binary"))
    });
    let mut part = Part {
        header,
        body: body.clone(),
        ctype,
        kind: Kind::Single,
    };
    // Past the limits a multipart or message keeps its kind with an empty stand-in inside, so
    // BODYSTRUCTURE stays well-formed (a MESSAGE/RFC822 part must carry an envelope and body).
    let limited = depth >= MAX_DEPTH || *count >= MAX_PARTS;
    let stand_in = |at: usize| Part {
        header: at..at,
        body: at..at,
        ctype: ContentType::default_text(),
        kind: Kind::Single,
    };
    if part.ctype.is("multipart") {
        let boundary = part.ctype.param("boundary").map(<[u8]>::to_vec);
        match boundary {
            Some(b) if !b.is_empty() => {
                let child_default = if part.ctype.is_sub("digest") {
                    ContentType::default_message()
                } else {
                    ContentType::default_text()
                };
                let mut children = Vec::new();
                if !limited {
                    for r in split_multipart(raw, body, &b) {
                        if *count >= MAX_PARTS {
                            break;
                        }
                        children.push(parse_entity(raw, r, &child_default, depth + 1, count));
                    }
                }
                if children.is_empty() {
                    // RFC 9051 §7.5.2 needs at least one part: an empty text part stands in.
                    children.push(stand_in(part.body.end));
                }
                part.kind = Kind::Multi(children);
            }
            _ => {
                // A multipart without a boundary cannot be split: it is shown as text.
                part.ctype = ContentType::default_text();
            }
        }
    } else if part.ctype.is("message")
        && (part.ctype.is_sub("rfc822") || part.ctype.is_sub("global"))
    {
        let inner = if limited || encoded {
            // An encoded message is not analysed (RFC 2046 §5.2.1 forbids encoding it).
            stand_in(part.body.end)
        } else {
            parse_entity(raw, body, &ContentType::default_text(), depth + 1, count)
        };
        part.kind = Kind::Message(Box::new(inner));
    }
    part
}

/// The ranges of a multipart body's parts: each starts after a delimiter line and ends before
/// the line end that precedes the next delimiter (RFC 2046 §5.1.1). The preamble and epilogue
/// are dropped; a missing close delimiter ends the last part at the end of the body.
fn split_multipart(raw: &[u8], body: Range<usize>, boundary: &[u8]) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut current: Option<usize> = None;
    let mut pos = body.start;
    while pos < body.end {
        let next = match memchr::memchr(b'\n', &raw[pos..body.end]) {
            Some(i) => pos + i + 1,
            None => body.end,
        };
        let line = &raw[pos..next];
        if let Some(rest) = line
            .strip_prefix(b"--")
            .and_then(|l| l.strip_prefix(boundary))
        {
            let close = rest.starts_with(b"--");
            let ok = close || rest.iter().all(|b| b.is_ascii_whitespace());
            if ok {
                if let Some(start) = current.take() {
                    // The line end before the delimiter belongs to it.
                    let mut end = pos;
                    if end > start && raw[end - 1] == b'\n' {
                        end -= 1;
                        if end > start && raw[end - 1] == b'\r' {
                            end -= 1;
                        }
                    }
                    parts.push(start..end.max(start));
                }
                if close {
                    return parts;
                }
                current = Some(next);
                if parts.len() >= MAX_PARTS {
                    return parts;
                }
            }
        }
        pos = next;
    }
    if let Some(start) = current {
        parts.push(start..body.end);
    }
    parts
}
