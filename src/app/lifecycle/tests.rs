use super::*;
use crate::device::boot_control::BootControl;
use crate::device::profile::HealthCheck;
use crate::device::{SlotInfo, SlotState};
use crate::error::{Code, HasCode};

/// Slot control with fixed answers: slot b's bootability and the active slot.
struct Fake {
    active: Slot,
    b_bootable: bool,
}

impl SlotControl for Fake {
    fn state(&self) -> Result<SlotState, Error> {
        Ok(SlotState {
            active: self.active,
            control: BootControl::defaults(),
            valid: true,
        })
    }
    fn mark_unbootable(&mut self, _: Slot) -> Result<(), Error> {
        Ok(())
    }
    fn set_active(&mut self, _: Slot) -> Result<(), Error> {
        Ok(())
    }
    fn slot_info(&self, slot: Slot) -> Result<SlotInfo, Error> {
        let bootable = slot == Slot::A || self.b_bootable;
        Ok(SlotInfo {
            bootable,
            successful: None,
            tries_left: u8::from(bootable),
        })
    }
}

fn pending_b() -> InstallRecord {
    InstallRecord {
        target_slot: Some("b".into()),
        to_version: Some("2.0".into()),
        state: Some(InstallState::Pending),
        ..InstallRecord::finished("u.zip".into(), None)
    }
}

#[test]
fn fallback_needs_the_other_slot_running_and_the_new_one_dead() {
    let dead = Fake {
        active: Slot::A,
        b_bootable: false,
    };
    let e = fell_back(&pending_b(), &dead, Some(Slot::A))
        .unwrap()
        .expect("fell back");
    assert_eq!(e.code(), Code::FellBack);
    // In the recovery (no booted slot), the slot that boots next stands for the running one.
    assert!(fell_back(&pending_b(), &dead, None).unwrap().is_some());
    // Still bootable: not booted yet, or on trial.
    let alive = Fake {
        active: Slot::B,
        b_bootable: true,
    };
    assert!(fell_back(&pending_b(), &alive, Some(Slot::A))
        .unwrap()
        .is_none());
    // Running the new slot is no fallback, whatever its counters say.
    assert!(fell_back(&pending_b(), &dead, Some(Slot::B))
        .unwrap()
        .is_none());
    // Only a pending install can fall back.
    let confirmed = pending_b().moved_to(InstallState::Confirmed, None);
    assert!(fell_back(&confirmed, &dead, Some(Slot::A))
        .unwrap()
        .is_none());
}

#[test]
fn moving_to_fell_back_keeps_what_was_installed_and_takes_the_code() {
    let e = Error::FellBack {
        version: "2.0".into(),
        slot: Slot::B,
        running: Slot::A,
    };
    let r = pending_b().moved_to(InstallState::FellBack, Some(&e));
    assert_eq!(r.state(), InstallState::FellBack);
    assert_eq!((r.code, r.name.as_str()), (9121, "NEW_SLOT_FELL_BACK"));
    assert_eq!(r.to_version.as_deref(), Some("2.0"));
    assert!(r.state_changed_at.is_some());
}

#[test]
fn records_without_a_state_read_as_confirmed_or_failed() {
    let mut r = InstallRecord::finished("u.zip".into(), None);
    r.state = None;
    assert_eq!(r.state(), InstallState::Confirmed);
    let mut f = InstallRecord::finished("u.zip".into(), Some(&Error::Cancelled));
    assert_eq!(f.state(), InstallState::Failed);
    f.state = None;
    assert_eq!(f.state(), InstallState::Failed);
}

#[test]
fn health_check_exit_status_and_timeout() {
    let dir = std::env::temp_dir();
    let check = |cmd: &[&str], timeout_s| HealthCheck {
        command: cmd.iter().map(|s| s.to_string()).collect(),
        timeout_s,
    };
    assert!(run_health_check(&check(&["true"], 5), &dir).is_ok());
    let e = run_health_check(&check(&["false"], 5), &dir).unwrap_err();
    assert_eq!(e.code(), Code::HealthCheckFailed);
    let e = run_health_check(&check(&["/nonexistent/check"], 5), &dir).unwrap_err();
    assert_eq!(e.code(), Code::HealthCheckFailed);
    let e = run_health_check(&check(&["sleep", "60"], 1), &dir).unwrap_err();
    assert_eq!(e.code(), Code::HealthCheckTimeout);
}

/// The `ubi_rename` control over a fake sysfs: no tries, so a fallback is only ever mark-bad's,
/// and the next look sees it.
#[test]
fn with_ubi_names_mark_bad_moves_the_name_back_and_is_seen_as_a_fallback() {
    use crate::device::slots::ubi_rename::{Renamer, UbiRenameDef, UbiRenameSlotControl};
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("sys");
    for (vol, name) in [("ubi0_0", "rootfs"), ("ubi0_1", "rootfs_b")] {
        crate::device::target::ubi::tests::volume(&sys, vol, name, 0);
    }
    let names = sys.clone();
    let rename: Renamer = Box::new(move |r: &[(&str, &str)]| {
        for (vol, name) in r {
            std::fs::write(names.join(vol).join("name"), format!("{name}\n"))?;
        }
        Ok(())
    });
    let def = UbiRenameDef {
        volumes: vec!["rootfs".into()],
    };
    let mut sc = UbiRenameSlotControl::with(&def, dir.path(), &sys, rename);
    // The install: slot b written, then activated.
    sc.mark_unbootable(Slot::B).unwrap();
    sc.set_active(Slot::B).unwrap();
    assert!(fell_back(&pending_b(), &sc, Some(Slot::A))
        .unwrap()
        .is_none());
    assert!(fell_back(&pending_b(), &sc, Some(Slot::B))
        .unwrap()
        .is_none());
    // Slot b boots but its health check fails: mark-bad from b.
    sc.mark_unbootable(Slot::B).unwrap();
    assert_eq!(sc.state().unwrap().active, Slot::A);
    // After the reboot into slot a: a fallback, 9121.
    let e = fell_back(&pending_b(), &sc, Some(Slot::A))
        .unwrap()
        .unwrap();
    assert_eq!(e.code(), Code::FellBack);
}
