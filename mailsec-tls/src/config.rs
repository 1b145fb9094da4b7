//! TLS configuration: server certificates (PEM, SNI, reload without restart) and client trust
//! (webpki roots or a caller's CA bundle, server-name verification per RFC 7817).
//!
//! Both sides speak TLS 1.2 and 1.3 only. No configuration here enables a crypto provider: pass
//! one with `provider(..)` or install a process default; otherwise building fails with
//! [`TlsError::NoCryptoProvider`] instead of rustls's process-level panic.
//!
//! ```
//! # fn main() -> Result<(), mailsec_tls::TlsError> {
//! use std::sync::Arc;
//! use mailsec_tls::{CertStore, ClientTlsConfig, ServerTlsConfig};
//! use mailsec_tls::testing::TestPki;
//!
//! let pki = TestPki::new("mail.example.test");
//! let provider = Arc::new(mailsec_tls::rustls::crypto::ring::default_provider());
//!
//! // Server: a reloadable store, here with one default certificate.
//! let store = CertStore::new(provider.clone());
//! store.set_default_pem(pki.leaf_chain_pem().as_bytes(), pki.leaf_key_pem().as_bytes())?;
//! let server = ServerTlsConfig::builder(store.clone()).provider(provider.clone()).build()?;
//!
//! // Client: trust the test CA, verify the name.
//! let client = ClientTlsConfig::builder()
//!     .add_ca_pem(pki.ca_pem().as_bytes())?
//!     .provider(provider)
//!     .build()?;
//! let _conn = client.connect("mail.example.test")?;
//! let _conn = server.accept()?;
//!
//! // Renewal: the next handshake serves the new certificate, no restart.
//! let renewed = TestPki::new("mail.example.test");
//! store.set_default_pem(renewed.leaf_chain_pem().as_bytes(), renewed.leaf_key_pem().as_bytes())?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::TlsError;

/// TLS 1.2 and 1.3, nothing older (RFC 8996, RFC 8314 §4.1).
static VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The provider to use: the one given, or the process default, or a typed error.
fn resolve_provider(
    explicit: Option<Arc<CryptoProvider>>,
) -> Result<Arc<CryptoProvider>, TlsError> {
    explicit
        .or_else(|| CryptoProvider::get_default().cloned())
        .ok_or(TlsError::NoCryptoProvider)
}

fn pem_error(what: &str, err: impl fmt::Display) -> TlsError {
    TlsError::Pem {
        what: what.to_owned(),
        reason: err.to_string(),
    }
}

/// Reads every certificate of a PEM buffer (chain order as in the file, end-entity first).
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("certificate PEM", e))?;
    if certs.is_empty() {
        return Err(pem_error("certificate PEM", "no CERTIFICATE block found"));
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, PKCS#1 or SEC1) of a PEM buffer.
pub fn private_key_from_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| pem_error("private key PEM", e))
}

fn alpn_list<I, P>(protocols: I) -> Vec<Vec<u8>>
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    protocols.into_iter().map(|p| p.as_ref().to_vec()).collect()
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| pem_error(&format!("{what} {}", path.display()), e))
}

/// A certificate chain and its key, ready to be served.
fn certified_key(
    provider: &CryptoProvider,
    chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = certificates_from_pem(chain_pem)?;
    let key = private_key_from_pem(key_pem)?;
    let key = CertifiedKey::from_der(chain, key, provider).map_err(TlsError::Config)?;
    Ok(Arc::new(key))
}

#[derive(Default)]
struct Certificates {
    default: Option<Arc<CertifiedKey>>,
    /// Lower-case DNS name (or `*.suffix`) → certificate.
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

/// The server's certificates: a default one and any number chosen by SNI, replaceable at any
/// time. A replacement is served from the next handshake on; connections already established
/// keep theirs. This is how a renewed certificate is picked up without a restart.
pub struct CertStore {
    provider: Arc<CryptoProvider>,
    certs: RwLock<Certificates>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let certs = self.certs.read().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<_> = certs.by_name.keys().collect();
        names.sort();
        f.debug_struct("CertStore")
            .field("default", &certs.default.is_some())
            .field("names", &names)
            .finish()
    }
}

impl CertStore {
    /// An empty store whose keys are loaded with `provider`.
    pub fn new(provider: Arc<CryptoProvider>) -> Arc<Self> {
        Arc::new(CertStore {
            provider,
            certs: RwLock::default(),
        })
    }

    /// An empty store using the process-default provider.
    pub fn with_default_provider() -> Result<Arc<Self>, TlsError> {
        Ok(CertStore::new(resolve_provider(None)?))
    }

    /// Sets (or replaces) the certificate served when SNI names nothing more specific.
    pub fn set_default_pem(&self, chain_pem: &[u8], key_pem: &[u8]) -> Result<(), TlsError> {
        let key = certified_key(&self.provider, chain_pem, key_pem)?;
        self.write().default = Some(key);
        Ok(())
    }

    /// [`CertStore::set_default_pem`] from files; call it again to reload after renewal.
    pub fn set_default_files(&self, chain: &Path, key: &Path) -> Result<(), TlsError> {
        let chain = read_file(chain, "certificate chain")?;
        let key = read_file(key, "private key")?;
        self.set_default_pem(&chain, &key)
    }

    /// Sets (or replaces) the certificate for an SNI name. `name` is a DNS name or `*.suffix`,
    /// where the wildcard stands for exactly one whole left-most label.
    pub fn insert_pem(&self, name: &str, chain_pem: &[u8], key_pem: &[u8]) -> Result<(), TlsError> {
        let key = certified_key(&self.provider, chain_pem, key_pem)?;
        self.write().by_name.insert(name.to_ascii_lowercase(), key);
        Ok(())
    }

    /// [`CertStore::insert_pem`] from files.
    pub fn insert_files(&self, name: &str, chain: &Path, key: &Path) -> Result<(), TlsError> {
        let chain = read_file(chain, "certificate chain")?;
        let key = read_file(key, "private key")?;
        self.insert_pem(name, &chain, &key)
    }

    /// Removes the certificate for an SNI name; returns whether one was there.
    pub fn remove(&self, name: &str) -> bool {
        self.write()
            .by_name
            .remove(&name.to_ascii_lowercase())
            .is_some()
    }

    /// The end-entity certificate that a handshake naming `sni` would be served.
    pub fn end_entity_for(&self, sni: Option<&str>) -> Option<CertificateDer<'static>> {
        self.lookup(sni).and_then(|k| k.cert.first().cloned())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Certificates> {
        // A panic while holding the lock cannot leave `Certificates` half-written (each write is
        // one insert), so a poisoned lock is still safe to use.
        self.certs.write().unwrap_or_else(|p| p.into_inner())
    }

    fn lookup(&self, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let certs = self.certs.read().unwrap_or_else(|p| p.into_inner());
        if let Some(name) = sni {
            let name = name.to_ascii_lowercase();
            if let Some(key) = certs.by_name.get(&name) {
                return Some(key.clone());
            }
            if let Some((_, parent)) = name.split_once('.') {
                if let Some(key) = certs.by_name.get(&format!("*.{parent}")) {
                    return Some(key.clone());
                }
            }
        }
        certs.default.clone()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.lookup(client_hello.server_name())
    }
}

/// The server side's TLS configuration (cheap to clone).
#[derive(Clone)]
pub struct ServerTlsConfig {
    inner: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for ServerTlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTlsConfig")
            .field("alpn", &self.inner.alpn_protocols)
            .finish()
    }
}

impl ServerTlsConfig {
    /// A builder serving the certificates of `store`.
    pub fn builder(store: Arc<CertStore>) -> ServerTlsConfigBuilder {
        ServerTlsConfigBuilder {
            store,
            provider: None,
            alpn: Vec::new(),
        }
    }

    /// Wraps a rustls configuration built by the caller (for needs this crate does not cover).
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> Self {
        ServerTlsConfig { inner: config }
    }

    /// A new server-side connection for one accepted socket.
    pub fn accept(&self) -> Result<TlsConnection, TlsError> {
        let conn = rustls::ServerConnection::new(self.inner.clone()).map_err(TlsError::Config)?;
        Ok(TlsConnection {
            conn: conn.into(),
            expected_name: None,
        })
    }
}

/// Builds a [`ServerTlsConfig`].
#[derive(Debug)]
#[must_use]
pub struct ServerTlsConfigBuilder {
    store: Arc<CertStore>,
    provider: Option<Arc<CryptoProvider>>,
    alpn: Vec<Vec<u8>>,
}

impl ServerTlsConfigBuilder {
    /// The crypto provider (default: the process default).
    pub fn provider(mut self, provider: Arc<CryptoProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// The ALPN protocol names this listener speaks (`imap`, `pop3`, `smtp`; RFC 7301 registry).
    /// When set, a client that offers only other protocols (an HTTPS client aimed at a mail port,
    /// the ALPACA attack) fails the handshake. Clients that offer no ALPN are still accepted.
    pub fn alpn<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        self.alpn = alpn_list(protocols);
        self
    }

    /// Builds the configuration.
    pub fn build(self) -> Result<ServerTlsConfig, TlsError> {
        let provider = resolve_provider(self.provider)?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(VERSIONS)
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(self.store);
        config.alpn_protocols = self.alpn;
        Ok(ServerTlsConfig {
            inner: Arc::new(config),
        })
    }
}

/// The client side's TLS configuration (cheap to clone).
#[derive(Clone)]
pub struct ClientTlsConfig {
    inner: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for ClientTlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTlsConfig")
            .field("alpn", &self.inner.alpn_protocols)
            .finish()
    }
}

impl ClientTlsConfig {
    /// A builder with no trusted roots yet.
    pub fn builder() -> ClientTlsConfigBuilder {
        ClientTlsConfigBuilder {
            roots: rustls::RootCertStore::empty(),
            provider: None,
            alpn: Vec::new(),
        }
    }

    /// Wraps a rustls configuration built by the caller. Whatever verifier it holds decides what
    /// "secure" means for connections made with it.
    pub fn from_rustls(config: Arc<rustls::ClientConfig>) -> Self {
        ClientTlsConfig { inner: config }
    }

    /// A new client connection that will verify the server's certificate for `server_name`
    /// (a DNS name or an IP address; RFC 7817 §3: the name the user configured, never one
    /// learned from DNS MX records or the server's greeting). The name is also sent as SNI.
    pub fn connect(&self, server_name: &str) -> Result<TlsConnection, TlsError> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| TlsError::InvalidServerName(server_name.to_owned()))?;
        let conn =
            rustls::ClientConnection::new(self.inner.clone(), name).map_err(TlsError::Config)?;
        Ok(TlsConnection {
            conn: conn.into(),
            expected_name: Some(server_name.to_owned()),
        })
    }
}

/// Builds a [`ClientTlsConfig`].
#[must_use]
pub struct ClientTlsConfigBuilder {
    roots: rustls::RootCertStore,
    provider: Option<Arc<CryptoProvider>>,
    alpn: Vec<Vec<u8>>,
}

impl fmt::Debug for ClientTlsConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTlsConfigBuilder")
            .field("roots", &self.roots.len())
            .finish()
    }
}

impl ClientTlsConfigBuilder {
    /// Trusts the Mozilla root program's CAs (the `webpki-roots` bundle compiled in).
    pub fn webpki_roots(mut self) -> Self {
        self.roots
            .extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        self
    }

    /// Trusts every CA certificate of a PEM bundle.
    pub fn add_ca_pem(mut self, pem: &[u8]) -> Result<Self, TlsError> {
        for cert in certificates_from_pem(pem)? {
            self.roots.add(cert).map_err(TlsError::Config)?;
        }
        Ok(self)
    }

    /// Trusts every CA certificate of a PEM file (e.g. `/etc/ssl/certs/ca-certificates.crt`).
    pub fn add_ca_file(self, path: &Path) -> Result<Self, TlsError> {
        let pem = read_file(path, "CA bundle")?;
        self.add_ca_pem(&pem)
    }

    /// The crypto provider (default: the process default).
    pub fn provider(mut self, provider: Arc<CryptoProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// ALPN protocol names to offer (`imap`, `pop3`, `smtp`).
    pub fn alpn<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        self.alpn = alpn_list(protocols);
        self
    }

    /// Builds the configuration. Fails when no root is trusted: such a client could never
    /// verify a server, and there is deliberately no "accept any certificate" mode.
    pub fn build(self) -> Result<ClientTlsConfig, TlsError> {
        let provider = resolve_provider(self.provider)?;
        if self.roots.is_empty() {
            return Err(pem_error("trusted roots", "no CA certificate configured"));
        }
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(VERSIONS)
            .map_err(TlsError::Config)?
            .with_root_certificates(self.roots)
            .with_no_client_auth();
        config.alpn_protocols = self.alpn;
        Ok(ClientTlsConfig {
            inner: Arc::new(config),
        })
    }
}

/// One connection's TLS state, not yet attached to a [`crate::Pipe`]. Made by
/// [`ClientTlsConfig::connect`] or [`ServerTlsConfig::accept`].
pub struct TlsConnection {
    pub(crate) conn: rustls::Connection,
    /// The name a client verifies the server for; `None` on the server side.
    pub(crate) expected_name: Option<String>,
}

impl fmt::Debug for TlsConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self.conn {
            rustls::Connection::Client(_) => "client",
            rustls::Connection::Server(_) => "server",
        };
        f.debug_struct("TlsConnection")
            .field("side", &side)
            .field("expected_name", &self.expected_name)
            .finish()
    }
}

/// Either side's configuration, for code (drivers, test pairs) that makes connections for both.
#[derive(Clone, Debug)]
pub enum TlsSetup {
    /// Client: verify the server for this name.
    Client {
        /// The configuration.
        config: ClientTlsConfig,
        /// The name the certificate must match (RFC 7817).
        server_name: String,
    },
    /// Server.
    Server(ServerTlsConfig),
}

impl TlsSetup {
    /// A new connection for this side.
    pub fn connection(&self) -> Result<TlsConnection, TlsError> {
        match self {
            TlsSetup::Client {
                config,
                server_name,
            } => config.connect(server_name),
            TlsSetup::Server(config) => config.accept(),
        }
    }
}
