//! Bulk transfer through [`Pipe`] against a bare rustls connection, in the same run.
//!
//! Both sides do the same work: the handshake happens once, outside the measured loop; each
//! iteration the client sends 1 MiB of application data in 16 KiB writes and, after every write,
//! the records go through memory to the server, which reads all the plaintext. Same crypto
//! provider (ring), same protocol version and cipher suite (checked before measuring).
//!
//! `cargo bench -p mailsec-tls --bench pipe`
//!
//! Wall-clock timings on a shared 2-core machine swing by ±20% from run to run, more than the
//! difference being measured. For a repeatable comparison, count instructions instead: with
//! `MAILSEC_BENCH_FIXED=pipe:N` (or `bare:N`) the binary skips criterion, sends N MiB through
//! that path and exits, so `valgrind --tool=callgrind` of N=20 minus N=0 is the cost of 20 MiB
//! (see `scripts/bench-pipe-instructions`).

use std::hint::black_box;
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group};
use mailsec_tls::config::{certificates_from_pem, private_key_from_pem};
use mailsec_tls::pki_types::ServerName;
use mailsec_tls::rustls::{self, ClientConnection, ServerConnection};
use mailsec_tls::testing::{TestPki, provider};
use mailsec_tls::{Pipe, TlsVersion};

const NAME: &str = "mail.example.test";
/// Bytes sent per iteration.
const TOTAL: usize = 1 << 20;
/// Bytes per application write (one TLS record's worth).
const WRITE: usize = 16 * 1024;

/// A client and a server [`Pipe`] with the handshake done and the post-handshake messages
/// (session tickets) delivered.
fn pipe_pair(pki: &TestPki) -> (Pipe, Pipe, String) {
    let (client_tls, server_tls) = pki.configs();
    let mut client = Pipe::implicit_tls(client_tls.connect(NAME).expect("client connection"));
    let mut server = Pipe::implicit_tls(server_tls.accept().expect("server connection"));
    while client.is_handshaking() || server.is_handshaking() || server.has_wire() {
        server
            .recv_wire(&client.take_wire())
            .expect("server handshake");
        client
            .recv_wire(&server.take_wire())
            .expect("client handshake");
    }
    assert!(!client.has_plaintext() && !server.has_plaintext() && !client.has_wire());
    let info = client.tls_info().expect("handshake done");
    assert_eq!(info.version, TlsVersion::Tls13);
    (client, server, info.cipher_suite)
}

/// What the Pipe does, written directly against rustls: connections, one reusable wire buffer
/// and one reusable plaintext buffer.
struct Bare {
    client: ClientConnection,
    server: ServerConnection,
    wire: Vec<u8>,
    plain: Vec<u8>,
}

impl Bare {
    fn new(pki: &TestPki) -> (Self, String) {
        let mut roots = rustls::RootCertStore::empty();
        for ca in certificates_from_pem(pki.ca_pem().as_bytes()).expect("CA PEM") {
            roots.add(ca).expect("CA certificate");
        }
        let client_config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("client versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let chain = certificates_from_pem(pki.leaf_chain_pem().as_bytes()).expect("chain PEM");
        let key = private_key_from_pem(pki.leaf_key_pem().as_bytes()).expect("key PEM");
        let server_config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("server versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server certificate");
        let name = ServerName::try_from(NAME).expect("server name");
        let mut bare = Bare {
            client: ClientConnection::new(Arc::new(client_config), name).expect("client"),
            server: ServerConnection::new(Arc::new(server_config)).expect("server"),
            wire: Vec::new(),
            plain: vec![0; WRITE],
        };
        while bare.client.is_handshaking()
            || bare.server.is_handshaking()
            || bare.server.wants_write()
        {
            bare.client_to_server();
            bare.server_to_client();
        }
        let suite = bare
            .client
            .negotiated_cipher_suite()
            .expect("suite")
            .suite();
        assert_eq!(
            bare.client.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
        (bare, suite.as_str().unwrap_or("?").to_owned())
    }

    /// Moves every pending record from the client to the server; returns the plaintext bytes the
    /// server read.
    fn client_to_server(&mut self) -> usize {
        self.wire.clear();
        while self.client.wants_write() {
            self.client
                .write_tls(&mut self.wire)
                .expect("client write_tls");
        }
        let mut rd = &self.wire[..];
        let mut got = 0;
        while !rd.is_empty() {
            self.server.read_tls(&mut rd).expect("server read_tls");
            self.server.process_new_packets().expect("server records");
            loop {
                match self.server.reader().read(&mut self.plain) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("server read: {e}"),
                }
            }
        }
        got
    }

    fn server_to_client(&mut self) {
        self.wire.clear();
        while self.server.wants_write() {
            self.server
                .write_tls(&mut self.wire)
                .expect("server write_tls");
        }
        let mut rd = &self.wire[..];
        while !rd.is_empty() {
            self.client.read_tls(&mut rd).expect("client read_tls");
            self.client.process_new_packets().expect("client records");
        }
    }

    fn send(&mut self, data: &[u8]) -> usize {
        let mut got = 0;
        for chunk in data.chunks(WRITE) {
            self.client.writer().write_all(chunk).expect("client write");
            got += self.client_to_server();
        }
        got
    }
}

fn send_through_pipes(client: &mut Pipe, server: &mut Pipe, data: &[u8]) -> usize {
    let mut got = 0;
    for chunk in data.chunks(WRITE) {
        client.send_plaintext(chunk).expect("client send");
        server
            .recv_wire(&client.take_wire())
            .expect("server receive");
        got += server.take_plaintext().len();
    }
    got
}

fn bulk(c: &mut Criterion) {
    let pki = TestPki::new(NAME);
    let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();

    let (mut client, mut server, pipe_suite) = pipe_pair(&pki);
    let (mut bare, bare_suite) = Bare::new(&pki);
    assert_eq!(
        pipe_suite, bare_suite,
        "both sides must negotiate the same cipher suite"
    );
    // Both deliver everything, intact.
    assert_eq!(bare.send(&data), TOTAL);
    client.send_plaintext(&data[..WRITE]).expect("send");
    server.recv_wire(&client.take_wire()).expect("receive");
    assert_eq!(server.take_plaintext(), &data[..WRITE]);

    let mut group = c.benchmark_group(format!("bulk_1MiB_tls13_{pipe_suite}"));
    group.throughput(Throughput::Bytes(TOTAL as u64));
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    group.sample_size(50);
    group.bench_function("pipe", |b| {
        b.iter(|| {
            black_box(send_through_pipes(
                &mut client,
                &mut server,
                black_box(&data),
            ))
        })
    });
    group.bench_function("bare_rustls", |b| {
        b.iter(|| black_box(bare.send(black_box(&data))))
    });
    group.finish();
}

criterion_group!(benches, bulk);

/// Sends `iterations` MiB through one path, outside criterion (for instruction counting).
fn fixed_run(spec: &str) {
    let (path, iterations) = spec
        .split_once(':')
        .expect("MAILSEC_BENCH_FIXED=pipe:N or bare:N");
    let iterations: usize = iterations.parse().expect("iteration count");
    let pki = TestPki::new(NAME);
    let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
    let mut received = 0;
    match path {
        "pipe" => {
            let (mut client, mut server, _) = pipe_pair(&pki);
            for _ in 0..iterations {
                received += send_through_pipes(&mut client, &mut server, black_box(&data));
            }
        }
        "bare" => {
            let (mut bare, _) = Bare::new(&pki);
            for _ in 0..iterations {
                received += bare.send(black_box(&data));
            }
        }
        other => panic!("unknown path {other:?}: use pipe or bare"),
    }
    assert_eq!(received, iterations * TOTAL);
}

fn main() {
    if let Ok(spec) = std::env::var("MAILSEC_BENCH_FIXED") {
        fixed_run(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
