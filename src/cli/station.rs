//! `station`: sideload one package to many units at once (the factory line). A table redrawn in
//! place on a terminal, or JSON lines with `--json`; one report record per unit.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use recovery_updater::error::Code;
use recovery_updater::install::events::Finish;
use recovery_updater::station::{self, report::Report, totals, view, Station, UnitStatus};
use serde_json::json;

use super::reporter;

#[derive(clap::Args)]
pub struct StationArgs {
    package: PathBuf,
    /// Units, comma-separated: HOST:PORT (or HOST for adb's port 5555), or adb serials (reached
    /// through the host's adb). Omitted: every device `adb devices` shows in state sideload.
    #[arg(long, value_delimiter = ',')]
    devices: Vec<String>,
    /// Headless: one JSON object per line on stdout (unit changes, then the result).
    #[arg(long)]
    pub json: bool,
    /// Report file, one record per unit: NAME.csv or NAME.jsonl.
    #[arg(long)]
    report: Option<PathBuf>,
}

pub fn station(args: StationArgs) -> anyhow::Result<ExitCode> {
    let mut report = match args.report.as_deref().map(Report::create).transpose() {
        Ok(r) => r,
        Err(e) => return Ok(fail(args.json, Code::StationReport, &e.to_string())),
    };
    let targets = match station::adb_host::resolve(&args.devices, &mut station::adb_host::devices) {
        Ok(t) => t,
        Err(e) => return Ok(fail(args.json, Code::StationNoUnits, &e)),
    };
    let st = match Station::start(&args.package, &targets) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("{}: {e}", args.package.display());
            return Ok(fail(args.json, Code::PackageNotFound, &msg));
        }
    };
    let report_name = args.report.as_ref().map(|p| p.display().to_string());
    let tty = !args.json && std::io::stdout().is_terminal();
    let mut last: Vec<String> = Vec::new();
    let units = st.wait(Duration::from_millis(200), |units| {
        if args.json {
            json_changes(units, &mut last);
        } else if tty {
            // Redraw in place: home the cursor, clear below, draw the table.
            print!(
                "\x1b[H\x1b[J{}",
                view::render(units, report_name.as_deref())
            );
            let _ = std::io::stdout().flush();
        }
    });
    if !args.json && !tty {
        print!("{}", view::render(&units, report_name.as_deref()));
    }
    if let Some(r) = report.as_mut() {
        if let Err(e) = r.write(&units) {
            return Ok(fail(args.json, Code::StationReport, &e.to_string()));
        }
    }
    let t = totals(&units);
    if args.json {
        println!(
            "{}",
            json!({"event": "result", "passed": t.passed, "failed": t.failed,
                "units": units.len(), "report": report_name})
        );
    }
    // All passed: 0. Otherwise the first failed unit's code.
    let first = units.iter().find(|u| u.phase == station::Phase::Failed);
    Ok(match first.and_then(|u| Code::from_number(u.code)) {
        None if first.is_none() => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(c.exit_status()),
        None => ExitCode::from(Code::Internal.exit_status()),
    })
}

/// One `unit` line per unit whose phase, percent or code changed since the last tick.
fn json_changes(units: &[UnitStatus], last: &mut Vec<String>) {
    last.resize(units.len(), String::new());
    for (u, seen) in units.iter().zip(last.iter_mut()) {
        let key = format!("{:?}{}{}", u.phase, u.percent, u.code);
        if *seen != key {
            *seen = key;
            let mut v = serde_json::to_value(u).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("event".into(), "unit".into());
            }
            println!("{v}");
        }
    }
}

fn fail(json: bool, code: Code, message: &str) -> ExitCode {
    reporter(json).finish(&Finish::Failed { code, message });
    ExitCode::from(code.exit_status())
}
