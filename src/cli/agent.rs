//! `agent`: the fleet agent (hawkBit DDI) as a service, or one poll with `--once`.

use std::path::PathBuf;
use std::process::ExitCode;

use recovery_updater::app;
use recovery_updater::device::ProfileDevice;
use recovery_updater::error::HasCode;
use recovery_updater::fleet::agent::Outcome;

#[derive(clap::Args)]
pub struct AgentArgs {
    /// The device profile (with a [fleet] section).
    #[arg(long)]
    device: PathBuf,
    /// One poll: take the action as far as it goes without waiting, then exit.
    #[arg(long)]
    once: bool,
}

/// Exit status with `--once`: 0 when the poll went through (idle, waiting, success or a cancel
/// accepted), `code - 9000` for a failure reported to the server or a poll that failed.
pub fn agent(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let device = ProfileDevice::load(&args.device)?;
    match app::fleet::run_agent(&device, args.once) {
        Ok(Outcome::Failed(code)) => {
            eprintln!("action failed: {code}: {}", code.meaning());
            Ok(ExitCode::from(code.exit_status()))
        }
        Ok(out) => {
            println!("{out:?}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let code = e.code();
            eprintln!("error: {code}: {e}\n  {}", code.fix());
            Ok(ExitCode::from(code.exit_status()))
        }
    }
}
