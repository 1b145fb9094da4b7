//! Certificates generated at test time (rcgen): a CA, leaves for any names, and the broken
//! certificates every TLS client must refuse.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use rustls::crypto::CryptoProvider;

use crate::{CertStore, ClientTlsConfig, ServerTlsConfig, TlsSetup};

/// The ring provider that tests and examples use (it builds on any machine with a C compiler).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A PEM certificate chain and its PEM private key.
#[derive(Clone, Debug)]
pub struct PemPair {
    /// The chain, end-entity first.
    pub chain: String,
    /// The private key (PKCS#8).
    pub key: String,
}

/// How a generated leaf certificate should be (in)valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// Valid from 1975 to 4096.
    Current,
    /// Valid only during the year 2000.
    Expired,
    /// Valid only from the year 4000 on.
    NotYetValid,
}

/// A test CA and a leaf certificate it issued for one host name.
pub struct TestPki {
    name: String,
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
    leaf: PemPair,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").field("name", &self.name).finish()
    }
}

/// Test-only code: a failure to generate a certificate is a broken test environment.
fn must<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("test PKI: {what}: {err}"),
    }
}

impl TestPki {
    /// A fresh CA and a currently valid leaf for `name` (a DNS name or IP address).
    pub fn new(name: &str) -> Self {
        let mut params = must(CertificateParams::new(Vec::<String>::new()), "CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Each CA gets its own name: with one name for all, a foreign CA's leaf looks issued by
        // the trusted CA and the client reports a bad signature instead of an unknown issuer.
        static NEXT_CA: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let serial = NEXT_CA.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ca_name = format!("mailsec test CA {}-{serial}", std::process::id());
        params.distinguished_name.push(DnType::CommonName, ca_name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = must(KeyPair::generate(), "CA key");
        let ca_pem = must(params.self_signed(&key), "CA certificate").pem();
        let issuer = Issuer::new(params, key);
        let mut pki = TestPki {
            name: name.to_owned(),
            ca_pem,
            issuer,
            leaf: PemPair {
                chain: String::new(),
                key: String::new(),
            },
        };
        pki.leaf = pki.issue(&[name], Validity::Current);
        pki
    }

    /// The host name of the default leaf.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The default leaf's chain, PEM.
    pub fn leaf_chain_pem(&self) -> &str {
        &self.leaf.chain
    }

    /// The default leaf's private key, PEM.
    pub fn leaf_key_pem(&self) -> &str {
        &self.leaf.key
    }

    /// The default leaf as a pair.
    pub fn leaf(&self) -> &PemPair {
        &self.leaf
    }

    /// A new leaf issued by this CA for `names`, with the given validity.
    pub fn issue(&self, names: &[&str], validity: Validity) -> PemPair {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = must(CertificateParams::new(names.clone()), "leaf params");
        if let Some(first) = names.first() {
            params
                .distinguished_name
                .push(DnType::CommonName, first.as_str());
        }
        match validity {
            Validity::Current => {}
            Validity::Expired => {
                params.not_before = date_time_ymd(2000, 1, 1);
                params.not_after = date_time_ymd(2001, 1, 1);
            }
            Validity::NotYetValid => {
                params.not_before = date_time_ymd(4000, 1, 1);
                params.not_after = date_time_ymd(4001, 1, 1);
            }
        }
        let key = must(KeyPair::generate(), "leaf key");
        let cert = must(params.signed_by(&key, &self.issuer), "leaf certificate");
        PemPair {
            chain: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A self-signed leaf for `name` that no CA vouches for.
    pub fn self_signed(name: &str) -> PemPair {
        let params = must(CertificateParams::new(vec![name.to_owned()]), "params");
        let key = must(KeyPair::generate(), "key");
        let cert = must(params.self_signed(&key), "self-signed certificate");
        PemPair {
            chain: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A store serving `pair` as its default certificate.
    pub fn store_with(pair: &PemPair) -> Arc<CertStore> {
        let store = CertStore::new(provider());
        must(
            store.set_default_pem(pair.chain.as_bytes(), pair.key.as_bytes()),
            "store",
        );
        store
    }

    /// A server configuration serving `pair`.
    pub fn server_config_with(pair: &PemPair) -> ServerTlsConfig {
        must(
            ServerTlsConfig::builder(TestPki::store_with(pair))
                .provider(provider())
                .build(),
            "server config",
        )
    }

    /// A server configuration serving the default leaf.
    pub fn server_config(&self) -> ServerTlsConfig {
        TestPki::server_config_with(&self.leaf)
    }

    /// A client configuration that trusts only this CA.
    pub fn client_config(&self) -> ClientTlsConfig {
        must(
            ClientTlsConfig::builder()
                .add_ca_pem(self.ca_pem.as_bytes())
                .and_then(|b| b.provider(provider()).build()),
            "client config",
        )
    }

    /// The client side's setup: trust this CA, verify the server for [`TestPki::name`].
    pub fn client_setup(&self) -> TlsSetup {
        TlsSetup::Client {
            config: self.client_config(),
            server_name: self.name.clone(),
        }
    }

    /// The server side's setup, serving the default leaf.
    pub fn server_setup(&self) -> TlsSetup {
        TlsSetup::Server(self.server_config())
    }

    /// Client and server configurations that agree with each other.
    pub fn configs(&self) -> (ClientTlsConfig, ServerTlsConfig) {
        (self.client_config(), self.server_config())
    }
}
