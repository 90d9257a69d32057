//! The host-side packer: reads a package spec (TOML), hashes every image chunk, writes and signs
//! the manifest, and writes `update.zip`. See docs/FORMAT.md.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::keys::{PrivateKey, PublicKey};
use super::manifest::{
    Image, Manifest, DEFAULT_CHUNK_SIZE, FORMAT_VERSION, MANIFEST_ENTRY, SIGNATURE_ENTRY,
};
use crate::Error;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    Stored,
    Deflate,
    /// Zip method 93, zstd level 3 (window ≤ 2 MiB, inside the device's 8 MiB bound).
    Zstd,
}

/// zstd level used for `compression = "zstd"`: fast to decode and well inside the device's
/// window bound ([`crate::package::zip::ZSTD_WINDOW_LOG_MAX`]).
pub const ZSTD_LEVEL: i64 = 3;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageEntrySpec {
    pub partition: String,
    pub file: PathBuf,
    #[serde(default)]
    pub entry: Option<String>,
    #[serde(default)]
    pub compression: Compression,
    #[serde(default)]
    pub chunk_size: Option<u64>,
    /// `"android-sparse"`, `"raw"`, or absent (sparse when the file starts with the sparse
    /// magic, else raw).
    #[serde(default)]
    pub format: Option<String>,
    /// Sparse only: the expanded size to sign. Normally read from the sparse header; giving it
    /// skips reading the header (used to make deliberately broken images for tests).
    #[serde(default)]
    pub expanded_size: Option<u64>,
}

/// The package spec given to `pack`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackSpec {
    pub products: Vec<String>,
    pub version: String,
    pub rollback_index: u64,
    #[serde(default)]
    pub build_time: Option<u64>,
    #[serde(default)]
    pub hardware_revisions: Vec<String>,
    #[serde(default)]
    pub basebands: Vec<String>,
    #[serde(default)]
    pub wipe_data: bool,
    #[serde(default)]
    pub min_battery_percent: Option<u8>,
    #[serde(default)]
    pub chunk_size: Option<u64>,
    #[serde(rename = "image")]
    pub images: Vec<ImageEntrySpec>,
}

fn spec_err(reason: impl Into<String>) -> Error {
    Error::PackSpec {
        reason: reason.into(),
    }
}

impl PackSpec {
    pub fn load(path: &Path) -> Result<(PackSpec, PathBuf), Error> {
        let text = crate::util::read_bounded(path, 1 << 20)
            .map_err(|e| spec_err(format!("{}: {e}", path.display())))?;
        let text = String::from_utf8(text).map_err(|_| spec_err("spec is not UTF-8"))?;
        let spec: PackSpec =
            toml::from_str(&text).map_err(|e| spec_err(format!("{}: {e}", path.display())))?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        Ok((spec, dir))
    }
}

/// Chunk hashes and whole-image hash of one file, in one read.
pub struct Hashed {
    pub size: u64,
    pub sha256: [u8; 32],
    pub chunks: Vec<[u8; 32]>,
}

pub fn hash_image(mut r: impl Read, chunk_size: u64) -> io::Result<Hashed> {
    let mut whole = Sha256::new();
    let mut chunks = Vec::new();
    let mut buf = vec![0u8; chunk_size as usize];
    let mut size = 0u64;
    loop {
        let n = read_full(&mut r, &mut buf)?;
        if n == 0 {
            break;
        }
        whole.update(&buf[..n]);
        chunks.push(Sha256::digest(&buf[..n]).into());
        size += n as u64;
        if n < buf.len() {
            break;
        }
    }
    Ok(Hashed {
        size,
        sha256: whole.finalize().into(),
        chunks,
    })
}

/// Reads until `buf` is full or EOF; returns the bytes read.
pub fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What `pack` made.
pub struct PackOutput {
    pub manifest: Manifest,
    pub manifest_bytes: Vec<u8>,
    pub signed: bool,
}

/// A reader that hashes what passes through, to prove the file did not change between the
/// hashing pass and the copy into the zip.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Builds the package. With `key`, it is signed; without, `signer` (if given) is recorded as the
/// intended signing key and the signature is added later with [`add_signature`].
pub fn pack(
    spec_path: &Path,
    key: Option<&PrivateKey>,
    signer: Option<&PublicKey>,
    out: &Path,
) -> Result<PackOutput, Error> {
    let (spec, dir) = PackSpec::load(spec_path)?;
    if spec.images.is_empty() {
        return Err(spec_err("no [[image]] listed"));
    }
    let mut images = Vec::new();
    for img in &spec.images {
        let path = dir.join(&img.file);
        let chunk_size = img
            .chunk_size
            .or(spec.chunk_size)
            .unwrap_or(DEFAULT_CHUNK_SIZE);
        let file = File::open(&path).map_err(|e| spec_err(format!("{}: {e}", path.display())))?;
        let h = hash_image(BufReader::with_capacity(1 << 20, file), chunk_size)
            .map_err(|e| spec_err(format!("{}: {e}", path.display())))?;
        let entry = img.entry.clone().unwrap_or_else(|| {
            img.file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("{}.img", img.partition))
        });
        let (format, expanded_size) = image_format(img, &path)?;
        images.push(Image {
            partition: img.partition.clone(),
            entry,
            size: h.size,
            sha256: h.sha256,
            chunk_size,
            chunks: h.chunks,
            format,
            expanded_size,
        });
    }
    let build_time = spec.build_time.unwrap_or_else(|| {
        std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(crate::util::unix_now)
    });
    let signing_key = key
        .map(|k| k.public_key().fingerprint())
        .or_else(|| signer.map(PublicKey::fingerprint));
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        products: spec.products.clone(),
        version: spec.version.clone(),
        build_time,
        rollback_index: spec.rollback_index,
        hardware_revisions: spec.hardware_revisions.clone(),
        basebands: spec.basebands.clone(),
        wipe_data: spec.wipe_data,
        min_battery_percent: spec.min_battery_percent,
        signing_key,
        images,
    };
    // Same rules as the device applies: a package we make must be one it accepts.
    manifest.validate().map_err(|e| spec_err(e.to_string()))?;
    let manifest_bytes = manifest.to_json();
    let signature = key.map(|k| k.sign(&manifest_bytes)).transpose()?;

    let tmp = out.with_extension("zip.partial");
    let result = write_zip(
        &tmp,
        &manifest_bytes,
        signature.as_deref(),
        &spec,
        &dir,
        &manifest,
    );
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, out).map_err(|e| spec_err(format!("{}: {e}", out.display())))?;
    Ok(PackOutput {
        manifest,
        manifest_bytes,
        signed: signature.is_some(),
    })
}

/// The manifest's `format` and `expanded_size` for an image: from the spec, or detected from
/// the file's first bytes (the Android sparse magic).
fn image_format(img: &ImageEntrySpec, path: &Path) -> Result<(Option<String>, Option<u64>), Error> {
    use super::sparse::{header, FORMAT_ANDROID_SPARSE};
    let read_header = || -> Result<Vec<u8>, Error> {
        let mut f = File::open(path).map_err(|e| spec_err(format!("{}: {e}", path.display())))?;
        let mut b = vec![0u8; header::FILE_HEADER_LEN];
        let n =
            read_full(&mut f, &mut b).map_err(|e| spec_err(format!("{}: {e}", path.display())))?;
        b.truncate(n);
        Ok(b)
    };
    let sparse = match img.format.as_deref() {
        Some("raw") => false,
        Some(FORMAT_ANDROID_SPARSE) => true,
        Some(other) => {
            return Err(spec_err(format!(
                "{}: format {other:?} (known: \"android-sparse\", \"raw\")",
                img.partition
            )))
        }
        None => header::has_magic(&read_header()?),
    };
    if !sparse {
        if img.expanded_size.is_some() {
            return Err(spec_err(format!(
                "{}: expanded_size is only for android-sparse images",
                img.partition
            )));
        }
        return Ok((None, None));
    }
    let expanded = match img.expanded_size {
        Some(e) => e,
        None => header::FileHeader::parse(&read_header()?)
            .map_err(|r| spec_err(format!("{}: sparse header: {r}", path.display())))?
            .expanded_size(),
    };
    Ok((Some(FORMAT_ANDROID_SPARSE.to_owned()), Some(expanded)))
}

fn zip_options(compression: Compression, size: u64) -> zip::write::SimpleFileOptions {
    let (method, level) = match compression {
        Compression::Stored => (zip::CompressionMethod::Stored, None),
        Compression::Deflate => (zip::CompressionMethod::Deflated, None),
        Compression::Zstd => (zip::CompressionMethod::Zstd, Some(ZSTD_LEVEL)),
    };
    zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .compression_level(level)
        // A fixed timestamp keeps packages reproducible for the same inputs.
        .last_modified_time(zip::DateTime::default())
        // Zip64 fields for entries that may pass 4 GiB (compressed or not).
        .large_file(size >= u64::from(u32::MAX) - (1 << 20))
}

fn write_zip(
    tmp: &Path,
    manifest_bytes: &[u8],
    signature: Option<&[u8]>,
    spec: &PackSpec,
    dir: &Path,
    manifest: &Manifest,
) -> Result<(), Error> {
    let io_err = |e: &dyn std::fmt::Display| spec_err(format!("{}: {e}", tmp.display()));
    let file = File::create(tmp).map_err(|e| io_err(&e))?;
    let mut zw = zip::ZipWriter::new(std::io::BufWriter::with_capacity(1 << 20, file));
    zw.start_file(
        MANIFEST_ENTRY,
        zip_options(Compression::Deflate, manifest_bytes.len() as u64),
    )
    .map_err(|e| io_err(&e))?;
    zw.write_all(manifest_bytes).map_err(|e| io_err(&e))?;
    if let Some(sig) = signature {
        zw.start_file(SIGNATURE_ENTRY, zip_options(Compression::Stored, 0))
            .map_err(|e| io_err(&e))?;
        zw.write_all(sig).map_err(|e| io_err(&e))?;
    }
    for (img, spec_img) in manifest.images.iter().zip(&spec.images) {
        let path = dir.join(&spec_img.file);
        zw.start_file(
            img.entry.as_str(),
            zip_options(spec_img.compression, img.size),
        )
        .map_err(|e| io_err(&e))?;
        let file = File::open(&path).map_err(|e| spec_err(format!("{}: {e}", path.display())))?;
        let mut hr = HashingReader {
            inner: BufReader::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
        };
        let copied = io::copy(&mut hr, &mut zw).map_err(|e| io_err(&e))?;
        if copied != img.size || <[u8; 32]>::from(hr.hasher.finalize()) != img.sha256 {
            return Err(spec_err(format!(
                "{} changed while it was being packed",
                path.display()
            )));
        }
    }
    let mut w = zw.finish().map_err(|e| io_err(&e))?;
    w.flush().map_err(|e| io_err(&e))?;
    w.get_ref().sync_all().map_err(|e| io_err(&e))?;
    Ok(())
}

/// Adds an externally made signature (openssl, an HSM) to an unsigned package. Refuses a
/// package that already has one, and, given the signer's public key, a signature that does not
/// verify with it.
pub fn add_signature(
    package: &Path,
    signature: &[u8],
    check_with: Option<&PublicKey>,
) -> Result<(), Error> {
    if signature.is_empty() || signature.len() > super::keys::MAX_SIGNATURE_LEN {
        return Err(Error::SignatureMissing {
            reason: format!("signature of {} bytes", signature.len()),
        });
    }
    let opened = super::open_unsigned(package)?;
    if opened.is_signed() || opened.zip.by_name(SIGNATURE_ENTRY).is_some() {
        return Err(spec_err(format!("{} is already signed", package.display())));
    }
    if let Some(k) = check_with {
        if !k.verify(opened.manifest_bytes(), signature) {
            return Err(Error::SignatureInvalid { trusted: 1 });
        }
    }
    drop(opened);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(package)
        .map_err(|source| Error::PackageOpen {
            path: package.to_path_buf(),
            source,
        })?;
    let io_err = |e: &dyn std::fmt::Display| spec_err(format!("{}: {e}", package.display()));
    let mut zw = zip::ZipWriter::new_append(file).map_err(|e| io_err(&e))?;
    zw.start_file(SIGNATURE_ENTRY, zip_options(Compression::Stored, 0))
        .map_err(|e| io_err(&e))?;
    zw.write_all(signature).map_err(|e| io_err(&e))?;
    let f = zw.finish().map_err(|e| io_err(&e))?;
    f.sync_all().map_err(|e| io_err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_image_chunks() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let h = hash_image(&data[..], 4096).unwrap();
        assert_eq!(h.size, 10_000);
        assert_eq!(h.chunks.len(), 3);
        assert_eq!(h.chunks[2], <[u8; 32]>::from(Sha256::digest(&data[8192..])));
        assert_eq!(h.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
        let exact = hash_image(&data[..8192], 4096).unwrap();
        assert_eq!(exact.chunks.len(), 2);
    }
}
