//! The command line's edges through the real binary: paths that must not block (a FIFO given
//! as a package, key, signature, profile, fact file or OTA command), `--json` runs that fail
//! before anything starts, and the pre-check screen's log.
//!
//! A run that could hang is spawned under a watchdog: it gets a generous bound and is killed
//! (and the test failed) if it is still running then. That detects a hang; it measures nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{bin, exit_code, run, text, Fixture, Tmux};
use recovery_updater::device::SlotMode;

/// Far longer than any of these runs takes; only a hang reaches it.
const HANG: Duration = Duration::from_secs(60);

fn mkfifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

/// Runs `cmd`, killing it and failing the test if it is still running after [`HANG`].
fn run_watched(cmd: &mut Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn recovery-updater");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(HANG) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            panic!("{cmd:?} still running after {HANG:?}: it hangs");
        }
    }
}

/// The result of a `--json` run: every stdout line is JSON, exactly one is the result, and it
/// is the last.
fn json_result(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}\n{}", text(out)))
        })
        .collect();
    let results = lines.iter().filter(|v| v["event"] == "result").count();
    assert_eq!(results, 1, "one result line expected\n{}", text(out));
    let last = lines.last().unwrap().clone();
    assert_eq!(last["event"], "result", "{}", text(out));
    assert_eq!(
        last["code"].as_u64().map(|c| c.saturating_sub(9000)),
        Some(exit_code(out) as u64),
        "the result line carries the exit status's code\n{}",
        text(out)
    );
    last
}

fn device_arg<'a>(cmd: &'a mut Command, device: &Path) -> &'a mut Command {
    cmd.arg("--device").arg(device)
}

// ---- Item 5: nothing named by the user blocks the updater --------------------------------

#[test]
fn apply_of_a_fifo_ends_with_9009_and_writes_nothing() {
    let fx = Fixture::new(SlotMode::Ab);
    let fifo = fx.dir.join("update.zip");
    mkfifo(&fifo);
    let before = fx.snapshot();
    let out = run_watched(
        device_arg(bin().arg("apply").arg(&fifo), &fx.device).args(["--yes", "--json"]),
    );
    let r = json_result(&out);
    assert_eq!(r["code"], 9009, "{}", text(&out));
    assert_eq!(r["name"], "PACKAGE_NOT_A_FILE");
    assert!(
        r["message"].as_str().unwrap().contains("FIFO"),
        "{}",
        text(&out)
    );
    assert_eq!(exit_code(&out), 9);
    assert_eq!(fx.snapshot(), before);
    let rec: serde_json::Value =
        serde_json::from_slice(&fs::read(fx.state_file("last_install.json")).unwrap()).unwrap();
    assert_eq!(rec["code"], 9009);
}

#[test]
fn verify_of_a_fifo_ends_with_9009() {
    let fx = Fixture::new(SlotMode::Ab);
    let fifo = fx.dir.join("update.zip");
    mkfifo(&fifo);
    let out = run_watched(device_arg(bin().arg("verify").arg(&fifo), &fx.device).arg("--json"));
    assert_eq!(json_result(&out)["code"], 9009, "{}", text(&out));
}

#[test]
fn inspect_of_a_fifo_ends_with_9009() {
    let fx = Fixture::new(SlotMode::Ab);
    let fifo = fx.dir.join("update.zip");
    mkfifo(&fifo);
    let out = run_watched(bin().arg("inspect").arg(&fifo).arg("--key").arg(&fx.public));
    assert_eq!(exit_code(&out), 9, "{}", text(&out));
    assert!(
        text(&out).contains("error 9009: PACKAGE_NOT_A_FILE"),
        "{}",
        text(&out)
    );
}

#[test]
fn sign_of_a_fifo_ends_with_9009() {
    let fx = Fixture::new(SlotMode::Ab);
    let fifo = fx.dir.join("update.zip");
    mkfifo(&fifo);
    let out = run_watched(bin().arg("sign").arg(&fifo).arg("--key").arg(&fx.key));
    assert_eq!(exit_code(&out), 9, "{}", text(&out));
    assert!(text(&out).contains("error 9009"), "{}", text(&out));
    assert!(fifo.exists());
}

#[test]
fn sign_with_a_fifo_as_signature_ends_with_9011() {
    let fx = Fixture::new(SlotMode::Ab);
    let unsigned = fx.dir.join("unsigned.zip");
    let out = run(bin()
        .arg("pack")
        .arg("--spec")
        .arg(fx.good_spec())
        .arg("--unsigned")
        .arg("--out")
        .arg(&unsigned));
    assert!(out.status.success(), "{}", text(&out));
    let before = fs::read(&unsigned).unwrap();
    let sig = fx.dir.join("manifest.sig");
    mkfifo(&sig);
    let out = run_watched(
        bin()
            .arg("sign")
            .arg(&unsigned)
            .arg("--signature")
            .arg(&sig),
    );
    assert_eq!(exit_code(&out), 11, "{}", text(&out));
    assert!(text(&out).contains("FIFO"), "{}", text(&out));
    assert_eq!(
        fs::read(&unsigned).unwrap(),
        before,
        "the package is unchanged"
    );
}

#[test]
fn inspect_with_a_fifo_as_key_ends_with_9071() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let key = fx.dir.join("release.pub");
    mkfifo(&key);
    let out = run_watched(bin().arg("inspect").arg(&pkg).arg("--key").arg(&key));
    assert_eq!(exit_code(&out), 71, "{}", text(&out));
    assert!(text(&out).contains("error 9071"), "{}", text(&out));
}

#[test]
fn verify_with_a_fifo_as_profile_ends_with_9060() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let profile = fx.dir.join("device.toml");
    mkfifo(&profile);
    let out = run_watched(device_arg(bin().arg("verify").arg(&pkg), &profile).arg("--json"));
    assert_eq!(json_result(&out)["code"], 9060, "{}", text(&out));
}

#[test]
fn a_fifo_as_fact_file_ends_with_9026() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    // The profile reads the hardware revision from sys/hw_revision (a sysfs file on a device).
    let fact = fx.dir.join("device/sys/hw_revision");
    fs::remove_file(&fact).unwrap();
    mkfifo(&fact);
    let before = fx.snapshot();
    let out =
        run_watched(device_arg(bin().arg("apply").arg(&pkg), &fx.device).args(["--yes", "--json"]));
    let r = json_result(&out);
    assert_eq!(r["code"], 9026, "{}", text(&out));
    assert!(r["message"].as_str().unwrap().contains("FIFO"), "{r}");
    assert_eq!(fx.snapshot(), before);
}

#[test]
fn a_directory_or_device_node_as_package_ends_with_9009() {
    let fx = Fixture::new(SlotMode::Ab);
    for path in [fx.dir.clone(), PathBuf::from("/dev/null")] {
        let out = run_watched(device_arg(bin().arg("verify").arg(&path), &fx.device).arg("--json"));
        let r = json_result(&out);
        assert_eq!(r["code"], 9009, "{}: {}", path.display(), text(&out));
    }
}

fn init(fx: &Fixture) -> Output {
    run_watched(
        bin()
            .arg("init")
            .arg("--device")
            .arg(&fx.device)
            .args(["--cmdline", ""]),
    )
}

fn init_result(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().expect("a result line")).unwrap()
}

#[test]
fn ota_command_naming_a_fifo_ends_with_9009_and_is_cleared() {
    let fx = Fixture::new(SlotMode::Ab);
    let fifo = fx.dir.join("update.zip");
    mkfifo(&fifo);
    let cmd = fx.state_file("command");
    fs::write(&cmd, format!("--update_package={}\n", fifo.display())).unwrap();
    let before = fx.snapshot();
    let out = init(&fx);
    let v = init_result(&out);
    assert_eq!(v["code"], 9009, "{}", text(&out));
    assert_eq!(
        v["action"], "reboot",
        "back to the system, not stuck in recovery"
    );
    assert!(!cmd.exists(), "the command must be cleared");
    assert_eq!(fx.snapshot(), before);
}

#[test]
fn ota_command_file_that_is_a_fifo_ends_with_9113_and_is_cleared() {
    let fx = Fixture::new(SlotMode::Ab);
    let cmd = fx.state_file("command");
    mkfifo(&cmd);
    let before = fx.snapshot();
    let out = init(&fx);
    let v = init_result(&out);
    assert_eq!(v["code"], 9113, "{}", text(&out));
    assert!(!cmd.exists(), "the command must be cleared");
    assert_eq!(fx.snapshot(), before);
}

// ---- Item 9: every `--json` run ends with one result line carrying the code -------------

#[test]
fn apply_json_without_yes_ends_with_9072() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let out = run(device_arg(bin().arg("apply").arg(&pkg), &fx.device).arg("--json"));
    let r = json_result(&out);
    assert_eq!(r["code"], 9072, "{}", text(&out));
    assert!(r["message"].as_str().unwrap().contains("--yes"), "{r}");
}

#[test]
fn json_runs_with_a_missing_profile_end_with_9060() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let missing = fx.dir.join("no-such-device.toml");
    for command in [&["apply", "--yes"][..], &["verify"]] {
        let out = run(device_arg(bin().args(command).arg(&pkg), &missing).arg("--json"));
        assert_eq!(
            json_result(&out)["code"],
            9060,
            "{command:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn json_runs_with_an_invalid_profile_end_with_9060() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let bad = fx.dir.join("bad-device.toml");
    fs::write(&bad, "product = [unclosed\n").unwrap();
    for command in [&["apply", "--yes"][..], &["verify"]] {
        let out = run(device_arg(bin().args(command).arg(&pkg), &bad).arg("--json"));
        assert_eq!(
            json_result(&out)["code"],
            9060,
            "{command:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn inspect_json_of_a_missing_package_ends_with_9001() {
    let fx = Fixture::new(SlotMode::Ab);
    let out = run(bin()
        .arg("inspect")
        .arg(fx.dir.join("no-such.zip"))
        .arg("--json"));
    assert_eq!(json_result(&out)["code"], 9001, "{}", text(&out));
}

#[test]
fn inspect_json_with_an_unreadable_key_ends_with_9071() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let out = run(bin()
        .arg("inspect")
        .arg(&pkg)
        .arg("--key")
        .arg(fx.dir.join("no-such.pub"))
        .arg("--json"));
    assert_eq!(json_result(&out)["code"], 9071, "{}", text(&out));
}

#[test]
fn inspect_json_of_a_good_package_is_one_result_line_with_code_0() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let out = run(bin()
        .arg("inspect")
        .arg(&pkg)
        .arg("--key")
        .arg(&fx.public)
        .arg("--json"));
    assert!(out.status.success(), "{}", text(&out));
    let r = json_result(&out);
    assert_eq!(r["code"], 0);
    assert_eq!(r["result"], "success");
    assert_eq!(r["signature"], "verified");
    assert_eq!(r["manifest"]["version"], "1.1.0");
}

#[test]
fn json_argument_errors_end_with_9072() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let pkg = pkg.to_str().unwrap();
    let device = fx.device.to_str().unwrap();
    let cases: [&[&str]; 6] = [
        // No package, no --device.
        &["apply", "--json"],
        &["verify", pkg, "--json"],
        &["inspect", "--json"],
        // An unknown option, before and after --json.
        &[
            "apply", pkg, "--device", device, "--yes", "--json", "--bogus",
        ],
        &["verify", "--bogus", pkg, "--device", device, "--json"],
        // --json where it does not belong.
        &["--json"],
    ];
    for args in cases {
        let out = run(bin().args(args));
        assert_eq!(exit_code(&out), 72, "{args:?}: {}", text(&out));
        let r = json_result(&out);
        assert_eq!(r["name"], "USAGE_ERROR", "{args:?}");
        assert!(!r["message"].as_str().unwrap().is_empty(), "{args:?}: {r}");
    }
    // Without --json an argument error keeps clap's text and prints nothing on stdout.
    let out = run(bin().args(["apply", "--bogus"]));
    assert_eq!(exit_code(&out), 72);
    assert!(out.stdout.is_empty(), "{}", text(&out));
}

// ---- Note: a failure on the pre-check screen writes last_log -----------------------------

#[test]
fn a_pre_check_failure_on_the_screen_writes_last_log() {
    let fx = Fixture::new(SlotMode::Ab);
    let spec = fx.spec_with("basebands = [\"MPSS.OTHER.2.*\"]");
    let pkg = fx.pack(&spec, &fx.key, "other.zip");
    fs::copy(&pkg, fx.dir.join("device/sdcard/update.zip")).unwrap();
    let before = fx.snapshot();
    let s = Tmux::start(
        "precheck-log",
        &fx.dir,
        &format!(
            "{} tui --device {}",
            env!("CARGO_BIN_EXE_recovery-updater"),
            fx.device.display()
        ),
    );
    s.wait_for(&["Apply update from storage"]);
    s.keys(&["Enter"]);
    s.wait_for(&["sdcard/update.zip", "E9040"]);
    // The list's own checks log nothing: only picking a package is a pre-check.
    assert!(!fx.state_file("last_log").exists());
    s.keys(&["Enter"]);
    s.wait_for(&["Cannot install: E9040 BASEBAND_MISMATCH"]);
    let log = fs::read_to_string(fx.state_file("last_log")).expect("last_log written");
    assert!(log.contains("sdcard/update.zip"), "{log}");
    assert!(log.contains("[FAIL] Baseband"), "{log}");
    assert!(log.contains("FAILED: E9040 BASEBAND_MISMATCH"), "{log}");
    assert!(log.contains("fix: "), "{log}");
    // No install was started: the last install's record is not replaced.
    assert!(!fx.state_file("last_install.json").exists());
    assert_eq!(fx.snapshot(), before);
}
