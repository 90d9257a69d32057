//! Streaming an entry's data: stored bytes, raw deflate or zstd, stopped at the
//! declared size and checked against it and the CRC-32 at the end.

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;

use flate2::{Decompress, FlushDecompress, Status};

use crate::package::source::Source as ByteSource;

use super::error::{corrupt, ZipError};
use super::unzstd::Unzstd;
use super::{Entry, Method};

/// Reads a byte range of the shared file with positional reads.
pub(super) struct RawReader {
    file: Arc<dyn ByteSource>,
    pos: u64,
    pub(super) remaining: u64,
}

impl RawReader {
    /// Reads up to `buf.len()` bytes of the range; 0 only once the range is
    /// exhausted (a file that shrank since `open` is an error, not EOF).
    pub(super) fn read(&mut self, buf: &mut [u8]) -> Result<usize, ZipError> {
        let want = usize::try_from(self.remaining).map_or(buf.len(), |r| r.min(buf.len()));
        let Some(dst) = buf.get_mut(..want).filter(|d| !d.is_empty()) else {
            return Ok(0);
        };
        const MAX_INTERRUPTS: usize = 64;
        let mut interrupts = 0;
        loop {
            match self.file.read_at(dst, self.pos) {
                Ok(0) => {
                    return Err(ZipError::Io {
                        context: "reading entry data",
                        source: io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "archive file is shorter than when it was opened",
                        ),
                    })
                }
                Ok(n) => {
                    let n = n.min(dst.len());
                    self.pos = self.pos.saturating_add(n as u64);
                    self.remaining = self.remaining.saturating_sub(n as u64);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted && interrupts < MAX_INTERRUPTS => {
                    interrupts += 1;
                }
                Err(e) => {
                    return Err(ZipError::Io {
                        context: "reading entry data",
                        source: e,
                    })
                }
            }
        }
    }
}

/// A decoder's input: the entry's bounded compressed range, read through a buffer of at most
/// `cap` bytes. Shared by the deflate and zstd decoders.
pub(super) struct Compressed {
    raw: RawReader,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Compressed {
    pub(super) fn new(raw: RawReader, cap: usize) -> Self {
        let cap = usize::try_from(raw.remaining).map_or(cap, |r| r.clamp(1, cap));
        Compressed {
            raw,
            buf: vec![0u8; cap],
            start: 0,
            end: 0,
        }
    }

    /// Refills the buffer once it is used up; true when the compressed range is all read.
    pub(super) fn refill(&mut self) -> Result<bool, ZipError> {
        if self.start >= self.end && self.raw.remaining > 0 {
            self.end = self.raw.read(&mut self.buf)?;
            self.start = 0;
        }
        Ok(self.raw.remaining == 0)
    }

    /// The bytes read and not yet consumed.
    pub(super) fn unread(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    pub(super) fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.end);
    }

    /// After a pass of the decoder that produced nothing: every pass must consume input or find
    /// the buffer empty, and an empty buffer at the end of the range means the data stops inside
    /// the stream. Returns the complaint (`ends` says what the data ends before).
    pub(super) fn stalled(&self, consumed: usize, eof: bool, ends: &str) -> Option<String> {
        if consumed > 0 {
            None
        } else if self.start < self.end {
            Some("decoder makes no progress".into())
        } else if eof {
            Some(format!("compressed data ends {ends}"))
        } else {
            None
        }
    }

    /// Compressed bytes not consumed (buffered plus unread).
    pub(super) fn left(&self) -> u64 {
        (self.end.saturating_sub(self.start) as u64).saturating_add(self.raw.remaining)
    }
}

const INFLATE_INPUT_BUFFER: usize = 32 * 1024;

/// Raw deflate decoder over a `RawReader`, tracking the end of the stream so
/// that truncated streams and trailing garbage are detected.
struct Inflater {
    input: Compressed,
    state: Decompress,
    stream_end: bool,
    name: String,
}

impl Inflater {
    fn new(raw: RawReader, name: &str) -> Self {
        Inflater {
            input: Compressed::new(raw, INFLATE_INPUT_BUFFER),
            state: Decompress::new(false),
            stream_end: false,
            name: name.to_owned(),
        }
    }

    fn corrupt(&self, what: &str) -> ZipError {
        corrupt(format!("deflate data of {:?}: {what}", self.name))
    }

    /// Decompresses into `dst`; returns 0 only at the end of the stream.
    fn read(&mut self, dst: &mut [u8]) -> Result<usize, ZipError> {
        if self.stream_end || dst.is_empty() {
            return Ok(0);
        }
        // Every pass either consumes input, refills the (exhausted) input buffer from the
        // bounded compressed range, produces output and returns, or fails; so the loop ends
        // within ~2 * compressed_size passes.
        loop {
            let eof = self.input.refill()?;
            let flush = if eof {
                FlushDecompress::Finish
            } else {
                FlushDecompress::None
            };
            let (in_before, out_before) = (self.state.total_in(), self.state.total_out());
            let status = self
                .state
                .decompress(self.input.unread(), dst, flush)
                .map_err(|e| corrupt(format!("deflate data of {:?}: {e}", self.name)))?;
            let consumed = self.state.total_in().saturating_sub(in_before);
            let produced = self.state.total_out().saturating_sub(out_before);
            let consumed = usize::try_from(consumed).unwrap_or(usize::MAX);
            let produced = usize::try_from(produced)
                .unwrap_or(usize::MAX)
                .min(dst.len());
            self.input.consume(consumed);
            if status == Status::StreamEnd {
                self.stream_end = true;
                return Ok(produced);
            }
            if produced > 0 {
                return Ok(produced);
            }
            if let Some(why) = self
                .input
                .stalled(consumed, eof, "before the deflate stream")
            {
                return Err(self.corrupt(&why));
            }
        }
    }

    /// After the last byte: the stream must have ended and used every
    /// compressed byte (no hidden trailing data).
    fn check_consumed(&self) -> Result<(), ZipError> {
        if !self.stream_end {
            return Err(self.corrupt("deflate stream does not end"));
        }
        let left = self.input.left();
        if left > 0 {
            return Err(self.corrupt(&format!(
                "{left} bytes of compressed data after the end of the deflate stream"
            )));
        }
        Ok(())
    }
}

enum Source {
    Stored(RawReader),
    Deflated(Box<Inflater>),
    Zstd(Box<Unzstd>),
}

impl Source {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ZipError> {
        match self {
            Source::Stored(raw) => raw.read(buf),
            Source::Deflated(inflater) => inflater.read(buf),
            Source::Zstd(unzstd) => unzstd.read(buf),
        }
    }

    fn check_consumed(&self) -> Result<(), ZipError> {
        match self {
            // compressed_size == uncompressed_size, all delivered.
            Source::Stored(_) => Ok(()),
            Source::Deflated(inflater) => inflater.check_consumed(),
            Source::Zstd(unzstd) => unzstd.check_consumed(),
        }
    }
}

enum ReaderState {
    Reading,
    Done,
    Failed(ZipError),
}

/// Streaming reader of one entry's uncompressed bytes; see
/// [`ZipArchive::reader`]. Owns a clone of the archive's `Arc<dyn ByteSource>`, so it
/// does not borrow the archive.
pub struct EntryReader {
    name: String,
    expected_size: u64,
    expected_crc: u32,
    source: Source,
    hasher: crc32fast::Hasher,
    out: u64,
    state: ReaderState,
}

impl fmt::Debug for EntryReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntryReader")
            .field("name", &self.name)
            .field("expected_size", &self.expected_size)
            .field("bytes_out", &self.out)
            .finish_non_exhaustive()
    }
}

impl EntryReader {
    /// A reader of `entry`'s data in `file`; `entry` must come from the
    /// archive opened on `file` (its offsets and sizes were checked there).
    pub(super) fn new(file: Arc<dyn ByteSource>, entry: &Entry) -> EntryReader {
        let raw = RawReader {
            file,
            pos: entry.data_offset,
            remaining: entry.compressed_size,
        };
        let source = match entry.method {
            Method::Stored => Source::Stored(raw),
            Method::Deflated => Source::Deflated(Box::new(Inflater::new(raw, &entry.name))),
            Method::Zstd => Source::Zstd(Box::new(Unzstd::new(raw, &entry.name))),
        };
        EntryReader {
            name: entry.name.clone(),
            expected_size: entry.uncompressed_size,
            expected_crc: entry.crc32,
            source,
            hasher: crc32fast::Hasher::new(),
            out: 0,
            state: ReaderState::Reading,
        }
    }

    /// Uncompressed bytes delivered so far.
    pub fn bytes_out(&self) -> u64 {
        self.out
    }

    /// `Read::read` without the `io::Error` wrapping.
    fn read_inner(&mut self, buf: &mut [u8]) -> Result<usize, ZipError> {
        match &self.state {
            ReaderState::Reading => {}
            ReaderState::Done => return Ok(0),
            ReaderState::Failed(e) => return Err(e.replay()),
        }
        if buf.is_empty() {
            return Ok(0);
        }
        match self.step(buf) {
            Ok(n) => Ok(n),
            Err(e) => {
                let replay = e.replay();
                self.state = ReaderState::Failed(e);
                Err(replay)
            }
        }
    }

    fn step(&mut self, buf: &mut [u8]) -> Result<usize, ZipError> {
        let remaining = self.expected_size.saturating_sub(self.out);
        if remaining == 0 {
            self.finish()?;
            return Ok(0);
        }
        // Never ask for more than the declared size: a bomb can at most fill
        // what the caller was promised.
        let want = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
        let dst = buf.get_mut(..want).unwrap_or_default();
        let n = self.source.read(dst)?.min(dst.len());
        if n == 0 {
            return Err(ZipError::SizeMismatch {
                name: self.name.clone(),
                expected: self.expected_size,
                actual: self.out,
            });
        }
        self.hasher.update(dst.get(..n).unwrap_or_default());
        self.out = self.out.saturating_add(n as u64);
        if self.out == self.expected_size {
            // Verify before handing out the final bytes, so that a caller
            // using read_exact() cannot miss a bad CRC or surplus data.
            self.finish()?;
        }
        Ok(n)
    }

    fn finish(&mut self) -> Result<(), ZipError> {
        let mut probe = [0u8; 1];
        let surplus = self.source.read(&mut probe)?;
        if surplus > 0 {
            return Err(ZipError::SizeMismatch {
                name: self.name.clone(),
                expected: self.expected_size,
                actual: self.out.saturating_add(surplus as u64),
            });
        }
        self.source.check_consumed()?;
        let actual = self.hasher.clone().finalize();
        if actual != self.expected_crc {
            return Err(ZipError::CrcMismatch {
                name: self.name.clone(),
                expected: self.expected_crc,
                actual,
            });
        }
        self.state = ReaderState::Done;
        Ok(())
    }
}

impl Read for EntryReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf).map_err(io::Error::other)
    }
}

/// First allocation of `read_to_vec`, and the most it asks the reader for at once.
const READ_TO_VEC_CHUNK: usize = 1024 * 1024;

/// Reads the `declared` bytes of an entry into `out`, growing it with the
/// data actually produced, then lets the reader verify the end of the data.
pub(super) fn fill_vec(
    reader: &mut EntryReader,
    out: &mut Vec<u8>,
    declared: usize,
) -> Result<(), ZipError> {
    // Allocation failure (not expected: declared <= max_len) is reported as
    // the entry being too large for this process.
    let name = reader.name.clone();
    let alloc_failed = |_| ZipError::EntryTooLarge {
        name: name.clone(),
        size: declared as u64,
        limit: declared as u64,
    };
    out.try_reserve_exact(declared.min(READ_TO_VEC_CHUNK))
        .map_err(alloc_failed)?;
    // Each pass adds at least one byte or ends the loop.
    loop {
        let filled = out.len();
        let rest = declared.saturating_sub(filled);
        if rest == 0 {
            // The reader verifies the end of the data (surplus bytes, end of
            // the deflate stream, CRC-32) on the read that delivers the last
            // byte; for an empty entry this read does it.
            return match reader.read_inner(&mut [0u8; 1])? {
                0 => Ok(()),
                surplus => Err(ZipError::SizeMismatch {
                    name,
                    expected: declared as u64,
                    actual: (filled as u64).saturating_add(surplus as u64),
                }),
            };
        }
        let step = rest.min(READ_TO_VEC_CHUNK);
        let needed = filled.saturating_add(step);
        if out.capacity() < needed {
            // Amortised growth, capped at the declared size.
            let target = out.capacity().saturating_mul(2).max(needed).min(declared);
            out.try_reserve_exact(target.saturating_sub(filled))
                .map_err(alloc_failed)?;
        }
        out.resize(needed, 0);
        let n = reader.read_inner(out.get_mut(filled..).unwrap_or_default());
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                out.truncate(filled);
                return Err(e);
            }
        };
        out.truncate(filled.saturating_add(n));
        if n == 0 {
            // Not reached: the reader only ends after the declared size.
            return Err(ZipError::SizeMismatch {
                name,
                expected: declared as u64,
                actual: filled as u64,
            });
        }
    }
}
