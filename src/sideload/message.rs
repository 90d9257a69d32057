//! One adb transport message (AOSP `packages/modules/adb/protocol.txt`): a 24-byte
//! little-endian header, then `data_length` bytes of payload.
//!
//! ```text
//! offset  field        meaning
//!  0      command      CNXN / OPEN / OKAY / WRTE / CLSE / AUTH as a u32 of 4 ASCII bytes
//!  4      arg0         meaning depends on the command (version, local stream id, ...)
//!  8      arg1         (max payload, remote stream id, ...)
//! 12      data_length  payload bytes that follow the header
//! 16      data_check   sum of the payload bytes (not a CRC despite the name); 0 = unchecked
//! 20      magic        command ^ 0xffffffff
//! ```
//!
//! Parsing is strict: the magic must match, the command must be one we know, the payload must
//! fit the negotiated maximum, and a non-zero `data_check` must match. Every violation is a typed
//! [`MessageError`]; nothing is allocated from an unchecked length.

use std::io::{self, Read, Write};

pub const A_CNXN: u32 = 0x4e58_4e43;
pub const A_OPEN: u32 = 0x4e45_504f;
pub const A_OKAY: u32 = 0x5941_4b4f;
pub const A_WRTE: u32 = 0x4554_5257;
pub const A_CLSE: u32 = 0x4553_4c43;
pub const A_AUTH: u32 = 0x4854_5541;

/// Protocol version with "data_check may be 0" (adb 1.0.41 and minadbd use it).
pub const A_VERSION: u32 = 0x0100_0001;
/// The version before it: every payload carries its byte sum.
pub const A_VERSION_MIN: u32 = 0x0100_0000;
/// The largest payload we send or accept (adb's MAX_PAYLOAD for version 0x01000001 hosts).
pub const MAX_PAYLOAD: usize = 256 * 1024;

pub const HEADER_LEN: usize = 24;

/// A malformed or unexpected message from the peer.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("the connection closed")]
    Closed,
    #[error("reading from the connection: {0}")]
    Io(#[from] io::Error),
    #[error("bad magic {magic:#010x} for command {command:#010x}")]
    BadMagic { command: u32, magic: u32 },
    #[error("unknown command {0:#010x}")]
    UnknownCommand(u32),
    #[error("payload of {len} bytes is larger than the maximum {max}")]
    TooLarge { len: u32, max: usize },
    #[error("payload checksum {actual:#x} does not match the header's {expected:#x}")]
    BadChecksum { expected: u32, actual: u32 },
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub command: u32,
    pub arg0: u32,
    pub arg1: u32,
    pub data: Vec<u8>,
}

/// adb's "checksum": the sum of the payload bytes.
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().fold(0u32, |s, &b| s.wrapping_add(u32::from(b)))
}

/// The command's four letters, for logs.
pub fn command_name(command: u32) -> String {
    String::from_utf8_lossy(&command.to_le_bytes()).into_owned()
}

impl Message {
    pub fn new(command: u32, arg0: u32, arg1: u32, data: impl Into<Vec<u8>>) -> Message {
        Message {
            command,
            arg0,
            arg1,
            data: data.into(),
        }
    }

    /// Header and payload as sent. The checksum is always filled in: hosts of either version
    /// accept it.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.data.len());
        for v in [
            self.command,
            self.arg0,
            self.arg1,
            self.data.len() as u32,
            checksum(&self.data),
            self.command ^ 0xffff_ffff,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.data);
        out
    }

    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(&self.encode())
    }

    /// Reads one message; `max_payload` bounds the allocation. A clean end of stream before the
    /// first header byte is [`MessageError::Closed`].
    pub fn read_from(r: &mut impl Read, max_payload: usize) -> Result<Message, MessageError> {
        let mut h = [0u8; HEADER_LEN];
        read_full(r, &mut h)?;
        let word = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let (command, arg0, arg1, len, check, magic) =
            (word(0), word(4), word(8), word(12), word(16), word(20));
        if magic != command ^ 0xffff_ffff {
            return Err(MessageError::BadMagic { command, magic });
        }
        if ![A_CNXN, A_OPEN, A_OKAY, A_WRTE, A_CLSE, A_AUTH].contains(&command) {
            return Err(MessageError::UnknownCommand(command));
        }
        let n = usize::try_from(len).unwrap_or(usize::MAX);
        if n > max_payload {
            return Err(MessageError::TooLarge {
                len,
                max: max_payload,
            });
        }
        let mut data = vec![0u8; n];
        r.read_exact(&mut data).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => MessageError::Closed,
            _ => MessageError::Io(e),
        })?;
        // Version 0x01000001 peers may send 0 (unchecked); any other value must be right.
        if check != 0 && check != checksum(&data) {
            return Err(MessageError::BadChecksum {
                expected: check,
                actual: checksum(&data),
            });
        }
        Ok(Message {
            command,
            arg0,
            arg1,
            data,
        })
    }
}

/// Fills `buf`; an end of stream anywhere is [`MessageError::Closed`].
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<(), MessageError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => MessageError::Closed,
        _ => MessageError::Io(e),
    })
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
