//! One chunk-driving loop for fuzzing a whole machine: [`drive`] splits an input into chunks,
//! feeds them to the machine, drains its outputs after every call (handing events and the
//! other outputs to a [`FuzzHarness`] that answers and checks them), completes the TLS
//! upgrades it asks for, delivers timeouts and shutdowns part way as a [`ChunkPlan`] says, and
//! ends the session. The server fuzz targets of every protocol (`fuzz/fuzz_targets/*_server.rs`,
//! and the tests that run the same harnesses over fixed inputs) share it.
//!
//! Invariants [`drive`] checks itself, for every machine (a failed check panics, which is what a
//! fuzzer reports):
//!
//! - nothing is transmitted after [`Output::Close`];
//! - once [`Output::Error`] was seen and the outputs are drained, nothing more is pending
//!   until a close;
//! - the session ends with [`Output::Close`] (after end of stream, or after a shutdown,
//!   whichever [`End`] the plan picks).
//!
//! Protocol invariants (no credential check before TLS, one `Closed` event per session, no
//! pending input behind STARTTLS, …) are the harness's: it sees every output.

use std::time::{Duration, Instant};

use crate::{Machine, Output, TlsInfo};

/// The name in the [`TlsInfo`] handed to [`Machine::handle_tls_established`].
pub const FUZZ_SERVER_NAME: &str = "fuzz.example.test";

/// A machine under test and what answers its events; see the [module docs](self).
///
/// The harness owns the machine (and any state its answers need), so that answering an event
/// can call the machine's intents.
pub trait FuzzHarness {
    /// The machine driven.
    type Machine: Machine;

    /// The machine.
    fn machine(&mut self) -> &mut Self::Machine;

    /// An event of the machine: answer it (with the machine's intents; a refused intent is
    /// the harness's to ignore or check) and check what the protocol requires.
    fn on_event(&mut self, event: <Self::Machine as Machine>::Event);

    /// Bytes the machine transmits (after the driver checked that the session is not closed).
    fn on_transmit(&mut self, bytes: &[u8]) {
        let _ = bytes;
    }

    /// The machine asked for TLS ([`Output::StartTls`]); the driver completes the upgrade after
    /// the current drain (see [`ChunkPlan::tls_when_closed`]).
    fn on_start_tls(&mut self) {}

    /// The machine reported an error ([`Output::Error`]).
    fn on_error(&mut self, error: <Self::Machine as Machine>::Error) {
        let _ = error;
    }

    /// The driver just called [`Machine::handle_tls_established`] (implicit TLS at the start,
    /// or the upgrade the machine asked for), before draining.
    fn on_tls_established(&mut self) {}

    /// The application closes the session (the machine's own shutdown intent, if it has one).
    fn shutdown(&mut self);
}

/// When [`drive`] calls [`Machine::handle_timeout`] part way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeouts {
    /// Never.
    Never,
    /// After every `every`-th chunk, at the chunk's time plus `after`, whether or not the
    /// machine has a deadline (a late or spurious timer).
    Fixed {
        /// Every how many chunks (at least 1).
        every: usize,
        /// How far past the chunk's time.
        after: Duration,
    },
    /// After every `every`-th chunk, if the machine has a deadline ([`Machine::poll_timeout`]),
    /// at that deadline plus `late`.
    AtDeadline {
        /// Every how many chunks (at least 1).
        every: usize,
        /// How far past the deadline.
        late: Duration,
    },
}

/// How [`drive`] ends the session after the last chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum End {
    /// The peer closed: [`Machine::handle_eof`] at the start time.
    Eof,
    /// The application closed: [`FuzzHarness::shutdown`].
    Shutdown,
}

/// The shape of one [`drive`] run. [`ChunkPlan::new`] gives a plain run (no timeouts, no
/// shutdowns part way, clock standing still, end of stream at the end); the other methods
/// change one thing each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChunkPlan {
    /// Octets per [`Machine::handle_input`] call (the last chunk may be shorter; 0 counts as
    /// 1).
    pub chunk: usize,
    /// How far the clock moves per chunk: chunk `i` is fed at `start + i × step`.
    pub step: Duration,
    /// Timeouts part way.
    pub timeouts: Timeouts,
    /// After every this many chunks (if set), [`FuzzHarness::shutdown`].
    pub shutdown_every: Option<usize>,
    /// TLS is up from the start: [`Machine::handle_tls_established`] before the first chunk.
    pub implicit_tls: bool,
    /// Stop feeding chunks once the machine closed.
    pub stop_when_closed: bool,
    /// Complete a TLS upgrade the machine asked for even if it closed in the same drain (a
    /// careless driver); otherwise a closed session gets no `handle_tls_established`.
    pub tls_when_closed: bool,
    /// How the session ends.
    pub end: End,
}

impl ChunkPlan {
    /// Chunks of `chunk` octets, nothing else.
    pub fn new(chunk: usize) -> ChunkPlan {
        ChunkPlan {
            chunk,
            step: Duration::ZERO,
            timeouts: Timeouts::Never,
            shutdown_every: None,
            implicit_tls: false,
            stop_when_closed: false,
            tls_when_closed: false,
            end: End::Eof,
        }
    }

    /// The clock moves by `step` per chunk.
    pub fn step(mut self, step: Duration) -> ChunkPlan {
        self.step = step;
        self
    }

    /// Timeouts part way.
    pub fn timeouts(mut self, timeouts: Timeouts) -> ChunkPlan {
        self.timeouts = timeouts;
        self
    }

    /// A shutdown after every `every` chunks (`None`: never).
    pub fn shutdown_every(mut self, every: Option<usize>) -> ChunkPlan {
        self.shutdown_every = every;
        self
    }

    /// TLS from the start.
    pub fn implicit_tls(mut self, implicit: bool) -> ChunkPlan {
        self.implicit_tls = implicit;
        self
    }

    /// Stop feeding once closed.
    pub fn stop_when_closed(mut self, stop: bool) -> ChunkPlan {
        self.stop_when_closed = stop;
        self
    }

    /// Complete an upgrade asked for even when the session closed in the same drain.
    pub fn tls_when_closed(mut self, yes: bool) -> ChunkPlan {
        self.tls_when_closed = yes;
        self
    }

    /// How the session ends.
    pub fn end(mut self, end: End) -> ChunkPlan {
        self.end = end;
        self
    }
}

/// What a [`drive`] run saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Driven {
    /// Chunks fed.
    pub chunks: usize,
    /// Octets transmitted by the machine.
    pub transmitted: usize,
    /// [`Output::Error`]s seen.
    pub errors: usize,
    /// TLS upgrades completed (implicit TLS included).
    pub tls: usize,
    /// The machine closed (always true when [`drive`] returns).
    pub closed: bool,
}

struct Run<'h, H> {
    harness: &'h mut H,
    info: TlsInfo,
    start_tls: bool,
    error: bool,
    seen: Driven,
}

impl<H: FuzzHarness> Run<'_, H> {
    fn drain(&mut self) {
        // Answers can queue more output (and more events); the loop is bounded by the input.
        while let Some(output) = self.harness.machine().poll_output() {
            match output {
                Output::Transmit(bytes) => {
                    assert!(!self.seen.closed, "transmit after Close");
                    self.seen.transmitted += bytes.len();
                    self.harness.on_transmit(&bytes);
                }
                Output::Event(event) => self.harness.on_event(event),
                Output::StartTls => {
                    self.start_tls = true;
                    self.harness.on_start_tls();
                }
                Output::Close => self.seen.closed = true,
                Output::Error(error) => {
                    self.error = true;
                    self.seen.errors += 1;
                    self.harness.on_error(error);
                }
            }
        }
        if self.error {
            assert!(
                self.seen.closed || self.harness.machine().poll_output().is_none(),
                "output pending after an error"
            );
        }
    }

    fn tls_established(&mut self, now: Instant) {
        self.harness
            .machine()
            .handle_tls_established(now, &self.info);
        self.seen.tls += 1;
        self.harness.on_tls_established();
        self.drain();
    }
}

/// Drives the harness's machine through `input` as `plan` says, from `start`; panics when an
/// invariant of the [module docs](self) fails (the harness's own checks panic too).
///
/// The steps: drain (the greeting); with [`ChunkPlan::implicit_tls`], TLS established and
/// drain; then per chunk `i` (at `start + i × step`): input and drain; if the machine asked
/// for TLS, TLS established and drain; a timeout if [`ChunkPlan::timeouts`] says so, and
/// drain; a shutdown if [`ChunkPlan::shutdown_every`] says so, and drain; stop here if closed
/// and [`ChunkPlan::stop_when_closed`]. At the end, [`ChunkPlan::end`] and drain, and the
/// session must be closed.
pub fn drive<H: FuzzHarness>(
    harness: &mut H,
    start: Instant,
    input: &[u8],
    plan: &ChunkPlan,
) -> Driven {
    let mut run = Run {
        harness,
        info: TlsInfo::for_testing(FUZZ_SERVER_NAME),
        start_tls: false,
        error: false,
        seen: Driven::default(),
    };
    run.drain();
    if plan.implicit_tls {
        run.tls_established(start);
    }
    for (i, piece) in input.chunks(plan.chunk.max(1)).enumerate() {
        let now = u32::try_from(i)
            .ok()
            .and_then(|i| plan.step.checked_mul(i))
            .and_then(|d| start.checked_add(d))
            .unwrap_or(start);
        run.seen.chunks += 1;
        run.harness.machine().handle_input(now, piece);
        run.drain();
        if run.start_tls {
            run.start_tls = false;
            if plan.tls_when_closed || !run.seen.closed {
                run.tls_established(now);
            }
        }
        match plan.timeouts {
            Timeouts::Never => {}
            Timeouts::Fixed { every, after } => {
                if i % every.max(1) == every.max(1) - 1 {
                    let at = now.checked_add(after).unwrap_or(now);
                    run.harness.machine().handle_timeout(at);
                    run.drain();
                }
            }
            Timeouts::AtDeadline { every, late } => {
                if i % every.max(1) == every.max(1) - 1 {
                    if let Some(deadline) = run.harness.machine().poll_timeout() {
                        let at = deadline.checked_add(late).unwrap_or(deadline);
                        run.harness.machine().handle_timeout(at);
                        run.drain();
                    }
                }
            }
        }
        if let Some(every) = plan.shutdown_every {
            if i % every.max(1) == every.max(1) - 1 {
                run.harness.shutdown();
                run.drain();
            }
        }
        if plan.stop_when_closed && run.seen.closed {
            break;
        }
    }
    match plan.end {
        End::Eof => run.harness.machine().handle_eof(start),
        End::Shutdown => run.harness.shutdown(),
    }
    run.drain();
    assert!(
        run.seen.closed,
        "the session must end with a close ({:?})",
        plan.end
    );
    run.seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerPolicy;
    use crate::testing::toy::{ToyEvent, ToyServer};

    /// The toy server, its events recorded.
    struct Toy {
        server: ToyServer,
        events: Vec<ToyEvent>,
        sent: Vec<u8>,
        shutdowns: usize,
        tls_seen: usize,
    }

    impl Toy {
        fn new(policy: ServerPolicy) -> Toy {
            Toy {
                server: ToyServer::new(policy),
                events: Vec::new(),
                sent: Vec::new(),
                shutdowns: 0,
                tls_seen: 0,
            }
        }
    }

    impl FuzzHarness for Toy {
        type Machine = ToyServer;
        fn machine(&mut self) -> &mut ToyServer {
            &mut self.server
        }
        fn on_event(&mut self, event: ToyEvent) {
            self.events.push(event);
        }
        fn on_transmit(&mut self, bytes: &[u8]) {
            self.sent.extend_from_slice(bytes);
        }
        fn on_tls_established(&mut self) {
            self.tls_seen += 1;
        }
        fn shutdown(&mut self) {
            // The toy has no shutdown intent: the application closing looks like an end.
            self.shutdowns += 1;
            self.server.handle_eof(Instant::now());
        }
    }

    const SCRIPT: &[u8] = b"CAPA\r\nSTARTTLS\r\nLOGIN alice pw\r\nECHO hi\r\n";

    #[test]
    fn chunkings_that_keep_the_cut_clean_give_the_same_session() {
        let mut transcripts = Vec::new();
        // 0 counts as 1; octet by octet never puts bytes behind STARTTLS in one input.
        for chunk in [0, 1] {
            let mut toy = Toy::new(ServerPolicy::starttls_required());
            let driven = drive(&mut toy, Instant::now(), SCRIPT, &ChunkPlan::new(chunk));
            assert!(driven.closed);
            assert_eq!((driven.tls, toy.tls_seen), (1, 1), "chunk {chunk}");
            assert_eq!(driven.chunks, SCRIPT.len());
            assert_eq!(driven.transmitted, toy.sent.len());
            assert!(toy.events.contains(&ToyEvent::Secured), "{:?}", toy.events);
            assert!(
                toy.events
                    .iter()
                    .any(|e| matches!(e, ToyEvent::LoggedIn { .. })),
                "{:?}",
                toy.events
            );
            transcripts.push(toy.sent);
        }
        assert_eq!(transcripts[0], transcripts[1]);
        // In one piece the commands after STARTTLS are pending at the cut: refused, no TLS.
        let mut toy = Toy::new(ServerPolicy::starttls_required());
        let driven = drive(
            &mut toy,
            Instant::now(),
            SCRIPT,
            &ChunkPlan::new(SCRIPT.len()),
        );
        assert_eq!(driven.chunks, 1);
        assert_eq!((driven.tls, driven.errors), (0, 1));
        assert!(
            !toy.events
                .iter()
                .any(|e| matches!(e, ToyEvent::LoggedIn { .. }))
        );
    }

    #[test]
    fn implicit_tls_timeouts_and_shutdowns_follow_the_plan() {
        // Implicit TLS: the greeting comes after the handshake.
        let mut toy = Toy::new(ServerPolicy::implicit_tls());
        let plan = ChunkPlan::new(4).implicit_tls(true);
        let driven = drive(&mut toy, Instant::now(), b"CAPA\r\n", &plan);
        assert_eq!(driven.tls, 1);
        assert!(toy.sent.starts_with(b"* OK toy ready"));

        // A fixed timeout two hours on ends the idle session at the second chunk: later
        // chunks are not fed when the plan stops at a close.
        let mut toy = Toy::new(ServerPolicy::insecure_plaintext());
        let plan = ChunkPlan::new(3)
            .timeouts(Timeouts::Fixed {
                every: 2,
                after: Duration::from_secs(7200),
            })
            .stop_when_closed(true);
        let driven = drive(&mut toy, Instant::now(), b"CAPA\r\nCAPA\r\nCAPA\r\n", &plan);
        assert_eq!(driven.chunks, 2);
        assert_eq!(driven.errors, 1);
        assert!(String::from_utf8_lossy(&toy.sent).contains("BYE idle"));

        // At the deadline: the same, found through poll_timeout.
        let mut toy = Toy::new(ServerPolicy::insecure_plaintext());
        toy.server.start_clock(Instant::now());
        let plan = ChunkPlan::new(6).timeouts(Timeouts::AtDeadline {
            every: 1,
            late: Duration::ZERO,
        });
        let driven = drive(&mut toy, Instant::now(), b"CAPA\r\n", &plan);
        assert_eq!(driven.errors, 1);

        // Shutdowns part way and at the end.
        let mut toy = Toy::new(ServerPolicy::insecure_plaintext());
        let plan = ChunkPlan::new(1).shutdown_every(Some(4)).end(End::Shutdown);
        drive(&mut toy, Instant::now(), b"CAPA\r\nxx", &plan);
        assert_eq!(toy.shutdowns, 2 + 1);
    }

    /// A machine that breaks the contract: it transmits after closing.
    struct Rude {
        out: Vec<Output<(), std::io::Error>>,
    }

    impl Machine for Rude {
        type Event = ();
        type Error = std::io::Error;
        fn handle_input(&mut self, _: Instant, _: &[u8]) {
            self.out.push(Output::Close);
            self.out
                .push(Output::Transmit(bytes::Bytes::from_static(b"late")));
            self.out.reverse();
        }
        fn handle_eof(&mut self, _: Instant) {
            self.out.push(Output::Close);
        }
        fn handle_timeout(&mut self, _: Instant) {}
        fn handle_tls_established(&mut self, _: Instant, _: &TlsInfo) {}
        fn poll_output(&mut self) -> Option<Output<(), std::io::Error>> {
            self.out.pop()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }

    struct RudeHarness(Rude);

    impl FuzzHarness for RudeHarness {
        type Machine = Rude;
        fn machine(&mut self) -> &mut Rude {
            &mut self.0
        }
        fn on_event(&mut self, _: ()) {}
        fn shutdown(&mut self) {}
    }

    #[test]
    #[should_panic(expected = "transmit after Close")]
    fn a_transmit_after_close_is_caught() {
        let mut h = RudeHarness(Rude { out: Vec::new() });
        drive(&mut h, Instant::now(), b"x", &ChunkPlan::new(1));
    }

    #[test]
    #[should_panic(expected = "the session must end with a close")]
    fn a_session_that_never_closes_is_caught() {
        let mut h = RudeHarness(Rude { out: Vec::new() });
        drive(
            &mut h,
            Instant::now(),
            b"",
            &ChunkPlan::new(1).end(End::Shutdown),
        );
    }
}
