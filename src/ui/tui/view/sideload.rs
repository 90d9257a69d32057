//! "Apply update from ADB": what to run on the PC while the device waits for it.

use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use super::bold;

pub(super) fn sideload(frame: &mut Frame, area: Rect, addr: &str, status: &str) {
    let port = addr.rsplit_once(':').map_or("5555", |(_, p)| p);
    let lines = vec![
        Line::styled("Waiting for the PC", bold()),
        Line::raw(""),
        Line::raw("Connect this device to the PC, then on the PC run:"),
        Line::raw(format!("  adb connect <device address>:{port}")),
        Line::raw("  adb sideload update.zip"),
        Line::raw(""),
        Line::raw(format!("Listening on {addr}")),
        Line::raw(status.to_string()),
    ];
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::new()
                .borders(Borders::ALL)
                .title(" Apply update from ADB "),
        ),
        area,
    );
}
