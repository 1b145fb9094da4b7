//! The Pipe: one connection's bytes, in clear or through rustls, with no socket inside.
//!
//! Wire bytes go in with [`Pipe::recv_wire`] and come out with [`Pipe::take_wire`]; the
//! protocol machine's plaintext comes out with [`Pipe::take_plaintext`] and goes in with
//! [`Pipe::send_plaintext`]. The same four calls serve a plaintext connection, implicit TLS and a
//! connection upgraded with STARTTLS, so a driver never branches on the mode.
//!
//! The upgrade ([`Pipe::start_tls`]) is the clean cut of RFC 3207 §4.2, RFC 2595 §3.1 and RFC
//! 9051 §6.2.1: it is refused while any received plaintext has not been taken by the machine,
//! because such bytes arrived before the handshake and must never be read as if they came over
//! TLS. Every byte received after the cut goes to rustls only; plaintext queued for sending before
//! the cut (the server's go-ahead) leaves first and in clear.
//!
//! ```
//! # fn main() -> Result<(), mailsec_tls::TlsError> {
//! use mailsec_tls::{Pipe, testing::TestPki};
//!
//! let pki = TestPki::new("mail.example.test");
//! let (client_tls, server_tls) = pki.configs();
//! let mut client = Pipe::plaintext();
//! let mut server = Pipe::plaintext();
//!
//! // Plaintext phase: the server's go-ahead crosses in clear.
//! server.send_plaintext(b"220 Go ahead\r\n")?;
//! client.recv_wire(&server.take_wire())?;
//! assert_eq!(&client.take_plaintext()[..], b"220 Go ahead\r\n");
//!
//! // The cut: both sides switch with nothing pending.
//! client.start_tls(client_tls.connect("mail.example.test")?)?;
//! server.start_tls(server_tls.accept()?)?;
//! while client.is_handshaking() || server.is_handshaking() {
//!     server.recv_wire(&client.take_wire())?;
//!     client.recv_wire(&server.take_wire())?;
//! }
//! assert!(client.take_established().is_some());
//!
//! client.send_plaintext(b"EHLO client.example.test\r\n")?;
//! let wire = client.take_wire();
//! assert!(!wire.windows(4).any(|w| w == b"EHLO"), "encrypted on the wire");
//! server.recv_wire(&wire)?;
//! assert_eq!(&server.take_plaintext()[..], b"EHLO client.example.test\r\n");
//! # Ok(()) }
//! ```

use std::io::{BufRead, Write};

use bytes::{BufMut, Bytes, BytesMut};

use crate::info::{TlsInfo, TlsVersion};
use crate::{TlsConnection, TlsError};

/// Default bound on received plaintext not yet taken by the machine.
pub const DEFAULT_MAX_PENDING_PLAINTEXT: usize = 1 << 20;

enum Mode {
    Plain,
    Tls(Box<TlsConnection>),
}

/// A connection's byte plumbing: plaintext, implicit TLS, or upgraded at a STARTTLS cut.
pub struct Pipe {
    mode: Mode,
    /// Received plaintext not yet taken by the machine.
    plain_in: BytesMut,
    /// Bytes for the wire (plaintext before the cut, TLS records after).
    wire_out: BytesMut,
    max_pending_plaintext: usize,
    /// Whether the finished handshake has been reported by [`Pipe::take_established`].
    established_reported: bool,
    /// The peer closed its side: plaintext EOF is the driver's business, TLS close_notify ours.
    peer_closed: bool,
    /// We sent close_notify, or TLS failed: nothing more may be sent, nothing is secure.
    closed: bool,
}

impl std::fmt::Debug for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipe")
            .field("tls", &self.is_tls())
            .field("handshaking", &self.is_handshaking())
            .field("pending_plaintext", &self.plain_in.len())
            .field("pending_wire", &self.wire_out.len())
            .finish()
    }
}

impl Default for Pipe {
    fn default() -> Self {
        Pipe::plaintext()
    }
}

impl Pipe {
    /// A connection that starts in clear (and may upgrade with [`Pipe::start_tls`]).
    pub fn plaintext() -> Self {
        Pipe {
            mode: Mode::Plain,
            plain_in: BytesMut::new(),
            wire_out: BytesMut::new(),
            max_pending_plaintext: DEFAULT_MAX_PENDING_PLAINTEXT,
            established_reported: false,
            peer_closed: false,
            closed: false,
        }
    }

    /// A connection that is TLS from its first byte (ports 465, 993, 995).
    pub fn implicit_tls(conn: TlsConnection) -> Self {
        let mut pipe = Pipe::plaintext();
        pipe.mode = Mode::Tls(Box::new(conn));
        pipe.pull_tls_output();
        pipe
    }

    /// Sets the bound on received plaintext not yet taken ([`TlsError::BufferFull`] past it).
    pub fn set_max_pending_plaintext(&mut self, limit: usize) {
        self.max_pending_plaintext = limit;
    }

    /// Whether TLS has been started (handshake under way or done).
    pub fn is_tls(&self) -> bool {
        matches!(self.mode, Mode::Tls(_))
    }

    /// Whether a TLS handshake is under way.
    pub fn is_handshaking(&self) -> bool {
        match &self.mode {
            Mode::Plain => false,
            Mode::Tls(tls) => tls.conn.is_handshaking(),
        }
    }

    /// Whether the connection is secure: TLS is up and the handshake (with its certificate
    /// verification) completed.
    pub fn is_secure(&self) -> bool {
        self.is_tls() && !self.is_handshaking() && !self.closed
    }

    /// Whether the peer closed its sending side inside TLS (close_notify received).
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// Bytes received from the network.
    ///
    /// In clear they become plaintext at once. Under TLS they are decrypted; a handshake or
    /// record error is returned typed, and any alert rustls wants to send is queued for the
    /// wire first so the peer learns why.
    pub fn recv_wire(&mut self, mut data: &[u8]) -> Result<(), TlsError> {
        let limit = self.max_pending_plaintext;
        let tls = match &mut self.mode {
            Mode::Plain => {
                // Checked before memory is reserved.
                if self.plain_in.len() + data.len() > limit {
                    return Err(TlsError::BufferFull { limit });
                }
                self.plain_in.extend_from_slice(data);
                return Ok(());
            }
            Mode::Tls(tls) => tls,
        };
        while !data.is_empty() {
            if self.peer_closed {
                // RFC 8446 §6.1: data received after a closure alert MUST be ignored (rustls
                // reads no more after close_notify, which the check below would misreport).
                break;
            }
            let read = tls.conn.read_tls(&mut data).map_err(|e| {
                TlsError::Protocol(rustls::Error::General(format!("TLS input rejected: {e}")))
            })?;
            let state = match tls.conn.process_new_packets() {
                Ok(state) => state,
                Err(err) => {
                    let mapped = TlsError::from_rustls(err, tls.expected_name.as_deref());
                    self.closed = true;
                    self.pull_tls_output();
                    return Err(mapped);
                }
            };
            let available = state.plaintext_bytes_to_read();
            if self.plain_in.len() + available > limit {
                return Err(TlsError::BufferFull { limit });
            }
            // Copy the decrypted chunks straight out of rustls (BufRead: no zero-filled
            // intermediate buffer).
            let mut reader = tls.conn.reader();
            let mut remaining = available;
            while remaining > 0 {
                let chunk = reader.fill_buf().map_err(|e| {
                    TlsError::Protocol(rustls::Error::General(format!("plaintext read: {e}")))
                })?;
                if chunk.is_empty() {
                    break;
                }
                let n = chunk.len().min(remaining);
                self.plain_in.extend_from_slice(&chunk[..n]);
                reader.consume(n);
                remaining -= n;
            }
            if state.peer_has_closed() {
                self.peer_closed = true;
            }
            if read == 0 && available == 0 {
                // rustls accepted nothing and produced nothing: its buffer is full of a record
                // it cannot finish, which cannot happen with a conforming peer.
                return Err(TlsError::BufferFull { limit: data.len() });
            }
        }
        self.pull_tls_output();
        Ok(())
    }

    /// All plaintext received and not yet taken, in order.
    pub fn take_plaintext(&mut self) -> Bytes {
        self.plain_in.split().freeze()
    }

    /// Whether received plaintext is waiting to be taken.
    pub fn has_plaintext(&self) -> bool {
        !self.plain_in.is_empty()
    }

    /// Queues plaintext for the peer: as is in clear, encrypted under TLS (buffered by rustls
    /// until the handshake completes).
    /// Fails with [`TlsError::Closed`] after [`Pipe::close`] or a TLS failure.
    pub fn send_plaintext(&mut self, data: &[u8]) -> Result<(), TlsError> {
        if self.closed {
            return Err(TlsError::Closed);
        }
        match &mut self.mode {
            Mode::Plain => self.wire_out.extend_from_slice(data),
            Mode::Tls(tls) => {
                // rustls holds at most RUSTLS_BUFFER_LIMIT bytes of records (or, before the
                // handshake, of plaintext) and takes what fits: move the records out between
                // writes so a large message goes through whole.
                let mut rest = data;
                while !rest.is_empty() {
                    let taken = tls.conn.writer().write(rest).map_err(|e| {
                        TlsError::Protocol(rustls::Error::General(format!("plaintext write: {e}")))
                    })?;
                    drain_tls(&mut tls.conn, &mut self.wire_out);
                    if taken == 0 {
                        // Only before the handshake: the plaintext waiting for it is bounded.
                        return Err(TlsError::BufferFull {
                            limit: RUSTLS_BUFFER_LIMIT,
                        });
                    }
                    rest = &rest[taken..];
                }
            }
        }
        Ok(())
    }

    /// Everything queued for the wire, in order.
    pub fn take_wire(&mut self) -> Bytes {
        self.wire_out.split().freeze()
    }

    /// Whether bytes are waiting for the wire.
    pub fn has_wire(&self) -> bool {
        !self.wire_out.is_empty()
    }

    /// How many bytes are waiting for the wire.
    pub fn wire_len(&self) -> usize {
        self.wire_out.len()
    }

    /// The STARTTLS cut: from now on every received byte goes to rustls and every sent byte
    /// through it. Wire bytes already queued (the go-ahead) still leave first, in clear.
    ///
    /// Refused with [`TlsError::PlaintextPending`] while received plaintext has not been taken:
    /// bytes that arrived before the handshake must not be read as if they came over TLS. (The
    /// protocol machine performs the same check on its own buffers; this is the second lock.)
    pub fn start_tls(&mut self, conn: TlsConnection) -> Result<(), TlsError> {
        if self.is_tls() {
            return Err(TlsError::AlreadyTls);
        }
        if !self.plain_in.is_empty() {
            return Err(TlsError::PlaintextPending {
                pending: self.plain_in.len(),
            });
        }
        self.mode = Mode::Tls(Box::new(conn));
        self.pull_tls_output();
        Ok(())
    }

    /// The session facts, once the handshake is complete; `None` before and in clear.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        let Mode::Tls(tls) = &self.mode else {
            return None;
        };
        if tls.conn.is_handshaking() {
            return None;
        }
        let conn = &tls.conn;
        let version = match conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => TlsVersion::Tls13,
            rustls::ProtocolVersion::TLSv1_2 => TlsVersion::Tls12,
            _ => return None,
        };
        let suite = conn.negotiated_cipher_suite()?.suite();
        let server_name = match conn {
            rustls::Connection::Client(_) => tls.expected_name.clone(),
            rustls::Connection::Server(server) => server.server_name().map(str::to_owned),
        };
        Some(TlsInfo {
            version,
            cipher_suite: suite
                .as_str()
                .map_or_else(|| format!("{suite:?}"), str::to_owned),
            peer_certificates: conn
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
                .unwrap_or_default(),
            server_name,
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        })
    }

    /// The session facts exactly once, the first time this is called after the handshake has
    /// completed. A driver calls it after every [`Pipe::recv_wire`] to learn when to tell the
    /// machine that TLS is up.
    pub fn take_established(&mut self) -> Option<TlsInfo> {
        if self.established_reported {
            return None;
        }
        let info = self.tls_info()?;
        self.established_reported = true;
        Some(info)
    }

    /// Queues a TLS close_notify alert (nothing in clear); nothing more may be sent after it.
    pub fn close(&mut self) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        if let Mode::Tls(tls) = &mut self.mode {
            tls.conn.send_close_notify();
            self.pull_tls_output();
        }
    }

    /// Moves whatever rustls wants to send into the wire buffer.
    fn pull_tls_output(&mut self) {
        let Mode::Tls(tls) = &mut self.mode else {
            return;
        };
        drain_tls(&mut tls.conn, &mut self.wire_out);
    }
}

/// rustls's default bound on buffered records, and on plaintext written before the handshake.
const RUSTLS_BUFFER_LIMIT: usize = 64 * 1024;

/// Moves whatever `conn` wants to send into `out`.
fn drain_tls(conn: &mut rustls::Connection, out: &mut BytesMut) {
    let mut writer = out.writer();
    while conn.wants_write() {
        // Writing into memory cannot fail or stall.
        match conn.write_tls(&mut writer) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}
