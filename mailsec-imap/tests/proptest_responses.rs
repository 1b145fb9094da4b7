//! Round-trip properties for responses: parse(serialize(v)) == v on generated values, and
//! serialize(parse(b)) == b on canonical bytes; truncated or mutated responses never panic.

use std::borrow::Cow;
use std::num::NonZeroU32;

use bytes::BytesMut;
use mailsec_imap::parse;
use mailsec_imap::serialize;
use mailsec_imap::types::*;
use proptest::prelude::*;

fn chars_where(f: fn(u8) -> bool) -> Vec<char> {
    (1u8..0x7f).filter(|&b| f(b)).map(char::from).collect()
}
fn is_atom(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b)
}
fn token(f: fn(u8) -> bool, max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(chars_where(f)), 1..max)
        .prop_map(|v| v.into_iter().collect())
}
fn tag() -> impl Strategy<Value = Tag<'static>> {
    token(|b| (is_atom(b) || b == b']') && b != b'+', 8).prop_map(|t| Tag::new(t).unwrap())
}
fn atom() -> impl Strategy<Value = Atom<'static>> {
    token(is_atom, 10).prop_map(|t| Atom::new(t).unwrap())
}
fn x_atom() -> impl Strategy<Value = Atom<'static>> {
    token(is_atom, 8).prop_map(|t| Atom::new(format!("X-{t}")).unwrap())
}
fn quoted() -> impl Strategy<Value = Quoted<'static>> {
    "[^\r\n\0]{0,10}".prop_map(|s| Quoted::new(s.into_bytes()).unwrap())
}
fn literal() -> impl Strategy<Value = Literal<'static>> {
    (
        prop::collection::vec(1u8.., 0..40),
        prop_oneof![Just(LiteralMode::Sync), Just(LiteralMode::NonSync)],
    )
        .prop_map(|(v, m)| Literal::new(v, m).unwrap())
}
fn istring() -> impl Strategy<Value = IString<'static>> {
    prop_oneof![
        3 => quoted().prop_map(IString::Quoted),
        1 => literal().prop_map(IString::Literal),
    ]
}
fn nstring() -> impl Strategy<Value = NString<'static>> {
    prop_oneof![1 => Just(NString(None)), 4 => istring().prop_map(|s| NString(Some(s)))]
}
fn astring() -> impl Strategy<Value = AString<'static>> {
    prop_oneof![
        token(|b| is_atom(b) || b == b']', 10).prop_map(|t| AString::atom(t).unwrap()),
        istring().prop_map(AString::String),
    ]
}
fn mailbox() -> impl Strategy<Value = Mailbox<'static>> {
    prop_oneof![
        1 => Just(Mailbox::Inbox),
        5 => astring().prop_map(Mailbox::new),
    ]
}
fn nz() -> impl Strategy<Value = NonZeroU32> {
    prop_oneof![1u32..20, 1u32..].prop_map(|n| NonZeroU32::new(n).unwrap())
}
fn n64() -> impl Strategy<Value = u64> {
    0u64..=i64::MAX as u64
}
fn sequence_set() -> impl Strategy<Value = SequenceSet> {
    let n = prop_oneof![nz().prop_map(SeqNumber::Value), Just(SeqNumber::Largest)];
    prop::collection::vec(
        prop_oneof![
            n.clone().prop_map(SeqRange::Single),
            (n.clone(), n).prop_map(|(a, b)| SeqRange::Range(a, b)),
        ],
        1..4,
    )
    .prop_map(|v| SequenceSet::new(v).unwrap())
}
fn flag() -> impl Strategy<Value = Flag<'static>> {
    prop_oneof![
        Just(Flag::Answered),
        Just(Flag::Seen),
        Just(Flag::Recent),
        atom().prop_map(Flag::Keyword),
        x_atom().prop_map(Flag::Extension),
    ]
}
fn capability() -> impl Strategy<Value = Capability<'static>> {
    prop_oneof![
        atom().prop_map(Capability::from_atom),
        Just(Capability::Imap4rev2),
        Just(Capability::LiteralPlus),
    ]
}
fn date_time() -> impl Strategy<Value = DateTime> {
    (
        0u16..=9999,
        1u8..=12,
        1u8..=28,
        0u8..24,
        0u8..60,
        0u8..60,
        -5999i16..=5999,
    )
        .prop_filter_map("valid", |(y, mo, d, h, m, s, z)| {
            DateTime::new(Date::new(y, mo, d).ok()?, h, m, s, z).ok()
        })
}
/// `text`: no CR/LF/NUL, not empty, not starting with `[`.
fn text() -> impl Strategy<Value = Cow<'static, [u8]>> {
    prop::collection::vec(1u8.., 1..30).prop_filter_map("text", |v| {
        let v: Vec<u8> = v
            .into_iter()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect();
        (!v.is_empty() && v[0] != b'[').then_some(Cow::Owned(v))
    })
}
fn code() -> impl Strategy<Value = Code<'static>> {
    prop_oneof![
        prop::sample::select(vec![
            SimpleCode::Alert,
            SimpleCode::ReadOnly,
            SimpleCode::ReadWrite,
            SimpleCode::TryCreate,
            SimpleCode::Closed,
            SimpleCode::TooBig,
            SimpleCode::UnknownCte,
        ])
        .prop_map(Code::Simple),
        prop::collection::vec(astring(), 0..3).prop_map(Code::BadCharset),
        prop::collection::vec(capability(), 1..4).prop_map(Code::Capability),
        prop::collection::vec(
            prop_oneof![flag().prop_map(FlagPerm::Flag), Just(FlagPerm::Wildcard)],
            0..4
        )
        .prop_map(Code::PermanentFlags),
        nz().prop_map(Code::UidNext),
        nz().prop_map(Code::UidValidity),
        nz().prop_map(Code::Unseen),
        n64().prop_map(Code::HighestModSeq),
        sequence_set().prop_map(Code::Modified),
        (nz(), sequence_set()).prop_map(|(validity, uids)| Code::AppendUid { validity, uids }),
        (nz(), sequence_set(), sequence_set()).prop_map(|(validity, from, to)| Code::CopyUid {
            validity,
            from,
            to
        }),
        (x_atom(), prop::option::of("[^\r\n\0\\]]{0,10}")).prop_map(|(name, t)| Code::Other {
            name,
            text: t.map(|t| Cow::Owned(t.into_bytes())),
        }),
    ]
}
fn status() -> impl Strategy<Value = Response<'static>> {
    let kind = prop::sample::select(vec![
        StatusKind::Ok,
        StatusKind::No,
        StatusKind::Bad,
        StatusKind::Preauth,
        StatusKind::Bye,
    ]);
    (
        prop::option::of(tag()),
        kind,
        prop::option::of(code()),
        prop_oneof![3 => text(), 1 => Just(Cow::Borrowed(&b""[..]))],
    )
        .prop_map(|(tag, kind, code, text)| {
            let kind = if tag.is_some() && matches!(kind, StatusKind::Preauth | StatusKind::Bye) {
                StatusKind::Ok
            } else {
                kind
            };
            Response::Status {
                tag,
                kind,
                code,
                text,
            }
        })
}
fn address() -> impl Strategy<Value = Address<'static>> {
    (nstring(), nstring(), nstring(), nstring()).prop_map(|(name, adl, mailbox, host)| Address {
        name,
        adl,
        mailbox,
        host,
    })
}
fn addresses() -> impl Strategy<Value = Option<Vec<Address<'static>>>> {
    prop::option::of(prop::collection::vec(address(), 1..3))
}
fn envelope() -> impl Strategy<Value = Envelope<'static>> {
    (
        (nstring(), nstring(), addresses(), addresses(), addresses()),
        (addresses(), addresses(), addresses(), nstring(), nstring()),
    )
        .prop_map(
            |((date, subject, from, sender, reply_to), (to, cc, bcc, in_reply_to, message_id))| {
                Envelope {
                    date,
                    subject,
                    from,
                    sender,
                    reply_to,
                    to,
                    cc,
                    bcc,
                    in_reply_to,
                    message_id,
                }
            },
        )
}
fn ext_value() -> impl Strategy<Value = ExtValue<'static>> {
    let leaf = prop_oneof![
        Just(ExtValue::Nil),
        n64().prop_map(ExtValue::Number),
        istring().prop_map(ExtValue::String),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(ExtValue::List)
    })
}
fn params() -> impl Strategy<Value = BodyParams<'static>> {
    prop::option::of(prop::collection::vec((istring(), nstring()), 1..3))
}
fn single_part(ext: bool) -> impl Strategy<Value = BodyStructure<'static>> {
    (
        prop_oneof![
            Just(("TEXT", SinglePartKind::Text { lines: 3 })),
            Just(("IMAGE", SinglePartKind::Basic)),
        ],
        istring(),
        params(),
        nstring(),
        nstring(),
        istring(),
        any::<u32>(),
        prop::collection::vec(ext_value(), if ext { 0..4 } else { 0..1 }),
    )
        .prop_map(
            |((mt, specific), subtype, params, id, description, encoding, octets, extension)| {
                BodyStructure::Single {
                    media_type: IString::Quoted(Quoted::new(mt.as_bytes().to_vec()).unwrap()),
                    subtype,
                    params,
                    id,
                    description,
                    encoding,
                    octets,
                    specific,
                    extension,
                }
            },
        )
}
fn body(ext: bool) -> impl Strategy<Value = BodyStructure<'static>> {
    single_part(ext).prop_recursive(3, 10, 3, move |inner| {
        prop_oneof![
            (
                prop::collection::vec(inner.clone(), 1..3),
                istring(),
                prop::collection::vec(ext_value(), if ext { 0..3 } else { 0..1 }),
            )
                .prop_map(|(parts, subtype, extension)| BodyStructure::Multi {
                    parts,
                    subtype,
                    extension,
                }),
            (envelope(), inner, any::<u32>(), any::<u32>()).prop_map(|(e, b, octets, lines)| {
                BodyStructure::Single {
                    media_type: IString::Quoted(Quoted::new(&b"MESSAGE"[..]).unwrap()),
                    subtype: IString::Quoted(Quoted::new(&b"RFC822"[..]).unwrap()),
                    params: None,
                    id: NString(None),
                    description: NString(None),
                    encoding: IString::Quoted(Quoted::new(&b"7BIT"[..]).unwrap()),
                    octets,
                    specific: SinglePartKind::Message {
                        envelope: Box::new(e),
                        body: Box::new(b),
                        lines,
                    },
                    extension: Vec::new(),
                }
            }),
        ]
    })
}
fn section() -> impl Strategy<Value = Section<'static>> {
    (
        prop::collection::vec(nz(), 0..3),
        prop_oneof![
            Just(None),
            Just(Some(SectionText::Header)),
            Just(Some(SectionText::Text)),
            prop::collection::vec(astring(), 1..3).prop_map(|v| Some(SectionText::HeaderFields(v))),
        ],
    )
        .prop_map(|(part, text)| Section { part, text })
}
fn msg_att() -> impl Strategy<Value = MsgAtt<'static>> {
    prop_oneof![
        prop::collection::vec(flag(), 0..4).prop_map(|f| MsgAtt::Flags(f.into())),
        nz().prop_map(MsgAtt::Uid),
        n64().prop_map(MsgAtt::Rfc822Size),
        date_time().prop_map(MsgAtt::InternalDate),
        envelope().prop_map(|e| MsgAtt::Envelope(e.into())),
        body(true).prop_map(|b| MsgAtt::BodyStructure(b.into())),
        body(false).prop_map(|b| MsgAtt::Body(b.into())),
        (section(), prop::option::of(any::<u32>()), nstring()).prop_map(
            |(section, origin, data)| MsgAtt::BodySection {
                section,
                origin,
                data
            }
        ),
        (
            prop::collection::vec(nz(), 0..3),
            prop::collection::vec(any::<u8>(), 0..20)
        )
            .prop_map(|(part, d)| MsgAtt::Binary {
                part,
                origin: None,
                data: Some(Literal::binary(d, LiteralMode::Sync)),
            }),
        n64().prop_map(MsgAtt::ModSeq),
    ]
}
fn data() -> impl Strategy<Value = Data<'static>> {
    let attr = x_atom().prop_map(MailboxAttribute);
    prop_oneof![
        prop::collection::vec(capability(), 0..5).prop_map(Data::Capability),
        prop::collection::vec(capability(), 0..3).prop_map(Data::Enabled),
        (
            any::<bool>(),
            prop::collection::vec(attr, 0..3),
            prop::option::of(prop::sample::select(b"/.\\\"".to_vec())),
            mailbox(),
            prop::collection::vec((istring(), ext_value()), 0..2),
        )
            .prop_map(|(lsub, attributes, delimiter, mailbox, extended)| {
                Data::List(ListData {
                    lsub,
                    attributes,
                    delimiter,
                    mailbox,
                    extended,
                })
            }),
        (
            mailbox(),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        StatusItem::Messages,
                        StatusItem::UidNext,
                        StatusItem::Size,
                        StatusItem::HighestModSeq,
                    ]),
                    n64()
                ),
                0..4
            )
        )
            .prop_map(|(mailbox, items)| Data::Status { mailbox, items }),
        (prop::collection::vec(nz(), 0..5), prop::option::of(n64()))
            .prop_map(|(ids, modseq)| Data::Search { ids, modseq }),
        prop::collection::vec(flag(), 0..5).prop_map(Data::Flags),
        any::<u32>().prop_map(Data::Exists),
        any::<u32>().prop_map(Data::Recent),
        nz().prop_map(Data::Expunge),
        (any::<bool>(), sequence_set())
            .prop_map(|(earlier, uids)| Data::Vanished { earlier, uids }),
        (nz(), prop::collection::vec(msg_att(), 1..4))
            .prop_map(|(seq, items)| Data::Fetch { seq, items }),
    ]
}
fn response() -> impl Strategy<Value = Response<'static>> {
    prop_oneof![
        2 => status(),
        4 => data().prop_map(Response::Data),
        1 => (prop::option::of(code()), prop_oneof![text(), Just(Cow::Borrowed(&b""[..]))])
            .prop_map(|(code, text)| Response::Continuation { code, text }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_serialize_identity(r in response()) {
        let mut out = BytesMut::new();
        serialize::response(&r, &mut out);
        let (back, used) = parse::response(&out)
            .map_err(|e| TestCaseError::fail(format!("{e}: {:?}", String::from_utf8_lossy(&out))))?;
        prop_assert_eq!(used, out.len());
        prop_assert_eq!(&back, &r);
        prop_assert_eq!(&back.clone().into_owned(), &r);
        let mut again = BytesMut::new();
        serialize::response(&back, &mut again);
        prop_assert_eq!(&again[..], &out[..]);
    }

    #[test]
    fn truncated_or_mutated_never_panics(r in response(), cut in any::<prop::sample::Index>(), x in any::<u8>()) {
        let mut out = BytesMut::new();
        serialize::response(&r, &mut out);
        let i = cut.index(out.len());
        let _ = parse::response(&out[..i]);
        let mut m = out.to_vec();
        m[i] = x;
        if let Ok((r2, used)) = parse::response(&m) {
            prop_assert!(used <= m.len());
            // Whatever parses has a canonical form that parses back to it.
            let mut out2 = BytesMut::new();
            serialize::response(&r2, &mut out2);
            let (back, used2) = parse::response(&out2)
                .map_err(|e| TestCaseError::fail(format!("{e}: {:?}", String::from_utf8_lossy(&out2))))?;
            prop_assert_eq!(used2, out2.len());
            prop_assert_eq!(back, r2);
        }
    }
}
