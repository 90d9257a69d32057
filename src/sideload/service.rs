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

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::conn::Conn;
use super::message::{command_name, Message, A_CLSE, A_OKAY, A_OPEN, A_WRTE};
use super::{protocol, SideloadError};
use crate::error::Code;
use crate::package::Source;

/// Largest block size a host may ask for (adb uses 64 KiB).
pub const MAX_BLOCK_SIZE: u32 = 1 << 20;
/// Block numbers travel as 8 decimal digits.
pub const MAX_BLOCKS: u64 = 99_999_999;
/// Blocks kept: the end of the zip is read a few times while it is opened.
const CACHE_BLOCKS: usize = 8;

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

/// The open `sideload-host` stream and what it has delivered.
struct Link {
    conn: Conn,
    /// Our stream id and the host's.
    local: u32,
    remote: u32,
    cache: VecDeque<(u64, Vec<u8>)>,
    /// The first failure; every later read returns it again.
    fault: Option<(Code, String)>,
}

/// A package served by the host, block by block.
pub struct HostBlocks {
    link: Mutex<Link>,
    size: u64,
    block_size: u32,
    received: AtomicU64,
}

impl std::fmt::Debug for HostBlocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostBlocks({} bytes)", self.size)
    }
}

impl HostBlocks {
    /// Accepts the host's OPEN (already parsed) on `conn`: answers OKAY with our stream id.
    pub fn open(
        mut conn: Conn,
        local: u32,
        remote: u32,
        size: u64,
        block_size: u32,
    ) -> Result<HostBlocks, SideloadError> {
        if block_size as usize > conn.max_payload.max(1) * 64 {
            return Err(protocol("block size larger than the link can carry"));
        }
        conn.send(&Message::new(A_OKAY, local, remote, Vec::new()))?;
        Ok(HostBlocks {
            link: Mutex::new(Link {
                conn,
                local,
                remote,
                cache: VecDeque::new(),
                fault: None,
            }),
            size,
            block_size,
            received: AtomicU64::new(0),
        })
    }

    /// Package bytes received from the host so far (blocks asked twice count twice).
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// The first transport failure, if any (its code beats whatever the engine made of it).
    pub fn fault(&self) -> Option<(Code, String)> {
        self.link.lock().ok().and_then(|l| l.fault.clone())
    }

    /// Ends the stream: `DONEDONE`, or `FAILFAIL` and the code; then closes the connection.
    pub fn finish(&self, code: Option<Code>) {
        let Ok(mut link) = self.link.lock() else {
            return;
        };
        let Link {
            conn,
            local,
            remote,
            ..
        } = &mut *link;
        let payload = match code {
            None => EXIT_SUCCESS.to_vec(),
            Some(c) => format!("FAILFAIL{}\n", c.number()).into_bytes(),
        };
        if conn
            .send(&Message::new(A_WRTE, *local, *remote, payload))
            .is_err()
        {
            return;
        }
        // Wait for the host to take it (its OKAY, or its CLSE once the client read the status),
        // so closing cannot drop the status in flight.
        conn.set_timeout(Some(Duration::from_secs(10)));
        while let Ok(m) = conn.recv() {
            if m.command == A_OKAY || m.command == A_CLSE {
                break;
            }
        }
        let _ = conn.send(&Message::new(A_CLSE, *local, *remote, Vec::new()));
        conn.shutdown();
        conn.set_timeout(Some(Duration::from_secs(2)));
        while conn.recv().is_ok() {}
    }

    /// Length of block `n` (the last one is short).
    fn block_len(&self, n: u64) -> usize {
        let start = n * u64::from(self.block_size);
        (self.size - start).min(u64::from(self.block_size)) as usize
    }

    fn fetch(&self, link: &mut Link, n: u64) -> Result<Vec<u8>, SideloadError> {
        let asked = self.block_len(n);
        let (local, remote) = (link.local, link.remote);
        link.conn.send(&Message::new(
            A_WRTE,
            local,
            remote,
            format!("{n:08}").into_bytes(),
        ))?;
        let mut acked = false;
        let mut data = Vec::with_capacity(asked);
        while !acked || data.len() < asked {
            let m = link.conn.recv()?;
            let ours = m.arg1 == local;
            match m.command {
                A_OKAY if ours => acked = true,
                A_WRTE if ours => {
                    let sent = data.len() + m.data.len();
                    if !acked || sent > asked {
                        let last = (n + 1) * u64::from(self.block_size) >= self.size;
                        return Err(if acked && last {
                            SideloadError::LargerThanAnnounced { size: self.size }
                        } else {
                            SideloadError::TooMuch {
                                block: n,
                                asked,
                                sent,
                            }
                        });
                    }
                    data.extend_from_slice(&m.data);
                    link.conn
                        .send(&Message::new(A_OKAY, local, remote, Vec::new()))?;
                }
                A_CLSE if ours => {
                    return Err(if data.is_empty() {
                        SideloadError::Disconnected {
                            reason: format!("the host closed the stream before block {n}"),
                        }
                    } else {
                        SideloadError::TooLittle {
                            block: n,
                            asked,
                            got: data.len(),
                        }
                    });
                }
                // Another service while we install: refused, the install goes on.
                A_OPEN => link
                    .conn
                    .send(&Message::new(A_CLSE, 0, m.arg0, Vec::new()))?,
                A_OKAY | A_CLSE | A_WRTE => {}
                other => {
                    return Err(protocol(format!(
                        "unexpected {} during the transfer",
                        command_name(other)
                    )))
                }
            }
        }
        self.received.fetch_add(asked as u64, Ordering::Relaxed);
        Ok(data)
    }

    fn block(&self, n: u64, f: impl FnOnce(&[u8]) -> usize) -> io::Result<usize> {
        let mut link = self
            .link
            .lock()
            .map_err(|_| io::Error::other("sideload link poisoned"))?;
        if let Some((code, message)) = &link.fault {
            return Err(crate::package::source::SourceFault {
                code: *code,
                message: message.clone(),
            }
            .into_io());
        }
        if let Some((_, data)) = link.cache.iter().find(|(b, _)| *b == n) {
            return Ok(f(data));
        }
        match self.fetch(&mut link, n) {
            Ok(data) => {
                let out = f(&data);
                if link.cache.len() == CACHE_BLOCKS {
                    link.cache.pop_front();
                }
                link.cache.push_back((n, data));
                Ok(out)
            }
            Err(e) => {
                let fault = e.to_fault();
                link.fault = Some((fault.code, fault.message.clone()));
                Err(fault.into_io())
            }
        }
    }
}

impl Source for HostBlocks {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if offset >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let bs = u64::from(self.block_size);
        let n = offset / bs;
        let within = (offset % bs) as usize;
        self.block(n, |data| {
            let avail = data.get(within..).unwrap_or_default();
            let k = avail.len().min(buf.len());
            buf[..k].copy_from_slice(&avail[..k]);
            k
        })
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.size)
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
