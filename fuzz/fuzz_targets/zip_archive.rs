//! The bounded zip reader and the manifest-against-entries check, on arbitrary bytes.
//!
//! Properties checked beyond "no panic, no unbounded allocation, no hang": an entry reader
//! never yields more than the entry's declared uncompressed size, and `read_to_vec` agrees with
//! the streaming reader.
#![no_main]

use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recovery_updater::package::zip::{Limits, ZipArchive};
use recovery_updater::package::{check_entries, Manifest, MANIFEST_ENTRY};

/// An anonymous in-memory file holding `data` (the reader takes a real file descriptor).
fn memfd(data: &[u8]) -> std::fs::File {
    // SAFETY: memfd_create with a valid NUL-terminated name and no flags; the returned
    // descriptor is owned by the File below and closed when it is dropped.
    let fd = unsafe { libc::memfd_create(c"fuzz-zip".as_ptr(), 0) };
    assert!(fd >= 0, "memfd_create failed");
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    f.write_all(data).expect("write memfd");
    f
}

fuzz_target!(|data: &[u8]| {
    let file = Arc::new(memfd(data));
    let Ok(zip) = ZipArchive::open(file, &Limits::default()) else {
        return;
    };
    let mut buf = vec![0u8; 64 * 1024];
    for e in zip.entries() {
        let Ok(mut r) = zip.reader(e) else { continue };
        let mut total = 0u64;
        let streamed_ok = loop {
            match r.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => {
                    total += n as u64;
                    assert!(
                        total <= e.uncompressed_size,
                        "reader yielded more than the declared size"
                    );
                }
                Err(_) => break false,
            }
        };
        if streamed_ok {
            assert_eq!(total, e.uncompressed_size, "short entry accepted");
        }
        let whole = zip.read_to_vec(e, 16 << 20);
        if streamed_ok && e.uncompressed_size <= 16 << 20 {
            assert_eq!(whole.map(|v| v.len() as u64).ok(), Some(total));
        }
    }
    if let Some(m) = zip.by_name(MANIFEST_ENTRY).cloned() {
        if let Ok(bytes) = zip.read_to_vec(&m, 1 << 20) {
            if let Ok(manifest) = Manifest::parse(&bytes) {
                let _ = check_entries(&zip, &manifest.images);
            }
        }
    }
});
