//! Throughput of the IMAP syntax layer beside the two Rust IMAP parsers we know, on the same
//! bytes in the same run, each group also beside a memchr CRLF scan of those bytes:
//!
//! - `responses`: a client reading a realistic stream (FETCH with ENVELOPE, multipart
//!   BODYSTRUCTURE, FLAGS/UID/RFC822.SIZE/INTERNALDATE, FETCH BODY[] with multi-KB literals, LIST,
//!   STATUS, SEARCH, tagged OK): mailsec's client-side [`Framer`] + [`parse::response`] (and the
//!   parser alone on pre-cut messages), imap-proto's `parse_response` and imap-codec's
//!   `ResponseCodec`, the last two looping over the whole buffer (they have no framer: a real
//!   client re-parses on `Incomplete`, which this favours them by never doing). mailsec keeps
//!   ENVELOPE and BODYSTRUCTURE as validated bytes built on demand
//!   ([`mailsec_imap::types::LazyEnvelope`]); `mailsec_parse_build_trees` builds every one
//!   while parsing (`ResponseOptions::eager_trees`), as the two peers always do.
//! - `commands`: a server reading pipelined commands (SELECT, UID FETCH with items, SEARCH,
//!   STORE, APPEND with a synchronizing literal, LOGIN, LIST, STATUS, NOOP, …): mailsec's
//!   server-side [`Framer`] (accepting every literal) + [`parse::command`], and imap-codec's
//!   `CommandCodec`.
//!
//! Every parser is checked once, outside the timed loops, to parse every message of its input
//! (see [`check_counts`]) so none skips anything.
//!
//! `scripts/bench-imap` prints ratios from instruction counts: with
//! `MAILSEC_BENCH_FIXED=group/case:N` the binary skips criterion, runs that case N times and
//! exits (see [`fixed_run`]).
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group};
use imap_codec::decode::Decoder;
use imap_codec::{CommandCodec, ResponseCodec};
use mailsec_imap::framing::{Frame, Framer};
use mailsec_imap::parse;

/// Bytes of responses per pass (about).
const RESPONSES: usize = 4 << 20;
/// Bytes of commands per pass (about).
const COMMANDS: usize = 2 << 20;
/// Chunk size fed to the framers.
const CHUNK: usize = 64 * 1024;

/// A deterministic pseudo-random sequence (no dependency, same bytes every run).
struct Lcg(u32);

impl Lcg {
    fn next(&mut self, below: u32) -> u32 {
        self.0 = self.0.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (self.0 >> 8) % below
    }
}

/// A message body of about `size` octets: header fields, then text lines, CRLF throughout.
fn body(n: u32, size: usize) -> Vec<u8> {
    let mut out = format!(
        "Return-Path: <sender{n}@example.org>\r\nReceived: from mx.example.org (mx.example.org \
         [192.0.2.{}]) by imap.example.net with ESMTPS id {n:08x}\r\nFrom: \"Sender {n}\" \
         <sender{n}@example.org>\r\nTo: user@example.net\r\nSubject: Report number {n}\r\n\
         Date: Wed, 17 Jul 1996 02:23:25 -0700\r\nMessage-ID: <{n}.abc@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        n % 250
    )
    .into_bytes();
    while out.len() < size {
        out.extend_from_slice(
            b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\r\n",
        );
    }
    out
}

/// The response stream and the number of responses in it.
fn responses(total: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(total + 16 * 1024);
    let mut count = 0;
    let mut rng = Lcg(7);
    let mut n = 0u32;
    let mut tag = 0u32;
    while out.len() < total {
        n += 1;
        let uid = 40_000 + n * 3;
        // The headers of a batch: ENVELOPE and a multipart BODYSTRUCTURE.
        out.extend_from_slice(
            format!(
                "* {n} FETCH (UID {uid} FLAGS (\\Seen \\Answered $Forwarded) RFC822.SIZE {} \
                 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" ENVELOPE (\"Wed, 17 Jul 1996 \
                 02:23:25 -0700 (PDT)\" \"Report number {n}: quarterly figures\" ((\"Sender \
                 {n}\" NIL \"sender{n}\" \"example.org\")) ((\"Sender {n}\" NIL \"sender{n}\" \
                 \"example.org\")) ((NIL NIL \"replies\" \"example.org\")) ((\"User\" NIL \
                 \"user\" \"example.net\")(NIL NIL \"list\" \"lists.example.net\")) ((\"Terry \
                 Gray\" NIL \"gray\" \"cac.washington.edu\")) NIL \"<{}.abc@example.org>\" \
                 \"<{n}.abc@example.org>\") BODYSTRUCTURE (((\"TEXT\" \"PLAIN\" (\"CHARSET\" \
                 \"UTF-8\") NIL NIL \"QUOTED-PRINTABLE\" {} {} NIL NIL NIL NIL)(\"TEXT\" \"HTML\" \
                 (\"CHARSET\" \"UTF-8\") NIL NIL \"QUOTED-PRINTABLE\" {} {} NIL NIL NIL NIL) \
                 \"ALTERNATIVE\" (\"BOUNDARY\" \"=_alt{n}\") NIL NIL NIL)(\"APPLICATION\" \"PDF\" \
                 (\"NAME\" \"report-{n}.pdf\") NIL NIL \"BASE64\" {} NIL (\"ATTACHMENT\" \
                 (\"FILENAME\" \"report-{n}.pdf\")) NIL NIL) \"MIXED\" (\"BOUNDARY\" \
                 \"=_mixed{n}\") NIL NIL NIL))\r\n",
                10_000 + rng.next(90_000),
                n.saturating_sub(1),
                500 + rng.next(4000),
                10 + rng.next(90),
                900 + rng.next(9000),
                20 + rng.next(200),
                1000 + rng.next(60_000),
            )
            .as_bytes(),
        );
        count += 1;
        // The flags of a few others.
        for k in 0..3 {
            out.extend_from_slice(
                format!(
                    "* {} FETCH (UID {} FLAGS (\\Seen{}) RFC822.SIZE {})\r\n",
                    n + 1000 + k,
                    uid + 1000 + k,
                    if k == 1 { " \\Flagged" } else { "" },
                    1000 + rng.next(50_000)
                )
                .as_bytes(),
            );
            count += 1;
        }
        // A whole message: BODY[] with a multi-KB literal.
        if n % 2 == 0 {
            let b = body(n, 2048 + rng.next(6144) as usize);
            out.extend_from_slice(
                format!("* {n} FETCH (UID {uid} BODY[] {{{}}}\r\n", b.len()).as_bytes(),
            );
            out.extend_from_slice(&b);
            out.extend_from_slice(b" FLAGS (\\Seen))\r\n");
            count += 1;
        }
        // Mailbox listing, status and search now and then.
        if n % 8 == 0 {
            for (attrs, name) in [
                ("\\HasNoChildren", "INBOX"),
                ("\\HasChildren", "Archive"),
                ("\\HasNoChildren \\Sent", "Sent Items"),
                ("\\HasNoChildren", "Archive/2024"),
            ] {
                out.extend_from_slice(format!("* LIST ({attrs}) \"/\" \"{name}\"\r\n").as_bytes());
                count += 1;
            }
            out.extend_from_slice(
                format!(
                    "* STATUS \"Sent Items\" (MESSAGES {} RECENT 0 UIDNEXT {} UIDVALIDITY \
                     1234567 UNSEEN {})\r\n",
                    rng.next(5000),
                    uid,
                    rng.next(50)
                )
                .as_bytes(),
            );
            count += 1;
            let mut search = b"* SEARCH".to_vec();
            for _ in 0..40 {
                search.extend_from_slice(format!(" {}", 1 + rng.next(100_000)).as_bytes());
            }
            search.extend_from_slice(b"\r\n");
            out.extend_from_slice(&search);
            count += 1;
        }
        if n % 4 == 0 {
            tag += 1;
            out.extend_from_slice(
                format!("A{tag} OK Fetch completed (0.003 + 0.000 secs).\r\n").as_bytes(),
            );
            count += 1;
        }
    }
    (out, count)
}

/// The command stream and the number of commands in it.
fn commands(total: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(total + 16 * 1024);
    let mut count = 0;
    let mut rng = Lcg(11);
    let mut tag = 0u32;
    let mut cmd = |out: &mut Vec<u8>, text: String| {
        tag += 1;
        out.extend_from_slice(format!("a{tag:04} ").as_bytes());
        out.extend_from_slice(text.as_bytes());
        count += 1;
    };
    let mut n = 0u32;
    while out.len() < total {
        n += 1;
        cmd(
            &mut out,
            "LOGIN \"user@example.net\" \"s3cr3t pass\"\r\n".into(),
        );
        cmd(&mut out, "CAPABILITY\r\n".into());
        cmd(&mut out, "LIST \"\" \"*\"\r\n".into());
        cmd(
            &mut out,
            "STATUS \"Sent Items\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)\r\n".into(),
        );
        cmd(&mut out, "SELECT INBOX\r\n".into());
        let a = 1 + rng.next(50_000);
        cmd(
            &mut out,
            format!(
                "UID FETCH {a}:{} (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE \
                 BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID)])\r\n",
                a + 50
            ),
        );
        cmd(
            &mut out,
            format!(
                "UID FETCH {a},{},{}:* (BODY.PEEK[] FLAGS)\r\n",
                a + 7,
                a + 20
            ),
        );
        cmd(
            &mut out,
            format!("FETCH 1:{} (FLAGS UID)\r\n", 1 + rng.next(5000)),
        );
        cmd(
            &mut out,
            format!(
                "UID SEARCH SINCE 1-Feb-2024 NOT DELETED OR FROM \"alice\" SUBJECT \"report {n}\" \
                 UID {a}:*\r\n"
            ),
        );
        cmd(&mut out, "SEARCH UNSEEN LARGER 10000\r\n".into());
        cmd(
            &mut out,
            format!(
                "UID STORE {a}:{} +FLAGS.SILENT (\\Seen $Forwarded)\r\n",
                a + 3
            ),
        );
        cmd(&mut out, "STORE 1,3,5:9 -FLAGS (\\Flagged)\r\n".into());
        cmd(
            &mut out,
            format!("UID COPY {a}:{} \"Archive/2024\"\r\n", a + 3),
        );
        if n % 2 == 0 {
            let b = body(n, 2048 + rng.next(6144) as usize);
            cmd(
                &mut out,
                format!(
                    "APPEND \"Sent Items\" (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {{{}}}\r\n",
                    b.len()
                ),
            );
            out.extend_from_slice(&b);
            out.extend_from_slice(b"\r\n");
        }
        cmd(&mut out, "NOOP\r\n".into());
        cmd(&mut out, "CLOSE\r\n".into());
    }
    (out, count)
}

fn crlf_scan(b: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', b).count()
}

/// mailsec, client side: framer (64 KB chunks given without copying, as slices of the read
/// buffer: [`Framer::push_bytes`]) and response parser; the number parsed.
fn mailsec_responses(input: &Bytes) -> usize {
    let mut framer = Framer::client();
    framer.set_authenticated(true);
    let mut n = 0;
    for start in (0..input.len()).step_by(CHUNK) {
        framer
            .push_bytes(input.slice(start..(start + CHUNK).min(input.len())))
            .unwrap();
        while let Some(frame) = framer.next_frame() {
            match frame.unwrap() {
                Frame::Message(msg) => {
                    let (rsp, used) = parse::response(&msg).unwrap();
                    debug_assert_eq!(used, msg.len());
                    black_box(rsp);
                    n += 1;
                }
                Frame::LiteralAnnounced { .. } => {}
                _ => unreachable!(),
            }
        }
    }
    n
}

/// The messages cut by a framer once, for the parser-alone cases.
fn framed(input: &[u8], mut framer: Framer) -> Vec<Bytes> {
    framer.set_authenticated(true);
    let mut out = Vec::new();
    framer.push(input).unwrap();
    // Server side: the framer stops at each synchronizing literal until accepted.
    while let Some(frame) = framer.next_frame() {
        match frame.unwrap() {
            Frame::Message(m) => out.push(m),
            Frame::LiteralAnnounced { needs_decision, .. } => {
                if needs_decision {
                    framer.accept_literal().unwrap();
                }
            }
            _ => unreachable!(),
        }
    }
    out
}

/// mailsec's response parser alone over pre-cut messages.
fn mailsec_response_parse_only(msgs: &[Bytes]) -> usize {
    let mut n = 0;
    for msg in msgs {
        let (rsp, _) = parse::response(msg).unwrap();
        black_box(rsp);
        n += 1;
    }
    n
}

/// [`mailsec_response_parse_only`] with every ENVELOPE and BODYSTRUCTURE built into its tree
/// while parsing (`ResponseOptions::eager_trees`; by default the parser keeps them as validated
/// bytes, built on demand): the cost for a client that reads every one of them, as imap-proto
/// and imap-codec always build them.
fn mailsec_response_parse_build(msgs: &[Bytes]) -> usize {
    use mailsec_imap::types::{Data, MsgAtt, Response};
    let opts = parse::ResponseOptions::new().eager_trees(true);
    let mut n = 0;
    for msg in msgs {
        let (rsp, _) = parse::response_with(msg, &opts).unwrap();
        if let Response::Data(Data::Fetch { items, .. }) = &rsp {
            for item in items {
                match item {
                    MsgAtt::Envelope(e) => {
                        black_box(e.built().unwrap());
                    }
                    MsgAtt::Body(b) | MsgAtt::BodyStructure(b) => {
                        black_box(b.built().unwrap());
                    }
                    _ => {}
                }
            }
        }
        black_box(rsp);
        n += 1;
    }
    n
}

/// imap-proto over the whole buffer.
fn imap_proto_responses(mut input: &[u8]) -> usize {
    let mut n = 0;
    while !input.is_empty() {
        let (rest, rsp) = imap_proto::parser::parse_response(input).unwrap();
        black_box(rsp);
        input = rest;
        n += 1;
    }
    n
}

/// imap-codec over the whole buffer.
fn imap_codec_responses(mut input: &[u8]) -> usize {
    let codec = ResponseCodec::default();
    let mut n = 0;
    while !input.is_empty() {
        let (rest, rsp) = codec.decode(input).unwrap();
        black_box(rsp);
        input = rest;
        n += 1;
    }
    n
}

/// mailsec, server side: framer (64 KB chunks, every literal accepted) and command parser.
fn mailsec_commands(input: &[u8]) -> usize {
    let mut framer = Framer::server();
    framer.set_authenticated(true);
    let mut n = 0;
    for chunk in input.chunks(CHUNK) {
        framer.push(chunk).unwrap();
        while let Some(frame) = framer.next_frame() {
            match frame.unwrap() {
                Frame::Message(msg) => {
                    let (cmd, used) = parse::command(&msg).unwrap();
                    debug_assert_eq!(used, msg.len());
                    black_box(cmd);
                    n += 1;
                }
                Frame::LiteralAnnounced { needs_decision, .. } => {
                    if needs_decision {
                        framer.accept_literal().unwrap();
                    }
                }
                _ => unreachable!(),
            }
        }
    }
    n
}

/// mailsec's command parser alone over pre-cut messages.
fn mailsec_command_parse_only(msgs: &[Bytes]) -> usize {
    let mut n = 0;
    for msg in msgs {
        let (cmd, _) = parse::command(msg).unwrap();
        black_box(cmd);
        n += 1;
    }
    n
}

/// imap-codec over the whole buffer.
fn imap_codec_commands(mut input: &[u8]) -> usize {
    let codec = CommandCodec::default();
    let mut n = 0;
    while !input.is_empty() {
        let (rest, cmd) = codec.decode(input).unwrap();
        black_box(cmd);
        input = rest;
        n += 1;
    }
    n
}

/// The inputs of both groups.
struct Inputs {
    rsp: Vec<u8>,
    /// The same bytes as a read buffer the framer can slice.
    rsp_shared: Bytes,
    rsp_count: usize,
    rsp_msgs: Vec<Bytes>,
    cmd: Vec<u8>,
    cmd_count: usize,
    cmd_msgs: Vec<Bytes>,
}

impl Inputs {
    fn new() -> Self {
        let (rsp, rsp_count) = responses(RESPONSES);
        let (cmd, cmd_count) = commands(COMMANDS);
        let rsp_msgs = framed(&rsp, Framer::client());
        let cmd_msgs = framed(&cmd, Framer::server());
        Inputs {
            rsp_shared: Bytes::copy_from_slice(&rsp),
            rsp,
            rsp_count,
            rsp_msgs,
            cmd,
            cmd_count,
            cmd_msgs,
        }
    }
}

/// Every parser parses every message of its input, once, outside the timed loops (each case
/// also unwraps every result, so a parse error would stop the bench).
fn check_counts(i: &Inputs) {
    let r = i.rsp_count;
    assert_eq!(i.rsp_msgs.len(), r, "mailsec framer, responses");
    assert_eq!(mailsec_responses(&i.rsp_shared), r, "mailsec responses");
    assert_eq!(mailsec_response_parse_only(&i.rsp_msgs), r);
    assert_eq!(mailsec_response_parse_build(&i.rsp_msgs), r);
    assert_eq!(imap_proto_responses(&i.rsp), r, "imap-proto responses");
    assert_eq!(imap_codec_responses(&i.rsp), r, "imap-codec responses");
    let c = i.cmd_count;
    assert_eq!(i.cmd_msgs.len(), c, "mailsec framer, commands");
    assert_eq!(mailsec_commands(&i.cmd), c, "mailsec commands");
    assert_eq!(mailsec_command_parse_only(&i.cmd_msgs), c);
    assert_eq!(imap_codec_commands(&i.cmd), c, "imap-codec commands");
    // Every framed message ends where the parser stops.
    for m in &i.rsp_msgs {
        assert_eq!(parse::response(m).unwrap().1, m.len());
    }
    for m in &i.cmd_msgs {
        assert_eq!(parse::command(m).unwrap().1, m.len());
    }
}

fn bench(c: &mut Criterion) {
    let i = Inputs::new();
    check_counts(&i);

    let mut g = c.benchmark_group("responses");
    g.throughput(Throughput::Bytes(i.rsp.len() as u64));
    g.bench_function("memchr_crlf_scan", |b| {
        b.iter(|| crlf_scan(black_box(&i.rsp)))
    });
    g.bench_function("mailsec_framer_and_parse", |b| {
        b.iter(|| mailsec_responses(black_box(&i.rsp_shared)))
    });
    g.bench_function("mailsec_parse_only", |b| {
        b.iter(|| mailsec_response_parse_only(black_box(&i.rsp_msgs)))
    });
    g.bench_function("mailsec_parse_build_trees", |b| {
        b.iter(|| mailsec_response_parse_build(black_box(&i.rsp_msgs)))
    });
    g.bench_function("imap_proto", |b| {
        b.iter(|| imap_proto_responses(black_box(&i.rsp)))
    });
    g.bench_function("imap_codec", |b| {
        b.iter(|| imap_codec_responses(black_box(&i.rsp)))
    });
    g.finish();

    let mut g = c.benchmark_group("commands");
    g.throughput(Throughput::Bytes(i.cmd.len() as u64));
    g.bench_function("memchr_crlf_scan", |b| {
        b.iter(|| crlf_scan(black_box(&i.cmd)))
    });
    g.bench_function("mailsec_framer_and_parse", |b| {
        b.iter(|| mailsec_commands(black_box(&i.cmd)))
    });
    g.bench_function("mailsec_parse_only", |b| {
        b.iter(|| mailsec_command_parse_only(black_box(&i.cmd_msgs)))
    });
    g.bench_function("imap_codec", |b| {
        b.iter(|| imap_codec_commands(black_box(&i.cmd)))
    });
    g.finish();
}

/// `MAILSEC_BENCH_FIXED=group/case:N`: runs that case N times over its input and exits, for
/// instruction counting (`valgrind --tool=callgrind`; N minus 0 is the cost of N passes, see
/// `scripts/bench-imap`). Prints the input size in bytes.
fn fixed_run(spec: &str) {
    let (case, passes) = spec
        .split_once(':')
        .expect("MAILSEC_BENCH_FIXED=group/case:N");
    let passes: usize = passes.parse().expect("pass count");
    let i = Inputs::new();
    let size = if case.starts_with("responses/") {
        i.rsp.len()
    } else {
        i.cmd.len()
    };
    let mut n = 0;
    for _ in 0..passes {
        n += match case {
            "responses/memchr_crlf_scan" => crlf_scan(black_box(&i.rsp)),
            "responses/mailsec_framer_and_parse" => mailsec_responses(black_box(&i.rsp_shared)),
            "responses/mailsec_parse_only" => mailsec_response_parse_only(black_box(&i.rsp_msgs)),
            "responses/mailsec_parse_build_trees" => {
                mailsec_response_parse_build(black_box(&i.rsp_msgs))
            }
            "responses/imap_proto" => imap_proto_responses(black_box(&i.rsp)),
            "responses/imap_codec" => imap_codec_responses(black_box(&i.rsp)),
            "commands/memchr_crlf_scan" => crlf_scan(black_box(&i.cmd)),
            "commands/mailsec_framer_and_parse" => mailsec_commands(black_box(&i.cmd)),
            "commands/mailsec_parse_only" => mailsec_command_parse_only(black_box(&i.cmd_msgs)),
            "commands/imap_codec" => imap_codec_commands(black_box(&i.cmd)),
            other => panic!("unknown case {other:?}"),
        };
    }
    black_box(n);
    println!("{size}");
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(spec) = std::env::var("MAILSEC_BENCH_FIXED") {
        fixed_run(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
