//! Power loss and I/O faults through the real binary.
//!
//! Kill tests: `apply --json` runs with its stdout on a pipe shrunk to one page; the test reads
//! events and sends SIGKILL as soon as it sees the chosen one (a phase, or a progress byte count),
//! so each kill lands "at least that far in" (the child can run ahead by at most a pipe-full of
//! events before it blocks). After every kill the device is checked (misc never makes a
//! half-written slot bootable, the rollback index never advances before the install is complete),
//! then apply runs again and the device must end byte-identical to a clean install.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use common::*;
use recovery_updater::device::{Slot, SlotMode};

/// A fixture whose images use 4 KiB chunks, so progress (and kills) are fine-grained.
fn fine_fixture(mode: SlotMode) -> (Fixture, PathBuf) {
    let fx = Fixture::new(mode);
    let spec = fx.spec(
        "fine.toml",
        "products = [\"demo-phone\"]\nversion = \"1.1.0\"\nrollback_index = 3\nhardware_revisions = [\"revA\", \"revB\"]\nbasebands = [\"MPSS.DEMO.1.*\"]",
        &[],
    );
    let mut s = fs::read_to_string(&spec).unwrap();
    for (partition, file, compression) in [
        ("boot", "boot.img", "stored"),
        ("system", "system.img", "deflate"),
    ] {
        s.push_str(&format!(
            "[[image]]\npartition = \"{partition}\"\nfile = \"{file}\"\ncompression = \"{compression}\"\nchunk_size = 4096\n\n"
        ));
    }
    fs::write(&spec, s).unwrap();
    let pkg = fx.pack(&spec, &fx.key, "update.zip");
    (fx, pkg)
}

/// Where to kill: the first event for which this returns true.
#[derive(Clone, Debug)]
enum KillAt {
    /// A `phase` event for this phase (or the `committed` event).
    Event(&'static str),
    /// A progress event of this phase with `done >= bytes`.
    Progress(&'static str, u64),
}

impl KillAt {
    fn hit(&self, ev: &serde_json::Value) -> bool {
        match self {
            KillAt::Event("committed") => ev["event"] == "committed",
            KillAt::Event(p) => ev["event"] == "phase" && ev["phase"] == *p,
            KillAt::Progress(p, n) => {
                ev["event"] == "progress" && ev["phase"] == *p && ev["done"].as_u64().unwrap() >= *n
            }
        }
    }
}

/// Runs apply and SIGKILLs it at `at`. Returns whether the kill happened (false: the install
/// finished first) and the events seen.
fn run_and_kill(fx: &Fixture, pkg: &Path, at: &KillAt) -> (bool, Vec<serde_json::Value>) {
    let mut child = spawn_apply(fx, pkg);
    let out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut killed = false;
    for line in BufReader::new(out).lines() {
        let Ok(line) = line else { break };
        let ev: serde_json::Value = serde_json::from_str(&line).unwrap();
        let hit = at.hit(&ev);
        seen.push(ev);
        if hit {
            child.kill().unwrap(); // SIGKILL
            killed = true;
            break;
        }
    }
    let status = child.wait().unwrap();
    if killed {
        // It may have exited on its own just before the signal.
        killed = status.code().is_none();
    }
    (killed, seen)
}

fn rollback_index(fx: &Fixture) -> u64 {
    fs::read_to_string(fx.state_file("rollback_index"))
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(0)
}

const SLOT_B: [&str; 3] = ["boot_b.img", "system_b.img", "vendor_b.img"];

/// Kill points spread over every phase and, by bytes, over every image.
fn kill_points(events: &[serde_json::Value], verify: bool, n_bytes: usize) -> Vec<KillAt> {
    let total = events.iter().find(|e| e["event"] == "plan").unwrap()["total_bytes"]
        .as_u64()
        .unwrap();
    let image_bytes = if verify { total / 2 } else { total };
    let mut points = vec![
        KillAt::Event("signature"),
        KillAt::Event("checks"),
        KillAt::Event("write"),
        KillAt::Event("committed"),
        KillAt::Event("flush"),
        KillAt::Event("record"),
    ];
    if verify {
        points.push(KillAt::Event("verify"));
        for i in 0..10 {
            points.push(KillAt::Progress("verify", image_bytes * i / 10));
        }
    } else {
        points.push(KillAt::Event("switch_slot"));
    }
    // Write progress: `done` counts the verify pass too in place.
    let base = if verify { image_bytes } else { 0 };
    for i in 0..n_bytes as u64 {
        points.push(KillAt::Progress(
            "write",
            base + image_bytes * i / n_bytes as u64,
        ));
    }
    // The first write event of every partition (boot, system, and copied ones).
    let mut parts: Vec<String> = Vec::new();
    for e in events {
        if e["event"] == "progress" && e["phase"] == "write" {
            let p = e["partition"].as_str().unwrap().to_string();
            if !parts.contains(&p) {
                parts.push(p);
                points.push(KillAt::Progress("write", e["done"].as_u64().unwrap()));
            }
        }
    }
    points
}

struct Report {
    kills: usize,
    by_phase: BTreeMap<String, usize>,
}

/// Kills the install at every point, checks invariants after the kill, re-runs it and compares
/// with the clean install.
fn kill_everywhere(mode: SlotMode, n_bytes: usize) -> Report {
    let (fx, pkg) = fine_fixture(mode);
    let device_dir = fx.dir.join("device");
    let initial = save_tree(&device_dir);
    let initial_parts = fx.snapshot();
    let initial_index = rollback_index(&fx);
    assert!(initial_index < 3);

    // The clean install, for reference.
    let (killed, events) = run_and_kill(&fx, &pkg, &KillAt::Event("never"));
    assert!(!killed);
    assert_eq!(events.last().unwrap()["code"], 0, "{events:?}");
    let clean = fx.snapshot();
    assert_eq!(rollback_index(&fx), 3);
    assert!(!fx.state_file("journal.json").exists(), "journal removed");

    let points = kill_points(&events, mode == SlotMode::Single, n_bytes);
    let mut report = Report {
        kills: 0,
        by_phase: BTreeMap::new(),
    };
    for at in &points {
        restore_tree(&device_dir, &initial);
        let (killed, seen) = run_and_kill(&fx, &pkg, at);
        if !killed {
            // It exited on its own before the signal landed: it must have succeeded.
            assert_eq!(fx.snapshot(), clean, "{at:?}: finished before the kill");
            continue;
        }
        report.kills += 1;
        let phase = seen
            .iter()
            .rev()
            .find(|e| e["event"] == "phase")
            .map(|e| e["phase"].as_str().unwrap().to_string())
            .unwrap_or_else(|| "open".into());
        *report.by_phase.entry(phase.clone()).or_default() += 1;

        let now = fx.snapshot();
        let complete = if mode == SlotMode::Ab {
            let b = decode_boot_control(&now["misc.img"]).0;
            // The bootloader may only ever boot slot b when slot b is completely written.
            let b_complete = SLOT_B.iter().all(|p| now[*p] == clean[*p]);
            if b.active() == Slot::B {
                assert!(b_complete, "{at:?} ({phase}): slot b active but incomplete");
            }
            if b.slot(Slot::B).bootable() {
                assert!(
                    b_complete || SLOT_B.iter().all(|p| now[*p] == initial_parts[*p]),
                    "{at:?} ({phase}): slot b bootable while half-written"
                );
            }
            for p in ["boot_a.img", "system_a.img", "vendor_a.img"] {
                assert_eq!(now[p], initial_parts[p], "{at:?}: active slot written");
            }
            b.active() == Slot::B && b_complete
        } else {
            now == clean
        };
        let index = rollback_index(&fx);
        if index != initial_index {
            assert!(
                complete,
                "{at:?} ({phase}): rollback index advanced before the install completed"
            );
        }

        let finished = !fx.state_file("journal.json").exists()
            && fs::read_to_string(fx.state_file("installed_version"))
                .is_ok_and(|v| v.trim() == "1.1.0");
        if finished {
            // Killed while recording the result: the install itself had completed.
            assert_eq!(now, clean, "{at:?}: finished but not identical");
            continue;
        }
        let (out, result) = fx.apply(&pkg);
        assert_eq!(
            result["code"],
            0,
            "{at:?} ({phase}): re-run failed\n{}",
            text(&out)
        );
        assert_eq!(
            fx.snapshot(),
            clean,
            "{at:?} ({phase}): after resume the device differs from a clean install"
        );
        assert_eq!(rollback_index(&fx), 3);
        assert!(!fx.state_file("journal.json").exists());
    }
    report
}

#[test]
fn ab_survives_sigkill_anywhere() {
    let r = kill_everywhere(SlotMode::Ab, 30);
    eprintln!("A/B: {} kills by phase {:?}", r.kills, r.by_phase);
    assert!(r.kills >= 25, "only {} kills landed", r.kills);
    for p in ["write", "flush", "switch_slot", "checks"] {
        assert!(
            r.by_phase.contains_key(p),
            "no kill in {p}: {:?}",
            r.by_phase
        );
    }
}

#[test]
fn in_place_survives_sigkill_anywhere() {
    let r = kill_everywhere(SlotMode::Single, 25);
    eprintln!("in place: {} kills by phase {:?}", r.kills, r.by_phase);
    assert!(r.kills >= 25, "only {} kills landed", r.kills);
    for p in ["verify", "write", "flush", "checks"] {
        assert!(
            r.by_phase.contains_key(p),
            "no kill in {p}: {:?}",
            r.by_phase
        );
    }
}

/// Kills an in-place install while it writes `partition`; returns the fixture and package.
fn half_written_in_place(partition: &str) -> (Fixture, PathBuf) {
    let (fx, pkg) = fine_fixture(SlotMode::Single);
    let mut child = spawn_apply(&fx, &pkg);
    let out = child.stdout.take().unwrap();
    for line in BufReader::new(out).lines() {
        let ev: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if ev["event"] == "progress"
            && ev["phase"] == "write"
            && ev["partition"] == partition
            && ev["image_done"].as_u64().unwrap() > 0
        {
            child.kill().unwrap();
            break;
        }
    }
    assert!(child.wait().unwrap().code().is_none(), "killed");
    let j: serde_json::Value =
        serde_json::from_slice(&fs::read(fx.state_file("journal.json")).unwrap()).unwrap();
    assert_eq!(j["stage"], "writing");
    (fx, pkg)
}

#[test]
fn in_place_interrupted_then_package_gone_names_the_package() {
    let (fx, pkg) = half_written_in_place("system");
    let moved = fx.dir.join("elsewhere.zip");
    fs::rename(&pkg, &moved).unwrap();
    let before = fx.snapshot();
    let (out, result) = fx.apply(&pkg);
    assert_eq!(result["code"], 9056, "{}", text(&out));
    assert_eq!(result["name"], "INTERRUPTED_UPDATE_NEEDS_SAME_PACKAGE");
    let msg = result["message"].as_str().unwrap();
    assert!(msg.contains("1.1.0") && msg.contains("update.zip"), "{msg}");
    assert!(result["fix"]
        .as_str()
        .unwrap()
        .contains("same update package"));
    assert_eq!(fx.snapshot(), before, "nothing written");
    assert!(fx.state_file("journal.json").exists(), "journal kept");

    // The same package back: it resumes and completes.
    fs::rename(&moved, &pkg).unwrap();
    let (out, result) = fx.apply(&pkg);
    assert_eq!(result["code"], 0, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("resuming an interrupted update"),
        "{}",
        text(&out)
    );
    assert!(
        stdout.contains("already on flash and matching their signed hashes were kept"),
        "resume skipped nothing: {}",
        text(&out)
    );
    let boot = fs::read(fx.build("boot.img")).unwrap();
    let system = fs::read(fx.build("system.img")).unwrap();
    let after = fx.snapshot();
    assert_eq!(&after["boot.img"][..boot.len()], &boot[..]);
    assert_eq!(&after["system.img"][..system.len()], &system[..]);
}

#[test]
fn in_place_interrupted_then_a_package_missing_a_touched_partition_is_refused() {
    let (fx, _pkg) = half_written_in_place("system");
    let spec = fx.spec(
        "bootonly.toml",
        "products = [\"demo-phone\"]\nversion = \"1.2.0\"\nrollback_index = 3",
        &[("boot", "boot.img", "stored")],
    );
    let other = fx.pack(&spec, &fx.key, "boot-only.zip");
    let before = fx.snapshot();
    let (out, result) = fx.apply(&other);
    assert_eq!(result["code"], 9056, "{}", text(&out));
    let msg = result["message"].as_str().unwrap();
    assert!(msg.contains("system") && msg.contains("1.1.0"), "{msg}");
    assert_eq!(fx.snapshot(), before);
}

#[test]
fn in_place_interrupted_then_a_different_package_rewriting_everything_is_accepted() {
    let (fx, _pkg) = half_written_in_place("boot");
    let other = fx.pack(&fx.spec_with("version = \"1.2.0\""), &fx.key, "newer.zip");
    let (out, result) = fx.apply(&other);
    assert_eq!(result["code"], 0, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("different package"));
    let after = fx.snapshot();
    let system = fs::read(fx.build("system.img")).unwrap();
    assert_eq!(&after["system.img"][..system.len()], &system[..]);
}

#[test]
fn ab_interrupted_then_different_package_discards_the_journal() {
    let (fx, pkg) = fine_fixture(SlotMode::Ab);
    let (killed, _) = run_and_kill(&fx, &pkg, &KillAt::Progress("write", 400 * 1024));
    assert!(killed);
    assert!(!decode_boot_control(&fx.misc()).0.slot(Slot::B).bootable());
    let other = fx.pack(&fx.spec_with("version = \"1.2.0\""), &fx.key, "newer.zip");
    let (out, result) = fx.apply(&other);
    assert_eq!(result["code"], 0, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("discarding the journal"));
    assert_eq!(decode_boot_control(&fx.misc()).0.active(), Slot::B);
    let system = fs::read(fx.build("system.img")).unwrap();
    assert_eq!(&fx.snapshot()["system_b.img"][..system.len()], &system[..]);
}

/// A resumed install does not trust the journal: a chunk it counts as written but that reads
/// back wrong is written again.
#[test]
fn resume_rewrites_chunks_that_read_back_wrong() {
    let (fx, pkg) = half_written_in_place("system");
    let j: serde_json::Value =
        serde_json::from_slice(&fs::read(fx.state_file("journal.json")).unwrap()).unwrap();
    let boot_done = j["images"][0]["chunks_done"].as_u64().unwrap();
    assert!(boot_done > 0, "{j}");
    // Corrupt a byte of boot's first chunk on "flash".
    let p = fx.part("boot.img");
    let mut data = fs::read(&p).unwrap();
    data[100] ^= 0xff;
    fs::write(&p, data).unwrap();
    let (out, result) = fx.apply(&pkg);
    assert_eq!(result["code"], 0, "{}", text(&out));
    let boot = fs::read(fx.build("boot.img")).unwrap();
    assert_eq!(&fs::read(&p).unwrap()[..boot.len()], &boot[..]);
}

/// The card is pulled mid-install: the package file is cut short while apply runs. The install
/// stops with the read error, switches nothing, and the next attempt with the whole package
/// completes.
#[test]
fn package_truncated_mid_install_then_recovers() {
    let (fx, pkg) = fine_fixture(SlotMode::Ab);
    let index_before = rollback_index(&fx);
    let whole = fs::read(&pkg).unwrap();
    let cut = data_offset(&pkg, "system.img") + 64 * 1024;
    let mut child = spawn_apply(&fx, &pkg);
    let out = child.stdout.take().unwrap();
    let mut last = serde_json::Value::Null;
    let mut truncated = false;
    for line in BufReader::new(out).lines() {
        let ev: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if !truncated && ev["event"] == "committed" {
            // Same inode, shorter file: what a removed card looks like to positional reads.
            fs::OpenOptions::new()
                .write(true)
                .open(&pkg)
                .unwrap()
                .set_len(cut)
                .unwrap();
            truncated = true;
        }
        last = ev;
    }
    child.wait().unwrap();
    assert!(truncated);
    assert_eq!(last["event"], "result");
    // The stored boot image may already be through; system (deflated) cannot be.
    let code = last["code"].as_u64().unwrap();
    assert!(
        [9002, 9032].contains(&code),
        "expected PACKAGE_READ_FAILED or IMAGE_SIZE_MISMATCH, got {last}"
    );
    assert_eq!(
        decode_boot_control(&fx.misc()).0.active(),
        Slot::A,
        "no slot switch"
    );
    assert!(!decode_boot_control(&fx.misc()).0.slot(Slot::B).bootable());
    assert_eq!(rollback_index(&fx), index_before);
    assert!(fx.state_file("journal.json").exists());

    fs::write(&pkg, whole).unwrap();
    let (out, result) = fx.apply(&pkg);
    assert_eq!(result["code"], 0, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("resuming an interrupted update"));
    assert_eq!(decode_boot_control(&fx.misc()).0.active(), Slot::B);
}

/// ENOSPC in the state directory: the journal's temporary file is a link to /dev/full, so
/// writing it fails with a real ENOSPC (even as root). Nothing is written to any partition and
/// nothing is switched; once space is back, the next attempt completes.
#[test]
fn journal_enospc_writes_nothing_then_recovers() {
    for mode in [SlotMode::Ab, SlotMode::Single] {
        let fx = Fixture::new(mode);
        let pkg = fx.good_package();
        let before = fx.snapshot();
        let index_before = rollback_index(&fx);
        let tmp = fx.state_file(".journal.json.tmp");
        std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
        let (out, result) = fx.apply(&pkg);
        assert_eq!(result["code"], 9055, "{}", text(&out));
        assert_eq!(result["name"], "STATE_WRITE_FAILED");
        assert!(result["message"].as_str().unwrap().contains("journal"));
        assert_eq!(
            fx.snapshot(),
            before,
            "{mode:?}: a partition or misc changed"
        );
        assert_eq!(rollback_index(&fx), index_before);

        fs::remove_file(&tmp).unwrap();
        let (out, result) = fx.apply(&pkg);
        assert_eq!(result["code"], 0, "{}", text(&out));
    }
}

mod io_faults {
    //! EIO on write and a failing flush, injected below the engine with a Device wrapper.
    use super::*;
    use recovery_updater::device::{
        Access, Battery, Device, FlashTarget, FlashType, Identity, Opened, Profile, ProfileDevice,
        SlotControl,
    };
    use recovery_updater::install::{self, events::Collect, Options};
    use recovery_updater::Error;
    use std::io;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    #[derive(Clone, Copy)]
    enum Fault {
        /// write_all_at fails with EIO once this many bytes were written in total.
        WriteAfter(u64),
        /// every flush fails with EIO.
        Flush,
    }

    struct Faulty {
        inner: ProfileDevice,
        fault: Fault,
        written: Arc<AtomicU64>,
    }

    struct FaultyPart {
        inner: Box<dyn FlashTarget>,
        fault: Fault,
        written: Arc<AtomicU64>,
    }

    impl FlashTarget for FaultyPart {
        fn size(&self) -> io::Result<u64> {
            self.inner.size()
        }
        fn identity(&self) -> io::Result<Identity> {
            self.inner.identity()
        }
        fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
            self.inner.read_exact_at(buf, offset)
        }
        fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
            if let Fault::WriteAfter(n) = self.fault {
                if self.written.fetch_add(buf.len() as u64, Ordering::SeqCst) >= n {
                    return Err(io::Error::from_raw_os_error(libc::EIO));
                }
            }
            self.inner.write_all_at(buf, offset)
        }
        fn flush(&self) -> io::Result<()> {
            if let Fault::Flush = self.fault {
                return Err(io::Error::from_raw_os_error(libc::EIO));
            }
            self.inner.flush()
        }
    }

    impl Device for Faulty {
        fn profile(&self) -> &Profile {
            self.inner.profile()
        }
        fn hardware_revision(&self) -> Result<String, Error> {
            self.inner.hardware_revision()
        }
        fn baseband(&self) -> Result<Option<String>, Error> {
            self.inner.baseband()
        }
        fn battery(&self) -> Result<Option<Battery>, Error> {
            self.inner.battery()
        }
        fn current_version(&self) -> Option<String> {
            self.inner.current_version()
        }
        fn free_space(&self, path: &Path) -> io::Result<u64> {
            self.inner.free_space(path)
        }
        fn open_target(&self, kind: FlashType, path: &Path, access: Access) -> Opened {
            let inner = self.inner.open_target(kind, path, access)?;
            Ok(Box::new(FaultyPart {
                inner,
                fault: self.fault,
                written: self.written.clone(),
            }))
        }
        fn slot_control(&self) -> Result<Option<Box<dyn SlotControl>>, Error> {
            self.inner.slot_control()
        }
    }

    fn faulty_then_clean(mode: SlotMode, fault: Fault, code: u16) {
        let (fx, pkg) = fine_fixture(mode);
        let initial = save_tree(&fx.dir.join("device"));
        let index_before = rollback_index(&fx);
        // Reference: a clean install, then back to the start.
        let (_, r) = fx.apply(&pkg);
        assert_eq!(r["code"], 0);
        let clean = fx.snapshot();
        restore_tree(&fx.dir.join("device"), &initial);

        let dev = Faulty {
            inner: ProfileDevice::load(&fx.device).unwrap(),
            fault,
            written: Arc::new(AtomicU64::new(0)),
        };
        let mut events = Collect::default();
        let record = install::apply(&pkg, &dev, &mut events, &Options::default());
        assert_eq!(record.code, code, "{}", record.message);
        let misc_after = fx.snapshot().get("misc.img").cloned();
        if let Some(misc) = misc_after {
            let b = decode_boot_control(&misc).0;
            assert_eq!(b.active(), Slot::A, "no slot switch after {}", record.name);
            assert!(!b.slot(Slot::B).bootable());
        }
        assert_eq!(rollback_index(&fx), index_before);
        assert!(
            fx.state_file("journal.json").exists(),
            "journal kept for the next attempt"
        );
        let (out, r) = fx.apply(&pkg);
        assert_eq!(r["code"], 0, "{}", text(&out));
        assert_eq!(fx.snapshot(), clean, "recovered install equals a clean one");
    }

    #[test]
    fn eio_on_write_ab() {
        faulty_then_clean(SlotMode::Ab, Fault::WriteAfter(700 * 1024), 9051);
    }

    #[test]
    fn eio_on_write_in_place() {
        faulty_then_clean(SlotMode::Single, Fault::WriteAfter(700 * 1024), 9051);
    }

    #[test]
    fn failing_flush_ab() {
        faulty_then_clean(SlotMode::Ab, Fault::Flush, 9052);
    }

    #[test]
    fn failing_flush_in_place() {
        faulty_then_clean(SlotMode::Single, Fault::Flush, 9052);
    }
}

/// ENOSPC for the journal after writing began (the link to /dev/full appears with the first
/// write progress): the install stops at its next checkpoint with 9055, switches nothing, and the
/// next attempt resumes from the last journal that was saved.
#[test]
fn journal_enospc_mid_install_stops_then_resumes() {
    for mode in [SlotMode::Ab, SlotMode::Single] {
        let (fx, pkg) = fine_fixture(mode);
        let initial = save_tree(&fx.dir.join("device"));
        let index_before = rollback_index(&fx);
        let (_, r) = fx.apply(&pkg);
        assert_eq!(r["code"], 0);
        let clean = fx.snapshot();
        restore_tree(&fx.dir.join("device"), &initial);

        let tmp = fx.state_file(".journal.json.tmp");
        let mut child = spawn_apply(&fx, &pkg);
        let out = child.stdout.take().unwrap();
        let mut last = serde_json::Value::Null;
        let mut linked = false;
        for line in BufReader::new(out).lines() {
            let ev: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
            if !linked && ev["event"] == "progress" && ev["phase"] == "write" {
                // The temporary file exists only while a journal is being saved; retry until
                // the name is free.
                while let Err(e) = std::os::unix::fs::symlink("/dev/full", &tmp) {
                    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
                }
                linked = true;
            }
            last = ev;
        }
        child.wait().unwrap();
        assert_eq!(last["code"], 9055, "{mode:?}: {last}");
        if mode == SlotMode::Ab {
            let b = decode_boot_control(&fx.misc()).0;
            assert_eq!(b.active(), Slot::A);
            assert!(!b.slot(Slot::B).bootable());
        }
        assert_eq!(rollback_index(&fx), index_before);
        assert!(fx.state_file("journal.json").exists());

        fs::remove_file(&tmp).unwrap();
        let (out, r) = fx.apply(&pkg);
        assert_eq!(r["code"], 0, "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("resuming an interrupted update"));
        assert_eq!(fx.snapshot(), clean, "{mode:?}");
    }
}
