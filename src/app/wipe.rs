//! Wipe data / factory reset and wipe cache, for every front end: the `wipe` command, the
//! recovery init's OTA command and the recovery screen all come here, and from here to the
//! device's one wipe policy ([`crate::device::wipe::wipe`]): only the profile's `[[wipe]]`
//! partitions of the asked role are erased, and a profile that names none of that role gets
//! 9065 WIPE_NOT_CONFIGURED with nothing touched.

use crate::device::wipe::{self as policy, Wiped};
use crate::device::{Device, WipeRole};
use crate::Error;

/// Checks, erasing nothing, that a wipe of `role` can be done on this device (the profile lists
/// a partition of that role): an OTA command that asks for one is refused before anything is
/// installed or erased when it cannot.
pub fn can_wipe(device: &dyn Device, role: WipeRole) -> Result<(), Error> {
    policy::targets(device.profile(), role).map(drop)
}

/// Erases every `[[wipe]]` partition of `role`; what was done to each.
pub fn wipe(device: &dyn Device, role: WipeRole) -> Result<Vec<Wiped>, Error> {
    device.wipe(role)
}

/// Wipe data / factory reset: [`wipe`] of the data role.
pub fn wipe_data(device: &dyn Device) -> Result<Vec<Wiped>, Error> {
    wipe(device, WipeRole::Data)
}
