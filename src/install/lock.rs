//! The install lock: one install (or resume) at a time per device.
//!
//! The lock is an exclusive `flock` on the state directory itself (a directory descriptor
//! opened read-only), held from the start of [`super::apply`] until its record is saved. Two
//! runs would otherwise race on the journal's temporary file and on the partitions.
//!
//! Why the directory and not a lock file in it: locking needs no write (a read-only or full
//! state partition still gives a clear answer instead of a confusing 9055), leaves no stale file
//! behind, and `flock` locks are released by the kernel when the holder exits for any reason,
//! SIGKILL and power loss included, so a crashed install never blocks the next one.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::Error;

/// Held while an install runs; dropping it (closing the descriptor) releases the lock.
#[derive(Debug)]
pub struct InstallLock {
    _dir: File,
    pub path: PathBuf,
}

/// Takes the lock without waiting: a second concurrent install fails at once with
/// [`Error::InstallInProgress`] (9059). Creates the state directory if it is missing.
pub fn acquire(state_dir: &Path) -> Result<InstallLock, Error> {
    let err = |source| Error::StateWrite {
        path: state_dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(err)?;
    // std opens with O_CLOEXEC, so a child (e.g. a wipe tool) never inherits the lock.
    let dir = File::open(state_dir).map_err(err)?;
    // SAFETY: flock only takes an open descriptor we own and integer flags. LOCK_NB: never
    // wait for another install (it may take many minutes); report it instead.
    let rc = unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Error::InstallInProgress {
                path: state_dir.to_path_buf(),
            }
        } else {
            err(e)
        });
    }
    Ok(InstallLock {
        _dir: dir,
        path: state_dir.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Code, HasCode};

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let first = acquire(&state).unwrap();
        let second = acquire(&state).unwrap_err();
        assert_eq!(second.code(), Code::InstallInProgress);
        drop(first);
        acquire(&state).unwrap();
    }
}
