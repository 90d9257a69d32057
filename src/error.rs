//! The one table of error codes.
//!
//! Every failure a user can see maps to exactly one [`Code`]. The table below is the single
//! source of truth for the screen, the log, the JSON result, `last_install.json`, docs/ERRORS.md
//! (kept in sync by a test) and the exit status (`code - 9000`, 0 on success).
//!
//! Numbers are part of the user interface: support scripts and people remember them. Never
//! renumber a code; add new ones instead. 9012, 9015, 9023 and 9040 are seed codes users already
//! know and keep their historic meanings.

use serde::Serialize;

use crate::device::target::FlashError;

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    pub code: Code,
    pub number: u16,
    pub name: &'static str,
    pub meaning: &'static str,
    pub fix: &'static str,
}

macro_rules! codes {
    ($( $variant:ident = $num:literal, $name:literal, $meaning:literal, $fix:literal; )*) => {
        /// A user-visible failure. See [`TABLE`] for the number, meaning and fix of each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $( $variant, )* }

        /// Every code, in numeric order.
        pub const TABLE: &[CodeInfo] = &[
            $( CodeInfo { code: Code::$variant, number: $num, name: $name, meaning: $meaning, fix: $fix }, )*
        ];

        impl Code {
            pub fn info(self) -> &'static CodeInfo {
                match self { $( Code::$variant => &TABLE[Code::$variant as usize], )* }
            }
        }
    };
}

codes! {
    PackageNotFound = 9001, "PACKAGE_NOT_FOUND",
        "No update package was found, or the package file cannot be opened.",
        "Copy update.zip to the root of the SD card or USB stick, insert it, and try again.";
    PackageRead = 9002, "PACKAGE_READ_FAILED",
        "Reading the package failed part-way (the card was removed, or the medium is failing).",
        "Keep the card inserted during the update; if it repeats, copy the package to another card.";
    ZipCorrupt = 9003, "PACKAGE_CORRUPT",
        "The package is not a valid zip archive, or it is truncated or damaged.",
        "Download the package again and check its size; the copy on the card is incomplete or damaged.";
    ZipUnsafeName = 9004, "PACKAGE_UNSAFE_ENTRY_NAME",
        "The package contains an entry with an absolute path or a `..` component.",
        "Do not use this package: it was not made by the vendor's packer. Get the official package.";
    ZipDuplicateEntry = 9005, "PACKAGE_DUPLICATE_ENTRY",
        "The package contains two entries with the same name.",
        "Do not use this package: it was altered after packing. Get the official package.";
    PackageLimits = 9006, "PACKAGE_LIMITS_EXCEEDED",
        "The package exceeds a safety limit (too many entries, an oversized manifest or signature, or data that expands beyond its declared size).",
        "Do not use this package: it is malformed or hostile. Get the official package.";
    ZipUnsupported = 9007, "PACKAGE_UNSUPPORTED_FEATURE",
        "The package uses a zip feature this updater does not accept (encryption, a compression method other than stored, deflate or zstd, multiple disks).",
        "Re-create the package with the vendor's packer (`recovery-updater pack`).";
    ZipInconsistent = 9008, "PACKAGE_STRUCTURE_INCONSISTENT",
        "The zip's headers disagree with each other, overlap, or point outside the file.",
        "Download the package again; if it repeats, report it to the vendor: the package is malformed.";
    PackageNotAFile = 9009, "PACKAGE_NOT_A_FILE",
        "The package path is not a regular file or block device (a FIFO, socket, directory or device node).",
        "Give the path of the update.zip file itself; copy the package to the card as an ordinary file.";
    ManifestMissing = 9010, "MANIFEST_MISSING",
        "The package has no META-INF/update/manifest.json.",
        "This is not an update package for this updater. Get the official package.";
    SignatureMissing = 9011, "SIGNATURE_MISSING",
        "The package has no META-INF/update/manifest.sig, or it is empty or oversized.",
        "The package is unsigned. Sign it (`recovery-updater sign`) or get the official, signed package.";
    SignatureInvalid = 9012, "SIGNATURE_VERIFICATION_FAILED",
        "Signature verification failed: the manifest does not match its signature.",
        "Download the package again; the file is corrupted or not from your vendor.";
    UntrustedKey = 9013, "UNTRUSTED_SIGNING_KEY",
        "The package is signed by a key this device does not trust.",
        "Use a package signed by your vendor for this device; packages signed with test or other vendors' keys are refused.";
    TrustedKeysInvalid = 9014, "TRUSTED_KEYS_UNAVAILABLE",
        "The recovery image lists no usable trusted key, so no package can be verified.",
        "The recovery image is misconfigured: reflash recovery from the vendor's factory image.";
    Rollback = 9015, "ANTI_ROLLBACK_CHECK_FAILED",
        "Anti-rollback check failed: the package is older than the software security level already on the device.",
        "Install the same or a newer version; downgrading to an older build is not allowed.";
    ManifestInvalid = 9016, "MANIFEST_INVALID",
        "The signed manifest is not valid JSON or misses or contradicts a required field.",
        "Report it to the vendor: the package was built incorrectly.";
    ManifestVersion = 9017, "MANIFEST_FORMAT_UNSUPPORTED",
        "The manifest format version is newer than this updater understands.",
        "Update the recovery image first, or use a package built for this recovery version.";
    EntryNotInManifest = 9018, "PACKAGE_ENTRY_NOT_IN_MANIFEST",
        "The package contains a file that the signed manifest does not list.",
        "Do not use this package: it was altered after signing. Get the official package.";
    EntryMissing = 9019, "PACKAGE_ENTRY_MISSING",
        "An image listed in the signed manifest is not in the package.",
        "Download the package again; it is incomplete.";
    ProductMismatch = 9020, "PRODUCT_MISMATCH",
        "The package is for a different product.",
        "Download the package made for this device's model.";
    HardwareMismatch = 9021, "HARDWARE_REVISION_MISMATCH",
        "The package does not support this device's hardware revision.",
        "Download the package made for this hardware revision (see the label or Settings > About).";
    BatteryLow = 9022, "BATTERY_LOW",
        "The battery is too low to update safely.",
        "Charge the device (keep the charger connected) and try again.";
    InsufficientStorage = 9023, "INSUFFICIENT_FLASH_STORAGE",
        "Insufficient flash storage: there is not enough free space on the device to install the update.",
        "Free up space (or wipe cache) and try again.";
    ImageTooLarge = 9024, "IMAGE_LARGER_THAN_PARTITION",
        "An image in the package is larger than the partition it is meant for.",
        "The package does not fit this device's partition layout: get the package made for this device.";
    UnknownPartition = 9025, "UNKNOWN_PARTITION",
        "The package names a partition this device does not have.",
        "Download the package made for this device's model.";
    DeviceFact = 9026, "DEVICE_INFO_UNREADABLE",
        "A device fact needed for the checks (hardware revision, baseband, battery, slot state) could not be read.",
        "Restart into recovery and try again; if it repeats, the device needs service.";
    ChunkHashMismatch = 9030, "IMAGE_CHUNK_HASH_MISMATCH",
        "Image data in the package does not match the signed hash of its block; nothing unverified was written.",
        "Download the package again; the file is corrupted.";
    ImageHashMismatch = 9031, "IMAGE_HASH_MISMATCH",
        "A whole image does not match its signed SHA-256.",
        "Download the package again; if it repeats, report it to the vendor.";
    EntrySizeMismatch = 9032, "IMAGE_SIZE_MISMATCH",
        "An image's real size in the package differs from its signed size.",
        "Download the package again; it is damaged or was altered.";
    SparseInvalid = 9033, "SPARSE_IMAGE_INVALID",
        "An Android sparse image in the package is malformed (bad magic or version, a chunk past its end, a block count that does not add up, a block size out of range); nothing past the bad chunk was written.",
        "Report it to the vendor: the sparse image was built incorrectly. Re-make it with img2simg and pack again.";
    SparseCrcMismatch = 9034, "SPARSE_IMAGE_CRC_MISMATCH",
        "A CRC32 chunk of an Android sparse image does not match the data expanded before it.",
        "Report it to the vendor: the sparse image is inconsistent. Re-make it with img2simg and pack again.";
    ZstdWindowTooLarge = 9035, "ZSTD_WINDOW_TOO_LARGE",
        "A zstd-compressed image asks for a decoding window larger than this updater allows (8 MiB), so it is refused before any memory is allocated for it.",
        "Re-pack with `recovery-updater pack` (compression = \"zstd\" uses a small window); do not use zstd levels above 19 or --long.";
    BasebandMismatch = 9040, "BASEBAND_MISMATCH",
        "Baseband mismatch: the package does not support this device's modem firmware (baseband).",
        "Download the package for your baseband version, or install the required baseband update first.";
    PartitionOpen = 9050, "PARTITION_OPEN_FAILED",
        "A target partition could not be opened or its size read.",
        "Restart into recovery and try again; if it repeats, the device needs service.";
    WriteFailed = 9051, "PARTITION_WRITE_FAILED",
        "Writing to flash failed.",
        "Do not reboot into the system if the update was in place; retry the update. If it repeats, the flash is failing: contact service.";
    FlushFailed = 9052, "PARTITION_FLUSH_FAILED",
        "Flushing written data to flash failed.",
        "Retry the update. If it repeats, the flash is failing: contact service.";
    SlotSwitchFailed = 9053, "SLOT_SWITCH_FAILED",
        "The new slot was written but could not be marked active; the device still boots the old version.",
        "Retry the update; if it repeats, the boot control data needs service.";
    SlotStateInvalid = 9054, "SLOT_STATE_UNREADABLE",
        "The slot control data could not be read.",
        "Restart into recovery and try again; if it repeats, the device needs service.";
    StateWriteFailed = 9055, "STATE_WRITE_FAILED",
        "The result, journal or rollback index could not be saved in the recovery state directory.",
        "Free up space on the state partition and try again.";
    ResumeNeedsPackage = 9056, "INTERRUPTED_UPDATE_NEEDS_SAME_PACKAGE",
        "An in-place update (or the shared, in-place partitions of an A/B update) was interrupted part-way: some partitions hold new data and some old, and the package needed to finish it is not available (the card was removed, or a different package was offered).",
        "Insert the card with the same update package that was being installed (named in the message) and start the update again; it resumes where it stopped. Do not reboot the device before it finishes.";
    TargetProtected = 9057, "TARGET_IS_PROTECTED",
        "A partition the update would write is, through a link or a second name, the same device or file as a partition of the running slot, the slot control (misc) or the recovery state; nothing was written.",
        "The device profile or its /dev/block/by-name links are wrong: each target must be a device of its own. Do not retry; reflash the recovery image from the vendor's factory image or have the device serviced.";
    RollbackIndexNotSaved = 9058, "ROLLBACK_INDEX_NOT_SAVED",
        "The new version IS installed and active, but its anti-rollback index could not be saved, so older packages are not yet refused (a downgrade is still possible).",
        "Make the state partition writable (free up space on it), then install the same package again: it only saves the index. Until then, do not install older packages.";
    InstallInProgress = 9059, "INSTALL_IN_PROGRESS",
        "Another install is running on this device (the recovery state directory is locked); nothing was changed.",
        "Wait for the other install to finish and check its result before starting another one.";
    ProfileInvalid = 9060, "DEVICE_PROFILE_INVALID",
        "The device profile in the recovery image is missing or invalid.",
        "The recovery image is misconfigured: reflash recovery from the vendor's factory image.";
    PartitionNameDuplicate = 9061, "PARTITION_NAME_DUPLICATE",
        "Two partitions of the device's internal disks carry the same name, so /dev/block/by-name cannot say which one is meant; the recovery links neither and stops.",
        "The recovery image or the partition table is misconfigured: list only the real internal disks in the profile's `[init] internal_disks`, or reflash the partition table from the vendor's factory image.";
    FlashNoRoom = 9062, "FLASH_BAD_BLOCKS_NO_ROOM",
        "The image no longer fits in the raw NAND partition: together with the partition's bad blocks (factory-marked, or found bad while erasing or writing) it needs more erase blocks than the partition has. Nothing after the last good block was written.",
        "The flash is wearing out: contact service. A package built for this device with a smaller image (or a repartitioned flash) installs.";
    FlashReadBack = 9063, "FLASH_READBACK_MISMATCH",
        "A block written to raw flash (MTD) read back different from what was written; the partition is not valid.",
        "Retry the update; if it repeats, the flash is failing: contact service.";
    UbiVolumeDamaged = 9064, "UBI_VOLUME_DAMAGED",
        "A UBI volume is damaged: an update of it was interrupted (its update marker is set) or its data is corrupted. A slot on it is invalid and is neither copied from nor counted as installed.",
        "Install the update again: writing the whole volume clears the marker. If the damaged volume is the running slot's, the device needs service.";
    WipeNotConfigured = 9065, "WIPE_NOT_CONFIGURED",
        "Wipe data / factory reset (or wipe cache) is not configured on this device: the recovery knows no partition of the requested role (data or cache) to erase.",
        "Nothing was erased. Use the vendor's recovery image that supports factory reset, or reset from the system's settings.";
    FlashTargetNotFound = 9066, "FLASH_TARGET_NOT_FOUND",
        "The device profile names a raw flash partition (`mtd:NAME`) or a UBI volume (`ubi:NAME`) that this device does not have (not in /proc/mtd, or not in /sys/class/ubi: UBI not attached?).",
        "The recovery image does not match this device's flash layout: reflash recovery from the vendor's factory image, or attach UBI first (ubiattach).";
    FlashTargetWrongKind = 9067, "FLASH_TARGET_WRONG_KIND",
        "A partition's path is not the kind of flash its profile `type` says (`mtd` needs an MTD character device, `ubi` a UBI volume device); nothing was written to it.",
        "The device profile is wrong: fix the partition's `type` or `path` (see docs/FLASH.md), or reflash the vendor's recovery image.";
    UbiUpdateIncomplete = 9068, "UBI_UPDATE_INCOMPLETE",
        "A UBI volume update did not receive exactly the number of bytes it declared, so the kernel keeps the volume marked damaged; the slot is not switched.",
        "Retry the update; the whole volume is written again.";
    UbiRenameFailed = 9069, "UBI_RENAME_FAILED",
        "Swapping the names of the A/B UBI volumes (the switch for a bootloader that picks its volume by name) failed; the kernel renames atomically, so the old names, and the old slot, are still in place.",
        "Retry the update; if it repeats, the UBI device needs service.";
    PackSpecInvalid = 9070, "PACK_SPEC_INVALID",
        "The package spec given to `pack` is invalid, or an image it names cannot be read.",
        "Fix the spec (see docs/FORMAT.md) and run pack again.";
    KeyInvalid = 9071, "KEY_INVALID",
        "A key file could not be read, parsed or written, or uses an unsupported algorithm.",
        "Use PKCS#8 PEM private keys and SubjectPublicKeyInfo PEM public keys (ECDSA P-256, Ed25519, RSA 2048-4096).";
    UsageError = 9072, "USAGE_ERROR",
        "The command line is invalid.",
        "Run `recovery-updater --help`.";
    Cancelled = 9080, "CANCELLED",
        "The update was cancelled before anything was written.",
        "Nothing was changed. Start the update again when ready.";
    Internal = 9099, "INTERNAL_ERROR",
        "An internal error occurred in the updater.",
        "Restart into recovery and retry; report last_log to the vendor.";
    StorageMountFailed = 9110, "STORAGE_MOUNT_FAILED",
        "An SD card or USB stick was found but could not be mounted (unknown or damaged filesystem); the other storage was still searched.",
        "Format the card as FAT32, exFAT or ext4 on a computer, copy update.zip to it, and try again.";
    WipeFailed = 9111, "DATA_WIPE_FAILED",
        "Wiping the data or cache partition failed.",
        "Retry the wipe from the recovery menu; if it repeats, the flash is failing: contact service.";
    RecoveryInitFailed = 9112, "RECOVERY_START_FAILED",
        "The recovery environment could not start: a system filesystem, kernel module or console could not be set up.",
        "The recovery image is misconfigured: reflash recovery from the vendor's factory image.";
    CommandFileInvalid = 9113, "RECOVERY_COMMAND_INVALID",
        "The recovery command file left by the system's updater could not be read or holds an unknown command.",
        "Reboot into the system and start the update again, or choose the package from the recovery menu.";
    PowerFailed = 9114, "REBOOT_FAILED",
        "Rebooting or powering off the device failed.",
        "Hold the power button to restart the device.";
    InstalledWipeFailed = 9115, "UPDATE_INSTALLED_WIPE_FAILED",
        "The update is installed (on A/B devices its slot is active and boots next), but wiping data afterwards failed: the new version starts with the old data.",
        "Do not install the package again: wipe data from the recovery menu (Wipe data / factory reset); if it repeats, the flash is failing: contact service.";
    BootedSlotWrite = 9120, "BOOTED_SLOT_WRITE_REFUSED",
        "The install would write a partition of the slot the running system booted from; it was refused before anything was written.",
        "Install from the running system only into the other slot (the updater picks it), or reboot into recovery to write this slot.";
    FellBack = 9121, "NEW_SLOT_FELL_BACK",
        "The new slot did not come up: the bootloader used up its tries, or the new version failed its health check and was marked bad; the device returned to the previous slot, which runs the previous version.",
        "Nothing to repair: the device runs the previous version. Read the new version's boot log, fix the package and install again.";
    HealthCheckFailed = 9122, "HEALTH_CHECK_FAILED",
        "The profile's health check failed, so the booted slot was not marked good; it is still on trial and the bootloader falls back if it is not confirmed.",
        "Fix what the health check reports and run mark-good again, or run mark-bad to return to the previous version.";
    HealthCheckTimeout = 9123, "HEALTH_CHECK_TIMEOUT",
        "The profile's health check did not finish within its timeout and was stopped; the booted slot was not marked good.",
        "Find out why the health check hangs (or raise its timeout_s in the profile) and run mark-good again.";
    NoFallbackSlot = 9124, "NO_BOOTABLE_FALLBACK_SLOT",
        "mark-bad was refused: the other slot is not bootable, so marking this one bad would leave nothing to boot.",
        "Install a good version into the other slot first, then mark this one bad.";
    NoBootedSlot = 9125, "BOOTED_SLOT_UNKNOWN",
        "The command needs the slot the system booted from, and none is known: the device is single-slot, it runs the recovery, or neither the profile's booted_slot nor the kernel command line names a slot.",
        "Run it from the booted system; set booted_slot in the device profile if the kernel command line does not carry androidboot.slot_suffix, androidboot.slot or rauc.slot.";
    FleetNotConfigured = 9130, "FLEET_NOT_CONFIGURED",
        "The fleet agent cannot run: the device profile has no usable [fleet] section (server, controller id, token, or no pins/CA for an https server).",
        "Fix the [fleet] section of the device profile (docs/DEVICE.md) or the files it names (token_file, controller_id).";
    FleetUnreachable = 9131, "FLEET_SERVER_UNREACHABLE",
        "The update server could not be reached (no network, name not resolved, connection refused or timed out).",
        "Check the network connection; the agent retries by itself with growing pauses.";
    FleetPinMismatch = 9132, "FLEET_SERVER_KEY_MISMATCH",
        "The update server presented a public key that matches none of the pinned keys; nothing was downloaded.",
        "If the server's key was changed on purpose, add its pin (sha256//BASE64) to the profile's pins; otherwise the connection is being intercepted.";
    FleetTls = 9133, "FLEET_TLS_FAILED",
        "The secure connection to the update server failed (handshake, or a certificate that does not lead to the configured CA).",
        "Check the server's certificate and the profile's ca_file, and that the device clock is right when a CA is used.";
    FleetPlainHttp = 9134, "FLEET_PLAIN_HTTP_REFUSED",
        "The update server (or a download link) is plain http, and the profile does not allow it.",
        "Use an https server; for a lab server only, set allow_http = true in [fleet].";
    FleetServerStatus = 9135, "FLEET_SERVER_REFUSED",
        "The update server answered a request with an error status (for example 401 for a wrong target token, or 404).",
        "Check the target token, tenant and controller id in [fleet]; the server's log names the request.";
    FleetResponseInvalid = 9136, "FLEET_RESPONSE_INVALID",
        "The update server's answer is not valid HTTP or not the DDI JSON expected.",
        "Check that [fleet] server points at a hawkBit DDI server (and its path prefix); report it to the server's operator.";
    FleetDownloadHash = 9137, "FLEET_DOWNLOAD_HASH_MISMATCH",
        "The downloaded package does not match the hash the server gave for it; it was deleted, nothing was written.",
        "Nothing to do on the device: the agent downloads again at the next poll. If it repeats, the artifact on the server is damaged.";
    FleetDownloadFailed = 9138, "FLEET_DOWNLOAD_FAILED",
        "The download stopped part-way or the server sent a different size than announced.",
        "Check the network; the agent resumes the download where it stopped at the next poll.";
    FleetCache = 9139, "FLEET_CACHE_UNUSABLE",
        "The agent cannot use its cache directory or state file (missing, read-only, or not a directory).",
        "Check [fleet] cache_dir: it must be a writable directory on persistent storage.";
    SideloadListen = 9150, "SIDELOAD_LISTEN_FAILED",
        "The sideload server could not listen on its address (the port is in use or the address is wrong), or the station could not reach a unit.",
        "Check the address and port (default 5555), that no other adb daemon uses it, and that the cable or network link is up.";
    SideloadHostTooMuch = 9151, "SIDELOAD_HOST_SENT_TOO_MUCH",
        "The PC sent more bytes for a block than the device asked for; nothing unverified was written.",
        "Use the official `adb` from Android platform-tools and run `adb sideload update.zip` again.";
    SideloadHostTooLittle = 9152, "SIDELOAD_HOST_SENT_TOO_LITTLE",
        "The PC closed the transfer before sending all the bytes of a block the device asked for; nothing unverified was written.",
        "Check that update.zip on the PC is complete and not being changed, then run `adb sideload update.zip` again.";
    SideloadLargerThanAnnounced = 9153, "SIDELOAD_PACKAGE_LARGER_THAN_ANNOUNCED",
        "The PC sent bytes past the package size it announced; nothing unverified was written.",
        "Do not change update.zip while it is being sideloaded; run `adb sideload update.zip` again.";
    SideloadDisconnected = 9154, "SIDELOAD_HOST_DISCONNECTED",
        "The connection to the PC was lost during the sideload. On A/B devices the updated slot stays unbootable and the old one boots; in place, the install resumes when the same package is sent again.",
        "Reconnect the cable, choose \"Apply update from ADB\" again and rerun `adb sideload update.zip` with the same package.";
    SideloadProtocol = 9155, "SIDELOAD_PROTOCOL_ERROR",
        "The PC sent a malformed adb message (bad magic, checksum or length) or an unusable sideload request (size or block size out of range).",
        "Use the official `adb` from Android platform-tools (version 1.0.41 or later) and try again.";
    StationReport = 9156, "STATION_REPORT_FAILED",
        "The factory station could not write its report file.",
        "Check that the report's folder exists and is writable, and that the name ends in .csv or .jsonl.";
    StationNoUnits = 9157, "STATION_NO_UNITS",
        "The factory station was given no units and found none: `adb devices` lists no device in state sideload, or the host's adb could not be run.",
        "Start \"Apply update from ADB\" on the units, `adb connect HOST:PORT` the network ones (or plug in the USB ones), check `adb devices` shows them as sideload, or name them with --devices.";
}

impl Code {
    pub fn number(self) -> u16 {
        self.info().number
    }
    pub fn name(self) -> &'static str {
        self.info().name
    }
    pub fn meaning(self) -> &'static str {
        self.info().meaning
    }
    pub fn fix(self) -> &'static str {
        self.info().fix
    }
    /// The process exit status: `code - 9000`. Every code is in 9001..=9255, so it fits in a u8.
    pub fn exit_status(self) -> u8 {
        u8::try_from(self.number().saturating_sub(9000)).unwrap_or(u8::MAX)
    }
    pub fn from_number(n: u16) -> Option<Code> {
        TABLE.iter().find(|i| i.number == n).map(|i| i.code)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "E{} {}", self.number(), self.name())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.number())
    }
}

/// Anything that maps to a user-visible code.
pub trait HasCode {
    fn code(&self) -> Code;
}

/// Renders the table as docs/ERRORS.md (a test keeps the committed file identical).
pub fn errors_markdown() -> String {
    let mut s = String::from(
        "# Error codes\n\n\
         Generated from `src/error.rs` (`recovery-updater codes --markdown`); a test keeps this file in sync.\n\
         The process exit status is `code - 9000` (0 on success). 9012, 9015, 9023 and 9040 keep the\n\
         meanings users already know.\n\n\
         | Code | Name | Meaning | Fix |\n|---|---|---|---|\n",
    );
    for i in TABLE {
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            i.number,
            i.name,
            i.meaning.replace('|', "\\|"),
            i.fix.replace('|', "\\|")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn table_is_indexed_by_variant_and_sorted_unique() {
        let mut seen = HashSet::new();
        let mut last = 0;
        for (i, row) in TABLE.iter().enumerate() {
            assert_eq!(row.code as usize, i, "row {} out of place", row.name);
            assert_eq!(row.code.info().number, row.number);
            assert!(row.number > last, "{} not in ascending order", row.number);
            last = row.number;
            assert!(seen.insert(row.name), "duplicate name {}", row.name);
            assert!((9001..=9255).contains(&row.number));
            assert!(!row.meaning.is_empty() && !row.fix.is_empty());
        }
    }

    #[test]
    fn seed_codes_keep_their_numbers_and_meanings() {
        assert_eq!(Code::SignatureInvalid.number(), 9012);
        assert!(Code::SignatureInvalid
            .meaning()
            .starts_with("Signature verification failed"));
        assert_eq!(Code::Rollback.number(), 9015);
        assert!(Code::Rollback
            .meaning()
            .starts_with("Anti-rollback check failed"));
        assert_eq!(Code::InsufficientStorage.number(), 9023);
        assert!(Code::InsufficientStorage
            .meaning()
            .starts_with("Insufficient flash storage"));
        assert_eq!(Code::BasebandMismatch.number(), 9040);
        assert!(Code::BasebandMismatch
            .meaning()
            .starts_with("Baseband mismatch"));
    }

    #[test]
    fn exit_status_is_code_minus_9000() {
        assert_eq!(Code::SignatureInvalid.exit_status(), 12);
        assert_eq!(Code::Internal.exit_status(), 99);
        assert_eq!(Code::from_number(9040), Some(Code::BasebandMismatch));
        assert_eq!(Code::from_number(1), None);
    }

    #[test]
    fn docs_errors_md_is_in_sync() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ERRORS.md");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert_eq!(
            committed,
            errors_markdown(),
            "docs/ERRORS.md is stale: run `cargo run -- codes --markdown > docs/ERRORS.md`"
        );
    }
}

use std::path::PathBuf;

use crate::package::keys::KeyError;
use crate::package::zip::ZipError;

/// The engine's error: structured fields for the log, one [`Code`] for the user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open package {path}: {source}")]
    PackageOpen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open package {path}: {reason}")]
    PackageNotAFile {
        path: PathBuf,
        reason: crate::util::NotAFile,
    },
    #[error("no update package found (looked for {looked_for} in {locations})")]
    NoPackage {
        looked_for: String,
        locations: String,
    },
    #[error("reading the package failed: {source}")]
    PackageRead {
        #[source]
        source: std::io::Error,
    },
    #[error("package archive: {0}")]
    Zip(#[from] ZipError),
    #[error("the package has no {name}")]
    ManifestMissing { name: &'static str },
    #[error("signature file: {reason}")]
    SignatureMissing { reason: String },
    #[error("the manifest signature does not verify with any of the {trusted} trusted key(s)")]
    SignatureInvalid { trusted: usize },
    #[error("the package names signing key {fingerprint}, which this device does not trust")]
    UntrustedKey { fingerprint: String },
    #[error("trusted keys: {reason}")]
    TrustedKeys { reason: String },
    #[error("manifest: {reason}")]
    ManifestInvalid { reason: String },
    #[error("manifest format version {found} is not supported (this updater reads {supported})")]
    ManifestVersion { found: u32, supported: u32 },
    #[error("entry {name:?} is not listed in the signed manifest")]
    EntryNotInManifest { name: String },
    #[error("image entry {name:?} listed in the manifest is missing from the package")]
    EntryMissing { name: String },
    #[error("package is for {accepted:?}, this device is {device:?}")]
    ProductMismatch {
        device: String,
        accepted: Vec<String>,
    },
    #[error("package supports hardware revisions {accepted:?}, this device is {device:?}")]
    HardwareMismatch {
        device: String,
        accepted: Vec<String>,
    },
    #[error("package supports basebands {accepted:?}, this device has {device:?}")]
    BasebandMismatch {
        device: String,
        accepted: Vec<String>,
    },
    #[error("package rollback index {package} is lower than the device's {device}")]
    Rollback { package: u64, device: u64 },
    #[error("battery at {percent}% ({}), at least {required}% needed", if *charging { "charging" } else { "not charging" })]
    BatteryLow {
        percent: u8,
        required: u8,
        charging: bool,
    },
    #[error("{path}: {available} bytes free, {required} needed")]
    InsufficientStorage {
        path: PathBuf,
        available: u64,
        required: u64,
    },
    #[error("image for {partition} is {image} bytes, the partition holds {partition_size}")]
    ImageTooLarge {
        partition: String,
        image: u64,
        partition_size: u64,
    },
    #[error("package names partition {partition:?}, which this device does not have")]
    UnknownPartition { partition: String },
    #[error("cannot read the {what}: {reason}")]
    DeviceFact { what: String, reason: String },
    #[error("{partition}: block {chunk} does not match its signed hash (expected {expected}, calculated {calculated})")]
    ChunkHashMismatch {
        partition: String,
        chunk: u64,
        expected: String,
        calculated: String,
    },
    #[error("{partition}: image SHA-256 mismatch (expected {expected}, calculated {calculated})")]
    ImageHashMismatch {
        partition: String,
        expected: String,
        calculated: String,
    },
    #[error("{entry}: {actual} bytes in the package, the manifest says {expected}")]
    EntrySizeMismatch {
        entry: String,
        expected: u64,
        actual: u64,
    },
    #[error("{partition}: Android sparse image invalid at input byte {offset}: {reason}")]
    SparseInvalid {
        partition: String,
        offset: u64,
        reason: String,
    },
    #[error("{partition}: sparse CRC32 chunk at input byte {offset} says {expected:08x}, the expanded data gives {calculated:08x}")]
    SparseCrcMismatch {
        partition: String,
        offset: u64,
        expected: u32,
        calculated: u32,
    },
    #[error("cannot open partition {path}: {source}")]
    PartitionOpen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A flash handler refused a target by its own rule (raw NAND: no room beside the bad
    /// blocks) before anything was written; the code is the handler's.
    #[error("{partition} ({path}): {source}")]
    FlashRefused {
        partition: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {partition} at offset {offset} failed: {source}")]
    Write {
        partition: String,
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("flushing {partition} failed: {source}")]
    Flush {
        partition: String,
        #[source]
        source: std::io::Error,
    },
    #[error("switching slot failed: {reason}")]
    SlotSwitch { reason: String },
    #[error("slot state: {reason}")]
    SlotState { reason: String },
    /// The `ubi_rename` switch: the kernel refused to rename the volumes (9069).
    #[error("switching to slot {slot} by renaming UBI volumes failed: {source}")]
    SlotRename {
        slot: crate::device::Slot,
        #[source]
        source: std::io::Error,
    },
    #[error("saving {path} failed: {source}")]
    StateWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("an interrupted in-place update of {package} (version {version}, manifest {manifest_sha256}) must be finished first: {reason}")]
    ResumeNeedsPackage {
        package: String,
        version: String,
        manifest_sha256: String,
        reason: String,
    },
    #[error("refusing to write {partition} to {path}: it is {same_as}")]
    TargetProtected {
        partition: String,
        path: PathBuf,
        /// What the target resolves to, e.g. "the same block device as boot of the active slot a (/dev/block/by-name/boot_a)".
        same_as: String,
    },
    #[error("version {version} is installed and active, but rollback index {index} was not saved to {path}: {reason}; older packages are not refused until it is")]
    RollbackIndexNotSaved {
        version: String,
        index: u64,
        path: PathBuf,
        reason: String,
    },
    #[error("another install is running on this device ({path} is locked)")]
    InstallInProgress { path: PathBuf },
    #[error("device profile {path}: {reason}")]
    Profile { path: PathBuf, reason: String },
    #[error("wipe {role} is not configured on this device ({product}): the profile lists no [[wipe]] partition with role = \"{role}\"")]
    WipeNotConfigured {
        product: String,
        role: crate::device::profile::WipeRole,
    },
    #[error("internal partitions {devices:?} are all named {name:?}: /dev/block/by-name/{name} would be a guess")]
    PartitionNameDuplicate { name: String, devices: Vec<String> },
    #[error("version {version} is installed{} and active, but wiping data failed: {source}", .slot.map(|s| format!(" in slot {s}")).unwrap_or_default())]
    InstalledWipeFailed {
        version: String,
        slot: Option<crate::device::Slot>,
        #[source]
        source: Box<Error>,
    },
    #[error("package spec: {reason}")]
    PackSpec { reason: String },
    #[error("key: {0}")]
    Key(#[from] KeyError),
    #[error("cancelled before anything was written")]
    Cancelled,
    #[error("internal error: {reason}")]
    Internal { reason: String },
    #[error("cannot mount {device} ({fstype}): {reason}")]
    StorageMount {
        device: PathBuf,
        fstype: String,
        reason: String,
    },
    #[error("wiping {partition} ({path}) failed: {reason}")]
    Wipe {
        partition: String,
        path: PathBuf,
        reason: String,
    },
    #[error("starting recovery: {step}: {reason}")]
    RecoveryInit { step: String, reason: String },
    #[error("recovery command file {path}: {reason}")]
    CommandFile { path: PathBuf, reason: String },
    #[error("{action} failed: {reason}")]
    Power { action: String, reason: String },
    #[error("refusing to write {partition} to {path}: it is a partition of the booted slot {slot}, the running system")]
    BootedSlotWrite {
        partition: String,
        path: PathBuf,
        slot: crate::device::Slot,
    },
    #[error("the install of {version} switched to slot {slot}, which did not start: the bootloader returned to slot {running}")]
    FellBack {
        version: String,
        slot: crate::device::Slot,
        running: crate::device::Slot,
    },
    #[error("health check {command:?} failed: {reason}")]
    HealthCheck { command: String, reason: String },
    #[error("health check {command:?} did not finish within {timeout_s} s")]
    HealthCheckTimeout { command: String, timeout_s: u64 },
    #[error("slot {other} is not bootable: marking slot {slot} bad would leave nothing to boot")]
    NoFallbackSlot {
        slot: crate::device::Slot,
        other: crate::device::Slot,
    },
    #[error("no booted slot: {reason}")]
    NoBootedSlot { reason: String },
    #[error("adb sideload: {0}")]
    Sideload(#[from] crate::sideload::SideloadError),
}

impl HasCode for Error {
    fn code(&self) -> Code {
        match self {
            Error::PackageOpen { .. } | Error::NoPackage { .. } => Code::PackageNotFound,
            Error::PackageNotAFile { .. } => Code::PackageNotAFile,
            Error::PackageRead { source } => {
                crate::package::source::fault_code(source).unwrap_or(Code::PackageRead)
            }
            Error::Zip(z) => z.code(),
            Error::ManifestMissing { .. } => Code::ManifestMissing,
            Error::SignatureMissing { .. } => Code::SignatureMissing,
            Error::SignatureInvalid { .. } => Code::SignatureInvalid,
            Error::UntrustedKey { .. } => Code::UntrustedKey,
            Error::TrustedKeys { .. } => Code::TrustedKeysInvalid,
            Error::ManifestInvalid { .. } => Code::ManifestInvalid,
            Error::ManifestVersion { .. } => Code::ManifestVersion,
            Error::EntryNotInManifest { .. } => Code::EntryNotInManifest,
            Error::EntryMissing { .. } => Code::EntryMissing,
            Error::ProductMismatch { .. } => Code::ProductMismatch,
            Error::HardwareMismatch { .. } => Code::HardwareMismatch,
            Error::BasebandMismatch { .. } => Code::BasebandMismatch,
            Error::Rollback { .. } => Code::Rollback,
            Error::BatteryLow { .. } => Code::BatteryLow,
            Error::InsufficientStorage { .. } => Code::InsufficientStorage,
            Error::ImageTooLarge { .. } => Code::ImageTooLarge,
            Error::UnknownPartition { .. } => Code::UnknownPartition,
            Error::DeviceFact { .. } => Code::DeviceFact,
            Error::ChunkHashMismatch { .. } => Code::ChunkHashMismatch,
            Error::ImageHashMismatch { .. } => Code::ImageHashMismatch,
            Error::EntrySizeMismatch { .. } => Code::EntrySizeMismatch,
            Error::SparseInvalid { .. } => Code::SparseInvalid,
            Error::SparseCrcMismatch { .. } => Code::SparseCrcMismatch,
            // A failure of one kind of flash carries its own code inside the io::Error.
            Error::PartitionOpen { source, .. } => {
                FlashError::code_of(source).unwrap_or(Code::PartitionOpen)
            }
            Error::Write { source, .. } => FlashError::code_of(source).unwrap_or(Code::WriteFailed),
            Error::FlashRefused { source, .. } => {
                FlashError::code_of(source).unwrap_or(Code::PartitionOpen)
            }
            Error::Flush { source, .. } => FlashError::code_of(source).unwrap_or(Code::FlushFailed),
            Error::SlotSwitch { .. } => Code::SlotSwitchFailed,
            Error::SlotState { .. } => Code::SlotStateInvalid,
            Error::SlotRename { source, .. } => {
                FlashError::code_of(source).unwrap_or(Code::SlotSwitchFailed)
            }
            Error::StateWrite { .. } => Code::StateWriteFailed,
            Error::ResumeNeedsPackage { .. } => Code::ResumeNeedsPackage,
            Error::TargetProtected { .. } => Code::TargetProtected,
            Error::RollbackIndexNotSaved { .. } => Code::RollbackIndexNotSaved,
            Error::InstallInProgress { .. } => Code::InstallInProgress,
            Error::Profile { .. } => Code::ProfileInvalid,
            Error::WipeNotConfigured { .. } => Code::WipeNotConfigured,
            Error::PartitionNameDuplicate { .. } => Code::PartitionNameDuplicate,
            Error::InstalledWipeFailed { .. } => Code::InstalledWipeFailed,
            Error::PackSpec { .. } => Code::PackSpecInvalid,
            Error::Key(_) => Code::KeyInvalid,
            Error::Cancelled => Code::Cancelled,
            Error::Internal { .. } => Code::Internal,
            Error::StorageMount { .. } => Code::StorageMountFailed,
            Error::Wipe { .. } => Code::WipeFailed,
            Error::RecoveryInit { .. } => Code::RecoveryInitFailed,
            Error::CommandFile { .. } => Code::CommandFileInvalid,
            Error::Power { .. } => Code::PowerFailed,
            Error::BootedSlotWrite { .. } => Code::BootedSlotWrite,
            Error::FellBack { .. } => Code::FellBack,
            Error::HealthCheck { .. } => Code::HealthCheckFailed,
            Error::HealthCheckTimeout { .. } => Code::HealthCheckTimeout,
            Error::NoFallbackSlot { .. } => Code::NoFallbackSlot,
            Error::NoBootedSlot { .. } => Code::NoBootedSlot,
            Error::Sideload(e) => e.code(),
        }
    }
}

impl Error {
    /// Maps an I/O error from a package entry stream: the zip reader wraps its own typed
    /// errors (size lies, CRC) inside io::Error; anything else is a failing medium.
    pub fn from_package_io(e: std::io::Error) -> Error {
        if !e.get_ref().is_some_and(|inner| inner.is::<ZipError>()) {
            return Error::PackageRead { source: e };
        }
        match e.into_inner().map(|b| b.downcast::<ZipError>()) {
            Some(Ok(z)) => Error::Zip(*z),
            _ => Error::Internal {
                reason: "zip error lost its type".into(),
            },
        }
    }
}
