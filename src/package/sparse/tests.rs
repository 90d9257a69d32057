use super::header::*;
use super::*;

/// A sparse image builder for the tests: (type, chunk_sz, body).
fn image(blk: u32, total_blks: u32, extra_hdr: u16, chunks: &[(u16, u32, Vec<u8>)]) -> Vec<u8> {
    let fh = FILE_HEADER_LEN as u16 + extra_hdr;
    let ch = CHUNK_HEADER_LEN as u16 + extra_hdr;
    let mut v = Vec::new();
    v.extend(MAGIC.to_le_bytes());
    v.extend(1u16.to_le_bytes());
    v.extend(0u16.to_le_bytes());
    v.extend(fh.to_le_bytes());
    v.extend(ch.to_le_bytes());
    v.extend(blk.to_le_bytes());
    v.extend(total_blks.to_le_bytes());
    v.extend((chunks.len() as u32).to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(std::iter::repeat_n(0xEE, usize::from(extra_hdr)));
    for (kind, sz, body) in chunks {
        v.extend(kind.to_le_bytes());
        v.extend(0u16.to_le_bytes());
        v.extend(sz.to_le_bytes());
        v.extend((u32::from(ch) + body.len() as u32).to_le_bytes());
        v.extend(std::iter::repeat_n(0xEE, usize::from(extra_hdr)));
        v.extend(body);
    }
    v
}

/// Expands `input` fed in pieces of `step` bytes into a buffer (DONT_CARE as 0xDD).
fn expand(input: &[u8], size: u64, step: usize) -> Result<Vec<u8>, Error> {
    let mut out = vec![0u8; size as usize];
    let mut x = Expander::new("system", size);
    for piece in input.chunks(step.max(1)) {
        x.feed(piece, &mut |op| {
            match op {
                Op::Data { offset, bytes } => {
                    out[offset as usize..offset as usize + bytes.len()].copy_from_slice(bytes)
                }
                Op::Fill {
                    offset,
                    len,
                    pattern,
                } => (0..len as usize).for_each(|i| out[offset as usize + i] = pattern[i % 4]),
                Op::DontCare { offset, len } => {
                    out[offset as usize..(offset + len) as usize].fill(0xDD)
                }
            }
            Ok(())
        })?;
    }
    x.finish()?;
    Ok(out)
}

fn raw(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn code(r: Result<Vec<u8>, Error>) -> u16 {
    use crate::error::HasCode;
    r.expect_err("must fail").code().info().number
}

#[test]
fn expands_every_chunk_type_fed_in_any_piece_size() {
    let blk = 16u32;
    let data = raw(32, 1);
    let mut want = data.clone();
    want.extend([1, 2, 3, 4].repeat(12)); // 3 blocks of FILL
    let crc = crc32fast::hash(&want);
    let mut want_full = want.clone();
    want_full.extend([0xDD; 16]);
    let chunks = vec![
        (CHUNK_RAW, 2, data),
        (CHUNK_FILL, 3, vec![1, 2, 3, 4]),
        (CHUNK_CRC32, 0, crc.to_le_bytes().to_vec()),
        (CHUNK_DONT_CARE, 1, vec![]),
    ];
    for extra in [0u16, 4, 100] {
        let img = image(blk, 6, extra, &chunks);
        for step in [1, 3, 7, 12, 28, 4096] {
            assert_eq!(
                expand(&img, 96, step).expect("valid"),
                want_full,
                "{extra}/{step}"
            );
        }
    }
}

#[test]
fn crc_covers_dont_care_as_zeros_and_long_fills() {
    let blk = 4096u32;
    let mut out = vec![0u8; 4096 * 3];
    out.extend([9, 9, 9, 9].repeat(1024 * 1000));
    let crc = crc32fast::hash(&out);
    let img = image(
        blk,
        1003,
        0,
        &[
            (CHUNK_DONT_CARE, 3, vec![]),
            (CHUNK_FILL, 1000, vec![9, 9, 9, 9]),
            (CHUNK_CRC32, 0, crc.to_le_bytes().to_vec()),
        ],
    );
    assert!(expand(&img, 1003 * 4096, 4096).is_ok());
}

#[test]
fn each_malformed_image_fails_with_its_code() {
    let ok = || vec![(CHUNK_RAW, 1, raw(16, 2)), (CHUNK_FILL, 1, vec![0; 4])];
    assert!(expand(&image(16, 2, 0, &ok()), 32, 5).is_ok());
    // Bad magic.
    let mut bad = image(16, 2, 0, &ok());
    bad[0] ^= 1;
    assert_eq!(code(expand(&bad, 32, 64)), 9033);
    // Major version 2.
    let mut bad = image(16, 2, 0, &ok());
    bad[4] = 2;
    assert_eq!(code(expand(&bad, 32, 64)), 9033);
    // Block size not a multiple of 4; huge block size.
    assert_eq!(code(expand(&image(18, 2, 0, &ok()), 36, 64)), 9033);
    let huge = image(1 << 30, 0, 0, &[]);
    assert_eq!(code(expand(&huge, 0, 64)), 9033);
    // Header disagrees with the signed expanded size.
    assert_eq!(code(expand(&image(16, 2, 0, &ok()), 48, 64)), 9033);
    // Chunk past the end.
    let past = image(
        16,
        2,
        0,
        &[(CHUNK_RAW, 1, raw(16, 2)), (CHUNK_FILL, 2, vec![0; 4])],
    );
    assert_eq!(code(expand(&past, 32, 64)), 9033);
    // Blocks do not add up to total_blks.
    let short = image(16, 3, 0, &ok());
    assert_eq!(code(expand(&short, 48, 64)), 9033);
    // RAW body size disagrees with chunk_sz.
    let lying = image(16, 2, 0, &[(CHUNK_RAW, 2, raw(16, 2))]);
    assert_eq!(code(expand(&lying, 32, 64)), 9033);
    // Unknown chunk type.
    let unknown = image(16, 1, 0, &[(0xCAC5, 1, vec![])]);
    assert_eq!(code(expand(&unknown, 16, 64)), 9033);
    // Truncated inside a chunk; trailing data after the last chunk.
    let img = image(16, 2, 0, &ok());
    assert_eq!(code(expand(&img[..img.len() - 2], 32, 64)), 9033);
    let mut trailing = img.clone();
    trailing.push(0);
    assert_eq!(code(expand(&trailing, 32, 64)), 9033);
    // total_sz smaller than the chunk header.
    let mut small = img.clone();
    small[28 + 8..28 + 12].copy_from_slice(&4u32.to_le_bytes());
    assert_eq!(code(expand(&small, 32, 64)), 9033);
    // A CRC32 chunk that does not match.
    let crc = image(
        16,
        1,
        0,
        &[
            (CHUNK_RAW, 1, raw(16, 2)),
            (CHUNK_CRC32, 0, vec![1, 2, 3, 4]),
        ],
    );
    assert_eq!(code(expand(&crc, 16, 64)), 9034);
}
