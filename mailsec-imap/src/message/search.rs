//! SEARCH keys against one message (RFC 9051 §6.4.4, RFC 3501 §6.4.4).
//!
//! Flags, sizes, internal dates, sequence numbers and uids come from the store's metadata;
//! header, body and sent-date keys need the parsed message ([`search_needs_content`]).
//! String keys match a case-insensitive substring of the raw value or of its decoded form
//! (encoded words, transfer encodings and charsets decoded with `mail-parser`).

use mail_parser::{HeaderName, MessageParser};

use super::ParsedMessage;
use super::mime::{self, Kind, Part};
use crate::store::MessageMeta;
use crate::types::{Flag, SearchKey};

/// What a search key is matched against: one message of the selected folder.
#[derive(Clone, Copy, Debug)]
pub struct SearchContext<'m> {
    /// The message's sequence number.
    pub seq: u32,
    /// The largest sequence number in the folder (`*` in a sequence set).
    pub max_seq: u32,
    /// The largest uid in the folder (`*` in `UID`).
    pub max_uid: u32,
    /// The message's metadata.
    pub meta: &'m MessageMeta,
    /// The parsed message, needed when [`search_needs_content`] says so; header, body and
    /// sent-date keys never match without it.
    pub message: Option<&'m ParsedMessage<'m>>,
    /// Whether the message is `\Recent` in this session (IMAP4rev1 `RECENT`, `NEW`, `OLD`).
    pub recent: bool,
}

/// Whether matching `key` needs the message's content (header, body and sent-date keys,
/// anywhere inside `NOT`, `OR` and lists).
pub fn search_needs_content(key: &SearchKey<'_>) -> bool {
    use SearchKey as K;
    match key {
        K::Bcc(_)
        | K::Body(_)
        | K::Cc(_)
        | K::From(_)
        | K::Header(..)
        | K::SentBefore(_)
        | K::SentOn(_)
        | K::SentSince(_)
        | K::Subject(_)
        | K::Text(_)
        | K::To(_) => true,
        K::Not(k) => search_needs_content(k),
        K::Or(a, b) => search_needs_content(a) || search_needs_content(b),
        K::And(v) => v.iter().any(search_needs_content),
        _ => false,
    }
}

/// Whether matching `key` needs the message's body (`BODY`, `TEXT`, anywhere inside `NOT`,
/// `OR` and lists); the other content keys ([`search_needs_content`]) look at the header
/// block only, so a [`ParsedMessage`] of the header alone answers them.
pub fn search_needs_body(key: &SearchKey<'_>) -> bool {
    use SearchKey as K;
    match key {
        K::Body(_) | K::Text(_) => true,
        K::Not(k) => search_needs_body(k),
        K::Or(a, b) => search_needs_body(a) || search_needs_body(b),
        K::And(v) => v.iter().any(search_needs_body),
        _ => false,
    }
}

fn has(meta: &MessageMeta, flag: &Flag<'_>) -> bool {
    meta.flags.iter().any(|f| f == flag)
}

fn has_keyword(meta: &MessageMeta, kw: &str) -> bool {
    meta.flags
        .iter()
        .any(|f| matches!(f, Flag::Keyword(a) if a.as_str().eq_ignore_ascii_case(kw)))
}

/// Whether the message matches `key` (RFC 9051 §6.4.4).
///
/// * `BEFORE`/`ON`/`SINCE` compare the internal date's calendar date; `SENTBEFORE`/`SENTON`/
///   `SENTSINCE` the `Date:` header's, both without time and time zone.
/// * `UID` and bare sequence sets take `*` as the largest uid / sequence number; the saved
///   result `$` matches nothing here (the machine substitutes the saved set before).
/// * `MODSEQ` matches only `MODSEQ 0`: the store keeps no mod-sequences.
pub fn search_matches(key: &SearchKey<'_>, ctx: &SearchContext<'_>) -> bool {
    use SearchKey as K;
    let meta = ctx.meta;
    let idate = meta.internal_date.date();
    let sent = || ctx.message.and_then(ParsedMessage::sent_date);
    let header = |name: &str, needle: &[u8]| {
        ctx.message
            .is_some_and(|m| header_contains(m.header(), Some(name), needle))
    };
    match key {
        K::All => true,
        K::Answered => has(meta, &Flag::Answered),
        K::Deleted => has(meta, &Flag::Deleted),
        K::Draft => has(meta, &Flag::Draft),
        K::Flagged => has(meta, &Flag::Flagged),
        K::Seen => has(meta, &Flag::Seen),
        K::Unanswered => !has(meta, &Flag::Answered),
        K::Undeleted => !has(meta, &Flag::Deleted),
        K::Undraft => !has(meta, &Flag::Draft),
        K::Unflagged => !has(meta, &Flag::Flagged),
        K::Unseen => !has(meta, &Flag::Seen),
        K::Keyword(k) => has_keyword(meta, k.as_str()),
        K::Unkeyword(k) => !has_keyword(meta, k.as_str()),
        K::New => ctx.recent && !has(meta, &Flag::Seen),
        K::Old => !ctx.recent,
        K::Recent => ctx.recent,
        K::Before(d) => idate < *d,
        K::On(d) => idate == *d,
        K::Since(d) => idate >= *d,
        K::SentBefore(d) => sent().is_some_and(|s| s < *d),
        K::SentOn(d) => sent().is_some_and(|s| s == *d),
        K::SentSince(d) => sent().is_some_and(|s| s >= *d),
        K::Larger(n) => meta.size > *n,
        K::Smaller(n) => meta.size < *n,
        K::Bcc(s) => header("Bcc", s.as_bytes()),
        K::Cc(s) => header("Cc", s.as_bytes()),
        K::From(s) => header("From", s.as_bytes()),
        K::To(s) => header("To", s.as_bytes()),
        K::Subject(s) => header("Subject", s.as_bytes()),
        K::Header(name, s) => match std::str::from_utf8(name.as_bytes()) {
            Ok(name) => header(name, s.as_bytes()),
            Err(_) => false,
        },
        K::Body(s) => ctx.message.is_some_and(|m| body_contains(m, s.as_bytes())),
        K::Text(s) => ctx.message.is_some_and(|m| {
            header_contains(m.header(), None, s.as_bytes()) || body_contains(m, s.as_bytes())
        }),
        K::Uid(set) => set.contains(meta.uid, ctx.max_uid),
        K::SequenceSet(set) => set.contains(ctx.seq, ctx.max_seq),
        K::Not(k) => !search_matches(k, ctx),
        K::Or(a, b) => search_matches(a, ctx) || search_matches(b, ctx),
        K::And(v) => v.iter().all(|k| search_matches(k, ctx)),
        K::ModSeq { modseq, .. } => *modseq == 0,
    }
}

/// Case-insensitive substring test (Unicode lower case); an empty needle matches. Linear in
/// the haystack (lower-cased copy, then a `memmem` search).
fn contains_ci(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.is_ascii() {
        let hay = haystack.as_bytes().to_ascii_lowercase();
        let needle = needle.as_bytes().to_ascii_lowercase();
        return memchr::memmem::find(&hay, &needle).is_some();
    }
    let hay = haystack.to_lowercase();
    memchr::memmem::find(hay.as_bytes(), needle.to_lowercase().as_bytes()).is_some()
}

/// Every header of the message parsed as unstructured text (encoded words decoded).
fn text_parser() -> MessageParser {
    let mut p = MessageParser::new().default_header_text();
    for name in [
        HeaderName::Subject,
        HeaderName::From,
        HeaderName::To,
        HeaderName::Cc,
        HeaderName::Bcc,
        HeaderName::Date,
        HeaderName::ReplyTo,
        HeaderName::Sender,
        HeaderName::Comments,
        HeaderName::InReplyTo,
        HeaderName::Keywords,
        HeaderName::Received,
        HeaderName::MessageId,
        HeaderName::References,
        HeaderName::ReturnPath,
        HeaderName::MimeVersion,
        HeaderName::ContentDescription,
        HeaderName::ContentId,
        HeaderName::ContentLanguage,
        HeaderName::ContentLocation,
        HeaderName::ContentTransferEncoding,
        HeaderName::ContentType,
        HeaderName::ContentDisposition,
        HeaderName::ResentTo,
        HeaderName::ResentFrom,
        HeaderName::ResentBcc,
        HeaderName::ResentCc,
        HeaderName::ResentSender,
        HeaderName::ResentDate,
        HeaderName::ResentMessageId,
        HeaderName::ListArchive,
        HeaderName::ListHelp,
        HeaderName::ListId,
        HeaderName::ListOwner,
        HeaderName::ListPost,
        HeaderName::ListSubscribe,
        HeaderName::ListUnsubscribe,
    ] {
        p = p.header_text(name);
    }
    p
}

/// Whether a header field (`name`, or any field when `None`) contains `needle`, raw (unfolded)
/// or decoded. `HEADER name ""` matches every message having the field (RFC 9051 §6.4.4).
fn header_contains(header: &[u8], name: Option<&str>, needle: &[u8]) -> bool {
    let needle = String::from_utf8_lossy(needle);
    let wanted = |n: &[u8]| name.is_none_or(|name| n.eq_ignore_ascii_case(name.as_bytes()));
    let mut any = false;
    for f in mime::fields(header) {
        if wanted(f.name) {
            any = true;
            if contains_ci(&String::from_utf8_lossy(&mime::unfold(f.value)), &needle) {
                return true;
            }
        }
    }
    if !any {
        return false;
    }
    let Some(parsed) = text_parser().parse_headers(header) else {
        return false;
    };
    parsed.headers().iter().any(|h| {
        wanted(h.name().as_bytes()) && h.value().as_text().is_some_and(|t| contains_ci(t, &needle))
    })
}

/// Whether the body contains `needle`: every text part decoded (transfer encoding and
/// charset), the headers of encapsulated messages, and the raw body.
fn body_contains(m: &ParsedMessage<'_>, needle: &[u8]) -> bool {
    let raw = m.raw();
    let needle_s = String::from_utf8_lossy(needle);
    let root = m.root();
    if contains_ci(&String::from_utf8_lossy(&raw[root.body.clone()]), &needle_s) {
        return true;
    }
    let mut stack: Vec<&Part> = vec![root];
    while let Some(p) = stack.pop() {
        match &p.kind {
            Kind::Multi(children) => stack.extend(children.iter()),
            Kind::Message(inner) => {
                if header_contains(&raw[inner.header.clone()], None, needle) {
                    return true;
                }
                stack.push(inner);
            }
            Kind::Single => {
                if !p.ctype.is("text") {
                    continue;
                }
                let Ok(decoded) = super::decode_body(&raw[p.header.clone()], &raw[p.body.clone()])
                else {
                    continue;
                };
                let text = p
                    .ctype
                    .param("charset")
                    .and_then(mail_parser::decoders::charsets::map::charset_decoder)
                    .map_or_else(
                        || String::from_utf8_lossy(&decoded).into_owned(),
                        |dec| dec(&decoded),
                    );
                if contains_ci(&text, &needle_s) {
                    return true;
                }
            }
        }
    }
    false
}
