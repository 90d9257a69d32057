//! `verify`, `apply` and `demo`: the engine run headless, reporting through a [`Sink`]
//! (plain text on stderr, or JSON lines on stdout) that also writes the result.

use std::path::PathBuf;
use std::process::ExitCode;

use recovery_updater::app;
use recovery_updater::demo;
use recovery_updater::device::ProfileDevice;
use recovery_updater::error::{Code, HasCode};
use recovery_updater::install::{events::Finish, Options};

use super::{reporter, TuiArgs};

#[derive(clap::Args)]
pub struct VerifyArgs {
    package: PathBuf,
    #[arg(long)]
    device: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct ApplyArgs {
    package: PathBuf,
    #[arg(long)]
    device: PathBuf,
    /// Required: confirms writing to the device.
    #[arg(long)]
    yes: bool,
    /// One JSON object per line on stdout (progress and the final result).
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "demo")]
    dir: PathBuf,
    /// Only make the device and package; print the commands to run.
    #[arg(long)]
    prepare_only: bool,
    /// Open the recovery screen on the simulated device instead of applying headless.
    #[arg(long, conflicts_with = "prepare_only")]
    tui: bool,
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let device = ProfileDevice::load(&args.device)?;
    let mut sink = reporter(args.json);
    Ok(match app::verify(&args.package, &device, sink.as_mut()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(e.code().exit_status()),
    })
}

pub fn apply(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    if !args.yes {
        reporter(args.json).finish(&Finish::Failed {
            code: Code::UsageError,
            message: "apply writes to the device: pass --yes to confirm",
        });
        return Ok(ExitCode::from(Code::UsageError.exit_status()));
    }
    let device = ProfileDevice::load(&args.device)?;
    let mut sink = reporter(args.json);
    let record = app::install(&args.package, &device, sink.as_mut(), &Options::default());
    Ok(ExitCode::from(record.exit_status()))
}

pub fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let d = demo::prepare(&args.dir)?;
    if args.tui {
        return super::device::tui(&TuiArgs::on(d.device.clone()));
    }
    let dev = d.device.display();
    let pkg = d.package.display();
    if args.prepare_only {
        println!("simulated device: {dev}\npackage: {pkg}");
        println!("apply it with:\n  recovery-updater apply {pkg} --device {dev} --yes");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "Simulated A/B device in {}; applying {pkg}",
        d.dir.display()
    );
    let device = ProfileDevice::load(&d.device)?;
    let mut sink = reporter(false);
    let record = app::install(&d.package, &device, sink.as_mut(), &Options::default());
    eprintln!("\nTry it again: recovery-updater apply {pkg} --device {dev} --yes");
    Ok(ExitCode::from(record.exit_status()))
}
