//! Command handlers: EHLO/HELO, MAIL, RCPT, STARTTLS and the dispatcher.

use std::fmt::Write as _;

use super::{AbortReason, Awaiting, Envelope, Event, Output, Phase, Server, ServerError};
use crate::borrowed::{
    CommandRef, ForwardPathRef, MailParamRef, MailParams, RcptParamRef, RcptParams, ReversePathRef,
};
use crate::parse::{ParseOptions, parse_command_ref};
use crate::serialize::extension_line;
use crate::types::{BodyType, Extension, Host};

impl Server {
    pub(super) fn command(&mut self, line: &[u8]) {
        let opts = ParseOptions::new().smtputf8(self.config.features.smtputf8);
        // Parsed without copying; only what an event carries becomes owned.
        let cmd = match parse_command_ref(line, opts) {
            Ok(cmd) => cmd,
            Err(e) => return self.command_error(&e),
        };
        if let CommandRef::Bdat { size, last } = cmd {
            return self.bdat(size, last);
        }
        let allowed_before_tls = matches!(
            cmd,
            CommandRef::Ehlo(_)
                | CommandRef::Helo(_)
                | CommandRef::Noop(_)
                | CommandRef::StartTls
                | CommandRef::Quit
                | CommandRef::Rset
        );
        if self.tls_required_now() && !allowed_before_tls {
            return self.client_error(530, "5.7.0", "Must issue a STARTTLS command first");
        }
        match cmd {
            CommandRef::Ehlo(name) => self.hello(name.into_owned(), true),
            CommandRef::Helo(name) => self.hello(name.into_owned(), false),
            CommandRef::Mail { from, params } => self.mail(from, params),
            CommandRef::Rcpt { to, params } => self.rcpt(to, params),
            CommandRef::Data => self.data(),
            CommandRef::Rset => {
                self.drop_transaction(AbortReason::Reset);
                self.say(250, "2.0.0", "OK");
            }
            CommandRef::Noop(_) => self.say(250, "2.0.0", "OK"),
            CommandRef::Quit => {
                self.drop_transaction(AbortReason::Reset);
                let host = self.config.hostname.to_string();
                self.say(221, "2.0.0", &format!("{host} closing connection"));
                self.close();
            }
            CommandRef::Vrfy(_) => match self.config.vrfy.clone() {
                Some(r) => self.send_reply(&r),
                None => self.say(
                    252,
                    "2.5.0",
                    "Cannot VRFY user, but will accept message and attempt delivery",
                ),
            },
            CommandRef::Expn(_) => match self.config.expn.clone() {
                Some(r) => self.send_reply(&r),
                None => self.say(502, "5.5.1", "EXPN not available"),
            },
            CommandRef::Help(_) => self.say(214, "2.0.0", "See RFC 5321"),
            CommandRef::StartTls => self.starttls(),
            CommandRef::Auth {
                mechanism,
                initial_response,
            } => self.auth(&mechanism, initial_response),
            _ => self.client_error(502, "5.5.1", "Command not implemented"),
        }
    }

    pub(super) fn hello(&mut self, name: Host, extended: bool) {
        self.drop_transaction(AbortReason::Reset);
        self.helo = Some(name.clone());
        self.event(Event::Hello {
            name: name.clone(),
            extended,
        });
        let host = self.config.hostname.to_string();
        if !extended {
            self.transmit(format!("250 {host}\r\n"));
            return;
        }
        let f = self.config.features;
        let mut ext = Vec::new();
        if f.pipelining {
            ext.push(Extension::Pipelining);
        }
        ext.push(Extension::Size(Some(self.config.max_message_size)));
        if f.eight_bit_mime {
            ext.push(Extension::EightBitMime);
        }
        if f.smtputf8 {
            ext.push(Extension::SmtpUtf8);
        }
        if f.chunking {
            ext.push(Extension::Chunking);
            if f.binary_mime {
                ext.push(Extension::BinaryMime);
            }
        }
        if f.enhanced_status_codes {
            ext.push(Extension::EnhancedStatusCodes);
        }
        if f.dsn {
            ext.push(Extension::Dsn);
        }
        if self.offers_starttls() {
            ext.push(Extension::StartTls);
        }
        let mechs = self.advertised_auth();
        if !mechs.is_empty() {
            ext.push(Extension::Auth(mechs));
        }
        if f.require_tls && self.secure {
            ext.push(Extension::RequireTls);
        }
        let mut text = String::new();
        let _ = write!(text, "250-{host} greets {name}\r\n");
        let n = ext.len();
        for (i, e) in ext.iter().enumerate() {
            let sep = if i + 1 == n { ' ' } else { '-' };
            let _ = write!(text, "250{sep}{}\r\n", extension_line(e));
        }
        if n == 0 {
            text = format!("250 {host} greets {name}\r\n");
        }
        self.transmit(text);
    }

    pub(super) fn mail(&mut self, from: ReversePathRef<'_>, params: MailParams<'_>) {
        if self.helo.is_none() {
            return self.client_error(503, "5.5.1", "Send EHLO or HELO first");
        }
        if self.auth_required() && self.identity.is_none() {
            return self.client_error(530, "5.7.0", "Authentication required");
        }
        if self.envelope.is_some() {
            return self.client_error(503, "5.5.1", "Nested MAIL command");
        }
        let f = self.config.features;
        let mut env = Envelope::default();
        for p in params.iter() {
            match p {
                MailParamRef::Size(n) if n > self.config.max_message_size => {
                    return self.say(
                        552,
                        "5.3.4",
                        "Message size exceeds fixed maximum message size",
                    );
                }
                MailParamRef::Size(_) | MailParamRef::Auth(_) => {}
                MailParamRef::Body(BodyType::SevenBit) => {}
                MailParamRef::Body(BodyType::EightBitMime) if f.eight_bit_mime => {}
                MailParamRef::Body(BodyType::BinaryMime) if f.binary_mime && f.chunking => {
                    env.binary = true;
                }
                MailParamRef::SmtpUtf8 if f.smtputf8 => env.smtputf8 = true,
                MailParamRef::Ret(_) | MailParamRef::EnvId(_) if f.dsn => {}
                MailParamRef::RequireTls if f.require_tls && self.secure => {}
                MailParamRef::RequireTls if f.require_tls => {
                    return self.client_error(530, "5.7.10", "REQUIRETLS needs a TLS connection");
                }
                _ => return self.client_error(555, "5.5.4", "Unsupported parameter"),
            }
        }
        self.pending_mail = Some(env);
        self.event(Event::MailFrom {
            from: from.into_owned(),
            params: params.into_owned(),
            identity: self.identity.clone(),
            secure: self.secure,
        });
        self.awaiting = Some(Awaiting::Sender);
    }

    pub(super) fn rcpt(&mut self, to: ForwardPathRef<'_>, params: RcptParams<'_>) {
        let Some(env) = self.envelope.as_ref() else {
            return self.client_error(503, "5.5.1", "Need MAIL command");
        };
        if env.bdat {
            return self.client_error(503, "5.5.1", "RCPT after BDAT");
        }
        if env.recipients >= self.config.max_recipients {
            return self.say(452, "4.5.3", "Too many recipients");
        }
        if !to.is_ascii() && !env.smtputf8 {
            return self.client_error(553, "5.6.7", "Non-ASCII address needs SMTPUTF8");
        }
        let dsn = self.config.features.dsn;
        for p in params.iter() {
            match p {
                RcptParamRef::Notify(_) | RcptParamRef::Orcpt { .. } if dsn => {}
                _ => return self.client_error(555, "5.5.4", "Unsupported parameter"),
            }
        }
        self.event(Event::Recipient {
            to: to.into_owned(),
            params: params.into_owned(),
        });
        self.awaiting = Some(Awaiting::Recipient);
    }

    pub(super) fn starttls(&mut self) {
        if self.secure {
            return self.client_error(503, "5.5.1", "TLS already active");
        }
        if !self.offers_starttls() {
            return self.say(454, "4.7.0", "TLS not available");
        }
        let pending = self.framer.buffered() + self.unpushed;
        if pending > 0 {
            // Nothing after the command may be executed, in clear or inside TLS.
            let host = self.config.hostname.to_string();
            self.say(
                421,
                "4.7.0",
                &format!("{host} Pipelined data after STARTTLS, closing"),
            );
            self.drop_transaction(AbortReason::ConnectionLost);
            return self.fail(ServerError::CommandInjection(pending));
        }
        self.drop_transaction(AbortReason::Reset);
        self.say(220, "2.0.0", "Ready to start TLS");
        self.out.push_back(Output::StartTls);
        self.phase = Phase::Upgrading;
    }
}
