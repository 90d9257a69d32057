//! U-Boot environment interop with the real tools: images made by `mkenvimage` (u-boot-tools)
//! are read by our store, what we write is read by `fw_printenv` (libubootenv-tool), and
//! `fw_setenv`'s writes are read by us; redundant and single-copy layouts. Then a whole A/B
//! install whose slot control is the U-Boot environment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{sh, text, Fixture};
use recovery_updater::device::uboot_env::{EnvStore, SlotVars, UbootSlotControl};
use recovery_updater::device::{Slot, SlotControl, SlotMode};

/// Writes vars with mkenvimage into `file` (one or two copies of `size` bytes) and a config.
fn make_env(dir: &Path, redundant: bool, size: usize) -> std::path::PathBuf {
    fs::write(
        dir.join("vars.txt"),
        "BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=0\nbootcmd=run distro_bootcmd; echo done\n",
    )
    .unwrap();
    let copy = dir.join("copy.bin");
    let mut cmd = Command::new("mkenvimage");
    cmd.args(["-s", &format!("0x{size:x}")]);
    if redundant {
        cmd.arg("-r");
    }
    sh(cmd.arg("-o").arg(&copy).arg(dir.join("vars.txt")));
    let env = dir.join("env.bin");
    let mut bytes = fs::read(&copy).unwrap();
    // The second copy starts out blank (erased flash), as on a freshly flashed device.
    bytes.resize(2 * size, 0xff);
    fs::write(&env, bytes).unwrap();
    let mut config = format!("{} 0x0 0x{size:x}\n", env.display());
    if redundant {
        config.push_str(&format!("{} 0x{size:x} 0x{size:x}\n", env.display()));
    }
    let cfg = dir.join("fw_env.config");
    fs::write(&cfg, config).unwrap();
    cfg
}

fn printenv(cfg: &Path, var: &str) -> String {
    sh(Command::new("fw_printenv").arg("-c").arg(cfg).arg(var))
        .trim()
        .to_string()
}

#[test]
fn interop_with_mkenvimage_fw_printenv_and_fw_setenv() {
    for redundant in [true, false] {
        let d = tempfile::tempdir().unwrap();
        let cfg = make_env(d.path(), redundant, 0x4000);
        let store = EnvStore::from_config(&cfg).unwrap();
        let (env, copy) = store.read().unwrap().expect("mkenvimage's copy is valid");
        assert_eq!(copy, 0);
        assert_eq!(env.vars["bootcmd"], "run distro_bootcmd; echo done");
        assert_eq!(env.flag, if redundant { 1 } else { 0 });

        let mut sc = UbootSlotControl::new(store.clone(), SlotVars::default());
        let st = sc.state().unwrap();
        assert_eq!((st.active, st.valid), (Slot::A, true));
        sc.mark_unbootable(Slot::B).unwrap();
        sc.set_active(Slot::B).unwrap();
        // libubootenv reads what we wrote, and sees the untouched variables too.
        assert_eq!(printenv(&cfg, "BOOT_ORDER"), "BOOT_ORDER=B A");
        assert_eq!(printenv(&cfg, "BOOT_B_LEFT"), "BOOT_B_LEFT=3");
        assert_eq!(
            printenv(&cfg, "bootcmd"),
            "bootcmd=run distro_bootcmd; echo done"
        );

        // fw_setenv writes; we read it.
        sh(Command::new("fw_setenv")
            .arg("-c")
            .arg(&cfg)
            .args(["BOOT_ORDER", "A B"]));
        assert_eq!(sc.state().unwrap().active, Slot::A);
        if redundant {
            let (env, _) = store.read().unwrap().unwrap();
            assert!(env.flag > 1, "fw_setenv wrote a newer copy");
        }
        sc.set_active(Slot::B).unwrap();
        assert_eq!(printenv(&cfg, "BOOT_ORDER"), "BOOT_ORDER=B A");
    }
}

#[test]
fn ab_install_switches_slots_through_the_uboot_environment() {
    let fx = Fixture::new(SlotMode::Ab);
    let devdir = fx.device.parent().unwrap().to_path_buf();
    let cfg = make_env(&devdir, true, 0x2000);
    let profile = fs::read_to_string(&fx.device).unwrap();
    let edited = profile.replace(
        "misc = \"parts/misc.img\"\n",
        &format!("\n[slots.uboot_env]\nconfig = \"{}\"\n", cfg.display()),
    );
    assert_ne!(profile, edited);
    fs::write(&fx.device, edited).unwrap();
    let misc_before = fx.misc();
    let (out, result) = fx.apply(&fx.good_package());
    assert_eq!(result["result"], "success", "{}", text(&out));
    assert_eq!(result["target_slot"], "b");
    assert_eq!(printenv(&cfg, "BOOT_ORDER"), "BOOT_ORDER=B A");
    assert_eq!(printenv(&cfg, "BOOT_B_LEFT"), "BOOT_B_LEFT=3");
    assert_eq!(fx.misc(), misc_before, "misc is not the slot control here");
}

/// Fuzz finding (issue 9; fuzz/regressions/uboot_env/no-closing-empty-entry): an environment
/// whose entries fill its area with no closing empty entry has a valid CRC but cannot be written
/// back. Before the fix the install wrote slot b and then failed the switch (9053); now the
/// damaged environment is refused when the install plans (9054), and nothing is written.
#[test]
fn damaged_uboot_environment_is_refused_before_anything_is_written() {
    let fx = Fixture::new(SlotMode::Ab);
    let devdir = fx.device.parent().unwrap().to_path_buf();
    let size = 0x400;
    let mut data =
        b"BOOT_ORDER=A B\0BOOT_A_LEFT=3\0BOOT_B_LEFT=0\0bootcmd=run distro_bootcmd\0".to_vec();
    // One more variable fills the data area exactly: its NUL is the area's last byte.
    let fill = size - 4 - data.len() - "pad=".len() - 1;
    data.extend_from_slice(format!("pad={}\0", "x".repeat(fill)).as_bytes());
    assert_eq!(data.len(), size - 4);
    let mut env = crc32fast::hash(&data).to_le_bytes().to_vec();
    env.extend_from_slice(&data);
    let env_file = devdir.join("env.bin");
    fs::write(&env_file, &env).unwrap();
    let cfg = devdir.join("fw_env.config");
    fs::write(&cfg, format!("{} 0x0 0x{size:x}\n", env_file.display())).unwrap();
    let profile = fs::read_to_string(&fx.device).unwrap();
    let edited = profile.replace(
        "misc = \"parts/misc.img\"\n",
        &format!("\n[slots.uboot_env]\nconfig = \"{}\"\n", cfg.display()),
    );
    assert_ne!(profile, edited);
    fs::write(&fx.device, edited).unwrap();
    let before = fx.snapshot();
    let (out, result) = fx.apply(&fx.good_package());
    assert_eq!(result["code"], 9054, "{}", text(&out));
    assert!(text(&out).contains("damaged"), "{}", text(&out));
    assert_eq!(fx.snapshot(), before, "a partition was written");
    assert_eq!(fs::read(&env_file).unwrap(), env, "the environment changed");
}
