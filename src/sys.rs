//! Thin wrappers over the Linux calls the device code needs. Everything here is a why-commented
//! ioctl or syscall; the rest of the crate stays safe Rust.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

// BLKGETSIZE64 = _IOR(0x12, 114, size_t): the device's size in bytes. A block device's
// metadata length is 0, so this is the only way to learn how large a partition is.
nix::ioctl_read!(blkgetsize64, 0x12, 114, u64);
// BLKFLSBUF = _IO(0x12, 97): after fsync, drop the block device's buffer cache so a later read
// (our read-back, or the bootloader's) sees the flash, not stale cached pages.
nix::ioctl_none!(blkflsbuf, 0x12, 97);

/// Size of a block device in bytes.
pub fn block_device_size(file: &File) -> io::Result<u64> {
    let mut size: u64 = 0;
    // SAFETY: the fd is open for the duration of the call and `size` is a valid, writable u64,
    // which is exactly what BLKGETSIZE64 writes.
    unsafe { blkgetsize64(file.as_raw_fd(), &mut size) }.map_err(io::Error::from)?;
    Ok(size)
}

/// Flushes a block device's buffer cache; a no-op for regular files.
pub fn flush_block_buffers(file: &File) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    if !file.metadata()?.file_type().is_block_device() {
        return Ok(());
    }
    // SAFETY: BLKFLSBUF takes no argument; the fd stays open for the call.
    unsafe { blkflsbuf(file.as_raw_fd()) }.map_err(io::Error::from)?;
    Ok(())
}

/// Bytes available to an unprivileged writer on the filesystem holding `path`. We run as root
/// in recovery, but the reserved blocks are for the system to boot with, so we do not count them.
pub fn free_space(path: &Path) -> io::Result<u64> {
    let st = nix::sys::statvfs::statvfs(path).map_err(io::Error::from)?;
    #[allow(clippy::unnecessary_cast)] // the field types differ between libc targets
    Ok((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}

// BLKDISCARD = _IO(0x12, 119), but it takes a pointer to `u64[2]` {start, length} in bytes:
// the flash translation layer may release those blocks (a wipe that also helps wear levelling).
nix::ioctl_write_ptr_bad!(blkdiscard, nix::request_code_none!(0x12, 119), [u64; 2]);

/// Frees `len` bytes at `start` of a regular file (a file standing in for a partition): the
/// range reads as zeros afterwards and the file keeps its size.
pub fn punch_hole(file: &File, start: u64, len: u64) -> io::Result<()> {
    let (Ok(off), Ok(n)) = (i64::try_from(start), i64::try_from(len)) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    // SAFETY: fallocate only takes integers and a descriptor open for writing for the call.
    // PUNCH_HOLE must be paired with KEEP_SIZE; filesystems without it answer EOPNOTSUPP.
    let rc = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            off,
            n,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Discards `len` bytes at `start` of a block device.
pub fn discard(file: &File, start: u64, len: u64) -> io::Result<()> {
    let range = [start, len];
    // SAFETY: the fd is open for the call; `range` is a valid [u64; 2] that BLKDISCARD only reads.
    unsafe { blkdiscard(file.as_raw_fd(), &range) }.map_err(io::Error::from)?;
    Ok(())
}
