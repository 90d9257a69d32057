use super::report::{render as report, Format, CSV_HEADER};
use super::*;

fn unit(serial: &str, phase: Phase, code: u16) -> UnitStatus {
    UnitStatus {
        product: "demo-phone".into(),
        phase,
        code,
        message: "a, \"quoted\" message".into(),
        ..UnitStatus::new(serial, 100)
    }
}

#[test]
fn totals_count_each_phase() {
    let units = [
        unit("a", Phase::Passed, 0),
        unit("b", Phase::Failed, 9013),
        unit("c", Phase::Sending, 0),
        unit("d", Phase::Passed, 0),
    ];
    assert_eq!(
        totals(&units),
        Totals {
            passed: 2,
            failed: 1,
            running: 1
        }
    );
    let screen = view::render(&units, Some("r.csv"));
    assert!(screen.contains("passed 2  failed 1  running 1  report r.csv"));
    assert!(screen
        .lines()
        .any(|l| l.starts_with('b') && l.ends_with("9013")));
}

#[test]
fn csv_quotes_fields_and_has_one_row_per_unit() {
    let text = report(
        Format::Csv,
        &[
            unit("127.0.0.1:1", Phase::Passed, 0),
            unit("x", Phase::Failed, 9013),
        ],
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], CSV_HEADER);
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with("127.0.0.1:1,127.0.0.1:1,demo-phone,passed,0,"));
    assert!(lines[2].contains(",failed,9013,"));
    assert!(lines[2].ends_with(",\"a, \"\"quoted\"\" message\""));
}

#[test]
fn json_lines_are_one_object_per_unit() {
    let text = report(Format::JsonLines, &[unit("x", Phase::Failed, 9013)]);
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["code"], 9013);
    assert_eq!(v["phase"], "failed");
}

#[test]
fn a_report_name_must_say_its_format() {
    let dir = tempfile::tempdir().unwrap();
    assert!(report::Report::create(&dir.path().join("r.txt")).is_err());
    assert!(report::Report::create(&dir.path().join("r.jsonl")).is_ok());
}
