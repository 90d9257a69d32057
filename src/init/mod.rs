//! The recovery init: what runs as PID 1 in the recovery initramfs (or via `recovery-updater
//! init`).
//!
//! The decisions are pure functions of text (kernel command line, the OTA command file,
//! modules.dep, sysfs attributes) and are unit-tested; the effects (mount, finit_module, console,
//! reboot) are thin and exercised by the QEMU end-to-end test.
//!
//! Order at boot: mount proc/sys/devtmpfs/run → load the profile's kernel modules →
//! /dev/block/by-name links → console → the profile's mounts (state partition) → decide:
//! 1. an OTA command file in the state directory (`--update_package=PATH`, as Android's
//!    /cache/recovery/command) → install that package headless, record, clear the command;
//! 2. headless / factory mode (profile `[init] mode`, or `recovery.mode=headless` on the kernel
//!    command line) → install the first valid package found on cards and storage folders;
//! 3. sideload mode (profile `[init] mode = "sideload"`, or `recovery.mode=sideload`) → bring
//!    up `[init.network]` and install what a PC sends with `adb sideload` (see [`net`]);
//! 4. otherwise the interactive menu.
//!
//! Then reboot / power off / wait as the profile (or `recovery.after=`) says. PID 1 never exits:
//! on any failure it shows the code and waits (reaping children) or reboots.

pub mod modules;
pub mod net;
pub mod run;

use std::path::{Path, PathBuf};

use crate::device::power::PowerAction;
use crate::device::profile::{parse_viewport, InitMode};
use crate::Error;

/// Options from the kernel command line (`recovery.KEY=VALUE` words).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cmdline {
    pub mode: Option<InitMode>,
    pub after: Option<PowerAction>,
    pub on_failure: Option<PowerAction>,
    pub viewport: Option<(u16, u16)>,
    pub profile: Option<PathBuf>,
    /// Words we did not understand (shown in the log, not fatal: a typo must not brick boot).
    pub ignored: Vec<String>,
}

/// Parses /proc/cmdline. `factory` or `recovery.mode=headless` selects the headless install.
pub fn parse_cmdline(text: &str) -> Cmdline {
    let mut c = Cmdline::default();
    for word in text.split_whitespace() {
        if word == "recovery.factory" || word == "factory" {
            c.mode = Some(InitMode::Headless);
            continue;
        }
        let Some(rest) = word.strip_prefix("recovery.") else {
            continue;
        };
        let (k, v) = rest.split_once('=').unwrap_or((rest, ""));
        let ok = match k {
            "mode" => match v {
                "headless" | "factory" => {
                    c.mode = Some(InitMode::Headless);
                    true
                }
                "menu" => {
                    c.mode = Some(InitMode::Menu);
                    true
                }
                "sideload" => {
                    c.mode = Some(InitMode::Sideload);
                    true
                }
                _ => false,
            },
            "after" => v.parse().map(|a| c.after = Some(a)).is_ok(),
            "on_failure" => v.parse().map(|a| c.on_failure = Some(a)).is_ok(),
            "viewport" => parse_viewport(v).map(|s| c.viewport = Some(s)).is_some(),
            "profile" if v.starts_with('/') => {
                c.profile = Some(PathBuf::from(v));
                true
            }
            _ => false,
        };
        if !ok {
            c.ignored.push(word.to_string());
        }
    }
    c
}

/// The screen size for a console that reports none (a serial line reads as 0x0): the kernel
/// command line's `recovery.viewport=`, else the profile's `[init] viewport`, else 80x25.
pub fn viewport(profile_viewport: Option<&str>, cmdline: &Cmdline) -> (u16, u16) {
    cmdline
        .viewport
        .or_else(|| profile_viewport.and_then(parse_viewport))
        .unwrap_or((80, 25))
}

/// What the system's OTA client asked for in the command file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtaCommand {
    pub update_package: Option<PathBuf>,
    /// `--wipe_data`: erase the profile's `role = "data"` `[[wipe]]` partitions.
    pub wipe_data: bool,
    /// `--wipe_cache`: erase only the `role = "cache"` ones (never user data).
    pub wipe_cache: bool,
    /// Options Android's recovery knows that we accept and ignore (e.g. `--locale=`).
    pub ignored: Vec<String>,
}

/// Largest command file we read.
pub const MAX_COMMAND_LEN: u64 = 64 * 1024;

/// Parses the command file: one `--option[=value]` per line, as Android's recovery reads
/// /cache/recovery/command. Unknown options (and a value on an option that takes none) are an
/// error, 9113 for the caller: we must not guess what an OTA client meant. A few harmless Android
/// options are accepted and ignored.
pub fn parse_command(text: &str) -> Result<OtaCommand, String> {
    let mut c = OtaCommand::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(opt) = line.strip_prefix("--") else {
            return Err(format!("line {}: {line:?} is not an --option", n + 1));
        };
        let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
        match k {
            "update_package" => {
                if v.is_empty() {
                    return Err(format!("line {}: --update_package needs a path", n + 1));
                }
                if v.starts_with('@') {
                    return Err(format!(
                        "line {}: {v}: Android block maps (@/path) are not supported; give the \
                         package file's path",
                        n + 1
                    ));
                }
                if !v.starts_with('/') {
                    return Err(format!("line {}: {v}: the path must be absolute", n + 1));
                }
                if c.update_package.replace(PathBuf::from(v)).is_some() {
                    return Err(format!("line {}: more than one --update_package", n + 1));
                }
            }
            "wipe_data" | "wipe_cache" if !v.is_empty() || opt.contains('=') => {
                return Err(format!("line {}: --{k} takes no value", n + 1));
            }
            "wipe_data" => c.wipe_data = true,
            "wipe_cache" => c.wipe_cache = true,
            "locale" | "reason" | "security" | "retry_count" | "show_text" | "just_exit" => {
                c.ignored.push(line.to_string())
            }
            _ => return Err(format!("line {}: unknown option --{k}", n + 1)),
        }
    }
    if c.update_package.is_none() && !c.wipe_data && !c.wipe_cache {
        return Err(
            "the command file asks for nothing (no --update_package, --wipe_data or --wipe_cache)"
                .into(),
        );
    }
    Ok(c)
}

/// What the init will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The OTA command: install this package (and/or wipe), record, clear the command.
    Command(OtaCommand),
    /// The command file exists but is unusable: record the failure and clear it, so a bad
    /// command cannot trap the device in a recovery boot loop.
    BadCommand(String),
    /// Install the first valid package found, headless.
    Headless,
    /// Wait for `adb sideload` on the network and install what arrives, headless.
    Sideload,
    Menu,
}

/// Chooses the plan. `command` is the command file's content (`None` when absent).
pub fn decide(command: Option<&str>, profile_mode: InitMode, cmdline: &Cmdline) -> Plan {
    if let Some(text) = command {
        return match parse_command(text) {
            Ok(c) => Plan::Command(c),
            Err(e) => Plan::BadCommand(e),
        };
    }
    match cmdline.mode.unwrap_or(profile_mode) {
        InitMode::Headless => Plan::Headless,
        InitMode::Sideload => Plan::Sideload,
        InitMode::Menu => Plan::Menu,
    }
}

/// The power action after the plan ran: the kernel command line overrides the profile.
pub fn final_action(
    success: bool,
    plan: &Plan,
    after: PowerAction,
    on_failure: PowerAction,
    cmdline: &Cmdline,
) -> PowerAction {
    let after = cmdline.after.unwrap_or(after);
    let on_failure = cmdline.on_failure.unwrap_or(on_failure);
    match (plan, success) {
        // Android reboots into the system after a command, success or not: the old system is
        // still there (A/B), and staying in recovery would strand an unattended device.
        (Plan::Command(_) | Plan::BadCommand(_), true) => after,
        (Plan::Command(_) | Plan::BadCommand(_), false) if on_failure == PowerAction::Wait => after,
        (_, true) => after,
        (_, false) => on_failure,
    }
}

/// `/dev/block/by-name` links: GPT partition names (`PARTNAME=` in a partition's uevent) and
/// virtio disk serials (`serial`), as Android's ueventd makes them, but only from the profile's
/// `internal_disks` and their partitions: a card or USB stick carrying a partition named `misc`,
/// `state` or `boot_b` must never become the trusted state, the slot control or a write target.
/// Two internal partitions with one name are an error (9061), never a pick. Returns
/// (name, kernel name), sorted by name.
pub fn by_name_links(
    sys_class_block: &Path,
    internal: &[String],
) -> Result<Vec<(String, String)>, Error> {
    let Ok(rd) = std::fs::read_dir(sys_class_block) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let kname = e.file_name().to_string_lossy().into_owned();
        if !crate::device::discovery::is_internal(sys_class_block, &kname, internal) {
            continue;
        }
        let dir = e.path();
        let read = |f: &str| {
            crate::util::read_bounded(&dir.join(f), 4096)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        let name = read("uevent")
            .and_then(|u| {
                u.lines()
                    .find_map(|l| l.strip_prefix("PARTNAME=").map(str::to_string))
            })
            .or_else(|| read("serial").map(|s| s.trim().to_string()));
        if let Some(n) = name {
            let ok = !n.is_empty()
                && n.len() <= 64
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
                && n != "."
                && n != "..";
            if ok {
                out.push((n, kname));
            }
        }
    }
    out.sort();
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        let name = w[0].0.clone();
        return Err(Error::PartitionNameDuplicate {
            devices: out
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, k)| k.clone())
                .collect(),
            name,
        });
    }
    Ok(out)
}

/// Creates the by-name links under `dev/block/by-name` (see [`by_name_links`]); on a duplicate
/// name nothing is linked.
pub fn make_by_name_links(
    sys_class_block: &Path,
    dev: &Path,
    internal: &[String],
) -> Result<Vec<String>, Error> {
    let links = by_name_links(sys_class_block, internal)?;
    let dir = dev.join("block/by-name");
    let _ = std::fs::create_dir_all(&dir);
    let mut made = Vec::new();
    for (name, kname) in links {
        let link = dir.join(&name);
        let _ = std::fs::remove_file(&link);
        if std::os::unix::fs::symlink(dev.join(&kname), &link).is_ok() {
            made.push(format!("{name} -> {kname}"));
        }
    }
    Ok(made)
}

/// Waits until the set of block devices stops changing (drivers probe asynchronously after
/// their module loads; an SD card appears a moment after its controller): returns when the list
/// was unchanged for `stable`, or after `max`.
pub fn settle_block_devices(
    sys_class_block: &Path,
    max: std::time::Duration,
    stable: std::time::Duration,
) -> Vec<String> {
    let list = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(sys_class_block)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let start = std::time::Instant::now();
    let mut last = list();
    let mut since = std::time::Instant::now();
    while start.elapsed() < max {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let now = list();
        if now != last {
            last = now;
            since = std::time::Instant::now();
        } else if since.elapsed() >= stable && !last.is_empty() {
            break;
        }
    }
    last
}

/// Mounts the kernel's pseudo filesystems and the run tmpfs. Already-mounted ones are fine.
pub fn mount_pseudo(run_dir: &Path) -> Vec<Error> {
    use nix::mount::{mount, MsFlags};
    let mut errors = Vec::new();
    let nosuid = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    let run = run_dir
        .ancestors()
        .find(|a| a.parent() == Some(Path::new("/")))
        .unwrap_or(run_dir)
        .to_path_buf();
    let table: [(&str, PathBuf, &str, MsFlags); 4] = [
        ("proc", PathBuf::from("/proc"), "proc", nosuid),
        ("sysfs", PathBuf::from("/sys"), "sysfs", nosuid),
        (
            "devtmpfs",
            PathBuf::from("/dev"),
            "devtmpfs",
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        ),
        (
            "tmpfs",
            run,
            "tmpfs",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        ),
    ];
    for (src, target, fstype, flags) in table {
        let _ = std::fs::create_dir_all(&target);
        match mount(Some(src), &target, Some(fstype), flags, None::<&str>) {
            Ok(()) | Err(nix::errno::Errno::EBUSY) => {}
            Err(e) => errors.push(Error::RecoveryInit {
                step: format!("mounting {fstype} on {}", target.display()),
                reason: e.to_string(),
            }),
        }
    }
    let _ = std::fs::create_dir_all(run_dir);
    errors
}

/// Mounts one of the profile's `[[init.mounts]]` read-write.
pub fn mount_rw(m: &crate::device::profile::MountDef) -> Result<(), Error> {
    use nix::mount::{mount, MsFlags};
    let _ = std::fs::create_dir_all(&m.target);
    mount(
        Some(&m.source),
        &m.target,
        Some(m.fstype.as_str()),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        m.options.as_deref(),
    )
    .map_err(|e| Error::RecoveryInit {
        step: format!(
            "mounting {} ({}) on {}",
            m.source.display(),
            m.fstype,
            m.target.display()
        ),
        reason: e.to_string(),
    })
}

/// Makes `console` our stdin, stdout and stderr.
pub fn open_console(console: &Path) -> Result<(), Error> {
    let err = |reason: String| Error::RecoveryInit {
        step: format!("opening console {}", console.display()),
        reason,
    };
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(console)
        .map_err(|e| err(e.to_string()))?;
    nix::unistd::dup2_stdin(&f).map_err(|e| err(e.to_string()))?;
    nix::unistd::dup2_stdout(&f).map_err(|e| err(e.to_string()))?;
    nix::unistd::dup2_stderr(&f).map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// Reaps any exited children (PID 1 inherits every orphan). Returns how many were reaped.
pub fn reap_children() -> usize {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let mut n = 0;
    while let Ok(st) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if st == WaitStatus::StillAlive {
            break;
        }
        n += 1;
    }
    n
}

/// PID 1's last resort: never return, keep reaping.
pub fn idle_forever() -> ! {
    loop {
        reap_children();
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_options() {
        let c = parse_cmdline(
            "console=ttyS0 quiet recovery.mode=headless recovery.after=poweroff \
             recovery.viewport=100x30 recovery.bogus=1 recovery.after_x",
        );
        assert_eq!(c.mode, Some(InitMode::Headless));
        assert_eq!(c.after, Some(PowerAction::PowerOff));
        assert_eq!(c.viewport, Some((100, 30)));
        assert_eq!(c.ignored, vec!["recovery.bogus=1", "recovery.after_x"]);
        assert_eq!(
            parse_cmdline("root=/dev/sda factory").mode,
            Some(InitMode::Headless)
        );
        assert_eq!(parse_cmdline("").mode, None);
        assert_eq!(
            parse_cmdline("recovery.after=halt").ignored,
            vec!["recovery.after=halt"]
        );
        assert_eq!(viewport(Some("120x40"), &c), (100, 30));
        assert_eq!(viewport(Some("120x40"), &Cmdline::default()), (120, 40));
        assert_eq!(viewport(None, &Cmdline::default()), (80, 25));
    }

    #[test]
    fn command_file() {
        let c = parse_command("--update_package=/data/ota/update.zip\n--locale=en_US\n").unwrap();
        assert_eq!(
            c.update_package,
            Some(PathBuf::from("/data/ota/update.zip"))
        );
        assert!(!c.wipe_data);
        assert_eq!(c.ignored.len(), 1);
        let wd = parse_command("--wipe_data\n").unwrap();
        assert!(wd.wipe_data && !wd.wipe_cache);
        let wc = parse_command("--wipe_cache\n").unwrap();
        assert!(
            wc.wipe_cache && !wc.wipe_data,
            "--wipe_cache must not become a data wipe"
        );
        for (bad, want) in [
            ("--update_package=@/cache/recovery/block.map", "block maps"),
            ("--update_package=relative.zip", "absolute"),
            ("--update_package=", "needs a path"),
            ("update_package=/x.zip", "not an --option"),
            ("--format_everything", "unknown option"),
            ("--wipe_cache=yes", "takes no value"),
            ("--wipe_data=", "takes no value"),
            ("--wipe_all", "unknown option"),
            ("--locale=de", "asks for nothing"),
            ("--update_package=/a\n--update_package=/b", "more than one"),
        ] {
            let e = parse_command(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn decisions() {
        let none = Cmdline::default();
        let headless = parse_cmdline("recovery.mode=headless");
        assert!(matches!(
            decide(Some("--update_package=/s/u.zip"), InitMode::Menu, &none),
            Plan::Command(_)
        ));
        assert!(matches!(
            decide(Some("garbage"), InitMode::Headless, &none),
            Plan::BadCommand(_)
        ));
        assert_eq!(decide(None, InitMode::Menu, &none), Plan::Menu);
        assert_eq!(decide(None, InitMode::Menu, &headless), Plan::Headless);
        assert_eq!(decide(None, InitMode::Headless, &none), Plan::Headless);
        assert_eq!(decide(None, InitMode::Sideload, &none), Plan::Sideload);
        assert_eq!(
            decide(
                None,
                InitMode::Menu,
                &parse_cmdline("recovery.mode=sideload")
            ),
            Plan::Sideload
        );
        assert_eq!(
            decide(
                None,
                InitMode::Headless,
                &parse_cmdline("recovery.mode=menu")
            ),
            Plan::Menu
        );

        use PowerAction::*;
        let cmd = Plan::Command(OtaCommand::default());
        assert_eq!(
            final_action(true, &Plan::Headless, Reboot, Wait, &none),
            Reboot
        );
        assert_eq!(
            final_action(false, &Plan::Headless, Reboot, Wait, &none),
            Wait
        );
        assert_eq!(
            final_action(false, &cmd, Reboot, Wait, &none),
            Reboot,
            "a failed OTA command must not strand the device in recovery"
        );
        assert_eq!(final_action(false, &cmd, Reboot, PowerOff, &none), PowerOff);
        let po = parse_cmdline("recovery.after=poweroff recovery.on_failure=poweroff");
        assert_eq!(
            final_action(true, &Plan::Headless, Reboot, Wait, &po),
            PowerOff
        );
        assert_eq!(
            final_action(false, &Plan::Headless, Reboot, Wait, &po),
            PowerOff
        );
    }

    /// A fake /sys/class/block as the kernel lays it out: class entries are symlinks into
    /// /sys/devices/.../block/DISK, partitions are subdirectories of their disk.
    struct FakeSys {
        _tmp: tempfile::TempDir,
        class: PathBuf,
    }

    impl FakeSys {
        fn new() -> FakeSys {
            let tmp = tempfile::tempdir().unwrap();
            let class = tmp.path().join("class/block");
            std::fs::create_dir_all(&class).unwrap();
            FakeSys { _tmp: tmp, class }
        }
        /// A disk with an optional `serial`, under `bus` (a path in /sys/devices).
        fn disk(&self, bus: &str, disk: &str, serial: Option<&str>) {
            let dir = self.class.join("../../devices").join(bus).join(disk);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("uevent"), format!("DEVNAME={disk}\n")).unwrap();
            if let Some(s) = serial {
                std::fs::write(dir.join("serial"), s).unwrap();
            }
            std::os::unix::fs::symlink(&dir, self.class.join(disk)).unwrap();
        }
        /// A GPT partition of `disk` named `partname`.
        fn part(&self, bus: &str, disk: &str, part: &str, partname: &str) {
            let dir = self
                .class
                .join("../../devices")
                .join(bus)
                .join(disk)
                .join(part);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("partition"), "1").unwrap();
            std::fs::write(
                dir.join("uevent"),
                format!("MAJOR=179\nDEVNAME={part}\nPARTNAME={partname}\n"),
            )
            .unwrap();
            std::os::unix::fs::symlink(&dir, self.class.join(part)).unwrap();
        }
    }

    fn internal(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn by_name_from_partnames_and_serials() {
        let sys = FakeSys::new();
        sys.disk("virtio1/block", "vda", Some("boot_a\n"));
        sys.disk("virtio2/block", "vdb", Some(""));
        sys.disk("mmc_host/mmc0/block", "mmcblk0", None);
        sys.part("mmc_host/mmc0/block", "mmcblk0", "mmcblk0p3", "system_b");
        sys.part("mmc_host/mmc0/block", "mmcblk0", "mmcblk0p4", "../evil");
        let all = internal(&["vda", "vdb", "mmcblk0"]);
        assert_eq!(
            by_name_links(&sys.class, &all).unwrap(),
            vec![
                ("boot_a".to_string(), "vda".to_string()),
                ("system_b".to_string(), "mmcblk0p3".to_string())
            ]
        );
        let dev = tempfile::tempdir().unwrap();
        let made = make_by_name_links(&sys.class, dev.path(), &all).unwrap();
        assert_eq!(made.len(), 2);
        assert_eq!(
            std::fs::read_link(dev.path().join("block/by-name/boot_a")).unwrap(),
            dev.path().join("vda")
        );
    }

    /// A card whose GPT names the trusted partitions sorts before the internal disk
    /// (mmcblk1p1 < vdX, and mmcblk1 < mmcblk2): it must give no link, whatever the order.
    #[test]
    fn a_card_never_provides_by_name_links() {
        let sys = FakeSys::new();
        sys.disk("virtio1/block", "vdb", Some("misc"));
        sys.disk("virtio2/block", "vdc", Some("state"));
        sys.disk("mmc_host/mmc2/block", "mmcblk2", None);
        sys.part("mmc_host/mmc2/block", "mmcblk2", "mmcblk2p1", "boot_b");
        sys.disk("mmc_host/mmc1/block", "mmcblk1", None);
        for (i, n) in ["misc", "state", "boot_b", "userdata"].iter().enumerate() {
            sys.part(
                "mmc_host/mmc1/block",
                "mmcblk1",
                &format!("mmcblk1p{}", i + 1),
                n,
            );
        }
        let links = by_name_links(&sys.class, &internal(&["vdb", "vdc", "mmcblk2"])).unwrap();
        assert_eq!(
            links,
            vec![
                ("boot_b".to_string(), "mmcblk2p1".to_string()),
                ("misc".to_string(), "vdb".to_string()),
                ("state".to_string(), "vdc".to_string()),
            ],
            "the card (mmcblk1) provides nothing, not even names the internal disks lack"
        );
        assert!(
            by_name_links(&sys.class, &[]).unwrap().is_empty(),
            "no internal disk listed: no link at all"
        );
    }

    #[test]
    fn two_internal_partitions_with_one_name_are_refused_with_9061() {
        let sys = FakeSys::new();
        sys.disk("mmc_host/mmc0/block", "mmcblk0", None);
        sys.part("mmc_host/mmc0/block", "mmcblk0", "mmcblk0p1", "misc");
        sys.part("mmc_host/mmc0/block", "mmcblk0", "mmcblk0p2", "boot_a");
        sys.disk("virtio1/block", "vda", Some("misc"));
        let both = internal(&["mmcblk0", "vda"]);
        let e = by_name_links(&sys.class, &both).unwrap_err();
        assert_eq!(
            crate::HasCode::code(&e),
            crate::Code::PartitionNameDuplicate
        );
        assert!(e.to_string().contains("mmcblk0p1") && e.to_string().contains("vda"));
        let dev = tempfile::tempdir().unwrap();
        assert!(make_by_name_links(&sys.class, dev.path(), &both).is_err());
        assert!(
            !dev.path().join("block/by-name/boot_a").exists(),
            "nothing is linked when a name is ambiguous"
        );
        // Only one of them internal: no clash.
        assert_eq!(
            by_name_links(&sys.class, &internal(&["mmcblk0"]))
                .unwrap()
                .len(),
            2
        );
    }
}
