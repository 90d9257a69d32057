//! Opening an archive (every check runs here, before any entry is read) and
//! reading its entries.

use crate::package::source::Source;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::central::{parse_central_directory, CENTRAL_HEADER_LEN};
use super::eocd::locate_central_directory;
use super::error::{corrupt, io_error, out_of_bounds, ZipError};
use super::fields::{read_exact_at, to_usize};
use super::limits::Limits;
use super::local::{check_overlaps, locate_entry_data, validate_local_header};
use super::reader::{fill_vec, EntryReader};
use super::Entry;

/// A validated, read-only zip archive backed by a shared file descriptor.
#[derive(Debug)]
pub struct ZipArchive {
    file: Arc<dyn Source>,
    file_len: u64,
    central_directory_offset: u64,
    entries: Vec<Entry>,
    by_name: BTreeMap<String, usize>,
}

impl ZipArchive {
    /// Opens and fully validates an archive (see the module docs for what is
    /// checked). Only the end-of-archive window, the central directory (at
    /// most `limits.max_central_directory` bytes) and one local header at a
    /// time are read into memory.
    pub fn open(file: Arc<dyn Source>, limits: &Limits) -> Result<ZipArchive, ZipError> {
        let file_len = file
            .len()
            .map_err(io_error("reading the archive's metadata"))?;
        let loc = locate_central_directory(&*file, file_len)?;

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
        read_exact_at(&*file, &mut cd, loc.offset, "reading the central directory")?;
        let entry_count = to_usize(loc.entries, "entry count")?;
        let (entries, infos, by_name) = parse_central_directory(&cd, entry_count, limits)?;
        drop(cd);

        let cd_start = loc.offset;
        let locals = locate_entry_data(&*file, cd_start, entries)?;
        let entries = locals.entries;
        check_overlaps(&entries)?;
        for ((entry, info), local) in entries.iter().zip(&infos).zip(&locals.fixed) {
            validate_local_header(&*file, entry, info, local)?;
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
        Ok(EntryReader::new(Arc::clone(&self.file), entry))
    }
}
