//! # mailsec-tls
//!
//! The layer every mailsec protocol crate stands on:
//!
//! ```text
//!   application ──intents──▶ ┌──────────────┐ ──Output::Event──▶ application
//!                            │   Machine    │   (SMTP / IMAP / POP3, client or server; Sans-IO)
//!   plaintext ──handle_input▶└──────────────┘ ──Transmit / StartTls / Close──┐
//!        ▲                                                                    ▼
//!        │                    ┌──────────────┐                           ┌─────────┐
//!        └──take_plaintext────│     Pipe     │◀──────send_plaintext──────│ Driver  │
//!                             │ clear │ rustls│───────take_wire──────────▶│ (async) │──▶ socket
//!              socket ──────▶ └──────────────┘ ◀──recv_wire───────────────└─────────┘
//! ```
//!
//! - [`Machine`] and [`Output`]: the one contract of every client and server machine.
//! - [`framer::LineFramer`]: the bounded CRLF line framer all three protocols share.
//! - [`dotstuff`]: the dot-stuffing codec (`CRLF.CRLF`-terminated bodies) of SMTP DATA and
//!   POP3 multi-line responses.
//! - [`Pipe`]: plaintext, implicit TLS, or a STARTTLS upgrade at an exact byte boundary.
//! - [`Driver`]: runs any machine over `futures_io::{AsyncRead, AsyncWrite}` (tokio through
//!   `tokio_util::compat`, smol directly).
//! - [`config`]: certificates from PEM, SNI, reload without restart, client trust and RFC 7817
//!   name verification; [`TlsInfo`] describes an established session.
//! - [`policy`]: [`ClientTls`] (implicit TLS by default) and [`ServerPolicy`] ("require secure
//!   channel").
//! - [`text`]: peer text made safe to show (control and bidi characters removed).
//! - [`sasl`]: PLAIN, LOGIN, XOAUTH2, OAUTHBEARER and SCRAM-SHA-256 as Sans-IO exchanges.
//! - [`testing`] (feature `testing`): generated certificates and an in-memory client⇄server pair.
//!
//! Only this crate names rustls types; it re-exports [`rustls`] for callers who need to reach
//! past it. No crypto provider is enabled by default: enable the `ring` or `aws-lc-rs` feature
//! and pass the provider, or install a process default. Without one, configuration fails with
//! [`TlsError::NoCryptoProvider`].
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod config;
pub mod dotstuff;
pub mod driver;
mod error;
pub mod framer;
mod info;
mod machine;
pub mod pipe;
pub mod policy;
pub mod sasl;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;

pub use config::{
    CertStore, ClientTlsConfig, ClientTlsConfigBuilder, ServerTlsConfig, ServerTlsConfigBuilder,
    TlsConnection, TlsSetup,
};
pub use driver::{Driver, DriverError};
pub use error::{CertificateProblem, TlsError};
pub use info::{TlsInfo, TlsVersion};
pub use machine::{Machine, Output};
pub use pipe::Pipe;
pub use policy::{ClientTls, ListenerTls, ServerPolicy};

/// The rustls version this crate is built on, for callers who need its types directly.
pub use rustls;
/// Certificate and key types ([`CertificateDer`](pki_types::CertificateDer), …).
pub use rustls_pki_types as pki_types;
