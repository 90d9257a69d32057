//! The zip64 extended information extra field (APPNOTE 4.5.3), through which
//! the central and local headers give sizes and offsets too large for their
//! 32-bit (or 16-bit) fields.

use super::error::{corrupt, ZipError};
use super::fields::Fields;

/// Zip64 extended information extra field header id (APPNOTE 4.5.3).
const ZIP64_EXTRA_ID: u16 = 0x0001;
/// A 32-bit field holding this value defers to the zip64 structures.
pub(super) const U32_SENTINEL: u32 = 0xFFFF_FFFF;
/// A 16-bit field holding this value defers to the zip64 structures.
pub(super) const U16_SENTINEL: u16 = 0xFFFF;

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
pub(super) struct Zip64Fields<'a> {
    pub(super) uncompressed: &'a mut u64,
    pub(super) compressed: &'a mut u64,
    pub(super) offset: Option<&'a mut u64>,
    pub(super) disk: Option<&'a mut u32>,
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
pub(super) fn apply_zip64(
    extra: &[u8],
    name: &str,
    fields: Zip64Fields<'_>,
) -> Result<(), ZipError> {
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
