//! The recovery init's sequence (see the module docs of [`crate::init`]): effects only, the
//! decisions come from the pure functions beside it, and the work on packages, the install, the
//! wipe and the record is the engine facade's ([`crate::app`]), as for every front end.
//!
//! [`run`] in steps: `start` (command line, profile), `setup_system` (PID 1 only),
//! `Session::plan` (the OTA command file and the mode), `Session::execute` (the command, the
//! headless install or the menu), `Session::finish` (clear the command, record warnings,
//! unmount the cards, pick the power action).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{decide, final_action, parse_cmdline, Cmdline, OtaCommand, Plan, MAX_COMMAND_LEN};
use crate::app;
use crate::device::power::PowerAction;
use crate::device::{discovery, storage, Device, Profile, ProfileDevice, WipeRole};
use crate::error::HasCode;
use crate::install::{events::Sink, Options};
use crate::state::{self, InstallRecord};
use crate::Error;

/// How much of the system the init sets up.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub profile: PathBuf,
    /// PID 1 (or `init --system`): mount pseudo filesystems, load modules, open the console,
    /// mount the profile's filesystems and removable cards. Without it only the decision and the
    /// install run (for tests and for calling from another init).
    pub system: bool,
    /// The kernel command line (read from /proc/cmdline when `system` and not given).
    pub cmdline: Option<String>,
}

/// What the init did.
#[derive(Debug)]
pub struct Outcome {
    pub plan: Plan,
    pub success: bool,
    /// The install record when an install was attempted.
    pub record: Option<InstallRecord>,
    pub action: PowerAction,
    /// 0, or the code of the failure (the record's, or one without a record).
    pub code: u16,
}

impl Outcome {
    /// A run that ended before any plan was carried out (no profile, an unsafe system set-up).
    fn stopped(e: &Error, action: PowerAction) -> Outcome {
        Outcome {
            plan: Plan::Menu,
            success: false,
            record: None,
            action,
            code: e.code().number(),
        }
    }

    /// The exit status of `init` run as a command ([`state::exit_status`]).
    pub fn exit_status(&self) -> u8 {
        state::exit_status(self.code)
    }
}

/// Prints a line on the console (stderr is the console after setup).
fn say(msg: &str) {
    eprintln!("recovery: {msg}");
}

fn show_error(e: &Error) {
    crate::ui::plain::print_failure(e.code(), &e.to_string());
}

/// Shows `e` and saves it as last_install.json: no install could even start.
fn record_failure(device: &dyn Device, package: &str, e: &Error) -> InstallRecord {
    show_error(e);
    let r = InstallRecord::failed_before_start(package, e, device.current_version());
    save(device, &r);
    r
}

/// Saves the record; a state directory that cannot take it is a console warning.
fn save(device: &dyn Device, record: &InstallRecord) {
    if let Err(w) = app::save_record(device, record) {
        say(&format!("warning: {w}"));
    }
}

/// Removes the command file durably so it runs once.
fn clear_command(path: &Path) -> Option<String> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            let dir = path.parent().unwrap_or_else(|| Path::new("/"));
            crate::util::sync_dir(dir)
                .err()
                .map(|e| format!("{}: {e}", dir.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(format!("cannot clear {}: {e}", path.display())),
    }
}

/// Installs `path` headless, printing progress on the console. Returns the record.
fn apply_one(path: &Path, device: &dyn Device) -> InstallRecord {
    let mut sink = crate::ui::plain::PlainReporter::stderr();
    let r = app::install(
        path,
        device,
        &mut sink as &mut dyn Sink,
        &Options::default(),
    );
    // A failure was printed by the reporter, with the one failure printer.
    if r.success() {
        say(&format!(
            "installed {} from {} ({} bytes written)",
            r.to_version.as_deref().unwrap_or("?"),
            path.display(),
            r.bytes_written
        ));
    }
    r
}

/// The interactive menu: device, the card finder (mount points of the cards, mounting any that
/// appeared since it was last asked), viewport (cols, rows).
pub type MenuFn<'a> =
    dyn FnMut(&ProfileDevice, &storage::Finder, (u16, u16)) -> Option<PowerAction> + 'a;

/// Runs the init sequence and returns what to do next; the caller performs the power action.
/// `menu` runs the interactive menu over the profile's storage and the discovered cards, on a
/// screen of the given size, and returns the power action the user chose (`None` when the menu
/// could not run).
pub fn run(opts: &InitOptions, menu: &mut MenuFn<'_>) -> Outcome {
    let (cmdline, device) = match start(opts) {
        Ok(started) => started,
        Err(outcome) => return *outcome,
    };
    let mut session = Session {
        system: opts.system,
        cmdline,
        device,
        warnings: Vec::new(),
        discovered: discovery::Discovered::default(),
    };
    if opts.system {
        if let Err(e) = setup_system(session.device.profile(), &mut session.warnings) {
            // Going on would mean guessing which partition is the state, misc or a slot.
            show_error(&e);
            let on_failure = session.device.profile().init.on_failure;
            return Outcome::stopped(&e, session.cmdline.on_failure.unwrap_or(on_failure));
        }
    }
    // The A/B life: when the last install's slot did not start and the bootloader came back,
    // the record says so (fell_back, 9121) before anything else reads it.
    if let Ok(Some(r)) = crate::app::lifecycle::refresh(&session.device) {
        if r.state() == crate::state::InstallState::FellBack {
            say(&format!(
                "last update returned to the previous version: {}",
                r.message
            ));
        }
    }
    let (plan, command_path) = session.plan();
    let done = session.execute(&plan, &command_path, menu);
    session.finish(plan, &command_path, done)
}

/// What one run carries from step to step.
struct Session {
    system: bool,
    cmdline: Cmdline,
    device: ProfileDevice,
    /// Problems that left the recovery usable; added to the record.
    warnings: Vec<String>,
    /// The cards mounted so far; unmounted when the session ends.
    discovered: discovery::Discovered,
}

/// What carrying out the plan gave.
struct Done {
    success: bool,
    record: Option<InstallRecord>,
    /// The power action the user picked on the menu.
    chosen: Option<PowerAction>,
}

impl Session {
    /// Reads the OTA command file and decides what to do. Returns the plan and the command
    /// file's path.
    fn plan(&mut self) -> (Plan, PathBuf) {
        let profile = self.device.profile();
        let command_path = profile.command_file();
        let command_text = match crate::util::read_bounded(&command_path, MAX_COMMAND_LEN) {
            Ok(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(format!("unreadable: {e}")),
        };
        let plan = decide(command_text.as_deref(), profile.init.mode, &self.cmdline);
        say(&format!("plan: {}", describe(&plan)));
        // Cards are searched in headless mode and offered on the recovery screen.
        if self.system && matches!(plan, Plan::Headless | Plan::Menu) {
            self.discover_cards();
        }
        (plan, command_path)
    }

    /// Mounts the cards that appeared since the last look (PID 1 only).
    fn discover_cards(&mut self) {
        discover_cards(
            self.device.profile(),
            &mut self.discovered,
            &mut self.warnings,
        );
    }

    /// Carries out the plan: the OTA command, the headless install or the menu.
    fn execute(&mut self, plan: &Plan, command_path: &Path, menu: &mut MenuFn<'_>) -> Done {
        let done = |success, record| Done {
            success,
            record,
            chosen: None,
        };
        match plan {
            Plan::Command(c) => {
                let (ok, r) = run_command(c, &self.device);
                done(ok, r)
            }
            Plan::BadCommand(reason) => {
                let e = Error::CommandFile {
                    path: command_path.to_path_buf(),
                    reason: reason.clone(),
                };
                done(false, Some(record_failure(&self.device, "", &e)))
            }
            Plan::Headless => {
                let system = self.system;
                let (device, discovered, warnings) =
                    (&self.device, &mut self.discovered, &mut self.warnings);
                let mut look = || {
                    if system {
                        discover_cards(device.profile(), discovered, warnings);
                    }
                    discovered.roots()
                };
                match headless(device, &mut look) {
                    Ok((ok, r)) => done(ok, r),
                    // The factory line's fallback: no card, so take the package from a PC.
                    Err(e) if device.profile().init.sideload_when_nothing_found => {
                        show_error(&e);
                        say("no package found: waiting for `adb sideload` instead");
                        let (ok, r, chosen) = sideload(device);
                        Done {
                            success: ok,
                            record: r,
                            chosen,
                        }
                    }
                    Err(e) => done(false, Some(record_failure(device, "", &e))),
                }
            }
            Plan::Sideload => {
                let (ok, r, chosen) = sideload(&self.device);
                Done {
                    success: ok,
                    record: r,
                    chosen,
                }
            }
            Plan::Menu => {
                let profile = self.device.profile();
                let viewport = super::viewport(profile.init.viewport.as_deref(), &self.cmdline);
                let chosen = run_menu(
                    &self.device,
                    self.system,
                    viewport,
                    &mut self.discovered,
                    menu,
                );
                Done {
                    success: chosen.is_some(),
                    record: None,
                    chosen,
                }
            }
        }
    }

    /// Clears a command that ran, adds the warnings to the record, unmounts the cards and picks
    /// the power action.
    fn finish(self, plan: Plan, command_path: &Path, done: Done) -> Outcome {
        let Session {
            cmdline,
            device,
            mut warnings,
            discovered,
            ..
        } = self;
        let Done {
            success,
            mut record,
            chosen,
        } = done;
        if matches!(plan, Plan::Command(_) | Plan::BadCommand(_)) {
            warnings.extend(clear_command(command_path));
        }
        if let Some(r) = record.as_mut() {
            if !warnings.is_empty() {
                r.warnings.extend(warnings.iter().cloned());
                save(&device, r);
            }
        }
        // Unmount the cards before anything reboots.
        drop(discovered);
        let init = &device.profile().init;
        let action = chosen
            .unwrap_or_else(|| final_action(success, &plan, init.after, init.on_failure, &cmdline));
        say(&format!(
            "{}; next: {}",
            if success { "done" } else { "failed" },
            action_name(action)
        ));
        Outcome {
            plan,
            success,
            code: record.as_ref().map_or(0, |r| r.code),
            record,
            action,
        }
    }
}

/// PID 1's set-up once the profile is loaded: modules, a settled block device list, the
/// console, the by-name links, the profile's mounts. Problems that leave the recovery usable are
/// added to `warnings`; an error is returned when going on would be unsafe (a by-name name that
/// two internal partitions carry, 9061, or links with no internal disk to take them from).
fn setup_system(profile: &Profile, warnings: &mut Vec<String>) -> Result<(), Error> {
    match super::modules::load(
        &profile
            .init
            .module_dir
            .clone()
            .unwrap_or_else(super::modules::default_dir),
        &profile.init.modules,
    ) {
        Ok(loaded) if !loaded.is_empty() => say(&format!("loaded modules: {}", loaded.join(" "))),
        Ok(_) => {}
        Err(e) => {
            show_error(&e);
            warnings.push(e.to_string());
        }
    }
    // 1.5 s without change: usb-storage waits 1 s (its delay_use) after the stick is
    // enumerated before its disk appears.
    let devs = super::settle_block_devices(
        Path::new("/sys/class/block"),
        std::time::Duration::from_secs(8),
        std::time::Duration::from_millis(1500),
    );
    say(&format!("block devices: {}", devs.join(" ")));
    if let Some(c) = &profile.init.console {
        if let Err(e) = super::open_console(c) {
            show_error(&e);
        }
    }
    if profile.init.by_name_links {
        if profile.init.internal_disks.is_empty() {
            return Err(Error::Profile {
                path: profile.path.clone(),
                reason: "[init] by_name_links needs internal_disks: only the device's own disks \
                         may provide /dev/block/by-name names"
                    .into(),
            });
        }
        let made = super::make_by_name_links(
            Path::new("/sys/class/block"),
            Path::new("/dev"),
            &profile.init.internal_disks,
        )?;
        if !made.is_empty() {
            say(&format!("/dev/block/by-name: {}", made.join(", ")));
        }
    }
    if let Some(net) = &profile.init.network {
        // Drivers probe asynchronously after their module loads: the interface may take a
        // moment to appear.
        match super::net::bring_up(
            net,
            Path::new("/sys/class/net"),
            std::time::Duration::from_secs(10),
        ) {
            Ok(done) => say(&format!("network: {done}")),
            Err(e) => {
                show_error(&e);
                warnings.push(e.to_string());
            }
        }
    }
    for m in &profile.init.mounts {
        if let Err(e) = super::mount_rw(m) {
            show_error(&e);
            warnings.push(e.to_string());
        }
    }
    let _ = std::fs::create_dir_all(&profile.init.run_dir);
    Ok(())
}

/// Mounts the removable devices not mounted yet (read-only, under `<run_dir>/storage`). A device
/// that failed is not tried again, so each failure is reported once.
fn discover_cards(
    profile: &Profile,
    discovered: &mut discovery::Discovered,
    warnings: &mut Vec<String>,
) {
    let new = discovery::discover_and_mount(
        Path::new("/sys/class/block"),
        Path::new("/dev"),
        &profile.init.internal_disks,
        &profile.init.run_dir.join("storage"),
        discovered,
    );
    for m in &discovered.mounted[new.mounted..] {
        say(&format!(
            "mounted {} ({}) at {}",
            m.device.display(),
            m.fstype.kernel_name(),
            m.target.display()
        ));
    }
    for e in &discovered.failures[new.failures..] {
        show_error(e);
        warnings.push(format!("{} ({})", e, e.code()));
    }
}

/// The kernel command line and the profile (with the pseudo filesystems mounted first as PID 1).
/// A profile that cannot be loaded ends the run: the returned outcome shows its code.
fn start(opts: &InitOptions) -> Result<(Cmdline, ProfileDevice), Box<Outcome>> {
    let cmdline_text = match (&opts.cmdline, opts.system) {
        (Some(c), _) => c.clone(),
        (None, true) => std::fs::read_to_string("/proc/cmdline").unwrap_or_default(),
        (None, false) => String::new(),
    };
    let mut cmdline = parse_cmdline(&cmdline_text);
    if opts.system {
        // Before the profile: /proc and /dev must exist to read anything else. The run
        // directory is re-created from the profile below.
        for e in super::mount_pseudo(Path::new("/run/recovery")) {
            show_error(&e);
        }
        if cmdline.mode.is_none() && opts.cmdline.is_none() {
            cmdline = parse_cmdline(&std::fs::read_to_string("/proc/cmdline").unwrap_or_default());
        }
    }
    for w in &cmdline.ignored {
        say(&format!("ignoring kernel command line word {w:?}"));
    }
    let profile_path = cmdline
        .profile
        .clone()
        .unwrap_or_else(|| opts.profile.clone());
    match ProfileDevice::load(&profile_path) {
        Ok(d) => Ok((cmdline, d.in_recovery())),
        Err(e) => {
            show_error(&e);
            let action = cmdline.on_failure.unwrap_or(PowerAction::Wait);
            Err(Box::new(Outcome::stopped(&e, action)))
        }
    }
}

fn action_name(action: PowerAction) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Runs the recovery screen with a finder over the cards (mounting late ones); returns the
/// power action picked. The cards come back into `discovered` to be unmounted by the caller.
fn run_menu(
    device: &ProfileDevice,
    system: bool,
    viewport: (u16, u16),
    discovered: &mut discovery::Discovered,
    menu: &mut MenuFn<'_>,
) -> Option<PowerAction> {
    let cards = Arc::new(Mutex::new(std::mem::take(discovered)));
    let finder = card_finder(device.profile(), system, cards.clone());
    let chosen = menu(device, &finder, viewport);
    drop(finder);
    // A scan still running keeps its reference and unmounts the cards when it ends.
    if let Ok(m) = Arc::try_unwrap(cards) {
        *discovered = m.into_inner().unwrap_or_else(|p| p.into_inner());
    }
    chosen
}

/// The recovery screen's card finder: at every scan it mounts the removable devices that
/// appeared since (quietly: the screen owns the console) and returns every card's mount point.
fn card_finder(
    profile: &Profile,
    system: bool,
    cards: Arc<Mutex<discovery::Discovered>>,
) -> storage::Finder {
    let profile = profile.clone();
    storage::Finder(Arc::new(move || {
        let Ok(mut d) = cards.lock() else {
            return Vec::new();
        };
        if system {
            discovery::discover_and_mount(
                Path::new("/sys/class/block"),
                Path::new("/dev"),
                &profile.init.internal_disks,
                &profile.init.run_dir.join("storage"),
                &mut d,
            );
        }
        d.roots()
    }))
}

fn describe(plan: &Plan) -> String {
    match plan {
        Plan::Command(c) => format!(
            "OTA command: {}{}{}",
            c.update_package
                .as_ref()
                .map(|p| format!("install {}", p.display()))
                .unwrap_or_default(),
            if c.wipe_data { " wipe data" } else { "" },
            if c.wipe_cache { " wipe cache" } else { "" }
        ),
        Plan::BadCommand(e) => format!("invalid OTA command ({e})"),
        Plan::Headless => "headless install of the first valid package found".into(),
        Plan::Sideload => "install what `adb sideload` sends".into(),
        Plan::Menu => "menu".into(),
    }
}

/// Sideload mode: serves adb on `[init] sideload_listen` through the same facade as the
/// `sideload` command until a package was installed (its record, saved by the engine) or the host
/// asked for a reboot (the power action it chose).
fn sideload(device: &ProfileDevice) -> (bool, Option<InstallRecord>, Option<PowerAction>) {
    let listen = &device.profile().init.sideload_listen;
    let mut sink = crate::ui::plain::PlainReporter::stderr();
    match app::sideload::sideload(listen, device, &mut sink, &Options::default()) {
        app::sideload::Ended::Installed(r) => (r.success(), Some(*r), None),
        app::sideload::Ended::Power(action, _) => (true, None, Some(action)),
    }
}

/// Carries out an OTA command: the wipes it asks for are checked first, then the package is
/// installed, then the partitions wiped. Returns whether all of it was done, and the record.
fn run_command(c: &OtaCommand, device: &ProfileDevice) -> (bool, Option<InstallRecord>) {
    let roles: Vec<WipeRole> = [
        (c.wipe_data, WipeRole::Data),
        (c.wipe_cache, WipeRole::Cache),
    ]
    .into_iter()
    .filter_map(|(asked, role)| asked.then_some(role))
    .collect();
    let package = c
        .update_package
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    // A wipe the profile cannot do is refused before anything is installed or erased: the
    // command is done exactly as asked or not at all.
    for role in &roles {
        if let Err(e) = app::wipe::can_wipe(device, *role) {
            return (false, Some(record_failure(device, &package, &e)));
        }
    }
    let mut record = None;
    if let Some(p) = &c.update_package {
        let r = apply_one(p, device);
        if !r.success() {
            return (false, Some(r));
        }
        record = Some(r);
    }
    for role in roles {
        match app::wipe(device, role) {
            Ok(w) => w.iter().for_each(|w| say(&w.to_string())),
            Err(e) => {
                return (
                    false,
                    Some(wipe_failed(device, &package, record.as_ref(), e)),
                )
            }
        }
    }
    (true, record)
}

/// A wipe of an OTA command failed: shows it and saves the record. After an install the new
/// version is already active, so the record keeps what was installed and says both (9115).
fn wipe_failed(
    device: &ProfileDevice,
    package: &str,
    installed: Option<&InstallRecord>,
    e: Error,
) -> InstallRecord {
    let Some(r) = installed else {
        return record_failure(device, package, &e);
    };
    let e = Error::InstalledWipeFailed {
        version: r.to_version.clone().unwrap_or_default(),
        slot: match r.target_slot.as_deref() {
            Some("a") => Some(crate::device::Slot::A),
            Some("b") => Some(crate::device::Slot::B),
            _ => None,
        },
        source: Box::new(e),
    };
    show_error(&e);
    let failed = InstallRecord::failed_after_install(r, &e);
    save(device, &failed);
    failed
}

/// Seconds since the kernel booted (/proc/uptime), `None` when unreadable.
fn uptime() -> Option<std::time::Duration> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    std::time::Duration::try_from_secs_f64(secs).ok()
}

/// Calls `find` until it returns something or the boot clock (`now`) reaches `deadline`,
/// sleeping `pause` between calls. `find` runs at least once.
pub fn wait_for_packages(
    find: &mut dyn FnMut() -> Vec<storage::Found>,
    deadline: std::time::Duration,
    pause: std::time::Duration,
    now: &mut dyn FnMut() -> Option<std::time::Duration>,
    sleep: &mut dyn FnMut(std::time::Duration),
) -> Vec<storage::Found> {
    let mut announced = false;
    loop {
        let found = find();
        if !found.is_empty() {
            return found;
        }
        match now() {
            Some(t) if t < deadline => {
                if !announced {
                    say(&format!(
                        "no package yet; looking again until {} s after boot",
                        deadline.as_secs()
                    ));
                    announced = true;
                }
                sleep(pause);
            }
            _ => return found,
        }
    }
}

/// Installs the first valid package found in the profile's storage folders and the mounted
/// cards (`look` mounts cards that appeared since and returns every card's root; the facade adds
/// the profile's storage folders, see [`app::find_packages`]). While
/// nothing is found, it looks again until `[init] storage_wait_secs` after boot. Candidates are
/// tried in scan order (each root's own files first) until one installs. When all fail,
/// last_install.json keeps the FIRST failure: it is the package at the place the user was told
/// to use (the card's root), where later ones are stray copies in sub-folders; every attempt is
/// on the console, in the record's warnings, and in the rotated logs (last_log.N).
/// `Err` (9001, to record) when nothing was found by the deadline.
fn headless(
    device: &ProfileDevice,
    look: &mut dyn FnMut() -> Vec<PathBuf>,
) -> Result<(bool, Option<InstallRecord>), Error> {
    let p = device.profile();
    let mut search = app::Search::default();
    let found = wait_for_packages(
        &mut || {
            search = app::find_packages(device, &look());
            search.found.clone()
        },
        std::time::Duration::from_secs(p.init.storage_wait_secs),
        std::time::Duration::from_secs(1),
        &mut uptime,
        &mut std::thread::sleep,
    );
    if found.is_empty() {
        return Err(search.nothing_found(device));
    }
    let mut first: Option<InstallRecord> = None;
    let mut attempts = Vec::new();
    for f in &found {
        say(&format!("found {} ({} bytes)", f.path.display(), f.size));
        let r = apply_one(&f.path, device);
        if r.success() {
            return Ok((true, Some(r)));
        }
        attempts.push(format!(
            "{}: error {} {}: {}",
            f.path.display(),
            r.code,
            r.name,
            r.message
        ));
        first.get_or_insert(r);
    }
    let Some(mut r) = first else {
        return Ok((false, None));
    };
    if attempts.len() > 1 {
        say(&format!(
            "no package installed; keeping the first failure ({} {}) of {}",
            r.code,
            r.name,
            attempts.len()
        ));
        r.warnings
            .extend(attempts.iter().map(|a| format!("tried {a}")));
        save(device, &r);
    }
    Ok((false, Some(r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::time::Duration;

    fn found(n: usize) -> Vec<storage::Found> {
        (0..n)
            .map(|i| storage::Found {
                path: PathBuf::from(format!("/card/{i}/update.zip")),
                size: 1,
                root: PathBuf::from("/card"),
            })
            .collect()
    }

    /// The boot clock is injected: each sleep advances it.
    #[test]
    fn headless_looks_again_until_found_or_the_deadline() {
        let clock = Cell::new(Duration::from_secs(5));
        let calls = Cell::new(0);
        let got = wait_for_packages(
            &mut || {
                calls.set(calls.get() + 1);
                found(if calls.get() == 4 { 1 } else { 0 })
            },
            Duration::from_secs(30),
            Duration::from_secs(1),
            &mut || Some(clock.get()),
            &mut |d| clock.set(clock.get() + d),
        );
        assert_eq!((got.len(), calls.get()), (1, 4), "found on the 4th look");

        let clock = Cell::new(Duration::from_secs(5));
        calls.set(0);
        let got = wait_for_packages(
            &mut || {
                calls.set(calls.get() + 1);
                found(0)
            },
            Duration::from_secs(8),
            Duration::from_secs(1),
            &mut || Some(clock.get()),
            &mut |d| clock.set(clock.get() + d),
        );
        assert!(got.is_empty());
        assert_eq!(calls.get(), 4, "5 s, 6 s, 7 s, then 8 s is the deadline");

        calls.set(0);
        wait_for_packages(
            &mut || {
                calls.set(calls.get() + 1);
                found(0)
            },
            Duration::from_secs(8),
            Duration::from_secs(1),
            &mut || None,
            &mut |_| panic!("no boot clock: no waiting"),
        );
        assert_eq!(calls.get(), 1);
    }
}
