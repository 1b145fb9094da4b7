//! RFC transcripts in both directions, malformed input, limits, and the DATA codec.

use bytes::{Bytes, BytesMut};
use mailsec_smtp::data::{
    BareLineEndings, BdatDecoder, DataDecoder, DataEncoder, Status, bdat_chunks, encode_bdat,
};
use mailsec_smtp::parse::{ParseOptions, ReplyParser, parse_command, parse_reply};
use mailsec_smtp::types::*;
use mailsec_smtp::{CommandError, DataError, EncodeError, ReplyError};
use mailsec_tls::framer::LineFramer;
use mailsec_tls::sasl::wire::{self, ClientLine};

const OPTS: ParseOptions = ParseOptions::new();

/// Runs a `C:`/`S:` transcript: every command parses and serializes back to the same line;
/// every reply is assembled line by line and serializes back to the same lines; DATA bodies
/// (written unstuffed, as the RFCs show them) go through the encoder and the decoder; a line
/// after a `334` is a SASL response. `C!` marks a command that must be refused.
fn run(transcript: &str) -> Vec<Reply> {
    let mut replies = Vec::new();
    let mut parser = ReplyParser::new();
    let mut pending: Vec<&str> = Vec::new();
    let mut body: Option<Vec<u8>> = None;
    let mut sasl = false;
    for line in transcript
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty())
    {
        let (who, text) = line.split_at(2);
        let text = text.strip_prefix(' ').unwrap_or(text);
        match who {
            "S:" => {
                pending.push(text);
                if let Some(reply) = parser.push_line(text.as_bytes()).unwrap() {
                    let mut expected = pending.join("\r\n");
                    expected.push_str("\r\n");
                    assert_eq!(
                        String::from_utf8(reply.to_bytes()).unwrap(),
                        expected,
                        "reply round trip"
                    );
                    if reply.code() == ReplyCode::OK && reply.is_multiline() {
                        let ext = Extensions::from_reply(&reply).unwrap();
                        assert_eq!(ext.to_reply().unwrap(), reply, "EHLO round trip");
                    }
                    if reply.code() == ReplyCode::START_DATA {
                        body = Some(Vec::new());
                    }
                    sasl = reply.code() == ReplyCode::AUTH_CHALLENGE;
                    pending.clear();
                    replies.push(reply);
                }
            }
            "C:" if body.is_some() => {
                if text == "." {
                    check_body(&body.take().unwrap());
                } else {
                    let b = body.as_mut().unwrap();
                    b.extend_from_slice(text.as_bytes());
                    b.extend_from_slice(b"\r\n");
                }
            }
            "C:" if sasl => {
                assert!(matches!(
                    wire::decode_client_line(text.as_bytes()).unwrap(),
                    ClientLine::Response(_)
                ));
                sasl = false;
            }
            "C:" => {
                let cmd =
                    parse_command(text.as_bytes(), OPTS).unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!(
                    String::from_utf8(cmd.to_bytes()).unwrap(),
                    format!("{text}\r\n"),
                    "command round trip"
                );
            }
            "C!" => {
                assert!(parse_command(text.as_bytes(), OPTS).is_err(), "{text}");
            }
            _ => panic!("bad transcript line {line}"),
        }
    }
    assert!(parser.is_idle() && body.is_none());
    replies
}

/// Encodes the body, decodes it whole, byte by byte and split at every offset.
fn check_body(body: &[u8]) {
    let mut wire = BytesMut::new();
    let mut enc = DataEncoder::new();
    enc.encode(body, &mut wire).unwrap();
    enc.finish(&mut wire).unwrap();
    let wire = wire.freeze();
    for split in 0..=wire.len() {
        let (got, rest) = decode_split(&wire, &[split]);
        assert_eq!(got.unwrap(), body);
        assert_eq!(rest, 0);
    }
    let all: Vec<usize> = (0..wire.len()).collect();
    assert_eq!(decode_split(&wire, &all).0.unwrap(), body);
}

/// Feeds `wire` cut at the given offsets; returns the body (or the error) and the octets left
/// unconsumed.
fn decode_split(wire: &[u8], cuts: &[usize]) -> (Result<Vec<u8>, DataError>, usize) {
    decode_split_limit(wire, cuts, u64::MAX)
}

fn decode_split_limit(
    wire: &[u8],
    cuts: &[usize],
    max: u64,
) -> (Result<Vec<u8>, DataError>, usize) {
    let mut dec = DataDecoder::new(max);
    let mut out = Vec::new();
    let mut error = None;
    let mut bounds = cuts.to_vec();
    bounds.push(wire.len());
    let mut prev = 0;
    for &b in &bounds {
        let chunk = Bytes::copy_from_slice(&wire[prev..b.max(prev)]);
        prev = b.max(prev);
        let fed = dec.feed(&chunk, |c| out.extend_from_slice(&c));
        if let Some(e) = fed.error {
            error.get_or_insert(e);
        }
        if fed.ended {
            let left = chunk.len() - fed.consumed + (wire.len() - prev);
            return (error.map_or(Ok(out), Err), left);
        }
    }
    panic!("no end of data in {:?}", String::from_utf8_lossy(wire));
}

#[test]
fn rfc5321_d1_typical_transaction() {
    run("
        S: 220 foo.com Simple Mail Transfer Service Ready
        C: EHLO bar.com
        S: 250-foo.com greets bar.com
        S: 250-8BITMIME
        S: 250-SIZE
        S: 250-DSN
        S: 250 HELP
        C: MAIL FROM:<Smith@bar.com>
        S: 250 OK
        C: RCPT TO:<Jones@foo.com>
        S: 250 OK
        C: RCPT TO:<Green@foo.com>
        S: 550 No such user here
        C: RCPT TO:<Brown@foo.com>
        S: 250 OK
        C: DATA
        S: 354 Start mail input; end with <CRLF>.<CRLF>
        C: Blah blah blah...
        C: ...etc. etc. etc.
        C: .
        S: 250 OK
        C: QUIT
        S: 221 foo.com Service closing transmission channel
    ");
}

#[test]
fn rfc5321_d2_aborted_transaction() {
    let replies = run("
        S: 220 foo.com Simple Mail Transfer Service Ready
        C: EHLO bar.com
        S: 250-foo.com greets bar.com
        S: 250-8BITMIME
        S: 250-SIZE
        S: 250-DSN
        S: 250 HELP
        C: MAIL FROM:<Smith@bar.com>
        S: 250 OK
        C: RCPT TO:<Jones@foo.com>
        S: 250 OK
        C: RCPT TO:<Green@foo.com>
        S: 550 No such user here
        C: RSET
        S: 250 OK
        C: QUIT
        S: 221 foo.com Service closing transmission channel
    ");
    let ext = Extensions::from_reply(&replies[1]).unwrap();
    assert_eq!(ext.domain(), "foo.com");
    assert_eq!(ext.greeting(), "greets bar.com");
    assert!(ext.eight_bit_mime() && ext.size() && ext.dsn() && ext.contains("help"));
    assert_eq!(ext.max_size(), None);
    assert!(!ext.pipelining() && !ext.starttls());
}

#[test]
fn rfc5321_d3_relayed_mail() {
    run("
        S: 220 foo.com Simple Mail Transfer Service Ready
        C: EHLO bar.com
        S: 250-foo.com greets bar.com
        S: 250-8BITMIME
        S: 250-SIZE
        S: 250-DSN
        S: 250 HELP
        C: MAIL FROM:<JQP@bar.com>
        S: 250 OK
        C: RCPT TO:<Jones@XYZ.COM>
        S: 250 OK
        C: DATA
        S: 354 Start mail input; end with <CRLF>.<CRLF>
        C: Date: Thu, 21 May 1998 05:33:29 -0700
        C: From: John Q. Public <JQP@bar.com>
        C: Subject: The Next Meeting of the Board
        C: To: Jones@xyz.com
        C:
        C: Bill:
        C: The next meeting of the board of directors will be
        C: on Tuesday.
        C: John.
        C: .
        S: 250 OK
        C: QUIT
        S: 221 foo.com Service closing transmission channel
    ");
    // The relay's side.
    run("
        S: 220 xyz.com Simple Mail Transfer Service Ready
        C: EHLO foo.com
        S: 250 xyz.com is on the air
        C: MAIL FROM:<JQP@bar.com>
        S: 250 OK
        C: RCPT TO:<Jones@XYZ.COM>
        S: 250 OK
        C: DATA
        S: 354 Start mail input; end with <CRLF>.<CRLF>
        C: Received: from bar.com by foo.com ; Thu, 21 May 1998
        C:     05:33:29 -0700
        C: Date: Thu, 21 May 1998 05:33:22 -0700
        C: .
        S: 250 OK
        C: QUIT
        S: 221 foo.com Service closing transmission channel
    ");
}

#[test]
fn rfc5321_d4_verifying_and_sending() {
    run("
        S: 220 foo.com Simple Mail Transfer Service Ready
        C: EHLO bar.com
        S: 250-foo.com greets bar.com
        S: 250-8BITMIME
        S: 250-SIZE
        S: 250-DSN
        S: 250-VRFY
        S: 250 HELP
        C: VRFY Crispin
        S: 250 Mark Crispin <Admin.MRC@foo.com>
        C! SEND FROM:<EAK@bar.com>
        S: 500 Command not recognized
        C: RCPT TO:<Admin.MRC@foo.com>
        S: 250 OK
        C: QUIT
        S: 221 foo.com Service closing transmission channel
    ");
    assert_eq!(
        parse_command(b"SEND FROM:<EAK@bar.com>", OPTS),
        Err(CommandError::UnknownCommand)
    );
}

#[test]
fn rfc3207_starttls() {
    let r = run("
        S: 220 mail.imc.org SMTP service ready
        C: EHLO mail.example.com
        S: 250-mail.imc.org offers a warm hug of welcome
        S: 250-8BITMIME
        S: 250-STARTTLS
        S: 250 DSN
        C: STARTTLS
        S: 220 Go ahead
    ");
    assert!(Extensions::from_reply(&r[1]).unwrap().starttls());
    assert_eq!(parse_command(b"starttls", OPTS), Ok(Command::StartTls));
    assert!(parse_command(b"STARTTLS now", OPTS).is_err());
}

#[test]
fn rfc4954_auth() {
    let r = run("
        S: 220 smtp.example.com ESMTP Server
        C: EHLO client.example.com
        S: 250-smtp.example.com Hello client.example.com
        S: 250-AUTH GSSAPI DIGEST-MD5
        S: 250-ENHANCEDSTATUSCODES
        S: 250 STARTTLS
        C: STARTTLS
        S: 220 Ready to start TLS
        C: EHLO client.example.com
        S: 250-smtp.example.com Hello client.example.com
        S: 250 AUTH GSSAPI DIGEST-MD5 PLAIN
        C: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=
        S: 235 2.7.0 Authentication successful
    ");
    let ext = Extensions::from_reply(&r[3]).unwrap();
    assert_eq!(
        ext.known_mechanisms(),
        [mailsec_tls::sasl::Mechanism::Plain]
    );
    assert_eq!(ext.auth_mechanisms().len(), 3);
    assert_eq!(r[4].enhanced(), Some(EnhancedCode::new(2, 7, 0).unwrap()));
    run("
        S: 220 smtp.example.com ESMTP Server
        C: AUTH PLAIN
        S: 334 
        C: dGVzdAB0ZXN0ADEyMzQ=
        S: 235 2.7.0 Authentication successful
    ");
    // The initial response is decoded and secret.
    let Command::Auth {
        mechanism,
        initial_response: Some(ir),
    } = parse_command(b"auth plain dGVzdAB0ZXN0ADEyMzQ=", OPTS).unwrap()
    else {
        panic!()
    };
    assert_eq!(mechanism.as_str(), "PLAIN");
    assert_eq!(ir.expose(), b"test\0test\x001234");
    assert!(!format!("{ir:?}").contains("test"));
    // `=` is an empty initial response, distinct from none (§4).
    let cmd = parse_command(b"AUTH PLAIN =", OPTS).unwrap();
    assert!(
        matches!(&cmd, Command::Auth { initial_response: Some(ir), .. } if ir.expose().is_empty())
    );
    assert_eq!(cmd.to_bytes(), b"AUTH PLAIN =\r\n");
    assert!(matches!(
        parse_command(b"AUTH PLAIN", OPTS).unwrap(),
        Command::Auth {
            initial_response: None,
            ..
        }
    ));
    assert_eq!(
        parse_command(b"AUTH PLAIN ", OPTS),
        Err(CommandError::Syntax { verb: "AUTH" })
    );
    let cmd = parse_command(b"AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=", OPTS).unwrap();
    assert!(!format!("{cmd:?}").contains("dGVzd"));
    assert_eq!(
        parse_command(b"AUTH PLAIN not*base64", OPTS),
        Err(CommandError::InvalidBase64)
    );
    assert_eq!(
        parse_command(b"AUTH THIS-NAME-IS-FAR-TOO-LONG-FOR-SASL", OPTS),
        Err(CommandError::InvalidMechanism)
    );
    // §5: the AUTH= parameter of MAIL, xtext-encoded.
    run("
        C: MAIL FROM:<e=mc2@example.com> AUTH=e+3Dmc2@example.com
        S: 250 OK
    ");
    let Command::Mail { params, .. } = parse_command(
        b"MAIL FROM:<e=mc2@example.com> AUTH=e+3Dmc2@example.com",
        OPTS,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(
        params,
        [MailParam::Auth(Some(XText::new("e=mc2@example.com")))]
    );
    assert_eq!(
        parse_command(b"MAIL FROM:<> AUTH=<>", OPTS).unwrap(),
        Command::Mail {
            from: ReversePath::Null,
            params: vec![MailParam::Auth(None)]
        }
    );
    // The old `AUTH=` EHLO form.
    let (reply, _) =
        parse_reply(b"250-x.example\r\n250-AUTH=LOGIN PLAIN\r\n250 AUTH PLAIN CRAM-MD5\r\n")
            .unwrap()
            .unwrap();
    let ext = Extensions::from_reply(&reply).unwrap();
    assert_eq!(
        ext.auth_mechanisms()
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>(),
        ["LOGIN", "PLAIN", "CRAM-MD5"]
    );
}

#[test]
fn auth_line_limit() {
    let mut line = b"AUTH PLAIN ".to_vec();
    line.resize(MAX_AUTH_LINE - 2, b'A');
    // 12286 octets of line: long enough for AUTH, but not valid base64 length — a limit error
    // would be wrong, a base64 error is right.
    assert_eq!(parse_command(&line, OPTS), Err(CommandError::InvalidBase64));
    line.push(b'A');
    assert!(matches!(
        parse_command(&line, OPTS),
        Err(CommandError::LineTooLong {
            limit: MAX_AUTH_LINE,
            ..
        })
    ));
}

#[test]
fn rfc3030_bdat() {
    run("
        S: 220 cnri.reston.va.us SMTP service ready
        C: EHLO ymir.claremont.edu
        S: 250-cnri.reston.va.us says hello
        S: 250 CHUNKING
        C: MAIL FROM:<Sam@Random.com>
        S: 250 <Sam@Random.com>... Sender ok
        C: RCPT TO:<Susan@Random.com>
        S: 250 <Susan@random.com>... Recipient ok
        C: BDAT 86 LAST
        S: 250 Message OK, 0 bytes
        C: QUIT
        S: 221 Goodbye
    ");
    let message: &[u8] = b"To: Susan@random.com\r\nFrom: Sam@random.com\r\nSubject: This is a bodyless test message\r\n";
    assert_eq!(message.len(), 86);
    // The wire: BDAT, the exact chunk (which may contain anything), then the next command.
    let mut wire = BytesMut::new();
    encode_bdat(&message[..30], false, &mut wire);
    encode_bdat(&message[30..], true, &mut wire);
    wire.extend_from_slice(b"QUIT\r\n");
    let mut framer = LineFramer::new(MAX_COMMAND_LINE);
    framer.push(&wire).unwrap();
    let mut got = Vec::new();
    let mut commands = Vec::new();
    while let Some(line) = framer.next_line() {
        let cmd = parse_command(&line.unwrap(), OPTS).unwrap();
        if let Command::Bdat { size, .. } = cmd {
            let mut chunk = BdatDecoder::new(size);
            let raw = framer.take_raw(size as usize);
            assert_eq!(chunk.take(&raw), 0..raw.len());
            assert!(chunk.is_complete());
            got.extend_from_slice(&raw);
        }
        commands.push(cmd);
    }
    assert_eq!(got, message);
    assert_eq!(
        commands,
        [
            Command::Bdat {
                size: 30,
                last: false
            },
            Command::Bdat {
                size: 56,
                last: true
            },
            Command::Quit
        ]
    );
    assert_eq!(
        bdat_chunks(b"", 10).collect::<Vec<_>>(),
        [(
            Command::Bdat {
                size: 0,
                last: true
            },
            &b""[..]
        )]
    );
    assert_eq!(
        parse_command(b"BDAT 0 last", OPTS),
        Ok(Command::Bdat {
            size: 0,
            last: true
        })
    );
    assert_eq!(
        parse_command(b"BDAT", OPTS),
        Err(CommandError::Syntax { verb: "BDAT" })
    );
    assert_eq!(
        parse_command(b"BDAT -1", OPTS),
        Err(CommandError::InvalidNumber)
    );
    assert_eq!(
        parse_command(b"BDAT 99999999999999999999", OPTS),
        Err(CommandError::InvalidNumber)
    );
    assert_eq!(
        parse_command(b"BDAT 5 FIRST", OPTS),
        Err(CommandError::Syntax { verb: "BDAT" })
    );
}

#[test]
fn rfc1870_size() {
    let r = run("
        S: 220 sigurd.innosoft.com -- Server SMTP (PMDF V4.2-6 #1992)
        C: EHLO ymir.claremont.edu
        S: 250-sigurd.innosoft.com
        S: 250-EXPN
        S: 250-HELP
        S: 250 SIZE 1000000
        C: MAIL FROM:<ned@thor.innosoft.com> SIZE=500000
        S: 250 Address Ok.
        C: RCPT TO:<ned@innosoft.com>
        S: 250 ned@innosoft.com OK; can accomodate 500000 byte message
    ");
    assert_eq!(
        Extensions::from_reply(&r[1]).unwrap().max_size(),
        Some(1_000_000)
    );
    // Huge SIZE values: 20 digits that overflow, more digits, none.
    for bad in [
        &b"MAIL FROM:<a@b.c> SIZE=99999999999999999999"[..],
        b"MAIL FROM:<a@b.c> SIZE=123456789012345678901",
        b"MAIL FROM:<a@b.c> SIZE=",
        b"MAIL FROM:<a@b.c> SIZE",
        b"MAIL FROM:<a@b.c> SIZE=12x",
    ] {
        let e = parse_command(bad, OPTS).unwrap_err();
        assert_eq!(e.reply_code(), 555, "{e:?}");
    }
    assert_eq!(
        parse_command(b"MAIL FROM:<a@b.c> SIZE=18446744073709551615", OPTS).unwrap(),
        Command::Mail {
            from: ReversePath::Mailbox(Mailbox::parse(b"a@b.c", false).unwrap()),
            params: vec![MailParam::Size(u64::MAX)]
        }
    );
    assert_eq!(
        parse_command(b"MAIL FROM:<a@b.c> SIZE=1 size=2", OPTS),
        Err(CommandError::DuplicateParameter {
            keyword: "SIZE".into()
        })
    );
}

#[test]
fn rfc3461_dsn() {
    run("
        C: EHLO Example.ORG
        S: 250-Example.ORG
        S: 250 DSN
        C: MAIL FROM:<Alice@Test.Example> RET=HDRS ENVID=QQ314159
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<Bob@Test.Example> NOTIFY=SUCCESS ORCPT=rfc822;Bob@Test.Example
        S: 250 2.1.5 Recipient OK
        C: RCPT TO:<Carol@Ivory.Example> NOTIFY=FAILURE ORCPT=rfc822;Carol@Ivory.Example
        S: 250 2.1.5 Recipient OK
        C: RCPT TO:<Dana@Ivory.Example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Dana@Ivory.Example
        S: 250 2.1.5 Recipient OK
        C: RCPT TO:<Fred@Bombs.Example> NOTIFY=NEVER ORCPT=rfc822;Fred@Bombs.Example
        S: 250 2.1.5 Recipient OK
        C: MAIL FROM:<a@b.c> BODY=8BITMIME SMTPUTF8 REQUIRETLS RET=FULL ENVID=a+2Bb+20c XFOO=bar XBAZ
        S: 250 OK
    ");
    let cmd = parse_command(
        b"RCPT TO:<Dana@Ivory.Example> notify=delay,success orcpt=rfc822;x+2By@z",
        OPTS,
    )
    .unwrap();
    let Command::Rcpt { params, .. } = &cmd else {
        panic!()
    };
    assert_eq!(
        params[0],
        RcptParam::Notify(Notify {
            success: true,
            failure: false,
            delay: true
        })
    );
    let RcptParam::Orcpt(o) = &params[1] else {
        panic!()
    };
    assert_eq!(
        (o.addr_type(), o.address().as_bytes()),
        ("rfc822", &b"x+y@z"[..])
    );
    assert_eq!(
        cmd.to_bytes(),
        b"RCPT TO:<Dana@Ivory.Example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x+2By@z\r\n"
    );
    for bad in [
        &b"RCPT TO:<a@b.c> NOTIFY=NEVER,SUCCESS"[..],
        b"RCPT TO:<a@b.c> NOTIFY=SUCCESS,SUCCESS",
        b"RCPT TO:<a@b.c> NOTIFY=",
        b"RCPT TO:<a@b.c> ORCPT=rfc822",
        b"RCPT TO:<a@b.c> ORCPT=rfc822;a+2",
        b"RCPT TO:<a@b.c> ORCPT=rfc822;a+zz",
        b"MAIL FROM:<a@b.c> RET=ALL",
        b"MAIL FROM:<a@b.c> ENVID=a+4",
        b"MAIL FROM:<a@b.c> BODY=9BIT",
        b"MAIL FROM:<a@b.c> SMTPUTF8=yes",
        b"MAIL FROM:<a@b.c> =x",
        b"MAIL FROM:<a@b.c> X==y",
    ] {
        assert_eq!(
            parse_command(bad, OPTS).unwrap_err().reply_code(),
            555,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // Unknown parameters are kept, in RCPT even with a MAIL keyword.
    let cmd = parse_command(b"RCPT TO:<a@b.c> SIZE=5 X-Y", OPTS).unwrap();
    let Command::Rcpt { params, .. } = &cmd else {
        panic!()
    };
    assert!(
        matches!(&params[0], RcptParam::Other(p) if p.keyword().is("size") && p.value() == Some("5"))
    );
    assert_eq!(cmd.to_bytes(), b"RCPT TO:<a@b.c> SIZE=5 X-Y\r\n");
}

#[test]
fn paths() {
    let mailbox = |c: &[u8]| match parse_command(c, OPTS) {
        Ok(Command::Rcpt {
            to: ForwardPath::Mailbox(m),
            ..
        }) => Ok(m),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e),
    };
    // A source route is accepted and dropped (RFC 5321 §4.1.2).
    let cmd = parse_command(b"RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>", OPTS).unwrap();
    assert_eq!(cmd.to_bytes(), b"RCPT TO:<userc@d.bar.org>\r\n");
    assert_eq!(
        parse_command(b"rcpt to:<postmaster>", OPTS),
        Ok(Command::Rcpt {
            to: ForwardPath::Postmaster,
            params: vec![]
        })
    );
    let m = mailbox(br#"RCPT TO:<"john \"q\" smith"@[IPv6:2001:db8::1]>"#).unwrap();
    assert!(m.local_part().is_quoted());
    assert_eq!(m.local_part().unquoted(), r#"john "q" smith"#);
    assert_eq!(
        m.host(),
        &Host::Literal(AddressLiteral::Ipv6("2001:db8::1".parse().unwrap()))
    );
    let m = mailbox(b"RCPT TO:<x@[192.0.2.1]>").unwrap();
    assert_eq!(m.to_string(), "x@[192.0.2.1]");
    let m = mailbox(b"RCPT TO:<x@[x400:c=us;a=b]>").unwrap();
    assert!(
        matches!(m.host(), Host::Literal(AddressLiteral::General { tag, .. }) if tag == "x400")
    );
    // One space after the colon is tolerated.
    assert!(parse_command(b"MAIL FROM: <a@b.c>", OPTS).is_ok());
    for bad in [
        &b"RCPT TO:<>"[..],
        b"RCPT TO:a@b.c",
        b"RCPT TO:<a@b.c",
        b"RCPT TO:<a@b.c>x",
        b"RCPT TO:<a..b@c.d>",
        b"RCPT TO:<.a@c.d>",
        b"RCPT TO:<a.@c.d>",
        b"RCPT TO:<a@-c.d>",
        b"RCPT TO:<a@c-.d>",
        b"RCPT TO:<a@c..d>",
        b"RCPT TO:<a@c.d.>",
        b"RCPT TO:<a@[1.2.3]>",
        b"RCPT TO:<a@[01.2.3.4]>",
        b"RCPT TO:<a@[IPv6:1::2::3]>",
        b"RCPT TO:<a@[x\\y]>",
        b"RCPT TO:<@a.b:>",
        b"RCPT TO:<@a.b,c.d:x@y.z>",
        b"RCPT TO:<\"unterminated@x.y>",
        b"RCPT TO:<a b@c.d>",
        b"RCPT TO:<a@b.c>  ",
        b"RCPT FROM:<a@b.c>",
        b"MAIL TO:<a@b.c>",
        b"MAIL FROM:",
        b"MAIL",
    ] {
        let r = parse_command(bad, OPTS);
        // Trailing spaces are harmless separators; everything else must fail.
        if bad.ends_with(b"  ") {
            assert!(r.is_ok());
            continue;
        }
        assert!(r.is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
    let long_label = format!("RCPT TO:<a@{}.com>", "x".repeat(64));
    assert!(parse_command(long_label.as_bytes(), OPTS).is_err());
    assert!(Domain::new(format!("{}.com", "x".repeat(63)).as_bytes()).is_ok());
}

#[test]
fn smtputf8() {
    let utf8 = ParseOptions::default().smtputf8(true);
    let line = "MAIL FROM:<jösé@bücher.example> SMTPUTF8".as_bytes();
    assert_eq!(
        parse_command(line, OPTS),
        Err(CommandError::Utf8NotPermitted)
    );
    let cmd = parse_command(line, utf8).unwrap();
    assert_eq!(cmd.to_bytes(), [line, b"\r\n"].concat());
    // Offered by the server but not asked for in this MAIL.
    assert_eq!(
        parse_command("MAIL FROM:<jösé@x.example>".as_bytes(), utf8),
        Err(CommandError::Utf8NotPermitted)
    );
    assert_eq!(CommandError::Utf8NotPermitted.reply_code(), 553);
    let rcpt = "RCPT TO:<\"ü x\"@例え.jp>".as_bytes();
    assert!(parse_command(rcpt, OPTS).is_err());
    assert!(parse_command(rcpt, utf8).is_ok());
    assert!(parse_command("EHLO bücher.example".as_bytes(), OPTS).is_err());
    assert!(parse_command("EHLO bücher.example".as_bytes(), utf8).is_ok());
    // Invalid UTF-8 is refused even so.
    assert!(parse_command(b"RCPT TO:<\xff@x.y>", utf8).is_err());
}

#[test]
fn commands_misc() {
    for (line, cmd) in [
        (&b"noop"[..], Command::Noop(None)),
        (
            b"NOOP hello there",
            Command::Noop(Some(Text::new("hello there").unwrap())),
        ),
        (b"Help", Command::Help(None)),
        (
            b"HELP MAIL",
            Command::Help(Some(Text::new("MAIL").unwrap())),
        ),
        (
            b"EXPN Example-People",
            Command::Expn(Text::new("Example-People").unwrap()),
        ),
        (b"rset", Command::Rset),
        (b"data", Command::Data),
        (b"QuIt", Command::Quit),
        (
            b"HELO [192.0.2.7]",
            Command::Helo(Host::parse(b"[192.0.2.7]", false).unwrap()),
        ),
        (
            b"EHLO [IPv6:::1]",
            Command::Ehlo(Host::Literal(AddressLiteral::Ipv6("::1".parse().unwrap()))),
        ),
    ] {
        assert_eq!(
            parse_command(line, OPTS),
            Ok(cmd.clone()),
            "{:?}",
            String::from_utf8_lossy(line)
        );
        assert_eq!(
            parse_command(&cmd.to_bytes()[..cmd.to_bytes().len() - 2], OPTS),
            Ok(cmd)
        );
    }
    for (bad, err) in [
        (&b""[..], CommandError::UnknownCommand),
        (b"XYZZY", CommandError::UnknownCommand),
        (b"STARTTLSX", CommandError::UnknownCommand),
        (b"DATA now", CommandError::Syntax { verb: "DATA" }),
        (b"QUIT ", CommandError::Syntax { verb: "QUIT" }),
        (b"EHLO", CommandError::Syntax { verb: "EHLO" }),
        (b"EHLO a.b c", CommandError::Syntax { verb: "EHLO" }),
        (b"VRFY", CommandError::Syntax { verb: "VRFY" }),
        (b"NOOP \x01", CommandError::InvalidText),
        (b"NOOP a\0b", CommandError::ForbiddenOctet { byte: 0 }),
        (b"NOOP a\rb", CommandError::ForbiddenOctet { byte: b'\r' }),
        (b"RSET\n", CommandError::ForbiddenOctet { byte: b'\n' }),
        (
            b"MAIL FROM:<a@b.c>\rRCPT TO:<x@y.z>",
            CommandError::ForbiddenOctet { byte: b'\r' },
        ),
    ] {
        assert_eq!(
            parse_command(bad, OPTS),
            Err(err),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn command_line_limit() {
    let mut line = b"NOOP ".to_vec();
    line.resize(MAX_COMMAND_LINE - 2, b'x');
    assert!(parse_command(&line, OPTS).is_ok());
    line.push(b'x'); // 511 + CRLF = 513
    assert_eq!(
        parse_command(&line, OPTS),
        Err(CommandError::LineTooLong {
            len: 513,
            limit: 512
        })
    );
    // 10 MB: refused by length before anything is scanned or kept.
    let huge = vec![b'A'; 10 << 20];
    assert!(matches!(
        parse_command(&huge, OPTS),
        Err(CommandError::LineTooLong { .. })
    ));
    // And the framer never buffers it whole.
    let mut framer = LineFramer::new(MAX_COMMAND_LINE);
    for chunk in huge.chunks(4096) {
        framer.push(chunk).unwrap();
        while let Some(r) = framer.next_line() {
            assert!(r.is_err());
        }
        assert!(framer.buffered() <= MAX_COMMAND_LINE);
    }
}

#[test]
fn replies() {
    let (r, n) = parse_reply(b"250-a\r\n250-2.0.0\r\n250 b\r\nrest")
        .unwrap()
        .unwrap();
    assert_eq!(n, 25);
    assert_eq!(r.lines(), ["a", "2.0.0", "b"]);
    assert_eq!(r.enhanced(), None);
    assert_eq!(parse_reply(b"250-a\r\n250 b").unwrap(), None);
    assert_eq!(
        parse_reply(b"250-a\r\n251 b\r\n"),
        Err(ReplyError::MixedCodes {
            first: 250,
            found: 251
        })
    );
    assert_eq!(parse_reply(b"25 x\r\n"), Err(ReplyError::Malformed));
    assert_eq!(parse_reply(b"250x\r\n"), Err(ReplyError::Malformed));
    assert_eq!(parse_reply(b"199 x\r\n"), Err(ReplyError::InvalidCode));
    assert_eq!(parse_reply(b"600 x\r\n"), Err(ReplyError::InvalidCode));
    assert_eq!(parse_reply(b"250 x\n"), Err(ReplyError::BareLineEnding));
    assert_eq!(
        parse_reply(b"250 x\ry\r\n"),
        Err(ReplyError::BareLineEnding)
    );
    // Enhanced codes: class must match; stripped from every line that repeats it.
    let (r, _) = parse_reply(b"550-5.1.1 No such\r\n550 5.1.1 user\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.enhanced().unwrap().to_string(), r.lines()),
        ("5.1.1".into(), &["No such".to_string(), "user".into()][..])
    );
    let (r, _) = parse_reply(b"550 2.1.1 odd\r\n").unwrap().unwrap();
    assert_eq!(
        (r.enhanced(), r.lines()),
        (None, &["2.1.1 odd".to_string()][..])
    );
    let (r, _) = parse_reply(b"250 2.1.0\r\n").unwrap().unwrap();
    assert_eq!(
        (r.enhanced().is_some(), r.lines()),
        (true, &[String::new()][..])
    );
    // Control characters and bad UTF-8 are cleaned out of server text.
    let (r, _) = parse_reply(b"220 evil\x1b[31m\x00\x7f text \xff\xc2\x9b\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(r.lines(), ["evil[31m text ?"]);
    // Line limit.
    let mut long = b"250 ".to_vec();
    long.resize(511, b'x');
    let mut p = ReplyParser::new();
    assert!(p.push_line(&long[..510]).unwrap().is_some());
    assert_eq!(
        p.push_line(&long),
        Err(ReplyError::LineTooLong {
            len: 513,
            limit: 512
        })
    );
    assert!(p.is_idle());
    // Line count and size limits.
    let mut p = ReplyParser::new();
    for _ in 0..MAX_REPLY_LINES {
        assert_eq!(p.push_line(b"250-x").unwrap(), None);
    }
    assert_eq!(
        p.push_line(b"250 x"),
        Err(ReplyError::TooManyLines {
            limit: MAX_REPLY_LINES
        })
    );
    let mut p = ReplyParser::with_limits(1000, 1024);
    let line = [b"250-".to_vec(), vec![b'y'; 500]].concat();
    assert_eq!(p.push_line(&line).unwrap(), None);
    assert_eq!(p.push_line(&line).unwrap(), None);
    assert_eq!(
        p.push_line(&line),
        Err(ReplyError::TooLarge { limit: 1024 })
    );
    // After an error the parser starts over.
    assert!(p.push_line(b"221 bye").unwrap().is_some());
    // Building replies.
    assert_eq!(Reply::single(250, "a\nb"), Err(ReplyError::InvalidText));
    assert_eq!(
        Reply::single(250, "2.0.0 looks enhanced"),
        Err(ReplyError::InvalidText)
    );
    assert_eq!(Reply::single(150, "x"), Err(ReplyError::InvalidCode));
    assert_eq!(
        Reply::new(
            ReplyCode::OK,
            Some(EnhancedCode::new(5, 0, 0).unwrap()),
            vec![]
        ),
        Err(ReplyError::InvalidEnhancedCode)
    );
    assert_eq!(Reply::single(334, "").unwrap().to_bytes(), b"334 \r\n");
    assert_eq!(Reply::single(250, "").unwrap().to_bytes(), b"250\r\n");
    assert!(Reply::single(250, &"x".repeat(506)).is_ok());
    assert!(Reply::single(250, &"x".repeat(507)).is_err());
}

#[test]
fn ehlo_extensions() {
    let ext = Extensions::new(&Domain::new(b"mx.example").unwrap())
        .with_greeting("at your service")
        .unwrap()
        .with(Extension::Pipelining)
        .with(Extension::Size(Some(35_882_577)))
        .with(Extension::EightBitMime)
        .with(Extension::SmtpUtf8)
        .with(Extension::Chunking)
        .with(Extension::BinaryMime)
        .with(Extension::EnhancedStatusCodes)
        .with(Extension::Dsn)
        .with(Extension::StartTls)
        .with(Extension::Auth(vec![
            SaslMechanism::new(b"plain").unwrap(),
            SaslMechanism::new(b"SCRAM-SHA-256").unwrap(),
        ]))
        .with(Extension::RequireTls)
        .with(Extension::Other {
            keyword: "X-EXPS".into(),
            params: vec!["GSSAPI".into(), "NTLM".into()],
        });
    let bytes = ext.to_reply().unwrap().to_bytes();
    assert!(
        bytes.starts_with(
            b"250-mx.example at your service\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n"
        )
    );
    assert!(bytes.ends_with(b"250-REQUIRETLS\r\n250 X-EXPS GSSAPI NTLM\r\n"));
    let (reply, _) = parse_reply(&bytes).unwrap().unwrap();
    let back = Extensions::from_reply(&reply).unwrap();
    assert_eq!(back, ext);
    assert!(back.pipelining() && back.smtputf8() && back.chunking() && back.binary_mime());
    assert!(back.enhanced_status_codes() && back.dsn() && back.starttls() && back.requiretls());
    assert!(back.contains("x-exps"));
    // Case-insensitive keywords; unreadable parameters keep the line as unknown.
    let (reply, _) =
        parse_reply(b"250-h\r\n250-pipelining\r\n250-SIZE big\r\n250 STARTTLS now\r\n")
            .unwrap()
            .unwrap();
    let ext = Extensions::from_reply(&reply).unwrap();
    assert!(ext.pipelining() && !ext.size() && !ext.starttls());
    assert_eq!(
        Extensions::from_reply(&Reply::single(550, "no").unwrap()),
        Err(ReplyError::NotEhlo)
    );
}

// ---- DATA ----

#[test]
fn data_decoder_basics() {
    // Empty message: the very first line is the terminator.
    assert_eq!(decode_split(b".\r\n", &[]), (Ok(vec![]), 0));
    // Dot-unstuffing, CRLF kept, pipelined bytes left.
    let wire = b"..a\r\n...\r\n\r\n.\r\nMAIL FROM:<>\r\n";
    for cut in 0..=wire.len() {
        for cut2 in cut..=wire.len() {
            let (body, left) = decode_split(wire, &[cut, cut2]);
            assert_eq!(body.unwrap(), b".a\r\n..\r\n\r\n");
            assert_eq!(left, wire.len() - 15);
        }
    }
    // A line that is only a dot ends the data only after a CRLF (or at the start).
    let (body, left) = decode_split(b"x.\r\n.y\r\n.\r\n", &[]);
    assert_eq!((body.unwrap(), left), (b"x.\r\ny\r\n".to_vec(), 0));
    // Bytes: the body comes out as slices of the input, not copies.
    let input = Bytes::from_static(b"hello\r\nworld\r\n.\r\n");
    let mut dec = DataDecoder::new(100);
    let step = dec.decode(&input);
    assert_eq!(step.status, Status::End);
    let body = step.body_bytes(&input);
    assert_eq!(&body[..], b"hello\r\nworld\r\n");
    assert_eq!(body.as_ptr(), input.as_ptr());
    assert_eq!(dec.body_size(), 14);
    // Nothing after the end.
    assert_eq!(dec.decode(b"more").consumed, 0);
}

#[test]
fn smuggling_variants_do_not_end_the_message() {
    for (wire, err) in [
        (&b"a\n.\nMAIL FROM:<x@y.z>\r\n.\r\n"[..], DataError::BareLf),
        (b"a\r.\rMAIL FROM:<x@y.z>\r\n.\r\n", DataError::BareCr),
        (b"a\r\n.\nMAIL FROM:<x@y.z>\r\n.\r\n", DataError::BareLf),
        (b"a\n.\r\nMAIL FROM:<x@y.z>\r\n.\r\n", DataError::BareLf),
        (b"a\r\n.\rMAIL FROM:<x@y.z>\r\n.\r\n", DataError::BareCr),
        (b"\n.\r\n.\r\n", DataError::BareLf),
        (b"a\r\r\n.\r\n", DataError::BareCr),
    ] {
        for cut in 0..=wire.len() {
            let (body, left) = decode_split(wire, &[cut]);
            assert_eq!(
                body,
                Err(err),
                "{:?} cut at {cut}",
                String::from_utf8_lossy(wire)
            );
            // The data ends at the real CRLF.CRLF and nothing is left over.
            assert_eq!(left, 0, "{:?} cut at {cut}", String::from_utf8_lossy(wire));
        }
        let all: Vec<usize> = (0..wire.len()).collect();
        assert_eq!(decode_split(wire, &all), (Err(err), 0));
    }
    assert_eq!(DataError::BareLf.reply_code(), 550);
}

#[test]
fn data_line_limit() {
    let mut ok = vec![b'x'; MAX_TEXT_LINE - 2];
    ok.extend_from_slice(b"\r\n.\r\n");
    assert_eq!(decode_split(&ok, &[500]).0.unwrap().len(), MAX_TEXT_LINE);
    // A stuffed dot does not count.
    let mut dotted = b".".to_vec();
    dotted.extend_from_slice(&ok);
    assert!(decode_split(&dotted, &[]).0.is_ok());
    let mut long = vec![b'x'; MAX_TEXT_LINE - 1];
    long.extend_from_slice(b"\r\n.\r\n");
    for cut in [0, 1, 998, 999, 1000, 1001] {
        assert_eq!(
            decode_split(&long, &[cut]),
            (
                Err(DataError::LineTooLong {
                    limit: MAX_TEXT_LINE
                }),
                0
            )
        );
    }
    // 10 MB without a line end: refused, nothing kept, the end still found.
    let mut dec = DataDecoder::new(u64::MAX);
    let chunk = Bytes::from(vec![b'z'; 1 << 20]);
    let mut handed = 0usize;
    let mut errors = 0;
    for _ in 0..10 {
        let fed = dec.feed(&chunk, |b| handed += b.len());
        errors += usize::from(fed.error.is_some());
        assert_eq!(fed.consumed, chunk.len());
    }
    assert_eq!((handed, errors), (MAX_TEXT_LINE - 2, 1));
    let fed = dec.feed(&Bytes::from_static(b"\r\n.\r\n"), |_| ());
    assert!(fed.ended && fed.error.is_none());
    assert_eq!(dec.error(), Some(DataError::LineTooLong { limit: 1000 }));
}

#[test]
fn data_size_limit() {
    let wire = b"abc\r\ndef\r\n.\r\n";
    assert!(decode_split_limit(wire, &[], 10).0.is_ok());
    for max in 0..10 {
        for cut in 0..=wire.len() {
            assert_eq!(
                decode_split_limit(wire, &[cut], max),
                (Err(DataError::MessageTooBig { limit: max }), 0),
                "max {max} cut {cut}"
            );
        }
    }
    assert_eq!(DataError::MessageTooBig { limit: 1 }.reply_code(), 552);
}

#[test]
fn data_encoder() {
    let enc = |body: &[u8], mode| {
        let mut out = BytesMut::new();
        let mut e = DataEncoder::new().with_bare_line_endings(mode);
        e.encode(body, &mut out)?;
        e.finish(&mut out)?;
        Ok::<_, EncodeError>(out.to_vec())
    };
    let strict = BareLineEndings::Reject;
    let conv = BareLineEndings::ConvertToCrlf;
    assert_eq!(enc(b"", strict).unwrap(), b".\r\n");
    assert_eq!(enc(b".", strict).unwrap(), b"..\r\n.\r\n");
    assert_eq!(enc(b"a\r\n.\r\n", strict).unwrap(), b"a\r\n..\r\n.\r\n");
    assert_eq!(enc(b"a\nb", strict), Err(EncodeError::BareLf));
    assert_eq!(enc(b"a\rb", strict), Err(EncodeError::BareCr));
    assert_eq!(enc(b"a\r", strict), Err(EncodeError::BareCr));
    assert_eq!(enc(b"a\n.\nb\r", conv).unwrap(), b"a\r\n..\r\nb\r\n.\r\n");
    assert_eq!(enc(b"a\r.\rb", conv).unwrap(), b"a\r\n..\r\nb\r\n.\r\n");
    assert_eq!(
        enc(&vec![b'x'; 999], strict),
        Err(EncodeError::LineTooLong {
            limit: MAX_TEXT_LINE
        })
    );
    // A CRLF split across calls; an error leaves the encoder unchanged.
    let mut out = BytesMut::new();
    let mut e = DataEncoder::new();
    e.encode(b"one\r", &mut out).unwrap();
    assert_eq!(e.encode(b"x", &mut out), Err(EncodeError::BareCr));
    e.encode(b"\n.two", &mut out).unwrap();
    e.finish(&mut out).unwrap();
    assert_eq!(&out[..], b"one\r\n..two\r\n.\r\n");
    assert_eq!(e.encode(b"x", &mut out), Err(EncodeError::Finished));
}
