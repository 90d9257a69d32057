//! Bounded, read-only zip reader for untrusted update packages.
//!
//! The recovery environment must never be crashed, hung or OOM-killed by a
//! hostile `update.zip`, so this reader is deliberately small and strict:
//!
//! * only stored (method 0), deflate (method 8) and zstd (method 93) entries, zip64 and data
//!   descriptors are supported; everything else is rejected with a typed
//!   [`ZipError`];
//! * every size read from the archive is checked against the file length and
//!   against [`Limits`] *before* anything is allocated from it, and all offset
//!   arithmetic is checked (offsets may be near `u64::MAX`);
//! * every loop is bounded by the input (the 64 KiB end-of-archive window, the
//!   declared entry count, or the number of compressed bytes);
//! * the archive is read only with positional reads
//!   ([`FileExt::read_at`]) through one shared `Arc<dyn Source>` (a file, or a sideload host): nothing seeks and
//!   nothing reopens the path, so readers of different entries can run
//!   concurrently and the file cannot be swapped underneath us by path.
//!
//! Structure layouts and field offsets follow PKWARE's APPNOTE.TXT (6.3.x);
//! section numbers are given next to each structure.
//!
//! One file per structure: [`eocd`] (end of central directory records, zip64
//! included), [`central`] (central directory headers, names, flags), [`local`]
//! (local file headers, extents and overlaps), [`extra`] (the zip64 extended
//! information extra field), [`archive`] (opening and the public
//! [`ZipArchive`]), [`reader`] (streaming stored/inflated data with size and
//! CRC checks), [`error`] and [`limits`].

mod archive;
mod central;
mod eocd;
mod error;
mod extra;
mod fields;
mod limits;
mod local;
mod reader;
#[cfg(test)]
mod tests;
mod unzstd;

pub use archive::ZipArchive;
pub use error::ZipError;
pub use limits::Limits;
pub use reader::EntryReader;
pub use unzstd::ZSTD_WINDOW_LOG_MAX;

/// Compression method of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Method 0: the data is stored as is.
    Stored,
    /// Method 8: raw deflate (RFC 1951).
    Deflated,
    /// Method 93: one Zstandard frame (RFC 8878), decoded with a bounded window
    /// ([`ZSTD_WINDOW_LOG_MAX`]).
    Zstd,
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
