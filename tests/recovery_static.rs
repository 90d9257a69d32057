//! The static release binaries do a whole headless install: keygen, pack, verify and apply on a
//! simulated A/B device, then the same through the recovery init's OTA command file. The binary
//! under test comes from RECOVERY_STATIC_BIN; RECOVERY_STATIC_RUNNER runs it (e.g.
//! `qemu-aarch64-static` for the aarch64 build on an x86_64 host). `.ci/run` runs this for both
//! musl targets; without RECOVERY_STATIC_BIN it is ignored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{decode_boot_control, sh_all};
use recovery_updater::demo::{create_device, image_bytes, SimDevice};
use recovery_updater::device::Slot;

fn static_cmd() -> Command {
    let bin = PathBuf::from(std::env::var_os("RECOVERY_STATIC_BIN").expect("RECOVERY_STATIC_BIN"));
    match std::env::var_os("RECOVERY_STATIC_RUNNER").filter(|r| !r.is_empty()) {
        Some(r) => {
            let mut c = Command::new(r);
            c.arg(bin);
            c
        }
        None => Command::new(bin),
    }
}

fn active(misc: &Path) -> Slot {
    decode_boot_control(&fs::read(misc).unwrap()).0.active()
}

#[test]
#[ignore = "needs RECOVERY_STATIC_BIN (a musl release build); .ci/run runs it for x86_64 and, under qemu-user, aarch64"]
fn static_binary_installs_headless() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let arch = sh_all(Command::new("file").arg(std::env::var_os("RECOVERY_STATIC_BIN").unwrap()));
    assert!(
        arch.contains("statically linked") || arch.contains("static-pie linked"),
        "{arch}"
    );

    sh_all(
        static_cmd()
            .args(["keygen", "--out"])
            .arg(dir.join("release")),
    );
    let device = create_device(
        &dir.join("device"),
        &SimDevice {
            public_keys: vec![dir.join("release.pub")],
            ..SimDevice::default()
        },
    )
    .unwrap();
    fs::write(dir.join("boot.img"), image_bytes(7, 200 * 1024 + 3, false)).unwrap();
    fs::write(dir.join("system.img"), image_bytes(8, 3 << 20, true)).unwrap();
    let spec = |version: &str, index: u32| {
        format!(
            "products = [\"demo-phone\"]\nversion = \"{version}\"\nrollback_index = {index}\n\
             hardware_revisions = [\"revA\", \"revB\"]\n\n[[image]]\npartition = \"boot\"\nfile = \"boot.img\"\n\n\
             [[image]]\npartition = \"system\"\nfile = \"system.img\"\ncompression = \"deflate\"\n"
        )
    };
    fs::write(dir.join("spec1.toml"), spec("1.1.0", 3)).unwrap();
    fs::write(dir.join("spec2.toml"), spec("1.2.0", 4)).unwrap();
    for n in ["1", "2"] {
        sh_all(
            static_cmd()
                .arg("pack")
                .arg("--spec")
                .arg(dir.join(format!("spec{n}.toml")))
                .arg("--key")
                .arg(dir.join("release.key"))
                .arg("--out")
                .arg(dir.join(format!("update{n}.zip"))),
        );
    }
    sh_all(
        static_cmd()
            .arg("verify")
            .arg(dir.join("update1.zip"))
            .arg("--device")
            .arg(&device),
    );
    let out = sh_all(
        static_cmd()
            .arg("apply")
            .arg(dir.join("update1.zip"))
            .arg("--device")
            .arg(&device)
            .args(["--yes", "--json"]),
    );
    assert!(out.contains("\"result\":\"success\""), "{out}");
    let parts = dir.join("device/parts");
    let boot = fs::read(dir.join("boot.img")).unwrap();
    assert!(fs::read(parts.join("boot_b.img")).unwrap()[..boot.len()] == boot[..]);
    assert_eq!(active(&parts.join("misc.img")), Slot::B);

    // The OTA client's command file: the init installs it, records it, clears it.
    let state = dir.join("device/state");
    let command = state.join("command");
    fs::write(
        &command,
        format!("--update_package={}\n", dir.join("update2.zip").display()),
    )
    .unwrap();
    let out = sh_all(
        static_cmd()
            .arg("init")
            .arg("--device")
            .arg(&device)
            .args(["--cmdline", "recovery.after=reboot"]),
    );
    assert!(out.contains("\"action\":\"reboot\""), "{out}");
    assert!(!command.exists(), "the command runs once");
    let rec: serde_json::Value =
        serde_json::from_slice(&fs::read(state.join("last_install.json")).unwrap()).unwrap();
    assert_eq!(rec["to_version"], "1.2.0");
    assert_eq!(rec["result"], "success");
    assert_eq!(active(&parts.join("misc.img")), Slot::A);
}
