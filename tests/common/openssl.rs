//! The real `openssl` command: keys and signatures made the way a vendor or an HSM would
//! make them, to prove they interoperate with ours.

use std::path::Path;
use std::process::Command;

use super::shell::sh;

/// Runs `openssl ARGS` in `dir` and insists it succeeds.
pub fn openssl(args: &[&str], dir: &Path) {
    sh(Command::new("openssl").args(args).current_dir(dir));
}

/// `openssl genpkey` of `alg` ("ec" for P-256, "ed25519", "rsa" for RSA 2048) into
/// `dir/NAME.key` (PKCS#8 PEM), and its public key into `dir/NAME.pub` (SPKI PEM).
pub fn genpkey(dir: &Path, name: &str, alg: &str) {
    let mut args = vec!["genpkey", "-out"];
    let key = format!("{name}.key");
    args.push(&key);
    match alg {
        "ec" => args.extend(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        "ed25519" => args.extend(["-algorithm", "ed25519"]),
        "rsa" => args.extend(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
        _ => unreachable!(),
    }
    openssl(&args, dir);
    openssl(
        &[
            "pkey",
            "-in",
            &key,
            "-pubout",
            "-out",
            &format!("{name}.pub"),
        ],
        dir,
    );
}

/// Signs `input` with `key` (files in `dir`) into `out` as the package format wants it:
/// Ed25519 over the raw bytes (`pkeyutl -rawin`), ECDSA and RSA over their SHA-256
/// (`dgst -sha256 -sign`: DER ECDSA, PKCS#1 v1.5 RSA).
pub fn sign(dir: &Path, alg: &str, key: &str, input: &str, out: &str) {
    if alg == "ed25519" {
        openssl(
            &[
                "pkeyutl", "-sign", "-rawin", "-inkey", key, "-in", input, "-out", out,
            ],
            dir,
        );
    } else {
        openssl(&["dgst", "-sha256", "-sign", key, "-out", out, input], dir);
    }
}
