//! The log viewer and the record of the last install.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use crate::util::human_bytes;

use super::{bold, compact, green, red, selected};
use crate::ui::tui::app::App;

pub(super) fn log_view(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    path: &std::path::Path,
    lines: Option<&[String]>,
    scroll: usize,
) {
    let Some(lines) = lines else {
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled("No log yet.", bold()),
                Line::raw(format!(
                    "{} does not exist: no install has run.",
                    path.display()
                )),
            ])
            .wrap(Wrap { trim: false }),
            area,
        );
        return;
    };
    let small = compact(area);
    let inner = if small {
        area.height.saturating_sub(1)
    } else {
        area.height.saturating_sub(2)
    } as usize;
    app.log_page.set(inner.max(1));
    let max = lines.len().saturating_sub(inner);
    let first = scroll.min(max);
    let last = (first + inner).min(lines.len());
    let shown: Vec<Line> = lines[first..last]
        .iter()
        .map(|l| Line::raw(l.clone()))
        .collect();
    let title = format!(
        " {} lines {}-{} of {} ",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        if lines.is_empty() { 0 } else { first + 1 },
        last,
        lines.len()
    );
    if small {
        let [t, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
        frame.render_widget(Paragraph::new(Span::styled(title, bold())), t);
        frame.render_widget(Paragraph::new(shown), body);
    } else {
        frame.render_widget(
            Paragraph::new(shown).block(Block::new().borders(Borders::ALL).title(title)),
            area,
        );
    }
}

pub(super) fn last_install(
    frame: &mut Frame,
    area: Rect,
    record: Option<&crate::state::InstallRecord>,
    loaded: bool,
) {
    let lines: Vec<Line> = match (record, loaded) {
        (_, false) => vec![Line::raw("Reading...")],
        (None, true) => vec![
            Line::styled("No install recorded yet.", bold()),
            Line::raw("last_install.json is written by every install."),
        ],
        (Some(r), true) => {
            let row = |k: &str, v: String| {
                Line::from(vec![Span::styled(format!("{k:<10}"), bold()), Span::raw(v)])
            };
            let mut l = vec![if r.success() {
                Line::styled("Result    success", green())
            } else {
                Line::styled(format!("Result    failed: E{} {}", r.code, r.name), red())
            }];
            l.push(row("Package", r.package.clone()));
            l.push(row(
                "Versions",
                format!(
                    "{} -> {}",
                    r.from_version.as_deref().unwrap_or("?"),
                    r.to_version.as_deref().unwrap_or("?")
                ),
            ));
            if let Some(s) = &r.target_slot {
                l.push(row("Slot", s.clone()));
            }
            if let Some(state) = r.state {
                l.push(state_row(state, r.state_changed_at.as_deref()));
            }
            l.push(row("Started", r.started_at.clone()));
            l.push(row(
                "Took",
                format!(
                    "{:.1} s, {} written",
                    r.duration_ms as f64 / 1000.0,
                    human_bytes(r.bytes_written)
                ),
            ));
            if !r.success() {
                l.push(row("Detail", r.message.clone()));
                l.push(row("Fix", r.fix.clone()));
            }
            l
        }
    };
    let [top, bottom] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), top);
    frame.render_widget(Paragraph::new(Line::styled("> Back", selected())), bottom);
}

/// Where the install stands in the A/B life (docs/SLOTS.md), in words, with when it got there.
fn state_row(state: crate::state::InstallState, since: Option<&str>) -> Line<'static> {
    use crate::state::InstallState;
    let (text, style) = match state {
        InstallState::Pending => ("pending: waiting for confirmation", bold()),
        InstallState::Confirmed => ("confirmed", green()),
        InstallState::FellBack => ("returned to the previous version", red()),
        InstallState::Failed => ("failed", red()),
    };
    let since = since.map(|t| format!(" (since {t})")).unwrap_or_default();
    Line::from(vec![
        Span::styled(format!("{:<10}", "State"), bold()),
        Span::styled(format!("{text}{since}"), style),
    ])
}
