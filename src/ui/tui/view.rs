//! Drawing: a pure function of the [`App`] state onto a ratatui frame.
//!
//! Legible on the Linux console: the eight basic colours, bold and reverse only (no dim, no
//! italics), ASCII text plus the full block and single-line box drawing, which every console
//! font has. Full layout from 60x20 up (designed at 80x25); a compact layout below that, down to
//! 40x12.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use crate::device::SlotMode;
use crate::error::Code;
use crate::install::events::{CheckName, CheckStatus};
use crate::util::human_bytes;

use super::app::{
    App, DeviceFacts, Fact, Outcome, PackageInfo, ProgressState, ResultState, RowState, Screen,
    Verdict, Written, HOME_MENU,
};

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

fn home(frame: &mut Frame, area: Rect, app: &App) {
    let f = &app.facts;
    let version = f
        .current_version
        .clone()
        .unwrap_or_else(|| "unknown".into());
    if compact(area) {
        let lines = vec![
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
        let [facts, _, menu] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Length(if area.height > 9 { 1 } else { 0 }),
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
    let lines = vec![
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

fn packages(frame: &mut Frame, area: Rect, app: &App, scanning: bool) {
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

fn check_mark(status: Option<CheckStatus>) -> Span<'static> {
    match status {
        Some(CheckStatus::Pass) => Span::styled("[ OK ]", green()),
        Some(CheckStatus::Fail) => Span::styled("[FAIL]", red()),
        Some(CheckStatus::Skip) => Span::styled("[SKIP]", yellow()),
        None => Span::raw("[ -- ]"),
    }
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

fn precheck(frame: &mut Frame, area: Rect, pkg: &PackageInfo, checking: bool, sel: usize) {
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

fn confirm(frame: &mut Frame, area: Rect, app: &App, pkg: &PackageInfo, sel: usize) {
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

fn clock(secs: u64) -> String {
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// A bar of full blocks on light shade (both in every console font, and the empty part stays
/// visible on a black screen), with its text to the right.
fn bar(frame: &mut Frame, area: Rect, text: String, text_w: u16, percent: u16, color: Color) {
    let text_w = text_w.min(area.width / 2);
    let [b, t] = Layout::horizontal([Constraint::Min(4), Constraint::Length(text_w)]).areas(area);
    let w = b.width as usize;
    let filled = w * usize::from(percent.min(100)) / 100;
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("\u{2588}".repeat(filled), Style::new().fg(color)),
            Span::raw("\u{2591}".repeat(w - filled)),
        ])),
        b,
    );
    frame.render_widget(Paragraph::new(Span::styled(text, bold())), t);
}

fn progress(frame: &mut Frame, area: Rect, app: &App, p: &ProgressState) {
    let small = compact(area);
    let rows = p.rows();
    let pct = p.percent();
    let rate = p.rate(app.now);
    let speed = match (rate, p.seconds_left(app.now)) {
        (Some(r), Some(s)) => format!("{:.1} MB/s, {} left", r / 1e6, clock(s)),
        // Nothing until there is a rate to show.
        _ => String::new(),
    };
    let overall = format!(
        "{pct}%  {} of {}",
        human_bytes(p.done.min(p.total)),
        human_bytes(p.total)
    );
    let image = match &p.partition {
        Some(part) => format!("{part} {}%", p.image_percent()),
        None => String::new(),
    };
    let notice: Line = match &p.notice {
        Some(n) => Line::styled(n.clone(), yellow()),
        None => Line::raw(""),
    };
    if small {
        let cur = rows
            .iter()
            .position(|r| r.state == RowState::Current)
            .map(|i| format!("> {} ({}/{})", rows[i].label, i + 1, rows.len()))
            .unwrap_or_else(|| "Starting...".into());
        let [a, b, c, d, e, f] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(area);
        frame.render_widget(Paragraph::new(Line::styled(cur, bold())), a);
        bar(frame, b, format!(" {pct}%"), 13, pct, Color::Green);
        if p.partition.is_some() {
            bar(
                frame,
                c,
                format!(" {image}"),
                13,
                p.image_percent(),
                Color::Cyan,
            );
        }
        frame.render_widget(Paragraph::new(speed), d);
        frame.render_widget(Paragraph::new(notice), e);
        log_tail(frame, f, p, false);
        return;
    }
    let n = rows.len() as u16;
    let [title, phases, g1, g2, sp, nt, log] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(n),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
    ])
    .areas(area);
    let to = p
        .plan
        .as_ref()
        .map(|pl| format!(" {}", pl.to_version))
        .unwrap_or_default();
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(format!("Installing{to}"), bold()),
            Span::raw(format!(" from {}", p.package)),
        ])),
        title,
    );
    let lines: Vec<Line> = rows
        .iter()
        .map(|r| match r.state {
            RowState::Done => Line::from(vec![
                Span::styled("[done] ", green()),
                Span::raw(r.label.clone()),
            ]),
            RowState::Current => Line::styled(format!("[ >> ] {}", r.label), selected()),
            RowState::Pending => Line::raw(format!("[    ] {}", r.label)),
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), phases);
    let [l1, r1] = Layout::horizontal([Constraint::Length(10), Constraint::Min(10)]).areas(g1);
    frame.render_widget(Paragraph::new(Span::styled("Overall", bold())), l1);
    bar(frame, r1, format!(" {overall}"), 28, pct, Color::Green);
    let [l2, r2] = Layout::horizontal([Constraint::Length(10), Constraint::Min(10)]).areas(g2);
    frame.render_widget(Paragraph::new(Span::styled("Image", bold())), l2);
    if p.partition.is_some() {
        bar(
            frame,
            r2,
            format!(" {image}"),
            28,
            p.image_percent(),
            Color::Cyan,
        );
    }
    frame.render_widget(Paragraph::new(format!("{:10}{speed}", "")), sp);
    frame.render_widget(Paragraph::new(notice), nt);
    log_tail(frame, log, p, true);
}

fn log_tail(frame: &mut Frame, area: Rect, p: &ProgressState, border: bool) {
    let inner = if border {
        area.height.saturating_sub(2)
    } else {
        area.height
    } as usize;
    let skip = p.log.len().saturating_sub(inner);
    let lines: Vec<Line> = p
        .log
        .iter()
        .skip(skip)
        .map(|l| Line::raw(l.clone()))
        .collect();
    let mut para = Paragraph::new(lines);
    if border {
        para = para.block(Block::new().borders(Borders::ALL).title(" Log "));
    }
    frame.render_widget(para, area);
}

/// 3x5 digits drawn with full blocks, two columns per pixel.
fn big_digits(n: u16) -> Vec<String> {
    const FONT: [[&str; 5]; 10] = [
        ["###", "# #", "# #", "# #", "###"],
        [" # ", "## ", " # ", " # ", "###"],
        ["###", "  #", "###", "#  ", "###"],
        ["###", "  #", "###", "  #", "###"],
        ["# #", "# #", "###", "  #", "  #"],
        ["###", "#  ", "###", "  #", "###"],
        ["###", "#  ", "###", "# #", "###"],
        ["###", "  #", "  #", "  #", "  #"],
        ["###", "# #", "###", "# #", "###"],
        ["###", "# #", "###", "  #", "###"],
    ];
    let digits: Vec<usize> = n
        .to_string()
        .bytes()
        .map(|b| usize::from(b - b'0'))
        .collect();
    (0..5)
        .map(|row| {
            digits
                .iter()
                .map(|&d| {
                    FONT[d][row]
                        .chars()
                        .map(|c| if c == '#' { "\u{2588}\u{2588}" } else { "  " })
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join("  ")
        })
        .collect()
}

/// The failure screen: the code in large type, what happened, what to do, the state of the
/// device and where the log is. Also used for the panic screen.
pub fn failure_text(
    code: Code,
    message: &str,
    written: &Written,
    log: Option<&std::path::Path>,
    small: bool,
    show_state: bool,
) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = Vec::new();
    if small {
        // Most important first, as much as fits: the code, what state the device is in, what
        // to do, and then what happened.
        lines.push(Line::styled(
            format!(" ERROR {} ", code.number()),
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        ));
        lines.push(Line::styled(code.name(), red()));
        let state = match written {
            Written::Nothing => "Nothing was written.".to_string(),
            Written::OtherSlot { target, active } => {
                format!("Slot {active} still boots ({target}: unbootable).")
            }
            Written::InPlace => "Do not reboot: retry the update.".into(),
        };
        if show_state {
            lines.push(Line::styled(state, bold()));
        }
        lines.push(Line::from(vec![
            Span::styled("Fix: ", bold()),
            Span::raw(code.fix()),
        ]));
        lines.push(Line::raw(code.meaning()));
        return lines;
    }
    lines.push(Line::styled("ERROR", red()));
    for l in big_digits(code.number()) {
        lines.push(Line::styled(l, red()));
    }
    lines.push(Line::styled(
        format!("E{} {}", code.number(), code.name()),
        red(),
    ));
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("What happened: ", bold()),
        Span::raw(code.meaning()),
    ]));
    if !message.is_empty() {
        lines.push(Line::from(vec![
            Span::styled("Detail: ", bold()),
            Span::raw(message.to_string()),
        ]));
    }
    lines.push(Line::from(vec![
        Span::styled("What to do: ", bold()),
        Span::raw(code.fix()),
    ]));
    let state = match written {
        Written::Nothing => "Nothing was written: the device is unchanged.".to_string(),
        Written::OtherSlot { target, active } => format!(
            "Only slot {target} was written (now unbootable); the device still boots slot {active}."
        ),
        Written::InPlace => {
            "The update stopped while writing in place: do not reboot, retry the update.".into()
        }
    };
    lines.push(Line::raw(""));
    if show_state {
        lines.push(Line::styled(state, bold()));
    }
    if let Some(l) = log {
        lines.push(Line::raw(format!("Log: {}", l.display())));
    }
    lines
}

fn result(frame: &mut Frame, area: Rect, app: &App, r: &ResultState) {
    let small = compact(area);
    let items = r.items();
    let [top, bottom] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(if r.reboot_at.is_some() {
            1
        } else {
            items.len() as u16
        }),
    ])
    .areas(area);
    let lines = match &r.outcome {
        Outcome::Failure {
            failure,
            written,
            log,
        } => failure_text(
            failure.code,
            &failure.message,
            written,
            log.as_deref(),
            small,
            true,
        ),
        Outcome::Success {
            to_version,
            target_slot,
            bytes_written,
            warnings,
            log,
        } => {
            let mut l = vec![Line::styled(
                format!("Update installed: {to_version}"),
                green(),
            )];
            if !small {
                l.push(Line::raw(""));
            }
            match target_slot {
                Some(s) => l.push(Line::raw(format!(
                    "Slot {s} starts on the next boot. If it does not boot, the device returns to the previous slot."
                ))),
                None => l.push(Line::raw("The new version starts on the next boot.")),
            }
            if !small {
                l.push(Line::raw(format!(
                    "{} written and verified.",
                    human_bytes(*bytes_written)
                )));
                for w in warnings {
                    l.push(Line::styled(format!("Note: {w}"), yellow()));
                }
                l.push(Line::raw(format!("Log: {}", log.display())));
            }
            l.push(Line::raw(""));
            l.push(Line::styled("Next step: reboot the device.", bold()));
            l
        }
    };
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), top);
    match app.countdown() {
        Some(s) => frame.render_widget(
            Paragraph::new(Line::styled(
                format!("Rebooting in {s} s. Press any key to stop."),
                yellow(),
            )),
            bottom,
        ),
        None => frame.render_widget(
            Paragraph::new(menu_lines(&items, r.sel, bottom.width)),
            bottom,
        ),
    }
}

fn log_view(
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

fn last_install(
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

fn wipe(frame: &mut Frame, area: Rect, stage: u8, sel: usize) {
    let lines: Vec<Line> = if stage == 1 {
        vec![
            Line::styled("Wipe data / factory reset", bold()),
            Line::raw(""),
            Line::styled(
                "This erases all user data: apps, contacts, call records, photos and settings.",
                red(),
            ),
            Line::raw("It cannot be undone. The installed system is not changed."),
        ]
    } else {
        vec![
            Line::styled("Are you sure?", red()),
            Line::raw(""),
            Line::raw("This is the last confirmation. All user data will be lost."),
        ]
    };
    let confirm = if stage == 1 {
        "Wipe data"
    } else {
        "Yes, wipe all data"
    };
    let [top, bottom] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), top);
    frame.render_widget(Paragraph::new(buttons(&["Cancel", confirm], sel)), bottom);
}

/// The screen shown when the program itself fails (a panic): the internal error code, with no
/// state behind it. Drawn by the panic hook onto a fresh terminal.
pub fn draw_fatal(frame: &mut Frame, code: Code, message: &str) {
    let area = frame.area();
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    frame.render_widget(Paragraph::new(" RECOVERY | Error").style(title_bar()), head);
    // A panic says nothing about what was written: no device state line.
    let lines = failure_text(code, message, &Written::Nothing, None, compact(body), false);
    frame.render_widget(
        Paragraph::new(Text::from(lines)).wrap(Wrap { trim: false }),
        body,
    );
}
