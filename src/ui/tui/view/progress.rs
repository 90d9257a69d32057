//! The install in progress: phases, gauges, speed and the tail of the engine log.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use crate::util::human_bytes;

use super::{bold, compact, green, selected, yellow};
use crate::ui::tui::app::{App, ProgressState, RowState};

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

pub(super) fn progress(frame: &mut Frame, area: Rect, app: &App, p: &ProgressState) {
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
