//! The status of each pre-install check is decided where the check runs, not read back from its
//! text: a check that passes is `pass` whatever its detail says, and only a check that does not
//! apply to the device (the battery on mains power) is `skip`.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use recovery_updater::demo::SimDevice;

/// The `check` events of a successful `apply --json` run: (check, status, detail).
fn check_events(fx: &Fixture, package: &Path) -> Vec<(String, String, String)> {
    let (out, last) = fx.apply(package);
    assert_eq!(last["result"], "success", "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "check")
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (s("check"), s("status"), s("detail"))
        })
        .collect()
}

#[test]
fn a_passing_check_whose_detail_starts_with_skipped_is_reported_as_passed() {
    // The baseband check's detail is the device's own baseband string.
    let fx = Fixture::with(SimDevice {
        b_bootable: false,
        baseband: "skipped.modem.1".into(),
        ..SimDevice::default()
    });
    let spec = fx.spec_with("basebands = [\"skipped.modem.*\"]");
    let checks = check_events(&fx, &fx.pack(&spec, &fx.key, "update.zip"));
    let bb = checks
        .iter()
        .find(|c| c.0 == "baseband")
        .expect("baseband check");
    assert_eq!(bb.1, "pass", "{checks:?}");
    assert_eq!(bb.2, "skipped.modem.1", "{checks:?}");
}

#[test]
fn the_battery_check_is_skipped_on_mains_power() {
    let fx = Fixture::with(SimDevice {
        b_bootable: false,
        ..SimDevice::default()
    });
    let profile = fx.device.clone();
    let toml = fs::read_to_string(&profile).unwrap();
    let mains: String = toml
        .lines()
        .filter(|l| !l.starts_with("battery ="))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(toml, mains, "the profile had a battery line");
    fs::write(&profile, mains).unwrap();
    let checks = check_events(&fx, &fx.good_package());
    let bat = checks
        .iter()
        .find(|c| c.0 == "battery")
        .expect("battery check");
    assert_eq!(bat.1, "skip", "{checks:?}");
    assert_eq!(bat.2, "skipped: no battery information (mains powered)");
    assert!(
        checks
            .iter()
            .filter(|c| c.0 != "battery")
            .all(|c| c.1 == "pass"),
        "{checks:?}"
    );
}
