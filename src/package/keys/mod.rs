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
//!
//! Files: [`pem_block`] (PEM framing), [`der`] (the DER structures both key kinds
//! share), [`public`] (verification keys), [`private`] (signing keys and key
//! generation), [`convert`] (traditional private key formats to PKCS#8),
//! [`file`] (reading key files and writing key pairs), [`error`].

mod convert;
mod der;
mod error;
mod file;
mod pem_block;
mod private;
mod public;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use error::KeyError;
pub use file::write_keypair;
pub use private::PrivateKey;
pub use public::PublicKey;

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
