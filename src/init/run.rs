//! The recovery init's sequence (see the module docs of [`crate::init`]): effects only, the
//! decisions come from the pure functions beside it.

use std::path::{Path, PathBuf};

use super::{decide, final_action, parse_cmdline, OtaCommand, Plan, MAX_COMMAND_LEN};
use crate::device::power::PowerAction;
use crate::device::{discovery, storage, Device, ProfileDevice};
use crate::error::HasCode;
use crate::install::{self, events::Sink, Options};
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

/// Prints a line on the console (stderr is the console after setup).
fn say(msg: &str) {
    eprintln!("recovery: {msg}");
}

fn show_error(e: &Error) {
    let c = e.code();
    eprintln!("error {}: {}", c.number(), c.name());
    eprintln!("  what happened: {}", c.meaning());
    eprintln!("  detail: {e}");
    eprintln!("  what to do: {}", c.fix());
}

/// A failure record for last_install.json when no install could even start.
pub fn failure_record(package: &str, e: &Error, device: &dyn Device) -> InstallRecord {
    let info = e.code().info();
    let now = crate::util::rfc3339(crate::util::unix_now());
    InstallRecord {
        package: package.to_string(),
        manifest_sha256: None,
        from_version: device.current_version(),
        to_version: None,
        target_slot: None,
        result: "failure".into(),
        code: info.number,
        name: info.name.into(),
        message: e.to_string(),
        fix: info.fix.into(),
        started_at: now.clone(),
        finished_at: now,
        duration_ms: 0,
        bytes_written: 0,
        timings: Vec::new(),
        warnings: Vec::new(),
    }
}

fn record_failure(device: &dyn Device, package: &str, e: &Error) -> InstallRecord {
    show_error(e);
    let r = failure_record(package, e, device);
    if let Err(w) = state::write_last_install(&device.profile().state_dir, &r) {
        say(&format!("warning: {w}"));
    }
    r
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
    let r = install::apply(
        path,
        device,
        &mut sink as &mut dyn Sink,
        &Options::default(),
    );
    if r.success() {
        say(&format!(
            "installed {} from {} ({} bytes written)",
            r.to_version.as_deref().unwrap_or("?"),
            path.display(),
            r.bytes_written
        ));
    } else {
        eprintln!("error {}: {}", r.code, r.name);
        eprintln!("  detail: {}", r.message);
        eprintln!("  what to do: {}", r.fix);
    }
    r
}

/// The interactive menu: device, discovered card mount points, viewport (cols, rows).
pub type MenuFn<'a> = dyn FnMut(&ProfileDevice, &[PathBuf], (u16, u16)) -> Option<PowerAction> + 'a;

/// Runs the init sequence and returns what to do next; the caller performs the power action.
/// `menu` runs the interactive menu over the profile's storage and the discovered cards, on a
/// screen of the given size, and returns the power action the user chose (`None` when the menu
/// could not run).
pub fn run(opts: &InitOptions, menu: &mut MenuFn<'_>) -> Outcome {
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
    let device = match ProfileDevice::load(&profile_path) {
        Ok(d) => d,
        Err(e) => {
            show_error(&e);
            return Outcome {
                plan: Plan::Menu,
                success: false,
                record: None,
                action: cmdline.on_failure.unwrap_or(PowerAction::Wait),
                code: e.code().number(),
            };
        }
    };
    let profile = device.profile().clone();
    let mut warnings: Vec<String> = Vec::new();
    let mut discovered = discovery::Discovered::default();
    if opts.system {
        match super::modules::load(
            &profile
                .init
                .module_dir
                .clone()
                .unwrap_or_else(super::modules::default_dir),
            &profile.init.modules,
        ) {
            Ok(loaded) if !loaded.is_empty() => {
                say(&format!("loaded modules: {}", loaded.join(" ")))
            }
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
            let made = super::make_by_name_links(Path::new("/sys/class/block"), Path::new("/dev"));
            if !made.is_empty() {
                say(&format!("/dev/block/by-name: {}", made.join(", ")));
            }
        }
        for m in &profile.init.mounts {
            if let Err(e) = super::mount_rw(m) {
                show_error(&e);
                warnings.push(e.to_string());
            }
        }
        let _ = std::fs::create_dir_all(&profile.init.run_dir);
    }

    let command_path = profile.command_file();
    let command_text = match crate::util::read_bounded(&command_path, MAX_COMMAND_LEN) {
        Ok(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(format!("unreadable: {e}")),
    };
    let plan = decide(command_text.as_deref(), profile.init.mode, &cmdline);
    say(&format!("plan: {}", describe(&plan)));

    if opts.system && matches!(plan, Plan::Headless) {
        discovered = discovery::discover_and_mount(
            Path::new("/sys/class/block"),
            Path::new("/dev"),
            &profile.init.internal_disks,
            &profile.init.run_dir.join("storage"),
        );
        for m in &discovered.mounted {
            say(&format!(
                "mounted {} ({}) at {}",
                m.device.display(),
                m.fstype.kernel_name(),
                m.target.display()
            ));
        }
        for e in &discovered.failures {
            show_error(e);
            warnings.push(format!("{} ({})", e, e.code()));
        }
    }

    let mut code = 0;
    let mut chosen = None;
    let (success, mut record) = match &plan {
        Plan::Command(c) => {
            let (ok, r, wipe_err) = run_command(c, &device);
            code = wipe_err.map(|c| c.number()).unwrap_or(0);
            (ok, r)
        }
        Plan::BadCommand(reason) => {
            let e = Error::CommandFile {
                path: command_path.clone(),
                reason: reason.clone(),
            };
            (false, Some(record_failure(&device, "", &e)))
        }
        Plan::Headless => headless(&device, &discovered.roots()),
        Plan::Menu => {
            let viewport = super::viewport(profile.init.viewport.as_deref(), &cmdline);
            chosen = menu(&device, &discovered.roots(), viewport);
            (chosen.is_some(), None)
        }
    };
    if matches!(plan, Plan::Command(_) | Plan::BadCommand(_)) {
        if let Some(w) = clear_command(&command_path) {
            warnings.push(w);
        }
    }
    if let Some(r) = record.as_mut() {
        if !warnings.is_empty() {
            r.warnings.extend(warnings.iter().cloned());
            if let Err(e) = state::write_last_install(&profile.state_dir, r) {
                say(&format!("warning: {e}"));
            }
        }
    }
    // Unmount the cards before anything reboots.
    drop(discovered);
    let action = chosen.unwrap_or_else(|| {
        final_action(
            success,
            &plan,
            profile.init.after,
            profile.init.on_failure,
            &cmdline,
        )
    });
    say(&format!(
        "{}; next: {}",
        if success { "done" } else { "failed" },
        serde_json::to_value(action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    ));
    if let Some(r) = &record {
        if code == 0 {
            code = r.code;
        }
    }
    Outcome {
        plan,
        success,
        record,
        action,
        code,
    }
}

fn describe(plan: &Plan) -> String {
    match plan {
        Plan::Command(c) => format!(
            "OTA command: {}{}",
            c.update_package
                .as_ref()
                .map(|p| format!("install {}", p.display()))
                .unwrap_or_default(),
            if c.wipe_data { " wipe data" } else { "" }
        ),
        Plan::BadCommand(e) => format!("invalid OTA command ({e})"),
        Plan::Headless => "headless install of the first valid package found".into(),
        Plan::Menu => "menu".into(),
    }
}

fn run_command(
    c: &OtaCommand,
    device: &ProfileDevice,
) -> (bool, Option<InstallRecord>, Option<crate::Code>) {
    let mut record = None;
    let mut ok = true;
    let mut code = None;
    if let Some(p) = &c.update_package {
        let r = apply_one(p, device);
        ok = r.success();
        record = Some(r);
    }
    if c.wipe_data && ok {
        match device.wipe_data() {
            Ok(w) => w.iter().for_each(|w| say(&w.to_string())),
            Err(e) => {
                show_error(&e);
                ok = false;
                code = Some(e.code());
            }
        }
    }
    (ok, record, code)
}

/// Installs the first valid package found in the profile's storage folders and the mounted
/// cards. Each candidate is tried in order until one installs; last_install.json holds the last
/// attempt.
fn headless(device: &ProfileDevice, card_roots: &[PathBuf]) -> (bool, Option<InstallRecord>) {
    let p = device.profile();
    let mut roots = p.storage.clone();
    roots.extend(card_roots.iter().cloned());
    let found = storage::scan_folders(&roots, &p.package_names);
    if found.is_empty() {
        let e = Error::NoPackage {
            looked_for: p.package_names.join(", "),
            locations: roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        };
        return (false, Some(record_failure(device, "", &e)));
    }
    let mut last = None;
    for f in &found {
        say(&format!("found {} ({} bytes)", f.path.display(), f.size));
        let r = apply_one(&f.path, device);
        let ok = r.success();
        last = Some(r);
        if ok {
            return (true, last);
        }
    }
    (false, last)
}
