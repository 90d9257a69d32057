//! Where an image goes: the flash-target seam.
//!
//! The engine writes every image through one trait, [`FlashTarget`], and gets a target from one
//! factory, [`open`], keyed by the profile's partition `type` ([`FlashType`]). Today every type
//! is `block`: a block device node, or a regular file standing in for one (tests, the demo),
//! implemented in [`block`].
//!
//! # Adding a kind of flash
//!
//! The next kinds (raw NAND through `/dev/mtdN`, UBI volumes through `/dev/ubiX_Y`) are one new
//! file each beside `block.rs` implementing [`FlashTarget`], one variant of [`FlashType`] (its
//! profile spelling, e.g. `type = "mtd"`) and one row in [`open`]. Nothing in the install engine
//! changes: it verifies every chunk before handing it over, keeps the journal, and decides the
//! order; a handler only moves verified bytes to its medium and back. As with RAUC's slot
//! handlers and SWUpdate's handler contract, each method's doc says when the engine calls it,
//! so a handler knows what it may rely on:
//!
//! | engine step (src/install)            | calls                                              |
//! |--------------------------------------|----------------------------------------------------|
//! | plan: fit and identity checks        | [`open`] read-only, [`FlashTarget::size`], [`FlashTarget::identity`] |
//! | resume: is a journalled chunk there? | [`open`] read-only, [`FlashTarget::read_exact_at`] |
//! | write an image / copy an image       | [`open`] for writing, [`FlashTarget::write_all_at`] in increasing offsets, [`FlashTarget::flush`] at checkpoints |
//! | copy from the active slot            | [`FlashTarget::read_exact_at`] on both (source, then read-back) |
//! | flush and switch                     | [`FlashTarget::flush`] once more per target, before the slot switch |

pub mod block;

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde::Deserialize;

/// A partition's kind of flash: the profile's `[[partition]] type`, and the key of [`open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlashType {
    /// A block device node (eMMC, SD, NVMe, virtio...) or a regular file: random access, sizes
    /// from `BLKGETSIZE64` or the file length ([`block::BlockTarget`]).
    #[default]
    Block,
}

impl std::fmt::Display for FlashType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FlashType::Block => "block",
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
}

/// The handler table: opens `path` as a target of `kind`. The one place a new [`FlashType`]
/// gets its implementation.
pub fn open(kind: FlashType, path: &Path, access: Access) -> io::Result<Box<dyn FlashTarget>> {
    match kind {
        FlashType::Block => Ok(Box::new(block::BlockTarget::open(path, access)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_target_is_the_file_behind_its_link() {
        let dir = tempfile::tempdir().unwrap();
        let (a, link) = (dir.path().join("a.img"), dir.path().join("link.img"));
        std::fs::write(&a, vec![0u8; 4096]).unwrap();
        std::os::unix::fs::symlink(&a, &link).unwrap();
        let t = open(FlashType::Block, &link, Access::Read).unwrap();
        assert_eq!(t.identity().unwrap(), Identity::of(&a).unwrap());
        assert_eq!(t.size().unwrap(), 4096);
    }

    #[test]
    fn block_targets_open_read_only_or_for_writing() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.img");
        std::fs::write(&a, vec![0u8; 64]).unwrap();
        let ro = open(FlashType::Block, &a, Access::Read).unwrap();
        assert!(
            ro.write_all_at(b"x", 0).is_err(),
            "read-only target written"
        );
        let rw = open(FlashType::Block, &a, Access::Write).unwrap();
        rw.write_all_at(b"hello", 10).unwrap();
        rw.flush().unwrap();
        let mut buf = [0u8; 5];
        ro.read_exact_at(&mut buf, 10).unwrap();
        assert_eq!(&buf, b"hello");
    }
}
