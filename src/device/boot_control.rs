//! Android's `bootloader_control` (A/B slot state) as stored in the misc partition.
//!
//! On-disk format (AOSP `bootable/recovery/bootloader_message/include/bootloader_message/
//! boot_control_definition.h`, read and written by `libboot_control` and by bootloaders):
//! the 32-byte struct lives at byte offset 2048 of misc (`offsetof(bootloader_message_ab,
//! slot_suffix)`: the first 2 KiB hold the recovery `bootloader_message`).
//!
//! ```text
//! off size field
//!   0   4  slot_suffix      e.g. "_a\0\0" (informational; bootloaders recompute it)
//!   4   4  magic            0x42414342 little-endian ("BCAB")
//!   8   1  version          1
//!   9   1  nb_slot:3 (bits 0-2) | recovery_tries_remaining:3 (bits 3-5)
//!  10   1  merge_status:3 (bits 0-2; a uint8_t bit-field that does not fit in byte 9)
//!  11   1  reserved0
//!  12   8  slot_info[4], 2 bytes each:
//!            byte 0: priority:4 (bits 0-3) | tries_remaining:3 (bits 4-6) | successful_boot:1 (bit 7)
//!            byte 1: verity_corrupted:1 (bit 0) | reserved:7
//!  20   8  reserved1
//!  28   4  crc32_le         standard CRC-32 (zlib polynomial) of bytes 0..28, little-endian
//! ```
//! Every byte we do not interpret (merge status, reserved, recovery tries, slot suffix of other
//! tools) is preserved on write, so a bootloader's own bookkeeping survives our updates.

use super::Slot;

/// Byte offset of the struct inside the misc partition.
pub const OFFSET: u64 = 2048;
pub const SIZE: usize = 32;
pub const MAGIC: u32 = 0x4241_4342;
pub const VERSION: u8 = 1;
/// libboot_control's values for SetActiveBootSlot.
pub const ACTIVE_PRIORITY: u8 = 15;
pub const ACTIVE_TRIES: u8 = 6;
/// libboot_control's defaults when the struct is invalid (BootloaderControlInit).
const DEFAULT_PRIORITY: u8 = 7;
const DEFAULT_TRIES: u8 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct SlotMetadata {
    pub priority: u8,
    pub tries_remaining: u8,
    pub successful_boot: bool,
    pub verity_corrupted: bool,
}

impl SlotMetadata {
    /// Bootable as a bootloader sees it: a non-zero priority and either tries left or a
    /// successful boot recorded.
    pub fn bootable(&self) -> bool {
        self.priority > 0 && (self.tries_remaining > 0 || self.successful_boot)
    }
}

/// The decoded struct, plus the raw bytes so unknown fields round-trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootControl {
    raw: [u8; SIZE],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// Magic, version and CRC are right.
    Valid,
    /// Not initialised or damaged: Android's defaults apply (both slots priority 7, slot a wins).
    Defaults,
}

impl BootControl {
    /// Android's BootloaderControlInit for two slots.
    pub fn defaults() -> BootControl {
        let mut raw = [0u8; SIZE];
        raw[0..2].copy_from_slice(b"_a");
        raw[4..8].copy_from_slice(&MAGIC.to_le_bytes());
        raw[8] = VERSION;
        let mut bc = BootControl { raw };
        bc.set_nb_slot(2);
        for slot in Slot::ALL {
            bc.set_slot(
                slot,
                SlotMetadata {
                    priority: DEFAULT_PRIORITY,
                    tries_remaining: DEFAULT_TRIES,
                    successful_boot: false,
                    verity_corrupted: false,
                },
            );
        }
        bc.update_crc();
        bc
    }

    /// Decodes the 32 bytes read from misc at [`OFFSET`]. Invalid data is not an error: as in
    /// libboot_control, it means "use the defaults".
    pub fn decode(bytes: &[u8; SIZE]) -> (BootControl, Decoded) {
        let magic = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let stored_crc = u32::from_le_bytes([bytes[28], bytes[29], bytes[30], bytes[31]]);
        let nb_slot = bytes[9] & 0x07;
        if magic == MAGIC
            && bytes[8] == VERSION
            && stored_crc == crc32fast::hash(&bytes[..28])
            && (1..=4).contains(&nb_slot)
        {
            (BootControl { raw: *bytes }, Decoded::Valid)
        } else {
            (BootControl::defaults(), Decoded::Defaults)
        }
    }

    pub fn encode(&self) -> [u8; SIZE] {
        self.raw
    }

    pub fn nb_slot(&self) -> u8 {
        self.raw[9] & 0x07
    }

    fn set_nb_slot(&mut self, n: u8) {
        self.raw[9] = (self.raw[9] & !0x07) | (n & 0x07);
    }

    pub fn slot(&self, slot: Slot) -> SlotMetadata {
        let i = 12 + 2 * slot.index();
        let (b0, b1) = (self.raw[i], self.raw[i + 1]);
        SlotMetadata {
            priority: b0 & 0x0f,
            tries_remaining: (b0 >> 4) & 0x07,
            successful_boot: b0 & 0x80 != 0,
            verity_corrupted: b1 & 0x01 != 0,
        }
    }

    pub fn set_slot(&mut self, slot: Slot, m: SlotMetadata) {
        let i = 12 + 2 * slot.index();
        self.raw[i] = (m.priority & 0x0f)
            | ((m.tries_remaining & 0x07) << 4)
            | if m.successful_boot { 0x80 } else { 0 };
        self.raw[i + 1] = (self.raw[i + 1] & !0x01) | u8::from(m.verity_corrupted);
    }

    /// Recomputes the CRC after direct edits with [`BootControl::set_slot`].
    pub fn update_crc(&mut self) {
        let crc = crc32fast::hash(&self.raw[..28]);
        self.raw[28..32].copy_from_slice(&crc.to_le_bytes());
    }

    /// The slot a bootloader boots: the highest priority among bootable slots, ties to the
    /// lower index (libboot_control's GetActiveBootSlot). Falls back to slot a.
    pub fn active(&self) -> Slot {
        let mut best = Slot::A;
        let mut best_prio = 0;
        for slot in Slot::ALL {
            let m = self.slot(slot);
            if m.bootable() && m.priority > best_prio {
                best = slot;
                best_prio = m.priority;
            }
        }
        best
    }

    /// libboot_control's SetActiveBootSlot: the new slot gets priority 15 and 6 tries and is not
    /// yet marked successful; any other slot at priority 15 drops to 14.
    pub fn set_active(&mut self, slot: Slot) {
        let current = self.active();
        for other in Slot::ALL {
            if other != slot {
                let mut m = self.slot(other);
                if m.priority >= ACTIVE_PRIORITY {
                    m.priority = ACTIVE_PRIORITY - 1;
                    self.set_slot(other, m);
                }
            }
        }
        let mut m = self.slot(slot);
        m.priority = ACTIVE_PRIORITY;
        m.tries_remaining = ACTIVE_TRIES;
        m.successful_boot = false;
        if slot != current {
            m.verity_corrupted = false;
        }
        self.set_slot(slot, m);
        self.raw[0] = b'_';
        self.raw[1] = slot.letter() as u8;
        self.update_crc();
    }

    /// update_engine's MarkSlotUnbootable, done before the first byte is written to a slot so a
    /// bootloader never falls back to a half-written slot.
    pub fn mark_unbootable(&mut self, slot: Slot) {
        let mut m = self.slot(slot);
        m.priority = 0;
        m.tries_remaining = 0;
        m.successful_boot = false;
        self.set_slot(slot, m);
        self.update_crc();
    }

    /// libboot_control's MarkBootSuccessful for `slot`.
    pub fn mark_successful(&mut self, slot: Slot) {
        let mut m = self.slot(slot);
        m.successful_boot = true;
        m.tries_remaining = ACTIVE_TRIES;
        self.set_slot(slot, m);
        self.update_crc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_mean_defaults_with_slot_a_active() {
        let (bc, d) = BootControl::decode(&[0u8; SIZE]);
        assert_eq!(d, Decoded::Defaults);
        assert_eq!(bc.active(), Slot::A);
        assert_eq!(bc.slot(Slot::B).priority, 7);
        assert_eq!(bc.nb_slot(), 2);
    }

    #[test]
    fn bad_crc_means_defaults() {
        let mut bc = BootControl::defaults();
        bc.set_active(Slot::B);
        let mut raw = bc.encode();
        assert_eq!(BootControl::decode(&raw).0.active(), Slot::B);
        raw[28] ^= 1;
        let (bc2, d) = BootControl::decode(&raw);
        assert_eq!(d, Decoded::Defaults);
        assert_eq!(bc2.active(), Slot::A);
    }

    #[test]
    fn known_bytes_match_android_layout() {
        // Built by hand from the struct definition: slot a priority 15, tries 6, successful;
        // slot b priority 14, tries 0, not successful; nb_slot 2.
        let mut raw = [0u8; SIZE];
        raw[0..2].copy_from_slice(b"_a");
        raw[4..8].copy_from_slice(&[0x42, 0x43, 0x41, 0x42]);
        raw[8] = 1;
        raw[9] = 2;
        raw[12] = 15 | (6 << 4) | 0x80;
        raw[14] = 14;
        let crc = crc32fast::hash(&raw[..28]);
        raw[28..].copy_from_slice(&crc.to_le_bytes());
        let (bc, d) = BootControl::decode(&raw);
        assert_eq!(d, Decoded::Valid);
        assert_eq!(bc.active(), Slot::A);
        let a = bc.slot(Slot::A);
        assert_eq!(
            (a.priority, a.tries_remaining, a.successful_boot),
            (15, 6, true)
        );
        let b = bc.slot(Slot::B);
        assert_eq!(
            (b.priority, b.tries_remaining, b.successful_boot),
            (14, 0, false)
        );
        assert!(!b.bootable());
        assert_eq!(bc.encode(), raw, "decode/encode must round-trip exactly");
    }

    #[test]
    fn set_active_follows_libboot_control() {
        let mut bc = BootControl::defaults();
        bc.set_active(Slot::A);
        bc.mark_successful(Slot::A);
        bc.set_active(Slot::B);
        assert_eq!(bc.active(), Slot::B);
        let b = bc.slot(Slot::B);
        assert_eq!(
            (b.priority, b.tries_remaining, b.successful_boot),
            (15, 6, false)
        );
        let a = bc.slot(Slot::A);
        assert_eq!((a.priority, a.successful_boot), (14, true));
        let raw = bc.encode();
        assert_eq!(&raw[0..2], b"_b");
        assert_eq!(BootControl::decode(&raw).1, Decoded::Valid);
    }

    #[test]
    fn unknown_bits_survive_updates() {
        let mut raw = BootControl::defaults().encode();
        raw[9] |= 3 << 3; // recovery_tries_remaining = 3
        raw[10] = 0x05; // merge_status
        raw[20] = 0xAA; // reserved1
        raw[13] |= 0x80; // slot a reserved bit
        let crc = crc32fast::hash(&raw[..28]);
        raw[28..].copy_from_slice(&crc.to_le_bytes());
        let (mut bc, _) = BootControl::decode(&raw);
        bc.mark_unbootable(Slot::B);
        bc.set_active(Slot::B);
        let out = bc.encode();
        assert_eq!(out[9] >> 3 & 7, 3);
        assert_eq!(out[10], 0x05);
        assert_eq!(out[20], 0xAA);
        assert_eq!(out[13] & 0x80, 0x80);
    }

    #[test]
    fn mark_unbootable_clears_fallback() {
        let mut bc = BootControl::defaults();
        bc.mark_unbootable(Slot::B);
        assert!(!bc.slot(Slot::B).bootable());
        assert_eq!(bc.active(), Slot::A);
    }
}
