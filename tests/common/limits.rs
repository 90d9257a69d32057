//! Resource limits for the updater under test: its data memory capped (RLIMIT_DATA), so a
//! package that made it allocate too much fails in its allocator instead of answering with a
//! code.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// The data memory (heap and private writable mappings, RLIMIT_DATA) a bounded run gets.
pub const DATA_LIMIT: u64 = 32 << 20;

/// Puts `cmd` under [`DATA_LIMIT`].
pub fn bounded(cmd: &mut Command) -> &mut Command {
    // SAFETY: the closure runs in the child between fork and exec and only calls setrlimit,
    // which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: DATA_LIMIT,
                rlim_max: DATA_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}
