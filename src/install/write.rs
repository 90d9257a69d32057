//! The write pass: verified chunks from the package to a partition, with checkpoints, and
//! copies of partitions the package does not carry from the active slot.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::{checks, journal, sparse_write, stream, Phase, Progress, Run};
use crate::device::{Access, Device, FlashTarget};
use crate::package::{self, Package};
use crate::Error;

/// One image to write from the package to its partition.
pub(super) struct ImageWrite<'w> {
    pub pkg: &'w Package,
    pub img: &'w package::Image,
    pub path: &'w Path,
    pub part: &'w dyn FlashTarget,
    /// Chunks an earlier attempt counted as flushed.
    pub resume_from: u64,
    pub state_dir: &'w Path,
    /// Sparse images: what to do with DONT_CARE ranges (the partition's profile entry).
    pub dont_care: crate::device::profile::DontCare,
}

/// Streams one image to its partition: only verified chunks are written; chunks an earlier
/// attempt flushed are kept when they read back with their signed hashes. Checkpoints (flush,
/// then journal) run as the image goes.
pub(super) fn write_image(
    run: &mut Run<'_>,
    w: &ImageWrite<'_>,
    journal: &mut journal::Journal,
    progress: &mut Progress,
) -> Result<(), Error> {
    let img = w.img;
    // Sparse images are expanded while written and always rewritten from the start on resume
    // (sparse_write.rs says why).
    let mut sparse = img
        .is_sparse()
        .then(|| sparse_write::SparseWrite::new(img, w.part, w.dont_care));
    let resume_from = if sparse.is_some() { 0 } else { w.resume_from };
    if resume_from > 0 {
        run.log(format!(
            "resuming {}: checking the {} chunk(s) already written",
            img.partition, resume_from
        ));
    } else {
        let how = if sparse.is_some() {
            format!(
                "Android sparse, {} expanded",
                crate::util::human_bytes(img.written_size())
            )
        } else {
            crate::util::human_bytes(img.size)
        };
        run.log(format!(
            "writing {} ({how}) to {}",
            img.partition,
            w.path.display()
        ));
    }
    let interval = journal::checkpoint_interval(img.size, img.chunk_size);
    let mut since_checkpoint = 0u64;
    let mut readback = Vec::new();
    let mut kept = 0u64;
    let mut image_done = 0u64;
    let part_ref = w.part;
    let flush_err = |source| Error::Flush {
        partition: img.partition.clone(),
        source,
    };
    // Checkpoints flush on a helper thread while writing goes on, so the stream never waits for
    // the flash; a flush started after chunk k was written makes chunks ..=k durable when it
    // returns, and only then is k recorded.
    std::thread::scope(|scope| -> Result<(), Error> {
        type Flushing<'s> = (u64, std::thread::ScopedJoinHandle<'s, std::io::Result<()>>);
        let mut flushing: Option<Flushing<'_>> = None;
        let settle = |f: Flushing<'_>, journal: &mut journal::Journal| {
            let (upto, handle) = f;
            handle
                .join()
                .map_err(|_| Error::Internal {
                    reason: "flush thread panicked".into(),
                })?
                .map_err(flush_err)?;
            if let Some(j) = journal.image_mut(&img.partition) {
                j.chunks_done = upto;
            }
            journal::store(w.state_dir, journal)
        };
        stream::stream_image(w.pkg, img, |offset, bytes| {
            let index = offset / img.chunk_size;
            let write_err = |source| Error::Write {
                partition: img.partition.clone(),
                offset,
                source,
            };
            let already = index < resume_from
                && chunk_on_flash(part_ref, img, index, offset, bytes.len(), &mut readback)
                    .map_err(write_err)?;
            let n = bytes.len() as u64;
            if already {
                kept += 1;
            } else if let Some(x) = sparse.as_mut() {
                x.feed(bytes)?;
                progress.written += n;
                since_checkpoint += n;
            } else {
                part_ref.write_all_at(bytes, offset).map_err(write_err)?;
                progress.written += n;
                since_checkpoint += n;
            }
            if since_checkpoint >= interval {
                // Durable first, then recorded: the journal never counts a chunk that a power
                // cut could still lose.
                if let Some(f) = flushing.take() {
                    settle(f, journal)?;
                }
                flushing = Some((index + 1, scope.spawn(move || part_ref.flush())));
                since_checkpoint = 0;
            }
            image_done += n;
            progress.advance(run, Phase::Write, &img.partition, n, (image_done, img.size));
            Ok(())
        })
        .and_then(|()| sparse.as_ref().map_or(Ok(()), |x| x.finish()))
        .and_then(|()| match flushing.take() {
            Some(f) => settle(f, journal),
            None => Ok(()),
        })
        // On an error, a flush still running is joined by the scope.
    })?;
    if kept > 0 {
        run.log(format!(
            "{}: {kept} chunk(s) already on flash and matching their signed hashes were kept",
            img.partition
        ));
    }
    Ok(())
}

/// A/B: copies a slotted partition the package does not carry from the active slot.
pub(super) fn copy_image(
    run: &mut Run<'_>,
    device: &dyn Device,
    t: &checks::Target,
    from: &Path,
    part: &dyn FlashTarget,
    progress: &mut Progress,
) -> Result<(), Error> {
    run.log(format!(
        "copying {} from the active slot ({}): not in the package",
        t.partition,
        from.display()
    ));
    let src = device.open_target(t.kind, from, Access::Read)?;
    let mut image_done = 0u64;
    copy_partition(&*src, part, t, from, &mut |n| {
        progress.written += n;
        image_done += n;
        progress.advance(run, Phase::Write, &t.partition, n, (image_done, t.bytes));
    })
}

/// Whether chunk `index` is already on the partition: read back and hashed against the signed
/// chunk hash (the journal alone is not trusted).
pub(super) fn chunk_on_flash(
    part: &dyn FlashTarget,
    img: &package::Image,
    index: u64,
    offset: u64,
    len: usize,
    buf: &mut Vec<u8>,
) -> std::io::Result<bool> {
    let Some(expected) = usize::try_from(index).ok().and_then(|i| img.chunks.get(i)) else {
        return Ok(false);
    };
    buf.resize(len, 0);
    part.read_exact_at(buf, offset)?;
    let calculated: [u8; 32] = Sha256::digest(&buf[..]).into();
    Ok(&calculated == expected)
}

/// Copies an untouched slotted partition from the active slot, then reads the copy back and
/// compares hashes: the new slot must be complete and exact.
fn copy_partition(
    src: &dyn FlashTarget,
    dst: &dyn FlashTarget,
    t: &checks::Target,
    from: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    const BUF: u64 = 1 << 20;
    let name = &t.partition;
    let read_err = |source: std::io::Error| Error::PartitionOpen {
        path: from.to_path_buf(),
        source,
    };
    let mut buf = vec![0u8; BUF as usize];
    let mut src_hash = Sha256::new();
    let mut off = 0;
    while off < t.bytes {
        let n = BUF.min(t.bytes - off) as usize;
        src.read_exact_at(&mut buf[..n], off).map_err(read_err)?;
        src_hash.update(&buf[..n]);
        dst.write_all_at(&buf[..n], off)
            .map_err(|source| Error::Write {
                partition: name.clone(),
                offset: off,
                source,
            })?;
        off += n as u64;
        progress(n as u64);
    }
    dst.flush().map_err(|source| Error::Flush {
        partition: name.clone(),
        source,
    })?;
    let mut dst_hash = Sha256::new();
    off = 0;
    while off < t.bytes {
        let n = BUF.min(t.bytes - off) as usize;
        dst.read_exact_at(&mut buf[..n], off)
            .map_err(|source| Error::Write {
                partition: name.clone(),
                offset: off,
                source,
            })?;
        dst_hash.update(&buf[..n]);
        off += n as u64;
    }
    let (a, b): ([u8; 32], [u8; 32]) = (src_hash.finalize().into(), dst_hash.finalize().into());
    if a != b {
        return Err(Error::ImageHashMismatch {
            partition: name.clone(),
            expected: hex::encode(a),
            calculated: hex::encode(b),
        });
    }
    Ok(())
}
