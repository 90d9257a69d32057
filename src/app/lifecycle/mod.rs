//! The A/B life after the install (docs/SLOTS.md): which slot runs, which one boots next, each
//! slot's trial state and version, and the last install's state (`pending`, `confirmed`,
//! `fell_back`, `failed`). `status`, `mark-good`, the recovery init and the fleet agent all call
//! these functions, so they all see the same thing, in particular a fallback: the last install
//! switched to slot X, the system runs from the other slot and X is no longer bootable (its tries
//! ran out), so the record becomes `fell_back` with 9121.

mod health;

use serde::Serialize;

use crate::device::{Device, Slot, SlotControl};
use crate::state::{self, InstallRecord};
use crate::Error;

pub use crate::state::InstallState;
pub use health::run_health_check;

/// What `status --json` prints: one object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Status {
    pub product: String,
    /// The slot the running system booted from; `null` in the recovery or on a single-slot
    /// device.
    pub booted_slot: Option<Slot>,
    /// The slot the bootloader boots next; `null` on a single-slot device.
    pub active_slot: Option<Slot>,
    /// One entry per slot (none on a single-slot device).
    pub slots: Vec<SlotStatus>,
    /// last_install.json, with its `code` (0 on success) and `state`; `null` when there is none.
    pub last_install: Option<InstallRecord>,
}

/// One slot in [`Status`].
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SlotStatus {
    pub name: Slot,
    pub bootable: bool,
    /// Marked good after a boot. For the U-Boot scheme, which keeps no such flag: bootable and
    /// not the slot of a pending install.
    pub successful: bool,
    pub tries_left: u8,
    /// The version recorded when it was installed (slot_versions.json); `null` when unknown.
    pub version: Option<String>,
}

impl Status {
    /// The last install's state, if there is a record.
    pub fn install_state(&self) -> Option<InstallState> {
        self.last_install.as_ref().map(InstallRecord::state)
    }
}

/// The device's slot state and last install, after fallback detection ([`refresh`]).
pub fn status(device: &dyn Device) -> Result<Status, Error> {
    let record = refresh(device)?;
    let booted = device.booted_slot()?;
    let profile = device.profile();
    let Some(sc) = device.slot_control()? else {
        return Ok(Status {
            product: profile.product.clone(),
            booted_slot: None,
            active_slot: None,
            slots: Vec::new(),
            last_install: record,
        });
    };
    let active = sc.state()?.active;
    let versions = state::slot_versions(&profile.state_dir);
    let pending = record
        .as_ref()
        .filter(|r| r.state() == InstallState::Pending)
        .and_then(|r| r.target_slot.clone());
    let mut slots = Vec::new();
    for slot in Slot::ALL {
        let info = sc.slot_info(slot)?;
        let name = slot.to_string();
        slots.push(SlotStatus {
            name: slot,
            bootable: info.bootable,
            successful: info
                .successful
                .unwrap_or(info.bootable && pending.as_deref() != Some(name.as_str())),
            tries_left: info.tries_left,
            version: versions.get(&name).cloned(),
        });
    }
    Ok(Status {
        product: profile.product.clone(),
        booted_slot: booted,
        active_slot: Some(active),
        slots,
        last_install: record,
    })
}

/// Fallback detection, shared by every front end: reads last_install.json and, when the last
/// install's slot did not start and the bootloader went back, saves it as `fell_back` (9121).
/// Returns the record as it stands now.
pub fn refresh(device: &dyn Device) -> Result<Option<InstallRecord>, Error> {
    let state_dir = &device.profile().state_dir;
    let Some(record) = state::read_last_install(state_dir) else {
        return Ok(None);
    };
    if record.state() != InstallState::Pending {
        return Ok(Some(record));
    }
    let Some(sc) = device.slot_control()? else {
        return Ok(Some(record));
    };
    // While an install runs, or after one was interrupted (its journal is still there), the
    // pending slot may be unbootable because it is being rewritten, not because it failed to
    // start: no verdict then.
    let _lock = match crate::install::lock::acquire(state_dir) {
        Ok(l) => l,
        Err(Error::InstallInProgress { .. }) => return Ok(Some(record)),
        Err(e) => return Err(e),
    };
    if state_dir.join(crate::install::journal::JOURNAL).exists() {
        return Ok(Some(record));
    }
    let booted = device.booted_slot()?;
    match fell_back(&record, &*sc, booted)? {
        None => Ok(Some(record)),
        Some(err) => {
            let moved = record.moved_to(InstallState::FellBack, Some(&err));
            state::write_last_install(state_dir, &moved)?;
            Ok(Some(moved))
        }
    }
}

/// The fallback rule: the record is pending for slot X, the system runs (or, in the recovery,
/// would boot) from the other slot, and X is not bootable any more.
fn fell_back(
    record: &InstallRecord,
    sc: &dyn SlotControl,
    booted: Option<Slot>,
) -> Result<Option<Error>, Error> {
    if record.state() != InstallState::Pending {
        return Ok(None);
    }
    let Some(x) = record.target_slot.as_deref().and_then(slot_named) else {
        return Ok(None);
    };
    let running = match booted {
        Some(b) => b,
        None => sc.state()?.active,
    };
    if running == x || sc.slot_info(x)?.bootable {
        return Ok(None);
    }
    Ok(Some(Error::FellBack {
        version: record.to_version.clone().unwrap_or_default(),
        slot: x,
        running,
    }))
}

fn slot_named(s: &str) -> Option<Slot> {
    match s {
        "a" => Some(Slot::A),
        "b" => Some(Slot::B),
        _ => None,
    }
}

/// Saves a changed record. An install that runs holds the state directory: it writes its own
/// record at its end, so the change is not saved now (the next look sees it again).
fn save(device: &dyn Device, record: &InstallRecord) -> Result<(), Error> {
    let state_dir = &device.profile().state_dir;
    match crate::install::lock::acquire(state_dir) {
        Ok(_lock) => state::write_last_install(state_dir, record).map(|_| ()),
        Err(Error::InstallInProgress { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The booted slot, or 9125 when there is none (single-slot device, the recovery, nothing names
/// one).
fn require_booted(device: &dyn Device) -> Result<(Slot, Box<dyn SlotControl>), Error> {
    let sc = device.slot_control()?.ok_or_else(|| Error::NoBootedSlot {
        reason: "the device has a single slot".into(),
    })?;
    let booted = device.booted_slot()?.ok_or_else(|| Error::NoBootedSlot {
        reason: "neither the profile's booted_slot nor the kernel command line names a slot".into(),
    })?;
    Ok((booted, sc))
}

/// mark-good: runs the profile's health check (9122 when it fails, 9123 when it times out),
/// then marks the booted slot successful and, when the last install is pending in this slot,
/// confirms it. Idempotent. Returns the status afterwards.
pub fn mark_good(device: &dyn Device) -> Result<Status, Error> {
    let (booted, mut sc) = require_booted(device)?;
    let record = refresh(device)?;
    if let Some(h) = &device.profile().health_check {
        run_health_check(h, &device.profile().dir)?;
    }
    sc.mark_successful(booted)?;
    if let Some(r) = record {
        if r.state() == InstallState::Pending
            && r.target_slot.as_deref().and_then(slot_named) == Some(booted)
        {
            save(device, &r.moved_to(InstallState::Confirmed, None))?;
        }
    }
    status(device)
}

/// mark-bad: gives up on the booted slot so the other one boots next; refused (9124) when the
/// other slot is not bootable. Returns the status afterwards.
pub fn mark_bad(device: &dyn Device) -> Result<Status, Error> {
    let (booted, mut sc) = require_booted(device)?;
    let other = booted.other();
    if !sc.slot_info(other)?.bootable {
        return Err(Error::NoFallbackSlot {
            slot: booted,
            other,
        });
    }
    sc.mark_unbootable(booted)?;
    let st = sc.state()?;
    if st.active != other {
        return Err(Error::SlotSwitch {
            reason: format!(
                "after marking slot {booted} bad, slot {} still boots next",
                st.active
            ),
        });
    }
    status(device)
}

#[cfg(test)]
mod tests;
