//! Signing keys and package-manifest signatures.
//!
//! Everything here is interchangeable with the `openssl` command line tool
//! (OpenSSL 3):
//!
//! * Private keys are PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), public keys
//!   SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), i.e. what
//!   `openssl genpkey` and `openssl pkey -pubout` write. Traditional
//!   `RSA PRIVATE KEY` (PKCS#1) and `EC PRIVATE KEY` (SEC1) files are converted
//!   to PKCS#8 on load; `RSA PUBLIC KEY` (PKCS#1) files are wrapped into SPKI.
//! * Signatures are the bytes `openssl dgst -sha256 -sign` writes for ECDSA
//!   P-256 (DER `ECDSA-Sig-Value`) and RSA (PKCS#1 v1.5 with SHA-256), and the
//!   raw 64 bytes `openssl pkeyutl -sign -rawin` writes for Ed25519.
//!
//! All signing and verification is done by `ring`. `ring` only generates
//! ECDSA and Ed25519 keys; RSA keys are generated with the `rsa` crate.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey, VerificationAlgorithm,
};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, PrivateKeyInfo, SecretDocument};
use sha2::{Digest, Sha256};
use spki::der::asn1::{AnyRef, BitStringRef, ContextSpecific, ObjectIdentifier, OctetStringRef};
use spki::der::zeroize::Zeroizing;
use spki::der::{Decode, Encode, Reader, SliceReader, TagNumber};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

/// Longest signature [`PublicKey::verify`] looks at. The largest signature we
/// can produce or accept is RSA-4096 (512 bytes); anything longer is rejected
/// before it reaches `ring`.
pub const MAX_SIGNATURE_LEN: usize = 1024;

/// Key files larger than this are refused by [`PublicKey::load`] and
/// [`PrivateKey::load`]; a PEM RSA-4096 private key is about 3.3 KiB.
pub const MAX_KEY_FILE_LEN: u64 = 64 * 1024;

/// Smallest and largest accepted RSA modulus, in bits.
pub const RSA_MIN_BITS: usize = 2048;
/// See [`RSA_MIN_BITS`]. `ring` would verify up to 8192 bits; we cap at 4096.
pub const RSA_MAX_BITS: usize = 4096;

/// RSA sizes [`PrivateKey::generate`] and [`Algorithm::from_str`] accept.
const RSA_GENERATE_BITS: [usize; 3] = [2048, 3072, 4096];

// Object identifiers (dotted form) of the algorithms we accept.
/// id-ecPublicKey (RFC 5480).
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp256r1 a.k.a. prime256v1 a.k.a. NIST P-256 (RFC 5480).
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// id-Ed25519 (RFC 8410).
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// rsaEncryption (RFC 8017); the OID openssl uses for all plain RSA keys.
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// PEM labels.
const LABEL_PUBLIC: &str = "PUBLIC KEY";
const LABEL_RSA_PUBLIC: &str = "RSA PUBLIC KEY";
const LABEL_PRIVATE: &str = "PRIVATE KEY";
const LABEL_RSA_PRIVATE: &str = "RSA PRIVATE KEY";
const LABEL_EC_PRIVATE: &str = "EC PRIVATE KEY";
const LABEL_ENCRYPTED: &str = "ENCRYPTED PRIVATE KEY";

/// Errors from loading, parsing, generating, writing keys and signing.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write key file {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {} is larger than {limit} bytes", .path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("invalid PEM: {reason}")]
    Pem { reason: String },
    #[error("expected {expected}, found a PEM block labelled {label:?}")]
    WrongKeyKind {
        expected: &'static str,
        label: String,
    },
    #[error(
        "unsupported key algorithm {} (OID {oid}); supported are ecdsa-p256, ed25519 and RSA with 2048 to 4096 bits",
        oid_name(.oid)
    )]
    UnsupportedAlgorithm { oid: String },
    #[error("unsupported elliptic curve {} (OID {oid}); only P-256 (prime256v1) is supported", oid_name(.oid))]
    UnsupportedCurve { oid: String },
    #[error("RSA key has {bits} bits; only 2048 to 4096 bits are accepted (generation: 2048, 3072 or 4096)")]
    RsaKeySize { bits: usize },
    #[error("malformed key: {reason}")]
    Malformed { reason: String },
    #[error("the private key is encrypted; write an unencrypted copy with `openssl pkey -in KEY -out KEY.plain` first")]
    Encrypted,
    #[error(
        "{reason}; convert the key with `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pkcs8`"
    )]
    NeedsPkcs8 { reason: String },
    #[error("{} already exists; refusing to overwrite it", .path.display())]
    Exists { path: PathBuf },
    #[error("invalid key path {}: {reason}", .path.display())]
    BadPath { path: PathBuf, reason: &'static str },
    #[error("signing failed: {reason}")]
    Sign { reason: String },
    #[error("key generation failed: {reason}")]
    Generate { reason: String },
    #[error("unknown key algorithm {name:?}; expected ecdsa-p256, ed25519, rsa-2048, rsa-3072 or rsa-4096")]
    UnknownAlgorithm { name: String },
}

fn malformed(reason: impl Into<String>) -> KeyError {
    KeyError::Malformed {
        reason: reason.into(),
    }
}

/// Human name for OIDs that show up in error messages.
fn oid_name(oid: &str) -> &'static str {
    match oid {
        "1.2.840.10045.2.1" => "id-ecPublicKey",
        "1.2.840.10045.3.1.7" => "P-256",
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        "1.3.132.0.10" => "secp256k1",
        "1.2.840.10045.3.1.1" => "P-192",
        "1.3.132.0.33" => "P-224",
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.2.840.113549.1.1.1" => "rsaEncryption",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.10040.4.1" => "DSA",
        "1.2.840.10046.2.1" => "DH",
        "1.2.156.10197.1.301" => "SM2",
        _ => "(unknown)",
    }
}

/// A signature algorithm (with key type and, for RSA, size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA on NIST P-256 with SHA-256, DER signatures.
    EcdsaP256,
    /// Ed25519 (pure, no pre-hash), 64-byte signatures.
    Ed25519,
    /// RSA PKCS#1 v1.5 with SHA-256; `bits` is the modulus length.
    Rsa { bits: usize },
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Algorithm::EcdsaP256 => f.write_str("ecdsa-p256"),
            Algorithm::Ed25519 => f.write_str("ed25519"),
            Algorithm::Rsa { bits } => write!(f, "rsa-{bits}"),
        }
    }
}

impl FromStr for Algorithm {
    type Err = KeyError;

    /// Parses the names [`PrivateKey::generate`] accepts: `ecdsa-p256`,
    /// `ed25519`, `rsa-2048`, `rsa-3072`, `rsa-4096`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || KeyError::UnknownAlgorithm { name: s.to_owned() };
        match s {
            "ecdsa-p256" => Ok(Algorithm::EcdsaP256),
            "ed25519" => Ok(Algorithm::Ed25519),
            _ => {
                let bits = s
                    .strip_prefix("rsa-")
                    .and_then(|b| b.parse::<usize>().ok())
                    .filter(|b| RSA_GENERATE_BITS.contains(b))
                    .ok_or_else(unknown)?;
                Ok(Algorithm::Rsa { bits })
            }
        }
    }
}

// ---------------------------------------------------------------------------
// PEM and file helpers
// ---------------------------------------------------------------------------

/// Encodes like openssl does: 64-column base64, LF line endings, final LF.
/// (The `pem` crate defaults to CRLF.)
fn encode_pem(label: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// Returns the single key block of a PEM text. `... PARAMETERS` blocks (which
/// `openssl ecparam -genkey` and `openssl dsaparam -genkey` put in front of
/// the key) are skipped; more than one key block is an error, as is a block
/// without its END line.
fn single_key_block(pem_text: &[u8]) -> Result<pem::Pem, KeyError> {
    let blocks = pem::parse_many(pem_text).map_err(|e| KeyError::Pem {
        reason: e.to_string(),
    })?;
    // `pem::parse_many` silently stops at a block that has no END line, so a
    // truncated file would look like one with fewer blocks. Count BEGIN lines
    // to notice.
    let begins = pem_text
        .windows(b"-----BEGIN ".len())
        .filter(|w| *w == b"-----BEGIN ")
        .count();
    if begins == 0 {
        return Err(KeyError::Pem {
            reason: "no \"-----BEGIN ...-----\" line found".to_owned(),
        });
    }
    if begins != blocks.len() {
        return Err(KeyError::Pem {
            reason: "truncated PEM block (missing \"-----END ...-----\" line)".to_owned(),
        });
    }
    let mut keys = blocks
        .into_iter()
        .filter(|b| !b.tag().ends_with(" PARAMETERS"));
    let first = keys.next().ok_or_else(|| KeyError::Pem {
        reason: "no key block found".to_owned(),
    })?;
    if keys.next().is_some() {
        return Err(KeyError::Pem {
            reason: "more than one key in the PEM text".to_owned(),
        });
    }
    Ok(first)
}

/// Reads at most [`MAX_KEY_FILE_LEN`] bytes of `path`; longer files are an
/// error rather than silently truncated. The buffer is wiped when dropped
/// since it may hold a private key.
fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let io_err = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    // Not File::open: a key path naming a FIFO would block forever (see open_untrusted).
    let file = crate::util::open_untrusted(path).map_err(io_err)?;
    let mut buf = Zeroizing::new(Vec::new());
    file.take(MAX_KEY_FILE_LEN + 1)
        .read_to_end(&mut buf)
        .map_err(io_err)?;
    if buf.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(KeyError::TooLarge {
            path: path.to_owned(),
            limit: MAX_KEY_FILE_LEN,
        });
    }
    Ok(buf)
}

/// Creates `path` (which must not exist) with `mode` and writes `contents`.
/// The mode is given to open(2), so the file never exists with wider
/// permissions (the umask can only narrow it).
fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyError> {
    let io_err = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_owned(),
                }
            } else {
                io_err(e)
            }
        })?;
    let written = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io_err);
    if written.is_err() {
        // Don't leave a half-written key file behind; we created it, so
        // removing it cannot clobber anything of the user's.
        let _ = std::fs::remove_file(path);
    }
    written
}

fn with_suffix(base: &Path, suffix: &str) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes `BASE.key` (PKCS#8 PEM, created with mode 0600) and `BASE.pub`
/// (SPKI PEM, mode 0644 before umask). The suffixes are appended, so
/// `keys/release` gives `keys/release.key` and `keys/release.pub`.
///
/// Refuses to overwrite: if either file already exists nothing is written and
/// [`KeyError::Exists`] is returned. If writing the `.pub` file fails, the
/// `.key` file just created is removed again.
pub fn write_keypair(key: &PrivateKey, base: &Path) -> Result<(PathBuf, PathBuf), KeyError> {
    if base.file_name().is_none() || base.as_os_str().as_bytes().ends_with(b"/") {
        return Err(KeyError::BadPath {
            path: base.to_owned(),
            reason: "needs a file name to which .key and .pub are appended",
        });
    }
    let key_path = with_suffix(base, ".key");
    let pub_path = with_suffix(base, ".pub");
    // Check both up front so an existing .pub doesn't leave a fresh .key
    // behind. symlink_metadata also catches dangling symlinks, which
    // create_new would refuse anyway.
    for path in [&key_path, &pub_path] {
        if path.symlink_metadata().is_ok() {
            return Err(KeyError::Exists { path: path.clone() });
        }
    }
    let key_pem = Zeroizing::new(key.to_pkcs8_pem());
    write_new_file(&key_path, key_pem.as_bytes(), 0o600)?;
    if let Err(e) = write_new_file(&pub_path, key.public_key().to_pem().as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&key_path);
        return Err(e);
    }
    Ok((key_path, pub_path))
}

// ---------------------------------------------------------------------------
// DER helpers
// ---------------------------------------------------------------------------

/// Checks the AlgorithmIdentifier parameters of an id-ecPublicKey key: they
/// must be the namedCurve OID of P-256. (RFC 5480 also allows implicitCurve
/// and explicit specifiedCurve parameters; openssl writes those only when
/// asked with `-param_enc explicit`, and ring accepts neither.)
fn check_ec_curve(parameters: Option<AnyRef<'_>>) -> Result<(), KeyError> {
    let parameters = parameters.ok_or_else(|| malformed("EC key without curve parameters"))?;
    let curve = parameters.decode_as::<ObjectIdentifier>().map_err(|_| {
        malformed(
            "EC key with explicit curve parameters; only the named curve prime256v1 is supported",
        )
    })?;
    if curve == OID_P256 {
        Ok(())
    } else {
        Err(KeyError::UnsupportedCurve {
            oid: curve.to_string(),
        })
    }
}

/// Bit length of the modulus of a PKCS#1 RSAPublicKey or RSAPrivateKey
/// modulus field (big-endian, leading zero bytes already stripped by `der`).
fn modulus_bits(modulus: &[u8]) -> usize {
    match modulus.first() {
        Some(&top) => modulus.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    }
}

fn check_rsa_bits(bits: usize) -> Result<(), KeyError> {
    if (RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(KeyError::RsaKeySize { bits })
    }
}

/// Validates a PKCS#1 RSAPublicKey DER and returns the modulus size in bits.
fn rsa_public_bits(pkcs1_der: &[u8]) -> Result<usize, KeyError> {
    let key = rsa::pkcs1::RsaPublicKey::from_der(pkcs1_der)
        .map_err(|e| malformed(format!("invalid RSAPublicKey: {e}")))?;
    let bits = modulus_bits(key.modulus.as_bytes());
    check_rsa_bits(bits)?;
    // ring verifies only with odd exponents 3 <= e < 2^33; refuse other
    // keys here instead of letting every verification fail later.
    let e = key.public_exponent.as_bytes();
    let e_odd = e.last().is_some_and(|b| b & 1 == 1);
    let e_bits = modulus_bits(e);
    if !e_odd || !(2..=33).contains(&e_bits) {
        return Err(malformed(
            "RSA public exponent must be odd, at least 3 and below 2^33",
        ));
    }
    if key.modulus.as_bytes().last().is_some_and(|b| b & 1 == 0) {
        return Err(malformed("RSA modulus is even"));
    }
    Ok(bits)
}

/// Builds a DER SubjectPublicKeyInfo from the key bytes ring reports.
///
/// Why the encoder instead of a fixed prefix: RSA keys have variable length.
/// DER is canonical, so this yields exactly the bytes `openssl pkey -pubout
/// -outform DER` writes (fingerprints rely on that), which the tests check:
/// EC uses the namedCurve OID as parameters (RFC 5480), Ed25519 has no
/// parameters (RFC 8410 §3), rsaEncryption has an explicit NULL (RFC 3279).
fn encode_spki(algorithm: Algorithm, key: &[u8]) -> Result<Vec<u8>, KeyError> {
    let (oid, parameters) = match algorithm {
        Algorithm::EcdsaP256 => (OID_EC_PUBLIC_KEY, Some(AnyRef::from(&OID_P256))),
        Algorithm::Ed25519 => (OID_ED25519, None),
        Algorithm::Rsa { .. } => (OID_RSA_ENCRYPTION, Some(AnyRef::NULL)),
    };
    let subject_public_key = BitStringRef::from_bytes(key)
        .map_err(|e| malformed(format!("cannot encode public key: {e}")))?;
    SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef { oid, parameters },
        subject_public_key,
    }
    .to_der()
    .map_err(|e| malformed(format!("cannot encode public key: {e}")))
}

/// Converts a SEC1 `ECPrivateKey` (the body of "EC PRIVATE KEY") to PKCS#8.
///
/// RFC 5915: ECPrivateKey ::= SEQUENCE { version INTEGER (1), privateKey
/// OCTET STRING, parameters [0] EXPLICIT ECParameters OPTIONAL, publicKey
/// [1] EXPLICIT BIT STRING OPTIONAL }. PKCS#8 wraps the same structure in an
/// OCTET STRING next to AlgorithmIdentifier { id-ecPublicKey, curve }, so the
/// conversion needs the curve (from [0]); ring also insists on the embedded
/// public key [1]. Keys lacking either are sent to `openssl pkcs8`, which
/// fills them in.
fn sec1_to_pkcs8(sec1: &[u8]) -> Result<SecretDocument, KeyError> {
    let bad = |e: spki::der::Error| malformed(format!("invalid EC PRIVATE KEY: {e}"));
    let mut reader = SliceReader::new(sec1).map_err(bad)?;
    let (version, curve, has_public) = reader
        .sequence(|r| {
            let version: u8 = r.decode()?;
            let _private: OctetStringRef<'_> = r.decode()?;
            let curve = ContextSpecific::<AnyRef<'_>>::decode_explicit(r, TagNumber::N0)?;
            let public = ContextSpecific::<BitStringRef<'_>>::decode_explicit(r, TagNumber::N1)?;
            Ok((version, curve.map(|c| c.value), public.is_some()))
        })
        .map_err(bad)?;
    reader.finish(()).map_err(bad)?;
    if version != 1 {
        return Err(malformed(format!(
            "EC PRIVATE KEY has version {version}, expected 1"
        )));
    }
    let curve = curve.ok_or_else(|| KeyError::NeedsPkcs8 {
        reason: "the EC PRIVATE KEY does not name its curve".to_owned(),
    })?;
    check_ec_curve(Some(curve))?;
    if !has_public {
        return Err(KeyError::NeedsPkcs8 {
            reason: "the EC PRIVATE KEY does not contain its public key".to_owned(),
        });
    }
    let info = PrivateKeyInfo::new(
        AlgorithmIdentifierRef {
            oid: OID_EC_PUBLIC_KEY,
            parameters: Some(AnyRef::from(&OID_P256)),
        },
        sec1,
    );
    SecretDocument::encode_msg(&info).map_err(bad)
}

/// Converts a PKCS#1 `RSAPrivateKey` (the body of "RSA PRIVATE KEY") to
/// PKCS#8 via the `rsa` crate. The size is checked first so that a huge
/// key is not fully parsed and validated for nothing.
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Result<SecretDocument, KeyError> {
    let parsed = rsa::pkcs1::RsaPrivateKey::from_der(pkcs1)
        .map_err(|e| malformed(format!("invalid RSA PRIVATE KEY: {e}")))?;
    check_rsa_bits(modulus_bits(parsed.modulus.as_bytes()))?;
    let key = rsa::RsaPrivateKey::from_pkcs1_der(pkcs1)
        .map_err(|e| malformed(format!("invalid RSA PRIVATE KEY: {e}")))?;
    key.to_pkcs8_der()
        .map_err(|e| malformed(format!("cannot convert RSA key to PKCS#8: {e}")))
}

// ---------------------------------------------------------------------------
// Public keys
// ---------------------------------------------------------------------------

/// A verification key: ECDSA P-256, Ed25519 or RSA 2048..=4096 bits.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: Algorithm,
    /// DER SubjectPublicKeyInfo, exactly as `openssl pkey -pubout -outform
    /// DER` writes it; the fingerprint is its SHA-256.
    spki_der: Vec<u8>,
    /// What ring's `UnparsedPublicKey` wants (it does not take SPKI): the
    /// SPKI BIT STRING content, i.e. the uncompressed point 04||X||Y for
    /// P-256, the raw 32 bytes for Ed25519, the PKCS#1 RSAPublicKey DER for
    /// RSA.
    ring_key: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &format_args!("{}", self.algorithm))
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl PublicKey {
    /// Parses a PEM public key: "PUBLIC KEY" (SubjectPublicKeyInfo) or
    /// "RSA PUBLIC KEY" (PKCS#1). Private keys are refused with
    /// [`KeyError::WrongKeyKind`].
    pub fn from_pem(pem_text: &[u8]) -> Result<PublicKey, KeyError> {
        let block = single_key_block(pem_text)?;
        match block.tag() {
            LABEL_PUBLIC => PublicKey::from_spki_der(block.contents()),
            LABEL_RSA_PUBLIC => {
                // PKCS#1 RSAPublicKey is exactly the BIT STRING content of an
                // rsaEncryption SPKI; size it first for a precise error.
                let bits = rsa_public_bits(block.contents())?;
                let spki = encode_spki(Algorithm::Rsa { bits }, block.contents())?;
                PublicKey::from_spki_der(&spki)
            }
            other => Err(KeyError::WrongKeyKind {
                expected: "a public key (\"-----BEGIN PUBLIC KEY-----\")",
                label: other.to_owned(),
            }),
        }
    }

    /// Parses a DER SubjectPublicKeyInfo (RFC 5280). Only the algorithms
    /// this module signs with are accepted, each with the exact parameter
    /// encoding openssl writes, so `fingerprint()` is the SHA-256 of `der`.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let spki = SubjectPublicKeyInfoRef::try_from(der)
            .map_err(|e| malformed(format!("not a DER SubjectPublicKeyInfo: {e}")))?;
        // All our key types are whole bytes; unused bits mean a broken key.
        let key = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| malformed("public key BIT STRING has unused bits"))?;
        let oid = spki.algorithm.oid;
        let parameters = spki.algorithm.parameters;
        let algorithm = if oid == OID_EC_PUBLIC_KEY {
            check_ec_curve(parameters)?;
            // ring handles only the uncompressed SEC1 point form 04||X||Y,
            // which is what openssl writes unless asked for
            // `-conv_form compressed`. ring checks the point is on the
            // curve when verifying.
            if key.len() != 65 || key[0] != 0x04 {
                return Err(malformed(
                    "P-256 public key must be an uncompressed point (65 bytes starting with 0x04)",
                ));
            }
            Algorithm::EcdsaP256
        } else if oid == OID_ED25519 {
            if parameters.is_some() {
                return Err(malformed(
                    "Ed25519 AlgorithmIdentifier must not have parameters",
                ));
            }
            if key.len() != 32 {
                return Err(malformed(format!(
                    "Ed25519 public key has {} bytes, expected 32",
                    key.len()
                )));
            }
            Algorithm::Ed25519
        } else if oid == OID_RSA_ENCRYPTION {
            if parameters != Some(AnyRef::NULL) {
                return Err(malformed("rsaEncryption parameters must be NULL"));
            }
            Algorithm::Rsa {
                bits: rsa_public_bits(key)?,
            }
        } else {
            return Err(KeyError::UnsupportedAlgorithm {
                oid: oid.to_string(),
            });
        };
        Ok(PublicKey {
            algorithm,
            spki_der: der.to_vec(),
            ring_key: key.to_vec(),
        })
    }

    /// Reads and parses a PEM public key file (at most 64 KiB).
    pub fn load(path: &Path) -> Result<PublicKey, KeyError> {
        PublicKey::from_pem(&read_key_file(path)?)
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo; equals
    /// `openssl pkey -pubin -in KEY.pub -outform DER | sha256sum`.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.spki_der))
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Checks `signature` over `message` (SHA-256 is applied inside; pass the
    /// manifest bytes, not a digest). Returns false for any wrong, malformed,
    /// empty or oversized signature; never panics.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        if signature.is_empty() || signature.len() > MAX_SIGNATURE_LEN {
            return false;
        }
        let algorithm: &'static dyn VerificationAlgorithm = match self.algorithm {
            Algorithm::EcdsaP256 => &ring::signature::ECDSA_P256_SHA256_ASN1,
            Algorithm::Ed25519 => &ring::signature::ED25519,
            // The 4096-bit cap is enforced when the key is constructed.
            Algorithm::Rsa { .. } => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        };
        UnparsedPublicKey::new(algorithm, &self.ring_key)
            .verify(message, signature)
            .is_ok()
    }

    /// SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----"), as written
    /// by `openssl pkey -pubout`.
    pub fn to_pem(&self) -> String {
        encode_pem(LABEL_PUBLIC, &self.spki_der)
    }
}

// ---------------------------------------------------------------------------
// Private keys
// ---------------------------------------------------------------------------

enum Signer {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

/// A signing key. Not `Clone`; `Debug` shows only the algorithm and the
/// public key fingerprint.
pub struct PrivateKey {
    algorithm: Algorithm,
    /// PKCS#8 v1 (RFC 5208) DER, wiped on drop. Always v1 because OpenSSL 3.0
    /// cannot read the v2 (RFC 5958) form ring generates for Ed25519.
    pkcs8: SecretDocument,
    signer: Signer,
    public: PublicKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &format_args!("{}", self.algorithm))
            .field("public_fingerprint", &self.public.fingerprint())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Generates a new key. ECDSA P-256 and Ed25519 keys come from ring; RSA
    /// keys (2048, 3072 or 4096 bits; ring cannot generate RSA) from the
    /// `rsa` crate, which takes seconds for 4096 bits.
    pub fn generate(alg: Algorithm) -> Result<PrivateKey, KeyError> {
        let rng = SystemRandom::new();
        let generate_err = |reason: String| KeyError::Generate { reason };
        match alg {
            Algorithm::EcdsaP256 => {
                let doc = EcdsaKeyPair::generate_pkcs8(
                    &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    &rng,
                )
                .map_err(|e| generate_err(e.to_string()))?;
                PrivateKey::from_pkcs8_der(doc.as_ref())
            }
            Algorithm::Ed25519 => {
                let doc = Ed25519KeyPair::generate_pkcs8(&rng)
                    .map_err(|e| generate_err(e.to_string()))?;
                PrivateKey::from_pkcs8_der(doc.as_ref())
            }
            Algorithm::Rsa { bits } => {
                if !RSA_GENERATE_BITS.contains(&bits) {
                    return Err(KeyError::RsaKeySize { bits });
                }
                let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits)
                    .map_err(|e| generate_err(e.to_string()))?;
                let doc = key
                    .to_pkcs8_der()
                    .map_err(|e| generate_err(e.to_string()))?;
                PrivateKey::from_pkcs8_der(doc.as_bytes())
            }
        }
    }

    /// Parses a PEM private key: "PRIVATE KEY" (PKCS#8, v1 or v2), or the
    /// traditional "RSA PRIVATE KEY" (PKCS#1) and "EC PRIVATE KEY" (SEC1,
    /// optionally preceded by "EC PARAMETERS"), which are converted to
    /// PKCS#8. Encrypted keys give [`KeyError::Encrypted`], public keys
    /// [`KeyError::WrongKeyKind`].
    pub fn from_pem(pem_text: &[u8]) -> Result<PrivateKey, KeyError> {
        let block = single_key_block(pem_text)?;
        // Traditional formats mark encryption with RFC 1421 headers.
        let encrypted_traditional = block
            .headers()
            .get("Proc-Type")
            .is_some_and(|v| v.contains("ENCRYPTED"));
        let tag = block.tag().to_owned();
        let der = Zeroizing::new(block.into_contents());
        match tag.as_str() {
            LABEL_PRIVATE => PrivateKey::from_pkcs8_der(&der),
            LABEL_ENCRYPTED => Err(KeyError::Encrypted),
            LABEL_RSA_PRIVATE | LABEL_EC_PRIVATE if encrypted_traditional => {
                Err(KeyError::Encrypted)
            }
            LABEL_RSA_PRIVATE => PrivateKey::from_pkcs8_der(pkcs1_to_pkcs8(&der)?.as_bytes()),
            LABEL_EC_PRIVATE => PrivateKey::from_pkcs8_der(sec1_to_pkcs8(&der)?.as_bytes()),
            other => Err(KeyError::WrongKeyKind {
                expected: "a private key (\"-----BEGIN PRIVATE KEY-----\")",
                label: other.to_owned(),
            }),
        }
    }

    /// Parses a DER PKCS#8 PrivateKeyInfo / OneAsymmetricKey.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        let info = PrivateKeyInfo::try_from(der)
            .map_err(|e| malformed(format!("not a DER PKCS#8 private key: {e}")))?;
        let oid = info.algorithm.oid;
        // Re-encode as v1: drops the optional v2 public key and attributes
        // (both redundant for us) so `to_pkcs8_pem` output is readable by
        // OpenSSL 3.0, which rejects v2. DER is canonical, so an openssl-made
        // key re-encodes to its original bytes.
        let v1 = PrivateKeyInfo {
            public_key: None,
            ..info.clone()
        };
        let pkcs8 = SecretDocument::encode_msg(&v1)
            .map_err(|e| malformed(format!("cannot re-encode PKCS#8: {e}")))?;
        let rejected = |e: ring::error::KeyRejected| malformed(format!("key rejected: {e}"));
        let (algorithm, signer) = if oid == OID_EC_PUBLIC_KEY {
            check_ec_curve(info.algorithm.parameters)?;
            let pair = EcdsaKeyPair::from_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                pkcs8.as_bytes(),
                &SystemRandom::new(),
            )
            .map_err(rejected)?;
            (Algorithm::EcdsaP256, Signer::Ecdsa(pair))
        } else if oid == OID_ED25519 {
            // ring's `from_pkcs8` wants v2 (with the public key); openssl
            // writes v1. `maybe_unchecked` takes both and, for v2, still
            // checks the public key matches. Given the original `der` so that
            // check happens.
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(rejected)?;
            (Algorithm::Ed25519, Signer::Ed25519(pair))
        } else if oid == OID_RSA_ENCRYPTION {
            // Size check before ring, for a typed error (ring rejects < 2048
            // generically, and accepts up to 8192).
            let parsed = rsa::pkcs1::RsaPrivateKey::from_der(info.private_key)
                .map_err(|e| malformed(format!("invalid RSA private key: {e}")))?;
            let bits = modulus_bits(parsed.modulus.as_bytes());
            check_rsa_bits(bits)?;
            let pair = RsaKeyPair::from_pkcs8(pkcs8.as_bytes()).map_err(rejected)?;
            (Algorithm::Rsa { bits }, Signer::Rsa(pair))
        } else {
            return Err(KeyError::UnsupportedAlgorithm {
                oid: oid.to_string(),
            });
        };
        let ring_public: &[u8] = match &signer {
            Signer::Ecdsa(pair) => pair.public_key().as_ref(),
            Signer::Ed25519(pair) => pair.public_key().as_ref(),
            Signer::Rsa(pair) => pair.public_key().as_ref(),
        };
        let public = PublicKey::from_spki_der(&encode_spki(algorithm, ring_public)?)?;
        if public.algorithm != algorithm {
            return Err(malformed("public key does not match private key"));
        }
        Ok(PrivateKey {
            algorithm,
            pkcs8,
            signer,
            public,
        })
    }

    /// Reads and parses a PEM private key file (at most 64 KiB).
    pub fn load(path: &Path) -> Result<PrivateKey, KeyError> {
        PrivateKey::from_pem(&read_key_file(path)?)
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// Signs `message` (the manifest bytes; SHA-256 is applied inside).
    /// Output: DER ECDSA-Sig-Value for P-256 (randomised, like openssl's),
    /// 64 raw bytes for Ed25519 and a modulus-sized PKCS#1 v1.5 signature for
    /// RSA (both deterministic and byte-identical to openssl's).
    ///
    /// The signature is verified before it is returned, so a fault during
    /// signing cannot produce a bad (or key-leaking) signature.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        let failed = |_| KeyError::Sign {
            reason: format!("{} signing failed", self.algorithm),
        };
        let signature = match &self.signer {
            Signer::Ecdsa(pair) => pair.sign(&rng, message).map_err(failed)?.as_ref().to_vec(),
            Signer::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
            Signer::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &rng,
                    message,
                    &mut signature,
                )
                .map_err(failed)?;
                signature
            }
        };
        if !self.public.verify(message, &signature) {
            return Err(KeyError::Sign {
                reason: "the new signature does not verify".to_owned(),
            });
        }
        Ok(signature)
    }

    /// PKCS#8 v1 PEM ("-----BEGIN PRIVATE KEY-----"), as `openssl genpkey`
    /// writes it.
    pub fn to_pkcs8_pem(&self) -> String {
        encode_pem(LABEL_PRIVATE, self.pkcs8.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spki::der::asn1::UintRef;
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Output};
    use tempfile::TempDir;

    const MESSAGE: &[u8] = b"{\"version\":\"1.2.3\",\"images\":[{\"name\":\"rootfs\"}]}\n";

    /// openssl key-generation arguments for the three supported kinds.
    const OPENSSL_KEYS: [(&str, &[&str], Algorithm); 3] = [
        (
            "ec",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            Algorithm::EcdsaP256,
        ),
        ("ed25519", &["-algorithm", "ed25519"], Algorithm::Ed25519),
        (
            "rsa",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            Algorithm::Rsa { bits: 2048 },
        ),
    ];

    fn s(path: &Path) -> &str {
        path.to_str().expect("utf-8 temp path")
    }

    fn run_openssl(args: &[&str]) -> Output {
        Command::new("openssl")
            .args(args)
            .output()
            .expect("the openssl binary must be installed for these tests")
    }

    /// Runs openssl and insists it succeeds.
    fn openssl(args: &[&str]) -> Output {
        let out = run_openssl(args);
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `openssl genpkey ARGS -out DIR/NAME.pem` plus `pkey -pubout`.
    fn genpkey(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, PathBuf) {
        let key = dir.join(format!("{name}.pem"));
        let public = dir.join(format!("{name}.pub.pem"));
        let mut all = vec!["genpkey"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-out", s(&key)]);
        openssl(&all);
        openssl(&["pkey", "-in", s(&key), "-pubout", "-out", s(&public)]);
        (key, public)
    }

    fn openssl_sign(alg: Algorithm, key: &Path, message: &Path, sig: &Path) {
        match alg {
            Algorithm::Ed25519 => openssl(&[
                "pkeyutl",
                "-sign",
                "-rawin",
                "-inkey",
                s(key),
                "-in",
                s(message),
                "-out",
                s(sig),
            ]),
            _ => openssl(&[
                "dgst",
                "-sha256",
                "-sign",
                s(key),
                "-out",
                s(sig),
                s(message),
            ]),
        };
    }

    fn openssl_verifies(alg: Algorithm, public: &Path, message: &Path, sig: &Path) -> bool {
        let out = match alg {
            Algorithm::Ed25519 => run_openssl(&[
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                s(public),
                "-rawin",
                "-in",
                s(message),
                "-sigfile",
                s(sig),
            ]),
            _ => run_openssl(&[
                "dgst",
                "-sha256",
                "-verify",
                s(public),
                "-signature",
                s(sig),
                s(message),
            ]),
        };
        out.status.success()
    }

    fn flip(bytes: &[u8], index: usize, bit: u8) -> Vec<u8> {
        let mut out = bytes.to_vec();
        out[index] ^= 1 << bit;
        out
    }

    fn generated_keys() -> Vec<PrivateKey> {
        [
            Algorithm::EcdsaP256,
            Algorithm::Ed25519,
            Algorithm::Rsa { bits: 2048 },
        ]
        .into_iter()
        .map(|alg| PrivateKey::generate(alg).expect("generate"))
        .collect()
    }

    #[test]
    fn algorithm_names_round_trip() {
        for (name, alg) in [
            ("ecdsa-p256", Algorithm::EcdsaP256),
            ("ed25519", Algorithm::Ed25519),
            ("rsa-2048", Algorithm::Rsa { bits: 2048 }),
            ("rsa-3072", Algorithm::Rsa { bits: 3072 }),
            ("rsa-4096", Algorithm::Rsa { bits: 4096 }),
        ] {
            assert_eq!(name.parse::<Algorithm>().expect(name), alg);
            assert_eq!(alg.to_string(), name);
        }
        for bad in [
            "",
            "rsa",
            "rsa-1024",
            "rsa-2047",
            "rsa-8192",
            "rsa-",
            "RSA-2048",
            "ecdsa-p384",
            "x25519",
            "ed25519 ",
        ] {
            assert!(
                matches!(bad.parse::<Algorithm>(), Err(KeyError::UnknownAlgorithm { ref name }) if name == bad),
                "{bad:?} parsed"
            );
        }
    }

    #[test]
    fn sign_verify_round_trip_and_tampering() {
        let keys = generated_keys();
        for (i, key) in keys.iter().enumerate() {
            let alg = key.algorithm();
            let public = key.public_key();
            assert_eq!(public.algorithm(), alg);
            let sig = key.sign(MESSAGE).expect("sign");
            match alg {
                Algorithm::EcdsaP256 => {
                    assert_eq!(sig[0], 0x30, "DER SEQUENCE");
                    assert!((8..=72).contains(&sig.len()), "{}", sig.len());
                    // ECDSA is randomised; both signatures must verify.
                    let again = key.sign(MESSAGE).expect("sign");
                    assert_ne!(sig, again);
                    assert!(public.verify(MESSAGE, &again));
                }
                Algorithm::Ed25519 => {
                    assert_eq!(sig.len(), 64);
                    assert_eq!(key.sign(MESSAGE).expect("sign"), sig, "deterministic");
                }
                Algorithm::Rsa { bits } => {
                    assert_eq!(bits, 2048);
                    assert_eq!(sig.len(), 256);
                    assert_eq!(key.sign(MESSAGE).expect("sign"), sig, "deterministic");
                }
            }
            assert!(public.verify(MESSAGE, &sig), "{alg}");
            assert!(!public.verify(b"", &sig), "{alg}: empty message");

            // Every single-bit change of the message fails.
            for index in 0..MESSAGE.len() {
                let bit = (index % 8) as u8;
                assert!(
                    !public.verify(&flip(MESSAGE, index, bit), &sig),
                    "{alg} msg byte {index}"
                );
            }
            // Every byte of the signature matters.
            for index in 0..sig.len() {
                for bit in [0u8, 7, (index % 8) as u8] {
                    assert!(
                        !public.verify(MESSAGE, &flip(&sig, index, bit)),
                        "{alg} sig byte {index} bit {bit}"
                    );
                }
            }
            // Truncated or extended signatures fail.
            assert!(!public.verify(MESSAGE, &sig[..sig.len() - 1]), "{alg}");
            let mut longer = sig.clone();
            longer.push(0);
            assert!(!public.verify(MESSAGE, &longer), "{alg}");

            // A signature by another key of the same algorithm fails, and a
            // signature by a key of another algorithm fails.
            let other = PrivateKey::generate(alg).expect("generate");
            assert_ne!(other.public_key().fingerprint(), public.fingerprint());
            let other_sig = other.sign(MESSAGE).expect("sign");
            assert!(!public.verify(MESSAGE, &other_sig), "{alg}");
            assert!(!other.public_key().verify(MESSAGE, &sig), "{alg}");
            for (j, third) in keys.iter().enumerate() {
                if i != j {
                    let third_sig = third.sign(MESSAGE).expect("sign");
                    assert!(
                        !public.verify(MESSAGE, &third_sig),
                        "{alg} vs {}",
                        third.algorithm()
                    );
                }
            }
        }
    }

    #[test]
    fn garbage_signatures_return_false() {
        let mut garbage: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0x30],
            vec![0x30, 0x00],
            vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
            vec![0x30, 0x80, 0x00, 0x00],
            vec![0xff; 8],
            vec![0; 64],
            vec![0xff; 64],
            vec![0; 256],
            vec![0xff; 256],
            vec![0x01; 512],
            vec![0; MAX_SIGNATURE_LEN],
            vec![0; MAX_SIGNATURE_LEN + 1],
            vec![0x30; 1 << 20],
        ];
        // An ECDSA signature with r = s = n-ish huge integers.
        let mut big = vec![0x30, 0x46, 0x02, 0x21, 0x00];
        big.extend([0xff; 32]);
        big.extend([0x02, 0x21, 0x00]);
        big.extend([0xff; 32]);
        garbage.push(big);
        for key in generated_keys() {
            let public = key.public_key();
            for sig in &garbage {
                assert!(
                    !public.verify(MESSAGE, sig),
                    "{} accepted {} bytes",
                    key.algorithm(),
                    sig.len()
                );
                assert!(!public.verify(b"", sig));
            }
        }
    }

    #[test]
    fn generate_rejects_unsupported_rsa_sizes() {
        for bits in [0, 1024, 2047, 2049, 4097, 8192] {
            assert!(
                matches!(PrivateKey::generate(Algorithm::Rsa { bits }), Err(KeyError::RsaKeySize { bits: b }) if b == bits),
                "{bits}"
            );
        }
    }

    #[test]
    fn generate_rsa_3072() {
        let key = PrivateKey::generate(Algorithm::Rsa { bits: 3072 }).expect("generate");
        assert_eq!(key.algorithm(), Algorithm::Rsa { bits: 3072 });
        let sig = key.sign(MESSAGE).expect("sign");
        assert_eq!(sig.len(), 384);
        assert!(key.public_key().verify(MESSAGE, &sig));
    }

    #[test]
    fn pem_round_trip() {
        for key in generated_keys() {
            let pem_text = key.to_pkcs8_pem();
            assert!(
                pem_text.starts_with("-----BEGIN PRIVATE KEY-----\n"),
                "{pem_text}"
            );
            assert!(pem_text.ends_with("-----END PRIVATE KEY-----\n"));
            assert!(!pem_text.contains('\r'));
            assert!(pem_text.lines().all(|l| l.len() <= 64));
            let again = PrivateKey::from_pem(pem_text.as_bytes()).expect("reload");
            assert_eq!(again.algorithm(), key.algorithm());
            assert_eq!(again.public_key(), key.public_key());
            assert_eq!(again.to_pkcs8_pem(), pem_text);
            assert!(key
                .public_key()
                .verify(MESSAGE, &again.sign(MESSAGE).expect("sign")));

            let public = key.public_key();
            let pub_pem = public.to_pem();
            assert!(
                pub_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"),
                "{pub_pem}"
            );
            let reloaded = PublicKey::from_pem(pub_pem.as_bytes()).expect("reload public");
            assert_eq!(reloaded, public);
            assert_eq!(reloaded.fingerprint(), public.fingerprint());
            assert_eq!(
                public.fingerprint(),
                hex::encode(Sha256::digest(public.spki_der()))
            );
            assert_eq!(public.fingerprint().len(), 64);
            assert!(public
                .fingerprint()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }
    }

    #[test]
    fn openssl_keys_load_and_fingerprints_match() {
        let dir = TempDir::new().expect("tempdir");
        for (name, args, alg) in OPENSSL_KEYS {
            let (key_path, pub_path) = genpkey(dir.path(), name, args);
            let key = PrivateKey::load(&key_path).expect("load openssl private key");
            let public = PublicKey::load(&pub_path).expect("load openssl public key");
            assert_eq!(key.algorithm(), alg);
            assert_eq!(public.algorithm(), alg);
            assert_eq!(
                key.public_key().fingerprint(),
                public.fingerprint(),
                "{name}"
            );
            // The fingerprint is the SHA-256 of the DER SPKI openssl writes.
            let der = openssl(&["pkey", "-pubin", "-in", s(&pub_path), "-outform", "DER"]).stdout;
            assert_eq!(
                public.fingerprint(),
                hex::encode(Sha256::digest(&der)),
                "{name}"
            );
            // We write back exactly the text openssl wrote.
            let key_text = std::fs::read_to_string(&key_path).expect("read");
            let pub_text = std::fs::read_to_string(&pub_path).expect("read");
            assert_eq!(key.to_pkcs8_pem(), key_text, "{name}");
            assert_eq!(key.public_key().to_pem(), pub_text, "{name}");
        }
    }

    #[test]
    fn openssl_signatures_verify_with_ours() {
        let dir = TempDir::new().expect("tempdir");
        let message = dir.path().join("manifest.json");
        std::fs::write(&message, MESSAGE).expect("write");
        for (name, args, alg) in OPENSSL_KEYS {
            let (key_path, pub_path) = genpkey(dir.path(), name, args);
            let sig_path = dir.path().join(format!("{name}.sig"));
            openssl_sign(alg, &key_path, &message, &sig_path);
            let sig = std::fs::read(&sig_path).expect("read sig");
            let public = PublicKey::load(&pub_path).expect("load");
            assert!(public.verify(MESSAGE, &sig), "{name}");
            assert!(!public.verify(&flip(MESSAGE, 3, 1), &sig), "{name}");
            // RSA PKCS#1 v1.5 and Ed25519 are deterministic: our bytes must be
            // openssl's bytes.
            let ours = PrivateKey::load(&key_path)
                .expect("load")
                .sign(MESSAGE)
                .expect("sign");
            if alg == Algorithm::EcdsaP256 {
                assert!(public.verify(MESSAGE, &ours));
            } else {
                assert_eq!(ours, sig, "{name}");
            }
        }
    }

    #[test]
    fn rsa_3072_and_4096_from_openssl() {
        let dir = TempDir::new().expect("tempdir");
        let message = dir.path().join("manifest.json");
        std::fs::write(&message, MESSAGE).expect("write");
        for bits in [3072usize, 4096] {
            let name = format!("rsa{bits}");
            let opt = format!("rsa_keygen_bits:{bits}");
            let (key_path, pub_path) =
                genpkey(dir.path(), &name, &["-algorithm", "RSA", "-pkeyopt", &opt]);
            let key = PrivateKey::load(&key_path).expect("load");
            let public = PublicKey::load(&pub_path).expect("load");
            assert_eq!(key.algorithm(), Algorithm::Rsa { bits });
            assert_eq!(public.algorithm(), Algorithm::Rsa { bits });
            let sig_path = dir.path().join(format!("{name}.sig"));
            openssl_sign(key.algorithm(), &key_path, &message, &sig_path);
            let sig = std::fs::read(&sig_path).expect("read");
            assert_eq!(key.sign(MESSAGE).expect("sign"), sig);
            assert!(public.verify(MESSAGE, &sig));
        }
    }

    #[test]
    fn our_keys_and_signatures_work_in_openssl() {
        let dir = TempDir::new().expect("tempdir");
        let message = dir.path().join("manifest.json");
        let tampered = dir.path().join("tampered.json");
        std::fs::write(&message, MESSAGE).expect("write");
        std::fs::write(&tampered, flip(MESSAGE, 10, 0)).expect("write");
        for key in generated_keys() {
            let alg = key.algorithm();
            let base = dir.path().join(format!("release-{alg}"));
            let (key_path, pub_path) = write_keypair(&key, &base).expect("write_keypair");
            assert_eq!(key_path, dir.path().join(format!("release-{alg}.key")));
            assert_eq!(pub_path, dir.path().join(format!("release-{alg}.pub")));
            let mode = std::fs::metadata(&key_path)
                .expect("stat")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{alg}: {mode:o}");

            openssl(&["pkey", "-in", s(&key_path), "-noout"]);
            let der = openssl(&["pkey", "-pubin", "-in", s(&pub_path), "-outform", "DER"]).stdout;
            assert_eq!(
                key.public_key().fingerprint(),
                hex::encode(Sha256::digest(&der))
            );
            // openssl derives the same public key from our private key.
            let derived = openssl(&["pkey", "-in", s(&key_path), "-pubout"]).stdout;
            assert_eq!(derived, std::fs::read(&pub_path).expect("read"), "{alg}");

            let sig_path = dir.path().join(format!("{alg}.sig"));
            std::fs::write(&sig_path, key.sign(MESSAGE).expect("sign")).expect("write");
            assert!(
                openssl_verifies(alg, &pub_path, &message, &sig_path),
                "{alg}"
            );
            // Negative control: openssl must reject a tampered message.
            assert!(
                !openssl_verifies(alg, &pub_path, &tampered, &sig_path),
                "{alg}"
            );

            // openssl signing with our key file gives signatures we accept.
            let their_sig = dir.path().join(format!("{alg}.openssl.sig"));
            openssl_sign(alg, &key_path, &message, &their_sig);
            let loaded = PublicKey::load(&pub_path).expect("load");
            assert!(
                loaded.verify(MESSAGE, &std::fs::read(&their_sig).expect("read")),
                "{alg}"
            );
        }
    }

    #[test]
    fn write_keypair_refuses_to_overwrite() {
        let dir = TempDir::new().expect("tempdir");
        let key = PrivateKey::generate(Algorithm::Ed25519).expect("generate");
        let other = PrivateKey::generate(Algorithm::Ed25519).expect("generate");
        let base = dir.path().join("signing");
        let (key_path, pub_path) = write_keypair(&key, &base).expect("write");
        let before = (
            std::fs::read(&key_path).expect("read"),
            std::fs::read(&pub_path).expect("read"),
        );
        match write_keypair(&other, &base) {
            Err(KeyError::Exists { path }) => assert_eq!(path, key_path),
            other => panic!("expected Exists, got {other:?}"),
        }
        assert_eq!(std::fs::read(&key_path).expect("read"), before.0);
        assert_eq!(std::fs::read(&pub_path).expect("read"), before.1);
        assert_eq!(
            PrivateKey::load(&key_path).expect("load").public_key(),
            key.public_key()
        );

        // Only the .pub exists: nothing is written, no stray .key appears.
        let base2 = dir.path().join("half");
        std::fs::write(dir.path().join("half.pub"), b"keep me").expect("write");
        match write_keypair(&other, &base2) {
            Err(KeyError::Exists { path }) => assert_eq!(path, dir.path().join("half.pub")),
            other => panic!("expected Exists, got {other:?}"),
        }
        assert!(!dir.path().join("half.key").exists());
        assert_eq!(
            std::fs::read(dir.path().join("half.pub")).expect("read"),
            b"keep me"
        );

        // A dangling symlink counts as existing.
        std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("link.key"))
            .expect("symlink");
        assert!(matches!(
            write_keypair(&other, &dir.path().join("link")),
            Err(KeyError::Exists { .. })
        ));
        assert!(!dir.path().join("nowhere").exists());

        // Paths without a file name are refused; a missing directory is Io.
        let slash = PathBuf::from(format!("{}/", s(dir.path())));
        assert!(matches!(
            write_keypair(&other, &slash),
            Err(KeyError::BadPath { .. })
        ));
        assert!(matches!(
            write_keypair(&other, &dir.path().join("no/such/dir/key")),
            Err(KeyError::Io { .. })
        ));
    }

    #[test]
    fn traditional_formats_load() {
        let dir = TempDir::new().expect("tempdir");
        let d = dir.path();
        let message = d.join("manifest.json");
        std::fs::write(&message, MESSAGE).expect("write");

        // RSA PRIVATE KEY (PKCS#1) and RSA PUBLIC KEY.
        let (rsa_key, rsa_pub) = genpkey(d, "rsa", OPENSSL_KEYS[2].1);
        let trad = d.join("rsa-trad.pem");
        openssl(&["pkey", "-in", s(&rsa_key), "-traditional", "-out", s(&trad)]);
        assert!(std::fs::read_to_string(&trad)
            .expect("read")
            .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let key = PrivateKey::load(&trad).expect("load PKCS#1");
        let public = PublicKey::load(&rsa_pub).expect("load");
        assert_eq!(key.public_key(), public);
        assert_eq!(
            key.to_pkcs8_pem(),
            std::fs::read_to_string(&rsa_key).expect("read")
        );
        let sig_path = d.join("rsa.sig");
        openssl_sign(key.algorithm(), &rsa_key, &message, &sig_path);
        assert_eq!(
            key.sign(MESSAGE).expect("sign"),
            std::fs::read(&sig_path).expect("read")
        );
        let rsa_pub_pkcs1 = d.join("rsa-pkcs1.pub.pem");
        openssl(&[
            "rsa",
            "-in",
            s(&rsa_key),
            "-RSAPublicKey_out",
            "-out",
            s(&rsa_pub_pkcs1),
        ]);
        assert!(std::fs::read_to_string(&rsa_pub_pkcs1)
            .expect("read")
            .starts_with("-----BEGIN RSA PUBLIC KEY-----"));
        assert_eq!(
            PublicKey::load(&rsa_pub_pkcs1).expect("load RSA PUBLIC KEY"),
            public
        );

        // EC PRIVATE KEY (SEC1), as `openssl ec` writes it.
        let (ec_key, ec_pub) = genpkey(d, "ec", OPENSSL_KEYS[0].1);
        let sec1 = d.join("ec-sec1.pem");
        openssl(&["ec", "-in", s(&ec_key), "-out", s(&sec1)]);
        assert!(std::fs::read_to_string(&sec1)
            .expect("read")
            .starts_with("-----BEGIN EC PRIVATE KEY-----"));
        let key = PrivateKey::load(&sec1).expect("load SEC1");
        assert_eq!(key.public_key(), PublicKey::load(&ec_pub).expect("load"));
        let sig_path = d.join("ec.sig");
        std::fs::write(&sig_path, key.sign(MESSAGE).expect("sign")).expect("write");
        assert!(openssl_verifies(
            Algorithm::EcdsaP256,
            &ec_pub,
            &message,
            &sig_path
        ));
        // Written back as PKCS#8, openssl reads the same key.
        let converted = d.join("ec-converted.pem");
        std::fs::write(&converted, key.to_pkcs8_pem()).expect("write");
        let derived = openssl(&["pkey", "-in", s(&converted), "-pubout"]).stdout;
        assert_eq!(derived, std::fs::read(&ec_pub).expect("read"));

        // `openssl ecparam -genkey` output: EC PARAMETERS + EC PRIVATE KEY.
        let ecparam = d.join("ecparam.pem");
        openssl(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-out",
            s(&ecparam),
        ]);
        assert!(std::fs::read_to_string(&ecparam)
            .expect("read")
            .starts_with("-----BEGIN EC PARAMETERS-----"));
        let key = PrivateKey::load(&ecparam).expect("load ecparam output");
        let pub_pem = openssl(&["pkey", "-in", s(&ecparam), "-pubout"]).stdout;
        assert_eq!(
            key.public_key(),
            PublicKey::from_pem(&pub_pem).expect("parse")
        );

        // SEC1 without the public key, or with explicit curve parameters.
        let nopub = d.join("ec-nopub.pem");
        openssl(&["ec", "-in", s(&ec_key), "-no_public", "-out", s(&nopub)]);
        assert!(
            matches!(PrivateKey::load(&nopub), Err(KeyError::NeedsPkcs8 { .. })),
            "{:?}",
            PrivateKey::load(&nopub)
        );
        let explicit = d.join("ec-explicit.pem");
        openssl(&[
            "ec",
            "-in",
            s(&ec_key),
            "-param_enc",
            "explicit",
            "-out",
            s(&explicit),
        ]);
        assert!(matches!(
            PrivateKey::load(&explicit),
            Err(KeyError::Malformed { .. })
        ));
        let explicit8 = d.join("ec-explicit-pkcs8.pem");
        openssl(&[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            s(&explicit),
            "-out",
            s(&explicit8),
        ]);
        assert!(matches!(
            PrivateKey::load(&explicit8),
            Err(KeyError::Malformed { .. })
        ));
        let explicit_pub = d.join("ec-explicit.pub.pem");
        openssl(&[
            "ec",
            "-in",
            s(&ec_key),
            "-param_enc",
            "explicit",
            "-pubout",
            "-out",
            s(&explicit_pub),
        ]);
        assert!(matches!(
            PublicKey::load(&explicit_pub),
            Err(KeyError::Malformed { .. })
        ));
        let compressed = d.join("ec-compressed.pub.pem");
        openssl(&[
            "ec",
            "-in",
            s(&ec_key),
            "-conv_form",
            "compressed",
            "-pubout",
            "-out",
            s(&compressed),
        ]);
        assert!(matches!(
            PublicKey::load(&compressed),
            Err(KeyError::Malformed { .. })
        ));
    }

    #[test]
    fn rejects_unsupported_keys() {
        let dir = TempDir::new().expect("tempdir");
        let d = dir.path();

        let (p384, p384_pub) = genpkey(
            d,
            "p384",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        );
        let sec1 = d.join("p384-sec1.pem");
        openssl(&["ec", "-in", s(&p384), "-out", s(&sec1)]);
        for result in [
            PrivateKey::load(&p384).map(|_| ()),
            PrivateKey::load(&sec1).map(|_| ()),
            PublicKey::load(&p384_pub).map(|_| ()),
        ] {
            match result {
                Err(e @ KeyError::UnsupportedCurve { .. }) => {
                    assert!(
                        matches!(&e, KeyError::UnsupportedCurve { oid } if oid == "1.3.132.0.34")
                    );
                    assert!(e.to_string().contains("P-384"), "{e}");
                }
                other => panic!("P-384: {other:?}"),
            }
        }

        let (rsa1024, rsa1024_pub) = genpkey(
            d,
            "rsa1024",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
        );
        let trad = d.join("rsa1024-trad.pem");
        openssl(&["pkey", "-in", s(&rsa1024), "-traditional", "-out", s(&trad)]);
        for result in [
            PrivateKey::load(&rsa1024).map(|_| ()),
            PrivateKey::load(&trad).map(|_| ()),
            PublicKey::load(&rsa1024_pub).map(|_| ()),
        ] {
            assert!(
                matches!(result, Err(KeyError::RsaKeySize { bits: 1024 })),
                "{result:?}"
            );
        }

        // DSA key with its parameters block.
        let dsa = d.join("dsa.pem");
        let dsa_pub = d.join("dsa.pub.pem");
        openssl(&["dsaparam", "-genkey", "-out", s(&dsa), "1024"]);
        openssl(&["pkey", "-in", s(&dsa), "-pubout", "-out", s(&dsa_pub)]);
        let dsa8 = d.join("dsa8.pem");
        openssl(&["pkey", "-in", s(&dsa), "-out", s(&dsa8)]);
        let expect_oid = |result: Result<(), KeyError>, want: &str| match result {
            Err(KeyError::UnsupportedAlgorithm { oid }) => assert_eq!(oid, want),
            other => panic!("expected UnsupportedAlgorithm {want}, got {other:?}"),
        };
        expect_oid(PrivateKey::load(&dsa8).map(|_| ()), "1.2.840.10040.4.1");
        expect_oid(PublicKey::load(&dsa_pub).map(|_| ()), "1.2.840.10040.4.1");
        // `openssl dsaparam -genkey` output: DSA PARAMETERS + PRIVATE KEY.
        expect_oid(PrivateKey::load(&dsa).map(|_| ()), "1.2.840.10040.4.1");
        // The traditional "DSA PRIVATE KEY" form is not a format we read.
        let dsa_trad = d.join("dsa-trad.pem");
        openssl(&["pkey", "-in", s(&dsa), "-traditional", "-out", s(&dsa_trad)]);
        match PrivateKey::load(&dsa_trad) {
            Err(KeyError::WrongKeyKind { label, .. }) => assert_eq!(label, "DSA PRIVATE KEY"),
            other => panic!("{other:?}"),
        }

        for (name, algorithm, oid) in [
            ("x25519", "X25519", "1.3.101.110"),
            ("ed448", "ED448", "1.3.101.113"),
            ("pss", "RSA-PSS", "1.2.840.113549.1.1.10"),
        ] {
            let (key, public) = genpkey(d, name, &["-algorithm", algorithm]);
            expect_oid(PrivateKey::load(&key).map(|_| ()), oid);
            expect_oid(PublicKey::load(&public).map(|_| ()), oid);
        }
    }

    /// SPKI and PKCS#8 with a synthetic RSA modulus of `bits` bits (top and
    /// bottom bit set). Not a usable key; enough for the size checks.
    fn synthetic_rsa(bits: usize, exponent: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut modulus = vec![0xa5u8; bits.div_ceil(8)];
        modulus[0] = 1 << ((bits - 1) % 8);
        *modulus.last_mut().expect("non-empty") |= 1;
        let n = UintRef::new(&modulus).expect("uint");
        let e = UintRef::new(exponent).expect("uint");
        let public = rsa::pkcs1::RsaPublicKey {
            modulus: n,
            public_exponent: e,
        }
        .to_der()
        .expect("der");
        let spki = encode_spki(Algorithm::Rsa { bits }, &public).expect("spki");
        let one = UintRef::new(&[1]).expect("uint");
        let private = rsa::pkcs1::RsaPrivateKey {
            modulus: n,
            public_exponent: e,
            private_exponent: one,
            prime1: one,
            prime2: one,
            exponent1: one,
            exponent2: one,
            coefficient: one,
            other_prime_infos: None,
        }
        .to_der()
        .expect("der");
        let info = PrivateKeyInfo::new(
            AlgorithmIdentifierRef {
                oid: OID_RSA_ENCRYPTION,
                parameters: Some(AnyRef::NULL),
            },
            &private,
        );
        (spki, info.to_der().expect("der"))
    }

    #[test]
    fn rsa_size_limits() {
        let f4 = [1, 0, 1];
        for bits in [2048usize, 3000, 4096] {
            let (spki, _) = synthetic_rsa(bits, &f4);
            let key = PublicKey::from_spki_der(&spki).expect("in range");
            assert_eq!(key.algorithm(), Algorithm::Rsa { bits });
        }
        for bits in [512usize, 1024, 2047, 4097, 4104, 8192, 16384] {
            let (spki, pkcs8) = synthetic_rsa(bits, &f4);
            assert!(
                matches!(PublicKey::from_spki_der(&spki), Err(KeyError::RsaKeySize { bits: b }) if b == bits),
                "{bits}"
            );
            assert!(
                matches!(PrivateKey::from_pkcs8_der(&pkcs8), Err(KeyError::RsaKeySize { bits: b }) if b == bits),
                "{bits}"
            );
            let pem_text = encode_pem(LABEL_PRIVATE, &pkcs8);
            assert!(
                matches!(PrivateKey::from_pem(pem_text.as_bytes()), Err(KeyError::RsaKeySize { bits: b }) if b == bits),
                "{bits}"
            );
        }
        // Exponents ring cannot verify with are refused up front.
        for e in [&[1u8][..], &[2], &[1, 0, 0], &[3, 0, 0, 0, 1]] {
            let (spki, _) = synthetic_rsa(2048, e);
            assert!(
                matches!(
                    PublicKey::from_spki_der(&spki),
                    Err(KeyError::Malformed { .. })
                ),
                "{e:?}"
            );
        }
        let (spki, _) = synthetic_rsa(2048, &[3]);
        assert!(PublicKey::from_spki_der(&spki).is_ok());
    }

    #[test]
    fn rejects_wrong_kind_encrypted_and_broken_pem() {
        let dir = TempDir::new().expect("tempdir");
        let d = dir.path();
        let (ec_key, ec_pub) = genpkey(d, "ec", OPENSSL_KEYS[0].1);
        let key_text = std::fs::read(&ec_key).expect("read");
        let pub_text = std::fs::read(&ec_pub).expect("read");

        // Private key where a public key is expected, and vice versa.
        match PublicKey::from_pem(&key_text) {
            Err(KeyError::WrongKeyKind { label, .. }) => assert_eq!(label, "PRIVATE KEY"),
            other => panic!("{other:?}"),
        }
        let sec1 = d.join("sec1.pem");
        openssl(&["ec", "-in", s(&ec_key), "-out", s(&sec1)]);
        assert!(matches!(
            PublicKey::load(&sec1),
            Err(KeyError::WrongKeyKind { .. })
        ));
        match PrivateKey::from_pem(&pub_text) {
            Err(KeyError::WrongKeyKind { label, .. }) => assert_eq!(label, "PUBLIC KEY"),
            other => panic!("{other:?}"),
        }

        // Encrypted keys: PKCS#8 and traditional.
        let enc8 = d.join("enc8.pem");
        openssl(&[
            "pkey",
            "-in",
            s(&ec_key),
            "-aes256",
            "-passout",
            "pass:secret",
            "-out",
            s(&enc8),
        ]);
        assert!(std::fs::read_to_string(&enc8)
            .expect("read")
            .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let enc_ec = d.join("enc-ec.pem");
        openssl(&[
            "ec",
            "-in",
            s(&ec_key),
            "-aes128",
            "-passout",
            "pass:secret",
            "-out",
            s(&enc_ec),
        ]);
        let (rsa_key, _) = genpkey(d, "rsa", OPENSSL_KEYS[2].1);
        let enc_rsa = d.join("enc-rsa.pem");
        openssl(&[
            "rsa",
            "-in",
            s(&rsa_key),
            "-traditional",
            "-aes128",
            "-passout",
            "pass:secret",
            "-out",
            s(&enc_rsa),
        ]);
        assert!(std::fs::read_to_string(&enc_rsa)
            .expect("read")
            .contains("Proc-Type: 4,ENCRYPTED"));
        for path in [&enc8, &enc_ec, &enc_rsa] {
            assert!(
                matches!(PrivateKey::load(path), Err(KeyError::Encrypted)),
                "{}: {:?}",
                path.display(),
                PrivateKey::load(path)
            );
        }

        // Truncated PEM text (no END line) and other broken framing.
        for text in [&key_text, &pub_text] {
            let cut = &text[..text.len() / 2];
            assert!(matches!(
                PrivateKey::from_pem(cut),
                Err(KeyError::Pem { .. })
            ));
            assert!(matches!(
                PublicKey::from_pem(cut),
                Err(KeyError::Pem { .. })
            ));
            let no_end = &text[..text.len() - 10];
            assert!(matches!(
                PrivateKey::from_pem(no_end),
                Err(KeyError::Pem { .. })
            ));
            assert!(matches!(
                PublicKey::from_pem(no_end),
                Err(KeyError::Pem { .. })
            ));
            let two = [text.as_slice(), text.as_slice()].concat();
            assert!(matches!(
                PrivateKey::from_pem(&two),
                Err(KeyError::Pem { .. })
            ));
            assert!(matches!(
                PublicKey::from_pem(&two),
                Err(KeyError::Pem { .. })
            ));
            // A valid key followed by a truncated one is refused too.
            let tail = [text.as_slice(), &text[..40]].concat();
            assert!(matches!(
                PublicKey::from_pem(&tail),
                Err(KeyError::Pem { .. })
            ));
            let mut bad_base64 = text.clone();
            bad_base64[40] = b'!';
            assert!(matches!(
                PublicKey::from_pem(&bad_base64),
                Err(KeyError::Pem { .. })
            ));
        }
        for empty in [&b""[..], b"\n", b"not a key", &[0u8; 100]] {
            assert!(matches!(
                PrivateKey::from_pem(empty),
                Err(KeyError::Pem { .. })
            ));
            assert!(matches!(
                PublicKey::from_pem(empty),
                Err(KeyError::Pem { .. })
            ));
        }
        // DER instead of PEM.
        let der = openssl(&["pkey", "-pubin", "-in", s(&ec_pub), "-outform", "DER"]).stdout;
        assert!(matches!(
            PublicKey::from_pem(&der),
            Err(KeyError::Pem { .. })
        ));
        // Intact PEM framing around truncated or padded DER.
        let key8 = pem::parse(&key_text).expect("pem");
        for body in [
            &key8.contents()[..key8.contents().len() / 2],
            &[key8.contents(), &[0][..]].concat(),
        ] {
            let text = encode_pem(LABEL_PRIVATE, body);
            assert!(matches!(
                PrivateKey::from_pem(text.as_bytes()),
                Err(KeyError::Malformed { .. })
            ));
        }
        for body in [
            &der[..der.len() - 1],
            &[der.as_slice(), &[0][..]].concat(),
            &[][..],
        ] {
            let text = encode_pem(LABEL_PUBLIC, body);
            assert!(matches!(
                PublicKey::from_pem(text.as_bytes()),
                Err(KeyError::Malformed { .. })
            ));
            assert!(matches!(
                PublicKey::from_spki_der(body),
                Err(KeyError::Malformed { .. })
            ));
        }
        // Leading text before the PEM block (as `openssl pkey -text` adds) is fine.
        let with_text = [b"Comment: release key\n".as_slice(), &pub_text].concat();
        assert!(PublicKey::from_pem(&with_text).is_ok());
        // CRLF line endings are fine.
        let crlf = String::from_utf8(pub_text.clone())
            .expect("utf-8")
            .replace('\n', "\r\n");
        assert!(PublicKey::from_pem(crlf.as_bytes()).is_ok());
    }

    #[test]
    fn load_limits_and_io_errors() {
        let dir = TempDir::new().expect("tempdir");
        let key = PrivateKey::generate(Algorithm::EcdsaP256).expect("generate");
        let (key_path, pub_path) = write_keypair(&key, &dir.path().join("k")).expect("write");

        // Padding before the block is allowed up to the 64 KiB limit.
        let pub_pem = key.public_key().to_pem();
        let fits = dir.path().join("fits.pub");
        let pad = MAX_KEY_FILE_LEN as usize - pub_pem.len();
        std::fs::write(&fits, format!("{}{pub_pem}", "#".repeat(pad))).expect("write");
        assert_eq!(
            PublicKey::load(&fits).expect("load").fingerprint(),
            key.public_key().fingerprint()
        );
        let big = dir.path().join("big.pub");
        std::fs::write(&big, format!("{}{pub_pem}", "#".repeat(pad + 1))).expect("write");
        assert!(
            matches!(PublicKey::load(&big), Err(KeyError::TooLarge { path, .. }) if path == big)
        );
        assert!(matches!(
            PrivateKey::load(&big),
            Err(KeyError::TooLarge { .. })
        ));

        let missing = dir.path().join("missing.key");
        match PrivateKey::load(&missing) {
            Err(e @ KeyError::Io { .. }) => {
                assert!(e.to_string().contains("missing.key"), "{e}");
                assert!(std::error::Error::source(&e).is_some());
                assert!(e.to_string().contains("No such file"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            PublicKey::load(dir.path()),
            Err(KeyError::Io { .. })
        ));
        assert!(PrivateKey::load(&key_path).is_ok());
        assert!(PublicKey::load(&pub_path).is_ok());
    }

    #[test]
    fn debug_output_does_not_leak_the_private_key() {
        let key = PrivateKey::generate(Algorithm::Ed25519).expect("generate");
        let debug = format!("{key:?}");
        assert!(debug.contains("ed25519"), "{debug}");
        assert!(debug.contains(&key.public_key().fingerprint()));
        let pem_text = key.to_pkcs8_pem();
        let body = pem_text.lines().nth(1).expect("body line");
        assert!(!debug.contains(body));
        let der = pem::parse(&pem_text).expect("pem").into_contents();
        assert!(!debug.contains(&hex::encode(&der[der.len() - 32..])));
    }
}
