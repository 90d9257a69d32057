//! A simulated boot for the lifecycle tests (docs/SLOTS.md): what a bootloader does with the
//! slot state the updater leaves, and which slot the running system then says it booted from.
//!
//! - Android misc: the bootloader picks the bootable slot with the highest priority (ties to
//!   slot a); a slot not yet marked successful spends one try on every boot, and a slot with no
//!   tries left and no successful boot is skipped (libavb's `avb_ab_flow`, ABL).
//! - U-Boot environment (RAUC's boot script): the first slot of `BOOT_ORDER` whose
//!   `BOOT_x_LEFT` is above 0 is booted and its counter decremented, read and written with
//!   `fw_printenv` / `fw_setenv` (libubootenv), as U-Boot's `setexpr` + `saveenv` would.
//!
//! The booted slot reaches the updater as the profile's `booted_slot` fact (a file this helper
//! rewrites on every boot) or as a kernel command line file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use recovery_updater::device::boot_control::{self, BootControl, SlotMetadata};
use recovery_updater::device::Slot;

use super::{boot_control as read_boot_control, sh, Fixture};

/// The file the profile's `booted_slot` fact reads.
pub fn booted_file(fx: &Fixture) -> PathBuf {
    fx.dir.join("device/sys/booted_slot")
}

/// Adds top-level lines to the fixture's profile (before its first table).
pub fn add_profile_lines(fx: &Fixture, lines: &str) {
    let profile = fs::read_to_string(&fx.device).unwrap();
    fs::write(&fx.device, format!("{lines}\n{profile}")).unwrap();
}

/// The system runs from `slot`: the profile gets a `booted_slot` fact reading [`booted_file`].
pub fn running_from(fx: &Fixture, slot: Slot) {
    add_profile_lines(fx, "booted_slot = { file = \"sys/booted_slot\" }");
    set_booted(fx, slot);
}

pub fn set_booted(fx: &Fixture, slot: Slot) {
    fs::write(booted_file(fx), format!("{slot}\n")).unwrap();
}

/// One boot of an Android bootloader on the fixture's misc: the slot it starts (now the booted
/// slot), or `None` when no slot is bootable.
pub fn boot_misc(fx: &Fixture) -> Option<Slot> {
    let path = fx.part("misc.img");
    let mut misc = fs::read(&path).unwrap();
    let mut bc = read_boot_control(&misc);
    let bootable =
        |m: &SlotMetadata| m.priority > 0 && (m.successful_boot || m.tries_remaining > 0);
    let mut pick: Option<(Slot, u8)> = None;
    for slot in [Slot::A, Slot::B] {
        let m = bc.slot(slot);
        if bootable(&m) && pick.is_none_or(|(_, p)| m.priority > p) {
            pick = Some((slot, m.priority));
        }
    }
    let (slot, _) = pick?;
    let mut m = bc.slot(slot);
    if !m.successful_boot {
        m.tries_remaining -= 1;
    }
    bc.set_slot(slot, m);
    bc.update_crc();
    store_boot_control(&mut misc, &bc);
    fs::write(&path, misc).unwrap();
    set_booted(fx, slot);
    Some(slot)
}

fn store_boot_control(misc: &mut [u8], bc: &BootControl) {
    let off = boot_control::OFFSET as usize;
    misc[off..off + boot_control::SIZE].copy_from_slice(&bc.encode());
}

/// A U-Boot environment made by `mkenvimage` (two redundant copies of `size` bytes in
/// `dir/uboot_env.bin`, the second blank) holding RAUC's variables with slot a good, and the
/// fw_env.config describing it. Returns the config's path.
pub fn uboot_env(dir: &Path, size: usize) -> PathBuf {
    fs::write(
        dir.join("uboot_vars.txt"),
        "BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\nbootcmd=run rauc_boot\n",
    )
    .unwrap();
    let copy = dir.join("uboot_copy.bin");
    sh(Command::new("mkenvimage")
        .args(["-r", "-s", &format!("0x{size:x}"), "-o"])
        .arg(&copy)
        .arg(dir.join("uboot_vars.txt")));
    let mut bytes = fs::read(&copy).unwrap();
    bytes.resize(2 * size, 0xff);
    let env = dir.join("uboot_env.bin");
    fs::write(&env, bytes).unwrap();
    let cfg = dir.join("fw_env.config");
    fs::write(
        &cfg,
        format!(
            "{0} 0x0 0x{size:x}\n{0} 0x{size:x} 0x{size:x}\n",
            env.display()
        ),
    )
    .unwrap();
    cfg
}

/// One variable as `fw_printenv -n` prints it.
pub fn printenv(cfg: &Path, var: &str) -> String {
    sh(Command::new("fw_printenv")
        .arg("-c")
        .arg(cfg)
        .args(["-n", var]))
    .trim()
    .to_string()
}

/// One boot of RAUC's U-Boot script: the first slot in `BOOT_ORDER` with tries left is started
/// and its counter decremented (`fw_setenv`). The kernel command line it would pass
/// (`rauc.slot=A`) is written to `cmdline`. `None` when no slot has tries left.
pub fn boot_uboot(cfg: &Path, cmdline: &Path) -> Option<Slot> {
    let order = printenv(cfg, "BOOT_ORDER");
    for name in order.split_whitespace() {
        let var = format!("BOOT_{name}_LEFT");
        let left: u32 = printenv(cfg, &var).parse().unwrap_or(0);
        if left > 0 {
            sh(Command::new("fw_setenv")
                .arg("-c")
                .arg(cfg)
                .args([var.as_str(), &(left - 1).to_string()]));
            fs::write(cmdline, format!("console=ttyS0 rauc.slot={name} quiet\n")).unwrap();
            return Some(if name == "A" { Slot::A } else { Slot::B });
        }
    }
    None
}
