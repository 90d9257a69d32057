//! The commands that run on the device itself: `tui` (the recovery screen), `init` (the
//! recovery init, and PID 1) and `wipe`.

use std::path::PathBuf;
use std::process::ExitCode;

use recovery_updater::app::{self, PowerAction, PowerMode};
use recovery_updater::device::storage::Finder;
use recovery_updater::device::{Device, ProfileDevice};
use recovery_updater::error::{Code, HasCode};
use recovery_updater::init::{self, run::InitOptions};
use recovery_updater::install::events::Finish;
use recovery_updater::ui::plain::print_failure;
use recovery_updater::ui::tui;

/// The device profile in the recovery image (see docs/DEVICE.md): where the recovery screen and
/// the recovery init look when none is named, and what PID 1 reads.
pub const DEFAULT_PROFILE: &str = "/etc/recovery/device.toml";

#[derive(clap::Args, Clone)]
pub struct TuiArgs {
    /// Device profile.
    #[arg(long, default_value = DEFAULT_PROFILE)]
    device: PathBuf,
    /// Draw on this console (e.g. /dev/tty1) instead of the controlling terminal.
    #[arg(long, value_name = "DEVICE")]
    tty: Option<PathBuf>,
    /// Screen size when the terminal reports none (a serial console), e.g. 80x25.
    #[arg(long, value_name = "COLSxROWS", value_parser = parse_size)]
    size: Option<(u16, u16)>,
    /// Input event device(s) for the volume and power keys (default: every /dev/input/event*
    /// that has them).
    #[arg(long, value_name = "PATH")]
    input: Vec<PathBuf>,
    /// Draw the first screen, print the time it took and exit (start-up benchmark).
    #[arg(long, hide = true)]
    exit_after_first_frame: bool,
    /// Panic after the first frame (tests the panic screen).
    #[arg(long, hide = true)]
    test_panic: bool,
}

impl TuiArgs {
    /// The recovery screen on `device`, with every other option at its default.
    pub fn on(device: PathBuf) -> TuiArgs {
        TuiArgs {
            device,
            tty: None,
            size: None,
            input: vec![],
            exit_after_first_frame: false,
            test_panic: false,
        }
    }
}

fn parse_size(s: &str) -> Result<(u16, u16), String> {
    let (w, h) = s.split_once('x').ok_or("expected COLSxROWS, e.g. 80x25")?;
    let w: u16 = w.parse().map_err(|_| format!("bad width {w:?}"))?;
    let h: u16 = h.parse().map_err(|_| format!("bad height {h:?}"))?;
    if w < 20 || h < 8 {
        return Err("the screen must be at least 20x8".into());
    }
    Ok((w, h))
}

#[derive(clap::Args)]
pub struct InitArgs {
    #[arg(long, default_value = DEFAULT_PROFILE)]
    device: PathBuf,
    /// Also set up the system (mounts, modules, console, cards) and perform the power
    /// action, as PID 1 does. Without it only the decision and the install run.
    #[arg(long)]
    system: bool,
    /// Kernel command line words to obey (default: /proc/cmdline with --system, none without).
    #[arg(long)]
    cmdline: Option<String>,
}

#[derive(clap::Args)]
pub struct WipeArgs {
    #[arg(long)]
    device: PathBuf,
    /// Required: confirms erasing user data.
    #[arg(long)]
    yes: bool,
}

pub fn tui(args: &TuiArgs) -> anyhow::Result<ExitCode> {
    let device = ProfileDevice::load(&args.device)?.in_recovery();
    let opts = tui::Options {
        tty: args.tty.clone(),
        size: args.size,
        inputs: (!args.input.is_empty()).then(|| args.input.clone()),
        exit_after_first_frame: args.exit_after_first_frame,
        test_panic: args.test_panic,
        find_storage: None,
    };
    let outcome = tui::run(std::sync::Arc::new(device), &opts)?;
    if args.exit_after_first_frame {
        println!(
            "first frame after {:.1} ms",
            outcome.first_frame.as_secs_f64() * 1000.0
        );
    }
    perform_power_action(outcome.action)
}

/// The screen's last word. Rebooting or powering off the machine belongs to the recovery init
/// (reboot(2) after syncing and unmounting); run as an ordinary program, or on a simulated
/// device, the updater says what it would do and exits.
fn perform_power_action(action: PowerAction) -> anyhow::Result<ExitCode> {
    if let Some(notice) = app::perform_power(action, PowerMode::Program)? {
        eprintln!("{notice}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `init`: the recovery init's decision and install; its result is one JSON line on stdout.
pub fn init(args: InitArgs) -> anyhow::Result<ExitCode> {
    let opts = InitOptions {
        profile: args.device,
        system: args.system,
        cmdline: args.cmdline,
    };
    let o = init::run::run(&opts, &mut recovery_menu);
    super::reporter(true).finish(&Finish::Init {
        success: o.success,
        action: o.action,
        code: o.code,
    });
    if args.system {
        app::perform_power(o.action, PowerMode::System)?;
    }
    Ok(ExitCode::from(o.exit_status()))
}

/// PID 1: the kernel started us as /init. Never returns (exiting would panic the kernel).
pub fn pid1() -> ! {
    let opts = InitOptions {
        profile: PathBuf::from(DEFAULT_PROFILE),
        system: true,
        cmdline: None,
    };
    // Release builds abort on panic, and PID 1 aborting panics the kernel: the hook runs before
    // the abort, so it shows the error and never returns.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("recovery: error {}: {info}", Code::Internal);
        eprintln!("  what to do: {}", Code::Internal.fix());
        nix::unistd::sync();
        init::idle_forever()
    }));
    let action = init::run::run(&opts, &mut recovery_menu).action;
    if let Err(e) = app::perform_power(action, PowerMode::System) {
        print_failure(e.code(), &e.to_string());
    }
    eprintln!("recovery: waiting (hold the power button to restart)");
    init::idle_forever()
}

/// The recovery init's interactive menu: the recovery screen on the profile's console (or the
/// controlling terminal), over the profile's storage folders plus the cards (looked for again
/// at every scan, so a stick inserted late is found).
/// Returns the power action the user picked.
fn recovery_menu(
    device: &ProfileDevice,
    cards: &Finder,
    viewport: (u16, u16),
) -> Option<PowerAction> {
    let profile = device.profile().clone();
    let opts = tui::Options {
        tty: profile.init.console.clone(),
        size: Some(viewport),
        inputs: None,
        exit_after_first_frame: false,
        test_panic: false,
        find_storage: Some(cards.clone()),
    };
    match tui::run(
        std::sync::Arc::new(ProfileDevice::new(profile).in_recovery()),
        &opts,
    ) {
        Ok(outcome) => Some(outcome.action),
        Err(e) => {
            print_failure(e.code(), &e.to_string());
            None
        }
    }
}

/// `wipe`: erases the profile's data partitions (and nothing else).
pub fn wipe(args: WipeArgs) -> anyhow::Result<ExitCode> {
    if !args.yes {
        print_failure(
            Code::UsageError,
            "wipe erases user data: pass --yes to confirm",
        );
        return Ok(ExitCode::from(Code::UsageError.exit_status()));
    }
    let device = ProfileDevice::load(&args.device)?;
    for w in app::wipe_data(&device)? {
        println!("{w}");
    }
    Ok(ExitCode::SUCCESS)
}
