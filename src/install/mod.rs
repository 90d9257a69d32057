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
    let opened = package::open(path).inspect_err(|e| {
        if matches!(e, Error::SignatureMissing { .. }) {
            checks::report_err(run.sink, CheckName::Signature, e);
        }
    })?;
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
            pkg.images.len(),
            crate::util::human_bytes(pkg.images.iter().map(|i| i.size).sum())
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
    let total: u64 = checked.package.images.iter().map(|i| i.size).sum();
    let mut done = 0;
    for img in &checked.package.images {
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
    let mut warnings = Vec::new();

    if cancelled(opts) {
        return Err(Error::Cancelled);
    }
    // In place, nothing may be written before the whole package is known to be intact: the
    // device has no second copy to fall back to.
    if layout.mode == SlotMode::Single {
        run.phase(Phase::Verify);
        for t in &layout.targets {
            let Some(i) = t.image else { continue };
            let img = &pkg.images[i];
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

    run.phase(Phase::Write);
    let mut slots = device.slot_control()?;
    if let (Some(sc), Some(target)) = (slots.as_mut(), layout.target) {
        // update_engine's MarkSlotUnbootable: a bootloader must never fall back to a slot we
        // are half-way through writing.
        sc.mark_unbootable(target)?;
        run.log(format!(
            "slot {target} marked unbootable while it is written"
        ));
    }
    run.sink.event(&Event::Committed);
    let mut opened: Vec<(String, Box<dyn BlockDevice>)> = Vec::new();
    for t in &layout.targets {
        let part = device.open_partition(&t.path, true)?;
        let mut image_done = 0u64;
        match (t.image, &t.copy_from) {
            (Some(i), _) => {
                let img = &pkg.images[i];
                run.log(format!(
                    "writing {} ({}) to {}",
                    img.partition,
                    crate::util::human_bytes(img.size),
                    t.path.display()
                ));
                stream::stream_image(pkg, img, |offset, bytes| {
                    part.write_all_at(bytes, offset)
                        .map_err(|source| Error::Write {
                            partition: img.partition.clone(),
                            offset,
                            source,
                        })?;
                    *bytes_written += bytes.len() as u64;
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
                })?;
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

    if let (Some(sc), Some(target)) = (slots.as_mut(), layout.target) {
        run.phase(Phase::SwitchSlot);
        sc.set_active(target)?;
        run.log(format!("slot {target} is now active (6 boot tries)"));
    }
    let profile = device.profile();
    if let Err(e) =
        state::store_rollback_index(&profile.rollback_index_file, pkg.manifest.rollback_index)
    {
        warnings.push(format!("rollback index not saved: {e}"));
    }
    if let Err(e) = state::store_installed_version(&profile.state_dir, &pkg.manifest.version) {
        warnings.push(format!("installed version not saved: {e}"));
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
