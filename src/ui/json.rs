//! `--json`: one JSON object per line on stdout, for factory lines and scripts.

use std::io::Write;

use crate::install::events::{Event, Sink};

pub struct JsonReporter<W: Write + Send> {
    out: W,
    /// Progress events are thinned to one per percent so a log stays small.
    last_permille: Option<(String, u64)>,
}

impl<W: Write + Send> JsonReporter<W> {
    pub fn new(out: W) -> Self {
        JsonReporter {
            out,
            last_permille: None,
        }
    }

    /// Writes any serialisable value as one line (the final result).
    pub fn line<T: serde::Serialize>(&mut self, value: &T) {
        if let Ok(s) = serde_json::to_string(value) {
            let _ = writeln!(self.out, "{s}");
            let _ = self.out.flush();
        }
    }
}

impl<W: Write + Send> Sink for JsonReporter<W> {
    fn event(&mut self, event: &Event) {
        if let Event::Progress {
            partition,
            done,
            total,
            image_done,
            image_total,
            ..
        } = event
        {
            let pct = (done * 100).checked_div(*total).unwrap_or(100);
            let key = (partition.clone(), pct);
            if image_done != image_total && self.last_permille.as_ref() == Some(&key) {
                return;
            }
            self.last_permille = Some(key);
        }
        self.line(event);
    }
}
