//! Streaming an image out of the package with every chunk verified before it is handed on.
//!
//! Three stages overlap, connected by bounded channels and a small ring of large reusable
//! buffers:
//!
//! 1. a **reader** thread fills a buffer with the next I/O unit of the image: stored entries are
//!    read with positional reads straight from the package's one shared `Arc<File>` at the
//!    entry's data offset; deflated entries are inflated through the zip reader (flate2 with
//!    zlib-rs, CRC-32 and stream end checked);
//! 2. a **hasher** thread checks the SHA-256 of every chunk (the manifest's verification unit) in
//!    the buffer against the signed list, fanning out over spare cores when there are any;
//! 3. the **caller's** thread hands each verified chunk to `consume(offset, bytes)`, in order,
//!    while the next buffers are being read and hashed.
//!
//! Only chunks whose hash matched ever reach `consume`; on a mismatch the bad chunk and
//! everything after it are dropped and the error is returned. Memory is `RING * io_unit`
//! whatever the image size (4 MiB with the defaults).
//!
//! Every byte is read once and hashed once per call. The zip CRC-32 of a *stored* entry is not
//! computed: the signed per-chunk SHA-256 covers every byte and is strictly stronger, and
//! computing both would hash every byte twice. Deflated entries keep the CRC-32 (the inflater
//! checks it for free while it decodes). The whole-image SHA-256 is not computed here either: the
//! signed chunk list implies it (`verify` checks it separately).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::package::pack::read_full;
use crate::package::zip::{EntryReader, Method};
use crate::package::{Image, Package, Source as ByteSource};
use crate::Error;

/// Bytes read (and handed to the hasher) at once; never smaller than the image's chunk size (a
/// power of two up to 4 MiB). Measured on 1 GiB A/B installs (docs/PERFORMANCE.md): 1, 2 and
/// 4 MiB units run at the same speed within noise, while peak RSS is 8.9, 13 and 21 MiB; syscall
/// and hand-off overhead is already negligible at 1 MiB.
pub const IO_UNIT: usize = 1 << 20;

/// Buffers in the ring: one being read, one being hashed, one being written, one spare so the
/// reader never waits on a writer that is about to hand one back.
pub const RING: usize = 4;

/// Most threads used for hashing one buffer (the buffer holds `IO_UNIT / chunk_size` chunks).
const MAX_HASH_WORKERS: usize = 4;

/// A buffer of `len` bytes of the image starting at `offset`.
struct Filled {
    offset: u64,
    buf: Vec<u8>,
    len: usize,
}

type Msg = Result<Filled, Error>;

/// Where the image's bytes come from.
enum Source {
    /// A stored entry: `size` bytes at `start` in the package file.
    Stored {
        file: Arc<dyn ByteSource>,
        start: u64,
        size: u64,
    },
    /// A deflated entry, through the zip reader.
    Deflated(Box<EntryReader>),
}

/// Reads `img` from the package and calls `consume(offset, bytes)` once per chunk, in order,
/// after that chunk's SHA-256 matched the signed one. Returns the first error of any stage; on a
/// mismatch, `consume` is never called for the bad chunk or any after it.
pub fn stream_image(
    pkg: &Package,
    img: &Image,
    mut consume: impl FnMut(u64, &[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    let entry = pkg
        .zip
        .by_name(&img.entry)
        .ok_or_else(|| Error::EntryMissing {
            name: img.entry.clone(),
        })?
        .clone();
    let source = match entry.method {
        Method::Stored => {
            if entry.compressed_size != img.size || entry.uncompressed_size != img.size {
                return Err(Error::EntrySizeMismatch {
                    entry: img.entry.clone(),
                    expected: img.size,
                    actual: entry.compressed_size,
                });
            }
            // Tell the kernel we read this range once, front to back: it doubles readahead,
            // which matters when the package is on a slow card and not in the page cache.
            if let Some(file) = pkg.file.as_file() {
                advise(
                    file,
                    entry.data_offset,
                    img.size,
                    libc::POSIX_FADV_SEQUENTIAL,
                );
            }
            Source::Stored {
                file: Arc::clone(&pkg.file),
                start: entry.data_offset,
                size: img.size,
            }
        }
        Method::Deflated | Method::Zstd => Source::Deflated(Box::new(pkg.zip.reader(&entry)?)),
    };
    let chunk_size = usize::try_from(img.chunk_size)
        .ok()
        .filter(|c| *c > 0)
        .ok_or_else(|| Error::ManifestInvalid {
            reason: "chunk size".into(),
        })?;
    let unit = io_unit(chunk_size, img.size);
    let workers = hash_workers(unit / chunk_size);

    let (filled_tx, filled_rx) = sync_channel::<Msg>(1);
    let (verified_tx, verified_rx) = sync_channel::<Msg>(1);
    let (empty_tx, empty_rx) = channel::<Vec<u8>>();
    for _ in 0..RING {
        let _ = empty_tx.send(vec![0u8; unit]);
    }
    std::thread::scope(|s| {
        s.spawn(move || read_all(source, img, unit, empty_rx, filled_tx));
        s.spawn(move || verify_all(img, chunk_size, workers, filled_rx, verified_tx));
        consume_all(chunk_size, verified_rx, empty_tx, &mut consume)
    })
}

/// The I/O unit for an image: `IO_UNIT`, a whole number of chunks, no larger than the image needs.
fn io_unit(chunk_size: usize, image_size: u64) -> usize {
    let unit = IO_UNIT.max(chunk_size) / chunk_size * chunk_size;
    let needed = usize::try_from(image_size.div_ceil(chunk_size as u64))
        .unwrap_or(usize::MAX)
        .saturating_mul(chunk_size)
        .max(chunk_size);
    unit.min(needed)
}

/// Hashing threads per buffer: the cores left once the reader and the writer have theirs.
fn hash_workers(chunks_per_unit: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores
        .saturating_sub(2)
        .clamp(1, MAX_HASH_WORKERS)
        .min(chunks_per_unit.max(1))
}

fn advise(file: &File, offset: u64, len: u64, advice: libc::c_int) {
    let (Ok(off), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return;
    };
    // SAFETY: posix_fadvise only reads its integer arguments; the descriptor is open (borrowed
    // from `file`). It is a hint: failure (e.g. on a pipe) changes nothing, so it is ignored.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), off, len, advice);
    }
}

/// Stage 3, on the caller's thread: hands each verified chunk on, returns the buffers.
fn consume_all(
    chunk_size: usize,
    verified_rx: Receiver<Msg>,
    empty_tx: Sender<Vec<u8>>,
    consume: &mut impl FnMut(u64, &[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    // Dropping verified_rx / empty_tx on return (error or not) stops the other stages.
    for msg in verified_rx.iter() {
        let f = msg?;
        let data = f.buf.get(..f.len).unwrap_or_default();
        let mut offset = f.offset;
        for chunk in data.chunks(chunk_size) {
            consume(offset, chunk)?;
            offset += chunk.len() as u64;
        }
        let _ = empty_tx.send(f.buf);
    }
    Ok(())
}

/// Stage 1: fills buffers with consecutive units of the image, then checks the entry ends there.
fn read_all(
    mut source: Source,
    img: &Image,
    unit: usize,
    empty_rx: Receiver<Vec<u8>>,
    filled_tx: SyncSender<Msg>,
) {
    let result = (|| -> Result<(), Error> {
        let mut offset = 0u64;
        while offset < img.size {
            let Ok(mut buf) = empty_rx.recv() else {
                return Ok(()); // a later stage stopped
            };
            let len = usize::try_from(img.size - offset).map_or(unit, |r| r.min(unit));
            let dst = buf.get_mut(..len).unwrap_or_default();
            let n = match &mut source {
                Source::Stored { file, start, .. } => {
                    read_at_full(&**file, dst, *start + offset)
                        .map_err(|source| Error::PackageRead { source })?
                }
                Source::Deflated(reader) => {
                    read_full(reader, dst).map_err(Error::from_package_io)?
                }
            };
            if n < len {
                return Err(Error::EntrySizeMismatch {
                    entry: img.entry.clone(),
                    expected: img.size,
                    actual: offset + n as u64,
                });
            }
            if filled_tx.send(Ok(Filled { offset, buf, len })).is_err() {
                return Ok(());
            }
            offset += len as u64;
        }
        match &mut source {
            // The size was checked against the central directory and every byte was read.
            Source::Stored { size, .. } => debug_assert_eq!(*size, offset),
            Source::Deflated(reader) => {
                // The entry must end exactly here; reading to the end also makes the zip reader
                // check the stream end and the CRC-32.
                let mut extra = [0u8; 1];
                let n = read_full(reader, &mut extra).map_err(Error::from_package_io)?;
                if n != 0 {
                    return Err(Error::EntrySizeMismatch {
                        entry: img.entry.clone(),
                        expected: img.size,
                        actual: img.size + 1,
                    });
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = filled_tx.send(Err(e));
    }
}

/// Positional read of exactly `buf.len()` bytes unless the file ends first; returns the count.
fn read_at_full(file: &dyn ByteSource, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Stage 2: checks every chunk of every buffer; forwards the verified bytes, then the error.
fn verify_all(
    img: &Image,
    chunk_size: usize,
    workers: usize,
    filled_rx: Receiver<Msg>,
    verified_tx: SyncSender<Msg>,
) {
    for msg in filled_rx.iter() {
        let mut f = match msg {
            Ok(f) => f,
            Err(e) => {
                let _ = verified_tx.send(Err(e));
                return;
            }
        };
        let first = (f.offset / img.chunk_size) as usize;
        let data = f.buf.get(..f.len).unwrap_or_default();
        let bad = first_mismatch(img, first, data, chunk_size, workers);
        if let Some((i, calculated)) = bad {
            // Chunks before the bad one are verified and may be used; nothing from it on.
            f.len = (i - first) * chunk_size;
            if f.len > 0 && verified_tx.send(Ok(f)).is_err() {
                return;
            }
            let _ = verified_tx.send(Err(Error::ChunkHashMismatch {
                partition: img.partition.clone(),
                chunk: i as u64,
                expected: hex::encode(img.chunks.get(i).copied().unwrap_or_default()),
                calculated: hex::encode(calculated),
            }));
            return;
        }
        if verified_tx.send(Ok(f)).is_err() {
            return;
        }
    }
}

/// The index and hash of the first chunk in `data` (chunk `first` onward) whose SHA-256 is not
/// the signed one, hashing on up to `workers` threads.
fn first_mismatch(
    img: &Image,
    first: usize,
    data: &[u8],
    chunk_size: usize,
    workers: usize,
) -> Option<(usize, [u8; 32])> {
    let chunks: Vec<&[u8]> = data.chunks(chunk_size).collect();
    let hashes: Vec<[u8; 32]> = if workers <= 1 || chunks.len() <= 1 {
        chunks.iter().map(|c| Sha256::digest(c).into()).collect()
    } else {
        let per = chunks.len().div_ceil(workers);
        std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .chunks(per)
                .map(|group| {
                    s.spawn(move || {
                        group
                            .iter()
                            .map(|c| <[u8; 32]>::from(Sha256::digest(c)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            // A worker can only panic on a bug; its chunks then have no hash, count as
            // mismatches below and are never handed on.
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    };
    (0..chunks.len()).find_map(|j| {
        let calculated = hashes.get(j).copied().unwrap_or([0; 32]);
        match img.chunks.get(first + j) {
            Some(expected) if *expected == calculated => None,
            _ => Some((first + j, calculated)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(data: &[u8], chunk_size: usize) -> Image {
        Image {
            partition: "system".into(),
            entry: "system.img".into(),
            size: data.len() as u64,
            sha256: Sha256::digest(data).into(),
            chunk_size: chunk_size as u64,
            chunks: data
                .chunks(chunk_size)
                .map(|c| Sha256::digest(c).into())
                .collect(),
            format: None,
            expanded_size: None,
        }
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 4096) as u8).collect()
    }

    #[test]
    fn io_unit_is_whole_chunks_and_bounded_by_the_image() {
        assert_eq!(io_unit(1 << 20, 1 << 30), IO_UNIT);
        assert_eq!(io_unit(4 << 20, 1 << 30), 4 << 20);
        assert_eq!(io_unit(4096, 10_000), 3 * 4096);
        assert_eq!(io_unit(1 << 20, 0), 1 << 20);
        assert_eq!(io_unit(1 << 20, 5 << 20) % (1 << 20), 0);
    }

    #[test]
    fn finds_the_first_bad_chunk_with_any_number_of_workers() {
        let cs = 4096;
        let good = data(10 * cs + 100);
        let img = image(&good, cs);
        for workers in 1..=4 {
            assert_eq!(first_mismatch(&img, 0, &good, cs, workers), None);
            // Chunks 3..7 of the image, as the second buffer would hold them.
            let part = &good[3 * cs..7 * cs];
            assert_eq!(first_mismatch(&img, 3, part, cs, workers), None);
            for bad_chunk in [0usize, 4, 9, 10] {
                let mut broken = good.clone();
                broken[bad_chunk * cs + 17] ^= 1;
                let (i, calculated) =
                    first_mismatch(&img, 0, &broken, cs, workers).expect("mismatch found");
                assert_eq!(i, bad_chunk, "workers {workers}");
                let end = ((bad_chunk + 1) * cs).min(broken.len());
                let want: [u8; 32] = Sha256::digest(&broken[bad_chunk * cs..end]).into();
                assert_eq!(calculated, want);
            }
            // Two bad chunks: the first one is reported.
            let mut broken = good.clone();
            broken[2 * cs] ^= 1;
            broken[8 * cs] ^= 1;
            assert_eq!(
                first_mismatch(&img, 0, &broken, cs, workers).map(|m| m.0),
                Some(2)
            );
        }
    }

    #[test]
    fn data_beyond_the_signed_chunks_is_a_mismatch() {
        let cs = 4096;
        let good = data(2 * cs);
        let img = image(&good[..cs], cs);
        assert_eq!(first_mismatch(&img, 0, &good, cs, 1).map(|m| m.0), Some(1));
    }

    /// What `consume` received: (offset, bytes) per call.
    type Delivered = Vec<(u64, Vec<u8>)>;

    /// Runs the three stages over an in-memory deflate-free source through the real pipeline
    /// functions (reader on a stored range of a temporary file).
    fn run_stored(
        file_data: &[u8],
        start: u64,
        img: &Image,
        unit: usize,
        workers: usize,
    ) -> (Delivered, Result<(), Error>) {
        use std::io::Write;
        let mut f = tempfile::tempfile().expect("temp file");
        f.write_all(file_data).expect("write");
        let source = Source::Stored {
            file: Arc::new(f),
            start,
            size: img.size,
        };
        let cs = img.chunk_size as usize;
        let (filled_tx, filled_rx) = sync_channel::<Msg>(1);
        let (verified_tx, verified_rx) = sync_channel::<Msg>(1);
        let (empty_tx, empty_rx) = channel::<Vec<u8>>();
        for _ in 0..RING {
            empty_tx.send(vec![0u8; unit]).expect("ring");
        }
        let mut got = Vec::new();
        let result = std::thread::scope(|s| {
            s.spawn(move || read_all(source, img, unit, empty_rx, filled_tx));
            s.spawn(move || verify_all(img, cs, workers, filled_rx, verified_tx));
            consume_all(cs, verified_rx, empty_tx, &mut |off, bytes: &[u8]| {
                got.push((off, bytes.to_vec()));
                Ok(())
            })
        });
        (got, result)
    }

    #[test]
    fn pipeline_delivers_every_chunk_in_order_then_stops_at_corruption() {
        let cs = 4096;
        let good = data(13 * cs + 5);
        let img = image(&good, cs);
        let mut file = vec![0xEEu8; 77];
        file.extend_from_slice(&good);
        file.extend_from_slice(&[0xEE; 10]);
        for (unit, workers) in [(cs, 1), (3 * cs, 1), (4 * cs, 3), (64 * cs, 2)] {
            let (got, result) = run_stored(&file, 77, &img, unit, workers);
            assert!(result.is_ok(), "{result:?}");
            let offsets: Vec<u64> = got.iter().map(|g| g.0).collect();
            let want: Vec<u64> = (0..14).map(|i| i * cs as u64).collect();
            assert_eq!(offsets, want);
            let joined: Vec<u8> = got.iter().flat_map(|g| g.1.clone()).collect();
            assert_eq!(joined, good);

            let mut bad = file.clone();
            bad[77 + 6 * cs + 1] ^= 0x40;
            let (got, result) = run_stored(&bad, 77, &img, unit, workers);
            assert!(
                matches!(result, Err(Error::ChunkHashMismatch { chunk: 6, .. })),
                "{result:?}"
            );
            // Everything handed on was verified and precedes the bad chunk.
            assert!(got.iter().all(|(off, _)| *off < 6 * cs as u64));
            for (off, bytes) in &got {
                let o = *off as usize;
                assert_eq!(bytes.as_slice(), &good[o..o + bytes.len()]);
            }
        }
    }

    #[test]
    fn pipeline_reports_a_short_package() {
        let cs = 4096;
        let good = data(5 * cs);
        let img = image(&good, cs);
        let (got, result) = run_stored(&good[..3 * cs + 10], 0, &img, 2 * cs, 1);
        assert!(
            matches!(result, Err(Error::EntrySizeMismatch { .. })),
            "{result:?}"
        );
        assert!(got.len() <= 2);
    }

    #[test]
    fn consumer_error_stops_the_pipeline() {
        let cs = 4096;
        let good = data(40 * cs);
        let img = image(&good, cs);
        let mut f = tempfile::tempfile().expect("temp file");
        std::io::Write::write_all(&mut f, &good).expect("write");
        let source = Source::Stored {
            file: Arc::new(f),
            start: 0,
            size: img.size,
        };
        let (filled_tx, filled_rx) = sync_channel::<Msg>(1);
        let (verified_tx, verified_rx) = sync_channel::<Msg>(1);
        let (empty_tx, empty_rx) = channel::<Vec<u8>>();
        for _ in 0..RING {
            empty_tx.send(vec![0u8; 2 * cs]).expect("ring");
        }
        let mut calls = 0;
        let img_ref = &img;
        let result = std::thread::scope(|s| {
            s.spawn(move || read_all(source, img_ref, 2 * cs, empty_rx, filled_tx));
            s.spawn(move || verify_all(img_ref, cs, 1, filled_rx, verified_tx));
            consume_all(cs, verified_rx, empty_tx, &mut |_, _: &[u8]| {
                calls += 1;
                if calls == 3 {
                    Err(Error::Cancelled)
                } else {
                    Ok(())
                }
            })
        });
        assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
        assert_eq!(calls, 3);
    }
}
