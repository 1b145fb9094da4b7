//! FETCH (RFC 9051 §6.4.5, BINARY RFC 3516): responses built one message at a time and
//! message literals streamed from the store a chunk per [`Machine::poll_output`] call.
//!
//! [`Machine::poll_output`]: mailsec_tls::Machine::poll_output

use std::collections::VecDeque;
use std::io::Read;
use std::num::NonZeroU32;

use bytes::{BufMut, Bytes, BytesMut};

use super::selected::read_bounded;
use super::updates::seq;
use super::{Server, ServerError};
use crate::message::{BinaryError, ParsedMessage, body_offset, body_offset_from};
use crate::serialize;
use crate::store::{MessageReader, StoreError};
use crate::types::{
    FetchAttribute, Flag, MsgAtt, NString, Partial, Section, SectionText, SequenceSet, SimpleCode,
    Tag,
};

/// One piece of a FETCH response.
enum Segment {
    /// Bytes ready to send.
    Data(Bytes),
    /// A literal's content, read from the store as output is pulled.
    Stream {
        uid: u32,
        reader: MessageReader,
        skip: u64,
        remaining: u64,
    },
}

/// A FETCH being answered.
pub(super) struct FetchJob {
    tag: Tag<'static>,
    uid: bool,
    attrs: Vec<FetchAttribute<'static>>,
    /// The uids to fetch, in ascending order.
    targets: Vec<u32>,
    next: usize,
    segments: VecDeque<Segment>,
    /// Some messages were expunged by another session and could not be read.
    missing: bool,
    /// A BINARY part had a transfer encoding that cannot be decoded.
    unknown_cte: bool,
}

impl FetchJob {
    /// Whether a message's response is partly sent (a BYE now would corrupt it).
    pub(super) fn mid_message(&self) -> bool {
        !self.segments.is_empty()
    }
}

/// How much of a message an item needs read before its response can be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    /// Nothing (the store's metadata, or a literal streamed from the store as output is taken).
    Nothing,
    /// The header block only, read up to its empty line ([`read_header`]): ENVELOPE,
    /// `RFC822.HEADER`, `BODY[HEADER]`, `BODY[HEADER.FIELDS (...)]`, and the header's length
    /// for `BODY[TEXT]`/`RFC822.TEXT`, which are then streamed from the header's end.
    Header,
    /// The whole message (up to `max_parse_size`), analysed: BODY, BODYSTRUCTURE, sections
    /// and BINARY of a part.
    Full,
}

fn need(a: &FetchAttribute<'_>) -> Need {
    match a {
        FetchAttribute::Envelope | FetchAttribute::Rfc822Header | FetchAttribute::Rfc822Text => {
            Need::Header
        }
        FetchAttribute::Body | FetchAttribute::BodyStructure => Need::Full,
        FetchAttribute::BodySection { section, .. } => {
            if !section.part.is_empty() {
                Need::Full
            } else if section.text.is_none() {
                Need::Nothing
            } else {
                Need::Header
            }
        }
        FetchAttribute::Binary { part, .. } | FetchAttribute::BinarySize { part } => {
            if part.is_empty() {
                Need::Nothing
            } else {
                Need::Full
            }
        }
        _ => Need::Nothing,
    }
}

/// `BODY[TEXT]` or `RFC822.TEXT` of the message itself: streamed from the header's end.
fn is_text(a: &FetchAttribute<'_>) -> bool {
    match a {
        FetchAttribute::Rfc822Text => true,
        FetchAttribute::BodySection { section, .. } => {
            section.part.is_empty() && matches!(section.text, Some(SectionText::Text))
        }
        _ => false,
    }
}

/// The first read when looking for the end of a header block; each further read doubles, up
/// to [`HEADER_READ_MAX`], so a header fetch reads at most about twice the header block (and
/// at least this much, or the whole message when it is shorter).
pub(super) const HEADER_READ_FIRST: usize = 2 * 1024;
/// The largest single read when looking for the end of a header block.
const HEADER_READ_MAX: usize = 64 * 1024;

/// The start of a message as read by [`read_header`].
pub(super) struct Head {
    /// The octets read: the header block, then possibly the start of the body.
    pub(super) bytes: Vec<u8>,
    /// Where the body starts, when an empty line ended the header within the octets read.
    pub(super) body: Option<usize>,
}

/// Reads a message from its first octet only as far as the empty line that ends its header
/// block (RFC 5322 §2.1), at most `limit` octets: the reads grow from [`HEADER_READ_FIRST`],
/// so little past the header is read. Without an empty line (in the message, or within
/// `limit`), every octet read is header and the body is empty, as when the whole message is
/// analysed (RFC 9051 §6.4.5).
pub(super) fn read_header(reader: &mut dyn Read, limit: u64) -> std::io::Result<Head> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut bytes = Vec::new();
    let mut line_start = 0;
    let mut chunk = HEADER_READ_FIRST;
    loop {
        if let Some(end) = body_offset_from(&bytes, &mut line_start) {
            return Ok(Head {
                bytes,
                body: Some(end),
            });
        }
        if bytes.len() >= limit {
            break;
        }
        let old = bytes.len();
        bytes.resize(old + chunk.min(limit - old), 0);
        let n = loop {
            match reader.read(&mut bytes[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        bytes.truncate(old + n);
        if n == 0 {
            break;
        }
        chunk = (chunk * 2).min(HEADER_READ_MAX);
    }
    Ok(Head { bytes, body: None })
}

fn sets_seen(a: &FetchAttribute<'_>) -> bool {
    matches!(
        a,
        FetchAttribute::BodySection { peek: false, .. }
            | FetchAttribute::Binary { peek: false, .. }
            | FetchAttribute::Rfc822
            | FetchAttribute::Rfc822Text
    )
}

fn is_whole(section: &Section<'_>) -> bool {
    section.part.is_empty() && section.text.is_none()
}

fn streams(a: &FetchAttribute<'_>) -> bool {
    match a {
        FetchAttribute::BodySection { section, .. } => is_whole(section) || is_text(a),
        FetchAttribute::Rfc822Text => true,
        FetchAttribute::Binary { part, .. } => part.is_empty(),
        FetchAttribute::Rfc822 => true,
        _ => false,
    }
}

/// `(skip, length)` of a partial fetch of `size` octets (RFC 9051 §6.4.5: an origin past
/// the end gives an empty string).
fn window(size: u64, partial: Option<Partial>) -> (u64, u64) {
    match partial {
        None => (0, size),
        Some(p) if p.offset >= size => (size, 0),
        Some(p) => (p.offset, p.length.get().min(size - p.offset)),
    }
}

fn cut(data: &[u8], partial: Option<Partial>) -> &[u8] {
    let (skip, len) = window(data.len() as u64, partial);
    let start = usize::try_from(skip).unwrap_or(data.len()).min(data.len());
    let end = start + usize::try_from(len).unwrap_or(0).min(data.len() - start);
    &data[start..end]
}

/// The head of a `BODY[section]<origin> ` item.
fn section_head(buf: &mut BytesMut, section: &Section<'_>, partial: Option<Partial>) {
    let mut tmp = BytesMut::new();
    serialize::msg_att(
        &MsgAtt::BodySection {
            section: section.clone(),
            origin: None,
            data: NString(None),
        },
        &mut tmp,
    );
    // "BODY[...] NIL" without its value.
    let head = tmp.strip_suffix(b" NIL").unwrap_or(&tmp);
    buf.put_slice(head);
    origin(buf, partial);
    buf.put_u8(b' ');
}

fn binary_head(buf: &mut BytesMut, name: &str, part: &[NonZeroU32], partial: Option<Partial>) {
    buf.put_slice(name.as_bytes());
    buf.put_u8(b'[');
    for (i, p) in part.iter().enumerate() {
        if i > 0 {
            buf.put_u8(b'.');
        }
        buf.put_slice(p.get().to_string().as_bytes());
    }
    buf.put_u8(b']');
    origin(buf, partial);
    buf.put_u8(b' ');
}

fn origin(buf: &mut BytesMut, partial: Option<Partial>) {
    if let Some(p) = partial {
        buf.put_slice(format!("<{}>", p.offset).as_bytes());
    }
}

fn literal_head(buf: &mut BytesMut, len: u64, binary: bool) {
    if binary {
        buf.put_u8(b'~');
    }
    buf.put_slice(format!("{{{len}}}\r\n").as_bytes());
}

fn literal(buf: &mut BytesMut, data: &[u8], binary: bool) {
    literal_head(buf, data.len() as u64, binary);
    buf.put_slice(data);
}

fn section_of(text: SectionText<'static>) -> Section<'static> {
    Section {
        part: Vec::new(),
        text: Some(text),
    }
}

impl Server {
    /// FETCH and UID FETCH: starts the job that `poll_output` advances.
    pub(super) fn fetch(
        &mut self,
        tag: Tag<'static>,
        uid: bool,
        set: &SequenceSet,
        attrs: Vec<FetchAttribute<'static>>,
    ) {
        if attrs.iter().any(|a| matches!(a, FetchAttribute::ModSeq)) {
            self.bad(Some(&tag), "CONDSTORE is not supported");
            return;
        }
        let Some(indices) = self.resolve_or_bad(&tag, set, uid) else {
            return;
        };
        let Some(sel) = &self.selected else {
            return;
        };
        let targets = indices
            .iter()
            .filter_map(|&i| sel.messages.get(i).map(|m| m.meta.uid))
            .collect();
        self.progress = true;
        self.job = Some(FetchJob {
            tag,
            uid,
            attrs,
            targets,
            next: 0,
            segments: VecDeque::new(),
            missing: false,
            unknown_cte: false,
        });
    }

    /// One step of the FETCH job: queues at most one output (or ends the job).
    pub(super) fn step_job(&mut self) {
        let Some(mut job) = self.job.take() else {
            return;
        };
        if let Some(seg) = job.segments.front_mut() {
            self.progress = true;
            match seg {
                Segment::Data(b) => {
                    let b = std::mem::take(b);
                    job.segments.pop_front();
                    self.transmit(b);
                }
                Segment::Stream {
                    uid,
                    reader,
                    skip,
                    remaining,
                } => {
                    let uid = *uid;
                    if *skip > 0 {
                        let want = *skip;
                        let skipped =
                            std::io::copy(&mut reader.by_ref().take(want), &mut std::io::sink());
                        if skipped.ok() != Some(want) {
                            self.fail(ServerError::MessageTruncated { uid });
                            return;
                        }
                        *skip = 0;
                    }
                    let want = (*remaining).min(self.config.fetch_chunk as u64) as usize;
                    let mut chunk = vec![0u8; want];
                    if reader.read_exact(&mut chunk).is_err() {
                        self.fail(ServerError::MessageTruncated { uid });
                        return;
                    }
                    *remaining -= want as u64;
                    if *remaining == 0 {
                        job.segments.pop_front();
                    }
                    self.transmit(Bytes::from(chunk));
                }
            }
            self.job = Some(job);
            return;
        }
        if self.shutting_down {
            self.bye("Server shutting down");
            self.close(false, None);
            return;
        }
        if let Some(&uid) = job.targets.get(job.next) {
            job.next += 1;
            self.build_message(&mut job, uid);
            self.job = Some(job);
            return;
        }
        // Done: updates that may be sent now, then the tagged reply.
        self.refresh(false);
        if job.unknown_cte {
            self.no(
                &job.tag,
                Some(SimpleCode::UnknownCte),
                "Unknown content transfer encoding",
            );
        } else if job.missing {
            self.no(
                &job.tag,
                Some(SimpleCode::ExpungeIssued),
                "Some messages were expunged",
            );
        } else {
            self.ok(
                &job.tag,
                if job.uid {
                    "UID FETCH completed"
                } else {
                    "FETCH completed"
                },
            );
        }
        self.process();
    }

    /// Builds the response for one message into the job's segments.
    fn build_message(&mut self, job: &mut FetchJob, uid: u32) {
        let limit = self.config.max_parse_size;
        let (Some(sel), Some(store)) = (self.selected.as_mut(), self.store.as_mut()) else {
            return;
        };
        let Some(index) = sel.index_of(uid) else {
            job.missing = true;
            return;
        };
        let read_only = sel.read_only;
        let folder = sel.name.clone();
        // Everything that can fail comes first, before a byte of the response exists.
        // Only as much of the message is read as the items need: nothing for metadata and
        // streamed literals, the header block for ENVELOPE, header sections and TEXT (streamed
        // from the header's end), the whole message (bounded) for what needs its MIME structure.
        let want = job.attrs.iter().map(need).max().unwrap_or(Need::Nothing);
        let read = match want {
            Need::Nothing => Ok(None),
            Need::Header => store.open_message(&folder, uid).and_then(|mut r| {
                let head = read_header(&mut r, limit)?;
                let mut bytes = head.bytes;
                if let Some(end) = head.body {
                    bytes.truncate(end);
                }
                Ok(Some((bytes, head.body)))
            }),
            Need::Full => store.open_message(&folder, uid).and_then(|mut r| {
                let bytes = read_bounded(&mut r, limit).map_err(StoreError::from)?;
                let body = body_offset(&bytes);
                Ok(Some((bytes, body)))
            }),
        };
        let (bytes, body_start) = match read {
            Ok(Some((bytes, body))) => (Some(bytes), body),
            Ok(None) => (None, None),
            Err(_) => {
                job.missing = true;
                return;
            }
        };
        let mut readers: VecDeque<MessageReader> = VecDeque::new();
        for _ in job.attrs.iter().filter(|a| streams(a)) {
            match store.open_message(&folder, uid) {
                Ok(r) => readers.push_back(r),
                Err(_) => {
                    job.missing = true;
                    return;
                }
            }
        }
        let mut flags_changed = false;
        if !read_only
            && job.attrs.iter().any(sets_seen)
            && !sel.messages[index].meta.flags.contains(&Flag::Seen)
        {
            let mut flags = sel.messages[index].meta.flags.clone();
            flags.push(Flag::Seen);
            if store.set_flags(&folder, uid, &flags).is_ok() {
                sel.messages[index].meta.flags = flags;
                flags_changed = true;
            }
        }
        let msg = sel.messages[index].clone();
        let parsed = bytes.as_deref().map(ParsedMessage::parse);
        let size = msg.meta.size;
        let mut segments: Vec<Segment> = Vec::new();
        let mut buf = BytesMut::new();
        buf.put_slice(format!("* {} FETCH (", seq(index + 1)).as_bytes());
        let mut first = true;
        let mut sep = |buf: &mut BytesMut| {
            if !std::mem::replace(&mut first, false) {
                buf.put_u8(b' ');
            }
        };
        let uid_nz = NonZeroU32::new(uid).unwrap_or(NonZeroU32::MIN);
        if job.uid && !job.attrs.contains(&FetchAttribute::Uid) {
            sep(&mut buf);
            serialize::msg_att(&MsgAtt::Uid(uid_nz), &mut buf);
        }
        let flags = self.flags_of(&msg);
        if flags_changed && !job.attrs.contains(&FetchAttribute::Flags) {
            sep(&mut buf);
            serialize::msg_att(&MsgAtt::Flags(flags.clone()), &mut buf);
        }
        // The text (`BODY[TEXT]`, `RFC822.TEXT`): from the header's end to the message's end;
        // empty without an empty line ending the header.
        let text = match body_start {
            Some(start) => (start as u64, size.saturating_sub(start as u64)),
            None => (size, 0),
        };
        let mut stream = |buf: &mut BytesMut,
                          segments: &mut Vec<Segment>,
                          partial,
                          binary,
                          (base, total): (u64, u64)| {
            let (skip, len) = window(total, partial);
            let skip = base + skip;
            literal_head(buf, len, binary);
            let reader = readers.pop_front();
            if len > 0 {
                if let Some(reader) = reader {
                    segments.push(Segment::Data(buf.split().freeze()));
                    segments.push(Segment::Stream {
                        uid,
                        reader,
                        skip,
                        remaining: len,
                    });
                }
            }
        };
        for a in &job.attrs {
            match a {
                FetchAttribute::Flags => {
                    sep(&mut buf);
                    serialize::msg_att(&MsgAtt::Flags(flags.clone()), &mut buf);
                }
                FetchAttribute::Uid => {
                    sep(&mut buf);
                    serialize::msg_att(&MsgAtt::Uid(uid_nz), &mut buf);
                }
                FetchAttribute::InternalDate => {
                    sep(&mut buf);
                    serialize::msg_att(&MsgAtt::InternalDate(msg.meta.internal_date), &mut buf);
                }
                FetchAttribute::Rfc822Size => {
                    sep(&mut buf);
                    serialize::msg_att(&MsgAtt::Rfc822Size(size), &mut buf);
                }
                FetchAttribute::Envelope => {
                    if let Some(p) = &parsed {
                        sep(&mut buf);
                        serialize::msg_att(&MsgAtt::Envelope(p.envelope().into()), &mut buf);
                    }
                }
                FetchAttribute::Body | FetchAttribute::BodyStructure => {
                    if let Some(p) = &parsed {
                        sep(&mut buf);
                        let ext = matches!(a, FetchAttribute::BodyStructure);
                        let b = p.body_structure(ext).into();
                        let att = if ext {
                            MsgAtt::BodyStructure(b)
                        } else {
                            MsgAtt::Body(b)
                        };
                        serialize::msg_att(&att, &mut buf);
                    }
                }
                FetchAttribute::BodySection {
                    section, partial, ..
                } => {
                    sep(&mut buf);
                    section_head(&mut buf, section, *partial);
                    if is_whole(section) {
                        stream(&mut buf, &mut segments, *partial, false, (0, size));
                    } else if is_text(a) {
                        stream(&mut buf, &mut segments, *partial, false, text);
                    } else if let Some(p) = &parsed {
                        let data = p.section(section);
                        literal(&mut buf, cut(&data, *partial), false);
                    }
                }
                FetchAttribute::Rfc822 => {
                    sep(&mut buf);
                    buf.put_slice(b"RFC822 ");
                    stream(&mut buf, &mut segments, None, false, (0, size));
                }
                FetchAttribute::Rfc822Header => {
                    if let Some(p) = &parsed {
                        sep(&mut buf);
                        buf.put_slice(b"RFC822.HEADER ");
                        let data = p.section(&section_of(SectionText::Header));
                        literal(&mut buf, &data, false);
                    }
                }
                FetchAttribute::Rfc822Text => {
                    sep(&mut buf);
                    buf.put_slice(b"RFC822.TEXT ");
                    stream(&mut buf, &mut segments, None, false, text);
                }
                FetchAttribute::Binary { part, partial, .. } => {
                    if part.is_empty() {
                        sep(&mut buf);
                        binary_head(&mut buf, "BINARY", part, *partial);
                        stream(&mut buf, &mut segments, *partial, true, (0, size));
                    } else if let Some(p) = &parsed {
                        let numbers: Vec<u32> = part.iter().map(|n| n.get()).collect();
                        match p.binary(&numbers) {
                            Ok(data) => {
                                sep(&mut buf);
                                binary_head(&mut buf, "BINARY", part, *partial);
                                literal(&mut buf, cut(&data, *partial), true);
                            }
                            Err(BinaryError::UnknownEncoding) => job.unknown_cte = true,
                            Err(_) => {
                                sep(&mut buf);
                                binary_head(&mut buf, "BINARY", part, *partial);
                                buf.put_slice(b"NIL");
                            }
                        }
                    }
                }
                FetchAttribute::BinarySize { part } => {
                    let n = if part.is_empty() {
                        Some(size)
                    } else {
                        let numbers: Vec<u32> = part.iter().map(|n| n.get()).collect();
                        match parsed.as_ref().map(|p| p.binary(&numbers)) {
                            Some(Ok(d)) => Some(d.len() as u64),
                            Some(Err(BinaryError::UnknownEncoding)) => {
                                job.unknown_cte = true;
                                None
                            }
                            _ => Some(0),
                        }
                    };
                    if let Some(n) = n {
                        sep(&mut buf);
                        serialize::msg_att(
                            &MsgAtt::BinarySize {
                                part: part.clone(),
                                size: u32::try_from(n).unwrap_or(u32::MAX),
                            },
                            &mut buf,
                        );
                    }
                }
                _ => {}
            }
        }
        buf.put_slice(b")\r\n");
        segments.push(Segment::Data(buf.freeze()));
        job.segments.extend(segments);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most `step` octets per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.step).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn read_header_finds_the_same_end_as_the_whole_message_analysis() {
        let mut straddling = vec![b'X'; HEADER_READ_FIRST - 3];
        straddling.extend_from_slice(b"\r\n\r\nbody");
        let mut long = Vec::new();
        for i in 0..400 {
            long.extend_from_slice(format!("X-{i}: value\r\n").as_bytes());
        }
        long.extend_from_slice(b"\n\nbody\r\n");
        let cases: Vec<Vec<u8>> = vec![
            b"Subject: a\r\n\r\nbody\r\n".to_vec(),
            b"Subject: a\n\nbare LF\n".to_vec(),
            b"\r\nno header".to_vec(),
            b"Subject: no body\r\n".to_vec(),
            b"Subject: no end".to_vec(),
            b"A: b\r\n \r\nfolded blank is not the end\r\n\r\nx".to_vec(),
            Vec::new(),
            straddling,
            long,
        ];
        for m in &cases {
            let want = body_offset(m);
            for step in [1, 7, 4096, usize::MAX] {
                let head = read_header(&mut Trickle { data: m, step }, 1 << 20).unwrap();
                assert_eq!(head.body, want, "{step} {:?}", String::from_utf8_lossy(m));
                assert!(m.starts_with(&head.bytes));
                if want.is_none() {
                    assert_eq!(head.bytes, *m, "no empty line: everything is header");
                }
            }
        }
        // The limit bounds the read; without an empty line within it the body is empty.
        let m = b"Subject: x\r\nA: b\r\n\r\nbody";
        let head = read_header(&mut Trickle { data: m, step: 3 }, 10).unwrap();
        assert_eq!((head.bytes.as_slice(), head.body), (&m[..10], None));
    }
}
