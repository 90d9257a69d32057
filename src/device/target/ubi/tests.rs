use super::*;

/// A fake /sys/class/ubi volume: the `ubiX_Y` directory `dir` under `root` with the attributes
/// the UBI target and the ubi_rename control read. Shared with the ubi_rename unit tests.
pub(crate) fn volume(root: &Path, dir: &str, name: &str, marker: u8) {
    let d = root.join(dir);
    std::fs::create_dir_all(&d).unwrap();
    for (a, v) in [
        ("name", name.to_string()),
        ("dev", "246:2".into()),
        ("reserved_ebs", "40".into()),
        ("usable_eb_size", "126976".into()),
        ("upd_marker", marker.to_string()),
        ("corrupted", "0".into()),
    ] {
        std::fs::write(d.join(a), format!("{v}\n")).unwrap();
    }
}

#[test]
fn volumes_are_found_by_name_in_sysfs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ubi0")).unwrap();
    std::fs::write(dir.path().join("ubi0/name"), "rootfs_a\n").unwrap();
    volume(dir.path(), "ubi0_0", "rootfs_a", 0);
    volume(dir.path(), "ubi0_1", "rootfs_b", 1);
    assert_eq!(
        find_volume(dir.path(), "rootfs_b").as_deref(),
        Some("ubi0_1")
    );
    assert_eq!(
        find_volume(dir.path(), "rootfs_a").as_deref(),
        Some("ubi0_0")
    );
    assert_eq!(find_volume(dir.path(), "rootfs"), None);
    let info = VolumeInfo::read(&dir.path().join("ubi0_1")).unwrap();
    assert_eq!(
        info,
        VolumeInfo {
            name: "rootfs_b".into(),
            dev: (246, 2),
            size: 40 * 126976,
            upd_marker: true,
            corrupted: false,
        }
    );
}

#[test]
fn the_rename_request_has_the_kernels_layout() {
    // sizeof(struct ubi_rnvol_req): 4 + 12 + 32 * (4 + 2 + 2 + 128).
    assert_eq!(std::mem::size_of::<RenameRequest>(), 4368);
    let req = RenameRequest::new(&[(1, "rootfs"), (2, "rootfs_old")]).unwrap();
    let bytes: &[u8] = unsafe {
        // SAFETY: a packed struct of integers and byte arrays, read as bytes for the test.
        std::slice::from_raw_parts(
            (&*req as *const RenameRequest).cast::<u8>(),
            std::mem::size_of::<RenameRequest>(),
        )
    };
    assert_eq!(&bytes[0..4], &2i32.to_ne_bytes());
    assert_eq!(&bytes[16..20], &1i32.to_ne_bytes());
    assert_eq!(&bytes[20..22], &6i16.to_ne_bytes());
    assert_eq!(&bytes[24..30], b"rootfs");
    assert_eq!(&bytes[16 + 136..16 + 140], &2i32.to_ne_bytes());
    assert_eq!(&bytes[16 + 136 + 8..16 + 136 + 18], b"rootfs_old");
    assert!(RenameRequest::new(&[(1, "")]).is_err());
    assert!(RenameRequest::new(&[(1, &"x".repeat(128))]).is_err());
}

#[test]
fn a_file_that_is_not_a_ubi_volume_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ubi0_1");
    std::fs::write(&f, b"x").unwrap();
    let sys = dir.path().join("sys");
    volume(&sys, "ubi0_1", "rootfs_b", 0);
    // Named like a volume and described in sysfs, but not that character device.
    let err = UbiTarget::open_in(&f, Access::Read, &sys).err().unwrap();
    assert_eq!(
        FlashError::code_of(&err),
        Some(crate::error::Code::FlashTargetWrongKind),
        "{err}"
    );
    let plain = dir.path().join("rootfs.img");
    std::fs::write(&plain, b"x").unwrap();
    let err = UbiTarget::open_in(&plain, Access::Read, &sys)
        .err()
        .unwrap();
    assert_eq!(
        FlashError::code_of(&err),
        Some(crate::error::Code::FlashTargetWrongKind)
    );
}

#[test]
fn renaming_across_ubi_devices_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = rename_swap(dir.path(), "ubi0_1", "ubi1_1").unwrap_err();
    assert_eq!(
        FlashError::code_of(&err),
        Some(crate::error::Code::UbiRenameFailed)
    );
    // Refused before any device is opened.
    let err = rename(&[("ubi0_1", "rootfs"), ("ubi1_1", "rootfs_a")]).unwrap_err();
    assert!(err.to_string().contains("different UBI devices"), "{err}");
    assert_eq!(
        FlashError::code_of(&err),
        Some(crate::error::Code::UbiRenameFailed)
    );
}
