//! The factory station against four simulated units at once: four `recovery-updater sideload`
//! processes on loopback ports, one of them trusting a different key than the package's; and
//! discovery through Debian's adb (no `--devices`: every unit `adb devices` shows in sideload).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;

use common::adb::{Adb, Sideloader};
use common::*;
use recovery_updater::demo::{create_device, SimDevice};

#[test]
fn four_units_three_pass_one_fails_with_its_code() {
    let fx = fresh_ab();
    let pkg = fx.good_package();
    let (_, other_pub) = keygen(&fx.dir, "other", "ecdsa-p256");
    let mut devices = vec![fx.device.clone()];
    for i in 1..4 {
        let key = if i == 3 { &other_pub } else { &fx.public };
        devices.push(
            create_device(
                &fx.dir.join(format!("unit{i}")),
                &SimDevice {
                    public_keys: vec![key.clone()],
                    partitions: small_partitions(),
                    ..SimDevice::default()
                },
            )
            .unwrap(),
        );
    }
    let units: Vec<Sideloader> = devices.iter().map(|d| Sideloader::start(d)).collect();
    let targets: Vec<String> = units.iter().map(Sideloader::addr).collect();
    let report = fx.dir.join("report.csv");
    let out = run(bin()
        .arg("station")
        .arg(&pkg)
        .arg("--devices")
        .arg(targets.join(","))
        .arg("--json")
        .arg("--report")
        .arg(&report));
    assert_eq!(exit_code(&out), 13, "{}", text(&out));
    let result = last_json(&out);
    assert_eq!(result["passed"], 3, "{}", text(&out));
    assert_eq!(result["failed"], 1);

    let csv = fs::read_to_string(&report).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{csv}");
    for (i, t) in targets.iter().enumerate() {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("{t},")))
            .unwrap();
        let expect = if i == 3 {
            ",demo-phone,failed,9013,"
        } else {
            ",demo-phone,passed,0,100,"
        };
        assert!(row.contains(expect), "{row}");
    }
    let codes: Vec<i32> = units
        .into_iter()
        .map(|u| exit_code(&u.finish().0))
        .collect();
    assert_eq!(codes, [0, 0, 0, 13]);
}

#[test]
fn unreachable_unit_is_9150_and_a_bad_report_name_stops_before_flashing() {
    let fx = fresh_ab();
    let pkg = fx.good_package();
    let port = common::adb::free_port();
    let report = fx.dir.join("r.jsonl");
    let out = run(bin()
        .arg("station")
        .arg(&pkg)
        .args([
            "--json",
            "--devices",
            &format!("127.0.0.1:{port}"),
            "--report",
        ])
        .arg(&report));
    assert_eq!(exit_code(&out), 150, "{}", text(&out));
    let line: serde_json::Value =
        serde_json::from_str(fs::read_to_string(&report).unwrap().trim()).unwrap();
    assert_eq!(line["code"], 9150);

    let out = run(bin()
        .arg("station")
        .arg(&pkg)
        .args([
            "--json",
            "--devices",
            &format!("127.0.0.1:{port}"),
            "--report",
        ])
        .arg(fx.dir.join("r.txt")));
    assert_eq!(exit_code(&out), 156, "{}", text(&out));
    assert_eq!(last_json(&out)["code"], 9156);
}

/// No `--devices`: the station asks the host's adb (`adb devices -l`) and sideloads to every unit
/// in state sideload through the adb server (host:transport + sideload-host), as a USB unit is
/// reached. Two units `adb connect`ed, one trusting another key: its FAILFAIL code comes through
/// the adb server's stream. A third unit listening but not connected to adb is left alone.
#[test]
fn without_devices_every_adb_sideload_unit_is_found_and_flashed_through_adb() {
    let fx = fresh_ab();
    let pkg = fx.good_package();
    let (_, other_pub) = keygen(&fx.dir, "other", "ecdsa-p256");
    let other = create_device(
        &fx.dir.join("unit1"),
        &SimDevice {
            public_keys: vec![other_pub],
            partitions: small_partitions(),
            ..SimDevice::default()
        },
    )
    .unwrap();
    let spare = create_device(
        &fx.dir.join("spare"),
        &SimDevice {
            public_keys: vec![fx.public.clone()],
            partitions: small_partitions(),
            ..SimDevice::default()
        },
    )
    .unwrap();
    let units = [Sideloader::start(&fx.device), Sideloader::start(&other)];
    let idle = Sideloader::start(&spare);
    let adb = Adb::new();
    for u in &units {
        adb.connect(&u.addr());
    }
    let report = fx.dir.join("found.jsonl");
    let out = run(adb
        .env(&mut bin())
        .arg("station")
        .arg(&pkg)
        .arg("--json")
        .arg("--report")
        .arg(&report));
    assert_eq!(exit_code(&out), 13, "{}", text(&out));
    let result = last_json(&out);
    assert_eq!(
        (result["passed"].clone(), result["failed"].clone()),
        (1.into(), 1.into()),
        "{}",
        text(&out)
    );
    let records: Vec<serde_json::Value> = fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        records.len(),
        2,
        "only the adb-connected units: {records:?}"
    );
    for (u, code) in units.iter().zip([0, 9013]) {
        let r = records
            .iter()
            .find(|r| r["serial"] == u.addr().as_str())
            .unwrap_or_else(|| panic!("{} in {records:?}", u.addr()));
        assert_eq!(r["code"], code, "{r}");
    }
    let [good, bad] = units;
    assert_eq!(exit_code(&good.finish().0), 0);
    assert_eq!(exit_code(&bad.finish().0), 13);
    drop(idle);

    // Nothing in state sideload any more: 9157, nothing attempted.
    let _ = adb.cmd().arg("disconnect").output();
    let out = run(adb.env(&mut bin()).arg("station").arg(&pkg).arg("--json"));
    assert_eq!(exit_code(&out), 157, "{}", text(&out));
    assert_eq!(last_json(&out)["code"], 9157);
}
