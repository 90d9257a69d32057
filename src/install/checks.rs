//! Device policy: product, hardware revision, baseband, anti-rollback, battery, free space and
//! partition fit. Runs only on a verified package; nothing here writes.

use std::path::{Path, PathBuf};

use crate::device::{partition_path, Access, Device, FlashType, Identity, Slot, SlotMode};
use crate::error::HasCode;
use crate::install::events::{CheckName, CheckStatus, Event, PlannedImage, Sink};
use crate::package::manifest::matches_any;
use crate::package::Package;
use crate::Error;

/// Android recovery's thresholds: 20 % unplugged, 15 % on the charger.
pub const DEFAULT_MIN_BATTERY: u8 = 20;
const CHARGING_ALLOWANCE: u8 = 5;

/// Where a target's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Image `i` of the package (`Package::images()[i]`): every chunk is checked against its
    /// signed hash before it is written.
    Package(usize),
    /// A/B: the active slot's copy of a slotted partition the package does not carry (this
    /// path); the copy is read back and compared.
    ActiveSlot(PathBuf),
}

impl Source {
    /// The package image, for a target written from the package.
    pub fn image(&self) -> Option<usize> {
        match self {
            Source::Package(i) => Some(*i),
            Source::ActiveSlot(_) => None,
        }
    }

    /// How the plan event names it: `write` or `copy`.
    pub fn label(&self) -> &'static str {
        match self {
            Source::Package(_) => "write",
            Source::ActiveSlot(_) => "copy",
        }
    }
}

/// One place an image goes, decided from the device's slot state.
#[derive(Debug, Clone)]
pub struct Target {
    pub partition: String,
    pub path: PathBuf,
    /// The profile's partition type: which flash handler opens `path`.
    pub kind: FlashType,
    pub source: Source,
    pub bytes: u64,
    /// Written in place: every partition of a single-slot device, and on an A/B device a
    /// partition shared by both slots (its path has no `{slot}`, e.g. a modem). No second copy
    /// exists, so the whole package is verified before its first write.
    pub in_place: bool,
    /// What `path` is to the kernel, read when the plan opened it (for the 9057 check).
    pub identity: Identity,
}

#[derive(Debug, Clone)]
pub struct Layout {
    pub mode: SlotMode,
    /// The slot the new one is made from: the booted slot when the system runs from one, else
    /// the slot the bootloader boots.
    pub active: Option<Slot>,
    pub target: Option<Slot>,
    pub targets: Vec<Target>,
    /// The target is the slot the last install switched to, not booted yet: it is written again
    /// (never the running slot), and the run says so.
    pub retargets_pending: bool,
}

/// How a check that did not fail ended, with its one-line detail.
enum Passed {
    /// The device meets the package's requirement.
    Pass(String),
    /// The check does not apply to this device (the battery check on mains power).
    Skip(String),
}

/// Reports a check that passes (`Ok`) or fails (`Err`).
pub(crate) fn report(sink: &mut dyn Sink, check: CheckName, result: &Result<String, Error>) {
    match result {
        Ok(detail) => report_passed(sink, check, &Passed::Pass(detail.clone())),
        Err(e) => report_err(sink, check, e),
    }
}

fn report_passed(sink: &mut dyn Sink, check: CheckName, passed: &Passed) {
    let (status, detail) = match passed {
        Passed::Pass(d) => (CheckStatus::Pass, d),
        Passed::Skip(d) => (CheckStatus::Skip, d),
    };
    sink.event(&Event::Check {
        check,
        status,
        detail: detail.clone(),
        code: None,
    });
}

pub(crate) fn report_err(sink: &mut dyn Sink, check: CheckName, e: &Error) {
    sink.event(&Event::Check {
        check,
        status: CheckStatus::Fail,
        detail: e.to_string(),
        code: Some(e.code()),
    });
}

/// Runs every policy check, reporting each; returns the first failure in check order.
pub fn run(pkg: &Package, device: &dyn Device, sink: &mut dyn Sink) -> Result<Layout, Error> {
    let m = &pkg.manifest;
    let profile = device.profile();
    let mut first: Option<Error> = None;
    let mut note = |sink: &mut dyn Sink, check: CheckName, r: Result<Passed, Error>| match r {
        Ok(passed) => report_passed(sink, check, &passed),
        Err(e) => {
            report_err(sink, check, &e);
            first.get_or_insert(e);
        }
    };

    let product = if m.products.iter().any(|p| p == &profile.product) {
        Ok(profile.product.clone())
    } else {
        Err(Error::ProductMismatch {
            device: profile.product.clone(),
            accepted: m.products.clone(),
        })
    };
    note(sink, CheckName::Product, product.map(Passed::Pass));

    let hw = device.hardware_revision().and_then(|rev| {
        if matches_any(&m.hardware_revisions, &rev) {
            Ok(rev)
        } else {
            Err(Error::HardwareMismatch {
                device: rev,
                accepted: m.hardware_revisions.clone(),
            })
        }
    });
    note(sink, CheckName::Hardware, hw.map(Passed::Pass));

    let bb = device.baseband().and_then(|bb| match bb {
        _ if m.basebands.is_empty() => Ok(bb.unwrap_or_else(|| "any (package accepts all)".into())),
        Some(bb) if matches_any(&m.basebands, &bb) => Ok(bb),
        other => Err(Error::BasebandMismatch {
            device: other.unwrap_or_else(|| "none".into()),
            accepted: m.basebands.clone(),
        }),
    });
    note(sink, CheckName::Baseband, bb.map(Passed::Pass));

    let rb = crate::state::read_rollback_index(&profile.rollback_index_file).and_then(|stored| {
        if m.rollback_index < stored {
            Err(Error::Rollback {
                package: m.rollback_index,
                device: stored,
            })
        } else {
            Ok(format!("package {} >= device {stored}", m.rollback_index))
        }
    });
    note(sink, CheckName::Rollback, rb.map(Passed::Pass));

    note(sink, CheckName::Battery, battery(device, m));

    let state_dir = &profile.state_dir;
    let space = std::fs::create_dir_all(state_dir)
        .and_then(|_| device.free_space(state_dir))
        .map_err(|e| Error::StateWrite {
            path: state_dir.clone(),
            source: e,
        })
        .and_then(|avail| {
            if avail >= profile.min_free_state_bytes {
                Ok(format!("{} free", crate::util::human_bytes(avail)))
            } else {
                Err(Error::InsufficientStorage {
                    path: state_dir.clone(),
                    available: avail,
                    required: profile.min_free_state_bytes,
                })
            }
        });
    note(sink, CheckName::Space, space.map(Passed::Pass));

    let layout = plan_layout(pkg, device);
    if let (Ok(l), Some(t)) = (&layout, layout.as_ref().ok().and_then(|l| l.target)) {
        if l.retargets_pending {
            sink.event(&crate::install::events::Event::Log {
                message: format!(
                    "slot {t} holds the last install, not booted yet: writing slot {t} again \
                     (never the running slot {})",
                    t.other()
                ),
            });
        }
    }
    match &layout {
        Ok(l) => report(
            sink,
            CheckName::Partitions,
            &Ok(format!(
                "{} partition(s){}",
                l.targets.len(),
                l.target
                    .map(|s| format!(" in slot {s}"))
                    .unwrap_or_default()
            )),
        ),
        Err(e) => report_err(sink, CheckName::Partitions, e),
    }
    match first {
        Some(e) => Err(e),
        None => layout,
    }
}

/// The battery check: the higher of the profile's and the package's minimum, less a little on
/// the charger; skipped on mains power.
fn battery(device: &dyn Device, m: &crate::package::Manifest) -> Result<Passed, Error> {
    let profile = device.profile();
    let required = profile
        .min_battery_percent
        .unwrap_or(DEFAULT_MIN_BATTERY)
        .max(m.min_battery_percent.unwrap_or(0));
    device.battery().and_then(|b| match b {
        None => Ok(Passed::Skip(
            "skipped: no battery information (mains powered)".to_string(),
        )),
        Some(b) => {
            let need = if b.charging {
                required.saturating_sub(CHARGING_ALLOWANCE)
            } else {
                required
            };
            if b.percent >= need {
                Ok(Passed::Pass(format!(
                    "{}%{} (need {need}%)",
                    b.percent,
                    if b.charging { ", charging" } else { "" }
                )))
            } else {
                Err(Error::BatteryLow {
                    percent: b.percent,
                    required: need,
                    charging: b.charging,
                })
            }
        }
    })
}

/// Opens a target read-only through its flash handler: its size and its identity. With `need`,
/// the handler's own fit check runs first (raw NAND: 9062 when the bad blocks leave too little).
fn probe(
    device: &dyn Device,
    kind: FlashType,
    path: &Path,
    need: Option<u64>,
) -> Result<(u64, Identity), Error> {
    let t = device.open_target(kind, path, Access::Read)?;
    need.map_or(Ok(()), |n| t.fits(n))
        .and_then(|()| t.size())
        .and_then(|size| Ok((size, t.identity()?)))
        .map_err(|source| Error::PartitionOpen {
            path: path.to_path_buf(),
            source,
        })
}

/// Decides the target slot and checks that every image has a partition it fits in.
fn plan_layout(pkg: &Package, device: &dyn Device) -> Result<Layout, Error> {
    let profile = device.profile();
    // From a booted system, the running slot is the source and the other one the target,
    // whatever the slot control says: after an install that was not rebooted yet, "the slot that
    // is not active" is the running one.
    let booted = device.booted_slot()?;
    let (active, target) = match device.slot_control()? {
        Some(sc) => {
            let source = match booted {
                Some(b) => b,
                None => sc.state()?.active,
            };
            (Some(source), Some(source.other()))
        }
        None => (None, None),
    };
    let retargets_pending = booted.is_some()
        && crate::state::read_last_install(&profile.state_dir).is_some_and(|r| {
            r.state() == crate::state::InstallState::Pending
                && r.target_slot.as_deref() == target.map(|t| t.to_string()).as_deref()
        });
    let mut targets = Vec::new();
    for (i, img) in pkg.images().iter().enumerate() {
        let def = profile
            .partition(&img.partition)
            .ok_or_else(|| Error::UnknownPartition {
                partition: img.partition.clone(),
            })?;
        let path = partition_path(def, target);
        let (size, identity) = probe(device, def.kind, &path, Some(img.written_size()))?;
        // A sparse image is checked with its signed expanded size, before any write.
        if img.written_size() > size {
            return Err(Error::ImageTooLarge {
                partition: img.partition.clone(),
                image: img.written_size(),
                partition_size: size,
            });
        }
        targets.push(Target {
            partition: img.partition.clone(),
            path,
            kind: def.kind,
            source: Source::Package(i),
            bytes: img.size,
            in_place: target.is_none() || !def.slotted(),
            identity,
        });
    }
    // A/B: a slotted partition the package does not carry is copied from the active slot, so the
    // new slot is complete (update_engine does the same for partitions a partial payload omits).
    if let (Some(a), Some(t)) = (active, target) {
        for def in profile.partitions.iter().filter(|d| d.slotted()) {
            if pkg.images().iter().any(|i| i.partition == def.name) {
                continue;
            }
            let from = partition_path(def, Some(a));
            let to = partition_path(def, Some(t));
            let (src, _) = probe(device, def.kind, &from, None)?;
            let (dst, identity) = probe(device, def.kind, &to, Some(src))?;
            if src > dst {
                return Err(Error::ImageTooLarge {
                    partition: def.name.clone(),
                    image: src,
                    partition_size: dst,
                });
            }
            targets.push(Target {
                partition: def.name.clone(),
                path: to,
                kind: def.kind,
                source: Source::ActiveSlot(from),
                bytes: src,
                in_place: false,
                identity,
            });
        }
    }
    // The write order of a mixed A/B install (docs/SLOTS.md): the inactive slot first, shared
    // partitions last, right before the switch, so the device runs old software with new
    // shared partitions for as short a time as possible. Stable: package order within each.
    targets.sort_by_key(|t| t.in_place);
    super::protect::check_targets(&targets, device, active, booted)?;
    Ok(Layout {
        mode: profile.slots.mode,
        active,
        target,
        targets,
        retargets_pending,
    })
}

impl Layout {
    /// Whether some partition is written in place, so the whole package must be verified
    /// before the first write.
    pub fn writes_in_place(&self) -> bool {
        self.targets
            .iter()
            .any(|t| t.in_place && matches!(t.source, Source::Package(_)))
    }

    pub fn planned(&self) -> Vec<PlannedImage> {
        self.targets
            .iter()
            .map(|t| PlannedImage {
                partition: t.partition.clone(),
                path: t.path.display().to_string(),
                bytes: t.bytes,
                source: t.source.label(),
            })
            .collect()
    }
}
