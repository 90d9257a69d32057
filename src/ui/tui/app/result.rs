//! The result of an install (or of a pre-check or wipe that failed) and where it left the device.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Code;
use crate::state::InstallRecord;

use super::{App, Effect, Failure, Screen, REBOOT_COUNTDOWN};

/// Where the failed install left the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Nothing was written: the device is unchanged.
    Nothing,
    /// Only the inactive slot was (partly) written; it is marked unbootable.
    OtherSlot { target: String, active: String },
    /// An in-place install was interrupted while writing.
    InPlace,
    /// The update is installed (and, A/B, its slot is active), but a step after the switch
    /// failed: the rollback index was not saved (9058) or the data wipe failed (9115).
    Installed { slot: Option<String> },
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Success {
        to_version: String,
        target_slot: Option<String>,
        bytes_written: u64,
        warnings: Vec<String>,
        log: PathBuf,
    },
    Failure {
        failure: Failure,
        written: Written,
        log: Option<PathBuf>,
    },
}

#[derive(Debug, Clone)]
pub struct ResultState {
    pub outcome: Outcome,
    /// Success only: when the automatic reboot happens; `None` once the user stopped it.
    pub reboot_at: Option<Duration>,
    pub sel: usize,
}

impl ResultState {
    pub fn items(&self) -> Vec<&'static str> {
        match &self.outcome {
            Outcome::Success { .. } => vec!["Reboot system now", "Back to main menu"],
            Outcome::Failure { log: Some(_), .. } => vec!["View log", "Back to main menu"],
            Outcome::Failure { log: None, .. } => vec!["Back to main menu"],
        }
    }
}

impl App {
    pub(super) fn install_done(&mut self, record: InstallRecord) -> Vec<Effect> {
        let Screen::Progress(p) = &self.screen else {
            return vec![];
        };
        let log = self.facts.state_dir.join(crate::state::LAST_LOG);
        let outcome = if record.success() {
            Outcome::Success {
                to_version: record.to_version.clone().unwrap_or_else(|| "?".into()),
                target_slot: record.target_slot.clone(),
                bytes_written: record.bytes_written,
                warnings: record.warnings.clone(),
                log,
            }
        } else {
            let code = Code::from_number(record.code).unwrap_or(Code::Internal);
            let written = if matches!(
                code,
                Code::RollbackIndexNotSaved | Code::InstalledWipeFailed
            ) {
                Written::Installed {
                    slot: record.target_slot.clone(),
                }
            } else if record.bytes_written == 0 && !p.committed {
                Written::Nothing
            } else {
                match p.plan.as_ref().map(|pl| (pl.active_slot, pl.target_slot)) {
                    Some((Some(a), Some(t))) => Written::OtherSlot {
                        target: t.to_string(),
                        active: a.to_string(),
                    },
                    _ => Written::InPlace,
                }
            };
            Outcome::Failure {
                failure: Failure {
                    code,
                    message: record.message.clone(),
                },
                written,
                log: Some(log),
            }
        };
        let success = matches!(outcome, Outcome::Success { .. });
        self.screen = Screen::Result(Box::new(ResultState {
            outcome,
            reboot_at: success.then_some(self.now + REBOOT_COUNTDOWN),
            sel: 0,
        }));
        vec![Effect::RefreshFacts]
    }
}
