//! Support code shared by the mailsec example binaries and their interop tests.
#![forbid(unsafe_code)]

pub mod capture;
pub mod toy_server;
