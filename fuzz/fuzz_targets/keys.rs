//! Key and signature parsing: PEM/DER public and private keys on arbitrary bytes, and
//! signature verification of arbitrary signature bytes against real keys (must never verify).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use recovery_updater::package::keys::Algorithm;
use recovery_updater::package::{PrivateKey, PublicKey};

fn keys() -> &'static Vec<PublicKey> {
    static KEYS: OnceLock<Vec<PublicKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        [Algorithm::EcdsaP256, Algorithm::Ed25519]
            .into_iter()
            .map(|a| PrivateKey::generate(a).expect("keygen").public_key())
            .collect()
    })
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
