//! Typed errors of loading, parsing, generating and writing keys and signing.

use std::path::PathBuf;

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

pub(super) fn malformed(reason: impl Into<String>) -> KeyError {
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
