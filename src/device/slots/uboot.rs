//! The U-Boot environment as slot control, with the variables RAUC's U-Boot integration uses:
//! `BOOT_ORDER="A B"` lists the slots in boot order and `BOOT_A_LEFT=3` counts the tries left;
//! U-Boot's boot script boots the first slot in the order with tries left and decrements its
//! counter (`setexpr`, `saveenv`). Names are configurable in the profile. The environment's bytes
//! (single or redundant copies, CRC, flags) are [`crate::device::uboot_env`]'s.

use std::collections::BTreeMap;

use super::{SlotControl, SlotInfo, SlotState};
use crate::device::boot_control::{BootControl, SlotMetadata};
use crate::device::uboot_env::EnvStore;
use crate::device::Slot;
use crate::Error;

/// Variable names and try count for the slot convention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotVars {
    /// Holds the slot names in boot order, space separated (`BOOT_ORDER`).
    pub order: String,
    /// Tries-left variable, `{SLOT}` replaced by the slot's name (`BOOT_{SLOT}_LEFT`).
    pub left: String,
    /// Names of slots a and b in the variables (`A`, `B`).
    pub names: [String; 2],
    /// Tries given to a newly activated slot.
    pub tries: u8,
}

impl Default for SlotVars {
    fn default() -> SlotVars {
        SlotVars {
            order: "BOOT_ORDER".into(),
            left: "BOOT_{SLOT}_LEFT".into(),
            names: ["A".into(), "B".into()],
            tries: 3,
        }
    }
}

impl SlotVars {
    fn left_var(&self, slot: Slot) -> String {
        self.left.replace("{SLOT}", &self.names[slot.index()])
    }
    fn order_of(&self, vars: &BTreeMap<String, String>) -> Vec<Slot> {
        let Some(order) = vars.get(&self.order) else {
            return Vec::new();
        };
        order
            .split_whitespace()
            .filter_map(|n| Slot::ALL.into_iter().find(|s| self.names[s.index()] == n))
            .fold(Vec::new(), |mut v, s| {
                if !v.contains(&s) {
                    v.push(s);
                }
                v
            })
    }
    fn left_of(&self, vars: &BTreeMap<String, String>, slot: Slot) -> u8 {
        vars.get(&self.left_var(slot))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|n| n.min(255) as u8)
            .unwrap_or(0)
    }
}

/// Slot control through the U-Boot environment.
pub struct UbootSlotControl {
    store: EnvStore,
    vars: SlotVars,
}

impl UbootSlotControl {
    pub fn new(store: EnvStore, vars: SlotVars) -> UbootSlotControl {
        UbootSlotControl { store, vars }
    }

    fn current(&self) -> Result<(BTreeMap<String, String>, bool), Error> {
        match self.store.read() {
            Ok(Some((env, _))) => Ok((env.vars, true)),
            Ok(None) => match self.store.diagnose() {
                // A damaged environment cannot be written back, so no slot can be switched:
                // refused here, when the install plans, before anything is written.
                (why, true) => Err(Error::SlotState {
                    reason: format!(
                        "the U-Boot environment is damaged and cannot be rewritten ({why}); \
                         restore it with `fw_setenv` or U-Boot's `saveenv`"
                    ),
                }),
                (_, false) => Ok((BTreeMap::new(), false)),
            },
            Err(e) => Err(Error::SlotState {
                reason: format!("U-Boot environment: {e}"),
            }),
        }
    }

    /// The current variables for a change. A blank environment is refused: U-Boot then runs on
    /// its built-in default, and writing only our variables would replace that default (bootcmd
    /// and all) with an environment that cannot boot.
    fn for_change(&self, what: &str) -> Result<BTreeMap<String, String>, Error> {
        match self.current()? {
            (vars, true) => Ok(vars),
            (_, false) => Err(Error::SlotState {
                reason: format!(
                    "{what}: no valid U-Boot environment ({}): U-Boot is using its built-in \
                     default; run `saveenv` in U-Boot or `fw_setenv` once to store it",
                    self.store.diagnose().0
                ),
            }),
        }
    }

    fn store(&self, vars: &BTreeMap<String, String>, what: &str) -> Result<(), Error> {
        self.store.write(vars).map_err(|e| Error::SlotSwitch {
            reason: format!("U-Boot environment ({what}): {e}"),
        })
    }
}

/// The slot state as the bootloader's script would see it: the first slot in the boot order
/// with tries left, else the first in the order, else slot a. `control` is an Android-style view
/// (priority by position in the order, tries from the counter) for display.
pub fn slot_state(vars: &BTreeMap<String, String>, sv: &SlotVars, valid: bool) -> SlotState {
    let order = sv.order_of(vars);
    let active = order
        .iter()
        .copied()
        .find(|s| sv.left_of(vars, *s) > 0)
        .or_else(|| order.first().copied())
        .unwrap_or(Slot::A);
    let mut control = BootControl::defaults();
    for slot in Slot::ALL {
        let priority = match order.iter().position(|s| *s == slot) {
            Some(0) => 15,
            Some(_) => 14,
            None => 0,
        };
        control.set_slot(
            slot,
            SlotMetadata {
                priority,
                tries_remaining: sv.left_of(vars, slot).min(7),
                successful_boot: false,
                verity_corrupted: false,
            },
        );
    }
    control.update_crc();
    SlotState {
        active,
        control,
        valid: valid && !order.is_empty(),
    }
}

impl SlotControl for UbootSlotControl {
    fn state(&self) -> Result<SlotState, Error> {
        let (vars, valid) = self.current()?;
        Ok(slot_state(&vars, &self.vars, valid))
    }

    fn mark_unbootable(&mut self, slot: Slot) -> Result<(), Error> {
        let mut vars = self.for_change(&format!("marking slot {slot} unbootable"))?;
        let key = self.vars.left_var(slot);
        if vars.get(&key).map(String::as_str) == Some("0") {
            return Ok(());
        }
        vars.insert(key, "0".into());
        self.store(&vars, &format!("marking slot {slot} unbootable"))
    }

    fn set_active(&mut self, slot: Slot) -> Result<(), Error> {
        let mut vars = self.for_change(&format!("activating slot {slot}"))?;
        let other = slot.other();
        let order = format!(
            "{} {}",
            self.vars.names[slot.index()],
            self.vars.names[other.index()]
        );
        vars.insert(self.vars.order.clone(), order);
        vars.insert(self.vars.left_var(slot), self.vars.tries.to_string());
        // Keep the other slot's counter: it is the fallback if the new one fails to boot.
        vars.entry(self.vars.left_var(other))
            .or_insert_with(|| "0".to_string());
        self.store(&vars, &format!("activating slot {slot}"))?;
        let st = self.state()?;
        if st.active != slot {
            return Err(Error::SlotSwitch {
                reason: format!("read-back of the U-Boot environment does not show slot {slot}"),
            });
        }
        Ok(())
    }

    /// RAUC's view: bootable when in `BOOT_ORDER` with tries left. The scheme keeps no
    /// "successful" flag (a good slot simply has its counter reset), so `successful` is unknown.
    fn slot_info(&self, slot: Slot) -> Result<SlotInfo, Error> {
        let (vars, _) = self.current()?;
        let left = self.vars.left_of(&vars, slot);
        Ok(SlotInfo {
            bootable: self.vars.order_of(&vars).contains(&slot) && left > 0,
            successful: None,
            tries_left: left,
        })
    }

    /// RAUC's mark-good for U-Boot: the slot's `BOOT_x_LEFT` back to the full count, so the
    /// boot script's countdown starts over on every boot and never reaches 0.
    fn mark_successful(&mut self, slot: Slot) -> Result<(), Error> {
        let what = format!("marking slot {slot} good");
        let mut vars = self.for_change(&what)?;
        let key = self.vars.left_var(slot);
        let full = self.vars.tries.to_string();
        if vars.get(&key) == Some(&full) {
            return Ok(());
        }
        vars.insert(key, full);
        self.store(&vars, &what)
    }
}
