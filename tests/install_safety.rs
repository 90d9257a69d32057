//! Install safety through the real binary (issue 9, items 2, 3, 4 and 13): partitions shared
//! by both A/B slots, targets that resolve to something that must not be written, the rollback
//! index that cannot be saved, and two installs at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use common::*;
use recovery_updater::demo::{image_bytes, SimDevice};
use recovery_updater::device::{boot_control, BootControl, Slot, SlotMode};

fn bc(misc: &[u8]) -> BootControl {
    let off = boot_control::OFFSET as usize;
    let raw: [u8; 32] = misc[off..off + 32].try_into().unwrap();
    BootControl::decode(&raw).0
}

fn rollback_index(fx: &Fixture) -> String {
    fs::read_to_string(fx.state_file("rollback_index"))
        .unwrap()
        .trim()
        .to_string()
}

/// Adds "modem", a partition both slots share (its path has no `{slot}`, so it is written in
/// place on this A/B device): a 2 MiB partition holding old data, and a new 1.2 MiB image.
fn with_modem(fx: &Fixture) {
    let mut toml = fs::read_to_string(&fx.device).unwrap();
    toml.push_str("\n[[partition]]\nname = \"modem\"\npath = \"parts/modem.img\"\n");
    fs::write(&fx.device, toml).unwrap();
    let mut old = image_bytes(77, 1024 * KIB, false);
    old.resize(2048 * KIB as usize, 0);
    fs::write(fx.part("modem.img"), old).unwrap();
    fs::write(
        fx.build("modem.img"),
        image_bytes(78, 1200 * KIB + 5, false),
    )
    .unwrap();
}

/// A spec for version `version` with these images (partition, file), all stored, in this
/// order, with `chunk_size`.
fn spec(fx: &Fixture, name: &str, version: &str, images: &[(&str, &str)], chunk: u64) -> PathBuf {
    let mut s = format!(
        "products = [\"demo-phone\"]\nversion = \"{version}\"\nrollback_index = 3\n\
         hardware_revisions = [\"revA\", \"revB\"]\nbasebands = [\"MPSS.DEMO.1.*\"]\n\n"
    );
    for (partition, file) in images {
        s.push_str(&format!(
            "[[image]]\npartition = \"{partition}\"\nfile = \"{file}\"\ncompression = \"stored\"\nchunk_size = {chunk}\n\n"
        ));
    }
    let p = fx.build(name);
    fs::write(&p, s).unwrap();
    p
}

/// Flips one byte of the stored entry made from build/`entry`, `from_end` bytes before its end.
fn corrupt_near_end(fx: &Fixture, pkg: &Path, entry: &str, from_end: u64) {
    let size = fs::metadata(fx.build(entry)).unwrap().len();
    let off = data_offset(pkg, entry) + size - from_end;
    let mut data = fs::read(pkg).unwrap();
    data[off as usize] ^= 0x5a;
    fs::write(pkg, data).unwrap();
}

/// Names of the partition files that differ between two snapshots (the bytes are too many to
/// print).
fn changed(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

/// Applies `pkg` and expects `code` with every partition and misc unchanged.
fn expect_untouched(fx: &Fixture, pkg: &Path, code: u16) -> serde_json::Value {
    let before = fx.snapshot();
    let index = rollback_index(fx);
    let (out, result) = fx.apply(pkg);
    assert_eq!(result["code"], code, "{}", text(&out));
    assert_eq!(exit_code(&out), i32::from(code - 9000));
    assert_eq!(
        changed(&before, &fx.snapshot()),
        Vec::<String>::new(),
        "changed: {}",
        text(&out)
    );
    assert_eq!(rollback_index(fx), index);
    result
}

// ---- item 2: A/B with a partition both slots share ----

/// The modem's last chunk is damaged: the whole package is verified before the modem's first
/// write, so nothing at all is written (before: the modem was written up to the bad chunk).
#[test]
fn shared_partition_with_a_bad_last_chunk_is_never_written() {
    let fx = Fixture::new(SlotMode::Ab);
    with_modem(&fx);
    let s = spec(
        &fx,
        "m.toml",
        "1.1.0",
        &[("modem", "modem.img"), ("boot", "boot.img")],
        65536,
    );
    let pkg = fx.pack(&s, &fx.key, "update.zip");
    corrupt_near_end(&fx, &pkg, "modem.img", 1);
    let r = expect_untouched(&fx, &pkg, 9030);
    assert!(r["message"].as_str().unwrap().contains("modem"), "{r}");
    assert_eq!(bc(&fx.misc()).active(), Slot::A);
}

/// A good modem and a damaged system image: the modem stays old and the old slot stays active
/// (before: the modem, first in the package, was written whole, then the system failed).
#[test]
fn good_shared_partition_then_bad_slot_image_leaves_both_old() {
    let fx = Fixture::new(SlotMode::Ab);
    with_modem(&fx);
    let s = spec(
        &fx,
        "m.toml",
        "1.1.0",
        &[
            ("modem", "modem.img"),
            ("boot", "boot.img"),
            ("system", "system.img"),
        ],
        65536,
    );
    let pkg = fx.pack(&s, &fx.key, "update.zip");
    corrupt_near_end(&fx, &pkg, "system.img", 10);
    let modem_before = fs::read(fx.part("modem.img")).unwrap();
    expect_untouched(&fx, &pkg, 9030);
    assert!(fs::read(fx.part("modem.img")).unwrap() == modem_before);
    let b = bc(&fx.misc());
    assert_eq!(b.active(), Slot::A);
    assert!(b.slot(Slot::A).successful_boot);
}

/// Partitions in the order the write phase reports them.
fn write_order(stdout: &str) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["event"] == "progress" && v["phase"] == "write" {
            let p = v["partition"].as_str().unwrap().to_string();
            if order.last() != Some(&p) {
                order.push(p);
            }
        }
    }
    order
}

/// Killed while writing the shared modem (after the whole slot was written): the old slot
/// stays active, a later package that does not rewrite the modem is refused instead of throwing
/// the journal away, and the same package finishes the install exactly like a clean one.
#[test]
fn interrupted_mixed_install_is_finished_not_forgotten() {
    let fx = Fixture::new(SlotMode::Ab);
    with_modem(&fx);
    // The modem first in the package: it is still written last, after the inactive slot.
    let s = spec(
        &fx,
        "m.toml",
        "1.1.0",
        &[
            ("modem", "modem.img"),
            ("boot", "boot.img"),
            ("system", "system.img"),
        ],
        4096,
    );
    let pkg = fx.pack(&s, &fx.key, "update.zip");
    let device_dir = fx.dir.join("device");
    let initial = save_tree(&device_dir);
    let (out, r) = fx.apply(&pkg);
    assert_eq!(r["code"], 0, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        write_order(&stdout),
        ["boot", "system", "vendor", "modem"],
        "slot first, shared last"
    );
    let verify = stdout.find("\"phase\":\"verify\"").expect("verify pass");
    assert!(verify < stdout.find("\"phase\":\"write\"").unwrap());
    let clean = fx.snapshot();
    restore_tree(&device_dir, &initial);

    let mut child = spawn_apply(&fx, &pkg);
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let ev: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if ev["event"] == "progress"
            && ev["phase"] == "write"
            && ev["partition"] == "modem"
            && ev["image_done"].as_u64().unwrap() > 0
        {
            child.kill().unwrap(); // SIGKILL: a power cut for the journal's purposes
            break;
        }
    }
    assert!(child.wait().unwrap().code().is_none(), "killed mid-modem");
    let b = bc(&fx.misc());
    assert_eq!(b.active(), Slot::A, "no switch before the modem is done");
    assert!(!b.slot(Slot::B).bootable());
    let j: serde_json::Value =
        serde_json::from_slice(&fs::read(fx.state_file("journal.json")).unwrap()).unwrap();
    let modem = j["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["partition"] == "modem")
        .unwrap();
    assert_eq!(modem["started"], true, "{j}");
    assert_eq!(modem["in_place"], true, "{j}");

    // Another package that leaves the half-written modem alone must not forget it.
    let other = fx.pack(
        &spec(
            &fx,
            "o.toml",
            "1.2.0",
            &[("boot", "boot.img"), ("system", "system.img")],
            65536,
        ),
        &fx.key,
        "other.zip",
    );
    let r = expect_untouched(&fx, &other, 9056);
    let msg = r["message"].as_str().unwrap();
    assert!(msg.contains("modem") && msg.contains("1.1.0"), "{msg}");
    assert!(fx.state_file("journal.json").exists(), "journal kept");

    let (out, r) = fx.apply(&pkg);
    assert_eq!(r["code"], 0, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("resuming an interrupted update"),
        "{}",
        text(&out)
    );
    assert_eq!(
        changed(&clean, &fx.snapshot()),
        Vec::<String>::new(),
        "resumed install differs from a clean one"
    );
    assert_eq!(bc(&fx.misc()).active(), Slot::B);
    assert!(!fx.state_file("journal.json").exists());
}

// ---- item 3: a target that resolves to the active slot, misc or the state ----

/// boot_b.img is a symlink to boot_a.img (as /dev/block/by-name entries are symlinks): writing
/// "slot b" would overwrite the running slot (before: exit 0, boot_a overwritten).
#[test]
fn inactive_slot_symlinked_to_the_active_slot_is_refused() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    fs::remove_file(fx.part("boot_b.img")).unwrap();
    std::os::unix::fs::symlink("boot_a.img", fx.part("boot_b.img")).unwrap();
    let r = expect_untouched(&fx, &pkg, 9057);
    assert_eq!(r["name"], "TARGET_IS_PROTECTED");
    let msg = r["message"].as_str().unwrap();
    assert!(
        msg.contains("boot_b.img") && msg.contains("active slot a"),
        "{msg}"
    );
    let rec: serde_json::Value =
        serde_json::from_slice(&fs::read(fx.state_file("last_install.json")).unwrap()).unwrap();
    assert_eq!(rec["code"], 9057);
}

/// system_b.img is a hard link to system_a.img: one inode under two names.
#[test]
fn inactive_slot_hard_linked_to_the_active_slot_is_refused() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    fs::remove_file(fx.part("system_b.img")).unwrap();
    fs::hard_link(fx.part("system_a.img"), fx.part("system_b.img")).unwrap();
    let r = expect_untouched(&fx, &pkg, 9057);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("system of the active slot a"),
        "{r}"
    );
}

/// A copied partition (vendor, not in the package) whose slot-b path is the active one.
#[test]
fn copy_target_linked_to_the_active_slot_is_refused() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    fs::remove_file(fx.part("vendor_b.img")).unwrap();
    std::os::unix::fs::symlink("vendor_a.img", fx.part("vendor_b.img")).unwrap();
    expect_untouched(&fx, &pkg, 9057);
}

/// A shared partition whose path leads to misc, the slot control: writing it would destroy the
/// boot state.
#[test]
fn target_resolving_to_misc_is_refused() {
    let fx = Fixture::new(SlotMode::Ab);
    let mut toml = fs::read_to_string(&fx.device).unwrap();
    toml.push_str("\n[[partition]]\nname = \"modem\"\npath = \"parts/modem.img\"\n");
    fs::write(&fx.device, toml).unwrap();
    std::os::unix::fs::symlink("misc.img", fx.part("modem.img")).unwrap();
    fs::write(fx.build("modem.img"), image_bytes(5, 16 * KIB, false)).unwrap();
    let s = spec(&fx, "m.toml", "1.1.0", &[("modem", "modem.img")], 4096);
    let pkg = fx.pack(&s, &fx.key, "update.zip");
    let r = expect_untouched(&fx, &pkg, 9057);
    assert!(r["message"].as_str().unwrap().contains("misc"), "{r}");
}

/// In place: a partition path that is a link to a file of the recovery state (here the
/// installed-version file's inode under the partition's name).
#[test]
fn target_resolving_to_a_state_file_is_refused() {
    let fx = Fixture::new(SlotMode::Single);
    let mut toml = fs::read_to_string(&fx.device).unwrap();
    toml.push_str("\n[[partition]]\nname = \"modem\"\npath = \"parts/modem.img\"\n");
    fs::write(&fx.device, toml).unwrap();
    // A state file big enough for the image, so only its identity can refuse it.
    let state_file = fx.state_file("journal.json");
    fs::write(&state_file, vec![b' '; 32 * 1024]).unwrap();
    fs::hard_link(&state_file, fx.part("modem.img")).unwrap();
    fs::write(fx.build("modem.img"), image_bytes(5, 16 * KIB, false)).unwrap();
    let s = spec(&fx, "m.toml", "1.1.0", &[("modem", "modem.img")], 4096);
    let pkg = fx.pack(&s, &fx.key, "update.zip");
    let r = expect_untouched(&fx, &pkg, 9057);
    assert!(r["message"].as_str().unwrap().contains("state"), "{r}");
}

// ---- item 4: the rollback index ----

/// The index cannot be saved (its temporary file is a link to /dev/full: a real ENOSPC):
/// refused with 9055 before anything is written (before: installed, exit 0, index left at 2).
#[test]
fn rollback_index_that_cannot_be_saved_is_found_before_writing() {
    for mode in [SlotMode::Ab, SlotMode::Single] {
        let fx = Fixture::new(mode);
        let pkg = fx.good_package();
        std::os::unix::fs::symlink("/dev/full", fx.state_file(".rollback_index.tmp")).unwrap();
        let r = expect_untouched(&fx, &pkg, 9055);
        assert!(
            r["message"].as_str().unwrap().contains("rollback_index"),
            "{mode:?}: {r}"
        );
        assert!(!fx.state_file("journal.json").exists());
    }
}

/// The index store starts failing after the pre-check (the /dev/full link appears once the
/// install is committed): the new slot is active, but the result is 9058, not success; the same
/// package run again only saves the index.
#[test]
fn rollback_index_lost_after_the_switch_is_not_a_success() {
    let fx = Fixture::with(SimDevice::default());
    let s = spec(
        &fx,
        "f.toml",
        "1.1.0",
        &[("boot", "boot.img"), ("system", "system.img")],
        4096,
    );
    let pkg = fx.pack(&s, &fx.key, "update.zip");
    let tmp = fx.state_file(".rollback_index.tmp");
    let mut child = spawn_apply(&fx, &pkg);
    let mut last = serde_json::Value::Null;
    let mut linked = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let ev: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if !linked && ev["event"] == "committed" {
            std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
            linked = true;
        }
        last = ev;
    }
    let status = child.wait().unwrap();
    assert!(linked);
    assert_eq!(status.code(), Some(58), "{last}");
    assert_eq!(last["event"], "result");
    assert_eq!(last["code"], 9058, "{last}");
    assert_eq!(last["name"], "ROLLBACK_INDEX_NOT_SAVED");
    assert_ne!(last["result"], "success");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("1.1.0 is installed and active"),
        "{last}"
    );
    let rec: serde_json::Value =
        serde_json::from_slice(&fs::read(fx.state_file("last_install.json")).unwrap()).unwrap();
    assert_eq!(rec["code"], 9058);
    assert_eq!(bc(&fx.misc()).active(), Slot::B, "the new slot is active");
    assert_eq!(rollback_index(&fx), "2");
    let j: serde_json::Value =
        serde_json::from_slice(&fs::read(fx.state_file("journal.json")).unwrap()).unwrap();
    assert_eq!(j["stage"], "installed");

    // Space is back: the same package only saves the index (no rewrite, no second switch).
    fs::remove_file(&tmp).unwrap();
    let before = fx.snapshot();
    let (out, r) = fx.apply(&pkg);
    assert_eq!(r["code"], 0, "{}", text(&out));
    assert_eq!(r["bytes_written"], 0);
    assert_eq!(rollback_index(&fx), "3");
    assert_eq!(changed(&before, &fx.snapshot()), Vec::<String>::new());
    assert!(!fx.state_file("journal.json").exists());
}

// ---- item 13: one install at a time ----

/// Another install holds the state directory's lock: `apply` fails at once with 9059 and
/// changes nothing, not even the last result or log of the running install.
#[test]
fn second_install_while_one_runs_is_refused() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let dir = fs::File::open(fx.dir.join("device/state")).unwrap();
    // SAFETY: flock on a descriptor we own; held until `dir` is dropped.
    let rc = unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(rc, 0);
    let r = expect_untouched(&fx, &pkg, 9059);
    assert_eq!(r["name"], "INSTALL_IN_PROGRESS");
    assert!(!fx.state_file("last_install.json").exists());
    assert!(!fx.state_file("last_log").exists());
    assert!(!fx.state_file("journal.json").exists());

    drop(dir);
    let (out, r) = fx.apply(&pkg);
    assert_eq!(r["code"], 0, "{}", text(&out));
}
