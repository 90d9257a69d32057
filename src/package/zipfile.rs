//! Bounded, read-only zip reader for untrusted update packages.
//!
//! The recovery environment must never be crashed, hung or OOM-killed by a
//! hostile `update.zip`, so this reader is deliberately small and strict:
//!
//! * only stored (method 0) and deflate (method 8) entries, zip64 and data
//!   descriptors are supported; everything else is rejected with a typed
//!   [`ZipError`];
//! * every size read from the archive is checked against the file length and
//!   against [`Limits`] *before* anything is allocated from it, and all offset
//!   arithmetic is checked (offsets may be near `u64::MAX`);
//! * every loop is bounded by the input (the 64 KiB end-of-archive window, the
//!   declared entry count, or the number of compressed bytes);
//! * the archive is read only with positional reads
//!   ([`FileExt::read_at`]) through one shared `Arc<File>`: nothing seeks and
//!   nothing reopens the path, so readers of different entries can run
//!   concurrently and the file cannot be swapped underneath us by path.
//!
//! Structure layouts and field offsets follow PKWARE's APPNOTE.TXT (6.3.x);
//! section numbers are given next to each structure.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use flate2::{Decompress, FlushDecompress, Status};

/// Limits applied while opening an archive; everything allocated by
/// [`ZipArchive::open`] is bounded by these and by the file length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of central-directory entries.
    pub max_entries: usize,
    /// Maximum size in bytes of the central directory (it is read into memory whole).
    pub max_central_directory: u64,
    /// Maximum length in bytes of an entry name.
    pub max_name_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 4096,
            max_central_directory: 16 * 1024 * 1024,
            max_name_len: 1024,
        }
    }
}

/// Compression method of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Method 0: the data is stored as is.
    Stored,
    /// Method 8: raw deflate (RFC 1951).
    Deflated,
}

/// One validated entry of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Entry name: valid UTF-8, relative, no `.`/`..`/empty components,
    /// no backslash, NUL or other control characters; directories end in `/`.
    pub name: String,
    pub method: Method,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub crc32: u32,
    /// Offset of the entry's local file header.
    pub local_header_offset: u64,
    /// First byte of the (compressed) data, after the local header.
    pub data_offset: u64,
}

impl Entry {
    /// Whether this entry is a directory (its name ends in `/`).
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }
}

/// Errors from opening or reading an archive.
///
/// Errors raised while streaming through [`EntryReader`] arrive wrapped in an
/// [`io::Error`] (`io::Error::other(ZipError)`); use [`ZipError::from_io`] or
/// `get_ref()`/`downcast` to recover them.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("I/O error while {context}")]
    Io {
        context: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("not a zip archive (no end of central directory record)")]
    NotZip,
    #[error("corrupt zip archive: {reason}")]
    Corrupt { reason: String },
    #[error("zip archive declares {count} entries, the limit is {limit}")]
    TooManyEntries { count: u64, limit: usize },
    #[error("zip central directory is {size} bytes, the limit is {limit}")]
    CentralDirectoryTooLarge { size: u64, limit: u64 },
    #[error("zip structure out of bounds: {what}")]
    OutOfBounds { what: String },
    #[error("unsafe zip entry name {name:?}")]
    UnsafeName { name: String },
    #[error("duplicate zip entry name {name:?}")]
    DuplicateName { name: String },
    #[error("zip entries {first:?} and {second:?} overlap")]
    Overlap { first: String, second: String },
    #[error("local header of zip entry {name:?} disagrees with the central directory on {field}")]
    HeaderMismatch { name: String, field: &'static str },
    #[error("unsupported zip feature in {name:?}: {reason}")]
    Unsupported { name: String, reason: String },
    #[error("zip entry {name:?} should be {expected} bytes, but its data gives {actual}")]
    SizeMismatch {
        name: String,
        expected: u64,
        /// Bytes actually produced; when the data runs past `expected` this is
        /// `expected + 1` (reading stops at the first surplus byte).
        actual: u64,
    },
    #[error("zip entry {name:?} has CRC-32 {actual:08x}, expected {expected:08x}")]
    CrcMismatch {
        name: String,
        expected: u32,
        actual: u32,
    },
    #[error("zip entry {name:?} is {size} bytes, the limit is {limit}")]
    EntryTooLarge { name: String, size: u64, limit: u64 },
}

impl ZipError {
    /// Recovers the [`ZipError`] carried by an [`io::Error`] returned from
    /// [`EntryReader`]'s `read`; any other I/O error becomes [`ZipError::Io`].
    pub fn from_io(err: io::Error, context: &'static str) -> ZipError {
        if !err.get_ref().is_some_and(|inner| inner.is::<ZipError>()) {
            return ZipError::Io {
                context,
                source: err,
            };
        }
        match err.into_inner().map(|inner| inner.downcast::<ZipError>()) {
            Some(Ok(zip)) => *zip,
            Some(Err(other)) => ZipError::Io {
                context,
                source: io::Error::other(other),
            },
            // Unreachable: get_ref() returned Some above.
            None => ZipError::Io {
                context,
                source: io::Error::other("I/O error without its inner error"),
            },
        }
    }

    /// A copy of this error, for a reader that must report the same failure
    /// on every later call (io::Error is not Clone, so I/O sources are copied
    /// as kind + message).
    fn replay(&self) -> ZipError {
        match self {
            ZipError::Io { context, source } => ZipError::Io {
                context,
                source: io::Error::new(source.kind(), source.to_string()),
            },
            ZipError::NotZip => ZipError::NotZip,
            ZipError::Corrupt { reason } => ZipError::Corrupt {
                reason: reason.clone(),
            },
            ZipError::TooManyEntries { count, limit } => ZipError::TooManyEntries {
                count: *count,
                limit: *limit,
            },
            ZipError::CentralDirectoryTooLarge { size, limit } => {
                ZipError::CentralDirectoryTooLarge {
                    size: *size,
                    limit: *limit,
                }
            }
            ZipError::OutOfBounds { what } => ZipError::OutOfBounds { what: what.clone() },
            ZipError::UnsafeName { name } => ZipError::UnsafeName { name: name.clone() },
            ZipError::DuplicateName { name } => ZipError::DuplicateName { name: name.clone() },
            ZipError::Overlap { first, second } => ZipError::Overlap {
                first: first.clone(),
                second: second.clone(),
            },
            ZipError::HeaderMismatch { name, field } => ZipError::HeaderMismatch {
                name: name.clone(),
                field,
            },
            ZipError::Unsupported { name, reason } => ZipError::Unsupported {
                name: name.clone(),
                reason: reason.clone(),
            },
            ZipError::SizeMismatch {
                name,
                expected,
                actual,
            } => ZipError::SizeMismatch {
                name: name.clone(),
                expected: *expected,
                actual: *actual,
            },
            ZipError::CrcMismatch {
                name,
                expected,
                actual,
            } => ZipError::CrcMismatch {
                name: name.clone(),
                expected: *expected,
                actual: *actual,
            },
            ZipError::EntryTooLarge { name, size, limit } => ZipError::EntryTooLarge {
                name: name.clone(),
                size: *size,
                limit: *limit,
            },
        }
    }
}

fn corrupt(reason: impl Into<String>) -> ZipError {
    ZipError::Corrupt {
        reason: reason.into(),
    }
}

fn out_of_bounds(what: impl Into<String>) -> ZipError {
    ZipError::OutOfBounds { what: what.into() }
}

fn io_error(context: &'static str) -> impl FnOnce(io::Error) -> ZipError {
    move |source| ZipError::Io { context, source }
}

/// Placeholder entry name for archive-level `Unsupported` errors.
const ARCHIVE: &str = "<archive>";

// ---------------------------------------------------------------------------
// On-disk constants
// ---------------------------------------------------------------------------

const LOCAL_HEADER_SIG: u32 = 0x0403_4b50;
const CENTRAL_HEADER_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;

/// Fixed part of the end of central directory record.
const EOCD_LEN: u64 = 22;
/// The EOCD ends the file and is followed only by its comment (at most
/// 65,535 bytes), so it starts within the last 22 + 65,535 = 65,557 bytes.
const EOCD_SEARCH_WINDOW: u64 = EOCD_LEN + 0xFFFF;
const ZIP64_LOCATOR_LEN: u64 = 20;
/// Fixed part of the zip64 end of central directory record.
const ZIP64_EOCD_LEN: u64 = 56;
/// `size of zip64 end of central directory record` counts the record minus
/// its first 12 bytes (signature + that size field), so the fixed part is 44.
const ZIP64_EOCD_MIN_REMAINING: u64 = ZIP64_EOCD_LEN - 12;
const CENTRAL_HEADER_LEN: usize = 46;
const LOCAL_HEADER_LEN: u64 = 30;

/// Zip64 extended information extra field header id (APPNOTE 4.5.3).
const ZIP64_EXTRA_ID: u16 = 0x0001;
/// A 32-bit field holding this value defers to the zip64 structures.
const U32_SENTINEL: u32 = 0xFFFF_FFFF;
/// A 16-bit field holding this value defers to the zip64 structures.
const U16_SENTINEL: u16 = 0xFFFF;

// General purpose bit flags (APPNOTE 4.4.4).
const FLAG_ENCRYPTED: u16 = 1 << 0;
const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
const FLAG_PATCHED_DATA: u16 = 1 << 5;
const FLAG_STRONG_ENCRYPTION: u16 = 1 << 6;
const FLAG_MASKED_HEADERS: u16 = 1 << 13;

const METHOD_STORED: u16 = 0;
const METHOD_DEFLATED: u16 = 8;

/// Bounds-checked little-endian field access into one on-disk structure.
/// Every access goes through `get`, so a short buffer gives `Corrupt`, never
/// a panic.
struct Fields<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Self {
        Fields { buf, what }
    }

    fn bytes<const N: usize>(&self, off: usize) -> Result<[u8; N], ZipError> {
        off.checked_add(N)
            .and_then(|end| self.buf.get(off..end))
            .and_then(|b| <[u8; N]>::try_from(b).ok())
            .ok_or_else(|| corrupt(format!("{} is truncated", self.what)))
    }

    fn u16(&self, off: usize) -> Result<u16, ZipError> {
        self.bytes::<2>(off).map(u16::from_le_bytes)
    }

    fn u32(&self, off: usize) -> Result<u32, ZipError> {
        self.bytes::<4>(off).map(u32::from_le_bytes)
    }

    fn u64(&self, off: usize) -> Result<u64, ZipError> {
        self.bytes::<8>(off).map(u64::from_le_bytes)
    }

    fn slice(&self, off: usize, len: usize) -> Result<&'a [u8], ZipError> {
        off.checked_add(len)
            .and_then(|end| self.buf.get(off..end))
            .ok_or_else(|| corrupt(format!("{} is truncated", self.what)))
    }
}

fn read_exact_at(
    file: &File,
    buf: &mut [u8],
    offset: u64,
    context: &'static str,
) -> Result<(), ZipError> {
    file.read_exact_at(buf, offset).map_err(io_error(context))
}

fn to_usize(v: u64, what: &str) -> Result<usize, ZipError> {
    usize::try_from(v).map_err(|_| out_of_bounds(format!("{what} ({v}) does not fit in memory")))
}

// ---------------------------------------------------------------------------
// End of central directory
// ---------------------------------------------------------------------------

/// Where the central directory is, as given by the end records.
struct CentralDirectoryLocation {
    offset: u64,
    size: u64,
    entries: u64,
    /// First byte of the end records (the zip64 EOCD record when present,
    /// else the EOCD); the central directory must end exactly here.
    end_records_start: u64,
}

/// The classic end of central directory record (APPNOTE 4.3.16).
struct Eocd {
    disk: u16,
    cd_disk: u16,
    entries_on_disk: u16,
    entries: u16,
    cd_size: u32,
    cd_offset: u32,
}

/// Finds and parses the end records: the EOCD, and if a zip64 locator
/// precedes it, the zip64 EOCD record it points to (which then wins).
fn locate_central_directory(
    file: &File,
    file_len: u64,
) -> Result<CentralDirectoryLocation, ZipError> {
    if file_len < EOCD_LEN {
        return Err(ZipError::NotZip);
    }
    // One read of the tail that must contain the EOCD (bounded: <= 65,557 bytes).
    let tail_len = file_len.min(EOCD_SEARCH_WINDOW);
    let tail_start = file_len - tail_len;
    let mut tail = vec![0u8; to_usize(tail_len, "end-of-archive window")?];
    read_exact_at(
        file,
        &mut tail,
        tail_start,
        "reading the end of the archive",
    )?;

    // End of central directory record (APPNOTE 4.3.16):
    //   0  u32  signature 0x06054b50
    //   4  u16  number of this disk
    //   6  u16  number of the disk with the start of the central directory
    //   8  u16  total number of entries in the central directory on this disk
    //  10  u16  total number of entries in the central directory
    //  12  u32  size of the central directory
    //  16  u32  offset of start of central directory from the start of the file
    //  20  u16  .ZIP file comment length (n)
    //  22  n    .ZIP file comment
    // Scan backwards (at most 65,536 candidates) for the signature whose
    // comment length makes the record end exactly at the end of the file; a
    // signature inside the comment therefore cannot be mistaken for the record
    // unless its own comment length also matches.
    let sig = EOCD_SIG.to_le_bytes();
    let last_start = tail.len().saturating_sub(EOCD_LEN as usize);
    let mut found = None;
    for pos in (0..=last_start).rev() {
        if tail.get(pos..pos + 4) != Some(&sig[..]) {
            continue;
        }
        let comment_len = Fields::new(&tail, "end of central directory record").u16(pos + 20)?;
        if pos + EOCD_LEN as usize + usize::from(comment_len) == tail.len() {
            found = Some(pos);
            break;
        }
    }
    let pos = found.ok_or(ZipError::NotZip)?;
    let eocd_offset = tail_start + pos as u64;
    let f = Fields::new(
        tail.get(pos..).unwrap_or_default(),
        "end of central directory record",
    );
    let eocd = Eocd {
        disk: f.u16(4)?,
        cd_disk: f.u16(6)?,
        entries_on_disk: f.u16(8)?,
        entries: f.u16(10)?,
        cd_size: f.u32(12)?,
        cd_offset: f.u32(16)?,
    };

    // Zip64 end of central directory locator (APPNOTE 4.3.15), immediately
    // before the EOCD:
    //   0  u32  signature 0x07064b50
    //   4  u32  number of the disk with the start of the zip64 EOCD record
    //   8  u64  relative offset of the zip64 EOCD record
    //  16  u32  total number of disks
    if let Some(locator_offset) = eocd_offset.checked_sub(ZIP64_LOCATOR_LEN) {
        let mut locator = [0u8; ZIP64_LOCATOR_LEN as usize];
        read_exact_at(
            file,
            &mut locator,
            locator_offset,
            "reading the zip64 end of central directory locator",
        )?;
        let l = Fields::new(&locator, "zip64 end of central directory locator");
        if l.u32(0)? == ZIP64_LOCATOR_SIG {
            let zip64_disk = l.u32(4)?;
            let zip64_offset = l.u64(8)?;
            let disks = l.u32(16)?;
            if zip64_disk != 0 || disks > 1 {
                return Err(ZipError::Unsupported {
                    name: ARCHIVE.to_owned(),
                    reason: format!("multi-disk archive ({disks} disks)"),
                });
            }
            return read_zip64_eocd(file, &eocd, zip64_offset, locator_offset);
        }
    }

    if eocd.disk != 0 || eocd.cd_disk != 0 || eocd.entries_on_disk != eocd.entries {
        return Err(ZipError::Unsupported {
            name: ARCHIVE.to_owned(),
            reason: "multi-disk archive".to_owned(),
        });
    }
    Ok(CentralDirectoryLocation {
        offset: u64::from(eocd.cd_offset),
        size: u64::from(eocd.cd_size),
        entries: u64::from(eocd.entries),
        end_records_start: eocd_offset,
    })
}

fn read_zip64_eocd(
    file: &File,
    eocd: &Eocd,
    zip64_offset: u64,
    locator_offset: u64,
) -> Result<CentralDirectoryLocation, ZipError> {
    let fixed_end = zip64_offset
        .checked_add(ZIP64_EOCD_LEN)
        .filter(|&end| end <= locator_offset)
        .ok_or_else(|| {
            out_of_bounds(format!(
                "zip64 end of central directory record at {zip64_offset} does not fit before \
                 its locator at {locator_offset}"
            ))
        })?;
    let mut record = [0u8; ZIP64_EOCD_LEN as usize];
    read_exact_at(
        file,
        &mut record,
        zip64_offset,
        "reading the zip64 end of central directory record",
    )?;
    // Zip64 end of central directory record (APPNOTE 4.3.14):
    //   0  u32  signature 0x06064b50
    //   4  u64  size of the zip64 EOCD record, excluding these first 12 bytes
    //  12  u16  version made by
    //  14  u16  version needed to extract
    //  16  u32  number of this disk
    //  20  u32  number of the disk with the start of the central directory
    //  24  u64  total number of entries in the central directory on this disk
    //  32  u64  total number of entries in the central directory
    //  40  u64  size of the central directory
    //  48  u64  offset of start of central directory from the start of the file
    //  56  ...  zip64 extensible data sector (ignored)
    let r = Fields::new(&record, "zip64 end of central directory record");
    if r.u32(0)? != ZIP64_EOCD_SIG {
        return Err(corrupt(
            "zip64 locator does not point at a zip64 end of central directory record",
        ));
    }
    let remaining = r.u64(4)?;
    // The record (including its extensible data) must end exactly at the
    // locator: nothing may hide between the end records.
    let record_end = zip64_offset
        .checked_add(12)
        .and_then(|v| v.checked_add(remaining));
    if remaining < ZIP64_EOCD_MIN_REMAINING || record_end != Some(locator_offset) {
        return Err(corrupt(format!(
            "zip64 end of central directory record size {remaining} is inconsistent with its \
             position (fixed part ends at {fixed_end}, locator at {locator_offset})"
        )));
    }
    let disk = r.u32(16)?;
    let cd_disk = r.u32(20)?;
    let entries_on_disk = r.u64(24)?;
    let entries = r.u64(32)?;
    let size = r.u64(40)?;
    let offset = r.u64(48)?;
    if disk != 0 || cd_disk != 0 || entries_on_disk != entries {
        return Err(ZipError::Unsupported {
            name: ARCHIVE.to_owned(),
            reason: "multi-disk archive".to_owned(),
        });
    }
    // The classic record's fields must either defer to zip64 (hold the
    // sentinel) or agree with it, so that a reader ignoring zip64 cannot see
    // a different central directory than we do.
    let agrees16 = |v: u16, wide: u64| v == U16_SENTINEL || u64::from(v) == wide;
    let agrees32 = |v: u32, wide: u64| v == U32_SENTINEL || u64::from(v) == wide;
    if !agrees16(eocd.disk, 0)
        || !agrees16(eocd.cd_disk, 0)
        || !agrees16(eocd.entries_on_disk, entries)
        || !agrees16(eocd.entries, entries)
        || !agrees32(eocd.cd_size, size)
        || !agrees32(eocd.cd_offset, offset)
    {
        return Err(corrupt(
            "end of central directory record disagrees with the zip64 record",
        ));
    }
    Ok(CentralDirectoryLocation {
        offset,
        size,
        entries,
        end_records_start: zip64_offset,
    })
}

// ---------------------------------------------------------------------------
// Extra fields, names
// ---------------------------------------------------------------------------

/// Returns the data of the zip64 extended information extra field, if any.
///
/// Extra field block (APPNOTE 4.5.1), repeated:
///   0  u16  header id
///   2  u16  data size (n)
///   4  n    data
/// Fewer than 4 trailing bytes are ignored (some aligners pad with zeros);
/// a block overrunning the extra field, or a second zip64 block, is corrupt.
fn zip64_extra<'a>(extra: &'a [u8], name: &str) -> Result<Option<&'a [u8]>, ZipError> {
    let f = Fields::new(extra, "extra field");
    let mut pos = 0usize;
    let mut found = None;
    // Each iteration advances by at least 4 bytes.
    while extra.len().saturating_sub(pos) >= 4 {
        let id = f.u16(pos)?;
        let len = usize::from(f.u16(pos + 2)?);
        let data = f.slice(pos + 4, len).map_err(|_| {
            corrupt(format!(
                "extra field block {id:#06x} of {name:?} overruns the extra field"
            ))
        })?;
        if id == ZIP64_EXTRA_ID {
            if found.is_some() {
                return Err(corrupt(format!(
                    "{name:?} has more than one zip64 extra field"
                )));
            }
            found = Some(data);
        }
        pos += 4 + len;
    }
    Ok(found)
}

/// Header fields that may defer to the zip64 extended information extra
/// field; `None` for fields a local header does not have.
struct Zip64Fields<'a> {
    uncompressed: &'a mut u64,
    compressed: &'a mut u64,
    offset: Option<&'a mut u64>,
    disk: Option<&'a mut u32>,
}

/// Replaces header fields holding the sentinel with their zip64 values.
///
/// Zip64 extended information extra field data (APPNOTE 4.5.3); each value is
/// present only if the corresponding header field holds the sentinel, in
/// this order:
///   u64  original (uncompressed) size      (header field 0xFFFFFFFF)
///   u64  compressed size                   (header field 0xFFFFFFFF)
///   u64  relative header offset (central)  (header field 0xFFFFFFFF)
///   u32  disk start number (central)       (header field 0xFFFF)
/// A sentinel without a zip64 extra field is taken literally (as other
/// readers do); it then fails the bounds checks unless it really is the value.
fn apply_zip64(extra: &[u8], name: &str, fields: Zip64Fields<'_>) -> Result<(), ZipError> {
    let Some(data) = zip64_extra(extra, name)? else {
        return Ok(());
    };
    let f = Fields::new(data, "zip64 extra field");
    let short = |_| corrupt(format!("zip64 extra field of {name:?} is too short"));
    let mut pos = 0usize;
    if *fields.uncompressed == u64::from(U32_SENTINEL) {
        *fields.uncompressed = f.u64(pos).map_err(short)?;
        pos += 8;
    }
    if *fields.compressed == u64::from(U32_SENTINEL) {
        *fields.compressed = f.u64(pos).map_err(short)?;
        pos += 8;
    }
    if let Some(offset) = fields.offset {
        if *offset == u64::from(U32_SENTINEL) {
            *offset = f.u64(pos).map_err(short)?;
            pos += 8;
        }
    }
    if let Some(disk) = fields.disk {
        if *disk == u32::from(U16_SENTINEL) {
            *disk = f.u32(pos).map_err(short)?;
        }
    }
    Ok(())
}

/// Validates an entry name and returns it as a `String`.
///
/// Rejected: empty, longer than `max_name_len`, not UTF-8, absolute, a drive
/// letter (`C:`), a backslash, NUL or any control character, and `.`, `..`
/// or empty path components (a single trailing `/` marks a directory).
/// Rejecting `.` and empty components also keeps names canonical, so
/// `a//b`, `./a/b` and `a/b` cannot be three "different" entries.
fn validate_name(raw: &[u8], limits: &Limits) -> Result<String, ZipError> {
    let unsafe_name = || ZipError::UnsafeName {
        name: String::from_utf8_lossy(raw).into_owned(),
    };
    if raw.is_empty() || raw.len() > limits.max_name_len {
        return Err(unsafe_name());
    }
    let name = std::str::from_utf8(raw).map_err(|_| unsafe_name())?;
    if name.starts_with('/') || name.chars().any(|c| c == '\\' || c.is_control()) {
        return Err(unsafe_name());
    }
    let mut chars = name.chars();
    if let (Some(first), Some(':')) = (chars.next(), chars.next()) {
        if first.is_ascii_alphabetic() {
            return Err(unsafe_name());
        }
    }
    let body = name.strip_suffix('/').unwrap_or(name);
    if body
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(unsafe_name());
    }
    Ok(name.to_owned())
}

fn check_flags(flags: u16, name: &str) -> Result<(), ZipError> {
    let reason = if flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 {
        "encrypted entry"
    } else if flags & FLAG_MASKED_HEADERS != 0 {
        "encrypted central directory"
    } else if flags & FLAG_PATCHED_DATA != 0 {
        "compressed patched data"
    } else {
        return Ok(());
    };
    Err(ZipError::Unsupported {
        name: name.to_owned(),
        reason: reason.to_owned(),
    })
}

// ---------------------------------------------------------------------------
// Archive
// ---------------------------------------------------------------------------

/// What the central directory says about an entry beyond [`Entry`].
struct CentralInfo {
    flags: u16,
    raw_method: u16,
}

/// Fixed part of a local header, kept between the bounds/overlap pass and the
/// validation pass.
struct LocalFixed {
    flags: u16,
    method: u16,
    crc32: u32,
    compressed_size: u32,
    uncompressed_size: u32,
    name_len: u16,
    extra_len: u16,
}

/// A validated, read-only zip archive backed by a shared file descriptor.
#[derive(Debug)]
pub struct ZipArchive {
    file: Arc<File>,
    file_len: u64,
    central_directory_offset: u64,
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
}

impl ZipArchive {
    /// Opens and fully validates an archive (see the module docs for what is
    /// checked). Only the end-of-archive window, the central directory (at
    /// most `limits.max_central_directory` bytes) and one local header at a
    /// time are read into memory.
    pub fn open(file: Arc<File>, limits: &Limits) -> Result<ZipArchive, ZipError> {
        let file_len = file
            .metadata()
            .map_err(io_error("reading the archive's metadata"))?
            .len();
        let loc = locate_central_directory(&file, file_len)?;

        // Bound everything before allocating anything from these numbers.
        let max_entries = u64::try_from(limits.max_entries).unwrap_or(u64::MAX);
        if loc.entries > max_entries {
            return Err(ZipError::TooManyEntries {
                count: loc.entries,
                limit: limits.max_entries,
            });
        }
        if loc.size > limits.max_central_directory {
            return Err(ZipError::CentralDirectoryTooLarge {
                size: loc.size,
                limit: limits.max_central_directory,
            });
        }
        let cd_end = loc
            .offset
            .checked_add(loc.size)
            .filter(|&end| end <= file_len)
            .ok_or_else(|| {
                out_of_bounds(format!(
                    "central directory at {} ({} bytes) lies outside the file ({file_len} bytes)",
                    loc.offset, loc.size
                ))
            })?;
        if cd_end > loc.end_records_start {
            return Err(out_of_bounds(format!(
                "central directory ends at {cd_end}, inside the end records at {}",
                loc.end_records_start
            )));
        }
        if cd_end != loc.end_records_start {
            return Err(corrupt(format!(
                "{} unaccounted bytes between the central directory and the end records",
                loc.end_records_start - cd_end
            )));
        }
        let min_size = loc.entries.checked_mul(CENTRAL_HEADER_LEN as u64);
        if min_size.is_none_or(|min| min > loc.size) {
            return Err(corrupt(format!(
                "central directory of {} bytes cannot hold {} entries",
                loc.size, loc.entries
            )));
        }

        let mut cd = vec![0u8; to_usize(loc.size, "central directory size")?];
        read_exact_at(&file, &mut cd, loc.offset, "reading the central directory")?;
        let entry_count = to_usize(loc.entries, "entry count")?;
        let (entries, infos, by_name) = parse_central_directory(&cd, entry_count, limits)?;
        drop(cd);

        let cd_start = loc.offset;
        let locals = locate_entry_data(&file, cd_start, entries)?;
        let entries = locals.entries;
        check_overlaps(&entries)?;
        for ((entry, info), local) in entries.iter().zip(&infos).zip(&locals.fixed) {
            validate_local_header(&file, entry, info, local)?;
        }

        Ok(ZipArchive {
            file,
            file_len,
            central_directory_offset: cd_start,
            entries,
            by_name,
        })
    }

    /// Entries in central-directory order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Looks an entry up by its exact name.
    pub fn by_name(&self, name: &str) -> Option<&Entry> {
        self.by_name.get(name).and_then(|&i| self.entries.get(i))
    }

    /// Length of the archive file when it was opened.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Offset of the central directory (every entry's data ends before it).
    pub fn central_directory_offset(&self) -> u64 {
        self.central_directory_offset
    }

    /// Reads a whole entry into memory, decompressing and checking size and
    /// CRC-32.
    ///
    /// Fails with `EntryTooLarge` before allocating if the declared
    /// uncompressed size exceeds `max_len`, and also if the data turns out to
    /// yield more than `max_len` bytes. The buffer grows with the data that
    /// actually arrives (never past the declared size), so a header that
    /// merely claims a large size does not make us allocate it.
    pub fn read_to_vec(&self, entry: &Entry, max_len: u64) -> Result<Vec<u8>, ZipError> {
        let too_large = |size| ZipError::EntryTooLarge {
            name: entry.name.clone(),
            size,
            limit: max_len,
        };
        if entry.uncompressed_size > max_len {
            return Err(too_large(entry.uncompressed_size));
        }
        let declared = usize::try_from(entry.uncompressed_size)
            .map_err(|_| too_large(entry.uncompressed_size))?;
        let mut reader = self.reader(entry)?;
        let mut out = Vec::new();
        match fill_vec(&mut reader, &mut out, declared) {
            Ok(()) => Ok(out),
            Err(ZipError::SizeMismatch { actual, .. }) if actual > max_len => {
                Err(too_large(actual))
            }
            Err(e) => Err(e),
        }
    }

    /// Streaming reader of the entry's uncompressed bytes.
    ///
    /// It yields exactly `uncompressed_size` bytes. The read that delivers
    /// the last byte first verifies that the data ends there and that the
    /// CRC-32 matches; if the data ends early, would yield more than
    /// `uncompressed_size` bytes (a zip bomb or a lying header), is corrupt,
    /// or fails its CRC, `read` returns an `io::Error` wrapping
    /// (`io::Error::other`) the [`ZipError`] (`SizeMismatch`, `CrcMismatch`,
    /// `Corrupt`), recoverable with [`ZipError::from_io`] or a downcast.
    /// After an error every later `read` returns the same error again.
    ///
    /// The file is read with positional reads through the shared
    /// `Arc<File>`: the reader never seeks and never reopens the path.
    pub fn reader(&self, entry: &Entry) -> Result<EntryReader, ZipError> {
        // Entry has public fields; only read entries this archive validated.
        if self.by_name(&entry.name) != Some(entry) {
            return Err(corrupt(format!(
                "entry {:?} does not belong to this archive",
                entry.name
            )));
        }
        let raw = RawReader {
            file: Arc::clone(&self.file),
            pos: entry.data_offset,
            remaining: entry.compressed_size,
        };
        let source = match entry.method {
            Method::Stored => Source::Stored(raw),
            Method::Deflated => Source::Deflated(Box::new(Inflater::new(raw, &entry.name))),
        };
        Ok(EntryReader {
            name: entry.name.clone(),
            expected_size: entry.uncompressed_size,
            expected_crc: entry.crc32,
            source,
            hasher: crc32fast::Hasher::new(),
            out: 0,
            state: ReaderState::Reading,
        })
    }
}

/// First allocation of `read_to_vec`, and the most it asks the reader for at once.
const READ_TO_VEC_CHUNK: usize = 1024 * 1024;

/// Reads the `declared` bytes of an entry into `out`, growing it with the
/// data actually produced, then lets the reader verify the end of the data.
fn fill_vec(reader: &mut EntryReader, out: &mut Vec<u8>, declared: usize) -> Result<(), ZipError> {
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

type CentralDirectory = (Vec<Entry>, Vec<CentralInfo>, HashMap<String, usize>);

fn parse_central_directory(
    cd: &[u8],
    entry_count: usize,
    limits: &Limits,
) -> Result<CentralDirectory, ZipError> {
    let mut entries = Vec::with_capacity(entry_count);
    let mut infos = Vec::with_capacity(entry_count);
    let mut by_name = HashMap::with_capacity(entry_count);
    let f = Fields::new(cd, "central directory");
    let mut pos = 0usize;
    // Bounded by the declared (and limited) entry count.
    for _ in 0..entry_count {
        // Central directory file header (APPNOTE 4.3.12):
        //   0  u32  signature 0x02014b50
        //   4  u16  version made by
        //   6  u16  version needed to extract
        //   8  u16  general purpose bit flag
        //  10  u16  compression method
        //  12  u16  last mod file time
        //  14  u16  last mod file date
        //  16  u32  crc-32
        //  20  u32  compressed size
        //  24  u32  uncompressed size
        //  28  u16  file name length (n)
        //  30  u16  extra field length (m)
        //  32  u16  file comment length (k)
        //  34  u16  disk number start
        //  36  u16  internal file attributes
        //  38  u32  external file attributes
        //  42  u32  relative offset of local header
        //  46  n    file name, then m extra field, then k file comment
        let h = Fields::new(
            f.slice(pos, CENTRAL_HEADER_LEN)?,
            "central directory header",
        );
        if h.u32(0)? != CENTRAL_HEADER_SIG {
            return Err(corrupt(format!(
                "bad central directory header signature at central directory offset {pos}"
            )));
        }
        let flags = h.u16(8)?;
        let raw_method = h.u16(10)?;
        let crc32 = h.u32(16)?;
        let mut compressed_size = u64::from(h.u32(20)?);
        let mut uncompressed_size = u64::from(h.u32(24)?);
        let name_len = usize::from(h.u16(28)?);
        let extra_len = usize::from(h.u16(30)?);
        let comment_len = usize::from(h.u16(32)?);
        let mut disk = u32::from(h.u16(34)?);
        let mut local_header_offset = u64::from(h.u32(42)?);

        let name_start = pos + CENTRAL_HEADER_LEN;
        let name_raw = f.slice(name_start, name_len)?;
        let extra = f.slice(name_start + name_len, extra_len)?;
        f.slice(name_start + name_len + extra_len, comment_len)?;
        pos = name_start + name_len + extra_len + comment_len;

        let name = validate_name(name_raw, limits)?;
        check_flags(flags, &name)?;
        let method = match raw_method {
            METHOD_STORED => Method::Stored,
            METHOD_DEFLATED => Method::Deflated,
            other => {
                return Err(ZipError::Unsupported {
                    name,
                    reason: format!("compression method {other}"),
                })
            }
        };
        apply_zip64(
            extra,
            &name,
            Zip64Fields {
                uncompressed: &mut uncompressed_size,
                compressed: &mut compressed_size,
                offset: Some(&mut local_header_offset),
                disk: Some(&mut disk),
            },
        )?;
        if disk != 0 {
            return Err(ZipError::Unsupported {
                name,
                reason: format!("entry starts on disk {disk} (multi-disk archive)"),
            });
        }
        if method == Method::Stored && compressed_size != uncompressed_size {
            return Err(corrupt(format!(
                "stored entry {name:?} has compressed size {compressed_size} but uncompressed \
                 size {uncompressed_size}"
            )));
        }
        if by_name.contains_key(&name) {
            return Err(ZipError::DuplicateName { name });
        }
        by_name.insert(name.clone(), entries.len());
        entries.push(Entry {
            name,
            method,
            compressed_size,
            uncompressed_size,
            crc32,
            local_header_offset,
            // Filled in once the local header has been read.
            data_offset: 0,
        });
        infos.push(CentralInfo { flags, raw_method });
    }
    if pos != cd.len() {
        return Err(corrupt(format!(
            "{} unaccounted bytes after the last central directory header",
            cd.len() - pos
        )));
    }
    Ok((entries, infos, by_name))
}

struct LocatedEntries {
    entries: Vec<Entry>,
    fixed: Vec<LocalFixed>,
}

/// Reads each entry's fixed local header, computes `data_offset`, and checks
/// that header and data lie before the central directory.
fn locate_entry_data(
    file: &File,
    cd_start: u64,
    mut entries: Vec<Entry>,
) -> Result<LocatedEntries, ZipError> {
    let mut fixed = Vec::with_capacity(entries.len());
    for entry in entries.iter_mut() {
        let header_end = entry
            .local_header_offset
            .checked_add(LOCAL_HEADER_LEN)
            .filter(|&end| end <= cd_start)
            .ok_or_else(|| {
                out_of_bounds(format!(
                    "local header of {:?} at {} is not before the central directory at {cd_start}",
                    entry.name, entry.local_header_offset
                ))
            })?;
        let mut buf = [0u8; LOCAL_HEADER_LEN as usize];
        read_exact_at(
            file,
            &mut buf,
            entry.local_header_offset,
            "reading a local file header",
        )?;
        // Local file header (APPNOTE 4.3.7):
        //   0  u32  signature 0x04034b50
        //   4  u16  version needed to extract
        //   6  u16  general purpose bit flag
        //   8  u16  compression method
        //  10  u16  last mod file time
        //  12  u16  last mod file date
        //  14  u32  crc-32              (0 if bit 3: then in the data descriptor)
        //  18  u32  compressed size     (ditto; 0xFFFFFFFF: in the zip64 extra field)
        //  22  u32  uncompressed size   (ditto)
        //  26  u16  file name length (n)
        //  28  u16  extra field length (m)
        //  30  n    file name, then m extra field, then the entry's data
        let h = Fields::new(&buf, "local file header");
        if h.u32(0)? != LOCAL_HEADER_SIG {
            return Err(corrupt(format!(
                "no local file header for {:?} at {}",
                entry.name, entry.local_header_offset
            )));
        }
        let local = LocalFixed {
            flags: h.u16(6)?,
            method: h.u16(8)?,
            crc32: h.u32(14)?,
            compressed_size: h.u32(18)?,
            uncompressed_size: h.u32(22)?,
            name_len: h.u16(26)?,
            extra_len: h.u16(28)?,
        };
        let data_offset = header_end
            .checked_add(u64::from(local.name_len))
            .and_then(|v| v.checked_add(u64::from(local.extra_len)));
        let data_end = data_offset.and_then(|d| d.checked_add(entry.compressed_size));
        match (data_offset, data_end) {
            (Some(data_offset), Some(end)) if end <= cd_start => {
                entry.data_offset = data_offset;
            }
            _ => {
                return Err(out_of_bounds(format!(
                    "data of {:?} ({} bytes after a local header at {}) does not end before \
                     the central directory at {cd_start}",
                    entry.name, entry.compressed_size, entry.local_header_offset
                )))
            }
        }
        fixed.push(local);
    }
    Ok(LocatedEntries { entries, fixed })
}

/// End of an entry's extent `[local header, end of data)`; `data_offset` and
/// `compressed_size` were bounds-checked by `locate_entry_data`.
fn extent_end(entry: &Entry) -> u64 {
    entry.data_offset.saturating_add(entry.compressed_size)
}

/// Rejects entries whose `[local header .. end of data)` ranges overlap
/// (e.g. two central headers sharing one local header: a "zip bomb by
/// overlap" or a way to show two names for the same bytes).
fn check_overlaps(entries: &[Entry]) -> Result<(), ZipError> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| entries.get(i).map(|e| e.local_header_offset));
    // Sorted by start, any overlap shows up as a start below the furthest
    // end seen so far.
    let mut furthest: Option<&Entry> = None;
    for entry in order.iter().filter_map(|&i| entries.get(i)) {
        if let Some(prev) = furthest {
            if entry.local_header_offset < extent_end(prev) {
                return Err(ZipError::Overlap {
                    first: prev.name.clone(),
                    second: entry.name.clone(),
                });
            }
        }
        if furthest.is_none_or(|prev| extent_end(entry) > extent_end(prev)) {
            furthest = Some(entry);
        }
    }
    Ok(())
}

/// Compares a local header with its central directory header.
fn validate_local_header(
    file: &File,
    entry: &Entry,
    info: &CentralInfo,
    local: &LocalFixed,
) -> Result<(), ZipError> {
    let mismatch = |field| ZipError::HeaderMismatch {
        name: entry.name.clone(),
        field,
    };
    // The flags are checked on both headers so that a reader trusting only
    // the local header cannot be shown something different.
    check_flags(local.flags, &entry.name)?;
    if local.flags & FLAG_DATA_DESCRIPTOR != info.flags & FLAG_DATA_DESCRIPTOR {
        return Err(mismatch("flags"));
    }
    if local.method != info.raw_method {
        return Err(mismatch("method"));
    }
    // Bounded: at most 2 * 65,535 bytes, all inside [local header, data end),
    // which was checked to lie within the file.
    let var_len = usize::from(local.name_len) + usize::from(local.extra_len);
    let mut var = vec![0u8; var_len];
    read_exact_at(
        file,
        &mut var,
        entry.local_header_offset.saturating_add(LOCAL_HEADER_LEN),
        "reading a local file header",
    )?;
    let (name, extra) = var.split_at(usize::from(local.name_len).min(var.len()));
    if name != entry.name.as_bytes() {
        return Err(mismatch("name"));
    }
    if info.flags & FLAG_DATA_DESCRIPTOR != 0 {
        // With a data descriptor the local CRC and sizes are zero (or
        // meaningless) and the central directory is authoritative.
        return Ok(());
    }
    if local.crc32 != entry.crc32 {
        return Err(mismatch("crc32"));
    }
    let mut compressed = u64::from(local.compressed_size);
    let mut uncompressed = u64::from(local.uncompressed_size);
    apply_zip64(
        extra,
        &entry.name,
        Zip64Fields {
            uncompressed: &mut uncompressed,
            compressed: &mut compressed,
            offset: None,
            disk: None,
        },
    )?;
    if compressed != entry.compressed_size {
        return Err(mismatch("compressed_size"));
    }
    if uncompressed != entry.uncompressed_size {
        return Err(mismatch("uncompressed_size"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading entries
// ---------------------------------------------------------------------------

/// Reads a byte range of the shared file with positional reads.
struct RawReader {
    file: Arc<File>,
    pos: u64,
    remaining: u64,
}

impl RawReader {
    /// Reads up to `buf.len()` bytes of the range; 0 only once the range is
    /// exhausted (a file that shrank since `open` is an error, not EOF).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ZipError> {
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

const INFLATE_INPUT_BUFFER: usize = 32 * 1024;

/// Raw deflate decoder over a `RawReader`, tracking the end of the stream so
/// that truncated streams and trailing garbage are detected.
struct Inflater {
    raw: RawReader,
    input: Vec<u8>,
    start: usize,
    end: usize,
    state: Decompress,
    stream_end: bool,
    name: String,
}

impl Inflater {
    fn new(raw: RawReader, name: &str) -> Self {
        let cap = usize::try_from(raw.remaining)
            .map_or(INFLATE_INPUT_BUFFER, |r| r.clamp(1, INFLATE_INPUT_BUFFER));
        Inflater {
            raw,
            input: vec![0u8; cap],
            start: 0,
            end: 0,
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
        // Every pass either consumes input, refills the (exhausted) input
        // buffer from the bounded compressed range, produces output and
        // returns, or fails; so the loop ends within ~2 * compressed_size
        // passes.
        loop {
            if self.start >= self.end && self.raw.remaining > 0 {
                self.end = self.raw.read(&mut self.input)?;
                self.start = 0;
            }
            let eof = self.raw.remaining == 0;
            let input = self.input.get(self.start..self.end).unwrap_or_default();
            let flush = if eof {
                FlushDecompress::Finish
            } else {
                FlushDecompress::None
            };
            let (in_before, out_before) = (self.state.total_in(), self.state.total_out());
            let status = self
                .state
                .decompress(input, dst, flush)
                .map_err(|e| self.corrupt(&e.to_string()))?;
            let consumed = self.state.total_in().saturating_sub(in_before);
            let produced = self.state.total_out().saturating_sub(out_before);
            let consumed = usize::try_from(consumed).unwrap_or(usize::MAX);
            let produced = usize::try_from(produced)
                .unwrap_or(usize::MAX)
                .min(dst.len());
            self.start = self.start.saturating_add(consumed).min(self.end);
            match status {
                Status::StreamEnd => {
                    self.stream_end = true;
                    return Ok(produced);
                }
                Status::Ok | Status::BufError => {
                    if produced > 0 {
                        return Ok(produced);
                    }
                    if consumed == 0 {
                        if self.start < self.end {
                            return Err(self.corrupt("decoder makes no progress"));
                        }
                        if eof {
                            return Err(
                                self.corrupt("compressed data ends before the deflate stream")
                            );
                        }
                        // Input buffer exhausted: refilled at the top.
                    }
                }
            }
        }
    }

    /// After the last byte: the stream must have ended and used every
    /// compressed byte (no hidden trailing data).
    fn check_consumed(&self) -> Result<(), ZipError> {
        if !self.stream_end {
            return Err(self.corrupt("deflate stream does not end"));
        }
        let left = (self.end.saturating_sub(self.start) as u64).saturating_add(self.raw.remaining);
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
}

impl Source {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ZipError> {
        match self {
            Source::Stored(raw) => raw.read(buf),
            Source::Deflated(inflater) => inflater.read(buf),
        }
    }

    fn check_consumed(&self) -> Result<(), ZipError> {
        match self {
            // compressed_size == uncompressed_size, all delivered.
            Source::Stored(_) => Ok(()),
            Source::Deflated(inflater) => inflater.check_consumed(),
        }
    }
}

enum ReaderState {
    Reading,
    Done,
    Failed(ZipError),
}

/// Streaming reader of one entry's uncompressed bytes; see
/// [`ZipArchive::reader`]. Owns a clone of the archive's `Arc<File>`, so it
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};
    use std::time::{Duration, Instant};
    use zip::write::SimpleFileOptions;
    use zip::CompressionMethod;

    const STORED: CompressionMethod = CompressionMethod::Stored;
    const DEFLATED: CompressionMethod = CompressionMethod::Deflated;

    // ----- fixtures ---------------------------------------------------------

    fn file_with(bytes: &[u8]) -> Arc<File> {
        let mut f = tempfile::tempfile().expect("create temp file");
        f.write_all(bytes).expect("write temp file");
        Arc::new(f)
    }

    fn open(bytes: &[u8]) -> Result<ZipArchive, ZipError> {
        ZipArchive::open(file_with(bytes), &Limits::default())
    }

    fn open_with(bytes: &[u8], limits: Limits) -> Result<ZipArchive, ZipError> {
        ZipArchive::open(file_with(bytes), &limits)
    }

    /// Deterministic, compressible, ASCII-only (so it never contains a zip
    /// signature) test data.
    fn sample(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                b"abcdefgh ijklmnop\n"[((x >> 16) % 18) as usize]
            })
            .collect()
    }

    fn zip_crate(files: &[(&str, &[u8], CompressionMethod)], large: bool) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data, method) in files {
            let opts = SimpleFileOptions::default()
                .compression_method(*method)
                .large_file(large);
            w.start_file(*name, opts).expect("start_file");
            w.write_all(data).expect("write entry");
        }
        w.finish().expect("finish zip").into_inner()
    }

    fn positions(buf: &[u8], sig: u32) -> Vec<usize> {
        let sig = sig.to_le_bytes();
        buf.windows(4)
            .enumerate()
            .filter(|(_, w)| *w == sig)
            .map(|(i, _)| i)
            .collect()
    }

    fn central(buf: &[u8], i: usize) -> usize {
        positions(buf, CENTRAL_HEADER_SIG)[i]
    }

    fn local(buf: &[u8], i: usize) -> usize {
        positions(buf, LOCAL_HEADER_SIG)[i]
    }

    fn eocd(buf: &[u8]) -> usize {
        *positions(buf, EOCD_SIG).last().expect("eocd")
    }

    fn get16(buf: &[u8], off: usize) -> u16 {
        u16::from_le_bytes([buf[off], buf[off + 1]])
    }

    fn get32(buf: &[u8], off: usize) -> u32 {
        u32::from_le_bytes(buf[off..off + 4].try_into().expect("4 bytes"))
    }

    fn put16(buf: &mut [u8], off: usize, v: u16) {
        buf[off..off + 2].copy_from_slice(&v.to_le_bytes());
    }

    fn put32(buf: &mut [u8], off: usize, v: u32) {
        buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn put64(buf: &mut [u8], off: usize, v: u64) {
        buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }

    /// Replaces every occurrence of `from` by `to` (same length).
    fn replace_all(buf: &mut [u8], from: &[u8], to: &[u8]) -> usize {
        assert_eq!(from.len(), to.len());
        let mut count = 0;
        let mut i = 0;
        while i + from.len() <= buf.len() {
            if &buf[i..i + from.len()] == from {
                buf[i..i + from.len()].copy_from_slice(to);
                count += 1;
                i += from.len();
            } else {
                i += 1;
            }
        }
        count
    }

    // Central header field offsets (see parse_central_directory).
    const C_FLAGS: usize = 8;
    const C_METHOD: usize = 10;
    const C_CRC: usize = 16;
    const C_CSIZE: usize = 20;
    const C_USIZE: usize = 24;
    const C_DISK: usize = 34;
    const C_LHO: usize = 42;
    // Local header field offsets.
    const L_FLAGS: usize = 6;
    const L_METHOD: usize = 8;
    const L_CRC: usize = 14;
    const L_CSIZE: usize = 18;
    const L_USIZE: usize = 22;
    // EOCD field offsets.
    const E_DISK: usize = 4;
    const E_ENTRIES_DISK: usize = 8;
    const E_ENTRIES: usize = 10;
    const E_CD_SIZE: usize = 12;
    const E_CD_OFFSET: usize = 16;

    /// Hand-built archive entry, for layouts the zip crate does not write.
    #[derive(Clone)]
    struct RawEntry {
        name: Vec<u8>,
        data: Vec<u8>,
        deflate: bool,
        /// Sizes (and offset, in the central header) via the zip64 extra field.
        zip64: bool,
        /// Flag bit 3, zero local CRC/sizes, descriptor after the data.
        descriptor: bool,
        /// Bytes appended after the entry's data (and descriptor).
        junk_after: Vec<u8>,
        /// Replaces the central header's extra field.
        central_extra: Option<Vec<u8>>,
    }

    fn raw(name: &str, data: &[u8], deflate: bool) -> RawEntry {
        RawEntry {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            deflate,
            zip64: false,
            descriptor: false,
            junk_after: Vec::new(),
            central_extra: None,
        }
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).expect("deflate");
        enc.finish().expect("deflate finish")
    }

    fn build(entries: &[RawEntry], zip64_end: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut cd = Vec::new();
        for e in entries {
            let payload = if e.deflate {
                deflate(&e.data)
            } else {
                e.data.clone()
            };
            let crc = crc32fast::hash(&e.data);
            let (csize, usize_) = (payload.len() as u64, e.data.len() as u64);
            let lho = out.len() as u64;
            let flags: u16 = if e.descriptor {
                FLAG_DATA_DESCRIPTOR
            } else {
                0
            };
            let method: u16 = if e.deflate { 8 } else { 0 };
            let (l_crc, l_c, l_u) = if e.descriptor {
                (0, 0, 0)
            } else {
                (crc, csize, usize_)
            };
            let mut local_extra = Vec::new();
            if e.zip64 {
                local_extra.extend_from_slice(&1u16.to_le_bytes());
                local_extra.extend_from_slice(&16u16.to_le_bytes());
                local_extra.extend_from_slice(&l_u.to_le_bytes());
                local_extra.extend_from_slice(&l_c.to_le_bytes());
            }
            out.extend_from_slice(&LOCAL_HEADER_SIG.to_le_bytes());
            out.extend_from_slice(&45u16.to_le_bytes());
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&0x21u16.to_le_bytes());
            out.extend_from_slice(&l_crc.to_le_bytes());
            if e.zip64 {
                out.extend_from_slice(&U32_SENTINEL.to_le_bytes());
                out.extend_from_slice(&U32_SENTINEL.to_le_bytes());
            } else {
                out.extend_from_slice(&(l_c as u32).to_le_bytes());
                out.extend_from_slice(&(l_u as u32).to_le_bytes());
            }
            out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            out.extend_from_slice(&(local_extra.len() as u16).to_le_bytes());
            out.extend_from_slice(&e.name);
            out.extend_from_slice(&local_extra);
            out.extend_from_slice(&payload);
            if e.descriptor {
                out.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
                out.extend_from_slice(&crc.to_le_bytes());
                if e.zip64 {
                    out.extend_from_slice(&csize.to_le_bytes());
                    out.extend_from_slice(&usize_.to_le_bytes());
                } else {
                    out.extend_from_slice(&(csize as u32).to_le_bytes());
                    out.extend_from_slice(&(usize_ as u32).to_le_bytes());
                }
            }
            out.extend_from_slice(&e.junk_after);

            let central_extra = e.central_extra.clone().unwrap_or_else(|| {
                let mut x = Vec::new();
                if e.zip64 {
                    x.extend_from_slice(&1u16.to_le_bytes());
                    x.extend_from_slice(&24u16.to_le_bytes());
                    x.extend_from_slice(&usize_.to_le_bytes());
                    x.extend_from_slice(&csize.to_le_bytes());
                    x.extend_from_slice(&lho.to_le_bytes());
                }
                x
            });
            cd.extend_from_slice(&CENTRAL_HEADER_SIG.to_le_bytes());
            cd.extend_from_slice(&0x032du16.to_le_bytes());
            cd.extend_from_slice(&45u16.to_le_bytes());
            cd.extend_from_slice(&flags.to_le_bytes());
            cd.extend_from_slice(&method.to_le_bytes());
            cd.extend_from_slice(&0u16.to_le_bytes());
            cd.extend_from_slice(&0x21u16.to_le_bytes());
            cd.extend_from_slice(&crc.to_le_bytes());
            if e.zip64 {
                cd.extend_from_slice(&U32_SENTINEL.to_le_bytes());
                cd.extend_from_slice(&U32_SENTINEL.to_le_bytes());
            } else {
                cd.extend_from_slice(&(csize as u32).to_le_bytes());
                cd.extend_from_slice(&(usize_ as u32).to_le_bytes());
            }
            cd.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            cd.extend_from_slice(&(central_extra.len() as u16).to_le_bytes());
            cd.extend_from_slice(&0u16.to_le_bytes()); // comment
            cd.extend_from_slice(&0u16.to_le_bytes()); // disk
            cd.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
            cd.extend_from_slice(&0u32.to_le_bytes()); // external attrs
            if e.zip64 {
                cd.extend_from_slice(&U32_SENTINEL.to_le_bytes());
            } else {
                cd.extend_from_slice(&(lho as u32).to_le_bytes());
            }
            cd.extend_from_slice(&e.name);
            cd.extend_from_slice(&central_extra);
        }
        let cd_offset = out.len() as u64;
        let cd_size = cd.len() as u64;
        let n = entries.len() as u64;
        out.extend_from_slice(&cd);
        if zip64_end {
            let z64 = out.len() as u64;
            out.extend_from_slice(&ZIP64_EOCD_SIG.to_le_bytes());
            out.extend_from_slice(&44u64.to_le_bytes());
            out.extend_from_slice(&45u16.to_le_bytes());
            out.extend_from_slice(&45u16.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(&cd_size.to_le_bytes());
            out.extend_from_slice(&cd_offset.to_le_bytes());
            out.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&z64.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
        }
        out.extend_from_slice(&EOCD_SIG.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        let (n16, size32, off32) = if zip64_end {
            (U16_SENTINEL, U32_SENTINEL, U32_SENTINEL)
        } else {
            (n as u16, cd_size as u32, cd_offset as u32)
        };
        out.extend_from_slice(&n16.to_le_bytes());
        out.extend_from_slice(&n16.to_le_bytes());
        out.extend_from_slice(&size32.to_le_bytes());
        out.extend_from_slice(&off32.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    fn stream_entry(archive: &ZipArchive, entry: &Entry) -> Result<Vec<u8>, ZipError> {
        let mut reader = archive.reader(entry)?;
        let mut out = Vec::new();
        reader
            .read_to_end(&mut out)
            .map_err(|e| ZipError::from_io(e, "streaming test entry"))?;
        assert_eq!(reader.bytes_out(), out.len() as u64);
        Ok(out)
    }

    fn read_everything(archive: &ZipArchive) -> Result<Vec<(String, Vec<u8>)>, ZipError> {
        archive
            .entries()
            .iter()
            .map(|e| Ok((e.name.clone(), stream_entry(archive, e)?)))
            .collect()
    }

    /// Streams `name` expecting an error, and checks it is downcastable.
    fn stream_error(archive: &ZipArchive, name: &str) -> ZipError {
        let entry = archive.by_name(name).expect("entry present");
        let mut reader = archive.reader(entry).expect("reader");
        let mut sink = Vec::new();
        let err = reader
            .read_to_end(&mut sink)
            .expect_err("reading should fail");
        assert!(
            err.get_ref()
                .is_some_and(|inner| inner.downcast_ref::<ZipError>().is_some()),
            "io::Error does not carry a ZipError: {err:?}"
        );
        // Later reads repeat the failure instead of pretending EOF.
        let again = reader.read(&mut [0u8; 16]).expect_err("sticky error");
        assert_eq!(
            ZipError::from_io(again, "again").to_string(),
            ZipError::from_io(
                io::Error::other(ZipError::from_io(err, "first").replay()),
                "first"
            )
            .to_string()
        );
        ZipError::from_io(
            reader.read(&mut [0u8; 1]).expect_err("still failing"),
            "test",
        )
    }

    /// Zip-crate archive with name placeholders patched to `name` (raw bytes).
    fn archive_named(name: &[u8]) -> Vec<u8> {
        let placeholder = vec![b'Q'; name.len()];
        let placeholder_str = String::from_utf8(placeholder.clone()).expect("ascii");
        let mut bytes = zip_crate(
            &[
                ("ok.txt", b"fine", STORED),
                (&placeholder_str, b"payload", DEFLATED),
            ],
            false,
        );
        assert_eq!(replace_all(&mut bytes, &placeholder, name), 2);
        bytes
    }

    fn three_entries() -> Vec<u8> {
        zip_crate(
            &[
                ("one.txt", b"first entry data", STORED),
                ("two.bin", &sample(5000, 2), DEFLATED),
                ("three.txt", b"third entry, stored", STORED),
            ],
            false,
        )
    }

    // ----- valid archives ---------------------------------------------------

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

    // ----- not a zip ---------------------------------------------------------

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

    // ----- hostile data ------------------------------------------------------------

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

        let started = Instant::now();
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
        assert!(started.elapsed() < Duration::from_secs(5));
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
        for method in [12u16, 14, 93, 99, 1] {
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
}
