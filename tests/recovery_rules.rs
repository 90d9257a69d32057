//! Issue 9 rules for the recovery, through the real binary: wipe roles (`--wipe_cache` never
//! erases user data), wipe requests the profile cannot honour (9065), a wipe that fails after the
//! update is active (9115), the card scan that looks at the root first, headless mode keeping the
//! first failure, and headless mode waiting for a stick that appears late.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{bin, exit_code, rewrite, run, text, Fixture};
use recovery_updater::device::SlotMode;

const MIB: usize = 1 << 20;

fn init(fx: &Fixture, cmdline: &str) -> (std::process::Output, serde_json::Value) {
    let out = run(bin()
        .arg("init")
        .arg("--device")
        .arg(&fx.device)
        .args(["--cmdline", cmdline]));
    (out.clone(), last_json(&out))
}

fn last_json(out: &std::process::Output) -> serde_json::Value {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or(serde_json::Value::Null)
}

fn last_install(fx: &Fixture) -> serde_json::Value {
    serde_json::from_slice(&fs::read(fx.state_file("last_install.json")).unwrap()).unwrap()
}

/// Appends `[[wipe]]` entries (name, role) to the fixture's profile; each partition is a 3 MiB
/// file of 0x5a in the device folder. Returns their paths.
fn add_wipe(fx: &Fixture, entries: &[(&str, &str)]) -> Vec<PathBuf> {
    let mut profile = fs::read_to_string(&fx.device).unwrap();
    let mut paths = Vec::new();
    for (name, role) in entries {
        let p = fx.dir.join(format!("device/{name}.img"));
        fs::write(&p, vec![0x5au8; 3 * MIB]).unwrap();
        profile.push_str(&format!(
            "\n[[wipe]]\nname = \"{name}\"\npath = \"{name}.img\"\nrole = \"{role}\"\n"
        ));
        paths.push(p);
    }
    fs::write(&fx.device, profile).unwrap();
    paths
}

fn untouched(p: &Path) -> bool {
    fs::read(p).unwrap().iter().all(|&b| b == 0x5a)
}

/// Both ends zeroed, the middle kept: what a wipe does.
fn wiped(p: &Path) -> bool {
    let d = fs::read(p).unwrap();
    d[..MIB].iter().all(|&b| b == 0)
        && d[2 * MIB..].iter().all(|&b| b == 0)
        && d[MIB..2 * MIB].iter().all(|&b| b == 0x5a)
}

fn command(fx: &Fixture, text: &str) -> PathBuf {
    let cmd = fx.state_file("command");
    fs::write(&cmd, text).unwrap();
    cmd
}

#[test]
fn wipe_cache_command_erases_only_the_cache() {
    let fx = Fixture::new(SlotMode::Ab);
    let p = add_wipe(&fx, &[("userdata", "data"), ("cache", "cache")]);
    let before = fx.snapshot();
    let cmd = command(&fx, "--wipe_cache\n");
    let (out, v) = init(&fx, "");
    assert_eq!(v["success"], true, "{}", text(&out));
    assert!(wiped(&p[1]), "cache wiped");
    assert!(untouched(&p[0]), "--wipe_cache must not erase user data");
    assert!(!cmd.exists(), "the command runs once");
    assert_eq!(fx.snapshot(), before);
}

#[test]
fn wipe_data_command_erases_only_the_data_role() {
    let fx = Fixture::new(SlotMode::Ab);
    let p = add_wipe(&fx, &[("userdata", "data"), ("cache", "cache")]);
    let cmd = command(&fx, "--wipe_data\n");
    let (out, v) = init(&fx, "");
    assert_eq!(v["success"], true, "{}", text(&out));
    assert!(wiped(&p[0]), "userdata wiped");
    assert!(untouched(&p[1]), "the cache is another role");
    assert!(!cmd.exists());
}

#[test]
fn unknown_wipe_word_is_refused_with_9113_cleared_and_erases_nothing() {
    let fx = Fixture::new(SlotMode::Ab);
    let p = add_wipe(&fx, &[("userdata", "data"), ("cache", "cache")]);
    for word in ["--wipe_cache=1\n", "--wipe_all\n"] {
        let cmd = command(&fx, word);
        let (out, v) = init(&fx, "");
        assert_eq!(v["code"], 9113, "{word}: {}", text(&out));
        assert_eq!(exit_code(&out), 113);
        assert_eq!(
            v["action"], "reboot",
            "a bad command does not trap the device"
        );
        assert!(!cmd.exists(), "{word}: the bad command is cleared");
        assert_eq!(last_install(&fx)["code"], 9113);
        assert!(
            untouched(&p[0]) && untouched(&p[1]),
            "{word}: nothing erased"
        );
    }
}

#[test]
fn wipe_data_command_without_a_data_partition_is_9065_and_does_nothing() {
    // No [[wipe]] at all: the old init reported success and erased nothing.
    let fx = Fixture::new(SlotMode::Ab);
    let cmd = command(&fx, "--wipe_data\n");
    let (out, v) = init(&fx, "");
    assert_eq!(v["success"], false, "{}", text(&out));
    assert_eq!(v["code"], 9065);
    assert_eq!(exit_code(&out), 65);
    assert_eq!(last_install(&fx)["code"], 9065);
    assert!(!cmd.exists());

    // Only a cache partition, and an install asked with the wipe: refused before anything is
    // installed or erased.
    let p = add_wipe(&fx, &[("cache", "cache")]);
    let pkg = fx.good_package();
    let before = fx.snapshot();
    let cmd = command(
        &fx,
        &format!("--update_package={}\n--wipe_data\n", pkg.display()),
    );
    let (out, v) = init(&fx, "");
    assert_eq!(v["code"], 9065, "{}", text(&out));
    assert_eq!(fx.snapshot(), before, "nothing installed");
    assert!(untouched(&p[0]), "the cache is not what was asked");
    assert!(!cmd.exists());
    assert_eq!(last_install(&fx)["code"], 9065);
}

#[test]
fn wipe_cli_without_a_data_partition_exits_65() {
    let fx = Fixture::new(SlotMode::Ab);
    let wipe = |fx: &Fixture| {
        run(bin()
            .arg("wipe")
            .arg("--device")
            .arg(&fx.device)
            .arg("--yes"))
    };
    let out = wipe(&fx);
    assert_eq!(exit_code(&out), 65, "{}", text(&out));
    assert!(text(&out).contains("WIPE_NOT_CONFIGURED"), "{}", text(&out));
    let p = add_wipe(&fx, &[("cache", "cache")]);
    let out = wipe(&fx);
    assert_eq!(exit_code(&out), 65, "{}", text(&out));
    assert!(untouched(&p[0]), "wipe data never erases the cache");
}

#[test]
fn screen_wipe_uses_the_same_policy() {
    let fx = Fixture::new(SlotMode::Ab);
    let p = add_wipe(&fx, &[("cache", "cache")]);
    let device = recovery_updater::device::ProfileDevice::load(&fx.device).unwrap();
    let e = recovery_updater::app::wipe_data(&device).unwrap_err();
    assert_eq!(
        recovery_updater::error::HasCode::code(&e),
        recovery_updater::Code::WipeNotConfigured
    );
    assert!(untouched(&p[0]));
    let q = add_wipe(&fx, &[("userdata", "data")]);
    let device = recovery_updater::device::ProfileDevice::load(&fx.device).unwrap();
    recovery_updater::app::wipe_data(&device).unwrap();
    assert!(wiped(&q[0]) && untouched(&p[0]));
}

/// A data partition that cannot be opened: the wipe fails after the slot switch.
fn broken_data_wipe(fx: &Fixture) {
    let profile = fs::read_to_string(&fx.device).unwrap();
    fs::write(
        &fx.device,
        format!("{profile}\n[[wipe]]\nname = \"userdata\"\npath = \"missing/userdata.img\"\nrole = \"data\"\n"),
    )
    .unwrap();
}

#[test]
fn failed_wipe_after_the_switch_is_9115_with_the_new_version_recorded() {
    let fx = Fixture::new(SlotMode::Ab);
    broken_data_wipe(&fx);
    let pkg = fx.pack(&fx.spec_with("wipe_data = true"), &fx.key, "wipe.zip");
    let (out, r) = fx.apply(&pkg);
    assert_eq!(r["code"], 9115, "{}", text(&out));
    assert_eq!(exit_code(&out), 115);
    let rec = last_install(&fx);
    assert_eq!(rec["code"], 9115);
    assert_eq!(rec["name"], "UPDATE_INSTALLED_WIPE_FAILED");
    assert_eq!(rec["to_version"], "1.1.0");
    assert_eq!(rec["target_slot"], "b");
    let msg = rec["message"].as_str().unwrap();
    assert!(
        msg.contains("1.1.0 is installed in slot b") && msg.contains("userdata"),
        "{msg}"
    );
    // The slot switch happened: misc makes b the active slot.
    let bc: [u8; 32] = fx.misc()[2048..2080].try_into().unwrap();
    let (bc, _) = recovery_updater::device::BootControl::decode(&bc);
    assert_eq!(bc.active(), recovery_updater::device::Slot::B);
}

#[test]
fn ota_command_install_then_failed_wipe_is_9115() {
    let fx = Fixture::new(SlotMode::Ab);
    broken_data_wipe(&fx);
    let pkg = fx.good_package();
    command(
        &fx,
        &format!("--update_package={}\n--wipe_data\n", pkg.display()),
    );
    let (out, v) = init(&fx, "");
    assert_eq!(v["code"], 9115, "{}", text(&out));
    let rec = last_install(&fx);
    assert_eq!(rec["code"], 9115);
    assert_eq!(rec["to_version"], "1.1.0");
    assert_eq!(rec["target_slot"], "b");
    assert!(rec["manifest_sha256"].is_string());
}

/// Fills `root` with a folder of `files` empty files that the directory lists before
/// `update.zip` (renaming the folder and moving the package out and back until it does: the
/// order is the filesystem's, creation order or a name hash).
fn big_folder_listed_first(root: &Path, files: usize) {
    let mut big = root.join("DCIM");
    fs::create_dir_all(&big).unwrap();
    for i in 0..files {
        fs::write(big.join(format!("IMG_{i:05}.JPG")), b"").unwrap();
    }
    let aside = root.parent().unwrap().join("update.zip.aside");
    for n in 0.. {
        let l: Vec<String> = fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let pos = |x: &str| l.iter().position(|e| e == x).unwrap();
        if pos(&big.file_name().unwrap().to_string_lossy()) < pos("update.zip") {
            return;
        }
        assert!(n < 200, "cannot get the folder listed first: {l:?}");
        let renamed = root.join(format!("DCIM{n}"));
        fs::rename(&big, &renamed).unwrap();
        big = renamed;
        fs::rename(root.join("update.zip"), &aside).unwrap();
        fs::rename(&aside, root.join("update.zip")).unwrap();
    }
}

#[test]
fn headless_finds_the_root_package_behind_a_camera_folder() {
    let fx = Fixture::new(SlotMode::Ab);
    let card = fx.dir.join("device/sdcard");
    fs::create_dir_all(&card).unwrap();
    fs::copy(fx.good_package(), card.join("update.zip")).unwrap();
    big_folder_listed_first(&card, 20_001);
    let (out, v) = init(&fx, "recovery.mode=headless");
    assert_eq!(v["success"], true, "{}", text(&out));
    assert_eq!(
        last_install(&fx)["package"],
        card.join("update.zip").display().to_string()
    );
}

#[test]
fn headless_keeps_the_first_failure_and_logs_every_attempt() {
    let fx = Fixture::new(SlotMode::Ab);
    let card = fx.dir.join("device/sdcard");
    fs::create_dir_all(card.join("zz")).unwrap();
    // At the root (tried first): signed by a key the device does not trust, 9013.
    let (other, _) = common::keygen(&fx.dir, "other", "ecdsa-p256");
    fs::copy(
        fx.pack(&fx.good_spec(), &other, "untrusted.zip"),
        card.join("update.zip"),
    )
    .unwrap();
    // In a folder (tried second): the manifest changed after signing, 9012.
    rewrite(&fx.good_package(), &card.join("zz/update.zip"), |entries| {
        let e = entries
            .iter_mut()
            .find(|e| e.name == "META-INF/update/manifest.json")
            .unwrap();
        let s = String::from_utf8(e.data.clone()).unwrap();
        e.data = s.replace("\"1.1.0\"", "\"9.1.0\"").into_bytes();
    });
    let before = fx.snapshot();
    let (out, v) = init(&fx, "recovery.mode=headless");
    assert_eq!(v["code"], 9013, "{}", text(&out));
    let rec = last_install(&fx);
    assert_eq!(rec["code"], 9013, "{rec:#}");
    assert_eq!(
        rec["package"],
        card.join("update.zip").display().to_string()
    );
    let warnings = rec["warnings"].to_string();
    assert!(
        warnings.contains("error 9013") && warnings.contains("error 9012"),
        "every attempt is listed: {warnings}"
    );
    assert!(text(&out).contains("error 9012"), "{}", text(&out));
    assert_eq!(fx.snapshot(), before);
}

/// Seconds since boot, as the init reads them.
fn uptime() -> u64 {
    let t = fs::read_to_string("/proc/uptime").unwrap();
    t.split('.').next().unwrap().parse().unwrap()
}

#[test]
fn headless_keeps_looking_for_a_stick_until_the_profile_deadline() {
    let fx = Fixture::new(SlotMode::Ab);
    let profile = fs::read_to_string(&fx.device).unwrap();
    // A deadline far enough away that only the package appearing ends the wait.
    fs::write(
        &fx.device,
        format!(
            "{profile}\n[init]\nstorage_wait_secs = {}\n",
            uptime() + 600
        ),
    )
    .unwrap();
    let pkg = fx.good_package();
    let mut child = bin()
        .arg("init")
        .arg("--device")
        .arg(&fx.device)
        .args(["--cmdline", "recovery.mode=headless"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let mut lines = stderr.lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("no package yet") {
            // The stick "appears" only now, after the first look found nothing.
            let card = fx.dir.join("device/sdcard");
            fs::create_dir_all(&card).unwrap();
            fs::copy(&pkg, card.join("update.zip.part")).unwrap();
            fs::rename(card.join("update.zip.part"), card.join("update.zip")).unwrap();
            break;
        }
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = child.wait_with_output().unwrap();
    let v = last_json(&out);
    assert_eq!(
        v["success"],
        true,
        "stderr:\n{}\n{}",
        seen.join("\n"),
        rest.join("\n")
    );
    assert_eq!(last_install(&fx)["result"], "success");
}
