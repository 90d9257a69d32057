//! Filesystem recognition on real images made by mkfs.vfat (FAT12/16/32), mkfs.exfat and
//! mkfs.ext4, including a partitioned card image (MBR, FAT at 1 MiB), read through the same
//! function the recovery init uses on /dev/mmcblk0p1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{blank, partitioned_fat_card, sh};
use recovery_updater::device::discovery::{detect_at, FsType};

#[test]
fn recognises_filesystems_made_by_the_real_tools() {
    let d = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str], u64, FsType); 5] = [
        ("fat12.img", &["mkfs.vfat", "-F", "12"], 4, FsType::Vfat),
        ("fat16.img", &["mkfs.vfat", "-F", "16"], 32, FsType::Vfat),
        ("fat32.img", &["mkfs.vfat", "-F", "32"], 64, FsType::Vfat),
        ("exfat.img", &["mkfs.exfat"], 16, FsType::Exfat),
        ("ext4.img", &["mkfs.ext4", "-q", "-F"], 16, FsType::Ext4),
    ];
    for (name, cmd, mib, want) in cases {
        let p = d.path().join(name);
        blank(&p, mib);
        sh(Command::new(cmd[0]).args(&cmd[1..]).arg(&p));
        assert_eq!(detect_at(&p, 0).unwrap(), Some(want), "{name}");
    }
    let blank_img = d.path().join("blank.img");
    blank(&blank_img, 1);
    assert_eq!(detect_at(&blank_img, 0).unwrap(), None);
    assert!(detect_at(&d.path().join("missing"), 0).is_err());
}

#[test]
fn a_partitioned_card_is_not_a_filesystem_but_its_partition_is() {
    let d = tempfile::tempdir().unwrap();
    let sd = d.path().join("sd.img");
    partitioned_fat_card(&sd, 32, None);
    assert_eq!(
        detect_at(&sd, 0).unwrap(),
        None,
        "the MBR ends in 55 AA too"
    );
    assert_eq!(detect_at(&sd, 1 << 20).unwrap(), Some(FsType::Vfat));
}
