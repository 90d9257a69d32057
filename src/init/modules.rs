//! Loading kernel modules without modprobe: resolve the profile's module names through
//! modules.dep (made by `depmod -b`), load each dependency before its user, with finit_module.
//!
//! modules.dep lines are `path/to/mod.ko: dep1.ko dep2.ko ...` with the full transitive list of
//! dependencies; names compare with `-` and `_` as the same character (as modprobe does).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::Error;

fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file
        .strip_suffix(".ko")
        .or_else(|| file.strip_suffix(".ko.xz"))
        .or_else(|| file.strip_suffix(".ko.zst"))
        .or_else(|| file.strip_suffix(".ko.gz"))
        .unwrap_or(file);
    stem.replace('-', "_")
}

/// Parsed modules.dep: module name → (relative path, dependency paths).
pub fn parse_dep(text: &str) -> BTreeMap<String, (String, Vec<String>)> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let Some((path, deps)) = line.split_once(':') else {
            continue;
        };
        let path = path.trim();
        if path.is_empty() {
            continue;
        }
        m.insert(
            module_name(path),
            (
                path.to_string(),
                deps.split_whitespace().map(str::to_string).collect(),
            ),
        );
    }
    m
}

/// The module files to load, in order, for `wanted` (each after its dependencies, none twice).
/// Names in `builtin` (modules.builtin) need nothing. Unknown names are an error.
pub fn load_order(dep: &str, builtin: &str, wanted: &[String]) -> Result<Vec<String>, String> {
    let table = parse_dep(dep);
    let builtin: HashSet<String> = builtin
        .lines()
        .map(|l| module_name(l.trim()))
        .filter(|n| !n.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    fn visit(
        name: &str,
        table: &BTreeMap<String, (String, Vec<String>)>,
        seen: &mut HashSet<String>,
        out: &mut Vec<String>,
        depth: usize,
    ) -> Result<(), String> {
        if depth > 64 {
            return Err(format!("dependency loop at {name}"));
        }
        if seen.contains(name) {
            return Ok(());
        }
        let (path, deps) = table
            .get(name)
            .ok_or_else(|| format!("module {name} is not in modules.dep"))?;
        // The dependency list is the transitive closure; visiting each first (recursively)
        // orders them regardless of how depmod listed them.
        for d in deps.iter().rev() {
            visit(&module_name(d), table, seen, out, depth + 1)?;
        }
        seen.insert(name.to_string());
        out.push(path.clone());
        Ok(())
    }
    for w in wanted {
        let n = w.replace('-', "_");
        if builtin.contains(&n) && !table.contains_key(&n) {
            continue;
        }
        visit(&n, &table, &mut seen, &mut out, 0)?;
    }
    Ok(out)
}

/// The module directory of the running kernel: /lib/modules/$(uname -r).
pub fn default_dir() -> PathBuf {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    PathBuf::from("/lib/modules").join(release)
}

/// Loads `wanted` from `dir` with finit_module. Already-loaded modules are fine.
pub fn load(dir: &Path, wanted: &[String]) -> Result<Vec<String>, Error> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let err = |reason: String| Error::RecoveryInit {
        step: "loading kernel modules".into(),
        reason,
    };
    let dep = crate::util::read_bounded(&dir.join("modules.dep"), 16 << 20)
        .map_err(|e| err(format!("{}/modules.dep: {e}", dir.display())))?;
    let builtin =
        crate::util::read_bounded(&dir.join("modules.builtin"), 16 << 20).unwrap_or_default();
    let order = load_order(
        &String::from_utf8_lossy(&dep),
        &String::from_utf8_lossy(&builtin),
        wanted,
    )
    .map_err(err)?;
    let mut loaded = Vec::new();
    for rel in order {
        let path = dir.join(&rel);
        let f = std::fs::File::open(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        match nix::kmod::finit_module(&f, c"", nix::kmod::ModuleInitFlags::empty()) {
            Ok(()) => loaded.push(module_name(&rel)),
            Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(err(format!("{}: {e}", path.display()))),
        }
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP: &str = "kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko\n\
kernel/fs/fat/fat.ko:\n\
kernel/drivers/mmc/host/sdhci-pci.ko: kernel/drivers/mmc/host/cqhci.ko kernel/drivers/mmc/host/sdhci.ko kernel/drivers/mmc/core/mmc_core.ko\n\
kernel/drivers/mmc/host/sdhci.ko: kernel/drivers/mmc/core/mmc_core.ko\n\
kernel/drivers/mmc/host/cqhci.ko: kernel/drivers/mmc/core/mmc_core.ko\n\
kernel/drivers/mmc/core/mmc_core.ko:\n\
kernel/drivers/mmc/core/mmc_block.ko: kernel/drivers/mmc/core/mmc_core.ko\n";

    #[test]
    fn dependencies_first_each_once() {
        let o = load_order(
            DEP,
            "kernel/drivers/block/virtio_blk.ko\n",
            &[
                "sdhci_pci".into(),
                "mmc_block".into(),
                "vfat".into(),
                "virtio_blk".into(),
            ],
        )
        .unwrap();
        let names: Vec<_> = o.iter().map(|p| module_name(p)).collect();
        assert_eq!(
            names,
            [
                "mmc_core",
                "sdhci",
                "cqhci",
                "sdhci_pci",
                "mmc_block",
                "fat",
                "vfat"
            ]
        );
        assert!(load_order(DEP, "", &["nope".into()])
            .unwrap_err()
            .contains("not in modules.dep"));
        assert_eq!(
            load_order(DEP, "", &["sdhci-pci".into()]).unwrap().len(),
            4,
            "dashes and underscores are the same"
        );
    }
}
