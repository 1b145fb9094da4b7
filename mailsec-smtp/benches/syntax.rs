//! Throughput of the syntax layer, each beside a memchr CRLF scan of the same bytes:
//! server-side command parsing (framer + parser) and DATA receiving (DataDecoder), plus
//! memcpy for scale.
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailsec_smtp::data::DataDecoder;
use mailsec_smtp::parse::{ParseOptions, parse_command};
use mailsec_smtp::types::MAX_AUTH_LINE;
use mailsec_tls::framer::LineFramer;

fn commands(total: usize) -> Vec<u8> {
    let script: &[&[u8]] = &[
        b"EHLO client.example.org\r\n",
        b"MAIL FROM:<sender.name@example.org> SIZE=123456 BODY=8BITMIME\r\n",
        b"RCPT TO:<first.recipient@example.net> NOTIFY=SUCCESS,FAILURE\r\n",
        b"RCPT TO:<second@example.net>\r\n",
        b"NOOP\r\n",
        b"RSET\r\n",
    ];
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        for l in script {
            out.extend_from_slice(l);
        }
    }
    out
}

fn message(total: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(total + 5);
    let mut n = 0u32;
    while out.len() < total {
        n = n.wrapping_mul(1_103_515_245).wrapping_add(12345);
        if n % 17 == 0 {
            out.extend_from_slice(b"..a line that starts with a stuffed dot\r\n");
        } else {
            out.extend_from_slice(
                b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod\r\n",
            );
        }
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn crlf_scan(b: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', b).count()
}

fn bench(c: &mut Criterion) {
    let cmds = commands(4 << 20);
    let mut g = c.benchmark_group("commands");
    g.throughput(Throughput::Bytes(cmds.len() as u64));
    g.bench_function("memchr_crlf_scan", |b| {
        b.iter(|| crlf_scan(black_box(&cmds)))
    });
    g.bench_function("framer_only", |b| {
        b.iter(|| {
            let mut framer = LineFramer::new(MAX_AUTH_LINE).with_max_buffered(usize::MAX);
            let mut n = 0;
            for chunk in cmds.chunks(64 * 1024) {
                framer.push(chunk).unwrap();
                while let Some(line) = framer.next_line() {
                    n += line.unwrap().len();
                }
            }
            n
        })
    });
    g.bench_function("framer_and_parse", |b| {
        b.iter(|| {
            let mut framer = LineFramer::new(MAX_AUTH_LINE).with_max_buffered(usize::MAX);
            let mut n = 0;
            for chunk in cmds.chunks(64 * 1024) {
                framer.push(chunk).unwrap();
                while let Some(line) = framer.next_line() {
                    let cmd = parse_command(&line.unwrap(), ParseOptions::new()).unwrap();
                    n += black_box(cmd).verb().len();
                }
            }
            n
        })
    });
    g.finish();

    let msg = Bytes::from(message(16 << 20));
    let chunks: Vec<Bytes> = (0..msg.len())
        .step_by(64 * 1024)
        .map(|s| msg.slice(s..(s + 64 * 1024).min(msg.len())))
        .collect();
    let mut g = c.benchmark_group("data");
    g.throughput(Throughput::Bytes(msg.len() as u64));
    g.bench_function("memchr_crlf_scan", |b| {
        b.iter(|| crlf_scan(black_box(&msg)))
    });
    g.bench_function("memcpy", |b| {
        let mut dst = vec![0u8; msg.len()];
        b.iter(|| {
            dst.copy_from_slice(black_box(&msg));
            dst[0]
        })
    });
    g.bench_function("data_decoder_slices", |b| {
        b.iter(|| {
            let mut dec = DataDecoder::new(u64::MAX);
            let mut n = 0usize;
            for chunk in &chunks {
                let fed = dec.feed(chunk, |body| n += body.len());
                if fed.ended {
                    break;
                }
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
