//! Round-trip properties: parse(serialize(v)) == v for generated commands, and
//! serialize(parse(b)) == b on the canonical bytes; mutated commands never panic.

use std::borrow::Cow;
use std::num::{NonZeroU32, NonZeroU64};

use bytes::BytesMut;
use mailsec_imap::parse;
use mailsec_imap::serialize;
use mailsec_imap::types::*;
use proptest::prelude::*;
use proptest::strategy::Union;

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
/// An atom no known option name can match.
fn x_atom() -> impl Strategy<Value = Atom<'static>> {
    token(is_atom, 8).prop_map(|t| Atom::new(format!("X-{t}")).unwrap())
}
fn quoted() -> impl Strategy<Value = Quoted<'static>> {
    prop_oneof![
        prop::collection::vec(1u8..0x80, 0..20).prop_map(|v| v
            .into_iter()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect()),
        "[^\r\n\0]{0,10}".prop_map(String::into_bytes),
    ]
    .prop_map(|v: Vec<u8>| Quoted::new(v).unwrap())
}
fn mode() -> impl Strategy<Value = LiteralMode> {
    prop_oneof![Just(LiteralMode::Sync), Just(LiteralMode::NonSync)]
}
fn literal() -> impl Strategy<Value = Literal<'static>> {
    (prop::collection::vec(1u8.., 0..40), mode()).prop_map(|(v, m)| Literal::new(v, m).unwrap())
}
fn istring() -> impl Strategy<Value = IString<'static>> {
    prop_oneof![
        3 => quoted().prop_map(IString::Quoted),
        1 => literal().prop_map(IString::Literal),
    ]
}
fn astring() -> impl Strategy<Value = AString<'static>> {
    prop_oneof![
        token(|b| is_atom(b) || b == b']', 10).prop_map(|t| AString::atom(t).unwrap()),
        istring().prop_map(AString::String),
        prop::collection::vec(any::<u8>(), 0..20).prop_filter_map("NUL", |v| AString::new(v).ok()),
    ]
}
fn mailbox() -> impl Strategy<Value = Mailbox<'static>> {
    prop_oneof![
        1 => Just(Mailbox::Inbox),
        1 => "[iI][nN][bB][oO][xX]".prop_map(|s| Mailbox::new(AString::atom(s).unwrap())),
        5 => astring().prop_map(Mailbox::new),
        1 => "\\PC{1,8}".prop_map(|s| Mailbox::from_utf8(&s, false).unwrap()),
    ]
}
fn list_mailbox() -> impl Strategy<Value = ListMailbox<'static>> {
    prop_oneof![
        token(|b| is_atom(b) || b"]%*".contains(&b), 10)
            .prop_map(|t| ListMailbox::Token(Cow::Owned(t))),
        istring().prop_map(ListMailbox::String),
    ]
}
fn nz() -> impl Strategy<Value = NonZeroU32> {
    prop_oneof![1u32..20, 1u32..].prop_map(|n| NonZeroU32::new(n).unwrap())
}
fn nz64() -> impl Strategy<Value = NonZeroU64> {
    (1u64..=i64::MAX as u64).prop_map(|n| NonZeroU64::new(n).unwrap())
}
fn n64() -> impl Strategy<Value = u64> {
    0u64..=i64::MAX as u64
}
fn seq_number() -> impl Strategy<Value = SeqNumber> {
    prop_oneof![nz().prop_map(SeqNumber::Value), Just(SeqNumber::Largest)]
}
fn sequence_set() -> impl Strategy<Value = SequenceSet> {
    prop_oneof![
        8 => prop::collection::vec(
            prop_oneof![
                seq_number().prop_map(SeqRange::Single),
                (seq_number(), seq_number()).prop_map(|(a, b)| SeqRange::Range(a, b)),
            ],
            1..4
        )
        .prop_map(|v| SequenceSet::new(v).unwrap()),
        1 => Just(SequenceSet::Saved),
    ]
}
fn flag() -> impl Strategy<Value = Flag<'static>> {
    prop_oneof![
        Just(Flag::Answered),
        Just(Flag::Flagged),
        Just(Flag::Deleted),
        Just(Flag::Seen),
        Just(Flag::Draft),
        atom().prop_map(Flag::Keyword),
        x_atom().prop_map(Flag::Extension),
    ]
}
fn date() -> impl Strategy<Value = Date> {
    (0u16..=9999, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).unwrap())
}
fn date_time() -> impl Strategy<Value = DateTime> {
    (date(), 0u8..24, 0u8..60, 0u8..=60, -5999i16..=5999)
        .prop_filter_map("zone", |(d, h, m, s, z)| DateTime::new(d, h, m, s, z).ok())
}
fn status_items() -> impl Strategy<Value = Vec<StatusItem>> {
    prop::collection::vec(prop::sample::select(StatusItem::ALL.to_vec()), 1..4)
}

fn search_key() -> impl Strategy<Value = SearchKey<'static>> {
    use SearchKey as S;
    let leaf = Union::new(vec![
        Just(S::All).boxed(),
        Just(S::Answered).boxed(),
        Just(S::Deleted).boxed(),
        Just(S::Draft).boxed(),
        Just(S::Flagged).boxed(),
        Just(S::New).boxed(),
        Just(S::Old).boxed(),
        Just(S::Recent).boxed(),
        Just(S::Seen).boxed(),
        Just(S::Unanswered).boxed(),
        Just(S::Undeleted).boxed(),
        Just(S::Undraft).boxed(),
        Just(S::Unflagged).boxed(),
        Just(S::Unseen).boxed(),
        astring().prop_map(S::Bcc).boxed(),
        astring().prop_map(S::Body).boxed(),
        astring().prop_map(S::Cc).boxed(),
        astring().prop_map(S::From).boxed(),
        astring().prop_map(S::Subject).boxed(),
        astring().prop_map(S::Text).boxed(),
        astring().prop_map(S::To).boxed(),
        (astring(), astring())
            .prop_map(|(a, b)| S::Header(a, b))
            .boxed(),
        date().prop_map(S::Before).boxed(),
        date().prop_map(S::On).boxed(),
        date().prop_map(S::Since).boxed(),
        date().prop_map(S::SentBefore).boxed(),
        date().prop_map(S::SentOn).boxed(),
        date().prop_map(S::SentSince).boxed(),
        atom().prop_map(S::Keyword).boxed(),
        atom().prop_map(S::Unkeyword).boxed(),
        n64().prop_map(S::Larger).boxed(),
        n64().prop_map(S::Smaller).boxed(),
        sequence_set().prop_map(S::Uid).boxed(),
        sequence_set().prop_map(S::SequenceSet).boxed(),
        (
            prop::option::of((
                quoted(),
                prop::sample::select(vec![EntryType::Private, EntryType::Shared, EntryType::All]),
            )),
            n64(),
        )
            .prop_map(|(e, modseq)| S::ModSeq {
                entry: e.map(|(name, kind)| ModSeqEntry { name, kind }),
                modseq,
            })
            .boxed(),
    ]);
    leaf.prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| S::Not(Box::new(k))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| S::Or(Box::new(a), Box::new(b))),
            prop::collection::vec(inner, 1..3).prop_map(S::And),
        ]
    })
}

fn part() -> impl Strategy<Value = Vec<NonZeroU32>> {
    prop::collection::vec(nz(), 0..3)
}
fn partial() -> impl Strategy<Value = Option<Partial>> {
    prop::option::of((n64(), nz64()).prop_map(|(offset, length)| Partial { offset, length }))
}
fn section() -> impl Strategy<Value = Section<'static>> {
    let fields = || prop::collection::vec(astring(), 1..3);
    (
        part(),
        prop::option::of(prop_oneof![
            Just(SectionText::Header),
            Just(SectionText::Text),
            Just(SectionText::Mime),
            fields().prop_map(SectionText::HeaderFields),
            fields().prop_map(SectionText::HeaderFieldsNot),
        ]),
    )
        .prop_map(|(part, text)| {
            let text = match text {
                Some(SectionText::Mime) if part.is_empty() => Some(SectionText::Text),
                t => t,
            };
            Section { part, text }
        })
}
fn fetch_att() -> impl Strategy<Value = FetchAttribute<'static>> {
    use FetchAttribute as F;
    prop_oneof![
        prop::sample::select(vec![
            F::Envelope,
            F::Flags,
            F::InternalDate,
            F::Rfc822,
            F::Rfc822Header,
            F::Rfc822Size,
            F::Rfc822Text,
            F::Body,
            F::BodyStructure,
            F::Uid,
            F::ModSeq,
        ]),
        (any::<bool>(), section(), partial()).prop_map(|(peek, section, partial)| {
            F::BodySection {
                peek,
                section,
                partial,
            }
        }),
        (any::<bool>(), part(), partial()).prop_map(|(peek, part, partial)| F::Binary {
            peek,
            part,
            partial
        }),
        part().prop_map(|part| F::BinarySize { part }),
    ]
}

fn auth_data() -> impl Strategy<Value = AuthData<'static>> {
    prop_oneof![
        Just(AuthData::Empty),
        prop::collection::vec(any::<u8>(), 1..30)
            .prop_map(|v| AuthData::Data(Secret::new(Cow::Owned(v)))),
    ]
}

fn select_params() -> impl Strategy<Value = Vec<SelectParam>> {
    prop::collection::vec(
        prop_oneof![
            Just(SelectParam::CondStore),
            (
                nz(),
                nz64(),
                prop::option::of(sequence_set()),
                prop::option::of((sequence_set(), sequence_set()))
            )
                .prop_map(|(uid_validity, modseq, known_uids, seq_match)| {
                    SelectParam::QResync {
                        uid_validity,
                        modseq,
                        known_uids,
                        seq_match,
                    }
                }),
        ],
        0..3,
    )
}

fn body() -> impl Strategy<Value = CommandBody<'static>> {
    use CommandBody as C;
    let uid = any::<bool>;
    Union::new(vec![
        prop::sample::select(vec![
            C::Capability,
            C::Noop,
            C::Logout,
            C::StartTls,
            C::Namespace,
            C::Idle,
            C::Check,
            C::Close,
            C::Unselect,
            C::Expunge,
        ])
        .boxed(),
        // RFC 2971 §3.3: fields of at most 30 octets (the parser refuses longer).
        prop::option::of(prop::collection::vec(
            (
                istring().prop_filter("ID field over 30 octets", |s| s.as_bytes().len() <= 30),
                prop::option::of(istring()).prop_map(NString),
            ),
            0..3,
        ))
        .prop_map(C::Id)
        .boxed(),
        prop::collection::vec(atom().prop_map(Capability::from_atom), 1..4)
            .prop_map(C::Enable)
            .boxed(),
        atom().prop_map(C::Compress).boxed(),
        (atom(), prop::option::of(auth_data()))
            .prop_map(|(mechanism, initial)| C::Authenticate { mechanism, initial })
            .boxed(),
        (astring(), astring())
            .prop_map(|(username, p)| C::Login {
                username,
                password: Secret::new(p),
            })
            .boxed(),
        (mailbox(), select_params())
            .prop_map(|(mailbox, params)| C::Select { mailbox, params })
            .boxed(),
        (mailbox(), select_params())
            .prop_map(|(mailbox, params)| C::Examine { mailbox, params })
            .boxed(),
        (
            mailbox(),
            prop::collection::vec(atom().prop_map(MailboxAttribute), 0..3),
        )
            .prop_map(|(mailbox, special_use)| C::Create {
                mailbox,
                special_use,
            })
            .boxed(),
        mailbox().prop_map(C::Delete).boxed(),
        mailbox().prop_map(C::Subscribe).boxed(),
        mailbox().prop_map(C::Unsubscribe).boxed(),
        mailbox().prop_map(C::GetQuotaRoot).boxed(),
        astring().prop_map(C::GetQuota).boxed(),
        (
            astring(),
            prop::collection::vec(
                (atom(), n64()).prop_map(|(resource, limit)| QuotaLimit { resource, limit }),
                0..3,
            ),
        )
            .prop_map(|(root, limits)| C::SetQuota { root, limits })
            .boxed(),
        (mailbox(), mailbox())
            .prop_map(|(from, to)| C::Rename { from, to })
            .boxed(),
        (
            prop::option::of(prop::collection::vec(
                prop_oneof![
                    Just(ListSelect::Subscribed),
                    Just(ListSelect::Remote),
                    Just(ListSelect::RecursiveMatch),
                    Just(ListSelect::SpecialUse),
                    x_atom().prop_map(ListSelect::Other),
                ],
                0..3,
            )),
            mailbox(),
            prop::collection::vec(list_mailbox(), 1..3),
            any::<bool>(),
            prop::option::of(prop::collection::vec(
                prop_oneof![
                    Just(ListReturn::Subscribed),
                    Just(ListReturn::Children),
                    Just(ListReturn::SpecialUse),
                    status_items().prop_map(ListReturn::Status),
                    x_atom().prop_map(ListReturn::Other),
                ],
                0..3,
            )),
        )
            .prop_map(
                |(selection, reference, patterns, list, return_opts)| C::List {
                    selection,
                    reference,
                    patterns_list: list || patterns.len() > 1,
                    patterns,
                    return_opts,
                },
            )
            .boxed(),
        (mailbox(), list_mailbox())
            .prop_map(|(reference, pattern)| C::Lsub { reference, pattern })
            .boxed(),
        (mailbox(), status_items())
            .prop_map(|(mailbox, items)| C::Status { mailbox, items })
            .boxed(),
        (
            mailbox(),
            prop::option::of(prop::collection::vec(flag(), 0..3)),
            prop::option::of(date_time()),
            prop_oneof![
                literal(),
                (prop::collection::vec(any::<u8>(), 0..40), mode())
                    .prop_map(|(v, m)| Literal::binary(v, m)),
            ],
            any::<bool>(),
        )
            .prop_map(|(mailbox, flags, date, message, utf8)| C::Append {
                utf8: utf8 && message.is_binary(),
                mailbox,
                flags,
                date,
                message,
            })
            .boxed(),
        sequence_set().prop_map(C::UidExpunge).boxed(),
        (
            uid(),
            prop::option::of(prop::collection::vec(
                prop::sample::select(vec![
                    SearchReturn::Min,
                    SearchReturn::Max,
                    SearchReturn::All,
                    SearchReturn::Count,
                    SearchReturn::Save,
                ]),
                0..3,
            )),
            prop::option::of(astring()),
            prop::collection::vec(search_key(), 1..3),
        )
            .prop_map(|(uid, return_opts, charset, criteria)| C::Search {
                uid,
                return_opts,
                charset,
                criteria,
            })
            .boxed(),
        (
            uid(),
            sequence_set(),
            prop_oneof![
                Just(FetchItems::All),
                Just(FetchItems::Fast),
                Just(FetchItems::Full),
                fetch_att().prop_map(FetchItems::Single),
                prop::collection::vec(fetch_att(), 1..4).prop_map(FetchItems::List),
            ],
            prop::collection::vec(
                prop_oneof![
                    nz64().prop_map(|n| FetchModifier::ChangedSince(n.get())),
                    Just(FetchModifier::Vanished),
                ],
                0..3,
            ),
        )
            .prop_map(|(uid, set, items, modifiers)| C::Fetch {
                uid,
                set,
                items,
                modifiers,
            })
            .boxed(),
        (
            uid(),
            sequence_set(),
            prop::option::of(n64()),
            prop::sample::select(vec![StoreKind::Replace, StoreKind::Add, StoreKind::Remove]),
            any::<bool>(),
            prop::collection::vec(flag(), 0..3),
            any::<bool>(),
        )
            .prop_map(
                |(uid, set, unchanged_since, kind, silent, flags, paren)| C::Store {
                    uid,
                    set,
                    unchanged_since,
                    action: StoreAction {
                        kind,
                        silent,
                        parenthesized: paren || flags.is_empty(),
                        flags,
                    },
                },
            )
            .boxed(),
        (uid(), sequence_set(), mailbox())
            .prop_map(|(uid, set, mailbox)| C::Copy { uid, set, mailbox })
            .boxed(),
        (uid(), sequence_set(), mailbox())
            .prop_map(|(uid, set, mailbox)| C::Move { uid, set, mailbox })
            .boxed(),
    ])
}

fn command() -> impl Strategy<Value = Command<'static>> {
    (tag(), body()).prop_map(|(tag, body)| Command { tag, body })
}

fn write(cmd: &Command<'_>) -> BytesMut {
    let mut out = BytesMut::new();
    serialize::command(cmd, &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_inverts_serialize(cmd in command()) {
        let bytes = write(&cmd);
        let (parsed, used) = parse::command(&bytes)
            .map_err(|e| TestCaseError::fail(format!("{e} in {:?}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(&parsed, &cmd);
        // serialize ∘ parse is the identity on canonical bytes.
        prop_assert_eq!(write(&parsed), bytes.clone());
        // The owned form is the same value and serializes the same.
        let owned = parsed.into_owned();
        prop_assert_eq!(write(&owned), bytes);
    }

    #[test]
    fn literal_positions_point_at_literal_octets(cmd in command()) {
        let mut out = BytesMut::new();
        let lits = serialize::command(&cmd, &mut out);
        let mut last = 0;
        for l in lits {
            prop_assert!(l.offset >= last);
            prop_assert!(out[..l.offset].ends_with(b"}\r\n"), "literal header");
            prop_assert!(l.offset + l.len <= out.len());
            last = l.offset + l.len;
        }
    }

    #[test]
    fn mutated_commands_never_panic(cmd in command(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4)) {
        let mut bytes = write(&cmd).to_vec();
        for (at, b, op) in edits {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = b,
                1 => { bytes.remove(i); }
                _ => bytes.truncate(i),
            }
        }
        if let Ok((c, used)) = parse::command(&bytes) {
            prop_assert!(used <= bytes.len());
            let again = write(&c);
            prop_assert_eq!(parse::command(&again).unwrap().0, c);
        }
    }

    #[test]
    fn utf7_roundtrip(name in "\\PC{0,12}") {
        let enc = mailbox::encode_utf7(&name);
        prop_assert!(enc.is_ascii());
        prop_assert_eq!(mailbox::decode_utf7(enc.as_bytes()).unwrap(), name);
    }
}
