//! Traditional private key formats ("EC PRIVATE KEY", "RSA PRIVATE KEY")
//! converted to PKCS#8, the one form [`super::PrivateKey`] is built from.

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, PrivateKeyInfo, SecretDocument};
use spki::der::asn1::{AnyRef, BitStringRef, ContextSpecific, OctetStringRef};
use spki::der::{Decode, Reader, SliceReader, TagNumber};
use spki::AlgorithmIdentifierRef;

use super::der::{check_ec_curve, check_rsa_bits, modulus_bits, OID_EC_PUBLIC_KEY, OID_P256};
use super::error::malformed;
use super::KeyError;

/// Converts a SEC1 `ECPrivateKey` (the body of "EC PRIVATE KEY") to PKCS#8.
///
/// RFC 5915: ECPrivateKey ::= SEQUENCE { version INTEGER (1), privateKey
/// OCTET STRING, parameters [0] EXPLICIT ECParameters OPTIONAL, publicKey
/// [1] EXPLICIT BIT STRING OPTIONAL }. PKCS#8 wraps the same structure in an
/// OCTET STRING next to AlgorithmIdentifier { id-ecPublicKey, curve }, so the
/// conversion needs the curve (from [0]); ring also insists on the embedded
/// public key [1]. Keys lacking either are sent to `openssl pkcs8`, which
/// fills them in.
pub(super) fn sec1_to_pkcs8(sec1: &[u8]) -> Result<SecretDocument, KeyError> {
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
pub(super) fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Result<SecretDocument, KeyError> {
    let parsed = rsa::pkcs1::RsaPrivateKey::from_der(pkcs1)
        .map_err(|e| malformed(format!("invalid RSA PRIVATE KEY: {e}")))?;
    check_rsa_bits(modulus_bits(parsed.modulus.as_bytes()))?;
    let key = rsa::RsaPrivateKey::from_pkcs1_der(pkcs1)
        .map_err(|e| malformed(format!("invalid RSA PRIVATE KEY: {e}")))?;
    key.to_pkcs8_der()
        .map_err(|e| malformed(format!("cannot convert RSA key to PKCS#8: {e}")))
}
