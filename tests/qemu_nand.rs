//! Raw NAND and UBI on a real kernel (issue 13, "Proof in a real kernel"): boots Debian's amd64
//! kernel under qemu-system-x86_64 (TCG) with tests/guest/nand.sh as /init, busybox, Debian's
//! mtd-utils (with their libc) and the static musl recovery-updater.
//!
//! Boot 1, nandsim (128 MiB NAND, 2 KiB pages, factory bad blocks 5 and 200, split into mtd0 of
//! 64 erase blocks, mtd1 of 8 for a U-Boot environment, and mtd2): one package writes a raw image over bad block 5 to mtd0 (`type =
//! "mtd"`, by name) and rootfs to UBI volume rootfs_b on mtd2 (`type = "ubi"`, `ubi:rootfs_{slot}`).
//! `nanddump --bb=skipbad` reads the raw image back, block 5 is skipped, rootfs_b reads back
//! equal with no update marker, rootfs_a is untouched; a raw image as large as mtd0 is refused
//! beside its bad block (9062) with mtd0 unchanged; then the same images are timed with
//! flash_erase + nandwrite and ubiupdatevol (BENCH lines, docs/PERFORMANCE.md); last, the same
//! device with its slot control in a U-Boot environment on nandsim's mtd1 (made by fw_setenv):
//! our switch erases before writing and fw_printenv reads `BOOT_ORDER=B A` back; last, the
//! `ubi_rename` slot control (volumes `system` + `system_b`): a switch that fails after the
//! volume update (9069, journal kept, names unchanged: what a power cut before the rename
//! leaves), its re-run renames once (`system` is now slot b's volume and holds the image); with
//! that journal put back (a power cut after the rename) a re-run only finishes the bookkeeping
//! and renames nothing; a second update writes slot a and moves the name back.
//! Boots 2 and 3, an interrupted update: nandsim keeps its pages in guest RAM (`cache_file=`
//! only moves them to a file inside the guest), so nothing of it survives killing QEMU. So the
//! flash here is block2mtd over a virtio disk the host keeps: boot 2 formats UBI, writes
//! rootfs_a and starts the update of rootfs_b from a package on a FAT disk QEMU reads at
//! 2 MiB/s; the host kills QEMU once it is writing. Boot 3 finds rootfs_b damaged (update
//! marker, unreadable), slot a still active in misc, and re-applying works.
//!
//! Needs qemu-system-x86, mtd-utils, busybox-static, dosfstools, mtools, python3, the kernel from
//! recovery/fetch-kernel.sh and `cargo build --release --target x86_64-unknown-linux-musl`;
//! `.ci/run` runs it with `--ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{blank, decode_boot_control, keygen, run, sh, text};
use recovery_updater::demo::{create_device, image_bytes, SimDevice};
use recovery_updater::device::{Slot, SlotMode};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A host file that must exist (a tool from a Debian package): fails naming its package.
fn host_file(path: &str, package: &str) -> String {
    assert!(
        Path::new(path).exists(),
        "{path} missing: install the Debian package {package} (scripts/test lists it)"
    );
    path.to_string()
}

const PROFILE: &str = r#"
product = "nand-qemu"
hardware_revision = "qemu"
keys = ["keys/release.pub"]
state_dir = "/tmp/state"
min_free_state_bytes = 65536

[slots]
mode = "ab"
misc = "/dev/vda"

[[partition]]
name = "raw"
type = "mtd"
path = "mtd:NAND simulator partition 0"

[[partition]]
name = "rootfs"
type = "ubi"
path = "ubi:rootfs_{slot}"

[init]
modules = ["nandsim", "ubi", "block2mtd", "virtio_pci", "virtio_blk", "vfat", "nls_cp437", "nls_ascii", "nls_utf8"]
"#;

struct Guest {
    dir: PathBuf,
    kernel: PathBuf,
    initrd: PathBuf,
    misc: PathBuf,
}

impl Guest {
    /// Boots with `nand.boot=N` and these extra QEMU arguments. Calls `on_line` for each console
    /// line; when it returns true QEMU is killed. Returns the console.
    fn boot(&self, n: u8, extra: &[String], on_line: &mut dyn FnMut(&str) -> bool) -> String {
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-machine", "pc", "-accel", "tcg", "-m", "1024", "-smp", "1"])
            .args(["-nographic", "-no-reboot", "-monitor", "none"])
            .arg("-kernel")
            .arg(&self.kernel)
            .arg("-initrd")
            .arg(&self.initrd)
            .arg("-append")
            .arg(format!("console=ttyS0 panic=-1 loglevel=4 nand.boot={n}"))
            .arg("-drive")
            .arg(format!(
                "id=misc,if=none,format=raw,file={}",
                self.misc.display()
            ))
            .args(["-device", "virtio-blk-pci,drive=misc"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let t = Instant::now();
        let mut child = cmd
            .spawn()
            .expect("qemu-system-x86_64 (package qemu-system-x86)");
        // QEMU itself is the child (no `timeout` wrapper), so the kill below lands on it. A
        // watchdog kills a hung boot after 150 s.
        let pid = child.id() as libc::pid_t;
        let done = Arc::new(AtomicBool::new(false));
        let watchdog = {
            let done = done.clone();
            std::thread::spawn(move || {
                for _ in 0..1500 {
                    if done.load(Ordering::Relaxed) {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                // SAFETY: kill(2) on the pid of our own child, which has not been waited for.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                true
            })
        };
        let mut console = String::new();
        let mut killed = false;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let Ok(line) = line else { break };
            console.push_str(&line);
            console.push('\n');
            if on_line(&line) {
                // Like a power cut: SIGKILL, no shutdown, nothing flushed by the guest.
                child.kill().unwrap();
                killed = true;
                break;
            }
        }
        let status = child.wait().unwrap();
        done.store(true, Ordering::Relaxed);
        let hung = watchdog.join().unwrap();
        fs::write(self.dir.join(format!("boot{n}.console.log")), &console).unwrap();
        eprintln!(
            "boot {n}: QEMU ran {:.1} s; console:\n{console}",
            t.elapsed().as_secs_f64()
        );
        assert!(!hung, "boot {n}: QEMU hung; killed after 150 s\n{console}");
        assert!(
            killed || status.success(),
            "boot {n}: QEMU exited with {:?}\n{console}",
            status.code()
        );
        console
    }
}

/// The RESULT lines of a boot: every named check must be there and `ok`.
fn expect_ok(console: &str, names: &[&str]) {
    for l in console.lines().filter(|l| l.starts_with("RESULT ")) {
        assert!(l.contains(" ok"), "guest check failed: {l}\n{console}");
    }
    for n in names {
        assert!(
            console.contains(&format!("RESULT {n} ok")),
            "no `RESULT {n} ok` on the console:\n{console}"
        );
    }
}

/// `NAND_BENCH_UBI_MIB` (set by `bench/run.sh --only-nand --ubi-mib N`, never by CI): the size
/// of a larger UBI image that boot 1 also times, so the fixed cost of a run (start, signature,
/// checks, switch) weighs as it does on a real rootfs.
fn bench_ubi_mib() -> Option<u64> {
    let v = std::env::var("NAND_BENCH_UBI_MIB").ok()?;
    let mib: u64 = v.parse().expect("NAND_BENCH_UBI_MIB: a number of MiB");
    // Two volumes of it (plus slack) must fit the ~110 MiB UBI on nandsim's 119 MiB mtd2.
    assert!((1..=48).contains(&mib), "NAND_BENCH_UBI_MIB: 1 to 48");
    Some(mib)
}

/// The bench-only image and its package (pkg/bench.img, pkg/update-bench.zip).
fn bench_image(build: &Path, key: &Path, mib: u64, extra: &mut Vec<(String, String)>) {
    fs::write(
        build.join("bench.img"),
        image_bytes(35, mib * MIB as u64, false),
    )
    .unwrap();
    let pkg = pack(build, key, &[("rootfs", "bench.img")], "update-bench.zip");
    extra.push((
        build.join("bench.img").display().to_string(),
        "pkg/bench.img".into(),
    ));
    extra.push((pkg.display().to_string(), "pkg/update-bench.zip".into()));
}

fn pack(dir: &Path, key: &Path, images: &[(&str, &str)], out: &str) -> PathBuf {
    let mut spec = String::from(
        "products = [\"nand-qemu\"]\nversion = \"2.0.0\"\nrollback_index = 1\nhardware_revisions = [\"qemu\"]\n\n",
    );
    for (partition, file) in images {
        spec.push_str(&format!(
            "[[image]]\npartition = \"{partition}\"\nfile = \"{file}\"\ncompression = \"stored\"\nchunk_size = 262144\n\n"
        ));
    }
    let spec_path = dir.join(format!("{out}.toml"));
    fs::write(&spec_path, spec).unwrap();
    common::pack_file(&spec_path, key, &dir.join(out))
}

/// The images (raw over bad block 5, rootfs, the old slot's, one too big for mtd0) and the
/// packages of them: raw + rootfs, rootfs only, big raw.
fn packages(build: &Path, key: &Path) -> (PathBuf, PathBuf, PathBuf) {
    // The raw image spans erase blocks 0..8 of 128 KiB, so factory bad block 5 is inside it;
    // its end is not page-aligned.
    fs::write(
        build.join("raw.img"),
        image_bytes(31, MIB as u64 + 3000, false),
    )
    .unwrap();
    fs::write(
        build.join("rootfs.img"),
        image_bytes(32, 8 * MIB as u64, false),
    )
    .unwrap();
    fs::write(
        build.join("old.img"),
        image_bytes(33, 2 * MIB as u64 + 5, false),
    )
    .unwrap();
    let both = pack(
        build,
        key,
        &[("raw", "raw.img"), ("rootfs", "rootfs.img")],
        "update.zip",
    );
    let ubi_only = pack(build, key, &[("rootfs", "rootfs.img")], "update-ubi.zip");
    // As large as mtd0 (64 erase blocks of 128 KiB), so too large beside its bad block 5.
    fs::write(
        build.join("big.img"),
        image_bytes(34, 8 * MIB as u64, false),
    )
    .unwrap();
    let big = pack(build, key, &[("raw", "big.img")], "update-big.zip");
    (both, ubi_only, big)
}

/// device.toml (misc slot control) and its two variants: device-env.toml (a U-Boot environment
/// on nandsim's mtd1, with fw_env.config) and device-rn.toml (the ubi_rename slot control).
fn write_profiles(build: &Path) {
    fs::write(build.join("device.toml"), PROFILE).unwrap();
    // The same device with its slot control in a U-Boot environment on nandsim's mtd1.
    let env_profile = PROFILE
        .replace(
            "misc = \"/dev/vda\"",
            "[slots.uboot_env]\nconfig = \"fw_env.config\"",
        )
        .replace("state_dir = \"/tmp/state\"", "state_dir = \"/tmp/state2\"");
    fs::write(build.join("device-env.toml"), env_profile).unwrap();
    // The same device with the ubi_rename slot control: the boot name `system` moves.
    let rn_profile = PROFILE
        .replace(
            "misc = \"/dev/vda\"",
            "[slots.ubi_rename]\nvolumes = [\"system\"]",
        )
        .replace("ubi:rootfs_{slot}", "ubi:system_{slot}")
        .replace("state_dir = \"/tmp/state\"", "state_dir = \"/tmp/state3\"");
    fs::write(build.join("device-rn.toml"), rn_profile).unwrap();
    fs::write(
        build.join("fw_env.config"),
        "/dev/mtd1 0x0 0x4000 0x20000\n/dev/mtd1 0x20000 0x4000 0x20000\n",
    )
    .unwrap();
}

fn setup(tmp: &Path) -> Guest {
    let musl = common::musl_init_bin();
    let (_, vmlinuz, _) = common::debian_kernel();
    let build = tmp.join("build");
    fs::create_dir_all(build.join("keys")).unwrap();
    let (key, public) = keygen(&build.join("keys"), "release", "ecdsa-p256");
    let (both, ubi_only, big) = packages(&build, &key);
    write_profiles(&build);
    // keygen wrote keys/release.pub beside device.toml, where mkinitramfs.py finds it.
    // misc with a valid bootloader_control, slot a active (the demo device's).
    let demo = create_device(
        &tmp.join("demo"),
        &SimDevice {
            mode: SlotMode::Ab,
            public_keys: vec![public.clone()],
            ..SimDevice::default()
        },
    )
    .unwrap();
    let misc = tmp.join("misc.img");
    fs::copy(demo.parent().unwrap().join("parts/misc.img"), &misc).unwrap();

    let mut extra = vec![
        (
            musl.display().to_string(),
            "bin/recovery-updater".to_string(),
        ),
        (
            host_file("/bin/busybox", "busybox-static"),
            "bin/busybox".into(),
        ),
        (
            host_file("/lib64/ld-linux-x86-64.so.2", "libc6"),
            "lib64/ld-linux-x86-64.so.2".into(),
        ),
        (
            host_file("/lib/x86_64-linux-gnu/libc.so.6", "libc6"),
            "lib/x86_64-linux-gnu/libc.so.6".into(),
        ),
    ];
    for (f, dst) in [
        ("device-env.toml", "etc/recovery/device-env.toml"),
        ("fw_env.config", "etc/recovery/fw_env.config"),
        ("device-rn.toml", "etc/recovery/device-rn.toml"),
    ] {
        extra.push((build.join(f).display().to_string(), dst.to_string()));
    }
    for (src, dst) in [
        ("/usr/bin/fw_printenv", "usr/sbin/fw_printenv"),
        ("/usr/bin/fw_setenv", "usr/sbin/fw_setenv"),
        (
            "/lib/x86_64-linux-gnu/libubootenv.so.0",
            "lib/x86_64-linux-gnu/libubootenv.so.0",
        ),
        (
            "/lib/x86_64-linux-gnu/libz.so.1",
            "lib/x86_64-linux-gnu/libz.so.1",
        ),
    ] {
        extra.push((host_file(src, "libubootenv-tool"), dst.to_string()));
    }
    for t in [
        "nandwrite",
        "nanddump",
        "flash_erase",
        "ubiformat",
        "ubiattach",
        "ubimkvol",
        "ubiupdatevol",
        "ubirmvol",
        "ubinfo",
    ] {
        let p = format!("/usr/sbin/{t}");
        extra.push((host_file(&p, "mtd-utils"), format!("usr/sbin/{t}")));
    }
    for f in ["raw.img", "rootfs.img", "old.img"] {
        extra.push((build.join(f).display().to_string(), format!("pkg/{f}")));
    }
    extra.push((both.display().to_string(), "pkg/update.zip".into()));
    extra.push((ubi_only.display().to_string(), "pkg/update-ubi.zip".into()));
    extra.push((big.display().to_string(), "pkg/update-big.zip".into()));
    if std::env::var_os("NAND_BENCH_SWUPDATE").is_some() {
        swupdate_peer(&build, &mut extra);
    }
    if let Some(mib) = bench_ubi_mib() {
        bench_image(&build, &key, mib, &mut extra);
    }
    let initrd = tmp.join("initrd.cpio");
    common::mkinitramfs(
        &root().join("tests/guest/nand.sh"),
        &build.join("device.toml"),
        &extra,
        &initrd,
    );
    Guest {
        dir: tmp.to_path_buf(),
        kernel: vmlinuz,
        initrd,
        misc,
    }
}

/// The peer for `bench/run.sh --only-nand` (set by bench/nand.sh, never by CI): Debian's
/// swupdate with every library `ldd` lists, and a signed .swu writing rootfs.img to UBI volume
/// rootfs_b with its `ubivol` handler; the guest times it next to ubiupdatevol.
fn swupdate_peer(build: &Path, extra: &mut Vec<(String, String)>) {
    let bin = host_file("/usr/bin/swupdate", "swupdate");
    let ldd = run(Command::new("ldd").arg(&bin));
    assert!(ldd.status.success(), "ldd {bin}: {}", text(&ldd));
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let lib = match line.split_once("=> ") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line
                .split_whitespace()
                .next()
                .filter(|l| l.starts_with('/')),
        };
        if let Some(lib) = lib {
            let dst = lib.trim_start_matches('/').to_string();
            if !extra.iter().any(|(_, d)| *d == dst) {
                extra.push((lib.to_string(), dst));
            }
        }
    }
    extra.push((bin, "usr/bin/swupdate".into()));
    let d = build.join("swu");
    fs::create_dir_all(&d).unwrap();
    fs::copy(build.join("rootfs.img"), d.join("rootfs.img")).unwrap();
    sh(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args(["-subj", "/O=bench/CN=bench-signer", "-keyout"])
        .arg(d.join("key.pem"))
        .arg("-out")
        .arg(d.join("cert.pem")));
    let hash = run(Command::new("sha256sum").arg(d.join("rootfs.img")));
    let hash = String::from_utf8_lossy(&hash.stdout);
    let hash = hash.split_whitespace().next().unwrap();
    fs::write(
        d.join("sw-description"),
        format!(
            "software =\n{{\n\tversion = \"2.0.0\";\n\thardware-compatibility: [ \"1.0\" ];\n\timages: (\n\t\t{{\n\t\t\tfilename = \"rootfs.img\";\n\t\t\tvolume = \"rootfs_b\";\n\t\t\ttype = \"ubivol\";\n\t\t\tinstalled-directly = true;\n\t\t\tsha256 = \"{hash}\";\n\t\t}}\n\t);\n}}\n"
        ),
    )
    .unwrap();
    sh(Command::new("openssl")
        .args([
            "cms",
            "-sign",
            "-in",
            "sw-description",
            "-out",
            "sw-description.sig",
        ])
        .args([
            "-signer", "cert.pem", "-inkey", "key.pem", "-outform", "DER",
        ])
        .args(["-nosmimecap", "-binary"])
        .current_dir(&d));
    sh(Command::new("sh")
        .args([
            "-c",
            "printf '%s\\n' sw-description sw-description.sig rootfs.img | cpio -o -H crc --quiet >update.swu",
        ])
        .current_dir(&d));
    for (f, dst) in [
        ("update.swu", "pkg/update-ubi.swu"),
        ("cert.pem", "pkg/swu-cert.pem"),
    ] {
        extra.push((d.join(f).display().to_string(), dst.to_string()));
    }
}

fn active(misc: &Path) -> Slot {
    decode_boot_control(&fs::read(misc).unwrap()).0.active()
}

#[test]
#[ignore = "boots qemu-system-x86_64 three times (~1-2 min, TCG); .ci/run runs it with --ignored"]
fn qemu_raw_nand_and_ubi_updates_survive_bad_blocks_and_a_killed_update() {
    let tmp = tempfile::tempdir().unwrap();
    let g = setup(tmp.path());

    // Boot 1: nandsim, scenarios 1 and 2, and the benchmark.
    let console = g.boot(1, &[], &mut |_| false);
    expect_ok(
        &console,
        &[
            "apply",
            "raw_readback",
            "raw_bad_block_5_skipped",
            "ubi_readback",
            "ubi_no_marker",
            "raw_no_room",
            "raw_untouched_after_no_room",
            "ubi_slot_a_untouched",
            "env_apply",
            "env_switched_on_mtd",
            "rn_cut_before_rename",
            "rn_apply",
            "rn_names_swapped",
            "rn_boot_name_holds_new_image",
            "rn_cut_after_rename_finishes",
            "rn_cut_after_rename_only_bookkeeping",
            "rn_cut_after_rename_writes_nothing",
            "rn_second_apply",
            "rn_swapped_back",
            "rn_slot_a_rewritten",
        ],
    );
    assert!(console.contains("NAND-GUEST-DONE"), "{console}");
    assert_eq!(active(&g.misc), Slot::B, "slot b active after the update");
    for l in console.lines().filter(|l| l.starts_with("BENCH ")) {
        eprintln!("{l}");
    }

    // Boot 2: the update of rootfs_b killed while it writes. Fresh misc: slot a active.
    let demo_misc = fs::read(g.dir.join("demo/parts/misc.img")).unwrap();
    fs::write(&g.misc, &demo_misc).unwrap();
    let flash = g.dir.join("flash.img");
    blank(&flash, 32);
    let card = g.dir.join("card.img");
    blank(&card, 16);
    sh(Command::new("mkfs.vfat").arg(&card));
    sh(Command::new("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(&card)
        .arg(g.dir.join("build/update-ubi.zip"))
        .arg("::update.zip"));
    let disks = |throttle: &str| {
        vec![
            "-drive".to_string(),
            format!("id=flash,if=none,format=raw,file={}", flash.display()),
            "-device".into(),
            "virtio-blk-pci,drive=flash".into(),
            "-drive".into(),
            format!(
                "id=card,if=none,format=raw,readonly=on,file={}{throttle}",
                card.display()
            ),
            "-device".into(),
            "virtio-blk-pci,drive=card".into(),
        ]
    };
    let console = g.boot(2, &disks(",throttling.bps-read=2097152"), &mut |l| {
        l.contains("S3 KILL ME")
    });
    assert!(console.contains("S3 KILL ME"), "{console}");
    assert_eq!(
        active(&g.misc),
        Slot::A,
        "slot a still active after the kill"
    );

    // Boot 3: damaged volume found, old slot intact, re-apply works.
    let console = g.boot(3, &disks(""), &mut |_| false);
    expect_ok(
        &console,
        &[
            "damaged_marker",
            "damaged_unreadable",
            "old_slot_intact",
            "reapply",
            "reapply_readback",
            "reapply_no_marker",
        ],
    );
    assert_eq!(active(&g.misc), Slot::B, "slot b active after re-applying");
}
