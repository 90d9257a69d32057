//! Typed errors of the zip reader, and the error code each one reports.

use std::io;

use crate::error::{Code, HasCode};

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
    #[error("zstd data of {name:?} needs a decoding window larger than 2^{window_log_max} bytes")]
    ZstdWindowTooLarge { name: String, window_log_max: u32 },
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
    pub(super) fn replay(&self) -> ZipError {
        match self {
            ZipError::Io { context, source } => ZipError::Io {
                context,
                source: crate::package::source::replay_io(source),
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
            ZipError::ZstdWindowTooLarge {
                name,
                window_log_max,
            } => ZipError::ZstdWindowTooLarge {
                name: name.clone(),
                window_log_max: *window_log_max,
            },
        }
    }
}

pub(super) fn corrupt(reason: impl Into<String>) -> ZipError {
    ZipError::Corrupt {
        reason: reason.into(),
    }
}

pub(super) fn out_of_bounds(what: impl Into<String>) -> ZipError {
    ZipError::OutOfBounds { what: what.into() }
}

pub(super) fn io_error(context: &'static str) -> impl FnOnce(io::Error) -> ZipError {
    move |source| ZipError::Io { context, source }
}

/// Placeholder entry name for archive-level `Unsupported` errors.
pub(super) const ARCHIVE: &str = "<archive>";

/// The code each zip failure reports (the table is in `crate::error`).
impl HasCode for ZipError {
    fn code(&self) -> Code {
        match self {
            ZipError::Io { source, .. } => {
                crate::package::source::fault_code(source).unwrap_or(Code::PackageRead)
            }
            ZipError::NotZip | ZipError::Corrupt { .. } => Code::ZipCorrupt,
            ZipError::TooManyEntries { .. }
            | ZipError::CentralDirectoryTooLarge { .. }
            | ZipError::EntryTooLarge { .. } => Code::PackageLimits,
            ZipError::UnsafeName { .. } => Code::ZipUnsafeName,
            ZipError::DuplicateName { .. } => Code::ZipDuplicateEntry,
            ZipError::OutOfBounds { .. }
            | ZipError::Overlap { .. }
            | ZipError::HeaderMismatch { .. } => Code::ZipInconsistent,
            ZipError::Unsupported { .. } => Code::ZipUnsupported,
            // Data that inflates past its declared size (a zip bomb) is a limit, as the
            // PACKAGE_LIMITS_EXCEEDED meaning says; data that ends early is a size mismatch.
            ZipError::SizeMismatch {
                expected, actual, ..
            } if actual > expected => Code::PackageLimits,
            ZipError::SizeMismatch { .. } => Code::EntrySizeMismatch,
            ZipError::CrcMismatch { .. } => Code::ChunkHashMismatch,
            ZipError::ZstdWindowTooLarge { .. } => Code::ZstdWindowTooLarge,
        }
    }
}
