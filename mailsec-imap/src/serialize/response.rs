//! Canonical bytes of responses: `parse::response(serialize::response(v)) == v`.

use bytes::BytesMut;

use super::{SerializeOptions, W, part};
use crate::types::*;

/// Writes a response and its CRLF in canonical form (each string in the form it holds, keywords
/// upper case). Empty text after a code is written as `[CODE]` then CRLF.
///
/// ```
/// use mailsec_imap::{parse, serialize};
/// let (r, _) = parse::response(b"* ok [uidnext 4392] Predicted next UID\r\n").unwrap();
/// let mut out = bytes::BytesMut::new();
/// serialize::response(&r, &mut out);
/// assert_eq!(&out[..], b"* OK [UIDNEXT 4392] Predicted next UID\r\n");
/// ```
pub fn response(r: &Response<'_>, out: &mut BytesMut) {
    let mut w = W {
        base: out.len(),
        out,
        opts: SerializeOptions::exact(),
        lits: Vec::new(),
    };
    match r {
        Response::Status {
            tag,
            kind,
            code,
            text,
        } => {
            match tag {
                Some(t) => w.raw(t.as_str().as_bytes()),
                None => w.raw(b"*"),
            }
            w.sp();
            w.raw(kind.name().as_bytes());
            if code.is_some() || !text.is_empty() {
                w.sp();
            }
            resp_text(&mut w, code, text);
        }
        Response::Continuation { code, text } => {
            w.raw(b"+ ");
            resp_text(&mut w, code, text);
        }
        Response::Data(d) => {
            w.raw(b"* ");
            data(&mut w, d);
        }
    }
    w.raw(b"\r\n");
}

/// Writes one FETCH message attribute (`FLAGS (\Seen)`, `UID 4`, `ENVELOPE (...)`), without
/// CRLF: for a server that builds a FETCH response item by item, so that it can stream a large
/// literal of its own between items.
///
/// ```
/// use std::num::NonZeroU32;
/// use mailsec_imap::serialize;
/// use mailsec_imap::types::MsgAtt;
/// let mut out = bytes::BytesMut::new();
/// serialize::msg_att(&MsgAtt::Uid(NonZeroU32::new(7).unwrap()), &mut out);
/// assert_eq!(&out[..], b"UID 7");
/// ```
pub fn msg_att(a: &MsgAtt<'_>, out: &mut BytesMut) {
    let mut w = W {
        base: out.len(),
        out,
        opts: SerializeOptions::exact(),
        lits: Vec::new(),
    };
    msg_att_w(&mut w, a);
}

fn resp_text(w: &mut W<'_>, code: &Option<Code<'_>>, text: &[u8]) {
    if let Some(c) = code {
        w.raw(b"[");
        resp_code(w, c);
        w.raw(b"]");
        if !text.is_empty() {
            w.sp();
        }
    }
    w.raw(text);
}

fn resp_code(w: &mut W<'_>, c: &Code<'_>) {
    match c {
        Code::Simple(s) => w.raw(s.name().as_bytes()),
        Code::BadCharset(v) => {
            w.raw(b"BADCHARSET");
            if !v.is_empty() {
                w.sp();
                w.list(v, |w, a| w.astring(a));
            }
        }
        Code::Capability(v) => {
            w.raw(b"CAPABILITY");
            caps(w, v);
        }
        Code::PermanentFlags(v) => {
            w.raw(b"PERMANENTFLAGS ");
            w.list(v, |w, f| match f {
                FlagPerm::Flag(f) => w.flag(f),
                FlagPerm::Wildcard => w.raw(b"\\*"),
            });
        }
        Code::UidNext(n) => {
            w.raw(b"UIDNEXT ");
            w.num(u64::from(n.get()));
        }
        Code::UidValidity(n) => {
            w.raw(b"UIDVALIDITY ");
            w.num(u64::from(n.get()));
        }
        Code::Unseen(n) => {
            w.raw(b"UNSEEN ");
            w.num(u64::from(n.get()));
        }
        Code::HighestModSeq(n) => {
            w.raw(b"HIGHESTMODSEQ ");
            w.num(*n);
        }
        Code::Modified(s) => {
            w.raw(b"MODIFIED ");
            w.sequence_set(s);
        }
        Code::AppendUid { validity, uids } => {
            w.raw(b"APPENDUID ");
            w.num(u64::from(validity.get()));
            w.sp();
            w.sequence_set(uids);
        }
        Code::CopyUid { validity, from, to } => {
            w.raw(b"COPYUID ");
            w.num(u64::from(validity.get()));
            w.sp();
            w.sequence_set(from);
            w.sp();
            w.sequence_set(to);
        }
        Code::Other { name, text } => {
            w.raw(name.as_str().as_bytes());
            if let Some(t) = text {
                w.sp();
                w.raw(t);
            }
        }
    }
}

fn caps(w: &mut W<'_>, v: &[Capability<'_>]) {
    for c in v {
        w.sp();
        let mut b = Vec::new();
        c.write_to(&mut b);
        w.raw(&b);
    }
}

fn nstring(w: &mut W<'_>, s: &NString<'_>) {
    match &s.0 {
        None => w.raw(b"NIL"),
        Some(s) => w.string(s),
    }
}

fn delimiter(w: &mut W<'_>, d: Option<u8>) {
    match d {
        None => w.raw(b"NIL"),
        Some(c) => {
            w.raw(b"\"");
            if c == b'"' || c == b'\\' {
                w.raw(b"\\");
            }
            w.raw(&[c]);
            w.raw(b"\"");
        }
    }
}

fn ext_value(w: &mut W<'_>, v: &ExtValue<'_>) {
    match v {
        ExtValue::Nil => w.raw(b"NIL"),
        ExtValue::Number(n) => w.num(*n),
        ExtValue::Atom(a) => w.raw(a.as_str().as_bytes()),
        ExtValue::String(s) => w.string(s),
        ExtValue::List(l) => w.list(l, ext_value),
    }
}

fn data(w: &mut W<'_>, d: &Data<'_>) {
    match d {
        Data::Capability(v) => {
            w.raw(b"CAPABILITY");
            caps(w, v);
        }
        Data::Enabled(v) => {
            w.raw(b"ENABLED");
            caps(w, v);
        }
        Data::List(l) => {
            w.raw(if l.lsub { b"LSUB " } else { b"LIST " });
            w.list(&l.attributes, |w, a| {
                w.raw(b"\\");
                w.raw(a.0.as_str().as_bytes());
            });
            w.sp();
            delimiter(w, l.delimiter);
            w.sp();
            w.mailbox(&l.mailbox);
            if !l.extended.is_empty() {
                w.sp();
                w.list(&l.extended, |w, (k, v)| {
                    w.string(k);
                    w.sp();
                    ext_value(w, v);
                });
            }
        }
        Data::Status { mailbox, items } => {
            w.raw(b"STATUS ");
            w.mailbox(mailbox);
            w.sp();
            w.list(items, |w, (i, n)| {
                w.raw(i.name().as_bytes());
                w.sp();
                if *i == StatusItem::AppendLimit && *n == StatusItem::NO_APPEND_LIMIT {
                    w.raw(b"NIL");
                } else {
                    w.num(*n);
                }
            });
        }
        Data::Search { ids, modseq } => {
            w.raw(b"SEARCH");
            for n in ids {
                w.sp();
                w.num(u64::from(n.get()));
            }
            if let Some(m) = modseq {
                w.raw(b" (MODSEQ ");
                w.num(*m);
                w.raw(b")");
            }
        }
        Data::ESearch { tag, uid, items } => {
            w.raw(b"ESEARCH");
            if let Some(t) = tag {
                w.raw(b" (TAG ");
                w.string(t);
                w.raw(b")");
            }
            if *uid {
                w.raw(b" UID");
            }
            for it in items {
                w.sp();
                match it {
                    ESearchItem::Min(n) => {
                        w.raw(b"MIN ");
                        w.num(u64::from(n.get()));
                    }
                    ESearchItem::Max(n) => {
                        w.raw(b"MAX ");
                        w.num(u64::from(n.get()));
                    }
                    ESearchItem::Count(n) => {
                        w.raw(b"COUNT ");
                        w.num(u64::from(*n));
                    }
                    ESearchItem::All(s) => {
                        w.raw(b"ALL ");
                        w.sequence_set(s);
                    }
                    ESearchItem::ModSeq(n) => {
                        w.raw(b"MODSEQ ");
                        w.num(*n);
                    }
                    ESearchItem::Other(a, v) => {
                        w.raw(a.as_str().as_bytes());
                        w.sp();
                        ext_value(w, v);
                    }
                    ESearchItem::Partial { range, results } => {
                        w.raw(b"PARTIAL (");
                        w.partial_range(*range);
                        w.sp();
                        match results {
                            Some(s) => w.sequence_set(s),
                            None => w.raw(b"NIL"),
                        }
                        w.raw(b")");
                    }
                }
            }
        }
        Data::Flags(f) => {
            w.raw(b"FLAGS ");
            w.list(f, |w, f| w.flag(f));
        }
        Data::Exists(n) => {
            w.num(u64::from(*n));
            w.raw(b" EXISTS");
        }
        Data::Recent(n) => {
            w.num(u64::from(*n));
            w.raw(b" RECENT");
        }
        Data::Expunge(n) => {
            w.num(u64::from(n.get()));
            w.raw(b" EXPUNGE");
        }
        Data::Fetch { seq, items } => {
            w.num(u64::from(seq.get()));
            w.raw(b" FETCH ");
            w.list(items, msg_att_w);
        }
        Data::Vanished { earlier, uids } => {
            w.raw(if *earlier {
                b"VANISHED (EARLIER) ".as_slice()
            } else {
                b"VANISHED "
            });
            w.sequence_set(uids);
        }
        Data::Id(None) => w.raw(b"ID NIL"),
        Data::Id(Some(v)) => {
            w.raw(b"ID ");
            w.list(v, |w, (k, v)| {
                w.string(k);
                w.sp();
                nstring(w, v);
            });
        }
        Data::Namespace(ns) => {
            w.raw(b"NAMESPACE");
            for n in ns {
                w.sp();
                match n {
                    None => w.raw(b"NIL"),
                    Some(v) => w.list(v, |w, d| {
                        w.raw(b"(");
                        w.string(&d.prefix);
                        w.sp();
                        delimiter(w, d.delimiter);
                        for (k, vals) in &d.extensions {
                            w.sp();
                            w.string(k);
                            w.sp();
                            w.list(vals, |w, s| w.string(s));
                        }
                        w.raw(b")");
                    }),
                }
            }
        }
        Data::Quota { root, resources } => {
            w.raw(b"QUOTA ");
            w.astring(root);
            w.sp();
            w.list(resources, |w, (a, u, l)| {
                w.raw(a.as_str().as_bytes());
                w.sp();
                w.num(*u);
                w.sp();
                w.num(*l);
            });
        }
        Data::QuotaRoot { mailbox, roots } => {
            w.raw(b"QUOTAROOT ");
            w.mailbox(mailbox);
            for r in roots {
                w.sp();
                w.astring(r);
            }
        }
        Data::Other { name, number, rest } => {
            if let Some(n) = number {
                w.num(u64::from(*n));
                w.sp();
            }
            w.raw(name.as_str().as_bytes());
            if !rest.is_empty() {
                w.sp();
                w.raw(rest);
            }
        }
    }
}

fn origin(w: &mut W<'_>, o: Option<u32>) {
    if let Some(o) = o {
        w.raw(b"<");
        w.num(u64::from(o));
        w.raw(b">");
    }
}

fn msg_att_w(w: &mut W<'_>, a: &MsgAtt<'_>) {
    match a {
        MsgAtt::Flags(f) => {
            w.raw(b"FLAGS ");
            w.list(f, |w, f| w.flag(f));
        }
        MsgAtt::Uid(n) => {
            w.raw(b"UID ");
            w.num(u64::from(n.get()));
        }
        MsgAtt::Rfc822Size(n) => {
            w.raw(b"RFC822.SIZE ");
            w.num(*n);
        }
        MsgAtt::InternalDate(d) => {
            w.raw(b"INTERNALDATE ");
            w.date_time(*d);
        }
        // A value held raw is written in the canonical form of its tree, as a built one; the
        // raw bytes only if (impossibly) they no longer parse.
        MsgAtt::Envelope(e) => {
            w.raw(b"ENVELOPE ");
            match e.get() {
                Ok(t) => envelope(w, &t),
                Err(_) => w.raw(e.raw().unwrap_or_default()),
            }
        }
        MsgAtt::Body(b) | MsgAtt::BodyStructure(b) => {
            w.raw(if matches!(a, MsgAtt::Body(_)) {
                &b"BODY "[..]
            } else {
                b"BODYSTRUCTURE "
            });
            match b.get() {
                Ok(t) => body(w, &t),
                Err(_) => w.raw(b.raw().unwrap_or_default()),
            }
        }
        MsgAtt::BodySection {
            section: s,
            origin: o,
            data,
        } => {
            w.raw(b"BODY");
            super::section_spec(w, s);
            origin(w, *o);
            w.sp();
            nstring(w, data);
        }
        MsgAtt::Binary {
            part: pt,
            origin: o,
            data,
        } => {
            w.raw(b"BINARY[");
            part(w, pt);
            w.raw(b"]");
            origin(w, *o);
            w.sp();
            match data {
                None => w.raw(b"NIL"),
                Some(l) => w.literal(l),
            }
        }
        MsgAtt::BinarySize { part: pt, size } => {
            w.raw(b"BINARY.SIZE[");
            part(w, pt);
            w.raw(b"] ");
            w.num(u64::from(*size));
        }
        MsgAtt::ModSeq(n) => {
            w.raw(b"MODSEQ (");
            w.num(*n);
            w.raw(b")");
        }
        MsgAtt::Rfc822(s) => {
            w.raw(b"RFC822 ");
            nstring(w, s);
        }
        MsgAtt::Rfc822Header(s) => {
            w.raw(b"RFC822.HEADER ");
            nstring(w, s);
        }
        MsgAtt::Rfc822Text(s) => {
            w.raw(b"RFC822.TEXT ");
            nstring(w, s);
        }
        MsgAtt::Other { name, value } => {
            w.raw(name.as_str().as_bytes());
            w.sp();
            ext_value(w, value);
        }
        MsgAtt::GmailLabels(v) => {
            w.raw(b"X-GM-LABELS ");
            w.list(v, |w, l| match l {
                GmailLabel::System(a) => {
                    w.raw(b"\\");
                    w.raw(a.as_str().as_bytes());
                }
                GmailLabel::Label(s) => w.astring(s),
            });
        }
    }
}

fn addresses(w: &mut W<'_>, a: &Option<Vec<Address<'_>>>) {
    match a {
        None => w.raw(b"NIL"),
        Some(v) => {
            w.raw(b"(");
            for a in v {
                w.raw(b"(");
                nstring(w, &a.name);
                w.sp();
                nstring(w, &a.adl);
                w.sp();
                nstring(w, &a.mailbox);
                w.sp();
                nstring(w, &a.host);
                w.raw(b")");
            }
            w.raw(b")");
        }
    }
}

fn envelope(w: &mut W<'_>, e: &Envelope<'_>) {
    w.raw(b"(");
    nstring(w, &e.date);
    w.sp();
    nstring(w, &e.subject);
    for a in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        w.sp();
        addresses(w, a);
    }
    w.sp();
    nstring(w, &e.in_reply_to);
    w.sp();
    nstring(w, &e.message_id);
    w.raw(b")");
}

fn extensions(w: &mut W<'_>, ext: &[ExtValue<'_>]) {
    for v in ext {
        w.sp();
        ext_value(w, v);
    }
}

fn body(w: &mut W<'_>, b: &BodyStructure<'_>) {
    w.raw(b"(");
    match b {
        BodyStructure::Multi {
            parts,
            subtype,
            extension,
        } => {
            for p in parts {
                body(w, p);
            }
            w.sp();
            w.string(subtype);
            extensions(w, extension);
        }
        BodyStructure::Single {
            media_type,
            subtype,
            params,
            id,
            description,
            encoding,
            octets,
            specific,
            extension,
        } => {
            w.string(media_type);
            w.sp();
            w.string(subtype);
            w.sp();
            match params {
                None => w.raw(b"NIL"),
                Some(v) => w.list(v, |w, (k, v)| {
                    w.string(k);
                    w.sp();
                    nstring(w, v);
                }),
            }
            w.sp();
            nstring(w, id);
            w.sp();
            nstring(w, description);
            w.sp();
            w.string(encoding);
            w.sp();
            w.num(u64::from(*octets));
            match specific {
                SinglePartKind::Basic => {}
                SinglePartKind::Text { lines } => {
                    w.sp();
                    w.num(u64::from(*lines));
                }
                SinglePartKind::Message {
                    envelope: e,
                    body: b,
                    lines,
                } => {
                    w.sp();
                    envelope(w, e);
                    w.sp();
                    body(w, b);
                    w.sp();
                    w.num(u64::from(*lines));
                }
            }
            extensions(w, extension);
        }
    }
    w.raw(b")");
}
