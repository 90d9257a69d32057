//! A simulated device and a sample package, so a newcomer (and the tests) can see the whole
//! flow with no hardware: `recovery-updater demo`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::device::{boot_control, BootControl, Slot, SlotMode};
use crate::package::keys::{write_keypair, Algorithm, PrivateKey};
use crate::package::pack;
use crate::Error;

const MIB: u64 = 1 << 20;

/// Deterministic pseudo-random bytes (xorshift64*), so images are reproducible and
/// incompressible. `compressible` zeroes every other 4 KiB block, as real filesystem images have
/// large empty areas.
pub fn image_bytes(seed: u64, len: u64, compressible: bool) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len as usize);
    while (out.len() as u64) < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.truncate(len as usize);
    if compressible {
        for (i, block) in out.chunks_mut(4096).enumerate() {
            if i % 2 == 1 {
                block.fill(0);
            }
        }
    }
    out
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::StateWrite {
        path: path.to_path_buf(),
        source: e,
    }
}

fn write(path: &Path, data: &[u8]) -> Result<(), Error> {
    if let Some(d) = path.parent() {
        fs::create_dir_all(d).map_err(io(d))?;
    }
    fs::write(path, data).map_err(io(path))
}

/// Partitions of the demo device: (name, size). On an A/B device each has a and b copies.
pub const PARTITIONS: [(&str, u64); 3] =
    [("boot", 8 * MIB), ("system", 40 * MIB), ("vendor", 4 * MIB)];

/// Options for [`create_device`].
#[derive(Debug, Clone)]
pub struct SimDevice {
    pub mode: SlotMode,
    /// Slot b recorded as a previous good install (bootable) instead of never written.
    pub b_bootable: bool,
    pub battery: u8,
    pub charging: bool,
    pub rollback_index: u64,
    pub hardware_revision: String,
    pub baseband: String,
    pub public_keys: Vec<PathBuf>,
    /// (name, size in bytes) of each partition.
    pub partitions: Vec<(String, u64)>,
}

impl Default for SimDevice {
    fn default() -> Self {
        SimDevice {
            mode: SlotMode::Ab,
            b_bootable: true,
            battery: 87,
            charging: false,
            rollback_index: 2,
            hardware_revision: "revB".into(),
            baseband: "MPSS.DEMO.1.0.c3".into(),
            public_keys: vec![],
            partitions: PARTITIONS
                .iter()
                .map(|(n, s)| (n.to_string(), *s))
                .collect(),
        }
    }
}

/// Creates a file-backed device under `dir`: partitions, misc, facts, state and device.toml.
/// Returns the path of device.toml.
pub fn create_device(dir: &Path, sim: &SimDevice) -> Result<PathBuf, Error> {
    fs::create_dir_all(dir.join("parts")).map_err(io(dir))?;
    fs::create_dir_all(dir.join("state")).map_err(io(dir))?;
    fs::create_dir_all(dir.join("sdcard")).map_err(io(dir))?;
    write(
        &dir.join("sys/hw_revision"),
        format!("{}\n", sim.hardware_revision).as_bytes(),
    )?;
    write(
        &dir.join("sys/baseband"),
        format!("Baseband: {} (modem)\n", sim.baseband).as_bytes(),
    )?;
    write(
        &dir.join("sys/battery/capacity"),
        format!("{}\n", sim.battery).as_bytes(),
    )?;
    write(
        &dir.join("sys/battery/status"),
        if sim.charging {
            "Charging\n"
        } else {
            "Discharging\n"
        }
        .as_bytes(),
    )?;
    write(
        &dir.join("state/rollback_index"),
        format!("{}\n", sim.rollback_index).as_bytes(),
    )?;
    write(&dir.join("state/installed_version"), b"1.0.0\n")?;
    let mut keys = String::new();
    for (i, k) in sim.public_keys.iter().enumerate() {
        let dest = dir.join(format!("keys/trusted{i}.pub"));
        let data = fs::read(k).map_err(io(k))?;
        write(&dest, &data)?;
        keys.push_str(&format!("\"keys/trusted{i}.pub\", "));
    }
    let mut parts = String::new();
    for (seed, (name, size)) in sim.partitions.iter().enumerate() {
        // The running version's content, so copies and "unchanged" checks have real data.
        let content = image_bytes(1000 + seed as u64, *size / 2, false);
        let mut full = content;
        full.resize(*size as usize, 0);
        match sim.mode {
            SlotMode::Ab => {
                write(&dir.join(format!("parts/{name}_a.img")), &full)?;
                write(&dir.join(format!("parts/{name}_b.img")), &full)?;
                parts.push_str(&format!(
                    "\n[[partition]]\nname = \"{name}\"\npath = \"parts/{name}_{{slot}}.img\"\n"
                ));
            }
            SlotMode::Single => {
                write(&dir.join(format!("parts/{name}.img")), &full)?;
                parts.push_str(&format!(
                    "\n[[partition]]\nname = \"{name}\"\npath = \"parts/{name}.img\"\n"
                ));
            }
        }
    }
    let slots = match sim.mode {
        SlotMode::Ab => {
            let mut misc = vec![0u8; 64 * 1024];
            let mut bc = BootControl::defaults();
            bc.set_active(Slot::A);
            bc.mark_successful(Slot::A);
            if !sim.b_bootable {
                bc.mark_unbootable(Slot::B);
            } else {
                let mut m = bc.slot(Slot::B);
                m.priority = 14;
                m.successful_boot = true;
                m.tries_remaining = 0;
                bc.set_slot(Slot::B, m);
                bc.update_crc();
            }
            let off = boot_control::OFFSET as usize;
            misc[off..off + boot_control::SIZE].copy_from_slice(&bc.encode());
            write(&dir.join("parts/misc.img"), &misc)?;
            "[slots]\nmode = \"ab\"\nmisc = \"parts/misc.img\"\n"
        }
        SlotMode::Single => "[slots]\nmode = \"single\"\n",
    };
    let toml = format!(
        r#"# Simulated device made by `recovery-updater demo` (see docs/DEVICE.md).
product = "demo-phone"
hardware_revision = {{ file = "sys/hw_revision" }}
baseband = {{ file = "sys/baseband", regex = "^Baseband: (\\S+)" }}
keys = [{keys}]
state_dir = "state"
rollback_index_file = "state/rollback_index"
min_battery_percent = 20
battery = {{ capacity_file = "sys/battery/capacity", status_file = "sys/battery/status" }}
storage = ["sdcard"]

{slots}{parts}"#
    );
    let path = dir.join("device.toml");
    write(&path, toml.as_bytes())?;
    Ok(path)
}

/// Writes sample images and a package spec in `dir`; returns the spec path.
pub fn write_sample_spec(dir: &Path, version: &str, rollback_index: u64) -> Result<PathBuf, Error> {
    write(
        &dir.join("boot.img"),
        &image_bytes(1, 3 * MIB + 12345, false),
    )?;
    write(&dir.join("system.img"), &image_bytes(2, 24 * MIB, true))?;
    let spec = format!(
        r#"products = ["demo-phone"]
version = "{version}"
rollback_index = {rollback_index}
hardware_revisions = ["revA", "revB"]
basebands = ["MPSS.DEMO.1.*"]
wipe_data = false

[[image]]
partition = "boot"
file = "boot.img"

[[image]]
partition = "system"
file = "system.img"
compression = "deflate"
"#
    );
    let path = dir.join("package.toml");
    write(&path, spec.as_bytes())?;
    Ok(path)
}

/// Everything `demo` made.
pub struct Demo {
    pub dir: PathBuf,
    pub device: PathBuf,
    pub package: PathBuf,
    pub key: PathBuf,
    pub public_key: PathBuf,
}

/// Makes keys, a simulated A/B device that trusts them, and a signed sample package on its SD
/// card folder.
pub fn prepare(dir: &Path) -> Result<Demo, Error> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let base = dir.join("keys/release");
    fs::create_dir_all(dir.join("keys")).map_err(io(dir))?;
    let (key_path, pub_path) = if base.with_extension("key").exists() {
        (base.with_extension("key"), base.with_extension("pub"))
    } else {
        write_keypair(&PrivateKey::generate(Algorithm::EcdsaP256)?, &base)?
    };
    let device = create_device(
        &dir.join("device"),
        &SimDevice {
            public_keys: vec![pub_path.clone()],
            ..SimDevice::default()
        },
    )?;
    let spec = write_sample_spec(&dir.join("build"), "1.1.0", 3)?;
    let package = dir.join("device/sdcard/update.zip");
    let key = PrivateKey::load(&key_path)?;
    pack::pack(&spec, Some(&key), None, &package)?;
    Ok(Demo {
        dir: dir.to_path_buf(),
        device,
        package,
        key: key_path,
        public_key: pub_path,
    })
}
