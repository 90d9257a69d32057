//! The device boundary: flash targets ([`target`]), platform facts and slot control.
//!
//! The engine only talks to the [`Device`] trait. [`ProfileDevice`] implements it from a device
//! profile; its partitions may be regular files (tests, the demo) or block devices (a real
//! recovery), so every test runs without root and the real device code stays thin.

pub mod battery;
pub mod boot_control;
pub mod discovery;
pub mod power;
pub mod profile;
pub mod slots;
pub mod storage;
pub mod target;
pub mod uboot_env;
pub mod wipe;

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Error;
pub use boot_control::{BootControl, SlotMetadata};
pub use profile::{BatterySource, Fact, PartitionDef, Profile, SlotMode, WipeRole};
pub use slots::{MiscSlotControl, SlotControl, SlotInfo, SlotState};
pub use target::{Access, FlashTarget, FlashType, Identity};

/// An A/B slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Slot {
    #[serde(rename = "a")]
    A,
    #[serde(rename = "b")]
    B,
}

impl Slot {
    pub const ALL: [Slot; 2] = [Slot::A, Slot::B];
    pub fn index(self) -> usize {
        match self {
            Slot::A => 0,
            Slot::B => 1,
        }
    }
    pub fn letter(self) -> char {
        match self {
            Slot::A => 'a',
            Slot::B => 'b',
        }
    }
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.letter())
    }
}

/// Battery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Battery {
    pub percent: u8,
    pub charging: bool,
}

/// A target opened by [`Device::open_target`]: 9050 when it cannot be opened.
pub type Opened = Result<Box<dyn FlashTarget>, Error>;

/// Everything the engine needs from a device.
pub trait Device: Send + Sync {
    fn profile(&self) -> &Profile;
    fn hardware_revision(&self) -> Result<String, Error>;
    /// `None` when the device has no baseband.
    fn baseband(&self) -> Result<Option<String>, Error>;
    /// `None` when the device has no battery information (on mains power).
    fn battery(&self) -> Result<Option<Battery>, Error>;
    fn current_version(&self) -> Option<String>;
    /// Free bytes on the filesystem holding `path`.
    fn free_space(&self, path: &Path) -> io::Result<u64>;
    /// Opens the partition at `path` as a flash target of `kind` (the profile's partition
    /// `type`), through the handler table [`target::open`].
    fn open_target(&self, kind: FlashType, path: &Path, access: Access) -> Opened;
    /// Slot control for A/B devices; `None` for single-slot devices.
    fn slot_control(&self) -> Result<Option<Box<dyn SlotControl>>, Error>;
    /// The slot the running system booted from; `None` in the recovery, on a single-slot device,
    /// or when nothing names one ([`slots::booted_slot`]). With one, installs only ever write
    /// the other slot.
    fn booted_slot(&self) -> Result<Option<Slot>, Error> {
        Ok(None)
    }
    /// Wipe data / wipe cache: erases the profile's `[[wipe]]` partitions of `role`, nothing
    /// else ([`wipe::wipe`], the one policy); 9065 when there are none.
    fn wipe(&self, role: WipeRole) -> Result<Vec<wipe::Wiped>, Error> {
        wipe::wipe(self.profile(), role)
    }
}

/// The partition path for `slot` (`{slot}` replaced), or the path itself when unslotted.
pub fn partition_path(def: &PartitionDef, slot: Option<Slot>) -> PathBuf {
    match slot {
        Some(s) if def.slotted() => PathBuf::from(def.path.replace("{slot}", &s.to_string())),
        _ => PathBuf::from(&def.path),
    }
}

/// A device described by a profile: facts from literals or files, partitions from paths.
pub struct ProfileDevice {
    profile: Profile,
    /// Running as the recovery (the init, the recovery screen): no slot's system is running,
    /// so there is no booted slot to protect.
    recovery: bool,
}

impl ProfileDevice {
    pub fn new(profile: Profile) -> ProfileDevice {
        ProfileDevice {
            profile,
            recovery: false,
        }
    }
    /// The same device as the recovery sees it: no booted slot, whatever the kernel command
    /// line says (Android's recovery is started with `androidboot.slot_suffix` too).
    pub fn in_recovery(mut self) -> ProfileDevice {
        self.recovery = true;
        self
    }
    pub fn load(path: &Path) -> Result<ProfileDevice, Error> {
        Ok(ProfileDevice::new(Profile::load(path)?))
    }
}

/// Reads a fact: the literal, or the file's content through the optional regex.
pub fn read_fact(what: &str, fact: &Fact) -> Result<String, Error> {
    match fact {
        Fact::Literal(s) => Ok(s.clone()),
        Fact::File { file, regex } => {
            let err = |reason: String| Error::DeviceFact {
                what: what.to_string(),
                reason,
            };
            let bytes = crate::util::read_bounded(file, 64 * 1024)
                .map_err(|e| err(format!("{}: {e}", file.display())))?;
            let text = String::from_utf8_lossy(&bytes);
            match regex {
                None => Ok(text.lines().next().unwrap_or("").trim().to_string()),
                Some(r) => {
                    let re = regex_lite::Regex::new(r).map_err(|e| err(e.to_string()))?;
                    let caps = re
                        .captures(&text)
                        .ok_or_else(|| err(format!("{} does not match /{r}/", file.display())))?;
                    let m = caps.get(1).or_else(|| caps.get(0));
                    Ok(m.map(|m| m.as_str().trim().to_string()).unwrap_or_default())
                }
            }
        }
    }
}

impl Device for ProfileDevice {
    fn profile(&self) -> &Profile {
        &self.profile
    }

    fn hardware_revision(&self) -> Result<String, Error> {
        read_fact("hardware revision", &self.profile.hardware_revision)
    }

    fn baseband(&self) -> Result<Option<String>, Error> {
        self.profile
            .baseband
            .as_ref()
            .map(|f| read_fact("baseband", f))
            .transpose()
    }

    fn battery(&self) -> Result<Option<Battery>, Error> {
        match &self.profile.battery {
            None => Ok(None),
            Some(BatterySource::Fixed { capacity, charging }) => Ok(Some(Battery {
                percent: *capacity,
                charging: *charging,
            })),
            Some(BatterySource::Files {
                capacity_file,
                status_file,
            }) => {
                let cap = read_fact(
                    "battery capacity",
                    &Fact::File {
                        file: capacity_file.clone(),
                        regex: None,
                    },
                )?;
                let percent: u8 = cap.parse().map_err(|_| Error::DeviceFact {
                    what: "battery capacity".into(),
                    reason: format!("{}: {cap:?} is not a percentage", capacity_file.display()),
                })?;
                let charging = match status_file {
                    None => false,
                    Some(f) => {
                        let s = read_fact(
                            "battery status",
                            &Fact::File {
                                file: f.clone(),
                                regex: None,
                            },
                        )?;
                        // power_supply class: "Charging", "Full", "Discharging", "Not charging".
                        matches!(s.as_str(), "Charging" | "Full")
                    }
                };
                Ok(Some(Battery {
                    percent: percent.min(100),
                    charging,
                }))
            }
            Some(BatterySource::Auto(_)) => {
                battery::from_power_supply(Path::new(battery::POWER_SUPPLY))
            }
        }
    }

    fn current_version(&self) -> Option<String> {
        if let Some(f) = &self.profile.current_version {
            if let Ok(v) = read_fact("current version", f) {
                return Some(v);
            }
        }
        crate::state::installed_version(&self.profile.state_dir)
    }

    fn free_space(&self, path: &Path) -> io::Result<u64> {
        crate::sys::free_space(path)
    }

    fn open_target(&self, kind: FlashType, path: &Path, access: Access) -> Opened {
        target::open(kind, path, access, self.profile.ubi_renamed()).map_err(|source| {
            Error::PartitionOpen {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    fn booted_slot(&self) -> Result<Option<Slot>, Error> {
        if self.recovery {
            return Ok(None);
        }
        slots::booted_slot(&self.profile)
    }

    fn slot_control(&self) -> Result<Option<Box<dyn SlotControl>>, Error> {
        if let (SlotMode::Ab, Some(u)) = (self.profile.slots.mode, &self.profile.slots.uboot_env) {
            let store =
                uboot_env::EnvStore::from_config(&u.config).map_err(|reason| Error::SlotState {
                    reason: format!("U-Boot environment: {reason}"),
                })?;
            let vars = uboot_env::SlotVars {
                order: u.order_var.clone(),
                left: u.left_var.clone(),
                names: u.slot_names.clone(),
                tries: u.tries,
            };
            return Ok(Some(Box::new(uboot_env::UbootSlotControl::new(
                store, vars,
            ))));
        }
        if let (SlotMode::Ab, Some(r)) = (self.profile.slots.mode, &self.profile.slots.ubi_rename) {
            return Ok(Some(Box::new(
                slots::ubi_rename::UbiRenameSlotControl::new(r, &self.profile.state_dir),
            )));
        }
        match (self.profile.slots.mode, &self.profile.slots.misc) {
            (SlotMode::Ab, Some(misc)) => Ok(Some(Box::new(MiscSlotControl::new(misc.clone())))),
            (SlotMode::Ab, None) => Err(Error::Profile {
                path: self.profile.path.clone(),
                reason: "A/B without misc".into(),
            }),
            (SlotMode::Single, _) => Ok(None),
        }
    }
}
