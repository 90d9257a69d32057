//! An earlier attempt's journal: continue it, finish only its bookkeeping, or start afresh; and
//! what to say when its package is gone.

use super::{journal, write, Checked, Run};
use crate::device::{Access, Device, SlotMode};
use crate::package::Package;
use crate::Error;

/// What to do about a journal left by an earlier attempt.
pub(super) enum Resume {
    /// No usable journal: write everything.
    Fresh,
    /// Same package, same target: skip chunks the journal counts as flushed once they read back
    /// with their signed hashes.
    Continue(journal::Journal),
    /// Same package: every image was flushed and (A/B) the new slot is already active; only the
    /// bookkeeping is missing. `wipe`: the data wipe the package asks for was not done yet.
    OnlyBookkeeping { wipe: bool },
}

/// Reads the journal an earlier attempt left and decides what this install does about it.
pub(super) fn decide(
    run: &mut Run<'_>,
    checked: &Checked,
    device: &dyn Device,
) -> Result<Resume, Error> {
    let pkg = &checked.package;
    let layout = &checked.layout;
    let state_dir = &device.profile().state_dir;
    let j = match journal::load(state_dir) {
        Ok(Some(j)) => j,
        Ok(None) => return Ok(Resume::Fresh),
        Err(reason) => {
            // Only this updater writes the journal, atomically; an unreadable one is ignored and
            // replaced. Every partition in the package is written whole either way.
            run.log(format!(
                "warning: ignoring an unreadable install journal: {reason}"
            ));
            return Ok(Resume::Fresh);
        }
    };
    if j.is_for(&pkg.manifest_sha256) {
        let switched = match layout.mode {
            SlotMode::Ab => j.targets(layout.active),
            SlotMode::Single => true,
        };
        let complete = j.stage == journal::Stage::Installed
            || (layout.mode == SlotMode::Ab && j.stage == journal::Stage::Flushed);
        if j.mode == layout.mode && complete && switched && slot_images_intact(device, pkg, &j) {
            run.log(format!(
                "resuming an interrupted update: version {} is written{}; finishing",
                j.version,
                j.target_slot
                    .as_deref()
                    .map(|s| format!(" to slot {s} and it is active"))
                    .unwrap_or_default()
            ));
            return Ok(Resume::OnlyBookkeeping {
                wipe: j.stage != journal::Stage::Installed,
            });
        }
        if j.mode == layout.mode && j.targets(layout.target) {
            let done: u64 = j.images.iter().map(|i| i.chunks_done).sum();
            run.log(format!(
                "resuming an interrupted update of version {} ({done} chunk(s) already written; each is re-checked against its signed hash)",
                j.version
            ));
            return Ok(Resume::Continue(j));
        }
        run.log(format!(
            "restarting an interrupted update of version {}: the slot layout changed since (target now {}); writing everything again",
            j.version,
            layout.target.map_or("-".to_string(), |s| s.to_string())
        ));
        return Ok(Resume::Fresh);
    }
    if j.mixed(layout.active) {
        return continue_mixed(run, pkg, layout, j);
    }
    run.log(format!(
        "discarding the journal of an interrupted install of a different package (version {}): {}",
        j.version,
        if j.mode == SlotMode::Ab {
            "its slot was never activated"
        } else {
            "it had not written anything yet"
        }
    ));
    Ok(Resume::Fresh)
}

/// The journal is another package's, and partitions it wrote in place hold part old, part new
/// data: this package may finish the job only if it rewrites every such partition.
fn continue_mixed(
    run: &mut Run<'_>,
    pkg: &Package,
    layout: &super::Layout,
    j: journal::Journal,
) -> Result<Resume, Error> {
    // Package X touched partitions in place and did not complete. On A/B this package also
    // writes the same inactive slot whole.
    let touched = j.touched_in_place();
    let missing: Vec<&str> = touched
        .iter()
        .copied()
        .filter(|p| {
            !layout
                .targets
                .iter()
                .any(|t| t.partition == *p && t.source.image().is_some())
        })
        .collect();
    if !missing.is_empty() {
        return Err(Error::ResumeNeedsPackage {
            package: j.package.clone(),
            version: j.version.clone(),
            manifest_sha256: j.manifest_sha256.clone(),
            reason: format!(
                "partition(s) {} hold part old, part new data and this package (version {}) does not rewrite {}",
                touched.join(", "),
                pkg.manifest.version,
                missing.join(", ")
            ),
        });
    }
    run.log(format!(
        "an interrupted update of a different package (version {}) left {} part-written in place; this package rewrites all of them",
        j.version,
        touched.join(", ")
    ));
    Ok(Resume::Continue(journal::Journal {
        // Keep which partitions are mixed; nothing of the old progress is reused.
        images: j
            .images
            .into_iter()
            .map(|i| journal::ImageProgress {
                chunks_done: 0,
                chunk_size: 0,
                ..i
            })
            .collect(),
        manifest_sha256: hex::encode(pkg.manifest_sha256),
        ..j
    }))
}

/// For the journal's A/B target slot: every package image reads back with its signed chunk
/// hashes.
pub(super) fn slot_images_intact(device: &dyn Device, pkg: &Package, j: &journal::Journal) -> bool {
    let mut buf = Vec::new();
    pkg.images().iter().all(|img| {
        let Some(p) = j.image(&img.partition) else {
            return false;
        };
        let Some(def) = device.profile().partition(&img.partition) else {
            return false;
        };
        let Ok(part) = device.open_target(def.kind, &p.path, Access::Read) else {
            return false;
        };
        (0..img.chunks.len() as u64).all(|i| {
            let len = img.chunk_len(i as usize) as usize;
            write::chunk_on_flash(&*part, img, i, i * img.chunk_size, len, &mut buf)
                .unwrap_or(false)
        })
    })
}

/// The package cannot be opened or read. If an in-place install was left half-done, that is
/// the news: the device needs that same package again.
pub(super) fn package_gone(run: &mut Run<'_>, device: &dyn Device, e: Error) -> Error {
    let Ok(Some(j)) = journal::load(&device.profile().state_dir) else {
        return e;
    };
    // Unknown slot state counts as not switched: the safe assumption.
    let active = device
        .slot_control()
        .ok()
        .flatten()
        .and_then(|sc| sc.state().ok())
        .map(|st| st.active);
    if !j.mixed(active) {
        return e;
    }
    run.log(format!(
        "an update of version {} from {} was interrupted part-way with partitions written in place; the device needs that package to finish",
        j.version, j.package
    ));
    match e {
        Error::PackageOpen { .. } | Error::NoPackage { .. } | Error::PackageRead { .. } => {
            Error::ResumeNeedsPackage {
                package: j.package.clone(),
                version: j.version.clone(),
                manifest_sha256: j.manifest_sha256.clone(),
                reason: format!("the package cannot be read ({e})"),
            }
        }
        other => other,
    }
}
