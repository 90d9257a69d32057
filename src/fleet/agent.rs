//! The agent: one poll of the DDI server and whatever the answer asks, as far as it can go
//! without waiting ([`once`]); [`run`] repeats it with the server's sleep or a back-off.
//!
//! The state machine (docs/FLEET-AGENT.md): idle → downloading → downloaded → installing →
//! awaiting_boot (A/B) or awaiting_recovery (single slot) → idle. Success is reported only
//! after the new slot booted, passed its health check and was marked good.
//!
//! Everything the agent does to the device goes through [`Host`] (the app facade implements it
//! in `app::fleet`), so this file knows DDI and the state machine, not the engine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::config::{FleetDef, RebootPolicy};
use super::ddi::{Ddi, DeploymentBase, Execution, Feedback, Finished, Handling};
use super::download::{self, Wanted};
use super::error::FleetError;
use super::http::Url;
use super::log::Log;
use super::state::{self, Action, AgentState, Phase};
use crate::error::{Code, HasCode};

/// What an install left: the slot written (A/B) and the version.
#[derive(Debug, Clone, Default)]
pub struct Installed {
    pub target_slot: Option<String>,
    pub from_slot: Option<String>,
    pub version: Option<String>,
}

/// A finished recovery install (single-slot devices): last_install.json's word.
#[derive(Debug, Clone)]
pub struct RecoveryResult {
    pub code: u16,
    pub message: String,
    pub finished_unix: u64,
}

/// The device side of the agent.
pub trait Host {
    /// configData attributes: product, hardware revision, baseband, version, slot.
    fn attributes(&self) -> BTreeMap<String, String>;
    fn free_space(&self, dir: &Path) -> std::io::Result<u64>;
    /// A/B (true) or single slot.
    fn ab(&self) -> bool;
    /// The slot the running system booted from ("a"/"b"), when known.
    fn booted_slot(&self) -> Result<Option<String>, FleetError>;
    /// Every check an install makes (signature, policy, every chunk); writes nothing.
    fn verify(&self, package: &Path, log: &Log) -> Result<(), FleetError>;
    /// The install into the slot not booted, in the background (idle I/O priority).
    fn install(&self, package: &Path, log: &Log) -> Result<Installed, FleetError>;
    /// The health check, then mark-good: the new slot is confirmed.
    fn confirm(&self, log: &Log) -> Result<(), FleetError>;
    /// The new slot failed: make the previous slot boot again.
    fn mark_bad(&self, log: &Log) -> Result<(), FleetError>;
    /// Whether the last install fell back to the previous slot (the code saying so).
    fn fell_back(&self) -> Option<(Code, String)>;
    /// Single slot: ask the recovery to install `package` at the next boot.
    fn write_ota_command(&self, package: &Path) -> Result<(), FleetError>;
    /// Single slot: the recovery's last install record.
    fn last_install(&self) -> Option<RecoveryResult>;
    /// Reboot (into the recovery with `recovery`); returns when rebooting is not ours to do.
    fn reboot(&self, recovery: bool, log: &Log) -> Result<(), FleetError>;
}

/// What a download needs to know of its deployment.
struct Job<'a> {
    href: &'a str,
    art: &'a super::ddi::Artifact,
    url: &'a Url,
    want: &'a Wanted,
    may_install: bool,
}

/// The agent's run: configuration, DDI client, device, log.
pub struct Agent<'a> {
    pub cfg: &'a FleetDef,
    pub ddi: &'a Ddi,
    pub host: &'a dyn Host,
    pub log: &'a Log,
}

/// What one poll ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to do.
    Idle,
    /// Work is under way or waiting (download, window, reboot, confirmation).
    Waiting(String),
    /// An action was closed with success.
    Succeeded(String),
    /// An action was closed with failure: the code reported.
    Failed(Code),
    /// A cancel was accepted.
    Canceled(String),
}

fn now() -> u64 {
    crate::util::unix_now()
}

impl Agent<'_> {
    fn cache(&self) -> &Path {
        &self.cfg.cache_dir
    }

    fn save(&self, st: &AgentState) -> Result<(), FleetError> {
        state::save(self.cache(), st)
    }

    /// Sends feedback; a failure to send is logged and does not undo what happened (the next
    /// poll sends the final word again while the state still holds the action).
    fn send(&self, href: &str, f: &Feedback) -> Result<(), FleetError> {
        self.log.line(&format!(
            "feedback {:?}/{:?}: {}",
            f.status.execution,
            f.status.result.finished,
            f.status.details.join(" | ")
        ));
        self.ddi.feedback(href, f)
    }

    /// Moves the action to `phase` and saves the state before anything is sent or done, so a
    /// kill at any point resumes from the phase on disk.
    fn enter(
        &self,
        st: &mut AgentState,
        action: &mut Action,
        phase: Phase,
    ) -> Result<(), FleetError> {
        action.phase = phase;
        action.since = now();
        st.action = Some(action.clone());
        self.save(st)
    }

    /// A "proceeding" feedback with one line of details.
    fn proceeding(&self, href: &str, id: &str, details: String) -> Result<(), FleetError> {
        self.send(
            href,
            &Feedback::new(id, Execution::Proceeding, Finished::None, vec![details]),
        )
    }

    /// Closes the action with failure, clears cache and state.
    fn close_failure(&self, action_href: &str, id: &str, e: &FleetError) -> Outcome {
        let code = e.code();
        self.log.line(&format!("action {id} failed: {code}: {e}"));
        let _ = self.send(action_href, &Feedback::failure(id, code, &e.to_string()));
        let _ = download::clear(self.cache());
        let _ = self.save(&AgentState::default());
        Outcome::Failed(code)
    }

    /// One poll, and everything it leads to that needs no waiting. Returns the outcome and the
    /// server's polling sleep.
    pub fn once(&self) -> Result<(Outcome, Option<Duration>), FleetError> {
        std::fs::create_dir_all(self.cache()).map_err(|source| FleetError::Cache {
            path: self.cache().to_path_buf(),
            source,
        })?;
        let mut st = state::load(self.cache());
        if let Some(a) = st.action.clone() {
            match a.phase {
                Phase::AwaitingBoot => {
                    if let Some(out) = self.after_boot(&a)? {
                        return Ok((out, None));
                    }
                }
                Phase::AwaitingRecovery => {
                    if let Some(out) = self.after_recovery(&a) {
                        return Ok((out, None));
                    }
                }
                _ => {}
            }
        }
        let root = self.ddi.poll()?;
        let sleep = root.sleep();
        if let Some(l) = &root.links.config_data {
            let attrs = self.host.attributes();
            self.log.line(&format!("configData {attrs:?}"));
            self.ddi.put_config(&l.href, &attrs)?;
        }
        if let Some(l) = &root.links.cancel_action {
            return Ok((self.cancel(&l.href, &mut st)?, sleep));
        }
        if let Some(l) = &root.links.deployment_base {
            let dep = self.ddi.deployment(&l.href)?;
            return Ok((self.deploy(&l.href, &dep, &mut st)?, sleep));
        }
        // No action on the server: a half-done one of ours was withdrawn.
        if st
            .action
            .as_ref()
            .is_some_and(|a| matches!(a.phase, Phase::Downloading | Phase::Downloaded))
        {
            self.log
                .line("the server no longer offers the action: cache cleared");
            download::clear(self.cache())?;
            self.save(&AgentState::default())?;
        }
        Ok((Outcome::Idle, sleep))
    }

    /// A cancelAction: accepted (nothing installed yet: cache and state cleared, nothing on a
    /// partition touched) or refused (the install started).
    fn cancel(&self, href: &str, st: &mut AgentState) -> Result<Outcome, FleetError> {
        let c = self.ddi.cancel_action(href)?;
        let stop = &c.cancel_action.stop_id;
        let started = st.action.as_ref().is_some_and(|a| {
            &a.id == stop
                && matches!(
                    a.phase,
                    Phase::Installing | Phase::AwaitingBoot | Phase::AwaitingRecovery
                )
        });
        if started {
            self.send(
                href,
                &Feedback::new(
                    &c.id,
                    Execution::Rejected,
                    Finished::None,
                    vec![format!(
                        "cancel of action {stop} refused: the install already started"
                    )],
                ),
            )?;
            return Ok(Outcome::Waiting(format!("cancel of {stop} refused")));
        }
        download::clear(self.cache())?;
        self.save(&AgentState::default())?;
        self.send(
            href,
            &Feedback::new(
                &c.id,
                Execution::Closed,
                Finished::Success,
                vec![format!(
                    "action {stop} canceled before the install; nothing was written"
                )],
            ),
        )?;
        Ok(Outcome::Canceled(stop.clone()))
    }

    fn deploy(
        &self,
        href: &str,
        dep: &DeploymentBase,
        st: &mut AgentState,
    ) -> Result<Outcome, FleetError> {
        let id = dep.id.clone();
        if let Some(a) = &st.action {
            if matches!(a.phase, Phase::AwaitingBoot | Phase::AwaitingRecovery) {
                return Ok(Outcome::Waiting(format!(
                    "action {} installed, waiting to boot and confirm it",
                    a.id
                )));
            }
            if a.id != id {
                self.log.line(&format!("action {} replaced by {id}", a.id));
                download::clear(self.cache())?;
                st.action = None;
            }
        }
        let d = &dep.deployment;
        if d.download == Handling::Skip {
            return Ok(Outcome::Waiting(format!("action {id}: download = skip")));
        }
        let Some(art) = d.package() else {
            let e = FleetError::Response {
                url: href.to_string(),
                reason: "the deployment has no package artifact".into(),
            };
            return Ok(self.close_failure(href, &id, &e));
        };
        let link = art
            .link(self.cfg.allow_http)
            .ok_or_else(|| FleetError::Response {
                url: href.to_string(),
                reason: "the artifact has no usable download link".into(),
            });
        let url = match link.and_then(|l| {
            Url::parse(l).map_err(|reason| FleetError::Response {
                url: l.to_string(),
                reason,
            })
        }) {
            Ok(u) => u,
            Err(e) => return Ok(self.close_failure(href, &id, &e)),
        };
        if !url.https && !self.cfg.allow_http {
            let e = FleetError::PlainHttp {
                url: url.to_string(),
            };
            return Ok(self.close_failure(href, &id, &e));
        }
        let want = Wanted {
            path: url.path.clone(),
            size: art.size,
            hashes: art.hashes.clone(),
        };
        let mut action = st.action.clone().unwrap_or(Action {
            id: id.clone(),
            href: href.to_string(),
            phase: Phase::Downloading,
            version: None,
            hashes: art.hashes.clone(),
            target_slot: None,
            installed_from: None,
            since: now(),
            reported_percent: 0,
        });
        if action.phase == Phase::Downloading {
            let job = Job {
                href,
                art,
                url: &url,
                want: &want,
                may_install: d.may_install(),
            };
            if let Some(out) = self.download(&job, &mut action, st)? {
                return Ok(out);
            }
        }
        let Some(pkg) = download::cached(self.cache(), &want) else {
            // The cache lost the file (cleared by hand): download again.
            st.action = None;
            self.save(st)?;
            return Ok(Outcome::Waiting("the cached package is gone".into()));
        };
        if !d.may_install() {
            return Ok(Outcome::Waiting(format!(
                "action {id}: downloaded; update = {:?}, maintenance window {:?}",
                d.update, d.maintenance_window
            )));
        }
        self.install(href, action, st, &pkg)
    }

    /// The download phase: into the cache (resumed), hash-checked; `Some` when the action
    /// ended here (reported failure).
    fn download(
        &self,
        job: &Job<'_>,
        action: &mut Action,
        st: &mut AgentState,
    ) -> Result<Option<Outcome>, FleetError> {
        let Job {
            href,
            art,
            url,
            want,
            may_install,
        } = *job;
        let id = action.id.clone();
        st.action = Some(action.clone());
        self.save(st)?;
        let mut last = action.reported_percent;
        let start = download::have(self.cache(), want);
        self.log.line(&format!(
            "action {id}: downloading {} ({} bytes{})",
            art.filename,
            art.size,
            if start > 0 {
                format!(", resuming at {start}")
            } else {
                String::new()
            }
        ));
        let mut progress = |done: u64, total: u64| {
            let pct = (done.saturating_mul(100) / total.max(1)) as u32;
            if pct >= last + 10 || (pct == 100 && last < 100) {
                last = pct;
                let _ = self.send(href, &Feedback::downloaded(&id, done, total));
            }
        };
        let got = download::fetch(
            &self.ddi.client,
            url,
            want,
            self.cache(),
            &|p| self.host.free_space(p),
            &mut progress,
        );
        match got {
            Ok(_) => {}
            Err(e) if super::backoff::transient(&e) => {
                action.reported_percent = last;
                st.action = Some(action.clone());
                self.save(st)?;
                return Err(e);
            }
            Err(e) => return Ok(Some(self.close_failure(href, &id, &e))),
        }
        action.reported_percent = last;
        self.enter(st, action, Phase::Downloaded)?;
        if !may_install {
            self.send(
                href,
                &Feedback::new(
                    &id,
                    Execution::Downloaded,
                    Finished::None,
                    vec!["Downloaded 100%; waiting for the maintenance window".into()],
                ),
            )?;
        }
        Ok(None)
    }

    fn install(
        &self,
        href: &str,
        mut action: Action,
        st: &mut AgentState,
        pkg: &Path,
    ) -> Result<Outcome, FleetError> {
        let id = action.id.clone();
        self.enter(st, &mut action, Phase::Installing)?;
        self.proceeding(href, &id, "Verifying the package".into())?;
        if let Err(e) = self.host.verify(pkg, self.log) {
            return Ok(self.close_failure(href, &id, &e));
        }
        if !self.host.ab() {
            if let Err(e) = self.host.write_ota_command(pkg) {
                return Ok(self.close_failure(href, &id, &e));
            }
            self.enter(st, &mut action, Phase::AwaitingRecovery)?;
            let next = "Verified; the recovery installs it at the next boot";
            self.proceeding(href, &id, next.into())?;
            return self.maybe_reboot(true, &id);
        }
        self.proceeding(href, &id, "Installing".into())?;
        let done = match self.host.install(pkg, self.log) {
            Ok(d) => d,
            Err(e) => return Ok(self.close_failure(href, &id, &e)),
        };
        action.target_slot = done.target_slot.clone();
        action.installed_from = done.from_slot.clone();
        action.version = done.version.clone();
        self.enter(st, &mut action, Phase::AwaitingBoot)?;
        // The package is in the slot now: the cache is free again.
        download::clear(self.cache())?;
        let slot = done.target_slot.as_deref().unwrap_or("?");
        let next = format!("Installed into slot {slot}; waiting for the reboot and confirmation");
        self.proceeding(href, &id, next)?;
        self.maybe_reboot(false, &id)
    }

    fn maybe_reboot(&self, recovery: bool, id: &str) -> Result<Outcome, FleetError> {
        match self.cfg.reboot {
            // The install only ran inside an open window (or with none), so "maintenance-window"
            // reboots now too.
            RebootPolicy::Now | RebootPolicy::MaintenanceWindow => {
                self.log.line(&format!("action {id}: rebooting"));
                self.host.reboot(recovery, self.log)?;
                Ok(Outcome::Waiting(format!("action {id}: reboot requested")))
            }
            RebootPolicy::Never => Ok(Outcome::Waiting(format!(
                "action {id}: installed; waiting for a reboot"
            ))),
        }
    }

    /// A/B after an install: the new slot running → health check, mark-good, then success; a
    /// fallback → failure with its code; otherwise still waiting for the reboot.
    fn after_boot(&self, a: &Action) -> Result<Option<Outcome>, FleetError> {
        let booted = self.host.booted_slot()?;
        let href = &a.href;
        if booted.is_some() && booted == a.target_slot {
            return Ok(Some(match self.host.confirm(self.log) {
                Ok(()) => {
                    let f = Feedback::new(
                        &a.id,
                        Execution::Closed,
                        Finished::Success,
                        vec![format!(
                            "Version {} runs from slot {} and is confirmed",
                            a.version.as_deref().unwrap_or("?"),
                            a.target_slot.as_deref().unwrap_or("?")
                        )],
                    );
                    self.send(href, &f)?;
                    self.save(&AgentState::default())?;
                    Outcome::Succeeded(a.id.clone())
                }
                Err(e) => {
                    // Not confirmed: give the new slot up so the previous one boots next. That
                    // is a fallback (9121, what the device's own record says after the reboot);
                    // the reason (the health check's code) is in the details. If the slot
                    // cannot be given up, the reason is all there is to report.
                    let (code, detail) = match self.host.mark_bad(self.log) {
                        Ok(()) => (
                            Code::FellBack,
                            format!(
                                "E{} {}: {e}; slot {} marked bad, the previous slot boots next",
                                e.code().number(),
                                e.code().name(),
                                a.target_slot.as_deref().unwrap_or("?")
                            ),
                        ),
                        Err(m) => {
                            self.log.line(&format!("mark-bad failed: {m}"));
                            (e.code(), e.to_string())
                        }
                    };
                    self.send(href, &Feedback::failure(&a.id, code, &detail))?;
                    self.save(&AgentState::default())?;
                    // Back to the previous version now, unless a user decides when.
                    if self.cfg.reboot != RebootPolicy::Never {
                        self.host.reboot(false, self.log)?;
                    }
                    Outcome::Failed(code)
                }
            }));
        }
        if let Some((code, detail)) = self.host.fell_back() {
            self.send(href, &Feedback::failure(&a.id, code, &detail))?;
            self.save(&AgentState::default())?;
            return Ok(Some(Outcome::Failed(code)));
        }
        Ok(None)
    }

    /// Single slot after the OTA command: the recovery's record, once it is newer than the
    /// command.
    fn after_recovery(&self, a: &Action) -> Option<Outcome> {
        let r = self.host.last_install()?;
        if r.finished_unix < a.since {
            return None;
        }
        let f = if r.code == 0 {
            Feedback::new(
                &a.id,
                Execution::Closed,
                Finished::Success,
                vec![format!("the recovery installed it: {}", r.message)],
            )
        } else {
            let code = Code::from_number(r.code).unwrap_or(Code::Internal);
            Feedback::failure(&a.id, code, &r.message)
        };
        if self.send(&a.href, &f).is_err() {
            return None;
        }
        let _ = self.save(&AgentState::default());
        let _ = download::clear(self.cache());
        Some(if r.code == 0 {
            Outcome::Succeeded(a.id.clone())
        } else {
            Outcome::Failed(Code::from_number(r.code).unwrap_or(Code::Internal))
        })
    }
}

/// The service loop: [`Agent::once`] forever, sleeping the server's interval or, after
/// transient errors, a growing pause with jitter.
pub fn run(agent: &Agent<'_>) -> ! {
    let mut failures = 0u32;
    loop {
        let pause = match agent.once() {
            Ok((out, sleep)) => {
                failures = 0;
                agent.log.line(&format!("poll: {out:?}"));
                sleep.unwrap_or(super::backoff::DEFAULT_SLEEP)
            }
            Err(e) => {
                agent.log.line(&format!("poll failed: {}: {e}", e.code()));
                if super::backoff::transient(&e) {
                    failures += 1;
                }
                super::backoff::pause_after(&e, failures, super::backoff::random_jitter())
            }
        };
        agent
            .log
            .line(&format!("next poll in {} s", pause.as_secs()));
        std::thread::sleep(pause);
    }
}

/// Where the package would be cached (for front ends that show it).
pub fn cached_package(cache_dir: &Path) -> PathBuf {
    cache_dir.join(download::DONE)
}
