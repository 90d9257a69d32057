//! Downloads into the cache directory, resumable across a kill or a reboot.
//!
//! The cache holds at most one package (on-disk layout, docs/FLEET-AGENT.md):
//! - `package.part`: the bytes received so far (appended, fsync'd every few MiB, so a reboot
//!   loses at most the unsynced tail, which the final hash check would catch anyway);
//! - `package.json`: which artifact the part belongs to (URL path, size, hashes), written before
//!   the first byte, so a resumed download never appends one artifact's bytes to another's;
//! - `package.zip`: the finished file, renamed from `package.part` once its size and the
//!   server's hash (sha256 when given, otherwise sha1) match.
//!
//! A restart sends `Range: bytes=N-`; a server answering 200 instead of 206 starts over.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::ddi::Hashes;
use super::error::FleetError;
use super::http::{Client, Url};

pub const PART: &str = "package.part";
pub const META: &str = "package.json";
pub const DONE: &str = "package.zip";
/// Bytes between fsyncs of the part file.
const SYNC_EVERY: u64 = 4 << 20;

/// The artifact a cache belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Wanted {
    /// The download URL's path (the host may differ between a proxy and the server).
    pub path: String,
    pub size: u64,
    pub hashes: Hashes,
}

fn cache_err(path: &Path) -> impl Fn(io::Error) -> FleetError + '_ {
    move |source| FleetError::Cache {
        path: path.to_path_buf(),
        source,
    }
}

/// Removes everything of a cached package (any artifact).
pub fn clear(cache_dir: &Path) -> Result<(), FleetError> {
    for name in [PART, META, DONE] {
        let p = cache_dir.join(name);
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(cache_err(&p)(e)),
        }
    }
    Ok(())
}

fn read_meta(cache_dir: &Path) -> Option<Wanted> {
    let text = crate::util::read_bounded(&cache_dir.join(META), 64 << 10).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The finished package for `want`, when it is already in the cache.
pub fn cached(cache_dir: &Path, want: &Wanted) -> Option<PathBuf> {
    let done = cache_dir.join(DONE);
    (read_meta(cache_dir).as_ref() == Some(want) && done.is_file()).then_some(done)
}

/// Bytes already downloaded for `want` (0 when the cache holds another artifact or nothing).
pub fn have(cache_dir: &Path, want: &Wanted) -> u64 {
    if read_meta(cache_dir).as_ref() != Some(want) {
        return 0;
    }
    fs::metadata(cache_dir.join(PART)).map_or(0, |m| m.len())
}

/// Downloads `url` as `want` into `cache_dir`, resuming a part left by an earlier run.
/// `free` answers the free bytes of the cache's filesystem; `progress(done, total)` is called
/// as bytes arrive. Returns the finished file.
pub fn fetch(
    client: &Client,
    url: &Url,
    want: &Wanted,
    cache_dir: &Path,
    free: &dyn Fn(&Path) -> io::Result<u64>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PathBuf, FleetError> {
    fs::create_dir_all(cache_dir).map_err(cache_err(cache_dir))?;
    if let Some(done) = cached(cache_dir, want) {
        return Ok(done);
    }
    let mut start = have(cache_dir, want);
    if start == 0 || start > want.size {
        // Another artifact's leftovers, or nothing: the cache keeps only this one.
        clear(cache_dir)?;
        start = 0;
        let meta = serde_json::to_vec(want).map_err(|e| FleetError::Response {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        crate::util::atomic_write(&cache_dir.join(META), &meta)
            .map_err(cache_err(&cache_dir.join(META)))?;
    }
    let needed = want.size - start;
    let available = free(cache_dir).map_err(cache_err(cache_dir))?;
    if available < needed {
        return Err(FleetError::Engine(crate::Error::InsufficientStorage {
            path: cache_dir.to_path_buf(),
            available,
            required: needed,
        }));
    }
    let part = cache_dir.join(PART);
    if start < want.size {
        start = receive(client, url, want, &part, start, progress)?;
    }
    if start != want.size {
        return Err(FleetError::Download {
            url: url.to_string(),
            reason: format!("got {start} bytes, the server announced {}", want.size),
        });
    }
    progress(want.size, want.size);
    check_hash(&part, &want.hashes).inspect_err(|_| {
        let _ = clear(cache_dir);
    })?;
    let done = cache_dir.join(DONE);
    fs::rename(&part, &done).map_err(cache_err(&done))?;
    Ok(done)
}

/// One ranged GET appended to the part file; returns the part's new length.
fn receive(
    client: &Client,
    url: &Url,
    want: &Wanted,
    part: &Path,
    start: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, FleetError> {
    let extra: Vec<(&str, String)> = if start > 0 {
        vec![("Range", format!("bytes={start}-"))]
    } else {
        Vec::new()
    };
    // Artifact links may redirect (a CDN, a storage bucket): follow a few, same Range.
    let mut url = url.clone();
    let mut hops = 0;
    let (head, mut body) = loop {
        let (head, body) = client.start("GET", &url, &extra, None)?;
        let location = head.header("location").map(str::to_string);
        match (head.status, location) {
            (301 | 302 | 303 | 307 | 308, Some(loc)) if hops < 5 => {
                hops += 1;
                url = Url::parse(&loc).map_err(|reason| FleetError::Response {
                    url: loc.clone(),
                    reason,
                })?;
            }
            _ => break (head, body),
        }
    };
    let url = &url;
    let mut start = start;
    match head.status {
        206 if start > 0 => {}
        200 => start = 0,
        // The part is longer than what the server has: start over at the next poll.
        416 => {
            let _ = fs::remove_file(part);
            return Err(FleetError::Download {
                url: url.to_string(),
                reason: "the server refused the resume range (416); starting over".into(),
            });
        }
        s => {
            return Err(FleetError::Status {
                method: "GET",
                url: url.to_string(),
                status: s,
                retry_after: super::backoff::retry_after(&head, crate::util::unix_now()),
            })
        }
    }
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(start == 0)
        .append(start > 0)
        .open(part)
        .map_err(cache_err(part))?;
    let mut buf = vec![0u8; 64 << 10];
    let mut done = start;
    let mut unsynced = 0u64;
    let dl_err = |e: io::Error| FleetError::Download {
        url: url.to_string(),
        reason: e.to_string(),
    };
    loop {
        let n = body.read(&mut buf).map_err(dl_err)?;
        if n == 0 {
            break;
        }
        if done + n as u64 > want.size {
            return Err(FleetError::Download {
                url: url.to_string(),
                reason: format!(
                    "the server sends more than the announced {} bytes",
                    want.size
                ),
            });
        }
        file.write_all(&buf[..n]).map_err(cache_err(part))?;
        done += n as u64;
        unsynced += n as u64;
        if unsynced >= SYNC_EVERY {
            file.sync_data().map_err(cache_err(part))?;
            unsynced = 0;
        }
        progress(done, want.size);
    }
    file.sync_all().map_err(cache_err(part))?;
    Ok(done)
}

/// Checks the file against the server's hash: sha256 when given, otherwise sha1. A server
/// that gives neither is trusted for nothing here: our signature check still proves the package.
pub fn check_hash(path: &Path, hashes: &Hashes) -> Result<(), FleetError> {
    let (algo, expected) = match (&hashes.sha256, &hashes.sha1) {
        (Some(h), _) => ("sha256", h),
        (None, Some(h)) => ("sha1", h),
        (None, None) => return Ok(()),
    };
    let mut f = File::open(path).map_err(cache_err(path))?;
    let mut buf = vec![0u8; 256 << 10];
    let mut s256 = sha2::Sha256::new();
    let mut s1 = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    loop {
        let n = f.read(&mut buf).map_err(cache_err(path))?;
        if n == 0 {
            break;
        }
        if algo == "sha256" {
            s256.update(&buf[..n]);
        } else {
            s1.update(&buf[..n]);
        }
    }
    let calculated = if algo == "sha256" {
        hex::encode(s256.finalize())
    } else {
        hex::encode(s1.finish().as_ref())
    };
    if calculated.eq_ignore_ascii_case(expected.trim()) {
        Ok(())
    } else {
        Err(FleetError::HashMismatch {
            file: path.display().to_string(),
            algo,
            expected: expected.clone(),
            calculated,
        })
    }
}
