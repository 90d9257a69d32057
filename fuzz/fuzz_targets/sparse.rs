//! The Android sparse expander (src/package/sparse). Properties: any bytes, with the signed
//! expanded size taken from their own header (or 0), never panic; the operations are handed on
//! in output order, each starting where the last ended; a successful `finish` means they cover
//! exactly the expanded size; and feeding the same bytes in 7-byte pieces gives the same
//! operations (data bytes, fill and don't-care ranges) and the same outcome as feeding them at
//! once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use recovery_updater::package::sparse::{header::FileHeader, Expander, Op};
use sha2::{Digest, Sha256};

/// Feeds `data` in pieces of `step` bytes; returns a digest of the operations and the outcome.
fn run(data: &[u8], expected: u64, step: usize) -> ([u8; 32], Result<(), String>) {
    let mut x = Expander::new("fuzz", expected);
    let mut h = Sha256::new();
    let mut end = 0u64;
    let mut result = Ok(());
    for piece in data.chunks(step) {
        let r = x.feed(piece, &mut |op| {
            let (offset, len) = match op {
                Op::Data { offset, bytes } => {
                    h.update(bytes);
                    (offset, bytes.len() as u64)
                }
                Op::Fill {
                    offset,
                    len,
                    pattern,
                } => {
                    h.update([1]);
                    h.update(offset.to_le_bytes());
                    h.update(len.to_le_bytes());
                    h.update(pattern);
                    (offset, len)
                }
                Op::DontCare { offset, len } => {
                    h.update([2]);
                    h.update(offset.to_le_bytes());
                    h.update(len.to_le_bytes());
                    (offset, len)
                }
            };
            assert_eq!(offset, end, "operations in order, without gaps");
            end = offset + len;
            assert!(end <= expected, "never past the expanded size");
            Ok(())
        });
        if let Err(e) = r {
            result = Err(e.to_string());
            break;
        }
    }
    if result.is_ok() {
        result = x.finish().map_err(|e| e.to_string());
        if result.is_ok() {
            assert_eq!(end, expected, "a complete image covers its expanded size");
        }
    }
    assert_eq!(x.expanded(), end);
    (h.finalize().into(), result)
}

fuzz_target!(|data: &[u8]| {
    let expected = FileHeader::parse(data).map_or(0, |h| h.expanded_size());
    let whole = run(data, expected, data.len().max(1));
    let pieces = run(data, expected, 7);
    assert_eq!(whole, pieces);
});
