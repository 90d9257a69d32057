//! The pre-check of one package (every check, nothing written) and the confirmation before the
//! install.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::device::SlotMode;
use crate::install::events::{CheckName, CheckStatus};
use crate::util::human_bytes;

use super::{bold, buttons, compact, green, red, yellow};
use crate::ui::tui::app::{App, PackageInfo};

fn check_mark(status: Option<CheckStatus>) -> Span<'static> {
    match status {
        Some(CheckStatus::Pass) => Span::styled("[ OK ]", green()),
        Some(CheckStatus::Fail) => Span::styled("[FAIL]", red()),
        Some(CheckStatus::Skip) => Span::styled("[SKIP]", yellow()),
        None => Span::raw("[ -- ]"),
    }
}

pub(super) fn precheck(
    frame: &mut Frame,
    area: Rect,
    pkg: &PackageInfo,
    checking: bool,
    sel: usize,
) {
    let small = compact(area);
    let mut lines: Vec<Line> = Vec::new();
    if !small {
        lines.push(Line::from(vec![
            Span::raw("Checking "),
            Span::styled(pkg.name.clone(), bold()),
            Span::raw(" - nothing is written"),
        ]));
        lines.push(Line::raw(""));
    }
    if checking {
        lines.push(Line::styled("Checking...", bold()));
        frame.render_widget(Paragraph::new(lines), area);
        return;
    }
    let label_w = if small { 10 } else { 18 };
    for c in CheckName::ALL {
        let row = pkg.checks.iter().find(|r| r.check == c);
        let mut label = c.label().to_string();
        if small {
            label = match c {
                CheckName::Manifest => "Contents".into(),
                CheckName::Hardware => "Hardware".into(),
                CheckName::Rollback => "Rollback".into(),
                CheckName::Partitions => "Fit".into(),
                CheckName::Space => "Space".into(),
                _ => label,
            };
        }
        let mut spans = vec![
            check_mark(row.map(|r| r.status)),
            Span::raw(format!(" {label:<label_w$} ")),
        ];
        match row {
            Some(r) => {
                if let Some(code) = r.code {
                    spans.push(Span::styled(format!("E{} ", code.number()), red()));
                }
                spans.push(Span::raw(r.detail.clone()));
            }
            None => spans.push(Span::raw("not run")),
        }
        lines.push(Line::from(spans));
    }
    let mut explain: Vec<Line> = Vec::new();
    let first = match &pkg.failure {
        Some(f) => {
            if !small {
                explain.push(Line::styled(
                    format!("Cannot install: E{} {}", f.code.number(), f.code.name()),
                    red(),
                ));
                explain.push(Line::from(vec![
                    Span::styled("What happened: ", bold()),
                    Span::raw(f.code.meaning()),
                ]));
                explain.push(Line::from(vec![
                    Span::styled("What to do: ", bold()),
                    Span::raw(f.code.fix()),
                ]));
                explain.push(Line::raw("Nothing was written."));
            }
            "Show error"
        }
        None => {
            if !small {
                explain.push(Line::styled(
                    "Every check passed. Nothing has been written yet.",
                    green(),
                ));
            }
            "Continue"
        }
    };
    let n = lines.len() as u16;
    let [top, _gap, rest, bottom] = Layout::vertical([
        Constraint::Length(n),
        Constraint::Length(if small { 0 } else { 1 }),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    // Check rows keep one line each (long details are cut at the edge); the explanation wraps.
    frame.render_widget(Paragraph::new(lines), top);
    frame.render_widget(Paragraph::new(explain).wrap(Wrap { trim: false }), rest);
    frame.render_widget(Paragraph::new(buttons(&[first, "Back"], sel)), bottom);
}

pub(super) fn confirm(frame: &mut Frame, area: Rect, app: &App, pkg: &PackageInfo, sel: usize) {
    let small = compact(area);
    let plan = pkg.plan.as_ref();
    let from = plan
        .and_then(|p| p.from_version.clone())
        .or_else(|| app.facts.current_version.clone())
        .unwrap_or_else(|| "unknown".into());
    let to = plan
        .map(|p| p.to_version.clone())
        .or_else(|| pkg.version.clone())
        .unwrap_or_else(|| "?".into());
    let wipe = plan.is_some_and(|p| p.wipe_data);
    let (target, target_long) = match plan.map(|p| (p.mode, p.active_slot, p.target_slot)) {
        Some((SlotMode::Ab, Some(a), Some(t))) => (
            format!("slot {t}"),
            format!("slot {t} (slot {a} keeps running the current version)"),
        ),
        _ => (
            "in place".to_string(),
            "in place, over the current system (every image is verified first)".to_string(),
        ),
    };
    let mut lines: Vec<Line> = Vec::new();
    if small {
        lines.push(Line::styled(format!("Install {to}?"), bold()));
        lines.push(Line::raw(format!("{from} -> {to}, {target}")));
        if wipe {
            lines.push(Line::styled(
                "ERASES ALL DATA: back up contacts and call records first",
                red(),
            ));
        }
        lines.push(Line::styled(
            "Do not remove the SD card or power off",
            yellow(),
        ));
    } else {
        let row = |k: &str, v: String| {
            Line::from(vec![Span::styled(format!("{k:<14}"), bold()), Span::raw(v)])
        };
        lines.push(Line::styled("Install this update?", bold()));
        lines.push(Line::raw(""));
        lines.push(row("Package", pkg.name.clone()));
        lines.push(row("From version", from));
        lines.push(row("To version", to));
        lines.push(row("Writes", target_long));
        if let Some(p) = plan {
            let imgs: Vec<String> = p
                .images
                .iter()
                .map(|i| {
                    let copy = if i.source == "copy" { "copy " } else { "" };
                    format!("{copy}{} {}", i.partition, human_bytes(i.bytes))
                })
                .collect();
            lines.push(row("Images", imgs.join(", ")));
        }
        lines.push(Line::raw(""));
        if wipe {
            lines.push(Line::styled(
                "WARNING: this update ERASES ALL USER DATA on the device.",
                red(),
            ));
            lines.push(Line::styled(
                "Back up contacts and call records first.",
                red(),
            ));
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(
            "Do not remove the SD card or power off until it is finished.",
            yellow(),
        ));
    }
    let [top, bottom] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), top);
    frame.render_widget(Paragraph::new(buttons(&["Cancel", "Install"], sel)), bottom);
}
