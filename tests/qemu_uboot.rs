//! The A/B life under a real bootloader: Debian's qemu_arm64 U-Boot under qemu-system-aarch64
//! (TCG) runs recovery/uboot/boot.scr, which implements RAUC's BOOT_ORDER / BOOT_x_LEFT
//! countdown on the environment the updater writes (uboot.env on the FAT boot partition; see
//! recovery/uboot/boot.cmd for why there). Each slot's system is Debian's arm64 kernel with an
//! initrd holding busybox and the static aarch64 updater; its init (system-init.sh) runs the
//! steps the host leaves on the state partition, from the running system, and writes
//! `status --json` there. Everything is checked from the host on the disk image afterwards.
//!
//! Needs qemu-system-arm, u-boot-qemu, u-boot-tools, libubootenv-tool, mtools, dosfstools, fdisk,
//! python3, recovery/fetch-kernel.sh arm64 and
//! `cargo build --release --target aarch64-unknown-linux-musl`; `.ci/run` prepares all of it and
//! runs this file with `--ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::time::Instant;

use common::uboot::{Uboot, SYSTEM_A_AT, SYSTEM_B_AT};

fn counters(order: &str, a: &str, b: &str) -> (String, String, String) {
    (order.into(), a.into(), b.into())
}

fn last_boot(m: &Uboot) -> String {
    m.boots().last().cloned().unwrap_or_default()
}

/// Scenario 1: booted from A, `apply` from the running system → U-Boot starts B → mark-good →
/// the next boot is still B and `status` says confirmed.
#[test]
#[ignore = "boots U-Boot and Linux under qemu-system-aarch64; run by .ci/run"]
fn apply_from_running_system_then_boot_b_and_confirm() {
    let t = Instant::now();
    let (m, a) = Uboot::new("confirm");
    let b = m.slot("b.img", "system-init.sh", "2.0.0");
    m.put_state("update.zip", &fs::read(m.package(&b, "2.0.0")).unwrap());

    m.next("apply");
    let console = m.boot();
    assert_eq!(last_boot(&m), "A 1.0.0", "{console}");
    assert_eq!(m.state("apply.rc").as_deref(), Some("0\n"), "{console}");
    assert_eq!(m.counters(), counters("B A", "2", "3"));
    assert_eq!(m.system(SYSTEM_B_AT), fs::read(&b).unwrap());
    assert_eq!(m.system(SYSTEM_A_AT), fs::read(&a).unwrap());
    let status = m.state_json("status.json");
    assert_eq!(status["booted_slot"], "a", "{status}");
    assert_eq!(status["last_install"]["state"], "pending", "{status}");

    // U-Boot takes B (one try used), the new system confirms itself.
    m.next("mark-good");
    let console = m.boot();
    assert!(console.contains("booting slot B"), "{console}");
    assert_eq!(last_boot(&m), "B 2.0.0", "{console}");
    assert_eq!(m.state("mark-good.rc").as_deref(), Some("0\n"), "{console}");
    assert_eq!(
        m.counters(),
        counters("B A", "2", "3"),
        "mark-good resets B's tries"
    );

    let console = m.boot();
    assert_eq!(last_boot(&m), "B 2.0.0", "{console}");
    let status = m.state_json("status.json");
    assert_eq!(status["booted_slot"], "b", "{status}");
    assert_eq!(status["active_slot"], "b", "{status}");
    assert_eq!(status["last_install"]["state"], "confirmed", "{status}");
    assert_eq!(status["last_install"]["code"], 0, "{status}");
    assert_eq!(status["last_install"]["from_version"], "1.0.0", "{status}");
    assert_eq!(status["slots"][0]["version"], "1.0.0", "{status}");
    assert_eq!(status["slots"][1]["version"], "2.0.0", "{status}");
    eprintln!("scenario 1 (3 boots): {:.1} s", t.elapsed().as_secs_f64());
}

/// Scenario 2: the new slot's init exits at once (kernel panic) → U-Boot burns B's three tries
/// and returns to A → `status` and last_install.json say fell_back with 9121; A was never
/// written.
#[test]
#[ignore = "boots U-Boot and Linux under qemu-system-aarch64; run by .ci/run"]
fn slot_that_cannot_come_up_falls_back_to_a() {
    let t = Instant::now();
    let (m, a) = Uboot::new("fallback");
    let bad = m.slot("bad.img", "broken-init.sh", "2.0.0");
    m.put_state("update.zip", &fs::read(m.package(&bad, "2.0.0")).unwrap());

    m.next("apply");
    let console = m.boot();
    assert_eq!(m.state("apply.rc").as_deref(), Some("0\n"), "{console}");
    assert_eq!(m.counters(), counters("B A", "2", "3"));

    for left in ["2", "1", "0"] {
        let console = m.boot();
        assert!(console.contains("booting slot B"), "{console}");
        assert!(console.contains("Attempted to kill init"), "{console}");
        assert!(!console.contains("SYSTEM: running"), "{console}");
        assert_eq!(m.counters(), counters("B A", "2", left));
    }
    assert_eq!(m.boots(), ["A 1.0.0"], "B never reached its system");

    let console = m.boot();
    assert!(console.contains("booting slot A"), "{console}");
    assert_eq!(last_boot(&m), "A 1.0.0", "{console}");
    assert_eq!(m.counters(), counters("B A", "1", "0"));
    let status = m.state_json("status.json");
    assert_eq!(status["booted_slot"], "a", "{status}");
    assert_eq!(status["last_install"]["state"], "fell_back", "{status}");
    assert_eq!(status["last_install"]["code"], 9121, "{status}");
    assert_eq!(status["active_slot"], "a", "{status}");
    assert_eq!(status["slots"][0]["version"], "1.0.0", "{status}");
    assert_eq!(status["slots"][1]["tries_left"], 0, "{status}");
    assert_eq!(status["slots"][1]["bootable"], false, "{status}");
    let record = m.state_json("last_install.json");
    assert_eq!(record["state"], "fell_back", "{record}");
    assert_eq!(record["code"], 9121, "{record}");
    assert_eq!(
        m.system(SYSTEM_A_AT),
        fs::read(&a).unwrap(),
        "A was never written"
    );
    eprintln!("scenario 2 (5 boots): {:.1} s", t.elapsed().as_secs_f64());
}

/// Scenario 3: QEMU killed while the updater writes B → A still boots (B was marked unbootable
/// before its first byte) → applying again succeeds and B boots.
#[test]
#[ignore = "boots U-Boot and Linux under qemu-system-aarch64; run by .ci/run"]
fn killed_while_writing_b_then_a_boots_and_reapply_succeeds() {
    let t = Instant::now();
    let (m, a) = Uboot::new("killed");
    let b = m.slot("b.img", "system-init.sh", "2.0.0");
    m.put_state("update.zip", &fs::read(m.package(&b, "2.0.0")).unwrap());

    m.next("apply");
    let console = m.boot_and_kill_at("\"event\":\"progress\"");
    assert!(console.contains("slot b marked unbootable"), "{console}");
    assert_eq!(
        m.counters(),
        counters("A B", "2", "0"),
        "B unbootable, A first"
    );
    assert_ne!(
        m.system(SYSTEM_B_AT),
        fs::read(&b).unwrap(),
        "B is half written"
    );

    m.next("apply");
    let console = m.boot();
    assert!(console.contains("booting slot A"), "{console}");
    assert_eq!(m.boots(), ["A 1.0.0", "A 1.0.0"], "{console}");
    assert_eq!(m.state("apply.rc").as_deref(), Some("0\n"), "{console}");
    assert_eq!(m.counters(), counters("B A", "1", "3"));
    assert_eq!(m.system(SYSTEM_B_AT), fs::read(&b).unwrap());
    assert_eq!(m.system(SYSTEM_A_AT), fs::read(&a).unwrap());

    let console = m.boot();
    assert!(console.contains("booting slot B"), "{console}");
    assert_eq!(last_boot(&m), "B 2.0.0", "{console}");
    eprintln!("scenario 3 (3 boots): {:.1} s", t.elapsed().as_secs_f64());
}
