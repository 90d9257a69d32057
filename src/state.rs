//! What the updater keeps in the state directory: the rollback index, the installed version,
//! `last_install.json` and `last_log` (rotated, as Android recovery keeps its logs).
//! Every file is replaced atomically (see [`crate::util::atomic_write`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Code, HasCode};
use crate::util::{atomic_write, read_bounded};
use crate::Error;

pub const LAST_INSTALL: &str = "last_install.json";
pub const LAST_LOG: &str = "last_log";
pub const VERSION_FILE: &str = "installed_version";
/// The version installed in each A/B slot: `{"a": "1.0", "b": "1.1"}`.
pub const SLOT_VERSIONS: &str = "slot_versions.json";
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

/// The version recorded in each slot when it was installed (slot_versions.json); empty when
/// none was recorded or the file cannot be read.
pub fn slot_versions(state_dir: &Path) -> std::collections::BTreeMap<String, String> {
    read_bounded(&state_dir.join(SLOT_VERSIONS), 64 * 1024)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Records `version` as the content of `slot` (after an A/B install wrote it).
pub fn store_slot_version(state_dir: &Path, slot: &str, version: &str) -> Result<(), Error> {
    let mut all = slot_versions(state_dir);
    all.insert(slot.to_string(), version.to_string());
    let path = state_dir.join(SLOT_VERSIONS);
    let mut json = serde_json::to_vec_pretty(&all).map_err(|e| Error::Internal {
        reason: e.to_string(),
    })?;
    json.push(b'\n');
    atomic_write(&path, &json).map_err(|e| state_err(&path, e))
}

/// Where an install stands in the A/B life (docs/SLOTS.md), as last_install.json spells it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InstallState {
    /// Switched to the new slot, which is not confirmed yet (not booted, or booted and not
    /// marked good): the bootloader still counts its tries.
    Pending,
    /// Installed for good: in place, or the new slot booted and was marked good.
    Confirmed,
    /// The new slot did not start and the bootloader returned to the previous one (9121).
    FellBack,
    /// The install failed (its code says why).
    Failed,
}

/// Duration of one phase.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Timing {
    pub phase: String,
    pub ms: u64,
}

/// How an install ended, as last_install.json and `--json` spell it: "success" or "failure".
/// A failure after the slot switch (9058 ROLLBACK_INDEX_NOT_SAVED, 9115
/// UPDATE_INSTALLED_WIPE_FAILED) is a failure too: its code says what was installed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

/// The outcome of an install, as saved in last_install.json and printed by `--json`. Built only
/// by its constructors ([`InstallRecord::finished`], [`InstallRecord::failed_before_start`],
/// [`InstallRecord::failed_after_install`], [`InstallRecord::internal`]), so the outcome, the
/// code and its name and fix always agree.
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
    pub result: Outcome,
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
    /// Where the install stands now; records of older versions have none and are read as
    /// confirmed (code 0) or failed.
    #[serde(default)]
    pub state: Option<InstallState>,
    /// When `state` last changed (RFC 3339).
    #[serde(default)]
    pub state_changed_at: Option<String>,
}

impl InstallRecord {
    /// An install of `package` that ended now: a success when `error` is `None`, else the
    /// failure with its code. The caller fills in what it knows of the plan, the timings and the
    /// bytes written (`InstallRecord { to_version, .., ..InstallRecord::finished(..) }`).
    pub fn finished(package: String, error: Option<&Error>) -> InstallRecord {
        let now = crate::util::rfc3339(crate::util::unix_now());
        let record = InstallRecord {
            package,
            manifest_sha256: None,
            from_version: None,
            to_version: None,
            target_slot: None,
            result: Outcome::Success,
            code: 0,
            name: "SUCCESS".into(),
            message: "installed".into(),
            fix: String::new(),
            started_at: now.clone(),
            finished_at: now.clone(),
            duration_ms: 0,
            bytes_written: 0,
            timings: Vec::new(),
            warnings: Vec::new(),
            state: Some(InstallState::Confirmed),
            state_changed_at: Some(now),
        };
        match error {
            Some(e) => record.failed(e.code(), e.to_string()),
            None => record,
        }
    }

    /// No install could start (another one runs, no package was found, the OTA command was
    /// invalid or asked for a wipe the profile cannot do): nothing was written and the device
    /// still runs `from_version`.
    pub fn failed_before_start(
        package: &str,
        error: &Error,
        from_version: Option<String>,
    ) -> InstallRecord {
        InstallRecord {
            from_version,
            ..InstallRecord::finished(package.to_string(), Some(error))
        }
    }

    /// The install recorded in `installed` succeeded, and what came after it (the wipe an OTA
    /// command asked for) failed with `error`: the record keeps what was installed, and the
    /// failure becomes its outcome.
    pub fn failed_after_install(installed: &InstallRecord, error: &Error) -> InstallRecord {
        InstallRecord {
            finished_at: crate::util::rfc3339(crate::util::unix_now()),
            duration_ms: 0,
            timings: Vec::new(),
            ..installed.clone()
        }
        .failed(error.code(), error.to_string())
    }

    /// The install stopped without a result of its own (its thread panicked).
    pub fn internal(reason: &str) -> InstallRecord {
        InstallRecord::finished(String::new(), None).failed(Code::Internal, reason.to_string())
    }

    /// The same record with `code` as its outcome.
    fn failed(self, code: Code, message: String) -> InstallRecord {
        let info = code.info();
        InstallRecord {
            result: Outcome::Failure,
            code: info.number,
            name: info.name.into(),
            message,
            fix: info.fix.into(),
            state: Some(InstallState::Failed),
            ..self
        }
    }

    /// The record's state, for records written before states existed too.
    pub fn state(&self) -> InstallState {
        self.state.unwrap_or(if self.code == 0 {
            InstallState::Confirmed
        } else {
            InstallState::Failed
        })
    }

    /// The same record moved to `state` now; with `error`, its code becomes the outcome
    /// (a fallback is a failure of the install, with its own code).
    pub fn moved_to(&self, state: InstallState, error: Option<&Error>) -> InstallRecord {
        let moved = InstallRecord {
            state: Some(state),
            state_changed_at: Some(crate::util::rfc3339(crate::util::unix_now())),
            ..self.clone()
        };
        match error {
            Some(e) => InstallRecord {
                state: Some(state),
                ..moved.failed(e.code(), e.to_string())
            },
            None => moved,
        }
    }

    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// The failure's code; `None` on success.
    pub fn failure_code(&self) -> Option<Code> {
        failure_code(self.code)
    }

    /// The process exit status this record ends a run with (see [`exit_status`]).
    pub fn exit_status(&self) -> u8 {
        exit_status(self.code)
    }
}

/// The code a run ended with: `None` for 0 (success); a number outside the table (a record
/// written by another version) counts as INTERNAL.
pub fn failure_code(code: u16) -> Option<Code> {
    (code != 0).then(|| Code::from_number(code).unwrap_or(Code::Internal))
}

/// The exit status of a run that ended with `code`: 0 on success, else the code's status,
/// `code - 9000` ([`Code::exit_status`]). Every front end's exit status comes from here.
pub fn exit_status(code: u16) -> u8 {
    failure_code(code).map_or(0, Code::exit_status)
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
    let mut record: InstallRecord = serde_json::from_slice(&bytes).ok()?;
    record.state = Some(record.state());
    Some(record)
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

    fn json(r: &InstallRecord) -> serde_json::Value {
        serde_json::to_value(r).unwrap()
    }

    /// last_install.json and `--json` keep their strings: "success" and "failure", also for the
    /// failures after the slot switch (9058, 9115), and a saved record reads back.
    #[test]
    fn outcomes_keep_their_json_strings() {
        let ok = InstallRecord::finished("u.zip".into(), None);
        assert_eq!(json(&ok)["result"], "success");
        assert_eq!((json(&ok)["code"].clone(), ok.exit_status()), (0.into(), 0));
        assert_eq!(json(&ok)["name"], "SUCCESS");
        let not_saved = Error::StateWrite {
            path: "/state/rollback_index".into(),
            source: std::io::Error::other("read-only"),
        };
        let after_switch = Error::InstalledWipeFailed {
            version: "2.0".into(),
            slot: None,
            source: Box::new(not_saved),
        };
        let r = InstallRecord::failed_after_install(&ok, &after_switch);
        assert_eq!(json(&r)["result"], "failure");
        assert_eq!(json(&r)["code"], 9115);
        assert_eq!(json(&r)["name"], "UPDATE_INSTALLED_WIPE_FAILED");
        assert_eq!(r.exit_status(), 115);
        let dir = tempfile::tempdir().unwrap();
        write_last_install(dir.path(), &r).unwrap();
        assert_eq!(read_last_install(dir.path()), Some(r));
        let text = r#"{"package":"p","result":"failure","code":9058,"name":"ROLLBACK_INDEX_NOT_SAVED",
            "message":"m","fix":"f","started_at":"","finished_at":"","duration_ms":0,
            "bytes_written":1}"#;
        let old: InstallRecord = serde_json::from_str(text).unwrap();
        assert_eq!(old.result, Outcome::Failure);
        assert_eq!(old.failure_code(), Some(Code::RollbackIndexNotSaved));
    }

    /// Each constructor gives a record whose outcome, code, name and fix agree.
    #[test]
    fn constructors_agree_on_the_outcome() {
        let e = Error::NoPackage {
            looked_for: "update.zip".into(),
            locations: "/sdcard".into(),
        };
        let r = InstallRecord::failed_before_start("", &e, Some("1.0".into()));
        assert_eq!(r.result, Outcome::Failure);
        assert_eq!(r.failure_code(), Some(e.code()));
        assert_eq!(
            (r.name.as_str(), r.fix.as_str()),
            (e.code().name(), e.code().fix())
        );
        assert_eq!(r.message, e.to_string());
        assert_eq!(r.from_version.as_deref(), Some("1.0"));
        assert_eq!((r.bytes_written, r.to_version.clone()), (0, None));

        // What was installed stays in the record when the wipe after it fails.
        let installed = InstallRecord {
            to_version: Some("2.0".into()),
            target_slot: Some("b".into()),
            bytes_written: 42,
            warnings: vec!["w".into()],
            ..InstallRecord::finished("u.zip".into(), None)
        };
        let after = InstallRecord::failed_after_install(&installed, &e);
        assert_eq!(after.result, Outcome::Failure);
        assert_eq!(after.code, e.code().number());
        assert_eq!(after.to_version.as_deref(), Some("2.0"));
        assert_eq!(after.target_slot.as_deref(), Some("b"));
        assert_eq!((after.bytes_written, after.warnings.len()), (42, 1));

        let panic = InstallRecord::internal("the install thread stopped unexpectedly");
        assert_eq!(panic.failure_code(), Some(Code::Internal));
        assert_eq!(panic.message, "the install thread stopped unexpectedly");
        assert_eq!(panic.exit_status(), 99);
    }

    #[test]
    fn exit_status_is_the_code_minus_9000_and_0_on_success() {
        assert_eq!(exit_status(0), 0);
        assert_eq!(exit_status(9065), 65);
        // A number no longer in the table (a record from another version) is INTERNAL, never
        // a success.
        assert_eq!(exit_status(9254), Code::Internal.exit_status());
    }

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
