//! A corpus of real-server-style transcripts (`tests/corpus/*.txt`: Dovecot, Cyrus, Gmail,
//! Outlook/Exchange, Fastmail), written after those servers' documented and observed output.
//!
//! File format, one line each:
//! - `S: text` a server line, `C: text` a client line; the text plus CRLF is appended to the
//!   server's or the client's byte stream (literal contents are written as further lines with
//!   the same prefix, their CRLFs counted in `{n}`).
//! - `X: text` a client line of an extension our server grammar does not know (not checked).
//! - `#! quirk NAME` the next server message needs the named [`Quirks`] field: it must fail
//!   the strict grammar, parse with only that quirk on, and parse with the defaults.
//! - `#! noncanon` the next server message is not in our canonical form (the serializer writes
//!   it differently), so only the value round trip is checked.
//! - `#` anything else: a comment.
//!
//! Each stream is cut by the real [`Framer`] (client side for responses, server side accepting
//! every literal for commands) in four chunkings; every message must parse, use all its octets,
//! and serialize to something that parses back to the same value; canonical messages must
//! serialize to the same octets.

use bytes::BytesMut;
use mailsec_imap::framing::{Frame, Framer};
use mailsec_imap::parse::{self, Quirks, ResponseOptions};
use mailsec_imap::serialize;

#[derive(Clone, Debug, Default)]
struct Mark {
    quirk: Option<String>,
    noncanon: bool,
}

struct Transcript {
    server: Vec<u8>,
    client: Vec<u8>,
    /// Marks by the index of the server line that starts a message.
    marks: Vec<(usize, Mark)>,
}

fn load(name: &str) -> Transcript {
    let path = format!("{}/tests/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut t = Transcript {
        server: Vec::new(),
        client: Vec::new(),
        marks: Vec::new(),
    };
    let mut pending = Mark::default();
    let mut server_lines = 0;
    for line in text.lines() {
        if let Some(q) = line.strip_prefix("#! quirk ") {
            pending.quirk = Some(q.trim().to_owned());
        } else if line.trim() == "#! noncanon" {
            pending.noncanon = true;
        } else if line.starts_with('#') || line.is_empty() {
        } else if let Some(s) = line.strip_prefix("S: ").or(line.strip_prefix("S:")) {
            if pending.quirk.is_some() || pending.noncanon {
                t.marks.push((t.server.len(), std::mem::take(&mut pending)));
            }
            t.server.extend_from_slice(s.as_bytes());
            t.server.extend_from_slice(b"\r\n");
            server_lines += 1;
        } else if let Some(c) = line.strip_prefix("C: ").or(line.strip_prefix("C:")) {
            t.client.extend_from_slice(c.as_bytes());
            t.client.extend_from_slice(b"\r\n");
        } else if line.starts_with("X: ") {
        } else {
            panic!("{name}: bad corpus line {line:?}");
        }
    }
    assert!(server_lines > 10, "{name}: too short");
    t
}

/// The messages of `stream` cut by `framer`, fed in chunks of `chunk` octets; with each its
/// offset in the stream.
fn frame(stream: &[u8], mut framer: Framer, chunk: usize) -> Vec<(usize, Vec<u8>)> {
    framer.set_authenticated(true);
    let mut out = Vec::new();
    let mut offset = 0;
    for piece in stream.chunks(chunk.max(1)) {
        framer.push(piece).unwrap();
        while let Some(f) = framer.next_frame() {
            match f.unwrap() {
                Frame::Message(m) => {
                    out.push((offset, m.to_vec()));
                    offset += m.len();
                }
                Frame::LiteralAnnounced { needs_decision, .. } => {
                    if needs_decision {
                        framer.accept_literal().unwrap();
                    }
                }
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }
    assert_eq!(offset, stream.len(), "the framer kept octets back");
    out
}

fn set_quirk(q: &mut Quirks, name: &str) {
    match name {
        "code_without_text" => q.code_without_text = true,
        "empty_text" => q.empty_text = true,
        "trailing_spaces" => q.trailing_spaces = true,
        "eight_bit_quoted" => q.eight_bit_quoted = true,
        "nil_body_param" => q.nil_body_param = true,
        "copyuid_anywhere" => q.copyuid_anywhere = true,
        "nil_body_fields" => q.nil_body_fields = true,
        "extra_spaces" => q.extra_spaces = true,
        other => panic!("unknown quirk {other}"),
    }
}

fn check_responses(name: &str, t: &Transcript) -> usize {
    let mut counted = 0;
    for chunk in [usize::MAX, 1, 7, 4096] {
        let msgs = frame(&t.server, Framer::client(), chunk);
        counted = msgs.len();
        for (offset, msg) in &msgs {
            let show = String::from_utf8_lossy(msg);
            let mark = t
                .marks
                .iter()
                .find(|(at, _)| at == offset)
                .map(|(_, m)| m.clone())
                .unwrap_or_default();
            let (r, used) =
                parse::response(msg).unwrap_or_else(|e| panic!("{name}: {show:?}: {e}"));
            assert_eq!(used, msg.len(), "{name}: {show:?}");
            match &mark.quirk {
                None => {
                    let (strict, _) = parse::response_with(msg, &ResponseOptions::strict())
                        .unwrap_or_else(|e| panic!("{name}: strict: {show:?}: {e}"));
                    assert_eq!(strict, r, "{name}: {show:?}");
                }
                Some(q) => {
                    assert!(
                        parse::response_with(msg, &ResponseOptions::strict()).is_err(),
                        "{name}: {show:?} is not a quirk"
                    );
                    let mut quirks = Quirks::none();
                    set_quirk(&mut quirks, q);
                    let opts = ResponseOptions::strict().quirks(quirks);
                    let (alone, _) = parse::response_with(msg, &opts)
                        .unwrap_or_else(|e| panic!("{name}: quirk {q} alone: {show:?}: {e}"));
                    assert_eq!(alone, r, "{name}: {show:?}");
                }
            }
            let mut out = BytesMut::new();
            serialize::response(&r, &mut out);
            let (again, used) = parse::response(&out).unwrap_or_else(|e| {
                panic!("{name}: reparse {:?}: {e}", String::from_utf8_lossy(&out))
            });
            assert_eq!(used, out.len());
            assert_eq!(again, r, "{name}: {show:?}");
            assert_eq!(r.clone().into_owned(), r);
            if mark.quirk.is_none() && !mark.noncanon {
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    show,
                    "{name}: not canonical (mark it #! noncanon if that is expected)"
                );
            }
        }
    }
    counted
}

fn check_commands(name: &str, t: &Transcript) -> usize {
    let mut counted = 0;
    for chunk in [usize::MAX, 1, 5, 4096] {
        let msgs = frame(&t.client, Framer::server(), chunk);
        counted = msgs.len();
        for (_, msg) in &msgs {
            let show = String::from_utf8_lossy(msg);
            if msg.eq_ignore_ascii_case(b"DONE\r\n") {
                assert_eq!(parse::idle_done(msg).unwrap(), msg.len());
                continue;
            }
            let (c, used) = parse::command(msg).unwrap_or_else(|e| panic!("{name}: {show:?}: {e}"));
            assert_eq!(used, msg.len(), "{name}: {show:?}");
            let mut out = BytesMut::new();
            serialize::command(&c, &mut out);
            let (again, _) = parse::command(&out).unwrap_or_else(|e| {
                panic!("{name}: reparse {:?}: {e}", String::from_utf8_lossy(&out))
            });
            assert_eq!(again, c, "{name}: {show:?}");
        }
    }
    counted
}

fn run(name: &str, min_responses: usize, min_commands: usize) {
    let t = load(name);
    let r = check_responses(name, &t);
    let c = check_commands(name, &t);
    assert!(r >= min_responses, "{name}: {r} responses");
    assert!(c >= min_commands, "{name}: {c} commands");
}

#[test]
fn dovecot() {
    run("dovecot.txt", 50, 14);
}

#[test]
fn cyrus() {
    run("cyrus.txt", 45, 12);
}

#[test]
fn gmail() {
    run("gmail.txt", 40, 10);
}

#[test]
fn exchange() {
    run("exchange.txt", 30, 8);
}

#[test]
fn fastmail() {
    run("fastmail.txt", 30, 8);
}
