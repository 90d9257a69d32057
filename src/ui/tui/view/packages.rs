//! The package list: every package found in storage with its verdicts, or why none was found.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::error::Code;
use crate::util::human_bytes;

use super::{bold, compact, green, red, selected};
use crate::ui::tui::app::{App, DeviceFacts, Verdict};

fn verdict(v: Verdict) -> Span<'static> {
    match v {
        Verdict::Yes => Span::styled("yes", green()),
        Verdict::No => Span::styled("NO", red()),
        Verdict::Unknown => Span::raw("?"),
    }
}

fn fit(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        format!("{s:<w$}")
    } else {
        let tail: String = s
            .chars()
            .rev()
            .take(w.saturating_sub(2))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("..{tail}")
    }
}

fn not_found_lines(f: &DeviceFacts) -> Vec<Line<'static>> {
    let c = Code::PackageNotFound;
    let places: Vec<String> = f.storage.iter().map(|p| p.display().to_string()).collect();
    vec![
        Line::styled(format!("No update package found (E{})", c.number()), red()),
        Line::raw(""),
        Line::raw(c.meaning()),
        Line::raw(""),
        Line::from(vec![
            Span::styled("What to do: ", bold()),
            Span::raw(c.fix()),
        ]),
        Line::raw(""),
        Line::raw(format!("Looked in: {}", places.join(", "))),
    ]
}

pub(super) fn packages(frame: &mut Frame, area: Rect, app: &App, scanning: bool) {
    let f = &app.facts;
    if scanning {
        let places: Vec<String> = f.storage.iter().map(|p| p.display().to_string()).collect();
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled("Looking for update packages...", bold()),
                Line::raw(format!("in {}", places.join(", "))),
            ])
            .wrap(Wrap { trim: false }),
            area,
        );
        return;
    }
    if app.packages.is_empty() {
        let mut lines = not_found_lines(f);
        lines.push(Line::raw(""));
        lines.push(Line::styled("> Back to main menu", selected()));
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
        return;
    }
    let small = compact(area);
    let mut lines: Vec<Line> = Vec::new();
    let w = area.width as usize;
    if !small {
        lines.push(Line::raw(
            "Choose a package. Every check runs before anything is written.",
        ));
        lines.push(Line::raw(""));
        let name_w = w.saturating_sub(47).max(10);
        lines.push(Line::styled(
            format!(
                "  {:<name_w$} {:<10} {:>9}  {:<6} {:<5} {:<5}",
                "Package", "Version", "Size", "Signed", "Newer", "Fits"
            ),
            bold(),
        ));
        for (i, p) in app.packages.iter().enumerate() {
            let sel = i == app.pkg_sel;
            let mark = if sel { "> " } else { "  " };
            let name_style = if sel { selected() } else { Style::new() };
            let sig = verdict(p.signed);
            let sig_w = 6 - sig.content.len().min(6);
            let newer = verdict(p.newer);
            let newer_w = 5 - newer.content.len().min(5);
            lines.push(Line::from(vec![
                Span::styled(
                    format!(
                        "{mark}{} {:<10} {:>9}",
                        fit(&p.name, name_w),
                        fit(p.version.as_deref().unwrap_or("?"), 10),
                        human_bytes(p.size)
                    ),
                    name_style,
                ),
                Span::raw("  "),
                sig,
                Span::raw(" ".repeat(sig_w + 1)),
                newer,
                Span::raw(" ".repeat(newer_w + 1)),
                verdict(p.for_device),
            ]));
        }
    } else {
        for (i, p) in app.packages.iter().enumerate() {
            let sel = i == app.pkg_sel;
            let mark = if sel { "> " } else { "  " };
            let style = if sel { selected() } else { Style::new() };
            let ver = p.version.as_deref().unwrap_or("?");
            let name_w = w.saturating_sub(ver.len() + 4).max(6);
            lines.push(Line::styled(
                format!("{mark}{} {ver}", fit(&p.name, name_w)),
                style,
            ));
            lines.push(Line::from(vec![
                Span::raw("   sig "),
                verdict(p.signed),
                Span::raw(" new "),
                verdict(p.newer),
                Span::raw(" fits "),
                verdict(p.for_device),
            ]));
        }
    }
    if let Some(p) = app.packages.get(app.pkg_sel) {
        lines.push(Line::raw(""));
        match &p.failure {
            Some(fl) => {
                lines.push(Line::styled(
                    format!("E{} {}", fl.code.number(), fl.code.name()),
                    red(),
                ));
                if !small {
                    lines.push(Line::raw(fl.code.meaning()));
                }
            }
            None => lines.push(Line::styled("Ready to install", green())),
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}
