//! Drawing: a pure function of the [`App`] state onto a ratatui frame.
//!
//! Legible on the Linux console: the eight basic colours, bold and reverse only (no dim, no
//! italics), ASCII text plus the full block and single-line box drawing, which every console
//! font has. Full layout from 60x20 up (designed at 80x25); a compact layout below that, down to
//! 40x12.

mod fatal;
mod home;
mod log;
mod packages;
mod precheck;
mod progress;
mod result;
mod sideload;
mod wipe;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::app::{App, Outcome, Screen};

pub use fatal::draw_fatal;
pub use result::failure_text;

use home::home;
use log::{last_install, log_view};
use packages::packages;
use precheck::{confirm, precheck};
use progress::progress;
use result::result;
use sideload::sideload;
use wipe::wipe;

fn bold() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}
fn red() -> Style {
    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
}
fn green() -> Style {
    Style::new().fg(Color::Green).add_modifier(Modifier::BOLD)
}
fn yellow() -> Style {
    Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
}
fn selected() -> Style {
    Style::new()
        .fg(Color::Black)
        .bg(Color::Cyan)
        .add_modifier(Modifier::BOLD)
}
fn title_bar() -> Style {
    Style::new()
        .fg(Color::Black)
        .bg(Color::White)
        .add_modifier(Modifier::BOLD)
}

/// True below 60x20: one-line summaries, no borders, no large digits.
fn compact(area: Rect) -> bool {
    area.width < 60 || area.height < 20
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header(frame, head, app);
    match &app.screen {
        Screen::Home => home(frame, body, app),
        Screen::Packages { scanning } => packages(frame, body, app, *scanning),
        Screen::PreCheck { pkg, checking, sel } => precheck(frame, body, pkg, *checking, *sel),
        Screen::Confirm { pkg, sel } => confirm(frame, body, app, pkg, *sel),
        Screen::Progress(p) => progress(frame, body, app, p),
        Screen::Result(r) => result(frame, body, app, r),
        Screen::Log {
            path,
            lines,
            scroll,
        } => log_view(frame, body, app, path, lines.as_deref(), *scroll),
        Screen::LastInstall { record, loaded } => {
            last_install(frame, body, record.as_deref(), *loaded)
        }
        Screen::Wipe { stage, sel } => wipe(frame, body, *stage, *sel),
        Screen::Sideload { addr, status } => sideload(frame, body, addr, status),
    }
    footer(frame, foot, app);
}

fn screen_title(s: &Screen) -> &'static str {
    match s {
        Screen::Home => "Main menu",
        Screen::Packages { .. } => "Update packages",
        Screen::PreCheck { .. } => "Pre-check",
        Screen::Confirm { .. } => "Confirm update",
        Screen::Progress(_) => "Installing",
        Screen::Result(r) => match r.outcome {
            Outcome::Success { .. } => "Update installed",
            Outcome::Failure { .. } => "Error",
        },
        Screen::Log { .. } => "Log",
        Screen::LastInstall { .. } => "Last install",
        Screen::Wipe { .. } => "Wipe data",
        Screen::Sideload { .. } => "Apply update from ADB",
    }
}

fn header(frame: &mut Frame, area: Rect, app: &App) {
    let left = format!(" RECOVERY | {}", screen_title(&app.screen));
    let f = &app.facts;
    let mut right = f.product.clone();
    if let Some(v) = &f.current_version {
        right.push_str(&format!(" {v}"));
    }
    if let Ok(Some(b)) = &f.battery {
        right.push_str(&format!(" {}%", b.percent));
    }
    right.push(' ');
    let width = area.width as usize;
    let line = if left.len() + right.len() < width {
        format!(
            "{left}{}{right}",
            " ".repeat(width - left.len() - right.len())
        )
    } else {
        left
    };
    frame.render_widget(Paragraph::new(line).style(title_bar()), area);
}

fn footer(frame: &mut Frame, area: Rect, app: &App) {
    if let Some(n) = &app.notice {
        frame.render_widget(Paragraph::new(n.as_str()).style(yellow()), area);
        return;
    }
    let hw = app.hardware_keys;
    let small = area.width < 60;
    let text: String = match &app.screen {
        Screen::Progress(p) if p.committed => "Do not remove the SD card or power off".into(),
        Screen::Progress(_) if small => "Esc: cancel (nothing written yet)".into(),
        Screen::Progress(_) => {
            "Esc: cancel (nothing written yet) | do not remove the SD card".into()
        }
        Screen::Log { .. } if small => "Up/Dn PgUp/PgDn | Esc: back".into(),
        Screen::Log { .. } => "Up/Down: scroll | PgUp/PgDn: page | Esc: back".into(),
        Screen::Sideload { .. } if hw => "hold Power: stop waiting".into(),
        Screen::Sideload { .. } => "Esc: stop waiting".into(),
        Screen::Result(r) if r.reboot_at.is_some() => "Any key: stop the reboot".into(),
        _ if small && hw => "Vol: move | Power: OK | hold: back".into(),
        _ if small => "Up/Dn: move | Enter: OK | Esc: back".into(),
        _ if hw => "Vol+/Vol-: move | Power: select | hold Power: back".into(),
        _ => "Up/Down: move | Enter: select | Esc: back".into(),
    };
    let style = match &app.screen {
        Screen::Progress(p) if p.committed => red(),
        _ => bold(),
    };
    frame.render_widget(Paragraph::new(text).style(style), area);
}

fn menu_lines<'a>(items: &[&'a str], sel: usize, width: u16) -> Vec<Line<'a>> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            if i == sel {
                let mut s = format!("> {item}");
                let w = width as usize;
                if s.len() < w {
                    s.push_str(&" ".repeat(w - s.len()));
                }
                Line::styled(s, selected())
            } else {
                Line::raw(format!("  {item}"))
            }
        })
        .collect()
}

fn buttons(labels: &[&str], sel: usize) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        if i == sel {
            spans.push(Span::styled(format!("> {l} <"), selected()));
        } else {
            spans.push(Span::raw(format!("  {l}  ")));
        }
    }
    Line::from(spans)
}
