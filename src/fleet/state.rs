//! The agent's state file, `<cache_dir>/agent.json` (docs/FLEET-AGENT.md): which action is in
//! hand and how far it got, so a kill or a reboot resumes it instead of starting over or, worse,
//! reporting success for a slot that never booted. Written atomically (temporary file, fsync,
//! rename, fsync of the folder) at every phase change.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ddi::Hashes;
use super::error::FleetError;

pub const FILE: &str = "agent.json";

/// How far the action in hand got.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Bytes are arriving in the cache (a restart resumes with a ranged request).
    Downloading,
    /// The package is in the cache and hash-checked; waiting for `update` or the window.
    Downloaded,
    /// The engine is installing: too late to cancel; a restart installs again (the engine
    /// resumes its own work).
    Installing,
    /// A/B: installed into `target_slot`, waiting to boot it (reboot policy) and confirm it.
    AwaitingBoot,
    /// Single slot: the OTA command file is written; the recovery installs after the reboot,
    /// then last_install.json says how it went.
    AwaitingRecovery,
}

/// The action in hand.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Action {
    pub id: String,
    /// The deploymentBase link it came from (feedback goes to `<link>/feedback`).
    pub href: String,
    pub phase: Phase,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub hashes: Hashes,
    /// A/B: the slot the install wrote ("a" or "b").
    #[serde(default)]
    pub target_slot: Option<String>,
    /// The slot running when the install ran: booting anything else later is the new slot.
    #[serde(default)]
    pub installed_from: Option<String>,
    /// Unix time of the last phase change (single slot: a last_install.json older than this is
    /// not the recovery's answer yet).
    #[serde(default)]
    pub since: u64,
    /// The last `Downloaded NN%` sent, so a resumed download does not repeat it.
    #[serde(default)]
    pub reported_percent: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgentState {
    #[serde(default)]
    pub action: Option<Action>,
}

pub fn path(cache_dir: &Path) -> PathBuf {
    cache_dir.join(FILE)
}

/// The saved state; an absent file is the idle state. A damaged file is also treated as idle,
/// after being set aside: the server still has the action and offers it again.
pub fn load(cache_dir: &Path) -> AgentState {
    let p = path(cache_dir);
    match crate::util::read_bounded(&p, 1 << 20) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            let _ = std::fs::rename(&p, cache_dir.join("agent.json.bad"));
            AgentState::default()
        }),
        Err(_) => AgentState::default(),
    }
}

pub fn save(cache_dir: &Path, state: &AgentState) -> Result<(), FleetError> {
    let p = path(cache_dir);
    let bytes = serde_json::to_vec_pretty(state).map_err(|e| FleetError::Cache {
        path: p.clone(),
        source: std::io::Error::other(e),
    })?;
    crate::util::atomic_write(&p, &bytes).map_err(|source| FleetError::Cache { path: p, source })
}
