//! Property tests: parse(serialize(x)) == x for commands, replies and EHLO extensions, and the
//! borrowed parse agrees with the owned one; the command framer frames as the shared one does;
//! DataEncoder → DataDecoder is the identity under any chunking; the decoder's outcome does
//! not depend on the chunking.

use bytes::{Bytes, BytesMut};
use mailsec_smtp::DataError;
use mailsec_smtp::borrowed::CommandRef;
use mailsec_smtp::data::{DataDecoder, DataEncoder};
use mailsec_smtp::framer::CommandFramer;
use mailsec_smtp::parse::{ParseOptions, parse_command, parse_command_ref, parse_reply};
use mailsec_smtp::types::*;
use mailsec_tls::framer::LineFramer;
use proptest::prelude::*;

/// Host names as RFC 1123 §2.1 has them: the top label is never all-numeric. (A name such as
/// `2.0.0` is valid RFC 5321 syntax but, as an EHLO greeting, reads back as an enhanced status
/// code; `Extensions::to_reply` refuses it, pinned in `ambiguous_greeting_domain_is_refused`.)
fn domain() -> impl Strategy<Value = Domain> {
    (
        proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 0..3),
        "[a-z]([a-z0-9-]{0,8}[a-z0-9])?",
    )
        .prop_map(|(mut labels, top)| {
            labels.push(top);
            Domain::new(labels.join(".").as_bytes()).unwrap()
        })
}

#[test]
fn blank_ehlo_lines_name_no_extension() {
    // Found by the smtp_reply fuzz target: a `250-` line of spaces became an empty keyword.
    let (reply, _) = parse_reply(b"250-mx.example\r\n250-   \r\n250 SIZE 100\r\n")
        .unwrap()
        .unwrap();
    let ext = Extensions::from_reply(&reply).unwrap();
    assert_eq!(
        ext.iter().collect::<Vec<_>>(),
        [&Extension::Size(Some(100))]
    );
}

#[test]
fn ambiguous_greeting_domain_is_refused() {
    let e = Extensions::new(&Domain::new(b"2.0.0").unwrap())
        .with_greeting("hello")
        .unwrap();
    assert!(
        e.to_reply().is_err(),
        "`250 2.0.0 hello` would read back as an enhanced code"
    );
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        4 => domain().prop_map(Host::Domain),
        1 => any::<[u8; 4]>().prop_map(|a| Host::Literal(AddressLiteral::Ipv4(a.into()))),
        1 => any::<[u16; 8]>().prop_map(|a| Host::Literal(AddressLiteral::Ipv6(a.into()))),
        1 => ("[a-z][a-z0-9]{0,5}", "[!-Z^-~]{1,10}").prop_filter_map("tag", |(t, c)| {
            AddressLiteral::general(&t, &c).ok().map(Host::Literal)
        }),
    ]
}

fn local_part() -> impl Strategy<Value = LocalPart> {
    prop_oneof![
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,8}(\\.[a-zA-Z0-9_-]{1,5}){0,2}",
        "\"([ !#-\\[\\]-~]|\\\\[ -~]){0,10}\"",
    ]
    .prop_map(|s| LocalPart::new(s.as_bytes(), false).unwrap())
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    (local_part(), host()).prop_map(|(l, h)| Mailbox::new(l, h))
}

fn xtext() -> impl Strategy<Value = XText> {
    proptest::collection::vec(any::<u8>(), 1..16).prop_map(XText::new)
}

fn other_param() -> impl Strategy<Value = EsmtpParam> {
    ("X[A-Z0-9-]{0,6}", proptest::option::of("[!-<>-~]{1,8}"))
        .prop_map(|(k, v)| EsmtpParam::new(&k, v.as_deref()).unwrap())
}

fn mail_params() -> impl Strategy<Value = Vec<MailParam>> {
    (
        proptest::option::of(any::<u64>().prop_map(MailParam::Size)),
        proptest::option::of(
            prop_oneof![
                Just(BodyType::SevenBit),
                Just(BodyType::EightBitMime),
                Just(BodyType::BinaryMime)
            ]
            .prop_map(MailParam::Body),
        ),
        proptest::option::of(Just(MailParam::SmtpUtf8)),
        proptest::option::of(
            prop_oneof![Just(Ret::Full), Just(Ret::Hdrs)].prop_map(MailParam::Ret),
        ),
        proptest::option::of(xtext().prop_map(MailParam::EnvId)),
        proptest::option::of(
            proptest::option::of(xtext().prop_filter("<>", |x| x.as_bytes() != b"<>"))
                .prop_map(MailParam::Auth),
        ),
        proptest::option::of(Just(MailParam::RequireTls)),
        proptest::collection::vec(other_param().prop_map(MailParam::Other), 0..3),
    )
        .prop_flat_map(|(a, b, c, d, e, f, g, others)| {
            let mut v: Vec<MailParam> = [a, b, c, d, e, f, g].into_iter().flatten().collect();
            v.extend(others);
            Just(v).prop_shuffle()
        })
}

fn rcpt_params() -> impl Strategy<Value = Vec<RcptParam>> {
    (
        proptest::option::of(
            any::<(bool, bool, bool)>().prop_map(|(success, failure, delay)| {
                RcptParam::Notify(Notify {
                    success,
                    failure,
                    delay,
                })
            }),
        ),
        proptest::option::of(
            ("[a-z0-9-]{1,8}", xtext())
                .prop_map(|(t, x)| RcptParam::Orcpt(Orcpt::new(&t, x).unwrap())),
        ),
        proptest::collection::vec(other_param().prop_map(RcptParam::Other), 0..3),
    )
        .prop_flat_map(|(a, b, others)| {
            let mut v: Vec<RcptParam> = [a, b].into_iter().flatten().collect();
            v.extend(others);
            Just(v).prop_shuffle()
        })
}

fn text() -> impl Strategy<Value = Text> {
    "[!-~é€](\\PC{0,20})".prop_map(|s| Text::new(&s).unwrap())
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        host().prop_map(Command::Ehlo),
        host().prop_map(Command::Helo),
        (
            prop_oneof![
                Just(ReversePath::Null),
                mailbox().prop_map(ReversePath::Mailbox)
            ],
            mail_params()
        )
            .prop_map(|(from, params)| Command::Mail { from, params }),
        (
            prop_oneof![
                Just(ForwardPath::Postmaster),
                mailbox().prop_map(ForwardPath::Mailbox)
            ],
            rcpt_params()
        )
            .prop_map(|(to, params)| Command::Rcpt { to, params }),
        Just(Command::Data),
        (any::<u64>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat { size, last }),
        Just(Command::Rset),
        proptest::option::of(text()).prop_map(Command::Noop),
        Just(Command::Quit),
        text().prop_map(Command::Vrfy),
        text().prop_map(Command::Expn),
        proptest::option::of(text()).prop_map(Command::Help),
        Just(Command::StartTls),
        (
            "[A-Za-z0-9_-]{1,20}",
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100))
        )
            .prop_map(|(m, ir)| Command::Auth {
                mechanism: SaslMechanism::new(m.as_bytes()).unwrap(),
                initial_response: ir.map(InitialResponse::new),
            }),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    let line = "([!-~]( ?[!-~]){0,30})?";
    (
        200u16..600,
        any::<(u16, u16)>(),
        any::<bool>(),
        "[A-Za-z]( ?[!-~]){0,30}",
        proptest::collection::vec(line, 0..5),
    )
        .prop_map(|(code, (s, d), enh, first, rest)| {
            let code = ReplyCode::new(code).unwrap();
            let enhanced = if enh {
                EnhancedCode::new(code.class(), s % 1000, d % 1000).ok()
            } else {
                None
            };
            let mut lines = vec![first];
            lines.extend(rest);
            Reply::new(code, enhanced, lines).unwrap()
        })
}

fn extension() -> impl Strategy<Value = Extension> {
    prop_oneof![
        Just(Extension::Pipelining),
        proptest::option::of(any::<u64>()).prop_map(Extension::Size),
        Just(Extension::EightBitMime),
        Just(Extension::SmtpUtf8),
        Just(Extension::Chunking),
        Just(Extension::BinaryMime),
        Just(Extension::EnhancedStatusCodes),
        Just(Extension::Dsn),
        Just(Extension::StartTls),
        Just(Extension::RequireTls),
        proptest::collection::vec("[A-Z0-9_-]{1,20}", 0..4).prop_map(|ms| Extension::Auth(
            ms.iter()
                .map(|m| SaslMechanism::new(m.as_bytes()).unwrap())
                .collect()
        )),
        (
            "X[A-Z0-9-]{0,8}",
            proptest::collection::vec("[!-~]{1,8}", 0..3)
        )
            .prop_map(|(keyword, params)| Extension::Other { keyword, params }),
    ]
}

/// Body lines without CR or LF, rich in dots.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        3 => Just(b'.'),
        1 => Just(b' '),
        6 => any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
    ];
    (
        proptest::collection::vec(proptest::collection::vec(byte, 0..40), 0..12),
        any::<bool>(),
    )
        .prop_map(|(lines, final_crlf)| {
            let mut b = lines.join(&b"\r\n"[..]);
            if final_crlf && !lines.is_empty() {
                b.extend_from_slice(b"\r\n");
            }
            b
        })
}

fn cuts(len: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..=len, 0..8).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

/// Runs the decoder over `wire` cut at `cuts`: body, first error, octets consumed at the end.
fn decode(wire: &[u8], cuts: &[usize], max: u64) -> (Vec<u8>, Option<DataError>, Option<u64>) {
    let mut dec = DataDecoder::new(max);
    let mut out = Vec::new();
    let mut error = None;
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&wire.len())) {
        let chunk = Bytes::copy_from_slice(&wire[prev..c]);
        prev = c;
        let fed = dec.feed(&chunk, |b| out.extend_from_slice(&b));
        error = error.or(fed.error);
        if fed.ended {
            return (out, error, Some(dec.consumed()));
        }
    }
    (out, error, None)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn command_round_trip(cmd in command()) {
        let bytes = cmd.to_bytes();
        prop_assume!(bytes.len() <= if cmd.verb() == "AUTH" { MAX_AUTH_LINE } else { MAX_COMMAND_LINE });
        let line = &bytes[..bytes.len() - 2];
        prop_assert_eq!(parse_command(line, ParseOptions::new()), Ok(cmd.clone()));
        // Case-insensitive verbs and keywords.
        let lower = line.to_ascii_lowercase();
        let parsed = parse_command(&lower, ParseOptions::new());
        let exempt = matches!(cmd, Command::Auth { .. } | Command::Mail { .. } | Command::Rcpt { .. });
        prop_assert!(parsed.is_ok() || exempt);
    }

    #[test]
    fn borrowed_parse_agrees(cmd in command(), lower in any::<bool>(), smtputf8 in any::<bool>()) {
        let bytes = cmd.to_bytes();
        let mut line = bytes[..bytes.len() - 2].to_vec();
        if lower {
            line.make_ascii_lowercase();
        }
        let opts = ParseOptions::new().smtputf8(smtputf8);
        let owned = parse_command(&line, opts);
        let borrowed = parse_command_ref(&line, opts);
        match (&owned, borrowed) {
            (Ok(o), Ok(b)) => {
                prop_assert_eq!(b.verb(), o.verb());
                // What the accessors say agrees with the owned values.
                if let (Command::Mail { params, .. }, CommandRef::Mail { params: p, .. }) = (o, &b) {
                    let size = params.iter().find_map(|x| match x { MailParam::Size(n) => Some(*n), _ => None });
                    prop_assert_eq!(p.size(), size);
                    prop_assert_eq!(p.smtputf8(), params.contains(&MailParam::SmtpUtf8));
                    prop_assert_eq!(p.requiretls(), params.contains(&MailParam::RequireTls));
                    prop_assert_eq!(p.iter().count(), params.len());
                }
                if let (Command::Rcpt { params, .. }, CommandRef::Rcpt { params: p, .. }) = (o, &b) {
                    prop_assert_eq!(p.iter().count(), params.len());
                }
                prop_assert_eq!(&b.into_owned(), o);
            }
            (Err(e), Err(f)) => prop_assert_eq!(e, &f),
            (o, b) => prop_assert!(false, "owned {:?}, borrowed {:?}", o, b),
        }
    }

    #[test]
    fn command_framer_frames_as_line_framer(
        input in proptest::collection::vec(prop_oneof![
            Just(b'\r'), Just(b'\n'), Just(b'A'), Just(b' '), Just(b'.')
        ], 0..300),
        step in 1usize..40,
        max_line in 2usize..40,
    ) {
        let mut ours = CommandFramer::new(max_line).with_max_buffered(128);
        let mut theirs = LineFramer::new(max_line).with_max_buffered(128);
        for chunk in input.chunks(step) {
            prop_assert_eq!(ours.push(chunk), theirs.push(chunk));
            loop {
                let a = ours.next_line().map(|r| r.map(<[u8]>::to_vec));
                let b = theirs.next_line().map(|r| r.map(|l| l.to_vec()));
                prop_assert_eq!(&a, &b);
                prop_assert_eq!(ours.buffered(), theirs.buffered());
                if a.is_none() {
                    break;
                }
            }
        }
        prop_assert_eq!(ours.take_raw(usize::MAX), theirs.take_raw(usize::MAX));
    }

    #[test]
    fn reply_round_trip(reply in reply()) {
        let bytes = reply.to_bytes();
        let (back, n) = parse_reply(&bytes).unwrap().unwrap();
        prop_assert_eq!(n, bytes.len());
        prop_assert_eq!(back, reply);
    }

    #[test]
    fn extensions_round_trip(d in domain(), exts in proptest::collection::vec(extension(), 0..12)) {
        let mut e = Extensions::new(&d).with_greeting("hello").unwrap();
        for x in exts {
            e = e.with(x);
        }
        let bytes = e.to_reply().unwrap().to_bytes();
        let (reply, _) = parse_reply(&bytes).unwrap().unwrap();
        prop_assert_eq!(Extensions::from_reply(&reply).unwrap(), e);
    }

    #[test]
    fn data_identity(body in body(), pieces in cuts(600), wire_cuts in cuts(800)) {
        let mut wire = BytesMut::new();
        let mut enc = DataEncoder::new();
        let mut prev = 0;
        for c in pieces.iter().map(|c| (*c).min(body.len())).chain(std::iter::once(body.len())) {
            enc.encode(&body[prev..c], &mut wire).unwrap();
            prev = c;
        }
        enc.finish(&mut wire).unwrap();
        let mut expected = body.clone();
        if !expected.is_empty() && !expected.ends_with(b"\r\n") {
            expected.extend_from_slice(b"\r\n");
        }
        let wire_cuts: Vec<usize> = wire_cuts.iter().map(|c| (*c).min(wire.len())).collect();
        let (out, err, consumed) = decode(&wire, &wire_cuts, u64::MAX);
        prop_assert_eq!(err, None);
        prop_assert_eq!(consumed, Some(wire.len() as u64));
        prop_assert_eq!(out, expected);
    }

    #[test]
    fn decoder_is_chunking_independent(
        wire in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a')], 0..200),
        cut_points in cuts(200),
        max in 0u64..100,
    ) {
        let cut_points: Vec<usize> = cut_points.iter().map(|c| (*c).min(wire.len())).collect();
        let whole = decode(&wire, &[], max);
        prop_assert_eq!(decode(&wire, &cut_points, max), whole.clone());
        let bytewise: Vec<usize> = (0..wire.len()).collect();
        prop_assert_eq!(decode(&wire, &bytewise, max), whole.clone());
        // Nothing handed out beyond the size limit; the end only at CRLF.CRLF.
        prop_assert!(whole.0.len() as u64 <= max);
        if let Some(n) = whole.2 {
            let n = n as usize;
            prop_assert!(&wire[..n] == b".\r\n" || wire[..n].ends_with(b"\r\n.\r\n"));
        }
    }
}
