//! Zstandard (zip method 93) decoding with a bounded window.
//!
//! A zstd frame header declares the window the decoder must keep (up to 2^31 bytes and more
//! with `--long`); libzstd allocates it before decoding a single block. A hostile frame could
//! so make the recovery allocate gigabytes. The decoder is therefore told the largest window
//! it may accept ([`ZSTD_WINDOW_LOG_MAX`]); a frame asking for more fails at its header with
//! [`ZipError::ZstdWindowTooLarge`] (code 9035) before any large allocation.
//!
//! The packer (`compression = "zstd"`, level 3) writes windows of at most 2^21 bytes; zstd's
//! levels up to 19 stay within 2^23 for any input size, only `--ultra` levels and `--long` go
//! beyond. Memory while decoding is the window plus ~200 KiB of context and a 32 KiB input buffer.

use zstd::stream::raw::{Decoder, InBuffer, Operation, OutBuffer};
use zstd::zstd_safe::DParameter;

use super::error::{corrupt, ZipError};
use super::reader::{Compressed, RawReader};

/// log2 of the largest zstd window accepted: 8 MiB. Covers every zstd level up to 19 (levels
/// 20-22 and `--long` ask for 2^25 to 2^31).
pub const ZSTD_WINDOW_LOG_MAX: u32 = 23;

const INPUT_BUFFER: usize = 32 * 1024;

/// libzstd's message for ZSTD_error_frameParameter_windowTooLarge (zstd_errors.h); the crate
/// hands errors over as `io::Error` carrying this text.
const WINDOW_TOO_LARGE: &str = "Frame requires too much memory for decoding";

/// A zstd decoder over the entry's compressed range, tracking the end of the (single) frame so
/// truncated frames and trailing data are detected.
pub(super) struct Unzstd {
    input: Compressed,
    /// None when libzstd could not make a context (out of memory): reported on first read.
    decoder: Option<Decoder<'static>>,
    frame_end: bool,
    name: String,
}

impl Unzstd {
    pub(super) fn new(raw: RawReader, name: &str) -> Self {
        let decoder = Decoder::new().ok().and_then(|mut d| {
            d.set_parameter(DParameter::WindowLogMax(ZSTD_WINDOW_LOG_MAX))
                .ok()
                .map(|()| d)
        });
        Unzstd {
            input: Compressed::new(raw, INPUT_BUFFER),
            decoder,
            frame_end: false,
            name: name.to_owned(),
        }
    }

    fn corrupt(&self, what: &str) -> ZipError {
        corrupt(format!("zstd data of {:?}: {what}", self.name))
    }

    /// Decompresses into `dst`; returns 0 only at the end of the frame.
    pub(super) fn read(&mut self, dst: &mut [u8]) -> Result<usize, ZipError> {
        if self.frame_end || dst.is_empty() {
            return Ok(0);
        }
        // Every pass consumes input, refills the exhausted input buffer from the bounded
        // compressed range, produces output and returns, or fails: the loop is bounded by
        // ~2 * compressed_size passes.
        loop {
            let eof = self.input.refill()?;
            let mut inb = InBuffer::around(self.input.unread());
            let mut outb = OutBuffer::around(&mut *dst);
            let Some(decoder) = self.decoder.as_mut() else {
                return Err(self.corrupt("cannot create a zstd decoder"));
            };
            let hint = match decoder.run(&mut inb, &mut outb) {
                Ok(h) => h,
                Err(e) if e.to_string().contains(WINDOW_TOO_LARGE) => {
                    return Err(ZipError::ZstdWindowTooLarge {
                        name: self.name.clone(),
                        window_log_max: ZSTD_WINDOW_LOG_MAX,
                    })
                }
                Err(e) => return Err(self.corrupt(&e.to_string())),
            };
            let (consumed, produced) = (inb.pos(), outb.pos());
            self.input.consume(consumed);
            if hint == 0 {
                // The frame is decoded and flushed completely.
                self.frame_end = true;
                return Ok(produced);
            }
            if produced > 0 {
                return Ok(produced);
            }
            if let Some(why) = self.input.stalled(consumed, eof, "inside the zstd frame") {
                return Err(self.corrupt(&why));
            }
        }
    }

    /// After the last byte: the frame must have ended and used every compressed byte.
    pub(super) fn check_consumed(&self) -> Result<(), ZipError> {
        if !self.frame_end {
            return Err(self.corrupt("zstd frame does not end"));
        }
        let left = self.input.left();
        if left > 0 {
            return Err(self.corrupt(&format!(
                "{left} bytes of compressed data after the end of the zstd frame"
            )));
        }
        Ok(())
    }
}
