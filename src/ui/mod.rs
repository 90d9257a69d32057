//! Consumers of engine events: plain text, JSON lines (and the TUI).

pub mod json;
pub mod plain;
pub mod tui;
