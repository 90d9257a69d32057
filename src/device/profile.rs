//! The device profile: a TOML file in the read-only recovery image that describes the device
//! (see docs/DEVICE.md). Relative paths resolve against the profile's folder.

use std::path::{Path, PathBuf};

use serde::Deserialize;

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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionDef {
    pub name: String,
    /// Path of the partition; `{slot}` becomes `a` or `b` on A/B devices.
    pub path: String,
}

impl PartitionDef {
    pub fn slotted(&self) -> bool {
        self.path.contains("{slot}")
    }
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
        let abs = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                dir.join(p)
            }
        };
        let fact = |f: Fact| -> Fact {
            match f {
                Fact::File { file, regex } => Fact::File {
                    file: abs(&file),
                    regex,
                },
                lit => lit,
            }
        };
        if raw.product.trim().is_empty() {
            return Err(invalid(path, "product is empty"));
        }
        if raw.keys.is_empty() {
            return Err(invalid(path, "no trusted keys listed"));
        }
        if raw.partitions.is_empty() {
            return Err(invalid(path, "no [[partition]] listed"));
        }
        let mut names = std::collections::HashSet::new();
        for p in &raw.partitions {
            if !crate::package::manifest::valid_partition_name(&p.name) {
                return Err(invalid(path, format!("bad partition name {:?}", p.name)));
            }
            if !names.insert(p.name.clone()) {
                return Err(invalid(path, format!("partition {} listed twice", p.name)));
            }
            if raw.slots.mode == SlotMode::Single && p.slotted() {
                return Err(invalid(
                    path,
                    format!(
                        "partition {} uses {{slot}} but slots.mode is single",
                        p.name
                    ),
                ));
            }
        }
        if raw.slots.mode == SlotMode::Ab {
            if raw.slots.misc.is_none() {
                return Err(invalid(path, "slots.mode = \"ab\" needs slots.misc"));
            }
            if !raw.partitions.iter().any(PartitionDef::slotted) {
                return Err(invalid(path, "A/B device without any {slot} partition"));
            }
        }
        if let Some(p) = raw.min_battery_percent {
            if p > 100 {
                return Err(invalid(path, "min_battery_percent above 100"));
            }
        }
        for f in [&raw.hardware_revision]
            .into_iter()
            .chain(raw.baseband.as_ref())
            .chain(raw.current_version.as_ref())
        {
            if let Fact::File { regex: Some(r), .. } = f {
                regex::Regex::new(r).map_err(|e| invalid(path, format!("bad regex: {e}")))?;
            }
        }
        let state_dir = abs(&raw.state_dir);
        let rollback_index_file = raw
            .rollback_index_file
            .map(|p| abs(&p))
            .unwrap_or_else(|| state_dir.join("rollback_index"));
        let slots = Slots {
            mode: raw.slots.mode,
            misc: raw.slots.misc.map(|p| abs(&p)),
        };
        let partitions = raw
            .partitions
            .into_iter()
            .map(|p| PartitionDef {
                path: if Path::new(&p.path).is_absolute() {
                    p.path
                } else {
                    dir.join(&p.path).to_string_lossy().into_owned()
                },
                name: p.name,
            })
            .collect();
        let battery = raw.battery.map(|b| match b {
            BatterySource::Files {
                capacity_file,
                status_file,
            } => BatterySource::Files {
                capacity_file: abs(&capacity_file),
                status_file: status_file.map(|p| abs(&p)),
            },
            fixed => fixed,
        });
        Ok(Profile {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
            product: raw.product,
            hardware_revision: fact(raw.hardware_revision),
            baseband: raw.baseband.map(fact),
            current_version: raw.current_version.map(fact),
            keys: raw.keys.iter().map(|p| abs(p)).collect(),
            state_dir,
            rollback_index_file,
            min_battery_percent: raw.min_battery_percent,
            battery,
            min_free_state_bytes: raw.min_free_state_bytes,
            storage: raw.storage.iter().map(|p| abs(p)).collect(),
            package_names: raw.package_names,
            slots,
            partitions,
        })
    }

    pub fn partition(&self, name: &str) -> Option<&PartitionDef> {
        self.partitions.iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
product = "demo-phone"
hardware_revision = "revA"
baseband = { file = "baseband.txt", regex = "^(\\S+)" }
keys = ["keys/release.pub"]
state_dir = "state"
min_battery_percent = 20
[slots]
mode = "ab"
misc = "parts/misc.img"
[[partition]]
name = "boot"
path = "parts/boot_{slot}.img"
[[partition]]
name = "modem"
path = "/dev/block/by-name/modem"
"#;

    #[test]
    fn parses_sample_and_resolves_paths() {
        let p = Profile::parse(SAMPLE, Path::new("/r/device.toml"), Path::new("/r")).unwrap();
        assert_eq!(p.product, "demo-phone");
        assert_eq!(p.hardware_revision, Fact::Literal("revA".into()));
        assert_eq!(
            p.baseband,
            Some(Fact::File {
                file: "/r/baseband.txt".into(),
                regex: Some("^(\\S+)".into())
            })
        );
        assert_eq!(p.keys, vec![PathBuf::from("/r/keys/release.pub")]);
        assert_eq!(
            p.rollback_index_file,
            PathBuf::from("/r/state/rollback_index")
        );
        assert_eq!(p.slots.misc, Some(PathBuf::from("/r/parts/misc.img")));
        assert_eq!(p.partitions[0].path, "/r/parts/boot_{slot}.img");
        assert!(p.partitions[0].slotted());
        assert_eq!(p.partitions[1].path, "/dev/block/by-name/modem");
        assert_eq!(p.package_names, vec!["update.zip".to_string()]);
    }

    #[test]
    fn rejects_bad_profiles() {
        let cases = [
            (
                SAMPLE.replace("keys = [\"keys/release.pub\"]", "keys = []"),
                "no trusted keys",
            ),
            (
                SAMPLE.replace("misc = \"parts/misc.img\"", ""),
                "needs slots.misc",
            ),
            (
                SAMPLE.replace("name = \"modem\"", "name = \"boot\""),
                "listed twice",
            ),
            (
                SAMPLE.replace("name = \"modem\"", "name = \"../x\""),
                "bad partition name",
            ),
            (
                SAMPLE.replace("min_battery_percent = 20", "min_battery_percent = 120"),
                "above 100",
            ),
            (SAMPLE.replace("^(\\\\S+)", "(["), "bad regex"),
            (SAMPLE.replace("product =", "produkt ="), "unknown field"),
            (SAMPLE.replace("\"ab\"", "\"single\""), "uses {slot}"),
        ];
        for (text, want) in cases {
            let e = Profile::parse(&text, Path::new("d.toml"), Path::new(".")).unwrap_err();
            assert!(e.to_string().contains(want), "{e} should mention {want}");
            assert_eq!(crate::HasCode::code(&e), crate::Code::ProfileInvalid);
        }
    }
}
