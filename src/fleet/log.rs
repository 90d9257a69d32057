//! The agent's log: `<cache_dir>/agent.log`, one timestamped line per event, also on stderr.
//! Bounded: past [`MAX`] bytes the file becomes `agent.log.1` (replacing the older one), so a
//! device polling for years keeps at most twice [`MAX`].

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const MAX: u64 = 256 << 10;

pub struct Log {
    path: PathBuf,
    quiet: bool,
}

impl Log {
    pub fn new(cache_dir: &Path, quiet: bool) -> Log {
        Log {
            path: cache_dir.join("agent.log"),
            quiet,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn line(&self, text: &str) {
        let line = format!("{} {text}\n", crate::util::rfc3339(crate::util::unix_now()));
        if !self.quiet {
            eprint!("{line}");
        }
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() + line.len() as u64 > MAX) {
            let _ = std::fs::rename(&self.path, self.path.with_extension("log.1"));
        }
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
}
