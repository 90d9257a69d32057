//! Opening and verifying an update package: zip structure (bounded), signature, manifest, and
//! the entry list against the signed manifest. See docs/FORMAT.md.

pub mod keys;
pub mod manifest;
pub mod pack;
pub mod source;
pub mod sparse;
pub mod version;
pub mod zip;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use self::zip::{Limits, ZipArchive, ZipError};
use crate::Error;
pub use keys::{PrivateKey, PublicKey};
pub use manifest::{Image, Manifest, MANIFEST_ENTRY, SIGNATURE_ENTRY};
pub use source::Source;

/// A package whose zip structure is sound but whose signature is not yet checked. Nothing in
/// it may be trusted yet.
pub struct Opened {
    pub path: PathBuf,
    pub file: Arc<dyn Source>,
    pub zip: ZipArchive,
    manifest_bytes: Vec<u8>,
    signature: Option<Vec<u8>>,
}

/// A package whose manifest signature verified with a trusted key and whose entries match
/// the manifest. The file stays open: every later read goes through this one descriptor, so the
/// bytes installed are the bytes of the file that was verified even if the path is replaced.
pub struct Package {
    pub path: PathBuf,
    pub file: Arc<dyn Source>,
    pub zip: ZipArchive,
    pub manifest_sha256: [u8; 32],
    /// The verified manifest; its images (with their chunk hashes) are [`Package::images`].
    pub manifest: Manifest,
    /// Fingerprint of the trusted key that verified the signature.
    pub signer: String,
}

/// Opens the file once, checks the zip structure and limits, and requires a signature.
pub fn open(path: &Path) -> Result<Opened, Error> {
    require_signature(open_unsigned(path)?)
}

/// [`open`] for bytes that are not a file on this device (a sideload host's blocks); `label`
/// names the package in logs and records.
pub fn open_source(source: Arc<dyn Source>, label: &Path) -> Result<Opened, Error> {
    require_signature(open_in(source, label)?)
}

fn require_signature(opened: Opened) -> Result<Opened, Error> {
    match opened.signature.as_deref() {
        None => Err(Error::SignatureMissing {
            reason: format!("the package has no {SIGNATURE_ENTRY} (unsigned)"),
        }),
        Some([]) => Err(Error::SignatureMissing {
            reason: "the signature file is empty".into(),
        }),
        Some(_) => Ok(opened),
    }
}

/// Opens the file once and checks the zip structure and limits; the signature may be absent
/// (for `inspect` and `sign` of unsigned packages).
pub fn open_unsigned(path: &Path) -> Result<Opened, Error> {
    // A FIFO, socket, directory or device node is refused without blocking.
    let file =
        crate::util::open_untrusted(path).map_err(|source| {
            match crate::util::NotAFile::of(&source) {
                Some(reason) => Error::PackageNotAFile {
                    path: path.to_path_buf(),
                    reason,
                },
                None => Error::PackageOpen {
                    path: path.to_path_buf(),
                    source,
                },
            }
        })?;
    open_in(Arc::new(file), path)
}

fn open_in(file: Arc<dyn Source>, path: &Path) -> Result<Opened, Error> {
    let zip = ZipArchive::open(file.clone(), &Limits::default())?;
    let manifest_entry = zip
        .by_name(MANIFEST_ENTRY)
        .ok_or(Error::ManifestMissing {
            name: MANIFEST_ENTRY,
        })?
        .clone();
    let manifest_bytes = zip
        .read_to_vec(&manifest_entry, manifest::MAX_MANIFEST_LEN)
        .map_err(metadata_damage)?;
    let signature = match zip.by_name(SIGNATURE_ENTRY).cloned() {
        None => None,
        Some(e) => match zip
            .read_to_vec(&e, keys::MAX_SIGNATURE_LEN as u64)
            .map_err(metadata_damage)
        {
            Err(ZipError::EntryTooLarge { size, .. }) => {
                return Err(Error::SignatureMissing {
                    reason: format!(
                        "{size} bytes, more than any supported signature ({} bytes)",
                        keys::MAX_SIGNATURE_LEN
                    ),
                })
            }
            other => Some(other?),
        },
    };
    Ok(Opened {
        path: path.to_path_buf(),
        file,
        zip,
        manifest_bytes,
        signature,
    })
}

/// A CRC-32 mismatch in the manifest or signature entry is a damaged package (9003
/// PACKAGE_CORRUPT), found before any signature check; IMAGE_CHUNK_HASH_MISMATCH (9030) is about
/// image data against its signed hashes and stays with the image entries.
fn metadata_damage(e: ZipError) -> ZipError {
    match e {
        ZipError::CrcMismatch {
            name,
            expected,
            actual,
        } => ZipError::Corrupt {
            reason: format!(
                "entry {name:?} is damaged: CRC-32 {actual:08x}, the zip says {expected:08x}"
            ),
        },
        other => other,
    }
}

impl Opened {
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_bytes
    }

    pub fn is_signed(&self) -> bool {
        self.signature.as_ref().is_some_and(|s| !s.is_empty())
    }

    /// Parses the manifest WITHOUT trusting it: for `inspect` of unsigned packages only.
    pub fn manifest_unverified(&self) -> Result<Manifest, Error> {
        Manifest::parse(&self.manifest_bytes)
    }

    /// Which trusted key, if any, verifies the signature.
    pub fn check_signature(&self, trusted: &[PublicKey]) -> Result<String, Error> {
        let signature = match self.signature.as_deref() {
            Some(s) if !s.is_empty() => s,
            _ => {
                return Err(Error::SignatureMissing {
                    reason: "the package is unsigned".into(),
                })
            }
        };
        if let Some(k) = trusted
            .iter()
            .find(|k| k.verify(&self.manifest_bytes, signature))
        {
            return Ok(k.fingerprint());
        }
        // Not verified. Only to pick the clearer message: does the (untrusted) manifest say it
        // was signed by a key we do not have?
        if let Some(fp) = manifest::signing_key_hint(&self.manifest_bytes) {
            if !trusted.iter().any(|k| k.fingerprint() == fp) {
                return Err(Error::UntrustedKey { fingerprint: fp });
            }
        }
        Err(Error::SignatureInvalid {
            trusted: trusted.len(),
        })
    }

    /// Verifies the signature, then parses the manifest and matches it against the entries.
    pub fn verify(self, trusted: &[PublicKey]) -> Result<Package, Error> {
        let signer = self.check_signature(trusted)?;
        let manifest = Manifest::parse(&self.manifest_bytes)?;
        check_entries(&self.zip, &manifest.images)?;
        let manifest_sha256 = Sha256::digest(&self.manifest_bytes).into();
        // The bytes are not kept: up to 16 MiB that the install never reads again.
        drop(self.manifest_bytes);
        Ok(Package {
            path: self.path,
            file: self.file,
            zip: self.zip,
            manifest_sha256,
            manifest,
            signer,
        })
    }
}

impl Package {
    /// The images of the verified manifest, in manifest order.
    pub fn images(&self) -> &[Image] {
        &self.manifest.images
    }
}

/// Every entry but the two META-INF files must be an image in the manifest, and every image must
/// be an entry of exactly the signed size.
pub fn check_entries(zip: &ZipArchive, images: &[Image]) -> Result<(), Error> {
    for e in zip.entries() {
        if e.name == MANIFEST_ENTRY || e.name == SIGNATURE_ENTRY {
            continue;
        }
        if !images.iter().any(|i| i.entry == e.name) {
            return Err(Error::EntryNotInManifest {
                name: e.name.clone(),
            });
        }
    }
    for img in images {
        let e = zip.by_name(&img.entry).ok_or_else(|| Error::EntryMissing {
            name: img.entry.clone(),
        })?;
        if e.uncompressed_size != img.size {
            return Err(Error::EntrySizeMismatch {
                entry: img.entry.clone(),
                expected: img.size,
                actual: e.uncompressed_size,
            });
        }
    }
    Ok(())
}

/// Loads the profile's trusted keys. Keys that fail to load are reported in the second list; it
/// is an error only when none loads.
pub fn load_trusted_keys(paths: &[PathBuf]) -> Result<(Vec<PublicKey>, Vec<String>), Error> {
    let mut keys = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        match PublicKey::load(p) {
            Ok(k) => keys.push(k),
            Err(e) => problems.push(format!("{}: {e}", p.display())),
        }
    }
    if keys.is_empty() {
        return Err(Error::TrustedKeys {
            reason: if problems.is_empty() {
                "no keys listed".into()
            } else {
                problems.join("; ")
            },
        });
    }
    Ok((keys, problems))
}
