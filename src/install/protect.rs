//! Target identity: a path the plan writes must not be, under another name, something that
//! must never be written.
//!
//! Paths lie: `boot_b.img -> boot_a.img`, `/dev/block/by-name/*` entries are symlinks, a hard
//! link gives a file a second name, and two device nodes can name one block device. So every
//! target is resolved to what the kernel sees ([`Identity`]: the open target's `fstat`, asked
//! through [`crate::device::FlashTarget::identity`] when the plan opens it; protected paths are
//! `stat`ed, following links): a block or character device by its type and device number
//! (`st_rdev`), anything else by filesystem and inode (`st_dev`, `st_ino`). It is refused (9057)
//! when it is the same as
//! - a partition of the active slot (the slot the device boots; the running system's);
//! - the slot control: misc, or a U-Boot environment copy;
//! - the recovery state: the state directory, a file in it, the rollback index file, or the
//!   block device holding the filesystem of either (a target whose `st_rdev` is their
//!   `st_dev`).
//!
//! The check runs in the plan phase, before the first write.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::device::{partition_path, Device, Identity, Slot};
use crate::install::checks::Target;
use crate::Error;

/// Something that must not be written, and how to name it in the error.
struct Protected {
    id: Identity,
    what: String,
    /// A partition of the booted slot (the running system): refused with its own code, 9120.
    booted: Option<Slot>,
}

/// Refuses the plan when a target resolves to a protected device or file (9057).
pub fn check_targets(
    targets: &[Target],
    device: &dyn Device,
    active: Option<Slot>,
    booted: Option<Slot>,
) -> Result<(), Error> {
    let mut protected = protected(device, active);
    // The booted slot first: the same partition may also be the active slot's, and the running
    // system's own code names it better.
    if let Some(b) = booted {
        let profile = device.profile();
        for def in profile.partitions.iter().filter(|d| d.slotted()) {
            let p = partition_path(def, Some(b));
            // mtd:/ubi: names resolve to their device nodes, as for the active slot below.
            let node = crate::device::target::resolve(&p, profile.ubi_renamed()).unwrap_or(p);
            if let Ok(id) = Identity::of(&node) {
                protected.insert(
                    0,
                    Protected {
                        id,
                        what: format!("{} of the booted slot {b}", def.name),
                        booted: Some(b),
                    },
                );
            }
        }
    }
    for t in targets {
        let id = t.identity;
        if let Some(p) = protected.iter().find(|p| p.id == id) {
            if let Some(slot) = p.booted {
                return Err(Error::BootedSlotWrite {
                    partition: t.partition.clone(),
                    path: t.path.clone(),
                    slot,
                });
            }
            return Err(Error::TargetProtected {
                partition: t.partition.clone(),
                path: t.path.clone(),
                same_as: format!("{} {}", id.kind(), p.what),
            });
        }
    }
    Ok(())
}

fn protected(device: &dyn Device, active: Option<Slot>) -> Vec<Protected> {
    let profile = device.profile();
    let mut out = Vec::new();
    // Paths that do not exist protect nothing (a new device has no rollback index file yet).
    // `mtd:NAME` / `ubi:NAME` are resolved to their device nodes first, so a raw flash or UBI
    // slot is protected like a block device.
    let mut add = |path: &Path, what: String| {
        let node = crate::device::target::resolve(path, profile.ubi_renamed())
            .unwrap_or_else(|_| path.to_path_buf());
        if let Ok(id) = Identity::of(&node) {
            out.push(Protected {
                id,
                what,
                booted: None,
            });
        }
    };
    if let Some(a) = active {
        for def in profile.partitions.iter().filter(|d| d.slotted()) {
            let p = partition_path(def, Some(a));
            add(
                &p,
                format!("{} of the active slot {a} ({})", def.name, p.display()),
            );
        }
    }
    if let Some(misc) = &profile.slots.misc {
        add(misc, format!("the slot control misc ({})", misc.display()));
    }
    if let Some(u) = &profile.slots.uboot_env {
        if let Ok(store) = crate::device::uboot_env::EnvStore::from_config(&u.config) {
            for loc in store.locations {
                add(
                    &loc.device,
                    format!("the U-Boot environment ({})", loc.device.display()),
                );
            }
        }
    }
    let state_dir = &profile.state_dir;
    add(
        state_dir,
        format!("the recovery state directory ({})", state_dir.display()),
    );
    let mut state_files: Vec<PathBuf> = std::fs::read_dir(state_dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    state_files.push(profile.rollback_index_file.clone());
    for f in &state_files {
        add(f, format!("the recovery state file {}", f.display()));
    }
    // The block device under the state's filesystem: writing it would destroy the rollback
    // index and the journal as surely as writing the files.
    let index_dir = profile.rollback_index_file.parent().map(Path::to_path_buf);
    for dir in std::iter::once(state_dir.clone()).chain(index_dir) {
        if let Ok(m) = std::fs::metadata(&dir) {
            out.push(Protected {
                id: Identity::Block(m.dev()),
                what: format!(
                    "the device holding the recovery state's filesystem ({})",
                    dir.display()
                ),
                booted: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_to_the_same_identity() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"x").unwrap();
        let sym = dir.path().join("sym");
        std::os::unix::fs::symlink(&a, &sym).unwrap();
        let hard = dir.path().join("hard");
        std::fs::hard_link(&a, &hard).unwrap();
        let other = dir.path().join("other");
        std::fs::write(&other, b"x").unwrap();
        let id = Identity::of(&a).unwrap();
        assert_eq!(Identity::of(&sym).unwrap(), id);
        assert_eq!(Identity::of(&hard).unwrap(), id);
        assert_ne!(Identity::of(&other).unwrap(), id);
        // Two nodes of one device are one device.
        assert_eq!(
            Identity::of(Path::new("/dev/null")).unwrap(),
            Identity::Char(std::fs::metadata("/dev/null").unwrap().rdev())
        );
    }
}
