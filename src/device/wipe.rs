//! Wipe data / factory reset, the way Android's recovery leaves a partition for the system to
//! re-create: discard the whole block device (BLKDISCARD) where the flash supports it, then zero
//! the first and last MiB so no filesystem superblock, journal head or encryption footer
//! survives (discarded blocks are not guaranteed to read back as zeros). The system's first boot
//! finds no filesystem and formats it (fs_mgr's `formattable`, systemd-repart, or a
//! vendor script). Only the partitions the profile lists under `[[wipe]]` are touched, and of
//! those only the ones whose `role` was asked for ([`wipe`], the one policy every caller uses:
//! the `wipe` command, the recovery init's OTA command, the screen and a package's `wipe_data`).

use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::path::Path;

use super::profile::{Profile, WipeDef, WipeRole};
use crate::Error;

/// Bytes zeroed at each end of a wiped partition.
pub const ZERO_SPAN: u64 = 1 << 20;

/// What was done to one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wiped {
    pub name: String,
    pub path: String,
    pub size: u64,
    /// True when BLKDISCARD released the whole device.
    pub discarded: bool,
    pub zeroed: u64,
}

impl std::fmt::Display for Wiped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "wiped {} ({}, {}): {}{} zeroed",
            self.name,
            self.path,
            crate::util::human_bytes(self.size),
            if self.discarded { "discarded, " } else { "" },
            crate::util::human_bytes(self.zeroed)
        )
    }
}

/// The partitions a wipe of `role` erases, or WIPE_NOT_CONFIGURED when the profile lists none:
/// asking for a wipe that erases nothing is a failure, never a silent success.
pub fn targets(profile: &Profile, role: WipeRole) -> Result<Vec<&WipeDef>, Error> {
    let defs: Vec<&WipeDef> = profile.wipe.iter().filter(|w| w.role == role).collect();
    if defs.is_empty() {
        return Err(Error::WipeNotConfigured {
            product: profile.product.clone(),
            role,
        });
    }
    Ok(defs)
}

/// The wipe policy: erases every `[[wipe]]` partition of `role` (and nothing else), stopping at
/// the first failure; 9065 when the profile lists none of that role.
pub fn wipe(profile: &Profile, role: WipeRole) -> Result<Vec<Wiped>, Error> {
    targets(profile, role)?
        .into_iter()
        .map(wipe_partition)
        .collect()
}

/// Wipes one partition (a block device or, in tests and simulations, a regular file whose
/// length is kept).
pub fn wipe_partition(def: &WipeDef) -> Result<Wiped, Error> {
    let path = Path::new(&def.path);
    let err = |reason: String| Error::Wipe {
        partition: def.name.clone(),
        path: path.to_path_buf(),
        reason,
    };
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| err(format!("open: {e}")))?;
    let meta = f.metadata().map_err(|e| err(e.to_string()))?;
    let block = meta.file_type().is_block_device();
    let size = if block {
        crate::sys::block_device_size(&f).map_err(|e| err(format!("BLKGETSIZE64: {e}")))?
    } else {
        meta.len()
    };
    let discarded = block
        && match crate::sys::discard(&f, 0, size) {
            Ok(()) => true,
            // Not every medium supports discard (virtio without discard=unmap, some SD cards):
            // zeroing the ends below is what makes the wipe effective anyway.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP) | Some(libc::EINVAL)
                ) =>
            {
                false
            }
            Err(e) => return Err(err(format!("BLKDISCARD: {e}"))),
        };
    let zeros = vec![0u8; ZERO_SPAN.min(size) as usize];
    let mut zeroed = 0;
    let mut spans = vec![0];
    if size > ZERO_SPAN {
        spans.push(size - ZERO_SPAN.min(size - ZERO_SPAN));
    }
    for start in spans {
        let n = ZERO_SPAN.min(size - start) as usize;
        f.write_all_at(&zeros[..n], start)
            .map_err(|e| err(format!("zeroing at {start}: {e}")))?;
        zeroed += n as u64;
    }
    f.sync_all().map_err(|e| err(format!("fsync: {e}")))?;
    crate::sys::flush_block_buffers(&f).map_err(|e| err(format!("BLKFLSBUF: {e}")))?;
    Ok(Wiped {
        name: def.name.clone(),
        path: def.path.clone(),
        size,
        discarded,
        zeroed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroes_both_ends_and_keeps_the_middle_and_the_length() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("userdata.img");
        let size = 3 * ZERO_SPAN + 4096;
        std::fs::write(&p, vec![0xa5u8; size as usize]).unwrap();
        let def = WipeDef {
            name: "userdata".into(),
            path: p.to_string_lossy().into_owned(),
            role: WipeRole::Data,
        };
        let w = wipe_partition(&def).unwrap();
        assert_eq!(
            (w.size, w.zeroed, w.discarded),
            (size, 2 * ZERO_SPAN, false)
        );
        let data = std::fs::read(&p).unwrap();
        assert_eq!(data.len() as u64, size);
        assert!(data[..ZERO_SPAN as usize].iter().all(|&b| b == 0));
        assert!(data[(size - ZERO_SPAN) as usize..].iter().all(|&b| b == 0));
        assert!(data[ZERO_SPAN as usize..(size - ZERO_SPAN) as usize]
            .iter()
            .all(|&b| b == 0xa5));
        assert!(w.to_string().contains("wiped userdata"));
    }

    #[test]
    fn small_partition_is_zeroed_whole_and_missing_one_fails_with_its_code() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("cache.img");
        std::fs::write(&p, vec![1u8; 5000]).unwrap();
        let def = WipeDef {
            name: "cache".into(),
            path: p.to_string_lossy().into_owned(),
            role: WipeRole::Cache,
        };
        assert_eq!(wipe_partition(&def).unwrap().zeroed, 5000);
        assert_eq!(std::fs::read(&p).unwrap(), vec![0u8; 5000]);
        let missing = WipeDef {
            name: "cache".into(),
            path: d.path().join("nope").to_string_lossy().into_owned(),
            role: WipeRole::Cache,
        };
        let e = wipe_partition(&missing).unwrap_err();
        assert_eq!(crate::HasCode::code(&e), crate::Code::WipeFailed);
    }

    /// A profile with one data and one cache partition, both files holding 0x5a.
    fn profile_with(dir: &Path, roles: &[(&str, &str)]) -> Profile {
        let mut text = String::from(
            "product = \"p\"\nhardware_revision = \"r\"\nkeys = [\"k.pub\"]\n\
             state_dir = \"state\"\n[slots]\nmode = \"single\"\n\
             [[partition]]\nname = \"boot\"\npath = \"boot.img\"\n",
        );
        for (name, role) in roles {
            std::fs::write(dir.join(format!("{name}.img")), vec![0x5au8; 8192]).unwrap();
            text.push_str(&format!(
                "[[wipe]]\nname = \"{name}\"\npath = \"{name}.img\"\nrole = \"{role}\"\n"
            ));
        }
        Profile::parse(&text, &dir.join("d.toml"), dir).unwrap()
    }

    #[test]
    fn each_role_wipes_only_its_own_partitions() {
        let d = tempfile::tempdir().unwrap();
        let p = profile_with(d.path(), &[("userdata", "data"), ("cache", "cache")]);
        let read = |n: &str| std::fs::read(d.path().join(format!("{n}.img"))).unwrap();
        let w = wipe(&p, WipeRole::Cache).unwrap();
        assert_eq!(
            w.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
            ["cache"]
        );
        assert!(read("cache").iter().all(|&b| b == 0));
        assert!(
            read("userdata").iter().all(|&b| b == 0x5a),
            "cache wipe kept data"
        );
        let w = wipe(&p, WipeRole::Data).unwrap();
        assert_eq!(
            w.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
            ["userdata"]
        );
        assert!(read("userdata").iter().all(|&b| b == 0));
    }

    #[test]
    fn a_role_with_no_partition_is_not_configured_and_erases_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = profile_with(d.path(), &[("cache", "cache")]);
        let e = wipe(&p, WipeRole::Data).unwrap_err();
        assert_eq!(crate::HasCode::code(&e), crate::Code::WipeNotConfigured);
        assert!(e.to_string().contains("role = \"data\""), "{e}");
        let cache = std::fs::read(d.path().join("cache.img")).unwrap();
        assert!(cache.iter().all(|&b| b == 0x5a));
        let none = profile_with(d.path(), &[]);
        for role in [WipeRole::Data, WipeRole::Cache] {
            let e = wipe(&none, role).unwrap_err();
            assert_eq!(crate::HasCode::code(&e), crate::Code::WipeNotConfigured);
        }
    }
}
