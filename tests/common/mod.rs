//! Fixtures for behaviour tests: a small simulated device, keys and packages made by the
//! project's own binary (`keygen`, `pack`), and tools to craft broken packages from good ones.
//!
//! One copy of each helper, by topic: `shell` (running system tools), `sdcard` (card images),
//! `misc` (reading bootloader_control back), `openssl` (the real openssl command), `tree`
//! (saving and restoring a directory tree), `limits` (the updater under RLIMIT_DATA), `tmux`
//! (the recovery screen in a real terminal).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod adb;
pub mod bootsim;
mod ddi;
mod formats;
mod limits;
mod misc;
mod openssl;
mod sdcard;
mod shell;
mod tmux;
mod tree;
// The goosebit DDI server for the fleet tests (tests/fleet_goosebit*.rs).
pub mod goosebit;
pub mod uboot;

// Each test file uses some of these; the rest would be unused imports there.
#[allow(unused_imports)]
pub use {
    ddi::*, formats::*, limits::*, misc::*, openssl::*, sdcard::*, shell::*, tmux::*, tree::*,
};

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;

use recovery_updater::demo::{create_device, image_bytes, SimDevice};
use recovery_updater::device::SlotMode;
use recovery_updater::package::zip::{Limits, Method, ZipArchive};

pub const KIB: u64 = 1024;

/// The signed manifest's entry in a package.
pub const MANIFEST: &str = "META-INF/update/manifest.json";
/// The manifest's signature entry in a package.
pub const SIG: &str = "META-INF/update/manifest.sig";

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_recovery-updater"))
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run recovery-updater")
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The last line of a `--json` run's stdout (its result event), or null if there is none.
pub fn last_json(out: &Output) -> serde_json::Value {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(|l| serde_json::from_str(l).unwrap_or(serde_json::Value::Null))
        .unwrap_or(serde_json::Value::Null)
}

/// `recovery-updater pack --spec SPEC --key KEY --out OUT`, which must succeed; returns OUT.
pub fn pack_file(spec: &Path, key: &Path, out_path: &Path) -> PathBuf {
    let out = run(bin()
        .arg("pack")
        .arg("--spec")
        .arg(spec)
        .arg("--key")
        .arg(key)
        .arg("--out")
        .arg(out_path));
    assert!(out.status.success(), "{}", text(&out));
    out_path.to_path_buf()
}

/// Writes `spec` (a pack spec's TOML) to DIR/spec.toml and packs DIR/update.zip with `key`.
pub fn pack_spec_text(dir: &Path, spec: &str, key: &Path) -> PathBuf {
    let spec_path = dir.join("spec.toml");
    fs::write(&spec_path, spec).unwrap();
    pack_file(&spec_path, key, &dir.join("update.zip"))
}

/// A small device, keys, images and a package spec in a temp dir.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub device: PathBuf,
    pub key: PathBuf,
    pub public: PathBuf,
    pub mode: SlotMode,
}

/// Small partitions keep the tests fast: boot 512 KiB, system 2 MiB, vendor 256 KiB.
pub fn small_partitions() -> Vec<(String, u64)> {
    vec![
        ("boot".into(), 512 * KIB),
        ("system".into(), 2048 * KIB),
        ("vendor".into(), 256 * KIB),
    ]
}

pub fn keygen(dir: &Path, name: &str, alg: &str) -> (PathBuf, PathBuf) {
    let base = dir.join(name);
    let out = run(bin()
        .args(["keygen", "--algorithm", alg, "--out"])
        .arg(&base));
    assert!(out.status.success(), "{}", text(&out));
    (base.with_extension("key"), base.with_extension("pub"))
}

/// An A/B device whose slot b was never written (unbootable): nothing about a refusal or a
/// failure mid-write may change misc.
pub fn fresh_ab() -> Fixture {
    Fixture::with(SimDevice {
        b_bootable: false,
        ..SimDevice::default()
    })
}

impl Fixture {
    pub fn new(mode: SlotMode) -> Fixture {
        Fixture::with(SimDevice {
            mode,
            ..SimDevice::default()
        })
    }

    /// `sim`'s keys are replaced by a fresh release key.
    pub fn with(sim: SimDevice) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        fs::create_dir_all(dir.join("keys")).unwrap();
        let (key, public) = keygen(&dir.join("keys"), "release", "ecdsa-p256");
        let device = create_device(
            &dir.join("device"),
            &SimDevice {
                public_keys: vec![public.clone()],
                partitions: small_partitions(),
                ..sim.clone()
            },
        )
        .unwrap();
        fs::create_dir_all(dir.join("build")).unwrap();
        fs::write(
            dir.join("build/boot.img"),
            image_bytes(11, 300 * KIB + 17, false),
        )
        .unwrap();
        fs::write(
            dir.join("build/system.img"),
            image_bytes(12, 1500 * KIB, true),
        )
        .unwrap();
        Fixture {
            tmp,
            dir,
            device,
            key,
            public,
            mode: sim.mode,
        }
    }

    pub fn build(&self, name: &str) -> PathBuf {
        self.dir.join("build").join(name)
    }

    /// Writes a spec with the given top-level fields (TOML lines) and images, returns its path.
    pub fn spec(&self, name: &str, top: &str, images: &[(&str, &str, &str)]) -> PathBuf {
        let mut s = String::from(top);
        s.push('\n');
        for (partition, file, compression) in images {
            s.push_str(&format!(
                "[[image]]\npartition = \"{partition}\"\nfile = \"{file}\"\ncompression = \"{compression}\"\nchunk_size = 65536\n\n"
            ));
        }
        let p = self.dir.join("build").join(name);
        fs::write(&p, s).unwrap();
        p
    }

    /// The standard spec: boot stored, system deflated, for demo-phone revA/revB, 1.1.0, index 3.
    pub fn good_spec(&self) -> PathBuf {
        self.spec_with("")
    }

    /// The standard spec with some top-level lines replaced: pass full lines, e.g.
    /// `products = ["x"]`; a line whose key matches replaces the default.
    pub fn spec_with(&self, overrides: &str) -> PathBuf {
        let defaults = [
            ("products", "products = [\"demo-phone\"]"),
            ("version", "version = \"1.1.0\""),
            ("rollback_index", "rollback_index = 3"),
            (
                "hardware_revisions",
                "hardware_revisions = [\"revA\", \"revB\"]",
            ),
            ("basebands", "basebands = [\"MPSS.DEMO.1.*\"]"),
            ("wipe_data", "wipe_data = false"),
        ];
        let mut lines: BTreeMap<String, String> = defaults
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for line in overrides.lines().filter(|l| !l.trim().is_empty()) {
            let key = line.split('=').next().unwrap().trim().to_string();
            lines.insert(key, line.to_string());
        }
        let top: Vec<String> = lines.into_values().collect();
        let name = format!("spec{}.toml", fastrand_name());
        self.spec(
            &name,
            &top.join("\n"),
            &[
                ("boot", "boot.img", "stored"),
                ("system", "system.img", "deflate"),
            ],
        )
    }

    pub fn pack(&self, spec: &Path, key: &Path, name: &str) -> PathBuf {
        pack_file(spec, key, &self.dir.join(name))
    }

    pub fn good_package(&self) -> PathBuf {
        self.pack(&self.good_spec(), &self.key, "update.zip")
    }

    pub fn apply(&self, package: &Path) -> (Output, serde_json::Value) {
        let out = run(bin()
            .arg("apply")
            .arg(package)
            .arg("--device")
            .arg(&self.device)
            .args(["--yes", "--json"]));
        let last = last_json(&out);
        (out, last)
    }

    pub fn part(&self, name: &str) -> PathBuf {
        self.dir.join("device/parts").join(name)
    }

    pub fn misc(&self) -> Vec<u8> {
        fs::read(self.part("misc.img")).unwrap()
    }

    /// Every partition file (and misc) with its content.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let mut m = BTreeMap::new();
        for e in fs::read_dir(self.dir.join("device/parts")).unwrap() {
            let e = e.unwrap();
            m.insert(
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            );
        }
        m
    }

    pub fn state_file(&self, name: &str) -> PathBuf {
        self.dir.join("device/state").join(name)
    }
}

/// `apply --json` with its stdout on a one-page pipe: the child can run at most a page of
/// events ahead of the test reading them (so a kill on an event lands "at least that far in").
pub fn spawn_apply(fx: &Fixture, pkg: &Path) -> Child {
    let child = bin()
        .arg("apply")
        .arg(pkg)
        .arg("--device")
        .arg(&fx.device)
        .args(["--yes", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // One page of pipe: the child blocks once it is a page of events ahead of the reader.
    let fd = child.stdout.as_ref().unwrap().as_raw_fd();
    // SAFETY: F_SETPIPE_SZ on a pipe descriptor we own; failure only means a larger buffer.
    unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, 4096) };
    child
}

fn fastrand_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst).to_string()
}

/// One entry of a package, as read back for re-packing.
#[derive(Clone, Debug)]
pub struct RawEntry {
    pub name: String,
    pub data: Vec<u8>,
    pub deflate: bool,
}

/// Reads every entry of a package (through the project's own zip reader).
pub fn read_entries(pkg: &Path) -> Vec<RawEntry> {
    let zip = ZipArchive::open(Arc::new(fs::File::open(pkg).unwrap()), &Limits::default()).unwrap();
    zip.entries()
        .iter()
        .map(|e| RawEntry {
            name: e.name.clone(),
            data: zip.read_to_vec(e, 1 << 30).unwrap(),
            deflate: e.method == Method::Deflated,
        })
        .collect()
}

/// Writes entries as a zip (with the zip crate's writer).
pub fn write_entries(path: &Path, entries: &[RawEntry]) {
    let f = fs::File::create(path).unwrap();
    let mut zw = zip::ZipWriter::new(f);
    for e in entries {
        let opts = zip::write::SimpleFileOptions::default().compression_method(if e.deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        });
        zw.start_file(e.name.as_str(), opts).unwrap();
        zw.write_all(&e.data).unwrap();
    }
    zw.finish().unwrap();
}

/// Re-packs `pkg` into `out` after `edit` changed its entries.
pub fn rewrite(pkg: &Path, out: &Path, edit: impl FnOnce(&mut Vec<RawEntry>)) {
    let mut entries = read_entries(pkg);
    edit(&mut entries);
    write_entries(out, &entries);
}

/// Replaces every occurrence of `from` with `to` (same length) in the file's bytes: used to
/// rename zip entries in both the local and central headers.
pub fn patch_bytes(path: &Path, from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut data = fs::read(path).unwrap();
    let mut count = 0;
    let mut i = 0;
    while i + from.len() <= data.len() {
        if &data[i..i + from.len()] == from {
            data[i..i + from.len()].copy_from_slice(to);
            count += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    fs::write(path, data).unwrap();
    count
}

/// The raw data offset of a stored entry.
pub fn data_offset(pkg: &Path, name: &str) -> u64 {
    let zip = ZipArchive::open(Arc::new(fs::File::open(pkg).unwrap()), &Limits::default()).unwrap();
    zip.by_name(name).unwrap().data_offset
}

pub fn exit_code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

/// The static x86_64 musl build the QEMU tests boot as the recovery's /init (or run in the
/// guest): `RECOVERY_INIT_BIN`, else target/x86_64-unknown-linux-musl/release's. It must exist.
pub fn musl_init_bin() -> PathBuf {
    let bin = std::env::var_os("RECOVERY_INIT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/x86_64-unknown-linux-musl/release/recovery-updater")
        });
    assert!(
        bin.exists(),
        "{}: build it with cargo build --release --target x86_64-unknown-linux-musl",
        bin.display()
    );
    bin
}

/// The Debian amd64 kernel `recovery/fetch-kernel.sh` unpacked (the QEMU tests boot it): its
/// tree (modules under lib/modules), its vmlinuz, and its release name.
pub fn debian_kernel() -> (PathBuf, PathBuf, String) {
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("recovery/.cache/kernel");
    let release = fs::read_dir(tree.join("lib/modules"))
        .expect("no kernel: run recovery/fetch-kernel.sh")
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    let vmlinuz = tree.join(format!("boot/vmlinuz-{release}"));
    (tree, vmlinuz, release)
}

/// An initramfs for [`debian_kernel`], made by recovery/mkinitramfs.py as a device's would be:
/// `init` as /init, the profile at `profile` (with its keys/ beside it), the kernel's modules,
/// and each `extra` (host path, path in the image). Written to `out`.
pub fn mkinitramfs(init: &Path, profile: &Path, extra: &[(String, String)], out: &Path) {
    let (tree, _, release) = debian_kernel();
    let mut mk = Command::new("python3");
    mk.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("recovery/mkinitramfs.py"))
        .arg("--init")
        .arg(init)
        .arg("--profile")
        .arg(profile)
        .arg("--modules-root")
        .arg(&tree)
        .args(["--kernel-release", &release])
        .arg("--out")
        .arg(out);
    for (src, dst) in extra {
        mk.arg("--extra").arg(format!("{src}:{dst}"));
    }
    shell::sh(&mut mk);
}
