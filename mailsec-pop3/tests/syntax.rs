//! Transcripts from RFC 1939, 2449, 2595, 5034 and 6856 in both directions, round trips,
//! malformed input, limits, and the multi-line decoder and encoder over every chunking.

use bytes::{Bytes, BytesMut};
use mailsec_pop3::multiline::{BareLineEndings, MultilineDecoder, MultilineEncoder, dot_stuff};
use mailsec_pop3::{
    ApopDigest, AuthResponse, Capabilities, Capability, Command, Expire, MAX_COMMAND_LINE,
    MAX_RESPONSE_LINE, MechanismName, MessageNumber, MultilineError, ParseError, Response,
    ResponseCode, SecretBytes, SerializeError, Status, StatusLine, parse, serialize,
};
use mailsec_tls::sasl::Mechanism;

fn n(v: u32) -> MessageNumber {
    MessageNumber::new(v).unwrap()
}

/// Runs a `C:`/`S:` transcript. Client lines must parse as commands and serialize back to the
/// same bytes; server lines must parse as responses (or, inside a multi-line response, as the
/// listing the last command asks for) and serialize back to the same bytes, except bodies.
fn transcript(script: &str) -> (Vec<Command>, Vec<Response>, Capabilities) {
    let mut commands = Vec::new();
    let mut responses = Vec::new();
    let mut caps = Capabilities::new();
    let mut multiline = false;
    for raw in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (who, line) = raw.split_at(3);
        let line = line.as_bytes();
        match who {
            "C: " => {
                if commands
                    .last()
                    .is_some_and(|c| matches!(c, Command::Auth { .. }))
                    && !line.starts_with(b"AUTH")
                    && !line.starts_with(b"CAPA")
                    && matches!(responses.last(), Some(Response::Continuation(_)))
                {
                    // A SASL response line.
                    let r = parse::auth_response(line).unwrap();
                    let mut out = BytesMut::new();
                    serialize::auth_response(&r, &mut out).unwrap();
                    assert_eq!(&out[..out.len() - 2], line);
                    continue;
                }
                let cmd = parse::command(line).unwrap_or_else(|e| panic!("{raw}: {e}"));
                let bytes = cmd.to_bytes().unwrap();
                assert_eq!(&bytes[..bytes.len() - 2], line, "{raw}");
                assert_eq!(parse::command(&bytes).unwrap(), cmd);
                commands.push(cmd);
            }
            "S: " if multiline => {
                let Some(l) = parse::unstuff(line) else {
                    multiline = false;
                    continue;
                };
                let mut out = BytesMut::new();
                match commands.last().unwrap() {
                    Command::List(None) => {
                        serialize::scan_listing(&parse::scan_listing(l).unwrap(), &mut out).unwrap()
                    }
                    Command::Uidl(None) => {
                        serialize::uidl_listing(&parse::uidl_listing(l).unwrap(), &mut out).unwrap()
                    }
                    Command::Capa => {
                        let cap = parse::capability(l).unwrap();
                        serialize::capability(&cap, &mut out).unwrap();
                        caps.push(cap);
                    }
                    _ => continue, // a message body line
                }
                assert_eq!(&out[..out.len() - 2], l, "{raw}");
            }
            "S: " => {
                let resp = parse::response(line).unwrap_or_else(|e| panic!("{raw}: {e}"));
                let bytes = resp.to_bytes().unwrap();
                if matches!(resp, Response::Status(_)) {
                    assert_eq!(&bytes[..bytes.len() - 2], line, "{raw}");
                }
                assert_eq!(parse::response(&bytes).unwrap(), resp);
                if let Response::Status(s) = &resp {
                    multiline =
                        s.is_ok() && commands.last().is_some_and(Command::expects_multiline);
                }
                responses.push(resp);
            }
            _ => panic!("bad transcript line {raw}"),
        }
    }
    (commands, responses, caps)
}

#[test]
fn rfc1939_examples() {
    let (cmds, resps, _) = transcript(
        "
        S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
        C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
        S: +OK mrose's maildrop has 2 messages (320 octets)
        C: STAT
        S: +OK 2 320
        C: LIST
        S: +OK 2 messages (320 octets)
        S: 1 120
        S: 2 200
        S: .
        C: LIST 2
        S: +OK 2 200
        C: LIST 3
        S: -ERR no such message, only 2 messages in maildrop
        C: RETR 1
        S: +OK 120 octets
        S: <the POP3 server sends the entire message here>
        S: .
        C: DELE 1
        S: +OK message 1 deleted
        C: DELE 2
        S: -ERR message 2 already deleted
        C: NOOP
        S: +OK
        C: RSET
        S: +OK maildrop has 2 messages (320 octets)
        C: TOP 1 10
        S: +OK
        S: .
        C: TOP 100 3
        S: -ERR no such message
        C: UIDL
        S: +OK
        S: 1 whqtswO00WBw418f9t5JxYwZ
        S: 2 QhdPYR:00WBw1Ph7x7
        S: .
        C: UIDL 2
        S: +OK 2 QhdPYR:00WBw1Ph7x7
        C: UIDL 3
        S: -ERR no such message, only 2 messages in maildrop
        C: USER frated
        S: -ERR sorry, no mailbox for frated here
        C: USER mrose
        S: +OK mrose is a real hoopy frood
        C: PASS secret
        S: -ERR maildrop already locked
        C: QUIT
        S: +OK dewey POP3 server signing off (maildrop empty)
        ",
    );
    assert_eq!(cmds.len(), 19);
    let Response::Status(greeting) = &resps[0] else {
        panic!()
    };
    assert_eq!(
        greeting.apop_timestamp(),
        Some(&b"<1896.697170952@dbc.mtview.ca.us>"[..])
    );
    assert_eq!(
        cmds[0],
        Command::Apop {
            name: b"mrose".to_vec(),
            digest: ApopDigest::from_hex(b"c4c9334bac560ecc979e58001b3e22fb").unwrap(),
        }
    );
    let Response::Status(stat) = &resps[2] else {
        panic!()
    };
    assert_eq!(
        parse::stat(&stat.text).unwrap(),
        mailsec_pop3::Stat {
            count: 2,
            size: 320
        }
    );
    assert_eq!(
        cmds[10],
        Command::Top {
            msg: n(1),
            lines: 10
        }
    );
    assert_eq!(cmds[17], Command::Pass(SecretBytes::from("secret")));
}

#[test]
fn rfc2449_capa_and_codes() {
    let (_, resps, caps) = transcript(
        "
        C: CAPA
        S: +OK Capability list follows
        S: TOP
        S: USER
        S: SASL CRAM-MD5 KERBEROS_V4
        S: RESP-CODES
        S: LOGIN-DELAY 900
        S: PIPELINING
        S: EXPIRE 60
        S: UIDL
        S: IMPLEMENTATION Shlemazle-Plotz-v302
        S: .
        C: USER mrose
        S: -ERR [IN-USE] Do you have another POP session running?
        C: PASS tanstaaf
        S: -ERR [LOGIN-DELAY] minimum time between mail checks violation
        C: PASS tanstaaf
        S: -ERR [SYS/TEMP] Temporary failure
        C: PASS tanstaaf
        S: -ERR [SYS/PERM] Account disabled
        C: PASS tanstaaf
        S: -ERR [AUTH] Invalid user name or password
        C: PASS tanstaaf
        S: -ERR [X-VENDOR/SUB] unknown codes are kept
        ",
    );
    assert!(caps.has_top() && caps.has_user() && caps.has_uidl() && caps.has_pipelining());
    assert!(caps.has_resp_codes() && !caps.has_stls());
    assert_eq!(caps.login_delay(), Some(900));
    assert_eq!(caps.expire(), Some(Expire::Days(60)));
    assert_eq!(
        caps.implementation().as_deref(),
        Some("Shlemazle-Plotz-v302")
    );
    let names: Vec<_> = caps.sasl_mechanisms().map(MechanismName::as_str).collect();
    assert_eq!(names, ["CRAM-MD5", "KERBEROS_V4"]);
    assert!(caps.supported_mechanisms().is_empty());
    let codes: Vec<_> = resps
        .iter()
        .filter_map(|r| match r {
            Response::Status(s) => s.code.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(
        codes,
        [
            ResponseCode::InUse,
            ResponseCode::LoginDelay,
            ResponseCode::SysTemp,
            ResponseCode::SysPerm,
            ResponseCode::Auth,
            ResponseCode::Other(b"X-VENDOR/SUB".to_vec()),
        ]
    );
}

#[test]
fn rfc2595_stls_and_rfc5034_auth() {
    let (cmds, resps, caps) = transcript(
        "
        S: +OK pop.example.com BlurdyBlurp POP3 server ready
        C: CAPA
        S: +OK List of capabilities follows
        S: SASL PLAIN DIGEST-MD5 GSSAPI ANONYMOUS
        S: STLS
        S: IMPLEMENTATION BlurdyBlurp POP3 server
        S: .
        C: STLS
        S: +OK Begin TLS negotiation
        C: STLS
        S: -ERR Command not permitted when TLS active
        C: AUTH PLAIN
        S: + 
        C: dGVzdAB0ZXN0AHRlc3Q=
        S: +OK Maildrop locked and ready
        C: AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=
        S: +OK Maildrop locked and ready
        C: AUTH PLAIN =
        S: -ERR [AUTH] Authentication failed
        C: AUTH SCRAM-SHA-256
        S: + cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0w=
        C: *
        S: -ERR Authentication cancelled
        C: AUTH
        S: +OK
        S: PLAIN
        S: .
        C: UTF8
        S: +OK I only speak UTF-8 now
        ",
    );
    assert!(caps.has_stls());
    assert_eq!(caps.supported_mechanisms(), [Mechanism::Plain]);
    assert_eq!(cmds[1], Command::Stls);
    let Command::Auth {
        mechanism,
        initial_response: Some(ir),
    } = &cmds[4]
    else {
        panic!()
    };
    assert_eq!(mechanism.mechanism(), Some(Mechanism::Plain));
    assert_eq!(ir.expose(), b"test\0test\0test");
    assert!(
        matches!(&cmds[5], Command::Auth { initial_response: Some(ir), .. } if ir.expose().is_empty())
    );
    assert!(matches!(
        &cmds[3],
        Command::Auth {
            initial_response: None,
            ..
        }
    ));
    assert_eq!(cmds[7], Command::AuthList);
    assert_eq!(cmds[8], Command::Utf8);
    assert!(resps.contains(&Response::Continuation(Vec::new())));
    assert!(resps.contains(&Response::Continuation(
        b"r=fyko+d2lbbFgONRv9qkxdawL".to_vec()
    )));
    assert_eq!(parse::auth_response(b"*").unwrap(), AuthResponse::Cancel);
}

#[test]
fn tolerant_responses() {
    for (line, status, text) in [
        (&b"+ok"[..], Status::Ok, &b""[..]),
        (b"-err", Status::Err, b""),
        (b"+OK ", Status::Ok, b""),
        (b"-ERR [unfinished code", Status::Err, b"[unfinished code"),
        (b"+OK [] empty code", Status::Ok, b"[] empty code"),
        (
            b"+OK caf\xc3\xa9 \x1b[31m",
            Status::Ok,
            b"caf\xc3\xa9 \x1b[31m",
        ),
    ] {
        let Response::Status(s) = parse::response(line).unwrap() else {
            panic!()
        };
        assert_eq!(
            (s.status, &s.text[..], s.code),
            (status, text, None),
            "{line:?}"
        );
    }
    assert_eq!(
        parse::response(b"+").unwrap(),
        Response::Continuation(vec![])
    );
    assert_eq!(parse::response(b"+OKAY"), Err(ParseError::InvalidStatus));
    assert_eq!(parse::response(b"OK"), Err(ParseError::InvalidStatus));
    assert_eq!(parse::response(b""), Err(ParseError::InvalidStatus));
    assert_eq!(parse::response(b"+ !!!"), Err(ParseError::InvalidBase64));
    assert_eq!(
        parse::response(b"+OK a\rb"),
        Err(ParseError::BareLineEnding)
    );
    assert_eq!(parse::response(b"+OK a\0b"), Err(ParseError::Nul));
    // Text is raw; sanitized only when shown.
    let Response::Status(s) = parse::response(b"+OK hi\x1b]0;pwned\x07 there").unwrap() else {
        panic!()
    };
    assert_eq!(s.text_sanitized(), "hi]0;pwned there");
}

#[test]
fn malformed_commands() {
    for (line, err) in [
        (&b"RETR"[..], ParseError::MissingArgument),
        (b"RETR x", ParseError::InvalidNumber),
        (b"RETR -1", ParseError::InvalidNumber),
        (b"RETR +1", ParseError::InvalidNumber),
        (b"RETR 0", ParseError::ZeroMessageNumber),
        (b"RETR 4294967296", ParseError::NumberOutOfRange),
        (
            b"RETR 99999999999999999999999999999999",
            ParseError::NumberOutOfRange,
        ),
        (b"TOP 1 4294967296", ParseError::NumberOutOfRange),
        (b"LIST 1 2", ParseError::TooManyArguments),
        (b"USER", ParseError::MissingArgument),
        (b"USER a b", ParseError::TooManyArguments),
        (b"PASS", ParseError::MissingArgument),
        (b"APOP mrose", ParseError::MissingArgument),
        (b"APOP mrose c4c9", ParseError::InvalidDigest),
        (
            b"APOP mrose c4c9334bac560ecc979e58001b3e22fg",
            ParseError::InvalidDigest,
        ),
        (b"AUTH PL@IN", ParseError::InvalidMechanism),
        (
            b"AUTH THIS-NAME-IS-TOO-LONG-21",
            ParseError::InvalidMechanism,
        ),
        (b"AUTH PLAIN ***", ParseError::InvalidBase64),
        (b"AUTH PLAIN a b", ParseError::TooManyArguments),
        (b"STLS now", ParseError::TooManyArguments),
        (b" STAT", ParseError::UnknownCommand),
        (b"STATS", ParseError::UnknownCommand),
        (b"GET / HTTP/1.1", ParseError::UnknownCommand),
        (b"STLS\r\nUSER evil", ParseError::BareLineEnding),
    ] {
        assert_eq!(parse::command(line), Err(err), "{line:?}");
    }
    assert_eq!(
        parse::command(b"rEtR 4294967295").unwrap(),
        Command::Retr(n(u32::MAX))
    );
    assert_eq!(parse::command(b"RETR 007").unwrap(), Command::Retr(n(7)));
    // Upper-case digests are accepted and written back in lower case.
    let cmd = parse::command(b"APOP mrose C4C9334BAC560ECC979E58001B3E22FB").unwrap();
    assert_eq!(
        &cmd.to_bytes().unwrap()[..],
        b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"
    );
    // An empty password is a password.
    assert_eq!(
        parse::command(b"PASS ").unwrap(),
        Command::Pass(SecretBytes::new(""))
    );
    // No secret in Debug.
    let dbg = format!(
        "{:?}",
        parse::command(b"AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=").unwrap()
    );
    assert!(!dbg.contains("dGVzd") && dbg.contains("REDACTED"), "{dbg}");
    let dbg = format!("{:?}", parse::command(b"PASS hunter2").unwrap());
    assert!(!dbg.contains("hunter2"), "{dbg}");
}

#[test]
fn limits() {
    // 255 octets with CRLF pass, 256 do not, with or without the CRLF given.
    let ok = [b"USER ".as_slice(), &[b'a'; 248]].concat();
    assert_eq!(ok.len() + 2, MAX_COMMAND_LINE);
    assert!(parse::command(&ok).is_ok());
    assert!(parse::command(&[&ok[..], b"\r\n"].concat()).is_ok());
    let long = [&ok[..], b"a"].concat();
    let err = Err(ParseError::LineTooLong { limit: 255 });
    assert_eq!(parse::command(&long), err);
    assert_eq!(parse::command(&[&long[..], b"\r\n"].concat()), err);
    assert_eq!(parse::command(&vec![b'A'; 10 << 20]), err);
    assert_eq!(
        ParseError::LineTooLong { limit: 255 }.reply_text(),
        "Line too long"
    );

    let ok = [b"-ERR ".as_slice(), &[b'x'; 505]].concat();
    assert_eq!(ok.len() + 2, MAX_RESPONSE_LINE);
    assert!(parse::response(&ok).is_ok());
    let long = [&ok[..], b"x"].concat();
    assert_eq!(
        parse::response(&long),
        Err(ParseError::LineTooLong { limit: 512 })
    );
    assert_eq!(
        parse::capability(&[&b"IMPLEMENTATION "[..], &[b'x'; 600]].concat()),
        Err(ParseError::LineTooLong { limit: 512 })
    );
    // Continuations may be longer than 512 (RFC 5034 §4), up to the SASL bound.
    let b64 = mailsec_tls::sasl::wire::encode(&[7u8; 3000]);
    let line = [b"+ ".as_slice(), b64.as_bytes()].concat();
    assert_eq!(
        parse::response(&line).unwrap(),
        Response::Continuation(vec![7; 3000])
    );
    let huge = [b"+ ".as_slice(), &vec![b'A'; 1 << 20]].concat();
    assert!(matches!(
        parse::response(&huge),
        Err(ParseError::LineTooLong { .. })
    ));
    assert!(matches!(
        parse::auth_response(&huge[2..]),
        Err(ParseError::LineTooLong { .. })
    ));

    // The serializer refuses what the parser would refuse.
    let cmd = Command::User(vec![b'a'; 249]);
    assert_eq!(
        cmd.to_bytes(),
        Err(SerializeError::LineTooLong {
            len: 256,
            limit: 255
        })
    );
    let mut buf = BytesMut::from(&b"keep"[..]);
    assert!(
        serialize::command(&Command::Pass(SecretBytes::new(vec![b'p'; 300])), &mut buf).is_err()
    );
    assert_eq!(&buf[..], b"keep", "nothing written on error");
    let ir = Command::Auth {
        mechanism: Mechanism::Plain.into(),
        initial_response: Some(SecretBytes::new(vec![0; 200])),
    };
    assert!(matches!(
        ir.to_bytes(),
        Err(SerializeError::LineTooLong { .. })
    ));
}

#[test]
fn serializer_refuses_ambiguity_and_bad_tokens() {
    let err = |s: StatusLine| Response::Status(s).to_bytes().unwrap_err();
    assert_eq!(
        err(StatusLine::ok("[IN-USE] text")),
        SerializeError::Ambiguous("response text")
    );
    assert_eq!(
        err(StatusLine::ok("x").with_code(ResponseCode::Other(b"in-use".to_vec()))),
        SerializeError::Ambiguous("response code")
    );
    assert!(matches!(
        err(StatusLine::ok("x").with_code(ResponseCode::Other(b"A]B".to_vec()))),
        SerializeError::InvalidToken(_)
    ));
    assert!(matches!(
        err(StatusLine::ok("a\r\n+OK b")),
        SerializeError::InvalidToken(_)
    ));
    // A text starting with '[' that is not a code is fine.
    assert!(
        Response::Status(StatusLine::ok("[not a code"))
            .to_bytes()
            .is_ok()
    );
    assert!(Command::User(b"a b".to_vec()).to_bytes().is_err());
    assert!(Command::User(Vec::new()).to_bytes().is_err());
    assert!(
        Command::Pass(SecretBytes::new("a\r\nDELE 1"))
            .to_bytes()
            .is_err()
    );
    let mut buf = BytesMut::new();
    let other = |name: &[u8], args: &[&[u8]]| Capability::Other {
        name: name.to_vec(),
        args: args.iter().map(|a| a.to_vec()).collect(),
    };
    assert!(serialize::capability(&other(b"top", &[]), &mut buf).is_err());
    assert!(serialize::capability(&other(b"X.Y", &[]), &mut buf).is_err());
    assert!(serialize::capability(&other(b"X-Y", &[b"a b"]), &mut buf).is_err());
    assert!(serialize::capability(&other(b"X-Y", &[b"a", b"b"]), &mut buf).is_ok());
    assert_eq!(&buf[..], b"X-Y a b\r\n");
}

#[test]
fn capabilities_parse_round_trip() {
    for line in [
        &b"TOP"[..],
        b"SASL",
        b"SASL PLAIN SCRAM-SHA-256",
        b"LOGIN-DELAY 0",
        b"LOGIN-DELAY 900 USER",
        b"EXPIRE NEVER",
        b"EXPIRE 0 USER",
        b"IMPLEMENTATION",
        b"IMPLEMENTATION  two spaces",
        b"STLS",
        b"AUTH-RESP-CODE",
        b"UTF8",
        b"UTF8 USER",
        b"LANG",
        b"X-EXT a b c",
    ] {
        let cap = parse::capability(line).unwrap();
        let mut out = BytesMut::new();
        serialize::capability(&cap, &mut out).unwrap();
        assert_eq!(&out[..out.len() - 2], line);
    }
    // Tolerance: case, extra spaces, junk after argument-less names, bad mechanism names.
    assert_eq!(parse::capability(b"stls").unwrap(), Capability::Stls);
    assert_eq!(parse::capability(b"TOP junk").unwrap(), Capability::Top);
    assert_eq!(
        parse::capability(b"SASL  PLAIN  b@d").unwrap(),
        Capability::Sasl(vec![MechanismName::new(b"plain").unwrap()])
    );
    assert_eq!(
        parse::capability(b"EXPIRE"),
        Err(ParseError::InvalidCapability)
    );
    assert_eq!(
        parse::capability(b"LOGIN-DELAY x"),
        Err(ParseError::InvalidNumber)
    );
    assert_eq!(
        parse::capability(b"EXPIRE 99999999999"),
        Err(ParseError::NumberOutOfRange)
    );
    assert_eq!(parse::capability(b""), Err(ParseError::InvalidCapability));
    assert_eq!(
        parse::capability(b".dot"),
        Err(ParseError::InvalidCapability)
    );
}

#[test]
fn listings() {
    assert_eq!(
        parse::scan_listing(b"1 120 extra info").unwrap(),
        mailsec_pop3::ScanListing {
            msg: n(1),
            size: 120
        }
    );
    assert_eq!(parse::scan_listing(b"1"), Err(ParseError::MissingArgument));
    assert_eq!(
        parse::scan_listing(b"0 1"),
        Err(ParseError::ZeroMessageNumber)
    );
    assert_eq!(
        parse::scan_listing(b"1 18446744073709551616"),
        Err(ParseError::NumberOutOfRange)
    );
    assert_eq!(
        parse::stat(b"0 0").unwrap(),
        mailsec_pop3::Stat { count: 0, size: 0 }
    );
    assert_eq!(
        parse::uidl_listing(b"1 a b"),
        Err(ParseError::InvalidUniqueId)
    );
    assert_eq!(parse::uidl_listing(b"1 "), Err(ParseError::InvalidUniqueId));
    assert!(parse::uidl_listing(&[b"1 ".as_slice(), &[b'~'; 70]].concat()).is_ok());
    assert_eq!(
        parse::uidl_listing(&[b"1 ".as_slice(), &[b'~'; 71]].concat()),
        Err(ParseError::InvalidUniqueId)
    );
    assert_eq!(
        parse::uidl_listing(b"1 caf\xc3\xa9"),
        Err(ParseError::InvalidUniqueId)
    );
    let l = parse::uidl_listing(b"2 QhdPYR:00WBw1Ph7x7").unwrap();
    assert_eq!(&l.status_line().text[..], b"2 QhdPYR:00WBw1Ph7x7");
}

#[test]
fn apop_timestamps() {
    assert_eq!(parse::apop_timestamp(b"ready"), None);
    assert_eq!(parse::apop_timestamp(b"<no-at-sign>"), None);
    assert_eq!(parse::apop_timestamp(b"<>"), None);
    assert_eq!(parse::apop_timestamp(b"<a b@c>"), None);
    assert_eq!(parse::apop_timestamp(b"<<a@b>"), Some(&b"<a@b>"[..]));
    assert_eq!(parse::apop_timestamp(b"x <a@b"), None);
    assert_eq!(parse::apop_timestamp(b"<a@b> <c@d>"), Some(&b"<a@b>"[..]));
}

// ---- multi-line ----

/// Decodes `input` fed in the given chunks (each call sees the unconsumed rest of the current
/// chunk, as a caller with no buffer of its own would). Returns the body, how many input bytes
/// were consumed in total, and whether the decoder finished.
fn decode_chunked(
    dec: &mut MultilineDecoder,
    input: &[u8],
    cuts: &[usize],
) -> Result<(Vec<u8>, usize, bool), MultilineError> {
    let mut body = Vec::new();
    let mut at = 0;
    let mut bounds: Vec<usize> = cuts.to_vec();
    bounds.push(input.len());
    for end in bounds {
        if dec.is_done() {
            break;
        }
        let chunk = Bytes::copy_from_slice(&input[at..end]);
        let used = dec.feed(&chunk, |c| body.extend_from_slice(&c))?;
        at += used;
        if used < chunk.len() {
            assert!(dec.is_done());
            break;
        }
    }
    Ok((body, at, dec.is_done()))
}

fn check_every_chunking(input: &[u8], body: &[u8], consumed: usize, bare: BareLineEndings) {
    let new = || MultilineDecoder::new().with_bare_line_endings(bare);
    // Whole.
    assert_eq!(
        decode_chunked(&mut new(), input, &[]).unwrap(),
        (body.to_vec(), consumed, true)
    );
    // Byte by byte.
    let cuts: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        decode_chunked(&mut new(), input, &cuts).unwrap(),
        (body.to_vec(), consumed, true)
    );
    // Split once and twice at every offset.
    for i in 0..=input.len() {
        assert_eq!(
            decode_chunked(&mut new(), input, &[i]).unwrap(),
            (body.to_vec(), consumed, true),
            "split at {i}"
        );
        for j in i..=input.len() {
            assert_eq!(
                decode_chunked(&mut new(), input, &[i, j]).unwrap().0,
                body,
                "split at {i},{j}"
            );
        }
    }
    // The borrowed-slice API agrees.
    let mut dec = new();
    let mut out = Vec::new();
    let mut at = 0;
    while !dec.is_done() {
        let (used, chunk) = dec.decode(&input[at..]).unwrap();
        at += used;
        out.extend_from_slice(chunk.unwrap_or_default());
    }
    assert_eq!((&out[..], at), (body, consumed));
    assert_eq!(dec.body_len(), body.len() as u64);
}

#[test]
fn multiline_decoding() {
    let after = b"+OK 2 200\r\n-ERR x\r\n";
    for (wire, body) in [
        (&b".\r\n"[..], &b""[..]),
        (b"\r\n.\r\n", b"\r\n"),
        (b"line\r\n.\r\n", b"line\r\n"),
        (b"..\r\n.\r\n", b".\r\n"),
        (b"...\r\n.\r\n", b"..\r\n"),
        (b"..x\r\n.. \r\na.b\r\n.\r\n", b".x\r\n. \r\na.b\r\n"),
        (
            b"Subject: t\r\n\r\n..\r\n\r\n..\r\n.\r\n",
            b"Subject: t\r\n\r\n.\r\n\r\n.\r\n",
        ),
    ] {
        let input = [wire, after].concat();
        check_every_chunking(&input, body, wire.len(), BareLineEndings::Reject);
        check_every_chunking(&input, body, wire.len(), BareLineEndings::Pass);
    }
}

#[test]
fn multiline_strict_errors_and_tolerance() {
    for (wire, err) in [
        (&b"a\nb\r\n.\r\n"[..], MultilineError::BareLf),
        (b"a\rb\r\n.\r\n", MultilineError::BareCr),
        (b".x\r\n.\r\n", MultilineError::UnstuffedDot),
        (b".\rx\r\n.\r\n", MultilineError::BareCr),
        (b"\n.\n", MultilineError::BareLf),
    ] {
        let mut dec = MultilineDecoder::new();
        assert_eq!(decode_chunked(&mut dec, wire, &[]), Err(err), "{wire:?}");
        assert_eq!(dec.decode(b".\r\n"), Err(MultilineError::Failed));
        for i in 0..wire.len() {
            let mut dec = MultilineDecoder::new();
            assert_eq!(
                decode_chunked(&mut dec, wire, &[i]),
                Err(err),
                "{wire:?} at {i}"
            );
        }
    }
    // Tolerant: bare CR/LF are body bytes and never end a line or the body; a single leading
    // dot is kept.
    for (wire, body) in [
        (&b"a\nb\r\n.\r\n"[..], &b"a\nb\r\n"[..]),
        (b"a\n.\nb\r\n.\r\n", b"a\n.\nb\r\n"),
        (b"a\r.\rb\r\n.\r\n", b"a\r.\rb\r\n"),
        (b".x\r\n.\r\n", b".x\r\n"),
        (b".\rx\r\n.\r\n", b".\rx\r\n"),
        (b"\n.\n\r\n.\r\n", b"\n.\n\r\n"),
    ] {
        check_every_chunking(wire, body, wire.len(), BareLineEndings::Pass);
    }
}

#[test]
fn multiline_line_limit() {
    let mut dec = MultilineDecoder::new().with_max_line(10);
    assert_eq!(
        decode_chunked(&mut dec, b"12345678\r\n.\r\n", &[])
            .unwrap()
            .0,
        b"12345678\r\n"
    );
    let mut dec = MultilineDecoder::new().with_max_line(10);
    assert_eq!(
        decode_chunked(&mut dec, b"123456789\r\n.\r\n", &[3, 6]),
        Err(MultilineError::LineTooLong { limit: 10 })
    );
    // A peer that never ends its line is stopped at the default limit, without buffering.
    let mut dec = MultilineDecoder::new();
    let flood = Bytes::from(vec![b'x'; 1 << 20]);
    assert!(matches!(
        dec.feed(&flood, |_| {}),
        Err(MultilineError::LineTooLong { .. })
    ));
}

#[test]
fn multiline_zero_copy() {
    let input = Bytes::from_static(b"hello\r\nworld\r\n.\r\n");
    let mut dec = MultilineDecoder::new();
    let mut chunks = Vec::new();
    dec.feed(&input, |c| chunks.push(c)).unwrap();
    assert_eq!(chunks.len(), 1);
    assert_eq!(
        chunks[0].as_ptr(),
        input.as_ptr(),
        "a slice of the input, not a copy"
    );
}

#[test]
fn multiline_encoding() {
    let enc = |body: &[u8], bare: BareLineEndings, cuts: &[usize]| {
        let mut e = MultilineEncoder::new().with_bare_line_endings(bare);
        let mut out = BytesMut::new();
        let mut at = 0;
        for &c in cuts.iter().chain([body.len()].iter()) {
            e.encode(&body[at..c], &mut out)?;
            at = c;
        }
        e.finish(&mut out)?;
        Ok::<_, MultilineError>(out.to_vec())
    };
    for (body, wire) in [
        (&b""[..], &b".\r\n"[..]),
        (b"x", b"x\r\n.\r\n"),
        (b"x\r\n", b"x\r\n.\r\n"),
        (b".", b"..\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b"a\r\n.b\r\n..c", b"a\r\n..b\r\n...c\r\n.\r\n"),
        (b"\r\n", b"\r\n.\r\n"),
    ] {
        for i in 0..=body.len() {
            assert_eq!(
                enc(body, BareLineEndings::Reject, &[i]).unwrap(),
                wire,
                "{body:?} at {i}"
            );
        }
    }
    assert_eq!(
        enc(b"a\nb", BareLineEndings::Reject, &[]),
        Err(MultilineError::BareLf)
    );
    assert_eq!(
        enc(b"a\rb", BareLineEndings::Reject, &[]),
        Err(MultilineError::BareCr)
    );
    assert_eq!(
        enc(b"a\r", BareLineEndings::Reject, &[]),
        Err(MultilineError::BareCr)
    );
    for i in 0..=6 {
        assert_eq!(
            enc(b"a\n.b\r\n", BareLineEndings::ToCrlf, &[i]).unwrap(),
            b"a\r\n..b\r\n.\r\n"
        );
        assert_eq!(
            enc(b"a\r.b\n", BareLineEndings::ToCrlf, &[i.min(5)]).unwrap(),
            b"a\r\n..b\r\n.\r\n"
        );
    }
    // Pass: bare endings go out as they are, but a dot after them is stuffed anyway and the
    // body still ends with CRLF before the terminator.
    assert_eq!(
        enc(b"a\n.\n", BareLineEndings::Pass, &[]).unwrap(),
        b"a\n..\n\r\n.\r\n"
    );
    // After finish, nothing more.
    let mut e = MultilineEncoder::new();
    let mut out = BytesMut::new();
    e.finish(&mut out).unwrap();
    assert_eq!(e.encode(b"x", &mut out), Err(MultilineError::Finished));
    let mut out = BytesMut::new();
    dot_stuff(b"..\r\n", &mut out).unwrap();
    assert_eq!(&out[..], b"...\r\n.\r\n");
}

#[test]
fn stat_and_status_helpers() {
    let s = mailsec_pop3::Stat {
        count: 2,
        size: 320,
    }
    .status_line();
    assert_eq!(
        &Response::Status(s).to_bytes().unwrap()[..],
        b"+OK 2 320\r\n"
    );
    assert!(Command::Retr(n(1)).expects_multiline());
    assert!(!Command::List(Some(n(1))).expects_multiline());
    assert!(Command::User(b"u".to_vec()).carries_credentials());
    assert!(!Command::Stls.carries_credentials());
    assert_eq!(
        StatusLine::err("locked").with_code(ResponseCode::InUse),
        match parse::response(b"-ERR [IN-USE] locked").unwrap() {
            Response::Status(s) => s,
            _ => panic!(),
        }
    );
}

#[test]
fn canonical_form_may_grow_by_one_at_the_limit() {
    // "[CODE]text" parses (tolerant) and is written back as "[CODE] text": one octet more. At
    // the limit the serializer refuses rather than send an over-long line.
    let line = [b"+OK [X]".as_slice(), &[b't'; 503]].concat();
    assert_eq!(line.len() + 2, MAX_RESPONSE_LINE);
    let resp = parse::response(&line).unwrap();
    assert_eq!(
        resp.to_bytes(),
        Err(SerializeError::LineTooLong {
            len: 513,
            limit: 512
        })
    );
}
