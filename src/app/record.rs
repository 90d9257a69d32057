//! The install record and the log, for front ends: saved where the device keeps its state
//! (last_install.json, last_log and its rotations) and read back to be shown.

use std::path::PathBuf;

use crate::device::Device;
use crate::state::{self, InstallRecord};
use crate::Error;

/// The most of last_log a front end reads back.
const MAX_LOG: u64 = 8 << 20;

/// Saves `record` as the device's last_install.json (replaced atomically).
pub fn save_record(device: &dyn Device, record: &InstallRecord) -> Result<PathBuf, Error> {
    state::write_last_install(&device.profile().state_dir, record)
}

/// The last install's record; `None` when there is none or it cannot be read.
pub fn read_last_install(device: &dyn Device) -> Option<InstallRecord> {
    state::read_last_install(&device.profile().state_dir)
}

/// Where the last install's (or failed pre-check's) log is.
pub fn last_log_path(device: &dyn Device) -> PathBuf {
    device.profile().state_dir.join(state::LAST_LOG)
}

/// The last log, read up to 8 MiB (invalid UTF-8 replaced); `None` when there is none.
pub fn read_last_log(device: &dyn Device) -> Option<String> {
    crate::util::read_bounded(&last_log_path(device), MAX_LOG)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}
