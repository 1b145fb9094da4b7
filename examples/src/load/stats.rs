//! What a load run measures: latency histograms ([`hdrhistogram`], microseconds), counters,
//! errors by kind, and CPU time (this process through [`cpu_time::ProcessTime`]; a server's
//! from `/proc/<pid>/stat`).

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest latency recorded: one hour, in microseconds (larger values are clamped).
const MAX_MICROS: u64 = 3_600_000_000;

/// Why a connection or an operation failed, by kind (the error table of the report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The TCP connection could not be made.
    Connect,
    /// TLS failed (handshake, certificate).
    Tls,
    /// Logging in failed (wrong password, no usable mechanism, no TLS when credentials need it).
    Login,
    /// The server refused a message or a command.
    Refused,
    /// An operation (or the connection set-up) took longer than the per-operation timeout.
    Timeout,
    /// The run's wall-clock cap (`--duration`) ended the connection.
    Deadline,
    /// The connection closed early, or another protocol error.
    Session,
    /// A socket error.
    Io,
}

impl ErrorKind {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Login => "login",
            ErrorKind::Refused => "refused",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Deadline => "deadline",
            ErrorKind::Session => "session",
            ErrorKind::Io => "io",
        }
    }
}

/// A failure of a worker: its kind and a description (the first of each kind is reported).
#[derive(Debug)]
pub struct Failure {
    /// The kind.
    pub kind: ErrorKind,
    /// What happened.
    pub message: String,
}

impl Failure {
    /// A failure of `kind`.
    pub fn new(kind: ErrorKind, message: impl ToString) -> Failure {
        Failure {
            kind,
            message: message.to_string(),
        }
    }
}

/// Latency percentiles, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    /// How many values.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

/// The counters and histograms of one mode, filled by the workers.
#[derive(Debug)]
pub struct Collector {
    setup: Histogram<u64>,
    ops: Histogram<u64>,
    /// Connections whose set-up (connect, TLS, login) completed.
    pub connections: u64,
    /// TLS handshakes completed.
    pub handshakes: u64,
    /// Operations completed (messages accepted, messages fetched).
    pub operations: u64,
    /// Payload octets of the operations (message sizes).
    pub payload: u64,
    /// Octets written while listing mailboxes (IMAP `EXAMINE` and `UID SEARCH ALL`, POP3
    /// STAT/LIST/UIDL), at the socket, TLS included.
    pub listing_to_server: u64,
    /// Octets read while listing mailboxes.
    pub listing_to_client: u64,
    /// Failures by kind.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// The first failure message of each kind.
    pub first_error: BTreeMap<ErrorKind, String>,
}

impl Default for Collector {
    fn default() -> Self {
        Collector::new()
    }
}

fn histogram() -> Histogram<u64> {
    // Cannot fail: 1 ≤ low, high ≥ 2·low, 3 significant digits are within 0..=5.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).unwrap_or_else(|_| unreachable!())
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_MICROS)
}

impl Collector {
    /// Empty.
    pub fn new() -> Collector {
        Collector {
            setup: histogram(),
            ops: histogram(),
            connections: 0,
            handshakes: 0,
            operations: 0,
            payload: 0,
            listing_to_server: 0,
            listing_to_client: 0,
            errors: BTreeMap::new(),
            first_error: BTreeMap::new(),
        }
    }

    /// A connection was set up in `took`; `tls` if a TLS handshake was part of it.
    pub fn connected(&mut self, took: Duration, tls: bool) {
        self.setup.saturating_record(micros(took));
        self.connections += 1;
        if tls {
            self.handshakes += 1;
        }
    }

    /// An operation on `payload` octets completed in `took`.
    pub fn operation(&mut self, took: Duration, payload: u64) {
        self.ops.saturating_record(micros(took));
        self.operations += 1;
        self.payload += payload;
    }

    /// A connection's mailbox listing took these octets on the wire.
    pub fn listed(&mut self, to_server: u64, to_client: u64) {
        self.listing_to_server += to_server;
        self.listing_to_client += to_client;
    }

    /// A failure.
    pub fn failed(&mut self, failure: Failure) {
        *self.errors.entry(failure.kind).or_default() += 1;
        self.first_error
            .entry(failure.kind)
            .or_insert(failure.message);
    }

    /// Percentiles of the connection set-up times.
    pub fn setup_latency(&self) -> Latency {
        latency(&self.setup)
    }

    /// Percentiles of the operation times.
    pub fn operation_latency(&self) -> Latency {
        latency(&self.ops)
    }

    /// All failures.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

fn latency(h: &Histogram<u64>) -> Latency {
    if h.is_empty() {
        return Latency::default();
    }
    let ms = |v: u64| v as f64 / 1000.0;
    Latency {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p90_ms: ms(h.value_at_quantile(0.90)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
    }
}

/// CPU time (user + system) this process has used so far.
pub fn own_cpu() -> Duration {
    cpu_time::ProcessTime::try_now()
        .map(|t| t.as_duration())
        .unwrap_or_default()
}

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`): 100 on every Linux architecture
/// in use (the kernel's ABI constant, independent of the kernel's own HZ).
const USER_HZ: u64 = 100;

/// CPU time (user + system, plus that of its waited-for children) of process `pid`, read from
/// `/proc/<pid>/stat` (fields 14–17, proc(5)); `None` if the file cannot be read or parsed
/// (no such process, not Linux). Processes the server forks but has not waited for (Dovecot's
/// `imap-login`, say) are not included.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_proc_stat(&stat)
}

/// The CPU time in a `/proc/<pid>/stat` line: utime + stime + cutime + cstime.
pub fn parse_proc_stat(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces and parentheses: the
    // fields after it start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14 → index 11.
    let mut ticks = 0u64;
    for i in 11..=14 {
        let v: i64 = fields.get(i)?.parse().ok()?;
        ticks = ticks.saturating_add(u64::try_from(v).unwrap_or(0));
    }
    Some(Duration::from_millis(ticks.saturating_mul(1000 / USER_HZ)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_known_values() {
        let mut c = Collector::new();
        for ms in 1..=100u64 {
            c.operation(Duration::from_millis(ms), 10);
        }
        c.connected(Duration::from_millis(5), true);
        c.connected(Duration::from_millis(7), false);
        let l = c.operation_latency();
        assert_eq!(l.count, 100);
        assert!((l.p50_ms - 50.0).abs() < 0.1, "{l:?}");
        assert!((l.p90_ms - 90.0).abs() < 0.1, "{l:?}");
        assert!((l.p99_ms - 99.0).abs() < 0.1, "{l:?}");
        assert!((l.max_ms - 100.0).abs() < 0.1, "{l:?}");
        assert_eq!(c.operations, 100);
        assert_eq!(c.payload, 1000);
        assert_eq!((c.connections, c.handshakes), (2, 1));
        assert_eq!(c.setup_latency().count, 2);
        c.listed(10, 300);
        c.listed(5, 20);
        assert_eq!((c.listing_to_server, c.listing_to_client), (15, 320));
        assert_eq!(Collector::new().operation_latency(), Latency::default());
    }

    #[test]
    fn errors_are_counted_by_kind_with_the_first_message() {
        let mut c = Collector::new();
        c.failed(Failure::new(ErrorKind::Timeout, "first"));
        c.failed(Failure::new(ErrorKind::Timeout, "second"));
        c.failed(Failure::new(ErrorKind::Tls, "bad cert"));
        assert_eq!(c.errors[&ErrorKind::Timeout], 2);
        assert_eq!(c.first_error[&ErrorKind::Timeout], "first");
        assert_eq!(c.error_count(), 3);
    }

    #[test]
    fn proc_stat_with_a_tricky_command_name() {
        let line = "1234 (a) b (c)) S 1 2 3 4 5 6 7 8 9 10 150 50 7 3 20 0 1 0";
        assert_eq!(parse_proc_stat(line), Some(Duration::from_millis(2100)));
        assert_eq!(parse_proc_stat("garbage"), None);
        assert_eq!(parse_proc_stat("1 (x) S 1 2"), None);
        // Our own process has a stat file on Linux.
        if cfg!(target_os = "linux") {
            assert!(process_cpu(std::process::id()).is_some());
        }
    }
}
