//! Lines per second through [`LineFramer`] against a bare `memchr` CRLF scan of the same bytes.
//!
//! Two streams: a realistic pipelined SMTP command stream (short lines, RFC 5321 limit 512) and
//! DATA text of 998-octet lines (limit 1000). The framer gets the stream in 16 KiB reads, as from
//! a socket, and is drained after each; the baseline scans the whole stream once with
//! `memchr_iter`, checking only that each LF follows a CR.
//!
//! `cargo bench -p mailsec-tls --bench framer`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailsec_tls::framer::LineFramer;

const READ: usize = 16 * 1024;

fn smtp_commands() -> Vec<u8> {
    let mut stream = Vec::new();
    for i in 0..2000 {
        stream
            .extend_from_slice(b"MAIL FROM:<sender.name@example.org> SIZE=12345 BODY=8BITMIME\r\n");
        for r in 0..4 {
            stream.extend_from_slice(format!("RCPT TO:<user{i}.{r}@example.net>\r\n").as_bytes());
        }
        stream.extend_from_slice(b"RSET\r\nNOOP\r\n");
    }
    stream
}

fn data_lines() -> Vec<u8> {
    let mut line: Vec<u8> = (0..998).map(|i| b'a' + (i % 26) as u8).collect();
    line.extend_from_slice(b"\r\n");
    line.repeat(1000)
}

fn count_lines(stream: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', stream).count() as u64
}

/// Returns (lines, octets) so the work cannot be optimised away.
fn framer(max_line: usize, stream: &[u8]) -> (usize, usize) {
    let mut framer = LineFramer::new(max_line);
    let (mut lines, mut octets) = (0, 0);
    for read in stream.chunks(READ) {
        framer.push(read).expect("fits");
        while let Some(line) = framer.next_line() {
            let line = line.expect("valid");
            lines += 1;
            octets += line.len();
        }
    }
    (lines, octets)
}

/// The floor: one memchr pass, a CR check per LF, a line length per line.
fn bare_memchr(stream: &[u8]) -> (usize, usize) {
    let (mut lines, mut octets, mut start) = (0, 0, 0);
    for lf in memchr::memchr_iter(b'\n', stream) {
        assert!(lf > start && stream[lf - 1] == b'\r', "bare LF");
        lines += 1;
        octets += lf - 1 - start;
        start = lf + 1;
    }
    (lines, octets)
}

fn lines(c: &mut Criterion) {
    for (name, max_line, stream) in [
        ("smtp_commands", 512, smtp_commands()),
        ("data_1000", 1000, data_lines()),
    ] {
        assert_eq!(framer(max_line, &stream), bare_memchr(&stream));
        let mut group = c.benchmark_group(format!("lines_{name}"));
        group.throughput(Throughput::Elements(count_lines(&stream)));
        group.measurement_time(Duration::from_secs(3));
        group.warm_up_time(Duration::from_secs(1));
        group.bench_function("framer_16k_reads", |b| {
            b.iter(|| framer(max_line, black_box(&stream)))
        });
        group.bench_function("bare_memchr", |b| {
            b.iter(|| bare_memchr(black_box(&stream)))
        });
        group.finish();
    }
}

criterion_group!(benches, lines);
criterion_main!(benches);
