//! Bounds-checked access to the little-endian fields of on-disk structures,
//! and positional reads of them.

use crate::package::source::Source;

use super::error::{corrupt, io_error, out_of_bounds, ZipError};

/// Bounds-checked little-endian field access into one on-disk structure.
/// Every access goes through `get`, so a short buffer gives `Corrupt`, never
/// a panic.
pub(super) struct Fields<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Fields<'a> {
    pub(super) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Fields { buf, what }
    }

    pub(super) fn bytes<const N: usize>(&self, off: usize) -> Result<[u8; N], ZipError> {
        off.checked_add(N)
            .and_then(|end| self.buf.get(off..end))
            .and_then(|b| <[u8; N]>::try_from(b).ok())
            .ok_or_else(|| corrupt(format!("{} is truncated", self.what)))
    }

    pub(super) fn u16(&self, off: usize) -> Result<u16, ZipError> {
        self.bytes::<2>(off).map(u16::from_le_bytes)
    }

    pub(super) fn u32(&self, off: usize) -> Result<u32, ZipError> {
        self.bytes::<4>(off).map(u32::from_le_bytes)
    }

    pub(super) fn u64(&self, off: usize) -> Result<u64, ZipError> {
        self.bytes::<8>(off).map(u64::from_le_bytes)
    }

    pub(super) fn slice(&self, off: usize, len: usize) -> Result<&'a [u8], ZipError> {
        off.checked_add(len)
            .and_then(|end| self.buf.get(off..end))
            .ok_or_else(|| corrupt(format!("{} is truncated", self.what)))
    }
}

pub(super) fn read_exact_at(
    file: &dyn Source,
    buf: &mut [u8],
    offset: u64,
    context: &'static str,
) -> Result<(), ZipError> {
    file.read_exact_at(buf, offset).map_err(io_error(context))
}

pub(super) fn to_usize(v: u64, what: &str) -> Result<usize, ZipError> {
    usize::try_from(v).map_err(|_| out_of_bounds(format!("{what} ({v}) does not fit in memory")))
}
