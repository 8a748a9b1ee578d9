//! The chart of a run: server CPU per round trip (median over rounds, log scale) for every
//! case and server, without and with permessage-deflate side by side, as SVG.

use std::path::Path;

use plotters::prelude::*;

use crate::client::Measurement;
use crate::servers::Server;
use crate::Results;

fn color(server: Server) -> RGBColor {
    match server {
        Server::RtTokio => RGBColor(214, 39, 40),
        Server::Fastwebsockets => RGBColor(31, 119, 180),
        Server::TokioTungstenite => RGBColor(44, 160, 44),
        Server::Axum => RGBColor(148, 103, 189),
        Server::Soketto => RGBColor(255, 127, 14),
        Server::TcpEcho => RGBColor(127, 127, 127),
    }
}

/// Draws `results` into an SVG file at `path`.
pub fn draw(results: &Results, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let root = SVGBackend::new(path, (1200, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(40);
    title.draw(&Text::new(
        "WebSocket echo over loopback: server CPU per round trip (µs, log scale; lower is better)",
        (20, 12),
        ("sans-serif", 18).into_font(),
    ))?;
    let panels = body.split_evenly((1, 2));
    for (panel, deflate) in panels.iter().zip([false, true]) {
        let cases: Vec<usize> = (0..results.cases.len())
            .filter(|&i| results.cases[i].deflate == deflate)
            .collect();
        let Some(&first) = cases.first() else {
            continue;
        };
        let servers = results.servers_for(&results.cases[first]);
        let mut lo = f64::INFINITY;
        let mut hi = 0f64;
        for &c in &cases {
            for &s in &servers {
                let v = results.median_of(c, s, Measurement::cpu_us_per_rt);
                if v.is_finite() && v > 0.0 {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
        }
        if !lo.is_finite() {
            continue;
        }
        let labels: Vec<String> = cases.iter().map(|&c| results.cases[c].label()).collect();
        let mut chart = ChartBuilder::on(panel)
            .caption(
                if deflate {
                    "with permessage-deflate"
                } else {
                    "without compression"
                },
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(70)
            .y_label_area_size(50)
            .build_cartesian_2d(
                -0.5f64..(cases.len() as f64 - 0.5),
                ((lo / 1.5)..(hi * 1.5)).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_labels(cases.len())
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_label_style(
                ("sans-serif", 11)
                    .into_font()
                    .transform(FontTransform::Rotate90),
            )
            .y_desc("µs of server CPU per round trip")
            .draw()?;
        for &s in &servers {
            let points: Vec<(f64, f64)> = cases
                .iter()
                .enumerate()
                .filter_map(|(x, &c)| {
                    let v = results.median_of(c, s, Measurement::cpu_us_per_rt);
                    (v.is_finite() && v > 0.0).then_some((x as f64, v))
                })
                .collect();
            let style = color(s);
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    style.stroke_width(2),
                ))?
                .label(if s.plain_tcp() {
                    "tcp-echo (floor: no WebSocket)"
                } else {
                    s.name()
                })
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], style.stroke_width(2))
                });
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, style.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
