//! Command line: the binary's edge, where typed errors become codes and exit statuses (anyhow
//! lives here only). One file per group of commands; every result, success or failure, is
//! written by a reporter ([`reporter`]) from [`Finish`], never built here.

mod agent;
mod codes;
mod device;
mod inspect;
mod install;
mod keys;
mod lifecycle;
mod sideload;
mod station;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use recovery_updater::error::{Code, HasCode};
use recovery_updater::install::events::{Finish, Sink};
use recovery_updater::ui::{json::JsonReporter, plain::PlainReporter};
use recovery_updater::Error;

use device::TuiArgs;

#[derive(Parser)]
#[command(
    name = "recovery-updater",
    version,
    about = "Verified firmware updates from a recovery environment",
    long_about = "Finds update.zip, proves it is genuine and meant for this device, and writes it \
                  to flash: every chunk is verified before it is written. Every failure has a \
                  code (see `recovery-updater codes`); the exit status is code - 9000."
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no subcommand: the recovery screen (same options as `tui`).
    #[command(flatten)]
    tui: TuiArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Make a signing key pair: NAME.key (PKCS#8 PEM, mode 0600) and NAME.pub (SPKI PEM).
    Keygen(keys::KeygenArgs),
    /// Build (and sign) update.zip from a package spec.
    Pack(keys::PackArgs),
    /// Add a signature to an unsigned package: made elsewhere (--signature) or here (--key).
    Sign(keys::SignArgs),
    /// Show what is inside a package and whether its signature verifies.
    Inspect(inspect::InspectArgs),
    /// Run every check (signature, device policy, every image hash); write nothing.
    Verify(install::VerifyArgs),
    /// Install a package headless.
    Apply(install::ApplyArgs),
    /// Make a simulated A/B device and a signed sample package, then apply it.
    Demo(install::DemoArgs),
    /// The recovery screen: pick a package from storage, check it, install it, see the result.
    Tui(TuiArgs),
    /// Run as the recovery init: OTA command file, headless/factory install or menu, then
    /// reboot / power off. Runs this way automatically as PID 1 (profile /etc/recovery/device.toml).
    Init(device::InitArgs),
    /// Wipe data / factory reset: erase the profile's `role = "data"` [[wipe]] partitions (and
    /// nothing else); 9065 when it lists none.
    Wipe(device::WipeArgs),
    /// The fleet agent: poll a hawkBit DDI server, download, verify, install into the other
    /// slot, and report success only after the new slot booted and was confirmed.
    Agent(agent::AgentArgs),
    /// "Apply update from ADB" headless: serve `adb connect` + `adb sideload update.zip` and
    /// install what the host sends; the exit status is the install's code.
    Sideload(sideload::SideloadArgs),
    /// Factory station: sideload one package to many units at once (HOST:PORT each), with a
    /// table per unit, or JSON lines (`--json`), and a CSV / JSON-lines report.
    Station(station::StationArgs),
    /// Print the table of error codes.
    Codes(codes::CodesArgs),
    /// From the booted system: which slot runs, which boots next, each slot's state and version,
    /// and the last install (pending, confirmed, fell_back, failed).
    Status(lifecycle::LifecycleArgs),
    /// From the booted system: run the profile's health check, then mark the booted slot good
    /// (confirms a pending install). Idempotent.
    MarkGood(lifecycle::LifecycleArgs),
    /// From the booted system: give up on the booted slot so the other one boots next (refused
    /// when the other one is not bootable).
    MarkBad(lifecycle::LifecycleArgs),
}

impl Command {
    /// Whether the run was asked for JSON on stdout: it then ends with exactly one JSON result
    /// line carrying the code, whatever fails and wherever.
    fn json(&self) -> bool {
        match self {
            Command::Inspect(a) => a.json,
            Command::Verify(a) => a.json,
            Command::Apply(a) => a.json,
            Command::Status(a) | Command::MarkGood(a) | Command::MarkBad(a) => a.json,
            Command::Sideload(a) => a.json,
            Command::Station(a) => a.json,
            _ => false,
        }
    }
}

pub fn main() -> ExitCode {
    if std::process::id() == 1 {
        device::pid1();
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return argument_error(&e, json_requested(std::env::args_os().skip(1))),
    };
    let json = cli.command.as_ref().is_some_and(Command::json);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let code = e
                .chain()
                .find_map(|c| c.downcast_ref::<Error>().map(HasCode::code))
                .unwrap_or(Code::Internal);
            report_failure(json, code, &format!("{e:#}"))
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Some(command) = cli.command else {
        return device::tui(&cli.tui);
    };
    match command {
        Command::Keygen(a) => keys::keygen(a),
        Command::Pack(a) => keys::pack(a),
        Command::Sign(a) => keys::sign(a),
        Command::Inspect(a) => inspect::inspect(a),
        Command::Verify(a) => install::verify(a),
        Command::Apply(a) => install::apply(a),
        Command::Demo(a) => install::demo(a),
        Command::Tui(a) => device::tui(&a),
        Command::Init(a) => device::init(a),
        Command::Wipe(a) => device::wipe(a),
        Command::Agent(a) => agent::agent(a),
        Command::Sideload(a) => sideload::sideload(a),
        Command::Station(a) => station::station(a),
        Command::Codes(a) => codes::codes(a),
        Command::Status(a) => lifecycle::status(a),
        Command::MarkGood(a) => lifecycle::mark_good(a),
        Command::MarkBad(a) => lifecycle::mark_bad(a),
    }
}

/// Whether the raw command line asks for `--json`: when clap cannot parse it, the words are all
/// there is to go by. Words after `--` are operands, not options.
fn json_requested(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    args.take_while(|a| a != "--")
        .any(|a| a == "--json" || a.to_string_lossy().starts_with("--json="))
}

/// clap could not parse the command line: its message and usage go to stderr as always, and with
/// `--json` the run still ends with one JSON result line (USAGE_ERROR) on stdout.
fn argument_error(e: &clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    let _ = e.print();
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return ExitCode::SUCCESS;
    }
    if json {
        let text = e.to_string();
        let detail = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid command line");
        reporter(true).finish(&Finish::Failed {
            code: Code::UsageError,
            message: detail.trim_start_matches("error: "),
        });
    }
    ExitCode::from(Code::UsageError.exit_status())
}

/// Reports a failure as the run's result, through the reporter the run asked for: one JSON line
/// on stdout with `--json`, the code, its meaning and fix on stderr otherwise. Returns the exit
/// status.
fn report_failure(json: bool, code: Code, detail: &str) -> ExitCode {
    reporter(json).finish(&Finish::Failed {
        code,
        message: detail,
    });
    ExitCode::from(code.exit_status())
}

/// The reporter for a run: JSON lines on stdout, or plain text on stderr.
fn reporter(json: bool) -> Box<dyn Sink> {
    if json {
        Box::new(JsonReporter::new(std::io::stdout()))
    } else {
        Box::new(PlainReporter::stderr())
    }
}
