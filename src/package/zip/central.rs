//! Central directory file headers (APPNOTE 4.3.12): each entry's name,
//! method, sizes, CRC-32 and local header offset, with the name and flag
//! checks they must pass.

use std::collections::BTreeMap;

use super::error::{corrupt, ZipError};
use super::extra::{apply_zip64, Zip64Fields};
use super::fields::Fields;
use super::limits::Limits;
use super::{Entry, Method};

/// Signature of a central directory file header ("PK\x01\x02").
pub(super) const CENTRAL_HEADER_SIG: u32 = 0x0201_4b50;
/// Fixed part of a central directory file header (name, extra field and
/// comment follow it).
pub(super) const CENTRAL_HEADER_LEN: usize = 46;

// General purpose bit flags (APPNOTE 4.4.4).
pub(super) const FLAG_ENCRYPTED: u16 = 1 << 0;
pub(super) const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
pub(super) const FLAG_PATCHED_DATA: u16 = 1 << 5;
pub(super) const FLAG_STRONG_ENCRYPTION: u16 = 1 << 6;
pub(super) const FLAG_MASKED_HEADERS: u16 = 1 << 13;

// Compression methods (APPNOTE 4.4.5); the only three we read.
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATED: u16 = 8;
/// Zstandard (APPNOTE 4.4.5 lists 93 for zstd; 20 was an earlier, deprecated number).
const METHOD_ZSTD: u16 = 93;

/// What the central directory says about an entry beyond [`Entry`].
pub(super) struct CentralInfo {
    pub(super) flags: u16,
    pub(super) raw_method: u16,
}

/// The parsed central directory: entries in order, what else their headers
/// say, and the index of each name.
pub(super) type CentralDirectory = (Vec<Entry>, Vec<CentralInfo>, BTreeMap<String, usize>);

/// Parses `entry_count` central directory headers that must fill `cd`
/// exactly, validating names, flags, methods and zip64 fields.
pub(super) fn parse_central_directory(
    cd: &[u8],
    entry_count: usize,
    limits: &Limits,
) -> Result<CentralDirectory, ZipError> {
    let mut entries = Vec::with_capacity(entry_count);
    let mut infos = Vec::with_capacity(entry_count);
    let mut by_name = BTreeMap::new();
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
            METHOD_ZSTD => Method::Zstd,
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

/// Refuses the general purpose flags of features we do not read.
pub(super) fn check_flags(flags: u16, name: &str) -> Result<(), ZipError> {
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
