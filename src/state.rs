//! What the updater keeps in the state directory: the rollback index, the installed version,
//! `last_install.json` and `last_log` (rotated, as Android recovery keeps its logs).
//! Every file is replaced atomically (see [`crate::util::atomic_write`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::util::{atomic_write, read_bounded};
use crate::Error;

pub const LAST_INSTALL: &str = "last_install.json";
pub const LAST_LOG: &str = "last_log";
pub const VERSION_FILE: &str = "installed_version";
/// How many older logs are kept as last_log.1 .. last_log.N.
const LOG_GENERATIONS: usize = 5;

fn state_err(path: &Path, source: std::io::Error) -> Error {
    Error::StateWrite {
        path: path.to_path_buf(),
        source,
    }
}

/// The stored anti-rollback index: a decimal number; a missing file means 0 (a new device).
pub fn read_rollback_index(path: &Path) -> Result<u64, Error> {
    match read_bounded(path, 64) {
        Ok(bytes) => {
            String::from_utf8_lossy(&bytes)
                .trim()
                .parse()
                .map_err(|_| Error::DeviceFact {
                    what: "rollback index".into(),
                    reason: format!("{} does not hold a number", path.display()),
                })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::DeviceFact {
            what: "rollback index".into(),
            reason: format!("{}: {e}", path.display()),
        }),
    }
}

/// Raises the stored index; never lowers it.
pub fn store_rollback_index(path: &Path, index: u64) -> Result<(), Error> {
    let current = read_rollback_index(path).unwrap_or(0);
    if index <= current && path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| state_err(dir, e))?;
    }
    atomic_write(path, format!("{index}\n").as_bytes()).map_err(|e| state_err(path, e))
}

/// Checks, before anything is written, that [`store_rollback_index`] will be able to save
/// `index` (nothing to save when it is not higher than the stored one): the directory exists or
/// can be made, and the file can be replaced (see [`crate::util::probe_atomic_write`]). Fails
/// with [`Error::StateWrite`] (9055).
pub fn check_rollback_index_storable(path: &Path, index: u64) -> Result<(), Error> {
    let current = read_rollback_index(path).unwrap_or(0);
    if index <= current && path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| state_err(dir, e))?;
    }
    crate::util::probe_atomic_write(path, format!("{index}\n").as_bytes())
        .map_err(|e| state_err(path, e))
}

pub fn installed_version(state_dir: &Path) -> Option<String> {
    let bytes = read_bounded(&state_dir.join(VERSION_FILE), 256).ok()?;
    let v = String::from_utf8_lossy(&bytes).trim().to_string();
    (!v.is_empty()).then_some(v)
}

pub fn store_installed_version(state_dir: &Path, version: &str) -> Result<(), Error> {
    let path = state_dir.join(VERSION_FILE);
    atomic_write(&path, format!("{version}\n").as_bytes()).map_err(|e| state_err(&path, e))
}

/// Duration of one phase.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Timing {
    pub phase: String,
    pub ms: u64,
}

/// The outcome of an install, as saved in last_install.json and printed by `--json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InstallRecord {
    pub package: String,
    #[serde(default)]
    pub manifest_sha256: Option<String>,
    #[serde(default)]
    pub from_version: Option<String>,
    #[serde(default)]
    pub to_version: Option<String>,
    #[serde(default)]
    pub target_slot: Option<String>,
    /// "success" or "failure".
    pub result: String,
    /// 0 on success, else the error code.
    pub code: u16,
    pub name: String,
    pub message: String,
    pub fix: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub bytes_written: u64,
    #[serde(default)]
    pub timings: Vec<Timing>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl InstallRecord {
    pub fn success(&self) -> bool {
        self.code == 0
    }
    pub fn exit_status(&self) -> u8 {
        u8::try_from(self.code.saturating_sub(9000)).unwrap_or(u8::MAX)
    }
}

pub fn write_last_install(state_dir: &Path, record: &InstallRecord) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(state_dir).map_err(|e| state_err(state_dir, e))?;
    let path = state_dir.join(LAST_INSTALL);
    let mut json = serde_json::to_vec_pretty(record).map_err(|e| Error::Internal {
        reason: e.to_string(),
    })?;
    json.push(b'\n');
    atomic_write(&path, &json).map_err(|e| state_err(&path, e))?;
    Ok(path)
}

pub fn read_last_install(state_dir: &Path) -> Option<InstallRecord> {
    let bytes = read_bounded(&state_dir.join(LAST_INSTALL), 1 << 20).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Saves the log as last_log, shifting older ones to last_log.1 .. last_log.5.
pub fn write_last_log(state_dir: &Path, text: &str) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(state_dir).map_err(|e| state_err(state_dir, e))?;
    let name = |i: usize| {
        if i == 0 {
            state_dir.join(LAST_LOG)
        } else {
            state_dir.join(format!("{LAST_LOG}.{i}"))
        }
    };
    for i in (0..LOG_GENERATIONS).rev() {
        let from = name(i);
        if from.exists() {
            let _ = std::fs::rename(&from, name(i + 1));
        }
    }
    let path = name(0);
    atomic_write(&path, text.as_bytes()).map_err(|e| state_err(&path, e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_index_never_goes_down() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ri");
        assert_eq!(read_rollback_index(&p).unwrap(), 0);
        store_rollback_index(&p, 5).unwrap();
        store_rollback_index(&p, 3).unwrap();
        assert_eq!(read_rollback_index(&p).unwrap(), 5);
        std::fs::write(&p, "garbage").unwrap();
        assert!(read_rollback_index(&p).is_err());
    }

    #[test]
    fn logs_rotate() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..8 {
            write_last_log(dir.path(), &format!("log {i}")).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(dir.path().join("last_log")).unwrap(),
            "log 7"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("last_log.1")).unwrap(),
            "log 6"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("last_log.5")).unwrap(),
            "log 2"
        );
        assert!(!dir.path().join("last_log.6").exists());
    }
}
