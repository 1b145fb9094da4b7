//! IMAP4rev1/IMAP4rev2 for mailsec: syntax layer and Sans-IO client and server machines.
//!
//! This crate is being built on top of [`mailsec_tls`]; its machines will implement
//! [`mailsec_tls::Machine`] so the shared driver and test pair run them. Until then it only
//! re-exports the shared layer.
#![forbid(unsafe_code)]

pub mod framing;

pub use mailsec_tls;
