//! Malicious and broken packages, generated here from a good package made by the project's own
//! packer. One test per case; each must be refused with its specific code, leave every
//! partition, misc and the rollback index unchanged, and stay small: every updater run here has
//! its data memory capped at 32 MiB (RLIMIT_DATA), and the cases are a few MiB at most.
//!
//! Cases already in tests/install.rs are not repeated here: `..` names, duplicate names, an
//! entry not in the manifest, a missing image entry, a truncated zip, a tampered manifest
//! (signature over different bytes), an untrusted key, rollback, wrong product / hardware /
//! baseband, an image larger than its partition, a tampered chunk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;
use recovery_updater::device::SlotMode;
use recovery_updater::package::PrivateKey;

fn expect_refused(fx: &Fixture, pkg: &Path, code: u16) -> serde_json::Value {
    let before = fx.snapshot();
    let ri = fs::read(fx.state_file("rollback_index")).unwrap();
    let (out, result) = apply_bounded(fx, pkg);
    assert_eq!(result["code"], code, "{}", text(&out));
    assert_eq!(exit_code(&out), i32::from(code - 9000), "{}", text(&out));
    assert_eq!(result["result"], "failure");
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
    result
}

/// `apply --json` under [`DATA_LIMIT`]. The bombs below expand to 64 MiB; an updater that
/// materialised one would be killed by its allocator instead of answering with a code.
fn apply_bounded(fx: &Fixture, pkg: &Path) -> (std::process::Output, serde_json::Value) {
    let mut cmd = bin();
    cmd.arg("apply")
        .arg(pkg)
        .arg("--device")
        .arg(&fx.device)
        .args(["--yes", "--json"]);
    let out = run(bounded(&mut cmd));
    let last = last_json(&out);
    (out, last)
}

/// The bound is real: the same shell command that holds 64 MiB fails under it.
#[test]
fn data_limit_stops_a_64_mib_allocation() {
    let script = "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo ${#x}";
    let free = run(std::process::Command::new("sh").arg("-c").arg(script));
    assert!(
        String::from_utf8_lossy(&free.stdout).contains("67108864"),
        "{}",
        text(&free)
    );
    let limited = run(bounded(
        std::process::Command::new("sh").arg("-c").arg(script),
    ));
    assert!(
        !String::from_utf8_lossy(&limited.stdout).contains("67108864"),
        "{}",
        text(&limited)
    );
}

// ---- a raw zip writer that can lie -------------------------------------------------------

#[derive(Clone, Debug)]
struct ZEntry {
    name: String,
    /// Bytes as stored in the archive (already deflated when `method` is 8).
    raw: Vec<u8>,
    method: u16,
    crc: u32,
    /// Sizes written in the central directory.
    csize: u32,
    usize: u32,
    /// Overrides for the local header (None: same as central).
    local_usize: Option<u32>,
    local_name: Option<String>,
}

impl ZEntry {
    fn stored(name: &str, data: &[u8]) -> ZEntry {
        ZEntry {
            name: name.into(),
            raw: data.to_vec(),
            method: 0,
            crc: crc32fast::hash(data),
            csize: data.len() as u32,
            usize: data.len() as u32,
            local_usize: None,
            local_name: None,
        }
    }
    fn deflated(name: &str, data: &[u8]) -> ZEntry {
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        let raw = enc.finish().unwrap();
        ZEntry {
            name: name.into(),
            csize: raw.len() as u32,
            raw,
            method: 8,
            crc: crc32fast::hash(data),
            usize: data.len() as u32,
            local_usize: None,
            local_name: None,
        }
    }
}

fn local_header(e: &ZEntry) -> Vec<u8> {
    let name = e.local_name.as_deref().unwrap_or(&e.name);
    let mut h = Vec::new();
    h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    h.extend_from_slice(&20u16.to_le_bytes()); // version needed
    h.extend_from_slice(&0u16.to_le_bytes()); // flags
    h.extend_from_slice(&e.method.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // time
    h.extend_from_slice(&0x21u16.to_le_bytes()); // date 1980-01-01
    h.extend_from_slice(&e.crc.to_le_bytes());
    h.extend_from_slice(&e.csize.to_le_bytes());
    h.extend_from_slice(&e.local_usize.unwrap_or(e.usize).to_le_bytes());
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // extra
    h.extend_from_slice(name.as_bytes());
    h
}

fn central_header(e: &ZEntry, offset: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    h.extend_from_slice(&20u16.to_le_bytes()); // made by
    h.extend_from_slice(&20u16.to_le_bytes()); // needed
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&e.method.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&0x21u16.to_le_bytes());
    h.extend_from_slice(&e.crc.to_le_bytes());
    h.extend_from_slice(&e.csize.to_le_bytes());
    h.extend_from_slice(&e.usize.to_le_bytes());
    h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
    h.extend_from_slice(&[0u8; 4]); // extra, comment lengths
    h.extend_from_slice(&[0u8; 4]); // disk, internal attributes
    h.extend_from_slice(&[0u8; 4]); // external attributes
    h.extend_from_slice(&offset.to_le_bytes());
    h.extend_from_slice(e.name.as_bytes());
    h
}

/// Knobs for structural lies.
#[derive(Default)]
struct Lies {
    /// Added to the central directory offset in the end record.
    cd_offset_delta: i64,
    /// Central entry i points at entry j's local header: (i, j).
    point_at: Option<(usize, usize)>,
}

fn build_zip(path: &Path, entries: &[ZEntry], lies: &Lies) {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for e in entries {
        offsets.push(out.len() as u32);
        out.extend_from_slice(&local_header(e));
        out.extend_from_slice(&e.raw);
    }
    let cd_start = out.len();
    for (i, e) in entries.iter().enumerate() {
        let off = match lies.point_at {
            Some((from, to)) if from == i => offsets[to],
            _ => offsets[i],
        };
        out.extend_from_slice(&central_header(e, off));
    }
    let cd_len = out.len() - cd_start;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(cd_len as u32).to_le_bytes());
    out.extend_from_slice(&((cd_start as i64 + lies.cd_offset_delta) as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    fs::write(path, out).unwrap();
}

/// The good package's entries as raw zip entries (images stored, so offsets are simple).
fn good_entries(fx: &Fixture) -> Vec<ZEntry> {
    let pkg = fx.good_package();
    read_entries(&pkg)
        .into_iter()
        .map(|e| ZEntry::stored(&e.name, &e.data))
        .collect()
}

fn find<'a>(entries: &'a mut [ZEntry], name: &str) -> &'a mut ZEntry {
    entries.iter_mut().find(|e| e.name == name).unwrap()
}

fn out(fx: &Fixture, name: &str) -> PathBuf {
    fx.dir.join(name)
}

/// Replaces the manifest with `bytes` signed by the device's trusted key, so the case reaches
/// the parser (or the installer) rather than stopping at the signature.
fn resign(fx: &Fixture, entries: &mut Vec<ZEntry>, bytes: &[u8], deflate: bool) {
    let key = PrivateKey::load(&fx.key).unwrap();
    let sig = key.sign(bytes).unwrap();
    entries.retain(|e| e.name != MANIFEST && e.name != SIG);
    entries.insert(
        0,
        if deflate {
            ZEntry::deflated(MANIFEST, bytes)
        } else {
            ZEntry::stored(MANIFEST, bytes)
        },
    );
    entries.insert(1, ZEntry::stored(SIG, &sig));
}

fn manifest_json(entries: &[ZEntry]) -> serde_json::Value {
    let m = entries.iter().find(|e| e.name == MANIFEST).unwrap();
    serde_json::from_slice(&m.raw).unwrap()
}

// ---- the control: the raw writer makes packages the updater accepts ------------------------

#[test]
fn control_raw_rewrite_of_good_package_installs() {
    let fx = fresh_ab();
    let e = good_entries(&fx);
    let p = out(&fx, "control.zip");
    build_zip(&p, &e, &Lies::default());
    let (o, r) = apply_bounded(&fx, &p);
    assert_eq!(r["code"], 0, "{}", text(&o));
}

// ---- names --------------------------------------------------------------------------------

#[test]
fn absolute_entry_name() {
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    e.push(ZEntry::stored("/etc/init.d/rcS", b"#!/bin/sh\nowned\n"));
    let p = out(&fx, "abs.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9004);
}

#[test]
fn backslash_traversal_name() {
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    e.push(ZEntry::stored("..\\..\\evil", b"owned"));
    let p = out(&fx, "backslash.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9004);
}

// ---- manifest presence --------------------------------------------------------------------

#[test]
fn manifest_entry_missing() {
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    e.retain(|x| x.name != MANIFEST);
    let p = out(&fx, "nomanifest.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9010);
}

// ---- sizes that lie -----------------------------------------------------------------------

#[test]
fn local_header_size_disagrees_with_central_directory() {
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    let boot = find(&mut e, "boot.img");
    boot.local_usize = Some(boot.usize + 4096);
    let p = out(&fx, "localsize.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9008);
}

#[test]
fn local_header_name_disagrees_with_central_directory() {
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    find(&mut e, "boot.img").local_name = Some("evil.img".into());
    let p = out(&fx, "localname.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9008);
}

#[test]
fn central_directory_size_disagrees_with_manifest() {
    // Both zip headers agree on a size and CRC that match the data, but the signed manifest
    // says otherwise: the entry carries 4 KiB more than was signed.
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    let boot = find(&mut e, "boot.img");
    let mut data = boot.raw.clone();
    data.extend_from_slice(&[0x5a; 4096]);
    *boot = ZEntry::stored("boot.img", &data);
    let p = out(&fx, "cdsize.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9032);
}

#[test]
fn compressed_size_lies_so_the_data_runs_into_the_next_entry() {
    // The central directory and local header agree on a compressed size larger than the stored
    // data: the entry's claimed extent overlaps the next local header.
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    let boot = find(&mut e, "boot.img");
    boot.csize += 100;
    boot.usize += 100;
    let p = out(&fx, "csize.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9008);
}

// ---- zip bomb -----------------------------------------------------------------------------

#[test]
fn zip_bomb_entry_expands_past_its_declared_size() {
    // system.img's deflate stream holds the real image followed by 64 MiB of zeros (about
    // 64 KiB more compressed); every header and the signed manifest say the image size, and the
    // CRC is the image's. Every chunk verifies, so only the reader's own bound can stop it: it
    // must stop at the declared size, never allocate the expansion, and refuse the package. In
    // place, so nothing is written before the whole entry was read.
    let fx = Fixture::new(SlotMode::Single);
    let mut e = good_entries(&fx);
    let sys = find(&mut e, "system.img");
    let (declared, crc) = (sys.usize, sys.crc);
    let mut data = sys.raw.clone();
    data.resize(data.len() + (64 << 20), 0);
    let mut bomb = ZEntry::deflated("system.img", &data);
    drop(data);
    bomb.usize = declared;
    bomb.crc = crc;
    *sys = bomb;
    let p = out(&fx, "bomb.zip");
    build_zip(&p, &e, &Lies::default());
    assert!(fs::metadata(&p).unwrap().len() < 4 << 20);
    expect_refused(&fx, &p, 9006);
}

#[test]
fn zip_bomb_of_zeros_fails_its_first_chunk() {
    // The same, but the expansion is all zeros from the start: chunk 0 fails its hash.
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    let sys = find(&mut e, "system.img");
    let (declared, crc) = (sys.usize, sys.crc);
    let mut bomb = ZEntry::deflated("system.img", &vec![0u8; 64 << 20]);
    bomb.usize = declared;
    bomb.crc = crc;
    *sys = bomb;
    let p = out(&fx, "bomb0.zip");
    build_zip(&p, &e, &Lies::default());
    // A/B writes verified chunks as they come, so use the verify command: it reads everything
    // and writes nothing.
    let before = fx.snapshot();
    let o = run(bounded(
        bin()
            .arg("verify")
            .arg(&p)
            .arg("--device")
            .arg(&fx.device)
            .arg("--json"),
    ));
    assert_eq!(exit_code(&o), 30, "{}", text(&o));
    assert_eq!(fx.snapshot(), before);
}

#[test]
fn zip_bomb_in_the_manifest_entry() {
    // The manifest entry declares 1 KiB but inflates to 64 MiB.
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    let m = find(&mut e, MANIFEST);
    let declared = m.usize;
    let crc = m.crc;
    let mut bomb = ZEntry::deflated(MANIFEST, &vec![b' '; 64 << 20]);
    bomb.usize = declared;
    bomb.crc = crc;
    *m = bomb;
    let p = out(&fx, "mbomb.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9006);
}

// ---- structure ----------------------------------------------------------------------------

#[test]
fn central_directory_points_outside_the_file() {
    let fx = fresh_ab();
    let e = good_entries(&fx);
    let p = out(&fx, "cdout.zip");
    build_zip(
        &p,
        &e,
        &Lies {
            cd_offset_delta: 1 << 20,
            ..Lies::default()
        },
    );
    expect_refused(&fx, &p, 9008);
}

#[test]
fn overlapping_entries_share_one_local_header() {
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    // A second name whose central record points at boot.img's local header.
    let mut twin = find(&mut e, "boot.img").clone();
    twin.name = "twin.img".into();
    e.push(twin);
    let boot = e.iter().position(|x| x.name == "boot.img").unwrap();
    let twin = e.len() - 1;
    let p = out(&fx, "overlap.zip");
    build_zip(
        &p,
        &e,
        &Lies {
            point_at: Some((twin, boot)),
            ..Lies::default()
        },
    );
    expect_refused(&fx, &p, 9008);
}

#[test]
fn not_a_zip() {
    let fx = fresh_ab();
    let p = out(&fx, "notzip.zip");
    fs::write(&p, image_like_noise(200_000)).unwrap();
    expect_refused(&fx, &p, 9003);
}

#[test]
fn empty_file() {
    let fx = fresh_ab();
    let p = out(&fx, "empty.zip");
    fs::write(&p, b"").unwrap();
    expect_refused(&fx, &p, 9003);
}

fn image_like_noise(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

// ---- manifest content (validly signed, so the parser itself is tested) ----------------------

#[test]
fn manifest_json_garbage() {
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    resign(&fx, &mut e, b"\x00\xffthis is not { json", false);
    let p = out(&fx, "garbage.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9016);
}

#[test]
fn manifest_json_deeply_nested() {
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    let mut deep = String::from("{\"products\":");
    deep.push_str(&"[".repeat(100_000));
    deep.push_str(&"]".repeat(100_000));
    deep.push('}');
    resign(&fx, &mut e, deep.as_bytes(), true);
    let p = out(&fx, "deep.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9016);
}

#[test]
fn manifest_json_enormous() {
    // 17 MiB of JSON (deflated to a few KiB): over the 16 MiB manifest limit. The reader
    // refuses on the declared size, before reading or allocating it.
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    let mut big = manifest_json(&e);
    big["padding"] = serde_json::Value::String(" ".repeat(17 << 20));
    let bytes = serde_json::to_vec(&big).unwrap();
    resign(&fx, &mut e, &bytes, true);
    let p = out(&fx, "huge-manifest.zip");
    build_zip(&p, &e, &Lies::default());
    assert!(fs::metadata(&p).unwrap().len() < 4 << 20);
    expect_refused(&fx, &p, 9006);
}

#[test]
fn manifest_image_names_meta_inf_entry() {
    // A signed manifest that claims the signature file is an image to write to boot.
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    let mut m = manifest_json(&e);
    m["images"][0]["entry"] = serde_json::Value::String(SIG.into());
    resign(&fx, &mut e, &serde_json::to_vec(&m).unwrap(), false);
    let p = out(&fx, "meta-image.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9016);
}

#[test]
fn chunk_hashes_valid_but_in_the_wrong_order() {
    // Every chunk hash is a real hash of a real chunk of boot.img, and the signature is valid,
    // but chunks 0 and 1 are swapped: the installer must refuse at chunk 0 and, in place,
    // write nothing (the whole package is verified before the first write).
    let fx = Fixture::new(SlotMode::Single);
    let mut e = good_entries(&fx);
    let mut m = manifest_json(&e);
    let chunks = m["images"][0]["chunks"].as_array_mut().unwrap();
    assert!(chunks.len() >= 2);
    assert_ne!(chunks[0], chunks[1]);
    chunks.swap(0, 1);
    resign(&fx, &mut e, &serde_json::to_vec(&m).unwrap(), false);
    let p = out(&fx, "order.zip");
    build_zip(&p, &e, &Lies::default());
    let r = expect_refused(&fx, &p, 9030);
    assert!(r["message"].as_str().unwrap().contains("block 0"), "{r}");
}

#[test]
fn chunk_hashes_in_the_wrong_order_ab() {
    // A/B streams verified chunks straight to slot b: chunk 0 fails, so nothing reaches slot b,
    // the active slot is untouched and misc still boots slot a (slot b stays unbootable).
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    let mut m = manifest_json(&e);
    m["images"][0]["chunks"].as_array_mut().unwrap().swap(0, 1);
    resign(&fx, &mut e, &serde_json::to_vec(&m).unwrap(), false);
    let p = out(&fx, "order-ab.zip");
    build_zip(&p, &e, &Lies::default());
    let before = fx.snapshot();
    let (o, r) = apply_bounded(&fx, &p);
    assert_eq!(r["code"], 9030, "{}", text(&o));
    assert_eq!(fx.snapshot(), before, "a partition or misc changed");
}

#[test]
fn chunk_hashes_of_another_image() {
    // boot's chunk list replaced by system's first chunks (valid hashes, wrong image).
    let fx = Fixture::new(SlotMode::Single);
    let mut e = good_entries(&fx);
    let mut m = manifest_json(&e);
    let sys: Vec<serde_json::Value> = m["images"][1]["chunks"].as_array().unwrap().clone();
    let n = m["images"][0]["chunks"].as_array().unwrap().len();
    m["images"][0]["chunks"] = serde_json::Value::Array(sys[..n].to_vec());
    resign(&fx, &mut e, &serde_json::to_vec(&m).unwrap(), false);
    let p = out(&fx, "otherchunks.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9030);
}

// ---- signature file -----------------------------------------------------------------------

#[test]
fn signature_file_empty() {
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    *find(&mut e, SIG) = ZEntry::stored(SIG, b"");
    let p = out(&fx, "emptysig.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9011);
}

#[test]
fn signature_file_huge() {
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    *find(&mut e, SIG) = ZEntry::deflated(SIG, &vec![0x30; 8 << 20]);
    let p = out(&fx, "hugesig.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9011);
}

#[test]
fn signature_of_different_bytes_with_the_trusted_key() {
    // A genuine signature by the trusted key, but over another manifest (a replay of a
    // signature from a different release).
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    let key = PrivateKey::load(&fx.key).unwrap();
    let mut other = manifest_json(&e);
    other["version"] = serde_json::Value::String("9.9.9".into());
    let sig = key.sign(&serde_json::to_vec(&other).unwrap()).unwrap();
    *find(&mut e, SIG) = ZEntry::stored(SIG, &sig);
    let p = out(&fx, "replay.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9012);
}

#[test]
fn signature_that_is_random_der_garbage() {
    let fx = fresh_ab();
    let mut e = good_entries(&fx);
    let mut sig = vec![0x30, 0x44, 0x02, 0x20];
    sig.extend_from_slice(&image_like_noise(66));
    *find(&mut e, SIG) = ZEntry::stored(SIG, &sig);
    let p = out(&fx, "garbagesig.zip");
    build_zip(&p, &e, &Lies::default());
    expect_refused(&fx, &p, 9012);
}

// ---- the package file changes after verification ----------------------------------------------

/// Package holds the one descriptor it verified: replacing the file at the path after
/// verification (a swapped card, a racing attacker) changes nothing that is installed.
#[test]
fn path_replaced_after_verification_installs_the_verified_bytes() {
    use recovery_updater::device::ProfileDevice;
    use recovery_updater::install::{self, events::Collect, Options};

    let fx = Fixture::new(SlotMode::Single);
    let pkg = fx.good_package();
    let dev = ProfileDevice::load(&fx.device).unwrap();
    let mut sink = Collect::default();
    let checked = install::check(&pkg, &dev, &mut sink).unwrap();

    // Swap the file at the path for a package with different images signed by the same
    // trusted key, and also scribble over what is left of the original name.
    let evil_dir = fx.dir.join("evil");
    fs::create_dir_all(&evil_dir).unwrap();
    fs::write(
        fx.build("boot.img"),
        recovery_updater::demo::image_bytes(99, 300 * 1024 + 17, false),
    )
    .unwrap();
    let evil = fx.pack(&fx.good_spec(), &fx.key, "evil/update.zip");
    fs::rename(&evil, &pkg).unwrap();

    let installed = install::install(&checked, &dev, &mut sink, &Options::default()).unwrap();
    assert!(installed.bytes_written > 0);
    let boot_on_flash = fs::read(fx.part("boot.img")).unwrap();
    // What is on flash is the verified package's image (seed 11), not the swapped one's.
    let verified_boot = recovery_updater::demo::image_bytes(11, 300 * 1024 + 17, false);
    let swapped_boot = recovery_updater::demo::image_bytes(99, 300 * 1024 + 17, false);
    assert_eq!(&boot_on_flash[..verified_boot.len()], &verified_boot[..]);
    assert_ne!(&boot_on_flash[..swapped_boot.len()], &swapped_boot[..]);
}

/// The same descriptor, modified in place (the one thing a single descriptor cannot stop): every
/// chunk is hashed again as it is written, so the install fails with the chunk's code and, in
/// place, after the verification pass, the bad chunk is never written.
#[test]
fn file_modified_in_place_after_verification_fails_per_chunk() {
    use recovery_updater::device::ProfileDevice;
    use recovery_updater::install::{self, events::Collect, Options};
    use std::os::unix::fs::FileExt;

    let fx = fresh_ab();
    let pkg = fx.good_package();
    let dev = ProfileDevice::load(&fx.device).unwrap();
    let mut sink = Collect::default();
    let checked = install::check(&pkg, &dev, &mut sink).unwrap();
    let before = fx.snapshot();

    // Flip a byte of boot.img's stored data (chunk 1) through another descriptor.
    let off = data_offset(&pkg, "boot.img") + 65536 + 10;
    let f = fs::OpenOptions::new().write(true).open(&pkg).unwrap();
    let mut b = [0u8; 1];
    fs::File::open(&pkg)
        .unwrap()
        .read_exact_at(&mut b, off)
        .unwrap();
    f.write_all_at(&[b[0] ^ 0xff], off).unwrap();

    let err = install::install(&checked, &dev, &mut sink, &Options::default())
        .err()
        .expect("install must fail");
    use recovery_updater::HasCode;
    assert_eq!(err.code().number(), 9030, "{err}");
    let after = fx.snapshot();
    // A/B: the active slot and its copy in misc are untouched; slot b never became bootable.
    for p in ["boot_a.img", "system_a.img", "vendor_a.img"] {
        assert_eq!(after[p], before[p]);
    }
    // Only chunk 0 of boot (64 KiB) may have reached slot b.
    let boot_b = &after["boot_b.img"];
    assert_eq!(&boot_b[65536..], &before["boot_b.img"][65536..]);
    let off = recovery_updater::device::boot_control::OFFSET as usize;
    let raw: [u8; 32] = after["misc.img"][off..off + 32].try_into().unwrap();
    let (bc, _) = recovery_updater::device::BootControl::decode(&raw);
    assert_eq!(bc.active(), recovery_updater::device::Slot::A);
    assert!(!bc.slot(recovery_updater::device::Slot::B).bootable());
}
