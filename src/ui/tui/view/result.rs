//! The result of an install: success with the reboot countdown, or the failure screen with the
//! code in large digits.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::error::Code;
use crate::util::human_bytes;

use super::{bold, compact, green, menu_lines, red, yellow};
use crate::ui::tui::app::{App, Outcome, ResultState, Written};

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
            Written::Installed { slot } => match slot {
                Some(s) => format!("Installed; slot {s} boots next."),
                None => "The update is installed.".into(),
            },
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
        Written::Installed { slot } => match slot {
            Some(s) => format!(
                "The update is installed and slot {s} boots next; only the step after it failed."
            ),
            None => "The update is installed; only the step after it failed.".into(),
        },
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

pub(super) fn result(frame: &mut Frame, area: Rect, app: &App, r: &ResultState) {
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
