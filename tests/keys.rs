//! Signing keys against the real `openssl` command (OpenSSL 3): openssl-made
//! keys in every format load with the fingerprints openssl computes,
//! signatures go both ways byte for byte, unsupported and broken keys get
//! their typed errors; and `keygen` refuses an unknown algorithm as a key
//! error. (Moved here from the unit tests of src/package/keys; they use only
//! the public API.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use recovery_updater::package::keys::{write_keypair, Algorithm, KeyError, PrivateKey, PublicKey};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// A PEM block as openssl writes it (LF line endings), around any bytes.
fn encode_pem(label: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

const MESSAGE: &[u8] = b"{\"version\":\"1.2.3\",\"images\":[{\"name\":\"rootfs\"}]}\n";

/// The three supported kinds, by their openssl key kind ([`common::genpkey`]).
const OPENSSL_KEYS: [(&str, Algorithm); 3] = [
    ("ec", Algorithm::EcdsaP256),
    ("ed25519", Algorithm::Ed25519),
    ("rsa", Algorithm::Rsa { bits: 2048 }),
];

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// [`common::openssl`] with absolute paths: the working directory does not matter.
fn openssl(args: &[&str]) -> Vec<u8> {
    common::openssl(args, Path::new("."))
}

/// The openssl key kind that signs and verifies like `alg` (see [`common::sign`]).
fn kind(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::Ed25519 => "ed25519",
        Algorithm::EcdsaP256 => "ec",
        Algorithm::Rsa { .. } => "rsa",
    }
}

fn openssl_sign(alg: Algorithm, key: &Path, message: &Path, sig: &Path) {
    common::sign(Path::new("."), kind(alg), s(key), s(message), s(sig));
}

fn openssl_verifies(alg: Algorithm, public: &Path, message: &Path, sig: &Path) -> bool {
    common::verifies(Path::new("."), kind(alg), s(public), s(message), s(sig))
}

fn flip(bytes: &[u8], index: usize, bit: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[index] ^= 1 << bit;
    out
}

#[test]
fn openssl_keys_load_and_fingerprints_match() {
    let dir = TempDir::new().expect("tempdir");
    for (name, alg) in OPENSSL_KEYS {
        let (key_path, pub_path) = common::genpkey(dir.path(), name, name);
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
        let der = openssl(&["pkey", "-pubin", "-in", s(&pub_path), "-outform", "DER"]);
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
    for (name, alg) in OPENSSL_KEYS {
        let (key_path, pub_path) = common::genpkey(dir.path(), name, name);
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
            common::genpkey_with(dir.path(), &name, &["-algorithm", "RSA", "-pkeyopt", &opt]);
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
    for generate in [
        Algorithm::EcdsaP256,
        Algorithm::Ed25519,
        Algorithm::Rsa { bits: 2048 },
    ] {
        let key = PrivateKey::generate(generate).expect("generate");
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
        let der = openssl(&["pkey", "-pubin", "-in", s(&pub_path), "-outform", "DER"]);
        assert_eq!(
            key.public_key().fingerprint(),
            hex::encode(Sha256::digest(&der))
        );
        // openssl derives the same public key from our private key.
        let derived = openssl(&["pkey", "-in", s(&key_path), "-pubout"]);
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
fn traditional_formats_load() {
    let dir = TempDir::new().expect("tempdir");
    let d = dir.path();
    let message = d.join("manifest.json");
    std::fs::write(&message, MESSAGE).expect("write");

    traditional_rsa_formats_load(d, &message);
    traditional_ec_formats_load(d, &message);
}

/// RSA PRIVATE KEY (PKCS#1) and RSA PUBLIC KEY.
fn traditional_rsa_formats_load(d: &Path, message: &Path) {
    let (rsa_key, rsa_pub) = common::genpkey(d, "rsa", "rsa");
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
    openssl_sign(key.algorithm(), &rsa_key, message, &sig_path);
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
}

/// EC PRIVATE KEY (SEC1), as `openssl ec` writes it, and `openssl ecparam -genkey` output;
/// SEC1 forms we refuse.
fn traditional_ec_formats_load(d: &Path, message: &Path) {
    let (ec_key, ec_pub) = common::genpkey(d, "ec", "ec");
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
        message,
        &sig_path
    ));
    // Written back as PKCS#8, openssl reads the same key.
    let converted = d.join("ec-converted.pem");
    std::fs::write(&converted, key.to_pkcs8_pem()).expect("write");
    let derived = openssl(&["pkey", "-in", s(&converted), "-pubout"]);
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
    let pub_pem = openssl(&["pkey", "-in", s(&ecparam), "-pubout"]);
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

    let (p384, p384_pub) = common::genpkey_with(
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
                assert!(matches!(&e, KeyError::UnsupportedCurve { oid } if oid == "1.3.132.0.34"));
                assert!(e.to_string().contains("P-384"), "{e}");
            }
            other => panic!("P-384: {other:?}"),
        }
    }

    let (rsa1024, rsa1024_pub) = common::genpkey_with(
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
        let (key, public) = common::genpkey_with(d, name, &["-algorithm", algorithm]);
        expect_oid(PrivateKey::load(&key).map(|_| ()), oid);
        expect_oid(PublicKey::load(&public).map(|_| ()), oid);
    }
}

#[test]
fn rejects_wrong_kind_encrypted_and_broken_pem() {
    let dir = TempDir::new().expect("tempdir");
    let d = dir.path();
    let (ec_key, ec_pub) = common::genpkey(d, "ec", "ec");
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

    encrypted_keys_are_refused(d, &ec_key);
    broken_pem_framing_is_refused(&key_text, &pub_text);
    // DER instead of PEM.
    let der = openssl(&["pkey", "-pubin", "-in", s(&ec_pub), "-outform", "DER"]);
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
        let text = encode_pem("PRIVATE KEY", body);
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
        let text = encode_pem("PUBLIC KEY", body);
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

/// Encrypted keys, PKCS#8 and traditional, are refused as encrypted.
fn encrypted_keys_are_refused(d: &Path, ec_key: &Path) {
    let enc8 = d.join("enc8.pem");
    openssl(&[
        "pkey",
        "-in",
        s(ec_key),
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
        s(ec_key),
        "-aes128",
        "-passout",
        "pass:secret",
        "-out",
        s(&enc_ec),
    ]);
    let (rsa_key, _) = common::genpkey(d, "rsa", "rsa");
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
}

/// Truncated PEM text (no END line) and other broken framing.
fn broken_pem_framing_is_refused(key_text: &[u8], pub_text: &[u8]) {
    for text in [&key_text.to_vec(), &pub_text.to_vec()] {
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
}

/// `keygen --algorithm` with a name it does not know is a key error (E9071 KEY_INVALID, exit
/// 71) naming the algorithms it knows, not an invalid pack spec or a bare usage error; and no
/// key file is written.
#[test]
fn keygen_unknown_algorithm_is_a_key_error() {
    let dir = TempDir::new().expect("tempdir");
    let base = dir.path().join("release");
    let out = common::run(
        common::bin()
            .args(["keygen", "--algorithm", "rsa-1024", "--out"])
            .arg(&base),
    );
    let all = common::text(&out);
    assert_eq!(common::exit_code(&out), 71, "{all}");
    assert!(all.contains("error 9071: KEY_INVALID"), "{all}");
    assert!(all.contains("unknown key algorithm \"rsa-1024\""), "{all}");
    assert!(
        all.contains("ecdsa-p256, ed25519, rsa-2048, rsa-3072 or rsa-4096"),
        "{all}"
    );
    assert!(std::fs::read_dir(dir.path())
        .expect("read dir")
        .next()
        .is_none());
}
