//! The recovery screen: a ratatui TUI for an end user with an SD card and, on a phone, only the
//! volume and power keys.
//!
//! - [`app`]: the state machine (screens, selection, progress), pure and clock-injected; one file
//!   per concept (facts and verdicts, progress, result, keys per screen);
//! - [`view`]: drawing the state, pure; one file per screen;
//! - [`input`]: terminal bytes and Linux input events to keys;
//! - [`term`]: the terminal (controlling or `--tty`), raw mode, size, restore, panic screen;
//! - this module: the runtime that connects them to a [`Device`] and to the install engine.
//!
//! The engine never draws: the install runs on its own thread with a
//! [`ChannelSink`](crate::install::events::ChannelSink) and this screen is one more consumer of its
//! events. The screen keeps redrawing while the engine writes.

pub mod app;
pub mod input;
pub mod term;
pub mod view;

#[cfg(test)]
mod tests;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use ratatui::layout::Rect;

use crate::device::storage::{scan_folders, Finder, Found};
use crate::device::Device;
use crate::error::{Code, HasCode};
use crate::install::events::{ChannelSink, Collect, Event};
use crate::install::{self, Options as InstallOptions};
use crate::{package, state, Error};

pub use app::{App, DeviceFacts, Effect, Failure, Msg, PackageInfo, PowerAction};

/// How the screen runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Draw on this console (e.g. /dev/tty1) instead of the controlling terminal.
    pub tty: Option<PathBuf>,
    /// Size to use when the terminal reports none (a serial console reads 0x0).
    pub size: Option<(u16, u16)>,
    /// Input event devices for hardware keys; `None` finds /dev/input/event* with volume or
    /// power keys.
    pub inputs: Option<Vec<PathBuf>>,
    /// Draw the first screen and return (start-up benchmark).
    pub exit_after_first_frame: bool,
    /// Panic right after the first frame (tests the panic screen).
    pub test_panic: bool,
    /// Folders to search besides the profile's `storage`, asked again at every scan (the
    /// recovery init's cards, including sticks inserted while the screen is open).
    pub find_storage: Option<Finder>,
}

/// How the screen ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub action: PowerAction,
    /// Time from `run` being called to the first frame being written.
    pub first_frame: Duration,
}

/// Redraw and countdown period while nothing else happens.
const TICK: Duration = Duration::from_millis(100);

fn coded(e: &Error) -> (Code, String) {
    (e.code(), e.to_string())
}

/// Reads what the home screen shows. Every fact that cannot be read is shown with its code.
pub fn read_facts(device: &dyn Device) -> DeviceFacts {
    let p = device.profile();
    DeviceFacts {
        product: p.product.clone(),
        hardware_revision: device.hardware_revision().map_err(|e| coded(&e)),
        baseband: device.baseband().map_err(|e| coded(&e)),
        current_version: device.current_version(),
        active_slot: match device.slot_control() {
            Ok(None) => Ok(None),
            Ok(Some(sc)) => sc.state().map(|s| Some(s.active)).map_err(|e| coded(&e)),
            Err(e) => Err(coded(&e)),
        },
        battery: device.battery().map_err(|e| coded(&e)),
        state_dir: p.state_dir.clone(),
        free_space: device
            .free_space(&p.state_dir)
            .map_err(|e| (Code::DeviceFact, e.to_string())),
        storage: p.storage.clone(),
    }
}

/// "sdcard/update.zip": the path from its storage root's name down.
fn short_name(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    match root.file_name() {
        Some(r) => Path::new(r).join(rel).display().to_string(),
        None => rel.display().to_string(),
    }
}

/// Runs every check on one package (nothing is written) and summarises it. `precheck`: the user
/// picked this package (the pre-check screen), so a failure is logged to `last_log` as a
/// headless failure is; the scan of the list logs nothing.
pub fn inspect_package(
    device: &dyn Device,
    path: &Path,
    name: String,
    size: u64,
    precheck: bool,
) -> PackageInfo {
    let mut events = Collect::default();
    let result = if precheck {
        install::check_logged(path, device, &mut events)
    } else {
        install::check(path, device, &mut events)
    };
    let failure = result.as_ref().err().map(|e| Failure {
        code: e.code(),
        message: e.to_string(),
    });
    // The version a package claims, for the list; it is marked by the signature column and only
    // the signed manifest (in the plan) is used for anything else.
    let version = package::open_unsigned(path)
        .ok()
        .and_then(|o| o.manifest_unverified().ok())
        .map(|m| m.version);
    PackageInfo::from_check(
        path.to_path_buf(),
        name,
        size,
        version,
        device.current_version().as_deref(),
        &events.0,
        failure,
    )
}

/// Scans the profile's storage folders and `extra` ones, and inspects every package found.
pub fn scan(device: &dyn Device, extra: &[PathBuf]) -> Vec<PackageInfo> {
    let p = device.profile();
    let mut roots = p.storage.clone();
    roots.extend(extra.iter().cloned());
    scan_folders(&roots, &p.package_names)
        .into_iter()
        .map(|Found { path, size, root }| {
            let name = short_name(&path, &root);
            inspect_package(device, &path, name, size, false)
        })
        .collect()
}

/// Wipe data / factory reset: erases the profile's data-role `[[wipe]]` partitions through the
/// device layer's one wipe policy. A profile that names none gets WIPE_NOT_CONFIGURED and nothing
/// is touched.
pub fn wipe_data(device: &dyn Device) -> Result<(), Error> {
    device.wipe(crate::device::WipeRole::Data).map(drop)
}

/// Runs the recovery screen until the user picks a power action (or Ctrl-C outside an
/// install). The terminal is restored before this returns, whatever happens.
pub fn run(device: Arc<dyn Device>, opts: &Options) -> Result<Outcome, Error> {
    let start = Instant::now();
    let internal = |what: &str, e: std::io::Error| Error::Internal {
        reason: format!("{what}: {e}"),
    };
    let mut tty = term::Tty::open(opts.tty.as_deref(), opts.size)
        .map_err(|e| internal("opening the terminal", e))?;
    term::install_panic_hook();
    let mut terminal = tty.enter().map_err(|e| internal("terminal setup", e))?;
    let (tx, rx) = mpsc::channel::<Msg>();
    // SIGTERM, SIGHUP and SIGQUIT become a quit request (as Ctrl-C in raw mode does): the screen
    // then restores the terminal before exiting, and while flash is being written the request is
    // refused like any other. Blocked here, before any thread starts, so every thread inherits
    // the mask and only the waiting thread receives them.
    let signals = quit_signals();
    let old_mask = signals.thread_swap_mask(SigmaskHow::SIG_BLOCK).ok();
    let _unblock = Unblock(old_mask);
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            while let Ok(_sig) = signals.wait() {
                if tx.send(Msg::Key(input::Key::Interrupt)).is_err() {
                    return;
                }
            }
        });
    }

    let mut app = App::new(read_facts(&*device), start.elapsed());
    let devices = opts
        .inputs
        .clone()
        .unwrap_or_else(input::discover_key_devices);
    app.hardware_keys = !devices.is_empty();

    let mut size = tty.size();
    terminal
        .draw(|f| view::draw(f, &app))
        .map_err(|e| internal("drawing", e))?;
    let first_frame = start.elapsed();
    if opts.exit_after_first_frame {
        tty.restore();
        return Ok(Outcome {
            action: PowerAction::Exit,
            first_frame,
        });
    }
    if opts.test_panic {
        panic!("panic requested with --test-panic");
    }

    if let Some(inp) = tty.input.as_ref().and_then(|f| f.try_clone().ok()) {
        let tx = tx.clone();
        std::thread::spawn(move || keyboard_thread(inp, tx));
    }
    for dev in devices {
        let tx = tx.clone();
        std::thread::spawn(move || {
            // Opening a FIFO blocks until its writer opens it: that is fine on this thread.
            if let Ok(f) = std::fs::File::open(&dev) {
                let _ = input::read_input_events(f, |k| tx.send(Msg::Key(k)).is_ok());
            }
        });
    }

    let cancel = Arc::new(AtomicBool::new(false));
    loop {
        let first = match rx.recv_timeout(TICK) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => Msg::Tick,
        };
        let mut effects = app.update(first, start.elapsed());
        while let Ok(m) = rx.try_recv() {
            effects.extend(app.update(m, start.elapsed()));
        }
        effects.extend(app.update(Msg::Tick, start.elapsed()));
        let now_size = tty.size();
        if now_size != size {
            size = now_size;
            terminal.backend_mut().set_size(size);
            terminal
                .resize(Rect::new(0, 0, size.0, size.1))
                .map_err(|e| internal("resizing", e))?;
            tty.resized(size);
        }
        terminal
            .draw(|f| view::draw(f, &app))
            .map_err(|e| internal("drawing", e))?;
        for effect in effects {
            let find = opts.find_storage.as_ref();
            if let Some(action) = perform(effect, &app, &device, &tx, &cancel, find) {
                drop(terminal);
                tty.restore();
                return Ok(Outcome {
                    action,
                    first_frame,
                });
            }
        }
    }
}

fn quit_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT] {
        set.add(s);
    }
    set
}

/// Puts the signal mask back when the screen is done.
struct Unblock(Option<SigSet>);

impl Drop for Unblock {
    fn drop(&mut self) {
        if let Some(old) = self.0.take() {
            let _ = old.thread_set_mask();
        }
    }
}

fn keyboard_thread(mut inp: std::fs::File, tx: Sender<Msg>) {
    let mut parser = input::TermParser::default();
    let mut buf = [0u8; 256];
    loop {
        match inp.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                for k in parser.feed(&buf[..n]) {
                    if tx.send(Msg::Key(k)).is_err() {
                        return;
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Does one piece of work for the state machine; results come back as messages. Returns the
/// power action when the screen is done.
fn perform(
    effect: Effect,
    app: &App,
    device: &Arc<dyn Device>,
    tx: &Sender<Msg>,
    cancel: &Arc<AtomicBool>,
    find_storage: Option<&Finder>,
) -> Option<PowerAction> {
    let state_dir = device.profile().state_dir.clone();
    match effect {
        Effect::Power(a) => return Some(a),
        Effect::Scan => {
            let (device, tx, find) = (device.clone(), tx.clone(), find_storage.cloned());
            std::thread::spawn(move || {
                let extra = find.map(|f| (f.0)()).unwrap_or_default();
                let _ = tx.send(Msg::Scanned(scan(&*device, &extra)));
            });
        }
        Effect::Check(path) => {
            let (name, _) = app
                .packages
                .iter()
                .find(|p| p.path == path)
                .map(|p| (p.name.clone(), p.size))
                .unwrap_or_else(|| (path.display().to_string(), 0));
            let (device, tx) = (device.clone(), tx.clone());
            std::thread::spawn(move || {
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                let info = inspect_package(&*device, &path, name, size, true);
                let _ = tx.send(Msg::Checked(Box::new(info)));
            });
        }
        Effect::Install(path) => {
            cancel.store(false, Ordering::SeqCst);
            let (ev_tx, ev_rx) = mpsc::channel::<Event>();
            let opts = InstallOptions {
                cancel: Some(cancel.clone()),
            };
            let dev = device.clone();
            let worker = std::thread::spawn(move || {
                let mut sink = ChannelSink(ev_tx);
                install::apply(&path, &*dev, &mut sink, &opts)
            });
            let tx = tx.clone();
            // Forwards the engine's events in order, then the result once the engine (and with
            // it the sender) is gone, so the result never overtakes an event.
            std::thread::spawn(move || {
                for ev in ev_rx {
                    if tx.send(Msg::Engine(ev)).is_err() {
                        return;
                    }
                }
                let record = worker.join().unwrap_or_else(|_| state::InstallRecord {
                    package: String::new(),
                    manifest_sha256: None,
                    from_version: None,
                    to_version: None,
                    target_slot: None,
                    result: "failure".into(),
                    code: Code::Internal.number(),
                    name: Code::Internal.name().into(),
                    message: "the install thread stopped unexpectedly".into(),
                    fix: Code::Internal.fix().into(),
                    started_at: String::new(),
                    finished_at: String::new(),
                    duration_ms: 0,
                    bytes_written: 0,
                    timings: vec![],
                    warnings: vec![],
                });
                let _ = tx.send(Msg::InstallDone(Box::new(record)));
            });
        }
        Effect::Cancel => cancel.store(true, Ordering::SeqCst),
        Effect::LoadLog => {
            let path = state_dir.join(state::LAST_LOG);
            let text = crate::util::read_bounded(&path, 8 << 20)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            let _ = tx.send(Msg::LogLoaded { path, text });
        }
        Effect::LoadLastInstall => {
            let r = state::read_last_install(&state_dir).map(Box::new);
            let _ = tx.send(Msg::LastInstall(r));
        }
        Effect::RefreshFacts => {
            let _ = tx.send(Msg::Facts(Box::new(read_facts(&**device))));
        }
        Effect::Wipe => {
            let r = wipe_data(&**device).map_err(|e| Failure {
                code: e.code(),
                message: e.to_string(),
            });
            let _ = tx.send(Msg::Wiped(r));
        }
    }
    None
}
