//! The engine's one facade for front ends. The command line ([`crate::ui`]'s reporters behind
//! `cli`), the recovery screen ([`crate::ui::tui`]) and the recovery init ([`crate::init`]) call
//! these functions and nothing below them for the work they share; the fleet agent and the
//! sideload server to come are two more front ends of the same facade. A front end draws, prints
//! or answers; the facade decides.
//!
//! - [`facts`]: what the device says about itself, each fact or the code why it is unknown;
//! - [`packages`]: scan the storage (the profile's folders and extra roots such as the cards the
//!   recovery init mounted) and inspect each package found, with the verdicts lists show;
//! - [`run`]: check, verify and install, thin named entry points over [`crate::install`];
//! - [`wipe`](mod@wipe): wipe data / cache through the device's one wipe policy (9065 when the profile
//!   names no partition of the role);
//! - [`record`]: last_install.json and last_log, saved and read back for front ends;
//! - [`lifecycle`]: the A/B life after an install: status, mark-good, mark-bad, fallback
//!   detection;
//! - [`power`]: perform the one [`PowerAction`] a front end ends with.
//!
//! The dependency rule: front ends → `app` → `install` → `package` / `device` → `util`.

pub mod facts;
pub mod fleet;
pub mod lifecycle;
pub mod packages;
pub mod power;
pub mod record;
pub mod run;
pub mod sideload;
pub mod wipe;

pub use crate::device::power::PowerAction;
pub use facts::{read_facts, DeviceFacts, Fact};
pub use lifecycle::{mark_bad, mark_good, Status};
pub use packages::{
    find_packages, inspect_package, scan, CheckRow, Failure, PackageInfo, Search, Verdict,
};
pub use power::{perform_power, PowerMode};
pub use record::{last_log_path, read_last_install, read_last_log, save_record};
pub use run::{check, install, precheck, verify};
pub use wipe::{wipe, wipe_data};

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }

    /// The dependency rule for the front ends' drawing side: `ui/` draws and reads keys. It
    /// opens no package and asks the device nothing itself; the facade does both.
    #[test]
    fn ui_goes_through_the_facade() {
        let mut files = Vec::new();
        sources(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui"),
            &mut files,
        );
        assert!(files.len() > 10, "the ui sources were not found");
        let forbidden = [
            "package::",
            "install::apply",
            "install::check",
            ".hardware_revision(",
            ".baseband(",
            ".current_version(",
            ".slot_control(",
            ".battery(",
            ".free_space(",
            ".wipe(",
            "state::read_",
            "state::write_",
        ];
        for (path, text) in &files {
            for f in forbidden {
                assert!(!text.contains(f), "{path} uses {f}: go through crate::app");
            }
        }
    }
}
