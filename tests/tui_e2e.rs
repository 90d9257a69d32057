//! The recovery screen end to end: the real binary in a real terminal (tmux, 80x25) on a
//! simulated device, driven by keys (tmux send-keys) and by hardware key events (recorded
//! `input_event`s written into a FIFO given with `--input`), checking the screen text at every
//! step and the partitions afterwards.
//!
//! Waits poll `capture-pane` until the expected text shows or a generous deadline passes; no
//! fixed sleep decides a result. Each test has its own tmux server (`-L`), killed on drop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use recovery_updater::device::{Slot, SlotMode};
use recovery_updater::ui::tui::input::{InputEvent, KEY_POWER, KEY_VOLUMEDOWN};

const DEADLINE: Duration = Duration::from_secs(60);

fn bin_path() -> &'static str {
    env!("CARGO_BIN_EXE_recovery-updater")
}

/// A FIFO standing in for /dev/input/eventN.
fn fifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

/// Opens the FIFO for writing once the program has opened it for reading.
fn open_writer(path: &Path) -> fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    let t0 = Instant::now();
    loop {
        // O_NONBLOCK: fails with ENXIO instead of blocking while no reader has it open.
        match fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(f) => return f,
            Err(_) if t0.elapsed() < DEADLINE => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("the program never opened {}: {e}", path.display()),
        }
    }
}

/// A key press and release as a phone's gpio-keys driver reports them, with EV_SYN reports.
fn tap(out: &mut fs::File, t: &mut i64, code: u16) {
    let syn = |s: i64, us: i64| InputEvent {
        sec: s,
        usec: us,
        kind: 0,
        code: 0,
        value: 0,
    };
    let mut rec = Vec::new();
    for (dt, value) in [(0, 1), (120_000, 0)] {
        let at = *t + dt;
        let (s, us) = (at / 1_000_000, at % 1_000_000);
        rec.extend_from_slice(&InputEvent::key(s, us, code, value).encode());
        rec.extend_from_slice(&syn(s, us).encode());
    }
    *t += 1_000_000;
    out.write_all(&rec).unwrap();
}

#[test]
fn keyboard_walk_from_scan_to_success_then_partitions_hold_the_update() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    fs::copy(&pkg, fx.dir.join("device/sdcard/update.zip")).unwrap();
    let before = fx.snapshot();
    let keys_fifo = fx.dir.join("keys.fifo");
    fifo(&keys_fifo);
    let t = Tmux::start(
        "ok",
        &fx.dir,
        &format!(
            "{} tui --device {} --input {}",
            bin_path(),
            fx.device.display(),
            keys_fifo.display()
        ),
    );

    let home = t.wait_for(&["Apply update from storage", "Power off", "revB"]);
    assert!(home.contains("MPSS.DEMO.1.0.c3"), "{home}");
    assert!(home.contains("slot a active"), "{home}");
    assert!(home.contains("87%"), "{home}");

    t.keys(&["Enter"]);
    let list = t.wait_for(&["sdcard/update.zip", "Ready to install"]);
    assert!(list.contains("1.1.0"), "{list}");

    t.keys(&["Enter"]);
    let checks = t.wait_for(&["Every check passed", "> Continue <"]);
    for c in [
        "Signature",
        "Product",
        "Baseband",
        "Anti-rollback",
        "Battery",
    ] {
        assert!(
            checks
                .lines()
                .any(|l| l.contains("[ OK ]") && l.contains(c)),
            "{c} not passed:\n{checks}"
        );
    }
    // Nothing was written by looking at the package.
    assert_eq!(fx.snapshot(), before);

    t.keys(&["Enter"]);
    let confirm = t.wait_for(&["Install this update?", "> Cancel <"]);
    assert!(confirm.contains("1.0.0"), "{confirm}");
    assert!(confirm.contains("slot b"), "{confirm}");
    assert!(confirm.contains("Do not remove the SD card or power off"));

    t.keys(&["Down", "Enter"]);
    let done = t.wait_for(&["Update installed: 1.1.0", "Rebooting in"]);
    assert!(done.contains("Slot b starts on the next boot"), "{done}");
    // The progress screen was drawn on the way (the install of this small package is quicker
    // than a capture): its title, gauges and the committed warning are in the output stream.
    let stream = t.stream();
    for s in [
        "Installing",
        "Overall",
        "Write system",
        "Do not remove the SD card or power off",
    ] {
        assert!(stream.contains(s), "progress screen never showed {s:?}");
    }

    // Any key stops the automatic reboot.
    t.keys(&["Down"]);
    t.wait_for(&[
        "Automatic reboot stopped",
        "Reboot system now",
        "Back to main menu",
    ]);

    let after = fx.snapshot();
    for (img, part) in [("boot.img", "boot_b.img"), ("system.img", "system_b.img")] {
        let image = fs::read(fx.build(img)).unwrap();
        assert_eq!(
            &after[part][..image.len()],
            &image[..],
            "{part} holds {img}"
        );
    }
    for part in ["boot_a.img", "system_a.img", "vendor_a.img"] {
        assert_eq!(after[part], before[part], "{part} (running slot) untouched");
    }
    assert_eq!(
        after["vendor_b.img"], before["vendor_a.img"],
        "vendor copied from slot a"
    );
    assert_eq!(boot_control(&after["misc.img"]).active(), Slot::B);

    // The log viewer shows this install's log.
    t.keys(&["Down", "Enter"]);
    t.wait_for(&["Apply update from storage"]);
    t.keys(&["Down", "Down", "Enter"]);
    t.wait_for(&["last_log lines", "SUCCESS"]);
    t.keys(&["Escape"]);
    t.wait_for(&["Apply update from storage"]);

    // Reboot on a simulated device: the program says so and exits cleanly. The menu kept its
    // place on "View logs"; "Reboot system" is two below.
    t.keys(&["Down", "Down"]);
    t.wait_for(&["> Reboot system "]);
    t.keys(&["Enter"]);
    let end = t.wait_for(&["[exit status 0]"]);
    assert!(end.contains("reboot system requested"), "{end}");
}

#[test]
fn hardware_keys_walk_a_corrupt_package_to_its_code_screen_and_slot_a_still_boots() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    // Flip a byte inside boot.img's third chunk (boot.img is stored, so the byte is the data):
    // every check passes, and the chunk hash stops the write there.
    let off = data_offset(&pkg, "boot.img") + 2 * 65536 + 100;
    let mut data = fs::read(&pkg).unwrap();
    data[off as usize] ^= 0xff;
    fs::write(fx.dir.join("device/sdcard/update.zip"), &data).unwrap();
    let before = fx.snapshot();
    let keys_fifo = fx.dir.join("keys.fifo");
    fifo(&keys_fifo);
    let t = Tmux::start(
        "bad",
        &fx.dir,
        &format!(
            "{} tui --device {} --input {}",
            bin_path(),
            fx.device.display(),
            keys_fifo.display()
        ),
    );
    let home = t.wait_for(&["Apply update from storage"]);
    assert!(home.contains("Vol+/Vol-: move | Power: select"), "{home}");
    let mut keys = open_writer(&keys_fifo);
    let mut clock = 1_000_000_000i64;

    tap(&mut keys, &mut clock, KEY_POWER);
    t.wait_for(&["sdcard/update.zip", "Ready to install"]);
    tap(&mut keys, &mut clock, KEY_POWER);
    t.wait_for(&["Every check passed"]);
    tap(&mut keys, &mut clock, KEY_POWER);
    t.wait_for(&["Install this update?", "> Cancel <"]);
    tap(&mut keys, &mut clock, KEY_VOLUMEDOWN);
    t.wait_for(&["> Install <"]);
    tap(&mut keys, &mut clock, KEY_POWER);

    let screen = t.wait_for(&["E9030 IMAGE_CHUNK_HASH_MISMATCH", "What to do:"]);
    assert!(screen.contains("ERROR"), "{screen}");
    assert!(screen.contains("the device still boots slot a"), "{screen}");
    assert!(screen.contains("last_log"), "{screen}");

    let after = fx.snapshot();
    for part in ["boot_a.img", "system_a.img", "vendor_a.img"] {
        assert_eq!(after[part], before[part], "{part} (running slot) untouched");
    }
    // Only verified chunks reached slot b: what follows the bad chunk is as before.
    assert_eq!(
        &after["boot_b.img"][2 * 65536..],
        &before["boot_b.img"][2 * 65536..]
    );
    let bc = boot_control(&after["misc.img"]);
    assert_eq!(bc.active(), Slot::A);
    assert!(
        !bc.slot(Slot::B).bootable(),
        "the half-written slot stays unbootable"
    );

    // Power on "View log" opens the log of this failure.
    tap(&mut keys, &mut clock, KEY_POWER);
    t.wait_for(&["last_log lines", "FAILED: E9030"]);
}

fn pane_tty(t: &Tmux) -> String {
    let out = t
        .tmux()
        .args(["display-message", "-p", "-t", "main", "#{pane_tty}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn stty(tty: &str) -> String {
    let out = Command::new("stty")
        .args(["-F", tty, "-a"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn draws_on_a_tty_given_with_tty_without_a_controlling_terminal_and_follows_resizes() {
    let fx = Fixture::new(SlotMode::Ab);
    // A pane whose terminal nobody reads: it stands for /dev/tty1 on a device.
    let t = Tmux::start("tty", &fx.dir, "sleep 600");
    let tty = pane_tty(&t);
    assert!(tty.starts_with("/dev/"), "{tty}");
    let cooked = stty(&tty);
    // setsid: a new session with no controlling terminal, as a recovery init has none.
    let mut child = Command::new("setsid")
        .arg(bin_path())
        .args(["tui", "--device"])
        .arg(&fx.device)
        .args(["--tty", &tty])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let home = t.wait_for(&["Apply update from storage", "┌ Device", "Enter: select"]);
    assert!(home.contains("Up/Down: move | Enter: select"), "{home}");
    assert!(
        !stty(&tty).contains(" icanon"),
        "raw mode while the screen is up"
    );

    // A smaller screen: the compact layout; and back.
    let resize = |w: &str, h: &str| {
        let out = t
            .tmux()
            .args(["resize-window", "-t", "main", "-x", w, "-y", h])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    };
    resize("40", "12");
    let small = t.wait_for(&["Up/Dn: move | Enter: OK", "> Apply update from storage"]);
    assert!(small.contains("bat 87%"), "{small}");
    resize("80", "25");
    t.wait_for(&["┌ Device", "Up/Down: move | Enter: select"]);

    t.keys(&["Down", "Down", "Down", "Down"]);
    t.wait_for(&["> Reboot system "]);
    t.keys(&["Enter"]);
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < DEADLINE, "the program did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{status:?} {err}");
    assert!(err.contains("reboot system requested"), "{err}");
    // The terminal is back as it was.
    assert_eq!(stty(&tty), cooked);

    // SIGTERM on the main menu: a quit request; the terminal is restored before the exit.
    let mut child = Command::new("setsid")
        .arg(bin_path())
        .args(["tui", "--device"])
        .arg(&fx.device)
        .args(["--tty", &tty])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    t.wait_for(&["Apply update from storage", "┌ Device"]);
    assert_ne!(stty(&tty), cooked);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < DEADLINE, "SIGTERM did not end the program");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    assert_eq!(stty(&tty), cooked);
}

#[test]
fn a_package_for_another_baseband_stops_at_the_pre_check_with_its_code() {
    let fx = Fixture::new(SlotMode::Ab);
    let spec = fx.spec_with("basebands = [\"MPSS.OTHER.2.*\"]");
    let pkg = fx.pack(&spec, &fx.key, "other.zip");
    fs::copy(&pkg, fx.dir.join("device/sdcard/update.zip")).unwrap();
    let before = fx.snapshot();
    let t = Tmux::start(
        "baseband",
        &fx.dir,
        &format!("{} tui --device {}", bin_path(), fx.device.display()),
    );
    t.wait_for(&["Apply update from storage"]);
    t.keys(&["Enter"]);
    let list = t.wait_for(&["sdcard/update.zip", "E9040 BASEBAND_MISMATCH"]);
    assert!(
        list.lines()
            .any(|l| l.contains("sdcard/update.zip") && l.trim_end().ends_with("NO")),
        "not marked as not meant for this device:\n{list}"
    );
    t.keys(&["Enter"]);
    let checks = t.wait_for(&["Cannot install: E9040 BASEBAND_MISMATCH", "> Show error <"]);
    assert!(
        checks
            .lines()
            .any(|l| l.contains("[FAIL]") && l.contains("Baseband")),
        "{checks}"
    );
    assert!(checks.contains("Nothing was written."), "{checks}");
    t.keys(&["Enter"]);
    let code = t.wait_for(&[
        "E9040 BASEBAND_MISMATCH",
        "What to do:",
        "> Back to main menu",
    ]);
    assert!(
        code.contains("Nothing was written: the device is unchanged."),
        "{code}"
    );
    assert_eq!(fx.snapshot(), before);
    assert!(!fx.state_file("last_install.json").exists());
}

#[test]
fn demo_tui_opens_the_screen_on_the_simulated_device() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start(
        "demo",
        dir.path(),
        &format!(
            "{} demo --tui --dir {}",
            bin_path(),
            dir.path().join("d").display()
        ),
    );
    t.wait_for(&[
        "Apply update from storage",
        "demo-phone",
        "MPSS.DEMO.1.0.c3",
    ]);
    t.keys(&["Enter"]);
    t.wait_for(&["sdcard/update.zip", "Ready to install"]);
    // Ctrl-C outside an install leaves the screen.
    t.keys(&["C-c"]);
    t.wait_for(&["[exit status 0]"]);
}

#[test]
fn a_panic_restores_the_terminal_and_leaves_the_internal_error_code_on_screen() {
    let fx = Fixture::new(SlotMode::Ab);
    let t = Tmux::start(
        "panic",
        &fx.dir,
        &format!(
            "{} tui --device {} --test-panic",
            bin_path(),
            fx.device.display()
        ),
    );
    let screen = t.wait_for(&["E9099 INTERNAL_ERROR", "[exit status 99]"]);
    assert!(screen.contains("--test-panic"), "{screen}");
    assert!(
        screen.contains("What to do: Restart into recovery"),
        "{screen}"
    );
    let tty = pane_tty(&t);
    let now = stty(&tty);
    assert!(now.contains(" icanon") && now.contains(" echo "), "{now}");
}
