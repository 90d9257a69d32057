//! What the engine reports. The engine never draws: the TUI, the plain-text and the JSON-lines
//! reporters are interchangeable [`Sink`]s.

use std::path::Path;

use serde::Serialize;

use crate::device::power::PowerAction;
use crate::device::Slot;
use crate::error::Code;
use crate::package::Manifest;
use crate::state::InstallRecord;

/// The stages of an install, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Opening the package and checking its zip structure.
    Open,
    /// Verifying the manifest signature.
    Signature,
    /// Device policy checks.
    Checks,
    /// In-place installs: hashing every chunk before anything is written.
    Verify,
    /// Streaming verified chunks to the partitions.
    Write,
    /// fsync of every written partition.
    Flush,
    /// Marking the new slot active.
    SwitchSlot,
    /// Writing last_install.json and last_log.
    Record,
}

impl Phase {
    pub const ALL: [Phase; 8] = [
        Phase::Open,
        Phase::Signature,
        Phase::Checks,
        Phase::Verify,
        Phase::Write,
        Phase::Flush,
        Phase::SwitchSlot,
        Phase::Record,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Phase::Open => "Opening package",
            Phase::Signature => "Verifying signature",
            Phase::Checks => "Checking device",
            Phase::Verify => "Verifying images",
            Phase::Write => "Writing",
            Phase::Flush => "Flushing",
            Phase::SwitchSlot => "Switching slot",
            Phase::Record => "Recording result",
        }
    }
}

/// The pre-install checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    Signature,
    Manifest,
    Product,
    Hardware,
    Baseband,
    Rollback,
    Battery,
    Space,
    Partitions,
}

impl CheckName {
    pub const ALL: [CheckName; 9] = [
        CheckName::Signature,
        CheckName::Manifest,
        CheckName::Product,
        CheckName::Hardware,
        CheckName::Baseband,
        CheckName::Rollback,
        CheckName::Battery,
        CheckName::Space,
        CheckName::Partitions,
    ];
    pub fn label(self) -> &'static str {
        match self {
            CheckName::Signature => "Signature",
            CheckName::Manifest => "Package contents",
            CheckName::Product => "Product",
            CheckName::Hardware => "Hardware revision",
            CheckName::Baseband => "Baseband",
            CheckName::Rollback => "Anti-rollback",
            CheckName::Battery => "Battery",
            CheckName::Space => "Free space",
            CheckName::Partitions => "Partitions fit",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
    Skip,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlannedImage {
    pub partition: String,
    pub path: String,
    pub bytes: u64,
    /// "write" (from the package) or "copy" (from the active slot, not in the package).
    pub source: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlanSummary {
    pub from_version: Option<String>,
    pub to_version: String,
    pub mode: crate::device::SlotMode,
    pub active_slot: Option<Slot>,
    pub target_slot: Option<Slot>,
    pub wipe_data: bool,
    pub images: Vec<PlannedImage>,
    /// Bytes the progress bar counts: verification pass (in place) plus writes.
    pub total_bytes: u64,
}

/// One thing the engine reports.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Phase {
        phase: Phase,
    },
    Check {
        check: CheckName,
        status: CheckStatus,
        detail: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<Code>,
    },
    Plan(PlanSummary),
    /// `done`/`total` count bytes over the whole install and never go backwards.
    Progress {
        phase: Phase,
        partition: String,
        image_done: u64,
        image_total: u64,
        done: u64,
        total: u64,
    },
    Log {
        message: String,
    },
    /// The first byte is about to reach a partition: from here on the install cannot be
    /// cancelled.
    Committed,
}

/// How a run ended: its last word, reported once through [`Sink::finish`] after its last
/// [`Event`] (as ripgrep's `Sink::finish`). The JSON-lines reporter writes it as the run's one
/// result line, the plain reporter as the human summary; front ends build no result of their own.
#[derive(Debug, Clone, Copy)]
pub enum Finish<'a> {
    /// An install ran to its end, either way (or was refused before it started), with the record
    /// saved as last_install.json and the log it left (`None`: this run saved none).
    Installed {
        record: &'a InstallRecord,
        log: Option<&'a Path>,
    },
    /// Every check passed and every image hash matched; nothing was written.
    Verified { plan: &'a PlanSummary },
    /// What `inspect` found in a package.
    Inspected(&'a Inspection<'a>),
    /// The run failed without an install record: a bad command line, a profile that does not
    /// load, a check that failed in `verify`.
    Failed { code: Code, message: &'a str },
    /// The recovery init's decision ran: whether it succeeded, the power action it chose, and 0
    /// or the code of its failure.
    Init {
        success: bool,
        action: PowerAction,
        code: u16,
    },
}

/// What `inspect` found: the package, whether its signature verified, whether its entries match
/// the manifest, and the manifest as written (unverified when no key was given).
#[derive(Debug, Serialize)]
pub struct Inspection<'a> {
    /// "success" or "failure".
    pub result: &'static str,
    /// 0, or the code that makes the inspection fail.
    pub code: u16,
    pub package: String,
    /// "verified", "not_checked" or "failed".
    pub signature: &'static str,
    pub signature_code: Option<u16>,
    /// The fingerprint of the key the signature verified with.
    pub signer: Option<String>,
    /// "ok", or why the zip entries do not match the manifest.
    pub entries: String,
    pub manifest: &'a Manifest,
}

/// A consumer of engine events.
pub trait Sink: Send {
    fn event(&mut self, event: &Event);
    /// The run's result, once, after its last event. Sinks that show no result ignore it.
    fn finish(&mut self, _result: &Finish<'_>) {}
}

/// Sends every event to several sinks.
pub struct Tee<'a>(pub Vec<&'a mut dyn Sink>);

impl Sink for Tee<'_> {
    fn event(&mut self, event: &Event) {
        for s in self.0.iter_mut() {
            s.event(event);
        }
    }
    fn finish(&mut self, result: &Finish<'_>) {
        for s in self.0.iter_mut() {
            s.finish(result);
        }
    }
}

/// Collects events (tests, the log).
#[derive(Default)]
pub struct Collect(pub Vec<Event>);

impl Sink for Collect {
    fn event(&mut self, event: &Event) {
        self.0.push(event.clone());
    }
}

/// Forwards events over a channel (the TUI runs the engine on its own thread).
pub struct ChannelSink(pub std::sync::mpsc::Sender<Event>);

impl Sink for ChannelSink {
    fn event(&mut self, event: &Event) {
        let _ = self.0.send(event.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts events and results.
    #[derive(Default)]
    struct Count {
        events: usize,
        finished: Vec<Code>,
    }

    impl Sink for Count {
        fn event(&mut self, _: &Event) {
            self.events += 1;
        }
        fn finish(&mut self, result: &Finish<'_>) {
            if let Finish::Failed { code, .. } = result {
                self.finished.push(*code);
            }
        }
    }

    #[test]
    fn a_tee_passes_the_result_to_every_sink() {
        let (mut a, mut b) = (Count::default(), Count::default());
        let mut tee = Tee(vec![&mut a, &mut b]);
        tee.event(&Event::Committed);
        tee.finish(&Finish::Failed {
            code: Code::Cancelled,
            message: "cancelled",
        });
        drop(tee);
        for s in [a, b] {
            assert_eq!(s.events, 1);
            assert_eq!(s.finished, vec![Code::Cancelled]);
        }
    }
}
