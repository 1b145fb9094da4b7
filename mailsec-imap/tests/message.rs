//! Message analysis: ENVELOPE and BODYSTRUCTURE of real-shaped messages (RFC 3501 §8's
//! example, Dovecot's output), sections, BINARY, SEARCH keys, and no panic on any bytes.

use std::borrow::Cow;
use std::num::NonZeroU32;

use bytes::BytesMut;
use mailsec_imap::message::{
    BinaryError, ParsedMessage, SearchContext, search_matches, search_needs_content,
};
use mailsec_imap::store::MessageMeta;
use mailsec_imap::types::*;
use mailsec_imap::{parse, serialize};
use proptest::prelude::*;

/// `* 1 FETCH (items)` as the server writes it, checked to parse back to the same value.
fn fetch_line(items: Vec<MsgAtt<'static>>) -> String {
    let r = Response::Data(Data::Fetch {
        seq: NonZeroU32::new(1).unwrap(),
        items,
    });
    let mut out = BytesMut::new();
    serialize::response(&r, &mut out);
    let (back, used) = parse::response(&out).expect("the serialized FETCH parses");
    assert_eq!(used, out.len());
    assert_eq!(back.into_owned(), r);
    String::from_utf8_lossy(&out).into_owned()
}

fn envelope_line(m: &ParsedMessage<'_>) -> String {
    fetch_line(vec![MsgAtt::Envelope(m.envelope().into())])
}

fn body_line(m: &ParsedMessage<'_>) -> String {
    fetch_line(vec![MsgAtt::Body(m.body_structure(false).into())])
}

fn bodystructure_line(m: &ParsedMessage<'_>) -> String {
    fetch_line(vec![MsgAtt::BodyStructure(m.body_structure(true).into())])
}

fn crlf(s: &str) -> Vec<u8> {
    s.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
}

fn section(part: &[u32], text: Option<SectionText<'static>>) -> Section<'static> {
    Section {
        part: part.iter().map(|&n| NonZeroU32::new(n).unwrap()).collect(),
        text,
    }
}

fn names(n: &[&'static str]) -> Vec<AString<'static>> {
    n.iter()
        .map(|s| AString::new(s.as_bytes()).unwrap())
        .collect()
}

/// The message of RFC 3501 §8 (body shortened to 3 lines).
fn rfc3501_example() -> Vec<u8> {
    crlf(
        "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)
From: Terry Gray <gray@cac.washington.edu>
Subject: IMAP4rev1 WG mtg summary and minutes
To: imap@cac.washington.edu
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>
Message-Id: <B27397-0100000@cac.washington.edu>
MIME-Version: 1.0
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

line one
line two
line three
",
    )
}

#[test]
fn rfc3501_example_envelope_and_body() {
    let raw = rfc3501_example();
    let m = ParsedMessage::parse(&raw);
    assert_eq!(
        envelope_line(&m),
        "* 1 FETCH (ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \
         \"IMAP4rev1 WG mtg summary and minutes\" \
         ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
         ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
         ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
         ((NIL NIL \"imap\" \"cac.washington.edu\")) \
         ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) \
         NIL NIL \"<B27397-0100000@cac.washington.edu>\"))\r\n"
    );
    // 32 octets of body, 3 lines, as RFC 3501 §8 shapes it.
    assert_eq!(
        body_line(&m),
        "* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 32 3))\r\n"
    );
    assert_eq!(
        bodystructure_line(&m),
        "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 32 3 NIL NIL NIL NIL))\r\n"
    );
}

#[test]
fn missing_headers_are_nil_and_defaults_apply() {
    let raw = crlf("X-Nothing: here\n\nbody\n");
    let m = ParsedMessage::parse(&raw);
    assert_eq!(
        envelope_line(&m),
        "* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"
    );
    assert_eq!(
        body_line(&m),
        "* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 6 1))\r\n"
    );
    assert_eq!(m.sent_date(), None);
}

#[test]
fn empty_subject_is_empty_string_and_sender_reply_to_default_to_from() {
    let raw = crlf("From: a@b.example\nSender:\nSubject:\n\nx");
    let e = ParsedMessage::parse(&raw).envelope();
    assert_eq!(e.subject.0.as_ref().unwrap().as_bytes(), b"");
    assert_eq!(e.sender, e.from);
    assert_eq!(e.reply_to, e.from);
    assert!(e.from.is_some());
}

#[test]
fn encoded_words_stay_raw_and_groups_are_marked() {
    let raw = crlf(
        "From: =?UTF-8?Q?Andr=C3=A9?= <andre@example.org>
Subject: =?ISO-8859-1?Q?caf=E9?=
 continued
To: undisclosed-recipients:;
Cc: Team: alice@example.org, \"Bob B.\" <bob@example.org>;, carol@example.org (Carol C)
Reply-To: <@relay.example:dave@example.org>
In-Reply-To: <x@y>

",
    );
    let m = ParsedMessage::parse(&raw);
    assert_eq!(
        envelope_line(&m),
        "* 1 FETCH (ENVELOPE (NIL \"=?ISO-8859-1?Q?caf=E9?= continued\" \
         ((\"=?UTF-8?Q?Andr=C3=A9?=\" NIL \"andre\" \"example.org\")) \
         ((\"=?UTF-8?Q?Andr=C3=A9?=\" NIL \"andre\" \"example.org\")) \
         ((NIL \"@relay.example\" \"dave\" \"example.org\")) \
         ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) \
         ((NIL NIL \"Team\" NIL)(NIL NIL \"alice\" \"example.org\")(\"Bob B.\" NIL \"bob\" \"example.org\")(NIL NIL NIL NIL)\
         (\"Carol C\" NIL \"carol\" \"example.org\")) \
         NIL \"<x@y>\" NIL))\r\n"
    );
}

#[test]
fn eight_bit_header_values_become_literals() {
    let raw = "Subject: café\r\n\r\n".as_bytes().to_vec();
    let e = ParsedMessage::parse(&raw).envelope();
    let s = e.subject.0.unwrap();
    assert!(matches!(s, IString::Literal(_)));
    assert_eq!(s.as_bytes(), "café".as_bytes());
}

fn alternative() -> Vec<u8> {
    crlf(
        "From: a@example.org
Subject: alt
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=\"b1\"

preamble
--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

caf=C3=A9 au lait
--b1
Content-Type: text/html; charset=utf-8

<p>hi</p>
--b1--
epilogue
",
    )
}

#[test]
fn multipart_alternative_structure() {
    let raw = alternative();
    let m = ParsedMessage::parse(&raw);
    assert_eq!(
        body_line(&m),
        "* 1 FETCH (BODY ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 17 1)\
         (\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 9 1) \"alternative\"))\r\n"
    );
    assert_eq!(
        bodystructure_line(&m),
        "* 1 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 17 1 NIL NIL NIL NIL)\
         (\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 9 1 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"b1\") NIL NIL NIL))\r\n"
    );
    assert_eq!(&m.section(&section(&[1], None))[..], b"caf=C3=A9 au lait");
    assert_eq!(&m.section(&section(&[2], None))[..], b"<p>hi</p>");
    assert_eq!(
        &m.section(&section(&[2], Some(SectionText::Mime)))[..],
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
    );
    assert_eq!(&m.section(&section(&[3], None))[..], b"");
    assert_eq!(&m.section(&section(&[1, 1], None))[..], b"");
    assert_eq!(&m.binary(&[1]).unwrap()[..], "café au lait".as_bytes());
    assert_eq!(m.binary(&[4]), Err(BinaryError::NoSuchPart));
}

fn mixed_with_attachment() -> Vec<u8> {
    crlf(
        "From: a@example.org
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: text/plain

see attached
--outer
Content-Type: application/pdf; name=\"r.pdf\"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename=\"r.pdf\"
Content-ID: <pdf1@x>
Content-Description: The report
Content-Language: en, fr
Content-Location: http://example.org/r.pdf

aGVs
bG8=
--outer
Content-Type: application/x-odd
Content-Transfer-Encoding: x-uuencode

begin
--outer--
",
    )
}

#[test]
fn multipart_mixed_with_base64_attachment() {
    let raw = mixed_with_attachment();
    let m = ParsedMessage::parse(&raw);
    assert_eq!(
        bodystructure_line(&m),
        "* 1 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 12 1 NIL NIL NIL NIL)\
         (\"application\" \"pdf\" (\"name\" \"r.pdf\") \"<pdf1@x>\" \"The report\" \"base64\" 10 NIL \
         (\"attachment\" (\"filename\" \"r.pdf\")) (\"en\" \"fr\") \"http://example.org/r.pdf\")\
         (\"application\" \"x-odd\" NIL NIL NIL \"x-uuencode\" 5 NIL NIL NIL NIL) \
         \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL))\r\n"
    );
    let bs = m.body_structure(true);
    let pdf = &bs.parts()[1];
    assert_eq!(pdf.disposition().unwrap().0, b"attachment");
    assert_eq!(&m.binary(&[2]).unwrap()[..], b"hello");
    assert_eq!(&m.section(&section(&[2], None))[..], b"aGVs\r\nbG8=");
    assert_eq!(m.binary(&[3]), Err(BinaryError::UnknownEncoding));
    assert_eq!(&m.binary(&[1]).unwrap()[..], b"see attached");
    // BINARY[] is the whole message.
    assert_eq!(&m.binary(&[]).unwrap()[..], &raw[..]);
}

fn nested() -> Vec<u8> {
    crlf(
        "From: outer@example.org
Subject: fwd
Content-Type: multipart/mixed; boundary=\"o\"

--o
Content-Type: text/plain

cover
--o
Content-Type: message/rfc822

From: inner@example.org
Subject: inner
Content-Type: multipart/alternative; boundary=\"i\"

--i
Content-Type: text/plain

inner text
--i
Content-Type: text/html

<b>x</b>
--i--
--o--
",
    )
}

#[test]
fn nested_message_structure_and_sections() {
    let raw = nested();
    let m = ParsedMessage::parse(&raw);
    assert_eq!(
        body_line(&m),
        "* 1 FETCH (BODY ((\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 5 1)\
         (\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 186 \
         (NIL \"inner\" ((NIL NIL \"inner\" \"example.org\")) ((NIL NIL \"inner\" \"example.org\")) ((NIL NIL \"inner\" \"example.org\")) NIL NIL NIL NIL NIL) \
         ((\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 10 1)(\"text\" \"html\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 8 1) \"alternative\") 13) \"mixed\"))\r\n"
    );
    let inner_header =
        b"From: inner@example.org\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=\"i\"\r\n\r\n";
    assert_eq!(
        &m.section(&section(&[2], Some(SectionText::Header)))[..],
        &inner_header[..]
    );
    assert_eq!(
        &m.section(&section(&[2], Some(SectionText::Mime)))[..],
        b"Content-Type: message/rfc822\r\n\r\n"
    );
    assert_eq!(&m.section(&section(&[2, 1], None))[..], b"inner text");
    assert_eq!(&m.section(&section(&[2, 2], None))[..], b"<b>x</b>");
    assert_eq!(
        &m.section(&section(&[2, 2], Some(SectionText::Mime)))[..],
        b"Content-Type: text/html\r\n\r\n"
    );
    assert!(
        m.section(&section(&[2], Some(SectionText::Text)))
            .starts_with(b"--i\r\n")
    );
    assert_eq!(
        &m.section(&section(
            &[2],
            Some(SectionText::HeaderFields(names(&["subject"])))
        ))[..],
        b"Subject: inner\r\n\r\n"
    );
    // HEADER of a non-message part is empty.
    assert_eq!(
        &m.section(&section(&[1], Some(SectionText::Header)))[..],
        b""
    );
    // The whole body part 2 is the encapsulated message.
    assert!(m.section(&section(&[2], None)).starts_with(b"From: inner@"));
}

#[test]
fn nested_non_multipart_message_part_1_is_its_body() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=x

--x
Content-Type: message/rfc822

Subject: s

just text
--x--
",
    );
    let m = ParsedMessage::parse(&raw);
    assert_eq!(&m.section(&section(&[1, 1], None))[..], b"just text");
    assert_eq!(&m.section(&section(&[1, 1, 1], None))[..], b"");
    assert_eq!(&m.section(&section(&[1, 2], None))[..], b"");
}

#[test]
fn top_level_sections() {
    let raw = rfc3501_example();
    let m = ParsedMessage::parse(&raw);
    let header = m.section(&section(&[], Some(SectionText::Header)));
    assert!(header.starts_with(b"Date: Wed"));
    assert!(header.ends_with(b"CHARSET=US-ASCII\r\n\r\n"));
    assert_eq!(
        &m.section(&section(&[], Some(SectionText::Text)))[..],
        b"line one\r\nline two\r\nline three\r\n"
    );
    assert_eq!(&m.section(&section(&[], None))[..], &raw[..]);
    // A non-multipart message's part 1 is its body.
    assert_eq!(
        &m.section(&section(&[1], None))[..],
        b"line one\r\nline two\r\nline three\r\n"
    );
    assert_eq!(&m.section(&section(&[2], None))[..], b"");
    assert_eq!(
        &m.section(&section(
            &[],
            Some(SectionText::HeaderFields(names(&["FROM", "cc", "nothing"])))
        ))[..],
        &b"From: Terry Gray <gray@cac.washington.edu>\r\ncc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\r\n"[..]
    );
    let not = m.section(&section(
        &[],
        Some(SectionText::HeaderFieldsNot(names(&[
            "date",
            "from",
            "subject",
            "to",
            "cc",
            "message-id",
        ]))),
    ));
    assert_eq!(
        &not[..],
        b"MIME-Version: 1.0\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n"
    );
    // Folded fields keep their continuation lines.
    let raw = crlf("Subject: a\n b\nX: y\n\nz");
    let m = ParsedMessage::parse(&raw);
    assert_eq!(
        &m.section(&section(
            &[],
            Some(SectionText::HeaderFields(names(&["subject"])))
        ))[..],
        b"Subject: a\r\n b\r\n\r\n"
    );
    // MIME needs a part.
    assert_eq!(&m.section(&section(&[], Some(SectionText::Mime)))[..], b"");
}

#[test]
fn message_without_body_separator() {
    let raw = b"Subject: only header\r\n".to_vec();
    let m = ParsedMessage::parse(&raw);
    assert_eq!(&m.section(&section(&[], Some(SectionText::Text)))[..], b"");
    assert_eq!(
        &m.section(&section(&[], Some(SectionText::Header)))[..],
        &raw[..]
    );
    assert_eq!(m.envelope().subject.0.unwrap().as_bytes(), b"only header");
}

#[test]
fn multipart_without_boundary_is_text_and_empty_multipart_gets_a_part() {
    let raw = crlf("Content-Type: multipart/mixed\n\nhello\n");
    let m = ParsedMessage::parse(&raw);
    assert!(body_line(&m).starts_with("* 1 FETCH (BODY (\"TEXT\" \"PLAIN\""));
    let raw = crlf("Content-Type: multipart/mixed; boundary=zz\n\nno parts at all\n");
    let m = ParsedMessage::parse(&raw);
    assert_eq!(m.body_structure(false).parts().len(), 1);
    // The structure still serializes to something the response parser accepts.
    body_line(&m);
}

#[test]
fn unclosed_multipart_ends_at_body_end_and_digest_defaults_to_message() {
    let raw = crlf(
        "Content-Type: multipart/digest; boundary=d

--d

Subject: one

1
--d

Subject: two

2
",
    );
    let m = ParsedMessage::parse(&raw);
    let bs = m.body_structure(false);
    assert_eq!(bs.parts().len(), 2);
    for p in bs.parts() {
        let BodyStructure::Single {
            media_type,
            specific,
            ..
        } = p
        else {
            panic!()
        };
        assert_eq!(media_type.as_bytes(), b"MESSAGE");
        assert!(matches!(specific, SinglePartKind::Message { .. }));
    }
    assert_eq!(&m.section(&section(&[2, 1], None))[..], b"2\r\n");
    assert_eq!(
        &m.section(&section(&[1], Some(SectionText::Header)))[..],
        b"Subject: one\r\n\r\n"
    );
    body_line(&m);
}

#[test]
fn sent_date_is_the_date_as_written() {
    let raw = crlf("Date: Mon, 01 Jan 2024 23:30:00 -0500\n\nx");
    let m = ParsedMessage::parse(&raw);
    assert_eq!(m.sent_date(), Some(Date::new(2024, 1, 1).unwrap()));
    let raw = crlf("Date: not a date\n\nx");
    assert_eq!(ParsedMessage::parse(&raw).sent_date(), None);
}

#[test]
fn bare_lf_messages_are_tolerated() {
    let raw =
        b"Subject: lf\nContent-Type: multipart/mixed; boundary=q\n\n--q\n\nA\n--q\n\nB\n--q--\n"
            .to_vec();
    let m = ParsedMessage::parse(&raw);
    assert_eq!(&m.section(&section(&[1], None))[..], b"A");
    assert_eq!(&m.section(&section(&[2], None))[..], b"B");
    assert_eq!(m.envelope().subject.0.unwrap().as_bytes(), b"lf");
}

// ---- SEARCH ----

fn meta(uid: u32, flags: Vec<Flag<'static>>, size: u64, date: (u16, u8, u8)) -> MessageMeta {
    MessageMeta {
        uid,
        flags,
        internal_date: DateTime::new(Date::new(date.0, date.1, date.2).unwrap(), 12, 0, 0, 0)
            .unwrap(),
        size,
    }
}

fn key(s: &str) -> SearchKey<'static> {
    let line = format!("A1 SEARCH {s}\r\n");
    let (cmd, _) = parse::command(line.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"));
    match cmd.into_owned().body {
        CommandBody::Search { criteria, .. } => {
            if criteria.len() == 1 {
                criteria.into_iter().next().unwrap()
            } else {
                SearchKey::And(criteria)
            }
        }
        other => panic!("{other:?}"),
    }
}

struct Case {
    raw: Vec<u8>,
    meta: MessageMeta,
}

impl Case {
    fn matches(&self, k: &str, seq: u32, recent: bool) -> bool {
        let parsed = ParsedMessage::parse(&self.raw);
        let k = key(k);
        let ctx = SearchContext {
            seq,
            max_seq: 5,
            max_uid: 40,
            meta: &self.meta,
            message: search_needs_content(&k).then_some(&parsed),
            recent,
        };
        search_matches(&k, &ctx)
    }
}

fn search_case() -> Case {
    let raw = crlf(
        "Date: Tue, 05 Mar 2024 01:00:00 +1100
From: =?UTF-8?Q?Andr=C3=A9_Z?= <andre@example.org>
To: Team <team@example.org>
Cc: carol@example.org
Bcc: secret@example.org
Subject: =?ISO-8859-1?Q?R=E9union?= planning
X-Custom: Blue Sky
Content-Type: multipart/mixed; boundary=s

--s
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 at noon
--s
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

c2VjcmV0IHdvcmQ=
--s--
",
    );
    let size = raw.len() as u64;
    Case {
        raw,
        meta: meta(
            30,
            vec![
                Flag::Seen,
                Flag::Flagged,
                Flag::new("$Work").unwrap().into_owned(),
            ],
            size,
            (2024, 3, 4),
        ),
    }
}

#[test]
fn search_flags_and_keywords() {
    let c = search_case();
    for (k, want) in [
        ("ALL", true),
        ("SEEN", true),
        ("UNSEEN", false),
        ("FLAGGED", true),
        ("UNFLAGGED", false),
        ("ANSWERED", false),
        ("UNANSWERED", true),
        ("DELETED", false),
        ("UNDELETED", true),
        ("DRAFT", false),
        ("UNDRAFT", true),
        ("KEYWORD $work", true),
        ("KEYWORD $Home", false),
        ("UNKEYWORD $Work", false),
        ("UNKEYWORD $Home", true),
    ] {
        assert_eq!(c.matches(k, 3, false), want, "{k}");
    }
}

#[test]
fn search_recent_new_old() {
    let mut c = search_case();
    assert!(c.matches("RECENT", 1, true));
    assert!(!c.matches("RECENT", 1, false));
    assert!(c.matches("OLD", 1, false));
    assert!(!c.matches("OLD", 1, true));
    assert!(!c.matches("NEW", 1, true), "seen messages are not new");
    c.meta.flags.clear();
    assert!(c.matches("NEW", 1, true));
}

#[test]
fn search_dates_sizes_and_sets() {
    let c = search_case();
    let size = c.meta.size;
    for (k, want) in [
        // Internal date 4-Mar-2024.
        ("BEFORE 4-Mar-2024", false),
        ("BEFORE 5-Mar-2024", true),
        ("ON 4-Mar-2024", true),
        ("SINCE 4-Mar-2024", true),
        ("SINCE 5-Mar-2024", false),
        // Sent date 5-Mar-2024 as written (+1100), though it is 4-Mar in UTC.
        ("SENTON 5-Mar-2024", true),
        ("SENTON 4-Mar-2024", false),
        ("SENTBEFORE 5-Mar-2024", false),
        ("SENTBEFORE 6-Mar-2024", true),
        ("SENTSINCE 5-Mar-2024", true),
        ("SENTSINCE 6-Mar-2024", false),
        (&format!("LARGER {}", size - 1), true),
        (&format!("LARGER {size}"), false),
        (&format!("SMALLER {}", size + 1), true),
        (&format!("SMALLER {size}"), false),
        ("UID 30", true),
        ("UID 1:29,31:*", false),
        ("UID *", false),
        ("UID 29:*", true),
        ("3", true),
        ("1,2,4:*", false),
        ("*", false),
        ("2:*", true),
        ("NOT 3", false),
        ("OR 1 3", true),
        ("OR 1 2", false),
        ("(3 SEEN)", true),
        ("(3 UNSEEN)", false),
        ("SEEN FLAGGED UID 30", true),
    ] {
        assert_eq!(c.matches(k, 3, false), want, "{k}");
    }
    // `*` is the largest: message 5 of 5, uid 40 of 40.
    let mut last = search_case();
    last.meta.uid = 40;
    assert!(last.matches("*", 5, false));
    assert!(last.matches("UID *", 5, false));
}

#[test]
fn search_headers_and_text() {
    let c = search_case();
    for (k, want) in [
        ("FROM andre@example", true),
        ("FROM \"ANDRÉ\"", true), // decoded encoded word, case-insensitive
        ("FROM \"andré z\"", true),
        ("FROM carol", false),
        ("TO team", true),
        ("CC CAROL", true),
        ("BCC secret", true),
        ("SUBJECT \"réunion\"", true),
        ("SUBJECT planning", true),
        ("SUBJECT R=E9union", true), // the raw form matches too
        ("SUBJECT meeting", false),
        ("HEADER X-Custom \"blue sky\"", true),
        ("HEADER x-custom \"\"", true),
        ("HEADER X-Missing \"\"", false),
        ("HEADER X-Custom green", false),
        ("BODY \"café\"", true),
        ("BODY noon", true),
        ("BODY secret", false), // a base64 binary part is not decoded for search
        ("BODY planning", false), // header text is not body
        ("TEXT planning", true),
        ("TEXT noon", true),
        ("TEXT nowhere", false),
        ("NOT BODY \"café\"", false),
        ("OR SUBJECT nope BODY noon", true),
    ] {
        assert_eq!(c.matches(k, 3, false), want, "{k}");
    }
}

#[test]
fn content_keys_need_the_message() {
    assert!(search_needs_content(&key("BODY x")));
    assert!(search_needs_content(&key("NOT (SEEN OR 1 SUBJECT y)")));
    assert!(search_needs_content(&key("SENTON 1-Jan-2020")));
    assert!(!search_needs_content(&key("OR SEEN (UID 1:* LARGER 5)")));
    assert!(!search_needs_content(&key("SINCE 1-Jan-2020")));
    // Without the message, content keys do not match.
    let c = search_case();
    let k = key("SUBJECT planning");
    let ctx = SearchContext {
        seq: 1,
        max_seq: 1,
        max_uid: 30,
        meta: &c.meta,
        message: None,
        recent: false,
    };
    assert!(!search_matches(&k, &ctx));
}

#[test]
fn section_borrows_when_it_can() {
    let raw = rfc3501_example();
    let m = ParsedMessage::parse(&raw);
    assert!(matches!(
        m.section(&section(&[], Some(SectionText::Text))),
        Cow::Borrowed(_)
    ));
}

// ---- Robustness ----

fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"Content-Type: multipart/mixed; boundary=b\r\n".to_vec()),
        Just(b"Content-Type: message/rfc822\r\n".to_vec()),
        Just(b"Content-Type: multipart/digest; boundary=\"b\"\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec()),
        Just(b"From: \"a\\\" (b\" <@x,@y:c@d>, g: h@i;, (((\r\n".to_vec()),
        Just(b"To: <>, ;;, :::, @@@\r\n".to_vec()),
        Just(b"Date: Mon, 31 Feb 99999 25:61:61 +9999\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"--b\r\n".to_vec()),
        Just(b"--b--\r\n".to_vec()),
        Just(b" folded\r\n".to_vec()),
        Just(b"=\r\n=4".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

fn exercise(raw: &[u8]) {
    let m = ParsedMessage::parse(raw);
    let _ = m.envelope();
    let bs = m.body_structure(true);
    let _ = m.body_structure(false);
    let _ = m.sent_date();
    // What the server writes must serialize and parse back.
    fetch_line(vec![
        MsgAtt::BodyStructure(bs.into()),
        MsgAtt::Envelope(m.envelope().into()),
    ]);
    for part in [&[][..], &[1], &[2], &[1, 1], &[1, 2, 1], &[3, 1, 1, 1]] {
        let _ = m.binary(part);
        for text in [
            None,
            Some(SectionText::Header),
            Some(SectionText::Text),
            Some(SectionText::Mime),
            Some(SectionText::HeaderFields(names(&["from", "subject"]))),
            Some(SectionText::HeaderFieldsNot(names(&["from"]))),
        ] {
            let s = m.section(&section(part, text));
            assert!(s.len() <= raw.len() + 2 * raw.len() / 2 + 2);
        }
    }
    let meta = meta(1, vec![], raw.len() as u64, (2020, 1, 1));
    for k in [
        "TEXT a",
        "BODY b",
        "HEADER from x",
        "SENTON 1-Jan-2020",
        "FROM a",
    ] {
        let k = key(k);
        let ctx = SearchContext {
            seq: 1,
            max_seq: 1,
            max_uid: 1,
            meta: &meta,
            message: Some(&m),
            recent: false,
        };
        let _ = search_matches(&k, &ctx);
    }
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(raw in proptest::collection::vec(any::<u8>(), 0..600)) {
        exercise(&raw);
    }

    #[test]
    fn never_panics_on_mime_shaped_bytes(frags in proptest::collection::vec(fragment(), 0..40)) {
        exercise(&frags.concat());
    }
}

#[test]
fn deep_nesting_is_bounded() {
    let mut raw = Vec::new();
    for i in 0..200 {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
        );
    }
    raw.extend_from_slice(b"\r\nleaf\r\n");
    let m = ParsedMessage::parse(&raw);
    exercise(&raw);
    let mut depth = 0;
    let mut b = m.body_structure(false);
    while let BodyStructure::Multi { mut parts, .. } = b {
        depth += 1;
        b = parts.remove(0);
    }
    assert!(depth <= 40, "{depth}");
    let raw = b"Content-Type: message/rfc822\r\n\r\n".repeat(500);
    exercise(&raw);
}

#[test]
fn extension_details_as_dovecot_writes_them() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=m
Content-Language: de

--m
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.txt
Content-Language: en

x
--m
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain

a
--inner--
--m--
",
    );
    let m = ParsedMessage::parse(&raw);
    assert_eq!(
        bodystructure_line(&m),
        "* 1 FETCH (BODYSTRUCTURE ((\"application\" \"octet-stream\" NIL NIL NIL \"7BIT\" 1 NIL \
         (\"attachment\" (\"filename*\" \"utf-8''%E2%82%AC.txt\")) (\"en\") NIL)\
         ((\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1 1 NIL NIL NIL NIL) \"alternative\" \
         (\"boundary\" \"inner\") NIL NIL NIL) \"mixed\" (\"boundary\" \"m\") NIL (\"de\") NIL))\r\n"
    );
    // A multipart part's content is its whole body, boundaries included.
    assert_eq!(
        &m.section(&section(&[2], None))[..],
        b"--inner\r\nContent-Type: text/plain\r\n\r\na\r\n--inner--"
    );
    assert_eq!(&m.section(&section(&[2, 1], None))[..], b"a");
    // BINARY of a multipart is its body as is.
    assert_eq!(m.binary(&[2]).unwrap(), m.section(&section(&[2], None)));
}

#[test]
fn encoded_message_part_keeps_a_well_formed_structure() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=z

--z
Content-Type: message/rfc822
Content-Transfer-Encoding: base64

U3ViamVjdDogeAoKeQo=
--z--
",
    );
    let m = ParsedMessage::parse(&raw);
    let line = body_line(&m);
    assert!(line.contains("\"message\" \"rfc822\" NIL NIL NIL \"base64\" 20 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"), "{line}");
    assert_eq!(&m.binary(&[1]).unwrap()[..], b"Subject: x\n\ny\n");
    assert_eq!(&m.section(&section(&[1, 1], None))[..], b"");
}
