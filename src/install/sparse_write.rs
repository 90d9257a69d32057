//! Writing an Android sparse image: the verified sparse bytes are expanded onto the partition.
//!
//! The stream hands over the sparse bytes chunk by chunk, each chunk's SHA-256 already matched
//! against the signed list ([`super::stream`]); the [`Expander`] turns them into operations,
//! checking the sparse structure as it goes, and this file carries them out:
//!
//! * RAW data is written from the verified buffer itself (no copy);
//! * FILL ranges are written from a 1 MiB buffer of the pattern;
//! * DONT_CARE ranges are skipped (`dont_care = "leave"`, the default), written with zeros
//!   (`dont_care = "zero"`) or discarded (`dont_care = "discard"`: BLKDISCARD, or a hole punched
//!   in a file), as the partition's profile entry says.
//!
//! So every byte written is either verified image data or derived from a verified FILL chunk
//! (or is a zero the profile asked for). A structural error stops the image at the chunk that
//! breaks the rules: nothing after it is written.
//!
//! Resume: the journal counts the *sparse* input chunks, which do not map onto partition
//! offsets. A resumed sparse image is therefore written again from its first byte (the
//! expansion is deterministic, so rewriting is idempotent); the journal's count only says the
//! image was started. Raw images keep the chunk-level resume of `write.rs`.

use super::super::device::profile::DontCare;
use crate::device::FlashTarget;
use crate::package::sparse::{Expander, Op};
use crate::package::Image;
use crate::Error;

/// Size of the pattern buffer FILL and zeroed DONT_CARE ranges are written from.
const FILL_BUF: usize = 1 << 20;

/// The expanding writer of one sparse image.
pub(super) struct SparseWrite<'a> {
    expander: Expander,
    part: &'a dyn FlashTarget,
    partition: &'a str,
    dont_care: DontCare,
    fill: Vec<u8>,
    fill_pattern: Option<[u8; 4]>,
}

impl<'a> SparseWrite<'a> {
    pub(super) fn new(img: &'a Image, part: &'a dyn FlashTarget, dont_care: DontCare) -> Self {
        SparseWrite {
            expander: Expander::new(&img.partition, img.written_size()),
            part,
            partition: &img.partition,
            dont_care,
            fill: Vec::new(),
            fill_pattern: None,
        }
    }

    /// Expands the next verified sparse bytes onto the partition.
    pub(super) fn feed(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let SparseWrite {
            expander,
            part,
            partition,
            dont_care,
            fill,
            fill_pattern,
        } = self;
        expander.feed(bytes, &mut |op| match op {
            Op::Data { offset, bytes } => write_at(*part, partition, bytes, offset),
            Op::Fill {
                offset,
                len,
                pattern,
            } => fill_range(*part, partition, fill, fill_pattern, pattern, offset, len),
            Op::DontCare { offset, len } => match dont_care {
                DontCare::Leave => Ok(()),
                DontCare::Zero => {
                    fill_range(*part, partition, fill, fill_pattern, [0; 4], offset, len)
                }
                DontCare::Discard => {
                    part.discard(offset, len)
                        .map(drop)
                        .map_err(|source| Error::Write {
                            partition: partition.to_owned(),
                            offset,
                            source,
                        })
                }
            },
        })
    }

    /// After the last byte: the sparse image must be complete.
    pub(super) fn finish(&self) -> Result<(), Error> {
        self.expander.finish()
    }
}

fn write_at(
    part: &dyn FlashTarget,
    partition: &str,
    bytes: &[u8],
    offset: u64,
) -> Result<(), Error> {
    part.write_all_at(bytes, offset)
        .map_err(|source| Error::Write {
            partition: partition.to_owned(),
            offset,
            source,
        })
}

/// Writes `len` bytes of `pattern` repeated at `offset`, from a buffer made once per pattern.
fn fill_range(
    part: &dyn FlashTarget,
    partition: &str,
    buf: &mut Vec<u8>,
    current: &mut Option<[u8; 4]>,
    pattern: [u8; 4],
    offset: u64,
    len: u64,
) -> Result<(), Error> {
    if *current != Some(pattern) || buf.is_empty() {
        buf.clear();
        buf.extend(pattern.iter().copied().cycle().take(FILL_BUF));
        *current = Some(pattern);
    }
    let mut done = 0u64;
    while done < len {
        // Block sizes are multiples of 4 and FILL_BUF is too, so every piece starts on a
        // pattern boundary.
        let n = (len - done).min(FILL_BUF as u64) as usize;
        write_at(part, partition, &buf[..n], offset + done)?;
        done += n as u64;
    }
    Ok(())
}

/// Checks a sparse image's structure without writing anything (the in-place verify pass and
/// `verify`): feed it the verified bytes, then call `finish`.
pub(super) fn dry_run(img: &Image) -> Option<Expander> {
    img.is_sparse()
        .then(|| Expander::new(&img.partition, img.written_size()))
}
