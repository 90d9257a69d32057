//! Hostile data: zip bombs, lying sizes, bad deflate streams and CRCs,
//! unsupported features, and a mutation loop over valid archives.

use super::*;

#[test]
fn deflate_bomb_is_stopped_at_declared_size() {
    const BOMB: usize = 50 * 1024 * 1024;
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("bomb.img", SimpleFileOptions::default())
        .expect("start");
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..BOMB / zeros.len() {
        w.write_all(&zeros).expect("write");
    }
    w.start_file("after.txt", SimpleFileOptions::default())
        .expect("start");
    w.write_all(b"still here").expect("write");
    let mut bytes = w.finish().expect("finish").into_inner();
    assert!(bytes.len() < 1 << 20, "50 MB of zeros compresses well");
    let (c, l) = (central(&bytes, 0), local(&bytes, 0));
    assert_eq!(get32(&bytes, c + C_USIZE) as usize, BOMB);
    put32(&mut bytes, c + C_USIZE, 1024);
    put32(&mut bytes, l + L_USIZE, 1024);

    let archive = open(&bytes).expect("open");
    let entry = archive.by_name("bomb.img").expect("bomb");
    let mut reader = archive.reader(entry).expect("reader");
    let mut sink = Vec::new();
    let err = reader.read_to_end(&mut sink).expect_err("bomb must fail");
    assert!(sink.len() <= 1024);
    assert!(reader.bytes_out() <= 1024);
    assert!(matches!(
        ZipError::from_io(err, "t"),
        ZipError::SizeMismatch {
            expected: 1024,
            actual: 1025,
            ..
        }
    ));
    // A caller offering a large buffer still gets at most the declared size.
    let mut reader = archive.reader(entry).expect("reader");
    let mut big = vec![0u8; 1 << 16];
    let mut delivered = 0usize;
    let err = loop {
        match reader.read(&mut big) {
            Ok(0) => panic!("bomb read to a clean EOF"),
            Ok(n) => delivered += n,
            Err(e) => break e,
        }
    };
    assert!(delivered <= 1024, "delivered {delivered}");
    assert!(matches!(
        ZipError::from_io(err, "t"),
        ZipError::SizeMismatch { actual: 1025, .. }
    ));
    assert!(matches!(
        archive.read_to_vec(entry, 1 << 20),
        Err(ZipError::SizeMismatch {
            expected: 1024,
            actual: 1025,
            ..
        })
    ));
    // Surplus beyond max_len is reported as EntryTooLarge...
    assert!(matches!(
        archive.read_to_vec(entry, 1024),
        Err(ZipError::EntryTooLarge {
            size: 1025,
            limit: 1024,
            ..
        })
    ));
    // ...and a declared size beyond max_len fails before reading.
    assert!(matches!(
        archive.read_to_vec(entry, 100),
        Err(ZipError::EntryTooLarge {
            size: 1024,
            limit: 100,
            ..
        })
    ));
    let after = archive.by_name("after.txt").expect("after");
    assert_eq!(
        archive.read_to_vec(after, 100).expect("after"),
        b"still here"
    );
}

#[test]
fn deflate_stream_shorter_than_declared() {
    let data = sample(5000, 18);
    let mut bytes = zip_crate(&[("short.bin", &data, DEFLATED)], false);
    let (c, l) = (central(&bytes, 0), local(&bytes, 0));
    put32(&mut bytes, c + C_USIZE, 5010);
    put32(&mut bytes, l + L_USIZE, 5010);
    let archive = open(&bytes).expect("open");
    assert!(matches!(
        stream_error(&archive, "short.bin"),
        ZipError::SizeMismatch {
            expected: 5010,
            actual: 5000,
            ..
        }
    ));
    // A huge claimed size: read_to_vec grows with the real data only.
    put32(&mut bytes, c + C_USIZE, 0xFFFF_FFF0);
    put32(&mut bytes, l + L_USIZE, 0xFFFF_FFF0);
    let archive = open(&bytes).expect("open");
    let entry = archive.by_name("short.bin").expect("entry");
    assert!(matches!(
        archive.read_to_vec(entry, u64::MAX),
        Err(ZipError::SizeMismatch {
            expected: 0xFFFF_FFF0,
            actual: 5000,
            ..
        })
    ));
}

#[test]
fn deflate_trailing_and_truncated_compressed_data() {
    let data = sample(5000, 19);
    let mut e = raw("t.bin", &data, true);
    e.junk_after = b"JUNK!".to_vec();
    let bytes = build(&[e], false);
    assert!(open(&bytes).is_ok());
    let (c, l) = (central(&bytes, 0), local(&bytes, 0));
    let csize = get32(&bytes, c + C_CSIZE);
    let resized = |size: u32| {
        let mut b = bytes.clone();
        put32(&mut b, c + C_CSIZE, size);
        put32(&mut b, l + L_CSIZE, size);
        b
    };
    // Compressed size covering bytes after the end of the deflate stream.
    let archive = open(&resized(csize + 5)).expect("open");
    let err = stream_error(&archive, "t.bin");
    assert!(matches!(err, ZipError::Corrupt { .. }), "{err:?}");
    // Compressed size cutting the deflate stream short.
    let archive = open(&resized(csize - 3)).expect("open");
    let err = stream_error(&archive, "t.bin");
    assert!(
        matches!(
            err,
            ZipError::Corrupt { .. } | ZipError::SizeMismatch { .. }
        ),
        "{err:?}"
    );
    // Not deflate at all.
    let mut b = bytes.clone();
    let data_offset = open(&bytes).expect("open").entries()[0].data_offset as usize;
    b[data_offset] = 0xff; // reserved block type 3
    let archive = open(&b).expect("open");
    let err = stream_error(&archive, "t.bin");
    assert!(matches!(err, ZipError::Corrupt { .. }), "{err:?}");
}

#[test]
fn crc_mismatch() {
    let data = sample(3000, 20);
    let bytes = zip_crate(
        &[("d.bin", &data, DEFLATED), ("s.bin", &data, STORED)],
        false,
    );
    // Wrong CRC in both headers.
    let mut b = bytes.clone();
    for off in [central(&bytes, 0) + C_CRC, local(&bytes, 0) + L_CRC] {
        put32(&mut b, off, crc32fast::hash(&data) ^ 0x8000_0000);
    }
    let archive = open(&b).expect("open");
    assert!(matches!(
        stream_error(&archive, "d.bin"),
        ZipError::CrcMismatch { expected, actual, .. }
            if actual == crc32fast::hash(&data) && expected != actual
    ));
    let entry = archive.by_name("d.bin").expect("d");
    assert!(matches!(
        archive.read_to_vec(entry, 1 << 20),
        Err(ZipError::CrcMismatch { .. })
    ));
    // Flipped data byte in a stored entry.
    let mut b = bytes.clone();
    let archive = open(&bytes).expect("open");
    let at = archive.by_name("s.bin").expect("s").data_offset as usize + 1234;
    b[at] ^= 0x20;
    let archive = open(&b).expect("open");
    assert!(matches!(
        stream_error(&archive, "s.bin"),
        ZipError::CrcMismatch { .. }
    ));
}

#[test]
fn read_to_vec_over_max_len() {
    let data = sample(10_000, 21);
    let bytes = zip_crate(&[("x", &data, DEFLATED)], false);
    let archive = open(&bytes).expect("open");
    let entry = &archive.entries()[0];
    assert!(matches!(
        archive.read_to_vec(entry, 9_999),
        Err(ZipError::EntryTooLarge {
            size: 10_000,
            limit: 9_999,
            ..
        })
    ));
    assert_eq!(archive.read_to_vec(entry, 10_000).expect("fits"), data);
}

#[test]
fn encryption_is_unsupported() {
    let bytes = three_entries();
    for flag in [FLAG_ENCRYPTED, FLAG_STRONG_ENCRYPTION, FLAG_MASKED_HEADERS] {
        let mut b = bytes.clone();
        put16(&mut b, central(&bytes, 1) + C_FLAGS, flag);
        put16(&mut b, local(&bytes, 1) + L_FLAGS, flag);
        assert!(
            matches!(open(&b), Err(ZipError::Unsupported { name, .. }) if name == "two.bin"),
            "flag {flag:#x}"
        );
    }
    // Encrypted according to one of the two headers only.
    let mut b = bytes.clone();
    put16(&mut b, local(&bytes, 1) + L_FLAGS, FLAG_ENCRYPTED);
    assert!(matches!(open(&b), Err(ZipError::Unsupported { .. })));
    let mut b = bytes.clone();
    put16(&mut b, central(&bytes, 1) + C_FLAGS, FLAG_ENCRYPTED);
    assert!(matches!(open(&b), Err(ZipError::Unsupported { .. })));
}

#[test]
fn other_methods_are_unsupported() {
    let bytes = three_entries();
    for method in [12u16, 14, 20, 95, 99, 1] {
        let mut b = bytes.clone();
        put16(&mut b, central(&bytes, 1) + C_METHOD, method);
        put16(&mut b, local(&bytes, 1) + L_METHOD, method);
        let r = open(&b);
        assert!(
            matches!(&r, Err(ZipError::Unsupported { name, reason })
                if name == "two.bin" && reason.contains(&method.to_string())),
            "method {method}: {r:?}"
        );
    }
}

#[test]
fn reader_rejects_entries_from_elsewhere() {
    let bytes = three_entries();
    let archive = open(&bytes).expect("open");
    let mut forged = archive.entries()[0].clone();
    forged.data_offset = archive.central_directory_offset();
    assert!(archive.reader(&forged).is_err());
    forged = archive.entries()[0].clone();
    forged.uncompressed_size = u64::MAX;
    assert!(archive.read_to_vec(&forged, u64::MAX).is_err());
}

#[test]
fn errors_display_and_from_io() {
    let err = ZipError::SizeMismatch {
        name: "a\nb".to_owned(),
        expected: 1,
        actual: 2,
    };
    // Names are debug-quoted so control characters cannot reach a terminal raw.
    assert!(err.to_string().contains("\"a\\nb\""));
    let plain = ZipError::from_io(io::Error::other("disk on fire"), "testing");
    assert!(matches!(
        plain,
        ZipError::Io {
            context: "testing",
            ..
        }
    ));
    let wrapped = ZipError::from_io(io::Error::other(ZipError::NotZip), "testing");
    assert!(matches!(wrapped, ZipError::NotZip));
}

#[test]
fn archive_and_readers_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<ZipArchive>();
    send_sync::<ZipError>();
    send::<EntryReader>();
    let bytes = three_entries();
    let archive = Arc::new(open(&bytes).expect("open"));
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let archive = Arc::clone(&archive);
            std::thread::spawn(move || {
                let entry = &archive.entries()[i];
                archive.read_to_vec(entry, 1 << 20).map(|v| v.len() as u64)
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let len = h.join().expect("thread").expect("read");
        assert_eq!(len, archive.entries()[i].uncompressed_size);
    }
}

// ----- property-style mutation loop ------------------------------------------

fn mutation_bases() -> Vec<Vec<u8>> {
    let mut z64 = vec![
        raw("z/one.txt", b"zip64 stored entry", false),
        raw("z/two.bin", &sample(700, 22), true),
    ];
    for e in &mut z64 {
        e.zip64 = true;
    }
    z64[1].descriptor = true;
    let mut dd = raw("dd.bin", &sample(300, 23), true);
    dd.descriptor = true;
    vec![
        zip_crate(
            &[
                ("a.txt", b"hello hello hello", STORED),
                ("b/c.bin", &sample(900, 24), DEFLATED),
                ("empty", b"", DEFLATED),
            ],
            false,
        ),
        zip_crate(&[("l.bin", &sample(400, 25), DEFLATED)], true),
        build(&z64, true),
        build(&[dd, raw("plain", b"plain", false)], false),
    ]
}

/// Opens and reads everything both ways; panics are the failure mode.
fn exercise(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ZipError> {
    let archive = open(bytes)?;
    for entry in archive.entries() {
        let _ = archive.read_to_vec(entry, 1 << 20);
    }
    read_everything(&archive)
}

#[test]
fn mutated_archives_never_panic_or_lie() {
    let mut opened = 0usize;
    let mut rejected = 0usize;
    for base in mutation_bases() {
        let original = exercise(&base).expect("unmodified base archive reads");
        let mut check = |bytes: &[u8], what: &str| match exercise(bytes) {
            Ok(got) => {
                // A single corrupted byte that still opens and reads
                // cleanly must not have changed any entry's content.
                assert_eq!(got, original, "{what}");
                opened += 1;
            }
            Err(_) => rejected += 1,
        };
        for pos in (0..base.len()).step_by(7) {
            for mutate in [0u8, 1, 2, 3] {
                let mut b = base.clone();
                match mutate {
                    0 => b[pos] ^= 0xff,
                    1 => b[pos] = 0,
                    2 => b[pos] = b[pos].wrapping_add(1),
                    _ => {
                        let end = (pos + 4).min(b.len());
                        b[pos..end].fill(0xff);
                    }
                }
                check(&b, &format!("mutation {mutate} at {pos}"));
            }
            check(&base[..pos], &format!("truncated at {pos}"));
        }
        // Offsets patched to u64::MAX-ish wherever an 8-byte value fits.
        for pos in (0..base.len().saturating_sub(8)).step_by(13) {
            let mut b = base.clone();
            put64(&mut b, pos, u64::MAX - (pos as u64 % 3));
            check(&b, &format!("u64 at {pos}"));
        }
    }
    assert!(
        rejected > 0 && opened > 0,
        "opened {opened}, rejected {rejected}"
    );
}
