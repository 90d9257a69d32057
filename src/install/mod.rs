//! The install engine: open → signature → checks → plan → (verify) → write → flush → switch slot
//! → record. It reports through a [`Sink`] and never draws.
//!
//! Safety rules, enforced here:
//! - no byte reaches a partition unless its chunk hash matched the signed manifest;
//! - before a partition is written in place (single slot, or a partition both A/B slots share),
//!   every chunk of every image is verified;
//! - A/B, only the inactive slot is written; it is marked unbootable before the first write and
//!   marked active only after every image was written and flushed;
//! - the rollback index advances only after success, and it is known to be storable before the
//!   first write;
//! - one install at a time: the state directory is locked for the whole run ([`lock`]).

pub mod checks;
pub mod events;
pub mod journal;
pub mod lock;
pub mod log;
pub mod protect;
pub mod stream;
mod write;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::device::{BlockDevice, Device, SlotMode};
use crate::error::{Code, HasCode};
use crate::package::{self, Package};
use crate::state::{self, InstallRecord, Timing};
use crate::Error;
pub use checks::Layout;
pub use events::{CheckName, CheckStatus, Event, Finish, Phase, PlanSummary, Sink};

/// Options for an install.
#[derive(Clone, Default)]
pub struct Options {
    /// Set to request cancellation; honoured until the first byte is written.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// A package that passed every check, with the plan for this device.
pub struct Checked {
    pub package: Package,
    pub layout: Layout,
    pub plan: PlanSummary,
}

/// Tracks phases and their durations while forwarding events.
struct Run<'a> {
    sink: &'a mut dyn Sink,
    phase: Option<(Phase, Instant)>,
    timings: Vec<Timing>,
}

impl<'a> Run<'a> {
    fn new(sink: &'a mut dyn Sink) -> Run<'a> {
        Run {
            sink,
            phase: None,
            timings: Vec::new(),
        }
    }
    fn phase(&mut self, p: Phase) {
        self.end_phase();
        self.phase = Some((p, Instant::now()));
        self.sink.event(&Event::Phase { phase: p });
    }
    fn end_phase(&mut self) {
        if let Some((p, t)) = self.phase.take() {
            self.timings.push(Timing {
                phase: format!("{p:?}").to_lowercase(),
                ms: t.elapsed().as_millis() as u64,
            });
        }
    }
    fn log(&mut self, message: impl Into<String>) {
        self.sink.event(&Event::Log {
            message: message.into(),
        });
    }
}

/// Opens and verifies the package and runs every device check. Writes nothing.
pub fn check(path: &Path, device: &dyn Device, sink: &mut dyn Sink) -> Result<Checked, Error> {
    let mut run = Run::new(sink);
    check_in(&mut run, path, device)
}

/// [`check`] for a package the user picked on the recovery screen (its pre-check). When a check
/// fails, `last_log` gets the same log a headless failure writes, so the log screen and support
/// see why; `last_install.json` is left alone, since no install was started.
pub fn check_logged(
    path: &Path,
    device: &dyn Device,
    sink: &mut dyn Sink,
) -> Result<Checked, Error> {
    let mut logger = log::LogSink::new();
    let mut tee = events::Tee(vec![&mut *sink, &mut logger]);
    let mut run = Run::new(&mut tee);
    let result = check_in(&mut run, path, device);
    if let Err(e) = &result {
        run.phase(Phase::Record);
        log_failure(&mut run, e.code(), &e.to_string());
        run.end_phase();
        drop(run);
        drop(tee);
        if let Err(w) = state::write_last_log(&device.profile().state_dir, &logger.text()) {
            sink.event(&Event::Log {
                message: format!("warning: last_log not saved: {w}"),
            });
        }
    }
    result
}

/// The closing lines of a failed run's log: the code, its meaning and its fix.
fn log_failure(run: &mut Run<'_>, code: Code, message: &str) {
    run.log(format!("FAILED: {code}: {message}"));
    run.log(format!("meaning: {}", code.meaning()));
    run.log(format!("fix: {}", code.fix()));
}

fn check_in(run: &mut Run<'_>, path: &Path, device: &dyn Device) -> Result<Checked, Error> {
    run.phase(Phase::Open);
    run.log(format!("package {}", path.display()));
    let opened = package::open(path)
        .inspect_err(|e| {
            if matches!(e, Error::SignatureMissing { .. }) {
                checks::report_err(run.sink, CheckName::Signature, e);
            }
        })
        .map_err(|e| package_gone(run, device, e))?;
    run.phase(Phase::Signature);
    let (trusted, problems) = package::load_trusted_keys(&device.profile().keys)?;
    for p in problems {
        run.log(format!("warning: trusted key not usable: {p}"));
    }
    let signer = match opened.check_signature(&trusted) {
        Ok(fp) => fp,
        Err(e) => {
            checks::report_err(run.sink, CheckName::Signature, &e);
            return Err(e);
        }
    };
    checks::report(
        run.sink,
        CheckName::Signature,
        &Ok(format!("trusted key {}", &signer[..16])),
    );
    let pkg = match opened.verify(&trusted) {
        Ok(p) => p,
        Err(e) => {
            checks::report_err(run.sink, CheckName::Manifest, &e);
            return Err(e);
        }
    };
    let m = &pkg.manifest;
    checks::report(
        run.sink,
        CheckName::Manifest,
        &Ok(format!(
            "version {}, {} image(s), {}",
            m.version,
            pkg.images().len(),
            crate::util::human_bytes(pkg.images().iter().map(|i| i.size).sum())
        )),
    );
    run.phase(Phase::Checks);
    let layout = checks::run(&pkg, device, run.sink)?;
    // Every target is written once; a plan that writes in place reads every image once more
    // first (the verification pass).
    let write_bytes: u64 = layout.targets.iter().map(|t| t.bytes).sum();
    let verify_bytes: u64 = match layout.writes_in_place() {
        true => layout
            .targets
            .iter()
            .filter(|t| t.image.is_some())
            .map(|t| t.bytes)
            .sum(),
        false => 0,
    };
    let total_bytes = write_bytes + verify_bytes;
    let plan = PlanSummary {
        from_version: device.current_version(),
        to_version: m.version.clone(),
        mode: layout.mode,
        active_slot: layout.active,
        target_slot: layout.target,
        wipe_data: m.wipe_data,
        images: layout.planned(),
        total_bytes,
    };
    run.sink.event(&Event::Plan(plan.clone()));
    Ok(Checked {
        package: pkg,
        layout,
        plan,
    })
}

/// Reads every image and checks every chunk hash and every whole-image SHA-256. Writes nothing.
pub fn verify_data(checked: &Checked, sink: &mut dyn Sink) -> Result<(), Error> {
    let mut run = Run::new(sink);
    run.phase(Phase::Verify);
    let total: u64 = checked.package.images().iter().map(|i| i.size).sum();
    let mut done = 0;
    for img in checked.package.images() {
        let mut whole = Sha256::new();
        let mut image_done = 0;
        stream::stream_image(&checked.package, img, |_, bytes| {
            whole.update(bytes);
            image_done += bytes.len() as u64;
            done += bytes.len() as u64;
            run.sink.event(&Event::Progress {
                phase: Phase::Verify,
                partition: img.partition.clone(),
                image_done,
                image_total: img.size,
                done,
                total,
            });
            Ok(())
        })?;
        let calculated: [u8; 32] = whole.finalize().into();
        if calculated != img.sha256 {
            return Err(Error::ImageHashMismatch {
                partition: img.partition.clone(),
                expected: hex::encode(img.sha256),
                calculated: hex::encode(calculated),
            });
        }
    }
    run.end_phase();
    Ok(())
}

/// The whole of `verify`: [`check`], then [`verify_data`]; writes nothing. The result also goes
/// to the sink's [`Sink::finish`].
pub fn verify(path: &Path, device: &dyn Device, sink: &mut dyn Sink) -> Result<Checked, Error> {
    let result = check(path, device, sink).and_then(|c| verify_data(&c, sink).map(|()| c));
    match &result {
        Ok(c) => sink.finish(&Finish::Verified { plan: &c.plan }),
        Err(e) => sink.finish(&Finish::Failed {
            code: e.code(),
            message: &e.to_string(),
        }),
    }
    result
}

/// What a successful install did.
pub struct Installed {
    pub bytes_written: u64,
    pub warnings: Vec<String>,
}

fn cancelled(opts: &Options) -> bool {
    opts.cancel
        .as_ref()
        .is_some_and(|c| c.load(Ordering::SeqCst))
}

/// Progress of the verify and write passes, shared by every image.
struct Counters<'c> {
    total: u64,
    done: u64,
    bytes_written: &'c mut u64,
}

impl Counters<'_> {
    fn progress(&mut self, run: &mut Run<'_>, phase: Phase, partition: &str, image: (u64, u64)) {
        run.sink.event(&Event::Progress {
            phase,
            partition: partition.to_string(),
            image_done: image.0,
            image_total: image.1,
            done: self.done,
            total: self.total,
        });
    }
}

fn install_in(
    run: &mut Run<'_>,
    checked: &Checked,
    device: &dyn Device,
    opts: &Options,
    bytes_written: &mut u64,
) -> Result<Vec<String>, Error> {
    let pkg = &checked.package;
    let layout = &checked.layout;
    let state_dir = device.profile().state_dir.clone();
    let mut count = Counters {
        total: checked.plan.total_bytes,
        done: 0,
        bytes_written,
    };

    if cancelled(opts) {
        return Err(Error::Cancelled);
    }
    let prior = match resume_decision(run, checked, device)? {
        Resume::Fresh => None,
        Resume::Continue(j) => Some(j),
        Resume::OnlyBookkeeping { wipe } => {
            return finish(run, pkg, device, &state_dir, wipe, layout.target)
        }
    };
    // The rollback index is saved last, after the switch, when failing is too late to undo
    // anything: make sure now, before anything changes, that it can be saved.
    state::check_rollback_index_storable(
        &device.profile().rollback_index_file,
        pkg.manifest.rollback_index,
    )?;
    // A partition written in place has no second copy to fall back to: nothing may be written
    // before the whole package is known to be intact.
    if layout.writes_in_place() {
        verify_pass(run, pkg, layout, opts, &mut count)?;
        run.log("every chunk of every image verified; writing");
    }
    if cancelled(opts) {
        return Err(Error::Cancelled);
    }
    // The last point where a cancel is honoured: from here on the journal, the slot metadata
    // and the partitions change, so the UI must stop offering Cancel.
    run.sink.event(&Event::Committed);

    run.phase(Phase::Write);
    let mut slots = device.slot_control()?;
    // Saved before anything on the device changes: if the state directory cannot take it
    // (ENOSPC), nothing was written and nothing is switched.
    let mut journal = new_journal(pkg, layout, prior.as_ref());
    journal::store(&state_dir, &journal)?;
    if let (Some(sc), Some(target)) = (slots.as_mut(), layout.target) {
        // update_engine's MarkSlotUnbootable: a bootloader must never fall back to a slot we
        // are half-way through writing.
        sc.mark_unbootable(target)?;
        run.log(format!(
            "slot {target} marked unbootable while it is written"
        ));
    }
    // In layout order: the inactive slot's partitions, then the shared ones (docs/SLOTS.md).
    let mut opened: Vec<(String, Box<dyn BlockDevice>)> = Vec::new();
    for t in &layout.targets {
        let part = write_target(
            run,
            device,
            pkg,
            t,
            prior.as_ref(),
            &mut journal,
            &mut count,
        )?;
        opened.push((t.partition.clone(), part));
    }

    run.phase(Phase::Flush);
    for (name, part) in &opened {
        part.flush().map_err(|source| Error::Flush {
            partition: name.clone(),
            source,
        })?;
    }
    drop(opened);
    journal.stage = journal::Stage::Flushed;
    journal::store(&state_dir, &journal)?;

    if let (Some(sc), Some(target)) = (slots.as_mut(), layout.target) {
        run.phase(Phase::SwitchSlot);
        sc.set_active(target)?;
        run.log(format!("slot {target} is now active (6 boot tries)"));
    }
    finish(run, pkg, device, &state_dir, true, layout.target)
}

/// Writes (or copies) one target, flushes it and records it in the journal; returns the open
/// partition for the final flush.
fn write_target(
    run: &mut Run<'_>,
    device: &dyn Device,
    pkg: &Package,
    t: &checks::Target,
    prior: Option<&journal::Journal>,
    journal: &mut journal::Journal,
    count: &mut Counters<'_>,
) -> Result<Box<dyn BlockDevice>, Error> {
    let state_dir = &device.profile().state_dir;
    let part = device.open_partition(&t.path, true)?;
    if let Some(j) = journal.image_mut(&t.partition) {
        if !j.started {
            j.started = true;
            journal::store(state_dir, journal)?;
        }
    }
    match (t.image, &t.copy_from) {
        (Some(i), _) => {
            let img = &pkg.images()[i];
            // Chunks a previous attempt flushed; each is read back and compared with its
            // signed hash before it is skipped.
            let resume_from = prior
                .and_then(|j| j.image(&t.partition))
                .filter(|p| p.chunk_size == img.chunk_size)
                .map_or(0, |p| p.chunks_done);
            let w = write::ImageWrite {
                pkg,
                img,
                path: &t.path,
                part: &*part,
                resume_from,
                state_dir,
            };
            write::write_image(run, &w, journal, count)?;
        }
        (None, Some(from)) => write::copy_target(run, device, t, from, &*part, count)?,
        (None, None) => {}
    }
    // The image is complete: make it durable, then record it.
    part.flush().map_err(|source| Error::Flush {
        partition: t.partition.clone(),
        source,
    })?;
    if let Some(j) = journal.image_mut(&t.partition) {
        j.chunks_done = j.chunks;
    }
    journal::store(state_dir, journal)?;
    Ok(part)
}

/// Reads every image once and checks every chunk against its signed hash, writing nothing:
/// the pass that must succeed before a partition is written in place.
fn verify_pass(
    run: &mut Run<'_>,
    pkg: &Package,
    layout: &Layout,
    opts: &Options,
    count: &mut Counters<'_>,
) -> Result<(), Error> {
    run.phase(Phase::Verify);
    for t in &layout.targets {
        let Some(i) = t.image else { continue };
        let img = &pkg.images()[i];
        let mut image_done = 0;
        stream::stream_image(pkg, img, |_, bytes| {
            if cancelled(opts) {
                return Err(Error::Cancelled);
            }
            image_done += bytes.len() as u64;
            count.done += bytes.len() as u64;
            count.progress(run, Phase::Verify, &img.partition, (image_done, img.size));
            Ok(())
        })?;
    }
    Ok(())
}

/// After every image is durable (and, A/B, the new slot is active): raise the rollback index,
/// record the version, wipe data if the package asks (`wipe`: not done yet), and drop the
/// journal. When the index cannot be saved the install is not a plain success (9058): the
/// journal stays, at stage `installed`, so running the same package again only saves it.
fn finish(
    run: &mut Run<'_>,
    pkg: &Package,
    device: &dyn Device,
    state_dir: &Path,
    wipe: bool,
    target: Option<crate::device::Slot>,
) -> Result<Vec<String>, Error> {
    let mut warnings = Vec::new();
    let profile = device.profile();
    let index = pkg.manifest.rollback_index;
    let index_saved = state::store_rollback_index(&profile.rollback_index_file, index);
    if let Err(e) = state::store_installed_version(&profile.state_dir, &pkg.manifest.version) {
        warnings.push(format!("installed version not saved: {e}"));
    }
    match &index_saved {
        Ok(()) => {
            if let Err(e) = journal::remove(state_dir) {
                warnings.push(format!("install journal not removed: {e}"));
            }
        }
        Err(_) => keep_for_index(run, state_dir),
    }
    if wipe && pkg.manifest.wipe_data {
        // After the slot switch: a failed wipe leaves the new version installed (and, A/B,
        // active), so it gets its own code saying both; the user can wipe again from the menu.
        run.log("wiping data as the package asks");
        match device.wipe(crate::device::WipeRole::Data) {
            Ok(wiped) => wiped.iter().for_each(|w| run.log(w.to_string())),
            Err(Error::WipeNotConfigured { .. }) => warnings.push(
                "the package asks for a data wipe; this device profile names no data partition to wipe"
                    .into(),
            ),
            Err(e) => {
                return Err(Error::InstalledWipeFailed {
                    version: pkg.manifest.version.clone(),
                    slot: target,
                    source: Box::new(e),
                })
            }
        }
    }
    for w in &warnings {
        run.log(format!("warning: {w}"));
    }
    index_saved.map_err(|e| Error::RollbackIndexNotSaved {
        version: pkg.manifest.version.clone(),
        index,
        path: profile.rollback_index_file.clone(),
        reason: match e {
            Error::StateWrite { source, .. } => source.to_string(),
            other => other.to_string(),
        },
    })?;
    Ok(warnings)
}

/// The rollback index could not be saved: mark the journal `installed` so the next run of the
/// same package only saves the index (no rewrite, no second wipe).
fn keep_for_index(run: &mut Run<'_>, state_dir: &Path) {
    let saved = match journal::load(state_dir) {
        Ok(Some(mut j)) => {
            j.stage = journal::Stage::Installed;
            journal::store(state_dir, &j).map_err(|e| e.to_string())
        }
        Ok(None) => Err("no journal".into()),
        Err(e) => Err(e),
    };
    if let Err(e) = saved {
        run.log(format!(
            "warning: could not mark the journal for saving the rollback index later: {e}"
        ));
    }
}

/// What to do about a journal left by an earlier attempt.
enum Resume {
    /// No usable journal: write everything.
    Fresh,
    /// Same package, same target: skip chunks the journal counts as flushed once they read back
    /// with their signed hashes.
    Continue(journal::Journal),
    /// Same package: every image was flushed and (A/B) the new slot is already active; only the
    /// bookkeeping is missing. `wipe`: the data wipe the package asks for was not done yet.
    OnlyBookkeeping { wipe: bool },
}

fn resume_decision(
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
        // The device holds a mix of old data and package X: partitions written in place were
        // touched and X did not complete. Another package may only finish the job if it
        // rewrites every such partition (on A/B, it also writes the same inactive slot whole).
        let touched = j.touched_in_place();
        let missing: Vec<&str> = touched
            .iter()
            .copied()
            .filter(|p| {
                !layout
                    .targets
                    .iter()
                    .any(|t| t.partition == *p && t.image.is_some())
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
        return Ok(Resume::Continue(journal::Journal {
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
        }));
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

/// A fresh journal for this install; partitions a previous attempt touched stay marked.
fn new_journal(
    pkg: &Package,
    layout: &Layout,
    prior: Option<&journal::Journal>,
) -> journal::Journal {
    let images = layout
        .targets
        .iter()
        .map(|t| {
            let before = prior.and_then(|j| j.image(&t.partition));
            let (chunk_size, chunks) = match t.image {
                Some(i) => (
                    pkg.images()[i].chunk_size,
                    pkg.images()[i].chunks.len() as u64,
                ),
                None => (0, 1),
            };
            journal::ImageProgress {
                partition: t.partition.clone(),
                path: t.path.clone(),
                chunk_size,
                chunks,
                chunks_done: before
                    .filter(|b| b.chunk_size == chunk_size && t.image.is_some())
                    .map_or(0, |b| b.chunks_done.min(chunks)),
                started: before.is_some_and(journal::ImageProgress::touched),
                in_place: t.in_place,
            }
        })
        .collect();
    journal::Journal::new(
        &pkg.manifest_sha256,
        &pkg.path,
        &pkg.manifest.version,
        layout.mode,
        layout.target,
        images,
    )
}

/// For the journal's A/B target slot: every package image reads back with its signed chunk
/// hashes.
fn slot_images_intact(device: &dyn Device, pkg: &Package, j: &journal::Journal) -> bool {
    let mut buf = Vec::new();
    pkg.images().iter().all(|img| {
        let Some(p) = j.image(&img.partition) else {
            return false;
        };
        let Ok(part) = device.open_partition(&p.path, false) else {
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
fn package_gone(run: &mut Run<'_>, device: &dyn Device, e: Error) -> Error {
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

/// Installs a checked package. Prefer [`apply`], which also records the result.
pub fn install(
    checked: &Checked,
    device: &dyn Device,
    sink: &mut dyn Sink,
    opts: &Options,
) -> Result<Installed, Error> {
    let _lock = lock::acquire(&device.profile().state_dir)?;
    let mut run = Run::new(sink);
    let mut bytes_written = 0;
    let warnings = install_in(&mut run, checked, device, opts, &mut bytes_written)?;
    Ok(Installed {
        bytes_written,
        warnings,
    })
}

/// The whole headless install: check, install, and record last_install.json and last_log in the
/// state directory. Returns the record (its `code` is 0 on success).
pub fn apply(
    path: &Path,
    device: &dyn Device,
    sink: &mut dyn Sink,
    opts: &Options,
) -> InstallRecord {
    let started = crate::util::unix_now();
    let t0 = Instant::now();
    // Held until the record is saved. A second install is refused before it reads anything,
    // and it saves no record or log: the state directory belongs to the running install.
    let _lock = match lock::acquire(&device.profile().state_dir) {
        Ok(l) => l,
        Err(e) => return not_started(path, device, sink, &e, started),
    };
    let mut logger = log::LogSink::new();
    let mut tee = events::Tee(vec![&mut *sink, &mut logger]);
    let mut run = Run::new(&mut tee);
    let mut bytes_written = 0;
    let mut checked_info = None;
    let result = check_in(&mut run, path, device).and_then(|checked| {
        checked_info = Some((
            hex::encode(checked.package.manifest_sha256),
            checked.plan.clone(),
        ));
        install_in(&mut run, &checked, device, opts, &mut bytes_written)
    });
    run.phase(Phase::Record);
    let (code, message, warnings) = match &result {
        Ok(w) => (None, "installed".to_string(), w.clone()),
        Err(e) => (Some(e.code()), e.to_string(), Vec::new()),
    };
    if let Some(c) = code {
        log_failure(&mut run, c, &message);
    } else {
        run.log("SUCCESS");
    }
    run.end_phase();
    let timings = std::mem::take(&mut run.timings);
    drop(run);
    drop(tee);
    let (manifest_sha256, plan) = checked_info.unzip();
    let info = code.map(Code::info);
    let mut record = InstallRecord {
        package: path.display().to_string(),
        manifest_sha256,
        from_version: plan
            .as_ref()
            .and_then(|p| p.from_version.clone())
            .or_else(|| device.current_version()),
        to_version: plan.as_ref().map(|p| p.to_version.clone()),
        target_slot: plan
            .as_ref()
            .and_then(|p| p.target_slot.map(|s| s.to_string())),
        result: if code.is_none() { "success" } else { "failure" }.into(),
        code: info.map(|i| i.number).unwrap_or(0),
        name: info.map(|i| i.name).unwrap_or("SUCCESS").into(),
        message,
        fix: info.map(|i| i.fix).unwrap_or("").into(),
        started_at: crate::util::rfc3339(started),
        finished_at: crate::util::rfc3339(crate::util::unix_now()),
        duration_ms: t0.elapsed().as_millis() as u64,
        bytes_written,
        timings,
        warnings,
    };
    let state_dir = &device.profile().state_dir;
    if let Err(e) = state::write_last_log(state_dir, &logger.text()) {
        record.warnings.push(format!("last_log not saved: {e}"));
    }
    if let Err(e) = state::write_last_install(state_dir, &record) {
        record
            .warnings
            .push(format!("last_install.json not saved: {e}"));
    }
    let log = state_dir.join(state::LAST_LOG);
    sink.finish(&Finish::Installed {
        record: &record,
        log: Some(&log),
    });
    record
}

/// The record of an install that could not start (another one holds the lock): reported to the
/// sink, and saved nowhere.
fn not_started(
    path: &Path,
    device: &dyn Device,
    sink: &mut dyn Sink,
    e: &Error,
    started: u64,
) -> InstallRecord {
    let info = e.code().info();
    sink.event(&Event::Log {
        message: format!("FAILED: {}: {e}", e.code()),
    });
    let now = crate::util::rfc3339(crate::util::unix_now());
    let record = InstallRecord {
        package: path.display().to_string(),
        manifest_sha256: None,
        from_version: device.current_version(),
        to_version: None,
        target_slot: None,
        result: "failure".into(),
        code: info.number,
        name: info.name.into(),
        message: e.to_string(),
        fix: info.fix.into(),
        started_at: crate::util::rfc3339(started),
        finished_at: now,
        duration_ms: 0,
        bytes_written: 0,
        timings: Vec::new(),
        warnings: Vec::new(),
    };
    sink.finish(&Finish::Installed {
        record: &record,
        log: None,
    });
    record
}
