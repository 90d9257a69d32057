//! Executing a [`WritePlan`], one named step after another: verify in place, start writing,
//! write (or copy) each target, flush and switch, finish. Every step reports through the run's
//! sink; byte progress goes through the one [`Progress`] helper.

use std::path::Path;

use super::checks::{Source, Target};
use super::plan::WritePlan;
use super::{cancelled, journal, stream, write, Event, Options, Phase, Progress, Run};
use crate::device::{Access, Device, FlashTarget, Slot, SlotControl};
use crate::package::Package;
use crate::state;
use crate::Error;

/// Carries out `plan`: after this returns `Ok`, every image is written and durable, the new slot
/// (A/B) is active and the bookkeeping is done. Returns the warnings.
pub(super) fn execute(
    run: &mut Run<'_>,
    device: &dyn Device,
    pkg: &Package,
    plan: WritePlan<'_>,
    opts: &Options,
    progress: &mut Progress,
) -> Result<Vec<String>, Error> {
    let state_dir = &device.profile().state_dir;
    if plan.verify_first {
        verify_in_place(run, pkg, plan.targets, opts, progress)?;
        run.log("every chunk of every image verified; writing");
    }
    if cancelled(opts) {
        return Err(Error::Cancelled);
    }
    // The last point where a cancel is honoured: from here on the journal, the slot metadata
    // and the partitions change, so the UI must stop offering Cancel.
    run.sink.event(&Event::Committed);

    run.phase(Phase::Write);
    let mut journal = plan.journal;
    let slots = start_writing(run, device, &journal, plan.switch_to)?;
    // In plan order: the inactive slot's partitions, then the shared ones (docs/SLOTS.md).
    let mut written = Vec::new();
    for t in plan.targets {
        let part = write_target(run, device, pkg, t, &mut journal, progress)?;
        written.push((t.partition.as_str(), part));
    }
    flush_and_switch(run, state_dir, written, &mut journal, slots, plan.switch_to)?;
    finish(run, pkg, device, state_dir, true, plan.switch_to)
}

/// Reads every image once and checks every chunk against its signed hash, writing nothing:
/// the step that must succeed before a partition is written in place.
fn verify_in_place(
    run: &mut Run<'_>,
    pkg: &Package,
    targets: &[Target],
    opts: &Options,
    progress: &mut Progress,
) -> Result<(), Error> {
    run.phase(Phase::Verify);
    for t in targets {
        let Source::Package(i) = t.source else {
            continue;
        };
        let img = &pkg.images()[i];
        let mut image_done = 0;
        // A sparse image's structure is checked here too, so a bad one fails before any write.
        let mut sparse = super::sparse_write::dry_run(img);
        stream::stream_image(pkg, img, |_, bytes| {
            if cancelled(opts) {
                return Err(Error::Cancelled);
            }
            if let Some(x) = sparse.as_mut() {
                x.feed(bytes, &mut |_| Ok(()))?;
            }
            let n = bytes.len() as u64;
            image_done += n;
            progress.advance(
                run,
                Phase::Verify,
                &img.partition,
                n,
                (image_done, img.size),
            );
            Ok(())
        })?;
        if let Some(x) = &sparse {
            x.finish()?;
        }
    }
    Ok(())
}

/// Before the first write: the journal is saved (if the state directory cannot take it,
/// ENOSPC, nothing was written and nothing is switched) and, A/B, the slot to be written is
/// marked unbootable. Returns the slot control for the switch.
fn start_writing(
    run: &mut Run<'_>,
    device: &dyn Device,
    journal: &journal::Journal,
    switch_to: Option<Slot>,
) -> Result<Option<Box<dyn SlotControl>>, Error> {
    let mut slots = device.slot_control()?;
    journal::store(&device.profile().state_dir, journal)?;
    if let (Some(sc), Some(target)) = (slots.as_mut(), switch_to) {
        // update_engine's MarkSlotUnbootable: a bootloader must never fall back to a slot we
        // are half-way through writing.
        sc.mark_unbootable(target)?;
        run.log(format!(
            "slot {target} marked unbootable while it is written"
        ));
    }
    Ok(slots)
}

/// Writes (or copies) one target, flushes it and records it in the journal; returns the open
/// target for the final flush.
fn write_target(
    run: &mut Run<'_>,
    device: &dyn Device,
    pkg: &Package,
    t: &Target,
    journal: &mut journal::Journal,
    progress: &mut Progress,
) -> Result<Box<dyn FlashTarget>, Error> {
    let state_dir = &device.profile().state_dir;
    let part = device.open_target(t.kind, &t.path, Access::Write)?;
    // Chunks an earlier attempt flushed (the plan's journal); each is read back and compared
    // with its signed hash before it is skipped.
    let mut resume_from = 0;
    if let Some(j) = journal.image_mut(&t.partition) {
        resume_from = j.chunks_done;
        if !j.started {
            j.started = true;
            journal::store(state_dir, journal)?;
        }
    }
    // Raw flash and UBI volumes are erased / updated as a whole: they start again from 0.
    if !part.keeps_earlier_writes() {
        resume_from = 0;
    }
    let flash_err = |offset, source| Error::Write {
        partition: t.partition.clone(),
        offset,
        source,
    };
    part.begin(t.bytes).map_err(|e| flash_err(0, e))?;
    match &t.source {
        Source::Package(i) => {
            let w = write::ImageWrite {
                pkg,
                img: &pkg.images()[*i],
                path: &t.path,
                part: &*part,
                resume_from,
                state_dir,
                dont_care: device
                    .profile()
                    .partition(&t.partition)
                    .map(|d| d.dont_care)
                    .unwrap_or_default(),
            };
            write::write_image(run, &w, journal, progress)?;
        }
        Source::ActiveSlot(from) => write::copy_image(run, device, t, from, &*part, progress)?,
    }
    // The image is complete: make it durable, then record it.
    part.flush().map_err(|source| Error::Flush {
        partition: t.partition.clone(),
        source,
    })?;
    if let Some(line) = part.finish().map_err(|e| flash_err(t.bytes, e))? {
        run.log(line);
    }
    if let Some(j) = journal.image_mut(&t.partition) {
        j.chunks_done = j.chunks;
    }
    journal::store(state_dir, journal)?;
    Ok(part)
}

/// Every target flushed once more and the journal at stage `flushed`; then, A/B, the written
/// slot is made active.
fn flush_and_switch(
    run: &mut Run<'_>,
    state_dir: &Path,
    written: Vec<(&str, Box<dyn FlashTarget>)>,
    journal: &mut journal::Journal,
    mut slots: Option<Box<dyn SlotControl>>,
    switch_to: Option<Slot>,
) -> Result<(), Error> {
    run.phase(Phase::Flush);
    for (name, part) in &written {
        part.flush().map_err(|source| Error::Flush {
            partition: name.to_string(),
            source,
        })?;
    }
    drop(written);
    journal.stage = journal::Stage::Flushed;
    journal::store(state_dir, journal)?;

    if let (Some(sc), Some(target)) = (slots.as_mut(), switch_to) {
        run.phase(Phase::SwitchSlot);
        sc.set_active(target)?;
        run.log(format!("slot {target} is now active (6 boot tries)"));
    }
    Ok(())
}

/// After every image is durable (and, A/B, the new slot is active): raise the rollback index,
/// record the version, wipe data if the package asks (`wipe`: not done yet), and drop the
/// journal. When the index cannot be saved the install is not a plain success (9058): the
/// journal stays, at stage `installed`, so running the same package again only saves it.
pub(super) fn finish(
    run: &mut Run<'_>,
    pkg: &Package,
    device: &dyn Device,
    state_dir: &Path,
    wipe: bool,
    target: Option<Slot>,
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
