//! Shared harness of the pair tests that run our IMAP client machine against our IMAP server
//! machine in memory with real rustls (`mailsec_tls::testing::Pair`): the pair's setup and a
//! loop that answers the server's questions.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use mailsec_imap::client::{Client, ClientConfig};
use mailsec_imap::server::{Server, ServerConfig, ServerEvent};
use mailsec_imap::store::MemoryStore;
use mailsec_tls::sasl::{CheckAnswer, CredentialCheck, Credentials, ExposeSecret};
use mailsec_tls::testing::{Pair, TestPki};
use mailsec_tls::{ClientTls, ServerPolicy};

/// The one account the server knows.
pub(crate) const USER: &str = "alice";
/// Its password.
pub(crate) const PASSWORD: &str = "s3cret";

/// The client's credentials for [`USER`].
pub(crate) fn credentials() -> Credentials {
    Credentials::password(USER, PASSWORD)
}

/// The server policy that matches a client policy: implicit TLS, or STARTTLS required.
pub(crate) fn policy_for(tls: ClientTls) -> ServerPolicy {
    if tls == ClientTls::Implicit {
        ServerPolicy::implicit_tls()
    } else {
        ServerPolicy::starttls_required()
    }
}

/// A client with `config` and our server with `policy`, connected in memory (implicit TLS
/// when the client's policy says so).
pub(crate) fn new_pair(
    config: ClientConfig,
    policy: ServerPolicy,
    pki: &TestPki,
) -> Pair<Client, Server> {
    let implicit = config.tls() == ClientTls::Implicit;
    let server_config = Arc::new(ServerConfig::builder().policy(policy).build().unwrap());
    let now = std::time::Instant::now();
    let server = Server::new(server_config, now);
    let client = Client::new(config, now);
    if implicit {
        Pair::implicit_tls(client, server, pki)
    } else {
        Pair::new(client, server, pki)
    }
}

/// Runs the pair, answering the server's questions ([`USER`] / [`PASSWORD`], the shared
/// store), until nothing more happens. Returns the server events seen.
pub(crate) fn settle(pair: &mut Pair<Client, Server>, store: &MemoryStore) -> Vec<ServerEvent> {
    let mut seen = Vec::new();
    loop {
        pair.run();
        let events = pair.server.take_events();
        if events.is_empty() {
            return seen;
        }
        for event in events {
            match &event {
                ServerEvent::CheckCredentials { check, .. } => {
                    let ok = matches!(check, CredentialCheck::Password { authcid, password, .. }
                        if authcid == USER && password.expose_secret() == PASSWORD);
                    let answer = if ok {
                        CheckAnswer::Accept
                    } else {
                        CheckAnswer::Reject
                    };
                    pair.server.machine.answer_credentials(answer).unwrap();
                }
                ServerEvent::OpenStore { .. } => {
                    pair.server
                        .machine
                        .open_store(Box::new(store.clone()))
                        .unwrap();
                }
                _ => {}
            }
            seen.push(event);
        }
    }
}
