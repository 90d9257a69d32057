//! Where an image goes: the flash-target seam.
//!
//! The engine writes every image through one trait, [`FlashTarget`], and gets a target from one
//! factory, [`open`], keyed by the profile's partition `type` ([`FlashType`]): `block` (a block
//! device node, or a regular file standing in for one: tests, the demo) in [`block`], raw NAND
//! or NOR through `/dev/mtdN` in [`mtd`], UBI volumes through `/dev/ubiX_Y` in [`ubi`]. Paths
//! may name MTD partitions and UBI volumes by name (`mtd:NAME`, `ubi:NAME`), resolved by
//! [`resolve`].
//!
//! # Adding a kind of flash
//!
//! One new file beside `block.rs` implementing [`FlashTarget`], one variant of [`FlashType`]
//! (its profile spelling, e.g. `type = "mtd"`) and one row in [`open`]. Nothing in the install engine
//! changes: it verifies every chunk before handing it over, keeps the journal, and decides the
//! order; a handler only moves verified bytes to its medium and back. As with RAUC's slot
//! handlers and SWUpdate's handler contract, each method's doc says when the engine calls it,
//! so a handler knows what it may rely on:
//!
//! | engine step (src/install)            | calls                                              |
//! |--------------------------------------|----------------------------------------------------|
//! | plan: fit and identity checks        | [`open`] read-only, [`FlashTarget::fits`], [`FlashTarget::size`], [`FlashTarget::identity`] |
//! | resume: is a journalled chunk there? | [`open`] read-only, [`FlashTarget::read_exact_at`] |
//! | write an image / copy an image       | [`open`] for writing, [`FlashTarget::begin`] with the length, [`FlashTarget::write_all_at`] in increasing offsets, [`FlashTarget::flush`] at checkpoints, [`FlashTarget::finish`] at the end |
//! | copy from the active slot            | [`FlashTarget::read_exact_at`] on both (source, then read-back) |
//! | flush and switch                     | [`FlashTarget::flush`] once more per target, before the slot switch |

pub mod block;
pub mod mtd;
pub mod ubi;

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A partition's kind of flash: the profile's `[[partition]] type`, and the key of [`open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlashType {
    /// A block device node (eMMC, SD, NVMe, virtio...) or a regular file: random access, sizes
    /// from `BLKGETSIZE64` or the file length ([`block::BlockTarget`]).
    #[default]
    Block,
    /// Raw NAND or NOR flash through its MTD character device (`/dev/mtdN` or `mtd:NAME`):
    /// erased before writing, bad blocks skipped, every block read back ([`mtd::MtdTarget`]).
    Mtd,
    /// A UBI volume (`/dev/ubiX_Y` or `ubi:NAME`): replaced atomically by a volume update
    /// ([`ubi::UbiTarget`]).
    Ubi,
}

impl std::fmt::Display for FlashType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FlashType::Block => "block",
            FlashType::Mtd => "mtd",
            FlashType::Ubi => "ubi",
        })
    }
}

/// Whether a target is opened to be read only or to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// What a path or an open target is to the kernel, links resolved: two names of one device or
/// file have one identity (used to refuse writing something protected under another name, 9057).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// A block device node: the device it names (`st_rdev`).
    Block(u64),
    /// A character device node (its numbers are a separate space from block devices'); MTD and
    /// UBI volumes are character devices.
    Char(u64),
    /// A regular file or directory: filesystem and inode.
    Inode { dev: u64, ino: u64 },
}

impl Identity {
    /// The identity of what `path` names, following links.
    pub fn of(path: &Path) -> io::Result<Identity> {
        Ok(Identity::from_metadata(&std::fs::metadata(path)?))
    }

    /// The identity from `stat`/`fstat` metadata.
    pub fn from_metadata(m: &std::fs::Metadata) -> Identity {
        let ft = m.file_type();
        if ft.is_block_device() {
            Identity::Block(m.rdev())
        } else if ft.is_char_device() {
            Identity::Char(m.rdev())
        } else {
            Identity::Inode {
                dev: m.dev(),
                ino: m.ino(),
            }
        }
    }

    /// How two equal identities are described in an error.
    pub fn kind(self) -> &'static str {
        match self {
            Identity::Block(_) | Identity::Char(_) => "the same device as",
            Identity::Inode { .. } => "the same file as",
        }
    }
}

/// A place an image goes, opened by [`open`]. Every offset is absolute within the target.
///
/// The engine never hands a handler an unverified byte, and never asks it to write the slot the
/// system runs from; a handler need not check either.
pub trait FlashTarget: Send + Sync {
    /// The capacity in bytes. Runs at plan time, before anything is written: an image larger
    /// than its target is refused (9024), and a copy from the active slot takes
    /// the source's size.
    fn size(&self) -> io::Result<u64>;

    /// What the target is to the kernel (see [`Identity`]). Runs at plan time, once per target,
    /// before anything is written: a target that is the active slot, the slot control or the
    /// recovery state under another name is refused (9057).
    fn identity(&self) -> io::Result<Identity>;

    /// Whether an image of `len` bytes fits, by the medium's own rule. Runs at plan time, before
    /// [`FlashTarget::size`] is compared with the image (9024 when larger): raw NAND refuses here
    /// an image that fits the partition but not beside its bad blocks (9062).
    fn fits(&self, _len: u64) -> io::Result<()> {
        Ok(())
    }

    /// Reads `buf.len()` bytes at `offset`. Runs on resume (a chunk the journal counts as
    /// written is read back and compared with its signed hash before it is kept), when an A/B
    /// install copies a partition from the active slot (source reads), and to read that copy
    /// back for comparison.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;

    /// Writes all of `buf` at `offset`. Runs in the write step with verified data only, in
    /// increasing offsets within one image (a whole chunk at a time from a package, 1 MiB at a
    /// time for a copy); a resumed image starts at its first chunk that did not read back
    /// intact. A [`FlashTarget::flush`] of the same target may run on a helper thread
    /// concurrently with later writes.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;

    /// Makes everything written so far durable. Runs at checkpoints during an image (on a
    /// helper thread, while later chunks are written; the journal records a chunk only after
    /// the flush that covers it returned), at the end of every image, and once more for every
    /// target before the A/B slot switch. An error fails the install (9052), and the
    /// slot is not switched.
    fn flush(&self) -> io::Result<()>;

    /// Whether chunks an earlier, interrupted attempt wrote may be kept (read back, compared with
    /// their signed hashes, and skipped). Runs once per image before [`FlashTarget::begin`]. A
    /// medium that must be erased or updated as a whole (MTD, UBI) says no, and the image is
    /// written again from its first byte.
    fn keeps_earlier_writes(&self) -> bool {
        true
    }

    /// Runs once per image (or copy), opened for writing, before its first
    /// [`FlashTarget::write_all_at`], with the number of bytes that will be written. MTD erases
    /// here and refuses an image that no longer fits beside the bad blocks (9062); UBI declares
    /// the update size here. Nothing for a block device.
    fn begin(&self, _len: u64) -> io::Result<()> {
        Ok(())
    }

    /// Gives `len` bytes at `offset` back to the medium (an Android sparse image's DONT_CARE
    /// range under `dont_care = "discard"`): runs in the write step, in order with the writes.
    /// Returns false where the medium has no such operation (the range is left as it is), which
    /// is the default.
    fn discard(&self, _offset: u64, _len: u64) -> io::Result<bool> {
        Ok(false)
    }

    /// Runs once per image after its last write and its flush: checks the image is complete on
    /// the medium (UBI: every declared byte written and no update marker left, 9068 / 9064) and
    /// returns a line for the log (MTD: bad blocks skipped, corrected and failed ECC reads).
    fn finish(&self) -> io::Result<Option<String>> {
        Ok(None)
    }
}

/// A failure that belongs to one kind of flash and has its own code. Carried inside the
/// `io::Error` a [`FlashTarget`] returns (`io::Error::other`), and found again by
/// [`FlashError::code_of`] when the engine's error is mapped to its code.
#[derive(Debug, thiserror::Error)]
pub enum FlashError {
    #[error("the image needs {needed} erase blocks of {erase_size} bytes, but {path} has only {good} good ones ({bad} bad)")]
    NoRoom {
        path: PathBuf,
        needed: u64,
        good: u64,
        bad: u64,
        erase_size: u32,
    },
    #[error("{path}: what was read back at offset {offset} differs from what was written")]
    ReadBack { path: PathBuf, offset: u64 },
    #[error("UBI volume {path} is damaged: an update of it was interrupted (upd_marker set{})", if *.corrupted { ", or its data corrupted" } else { "" })]
    Damaged { path: PathBuf, corrupted: bool },
    #[error("{spec}: no {kind} of that name ({searched})")]
    NotFound {
        spec: String,
        kind: FlashType,
        searched: String,
    },
    #[error("{path} is not {kind} target: {reason}")]
    WrongKind {
        path: PathBuf,
        kind: &'static str,
        reason: String,
    },
    #[error("UBI volume update of {path}: {written} bytes written of the {declared} declared ({reason})")]
    UpdateIncomplete {
        path: PathBuf,
        declared: u64,
        written: u64,
        reason: String,
    },
    #[error("renaming UBI volumes on {device} failed: {reason}")]
    Rename { device: PathBuf, reason: String },
}

impl FlashError {
    pub fn code(&self) -> crate::error::Code {
        use crate::error::Code;
        match self {
            FlashError::NoRoom { .. } => Code::FlashNoRoom,
            FlashError::ReadBack { .. } => Code::FlashReadBack,
            FlashError::Damaged { .. } => Code::UbiVolumeDamaged,
            FlashError::NotFound { .. } => Code::FlashTargetNotFound,
            FlashError::WrongKind { .. } => Code::FlashTargetWrongKind,
            FlashError::UpdateIncomplete { .. } => Code::UbiUpdateIncomplete,
            FlashError::Rename { .. } => Code::UbiRenameFailed,
        }
    }

    /// The code of a flash-specific failure carried in `e`, if it is one.
    pub fn code_of(e: &io::Error) -> Option<crate::error::Code> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<FlashError>())
            .map(FlashError::code)
    }
}

impl From<FlashError> for io::Error {
    fn from(e: FlashError) -> io::Error {
        io::Error::other(e)
    }
}

/// The device node a profile path names: `mtd:NAME` is looked up in /proc/mtd (`/dev/mtdN`),
/// `ubi:NAME` in sysfs (`/dev/ubiX_Y`); any other path is itself. The name is exact (after
/// `{slot}` was replaced), except that `ubi:NAME_a` is the volume `NAME` while slot a is active
/// in the `ubi_rename` scheme ([`ubi::find_renamed_slot`]), and only for a `NAME` in `renamed`
/// (the profile's `[slots.ubi_rename] volumes`): on any other device a missing `NAME_a` stays
/// missing rather than becoming whatever volume is called `NAME`. 9066 when no partition or
/// volume has that name.
pub fn resolve(path: &Path, renamed: &[String]) -> io::Result<PathBuf> {
    resolve_in(path, Path::new("/proc/mtd"), Path::new(ubi::SYSFS), renamed)
}

/// [`resolve`] against another /proc/mtd and /sys/class/ubi (unit tests).
pub fn resolve_in(
    path: &Path,
    proc_mtd: &Path,
    sys_ubi: &Path,
    renamed: &[String],
) -> io::Result<PathBuf> {
    let Some(s) = path.to_str() else {
        return Ok(path.to_path_buf());
    };
    if let Some(name) = s.strip_prefix("mtd:") {
        let text = std::fs::read_to_string(proc_mtd).unwrap_or_default();
        return match mtd::find_in_proc_mtd(&text, name) {
            Some(dev) => Ok(PathBuf::from(format!("/dev/{dev}"))),
            None => Err(FlashError::NotFound {
                spec: s.to_string(),
                kind: FlashType::Mtd,
                searched: proc_mtd.display().to_string(),
            }
            .into()),
        };
    }
    if let Some(name) = s.strip_prefix("ubi:") {
        // A slot's volume is `NAME_a`, or `NAME` while it is the active one in the
        // `ubi_rename` scheme (docs/SLOTS.md).
        let found = ubi::find_volume(sys_ubi, name)
            .or_else(|| ubi::find_renamed_slot(sys_ubi, name, renamed));
        return match found {
            Some(vol) => Ok(PathBuf::from(format!("/dev/{vol}"))),
            None => Err(FlashError::NotFound {
                spec: s.to_string(),
                kind: FlashType::Ubi,
                searched: sys_ubi.display().to_string(),
            }
            .into()),
        };
    }
    Ok(path.to_path_buf())
}

/// The handler table: opens `path` as a target of `kind`. The one place a new [`FlashType`]
/// gets its implementation.
/// `renamed` as for [`resolve`].
pub fn open(
    kind: FlashType,
    path: &Path,
    access: Access,
    renamed: &[String],
) -> io::Result<Box<dyn FlashTarget>> {
    let node = resolve(path, renamed)?;
    match kind {
        FlashType::Block => Ok(Box::new(block::BlockTarget::open(&node, access)?)),
        FlashType::Mtd => Ok(Box::new(mtd::MtdTarget::open(&node, access)?)),
        FlashType::Ubi => Ok(Box::new(ubi::UbiTarget::open(&node, access)?)),
    }
}

#[cfg(test)]
mod tests;
