//! Finding removable storage: SD cards (`mmcblk*`) and USB sticks (`sd*` that are removable or
//! sit on a USB bus) from /sys/class/block, recognising vfat, exfat and ext4 by their superblock
//! bytes, and mounting each read-only under the run directory.
//!
//! Everything but the mount itself is plain file reading, so it is tested on a fake sysfs tree
//! and on filesystem images made by mkfs; mounting is exercised in the QEMU end-to-end test.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::Error;

/// A filesystem we can mount and search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsType {
    Vfat,
    Exfat,
    Ext4,
}

impl FsType {
    /// The name mount(2) wants.
    pub fn kernel_name(self) -> &'static str {
        match self {
            FsType::Vfat => "vfat",
            FsType::Exfat => "exfat",
            FsType::Ext4 => "ext4",
        }
    }
}

/// Recognises a filesystem from its first 2 KiB.
///
/// On-disk facts used:
/// - ext2/3/4: the superblock starts at byte 1024; `s_magic` (u16 LE) at superblock offset 56 is
///   0xEF53. The kernel's ext4 driver mounts all three.
/// - exFAT: boot sector bytes 3..11 are the file system name "EXFAT   ".
/// - FAT12/16/32: boot signature 0x55 0xAA at 510, and the BPB's file system type string
///   "FAT12   "/"FAT16   " at 54 (FAT12/16) or "FAT32   " at 82 (FAT32). An MBR partition table
///   also ends in 0x55AA but has no such string, so a partitioned disk is not mistaken for FAT.
pub fn detect(head: &[u8]) -> Option<FsType> {
    if head.len() >= 1024 + 58 && head[1024 + 56..1024 + 58] == [0x53, 0xEF] {
        return Some(FsType::Ext4);
    }
    if head.len() < 512 {
        return None;
    }
    if &head[3..11] == b"EXFAT   " {
        return Some(FsType::Exfat);
    }
    if head[510..512] == [0x55, 0xAA]
        && (&head[54..59] == b"FAT12" || &head[54..59] == b"FAT16" || &head[82..87] == b"FAT32")
    {
        return Some(FsType::Vfat);
    }
    None
}

/// Reads the first 2 KiB of a device or image file at `offset` and recognises its filesystem.
pub fn detect_at(path: &Path, offset: u64) -> io::Result<Option<FsType>> {
    let f = File::open(path)?;
    let mut head = vec![0u8; 2048];
    let mut n = 0;
    while n < head.len() {
        match f.read_at(&mut head[n..], offset + n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    head.truncate(n);
    Ok(detect(&head))
}

/// A removable block device (or partition) found in sysfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Kernel name, e.g. `mmcblk0p1`.
    pub name: String,
    /// Device node, e.g. `/dev/mmcblk0p1`.
    pub node: PathBuf,
    pub partition: bool,
    /// True for a whole disk that has partitions (search those instead).
    pub has_partitions: bool,
}

fn read_trim(p: &Path) -> Option<String> {
    crate::util::read_bounded(p, 4096)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
}

fn is_mmc_card(name: &str) -> bool {
    // mmcblkN and mmcblkNpM; not the eMMC hardware partitions mmcblkNbootM / mmcblkNrpmb.
    let Some(rest) = name.strip_prefix("mmcblk") else {
        return false;
    };
    let digits = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    !rest.is_empty()
        && (digits.is_empty()
            || digits
                .strip_prefix('p')
                .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())))
}

fn is_scsi_disk(name: &str) -> bool {
    name.strip_prefix("sd")
        .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The kernel name of the disk that `name` (a disk or a partition) belongs to: a partition's
/// sysfs directory sits inside its disk's directory (/sys/class/block/X is a symlink to
/// /sys/devices/.../block/DISK/X).
pub fn disk_of(sys_class_block: &Path, name: &str) -> String {
    let entry = sys_class_block.join(name);
    let disk_dir = if entry.join("partition").exists() {
        entry.join("..")
    } else {
        entry
    };
    std::fs::canonicalize(&disk_dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| name.to_string())
}

/// True when `name` is one of the profile's `internal_disks` or a partition of one.
pub fn is_internal(sys_class_block: &Path, name: &str, internal: &[String]) -> bool {
    let disk = disk_of(sys_class_block, name);
    internal.iter().any(|i| *i == disk || i == name)
}

/// Lists SD cards and removable USB disks with their partitions from `sys_class_block`
/// (normally /sys/class/block), device nodes under `dev`. `internal` names devices never to
/// treat as removable (the device's own eMMC, e.g. `mmcblk0`), with their partitions.
pub fn enumerate(sys_class_block: &Path, dev: &Path, internal: &[String]) -> Vec<Candidate> {
    let Ok(rd) = std::fs::read_dir(sys_class_block) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in &names {
        let entry = sys_class_block.join(name);
        let partition = entry.join("partition").exists();
        let disk_dir = if partition {
            entry.join("..")
        } else {
            entry.clone()
        };
        if is_internal(sys_class_block, name, internal) {
            continue;
        }
        let removable = if is_mmc_card(name) {
            true
        } else if is_scsi_disk(name) {
            let flag = read_trim(&disk_dir.join("removable")).as_deref() == Some("1");
            let on_usb = std::fs::canonicalize(&disk_dir)
                .map(|p| p.to_string_lossy().contains("/usb"))
                .unwrap_or(false);
            flag || on_usb
        } else {
            false
        };
        if !removable {
            continue;
        }
        let has_partitions = !partition
            && names
                .iter()
                .any(|n| n != name && n.starts_with(name.as_str()) && entry.join(n).exists());
        out.push(Candidate {
            name: name.clone(),
            node: dev.join(name),
            partition,
            has_partitions,
        });
    }
    out
}

/// A mounted filesystem, unmounted when dropped.
#[derive(Debug)]
pub struct Mounted {
    pub device: PathBuf,
    pub target: PathBuf,
    pub fstype: FsType,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        // A lazy detach if a plain unmount fails (a file still open): the mount disappears from
        // the namespace now and is released when the last user closes it.
        if nix::mount::umount(&self.target).is_err() {
            let _ = nix::mount::umount2(&self.target, nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_dir(&self.target);
    }
}

/// Mounts `device` read-only (and nosuid, nodev, noexec: nothing on a card is run) at `target`.
pub fn mount_readonly(device: &Path, fstype: FsType, target: &Path) -> Result<Mounted, Error> {
    use nix::mount::MsFlags;
    let err = |reason: String| Error::StorageMount {
        device: device.to_path_buf(),
        fstype: fstype.kernel_name().into(),
        reason,
    };
    std::fs::create_dir_all(target).map_err(|e| err(format!("{}: {e}", target.display())))?;
    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let data: Option<&str> = match fstype {
        // ext4 refuses to mount read-only when its journal needs a replay unless told not to
        // replay: a card is never written by the updater.
        FsType::Ext4 => Some("noload"),
        _ => None,
    };
    nix::mount::mount(
        Some(device),
        target,
        Some(fstype.kernel_name()),
        flags,
        data,
    )
    .map_err(|e| {
        let _ = std::fs::remove_dir(target);
        err(e.to_string())
    })?;
    Ok(Mounted {
        device: device.to_path_buf(),
        target: target.to_path_buf(),
        fstype,
    })
}

/// The outcome of mounting every removable device.
#[derive(Debug, Default)]
pub struct Discovered {
    pub mounted: Vec<Mounted>,
    /// Devices that could not be used; the scan went on without them.
    pub failures: Vec<Error>,
    /// Every device node tried, mounted or not: a later look skips them.
    pub tried: Vec<PathBuf>,
}

impl Discovered {
    pub fn roots(&self) -> Vec<PathBuf> {
        self.mounted.iter().map(|m| m.target.clone()).collect()
    }
}

/// Where [`discover_and_mount`] started adding: its new entries are `mounted[mounted..]` and
/// `failures[failures..]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    pub mounted: usize,
    pub failures: usize,
}

/// Finds removable devices not tried before and mounts each recognised filesystem read-only
/// under `mount_root`, adding to `d` (called again, it picks up a stick that appeared since). A
/// device that cannot be read or mounted is recorded in `failures` and skipped.
pub fn discover_and_mount(
    sys_class_block: &Path,
    dev: &Path,
    internal: &[String],
    mount_root: &Path,
    d: &mut Discovered,
) -> Added {
    let added = Added {
        mounted: d.mounted.len(),
        failures: d.failures.len(),
    };
    for c in enumerate(sys_class_block, dev, internal) {
        if c.has_partitions || d.tried.contains(&c.node) {
            continue;
        }
        d.tried.push(c.node.clone());
        let fs = match detect_at(&c.node, 0) {
            Ok(Some(fs)) => fs,
            Ok(None) => {
                d.failures.push(Error::StorageMount {
                    device: c.node.clone(),
                    fstype: "unknown".into(),
                    reason: "no vfat, exfat or ext4 filesystem found".into(),
                });
                continue;
            }
            Err(e) => {
                d.failures.push(Error::StorageMount {
                    device: c.node.clone(),
                    fstype: "unknown".into(),
                    reason: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        match mount_readonly(&c.node, fs, &mount_root.join(&c.name)) {
            Ok(m) => d.mounted.push(m),
            Err(e) => d.failures.push(e),
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn detects_by_magic_bytes() {
        let mut ext = vec![0u8; 2048];
        ext[1024 + 56] = 0x53;
        ext[1024 + 57] = 0xEF;
        assert_eq!(detect(&ext), Some(FsType::Ext4));
        let mut ex = vec![0u8; 512];
        ex[3..11].copy_from_slice(b"EXFAT   ");
        assert_eq!(detect(&ex), Some(FsType::Exfat));
        let mut fat = vec![0u8; 512];
        fat[510] = 0x55;
        fat[511] = 0xAA;
        assert_eq!(detect(&fat), None, "an MBR is not a filesystem");
        fat[82..90].copy_from_slice(b"FAT32   ");
        assert_eq!(detect(&fat), Some(FsType::Vfat));
        assert_eq!(detect(&[0u8; 100]), None);
    }

    #[test]
    fn names() {
        assert!(is_mmc_card("mmcblk0"));
        assert!(is_mmc_card("mmcblk1p2"));
        assert!(!is_mmc_card("mmcblk0boot0"));
        assert!(!is_mmc_card("mmcblk0rpmb"));
        assert!(!is_mmc_card("mmcblk"));
        assert!(is_scsi_disk("sda"));
        assert!(is_scsi_disk("sdb1"));
        assert!(!is_scsi_disk("sr0x/"));
    }

    /// Builds a fake /sys/class/block: real sysfs has /sys/class/block/X symlinks to
    /// /sys/devices/.../block/X, partitions as subdirectories of their disk.
    #[test]
    fn enumerates_cards_and_removable_usb_disks() {
        let d = tempfile::tempdir().unwrap();
        let devices = d.path().join("devices");
        let class = d.path().join("class/block");
        fs::create_dir_all(&class).unwrap();
        let mk = |dir: &str, name: &str, part: Option<&str>, removable: &str| {
            let disk = devices.join(dir).join("block").join(name);
            fs::create_dir_all(&disk).unwrap();
            fs::write(disk.join("removable"), removable).unwrap();
            std::os::unix::fs::symlink(&disk, class.join(name)).unwrap();
            if let Some(p) = part {
                let pd = disk.join(p);
                fs::create_dir_all(&pd).unwrap();
                fs::write(pd.join("partition"), "1").unwrap();
                std::os::unix::fs::symlink(&pd, class.join(p)).unwrap();
            }
        };
        mk("pci0/mmc_host/mmc0", "mmcblk0", Some("mmcblk0p1"), "0");
        mk("pci0/mmc_host/mmc1", "mmcblk1", None, "0");
        mk("pci0/ata1", "sda", Some("sda1"), "0");
        mk("pci0/usb2/2-1", "sdb", Some("sdb1"), "0");
        mk("pci0/scsi3", "sdc", None, "1");
        mk("pci0/virtio1", "vda", None, "0");
        let c = enumerate(&class, Path::new("/dev"), &["mmcblk1".to_string()]);
        let names: Vec<_> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["mmcblk0", "mmcblk0p1", "sdb", "sdb1", "sdc"]);
        assert!(c[0].has_partitions && !c[0].partition);
        assert!(c[1].partition && !c[1].has_partitions);
        assert_eq!(c[1].node, PathBuf::from("/dev/mmcblk0p1"));
        assert!(!c[4].has_partitions);
    }
}
