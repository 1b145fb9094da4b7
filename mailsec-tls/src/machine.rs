//! The one contract every mailsec client and server machine implements.
//!
//! A machine is a protocol state machine with no I/O: it is fed what arrived (plaintext as seen
//! above TLS), end of stream, expired deadlines and the news that TLS is up, and it answers through
//! a single ordered queue of [`Output`]s. Time is always passed in; a machine never reads a clock.
//!
//! One queue, rather than separate transmit and event queues, is what makes the STARTTLS cut
//! exact: a server's go-ahead (`220`, `OK`, `+OK`) is a [`Output::Transmit`] that must reach the
//! wire *in plaintext* before the [`Output::StartTls`] that follows it switches the connection to
//! TLS, and nothing queued after it may leave in clear.
//!
//! # Driving a machine
//!
//! After every input or intent call, drain [`Machine::poll_output`] until it returns `None`. A drive
//! loop over an in-memory "network" looks like this:
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use mailsec_tls::{Machine, Output, TlsInfo};
//!
//! /// A toy server: greets, then answers every line with `OK`.
//! struct Hello { out: std::collections::VecDeque<Output<String, std::io::Error>> }
//!
//! impl Machine for Hello {
//!     type Event = String;
//!     type Error = std::io::Error;
//!     fn handle_input(&mut self, _now: Instant, data: &[u8]) {
//!         let line = String::from_utf8_lossy(data).trim_end().to_owned();
//!         self.out.push_back(Output::Event(line));
//!         self.out.push_back(Output::Transmit(Bytes::from_static(b"OK\r\n")));
//!     }
//!     fn handle_eof(&mut self, _now: Instant) { self.out.push_back(Output::Close); }
//!     fn handle_timeout(&mut self, _now: Instant) {}
//!     fn handle_tls_established(&mut self, _now: Instant, _info: &TlsInfo) {}
//!     fn poll_output(&mut self) -> Option<Output<String, std::io::Error>> { self.out.pop_front() }
//!     fn poll_timeout(&self) -> Option<Instant> { None }
//! }
//!
//! let mut machine = Hello { out: Default::default() };
//! let mut wire = Vec::new();
//! let mut events = Vec::new();
//! machine.handle_input(Instant::now(), b"NOOP\r\n");
//! // The rule: drain until None after every call.
//! while let Some(output) = machine.poll_output() {
//!     match output {
//!         Output::Transmit(bytes) => wire.extend_from_slice(&bytes),
//!         Output::Event(event) => events.push(event),
//!         Output::StartTls => { /* flush `wire` in clear, then hand every later byte to TLS */ }
//!         Output::Close => break,
//!         Output::Error(error) => panic!("{error}"),
//!         _ => {} // `Output` is non-exhaustive: later versions may add outputs.
//!     }
//! }
//! assert_eq!(wire, b"OK\r\n");
//! assert_eq!(events, ["NOOP"]);
//! ```
//!
//! [`crate::Driver`] is that loop over a real socket, and [`crate::testing::Pair`] (feature
//! `testing`) is that loop between two machines in memory with real rustls between them.

use std::time::Instant;

use bytes::Bytes;

use crate::TlsInfo;

/// What a machine asks its driver to do, in the order it must happen.
#[derive(Debug)]
#[non_exhaustive]
pub enum Output<E, Err> {
    /// Bytes to send to the peer (plaintext; the driver encrypts them once TLS is up).
    Transmit(Bytes),
    /// Something the application should know or answer.
    Event(E),
    /// Everything transmitted so far goes out in clear; start the TLS handshake now and send every
    /// later byte through TLS. The driver reports success with
    /// [`Machine::handle_tls_established`].
    StartTls,
    /// Flush what was transmitted, then close the connection.
    Close,
    /// The session failed; a [`Output::Close`] follows. The error is for the application, the
    /// peer has already been told whatever the protocol allows.
    Error(Err),
}

impl<E, Err> Output<E, Err> {
    /// Maps the event of this output, keeping everything else.
    pub fn map_event<F, E2>(self, f: F) -> Output<E2, Err>
    where
        F: FnOnce(E) -> E2,
    {
        match self {
            Output::Transmit(b) => Output::Transmit(b),
            Output::Event(e) => Output::Event(f(e)),
            Output::StartTls => Output::StartTls,
            Output::Close => Output::Close,
            Output::Error(e) => Output::Error(e),
        }
    }
}

/// A Sans-IO protocol machine: bytes and time in, [`Output`]s out.
///
/// Intent methods (a client sending a command, a server answering an event) are inherent
/// methods of each machine; after calling one, drain [`Machine::poll_output`] as after any input.
pub trait Machine {
    /// Events the application receives.
    type Event;
    /// Errors that end the session.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Plaintext bytes received from the peer (already decrypted when TLS is up), in any chunking.
    fn handle_input(&mut self, now: Instant, data: &[u8]);
    /// The peer closed its sending side (or the transport ended).
    fn handle_eof(&mut self, now: Instant);
    /// Called when the deadline from [`Machine::poll_timeout`] has passed.
    fn handle_timeout(&mut self, now: Instant);
    /// The TLS handshake the machine asked for (or implicit TLS) completed and the certificate was
    /// verified as configured. Only a driver that did the handshake may call this.
    fn handle_tls_established(&mut self, now: Instant, info: &TlsInfo);
    /// The next output, in order. Drain until `None` after every call.
    fn poll_output(&mut self) -> Option<Output<Self::Event, Self::Error>>;
    /// The next instant at which [`Machine::handle_timeout`] must be called, if any.
    fn poll_timeout(&self) -> Option<Instant>;
}
