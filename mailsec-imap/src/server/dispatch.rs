//! Reading commands: framing, literal decisions, parsing, and dispatch by state.

use bytes::Bytes;

use super::{Server, ServerError, Wait};
use crate::framing::{Frame, FramingError};
use crate::types::{Code, CommandBody, Data, SimpleCode, StatusKind, Tag};

impl Server {
    /// Processes every buffered command the machine may read now.
    pub(super) fn process(&mut self) {
        while self.reads_input() {
            let Some(frame) = self.framer.next_frame() else {
                break;
            };
            match frame {
                Ok(Frame::LiteralAnnounced {
                    needs_decision: true,
                    tag,
                    ..
                }) => {
                    if let Wait::Idle { .. } = self.wait {
                        // A command during IDLE: no `+` for it.
                        let _ = self.framer.reject_literal();
                        self.idle_broken();
                        continue;
                    }
                    if self.store.is_none() && !self.plaintext_allowed() {
                        // Before login on a connection where credentials may not be sent,
                        // no literal is invited: it would carry a password in clear (LOGIN
                        // despite LOGINDISABLED).
                        let _ = self.framer.reject_literal();
                        self.literal_refused_in_clear(tag);
                        continue;
                    }
                    // Every limit was checked by the framer against the announced size.
                    let _ = self.framer.accept_literal();
                    self.transmit(Bytes::from_static(b"+ Ready for literal data\r\n"));
                }
                Ok(Frame::Message(msg)) => self.message(&msg),
                Ok(_) => {}
                Err(e) => self.framing_error(e),
            }
        }
    }

    /// Goes on with buffered commands after the application answered or a job ended.
    pub(super) fn resume(&mut self) {
        if !self.done {
            self.process();
        }
    }

    fn framing_error(&mut self, e: FramingError) {
        if e.is_fatal() {
            self.bye("Input cannot be framed");
            self.fail(ServerError::Framing(e));
            return;
        }
        let tag = e
            .tag()
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(|t| Tag::new(t.to_owned()).ok());
        if matches!(self.wait, Wait::SaslLine { .. }) {
            if let Wait::SaslLine { tag, .. } = std::mem::replace(&mut self.wait, Wait::Nothing) {
                self.bad(Some(&tag), "Invalid SASL response line");
            }
            return;
        }
        if matches!(self.wait, Wait::Idle { .. }) {
            self.idle_broken();
            return;
        }
        match &e {
            FramingError::LiteralTooLarge { .. }
            | FramingError::MessageTooLarge { .. }
            | FramingError::TooManyLiterals { .. } => {
                let text = "Literal or command too large";
                match &tag {
                    Some(t) => self.tagged(
                        t,
                        StatusKind::No,
                        Some(Code::Simple(SimpleCode::TooBig)),
                        text,
                    ),
                    None => self.untagged_status(
                        StatusKind::No,
                        Some(Code::Simple(SimpleCode::TooBig)),
                        text,
                    ),
                }
            }
            FramingError::NonSyncLiteralRefused { .. } => {
                let text = "Non-synchronizing literal too large";
                match &tag {
                    Some(t) => self.tagged(
                        t,
                        StatusKind::Bad,
                        Some(Code::Simple(SimpleCode::TooBig)),
                        text,
                    ),
                    None => self.untagged_status(
                        StatusKind::Bad,
                        Some(Code::Simple(SimpleCode::TooBig)),
                        text,
                    ),
                }
                self.count_bad();
            }
            FramingError::LineTooLong { .. } => self.bad(tag.as_ref(), "Line too long"),
            _ => self.bad(tag.as_ref(), "Invalid command line"),
        }
    }

    /// One framed message: a command, a SASL line or the end of IDLE.
    fn message(&mut self, msg: &[u8]) {
        match self.wait {
            Wait::SaslLine { .. } => self.sasl_line(msg),
            Wait::Idle { .. } => self.idle_line(msg),
            _ => self.command(msg),
        }
    }

    fn command(&mut self, msg: &[u8]) {
        let cmd = match crate::parse::command(msg) {
            Ok((cmd, _)) => cmd,
            Err(_) if self.store.is_none() && looks_like_http(msg) => {
                // ALPACA: answer nothing a browser could take for content.
                self.fail(ServerError::CrossProtocol);
                return;
            }
            Err(e) => {
                let tag = e.tag.and_then(|t| Tag::new(t).ok());
                let text = match e.kind {
                    crate::error::ParseErrorKind::UnknownCommand => "Unknown command",
                    _ => "Syntax error in command",
                };
                self.bad(tag.as_ref(), text);
                return;
            }
        };
        let tag = cmd.tag.clone().into_owned();
        let authenticated = self.store.is_some();
        let selected = self.selected.is_some();
        use CommandBody as C;
        match cmd.body {
            C::Capability => {
                let caps = self.capabilities();
                self.data(Data::Capability(caps));
                self.ok(&tag, "CAPABILITY completed");
            }
            C::Noop | C::Check if selected => {
                let name = cmd.body.name();
                self.refresh(true);
                self.ok(&tag, &format!("{name} completed"));
            }
            C::Noop => self.ok(&tag, "NOOP completed"),
            C::Logout => {
                self.bye("Logging out");
                self.ok(&tag, "LOGOUT completed");
                self.close(true, None);
            }
            C::Id(_) => {
                self.data(Data::Id(None));
                self.ok(&tag, "ID completed");
            }
            C::StartTls if !authenticated => self.starttls(&tag),
            C::Login { username, password } if !authenticated => {
                self.login(tag, username.as_bytes(), password.expose().as_bytes())
            }
            C::Authenticate { mechanism, initial } if !authenticated => {
                self.authenticate(tag, mechanism.as_str(), initial)
            }
            C::Enable(_) if selected => {
                // RFC 5161 §3.1: only before a mailbox is selected.
                self.bad(Some(&tag), "ENABLE is valid only before SELECT");
            }
            C::Enable(caps) if authenticated => self.enable(&tag, &caps),
            C::Select { mailbox, params } if authenticated => {
                self.select(&tag, &mailbox, &params, false)
            }
            C::Examine { mailbox, params } if authenticated => {
                self.select(&tag, &mailbox, &params, true)
            }
            C::Create {
                mailbox,
                special_use,
            } if authenticated => self.create(&tag, &mailbox, &special_use),
            C::Delete(mailbox) if authenticated => self.delete(&tag, &mailbox),
            C::Rename { from, to } if authenticated => self.rename(&tag, &from, &to),
            C::Subscribe(m) if authenticated => self.subscribe(&tag, &m, true),
            C::Unsubscribe(m) if authenticated => self.subscribe(&tag, &m, false),
            C::List {
                selection,
                reference,
                patterns,
                return_opts,
                ..
            } if authenticated => self.list(
                &tag,
                selection.as_deref(),
                &reference,
                &patterns,
                return_opts.as_deref(),
            ),
            C::Lsub { reference, pattern } if authenticated => {
                self.lsub(&tag, &reference, &pattern)
            }
            C::Namespace if authenticated => self.namespace(&tag),
            C::Status { mailbox, items } if authenticated => self.status(&tag, &mailbox, &items),
            C::Append {
                mailbox,
                flags,
                date,
                message,
                utf8,
            } if authenticated => self.append(
                &tag,
                &mailbox,
                flags.as_deref(),
                date,
                message.as_bytes(),
                utf8,
            ),
            C::Idle if authenticated => self.idle_start(tag),
            C::Close if selected => self.close_folder(&tag, true),
            C::Unselect if selected => self.close_folder(&tag, false),
            C::Expunge if selected => self.expunge(&tag, None),
            C::UidExpunge(set) if selected => self.expunge(&tag, Some(&set)),
            C::Search {
                uid,
                return_opts,
                charset,
                criteria,
            } if selected => self.search(
                &tag,
                uid,
                return_opts.as_deref(),
                charset.as_ref(),
                &criteria,
            ),
            C::Fetch {
                uid,
                set,
                items,
                modifiers,
            } if selected => {
                if !modifiers.is_empty() {
                    self.bad(Some(&tag), "CONDSTORE is not supported");
                    return;
                }
                let attrs = items.expand().into_iter().map(|a| a.into_owned()).collect();
                self.fetch(tag, uid, &set, attrs);
            }
            C::Store {
                uid,
                set,
                unchanged_since,
                action,
            } if selected => {
                if unchanged_since.is_some() {
                    self.bad(Some(&tag), "CONDSTORE is not supported");
                    return;
                }
                self.store_flags(&tag, uid, &set, &action);
            }
            C::Copy { uid, set, mailbox } if selected => {
                self.copy_or_move(&tag, uid, &set, &mailbox, false)
            }
            C::Move { uid, set, mailbox } if selected => {
                self.copy_or_move(&tag, uid, &set, &mailbox, true)
            }
            C::Compress(_) | C::GetQuota(_) | C::GetQuotaRoot(_) | C::SetQuota { .. } => {
                self.bad(Some(&tag), "Command not supported")
            }
            _ => self.bad(Some(&tag), "Command not valid in this state"),
        }
    }
}

/// Whether a command line is an HTTP request line (`GET /x HTTP/1.1`).
fn looks_like_http(msg: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"OPTIONS ",
        b"DELETE ",
        b"CONNECT ",
        b"TRACE ",
        b"PATCH ",
    ];
    let line = msg.split(|&b| b == b'\n').next().unwrap_or(msg);
    METHODS.iter().any(|m| line.starts_with(m)) && memchr::memmem::find(line, b" HTTP/").is_some()
}
