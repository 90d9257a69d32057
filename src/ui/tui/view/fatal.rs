//! The panic screen.

use ratatui::layout::{Constraint, Layout};
use ratatui::text::Text;
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::error::Code;

use super::{compact, failure_text, title_bar};
use crate::ui::tui::app::Written;

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
