//! U-Boot environment as slot control, in the on-flash format U-Boot, `fw_printenv`/`fw_setenv`
//! (libubootenv) and `mkenvimage` share.
//!
//! On-disk format (U-Boot `env_t`, why we lay bytes out like this):
//! - single copy: `crc32: u32 LE` then `data[size - 4]`;
//! - redundant (two copies, each `size` bytes): `crc32: u32 LE`, `flags: u8`, `data[size - 5]`.
//!
//! `data` is `key=value\0key=value\0\0` padded to the end (mkenvimage pads with 0xff, U-Boot with
//! 0x00; the CRC covers the whole data area including the padding, so both are read the same).
//! With two copies, the valid one with the newer flag counter is current; a writer writes the
//! other copy with `flag + 1` (wrapping 255 → 0), so a power cut mid-write leaves the old copy
//! intact and current. That is libubootenv's scheme; U-Boot itself accepts it.
//!
//! Where the copies live comes from an `fw_env.config` file (`device offset size` per line, the
//! file libubootenv reads), so a vendor reuses the one its system already ships.
//!
//! The slot variables follow the RAUC/U-Boot bootcount convention: `BOOT_ORDER="A B"` lists slots
//! in boot order and `BOOT_A_LEFT=3` counts the tries left; U-Boot's boot script decrements the
//! counter and skips slots at 0. Names are configurable in the profile.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

// The slot control built on this format (RAUC's BOOT_ORDER / BOOT_x_LEFT scheme) lives with the
// other slot backends; re-exported here so `uboot_env::{SlotVars, UbootSlotControl}` still work.
pub use super::slots::uboot::{slot_state, SlotVars, UbootSlotControl};

/// One copy's location, as a line of fw_env.config gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvLocation {
    pub device: PathBuf,
    pub offset: u64,
    pub size: usize,
}

/// Largest environment we accept (U-Boot's are typically 8-128 KiB).
pub const MAX_ENV_SIZE: usize = 1 << 20;

fn parse_num(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// Parses fw_env.config text: one or two `device offset size [sector_size [sectors]]` lines;
/// `#` starts a comment. Relative device paths resolve against `dir`.
pub fn parse_config(text: &str, dir: &Path) -> Result<Vec<EnvLocation>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            return Err(format!("line {}: want `device offset size`", n + 1));
        }
        // An MTD device (`/dev/mtdN`) is fine: `write` erases before writing.
        let device = PathBuf::from(f[0]);
        let offset =
            parse_num(f[1]).ok_or_else(|| format!("line {}: bad offset {}", n + 1, f[1]))?;
        let size = parse_num(f[2])
            .and_then(|s| usize::try_from(s).ok())
            .filter(|s| (16..=MAX_ENV_SIZE).contains(s))
            .ok_or_else(|| format!("line {}: bad size {}", n + 1, f[2]))?;
        let device = if device.is_absolute() {
            device
        } else {
            dir.join(device)
        };
        out.push(EnvLocation {
            device,
            offset,
            size,
        });
    }
    match out.len() {
        1 => Ok(out),
        2 if out[0].size == out[1].size => Ok(out),
        2 => Err("the two copies have different sizes".into()),
        0 => Err("no environment location".into()),
        _ => Err("more than two environment locations".into()),
    }
}

/// A decoded environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Env {
    pub vars: BTreeMap<String, String>,
    /// The flag byte of the copy read (redundant layout only).
    pub flag: u8,
}

/// Why a copy did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    Crc,
    Format(String),
}

/// Decodes one copy (`redundant` selects the layout with the flag byte).
pub fn decode(bytes: &[u8], redundant: bool) -> Result<Env, Invalid> {
    let head = if redundant { 5 } else { 4 };
    if bytes.len() <= head {
        return Err(Invalid::Format("too small".into()));
    }
    let crc = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let data = &bytes[head..];
    if crc32fast::hash(data) != crc {
        return Err(Invalid::Crc);
    }
    let mut vars = BTreeMap::new();
    // Entries are NUL-terminated and the list ends with an empty entry (a second NUL) inside the
    // data area. Without that closing NUL, or with an entry cut off by the end of the area, the
    // variables would need more room than the area has, so they could never be written back:
    // such an environment is damaged (found by the uboot_env fuzz target), and is refused when
    // read, before an install writes anything.
    let mut rest = data;
    loop {
        let Some(end) = rest.iter().position(|&b| b == 0) else {
            return Err(Invalid::Format(if rest.is_empty() {
                "no closing empty entry before the end of the area".into()
            } else {
                "last entry runs to the end of the area".into()
            }));
        };
        let item = &rest[..end];
        rest = &rest[end + 1..];
        // The empty entry closes the list: the rest is padding.
        if item.is_empty() {
            break;
        }
        let s = std::str::from_utf8(item).map_err(|_| Invalid::Format("not UTF-8".into()))?;
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| Invalid::Format(format!("entry without '=': {s:?}")))?;
        // fw_setenv cannot make a variable without a name, and we could not write one back:
        // treat it as a damaged environment (found by the uboot_env fuzz target).
        if k.is_empty() {
            return Err(Invalid::Format(format!("entry without a name: {s:?}")));
        }
        vars.insert(k.to_string(), v.to_string());
    }
    Ok(Env {
        vars,
        flag: if redundant { bytes[4] } else { 0 },
    })
}

/// Encodes `vars` into one copy of `size` bytes, padding with 0x00 as U-Boot does.
pub fn encode(
    vars: &BTreeMap<String, String>,
    size: usize,
    flag: Option<u8>,
) -> io::Result<Vec<u8>> {
    let head = if flag.is_some() { 5 } else { 4 };
    let mut data = Vec::new();
    for (k, v) in vars {
        if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("variable {k:?} cannot be stored"),
            ));
        }
        data.extend_from_slice(k.as_bytes());
        data.push(b'=');
        data.extend_from_slice(v.as_bytes());
        data.push(0);
    }
    data.push(0);
    // An area smaller than its own header holds nothing (and must not underflow).
    let room = size.saturating_sub(head);
    if size <= head || data.len() > room {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "environment needs {} bytes, the area holds {room}",
                data.len()
            ),
        ));
    }
    data.resize(room, 0);
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&crc32fast::hash(&data).to_le_bytes());
    if let Some(f) = flag {
        out.push(f);
    }
    out.extend_from_slice(&data);
    Ok(out)
}

/// True when flag `a` is newer than `b` (counter with wrap-around, as libubootenv compares).
fn newer(a: u8, b: u8) -> bool {
    match (a, b) {
        (0, 255) => true,
        (255, 0) => false,
        _ => a > b,
    }
}

/// The environment store: one or two copies on files or block devices.
#[derive(Debug, Clone)]
pub struct EnvStore {
    pub locations: Vec<EnvLocation>,
}

impl EnvStore {
    pub fn from_config(path: &Path) -> Result<EnvStore, String> {
        let text = crate::util::read_bounded(path, 64 * 1024)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let locations = parse_config(&String::from_utf8_lossy(&text), dir)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(EnvStore { locations })
    }

    fn redundant(&self) -> bool {
        self.locations.len() == 2
    }

    fn read_copy(&self, i: usize) -> io::Result<Vec<u8>> {
        let loc = &self.locations[i];
        let f = OpenOptions::new().read(true).open(&loc.device)?;
        let mut buf = vec![0u8; loc.size];
        f.read_exact_at(&mut buf, loc.offset)?;
        Ok(buf)
    }

    /// Reads the current environment and which copy it came from. `Ok(None)` when no copy is
    /// valid (a blank device: U-Boot then uses its built-in default environment).
    pub fn read(&self) -> io::Result<Option<(Env, usize)>> {
        let red = self.redundant();
        let mut best: Option<(Env, usize)> = None;
        for i in 0..self.locations.len() {
            let raw = self.read_copy(i)?;
            if let Ok(env) = decode(&raw, red) {
                best = match best {
                    Some((b, bi)) if !newer(env.flag, b.flag) => Some((b, bi)),
                    _ => Some((env, i)),
                };
            }
        }
        Ok(best)
    }

    /// Why no copy is current, for the error message when [`EnvStore::read`] finds none: each
    /// copy's location and problem, and whether any copy has a valid CRC but a damaged layout
    /// (rather than blank or erased flash, for which U-Boot uses its built-in default).
    pub fn diagnose(&self) -> (String, bool) {
        let red = self.redundant();
        let mut damaged = false;
        let lines: Vec<String> = (0..self.locations.len())
            .map(|i| {
                let loc = &self.locations[i];
                let why = match self.read_copy(i).map(|raw| decode(&raw, red)) {
                    Err(e) => format!("unreadable: {e}"),
                    Ok(Ok(_)) => "valid".into(),
                    Ok(Err(Invalid::Crc)) => "CRC mismatch (blank or erased)".into(),
                    Ok(Err(Invalid::Format(f))) => {
                        damaged = true;
                        format!("damaged: {f}")
                    }
                };
                format!("{} at {:#x}: {why}", loc.device.display(), loc.offset)
            })
            .collect();
        (lines.join("; "), damaged)
    }

    /// Writes `vars` durably: to the non-current copy with the next flag (redundant), or over
    /// the single copy. Reads back what it wrote.
    pub fn write(&self, vars: &BTreeMap<String, String>) -> io::Result<()> {
        let current = self.read()?;
        let (target, flag) = if self.redundant() {
            match &current {
                Some((env, i)) => (1 - i, Some(env.flag.wrapping_add(1))),
                None => (0, Some(1)),
            }
        } else {
            (0, None)
        };
        let loc = &self.locations[target];
        let bytes = encode(vars, loc.size, flag)?;
        // Raw flash (MTD): erase the blocks holding this copy, then write and read back. The
        // other copy (redundant layout) is in other erase blocks and keeps the old environment
        // through a power cut.
        if crate::device::target::mtd::rewrite_in_place(&loc.device, loc.offset, &bytes)? {
            return Ok(());
        }
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&loc.device)?;
        f.write_all_at(&bytes, loc.offset)?;
        f.sync_all()?;
        crate::sys::flush_block_buffers(&f)?;
        let mut back = vec![0u8; loc.size];
        f.read_exact_at(&mut back, loc.offset)?;
        if back != bytes {
            return Err(io::Error::other(format!(
                "{}: read-back differs from what was written",
                loc.device.display()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Slot, SlotControl};

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn encode_decode_round_trip_and_crc_checked() {
        let v = vars(&[("BOOT_ORDER", "A B"), ("bootcmd", "run x; echo a=b")]);
        for flag in [None, Some(7)] {
            let mut b = encode(&v, 256, flag).unwrap();
            assert_eq!(b.len(), 256);
            let env = decode(&b, flag.is_some()).unwrap();
            assert_eq!(env.vars, v);
            assert_eq!(env.flag, flag.unwrap_or(0));
            let last = b.len() - 1;
            b[last] ^= 1; // padding is covered by the CRC too
            assert_eq!(decode(&b, flag.is_some()), Err(Invalid::Crc));
        }
        assert!(encode(&vars(&[("k", &"x".repeat(300))]), 256, None).is_err());
        assert!(encode(&vars(&[("a=b", "c")]), 256, None).is_err());
    }

    #[test]
    fn encode_into_an_area_smaller_than_its_header_fails_cleanly() {
        let v = vars(&[("a", "1")]);
        for size in 0..=5 {
            assert!(encode(&v, size, None).is_err(), "size {size}");
            assert!(encode(&v, size, Some(1)).is_err(), "size {size}");
        }
        assert!(encode(&BTreeMap::new(), 5, None).is_ok());
    }

    /// Fuzz finding (uboot_env target): a redundant copy with a valid CRC whose first entry has
    /// no name decoded, but could not be encoded again, so a slot switch would have failed after
    /// the slot was written. It is now rejected as damaged when read, before anything is written.
    #[test]
    fn entry_without_a_name_is_damaged() {
        let mut data = b"=run distro_bootcmd\0".to_vec();
        data.resize(64, 0);
        let mut copy = crc32fast::hash(&data).to_le_bytes().to_vec();
        copy.push(b'd');
        copy.extend_from_slice(&data);
        assert!(matches!(decode(&copy, true), Err(Invalid::Format(_))));
        // Every copy that does decode re-encodes into its own area.
        let ok = encode(&vars(&[("bootcmd", "run distro_bootcmd")]), 69, Some(b'd')).unwrap();
        let env = decode(&ok, true).unwrap();
        assert!(encode(&env.vars, ok.len(), Some(b'd')).is_ok());
    }

    /// Fuzz finding (uboot_env target, issue 9; the input is
    /// fuzz/regressions/uboot_env/no-closing-empty-entry): a single copy whose entries fill the
    /// data area with no closing empty entry decoded, but needed one byte more than the area to
    /// be written back ("environment needs 91 bytes, the area holds 90"), so the slot switch
    /// would have failed after the slot was written. It is now damaged when read.
    #[test]
    fn environment_without_a_closing_empty_entry_is_damaged() {
        let fuzz = b"\xc1\xa1\xbf\x7dBOOT_ORDER=A B\0BOOT_A_LEFT=3=A B\0BOOT_A_iLEFT=3\0\
                     BOOT_B_LEFT=3\0bootcstrk_boomd=run distcmd\0";
        assert_eq!(fuzz.len(), 94);
        assert_eq!(crc32fast::hash(&fuzz[4..]), 0x7dbf_a1c1, "the CRC is valid");
        assert_eq!(
            decode(fuzz, false),
            Err(Invalid::Format(
                "no closing empty entry before the end of the area".into()
            ))
        );
        // The same entries with their closing NUL (one byte more) decode and re-encode.
        let mut data = fuzz[4..].to_vec();
        data.push(0);
        let mut ok = crc32fast::hash(&data).to_le_bytes().to_vec();
        ok.extend_from_slice(&data);
        let env = decode(&ok, false).unwrap();
        assert_eq!(env.vars["BOOT_ORDER"], "A B");
        let again = encode(&env.vars, ok.len(), None).unwrap();
        assert_eq!(decode(&again, false).unwrap().vars, env.vars);
        // An entry cut off by the end of the area is damaged too (no NUL at all).
        let data = b"bootcmd=run x".to_vec();
        let mut cut = crc32fast::hash(&data).to_le_bytes().to_vec();
        cut.extend_from_slice(&data);
        assert!(matches!(decode(&cut, false), Err(Invalid::Format(_))));
    }

    #[test]
    fn flag_comparison_wraps() {
        assert!(newer(2, 1));
        assert!(!newer(1, 2));
        assert!(newer(0, 255));
        assert!(!newer(255, 0));
    }

    #[test]
    fn config_parsing() {
        let locs = parse_config(
            "# comment\n/dev/mmcblk0 0x3fe000 0x2000\nenv2.bin 8192 0x2000 0x200 1\n",
            Path::new("/etc"),
        )
        .unwrap();
        assert_eq!(locs[0].offset, 0x3fe000);
        assert_eq!(locs[1].device, PathBuf::from("/etc/env2.bin"));
        assert_eq!(locs[1].size, 0x2000);
        // Raw flash: accepted (erase before write).
        let mtd = parse_config(
            "/dev/mtd0 0 0x2000 0x20000\n/dev/mtd0 0x20000 0x2000 0x20000\n",
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(mtd[1].offset, 0x20000);
        assert!(parse_config("", Path::new("/")).is_err());
        assert!(parse_config("a 0 0x2000\nb 0 0x4000\n", Path::new("/")).is_err());
    }

    #[test]
    fn slot_state_follows_order_and_counters() {
        let sv = SlotVars::default();
        let st = slot_state(
            &vars(&[
                ("BOOT_ORDER", "B A"),
                ("BOOT_B_LEFT", "0"),
                ("BOOT_A_LEFT", "3"),
            ]),
            &sv,
            true,
        );
        assert_eq!(st.active, Slot::A, "B has no tries left");
        assert!(st.valid);
        let st = slot_state(&BTreeMap::new(), &sv, false);
        assert_eq!((st.active, st.valid), (Slot::A, false));
    }

    #[test]
    fn redundant_store_alternates_copies_and_survives_a_torn_write() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("env.bin");
        std::fs::write(&f, vec![0xffu8; 0x2000]).unwrap();
        let store = EnvStore {
            locations: vec![
                EnvLocation {
                    device: f.clone(),
                    offset: 0,
                    size: 0x1000,
                },
                EnvLocation {
                    device: f.clone(),
                    offset: 0x1000,
                    size: 0x1000,
                },
            ],
        };
        assert_eq!(store.read().unwrap(), None);
        let mut sc = UbootSlotControl::new(store.clone(), SlotVars::default());
        assert_eq!(sc.state().unwrap().active, Slot::A);
        let e = sc.set_active(Slot::B).unwrap_err();
        assert!(e.to_string().contains("no valid U-Boot environment"), "{e}");
        assert_eq!(
            store.read().unwrap(),
            None,
            "a blank environment is left alone"
        );
        let mut first = BTreeMap::new();
        first.insert("bootcmd".to_string(), "run distro_bootcmd".to_string());
        store.write(&first).unwrap(); // as U-Boot's saveenv would (copy 0, flag 1)
        sc.set_active(Slot::B).unwrap();
        let (env, i) = store.read().unwrap().unwrap();
        assert_eq!((env.flag, i), (2, 1));
        assert_eq!(env.vars["BOOT_ORDER"], "B A");
        assert_eq!(
            env.vars["bootcmd"], "run distro_bootcmd",
            "other variables kept"
        );
        assert_eq!(env.vars["BOOT_B_LEFT"], "3");
        sc.mark_unbootable(Slot::A).unwrap();
        assert_eq!(
            store.read().unwrap().unwrap().0.flag,
            2,
            "already 0: nothing written"
        );
        sc.set_active(Slot::A).unwrap();
        let (env, i) = store.read().unwrap().unwrap();
        assert_eq!((env.flag, i), (3, 0));
        assert_eq!(sc.state().unwrap().active, Slot::A);
        // Tear the newest copy: the older one becomes current again.
        let mut raw = std::fs::read(&f).unwrap();
        raw[10] ^= 0xff;
        std::fs::write(&f, raw).unwrap();
        let (env, i) = store.read().unwrap().unwrap();
        assert_eq!((env.flag, i), (2, 1));
        assert_eq!(sc.state().unwrap().active, Slot::B);
    }
}
