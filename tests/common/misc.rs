//! Reading Android's `bootloader_control` back from a misc partition image (docs/SLOTS.md):
//! the struct sits at `boot_control::OFFSET` and is `boot_control::SIZE` bytes long.

use recovery_updater::device::boot_control::{self, BootControl, Decoded};

/// The `bootloader_control` in `misc` and what the decoder made of it (valid, blank, damaged).
pub fn decode_boot_control(misc: &[u8]) -> (BootControl, Decoded) {
    let off = boot_control::OFFSET as usize;
    let raw: [u8; boot_control::SIZE] = misc[off..off + boot_control::SIZE].try_into().unwrap();
    BootControl::decode(&raw)
}

/// The `bootloader_control` in `misc`, which must decode as valid.
pub fn boot_control(misc: &[u8]) -> BootControl {
    let (bc, d) = decode_boot_control(misc);
    assert_eq!(d, Decoded::Valid);
    bc
}
