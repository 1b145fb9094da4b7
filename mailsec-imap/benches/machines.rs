//! The IMAP client and server machines together, in memory: a client fetching 10 000 messages
//! (about 2–4 KB each, varied header fields) from the server, one whole session per iteration
//! (greeting, AUTHENTICATE PLAIN, SELECT INBOX, the fetch, LOGOUT), drained to completion:
//!
//! - `headers`: one `UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])`
//!   ([`Client::fetch_headers`]) → 10 000 [`ClientEvent::Fetched`].
//! - `bodies`: [`Client::fetch_message`] for every UID (`UID FETCH n (UID FLAGS BODY.PEEK[])`)
//!   → 10 000 [`ClientEvent::Message`]. The client never has two FETCHes in flight (each untagged
//!   FETCH must have one owner), so this is 10 000 round trips.
//!
//! Each group has four cases:
//!
//! - `plain`: the two bare machines, no TLS (`ClientTls::InsecurePlaintext`,
//!   `ServerPolicy::insecure_plaintext()`, plaintext mechanisms allowed), moved by the loop in
//!   [`plain_session`]: each side's `Transmit`s are gathered and handed to the other side's
//!   `handle_input` in 64 KiB reads, the server's events answered.
//! - `starttls`: the same session through [`Pair`] with real rustls (STARTTLS required,
//!   handshake included; wire read in 64 KiB pieces). `Pair` also keeps a copy of every wire
//!   byte (its capture), a cost of the harness, not of the machines.
//! - `client_only`: the client machine alone ([`client_only`]) on the server→client bytes of
//!   the plain session (recorded once): the client's share of `plain`; `plain` − `client_only`
//!   is the server's and the loop's.
//! - `parse_only`: the same recorded bytes cut by
//!   [`Framer::client`] and parsed by [`parse::response`] (the greeting by
//!   [`parse::greeting`]), in the same 64 KiB pushes: the least any client must do.
//!
//! The store (10 000 deliveries into a [`MemoryStore`]) is built once, outside every timed
//! loop; each session hands the server a clone (a shared handle, no copy). FETCH with
//! `BODY.PEEK` changes nothing, so every iteration sees the same mailbox.
//!
//! At the end the bench prints messages/s and MB/s (server→client plaintext octets) per case,
//! and the machine overhead over the parse: (`plain` − `parse_only`) / `parse_only`, from the
//! mean time per iteration of the criterion runs (warm-up included). With
//! `MAILSEC_BENCH_REPORT=1` it skips criterion and times a few fixed iterations instead
//! (`MAILSEC_BENCH_REPORT=N`: N iterations). With `MAILSEC_BENCH_FIXED=group/case:N` it runs
//! that case N times and exits (for `valgrind --tool=callgrind`; see
//! `scripts/bench-imap-machines`), printing the response octets of one session.
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use mailsec_imap::client::{Client, ClientConfig, ClientEvent};
use mailsec_imap::framing::{Frame, Framer};
use mailsec_imap::parse;
use mailsec_imap::server::{Server, ServerConfig, ServerEvent};
use mailsec_imap::store::MemoryStore;
use mailsec_imap::types::{SeqNumber, SeqRange, SequenceSet};
use mailsec_tls::sasl::{CheckAnswer, Credentials, InsecureAuth, Mechanism};
use mailsec_tls::testing::{Chunking, Pair, TestPki};
use mailsec_tls::{ClientTls, Machine, Output, ServerPolicy};

/// Messages in the INBOX.
const MESSAGES: usize = 10_000;
/// The largest read handed to a machine or a framer at once.
const CHUNK: usize = 64 * 1024;
const HOST: &str = "imap.example.test";
const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";

/// A deterministic pseudo-random sequence (no dependency, same bytes every run).
struct Lcg(u32);

impl Lcg {
    fn next(&mut self, below: u32) -> u32 {
        self.0 = self.0.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (self.0 >> 8) % below
    }
}

const WORDS: &[&str] = &[
    "quarterly",
    "report",
    "meeting",
    "invoice",
    "lunch",
    "project",
    "deadline",
    "update",
    "review",
    "draft",
    "budget",
    "Re:",
    "Fwd:",
    "urgent",
    "minutes",
    "holiday",
    "release",
    "notes",
    "question",
    "plan",
];

/// Message `n`: 2–4 KB, a varied set of header fields (Received chain, DKIM, lists, Cc,
/// MIME multipart or not), then text lines; CRLF throughout.
fn message(n: u32, rng: &mut Lcg) -> Vec<u8> {
    let mut m = String::with_capacity(4200);
    for hop in 0..1 + rng.next(3) {
        m.push_str(&format!(
            "Received: from mx{hop}.example.org (mx{hop}.example.org [192.0.2.{}])\r\n\tby \
             imap.example.test with ESMTPS id {n:08x}{hop}; Wed, 17 Jul 2024 02:{:02}:25 +0000\r\n",
            rng.next(250),
            rng.next(60)
        ));
    }
    if rng.next(2) == 0 {
        m.push_str(&format!(
            "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=sel{};\r\n\t\
             h=from:to:subject:date:message-id; bh={n:016x}abcdefghijklmnop=;\r\n\t\
             b=ZXhhbXBsZSBzaWduYXR1cmUgZm9yIGEgYmVuY2htYXJrIG1lc3NhZ2U{n:08x}=\r\n",
            rng.next(9)
        ));
    }
    let subject: Vec<&str> = (0..2 + rng.next(8))
        .map(|_| WORDS[rng.next(WORDS.len() as u32) as usize])
        .collect();
    m.push_str(&format!(
        "From: \"Sender {}\" <sender{}@example.org>\r\nTo: Alice <alice@example.test>\r\n",
        n % 97,
        n % 97
    ));
    if rng.next(3) == 0 {
        m.push_str("Cc: bob@example.net, \"Carol C.\" <carol@example.com>\r\n");
    }
    if rng.next(4) == 0 {
        m.push_str(&format!(
            "List-Id: <list{}.lists.example.net>\r\nList-Unsubscribe: \
             <mailto:leave-{n}@lists.example.net>\r\n",
            n % 7
        ));
    }
    m.push_str(&format!(
        "Subject: {}\r\nDate: Wed, 17 Jul 2024 02:23:25 +0000\r\nMessage-ID: \
         <{n}.{}@example.org>\r\nMIME-Version: 1.0\r\n",
        subject.join(" "),
        rng.next(1 << 20)
    ));
    if n > 1 && rng.next(2) == 0 {
        m.push_str(&format!("In-Reply-To: <{}.0@example.org>\r\n", n - 1));
    }
    let size = 2048 + rng.next(2048) as usize;
    let multipart = rng.next(3) == 0;
    if multipart {
        m.push_str(&format!(
            "Content-Type: multipart/alternative; boundary=\"=_b{n}\"\r\n\r\n--=_b{n}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n"
        ));
    } else {
        m.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
    }
    let tail = if multipart {
        format!("--=_b{n}--\r\n")
    } else {
        String::new()
    };
    while m.len() + tail.len() < size {
        m.push_str(WORDS[rng.next(WORDS.len() as u32) as usize]);
        m.push_str(" lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod\r\n");
    }
    m.push_str(&tail);
    m.into_bytes()
}

/// The INBOX with [`MESSAGES`] messages, and their total size.
fn store() -> (MemoryStore, usize) {
    let store = MemoryStore::new();
    let mut rng = Lcg(11);
    let mut total = 0;
    for n in 1..=MESSAGES as u32 {
        let m = message(n, &mut rng);
        total += m.len();
        let uid = store.deliver("INBOX", &m).expect("deliver");
        assert_eq!(uid, n);
    }
    (store, total)
}

/// Which fetch a session does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fetch {
    /// One `UID FETCH 1:*` of the header blocks.
    Headers,
    /// One `UID FETCH n BODY.PEEK[]` per message.
    Bodies,
}

impl Fetch {
    fn group(self) -> &'static str {
        match self {
            Fetch::Headers => "headers",
            Fetch::Bodies => "bodies",
        }
    }
}

fn client(tls: ClientTls, now: Instant) -> Client {
    let config = ClientConfig::builder(Credentials::password(USER, PASSWORD))
        .tls(tls)
        .insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls)
        .mechanisms([Mechanism::Plain])
        .max_queued(MESSAGES + 16)
        .build();
    Client::new(config, now)
}

fn server(policy: ServerPolicy, now: Instant) -> Server {
    let config = ServerConfig::builder()
        .policy(policy)
        .insecure_auth(InsecureAuth::AllowPlaintextMechanismsWithoutTls)
        .greeting(format!("{HOST} IMAP ready"))
        .mechanisms([Mechanism::Plain])
        .build()
        .expect("server config");
    Server::new(Arc::new(config), now)
}

/// Queues the session's intents (the client sends them once logged in).
fn queue(client: &mut Client, fetch: Fetch, now: Instant) {
    client.select(now, "INBOX").expect("select");
    match fetch {
        Fetch::Headers => {
            let all = SequenceSet::new(vec![SeqRange::Range(
                SeqNumber::Value(std::num::NonZeroU32::MIN),
                SeqNumber::Largest,
            )])
            .expect("1:*");
            client.fetch_headers(now, all).expect("fetch_headers");
        }
        Fetch::Bodies => {
            for uid in 1..=MESSAGES as u32 {
                client.fetch_message(now, uid).expect("fetch_message");
            }
        }
    }
    client.logout(now).expect("logout");
}

/// What a session delivered to the application.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    /// [`ClientEvent::Fetched`]s.
    fetched: usize,
    /// [`ClientEvent::Message`]s.
    messages: usize,
    /// Octets of message data in them.
    octets: usize,
    /// [`ClientEvent::Closed`] seen.
    closed: bool,
}

impl Tally {
    fn add(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Fetched { attributes, .. } => {
                self.fetched += 1;
                black_box(attributes);
            }
            ClientEvent::Message { data, .. } => {
                self.messages += 1;
                self.octets += data.len();
                black_box(data);
            }
            ClientEvent::Failed { error, .. } => panic!("command failed: {error:?}"),
            ClientEvent::Closed => self.closed = true,
            other => {
                black_box(other);
            }
        }
    }
}

/// Hands `bytes` to a machine in reads of at most [`CHUNK`] octets.
fn deliver<M: Machine>(machine: &mut M, now: Instant, bytes: &[u8]) {
    for chunk in bytes.chunks(CHUNK) {
        machine.handle_input(now, chunk);
    }
}

/// One session between the bare machines, no TLS. `record` receives every octet the server
/// sent.
fn plain_session(store: &MemoryStore, fetch: Fetch, mut record: Option<&mut Vec<u8>>) -> Tally {
    let now = Instant::now();
    let mut c = client(ClientTls::InsecurePlaintext, now);
    queue(&mut c, fetch, now);
    let mut s = server(ServerPolicy::insecure_plaintext(), now);
    let mut tally = Tally::default();
    let mut to_server = Vec::with_capacity(CHUNK);
    let mut to_client = Vec::with_capacity(CHUNK);
    loop {
        while let Some(output) = c.poll_output() {
            match output {
                Output::Transmit(bytes) => to_server.extend_from_slice(&bytes),
                Output::Event(event) => tally.add(event),
                Output::Error(error) => panic!("client: {error}"),
                _ => {}
            }
        }
        while let Some(output) = s.poll_output() {
            match output {
                Output::Transmit(bytes) => to_client.extend_from_slice(&bytes),
                Output::Event(ServerEvent::CheckCredentials { .. }) => {
                    s.answer_credentials(CheckAnswer::Accept).expect("answer");
                }
                Output::Event(ServerEvent::OpenStore { .. }) => {
                    s.open_store(Box::new(store.clone())).expect("open_store");
                }
                Output::Error(error) => panic!("server: {error}"),
                _ => {}
            }
        }
        if tally.closed {
            return tally;
        }
        if to_server.is_empty() && to_client.is_empty() {
            panic!("the session stalled: {tally:?}");
        }
        deliver(&mut s, now, &to_server);
        to_server.clear();
        if let Some(r) = record.as_deref_mut() {
            r.extend_from_slice(&to_client);
        }
        deliver(&mut c, now, &to_client);
        to_client.clear();
    }
}

/// One session through [`Pair`]: real rustls, STARTTLS required.
fn tls_session(store: &MemoryStore, pki: &TestPki, fetch: Fetch) -> Tally {
    let now = Instant::now();
    let mut c = client(ClientTls::StartTlsRequired, now);
    queue(&mut c, fetch, now);
    let mut pair = Pair::new(c, server(ServerPolicy::starttls_required(), now), pki);
    // Wire reads of 64 KiB, as in the plain loop (and within the pipe's 1 MiB bound on
    // decrypted bytes not yet taken).
    pair.set_chunking(Chunking::Every(CHUNK));
    let mut tally = Tally::default();
    for _ in 0..100 {
        pair.run();
        let mut answered = false;
        for event in pair.server.take_events() {
            match event {
                ServerEvent::CheckCredentials { .. } => {
                    pair.server
                        .machine
                        .answer_credentials(CheckAnswer::Accept)
                        .expect("answer");
                    answered = true;
                }
                ServerEvent::OpenStore { .. } => {
                    pair.server
                        .machine
                        .open_store(Box::new(store.clone()))
                        .expect("open_store");
                    answered = true;
                }
                _ => {}
            }
        }
        for event in pair.client.take_events() {
            tally.add(event);
        }
        if tally.closed {
            return tally;
        }
        assert!(
            answered,
            "the TLS session stalled: {tally:?}, client errors {:?}, server errors {:?}, TLS {:?}",
            pair.client.errors, pair.server.errors, pair.client.tls_errors
        );
    }
    panic!("the TLS session did not end: {tally:?}");
}

/// The client machine alone: a fresh client with the same intents fed the recorded
/// server→client bytes of a plain session in 64 KiB reads (its commands are dropped; the
/// tags and the order are the same as in the recording).
fn client_only(bytes: &[u8], fetch: Fetch) -> Tally {
    let now = Instant::now();
    let mut c = client(ClientTls::InsecurePlaintext, now);
    queue(&mut c, fetch, now);
    let mut tally = Tally::default();
    for chunk in bytes.chunks(CHUNK) {
        c.handle_input(now, chunk);
        while let Some(output) = c.poll_output() {
            match output {
                Output::Transmit(bytes) => {
                    black_box(bytes);
                }
                Output::Event(event) => tally.add(event),
                Output::Error(error) => panic!("client: {error}"),
                _ => {}
            }
        }
    }
    tally
}

/// The client's least work on the recorded server→client bytes: frame and parse every
/// response. Returns the number parsed.
fn parse_only(bytes: &[u8]) -> usize {
    let mut framer = Framer::client();
    framer.set_authenticated(true);
    let mut n = 0;
    for chunk in bytes.chunks(CHUNK) {
        framer.push(chunk).expect("framing");
        while let Some(frame) = framer.next_frame() {
            if let Frame::Message(m) = frame.expect("frame") {
                if n == 0 {
                    black_box(parse::greeting(&m).expect("greeting"));
                } else {
                    black_box(parse::response(&m).expect("response"));
                }
                n += 1;
            }
        }
    }
    n
}

/// The inputs: built once, outside every timed loop.
struct Inputs {
    store: MemoryStore,
    /// Octets of all messages.
    total: usize,
    pki: TestPki,
    /// Server→client bytes of a plain session: headers, bodies.
    headers_rsp: Vec<u8>,
    bodies_rsp: Vec<u8>,
}

impl Inputs {
    fn new() -> Self {
        Self::for_groups(&[Fetch::Headers, Fetch::Bodies])
    }

    /// The store, and the recorded responses of these groups only (the others stay empty):
    /// under callgrind the recording of a group not counted would only slow things down.
    fn for_groups(groups: &[Fetch]) -> Self {
        let (store, total) = store();
        let pki = TestPki::new(HOST);
        let mut headers_rsp = Vec::new();
        let mut bodies_rsp = Vec::new();
        if groups.contains(&Fetch::Headers) {
            let h = plain_session(&store, Fetch::Headers, Some(&mut headers_rsp));
            assert_eq!((h.fetched, h.messages), (MESSAGES, 0), "headers session");
        }
        if groups.contains(&Fetch::Bodies) {
            let b = plain_session(&store, Fetch::Bodies, Some(&mut bodies_rsp));
            assert_eq!((b.fetched, b.messages), (0, MESSAGES), "bodies session");
            assert_eq!(b.octets, total, "every message byte for byte (in size)");
        }
        Inputs {
            store,
            total,
            pki,
            headers_rsp,
            bodies_rsp,
        }
    }

    fn responses(&self, fetch: Fetch) -> &[u8] {
        match fetch {
            Fetch::Headers => &self.headers_rsp,
            Fetch::Bodies => &self.bodies_rsp,
        }
    }

    /// Every case does the whole work once, outside the timed loops.
    fn check(&self) {
        for fetch in [Fetch::Headers, Fetch::Bodies] {
            let plain = plain_session(&self.store, fetch, None);
            let tls = tls_session(&self.store, &self.pki, fetch);
            assert_eq!(
                plain, tls,
                "{fetch:?}: the same events with and without TLS"
            );
            // Greeting, login, select, one FETCH per message, …: at least one response each.
            assert!(parse_only(self.responses(fetch)) > MESSAGES, "{fetch:?}");
        }
    }

    /// Runs one case once.
    fn run(&self, fetch: Fetch, case: &str) -> usize {
        match case {
            "plain" => {
                let t = plain_session(&self.store, fetch, None);
                t.fetched + t.messages
            }
            "starttls" => {
                let t = tls_session(&self.store, &self.pki, fetch);
                t.fetched + t.messages
            }
            "client_only" => {
                let t = client_only(self.responses(fetch), fetch);
                t.fetched + t.messages
            }
            "parse_only" => parse_only(self.responses(fetch)),
            other => panic!("unknown case {other:?}"),
        }
    }
}

const CASES: [&str; 4] = ["plain", "starttls", "client_only", "parse_only"];

/// (group, case) → (iterations, total time) of every case measured.
type Times = BTreeMap<(&'static str, &'static str), (u64, Duration)>;

/// The times measured so far.
static TIMES: Mutex<Times> = Mutex::new(BTreeMap::new());

fn record(group: &'static str, case: &'static str, iters: u64, took: Duration) {
    let mut times = TIMES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let e = times.entry((group, case)).or_default();
    e.0 += iters;
    e.1 += took;
}

fn bench(c: &mut Criterion, i: &Inputs) {
    for fetch in [Fetch::Headers, Fetch::Bodies] {
        let mut g = c.benchmark_group(fetch.group());
        g.sample_size(10);
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(5));
        g.throughput(Throughput::Bytes(i.responses(fetch).len() as u64));
        for case in CASES {
            g.bench_function(case, |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(i.run(fetch, case));
                    }
                    let took = start.elapsed();
                    record(fetch.group(), case, iters, took);
                    took
                })
            });
        }
        g.finish();
    }
}

/// Prints throughput per case and the machine overhead over the parse.
fn report(i: &Inputs, how: &str) {
    let times = TIMES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    println!(
        "\nIMAP machines, {MESSAGES} messages ({:.1} MB stored), {how}",
        i.total as f64 / 1e6
    );
    for fetch in [Fetch::Headers, Fetch::Bodies] {
        let bytes = i.responses(fetch).len() as f64;
        let mean = |case: &'static str| {
            times
                .get(&(fetch.group(), case))
                .filter(|(n, _)| *n > 0)
                .map(|(n, d)| d.as_secs_f64() / *n as f64)
        };
        for case in CASES {
            if let Some(t) = mean(case) {
                println!(
                    "  {:<8} {:<11} {:>9.2} ms/session {:>10.0} messages/s {:>8.1} MB/s \
                     (server->client {:.1} MB)",
                    fetch.group(),
                    case,
                    t * 1e3,
                    MESSAGES as f64 / t,
                    bytes / t / 1e6,
                    bytes / 1e6
                );
            }
        }
        if let (Some(plain), Some(parse)) = (mean("plain"), mean("parse_only")) {
            println!(
                "  {:<8} machine overhead over parse: (plain - parse_only) / parse_only = {:.2}",
                fetch.group(),
                (plain - parse) / parse
            );
        }
        if let (Some(plain), Some(client), Some(parse)) =
            (mean("plain"), mean("client_only"), mean("parse_only"))
        {
            println!(
                "  {:<8} of which client machine (client_only - parse_only) / parse_only = {:.2}, \
                 server machine + loop (plain - client_only) / parse_only = {:.2}",
                fetch.group(),
                (client - parse) / parse,
                (plain - client) / parse
            );
        }
        if let (Some(plain), Some(tls)) = (mean("plain"), mean("starttls")) {
            println!(
                "  {:<8} starttls / plain = {:.2}",
                fetch.group(),
                tls / plain
            );
        }
    }
}

/// `MAILSEC_BENCH_REPORT=N` (or 1 for 3 iterations): times N iterations of every case
/// without criterion and prints the report.
fn report_run(spec: &str) {
    let n: u64 = match spec.parse() {
        Ok(0 | 1) | Err(_) => 3,
        Ok(n) => n,
    };
    let i = Inputs::new();
    i.check();
    for fetch in [Fetch::Headers, Fetch::Bodies] {
        for case in CASES {
            let start = Instant::now();
            for _ in 0..n {
                black_box(i.run(fetch, case));
            }
            record(fetch.group(), case, n, start.elapsed());
        }
    }
    report(&i, &format!("{n} timed iterations per case"));
}

/// `MAILSEC_BENCH_FIXED=group/case:N`: runs that case N times and exits, for instruction
/// counting (N minus 0 is the cost of N sessions). Prints the server→client octets of one
/// session.
fn fixed_run(spec: &str) {
    let (case, passes) = spec
        .split_once(':')
        .expect("MAILSEC_BENCH_FIXED=group/case:N");
    let passes: usize = passes.parse().expect("pass count");
    let (group, case) = case.split_once('/').expect("group/case");
    let fetch = match group {
        "headers" => Fetch::Headers,
        "bodies" => Fetch::Bodies,
        other => panic!("unknown group {other:?}"),
    };
    let i = Inputs::for_groups(&[fetch]);
    let mut n = 0;
    for _ in 0..passes {
        n += i.run(fetch, case);
    }
    black_box(n);
    println!("{}", i.responses(fetch).len());
}

fn benches() {
    let i = Inputs::new();
    i.check();
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &i);
    c.final_summary();
    report(&i, "mean of the criterion iterations (warm-up included)");
}

fn main() {
    if let Ok(spec) = std::env::var("MAILSEC_BENCH_FIXED") {
        fixed_run(&spec);
        return;
    }
    if let Ok(spec) = std::env::var("MAILSEC_BENCH_REPORT") {
        report_run(&spec);
        return;
    }
    benches();
}
