//! Resource limits for the updater under test: its data memory capped (RLIMIT_DATA), so a
//! package that made it allocate too much fails in its allocator instead of answering with a
//! code; its file writes capped (RLIMIT_FSIZE), so it dies at a chosen byte.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// The data memory (heap and private writable mappings, RLIMIT_DATA) a bounded run gets.
pub const DATA_LIMIT: u64 = 32 << 20;

/// Puts `cmd` under [`DATA_LIMIT`].
pub fn bounded(cmd: &mut Command) -> &mut Command {
    limited(cmd, libc::RLIMIT_DATA, DATA_LIMIT)
}

/// Puts `cmd` under RLIMIT_FSIZE = `bytes`: the kernel kills it (SIGXFSZ) at its first write at
/// or past that offset in any file, the same byte every run (a power cut at a chosen point).
pub fn killed_past(cmd: &mut Command, bytes: u64) -> &mut Command {
    limited(cmd, libc::RLIMIT_FSIZE, bytes)
}

fn limited(cmd: &mut Command, resource: libc::__rlimit_resource_t, value: u64) -> &mut Command {
    // SAFETY: the closure runs in the child between fork and exec and only calls setrlimit,
    // which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            if libc::setrlimit(resource, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}
