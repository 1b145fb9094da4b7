//! Analysis of one RFC 5322 / MIME message for the IMAP server: ENVELOPE, BODYSTRUCTURE,
//! `BODY[section]`, `BINARY[part]` and SEARCH (RFC 9051 §6.4.4, §6.4.5, §7.5.2).
//!
//! Work in progress: the bodies are still simple.

use std::borrow::Cow;

use crate::store::MessageMeta;
use crate::types::{BodyStructure, Date, Envelope, NString, SearchKey, Section};

/// The analysis of one message's bytes (CRLF line endings expected, bare LF tolerated).
#[derive(Clone, Debug)]
pub struct ParsedMessage<'a> {
    raw: &'a [u8],
}

impl<'a> ParsedMessage<'a> {
    /// Analyses a message. Never fails: malformed MIME degrades to simpler structure.
    pub fn parse(bytes: &'a [u8]) -> ParsedMessage<'a> {
        ParsedMessage { raw: bytes }
    }

    /// The message's bytes.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The ENVELOPE (RFC 9051 §7.5.2).
    pub fn envelope(&self) -> Envelope<'static> {
        Envelope {
            date: NString(None),
            subject: NString(None),
            from: None,
            sender: None,
            reply_to: None,
            to: None,
            cc: None,
            bcc: None,
            in_reply_to: NString(None),
            message_id: NString(None),
        }
    }

    /// `BODY` (`extensible == false`) or `BODYSTRUCTURE` (`true`), RFC 9051 §7.5.2.
    pub fn body_structure(&self, extensible: bool) -> BodyStructure<'static> {
        let _ = extensible;
        BodyStructure::Single {
            media_type: crate::types::IString::new(&b"TEXT"[..]).expect("ascii"),
            subtype: crate::types::IString::new(&b"PLAIN"[..]).expect("ascii"),
            params: None,
            id: NString(None),
            description: NString(None),
            encoding: crate::types::IString::new(&b"7BIT"[..]).expect("ascii"),
            octets: 0,
            specific: crate::types::SinglePartKind::Text { lines: 0 },
            extension: Vec::new(),
        }
    }

    /// The bytes of `BODY[section]` before any `<partial>` is applied (empty if the part does
    /// not exist).
    pub fn section(&self, section: &Section<'_>) -> Cow<'a, [u8]> {
        if section.part.is_empty() && section.text.is_none() {
            Cow::Borrowed(self.raw)
        } else {
            Cow::Borrowed(&[])
        }
    }

    /// The decoded content of `BINARY[part]` (RFC 3516).
    pub fn binary(&self, part: &[u32]) -> Result<Cow<'a, [u8]>, BinaryError> {
        let _ = part;
        Err(BinaryError::NoSuchPart)
    }

    /// The date of the `Date:` header, for `SENTBEFORE`, `SENTON`, `SENTSINCE`.
    pub fn sent_date(&self) -> Option<Date> {
        None
    }
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

/// What a search key is matched against: one message of the selected folder.
#[derive(Clone, Copy, Debug)]
pub struct SearchContext<'m> {
    /// The message's sequence number.
    pub seq: u32,
    /// The largest sequence number in the folder (`*`).
    pub max_seq: u32,
    /// The largest uid in the folder (`*` in `UID`).
    pub max_uid: u32,
    /// The message's metadata.
    pub meta: &'m MessageMeta,
    /// The parsed message, when [`search_needs_content`] said so.
    pub message: Option<&'m ParsedMessage<'m>>,
    /// Whether the message is `\Recent` in this session.
    pub recent: bool,
}

/// Whether matching `key` needs the message's content (headers, body, sent date).
pub fn search_needs_content(key: &SearchKey<'_>) -> bool {
    let _ = key;
    false
}

/// Whether the message matches `key` (RFC 9051 §6.4.4).
pub fn search_matches(key: &SearchKey<'_>, ctx: &SearchContext<'_>) -> bool {
    let _ = (key, ctx);
    true
}
