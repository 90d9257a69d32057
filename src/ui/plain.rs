//! Human progress on stderr: one line per phase, check and message; a progress line with
//! percent, MB/s and time left, redrawn in place on a terminal and printed every 10 % otherwise.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use crate::install::events::{Event, Phase, Sink};
use crate::install::log::describe;

pub struct PlainReporter<W: Write + Send> {
    out: W,
    live: bool,
    phase_start: Instant,
    phase_done_at_start: u64,
    last_decile: Option<(Phase, u64)>,
    progress_open: bool,
}

impl PlainReporter<std::io::Stderr> {
    pub fn stderr() -> Self {
        let live = std::io::stderr().is_terminal();
        PlainReporter::new(std::io::stderr(), live)
    }
}

impl<W: Write + Send> PlainReporter<W> {
    pub fn new(out: W, live: bool) -> Self {
        PlainReporter {
            out,
            live,
            phase_start: Instant::now(),
            phase_done_at_start: 0,
            last_decile: None,
            progress_open: false,
        }
    }

    fn end_progress_line(&mut self) {
        if self.progress_open {
            let _ = writeln!(self.out);
            self.progress_open = false;
        }
    }
}

/// "12.3 MB/s, 0:42 left" from bytes done in this phase and elapsed seconds.
pub fn rate_and_eta(phase_bytes: u64, secs: f64, remaining: u64) -> (f64, Option<u64>) {
    if secs <= 0.05 || phase_bytes == 0 {
        return (0.0, None);
    }
    let rate = phase_bytes as f64 / secs;
    (rate / 1e6, Some((remaining as f64 / rate).round() as u64))
}

impl<W: Write + Send> Sink for PlainReporter<W> {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Phase { .. } => {
                self.end_progress_line();
                self.phase_start = Instant::now();
                self.phase_done_at_start = u64::MAX; // set by the first progress event
                if let Some(line) = describe(event) {
                    let _ = writeln!(self.out, "{line}");
                }
            }
            Event::Progress {
                phase,
                partition,
                done,
                total,
                image_done,
                ..
            } => {
                if self.phase_done_at_start == u64::MAX {
                    self.phase_done_at_start = done.saturating_sub(*image_done);
                }
                let pct = (done * 100).checked_div(*total).unwrap_or(100);
                let (mbs, eta) = rate_and_eta(
                    done - self.phase_done_at_start.min(*done),
                    self.phase_start.elapsed().as_secs_f64(),
                    total - done.min(total),
                );
                let eta = eta
                    .map(|s| format!(", {}:{:02} left", s / 60, s % 60))
                    .unwrap_or_default();
                let line = format!(
                    "{} {partition}: {pct:3}% of {}  {mbs:.1} MB/s{eta}",
                    phase.label(),
                    crate::util::human_bytes(*total)
                );
                if self.live {
                    let _ = write!(self.out, "\r\x1b[2K{line}");
                    self.progress_open = true;
                } else {
                    let decile = pct / 10;
                    if self.last_decile != Some((*phase, decile)) {
                        self.last_decile = Some((*phase, decile));
                        let _ = writeln!(self.out, "{line}");
                    }
                }
            }
            other => {
                self.end_progress_line();
                if let Some(line) = describe(other) {
                    let _ = writeln!(self.out, "{line}");
                }
            }
        }
        let _ = self.out.flush();
    }
}
