//! Bounds on what opening an archive may allocate.

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
