//! The recovery screen: a ratatui TUI for an end user with an SD card and, on a phone, only the
//! volume and power keys.
//!
//! - [`app`]: the state machine (screens, selection, progress), pure and clock-injected; one file
//!   per concept (progress, result, keys per screen);
//! - [`view`]: drawing the state, pure; one file per screen;
//! - [`input`]: terminal bytes and Linux input events to keys;
//! - [`term`]: the terminal (controlling or `--tty`), raw mode, size, restore, panic screen;
//! - this module: the runtime that connects them to a [`Device`] through the engine's facade
//!   ([`crate::app`]: facts, scan and checks, install, wipe, record). The screen draws and reads
//!   keys; every decision about the device or a package is the facade's.
//!
//! The engine never draws: the install runs on its own thread with a
//! [`ChannelSink`] and this screen is one more consumer of its
//! events. The screen keeps redrawing while the engine writes.

pub mod app;
pub mod input;
pub mod term;
pub mod view;

#[cfg(test)]
mod tests;

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use ratatui::layout::Rect;

use crate::app as facade;
use crate::device::storage::Finder;
use crate::device::Device;
use crate::install::events::{ChannelSink, Event};
use crate::install::Options as InstallOptions;
use crate::state::InstallRecord;
use crate::Error;

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

    let mut app = App::new(facade::read_facts(&*device), start.elapsed());
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
            action: PowerAction::Wait,
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
    match effect {
        Effect::Power(a) => return Some(a),
        Effect::Scan => {
            let (device, tx, find) = (device.clone(), tx.clone(), find_storage.cloned());
            std::thread::spawn(move || {
                let extra = find.map(|f| (f.0)()).unwrap_or_default();
                let _ = tx.send(Msg::Scanned(facade::scan(&*device, &extra)));
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
                let info = facade::inspect_package(&*device, &path, name, size, true);
                let _ = tx.send(Msg::Checked(Box::new(info)));
            });
        }
        Effect::Install(path) => on_engine(
            device,
            tx,
            cancel,
            move |dev, sink, opts| facade::install(&path, dev, sink, opts),
            |done| {
                Msg::InstallDone(Box::new(done.unwrap_or_else(|_| {
                    InstallRecord::internal("the install thread stopped unexpectedly")
                })))
            },
        ),
        Effect::Cancel => cancel.store(true, Ordering::SeqCst),
        Effect::Sideload(addr) => sideload(addr, device, tx, cancel),
        Effect::StopSideload(addr) => {
            cancel.store(true, Ordering::SeqCst);
            // Wake the wait for a connection: ours closes at once and the server sees the flag.
            let port = addr.rsplit_once(':').map_or("5555", |(_, p)| p);
            let _ = std::net::TcpStream::connect(format!("127.0.0.1:{port}"));
        }
        Effect::LoadLog => {
            let path = facade::last_log_path(&**device);
            let text = facade::read_last_log(&**device);
            let _ = tx.send(Msg::LogLoaded { path, text });
        }
        Effect::LoadLastInstall => {
            let r = facade::read_last_install(&**device).map(Box::new);
            let _ = tx.send(Msg::LastInstall(r));
        }
        Effect::RefreshFacts => {
            let _ = tx.send(Msg::Facts(Box::new(facade::read_facts(&**device))));
        }
        Effect::Wipe => {
            let r = facade::wipe_data(&**device)
                .map(drop)
                .map_err(|e| Failure::from(&e));
            let _ = tx.send(Msg::Wiped(r));
        }
    }
    None
}

/// "Apply update from ADB" on a worker: engine events and the end of the session come back as
/// messages, in order.
fn sideload(addr: String, device: &Arc<dyn Device>, tx: &Sender<Msg>, cancel: &Arc<AtomicBool>) {
    use facade::sideload::Ended;
    on_engine(
        device,
        tx,
        cancel,
        move |dev, sink, opts| facade::sideload::sideload(&addr, dev, sink, opts),
        |done| match done {
            Ok(Ended::Installed(record)) => Msg::InstallDone(record),
            Ok(Ended::Power(action, _)) => Msg::SideloadPower(action),
            Err(_) => Msg::InstallDone(Box::new(InstallRecord::internal(
                "the sideload thread stopped unexpectedly",
            ))),
        },
    );
}

/// Runs `job` (an install or a sideload through the facade) on a worker with a fresh cancel
/// flag and a channel sink. A second thread forwards the engine's events in order, then
/// `done(result)` once the worker (and with it the sender) is gone, so the result never
/// overtakes an event.
fn on_engine<T: Send + 'static>(
    device: &Arc<dyn Device>,
    tx: &Sender<Msg>,
    cancel: &Arc<AtomicBool>,
    job: impl FnOnce(&dyn Device, &mut dyn crate::install::Sink, &InstallOptions) -> T + Send + 'static,
    done: impl FnOnce(std::thread::Result<T>) -> Msg + Send + 'static,
) {
    cancel.store(false, Ordering::SeqCst);
    let (ev_tx, ev_rx) = mpsc::channel::<Event>();
    let opts = InstallOptions {
        cancel: Some(cancel.clone()),
    };
    let dev = device.clone();
    let worker = std::thread::spawn(move || {
        let mut sink = ChannelSink(ev_tx);
        job(&*dev, &mut sink, &opts)
    });
    let tx = tx.clone();
    std::thread::spawn(move || {
        for ev in ev_rx {
            if tx.send(Msg::Engine(ev)).is_err() {
                return;
            }
        }
        let _ = tx.send(done(worker.join()));
    });
}
