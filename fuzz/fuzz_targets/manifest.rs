//! The manifest JSON parser and validator, on arbitrary bytes. A manifest that parses must
//! re-serialise to JSON that parses to the same manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use recovery_updater::package::manifest::signing_key_hint;
use recovery_updater::package::Manifest;

fuzz_target!(|data: &[u8]| {
    let _ = signing_key_hint(data);
    if let Ok(m) = Manifest::parse(data) {
        let m2 = Manifest::parse(&m.to_json()).expect("re-serialised manifest parses");
        assert_eq!(m, m2);
        for a in &m.images {
            // Every chunk hash accounts for a non-empty part of the image.
            let sum: u64 = (0..a.chunks.len()).map(|i| a.chunk_len(i)).sum();
            assert_eq!(sum, a.size);
        }
    }
});
