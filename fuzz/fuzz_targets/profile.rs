//! The device profile (TOML) parser on arbitrary text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use recovery_updater::device::profile::Profile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Profile::parse(text, Path::new("/fuzz/profile.toml"), Path::new("/fuzz"));
});
