//! The U-Boot proof machine (recovery/uboot/, tests/qemu_uboot.rs): Debian's qemu_arm64 U-Boot
//! under qemu-system-aarch64 with one virtio disk made by recovery/uboot/make-disk.sh. Each
//! `boot` is one QEMU run (U-Boot, boot.scr, the kernel, the slot's system-init.sh) that ends
//! when the system powers off or the kernel panics; everything is read back from the disk image
//! on the host afterwards (mtools with "@@offset", fw_printenv on the environment file).

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{keygen, sh};

const MIB: u64 = 1024 * 1024;
/// Partition offsets and sizes in MiB, as recovery/uboot/make-disk.sh lays them out.
pub const BOOT_AT: u64 = 1;
pub const SYSTEM_A_AT: u64 = 41;
pub const SYSTEM_B_AT: u64 = 73;
pub const SYSTEM_SIZE: u64 = 32;
pub const STATE_AT: u64 = 105;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The static aarch64 updater that goes into each slot's system.
pub fn aarch64_updater() -> PathBuf {
    let p = std::env::var_os("RECOVERY_UBOOT_BIN").map_or_else(
        || repo().join("target/aarch64-unknown-linux-musl/release/recovery-updater"),
        PathBuf::from,
    );
    assert!(
        p.exists(),
        "{} is missing: cargo build --release --target aarch64-unknown-linux-musl",
        p.display()
    );
    p
}

pub struct Uboot {
    pub dir: PathBuf,
    pub disk: PathBuf,
    pub key: PathBuf,
    profile: PathBuf,
}

impl Uboot {
    /// A fresh machine in `target/uboot-tests/NAME` whose slot A holds version 1.0.0.
    pub fn new(name: &str) -> (Uboot, PathBuf) {
        let kernels = repo().join("recovery/.cache/arm64/kernel/lib/modules");
        assert!(
            kernels.exists(),
            "{} is missing: run recovery/fetch-kernel.sh arm64",
            kernels.display()
        );
        let dir = repo().join("target/uboot-tests").join(name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("profile/keys")).unwrap();
        let (key, _) = keygen(&dir.join("profile/keys"), "release", "ecdsa-p256");
        let profile = dir.join("profile/device.toml");
        fs::copy(repo().join("recovery/uboot/device.toml"), &profile).unwrap();
        let m = Uboot {
            disk: dir.join("disk.img"),
            dir,
            key,
            profile,
        };
        let a = m.slot("a.img", "system-init.sh", "1.0.0");
        sh(Command::new(repo().join("recovery/uboot/make-disk.sh"))
            .arg("disk")
            .arg(&m.disk)
            .arg("--slot-a")
            .arg(&a));
        (m, a)
    }

    /// A slot image (FAT holding the system's initrd) whose /init is recovery/uboot/INIT.
    pub fn slot(&self, name: &str, init: &str, version: &str) -> PathBuf {
        let out = self.dir.join(name);
        sh(Command::new(repo().join("recovery/uboot/make-disk.sh"))
            .arg("slot")
            .arg(&out)
            .arg("--init")
            .arg(repo().join("recovery/uboot").join(init))
            .args(["--version", version, "--updater"])
            .arg(aarch64_updater())
            .arg("--profile")
            .arg(&self.profile));
        out
    }

    /// A signed package (made by the host's updater) carrying `slot` as the system image.
    pub fn package(&self, slot: &Path, version: &str) -> PathBuf {
        let spec = self.dir.join(format!("spec-{version}.toml"));
        fs::write(
            &spec,
            format!(
                "products = [\"qemu-uboot\"]\nversion = \"{version}\"\nrollback_index = 2\n\
                 hardware_revisions = [\"qemu-virt\"]\n\n[[image]]\npartition = \"system\"\n\
                 file = \"{}\"\ncompression = \"deflate\"\n",
                slot.display()
            ),
        )
        .unwrap();
        let out_path = self.dir.join(format!("update-{version}.zip"));
        super::pack_file(&spec, &self.key, &out_path)
    }

    fn fat(&self, at_mib: u64) -> String {
        format!("{}@@{}M", self.disk.display(), at_mib)
    }

    /// Copies `data` to the state partition as `name`.
    pub fn put_state(&self, name: &str, data: &[u8]) {
        let tmp = self.dir.join("put.tmp");
        fs::write(&tmp, data).unwrap();
        sh(Command::new("mcopy")
            .args(["-o", "-i", &self.fat(STATE_AT)])
            .arg(&tmp)
            .arg(format!("::{name}")));
    }

    /// The steps system-init.sh runs at the next boot (`apply`, `mark-good`).
    pub fn next(&self, steps: &str) {
        self.put_state("next", steps.as_bytes());
    }

    /// A file of the state partition, None when it is not there.
    pub fn state(&self, name: &str) -> Option<String> {
        let out = Command::new("mtype")
            .args(["-i", &self.fat(STATE_AT)])
            .arg(format!("::{name}"))
            .output()
            .expect("mtype (mtools) is not installed: scripts/test installs it");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn state_json(&self, name: &str) -> serde_json::Value {
        let s = self
            .state(name)
            .unwrap_or_else(|| panic!("{name} is not on the state partition"));
        serde_json::from_str(&s).unwrap_or_else(|e| panic!("{name}: {e}: {s}"))
    }

    /// The slot and version of every boot that reached the system, from /state/boots.log.
    pub fn boots(&self) -> Vec<String> {
        self.state("boots.log")
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The U-Boot environment (uboot.env on the boot partition) as fw_printenv reads it.
    pub fn env(&self) -> BTreeMap<String, String> {
        let file = self.dir.join("uboot.env");
        let _ = fs::remove_file(&file);
        sh(Command::new("mcopy")
            .args(["-i", &self.fat(BOOT_AT), "::uboot.env"])
            .arg(&file));
        let cfg = self.dir.join("fw_env.config");
        fs::write(&cfg, format!("{} 0x0 0x4000\n", file.display())).unwrap();
        sh(Command::new("fw_printenv").arg("-c").arg(&cfg))
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The slot counters, e.g. ("B A", "1", "3").
    pub fn counters(&self) -> (String, String, String) {
        let env = self.env();
        let get = |k: &str| env.get(k).cloned().unwrap_or_default();
        (get("BOOT_ORDER"), get("BOOT_A_LEFT"), get("BOOT_B_LEFT"))
    }

    /// The bytes of a slot's partition.
    pub fn system(&self, at_mib: u64) -> Vec<u8> {
        let disk = fs::read(&self.disk).unwrap();
        let start = (at_mib * MIB) as usize;
        disk[start..start + (SYSTEM_SIZE * MIB) as usize].to_vec()
    }

    fn qemu(&self) -> Command {
        let mut cmd = Command::new(repo().join("recovery/uboot/boot.sh"));
        cmd.arg(&self.disk);
        cmd
    }

    /// One boot to its end (power off, or the panic of a system that does not come up); returns
    /// the console. Bounded by boot.sh's timeout.
    pub fn boot(&self) -> String {
        let out = self
            .qemu()
            .output()
            .expect("recovery/uboot/boot.sh (qemu-system-aarch64)");
        let console = String::from_utf8_lossy(&out.stdout).into_owned();
        // 0: QEMU exited because the guest powered off or reset (-no-reboot); 124/137: timeout.
        assert!(
            out.status.success(),
            "the boot did not end by itself ({}):\n{console}",
            out.status
        );
        console
    }

    /// One boot, killed (SIGKILL, as a power cut) as soon as a console line contains `needle`.
    /// Returns the console up to there.
    pub fn boot_and_kill_at(&self, needle: &str) -> String {
        let mut child = self
            .qemu()
            .process_group(0)
            .stdout(Stdio::piped())
            .spawn()
            .expect("recovery/uboot/boot.sh (qemu-system-aarch64)");
        let mut console = String::new();
        let mut found = false;
        for line in BufReader::new(child.stdout.take().unwrap()).split(b'\n') {
            let line = String::from_utf8_lossy(&line.unwrap()).into_owned();
            console.push_str(&line);
            console.push('\n');
            if line.contains(needle) {
                found = true;
                break;
            }
        }
        // boot.sh execs `timeout`, which runs QEMU as its child in the process group the
        // child was started in (process_group(0) below): SIGKILL to the group stops QEMU at
        // once, mid-write, like a power cut.
        let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL).unwrap();
        let _ = child.kill();
        child.wait().unwrap();
        assert!(
            found,
            "`{needle}` never appeared on the console:\n{console}"
        );
        console
    }
}
