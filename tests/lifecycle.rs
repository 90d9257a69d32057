//! The A/B life after the install, through the real binary on file-backed devices
//! (docs/SLOTS.md): apply from the running slot → boot → mark-good → confirmed; a new slot that
//! never comes up → its tries burn → the bootloader returns → `fell_back` (9121) with the old slot
//! never written; a kill mid-write; the booted slot refused (9120); a second install before the
//! reboot; mark-bad; the health check; the status JSON; the U-Boot environment backend.
//! Boots are simulated by `common::bootsim`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::process::Output;

use common::bootsim::*;
use common::*;
use recovery_updater::device::{Slot, SlotMode};

fn lifecycle(fx: &Fixture, cmd: &str) -> (Output, serde_json::Value) {
    let out = run(bin().arg(cmd).arg("--device").arg(&fx.device).arg("--json"));
    let last = last_json(&out);
    (out, last)
}

fn status(fx: &Fixture) -> serde_json::Value {
    let (out, st) = lifecycle(fx, "status");
    assert!(out.status.success(), "{}", text(&out));
    st
}

/// The slot-a partitions, which no install from a running slot a may change.
fn slot_a(fx: &Fixture) -> Vec<Vec<u8>> {
    ["boot_a.img", "system_a.img", "vendor_a.img"]
        .iter()
        .map(|p| fs::read(fx.part(p)).unwrap())
        .collect()
}

fn record(fx: &Fixture) -> serde_json::Value {
    serde_json::from_slice(&fs::read(fx.state_file("last_install.json")).unwrap()).unwrap()
}

fn slot_of<'a>(st: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    st["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

#[test]
fn apply_from_a_boot_b_mark_good_confirms() {
    let fx = Fixture::new(SlotMode::Ab);
    running_from(&fx, Slot::A);
    let a = slot_a(&fx);
    let (out, result) = fx.apply(&fx.good_package());
    assert_eq!(result["result"], "success", "{}", text(&out));
    assert_eq!(result["target_slot"], "b");
    assert_eq!(result["state"], "pending");
    assert_eq!(slot_a(&fx), a, "the running slot a was written");

    let st = status(&fx);
    assert_eq!(
        (&st["booted_slot"], &st["active_slot"]),
        (&"a".into(), &"b".into())
    );
    assert_eq!(st["last_install"]["state"], "pending");
    assert_eq!(slot_of(&st, "b")["successful"], false);
    assert_eq!(slot_of(&st, "b")["version"], "1.1.0");

    assert_eq!(boot_misc(&fx), Some(Slot::B));
    let (out, st) = lifecycle(&fx, "mark-good");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(st["booted_slot"], "b");
    assert_eq!(st["last_install"]["state"], "confirmed");
    assert_eq!(record(&fx)["state"], "confirmed");
    assert_eq!(record(&fx)["code"], 0);
    let b = slot_of(&st, "b");
    assert_eq!(
        (&b["successful"], &b["bootable"]),
        (&true.into(), &true.into())
    );

    // Idempotent, and the confirmed slot keeps booting.
    let (out, _) = lifecycle(&fx, "mark-good");
    assert!(out.status.success(), "{}", text(&out));
    for _ in 0..8 {
        assert_eq!(boot_misc(&fx), Some(Slot::B));
    }
    assert_eq!(status(&fx)["last_install"]["state"], "confirmed");
    assert_eq!(slot_a(&fx), a);
}

#[test]
fn unconfirmed_slot_burns_its_tries_and_falls_back() {
    let fx = Fixture::new(SlotMode::Ab);
    running_from(&fx, Slot::A);
    let a = slot_a(&fx);
    let (out, result) = fx.apply(&fx.good_package());
    assert_eq!(result["result"], "success", "{}", text(&out));
    // The new slot never comes up far enough to run mark-good: every boot spends a try.
    let mut boots = Vec::new();
    while boots.last() != Some(&Slot::A) {
        boots.push(boot_misc(&fx).expect("slot a stays bootable"));
        assert!(
            boots.len() <= 10,
            "the bootloader never fell back: {boots:?}"
        );
    }
    assert_eq!(boots.iter().filter(|s| **s == Slot::B).count(), 6);
    let st = status(&fx);
    assert_eq!(st["booted_slot"], "a");
    assert_eq!(st["active_slot"], "a");
    assert_eq!(st["last_install"]["state"], "fell_back");
    assert_eq!(st["last_install"]["code"], 9121);
    assert_eq!(st["last_install"]["name"], "NEW_SLOT_FELL_BACK");
    let rec = record(&fx);
    assert_eq!(
        (&rec["state"], &rec["code"]),
        (&"fell_back".into(), &9121.into())
    );
    assert!(rec["state_changed_at"].is_string());
    assert_eq!(slot_of(&st, "b")["bootable"], false);
    assert_eq!(slot_a(&fx), a, "slot a was written");
    // The plain words say it too.
    let out = run(bin().arg("status").arg("--device").arg(&fx.device));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("returned to the previous version"),
        "{}",
        text(&out)
    );
}

#[test]
fn kill_mid_write_leaves_a_intact_and_reapply_succeeds() {
    let fx = Fixture::new(SlotMode::Ab);
    running_from(&fx, Slot::A);
    let a = slot_a(&fx);
    let pkg = fx.good_package();
    let mut child = spawn_apply(&fx, &pkg);
    let stdout = child.stdout.take().unwrap();
    let mut killed = false;
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["event"] == "progress" && v["phase"] == "write" {
            child.kill().unwrap();
            killed = true;
            break;
        }
    }
    let status_ = child.wait().unwrap();
    assert!(
        killed && status_.code().is_none(),
        "the install was not killed mid-write"
    );
    assert_eq!(slot_a(&fx), a);
    // Slot b was marked unbootable before its first byte: the device still boots a.
    assert_eq!(boot_misc(&fx), Some(Slot::A));
    let (out, result) = fx.apply(&pkg);
    assert_eq!(result["result"], "success", "{}", text(&out));
    assert_eq!(result["target_slot"], "b");
    assert_eq!(slot_a(&fx), a);
    assert_eq!(boot_misc(&fx), Some(Slot::B));
}

#[test]
fn writing_the_booted_slot_is_refused() {
    let fx = Fixture::new(SlotMode::Ab);
    running_from(&fx, Slot::A);
    // Slot b's system is, under another name, the running system.
    fs::remove_file(fx.part("system_b.img")).unwrap();
    std::os::unix::fs::symlink(fx.part("system_a.img"), fx.part("system_b.img")).unwrap();
    let before = fx.snapshot();
    let (out, result) = fx.apply(&fx.good_package());
    assert_eq!(result["code"], 9120, "{}", text(&out));
    assert_eq!(exit_code(&out), 120);
    assert_eq!(fx.snapshot(), before);
}

#[test]
fn second_install_before_reboot_retargets_the_pending_slot() {
    let fx = Fixture::new(SlotMode::Ab);
    running_from(&fx, Slot::A);
    let a = slot_a(&fx);
    let (out, result) = fx.apply(&fx.good_package());
    assert_eq!(result["target_slot"], "b", "{}", text(&out));
    // misc now says b is active; the system still runs from a.
    let pkg2 = fx.pack(&fx.spec_with("version = \"1.2.0\""), &fx.key, "update2.zip");
    let (out, result) = fx.apply(&pkg2);
    assert_eq!(result["result"], "success", "{}", text(&out));
    assert_eq!(result["target_slot"], "b");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("writing slot b again"),
        "the second install did not say it re-targets: {stdout}"
    );
    assert_eq!(slot_a(&fx), a, "the running slot a was written");
    assert_eq!(slot_of(&status(&fx), "b")["version"], "1.2.0");
}

#[test]
fn mark_bad_returns_to_the_other_slot() {
    let fx = Fixture::new(SlotMode::Ab);
    running_from(&fx, Slot::A);
    let (_, result) = fx.apply(&fx.good_package());
    assert_eq!(result["result"], "success");
    assert_eq!(boot_misc(&fx), Some(Slot::B));
    let (out, st) = lifecycle(&fx, "mark-bad");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(st["active_slot"], "a");
    assert_eq!(boot_misc(&fx), Some(Slot::A));
    assert_eq!(status(&fx)["last_install"]["state"], "fell_back");
}

#[test]
fn mark_bad_without_a_bootable_other_slot_is_refused() {
    let fx = fresh_ab();
    running_from(&fx, Slot::A);
    let misc = fx.misc();
    let (out, result) = lifecycle(&fx, "mark-bad");
    assert_eq!(result["code"], 9124, "{}", text(&out));
    assert_eq!(exit_code(&out), 124);
    assert_eq!(fx.misc(), misc);
}

fn health_check_refuses(command: &str, timeout_s: u64, code: u64) {
    let fx = Fixture::new(SlotMode::Ab);
    running_from(&fx, Slot::A);
    add_profile_lines(
        &fx,
        &format!("health_check = {{ command = {command}, timeout_s = {timeout_s} }}"),
    );
    let (_, result) = fx.apply(&fx.good_package());
    assert_eq!(result["result"], "success");
    assert_eq!(boot_misc(&fx), Some(Slot::B));
    let misc = fx.misc();
    let (out, result) = lifecycle(&fx, "mark-good");
    assert_eq!(result["code"], code, "{}", text(&out));
    assert_eq!(fx.misc(), misc, "the slot was marked good anyway");
    assert_eq!(record(&fx)["state"], "pending");
}

#[test]
fn failing_health_check_refuses_mark_good() {
    health_check_refuses(r#"["sh", "-c", "echo unhealthy >&2; exit 3"]"#, 30, 9122);
}

#[test]
fn hanging_health_check_times_out() {
    health_check_refuses(r#"["sh", "-c", "sleep 600"]"#, 1, 9123);
}

#[test]
fn passing_health_check_lets_mark_good_confirm() {
    let fx = Fixture::new(SlotMode::Ab);
    running_from(&fx, Slot::A);
    add_profile_lines(
        &fx,
        r#"health_check = { command = ["true"], timeout_s = 30 }"#,
    );
    fx.apply(&fx.good_package());
    boot_misc(&fx);
    let (out, st) = lifecycle(&fx, "mark-good");
    assert_eq!(st["last_install"]["state"], "confirmed", "{}", text(&out));
}

#[test]
fn status_json_shape_and_cmdline_booted_slot() {
    let fx = Fixture::new(SlotMode::Ab);
    let cmdline = fx.dir.join("cmdline");
    fs::write(&cmdline, "console=ttyS0 androidboot.slot_suffix=_b\n").unwrap();
    add_profile_lines(&fx, &format!("cmdline_file = \"{}\"", cmdline.display()));
    let st = status(&fx);
    let keys: Vec<&String> = st.as_object().unwrap().keys().collect();
    for k in ["booted_slot", "active_slot", "slots", "last_install"] {
        assert!(keys.iter().any(|x| *x == k), "no {k} in {st}");
    }
    assert_eq!(st["booted_slot"], "b");
    assert_eq!(st["active_slot"], "a");
    assert!(st["last_install"].is_null());
    let slots = st["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 2);
    for s in slots {
        for k in ["name", "bootable", "successful", "tries_left", "version"] {
            assert!(s.get(k).is_some(), "no {k} in {s}");
        }
    }
    // No slot named anywhere: mark-good has nothing to mark (9125).
    fs::write(&cmdline, "console=ttyS0\n").unwrap();
    assert!(status(&fx)["booted_slot"].is_null());
    let (out, result) = lifecycle(&fx, "mark-good");
    assert_eq!(result["code"], 9125, "{}", text(&out));
}

#[test]
fn uboot_environment_life_with_fw_printenv() {
    let fx = Fixture::new(SlotMode::Ab);
    let devdir = fx.device.parent().unwrap().to_path_buf();
    let cfg = uboot_env(&devdir, 0x2000);
    let cmdline = fx.dir.join("cmdline");
    fs::write(&cmdline, "console=ttyS0 rauc.slot=A\n").unwrap();
    let profile = fs::read_to_string(&fx.device).unwrap();
    let edited = profile.replace(
        "misc = \"parts/misc.img\"\n",
        &format!("\n[slots.uboot_env]\nconfig = \"{}\"\n", cfg.display()),
    );
    assert_ne!(profile, edited);
    fs::write(&fx.device, edited).unwrap();
    add_profile_lines(&fx, &format!("cmdline_file = \"{}\"", cmdline.display()));

    // Confirmed path.
    let (out, result) = fx.apply(&fx.good_package());
    assert_eq!(result["target_slot"], "b", "{}", text(&out));
    assert_eq!(printenv(&cfg, "BOOT_ORDER"), "B A");
    assert_eq!(boot_uboot(&cfg, &cmdline), Some(Slot::B));
    assert_eq!(printenv(&cfg, "BOOT_B_LEFT"), "2");
    let st = status(&fx);
    assert_eq!(slot_of(&st, "b")["successful"], false);
    let (out, st) = lifecycle(&fx, "mark-good");
    assert_eq!(st["last_install"]["state"], "confirmed", "{}", text(&out));
    assert_eq!(
        printenv(&cfg, "BOOT_B_LEFT"),
        "3",
        "mark-good resets the tries"
    );
    assert_eq!(slot_of(&st, "b")["successful"], true);
    assert_eq!(printenv(&cfg, "bootcmd"), "run rauc_boot");

    // Fallback path: the next version (into a) never confirms.
    let pkg2 = fx.pack(
        &fx.spec_with("version = \"1.2.0\"\nrollback_index = 4"),
        &fx.key,
        "u2.zip",
    );
    let (out, result) = fx.apply(&pkg2);
    assert_eq!(result["target_slot"], "a", "{}", text(&out));
    let b = fs::read(fx.part("system_b.img")).unwrap();
    let mut boots = Vec::new();
    while boots.last() != Some(&Slot::B) {
        boots.push(boot_uboot(&cfg, &cmdline).expect("slot b keeps its tries"));
        assert!(boots.len() <= 6, "{boots:?}");
    }
    assert_eq!(boots, [Slot::A, Slot::A, Slot::A, Slot::B]);
    let st = status(&fx);
    assert_eq!(st["last_install"]["state"], "fell_back");
    assert_eq!(st["last_install"]["code"], 9121);
    assert_eq!(fs::read(fx.part("system_b.img")).unwrap(), b);
}
