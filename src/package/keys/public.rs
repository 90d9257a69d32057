//! Verification keys: SubjectPublicKeyInfo (and PKCS#1 RSA) public keys,
//! fingerprints and signature checks.

use std::fmt;
use std::path::Path;

use ring::signature::{UnparsedPublicKey, VerificationAlgorithm};
use sha2::{Digest, Sha256};
use spki::der::asn1::AnyRef;
use spki::SubjectPublicKeyInfoRef;

use super::der::{
    check_ec_curve, encode_spki, rsa_public_bits, OID_EC_PUBLIC_KEY, OID_ED25519,
    OID_RSA_ENCRYPTION,
};
use super::error::malformed;
use super::file::read_key_file;
use super::pem_block::{encode_pem, single_key_block, LABEL_PUBLIC, LABEL_RSA_PUBLIC};
use super::{Algorithm, KeyError, MAX_SIGNATURE_LEN};

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
