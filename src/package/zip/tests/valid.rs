//! Archives that must open and read back exactly.

use super::*;

#[test]
fn round_trip_stored_and_deflate_streaming() {
    let big = sample(200_000, 1);
    let nested = sample(3000, 7);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(STORED);
    let deflated = SimpleFileOptions::default().compression_method(DEFLATED);
    w.start_file("hello.txt", stored).expect("start");
    w.write_all(b"hello world\n").expect("write");
    w.start_file("big.bin", deflated).expect("start");
    w.write_all(&big).expect("write");
    w.start_file("empty", stored).expect("start");
    w.start_file("empty-deflated", deflated).expect("start");
    w.add_directory("dir/", stored).expect("dir");
    w.start_file("dir/nested.txt", deflated).expect("start");
    w.write_all(&nested).expect("write");
    let bytes = w.finish().expect("finish").into_inner();

    let archive = open(&bytes).expect("open");
    assert_eq!(archive.file_len(), bytes.len() as u64);
    let names: Vec<&str> = archive.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "hello.txt",
            "big.bin",
            "empty",
            "empty-deflated",
            "dir/",
            "dir/nested.txt"
        ]
    );
    let expected: [(&str, &[u8]); 6] = [
        ("hello.txt", b"hello world\n"),
        ("big.bin", &big),
        ("empty", b""),
        ("empty-deflated", b""),
        ("dir/", b""),
        ("dir/nested.txt", &nested),
    ];

    let big_entry = archive.by_name("big.bin").expect("big.bin");
    assert_eq!(big_entry.method, Method::Deflated);
    assert!(big_entry.compressed_size < big_entry.uncompressed_size);
    assert_eq!(big_entry.crc32, crc32fast::hash(&big));
    assert_eq!(
        archive.by_name("hello.txt").expect("hello").method,
        Method::Stored
    );
    assert!(archive.by_name("dir/").expect("dir").is_dir());
    assert!(archive.by_name("missing").is_none());
    assert!(archive.central_directory_offset() < archive.file_len());

    for entry in archive.entries() {
        // data_offset is right after the local header's name and extra field.
        let lho = entry.local_header_offset as usize;
        let n = get16(&bytes, lho + 26) as u64;
        let m = get16(&bytes, lho + 28) as u64;
        assert_eq!(entry.data_offset, entry.local_header_offset + 30 + n + m);
    }

    for (name, data) in expected {
        let entry = archive.by_name(name).expect("entry");
        assert_eq!(entry.uncompressed_size, data.len() as u64, "{name}");
        for chunk in [1usize, 7, 4096, 1 << 20] {
            let mut reader = archive.reader(entry).expect("reader");
            let mut got = Vec::new();
            let mut buf = vec![0u8; chunk];
            loop {
                let n = reader.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, data, "{name} in chunks of {chunk}");
            assert_eq!(reader.bytes_out(), data.len() as u64);
            assert_eq!(reader.read(&mut buf).expect("eof"), 0);
        }
        let whole = archive.read_to_vec(entry, 1 << 20).expect("read_to_vec");
        assert_eq!(whole, data, "{name}");
    }
}

#[test]
fn readers_share_one_descriptor_without_seeking() {
    let a = sample(100_000, 3);
    let b = sample(100_000, 4);
    let bytes = zip_crate(&[("a", &a, DEFLATED), ("b", &b, STORED)], false);
    let archive = open(&bytes).expect("open");
    let mut ra = archive
        .reader(archive.by_name("a").expect("a"))
        .expect("reader a");
    let mut rb = archive
        .reader(archive.by_name("b").expect("b"))
        .expect("reader b");
    let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
    let mut buf = [0u8; 1000];
    // Interleave reads: a seek-based reader would corrupt one of them.
    loop {
        let na = ra.read(&mut buf).expect("read a");
        got_a.extend_from_slice(&buf[..na]);
        let nb = rb.read(&mut buf).expect("read b");
        got_b.extend_from_slice(&buf[..nb]);
        if na == 0 && nb == 0 {
            break;
        }
    }
    assert_eq!(got_a, a);
    assert_eq!(got_b, b);
    // Readers do not borrow the archive.
    let mut late = archive
        .reader(archive.by_name("a").expect("a"))
        .expect("reader");
    drop(archive);
    let mut again = Vec::new();
    late.read_to_end(&mut again).expect("read after drop");
    assert_eq!(again, a);
}

#[test]
fn read_exact_of_declared_size_verifies_crc() {
    let mut bytes = zip_crate(&[("x.bin", &sample(10_000, 5), DEFLATED)], false);
    let (c, l) = (central(&bytes, 0), local(&bytes, 0));
    let bad = get32(&bytes, c + C_CRC) ^ 1;
    put32(&mut bytes, c + C_CRC, bad);
    put32(&mut bytes, l + L_CRC, bad);
    let archive = open(&bytes).expect("open");
    let mut reader = archive.reader(&archive.entries()[0]).expect("reader");
    // A caller that reads exactly the declared size never sees EOF, yet
    // the final read must still fail the CRC check.
    let mut buf = vec![0u8; 10_000];
    let err = reader.read_exact(&mut buf).expect_err("crc must fail");
    assert!(matches!(
        ZipError::from_io(err, "t"),
        ZipError::CrcMismatch { .. }
    ));
}

#[test]
fn empty_archive_opens() {
    let bytes = zip_crate(&[], false);
    assert_eq!(bytes.len(), 22);
    let archive = open(&bytes).expect("open");
    assert!(archive.entries().is_empty());
}

#[test]
fn archive_comment_is_allowed_and_must_end_the_file() {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.set_comment("signed by test PK\u{5}\u{6} fake")
        .expect("comment");
    w.start_file("a", SimpleFileOptions::default())
        .expect("start");
    w.write_all(b"abc").expect("write");
    let bytes = w.finish().expect("finish").into_inner();
    let archive = open(&bytes).expect("open with comment");
    assert_eq!(
        stream_entry(&archive, &archive.entries()[0]).expect("read"),
        b"abc"
    );
    // Trailing garbage after the comment: the comment length no longer matches.
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"junk");
    assert!(matches!(open(&longer), Err(ZipError::NotZip)));
}

#[test]
fn zip64_extra_fields_from_zip_crate() {
    let big = sample(70_000, 9);
    let bytes = zip_crate(
        &[
            ("s.txt", b"stored zip64", STORED),
            ("d.bin", &big, DEFLATED),
        ],
        true,
    );
    // The writer really used the zip64 extra field: the 32-bit sizes are sentinels.
    for i in 0..2 {
        assert_eq!(get32(&bytes, central(&bytes, i) + C_CSIZE), U32_SENTINEL);
        assert_eq!(get32(&bytes, local(&bytes, i) + L_USIZE), U32_SENTINEL);
    }
    let archive = open(&bytes).expect("open zip64");
    let got = read_everything(&archive).expect("read");
    assert_eq!(got[0], ("s.txt".to_owned(), b"stored zip64".to_vec()));
    assert_eq!(got[1], ("d.bin".to_owned(), big.clone()));
    assert_eq!(archive.entries()[0].compressed_size, 12);
    assert_eq!(archive.entries()[1].uncompressed_size, big.len() as u64);
}

#[test]
fn zip64_end_records_are_preferred() {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.set_raw_zip64_extensible_data_sector(Box::new([]));
    for (name, data) in [("a", &b"alpha"[..]), ("b", &b"beta"[..])] {
        w.start_file(name, SimpleFileOptions::default())
            .expect("start");
        w.write_all(data).expect("write");
    }
    let bytes = w.finish().expect("finish").into_inner();
    assert_eq!(positions(&bytes, ZIP64_LOCATOR_SIG).len(), 1);
    assert_eq!(positions(&bytes, ZIP64_EOCD_SIG).len(), 1);
    let archive = open(&bytes).expect("open");
    assert_eq!(archive.entries().len(), 2);

    // 32-bit fields all deferring to zip64: still the same archive.
    let e = eocd(&bytes);
    let mut deferring = bytes.clone();
    put16(&mut deferring, e + E_ENTRIES_DISK, U16_SENTINEL);
    put16(&mut deferring, e + E_ENTRIES, U16_SENTINEL);
    put32(&mut deferring, e + E_CD_SIZE, U32_SENTINEL);
    put32(&mut deferring, e + E_CD_OFFSET, U32_SENTINEL);
    let archive = open(&deferring).expect("open deferring");
    let got = read_everything(&archive).expect("read");
    assert_eq!(got[1], ("b".to_owned(), b"beta".to_vec()));

    // A 32-bit count that disagrees with the zip64 record is rejected.
    let mut disagreeing = bytes.clone();
    put16(&mut disagreeing, e + E_ENTRIES, 1);
    put16(&mut disagreeing, e + E_ENTRIES_DISK, 1);
    assert!(matches!(open(&disagreeing), Err(ZipError::Corrupt { .. })));
}

#[test]
fn zip64_hand_built_with_offsets_in_extra_field() {
    let big = sample(50_000, 11);
    let mut entries = vec![
        raw("first.txt", b"zip64 stored", false),
        raw("second.bin", &big, true),
        raw("third.bin", &sample(999, 12), true),
    ];
    for e in &mut entries {
        e.zip64 = true;
    }
    entries[2].descriptor = true;
    let bytes = build(&entries, true);

    // The zip crate agrees this is a well-formed archive.
    let mut theirs = zip::ZipArchive::new(Cursor::new(bytes.clone())).expect("zip crate");
    for (i, e) in entries.iter().enumerate() {
        let mut f = theirs.by_index(i).expect("by_index");
        let mut v = Vec::new();
        f.read_to_end(&mut v).expect("zip crate read");
        assert_eq!(v, e.data);
    }

    let archive = open(&bytes).expect("open");
    assert_eq!(
        archive.entries()[1].local_header_offset,
        local(&bytes, 1) as u64
    );
    assert_eq!(
        archive.entries()[2].local_header_offset,
        local(&bytes, 2) as u64
    );
    let got = read_everything(&archive).expect("read");
    for (e, (name, data)) in entries.iter().zip(got) {
        assert_eq!(name.as_bytes(), e.name);
        assert_eq!(data, e.data);
    }
}

#[test]
fn data_descriptor_from_zip_crate_stream_writer() {
    let data = sample(30_000, 13);
    let mut w = zip::ZipWriter::new_stream(Vec::new());
    w.start_file("streamed.bin", SimpleFileOptions::default())
        .expect("start");
    w.write_all(&data).expect("write");
    w.start_file("second.txt", SimpleFileOptions::default())
        .expect("start");
    w.write_all(b"after a descriptor").expect("write");
    let bytes = w.finish().expect("finish").into_inner();
    let c = central(&bytes, 0);
    assert_ne!(get16(&bytes, c + C_FLAGS) & FLAG_DATA_DESCRIPTOR, 0);
    assert_eq!(get32(&bytes, local(&bytes, 0) + L_CRC), 0);

    let archive = open(&bytes).expect("open");
    let got = read_everything(&archive).expect("read");
    assert_eq!(got[0].1, data);
    assert_eq!(got[1].1, b"after a descriptor");

    // Local and central headers must agree on using a descriptor.
    let mut mismatched = bytes.clone();
    let l = local(&bytes, 0);
    let flags = get16(&bytes, l + L_FLAGS) & !FLAG_DATA_DESCRIPTOR;
    put16(&mut mismatched, l + L_FLAGS, flags);
    assert!(matches!(
        open(&mismatched),
        Err(ZipError::HeaderMismatch { field: "flags", .. })
    ));
}

#[test]
fn data_descriptor_hand_built() {
    let mut a = raw("dd-stored", b"stored with a descriptor", false);
    a.descriptor = true;
    let mut b = raw("dd-deflated", &sample(4000, 14), true);
    b.descriptor = true;
    let bytes = build(&[a.clone(), b.clone()], false);
    let archive = open(&bytes).expect("open");
    let got = read_everything(&archive).expect("read");
    assert_eq!(got[0].1, a.data);
    assert_eq!(got[1].1, b.data);
}
