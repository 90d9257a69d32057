//! Android's misc partition as slot control: the `bootloader_control` struct at offset 2048
//! ([`crate::device::boot_control`] documents the bytes), read and written as
//! libboot_control does, so Android bootloaders and update_engine's tools agree with us.

use std::io;
use std::path::PathBuf;

use super::{SlotControl, SlotState};
use crate::device::boot_control::{self, BootControl};
use crate::device::target::block::BlockTarget;
use crate::device::{Access, FlashTarget, Slot};
use crate::Error;

/// Android's misc partition as slot control.
pub struct MiscSlotControl {
    path: PathBuf,
}

impl MiscSlotControl {
    pub fn new(path: PathBuf) -> MiscSlotControl {
        MiscSlotControl { path }
    }

    fn read(&self) -> Result<[u8; boot_control::SIZE], Error> {
        let part = BlockTarget::open(&self.path, Access::Read).map_err(|e| Error::SlotState {
            reason: format!("{}: {e}", self.path.display()),
        })?;
        let mut raw = [0u8; boot_control::SIZE];
        part.read_exact_at(&mut raw, boot_control::OFFSET)
            .map_err(|e| Error::SlotState {
                reason: format!("{}: reading bootloader_control: {e}", self.path.display()),
            })?;
        Ok(raw)
    }

    fn write(&self, bc: &BootControl) -> io::Result<()> {
        let part = BlockTarget::open(&self.path, Access::Write)?;
        part.write_all_at(&bc.encode(), boot_control::OFFSET)?;
        part.flush()
    }
}

impl SlotControl for MiscSlotControl {
    fn state(&self) -> Result<SlotState, Error> {
        let raw = self.read()?;
        let (control, decoded) = BootControl::decode(&raw);
        Ok(SlotState {
            active: control.active(),
            valid: decoded == boot_control::Decoded::Valid,
            control,
        })
    }

    fn mark_unbootable(&mut self, slot: Slot) -> Result<(), Error> {
        let st = self.state()?;
        let mut bc = st.control.clone();
        bc.mark_unbootable(slot);
        if st.valid && bc == st.control {
            return Ok(());
        }
        self.write(&bc).map_err(|e| Error::SlotSwitch {
            reason: format!("marking slot {slot} unbootable: {e}"),
        })
    }

    fn set_active(&mut self, slot: Slot) -> Result<(), Error> {
        let mut bc = self.state()?.control;
        bc.set_active(slot);
        self.write(&bc).map_err(|e| Error::SlotSwitch {
            reason: format!("{}: {e}", self.path.display()),
        })?;
        // Read back: a bootloader must see exactly what we meant.
        let st = self.state()?;
        if !st.valid || st.active != slot {
            return Err(Error::SlotSwitch {
                reason: format!(
                    "read-back of {} does not show slot {slot}",
                    self.path.display()
                ),
            });
        }
        Ok(())
    }

    /// libboot_control's MarkBootSuccessful: `successful_boot` set, tries back to 6.
    fn mark_successful(&mut self, slot: Slot) -> Result<(), Error> {
        let st = self.state()?;
        let m = st.control.slot(slot);
        if st.valid && m.successful_boot && m.tries_remaining == boot_control::ACTIVE_TRIES {
            return Ok(());
        }
        let mut bc = st.control;
        bc.mark_successful(slot);
        self.write(&bc).map_err(|e| Error::SlotSwitch {
            reason: format!("marking slot {slot} successful: {e}"),
        })
    }
}
