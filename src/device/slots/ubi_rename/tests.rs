use std::sync::{Arc, Mutex};

use super::*;
use crate::device::target::ubi::tests::volume;
use crate::device::target::{resolve_in, FlashError};
use crate::error::{Code, HasCode};

fn name_of(sys: &Path, dir: &str) -> String {
    std::fs::read_to_string(sys.join(dir).join("name"))
        .unwrap()
        .trim()
        .to_string()
}

/// Every rename request the fake kernel took, as (volume, new name) pairs.
type RenameLog = Arc<Mutex<Vec<Vec<(String, String)>>>>;

struct Fake {
    _dir: tempfile::TempDir,
    sys: PathBuf,
    state: PathBuf,
    renames: RenameLog,
    fail: Arc<Mutex<bool>>,
}

impl Fake {
    /// `rootfs` (ubi0_0, slot a, active) and `rootfs_b` (ubi0_1).
    fn new() -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("sys");
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        volume(&sys, "ubi0_0", "rootfs", 0);
        volume(&sys, "ubi0_1", "rootfs_b", 0);
        Fake {
            _dir: dir,
            sys,
            state,
            renames: Arc::default(),
            fail: Arc::default(),
        }
    }

    /// The control over this sysfs; its renamer rewrites the `name` files all at once, as the
    /// kernel's volume table changes, and records each call.
    fn control(&self, volumes: &[&str]) -> UbiRenameSlotControl {
        let (sys, log, fail) = (self.sys.clone(), self.renames.clone(), self.fail.clone());
        let rename: Renamer = Box::new(move |r: &[(&str, &str)]| {
            if *fail.lock().unwrap() {
                return Err(FlashError::Rename {
                    device: "/dev/ubi0".into(),
                    reason: "EIO".into(),
                }
                .into());
            }
            for (vol, name) in r {
                std::fs::write(sys.join(vol).join("name"), format!("{name}\n"))?;
            }
            log.lock().unwrap().push(
                r.iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
            );
            Ok(())
        });
        let def = UbiRenameDef {
            volumes: volumes.iter().map(|v| v.to_string()).collect(),
        };
        UbiRenameSlotControl::with(&def, &self.state, &self.sys, rename)
    }

    fn calls(&self) -> usize {
        self.renames.lock().unwrap().len()
    }

    fn resolve(&self, name: &str) -> String {
        let p = resolve_in(
            Path::new(&format!("ubi:{name}")),
            Path::new("/nonexistent"),
            &self.sys,
            &["rootfs".to_string()],
        )
        .unwrap();
        p.display().to_string()
    }
}

#[test]
fn the_names_tell_the_active_slot_and_each_slot_finds_its_volume() {
    let f = Fake::new();
    let sc = f.control(&["rootfs"]);
    let st = sc.state().unwrap();
    assert_eq!(st.active, Slot::A);
    assert!(st.valid);
    // Slot a's volume carries the boot name; `ubi:rootfs_a` still finds it.
    assert_eq!(f.resolve("rootfs_a"), "/dev/ubi0_0");
    assert_eq!(f.resolve("rootfs_b"), "/dev/ubi0_1");
    for slot in Slot::ALL {
        let info = sc.slot_info(slot).unwrap();
        assert!(info.bootable, "{slot}");
        assert_eq!(info.successful, None);
    }
}

#[test]
fn the_switch_moves_the_boot_name_once_and_a_rerun_renames_nothing() {
    let f = Fake::new();
    let mut sc = f.control(&["rootfs"]);
    sc.set_active(Slot::B).unwrap();
    assert_eq!(name_of(&f.sys, "ubi0_0"), "rootfs_a");
    assert_eq!(name_of(&f.sys, "ubi0_1"), "rootfs");
    assert_eq!(sc.state().unwrap().active, Slot::B);
    assert_eq!(f.calls(), 1);
    assert_eq!(
        f.renames.lock().unwrap()[0],
        [
            ("ubi0_0".to_string(), "rootfs_a".to_string()),
            ("ubi0_1".to_string(), "rootfs".to_string())
        ],
        "one request for both names"
    );
    // Each volume keeps its slot: slot b is still ubi0_1, now by the boot name.
    assert_eq!(f.resolve("rootfs_b"), "/dev/ubi0_1");
    assert_eq!(f.resolve("rootfs_a"), "/dev/ubi0_0");
    // An install re-run after a power cut that followed the rename: nothing renamed again.
    sc.set_active(Slot::B).unwrap();
    assert_eq!(f.calls(), 1);
    assert_eq!(name_of(&f.sys, "ubi0_1"), "rootfs");
    // The next install switches back.
    sc.set_active(Slot::A).unwrap();
    assert_eq!(f.calls(), 2);
    assert_eq!(name_of(&f.sys, "ubi0_0"), "rootfs");
    assert_eq!(name_of(&f.sys, "ubi0_1"), "rootfs_b");
}

#[test]
fn a_slot_being_written_is_unbootable_until_it_is_activated() {
    let f = Fake::new();
    let mut sc = f.control(&["rootfs"]);
    sc.mark_unbootable(Slot::B).unwrap();
    assert_eq!(f.calls(), 0, "the inactive slot is only recorded");
    assert!(!sc.slot_info(Slot::B).unwrap().bootable);
    assert!(sc.slot_info(Slot::A).unwrap().bootable);
    assert_eq!(sc.state().unwrap().active, Slot::A);
    sc.set_active(Slot::B).unwrap();
    assert!(sc.slot_info(Slot::B).unwrap().bootable);
    assert!(
        !f.state.join(BAD_FILE).exists()
            || std::fs::read_to_string(f.state.join(BAD_FILE))
                .unwrap()
                .trim()
                .is_empty()
    );
}

#[test]
fn a_damaged_volume_is_never_switched_to() {
    let f = Fake::new();
    volume(&f.sys, "ubi0_1", "rootfs_b", 1);
    let mut sc = f.control(&["rootfs"]);
    assert!(!sc.slot_info(Slot::B).unwrap().bootable);
    let e = sc.set_active(Slot::B).unwrap_err();
    assert_eq!(e.code(), Code::SlotSwitchFailed, "{e}");
    assert_eq!(f.calls(), 0);
    assert_eq!(name_of(&f.sys, "ubi0_0"), "rootfs");
}

#[test]
fn mark_bad_of_the_running_slot_hands_the_boot_name_back() {
    let f = Fake::new();
    let mut sc = f.control(&["rootfs"]);
    sc.set_active(Slot::B).unwrap();
    sc.mark_unbootable(Slot::B).unwrap();
    assert_eq!(sc.state().unwrap().active, Slot::A);
    assert_eq!(name_of(&f.sys, "ubi0_0"), "rootfs");
    assert!(!sc.slot_info(Slot::B).unwrap().bootable, "given up on");
    // mark-good of slot b later (a new install activated it) drops the verdict.
    sc.mark_successful(Slot::B).unwrap();
    assert!(sc.slot_info(Slot::B).unwrap().bootable);
    // With the other slot damaged the boot name stays.
    volume(&f.sys, "ubi0_1", "rootfs_b", 1);
    let e = sc.mark_unbootable(Slot::A).unwrap_err();
    assert_eq!(e.code(), Code::SlotSwitchFailed);
    assert_eq!(name_of(&f.sys, "ubi0_0"), "rootfs");
}

#[test]
fn a_failed_rename_keeps_the_old_names_with_its_code() {
    let f = Fake::new();
    let mut sc = f.control(&["rootfs"]);
    *f.fail.lock().unwrap() = true;
    let e = sc.set_active(Slot::B).unwrap_err();
    assert_eq!(e.code(), Code::UbiRenameFailed, "{e}");
    assert_eq!(sc.state().unwrap().active, Slot::A);
}

#[test]
fn names_outside_the_scheme_are_refused() {
    for names in [
        ["rootfs_a", "rootfs_b", "x"],
        ["rootfs", "rootfs_a", "rootfs_b"],
        ["rootfs", "y", "x"],
    ] {
        let f = Fake::new();
        for (i, n) in names.iter().enumerate() {
            volume(&f.sys, &format!("ubi0_{i}"), n, 0);
        }
        let mut sc = f.control(&["rootfs"]);
        let e = sc.state().unwrap_err();
        assert_eq!(e.code(), Code::SlotStateInvalid, "{names:?}: {e}");
        assert!(sc.set_active(Slot::B).is_err());
        assert_eq!(f.calls(), 0, "{names:?}");
    }
}

#[test]
fn several_boot_names_move_together_and_must_agree() {
    let f = Fake::new();
    volume(&f.sys, "ubi0_2", "kernel", 0);
    volume(&f.sys, "ubi0_3", "kernel_b", 0);
    let mut sc = f.control(&["rootfs", "kernel"]);
    sc.set_active(Slot::B).unwrap();
    assert_eq!(f.calls(), 1);
    assert_eq!(name_of(&f.sys, "ubi0_3"), "kernel");
    assert_eq!(name_of(&f.sys, "ubi0_1"), "rootfs");
    // Disagreeing names (someone renamed one pair by hand): refused.
    volume(&f.sys, "ubi0_2", "kernel", 0);
    volume(&f.sys, "ubi0_3", "kernel_b", 0);
    let e = sc.state().unwrap_err();
    assert_eq!(e.code(), Code::SlotStateInvalid, "{e}");
}

#[test]
fn the_profile_must_name_each_volume_as_a_slotted_partition() {
    let def = UbiRenameDef {
        volumes: vec!["rootfs".into()],
    };
    assert!(def.validate(&["ubi:rootfs_{slot}", "mtd:modem"]).is_ok());
    assert!(def
        .validate(&["ubi:system_{slot}"])
        .unwrap_err()
        .contains("ubi:rootfs_{slot}"));
    assert!(UbiRenameDef { volumes: vec![] }.validate(&[]).is_err());
}

#[test]
fn a_profile_picks_the_rename_control_alone() {
    use crate::device::profile::Profile;
    let base = r#"
product = "hotspot"
hardware_revision = "r1"
keys = ["k.pub"]
state_dir = "state"
[slots]
mode = "ab"
[slots.ubi_rename]
volumes = ["rootfs"]
[[partition]]
name = "rootfs"
type = "ubi"
path = "ubi:rootfs_{slot}"
"#;
    let parse = |t: &str| Profile::parse(t, Path::new("/r/device.toml"), Path::new("/r"));
    let p = parse(base).unwrap();
    assert_eq!(
        p.slots.ubi_rename,
        Some(UbiRenameDef {
            volumes: vec!["rootfs".into()]
        })
    );
    let with_misc = base.replace("mode = \"ab\"", "mode = \"ab\"\nmisc = \"misc.img\"");
    assert!(parse(&with_misc).is_err(), "two slot controls");
    let wrong = base.replace("ubi:rootfs_{slot}", "ubi:system_{slot}");
    assert!(parse(&wrong).is_err(), "no partition for the boot name");
}

#[test]
fn a_boot_name_on_another_ubi_device_is_no_slot() {
    let f = Fake::new();
    std::fs::remove_dir_all(f.sys.join("ubi0_0")).unwrap();
    volume(&f.sys, "ubi1_0", "rootfs", 0);
    let renamed = ["rootfs".to_string()];
    assert_eq!(ubi::find_renamed_slot(&f.sys, "rootfs_a", &renamed), None);
    assert_eq!(
        ubi::find_renamed_slot(&f.sys, "rootfs_b", &renamed),
        None,
        "rootfs_b exists itself"
    );
}

#[test]
fn without_the_option_a_missing_slot_volume_is_not_the_boot_name() {
    // The same volumes (`rootfs`, `rootfs_b`) on a device whose profile has no ubi_rename:
    // `ubi:rootfs_a` must not land on whatever is called `rootfs`.
    let f = Fake::new();
    let r = |name: &str, renamed: &[String]| {
        resolve_in(
            Path::new(&format!("ubi:{name}")),
            Path::new("/nonexistent"),
            &f.sys,
            renamed,
        )
    };
    let e = r("rootfs_a", &[]).unwrap_err();
    assert_eq!(
        FlashError::code_of(&e),
        Some(crate::error::Code::FlashTargetNotFound),
        "{e}"
    );
    let e = r("rootfs_a", &["system".to_string()]).unwrap_err();
    assert_eq!(
        FlashError::code_of(&e),
        Some(crate::error::Code::FlashTargetNotFound),
        "another boot name: {e}"
    );
    assert_eq!(
        r("rootfs_a", &["rootfs".to_string()]).unwrap(),
        Path::new("/dev/ubi0_0")
    );
    assert_eq!(ubi::find_renamed_slot(&f.sys, "rootfs_a", &[]), None);
}
