//! What the engine reports. The engine never draws: the TUI, the plain-text and the JSON-lines
//! reporters are interchangeable [`Sink`]s.

use serde::Serialize;

use crate::device::Slot;
use crate::error::Code;

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

/// A consumer of engine events.
pub trait Sink: Send {
    fn event(&mut self, event: &Event);
}

/// Sends every event to several sinks.
pub struct Tee<'a>(pub Vec<&'a mut dyn Sink>);

impl Sink for Tee<'_> {
    fn event(&mut self, event: &Event) {
        for s in self.0.iter_mut() {
            s.event(event);
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
