//! [`HostBlocks`]: the package a `sideload-host` peer serves, as a [`Source`].
//!
//! The device writes a block number (8 ASCII digits), the host answers with that block. One WRTE
//! may be in flight per stream until its OKAY, but requests need not wait for the data: while the
//! engine reads an image front to back, up to [`READ_AHEAD`] further blocks are asked for ahead,
//! so the host's disk read, the wire and our hashing overlap (the host answers in order). The
//! host's data is then one byte stream that must match the outstanding requests exactly:
//! - data before a request was acknowledged, or beyond what was asked: 9151 (past the package's
//!   announced end: 9153);
//! - the stream closed part-way through a block: 9152; the connection lost: 9154.
//!
//! A failure poisons the source: every later read returns it again, so the engine stops and
//! nothing unverified is written.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::conn::Conn;
use super::message::{command_name, Message, A_CLSE, A_OKAY, A_OPEN, A_WRTE};
use super::service::{EXIT_SUCCESS, MAX_BLOCKS};
use super::{protocol, SideloadError};
use crate::error::Code;
use crate::package::source::SourceFault;
use crate::package::Source;

/// Blocks asked for ahead of a sequential reader (64 KiB each with adb's block size).
pub const READ_AHEAD: usize = 8;
/// Blocks kept: the zip's end is read a few times while it is opened, and blocks read ahead wait
/// here until the engine asks for them.
const CACHE_BLOCKS: usize = READ_AHEAD + 8;

/// A block asked for and the bytes of it received so far.
struct Pending {
    block: u64,
    len: usize,
    data: Vec<u8>,
}

/// The open `sideload-host` stream and what it has delivered.
struct Link {
    conn: Conn,
    /// Our stream id and the host's.
    local: u32,
    remote: u32,
    /// Requests sent, oldest first; the host answers them in this order.
    pending: VecDeque<Pending>,
    /// The newest request has not been acknowledged yet (one WRTE in flight per stream).
    awaiting_okay: bool,
    /// The block the engine asked for last (read-ahead starts when it asks for the next).
    last_asked: Option<u64>,
    cache: VecDeque<(u64, Vec<u8>)>,
    /// The first failure; every later read returns it again.
    fault: Option<SourceFault>,
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
        if size.div_ceil(u64::from(block_size.max(1))) > MAX_BLOCKS {
            return Err(protocol("too many blocks"));
        }
        conn.send(&Message::new(A_OKAY, local, remote, Vec::new()))?;
        Ok(HostBlocks {
            link: Mutex::new(Link {
                conn,
                local,
                remote,
                pending: VecDeque::new(),
                awaiting_okay: false,
                last_asked: None,
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

    /// The first transport failure, if any.
    pub fn fault(&self) -> Option<(Code, String)> {
        self.link
            .lock()
            .ok()
            .and_then(|l| l.fault.as_ref().map(|f| (f.code, f.message.clone())))
    }

    fn blocks(&self) -> u64 {
        self.size.div_ceil(u64::from(self.block_size))
    }

    /// Length of block `n` (the last one is short).
    fn block_len(&self, n: u64) -> usize {
        let start = n * u64::from(self.block_size);
        (self.size - start).min(u64::from(self.block_size)) as usize
    }

    /// Ends the stream: `DONEDONE`, or `FAILFAIL` and the code; then closes the connection.
    /// Blocks still read ahead are taken first, so the host reads the status next.
    pub fn finish(&self, code: Option<Code>) {
        let Ok(mut link) = self.link.lock() else {
            return;
        };
        if link.fault.is_none() {
            while !link.pending.is_empty() || link.awaiting_okay {
                if self.pump(&mut link).is_err() {
                    return;
                }
            }
        }
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

    /// Sends a request for block `n` (the previous one was acknowledged).
    fn request(&self, link: &mut Link, n: u64) -> Result<(), SideloadError> {
        let (local, remote) = (link.local, link.remote);
        link.conn.send(&Message::new(
            A_WRTE,
            local,
            remote,
            format!("{n:08}").into_bytes(),
        ))?;
        link.awaiting_okay = true;
        let len = self.block_len(n);
        link.pending.push_back(Pending {
            block: n,
            len,
            data: Vec::with_capacity(len),
        });
        Ok(())
    }

    /// Takes one message from the host and files its bytes under the pending requests.
    fn pump(&self, link: &mut Link) -> Result<(), SideloadError> {
        let m = link.conn.recv()?;
        let ours = m.arg1 == link.local;
        match m.command {
            A_OKAY if ours => link.awaiting_okay = false,
            A_WRTE if ours => {
                self.take(link, &m.data)?;
                let (local, remote) = (link.local, link.remote);
                link.conn
                    .send(&Message::new(A_OKAY, local, remote, Vec::new()))?;
            }
            A_CLSE if ours => {
                return Err(match link.pending.front() {
                    Some(p) if !p.data.is_empty() => SideloadError::TooLittle {
                        block: p.block,
                        asked: p.len,
                        got: p.data.len(),
                    },
                    _ => SideloadError::Disconnected {
                        reason: "the host closed the stream".into(),
                    },
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
        Ok(())
    }

    /// Files `data` under the acknowledged pending requests, oldest first.
    fn take(&self, link: &mut Link, mut data: &[u8]) -> Result<(), SideloadError> {
        // The newest request may not be answered before the host acknowledged it.
        let answerable = link.pending.len() - usize::from(link.awaiting_okay);
        let mut i = 0;
        while !data.is_empty() {
            let Some(p) = link.pending.get_mut(i).filter(|_| i < answerable) else {
                let last = link.pending.back().map(|p| p.block);
                let sent = data.len();
                return Err(match last {
                    Some(b) if b + 1 == self.blocks() && !link.awaiting_okay => {
                        SideloadError::LargerThanAnnounced { size: self.size }
                    }
                    _ => SideloadError::TooMuch {
                        block: link.pending.get(i).map_or(0, |p| p.block),
                        asked: link.pending.get(i).map_or(0, |p| p.len),
                        sent,
                    },
                });
            };
            let k = (p.len - p.data.len()).min(data.len());
            p.data.extend_from_slice(&data[..k]);
            data = &data[k..];
            if p.data.len() == p.len {
                i += 1;
            }
        }
        // Complete blocks move to the cache.
        while link.pending.front().is_some_and(|p| p.data.len() == p.len) {
            let Some(p) = link.pending.pop_front() else {
                break;
            };
            self.received.fetch_add(p.len as u64, Ordering::Relaxed);
            if link.cache.len() >= CACHE_BLOCKS {
                link.cache.pop_front();
            }
            link.cache.push_back((p.block, p.data));
        }
        Ok(())
    }

    /// Until block `n` is in the cache: ask for it (and, reading sequentially, the blocks after
    /// it), take what the host sends.
    fn fetch(&self, link: &mut Link, n: u64) -> Result<(), SideloadError> {
        let sequential = link.last_asked.is_some_and(|l| l + 1 == n);
        link.last_asked = Some(n);
        loop {
            if link.cache.iter().any(|(b, _)| *b == n) {
                return Ok(());
            }
            if !link.awaiting_okay {
                let asked = link.pending.iter().any(|p| p.block == n);
                let next = link.pending.back().map_or(n + 1, |p| p.block + 1);
                if !asked {
                    self.request(link, n)?;
                } else if sequential && link.pending.len() < READ_AHEAD && next < self.blocks() {
                    self.request(link, next)?;
                }
            }
            self.pump(link)?;
        }
    }

    fn block(&self, n: u64, f: impl FnOnce(&[u8]) -> usize) -> io::Result<usize> {
        let mut link = self
            .link
            .lock()
            .map_err(|_| io::Error::other("sideload link poisoned"))?;
        if let Some(fault) = &link.fault {
            return Err(fault.clone().into_io());
        }
        if let Err(e) = self.fetch(&mut link, n) {
            let fault = e.to_fault();
            link.fault = Some(fault.clone());
            return Err(fault.into_io());
        }
        let data = link
            .cache
            .iter()
            .find(|(b, _)| *b == n)
            .map(|(_, d)| d.as_slice())
            .unwrap_or_default();
        Ok(f(data))
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
