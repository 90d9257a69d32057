//! The install engine: open → signature → checks → plan → (verify) → write → flush → switch slot
//! → record. It reports through a [`Sink`] and never draws.
//!
//! Safety rules, enforced here:
//! - no byte reaches a partition unless its chunk hash matched the signed manifest;
//! - in place (single slot), every chunk of every image is verified before the first write;
//! - A/B, only the inactive slot is written; it is marked unbootable before the first write and
//!   marked active only after every image was written and flushed;
//! - the rollback index advances only after success.

pub mod checks;
pub mod events;
pub mod journal;
pub mod log;
pub mod stream;

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
pub use events::{CheckName, CheckStatus, Event, Phase, PlanSummary, Sink};

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
    let image_bytes: u64 = layout.targets.iter().map(|t| t.bytes).sum();
    let total_bytes = match layout.mode {
        SlotMode::Single => 2 * image_bytes,
        SlotMode::Ab => image_bytes,
    };
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

fn install_in(
    run: &mut Run<'_>,
    checked: &Checked,
    device: &dyn Device,
    opts: &Options,
    bytes_written: &mut u64,
) -> Result<Vec<String>, Error> {
    let pkg = &checked.package;
    let layout = &checked.layout;
    let total = checked.plan.total_bytes;
    let mut done = 0u64;
    let state_dir = device.profile().state_dir.clone();

    if cancelled(opts) {
        return Err(Error::Cancelled);
    }
    let prior = match resume_decision(run, checked, device)? {
        Resume::Fresh => None,
        Resume::Continue(j) => Some(j),
        Resume::OnlyBookkeeping => return finish(run, pkg, device, &state_dir),
    };
    // In place, nothing may be written before the whole package is known to be intact: the
    // device has no second copy to fall back to.
    if layout.mode == SlotMode::Single {
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
        }
        run.log("every chunk of every image verified; writing in place");
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
    let mut opened: Vec<(String, Box<dyn BlockDevice>)> = Vec::new();
    for t in &layout.targets {
        let part = device.open_partition(&t.path, true)?;
        let mut image_done = 0u64;
        if let Some(j) = journal.image_mut(&t.partition) {
            if !j.started {
                j.started = true;
                journal::store(&state_dir, &journal)?;
            }
        }
        match (t.image, &t.copy_from) {
            (Some(i), _) => {
                let img = &pkg.images()[i];
                // Chunks a previous attempt flushed; each is read back and compared with its
                // signed hash before it is skipped.
                let resume_from = prior
                    .as_ref()
                    .and_then(|j| j.image(&t.partition))
                    .filter(|p| p.chunk_size == img.chunk_size)
                    .map_or(0, |p| p.chunks_done);
                if resume_from > 0 {
                    run.log(format!(
                        "resuming {}: checking the {} chunk(s) already written",
                        img.partition, resume_from
                    ));
                } else {
                    run.log(format!(
                        "writing {} ({}) to {}",
                        img.partition,
                        crate::util::human_bytes(img.size),
                        t.path.display()
                    ));
                }
                let interval = journal::checkpoint_interval(img.size, img.chunk_size);
                let mut since_checkpoint = 0u64;
                let mut readback = Vec::new();
                let mut kept = 0u64;
                let part_ref: &dyn BlockDevice = &*part;
                let flush_err = |source| Error::Flush {
                    partition: img.partition.clone(),
                    source,
                };
                // Checkpoints flush on a helper thread while writing goes on, so the stream
                // never waits for the flash; a flush started after chunk k was written makes
                // chunks ..=k durable when it returns, and only then is k recorded.
                std::thread::scope(|scope| -> Result<(), Error> {
                    type Flushing<'s> =
                        (u64, std::thread::ScopedJoinHandle<'s, std::io::Result<()>>);
                    let mut flushing: Option<Flushing<'_>> = None;
                    let settle = |f: Flushing<'_>, journal: &mut journal::Journal| {
                        let (upto, handle) = f;
                        handle
                            .join()
                            .map_err(|_| Error::Internal {
                                reason: "flush thread panicked".into(),
                            })?
                            .map_err(flush_err)?;
                        if let Some(j) = journal.image_mut(&t.partition) {
                            j.chunks_done = upto;
                        }
                        journal::store(&state_dir, journal)
                    };
                    stream::stream_image(pkg, img, |offset, bytes| {
                        let index = offset / img.chunk_size;
                        let write_err = |source| Error::Write {
                            partition: img.partition.clone(),
                            offset,
                            source,
                        };
                        let already = index < resume_from
                            && chunk_on_flash(
                                part_ref,
                                img,
                                index,
                                offset,
                                bytes.len(),
                                &mut readback,
                            )
                            .map_err(write_err)?;
                        if already {
                            kept += 1;
                        } else {
                            part_ref.write_all_at(bytes, offset).map_err(write_err)?;
                            *bytes_written += bytes.len() as u64;
                            since_checkpoint += bytes.len() as u64;
                        }
                        if since_checkpoint >= interval {
                            // Durable first, then recorded: the journal never counts a chunk
                            // that a power cut could still lose.
                            if let Some(f) = flushing.take() {
                                settle(f, &mut journal)?;
                            }
                            flushing = Some((index + 1, scope.spawn(move || part_ref.flush())));
                            since_checkpoint = 0;
                        }
                        image_done += bytes.len() as u64;
                        done += bytes.len() as u64;
                        run.sink.event(&Event::Progress {
                            phase: Phase::Write,
                            partition: img.partition.clone(),
                            image_done,
                            image_total: img.size,
                            done,
                            total,
                        });
                        Ok(())
                    })
                    .and_then(|()| match flushing.take() {
                        Some(f) => settle(f, &mut journal),
                        None => Ok(()),
                    })
                    // On an error, a flush still running is joined by the scope.
                })?;
                if kept > 0 {
                    run.log(format!(
                        "{}: {kept} chunk(s) already on flash and matching their signed hashes were kept",
                        img.partition
                    ));
                }
            }
            (None, Some(from)) => {
                run.log(format!(
                    "copying {} from the active slot ({}): not in the package",
                    t.partition,
                    from.display()
                ));
                let src = device.open_partition(from, false)?;
                copy_partition(&*src, &*part, t, &mut |n| {
                    *bytes_written += n;
                    image_done += n;
                    done += n;
                    run.sink.event(&Event::Progress {
                        phase: Phase::Write,
                        partition: t.partition.clone(),
                        image_done,
                        image_total: t.bytes,
                        done,
                        total,
                    });
                })?;
            }
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
        journal::store(&state_dir, &journal)?;
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
    finish(run, pkg, device, &state_dir)
}

/// After every image is durable (and, A/B, the new slot is active): raise the rollback index,
/// record the version, and drop the journal.
fn finish(
    run: &mut Run<'_>,
    pkg: &Package,
    device: &dyn Device,
    state_dir: &Path,
) -> Result<Vec<String>, Error> {
    let mut warnings = Vec::new();
    let profile = device.profile();
    if let Err(e) =
        state::store_rollback_index(&profile.rollback_index_file, pkg.manifest.rollback_index)
    {
        warnings.push(format!("rollback index not saved: {e}"));
    }
    if let Err(e) = state::store_installed_version(&profile.state_dir, &pkg.manifest.version) {
        warnings.push(format!("installed version not saved: {e}"));
    }
    if let Err(e) = journal::remove(state_dir) {
        warnings.push(format!("install journal not removed: {e}"));
    }
    if pkg.manifest.wipe_data {
        if profile.wipe.is_empty() {
            warnings.push(
                "the package asks for a data wipe; this device profile names no data partition to wipe"
                    .into(),
            );
        } else {
            // After the slot switch: a failed wipe leaves the new version installed, and the
            // user can wipe again from the menu.
            run.log("wiping data as the package asks");
            for w in device.wipe_data()? {
                run.log(w.to_string());
            }
        }
    }
    for w in &warnings {
        run.log(format!("warning: {w}"));
    }
    Ok(warnings)
}

/// What to do about a journal left by an earlier attempt.
enum Resume {
    /// No usable journal: write everything.
    Fresh,
    /// Same package, same target: skip chunks the journal counts as flushed once they read back
    /// with their signed hashes.
    Continue(journal::Journal),
    /// Same package, A/B: every image was flushed and the new slot is already active; only the
    /// rollback index, the version and the journal removal are missing.
    OnlyBookkeeping,
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
        if layout.mode == SlotMode::Ab
            && j.mode == SlotMode::Ab
            && j.stage == journal::Stage::Flushed
            && j.targets(layout.active)
            && slot_images_intact(device, pkg, &j)
        {
            run.log(format!(
                "resuming an interrupted update: version {} was written to slot {} and it is active; finishing",
                j.version,
                j.target_slot.as_deref().unwrap_or("?")
            ));
            return Ok(Resume::OnlyBookkeeping);
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
    if j.half_written_in_place() {
        // The device holds a mix of old data and package X. Another package may only finish the
        // job if it rewrites every partition X touched.
        let touched: Vec<&str> = j
            .images
            .iter()
            .filter(|i| i.touched())
            .map(|i| i.partition.as_str())
            .collect();
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
            "an interrupted in-place update of a different package (version {}) left {} part-written; this package rewrites all of them",
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

/// Whether chunk `index` is already on the partition: read back and hashed against the signed
/// chunk hash (the journal alone is not trusted).
fn chunk_on_flash(
    part: &dyn BlockDevice,
    img: &package::Image,
    index: u64,
    offset: u64,
    len: usize,
    buf: &mut Vec<u8>,
) -> std::io::Result<bool> {
    let Some(expected) = usize::try_from(index).ok().and_then(|i| img.chunks.get(i)) else {
        return Ok(false);
    };
    buf.resize(len, 0);
    part.read_exact_at(buf, offset)?;
    let calculated: [u8; 32] = Sha256::digest(&buf[..]).into();
    Ok(&calculated == expected)
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
            chunk_on_flash(&*part, img, i, i * img.chunk_size, len, &mut buf).unwrap_or(false)
        })
    })
}

/// The package cannot be opened or read. If an in-place install was left half-done, that is
/// the news: the device needs that same package again.
fn package_gone(run: &mut Run<'_>, device: &dyn Device, e: Error) -> Error {
    let Ok(Some(j)) = journal::load(&device.profile().state_dir) else {
        return e;
    };
    if !j.half_written_in_place() {
        return e;
    }
    run.log(format!(
        "an in-place update of version {} from {} was interrupted part-way; the device needs that package to finish",
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

/// Copies an untouched slotted partition from the active slot, then reads the copy back and
/// compares hashes: the new slot must be complete and exact.
fn copy_partition(
    src: &dyn BlockDevice,
    dst: &dyn BlockDevice,
    t: &checks::Target,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    const BUF: u64 = 1 << 20;
    let name = &t.partition;
    let read_err = |source: std::io::Error| Error::PartitionOpen {
        path: t.copy_from.clone().unwrap_or_default(),
        source,
    };
    let mut buf = vec![0u8; BUF as usize];
    let mut src_hash = Sha256::new();
    let mut off = 0;
    while off < t.bytes {
        let n = BUF.min(t.bytes - off) as usize;
        src.read_exact_at(&mut buf[..n], off).map_err(read_err)?;
        src_hash.update(&buf[..n]);
        dst.write_all_at(&buf[..n], off)
            .map_err(|source| Error::Write {
                partition: name.clone(),
                offset: off,
                source,
            })?;
        off += n as u64;
        progress(n as u64);
    }
    dst.flush().map_err(|source| Error::Flush {
        partition: name.clone(),
        source,
    })?;
    let mut dst_hash = Sha256::new();
    off = 0;
    while off < t.bytes {
        let n = BUF.min(t.bytes - off) as usize;
        dst.read_exact_at(&mut buf[..n], off)
            .map_err(|source| Error::Write {
                partition: name.clone(),
                offset: off,
                source,
            })?;
        dst_hash.update(&buf[..n]);
        off += n as u64;
    }
    let (a, b): ([u8; 32], [u8; 32]) = (src_hash.finalize().into(), dst_hash.finalize().into());
    if a != b {
        return Err(Error::ImageHashMismatch {
            partition: name.clone(),
            expected: hex::encode(a),
            calculated: hex::encode(b),
        });
    }
    Ok(())
}

/// Installs a checked package. Prefer [`apply`], which also records the result.
pub fn install(
    checked: &Checked,
    device: &dyn Device,
    sink: &mut dyn Sink,
    opts: &Options,
) -> Result<Installed, Error> {
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
    let mut logger = log::LogSink::new();
    let mut tee = events::Tee(vec![sink, &mut logger]);
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
        run.log(format!("FAILED: {c}: {message}"));
        run.log(format!("meaning: {}", c.meaning()));
        run.log(format!("fix: {}", c.fix()));
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
    record
}
