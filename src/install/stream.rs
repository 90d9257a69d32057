//! Streaming an image out of the package with every chunk verified before it is handed on.
//!
//! A reader thread reads (and inflates) one chunk at a time into a small ring of reusable
//! buffers and hashes it; only a chunk whose SHA-256 equals the signed hash is sent to the
//! consumer, which writes it while the reader works on the next one. Memory stays at
//! `(DEPTH + 2) * chunk_size` whatever the image size.

use std::io::Read;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};

use sha2::{Digest, Sha256};

use crate::package::pack::read_full;
use crate::package::{Image, Package};
use crate::Error;

/// Chunks in flight between the reader and the consumer.
const DEPTH: usize = 3;

type Verified = Result<(u64, Vec<u8>, usize), Error>;

/// Reads `img` from the package and calls `consume(offset, bytes)` for each chunk, in order,
/// after its hash matched. Returns the first error of either side; on a mismatch, `consume` is
/// never called for the bad chunk or any after it.
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
    let reader = pkg.zip.reader(&entry)?;
    let chunk_size = usize::try_from(img.chunk_size).map_err(|_| Error::ManifestInvalid {
        reason: "chunk size".into(),
    })?;
    let (full_tx, full_rx) = sync_channel::<Verified>(DEPTH);
    let (empty_tx, empty_rx) = channel::<Vec<u8>>();
    for _ in 0..DEPTH + 1 {
        let _ = empty_tx.send(vec![0u8; chunk_size]);
    }
    std::thread::scope(|s| {
        s.spawn(move || read_and_verify(reader, img, empty_rx, full_tx));
        consume_all(full_rx, empty_tx, &mut consume)
    })
}

fn consume_all(
    full_rx: Receiver<Verified>,
    empty_tx: Sender<Vec<u8>>,
    consume: &mut impl FnMut(u64, &[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    // Dropping full_rx / empty_tx on return (error or not) stops the reader thread.
    for msg in full_rx.iter() {
        let (offset, buf, len) = msg?;
        consume(offset, &buf[..len])?;
        let _ = empty_tx.send(buf);
    }
    Ok(())
}

fn read_and_verify(
    mut reader: impl Read,
    img: &Image,
    empty_rx: Receiver<Vec<u8>>,
    full_tx: std::sync::mpsc::SyncSender<Verified>,
) {
    let result = (|| -> Result<(), Error> {
        for (i, expected) in img.chunks.iter().enumerate() {
            let Ok(mut buf) = empty_rx.recv() else {
                return Ok(()); // consumer stopped
            };
            let len = img.chunk_len(i) as usize;
            let n = read_full(&mut reader, &mut buf[..len]).map_err(Error::from_package_io)?;
            let offset = i as u64 * img.chunk_size;
            if n < len {
                return Err(Error::EntrySizeMismatch {
                    entry: img.entry.clone(),
                    expected: img.size,
                    actual: offset + n as u64,
                });
            }
            let calculated: [u8; 32] = Sha256::digest(&buf[..len]).into();
            if &calculated != expected {
                return Err(Error::ChunkHashMismatch {
                    partition: img.partition.clone(),
                    chunk: i as u64,
                    expected: hex::encode(expected),
                    calculated: hex::encode(calculated),
                });
            }
            if full_tx.send(Ok((offset, buf, len))).is_err() {
                return Ok(());
            }
        }
        // The entry must end exactly here; reading to EOF also makes the zip reader check the
        // entry's CRC-32.
        let mut extra = [0u8; 1];
        let n = read_full(&mut reader, &mut extra).map_err(Error::from_package_io)?;
        if n != 0 {
            return Err(Error::EntrySizeMismatch {
                entry: img.entry.clone(),
                expected: img.size,
                actual: img.size + 1,
            });
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = full_tx.send(Err(e));
    }
}
