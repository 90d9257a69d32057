//! The device facts a front end shows (the recovery screen's home, later the fleet agent's
//! report): each one read, or the code and the reason why it could not be.

use std::path::PathBuf;

use crate::device::{Battery, Device, Slot};
use crate::error::{Code, HasCode};
use crate::state::InstallState;
use crate::Error;

/// A device fact, or the code and reason why it could not be read.
pub type Fact<T> = Result<T, (Code, String)>;

/// What the device says about itself.
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
    /// The last install's state after fallback detection ([`super::lifecycle::refresh`]):
    /// `Pending` (waiting for confirmation) and `FellBack` (returned to the previous version) are
    /// what a screen shows; `None` without a record.
    pub update_state: Option<InstallState>,
}

fn coded(e: &Error) -> (Code, String) {
    (e.code(), e.to_string())
}

/// Reads every fact. One that cannot be read is kept with its code; reading never fails as a
/// whole.
pub fn read_facts(device: &dyn Device) -> DeviceFacts {
    let p = device.profile();
    DeviceFacts {
        product: p.product.clone(),
        hardware_revision: device.hardware_revision().map_err(|e| coded(&e)),
        baseband: device.baseband().map_err(|e| coded(&e)),
        current_version: device.current_version(),
        active_slot: match device.slot_control() {
            Ok(None) => Ok(None),
            Ok(Some(sc)) => sc.state().map(|s| Some(s.active)).map_err(|e| coded(&e)),
            Err(e) => Err(coded(&e)),
        },
        battery: device.battery().map_err(|e| coded(&e)),
        state_dir: p.state_dir.clone(),
        free_space: device
            .free_space(&p.state_dir)
            .map_err(|e| (Code::DeviceFact, e.to_string())),
        storage: p.storage.clone(),
        update_state: super::lifecycle::refresh(device)
            .ok()
            .flatten()
            .map(|r| r.state()),
    }
}
