//! SD-card and disk images made with the real tools (sfdisk, mkfs.vfat), without root.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::shell::{sh, sh_with_input};

/// Creates (or truncates) `path` as a sparse image of `mib` MiB of zeros.
pub fn blank(path: &Path, mib: u64) {
    fs::File::create(path).unwrap().set_len(mib << 20).unwrap();
}

/// A card image of `mib` MiB as a card reader shows it: a DOS partition table with one FAT
/// partition (type c) starting at 1 MiB (sector 2048) and filling the rest, formatted by
/// mkfs.vfat, with `label` if one is given. mtools reach the partition as `IMAGE@@1M`.
pub fn partitioned_fat_card(path: &Path, mib: u64, label: Option<&str>) {
    blank(path, mib);
    sh_with_input(
        Command::new("sfdisk").arg("--quiet").arg(path),
        b"label: dos\nstart=2048, type=c\n",
    );
    let mut mkfs = Command::new("mkfs.vfat");
    if let Some(label) = label {
        mkfs.args(["-n", label]);
    }
    // mkfs.vfat counts the filesystem in 1 KiB blocks: everything after the first MiB.
    sh(mkfs
        .args(["--offset", "2048"])
        .arg(path)
        .arg(((mib - 1) * 1024).to_string()));
}
