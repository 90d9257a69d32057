//! The DER structures public and private keys share: algorithm identifiers,
//! curve and RSA size checks, and SubjectPublicKeyInfo encoding.

use spki::der::asn1::{AnyRef, BitStringRef, ObjectIdentifier};
use spki::der::{Decode, Encode};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

use super::error::malformed;
use super::{Algorithm, KeyError, RSA_MAX_BITS, RSA_MIN_BITS};

// Object identifiers (dotted form) of the algorithms we accept.
/// id-ecPublicKey (RFC 5480).
pub(super) const OID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp256r1 a.k.a. prime256v1 a.k.a. NIST P-256 (RFC 5480).
pub(super) const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// id-Ed25519 (RFC 8410).
pub(super) const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// rsaEncryption (RFC 8017); the OID openssl uses for all plain RSA keys.
pub(super) const OID_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Checks the AlgorithmIdentifier parameters of an id-ecPublicKey key: they
/// must be the namedCurve OID of P-256. (RFC 5480 also allows implicitCurve
/// and explicit specifiedCurve parameters; openssl writes those only when
/// asked with `-param_enc explicit`, and ring accepts neither.)
pub(super) fn check_ec_curve(parameters: Option<AnyRef<'_>>) -> Result<(), KeyError> {
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
pub(super) fn modulus_bits(modulus: &[u8]) -> usize {
    match modulus.first() {
        Some(&top) => modulus.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    }
}

pub(super) fn check_rsa_bits(bits: usize) -> Result<(), KeyError> {
    if (RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(KeyError::RsaKeySize { bits })
    }
}

/// Validates a PKCS#1 RSAPublicKey DER and returns the modulus size in bits.
pub(super) fn rsa_public_bits(pkcs1_der: &[u8]) -> Result<usize, KeyError> {
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
pub(super) fn encode_spki(algorithm: Algorithm, key: &[u8]) -> Result<Vec<u8>, KeyError> {
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
