//! The fleet agent's door to the device and the engine: builds the DDI client from the
//! profile's `[fleet]` section and implements [`crate::fleet::agent::Host`] with the same
//! facade calls every front end uses (verify, install, records), plus the lifecycle's
//! confirm / mark-bad after a reboot.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::device::{self, Device, SlotMode};
use crate::error::{Code, HasCode};
use crate::fleet::agent::{Agent, Host, Installed, Outcome, RecoveryResult};
use crate::fleet::config::FleetDef;
use crate::fleet::ddi::Ddi;
use crate::fleet::http::Client;
use crate::fleet::log::Log;
use crate::fleet::{tls, FleetError};
use crate::install::events::{Event, Sink};
use crate::install::Options;
use crate::state::InstallState;

/// Set (to anything) to keep the agent from rebooting the machine it runs on: tests and
/// simulated devices. The agent logs the reboot it would have done instead.
pub const NO_REBOOT_ENV: &str = "RECOVERY_UPDATER_NO_REBOOT";

/// The profile's `[fleet]`, or 9130.
pub fn config(device: &dyn Device) -> Result<&FleetDef, FleetError> {
    device
        .profile()
        .fleet
        .as_ref()
        .ok_or_else(|| FleetError::NotConfigured {
            reason: "no [fleet] section".into(),
        })
}

fn not_configured(reason: String) -> FleetError {
    FleetError::NotConfigured { reason }
}

/// The DDI client for this device: trust, token and controller id from `[fleet]`.
pub fn ddi(cfg: &FleetDef) -> Result<Ddi, FleetError> {
    let controller = device::read_fact("controller id", &cfg.controller_id)
        .map_err(|e| not_configured(e.to_string()))?;
    let controller = controller.trim().to_string();
    if controller.is_empty()
        || !controller
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    {
        return Err(not_configured(format!(
            "controller id {controller:?}: want letters, digits, - _ . :"
        )));
    }
    let auth = match &cfg.token_file {
        None => None,
        Some(p) => {
            let t = crate::util::read_bounded(p, 4096)
                .map_err(|e| not_configured(format!("token_file {}: {e}", p.display())))?;
            let t = String::from_utf8_lossy(&t).trim().to_string();
            if t.is_empty() || t.contains(['\r', '\n']) {
                return Err(not_configured(format!("token_file {}: empty", p.display())));
            }
            Some(format!("TargetToken {t}"))
        }
    };
    let seen = Arc::new(Mutex::new(tls::Seen::default()));
    let tls_config = if cfg.server.starts_with("https://") {
        let ca = match &cfg.ca_file {
            Some(p) => Some(
                crate::util::read_bounded(p, 1 << 20)
                    .map_err(|e| not_configured(format!("ca_file {}: {e}", p.display())))?,
            ),
            None => None,
        };
        Some(tls::client_config(&cfg.pins, ca.as_deref(), seen.clone()).map_err(not_configured)?)
    } else {
        None
    };
    let client = Client::new(tls_config, seen, cfg.allow_http, cfg.pins.len(), auth);
    Ddi::new(client, &cfg.server, &cfg.tenant, &controller).map_err(not_configured)
}

/// One poll (`once`) or the service loop, on `device`.
pub fn run_agent(device: &dyn Device, once: bool) -> Result<Outcome, FleetError> {
    let cfg = config(device)?;
    std::fs::create_dir_all(&cfg.cache_dir).map_err(|source| FleetError::Cache {
        path: cfg.cache_dir.clone(),
        source,
    })?;
    let log = Log::new(&cfg.cache_dir, false);
    let ddi = ddi(cfg)?;
    let host = DeviceHost { device, cfg };
    let agent = Agent {
        cfg,
        ddi: &ddi,
        host: &host,
        log: &log,
    };
    if once {
        let (out, _) = agent.once()?;
        log.line(&format!("poll: {out:?}"));
        return Ok(out);
    }
    crate::fleet::agent::run(&agent)
}

/// Engine events into the agent's log (phases, checks that fail, every 10 % of progress).
struct LogSink<'a> {
    log: &'a Log,
    last: u64,
}

impl Sink for LogSink<'_> {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Phase { phase } => self.log.line(&format!("engine: {}", phase.label())),
            Event::Check {
                check,
                status,
                detail,
                ..
            } => self.log.line(&format!(
                "engine: check {}: {status:?} {detail}",
                check.label()
            )),
            Event::Progress { done, total, .. } => {
                let pct = done.saturating_mul(100) / (*total).max(1);
                if pct >= self.last + 10 {
                    self.last = pct;
                    self.log.line(&format!("engine: {pct}%"));
                }
            }
            Event::Log { message } => self.log.line(&format!("engine: {message}")),
            Event::Plan(_) | Event::Committed => {}
        }
    }
}

/// Idle I/O priority for this process while it installs, restored afterwards.
struct IdleIo {
    previous: Option<libc::c_long>,
}

// ioprio_set(2) / ioprio_get(2) have no libc wrapper. Why: an install in the background must not
// make the running system's own disk I/O wait; the idle class only gets disk time when no one
// else wants it. who = IOPRIO_WHO_PROCESS (1), which 0 = this thread group; the value is
// class << 13 | data (IOPRIO_CLASS_IDLE = 3, data 0).
const IOPRIO_WHO_PROCESS: libc::c_long = 1;
const IOPRIO_IDLE: libc::c_long = 3 << 13;

impl IdleIo {
    fn enter() -> IdleIo {
        // SAFETY: plain syscalls with integer arguments only; failure is reported as -1.
        let previous = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
        // SAFETY: as above.
        let set =
            unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_IDLE) };
        IdleIo {
            previous: (previous >= 0 && set == 0).then_some(previous),
        }
    }
}

impl Drop for IdleIo {
    fn drop(&mut self) {
        if let Some(p) = self.previous {
            // SAFETY: as in `enter`.
            unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, p) };
        }
    }
}

struct DeviceHost<'a> {
    device: &'a dyn Device,
    cfg: &'a FleetDef,
}

impl Host for DeviceHost<'_> {
    fn attributes(&self) -> BTreeMap<String, String> {
        let d = self.device;
        let p = d.profile();
        let mut a = BTreeMap::new();
        a.insert("product".into(), p.product.clone());
        // goosebit reads the board from hw_boardname.
        a.insert("hw_boardname".into(), p.product.clone());
        if let Ok(h) = d.hardware_revision() {
            a.insert("hw_revision".into(), h);
        }
        if let Ok(Some(b)) = d.baseband() {
            a.insert("baseband".into(), b);
        }
        if let Some(v) = d.current_version() {
            a.insert("sw_version".into(), v);
        }
        if let Ok(Some(s)) = booted_slot(d) {
            a.insert("slot".into(), s);
        }
        a
    }

    fn free_space(&self, dir: &Path) -> std::io::Result<u64> {
        self.device.free_space(dir)
    }

    fn ab(&self) -> bool {
        self.device.profile().slots.mode == SlotMode::Ab
    }

    fn booted_slot(&self) -> Result<Option<String>, FleetError> {
        booted_slot(self.device).map_err(FleetError::Engine)
    }

    fn verify(&self, package: &Path, log: &Log) -> Result<(), FleetError> {
        let mut sink = LogSink { log, last: 0 };
        super::verify(package, self.device, &mut sink).map(|_| ())?;
        Ok(())
    }

    fn install(&self, package: &Path, log: &Log) -> Result<Installed, FleetError> {
        let from_slot = booted_slot(self.device).ok().flatten();
        let _idle = IdleIo::enter();
        let mut sink = LogSink { log, last: 0 };
        let rec = super::install(package, self.device, &mut sink, &Options::default());
        if rec.code != 0 {
            return Err(FleetError::Install {
                code: Code::from_number(rec.code).unwrap_or(Code::Internal),
                message: rec.message,
            });
        }
        Ok(Installed {
            target_slot: rec.target_slot.map(|s| s.to_ascii_lowercase()),
            from_slot,
            version: rec.to_version,
        })
    }

    fn confirm(&self, log: &Log) -> Result<(), FleetError> {
        if let Some(h) = &self.cfg.health_check {
            super::lifecycle::run_health_check(h, &self.device.profile().dir)?;
            log.line(&format!("health check {:?} passed", h.command.join(" ")));
        }
        super::lifecycle::mark_good(self.device)?;
        log.line("marked good");
        Ok(())
    }

    fn mark_bad(&self, log: &Log) -> Result<(), FleetError> {
        super::lifecycle::mark_bad(self.device)?;
        log.line("marked bad: the previous slot boots next");
        Ok(())
    }

    fn fell_back(&self) -> Option<(Code, String)> {
        let st = super::lifecycle::status(self.device).ok()?;
        let r = st.last_install.as_ref()?;
        (st.install_state() == Some(InstallState::FellBack)).then(|| {
            (
                Code::from_number(r.code).unwrap_or(Code::FellBack),
                r.message.clone(),
            )
        })
    }

    fn write_ota_command(&self, package: &Path) -> Result<(), FleetError> {
        let path = self.device.profile().command_file();
        let text = format!("--update_package={}\n", package.display());
        crate::util::atomic_write(&path, text.as_bytes())
            .map_err(|source| FleetError::Cache { path, source })
    }

    fn last_install(&self) -> Option<RecoveryResult> {
        let p = self
            .device
            .profile()
            .state_dir
            .join(crate::state::LAST_INSTALL);
        let finished_unix = std::fs::metadata(&p)
            .and_then(|m| m.modified())
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs();
        let r = super::read_last_install(self.device)?;
        Some(RecoveryResult {
            code: r.code,
            message: r.message,
            finished_unix,
        })
    }

    fn reboot(&self, recovery: bool, log: &Log) -> Result<(), FleetError> {
        if std::env::var_os(NO_REBOOT_ENV).is_some() {
            log.line(&format!(
                "reboot{} requested; {NO_REBOOT_ENV} is set, so not rebooting",
                if recovery { " into the recovery" } else { "" }
            ));
            return Ok(());
        }
        // The agent runs under the system's init: ask it to reboot cleanly (services stopped,
        // filesystems unmounted) instead of calling reboot(2) itself.
        let mut c = Command::new("systemctl");
        c.arg("reboot");
        if recovery {
            c.arg("--reboot-argument=recovery");
        }
        let ok = c.status().is_ok_and(|s| s.success())
            || Command::new("reboot").status().is_ok_and(|s| s.success());
        if ok {
            Ok(())
        } else {
            Err(FleetError::Engine(crate::Error::Power {
                action: "reboot".into(),
                reason: "neither `systemctl reboot` nor `reboot` worked".into(),
            }))
        }
    }
}

/// The slot the running system booted from, as "a" / "b".
fn booted_slot(device: &dyn Device) -> Result<Option<String>, crate::Error> {
    Ok(device.booted_slot()?.map(|s| s.letter().to_string()))
}

/// The code of a failed agent run, for the command line.
pub fn code_of(e: &FleetError) -> Code {
    e.code()
}
