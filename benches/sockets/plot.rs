//! Bar charts of the idle and fan-out benchmarks (SVG, plotters): panels side by side, one
//! bar per measured thing, rt-tokio's bars in the colour the echo chart gives it, an
//! optional target drawn as a dashed line.

use std::path::Path;

use plotters::prelude::*;

/// One panel: a caption, the unit, bars (label, value) and an optional target line.
pub struct Panel {
    /// Above the panel.
    pub caption: String,
    /// The y axis's description.
    pub y_desc: String,
    /// Label and value of every bar, left to right (non-finite values are left out).
    pub bars: Vec<(String, f64)>,
    /// A log scale (values spanning orders of magnitude).
    pub log: bool,
    /// A horizontal line at this value, with its label.
    pub target: Option<(f64, String)>,
}

fn color(label: &str) -> RGBColor {
    if label.starts_with("rt-tokio") {
        RGBColor(214, 39, 40)
    } else if label.starts_with("fastwebsockets") {
        RGBColor(31, 119, 180)
    } else if label.starts_with("tokio-tungstenite") {
        RGBColor(44, 160, 44)
    } else if label.starts_with("axum") {
        RGBColor(148, 103, 189)
    } else {
        RGBColor(127, 127, 127)
    }
}

/// Draws `panels` side by side under `title` into an SVG file at `path`.
pub fn draw(path: &Path, title: &str, panels: &[Panel]) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let width = (460 * panels.len().max(1) as u32).max(760);
    let root = SVGBackend::new(path, (width, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let (head, body) = root.split_vertically(40);
    head.draw(&Text::new(
        title.to_string(),
        (20, 12),
        ("sans-serif", 18).into_font(),
    ))?;
    let areas = body.split_evenly((1, panels.len().max(1)));
    for (area, panel) in areas.iter().zip(panels) {
        let bars: Vec<(String, f64)> = panel
            .bars
            .iter()
            .filter(|(_, v)| v.is_finite() && *v > 0.0)
            .cloned()
            .collect();
        if bars.is_empty() {
            continue;
        }
        let mut hi = bars.iter().map(|b| b.1).fold(0f64, f64::max);
        let mut lo = bars.iter().map(|b| b.1).fold(f64::INFINITY, f64::min);
        if let Some((t, _)) = &panel.target {
            hi = hi.max(*t);
            lo = lo.min(*t);
        }
        let n = bars.len();
        let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        let mut builder = ChartBuilder::on(area);
        builder
            .caption(&panel.caption, ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(180)
            .y_label_area_size(60);
        let x_range = -0.5f64..(n as f64 - 0.5);
        let formatter = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let label_style = ("sans-serif", 11)
            .into_font()
            .transform(FontTransform::Rotate90);
        macro_rules! bars_on {
            ($chart:expr, $base:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .disable_x_mesh()
                    .x_labels(n)
                    .x_label_formatter(&formatter)
                    .x_label_style(label_style.clone())
                    .y_desc(panel.y_desc.as_str())
                    .draw()?;
                chart.draw_series(bars.iter().enumerate().map(|(i, (label, v))| {
                    let x = i as f64;
                    Rectangle::new([(x - 0.35, $base), (x + 0.35, *v)], color(label).filled())
                }))?;
                chart.draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                    let text = if *v >= 100.0 {
                        format!("{v:.0}")
                    } else if *v >= 10.0 {
                        format!("{v:.1}")
                    } else {
                        format!("{v:.2}")
                    };
                    Text::new(text, (i as f64 - 0.3, *v), ("sans-serif", 11).into_font())
                }))?;
                if let Some((t, label)) = &panel.target {
                    let style = BLACK.stroke_width(1);
                    chart.draw_series(DashedLineSeries::new(
                        [(-0.5, *t), (n as f64 - 0.5, *t)],
                        6,
                        4,
                        style,
                    ))?;
                    chart.draw_series(std::iter::once(Text::new(
                        label.clone(),
                        (-0.45, *t),
                        ("sans-serif", 11).into_font(),
                    )))?;
                }
            }};
        }
        if panel.log {
            let base = lo / 2.0;
            bars_on!(
                builder.build_cartesian_2d(x_range, (base..hi * 2.0).log_scale())?,
                base
            );
        } else {
            bars_on!(builder.build_cartesian_2d(x_range, 0f64..hi * 1.15)?, 0.0);
        }
    }
    root.present()?;
    Ok(())
}
