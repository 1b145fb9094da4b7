//! Runs any [`Machine`] over a `futures_io` byte stream, with TLS, STARTTLS and deadlines.
//!
//! The driver owns the socket, a [`Pipe`] and the machine. The application pulls events with
//! [`Driver::next_event`] and answers them (or issues commands) through
//! [`Driver::machine_mut`]; the next call to `next_event` (or [`Driver::flush`]) carries the
//! machine's outputs to the wire in order.
//!
//! One `poll` step writes what is pending, reads what has arrived and watches the machine's
//! deadline together, so a peer that stops reading cannot stall a read, and a machine deadline
//! fires even while both directions are idle. While more than
//! [`Driver::set_max_pending_wire`] bytes wait to be written, the driver neither reads nor takes
//! more output from the machine, which bounds memory when a peer pipelines requests without
//! reading the answers or when a machine queues a large answer.
//!
//! tokio streams go through `tokio_util::compat` (`TcpStream::compat()`); smol's `Async<TcpStream>`
//! and `smol::net::TcpStream` implement the `futures_io` traits directly.
//!
//! ```no_run
//! # #[cfg(feature = "tokio")]
//! # async fn example(pki: mailsec_tls::testing::TestPki) -> Result<(), Box<dyn std::error::Error>> {
//! use mailsec_tls::driver::{Driver, TokioTimer};
//! use mailsec_tls::testing::toy::{ToyClient, ToyEvent};
//! use mailsec_tls::{ClientTls, TlsSetup};
//! use tokio_util::compat::TokioAsyncReadCompatExt;
//!
//! let stream = tokio::net::TcpStream::connect("127.0.0.1:1143").await?.compat();
//! let tls = TlsSetup::Client { config: pki.client_config(), server_name: pki.name().into() };
//! let machine = ToyClient::new(ClientTls::StartTlsRequired);
//! let mut driver = Driver::new(machine, stream, TokioTimer, Some(tls));
//! while let Some(event) = driver.next_event().await? {
//!     if let ToyEvent::Ready = event {
//!         driver.machine_mut().send_line("QUIT");
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use futures_io::{AsyncRead, AsyncWrite};

use crate::{Machine, Output, Pipe, TlsError, TlsInfo, TlsSetup};

/// Default bound on bytes waiting to be written before the driver stops reading (and stops
/// taking output from the machine).
pub const DEFAULT_MAX_PENDING_WIRE: usize = 256 * 1024;

/// How long closing may take to flush the last bytes before the socket is dropped anyway.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// A source of sleeps, so the driver honours deadlines under any runtime.
pub trait Timer {
    /// The future returned by [`Timer::sleep_until`].
    type Sleep: Future;
    /// A future that completes at `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;
}

/// tokio's timer (feature `tokio`; needs a tokio runtime with time enabled).
#[cfg(feature = "tokio")]
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioTimer;

#[cfg(feature = "tokio")]
impl Timer for TokioTimer {
    type Sleep = tokio::time::Sleep;
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        tokio::time::sleep_until(deadline.into())
    }
}

/// async-io's timer, as used by smol (feature `smol`).
#[cfg(feature = "smol")]
#[derive(Clone, Copy, Debug, Default)]
pub struct SmolTimer;

#[cfg(feature = "smol")]
impl Timer for SmolTimer {
    type Sleep = async_io::Timer;
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        async_io::Timer::at(deadline)
    }
}

/// Why a driven session ended abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError<E: std::error::Error + 'static> {
    /// The machine reported a protocol error (it has already told the peer what it could).
    #[error("protocol error: {0}")]
    Machine(#[source] E),
    /// TLS failed: handshake, certificate, record or configuration.
    #[error("TLS error: {0}")]
    Tls(#[source] TlsError),
    /// The socket failed.
    #[error("I/O error: {0}")]
    Io(#[source] io::Error),
    /// The machine asked for STARTTLS but the driver was given no TLS configuration.
    #[error("the machine asked for TLS but no TLS configuration was given")]
    NoTlsConfig,
}

/// The answer of a write step that the stream blocked: progress so far, or wait.
fn blocked(progressed: bool) -> Poll<io::Result<bool>> {
    if progressed {
        Poll::Ready(Ok(true))
    } else {
        Poll::Pending
    }
}

/// What one poll step achieved.
enum Step {
    Read(usize),
    Eof,
    Timeout,
    Wrote,
}

/// Runs a [`Machine`] over an `AsyncRead + AsyncWrite` stream. See the [module docs](self).
pub struct Driver<M: Machine, S, T: Timer> {
    machine: M,
    stream: S,
    timer: T,
    pipe: Pipe,
    tls: Option<TlsSetup>,
    events: VecDeque<M::Event>,
    failure: Option<DriverError<M::Error>>,
    /// Wire bytes taken from the pipe and not yet accepted by the stream.
    writing: Bytes,
    needs_flush: bool,
    read_buf: Box<[u8]>,
    read_eof: bool,
    eof_delivered: bool,
    closing: bool,
    closed: bool,
    max_pending_wire: usize,
    close_timeout: Duration,
    sleep: Option<(Instant, Pin<Box<T::Sleep>>)>,
}

impl<M, S, T> std::fmt::Debug for Driver<M, S, T>
where
    M: Machine,
    T: Timer,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("pipe", &self.pipe)
            .field("pending_events", &self.events.len())
            .field("closing", &self.closing)
            .field("closed", &self.closed)
            .finish()
    }
}

impl<M, S, T> Driver<M, S, T>
where
    M: Machine,
    S: AsyncRead + AsyncWrite + Unpin,
    T: Timer,
{
    /// A driver for a connection that starts in clear. `tls` is used if the machine asks for
    /// STARTTLS; without it such a request ends the session with [`DriverError::NoTlsConfig`].
    pub fn new(machine: M, stream: S, timer: T, tls: Option<TlsSetup>) -> Self {
        Driver::with_pipe(machine, stream, timer, tls, Pipe::plaintext())
    }

    /// A driver for an implicit-TLS connection (ports 465, 993, 995): the handshake starts at
    /// once and the machine is told with [`Machine::handle_tls_established`] when it is done.
    pub fn implicit_tls(machine: M, stream: S, timer: T, tls: TlsSetup) -> Result<Self, TlsError> {
        let pipe = Pipe::implicit_tls(tls.connection()?);
        Ok(Driver::with_pipe(machine, stream, timer, Some(tls), pipe))
    }

    fn with_pipe(machine: M, stream: S, timer: T, tls: Option<TlsSetup>, pipe: Pipe) -> Self {
        Driver {
            machine,
            stream,
            timer,
            pipe,
            tls,
            events: VecDeque::new(),
            failure: None,
            writing: Bytes::new(),
            needs_flush: false,
            read_buf: vec![0; 16 * 1024 + 256].into_boxed_slice(),
            read_eof: false,
            eof_delivered: false,
            closing: false,
            closed: false,
            max_pending_wire: DEFAULT_MAX_PENDING_WIRE,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            sleep: None,
        }
    }

    /// Sets how many bytes may wait for the socket before the driver stops reading and stops
    /// taking output from the machine.
    pub fn set_max_pending_wire(&mut self, limit: usize) {
        self.max_pending_wire = limit.max(1);
    }

    /// Sets how long closing may spend flushing.
    pub fn set_close_timeout(&mut self, timeout: Duration) {
        self.close_timeout = timeout;
    }

    /// The machine, to read its state.
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// The machine, to call its intent methods. Their outputs are carried out by the next
    /// [`Driver::next_event`] or [`Driver::flush`].
    pub fn machine_mut(&mut self) -> &mut M {
        &mut self.machine
    }

    /// Whether the connection is secure (TLS handshake done and the certificate verified).
    pub fn is_secure(&self) -> bool {
        self.pipe.is_secure()
    }

    /// Facts about the TLS session, once it is established.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        self.pipe.tls_info()
    }

    /// The machine and the stream, for a caller that takes over.
    pub fn into_parts(self) -> (M, S) {
        (self.machine, self.stream)
    }

    /// The next event of the machine, doing whatever I/O it takes to get one.
    ///
    /// `Ok(None)` means the session ended in order: the machine closed (after its last bytes
    /// were flushed) or the peer went away and the machine had nothing more to say. Events queued
    /// before a failure are returned before the error.
    pub async fn next_event(&mut self) -> Result<Option<M::Event>, DriverError<M::Error>> {
        loop {
            self.drain_machine();
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(event));
            }
            if let Some(failure) = self.failure.take() {
                // Best effort: the machine's last words (and any TLS alert) still go out.
                self.closing = true;
                let _ = self.shut_down().await;
                return Err(failure);
            }
            if self.closing || self.closed {
                // The session ended in order; a peer that is already gone (reset, not
                // connected) when the last bytes or the close_notify go out changes nothing.
                let _ = self.shut_down().await;
                return Ok(None);
            }
            if self.read_eof && !self.pipe.has_wire() && self.writing.is_empty() {
                // The peer is gone and the machine answered the EOF without closing.
                self.closing = true;
                continue;
            }
            self.io_step().await?;
        }
    }

    /// Carries out the machine's pending outputs and writes every pending byte.
    pub async fn flush(&mut self) -> Result<(), DriverError<M::Error>> {
        loop {
            let more = self.drain_machine();
            if let Some(failure) = self.failure.take() {
                return Err(failure);
            }
            poll_fn(|cx| self.poll_write_all(cx))
                .await
                .map_err(DriverError::Io)?;
            if !more {
                return Ok(());
            }
        }
    }

    /// Moves the machine's outputs to the pipe and the event queue, in order.
    ///
    /// Stops while more than [`Driver::set_max_pending_wire`] bytes wait for the socket, so a
    /// machine that queues a large answer is drained only as fast as the peer reads; returns
    /// whether it stopped for that reason (outputs may remain in the machine).
    fn drain_machine(&mut self) -> bool {
        loop {
            if self.backlog() >= self.max_pending_wire {
                return true;
            }
            let Some(output) = self.machine.poll_output() else {
                return false;
            };
            match output {
                Output::Transmit(bytes) => {
                    if self.closed || self.failure.is_some() {
                        continue;
                    }
                    if let Err(err) = self.pipe.send_plaintext(&bytes) {
                        self.fail(DriverError::Tls(err));
                    }
                }
                Output::Event(event) => self.events.push_back(event),
                Output::StartTls => self.start_tls(),
                Output::Close => self.closing = true,
                Output::Error(err) => self.fail(DriverError::Machine(err)),
            }
        }
    }

    /// Bytes waiting for the socket.
    fn backlog(&self) -> usize {
        self.writing.len() + self.pipe.wire_len()
    }

    fn fail(&mut self, err: DriverError<M::Error>) {
        if self.failure.is_none() {
            self.failure = Some(err);
        }
    }

    fn start_tls(&mut self) {
        let Some(tls) = &self.tls else {
            self.fail(DriverError::NoTlsConfig);
            return;
        };
        let result = tls.connection().and_then(|conn| self.pipe.start_tls(conn));
        if let Err(err) = result {
            self.fail(DriverError::Tls(err));
        }
    }

    /// One round of I/O: whatever of write, read and timer is ready first.
    async fn io_step(&mut self) -> Result<(), DriverError<M::Error>> {
        self.arm_timer();
        let step = poll_fn(|cx| self.poll_io(cx))
            .await
            .map_err(DriverError::Io)?;
        let now = Instant::now();
        match step {
            Step::Wrote => {}
            Step::Timeout => self.machine.handle_timeout(now),
            Step::Eof => self.deliver_eof(now),
            Step::Read(n) => {
                if let Err(err) = self.pipe.recv_wire(&self.read_buf[..n]) {
                    self.fail(DriverError::Tls(err));
                    return Ok(());
                }
                if let Some(info) = self.pipe.take_established() {
                    self.machine.handle_tls_established(now, &info);
                }
                let plaintext = self.pipe.take_plaintext();
                if !plaintext.is_empty() {
                    self.machine.handle_input(now, &plaintext);
                }
                if self.pipe.peer_closed() {
                    self.read_eof = true;
                    self.deliver_eof(now);
                }
            }
        }
        Ok(())
    }

    fn deliver_eof(&mut self, now: Instant) {
        if !self.eof_delivered {
            self.eof_delivered = true;
            self.machine.handle_eof(now);
        }
    }

    /// Keeps one sleep armed for the machine's current deadline.
    fn arm_timer(&mut self) {
        match self.machine.poll_timeout() {
            None => self.sleep = None,
            Some(deadline) => {
                if self.sleep.as_ref().map(|(at, _)| *at) != Some(deadline) {
                    self.sleep = Some((deadline, Box::pin(self.timer.sleep_until(deadline))));
                }
            }
        }
    }

    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Step>> {
        let wrote = match self.poll_write_some(cx) {
            Poll::Ready(Ok(wrote)) => wrote,
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Pending => false,
        };
        if !self.read_eof && self.backlog() < self.max_pending_wire {
            match Pin::new(&mut self.stream).poll_read(cx, &mut self.read_buf) {
                Poll::Ready(Ok(0)) => {
                    self.read_eof = true;
                    return Poll::Ready(Ok(Step::Eof));
                }
                Poll::Ready(Ok(n)) => return Poll::Ready(Ok(Step::Read(n))),
                Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {
                    cx.waker().wake_by_ref();
                }
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => {}
            }
        }
        if let Some((_, sleep)) = &mut self.sleep {
            if sleep.as_mut().poll(cx).is_ready() {
                self.sleep = None;
                return Poll::Ready(Ok(Step::Timeout));
            }
        }
        if wrote {
            Poll::Ready(Ok(Step::Wrote))
        } else {
            Poll::Pending
        }
    }

    /// Writes (and flushes) as much as the stream takes now: `Ready(true)` if anything moved,
    /// `Ready(false)` if nothing is pending at all, `Pending` if the stream is blocked.
    fn poll_write_some(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let mut progressed = false;
        loop {
            if self.writing.is_empty() {
                if !self.pipe.has_wire() {
                    break;
                }
                self.writing = self.pipe.take_wire();
            }
            match Pin::new(&mut self.stream).poll_write(cx, &self.writing) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.writing.advance(n);
                    self.needs_flush = true;
                    progressed = true;
                }
                Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return blocked(progressed),
            }
        }
        if self.needs_flush {
            match Pin::new(&mut self.stream).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.needs_flush = false;
                    progressed = true;
                }
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return blocked(progressed),
            }
        }
        Poll::Ready(Ok(progressed))
    }

    /// Writes and flushes everything pending.
    fn poll_write_all(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match self.poll_write_some(cx) {
                Poll::Ready(Ok(true)) => continue,
                Poll::Ready(Ok(false)) => return Poll::Ready(Ok(())),
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Flushes the last bytes (with a TLS close_notify) and closes the stream, within the close
    /// timeout.
    async fn shut_down(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        self.pipe.close();
        let mut deadline = Box::pin(self.timer.sleep_until(Instant::now() + self.close_timeout));
        poll_fn(|cx| {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
            }
            match self.poll_write_all(cx) {
                Poll::Ready(Ok(())) => Pin::new(&mut self.stream).poll_close(cx),
                other => other,
            }
        })
        .await
    }
}
