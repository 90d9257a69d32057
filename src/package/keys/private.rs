//! Signing keys: PKCS#8 private keys (and the traditional forms converted
//! to it), key generation, and signing.

use std::fmt;
use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use rsa::pkcs8::{EncodePrivateKey, PrivateKeyInfo, SecretDocument};
use spki::der::zeroize::Zeroizing;
use spki::der::Decode;

use super::convert::{pkcs1_to_pkcs8, sec1_to_pkcs8};
use super::der::{
    check_ec_curve, check_rsa_bits, encode_spki, modulus_bits, OID_EC_PUBLIC_KEY, OID_ED25519,
    OID_RSA_ENCRYPTION,
};
use super::error::malformed;
use super::file::read_key_file;
use super::pem_block::{
    encode_pem, single_key_block, LABEL_EC_PRIVATE, LABEL_ENCRYPTED, LABEL_PRIVATE,
    LABEL_RSA_PRIVATE,
};
use super::{Algorithm, KeyError, PublicKey, RSA_GENERATE_BITS};

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
        if public.algorithm() != algorithm {
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
