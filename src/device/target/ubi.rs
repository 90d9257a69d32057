//! The `ubi` flash type: a UBI volume through its character device `/dev/ubiX_Y` (or `ubi:NAME`,
//! looked up in /sys/class/ubi; `ubi:rootfs_{slot}` names one volume per A/B slot).
//!
//! UBI does bad-block handling, wear levelling and ECC itself; the updater's job is to replace a
//! volume's contents atomically, as `ubiupdatevol` does:
//! - [`FlashTarget::begin`] declares the new length with `UBI_IOCVOLUP`. From then on the
//!   volume's update marker (`upd_marker` in sysfs, stored on the flash) is set and the kernel
//!   refuses to read it ("damaged volume"), until exactly that many bytes have been written.
//! - Writes go to the device in order (`write`, not `pwrite`: the kernel appends update data).
//! - [`FlashTarget::finish`] checks every declared byte was written and the marker is cleared.
//!
//! An update cut short (power loss, a killed process) leaves the marker set, on the flash, across
//! reboots. Such a volume is never taken as installed: reading it (copying an A/B partition the
//! package does not carry from it, or a read-back) fails with 9064; writing it whole clears it.
//!
//! A/B is two volumes (`rootfs_a`, `rootfs_b`). Where the bootloader picks its volume by name,
//! the `ubi_rename` slot control ([`crate::device::slots::ubi_rename`]) moves the boot name from
//! one volume to the other in one atomic `UBI_IOCRNVOL` ([`rename`]); [`find_renamed_slot`]
//! finds a slot's volume while it carries the boot name.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Access, FlashError, FlashTarget, Identity};

/// Where the kernel describes attached UBI devices (`ubiX`) and their volumes (`ubiX_Y`).
pub const SYSFS: &str = "/sys/class/ubi";

/// The volume directory (`ubiX_Y`) under `sys_ubi` whose `name` is `name`.
pub fn find_volume(sys_ubi: &Path, name: &str) -> Option<String> {
    let mut found: Vec<String> = std::fs::read_dir(sys_ubi)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|d| d.contains('_'))
        .filter(|d| read_attr(&sys_ubi.join(d), "name").as_deref() == Some(name))
        .collect();
    found.sort();
    found.into_iter().next()
}

fn read_attr(dir: &Path, attr: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(attr))
        .ok()
        .map(|s| s.trim().to_string())
}

/// A volume as sysfs describes it (`/sys/class/ubi/ubiX_Y/*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    pub name: String,
    /// `dev`: "major:minor" of the volume's character device.
    pub dev: (u32, u32),
    /// Capacity: `reserved_ebs` logical erase blocks of `usable_eb_size` bytes.
    pub size: u64,
    /// `upd_marker`: an update was started and not finished.
    pub upd_marker: bool,
    /// `corrupted`: a static volume whose data failed its CRC check.
    pub corrupted: bool,
}

impl VolumeInfo {
    /// Reads a volume directory, e.g. `/sys/class/ubi/ubi0_1`.
    pub fn read(dir: &Path) -> io::Result<VolumeInfo> {
        let get = |a: &str| {
            read_attr(dir, a).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{}/{a} unreadable", dir.display()),
                )
            })
        };
        let num = |a: &str| -> io::Result<u64> {
            get(a)?.parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}/{a} is not a number", dir.display()),
                )
            })
        };
        let dev = get("dev")?;
        let dev = dev
            .split_once(':')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("dev {dev:?}")))?;
        Ok(VolumeInfo {
            name: get("name")?,
            dev,
            size: num("reserved_ebs")? * num("usable_eb_size")?,
            upd_marker: num("upd_marker")? != 0,
            corrupted: num("corrupted").unwrap_or(0) != 0,
        })
    }
}

// UBI_IOCVOLUP = _IOW('O', 0, __s64) on a volume device: starts a volume update of that many
// bytes (sets the update marker; 0 only empties the volume).
nix::ioctl_write_ptr!(ubi_vol_up, b'O', 0, i64);

/// A UBI volume, replaced whole as described in the module docs.
pub struct UbiTarget {
    file: File,
    path: PathBuf,
    /// The volume's sysfs directory.
    sys: PathBuf,
    identity: Identity,
    size: u64,
    state: Mutex<Update>,
}

#[derive(Default)]
struct Update {
    declared: Option<u64>,
    written: u64,
}

impl UbiTarget {
    pub fn open(path: &Path, access: Access) -> io::Result<UbiTarget> {
        UbiTarget::open_in(path, access, Path::new(SYSFS))
    }

    fn open_in(path: &Path, access: Access, sys_ubi: &Path) -> io::Result<UbiTarget> {
        let wrong = |reason: String| -> io::Error {
            FlashError::WrongKind {
                path: path.to_path_buf(),
                kind: "a UBI volume",
                reason,
            }
            .into()
        };
        let file = OpenOptions::new()
            .read(true)
            .write(access == Access::Write)
            .open(path)?;
        let meta = file.metadata()?;
        // The node's name (links followed) is its sysfs directory, and that directory's `dev`
        // must be this node's device number: a `ubi0_1` that is really something else is refused.
        let real = std::fs::canonicalize(path)?;
        let base = real.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(base) = base.filter(|b| b.starts_with("ubi") && b.contains('_')) else {
            return Err(wrong("not named /dev/ubiX_Y".into()));
        };
        let sys = sys_ubi.join(&base);
        let info = VolumeInfo::read(&sys).map_err(|e| wrong(e.to_string()))?;
        let rdev = meta.rdev();
        let node = (libc::major(rdev), libc::minor(rdev));
        if info.dev != node {
            return Err(wrong(format!(
                "device {}:{} but {} says {}:{}",
                node.0,
                node.1,
                sys.display(),
                info.dev.0,
                info.dev.1
            )));
        }
        Ok(UbiTarget {
            file,
            path: path.to_path_buf(),
            sys,
            identity: Identity::from_metadata(&meta),
            size: info.size,
            state: Mutex::new(Update::default()),
        })
    }

    /// 9064 when the volume carries an update marker (or is corrupted): it is no valid slot.
    fn check_intact(&self) -> io::Result<()> {
        let info = VolumeInfo::read(&self.sys)?;
        if info.upd_marker || info.corrupted {
            return Err(FlashError::Damaged {
                path: self.path.clone(),
                corrupted: info.corrupted,
            }
            .into());
        }
        Ok(())
    }

    fn lock(&self) -> io::Result<std::sync::MutexGuard<'_, Update>> {
        self.state
            .lock()
            .map_err(|_| io::Error::other("UBI target state poisoned"))
    }

    fn incomplete(&self, u: &Update, reason: &str) -> io::Error {
        FlashError::UpdateIncomplete {
            path: self.path.clone(),
            declared: u.declared.unwrap_or(0),
            written: u.written,
            reason: reason.into(),
        }
        .into()
    }
}

impl FlashTarget for UbiTarget {
    fn size(&self) -> io::Result<u64> {
        Ok(self.size)
    }
    fn identity(&self) -> io::Result<Identity> {
        Ok(self.identity)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.check_intact()?;
        self.file.read_exact_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut u = self.lock()?;
        let Some(declared) = u.declared else {
            return Err(self.incomplete(&u, "write before the update was declared"));
        };
        if offset != u.written {
            return Err(self.incomplete(&u, &format!("write at {offset} out of order")));
        }
        if u.written + buf.len() as u64 > declared {
            return Err(self.incomplete(&u, "more data than declared"));
        }
        // The kernel takes update data in order from the file position; `&File` writes there.
        (&self.file).write_all(buf)?;
        u.written += buf.len() as u64;
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        // fsync on a UBI volume syncs the UBI device's underlying MTD (ubi_sync).
        self.file.sync_all()
    }
    fn keeps_earlier_writes(&self) -> bool {
        // A volume update starts from nothing: an interrupted one is damaged as a whole.
        false
    }
    fn begin(&self, len: u64) -> io::Result<()> {
        let mut u = self.lock()?;
        let bytes = i64::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: UBI_IOCVOLUP reads one __s64 from the pointer; `bytes` outlives the call. It
        // needs the volume opened for writing and fails (EINVAL) when `len` exceeds the volume.
        unsafe { ubi_vol_up(self.file.as_raw_fd(), &bytes) }?;
        // The update marker is now in the volume table; make it durable before the first data
        // byte, so a power cut from here on leaves the volume marked damaged (raw NAND programs
        // synchronously; an MTD over a cached block device, block2mtd, needs the sync).
        self.file.sync_all()?;
        *u = Update {
            declared: Some(len),
            written: 0,
        };
        Ok(())
    }
    fn finish(&self) -> io::Result<Option<String>> {
        let u = self.lock()?;
        if let Some(declared) = u.declared {
            if u.written != declared {
                return Err(self.incomplete(&u, "the image ended early"));
            }
        }
        self.check_intact()?;
        Ok(Some(format!(
            "{}: UBI volume update of {} bytes complete, no update marker",
            self.path.display(),
            u.written
        )))
    }
}

/// `struct ubi_rnvol_req` (linux/include/uapi/mtd/ubi-user.h), packed: a count, 12 reserved
/// bytes, then up to 32 entries {vol_id, name_len, 2 reserved bytes, name[128]}.
#[repr(C, packed)]
pub struct RenameRequest {
    count: i32,
    padding1: [u8; 12],
    ents: [RenameEntry; 32],
}

#[repr(C, packed)]
#[derive(Clone, Copy)]
struct RenameEntry {
    vol_id: i32,
    name_len: i16,
    padding2: [u8; 2],
    name: [u8; 128],
}

/// The longest UBI volume name (UBI_MAX_VOLUME_NAME).
const MAX_NAME: usize = 127;

impl RenameRequest {
    /// A request giving each `(volume id, new name)` its name, all at once.
    pub fn new(renames: &[(u32, &str)]) -> Result<Box<RenameRequest>, String> {
        let empty = RenameEntry {
            vol_id: 0,
            name_len: 0,
            padding2: [0; 2],
            name: [0; 128],
        };
        let mut req = Box::new(RenameRequest {
            count: 0,
            padding1: [0; 12],
            ents: [empty; 32],
        });
        if renames.len() > 32 {
            return Err("more than 32 volumes".into());
        }
        for (i, (id, name)) in renames.iter().enumerate() {
            if name.is_empty() || name.len() > MAX_NAME {
                return Err(format!(
                    "volume name {name:?} is empty or over {MAX_NAME} bytes"
                ));
            }
            let mut e = empty;
            e.vol_id = i32::try_from(*id).map_err(|_| format!("volume id {id}"))?;
            e.name_len = name.len() as i16;
            e.name[..name.len()].copy_from_slice(name.as_bytes());
            req.ents[i] = e;
        }
        req.count = renames.len() as i32;
        Ok(req)
    }
}

// UBI_IOCRNVOL = _IOW('o', 3, struct ubi_rnvol_req) on the UBI device (/dev/ubiX, not a volume):
// renames up to 32 volumes in one atomic change of the volume table; a power cut leaves either
// all old or all new names.
nix::ioctl_write_ptr!(ubi_rename_volumes, b'o', 3, RenameRequest);

/// Exchanges the names of volumes `a` and `b` (`ubiX_Y` directories of one UBI device, e.g.
/// `ubi0_1` and `ubi0_2`) atomically. 9069 on failure (the old names stay).
pub fn rename_swap(sys_ubi: &Path, a: &str, b: &str) -> io::Result<()> {
    let name = |v: &str| read_attr(&sys_ubi.join(v), "name");
    let (Some(name_a), Some(name_b)) = (name(a), name(b)) else {
        return Err(rename_error(a, "volume names unreadable in sysfs".into()));
    };
    rename(&[(a, &name_b), (b, &name_a)])
}

fn rename_error(device: &str, reason: String) -> io::Error {
    let device = device.split_once('_').map_or(device, |(d, _)| d);
    FlashError::Rename {
        device: PathBuf::from(format!("/dev/{device}")),
        reason,
    }
    .into()
}

/// Gives each volume (`ubiX_Y`, all on one UBI device) its new name in one atomic
/// `UBI_IOCRNVOL`: the switch of the `ubi_rename` slot control
/// ([`crate::device::slots::ubi_rename`]). 9069 on failure (the old names stay).
///
/// The caller must make sure no new name is held by a volume outside the request: the kernel
/// then *removes* that volume (ubirename's "replace" semantics).
pub fn rename(renames: &[(&str, &str)]) -> io::Result<()> {
    let parse = |v: &str| -> Option<(String, u32)> {
        let (dev, id) = v.split_once('_')?;
        Some((dev.to_string(), id.parse().ok()?))
    };
    let first = renames.first().map_or("ubi", |r| r.0);
    let mut dev = None;
    let mut ids = Vec::new();
    for (vol, new_name) in renames {
        let Some((d, id)) = parse(vol) else {
            return Err(rename_error(first, format!("{vol} is not a ubiX_Y volume")));
        };
        if dev.get_or_insert_with(|| d.clone()) != &d {
            return Err(rename_error(
                first,
                format!("{first} and {vol} are on different UBI devices"),
            ));
        }
        ids.push((id, *new_name));
    }
    let req = RenameRequest::new(&ids).map_err(|r| rename_error(first, r))?;
    let node = PathBuf::from(format!("/dev/{}", dev.unwrap_or_default()));
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&node)
        .map_err(|e| rename_error(first, e.to_string()))?;
    // SAFETY: UBI_IOCRNVOL reads one packed `ubi_rnvol_req` (RenameRequest, checked to be the
    // kernel's 4368 bytes by a unit test) from a live pointer.
    unsafe { ubi_rename_volumes(f.as_raw_fd(), &*req) }
        .map_err(|e| rename_error(first, format!("UBI_IOCRNVOL: {e}")))?;
    Ok(())
}

/// `NAME_a` / `NAME_b` in the `ubi_rename` scheme (docs/SLOTS.md): the active slot's volume
/// carries the boot name `NAME` and the other one `NAME_<its slot>`. So when no volume is
/// called `NAME_a`, but `NAME` and `NAME_b` exist (on one UBI device), slot a is the volume
/// called `NAME`. Only for a `NAME` in `renamed`, the profile's boot names. `None` otherwise.
pub fn find_renamed_slot(sys_ubi: &Path, name: &str, renamed: &[String]) -> Option<String> {
    let (base, other) = if let Some(base) = name.strip_suffix("_a") {
        (base, format!("{base}_b"))
    } else if let Some(base) = name.strip_suffix("_b") {
        (base, format!("{base}_a"))
    } else {
        return None;
    };
    if base.is_empty() || !renamed.iter().any(|r| r == base) || find_volume(sys_ubi, name).is_some()
    {
        return None;
    }
    let boot = find_volume(sys_ubi, base)?;
    let other = find_volume(sys_ubi, &other)?;
    let device = |v: &str| v.split_once('_').map(|(d, _)| d.to_string());
    (device(&boot) == device(&other)).then_some(boot)
}

#[cfg(test)]
pub(crate) mod tests;
