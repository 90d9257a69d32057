//! The profile's `[fleet]` section (docs/DEVICE.md): where the DDI server is, how the agent
//! proves who it is and whom it trusts, where downloads go and when to reboot. Only data and its
//! rules here; the device profile parses it ([`crate::device::profile`]).

use std::path::PathBuf;

use serde::Deserialize;

use crate::device::profile::{Fact, HealthCheck};

/// When the agent reboots into a freshly installed slot (or into the recovery).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RebootPolicy {
    /// Right after the install.
    #[default]
    Now,
    /// When the server's maintenance window is open (the next poll that says `available`).
    MaintenanceWindow,
    /// Never by itself: a user (or another service) reboots; the agent confirms afterwards.
    Never,
}

fn default_tenant() -> String {
    "DEFAULT".into()
}

/// `[fleet]` as written (relative paths are resolved by the profile loader).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FleetDef {
    /// `https://host:port` (or `http://` with `allow_http = true`), optionally with a path prefix.
    pub server: String,
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The controller id: a literal or a fact (`{ file = ..., regex = ... }`).
    pub controller_id: Fact,
    /// File holding the target token (sent as `Authorization: TargetToken <token>`).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Server public-key pins in curl's `sha256//BASE64` form (SPKI SHA-256); list a backup pin.
    #[serde(default)]
    pub pins: Vec<String>,
    /// A private CA (PEM) the server's chain must lead to.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Where the one downloaded package and the agent's state live.
    pub cache_dir: PathBuf,
    #[serde(default)]
    pub reboot: RebootPolicy,
    /// Run after the new slot booted, before mark-good (then mark-good runs the profile's own
    /// top-level `health_check`, if any): 9122 when it fails, 9123 when it times out.
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    /// Plain HTTP to a lab server: refused unless this says so.
    #[serde(default)]
    pub allow_http: bool,
}

/// Decodes a pin in curl's `sha256//BASE64` form into its 32 bytes.
pub fn parse_pin(pin: &str) -> Result<[u8; 32], String> {
    use base64::Engine;
    let b64 = pin
        .strip_prefix("sha256//")
        .ok_or_else(|| format!("pin {pin:?}: want sha256//BASE64"))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("pin {pin:?}: {e}"))?;
    raw.try_into()
        .map_err(|_| format!("pin {pin:?}: a SHA-256 is 32 bytes"))
}

impl FleetDef {
    /// Rules the TOML types do not express, first failure first.
    pub fn validate(&self) -> Result<(), String> {
        // Scheme, allow_http and the trust anchors are checked when the agent connects (each
        // with its own code), so a lab profile still loads for every other command.
        if !self.server.starts_with("https://") && !self.server.starts_with("http://") {
            return Err(format!(
                "fleet: server {:?}: want https://HOST[:PORT]",
                self.server
            ));
        }
        if self.tenant.is_empty() || self.tenant.contains('/') {
            return Err("fleet: tenant is empty or has a '/'".into());
        }
        for p in &self.pins {
            parse_pin(p)?;
        }
        if let Some(h) = &self.health_check {
            if h.command.is_empty() {
                return Err("fleet: health_check.command is empty".into());
            }
        }
        Ok(())
    }
}
