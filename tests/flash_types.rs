//! Flash types through the real binary (issue 13, targets): a partition's profile `type`
//! chooses its handler, `mtd:NAME` / `ubi:NAME` are looked up on the device, and a target that
//! is not what its type says is refused with its own code before anything is written. Writing
//! real raw NAND and UBI volumes needs a kernel with nandsim: tests/qemu_nand.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::Path;

use common::*;
use recovery_updater::device::{FlashType, Profile, SlotMode};

/// Sets the `boot` partition's path line and adds `type = "{kind}"` to it.
fn retype_boot(fx: &Fixture, kind: &str, path: &str) {
    let toml = fs::read_to_string(&fx.device).unwrap();
    let old = "name = \"boot\"\npath = \"parts/boot_{slot}.img\"\n";
    assert!(toml.contains(old), "{toml}");
    let new = format!("name = \"boot\"\ntype = \"{kind}\"\npath = \"{path}\"\n");
    fs::write(&fx.device, toml.replace(old, &new)).unwrap();
}

/// Applies the standard package and expects `code` with every partition and misc unchanged.
fn expect_refused(fx: &Fixture, code: u16) -> serde_json::Value {
    let pkg = fx.pack(&fx.good_spec(), &fx.key, "update.zip");
    let before = fx.snapshot();
    let (out, result) = fx.apply(&pkg);
    assert_eq!(result["code"], code, "{}", text(&out));
    assert_eq!(exit_code(&out), i32::from(code - 9000));
    assert!(before == fx.snapshot(), "changed: {}", text(&out));
    result
}

/// `type = "mtd"` on a regular file: MEMGETINFO fails, so it is no raw flash (9067).
#[test]
fn mtd_type_on_a_regular_file_is_the_wrong_kind() {
    let fx = Fixture::new(SlotMode::Ab);
    let path = fx.part("boot_{slot}.img");
    retype_boot(&fx, "mtd", path.to_str().unwrap());
    let r = expect_refused(&fx, 9067);
    assert!(r["message"].as_str().unwrap().contains("MEMGETINFO"), "{r}");
}

/// `type = "ubi"` on a regular file named like a volume: not a UBI volume (9067).
#[test]
fn ubi_type_on_a_regular_file_is_the_wrong_kind() {
    let fx = Fixture::new(SlotMode::Ab);
    let dir = fx.dir.join("device/parts");
    for s in ["a", "b"] {
        fs::copy(
            dir.join(format!("boot_{s}.img")),
            dir.join(format!("ubi9_{s}")),
        )
        .unwrap();
    }
    retype_boot(&fx, "ubi", dir.join("ubi9_{slot}").to_str().unwrap());
    let r = expect_refused(&fx, 9067);
    assert!(r["message"].as_str().unwrap().contains("UBI volume"), "{r}");
}

/// A UBI volume name the device does not have (no UBI attached here): 9066, naming it.
#[test]
fn unknown_ubi_volume_name_is_not_found() {
    let fx = Fixture::new(SlotMode::Ab);
    retype_boot(&fx, "ubi", "ubi:no_such_volume_{slot}");
    let r = expect_refused(&fx, 9066);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("ubi:no_such_volume_b"),
        "{r}"
    );
}

/// An MTD partition name that is not in /proc/mtd: 9066.
#[test]
fn unknown_mtd_partition_name_is_not_found() {
    let fx = Fixture::new(SlotMode::Ab);
    retype_boot(&fx, "mtd", "mtd:no_such_partition_{slot}");
    let r = expect_refused(&fx, 9066);
    assert!(r["message"].as_str().unwrap().contains("/proc/mtd"), "{r}");
}

/// A name of one kind under a handler of another is a profile error (9060), found when the
/// profile loads.
#[test]
fn mtd_name_with_ubi_type_is_an_invalid_profile() {
    let fx = Fixture::new(SlotMode::Ab);
    retype_boot(&fx, "ubi", "mtd:boot_{slot}");
    let r = expect_refused(&fx, 9060);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("names a mtd target"),
        "{r}"
    );
}

/// `type = "block"` spelled out is today's behaviour: the install succeeds.
#[test]
fn block_type_spelled_out_installs() {
    let fx = Fixture::new(SlotMode::Ab);
    let path = fx.part("boot_{slot}.img");
    retype_boot(&fx, "block", path.to_str().unwrap());
    let pkg = fx.pack(&fx.good_spec(), &fx.key, "update.zip");
    let (out, result) = fx.apply(&pkg);
    assert_eq!(result["code"], 0, "{}", text(&out));
}

/// The hotspot profile shipped in recovery/ loads: raw NAND kernels and the modem by MTD name,
/// root filesystems as UBI volumes, U-Boot environment on MTD.
#[test]
fn hotspot_profile_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("recovery/hotspot/device.toml");
    let p = Profile::load(&path).unwrap();
    let kind = |name: &str| {
        let d = p.partitions.iter().find(|d| d.name == name).unwrap();
        (d.kind, d.path.clone())
    };
    assert_eq!(kind("boot"), (FlashType::Mtd, "mtd:boot_{slot}".into()));
    assert_eq!(kind("rootfs"), (FlashType::Ubi, "ubi:rootfs_{slot}".into()));
    assert_eq!(kind("modem"), (FlashType::Mtd, "mtd:modem".into()));
    let env = p.slots.uboot_env.as_ref().unwrap();
    let text = fs::read_to_string(&env.config).unwrap();
    let locs = recovery_updater::device::uboot_env::parse_config(&text, Path::new("/")).unwrap();
    assert_eq!(locs.len(), 2);
    assert!(locs.iter().all(|l| l.device == Path::new("/dev/mtd8")));
    // Its commented alternative, the UBI rename switch instead of the environment, loads too.
    let text = fs::read_to_string(&path).unwrap();
    let env = "[slots.uboot_env]\nconfig = \"fw_env.config\"\n";
    let rename = "# [slots.ubi_rename]\n# volumes = [\"rootfs\"]";
    assert!(text.contains(env) && text.contains(rename));
    let alt = text
        .replace(env, "")
        .replace(rename, "[slots.ubi_rename]\nvolumes = [\"rootfs\"]");
    let p = Profile::parse(&alt, &path, path.parent().unwrap()).unwrap();
    assert_eq!(p.slots.ubi_rename.unwrap().volumes, ["rootfs"]);
    assert!(p.slots.uboot_env.is_none());
}
