//! A client machine and a server machine connected in memory through real rustls, with a
//! virtual clock and a chosen chunking of every byte stream.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::{Machine, Output, Pipe, TlsError, TlsSetup};

/// How the bytes of one direction are cut before delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunking {
    /// Everything pending in one piece.
    Whole,
    /// One byte at a time.
    ByteByByte,
    /// The first delivery of each burst is cut after `n` bytes (then the rest whole): running a
    /// test for every `n` over a transcript splits it at every offset, inside CRLF included.
    SplitAt(usize),
    /// Pieces of `n` bytes.
    Every(usize),
}

impl Chunking {
    /// The whole / byte-at-a-time / a few fixed sizes: the chunkings every protocol test runs.
    pub const BASIC: [Chunking; 4] = [
        Chunking::Whole,
        Chunking::ByteByByte,
        Chunking::Every(2),
        Chunking::Every(7),
    ];

    fn cut(self, data: &[u8]) -> Vec<&[u8]> {
        match self {
            Chunking::Whole => vec![data],
            Chunking::ByteByByte => data.chunks(1).collect(),
            Chunking::Every(n) => data.chunks(n.max(1)).collect(),
            Chunking::SplitAt(n) if n > 0 && n < data.len() => vec![&data[..n], &data[n..]],
            Chunking::SplitAt(_) => vec![data],
        }
    }
}

/// Which way bytes travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    ClientToServer,
    /// Server to client.
    ServerToClient,
}

/// One side of a [`Pair`]: the machine, its pipe and everything it produced.
pub struct Side<M: Machine> {
    /// The machine under test.
    pub machine: M,
    pipe: Pipe,
    tls: TlsSetup,
    /// Events the machine produced, in order (take them with [`Side::take_events`]).
    pub events: Vec<M::Event>,
    /// Errors the machine reported.
    pub errors: Vec<M::Error>,
    /// TLS failures seen by this side's pipe.
    pub tls_errors: Vec<TlsError>,
    /// Every byte this side put on the wire, as a capture would show it.
    pub wire: Vec<u8>,
    /// How many times the machine was told TLS is up.
    pub tls_established: usize,
    /// Whether this side closed (after its machine said `Close`, or after a failure).
    pub closed: bool,
    eof_delivered: bool,
}

impl<M: Machine> std::fmt::Debug for Side<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Side")
            .field("pipe", &self.pipe)
            .field("events", &self.events.len())
            .field("errors", &self.errors.len())
            .field("tls_errors", &self.tls_errors)
            .field("closed", &self.closed)
            .finish()
    }
}

impl<M: Machine> Side<M> {
    fn new(machine: M, tls: TlsSetup, implicit: bool) -> Result<Self, TlsError> {
        let pipe = if implicit {
            Pipe::implicit_tls(tls.connection()?)
        } else {
            Pipe::plaintext()
        };
        Ok(Side {
            machine,
            pipe,
            tls,
            events: Vec::new(),
            errors: Vec::new(),
            tls_errors: Vec::new(),
            wire: Vec::new(),
            tls_established: 0,
            closed: false,
            eof_delivered: false,
        })
    }

    /// Whether this side's connection is secure (handshake done, certificate verified).
    pub fn is_secure(&self) -> bool {
        self.pipe.is_secure()
    }

    /// The events so far, leaving the list empty.
    pub fn take_events(&mut self) -> Vec<M::Event> {
        std::mem::take(&mut self.events)
    }

    /// Whether the session failed (a machine error or a TLS error).
    pub fn failed(&self) -> bool {
        !self.errors.is_empty() || !self.tls_errors.is_empty()
    }

    /// Drains the machine's outputs; returns whether any came out.
    fn drain(&mut self) -> bool {
        let mut any = false;
        while let Some(output) = self.machine.poll_output() {
            any = true;
            match output {
                Output::Transmit(bytes) => {
                    if self.closed {
                        continue;
                    }
                    if let Err(err) = self.pipe.send_plaintext(&bytes) {
                        self.tls_errors.push(err);
                        self.closed = true;
                    }
                }
                Output::Event(event) => self.events.push(event),
                Output::StartTls => {
                    let result = self.tls.connection().and_then(|c| self.pipe.start_tls(c));
                    if let Err(err) = result {
                        self.tls_errors.push(err);
                        self.closed = true;
                    }
                }
                Output::Close => {
                    if !self.closed {
                        self.pipe.close();
                        self.closed = true;
                    }
                }
                Output::Error(err) => self.errors.push(err),
            }
        }
        any
    }

    /// Wire bytes this side wants to send (recorded in the capture).
    fn take_wire(&mut self) -> Bytes {
        let bytes = self.pipe.take_wire();
        self.wire.extend_from_slice(&bytes);
        bytes
    }

    /// Delivers one chunk from the peer, then lets the machine react (as a driver does after
    /// each read), so a STARTTLS cut takes effect before the next chunk arrives.
    fn receive(&mut self, now: Instant, chunk: &[u8]) {
        if self.closed {
            return;
        }
        if let Err(err) = self.pipe.recv_wire(chunk) {
            self.tls_errors.push(err);
            self.closed = true;
            return;
        }
        if let Some(info) = self.pipe.take_established() {
            self.tls_established += 1;
            self.machine.handle_tls_established(now, &info);
        }
        let plaintext = self.pipe.take_plaintext();
        if !plaintext.is_empty() {
            self.machine.handle_input(now, &plaintext);
        }
        if self.pipe.peer_closed() {
            self.deliver_eof(now);
        }
        self.drain();
    }

    fn deliver_eof(&mut self, now: Instant) {
        if !self.eof_delivered && !self.closed {
            self.eof_delivered = true;
            self.machine.handle_eof(now);
        }
    }
}

/// A client and a server machine talking through two [`Pipe`]s in memory.
///
/// ```
/// use mailsec_tls::testing::{Chunking, Pair, TestPki};
/// use mailsec_tls::testing::toy::{ToyClient, ToyEvent, ToyServer};
/// use mailsec_tls::{ClientTls, ServerPolicy};
///
/// let pki = TestPki::new("mail.example.test");
/// let mut pair = Pair::new(
///     ToyClient::new(ClientTls::StartTlsRequired),
///     ToyServer::new(ServerPolicy::starttls_required()),
///     &pki,
/// );
/// pair.set_chunking(Chunking::ByteByByte);
/// pair.run();
/// assert!(pair.client.is_secure() && pair.server.is_secure());
/// assert!(pair.client.take_events().contains(&ToyEvent::Ready));
/// ```
pub struct Pair<C: Machine, S: Machine> {
    /// The client side.
    pub client: Side<C>,
    /// The server side.
    pub server: Side<S>,
    now: Instant,
    chunking: Chunking,
}

impl<C: Machine, S: Machine> std::fmt::Debug for Pair<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("client", &self.client)
            .field("server", &self.server)
            .field("chunking", &self.chunking)
            .finish()
    }
}

/// Bound on delivery rounds in one [`Pair::run`], so a machine that loops forever fails the
/// test instead of hanging it.
const MAX_ROUNDS: usize = 100_000;

impl<C: Machine, S: Machine> Pair<C, S> {
    /// A pair that starts in clear, with TLS configured from `pki` for STARTTLS.
    pub fn new(client: C, server: S, pki: &super::TestPki) -> Self {
        Pair::with_tls(
            client,
            pki.client_setup(),
            server,
            pki.server_setup(),
            false,
        )
    }

    /// A pair that is TLS from the first byte.
    pub fn implicit_tls(client: C, server: S, pki: &super::TestPki) -> Self {
        Pair::with_tls(client, pki.client_setup(), server, pki.server_setup(), true)
    }

    /// A pair with explicit TLS setups (a wrong name, another CA, …).
    ///
    /// # Panics
    /// If `implicit` and a setup cannot make a connection (a broken test configuration).
    pub fn with_tls(
        client: C,
        client_tls: TlsSetup,
        server: S,
        server_tls: TlsSetup,
        implicit: bool,
    ) -> Self {
        fn side<M: Machine>(result: Result<Side<M>, TlsError>) -> Side<M> {
            match result {
                Ok(side) => side,
                Err(err) => panic!("test pair: TLS setup failed: {err}"),
            }
        }
        Pair {
            client: side(Side::new(client, client_tls, implicit)),
            server: side(Side::new(server, server_tls, implicit)),
            now: Instant::now(),
            chunking: Chunking::Whole,
        }
    }

    /// How bytes are cut from now on.
    pub fn set_chunking(&mut self, chunking: Chunking) {
        self.chunking = chunking;
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Runs both machines until neither has anything more to do.
    ///
    /// # Panics
    /// If the machines keep producing output for 100 000 rounds (a machine that never settles).
    pub fn run(&mut self) {
        for _ in 0..MAX_ROUNDS {
            let mut progress = self.client.drain() | self.server.drain();
            progress |= self.transfer(Direction::ClientToServer);
            progress |= self.transfer(Direction::ServerToClient);
            progress |= self.propagate_close();
            if !progress {
                return;
            }
        }
        panic!("test pair: machines did not settle after {MAX_ROUNDS} rounds");
    }

    /// Moves the virtual clock forward, fires due deadlines, and runs.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        if self.client.machine.poll_timeout().is_some_and(|t| t <= now) {
            self.client.machine.handle_timeout(now);
        }
        if self.server.machine.poll_timeout().is_some_and(|t| t <= now) {
            self.server.machine.handle_timeout(now);
        }
        self.run();
    }

    /// Delivers raw bytes to one side as if its peer had sent them (for injection tests:
    /// bytes a meddler adds to the stream), then runs.
    pub fn inject(&mut self, to: Direction, bytes: &[u8]) {
        let now = self.now;
        for chunk in self.chunking.cut(bytes) {
            match to {
                Direction::ClientToServer => self.server.receive(now, chunk),
                Direction::ServerToClient => self.client.receive(now, chunk),
            }
        }
        self.run();
    }

    fn transfer(&mut self, direction: Direction) -> bool {
        let now = self.now;
        let bytes = match direction {
            Direction::ClientToServer => self.client.take_wire(),
            Direction::ServerToClient => self.server.take_wire(),
        };
        if bytes.is_empty() {
            return false;
        }
        for chunk in self.chunking.cut(&bytes) {
            match direction {
                Direction::ClientToServer => self.server.receive(now, chunk),
                Direction::ServerToClient => self.client.receive(now, chunk),
            }
        }
        true
    }

    /// A side that closed (and flushed) makes its peer see end of stream.
    fn propagate_close(&mut self) -> bool {
        let now = self.now;
        let mut progress = false;
        if self.client.closed && !self.client.pipe.has_wire() && !self.server.eof_delivered {
            self.server.deliver_eof(now);
            self.server.eof_delivered = true;
            progress = true;
        }
        if self.server.closed && !self.server.pipe.has_wire() && !self.client.eof_delivered {
            self.client.deliver_eof(now);
            self.client.eof_delivered = true;
            progress = true;
        }
        progress
    }
}
