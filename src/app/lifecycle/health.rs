//! The profile's health check: a command mark-good runs before it confirms the booted slot
//! (`health_check = { command = [...], timeout_s = N }`, docs/DEVICE.md). Exit status 0 means
//! healthy; anything else, or no exit within the timeout, refuses mark-good.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::device::profile::HealthCheck;
use crate::Error;

/// How often the child is polled while it runs.
const POLL: Duration = Duration::from_millis(20);

/// Runs the check in `dir` (the profile's folder) with stdin and stdout closed and stderr
/// passed through. 9122 when it fails or cannot start, 9123 when it outlives its timeout (it
/// is then killed with its whole process group).
pub fn run_health_check(h: &HealthCheck, dir: &Path) -> Result<(), Error> {
    use std::os::unix::process::CommandExt;
    let shown = h.command.join(" ");
    let failed = |reason: String| Error::HealthCheck {
        command: shown.clone(),
        reason,
    };
    let mut child = Command::new(&h.command[0])
        .args(&h.command[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // Its own process group, so a timeout kills what it started too (a shell's children
        // would otherwise keep running, and keep our stderr open).
        .process_group(0)
        .spawn()
        .map_err(|e| failed(format!("cannot start: {e}")))?;
    let deadline = Instant::now() + Duration::from_secs(h.timeout_s);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(failed(status.to_string())),
            Ok(None) if Instant::now() >= deadline => {
                let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                return Err(Error::HealthCheckTimeout {
                    command: shown,
                    timeout_s: h.timeout_s,
                });
            }
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => return Err(failed(e.to_string())),
        }
    }
}
