//! Device policy: product, hardware revision, baseband, anti-rollback, battery, free space and
//! partition fit. Runs only on a verified package; nothing here writes.

use crate::device::{partition_path, Device, Slot, SlotMode};
use crate::error::HasCode;
use crate::install::events::{CheckName, CheckStatus, Event, PlannedImage, Sink};
use crate::package::manifest::matches_any;
use crate::package::Package;
use crate::Error;

/// Android recovery's thresholds: 20 % unplugged, 15 % on the charger.
pub const DEFAULT_MIN_BATTERY: u8 = 20;
const CHARGING_ALLOWANCE: u8 = 5;

/// Where each image goes, decided from the device's slot state.
#[derive(Debug, Clone)]
pub struct Target {
    /// Index into `Package::images`, or None for a copy from the active slot.
    pub image: Option<usize>,
    pub partition: String,
    pub path: std::path::PathBuf,
    pub bytes: u64,
    /// For copies: the active slot's partition.
    pub copy_from: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Layout {
    pub mode: SlotMode,
    pub active: Option<Slot>,
    pub target: Option<Slot>,
    pub targets: Vec<Target>,
}

pub(crate) fn report(sink: &mut dyn Sink, check: CheckName, result: &Result<String, Error>) {
    match result {
        Ok(detail) => sink.event(&Event::Check {
            check,
            status: if detail.starts_with("skipped") {
                CheckStatus::Skip
            } else {
                CheckStatus::Pass
            },
            detail: detail.clone(),
            code: None,
        }),
        Err(e) => report_err(sink, check, e),
    }
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
    let mut note = |sink: &mut dyn Sink, check: CheckName, r: Result<String, Error>| {
        report(sink, check, &r);
        if let Err(e) = r {
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
    note(sink, CheckName::Product, product);

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
    note(sink, CheckName::Hardware, hw);

    let bb = device.baseband().and_then(|bb| match bb {
        _ if m.basebands.is_empty() => Ok(bb.unwrap_or_else(|| "any (package accepts all)".into())),
        Some(bb) if matches_any(&m.basebands, &bb) => Ok(bb),
        other => Err(Error::BasebandMismatch {
            device: other.unwrap_or_else(|| "none".into()),
            accepted: m.basebands.clone(),
        }),
    });
    note(sink, CheckName::Baseband, bb);

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
    note(sink, CheckName::Rollback, rb);

    let required = profile
        .min_battery_percent
        .unwrap_or(DEFAULT_MIN_BATTERY)
        .max(m.min_battery_percent.unwrap_or(0));
    let battery = device.battery().and_then(|b| match b {
        None => Ok("skipped: no battery information (mains powered)".to_string()),
        Some(b) => {
            let need = if b.charging {
                required.saturating_sub(CHARGING_ALLOWANCE)
            } else {
                required
            };
            if b.percent >= need {
                Ok(format!(
                    "{}%{} (need {need}%)",
                    b.percent,
                    if b.charging { ", charging" } else { "" }
                ))
            } else {
                Err(Error::BatteryLow {
                    percent: b.percent,
                    required: need,
                    charging: b.charging,
                })
            }
        }
    });
    note(sink, CheckName::Battery, battery);

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
    note(sink, CheckName::Space, space);

    let layout = plan_layout(pkg, device);
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

/// Decides the target slot and checks that every image has a partition it fits in.
fn plan_layout(pkg: &Package, device: &dyn Device) -> Result<Layout, Error> {
    let profile = device.profile();
    let (active, target) = match device.slot_control()? {
        Some(sc) => {
            let st = sc.state()?;
            (Some(st.active), Some(st.active.other()))
        }
        None => (None, None),
    };
    let mut targets = Vec::new();
    for (i, img) in pkg.images().iter().enumerate() {
        let def = profile
            .partition(&img.partition)
            .ok_or_else(|| Error::UnknownPartition {
                partition: img.partition.clone(),
            })?;
        let path = partition_path(def, target);
        let size = device
            .open_partition(&path, false)?
            .size()
            .map_err(|source| Error::PartitionOpen {
                path: path.clone(),
                source,
            })?;
        if img.size > size {
            return Err(Error::ImageTooLarge {
                partition: img.partition.clone(),
                image: img.size,
                partition_size: size,
            });
        }
        targets.push(Target {
            image: Some(i),
            partition: img.partition.clone(),
            path,
            bytes: img.size,
            copy_from: None,
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
            let open_size = |p: &std::path::Path| -> Result<u64, Error> {
                device
                    .open_partition(p, false)?
                    .size()
                    .map_err(|source| Error::PartitionOpen {
                        path: p.to_path_buf(),
                        source,
                    })
            };
            let (src, dst) = (open_size(&from)?, open_size(&to)?);
            if src > dst {
                return Err(Error::ImageTooLarge {
                    partition: def.name.clone(),
                    image: src,
                    partition_size: dst,
                });
            }
            targets.push(Target {
                image: None,
                partition: def.name.clone(),
                path: to,
                bytes: src,
                copy_from: Some(from),
            });
        }
    }
    Ok(Layout {
        mode: profile.slots.mode,
        active,
        target,
        targets,
    })
}

impl Layout {
    pub fn planned(&self) -> Vec<PlannedImage> {
        self.targets
            .iter()
            .map(|t| PlannedImage {
                partition: t.partition.clone(),
                path: t.path.display().to_string(),
                bytes: t.bytes,
                source: if t.copy_from.is_some() {
                    "copy"
                } else {
                    "write"
                },
            })
            .collect()
    }
}
