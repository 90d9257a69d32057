//! Command line: the binary's edge, where typed errors become codes and exit statuses.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use recovery_updater::app::{self, PowerAction, PowerMode};
use recovery_updater::device::{Device, ProfileDevice};
use recovery_updater::error::{self, Code, HasCode};
use recovery_updater::install::{events::Sink, Options};
use recovery_updater::package::keys::{write_keypair, Algorithm, PrivateKey, PublicKey};
use recovery_updater::package::{self, pack};
use recovery_updater::state::InstallRecord;
use recovery_updater::ui::tui;
use recovery_updater::ui::{json::JsonReporter, plain::PlainReporter};
use recovery_updater::{demo, util, Error};

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

/// Where the recovery screen looks for the device profile when none is named: the profile in
/// the recovery image (see docs/DEVICE.md).
pub const DEFAULT_PROFILE: &str = "/etc/recovery/device.toml";

#[derive(clap::Args, Clone)]
struct TuiArgs {
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

fn parse_size(s: &str) -> Result<(u16, u16), String> {
    let (w, h) = s.split_once('x').ok_or("expected COLSxROWS, e.g. 80x25")?;
    let w: u16 = w.parse().map_err(|_| format!("bad width {w:?}"))?;
    let h: u16 = h.parse().map_err(|_| format!("bad height {h:?}"))?;
    if w < 20 || h < 8 {
        return Err("the screen must be at least 20x8".into());
    }
    Ok((w, h))
}

#[derive(Subcommand)]
enum Command {
    /// Make a signing key pair: NAME.key (PKCS#8 PEM, mode 0600) and NAME.pub (SPKI PEM).
    Keygen {
        /// Key algorithm: ecdsa-p256, ed25519, rsa-2048, rsa-3072 or rsa-4096.
        #[arg(long, default_value = "ecdsa-p256")]
        algorithm: String,
        #[arg(long, value_name = "NAME")]
        out: PathBuf,
    },
    /// Build (and sign) update.zip from a package spec.
    Pack {
        #[arg(long)]
        spec: PathBuf,
        /// Private key to sign with (PKCS#8 PEM).
        #[arg(long, required_unless_present = "unsigned")]
        key: Option<PathBuf>,
        /// Leave the package unsigned, for an external signer (then `sign`).
        #[arg(long, conflicts_with = "key")]
        unsigned: bool,
        /// With --unsigned: the public key the external signer will use (recorded as a hint).
        #[arg(long, requires = "unsigned")]
        signer: Option<PathBuf>,
        /// Also write the exact manifest bytes to sign here.
        #[arg(long)]
        manifest_out: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Add a signature to an unsigned package: made elsewhere (--signature) or here (--key).
    Sign {
        package: PathBuf,
        /// Signature bytes as `openssl dgst -sha256 -sign` (or `pkeyutl -rawin`) wrote them.
        #[arg(long, required_unless_present = "key", conflicts_with = "key")]
        signature: Option<PathBuf>,
        #[arg(long)]
        key: Option<PathBuf>,
        /// Check the signature against this public key before adding it.
        #[arg(long = "pub")]
        public: Option<PathBuf>,
    },
    /// Show what is inside a package and whether its signature verifies.
    Inspect {
        package: PathBuf,
        /// Public key(s) to verify with.
        #[arg(long)]
        key: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Run every check (signature, device policy, every image hash); write nothing.
    Verify {
        package: PathBuf,
        #[arg(long)]
        device: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Install a package headless.
    Apply {
        package: PathBuf,
        #[arg(long)]
        device: PathBuf,
        /// Required: confirms writing to the device.
        #[arg(long)]
        yes: bool,
        /// One JSON object per line on stdout (progress and the final result).
        #[arg(long)]
        json: bool,
    },
    /// Make a simulated A/B device and a signed sample package, then apply it.
    Demo {
        #[arg(long, default_value = "demo")]
        dir: PathBuf,
        /// Only make the device and package; print the commands to run.
        #[arg(long)]
        prepare_only: bool,
        /// Open the recovery screen on the simulated device instead of applying headless.
        #[arg(long, conflicts_with = "prepare_only")]
        tui: bool,
    },
    /// The recovery screen: pick a package from storage, check it, install it, see the result.
    Tui(TuiArgs),
    /// Run as the recovery init: OTA command file, headless/factory install or menu, then
    /// reboot / power off. Runs this way automatically as PID 1 (profile /etc/recovery/device.toml).
    Init {
        #[arg(long, default_value = DEFAULT_INIT_PROFILE)]
        device: PathBuf,
        /// Also set up the system (mounts, modules, console, cards) and perform the power
        /// action, as PID 1 does. Without it only the decision and the install run.
        #[arg(long)]
        system: bool,
        /// Kernel command line words to obey (default: /proc/cmdline with --system, none without).
        #[arg(long)]
        cmdline: Option<String>,
    },
    /// Wipe data / factory reset: erase the profile's `role = "data"` [[wipe]] partitions (and
    /// nothing else); 9065 when it lists none.
    Wipe {
        #[arg(long)]
        device: PathBuf,
        /// Required: confirms erasing user data.
        #[arg(long)]
        yes: bool,
    },
    /// Print the table of error codes.
    Codes {
        #[arg(long)]
        markdown: bool,
    },
}

impl Command {
    /// Whether the run was asked for JSON on stdout: it then ends with exactly one JSON result
    /// line carrying the code, whatever fails and wherever.
    fn json(&self) -> bool {
        matches!(
            self,
            Command::Inspect { json: true, .. }
                | Command::Verify { json: true, .. }
                | Command::Apply { json: true, .. }
        )
    }
}

/// The profile the recovery init reads when it runs as PID 1.
const DEFAULT_INIT_PROFILE: &str = "/etc/recovery/device.toml";

/// PID 1: the kernel started us as /init. Never returns (exiting would panic the kernel).
fn pid1() -> ! {
    use recovery_updater::init::{self, run};
    let opts = run::InitOptions {
        profile: PathBuf::from(DEFAULT_INIT_PROFILE),
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
    let action = run::run(&opts, &mut recovery_menu).action;
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
    cards: &recovery_updater::device::storage::Finder,
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
    match tui::run(std::sync::Arc::new(ProfileDevice::new(profile)), &opts) {
        Ok(outcome) => Some(outcome.action),
        Err(e) => {
            print_failure(e.code(), &e.to_string());
            None
        }
    }
}

pub fn main() -> ExitCode {
    if std::process::id() == 1 {
        pid1();
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
        println!(
            "{}",
            failure_json(Code::UsageError, detail.trim_start_matches("error: "))
        );
    }
    ExitCode::from(Code::UsageError.exit_status())
}

/// The one result line of a failed `--json` run.
fn failure_json(code: Code, message: &str) -> serde_json::Value {
    serde_json::json!({"event": "result", "result": "failure", "code": code.number(),
        "name": code.name(), "message": message, "meaning": code.meaning(), "fix": code.fix()})
}

/// Reports a failure as the run's result: one JSON line on stdout with `--json`, the code, its
/// meaning and fix on stderr otherwise. Returns the exit status.
fn report_failure(json: bool, code: Code, detail: &str) -> ExitCode {
    if json {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", failure_json(code, detail));
    } else {
        print_failure(code, detail);
    }
    ExitCode::from(code.exit_status())
}

fn print_failure(code: Code, detail: &str) {
    eprintln!("error {}: {}", code.number(), code.name());
    eprintln!("  what happened: {}", code.meaning());
    eprintln!("  detail: {detail}");
    eprintln!("  what to do: {}", code.fix());
}

fn run_tui(device: &Path, args: &TuiArgs) -> anyhow::Result<ExitCode> {
    let device = ProfileDevice::load(device)?;
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Some(command) = cli.command else {
        return run_tui(&cli.tui.device, &cli.tui);
    };
    match command {
        Command::Tui(args) => run_tui(&args.device, &args),
        Command::Keygen { algorithm, out } => {
            let alg: Algorithm = algorithm.parse().map_err(Error::from)?;
            let key = PrivateKey::generate(alg).map_err(Error::from)?;
            let (k, p) = write_keypair(&key, &out).map_err(Error::from)?;
            println!("private key: {} (keep it secret)", k.display());
            println!(
                "public key:  {} (list it in the device profile's keys)",
                p.display()
            );
            println!("fingerprint: {}", key.public_key().fingerprint());
            Ok(ExitCode::SUCCESS)
        }
        Command::Pack {
            spec,
            key,
            unsigned,
            signer,
            manifest_out,
            out,
        } => {
            let key = key
                .map(|k| PrivateKey::load(&k).map_err(Error::from))
                .transpose()?;
            let signer = signer
                .map(|k| PublicKey::load(&k).map_err(Error::from))
                .transpose()?;
            let made = pack::pack(&spec, key.as_ref(), signer.as_ref(), &out)?;
            if let Some(m) = manifest_out {
                std::fs::write(&m, &made.manifest_bytes)
                    .with_context(|| format!("writing {}", m.display()))?;
            }
            let total: u64 = made.manifest.images.iter().map(|i| i.size).sum();
            println!(
                "{}: version {}, {} image(s), {}, {}",
                out.display(),
                made.manifest.version,
                made.manifest.images.len(),
                util::human_bytes(total),
                if made.signed || !unsigned {
                    "signed"
                } else {
                    "UNSIGNED (add a signature with `recovery-updater sign`)"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Sign {
            package,
            signature,
            key,
            public,
        } => {
            let public = public
                .map(|p| PublicKey::load(&p).map_err(Error::from))
                .transpose()?;
            let sig = match (signature, key) {
                (Some(s), _) => util::read_bounded(&s, package::keys::MAX_SIGNATURE_LEN as u64)
                    .map_err(|e| Error::SignatureMissing {
                        reason: format!("{}: {e}", s.display()),
                    })?,
                (None, Some(k)) => {
                    let key = PrivateKey::load(&k).map_err(Error::from)?;
                    let opened = package::open_unsigned(&package)?;
                    key.sign(opened.manifest_bytes()).map_err(Error::from)?
                }
                (None, None) => anyhow::bail!("give --signature or --key"),
            };
            pack::add_signature(&package, &sig, public.as_ref())?;
            println!("{}: signed", package.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect { package, key, json } => inspect(&package, &key, json),
        Command::Verify {
            package,
            device,
            json,
        } => {
            let device = ProfileDevice::load(&device)?;
            let mut sink = reporter(json);
            match app::verify(&package, &device, sink.as_mut()) {
                Ok(c) => {
                    finish_line(
                        sink.as_mut(),
                        json,
                        &serde_json::json!({"event": "result", "result": "success", "code": 0,
                            "to_version": c.plan.to_version, "target_slot": c.plan.target_slot}),
                    );
                    if !json {
                        eprintln!("verified: every check passed and every image hash matches; nothing was written");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(fail(sink.as_mut(), json, &e)),
            }
        }
        Command::Apply {
            package,
            device,
            yes,
            json,
        } => {
            if !yes {
                return Ok(report_failure(
                    json,
                    Code::UsageError,
                    "apply writes to the device: pass --yes to confirm",
                ));
            }
            let device = ProfileDevice::load(&device)?;
            let mut sink = reporter(json);
            let record = app::install(&package, &device, sink.as_mut(), &Options::default());
            Ok(report_record(sink.as_mut(), json, &record, &device))
        }
        Command::Demo {
            dir,
            prepare_only,
            tui,
        } => {
            let d = demo::prepare(&dir)?;
            if tui {
                return run_tui(
                    &d.device,
                    &TuiArgs {
                        device: d.device.clone(),
                        tty: None,
                        size: None,
                        input: vec![],
                        exit_after_first_frame: false,
                        test_panic: false,
                    },
                );
            }
            let dev = d.device.display();
            let pkg = d.package.display();
            if prepare_only {
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
            let code = report_record(sink.as_mut(), false, &record, &device);
            eprintln!("\nTry it again: recovery-updater apply {pkg} --device {dev} --yes");
            Ok(code)
        }
        Command::Init {
            device,
            system,
            cmdline,
        } => {
            use recovery_updater::init::run;
            let opts = run::InitOptions {
                profile: device,
                system,
                cmdline,
            };
            let o = run::run(&opts, &mut recovery_menu);
            let action = serde_json::to_value(o.action).unwrap_or_default();
            println!(
                "{}",
                serde_json::json!({"event": "init", "success": o.success, "action": action,
                    "code": o.code})
            );
            if system {
                app::perform_power(o.action, PowerMode::System)?;
            }
            Ok(ExitCode::from(o.exit_status()))
        }
        Command::Wipe { device, yes } => {
            if !yes {
                print_failure(
                    Code::UsageError,
                    "wipe erases user data: pass --yes to confirm",
                );
                return Ok(ExitCode::from(Code::UsageError.exit_status()));
            }
            let device = ProfileDevice::load(&device)?;
            for w in app::wipe_data(&device)? {
                println!("{w}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Codes { markdown } => {
            if markdown {
                print!("{}", error::errors_markdown());
            } else {
                for i in error::TABLE {
                    println!(
                        "{} {:<32} {}\n     fix: {}",
                        i.number, i.name, i.meaning, i.fix
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn reporter(json: bool) -> Box<dyn Sink> {
    if json {
        Box::new(JsonReporter::new(std::io::stdout()))
    } else {
        Box::new(PlainReporter::stderr())
    }
}

fn finish_line(_sink: &mut dyn Sink, json: bool, value: &serde_json::Value) {
    if json {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{value}");
    }
}

fn fail(_sink: &mut dyn Sink, json: bool, e: &Error) -> ExitCode {
    report_failure(json, e.code(), &e.to_string())
}

fn report_record(
    sink: &mut dyn Sink,
    json: bool,
    record: &InstallRecord,
    device: &dyn Device,
) -> ExitCode {
    let state = &device.profile().state_dir;
    if json {
        let mut v = serde_json::to_value(record).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("event".into(), "result".into());
        }
        finish_line(sink, json, &v);
    } else if record.success() {
        eprintln!(
            "\nSUCCESS: installed {} ({} written in {:.1} s){}",
            record.to_version.as_deref().unwrap_or("?"),
            util::human_bytes(record.bytes_written),
            record.duration_ms as f64 / 1000.0,
            record
                .target_slot
                .as_deref()
                .map(|s| format!("; slot {s} boots next"))
                .unwrap_or_default()
        );
        for w in &record.warnings {
            eprintln!("warning: {w}");
        }
        eprintln!("log: {}", state.join("last_log").display());
    } else {
        let code = Code::from_number(record.code).unwrap_or(Code::Internal);
        eprintln!();
        print_failure(code, &record.message);
        eprintln!("  log: {}", state.join("last_log").display());
    }
    ExitCode::from(record.exit_status())
}

fn inspect(path: &Path, keys: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let opened = package::open_unsigned(path)?;
    let trusted = keys
        .iter()
        .map(|k| PublicKey::load(k).map_err(Error::from))
        .collect::<Result<Vec<_>, _>>()?;
    let sig = if !opened.is_signed() {
        Err(Error::SignatureMissing {
            reason: "unsigned".into(),
        })
    } else if trusted.is_empty() {
        Ok(None)
    } else {
        opened.check_signature(&trusted).map(Some)
    };
    let manifest = opened.manifest_unverified()?;
    let entries_ok = package::check_entries(&opened.zip, &manifest.images);
    let sig_text = match &sig {
        Ok(Some(fp)) => format!("verified (key {fp})"),
        Ok(None) => "present, not checked (pass --key K.pub)".into(),
        Err(e) => format!("FAILED: {e} ({})", e.code()),
    };
    // An unsigned package inspected without keys is not a failure of `inspect`.
    let failure = sig
        .as_ref()
        .err()
        .filter(|e| !(keys.is_empty() && matches!(e, Error::SignatureMissing { .. })))
        .or(entries_ok.as_ref().err())
        .map(HasCode::code);
    if json {
        // One line, like every `--json` result: the code first, then what inspect found.
        // Written straight from the typed manifest: a JSON tree of ~250k chunk hashes would not
        // fit the recovery's memory.
        #[derive(serde::Serialize)]
        struct Inspected<'a> {
            event: &'static str,
            result: &'static str,
            code: u16,
            package: String,
            signature: &'static str,
            signature_code: Option<u16>,
            signer: Option<String>,
            entries: String,
            manifest: &'a package::Manifest,
        }
        let v = Inspected {
            event: "result",
            result: if failure.is_some() {
                "failure"
            } else {
                "success"
            },
            code: failure.map(Code::number).unwrap_or(0),
            package: path.display().to_string(),
            signature: match &sig {
                Ok(Some(_)) => "verified",
                Ok(None) => "not_checked",
                Err(_) => "failed",
            },
            signature_code: sig.as_ref().err().map(|e| e.code().number()),
            signer: sig.as_ref().ok().cloned().flatten(),
            entries: entries_ok
                .as_ref()
                .map(|_| "ok".to_string())
                .unwrap_or_else(|e| e.to_string()),
            manifest: &manifest,
        };
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        serde_json::to_writer(&mut out, &v)?;
        writeln!(out)?;
        out.flush()?;
    } else {
        println!("package:      {}", path.display());
        println!("signature:    {sig_text}");
        println!("products:     {}", manifest.products.join(", "));
        println!("version:      {}", manifest.version);
        println!("built:        {}", util::rfc3339(manifest.build_time));
        println!("rollback idx: {}", manifest.rollback_index);
        let any = |v: &Vec<String>| {
            if v.is_empty() {
                "any".to_string()
            } else {
                v.join(", ")
            }
        };
        println!("hardware:     {}", any(&manifest.hardware_revisions));
        println!("basebands:    {}", any(&manifest.basebands));
        println!(
            "wipe data:    {}",
            if manifest.wipe_data { "YES" } else { "no" }
        );
        println!("images:");
        for img in &manifest.images {
            let method = opened
                .zip
                .by_name(&img.entry)
                .map(|e| format!("{:?}", e.method).to_lowercase())
                .unwrap_or_else(|| "missing".into());
            println!(
                "  {:<10} {:<14} {:>10}  {method}, {} chunks of {}, sha256 {}",
                img.partition,
                img.entry,
                util::human_bytes(img.size),
                img.chunks.len(),
                util::human_bytes(img.chunk_size),
                hex::encode(img.sha256)
            );
        }
        if let Err(e) = &entries_ok {
            println!("entries:      FAILED: {e} ({})", e.code());
        }
    }
    Ok(match failure {
        Some(c) => ExitCode::from(c.exit_status()),
        None => ExitCode::SUCCESS,
    })
}
