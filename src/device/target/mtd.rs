//! The `mtd` flash type: raw NAND (or NOR) flash through its MTD character device `/dev/mtdN`
//! (or `mtd:NAME`, looked up in /proc/mtd).
//!
//! Raw flash is not a disk: a bit can only be programmed from 1 to 0, so a block must be erased
//! (all 0xFF) before it is written; NAND is written a whole page at a time, in order within an
//! erase block; and NAND ships with factory-marked bad blocks and grows more. So, as
//! `flash_erase` + `nandwrite` (mtd-utils) and SWUpdate's flash handler do:
//! - [`FlashTarget::begin`] checks that the image fits in the good blocks (9062 otherwise), then
//!   erases every good block of the partition (none of the old image is left after the new one);
//!   a block whose erase fails is marked bad and skipped.
//! - The image is laid out over the good blocks in order: logical erase block `L` is the `L`th
//!   good block, as `nandwrite` skips bad blocks and `nanddump --bb=skipbad` reads them back.
//! - Writes are collected into whole erase blocks and written page-aligned (the last page padded
//!   with 0xFF, the erased state). A block whose write fails with EIO is marked bad and its data
//!   goes to the next good block (nandwrite's `--markbad`).
//! - Every block is read back and compared as soon as it is written (9063 on a difference).
//! - `ECCGETSTATS` before and after: corrected and failed reads go to the log.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Access, FlashError, FlashTarget, Identity};

/// The device name (`mtdN`) of the partition called `name` in /proc/mtd's text. Lines look like
/// `mtd3: 00800000 00020000 "rootfs"` (device, size, erase size, quoted name); the header line
/// has no quotes.
pub fn find_in_proc_mtd(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (dev, rest) = line.split_once(':')?;
        let quoted = rest.trim().splitn(3, ' ').nth(2)?;
        let n = quoted.strip_prefix('"')?.strip_suffix('"')?;
        (n == name && dev.starts_with("mtd")).then(|| dev.to_string())
    })
}

/// What [`MtdTarget`] needs of the flash: erase blocks, pages, bad-block marks and ECC
/// statistics. The kernel's MTD character device ([`MtdDevice`]), or RAM in unit tests.
pub trait Medium: Send {
    /// Total bytes, erase block size, page (write) size.
    fn geometry(&self) -> Geometry;
    fn is_bad(&self, block: u64) -> io::Result<bool>;
    fn mark_bad(&mut self, block: u64) -> io::Result<()>;
    fn erase(&mut self, block: u64) -> io::Result<()>;
    fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()>;
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// (corrected, failed) ECC reads since the device was attached; `None` where unsupported.
    fn ecc_stats(&self) -> Option<(u32, u32)>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub size: u64,
    pub erase_size: u32,
    pub page_size: u32,
}

impl Geometry {
    fn blocks(&self) -> u64 {
        self.size / u64::from(self.erase_size)
    }
}

/// `struct mtd_info_user` (linux/include/uapi/mtd/mtd-abi.h), answered by MEMGETINFO. C layout:
/// the u8 `type` is followed by 3 bytes of padding.
#[repr(C)]
#[derive(Default)]
struct MtdInfoUser {
    kind: u8,
    flags: u32,
    size: u32,
    erasesize: u32,
    writesize: u32,
    oobsize: u32,
    padding: u64,
}

/// `struct erase_info_user64`: the byte range MEMERASE64 erases (whole erase blocks).
#[repr(C)]
struct EraseInfoUser64 {
    start: u64,
    length: u64,
}

/// `struct mtd_ecc_stats`: counters ECCGETSTATS returns, cumulative since the MTD was registered.
#[repr(C)]
#[derive(Default)]
struct MtdEccStats {
    corrected: u32,
    failed: u32,
    badblocks: u32,
    bbtblocks: u32,
}

// MEMGETINFO = _IOR('M', 1, struct mtd_info_user): the partition's size, erase block and page
// size, so the layout never guesses the geometry.
nix::ioctl_read!(mem_get_info, b'M', 1, MtdInfoUser);
// MEMGETBADBLOCK = _IOW('M', 11, loff_t): > 0 when the erase block at that byte offset is marked
// bad (factory mark in the OOB area, or the bad block table).
nix::ioctl_write_ptr!(mem_get_bad_block, b'M', 11, i64);
// MEMSETBADBLOCK = _IOW('M', 12, loff_t): marks the block bad, so no later writer uses it.
nix::ioctl_write_ptr!(mem_set_bad_block, b'M', 12, i64);
// ECCGETSTATS = _IOR('M', 18, struct mtd_ecc_stats): corrected / failed ECC read counters.
nix::ioctl_read!(ecc_get_stats, b'M', 18, MtdEccStats);
// MEMERASE64 = _IOW('M', 20, struct erase_info_user64): erases whole blocks (sets them to 0xFF);
// synchronous, EIO when the block fails to erase.
nix::ioctl_write_ptr!(mem_erase64, b'M', 20, EraseInfoUser64);

/// The kernel's MTD character device.
pub struct MtdDevice {
    file: File,
    geometry: Geometry,
}

impl MtdDevice {
    pub fn open(path: &Path, access: Access) -> io::Result<MtdDevice> {
        let file = OpenOptions::new()
            .read(true)
            .write(access == Access::Write)
            .open(path)?;
        let mut info = MtdInfoUser::default();
        // SAFETY: MEMGETINFO fills exactly one `mtd_info_user`, which `info` is (repr(C)).
        // On anything that is not an MTD device the ioctl fails (ENOTTY) and nothing is written.
        unsafe { mem_get_info(file.as_raw_fd(), &mut info) }.map_err(|e| {
            io::Error::from(FlashError::WrongKind {
                path: path.to_path_buf(),
                kind: "an MTD (raw flash)",
                reason: format!("MEMGETINFO: {e}"),
            })
        })?;
        if info.erasesize == 0 || info.writesize == 0 || info.erasesize % info.writesize != 0 {
            return Err(FlashError::WrongKind {
                path: path.to_path_buf(),
                kind: "a usable MTD",
                reason: format!(
                    "erase block {} bytes, page {} bytes",
                    info.erasesize, info.writesize
                ),
            }
            .into());
        }
        let _ = (info.kind, info.flags, info.oobsize, info.padding);
        Ok(MtdDevice {
            file,
            geometry: Geometry {
                size: u64::from(info.size),
                erase_size: info.erasesize,
                page_size: info.writesize,
            },
        })
    }

    fn offset(&self, block: u64) -> io::Result<i64> {
        i64::try_from(block * u64::from(self.geometry.erase_size))
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
    }
}

impl Medium for MtdDevice {
    fn geometry(&self) -> Geometry {
        self.geometry
    }
    fn is_bad(&self, block: u64) -> io::Result<bool> {
        let off = self.offset(block)?;
        // SAFETY: MEMGETBADBLOCK reads one loff_t from the pointer; `off` outlives the call.
        match unsafe { mem_get_bad_block(self.file.as_raw_fd(), &off) } {
            Ok(n) => Ok(n > 0),
            // NOR and other flash without bad blocks: nothing is bad.
            Err(nix::errno::Errno::EOPNOTSUPP) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
    fn mark_bad(&mut self, block: u64) -> io::Result<()> {
        let off = self.offset(block)?;
        // SAFETY: as MEMGETBADBLOCK: one loff_t read from a live pointer.
        unsafe { mem_set_bad_block(self.file.as_raw_fd(), &off) }?;
        Ok(())
    }
    fn erase(&mut self, block: u64) -> io::Result<()> {
        let range = EraseInfoUser64 {
            start: block * u64::from(self.geometry.erase_size),
            length: u64::from(self.geometry.erase_size),
        };
        // SAFETY: MEMERASE64 reads one `erase_info_user64` (repr(C)) from a live pointer.
        unsafe { mem_erase64(self.file.as_raw_fd(), &range) }?;
        Ok(())
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        // mtdchar writes go straight to the flash (no page cache): when this returns, the pages
        // are programmed.
        self.file.write_all_at(buf, offset)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
    fn ecc_stats(&self) -> Option<(u32, u32)> {
        let mut st = MtdEccStats::default();
        // SAFETY: ECCGETSTATS fills one `mtd_ecc_stats` (repr(C)); errors leave it unread.
        unsafe { ecc_get_stats(self.file.as_raw_fd(), &mut st) }.ok()?;
        let _ = (st.badblocks, st.bbtblocks);
        Some((st.corrected, st.failed))
    }
}

/// Replaces `bytes` at `offset` of the MTD device at `path` when it is one (returns `Ok(false)`
/// when it is not, for the caller's ordinary write): raw flash cannot be overwritten in place,
/// so the erase blocks covering the range are read, the new bytes spliced in, the blocks erased
/// (MEMERASE64) and written back whole, then read back and compared. For small areas shared with
/// nothing else, such as a U-Boot environment copy (`fw_setenv` does the same). A bad block in the
/// range is refused: the area's owner (U-Boot) does not skip it either.
pub fn rewrite_in_place(path: &Path, offset: u64, bytes: &[u8]) -> io::Result<bool> {
    let mut dev = match MtdDevice::open(path, Access::Write) {
        Ok(d) => d,
        Err(e) if FlashError::code_of(&e).is_some() => return Ok(false),
        Err(e) => return Err(e),
    };
    let es = u64::from(dev.geometry.erase_size);
    let (first, end) = (offset / es, (offset + bytes.len() as u64).div_ceil(es));
    let start = first * es;
    let mut area = vec![0u8; ((end - first) * es) as usize];
    dev.read_at(&mut area, start)?;
    let at = (offset - start) as usize;
    area[at..at + bytes.len()].copy_from_slice(bytes);
    for b in first..end {
        if dev.is_bad(b)? {
            return Err(io::Error::other(format!(
                "{}: erase block {b} is bad",
                path.display()
            )));
        }
        dev.erase(b)?;
    }
    dev.write_at(&area, start)?;
    let mut back = vec![0u8; area.len()];
    dev.read_at(&mut back, start)?;
    if back != area {
        return Err(FlashError::ReadBack {
            path: path.to_path_buf(),
            offset: start,
        }
        .into());
    }
    Ok(true)
}

/// A raw flash partition, written as described in the module docs.
pub struct MtdTarget {
    path: PathBuf,
    identity: Identity,
    state: Mutex<State>,
}

struct State {
    medium: Box<dyn Medium>,
    /// The good erase blocks, in order: logical block `L` is physical block `good[L]`.
    good: Vec<u64>,
    /// Blocks found bad by erasing or writing in this run (marked bad on the flash).
    grown_bad: u64,
    /// The image length declared by `begin`; writes beyond it are refused.
    declared: Option<u64>,
    /// The next logical offset a write must start at (writes are sequential).
    next: u64,
    /// Data of the logical block being collected (fewer than `erase_size` bytes).
    pending: Vec<u8>,
    ecc_before: Option<(u32, u32)>,
}

impl MtdTarget {
    pub fn open(path: &Path, access: Access) -> io::Result<MtdTarget> {
        let medium = MtdDevice::open(path, access)?;
        let identity = Identity::from_metadata(&medium.file.metadata()?);
        MtdTarget::with_medium(path, identity, Box::new(medium))
    }

    /// A target on any [`Medium`] (RAM in unit tests). Reads the bad-block marks once.
    pub fn with_medium(
        path: &Path,
        identity: Identity,
        medium: Box<dyn Medium>,
    ) -> io::Result<MtdTarget> {
        let mut good = Vec::new();
        for b in 0..medium.geometry().blocks() {
            if !medium.is_bad(b)? {
                good.push(b);
            }
        }
        Ok(MtdTarget {
            path: path.to_path_buf(),
            identity,
            state: Mutex::new(State {
                medium,
                good,
                grown_bad: 0,
                declared: None,
                next: 0,
                pending: Vec::new(),
                ecc_before: None,
            }),
        })
    }

    fn lock(&self) -> io::Result<std::sync::MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| io::Error::other("MTD target state poisoned"))
    }

    fn no_room(&self, st: &State, needed: u64) -> io::Error {
        let g = st.medium.geometry();
        FlashError::NoRoom {
            path: self.path.clone(),
            needed,
            good: st.good.len() as u64,
            bad: g.blocks() - st.good.len() as u64,
            erase_size: g.erase_size,
        }
        .into()
    }

    /// Writes logical block `l` (`data`: at most one erase block) page-aligned, reads it back and
    /// compares. A block that fails to program (EIO) is marked bad and the data moves on to the
    /// next good block, as nandwrite does; the fit is checked again.
    fn program(&self, st: &mut State, l: u64, data: &[u8]) -> io::Result<()> {
        let g = st.medium.geometry();
        let page = g.page_size as usize;
        let mut buf = data.to_vec();
        buf.resize(data.len().div_ceil(page) * page, 0xFF);
        let needed = st.declared.unwrap_or(0).div_ceil(u64::from(g.erase_size));
        loop {
            let Some(&phys) = st.good.get(l as usize) else {
                return Err(self.no_room(st, needed));
            };
            let at = phys * u64::from(g.erase_size);
            match st.medium.write_at(&buf, at) {
                Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                    // The block went bad: erase what may have been programmed, mark it, and use
                    // the next good one. Its mark keeps every later writer off it.
                    let _ = st.medium.erase(phys);
                    st.medium.mark_bad(phys)?;
                    st.good.remove(l as usize);
                    st.grown_bad += 1;
                    if (st.good.len() as u64) < needed {
                        return Err(self.no_room(st, needed));
                    }
                    continue;
                }
                r => r?,
            }
            let mut back = vec![0u8; buf.len()];
            st.medium.read_at(&mut back, at)?;
            if back != buf {
                let first = back.iter().zip(&buf).position(|(a, b)| a != b).unwrap_or(0);
                return Err(FlashError::ReadBack {
                    path: self.path.clone(),
                    offset: l * u64::from(g.erase_size) + first as u64,
                }
                .into());
            }
            return Ok(());
        }
    }
}

impl FlashTarget for MtdTarget {
    fn size(&self) -> io::Result<u64> {
        // What the partition holds: its good blocks (the logical size reads and copies use).
        let st = self.lock()?;
        Ok(st.good.len() as u64 * u64::from(st.medium.geometry().erase_size))
    }
    fn fits(&self, len: u64) -> io::Result<()> {
        // Larger than the whole partition is the generic 9024; fitting the partition but not
        // its good blocks is 9062.
        let st = self.lock()?;
        let g = st.medium.geometry();
        let needed = len.div_ceil(u64::from(g.erase_size));
        if len <= g.size && needed > st.good.len() as u64 {
            return Err(self.no_room(&st, needed));
        }
        Ok(())
    }
    fn identity(&self) -> io::Result<Identity> {
        Ok(self.identity)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let st = self.lock()?;
        let es = u64::from(st.medium.geometry().erase_size);
        let (mut done, mut off) = (0usize, offset);
        while done < buf.len() {
            let (l, within) = (off / es, off % es);
            let n = ((es - within) as usize).min(buf.len() - done);
            let phys = *st.good.get(l as usize).ok_or_else(|| {
                io::Error::new(io::ErrorKind::UnexpectedEof, "beyond the good blocks")
            })?;
            st.medium
                .read_at(&mut buf[done..done + n], phys * es + within)?;
            done += n;
            off += n as u64;
        }
        Ok(())
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut st = self.lock()?;
        let Some(declared) = st.declared else {
            return Err(io::Error::other("MTD write before begin"));
        };
        if offset != st.next || offset + buf.len() as u64 > declared {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "raw flash is written in order: write at {offset} (+{}) but next is {} of {declared}",
                    buf.len(),
                    st.next
                ),
            ));
        }
        let es = st.medium.geometry().erase_size as usize;
        let mut rest = buf;
        while !rest.is_empty() {
            let take = (es - st.pending.len()).min(rest.len());
            st.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            st.next += take as u64;
            if st.pending.len() == es || st.next == declared {
                let l = (st.next - 1) / es as u64;
                let data = std::mem::take(&mut st.pending);
                self.program(&mut st, l, &data)?;
            }
        }
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        // Every programmed block is on the flash when `write_at` returns (mtdchar has no cache);
        // a block still being collected is programmed when it is full or the image ends.
        Ok(())
    }
    fn keeps_earlier_writes(&self) -> bool {
        // `begin` erases the partition: nothing of an earlier attempt survives it.
        false
    }
    fn begin(&self, len: u64) -> io::Result<()> {
        let mut st = self.lock()?;
        let g = st.medium.geometry();
        let needed = len.div_ceil(u64::from(g.erase_size));
        if needed > st.good.len() as u64 {
            return Err(self.no_room(&st, needed));
        }
        st.ecc_before = st.medium.ecc_stats();
        let mut i = 0;
        while i < st.good.len() {
            let b = st.good[i];
            match st.medium.erase(b) {
                Ok(()) => i += 1,
                Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                    st.medium.mark_bad(b)?;
                    st.good.remove(i);
                    st.grown_bad += 1;
                }
                Err(e) => return Err(e),
            }
        }
        if needed > st.good.len() as u64 {
            return Err(self.no_room(&st, needed));
        }
        st.declared = Some(len);
        st.next = 0;
        st.pending.clear();
        Ok(())
    }
    fn finish(&self) -> io::Result<Option<String>> {
        let st = self.lock()?;
        let g = st.medium.geometry();
        if let Some(declared) = st.declared {
            if st.next != declared {
                return Err(io::Error::other(format!(
                    "{} of {declared} bytes written",
                    st.next
                )));
            }
        }
        let bad = g.blocks() - st.good.len() as u64;
        let ecc = match (st.ecc_before, st.medium.ecc_stats()) {
            (Some((c0, f0)), Some((c1, f1))) => format!(
                "; ECC: {} corrected, {} failed read(s) while writing and reading back",
                c1.wrapping_sub(c0),
                f1.wrapping_sub(f0)
            ),
            _ => String::new(),
        };
        Ok(Some(format!(
            "{}: {} bad erase block(s) skipped ({} found bad now), every block read back equal{ecc}",
            self.path.display(),
            bad,
            st.grown_bad
        )))
    }
}

#[cfg(test)]
mod tests;
