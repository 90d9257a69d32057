//! The device profile: a TOML file in the read-only recovery image that describes the device
//! (see docs/DEVICE.md). Relative paths resolve against the profile's folder.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::device::target::FlashType;
use crate::Error;

/// Largest profile we read: it is a small hand-written file.
const MAX_PROFILE_LEN: u64 = 1 << 20;

/// A device fact: a literal string, or read from a file (first line, or the first capture group
/// of `regex` / the whole match when it has none).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Fact {
    Literal(String),
    File {
        file: PathBuf,
        #[serde(default)]
        regex: Option<String>,
    },
}

/// Where the battery level comes from.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum BatterySource {
    /// Fixed values (simulated devices, devices on mains power).
    Fixed {
        capacity: u8,
        #[serde(default)]
        charging: bool,
    },
    /// Files such as /sys/class/power_supply/battery/{capacity,status}.
    Files {
        capacity_file: PathBuf,
        #[serde(default)]
        status_file: Option<PathBuf>,
    },
    /// `battery = "auto"`: the first present battery in /sys/class/power_supply.
    Auto(String),
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotMode {
    /// Two copies of every slotted partition; write the inactive one, then switch.
    Ab,
    /// One copy, written in place after a full verification pass.
    Single,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slots {
    pub mode: SlotMode,
    /// Misc partition holding Android's bootloader_control (A/B only).
    #[serde(default)]
    pub misc: Option<PathBuf>,
    /// U-Boot environment slot control (instead of misc).
    #[serde(default)]
    pub uboot_env: Option<UbootEnvDef>,
    /// UBI volume names as slot control (instead of misc): the boot name moves by rename.
    #[serde(default)]
    pub ubi_rename: Option<super::slots::ubi_rename::UbiRenameDef>,
}

/// `[slots.uboot_env]`: where the environment lives and which variables select the slot.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UbootEnvDef {
    /// An fw_env.config file (`device offset size` per copy), as libubootenv reads it.
    pub config: PathBuf,
    #[serde(default = "default_order_var")]
    pub order_var: String,
    /// `{SLOT}` becomes the slot's name.
    #[serde(default = "default_left_var")]
    pub left_var: String,
    /// Names of slots a and b in the variables.
    #[serde(default = "default_slot_names")]
    pub slot_names: [String; 2],
    #[serde(default = "default_tries")]
    pub tries: u8,
}

fn default_order_var() -> String {
    "BOOT_ORDER".into()
}
fn default_left_var() -> String {
    "BOOT_{SLOT}_LEFT".into()
}
fn default_slot_names() -> [String; 2] {
    ["A".into(), "B".into()]
}
fn default_tries() -> u8 {
    3
}

/// How the recovery init runs when nothing asks for an install.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum InitMode {
    /// The interactive menu on the console.
    #[default]
    Menu,
    /// Factory line / headless: install the first valid package found, then `after`.
    Headless,
    /// Wait for `adb connect` + `adb sideload` on `[init] sideload_listen` (after bringing up
    /// `[init.network]`), install what arrives, then `after`.
    Sideload,
}

/// `[init.network]`: one interface with a static IPv4 address, brought up by the init (for
/// `adb connect` in sideload mode). No DHCP: a factory line or a QEMU user network knows the
/// address.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NetworkDef {
    /// The interface (e.g. "eth0"); default the first one in /sys/class/net other than `lo`.
    #[serde(default)]
    pub interface: Option<String>,
    /// "ADDRESS/PREFIX", e.g. "10.0.2.15/24" (QEMU's user network).
    pub address: String,
}

/// A filesystem the init mounts read-write before anything else (the state partition).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MountDef {
    pub source: PathBuf,
    pub target: PathBuf,
    pub fstype: String,
    #[serde(default)]
    pub options: Option<String>,
}

/// `[init]`: what the recovery init (PID 1) does.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InitDef {
    /// Kernel modules to load, in order, each after its dependencies from modules.dep.
    #[serde(default)]
    pub modules: Vec<String>,
    /// Where modules.dep is; default /lib/modules/<running kernel release>.
    #[serde(default)]
    pub module_dir: Option<PathBuf>,
    /// Console to use instead of the one the kernel gave (e.g. /dev/ttyS0, /dev/tty1).
    #[serde(default)]
    pub console: Option<PathBuf>,
    #[serde(default)]
    pub mode: InitMode,
    /// After a successful install (or a finished menu session).
    #[serde(default = "default_after")]
    pub after: super::power::PowerAction,
    /// After a failure (the code is shown on the console first).
    #[serde(default = "default_on_failure")]
    pub on_failure: super::power::PowerAction,
    #[serde(default)]
    pub mounts: Vec<MountDef>,
    /// The OTA command file; default `<state_dir>/command`.
    #[serde(default)]
    pub command_file: Option<PathBuf>,
    /// Internal block devices never searched as removable storage (e.g. "mmcblk0").
    #[serde(default)]
    pub internal_disks: Vec<String>,
    /// Create /dev/block/by-name/NAME links from GPT partition names and virtio serials.
    #[serde(default = "default_true")]
    pub by_name_links: bool,
    /// Where cards are mounted and runtime files live (a tmpfs).
    #[serde(default = "default_run_dir")]
    pub run_dir: PathBuf,
    /// Screen size when the console reports none (serial): "COLSxROWS".
    #[serde(default)]
    pub viewport: Option<String>,
    /// Headless mode with no package found: cards are looked for again, once a second, until
    /// this many seconds after the kernel booted (a USB stick can take longer to appear than the
    /// start-up wait for block devices).
    #[serde(default = "default_storage_wait_secs")]
    pub storage_wait_secs: u64,
    /// Brought up before the plan runs (`lo` always, then this interface).
    #[serde(default)]
    pub network: Option<NetworkDef>,
    /// Headless mode with no package found by `storage_wait_secs`: wait for `adb sideload`
    /// (as sideload mode) instead of failing with 9001.
    #[serde(default)]
    pub sideload_when_nothing_found: bool,
    /// Where sideload mode listens for `adb connect` (default "0.0.0.0:5555").
    #[serde(default = "default_sideload_listen")]
    pub sideload_listen: String,
}

impl InitDef {
    #[cfg(test)]
    fn default_with_command(path: &str) -> InitDef {
        InitDef {
            command_file: Some(PathBuf::from(path)),
            ..InitDef::default()
        }
    }
}

fn default_after() -> super::power::PowerAction {
    super::power::PowerAction::Reboot
}
fn default_on_failure() -> super::power::PowerAction {
    super::power::PowerAction::Wait
}
fn default_true() -> bool {
    true
}
fn default_storage_wait_secs() -> u64 {
    30
}
fn default_sideload_listen() -> String {
    format!("0.0.0.0:{}", crate::sideload::DEFAULT_PORT)
}
fn default_run_dir() -> PathBuf {
    PathBuf::from("/run/recovery")
}

impl Default for InitDef {
    fn default() -> InitDef {
        InitDef {
            modules: Vec::new(),
            module_dir: None,
            console: None,
            mode: InitMode::Menu,
            after: default_after(),
            on_failure: default_on_failure(),
            mounts: Vec::new(),
            command_file: None,
            internal_disks: Vec::new(),
            by_name_links: true,
            run_dir: default_run_dir(),
            viewport: None,
            storage_wait_secs: default_storage_wait_secs(),
            network: None,
            sideload_when_nothing_found: false,
            sideload_listen: default_sideload_listen(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionDef {
    pub name: String,
    /// Path of the partition; `{slot}` becomes `a` or `b` on A/B devices.
    pub path: String,
    /// The kind of flash (`type = "block"`, the default): which handler writes it
    /// ([`crate::device::target::open`]).
    #[serde(rename = "type", default)]
    pub kind: FlashType,
    /// What happens to the DONT_CARE ranges of an Android sparse image written here
    /// (`dont_care = "leave"`, the default, `"zero"` or `"discard"`).
    #[serde(default)]
    pub dont_care: DontCare,
}

/// The profile's choice for the DONT_CARE ranges of Android sparse images.
#[derive(Debug, Clone, Copy, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DontCare {
    /// Not written: the partition keeps what it held there (fastest; what fastboot does).
    #[default]
    Leave,
    /// Written with zeros, so the partition reads back exactly as `simg2img` expands it.
    Zero,
    /// Given back to the medium ([`crate::device::target::FlashTarget::discard`]): BLKDISCARD
    /// on a block device (TRIM on eMMC/UFS/SSD), a hole punched in a regular file. Fast and
    /// kind to the flash; the range then reads as the medium says (zeros on most, not promised).
    /// Where the medium cannot discard, the range is left as it is.
    Discard,
}

impl PartitionDef {
    pub fn slotted(&self) -> bool {
        self.path.contains("{slot}")
    }

    /// The flash type a path names by name: `mtd:NAME` (an MTD partition in /proc/mtd) or
    /// `ubi:NAME` (a UBI volume in sysfs); `None` for a path.
    pub fn named_flash(&self) -> Option<FlashType> {
        if self.path.starts_with("mtd:") {
            Some(FlashType::Mtd)
        } else if self.path.starts_with("ubi:") {
            Some(FlashType::Ubi)
        } else {
            None
        }
    }
}

/// What a `[[wipe]]` partition holds, so each request erases exactly its own kind: `--wipe_data`
/// (and the screen's "Wipe data", `wipe`, a package's `wipe_data`) erases the `data` entries,
/// `--wipe_cache` only the `cache` entries.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum WipeRole {
    Data,
    Cache,
}

impl std::fmt::Display for WipeRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WipeRole::Data => "data",
            WipeRole::Cache => "cache",
        })
    }
}

/// A `[[wipe]]` entry: a partition erased by wipe data or wipe cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WipeDef {
    pub name: String,
    pub path: String,
    /// Required: a wipe never guesses what a partition holds.
    pub role: WipeRole,
}

fn default_package_names() -> Vec<String> {
    vec!["update.zip".to_string()]
}

fn default_min_free() -> u64 {
    4 << 20
}

/// The profile as written in TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    product: String,
    hardware_revision: Fact,
    #[serde(default)]
    baseband: Option<Fact>,
    #[serde(default)]
    current_version: Option<Fact>,
    keys: Vec<PathBuf>,
    state_dir: PathBuf,
    #[serde(default)]
    rollback_index_file: Option<PathBuf>,
    #[serde(default)]
    min_battery_percent: Option<u8>,
    #[serde(default)]
    battery: Option<BatterySource>,
    #[serde(default = "default_min_free")]
    min_free_state_bytes: u64,
    #[serde(default)]
    storage: Vec<PathBuf>,
    #[serde(default = "default_package_names")]
    package_names: Vec<String>,
    slots: Slots,
    #[serde(rename = "partition")]
    partitions: Vec<PartitionDef>,
    /// Partitions erased by wipe data / wipe cache (by role), never anything else.
    #[serde(default)]
    wipe: Vec<WipeDef>,
    #[serde(default)]
    init: InitDef,
    /// The fleet agent's server and trust (docs/DEVICE.md `[fleet]`).
    #[serde(default)]
    fleet: Option<crate::fleet::config::FleetDef>,
    /// Which slot the running system booted from (docs/SLOTS.md); else the kernel command line.
    #[serde(default)]
    booted_slot: Option<Fact>,
    /// Where the kernel command line is read (default /proc/cmdline; tests point it elsewhere).
    #[serde(default)]
    cmdline_file: Option<PathBuf>,
    /// Run by mark-good before the booted slot is confirmed.
    #[serde(default)]
    health_check: Option<HealthCheck>,
}

/// `health_check = { command = [...], timeout_s = N }`: a command run by mark-good; exit 0 means
/// healthy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    pub command: Vec<String>,
    #[serde(default = "default_health_timeout")]
    pub timeout_s: u64,
}

fn default_health_timeout() -> u64 {
    60
}

/// A loaded, validated profile with every path made absolute.
#[derive(Debug, Clone)]
pub struct Profile {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub product: String,
    pub hardware_revision: Fact,
    pub baseband: Option<Fact>,
    pub current_version: Option<Fact>,
    pub keys: Vec<PathBuf>,
    pub state_dir: PathBuf,
    pub rollback_index_file: PathBuf,
    pub min_battery_percent: Option<u8>,
    pub battery: Option<BatterySource>,
    pub min_free_state_bytes: u64,
    pub storage: Vec<PathBuf>,
    pub package_names: Vec<String>,
    pub slots: Slots,
    pub partitions: Vec<PartitionDef>,
    pub wipe: Vec<WipeDef>,
    pub init: InitDef,
    pub fleet: Option<crate::fleet::config::FleetDef>,
    /// The booted-slot fact (`None`: read the kernel command line).
    pub booted_slot: Option<Fact>,
    /// The kernel command line file (default /proc/cmdline).
    pub cmdline_file: PathBuf,
    pub health_check: Option<HealthCheck>,
}

/// Makes a profile's relative paths absolute against its folder.
struct Resolve<'d> {
    dir: &'d Path,
}

impl Resolve<'_> {
    fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
    /// For partition paths, which are strings because of their `{slot}`.
    fn string(&self, p: &str) -> String {
        self.path(Path::new(p)).to_string_lossy().into_owned()
    }
    fn fact(&self, f: Fact) -> Fact {
        match f {
            Fact::File { file, regex } => Fact::File {
                file: self.path(&file),
                regex,
            },
            lit => lit,
        }
    }
}

impl RawProfile {
    /// Every rule a profile must meet that its TOML types do not express, first failure first.
    fn validate(&self, path: &Path) -> Result<(), Error> {
        if self.product.trim().is_empty() {
            return Err(invalid(path, "product is empty"));
        }
        if self.keys.is_empty() {
            return Err(invalid(path, "no trusted keys listed"));
        }
        self.validate_partitions(path)?;
        if let Some(h) = &self.health_check {
            if h.command.is_empty() || h.command[0].is_empty() {
                return Err(invalid(path, "health_check.command is empty"));
            }
            if h.timeout_s == 0 {
                return Err(invalid(path, "health_check.timeout_s must be at least 1"));
            }
        }
        if let Some(p) = self.min_battery_percent {
            if p > 100 {
                return Err(invalid(path, "min_battery_percent above 100"));
            }
        }
        for f in [&self.hardware_revision]
            .into_iter()
            .chain(self.baseband.as_ref())
            .chain(self.current_version.as_ref())
            .chain(self.booted_slot.as_ref())
        {
            if let Fact::File { regex: Some(r), .. } = f {
                regex_lite::Regex::new(r).map_err(|e| invalid(path, format!("bad regex: {e}")))?;
            }
        }
        if let Some(BatterySource::Auto(s)) = &self.battery {
            if s != "auto" {
                return Err(invalid(
                    path,
                    format!("battery = {s:?}: want \"auto\" or a table"),
                ));
            }
        }
        if let Some(u) = &self.slots.uboot_env {
            if !u.left_var.contains("{SLOT}") || u.slot_names[0] == u.slot_names[1] {
                return Err(invalid(
                    path,
                    "slots.uboot_env: left_var needs {SLOT} and two distinct slot_names",
                ));
            }
        }
        if let Some(f) = &self.fleet {
            f.validate().map_err(|r| invalid(path, r))?;
            if let Fact::File { regex: Some(r), .. } = &f.controller_id {
                regex_lite::Regex::new(r).map_err(|e| invalid(path, format!("bad regex: {e}")))?;
            }
        }
        if let Some(n) = &self.init.network {
            parse_cidr(&n.address)
                .map_err(|e| invalid(path, format!("init.network.address {e}")))?;
        }
        if self
            .init
            .sideload_listen
            .parse::<std::net::SocketAddr>()
            .is_err()
        {
            return Err(invalid(
                path,
                format!(
                    "init.sideload_listen {:?}: want ADDRESS:PORT, e.g. 0.0.0.0:5555",
                    self.init.sideload_listen
                ),
            ));
        }
        if let Some(v) = &self.init.viewport {
            if parse_viewport(v).is_none() {
                return Err(invalid(
                    path,
                    format!("init.viewport {v:?}: want COLSxROWS"),
                ));
            }
        }
        Ok(())
    }

    /// `[[partition]]` names, `{slot}` against the slot mode, and what A/B needs.
    fn validate_partitions(&self, path: &Path) -> Result<(), Error> {
        if self.partitions.is_empty() {
            return Err(invalid(path, "no [[partition]] listed"));
        }
        let mut names = std::collections::BTreeSet::new();
        for p in &self.partitions {
            if !crate::package::manifest::valid_partition_name(&p.name) {
                return Err(invalid(path, format!("bad partition name {:?}", p.name)));
            }
            if !names.insert(p.name.clone()) {
                return Err(invalid(path, format!("partition {} listed twice", p.name)));
            }
            if let Some(kind) = p.named_flash() {
                if kind != p.kind {
                    return Err(invalid(
                        path,
                        format!(
                            "partition {}: path {:?} names a {kind} target but type is {:?}",
                            p.name,
                            p.path,
                            p.kind.to_string()
                        ),
                    ));
                }
            }
            if self.slots.mode == SlotMode::Single && p.slotted() {
                return Err(invalid(
                    path,
                    format!(
                        "partition {} uses {{slot}} but slots.mode is single",
                        p.name
                    ),
                ));
            }
        }
        if self.slots.mode == SlotMode::Ab {
            if self.slots.misc.is_none()
                && self.slots.uboot_env.is_none()
                && self.slots.ubi_rename.is_none()
            {
                return Err(invalid(
                    path,
                    "slots.mode = \"ab\" needs slots.misc (or slots.uboot_env, slots.ubi_rename)",
                ));
            }
            if self.slots.ubi_rename.is_some()
                && (self.slots.misc.is_some() || self.slots.uboot_env.is_some())
            {
                return Err(invalid(
                    path,
                    "slots.ubi_rename is the slot control: no slots.misc or slots.uboot_env beside it",
                ));
            }
            if let Some(r) = &self.slots.ubi_rename {
                let paths: Vec<&str> = self.partitions.iter().map(|p| p.path.as_str()).collect();
                r.validate(&paths).map_err(|e| invalid(path, e))?;
            }
            if !self.partitions.iter().any(PartitionDef::slotted) {
                return Err(invalid(path, "A/B device without any {slot} partition"));
            }
        }
        Ok(())
    }

    /// The `[[wipe]]` entries with absolute paths; none may be slotted or name an update or
    /// misc partition.
    fn wipe_defs(&self, path: &Path, at: &Resolve<'_>) -> Result<Vec<WipeDef>, Error> {
        let mut wipe = Vec::new();
        for w in &self.wipe {
            if w.path.contains("{slot}") {
                return Err(invalid(
                    path,
                    format!("wipe partition {} uses {{slot}}", w.name),
                ));
            }
            let wp = at.string(&w.path);
            let clash = self.partitions.iter().any(|p| {
                let pp = at.string(&p.path);
                pp == wp || pp.replace("{slot}", "a") == wp || pp.replace("{slot}", "b") == wp
            }) || self
                .slots
                .misc
                .as_ref()
                .is_some_and(|m| at.path(m).to_string_lossy() == wp);
            if clash {
                return Err(invalid(
                    path,
                    format!(
                        "wipe partition {} is also an update or misc partition",
                        w.name
                    ),
                ));
            }
            wipe.push(WipeDef {
                name: w.name.clone(),
                path: wp,
                role: w.role,
            });
        }
        Ok(wipe)
    }
}

fn invalid(path: &Path, reason: impl Into<String>) -> Error {
    Error::Profile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

impl Profile {
    pub fn load(path: &Path) -> Result<Profile, Error> {
        let text = crate::util::read_bounded(path, MAX_PROFILE_LEN)
            .map_err(|e| invalid(path, format!("cannot read: {e}")))?;
        let text = String::from_utf8(text).map_err(|_| invalid(path, "not UTF-8"))?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        Profile::parse(&text, path, &dir)
    }

    /// Parses profile text; `dir` is what relative paths resolve against.
    pub fn parse(text: &str, path: &Path, dir: &Path) -> Result<Profile, Error> {
        let raw: RawProfile = toml::from_str(text).map_err(|e| invalid(path, e.to_string()))?;
        raw.validate(path)?;
        let at = Resolve { dir };
        let wipe = raw.wipe_defs(path, &at)?;
        let state_dir = at.path(&raw.state_dir);
        let rollback_index_file = raw
            .rollback_index_file
            .map(|p| at.path(&p))
            .unwrap_or_else(|| state_dir.join("rollback_index"));
        let mut init = raw.init.clone();
        init.module_dir = init.module_dir.map(|p| at.path(&p));
        init.command_file = Some(
            init.command_file
                .map(|p| at.path(&p))
                .unwrap_or_else(|| state_dir.join("command")),
        );
        let slots = Slots {
            mode: raw.slots.mode,
            misc: raw.slots.misc.map(|p| at.path(&p)),
            uboot_env: raw.slots.uboot_env.map(|u| UbootEnvDef {
                config: at.path(&u.config),
                ..u
            }),
            ubi_rename: raw.slots.ubi_rename,
        };
        let partitions = raw
            .partitions
            .into_iter()
            .map(|p| PartitionDef {
                // `mtd:NAME` / `ubi:NAME` are names, not files: resolved when opened.
                path: match p.named_flash() {
                    Some(_) => p.path.clone(),
                    None => at.string(&p.path),
                },
                ..p
            })
            .collect();
        let battery = raw.battery.map(|b| match b {
            BatterySource::Files {
                capacity_file,
                status_file,
            } => BatterySource::Files {
                capacity_file: at.path(&capacity_file),
                status_file: status_file.map(|p| at.path(&p)),
            },
            fixed => fixed,
        });
        Ok(Profile {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
            product: raw.product,
            hardware_revision: at.fact(raw.hardware_revision),
            baseband: raw.baseband.map(|f| at.fact(f)),
            current_version: raw.current_version.map(|f| at.fact(f)),
            keys: raw.keys.iter().map(|p| at.path(p)).collect(),
            state_dir,
            rollback_index_file,
            min_battery_percent: raw.min_battery_percent,
            battery,
            min_free_state_bytes: raw.min_free_state_bytes,
            storage: raw.storage.iter().map(|p| at.path(p)).collect(),
            package_names: raw.package_names,
            slots,
            partitions,
            wipe,
            init,
            fleet: raw.fleet.map(|f| crate::fleet::config::FleetDef {
                controller_id: at.fact(f.controller_id),
                token_file: f.token_file.map(|p| at.path(&p)),
                ca_file: f.ca_file.map(|p| at.path(&p)),
                cache_dir: at.path(&f.cache_dir),
                ..f
            }),
            booted_slot: raw.booted_slot.map(|f| at.fact(f)),
            cmdline_file: raw
                .cmdline_file
                .map(|p| at.path(&p))
                .unwrap_or_else(|| PathBuf::from("/proc/cmdline")),
            health_check: raw.health_check,
        })
    }

    /// The OTA command file (`[init] command_file`, default `<state_dir>/command`).
    pub fn command_file(&self) -> PathBuf {
        self.init
            .command_file
            .clone()
            .unwrap_or_else(|| self.state_dir.join("command"))
    }

    pub fn partition(&self, name: &str) -> Option<&PartitionDef> {
        self.partitions.iter().find(|p| p.name == name)
    }

    /// The boot names of the `ubi_rename` scheme (empty without it): the only names for which
    /// `ubi:NAME_a` may resolve to the volume `NAME` ([`crate::device::target::resolve`]).
    pub fn ubi_renamed(&self) -> &[String] {
        self.slots
            .ubi_rename
            .as_ref()
            .map_or(&[], |r| r.volumes.as_slice())
    }
}

/// Parses "A.B.C.D/PREFIX" into the address and its netmask (prefix 0..=32).
pub fn parse_cidr(text: &str) -> Result<(std::net::Ipv4Addr, std::net::Ipv4Addr), String> {
    let (addr, prefix) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?}: give ADDRESS/PREFIX, e.g. 10.0.2.15/24"))?;
    let addr: std::net::Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("{text:?}: {addr:?} is not an IPv4 address"))?;
    let prefix: u32 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= 32)
        .ok_or_else(|| format!("{text:?}: the prefix must be 0..=32"))?;
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    Ok((addr, std::net::Ipv4Addr::from(mask)))
}

/// Parses "COLSxROWS" (both 1..=1000).
pub fn parse_viewport(s: &str) -> Option<(u16, u16)> {
    let (c, r) = s.split_once('x')?;
    let (c, r) = (c.trim().parse().ok()?, r.trim().parse().ok()?);
    ((1..=1000).contains(&c) && (1..=1000).contains(&r)).then_some((c, r))
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod profile_tests;
