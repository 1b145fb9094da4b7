//! Support code shared by the mailsec example binaries and their interop tests.
//!
//! - [`maildir`]: the maildir store of the example server (delivery, listing, flags, locks).
//! - [`imap_store`]: the IMAP `MailStore` over the same maildir (Maildir++ folders, uid lists).
//! - [`users`]: the users file and the SASL [`Authenticator`](mailsec_tls::sasl::Authenticator)
//!   over it (PLAIN, LOGIN, SCRAM-SHA-256).
//! - [`server_cli`]: the command line of `mailsec-server`, its TLS material and certificate
//!   reload.
//! - [`listener`]: a tokio accept loop that drives any server [`Machine`](mailsec_tls::Machine)
//!   per connection, with a connection limit and graceful shutdown.
//! - [`imap_service`]: the IMAP listeners of `mailsec-server` (a [`SessionHandler`](listener::SessionHandler)
//!   over the users file and a mailbox store).
//! - [`imap_mail`]: reading mail over IMAP (folders, message list, read, flags, move), the
//!   library behind `mailsec-imap`.
//! - [`probe`]: the library behind `mailsec-probe`, which checks a mail server's TLS set-up
//!   (certificates, STARTTLS, plaintext authentication, STARTTLS command injection).
//! - [`load`]: the library behind `mailsec-load`, a bounded pilot load test (SMTP sends, IMAP and
//!   POP3 fetches; no TLS, STARTTLS, implicit TLS side by side) with a counting proxy.
//! - [`toy_server`], [`capture`]: the toy demo and its network tap.
#![forbid(unsafe_code)]

pub mod capture;
pub mod imap_mail;
pub mod imap_service;
pub mod imap_store;
pub mod listener;
pub mod load;
pub mod maildir;
pub mod pop3_fetch;
pub mod pop3_service;
pub mod probe;
pub mod server_cli;
pub mod smtp_send;
pub mod smtp_service;
pub mod toy_server;
pub mod users;

#[cfg(test)]
mod test_support {
    /// A fresh directory under the system temp dir, removed on drop.
    pub(crate) fn temp_dir(tag: &str) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix(&format!("mailsec-{tag}-"))
            .tempdir()
            .expect("temp dir")
    }
}
