//! Units reached through the host's adb server instead of our own TCP transport: a USB unit (a
//! bare serial) can only be reached that way, and `station` with no `--devices` finds its units
//! there (`adb devices -l`, every device in state `sideload`).
//!
//! The adb server's "smart socket" protocol (AOSP `packages/modules/adb/SERVICES.TXT`,
//! `OVERVIEW.TXT`), on 127.0.0.1:$ANDROID_ADB_SERVER_PORT (default 5037): each request is 4 hex
//! digits of length then the text; the answer is `OKAY`, or `FAIL` + 4 hex digits + a message.
//! `host:transport:SERIAL` binds the socket to one device; `sideload-host:SIZE:BLOCKSIZE` then
//! opens that service on it, after which the socket carries the stream's bytes as they are: the
//! unit writes 8-digit block numbers, we answer with blocks, the unit ends with `DONEDONE` or
//! `FAILFAIL` (and our recovery's code after it). This is what `adb sideload` itself does.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use super::unit::BLOCK_SIZE;
use crate::sideload::{protocol, SideloadError};

/// A device line of `adb devices -l`: its serial and state (`sideload`, `device`, `offline`,
/// `unauthorized`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub serial: String,
    pub state: String,
}

/// Parses `adb devices [-l]`: after the "List of devices attached" header, `SERIAL STATE
/// [key:value ...]` per line (the separator is a tab, or spaces with -l). Daemon start-up
/// chatter (`* daemon ...`) is skipped.
pub fn parse_devices(text: &str) -> Vec<Listed> {
    text.lines()
        .filter(|l| !l.starts_with('*') && !l.starts_with("List of devices"))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some(Listed {
                serial: w.next()?.to_string(),
                state: w.next()?.to_string(),
            })
        })
        .collect()
}

/// Runs the host's `adb devices -l` (which starts its server if needed).
pub fn devices() -> Result<Vec<Listed>, String> {
    let out = Command::new("adb")
        .args(["devices", "-l"])
        .output()
        .map_err(|e| format!("cannot run the host's adb ({e}); install it (Debian: adb)"))?;
    if !out.status.success() {
        return Err(format!(
            "adb devices failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(parse_devices(&String::from_utf8_lossy(&out.stdout)))
}

/// A unit as the station reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// HOST:PORT (or HOST): our own adb transport over TCP.
    Tcp(String),
    /// An adb serial: through the host's adb server.
    Adb(String),
}

impl Target {
    pub fn name(&self) -> &str {
        match self {
            Target::Tcp(n) | Target::Adb(n) => n,
        }
    }
}

/// True for `HOST:PORT` (a numeric port after the last colon).
fn has_port(name: &str) -> bool {
    name.rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
}

/// Decides how each `--devices` name is reached. `HOST:PORT` is ours (TCP). A bare name is
/// looked up in the host's adb list (asked once, only when needed): listed, it goes through the
/// host's adb (a USB serial); not listed (or no adb), it is a host on port 5555. With no names,
/// every listed device in state `sideload`; none is an error.
pub fn resolve(
    names: &[String],
    list: &mut dyn FnMut() -> Result<Vec<Listed>, String>,
) -> Result<Vec<Target>, String> {
    if names.is_empty() {
        let found: Vec<Target> = list()?
            .into_iter()
            .filter(|d| d.state == "sideload")
            .map(|d| Target::Adb(d.serial))
            .collect();
        if found.is_empty() {
            return Err("`adb devices` lists no device in state sideload".into());
        }
        return Ok(found);
    }
    let mut listed: Option<Vec<Listed>> = None;
    Ok(names
        .iter()
        .map(|n| {
            if has_port(n) {
                return Target::Tcp(n.clone());
            }
            let l = listed.get_or_insert_with(|| list().unwrap_or_default());
            if l.iter().any(|d| d.serial == *n) {
                Target::Adb(n.clone())
            } else {
                Target::Tcp(n.clone())
            }
        })
        .collect())
}

/// The adb server's port: $ANDROID_ADB_SERVER_PORT, else 5037.
fn server_port() -> u16 {
    std::env::var("ANDROID_ADB_SERVER_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5037)
}

/// One smart-socket request and its OKAY / FAIL answer.
fn request(s: &mut TcpStream, what: &str) -> Result<(), SideloadError> {
    let io = |e: std::io::Error| SideloadError::Disconnected {
        reason: format!("adb server, {what}: {e}"),
    };
    s.write_all(format!("{:04x}{what}", what.len()).as_bytes())
        .map_err(io)?;
    let mut status = [0u8; 4];
    s.read_exact(&mut status).map_err(io)?;
    if &status == b"OKAY" {
        return Ok(());
    }
    let mut len = [0u8; 4];
    let mut msg = String::new();
    if s.read_exact(&mut len).is_ok() {
        let n = usize::from_str_radix(&String::from_utf8_lossy(&len), 16).unwrap_or(0);
        let mut buf = vec![0u8; n.min(4096)];
        if s.read_exact(&mut buf).is_ok() {
            msg = String::from_utf8_lossy(&buf).into_owned();
        }
    }
    Err(SideloadError::Connect {
        addr: format!("adb server, {what}"),
        source: std::io::Error::other(format!("{}: {msg}", String::from_utf8_lossy(&status))),
    })
}

/// Opens `sideload-host:SIZE:65536` on `serial` through the host's adb server; the returned
/// socket carries the raw stream.
pub fn open_sideload(serial: &str, size: u64) -> Result<TcpStream, SideloadError> {
    let port = server_port();
    let mut s =
        TcpStream::connect(("127.0.0.1", port)).map_err(|source| SideloadError::Connect {
            addr: format!("the host's adb server at 127.0.0.1:{port}"),
            source,
        })?;
    // The unit's answers come at the pace of its install; a silent unit is a lost one.
    let _ = s.set_read_timeout(Some(crate::sideload::conn::IDLE_TIMEOUT));
    request(&mut s, &format!("host:transport:{serial}"))?;
    request(&mut s, &format!("sideload-host:{size}:{BLOCK_SIZE}"))?;
    Ok(s)
}

/// What the unit said next on the raw stream.
pub enum Said {
    Block(u64),
    Done,
    /// FAILFAIL and the code that followed it (None: a recovery that sends none).
    Failed(Option<u16>),
}

/// Reads the unit's next 8 bytes (a block number, DONEDONE or FAILFAIL + code).
pub fn next(s: &mut TcpStream) -> Result<Said, SideloadError> {
    let mut w = [0u8; 8];
    s.read_exact(&mut w)
        .map_err(|e| SideloadError::Disconnected {
            reason: format!("the unit's stream ended: {e}"),
        })?;
    if &w == crate::sideload::service::EXIT_SUCCESS {
        return Ok(Said::Done);
    }
    if &w == crate::sideload::service::EXIT_FAILURE {
        // Our recovery sends its code right after, in the same write; read what is there.
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut rest = [0u8; 16];
        let mut got = 0;
        while got < rest.len() {
            match s.read(&mut rest[got..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
            if rest[..got].contains(&b'\n') {
                break;
            }
        }
        let code = std::str::from_utf8(&rest[..got])
            .ok()
            .and_then(|t| t.trim().parse().ok());
        return Ok(Said::Failed(code));
    }
    std::str::from_utf8(&w)
        .ok()
        .and_then(|t| t.parse().ok())
        .map(Said::Block)
        .ok_or_else(|| protocol("the unit sent a malformed block request"))
}

#[cfg(test)]
#[path = "adb_host_tests.rs"]
mod tests;
