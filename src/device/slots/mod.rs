//! Slot control: which A/B slot boots next, each slot's trial state, and which slot the running
//! system booted from.
//!
//! One trait ([`SlotControl`]) and one file per backend: Android's `bootloader_control` in misc
//! ([`misc`]) and the U-Boot environment with RAUC's `BOOT_ORDER` / `BOOT_x_LEFT` scheme
//! ([`uboot`]; the environment's bytes are [`crate::device::uboot_env`]'s), and UBI volume names
//! for a bootloader that boots a volume by a fixed name ([`ubi_rename`]). The profile's `[slots]` picks
//! one ([`crate::device::Device::slot_control`]). The life of an A/B install built on them
//! (install → switch → boot → confirm, or fall back) is in docs/SLOTS.md.

pub mod misc;
pub mod ubi_rename;
pub mod uboot;

use serde::Serialize;

use super::boot_control::BootControl;
use super::profile::{Profile, SlotMode};
use super::Slot;
use crate::Error;

pub use misc::MiscSlotControl;

/// Slot state as the bootloader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    pub active: Slot,
    pub control: BootControl,
    /// False when misc held no valid bootloader_control and defaults apply.
    pub valid: bool,
}

/// One slot's trial state, the same words for every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlotInfo {
    /// The bootloader would try it (misc: priority > 0 and tries or a successful boot; U-Boot:
    /// in `BOOT_ORDER` with tries left).
    pub bootable: bool,
    /// Marked good after a boot (misc: `successful_boot`). `None` when the backend keeps no such
    /// flag (U-Boot's scheme only counts tries); the lifecycle then answers from the install
    /// record.
    pub successful: Option<bool>,
    /// Boots the bootloader will still try before giving up on the slot.
    pub tries_left: u8,
}

/// Reads and changes which slot boots.
pub trait SlotControl: Send {
    fn state(&self) -> Result<SlotState, Error>;
    /// Marks `slot` unbootable before it is written (no-op when it already is); also how
    /// mark-bad gives up on the running slot.
    fn mark_unbootable(&mut self, slot: Slot) -> Result<(), Error>;
    /// Makes `slot` the one to boot next, durably.
    fn set_active(&mut self, slot: Slot) -> Result<(), Error>;
    /// `slot`'s trial state. The default reads the Android-style view in [`SlotState::control`].
    fn slot_info(&self, slot: Slot) -> Result<SlotInfo, Error> {
        let m = self.state()?.control.slot(slot);
        Ok(SlotInfo {
            bootable: m.bootable(),
            successful: Some(m.successful_boot),
            tries_left: m.tries_remaining,
        })
    }
    /// Marks `slot` as booted successfully, so the bootloader stops counting its tries
    /// (mark-good). Idempotent: nothing is written when it already is.
    fn mark_successful(&mut self, slot: Slot) -> Result<(), Error> {
        Err(Error::SlotSwitch {
            reason: format!("this slot control cannot mark slot {slot} successful"),
        })
    }
}

/// The slot the running system booted from: the profile's `booted_slot` fact, else the kernel
/// command line (`androidboot.slot_suffix=_a`, `androidboot.slot=a`, `rauc.slot=A`). `None` on a
/// single-slot device or when nothing names a slot. The recovery never asks (it is not a slot's
/// system: [`crate::device::ProfileDevice::in_recovery`]).
pub fn booted_slot(profile: &Profile) -> Result<Option<Slot>, Error> {
    if profile.slots.mode == SlotMode::Single {
        return Ok(None);
    }
    let names = slot_names(profile);
    if let Some(fact) = &profile.booted_slot {
        let v = super::read_fact("booted slot", fact)?;
        return parse_slot(&v, &names)
            .map(Some)
            .ok_or_else(|| Error::DeviceFact {
                what: "booted slot".into(),
                reason: format!(
                    "{v:?} is not a slot name (a, b, _a, _b, {}, {})",
                    names[0], names[1]
                ),
            });
    }
    // No command line file (a test machine's /proc/cmdline without slot words is the same):
    // nothing names a slot.
    let Ok(bytes) = crate::util::read_bounded(&profile.cmdline_file, 64 * 1024) else {
        return Ok(None);
    };
    Ok(from_cmdline(&String::from_utf8_lossy(&bytes), &names))
}

/// The slot names the U-Boot environment uses (`A`, `B` by default).
fn slot_names(profile: &Profile) -> [String; 2] {
    profile
        .slots
        .uboot_env
        .as_ref()
        .map(|u| u.slot_names.clone())
        .unwrap_or_else(|| ["A".into(), "B".into()])
}

/// A slot named as Android (`a`, `_a`) or the U-Boot environment (`names`) names it.
pub fn parse_slot(v: &str, names: &[String; 2]) -> Option<Slot> {
    let v = v.trim();
    match v.trim_start_matches('_') {
        "a" => return Some(Slot::A),
        "b" => return Some(Slot::B),
        _ => {}
    }
    Slot::ALL.into_iter().find(|s| names[s.index()] == v)
}

/// The booted slot from kernel command line words; the last word that names one wins (as the
/// kernel's own parameters do).
pub fn from_cmdline(cmdline: &str, names: &[String; 2]) -> Option<Slot> {
    let mut found = None;
    for word in cmdline.split_whitespace() {
        let Some((key, value)) = word.split_once('=') else {
            continue;
        };
        let slot = match key {
            "androidboot.slot_suffix" | "androidboot.slot" => match value {
                "_a" | "a" => Some(Slot::A),
                "_b" | "b" => Some(Slot::B),
                _ => None,
            },
            "rauc.slot" => Slot::ALL.into_iter().find(|s| names[s.index()] == value),
            _ => None,
        };
        if slot.is_some() {
            found = slot;
        }
    }
    found
}

#[cfg(test)]
mod tests;
