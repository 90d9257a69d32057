//! The two confirmations before a wipe of user data.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{bold, buttons, red};

pub(super) fn wipe(frame: &mut Frame, area: Rect, stage: u8, sel: usize) {
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
