//! The real `openssl` command: keys and signatures made the way a vendor or an HSM would
//! make them, to prove they interoperate with ours. Relative paths are in `dir`; absolute paths
//! work with any `dir`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::shell::tool_output;

/// Runs `openssl ARGS` in `dir` and returns its output whatever its status.
pub fn openssl_output(args: &[&str], dir: &Path) -> Output {
    tool_output(Command::new("openssl").args(args).current_dir(dir))
}

/// Runs `openssl ARGS` in `dir`, insists it succeeds, and returns its stdout (DER stays bytes).
pub fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = openssl_output(args, dir);
    assert!(
        out.status.success(),
        "openssl {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The `openssl genpkey` options for `alg`: "ec" (P-256), "ed25519", "rsa" (2048 bits).
pub fn genpkey_options(alg: &str) -> &'static [&'static str] {
    match alg {
        "ec" => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "ed25519" => &["-algorithm", "ed25519"],
        "rsa" => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        _ => unreachable!("no openssl key kind {alg:?}"),
    }
}

/// `openssl genpkey` of `alg` ("ec" for P-256, "ed25519", "rsa" for RSA 2048) into
/// `dir/NAME.key` (PKCS#8 PEM), and its public key into `dir/NAME.pub` (SPKI PEM).
pub fn genpkey(dir: &Path, name: &str, alg: &str) -> (PathBuf, PathBuf) {
    genpkey_with(dir, name, genpkey_options(alg))
}

/// [`genpkey`] with any `openssl genpkey` options (other sizes, curves and algorithms).
/// Returns the paths of the private and the public key.
pub fn genpkey_with(dir: &Path, name: &str, options: &[&str]) -> (PathBuf, PathBuf) {
    let (key, public) = (format!("{name}.key"), format!("{name}.pub"));
    let mut args = vec!["genpkey"];
    args.extend_from_slice(options);
    args.extend(["-out", &key]);
    openssl(&args, dir);
    openssl(&["pkey", "-in", &key, "-pubout", "-out", &public], dir);
    (dir.join(key), dir.join(public))
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

/// Whether openssl accepts `sig` over `input` with the public key `public` (files in `dir`),
/// checked the way [`sign`] made it.
pub fn verifies(dir: &Path, alg: &str, public: &str, input: &str, sig: &str) -> bool {
    let args: &[&str] = if alg == "ed25519" {
        &[
            "pkeyutl", "-verify", "-pubin", "-inkey", public, "-rawin", "-in", input, "-sigfile",
            sig,
        ]
    } else {
        &[
            "dgst",
            "-sha256",
            "-verify",
            public,
            "-signature",
            sig,
            input,
        ]
    };
    openssl_output(args, dir).status.success()
}
