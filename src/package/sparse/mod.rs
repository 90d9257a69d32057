//! Android sparse images (`format = "android-sparse"`): a strict, bounded, streaming expander.
//!
//! The install feeds the expander the image's bytes as they come out of the chunk-verified
//! stream (so every input byte was checked against its signed SHA-256 first) and the expander
//! turns them into output operations: write these bytes here, fill this range with a 4-byte
//! pattern, this range is "don't care". It keeps no more than one header (at most 4 KiB) of
//! input; RAW data is handed on as slices of the verified buffers, never copied.
//!
//! Every structural rule is checked as the bytes arrive, before the operation they imply is
//! handed on: a chunk whose blocks would run past `total_blks`, a chunk whose `total_sz`
//! disagrees with its type, more chunks than `total_chunks`, data after the last chunk, a
//! header that does not match the signed expanded size, a block size out of range: each is
//! [`Error::SparseInvalid`] (9033). A CRC32 chunk that does not match the CRC-32 of the output
//! so far (DONT_CARE ranges count as zeros, as in libsparse) is [`Error::SparseCrcMismatch`]
//! (9034). The layout is in [`header`] and docs/FORMAT.md.

pub mod header;
#[cfg(test)]
mod tests;

use header::{ChunkHeader, FileHeader};

use crate::Error;

/// The manifest's `format` value for Android sparse images.
pub const FORMAT_ANDROID_SPARSE: &str = "android-sparse";

/// One output operation, in output order, covering the expanded image exactly once.
#[derive(Debug, PartialEq, Eq)]
pub enum Op<'a> {
    /// Write `bytes` at `offset` (RAW chunk data).
    Data { offset: u64, bytes: &'a [u8] },
    /// Fill `len` bytes at `offset` with `pattern` repeated (FILL chunk).
    Fill {
        offset: u64,
        len: u64,
        pattern: [u8; 4],
    },
    /// `len` bytes at `offset` are not part of the image (DONT_CARE chunk).
    DontCare { offset: u64, len: u64 },
}

/// What the expander is collecting or copying next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting the file header into `pending` (28 bytes, then up to `file_hdr_sz`).
    FileHeader,
    /// Collecting a chunk header (`chunk_hdr_sz` bytes).
    ChunkHeader,
    /// Copying this many more bytes of RAW data.
    Raw { left: u64 },
    /// Collecting a FILL chunk's pattern for this many output bytes.
    FillPattern { len: u64 },
    /// Collecting a CRC32 chunk's value.
    Crc,
}

/// The streaming expander of one sparse image.
pub struct Expander {
    partition: String,
    /// The signed expanded size (manifest `expanded_size`); the header must agree.
    expected_size: u64,
    header: Option<FileHeader>,
    state: State,
    pending: Vec<u8>,
    /// Input bytes consumed so far (for error messages).
    in_pos: u64,
    /// Output bytes produced so far.
    out_pos: u64,
    chunks_seen: u32,
    /// Offset in the input where the current chunk started.
    chunk_start: u64,
    crc: crc32fast::Hasher,
}

impl Expander {
    pub fn new(partition: &str, expected_size: u64) -> Expander {
        Expander {
            partition: partition.to_owned(),
            expected_size,
            header: None,
            state: State::FileHeader,
            pending: Vec::with_capacity(header::FILE_HEADER_LEN),
            in_pos: 0,
            out_pos: 0,
            chunks_seen: 0,
            chunk_start: 0,
            crc: crc32fast::Hasher::new(),
        }
    }

    /// Output bytes produced so far.
    pub fn expanded(&self) -> u64 {
        self.out_pos
    }

    fn invalid(&self, at: u64, reason: impl Into<String>) -> Error {
        Error::SparseInvalid {
            partition: self.partition.clone(),
            offset: at,
            reason: reason.into(),
        }
    }

    /// Consumes the next input bytes, handing each complete operation to `sink` in order.
    pub fn feed(
        &mut self,
        mut input: &[u8],
        sink: &mut impl FnMut(Op<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        // Each pass consumes at least one byte or returns.
        while !input.is_empty() {
            match self.state {
                State::Raw { left } => {
                    let n = usize::try_from(left).map_or(input.len(), |l| l.min(input.len()));
                    let (bytes, rest) = input.split_at(n);
                    self.crc.update(bytes);
                    sink(Op::Data {
                        offset: self.out_pos,
                        bytes,
                    })?;
                    self.out_pos += n as u64;
                    self.in_pos += n as u64;
                    input = rest;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::ChunkHeader
                    } else {
                        State::Raw { left }
                    };
                }
                _ => {
                    if self
                        .header
                        .is_some_and(|h| self.chunks_seen >= h.total_chunks)
                        && self.state == State::ChunkHeader
                    {
                        return Err(self.invalid(self.in_pos, "data after the last chunk"));
                    }
                    let need = self.need();
                    let take = need.saturating_sub(self.pending.len()).min(input.len());
                    let (head, rest) = input.split_at(take);
                    self.pending.extend_from_slice(head);
                    self.in_pos += take as u64;
                    input = rest;
                    if self.pending.len() == need {
                        self.collected(sink)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Bytes `pending` must hold before the current state can go on.
    fn need(&self) -> usize {
        match (self.state, self.header) {
            (State::FileHeader, None) => header::FILE_HEADER_LEN,
            (State::FileHeader, Some(h)) => usize::from(h.file_hdr_sz),
            (State::ChunkHeader, Some(h)) => usize::from(h.chunk_hdr_sz),
            (State::ChunkHeader, None) => header::CHUNK_HEADER_LEN,
            (State::FillPattern { .. } | State::Crc, _) => 4,
            (State::Raw { .. }, _) => 0,
        }
    }

    /// `pending` holds what the state needed: act on it.
    fn collected(
        &mut self,
        sink: &mut impl FnMut(Op<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        match self.state {
            State::FileHeader => {
                if self.header.is_none() {
                    let h = FileHeader::parse(&self.pending).map_err(|r| self.invalid(0, r))?;
                    if h.expanded_size() != self.expected_size {
                        return Err(self.invalid(
                            16,
                            format!(
                                "header gives {} blocks of {} bytes = {} bytes, the signed \
                                 expanded size is {}",
                                h.total_blks,
                                h.blk_sz,
                                h.expanded_size(),
                                self.expected_size
                            ),
                        ));
                    }
                    self.header = Some(h);
                    if usize::from(h.file_hdr_sz) > self.pending.len() {
                        return Ok(()); // collect (and skip) the larger header's extra bytes
                    }
                }
                self.pending.clear();
                self.state = State::ChunkHeader;
                self.chunk_start = self.in_pos;
            }
            State::ChunkHeader => {
                let at = self.chunk_start;
                let ch = ChunkHeader::parse(&self.pending)
                    .ok_or_else(|| self.invalid(at, "short chunk header"))?;
                self.pending.clear();
                self.chunk(ch, sink)?;
            }
            State::FillPattern { len } => {
                let mut pattern = [0u8; 4];
                pattern.copy_from_slice(&self.pending);
                self.pending.clear();
                let blk = self.header.map_or(4, |h| h.blk_sz);
                self.crc.combine(&fill_crc(pattern, len, blk));
                sink(Op::Fill {
                    offset: self.out_pos,
                    len,
                    pattern,
                })?;
                self.out_pos += len;
                self.next_chunk();
            }
            State::Crc => {
                let expected = header::u32_at(&self.pending, 0).unwrap_or_default();
                self.pending.clear();
                let calculated = self.crc.clone().finalize();
                if expected != calculated {
                    return Err(Error::SparseCrcMismatch {
                        partition: self.partition.clone(),
                        offset: self.chunk_start,
                        expected,
                        calculated,
                    });
                }
                self.next_chunk();
            }
            State::Raw { .. } => {}
        }
        Ok(())
    }

    fn next_chunk(&mut self) {
        self.state = State::ChunkHeader;
        self.chunk_start = self.in_pos;
    }

    /// A chunk header was read: check it against the file header and start its body.
    fn chunk(
        &mut self,
        ch: ChunkHeader,
        sink: &mut impl FnMut(Op<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let at = self.chunk_start;
        let Some(h) = self.header else {
            return Err(self.invalid(at, "chunk before the file header"));
        };
        self.chunks_seen += 1;
        let body = u64::from(ch.total_sz)
            .checked_sub(u64::from(h.chunk_hdr_sz))
            .ok_or_else(|| {
                self.invalid(
                    at,
                    format!("chunk total size {} is less than its header", ch.total_sz),
                )
            })?;
        // A CRC32 chunk has no output blocks whatever its chunk_sz says (as in libsparse).
        let len = if ch.kind == header::CHUNK_CRC32 {
            0
        } else {
            u64::from(ch.chunk_sz) * u64::from(h.blk_sz)
        };
        if self.out_pos + len > h.expanded_size() {
            return Err(self.invalid(
                at,
                format!(
                    "chunk {} of {} blocks runs past the image's {} blocks",
                    self.chunks_seen, ch.chunk_sz, h.total_blks
                ),
            ));
        }
        let want_body = match ch.kind {
            header::CHUNK_RAW => len,
            header::CHUNK_FILL | header::CHUNK_CRC32 => 4,
            header::CHUNK_DONT_CARE => 0,
            other => return Err(self.invalid(at, format!("unknown chunk type {other:#06x}"))),
        };
        if body != want_body {
            return Err(self.invalid(
                at,
                format!(
                    "chunk {} of type {:#06x} carries {body} data bytes, {want_body} expected",
                    self.chunks_seen, ch.kind
                ),
            ));
        }
        match ch.kind {
            header::CHUNK_RAW if len > 0 => self.state = State::Raw { left: len },
            header::CHUNK_RAW => self.next_chunk(),
            header::CHUNK_FILL => self.state = State::FillPattern { len },
            header::CHUNK_CRC32 => self.state = State::Crc,
            _ => {
                // DONT_CARE: counts as zeros for later CRC32 chunks (libsparse does the same).
                self.crc.combine(&fill_crc([0; 4], len, h.blk_sz));
                sink(Op::DontCare {
                    offset: self.out_pos,
                    len,
                })?;
                self.out_pos += len;
                self.next_chunk();
            }
        }
        Ok(())
    }

    /// After the last input byte: the image must be complete.
    pub fn finish(&self) -> Result<(), Error> {
        let Some(h) = self.header else {
            return Err(self.invalid(self.in_pos, "image ends inside the file header"));
        };
        if self.state != State::ChunkHeader || !self.pending.is_empty() {
            return Err(self.invalid(self.chunk_start, "image ends inside a chunk"));
        }
        if self.chunks_seen != h.total_chunks {
            return Err(self.invalid(
                self.in_pos,
                format!(
                    "{} chunks, the header says {}",
                    self.chunks_seen, h.total_chunks
                ),
            ));
        }
        if self.out_pos != h.expanded_size() {
            return Err(self.invalid(
                self.in_pos,
                format!(
                    "chunks cover {} blocks, the header says {}",
                    self.out_pos / u64::from(h.blk_sz),
                    h.total_blks
                ),
            ));
        }
        Ok(())
    }
}

/// The CRC-32 state of `len` bytes of `pattern` repeated, without touching `len` bytes: one
/// block is hashed, then combined by doubling (O(log(len / blk)) combines).
fn fill_crc(pattern: [u8; 4], len: u64, blk: u32) -> crc32fast::Hasher {
    let mut result = crc32fast::Hasher::new();
    if len == 0 {
        return result;
    }
    let mut buf = [0u8; 4096];
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern[i % 4];
    }
    // blk is a multiple of 4, so each 4096-byte piece starts on a pattern boundary.
    let mut block = crc32fast::Hasher::new();
    let mut left = u64::from(blk);
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        block.update(&buf[..n]);
        left -= n as u64;
    }
    let mut blocks = len / u64::from(blk);
    let mut power = block;
    while blocks > 0 {
        if blocks & 1 == 1 {
            result.combine(&power);
        }
        let copy = power.clone();
        power.combine(&copy);
        blocks >>= 1;
    }
    result
}
