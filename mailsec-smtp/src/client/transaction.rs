//! One message: MAIL, RCPT, DATA or BDAT, the body streamed, the final reply; RSET after a
//! failed transaction (RFC 5321 §4.1.1, RFC 2920, RFC 3030).

use std::time::Instant;

use bytes::BytesMut;
use mailsec_tls::Output;

use super::{Client, ClientError, Envelope, Event, MAX_BDAT_IN_FLIGHT, Pending, Phase, State};
use crate::data::{DataEncoder, encode_bdat};
use crate::types::{BodyType, Command, ForwardPath, MailParam, RcptParam, Reply, ReplyCode};

/// One message in progress.
#[derive(Debug)]
pub(super) struct Transaction {
    pub(super) recipients: Vec<ForwardPath>,
    pub(super) bdat: bool,
    pub(super) pipelined: bool,
    pub(super) mail_ok: bool,
    pub(super) accepted: usize,
    /// The first failure that decided the message.
    pub(super) failure: Option<(Phase, Reply)>,
    /// The body is being streamed.
    pub(super) streaming: bool,
    /// A `ReadyForData` was given and not yet used.
    pub(super) may_send: bool,
    pub(super) encoder: DataEncoder,
    pub(super) bdat_in_flight: usize,
    /// RSET sent to end a failed transaction.
    pub(super) resetting: bool,
}

impl Client {
    /// Starts a message. Checks the envelope against the server's extensions first and
    /// returns an error, sending nothing, when the server lacks SMTPUTF8 (non-ASCII address
    /// or asked for), 8BITMIME, BINARYMIME (or CHUNKING for it), DSN (for DSN options) or
    /// REQUIRETLS (or TLS for it), or when the declared size exceeds the server's SIZE.
    ///
    /// With PIPELINING, MAIL, every RCPT and (for DATA) DATA leave in one go (RFC 2920);
    /// without it, one command at a time. Then come [`Event::RecipientResult`]s, and
    /// [`Event::ReadyForData`] if any recipient was accepted, or [`Event::MessageRejected`].
    pub fn send_message(&mut self, now: Instant, envelope: Envelope) -> Result<(), ClientError> {
        if self.state != State::Ready {
            return Err(ClientError::Misuse(
                "send_message before Ready or during a message",
            ));
        }
        self.stale_ready = false;
        let Some(ext) = self.extensions.as_ref() else {
            return Err(ClientError::Misuse("send_message before Ready"));
        };
        let count = envelope.recipients().len();
        if count == 0 {
            return Err(ClientError::Misuse(
                "an envelope needs at least one recipient",
            ));
        }
        if count > self.config.max_recipients {
            return Err(ClientError::TooManyRecipients {
                count,
                limit: self.config.max_recipients,
            });
        }
        let smtputf8 = envelope.needs_smtputf8();
        if smtputf8 && !ext.smtputf8() {
            return Err(ClientError::MissingExtension("SMTPUTF8"));
        }
        let bdat_offered = self.config.chunking && ext.chunking();
        match envelope.body_type() {
            BodyType::SevenBit => {}
            BodyType::EightBitMime if !ext.eight_bit_mime() => {
                return Err(ClientError::MissingExtension("8BITMIME"));
            }
            BodyType::EightBitMime => {}
            BodyType::BinaryMime if !ext.binary_mime() => {
                return Err(ClientError::MissingExtension("BINARYMIME"));
            }
            BodyType::BinaryMime if !bdat_offered => {
                return Err(ClientError::MissingExtension("CHUNKING"));
            }
            BodyType::BinaryMime => {}
        }
        if let (Some(size), Some(limit)) = (envelope.size(), ext.max_size()) {
            if size > limit {
                return Err(ClientError::MessageTooLarge { size, limit });
            }
        }
        if envelope.uses_dsn() && !ext.dsn() {
            return Err(ClientError::MissingExtension("DSN"));
        }
        if envelope.require_tls() {
            if !self.is_secure() {
                return Err(ClientError::RequireTlsWithoutTls);
            }
            if !ext.requiretls() {
                return Err(ClientError::MissingExtension("REQUIRETLS"));
            }
        }

        let mut params = Vec::new();
        if let (Some(size), true) = (envelope.size(), ext.size()) {
            params.push(MailParam::Size(size));
        }
        if envelope.body_type() != BodyType::SevenBit {
            params.push(MailParam::Body(envelope.body_type()));
        }
        if smtputf8 {
            params.push(MailParam::SmtpUtf8);
        }
        if envelope.require_tls() {
            params.push(MailParam::RequireTls);
        }
        if let Some(ret) = envelope.ret() {
            params.push(MailParam::Ret(ret));
        }
        if let Some(envid) = envelope.envid() {
            params.push(MailParam::EnvId(envid.clone()));
        }
        let mail = Command::Mail {
            from: envelope.from().clone(),
            params,
        };
        let rcpts: Vec<Command> = envelope
            .recipients()
            .iter()
            .map(|r| {
                let mut params = Vec::new();
                if let Some(n) = r.notify() {
                    params.push(RcptParam::Notify(n));
                }
                if let Some(o) = r.orcpt() {
                    params.push(RcptParam::Orcpt(o.clone()));
                }
                Command::Rcpt {
                    to: r.path().clone(),
                    params,
                }
            })
            .collect();
        let bdat = bdat_offered;
        let pipelined = self.config.pipelining && ext.pipelining();
        self.txn = Some(Transaction {
            recipients: envelope
                .recipients()
                .iter()
                .map(|r| r.path().clone())
                .collect(),
            bdat,
            pipelined,
            mail_ok: false,
            accepted: 0,
            failure: None,
            streaming: false,
            may_send: false,
            encoder: DataEncoder::new().with_bare_line_endings(self.config.bare_line_endings),
            bdat_in_flight: 0,
            resetting: false,
        });
        self.state = State::Transaction;
        if pipelined {
            let mut buf = BytesMut::new();
            mail.encode(&mut buf);
            for r in &rcpts {
                r.encode(&mut buf);
            }
            let mut pend = vec![Pending::Mail];
            pend.extend((0..rcpts.len()).map(Pending::Rcpt));
            if !bdat {
                Command::Data.encode(&mut buf);
                pend.push(Pending::Data);
            }
            self.out.push_back(Output::Transmit(buf.freeze()));
            for p in pend {
                self.expect(now, p);
            }
            // Keep the commands for the non-pipelined path only.
            self.rcpt_commands = Vec::new();
        } else {
            self.rcpt_commands = rcpts;
            self.send(now, &mail, Pending::Mail);
        }
        Ok(())
    }

    /// Sends the next piece of the body, once per [`Event::ReadyForData`]. With DATA it is
    /// dot-stuffed (RFC 5321 §4.5.2) and the client is ready for more at once; with BDAT it
    /// is one `BDAT n` chunk, sent as is (RFC 3030), and the client is ready for more when the
    /// server has answered (or at once with PIPELINING, up to [`MAX_BDAT_IN_FLIGHT`] chunks).
    ///
    /// A body that cannot be sent (bare CR or LF with [`crate::data::BareLineEndings::Reject`],
    /// a DATA line over 1000 octets) ends the session with [`ClientError::Body`] through the
    /// output queue: DATA cannot be aborted, and a truncated message must not be delivered.
    ///
    /// When the message failed while the application still held a `ReadyForData` (a refused
    /// BDAT chunk, say), the answer to that event is accepted and dropped: the
    /// [`Event::MessageRejected`] queued after it tells the outcome.
    pub fn send_data(&mut self, now: Instant, data: &[u8]) -> Result<(), ClientError> {
        if std::mem::take(&mut self.stale_ready) {
            return Ok(());
        }
        let txn = self.ready_txn()?;
        txn.may_send = false;
        if txn.bdat {
            if data.is_empty() {
                self.data_ready(now);
                return Ok(());
            }
            let mut buf = BytesMut::with_capacity(data.len() + 24);
            encode_bdat(data, false, &mut buf);
            txn.bdat_in_flight += 1;
            let room = txn.pipelined && txn.bdat_in_flight < MAX_BDAT_IN_FLIGHT;
            self.out.push_back(Output::Transmit(buf.freeze()));
            self.expect(now, Pending::Bdat { last: false });
            if room {
                self.data_ready(now);
            }
        } else {
            let mut buf = BytesMut::with_capacity(data.len() + data.len() / 64 + 8);
            if let Err(e) = txn.encoder.encode(data, &mut buf) {
                self.fail(ClientError::Body(e));
                return Ok(());
            }
            if !buf.is_empty() {
                self.out.push_back(Output::Transmit(buf.freeze()));
            }
            self.data_ready(now);
        }
        Ok(())
    }

    /// Ends the body: the end-of-data dot (DATA) or `BDAT 0 LAST`. The final reply comes as
    /// [`Event::MessageAccepted`] or [`Event::MessageRejected`].
    pub fn finish_data(&mut self, now: Instant) -> Result<(), ClientError> {
        if std::mem::take(&mut self.stale_ready) {
            return Ok(());
        }
        let txn = self.ready_txn()?;
        txn.may_send = false;
        txn.streaming = false;
        let mut buf = BytesMut::new();
        let pending = if txn.bdat {
            encode_bdat(b"", true, &mut buf);
            Pending::Bdat { last: true }
        } else {
            if let Err(e) = txn.encoder.finish(&mut buf) {
                self.fail(ClientError::Body(e));
                return Ok(());
            }
            Pending::DataEnd { dummy: false }
        };
        self.out.push_back(Output::Transmit(buf.freeze()));
        self.expect(now, pending);
        Ok(())
    }

    /// Ends the session: QUIT, then [`Event::Closed`] and [`Output::Close`] when the server
    /// answers (or closes). Only between messages (after [`Event::Ready`]); to abandon a
    /// message in progress, close the connection.
    pub fn quit(&mut self, now: Instant) -> Result<(), ClientError> {
        if self.state != State::Ready {
            return Err(ClientError::Misuse("quit outside Ready"));
        }
        self.state = State::Quitting;
        self.send(now, &Command::Quit, Pending::Quit);
        Ok(())
    }

    fn ready_txn(&mut self) -> Result<&mut Transaction, ClientError> {
        match self.txn.as_mut() {
            Some(t) if self.state == State::Transaction && t.streaming && t.may_send => Ok(t),
            _ => Err(ClientError::Misuse(
                "message data only once per ReadyForData",
            )),
        }
    }

    /// Gives the application the next `ReadyForData` and arms the data block timer.
    pub(super) fn data_ready(&mut self, now: Instant) {
        if let Some(txn) = self.txn.as_mut() {
            txn.streaming = true;
            if txn.may_send {
                // The application already holds an unanswered `ReadyForData`: one at a time.
                return;
            }
            txn.may_send = true;
            self.out.push_back(Output::Event(Event::ReadyForData));
            if self.pending.is_empty() {
                self.deadline = Some(now + self.config.timeouts.data_block);
            }
        }
    }

    pub(super) fn on_transaction_reply(&mut self, now: Instant, pending: Pending, reply: Reply) {
        let Some(txn) = self.txn.as_mut() else {
            return self.fail(ClientError::UnexpectedReply {
                phase: pending.phase(),
                reply,
            });
        };
        let ok = reply.code().is_positive();
        match pending {
            Pending::Mail => {
                txn.mail_ok = ok;
                if !ok {
                    txn.failure = Some((Phase::Mail, reply));
                    if !txn.pipelined {
                        // No transaction was opened: nothing to reset (RFC 5321 §4.1.1.2).
                        self.end_transaction(now, false);
                    }
                    return;
                }
                if !txn.pipelined {
                    self.next_rcpt(now, 0);
                }
            }
            Pending::Rcpt(index) => {
                if ok {
                    txn.accepted += 1;
                }
                let recipient = txn.recipients.get(index).cloned();
                let last = index + 1 == txn.recipients.len();
                let (pipelined, bdat) = (txn.pipelined, txn.bdat);
                if !ok && txn.accepted == 0 && last && txn.failure.is_none() {
                    txn.failure = Some((Phase::Rcpt, reply.clone()));
                }
                if let Some(recipient) = recipient {
                    self.out.push_back(Output::Event(Event::RecipientResult {
                        index,
                        recipient,
                        reply,
                    }));
                }
                if !pipelined && !last {
                    self.next_rcpt(now, index + 1);
                } else if last && (!pipelined || bdat) {
                    self.after_recipients(now);
                }
            }
            Pending::Data => {
                let usable = txn.mail_ok && txn.accepted > 0 && txn.failure.is_none();
                if reply.code() == ReplyCode::START_DATA {
                    if usable {
                        self.data_ready(now);
                    } else {
                        // RFC 2920 §3.1: DATA accepted although no recipient was: end the
                        // (empty) message with a single dot, then reset.
                        self.transmit(b".\r\n".to_vec());
                        self.expect(now, Pending::DataEnd { dummy: true });
                    }
                } else {
                    if txn.failure.is_none() {
                        txn.failure = Some((Phase::Data, reply));
                    }
                    self.end_transaction(now, true);
                }
            }
            Pending::DataEnd { dummy } => {
                if dummy {
                    self.end_transaction(now, true);
                } else {
                    self.finish_transaction(ok, Phase::Message, reply);
                }
            }
            Pending::Bdat { last } => {
                txn.bdat_in_flight = txn.bdat_in_flight.saturating_sub(1);
                if last && txn.failure.is_none() {
                    // The final reply decides the message; no reset needed.
                    return self.finish_transaction(ok, Phase::Message, reply);
                }
                if !ok && txn.failure.is_none() {
                    // RFC 3030 §2: no more chunks; the state is indeterminate until RSET.
                    txn.failure = Some((Phase::Bdat, reply.clone()));
                    txn.streaming = false;
                    self.stale_ready |= std::mem::take(&mut txn.may_send);
                }
                if txn.failure.is_some() {
                    if !self
                        .pending
                        .iter()
                        .any(|p| matches!(p, Pending::Bdat { .. }))
                    {
                        self.end_transaction(now, true);
                    }
                    return;
                }
                if txn.streaming
                    && !txn.may_send
                    && !self
                        .pending
                        .iter()
                        .any(|p| matches!(p, Pending::Bdat { last: true }))
                {
                    self.data_ready(now);
                }
            }
            Pending::Rset => {
                if !ok {
                    // The session cannot go on; report what failed the message (a server that
                    // refuses MAIL before STARTTLS refuses the RSET after it too), not the RSET.
                    let (phase, reply) = txn.failure.take().unwrap_or((Phase::Rset, reply));
                    return self.fail(ClientError::Rejected { phase, reply });
                }
                let (phase, reply) = txn.failure.take().unwrap_or((Phase::Rset, reply));
                self.txn = None;
                self.state = State::Ready;
                self.out
                    .push_back(Output::Event(Event::MessageRejected { phase, reply }));
            }
            _ => {}
        }
    }

    fn next_rcpt(&mut self, now: Instant, index: usize) {
        let Some(cmd) = self.rcpt_commands.get(index).cloned() else {
            return;
        };
        self.send(now, &cmd, Pending::Rcpt(index));
    }

    /// Every RCPT answered (non-pipelined, or BDAT): DATA, the body, or the end.
    fn after_recipients(&mut self, now: Instant) {
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        if !txn.mail_ok || txn.accepted == 0 {
            self.end_transaction(now, true);
        } else if txn.bdat {
            self.data_ready(now);
        } else {
            self.send(now, &Command::Data, Pending::Data);
        }
    }

    /// Ends a failed transaction: RSET first when one may be open (the rejection is reported
    /// when RSET is answered), or at once.
    fn end_transaction(&mut self, now: Instant, reset: bool) {
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        // A `ReadyForData` the application holds but has not answered yet is now void.
        self.stale_ready |= txn.may_send;
        txn.streaming = false;
        txn.may_send = false;
        if reset {
            if txn.resetting {
                return;
            }
            txn.resetting = true;
            self.send(now, &Command::Rset, Pending::Rset);
        } else {
            let (phase, reply) = match txn.failure.take() {
                Some(f) => f,
                None => return,
            };
            self.txn = None;
            self.state = State::Ready;
            self.deadline = None;
            self.out
                .push_back(Output::Event(Event::MessageRejected { phase, reply }));
        }
    }

    fn finish_transaction(&mut self, ok: bool, phase: Phase, reply: Reply) {
        self.stale_ready |= self.txn.as_ref().is_some_and(|t| t.may_send);
        self.txn = None;
        self.state = State::Ready;
        self.deadline = None;
        self.rcpt_commands = Vec::new();
        self.out.push_back(Output::Event(if ok {
            Event::MessageAccepted { reply }
        } else {
            Event::MessageRejected { phase, reply }
        }));
    }
}
