//! The results of a run: one [`ModeReport`] per mode in a [`LoadReport`], as a text table
//! ([`LoadReport::to_text`], modes side by side) or JSON ([`LoadReport::to_json`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::stats::{Collector, Latency};
use super::wire::WireCount;
use super::{LoadOptions, Mode, Protocol};

/// What the [`CountingProxy`](super::proxy::CountingProxy) of a mode counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ProxyCount {
    /// Octets forwarded client → server.
    pub to_server: u64,
    /// Octets forwarded server → client.
    pub to_client: u64,
    /// Connections accepted.
    pub connections: u64,
    /// Whether every forwarded connection had closed when the counts were read.
    pub idle: bool,
}

/// The figures of one mode.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ModeReport {
    /// The mode.
    pub mode: Mode,
    /// `host:port` of the server.
    pub address: String,
    /// Connections asked for.
    pub connections_planned: usize,
    /// Connections set up (connected, secured, logged in).
    pub connections: u64,
    /// TLS handshakes completed.
    pub handshakes: u64,
    /// Operations asked for (connections × count).
    pub operations_planned: usize,
    /// Operations completed (messages accepted or fetched).
    pub operations: u64,
    /// Wall-clock time of the mode, in seconds.
    pub wall_s: f64,
    /// Connections set up per second of wall time.
    pub connections_per_s: f64,
    /// TLS handshakes completed per second of wall time.
    pub handshakes_per_s: f64,
    /// Operations per second of wall time.
    pub operations_per_s: f64,
    /// Octets written to the server (all connections, at the socket, TLS included).
    pub bytes_to_server: u64,
    /// Octets read from the server.
    pub bytes_to_client: u64,
    /// `bytes_to_server` less `listing_bytes_to_server`, per completed operation (connection
    /// set-up — TLS handshake, login — and teardown included; the mailbox listing is not, its
    /// size depends on the mailbox, not on the operations).
    pub bytes_to_server_per_op: f64,
    /// `bytes_to_client` less `listing_bytes_to_client`, per completed operation.
    pub bytes_to_client_per_op: f64,
    /// Octets of message content moved (sizes of the messages sent or fetched).
    pub payload_bytes: u64,
    /// Wire octets (both ways, the mailbox listing left out) per payload octet: the protocol
    /// and encryption overhead.
    pub wire_per_payload: f64,
    /// Of `bytes_to_server`, the octets written while listing the mailbox (IMAP `EXAMINE` and
    /// `UID SEARCH ALL`, POP3 STAT/LIST/UIDL; 0 for SMTP).
    pub listing_bytes_to_server: u64,
    /// Of `bytes_to_client`, the octets read while listing the mailbox.
    pub listing_bytes_to_client: u64,
    /// Connection set-up latency.
    pub setup_latency: Latency,
    /// Operation latency.
    pub operation_latency: Latency,
    /// CPU time (user + system) of this process during the mode, in seconds.
    pub cpu_s: f64,
    /// This process's CPU time per operation, in milliseconds.
    pub cpu_per_op_ms: f64,
    /// CPU time of the server process (`--server-pid`), in seconds.
    pub server_cpu_s: Option<f64>,
    /// Failures by kind.
    pub errors: BTreeMap<&'static str, u64>,
    /// The first failure of each kind.
    pub first_errors: BTreeMap<&'static str, String>,
    /// The counting proxy's figures (`--via-proxy`).
    pub proxy: Option<ProxyCount>,
}

fn per(n: f64, d: f64) -> f64 {
    if d > 0.0 { n / d } else { 0.0 }
}

impl ModeReport {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        mode: Mode,
        address: &str,
        options: &LoadOptions,
        c: &Collector,
        wire: &WireCount,
        wall: Duration,
        cpu: Duration,
        server_cpu: Option<Duration>,
        proxy: Option<ProxyCount>,
    ) -> ModeReport {
        let secs = wall.as_secs_f64();
        let ops = c.operations as f64;
        let op_written = wire.written().saturating_sub(c.listing_to_server);
        let op_read = wire.read().saturating_sub(c.listing_to_client);
        ModeReport {
            mode,
            address: address.to_owned(),
            connections_planned: options.connections,
            connections: c.connections,
            handshakes: c.handshakes,
            operations_planned: options.connections * options.count,
            operations: c.operations,
            wall_s: secs,
            connections_per_s: per(c.connections as f64, secs),
            handshakes_per_s: per(c.handshakes as f64, secs),
            operations_per_s: per(ops, secs),
            bytes_to_server: wire.written(),
            bytes_to_client: wire.read(),
            bytes_to_server_per_op: per(op_written as f64, ops),
            bytes_to_client_per_op: per(op_read as f64, ops),
            payload_bytes: c.payload,
            wire_per_payload: per((op_written + op_read) as f64, c.payload as f64),
            listing_bytes_to_server: c.listing_to_server,
            listing_bytes_to_client: c.listing_to_client,
            setup_latency: c.setup_latency(),
            operation_latency: c.operation_latency(),
            cpu_s: cpu.as_secs_f64(),
            cpu_per_op_ms: per(cpu.as_secs_f64() * 1000.0, ops),
            server_cpu_s: server_cpu.map(|d| d.as_secs_f64()),
            errors: c.errors.iter().map(|(k, v)| (k.name(), *v)).collect(),
            first_errors: c
                .first_error
                .iter()
                .map(|(k, v)| (k.name(), v.clone()))
                .collect(),
            proxy,
        }
    }

    /// Failures of every kind.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// The report of a run: the modes side by side.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct LoadReport {
    /// The workload.
    pub protocol: Protocol,
    /// The server host.
    pub host: String,
    /// Concurrent connections per mode.
    pub connections: usize,
    /// Operations per connection.
    pub count: usize,
    /// Size of the generated message (SMTP).
    pub size: Option<usize>,
    /// One report per mode, in the order run.
    pub modes: Vec<ModeReport>,
}

impl LoadReport {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Failures in every mode.
    pub fn error_count(&self) -> u64 {
        self.modes.iter().map(ModeReport::error_count).sum()
    }

    /// The report as a text table, one column per mode.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let size = self
            .size
            .map(|s| format!(", {s}-octet messages"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "mailsec-load: {} on {}, {} connections × {} {}{size}",
            self.protocol.name(),
            self.host,
            self.connections,
            self.count,
            self.protocol.operation(),
        );
        let ops = self.protocol.operation();
        let mut rows: Vec<(String, Vec<String>)> = Vec::new();
        let mut row = |name: &str, f: &dyn Fn(&ModeReport) -> String| {
            rows.push((name.to_owned(), self.modes.iter().map(f).collect()));
        };
        row("mode", &|m| m.mode.name().to_owned());
        row("address", &|m| m.address.clone());
        row("connections set up", &|m| {
            format!("{}/{}", m.connections, m.connections_planned)
        });
        row(&format!("{ops} done"), &|m| {
            format!("{}/{}", m.operations, m.operations_planned)
        });
        row("wall time (s)", &|m| format!("{:.3}", m.wall_s));
        row("connections/s", &|m| format!("{:.1}", m.connections_per_s));
        row("TLS handshakes/s", &|m| {
            format!("{:.1}", m.handshakes_per_s)
        });
        row(&format!("{ops}/s"), &|m| {
            format!("{:.1}", m.operations_per_s)
        });
        row("bytes/op to server", &|m| {
            format!("{:.0}", m.bytes_to_server_per_op)
        });
        row("bytes/op to client", &|m| {
            format!("{:.0}", m.bytes_to_client_per_op)
        });
        row("wire/payload", &|m| format!("{:.3}", m.wire_per_payload));
        if self
            .modes
            .iter()
            .any(|m| m.listing_bytes_to_server + m.listing_bytes_to_client > 0)
        {
            row("listing bytes to server", &|m| {
                m.listing_bytes_to_server.to_string()
            });
            row("listing bytes to client", &|m| {
                m.listing_bytes_to_client.to_string()
            });
        }
        for (name, pick) in [
            (
                "set-up",
                (|m: &ModeReport| m.setup_latency) as fn(&ModeReport) -> Latency,
            ),
            ("op", |m: &ModeReport| m.operation_latency),
        ] {
            row(&format!("{name} p50/p90/p99 (ms)"), &|m| {
                let l = pick(m);
                format!("{:.2}/{:.2}/{:.2}", l.p50_ms, l.p90_ms, l.p99_ms)
            });
            row(&format!("{name} max (ms)"), &|m| {
                format!("{:.2}", pick(m).max_ms)
            });
        }
        row("client CPU (s)", &|m| format!("{:.3}", m.cpu_s));
        row("client CPU/op (ms)", &|m| format!("{:.3}", m.cpu_per_op_ms));
        if self.modes.iter().any(|m| m.server_cpu_s.is_some()) {
            row("server CPU (s)", &|m| {
                m.server_cpu_s
                    .map(|s| format!("{s:.2}"))
                    .unwrap_or_else(|| "-".into())
            });
        }
        if self.modes.iter().any(|m| m.proxy.is_some()) {
            row("proxy bytes to server", &|m| {
                m.proxy
                    .map(|p| p.to_server.to_string())
                    .unwrap_or_else(|| "-".into())
            });
            row("proxy bytes to client", &|m| {
                m.proxy
                    .map(|p| p.to_client.to_string())
                    .unwrap_or_else(|| "-".into())
            });
            row("tool bytes to server", &|m| m.bytes_to_server.to_string());
            row("tool bytes to client", &|m| m.bytes_to_client.to_string());
        }
        row("errors", &|m| {
            if m.errors.is_empty() {
                "0".to_owned()
            } else {
                m.errors
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        });
        let label_width = rows
            .iter()
            .map(|(n, _)| n.chars().count())
            .max()
            .unwrap_or(0);
        let widths: Vec<usize> = (0..self.modes.len())
            .map(|i| {
                rows.iter()
                    .map(|(_, v)| v[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for (name, values) in &rows {
            let _ = write!(out, "  {name:<label_width$}");
            for (v, w) in values.iter().zip(&widths) {
                let _ = write!(out, "  {v:>w$}");
            }
            out.push('\n');
        }
        for m in &self.modes {
            for (kind, msg) in &m.first_errors {
                let _ = writeln!(out, "  {} {kind}: {msg}", m.mode.name());
            }
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::load::stats::{ErrorKind, Failure};

    pub(crate) fn sample() -> LoadReport {
        let options = LoadOptions::new(Protocol::Smtp, "127.0.0.1");
        let modes = Mode::ALL
            .iter()
            .enumerate()
            .map(|(i, &mode)| {
                let mut c = Collector::new();
                for _ in 0..10 {
                    c.connected(Duration::from_millis(2 + i as u64), mode != Mode::None);
                    c.operation(Duration::from_millis(1 + i as u64), 1000);
                }
                if mode == Mode::Implicit {
                    c.failed(Failure::new(ErrorKind::Timeout, "a message timed out"));
                }
                let wire = WireCount::default();
                wire.add_written(12_000 + 1000 * i);
                wire.add_read(3000 + 500 * i);
                ModeReport::new(
                    mode,
                    "127.0.0.1:25",
                    &options,
                    &c,
                    &wire,
                    Duration::from_secs(2),
                    Duration::from_millis(500),
                    None,
                    None,
                )
            })
            .collect();
        LoadReport {
            protocol: Protocol::Smtp,
            host: "127.0.0.1".into(),
            connections: 10,
            count: 10,
            size: Some(1000),
            modes,
        }
    }

    #[test]
    fn rates_and_per_operation_figures() {
        let r = sample();
        let none = &r.modes[0];
        assert_eq!(none.operations, 10);
        assert!((none.operations_per_s - 5.0).abs() < 1e-9);
        assert!((none.bytes_to_server_per_op - 1200.0).abs() < 1e-9);
        assert!((none.bytes_to_client_per_op - 300.0).abs() < 1e-9);
        assert!((none.wire_per_payload - 1.5).abs() < 1e-9);
        assert_eq!(none.handshakes, 0);
        assert!((r.modes[1].handshakes_per_s - 5.0).abs() < 1e-9);
        assert!((none.cpu_per_op_ms - 50.0).abs() < 1e-9);
        assert_eq!(r.error_count(), 1);
    }

    #[test]
    fn the_listing_is_kept_out_of_the_per_operation_figures() {
        let options = LoadOptions::new(Protocol::Imap, "127.0.0.1");
        let mut c = Collector::new();
        for _ in 0..4 {
            c.operation(Duration::from_millis(1), 1000);
        }
        c.listed(100, 2000);
        let wire = WireCount::default();
        wire.add_written(100 + 400);
        wire.add_read(2000 + 4400);
        let m = ModeReport::new(
            Mode::Starttls,
            "127.0.0.1:143",
            &options,
            &c,
            &wire,
            Duration::from_secs(1),
            Duration::ZERO,
            None,
            None,
        );
        // The totals keep every octet (they are what a proxy sees) …
        assert_eq!((m.bytes_to_server, m.bytes_to_client), (500, 6400));
        // … the per-operation figures leave the listing out, and show it apart.
        assert!((m.bytes_to_server_per_op - 100.0).abs() < 1e-9);
        assert!((m.bytes_to_client_per_op - 1100.0).abs() < 1e-9);
        assert!((m.wire_per_payload - 1.2).abs() < 1e-9);
        assert_eq!(
            (m.listing_bytes_to_server, m.listing_bytes_to_client),
            (100, 2000)
        );
        let report = LoadReport {
            protocol: Protocol::Imap,
            host: "127.0.0.1".into(),
            connections: 1,
            count: 4,
            size: None,
            modes: vec![m],
        };
        let text = report.to_text();
        assert!(text.contains("listing bytes to client"), "{text}");
        let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(v["modes"][0]["listing_bytes_to_client"], 2000);
        // No listing (SMTP): no listing rows.
        assert!(!sample().to_text().contains("listing"));
    }

    #[test]
    fn text_table_has_a_column_per_mode() {
        let text = sample().to_text();
        let header = text
            .lines()
            .find(|l| l.trim_start().starts_with("mode"))
            .unwrap();
        for mode in ["none", "starttls", "implicit"] {
            assert!(header.contains(mode), "{text}");
        }
        assert!(text.contains("messages/s"), "{text}");
        assert!(text.contains("timeout:1"), "{text}");
        assert!(
            text.contains("implicit timeout: a message timed out"),
            "{text}"
        );
    }

    #[test]
    fn json_has_the_fields() {
        let v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(v["protocol"], "smtp");
        let m = &v["modes"][2];
        assert_eq!(m["mode"], "implicit");
        assert_eq!(m["errors"]["timeout"], 1);
        assert!(m["operation_latency"]["p99_ms"].as_f64().unwrap() > 0.0);
        assert!(m["proxy"].is_null());
    }
}
