//! The Android bootloader_control decoder, and the slot operations on whatever it decoded.
//! Properties: decoding never fails (invalid data means defaults, as libboot_control does);
//! after set_active(s), s is active and bootable and the struct re-decodes as valid; after
//! mark_unbootable(s), s is not bootable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use recovery_updater::device::boot_control::{BootControl, Decoded, SIZE};
use recovery_updater::device::Slot;

fuzz_target!(|data: &[u8]| {
    let mut raw = [0u8; SIZE];
    let n = data.len().min(SIZE);
    raw[..n].copy_from_slice(&data[..n]);
    let ops = &data[n..];
    let (mut bc, decoded) = BootControl::decode(&raw);
    if decoded == Decoded::Valid {
        assert_eq!(bc.encode(), raw, "a valid struct round-trips byte for byte");
    }
    let _ = bc.active();
    for op in ops {
        let slot = if op & 1 == 0 { Slot::A } else { Slot::B };
        match (op >> 1) % 3 {
            0 => {
                bc.set_active(slot);
                assert_eq!(bc.active(), slot);
                assert!(bc.slot(slot).bootable());
            }
            1 => {
                bc.mark_unbootable(slot);
                assert!(!bc.slot(slot).bootable());
            }
            _ => bc.mark_successful(slot),
        }
        let (again, d) = BootControl::decode(&bc.encode());
        assert_eq!(d, Decoded::Valid, "what we write decodes as valid");
        assert_eq!(again, bc);
    }
});
