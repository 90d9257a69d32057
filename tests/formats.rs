//! Image formats through the real binary: Android sparse images (made by img2simg / simg2simg,
//! and by hand for CRC32 chunks and broken images) and zstd-compressed entries. Each malicious
//! input has its own test; every refusal is checked to leave the partitions as they were.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::Path;

use common::*;
use recovery_updater::device::SlotMode;

const SYSTEM_SIZE: usize = 2 << 20;

fn manifest(pkg: &Path) -> serde_json::Value {
    let e = read_entries(pkg);
    let m = e.iter().find(|e| e.name == MANIFEST).unwrap();
    serde_json::from_slice(&m.data).unwrap()
}

/// Packs `data` as the system image with the extra spec lines, returns the package.
fn pack_system(fx: &Fixture, file: &str, data: &[u8], extra: &str) -> std::path::PathBuf {
    fs::write(fx.build(file), data).unwrap();
    let spec = fx.image_spec("system", file, extra);
    fx.pack(&spec, &fx.key, &format!("{file}.zip"))
}

/// Applies a package that must be refused with `code`, leaving every partition unchanged.
fn refused(fx: &Fixture, pkg: &Path, code: i32) -> String {
    let before = fx.snapshot();
    let (out, _) = fx.apply(pkg);
    assert_eq!(exit_code(&out), code, "{}", text(&out));
    assert!(fx.snapshot() == before, "a partition changed");
    text(&out)
}

#[test]
fn img2simg_image_installs_and_reads_back_equal_to_simg2img() {
    let fx = Fixture::new(SlotMode::Ab);
    img2simg(&fx.build("system.img"), &fx.build("system.simg"));
    let spec = fx.image_spec("system", "system.simg", "");
    let pkg = fx.pack(&spec, &fx.key, "sparse.zip");
    // Detected from the magic at pack time, and signed.
    let m = manifest(&pkg);
    assert_eq!(m["images"][0]["format"], "android-sparse");
    let want = simg2img(&fx.build("system.simg"), &fx.build("expanded.img"));
    assert_eq!(m["images"][0]["expanded_size"], want.len() as u64);
    assert!(fs::metadata(fx.build("system.simg")).unwrap().len() < want.len() as u64);
    let (out, _) = fx.apply(&pkg);
    assert!(out.status.success(), "{}", text(&out));
    let part = fs::read(fx.part("system_b.img")).unwrap();
    assert_eq!(part.len(), SYSTEM_SIZE);
    assert!(
        part[..want.len()] == want[..],
        "slot b differs from simg2img"
    );
    assert_eq!(want, fs::read(fx.build("system.img")).unwrap());
}

#[test]
fn simg2simg_parts_installed_in_turn_give_the_whole_image() {
    let fx = Fixture::new(SlotMode::Single);
    img2simg(&fx.build("system.img"), &fx.build("system.simg"));
    let parts = simg2simg(&fx.build("system.simg"), &fx.build("part"), 400 * 1024);
    assert!(parts.len() >= 2, "simg2simg made {} part(s)", parts.len());
    for (i, p) in parts.iter().enumerate() {
        let name = p.file_name().unwrap().to_str().unwrap();
        let spec = fx.image_spec("system", name, "");
        let pkg = fx.pack(&spec, &fx.key, &format!("part{i}.zip"));
        let (out, _) = fx.apply(&pkg);
        assert!(out.status.success(), "part {i}: {}", text(&out));
    }
    // DONT_CARE left as it was (the default): the parts add up to the whole image.
    let want = fs::read(fx.build("system.img")).unwrap();
    let part = fs::read(fx.part("system.img")).unwrap();
    assert!(
        part[..want.len()] == want[..],
        "partition differs from the image"
    );
}

#[test]
fn dont_care_zero_reads_back_equal_to_simg2img_of_a_split_part() {
    let fx = Fixture::new(SlotMode::Single);
    fx.partition_setting("system", "dont_care = \"zero\"");
    img2simg(&fx.build("system.img"), &fx.build("system.simg"));
    let parts = simg2simg(&fx.build("system.simg"), &fx.build("part"), 400 * 1024);
    // The last part starts with DONT_CARE over what the earlier parts carry.
    let last = parts.last().unwrap();
    let name = last.file_name().unwrap().to_str().unwrap();
    let pkg = fx.pack(&fx.image_spec("system", name, ""), &fx.key, "last.zip");
    let (out, _) = fx.apply(&pkg);
    assert!(out.status.success(), "{}", text(&out));
    let want = simg2img(last, &fx.build("last.img"));
    let part = fs::read(fx.part("system.img")).unwrap();
    assert!(
        part[..want.len()] == want[..],
        "partition differs from simg2img"
    );
}

#[test]
fn hand_made_crc32_chunks_install() {
    let fx = Fixture::new(SlotMode::Single);
    fx.partition_setting("system", "dont_care = \"zero\"");
    let raw: Vec<u8> = (0..8192u32).map(|i| (i * 13 % 251) as u8).collect();
    let mut out = raw.clone();
    let crc1 = crc32fast::hash(&out);
    out.extend([7, 0, 7, 0].repeat(3 * 1024));
    out.extend([0u8; 4096]);
    let crc2 = crc32fast::hash(&out);
    let img = sparse(
        4096,
        6,
        &[
            (RAW, 2, raw),
            (CRC32, 0, crc1.to_le_bytes().to_vec()),
            (FILL, 3, vec![7, 0, 7, 0]),
            (DONT_CARE, 1, vec![]),
            (CRC32, 0, crc2.to_le_bytes().to_vec()),
        ],
    );
    let pkg = pack_system(&fx, "crc.simg", &img, "");
    let (o, _) = fx.apply(&pkg);
    assert!(o.status.success(), "{}", text(&o));
    let part = fs::read(fx.part("system.img")).unwrap();
    assert!(part[..out.len()] == out[..]);
}

#[test]
fn sparse_with_a_bad_crc32_chunk_is_refused() {
    let fx = Fixture::new(SlotMode::Single);
    let img = sparse(
        4096,
        1,
        &[
            (FILL, 1, vec![1, 2, 3, 4]),
            (CRC32, 0, vec![0xde, 0xad, 0xbe, 0xef]),
        ],
    );
    let pkg = pack_system(&fx, "badcrc.simg", &img, "");
    refused(&fx, &pkg, 34);
}

#[test]
fn sparse_with_a_bad_magic_is_refused() {
    let fx = Fixture::new(SlotMode::Single);
    let mut img = sparse(4096, 1, &[(FILL, 1, vec![1, 2, 3, 4])]);
    img[0] ^= 0xff;
    let extra = "format = \"android-sparse\"\nexpanded_size = 4096";
    let pkg = pack_system(&fx, "magic.simg", &img, extra);
    let t = refused(&fx, &pkg, 33);
    assert!(t.contains("magic"), "{t}");
}

#[test]
fn sparse_with_a_chunk_past_the_end_is_refused() {
    let fx = Fixture::new(SlotMode::Single);
    let img = sparse(4096, 2, &[(FILL, 3, vec![1, 2, 3, 4])]);
    let pkg = pack_system(&fx, "past.simg", &img, "");
    let t = refused(&fx, &pkg, 33);
    assert!(t.contains("runs past"), "{t}");
}

#[test]
fn sparse_whose_chunks_do_not_add_up_to_total_blocks_is_refused() {
    let fx = Fixture::new(SlotMode::Single);
    let img = sparse(4096, 8, &[(FILL, 4, vec![1, 2, 3, 4])]);
    let pkg = pack_system(&fx, "short.simg", &img, "");
    let t = refused(&fx, &pkg, 33);
    assert!(t.contains("chunks cover 4 blocks"), "{t}");
}

#[test]
fn sparse_with_a_raw_chunk_shorter_than_its_blocks_is_refused() {
    let fx = Fixture::new(SlotMode::Single);
    let img = sparse(4096, 2, &[(RAW, 2, vec![5; 4096])]);
    let pkg = pack_system(&fx, "rawshort.simg", &img, "");
    refused(&fx, &pkg, 33);
}

#[test]
fn sparse_with_a_huge_block_size_is_refused() {
    let fx = Fixture::new(SlotMode::Single);
    let img = sparse(1 << 30, 1, &[(DONT_CARE, 1, vec![])]);
    // The packer refuses this header; the signed expanded size is given to get it packed.
    let extra = "format = \"android-sparse\"\nexpanded_size = 1073741824";
    let pkg = pack_system(&fx, "huge.simg", &img, extra);
    // Larger than the partition: refused before anything is read.
    refused(&fx, &pkg, 24);
    let extra = "format = \"android-sparse\"\nexpanded_size = 4096";
    let pkg = pack_system(&fx, "huge2.simg", &img, extra);
    let t = refused(&fx, &pkg, 33);
    assert!(t.contains("block size"), "{t}");
}

#[test]
fn sparse_expanding_past_the_partition_is_refused_before_any_write() {
    let fx = Fixture::new(SlotMode::Ab);
    // 12 bytes of chunk, 4 MiB expanded: the system partition holds 2 MiB.
    let img = sparse(4096, 1024, &[(DONT_CARE, 1024, vec![])]);
    let pkg = pack_system(&fx, "big.simg", &img, "");
    let t = refused(&fx, &pkg, 24);
    assert!(t.contains("4194304"), "{t}");
}

#[test]
fn sparse_with_data_after_the_last_chunk_is_refused() {
    let fx = Fixture::new(SlotMode::Single);
    let mut img = sparse(4096, 1, &[(FILL, 1, vec![1, 2, 3, 4])]);
    img.extend([0u8; 16]);
    let pkg = pack_system(&fx, "trail.simg", &img, "");
    refused(&fx, &pkg, 33);
}

fn zstd_package(fx: &Fixture) -> std::path::PathBuf {
    let spec = fx.image_spec("system", "system.img", "compression = \"zstd\"");
    fx.pack(&spec, &fx.key, "zstd.zip")
}

#[test]
fn zstd_entry_installs_and_is_smaller_than_stored() {
    let fx = Fixture::new(SlotMode::Ab);
    let pkg = zstd_package(&fx);
    let image = fs::read(fx.build("system.img")).unwrap();
    assert!(fs::metadata(&pkg).unwrap().len() < image.len() as u64 * 3 / 4);
    let (out, _) = fx.apply(&pkg);
    assert!(out.status.success(), "{}", text(&out));
    let part = fs::read(fx.part("system_b.img")).unwrap();
    assert!(part[..image.len()] == image[..]);
}

/// The offset of the system image's zstd frame header descriptor in the package.
fn zstd_frame(pkg: &Path) -> usize {
    let off = data_offset(pkg, "system.img") as usize;
    let bytes = fs::read(pkg).unwrap();
    assert_eq!(bytes[off..off + 4], [0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
    off + 4
}

#[test]
fn zstd_frame_asking_for_a_huge_window_is_refused() {
    let fx = Fixture::new(SlotMode::Single);
    let pkg = zstd_package(&fx);
    let fhd = zstd_frame(&pkg);
    let mut bytes = fs::read(&pkg).unwrap();
    // Frame header descriptor bit 5 (single segment) clear: a window descriptor follows.
    assert_eq!(bytes[fhd] & 0x20, 0, "frame has a window descriptor");
    // Exponent 21, mantissa 0: a 2 GiB window (2^(10+21)).
    bytes[fhd + 1] = 21 << 3;
    fs::write(&pkg, bytes).unwrap();
    let t = refused(&fx, &pkg, 35);
    assert!(t.contains("window"), "{t}");
}

#[test]
fn zstd_frame_with_corrupt_data_is_refused() {
    let fx = Fixture::new(SlotMode::Single);
    let pkg = zstd_package(&fx);
    let fhd = zstd_frame(&pkg);
    let mut bytes = fs::read(&pkg).unwrap();
    // The first block header (after the 1-byte descriptor, window byte): make it reserved type 3.
    bytes[fhd + 2] |= 0b110;
    fs::write(&pkg, bytes).unwrap();
    let t = refused(&fx, &pkg, 3);
    assert!(t.contains("zstd"), "{t}");
}

#[test]
fn interrupted_sparse_install_resumes_from_the_start_and_completes() {
    use std::io::{BufRead, BufReader};
    let fx = Fixture::new(SlotMode::Single);
    img2simg(&fx.build("system.img"), &fx.build("system.simg"));
    let pkg = fx.pack(
        &fx.image_spec("system", "system.simg", ""),
        &fx.key,
        "s.zip",
    );
    let mut child = spawn_apply(&fx, &pkg);
    let out = child.stdout.take().unwrap();
    for line in BufReader::new(out).lines() {
        let ev: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if ev["event"] == "progress"
            && ev["phase"] == "write"
            && ev["image_done"].as_u64().unwrap() > 0
        {
            child.kill().unwrap();
            break;
        }
    }
    assert!(
        child.wait().unwrap().code().is_none(),
        "killed while writing"
    );
    let j: serde_json::Value =
        serde_json::from_slice(&fs::read(fx.state_file("journal.json")).unwrap()).unwrap();
    assert_eq!(j["stage"], "writing");
    let (out, result) = fx.apply(&pkg);
    assert_eq!(result["code"], 0, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("resuming an interrupted update"),
        "{stdout}"
    );
    let want = fs::read(fx.build("system.img")).unwrap();
    let part = fs::read(fx.part("system.img")).unwrap();
    assert!(
        part[..want.len()] == want[..],
        "partition differs from the image"
    );
}

#[test]
fn dont_care_discard_punches_the_range_out_of_a_file_partition() {
    let fx = Fixture::new(SlotMode::Single);
    fx.partition_setting("system", "dont_care = \"discard\"");
    // The partition holds old data everywhere, allocated on disk.
    let part_path = fx.part("system.img");
    let size = fs::metadata(&part_path).unwrap().len() as usize;
    fs::write(&part_path, vec![0xAAu8; size]).unwrap();
    let head: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 253) as u8).collect();
    let tail = vec![0x5Au8; 4096];
    let img = sparse(
        4096,
        6,
        &[
            (RAW, 2, head.clone()),
            (DONT_CARE, 3, vec![]),
            (RAW, 1, tail.clone()),
        ],
    );
    let pkg = pack_system(&fx, "discard.simg", &img, "");
    let (o, _) = fx.apply(&pkg);
    assert!(o.status.success(), "{}", text(&o));
    let part = fs::read(&part_path).unwrap();
    assert_eq!(part.len(), size, "the partition keeps its size");
    assert!(part[..8192] == head[..]);
    // The DONT_CARE range was given back: a punched hole reads as zeros ("leave" would keep
    // 0xAA there).
    assert!(part[8192..5 * 4096].iter().all(|&b| b == 0));
    assert!(part[5 * 4096..6 * 4096] == tail[..]);
    // Past the image, the old data stays.
    assert!(part[6 * 4096..].iter().all(|&b| b == 0xAA));
}
