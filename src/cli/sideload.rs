//! `sideload`: "Apply update from ADB" headless. Waits for `adb connect HOST:PORT` and `adb
//! sideload update.zip`, installs through the facade, exits with the install's code.

use std::path::PathBuf;
use std::process::ExitCode;

use recovery_updater::app::{self, sideload::Ended, PowerMode};
use recovery_updater::device::ProfileDevice;
use recovery_updater::install::Options;

use super::reporter;

#[derive(clap::Args)]
pub struct SideloadArgs {
    #[arg(long)]
    device: PathBuf,
    /// Address and port to listen on (adb's default port is 5555).
    #[arg(long, default_value = "0.0.0.0:5555")]
    listen: String,
    /// One JSON object per line on stdout (progress and the final result).
    #[arg(long)]
    pub json: bool,
}

pub fn sideload(args: SideloadArgs) -> anyhow::Result<ExitCode> {
    let device = ProfileDevice::load(&args.device)?;
    let mut sink = reporter(args.json);
    match app::sideload::sideload(&args.listen, &device, sink.as_mut(), &Options::default()) {
        Ended::Installed(record) => Ok(ExitCode::from(record.exit_status())),
        Ended::Power(action, _) => {
            let mode = match std::process::id() {
                1 => PowerMode::System,
                _ => PowerMode::Program,
            };
            if let Some(notice) = app::perform_power(action, mode)? {
                eprintln!("{notice}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
