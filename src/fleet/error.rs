//! The fleet agent's typed errors, each mapped to one code of the table (9130–9149) or to the
//! engine's own code when the engine refused.

use std::path::PathBuf;

use crate::error::{Code, HasCode};

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("the profile has no usable [fleet] section: {reason}")]
    NotConfigured { reason: String },
    #[error("cannot reach {host}: {source}")]
    Unreachable {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the server {host} presented key {seen}, which matches none of the {pins} pin(s)")]
    PinMismatch {
        host: String,
        seen: String,
        pins: usize,
    },
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    #[error("{url} is plain http and the profile does not set allow_http = true")]
    PlainHttp { url: String },
    #[error("{method} {url}: the server answered {status}")]
    Status {
        method: &'static str,
        url: String,
        status: u16,
        /// The answer's Retry-After, in seconds from when it arrived (429 and 503 carry it).
        retry_after: Option<u64>,
    },
    #[error("{url}: invalid response: {reason}")]
    Response { url: String, reason: String },
    #[error("downloaded {file}: {algo} is {calculated}, the server says {expected}")]
    HashMismatch {
        file: String,
        algo: &'static str,
        expected: String,
        calculated: String,
    },
    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },
    #[error("{path}: {source}")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the install failed: {message}")]
    Install { code: Code, message: String },
    #[error("{0}")]
    Engine(#[from] crate::Error),
}

impl HasCode for FleetError {
    fn code(&self) -> Code {
        match self {
            FleetError::NotConfigured { .. } => Code::FleetNotConfigured,
            FleetError::Unreachable { .. } => Code::FleetUnreachable,
            FleetError::PinMismatch { .. } => Code::FleetPinMismatch,
            FleetError::Tls { .. } => Code::FleetTls,
            FleetError::PlainHttp { .. } => Code::FleetPlainHttp,
            FleetError::Status { .. } => Code::FleetServerStatus,
            FleetError::Response { .. } => Code::FleetResponseInvalid,
            FleetError::HashMismatch { .. } => Code::FleetDownloadHash,
            FleetError::Download { .. } => Code::FleetDownloadFailed,
            FleetError::Cache { .. } => Code::FleetCache,
            FleetError::Install { code, .. } => *code,
            FleetError::Engine(e) => e.code(),
        }
    }
}
