//! One adb connection over TCP: the CNXN handshake on either side, then messages.
//!
//! The device answers the host's CNXN with its own: version 0x01000001, the largest payload it
//! accepts, and the banner `sideload::ro.product.name=...;ro.product.model=...;
//! ro.product.device=...;` which puts the host's view of it in state `sideload`. No AUTH: a
//! sideloading recovery accepts any host (as minadbd does); what it installs must still be signed.

use std::io::{BufReader, BufWriter, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::message::{command_name, Message, A_CNXN, A_VERSION, MAX_PAYLOAD};
use super::{protocol, SideloadError};

/// How long a silent peer is waited for before the connection counts as lost. Generous: a
/// person may take a while between `adb connect` and `adb sideload`.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// An open, handshaken connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    /// The largest payload the peer accepts (and we accept): the smaller of both sides'.
    pub max_payload: usize,
    /// The peer's banner (`host::...` or `sideload::...`).
    pub peer_banner: String,
}

/// The banner a sideloading device shows the host.
pub fn device_banner(product: &str) -> String {
    format!("sideload::ro.product.name={product};ro.product.model={product};ro.product.device={product};")
}

/// The value of `ro.product.name` in a device banner, if any.
pub fn banner_product(banner: &str) -> Option<&str> {
    let (_, props) = banner.split_once("::")?;
    props
        .split(';')
        .find_map(|p| p.strip_prefix("ro.product.name="))
}

impl Conn {
    fn new(stream: TcpStream) -> Result<Conn, SideloadError> {
        let io = |e: std::io::Error| SideloadError::Disconnected {
            reason: e.to_string(),
        };
        stream.set_nodelay(true).map_err(io)?;
        stream.set_read_timeout(Some(IDLE_TIMEOUT)).map_err(io)?;
        let writer = BufWriter::with_capacity(MAX_PAYLOAD + 64, stream.try_clone().map_err(io)?);
        Ok(Conn {
            reader: BufReader::with_capacity(MAX_PAYLOAD + 64, stream),
            writer,
            max_payload: MAX_PAYLOAD,
            peer_banner: String::new(),
        })
    }

    /// Device side: waits for the host's CNXN and answers with ours. `Ok(None)` when the peer
    /// closed before saying anything (a port probe).
    pub fn accept(stream: TcpStream, banner: &str) -> Result<Option<Conn>, SideloadError> {
        let mut conn = Conn::new(stream)?;
        let first = match conn.recv() {
            Err(SideloadError::Disconnected { .. }) => return Ok(None),
            other => other?,
        };
        if first.command != A_CNXN {
            return Err(protocol(format!(
                "expected CNXN first, got {}",
                command_name(first.command)
            )));
        }
        conn.hello(&first)?;
        conn.send(&Message::new(
            A_CNXN,
            A_VERSION,
            conn.max_payload as u32,
            nul_terminated(banner),
        ))?;
        Ok(Some(conn))
    }

    /// Host side: sends our CNXN and waits for the device's.
    pub fn connect(stream: TcpStream) -> Result<Conn, SideloadError> {
        let mut conn = Conn::new(stream)?;
        conn.send(&Message::new(
            A_CNXN,
            A_VERSION,
            MAX_PAYLOAD as u32,
            nul_terminated("host::features="),
        ))?;
        let m = conn.recv()?;
        if m.command != A_CNXN {
            // An AUTH challenge would come here; a sideloading recovery sends none.
            return Err(protocol(format!(
                "expected CNXN, got {}",
                command_name(m.command)
            )));
        }
        conn.hello(&m)?;
        Ok(conn)
    }

    /// Takes the peer's version, payload size and banner from its CNXN.
    fn hello(&mut self, m: &Message) -> Result<(), SideloadError> {
        if m.arg0 < super::message::A_VERSION_MIN {
            return Err(protocol(format!("unsupported version {:#x}", m.arg0)));
        }
        let theirs = usize::try_from(m.arg1).unwrap_or(usize::MAX);
        if theirs < 4096 {
            return Err(protocol(format!("max payload {theirs} is too small")));
        }
        self.max_payload = self.max_payload.min(theirs);
        self.peer_banner = String::from_utf8_lossy(&m.data)
            .trim_end_matches('\0')
            .to_string();
        Ok(())
    }

    pub fn send(&mut self, m: &Message) -> Result<(), SideloadError> {
        m.write_to(&mut self.writer)
            .and_then(|()| self.writer.flush())
            .map_err(|e| SideloadError::Disconnected {
                reason: e.to_string(),
            })
    }

    pub fn recv(&mut self) -> Result<Message, SideloadError> {
        Ok(Message::read_from(&mut self.reader, MAX_PAYLOAD)?)
    }

    /// Sets how long a read may wait (`None`: forever).
    pub fn set_timeout(&self, t: Option<Duration>) {
        let _ = self.reader.get_ref().set_read_timeout(t);
    }

    /// Closes our sending side; the peer sees the end of the stream.
    pub fn shutdown(&self) {
        let _ = self.reader.get_ref().shutdown(std::net::Shutdown::Write);
    }
}

/// Service names and banners travel NUL-terminated.
pub fn nul_terminated(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}
