//! The install journal: how far an interrupted install got, so the next start can resume it.
//!
//! On-disk format (`journal.json` in the state directory), replaced atomically with
//! [`crate::util::atomic_write`] (temp file, fsync, rename, fsync the directory), so after a power
//! cut it holds either the previous or the new record, never a mix:
//!
//! ```json
//! { "format": 1, "manifest_sha256": "…", "package": "/sdcard/update.zip", "version": "1.1.0",
//!   "mode": "single", "target_slot": null, "stage": "writing",
//!   "images": [ { "partition": "boot", "path": "…/boot", "chunk_size": 65536,
//!                 "chunks": 5, "chunks_done": 3, "started": true, "in_place": false } ] }
//! ```
//!
//! `chunks_done` is only raised after the partition was flushed (fsync) past those chunks, so
//! every chunk it counts is durably on flash. Resume does not trust that blindly: a chunk counted
//! as done is read back from the partition and its SHA-256 compared with the signed chunk hash
//! before it is skipped; a chunk that differs is written again.
//!
//! `started` marks a partition whose writing began (some bytes may be new even when no chunk
//! is counted yet). `in_place` marks a partition shared by both slots of an A/B device (its path
//! has no `{slot}`), written in place; on a single-slot device every partition is in place
//! whatever the flag says (journals written before the flag existed lack it). Stages: `writing`
//! (images in progress), `flushed` (every image written, flushed and verified; the slot switch
//! may or may not have happened), `installed` (switched and recorded, only the rollback index
//! could not be saved: 9058). The journal is removed once the install is recorded as a success.
//!
//! While a partition written in place was touched and the install is not complete (see
//! [`Journal::mixed`]) the device holds a mix of old and new software; the journal is then never
//! thrown away for another package unless that package rewrites every such partition.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::device::{Slot, SlotMode};
use crate::util::{atomic_write, read_bounded};
use crate::Error;

pub const JOURNAL: &str = "journal.json";
const FORMAT: u32 = 1;
/// Larger files are not a journal we wrote: ignored (and replaced) rather than parsed.
const MAX_JOURNAL_LEN: u64 = 1 << 20;

/// At most this many bytes of an image are written between two checkpoints (flush the
/// partition, then save the progress). The flush runs on a helper thread while writing goes on
/// (see `install_in`), so a checkpoint does not stall the stream.
///
/// Measured (docs/SECURITY.md, "Resume cost"): on a 1 GiB image, checkpoints every 64 MiB
/// flushed in the background made the install no slower than no checkpoints at all (the final
/// flush has less left to do); flushed inline they cost about 5 %. A power cut repeats at most
/// 64 MiB of writing per image.
pub const CHECKPOINT_BYTES: u64 = 64 << 20;
/// Smaller images get about this many checkpoints each, so even they resume part-way.
const CHECKPOINTS_PER_IMAGE: u64 = 16;

/// Bytes between checkpoints for an image of `size` bytes in chunks of `chunk_size`: a
/// sixteenth of the image, at least one chunk, at most [`CHECKPOINT_BYTES`].
pub fn checkpoint_interval(size: u64, chunk_size: u64) -> u64 {
    (size / CHECKPOINTS_PER_IMAGE).clamp(chunk_size.max(1), CHECKPOINT_BYTES.max(chunk_size))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Images are being written; `chunks_done` says how far each got.
    Writing,
    /// Every image was written, flushed and verified; only the slot switch and the bookkeeping
    /// (rollback index, installed version) may be missing.
    Flushed,
    /// Switched (A/B) and recorded, data wiped if asked; only saving the rollback index failed
    /// (9058). Running the same package again only saves it.
    Installed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageProgress {
    pub partition: String,
    pub path: PathBuf,
    /// 0 for partitions copied from the active slot (they are copied again whole on resume).
    pub chunk_size: u64,
    pub chunks: u64,
    /// Chunks known to be durably written (flushed). Never more than `chunks`.
    pub chunks_done: u64,
    /// Writing to this partition began: some of its bytes may already be new.
    #[serde(default)]
    pub started: bool,
    /// A/B: a partition shared by both slots, written in place.
    #[serde(default)]
    pub in_place: bool,
}

impl ImageProgress {
    /// True when some byte of this partition may have been overwritten.
    pub fn touched(&self) -> bool {
        self.started || self.chunks_done > 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub format: u32,
    pub manifest_sha256: String,
    pub package: String,
    pub version: String,
    pub mode: SlotMode,
    /// "a" or "b" for A/B installs.
    pub target_slot: Option<String>,
    pub stage: Stage,
    pub images: Vec<ImageProgress>,
}

impl Journal {
    pub fn new(
        manifest_sha256: &[u8; 32],
        package: &Path,
        version: &str,
        mode: SlotMode,
        target_slot: Option<Slot>,
        images: Vec<ImageProgress>,
    ) -> Journal {
        Journal {
            format: FORMAT,
            manifest_sha256: hex::encode(manifest_sha256),
            package: package.display().to_string(),
            version: version.to_string(),
            mode,
            target_slot: target_slot.map(|s| s.to_string()),
            stage: Stage::Writing,
            images,
        }
    }

    /// Whether this journal belongs to the package with this manifest hash.
    pub fn is_for(&self, manifest_sha256: &[u8; 32]) -> bool {
        self.manifest_sha256 == hex::encode(manifest_sha256)
    }

    /// Partitions written in place that writing began on.
    pub fn touched_in_place(&self) -> Vec<&str> {
        self.images
            .iter()
            .filter(|i| (self.mode == SlotMode::Single || i.in_place) && i.touched())
            .map(|i| i.partition.as_str())
            .collect()
    }

    /// Whether the device holds a mix of old and new software that only finishing an install
    /// repairs: a partition written in place was touched, and the install is not complete. In
    /// place that lasts until every image is written; on an A/B device with shared partitions,
    /// until the new slot is active (`active` is the slot active now; `None` when unknown),
    /// because until then the old slot boots with new shared partitions.
    pub fn mixed(&self, active: Option<Slot>) -> bool {
        if self.touched_in_place().is_empty() {
            return false;
        }
        match self.mode {
            SlotMode::Single => self.stage == Stage::Writing,
            SlotMode::Ab => active.is_none() || !self.targets(active),
        }
    }

    /// Whether this journal's target slot is `slot`.
    pub fn targets(&self, slot: Option<Slot>) -> bool {
        self.target_slot == slot.map(|s| s.to_string())
    }

    pub fn image(&self, partition: &str) -> Option<&ImageProgress> {
        self.images.iter().find(|i| i.partition == partition)
    }

    pub fn image_mut(&mut self, partition: &str) -> Option<&mut ImageProgress> {
        self.images.iter_mut().find(|i| i.partition == partition)
    }
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(JOURNAL)
}

/// The journal left by an interrupted install, if any. A journal that cannot be read or parsed
/// is reported as `Err` with the reason: the caller decides whether that matters (it does in
/// place, where it may hide a half-written device).
pub fn load(state_dir: &Path) -> Result<Option<Journal>, String> {
    let p = path(state_dir);
    match read_bounded(&p, MAX_JOURNAL_LEN) {
        Ok(bytes) => match serde_json::from_slice::<Journal>(&bytes) {
            Ok(j) if j.format == FORMAT => Ok(Some(j)),
            Ok(j) => Err(format!(
                "{}: journal format {} (this updater writes {FORMAT})",
                p.display(),
                j.format
            )),
            Err(e) => Err(format!("{}: {e}", p.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", p.display())),
    }
}

/// Saves the journal atomically and durably.
pub fn store(state_dir: &Path, journal: &Journal) -> Result<(), Error> {
    let p = path(state_dir);
    let err = |source| Error::StateWrite {
        path: p.clone(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(err)?;
    let mut json = serde_json::to_vec_pretty(journal).map_err(|e| Error::Internal {
        reason: e.to_string(),
    })?;
    json.push(b'\n');
    atomic_write(&p, &json).map_err(err)
}

/// Removes the journal (after success, or when it is known stale) and syncs the directory so
/// the removal is durable.
pub fn remove(state_dir: &Path) -> Result<(), Error> {
    let p = path(state_dir);
    match std::fs::remove_file(&p) {
        Ok(()) => crate::util::sync_dir(state_dir).map_err(|source| Error::StateWrite {
            path: state_dir.to_path_buf(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::StateWrite { path: p, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Journal {
        Journal::new(
            &[7u8; 32],
            Path::new("/sdcard/update.zip"),
            "1.1.0",
            SlotMode::Single,
            None,
            vec![ImageProgress {
                partition: "boot".into(),
                path: "/dev/block/boot".into(),
                chunk_size: 65536,
                chunks: 5,
                chunks_done: 0,
                started: false,
                in_place: false,
            }],
        )
    }

    #[test]
    fn round_trips_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let mut j = sample();
        store(dir.path(), &j).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(j.clone()));
        assert!(!j.mixed(None));
        j.image_mut("boot").unwrap().chunks_done = 3;
        store(dir.path(), &j).unwrap();
        let back = load(dir.path()).unwrap().unwrap();
        assert!(back.mixed(None));
        assert!(back.is_for(&[7u8; 32]));
        assert!(!back.is_for(&[8u8; 32]));
        remove(dir.path()).unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        remove(dir.path()).unwrap();
    }

    #[test]
    fn shared_partition_touched_on_ab_is_mixed_until_the_switch() {
        let mut j = sample();
        j.mode = SlotMode::Ab;
        j.target_slot = Some("b".into());
        j.images.push(ImageProgress {
            partition: "modem".into(),
            path: "/dev/block/modem".into(),
            chunk_size: 4096,
            chunks: 4,
            chunks_done: 0,
            started: false,
            in_place: true,
        });
        j.image_mut("boot").unwrap().chunks_done = 5;
        assert!(
            !j.mixed(Some(Slot::A)),
            "only the inactive slot was written"
        );
        j.image_mut("modem").unwrap().started = true;
        assert_eq!(j.touched_in_place(), ["modem"]);
        j.stage = Stage::Flushed;
        assert!(j.mixed(Some(Slot::A)), "old slot active, new modem");
        assert!(j.mixed(None), "slot unknown: assume the worst");
        assert!(!j.mixed(Some(Slot::B)), "switched: consistent");
    }

    #[test]
    fn checkpoints_are_bounded() {
        assert_eq!(checkpoint_interval(1 << 30, 1 << 20), 64 << 20);
        assert_eq!(checkpoint_interval(1 << 20, 4096), 64 << 10);
        assert_eq!(checkpoint_interval(1000, 4096), 4096);
        assert_eq!(checkpoint_interval(1 << 40, 4 << 20), 64 << 20);
    }

    #[test]
    fn garbage_is_reported_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), b"{not json").unwrap();
        assert!(load(dir.path()).is_err());
        let mut j = sample();
        j.format = 99;
        std::fs::write(path(dir.path()), serde_json::to_vec(&j).unwrap()).unwrap();
        assert!(load(dir.path()).unwrap_err().contains("format 99"));
    }
}
