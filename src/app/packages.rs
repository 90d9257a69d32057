//! Packages in storage: where they are looked for, what each one is, and whether it can be
//! installed here. Inspecting runs every check and writes nothing.

use std::path::{Path, PathBuf};

use crate::device::storage::{scan_folders, Found};
use crate::device::Device;
use crate::error::{Code, HasCode};
use crate::install::events::{CheckName, CheckStatus, Collect, Event, PlanSummary};
use crate::package::version::compare_versions;
use crate::{package, Error};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Yes,
    No,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    pub check: CheckName,
    pub status: CheckStatus,
    pub detail: String,
    pub code: Option<Code>,
}

/// A failure with its code and the engine's one-line explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

impl From<&Error> for Failure {
    fn from(e: &Error) -> Failure {
        Failure {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// One package found in storage, with the result of running every check on it (nothing
/// written).
#[derive(Debug, Clone)]
pub struct PackageInfo {
    pub path: PathBuf,
    /// Short name for lists: the path below its storage root.
    pub name: String,
    pub size: u64,
    /// The version its manifest names (trusted only when `signed` is Yes).
    pub version: Option<String>,
    pub signed: Verdict,
    pub newer: Verdict,
    pub for_device: Verdict,
    pub checks: Vec<CheckRow>,
    /// The first failing check's code; `None` when the package can be installed.
    pub failure: Option<Failure>,
    pub plan: Option<PlanSummary>,
}

impl PackageInfo {
    /// Builds the summary from the `Check` and `Plan` events of `install::check` and its result.
    pub fn from_check(
        path: PathBuf,
        name: String,
        size: u64,
        version: Option<String>,
        current_version: Option<&str>,
        events: &[Event],
        failure: Option<Failure>,
    ) -> PackageInfo {
        let mut checks = Vec::new();
        let mut plan = None;
        for e in events {
            match e {
                Event::Check {
                    check,
                    status,
                    detail,
                    code,
                } => checks.push(CheckRow {
                    check: *check,
                    status: *status,
                    detail: detail.clone(),
                    code: *code,
                }),
                Event::Plan(p) => plan = Some(p.clone()),
                _ => {}
            }
        }
        let status = |c: CheckName| checks.iter().find(|r| r.check == c).map(|r| r.status);
        let signed = match status(CheckName::Signature) {
            Some(CheckStatus::Pass) => Verdict::Yes,
            Some(CheckStatus::Fail) => Verdict::No,
            _ if failure.is_some() && checks.is_empty() => Verdict::No,
            _ => Verdict::Unknown,
        };
        let device_checks = [CheckName::Product, CheckName::Hardware, CheckName::Baseband];
        let for_device = if device_checks
            .iter()
            .any(|c| status(*c) == Some(CheckStatus::Fail))
        {
            Verdict::No
        } else if device_checks.iter().all(|c| status(*c).is_some()) {
            Verdict::Yes
        } else {
            Verdict::Unknown
        };
        let version = plan.as_ref().map(|p| p.to_version.clone()).or(version);
        let newer = if status(CheckName::Rollback) == Some(CheckStatus::Fail) {
            Verdict::No
        } else {
            match (version.as_deref(), current_version) {
                (Some(v), Some(cur)) if signed == Verdict::Yes => {
                    if compare_versions(v, cur) == std::cmp::Ordering::Greater {
                        Verdict::Yes
                    } else {
                        Verdict::No
                    }
                }
                _ => Verdict::Unknown,
            }
        };
        PackageInfo {
            path,
            name,
            size,
            version,
            signed,
            newer,
            for_device,
            checks,
            failure,
            plan,
        }
    }
}

/// Where packages were looked for and what was found, in scan order (each root's own files
/// first).
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub roots: Vec<PathBuf>,
    pub found: Vec<Found>,
}

impl Search {
    /// NO_PACKAGE, naming the files looked for and every folder searched.
    pub fn nothing_found(&self, device: &dyn Device) -> Error {
        Error::NoPackage {
            looked_for: device.profile().package_names.join(", "),
            locations: self
                .roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Looks for the profile's package names in its storage folders, then in `extra` (the cards the
/// recovery init mounted). Opens nothing.
pub fn find_packages(device: &dyn Device, extra: &[PathBuf]) -> Search {
    let p = device.profile();
    let mut roots = p.storage.clone();
    roots.extend(extra.iter().cloned());
    let found = scan_folders(&roots, &p.package_names);
    Search { roots, found }
}

/// "sdcard/update.zip": the path from its storage root's name down.
fn short_name(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    match root.file_name() {
        Some(r) => Path::new(r).join(rel).display().to_string(),
        None => rel.display().to_string(),
    }
}

/// Runs every check on one package (nothing is written) and summarises it. `precheck`: the user
/// picked this package (the pre-check screen), so a failure is logged to `last_log` as a
/// headless failure is; the scan of the list logs nothing.
pub fn inspect_package(
    device: &dyn Device,
    path: &Path,
    name: String,
    size: u64,
    precheck: bool,
) -> PackageInfo {
    let mut events = Collect::default();
    let result = if precheck {
        super::precheck(path, device, &mut events)
    } else {
        super::check(path, device, &mut events)
    };
    let failure = result.as_ref().err().map(Failure::from);
    // The version a package claims, for the list; it is marked by the signature column and only
    // the signed manifest (in the plan) is used for anything else.
    let version = package::open_unsigned(path)
        .ok()
        .and_then(|o| o.manifest_unverified().ok())
        .map(|m| m.version);
    PackageInfo::from_check(
        path.to_path_buf(),
        name,
        size,
        version,
        device.current_version().as_deref(),
        &events.0,
        failure,
    )
}

/// Scans the profile's storage folders and `extra` ones, and inspects every package found.
pub fn scan(device: &dyn Device, extra: &[PathBuf]) -> Vec<PackageInfo> {
    find_packages(device, extra)
        .found
        .into_iter()
        .map(|Found { path, size, root }| {
            let name = short_name(&path, &root);
            inspect_package(device, &path, name, size, false)
        })
        .collect()
}
