//! Small file helpers shared by the stages.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

/// Why [`open_untrusted`] refused a path: it names something other than a regular file or a
/// block device. Carried inside the `io::Error` so a caller can give it a code of its own
/// (`Error::PackageNotAFile` for packages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAFile {
    /// What the path is instead: "FIFO", "socket", "directory", "character device".
    pub kind: &'static str,
}

impl std::fmt::Display for NotAFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "not a regular file or block device (it is a {})",
            self.kind
        )
    }
}

impl std::error::Error for NotAFile {}

impl NotAFile {
    /// The `NotAFile` inside an error returned by [`open_untrusted`] or [`read_bounded`].
    pub fn of(e: &io::Error) -> Option<NotAFile> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<NotAFile>())
            .copied()
    }
}

/// Refuses anything but a regular file or a block device.
fn require_file_or_block(ft: fs::FileType) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let kind = if ft.is_file() || ft.is_block_device() {
        return Ok(());
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_char_device() {
        "character device"
    } else {
        "special file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        NotAFile { kind },
    ))
}

/// Opens, for reading, a path that comes from outside: a package, a key, a signature, the OTA
/// command file, a profile or a fact file (sysfs and /proc attributes are regular files).
/// Never blocks, and accepts only a regular file or a block device:
/// - a FIFO opened for reading blocks in open(2) until a writer appears, which on an unattended
///   device is never, so the updater (or the recovery init) would hang for good;
/// - opening a character device can have effects of its own (a watchdog starts, a tape
///   rewinds), so the type is checked by path before the open, and again on the open file (the
///   path may have been swapped in between).
pub fn open_untrusted(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    require_file_or_block(fs::metadata(path)?.file_type())?;
    // O_NONBLOCK: open(2) of a FIFO returns at once instead of waiting for a writer.
    // O_NOCTTY: a terminal swapped in must not become our controlling terminal.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    require_file_or_block(file.metadata()?.file_type())?;
    // Back to blocking reads: O_NONBLOCK means nothing for a regular file, but a block device's
    // reads are normal blocking reads and the readers expect no EAGAIN.
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(&file, FcntlArg::F_GETFL)?);
    fcntl(&file, FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK))?;
    Ok(file)
}

/// Reads a whole file, failing instead of allocating when it is larger than `max`. The path is
/// opened with [`open_untrusted`]: a FIFO or device node is refused instead of blocking.
pub fn read_bounded(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let file = open_untrusted(path)?;
    let mut buf = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(buf)
}

/// Replaces `path` atomically and durably: write a temporary file beside it, fsync it, rename it
/// over the target, fsync the directory. After a power cut the file holds either the old or the
/// new content, never a mix.
pub fn atomic_write(path: &Path, data: &[u8]) -> io::Result<()> {
    let (dir, tmp) = temp_path(path)?;
    write_synced(&tmp, data)?;
    fs::rename(&tmp, path)?;
    sync_dir(dir)
}

/// Checks that [`atomic_write`] of `data` to `path` can succeed, changing nothing: the same
/// temporary file is written with the same bytes and fsynced, then removed, so a full or
/// read-only filesystem fails here with the error the real write would get. A directory in
/// the target's place (which the rename could not replace) is refused too.
pub fn probe_atomic_write(path: &Path, data: &[u8]) -> io::Result<()> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "a directory is in the file's place",
        ));
    }
    let (_, tmp) = temp_path(path)?;
    let written = write_synced(&tmp, data);
    // The temporary name is ours: remove it whether or not the write worked.
    let removed = match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    written.and(removed)
}

/// The directory of `path` and the temporary file [`atomic_write`] uses beside it.
fn temp_path(path: &Path) -> io::Result<(&Path, std::path::PathBuf)> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".tmp");
    Ok((dir, dir.join(tmp_name)))
}

fn write_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// fsyncs a directory so a rename or create in it survives a power cut.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Human-readable byte count (MiB with one decimal, or bytes when small).
pub fn human_bytes(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if f >= K * K * K {
        format!("{:.2} GiB", f / (K * K * K))
    } else if f >= K * K {
        format!("{:.1} MiB", f / (K * K))
    } else if f >= K {
        format!("{:.1} KiB", f / K)
    } else {
        format!("{n} B")
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Formats Unix seconds as an RFC 3339 UTC timestamp (civil-from-days, Howard Hinnant's algorithm).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_219_200), "2026-11-21T00:00:00Z");
    }

    #[test]
    fn read_bounded_refuses_large_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, vec![1u8; 100]).unwrap();
        assert_eq!(read_bounded(&p, 100).unwrap().len(), 100);
        assert!(read_bounded(&p, 99).is_err());
    }

    /// Runs `f` on a thread and fails if it has not returned within a generous bound: a hang
    /// detector, not a timing assertion.
    fn without_hanging<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(20))
            .expect("the open blocked")
    }

    #[test]
    fn open_untrusted_refuses_a_fifo_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = without_hanging(move || read_bounded(&p, 100).unwrap_err());
        assert_eq!(NotAFile::of(&e), Some(NotAFile { kind: "FIFO" }), "{e}");
        assert!(e.to_string().contains("not a regular file or block device"));
    }

    #[test]
    fn open_untrusted_refuses_directories_and_char_devices() {
        let dir = tempfile::tempdir().unwrap();
        let e = open_untrusted(dir.path()).unwrap_err();
        assert_eq!(NotAFile::of(&e), Some(NotAFile { kind: "directory" }));
        let e = open_untrusted(Path::new("/dev/null")).unwrap_err();
        assert_eq!(
            NotAFile::of(&e),
            Some(NotAFile {
                kind: "character device"
            })
        );
        let missing = open_untrusted(&dir.path().join("missing")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        assert_eq!(NotAFile::of(&missing), None);
    }

    #[test]
    fn open_untrusted_reads_regular_files_blocking() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"hello").unwrap();
        let mut f = open_untrusted(&p).unwrap();
        // SAFETY: F_GETFL only reads the open file's status flags.
        let flags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0, "O_NONBLOCK is cleared again");
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
    }

    #[test]
    fn probe_changes_nothing_and_reports_what_would_fail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("index");
        probe_atomic_write(&p, b"3\n").unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left");
        // ENOSPC: the temporary file is a link to /dev/full.
        std::os::unix::fs::symlink("/dev/full", dir.path().join(".index.tmp")).unwrap();
        let e = probe_atomic_write(&p, b"3\n").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        fs::create_dir(&p).unwrap();
        assert!(
            probe_atomic_write(&p, b"3\n").is_err(),
            "a directory in its place"
        );
    }

    #[test]
    fn atomic_write_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
