//! The A/B life after the install, from the booted system: `status`, `mark-good`, `mark-bad`
//! (docs/SLOTS.md). Each prints the device's status afterwards: one JSON object with `--json`
//! (the shape of [`app::lifecycle::Status`]), plain words otherwise. Failures end like every
//! other command: the code on stderr, or one JSON result line with `--json`.

use std::path::PathBuf;
use std::process::ExitCode;

use recovery_updater::app::lifecycle::{self, Status};
use recovery_updater::device::ProfileDevice;
use recovery_updater::state::InstallState;

#[derive(clap::Args)]
pub struct LifecycleArgs {
    /// Device profile.
    #[arg(long)]
    device: PathBuf,
    /// Print the status as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn status(a: LifecycleArgs) -> anyhow::Result<ExitCode> {
    let device = ProfileDevice::load(&a.device)?;
    print(&lifecycle::status(&device)?, a.json)
}

pub fn mark_good(a: LifecycleArgs) -> anyhow::Result<ExitCode> {
    let device = ProfileDevice::load(&a.device)?;
    let st = lifecycle::mark_good(&device)?;
    if !a.json {
        if let Some(b) = st.booted_slot {
            println!("slot {b} marked good");
        }
    }
    print(&st, a.json)
}

pub fn mark_bad(a: LifecycleArgs) -> anyhow::Result<ExitCode> {
    let device = ProfileDevice::load(&a.device)?;
    let st = lifecycle::mark_bad(&device)?;
    if !a.json {
        if let (Some(b), Some(n)) = (st.booted_slot, st.active_slot) {
            println!("slot {b} marked bad: slot {n} boots next");
        }
    }
    print(&st, a.json)
}

fn print(st: &Status, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string(st)?);
    } else {
        print!("{}", words(st));
    }
    Ok(ExitCode::SUCCESS)
}

/// The status in plain words.
pub fn words(st: &Status) -> String {
    let mut out = format!("product: {}\n", st.product);
    let slot = |s: Option<recovery_updater::device::Slot>, none: &str| {
        s.map_or(none.to_string(), |s| s.to_string())
    };
    if st.slots.is_empty() {
        out.push_str("single-slot device\n");
    } else {
        out.push_str(&format!(
            "booted from slot: {}\n",
            slot(st.booted_slot, "none (the recovery, or no slot named)")
        ));
        out.push_str(&format!("boots next: slot {}\n", slot(st.active_slot, "?")));
        for s in &st.slots {
            out.push_str(&format!(
                "slot {}: {}, {}, {} tries left, version {}\n",
                s.name,
                if s.bootable {
                    "bootable"
                } else {
                    "not bootable"
                },
                if s.successful {
                    "marked good"
                } else {
                    "not marked good"
                },
                s.tries_left,
                s.version.as_deref().unwrap_or("unknown")
            ));
        }
    }
    match &st.last_install {
        None => out.push_str("last install: none\n"),
        Some(r) => {
            let what = format!(
                "{}{}",
                r.to_version.as_deref().unwrap_or("?"),
                r.target_slot
                    .as_deref()
                    .map(|s| format!(" into slot {s}"))
                    .unwrap_or_default()
            );
            let state = match r.state() {
                InstallState::Pending => {
                    "waiting for confirmation (boot into it, then run mark-good)".to_string()
                }
                InstallState::Confirmed => "confirmed".to_string(),
                InstallState::FellBack => format!(
                    "returned to the previous version: {} {}: {}",
                    r.code, r.name, r.message
                ),
                InstallState::Failed => format!("failed: {} {}: {}", r.code, r.name, r.message),
            };
            out.push_str(&format!("last install: {what}: {state}\n"));
            if !r.fix.is_empty() && r.code != 0 {
                out.push_str(&format!("fix: {}\n", r.fix));
            }
        }
    }
    out
}
