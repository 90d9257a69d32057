//! Refused structures: not a zip, end records and central directory
//! bounds, entry bounds, overlaps and duplicates, names, and local headers
//! that disagree with the central directory.

use super::*;

#[test]
fn empty_file_is_not_zip() {
    assert!(matches!(open(b""), Err(ZipError::NotZip)));
}

#[test]
fn garbage_is_not_zip() {
    assert!(matches!(open(b"this is not a zip"), Err(ZipError::NotZip)));
    assert!(matches!(open(&[0u8; 21]), Err(ZipError::NotZip)));
    assert!(matches!(open(&[0u8; 22]), Err(ZipError::NotZip)));
    assert!(matches!(open(&vec![b'x'; 100_000]), Err(ZipError::NotZip)));
    // An EOCD signature whose comment length does not reach the end.
    let mut fake = vec![0u8; 100];
    fake[50..54].copy_from_slice(&EOCD_SIG.to_le_bytes());
    assert!(matches!(open(&fake), Err(ZipError::NotZip)));
    // The EOCD further back than the 65,557-byte window is not found.
    let mut far = zip_crate(&[], false);
    put16(&mut far, 20, 0xFFFF);
    far.extend_from_slice(&vec![b'c'; 0xFFFF]);
    assert!(open(&far).is_ok(), "maximal comment still in reach");
    far.push(b'c');
    assert!(matches!(open(&far), Err(ZipError::NotZip)));
}

#[test]
fn truncated_zip_is_not_zip() {
    let bytes = three_entries();
    let cd = get32(&bytes, eocd(&bytes) + E_CD_OFFSET) as usize;
    let len = bytes.len();
    for cut in [
        len - 1,
        len - 2,
        len - 21,
        len - 22,
        len - 23,
        cd + 10,
        cd,
        cd - 1,
        len / 2,
        40,
        30,
        4,
        1,
    ] {
        let result = open(&bytes[..cut]);
        assert!(
            matches!(result, Err(ZipError::NotZip)),
            "cut at {cut}: {result:?}"
        );
    }
}

// ----- end records and central directory bounds --------------------------

#[test]
fn central_directory_offset_past_eof() {
    let bytes = three_entries();
    let e = eocd(&bytes);
    for offset in [bytes.len() as u32 + 100, 0xFFFF_FFF0, bytes.len() as u32] {
        let mut b = bytes.clone();
        put32(&mut b, e + E_CD_OFFSET, offset);
        assert!(
            matches!(open(&b), Err(ZipError::OutOfBounds { .. })),
            "offset {offset}"
        );
    }
    // Size reaching past the end of the file.
    let mut b = bytes.clone();
    put32(&mut b, e + E_CD_SIZE, 0x00FF_FFFF);
    assert!(matches!(open(&b), Err(ZipError::OutOfBounds { .. })));
}

#[test]
fn central_directory_must_end_at_the_end_records() {
    let bytes = three_entries();
    let e = eocd(&bytes);
    // Offset moved back: the directory would end before the EOCD.
    let mut b = bytes.clone();
    let off = get32(&b, e + E_CD_OFFSET);
    put32(&mut b, e + E_CD_OFFSET, off - 1);
    assert!(matches!(open(&b), Err(ZipError::Corrupt { .. })));
    // Hidden bytes between the central directory and the EOCD.
    let mut gap = bytes[..e].to_vec();
    gap.extend_from_slice(b"hidden");
    gap.extend_from_slice(&bytes[e..]);
    assert!(matches!(open(&gap), Err(ZipError::Corrupt { .. })));
    // Size claiming more than there is: runs into the EOCD.
    let mut b = bytes.clone();
    let size = get32(&b, e + E_CD_SIZE);
    put32(&mut b, e + E_CD_SIZE, size + 4);
    assert!(matches!(open(&b), Err(ZipError::OutOfBounds { .. })));
}

#[test]
fn zip64_end_record_values_near_u64_max() {
    let bytes = build(&[raw("a", b"data", false)], true);
    let z = positions(&bytes, ZIP64_EOCD_SIG)[0];
    let loc = positions(&bytes, ZIP64_LOCATOR_SIG)[0];
    let with = |off: usize, v: u64| {
        let mut b = bytes.clone();
        put64(&mut b, off, v);
        open(&b)
    };
    assert!(open(&bytes).is_ok());
    // offset of the central directory
    assert!(matches!(
        with(z + 48, u64::MAX - 5),
        Err(ZipError::OutOfBounds { .. })
    ));
    // size of the central directory
    assert!(matches!(
        with(z + 40, u64::MAX),
        Err(ZipError::CentralDirectoryTooLarge { .. })
    ));
    // entry counts
    let mut b = bytes.clone();
    put64(&mut b, z + 24, u64::MAX);
    put64(&mut b, z + 32, u64::MAX);
    assert!(matches!(
        open(&b),
        Err(ZipError::TooManyEntries {
            count: u64::MAX,
            ..
        })
    ));
    // record size
    assert!(matches!(
        with(z + 4, u64::MAX),
        Err(ZipError::Corrupt { .. })
    ));
    // locator pointing anywhere
    assert!(matches!(
        with(loc + 8, u64::MAX),
        Err(ZipError::OutOfBounds { .. })
    ));
    assert!(matches!(with(loc + 8, 0), Err(ZipError::Corrupt { .. })));
    // multi-disk via the locator
    let mut b = bytes.clone();
    put32(&mut b, loc + 16, 2);
    assert!(matches!(open(&b), Err(ZipError::Unsupported { .. })));
}

#[test]
fn too_many_entries_and_oversized_central_directory() {
    let bytes = three_entries();
    let limits = Limits {
        max_entries: 2,
        ..Limits::default()
    };
    assert!(matches!(
        open_with(&bytes, limits),
        Err(ZipError::TooManyEntries { count: 3, limit: 2 })
    ));
    let limits = Limits {
        max_entries: 3,
        ..Limits::default()
    };
    assert!(open_with(&bytes, limits).is_ok());

    let cd_size = get32(&bytes, eocd(&bytes) + E_CD_SIZE) as u64;
    let limits = Limits {
        max_central_directory: cd_size - 1,
        ..Limits::default()
    };
    assert!(matches!(
        open_with(&bytes, limits),
        Err(ZipError::CentralDirectoryTooLarge { size, limit })
            if size == cd_size && limit == cd_size - 1
    ));

    // A huge declared count with a tiny directory is rejected up front.
    let mut b = bytes.clone();
    let e = eocd(&b);
    put16(&mut b, e + E_ENTRIES, 60_000);
    put16(&mut b, e + E_ENTRIES_DISK, 60_000);
    assert!(matches!(open(&b), Err(ZipError::TooManyEntries { .. })));
    let limits = Limits {
        max_entries: 100_000,
        ..Limits::default()
    };
    assert!(matches!(
        open_with(&b, limits),
        Err(ZipError::Corrupt { .. })
    ));
    // A count lower than the real number leaves headers unparsed.
    let mut b = bytes.clone();
    put16(&mut b, e + E_ENTRIES, 2);
    put16(&mut b, e + E_ENTRIES_DISK, 2);
    assert!(matches!(open(&b), Err(ZipError::Corrupt { .. })));
}

#[test]
fn multi_disk_is_unsupported() {
    let bytes = three_entries();
    let mut b = bytes.clone();
    put16(&mut b, eocd(&bytes) + E_DISK, 1);
    assert!(matches!(open(&b), Err(ZipError::Unsupported { .. })));
    let mut b = bytes.clone();
    put16(&mut b, central(&bytes, 1) + C_DISK, 1);
    assert!(matches!(
        open(&b),
        Err(ZipError::Unsupported { name, .. }) if name == "two.bin"
    ));
}

// ----- entry bounds, overlap, duplicates -----------------------------------

#[test]
fn entry_data_past_central_directory() {
    let bytes = three_entries();
    let cd = get32(&bytes, eocd(&bytes) + E_CD_OFFSET);
    // Last entry's size reaching into the central directory.
    let mut b = bytes.clone();
    let c = central(&bytes, 2);
    let size = get32(&b, c + C_CSIZE) + 1;
    put32(&mut b, c + C_CSIZE, size);
    put32(&mut b, c + C_USIZE, size);
    assert!(matches!(open(&b), Err(ZipError::OutOfBounds { .. })));
    // Deflated entry claiming a gigantic compressed size.
    let mut b = bytes.clone();
    put32(&mut b, central(&bytes, 1) + C_CSIZE, 0xFFFF_FFF0);
    assert!(matches!(open(&b), Err(ZipError::OutOfBounds { .. })));
    // Local header offsets inside the central directory, or far away.
    for lho in [cd - 10, cd, cd + 5, 0xFFFF_FFF0] {
        let mut b = bytes.clone();
        put32(&mut b, central(&bytes, 0) + C_LHO, lho);
        assert!(
            matches!(open(&b), Err(ZipError::OutOfBounds { .. })),
            "lho {lho}"
        );
    }
    // zip64 offset near u64::MAX (checked arithmetic).
    let mut e = raw("z", b"zip64", false);
    e.zip64 = true;
    let mut b = build(&[e], false);
    let c = central(&b, 0);
    put64(&mut b, c + 46 + 1 + 4 + 16, u64::MAX - 3);
    assert!(matches!(open(&b), Err(ZipError::OutOfBounds { .. })));
}

#[test]
fn overlapping_entries_are_rejected() {
    // Two central headers sharing one local header (zip crate "shallow copy").
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("original.bin", SimpleFileOptions::default())
        .expect("start");
    w.write_all(&sample(1000, 15)).expect("write");
    w.shallow_copy_file("original.bin", "copy.bin")
        .expect("shallow copy");
    let bytes = w.finish().expect("finish").into_inner();
    assert_eq!(positions(&bytes, LOCAL_HEADER_SIG).len(), 1);
    assert!(matches!(
        open(&bytes),
        Err(ZipError::Overlap { first, second })
            if first == "original.bin" && second == "copy.bin"
    ));

    // A central header pointed at another entry's local header.
    let base = three_entries();
    let mut b = base.clone();
    let first_lho = get32(&base, central(&base, 0) + C_LHO);
    put32(&mut b, central(&base, 2) + C_LHO, first_lho);
    assert!(matches!(open(&b), Err(ZipError::Overlap { .. })));

    // An entry whose data runs into the next entry's local header.
    let mut b = base.clone();
    let c = central(&base, 0);
    let size = get32(&b, c + C_CSIZE) + 10;
    put32(&mut b, c + C_CSIZE, size);
    put32(&mut b, c + C_USIZE, size);
    assert!(matches!(
        open(&b),
        Err(ZipError::Overlap { first, second }) if first == "one.txt" && second == "two.bin"
    ));
}

#[test]
fn duplicate_names_are_rejected() {
    let mut bytes = zip_crate(
        &[
            ("same_a.txt", b"first", STORED),
            ("same_b.txt", b"second", STORED),
        ],
        false,
    );
    assert_eq!(replace_all(&mut bytes, b"same_b.txt", b"same_a.txt"), 2);
    assert!(matches!(
        open(&bytes),
        Err(ZipError::DuplicateName { name }) if name == "same_a.txt"
    ));
}

// ----- names ---------------------------------------------------------------

#[test]
fn unsafe_names_are_rejected() {
    let cases: [&[u8]; 16] = [
        b"../x",
        b"/abs",
        b"a/../../b",
        b"C:\\x",
        b"c:/x",
        b"a\0b",
        b"a\\b",
        b"..",
        b"dir/..",
        b"dir/../",
        b"./a",
        b"a/./b",
        b"a//b",
        b"//",
        b"a\nb",
        b"a\x7f",
    ];
    for name in cases {
        let result = open(&archive_named(name));
        let expected = String::from_utf8_lossy(name).into_owned();
        assert!(
            matches!(&result, Err(ZipError::UnsafeName { name }) if *name == expected),
            "{expected:?}: {result:?}"
        );
    }
    // Not UTF-8: reported lossily.
    let result = open(&archive_named(b"bad\xff\xfe"));
    assert!(
        matches!(&result, Err(ZipError::UnsafeName { name }) if name == "bad\u{fffd}\u{fffd}"),
        "{result:?}"
    );
}

#[test]
fn name_length_limit() {
    let long = vec![b'n'; 1025];
    assert!(matches!(
        open(&archive_named(&long)),
        Err(ZipError::UnsafeName { .. })
    ));
    let limits = Limits {
        max_name_len: 1025,
        ..Limits::default()
    };
    assert!(open_with(&archive_named(&long), limits).is_ok());
    assert!(open(&archive_named(&long[..1024])).is_ok());
}

#[test]
fn ordinary_names_are_accepted() {
    for name in [
        "dir/",
        "a/b/c.txt",
        "..foo",
        "a..b",
        "...",
        "foo/.hidden",
        "ab:c",
        "Ünïcödé/файл.txt",
    ] {
        let result = open(&archive_named(name.as_bytes()));
        let archive = result.unwrap_or_else(|e| panic!("{name:?}: {e}"));
        assert!(archive.by_name(name).is_some(), "{name:?}");
    }
}

// ----- local header vs central directory ------------------------------------

#[test]
fn local_header_disagreements() {
    let bytes = three_entries();
    let l = local(&bytes, 1);
    let patched = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = bytes.clone();
        f(&mut b);
        open(&b)
    };
    // name
    let r = patched(&|b| b[l + 30] = b'T');
    assert!(
        matches!(&r, Err(ZipError::HeaderMismatch { name, field: "name" }) if name == "two.bin"),
        "{r:?}"
    );
    // method
    let r = patched(&|b| put16(b, l + L_METHOD, 0));
    assert!(matches!(
        r,
        Err(ZipError::HeaderMismatch {
            field: "method",
            ..
        })
    ));
    // crc
    let r = patched(&|b| put32(b, l + L_CRC, 0x1234_5678));
    assert!(matches!(
        r,
        Err(ZipError::HeaderMismatch { field: "crc32", .. })
    ));
    // sizes
    let csize = get32(&bytes, l + L_CSIZE);
    let r = patched(&|b| put32(b, l + L_CSIZE, csize - 1));
    assert!(matches!(
        r,
        Err(ZipError::HeaderMismatch {
            field: "compressed_size",
            ..
        })
    ));
    let r = patched(&|b| put32(b, l + L_USIZE, 1));
    assert!(matches!(
        r,
        Err(ZipError::HeaderMismatch {
            field: "uncompressed_size",
            ..
        })
    ));
    // missing local header signature
    let r = patched(&|b| b[l] = b'X');
    assert!(matches!(r, Err(ZipError::Corrupt { .. })));
}

#[test]
fn zip64_extra_field_malformations() {
    let mut e = raw("z.bin", &sample(100, 16), true);
    e.zip64 = true;
    let with_extra = |extra: Vec<u8>| {
        let mut e = e.clone();
        e.central_extra = Some(extra);
        open(&build(&[e], false))
    };
    let good = build(&[e.clone()], false);
    assert!(open(&good).is_ok());
    let payload_len = deflate(&e.data).len() as u64;
    let field = |declared: u16, values: &[u64]| {
        let mut x = Vec::new();
        x.extend_from_slice(&1u16.to_le_bytes());
        x.extend_from_slice(&declared.to_le_bytes());
        for v in values {
            x.extend_from_slice(&v.to_le_bytes());
        }
        x
    };
    // Missing the offset value.
    let r = with_extra(field(16, &[100, payload_len]));
    assert!(matches!(r, Err(ZipError::Corrupt { .. })), "{r:?}");
    // Block overrunning the extra field.
    let r = with_extra(field(40, &[100, payload_len, 0]));
    assert!(matches!(r, Err(ZipError::Corrupt { .. })), "{r:?}");
    // Two zip64 blocks.
    let mut twice = field(24, &[100, payload_len, 0]);
    twice.extend(field(24, &[100, payload_len, 0]));
    let r = with_extra(twice);
    assert!(matches!(r, Err(ZipError::Corrupt { .. })), "{r:?}");
    // Other blocks before it are skipped; short zero padding is ignored.
    let mut padded = vec![0xfe, 0xca, 2, 0, 9, 9];
    padded.extend(field(24, &[100, payload_len, 0]));
    padded.extend([0, 0]);
    assert!(with_extra(padded).is_ok());
}

#[test]
fn stored_entry_with_lying_sizes() {
    let data = sample(100, 17);
    let bytes = zip_crate(&[("s.bin", &data, STORED), ("after", b"x", STORED)], false);
    let (c, l) = (central(&bytes, 0), local(&bytes, 0));
    let set = |b: &mut Vec<u8>, size: u32, in_local: bool| {
        put32(b, c + C_CSIZE, size);
        put32(b, c + C_USIZE, size);
        if in_local {
            put32(b, l + L_CSIZE, size);
            put32(b, l + L_USIZE, size);
        }
    };
    // Central smaller than the local header.
    let mut b = bytes.clone();
    set(&mut b, 90, false);
    assert!(matches!(open(&b), Err(ZipError::HeaderMismatch { .. })));
    // Both smaller: opens (a gap is legal), reading fails the CRC.
    let mut b = bytes.clone();
    set(&mut b, 90, true);
    let archive = open(&b).expect("open");
    assert!(matches!(
        stream_error(&archive, "s.bin"),
        ZipError::CrcMismatch { .. }
    ));
    let entry = archive.by_name("s.bin").expect("entry");
    assert!(matches!(
        archive.read_to_vec(entry, 1000),
        Err(ZipError::CrcMismatch { .. })
    ));
    // Both larger: runs into the next entry.
    let mut b = bytes.clone();
    set(&mut b, 110, true);
    assert!(matches!(open(&b), Err(ZipError::Overlap { .. })));
    // Larger for the last entry: runs into the central directory.
    let mut b = bytes.clone();
    let (c2, l2) = (central(&bytes, 1), local(&bytes, 1));
    for off in [c2 + C_CSIZE, c2 + C_USIZE, l2 + L_CSIZE, l2 + L_USIZE] {
        put32(&mut b, off, 5);
    }
    assert!(matches!(open(&b), Err(ZipError::OutOfBounds { .. })));
    // Stored with compressed != uncompressed.
    let mut b = bytes.clone();
    put32(&mut b, c + C_USIZE, 99);
    assert!(matches!(open(&b), Err(ZipError::Corrupt { .. })));
    // With a data descriptor only the central sizes count: smaller → CRC.
    let mut e = raw("dd", &data, false);
    e.descriptor = true;
    let mut b = build(&[e], false);
    let c = central(&b, 0);
    put32(&mut b, c + C_CSIZE, 50);
    put32(&mut b, c + C_USIZE, 50);
    let archive = open(&b).expect("open");
    assert!(matches!(
        stream_error(&archive, "dd"),
        ZipError::CrcMismatch { .. }
    ));
}
