//! Check, verify and install: the named entry points every front end calls. They add nothing to
//! the engine ([`crate::install`]); they are the one door to it.

use std::path::Path;

use crate::device::Device;
use crate::install::{self, events::Sink, Checked, Options};
use crate::state::InstallRecord;
use crate::Error;

/// Opens the package and runs every check (signature, manifest, device policy, plan); writes
/// nothing and logs nothing.
pub fn check(path: &Path, device: &dyn Device, sink: &mut dyn Sink) -> Result<Checked, Error> {
    install::check(path, device, sink)
}

/// [`check`] for a package the user picked (the recovery screen's pre-check): a failure is
/// saved to `last_log` as a failed install's is.
pub fn precheck(path: &Path, device: &dyn Device, sink: &mut dyn Sink) -> Result<Checked, Error> {
    install::check_logged(path, device, sink)
}

/// [`check`], then every image's hash read from the package: everything an install proves
/// before writing, with nothing written. The result goes to the sink's `finish` too.
pub fn verify(path: &Path, device: &dyn Device, sink: &mut dyn Sink) -> Result<Checked, Error> {
    install::verify(path, device, sink)
}

/// The whole install: check, write, switch, and save last_install.json and last_log. The
/// returned record is the outcome (its `code` is 0 on success).
pub fn install(
    path: &Path,
    device: &dyn Device,
    sink: &mut dyn Sink,
    opts: &Options,
) -> InstallRecord {
    install::apply(path, device, sink, opts)
}
