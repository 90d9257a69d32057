use std::time::Duration;

use crate::fleet::ddi::*;

/// A root answer as hawkBit sends it with an action and configData requested.
const ROOT: &str = r#"{
  "config": {"polling": {"sleep": "12:00:00"}},
  "_links": {
    "deploymentBase": {"href": "https://hawkbit:8443/DEFAULT/controller/v1/dev-1/deploymentBase/5?c=-2127183556"},
    "configData": {"href": "https://hawkbit:8443/DEFAULT/controller/v1/dev-1/configData"}
  }
}"#;

/// hawkBit's documented deploymentBase example: attempt / skip, window unavailable, two
/// chunks, https and http links, all three hashes.
const DEPLOYMENT: &str = r#"{
  "id": "8",
  "deployment": {
    "download": "attempt",
    "update": "skip",
    "maintenanceWindow": "unavailable",
    "chunks": [
      {"part": "jvm", "version": "1.0.75", "name": "oneapp runtime", "artifacts": [
        {"filename": "binary.tgz", "hashes": {"sha1": "986a", "md5": "8e2a", "sha256": "b3a0"},
         "size": 3,
         "_links": {"download-http": {"href": "http://link-to-cdn.com/api/v1/DEFAULT/download/binary.tgz"}}}]},
      {"part": "os", "version": "1.1.0", "name": "update", "artifacts": [
        {"filename": "update.zip", "hashes": {"sha1": "aa", "md5": "bb"}, "size": 1000,
         "_links": {
           "download": {"href": "https://link-to-cdn.com/api/v1/DEFAULT/download/update.zip"},
           "download-http": {"href": "http://link-to-cdn.com/api/v1/DEFAULT/download/update.zip"}}}]}
    ]
  },
  "actionHistory": {"status": "RUNNING", "messages": ["Reboot"]}
}"#;

const CANCEL: &str = r#"{"id": "11", "cancelAction": {"stopId": "11"}}"#;

#[test]
fn root_poll_sleep_and_links() {
    let r: Root = serde_json::from_str(ROOT).unwrap();
    assert_eq!(r.sleep(), Some(Duration::from_secs(12 * 3600)));
    let d = r.links.deployment_base.unwrap().href;
    assert_eq!(action_id(&d).as_deref(), Some("5"));
    assert_eq!(
        feedback_url(&d),
        "https://hawkbit:8443/DEFAULT/controller/v1/dev-1/deploymentBase/5/feedback"
    );
    assert!(r.links.config_data.is_some());
    assert!(r.links.cancel_action.is_none());
    // A root with nothing to do and no config still parses.
    let empty: Root = serde_json::from_str("{}").unwrap();
    assert_eq!(empty.sleep(), None);
}

#[test]
fn sleep_format() {
    assert_eq!(parse_sleep("00:05:00"), Some(Duration::from_secs(300)));
    assert_eq!(parse_sleep("100:00:01"), Some(Duration::from_secs(360_001)));
    for bad in ["5", "00:61:00", "00:00:60", "a:b:c", "00:00:00:00", ""] {
        assert_eq!(parse_sleep(bad), None, "{bad}");
    }
}

#[test]
fn deployment_skip_attempt_window() {
    let d: DeploymentBase = serde_json::from_str(DEPLOYMENT).unwrap();
    assert_eq!(d.id, "8");
    let dep = &d.deployment;
    assert_eq!(dep.download, Handling::Attempt);
    assert_eq!(dep.update, Handling::Skip);
    assert_eq!(dep.maintenance_window, Some(Window::Unavailable));
    assert!(!dep.may_install());
    // Our package is the .zip among the artifacts; its https link is used, never the http one
    // unless allowed.
    let a = dep.package().unwrap();
    assert_eq!(a.filename, "update.zip");
    assert_eq!(a.size, 1000);
    assert_eq!(a.hashes.sha256, None);
    assert_eq!(a.hashes.sha1.as_deref(), Some("aa"));
    assert!(a.link(false).unwrap().starts_with("https://"));
    let tgz = &dep.chunks[0].artifacts[0];
    assert_eq!(tgz.link(false), None);
    assert!(tgz.link(true).unwrap().starts_with("http://"));
}

#[test]
fn may_install_follows_update_and_window() {
    let mut d: DeploymentBase = serde_json::from_str(DEPLOYMENT).unwrap();
    let dep = &mut d.deployment;
    for (update, window, ok) in [
        (Handling::Forced, None, true),
        (Handling::Attempt, None, true),
        (Handling::Skip, None, false),
        (Handling::Forced, Some(Window::Available), true),
        (Handling::Forced, Some(Window::Unavailable), false),
        (Handling::Attempt, Some(Window::Unavailable), false),
    ] {
        dep.update = update;
        dep.maintenance_window = window;
        assert_eq!(dep.may_install(), ok, "{update:?} {window:?}");
    }
}

#[test]
fn defaults_when_the_server_leaves_fields_out() {
    // goosebit: no maintenanceWindow, only sha1, only the download link.
    let d: DeploymentBase = serde_json::from_str(
        r#"{"id":"3","deployment":{"download":"forced","update":"forced","chunks":[{"part":"os",
        "version":"1","name":"x","artifacts":[{"filename":"x.bin","hashes":{"sha1":"ab"},"size":1,
        "_links":{"download":{"href":"https://h:1/d"}}}]}]}}"#,
    )
    .unwrap();
    assert!(d.deployment.may_install());
    // A single artifact is the package whatever its name.
    assert_eq!(d.deployment.package().unwrap().filename, "x.bin");
}

#[test]
fn cancel_action() {
    let c: CancelAction = serde_json::from_str(CANCEL).unwrap();
    assert_eq!(
        (c.id.as_str(), c.cancel_action.stop_id.as_str()),
        ("11", "11")
    );
}

#[test]
fn feedback_messages() {
    let f = Feedback::downloaded("8", 512, 1024);
    let v = serde_json::to_value(&f).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"id": "8", "status": {"execution": "proceeding",
            "result": {"finished": "none", "progress": {"cnt": 50, "of": 100}},
            "details": ["Downloaded 50%"]}})
    );
    let f = Feedback::failure("8", crate::Code::SignatureInvalid, "bad");
    let v = serde_json::to_value(&f).unwrap();
    assert_eq!(v["status"]["execution"], "closed");
    assert_eq!(v["status"]["result"]["finished"], "failure");
    assert!(v["status"]["result"].get("progress").is_none());
    assert!(v["status"]["details"][0]
        .as_str()
        .unwrap()
        .starts_with("E9012 SIGNATURE_VERIFICATION_FAILED: "));
    let v = serde_json::to_value(Feedback::new(
        "11",
        Execution::Rejected,
        Finished::None,
        vec![],
    ))
    .unwrap();
    assert_eq!(v["status"]["execution"], "rejected");
    let cfg = config_data(&[("sw_version".to_string(), "1.0".to_string())].into());
    assert_eq!(
        cfg,
        serde_json::json!({"mode":"merge","data":{"sw_version":"1.0"}})
    );
}
