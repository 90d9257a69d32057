//! Key and signature parsing: PEM/DER public and private keys on arbitrary bytes, and
//! signature verification of arbitrary signature bytes against real keys (must never verify).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use recovery_updater::package::{PrivateKey, PublicKey};

/// Fixed public keys, so a CI run with a fixed seed sees the same keys every time: the P-256
/// generator point and the RFC 8032 test-vector Ed25519 key (SubjectPublicKeyInfo DER).
fn keys() -> &'static Vec<PublicKey> {
    static KEYS: OnceLock<Vec<PublicKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let p256 = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
        let ed25519 = hex("302a300506032b6570032100d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        [p256, ed25519]
            .iter()
            .map(|der| PublicKey::from_spki_der(der).expect("fixed key parses"))
            .collect()
    })
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = PublicKey::from_pem(data) {
        // A parsed key round-trips through its own PEM.
        let again = PublicKey::from_pem(k.to_pem().as_bytes()).expect("own PEM parses");
        assert_eq!(again.fingerprint(), k.fingerprint());
        let _ = k.verify(b"message", data);
    }
    if let Ok(k) = PublicKey::from_spki_der(data) {
        assert_eq!(k.spki_der(), data, "SPKI DER is kept as given");
        let _ = k.verify(data, data);
    }
    let _ = PrivateKey::from_pem(data);
    let _ = PrivateKey::from_pkcs8_der(data);
    // Random bytes are never a valid signature of a fixed message.
    for k in keys() {
        assert!(!k.verify(b"manifest bytes", data));
    }
});
