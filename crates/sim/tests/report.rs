//! The files a comparison writes: JSON, CSV, and every plot as PNG and SVG.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ecs_scaler_sim::{Knobs, builtin, compare, plot, report};

#[test]
fn a_comparison_writes_json_csv_and_every_plot_as_png_and_svg() {
    let scenario = builtin::by_name("fragmentation").unwrap();
    let comparison = compare(&scenario, &ecs_scaler_sim::policy::NAMES, &Knobs::default(), &mut |_| {}).unwrap();
    let dir = std::env::temp_dir().join(format!("ecs-scaler-sim-report-{}", std::process::id()));
    let mut files = comparison.write_files(&dir).unwrap();
    files.extend(plot::write_plots(&comparison, &dir).unwrap());

    let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for chart in ["instances", "reservation", "scale_status", "unplaced", "below_min"] {
        for extension in ["png", "svg"] {
            assert!(names.contains(&format!("{chart}.{extension}")), "{chart}.{extension} missing from {names:?}");
        }
    }
    let png = std::fs::read(dir.join("instances.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(dir.join("reservation.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("MemoryReservation"), "the legend is drawn as text");

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["runs"].as_array().unwrap().len(), 3);
    let timeline = std::fs::read_to_string(dir.join("timeline.csv")).unwrap();
    assert!(timeline.starts_with("policy,drain_hook,minute,instances,"), "{}", &timeline[..80]);
    assert_eq!(timeline.lines().count(), 1 + 3 * 120);
    std::fs::remove_dir_all(&dir).unwrap();

    let table = report::table([&comparison]);
    assert!(table.lines().nth(2).unwrap().starts_with("| fragmentation | ecs-scaler"), "{table}");
}
