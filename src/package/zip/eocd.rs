//! End of central directory: the classic record (APPNOTE 4.3.16), the zip64
//! locator (4.3.15) and the zip64 record (4.3.14), which together say where
//! the central directory is.

use crate::package::source::Source;

use super::error::{corrupt, out_of_bounds, ZipError, ARCHIVE};
use super::extra::{U16_SENTINEL, U32_SENTINEL};
use super::fields::{read_exact_at, to_usize, Fields};

/// Signature of the end of central directory record ("PK\x05\x06").
pub(super) const EOCD_SIG: u32 = 0x0605_4b50;
/// Signature of the zip64 end of central directory record ("PK\x06\x06").
pub(super) const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
/// Signature of the zip64 end of central directory locator ("PK\x06\x07").
pub(super) const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;

/// Fixed part of the end of central directory record.
const EOCD_LEN: u64 = 22;
/// The EOCD ends the file and is followed only by its comment (at most
/// 65,535 bytes), so it starts within the last 22 + 65,535 = 65,557 bytes.
const EOCD_SEARCH_WINDOW: u64 = EOCD_LEN + 0xFFFF;
/// The zip64 locator has no variable part.
const ZIP64_LOCATOR_LEN: u64 = 20;
/// Fixed part of the zip64 end of central directory record.
const ZIP64_EOCD_LEN: u64 = 56;
/// `size of zip64 end of central directory record` counts the record minus
/// its first 12 bytes (signature + that size field), so the fixed part is 44.
const ZIP64_EOCD_MIN_REMAINING: u64 = ZIP64_EOCD_LEN - 12;

/// Where the central directory is, as given by the end records.
pub(super) struct CentralDirectoryLocation {
    pub(super) offset: u64,
    pub(super) size: u64,
    pub(super) entries: u64,
    /// First byte of the end records (the zip64 EOCD record when present,
    /// else the EOCD); the central directory must end exactly here.
    pub(super) end_records_start: u64,
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
pub(super) fn locate_central_directory(
    file: &dyn Source,
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

/// Reads the zip64 end of central directory record the locator points at;
/// the classic record must agree with it or defer to it.
fn read_zip64_eocd(
    file: &dyn Source,
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
