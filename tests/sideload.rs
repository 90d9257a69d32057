//! `adb sideload` into `recovery-updater sideload` on loopback: Debian's real adb client for the
//! good and tampered packages, a scripted host for each malformed-host case. Each case checks
//! the code, and that nothing unverified reached a partition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;

use common::adb::{Adb, Reply, ScriptedHost, Sideloader};
use common::*;
use recovery_updater::device::{Slot, SlotMode};

#[test]
fn good_package_installs_byte_for_byte_with_real_adb() {
    let fx = fresh_ab();
    let pkg = fx.good_package();
    let before = fx.snapshot();
    let dev = Sideloader::start(&fx.device);
    let adb = Adb::new();
    adb.connect(&dev.addr());
    let host = adb.sideload(&dev.addr(), &pkg);
    let (out, result) = dev.finish();
    assert!(host.status.success(), "adb: {}", text(&host));
    assert_eq!(exit_code(&out), 0, "{}", text(&out));
    assert_eq!(result["code"], 0);
    assert_eq!(result["target_slot"], "b");
    let after = fx.snapshot();
    for (img, part) in [("boot.img", "boot_b.img"), ("system.img", "system_b.img")] {
        let image = fs::read(fx.build(img)).unwrap();
        assert_eq!(&after[part][..image.len()], &image[..], "{part}");
        assert_eq!(&after[part][image.len()..], &before[part][image.len()..]);
    }
    for p in ["boot_a.img", "system_a.img", "vendor_a.img"] {
        assert_eq!(after[p], before[p], "active slot partition {p} changed");
    }
    assert_eq!(boot_control(&after["misc.img"]).active(), Slot::B);
    let rec: serde_json::Value =
        serde_json::from_slice(&fs::read(fx.state_file("last_install.json")).unwrap()).unwrap();
    assert_eq!(rec["result"], "success");
}

#[test]
fn tampered_package_fails_9012_and_adb_exits_non_zero() {
    let fx = fresh_ab();
    let pkg = fx.good_package();
    let bad = fx.dir.join("bad.zip");
    rewrite(&pkg, &bad, |entries| {
        let m = entries.iter_mut().find(|e| e.name == MANIFEST).unwrap();
        let s = String::from_utf8(m.data.clone()).unwrap();
        m.data = s
            .replace("\"rollback_index\": 3", "\"rollback_index\": 99")
            .into_bytes();
    });
    let before = fx.snapshot();
    let dev = Sideloader::start(&fx.device);
    let adb = Adb::new();
    adb.connect(&dev.addr());
    let host = adb.sideload(&dev.addr(), &bad);
    let (out, result) = dev.finish();
    assert!(!host.status.success(), "adb must fail: {}", text(&host));
    assert_eq!(result["code"], 9012, "{}", text(&out));
    assert_eq!(exit_code(&out), 12);
    assert_eq!(fx.snapshot(), before, "nothing may be written");
}

/// Runs the scripted host against a fresh A/B device; returns the device's result, the status
/// the host saw, and whether the partitions are unchanged.
fn scripted(
    fx: &Fixture,
    announced_delta: i64,
    reply: impl FnMut(u64, u64, Vec<u8>) -> Reply,
) -> (serde_json::Value, Option<String>, bool) {
    let pkg = fs::read(fx.good_package()).unwrap();
    let before = fx.snapshot();
    let dev = Sideloader::start(&fx.device);
    let mut host = ScriptedHost::connect(dev.port);
    let announced = (pkg.len() as i64 + announced_delta) as u64;
    let status = host.serve(&pkg, announced, reply);
    drop(host);
    let (out, result) = dev.finish();
    assert_eq!(
        exit_code(&out) as u64,
        result["code"].as_u64().unwrap() % 1000,
        "{}",
        text(&out)
    );
    (result, status, fx.snapshot() == before)
}

#[test]
fn host_sending_more_than_asked_is_9151() {
    let fx = fresh_ab();
    // The package's end is read first: the extra byte goes with the first block asked for that
    // is not the last one (read-ahead has not started: it is the only request outstanding).
    let pkg_len = fs::metadata(fx.good_package()).unwrap().len();
    let mut done = false;
    let (r, status, untouched) = scripted(&fx, 0, |_, block, mut d| {
        if !done && (block + 1) * 65536 < pkg_len {
            done = true;
            d.push(0);
        }
        Reply::Data(d)
    });
    assert_eq!(r["code"], 9151);
    assert_eq!(status.as_deref(), Some("FAILFAIL9151\n"));
    assert!(untouched);
}

#[test]
fn host_sending_data_before_the_request_is_acknowledged_is_9151() {
    let fx = fresh_ab();
    let (r, _, untouched) = scripted(&fx, 0, |_, _, d| Reply::Unasked(d));
    assert_eq!(r["code"], 9151);
    assert!(untouched);
}

#[test]
fn host_closing_a_block_part_way_is_9152() {
    let fx = fresh_ab();
    let (r, _, untouched) = scripted(&fx, 0, |_, _, d| {
        Reply::ThenClose(d[..d.len() / 2].to_vec())
    });
    assert_eq!(r["code"], 9152);
    assert!(untouched);
}

#[test]
fn package_larger_than_announced_is_9153() {
    let fx = fresh_ab();
    // The host announces one byte less than it has and sends it all.
    let pkg_len = fs::metadata(fx.good_package()).unwrap().len();
    let (r, _, untouched) = scripted(&fx, -1, |_, block, mut d| {
        if (block + 1) * 65536 >= pkg_len {
            // The honest last block per the real file (one byte longer than announced).
            d = fs::read(fx.dir.join("update.zip")).unwrap()[(block * 65536) as usize..].to_vec();
        }
        Reply::Data(d)
    });
    assert_eq!(r["code"], 9153);
    assert!(untouched);
}

#[test]
fn host_killed_mid_transfer_leaves_the_active_slot_untouched() {
    let fx = fresh_ab();
    let pkg_len = fs::metadata(fx.good_package()).unwrap().len();
    let half = pkg_len / 65536 / 2;
    let (r, status, _) = scripted(&fx, 0, |n, _, d| {
        if n > half {
            Reply::Vanish
        } else {
            Reply::Data(d)
        }
    });
    assert_eq!(r["code"], 9154, "{r}");
    assert_eq!(status, None);
    let after = fx.snapshot();
    let bc = boot_control(&after["misc.img"]);
    assert_eq!(bc.active(), Slot::A, "the old slot boots");
    assert!(
        !bc.slot(Slot::B).bootable(),
        "the half-written slot stays unbootable"
    );
}

#[test]
fn malformed_message_is_9155() {
    let fx = fresh_ab();
    let before = fx.snapshot();
    let dev = Sideloader::start(&fx.device);
    let mut host = ScriptedHost::connect(dev.port);
    let mut open = recovery_updater::sideload::message::Message::new(
        recovery_updater::sideload::message::A_OPEN,
        1,
        0,
        b"sideload-host:100:65536\0".to_vec(),
    )
    .encode();
    open[20] ^= 0xff; // magic no longer command ^ 0xffffffff
    host.send_raw(&open);
    let (out, result) = dev.finish();
    assert_eq!(result["code"], 9155, "{}", text(&out));
    assert_eq!(exit_code(&out), 155);
    assert_eq!(fx.snapshot(), before);
}

#[test]
fn sideload_request_out_of_range_is_9155() {
    let fx = fresh_ab();
    let dev = Sideloader::start(&fx.device);
    let mut host = ScriptedHost::connect(dev.port);
    assert!(!host.open("sideload-host:1000:0"));
    let (_, result) = dev.finish();
    assert_eq!(result["code"], 9155);
}

#[test]
fn in_place_install_cut_mid_write_resumes_with_real_adb() {
    let fx = Fixture::new(SlotMode::Single);
    let pkg_path = fx.good_package();
    let pkg_len = fs::metadata(&pkg_path).unwrap().len();
    let blocks = pkg_len.div_ceil(65536);
    // In place every chunk is verified first (one pass over the images), then written (a
    // second pass): vanish half-way through the second.
    let (r, _, _) = scripted(&fx, 0, |n, _, d| {
        if n > blocks + blocks / 2 {
            Reply::Vanish
        } else {
            Reply::Data(d)
        }
    });
    assert_eq!(r["code"], 9154, "{r}");
    assert!(
        r["bytes_written"].as_u64().unwrap() > 0,
        "cut mid-write: {r}"
    );
    let dev = Sideloader::start(&fx.device);
    let adb = Adb::new();
    adb.connect(&dev.addr());
    let host = adb.sideload(&dev.addr(), &pkg_path);
    let (out, result) = dev.finish();
    assert!(host.status.success(), "{}", text(&host));
    assert_eq!(result["code"], 0, "{}", text(&out));
    let log = fs::read_to_string(fx.state_file("last_log")).unwrap();
    assert!(log.contains("resuming an interrupted update"), "{log}");
    let after = fx.snapshot();
    for (img, part) in [("boot.img", "boot.img"), ("system.img", "system.img")] {
        let image = fs::read(fx.build(img)).unwrap();
        assert_eq!(&after[part][..image.len()], &image[..], "{part}");
    }
}

/// `adb reboot recovery` and `adb reboot bootloader` from Debian's adb: the session ends with
/// that power action. Run as a program (not PID 1), the updater says what it would have done
/// (the fake power hook of a development machine) and exits 0, with nothing written.
#[test]
fn adb_reboot_recovery_and_bootloader_end_the_session_with_that_reboot() {
    let fx = fresh_ab();
    let before = fx.snapshot();
    for (target, said) in [
        ("recovery", "reboot to recovery requested"),
        ("bootloader", "reboot to bootloader requested"),
    ] {
        let dev = Sideloader::start(&fx.device);
        let adb = Adb::new();
        adb.connect(&dev.addr());
        let _ = adb
            .cmd()
            .args(["-s", &dev.addr(), "reboot", target])
            .output();
        let (out, _) = dev.finish();
        assert_eq!(exit_code(&out), 0, "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(said),
            "adb reboot {target}: {}",
            text(&out)
        );
    }
    assert_eq!(fx.snapshot(), before, "nothing written");
}
