//! The Android sparse image's file and chunk headers (AOSP libsparse `sparse_format.h`).
//!
//! All fields are little-endian.
//!
//! File header, `file_hdr_sz` bytes (28 in every tool; larger values are honoured by skipping the
//! extra bytes):
//!
//! | off | type | field |
//! |---|---|---|
//! | 0 | u32 | magic 0xED26FF3A |
//! | 4 | u16 | major version: 1 (a higher one is refused) |
//! | 6 | u16 | minor version (any accepted) |
//! | 8 | u16 | file_hdr_sz, ≥ 28 |
//! | 10 | u16 | chunk_hdr_sz, ≥ 12 |
//! | 12 | u32 | blk_sz: a multiple of 4, here 4 .. 64 MiB |
//! | 16 | u32 | total_blks: output blocks |
//! | 20 | u32 | total_chunks |
//! | 24 | u32 | image_checksum (tools write 0; not used) |
//!
//! Chunk header, `chunk_hdr_sz` bytes (12 normally):
//!
//! | off | type | field |
//! |---|---|---|
//! | 0 | u16 | type: RAW 0xCAC1, FILL 0xCAC2, DONT_CARE 0xCAC3, CRC32 0xCAC4 |
//! | 2 | u16 | reserved |
//! | 4 | u32 | chunk_sz: output blocks |
//! | 8 | u32 | total_sz: input bytes of the chunk, header included |
//!
//! RAW is followed by `chunk_sz * blk_sz` bytes, FILL by a 4-byte pattern, CRC32 by the 4-byte
//! CRC-32 of all output so far (it has no output blocks), DONT_CARE by nothing.

pub const MAGIC: u32 = 0xED26_FF3A;
pub const FILE_HEADER_LEN: usize = 28;
pub const CHUNK_HEADER_LEN: usize = 12;
pub const MAJOR_VERSION: u16 = 1;
/// Largest block size accepted. libsparse uses 4096; anything this large is already odd, and a
/// bound keeps `chunk_sz * blk_sz` products and fill buffers small.
pub const MAX_BLOCK_SIZE: u32 = 64 << 20;
/// Largest header sizes accepted (the extra bytes are skipped, so this only bounds the buffer).
pub const MAX_HEADER_LEN: u16 = 4096;

pub const CHUNK_RAW: u16 = 0xCAC1;
pub const CHUNK_FILL: u16 = 0xCAC2;
pub const CHUNK_DONT_CARE: u16 = 0xCAC3;
pub const CHUNK_CRC32: u16 = 0xCAC4;

/// The parsed file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader {
    pub file_hdr_sz: u16,
    pub chunk_hdr_sz: u16,
    pub blk_sz: u32,
    pub total_blks: u32,
    pub total_chunks: u32,
}

impl FileHeader {
    /// The size of the expanded image in bytes.
    pub fn expanded_size(&self) -> u64 {
        u64::from(self.total_blks) * u64::from(self.blk_sz)
    }

    /// Parses and checks the first 28 bytes. `Err` is the reason, for the caller to wrap.
    pub fn parse(b: &[u8]) -> Result<FileHeader, String> {
        let (Some(magic), Some(major), Some(file_hdr_sz), Some(chunk_hdr_sz)) =
            (u32_at(b, 0), u16_at(b, 4), u16_at(b, 8), u16_at(b, 10))
        else {
            return Err("shorter than the 28-byte sparse header".into());
        };
        if magic != MAGIC {
            return Err(format!("magic {magic:#010x}, not {MAGIC:#010x}"));
        }
        if major != MAJOR_VERSION {
            return Err(format!("major version {major}, only 1 is known"));
        }
        if !(FILE_HEADER_LEN as u16..=MAX_HEADER_LEN).contains(&file_hdr_sz) {
            return Err(format!("file header size {file_hdr_sz}"));
        }
        if !(CHUNK_HEADER_LEN as u16..=MAX_HEADER_LEN).contains(&chunk_hdr_sz) {
            return Err(format!("chunk header size {chunk_hdr_sz}"));
        }
        let (Some(blk_sz), Some(total_blks), Some(total_chunks)) =
            (u32_at(b, 12), u32_at(b, 16), u32_at(b, 20))
        else {
            return Err("shorter than the 28-byte sparse header".into());
        };
        if blk_sz == 0 || blk_sz % 4 != 0 || blk_sz > MAX_BLOCK_SIZE {
            return Err(format!(
                "block size {blk_sz} (must be a multiple of 4, at most {MAX_BLOCK_SIZE})"
            ));
        }
        Ok(FileHeader {
            file_hdr_sz,
            chunk_hdr_sz,
            blk_sz,
            total_blks,
            total_chunks,
        })
    }
}

/// A parsed chunk header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    pub kind: u16,
    pub chunk_sz: u32,
    pub total_sz: u32,
}

impl ChunkHeader {
    pub fn parse(b: &[u8]) -> Option<ChunkHeader> {
        Some(ChunkHeader {
            kind: u16_at(b, 0)?,
            chunk_sz: u32_at(b, 4)?,
            total_sz: u32_at(b, 8)?,
        })
    }
}

/// Whether `b` starts with the sparse magic (pack-time detection).
pub fn has_magic(b: &[u8]) -> bool {
    u32_at(b, 0) == Some(MAGIC)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(super) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
