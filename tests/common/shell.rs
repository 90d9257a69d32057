//! Running the system tools the tests need (mkfs.*, sfdisk, mtools, openssl, U-Boot's env
//! tools, python3...). `scripts/test` installs all of them; a test never skips because one is
//! missing: it fails and says which tool and how to get it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `cmd` and returns its output whatever its status. A tool that is not installed fails
/// the test with its name and the command that installs it.
pub fn tool_output(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| not_runnable(cmd, &e))
}

/// Runs `cmd`, insists it succeeds, and returns its stdout.
pub fn sh(cmd: &mut Command) -> String {
    let out = tool_output(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `cmd` with `input` on its stdin and insists it succeeds.
pub fn sh_with_input(cmd: &mut Command, input: &[u8]) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| not_runnable(cmd, &e));
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{cmd:?} failed");
}

fn not_runnable(cmd: &Command, e: &std::io::Error) -> ! {
    let program = cmd.get_program().to_string_lossy();
    if e.kind() == std::io::ErrorKind::NotFound {
        panic!(
            "{program} is not installed; `scripts/test` installs every tool the tests use \
             (as root), or prints the apt-get line that does"
        );
    }
    panic!("{cmd:?}: {e}");
}

/// Runs `cmd`, insists it succeeds, and returns all it said: status, stdout and stderr
/// ([`super::text`]), for checks that do not care which stream a line went to.
pub fn sh_all(cmd: &mut Command) -> String {
    let out = tool_output(cmd);
    let all = super::text(&out);
    assert!(out.status.success(), "{cmd:?} failed: {all}");
    all
}
