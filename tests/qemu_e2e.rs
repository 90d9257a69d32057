//! End to end on a real kernel: boots qemu-system-x86_64 (TCG) with the static musl binary as
//! /init in an initramfs made by recovery/mkinitramfs.py, virtio disks for
//! boot_a/boot_b/system_a/system_b/misc/userdata/state and an SD card holding update.zip.
//!
//! Boot 1: the init loads the kernel modules, finds and mounts the card, installs the package to
//! slot b headless (with the wipe the package asks for) and powers off; the host then checks the
//! disks byte for byte, the misc bootloader_control and last_install.json on the state disk.
//! Boot 2: the card holds a tampered package and the USB stick no filesystem; the host checks
//! codes 9110 (stick) and 9012 (package) and that no disk changed.
//! Boot 3: an OTA command file on the state disk names a package there; it is installed to slot
//! a and the command is cleared.
//!
//! Needs qemu-system-x86, mtools, dosfstools, fdisk, python3, the kernel from
//! recovery/fetch-kernel.sh and `cargo build --release --target x86_64-unknown-linux-musl`;
//! `.ci/run` prepares all of it and runs this test with `--ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{
    blank, decode_boot_control, keygen, partitioned_fat_card, rewrite, run, sh, text, tool_output,
};
use recovery_updater::demo::image_bytes;
use recovery_updater::device::boot_control::Decoded;
use recovery_updater::device::Slot;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Machine {
    dir: PathBuf,
    kernel: PathBuf,
    initrd: PathBuf,
    disks: Vec<(&'static str, PathBuf)>,
    sd: PathBuf,
    /// A USB stick: ext4 without the package on boot 1, unreadable garbage on boot 2.
    usb: PathBuf,
}

impl Machine {
    fn disk(&self, name: &str) -> Vec<u8> {
        let p = &self.disks.iter().find(|(n, _)| *n == name).unwrap().1;
        fs::read(p).unwrap()
    }

    fn snapshot(&self) -> Vec<(&'static str, Vec<u8>)> {
        self.disks
            .iter()
            .filter(|(n, _)| *n != "state")
            .map(|(n, p)| (*n, fs::read(p).unwrap()))
            .collect()
    }

    /// Boots once; returns the serial console output. Panics if QEMU fails or hangs.
    fn boot(&self, name: &str) -> String {
        let mut cmd = Command::new(root().join("recovery/boot-qemu.sh"));
        cmd.arg(&self.kernel).arg(&self.initrd);
        for (n, p) in &self.disks {
            cmd.arg("--disk").arg(format!("{n}={}", p.display()));
        }
        cmd.arg("--sd").arg(&self.sd).arg("--usb").arg(&self.usb);
        cmd.env("TIMEOUT", "240").stdin(Stdio::null());
        let t = Instant::now();
        let out = cmd.output().unwrap();
        let console = String::from_utf8_lossy(&out.stdout).into_owned();
        fs::write(self.dir.join(format!("{name}.console.log")), &console).unwrap();
        eprintln!(
            "{name}: QEMU ran {:.1} s; console:\n{console}",
            t.elapsed().as_secs_f64()
        );
        assert!(
            out.status.success(),
            "{name}: QEMU exited with {:?} (124 = killed by the timeout)\nconsole:\n{console}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        console
    }

    fn last_install(&self) -> serde_json::Value {
        let state = &self.disks.iter().find(|(n, _)| *n == "state").unwrap().1;
        let out = tool_output(
            Command::new("mcopy")
                .env("MTOOLS_SKIP_CHECK", "1")
                .arg("-n")
                .arg("-i")
                .arg(state)
                .arg("::last_install.json")
                .arg("-"),
        );
        assert!(
            out.status.success(),
            "no last_install.json on the state disk"
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn put_on_card(&self, package: &Path) {
        let img = format!("{}@@1M", self.sd.display());
        sh(Command::new("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-o", "-i", &img])
            .arg(package)
            .arg("::update.zip"));
    }
}

fn filled(len: usize, byte: u8) -> Vec<u8> {
    vec![byte; len]
}

fn setup() -> (tempfile::TempDir, Machine, PathBuf, PathBuf) {
    let init_bin = common::musl_init_bin();
    let (_, vmlinuz, _) = common::debian_kernel();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();

    // The profile and key the image trusts.
    let (key, public) = keygen(&dir, "release", "ecdsa-p256");
    fs::create_dir_all(dir.join("profile/keys")).unwrap();
    fs::copy(
        root().join("recovery/qemu/device.toml"),
        dir.join("profile/device.toml"),
    )
    .unwrap();
    fs::copy(&public, dir.join("profile/keys/release.pub")).unwrap();
    let initrd = dir.join("initramfs.cpio");
    common::mkinitramfs(&init_bin, &dir.join("profile/device.toml"), &[], &initrd);

    // Disks: old contents in both slots, an unset misc (slot a boots), user data to be wiped.
    let mut disks = Vec::new();
    for (name, content) in [
        ("boot_a", filled(512 * KIB, 0xa1)),
        ("boot_b", filled(512 * KIB, 0xb1)),
        ("system_a", filled(4 * MIB, 0xa2)),
        ("system_b", filled(4 * MIB, 0xb2)),
        ("misc", filled(64 * KIB, 0)),
        ("userdata", filled(4 * MIB, 0xd5)),
    ] {
        let p = dir.join(format!("{name}.img"));
        fs::write(&p, content).unwrap();
        disks.push((name, p));
    }
    let state = dir.join("state.img");
    sh(Command::new("mkfs.vfat")
        .args(["-n", "STATE", "-C"])
        .arg(&state)
        .arg("16384"));
    disks.push(("state", state));

    // The SD card: a DOS partition table with one FAT partition at 1 MiB; size a power of two.
    let sd = dir.join("sd.img");
    partitioned_fat_card(&sd, 64, Some("CARD"));

    // Images and the signed package (asks for a data wipe).
    fs::write(
        dir.join("boot.img"),
        image_bytes(41, (300 * KIB + 17) as u64, false),
    )
    .unwrap();
    fs::write(
        dir.join("system.img"),
        image_bytes(42, (3 * MIB + 4321) as u64, true),
    )
    .unwrap();
    let package = common::pack_spec_text(
        &dir,
        r#"products = ["qemu-recovery"]
version = "2.0.0"
rollback_index = 1
hardware_revisions = ["qemu-pc"]
wipe_data = true

[[image]]
partition = "boot"
file = "boot.img"

[[image]]
partition = "system"
file = "system.img"
compression = "deflate"
"#,
        &key,
    );

    // The USB stick: ext4 made from a folder (mke2fs -d, no root mount), no package on it.
    fs::create_dir_all(dir.join("usb")).unwrap();
    fs::write(dir.join("usb/readme.txt"), "no update here\n").unwrap();
    let usb = dir.join("usb.img");
    blank(&usb, 16);
    sh(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(dir.join("usb"))
        .arg(&usb));

    let m = Machine {
        dir: dir.clone(),
        kernel: vmlinuz,
        initrd,
        disks,
        sd,
        usb,
    };
    (tmp, m, package, key)
}

#[test]
#[ignore = "boots qemu-system-x86_64 for ~30 s; .ci/run runs it with --ignored after building the musl binary and fetching the kernel"]
fn qemu_boot_installs_from_sd_card_then_refuses_a_tampered_package() {
    let (_tmp, m, package, key) = setup();
    sd_card_boot_installs_into_slot_b(&m, &package);
    tampered_package_boot_changes_nothing(&m, &package);
    ota_command_boot_wins_over_the_card(&m, &key);
}

/// Boot 1: the good package on the SD card goes into slot b; slot a is untouched; the package's
/// wipe zeroes userdata's ends.
fn sd_card_boot_installs_into_slot_b(m: &Machine, package: &Path) {
    let before = m.snapshot();
    m.put_on_card(package);
    let console = m.boot("boot1");
    assert!(
        console.contains("recovery: done"),
        "install did not finish:\n{console}"
    );
    assert!(
        console.contains("(ext4) at /run/recovery/storage/sd"),
        "the ext4 USB stick is mounted and searched:\n{console}"
    );
    let rec = m.last_install();
    assert_eq!(rec["result"], "success", "{rec:#}\n{console}");
    assert_eq!(rec["code"], 0);
    assert_eq!(rec["to_version"], "2.0.0");
    assert_eq!(rec["target_slot"], "b");
    assert!(
        rec["package"]
            .as_str()
            .unwrap()
            .ends_with("mmcblk0p1/update.zip"),
        "found on the card: {rec:#}"
    );
    let boot = fs::read(m.dir.join("boot.img")).unwrap();
    let system = fs::read(m.dir.join("system.img")).unwrap();
    let boot_b = m.disk("boot_b");
    let system_b = m.disk("system_b");
    assert!(boot_b[..boot.len()] == boot[..], "boot_b holds boot.img");
    assert!(
        system_b[..system.len()] == system[..],
        "system_b holds system.img"
    );
    for (name, old) in &before {
        if name.ends_with("_a") {
            assert!(m.disk(name) == *old, "{name} (active slot) untouched");
        }
    }
    let misc = m.disk("misc");
    let (bc, decoded) = decode_boot_control(&misc);
    assert_eq!(decoded, Decoded::Valid);
    assert_eq!(bc.active(), Slot::B, "misc marks slot b active");
    let userdata = m.disk("userdata");
    assert!(
        userdata[..MIB].iter().all(|&b| b == 0) && userdata[3 * MIB..].iter().all(|&b| b == 0),
        "the package asked for a wipe: userdata's ends are zeroed"
    );
    assert!(userdata[MIB..3 * MIB].iter().all(|&b| b == 0xd5));
}

/// Boot 2: a tampered package on the card and an unreadable stick: 9012, both reported, and no
/// disk changes.
fn tampered_package_boot_changes_nothing(m: &Machine, package: &Path) {
    // Boot 2: a tampered package (manifest changed after signing). Nothing may change.
    let bad = m.dir.join("bad.zip");
    rewrite(package, &bad, |entries| {
        let e = entries
            .iter_mut()
            .find(|e| e.name == "META-INF/update/manifest.json")
            .unwrap();
        let s = String::from_utf8(e.data.clone()).unwrap();
        let t = s.replace("\"2.0.0\"", "\"9.0.0\"");
        assert_ne!(s, t);
        e.data = t.into_bytes();
    });
    m.put_on_card(&bad);
    // And a stick that holds no filesystem: reported with its code, the scan goes on.
    fs::write(&m.usb, image_bytes(9, 16 * MIB as u64, false)).unwrap();
    let after_first = m.snapshot();
    let console = m.boot("boot2");
    let rec = m.last_install();
    assert_eq!(rec["result"], "failure", "{rec:#}\n{console}");
    assert_eq!(rec["code"], 9012, "{rec:#}");
    assert!(
        console.contains("9012"),
        "the console shows the code:\n{console}"
    );
    assert!(
        console.contains("error 9110: STORAGE_MOUNT_FAILED"),
        "the unreadable stick is reported:\n{console}"
    );
    for ((name, a), (_, b)) in after_first.iter().zip(m.snapshot().iter()) {
        assert!(a == b, "{name} changed by a refused package");
    }
}

/// Boot 3: an OTA command file on the state partition wins over the card.
fn ota_command_boot_wins_over_the_card(m: &Machine, key: &Path) {
    // Boot 3: the system's OTA client left a command file on the state partition naming a
    // package there. It wins over the card (which still holds the tampered package): installed
    // to slot a, recorded, and the command cleared.
    let spec3 = fs::read_to_string(m.dir.join("spec.toml"))
        .unwrap()
        .replace("version = \"2.0.0\"", "version = \"3.0.0\"")
        .replace("rollback_index = 1", "rollback_index = 2")
        .replace("wipe_data = true", "wipe_data = false");
    fs::write(m.dir.join("spec3.toml"), spec3).unwrap();
    let pkg3 = m.dir.join("ota.zip");
    let out = run(common::bin()
        .arg("pack")
        .arg("--spec")
        .arg(m.dir.join("spec3.toml"))
        .arg("--key")
        .arg(key)
        .arg("--out")
        .arg(&pkg3));
    assert!(out.status.success(), "{}", text(&out));
    let state = m
        .disks
        .iter()
        .find(|(n, _)| *n == "state")
        .unwrap()
        .1
        .clone();
    fs::write(
        m.dir.join("command"),
        "--update_package=/state/ota/update.zip\n",
    )
    .unwrap();
    let mtools = |args: &[&str], files: &[&Path]| {
        sh(Command::new(args[0])
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(&args[1..])
            .arg("-i")
            .arg(&state)
            .args(files));
    };
    mtools(&["mmd"], &[Path::new("::ota")]);
    mtools(&["mcopy"], &[&pkg3, Path::new("::ota/update.zip")]);
    mtools(
        &["mcopy"],
        &[&m.dir.join("command"), Path::new("::command")],
    );
    let console = m.boot("boot3");
    assert!(
        console.contains("plan: OTA command: install /state/ota/update.zip"),
        "{console}"
    );
    let rec = m.last_install();
    assert_eq!(rec["result"], "success", "{rec:#}\n{console}");
    assert_eq!(rec["to_version"], "3.0.0");
    assert_eq!(rec["target_slot"], "a");
    let misc = m.disk("misc");
    assert_eq!(decode_boot_control(&misc).0.active(), Slot::A);
    let listing = tool_output(
        Command::new("mdir")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-b", "-i"])
            .arg(&state)
            .arg("::"),
    );
    let listing = String::from_utf8_lossy(&listing.stdout).to_lowercase();
    assert!(listing.contains("last_install.json"), "{listing}");
    assert!(
        !listing.contains("::/command"),
        "the command runs once: {listing}"
    );
}

/// An SD card with a GPT whose partitions are named like the device's trusted ones: `card`
/// (FAT, holding the package), `misc` (0xee), `state` (a FAT filesystem) and `boot_b` (0xbb).
/// 64 MiB (an SD card's size must be a power of two). Returns the image path.
fn gpt_card_with_trusted_names(dir: &Path) -> PathBuf {
    let sd = dir.join("gpt-sd.img");
    fs::File::create(&sd)
        .unwrap()
        .set_len(64 * MIB as u64)
        .unwrap();
    let basic = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";
    let linux = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
    let script = format!(
        "label: gpt\n\
         start=2048, size=81920, type={basic}, name=card\n\
         start=83968, size=2048, type={linux}, name=misc\n\
         start=86016, size=16384, type={basic}, name=state\n\
         start=102400, size=2048, type={linux}, name=boot_b\n"
    );
    let mut sf = Command::new("sfdisk")
        .arg("--quiet")
        .arg(&sd)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    sf.stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(sf.wait().unwrap().success());
    sh(Command::new("mkfs.vfat")
        .args(["-n", "CARD", "--offset", "2048"])
        .arg(&sd)
        .arg((81920 / 2).to_string()));
    sh(Command::new("mkfs.vfat")
        .args(["-n", "STATE", "--offset", "86016"])
        .arg(&sd)
        .arg((16384 / 2).to_string()));
    use std::os::unix::fs::FileExt;
    let f = fs::OpenOptions::new().write(true).open(&sd).unwrap();
    f.write_all_at(&filled(MIB, 0xee), 83968 * 512).unwrap();
    f.write_all_at(&filled(MIB, 0xbb), 102400 * 512).unwrap();
    sd
}

#[test]
#[ignore = "boots qemu-system-x86_64 once (~30 s); run with --ignored like the test above"]
fn qemu_card_named_misc_state_boot_b_cannot_take_over_by_name_links() {
    let (_tmp, mut m, package, _key) = setup();
    m.sd = gpt_card_with_trusted_names(&m.dir);
    m.put_on_card(&package);
    let card_before = fs::read(&m.sd).unwrap();
    // mmcblk0p2 sorts before vde: the old init linked the card's partitions as misc, state and
    // boot_b, mounted the card's state and wrote the update to the card.
    let console = m.boot("gpt-card");
    assert!(
        console.contains("/dev/block/by-name:") && !console.contains("-> mmcblk"),
        "no by-name link points at the card:\n{console}"
    );
    assert!(console.contains("recovery: done"), "{console}");
    let rec = m.last_install();
    assert_eq!(
        rec["result"], "success",
        "recorded on the internal state disk: {rec:#}\n{console}"
    );
    assert_eq!(rec["target_slot"], "b");
    assert!(rec["package"]
        .as_str()
        .unwrap()
        .ends_with("mmcblk0p1/update.zip"));
    let boot = fs::read(m.dir.join("boot.img")).unwrap();
    assert!(
        m.disk("boot_b")[..boot.len()] == boot[..],
        "the internal boot_b holds the new boot image"
    );
    let misc = m.disk("misc");
    assert_eq!(
        decode_boot_control(&misc).0.active(),
        Slot::B,
        "internal misc"
    );
    assert!(
        fs::read(&m.sd).unwrap() == card_before,
        "the card is unchanged (mounted read-only, never a target)"
    );
}
