//! The home screen: the device facts and the main menu.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use crate::app::lifecycle::InstallState;
use crate::util::human_bytes;

use super::{bold, compact, menu_lines, red};
use crate::ui::tui::app::{App, DeviceFacts, Fact, HOME_MENU};

fn fact<T>(f: &Fact<T>, show: impl Fn(&T) -> String) -> Span<'static> {
    match f {
        Ok(v) => Span::raw(show(v)),
        Err((code, _)) => Span::styled(format!("unreadable (E{})", code.number()), red()),
    }
}

fn slot_text(f: &DeviceFacts) -> Span<'static> {
    fact(&f.active_slot, |s| match s {
        Some(s) => format!("slot {s} active (A/B)"),
        None => "single slot (in place)".into(),
    })
}

/// The A/B life of the last install, when it needs saying: on trial, or undone by the bootloader.
fn update_text(f: &DeviceFacts) -> Option<Span<'static>> {
    match f.update_state? {
        InstallState::Pending => Some(Span::styled(
            "waiting for confirmation (new version on trial)",
            bold(),
        )),
        InstallState::FellBack => Some(Span::styled(
            "returned to the previous version (E9121)",
            red(),
        )),
        InstallState::Confirmed | InstallState::Failed => None,
    }
}

fn battery_text(f: &DeviceFacts) -> Span<'static> {
    fact(&f.battery, |b| match b {
        Some(b) => format!(
            "{}%{}",
            b.percent,
            if b.charging { ", charging" } else { "" }
        ),
        None => "mains power".into(),
    })
}

pub(super) fn home(frame: &mut Frame, area: Rect, app: &App) {
    let f = &app.facts;
    let version = f
        .current_version
        .clone()
        .unwrap_or_else(|| "unknown".into());
    if compact(area) {
        let mut lines = vec![
            Line::from(vec![
                Span::styled(f.product.clone(), bold()),
                Span::raw(" "),
                fact(&f.hardware_revision, |s| s.clone()),
                Span::raw(format!(" v{version} ")),
                fact(&f.active_slot, |s| match s {
                    Some(s) => format!("slot {s}"),
                    None => "1 slot".into(),
                }),
            ]),
            Line::from(vec![
                Span::raw("bat "),
                battery_text(f),
                Span::raw(" free "),
                fact(&f.free_space, |b| human_bytes(*b)),
            ]),
        ];
        if let Some(u) = update_text(f) {
            lines.push(Line::from(u));
        }
        let [facts, _, menu] = Layout::vertical([
            Constraint::Length(lines.len() as u16),
            // The spacer gives way to the update line, so the whole menu still fits 40x12.
            Constraint::Length(if area.height > 9 && lines.len() == 2 {
                1
            } else {
                0
            }),
            Constraint::Min(1),
        ])
        .areas(area);
        frame.render_widget(Paragraph::new(lines), facts);
        frame.render_widget(
            Paragraph::new(menu_lines(&HOME_MENU, app.home_sel, menu.width)),
            menu,
        );
        return;
    }
    let row = |k: &'static str, v: Span<'static>| {
        Line::from(vec![Span::styled(format!("{k:<14}"), bold()), v])
    };
    let mut lines = vec![
        row("Product", Span::raw(f.product.clone())),
        row("Hardware", fact(&f.hardware_revision, |s| s.clone())),
        row(
            "Baseband",
            fact(&f.baseband, |b| b.clone().unwrap_or_else(|| "none".into())),
        ),
        row("Version", Span::raw(version)),
        row("Boot slot", slot_text(f)),
        row("Battery", battery_text(f)),
        row(
            "Free space",
            fact(&f.free_space, |b| {
                format!("{} in {}", human_bytes(*b), f.state_dir.display())
            }),
        ),
    ];
    if let Some(u) = update_text(f) {
        lines.insert(5, row("Update", u));
    }
    let [facts, menu, _] = Layout::vertical([
        Constraint::Length(lines.len() as u16 + 2),
        Constraint::Length(HOME_MENU.len() as u16 + 2),
        Constraint::Min(0),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(lines).block(Block::new().borders(Borders::ALL).title(" Device ")),
        facts,
    );
    let inner_w = menu.width.saturating_sub(2);
    frame.render_widget(
        Paragraph::new(menu_lines(&HOME_MENU, app.home_sel, inner_w))
            .block(Block::new().borders(Borders::ALL).title(" Menu ")),
        menu,
    );
}
