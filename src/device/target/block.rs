//! The `block` flash type: a block device node, or a regular file standing in for one (tests,
//! the demo). Random access with `pread`/`pwrite`; durable through `fsync` plus `BLKFLSBUF`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{Access, FlashTarget, Identity};

/// A partition backed by a regular file or a block device node.
pub struct BlockTarget {
    file: File,
    path: PathBuf,
}

/// How far behind the newest write [`BlockTarget`] waits for data to reach the medium.
pub const WRITE_BEHIND: u64 = 16 << 20;

impl BlockTarget {
    pub fn open(path: &Path, access: Access) -> io::Result<BlockTarget> {
        let file = OpenOptions::new()
            .read(true)
            .write(access == Access::Write)
            .open(path)?;
        Ok(BlockTarget {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Write-behind, so flushing overlaps hashing instead of following it: start writeback of
    /// the range just written (asynchronous), then wait for the range written `WRITE_BEHIND`
    /// earlier to reach the medium and drop it from the page cache. Without this the kernel
    /// keeps up to `dirty_ratio` of RAM dirty and the final fsync writes it all while nothing
    /// else runs; with it, dirty memory stays under `WRITE_BEHIND` (little RAM in a recovery)
    /// and the closing `flush()` has almost nothing left to do. Buffered I/O is kept (not
    /// O_DIRECT): it needs no alignment of the last, partial chunk and costs one memcpy that
    /// overlaps the hashing.
    fn write_behind(&self, offset: u64, len: u64) {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.file);
        let (Ok(off), Ok(n)) = (i64::try_from(offset), i64::try_from(len)) else {
            return;
        };
        // SAFETY: sync_file_range and posix_fadvise only take integers and an open descriptor
        // we own. Both are hints here: where unsupported (e.g. some filesystems) they fail
        // harmlessly and `flush()` (fsync) still makes everything durable, so errors are ignored.
        unsafe {
            libc::sync_file_range(fd, off, n, libc::SYNC_FILE_RANGE_WRITE);
        }
        let Some(old) = offset.checked_sub(WRITE_BEHIND) else {
            return;
        };
        let Ok(old) = i64::try_from(old) else { return };
        // SAFETY: as above.
        unsafe {
            libc::sync_file_range(
                fd,
                old,
                n,
                libc::SYNC_FILE_RANGE_WAIT_BEFORE
                    | libc::SYNC_FILE_RANGE_WRITE
                    | libc::SYNC_FILE_RANGE_WAIT_AFTER,
            );
            libc::posix_fadvise(fd, old, n, libc::POSIX_FADV_DONTNEED);
        }
    }
}

impl FlashTarget for BlockTarget {
    fn size(&self) -> io::Result<u64> {
        let meta = self.file.metadata()?;
        use std::os::unix::fs::FileTypeExt;
        if meta.file_type().is_block_device() {
            crate::sys::block_device_size(&self.file)
        } else {
            Ok(meta.len())
        }
    }
    fn identity(&self) -> io::Result<Identity> {
        // fstat of the open descriptor: the node or file the path resolved to when opened.
        Ok(Identity::from_metadata(&self.file.metadata()?))
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FileExt::read_exact_at(&self.file, buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        FileExt::write_all_at(&self.file, buf, offset)?;
        self.write_behind(offset, buf.len() as u64);
        Ok(())
    }
    fn discard(&self, offset: u64, len: u64) -> io::Result<bool> {
        use std::os::unix::fs::FileTypeExt;
        let done = if self.file.metadata()?.file_type().is_block_device() {
            crate::sys::discard(&self.file, offset, len)
        } else {
            crate::sys::punch_hole(&self.file, offset, len)
        };
        match done {
            Ok(()) => Ok(true),
            // No discard on this device or filesystem: the range keeps what it held.
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(false),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!(
                    "{}: discard of {len} bytes at {offset}: {e}",
                    self.path.display()
                ),
            )),
        }
    }
    fn flush(&self) -> io::Result<()> {
        self.file.sync_all()?;
        crate::sys::flush_block_buffers(&self.file).map_err(|e| {
            io::Error::new(e.kind(), format!("{}: BLKFLSBUF: {e}", self.path.display()))
        })
    }
}
