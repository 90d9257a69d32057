//! Behaviour through the real binary: clean installs, and one test per failure code with a
//! crafted package, each checking the device is untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;

use common::*;
use recovery_updater::demo::SimDevice;
use recovery_updater::device::{Slot, SlotMode};

#[test]
fn clean_ab_install_writes_inactive_slot_and_switches() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let before = fx.snapshot();
    let (out, result) = fx.apply(&pkg);
    assert_eq!(exit_code(&out), 0, "{}", text(&out));
    assert_eq!(result["event"], "result");
    assert_eq!(result["code"], 0);
    assert_eq!(result["target_slot"], "b");

    let after = fx.snapshot();
    for (img, part) in [("boot.img", "boot_b.img"), ("system.img", "system_b.img")] {
        let image = fs::read(fx.build(img)).unwrap();
        let p = &after[part];
        assert_eq!(
            &p[..image.len()],
            &image[..],
            "{part} holds {img} from offset 0"
        );
        assert_eq!(
            &p[image.len()..],
            &before[part][image.len()..],
            "{part} tail untouched"
        );
    }
    // vendor is not in the package: the new slot gets an exact copy of the active one.
    assert_eq!(after["vendor_b.img"], after["vendor_a.img"]);
    for p in ["boot_a.img", "system_a.img", "vendor_a.img"] {
        assert_eq!(after[p], before[p], "active slot partition {p} changed");
    }
    let bc = boot_control(&after["misc.img"]);
    assert_eq!(bc.active(), Slot::B);
    let b = bc.slot(Slot::B);
    assert_eq!(
        (b.priority, b.tries_remaining, b.successful_boot),
        (15, 6, false)
    );
    assert!(
        bc.slot(Slot::A).successful_boot,
        "old slot stays a fallback"
    );
    assert_eq!(
        fs::read_to_string(fx.state_file("rollback_index"))
            .unwrap()
            .trim(),
        "3"
    );
    let rec: serde_json::Value =
        serde_json::from_slice(&fs::read(fx.state_file("last_install.json")).unwrap()).unwrap();
    assert_eq!(rec["result"], "success");
    assert_eq!(rec["to_version"], "1.1.0");
    assert_eq!(rec["from_version"], "1.0.0");
    let log = fs::read_to_string(fx.state_file("last_log")).unwrap();
    assert!(log.contains("SUCCESS"), "{log}");

    // Progress lines never go backwards and end at the total.
    let mut last = 0;
    let mut total = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["event"] == "progress" {
            let done = v["done"].as_u64().unwrap();
            assert!(done >= last, "progress went backwards");
            last = done;
            total = v["total"].as_u64().unwrap();
        }
    }
    assert_eq!(last, total);
    assert!(total > 0);
}

#[test]
fn clean_in_place_install_verifies_then_writes() {
    let fx = Fixture::new(SlotMode::Single);
    let pkg = fx.good_package();
    let before = fx.snapshot();
    let (out, result) = fx.apply(&pkg);
    assert_eq!(exit_code(&out), 0, "{}", text(&out));
    assert_eq!(result["code"], 0);
    let after = fx.snapshot();
    for (img, part) in [("boot.img", "boot.img"), ("system.img", "system.img")] {
        let image = fs::read(fx.build(img)).unwrap();
        assert_eq!(&after[part][..image.len()], &image[..]);
    }
    assert_eq!(after["vendor.img"], before["vendor.img"]);
    // The verify pass ran before the first write.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verify = stdout.find("\"phase\":\"verify\"").expect("verify phase");
    let write = stdout.find("\"phase\":\"write\"").expect("write phase");
    assert!(verify < write);
}

#[test]
fn second_install_goes_back_to_slot_a() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    assert_eq!(exit_code(&fx.apply(&pkg).0), 0);
    let pkg2 = fx.pack(
        &fx.spec_with("version = \"1.2.0\"\nrollback_index = 4"),
        &fx.key,
        "u2.zip",
    );
    let (out, result) = fx.apply(&pkg2);
    assert_eq!(exit_code(&out), 0, "{}", text(&out));
    assert_eq!(result["target_slot"], "a");
    assert_eq!(boot_control(&fx.misc()).active(), Slot::A);
}

/// Applies `pkg`, expects `code`, and checks that nothing on the device changed.
fn expect_refused(fx: &Fixture, pkg: &std::path::Path, code: u16) -> serde_json::Value {
    let before = fx.snapshot();
    let ri = fs::read(fx.state_file("rollback_index")).unwrap();
    let (out, result) = fx.apply(pkg);
    assert_eq!(exit_code(&out), i32::from(code - 9000), "{}", text(&out));
    assert_eq!(result["code"], code, "{}", text(&out));
    assert_eq!(result["result"], "failure");
    assert!(!result["fix"].as_str().unwrap_or("").is_empty());
    assert_eq!(
        fx.snapshot(),
        before,
        "a refused package changed the device"
    );
    assert_eq!(fs::read(fx.state_file("rollback_index")).unwrap(), ri);
    let rec: serde_json::Value =
        serde_json::from_slice(&fs::read(fx.state_file("last_install.json")).unwrap()).unwrap();
    assert_eq!(rec["code"], code);
    result
}

#[test]
fn tampered_chunk_is_never_written() {
    let fx = fresh_ab();
    let pkg = fx.good_package();
    // Flip one byte in the third 64 KiB chunk of the stored boot image.
    let off = data_offset(&pkg, "boot.img") + 2 * 65536 + 100;
    let mut data = fs::read(&pkg).unwrap();
    data[off as usize] ^= 0x5a;
    fs::write(&pkg, data).unwrap();
    let before = fx.snapshot();
    let (out, result) = fx.apply(&pkg);
    assert_eq!(result["code"], 9030, "{}", text(&out));
    assert_eq!(exit_code(&out), 30);
    let after = fx.snapshot();
    assert_eq!(after["misc.img"], before["misc.img"], "misc changed");
    for p in [
        "boot_a.img",
        "system_a.img",
        "vendor_a.img",
        "system_b.img",
        "vendor_b.img",
    ] {
        assert_eq!(after[p], before[p], "{p} changed");
    }
    // Only chunks that verified (0 and 1) may have reached slot b; the bad one and all after
    // it hold the old bytes.
    let image = fs::read(fx.build("boot.img")).unwrap();
    let b = &after["boot_b.img"];
    assert!(
        b[..2 * 65536] == image[..2 * 65536] || b[..2 * 65536] == before["boot_b.img"][..2 * 65536]
    );
    assert_eq!(&b[2 * 65536..], &before["boot_b.img"][2 * 65536..]);
    assert_eq!(boot_control(&after["misc.img"]).active(), Slot::A);
}

#[test]
fn failure_mid_write_leaves_old_slot_active_and_new_slot_unbootable() {
    // Slot b was a good previous install: before writing it, it is marked unbootable, so a
    // failed boot of a never falls back to a half-written b.
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let off = data_offset(&pkg, "boot.img") + 65536 + 7;
    let mut data = fs::read(&pkg).unwrap();
    data[off as usize] ^= 1;
    fs::write(&pkg, data).unwrap();
    let before = fx.snapshot();
    let (out, result) = fx.apply(&pkg);
    assert_eq!(result["code"], 9030, "{}", text(&out));
    let bc = boot_control(&fx.misc());
    assert_eq!(bc.active(), Slot::A);
    assert!(!bc.slot(Slot::B).bootable());
    assert_eq!(
        bc.slot(Slot::A),
        boot_control(&before["misc.img"]).slot(Slot::A)
    );
}

#[test]
fn tampered_chunk_in_place_writes_nothing() {
    let fx = Fixture::new(SlotMode::Single);
    let pkg = fx.good_package();
    let off = data_offset(&pkg, "boot.img") + 4 * 65536 + 1;
    let mut data = fs::read(&pkg).unwrap();
    data[off as usize] ^= 0xff;
    fs::write(&pkg, data).unwrap();
    let before = fx.snapshot();
    let (out, result) = fx.apply(&pkg);
    assert_eq!(result["code"], 9030, "{}", text(&out));
    assert_eq!(fx.snapshot(), before, "in place: nothing may be written");
}

#[test]
fn tampered_manifest_fails_signature() {
    let fx = fresh_ab();
    let pkg = fx.good_package();
    let bad = fx.dir.join("bad.zip");
    rewrite(&pkg, &bad, |entries| {
        let m = entries
            .iter_mut()
            .find(|e| e.name == "META-INF/update/manifest.json")
            .unwrap();
        let s = String::from_utf8(m.data.clone()).unwrap();
        m.data = s
            .replace("\"rollback_index\": 3", "\"rollback_index\": 99")
            .into_bytes();
    });
    let r = expect_refused(&fx, &bad, 9012);
    assert!(r["message"].as_str().unwrap().contains("does not verify"));
}

#[test]
fn untrusted_key_is_named() {
    let fx = fresh_ab();
    let (other_key, _) = keygen(&fx.dir, "other", "ed25519");
    let pkg = fx.pack(&fx.good_spec(), &other_key, "other.zip");
    expect_refused(&fx, &pkg, 9013);
}

#[test]
fn duplicate_entry_is_refused() {
    let fx = fresh_ab();
    let pkg = fx.good_package();
    let bad = fx.dir.join("dup.zip");
    rewrite(&pkg, &bad, |entries| {
        let mut extra = entries
            .iter()
            .find(|e| e.name == "boot.img")
            .unwrap()
            .clone();
        extra.name = "boot.imx".into();
        entries.push(extra);
    });
    assert_eq!(patch_bytes(&bad, b"boot.imx", b"boot.img"), 2);
    expect_refused(&fx, &bad, 9005);
}

#[test]
fn dot_dot_entry_is_refused() {
    let fx = fresh_ab();
    let pkg = fx.good_package();
    let bad = fx.dir.join("dotdot.zip");
    rewrite(&pkg, &bad, |entries| {
        entries.push(RawEntry {
            name: "xx/evil".into(),
            data: b"owned".to_vec(),
            deflate: false,
        });
    });
    assert_eq!(patch_bytes(&bad, b"xx/evil", b"../evil"), 2);
    expect_refused(&fx, &bad, 9004);
}

#[test]
fn unlisted_entry_is_refused() {
    let fx = fresh_ab();
    let pkg = fx.good_package();
    let bad = fx.dir.join("unlisted.zip");
    rewrite(&pkg, &bad, |entries| {
        entries.push(RawEntry {
            name: "payload.sh".into(),
            data: b"#!/bin/sh\n".to_vec(),
            deflate: false,
        });
    });
    expect_refused(&fx, &bad, 9018);
}

#[test]
fn missing_image_entry_is_refused() {
    let fx = fresh_ab();
    let pkg = fx.good_package();
    let bad = fx.dir.join("missing.zip");
    rewrite(&pkg, &bad, |entries| {
        entries.retain(|e| e.name != "system.img")
    });
    expect_refused(&fx, &bad, 9019);
}

#[test]
fn truncated_zip_is_refused() {
    let fx = fresh_ab();
    let pkg = fx.good_package();
    let data = fs::read(&pkg).unwrap();
    let bad = fx.dir.join("trunc.zip");
    fs::write(&bad, &data[..data.len() / 2]).unwrap();
    expect_refused(&fx, &bad, 9003);
}

#[test]
fn rollback_is_refused() {
    let fx = fresh_ab();
    let pkg = fx.pack(&fx.spec_with("rollback_index = 1"), &fx.key, "old.zip");
    let r = expect_refused(&fx, &pkg, 9015);
    assert!(r["message"].as_str().unwrap().contains("rollback index 1"));
}

#[test]
fn wrong_product_is_refused() {
    let fx = fresh_ab();
    let pkg = fx.pack(
        &fx.spec_with("products = [\"other-phone\"]"),
        &fx.key,
        "p.zip",
    );
    expect_refused(&fx, &pkg, 9020);
}

#[test]
fn wrong_hardware_is_refused() {
    let fx = fresh_ab();
    let pkg = fx.pack(
        &fx.spec_with("hardware_revisions = [\"revZ*\"]"),
        &fx.key,
        "h.zip",
    );
    expect_refused(&fx, &pkg, 9021);
}

#[test]
fn wrong_baseband_is_refused() {
    let fx = fresh_ab();
    let pkg = fx.pack(
        &fx.spec_with("basebands = [\"MPSS.OTHER.*\"]"),
        &fx.key,
        "bb.zip",
    );
    let r = expect_refused(&fx, &pkg, 9040);
    assert!(r["message"].as_str().unwrap().contains("MPSS.DEMO.1.0.c3"));
}

#[test]
fn image_larger_than_partition_is_refused() {
    let fx = fresh_ab();
    fs::write(
        fx.build("boot.img"),
        recovery_updater::demo::image_bytes(5, 600 * KIB, false),
    )
    .unwrap();
    let pkg = fx.good_package();
    expect_refused(&fx, &pkg, 9024);
}

#[test]
fn low_battery_is_refused_unless_charging() {
    let fx = Fixture::with(SimDevice {
        battery: 17,
        b_bootable: false,
        ..SimDevice::default()
    });
    let pkg = fx.good_package();
    expect_refused(&fx, &pkg, 9022);
    // Android's allowance: on the charger 15 % is enough.
    fs::write(fx.dir.join("device/sys/battery/status"), "Charging\n").unwrap();
    let (out, r) = fx.apply(&pkg);
    assert_eq!(r["code"], 0, "{}", text(&out));
}

#[test]
fn insufficient_state_space_is_refused() {
    let fx = fresh_ab();
    let profile = fx.device.clone();
    let text = fs::read_to_string(&profile).unwrap();
    // No filesystem has an exabyte free.
    fs::write(
        &profile,
        format!("min_free_state_bytes = 1000000000000000000\n{text}"),
    )
    .unwrap();
    let pkg = fx.good_package();
    expect_refused(&fx, &pkg, 9023);
}

#[test]
fn unsigned_and_missing_packages_have_codes() {
    let fx = fresh_ab();
    let out = run(bin()
        .arg("pack")
        .arg("--spec")
        .arg(fx.good_spec())
        .arg("--unsigned")
        .arg("--out")
        .arg(fx.dir.join("unsigned.zip")));
    assert!(out.status.success(), "{}", text(&out));
    expect_refused(&fx, &fx.dir.join("unsigned.zip"), 9011);
    expect_refused(&fx, &fx.dir.join("nope.zip"), 9001);
    fs::write(fx.dir.join("empty.zip"), b"").unwrap();
    expect_refused(&fx, &fx.dir.join("empty.zip"), 9003);
}

#[test]
fn verify_checks_everything_and_writes_nothing() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = fx.good_package();
    let before = fx.snapshot();
    let out = run(bin()
        .arg("verify")
        .arg(&pkg)
        .arg("--device")
        .arg(&fx.device));
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for check in [
        "Signature",
        "Product",
        "Hardware revision",
        "Baseband",
        "Anti-rollback",
        "Battery",
    ] {
        assert!(
            err.contains(&format!("[ok  ] {check}")),
            "{check} missing in\n{err}"
        );
    }
    assert_eq!(fx.snapshot(), before);
}

#[test]
fn apply_without_yes_is_refused() {
    let fx = fresh_ab();
    let pkg = fx.good_package();
    let out = run(bin().arg("apply").arg(&pkg).arg("--device").arg(&fx.device));
    assert_eq!(exit_code(&out), 72);
}

#[test]
fn human_output_names_code_meaning_and_fix() {
    let fx = fresh_ab();
    let pkg = fx.pack(&fx.spec_with("basebands = [\"X\"]"), &fx.key, "bb.zip");
    let out = run(bin()
        .arg("apply")
        .arg(&pkg)
        .arg("--device")
        .arg(&fx.device)
        .arg("--yes"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error 9040: BASEBAND_MISMATCH"), "{err}");
    assert!(err.contains("what to do:"), "{err}");
    assert_eq!(exit_code(&out), 40);
}

#[test]
fn inspect_shows_contents_and_signature() {
    let fx = fresh_ab();
    let pkg = fx.good_package();
    let out = run(bin().arg("inspect").arg(&pkg).arg("--key").arg(&fx.public));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(s.contains("signature:    verified"), "{s}");
    assert!(s.contains("version:      1.1.0"), "{s}");
    assert!(s.contains("deflated"), "{s}");
    let (other, other_pub) = keygen(&fx.dir, "x", "ecdsa-p256");
    let _ = other;
    let out = run(bin()
        .arg("inspect")
        .arg(&pkg)
        .arg("--key")
        .arg(&other_pub)
        .arg("--json"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signature"], "failed");
    assert_eq!(exit_code(&out), 13);
}
