//! Where a package's bytes come from: a [`Source`] answers positional reads and knows its
//! length. A file on a card is one ([`File`]); the adb sideload service is another (blocks asked
//! from the host on demand, `crate::sideload::service`). The zip reader and the image stream read
//! only through this trait, so a sideloaded package is verified and installed in one pass with no
//! copy on the device.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::error::Code;

/// Positional, shared reads of an immutable byte sequence.
pub trait Source: Send + Sync + std::fmt::Debug {
    /// Reads up to `buf.len()` bytes at `offset`; `Ok(0)` only at or past the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Total length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Whether the source is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// The file underneath, when there is one (for read-ahead hints).
    fn as_file(&self) -> Option<&File> {
        None
    }

    /// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "failed to fill whole buffer",
                    ))
                }
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Source for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        FileExt::read_at(self, buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn as_file(&self) -> Option<&File> {
        Some(self)
    }
}

/// A failure of a non-file source that has its own user-visible code (a sideload host that sent
/// too much, too little, or went away). It travels inside `io::Error` through the zip reader and
/// the stream, and [`fault_code`] recovers its code at the error table.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SourceFault {
    pub code: Code,
    pub message: String,
}

impl SourceFault {
    pub fn into_io(self) -> io::Error {
        io::Error::other(self)
    }
}

/// A copy of `e` for a reader that reports the same failure again (io::Error is not Clone):
/// kind and message, and the [`SourceFault`] (so its code) when it carries one.
pub fn replay_io(e: &io::Error) -> io::Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<SourceFault>())
    {
        Some(f) => f.clone().into_io(),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// The code of a [`SourceFault`] carried by `e`, if it carries one.
pub fn fault_code(e: &io::Error) -> Option<Code> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<SourceFault>())
        .map(|f| f.code)
}
