//! The recovery screen in a real terminal: a program in its own tmux server (80x25), driven by
//! send-keys and read back with capture-pane; the server is killed on drop.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{text, tool_output};

/// How long [`Tmux::wait_for`] polls: far longer than any screen takes; only a hang reaches it.
const SCREEN_DEADLINE: Duration = Duration::from_secs(60);

pub struct Tmux {
    sock: String,
    /// The server's socket file, removed with the server.
    socket_path: Option<PathBuf>,
    /// Everything the program wrote to the terminal (tmux pipe-pane), to see screens that
    /// were up too briefly for a capture.
    stream: PathBuf,
}

impl Tmux {
    /// A `tmux` command talking to this test's server.
    pub fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-L").arg(&self.sock);
        c
    }

    /// Starts `program` (a shell command line) in a new server named after `name` and this
    /// process; the terminal stream is recorded in `dir`.
    pub fn start(name: &str, dir: &Path, program: &str) -> Tmux {
        let mut t = Tmux {
            sock: format!("ru-test-{}-{name}", std::process::id()),
            socket_path: None,
            stream: dir.join(format!("{name}.stream")),
        };
        // Keep the pane after the program exits so its last words and status can be read.
        let shell = format!("{program}; echo \"[exit status $?]\"; sleep 600");
        let out = tool_output(
            t.tmux()
                .args([
                    "-f",
                    "/dev/null",
                    "new-session",
                    "-d",
                    "-x",
                    "80",
                    "-y",
                    "25",
                ])
                .args(["-s", "main"])
                .arg(shell)
                .env("TERM", "xterm"),
        );
        assert!(out.status.success(), "tmux: {}", text(&out));
        let out = t
            .tmux()
            .args(["display-message", "-p", "#{socket_path}"])
            .output()
            .unwrap();
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        t.socket_path = (!path.is_empty()).then(|| PathBuf::from(path));
        let out = t
            .tmux()
            .args(["pipe-pane", "-t", "main", "-o"])
            .arg(format!("cat >> {}", t.stream.display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "pipe-pane: {}", text(&out));
        t
    }

    /// The screen as text.
    pub fn capture(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", "main"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends each of `keys` (tmux key names) in turn.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let out = self
                .tmux()
                .args(["send-keys", "-t", "main", k])
                .output()
                .unwrap();
            assert!(out.status.success(), "send-keys {k}: {}", text(&out));
        }
    }

    /// Polls the screen until it shows every one of `needles` and has settled; returns that
    /// screen. Settled means two captures 50 ms apart are the same: a capture can land while
    /// the program is still writing a frame (CI once caught the menu drawn without its footer),
    /// and a caller that asserts on the rest of the screen must see the whole frame.
    pub fn wait_for(&self, needles: &[&str]) -> String {
        let t0 = Instant::now();
        let mut last = String::new();
        loop {
            let screen = self.capture();
            if needles.iter().all(|n| screen.contains(n)) && screen == last {
                return screen;
            }
            last = screen.clone();
            assert!(
                t0.elapsed() < SCREEN_DEADLINE,
                "screen never showed {needles:?}; it shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the program wrote, escape sequences and all.
    pub fn stream(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.stream).unwrap_or_default()).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
        if let Some(p) = &self.socket_path {
            let _ = fs::remove_file(p);
        }
    }
}
