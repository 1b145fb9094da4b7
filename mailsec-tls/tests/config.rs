//! TLS configuration tests: certificate failures as typed errors, RFC 7817 / RFC 6125 name
//! rules, reload without restart and SNI, ALPN (the ALPACA defence), protocol versions and PEM
//! errors. Real rustls on both sides, in memory.

use std::path::PathBuf;
use std::sync::Arc;

use mailsec_tls::config::certificates_from_pem;
use mailsec_tls::pki_types::CertificateDer;
use mailsec_tls::rustls;
use mailsec_tls::testing::{PemPair, TestPki, Validity, handshake, provider};
use mailsec_tls::{
    CertStore, CertificateProblem, ClientTlsConfig, Pipe, ServerTlsConfig, TlsError, TlsInfo,
    TlsVersion,
};

const NAME: &str = "mail.example.test";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

struct Outcome {
    client: Pipe,
    server: Pipe,
    client_result: Result<(), TlsError>,
    server_result: Result<(), TlsError>,
}

fn connect(client_tls: &ClientTlsConfig, server_tls: &ServerTlsConfig, name: &str) -> Outcome {
    let mut client = Pipe::implicit_tls(client_tls.connect(name).expect("connect"));
    let mut server = Pipe::implicit_tls(server_tls.accept().expect("accept"));
    let (client_result, server_result) = handshake(&mut client, &mut server);
    Outcome {
        client,
        server,
        client_result,
        server_result,
    }
}

/// A handshake that must succeed; returns the client's and the server's session facts.
fn established(
    client_tls: &ClientTlsConfig,
    server_tls: &ServerTlsConfig,
    name: &str,
) -> (TlsInfo, TlsInfo, Pipe, Pipe) {
    let mut o = connect(client_tls, server_tls, name);
    if let Err(e) = &o.client_result {
        panic!("client handshake for {name:?}: {e:?}");
    }
    if let Err(e) = &o.server_result {
        panic!("server handshake for {name:?}: {e:?}");
    }
    let ci = o.client.take_established().expect("client established");
    let si = o.server.take_established().expect("server established");
    (ci, si, o.client, o.server)
}

/// Asserts that the handshake fails on the client with exactly `problem`, that the client is
/// not secure, and returns the server's error (it received the client's alert).
fn refused(
    client_tls: &ClientTlsConfig,
    server_tls: &ServerTlsConfig,
    name: &str,
    problem: CertificateProblem,
) -> TlsError {
    let mut o = connect(client_tls, server_tls, name);
    match o.client_result {
        Err(TlsError::Certificate(ref p)) if *p == problem => {}
        ref other => panic!("{name:?}: expected Certificate({problem:?}), got {other:?}"),
    }
    assert!(
        !o.client.is_secure(),
        "a refused certificate is never secure"
    );
    assert!(o.client.take_established().is_none());
    assert!(o.client.tls_info().is_none());
    assert!(o.client.send_plaintext(b"PASS secret\r\n").is_err() || !o.client.has_wire());
    assert!(!o.server.is_secure());
    o.server_result
        .expect_err("the server learns of the refusal")
}

fn der(pem: &str) -> CertificateDer<'static> {
    certificates_from_pem(pem.as_bytes()).unwrap().remove(0)
}

fn peer_leaf(info: &TlsInfo) -> &CertificateDer<'static> {
    info.peer_certificates.first().expect("a peer certificate")
}

/// A unique path in the temporary directory (removed by the caller).
fn temp_path(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "mailsec-tls-test-{}-{}-{tag}.pem",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

fn client_with_alpn(pki: &TestPki, alpn: &[&str]) -> ClientTlsConfig {
    ClientTlsConfig::builder()
        .add_ca_pem(pki.ca_pem().as_bytes())
        .unwrap()
        .provider(provider())
        .alpn(alpn.iter().map(|p| p.as_bytes()))
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// 4. Certificate failures, each a typed error on the client and an alert on the server
// ---------------------------------------------------------------------------------------------

#[test]
fn self_signed_certificate_is_unknown_issuer() {
    let pki = TestPki::new(NAME);
    let server = TestPki::server_config_with(&TestPki::self_signed(NAME));
    let err = refused(
        &pki.client_config(),
        &server,
        NAME,
        CertificateProblem::UnknownIssuer,
    );
    assert!(
        matches!(&err, TlsError::PeerAlert(a) if a == "UnknownCA"),
        "{err:?}"
    );
}

#[test]
fn certificate_from_another_ca_is_unknown_issuer() {
    let trusted = TestPki::new(NAME);
    let other = TestPki::new(NAME);
    let err = refused(
        &trusted.client_config(),
        &other.server_config(),
        NAME,
        CertificateProblem::UnknownIssuer,
    );
    assert!(
        matches!(&err, TlsError::PeerAlert(a) if a == "UnknownCA"),
        "{err:?}"
    );
}

#[test]
fn wrong_name_is_name_mismatch_with_the_asked_name() {
    let pki = TestPki::new(NAME);
    let (client, server) = pki.configs();
    let asked = "imap.example.test";
    let err = refused(
        &client,
        &server,
        asked,
        CertificateProblem::NameMismatch {
            expected: asked.to_owned(),
        },
    );
    assert!(
        matches!(&err, TlsError::PeerAlert(a) if a == "BadCertificate"),
        "{err:?}"
    );
    // The Display names the host, for the user.
    let shown = TlsError::Certificate(CertificateProblem::NameMismatch {
        expected: asked.into(),
    });
    assert!(shown.to_string().contains(asked));
}

#[test]
fn expired_certificate_is_expired() {
    let pki = TestPki::new(NAME);
    let server = TestPki::server_config_with(&pki.issue(&[NAME], Validity::Expired));
    let err = refused(
        &pki.client_config(),
        &server,
        NAME,
        CertificateProblem::Expired,
    );
    assert!(
        matches!(&err, TlsError::PeerAlert(a) if a == "CertificateExpired"),
        "{err:?}"
    );
}

#[test]
fn not_yet_valid_certificate_is_not_yet_valid() {
    let pki = TestPki::new(NAME);
    let server = TestPki::server_config_with(&pki.issue(&[NAME], Validity::NotYetValid));
    let err = refused(
        &pki.client_config(),
        &server,
        NAME,
        CertificateProblem::NotYetValid,
    );
    assert!(
        matches!(&err, TlsError::PeerAlert(a) if a == "CertificateExpired"),
        "{err:?}"
    );
}

#[test]
fn a_failed_client_sends_nothing_but_alerts() {
    let pki = TestPki::new(NAME);
    let server_tls = TestPki::server_config_with(&TestPki::self_signed(NAME));
    let mut client = Pipe::implicit_tls(pki.client_config().connect(NAME).unwrap());
    let mut server = Pipe::implicit_tls(server_tls.accept().unwrap());
    // Data queued before the handshake must never leave after a failed verification.
    client.send_plaintext(b"a1 LOGIN user secret\r\n").unwrap();
    server.recv_wire(&client.take_wire()).unwrap();
    let err = client.recv_wire(&server.take_wire()).unwrap_err();
    assert!(
        matches!(
            err,
            TlsError::Certificate(CertificateProblem::UnknownIssuer)
        ),
        "{err:?}"
    );
    let after = client.take_wire();
    assert!(!after.is_empty(), "an alert tells the server why");
    let _ = client.send_plaintext(b"more secret\r\n");
    let more = client.take_wire();
    let err = server.recv_wire(&after).unwrap_err();
    assert!(
        matches!(&err, TlsError::PeerAlert(a) if a == "UnknownCA"),
        "{err:?}"
    );
    assert!(
        !server.has_plaintext(),
        "the server never sees the credential"
    );
    assert!(
        more.is_empty(),
        "nothing is sent after a failed handshake: {more:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. RFC 7817 / RFC 6125 name rules
// ---------------------------------------------------------------------------------------------

#[test]
fn wildcard_matches_exactly_one_left_most_label() {
    let pki = TestPki::new(NAME);
    let server = TestPki::server_config_with(&pki.issue(&["*.example.test"], Validity::Current));
    let client = pki.client_config();
    let (ci, _, _, _) = established(&client, &server, "mail.example.test");
    assert_eq!(ci.server_name.as_deref(), Some("mail.example.test"));
    established(&client, &server, "imap.example.test");
    for name in [
        "example.test",
        "a.b.example.test",
        "mail.example.test.other",
    ] {
        refused(
            &client,
            &server,
            name,
            CertificateProblem::NameMismatch {
                expected: name.to_owned(),
            },
        );
    }
}

#[test]
fn partial_label_wildcard_is_not_honoured() {
    let pki = TestPki::new(NAME);
    let server = TestPki::server_config_with(&pki.issue(&["m*.example.test"], Validity::Current));
    let name = "mail.example.test";
    let o = connect(&pki.client_config(), &server, name);
    assert!(
        matches!(o.client_result, Err(TlsError::Certificate(_))),
        "a wildcard inside a label must not match: {:?}",
        o.client_result
    );
}

#[test]
fn ip_address_names() {
    let pki = TestPki::new("127.0.0.1");
    let (client, server) = pki.configs();
    let (ci, si, _, _) = established(&client, &server, "127.0.0.1");
    assert_eq!(ci.server_name.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        si.server_name, None,
        "no SNI for an IP address (RFC 6066 §3)"
    );
    refused(
        &client,
        &server,
        "127.0.0.2",
        CertificateProblem::NameMismatch {
            expected: "127.0.0.2".into(),
        },
    );
    // A DNS-name certificate does not cover an IP address, nor the reverse.
    let dns = TestPki::server_config_with(&pki.issue(&["localhost"], Validity::Current));
    refused(
        &client,
        &dns,
        "127.0.0.1",
        CertificateProblem::NameMismatch {
            expected: "127.0.0.1".into(),
        },
    );
    refused(
        &client,
        &server,
        "localhost",
        CertificateProblem::NameMismatch {
            expected: "localhost".into(),
        },
    );

    let v6 = TestPki::new("::1");
    let (client, server) = v6.configs();
    established(&client, &server, "::1");
}

#[test]
fn names_compare_case_insensitively() {
    let pki = TestPki::new(NAME);
    let (client, server) = pki.configs();
    let (ci, _, _, _) = established(&client, &server, "MAIL.Example.TEST");
    assert_eq!(
        ci.server_name.as_deref(),
        Some("MAIL.Example.TEST"),
        "the name as asked"
    );
    let upper = TestPki::server_config_with(&pki.issue(&["MAIL.EXAMPLE.TEST"], Validity::Current));
    established(&client, &upper, NAME);
    let wild = TestPki::server_config_with(&pki.issue(&["*.EXAMPLE.test"], Validity::Current));
    established(&client, &wild, "Mail.example.TEST");
}

#[test]
fn invalid_server_names_are_refused_before_any_byte() {
    let pki = TestPki::new(NAME);
    let client = pki.client_config();
    for bad in [
        "not a name!",
        "",
        "mail..example.test",
        "[::1]",
        "mail.example.test/x",
    ] {
        match client.connect(bad) {
            Err(TlsError::InvalidServerName(n)) => assert_eq!(n, bad),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Reload without restart, SNI
// ---------------------------------------------------------------------------------------------

#[test]
fn reload_serves_the_new_certificate_to_new_connections_only() {
    let pki = TestPki::new(NAME);
    let a = pki.leaf().clone();
    let b = pki.issue(&[NAME], Validity::Current);
    assert_ne!(der(&a.chain), der(&b.chain));
    let store = CertStore::new(provider());
    store
        .set_default_pem(a.chain.as_bytes(), a.key.as_bytes())
        .unwrap();
    let server = ServerTlsConfig::builder(store.clone())
        .provider(provider())
        .build()
        .unwrap();

    let (ci1, _, mut c1, mut s1) = established(&pki.client_config(), &server, NAME);
    assert_eq!(peer_leaf(&ci1), &der(&a.chain));

    store
        .set_default_pem(b.chain.as_bytes(), b.key.as_bytes())
        .unwrap();
    assert_eq!(store.end_entity_for(None), Some(der(&b.chain)));
    let (ci2, _, _, _) = established(&pki.client_config(), &server, NAME);
    assert_eq!(
        peer_leaf(&ci2),
        &der(&b.chain),
        "same ServerTlsConfig, new certificate"
    );

    // The first connection is unaffected: data flows both ways and its facts are unchanged.
    c1.send_plaintext(b"NOOP\r\n").unwrap();
    s1.recv_wire(&c1.take_wire()).unwrap();
    assert_eq!(&s1.take_plaintext()[..], b"NOOP\r\n");
    s1.send_plaintext(b"250 OK\r\n").unwrap();
    c1.recv_wire(&s1.take_wire()).unwrap();
    assert_eq!(&c1.take_plaintext()[..], b"250 OK\r\n");
    assert_eq!(peer_leaf(&c1.tls_info().unwrap()), &der(&a.chain));

    // A broken renewal is refused and leaves the working certificate in place.
    let err = store
        .set_default_pem(b"-----BEGIN CERTIFICATE-----\n", b.key.as_bytes())
        .unwrap_err();
    assert!(matches!(err, TlsError::Pem { .. }), "{err:?}");
    let (ci3, _, _, _) = established(&pki.client_config(), &server, NAME);
    assert_eq!(peer_leaf(&ci3), &der(&b.chain));
}

#[test]
fn reload_from_files() {
    let pki = TestPki::new(NAME);
    let a = pki.leaf().clone();
    let b = pki.issue(&[NAME], Validity::Current);
    let (chain, key) = (temp_path("chain"), temp_path("key"));
    std::fs::write(&chain, &a.chain).unwrap();
    std::fs::write(&key, &a.key).unwrap();
    let store = CertStore::new(provider());
    store.set_default_files(&chain, &key).unwrap();
    let server = ServerTlsConfig::builder(store.clone())
        .provider(provider())
        .build()
        .unwrap();
    let (ci, _, _, _) = established(&pki.client_config(), &server, NAME);
    assert_eq!(peer_leaf(&ci), &der(&a.chain));

    // Renewal written in place, then reloaded.
    std::fs::write(&chain, &b.chain).unwrap();
    std::fs::write(&key, &b.key).unwrap();
    store.set_default_files(&chain, &key).unwrap();
    let (ci, _, _, _) = established(&pki.client_config(), &server, NAME);
    assert_eq!(peer_leaf(&ci), &der(&b.chain));

    // SNI entries from files too.
    let imap = pki.issue(&["imap.example.test"], Validity::Current);
    std::fs::write(&chain, &imap.chain).unwrap();
    std::fs::write(&key, &imap.key).unwrap();
    store
        .insert_files("imap.example.test", &chain, &key)
        .unwrap();
    let (ci, _, _, _) = established(&pki.client_config(), &server, "imap.example.test");
    assert_eq!(peer_leaf(&ci), &der(&imap.chain));

    std::fs::remove_file(&chain).unwrap();
    std::fs::remove_file(&key).unwrap();
}

#[test]
fn sni_chooses_the_certificate() {
    let pki = TestPki::new(NAME);
    let default = pki.issue(
        &["smtp.example.test", "a.b.pop.example.test"],
        Validity::Current,
    );
    let imap = pki.issue(&["imap.example.test"], Validity::Current);
    let pop = pki.issue(&["*.pop.example.test"], Validity::Current);
    let store = TestPki::store_with(&default);
    store
        .insert_pem(
            "imap.example.test",
            imap.chain.as_bytes(),
            imap.key.as_bytes(),
        )
        .unwrap();
    store
        .insert_pem(
            "*.pop.example.test",
            pop.chain.as_bytes(),
            pop.key.as_bytes(),
        )
        .unwrap();
    let server = ServerTlsConfig::builder(store.clone())
        .provider(provider())
        .build()
        .unwrap();

    let cases: [(&str, &PemPair); 6] = [
        ("imap.example.test", &imap),
        ("IMAP.Example.Test", &imap),
        ("mx.pop.example.test", &pop),
        ("MX.POP.example.test", &pop),
        ("smtp.example.test", &default),
        // The wildcard covers one label only: two labels fall back to the default.
        ("a.b.pop.example.test", &default),
    ];
    for (sni, want) in cases {
        let (ci, si, _, _) = established(&pki.client_config(), &server, sni);
        assert_eq!(peer_leaf(&ci), &der(&want.chain), "SNI {sni}");
        assert_eq!(
            si.server_name.map(|s| s.to_ascii_lowercase()),
            Some(sni.to_ascii_lowercase()),
            "server sees the SNI"
        );
        assert_eq!(
            store.end_entity_for(Some(sni)),
            Some(der(&want.chain)),
            "end_entity_for {sni}"
        );
    }
    assert_eq!(store.end_entity_for(None), Some(der(&default.chain)));
    assert_eq!(
        store.end_entity_for(Some("pop.example.test")),
        Some(der(&default.chain))
    );
    assert_eq!(
        store.end_entity_for(Some("other.test")),
        Some(der(&default.chain))
    );

    // Replacing and removing an SNI entry.
    let imap2 = pki.issue(&["imap.example.test"], Validity::Current);
    store
        .insert_pem(
            "IMAP.example.test",
            imap2.chain.as_bytes(),
            imap2.key.as_bytes(),
        )
        .unwrap();
    let (ci, _, _, _) = established(&pki.client_config(), &server, "imap.example.test");
    assert_eq!(peer_leaf(&ci), &der(&imap2.chain));
    assert!(store.remove("imap.example.test"));
    assert!(!store.remove("imap.example.test"));
    assert_eq!(
        store.end_entity_for(Some("imap.example.test")),
        Some(der(&default.chain))
    );
    // The default does not name imap.example.test, so the client now refuses it.
    refused(
        &pki.client_config(),
        &server,
        "imap.example.test",
        CertificateProblem::NameMismatch {
            expected: "imap.example.test".into(),
        },
    );
}

#[test]
fn empty_store_fails_the_handshake_typed() {
    let pki = TestPki::new(NAME);
    let store = CertStore::new(provider());
    assert_eq!(store.end_entity_for(None), None);
    let server = ServerTlsConfig::builder(store)
        .provider(provider())
        .build()
        .unwrap();
    let o = connect(&pki.client_config(), &server, NAME);
    assert!(
        matches!(o.server_result, Err(TlsError::Protocol(_))),
        "{:?}",
        o.server_result
    );
    assert!(
        matches!(&o.client_result, Err(TlsError::PeerAlert(a)) if a == "AccessDenied"),
        "{:?}",
        o.client_result
    );
    assert!(!o.client.is_secure());
}

// ---------------------------------------------------------------------------------------------
// 7. ALPN and ALPACA
// ---------------------------------------------------------------------------------------------

fn imap_server(pki: &TestPki) -> ServerTlsConfig {
    ServerTlsConfig::builder(TestPki::store_with(pki.leaf()))
        .provider(provider())
        .alpn(["imap"])
        .build()
        .unwrap()
}

#[test]
fn alpn_mismatch_fails_the_handshake() {
    let pki = TestPki::new(NAME);
    let server = imap_server(&pki);
    let o = connect(&client_with_alpn(&pki, &["http/1.1"]), &server, NAME);
    assert!(
        matches!(o.server_result, Err(TlsError::NoApplicationProtocol)),
        "{:?}",
        o.server_result
    );
    assert!(
        matches!(o.client_result, Err(TlsError::NoApplicationProtocol)),
        "{:?}",
        o.client_result
    );
    assert!(!o.client.is_secure() && !o.server.is_secure());
    assert!(!o.server.has_plaintext());
}

#[test]
fn alpn_absent_or_matching_succeeds() {
    let pki = TestPki::new(NAME);
    let server = imap_server(&pki);
    let (ci, si, _, _) = established(&pki.client_config(), &server, NAME);
    assert_eq!(
        (ci.alpn, si.alpn),
        (None, None),
        "a client without ALPN is still served"
    );
    let (ci, si, _, _) = established(&client_with_alpn(&pki, &["imap"]), &server, NAME);
    assert_eq!(ci.alpn.as_deref(), Some(&b"imap"[..]));
    assert_eq!(si.alpn.as_deref(), Some(&b"imap"[..]));
    let (ci, _, _, _) = established(
        &client_with_alpn(&pki, &["http/1.1", "imap"]),
        &server,
        NAME,
    );
    assert_eq!(ci.alpn.as_deref(), Some(&b"imap"[..]));
}

#[test]
fn client_alpn_with_server_without_alpn() {
    // A server that configures no ALPN ignores the client's offer: nothing is agreed.
    let pki = TestPki::new(NAME);
    let (ci, si, _, _) = established(
        &client_with_alpn(&pki, &["imap"]),
        &pki.server_config(),
        NAME,
    );
    assert_eq!((ci.alpn, si.alpn), (None, None));
}

// ---------------------------------------------------------------------------------------------
// 8. TLS versions
// ---------------------------------------------------------------------------------------------

fn roots(pki: &TestPki) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for ca in certificates_from_pem(pki.ca_pem().as_bytes()).unwrap() {
        roots.add(ca).unwrap();
    }
    roots
}

fn client_with_versions(
    pki: &TestPki,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> ClientTlsConfig {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots(pki))
        .with_no_client_auth();
    ClientTlsConfig::from_rustls(Arc::new(config))
}

#[test]
fn tls12_client_negotiates_tls12() {
    let pki = TestPki::new(NAME);
    let client = client_with_versions(&pki, &[&rustls::version::TLS12]);
    let (ci, si, mut c, mut s) = established(&client, &pki.server_config(), NAME);
    assert_eq!(ci.version, TlsVersion::Tls12);
    assert_eq!(si.version, TlsVersion::Tls12);
    assert!(
        ci.cipher_suite.starts_with("TLS_ECDHE_"),
        "{}",
        ci.cipher_suite
    );
    assert_eq!(ci.server_name.as_deref(), Some(NAME));
    assert_eq!(si.server_name.as_deref(), Some(NAME));
    c.send_plaintext(b"NOOP\r\n").unwrap();
    s.recv_wire(&c.take_wire()).unwrap();
    assert_eq!(&s.take_plaintext()[..], b"NOOP\r\n");
    c.close();
    s.recv_wire(&c.take_wire()).unwrap();
    assert!(s.peer_closed());
}

#[test]
fn tls13_by_default_and_tls12_server() {
    let pki = TestPki::new(NAME);
    let (ci, _, _, _) = established(&pki.client_config(), &pki.server_config(), NAME);
    assert_eq!(ci.version, TlsVersion::Tls13);
    let (ci, _, _, _) = established(
        &client_with_versions(&pki, &[&rustls::version::TLS13]),
        &pki.server_config(),
        NAME,
    );
    assert_eq!(ci.version, TlsVersion::Tls13);

    // A server that speaks only TLS 1.2, with a mailsec client.
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(TestPki::store_with(pki.leaf()));
    let server = ServerTlsConfig::from_rustls(Arc::new(server));
    let (ci, si, _, _) = established(&pki.client_config(), &server, NAME);
    assert_eq!(
        (ci.version, si.version),
        (TlsVersion::Tls12, TlsVersion::Tls12)
    );
}

/// The `supported_versions` extension of a ClientHello record, as a list of versions.
fn offered_versions(hello: &[u8]) -> Vec<u16> {
    let u16_at = |i: usize| u16::from_be_bytes([hello[i], hello[i + 1]]);
    assert_eq!(hello[0], 0x16, "handshake record");
    assert_eq!(hello[5], 0x01, "ClientHello");
    let mut i = 5 + 4 + 2 + 32; // record header, handshake header, legacy version, random
    i += 1 + usize::from(hello[i]); // session id
    i += 2 + usize::from(u16_at(i)); // cipher suites
    i += 1 + usize::from(hello[i]); // compression methods
    let end = i + 2 + usize::from(u16_at(i));
    i += 2;
    while i < end {
        let (kind, len) = (u16_at(i), usize::from(u16_at(i + 2)));
        if kind == 0x002b {
            let list = &hello[i + 5..i + 5 + usize::from(hello[i + 4])];
            return list
                .chunks(2)
                .map(|v| u16::from_be_bytes([v[0], v[1]]))
                .collect();
        }
        i += 4 + len;
    }
    panic!("no supported_versions extension");
}

#[test]
fn client_offers_only_tls13_and_tls12() {
    let pki = TestPki::new(NAME);
    let mut client = Pipe::implicit_tls(pki.client_config().connect(NAME).unwrap());
    let mut versions = offered_versions(&client.take_wire());
    versions.retain(|v| v & 0x0f0f != 0x0a0a); // GREASE values, should a provider add them
    versions.sort_unstable();
    assert_eq!(versions, vec![0x0303, 0x0304]);
}

// ---------------------------------------------------------------------------------------------
// 10. PEM and configuration errors
// ---------------------------------------------------------------------------------------------

fn assert_pem(err: TlsError, what_contains: &str) {
    match err {
        TlsError::Pem { ref what, .. } if what.contains(what_contains) => {}
        other => panic!("expected Pem about {what_contains:?}, got {other:?}"),
    }
}

#[test]
fn pem_errors_are_typed() {
    let pki = TestPki::new(NAME);
    let leaf = pki.leaf();
    let store = CertStore::new(provider());
    let broken_block = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    for bad in [
        &b"garbage"[..],
        b"",
        broken_block.as_bytes(),
        leaf.key.as_bytes(),
    ] {
        let err = store.set_default_pem(bad, leaf.key.as_bytes()).unwrap_err();
        assert_pem(err, "certificate");
    }
    for bad in [&b"garbage"[..], b"", leaf.chain.as_bytes()] {
        let err = store
            .set_default_pem(leaf.chain.as_bytes(), bad)
            .unwrap_err();
        assert_pem(err, "private key");
    }
    let err = store
        .insert_pem("imap.example.test", b"", leaf.key.as_bytes())
        .unwrap_err();
    assert_pem(err, "certificate");
    assert_eq!(
        store.end_entity_for(Some("imap.example.test")),
        None,
        "nothing half-stored"
    );
    assert_eq!(store.end_entity_for(None), None);
}

#[test]
fn key_of_another_certificate_is_a_config_error() {
    let pki = TestPki::new(NAME);
    let other = pki.issue(&[NAME], Validity::Current);
    let store = CertStore::new(provider());
    let err = store
        .set_default_pem(pki.leaf_chain_pem().as_bytes(), other.key.as_bytes())
        .unwrap_err();
    assert!(
        matches!(err, TlsError::Config(rustls::Error::InconsistentKeys(_))),
        "{err:?}"
    );
    let err = store
        .insert_pem(
            "imap.example.test",
            pki.leaf_chain_pem().as_bytes(),
            other.key.as_bytes(),
        )
        .unwrap_err();
    assert!(matches!(err, TlsError::Config(_)), "{err:?}");
    assert_eq!(store.end_entity_for(None), None);
}

#[test]
fn missing_files_name_the_path() {
    let missing = temp_path("does-not-exist");
    let path = missing.display().to_string();
    let pki = TestPki::new(NAME);
    let store = CertStore::new(provider());
    let key = temp_path("key");
    std::fs::write(&key, pki.leaf_key_pem()).unwrap();

    let err = store.set_default_files(&missing, &key).unwrap_err();
    assert_pem(err, &path);
    let chain = temp_path("chain");
    std::fs::write(&chain, pki.leaf_chain_pem()).unwrap();
    let err = store.set_default_files(&chain, &missing).unwrap_err();
    assert_pem(err, &path);
    let err = store
        .insert_files("imap.example.test", &missing, &key)
        .unwrap_err();
    assert_pem(err, &path);
    let err = ClientTlsConfig::builder()
        .add_ca_file(&missing)
        .unwrap_err();
    assert_pem(err, &path);
    let err = store.set_default_files(&missing, &key).unwrap_err();
    assert!(
        err.to_string().contains(&path),
        "Display names the path: {err}"
    );

    // The same files, present, work.
    store.set_default_files(&chain, &key).unwrap();
    let ca = temp_path("ca");
    std::fs::write(&ca, pki.ca_pem()).unwrap();
    ClientTlsConfig::builder()
        .add_ca_file(&ca)
        .unwrap()
        .provider(provider())
        .build()
        .unwrap();
    for p in [chain, key, ca] {
        std::fs::remove_file(p).unwrap();
    }
}

#[test]
fn client_without_roots_is_refused() {
    let err = ClientTlsConfig::builder()
        .provider(provider())
        .build()
        .unwrap_err();
    assert_pem(err, "trusted roots");
    let err = ClientTlsConfig::builder()
        .add_ca_pem(b"garbage")
        .unwrap_err();
    assert_pem(err, "certificate");
    let err = ClientTlsConfig::builder().add_ca_pem(b"").unwrap_err();
    assert_pem(err, "certificate");
}

#[test]
fn client_with_webpki_roots_rejects_the_test_ca() {
    let pki = TestPki::new(NAME);
    let client = ClientTlsConfig::builder()
        .webpki_roots()
        .provider(provider())
        .build()
        .unwrap();
    refused(
        &client,
        &pki.server_config(),
        NAME,
        CertificateProblem::UnknownIssuer,
    );
}

#[test]
fn resumed_session_reports_the_original_certificate() {
    // Observed behaviour worth knowing: a client configuration keeps a session cache and the
    // server keeps resumable sessions. After a reload, a client that reuses its configuration
    // resumes the old session (no certificate is sent) and is told the certificate that session
    // was verified with; only full handshakes see the new certificate. (The other reload tests
    // use a new client configuration per handshake for this reason.)
    let pki = TestPki::new(NAME);
    let a = pki.leaf().clone();
    let b = pki.issue(&[NAME], Validity::Current);
    let store = TestPki::store_with(&a);
    let server = ServerTlsConfig::builder(store.clone())
        .provider(provider())
        .build()
        .unwrap();
    let client = pki.client_config();
    let (ci, _, _, _) = established(&client, &server, NAME);
    assert_eq!(peer_leaf(&ci), &der(&a.chain));
    store
        .set_default_pem(b.chain.as_bytes(), b.key.as_bytes())
        .unwrap();
    let (ci, _, _, _) = established(&client, &server, NAME);
    assert_eq!(
        peer_leaf(&ci),
        &der(&a.chain),
        "resumed: the original session's certificate"
    );
    let (ci, _, _, _) = established(&pki.client_config(), &server, NAME);
    assert_eq!(
        peer_leaf(&ci),
        &der(&b.chain),
        "full handshake: the new certificate"
    );
}

/// A CA certificate (PEM) and its issuer, with the given common name.
fn rcgen_ca(common_name: &str) -> (String, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let key = rcgen::KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    (pem, rcgen::Issuer::new(params, key))
}

#[test]
fn impostor_ca_with_the_trusted_name_is_refused() {
    // A CA that copies the trusted CA's name: the chain matches by name, but the signature does
    // not verify. Refused as a bad signature.
    let (trusted_pem, _trusted) = rcgen_ca("Example Mail CA");
    let (_, impostor) = rcgen_ca("Example Mail CA");
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec![NAME.to_owned()])
        .unwrap()
        .signed_by(&key, &impostor)
        .unwrap();
    let server = TestPki::server_config_with(&PemPair {
        chain: leaf.pem(),
        key: key.serialize_pem(),
    });
    let client = ClientTlsConfig::builder()
        .add_ca_pem(trusted_pem.as_bytes())
        .unwrap()
        .provider(provider())
        .build()
        .unwrap();
    let err = refused(&client, &server, NAME, CertificateProblem::BadSignature);
    assert!(
        matches!(&err, TlsError::PeerAlert(a) if a == "DecryptError"),
        "{err:?}"
    );
}
