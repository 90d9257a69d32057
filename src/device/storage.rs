//! Finding packages in storage folders (the profile's `storage` list, and mount points of
//! discovered cards). The walk is bounded in depth and entries, never follows symlinks, and never
//! leaves the folder it was given.

use std::path::{Path, PathBuf};

/// How deep below a storage root packages are looked for (root = depth 0).
pub const MAX_DEPTH: usize = 3;
/// Directory entries examined per root before giving up, so a card with millions of files
/// cannot stall the scan.
pub const MAX_ENTRIES: usize = 20_000;

/// A candidate package file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub size: u64,
    /// The storage root it was found under.
    pub root: PathBuf,
}

/// Looks for files named one of `names` under each root. Missing or unreadable roots are skipped
/// (a card that is not inserted is not an error); results are sorted by path.
pub fn scan_folders(roots: &[PathBuf], names: &[String]) -> Vec<Found> {
    let mut found = Vec::new();
    for root in roots {
        scan_root(root, names, &mut found);
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found.dedup_by(|a, b| a.path == b.path);
    found
}

fn scan_root(root: &Path, names: &[String], found: &mut Vec<Found>) {
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .max_depth(MAX_DEPTH)
        .same_file_system(true)
        .into_iter()
        .take(MAX_ENTRIES);
    for entry in walker.flatten() {
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if !names.iter().any(|n| n == name.as_ref()) {
            continue;
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        found.push(Found {
            path: entry.path().to_path_buf(),
            size,
            root: root.to_path_buf(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn finds_named_packages_bounded_and_without_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::write(r.join("update.zip"), b"x").unwrap();
        fs::create_dir_all(r.join("a/b")).unwrap();
        fs::write(r.join("a/b/update.zip"), b"xy").unwrap();
        fs::write(r.join("a/other.zip"), b"x").unwrap();
        fs::create_dir_all(r.join("1/2/3/4")).unwrap();
        fs::write(r.join("1/2/3/4/update.zip"), b"too deep").unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("update.zip"), b"outside").unwrap();
        std::os::unix::fs::symlink(outside.path(), r.join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("update.zip"), r.join("a/update.zip"))
            .unwrap();
        let names = vec!["update.zip".to_string()];
        let found = scan_folders(&[r.to_path_buf(), r.join("missing")], &names);
        let paths: Vec<_> = found.iter().map(|f| f.path.clone()).collect();
        assert_eq!(paths, vec![r.join("a/b/update.zip"), r.join("update.zip")]);
        assert_eq!(found[0].size, 2);
    }
}
