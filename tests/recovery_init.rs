//! The recovery init's decisions through the real binary, without root (`init` without
//! `--system` skips mounts, modules and the power action): the OTA command file, a bad command,
//! headless mode with nothing to install, and `wipe`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;

use common::{bin, exit_code, run, text, Fixture};
use recovery_updater::device::SlotMode;

fn init(fx: &Fixture, cmdline: &str) -> (std::process::Output, serde_json::Value) {
    let out = run(bin()
        .arg("init")
        .arg("--device")
        .arg(&fx.device)
        .args(["--cmdline", cmdline]));
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (out, last)
}

fn last_install(fx: &Fixture) -> serde_json::Value {
    serde_json::from_slice(&fs::read(fx.state_file("last_install.json")).unwrap()).unwrap()
}

#[test]
fn ota_command_installs_records_and_clears() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let cmd = fx.state_file("command");
    fs::write(
        &cmd,
        format!("--update_package={}\n--locale=en_US\n", pkg.display()),
    )
    .unwrap();
    let (out, v) = init(&fx, "");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(v["success"], true);
    assert_eq!(
        v["action"], "reboot",
        "the profile's default after a command"
    );
    assert!(!cmd.exists());
    let rec = last_install(&fx);
    assert_eq!(rec["result"], "success");
    assert_eq!(rec["package"], pkg.display().to_string());
    assert!(text(&out).contains("plan: OTA command: install"));
}

#[test]
fn failed_or_bad_command_is_recorded_cleared_and_reboots() {
    let fx = Fixture::new(SlotMode::Ab);
    let cmd = fx.state_file("command");
    // A package that does not exist: recorded with its code, and the device goes back to the
    // system rather than waiting in recovery.
    fs::write(&cmd, "--update_package=/nonexistent/update.zip\n").unwrap();
    let before = fx.snapshot();
    let (out, v) = init(&fx, "");
    assert_eq!(exit_code(&out), 1, "{}", text(&out));
    assert_eq!(v["code"], 9001);
    assert_eq!(v["action"], "reboot");
    assert!(!cmd.exists());
    assert_eq!(last_install(&fx)["code"], 9001);
    assert_eq!(fx.snapshot(), before);

    fs::write(&cmd, "--format_everything\n").unwrap();
    let (out, v) = init(&fx, "recovery.after=poweroff");
    assert_eq!(exit_code(&out), 113, "{}", text(&out));
    assert_eq!(v["action"], "poweroff", "the kernel command line wins");
    let rec = last_install(&fx);
    assert_eq!(rec["code"], 9113);
    assert!(rec["message"]
        .as_str()
        .unwrap()
        .contains("unknown option --format_everything"));
    assert!(
        !cmd.exists(),
        "a bad command must not trap the device in recovery"
    );
    assert_eq!(fx.snapshot(), before);
}

#[test]
fn headless_installs_from_storage_or_records_no_package() {
    let fx = Fixture::new(SlotMode::Ab);
    let (out, v) = init(&fx, "recovery.mode=headless");
    assert_eq!(v["code"], 9001, "{}", text(&out));
    assert_eq!(
        v["action"], "wait",
        "the default on failure: show the code and wait"
    );
    assert_eq!(last_install(&fx)["code"], 9001);

    let pkg = fx.good_package();
    fs::create_dir_all(fx.dir.join("device/sdcard")).unwrap();
    fs::copy(&pkg, fx.dir.join("device/sdcard/update.zip")).unwrap();
    let (out, v) = init(&fx, "recovery.mode=headless");
    assert_eq!(v["success"], true, "{}", text(&out));
    assert_eq!(last_install(&fx)["target_slot"], "b");

    // Menu mode (the default) opens the recovery screen and installs nothing by itself; with no
    // terminal to draw on (as here) it says so with a code and changes nothing.
    let before = fx.snapshot();
    let (out, v) = init(&fx, "");
    assert_eq!(v["success"], false, "{}", text(&out));
    assert!(text(&out).contains("error 9"), "{}", text(&out));
    assert_eq!(fx.snapshot(), before);
}

#[test]
fn wipe_erases_only_the_listed_partitions() {
    let fx = Fixture::new(SlotMode::Ab);
    let userdata = fx.dir.join("device/userdata.img");
    fs::write(&userdata, vec![0x5au8; 3 << 20]).unwrap();
    let out = run(bin().arg("wipe").arg("--device").arg(&fx.device));
    assert_eq!(exit_code(&out), 72, "needs --yes: {}", text(&out));
    let out = run(bin()
        .arg("wipe")
        .arg("--device")
        .arg(&fx.device)
        .arg("--yes"));
    assert_eq!(
        exit_code(&out),
        65,
        "no [[wipe]] in the profile: WIPE_NOT_CONFIGURED, {}",
        text(&out)
    );

    let profile = fs::read_to_string(&fx.device).unwrap();
    fs::write(
        &fx.device,
        format!(
            "{profile}\n[[wipe]]\nname = \"userdata\"\npath = \"userdata.img\"\nrole = \"data\"\n"
        ),
    )
    .unwrap();
    let before = fx.snapshot();
    let out = run(bin()
        .arg("wipe")
        .arg("--device")
        .arg(&fx.device)
        .arg("--yes"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("wiped userdata"));
    let data = fs::read(&userdata).unwrap();
    assert_eq!(data.len(), 3 << 20);
    assert!(data[..1 << 20].iter().all(|&b| b == 0));
    assert!(data[1 << 20..2 << 20].iter().all(|&b| b == 0x5a));
    assert_eq!(fx.snapshot(), before, "no other partition touched");

    // A wipe entry that names an update partition is refused when the profile loads.
    fs::write(
        &fx.device,
        format!(
            "{profile}\n[[wipe]]\nname = \"x\"\npath = \"parts/boot_a.img\"\nrole = \"data\"\n"
        ),
    )
    .unwrap();
    let out = run(bin()
        .arg("wipe")
        .arg("--device")
        .arg(&fx.device)
        .arg("--yes"));
    assert_eq!(exit_code(&out), 60, "{}", text(&out));
    assert!(text(&out).contains("also an update or misc partition"));
}

#[test]
fn package_wipe_flag_wipes_after_a_successful_install() {
    let fx = Fixture::new(SlotMode::Ab);
    let userdata = fx.dir.join("device/userdata.img");
    fs::write(&userdata, vec![0x5au8; 1 << 20]).unwrap();
    let profile = fs::read_to_string(&fx.device).unwrap();
    fs::write(
        &fx.device,
        format!(
            "{profile}\n[[wipe]]\nname = \"userdata\"\npath = \"userdata.img\"\nrole = \"data\"\n"
        ),
    )
    .unwrap();
    let pkg = fx.pack(&fx.spec_with("wipe_data = true"), &fx.key, "wipe.zip");
    let (out, r) = fx.apply(&pkg);
    assert_eq!(r["result"], "success", "{}", text(&out));
    assert!(fs::read(&userdata).unwrap().iter().all(|&b| b == 0));
    let log = fs::read_to_string(fx.state_file("last_log")).unwrap();
    assert!(log.contains("wiped userdata"), "{log}");
}
