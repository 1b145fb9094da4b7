//! RFC examples parse and re-serialize byte for byte; malformed input gives typed errors.

use bytes::BytesMut;
use mailsec_imap::error::{ParseError, ParseErrorKind};
use mailsec_imap::parse::{self, ParseOptions};
use mailsec_imap::serialize::{self, LiteralAt, SerializeOptions};
use mailsec_imap::types::*;

/// Parses, checks the whole input was consumed, re-serializes to the same bytes, and checks
/// the owned form equals the borrowed one.
fn roundtrip(input: &[u8]) -> Command<'_> {
    let (cmd, used) = parse::command(input)
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(input)));
    assert_eq!(used, input.len(), "{:?}", String::from_utf8_lossy(input));
    let mut out = BytesMut::new();
    serialize::command(&cmd, &mut out);
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(input),
        "re-serialization differs"
    );
    assert_eq!(cmd.clone().into_owned(), cmd);
    cmd
}

fn err(input: &[u8]) -> ParseError {
    match parse::command(input) {
        Ok((c, _)) => panic!("{:?} parsed as {c:?}", String::from_utf8_lossy(input)),
        Err(e) => e,
    }
}

const RFC3501: &[&[u8]] = &[
    b"a001 CAPABILITY\r\n",
    b"a002 NOOP\r\n",
    b"A023 LOGOUT\r\n",
    b"a001 STARTTLS\r\n",
    b"A001 AUTHENTICATE GSSAPI\r\n",
    b"a001 LOGIN SMITH SESAME\r\n",
    b"A142 SELECT INBOX\r\n",
    b"A932 EXAMINE blurdybloop\r\n",
    b"A003 CREATE owatagusiam/\r\n",
    b"A004 CREATE owatagusiam/blurdybloop\r\n",
    b"A682 DELETE blurdybloop\r\n",
    b"A684 DELETE foo/bar\r\n",
    b"A682 RENAME blurdybloop sarasoop\r\n",
    b"Z432 RENAME INBOX old-mail\r\n",
    b"A002 SUBSCRIBE #news.comp.mail.mime\r\n",
    b"A002 UNSUBSCRIBE #news.comp.mail.mime\r\n",
    b"A101 LIST \"\" \"\"\r\n",
    b"A102 LIST #news.comp.mail.misc \"\"\r\n",
    b"A103 LIST /usr/staff/jones \"\"\r\n",
    b"A202 LIST ~/Mail/ %\r\n",
    b"A002 LSUB \"#news.\" \"comp.mail.*\"\r\n",
    b"A003 LSUB \"#news.\" \"comp.%\"\r\n",
    b"A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n",
    b"A003 APPEND saved-messages (\\Seen) {22}\r\nSubject: hi\r\n\r\nHello\r\n\r\n",
    b"FXXZ CHECK\r\n",
    b"A341 CLOSE\r\n",
    b"A202 EXPUNGE\r\n",
    b"A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
    b"A283 SEARCH TEXT \"string not in mailbox\"\r\n",
    b"A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX\r\n",
    b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
    b"A003 STORE 2:4 +FLAGS (\\Deleted)\r\n",
    b"A003 COPY 2:4 MEETING\r\n",
    b"A999 UID FETCH 4827313:4828442 FLAGS\r\n",
    b"A001 FETCH 1 ALL\r\n",
    b"A001 FETCH 1:* FAST\r\n",
    b"A001 FETCH 1 FULL\r\n",
    b"A001 FETCH 1 (ENVELOPE BODYSTRUCTURE BODY UID INTERNALDATE RFC822.SIZE RFC822 RFC822.HEADER RFC822.TEXT)\r\n",
    b"A001 FETCH 1 (BODY[] BODY.PEEK[1.2.MIME] BODY[TEXT]<0.2048> BODY[1.HEADER.FIELDS.NOT (X-A \"X B\")] BODY[3.TEXT])\r\n",
    b"A001 STORE 1 FLAGS.SILENT ()\r\n",
    b"A001 STORE 1 -FLAGS \\Seen $Junk\r\n",
    b"A001 UID COPY 1,3:5,7:* Archive\r\n",
    b"A001 SEARCH OR (SEEN ANSWERED) NOT (UID 1:5 LARGER 100) BEFORE 2-Jan-2020 HEADER Subject \"a b\" KEYWORD $Junk UNKEYWORD work\r\n",
    b"A001 SEARCH ALL ANSWERED BCC x BODY y CC z DELETED DRAFT FLAGGED NEW OLD ON 1-Jan-2000 RECENT SEEN SENTBEFORE 1-Jan-2000 SENTON 1-Jan-2000 SENTSINCE 1-Jan-2000 SMALLER 5 SUBJECT s TO t UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN 1,2:*\r\n",
];

const RFC9051: &[&[u8]] = &[
    b"t2 ENABLE CONDSTORE X-GOOD-IDEA\r\n",
    b"t1 ENABLE IMAP4rev2\r\n",
    b"A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
    b"A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
    b"A285 SEARCH CHARSET UTF-8 TEXT {10}\r\n\xd0\x9c\xd0\xb0\xd0\xba\xd1\x81\xd0\xb8\r\n",
    b"A286 SEARCH CHARSET UTF-8 TEXT {10+}\r\n\xd0\x9c\xd0\xb0\xd0\xba\xd1\x81\xd0\xb8\r\n",
    b"A301 SEARCH RETURN (SAVE) SINCE 19-Mar-2007 OR SUBJECT ESEARCH SUBJECT SEARCHRES\r\n",
    b"A302 FETCH $ (UID FLAGS INTERNALDATE)\r\n",
    b"A303 UID SEARCH UID $ SMALLER 4096\r\n",
    b"A003 APPEND saved-messages (\\Seen) \"05-Jul-2021 02:44:25 -0700\" {5}\r\nhello\r\n",
    b"A003 APPEND saved-messages {5+}\r\nhello\r\n",
    b"A004 APPEND Drafts () ~{3}\r\na\x00b\r\n",
    b"A042 STATUS blurdybloop (UIDNEXT MESSAGES SIZE DELETED HIGHESTMODSEQ UIDVALIDITY UNSEEN RECENT)\r\n",
    b"A001 NAMESPACE\r\n",
    b"A342 UNSELECT\r\n",
    b"a UID MOVE 42:69 foo\r\n",
    b"a MOVE 1:3 \"Other Folder\"\r\n",
    b"A003 UID EXPUNGE 3000:3002\r\n",
    b"a002 IDLE\r\n",
    b"a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\")\r\n",
    b"a023 ID NIL\r\n",
    b"a024 ID (\"name\" NIL)\r\n",
    b"A01 LIST \"\" % RETURN (SPECIAL-USE)\r\n",
    b"A02 LIST (SPECIAL-USE) \"\" *\r\n",
    b"t1 CREATE \"Important Messages\" (USE (\\Important))\r\n",
    b"A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n",
    b"A03 LIST () \"\" \"%\" RETURN (CHILDREN)\r\n",
    b"A06 LIST (SUBSCRIBED REMOTE RECURSIVEMATCH) \"\" \"*\" RETURN (SUBSCRIBED)\r\n",
    b"A01 LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")\r\n",
    b"A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n",
    b"a103 SELECT INBOX (CONDSTORE)\r\n",
    b"a104 EXAMINE INBOX (CONDSTORE)\r\n",
    b"s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n",
    b"s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
    b"d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n",
    b"a FETCH 1 (MODSEQ)\r\n",
    b"A160 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
    b"B160 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))\r\n",
    b"C160 SELECT INBOX (QRESYNC (67890007 90060115194045000))\r\n",
    b"a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n",
    b"a SEARCH MODSEQ 620162338\r\n",
    b"G0001 GETQUOTA \"!partition/sda4\"\r\n",
    b"G0002 GETQUOTAROOT INBOX\r\n",
    b"S0000 SETQUOTA \"#user/alice\" (STORAGE 510)\r\n",
    b"S0001 SETQUOTA \"\" ()\r\n",
    b"a COMPRESS DEFLATE\r\n",
    b"a01 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n",
    b"a02 AUTHENTICATE EXTERNAL =\r\n",
    b"A2 FETCH 1 (BINARY[1]<0.100> BINARY.PEEK[1.2] BINARY.SIZE[1] BINARY[])\r\n",
    b"A3 FETCH 1 BINARY.SIZE[1]\r\n",
    b"A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n",
    b"a SELECT \"Entw\xc3\xbcrfe\"\r\n",
    b"a SELECT Entw&APw-rfe\r\n",
    b"a ENABLE UTF8=ACCEPT\r\n",
    b"A5 APPEND Sent UTF8 (~{8}\r\nSubj: \xc3\xa9)\r\n",
];

#[test]
fn rfc3501_examples_roundtrip() {
    for ex in RFC3501 {
        roundtrip(ex);
    }
}

#[test]
fn rfc9051_and_extension_examples_roundtrip() {
    for ex in RFC9051 {
        roundtrip(ex);
    }
}

#[test]
fn values_of_examples() {
    let c = roundtrip(b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n");
    let CommandBody::Fetch {
        uid: false,
        set,
        items: FetchItems::List(items),
        modifiers,
    } = c.body
    else {
        panic!("{c:?}")
    };
    assert!(modifiers.is_empty());
    assert!(set.contains(3, 10) && !set.contains(5, 10));
    assert_eq!(items[0], FetchAttribute::Flags);
    let FetchAttribute::BodySection {
        peek: false,
        section,
        partial: None,
    } = &items[1]
    else {
        panic!()
    };
    let Some(SectionText::HeaderFields(f)) = &section.text else {
        panic!()
    };
    assert_eq!(f[1].as_bytes(), b"FROM");

    let c = roundtrip(b"d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n");
    let CommandBody::Store {
        unchanged_since: Some(320162338),
        action,
        ..
    } = c.body
    else {
        panic!()
    };
    assert_eq!(action.kind, StoreKind::Add);
    assert!(action.silent);
    assert_eq!(action.flags, vec![Flag::Deleted]);

    let c = roundtrip(b"a01 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n");
    let CommandBody::Authenticate {
        mechanism,
        initial: Some(AuthData::Data(d)),
    } = &c.body
    else {
        panic!()
    };
    assert_eq!(mechanism.as_str(), "PLAIN");
    assert_eq!(&d.expose()[..], b"test\0test\0test");
    assert!(!format!("{c:?}").contains("test"));

    let c = roundtrip(b"a SELECT Entw&APw-rfe\r\n");
    let CommandBody::Select { mailbox, params } = &c.body else {
        panic!()
    };
    assert!(params.is_empty());
    assert_eq!(mailbox.to_utf8().unwrap(), "Entwürfe");

    let c = roundtrip(b"a ENABLE UTF8=ACCEPT\r\n");
    assert_eq!(c.body, CommandBody::Enable(vec![Capability::Utf8Accept]));

    let c = roundtrip(b"A004 APPEND Drafts () ~{3}\r\na\x00b\r\n");
    let CommandBody::Append { message, flags, .. } = &c.body else {
        panic!()
    };
    assert!(message.is_binary());
    assert_eq!(message.as_bytes(), b"a\0b");
    assert_eq!(flags.as_deref(), Some(&[][..]));

    let c = roundtrip(
        b"B160 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000 15000)))\r\n",
    );
    let CommandBody::Select { mailbox, params } = &c.body else {
        panic!()
    };
    assert_eq!(*mailbox, Mailbox::Inbox);
    let [
        SelectParam::QResync {
            uid_validity,
            modseq,
            known_uids: Some(_),
            seq_match: Some(_),
        },
    ] = &params[..]
    else {
        panic!()
    };
    assert_eq!(
        (uid_validity.get(), modseq.get()),
        (67890007, 90060115194045000)
    );
}

#[test]
fn lower_case_and_alternative_forms_parse_to_canonical_bytes() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"a001 login mrc secret\r\n", b"a001 LOGIN mrc secret\r\n"),
        (b"a002 select inbox\r\n", b"a002 SELECT INBOX\r\n"),
        (b"a002 select \"InBox\"\r\n", b"a002 SELECT INBOX\r\n"),
        (
            b"a uid fetch 1 body.peek[header]\r\n",
            b"a UID FETCH 1 BODY.PEEK[HEADER]\r\n",
        ),
        (
            b"a search since \"01-Feb-1994\"\r\n",
            b"a SEARCH SINCE 1-Feb-1994\r\n",
        ),
        (
            b"a append x \" 7-Feb-1994 21:52:25 -0800\" {1}\r\nx\r\n",
            b"a APPEND x \"07-Feb-1994 21:52:25 -0800\" {1}\r\nx\r\n",
        ),
        (
            b"a store 1 flags (\\SEEN \\answered)\r\n",
            b"a STORE 1 FLAGS (\\Seen \\Answered)\r\n",
        ),
        (
            b"a enable literal+ auth=plain\r\n",
            b"a ENABLE LITERAL+ AUTH=plain\r\n",
        ),
        (
            b"a list \"\" % return (status (size))\r\n",
            b"a LIST \"\" % RETURN (STATUS (SIZE))\r\n",
        ),
    ];
    for (input, canonical) in cases {
        let (cmd, used) = parse::command(input).unwrap();
        assert_eq!(used, input.len());
        let mut out = BytesMut::new();
        serialize::command(&cmd, &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(canonical)
        );
        assert_eq!(parse::command(&out).unwrap().0, cmd);
    }
}

#[test]
fn consumed_stops_at_the_first_command() {
    let input = b"a NOOP\r\nb NOOP\r\n";
    let (cmd, used) = parse::command(input).unwrap();
    assert_eq!(used, 8);
    assert_eq!(cmd.body, CommandBody::Noop);
}

#[test]
fn idle_done_and_authenticate_lines() {
    assert_eq!(parse::idle_done(b"DONE\r\n").unwrap(), 6);
    assert!(parse::idle_done(b"DONE \r\n").is_err());
    assert_eq!(
        parse::idle_done(b"DONE").unwrap_err().kind,
        ParseErrorKind::Incomplete
    );
    let (d, used) = parse::authenticate_data(b"\r\n").unwrap();
    assert_eq!(used, 2);
    let AuthData::Data(d) = d else { panic!() };
    assert!(d.expose().is_empty());
    let e = parse::authenticate_data(b"c2VjcmV0!\r\n").unwrap_err();
    assert_eq!(e.preview, "<redacted>");
    let e = parse::authenticate_data(b"c2VjcmV0=\r\n").unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::InvalidBase64);
    assert_eq!(e.preview, "<redacted>");

    let mut out = BytesMut::new();
    let data = AuthData::Data(Secret::new(b"\0alice\0secret".to_vec().into()));
    serialize::authenticate_data(&data, &mut out);
    assert_eq!(parse::authenticate_data(&out).unwrap().0, data);
    out.clear();
    serialize::idle_done(&mut out);
    assert_eq!(parse::idle_done(&out).unwrap(), out.len());
}

#[test]
fn malformed_commands_give_typed_errors() {
    use ParseErrorKind as K;
    let cases: &[(&[u8], K)] = &[
        (b" NOOP\r\n", K::InvalidTag),
        (b"A+1 NOOP\r\n", K::InvalidTag),
        (b"a FROB\r\n", K::UnknownCommand),
        (b"a UID FROB 1\r\n", K::UnknownCommand),
        (b"a NOOP", K::Incomplete),
        (b"a NOOP\r", K::Incomplete),
        (b"a NOOP extra\r\n", K::Trailing),
        (b"a NOOP\n", K::Trailing),
        (b"a SELECT\r\n", K::Syntax { expected: "SP" }),
        (b"a FETCH 0 FLAGS\r\n", K::Zero),
        (b"a FETCH 4294967296 FLAGS\r\n", K::NumberOverflow),
        (
            b"a FETCH 1 FOO\r\n",
            K::Syntax {
                expected: "fetch attribute",
            },
        ),
        (
            b"a FETCH 1 BODY[4.MIMEX]\r\n",
            K::Syntax {
                expected: "section",
            },
        ),
        (
            b"a FETCH 1 BODY[MIME]\r\n",
            K::Syntax {
                expected: "section",
            },
        ),
        (b"a SEARCH SINCE 30-Feb-2020\r\n", K::InvalidDate),
        (b"a SEARCH SINCE 1-Foo-2020\r\n", K::InvalidDate),
        (
            b"a SEARCH FOO\r\n",
            K::Syntax {
                expected: "search key",
            },
        ),
        (b"a SEARCH\r\n", K::Syntax { expected: "SP" }),
        (b"a SELECT \"a\nb\"\r\n", K::InvalidQuoted),
        (b"a SELECT \"a\\xb\"\r\n", K::InvalidQuoted),
        (b"a SELECT \"\xff\xfe\"\r\n", K::InvalidQuoted),
        (b"a SELECT {3}\r\na\x00b\r\n", K::NulInLiteral),
        (b"a SELECT ~{1}\r\na\r\n", K::BinaryLiteralNotAllowed),
        (
            b"a STORE 1 +FLAGS (\\Recent)\r\n",
            K::Syntax {
                expected: "flag other than \\Recent",
            },
        ),
        (
            b"a APPEND x \"07-Feb-1994 25:52:25 -0800\" {1}\r\nx\r\n",
            K::InvalidDate,
        ),
        (b"a AUTHENTICATE PLAIN abc\r\n", K::InvalidBase64),
        (b"a FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n", K::Zero),
        (
            b"a APPEND x UTF8 ({1}\r\nx)\r\n",
            K::Syntax {
                expected: "literal8",
            },
        ),
    ];
    for (input, kind) in cases {
        let e = err(input);
        assert_eq!(&e.kind, kind, "{:?}: {e}", String::from_utf8_lossy(input));
        if !matches!(kind, K::InvalidTag) {
            assert!(e.tag.is_some(), "{e:?}");
        }
    }
}

#[test]
fn huge_literal_announcements_cost_nothing() {
    let e = err(b"A1 LOGIN {4294967295}\r\nabc\r\n");
    assert_eq!(
        e.kind,
        ParseErrorKind::LiteralTruncated {
            announced: 4294967295,
            available: 5
        }
    );
    assert_eq!(e.tag.as_deref(), Some("A1"));
    assert_eq!(e.preview, "<redacted>");
    let e = err(b"A1 SELECT {99999999999999999999}\r\n");
    assert_eq!(e.kind, ParseErrorKind::NumberOverflow);
    let e = err(b"A1 APPEND x ~{18446744073709551615+}\r\n");
    assert_eq!(e.kind, ParseErrorKind::NumberOverflow);
    let e = err(b"A1 SELECT {5}\r\nab");
    assert!(matches!(e.kind, ParseErrorKind::LiteralTruncated { .. }));
}

#[test]
fn deep_nesting_is_refused_without_stack_overflow() {
    for open in [&b"("[..], b"NOT ", b"OR ALL "] {
        let mut input = b"A1 SEARCH ".to_vec();
        for _ in 0..100_000 {
            input.extend_from_slice(open);
        }
        input.extend_from_slice(b"ALL\r\n");
        let e = err(&input);
        assert_eq!(e.kind, ParseErrorKind::TooDeep { limit: 64 });
        assert_eq!(e.tag.as_deref(), Some("A1"));
    }
    // At the limit it parses; one more level is refused.
    let opts = ParseOptions::new().max_depth(3);
    assert!(parse::command_with(b"a SEARCH (((ALL)))\r\n", &opts).is_ok());
    let e = parse::command_with(b"a SEARCH ((((ALL))))\r\n", &opts).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::TooDeep { limit: 3 });
}

#[test]
fn tag_limit() {
    let tag = "t".repeat(65);
    let e = err(format!("{tag} NOOP\r\n").as_bytes());
    assert_eq!(e.kind, ParseErrorKind::TagTooLong { limit: 64 });
    let opts = ParseOptions::new().max_tag_len(65);
    assert!(parse::command_with(format!("{tag} NOOP\r\n").as_bytes(), &opts).is_ok());
}

#[test]
fn secrets_are_redacted_in_errors_and_debug() {
    let e = err(b"a LOGIN alice \"hunter2\r\n");
    assert_eq!(e.preview, "<redacted>");
    assert!(!e.to_string().contains("hunter2"));
    let e = err(b"a AUTHENTICATE PLAIN aHVudGVyMg=?\r\n");
    assert!(!format!("{e:?}").contains("aHVudGVyMg"));
    let (c, _) = parse::command(b"a LOGIN alice hunter2\r\n").unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
    // Other commands show the offending bytes, sanitized.
    let e = err(b"a SELECT \"x\x1b[2J\nz\"\r\n");
    assert!(!e.preview.contains('\x1b'));
    let e = err(b"a FETCH 1 NOPE\r\n");
    assert!(e.preview.starts_with("NOPE"), "{e:?}");
}

#[test]
fn literal_positions_and_modes() {
    let (cmd, _) = parse::command(b"A001 LOGIN {11+}\r\nFRED FOOBAR {7}\r\nfat man\r\n").unwrap();
    // Exact: modes as held.
    let mut out = BytesMut::new();
    let lits = serialize::command(&cmd, &mut out);
    assert_eq!(
        lits,
        vec![
            LiteralAt {
                offset: 18,
                len: 11,
                sync: false
            },
            LiteralAt {
                offset: 35,
                len: 7,
                sync: true
            }
        ]
    );
    assert_eq!(&out[18..29], b"FRED FOOBAR");
    assert_eq!(&out[35..42], b"fat man");
    // No LITERAL+: every literal synchronizing.
    let mut out = BytesMut::new();
    let lits = serialize::command_with(&cmd, &SerializeOptions::default(), &mut out);
    assert_eq!(
        &out[..],
        b"A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n"
    );
    assert!(lits.iter().all(|l| l.sync));
    // LITERAL- and preference: small literals non-synchronizing.
    let mut out = BytesMut::from(&b"prefix"[..]);
    let opts = SerializeOptions::default()
        .literal_minus(true)
        .prefer_non_sync(true);
    let lits = serialize::command_with(&cmd, &opts, &mut out);
    assert_eq!(
        &out[6..],
        b"A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n"
    );
    assert_eq!(
        lits[0].offset, 18,
        "offsets are relative to the call's start"
    );
    assert!(lits.iter().all(|l| !l.sync));
    // LITERAL- does not cover more than 4096 octets.
    let big = Literal::new(vec![b'x'; 5000], LiteralMode::NonSync).unwrap();
    let cmd = Command {
        tag: Tag::new("a").unwrap(),
        body: CommandBody::Append {
            mailbox: Mailbox::Inbox,
            flags: None,
            date: None,
            message: big,
            utf8: false,
        },
    };
    let mut out = BytesMut::new();
    let lits = serialize::command_with(
        &cmd,
        &SerializeOptions::default().literal_minus(true),
        &mut out,
    );
    assert!(out.starts_with(b"a APPEND INBOX {5000}\r\n"));
    assert!(lits[0].sync);
}

#[test]
fn constructors_choose_forms() {
    assert!(matches!(
        AString::new(&b"a]b"[..]).unwrap(),
        AString::Atom(_)
    ));
    assert!(matches!(
        AString::new(&b""[..]).unwrap(),
        AString::String(IString::Quoted(_))
    ));
    assert!(matches!(
        AString::new(vec![b' '; 2000]).unwrap(),
        AString::String(IString::Literal(_))
    ));
    assert!(matches!(
        AString::new("caf\u{e9}".as_bytes()).unwrap(),
        AString::String(IString::Literal(_))
    ));
    // Whatever form was chosen, it parses back to the same value.
    for data in [
        &b"x y"[..],
        b"a\"b\\c",
        b"line\r\nbreak",
        b"\xff\xfe",
        b"a%b*",
    ] {
        let cmd = Command {
            tag: Tag::new("t").unwrap(),
            body: CommandBody::Create {
                mailbox: Mailbox::new(AString::new(data).unwrap()),
                special_use: vec![],
            },
        };
        let mut out = BytesMut::new();
        serialize::command(&cmd, &mut out);
        assert_eq!(parse::command(&out).unwrap().0, cmd, "{out:?}");
    }
}

#[test]
fn modified_utf7() {
    use mailsec_imap::types::mailbox::{decode_utf7, encode_utf7};
    for name in [
        "INBOX",
        "A&B",
        "日本語",
        "Entwürfe/Ünterordner",
        "😀 smile",
        "&&",
        "~",
    ] {
        let enc = encode_utf7(name);
        assert!(enc.is_ascii());
        assert_eq!(decode_utf7(enc.as_bytes()).unwrap(), name);
    }
    assert_eq!(encode_utf7("😀"), "&2D3eAA-");
    for bad in [
        &b"&"[..],
        b"&AGE-",
        b"&2D0-",
        b"&Jj\xff-",
        b"a\x01",
        b"&AP-",
        b"&AP,-",
    ] {
        assert!(decode_utf7(bad).is_err(), "{bad:?}");
    }
    let m = Mailbox::from_utf8("Entwürfe", true).unwrap();
    assert_eq!(m.as_bytes(), "Entwürfe".as_bytes());
    assert_eq!(m.to_utf8().unwrap(), "Entwürfe");
    assert_eq!(Mailbox::from_utf8("inbox", false).unwrap(), Mailbox::Inbox);
}

#[test]
fn parsing_borrows_the_input() {
    // A 10 MB mailbox name: parsed without copying; the value points into the input.
    let mut input = b"a SELECT ".to_vec();
    input.extend(std::iter::repeat_n(b'm', 10 << 20));
    input.extend_from_slice(b"\r\n");
    let (cmd, used) = parse::command(&input).unwrap();
    assert_eq!(used, input.len());
    let CommandBody::Select {
        mailbox: Mailbox::Other(AString::Atom(std::borrow::Cow::Borrowed(name))),
        ..
    } = &cmd.body
    else {
        panic!("not borrowed")
    };
    assert_eq!(name.len(), 10 << 20);
    assert!(input.as_ptr_range().contains(&name.as_ptr()));
    // A literal is borrowed too; an escaped quoted string is the only copy.
    let input = b"a LOGIN {3}\r\nabc \"x\\\"y\"\r\n";
    let (cmd, _) = parse::command(input).unwrap();
    let CommandBody::Login { username, password } = &cmd.body else {
        panic!()
    };
    assert!(input.as_ptr_range().contains(&username.as_bytes().as_ptr()));
    assert_eq!(password.expose().as_bytes(), b"x\"y");
    // A 10 MB tag is refused at the limit.
    let mut input = vec![b't'; 10 << 20];
    input.extend_from_slice(b" NOOP\r\n");
    assert_eq!(err(&input).kind, ParseErrorKind::TagTooLong { limit: 64 });
}

#[test]
fn id_parameter_limits_of_rfc2971() {
    // 30 pairs, a 30-octet field and a 1024-octet value are the limits (RFC 2971 §3.3).
    let pair = |i: usize| format!("\"f{i}\" \"v\"");
    let pairs = |n: usize| (0..n).map(pair).collect::<Vec<_>>().join(" ");
    let at_limit = format!("A1 ID ({})\r\n", pairs(30));
    let CommandBody::Id(Some(v)) = roundtrip(at_limit.as_bytes()).body else {
        panic!()
    };
    assert_eq!(v.len(), 30);
    let over = format!("A1 ID ({})\r\n", pairs(31));
    assert!(matches!(
        err(over.as_bytes()).kind,
        ParseErrorKind::Syntax { expected } if expected.contains("30 ID pairs")
    ));
    let field = |n: usize| format!("A1 ID (\"{}\" NIL)\r\n", "f".repeat(n));
    roundtrip(field(30).as_bytes());
    assert!(matches!(
        err(field(31).as_bytes()).kind,
        ParseErrorKind::Syntax { .. }
    ));
    let value = |n: usize| format!("A1 ID (\"name\" \"{}\")\r\n", "v".repeat(n));
    roundtrip(value(1024).as_bytes());
    assert!(matches!(
        err(value(1025).as_bytes()).kind,
        ParseErrorKind::Syntax { .. }
    ));
    // Also as literals.
    let lit = format!("A1 ID (\"name\" {{1025}}\r\n{})\r\n", "v".repeat(1025));
    assert!(matches!(
        err(lit.as_bytes()).kind,
        ParseErrorKind::Syntax { .. }
    ));
}

#[test]
fn status_appendlimit_item() {
    let c = roundtrip(b"A1 STATUS INBOX (MESSAGES APPENDLIMIT)\r\n");
    let CommandBody::Status { items, .. } = c.body else {
        panic!()
    };
    assert_eq!(items, [StatusItem::Messages, StatusItem::AppendLimit]);
}

#[test]
fn search_return_partial_of_rfc9394() {
    use std::num::NonZeroU32;
    let nz = |n| NonZeroU32::new(n).unwrap();
    let c = roundtrip(b"A1 UID SEARCH RETURN (PARTIAL -1:-100 COUNT) UNDELETED\r\n");
    let CommandBody::Search { return_opts, .. } = c.body else {
        panic!()
    };
    assert_eq!(
        return_opts.unwrap(),
        [
            SearchReturn::Partial(PartialRange::Last(nz(1), nz(100))),
            SearchReturn::Count
        ]
    );
    let c = roundtrip(b"A2 SEARCH RETURN (PARTIAL 23500:24000) ALL\r\n");
    let CommandBody::Search { return_opts, .. } = c.body else {
        panic!()
    };
    assert_eq!(
        return_opts.unwrap(),
        [SearchReturn::Partial(PartialRange::First(
            nz(23500),
            nz(24000)
        ))]
    );
    for bad in [
        &b"A3 SEARCH RETURN (PARTIAL 0:5) ALL\r\n"[..],
        b"A3 SEARCH RETURN (PARTIAL -1:5) ALL\r\n",
        b"A3 SEARCH RETURN (PARTIAL 1) ALL\r\n",
        b"A3 SEARCH RETURN (PARTIAL) ALL\r\n",
    ] {
        assert!(parse::command(bad).is_err(), "{bad:?}");
    }
}
