//! The fleet agent's device side of hawkBit's DDI: configuration ([`config`]), pinned TLS
//! ([`tls`]), a small HTTP/1.1 client ([`http`]), the DDI messages ([`ddi`]), resumable
//! downloads ([`download`]), the agent's persistent state ([`state`]), back-off ([`backoff`]),
//! its bounded log ([`log`]) and the poll loop ([`agent`]).
//!
//! This module knows no engine and no device: the agent reaches them through
//! [`agent::Host`], which `app::fleet` implements over the one engine facade.
//! docs/FLEET-AGENT.md describes the state machine and the files.

pub mod agent;
pub mod backoff;
pub mod config;
pub mod ddi;
pub mod download;
pub mod error;
pub mod http;
pub mod log;
pub mod state;
pub mod tls;

pub use error::FleetError;

#[cfg(test)]
mod tests;
