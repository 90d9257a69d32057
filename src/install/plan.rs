//! Plan, then execute: what an install will do, decided before anything on the device changes.
//!
//! [`make`] turns a checked package (its [`Layout`]: which images go where, in what order, from
//! where) and whatever an earlier attempt left (the journal, [`super::resume`]) into a [`Plan`];
//! [`super::execute`] carries it out step by step.

use super::checks::{Layout, Source, Target};
use super::resume::{self, Resume};
use super::{journal, Checked, Run};
use crate::device::{Device, Slot};
use crate::package::Package;
use crate::state;
use crate::Error;

/// What an install does.
pub(super) enum Plan<'c> {
    /// An earlier attempt of this package wrote, flushed and (A/B) activated every image: only
    /// the bookkeeping is left. `wipe`: the data wipe the package asks for was not done yet.
    Finish { wipe: bool },
    /// Write the targets, then switch and finish.
    Write(WritePlan<'c>),
}

/// The targets to write and how.
pub(super) struct WritePlan<'c> {
    /// Each target once, in write order: the inactive slot's partitions, then the shared ones
    /// (docs/SLOTS.md). Each says where its bytes come from ([`Source`]).
    pub targets: &'c [Target],
    /// Some partition is written in place: every image is read and verified before the first
    /// write.
    pub verify_first: bool,
    /// A/B: the slot written; marked unbootable before the first write, made active last.
    pub switch_to: Option<Slot>,
    /// The journal this install starts from, saved before the first write: partitions an
    /// earlier attempt touched stay marked, and an image's `chunks_done` is where its write
    /// resumes (each of those chunks is read back and checked before it is kept).
    pub journal: journal::Journal,
}

/// Decides what this install does. Changes nothing on the device; fails (9058) when the
/// rollback index could not be saved at the end, since by then failing is too late to undo
/// anything.
pub(super) fn make<'c>(
    run: &mut Run<'_>,
    checked: &'c Checked,
    device: &dyn Device,
) -> Result<Plan<'c>, Error> {
    let pkg = &checked.package;
    let layout = &checked.layout;
    let prior = match resume::decide(run, checked, device)? {
        Resume::Fresh => None,
        Resume::Continue(j) => Some(j),
        Resume::OnlyBookkeeping { wipe } => return Ok(Plan::Finish { wipe }),
    };
    state::check_rollback_index_storable(
        &device.profile().rollback_index_file,
        pkg.manifest.rollback_index,
    )?;
    Ok(Plan::Write(WritePlan {
        targets: &layout.targets,
        // A partition written in place has no second copy to fall back to: nothing may be
        // written before the whole package is known to be intact.
        verify_first: layout.writes_in_place(),
        switch_to: layout.target,
        journal: new_journal(pkg, layout, prior.as_ref()),
    }))
}

/// A fresh journal for this install; partitions a previous attempt touched stay marked, and
/// chunks it flushed (same chunk size) are counted so the write resumes after them.
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
            let (chunk_size, chunks) = match t.source {
                Source::Package(i) => (
                    pkg.images()[i].chunk_size,
                    pkg.images()[i].chunks.len() as u64,
                ),
                Source::ActiveSlot(_) => (0, 1),
            };
            let from_package = matches!(t.source, Source::Package(_));
            journal::ImageProgress {
                partition: t.partition.clone(),
                path: t.path.clone(),
                chunk_size,
                chunks,
                chunks_done: before
                    .filter(|b| b.chunk_size == chunk_size && from_package)
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
