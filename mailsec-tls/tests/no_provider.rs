//! Without a crypto provider, building a configuration is a typed error, never a panic.
//!
//! The process-default provider is global to a test binary, so this file holds one test and
//! nothing here installs a provider before the checks.

use mailsec_tls::rustls::crypto::CryptoProvider;
use mailsec_tls::testing::{TestPki, provider};
use mailsec_tls::{CertStore, ClientTlsConfig, ServerTlsConfig, TlsError};

#[test]
fn missing_provider_is_a_typed_error_until_one_is_installed() {
    assert!(
        CryptoProvider::get_default().is_none(),
        "no default provider in this process"
    );
    let pki = TestPki::new("mail.example.test");

    // A store loaded with an explicit provider, but no provider for the configuration.
    let store = TestPki::store_with(pki.leaf());
    let err = ServerTlsConfig::builder(store.clone()).build().unwrap_err();
    assert!(matches!(err, TlsError::NoCryptoProvider), "{err:?}");
    let err = ServerTlsConfig::builder(store.clone())
        .alpn(["imap"])
        .build()
        .unwrap_err();
    assert!(matches!(err, TlsError::NoCryptoProvider), "{err:?}");

    let builder = ClientTlsConfig::builder()
        .add_ca_pem(pki.ca_pem().as_bytes())
        .unwrap();
    let err = builder.build().unwrap_err();
    assert!(matches!(err, TlsError::NoCryptoProvider), "{err:?}");
    // Reported before the missing roots: the provider is the first thing missing.
    let err = ClientTlsConfig::builder().build().unwrap_err();
    assert!(matches!(err, TlsError::NoCryptoProvider), "{err:?}");

    let err = CertStore::with_default_provider().unwrap_err();
    assert!(matches!(err, TlsError::NoCryptoProvider), "{err:?}");
    assert!(err.to_string().contains("provider"), "{err}");

    // An explicit provider works without a process default.
    ServerTlsConfig::builder(store.clone())
        .provider(provider())
        .build()
        .unwrap();
    ClientTlsConfig::builder()
        .add_ca_pem(pki.ca_pem().as_bytes())
        .unwrap()
        .provider(provider())
        .build()
        .unwrap();
    assert!(
        CryptoProvider::get_default().is_none(),
        "nothing installed a default on the way"
    );

    // Once a process default is installed, the same calls succeed without naming one.
    CryptoProvider::install_default(mailsec_tls::rustls::crypto::ring::default_provider()).unwrap();
    ServerTlsConfig::builder(store).build().unwrap();
    ClientTlsConfig::builder()
        .add_ca_pem(pki.ca_pem().as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let store = CertStore::with_default_provider().unwrap();
    store
        .set_default_pem(
            pki.leaf_chain_pem().as_bytes(),
            pki.leaf_key_pem().as_bytes(),
        )
        .unwrap();
}
