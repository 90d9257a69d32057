use super::*;

#[test]
fn an_open_target_is_the_file_behind_its_link() {
    let dir = tempfile::tempdir().unwrap();
    let (a, link) = (dir.path().join("a.img"), dir.path().join("link.img"));
    std::fs::write(&a, vec![0u8; 4096]).unwrap();
    std::os::unix::fs::symlink(&a, &link).unwrap();
    let t = open(FlashType::Block, &link, Access::Read, &[]).unwrap();
    assert_eq!(t.identity().unwrap(), Identity::of(&a).unwrap());
    assert_eq!(t.size().unwrap(), 4096);
}

#[test]
fn block_targets_open_read_only_or_for_writing() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.img");
    std::fs::write(&a, vec![0u8; 64]).unwrap();
    let ro = open(FlashType::Block, &a, Access::Read, &[]).unwrap();
    assert!(
        ro.write_all_at(b"x", 0).is_err(),
        "read-only target written"
    );
    let rw = open(FlashType::Block, &a, Access::Write, &[]).unwrap();
    rw.write_all_at(b"hello", 10).unwrap();
    rw.flush().unwrap();
    let mut buf = [0u8; 5];
    ro.read_exact_at(&mut buf, 10).unwrap();
    assert_eq!(&buf, b"hello");
}

#[test]
fn mtd_and_ubi_names_resolve_to_device_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let proc_mtd = dir.path().join("mtd");
    std::fs::write(
        &proc_mtd,
        "dev:    size   erasesize  name\nmtd0: 00100000 00020000 \"uboot-env\"\nmtd1: 07000000 00020000 \"ubi\"\n",
    )
    .unwrap();
    let sys = dir.path().join("ubi");
    std::fs::create_dir_all(sys.join("ubi0_3")).unwrap();
    std::fs::write(sys.join("ubi0_3/name"), "rootfs_b\n").unwrap();
    let r = |p: &str| resolve_in(Path::new(p), &proc_mtd, &sys, &[]);
    assert_eq!(r("mtd:ubi").unwrap(), Path::new("/dev/mtd1"));
    assert_eq!(r("ubi:rootfs_b").unwrap(), Path::new("/dev/ubi0_3"));
    assert_eq!(r("/dev/mmcblk0p2").unwrap(), Path::new("/dev/mmcblk0p2"));
    for missing in ["mtd:rootfs", "ubi:rootfs_a"] {
        let e = r(missing).unwrap_err();
        assert_eq!(
            FlashError::code_of(&e),
            Some(crate::error::Code::FlashTargetNotFound),
            "{missing}: {e}"
        );
    }
}

#[test]
fn flash_errors_keep_their_codes_through_the_engine_error() {
    use crate::error::{Code, HasCode};
    let e = crate::Error::Write {
        partition: "rootfs".into(),
        offset: 0,
        source: FlashError::NoRoom {
            path: "/dev/mtd1".into(),
            needed: 3,
            good: 2,
            bad: 2,
            erase_size: 131072,
        }
        .into(),
    };
    assert_eq!(e.code(), Code::FlashNoRoom);
    let plain = crate::Error::Write {
        partition: "rootfs".into(),
        offset: 0,
        source: io::Error::from_raw_os_error(libc::EIO),
    };
    assert_eq!(plain.code(), Code::WriteFailed);
}
