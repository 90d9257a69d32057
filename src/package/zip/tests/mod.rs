//! Unit tests of the zip reader: fixtures built here (with the zip crate or
//! by hand, for layouts it does not write), one file per group of checks.

mod hostile;
mod structure;
mod valid;

use std::fs::File;
use std::io::{self, Cursor, Read, Write};
use std::sync::Arc;

use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

use super::central::{
    CENTRAL_HEADER_SIG, FLAG_DATA_DESCRIPTOR, FLAG_ENCRYPTED, FLAG_MASKED_HEADERS,
    FLAG_STRONG_ENCRYPTION,
};
use super::eocd::{EOCD_SIG, ZIP64_EOCD_SIG, ZIP64_LOCATOR_SIG};
use super::extra::{U16_SENTINEL, U32_SENTINEL};
use super::local::LOCAL_HEADER_SIG;
use super::{Entry, EntryReader, Limits, Method, ZipArchive, ZipError};

const STORED: CompressionMethod = CompressionMethod::Stored;
const DEFLATED: CompressionMethod = CompressionMethod::Deflated;

fn file_with(bytes: &[u8]) -> Arc<File> {
    let mut f = tempfile::tempfile().expect("create temp file");
    f.write_all(bytes).expect("write temp file");
    Arc::new(f)
}

fn open(bytes: &[u8]) -> Result<ZipArchive, ZipError> {
    ZipArchive::open(file_with(bytes), &Limits::default())
}

fn open_with(bytes: &[u8], limits: Limits) -> Result<ZipArchive, ZipError> {
    ZipArchive::open(file_with(bytes), &limits)
}

/// Deterministic, compressible, ASCII-only (so it never contains a zip
/// signature) test data.
fn sample(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            b"abcdefgh ijklmnop\n"[((x >> 16) % 18) as usize]
        })
        .collect()
}

fn zip_crate(files: &[(&str, &[u8], CompressionMethod)], large: bool) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data, method) in files {
        let opts = SimpleFileOptions::default()
            .compression_method(*method)
            .large_file(large);
        w.start_file(*name, opts).expect("start_file");
        w.write_all(data).expect("write entry");
    }
    w.finish().expect("finish zip").into_inner()
}

fn positions(buf: &[u8], sig: u32) -> Vec<usize> {
    let sig = sig.to_le_bytes();
    buf.windows(4)
        .enumerate()
        .filter(|(_, w)| *w == sig)
        .map(|(i, _)| i)
        .collect()
}

fn central(buf: &[u8], i: usize) -> usize {
    positions(buf, CENTRAL_HEADER_SIG)[i]
}

fn local(buf: &[u8], i: usize) -> usize {
    positions(buf, LOCAL_HEADER_SIG)[i]
}

fn eocd(buf: &[u8]) -> usize {
    *positions(buf, EOCD_SIG).last().expect("eocd")
}

fn get16(buf: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([buf[off], buf[off + 1]])
}

fn get32(buf: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(buf[off..off + 4].try_into().expect("4 bytes"))
}

fn put16(buf: &mut [u8], off: usize, v: u16) {
    buf[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn put32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put64(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Replaces every occurrence of `from` by `to` (same length).
fn replace_all(buf: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut count = 0;
    let mut i = 0;
    while i + from.len() <= buf.len() {
        if &buf[i..i + from.len()] == from {
            buf[i..i + from.len()].copy_from_slice(to);
            count += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    count
}

// Central header field offsets (see parse_central_directory).
const C_FLAGS: usize = 8;
const C_METHOD: usize = 10;
const C_CRC: usize = 16;
const C_CSIZE: usize = 20;
const C_USIZE: usize = 24;
const C_DISK: usize = 34;
const C_LHO: usize = 42;
// Local header field offsets.
const L_FLAGS: usize = 6;
const L_METHOD: usize = 8;
const L_CRC: usize = 14;
const L_CSIZE: usize = 18;
const L_USIZE: usize = 22;
// EOCD field offsets.
const E_DISK: usize = 4;
const E_ENTRIES_DISK: usize = 8;
const E_ENTRIES: usize = 10;
const E_CD_SIZE: usize = 12;
const E_CD_OFFSET: usize = 16;

/// Hand-built archive entry, for layouts the zip crate does not write.
#[derive(Clone)]
struct RawEntry {
    name: Vec<u8>,
    data: Vec<u8>,
    deflate: bool,
    /// Sizes (and offset, in the central header) via the zip64 extra field.
    zip64: bool,
    /// Flag bit 3, zero local CRC/sizes, descriptor after the data.
    descriptor: bool,
    /// Bytes appended after the entry's data (and descriptor).
    junk_after: Vec<u8>,
    /// Replaces the central header's extra field.
    central_extra: Option<Vec<u8>>,
}

fn raw(name: &str, data: &[u8], deflate: bool) -> RawEntry {
    RawEntry {
        name: name.as_bytes().to_vec(),
        data: data.to_vec(),
        deflate,
        zip64: false,
        descriptor: false,
        junk_after: Vec::new(),
        central_extra: None,
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("deflate");
    enc.finish().expect("deflate finish")
}

fn build(entries: &[RawEntry], zip64_end: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cd = Vec::new();
    for e in entries {
        let payload = if e.deflate {
            deflate(&e.data)
        } else {
            e.data.clone()
        };
        let crc = crc32fast::hash(&e.data);
        let (csize, usize_) = (payload.len() as u64, e.data.len() as u64);
        let lho = out.len() as u64;
        let flags: u16 = if e.descriptor {
            FLAG_DATA_DESCRIPTOR
        } else {
            0
        };
        let method: u16 = if e.deflate { 8 } else { 0 };
        let (l_crc, l_c, l_u) = if e.descriptor {
            (0, 0, 0)
        } else {
            (crc, csize, usize_)
        };
        let mut local_extra = Vec::new();
        if e.zip64 {
            local_extra.extend_from_slice(&1u16.to_le_bytes());
            local_extra.extend_from_slice(&16u16.to_le_bytes());
            local_extra.extend_from_slice(&l_u.to_le_bytes());
            local_extra.extend_from_slice(&l_c.to_le_bytes());
        }
        out.extend_from_slice(&LOCAL_HEADER_SIG.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0x21u16.to_le_bytes());
        out.extend_from_slice(&l_crc.to_le_bytes());
        if e.zip64 {
            out.extend_from_slice(&U32_SENTINEL.to_le_bytes());
            out.extend_from_slice(&U32_SENTINEL.to_le_bytes());
        } else {
            out.extend_from_slice(&(l_c as u32).to_le_bytes());
            out.extend_from_slice(&(l_u as u32).to_le_bytes());
        }
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(local_extra.len() as u16).to_le_bytes());
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&local_extra);
        out.extend_from_slice(&payload);
        if e.descriptor {
            out.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
            out.extend_from_slice(&crc.to_le_bytes());
            if e.zip64 {
                out.extend_from_slice(&csize.to_le_bytes());
                out.extend_from_slice(&usize_.to_le_bytes());
            } else {
                out.extend_from_slice(&(csize as u32).to_le_bytes());
                out.extend_from_slice(&(usize_ as u32).to_le_bytes());
            }
        }
        out.extend_from_slice(&e.junk_after);

        let central_extra = e.central_extra.clone().unwrap_or_else(|| {
            let mut x = Vec::new();
            if e.zip64 {
                x.extend_from_slice(&1u16.to_le_bytes());
                x.extend_from_slice(&24u16.to_le_bytes());
                x.extend_from_slice(&usize_.to_le_bytes());
                x.extend_from_slice(&csize.to_le_bytes());
                x.extend_from_slice(&lho.to_le_bytes());
            }
            x
        });
        cd.extend_from_slice(&CENTRAL_HEADER_SIG.to_le_bytes());
        cd.extend_from_slice(&0x032du16.to_le_bytes());
        cd.extend_from_slice(&45u16.to_le_bytes());
        cd.extend_from_slice(&flags.to_le_bytes());
        cd.extend_from_slice(&method.to_le_bytes());
        cd.extend_from_slice(&0u16.to_le_bytes());
        cd.extend_from_slice(&0x21u16.to_le_bytes());
        cd.extend_from_slice(&crc.to_le_bytes());
        if e.zip64 {
            cd.extend_from_slice(&U32_SENTINEL.to_le_bytes());
            cd.extend_from_slice(&U32_SENTINEL.to_le_bytes());
        } else {
            cd.extend_from_slice(&(csize as u32).to_le_bytes());
            cd.extend_from_slice(&(usize_ as u32).to_le_bytes());
        }
        cd.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        cd.extend_from_slice(&(central_extra.len() as u16).to_le_bytes());
        cd.extend_from_slice(&0u16.to_le_bytes()); // comment
        cd.extend_from_slice(&0u16.to_le_bytes()); // disk
        cd.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
        cd.extend_from_slice(&0u32.to_le_bytes()); // external attrs
        if e.zip64 {
            cd.extend_from_slice(&U32_SENTINEL.to_le_bytes());
        } else {
            cd.extend_from_slice(&(lho as u32).to_le_bytes());
        }
        cd.extend_from_slice(&e.name);
        cd.extend_from_slice(&central_extra);
    }
    let cd_offset = out.len() as u64;
    out.extend_from_slice(&cd);
    end_records(
        &mut out,
        entries.len() as u64,
        cd.len() as u64,
        cd_offset,
        zip64_end,
    );
    out
}

/// Appends the end records for `n` entries whose central directory of
/// `cd_size` bytes starts at `cd_offset`: with `zip64_end`, a zip64 record and
/// locator and a classic record holding only sentinels.
fn end_records(out: &mut Vec<u8>, n: u64, cd_size: u64, cd_offset: u64, zip64_end: bool) {
    if zip64_end {
        let z64 = out.len() as u64;
        out.extend_from_slice(&ZIP64_EOCD_SIG.to_le_bytes());
        out.extend_from_slice(&44u64.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&cd_size.to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&z64.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    out.extend_from_slice(&EOCD_SIG.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    let (n16, size32, off32) = if zip64_end {
        (U16_SENTINEL, U32_SENTINEL, U32_SENTINEL)
    } else {
        (n as u16, cd_size as u32, cd_offset as u32)
    };
    out.extend_from_slice(&n16.to_le_bytes());
    out.extend_from_slice(&n16.to_le_bytes());
    out.extend_from_slice(&size32.to_le_bytes());
    out.extend_from_slice(&off32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
}

fn stream_entry(archive: &ZipArchive, entry: &Entry) -> Result<Vec<u8>, ZipError> {
    let mut reader = archive.reader(entry)?;
    let mut out = Vec::new();
    reader
        .read_to_end(&mut out)
        .map_err(|e| ZipError::from_io(e, "streaming test entry"))?;
    assert_eq!(reader.bytes_out(), out.len() as u64);
    Ok(out)
}

fn read_everything(archive: &ZipArchive) -> Result<Vec<(String, Vec<u8>)>, ZipError> {
    archive
        .entries()
        .iter()
        .map(|e| Ok((e.name.clone(), stream_entry(archive, e)?)))
        .collect()
}

/// Streams `name` expecting an error, and checks it is downcastable.
fn stream_error(archive: &ZipArchive, name: &str) -> ZipError {
    let entry = archive.by_name(name).expect("entry present");
    let mut reader = archive.reader(entry).expect("reader");
    let mut sink = Vec::new();
    let err = reader
        .read_to_end(&mut sink)
        .expect_err("reading should fail");
    assert!(
        err.get_ref()
            .is_some_and(|inner| inner.downcast_ref::<ZipError>().is_some()),
        "io::Error does not carry a ZipError: {err:?}"
    );
    // Later reads repeat the failure instead of pretending EOF.
    let again = reader.read(&mut [0u8; 16]).expect_err("sticky error");
    assert_eq!(
        ZipError::from_io(again, "again").to_string(),
        ZipError::from_io(
            io::Error::other(ZipError::from_io(err, "first").replay()),
            "first"
        )
        .to_string()
    );
    ZipError::from_io(
        reader.read(&mut [0u8; 1]).expect_err("still failing"),
        "test",
    )
}

/// Zip-crate archive with name placeholders patched to `name` (raw bytes).
fn archive_named(name: &[u8]) -> Vec<u8> {
    let placeholder = vec![b'Q'; name.len()];
    let placeholder_str = String::from_utf8(placeholder.clone()).expect("ascii");
    let mut bytes = zip_crate(
        &[
            ("ok.txt", b"fine", STORED),
            (&placeholder_str, b"payload", DEFLATED),
        ],
        false,
    );
    assert_eq!(replace_all(&mut bytes, &placeholder, name), 2);
    bytes
}

fn three_entries() -> Vec<u8> {
    zip_crate(
        &[
            ("one.txt", b"first entry data", STORED),
            ("two.bin", &sample(5000, 2), DEFLATED),
            ("three.txt", b"third entry, stored", STORED),
        ],
        false,
    )
}
