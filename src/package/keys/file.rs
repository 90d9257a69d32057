//! Key files: bounded reading, and writing a new key pair without ever
//! overwriting or widening the permissions of a file.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use spki::der::zeroize::Zeroizing;

use super::{KeyError, PrivateKey, MAX_KEY_FILE_LEN};

/// Reads at most [`MAX_KEY_FILE_LEN`] bytes of `path`; longer files are an
/// error rather than silently truncated. The buffer is wiped when dropped
/// since it may hold a private key.
pub(super) fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let io_err = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    // Not File::open: a key path naming a FIFO would block forever (see open_untrusted).
    let file = crate::util::open_untrusted(path).map_err(io_err)?;
    let mut buf = Zeroizing::new(Vec::new());
    file.take(MAX_KEY_FILE_LEN + 1)
        .read_to_end(&mut buf)
        .map_err(io_err)?;
    if buf.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(KeyError::TooLarge {
            path: path.to_owned(),
            limit: MAX_KEY_FILE_LEN,
        });
    }
    Ok(buf)
}

/// Creates `path` (which must not exist) with `mode` and writes `contents`.
/// The mode is given to open(2), so the file never exists with wider
/// permissions (the umask can only narrow it).
fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyError> {
    let io_err = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_owned(),
                }
            } else {
                io_err(e)
            }
        })?;
    let written = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io_err);
    if written.is_err() {
        // Don't leave a half-written key file behind; we created it, so
        // removing it cannot clobber anything of the user's.
        let _ = std::fs::remove_file(path);
    }
    written
}

fn with_suffix(base: &Path, suffix: &str) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes `BASE.key` (PKCS#8 PEM, created with mode 0600) and `BASE.pub`
/// (SPKI PEM, mode 0644 before umask). The suffixes are appended, so
/// `keys/release` gives `keys/release.key` and `keys/release.pub`.
///
/// Refuses to overwrite: if either file already exists nothing is written and
/// [`KeyError::Exists`] is returned. If writing the `.pub` file fails, the
/// `.key` file just created is removed again.
pub fn write_keypair(key: &PrivateKey, base: &Path) -> Result<(PathBuf, PathBuf), KeyError> {
    if base.file_name().is_none() || base.as_os_str().as_bytes().ends_with(b"/") {
        return Err(KeyError::BadPath {
            path: base.to_owned(),
            reason: "needs a file name to which .key and .pub are appended",
        });
    }
    let key_path = with_suffix(base, ".key");
    let pub_path = with_suffix(base, ".pub");
    // Check both up front so an existing .pub doesn't leave a fresh .key
    // behind. symlink_metadata also catches dangling symlinks, which
    // create_new would refuse anyway.
    for path in [&key_path, &pub_path] {
        if path.symlink_metadata().is_ok() {
            return Err(KeyError::Exists { path: path.clone() });
        }
    }
    let key_pem = Zeroizing::new(key.to_pkcs8_pem());
    write_new_file(&key_path, key_pem.as_bytes(), 0o600)?;
    if let Err(e) = write_new_file(&pub_path, key.public_key().to_pem().as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&key_path);
        return Err(e);
    }
    Ok((key_path, pub_path))
}
