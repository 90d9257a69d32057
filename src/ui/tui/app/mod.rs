//! The recovery screen's state machine. Pure: it takes messages (keys, engine events, results of
//! the work it asked for, clock ticks) with the current time and returns the work to do as
//! [`Effect`]s. Nothing here touches a device, a file or a terminal, so every screen can be driven
//! by synthetic messages in tests; the runtime ([`super::run`]) performs the effects.

mod keys;
mod progress;
mod result;

use std::cell::Cell;
use std::path::PathBuf;
use std::time::Duration;

use crate::install::events::Event;
use crate::state::InstallRecord;

use super::input::Key;

pub use crate::app::{CheckRow, DeviceFacts, Fact, Failure, PackageInfo, PowerAction, Verdict};
pub use progress::{PhaseRow, ProgressState, RowState};
pub use result::{Outcome, ResultState, Written};

/// How long the success screen counts down before rebooting by itself.
pub const REBOOT_COUNTDOWN: Duration = Duration::from_secs(10);

/// The screens. Each carries its own state; the home selection and the package list live in
/// [`App`] so they survive going back.
#[derive(Debug, Clone)]
pub enum Screen {
    Home,
    Packages {
        scanning: bool,
    },
    PreCheck {
        pkg: Box<PackageInfo>,
        checking: bool,
        sel: usize,
    },
    /// 0 = Cancel (the default), 1 = Install.
    Confirm {
        pkg: Box<PackageInfo>,
        sel: usize,
    },
    Progress(Box<ProgressState>),
    Result(Box<ResultState>),
    Log {
        path: PathBuf,
        lines: Option<Vec<String>>,
        /// Index of the first line shown.
        scroll: usize,
    },
    LastInstall {
        record: Option<Box<InstallRecord>>,
        loaded: bool,
    },
    /// `stage` 1 and 2 are the two confirmations; 0 = Cancel (the default), 1 = Wipe.
    Wipe {
        stage: u8,
        sel: usize,
    },
    /// "Apply update from ADB": waiting for the PC on `addr`; `status` is the latest news (a
    /// host connected). The install itself shows on [`Screen::Progress`].
    Sideload {
        addr: String,
        status: String,
    },
}

/// "Apply update from ADB" comes last so the positions of the others (which factory key
/// scripts count) stay as they were.
pub const HOME_MENU: [&str; 8] = [
    "Apply update from storage",
    "View last install",
    "View logs",
    "Wipe data / factory reset",
    "Reboot system",
    "Reboot to bootloader",
    "Power off",
    "Apply update from ADB",
];

/// Inputs to the state machine.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(Key),
    /// Time passed (the countdown, the rate); carries nothing, the time is `update`'s `now`.
    Tick,
    Facts(Box<DeviceFacts>),
    Scanned(Vec<PackageInfo>),
    Checked(Box<PackageInfo>),
    Engine(Event),
    InstallDone(Box<InstallRecord>),
    LogLoaded {
        path: PathBuf,
        text: Option<String>,
    },
    LastInstall(Option<Box<InstallRecord>>),
    Wiped(Result<(), Failure>),
    /// The PC asked for a reboot during "Apply update from ADB".
    SideloadPower(PowerAction),
}

/// Work the runtime does for the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Scan,
    Check(PathBuf),
    Install(PathBuf),
    Cancel,
    LoadLog,
    LoadLastInstall,
    RefreshFacts,
    Wipe,
    /// Serve "Apply update from ADB" on this address.
    Sideload(String),
    /// Stop waiting for the PC.
    StopSideload(String),
    /// The screen is done: the program's edge performs this through
    /// [`crate::app::perform_power`]. The screen never reboots by itself.
    Power(PowerAction),
}

pub struct App {
    pub facts: DeviceFacts,
    pub now: Duration,
    pub screen: Screen,
    pub home_sel: usize,
    pub packages: Vec<PackageInfo>,
    pub pkg_sel: usize,
    /// A one-line notice under the screen (cleared by the next key).
    pub notice: Option<String>,
    /// Hardware keys were found: hints name Vol+/Vol-/Power too.
    pub hardware_keys: bool,
    /// Lines the log viewer showed last time it was drawn (for PgUp/PgDn and clamping).
    pub log_page: Cell<usize>,
    /// When the packages screen, showing no package, looks again (a card inserted late); `None`
    /// while a scan runs or off that screen.
    pub rescan_at: Option<Duration>,
}

/// How often an empty packages screen looks for packages again.
pub const RESCAN_EVERY: Duration = Duration::from_secs(3);

impl App {
    pub fn new(facts: DeviceFacts, now: Duration) -> App {
        App {
            facts,
            now,
            screen: Screen::Home,
            home_sel: 0,
            packages: Vec::new(),
            pkg_sel: 0,
            notice: None,
            hardware_keys: false,
            log_page: Cell::new(10),
            rescan_at: None,
        }
    }

    pub fn installing(&self) -> bool {
        matches!(self.screen, Screen::Progress(_))
    }

    pub fn update(&mut self, msg: Msg, now: Duration) -> Vec<Effect> {
        self.now = now;
        match msg {
            Msg::Key(k) => self.key(k),
            Msg::Tick => self.tick(),
            Msg::Facts(f) => {
                self.facts = *f;
                vec![]
            }
            Msg::Scanned(list) => {
                self.packages = list;
                self.pkg_sel = self.pkg_sel.min(self.packages.len().saturating_sub(1));
                if let Screen::Packages { scanning } = &mut self.screen {
                    *scanning = false;
                    self.rescan_at = Some(now + RESCAN_EVERY);
                }
                vec![]
            }
            Msg::Checked(pkg) => {
                if let Some(p) = self.packages.iter_mut().find(|p| p.path == pkg.path) {
                    *p = (*pkg).clone();
                }
                if let Screen::PreCheck {
                    pkg: cur, checking, ..
                } = &mut self.screen
                {
                    if cur.path == pkg.path {
                        *cur = pkg;
                        *checking = false;
                    }
                }
                vec![]
            }
            Msg::Engine(e) if matches!(self.screen, Screen::Sideload { .. }) => {
                self.sideload_event(e, now);
                vec![]
            }
            Msg::InstallDone(record) if matches!(self.screen, Screen::Sideload { .. }) => {
                // The session ended before an install began (the PC sent a malformed request):
                // show its failure like any install's.
                self.screen =
                    Screen::Progress(Box::new(ProgressState::new("adb sideload".into(), None)));
                self.install_done(*record)
            }
            Msg::SideloadPower(a) => match self.screen {
                // No power action: back to the menu. (`adb reboot recovery` is a real restart
                // into the recovery, PowerAction::Recovery, performed like the others.)
                Screen::Sideload { .. } if a == PowerAction::Wait => self.go_home(),
                Screen::Sideload { .. } => vec![Effect::Power(a)],
                _ => vec![],
            },
            Msg::Engine(e) => {
                if let Screen::Progress(p) = &mut self.screen {
                    p.event(&e, now);
                }
                vec![]
            }
            Msg::InstallDone(record) => self.install_done(*record),
            Msg::LogLoaded { path, text } => {
                if let Screen::Log {
                    path: shown,
                    lines,
                    scroll,
                } = &mut self.screen
                {
                    let l: Option<Vec<String>> =
                        text.map(|t| t.lines().map(str::to_string).collect());
                    // Open at the end: the newest lines are what the user came for.
                    *scroll = l.as_ref().map(|l| l.len()).unwrap_or(0);
                    *lines = l;
                    *shown = path;
                }
                vec![]
            }
            Msg::LastInstall(r) => {
                if let Screen::LastInstall { record, loaded } = &mut self.screen {
                    *record = r;
                    *loaded = true;
                }
                vec![]
            }
            Msg::Wiped(r) => {
                match r {
                    Ok(()) => {
                        self.notice = Some("Data wiped.".into());
                        self.screen = Screen::Home;
                    }
                    Err(failure) => {
                        self.screen = Screen::Result(Box::new(ResultState {
                            outcome: Outcome::Failure {
                                failure,
                                written: Written::Nothing,
                                log: None,
                            },
                            reboot_at: None,
                            sel: 0,
                        }))
                    }
                }
                vec![]
            }
        }
    }

    fn tick(&mut self) -> Vec<Effect> {
        if let (Screen::Packages { scanning: false }, Some(at)) = (&self.screen, self.rescan_at) {
            if self.packages.is_empty() && self.now >= at {
                self.rescan_at = None;
                return vec![Effect::Scan];
            }
        }
        if let Screen::Result(r) = &mut self.screen {
            if let Some(at) = r.reboot_at {
                if self.now >= at {
                    r.reboot_at = None;
                    return vec![Effect::Power(PowerAction::Reboot)];
                }
            }
        }
        vec![]
    }

    /// Seconds left on the success screen's countdown.
    pub fn countdown(&self) -> Option<u64> {
        match &self.screen {
            Screen::Result(r) => r
                .reboot_at
                .map(|at| at.saturating_sub(self.now).as_secs_f64().ceil() as u64),
            _ => None,
        }
    }

    fn open_log(&mut self) -> Vec<Effect> {
        self.screen = Screen::Log {
            path: self.facts.state_dir.join(crate::state::LAST_LOG),
            lines: None,
            scroll: 0,
        };
        vec![Effect::LoadLog]
    }

    fn go_home(&mut self) -> Vec<Effect> {
        self.screen = Screen::Home;
        // Battery and free space move: show them as they are now.
        vec![Effect::RefreshFacts]
    }

    fn back_to_packages(&mut self) -> Vec<Effect> {
        self.screen = Screen::Packages { scanning: false };
        vec![]
    }
}

fn wrap_next(i: usize, n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (i + 1) % n
    }
}

fn wrap_prev(i: usize, n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (i + n - 1) % n
    }
}

/// Where "Apply update from ADB" listens: every interface, adb's port.
pub const SIDELOAD_LISTEN: &str = "0.0.0.0:5555";

impl App {
    /// An engine event while waiting for the PC: news goes to the status line; the first phase
    /// means a package is arriving, so the progress screen takes over.
    fn sideload_event(&mut self, e: Event, now: Duration) {
        match &e {
            Event::Phase { .. } => {
                let mut p = ProgressState::new("adb sideload".into(), None);
                p.event(&e, now);
                self.screen = Screen::Progress(Box::new(p));
            }
            Event::Log { message } => {
                if let Screen::Sideload { status, .. } = &mut self.screen {
                    *status = message.trim_start_matches("sideload: ").to_string();
                }
            }
            _ => {}
        }
    }
}
