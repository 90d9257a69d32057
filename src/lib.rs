//! recovery-updater: finds an update package, proves it genuine and meant for this device, and
//! writes it to flash without ever writing an unverified byte.
//!
//! Pipeline, one module per stage: [`package`] (open, verify signature, manifest) →
//! [`install`] (device policy checks, plan, stream-verify-write, flush, slot switch, record) on a
//! [`device`] (the trait boundary to block devices, platform facts and slot control). [`app`] is
//! the one facade the front ends (the command line, the recovery screen in [`ui`], the recovery
//! [`init`]) call for facts, scan, check, install, wipe, record and power actions; [`ui`] holds
//! the interchangeable reporters and the screen, which draw and read keys only. [`error`] is the
//! one table of user-visible codes.

pub mod app;
pub mod demo;
pub mod device;
pub mod error;
pub mod fleet;
pub mod init;
pub mod install;
pub mod package;
pub mod sideload;
pub mod state;
pub mod station;
pub mod sys;
pub mod ui;
pub mod util;

pub use error::{Code, Error, HasCode};
