//! The services a sideloading recovery offers (minadbd's): `sideload-host:SIZE:BLOCKSIZE`, the
//! `reboot` family, and a polite refusal of the legacy `sideload:` (pre-KitKat hosts).
//!
//! `sideload-host` turns the stream around: the device writes a block number as 8 ASCII digits,
//! the host answers with that block of the package (the last one short). [`HostBlocks`] makes
//! that a [`Source`]: the zip reader asks for the end of the package first (central directory,
//! manifest, signature), then the image stream asks for each image's blocks in order. Each block
//! is checked for length as it arrives: more than asked (9151), past the announced SIZE (9153),
//! or a stream closed part-way (9152) poisons the source, so the engine stops and nothing
//! unverified is written. The run ends with `DONEDONE` or `FAILFAIL`, which makes the host's
//! `adb sideload` exit 0 or 1; after `FAILFAIL` the code follows (`FAILFAIL9012\n`), which real
//! adb ignores (it reads exactly 8 bytes) and the station reports.

pub use super::blocks::HostBlocks;
use super::{protocol, SideloadError};

/// Largest block size a host may ask for (adb uses 64 KiB).
pub const MAX_BLOCK_SIZE: u32 = 1 << 20;
/// Block numbers travel as 8 decimal digits.
pub const MAX_BLOCKS: u64 = 99_999_999;
pub const EXIT_SUCCESS: &[u8; 8] = b"DONEDONE";
pub const EXIT_FAILURE: &[u8; 8] = b"FAILFAIL";

/// A service a host may open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    SideloadHost {
        size: u64,
        block_size: u32,
    },
    /// `sideload:SIZE`, the pre-KitKat protocol: answered with "use a newer adb".
    Legacy,
    Reboot(RebootTarget),
    Other(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebootTarget {
    System,
    Bootloader,
    Recovery,
}

/// Parses an OPEN's payload. A `sideload-host` request with numbers out of range is an error.
pub fn parse_service(raw: &[u8]) -> Result<Service, SideloadError> {
    let s = std::str::from_utf8(raw)
        .map_err(|_| protocol("service name is not UTF-8"))?
        .trim_end_matches('\0');
    if let Some(rest) = s.strip_prefix("sideload-host:") {
        let (size, bs) = rest
            .split_once(':')
            .ok_or_else(|| protocol(format!("bad sideload request {s:?}")))?;
        let size: u64 = size
            .parse()
            .map_err(|_| protocol(format!("bad package size in {s:?}")))?;
        let block_size: u32 = bs
            .parse()
            .map_err(|_| protocol(format!("bad block size in {s:?}")))?;
        if block_size == 0 || block_size > MAX_BLOCK_SIZE {
            return Err(protocol(format!(
                "block size {block_size} is outside 1..={MAX_BLOCK_SIZE}"
            )));
        }
        if size == 0 || size.div_ceil(u64::from(block_size)) > MAX_BLOCKS {
            return Err(protocol(format!(
                "package size {size} does not fit in {MAX_BLOCKS} blocks of {block_size}"
            )));
        }
        return Ok(Service::SideloadHost { size, block_size });
    }
    Ok(match s {
        "reboot:" | "reboot" | "reboot:system" => Service::Reboot(RebootTarget::System),
        "reboot:bootloader" => Service::Reboot(RebootTarget::Bootloader),
        "reboot:recovery" | "reboot:sideload" => Service::Reboot(RebootTarget::Recovery),
        _ if s.starts_with("sideload:") => Service::Legacy,
        _ => Service::Other(s.to_string()),
    })
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
