//! RFC 5322 §3.4 address lists for ENVELOPE (RFC 9051 §7.5.2), lenient and raw: display names
//! keep their encoded words (RFC 2047) undecoded, as Dovecot sends them.

use super::mime::{comment_end, quoted};

/// One address of an envelope before conversion: `None` fields are NIL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawAddress {
    pub(crate) name: Option<Vec<u8>>,
    pub(crate) adl: Option<Vec<u8>>,
    pub(crate) mailbox: Option<Vec<u8>>,
    pub(crate) host: Option<Vec<u8>>,
}

/// Most addresses taken from one header field.
const MAX_ADDRESSES: usize = 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    /// An atom or the content of a quoted string.
    Word(Vec<u8>, bool),
    /// A comment's content.
    Comment(Vec<u8>),
    /// `[...]`.
    Literal(Vec<u8>),
    /// One of `<>@,;:.`.
    Special(u8),
}

fn tokenize(s: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < s.len() {
        match s[pos] {
            b' ' | b'\t' | b'\r' | b'\n' => pos += 1,
            b'(' => {
                let end = comment_end(s, pos);
                let inner = &s[pos + 1..end.saturating_sub(1).max(pos + 1)];
                out.push(Tok::Comment(inner.to_vec()));
                pos = end;
            }
            b'"' => {
                let (v, p) = quoted(s, pos);
                out.push(Tok::Word(v, true));
                pos = p;
            }
            b'[' => {
                let end = memchr::memchr(b']', &s[pos..]).map_or(s.len(), |i| pos + i + 1);
                out.push(Tok::Literal(s[pos..end].to_vec()));
                pos = end;
            }
            b @ (b'<' | b'>' | b'@' | b',' | b';' | b':' | b'.') => {
                out.push(Tok::Special(b));
                pos += 1;
            }
            _ => {
                let start = pos;
                while pos < s.len()
                    && !matches!(
                        s[pos],
                        b' ' | b'\t'
                            | b'\r'
                            | b'\n'
                            | b'('
                            | b'"'
                            | b'['
                            | b'<'
                            | b'>'
                            | b'@'
                            | b','
                            | b';'
                            | b':'
                            | b'.'
                            | b')'
                    )
                {
                    pos += 1;
                }
                if pos == start {
                    pos += 1; // a stray ')'
                } else {
                    out.push(Tok::Word(s[start..pos].to_vec(), false));
                }
            }
        }
    }
    out
}

/// Parses an address list (`From`, `To`, …). Groups become a start marker
/// `(NIL NIL "name" NIL)`, the members, and an end marker `(NIL NIL NIL NIL)`.
pub(crate) fn parse_list(value: &[u8]) -> Vec<RawAddress> {
    let toks = tokenize(value);
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_group = false;
    while i < toks.len() && out.len() < MAX_ADDRESSES {
        // One entry: tokens up to a top-level ',' or ';' (or ':' for a group name).
        let start = i;
        let mut angle = false;
        while i < toks.len() {
            match toks[i] {
                Tok::Special(b'<') => angle = true,
                Tok::Special(b'>') => angle = false,
                Tok::Special(b',') | Tok::Special(b';') if !angle => break,
                Tok::Special(b':') if !angle && !in_group => break,
                _ => {}
            }
            i += 1;
        }
        let entry = &toks[start..i];
        match toks.get(i) {
            Some(Tok::Special(b':')) => {
                // Group start: the phrase before the colon is its name.
                in_group = true;
                out.push(RawAddress {
                    name: None,
                    adl: None,
                    mailbox: Some(phrase(entry)),
                    host: None,
                });
            }
            Some(Tok::Special(b';')) => {
                if let Some(a) = mailbox(entry) {
                    out.push(a);
                }
                if in_group {
                    out.push(RawAddress {
                        name: None,
                        adl: None,
                        mailbox: None,
                        host: None,
                    });
                    in_group = false;
                }
            }
            _ => {
                if let Some(a) = mailbox(entry) {
                    out.push(a);
                }
            }
        }
        i += 1;
    }
    if in_group {
        out.push(RawAddress {
            name: None,
            adl: None,
            mailbox: None,
            host: None,
        });
    }
    out
}

/// Words joined by single spaces (a display name or group name).
fn phrase(toks: &[Tok]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev_dot = false;
    for t in toks {
        match t {
            Tok::Word(w, _) | Tok::Literal(w) => {
                if !out.is_empty() && !prev_dot {
                    out.push(b' ');
                }
                out.extend_from_slice(w);
                prev_dot = false;
            }
            Tok::Special(b'.') => {
                out.push(b'.');
                prev_dot = true;
            }
            _ => {}
        }
    }
    out
}

/// Words and dots concatenated (a local part or domain).
fn dotted(toks: &[Tok]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in toks {
        match t {
            Tok::Word(w, true) => {
                // A quoted local part stays quoted so the address stays valid.
                if w.iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b))
                {
                    out.extend_from_slice(w);
                } else {
                    out.push(b'"');
                    for &b in w {
                        if b == b'"' || b == b'\\' {
                            out.push(b'\\');
                        }
                        out.push(b);
                    }
                    out.push(b'"');
                }
            }
            Tok::Word(w, false) | Tok::Literal(w) => out.extend_from_slice(w),
            Tok::Special(b'.') => out.push(b'.'),
            _ => {}
        }
    }
    out
}

fn addr_spec(toks: &[Tok]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let at = toks.iter().rposition(|t| *t == Tok::Special(b'@'));
    let (local, domain) = match at {
        Some(at) => (&toks[..at], Some(&toks[at + 1..])),
        None => (toks, None),
    };
    let local = dotted(local);
    let domain = domain.map(dotted);
    (
        Some(if local.is_empty() {
            b"MISSING_MAILBOX".to_vec()
        } else {
            local
        }),
        Some(match domain {
            Some(d) if !d.is_empty() => d,
            _ => b"MISSING_DOMAIN".to_vec(),
        }),
    )
}

/// One mailbox: `phrase <[route:]addr-spec>` or `addr-spec (comment)`; `None` for an empty
/// entry.
fn mailbox(toks: &[Tok]) -> Option<RawAddress> {
    if toks.iter().all(|t| matches!(t, Tok::Comment(_))) {
        return None;
    }
    if let Some(lt) = toks.iter().position(|t| *t == Tok::Special(b'<')) {
        let gt = toks[lt..]
            .iter()
            .position(|t| *t == Tok::Special(b'>'))
            .map_or(toks.len(), |g| lt + g);
        let name = phrase(&toks[..lt]);
        let mut inner = &toks[lt + 1..gt];
        // Obsolete source route: `@a,@b:` (RFC 5322 §4.4).
        let mut adl = None;
        if let Some(colon) = inner.iter().position(|t| *t == Tok::Special(b':')) {
            if inner.first() == Some(&Tok::Special(b'@')) {
                let mut route = Vec::new();
                for t in &inner[..colon] {
                    match t {
                        Tok::Special(b',') => route.push(b','),
                        Tok::Special(b'@') => route.push(b'@'),
                        Tok::Special(b'.') => route.push(b'.'),
                        Tok::Word(w, _) | Tok::Literal(w) => route.extend_from_slice(w),
                        _ => {}
                    }
                }
                adl = Some(route);
                inner = &inner[colon + 1..];
            }
        }
        if inner.is_empty() && name.is_empty() {
            return None;
        }
        let (mailbox, host) = addr_spec(inner);
        return Some(RawAddress {
            name: (!name.is_empty()).then_some(name),
            adl,
            mailbox,
            host,
        });
    }
    let comment = toks.iter().rev().find_map(|t| match t {
        Tok::Comment(c) if !c.is_empty() => Some(c.clone()),
        _ => None,
    });
    let (mailbox, host) = addr_spec(toks);
    Some(RawAddress {
        name: comment,
        adl: None,
        mailbox,
        host,
    })
}
