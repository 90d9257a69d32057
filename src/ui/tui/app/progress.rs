//! The live install: bytes done, rate, phases and the tail of the engine log.

use std::collections::VecDeque;
use std::time::Duration;

use crate::device::SlotMode;
use crate::install::events::{Event, Phase, PlanSummary};
use crate::install::log::describe;

/// Lines of engine log kept for the progress screen.
const LOG_TAIL: usize = 64;

/// The live install.
#[derive(Debug, Clone)]
pub struct ProgressState {
    pub package: String,
    pub plan: Option<PlanSummary>,
    pub phase: Option<Phase>,
    pub partition: Option<String>,
    pub image_done: u64,
    pub image_total: u64,
    /// Bytes done over the whole install: only ever grows.
    pub done: u64,
    pub total: u64,
    /// When the current byte-counting phase started, and `done` then.
    pub rate_base: Option<(Phase, Duration, u64)>,
    pub committed: bool,
    pub cancel_requested: bool,
    pub notice: Option<String>,
    pub log: VecDeque<String>,
}

/// One row of the progress screen's phase list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseRow {
    pub label: String,
    pub state: RowState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    Done,
    Current,
    Pending,
}

impl ProgressState {
    pub(super) fn new(package: String, plan: Option<PlanSummary>) -> ProgressState {
        ProgressState {
            package,
            total: plan.as_ref().map(|p| p.total_bytes).unwrap_or(0),
            plan,
            phase: None,
            partition: None,
            image_done: 0,
            image_total: 0,
            done: 0,
            rate_base: None,
            committed: false,
            cancel_requested: false,
            notice: None,
            log: VecDeque::new(),
        }
    }

    /// Whole percent for the overall gauge: never above 99 while the install runs (100 is only
    /// shown by the result screen), and never lower than before because `done` never shrinks.
    pub fn percent(&self) -> u16 {
        if self.total == 0 {
            return 0;
        }
        ((self.done.min(self.total) * 100 / self.total) as u16).min(99)
    }

    pub fn image_percent(&self) -> u16 {
        if self.image_total == 0 {
            return 0;
        }
        ((self.image_done.min(self.image_total) * 100 / self.image_total) as u16).min(100)
    }

    /// Bytes per second in the current byte-counting phase, once there is enough to measure.
    pub fn rate(&self, now: Duration) -> Option<f64> {
        let (_, t0, d0) = self.rate_base?;
        let secs = now.checked_sub(t0)?.as_secs_f64();
        let bytes = self.done.saturating_sub(d0);
        (secs >= 0.5 && bytes > 0).then(|| bytes as f64 / secs)
    }

    pub fn seconds_left(&self, now: Duration) -> Option<u64> {
        let rate = self.rate(now)?;
        Some((self.total.saturating_sub(self.done) as f64 / rate).ceil() as u64)
    }

    /// The phases of this install, with the current one marked.
    pub fn rows(&self) -> Vec<PhaseRow> {
        /// Which engine phase (and partition) a row stands for.
        enum Stage {
            Checks,
            Verify,
            Write(String),
            Flush,
            Switch,
            Record,
        }
        let mut rows: Vec<(String, Stage)> =
            vec![("Check package and device".into(), Stage::Checks)];
        if let Some(plan) = &self.plan {
            if plan.mode == SlotMode::Single {
                rows.push(("Verify every image".into(), Stage::Verify));
            }
            for img in &plan.images {
                let verb = if img.source == "copy" {
                    "Copy"
                } else {
                    "Write"
                };
                rows.push((
                    format!(
                        "{verb} {} ({})",
                        img.partition,
                        crate::util::human_bytes(img.bytes)
                    ),
                    Stage::Write(img.partition.clone()),
                ));
            }
            rows.push(("Flush to flash".into(), Stage::Flush));
            if let Some(t) = plan.target_slot {
                rows.push((format!("Switch to slot {t}"), Stage::Switch));
            }
        }
        rows.push(("Record the result".into(), Stage::Record));
        let current = self.phase.and_then(|p| {
            // Before the first progress event of the write phase the partition is not known:
            // mark the first write row.
            let first_image = self
                .plan
                .as_ref()
                .and_then(|pl| pl.images.first())
                .map(|i| i.partition.as_str());
            let part = self.partition.as_deref().or(first_image);
            rows.iter().position(|(_, stage)| match stage {
                Stage::Checks => matches!(p, Phase::Open | Phase::Signature | Phase::Checks),
                Stage::Verify => p == Phase::Verify,
                Stage::Write(name) => p == Phase::Write && part == Some(name.as_str()),
                Stage::Flush => p == Phase::Flush,
                Stage::Switch => p == Phase::SwitchSlot,
                Stage::Record => p == Phase::Record,
            })
        });
        rows.into_iter()
            .enumerate()
            .map(|(i, (label, _))| PhaseRow {
                label,
                state: match current {
                    Some(c) if i < c => RowState::Done,
                    Some(c) if i == c => RowState::Current,
                    _ => RowState::Pending,
                },
            })
            .collect()
    }

    pub(super) fn event(&mut self, e: &Event, now: Duration) {
        match e {
            Event::Phase { phase } => {
                self.phase = Some(*phase);
                self.partition = None;
                self.image_done = 0;
                self.image_total = 0;
            }
            Event::Plan(p) => {
                self.total = self.total.max(p.total_bytes);
                self.plan = Some(p.clone());
            }
            Event::Progress {
                phase,
                partition,
                image_done,
                image_total,
                done,
                total,
            } => {
                if self.rate_base.map(|(p, _, _)| p) != Some(*phase) {
                    self.rate_base = Some((*phase, now, self.done));
                }
                self.phase = Some(*phase);
                self.partition = Some(partition.clone());
                self.image_done = *image_done;
                self.image_total = *image_total;
                self.total = self.total.max(*total);
                self.done = self.done.max(*done);
            }
            Event::Committed => {
                self.committed = true;
                if self.cancel_requested {
                    self.notice =
                        Some("Too late to cancel: writing has started. Do not power off.".into());
                }
            }
            Event::Check { .. } | Event::Log { .. } => {}
        }
        if let Some(line) = describe(e) {
            for l in line.lines() {
                self.log.push_back(l.to_string());
            }
            while self.log.len() > LOG_TAIL {
                self.log.pop_front();
            }
        }
    }
}
