//! The command grammar.

use std::borrow::Cow;

use super::atom_char as is_atom_char;
use super::{P, R, base64};
use crate::error::ParseErrorKind as K;
use crate::types::*;

pub(super) fn command<'a>(p: &mut P<'a, '_>) -> R<Command<'a>> {
    let tag = p.tag()?;
    p.sp()?;
    let body = body(p)?;
    p.crlf()?;
    Ok(Command { tag, body })
}

fn name<'a>(p: &mut P<'a, '_>) -> R<(&'a [u8], usize)> {
    let start = p.pos;
    let n = p.take_while(|b| b.is_ascii_alphanumeric() || b == b'-');
    if n.is_empty() {
        return Err((K::UnknownCommand, start));
    }
    Ok((n, start))
}

/// Up to `N` octets of `w`, ASCII-uppercased, on the stack; `None` when longer (then no
/// keyword matches). Keywords are matched on this without allocating.
pub(super) fn upper<const N: usize>(w: &[u8]) -> Option<([u8; N], usize)> {
    if w.len() > N {
        return None;
    }
    let mut up = [0u8; N];
    up[..w.len()].copy_from_slice(w);
    up[..w.len()].make_ascii_uppercase();
    Some((up, w.len()))
}

fn body<'a>(p: &mut P<'a, '_>) -> R<CommandBody<'a>> {
    use CommandBody as C;
    let (n, start) = name(p)?;
    let Some((up, len)) = upper::<12>(n) else {
        return Err((K::UnknownCommand, start));
    };
    let n = &up[..len];
    if n == b"LOGIN" || n == b"AUTHENTICATE" {
        p.redact = true;
    }
    Ok(match n {
        b"CAPABILITY" => C::Capability,
        b"NOOP" => C::Noop,
        b"LOGOUT" => C::Logout,
        b"STARTTLS" => C::StartTls,
        b"NAMESPACE" => C::Namespace,
        b"IDLE" => C::Idle,
        b"CHECK" => C::Check,
        b"CLOSE" => C::Close,
        b"UNSELECT" => C::Unselect,
        b"EXPUNGE" => C::Expunge,
        b"ID" => {
            p.sp()?;
            if p.keyword("NIL") {
                C::Id(None)
            } else {
                id_params(p)?
            }
        }
        b"ENABLE" => {
            let mut caps = Vec::new();
            while p.peek() == Some(b' ') {
                p.pos += 1;
                caps.push(Capability::from_atom(p.atom()?));
            }
            if caps.is_empty() {
                return p.fail("capability");
            }
            C::Enable(caps)
        }
        b"COMPRESS" => {
            p.sp()?;
            C::Compress(p.atom()?)
        }
        b"AUTHENTICATE" => {
            p.sp()?;
            let mechanism = p.atom()?;
            let initial = if p.peek() == Some(b' ') {
                p.pos += 1;
                if p.peek() == Some(b'=') && p.peek_at(1) != Some(b'=') {
                    p.pos += 1;
                    Some(AuthData::Empty)
                } else {
                    let at = p.pos;
                    let text = p.take_while(base64::is_char);
                    if text.is_empty() {
                        return p.fail("base64");
                    }
                    let data = base64::decode(text).ok_or((K::InvalidBase64, at))?;
                    Some(AuthData::Data(Secret::new(Cow::Owned(data))))
                }
            } else {
                None
            };
            C::Authenticate { mechanism, initial }
        }
        b"LOGIN" => {
            p.sp()?;
            let username = p.astring()?;
            p.sp()?;
            let password = Secret::new(p.astring()?);
            C::Login { username, password }
        }
        b"SELECT" | b"EXAMINE" => {
            p.sp()?;
            let mailbox = p.mailbox()?;
            let params = if p.peek() == Some(b' ') {
                p.pos += 1;
                p.paren_list(false, select_param)?
            } else {
                Vec::new()
            };
            if n == b"SELECT" {
                C::Select { mailbox, params }
            } else {
                C::Examine { mailbox, params }
            }
        }
        b"CREATE" => {
            p.sp()?;
            let mailbox = p.mailbox()?;
            let mut special_use = Vec::new();
            if p.peek() == Some(b' ') {
                p.pos += 1;
                p.byte(b'(', "(")?;
                if !p.keyword("USE") {
                    return p.fail("USE");
                }
                p.sp()?;
                special_use = p.paren_list(false, mailbox_attribute)?;
                p.byte(b')', ")")?;
            }
            C::Create {
                mailbox,
                special_use,
            }
        }
        b"DELETE" => {
            p.sp()?;
            C::Delete(p.mailbox()?)
        }
        b"SUBSCRIBE" => {
            p.sp()?;
            C::Subscribe(p.mailbox()?)
        }
        b"UNSUBSCRIBE" => {
            p.sp()?;
            C::Unsubscribe(p.mailbox()?)
        }
        b"GETQUOTAROOT" => {
            p.sp()?;
            C::GetQuotaRoot(p.mailbox()?)
        }
        b"GETQUOTA" => {
            p.sp()?;
            C::GetQuota(p.astring()?)
        }
        b"SETQUOTA" => {
            p.sp()?;
            let root = p.astring()?;
            p.sp()?;
            let limits = p.paren_list(true, |p| {
                let resource = p.atom()?;
                p.sp()?;
                Ok(QuotaLimit {
                    resource,
                    limit: p.number64()?,
                })
            })?;
            C::SetQuota { root, limits }
        }
        b"RENAME" => {
            p.sp()?;
            let from = p.mailbox()?;
            p.sp()?;
            let to = p.mailbox()?;
            C::Rename { from, to }
        }
        b"LIST" => list(p)?,
        b"LSUB" => {
            p.sp()?;
            let reference = p.mailbox()?;
            p.sp()?;
            C::Lsub {
                reference,
                pattern: p.list_mailbox()?,
            }
        }
        b"STATUS" => {
            p.sp()?;
            let mailbox = p.mailbox()?;
            p.sp()?;
            C::Status {
                mailbox,
                items: p.paren_list(false, status_item)?,
            }
        }
        b"APPEND" => {
            p.sp()?;
            let mailbox = p.mailbox()?;
            p.sp()?;
            let flags = if p.peek() == Some(b'(') {
                let f = p.flag_list()?;
                p.sp()?;
                Some(f)
            } else {
                None
            };
            let date = if p.peek() == Some(b'"') {
                let d = p.date_time()?;
                p.sp()?;
                Some(d)
            } else {
                None
            };
            // RFC 6855 §4: append-data =/ "UTF8" SP "(" literal8 ")".
            if p.keyword("UTF8") {
                p.sp()?;
                p.byte(b'(', "(")?;
                if p.peek() != Some(b'~') {
                    return p.fail("literal8");
                }
                let message = p.literal(true)?;
                p.byte(b')', ")")?;
                C::Append {
                    mailbox,
                    flags,
                    date,
                    message,
                    utf8: true,
                }
            } else {
                C::Append {
                    mailbox,
                    flags,
                    date,
                    message: p.literal(true)?,
                    utf8: false,
                }
            }
        }
        b"SEARCH" => search(p, false)?,
        b"FETCH" => fetch(p, false)?,
        b"STORE" => store(p, false)?,
        b"COPY" | b"MOVE" => {
            p.sp()?;
            let set = p.sequence_set()?;
            p.sp()?;
            let mailbox = p.mailbox()?;
            if n == b"COPY" {
                C::Copy {
                    uid: false,
                    set,
                    mailbox,
                }
            } else {
                C::Move {
                    uid: false,
                    set,
                    mailbox,
                }
            }
        }
        b"UID" => {
            p.sp()?;
            let (n, start) = name(p)?;
            let Some((up, len)) = upper::<8>(n) else {
                return Err((K::UnknownCommand, start));
            };
            let n = &up[..len];
            match n {
                b"SEARCH" => search(p, true)?,
                b"FETCH" => fetch(p, true)?,
                b"STORE" => store(p, true)?,
                b"EXPUNGE" => {
                    p.sp()?;
                    C::UidExpunge(p.sequence_set()?)
                }
                b"COPY" | b"MOVE" => {
                    p.sp()?;
                    let set = p.sequence_set()?;
                    p.sp()?;
                    let mailbox = p.mailbox()?;
                    if n == b"COPY" {
                        C::Copy {
                            uid: true,
                            set,
                            mailbox,
                        }
                    } else {
                        C::Move {
                            uid: true,
                            set,
                            mailbox,
                        }
                    }
                }
                _ => return Err((K::UnknownCommand, start)),
            }
        }
        _ => return Err((K::UnknownCommand, start)),
    })
}

/// RFC 2971 §3.3: at most 30 pairs, fields of at most 30 octets, values of at most 1024.
pub(super) const ID_MAX_PAIRS: usize = 30;
const ID_MAX_FIELD: usize = 30;
const ID_MAX_VALUE: usize = 1024;

/// The error for an ID list longer than [`ID_MAX_PAIRS`] (RFC 2971 §3.3), at `at`.
pub(super) fn id_too_many_pairs(at: usize) -> (K, usize) {
    (
        K::Syntax {
            expected: "at most 30 ID pairs (RFC 2971 §3.3)",
        },
        at,
    )
}

/// Checks one ID field name (read at `at`) against RFC 2971 §3.3: at most 30 octets.
pub(super) fn id_check_field(k: &IString<'_>, at: usize) -> R<()> {
    if k.as_bytes().len() > ID_MAX_FIELD {
        return Err((
            K::Syntax {
                expected: "ID field of at most 30 octets (RFC 2971 §3.3)",
            },
            at,
        ));
    }
    Ok(())
}

/// Checks one ID value (read at `at`) against RFC 2971 §3.3: at most 1024 octets.
pub(super) fn id_check_value(v: &NString<'_>, at: usize) -> R<()> {
    if v.0
        .as_ref()
        .is_some_and(|v| v.as_bytes().len() > ID_MAX_VALUE)
    {
        return Err((
            K::Syntax {
                expected: "ID value of at most 1024 octets (RFC 2971 §3.3)",
            },
            at,
        ));
    }
    Ok(())
}

fn id_params<'a>(p: &mut P<'a, '_>) -> R<CommandBody<'a>> {
    let start = p.pos;
    let pairs = p.paren_list(true, |p| {
        let at = p.pos;
        let k = p.string()?;
        id_check_field(&k, at)?;
        p.sp()?;
        let at = p.pos;
        let v = p.nstring()?;
        id_check_value(&v, at)?;
        Ok((k, v))
    })?;
    if pairs.len() > ID_MAX_PAIRS {
        return Err(id_too_many_pairs(start));
    }
    Ok(CommandBody::Id(Some(pairs)))
}

fn mailbox_attribute<'a>(p: &mut P<'a, '_>) -> R<MailboxAttribute<'a>> {
    p.byte(b'\\', "\\attribute")?;
    Ok(MailboxAttribute(p.atom()?))
}

fn status_item(p: &mut P<'_, '_>) -> R<StatusItem> {
    let start = p.pos;
    let n = p.take_while(|b| b.is_ascii_alphabetic());
    StatusItem::from_name(n).ok_or((
        K::Syntax {
            expected: "status item",
        },
        start,
    ))
}

fn select_param(p: &mut P<'_, '_>) -> R<SelectParam> {
    if p.keyword("CONDSTORE") {
        return Ok(SelectParam::CondStore);
    }
    if !p.keyword("QRESYNC") {
        return p.fail("CONDSTORE or QRESYNC");
    }
    p.sp()?;
    p.byte(b'(', "(")?;
    let uid_validity = p.nz_number()?;
    p.sp()?;
    let modseq = p.nz_number64()?;
    let mut known_uids = None;
    let mut seq_match = None;
    if p.peek() == Some(b' ') && p.peek_at(1) != Some(b'(') {
        p.pos += 1;
        known_uids = Some(p.sequence_set()?);
    }
    if p.peek() == Some(b' ') {
        p.pos += 1;
        p.byte(b'(', "(")?;
        let a = p.sequence_set()?;
        p.sp()?;
        let b = p.sequence_set()?;
        p.byte(b')', ")")?;
        seq_match = Some((a, b));
    }
    p.byte(b')', ")")?;
    Ok(SelectParam::QResync {
        uid_validity,
        modseq,
        known_uids,
        seq_match,
    })
}

fn list<'a>(p: &mut P<'a, '_>) -> R<CommandBody<'a>> {
    p.sp()?;
    let selection = if p.peek() == Some(b'(') {
        let v = p.paren_list(true, |p| {
            Ok(if p.keyword("SUBSCRIBED") {
                ListSelect::Subscribed
            } else if p.keyword("REMOTE") {
                ListSelect::Remote
            } else if p.keyword("RECURSIVEMATCH") {
                ListSelect::RecursiveMatch
            } else if p.keyword("SPECIAL-USE") {
                ListSelect::SpecialUse
            } else {
                ListSelect::Other(p.atom()?)
            })
        })?;
        p.sp()?;
        Some(v)
    } else {
        None
    };
    let reference = p.mailbox()?;
    p.sp()?;
    let (patterns, patterns_list) = if p.peek() == Some(b'(') {
        (p.paren_list(false, |p| p.list_mailbox())?, true)
    } else {
        (vec![p.list_mailbox()?], false)
    };
    let return_opts = if p.peek() == Some(b' ') {
        p.pos += 1;
        if !p.keyword("RETURN") {
            return p.fail("RETURN");
        }
        p.sp()?;
        Some(p.paren_list(true, |p| {
            Ok(if p.keyword("SUBSCRIBED") {
                ListReturn::Subscribed
            } else if p.keyword("CHILDREN") {
                ListReturn::Children
            } else if p.keyword("SPECIAL-USE") {
                ListReturn::SpecialUse
            } else if p.keyword("STATUS") {
                p.sp()?;
                ListReturn::Status(p.paren_list(false, status_item)?)
            } else {
                ListReturn::Other(p.atom()?)
            })
        })?)
    } else {
        None
    };
    Ok(CommandBody::List {
        selection,
        reference,
        patterns,
        patterns_list,
        return_opts,
    })
}

fn search<'a>(p: &mut P<'a, '_>, uid: bool) -> R<CommandBody<'a>> {
    p.sp()?;
    let mut return_opts = None;
    if p.keyword("RETURN") {
        p.sp()?;
        return_opts = Some(p.paren_list(true, |p| {
            let start = p.pos;
            let w = p.take_while(|b| b.is_ascii_alphabetic());
            let (up, len) = upper::<8>(w).unwrap_or_default();
            Ok(match &up[..len] {
                b"MIN" => SearchReturn::Min,
                b"MAX" => SearchReturn::Max,
                b"ALL" => SearchReturn::All,
                b"COUNT" => SearchReturn::Count,
                b"SAVE" => SearchReturn::Save,
                b"PARTIAL" => {
                    p.sp()?;
                    SearchReturn::Partial(partial_range(p)?)
                }
                _ => {
                    return Err((
                        K::Syntax {
                            expected: "search return option",
                        },
                        start,
                    ));
                }
            })
        })?);
        p.sp()?;
    }
    let mut charset = None;
    if p.keyword("CHARSET") {
        p.sp()?;
        charset = Some(p.astring()?);
        p.sp()?;
    }
    let mut criteria = vec![search_key(p)?];
    while p.peek() == Some(b' ') {
        p.pos += 1;
        criteria.push(search_key(p)?);
    }
    Ok(CommandBody::Search {
        uid,
        return_opts,
        charset,
        criteria,
    })
}

/// `partial-range` (RFC 9394 §3.1): `a:b` or `-a:-b`, non-zero 32-bit numbers.
pub(super) fn partial_range(p: &mut P<'_, '_>) -> R<PartialRange> {
    let last = p.peek() == Some(b'-');
    if last {
        p.pos += 1;
    }
    let a = p.nz_number()?;
    p.byte(b':', ":")?;
    if last {
        p.byte(b'-', "-")?;
    }
    let b = p.nz_number()?;
    Ok(if last {
        PartialRange::Last(a, b)
    } else {
        PartialRange::First(a, b)
    })
}

fn search_key<'a>(p: &mut P<'a, '_>) -> R<SearchKey<'a>> {
    use SearchKey as S;
    match p.peek() {
        Some(b'(') => {
            p.enter()?;
            let v = p.paren_list(false, search_key)?;
            p.leave();
            return Ok(S::And(v));
        }
        Some(b'0'..=b'9' | b'*' | b'$') => return Ok(S::SequenceSet(p.sequence_set()?)),
        _ => {}
    }
    let start = p.pos;
    let w = p.take_while(|b| b.is_ascii_alphanumeric());
    if w.len() > 12 {
        return Err((
            K::Syntax {
                expected: "search key",
            },
            start,
        ));
    }
    let mut up = [0u8; 12];
    up[..w.len()].copy_from_slice(w);
    up.make_ascii_uppercase();
    let w = &up[..w.len()];
    let arg = |p: &mut P<'a, '_>| -> R<AString<'a>> {
        p.sp()?;
        p.astring()
    };
    let date = |p: &mut P<'a, '_>| -> R<Date> {
        p.sp()?;
        p.date()
    };
    Ok(match w {
        b"ALL" => S::All,
        b"ANSWERED" => S::Answered,
        b"BCC" => S::Bcc(arg(p)?),
        b"BEFORE" => S::Before(date(p)?),
        b"BODY" => S::Body(arg(p)?),
        b"CC" => S::Cc(arg(p)?),
        b"DELETED" => S::Deleted,
        b"DRAFT" => S::Draft,
        b"FLAGGED" => S::Flagged,
        b"FROM" => S::From(arg(p)?),
        b"HEADER" => {
            let f = arg(p)?;
            S::Header(f, arg(p)?)
        }
        b"KEYWORD" => {
            p.sp()?;
            S::Keyword(p.atom()?)
        }
        b"LARGER" => {
            p.sp()?;
            S::Larger(p.number64()?)
        }
        b"NEW" => S::New,
        b"NOT" => {
            p.enter()?;
            p.sp()?;
            let k = search_key(p)?;
            p.leave();
            S::Not(Box::new(k))
        }
        b"OLD" => S::Old,
        b"ON" => S::On(date(p)?),
        b"OR" => {
            p.enter()?;
            p.sp()?;
            let a = search_key(p)?;
            p.sp()?;
            let b = search_key(p)?;
            p.leave();
            S::Or(Box::new(a), Box::new(b))
        }
        b"RECENT" => S::Recent,
        b"SEEN" => S::Seen,
        b"SENTBEFORE" => S::SentBefore(date(p)?),
        b"SENTON" => S::SentOn(date(p)?),
        b"SENTSINCE" => S::SentSince(date(p)?),
        b"SINCE" => S::Since(date(p)?),
        b"SMALLER" => {
            p.sp()?;
            S::Smaller(p.number64()?)
        }
        b"SUBJECT" => S::Subject(arg(p)?),
        b"TEXT" => S::Text(arg(p)?),
        b"TO" => S::To(arg(p)?),
        b"UID" => {
            p.sp()?;
            S::Uid(p.sequence_set()?)
        }
        b"UNANSWERED" => S::Unanswered,
        b"UNDELETED" => S::Undeleted,
        b"UNDRAFT" => S::Undraft,
        b"UNFLAGGED" => S::Unflagged,
        b"UNKEYWORD" => {
            p.sp()?;
            S::Unkeyword(p.atom()?)
        }
        b"UNSEEN" => S::Unseen,
        b"MODSEQ" => {
            p.sp()?;
            let mut entry = None;
            if p.peek() == Some(b'"') {
                let name = p.quoted()?;
                p.sp()?;
                let at = p.pos;
                let t = p.take_while(|b| b.is_ascii_alphabetic());
                let (up, len) = upper::<8>(t).unwrap_or_default();
                let kind = match &up[..len] {
                    b"PRIV" => EntryType::Private,
                    b"SHARED" => EntryType::Shared,
                    b"ALL" => EntryType::All,
                    _ => {
                        return Err((
                            K::Syntax {
                                expected: "entry type",
                            },
                            at,
                        ));
                    }
                };
                p.sp()?;
                entry = Some(ModSeqEntry { name, kind });
            }
            S::ModSeq {
                entry,
                modseq: p.number64()?,
            }
        }
        _ => {
            return Err((
                K::Syntax {
                    expected: "search key",
                },
                start,
            ));
        }
    })
}

fn fetch<'a>(p: &mut P<'a, '_>, uid: bool) -> R<CommandBody<'a>> {
    p.sp()?;
    let set = p.sequence_set()?;
    p.sp()?;
    let items = if p.peek() == Some(b'(') {
        FetchItems::List(p.paren_list(false, fetch_att)?)
    } else if p.keyword("ALL") {
        FetchItems::All
    } else if p.keyword("FAST") {
        FetchItems::Fast
    } else if p.keyword("FULL") {
        FetchItems::Full
    } else {
        FetchItems::Single(fetch_att(p)?)
    };
    let mut modifiers = Vec::new();
    if p.peek() == Some(b' ') {
        p.pos += 1;
        modifiers = p.paren_list(false, |p| {
            if p.keyword("CHANGEDSINCE") {
                p.sp()?;
                Ok(FetchModifier::ChangedSince(p.nz_number64()?.get()))
            } else if p.keyword("VANISHED") {
                Ok(FetchModifier::Vanished)
            } else {
                p.fail("fetch modifier")
            }
        })?;
    }
    Ok(CommandBody::Fetch {
        uid,
        set,
        items,
        modifiers,
    })
}

pub(super) fn part(p: &mut P<'_, '_>) -> R<Vec<std::num::NonZeroU32>> {
    let mut v = Vec::new();
    while p.peek().is_some_and(|b| b.is_ascii_digit()) {
        v.push(p.nz_number()?);
        if p.peek() == Some(b'.') && p.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            p.pos += 1;
        } else {
            break;
        }
    }
    Ok(v)
}

pub(super) fn partial(p: &mut P<'_, '_>) -> R<Option<Partial>> {
    if p.peek() != Some(b'<') {
        return Ok(None);
    }
    p.pos += 1;
    let offset = p.number64()?;
    p.byte(b'.', ".")?;
    let length = p.nz_number64()?;
    p.byte(b'>', ">")?;
    Ok(Some(Partial { offset, length }))
}

pub(super) fn section<'a>(p: &mut P<'a, '_>) -> R<Section<'a>> {
    p.byte(b'[', "[")?;
    let part = part(p)?;
    let mut text = None;
    if p.peek() != Some(b']') {
        if !part.is_empty() {
            p.byte(b'.', ".")?;
        }
        let start = p.pos;
        let w = p.take_while(|b| b.is_ascii_alphabetic() || b == b'.');
        let header_list = |p: &mut P<'a, '_>| -> R<Vec<AString<'a>>> {
            p.sp()?;
            p.paren_list(false, |p| p.astring())
        };
        let (up, len) = upper::<20>(w).unwrap_or_default();
        text = Some(match &up[..len] {
            b"HEADER" => SectionText::Header,
            b"HEADER.FIELDS" => SectionText::HeaderFields(header_list(p)?),
            b"HEADER.FIELDS.NOT" => SectionText::HeaderFieldsNot(header_list(p)?),
            b"TEXT" => SectionText::Text,
            b"MIME" if !part.is_empty() => SectionText::Mime,
            _ => {
                return Err((
                    K::Syntax {
                        expected: "section",
                    },
                    start,
                ));
            }
        });
    }
    p.byte(b']', "]")?;
    Ok(Section { part, text })
}

fn fetch_att<'a>(p: &mut P<'a, '_>) -> R<FetchAttribute<'a>> {
    use FetchAttribute as F;
    let start = p.pos;
    let w = p.take_while(|b| b.is_ascii_alphanumeric() || b == b'.');
    let (up, len) = upper::<16>(w).unwrap_or_default();
    let up = &up[..len];
    let bracket = p.peek() == Some(b'[');
    Ok(match (up, bracket) {
        (b"ENVELOPE", false) => F::Envelope,
        (b"FLAGS", false) => F::Flags,
        (b"INTERNALDATE", false) => F::InternalDate,
        (b"RFC822", false) => F::Rfc822,
        (b"RFC822.HEADER", false) => F::Rfc822Header,
        (b"RFC822.SIZE", false) => F::Rfc822Size,
        (b"RFC822.TEXT", false) => F::Rfc822Text,
        (b"BODY", false) => F::Body,
        (b"BODYSTRUCTURE", false) => F::BodyStructure,
        (b"UID", false) => F::Uid,
        (b"MODSEQ", false) => F::ModSeq,
        (b"BODY" | b"BODY.PEEK", true) => F::BodySection {
            peek: up.len() > 4,
            section: section(p)?,
            partial: partial(p)?,
        },
        (b"BINARY" | b"BINARY.PEEK", true) => {
            p.pos += 1;
            let part = part(p)?;
            p.byte(b']', "]")?;
            F::Binary {
                peek: up.len() > 6,
                part,
                partial: partial(p)?,
            }
        }
        (b"BINARY.SIZE", true) => {
            p.pos += 1;
            let part = part(p)?;
            p.byte(b']', "]")?;
            F::BinarySize { part }
        }
        _ => {
            p.pos = start;
            return p.fail("fetch attribute");
        }
    })
}

fn store<'a>(p: &mut P<'a, '_>, uid: bool) -> R<CommandBody<'a>> {
    p.sp()?;
    let set = p.sequence_set()?;
    p.sp()?;
    let mut unchanged_since = None;
    if p.peek() == Some(b'(') {
        p.pos += 1;
        if !p.keyword("UNCHANGEDSINCE") {
            return p.fail("UNCHANGEDSINCE");
        }
        p.sp()?;
        unchanged_since = Some(p.number64()?);
        p.byte(b')', ")")?;
        p.sp()?;
    }
    let kind = match p.peek() {
        Some(b'+') => {
            p.pos += 1;
            StoreKind::Add
        }
        Some(b'-') => {
            p.pos += 1;
            StoreKind::Remove
        }
        _ => StoreKind::Replace,
    };
    let start = p.pos;
    let w = p.take_while(is_atom_char);
    let (up, len) = upper::<12>(w).unwrap_or_default();
    let silent = match &up[..len] {
        b"FLAGS" => false,
        b"FLAGS.SILENT" => true,
        _ => return Err((K::Syntax { expected: "FLAGS" }, start)),
    };
    p.sp()?;
    let (flags, parenthesized) = if p.peek() == Some(b'(') {
        (p.flag_list()?, true)
    } else {
        let mut v = vec![p.flag()?];
        while p.peek() == Some(b' ') {
            p.pos += 1;
            v.push(p.flag()?);
        }
        (v, false)
    };
    Ok(CommandBody::Store {
        uid,
        set,
        unchanged_since,
        action: StoreAction {
            kind,
            silent,
            flags,
            parenthesized,
        },
    })
}
