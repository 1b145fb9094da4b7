//! AUTH (RFC 4954) over the shared SASL exchange.

use mailsec_tls::sasl::wire::{self, ClientLine};
use mailsec_tls::sasl::{
    ExposeSecret as _, SaslError, SecretSlice, ServerExchange, ServerStep, check_requested,
};

use super::{Awaiting, Event, Phase, Server};
use crate::types::{InitialResponse, SaslMechanism};

impl Server {
    pub(super) fn auth(&mut self, mechanism: &SaslMechanism, ir: Option<InitialResponse>) {
        if !self.auth_enabled() {
            return self.client_error(502, "5.5.1", "AUTH not available");
        }
        if self.helo.is_none() {
            return self.client_error(503, "5.5.1", "Send EHLO first");
        }
        if self.identity.is_some() {
            return self.client_error(503, "5.5.1", "Already authenticated");
        }
        if self.envelope.is_some() {
            return self.client_error(503, "5.5.1", "AUTH not allowed during a transaction");
        }
        let checked = check_requested(
            mechanism.as_str().as_bytes(),
            &self.config.mechanisms,
            self.secure,
            self.config.auth_policy(),
        );
        let m = match checked {
            Ok(m) => m,
            Err(SaslError::NotAllowedWithoutTls(_)) => {
                return self.client_error(
                    538,
                    "5.7.11",
                    "Encryption required for requested authentication mechanism",
                );
            }
            Err(_) => {
                return self.client_error(504, "5.5.4", "Unrecognized authentication type");
            }
        };
        // SMTP cannot carry data with 235: SCRAM's final message goes as a last challenge.
        let mut exchange = ServerExchange::new(m).final_data_as_challenge();
        let step = exchange.start(ir.as_ref().map(InitialResponse::expose));
        self.auth = Some(exchange);
        self.phase = Phase::Auth;
        self.auth_step(step);
    }

    pub(super) fn auth_line(&mut self, line: &[u8]) {
        let step = match (self.auth.as_mut(), wire::decode_client_line(line)) {
            (None, _) => ServerStep::Failure(SaslError::OutOfOrder("no exchange")),
            (Some(ex), Ok(ClientLine::Cancel)) => ex.cancel(),
            (Some(ex), Ok(ClientLine::Response(r))) => {
                let r = SecretSlice::from(r);
                ex.respond(r.expose_secret())
            }
            (Some(_), Err(e)) => ServerStep::Failure(e),
        };
        self.auth_step(step);
    }

    pub(super) fn auth_step(&mut self, step: ServerStep) {
        match step {
            ServerStep::Challenge(c) => {
                self.transmit(format!("334 {}\r\n", wire::encode(&c)));
            }
            ServerStep::Verify(check) => {
                self.event(Event::CredentialCheck(check));
                self.awaiting = Some(Awaiting::Credentials);
            }
            ServerStep::Success { identity, .. } => {
                self.auth = None;
                self.phase = Phase::Command;
                self.identity = Some(identity.clone());
                self.event(Event::Authenticated { identity });
                self.say(235, "2.7.0", "Authentication successful");
            }
            ServerStep::Failure(reason) => self.auth_failed(reason),
            _ => self.auth_failed(SaslError::OutOfOrder("unknown step")),
        }
    }

    pub(super) fn auth_failed(&mut self, reason: SaslError) {
        let exchange = self.auth.take();
        self.phase = Phase::Command;
        if let Some(ex) = exchange {
            self.event(Event::AuthenticationFailed {
                mechanism: ex.mechanism(),
                reason: reason.clone(),
            });
        }
        match reason {
            SaslError::Cancelled => self.client_error(501, "5.7.0", "Authentication cancelled"),
            SaslError::InvalidBase64 | SaslError::TooLong { .. } | SaslError::Malformed { .. } => {
                self.client_error(501, "5.5.2", "Invalid authentication data")
            }
            _ => self.client_error(535, "5.7.8", "Authentication credentials invalid"),
        }
    }
}
