//! Unit tests of keys and signatures that need no outside tool; the ones
//! that check interop with the `openssl` command are integration tests in
//! tests/keys.rs.

use std::path::{Path, PathBuf};

use rsa::pkcs8::PrivateKeyInfo;
use sha2::{Digest, Sha256};
use spki::der::asn1::{AnyRef, UintRef};
use spki::der::Encode;
use spki::AlgorithmIdentifierRef;
use tempfile::TempDir;

use super::der::{encode_spki, OID_RSA_ENCRYPTION};
use super::pem_block::{encode_pem, LABEL_PRIVATE};
use super::*;

const MESSAGE: &[u8] = b"{\"version\":\"1.2.3\",\"images\":[{\"name\":\"rootfs\"}]}\n";

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
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
    assert!(matches!(PublicKey::load(&big), Err(KeyError::TooLarge { path, .. }) if path == big));
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
