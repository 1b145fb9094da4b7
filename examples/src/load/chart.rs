//! The comparison chart: an SVG of bar charts, one panel per figure, one bar per mode
//! ([`plotters`], SVG backend only).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::LoadReport;
use super::report::ModeReport;

/// Why the chart could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChartError {
    /// Drawing or writing the file failed.
    #[error("chart: {0}")]
    Draw(String),
}

/// How a panel's value is taken from a mode's report.
type Value = fn(&ModeReport) -> f64;
type Figure = (&'static str, Value);

/// The panels: title and value of each mode.
fn figures(report: &LoadReport) -> Vec<(String, Value)> {
    let ops = report.protocol.operation();
    let list: [Figure; 6] = [
        ("/s", |m| m.operations_per_s),
        ("TLS handshakes/s", |m| m.handshakes_per_s),
        ("wire bytes per op (both ways)", |m| {
            m.bytes_to_server_per_op + m.bytes_to_client_per_op
        }),
        ("op latency p99 (ms)", |m| m.operation_latency.p99_ms),
        ("set-up latency p99 (ms)", |m| m.setup_latency.p99_ms),
        ("client CPU per op (ms)", |m| m.cpu_per_op_ms),
    ];
    list.iter()
        .map(|(title, f)| {
            let title = if title.starts_with('/') {
                format!("{ops}{title}")
            } else {
                (*title).to_owned()
            };
            (title, *f)
        })
        .collect()
}

const COLORS: [RGBColor; 3] = [
    RGBColor(0x9e, 0x9e, 0x9e),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
];

/// Writes the chart of `report` to `path` as SVG: six panels (operations/s, handshakes/s, wire
/// bytes per operation, operation and set-up p99 latency, client CPU per operation), a bar
/// per mode labelled with the mode's name.
pub fn write_chart(report: &LoadReport, path: &Path) -> Result<(), ChartError> {
    draw(report, path).map_err(|e| ChartError::Draw(e.to_string()))
}

fn draw(report: &LoadReport, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let names: Vec<&str> = report.modes.iter().map(|m| m.mode.name()).collect();
    let n = names.len().max(1);
    // A segmented 0..k has k+1 bars' room; one empty slot beside a single bar keeps the
    // coordinate non-degenerate.
    let last = if n > 1 { n - 1 } else { 1 };
    let root = SVGBackend::new(path, (1200, 720)).into_drawing_area();
    root.fill(&WHITE)?;
    let size = report
        .size
        .map(|s| format!(", {s} B messages"))
        .unwrap_or_default();
    let title = format!(
        "mailsec-load: {} on {}, {} conns x {} {}{size}",
        report.protocol.name(),
        report.host,
        report.connections,
        report.count,
        report.protocol.operation()
    );
    let root = root.titled(&title, ("sans-serif", 22))?;
    let panels = root.split_evenly((2, 3));
    for (panel, (caption, value)) in panels.iter().zip(figures(report)) {
        let values: Vec<f64> = report.modes.iter().map(value).collect();
        let top = values.iter().cloned().fold(0.0f64, f64::max);
        let top = if top > 0.0 { top * 1.2 } else { 1.0 };
        let mut chart = ChartBuilder::on(panel)
            .caption(caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(64)
            .build_cartesian_2d((0..last).into_segmented(), 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(1)
            .y_labels(6)
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    names.get(*i).copied().unwrap_or("").to_owned()
                }
                SegmentValue::Last => String::new(),
            })
            .y_label_formatter(&|v| format_value(*v))
            .draw()?;
        chart.draw_series(values.iter().enumerate().map(|(i, v)| {
            let color = COLORS[report.modes[i].mode as usize % COLORS.len()];
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), *v),
                ],
                color.filled(),
            );
            bar.set_margin(0, 0, 10, 10);
            bar
        }))?;
        chart.draw_series(values.iter().enumerate().map(|(i, v)| {
            Text::new(
                format_value(*v),
                (SegmentValue::CenterOf(i), *v + top * 0.01),
                TextStyle::from(("sans-serif", 13).into_font())
                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
            )
        }))?;
    }
    root.present()?;
    Ok(())
}

fn format_value(v: f64) -> String {
    if v == 0.0 {
        "0".to_owned()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_names_every_mode() {
        let dir = crate::test_support::temp_dir("chart");
        let path = dir.path().join("chart.svg");
        let report = crate::load::report::tests::sample();
        write_chart(&report, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
        for name in [
            "none",
            "starttls",
            "implicit",
            "messages/s",
            "TLS handshakes/s",
        ] {
            assert!(
                svg.contains(&format!(">{name}<")) || svg.contains(name),
                "{name}"
            );
        }
    }
}
