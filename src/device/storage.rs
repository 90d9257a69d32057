//! Finding packages in storage folders (the profile's `storage` list, and mount points of
//! discovered cards). The root of each folder is looked at first, by name, so no folder listed
//! before the package (FAT lists in creation order; a camera folder holds tens of thousands of
//! files) can hide it; then the folder is searched breadth-first, bounded in depth and entries,
//! never following symlinks and never leaving the folder's filesystem.

use std::collections::VecDeque;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// How deep below a storage root packages are looked for (root = depth 0).
pub const MAX_DEPTH: usize = 3;
/// Directory entries examined per root before giving up, so a card with millions of files
/// cannot stall the scan. The root itself is checked by name before this bound applies.
pub const MAX_ENTRIES: usize = 20_000;

/// More folders to search, asked before every scan: the recovery init's finder mounts cards and
/// sticks that appeared since boot and returns the mount points of every card it mounted.
#[derive(Clone)]
pub struct Finder(pub std::sync::Arc<dyn Fn() -> Vec<PathBuf> + Send + Sync>);

impl std::fmt::Debug for Finder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Finder")
    }
}

/// A candidate package file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub size: u64,
    /// The storage root it was found under.
    pub root: PathBuf,
}

/// Looks for files named one of `names` under each root. Missing or unreadable roots are skipped
/// (a card that is not inserted is not an error). Results come root by root in the order given,
/// each root's own files first, then shallower before deeper, by path within a depth: the order
/// in which headless mode tries them.
pub fn scan_folders(roots: &[PathBuf], names: &[String]) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    for root in roots {
        let mut here = scan_root(root, names);
        here.retain(|f| !found.iter().any(|g| g.path == f.path));
        found.extend(here);
    }
    found
}

/// A regular file (not a symlink) named `name` directly in `dir`.
fn regular_file(path: &Path) -> Option<u64> {
    let m = std::fs::symlink_metadata(path).ok()?;
    m.file_type().is_file().then_some(m.len())
}

fn scan_root(root: &Path, names: &[String]) -> Vec<Found> {
    let Ok(root_meta) = std::fs::metadata(root) else {
        return Vec::new();
    };
    let mut by_depth: Vec<(usize, Found)> = Vec::new();
    let mut push = |depth: usize, path: PathBuf, size: u64| {
        if !by_depth.iter().any(|(_, f)| f.path == path) {
            by_depth.push((
                depth,
                Found {
                    path,
                    size,
                    root: root.to_path_buf(),
                },
            ));
        }
    };
    // 1. The root, by name: found whatever the folder lists before it.
    for n in names {
        let p = root.join(n);
        if let Some(size) = regular_file(&p) {
            push(0, p, size);
        }
    }
    // 2. Breadth-first below it, within the bounds.
    let mut queue = VecDeque::from([(root.to_path_buf(), 0usize)]);
    let mut seen = 0usize;
    'walk: while let Some((dir, depth)) = queue.pop_front() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in rd.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                break 'walk;
            }
            let Ok(ft) = entry.file_type() else { continue };
            let path = entry.path();
            if ft.is_dir() && depth + 1 < MAX_DEPTH {
                // Stay on the card: a mount point below it is another filesystem.
                let same_fs = entry.metadata().is_ok_and(|m| m.dev() == root_meta.dev());
                if same_fs {
                    queue.push_back((path, depth + 1));
                }
            } else if ft.is_file() {
                let name = entry.file_name();
                if names.iter().any(|n| n.as_str() == name) {
                    let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                    push(depth, path, size);
                }
            }
        }
    }
    by_depth.sort_by(|(da, a), (db, b)| da.cmp(db).then_with(|| a.path.cmp(&b.path)));
    by_depth.into_iter().map(|(_, f)| f).collect()
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
        assert_eq!(paths, vec![r.join("update.zip"), r.join("a/b/update.zip")]);
        assert_eq!(found[1].size, 2);
    }
}

#[cfg(test)]
mod big_folder_tests {
    use super::*;
    use std::fs;

    fn listing(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// A card root where a folder of more than MAX_ENTRIES files is listed before update.zip, as
    /// FAT lists a camera folder made before the package was copied. Directory order depends on
    /// the filesystem (creation order, or a name hash), so the folder is renamed and the package
    /// moved out and back until the listing really has the folder first.
    #[test]
    fn root_package_is_found_behind_a_folder_of_more_than_max_entries_files() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("card");
        let mut big = root.join("DCIM");
        fs::create_dir_all(&big).unwrap();
        for i in 0..=MAX_ENTRIES {
            fs::write(big.join(format!("IMG_{i:05}.JPG")), b"").unwrap();
        }
        fs::write(root.join("update.zip"), b"pkg").unwrap();
        for n in 0.. {
            let l = listing(&root);
            let pos = |x: &str| l.iter().position(|e| e == x).unwrap();
            let big_name = big.file_name().unwrap().to_string_lossy().into_owned();
            if pos(&big_name) < pos("update.zip") {
                break;
            }
            assert!(n < 200, "cannot get the folder listed first: {l:?}");
            let renamed = root.join(format!("DCIM{n}"));
            fs::rename(&big, &renamed).unwrap();
            big = renamed;
            fs::rename(root.join("update.zip"), d.path().join("u")).unwrap();
            fs::rename(d.path().join("u"), root.join("update.zip")).unwrap();
        }
        fs::write(big.join("update.zip"), b"in the camera folder").unwrap();
        let found = scan_folders(std::slice::from_ref(&root), &["update.zip".to_string()]);
        assert_eq!(
            found.first().map(|f| f.path.clone()),
            Some(root.join("update.zip")),
            "the root is looked at first: {found:?}"
        );
        assert_eq!(found[0].size, 3);
    }
}
