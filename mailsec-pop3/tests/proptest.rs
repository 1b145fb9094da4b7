//! Property tests: parse ∘ serialize = identity for commands, responses, capabilities and
//! listings; multi-line encode → decode = identity over arbitrary chunkings; parsers and the
//! decoder never panic and agree with themselves however input is chunked.

use bytes::{Bytes, BytesMut};
use mailsec_pop3::multiline::{BareLineEndings, MultilineDecoder, MultilineEncoder};
use mailsec_pop3::{
    ApopDigest, Capability, Command, Expire, MechanismName, MessageNumber, Response, ResponseCode,
    ScanListing, SecretBytes, SerializeError, Status, StatusLine, UidlListing, UniqueId, parse,
    serialize,
};
use proptest::prelude::*;

fn msg() -> impl Strategy<Value = MessageNumber> {
    (1..=u32::MAX).prop_map(|n| MessageNumber::new(n).unwrap())
}

/// Bytes allowed in a token: anything but SP, CR, LF, NUL.
fn token(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 1..=max).prop_map(|v| {
        v.into_iter()
            .map(|b| {
                if matches!(b, b' ' | b'\r' | b'\n' | 0) {
                    b'x'
                } else {
                    b
                }
            })
            .collect()
    })
}

/// Bytes allowed in text: anything but CR, LF, NUL.
fn text(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max).prop_map(|v| {
        v.into_iter()
            .map(|b| {
                if matches!(b, b'\r' | b'\n' | 0) {
                    b'y'
                } else {
                    b
                }
            })
            .collect()
    })
}

fn mechanism() -> impl Strategy<Value = MechanismName> {
    "[A-Za-z0-9_-]{1,20}".prop_map(|s| MechanismName::new(s.as_bytes()).unwrap())
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        token(60).prop_map(Command::User),
        text(100).prop_map(|t| Command::Pass(SecretBytes::new(t))),
        (token(60), any::<[u8; 16]>()).prop_map(|(name, d)| Command::Apop {
            name,
            digest: ApopDigest(d)
        }),
        Just(Command::Stat),
        proptest::option::of(msg()).prop_map(Command::List),
        msg().prop_map(Command::Retr),
        msg().prop_map(Command::Dele),
        Just(Command::Noop),
        Just(Command::Rset),
        Just(Command::Quit),
        (msg(), any::<u32>()).prop_map(|(msg, lines)| Command::Top { msg, lines }),
        proptest::option::of(msg()).prop_map(Command::Uidl),
        Just(Command::Capa),
        Just(Command::Stls),
        (
            mechanism(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200))
        )
            .prop_map(|(mechanism, ir)| Command::Auth {
                mechanism,
                initial_response: ir.map(SecretBytes::new),
            }),
        Just(Command::AuthList),
        Just(Command::Utf8),
    ]
}

fn code() -> impl Strategy<Value = ResponseCode> {
    prop_oneof![
        Just(ResponseCode::InUse),
        Just(ResponseCode::LoginDelay),
        Just(ResponseCode::SysTemp),
        Just(ResponseCode::SysPerm),
        Just(ResponseCode::Auth),
        Just(ResponseCode::Utf8),
        "X-[!-.0-\\\\^-~]{1,10}(/[!-.0-\\\\^-~]{1,6}){0,2}"
            .prop_map(|s| ResponseCode::Other(s.into_bytes())),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        (
            prop_oneof![Just(Status::Ok), Just(Status::Err)],
            proptest::option::of(code()),
            text(520)
        )
            .prop_map(|(status, code, text)| Response::Status(StatusLine {
                status,
                code,
                text
            })),
        proptest::collection::vec(any::<u8>(), 0..2000).prop_map(Response::Continuation),
    ]
}

fn capability() -> impl Strategy<Value = Capability> {
    let user = any::<bool>();
    prop_oneof![
        Just(Capability::Top),
        Just(Capability::User),
        proptest::collection::vec(mechanism(), 0..6).prop_map(Capability::Sasl),
        Just(Capability::RespCodes),
        (any::<u32>(), user)
            .prop_map(|(seconds, per_user)| Capability::LoginDelay { seconds, per_user }),
        Just(Capability::Pipelining),
        (
            prop_oneof![Just(Expire::Never), any::<u32>().prop_map(Expire::Days)],
            user
        )
            .prop_map(|(policy, per_user)| Capability::Expire { policy, per_user }),
        Just(Capability::Uidl),
        text(100).prop_map(Capability::Implementation),
        Just(Capability::Stls),
        Just(Capability::AuthRespCode),
        user.prop_map(|user| Capability::Utf8 { user }),
        (
            "X-[A-Z0-9-]{1,12}",
            proptest::collection::vec(token(20), 0..5)
        )
            .prop_map(|(name, args)| Capability::Other {
                name: name.into_bytes(),
                args
            }),
    ]
}

/// A body made of CRLF-terminated lines, dots and empty lines likely.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        Just(Vec::new()),
        Just(b".".to_vec()),
        Just(b"..".to_vec()),
        "\\.[ -~]{0,10}".prop_map(String::into_bytes),
        text(120).prop_map(|mut t| {
            t.retain(|b| *b != b'\r' && *b != b'\n');
            t
        }),
    ];
    proptest::collection::vec(line, 0..30).prop_map(|lines| {
        let mut out = Vec::new();
        for l in lines {
            out.extend_from_slice(&l);
            out.extend_from_slice(b"\r\n");
        }
        out
    })
}

/// Splits `len` into chunks at the given (sorted, deduplicated) cut points.
fn cuts(len: usize, raw: &[usize]) -> Vec<usize> {
    let mut c: Vec<usize> = raw.iter().map(|r| r % (len + 1)).collect();
    c.sort_unstable();
    c.dedup();
    c
}

fn decode_chunked(
    mut dec: MultilineDecoder,
    input: &[u8],
    cut: &[usize],
) -> Result<(Vec<u8>, usize), mailsec_pop3::MultilineError> {
    let mut body = Vec::new();
    let mut at = 0;
    for end in cut.iter().copied().chain([input.len()]) {
        let end = end.max(at);
        if dec.is_done() {
            break;
        }
        let chunk = Bytes::copy_from_slice(&input[at..end]);
        let used = dec.feed(&chunk, |c| body.extend_from_slice(&c))?;
        at += used;
        if used < chunk.len() {
            break;
        }
    }
    Ok((body, at))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn command_round_trip(cmd in command()) {
        match cmd.to_bytes() {
            Ok(bytes) => {
                prop_assert!(bytes.len() <= mailsec_pop3::MAX_COMMAND_LINE);
                prop_assert_eq!(parse::command(&bytes).unwrap(), cmd.clone());
                // And without the CRLF, as a line framer gives it.
                prop_assert_eq!(parse::command(&bytes[..bytes.len() - 2]).unwrap(), cmd);
            }
            Err(e) => prop_assert!(matches!(e, SerializeError::LineTooLong { .. }), "{e}"),
        }
    }

    #[test]
    fn response_round_trip(resp in response()) {
        match resp.to_bytes() {
            Ok(bytes) => prop_assert_eq!(parse::response(&bytes).unwrap(), resp),
            Err(SerializeError::LineTooLong { .. }) => {}
            Err(SerializeError::Ambiguous(_)) => {
                let Response::Status(s) = &resp else { panic!() };
                prop_assert!(s.code.is_none() && s.text.first() == Some(&b'['));
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    #[test]
    fn capability_round_trip(cap in capability()) {
        let mut buf = BytesMut::new();
        match serialize::capability(&cap, &mut buf) {
            Ok(()) => prop_assert_eq!(parse::capability(&buf).unwrap(), cap),
            Err(e) => prop_assert!(matches!(e, SerializeError::LineTooLong { .. }), "{e}"),
        }
    }

    #[test]
    fn listing_round_trip(m in msg(), size in any::<u64>(), uid in "[!-~]{1,70}") {
        let mut buf = BytesMut::new();
        let scan = ScanListing { msg: m, size };
        serialize::scan_listing(&scan, &mut buf).unwrap();
        prop_assert_eq!(parse::scan_listing(&buf).unwrap(), scan);
        let uidl = UidlListing { msg: m, uid: UniqueId::new(uid.as_bytes()).unwrap() };
        buf.clear();
        serialize::uidl_listing(&uidl, &mut buf).unwrap();
        prop_assert_eq!(parse::uidl_listing(&buf).unwrap(), uidl);
    }

    /// Whatever arrives: no panic, and anything that parses serializes back to itself.
    #[test]
    fn parsers_total(line in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(cmd) = parse::command(&line) {
            let bytes = cmd.to_bytes().unwrap();
            prop_assert_eq!(parse::command(&bytes).unwrap(), cmd);
        }
        if let Ok(resp) = parse::response(&line) {
            match resp.to_bytes() {
                Ok(bytes) => prop_assert_eq!(parse::response(&bytes).unwrap(), resp),
                // "[CODE]text" at the limit grows by the SP the canonical form adds.
                Err(e) => prop_assert_eq!(e, SerializeError::LineTooLong { len: 513, limit: 512 }),
            }
        }
        if let Ok(cap) = parse::capability(&line) {
            let mut buf = BytesMut::new();
            if serialize::capability(&cap, &mut buf).is_ok() {
                prop_assert_eq!(parse::capability(&buf).unwrap(), cap);
            }
        }
        let _ = parse::auth_response(&line);
        let _ = parse::apop_timestamp(&line);
    }

    /// Keyword-shaped input reaches the argument parsers.
    #[test]
    fn commands_total(kw in "(?i)(user|pass|apop|list|retr|dele|top|uidl|auth|stat) ?", rest in text(80)) {
        let line = [kw.as_bytes(), &rest].concat();
        if let Ok(cmd) = parse::command(&line) {
            let bytes = cmd.to_bytes().unwrap();
            prop_assert_eq!(parse::command(&bytes).unwrap(), cmd);
        }
    }

    #[test]
    fn multiline_identity(
        body in body(),
        enc_cuts in proptest::collection::vec(any::<usize>(), 0..6),
        dec_cuts in proptest::collection::vec(any::<usize>(), 0..6),
        tail in text(20),
    ) {
        let mut enc = MultilineEncoder::new();
        let mut wire = BytesMut::new();
        let mut at = 0;
        for c in cuts(body.len(), &enc_cuts).into_iter().chain([body.len()]) {
            enc.encode(&body[at..c], &mut wire).unwrap();
            at = c;
        }
        enc.finish(&mut wire).unwrap();
        let wire_len = wire.len();
        wire.extend_from_slice(&tail);
        for bare in [BareLineEndings::Reject, BareLineEndings::Pass] {
            let dec = MultilineDecoder::new().with_bare_line_endings(bare);
            let (got, used) = decode_chunked(dec, &wire, &cuts(wire.len(), &dec_cuts)).unwrap();
            prop_assert_eq!(&got, &body);
            prop_assert_eq!(used, wire_len);
        }
    }

    /// Arbitrary input: chunking never changes the outcome.
    #[test]
    fn decoder_chunking_invariant(
        input in proptest::collection::vec(prop_oneof![
            Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b'a')
        ], 0..64),
        dec_cuts in proptest::collection::vec(any::<usize>(), 0..8),
        tolerant in any::<bool>(),
    ) {
        let bare = if tolerant { BareLineEndings::Pass } else { BareLineEndings::Reject };
        let new = || MultilineDecoder::new().with_bare_line_endings(bare).with_max_line(16);
        let whole = decode_chunked(new(), &input, &[]);
        let chunked = decode_chunked(new(), &input, &cuts(input.len(), &dec_cuts));
        match (&whole, &chunked) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            // On an error, the error is the same (how much body came out before may differ).
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            _ => prop_assert!(false, "{:?} vs {:?}", whole, chunked),
        }
    }
}
