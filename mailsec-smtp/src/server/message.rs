//! Message data: DATA (dot-stuffed, strict CRLF.CRLF) and BDAT chunks (RFC 3030).

use super::{AbortReason, Awaiting, BdatChunk, BdatRefusal, Event, Phase, Server};
use crate::data::{BdatDecoder, DataDecoder};
use crate::error::DataError;

impl Server {
    pub(super) fn data(&mut self) {
        let Some(env) = self.envelope.as_ref() else {
            return self.client_error(503, "5.5.1", "Need MAIL command");
        };
        if env.recipients == 0 {
            return self.client_error(554, "5.5.1", "No valid recipients");
        }
        if env.binary || env.bdat {
            return self.client_error(503, "5.5.1", "DATA not allowed with BINARYMIME or BDAT");
        }
        self.transmit("354 Start mail input; end with <CRLF>.<CRLF>\r\n".to_owned());
        self.in_message = true;
        self.phase = Phase::Data(
            DataDecoder::new(self.config.max_message_size).with_max_line(self.config.max_data_line),
        );
    }

    pub(super) fn end_data(&mut self, error: Option<DataError>, size: u64) {
        self.phase = Phase::Command;
        match error {
            None => {
                self.event(Event::MessageEnd { size });
                self.awaiting = Some(Awaiting::Message);
            }
            Some(e) => {
                self.drop_transaction(AbortReason::Data(e));
                match e {
                    DataError::MessageTooBig { .. } => self.say(
                        552,
                        "5.3.4",
                        "Message size exceeds fixed maximum message size",
                    ),
                    DataError::LineTooLong { .. } => self.say(500, "5.5.2", "Line too long"),
                    DataError::BareLf | DataError::BareCr => {
                        self.say(550, "5.5.2", "Bare CR or LF not allowed in message data")
                    }
                }
            }
        }
    }

    /// `BDAT n [LAST]` (RFC 3030 §2): the chunk is always read, even when refused, so that
    /// its bytes are never taken for commands.
    pub(super) fn bdat(&mut self, size: u64, last: bool) {
        let refusal = if !self.config.features.chunking {
            Some(self.refusal(502, "5.5.1", "BDAT not available", true))
        } else if self.tls_required_now() {
            Some(self.refusal(530, "5.7.0", "Must issue a STARTTLS command first", true))
        } else {
            match self.envelope.as_mut() {
                None => Some(self.refusal(503, "5.5.1", "Need MAIL command", true)),
                Some(env) if env.recipients == 0 => {
                    Some(self.refusal(554, "5.5.1", "No valid recipients", true))
                }
                Some(env) => match env.bdat_size.checked_add(size) {
                    Some(total) if total <= self.config.max_message_size => {
                        env.bdat_size = total;
                        env.bdat = true;
                        self.in_message = true;
                        None
                    }
                    _ => Some(BdatRefusal::TooBig),
                },
            }
        };
        self.phase = Phase::Bdat(BdatChunk {
            decoder: BdatDecoder::new(size),
            size,
            last,
            refusal,
        });
    }

    pub(super) fn refusal(
        &self,
        code: u16,
        enhanced: &str,
        text: &str,
        counted: bool,
    ) -> BdatRefusal {
        let line = if self.config.features.enhanced_status_codes {
            format!("{code} {enhanced} {text}\r\n")
        } else {
            format!("{code} {text}\r\n")
        };
        BdatRefusal::Reply { line, counted }
    }

    pub(super) fn end_bdat(&mut self) {
        let Phase::Bdat(chunk) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return;
        };
        match chunk.refusal {
            Some(BdatRefusal::TooBig) => {
                self.drop_transaction(AbortReason::TooBig {
                    limit: self.config.max_message_size,
                });
                self.say(
                    552,
                    "5.3.4",
                    "Message size exceeds fixed maximum message size",
                );
            }
            Some(BdatRefusal::Reply { line, counted }) => {
                self.transmit(line);
                if counted {
                    self.count_error();
                }
            }
            None if chunk.last => {
                let size = self.envelope.as_ref().map_or(0, |e| e.bdat_size);
                self.event(Event::MessageEnd { size });
                self.awaiting = Some(Awaiting::Message);
            }
            None => {
                let text = format!("{} octets received", chunk.size);
                self.say(250, "2.0.0", &text);
            }
        }
    }
}
