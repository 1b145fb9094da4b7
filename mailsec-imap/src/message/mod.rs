//! Analysis of one RFC 5322 / MIME message for the IMAP server: ENVELOPE, BODY and
//! BODYSTRUCTURE (RFC 9051 §7.5.2), `BODY[section]` (§6.4.5), `BINARY[part]` (RFC 3516) and
//! SEARCH (§6.4.4).
//!
//! The MIME structure is found here as byte ranges of the original message, because
//! IMAP sections are exact octets of the message and ENVELOPE and BODYSTRUCTURE carry header
//! values raw, as sent (encoded words are not decoded, as Dovecot does). The `mail-parser`
//! crate decodes what SEARCH compares (encoded words, charsets) and parses the `Date:` header.
//!
//! Never panics on any bytes; the work is linear in the message size with the nesting depth
//! and the number of parts bounded.
//!
//! ```
//! use mailsec_imap::message::ParsedMessage;
//! use mailsec_imap::types::{Section, SectionText};
//! let raw = b"From: a@example.org\r\nSubject: hi\r\n\r\nHello\r\n";
//! let m = ParsedMessage::parse(raw);
//! let text = Section { part: vec![], text: Some(SectionText::Text) };
//! assert_eq!(&m.section(&text)[..], b"Hello\r\n");
//! assert_eq!(m.envelope().subject.0.unwrap().as_bytes(), b"hi");
//! ```

mod address;
mod decode;
mod mime;
mod search;

use std::borrow::Cow;

pub use search::{SearchContext, search_matches, search_needs_body, search_needs_content};

use crate::types::{
    Address, BodyStructure, Date, Envelope, ExtValue, IString, NString, Quoted, Section,
    SectionText, SinglePartKind,
};
use mime::{ContentType, Kind, Part};

/// The analysis of one message's bytes (CRLF line endings expected, bare LF tolerated).
#[derive(Clone, Debug)]
pub struct ParsedMessage<'a> {
    raw: &'a [u8],
    root: Part,
}

impl<'a> ParsedMessage<'a> {
    /// Analyses a message. Never fails: malformed MIME degrades to simpler structure (a
    /// multipart without boundary is shown as text, a missing close delimiter ends the last
    /// part at the end of the body).
    pub fn parse(bytes: &'a [u8]) -> ParsedMessage<'a> {
        let mut count = 0;
        let root = mime::parse_entity(bytes, 0..bytes.len(), &default_text(), 0, &mut count);
        ParsedMessage { raw: bytes, root }
    }

    /// The message's bytes.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The message's header block, blank line included.
    pub fn header(&self) -> &'a [u8] {
        &self.raw[self.root.header.clone()]
    }

    /// The ENVELOPE (RFC 9051 §7.5.2): header values unfolded and trimmed but otherwise raw;
    /// NIL for absent fields; Sender and Reply-To default to From when absent or empty.
    pub fn envelope(&self) -> Envelope<'static> {
        envelope_of(&self.raw[self.root.header.clone()])
    }

    /// `BODY` (`extensible == false`) or `BODYSTRUCTURE` (`true`), RFC 9051 §7.5.2. Types,
    /// subtypes, parameters and encodings are as given in the message (parameter values
    /// unquoted; RFC 2231 continuations left as sent); a part without Content-Type is
    /// `"TEXT" "PLAIN" ("CHARSET" "US-ASCII")` (`MESSAGE/RFC822` in a multipart/digest), a
    /// text part without charset gets `("CHARSET" "US-ASCII")` (RFC 2045 §5.2) and a part
    /// without Content-Transfer-Encoding `"7BIT"`. MD5 is always NIL; the language is always a
    /// list, as Dovecot writes it.
    pub fn body_structure(&self, extensible: bool) -> BodyStructure<'static> {
        structure(self.raw, &self.root, extensible)
    }

    /// The bytes of `BODY[section]` before any `<partial>` is applied; empty when the part
    /// does not exist (RFC 9051 §6.4.5). `HEADER`, `HEADER.FIELDS`, `HEADER.FIELDS.NOT` and
    /// `TEXT` after a part number apply to the message encapsulated in that
    /// `MESSAGE/RFC822` part; `MIME` gives the part's own header.
    pub fn section(&self, section: &Section<'_>) -> Cow<'a, [u8]> {
        let raw = self.raw;
        let parts: Vec<u32> = section.part.iter().map(|n| n.get()).collect();
        let Some(part) = resolve(&self.root, &parts) else {
            return Cow::Borrowed(&[]);
        };
        // The entity whose header/body HEADER and TEXT refer to.
        let message = if parts.is_empty() {
            Some(&self.root)
        } else {
            match &part.kind {
                Kind::Message(inner) => Some(&**inner),
                _ => None,
            }
        };
        match &section.text {
            None if parts.is_empty() => Cow::Borrowed(raw),
            None => Cow::Borrowed(&raw[part.body.clone()]),
            Some(SectionText::Mime) => {
                if parts.is_empty() {
                    Cow::Borrowed(&[])
                } else {
                    Cow::Borrowed(&raw[part.header.clone()])
                }
            }
            Some(SectionText::Header) => match message {
                Some(m) => Cow::Borrowed(&raw[m.header.clone()]),
                None => Cow::Borrowed(&[]),
            },
            Some(SectionText::Text) => match message {
                Some(m) => Cow::Borrowed(&raw[m.body.clone()]),
                None => Cow::Borrowed(&[]),
            },
            Some(SectionText::HeaderFields(names)) | Some(SectionText::HeaderFieldsNot(names)) => {
                let Some(m) = message else {
                    return Cow::Borrowed(&[]);
                };
                let not = matches!(section.text, Some(SectionText::HeaderFieldsNot(_)));
                let header = &raw[m.header.clone()];
                let mut out = Vec::new();
                for f in mime::fields(header) {
                    let listed = names
                        .iter()
                        .any(|n| n.as_bytes().eq_ignore_ascii_case(f.name));
                    if listed != not {
                        out.extend_from_slice(f.raw);
                        if !f.raw.ends_with(b"\n") {
                            out.extend_from_slice(b"\r\n");
                        }
                    }
                }
                // The blank line ending the header is part of the result (RFC 9051 §6.4.5).
                out.extend_from_slice(b"\r\n");
                Cow::Owned(out)
            }
        }
    }

    /// The decoded content of `BINARY[part]` (RFC 3516 §4.2): the part's body with its
    /// Content-Transfer-Encoding (base64, quoted-printable) removed. An empty `part` gives the
    /// whole message; a multipart's body is given as is.
    pub fn binary(&self, part: &[u32]) -> Result<Cow<'a, [u8]>, BinaryError> {
        if part.is_empty() {
            return Ok(Cow::Borrowed(self.raw));
        }
        let p = resolve(&self.root, part).ok_or(BinaryError::NoSuchPart)?;
        let body = &self.raw[p.body.clone()];
        if matches!(p.kind, Kind::Multi(_)) {
            return Ok(Cow::Borrowed(body));
        }
        decode_body(&self.raw[p.header.clone()], body)
    }

    /// The date of the `Date:` header as written (its own time zone), for `SENTBEFORE`,
    /// `SENTON`, `SENTSINCE` (RFC 9051 §6.4.4); `None` when absent or unparsable.
    pub fn sent_date(&self) -> Option<Date> {
        let value = mime::field(self.header(), "Date")?;
        parse_date(value)
    }

    pub(crate) fn root(&self) -> &Part {
        &self.root
    }
}

/// Where the body of a message starts: just after the first empty line (CRLF or bare LF),
/// the header block ending with it (RFC 5322 §2.1); `None` when `bytes` hold no empty line, in
/// which case the whole message is header and the body is empty (RFC 9051 §6.4.5), as
/// [`ParsedMessage::header`] has it.
///
/// ```
/// use mailsec_imap::message::body_offset;
/// assert_eq!(body_offset(b"Subject: a\r\n\r\nbody"), Some(14));
/// assert_eq!(body_offset(b"\r\nbody"), Some(2));
/// assert_eq!(body_offset(b"Subject: a\r\nno body"), None);
/// ```
pub fn body_offset(bytes: &[u8]) -> Option<usize> {
    mime::scan_header_end(bytes, &mut 0)
}

/// Resumable form of [`body_offset`] for a message read a piece at a time: `line_start`
/// starts at 0 and is kept between calls with the bytes read so far (which only grow).
pub(crate) fn body_offset_from(bytes: &[u8], line_start: &mut usize) -> Option<usize> {
    mime::scan_header_end(bytes, line_start)
}

/// Why `BINARY[part]` cannot be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BinaryError {
    /// The part's Content-Transfer-Encoding is unknown (`[UNKNOWN-CTE]`, RFC 3516 §4.3).
    #[error("unknown content-transfer-encoding")]
    UnknownEncoding,
    /// No such part.
    #[error("no such part")]
    NoSuchPart,
}

fn default_text() -> ContentType {
    ContentType {
        mtype: b"TEXT".to_vec(),
        subtype: b"PLAIN".to_vec(),
        params: vec![(b"CHARSET".to_vec(), b"US-ASCII".to_vec())],
    }
}

/// Decodes a leaf's body by its header's Content-Transfer-Encoding.
pub(crate) fn decode_body<'a>(header: &[u8], body: &'a [u8]) -> Result<Cow<'a, [u8]>, BinaryError> {
    let cte = mime::field(header, "Content-Transfer-Encoding")
        .map(mime::unfold)
        .unwrap_or_default();
    let cte = mime::trim(&cte);
    if cte.is_empty()
        || cte.eq_ignore_ascii_case(b"7bit")
        || cte.eq_ignore_ascii_case(b"8bit")
        || cte.eq_ignore_ascii_case(b"binary")
    {
        Ok(Cow::Borrowed(body))
    } else if cte.eq_ignore_ascii_case(b"base64") {
        Ok(Cow::Owned(decode::base64(body)))
    } else if cte.eq_ignore_ascii_case(b"quoted-printable") {
        Ok(Cow::Owned(decode::quoted_printable(body)))
    } else {
        Err(BinaryError::UnknownEncoding)
    }
}

/// The part a section's part numbers name (RFC 9051 §6.4.5): in a multipart the n-th child;
/// in a non-multipart entity only `1`, the entity itself; after a `MESSAGE/RFC822` part the
/// numbers continue into the encapsulated message.
fn resolve<'p>(root: &'p Part, path: &[u32]) -> Option<&'p Part> {
    let mut container = Some(root);
    let mut picked = root;
    for &n in path {
        let entity = container?;
        picked = match &entity.kind {
            Kind::Multi(children) => children.get((n as usize).checked_sub(1)?)?,
            _ if n == 1 => entity,
            _ => return None,
        };
        container = match &picked.kind {
            Kind::Message(inner) => Some(&**inner),
            Kind::Multi(_) => Some(picked),
            Kind::Single => None,
        };
    }
    Some(picked)
}

/// A value as an IMAP string: NUL octets dropped (no IMAP string can carry them); quoted when
/// printable 7-bit, a literal otherwise.
pub(crate) fn istring(bytes: &[u8]) -> IString<'static> {
    let clean: Vec<u8> = bytes.iter().copied().filter(|&b| b != 0).collect();
    // Without NUL every octet string is a valid IMAP string; the fallback is never taken.
    IString::new(clean).unwrap_or(IString::Quoted(Quoted::unchecked(Cow::Borrowed(b""))))
}

fn nstring(bytes: Option<&[u8]>) -> NString<'static> {
    NString(bytes.map(istring))
}

fn header_nstring(header: &[u8], name: &str) -> NString<'static> {
    nstring(mime::field(header, name).map(mime::unfold).as_deref())
}

fn addresses(header: &[u8], name: &str) -> Option<Vec<Address<'static>>> {
    let value = mime::field(header, name)?;
    let list = address::parse_list(value);
    if list.is_empty() {
        return None;
    }
    Some(
        list.into_iter()
            .map(|a| Address {
                name: nstring(a.name.as_deref()),
                adl: nstring(a.adl.as_deref()),
                mailbox: nstring(a.mailbox.as_deref()),
                host: nstring(a.host.as_deref()),
            })
            .collect(),
    )
}

/// The ENVELOPE of a header block (RFC 9051 §7.5.2).
pub(crate) fn envelope_of(header: &[u8]) -> Envelope<'static> {
    let from = addresses(header, "From");
    let sender = addresses(header, "Sender").or_else(|| from.clone());
    let reply_to = addresses(header, "Reply-To").or_else(|| from.clone());
    Envelope {
        date: header_nstring(header, "Date"),
        subject: header_nstring(header, "Subject"),
        from,
        sender,
        reply_to,
        to: addresses(header, "To"),
        cc: addresses(header, "Cc"),
        bcc: addresses(header, "Bcc"),
        in_reply_to: header_nstring(header, "In-Reply-To"),
        message_id: header_nstring(header, "Message-ID"),
    }
}

fn params_ext(params: &[(Vec<u8>, Vec<u8>)]) -> ExtValue<'static> {
    if params.is_empty() {
        return ExtValue::Nil;
    }
    ExtValue::List(
        params
            .iter()
            .flat_map(|(k, v)| [ExtValue::String(istring(k)), ExtValue::String(istring(v))])
            .collect(),
    )
}

/// `body-fld-dsp`, `body-fld-lang`, `body-fld-loc` (RFC 9051 §7.5.2).
fn common_ext(header: &[u8]) -> [ExtValue<'static>; 3] {
    let disposition = mime::field(header, "Content-Disposition")
        .and_then(mime::parse_disposition)
        .map_or(ExtValue::Nil, |(kind, params)| {
            ExtValue::List(vec![ExtValue::String(istring(&kind)), params_ext(&params)])
        });
    let language = mime::field(header, "Content-Language").map_or(ExtValue::Nil, |v| {
        let v = mime::unfold(v);
        let langs: Vec<ExtValue<'static>> = v
            .split(|&b| b == b',')
            .map(mime::trim)
            .filter(|l| !l.is_empty())
            .map(|l| ExtValue::String(istring(l)))
            .collect();
        // Always a list, as Dovecot writes it (a single string is also allowed).
        if langs.is_empty() {
            ExtValue::Nil
        } else {
            ExtValue::List(langs)
        }
    });
    let location = mime::field(header, "Content-Location")
        .map(mime::unfold)
        .map_or(ExtValue::Nil, |v| ExtValue::String(istring(&v)));
    [disposition, language, location]
}

/// Text lines of a body: line ends, plus a last line without one (the line end before a
/// boundary belongs to the boundary, RFC 2046 §5.1.1, so a part's last line usually has none).
fn count_lines(body: &[u8]) -> u32 {
    let ends = memchr::memchr_iter(b'\n', body).count();
    let partial = usize::from(!body.is_empty() && !body.ends_with(b"\n"));
    u32::try_from(ends + partial).unwrap_or(u32::MAX)
}

fn structure(raw: &[u8], part: &Part, extensible: bool) -> BodyStructure<'static> {
    let header = &raw[part.header.clone()];
    match &part.kind {
        Kind::Multi(children) => BodyStructure::Multi {
            parts: children
                .iter()
                .map(|c| structure(raw, c, extensible))
                .collect(),
            subtype: istring(&part.ctype.subtype),
            extension: if extensible {
                let [d, l, loc] = common_ext(header);
                vec![params_ext(&part.ctype.params), d, l, loc]
            } else {
                Vec::new()
            },
        },
        kind => {
            let body = &raw[part.body.clone()];
            let specific = match kind {
                Kind::Message(inner) => SinglePartKind::Message {
                    envelope: Box::new(envelope_of(&raw[inner.header.clone()])),
                    body: Box::new(structure(raw, inner, extensible)),
                    lines: count_lines(body),
                },
                _ if part.ctype.is("text") => SinglePartKind::Text {
                    lines: count_lines(body),
                },
                _ => SinglePartKind::Basic,
            };
            let params = if part.ctype.params.is_empty() {
                None
            } else {
                Some(
                    part.ctype
                        .params
                        .iter()
                        .map(|(k, v)| (istring(k), NString(Some(istring(v)))))
                        .collect(),
                )
            };
            let encoding = mime::field(header, "Content-Transfer-Encoding")
                .map(mime::unfold)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| b"7BIT".to_vec());
            BodyStructure::Single {
                media_type: istring(&part.ctype.mtype),
                subtype: istring(&part.ctype.subtype),
                params,
                id: header_nstring(header, "Content-ID"),
                description: header_nstring(header, "Content-Description"),
                encoding: istring(&encoding),
                octets: u32::try_from(body.len()).unwrap_or(u32::MAX),
                specific,
                extension: if extensible {
                    let [d, l, loc] = common_ext(header);
                    vec![ExtValue::Nil, d, l, loc]
                } else {
                    Vec::new()
                },
            }
        }
    }
}

/// Parses an RFC 5322 date (`[day-name ","] day month year time zone`) with mail-parser and
/// keeps the calendar date as written.
pub(crate) fn parse_date(value: &[u8]) -> Option<Date> {
    let mut buf = Vec::with_capacity(value.len() + 10);
    buf.extend_from_slice(b"Date:");
    buf.extend_from_slice(value);
    if !buf.ends_with(b"\n") {
        buf.extend_from_slice(b"\r\n");
    }
    buf.extend_from_slice(b"\r\n");
    let parsed = mail_parser::MessageParser::new()
        .with_date_headers()
        .parse_headers(&buf)?;
    let d = parsed.date()?;
    Date::new(d.year, d.month, d.day).ok()
}
