//! The engine's one facade for front ends. The command line ([`crate::ui`]'s reporters behind
//! `cli`), the recovery screen ([`crate::ui::tui`]) and the recovery init ([`crate::init`]) call
//! these functions and nothing below them for the work they share; the fleet agent and the
//! sideload server to come are two more front ends of the same facade. A front end draws, prints
//! or answers; the facade decides.
//!
//! - [`facts`]: what the device says about itself, each fact or the code why it is unknown;
//! - [`packages`]: scan the storage (the profile's folders and extra roots such as the cards the
//!   recovery init mounted) and inspect each package found, with the verdicts lists show;
//! - [`run`]: check, verify and install, thin named entry points over [`crate::install`];
//! - [`wipe`]: wipe data / cache through the device's one wipe policy (9065 when the profile
//!   names no partition of the role);
//! - [`record`]: last_install.json and last_log, saved and read back for front ends;
//! - [`power`]: perform the one [`PowerAction`] a front end ends with.
//!
//! The dependency rule: front ends → `app` → `install` → `package` / `device` → `util`.

pub mod facts;
pub mod packages;
pub mod power;
pub mod record;
pub mod run;
pub mod wipe;

pub use crate::device::power::PowerAction;
pub use facts::{read_facts, DeviceFacts, Fact};
pub use packages::{
    find_packages, inspect_package, scan, CheckRow, Failure, PackageInfo, Search, Verdict,
};
pub use power::{perform_power, PowerMode};
pub use record::{last_log_path, read_last_install, read_last_log, save_record};
pub use run::{check, install, precheck, verify};
pub use wipe::{wipe, wipe_data};
