//! Interop with the real `openssl` command: openssl-made keys load, openssl-made signatures
//! verify on the device, and our signatures verify with openssl.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::Path;

use common::*;
use recovery_updater::demo::SimDevice;
use recovery_updater::device::SlotMode;

/// A device that trusts `public` only.
fn device_trusting(public: &Path) -> Fixture {
    let fx = Fixture::with(SimDevice {
        b_bootable: false,
        ..SimDevice::default()
    });
    fs::copy(public, fx.dir.join("device/keys/trusted0.pub")).unwrap();
    fx
}

#[test]
fn openssl_keys_sign_packages_we_accept() {
    for alg in ["ec", "ed25519", "rsa"] {
        let keys = tempfile::tempdir().unwrap();
        genpkey(keys.path(), "vendor", alg);
        let fx = device_trusting(&keys.path().join("vendor.pub"));
        let pkg = fx.pack(&fx.good_spec(), &keys.path().join("vendor.key"), "u.zip");
        let (out, r) = fx.apply(&pkg);
        assert_eq!(r["code"], 0, "{alg}: {}", text(&out));
    }
}

#[test]
fn externally_signed_package_verifies() {
    for alg in ["ec", "ed25519", "rsa"] {
        let keys = tempfile::tempdir().unwrap();
        let k = keys.path();
        genpkey(k, "hsm", alg);
        let fx = device_trusting(&k.join("hsm.pub"));
        let pkg = fx.dir.join("unsigned.zip");
        let manifest = k.join("manifest.json");
        let out = run(bin()
            .arg("pack")
            .arg("--spec")
            .arg(fx.good_spec())
            .arg("--unsigned")
            .arg("--signer")
            .arg(k.join("hsm.pub"))
            .arg("--manifest-out")
            .arg(&manifest)
            .arg("--out")
            .arg(&pkg));
        assert!(out.status.success(), "{}", text(&out));
        sign(k, alg, "hsm.key", "manifest.json", "manifest.sig");
        // Before the signature is added the device refuses the package.
        let (_, r) = fx.apply(&pkg);
        assert_eq!(r["code"], 9011);
        let out = run(bin()
            .arg("sign")
            .arg(&pkg)
            .arg("--signature")
            .arg(k.join("manifest.sig"))
            .arg("--pub")
            .arg(k.join("hsm.pub")));
        assert!(out.status.success(), "{alg}: {}", text(&out));
        let (out, r) = fx.apply(&pkg);
        assert_eq!(r["code"], 0, "{alg}: {}", text(&out));
    }
}

#[test]
fn a_signature_for_other_bytes_is_refused_by_sign() {
    let keys = tempfile::tempdir().unwrap();
    let k = keys.path();
    genpkey(k, "hsm", "ec");
    let fx = device_trusting(&k.join("hsm.pub"));
    let pkg = fx.dir.join("unsigned.zip");
    let out = run(bin()
        .arg("pack")
        .arg("--spec")
        .arg(fx.good_spec())
        .arg("--unsigned")
        .arg("--out")
        .arg(&pkg));
    assert!(out.status.success());
    fs::write(k.join("other.json"), b"{}").unwrap();
    sign(k, "ec", "hsm.key", "other.json", "bad.sig");
    let out = run(bin()
        .arg("sign")
        .arg(&pkg)
        .arg("--signature")
        .arg(k.join("bad.sig"))
        .arg("--pub")
        .arg(k.join("hsm.pub")));
    assert_eq!(exit_code(&out), 12, "{}", text(&out));
}

#[test]
fn our_signatures_verify_with_openssl() {
    for alg in ["ecdsa-p256", "ed25519", "rsa-2048"] {
        let fx = Fixture::new(SlotMode::Ab);
        let (key, public) = keygen(&fx.dir, "ours", alg);
        let mode = fs::metadata(&key).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600, "{alg} key mode");
        let pkg = fx.pack(&fx.good_spec(), &key, "u.zip");
        let entries = read_entries(&pkg);
        let get = |n: &str| entries.iter().find(|e| e.name == n).unwrap().data.clone();
        let d = fx.dir.as_path();
        fs::write(
            d.join("manifest.json"),
            get("META-INF/update/manifest.json"),
        )
        .unwrap();
        fs::write(d.join("manifest.sig"), get("META-INF/update/manifest.sig")).unwrap();
        fs::copy(&public, d.join("ours_copy.pub")).unwrap();
        if alg == "ed25519" {
            openssl(
                &[
                    "pkeyutl",
                    "-verify",
                    "-pubin",
                    "-inkey",
                    "ours_copy.pub",
                    "-rawin",
                    "-in",
                    "manifest.json",
                    "-sigfile",
                    "manifest.sig",
                ],
                d,
            );
        } else {
            openssl(
                &[
                    "dgst",
                    "-sha256",
                    "-verify",
                    "ours_copy.pub",
                    "-signature",
                    "manifest.sig",
                    "manifest.json",
                ],
                d,
            );
        }
        // And openssl reads our private key.
        openssl(&["pkey", "-in", key.to_str().unwrap(), "-noout"], d);
    }
}
