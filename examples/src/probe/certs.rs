//! Certificate recording during the handshake and the verdict afterwards.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use mailsec_tls::pki_types::{CertificateDer, ServerName, UnixTime};
use mailsec_tls::rustls;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore};

use super::{CertInfo, ProbeOptions, Trust};

/// Accepts any chain during the handshake and records it; signatures are still checked
/// (so the recorded chain belongs to the key that signed the handshake). The real verdict
/// comes from [`verify_chain`] afterwards. Never used to send anything that matters.
#[derive(Debug)]
pub(super) struct Recorder {
    pub(super) provider: Arc<CryptoProvider>,
    pub(super) chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        if let Ok(mut slot) = self.chain.lock() {
            *slot = chain;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

pub(super) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(super) fn roots(options: &ProbeOptions) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    match &options.ca {
        Some(certs) => {
            for c in certs {
                let _ = roots.add(c.clone());
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    roots
}

/// Runs rustls's `WebPkiServerVerifier` (RFC 6125 / 7817 name rules) on `chain` for `name`
/// and maps its error to a [`Trust`].
pub fn verify_chain(
    roots: RootCertStore,
    chain: &[CertificateDer<'static>],
    name: &str,
    now: SystemTime,
) -> Trust {
    let Some((ee, intermediates)) = chain.split_first() else {
        return Trust::Other("no certificate sent".into());
    };
    let server_name = match ServerName::try_from(name.to_owned()) {
        Ok(n) => n,
        Err(e) => return Trust::Other(format!("bad server name {name:?}: {e}")),
    };
    let verifier =
        match WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider()).build() {
            Ok(v) => v,
            Err(e) => return Trust::Other(format!("verifier: {e}")),
        };
    let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    match verifier.verify_server_cert(
        ee,
        intermediates,
        &server_name,
        &[],
        UnixTime::since_unix_epoch(secs),
    ) {
        Ok(_) => Trust::Trusted,
        Err(rustls::Error::InvalidCertificate(e)) => {
            let text = e.to_string();
            match e {
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    Trust::Expired(text)
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    Trust::NotYetValid(text)
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => Trust::NameMismatch(text),
                CertificateError::UnknownIssuer
                | CertificateError::BadSignature
                | CertificateError::BadEncoding
                | CertificateError::Revoked
                | CertificateError::InvalidPurpose
                | CertificateError::InvalidPurposeContext { .. } => Trust::Untrusted(text),
                _ => Trust::Other(text),
            }
        }
        Err(e) => Trust::Other(e.to_string()),
    }
}

/// Subject, issuer, names and expiry of one DER certificate.
pub fn cert_info(der: &[u8], now: SystemTime) -> Option<CertInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = cert.validity().not_after;
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let dns_names = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(s) => Some((*s).to_owned()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        dns_names,
        not_after: not_after.timestamp(),
        not_after_text: not_after.to_string(),
        days_left: (not_after.timestamp() - now).div_euclid(86_400),
    })
}
