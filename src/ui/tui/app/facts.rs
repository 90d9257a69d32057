//! What the screen knows about the device and about each package found: the facts, the checks
//! and their verdicts.

use std::path::PathBuf;

use crate::device::{Battery, Slot};
use crate::error::Code;
use crate::install::events::{CheckName, CheckStatus, Event, PlanSummary};
use crate::package::version::compare_versions;

/// A device fact, or the code and reason why it could not be read.
pub type Fact<T> = Result<T, (Code, String)>;

/// What the home screen shows about the device.
#[derive(Debug, Clone)]
pub struct DeviceFacts {
    pub product: String,
    pub hardware_revision: Fact<String>,
    pub baseband: Fact<Option<String>>,
    pub current_version: Option<String>,
    /// The active slot; `None` on a single-slot device.
    pub active_slot: Fact<Option<Slot>>,
    pub battery: Fact<Option<Battery>>,
    pub state_dir: PathBuf,
    pub free_space: Fact<u64>,
    /// Where packages are looked for.
    pub storage: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Yes,
    No,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    pub check: CheckName,
    pub status: CheckStatus,
    pub detail: String,
    pub code: Option<Code>,
}

/// A failure with its code and the engine's one-line explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

/// One package found in storage, with the result of running every check on it (nothing
/// written).
#[derive(Debug, Clone)]
pub struct PackageInfo {
    pub path: PathBuf,
    /// Short name for lists: the path below its storage root.
    pub name: String,
    pub size: u64,
    /// The version its manifest names (trusted only when `signed` is Yes).
    pub version: Option<String>,
    pub signed: Verdict,
    pub newer: Verdict,
    pub for_device: Verdict,
    pub checks: Vec<CheckRow>,
    /// The first failing check's code; `None` when the package can be installed.
    pub failure: Option<Failure>,
    pub plan: Option<PlanSummary>,
}

impl PackageInfo {
    /// Builds the summary from the `Check` and `Plan` events of `install::check` and its result.
    pub fn from_check(
        path: PathBuf,
        name: String,
        size: u64,
        version: Option<String>,
        current_version: Option<&str>,
        events: &[Event],
        failure: Option<Failure>,
    ) -> PackageInfo {
        let mut checks = Vec::new();
        let mut plan = None;
        for e in events {
            match e {
                Event::Check {
                    check,
                    status,
                    detail,
                    code,
                } => checks.push(CheckRow {
                    check: *check,
                    status: *status,
                    detail: detail.clone(),
                    code: *code,
                }),
                Event::Plan(p) => plan = Some(p.clone()),
                _ => {}
            }
        }
        let status = |c: CheckName| checks.iter().find(|r| r.check == c).map(|r| r.status);
        let signed = match status(CheckName::Signature) {
            Some(CheckStatus::Pass) => Verdict::Yes,
            Some(CheckStatus::Fail) => Verdict::No,
            _ if failure.is_some() && checks.is_empty() => Verdict::No,
            _ => Verdict::Unknown,
        };
        let device_checks = [CheckName::Product, CheckName::Hardware, CheckName::Baseband];
        let for_device = if device_checks
            .iter()
            .any(|c| status(*c) == Some(CheckStatus::Fail))
        {
            Verdict::No
        } else if device_checks.iter().all(|c| status(*c).is_some()) {
            Verdict::Yes
        } else {
            Verdict::Unknown
        };
        let version = plan.as_ref().map(|p| p.to_version.clone()).or(version);
        let newer = if status(CheckName::Rollback) == Some(CheckStatus::Fail) {
            Verdict::No
        } else {
            match (version.as_deref(), current_version) {
                (Some(v), Some(cur)) if signed == Verdict::Yes => {
                    if compare_versions(v, cur) == std::cmp::Ordering::Greater {
                        Verdict::Yes
                    } else {
                        Verdict::No
                    }
                }
                _ => Verdict::Unknown,
            }
        };
        PackageInfo {
            path,
            name,
            size,
            version,
            signed,
            newer,
            for_device,
            checks,
            failure,
            plan,
        }
    }
}
