//! `adb sideload` on the device: the adb transport (Android recovery's minadbd) over TCP, so a
//! PC's `adb connect HOST:PORT` + `adb sideload update.zip` feeds the verified engine block by
//! block with no copy of the package on the device. See docs/SIDELOAD.md.
//!
//! - [`message`]: one adb message (header, checksum, magic), parsed strictly;
//! - [`conn`]: a connection: the CNXN handshake (device and host sides) and message I/O;
//! - [`service`]: the services a sideloading recovery offers: `sideload-host:SIZE:BLOCKSIZE` as a
//!   [`crate::package::Source`] with a small block cache, DONEDONE / FAILFAIL at the end, and the
//!   `reboot` family.
//!
//! The front ends (`recovery-updater sideload`, the recovery menu's "Apply update from ADB") go
//! through [`crate::app::sideload`]; the factory station ([`crate::station`]) uses the host side.

mod blocks;
pub mod conn;
pub mod message;
pub mod service;

use std::io;

use crate::error::{Code, HasCode};
use crate::package::source::SourceFault;
use message::MessageError;

/// The port adbd and minadbd listen on for `adb connect`.
pub const DEFAULT_PORT: u16 = 5555;

/// Why a sideload failed on the transport side (the package's own faults are [`crate::Error`]s).
#[derive(Debug, thiserror::Error)]
pub enum SideloadError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot reach {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: io::Error,
    },
    #[error("malformed adb message: {0}")]
    Message(MessageError),
    #[error("adb protocol: {reason}")]
    Protocol { reason: String },
    #[error("the host sent {sent} bytes for block {block}, {asked} were asked")]
    TooMuch {
        block: u64,
        asked: usize,
        sent: usize,
    },
    #[error("the host closed block {block} after {got} of {asked} bytes")]
    TooLittle {
        block: u64,
        asked: usize,
        got: usize,
    },
    #[error("the host sent bytes past the {size} bytes it announced")]
    LargerThanAnnounced { size: u64 },
    #[error("the host went away: {reason}")]
    Disconnected { reason: String },
}

impl From<MessageError> for SideloadError {
    fn from(e: MessageError) -> SideloadError {
        match e {
            MessageError::Closed => SideloadError::Disconnected {
                reason: "the connection closed".into(),
            },
            MessageError::Io(e) => SideloadError::Disconnected {
                reason: e.to_string(),
            },
            other => SideloadError::Message(other),
        }
    }
}

impl HasCode for SideloadError {
    fn code(&self) -> Code {
        match self {
            SideloadError::Listen { .. } | SideloadError::Connect { .. } => Code::SideloadListen,
            SideloadError::Message(_) | SideloadError::Protocol { .. } => Code::SideloadProtocol,
            SideloadError::TooMuch { .. } => Code::SideloadHostTooMuch,
            SideloadError::TooLittle { .. } => Code::SideloadHostTooLittle,
            SideloadError::LargerThanAnnounced { .. } => Code::SideloadLargerThanAnnounced,
            SideloadError::Disconnected { .. } => Code::SideloadDisconnected,
        }
    }
}

impl SideloadError {
    /// The same failure as a byte-source fault, to travel through the zip reader and the stream.
    pub fn to_fault(&self) -> SourceFault {
        SourceFault {
            code: self.code(),
            message: self.to_string(),
        }
    }
}

pub(crate) fn protocol(reason: impl Into<String>) -> SideloadError {
    SideloadError::Protocol {
        reason: reason.into(),
    }
}
