//! The readable log kept as `last_log`: phases, checks, messages and progress every 10 %.

use std::time::Instant;

use super::events::{CheckStatus, Event, Sink};

pub struct LogSink {
    start: Instant,
    lines: Vec<String>,
    last_decile: Option<u64>,
}

impl Default for LogSink {
    fn default() -> Self {
        Self::new()
    }
}

impl LogSink {
    pub fn new() -> LogSink {
        LogSink {
            start: Instant::now(),
            lines: vec![format!(
                "recovery-updater {} started {}",
                env!("CARGO_PKG_VERSION"),
                crate::util::rfc3339(crate::util::unix_now())
            )],
            last_decile: None,
        }
    }

    pub fn text(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }

    fn push(&mut self, line: String) {
        let t = self.start.elapsed().as_secs_f64();
        self.lines.push(format!("[{t:8.3}] {line}"));
    }
}

/// One line of text for an event, shared by the log and the plain reporter. `None` for events
/// that only make sense as a live display (progress).
pub fn describe(event: &Event) -> Option<String> {
    Some(match event {
        Event::Phase { phase } => format!("== {}", phase.label()),
        Event::Check {
            check,
            status,
            detail,
            code,
        } => {
            let mark = match status {
                CheckStatus::Pass => "ok  ",
                CheckStatus::Fail => "FAIL",
                CheckStatus::Skip => "skip",
            };
            match code {
                Some(c) => format!("[{mark}] {}: {detail} ({c})", check.label()),
                None => format!("[{mark}] {}: {detail}", check.label()),
            }
        }
        Event::Plan(p) => {
            let mut s = format!(
                "plan: {} -> {}",
                p.from_version.as_deref().unwrap_or("unknown"),
                p.to_version
            );
            match (p.active_slot, p.target_slot) {
                (Some(a), Some(t)) => s.push_str(&format!(", slot {a} active, writing slot {t}")),
                _ => s.push_str(", in place"),
            }
            for i in &p.images {
                s.push_str(&format!(
                    "\n    {} {} -> {} ({})",
                    i.source,
                    i.partition,
                    i.path,
                    crate::util::human_bytes(i.bytes)
                ));
            }
            s
        }
        Event::Log { message } => message.clone(),
        Event::Committed => "first write: the install can no longer be cancelled".into(),
        Event::Progress { .. } => return None,
    })
}

impl Sink for LogSink {
    fn event(&mut self, event: &Event) {
        if let Event::Progress {
            phase, done, total, ..
        } = event
        {
            let decile = (done * 10).checked_div(*total).unwrap_or(10);
            if self.last_decile != Some(decile) {
                self.last_decile = Some(decile);
                self.push(format!("{} {}%", phase.label(), decile * 10));
            }
            return;
        }
        if let Some(line) = describe(event) {
            self.push(line);
        }
    }
}
