//! `adb sideload` into the recovery booted under QEMU: the static musl binary is PID 1 (/init) on
//! Debian's amd64 kernel, with a virtio NIC on QEMU's user network whose host port forwards to
//! the guest's 5555 (`recovery/boot-qemu.sh --net PORT`). The profile adds `[init.network]`
//! 10.0.2.15/24 on eth0 and `sideload_when_nothing_found` to the headless QEMU profile: the init
//! loads virtio_net (and what modules.dep says it needs), brings up lo and eth0 with ioctls, finds
//! no card (boot 1) or is told `recovery.mode=sideload` (boots 2 and 3), and waits for adb.
//!
//! Boot 1: Debian's `adb connect 127.0.0.1:PORT` (retried until the device shows in state
//! `sideload`), `adb sideload update.zip` exits 0; after QEMU powers off, slot b's disks hold the
//! images byte for byte, misc marks b active, last_install.json says code 0.
//! Boot 2: a tampered package: `adb sideload` exits non-zero, 9012 is recorded, no disk changed.
//! Boot 3: `adb reboot recovery`: the init restarts with reboot(2)'s command "recovery".
//!
//! Needs what tests/qemu_e2e.rs needs plus Debian's `adb`; `.ci/run` runs it with `--ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::adb::{free_port, Adb};
use common::{decode_boot_control, keygen, rewrite, sh, text, tool_output, MANIFEST};
use recovery_updater::demo::image_bytes;
use recovery_updater::device::Slot;

const MIB: usize = 1024 * 1024;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running QEMU (boot-qemu.sh, which execs `timeout`, which runs qemu): stopped with SIGTERM
/// (which `timeout` passes on to QEMU) if the test ends early.
struct Guest {
    child: Option<Child>,
    console: PathBuf,
}

impl Guest {
    /// Waits for QEMU to exit by itself (the init powers off); returns the console.
    fn wait(mut self, deadline: Instant) -> String {
        let mut child = self.child.take().unwrap();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() >= deadline {
                stop(&mut child);
                panic!("QEMU did not power off in time:\n{}", self.console());
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let console = self.console();
        assert!(
            status.success(),
            "QEMU exited with {status} (124: killed by boot-qemu.sh's timeout)\n{console}"
        );
        console
    }

    fn console(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.console).unwrap_or_default()).into_owned()
    }
}

fn stop(child: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let _ = child.wait();
}

impl Drop for Guest {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop(&mut c);
        }
    }
}

struct Machine {
    dir: PathBuf,
    kernel: PathBuf,
    initrd: PathBuf,
    disks: Vec<(&'static str, PathBuf)>,
}

impl Machine {
    fn disk(&self, name: &str) -> Vec<u8> {
        fs::read(&self.disks.iter().find(|(n, _)| *n == name).unwrap().1).unwrap()
    }

    fn snapshot(&self) -> Vec<(&'static str, Vec<u8>)> {
        self.disks
            .iter()
            .filter(|(n, _)| *n != "state")
            .map(|(n, p)| (*n, fs::read(p).unwrap()))
            .collect()
    }

    /// Starts QEMU with the host's `port` forwarded to the guest's 5555 and `append` on the
    /// kernel command line.
    fn start(&self, name: &str, port: u16, append: &str) -> Guest {
        let console = self.dir.join(format!("{name}.console.log"));
        let mut cmd = Command::new(root().join("recovery/boot-qemu.sh"));
        cmd.arg(&self.kernel).arg(&self.initrd);
        for (n, p) in &self.disks {
            cmd.arg("--disk").arg(format!("{n}={}", p.display()));
        }
        cmd.arg("--net").arg(port.to_string());
        if !append.is_empty() {
            cmd.arg("--append").arg(append);
        }
        cmd.env("TIMEOUT", "150")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&console).unwrap())
            .stderr(Stdio::inherit());
        Guest {
            child: Some(cmd.spawn().expect("run recovery/boot-qemu.sh")),
            console,
        }
    }

    fn last_install(&self) -> serde_json::Value {
        let state = &self.disks.iter().find(|(n, _)| *n == "state").unwrap().1;
        let out = tool_output(
            Command::new("mcopy")
                .env("MTOOLS_SKIP_CHECK", "1")
                .args(["-n", "-i"])
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
}

/// The QEMU profile (headless) with virtio_net, a static address, and sideload when no card
/// holds a package (looked for until 1 s after boot: at once).
fn sideload_profile() -> String {
    let base = fs::read_to_string(root().join("recovery/qemu/device.toml")).unwrap();
    let p = base
        .replace(
            "storage_wait_secs = 20",
            "storage_wait_secs = 1\nsideload_when_nothing_found = true",
        )
        .replace("modules = [\n", "modules = [\n  \"virtio_net\",\n");
    assert!(p.contains("sideload_when_nothing_found") && p.contains("\"virtio_net\""));
    format!("{p}\n[init.network]\ninterface = \"eth0\"\naddress = \"10.0.2.15/24\"\n")
}

fn setup() -> (tempfile::TempDir, Machine, PathBuf) {
    let init_bin = common::musl_init_bin();
    let (_, vmlinuz, _) = common::debian_kernel();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();

    let (key, public) = keygen(&dir, "release", "ecdsa-p256");
    fs::create_dir_all(dir.join("profile/keys")).unwrap();
    fs::write(dir.join("profile/device.toml"), sideload_profile()).unwrap();
    fs::copy(&public, dir.join("profile/keys/release.pub")).unwrap();
    let initrd = dir.join("initramfs.cpio");
    common::mkinitramfs(&init_bin, &dir.join("profile/device.toml"), &[], &initrd);

    let mut disks = Vec::new();
    for (name, len, byte) in [
        ("boot_a", MIB, 0xa1),
        ("boot_b", MIB, 0xb1),
        ("system_a", 12 * MIB, 0xa2),
        ("system_b", 12 * MIB, 0xb2),
        ("misc", 64 * 1024, 0),
        ("userdata", MIB, 0xd5),
    ] {
        let p = dir.join(format!("{name}.img"));
        fs::write(&p, vec![byte; len]).unwrap();
        disks.push((name, p));
    }
    let state = dir.join("state.img");
    sh(Command::new("mkfs.vfat")
        .args(["-n", "STATE", "-C"])
        .arg(&state)
        .arg("16384"));
    disks.push(("state", state));

    // 10 MiB of barely compressible system image stored as is: the transfer is most of the run.
    fs::write(dir.join("boot.img"), image_bytes(51, 700 * 1024 + 3, false)).unwrap();
    fs::write(
        dir.join("system.img"),
        image_bytes(52, 10 * MIB as u64 + 77, false),
    )
    .unwrap();
    let package = common::pack_spec_text(
        &dir,
        r#"products = ["qemu-recovery"]
version = "2.0.0"
rollback_index = 1
hardware_revisions = ["qemu-pc"]

[[image]]
partition = "boot"
file = "boot.img"

[[image]]
partition = "system"
file = "system.img"
"#,
        &key,
    );
    let m = Machine {
        dir,
        kernel: vmlinuz,
        initrd,
        disks,
    };
    (tmp, m, package)
}

/// Boots, waits for the device in state `sideload`, runs `adb ARGS...` on it; returns adb's
/// output, its wall time, and the console after QEMU stopped (power off or reboot).
fn boot_and_adb(
    m: &Machine,
    name: &str,
    append: &str,
    args: &[&std::ffi::OsStr],
) -> (Output, f64, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let t = Instant::now();
    let guest = m.start(name, port, append);
    let adb = Adb::new();
    adb.connect_until(&addr, t + Duration::from_secs(90));
    let ready = t.elapsed().as_secs_f64();
    let s = Instant::now();
    let host = tool_output(adb.cmd().args(["-s", &addr]).args(args));
    let secs = s.elapsed().as_secs_f64();
    drop(adb);
    let console = guest.wait(t + Duration::from_secs(150));
    eprintln!(
        "{name}: in state sideload after {ready:.1} s; adb {secs:.1} s; QEMU ran {:.1} s",
        t.elapsed().as_secs_f64()
    );
    fs::write(m.dir.join(format!("{name}.adb.log")), text(&host)).unwrap();
    (host, secs, console)
}

fn boot_and_sideload(m: &Machine, name: &str, append: &str, pkg: &Path) -> (Output, f64, String) {
    boot_and_adb(m, name, append, &["sideload".as_ref(), pkg.as_os_str()])
}

#[test]
#[ignore = "boots qemu-system-x86_64 three times (~70 s); .ci/run runs it with --ignored after building the musl binary and fetching the kernel"]
fn qemu_recovery_receives_adb_sideload_over_virtio_net() {
    let (_tmp, m, package) = setup();
    let before = m.snapshot();

    // Boot 1: headless, no card: the profile's fallback waits for adb.
    let (host, secs, console) = boot_and_sideload(&m, "good", "", &package);
    assert!(
        host.status.success(),
        "adb sideload: {}\n{console}",
        text(&host)
    );
    let size = fs::metadata(&package).unwrap().len() as f64;
    eprintln!(
        "adb sideload into QEMU (TCG): {:.1} MB in {secs:.1} s = {:.2} MB/s",
        size / 1e6,
        size / 1e6 / secs
    );
    assert!(
        console.contains("network: eth0 up at 10.0.2.15"),
        "{console}"
    );
    assert!(
        console.contains("no package found: waiting for `adb sideload` instead"),
        "{console}"
    );
    assert!(console.contains("recovery: done"), "{console}");
    let rec = m.last_install();
    assert_eq!(rec["result"], "success", "{rec:#}\n{console}");
    assert_eq!(rec["code"], 0);
    assert_eq!(rec["target_slot"], "b");
    assert!(rec["package"].as_str().unwrap().starts_with("adb-sideload"));
    for (img, part) in [("boot.img", "boot_b"), ("system.img", "system_b")] {
        let image = fs::read(m.dir.join(img)).unwrap();
        let disk = m.disk(part);
        assert!(disk[..image.len()] == image[..], "{part} holds {img}");
        assert!(
            disk[image.len()..]
                .iter()
                .all(|&b| b == disk[disk.len() - 1]),
            "{part}: nothing past the image"
        );
    }
    for (name, old) in &before {
        if name.ends_with("_a") || *name == "userdata" {
            assert!(m.disk(name) == *old, "{name} untouched");
        }
    }
    assert_eq!(decode_boot_control(&m.disk("misc")).0.active(), Slot::B);

    // Boot 2: the manifest changed after signing. adb fails, 9012 is recorded, nothing written.
    let bad = m.dir.join("bad.zip");
    rewrite(&package, &bad, |entries| {
        let e = entries.iter_mut().find(|e| e.name == MANIFEST).unwrap();
        let s = String::from_utf8(e.data.clone()).unwrap();
        let t = s.replace("\"2.0.0\"", "\"9.0.0\"");
        assert_ne!(s, t);
        e.data = t.into_bytes();
    });
    let after_first = m.snapshot();
    // Sideload mode asked for on the kernel command line: no card search first.
    let (host, _, console) = boot_and_sideload(&m, "tampered", "recovery.mode=sideload", &bad);
    assert!(
        console.contains("plan: install what `adb sideload` sends"),
        "{console}"
    );
    assert!(!host.status.success(), "adb must fail: {}", text(&host));
    let rec = m.last_install();
    assert_eq!(rec["code"], 9012, "{rec:#}\n{console}");
    for ((name, a), (_, b)) in after_first.iter().zip(m.snapshot().iter()) {
        assert!(a == b, "{name} changed by a refused package");
    }

    // Boot 3: `adb reboot recovery` makes the init restart with the command "recovery"
    // (reboot(2) RESTART2; QEMU's -no-reboot turns the restart into an exit). No install.
    let (_, _, console) = boot_and_adb(
        &m,
        "reboot-recovery",
        "recovery.mode=sideload",
        &["reboot".as_ref(), "recovery".as_ref()],
    );
    assert!(console.contains("next: recovery"), "{console}");
    assert!(
        console.contains("Restarting system with command 'recovery'"),
        "the kernel got the restart command:\n{console}"
    );
    assert_eq!(m.last_install()["code"], 9012, "no new record");
    for ((name, a), (_, b)) in after_first.iter().zip(m.snapshot().iter()) {
        assert!(a == b, "{name} changed by a reboot");
    }
}
