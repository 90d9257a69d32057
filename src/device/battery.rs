//! Battery level from the kernel's power_supply class (/sys/class/power_supply/*/): the first
//! supply whose `type` is `Battery` and that is present. `capacity` is a percentage; `status` is
//! "Charging", "Discharging", "Full" or "Not charging". Mains-only devices have none.

use std::path::Path;

use super::Battery;
use crate::Error;

pub const POWER_SUPPLY: &str = "/sys/class/power_supply";

fn read(p: &Path) -> Option<String> {
    crate::util::read_bounded(p, 4096)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
}

/// Reads the first present battery under `dir`; `None` when there is none (mains powered).
pub fn from_power_supply(dir: &Path) -> Result<Option<Battery>, Error> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for e in entries {
        if read(&e.join("type")).as_deref() != Some("Battery") {
            continue;
        }
        if read(&e.join("present")).as_deref() == Some("0") {
            continue;
        }
        let cap_file = e.join("capacity");
        let cap = read(&cap_file).ok_or_else(|| Error::DeviceFact {
            what: "battery capacity".into(),
            reason: format!("{} unreadable", cap_file.display()),
        })?;
        let percent: u8 = cap.parse().map_err(|_| Error::DeviceFact {
            what: "battery capacity".into(),
            reason: format!("{}: {cap:?} is not a percentage", cap_file.display()),
        })?;
        let charging = matches!(
            read(&e.join("status")).as_deref(),
            Some("Charging") | Some("Full")
        );
        return Ok(Some(Battery {
            percent: percent.min(100),
            charging,
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn picks_the_present_battery_and_skips_mains() {
        let d = tempfile::tempdir().unwrap();
        let mk = |name: &str, files: &[(&str, &str)]| {
            fs::create_dir_all(d.path().join(name)).unwrap();
            for (f, v) in files {
                fs::write(d.path().join(name).join(f), format!("{v}\n")).unwrap();
            }
        };
        assert_eq!(from_power_supply(d.path()).unwrap(), None);
        mk("AC", &[("type", "Mains"), ("online", "1")]);
        mk(
            "BAT0",
            &[("type", "Battery"), ("present", "0"), ("capacity", "5")],
        );
        assert_eq!(from_power_supply(d.path()).unwrap(), None);
        mk(
            "BAT1",
            &[
                ("type", "Battery"),
                ("capacity", "42"),
                ("status", "Charging"),
            ],
        );
        assert_eq!(
            from_power_supply(d.path()).unwrap(),
            Some(Battery {
                percent: 42,
                charging: true
            })
        );
        mk("BAT1", &[("status", "Discharging"), ("capacity", "x")]);
        let e = from_power_supply(d.path()).unwrap_err();
        assert_eq!(crate::HasCode::code(&e), crate::Code::DeviceFact);
    }
}
