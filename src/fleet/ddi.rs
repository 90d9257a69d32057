//! hawkBit's Direct Device Integration API, device side: the JSON the server sends and the
//! feedback we send back (docs/FLEET-AGENT.md lists every message). Parsing and building are
//! pure; [`Ddi`] does the requests.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::FleetError;
use super::http::{Client, Head, Url};

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Link {
    pub href: String,
}

/// `GET {base}`: how long to sleep and what there is to do.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Root {
    #[serde(default)]
    pub config: Option<RootConfig>,
    #[serde(rename = "_links", default)]
    pub links: RootLinks,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct RootConfig {
    #[serde(default)]
    pub polling: Option<Polling>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Polling {
    #[serde(default)]
    pub sleep: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct RootLinks {
    #[serde(rename = "deploymentBase", default)]
    pub deployment_base: Option<Link>,
    #[serde(rename = "cancelAction", default)]
    pub cancel_action: Option<Link>,
    #[serde(rename = "configData", default)]
    pub config_data: Option<Link>,
}

impl Root {
    /// The server's polling interval, if it gave a valid one.
    pub fn sleep(&self) -> Option<Duration> {
        parse_sleep(self.config.as_ref()?.polling.as_ref()?.sleep.as_deref()?)
    }
}

/// "HH:MM:SS" as DDI writes the polling sleep.
pub fn parse_sleep(s: &str) -> Option<Duration> {
    let mut it = s.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, sec) = (it.next()??, it.next()??, it.next()??);
    if it.next().is_some() || m > 59 || sec > 59 {
        return None;
    }
    Some(Duration::from_secs(h * 3600 + m * 60 + sec))
}

/// DDI's `download` / `update` handling types.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Handling {
    /// Do not do it (yet): the server will say when.
    Skip,
    /// Do it; a user may postpone.
    Attempt,
    /// Do it now.
    #[default]
    Forced,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    Available,
    Unavailable,
}

/// `GET deploymentBase/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct DeploymentBase {
    pub id: String,
    pub deployment: Deployment,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Deployment {
    #[serde(default)]
    pub download: Handling,
    #[serde(default)]
    pub update: Handling,
    #[serde(rename = "maintenanceWindow", default)]
    pub maintenance_window: Option<Window>,
    #[serde(default)]
    pub chunks: Vec<Chunk>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Chunk {
    #[serde(default)]
    pub part: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Artifact {
    pub filename: String,
    #[serde(default)]
    pub hashes: Hashes,
    pub size: u64,
    #[serde(rename = "_links", default)]
    pub links: ArtifactLinks,
}

#[derive(Debug, Clone, Deserialize, Default, Serialize, PartialEq, Eq)]
pub struct Hashes {
    #[serde(default)]
    pub sha1: Option<String>,
    #[serde(default)]
    pub md5: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct ArtifactLinks {
    #[serde(default)]
    pub download: Option<Link>,
    #[serde(rename = "download-http", default)]
    pub download_http: Option<Link>,
}

impl Deployment {
    /// The one artifact we install: the first whose name ends in `.zip` (our package), else the
    /// only artifact there is.
    pub fn package(&self) -> Option<&Artifact> {
        let all: Vec<&Artifact> = self.chunks.iter().flat_map(|c| &c.artifacts).collect();
        all.iter()
            .find(|a| a.filename.ends_with(".zip"))
            .copied()
            .or_else(|| (all.len() == 1).then(|| all[0]))
    }
    /// Installing is allowed now: `update` is not skip and no maintenance window is closed.
    pub fn may_install(&self) -> bool {
        self.update != Handling::Skip && self.maintenance_window != Some(Window::Unavailable)
    }
}

impl Artifact {
    /// The download link: https first; `download-http` only when plain http is allowed.
    pub fn link(&self, allow_http: bool) -> Option<&str> {
        self.links
            .download
            .as_ref()
            .or(if allow_http {
                self.links.download_http.as_ref()
            } else {
                None
            })
            .map(|l| l.href.as_str())
    }
}

/// `GET cancelAction/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct CancelAction {
    pub id: String,
    #[serde(rename = "cancelAction")]
    pub cancel_action: CancelBody,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CancelBody {
    #[serde(rename = "stopId")]
    pub stop_id: String,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Execution {
    Proceeding,
    Closed,
    Canceled,
    Rejected,
    Downloaded,
    Download,
    Scheduled,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Finished {
    Success,
    Failure,
    None,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Progress {
    pub cnt: u32,
    pub of: u32,
}

/// The body of a `.../feedback` POST.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Feedback {
    pub id: String,
    pub status: Status,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Status {
    pub execution: Execution,
    pub result: FeedbackResult,
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FeedbackResult {
    pub finished: Finished,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

impl Feedback {
    pub fn new(id: &str, execution: Execution, finished: Finished, details: Vec<String>) -> Self {
        Feedback {
            id: id.to_string(),
            status: Status {
                execution,
                result: FeedbackResult {
                    finished,
                    progress: None,
                },
                details,
            },
        }
    }
    /// `proceeding` with `progress {cnt, of}` and the `Downloaded NN%` detail some servers
    /// (goosebit) parse instead of the progress object.
    pub fn downloaded(id: &str, done: u64, total: u64) -> Self {
        let pct = (done.saturating_mul(100) / total.max(1)).min(100) as u32;
        let mut f = Feedback::new(
            id,
            Execution::Proceeding,
            Finished::None,
            vec![format!("Downloaded {pct}%")],
        );
        f.status.result.progress = Some(Progress { cnt: pct, of: 100 });
        f
    }
    /// closed + failure with our code, its name and meaning, and the detail.
    pub fn failure(id: &str, code: crate::Code, detail: &str) -> Self {
        Feedback::new(
            id,
            Execution::Closed,
            Finished::Failure,
            vec![
                format!("E{} {}: {}", code.number(), code.name(), code.meaning()),
                detail.to_string(),
            ],
        )
    }
}

/// `{"mode":"merge","data":{...}}` for configData.
pub fn config_data(attrs: &BTreeMap<String, String>) -> serde_json::Value {
    serde_json::json!({ "mode": "merge", "data": attrs })
}

/// The feedback URL of an action link (`.../deploymentBase/8?c=..` → `.../deploymentBase/8/feedback`).
pub fn feedback_url(href: &str) -> String {
    let base = href.split('?').next().unwrap_or(href).trim_end_matches('/');
    format!("{base}/feedback")
}

/// The action id at the end of an action link's path.
pub fn action_id(href: &str) -> Option<String> {
    let base = href.split('?').next()?.trim_end_matches('/');
    let id = base.rsplit('/').next()?;
    (!id.is_empty()).then(|| id.to_string())
}

/// The DDI requests of one controller.
pub struct Ddi {
    pub client: Client,
    /// `{server}/{tenant}/controller/v1/{controller_id}`.
    pub base: Url,
}

impl Ddi {
    pub fn new(
        client: Client,
        server: &str,
        tenant: &str,
        controller: &str,
    ) -> Result<Ddi, String> {
        let server = server.trim_end_matches('/');
        let base = Url::parse(&format!("{server}/{tenant}/controller/v1/{controller}"))?;
        Ok(Ddi { client, base })
    }

    fn url(&self, href: &str) -> Result<Url, FleetError> {
        Url::parse(href).map_err(|reason| FleetError::Response {
            url: href.to_string(),
            reason,
        })
    }

    fn ok(method: &'static str, url: &Url, head: &Head) -> Result<(), FleetError> {
        if (200..300).contains(&head.status) {
            Ok(())
        } else {
            Err(FleetError::Status {
                method,
                url: url.to_string(),
                status: head.status,
                retry_after: super::backoff::retry_after(head, crate::util::unix_now()),
            })
        }
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, url: &Url) -> Result<T, FleetError> {
        let r = self.client.request("GET", url, None)?;
        Self::ok("GET", url, &r.head)?;
        serde_json::from_slice(&r.body).map_err(|e| FleetError::Response {
            url: url.to_string(),
            reason: e.to_string(),
        })
    }

    fn send_json(
        &self,
        method: &'static str,
        url: &Url,
        v: &impl Serialize,
    ) -> Result<(), FleetError> {
        let body = serde_json::to_vec(v).map_err(|e| FleetError::Response {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        let r = self.client.request(method, url, Some(&body))?;
        Self::ok(method, url, &r.head)
    }

    pub fn poll(&self) -> Result<Root, FleetError> {
        self.get_json(&self.base)
    }

    pub fn put_config(
        &self,
        href: &str,
        attrs: &BTreeMap<String, String>,
    ) -> Result<(), FleetError> {
        self.send_json("PUT", &self.url(href)?, &config_data(attrs))
    }

    pub fn deployment(&self, href: &str) -> Result<DeploymentBase, FleetError> {
        self.get_json(&self.url(href)?)
    }

    pub fn cancel_action(&self, href: &str) -> Result<CancelAction, FleetError> {
        self.get_json(&self.url(href)?)
    }

    /// POSTs feedback for the action at `action_href` (deploymentBase or cancelAction link).
    pub fn feedback(&self, action_href: &str, f: &Feedback) -> Result<(), FleetError> {
        self.send_json("POST", &self.url(&feedback_url(action_href))?, f)
    }

    /// Feedback for an action known only by its id (after a reboot the link is gone).
    pub fn feedback_by_id(&self, id: &str, f: &Feedback) -> Result<(), FleetError> {
        let href = format!("{}/deploymentBase/{id}", self.base);
        self.feedback(&href, f)
    }
}
