//! Parsing and multi-line decoding throughput against a bare `memchr` CRLF scan of the same
//! bytes, in one run: a baseline for the comparison with other POP3 parsers (issue 4).
//!
//! - commands: a pipelined client stream (LIST/UIDL/RETR/DELE/TOP…), split into lines with
//!   `memchr`, each parsed;
//! - responses: status lines and scan/UIDL listing lines, each parsed;
//! - RETR body: a 1 MiB message (with dot-stuffed lines) through the streaming decoder in
//!   16 KiB reads.
//!
//! `cargo bench -p mailsec-pop3 --bench syntax`

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailsec_pop3::multiline::{MultilineDecoder, dot_stuff};
use mailsec_pop3::parse;

fn commands() -> Vec<u8> {
    let mut s = Vec::new();
    for i in 1..2000 {
        s.extend_from_slice(
            format!("LIST {i}\r\nUIDL {i}\r\nTOP {i} 0\r\nRETR {i}\r\nDELE {i}\r\nNOOP\r\n")
                .as_bytes(),
        );
    }
    s
}

fn responses() -> Vec<u8> {
    let mut s = Vec::new();
    for i in 1..2000 {
        s.extend_from_slice(format!("+OK {i} 4711\r\n{i} 4711\r\n{i} 0000{i}.QhdPYR:00WBw1Ph7x7\r\n-ERR [IN-USE] maildrop locked\r\n").as_bytes());
    }
    s
}

fn body() -> Vec<u8> {
    let mut plain = Vec::new();
    let mut i = 0;
    while plain.len() < 1 << 20 {
        plain.extend_from_slice(if i % 50 == 0 {
            b".a line that starts with a dot and must be stuffed\r\n".as_slice()
        } else {
            b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\r\n"
        });
        i += 1;
    }
    let mut wire = BytesMut::new();
    dot_stuff(&plain, &mut wire).unwrap();
    wire.to_vec()
}

fn lines(stream: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    memchr::memchr_iter(b'\n', stream).map(move |lf| {
        let line = &stream[at..lf - 1];
        at = lf + 1;
        line
    })
}

fn scan(stream: &[u8]) -> usize {
    lines(stream).map(|l| l.len()).sum()
}

fn bench(c: &mut Criterion) {
    let cmds = commands();
    let resps = responses();
    let wire = Bytes::from(body());

    let mut g = c.benchmark_group("pop3");
    g.measurement_time(Duration::from_secs(3));

    g.throughput(Throughput::Bytes(cmds.len() as u64));
    g.bench_function("commands/memchr-scan", |b| {
        b.iter(|| scan(black_box(&cmds)))
    });
    g.bench_function("commands/parse", |b| {
        b.iter(|| {
            lines(black_box(&cmds))
                .filter(|l| parse::command(l).is_ok())
                .count()
        })
    });

    g.throughput(Throughput::Bytes(resps.len() as u64));
    g.bench_function("responses/memchr-scan", |b| {
        b.iter(|| scan(black_box(&resps)))
    });
    g.bench_function("responses/parse", |b| {
        b.iter(|| {
            lines(black_box(&resps))
                .filter(|l| match l.first() {
                    Some(b'+' | b'-') => parse::response(l).is_ok(),
                    _ if l.contains(&b':') => parse::uidl_listing(l).is_ok(),
                    _ => parse::scan_listing(l).is_ok(),
                })
                .count()
        })
    });

    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function("retr-body/memchr-scan", |b| {
        b.iter(|| scan(black_box(&wire)))
    });
    g.bench_function("retr-body/decode-16k-reads", |b| {
        b.iter(|| {
            let mut dec = MultilineDecoder::new();
            let mut n = 0usize;
            let mut at = 0;
            while !dec.is_done() {
                let end = (at + 16 * 1024).min(wire.len());
                at += dec.feed(&wire.slice(at..end), |c| n += c.len()).unwrap();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
