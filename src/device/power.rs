//! Reboot, reboot into the bootloader, and power off: sync, unmount what we mounted, then
//! reboot(2). Only the recovery init performs these (they need CAP_SYS_BOOT); front ends ask for
//! them through [`crate::app::perform_power`].

use std::path::PathBuf;

use serde::Deserialize;

use crate::Error;

/// What to do when recovery is finished: the profile's `[init] after` / `on_failure`, the
/// kernel command line's choice, and the recovery screen's last word are all one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerAction {
    /// Restart into the system.
    Reboot,
    /// Restart into the bootloader (fastboot / download mode).
    Bootloader,
    PowerOff,
    /// Restart into the recovery again (`adb reboot recovery`): reboot(2) with the restart
    /// command "recovery", as Android's init does for `reboot,recovery`.
    Recovery,
    /// No power action: the recovery init stays in recovery (shows the result and waits); the
    /// recovery screen was left without one (Ctrl-C on a development machine).
    Wait,
}

impl PowerAction {
    /// How a person calls it ("reboot system requested").
    pub fn label(self) -> &'static str {
        match self {
            PowerAction::Reboot => "reboot system",
            PowerAction::Bootloader => "reboot to bootloader",
            PowerAction::PowerOff => "power off",
            PowerAction::Recovery => "reboot to recovery",
            PowerAction::Wait => "stay in recovery",
        }
    }
}

impl std::str::FromStr for PowerAction {
    type Err = String;
    fn from_str(s: &str) -> Result<PowerAction, String> {
        match s {
            "reboot" => Ok(PowerAction::Reboot),
            "bootloader" => Ok(PowerAction::Bootloader),
            "poweroff" => Ok(PowerAction::PowerOff),
            "recovery" => Ok(PowerAction::Recovery),
            "wait" => Ok(PowerAction::Wait),
            _ => Err(format!(
                "unknown action {s:?} (reboot, bootloader, poweroff, recovery, wait)"
            )),
        }
    }
}

/// Mount points from /proc/self/mounts that recovery may unmount, deepest first: everything
/// but the root and the kernel's pseudo filesystems.
pub fn unmount_order(mounts: &str) -> Vec<PathBuf> {
    let keep = ["/", "/proc", "/sys", "/dev", "/dev/pts"];
    let mut v: Vec<PathBuf> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        // /proc/mounts escapes spaces etc. as \040; such paths are not ours.
        .filter(|m| !m.contains('\\') && !keep.contains(m))
        .map(PathBuf::from)
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v
}

/// Syncs, unmounts and performs `action` (`Wait` returns immediately). Does not return on
/// success.
pub fn perform(action: PowerAction) -> Result<(), Error> {
    use nix::sys::reboot::{reboot, RebootMode};
    if action == PowerAction::Wait {
        return Ok(());
    }
    nix::unistd::sync();
    if let Ok(m) = std::fs::read_to_string("/proc/self/mounts") {
        for p in unmount_order(&m) {
            if nix::mount::umount(&p).is_err() {
                // Busy: at least make it read-only so nothing is lost at the power cut.
                let _ = nix::mount::mount(
                    None::<&str>,
                    &p,
                    None::<&str>,
                    nix::mount::MsFlags::MS_REMOUNT | nix::mount::MsFlags::MS_RDONLY,
                    None::<&str>,
                );
            }
        }
    }
    nix::unistd::sync();
    let err = |name: &str, e: String| Error::Power {
        action: name.into(),
        reason: e,
    };
    match action {
        PowerAction::Reboot => reboot(RebootMode::RB_AUTOBOOT)
            .map(|_| ())
            .map_err(|e| err("reboot", e.to_string())),
        PowerAction::PowerOff => reboot(RebootMode::RB_POWER_OFF)
            .map(|_| ())
            .map_err(|e| err("power off", e.to_string())),
        // "bootloader" is the restart command Android's bootloaders (and many vendor
        // reboot-mode drivers) understand.
        PowerAction::Bootloader => {
            restart2(c"bootloader").map_err(|e| err("reboot into the bootloader", e.to_string()))
        }
        // "recovery" is the one Android's init passes for `reboot,recovery`: a device-tree
        // reboot-mode driver (or the vendor's restart handler) leaves the bootloader a mark to
        // boot the recovery. Where the platform ignores the command (a PC), this is a plain
        // reboot; docs/SIDELOAD.md says so.
        PowerAction::Recovery => {
            restart2(c"recovery").map_err(|e| err("reboot into recovery", e.to_string()))
        }
        PowerAction::Wait => Ok(()),
    }
}

/// reboot(2) with LINUX_REBOOT_CMD_RESTART2 and a command string for the platform's restart
/// handler (nix's RebootMode has no RESTART2). Does not return on success.
fn restart2(command: &std::ffi::CStr) -> std::io::Result<()> {
    // SAFETY: reboot(2) with the documented magic numbers; `command` is a NUL-terminated string
    // that outlives the call. On success the call does not return.
    let r = unsafe {
        libc::syscall(
            libc::SYS_reboot,
            libc::LINUX_REBOOT_MAGIC1,
            libc::LINUX_REBOOT_MAGIC2,
            libc::LINUX_REBOOT_CMD_RESTART2,
            command.as_ptr(),
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmounts_deepest_first_and_keeps_pseudo_filesystems() {
        let m = "rootfs / rootfs rw 0 0\nproc /proc proc rw 0 0\n\
                 /dev/vdf /state vfat rw 0 0\n/dev/mmcblk0p1 /run/storage/mmcblk0p1 vfat ro 0 0\n\
                 tmpfs /run tmpfs rw 0 0\ndevtmpfs /dev devtmpfs rw 0 0\n";
        assert_eq!(
            unmount_order(m),
            vec![
                PathBuf::from("/run/storage/mmcblk0p1"),
                PathBuf::from("/state"),
                PathBuf::from("/run")
            ]
        );
        assert_eq!("poweroff".parse(), Ok(PowerAction::PowerOff));
        assert_eq!("recovery".parse(), Ok(PowerAction::Recovery));
        assert_eq!(
            serde_json::to_value(PowerAction::Recovery).unwrap(),
            "recovery"
        );
        assert!("halt".parse::<PowerAction>().is_err());
    }
}
