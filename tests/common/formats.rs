//! Helpers for the image-format tests (tests/formats.rs): Android sparse images made by the real
//! libsparse tools (img2simg, simg2img, simg2simg from android-sdk-libsparse-utils) or by hand
//! (CRC32 chunks, broken images), specs with `format` / `compression` lines, and profile edits.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{sh, Fixture};

pub const SPARSE_MAGIC: u32 = 0xED26_FF3A;
pub const RAW: u16 = 0xCAC1;
pub const FILL: u16 = 0xCAC2;
pub const DONT_CARE: u16 = 0xCAC3;
pub const CRC32: u16 = 0xCAC4;

/// A hand-made sparse image: block size, total blocks, and chunks (type, chunk_sz, body); the
/// chunk count and every `total_sz` are filled in from the chunks.
pub fn sparse(blk: u32, total_blks: u32, chunks: &[(u16, u32, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(SPARSE_MAGIC.to_le_bytes());
    v.extend(1u16.to_le_bytes()); // major
    v.extend(0u16.to_le_bytes()); // minor
    v.extend(28u16.to_le_bytes());
    v.extend(12u16.to_le_bytes());
    v.extend(blk.to_le_bytes());
    v.extend(total_blks.to_le_bytes());
    v.extend((chunks.len() as u32).to_le_bytes());
    v.extend(0u32.to_le_bytes());
    for (kind, sz, body) in chunks {
        v.extend(kind.to_le_bytes());
        v.extend(0u16.to_le_bytes());
        v.extend(sz.to_le_bytes());
        v.extend((12 + body.len() as u32).to_le_bytes());
        v.extend(body);
    }
    v
}

/// `img2simg RAW OUT` (4096-byte blocks).
pub fn img2simg(raw: &Path, out: &Path) {
    sh(Command::new("img2simg").arg(raw).arg(out));
}

/// `simg2img SPARSE OUT`: the reference expansion.
pub fn simg2img(sparse: &Path, out: &Path) -> Vec<u8> {
    sh(Command::new("simg2img").arg(sparse).arg(out));
    fs::read(out).unwrap()
}

/// `simg2simg SPARSE PREFIX MAX`: split parts PREFIX.0, PREFIX.1, ... in order.
pub fn simg2simg(sparse: &Path, prefix: &Path, max: u64) -> Vec<PathBuf> {
    sh(Command::new("simg2simg")
        .arg(sparse)
        .arg(prefix)
        .arg(max.to_string()));
    (0..)
        .map(|i| PathBuf::from(format!("{}.{i}", prefix.display())))
        .take_while(|p| p.exists())
        .collect()
}

impl Fixture {
    /// A spec with one image and extra `[[image]]` lines (e.g. `format = "android-sparse"`).
    pub fn image_spec(&self, partition: &str, file: &str, extra: &str) -> PathBuf {
        let text = format!(
            "products = [\"demo-phone\"]\nversion = \"1.1.0\"\nrollback_index = 3\n\n\
             [[image]]\npartition = \"{partition}\"\nfile = \"{file}\"\nchunk_size = 65536\n{extra}\n"
        );
        let p = self.build(&format!("{file}.toml"));
        fs::write(&p, text).unwrap();
        p
    }

    /// Adds `line` to the `[[partition]]` entry named `name` in the device profile.
    pub fn partition_setting(&self, name: &str, line: &str) {
        let toml = fs::read_to_string(&self.device).unwrap();
        let needle = format!("name = \"{name}\"\n");
        assert!(toml.contains(&needle), "no partition {name} in the profile");
        fs::write(
            &self.device,
            toml.replace(&needle, &format!("{needle}{line}\n")),
        )
        .unwrap();
    }
}
