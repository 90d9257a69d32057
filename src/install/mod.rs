//! The install engine: open → signature → checks → plan → (verify) → write → flush → switch slot
//! → record. It reports through a [`Sink`] and never draws.
//!
//! Where to read: [`check`] opens, verifies and runs the device [`checks`] (which also lay out
//! which images go where, in what order, from where); an install then builds a [`plan`] value
//! first, what to do about an earlier attempt included ([`resume`]), and carries it out step by
//! step ([`execute`]: verify in place, write or copy each image ([`write`]), flush and switch,
//! finish). Every target is written through the flash seam ([`crate::device::target`]).
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
mod execute;
pub mod journal;
pub mod lock;
pub mod log;
mod plan;
pub mod protect;
mod resume;
mod sparse_write;
pub mod stream;
mod write;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::device::Device;
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

/// Where a package comes from: a file, or another [`package::Source`] (a sideload host's
/// blocks) with the label that names it in logs and records.
#[derive(Clone, Copy)]
pub enum Input<'a> {
    Path(&'a Path),
    Source(&'a Arc<dyn package::Source>, &'a Path),
}

impl Input<'_> {
    /// The path, or the label, naming the package.
    pub fn path(&self) -> &Path {
        match self {
            Input::Path(p) | Input::Source(_, p) => p,
        }
    }
    fn open(&self) -> Result<package::Opened, Error> {
        match self {
            Input::Path(p) => package::open(p),
            Input::Source(s, label) => package::open_source(Arc::clone(s), label),
        }
    }
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

/// Byte progress across the verify and write steps of one run: the one place a
/// [`Event::Progress`] is built.
struct Progress {
    total: u64,
    done: u64,
    /// Bytes that reached a partition (chunks kept on resume do not count).
    written: u64,
}

impl Progress {
    fn new(total: u64) -> Progress {
        Progress {
            total,
            done: 0,
            written: 0,
        }
    }

    /// `n` more bytes of `partition` were handled; `image` is (done, total) within its image.
    fn advance(
        &mut self,
        run: &mut Run<'_>,
        phase: Phase,
        partition: &str,
        n: u64,
        image: (u64, u64),
    ) {
        self.done += n;
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

/// Opens and verifies the package and runs every device check. Writes nothing.
pub fn check(path: &Path, device: &dyn Device, sink: &mut dyn Sink) -> Result<Checked, Error> {
    let mut run = Run::new(sink);
    check_in(&mut run, Input::Path(path), device)
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
    let result = check_in(&mut run, Input::Path(path), device);
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

fn check_in(run: &mut Run<'_>, input: Input<'_>, device: &dyn Device) -> Result<Checked, Error> {
    run.phase(Phase::Open);
    run.log(format!("package {}", input.path().display()));
    let opened = input
        .open()
        .inspect_err(|e| {
            if matches!(e, Error::SignatureMissing { .. }) {
                checks::report_err(run.sink, CheckName::Signature, e);
            }
        })
        .map_err(|e| resume::package_gone(run, device, e))?;
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
            .filter(|t| t.source.image().is_some())
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
    let mut progress = Progress::new(total);
    for img in checked.package.images() {
        let mut whole = Sha256::new();
        let mut image_done = 0;
        let mut sparse = sparse_write::dry_run(img);
        stream::stream_image(&checked.package, img, |_, bytes| {
            whole.update(bytes);
            if let Some(x) = sparse.as_mut() {
                x.feed(bytes, &mut |_| Ok(()))?;
            }
            let n = bytes.len() as u64;
            image_done += n;
            progress.advance(
                &mut run,
                Phase::Verify,
                &img.partition,
                n,
                (image_done, img.size),
            );
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
        if let Some(x) = &sparse {
            x.finish()?;
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

/// Whether cancellation was requested.
pub fn cancelled(opts: &Options) -> bool {
    opts.cancel
        .as_ref()
        .is_some_and(|c| c.load(Ordering::SeqCst))
}

/// Plan, then execute ([`plan`], [`execute`]); `bytes_written` counts what reached a partition,
/// also when the install fails.
fn install_in(
    run: &mut Run<'_>,
    checked: &Checked,
    device: &dyn Device,
    opts: &Options,
    bytes_written: &mut u64,
) -> Result<Vec<String>, Error> {
    if cancelled(opts) {
        return Err(Error::Cancelled);
    }
    let plan = match plan::make(run, checked, device)? {
        plan::Plan::Write(p) => p,
        plan::Plan::Finish { wipe } => {
            let state_dir = &device.profile().state_dir;
            let target = checked.layout.target;
            return execute::finish(run, &checked.package, device, state_dir, wipe, target);
        }
    };
    let mut progress = Progress::new(checked.plan.total_bytes);
    let result = execute::execute(run, device, &checked.package, plan, opts, &mut progress);
    *bytes_written = progress.written;
    result
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
    apply_input(Input::Path(path), device, sink, opts)
}

/// [`apply`] for a package from any [`Input`] (a sideload host's blocks included).
pub fn apply_input(
    input: Input<'_>,
    device: &dyn Device,
    sink: &mut dyn Sink,
    opts: &Options,
) -> InstallRecord {
    let path = input.path();
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
    let result = check_in(&mut run, input, device).and_then(|checked| {
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
    let mut record = InstallRecord {
        manifest_sha256,
        from_version: plan
            .as_ref()
            .and_then(|p| p.from_version.clone())
            .or_else(|| device.current_version()),
        to_version: plan.as_ref().map(|p| p.to_version.clone()),
        target_slot: plan
            .as_ref()
            .and_then(|p| p.target_slot.map(|s| s.to_string())),
        started_at: crate::util::rfc3339(started),
        duration_ms: t0.elapsed().as_millis() as u64,
        bytes_written,
        timings,
        warnings,
        ..InstallRecord::finished(path.display().to_string(), result.as_ref().err())
    };
    let state_dir = &device.profile().state_dir;
    if record.success() {
        if let Some(slot) = plan.as_ref().and_then(|p| p.target_slot) {
            // Switched, not confirmed: the new slot is on trial until it boots and is marked
            // good (app::lifecycle).
            record.state = Some(state::InstallState::Pending);
            if let Err(e) = record_slot_versions(state_dir, slot, &record) {
                record
                    .warnings
                    .push(format!("slot versions not saved: {e}"));
            }
        }
    }
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

/// slot_versions.json after an A/B install: the new version in `slot`, and the version it was
/// installed from in the other slot when that one had none recorded yet.
fn record_slot_versions(
    state_dir: &Path,
    slot: crate::device::Slot,
    record: &InstallRecord,
) -> Result<(), Error> {
    let known = state::slot_versions(state_dir);
    let other = slot.other().to_string();
    if let (false, Some(from)) = (known.contains_key(&other), &record.from_version) {
        state::store_slot_version(state_dir, &other, from)?;
    }
    match &record.to_version {
        Some(v) => state::store_slot_version(state_dir, &slot.to_string(), v),
        None => Ok(()),
    }
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
    sink.event(&Event::Log {
        message: format!("FAILED: {}: {e}", e.code()),
    });
    let record = InstallRecord {
        started_at: crate::util::rfc3339(started),
        ..InstallRecord::failed_before_start(
            &path.display().to_string(),
            e,
            device.current_version(),
        )
    };
    sink.finish(&Finish::Installed {
        record: &record,
        log: None,
    });
    record
}
