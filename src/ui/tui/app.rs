//! The recovery screen's state machine. Pure: it takes messages (keys, engine events, results of
//! the work it asked for, clock ticks) with the current time and returns the work to do as
//! [`Effect`]s. Nothing here touches a device, a file or a terminal, so every screen can be driven
//! by synthetic messages in tests; the runtime ([`super::run`]) performs the effects.

use std::cell::Cell;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use crate::device::{Battery, Slot, SlotMode};
use crate::error::Code;
use crate::install::events::{CheckName, CheckStatus, Event, Phase, PlanSummary};
use crate::install::log::describe;
use crate::state::InstallRecord;

use super::input::Key;

/// How long the success screen counts down before rebooting by itself.
pub const REBOOT_COUNTDOWN: Duration = Duration::from_secs(10);
/// Lines of engine log kept for the progress screen.
const LOG_TAIL: usize = 64;

/// What the program's edge must do when the screen is done. The screen never reboots by itself:
/// the binary decides what each action means on this device (reboot(2) as the recovery init,
/// or a message and exit on a simulated device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    Reboot,
    RebootBootloader,
    PowerOff,
    /// Leave the screen without a power action (Ctrl-C on a development machine).
    Exit,
}

impl PowerAction {
    pub fn label(self) -> &'static str {
        match self {
            PowerAction::Reboot => "reboot system",
            PowerAction::RebootBootloader => "reboot to bootloader",
            PowerAction::PowerOff => "power off",
            PowerAction::Exit => "exit",
        }
    }
}

/// A device fact, or the code and reason why it could not be read.
pub type Fact<T> = Result<T, (Code, String)>;

/// What the home screen shows about the device.
#[derive(Debug, Clone)]
pub struct DeviceFacts {
    pub product: String,
    pub hardware_revision: Fact<String>,
    pub baseband: Fact<Option<String>>,
    pub current_version: Option<String>,
    /// The active slot; `None` on a single-slot device.
    pub active_slot: Fact<Option<Slot>>,
    pub battery: Fact<Option<Battery>>,
    pub state_dir: PathBuf,
    pub free_space: Fact<u64>,
    /// Where packages are looked for.
    pub storage: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Yes,
    No,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    pub check: CheckName,
    pub status: CheckStatus,
    pub detail: String,
    pub code: Option<Code>,
}

/// A failure with its code and the engine's one-line explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

/// One package found in storage, with the result of running every check on it (nothing
/// written).
#[derive(Debug, Clone)]
pub struct PackageInfo {
    pub path: PathBuf,
    /// Short name for lists: the path below its storage root.
    pub name: String,
    pub size: u64,
    /// The version its manifest names (trusted only when `signed` is Yes).
    pub version: Option<String>,
    pub signed: Verdict,
    pub newer: Verdict,
    pub for_device: Verdict,
    pub checks: Vec<CheckRow>,
    /// The first failing check's code; `None` when the package can be installed.
    pub failure: Option<Failure>,
    pub plan: Option<PlanSummary>,
}

/// Compares dotted versions part by part, numerically where both parts are numbers.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let split = |s: &str| -> Vec<String> {
        s.split(['.', '-', '+', '_'])
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let (pa, pb) = (split(a), split(b));
    for i in 0..pa.len().max(pb.len()) {
        let x = pa.get(i).map(String::as_str).unwrap_or("0");
        let y = pb.get(i).map(String::as_str).unwrap_or("0");
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

impl PackageInfo {
    /// Builds the summary from the `Check` and `Plan` events of `install::check` and its result.
    pub fn from_check(
        path: PathBuf,
        name: String,
        size: u64,
        version: Option<String>,
        current_version: Option<&str>,
        events: &[Event],
        failure: Option<Failure>,
    ) -> PackageInfo {
        let mut checks = Vec::new();
        let mut plan = None;
        for e in events {
            match e {
                Event::Check {
                    check,
                    status,
                    detail,
                    code,
                } => checks.push(CheckRow {
                    check: *check,
                    status: *status,
                    detail: detail.clone(),
                    code: *code,
                }),
                Event::Plan(p) => plan = Some(p.clone()),
                _ => {}
            }
        }
        let status = |c: CheckName| checks.iter().find(|r| r.check == c).map(|r| r.status);
        let signed = match status(CheckName::Signature) {
            Some(CheckStatus::Pass) => Verdict::Yes,
            Some(CheckStatus::Fail) => Verdict::No,
            _ if failure.is_some() && checks.is_empty() => Verdict::No,
            _ => Verdict::Unknown,
        };
        let device_checks = [CheckName::Product, CheckName::Hardware, CheckName::Baseband];
        let for_device = if device_checks
            .iter()
            .any(|c| status(*c) == Some(CheckStatus::Fail))
        {
            Verdict::No
        } else if device_checks.iter().all(|c| status(*c).is_some()) {
            Verdict::Yes
        } else {
            Verdict::Unknown
        };
        let version = plan.as_ref().map(|p| p.to_version.clone()).or(version);
        let newer = if status(CheckName::Rollback) == Some(CheckStatus::Fail) {
            Verdict::No
        } else {
            match (version.as_deref(), current_version) {
                (Some(v), Some(cur)) if signed == Verdict::Yes => {
                    if compare_versions(v, cur) == std::cmp::Ordering::Greater {
                        Verdict::Yes
                    } else {
                        Verdict::No
                    }
                }
                _ => Verdict::Unknown,
            }
        };
        PackageInfo {
            path,
            name,
            size,
            version,
            signed,
            newer,
            for_device,
            checks,
            failure,
            plan,
        }
    }
}

/// Where the failed install left the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Nothing was written: the device is unchanged.
    Nothing,
    /// Only the inactive slot was (partly) written; it is marked unbootable.
    OtherSlot { target: String, active: String },
    /// An in-place install was interrupted while writing.
    InPlace,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Success {
        to_version: String,
        target_slot: Option<String>,
        bytes_written: u64,
        warnings: Vec<String>,
        log: PathBuf,
    },
    Failure {
        failure: Failure,
        written: Written,
        log: Option<PathBuf>,
    },
}

#[derive(Debug, Clone)]
pub struct ResultState {
    pub outcome: Outcome,
    /// Success only: when the automatic reboot happens; `None` once the user stopped it.
    pub reboot_at: Option<Duration>,
    pub sel: usize,
}

impl ResultState {
    pub fn items(&self) -> Vec<&'static str> {
        match &self.outcome {
            Outcome::Success { .. } => vec!["Reboot system now", "Back to main menu"],
            Outcome::Failure { log: Some(_), .. } => vec!["View log", "Back to main menu"],
            Outcome::Failure { log: None, .. } => vec!["Back to main menu"],
        }
    }
}

/// The live install.
#[derive(Debug, Clone)]
pub struct ProgressState {
    pub package: String,
    pub plan: Option<PlanSummary>,
    pub phase: Option<Phase>,
    pub partition: Option<String>,
    pub image_done: u64,
    pub image_total: u64,
    /// Bytes done over the whole install: only ever grows.
    pub done: u64,
    pub total: u64,
    /// When the current byte-counting phase started, and `done` then.
    pub rate_base: Option<(Phase, Duration, u64)>,
    pub committed: bool,
    pub cancel_requested: bool,
    pub notice: Option<String>,
    pub log: VecDeque<String>,
}

/// One row of the progress screen's phase list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseRow {
    pub label: String,
    pub state: RowState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    Done,
    Current,
    Pending,
}

impl ProgressState {
    fn new(package: String, plan: Option<PlanSummary>) -> ProgressState {
        ProgressState {
            package,
            total: plan.as_ref().map(|p| p.total_bytes).unwrap_or(0),
            plan,
            phase: None,
            partition: None,
            image_done: 0,
            image_total: 0,
            done: 0,
            rate_base: None,
            committed: false,
            cancel_requested: false,
            notice: None,
            log: VecDeque::new(),
        }
    }

    /// Whole percent for the overall gauge: never above 99 while the install runs (100 is only
    /// shown by the result screen), and never lower than before because `done` never shrinks.
    pub fn percent(&self) -> u16 {
        if self.total == 0 {
            return 0;
        }
        ((self.done.min(self.total) * 100 / self.total) as u16).min(99)
    }

    pub fn image_percent(&self) -> u16 {
        if self.image_total == 0 {
            return 0;
        }
        ((self.image_done.min(self.image_total) * 100 / self.image_total) as u16).min(100)
    }

    /// Bytes per second in the current byte-counting phase, once there is enough to measure.
    pub fn rate(&self, now: Duration) -> Option<f64> {
        let (_, t0, d0) = self.rate_base?;
        let secs = now.checked_sub(t0)?.as_secs_f64();
        let bytes = self.done.saturating_sub(d0);
        (secs >= 0.5 && bytes > 0).then(|| bytes as f64 / secs)
    }

    pub fn seconds_left(&self, now: Duration) -> Option<u64> {
        let rate = self.rate(now)?;
        Some((self.total.saturating_sub(self.done) as f64 / rate).ceil() as u64)
    }

    /// The phases of this install, with the current one marked.
    pub fn rows(&self) -> Vec<PhaseRow> {
        /// Which engine phase (and partition) a row stands for.
        enum Stage {
            Checks,
            Verify,
            Write(String),
            Flush,
            Switch,
            Record,
        }
        let mut rows: Vec<(String, Stage)> =
            vec![("Check package and device".into(), Stage::Checks)];
        if let Some(plan) = &self.plan {
            if plan.mode == SlotMode::Single {
                rows.push(("Verify every image".into(), Stage::Verify));
            }
            for img in &plan.images {
                let verb = if img.source == "copy" {
                    "Copy"
                } else {
                    "Write"
                };
                rows.push((
                    format!(
                        "{verb} {} ({})",
                        img.partition,
                        crate::util::human_bytes(img.bytes)
                    ),
                    Stage::Write(img.partition.clone()),
                ));
            }
            rows.push(("Flush to flash".into(), Stage::Flush));
            if let Some(t) = plan.target_slot {
                rows.push((format!("Switch to slot {t}"), Stage::Switch));
            }
        }
        rows.push(("Record the result".into(), Stage::Record));
        let current = self.phase.and_then(|p| {
            // Before the first progress event of the write phase the partition is not known:
            // mark the first write row.
            let first_image = self
                .plan
                .as_ref()
                .and_then(|pl| pl.images.first())
                .map(|i| i.partition.as_str());
            let part = self.partition.as_deref().or(first_image);
            rows.iter().position(|(_, stage)| match stage {
                Stage::Checks => matches!(p, Phase::Open | Phase::Signature | Phase::Checks),
                Stage::Verify => p == Phase::Verify,
                Stage::Write(name) => p == Phase::Write && part == Some(name.as_str()),
                Stage::Flush => p == Phase::Flush,
                Stage::Switch => p == Phase::SwitchSlot,
                Stage::Record => p == Phase::Record,
            })
        });
        rows.into_iter()
            .enumerate()
            .map(|(i, (label, _))| PhaseRow {
                label,
                state: match current {
                    Some(c) if i < c => RowState::Done,
                    Some(c) if i == c => RowState::Current,
                    _ => RowState::Pending,
                },
            })
            .collect()
    }

    fn event(&mut self, e: &Event, now: Duration) {
        match e {
            Event::Phase { phase } => {
                self.phase = Some(*phase);
                self.partition = None;
                self.image_done = 0;
                self.image_total = 0;
            }
            Event::Plan(p) => {
                self.total = self.total.max(p.total_bytes);
                self.plan = Some(p.clone());
            }
            Event::Progress {
                phase,
                partition,
                image_done,
                image_total,
                done,
                total,
            } => {
                if self.rate_base.map(|(p, _, _)| p) != Some(*phase) {
                    self.rate_base = Some((*phase, now, self.done));
                }
                self.phase = Some(*phase);
                self.partition = Some(partition.clone());
                self.image_done = *image_done;
                self.image_total = *image_total;
                self.total = self.total.max(*total);
                self.done = self.done.max(*done);
            }
            Event::Committed => {
                self.committed = true;
                if self.cancel_requested {
                    self.notice =
                        Some("Too late to cancel: writing has started. Do not power off.".into());
                }
            }
            Event::Check { .. } | Event::Log { .. } => {}
        }
        if let Some(line) = describe(e) {
            for l in line.lines() {
                self.log.push_back(l.to_string());
            }
            while self.log.len() > LOG_TAIL {
                self.log.pop_front();
            }
        }
    }
}

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
}

pub const HOME_MENU: [&str; 7] = [
    "Apply update from storage",
    "View last install",
    "View logs",
    "Wipe data / factory reset",
    "Reboot system",
    "Reboot to bootloader",
    "Power off",
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

    fn install_done(&mut self, record: InstallRecord) -> Vec<Effect> {
        let Screen::Progress(p) = &self.screen else {
            return vec![];
        };
        let log = self.facts.state_dir.join(crate::state::LAST_LOG);
        let outcome = if record.success() {
            Outcome::Success {
                to_version: record.to_version.clone().unwrap_or_else(|| "?".into()),
                target_slot: record.target_slot.clone(),
                bytes_written: record.bytes_written,
                warnings: record.warnings.clone(),
                log,
            }
        } else {
            let code = Code::from_number(record.code).unwrap_or(Code::Internal);
            let written = if record.bytes_written == 0 && !p.committed {
                Written::Nothing
            } else {
                match p.plan.as_ref().map(|pl| (pl.active_slot, pl.target_slot)) {
                    Some((Some(a), Some(t))) => Written::OtherSlot {
                        target: t.to_string(),
                        active: a.to_string(),
                    },
                    _ => Written::InPlace,
                }
            };
            Outcome::Failure {
                failure: Failure {
                    code,
                    message: record.message.clone(),
                },
                written,
                log: Some(log),
            }
        };
        let success = matches!(outcome, Outcome::Success { .. });
        self.screen = Screen::Result(Box::new(ResultState {
            outcome,
            reboot_at: success.then_some(self.now + REBOOT_COUNTDOWN),
            sel: 0,
        }));
        vec![Effect::RefreshFacts]
    }

    fn key(&mut self, k: Key) -> Vec<Effect> {
        self.notice = None;
        if k == Key::Interrupt {
            return self.interrupt();
        }
        match &mut self.screen {
            Screen::Home => match k {
                Key::Up => {
                    self.home_sel = wrap_prev(self.home_sel, HOME_MENU.len());
                    vec![]
                }
                Key::Down => {
                    self.home_sel = wrap_next(self.home_sel, HOME_MENU.len());
                    vec![]
                }
                Key::Enter => self.home_select(),
                Key::Back => {
                    self.notice = Some(
                        "This is the main menu: choose Reboot system to leave recovery.".into(),
                    );
                    vec![]
                }
                _ => vec![],
            },
            Screen::Packages { scanning } => {
                let n = self.packages.len();
                match k {
                    Key::Back => self.go_home(),
                    _ if *scanning => vec![],
                    Key::Up if n > 0 => {
                        self.pkg_sel = wrap_prev(self.pkg_sel, n);
                        vec![]
                    }
                    Key::Down if n > 0 => {
                        self.pkg_sel = wrap_next(self.pkg_sel, n);
                        vec![]
                    }
                    Key::Enter if n == 0 => self.go_home(),
                    Key::Enter => {
                        let pkg = self.packages[self.pkg_sel.min(n - 1)].clone();
                        let path = pkg.path.clone();
                        self.screen = Screen::PreCheck {
                            pkg: Box::new(pkg),
                            checking: true,
                            sel: 0,
                        };
                        vec![Effect::Check(path)]
                    }
                    _ => vec![],
                }
            }
            Screen::PreCheck { pkg, checking, sel } => {
                if *checking {
                    return match k {
                        Key::Back => self.back_to_packages(),
                        _ => vec![],
                    };
                }
                // Items: [Continue | Show error] and Back.
                match k {
                    Key::Up | Key::Down | Key::Left | Key::Right => {
                        *sel = 1 - *sel;
                        vec![]
                    }
                    Key::Back => self.back_to_packages(),
                    Key::Enter if *sel == 1 => self.back_to_packages(),
                    Key::Enter => match &pkg.failure {
                        Some(f) => {
                            self.screen = Screen::Result(Box::new(ResultState {
                                outcome: Outcome::Failure {
                                    failure: f.clone(),
                                    written: Written::Nothing,
                                    log: None,
                                },
                                reboot_at: None,
                                sel: 0,
                            }));
                            vec![]
                        }
                        None => {
                            let pkg = pkg.clone();
                            self.screen = Screen::Confirm { pkg, sel: 0 };
                            vec![]
                        }
                    },
                    _ => vec![],
                }
            }
            Screen::Confirm { pkg, sel } => match k {
                Key::Up | Key::Down | Key::Left | Key::Right => {
                    *sel = 1 - *sel;
                    vec![]
                }
                Key::Back => self.back_to_packages(),
                Key::Enter if *sel == 1 => {
                    let path = pkg.path.clone();
                    let p = ProgressState::new(pkg.name.clone(), pkg.plan.clone());
                    self.screen = Screen::Progress(Box::new(p));
                    vec![Effect::Install(path)]
                }
                Key::Enter => self.back_to_packages(),
                _ => vec![],
            },
            Screen::Progress(p) => match k {
                Key::Back => {
                    if p.committed {
                        p.notice = Some(
                            "Writing has started: the update cannot be stopped now. Do not power off."
                                .into(),
                        );
                        vec![]
                    } else if p.cancel_requested {
                        vec![]
                    } else {
                        p.cancel_requested = true;
                        p.notice = Some("Cancelling: nothing has been written.".into());
                        vec![Effect::Cancel]
                    }
                }
                _ => vec![],
            },
            Screen::Result(r) => {
                if r.reboot_at.is_some() {
                    // Any key stops the automatic reboot.
                    r.reboot_at = None;
                    self.notice = Some("Automatic reboot stopped.".into());
                    return vec![];
                }
                let n = r.items().len();
                match k {
                    Key::Up | Key::Left => {
                        r.sel = wrap_prev(r.sel, n);
                        vec![]
                    }
                    Key::Down | Key::Right => {
                        r.sel = wrap_next(r.sel, n);
                        vec![]
                    }
                    Key::Back => self.go_home(),
                    Key::Enter => match r.items().get(r.sel).copied() {
                        Some("Reboot system now") => vec![Effect::Power(PowerAction::Reboot)],
                        Some("View log") => self.open_log(),
                        _ => self.go_home(),
                    },
                    _ => vec![],
                }
            }
            Screen::Log { lines, scroll, .. } => {
                let len = lines.as_ref().map(Vec::len).unwrap_or(0);
                let page = self.log_page.get().max(1);
                let max = len.saturating_sub(page);
                let cur = (*scroll).min(max);
                *scroll = match k {
                    Key::Up => cur.saturating_sub(1),
                    Key::Down => (cur + 1).min(max),
                    Key::PageUp | Key::Left => cur.saturating_sub(page.saturating_sub(1).max(1)),
                    Key::PageDown | Key::Right => (cur + page.saturating_sub(1).max(1)).min(max),
                    Key::Home => 0,
                    Key::End => max,
                    Key::Back | Key::Enter => return self.go_home(),
                    _ => cur,
                };
                vec![]
            }
            Screen::LastInstall { .. } => match k {
                Key::Back | Key::Enter => self.go_home(),
                _ => vec![],
            },
            Screen::Wipe { stage, sel } => match k {
                Key::Up | Key::Down | Key::Left | Key::Right => {
                    *sel = 1 - *sel;
                    vec![]
                }
                Key::Back => self.go_home(),
                Key::Enter if *sel == 0 => self.go_home(),
                Key::Enter if *stage == 1 => {
                    // The second confirmation starts on Cancel again.
                    *stage = 2;
                    *sel = 0;
                    vec![]
                }
                Key::Enter => vec![Effect::Wipe],
                _ => vec![],
            },
        }
    }

    fn interrupt(&mut self) -> Vec<Effect> {
        if let Screen::Progress(p) = &mut self.screen {
            if p.committed {
                p.notice = Some(
                    "Writing has started: the update cannot be stopped now. Do not power off."
                        .into(),
                );
                return vec![];
            }
            if !p.cancel_requested {
                p.cancel_requested = true;
                p.notice = Some("Cancelling: nothing has been written.".into());
                return vec![Effect::Cancel];
            }
            return vec![];
        }
        vec![Effect::Power(PowerAction::Exit)]
    }

    fn home_select(&mut self) -> Vec<Effect> {
        match self.home_sel {
            0 => {
                self.screen = Screen::Packages { scanning: true };
                self.pkg_sel = 0;
                vec![Effect::Scan]
            }
            1 => {
                self.screen = Screen::LastInstall {
                    record: None,
                    loaded: false,
                };
                vec![Effect::LoadLastInstall]
            }
            2 => self.open_log(),
            3 => {
                self.screen = Screen::Wipe { stage: 1, sel: 0 };
                vec![]
            }
            4 => vec![Effect::Power(PowerAction::Reboot)],
            5 => vec![Effect::Power(PowerAction::RebootBootloader)],
            _ => vec![Effect::Power(PowerAction::PowerOff)],
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
