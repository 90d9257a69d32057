//! Local file headers (APPNOTE 4.3.7): where each entry's data starts, that
//! it lies before the central directory, that no two entries overlap, and
//! that each local header agrees with its central directory header.

use crate::package::source::Source;

use super::central::{check_flags, CentralInfo, FLAG_DATA_DESCRIPTOR};
use super::error::{corrupt, out_of_bounds, ZipError};
use super::extra::{apply_zip64, Zip64Fields};
use super::fields::{read_exact_at, Fields};
use super::Entry;

/// Signature of a local file header ("PK\x03\x04").
pub(super) const LOCAL_HEADER_SIG: u32 = 0x0403_4b50;
/// Fixed part of a local file header (name and extra field follow it).
const LOCAL_HEADER_LEN: u64 = 30;

/// Fixed part of a local header, kept between the bounds/overlap pass and the
/// validation pass.
pub(super) struct LocalFixed {
    flags: u16,
    method: u16,
    crc32: u32,
    compressed_size: u32,
    uncompressed_size: u32,
    name_len: u16,
    extra_len: u16,
}

/// Entries with their data offsets filled in, and their local headers.
pub(super) struct LocatedEntries {
    pub(super) entries: Vec<Entry>,
    pub(super) fixed: Vec<LocalFixed>,
}

/// Reads each entry's fixed local header, computes `data_offset`, and checks
/// that header and data lie before the central directory.
pub(super) fn locate_entry_data(
    file: &dyn Source,
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
pub(super) fn check_overlaps(entries: &[Entry]) -> Result<(), ZipError> {
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
pub(super) fn validate_local_header(
    file: &dyn Source,
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
