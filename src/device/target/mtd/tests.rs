use super::*;

/// NAND in RAM: erase sets 0xFF, programming only clears bits (as flash does), bad blocks are
/// refused like the kernel refuses them, and chosen blocks fail to program (EIO).
struct RamNand {
    g: Geometry,
    data: Vec<u8>,
    bad: Vec<bool>,
    fail_write: Vec<u64>,
    erased: Vec<bool>,
}

impl RamNand {
    fn new(blocks: u64, bad: &[u64]) -> RamNand {
        let g = Geometry {
            size: blocks * 4096,
            erase_size: 4096,
            page_size: 512,
        };
        let mut b = vec![false; blocks as usize];
        bad.iter().for_each(|&i| b[i as usize] = true);
        RamNand {
            g,
            data: vec![0x5A; g.size as usize],
            bad: b,
            fail_write: Vec::new(),
            erased: vec![false; blocks as usize],
        }
    }
}

impl Medium for RamNand {
    fn geometry(&self) -> Geometry {
        self.g
    }
    fn is_bad(&self, block: u64) -> io::Result<bool> {
        Ok(self.bad[block as usize])
    }
    fn mark_bad(&mut self, block: u64) -> io::Result<()> {
        self.bad[block as usize] = true;
        Ok(())
    }
    fn erase(&mut self, block: u64) -> io::Result<()> {
        assert!(!self.bad[block as usize], "erased bad block {block}");
        let es = self.g.erase_size as usize;
        let at = block as usize * es;
        self.data[at..at + es].fill(0xFF);
        self.erased[block as usize] = true;
        Ok(())
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        assert_eq!(offset % u64::from(self.g.page_size), 0, "unaligned write");
        assert_eq!(buf.len() % self.g.page_size as usize, 0, "partial page");
        let block = offset / u64::from(self.g.erase_size);
        assert!(!self.bad[block as usize], "wrote bad block {block}");
        assert!(self.erased[block as usize], "wrote unerased block {block}");
        if self.fail_write.contains(&block) {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        for (d, s) in self.data[offset as usize..].iter_mut().zip(buf) {
            *d &= *s;
        }
        Ok(())
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        buf.copy_from_slice(&self.data[offset as usize..offset as usize + buf.len()]);
        Ok(())
    }
    fn ecc_stats(&self) -> Option<(u32, u32)> {
        Some((0, 0))
    }
}

fn target(nand: RamNand) -> MtdTarget {
    MtdTarget::with_medium(Path::new("/dev/mtd9"), Identity::Char(9), Box::new(nand)).unwrap()
}

fn image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// Writes `img` in `chunk`-sized pieces, as the engine does.
fn write(t: &MtdTarget, img: &[u8], chunk: usize) -> io::Result<()> {
    t.begin(img.len() as u64)?;
    for (i, c) in img.chunks(chunk).enumerate() {
        t.write_all_at(c, (i * chunk) as u64)?;
    }
    t.flush()?;
    t.finish().map(|_| ())
}

#[test]
fn proc_mtd_names_resolve_to_devices() {
    let text = "dev:    size   erasesize  name\n\
                mtd0: 00500000 00020000 \"NAND simulator partition 0\"\n\
                mtd1: 07b00000 00020000 \"rootfs\"\n";
    assert_eq!(find_in_proc_mtd(text, "rootfs").as_deref(), Some("mtd1"));
    assert_eq!(
        find_in_proc_mtd(text, "NAND simulator partition 0").as_deref(),
        Some("mtd0")
    );
    assert_eq!(find_in_proc_mtd(text, "root"), None);
    assert_eq!(find_in_proc_mtd(text, "name"), None);
}

#[test]
fn an_image_spanning_a_bad_block_skips_it_and_reads_back() {
    let t = target(RamNand::new(8, &[1]));
    let img = image(3 * 4096 + 1000);
    write(&t, &img, 3000).unwrap();
    let mut back = vec![0u8; img.len()];
    t.read_exact_at(&mut back, 0).unwrap();
    assert_eq!(back, img);
    let st = t.state.lock().unwrap();
    // Logical block 1 lives in physical block 2, as nandwrite puts it.
    let mut raw = vec![0u8; 4096];
    st.medium.read_at(&mut raw, 2 * 4096).unwrap();
    assert_eq!(raw, img[4096..8192]);
    // The last page is padded with 0xFF, the erased state.
    let mut tail = vec![0u8; 24];
    st.medium.read_at(&mut tail, 4 * 4096 + 1000).unwrap();
    assert!(tail.iter().all(|&b| b == 0xFF));
}

#[test]
fn an_image_that_fits_only_without_the_bad_blocks_is_refused_before_erasing() {
    let nand = RamNand::new(4, &[0, 3]);
    let t = target(nand);
    // The plan's check, then the one before erasing.
    assert_eq!(t.size().unwrap(), 2 * 4096, "good blocks only");
    let err = t.fits(3 * 4096).unwrap_err();
    assert_eq!(
        FlashError::code_of(&err),
        Some(crate::error::Code::FlashNoRoom)
    );
    t.fits(2 * 4096).unwrap();
    t.fits(5 * 4096).unwrap(); // larger than the partition: the generic 9024 says so
    let err = t.begin(3 * 4096).unwrap_err();
    assert!(
        matches!(
            FlashError::code_of(&err),
            Some(crate::error::Code::FlashNoRoom)
        ),
        "{err}"
    );
    let st = t.state.lock().unwrap();
    let mut raw = vec![0u8; 4096];
    st.medium.read_at(&mut raw, 4096).unwrap();
    assert!(raw.iter().all(|&b| b == 0x5A), "erased before refusing");
}

#[test]
fn a_block_that_fails_to_program_is_marked_bad_and_the_data_moves_on() {
    let mut nand = RamNand::new(6, &[]);
    nand.fail_write = vec![1];
    let t = target(nand);
    let img = image(3 * 4096);
    write(&t, &img, 4096).unwrap();
    let mut back = vec![0u8; img.len()];
    t.read_exact_at(&mut back, 0).unwrap();
    assert_eq!(back, img);
    assert!(t.state.lock().unwrap().medium.is_bad(1).unwrap());
    let line = t.finish().unwrap().unwrap();
    assert!(
        line.contains("1 bad erase block(s) skipped (1 found bad now)"),
        "{line}"
    );
}

#[test]
fn growing_bad_blocks_past_the_spare_ones_is_no_room() {
    let mut nand = RamNand::new(3, &[]);
    nand.fail_write = vec![0, 1];
    let t = target(nand);
    let err = write(&t, &image(2 * 4096), 4096).unwrap_err();
    assert_eq!(
        FlashError::code_of(&err),
        Some(crate::error::Code::FlashNoRoom),
        "{err}"
    );
}

#[test]
fn a_block_that_reads_back_different_is_a_readback_failure() {
    struct Stuck(RamNand);
    impl Medium for Stuck {
        fn geometry(&self) -> Geometry {
            self.0.geometry()
        }
        fn is_bad(&self, b: u64) -> io::Result<bool> {
            self.0.is_bad(b)
        }
        fn mark_bad(&mut self, b: u64) -> io::Result<()> {
            self.0.mark_bad(b)
        }
        fn erase(&mut self, b: u64) -> io::Result<()> {
            self.0.erase(b)?;
            // A stuck-at-0 bit the erase cannot clear.
            self.0.data[b as usize * 4096 + 100] = 0;
            Ok(())
        }
        fn write_at(&mut self, buf: &[u8], off: u64) -> io::Result<()> {
            self.0.write_at(buf, off)
        }
        fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
            self.0.read_at(buf, off)
        }
        fn ecc_stats(&self) -> Option<(u32, u32)> {
            None
        }
    }
    let t = MtdTarget::with_medium(
        Path::new("/dev/mtd9"),
        Identity::Char(9),
        Box::new(Stuck(RamNand::new(2, &[]))),
    )
    .unwrap();
    let err = write(&t, &vec![0xFFu8; 4096], 4096).unwrap_err();
    assert_eq!(
        FlashError::code_of(&err),
        Some(crate::error::Code::FlashReadBack),
        "{err}"
    );
}

#[test]
fn writes_out_of_order_or_before_begin_are_refused() {
    let t = target(RamNand::new(2, &[]));
    assert!(t.write_all_at(b"x", 0).is_err(), "write before begin");
    t.begin(4096).unwrap();
    assert!(t.write_all_at(&[1; 512], 512).is_err(), "skipped ahead");
    t.write_all_at(&[1; 512], 0).unwrap();
    assert!(t.write_all_at(&[1; 4096], 512).is_err(), "past the image");
    assert!(t.finish().is_err(), "incomplete image finished");
    assert!(!t.keeps_earlier_writes());
}

#[test]
fn a_regular_file_is_not_an_mtd_device() {
    let f = tempfile::NamedTempFile::new().unwrap();
    let err = MtdTarget::open(f.path(), Access::Read).err().unwrap();
    assert_eq!(
        FlashError::code_of(&err),
        Some(crate::error::Code::FlashTargetWrongKind),
        "{err}"
    );
}
