//! Human progress on stderr: one line per phase, check and message; a progress line with
//! percent, MB/s and time left, redrawn in place on a terminal and printed every 10 % otherwise;
//! and the result: a summary, or the one failure printer ([`write_failure`]) every front end
//! uses.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use crate::error::Code;
use crate::install::events::{Event, Finish, Phase, Sink};
use crate::install::log::describe;
use crate::state::InstallRecord;

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

/// A failure for a person: the code and its name, what it means, what happened and what to do.
pub fn write_failure(out: &mut dyn Write, code: Code, detail: &str) -> std::io::Result<()> {
    writeln!(out, "error {}: {}", code.number(), code.name())?;
    writeln!(out, "  what happened: {}", code.meaning())?;
    writeln!(out, "  detail: {detail}")?;
    writeln!(out, "  what to do: {}", code.fix())
}

/// [`write_failure`] on stderr (the console, in the recovery).
pub fn print_failure(code: Code, detail: &str) {
    let _ = write_failure(&mut std::io::stderr().lock(), code, detail);
}

/// The end of an install: what was installed and where it boots from, or the failure; then the
/// warnings and where the log is.
fn write_record(
    out: &mut dyn Write,
    record: &InstallRecord,
    log: Option<&Path>,
) -> std::io::Result<()> {
    writeln!(out)?;
    if record.success() {
        writeln!(
            out,
            "SUCCESS: installed {} ({} written in {:.1} s){}",
            record.to_version.as_deref().unwrap_or("?"),
            crate::util::human_bytes(record.bytes_written),
            record.duration_ms as f64 / 1000.0,
            record
                .target_slot
                .as_deref()
                .map(|s| format!("; slot {s} boots next"))
                .unwrap_or_default()
        )?;
        for w in &record.warnings {
            writeln!(out, "warning: {w}")?;
        }
        if let Some(log) = log {
            writeln!(out, "log: {}", log.display())?;
        }
    } else {
        let code = Code::from_number(record.code).unwrap_or(Code::Internal);
        write_failure(out, code, &record.message)?;
        if let Some(log) = log {
            writeln!(out, "  log: {}", log.display())?;
        }
    }
    Ok(())
}

/// MB/s and seconds left from the bytes done in this phase and its elapsed seconds; `None`
/// until there is something to measure (the first updates of a phase), so that no `0.0 MB/s`
/// is ever shown.
pub fn rate_and_eta(phase_bytes: u64, secs: f64, remaining: u64) -> Option<(f64, u64)> {
    if secs <= 0.05 || phase_bytes == 0 {
        return None;
    }
    let rate = phase_bytes as f64 / secs;
    Some((rate / 1e6, (remaining as f64 / rate).round() as u64))
}

/// "Writing system:  42% of 1.5 MiB  12.3 MB/s, 0:42 left"; without a rate, the line ends after
/// the size.
pub fn progress_line(
    phase: Phase,
    partition: &str,
    pct: u64,
    total: u64,
    rate: Option<(f64, u64)>,
) -> String {
    let mut line = format!(
        "{} {partition}: {pct:3}% of {}",
        phase.label(),
        crate::util::human_bytes(total)
    );
    if let Some((mbs, eta)) = rate {
        line.push_str(&format!(
            "  {mbs:.1} MB/s, {}:{:02} left",
            eta / 60,
            eta % 60
        ));
    }
    line
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
                let rate = rate_and_eta(
                    done - self.phase_done_at_start.min(*done),
                    self.phase_start.elapsed().as_secs_f64(),
                    total - done.min(total),
                );
                let line = progress_line(*phase, partition, pct, *total, rate);
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

    fn finish(&mut self, result: &Finish<'_>) {
        self.end_progress_line();
        let _ = match *result {
            Finish::Installed { record, log } => write_record(&mut self.out, record, log),
            Finish::Verified { .. } => writeln!(
                self.out,
                "verified: every check passed and every image hash matches; nothing was written"
            ),
            Finish::Failed { code, message } => write_failure(&mut self.out, code, message),
            // `inspect` prints its findings on stdout itself; the init prints its own lines.
            Finish::Inspected(_) | Finish::Init { .. } => Ok(()),
        };
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rate_is_shown_before_there_is_one() {
        // The first update of a phase: almost no time has passed, so there is no rate yet.
        assert_eq!(rate_and_eta(65_536, 0.0, 1 << 20), None);
        assert_eq!(rate_and_eta(0, 2.0, 1 << 20), None);
        let line = progress_line(Phase::Verify, "system", 3, 1 << 20, None);
        assert_eq!(line, "Verifying images system:   3% of 1.0 MiB");
        // 2 MB in 2 s, 3 MB to go.
        let rate = rate_and_eta(2_000_000, 2.0, 3_000_000);
        assert_eq!(rate, Some((1.0, 3)));
        let line = progress_line(Phase::Verify, "system", 40, 5_000_000, rate);
        assert!(line.ends_with("  1.0 MB/s, 0:03 left"), "{line}");
    }

    #[test]
    fn the_first_progress_line_of_a_phase_shows_no_rate() {
        // The first update comes right after the phase starts: 64 MiB done in that instant
        // must not show as "0.0 MB/s" (a measured rate for 64 MiB only rounds to 0.0 after
        // more than 20 minutes).
        let mut out = Vec::new();
        {
            let mut r = PlainReporter::new(&mut out, false);
            r.event(&Event::Phase {
                phase: Phase::Verify,
            });
            r.event(&Event::Progress {
                phase: Phase::Verify,
                partition: "system".into(),
                done: 64 << 20,
                total: 1 << 30,
                image_done: 64 << 20,
                image_total: 1 << 30,
            });
        }
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("system:   6% of 1.00 GiB"), "{text}");
        assert!(!text.contains("0.0 MB/s"), "{text}");
    }

    fn finished(result: &Finish<'_>) -> String {
        let mut out = Vec::new();
        PlainReporter::new(&mut out, false).finish(result);
        String::from_utf8(out).unwrap()
    }

    fn record(code: u16) -> InstallRecord {
        let info = Code::from_number(code).map(Code::info);
        InstallRecord {
            package: "/sd/update.zip".into(),
            manifest_sha256: None,
            from_version: Some("1.0".into()),
            to_version: Some("1.1".into()),
            target_slot: Some("b".into()),
            result: if code == 0 {
                crate::state::Outcome::Success
            } else {
                crate::state::Outcome::Failure
            },
            code,
            name: info.map_or("SUCCESS", |i| i.name).into(),
            message: if code == 0 {
                "installed"
            } else {
                "chunk 3 of system"
            }
            .into(),
            fix: info.map_or("", |i| i.fix).into(),
            started_at: "2024-01-01T00:00:00Z".into(),
            finished_at: "2024-01-01T00:00:02Z".into(),
            duration_ms: 2500,
            bytes_written: 3 << 20,
            timings: vec![],
            warnings: vec!["installed version not saved".into()],
            state: None,
            state_changed_at: None,
        }
    }

    #[test]
    fn a_failure_prints_its_code_meaning_detail_and_fix() {
        let c = Code::UsageError;
        let text = finished(&Finish::Failed {
            code: c,
            message: "pass --yes",
        });
        assert_eq!(
            text,
            format!(
                "error {}: {}\n  what happened: {}\n  detail: pass --yes\n  what to do: {}\n",
                c.number(),
                c.name(),
                c.meaning(),
                c.fix()
            )
        );
    }

    #[test]
    fn an_install_ends_with_its_summary_and_log() {
        let log = Path::new("/state/last_log");
        let text = finished(&Finish::Installed {
            record: &record(0),
            log: Some(log),
        });
        assert_eq!(
            text,
            "\nSUCCESS: installed 1.1 (3.0 MiB written in 2.5 s); slot b boots next\n\
             warning: installed version not saved\nlog: /state/last_log\n"
        );
        let failed = record(Code::ChunkHashMismatch.number());
        let text = finished(&Finish::Installed {
            record: &failed,
            log: Some(log),
        });
        let c = Code::ChunkHashMismatch;
        assert!(
            text.starts_with(&format!("\nerror {}: {}\n", c.number(), c.name())),
            "{text}"
        );
        assert!(text.contains("  detail: chunk 3 of system\n"), "{text}");
        assert!(text.ends_with("  log: /state/last_log\n"), "{text}");
        // An install refused before it started saved no log: none is named.
        let text = finished(&Finish::Installed {
            record: &failed,
            log: None,
        });
        assert!(!text.contains("log:"), "{text}");
    }
}
