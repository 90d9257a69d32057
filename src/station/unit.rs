//! One unit: the host side of `adb sideload` spoken directly over TCP. Connect, CNXN, open
//! `sideload-host:SIZE:BLOCKSIZE`, answer each 8-digit block request with that block of the
//! package, until the unit says `DONEDONE` or `FAILFAIL` (followed by its code).

use std::collections::VecDeque;
use std::fs::File;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use super::adb_host::{self, Said, Target};
use super::{Phase, UnitStatus};
use crate::error::{Code, HasCode};
use crate::sideload::conn::{banner_product, nul_terminated, Conn};
use crate::sideload::message::{Message, A_CLSE, A_OKAY, A_OPEN, A_WRTE};
use crate::sideload::service::{EXIT_FAILURE, EXIT_SUCCESS};
use crate::sideload::{protocol, SideloadError, DEFAULT_PORT};

/// The block size `adb sideload` uses.
pub const BLOCK_SIZE: u32 = 65536;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Our stream id.
const LOCAL: u32 = 1;

/// Runs one unit to its end; `update` gets every change of state.
pub fn run(target: &Target, file: &File, size: u64, mut update: impl FnMut(&UnitStatus)) {
    let mut s = UnitStatus::new(target.name(), size);
    let t0 = Instant::now();
    s.phase = Phase::Connecting;
    update(&s);
    let result = match target {
        Target::Tcp(t) => session(t, file, size, &mut s, t0, &mut update),
        Target::Adb(serial) => session_adb(serial, file, size, &mut s, t0, &mut update),
    };
    s.seconds = t0.elapsed().as_secs_f64();
    match result {
        Ok(None) => {
            s.phase = Phase::Passed;
            s.percent = 100;
            s.message = "installed".into();
        }
        Ok(Some(code)) => {
            s.phase = Phase::Failed;
            s.code = code;
            s.message = Code::from_number(code).map_or_else(
                || "failed".into(),
                |c| format!("{}: {}", c.name(), c.meaning()),
            );
        }
        Err(e) => {
            s.phase = Phase::Failed;
            s.code = e.code().number();
            s.message = e.to_string();
        }
    }
    update(&s);
}

/// `Ok(None)` on DONEDONE, `Ok(Some(code))` on FAILFAIL (code 9099 if the unit sent none).
fn session(
    target: &str,
    file: &File,
    size: u64,
    s: &mut UnitStatus,
    t0: Instant,
    update: &mut impl FnMut(&UnitStatus),
) -> Result<Option<u16>, SideloadError> {
    let mut conn = Conn::connect(connect(target)?)?;
    s.product = banner_product(&conn.peer_banner).unwrap_or("").to_string();
    s.phase = Phase::Sending;
    update(s);
    conn.send(&Message::new(
        A_OPEN,
        LOCAL,
        0,
        nul_terminated(&format!("sideload-host:{size}:{BLOCK_SIZE}")),
    ))?;
    let remote = loop {
        let m = conn.recv()?;
        match m.command {
            A_OKAY if m.arg1 == LOCAL => break m.arg0,
            A_CLSE if m.arg1 == LOCAL => return Err(protocol("the unit refused sideload-host")),
            _ => continue,
        }
    };
    let mut buf = vec![0u8; BLOCK_SIZE as usize];
    let mut last_percent = 0;
    // Requests that arrived while we waited for an OKAY (the unit asks ahead), acknowledged.
    let mut queued: VecDeque<Vec<u8>> = VecDeque::new();
    loop {
        let data = match queued.pop_front() {
            Some(d) => d,
            None => next_write(&mut conn, remote)?,
        };
        let m = Message::new(A_WRTE, remote, LOCAL, data);
        if let Some(rest) = m.data.strip_prefix(EXIT_SUCCESS) {
            let _ = rest;
            return Ok(None);
        }
        if let Some(rest) = m.data.strip_prefix(EXIT_FAILURE) {
            let code = std::str::from_utf8(rest)
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(Code::Internal.number());
            return Ok(Some(code));
        }
        let block: u64 = std::str::from_utf8(&m.data)
            .ok()
            .filter(|t| t.len() == 8)
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| protocol("the unit sent a malformed block request"))?;
        let len = read_block(file, size, block, &mut buf)?;
        for chunk in buf[..len].chunks(conn.max_payload) {
            conn.send(&Message::new(A_WRTE, LOCAL, remote, chunk.to_vec()))?;
            wait_okay(&mut conn, remote, &mut queued)?;
        }
        sent(s, len, t0, &mut last_percent, update);
    }
}

/// Reads the package's block `block` (the last one may be short) into `buf`; returns its length.
/// A block past the end is the unit's protocol error.
fn read_block(file: &File, size: u64, block: u64, buf: &mut [u8]) -> Result<usize, SideloadError> {
    let offset = block.saturating_mul(u64::from(BLOCK_SIZE));
    if offset >= size {
        return Err(protocol(format!(
            "the unit asked for block {block}, past the end"
        )));
    }
    let len = (size - offset).min(u64::from(BLOCK_SIZE)) as usize;
    file.read_exact_at(&mut buf[..len], offset)
        .map_err(|e| protocol(format!("reading the package: {e}")))?;
    Ok(len)
}

/// Counts `len` more bytes sent; `update` when the percent moved.
fn sent(
    s: &mut UnitStatus,
    len: usize,
    t0: Instant,
    last_percent: &mut u8,
    update: &mut impl FnMut(&UnitStatus),
) {
    s.sent += len as u64;
    let secs = t0.elapsed().as_secs_f64().max(1e-3);
    s.mb_per_s = s.sent as f64 / secs / 1e6;
    s.percent = (s.sent.saturating_mul(100) / s.size.max(1)).min(99) as u8;
    if s.percent != *last_percent {
        *last_percent = s.percent;
        update(s);
    }
}

/// The same run through the host's adb server ([`adb_host`]): the socket carries the stream's
/// bytes as they are, so there is no message framing or flow control of ours.
fn session_adb(
    serial: &str,
    file: &File,
    size: u64,
    s: &mut UnitStatus,
    t0: Instant,
    update: &mut impl FnMut(&UnitStatus),
) -> Result<Option<u16>, SideloadError> {
    let mut stream = adb_host::open_sideload(serial, size)?;
    s.phase = Phase::Sending;
    update(s);
    let mut buf = vec![0u8; BLOCK_SIZE as usize];
    let mut last_percent = 0;
    loop {
        let block = match adb_host::next(&mut stream)? {
            Said::Done => return Ok(None),
            Said::Failed(code) => return Ok(Some(code.unwrap_or(Code::Internal.number()))),
            Said::Block(b) => b,
        };
        let len = read_block(file, size, block, &mut buf)?;
        std::io::Write::write_all(&mut stream, &buf[..len]).map_err(|e| {
            SideloadError::Disconnected {
                reason: e.to_string(),
            }
        })?;
        sent(s, len, t0, &mut last_percent, update);
    }
}

/// The unit's next WRTE on our stream, acknowledged.
fn next_write(conn: &mut Conn, remote: u32) -> Result<Vec<u8>, SideloadError> {
    loop {
        let m = conn.recv()?;
        if m.command == A_CLSE && m.arg1 == LOCAL {
            return Err(SideloadError::Disconnected {
                reason: "the unit closed the stream without a result".into(),
            });
        }
        if m.command == A_WRTE && m.arg1 == LOCAL {
            conn.send(&Message::new(A_OKAY, LOCAL, remote, Vec::new()))?;
            return Ok(m.data);
        }
    }
}

/// Flow control: one WRTE in flight until the unit's OKAY. Requests the unit sends meanwhile
/// are acknowledged and queued.
fn wait_okay(
    conn: &mut Conn,
    remote: u32,
    queued: &mut VecDeque<Vec<u8>>,
) -> Result<(), SideloadError> {
    loop {
        let m = conn.recv()?;
        match m.command {
            A_OKAY if m.arg1 == LOCAL => return Ok(()),
            A_WRTE if m.arg1 == LOCAL => {
                conn.send(&Message::new(A_OKAY, LOCAL, remote, Vec::new()))?;
                queued.push_back(m.data);
            }
            A_CLSE if m.arg1 == LOCAL => {
                return Err(SideloadError::Disconnected {
                    reason: "the unit closed the stream mid-block".into(),
                })
            }
            _ => continue,
        }
    }
}

/// `HOST:PORT`, or a bare host (adb's default port 5555).
fn connect(target: &str) -> Result<TcpStream, SideloadError> {
    let with_port = match target.rsplit_once(':') {
        Some((_, p)) if p.parse::<u16>().is_ok() => target.to_string(),
        _ => format!("{target}:{DEFAULT_PORT}"),
    };
    let err = |source| SideloadError::Connect {
        addr: with_port.clone(),
        source,
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(err)?
        .next()
        .ok_or_else(|| err(std::io::Error::other("no address")))?;
    TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(err)
}
