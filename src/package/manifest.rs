//! The signed manifest (`META-INF/update/manifest.json`). See docs/FORMAT.md.
//!
//! Nothing in a manifest is trusted before its signature verifies; [`Manifest::parse`] is only
//! called on verified bytes (and [`signing_key_hint`] only to choose an error message).

use serde::{Deserialize, Serialize};

use crate::Error;

pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST_ENTRY: &str = "META-INF/update/manifest.json";
pub const SIGNATURE_ENTRY: &str = "META-INF/update/manifest.sig";
/// A manifest carries one 64-character hash per chunk: 16 MiB holds ~250k chunks (a 250 GiB
/// image at 1 MiB chunks). Anything larger is refused before it is read.
pub const MAX_MANIFEST_LEN: u64 = 16 << 20;
pub const MIN_CHUNK_SIZE: u64 = 4096;
/// Upper bound keeps the install's buffers (a few chunks) well inside 32 MiB.
pub const MAX_CHUNK_SIZE: u64 = 4 << 20;
pub const DEFAULT_CHUNK_SIZE: u64 = 1 << 20;
/// Longest `version`, in characters (Unicode scalar values).
pub const MAX_VERSION_CHARS: usize = 128;

/// One image of the manifest. Hashes are held as bytes (32 each, not 64-character strings) and
/// decoded straight from the JSON text, so a manifest near [`MAX_MANIFEST_LEN`] with ~250k chunk
/// hashes parses within a few MiB beyond its own bytes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub partition: String,
    pub entry: String,
    pub size: u64,
    #[serde(with = "hex_hash")]
    pub sha256: [u8; 32],
    pub chunk_size: u64,
    #[serde(with = "hex_hash_list")]
    pub chunks: Vec<[u8; 32]>,
    /// How the entry's bytes become the partition's: absent = raw, `"android-sparse"` = an
    /// Android sparse image expanded while writing (`size`, `sha256` and `chunks` are those of
    /// the sparse bytes in the package). Signed like every other field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Sparse images only: the size of the expanded image, checked against the partition
    /// before any write and against the sparse header while writing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expanded_size: Option<u64>,
}

/// The signed manifest. Format version 1 has exactly these fields: an unknown one (a typo such
/// as `hardware_revision`) is refused, never silently ignored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    pub products: Vec<String>,
    pub version: String,
    /// Unix seconds (UTC).
    pub build_time: u64,
    pub rollback_index: u64,
    #[serde(default)]
    pub hardware_revisions: Vec<String>,
    #[serde(default)]
    pub basebands: Vec<String>,
    #[serde(default)]
    pub wipe_data: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_battery_percent: Option<u8>,
    /// SHA-256 fingerprint of the signer's SubjectPublicKeyInfo. Only a hint for error
    /// messages ("signed by an untrusted key"); trust comes from the signature alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<String>,
    pub images: Vec<Image>,
}

impl Image {
    /// Whether this is an Android sparse image (expanded while writing).
    pub fn is_sparse(&self) -> bool {
        self.format.as_deref() == Some(crate::package::sparse::FORMAT_ANDROID_SPARSE)
    }

    /// Bytes this image occupies on its partition: the expanded size of a sparse image, else
    /// the entry's size.
    pub fn written_size(&self) -> u64 {
        match self.expanded_size {
            Some(e) if self.is_sparse() => e,
            _ => self.size,
        }
    }

    pub fn chunk_len(&self, index: usize) -> u64 {
        let start = index as u64 * self.chunk_size;
        self.chunk_size.min(self.size.saturating_sub(start))
    }
}

/// A SHA-256 as 64 hex digits in JSON, 32 bytes in memory.
mod hex_hash {
    use serde::de::{self, Deserializer, Unexpected, Visitor};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(hash: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(hash))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        d.deserialize_str(HashVisitor)
    }

    /// Decodes the string serde_json hands over (borrowed from the input or its scratch buffer):
    /// no allocation per hash.
    pub struct HashVisitor;

    impl Visitor<'_> for HashVisitor {
        type Value = [u8; 32];
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a SHA-256 as 64 hex digits")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<[u8; 32], E> {
            super::parse_sha256(v).ok_or_else(|| {
                // Only the start of a bad value: it may be long.
                let shown: String = v.chars().take(80).collect();
                E::invalid_value(Unexpected::Str(&shown), &self)
            })
        }
    }

    /// The same hash as a sequence element.
    pub struct Hash(pub [u8; 32]);

    impl<'de> de::Deserialize<'de> for Hash {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
            d.deserialize_str(HashVisitor).map(Hash)
        }
    }
}

/// A list of SHA-256 hashes (`chunks`), each 64 hex digits in JSON, 32 bytes in memory.
mod hex_hash_list {
    use serde::de::{self, Deserializer, SeqAccess, Visitor};
    use serde::ser::Serializer;

    pub fn serialize<S: Serializer>(hashes: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(hashes.iter().map(hex::encode))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        d.deserialize_seq(ListVisitor)
    }

    struct ListVisitor;

    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<[u8; 32]>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of SHA-256 hashes")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<[u8; 32]>, A::Error> {
            let mut out = Vec::new();
            loop {
                match seq.next_element::<super::hex_hash::Hash>() {
                    Ok(Some(h)) => out.push(h.0),
                    Ok(None) => break,
                    Err(e) => {
                        return Err(de::Error::custom(format_args!(
                            "chunk {} hash: {e}",
                            out.len()
                        )))
                    }
                }
            }
            // The list is complete: give back the growth slack (up to half of it).
            out.shrink_to_fit();
            Ok(out)
        }
    }
}

fn bad(reason: impl Into<String>) -> Error {
    Error::ManifestInvalid {
        reason: reason.into(),
    }
}

pub fn valid_partition_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && !name.starts_with('.')
}

/// Decodes 64 lowercase or uppercase hex digits.
pub fn parse_sha256(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Best-effort read of `signing_key` from unverified bytes, for the error message only.
pub fn signing_key_hint(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Hint {
        signing_key: Option<String>,
    }
    serde_json::from_slice::<Hint>(bytes)
        .ok()?
        .signing_key
        .filter(|k| k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `*` matches any run of characters; everything else matches itself.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking to the last star: O(len(p) * len(t)) worst case.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// True when `value` matches any pattern, or the list is empty (any value).
pub fn matches_any(patterns: &[String], value: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| wildcard_match(p, value))
}

impl Manifest {
    /// Parses verified manifest bytes and checks every rule that does not need the device.
    /// The typed document is built directly from the bytes (no intermediate JSON tree).
    pub fn parse(bytes: &[u8]) -> Result<Manifest, Error> {
        std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        // The version first: a newer format may have fields this one does not know, and that
        // is 9017 (update the recovery), not 9016. This pass skips everything else unbuilt.
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        if let Ok(Version { format_version }) = serde_json::from_slice::<Version>(bytes) {
            if format_version != FORMAT_VERSION {
                return Err(Error::ManifestVersion {
                    found: format_version,
                    supported: FORMAT_VERSION,
                });
            }
        }
        // serde_json limits nesting to 128 levels, so deep nesting fails instead of overflowing.
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        m.validate()?;
        Ok(m)
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    pub fn validate(&self) -> Result<(), Error> {
        if self.format_version != FORMAT_VERSION {
            return Err(Error::ManifestVersion {
                found: self.format_version,
                supported: FORMAT_VERSION,
            });
        }
        if self.products.is_empty() || self.products.iter().any(|p| p.trim().is_empty()) {
            return Err(bad("products must list at least one product"));
        }
        // Characters, not bytes, as docs/FORMAT.md says: a version in Cyrillic or CJK gets the
        // same 128 as one in ASCII.
        if self.version.trim().is_empty() || self.version.chars().count() > MAX_VERSION_CHARS {
            return Err(bad(format!(
                "version must be 1..={MAX_VERSION_CHARS} characters"
            )));
        }
        if self.min_battery_percent.is_some_and(|p| p > 100) {
            return Err(bad("min_battery_percent above 100"));
        }
        if self.images.is_empty() {
            return Err(bad("no images"));
        }
        let mut partitions = std::collections::BTreeSet::new();
        let mut entries = std::collections::BTreeSet::new();
        for img in &self.images {
            if !valid_partition_name(&img.partition) {
                return Err(bad(format!("bad partition name {:?}", img.partition)));
            }
            if !partitions.insert(img.partition.as_str()) {
                return Err(bad(format!("partition {} listed twice", img.partition)));
            }
            if img.entry.is_empty()
                || img.entry.starts_with("META-INF/")
                || img.entry.starts_with('/')
                || img
                    .entry
                    .split('/')
                    .any(|c| c == ".." || c == "." || c.is_empty())
                || img.entry.contains('\\')
            {
                return Err(bad(format!("bad entry name {:?}", img.entry)));
            }
            if !entries.insert(img.entry.as_str()) {
                return Err(bad(format!("entry {} listed twice", img.entry)));
            }
            if img.size == 0 {
                return Err(bad(format!("{}: empty image", img.partition)));
            }
            if !img.chunk_size.is_power_of_two()
                || !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&img.chunk_size)
            {
                return Err(bad(format!(
                    "{}: chunk_size {} is not a power of two in {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE}",
                    img.partition, img.chunk_size
                )));
            }
            let expected_chunks = img.size.div_ceil(img.chunk_size);
            if img.chunks.len() as u64 != expected_chunks {
                return Err(bad(format!(
                    "{}: {} chunk hashes for {} chunks",
                    img.partition,
                    img.chunks.len(),
                    expected_chunks
                )));
            }
            match (img.format.as_deref(), img.expanded_size) {
                (None, None) => {}
                (Some(crate::package::sparse::FORMAT_ANDROID_SPARSE), Some(_)) => {}
                (Some(crate::package::sparse::FORMAT_ANDROID_SPARSE), None) => {
                    return Err(bad(format!(
                        "{}: android-sparse image without expanded_size",
                        img.partition
                    )))
                }
                (None, Some(_)) => {
                    return Err(bad(format!(
                        "{}: expanded_size without a format",
                        img.partition
                    )))
                }
                (Some(other), _) => {
                    return Err(bad(format!(
                        "{}: unknown image format {other:?}",
                        img.partition
                    )))
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format_version: 1,
            products: vec!["demo-phone".into()],
            version: "1.1.0".into(),
            build_time: 0,
            rollback_index: 3,
            hardware_revisions: vec![],
            basebands: vec![],
            wipe_data: false,
            min_battery_percent: None,
            signing_key: None,
            images: vec![Image {
                partition: "boot".into(),
                entry: "boot.img".into(),
                size: 5000,
                sha256: [0xab; 32],
                chunk_size: 4096,
                chunks: vec![[0xcd; 32], [0xef; 32]],
                format: None,
                expanded_size: None,
            }],
        }
    }

    #[test]
    fn round_trip() {
        let m = sample();
        let json = m.to_json();
        assert!(String::from_utf8_lossy(&json).contains(&"cd".repeat(32)));
        let back = Manifest::parse(&json).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.images[0].chunks.len(), 2);
        assert_eq!(back.images[0].chunk_len(0), 4096);
        assert_eq!(back.images[0].chunk_len(1), 904);
        // Upper-case hex reads the same.
        let upper = String::from_utf8(json).unwrap().replace("cdcd", "CDCD");
        assert_eq!(Manifest::parse(upper.as_bytes()).unwrap(), m);
    }

    #[test]
    fn rejects_broken_manifests() {
        type Edit = fn(&mut Manifest);
        let cases: Vec<(Edit, &str)> = vec![
            (|m| m.format_version = 2, "format version 2"),
            (|m| m.products.clear(), "products"),
            (|m| m.images.clear(), "no images"),
            (
                |m| m.images[0].chunks.pop().map(drop).unwrap_or(()),
                "chunk hashes",
            ),
            (|m| m.images[0].chunk_size = 5000, "power of two"),
            (|m| m.images[0].chunk_size = 1 << 30, "power of two"),
            (|m| m.images[0].entry = "../boot.img".into(), "bad entry"),
            (
                |m| m.images[0].entry = "META-INF/update/x".into(),
                "bad entry",
            ),
            (|m| m.images[0].partition = "a/b".into(), "bad partition"),
            (|m| m.images.push(m.images[0].clone()), "listed twice"),
            (|m| m.images[0].size = 0, "empty image"),
            (|m| m.min_battery_percent = Some(101), "above 100"),
            (|m| m.version = "é".repeat(129), "version"),
        ];
        for (edit, want) in cases {
            let mut m = sample();
            edit(&mut m);
            let e = Manifest::parse(&m.to_json()).unwrap_err();
            assert!(e.to_string().contains(want), "{e} should mention {want}");
        }
    }

    /// Hashes are decoded while the JSON is read: a bad one is named by its place.
    #[test]
    fn rejects_bad_hashes_in_the_text() {
        let json = String::from_utf8(sample().to_json()).unwrap();
        let cases = [
            (json.replace(&"ab".repeat(32), "zz"), "64 hex digits"),
            (
                json.replace(&"ef".repeat(32), &"x".repeat(64)),
                "chunk 1 hash",
            ),
            (
                json.replace(&"ef".repeat(32), &"ef".repeat(31)),
                "chunk 1 hash",
            ),
            (
                json.replace(&format!("\"{}\"", "cd".repeat(32)), "7"),
                "chunk 0 hash",
            ),
        ];
        for (text, want) in cases {
            let e = Manifest::parse(text.as_bytes()).unwrap_err();
            assert!(matches!(e, Error::ManifestInvalid { .. }), "{e}");
            assert!(e.to_string().contains(want), "{e} should mention {want}");
        }
    }

    /// Item 11 of issue 9: the 128 limit counts characters (docs/FORMAT.md), not bytes.
    #[test]
    fn version_length_counts_characters() {
        for (version, ok) in [
            ("é".repeat(128), true),  // 256 bytes
            ("界".repeat(128), true), // 384 bytes
            ("é".repeat(129), false),
            ("a".repeat(128), true),
            ("a".repeat(129), false),
        ] {
            let mut m = sample();
            m.version = version.clone();
            assert_eq!(Manifest::parse(&m.to_json()).is_ok(), ok, "{version}");
        }
    }

    /// Item 14 of issue 9: an unknown field, at the top or in an image, is refused and named;
    /// a newer format version still gets its own error.
    #[test]
    fn unknown_fields_are_refused_in_format_1() {
        let json = String::from_utf8(sample().to_json()).unwrap();
        let top = json.replacen(
            "\"products\"",
            "\"hardware_revision\": [\"revZ\"],\n  \"products\"",
            1,
        );
        let e = Manifest::parse(top.as_bytes()).unwrap_err();
        assert!(matches!(e, Error::ManifestInvalid { .. }), "{e}");
        assert!(
            e.to_string().contains("unknown field `hardware_revision`"),
            "{e}"
        );
        let inner = json.replacen("\"partition\"", "\"offset\": 4096,\n      \"partition\"", 1);
        let e = Manifest::parse(inner.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("unknown field `offset`"), "{e}");
        let newer = top.replacen("\"format_version\": 1", "\"format_version\": 2", 1);
        assert!(matches!(
            Manifest::parse(newer.as_bytes()),
            Err(Error::ManifestVersion { found: 2, .. })
        ));
    }

    #[test]
    fn garbage_and_deep_nesting_fail_cleanly() {
        assert!(Manifest::parse(b"\xff\xfe").is_err());
        assert!(Manifest::parse(b"{").is_err());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(Manifest::parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("MPSS.DEMO.1.*", "MPSS.DEMO.1.0.c3"));
        assert!(!wildcard_match("MPSS.DEMO.1.*", "MPSS.DEMO.2.0"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("rev*B", "revAB"));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
        assert!(!wildcard_match("revA", "revA2"));
        assert!(matches_any(&[], "anything"));
        assert!(matches_any(&["x".into(), "re*".into()], "revB"));
    }

    #[test]
    fn hint_reads_only_a_well_formed_fingerprint() {
        let fp = "0f".repeat(32);
        let json = format!("{{\"signing_key\": \"{fp}\", \"junk\": 1}}");
        assert_eq!(signing_key_hint(json.as_bytes()), Some(fp));
        assert_eq!(signing_key_hint(b"{\"signing_key\": \"../x\"}"), None);
        assert_eq!(signing_key_hint(b"not json"), None);
    }
}
