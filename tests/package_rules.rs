//! Package rules from issue 9, through the binary: a damaged manifest or signature entry is
//! package corruption (item 10), `version` is limited in characters (item 11), unknown manifest
//! fields are refused (item 14), and a manifest just under the 16 MiB limit is read within the
//! 32 MiB data limit the corpus tests use (item 8).
//!
//! Fixtures are made here from the project's own packer and keys; manifests are edited as JSON
//! text and re-signed with the device's trusted key, so each case reaches the rule it tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use recovery_updater::package::PrivateKey;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The last stdout line as JSON (the result line of `--json`).
fn last_json(out: &Output) -> Value {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null)
}

/// Applies `pkg`, expects `code`, and checks that nothing on the device changed.
fn expect_refused(fx: &Fixture, pkg: &Path, code: u16) -> Output {
    let before = fx.snapshot();
    let ri = fs::read(fx.state_file("rollback_index")).unwrap();
    let (out, result) = fx.apply(pkg);
    assert_eq!(result["code"], code, "{}", text(&out));
    assert_eq!(exit_code(&out), i32::from(code - 9000), "{}", text(&out));
    assert_eq!(
        fx.snapshot(),
        before,
        "a refused package changed the device"
    );
    assert_eq!(fs::read(fx.state_file("rollback_index")).unwrap(), ri);
    assert!(
        !fx.state_file("journal.json").exists(),
        "a refused package left a journal"
    );
    out
}

/// The good package's manifest as JSON.
fn good_manifest(pkg: &Path) -> Value {
    let e = read_entries(pkg);
    let m = e.iter().find(|e| e.name == MANIFEST).unwrap();
    serde_json::from_slice(&m.data).unwrap()
}

/// The good package with its manifest replaced by `bytes`, signed by the device's trusted key.
fn resigned(fx: &Fixture, name: &str, bytes: &[u8]) -> PathBuf {
    let good = fx.good_package();
    let sig = PrivateKey::load(&fx.key).unwrap().sign(bytes).unwrap();
    let out = fx.dir.join(name);
    rewrite(&good, &out, |entries| {
        for e in entries.iter_mut() {
            if e.name == MANIFEST {
                e.data = bytes.to_vec();
            } else if e.name == SIG {
                e.data = sig.clone();
            }
        }
    });
    out
}

/// The good package with `entry` stored and one byte of its data flipped: the zip's CRC-32 no
/// longer matches.
fn damaged_entry(fx: &Fixture, entry: &str, name: &str) -> PathBuf {
    let out = fx.dir.join(name);
    rewrite(&fx.good_package(), &out, |entries| {
        for e in entries
            .iter_mut()
            .filter(|e| e.name.starts_with("META-INF/"))
        {
            e.deflate = false;
        }
    });
    let at = data_offset(&out, entry) + 5;
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&out)
        .unwrap();
    let mut b = [0u8];
    f.seek(SeekFrom::Start(at)).unwrap();
    std::io::Read::read_exact(&mut f, &mut b).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[b[0] ^ 0x20]).unwrap();
    out
}

// ---- item 10: a damaged manifest or signature entry is PACKAGE_CORRUPT --------------------

#[test]
fn manifest_entry_with_a_wrong_crc_is_package_corrupt() {
    let fx = fresh_ab();
    let pkg = damaged_entry(&fx, MANIFEST, "bad-manifest-crc.zip");
    let out = expect_refused(&fx, &pkg, 9003);
    assert!(text(&out).contains(MANIFEST), "{}", text(&out));
}

#[test]
fn signature_entry_with_a_wrong_crc_is_package_corrupt() {
    let fx = fresh_ab();
    let pkg = damaged_entry(&fx, SIG, "bad-signature-crc.zip");
    let out = expect_refused(&fx, &pkg, 9003);
    assert!(text(&out).contains(SIG), "{}", text(&out));
}

// ---- item 11: version length in characters ------------------------------------------------

/// 128 two-byte characters (256 bytes) are within the documented 128 characters: the packer
/// makes the package and the device installs it.
#[test]
fn version_of_128_multibyte_characters_installs() {
    let fx = fresh_ab();
    let version = "é".repeat(128);
    let spec = fx.spec_with(&format!("version = \"{version}\""));
    let pkg = fx.pack(&spec, &fx.key, "long-version.zip");
    let (out, result) = fx.apply(&pkg);
    assert_eq!(result["code"], 0, "{}", text(&out));
    assert_eq!(result["to_version"], version.as_str(), "{}", text(&out));
}

/// One character more is refused: by the packer, and by the device for a signed manifest.
#[test]
fn version_of_129_multibyte_characters_is_refused() {
    let fx = fresh_ab();
    let version = "界".repeat(129);
    let spec = fx.spec_with(&format!("version = \"{version}\""));
    let out = run(bin()
        .arg("pack")
        .arg("--spec")
        .arg(&spec)
        .arg("--key")
        .arg(&fx.key)
        .arg("--out")
        .arg(fx.dir.join("never.zip")));
    assert_eq!(exit_code(&out), 70, "{}", text(&out));
    assert!(text(&out).contains("128 characters"), "{}", text(&out));

    let mut m = good_manifest(&fx.good_package());
    m["version"] = Value::from(version);
    let pkg = resigned(
        &fx,
        "too-long-version.zip",
        &serde_json::to_vec(&m).unwrap(),
    );
    let out = expect_refused(&fx, &pkg, 9016);
    assert!(text(&out).contains("128 characters"), "{}", text(&out));
}

// ---- item 14: unknown fields ---------------------------------------------------------------

/// A vendor typo: `hardware_revision` (singular) restricting the package to `revZ`. Ignored,
/// the package would install on any hardware; it is refused and the field named.
#[test]
fn unknown_manifest_field_is_refused_and_nothing_written() {
    let fx = fresh_ab();
    let mut m = good_manifest(&fx.good_package());
    let obj = m.as_object_mut().unwrap();
    obj.remove("hardware_revisions");
    obj.insert("hardware_revision".into(), serde_json::json!(["revZ"]));
    let pkg = resigned(&fx, "typo.zip", &serde_json::to_vec(&m).unwrap());
    let out = expect_refused(&fx, &pkg, 9016);
    assert!(
        text(&out).contains("unknown field `hardware_revision`"),
        "{}",
        text(&out)
    );
}

/// The same rule inside an image object.
#[test]
fn unknown_image_field_is_refused() {
    let fx = fresh_ab();
    let mut m = good_manifest(&fx.good_package());
    m["images"][0]["offset"] = Value::from(4096);
    let pkg = resigned(&fx, "image-field.zip", &serde_json::to_vec(&m).unwrap());
    let out = expect_refused(&fx, &pkg, 9016);
    assert!(
        text(&out).contains("unknown field `offset`"),
        "{}",
        text(&out)
    );
}

/// The pack spec refuses the same typo (9070), so a vendor sees it before signing.
#[test]
fn unknown_pack_spec_field_is_refused() {
    let fx = fresh_ab();
    let spec = fx.spec_with("hardware_revision = [\"revZ\"]");
    let out = run(bin()
        .arg("pack")
        .arg("--spec")
        .arg(&spec)
        .arg("--key")
        .arg(&fx.key)
        .arg("--out")
        .arg(fx.dir.join("never.zip")));
    assert_eq!(exit_code(&out), 70, "{}", text(&out));
    assert!(text(&out).contains("hardware_revision"), "{}", text(&out));
    assert!(!fx.dir.join("never.zip").exists());
}

// ---- item 8: a manifest just under 16 MiB within a 32 MiB data limit -----------------------

/// A stored zip entry: its bytes, or `len` zero bytes left as a hole in a sparse file.
enum Data<'a> {
    Bytes(&'a [u8]),
    Zeros { len: u32, crc: u32 },
}

/// Writes a plain zip (stored entries, no zip64) whose zero-filled entries are holes, so a
/// gigabyte image costs no disk space.
fn write_sparse_zip(path: &Path, entries: &[(&str, Data)]) {
    let mut f = fs::File::create(path).unwrap();
    let mut central = Vec::new();
    let mut pos = 0u64;
    for (name, data) in entries {
        let (len, crc) = match data {
            Data::Bytes(b) => (b.len() as u32, crc32fast::hash(b)),
            Data::Zeros { len, crc } => (*len, *crc),
        };
        let mut fixed = Vec::new();
        fixed.extend_from_slice(&20u16.to_le_bytes()); // version needed
        fixed.extend_from_slice(&0u16.to_le_bytes()); // flags
        fixed.extend_from_slice(&0u16.to_le_bytes()); // method: stored
        fixed.extend_from_slice(&0u16.to_le_bytes()); // time
        fixed.extend_from_slice(&0x21u16.to_le_bytes()); // date 1980-01-01
        fixed.extend_from_slice(&crc.to_le_bytes());
        fixed.extend_from_slice(&len.to_le_bytes());
        fixed.extend_from_slice(&len.to_le_bytes());
        fixed.extend_from_slice(&(name.len() as u16).to_le_bytes());
        fixed.extend_from_slice(&0u16.to_le_bytes()); // extra length
        let mut local = 0x0403_4b50u32.to_le_bytes().to_vec();
        local.extend_from_slice(&fixed);
        local.extend_from_slice(name.as_bytes());
        f.seek(SeekFrom::Start(pos)).unwrap();
        f.write_all(&local).unwrap();
        if let Data::Bytes(b) = data {
            f.write_all(b).unwrap();
        }
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // made by
        central.extend_from_slice(&fixed);
        central.extend_from_slice(&[0u8; 10]); // comment len, disk, attributes
        central.extend_from_slice(&(pos as u32).to_le_bytes());
        central.extend_from_slice(name.as_bytes());
        pos += local.len() as u64 + u64::from(len);
    }
    let mut end = 0x0605_4b50u32.to_le_bytes().to_vec();
    end.extend_from_slice(&[0u8; 4]);
    end.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    end.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    end.extend_from_slice(&(central.len() as u32).to_le_bytes());
    end.extend_from_slice(&(pos as u32).to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    f.seek(SeekFrom::Start(pos)).unwrap();
    f.write_all(&central).unwrap();
    f.write_all(&end).unwrap();
}

/// Issue 9 item 8: a signed manifest of just under 16 MiB (compact JSON, ~250,000 chunk hashes
/// of one ~1 GB image) used to peak above 50 MB and abort (exit 134) under a 32 MiB data limit.
/// `inspect` (text and JSON) and `verify` now answer with a code under that limit; `verify`
/// reads and checks the whole image.
#[test]
fn manifest_just_under_16_mib_fits_in_32_mib() {
    const CHUNK: u64 = 4096;
    let fx = fresh_ab();
    let mut m = good_manifest(&fx.good_package());
    m["images"] = Value::from("@IMAGES@");
    let head = serde_json::to_vec(&m).unwrap().len();
    // Each hash costs 67 bytes of compact JSON ("64 hex",); fill up to just under 16 MiB.
    let n = ((16usize << 20) - head - 300) / 67;
    let size = n as u64 * CHUNK;
    let zero_chunk = hex::encode(Sha256::digest([0u8; CHUNK as usize]));
    let (mut whole, mut crc) = (Sha256::new(), crc32fast::Hasher::new());
    let block = vec![0u8; 1 << 20];
    for _ in 0..size / block.len() as u64 {
        whole.update(&block);
        crc.update(&block);
    }
    let rest = &block[..(size % block.len() as u64) as usize];
    whole.update(rest);
    crc.update(rest);
    let mut json = String::new();
    json.push_str(&format!(
        "[{{\"partition\":\"boot\",\"entry\":\"boot.img\",\"size\":{size},\"sha256\":\"{}\",\
         \"chunk_size\":{CHUNK},\"chunks\":[",
        hex::encode(whole.finalize())
    ));
    for i in 0..n {
        if i > 0 {
            json.push(',');
        }
        json.push('"');
        json.push_str(&zero_chunk);
        json.push('"');
    }
    json.push_str("]}]");
    let json = serde_json::to_string(&m)
        .unwrap()
        .replacen("\"@IMAGES@\"", &json, 1);
    assert!(n >= 240_000, "{n} chunk hashes");
    assert!(json.len() <= 16 << 20 && json.len() > (16 << 20) - 1000);
    let sig = PrivateKey::load(&fx.key)
        .unwrap()
        .sign(json.as_bytes())
        .unwrap();
    let pkg = fx.dir.join("huge-manifest.zip");
    write_sparse_zip(
        &pkg,
        &[
            (MANIFEST, Data::Bytes(json.as_bytes())),
            (SIG, Data::Bytes(&sig)),
            (
                "boot.img",
                Data::Zeros {
                    len: u32::try_from(size).unwrap(),
                    crc: crc.finalize(),
                },
            ),
        ],
    );
    drop(json);
    // Slot b's boot partition (the target) is big enough: a sparse 1 GiB file.
    fs::OpenOptions::new()
        .write(true)
        .open(fx.part("boot_b.img"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();

    let out = run(bounded(
        bin().arg("inspect").arg(&pkg).arg("--key").arg(&fx.public),
    ));
    assert_eq!(exit_code(&out), 0, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("{n} chunks of")),
        "{}",
        text(&out)
    );

    let out = run(bounded(
        bin()
            .arg("inspect")
            .arg(&pkg)
            .arg("--key")
            .arg(&fx.public)
            .arg("--json"),
    ));
    assert_eq!(exit_code(&out), 0, "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signature"], "verified");
    assert_eq!(
        v["manifest"]["images"][0]["chunks"]
            .as_array()
            .unwrap()
            .len(),
        n
    );

    let out = run(bounded(
        bin()
            .arg("verify")
            .arg(&pkg)
            .arg("--device")
            .arg(&fx.device)
            .arg("--json"),
    ));
    assert_eq!(last_json(&out)["code"], 0, "{}", text(&out));
    assert_eq!(exit_code(&out), 0, "{}", text(&out));
}
