//! PNG and SVG plots of a comparison, drawn with plotters. Text uses the bundled DejaVu Sans (see
//! `fonts/LICENSE-DejaVu.txt`) through ab_glyph, so no system font library is needed.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::SimError;
use crate::report::{Comparison, Run};
use crate::world::Minute;

static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

fn register_font() -> Result<(), SimError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok());
    if ok { Ok(()) } else { Err(SimError::Plot("the bundled font could not be loaded".into())) }
}

const WIDTH: u32 = 1200;
const PANEL_HEIGHT: u32 = 260;

fn colour(run: &Run) -> RGBColor {
    match (run.policy.as_str(), run.drain_hook) {
        ("ecs-scaler", true) => RGBColor(31, 90, 200),
        ("ecs-scaler", false) => RGBColor(240, 130, 0),
        ("seed", true) => RGBColor(210, 40, 40),
        ("seed", false) => RGBColor(200, 60, 200),
        ("capacity-provider", true) => RGBColor(30, 150, 60),
        ("capacity-provider", false) => RGBColor(140, 150, 20),
        _ => RGBColor(120, 120, 120),
    }
}

fn label(run: &Run) -> String {
    if run.drain_hook { run.policy.clone() } else { format!("{} (no drain hook)", run.policy) }
}

fn plot_error<E: std::fmt::Debug>(error: E) -> SimError {
    SimError::Plot(format!("{error:?}"))
}

/// Write `instances`, `reservation`, `scale_status`, `unplaced` and `below_min`, each as PNG and SVG. Returns
/// the files.
pub fn write_plots(comparison: &Comparison, dir: &Path) -> Result<Vec<PathBuf>, SimError> {
    register_font()?;
    std::fs::create_dir_all(dir).map_err(|e| SimError::Io(format!("{}: {e}", dir.display())))?;
    let panels = comparison.runs.len().max(1) as u32;
    let charts: [(&str, u32, Chart); 5] = [
        ("instances", 560, Chart::Instances),
        ("reservation", PANEL_HEIGHT * panels, Chart::Reservation),
        ("scale_status", (PANEL_HEIGHT * 3 / 4) * panels, Chart::ScaleStatus),
        ("unplaced", 460, Chart::Unplaced),
        ("below_min", 460, Chart::BelowMin),
    ];
    let mut written = Vec::new();
    for (name, height, chart) in charts {
        let png = dir.join(format!("{name}.png"));
        {
            let root = BitMapBackend::new(&png, (WIDTH, height)).into_drawing_area();
            chart.draw(&root, comparison)?;
            root.present().map_err(plot_error)?;
        }
        written.push(png);
        let svg = dir.join(format!("{name}.svg"));
        {
            let root = SVGBackend::new(&svg, (WIDTH, height)).into_drawing_area();
            chart.draw(&root, comparison)?;
            root.present().map_err(plot_error)?;
        }
        written.push(svg);
    }
    Ok(written)
}

#[derive(Debug, Clone, Copy)]
enum Chart {
    Instances,
    Reservation,
    ScaleStatus,
    Unplaced,
    BelowMin,
}

impl Chart {
    fn draw<DB: DrawingBackend>(self, root: &DrawingArea<DB, Shift>, comparison: &Comparison) -> Result<(), SimError> {
        root.fill(&WHITE).map_err(plot_error)?;
        match self {
            Chart::Instances => lines(
                root,
                &format!("{}: instances (oracle bound in grey)", comparison.scenario),
                "instances",
                comparison,
                |m| Some(f64::from(m.instances)),
                true,
            ),
            Chart::Unplaced => lines(
                root,
                &format!("{}: tasks ECS could not place", comparison.scenario),
                "unplaced tasks",
                comparison,
                |m| Some(f64::from(m.unplaced_tasks)),
                false,
            ),
            Chart::BelowMin => lines(
                root,
                &format!("{}: services below their minimum healthy tasks", comparison.scenario),
                "services",
                comparison,
                |m| Some(f64::from(m.below_min_services)),
                false,
            ),
            Chart::Reservation => {
                let panels = root.split_evenly((comparison.runs.len().max(1), 1));
                for (panel, run) in panels.iter().zip(&comparison.runs) {
                    reservation_panel(panel, &comparison.scenario, run)?;
                }
                Ok(())
            }
            Chart::ScaleStatus => {
                let panels = root.split_evenly((comparison.runs.len().max(1), 1));
                for (panel, run) in panels.iter().zip(&comparison.runs) {
                    scale_status_panel(panel, &comparison.scenario, run)?;
                }
                Ok(())
            }
        }
    }
}

fn minutes(comparison: &Comparison) -> u32 {
    comparison.runs.iter().map(|r| r.timeline.len() as u32).max().unwrap_or(1).max(1)
}

/// One line per run; the oracle in grey when asked.
fn lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    caption: &str,
    y_label: &str,
    comparison: &Comparison,
    value: impl Fn(&Minute) -> Option<f64>,
    oracle: bool,
) -> Result<(), SimError> {
    let top = comparison
        .runs
        .iter()
        .flat_map(|r| {
            let oracle_line = r.timeline.iter().filter(|_| oracle).map(|m| f64::from(m.oracle));
            r.timeline.iter().filter_map(&value).chain(oracle_line)
        })
        .fold(1.0f64, f64::max);
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0u32..minutes(comparison), 0f64..top * 1.1)
        .map_err(plot_error)?;
    chart.configure_mesh().x_desc("minute").y_desc(y_label).light_line_style(WHITE).draw().map_err(plot_error)?;
    if oracle && let Some(first) = comparison.runs.first() {
        let grey = RGBColor(150, 150, 150);
        chart
            .draw_series(LineSeries::new(first.timeline.iter().map(|m| (m.minute, f64::from(m.oracle))), grey))
            .map_err(plot_error)?
            .label("oracle bound")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey));
    }
    for run in &comparison.runs {
        let c = colour(run);
        chart
            .draw_series(LineSeries::new(
                run.timeline.iter().filter_map(|m| value(m).map(|v| (m.minute, v))),
                c.stroke_width(2),
            ))
            .map_err(plot_error)?
            .label(label(run))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    Ok(())
}

/// CPU and memory reservation of one run, with its min/max thresholds as thin horizontal lines.
fn reservation_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    scenario: &str,
    run: &Run,
) -> Result<(), SimError> {
    let end = run.timeline.len().max(1) as u32;
    let mut chart = ChartBuilder::on(panel)
        .caption(format!("{scenario}: reservation, {}", label(run)), ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(48)
        .build_cartesian_2d(0u32..end, 0f64..105f64)
        .map_err(plot_error)?;
    chart.configure_mesh().x_desc("minute").y_desc("%").light_line_style(WHITE).draw().map_err(plot_error)?;
    let (cpu, memory) = (RGBColor(31, 90, 200), RGBColor(140, 60, 170));
    if let Some(thresholds) = run.thresholds {
        for (t, c) in [(thresholds.cpu, cpu), (thresholds.memory, memory)] {
            for level in [t.min, t.max] {
                chart
                    .draw_series(LineSeries::new([(0, level), (end, level)], c.mix(0.45).stroke_width(1)))
                    .map_err(plot_error)?;
            }
        }
    }
    for (name, c, pick) in [
        ("CPUReservation", cpu, (|m: &Minute| m.cpu_reservation) as fn(&Minute) -> Option<f64>),
        ("MemoryReservation", memory, |m: &Minute| m.memory_reservation),
    ] {
        chart
            .draw_series(LineSeries::new(
                run.timeline.iter().filter_map(|m| pick(m).map(|v| (m.minute, v))),
                c.stroke_width(2),
            ))
            .map_err(plot_error)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    Ok(())
}

/// ScaleStatus (0 down, 1 stay, 2 up) of one run; for the capacity provider, above/at/below target.
fn scale_status_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    scenario: &str,
    run: &Run,
) -> Result<(), SimError> {
    let end = run.timeline.len().max(1) as u32;
    let mut chart = ChartBuilder::on(panel)
        .caption(format!("{scenario}: ScaleStatus, {}", label(run)), ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(48)
        .build_cartesian_2d(0u32..end, -0.2f64..2.2f64)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("minute")
        .y_labels(3)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE)
        .draw()
        .map_err(plot_error)?;
    let c = colour(run);
    let mut points = Vec::new();
    for m in &run.timeline {
        if let Some(status) = m.scale_status {
            let v = f64::from(status);
            points.push((m.minute, v));
            points.push((m.minute + 1, v));
        }
    }
    chart.draw_series(LineSeries::new(points, c.stroke_width(2))).map_err(plot_error)?;
    Ok(())
}
