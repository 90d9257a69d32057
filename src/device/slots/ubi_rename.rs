//! UBI volume names as slot control (`[slots.ubi_rename]`), for a bootloader that always boots
//! the UBI volume with one fixed name (U-Boot's `ubi part ubi; ubifsmount ubi0:rootfs`, a kernel
//! with `root=ubi0:rootfs`) and knows nothing of slots.
//!
//! The names are the whole state, kept by UBI in its volume table on the flash:
//! - the active slot's volume is called by the boot name (`rootfs`);
//! - the other slot's volume is called `rootfs_a` or `rootfs_b`, after the slot it is.
//!
//! So `rootfs` + `rootfs_b` means slot a is active, `rootfs` + `rootfs_a` means slot b is. The
//! profile's partition `ubi:rootfs_{slot}` finds the inactive slot's volume by its own name and
//! the active one through [`crate::device::target::ubi::find_renamed_slot`]; a volume keeps its
//! slot for life, only its name changes. The switch to slot b renames `rootfs` to `rootfs_a`
//! and `rootfs_b` to `rootfs` in one `UBI_IOCRNVOL`, which the kernel applies atomically (a
//! power cut leaves all old or all new names); several boot names (a kernel volume and a root
//! volume) move in the same call.
//!
//! Crash safety: [`SlotControl::set_active`] reads the names first and does nothing when the slot
//! already carries the boot name, so an install re-run after a power cut (its journal at stage
//! `flushed`) never renames twice: the install sees from the names that its slot is active and
//! only finishes its bookkeeping.
//!
//! The bootloader keeps no tries and no "good" flag, so it never falls back by itself: a slot is
//! bootable when its volumes are intact (no update marker) and the updater has not given up on
//! it. That verdict (mark-unbootable before a slot is written, mark-bad) is the one thing the
//! names cannot hold: it is a small file in the state directory (`ubi_slots_bad`, the letters
//! of the slots given up on), cleared for a slot when it is made active. mark-bad on the running
//! slot moves the boot name back to the other slot.

use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{SlotControl, SlotInfo, SlotState};
use crate::device::boot_control::{BootControl, SlotMetadata};
use crate::device::target::ubi::{self, VolumeInfo};
use crate::device::Slot;
use crate::Error;

/// `[slots.ubi_rename]`: the boot names the bootloader looks for.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UbiRenameDef {
    /// Boot names (`["rootfs"]`); each needs a partition with path `ubi:NAME_{slot}`. All on one
    /// UBI device, renamed together.
    pub volumes: Vec<String>,
}

impl UbiRenameDef {
    /// Checks the names against the profile's partitions.
    pub fn validate(&self, partition_paths: &[&str]) -> Result<(), String> {
        if self.volumes.is_empty() {
            return Err("slots.ubi_rename: volumes is empty".into());
        }
        for v in &self.volumes {
            if v.is_empty() || v.len() > 120 || v.contains('{') {
                return Err(format!("slots.ubi_rename: bad volume name {v:?}"));
            }
            let want = format!("ubi:{v}_{{slot}}");
            if !partition_paths.contains(&want.as_str()) {
                return Err(format!(
                    "slots.ubi_rename: volume {v:?} needs a [[partition]] with path {want:?}"
                ));
            }
        }
        Ok(())
    }
}

/// Renames volumes (`ubiX_Y`, new name) atomically; [`ubi::rename`] on a device, a fake in tests.
pub type Renamer = Box<dyn FnMut(&[(&str, &str)]) -> io::Result<()> + Send>;

/// The file in the state directory naming the slots given up on.
pub const BAD_FILE: &str = "ubi_slots_bad";

/// Slot control by UBI volume names.
pub struct UbiRenameSlotControl {
    sys_ubi: PathBuf,
    volumes: Vec<String>,
    bad_file: PathBuf,
    rename: Renamer,
}

/// One boot name's two volumes (`ubiX_Y`), as the names place them now.
struct Pair {
    boot_name: String,
    active: String,
    inactive: String,
}

impl UbiRenameSlotControl {
    /// The device's control: sysfs at /sys/class/ubi, renames through `UBI_IOCRNVOL`.
    pub fn new(def: &UbiRenameDef, state_dir: &Path) -> UbiRenameSlotControl {
        UbiRenameSlotControl::with(
            def,
            state_dir,
            Path::new(ubi::SYSFS),
            Box::new(|r: &[(&str, &str)]| ubi::rename(r)),
        )
    }

    /// The same against another sysfs tree and renamer (unit tests).
    pub fn with(
        def: &UbiRenameDef,
        state_dir: &Path,
        sys_ubi: &Path,
        rename: Renamer,
    ) -> UbiRenameSlotControl {
        UbiRenameSlotControl {
            sys_ubi: sys_ubi.to_path_buf(),
            volumes: def.volumes.clone(),
            bad_file: state_dir.join(BAD_FILE),
            rename,
        }
    }

    /// The active slot and every boot name's pair of volumes; 9054 when the names do not follow
    /// the scheme (e.g. `rootfs_a` and `rootfs_b` but no `rootfs`), or the names disagree.
    fn layout(&self) -> Result<(Slot, Vec<Pair>), Error> {
        let mut active = None;
        let mut pairs = Vec::new();
        for v in &self.volumes {
            let find = |n: &str| ubi::find_volume(&self.sys_ubi, n);
            let (boot, a, b) = (find(v), find(&format!("{v}_a")), find(&format!("{v}_b")));
            let (slot, on, off) = match (boot, a, b) {
                (Some(on), None, Some(off)) => (Slot::A, on, off),
                (Some(on), Some(off), None) => (Slot::B, on, off),
                (boot, a, b) => {
                    let seen: Vec<String> = [
                        (v.clone(), boot),
                        (format!("{v}_a"), a),
                        (format!("{v}_b"), b),
                    ]
                    .into_iter()
                    .filter_map(|(n, d)| d.map(|d| format!("{n} ({d})")))
                    .collect();
                    return Err(Error::SlotState {
                        reason: format!(
                            "UBI volumes for {v:?}: want {v:?} and one of {v}_a / {v}_b, found [{}] in {}",
                            seen.join(", "),
                            self.sys_ubi.display()
                        ),
                    });
                }
            };
            if *active.get_or_insert(slot) != slot {
                return Err(Error::SlotState {
                    reason: format!(
                        "UBI volume names disagree: {v:?} says slot {slot} is active, {:?} the other",
                        self.volumes[0]
                    ),
                });
            }
            pairs.push(Pair {
                boot_name: v.clone(),
                active: on,
                inactive: off,
            });
        }
        let active = active.ok_or_else(|| Error::SlotState {
            reason: "slots.ubi_rename lists no volume".into(),
        })?;
        Ok((active, pairs))
    }

    /// Every volume of `slot` is intact: no update marker, not corrupted.
    fn intact(&self, slot: Slot, active: Slot, pairs: &[Pair]) -> bool {
        pairs.iter().all(|p| {
            let dir = if slot == active {
                &p.active
            } else {
                &p.inactive
            };
            VolumeInfo::read(&self.sys_ubi.join(dir)).is_ok_and(|i| !i.upd_marker && !i.corrupted)
        })
    }

    fn bad(&self) -> Result<Vec<Slot>, Error> {
        match std::fs::read_to_string(&self.bad_file) {
            Ok(s) => Ok(Slot::ALL
                .into_iter()
                .filter(|slot| s.split_whitespace().any(|w| w == slot.to_string()))
                .collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::SlotState {
                reason: format!("{}: {e}", self.bad_file.display()),
            }),
        }
    }

    /// Records `slot` as given up on (`bad`) or not; nothing is written when it already is.
    fn set_bad(&self, slot: Slot, bad: bool) -> Result<(), Error> {
        let mut slots = self.bad()?;
        if slots.contains(&slot) == bad {
            return Ok(());
        }
        slots.retain(|s| *s != slot);
        if bad {
            slots.push(slot);
        }
        let text: Vec<String> = slots.iter().map(|s| s.to_string()).collect();
        crate::util::atomic_write(&self.bad_file, format!("{}\n", text.join(" ")).as_bytes())
            .map_err(|e| Error::SlotSwitch {
                reason: format!("{}: {e}", self.bad_file.display()),
            })
    }

    /// Moves every boot name to `slot`'s volumes in one atomic rename; then reads the names back.
    fn move_boot_names(&mut self, slot: Slot, active: Slot, pairs: &[Pair]) -> Result<(), Error> {
        // Both sides: the boot-named volume takes its slot's own name and the other volume the
        // boot name. `layout` found no volume called `NAME_<active>`, so no name given here is
        // held by a volume outside the request (the kernel would delete such a volume).
        let old_names: Vec<String> = pairs
            .iter()
            .map(|p| format!("{}_{active}", p.boot_name))
            .collect();
        let mut renames: Vec<(&str, &str)> = Vec::new();
        for (p, old) in pairs.iter().zip(&old_names) {
            renames.push((p.active.as_str(), old.as_str()));
            renames.push((p.inactive.as_str(), p.boot_name.as_str()));
        }
        (self.rename)(&renames).map_err(|e| Error::SlotRename { slot, source: e })?;
        let (now, _) = self.layout()?;
        if now != slot {
            return Err(Error::SlotSwitch {
                reason: format!(
                    "after renaming the UBI volumes slot {now} still carries the boot name"
                ),
            });
        }
        Ok(())
    }
}

impl SlotControl for UbiRenameSlotControl {
    fn state(&self) -> Result<SlotState, Error> {
        let (active, _) = self.layout()?;
        let mut control = BootControl::defaults();
        for slot in Slot::ALL {
            let info = self.slot_info(slot)?;
            control.set_slot(
                slot,
                SlotMetadata {
                    priority: match (slot == active, info.bootable) {
                        (true, _) => 15,
                        (false, true) => 14,
                        (false, false) => 0,
                    },
                    tries_remaining: info.tries_left,
                    successful_boot: false,
                    verity_corrupted: false,
                },
            );
        }
        control.update_crc();
        Ok(SlotState {
            active,
            control,
            valid: true,
        })
    }

    /// A slot that is not active is never booted: only recorded as given up on. The active one
    /// (mark-bad of the running slot) also hands the boot name to the other slot, which must be
    /// intact.
    fn mark_unbootable(&mut self, slot: Slot) -> Result<(), Error> {
        let (active, pairs) = self.layout()?;
        self.set_bad(slot, true)?;
        if slot != active {
            return Ok(());
        }
        let other = slot.other();
        if !self.intact(other, active, &pairs) {
            return Err(Error::SlotSwitch {
                reason: format!(
                    "slot {other}'s UBI volume is damaged: the boot name stays on slot {slot}"
                ),
            });
        }
        self.move_boot_names(other, active, &pairs)
    }

    fn set_active(&mut self, slot: Slot) -> Result<(), Error> {
        let (active, pairs) = self.layout()?;
        if !self.intact(slot, active, &pairs) {
            return Err(Error::SlotSwitch {
                reason: format!(
                    "slot {slot}'s UBI volume is damaged (update marker): not switching to it"
                ),
            });
        }
        self.set_bad(slot, false)?;
        if active == slot {
            // Already renamed (an install resumed after a power cut after its switch).
            return Ok(());
        }
        self.move_boot_names(slot, active, &pairs)
    }

    /// Bootable: intact and not given up on. No tries are counted (`tries_left` 1 for a bootable
    /// slot: the bootloader boots it once it carries the boot name) and no success flag kept.
    fn slot_info(&self, slot: Slot) -> Result<SlotInfo, Error> {
        let (active, pairs) = self.layout()?;
        let bootable = self.intact(slot, active, &pairs) && !self.bad()?.contains(&slot);
        Ok(SlotInfo {
            bootable,
            successful: None,
            tries_left: u8::from(bootable),
        })
    }

    /// Nothing to count down: only a verdict against the slot is dropped.
    fn mark_successful(&mut self, slot: Slot) -> Result<(), Error> {
        self.layout()?;
        self.set_bad(slot, false)
    }
}

#[cfg(test)]
mod tests;
